#!/usr/bin/env bash
# `make bench`: installs the benchmarks' tools if missing (wrk, chromium and chromedriver
# from Debian, moto in .venv, @aws-sdk/client-sfn from npm into .local/bench-node), builds
# the release `hanko` and the console, and runs backend/bench, which prints the tables and
# writes BENCHMARKS.md.
# Arguments go to the bench binary, e.g. `scripts/bench.sh --sizes 10000,100000` to skip
# the 1M seed, or `--only cold` for one section, `--only wait` for the console's waiting
# times in Chromium (see `--help`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh

MOTO_VERSION="5.2.5"
SFN_CLIENT_VERSION="3.1164.0"

if ! command -v wrk >/dev/null; then
  echo "bench: installing wrk (Debian)"
  apt_install wrk
fi
if ! command -v chromedriver >/dev/null || [ ! -x /usr/bin/chromium ]; then
  echo "bench: installing chromium and chromedriver (Debian), for the console's waiting times"
  apt_install chromium chromium-driver
fi
if ! command -v node >/dev/null; then
  echo "bench: node (Node.js 20) is needed for the cold start comparison" >&2
  exit 1
fi
if [ ! -x .venv/bin/moto_server ]; then
  echo "bench: creating .venv with moto[server]==$MOTO_VERSION"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
if [ ! -d .local/bench-node/node_modules/@aws-sdk/client-sfn ]; then
  echo "bench: installing @aws-sdk/client-sfn@$SFN_CLIENT_VERSION into .local/bench-node"
  mkdir -p .local/bench-node
  npm install --silent --no-audit --no-fund --prefix .local/bench-node "@aws-sdk/client-sfn@$SFN_CLIENT_VERSION"
fi

TARGET="${CARGO_TARGET_DIR:-target}"
nice -n 10 cargo build --release --locked -p hanko -p hanko-bench
nice -n 10 scripts/build-console.sh
exec "$TARGET/release/hanko-bench" --hanko "$TARGET/release/hanko" "$@"
