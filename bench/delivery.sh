#!/usr/bin/env bash
# Campaign delivery throughput: N recipients (default 1,000,000) with a
# ~10 KB personalised HTML campaign, from SQLite through the SMTP pool to a
# fast local SMTP sink on loopback — once with RSA-2048 + Ed25519 DKIM, once
# without. Prints msgs/s, the peak RSS of the sending process, the raw
# RSA-2048 signing rate of this machine and the ceiling of the sink with the
# SMTP client alone, both measured in the same run.
#   bench/delivery.sh [recipients]
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
# Separate commands: with --example, cargo would build only examples of both.
cargo build --release -q -p assent
cargo build --release -q -p assent-test-support --example smtp_sink
cargo build --release -q -p assent-mail --example bench_outbound
cargo build --release -q -p assent-smtp --example smtp_ceiling
T="${CARGO_TARGET_DIR:-target}/release"
[ -x "$T/assent" ] || T=/var/cache/assent-target/release
WORK=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"' EXIT
python3 bench/gen_contacts.py "$N" "$WORK/contacts.csv" >/dev/null

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SINK_PORT=$(port)
"$T/examples/smtp_sink" "$SINK_PORT" > "$WORK/sink.log" &
PIDS+=($!)
sleep 0.5
HTML=$(python3 - <<'PY'
import json
rows = "".join(f"<tr><td class='p'>Product {i}</td><td>Great value, only this week: {{{{ first_name }}}}, take a look at item {i} in {{{{ city }}}}.</td></tr>" for i in range(60))
html = ("<html><head><style>.p{font-weight:bold;color:#224}td{padding:4px}</style></head><body>"
        "<h1>Hello {{ first_name }} {{ last_name }}!</h1><p>Our autumn selection for {{ city }}.</p>"
        f"<table>{rows}</table>"
        "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a> · <a href=\"{{ preferences_url }}\">Preferences</a></p>"
        "<p>{{ imprint }}</p></body></html>")
print(json.dumps(html))
PY
)

# User + system CPU seconds a process has used so far.
cpu_secs() { python3 -c "import os,sys; f=open(f'/proc/{sys.argv[1]}/stat').read().rsplit(')',1)[1].split(); print(round((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'),1))" "$1"; }

