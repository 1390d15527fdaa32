// Runs the CloudFront Function of infra/template.yaml (ConsoleRoutesFunction, given as a file)
// on the paths the console and its assets use: app routes get index.html, files stay as they are.
// Usage: node console_routes.mjs <function code file>
import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const code = readFileSync(process.argv[2], "utf8");
const handler = new Function(`${code}\nreturn handler;`)();

const cases = [
  ["/", "/index.html"],
  ["/approvals", "/index.html"],
  ["/approvals/0193b5e2-7c1d-7000-8000-000000000001", "/index.html"],
  ["/auth/callback", "/index.html"],
  ["/history", "/index.html"],
  ["/login", "/index.html"],
  ["/index.html", "/index.html"],
  ["/boot.js", "/boot.js"],
  ["/hanko-console-3f9a1c.js", "/hanko-console-3f9a1c.js"],
  ["/hanko-console-3f9a1c_bg.wasm", "/hanko-console-3f9a1c_bg.wasm"],
  ["/style-8c1e.css", "/style-8c1e.css"],
  ["/favicon.ico", "/favicon.ico"],
];
for (const [uri, want] of cases) {
  const event = { request: { method: "GET", uri, querystring: { code: { value: "x" } }, headers: {} } };
  const out = handler(event);
  assert.equal(out.uri, want, `${uri} should be served from ${want}`);
  assert.deepEqual(out.querystring, event.request.querystring, "the query string is kept (the OAuth code)");
  console.log(`check-infra: ok: CloudFront serves ${uri} from ${want}`);
}
