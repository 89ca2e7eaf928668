#!/usr/bin/env bash
# Sends a campaign through a real Postfix and takes its real bounces back:
#  * Assent hands N messages to Postfix (STARTTLS required, self-signed
#    certificate accepted, SASL AUTH required: Postfix asks a private
#    Dovecot, as relays commonly do);
#    Postfix delivers them to /root/Maildir, where
#    every message must carry two DKIM signatures that dkimpy verifies with
#    the published keys and parse without defects in Python's `email`;
#  * three recipients `unknownN@…` are refused by Postfix (5.1.1), whose
#    own DSNs go to the VERP address and so to Assent's inbound listener:
#    each of the three must end up suppressed as a hard bounce.
#   tools/postfix_interop.sh [N, default 300]
# Needs root and Debian's postfix and dovecot (`apt-get install postfix
# dovecot-core`); it
# RECONFIGURES THE MACHINE'S POSTFIX (port 2526, every recipient to root's
# Maildir), so run it on a throwaway test machine only. Needs
# `pip install dkimpy pynacl`. Exits non-zero when a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-300}"
PF_PORT=2526
IN_PORT=2525
cargo build --release -q -p assent
T="${CARGO_TARGET_DIR:-target}/release"
[ -x "$T/assent" ] || T=/var/cache/assent-target/release

# Postfix: listens on 127.0.0.1:$PF_PORT, takes mail for any domain into
# root's Maildir, refuses unknown* with 5.1.1, and relays mail for bounce.*
# (Assent's VERP domain) to Assent's inbound listener.
cat > /etc/postfix/assent_virtual <<VIRT
/^((unknown|bounces\\+|unsubscribe\\+).*)\$/ \$1
/.*/ root@localhost
VIRT
cat > /etc/postfix/assent_transport <<TRANS
/@bounce\\./ smtp:[127.0.0.1]:$IN_PORT
/^unknown/ error:5.1.1 <unknown> User unknown
TRANS
WORK=$(mktemp -d)
PID=""
SASL_DIR=$(mktemp -d)
trap '[ -z "$PID" ] || kill "$PID" 2>/dev/null || true; doveadm -c "$SASL_DIR/dovecot.conf" stop 2>/dev/null || true; rm -rf "$WORK" "$SASL_DIR"' EXIT
# SASL through a private Dovecot whose only service is Postfix's auth socket.
SASL_USER=assent-relay
SASL_PASSWORD="s3cret-$(date +%s)"
echo "$SASL_USER:{PLAIN}$SASL_PASSWORD::::::" > "$SASL_DIR/users"
# Dovecot's auth process runs as the dovecot user and must read the file.
chmod 755 "$SASL_DIR" && chmod 644 "$SASL_DIR/users"
cat > "$SASL_DIR/dovecot.conf" <<DOVE
base_dir = $SASL_DIR/run
state_dir = $SASL_DIR/state
log_path = $SASL_DIR/dovecot.log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN $SASL_DIR/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=/nonexistent
}
service auth {
  unix_listener /var/spool/postfix/private/assent-auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
DOVE
dovecot -c "$SASL_DIR/dovecot.conf"
for _ in $(seq 1 50); do [ -S /var/spool/postfix/private/assent-auth ] && break; sleep 0.1; done

postconf -e "myhostname = mx.test.example" "mydestination = localhost, mx.test.example" "myorigin = mx.test.example" \
    "inet_interfaces = loopback-only" "inet_protocols = ipv4" "relay_domains = static:ALL" "virtual_alias_domains =" \
    "virtual_alias_maps = regexp:/etc/postfix/assent_virtual" "transport_maps = regexp:/etc/postfix/assent_transport" \
    "smtpd_recipient_restrictions = permit_sasl_authenticated, reject" "mynetworks = 127.0.0.0/8" "home_mailbox = Maildir/" \
    "smtpd_sasl_auth_enable = yes" "smtpd_sasl_type = dovecot" "smtpd_sasl_path = private/assent-auth" \
    "smtpd_tls_auth_only = yes" "smtpd_tls_security_level = may" \
    "alias_maps =" "alias_database =" "smtp_tls_security_level = may" "maillog_file = /var/log/postfix.log"
sed -i -E "s/^(smtp|127\\.0\\.0\\.1:[0-9]+)( +inet +n +- +[yn-] +- +- +smtpd)/127.0.0.1:$PF_PORT\\2/" /etc/postfix/master.cf
postfix status >/dev/null 2>&1 && postfix reload >/dev/null 2>&1 || postfix start >/dev/null 2>&1
for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/$PF_PORT) 2>/dev/null && break; sleep 0.1; done

