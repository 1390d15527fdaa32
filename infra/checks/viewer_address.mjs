// Runs the CloudFront Function of infra/template.yaml that gives the api the viewer's address
// (ApiViewerAddressFunction, given as a file): it sets x-hanko-viewer-address to the viewer's
// IP, over anything a client sent, and changes nothing else.
// Usage: node viewer_address.mjs <function code file>
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const code = readFileSync(process.argv[2], "utf8");
const handler = new Function(`${code}\nreturn handler;`)();

for (const ip of ["203.0.113.9", "2001:db8::1"]) {
  for (const sent of [undefined, "198.51.100.7"]) {
    const headers = { authorization: { value: "Bearer x.y.z" }, "content-type": { value: "application/json" } };
    if (sent) headers["x-hanko-viewer-address"] = { value: sent };
    const event = { viewer: { ip }, request: { method: "POST", uri: "/api/approvals/1/decision", querystring: {}, headers } };
    const out = handler(event);
    assert.equal(out.headers["x-hanko-viewer-address"].value, ip);
    assert.equal(out.uri, "/api/approvals/1/decision", "the path is kept");
    assert.equal(out.headers.authorization.value, "Bearer x.y.z", "the Authorization header is kept");
    console.log(`check-infra: ok: viewer ${ip}${sent ? ` (client claimed ${sent})` : ""} reaches the api as x-hanko-viewer-address: ${ip}`);
  }
}
