# Hanko: the two commands are `make run` and `make test`.
.PHONY: run test setup lint

## Run the whole local stack (moto + example executions + hanko serve).
run:
	scripts/run-local.sh

## Install what is missing, then check formatting and lints and run every test.
test: setup lint
	cargo test --workspace --locked

setup:
	scripts/setup.sh

lint:
	cargo fmt --all --check
	cargo clippy --all-targets --locked -- -D warnings