MAILDIR=/root/Maildir/new
mkdir -p "$MAILDIR"
python3 bench/gen_contacts.py "$N" "$WORK/contacts.csv" >/dev/null
for i in 1 2 3; do echo "unknown$i@mail.example.net,Un,Known$i,Berlin,2020-01-01" >> "$WORK/contacts.csv"; done
source tools/lib.sh
http=$(free_port)
ASSENT_DATABASE_URL="sqlite://$WORK/a.db" ASSENT_LOG=warn ASSENT_OUTBOX="$WORK/outbox" ASSENT_MASTER_KEY_FILE="$WORK/key" \
ASSENT_IMPORT_DIR="$WORK/imports" \
    "$T/assent" serve --http "127.0.0.1:$http" --public-url https://news.interop.example --roles web,worker,inbound \
    --inbound-smtp "127.0.0.1:$IN_PORT" --relay "smtp://127.0.0.1:$PF_PORT?tls=required&tls_insecure=true&user=$SASL_USER&password=$SASL_PASSWORD" > "$WORK/serve.log" 2>&1 &
PID=$!
ASSENT_URL="http://127.0.0.1:$http"
op=$(operator_token "$WORK/serve.log")
ASSENT_BIN="$T/assent"
read -r acc tok list domain < <(ready_to_send "$op" "Interop GmbH" interop.example "$WORK/contacts.csv" "sqlite://$WORK/a.db")
api "$tok" GET "/sender-domains/$domain" > "$WORK/domain.json"
# Non-ASCII in every header and part, a line longer than 998 octets and a
# line that starts with a dot (SMTP dot-stuffing).
HTML=$(python3 -c 'import json; print(json.dumps("<html><body><h1>Hallo {{ first_name }} aus {{ city }}!</h1><p>Grüße – “quotes” € " + "x" * 1200 + " end.</p>\n.leading dot\n<p><a href=\"{{ unsubscribe_url }}\">Abmelden</a></p><p>{{ imprint }}</p></body></html>"))')
campaign=$(api "$tok" POST /campaigns "{\"name\":\"Interop\",\"subject\":\"Grüße für {{ first_name }} – Herbst\",\"from_email\":\"hello@news.interop.example\",\"from_name\":\"Zoë's Shop\",\"list_ids\":[$list],\"html\":$HTML}" | field '["id"]')
version=$(api "$tok" GET /guidelines | field '["version"]')
START=$(date +%s)
api "$tok" POST "/campaigns/$campaign/send" "{\"accept_guidelines\":true,\"guidelines_version\":\"$version\"}" >/dev/null
for _ in $(seq 1 600); do [ "$(api "$tok" GET "/campaigns/$campaign" | field '["status"]')" = sent ] && break; sleep 1; done
echo "campaign counts: $(api "$tok" GET "/campaigns/$campaign" | field '["counts"]')"
# Postfix accepted all of them; all but the three unknown must reach the Maildir.
WANT=$(( $(api "$tok" GET "/campaigns/$campaign" | field '["counts"]["sent"]') - 3 ))
status=0
# The three DSNs: Postfix sends them within a second or two.
for i in 1 2 3; do
    s=""
    for _ in $(seq 1 30); do
        s=$(api "$tok" GET "/contacts?email=unknown$i@mail.example.net" | field '["contacts"][0]["suppressed"]')
        [ "$s" = hard_bounce ] && break
        sleep 1
    done
    echo "unknown$i@mail.example.net suppressed: $s"
    [ "$s" = hard_bounce ] || status=1
done
WORK="$WORK" START="$START" N="$WANT" python3 - <<'PY' || status=1
import glob, json, os, subprocess, sys
work, start, n = os.environ["WORK"], int(os.environ["START"]), int(os.environ["N"])
d = json.load(open(f"{work}/domain.json"))
json.dump({r["name"].rstrip("."): r["value"] for r in d["records"] if "_domainkey" in r["name"]}, open(f"{work}/keys.json", "w"))
files = [f for f in glob.glob("/root/Maildir/new/*") if os.path.getmtime(f) >= start]
files = [f for f in files if b"news.interop.example" in open(f, "rb").read()]
dkim_bad = mime_bad = 0
for f in files:
    # Maildir keeps LF line ends; SMTP and DKIM see CRLF.
    raw = open(f, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    open(f"{work}/msg.eml", "wb").write(raw)
    r = subprocess.run(["python3", "crates/mail/tests/dkim_verify.py", f"{work}/msg.eml", f"{work}/keys.json"], capture_output=True, text=True)
    if r.returncode != 0 or len(json.loads(r.stdout).get("results", [])) != 2:
        dkim_bad += 1
        print("DKIM failed:", f, r.stdout.strip()[:300])
    m = json.loads(subprocess.run(["python3", "crates/mail/tests/mime_check.py", f"{work}/msg.eml"], capture_output=True, text=True).stdout)
    if m.get("defects"):
        mime_bad += 1
        print("MIME defects:", f, m["defects"])
print(f"delivered by Postfix: {len(files)}, want {n}; DKIM failures: {dkim_bad}; MIME defects: {mime_bad}")
sys.exit(0 if len(files) == n and dkim_bad == 0 and mime_bad == 0 else 1)
PY
exit "$status"
