#!/usr/bin/env bash
# Installs what `make package` (scripts/package.sh) needs, skipping what is already there:
#   - the AWS SAM CLI and cargo-lambda (which brings zig, PyPI's ziglang, to link for arm64
#     Linux) in a venv of their own, .local/sam (SAM pins boto3 and aws-sam-translator
#     apart from .venv's moto and cfn-lint);
#   - the aarch64-unknown-linux-gnu Rust target (rustup);
#   - Debian's qemu-user and libc6-arm64-cross, to run the arm64 `bootstrap` here:
#     qemu-aarch64 -L /usr/aarch64-linux-gnu bootstrap.
# infra/deploy.sh needs the same SAM CLI and cargo-lambda (on PATH), not qemu.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh

SAM_CLI_VERSION="1.170.0"
CARGO_LAMBDA_VERSION="1.9.2"
ZIGLANG_VERSION="0.17.1"

say() { echo "setup-package: $*"; }

if ! command -v cargo >/dev/null; then
  say "cargo is missing; install Rust with rustup first" >&2
  exit 1
fi

if [ -x .local/sam/bin/sam ] && [ -x .local/sam/bin/cargo-lambda ] &&
  .local/sam/bin/python -c "import importlib.metadata as m, sys; sys.exit(not (m.version('aws-sam-cli') == '$SAM_CLI_VERSION' and m.version('cargo-lambda') == '$CARGO_LAMBDA_VERSION' and m.version('ziglang') == '$ZIGLANG_VERSION'))" 2>/dev/null; then
  say "aws-sam-cli $SAM_CLI_VERSION, cargo-lambda $CARGO_LAMBDA_VERSION and ziglang $ZIGLANG_VERSION already in .local/sam"
else
  say "installing aws-sam-cli $SAM_CLI_VERSION, cargo-lambda $CARGO_LAMBDA_VERSION and ziglang $ZIGLANG_VERSION into .local/sam"
  python3 -m venv .local/sam
  .local/sam/bin/pip install --quiet --disable-pip-version-check \
    "aws-sam-cli==$SAM_CLI_VERSION" "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION"
fi

if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  say "the aarch64-unknown-linux-gnu Rust target already installed"
else
  say "adding the aarch64-unknown-linux-gnu Rust target"
  rustup target add aarch64-unknown-linux-gnu
fi

if command -v qemu-aarch64 >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
  say "qemu-user and libc6-arm64-cross already installed"
elif command -v apt-get >/dev/null; then
  say "installing qemu-user and libc6-arm64-cross (Debian)"
  apt_install qemu-user libc6-arm64-cross
else
  say "install qemu-user and the arm64 C library (Debian: qemu-user libc6-arm64-cross)" >&2
  exit 1
fi
