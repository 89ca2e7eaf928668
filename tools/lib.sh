# Shell functions shared by the scripts in bench/ and tools/: `source` it.
# They talk to a running Assent through its API.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# One field of the JSON on stdin: `field '["id"]'`.
field() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# A call to the API of the Assent at $ASSENT_URL (`http://HOST:PORT`):
# `api TOKEN METHOD PATH [JSON]` prints the answer; fails on an HTTP error.
api() { curl -sf -H "Authorization: Bearer $1" -H 'Content-Type: application/json' -X "$2" "$ASSENT_URL/api/v1$3" ${4:+-d "$4"}; }

# Waits until the Assent at $ASSENT_URL answers, then prints the operator
# token it wrote to LOG on its first start: `operator_token LOG`.
operator_token() {
    for _ in $(seq 1 100); do curl -sf "$ASSENT_URL/healthz" >/dev/null && break; sleep 0.1; done
    grep -o 'assent_[A-Za-z0-9_-]*' "$1" | head -n1
}

# Creates an account with a complete audit and activates it:
# `active_account OPERATOR_TOKEN NAME DOMAIN` prints "ID TOKEN" (the
# owner's token).
active_account() {
    local op="$1" name="$2" domain="$3" acc tok
    acc=$(api "$op" POST /accounts "{\"name\":\"$name\",\"owner_email\":\"owner@$domain\"}" | field '["id"]')
    tok=$(api "$op" POST "/accounts/$acc/tokens" | field '["token"]')
    api "$tok" PUT /account/audit "{\"imprint\":{\"name\":\"$name\",\"legal_form\":\"GmbH\",\"representative\":\"A. Person\",\"street\":\"Hauptstr. 1\",\"postal_code\":\"10115\",\"city\":\"Berlin\",\"country\":\"DE\",\"email\":\"impressum@$domain\",\"phone\":\"+49 30 123456\",\"register_court\":\"AG Berlin\",\"register_number\":\"HRB 1\",\"vat_id\":\"DE123456789\"},\"website\":\"https://$domain\",\"list_origins\":\"shop customers and double opt-in form\",\"consent_collection\":\"checkout checkbox and double opt-in\",\"expected_monthly_volume\":1000000}" >/dev/null
    api "$op" POST "/accounts/$acc/activate" >/dev/null
    echo "$acc $tok"
}

# An active account with contacts, ready to send: imports CSV (through
# `ASSENT_BIN import` on DATABASE_URL) into a new list, approves the
# import and adds the sender domain news.DOMAIN, verified by hand.
# `ready_to_send OPERATOR_TOKEN NAME DOMAIN CSV DATABASE_URL` prints
# "ACCOUNT TOKEN LIST SENDER_DOMAIN_ID".
ready_to_send() {
    local op="$1" name="$2" domain="$3" csv="$4" db="$5" acc tok list import sender
    read -r acc tok < <(active_account "$op" "$name" "$domain")
    list=$(api "$tok" POST /lists '{"name":"Customers"}' | field '["id"]')
    import=$(ASSENT_DATABASE_URL="$db" ASSENT_LOG=warn "$ASSENT_BIN" import "$csv" --account "$acc" --list "$list" \
        --origin contract --evidence '{"contract_ref":"test","notice_text":"We may email you."}' --quiet | field '["id"]')
    api "$op" POST "/imports/$import/approve" >/dev/null
    sender=$(api "$tok" POST /sender-domains "{\"domain\":\"news.$domain\"}" | field '["id"]')
    api "$op" POST "/sender-domains/$sender/verify" '{"force":true,"reason":"test set-up"}' >/dev/null
    echo "$acc $tok $list $sender"
}
