#!/usr/bin/env bash
# Deploys Hanko to an AWS account as one stack (infra/template.yaml) and publishes the
# console. Safe to run again: each step only brings the account up to this checkout.
#
#   infra/deploy.sh                 # the first run asks for the parameters (sam deploy --guided)
#   HANKO_STACK=hanko-test infra/deploy.sh
#   infra/deploy.sh --console-only  # publish the console again, leave the stack as it is
#
# Needs: the AWS SAM CLI, the AWS CLI, cargo-lambda (with zig, which it uses to build for
# arm64 Linux), and what scripts/build-console.sh needs. AWS credentials and the region come
# from the usual AWS variables or profile (AWS_PROFILE, AWS_REGION).
#
# Environment:
#   HANKO_STACK            stack name (default hanko; at most 48 characters, CloudFront
#                          names are made from it)
#   HANKO_SENDER_ADDRESS   with no saved configuration and no terminal (CI): the SenderAddress
#                          parameter; the other parameters take their defaults
#   HANKO_SKIP_BUILD=1     deploy what .aws-sam/build already holds
#   HANKO_CONSOLE_DIST     publish this folder instead of building the console into dist/
set -euo pipefail
cd "$(dirname "$0")/.."

CONSOLE_ONLY=0
case "${1:-}" in
  "") ;;
  --console-only) CONSOLE_ONLY=1 ;;
  *)
    echo "usage: infra/deploy.sh [--console-only]" >&2
    exit 2
    ;;
esac

STACK="${HANKO_STACK:-hanko}"
if [ "${#STACK}" -gt 48 ]; then
  echo "deploy: HANKO_STACK is ${#STACK} characters; at most 48 (CloudFront names are made from it)" >&2
  exit 2
fi
CONFIG="$PWD/infra/samconfig.toml" # written by the first, guided run; git-ignored
# cargo-lambda through SAM is a SAM CLI beta feature.
export SAM_CLI_BETA_RUST_CARGO_LAMBDA=1

say() { echo "deploy: $*"; }
need() {
  if ! command -v "$1" >/dev/null; then
    say "$1 is missing: $2" >&2
    exit 1
  fi
}
need aws "install the AWS CLI v2"
if [ "$CONSOLE_ONLY" = 0 ]; then
  need sam "install the AWS SAM CLI"
  need cargo "install Rust with rustup"
  if ! cargo lambda --version >/dev/null 2>&1; then
    say "cargo-lambda is missing: pip3 install cargo-lambda (brings zig), or cargo install cargo-lambda" >&2
    exit 1
  fi
fi

REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}"
if [ -z "$REGION" ]; then
  say "no AWS region: set AWS_REGION (for example ap-northeast-1)" >&2
  exit 1
fi
ACCOUNT="$(aws sts get-caller-identity --query Account --output text)"
say "stack $STACK in account $ACCOUNT, region $REGION"

# 1. The functions: one Rust binary, built once by cargo lambda for arm64.
if [ "$CONSOLE_ONLY" = 0 ] && [ "${HANKO_SKIP_BUILD:-}" != "1" ]; then
  say "building the functions (sam build, cargo lambda)"
  sam build --template-file infra/template.yaml --beta-features
fi

# 2. The stack. The first run asks for the parameters and saves them to infra/samconfig.toml;
#    later runs reuse them, and a run with nothing to change succeeds without changing anything.
deploy_args=(
  --template-file .aws-sam/build/template.yaml
  --stack-name "$STACK"
  --region "$REGION"
  --capabilities CAPABILITY_IAM
  --config-file "$CONFIG"
  --no-fail-on-empty-changeset
)
if [ "$CONSOLE_ONLY" = 1 ]; then
  say "--console-only: the stack stays as it is"
elif [ -f "$CONFIG" ]; then
  say "deploying with the saved parameters ($CONFIG)"
  sam deploy "${deploy_args[@]}"
elif [ -t 0 ]; then
  say "first deploy: answer the questions (SenderAddress is the From of the emails)"
  sam deploy "${deploy_args[@]}" --guided
else
  if [ -z "${HANKO_SENDER_ADDRESS:-}" ]; then
    say "no saved configuration and no terminal: set HANKO_SENDER_ADDRESS, or run once in a terminal" >&2
    exit 1
  fi
  say "first deploy without a terminal: SenderAddress=$HANKO_SENDER_ADDRESS, other parameters default"
  sam deploy "${deploy_args[@]}" --resolve-s3 --save-params \
    --parameter-overrides "SenderAddress=$HANKO_SENDER_ADDRESS"
fi

