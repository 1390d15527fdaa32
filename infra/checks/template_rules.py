"""Rules of infra/template.yaml that no emulator can show, checked on the template itself:
the console's security headers match what `hanko serve` sends, the api paths bypass the cache
and the SPA fallback, and the four functions are one build of one binary.

Usage: template_rules.py. Exits non-zero on the first rule broken."""

from __future__ import annotations

import re
import sys
from typing import Any

import cfn
from moto_stack import expect

ROOT = cfn.INFRA.parent
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def server_csp() -> str:
    src = (ROOT / "backend/server/src/http/mod.rs").read_text(encoding="utf-8")
    m = re.search(r'pub const CONSOLE_CSP: &str = "((?:[^"\\]|\\.)*)";', src, re.S)
    if not m:
        sys.exit("check-infra: FAIL: CONSOLE_CSP not found in backend/server/src/http/mod.rs")
    return re.sub(r"\\\n\s*", "", m.group(1))


def main() -> None:
    t = cfn.load_template(cfn.INFRA / "template.yaml")
    res: dict[str, Any] = t["Resources"]

    headers = res["SecurityHeadersPolicy"]["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    cloudfront = directives(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]["Fn::Sub"])
    server = directives(server_csp())
    cognito = "https://${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"
    expected = dict(server, **{"connect-src": server["connect-src"] + [cognito]})
    expect(cloudfront == expected, "CloudFront's CSP is the server's, plus the Cognito hosted UI in connect-src")
    expect("'wasm-unsafe-eval'" in cloudfront["script-src"] and "'unsafe-inline'" not in cloudfront["script-src"],
           "the CSP lets the WASM console run and no inline script")
    expect(headers["FrameOptions"]["FrameOption"] == "DENY" and cloudfront["frame-ancestors"] == ["'none'"], "no framing")
    expect(headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 31536000, "HSTS for at least a year")
    expect("ContentTypeOptions" in headers and headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer", "nosniff and no referrer")

    dist = res["Distribution"]["Properties"]["DistributionConfig"]
    expect("CustomErrorResponses" not in dist, "no custom error responses: the api's 403 and 404 reach the browser as they are")
    default = dist["DefaultCacheBehavior"]
    expect(default["TargetOriginId"] == "console" and [f["EventType"] for f in default["FunctionAssociations"]] == ["viewer-request"],
           "the console behaviour runs the route function on viewer requests")
    by_path = {b["PathPattern"]: b for b in dist["CacheBehaviors"]}
    expect(set(by_path) == {"/api/*", "/.well-known/*"}, "/api/* and /.well-known/* have behaviours of their own")
    for path, b in by_path.items():
        fns = [(f["EventType"], f["FunctionARN"]["Fn::GetAtt"][0]) for f in b.get("FunctionAssociations", [])]
        expect(b["TargetOriginId"] == "api" and fns == [("viewer-request", "ApiViewerAddressFunction")],
               f"{path} goes to the api with the viewer's address, untouched by the route function")
        expect(b["CachePolicyId"] == CACHING_DISABLED and b["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST,
               f"{path} is not cached and forwards everything but Host (the Authorization header too)")
    expect(set(by_path["/api/*"]["AllowedMethods"]) >= {"GET", "HEAD", "POST", "OPTIONS"}, "/api/* takes POST")
    origins = {o["Id"]: o for o in dist["Origins"]}
    expect("OriginAccessControlId" in origins["console"], "CloudFront reads the bucket through origin access control")
    block = res["ConsoleBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    expect(all(block.values()) and len(block) == 4, "the console bucket blocks every kind of public access")

    fns = {lid: r for lid, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    builds = {(repr(r["Properties"]["CodeUri"]), repr(r["Metadata"])) for r in fns.values()}
    expect(len(fns) == 4 and len(builds) == 1, "four functions, one build (same CodeUri and cargo-lambda metadata)")
    meta = next(iter(fns.values()))["Metadata"]
    expect(meta == {"BuildMethod": "rust-cargolambda", "BuildProperties": {"Binary": "hanko"}}, "built by cargo lambda, binary hanko")
    expect((ROOT / "Cargo.toml").is_file() and next(iter(fns.values()))["Properties"]["CodeUri"] == "..",
           "CodeUri is the workspace at the repository root")
    glob = t["Globals"]["Function"]
    code = res["ApiViewerAddressFunction"]["Properties"]["FunctionCode"]
    header = glob["Environment"]["Variables"]["HANKO_CLIENT_IP_HEADER"]
    expect(f"request.headers['{header}']" in code, f"the api reads the caller's address from {header}, which CloudFront sets")
    expect(glob["Runtime"] == "provided.al2023" and glob["Architectures"] == ["arm64"], "provided.al2023 on arm64")


if __name__ == "__main__":
    main()
