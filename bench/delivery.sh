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

source tools/lib.sh
SINK_PORT=$(free_port)
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
    local name="$1" dkim="$2" http pid op acc tok list domain campaign
    http=$(free_port)
    rm -f "$WORK/bench.db"*
    ASSENT_DATABASE_URL="sqlite://$WORK/bench.db" ASSENT_LOG="${BENCH_LOG:-warn}" ASSENT_OUTBOX="$WORK/outbox" ASSENT_MASTER_KEY_FILE="$WORK/key" \
    ASSENT_IMPORT_DIR="$WORK/imports" ASSENT_DKIM_SIGN="$dkim" ASSENT_SEND_CONCURRENCY="${BENCH_POOL:-32}" \
        "$T/assent" serve --http "127.0.0.1:$http" --public-url https://news.bench.example \
        --relay "smtp://127.0.0.1:$SINK_PORT?tls=none&max_connections=${BENCH_POOL:-32}&max_messages=100000" > "$WORK/serve.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    ASSENT_URL="http://127.0.0.1:$http"
    op=$(operator_token "$WORK/serve.log")
    ASSENT_BIN="$T/assent"
    read -r acc tok list domain < <(ready_to_send "$op" "Bench GmbH" bench.example "$WORK/contacts.csv" "sqlite://$WORK/bench.db")
    campaign=$(api "$tok" POST /campaigns "{\"name\":\"Bench\",\"subject\":\"Autumn for {{ first_name }}\",\"from_email\":\"hello@news.bench.example\",\"list_ids\":[$list],\"html\":$HTML}" | field '["id"]')
    local version
    version=$(api "$tok" GET /guidelines | field '["version"]')
    local before sink_cpu_before
    sink_cpu_before=$(cpu_secs "${PIDS[0]}")
    before=$(grep -o 'accepted [0-9]*' "$WORK/sink.log" | tail -n1 | cut -d' ' -f2)
    local perf_pid=""
    if [ -n "${BENCH_PERF:-}" ]; then
        perf record -F 499 -g -p "$pid" -o "$BENCH_PERF.$dkim" >/dev/null 2>&1 &
        perf_pid=$!
    fi
    api "$tok" POST "/campaigns/$campaign/send" "{\"accept_guidelines\":true,\"guidelines_version\":\"$version\"}" >/dev/null
    local status
    while true; do
        status=$(api "$tok" GET "/campaigns/$campaign" | field '["status"]')
        [ "$status" = "sent" ] && break
        sleep 1
    done
    local info rss sent secs
    info=$(api "$tok" GET "/campaigns/$campaign")
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
