#!/usr/bin/env bash
# Runs the whole local stack: moto (local AWS) with the intake queue, the example state
# machine and three waiting executions; maildev, a web mailbox that Hanko mails over SMTP;
# a local OpenID provider (oidc-provider, with the dev users) that the console logs in
# with, as it does with Cognito on AWS; and `hanko serve`, which also keeps the dev login
# for curl and scripts. HANKO_NOTIFIER=outbox writes .eml files instead of mailing.
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."

# How long each step took, printed as it ends (the first run installs and compiles).
step_start=$SECONDS
took() {
  echo "run-local: $1 took $((SECONDS - step_start)) s"
  step_start=$SECONDS
}

# Only what running needs; scripts/setup.sh adds what the tests need.
scripts/setup-run.sh
took "installing (scripts/setup-run.sh)"

MOTO_PORT="${HANKO_MOTO_PORT:-5005}"
HANKO_PORT="${HANKO_PORT:-8080}"
MAILDEV_SMTP_PORT="${HANKO_MAILDEV_SMTP_PORT:-1025}"
MAILDEV_PORT="${HANKO_MAILDEV_PORT:-1080}"
OIDC_PORT="${HANKO_OIDC_PORT:-9400}"
NOTIFIER="${HANKO_NOTIFIER:-smtp}"
DATA_DIR="${HANKO_DATA_DIR:-.local/hanko}"
mkdir -p .local "$DATA_DIR"

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-ap-northeast-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"
export AWS_ENDPOINT_URL="http://127.0.0.1:${MOTO_PORT}"

echo "Building hanko..."
cargo build --quiet -p hanko
took "building hanko"

CONSOLE_ARGS=()
if [ -x scripts/build-console.sh ]; then
  scripts/build-console.sh
  took "building the console"
fi
if [ -f dist/index.html ]; then
  CONSOLE_ARGS=(--console-dir dist)
fi

pids=()
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "Stopped."
}
trap cleanup EXIT INT TERM

# With HANKO_STORE=dynamodb, moto's DynamoDB answers one request at a time: its threaded
# DynamoDB does not isolate concurrent transactions (scripts/moto-serial-dynamodb.py).
if [ "${HANKO_STORE:-sqlite}" = dynamodb ]; then
  .venv/bin/python scripts/moto-serial-dynamodb.py -H 127.0.0.1 -p "$MOTO_PORT" > .local/moto.log 2>&1 &
else
  .venv/bin/moto_server -H 127.0.0.1 -p "$MOTO_PORT" > .local/moto.log 2>&1 &
fi
pids+=($!)
.venv/bin/python - "$AWS_ENDPOINT_URL" <<'PY'
import sys, time, urllib.request
for _ in range(150):
    try:
        urllib.request.urlopen(sys.argv[1] + "/moto-api/", timeout=2)
        sys.exit(0)
    except Exception:
        time.sleep(0.2)
sys.exit("moto did not start; see .local/moto.log")
PY

# HANKO_STORE=dynamodb keeps the requests in a table on moto instead of SQLite.
if [ "${HANKO_STORE:-sqlite}" = dynamodb ]; then
  export HANKO_TABLE="${HANKO_TABLE:-hanko}"
  target/debug/hanko create-table
fi

# The web mailbox and the OpenID provider (infra/local, installed by scripts/setup-run.sh).
NOTIFY_ARGS=(--notifier outbox)
if [ "$NOTIFIER" = smtp ]; then
  infra/local/node_modules/.bin/maildev --ip 127.0.0.1 --web-ip 127.0.0.1 --silent \
    --smtp "$MAILDEV_SMTP_PORT" --web "$MAILDEV_PORT" > .local/maildev.log 2>&1 &
  pids+=($!)
  NOTIFY_ARGS=(--notifier smtp --smtp-url "smtp://127.0.0.1:${MAILDEV_SMTP_PORT}")
