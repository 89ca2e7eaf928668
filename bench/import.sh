#!/usr/bin/env bash
# Import throughput: a generated CSV (default 1,000,000 rows, ~3 % role,
# invalid or duplicate) imported with `assent import` into SQLite and into
# PostgreSQL. Prints rows/s and the peak RSS of the importing process, and
# beside it the database's own rate for the same rows (the insert_floor
# example: the import's statements as INSERT … SELECT inside the database,
# no application in the loop), which no import can beat.
#   bench/import.sh [rows]
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-1000000}"
PG_BASE="${ASSENT_BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
cargo build --release -q -p assent
cargo build --release -q -p assent-store --example insert_floor
BIN="${CARGO_TARGET_DIR:-target}/release/assent"
[ -x "$BIN" ] || BIN=/var/cache/assent-target/release/assent
FLOOR="$(dirname "$BIN")/examples/insert_floor"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 bench/gen_contacts.py "$ROWS" "$WORK/contacts.csv" >/dev/null
echo "generated $ROWS rows ($(du -h "$WORK/contacts.csv" | cut -f1))"

source tools/lib.sh

# An audited, active account with a list, set up through the API.
setup() {
    local url="$1" port pid op acc tok
    port=$(free_port)
    ASSENT_DATABASE_URL="$url" ASSENT_LOG=warn ASSENT_OUTBOX="$WORK/outbox" "$BIN" serve --http "127.0.0.1:$port" > "$WORK/serve.log" 2>&1 &
    pid=$!
    ASSENT_URL="http://127.0.0.1:$port"
    op=$(operator_token "$WORK/serve.log")
    read -r acc tok < <(active_account "$op" "Bench GmbH" bench.example)
    api "$tok" POST /lists '{"name":"Customers"}' >/dev/null
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "$acc"
}

run() {
    local name="$1" url="$2" acc
    acc=$(setup "$url")
    # BENCH_SQLITE_HOOK: SQL run on the SQLite database before the import
    # (for experiments with its schema).
    if [ "$name" = sqlite ] && [ -n "${BENCH_SQLITE_HOOK:-}" ]; then sqlite3 "$WORK/bench.db" "$BENCH_SQLITE_HOOK"; fi
    echo "== $name"
    /usr/bin/time -f "peak RSS: %M KB" -o "$WORK/time.txt" env ASSENT_DATABASE_URL="$url" ASSENT_LOG=warn \
        ${BENCH_WRAP:-} "$BIN" import "$WORK/contacts.csv" --account "$acc" --list 1 --origin offline_form \
        --evidence '{"document_ref": "paper-forms-2026.pdf"}' --quiet | tee "$WORK/result.json"
    local rss rps
    rss=$(grep -o '[0-9]*' "$WORK/time.txt" | head -n1)
    rps=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rows_per_sec"])' "$WORK/result.json")
    echo "RESULT $name: $rps rows/s, peak RSS $((rss / 1024)) MB"
}

# floor NAME URL: the database's own rate (on an empty database).
floor() {
    local rps
    rps=$("$FLOOR" "$2" "$ROWS" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows_per_sec"])')
    echo "RESULT $1 database floor: $rps rows/s"
}

run sqlite "sqlite://$WORK/bench.db"
floor sqlite "sqlite://$WORK/floor.db"
[ "${BENCH_ONLY:-}" = sqlite ] && exit 0
if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    DB="assent_bench_$$"
    psql "$PG_BASE/postgres" -qc "CREATE DATABASE $DB" >/dev/null
    run postgres "$PG_BASE/$DB"
    psql "$PG_BASE/postgres" -qc "DROP DATABASE $DB" -c "CREATE DATABASE $DB" >/dev/null
    floor postgres "$PG_BASE/$DB"
    psql "$PG_BASE/postgres" -qc "DROP DATABASE $DB" >/dev/null
else
    echo "PostgreSQL not reachable at 127.0.0.1:5432: skipped"
fi
