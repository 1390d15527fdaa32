"""Runs `infra/deploy.sh --console-only` (the real script, with the real AWS CLI) against moto,
twice, and checks what it left in S3 and CloudFront: every file with its content type
(application/wasm for the WASM), index.html and the unhashed boot.js revalidated on every
load, hashed files immutable, files of an earlier build removed, an invalidation of
index.html and boot.js; and that a second run leaves the same bucket.

moto's CloudFormation cannot create a CloudFront distribution (see moto_stack.py), so the
stack here is a stand-in with the real template's output names, a real bucket, and a
distribution made through moto's CloudFront API.

Usage: deploy_console.py <moto endpoint URL> <aws CLI>"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import boto3

import cfn
from moto_stack import REGION, expect

ROOT = cfn.INFRA.parent
STACK = "hanko-console-check"
HASH = "0123456789abcdef"
FILES = {
    "index.html": ("<!DOCTYPE html><title>Hanko</title>", "text/html; charset=utf-8", "no-cache"),
    "boot.js": ("// loader", "text/javascript; charset=utf-8", "no-cache"),
    f"hanko-console-{HASH}.js": ("export {}", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"),
    f"hanko-console-{HASH}_bg.wasm": ("\0asm\1\0\0\0", "application/wasm", "public, max-age=31536000, immutable"),
    f"main-{HASH}.css": ("body{}", "text/css; charset=utf-8", "public, max-age=31536000, immutable"),
    f"favicon-{HASH}.svg": ("<svg/>", "image/svg+xml", "public, max-age=31536000, immutable"),
}
STALE = "hanko-console-fedcba9876543210_bg.wasm"


def outputs_deploy_reads() -> set[str]:
    return set(re.findall(r"\$\(output (\w+)\)", (cfn.INFRA / "deploy.sh").read_text(encoding="utf-8")))


def main() -> None:
    endpoint, aws_cli = sys.argv[1], sys.argv[2]
    kw = dict(endpoint_url=endpoint, region_name=REGION, aws_access_key_id="test", aws_secret_access_key="test")
    s3, cf, cloudfront = (boto3.client(n, **kw) for n in ["s3", "cloudformation", "cloudfront"])

    real_outputs = set(cfn.load_template(cfn.INFRA / "template.yaml")["Outputs"])
    missing = sorted(outputs_deploy_reads() - real_outputs)
    expect(not missing, f"every stack output deploy.sh reads is in the template (missing: {missing})")

    dist_id = cloudfront.create_distribution(
        DistributionConfig={
            "CallerReference": "hanko-console-check",
            "Comment": "stand-in",
            "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "console", "DomainName": "console.s3.amazonaws.com", "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "console", "ViewerProtocolPolicy": "redirect-to-https", "MinTTL": 0,
                                     "ForwardedValues": {"QueryString": False, "Cookies": {"Forward": "none"}}, "TrustedSigners": {"Enabled": False, "Quantity": 0}},
        }
    )["Distribution"]["Id"]
    stand_in = {
        "Parameters": {"DistributionId": {"Type": "String"}},
        "Resources": {"ConsoleBucket": {"Type": "AWS::S3::Bucket"}},
        "Outputs": {
            "ConsoleBucketName": {"Value": {"Ref": "ConsoleBucket"}},
            "DistributionId": {"Value": {"Ref": "DistributionId"}},
            "ConsoleUrl": {"Value": "https://console.example.com"},
            "UserPoolId": {"Value": f"{REGION}_example"},
            "StateMachineArn": {"Value": f"arn:aws:states:{REGION}:123456789012:stateMachine:example"},
            "ExampleExecutionInput": {"Value": "{}"},
            "ApprovalPolicyParameterName": {"Value": "/hanko-console-check/approval-policy"},
            "WebAclArn": {"Value": "none"},
        },
    }
    cf.create_stack(StackName=STACK, TemplateBody=json.dumps(stand_in),
                    Parameters=[{"ParameterKey": "DistributionId", "ParameterValue": dist_id}])
    bucket = next(r["PhysicalResourceId"] for r in cf.list_stack_resources(StackName=STACK)["StackResourceSummaries"])
    s3.put_object(Bucket=bucket, Key=STALE, Body=b"old build")

    with tempfile.TemporaryDirectory() as dist:
        for name, (body, _, _) in FILES.items():
            Path(dist, name).write_text(body, encoding="utf-8")
        env = dict(
            os.environ,
            PATH=f"{Path(aws_cli).parent}:{os.environ['PATH']}",
            AWS_ENDPOINT_URL=endpoint,
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            AWS_ACCESS_KEY_ID="test",
            AWS_SECRET_ACCESS_KEY="test",
            HANKO_STACK=STACK,
            HANKO_CONSOLE_DIST=dist,
        )
        env.pop("AWS_PROFILE", None)
        for run in (1, 2):
            done = subprocess.run([str(cfn.INFRA / "deploy.sh"), "--console-only"], env=env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
            expect(done.returncode == 0, f"deploy.sh --console-only run {run} succeeds against moto")
            keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
            expect(keys == sorted(FILES), f"run {run}: the bucket holds exactly this build ({len(keys)} files, {STALE} removed)")
            for name, (body, ctype, cache) in FILES.items():
                head = s3.head_object(Bucket=bucket, Key=name)
                expect(head["ContentType"] == ctype and head.get("CacheControl") == cache,
                       f"run {run}: {name} is {ctype}, {cache}")
                expect(s3.get_object(Bucket=bucket, Key=name)["Body"].read() == body.encode(), f"run {run}: {name} has its content")
            inv = cloudfront.list_invalidations(DistributionId=dist_id)["InvalidationList"]
            expect(inv.get("Quantity") == run, f"run {run}: {run} CloudFront invalidation(s)")
        # The console as Trunk built it (make test builds it before these checks): Trunk's
        # hashed names must get the immutable caching, the WASM its content type.
        built = Path(os.environ.get("HANKO_CHECK_DIST", ROOT / "dist"))
        if (built / "index.html").is_file():
            env["HANKO_CONSOLE_DIST"] = str(built)
            done = subprocess.run([str(cfn.INFRA / "deploy.sh"), "--console-only"], env=env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=300)
            expect(done.returncode == 0, f"deploy.sh --console-only publishes the built console ({built})")
            # The .br/.gz copies beside each file are `hanko serve`'s; CloudFront compresses.
            names = sorted(str(p.relative_to(built)) for p in built.rglob("*")
                           if p.is_file() and p.suffix not in (".br", ".gz"))
            keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))
            expect(keys == names, f"the bucket holds the built console's {len(names)} files and nothing else (no .br/.gz copies)")
            for name in names:
                head = s3.head_object(Bucket=bucket, Key=name)
                fixed = name in ("index.html", "boot.js")
                expect(head.get("CacheControl") == ("no-cache" if fixed else "public, max-age=31536000, immutable"),
                       f"built {name}: {head.get('CacheControl')}")
                if name.endswith(".wasm"):
                    expect(head["ContentType"] == "application/wasm", f"built {name} is application/wasm")
        else:
            print(f"check-infra: skipped: no built console at {built} (make test builds it first)")
        last = cloudfront.get_invalidation(DistributionId=dist_id, Id=inv["Items"][0]["Id"])["Invalidation"]
        paths = sorted(last["InvalidationBatch"]["Paths"]["Items"])
        expect(paths == ["/boot.js", "/index.html"], f"the invalidation covers {paths}")


if __name__ == "__main__":
    main()
