# Hanko: the two commands are `make run` and `make test`.
.PHONY: run test setup console lint infra bench package

## Run the whole local stack (moto + example executions + hanko serve).
run:
	scripts/run-local.sh

## Install what is missing, build the console, check formatting and lints, run every test.
## (The Lambda package and its test under qemu are `make package`, one command of its own.)
test: setup console lint infra
	# Build every test and the `hanko` binary once, with the workspace's features; the
	# end-to-end tests run that binary (HANKO_BIN) instead of building it again inside a test.
	cargo test --workspace --locked --no-run
	HANKO_BIN="$${CARGO_TARGET_DIR:-$(CURDIR)/target}/debug/hanko" cargo test --workspace --locked --no-fail-fast

setup:
	scripts/setup.sh

## Build the console into dist/ (installs trunk, wasm-bindgen-cli, wasm-opt if missing).
console:
	scripts/build-console.sh

lint:
	cargo fmt --all --check
	cargo clippy --all-targets --locked -- -D warnings

## Check infra/ short of a deploy: cfn-lint, the SAM transform, ASL validation, and the stack on moto.
infra:
	scripts/check-infra.sh

## The Lambda package: sam build as infra/deploy.sh runs it (arm64, cargo lambda) into
## .aws-sam/build, each bootstrap checked to be an AArch64 ELF, and the Lambda test run
## against that bootstrap under qemu-aarch64.
package:
	scripts/package.sh

## Benchmarks: release builds, measured side by side; prints a table and writes BENCHMARKS.md.
bench:
	scripts/bench.sh