fi
node infra/local/oidc-provider.mjs --port "$OIDC_PORT" > .local/oidc-provider.log 2>&1 &
pids+=($!)
# Slack and Teams go to a local receiver that prints each message (and logs it in .local/chat.log).
CHAT_PORT="${HANKO_CHAT_PORT:-9500}"
.venv/bin/python scripts/chat-receiver.py "$CHAT_PORT" &
pids+=($!)
export HANKO_SLACK_BOT_TOKEN="${HANKO_SLACK_BOT_TOKEN:-xoxb-local-receiver}"
export HANKO_SLACK_API_URL="${HANKO_SLACK_API_URL:-http://127.0.0.1:${CHAT_PORT}/api}"
teams_local="{\"release-team\": \"http://127.0.0.1:${CHAT_PORT}/teams/release-team\"}"
export HANKO_TEAMS_WEBHOOKS="${HANKO_TEAMS_WEBHOOKS:-$teams_local}"
OIDC="http://127.0.0.1:${OIDC_PORT}"
ready=("$OIDC/.well-known/openid-configuration")
[ "$NOTIFIER" = smtp ] && ready+=("http://127.0.0.1:${MAILDEV_PORT}/email")
for url in "${ready[@]}"; do
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && break
    sleep 0.2
  done
  curl -fsS -o /dev/null "$url" || { echo "$url did not answer; see .local/*.log" >&2; exit 1; }
done

seed="$(.venv/bin/python scripts/seed-local.py)"
took "starting moto, the mailbox and the OpenID provider, and seeding"
QUEUE_URL="$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["queueUrl"])' "$seed")"
# Hanko's EventBridge events go to moto's default bus; a rule sends them to a queue, which
# scripts/events-tail.py prints (and logs in .local/events.log). HANKO_EVENT_BUS= turns them off.
EVENTS_QUEUE_URL="$(.venv/bin/python -c 'import json,sys; print(json.loads(sys.argv[1])["eventsQueueUrl"])' "$seed")"
export HANKO_EVENT_BUS="${HANKO_EVENT_BUS-default}"
if [ -n "$HANKO_EVENT_BUS" ]; then
  .venv/bin/python scripts/events-tail.py "$EVENTS_QUEUE_URL" &
  pids+=($!)
else
  unset HANKO_EVENT_BUS
fi

target/debug/hanko serve \
  --listen "127.0.0.1:${HANKO_PORT}" \
  --data-dir "$DATA_DIR" \
  --dev-users infra/dev-users.json \
  --intake-queue-url "$QUEUE_URL" \
  --intake-wait-seconds 5 \
  --policy-file "${HANKO_POLICY_FILE:-infra/policy.toml}" \
  "${NOTIFY_ARGS[@]}" \
  --oidc-issuer "$OIDC" \
  --oidc-jwks-url "$OIDC/jwks.json" \
  --oidc-client-id hanko-console \
  --oidc-groups-claim groups \
  --oidc-authorize-url "$OIDC/authorize" \
  --oidc-token-url "$OIDC/token" \
  --oidc-logout-url "$OIDC/logout" \
  --oidc-provider-name "the local OpenID provider" \
  "${CONSOLE_ARGS[@]}" &
pids+=($!)

echo "run-local: ready after ${SECONDS} s"
cat <<MSG

  Hanko:    http://127.0.0.1:${HANKO_PORT}/
  Passkeys: http://localhost:${HANKO_PORT}/passkeys  (passkeys need the name localhost; HANKO_REQUIRE_PASSKEY=true make run asks one of every vote)
  Mailbox:  $([ "$NOTIFIER" = smtp ] && echo "http://127.0.0.1:${MAILDEV_PORT}/  (maildev; SMTP on ${MAILDEV_SMTP_PORT})" || echo "${DATA_DIR}/outbox  (one .eml per notification)")
  Login:    ${OIDC}  (the local OpenID provider; the console's "Log in with" button)
  Local AWS (moto): ${AWS_ENDPOINT_URL}   intake queue: ${QUEUE_URL}
  Events:   $([ -n "${HANKO_EVENT_BUS:-}" ] && echo "EventBridge bus ${HANKO_EVENT_BUS} -> ${EVENTS_QUEUE_URL}  (each printed as 'event: ...', whole in .local/events.log)" || echo "off (HANKO_EVENT_BUS is empty)")

  Dev users (password):
    alice@example.com   (alice-approves)    approver: release-managers, finance
    carol@example.com   (carol-approves)    approver: release-managers, legal
    bob@example.com     (bob-requests)      the requester
    mallory@example.com (mallory-watches)   not an approver
    dave@example.com    (dave-audits)       auditor: exports the audit trail

  Ctrl-C stops everything.

MSG
wait "${pids[@]}"