output() {
  aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
BUCKET="$(output ConsoleBucketName)"
DISTRIBUTION="$(output DistributionId)"
CONSOLE_URL="$(output ConsoleUrl)"

# 3. The console, built by Trunk into dist/.
DIST="${HANKO_CONSOLE_DIST:-dist}"
if [ -z "${HANKO_CONSOLE_DIST:-}" ]; then
  say "building the console"
  scripts/build-console.sh
fi
if [ ! -f "$DIST/index.html" ]; then
  say "$DIST/index.html is missing: the console was not built" >&2
  exit 1
fi

# 4. Upload: every file with its content type. Files with a content hash in their name
#    (name-0123456789abcdef.ext, as Trunk writes them) never change: cached for a year.
#    index.html and the unhashed boot.js must be checked again on every load. index.html
#    goes last, so that it never names a file not uploaded yet.
content_type() {
  case "$1" in
    *.html) echo "text/html; charset=utf-8" ;;
    *.js | *.mjs) echo "text/javascript; charset=utf-8" ;;
    *.wasm) echo "application/wasm" ;;
    *.css) echo "text/css; charset=utf-8" ;;
    *.svg) echo "image/svg+xml" ;;
    *.json | *.map) echo "application/json" ;;
    *.png) echo "image/png" ;;
    *.ico) echo "image/x-icon" ;;
    *.woff2) echo "font/woff2" ;;
    *.txt) echo "text/plain; charset=utf-8" ;;
    *) echo "application/octet-stream" ;;
  esac
}
cache_control() {
  if [[ "$(basename "$1")" =~ -[0-9a-f]{16}(_bg)?\.[a-z0-9]+$ ]]; then
    echo "public, max-age=31536000, immutable"
  else
    echo "no-cache"
  fi
}
upload() {
  local rel="$1"
  aws s3 cp --region "$REGION" --only-show-errors "$DIST/$rel" "s3://$BUCKET/$rel" \
    --content-type "$(content_type "$rel")" --cache-control "$(cache_control "$rel")"
}
say "uploading $DIST/ to s3://$BUCKET"
# The .br and .gz copies the build writes beside each file are for `hanko serve`; CloudFront
# compresses by itself, so they stay here.
mapfile -t files < <(cd "$DIST" && find . -type f ! -name index.html ! -name '*.br' ! -name '*.gz' | sed 's|^\./||' | sort)
for rel in "${files[@]}"; do
  upload "$rel"
done
upload index.html

# Files of earlier builds that this one no longer has (old hashed names).
mapfile -t stale < <(
  comm -23 \
    <(aws s3api list-objects-v2 --region "$REGION" --bucket "$BUCKET" --query 'Contents[].Key' --output text |
      tr '\t' '\n' | grep -v '^None$' | sort) \
    <({ printf '%s\n' "${files[@]}"; echo index.html; } | sort)
)
for key in "${stale[@]}"; do
  [ -n "$key" ] || continue
  aws s3 rm --region "$REGION" --only-show-errors "s3://$BUCKET/$key"
done
say "removed ${#stale[@]} files of earlier builds"

# 5. CloudFront: forget the cached index.html and boot.js (hashed files need no invalidation,
#    and every console route is served from /index.html).
INVALIDATION="$(aws cloudfront create-invalidation --distribution-id "$DISTRIBUTION" \
  --paths /index.html /boot.js --query Invalidation.Id --output text)"
say "CloudFront invalidation $INVALIDATION started"

# 6. What to do with it.
aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output table
cat <<EOF

Hanko is at $CONSOLE_URL
  Invite an approver:  aws cognito-idp admin-create-user --user-pool-id $(output UserPoolId) \\
                         --username alice@example.com --user-attributes Name=email,Value=alice@example.com Name=email_verified,Value=true
  Put them in a group: aws cognito-idp admin-add-user-to-group --user-pool-id $(output UserPoolId) \\
                         --username alice@example.com --group-name release-managers
  Try the example:     aws stepfunctions start-execution --state-machine-arn $(output StateMachineArn) \\
                         --input '$(output ExampleExecutionInput)'
Who may decide for which state machine is the ApprovalPolicy parameter (kept in SSM as
$(output ApprovalPolicyParameterName)); the default lets group:release-managers decide for the
examples and refuses every other state machine. Everyone sets up an authenticator app at the
first login (unless MfaConfiguration=OPTIONAL).
If SES still has to verify the sender, open the verification email sent to it first.
EOF
if [ "$(output WebAclArn)" = "none" ]; then
  say "no AWS WAF web ACL in front of CloudFront: outside us-east-1 the stack cannot make one;" \
    "make one in us-east-1 (scope CLOUDFRONT) and deploy again with WebAclArn=<its ARN>"
fi
