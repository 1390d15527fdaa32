#!/usr/bin/env bash
# Installs what Hanko's tests need, skipping what is already there: first what running
# needs (scripts/setup-run.sh: moto in .venv, infra/local's mailbox and OpenID provider),
# then the Rust components, schemathesis, Debian's chromium + chromium-driver for the
# browser tests, the infra checks' tools and axe-core. The console's build tools are
# installed by scripts/setup-console.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/apt-install.sh
. scripts/apt-install.sh

# The infra checks (scripts/check-infra.sh).
CFN_LINT_VERSION="1.58.0"
SAM_TRANSLATOR_VERSION="1.115.0"
CFN_LINT_SERVERLESS_VERSION="0.3.6" # cfn-lint --append-rules cfn_lint_serverless.rules
CHECKOV_VERSION="3.3.30"            # a venv of its own (it pins many libraries)
ASL_VALIDATOR_VERSION="4.0.0"
AWSCLI_VERSION="1.46.2" # runs infra/deploy.sh against moto; a venv of its own (it pins botocore)
SCHEMATHESIS_VERSION="4.32.5"
# Pinned with schemathesis, so that its runs stay the same.
HYPOTHESIS_VERSION="6.160.0"

# What `make run` needs too (and the cargo check).
scripts/setup-run.sh
if command -v rustup >/dev/null; then
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi

# schemathesis: generated requests against /api/openapi.json (tests/e2e/schemathesis.rs), in .venv
# with moto. The test runs it with one worker: CPython 3.11 keeps the AST constructor's recursion
# depth per interpreter, not per thread (gh-106905), so two workers that both make hypothesis
# describe a filter lambda (ast.parse) can fail with "AST constructor recursion depth mismatch".
if [ -x .venv/bin/schemathesis ] && .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(not (m.version('schemathesis') == '$SCHEMATHESIS_VERSION' and m.version('hypothesis') == '$HYPOTHESIS_VERSION'))" 2>/dev/null; then
  echo "setup: schemathesis $SCHEMATHESIS_VERSION (hypothesis $HYPOTHESIS_VERSION) already in .venv"
else
  echo "setup: installing schemathesis==$SCHEMATHESIS_VERSION and hypothesis==$HYPOTHESIS_VERSION into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION" "hypothesis==$HYPOTHESIS_VERSION"
fi

if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "setup: chromium and chromedriver already installed"
elif command -v apt-get >/dev/null; then
  echo "setup: installing chromium and chromium-driver (Debian)"
  apt_install chromium chromium-driver
else
  echo "setup: install chromium and chromedriver for the browser tests" >&2
  exit 1
fi

# The infra checks: cfn-lint and aws-sam-translator in the venv, asl-validator from npm in
# .local/asl-validator, Debian's shellcheck.
if .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(not (m.version('cfn-lint') == '$CFN_LINT_VERSION' and m.version('aws-sam-translator') == '$SAM_TRANSLATOR_VERSION'))" 2>/dev/null; then
  echo "setup: cfn-lint $CFN_LINT_VERSION and aws-sam-translator $SAM_TRANSLATOR_VERSION already in .venv"
else
  echo "setup: installing cfn-lint $CFN_LINT_VERSION and aws-sam-translator $SAM_TRANSLATOR_VERSION into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check \
    "cfn-lint==$CFN_LINT_VERSION" "aws-sam-translator==$SAM_TRANSLATOR_VERSION"
fi
if .venv/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('cfn-lint-serverless') != '$CFN_LINT_SERVERLESS_VERSION')" 2>/dev/null; then
  echo "setup: cfn-lint-serverless $CFN_LINT_SERVERLESS_VERSION already in .venv"
else
  echo "setup: installing cfn-lint-serverless $CFN_LINT_SERVERLESS_VERSION into .venv"
  .venv/bin/pip install --quiet --disable-pip-version-check "cfn-lint-serverless==$CFN_LINT_SERVERLESS_VERSION"
fi
if [ -x .local/checkov/bin/checkov ] && .local/checkov/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('checkov') != '$CHECKOV_VERSION')" 2>/dev/null; then
  echo "setup: checkov $CHECKOV_VERSION already in .local/checkov"
else
  echo "setup: installing checkov $CHECKOV_VERSION into .local/checkov"
  python3 -m venv .local/checkov
  .local/checkov/bin/pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
if [ -x .local/asl-validator/node_modules/.bin/asl-validator ] &&
  [ "$(node -p "require('./.local/asl-validator/node_modules/asl-validator/package.json').version" 2>/dev/null)" = "$ASL_VALIDATOR_VERSION" ]; then
  echo "setup: asl-validator $ASL_VALIDATOR_VERSION already in .local/asl-validator"
elif command -v npm >/dev/null; then
  echo "setup: installing asl-validator $ASL_VALIDATOR_VERSION into .local/asl-validator"
  npm install --silent --no-audit --no-fund --prefix .local/asl-validator "asl-validator@$ASL_VALIDATOR_VERSION"
else
  echo "setup: install Node 20 with npm for the infra checks (asl-validator)" >&2
  exit 1
fi
if [ -x .local/awscli/bin/aws ] && .local/awscli/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('awscli') != '$AWSCLI_VERSION')" 2>/dev/null; then
  echo "setup: awscli $AWSCLI_VERSION already in .local/awscli"
else
  echo "setup: installing awscli $AWSCLI_VERSION into .local/awscli"
  python3 -m venv .local/awscli
  .local/awscli/bin/pip install --quiet --disable-pip-version-check "awscli==$AWSCLI_VERSION"
fi
if command -v shellcheck >/dev/null; then
  echo "setup: shellcheck already installed"
elif command -v apt-get >/dev/null; then
  echo "setup: installing shellcheck (Debian)"
  apt_install shellcheck
else
  echo "setup: install shellcheck for the infra checks" >&2
  exit 1
fi

# The accessibility test (tests/e2e/a11y.rs): axe-core from npm in .local/axe-core; the test
# injects its axe.min.js into the console's pages.
AXE_CORE_VERSION="4.14.1"
if [ -f .local/axe-core/node_modules/axe-core/axe.min.js ] &&
  [ "$(node -p "require('./.local/axe-core/node_modules/axe-core/package.json').version" 2>/dev/null)" = "$AXE_CORE_VERSION" ]; then
  echo "setup: axe-core $AXE_CORE_VERSION already in .local/axe-core"
elif command -v npm >/dev/null; then
  echo "setup: installing axe-core $AXE_CORE_VERSION into .local/axe-core"
  npm install --silent --no-audit --no-fund --prefix .local/axe-core "axe-core@$AXE_CORE_VERSION"
else
  echo "setup: install Node 20 with npm for the accessibility test (axe-core)" >&2
  exit 1
fi
