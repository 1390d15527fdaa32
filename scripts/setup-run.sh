#!/usr/bin/env bash
# Installs what running the local stack (`make run`, scripts/run-local.sh) needs, and no
# more, skipping what is already there: a Python venv (.venv) with moto[server] as the
# local AWS, and infra/local's Node packages (maildev, the web mailbox; oidc-provider, the
# local OpenID provider). The console's build tools are installed by
# scripts/setup-console.sh (scripts/build-console.sh runs it). What only the tests need
# (chromium, schemathesis, the infra checks' tools) is scripts/setup.sh's, which runs this
# first.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"

if ! command -v cargo >/dev/null; then
  echo "setup: cargo is missing; install Rust with rustup first" >&2
  exit 1
fi

if [ -x .venv/bin/moto_server ] && .venv/bin/python -c "import moto, sys; sys.exit(moto.__version__ != '$MOTO_VERSION')" 2>/dev/null; then
  echo "setup: moto $MOTO_VERSION already in .venv"
else
  echo "setup: creating .venv with moto[server]==$MOTO_VERSION"
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

# The local stack's real parts (maildev, oidc-provider), pinned by infra/local/package-lock.json.
if [ -f infra/local/node_modules/.package-lock.json ] &&
  [ infra/local/node_modules/.package-lock.json -nt infra/local/package-lock.json ]; then
  echo "setup: infra/local's Node packages (maildev, oidc-provider) already installed"
elif command -v npm >/dev/null; then
  echo "setup: installing infra/local's Node packages (maildev, oidc-provider) with npm ci"
  npm ci --silent --no-audit --no-fund --prefix infra/local
else
  echo "setup: install Node 20 with npm for the local mailbox and OpenID provider" >&2
  exit 1
fi
