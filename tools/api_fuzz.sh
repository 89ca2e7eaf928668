#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with Schemathesis
# (every check: server errors, status codes, response schemas, valid data
# refused, invalid data accepted), once with an active account's token and
# once with the operator's, each against a fresh Assent on SQLite; then
# once more as the account with every `{id}` pointing at a list, contact,
# campaign, sender domain and import that exist (there, "valid data
# refused" is not checked: a schema cannot say which lists exist).
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
source tools/lib.sh

# Starts a fresh Assent with an active account; sets ASSENT_URL, OP and TOK.
fresh() {
    [ -z "$PID" ] || { kill "$PID"; wait "$PID" 2>/dev/null || true; }
    local http dir="$WORK/$1"
    mkdir -p "$dir"
    http=$(free_port)
    ASSENT_DATABASE_URL="sqlite://$dir/a.db" ASSENT_LOG=warn ASSENT_OUTBOX="$dir/outbox" ASSENT_MASTER_KEY_FILE="$dir/key" \
    ASSENT_IMPORT_DIR="$dir/imports" ASSENT_SIGNUPS_PER_IP_PER_MINUTE=0 ASSENT_SIGNUPS_PER_ADDRESS_PER_HOUR=0 \
        "$T/assent" serve --http "127.0.0.1:$http" --public-url "http://127.0.0.1:$http" > "$dir/serve.log" 2>&1 &
    PID=$!
    ASSENT_URL="http://127.0.0.1:$http"
    OP=$(operator_token "$dir/serve.log")
    read -r _ TOK < <(active_account "$OP" "Fuzz GmbH" fuzz.example)
    api "$TOK" POST /lists '{"name":"Customers"}' >/dev/null
}

status=0
for who in account operator; do
    fresh "$who"
    token=$TOK
    [ "$who" = operator ] && token=$OP
    echo "== as the $who"
    schemathesis run "$ASSENT_URL/api/openapi.json" -H "Authorization: Bearer $token" --checks all \
        --max-examples "$EXAMPLES" -w 2 --continue-on-failure --max-failures 200 > "$WORK/$who.log" 2>&1 || status=1
    sed -n '/^=* FAILURES =*$/,$p' "$WORK/$who.log" | grep -vE "^\s*$" | head -n 200 || true
    grep -E "generated|passed|failures" "$WORK/$who.log" | tail -n 2 || true
done

# A fresh database whose one account owns id 1 of every kind of resource.
kill "$PID"; wait "$PID" 2>/dev/null || true
mkdir -p "$WORK/resources"
python3 bench/gen_contacts.py 50 "$WORK/contacts.csv" >/dev/null
ASSENT_BIN="$T/assent"
http=$(free_port)
ASSENT_DATABASE_URL="sqlite://$WORK/resources/a.db" ASSENT_LOG=warn ASSENT_OUTBOX="$WORK/resources/outbox" \
ASSENT_MASTER_KEY_FILE="$WORK/resources/key" ASSENT_IMPORT_DIR="$WORK/resources/imports" ASSENT_IMPORT_REVIEW_ACCOUNT_AGE_DAYS=0 \
    "$T/assent" serve --http "127.0.0.1:$http" --public-url "http://127.0.0.1:$http" > "$WORK/resources/serve.log" 2>&1 &
PID=$!
ASSENT_URL="http://127.0.0.1:$http"
OP=$(operator_token "$WORK/resources/serve.log")
read -r _ TOK list _ < <(ready_to_send "$OP" "Fuzz GmbH" fuzz.example "$WORK/contacts.csv" "sqlite://$WORK/resources/a.db")
form=$(api "$TOK" POST /forms "{\"name\":\"F\",\"list_ids\":[$list],\"consent_text\":\"Yes, email me.\"}" | field '["id"]')
api "$TOK" POST /campaigns "{\"name\":\"C\",\"subject\":\"Hi {{ first_name }}\",\"from_email\":\"hello@news.fuzz.example\",\"list_ids\":[$list],\"html\":\"<p>Hi</p><p><a href=\\\"{{ unsubscribe_url }}\\\">Unsubscribe</a></p><p>{{ imprint }}</p>\"}" >/dev/null
printf '[parameters]\n"path.id" = 1\n"path.form" = "%s"\n' "$form" > "$WORK/resources/schemathesis.toml"
echo "== as the account, on resources that exist"
(cd "$WORK/resources" && schemathesis run "$ASSENT_URL/api/openapi.json" -H "Authorization: Bearer $TOK" --checks all \
    --exclude-checks positive_data_acceptance --max-examples "$EXAMPLES" -w 2 --continue-on-failure --max-failures 200) \
    > "$WORK/resources.log" 2>&1 || status=1
sed -n '/^=* FAILURES =*$/,$p' "$WORK/resources.log" | grep -vE "^\s*$" | head -n 200 || true
grep -E "generated|passed|failures" "$WORK/resources.log" | tail -n 2 || true
exit "$status"