run() {
    local name="$1" dkim="$2" http pid op api acc tok list domain campaign
    http=$(port)
    rm -f "$WORK/bench.db"*
    ASSENT_DATABASE_URL="sqlite://$WORK/bench.db" ASSENT_LOG="${BENCH_LOG:-warn}" ASSENT_OUTBOX="$WORK/outbox" ASSENT_MASTER_KEY_FILE="$WORK/key" \
    ASSENT_IMPORT_DIR="$WORK/imports" ASSENT_DKIM_SIGN="$dkim" ASSENT_SEND_CONCURRENCY="${BENCH_POOL:-32}" \
        "$T/assent" serve --http "127.0.0.1:$http" --public-url https://news.bench.example \
        --relay "smtp://127.0.0.1:$SINK_PORT?tls=none&max_connections=${BENCH_POOL:-32}&max_messages=100000" > "$WORK/serve.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$http/healthz" >/dev/null && break; sleep 0.1; done
    op=$(grep -o 'assent_[A-Za-z0-9_-]*' "$WORK/serve.log" | head -n1)
    api="http://127.0.0.1:$http/api/v1"
    j() { curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -X "$2" "$api$3" ${4:+-d "$4"}; }
    field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
    acc=$(j "$op" POST /accounts '{"name":"Bench GmbH","owner_email":"owner@bench.example"}' | field '["id"]')
    tok=$(j "$op" POST "/accounts/$acc/tokens" | field '["token"]')
    j "$tok" PUT /account/audit '{"imprint":{"name":"Bench GmbH","legal_form":"GmbH","representative":"B. Ench","street":"Hauptstr. 1","postal_code":"10115","city":"Berlin","country":"DE","email":"impressum@bench.example","phone":"+49 30 123456","register_court":"AG Berlin","register_number":"HRB 1","vat_id":"DE123456789"},"website":"https://bench.example","list_origins":"shop","consent_collection":"checkout","expected_monthly_volume":1000000}' >/dev/null
    j "$op" POST "/accounts/$acc/activate" >/dev/null
    list=$(j "$tok" POST /lists '{"name":"Customers"}' | field '["id"]')
    ASSENT_DATABASE_URL="sqlite://$WORK/bench.db" ASSENT_LOG=warn "$T/assent" import "$WORK/contacts.csv" --account "$acc" --list "$list" \
        --origin contract --evidence '{"contract_ref":"bench","notice_text":"We may email you."}' --quiet > "$WORK/import.json"
    j "$op" POST "/imports/$(field '["id"]' < "$WORK/import.json")/approve" >/dev/null
    domain=$(j "$tok" POST /sender-domains '{"domain":"news.bench.example"}' | field '["id"]')
    j "$op" POST "/sender-domains/$domain/verify" '{"force":true,"reason":"benchmark"}' >/dev/null
    campaign=$(j "$tok" POST /campaigns "{\"name\":\"Bench\",\"subject\":\"Autumn for {{ first_name }}\",\"from_email\":\"hello@news.bench.example\",\"list_ids\":[$list],\"html\":$HTML}" | field '["id"]')
    local version
    version=$(j "$tok" GET /guidelines | field '["version"]')
    local before sink_cpu_before
    sink_cpu_before=$(cpu_secs "${PIDS[0]}")
    before=$(grep -o 'accepted [0-9]*' "$WORK/sink.log" | tail -n1 | cut -d' ' -f2)
    local perf_pid=""
    if [ -n "${BENCH_PERF:-}" ]; then
        perf record -F 499 -g -p "$pid" -o "$BENCH_PERF.$dkim" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    j "$tok" POST "/campaigns/$campaign/send" "{\"accept_guidelines\":true,\"guidelines_version\":\"$version\"}" >/dev/null
    local status
    while true; do
        status=$(j "$tok" GET "/campaigns/$campaign" | field '["status"]')
        [ "$status" = "sent" ] && break
        sleep 1
    done
    local info rss sent secs
    info=$(j "$tok" GET "/campaigns/$campaign")
    sent=$(echo "$info" | field '["counts"]["sent"]')
    secs=$(echo "$info" | python3 -c 'import json,sys,datetime as d; c=json.load(sys.stdin); f=lambda s: d.datetime.fromisoformat(s.replace("Z","+00:00")); print((f(c["finished_at"])-f(c["started_at"])).total_seconds())')
    rss=$(grep VmHWM "/proc/$pid/status" | awk '{print int($2/1024)}')
    local cpu sink_cpu
    cpu=$(cpu_secs "$pid")
    sink_cpu=$(cpu_secs "${PIDS[0]}")
    [ -z "$perf_pid" ] || { kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; }
    sleep 1.5
    local after
    after=$(grep -o 'accepted [0-9]*' "$WORK/sink.log" | tail -n1 | cut -d' ' -f2)
    kill "$pid"; wait "$pid" 2>/dev/null || true
    [ -z "${BENCH_KEEP_LOG:-}" ] || cp "$WORK/serve.log" "$BENCH_KEEP_LOG.$dkim"
    echo "RESULT $name: $sent messages in ${secs}s = $(python3 -c "print(round($sent/$secs))") msgs/s (sink counted $((after - ${before:-0}))), peak RSS ${rss} MB, CPU: assent ${cpu}s, sink $(python3 -c "print(round($sink_cpu - $sink_cpu_before, 1))")s"
}

echo "== raw signing rate of this machine (same run)"
env -u BENCH_WORKLOAD "$T/examples/bench_outbound" 2>&1 | grep -iE "raw|rsa" | head -n 4
echo "== ceiling of the sink and the SMTP client alone (same message size, no database, no rendering)"
"$T/examples/smtp_ceiling" "smtp://127.0.0.1:$SINK_PORT?tls=none" "${BENCH_POOL:-32}" 3
# BENCH_ONLY=dkim|nodkim runs one of the two; BENCH_PERF=FILE records a
# perf profile of the sending process to FILE.true / FILE.false.
[ "${BENCH_ONLY:-dkim}" = dkim ] && run "with RSA-2048 + Ed25519 DKIM" true
[ "${BENCH_ONLY:-nodkim}" = nodkim ] && run "without DKIM" false
true
