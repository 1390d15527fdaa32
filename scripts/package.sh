#!/usr/bin/env bash
# `make package`: builds the Lambda functions exactly as infra/deploy.sh does (sam build with
# SAM's rust-cargolambda builder: cargo lambda, zig, arm64) into .aws-sam/build, checks that
# each function's `bootstrap` is an AArch64 ELF executable, then runs the Lambda test
# (tests/e2e/lambda_function.rs: API Gateway events through a Runtime API) against that very
# file under qemu-user. What is deployed is what is tested.
#
# Installs what it needs first (scripts/setup-package.sh). The release build for arm64 has
# a cargo target folder of its own, target/package (HANKO_PACKAGE_TARGET_DIR), so it takes
# neither the lock nor the cache of the debug builds in target/.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONDONTWRITEBYTECODE=1

say() { echo "package: $*"; }

scripts/setup-package.sh

test_target_dir="${CARGO_TARGET_DIR:-}"
# The same as infra/deploy.sh: cargo-lambda through SAM is a SAM CLI beta feature.
export SAM_CLI_BETA_RUST_CARGO_LAMBDA=1
export SAM_CLI_TELEMETRY=0
say "sam build (rust-cargolambda, arm64) into .aws-sam/build"
start=$SECONDS
PATH="$PWD/.local/sam/bin:$PATH" CARGO_TARGET_DIR="${HANKO_PACKAGE_TARGET_DIR:-$PWD/target/package}" \
  nice -n 10 sam build --template-file infra/template.yaml --beta-features
built=$((SECONDS - start))
say "sam build took ${built} s"

# Every function's bootstrap is an arm64 executable; the check refuses one that is not
# (this machine's own `true`, an x86-64 ELF, on most machines here).
api_bootstrap="$(cd infra/checks && ../../.local/sam/bin/python lambda_package.py ../../.aws-sam/build)"
if [ "$(uname -m)" != aarch64 ] && (cd infra/checks && ../../.local/sam/bin/python lambda_package.py --bootstrap "$(command -v true)" >/dev/null); then
  say "the bootstrap check took $(command -v true) for an AArch64 executable" >&2
  exit 1
fi

# --workspace, as `make test` builds it: the same features, so the same test binary.
say "the Lambda test against $api_bootstrap under qemu-aarch64"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if [ -n "$test_target_dir" ]; then export CARGO_TARGET_DIR="$test_target_dir"; else unset CARGO_TARGET_DIR; fi
HANKO_LAMBDA_BIN="$api_bootstrap" HANKO_LAMBDA_WRAPPER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
  cargo test --workspace --locked --test e2e -- lambda_function:: 2>&1 | tee "$log"
# A filter that matched nothing would pass too: the one test must have run.
if ! grep -qE '^test result: ok\. 1 passed' "$log"; then
  say "the Lambda test did not run against the arm64 bootstrap" >&2
  exit 1
fi
say "the arm64 bootstrap ($(stat -c %s "$api_bootstrap") bytes) answers API Gateway events under qemu; sam build took ${built} s"
