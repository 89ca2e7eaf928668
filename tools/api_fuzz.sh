#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with Schemathesis
# (every check: server errors, status codes, response schemas, valid data
# refused, invalid data accepted), once with an active account's token and
# once with the operator's, each against a fresh Assent on SQLite.
#   tools/api_fuzz.sh [max examples per operation, default 100]
# Needs `pip install schemathesis`. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-100}"
cargo build --release -q -p assent
T="${CARGO_TARGET_DIR:-target}/release"
[ -x "$T/assent" ] || T=/var/cache/assent-target/release
WORK=$(mktemp -d)
PID=""
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# Starts a fresh Assent with an active account; sets URL, OP and TOK.
fresh() {
    [ -z "$PID" ] || { kill "$PID"; wait "$PID" 2>/dev/null || true; }
    local http dir="$WORK/$1"
    mkdir -p "$dir"
    http=$(port)
    ASSENT_DATABASE_URL="sqlite://$dir/a.db" ASSENT_LOG=warn ASSENT_OUTBOX="$dir/outbox" ASSENT_MASTER_KEY_FILE="$dir/key" \
    ASSENT_IMPORT_DIR="$dir/imports" ASSENT_SIGNUPS_PER_IP_PER_MINUTE=0 ASSENT_SIGNUPS_PER_ADDRESS_PER_HOUR=0 \
        "$T/assent" serve --http "127.0.0.1:$http" --public-url "http://127.0.0.1:$http" > "$dir/serve.log" 2>&1 &
    PID=$!
    URL="http://127.0.0.1:$http"
    for _ in $(seq 1 100); do curl -sf "$URL/healthz" >/dev/null && break; sleep 0.1; done
    OP=$(grep -o 'assent_[A-Za-z0-9_-]*' "$dir/serve.log" | head -n1)
    j() { curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -X "$2" "$URL/api/v1$3" ${4:+-d "$4"}; }
    local acc
    acc=$(j "$OP" POST /accounts '{"name":"Fuzz GmbH","owner_email":"owner@fuzz.example"}' | field '["id"]')
    TOK=$(j "$OP" POST "/accounts/$acc/tokens" | field '["token"]')
    j "$TOK" PUT /account/audit '{"imprint":{"name":"Fuzz GmbH","legal_form":"GmbH","representative":"F. Uzz","street":"Hauptstr. 1","postal_code":"10115","city":"Berlin","country":"DE","email":"impressum@fuzz.example","phone":"+49 30 123456","register_court":"AG Berlin","register_number":"HRB 1","vat_id":"DE123456789"},"website":"https://fuzz.example","list_origins":"shop","consent_collection":"checkout","expected_monthly_volume":1000}' >/dev/null
    j "$OP" POST "/accounts/$acc/activate" >/dev/null
    j "$TOK" POST /lists '{"name":"Customers"}' >/dev/null
}

status=0
for who in account operator; do
    fresh "$who"
    token=$TOK
    [ "$who" = operator ] && token=$OP
    echo "== as the $who"
    schemathesis run "$URL/api/openapi.json" -H "Authorization: Bearer $token" --checks all \
        --max-examples "$EXAMPLES" -w 2 --continue-on-failure --max-failures 200 > "$WORK/$who.log" 2>&1 || status=1
    sed -n '/^=* FAILURES =*$/,$p' "$WORK/$who.log" | grep -vE "^\s*$" | head -n 200 || true
    grep -E "generated|passed|failures" "$WORK/$who.log" | tail -n 2 || true
done
exit "$status"
