#!/usr/bin/env bash
# Checks infra/ short of a deploy (there is no AWS here):
#   1. cfn-lint on infra/template.yaml (SAM), with the cfn-lint-serverless rules too; then
#      checkov on it (each check it skips is skipped next to its resource, with the reason);
#   2. aws-sam-translator turns it into CloudFormation, and cfn-lint checks that too;
#   3. every ASL file under infra/ passes asl-validator (npm);
#   4. rules no emulator shows (infra/checks/template_rules.py): CloudFront's CSP is the one
#      `hanko serve` sends plus the Cognito hosted UI, the api paths skip cache and SPA
#      fallback, the four functions are one build; and the CloudFront Function that serves
#      console routes does so (node);
#   5. deploy.sh and the scripts pass bash -n and shellcheck;
#   6. on a moto server of its own (free port, stopped at the end): the ASL files create on
#      Step Functions, the transformed stack creates on CloudFormation (less the resource
#      types moto cannot create, which it lists) and what it made is checked
#      (infra/checks/moto_stack.py); then infra/deploy.sh --console-only runs twice against
#      the same moto with the real AWS CLI, and what it uploaded is checked
#      (infra/checks/deploy_console.py).
# Installed by scripts/setup.sh: cfn-lint, cfn-lint-serverless and aws-sam-translator in
# .venv, checkov in .local/checkov, asl-validator in
# .local/asl-validator, the AWS CLI in .local/awscli, Debian's shellcheck.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1

say() { echo "check-infra: $*"; }
PY=.venv/bin/python
ASL_VALIDATOR=.local/asl-validator/node_modules/.bin/asl-validator
AWS_CLI=.local/awscli/bin/aws
CHECKOV=.local/checkov/bin/checkov
for tool in .venv/bin/cfn-lint .venv/bin/moto_server "$CHECKOV" "$ASL_VALIDATOR" "$AWS_CLI"; do
  if [ ! -x "$tool" ]; then
    say "$tool is missing: run scripts/setup.sh" >&2
    exit 1
  fi
done

tmp="$(mktemp -d)"
moto_pid=""
cleanup() {
  if [ -n "$moto_pid" ]; then
    kill "$moto_pid" 2>/dev/null || true
    wait "$moto_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

say "cfn-lint infra/template.yaml, with the cfn-lint-serverless rules"
.venv/bin/cfn-lint --append-rules cfn_lint_serverless.rules -- infra/template.yaml

# --skip-download: checkov asks Prisma Cloud for its guideline links otherwise.
say "checkov on infra/template.yaml"
"$CHECKOV" --file infra/template.yaml --framework cloudformation --skip-download --compact --quiet

say "aws-sam-translator: SAM to CloudFormation, then cfn-lint on the result"
"$PY" infra/checks/cfn.py >"$tmp/template.json"
.venv/bin/cfn-lint "$tmp/template.json"

mapfile -t asl < <(find infra -name '*.asl.json' | sort)
say "asl-validator on ${#asl[@]} state machines"
args=()
for f in "${asl[@]}"; do args+=(--json-path "$f"); done
"$ASL_VALIDATOR" "${args[@]}"

say "rules of the template: security headers as hanko serve sends them, api paths, one build"
(cd infra/checks && ../../"$PY" template_rules.py)
say "alarms and dashboard watch metrics the server writes (backend/server/src/metrics.rs)"; (cd infra/checks && ../../"$PY" alarms.py)

say "the CloudFront Function serves console routes from /index.html"
"$PY" - >"$tmp/console-routes.js" <<'PY'
import sys
sys.path.insert(0, "infra/checks")
import cfn
print(cfn.load_template(cfn.INFRA / "template.yaml")["Resources"]["ConsoleRoutesFunction"]["Properties"]["FunctionCode"])
PY
node infra/checks/console_routes.mjs "$tmp/console-routes.js"

say "the CloudFront Function gives the api the viewer's address"
"$PY" - >"$tmp/viewer-address.js" <<'PY'
import sys
sys.path.insert(0, "infra/checks")
import cfn
print(cfn.load_template(cfn.INFRA / "template.yaml")["Resources"]["ApiViewerAddressFunction"]["Properties"]["FunctionCode"])
PY
node infra/checks/viewer_address.mjs "$tmp/viewer-address.js"

say "bash -n and shellcheck on infra/deploy.sh and scripts/"
bash -n infra/deploy.sh
if command -v shellcheck >/dev/null; then
  shellcheck infra/deploy.sh scripts/*.sh
else
  say "shellcheck is missing: run scripts/setup.sh" >&2
  exit 1
fi

port="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
endpoint="http://127.0.0.1:$port"
.venv/bin/moto_server -H 127.0.0.1 -p "$port" >"$tmp/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 1 150); do
  if curl -sf "$endpoint/moto-api/" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$moto_pid" 2>/dev/null; then
    say "moto did not start:" >&2
    cat "$tmp/moto.log" >&2
    exit 1
  fi
  sleep 0.2
done
say "moto on $endpoint"
(cd infra/checks && AWS_DEFAULT_REGION=ap-northeast-1 ../../"$PY" moto_stack.py "$endpoint")
say "infra/deploy.sh --console-only against moto, with the AWS CLI"
(cd infra/checks && ../../"$PY" deploy_console.py "$endpoint" "$PWD/../../$AWS_CLI")
say "all infra checks passed"
