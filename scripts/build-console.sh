#!/usr/bin/env bash
# Installs the console's build tools if missing (scripts/setup-console.sh) and builds the
# console into dist/, which `hanko serve --console-dir dist` serves.
set -euo pipefail
cd "$(dirname "$0")/.."
exec scripts/setup-console.sh --build
