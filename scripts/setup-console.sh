#!/usr/bin/env bash
# Installs what building the Hanko console (frontend/, a Leptos WASM app) needs, skipping
# whatever is already installed at the right version. Needs only crates.io and the npm
# registry: Trunk is told to download nothing (Trunk.toml: offline = true, pinned tools).
#
#   - the wasm32-unknown-unknown Rust target (rustup);
#   - trunk 0.21.14 (cargo install; newer releases need a newer rustc than 1.88);
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock (cargo install);
#   - wasm-opt from the npm package `binaryen` in .local/node (Debian's binaryen is too old
#     and produces a blank page), linked into cargo's bin folder so Trunk finds it on PATH;
#   - terser from npm in .local/node, which Trunk.toml's post-build hook runs to minify the
#     generated JS (release builds).
#
# After it, the console is built into dist/ (from the repository root) with:
#
#   CARGO_TARGET_DIR=target/console trunk build --release
#
# (Trunk.toml sets dist = "dist", offline = true and the tool versions; frontend/index.html
# makes release builds use the size-tuned `[profile.console]` of Cargo.toml.) The separate
# CARGO_TARGET_DIR keeps the console's wasm build off the backend's cargo lock and cache.
# `scripts/setup-console.sh --build` runs that command after installing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"

TRUNK_VERSION="0.21.14"
BINARYEN_VERSION="132.0.0" # wasm-opt "version_132"; keep in step with Trunk.toml [tools]
TERSER_VERSION="5.51.4"

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

say() { echo "setup-console: $*"; }

if ! command -v cargo >/dev/null; then
  say "cargo is missing; install Rust with rustup first" >&2
  exit 1
fi

# 1. The wasm target.
if command -v rustup >/dev/null; then
  if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "wasm32-unknown-unknown target already installed"
  else
    rustup target add wasm32-unknown-unknown
  fi
fi

# Trunk runs cargo with --offline: have the crates (for wasm32 too) in cargo's cache now.
say "fetching the crates"
cargo fetch --quiet

# 2. Trunk.
if command -v trunk >/dev/null && [ "$(trunk --version 2>/dev/null | awk '{print $2}')" = "$TRUNK_VERSION" ]; then
  say "trunk $TRUNK_VERSION already installed"
else
  say "installing trunk $TRUNK_VERSION"
  cargo install trunk --version "$TRUNK_VERSION" --locked
fi

# 3. wasm-bindgen-cli, the same version as the wasm-bindgen crate in Cargo.lock (the CLI and
#    the crate must match exactly, or the generated glue does not fit the wasm).
WB_VERSION="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
if [ -z "$WB_VERSION" ]; then
  say "no wasm-bindgen in Cargo.lock; run 'cargo metadata' once so the console's dependencies are locked" >&2
  exit 1
fi
if command -v wasm-bindgen >/dev/null && [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" = "$WB_VERSION" ]; then
  say "wasm-bindgen-cli $WB_VERSION already installed"
else
  say "installing wasm-bindgen-cli $WB_VERSION"
  cargo install wasm-bindgen-cli --version "=$WB_VERSION"
fi
TOML_WB="$(sed -n 's/^wasm_bindgen *= *"\(.*\)"/\1/p' Trunk.toml)"
if [ "$TOML_WB" != "$WB_VERSION" ]; then
  say "Trunk.toml pins wasm_bindgen = \"$TOML_WB\" but Cargo.lock has $WB_VERSION; update Trunk.toml" >&2
  exit 1
fi

# 4. wasm-opt from npm's binaryen and terser (minifies the generated JS; Trunk.toml's
#    post-build hook), project-local; wasm-opt is linked onto PATH.
NODE_DIR="$ROOT/.local/node"
WASM_OPT="$NODE_DIR/node_modules/.bin/wasm-opt"
WANT_OPT="version_${BINARYEN_VERSION%%.*}"
TERSER_PKG="$NODE_DIR/node_modules/terser/package.json"
if [ -x "$WASM_OPT" ] && "$WASM_OPT" --version 2>/dev/null | grep -q "($WANT_OPT)" \
  && [ -f "$TERSER_PKG" ] && grep -q "\"version\": \"$TERSER_VERSION\"" "$TERSER_PKG"; then
  say "binaryen $BINARYEN_VERSION and terser $TERSER_VERSION already in .local/node"
else
  if ! command -v npm >/dev/null; then
    say "npm is missing (apt-get install nodejs npm)" >&2
    exit 1
  fi
  say "installing binaryen $BINARYEN_VERSION (wasm-opt) and terser $TERSER_VERSION into .local/node"
  mkdir -p "$NODE_DIR"
  # One install for both: a second --no-save install would remove the first package.
  npm install --prefix "$NODE_DIR" --no-save --no-audit --no-fund --loglevel=error \
    "binaryen@$BINARYEN_VERSION" "terser@$TERSER_VERSION"
fi
if [ "$(readlink "$CARGO_BIN/wasm-opt" 2>/dev/null)" != "$WASM_OPT" ]; then
  ln -sfn "$WASM_OPT" "$CARGO_BIN/wasm-opt"
fi
if ! wasm-opt --version | grep -q "($WANT_OPT)"; then
  say "the wasm-opt first on PATH ($(command -v wasm-opt)) is not $WANT_OPT" >&2
  exit 1
fi
say "tools ready: $(trunk --version), wasm-bindgen $WB_VERSION, wasm-opt $WANT_OPT"

if [ "${1:-}" = "--build" ]; then
  CARGO_TARGET_DIR="$ROOT/target/console" trunk build --release
fi
