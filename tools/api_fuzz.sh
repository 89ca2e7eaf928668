#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with Schemathesis
# (every check: server errors, status codes, response schemas, valid data
# refused, invalid data accepted), once with an active account's token and
# once with the operator's, each against a fresh Assent on SQLite; then
# once more as the account with every `{id}` pointing at a list, contact,
# campaign, sender domain and import that exist (there, "valid data
# refused" is not checked, as a schema cannot say which lists exist, and
# there are no stateful sequences, whose created ids the fixed ids hide).
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

# Starts a fresh Assent on a database of its own in $WORK/NAME (stopping
# the one before); sets ASSENT_URL and OP. `start NAME`
start() {
    [ -z "$PID" ] || { kill "$PID"; wait "$PID" 2>/dev/null || true; }
    local http dir="$WORK/$1"
    mkdir -p "$dir"
    http=$(free_port)
    ASSENT_DATABASE_URL="sqlite://$dir/a.db" ASSENT_LOG=warn ASSENT_OUTBOX="$dir/outbox" ASSENT_MASTER_KEY_FILE="$dir/key" \
    ASSENT_IMPORT_DIR="$dir/imports" ASSENT_SIGNUPS_PER_IP_PER_MINUTE=0 ASSENT_SIGNUPS_PER_ADDRESS_PER_HOUR=0 \
    ASSENT_IMPORT_REVIEW_ACCOUNT_AGE_DAYS=0 \
        "$T/assent" serve --http "127.0.0.1:$http" --public-url "http://127.0.0.1:$http" > "$dir/serve.log" 2>&1 &
    PID=$!
    ASSENT_URL="http://127.0.0.1:$http"
    OP=$(operator_token "$dir/serve.log")
}

# Runs Schemathesis from $WORK/NAME (where a schemathesis.toml is read) and
# prints its failures: `fuzz NAME TOKEN [more options]`.
status=0
fuzz() {
    local name="$1" token="$2"
    shift 2
    (cd "$WORK/$name" && schemathesis run "$ASSENT_URL/api/openapi.json" -H "Authorization: Bearer $token" --checks all \
        --max-examples "$EXAMPLES" -w 2 --continue-on-failure --max-failures 200 "$@") > "$WORK/$name.log" 2>&1 || status=1
    sed -n '/^=* FAILURES =*$/,$p' "$WORK/$name.log" | grep -vE "^\s*$" | head -n 200 || true
    grep -E "generated|passed|failures" "$WORK/$name.log" | tail -n 2 || true
}

for who in account operator; do
    start "$who"
    read -r _ TOK < <(active_account "$OP" "Fuzz GmbH" fuzz.example)
    api "$TOK" POST /lists '{"name":"Customers"}' >/dev/null
    token=$TOK
    [ "$who" = operator ] && token=$OP
    echo "== as the $who"
    fuzz "$who" "$token"
done

# A fresh database whose one account owns id 1 of every kind of resource.
start resources
python3 bench/gen_contacts.py 50 "$WORK/contacts.csv" >/dev/null
ASSENT_BIN="$T/assent"
read -r _ TOK list _ < <(ready_to_send "$OP" "Fuzz GmbH" fuzz.example "$WORK/contacts.csv" "sqlite://$WORK/resources/a.db")
form=$(api "$TOK" POST /forms "{\"name\":\"F\",\"list_ids\":[$list],\"consent_text\":\"Yes, email me.\"}" | field '["id"]')
api "$TOK" POST /campaigns "{\"name\":\"C\",\"subject\":\"Hi {{ first_name }}\",\"from_email\":\"hello@news.fuzz.example\",\"list_ids\":[$list],\"html\":\"<p>Hi</p><p><a href=\\\"{{ unsubscribe_url }}\\\">Unsubscribe</a></p><p>{{ imprint }}</p>\"}" >/dev/null
printf '[parameters]\n"path.id" = 1\n"path.form" = "%s"\n' "$form" > "$WORK/resources/schemathesis.toml"
echo "== as the account, on resources that exist"
fuzz resources "$TOK" --exclude-checks positive_data_acceptance --phases examples,coverage,fuzzing
exit "$status"
