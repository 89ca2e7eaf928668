#!/usr/bin/env bash
# Form submissions per second on SQLite, measured with wrk over loopback.
# Each request parses and checks the address, stores contact, pending
# subscription, consent event, confirmation request and queued mail in one
# transaction; the mail worker renders and writes the confirmation mails to
# the maildir outbox concurrently.
#   bench/signup.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS="${2:-32}"
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
cargo build --release -q -p assent
BIN="${CARGO_TARGET_DIR:-target}/release/assent"
[ -x "$BIN" ] || BIN=/var/cache/assent-target/release/assent
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
source tools/lib.sh
PORT=$(free_port)
export ASSENT_DATABASE_URL="sqlite://$WORK/bench.db" ASSENT_OUTBOX="$WORK/outbox" ASSENT_LOG=warn
export ASSENT_SIGNUPS_PER_IP_PER_MINUTE=0 ASSENT_SIGNUPS_PER_ADDRESS_PER_HOUR=0
"$BIN" serve --http "127.0.0.1:$PORT" --public-url "http://127.0.0.1:$PORT" > "$WORK/out.log" 2>&1 &
PID=$!
ASSENT_URL="http://127.0.0.1:$PORT"
OP=$(operator_token "$WORK/out.log")
read -r ACC TOK < <(active_account "$OP" "Bench GmbH" bench.example)
LIST=$(api "$TOK" POST /lists '{"name":"Bench"}' | field '["id"]')
FORM=$(api "$TOK" POST /forms "{\"name\":\"Bench\",\"list_ids\":[$LIST],\"fields\":[\"first_name\"],\"consent_text\":\"Yes, email me.\"}" | field '["id"]')
echo "== wrk: ${DURATION}s, $CONNECTIONS connections, POST /f/$FORM (SQLite, 2 threads)"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s bench/signup.lua "http://127.0.0.1:$PORT/f/$FORM" | tee "$WORK/wrk.txt"
sleep 2
SIGNUPS=$(python3 - "$WORK/bench.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("select count(*) from confirmations").fetchone()[0], db.execute("select count(*) from mail_queue where sent_at is not null").fetchone()[0])
PY
)
echo "stored sign-ups, mails written to the outbox: $SIGNUPS"
RPS=$(grep 'Requests/sec' "$WORK/wrk.txt" | awk '{print $2}')
NON2XX=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$WORK/wrk.txt" || true)
echo "RESULT form submissions/s: $RPS ${NON2XX:+($NON2XX)}"
