#!/usr/bin/env python3
"""Writes crates/web/openapi.json, the API's OpenAPI 3.1 document.

The document is data, kept beside the routes; this script is its source so
that shared pieces (errors, security, schemas) are written once.
Run: python3 tools/openapi.py
"""
import json, pathlib

def ref(name): return {"$ref": f"#/components/schemas/{name}"}
def err(desc): return {"description": desc, "content": {"application/json": {"schema": ref("Error")}}}
def ok(desc, schema=None, status="200"):
    r = {"description": desc}
    if schema is not None: r["content"] = {"application/json": {"schema": schema}}
    return {status: r}
def body(schema, required=True): return {"required": required, "content": {"application/json": {"schema": schema}}}
ID = lambda name: [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}, "description": f"{name} id"}]
COMMON = {"400": err("malformed JSON or unknown field"), "401": err("missing or invalid token"),
          "403": err("not allowed for this token"), "413": err("body too large"), "415": err("body is not JSON"),
          "422": err("semantic validation failed")}
def op(summary, responses, tag, request=None, params=None, security="bearer", extra_errors=()):
    o = {"summary": summary, "tags": [tag], "responses": {**responses}}
    for code in ("400", "401", "403", "413", "415", "422", *extra_errors):
        o["responses"].setdefault(code, COMMON.get(code) or err(code))
    if request: o["requestBody"] = request
    if params: o["parameters"] = params
    if security is None: o["security"] = []
    return o

text = {"type": "string"}
nullable_text = {"type": ["string", "null"]}
# A value that must say something: not empty and not only spaces.
said = lambda n: {"type": "string", "minLength": 1, "maxLength": n, "pattern": "[^\\s\\u0085]"}
none_word = {"type": "string", "pattern": "^\\s*[Nn][Oo][Nn][Ee]\\s*$"}
# Domains as mail needs them: at least two labels of at most 63 characters.
# Letters beyond ASCII are Latin-1's (internationalised names are also
# accepted in other scripts where IDNA allows them).
letter = "A-Za-z\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u00ff"
label = f"[{letter}0-9](?:[-{letter}0-9]{{0,61}}[{letter}0-9])?"
domain_pattern = f"(?:{label}\\.)+[{letter}](?:[-{letter}0-9]{{0,61}}[{letter}0-9])?"
address = {"type": "string", "minLength": 3, "maxLength": 254, "pattern": f"^[^@\\s\\u0000-\\u001f\\u007f-\\u009f()<>\\[\\]\\\\,;:\"]{{1,64}}@{domain_pattern}$"}
# Pages: larger limits are served as the largest page, not refused.
def limit(default, most): return {"name": "limit", "in": "query", "schema": {"type": "integer", "format": "int64"},
    "description": f"page size, default {default}; values below 1 count as 1 and above {most} as {most}"}
schemas = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "object",
        "required": ["code", "message"], "properties": {"code": text, "message": text, "field": nullable_text}}}},
    "Account": {"type": "object", "required": ["id", "name", "owner_email", "status"], "properties": {
        "id": {"type": "integer"}, "name": text, "owner_email": text,
        "status": {"type": "string", "enum": ["pending_audit", "active", "rejected", "suspended"]},
        "status_reason": nullable_text, "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"}}},
    "CreateAccount": {"type": "object", "additionalProperties": False, "required": ["name", "owner_email"],
        "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 200}, "owner_email": {"type": "string", "format": "email"}}},
    "Decision": {"type": "object", "additionalProperties": False, "properties": {"reason": {"type": ["string", "null"], "maxLength": 2000}}},
    "ReasonedDecision": {"type": "object", "additionalProperties": False, "required": ["reason"], "properties": {"reason": said(2000)}},
    "Imprint": {"type": "object", "additionalProperties": False,
        "required": ["name", "legal_form", "representative", "street", "postal_code", "city", "country", "email", "phone", "register_number", "vat_id"],
        "properties": {**{k: said(500) for k in ["name", "legal_form", "representative", "street", "postal_code", "city", "country",
            "register_number"]},
            "vat_id": {**said(500), "anyOf": [{"pattern": "[0-9]"}, none_word]},
            "email": address,
            "phone": {"type": "string", "maxLength": 500, "pattern": "^[-+()/. ]*([0-9][-+()/. ]*){6,}$"},
            "register_court": {"type": ["string", "null"], "maxLength": 500}},
        "if": {"properties": {"register_number": {"not": none_word}}},
        "then": {"required": ["register_court"], "properties": {"register_court": {**said(500), "not": none_word}}},
        "else": {"properties": {"register_court": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": "^\\s*$"}, none_word]}}},
        "description": "DDG §5 imprint. All fields are required; register_number and vat_id may be the word \"none\"."},
    "Audit": {"type": "object", "additionalProperties": False, "required": ["imprint", "website", "list_origins", "consent_collection", "expected_monthly_volume"], "properties": {
        "imprint": ref("Imprint"), "website": said(10000), "list_origins": said(10000), "consent_collection": said(10000),
        "expected_monthly_volume": {"type": "integer", "minimum": 0}}},
    "CreateToken": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 100}, "role": {"type": ["string", "null"], "enum": ["owner", "editor", "viewer", None]}}},
    "NewToken": {"type": "object", "required": ["id", "token"], "properties": {"id": {"type": "integer"},
        "token": {"type": "string", "description": "the secret, shown only in this answer"}, "name": text, "role": text}},
    "Token": {"type": "object", "properties": {"id": {"type": "integer"}, "name": text, "role": text,
        "created_at": text, "revoked_at": nullable_text}},
    "List": {"type": "object", "required": ["id", "name"], "properties": {"id": {"type": "integer"}, "name": text,
        "description": text, "created_at": text, "updated_at": text}},
    "CreateList": {"type": "object", "additionalProperties": False, "required": ["name"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200}, "description": {"type": ["string", "null"], "maxLength": 2000}}},
    "UpdateList": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 200, "description": "absent or null: unchanged"}, "description": {"type": ["string", "null"], "maxLength": 2000}}},
    "Consent": {"type": "object", "additionalProperties": False, "required": ["origin"], "properties": {
        "origin": {"type": "string", "enum": ["double_opt_in", "purchase", "business_card", "offline_form", "co_registration", "contract"],
                   "description": "Forbidden origins (purchased_list, scraped, single_opt_in, verbal, b2b_without_consent, third_party, membership, social_network) are refused with 422 and an explanation."},
        "evidence": {"type": ["object", "null"], "description": "purchase {order_ref, notice_text, product_category}; business_card {document_ref, permission_text}; offline_form {document_ref}; co_registration {contest_id, sponsors[≤10], sponsor_name}; contract {contract_ref, notice_text}"}}},
    "CreateContact": {"type": "object", "additionalProperties": False, "required": ["email", "list_ids", "consent"], "properties": {
        "email": address, "list_ids": {"type": "array", "minItems": 1, "maxItems": 100, "items": {"type": "integer", "format": "int64"}},
        "attributes": {"type": "object", "maxProperties": 100}, "consent": ref("Consent")}},
    "ConsentEvent": {"type": "object", "properties": {"id": {"type": ["integer", "null"], "description": "null for the consent an import declared (kept on the import, shown here)"}, "kind": text, "at": {"type": "string", "format": "date-time"},
        "list_id": {"type": ["integer", "null"]}, "source": text, "ip": nullable_text, "user_agent": nullable_text, "evidence": {}}},
    "Contact": {"type": "object", "required": ["id", "email", "status", "consent_events"], "properties": {
        "id": {"type": "integer"}, "email": text, "status": text, "attributes": {"type": "object"}, "suppressed": nullable_text,
        "subscriptions": {"type": "array", "items": {"type": "object"}},
        "consent_events": {"type": "array", "items": ref("ConsentEvent")}}},
    "CreateForm": {"type": "object", "additionalProperties": False, "required": ["name", "list_ids", "consent_text"], "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200}, "list_ids": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "integer", "format": "int64"}},
        "consent_text": {"type": "string", "minLength": 1, "maxLength": 5000}, "fields": {"type": "array", "maxItems": 20, "items": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"}},
        "language": {"type": "string", "enum": ["en", "de"]}, "success_url": {"type": ["string", "null"], "format": "uri"}, "confirm_url": {"type": ["string", "null"], "format": "uri"}}},
    "UpdateForm": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200}, "list_ids": {"type": "array", "minItems": 1, "maxItems": 20, "items": {"type": "integer", "format": "int64"}},
        "consent_text": {"type": "string", "minLength": 1, "maxLength": 5000, "description": "a changed wording creates a new version"},
        "fields": {"type": "array", "items": text}, "language": {"type": "string", "enum": ["en", "de"]},
        "success_url": {"type": ["string", "null"]}, "confirm_url": {"type": ["string", "null"]}}},
    "Form": {"type": "object", "required": ["id", "name", "list_ids", "consent_text", "version"], "properties": {
        "id": {"type": "string", "description": "public id used in /f/{id}"}, "name": text, "list_ids": {"type": "array", "items": {"type": "integer"}},
        "consent_text": text, "version": {"type": "integer"}, "fields": {"type": "array", "items": text}, "language": text,
        "success_url": nullable_text, "confirm_url": nullable_text, "url": text, "embed_url": text}},
    "Suppression": {"type": "object", "properties": {"address_hash": text, "reason": {"type": "string",
        "enum": ["unsubscribed", "hard_bounce", "soft_bounce", "complaint", "erased", "manual"]}, "created_at": text}},
    "SuppressionBody": {"type": "object", "additionalProperties": False, "required": ["email"], "properties": {
        "email": address, "reason": {"type": ["string", "null"], "enum": ["manual", None]}}},
}

paths = {
    "/healthz": {"get": op("Liveness and database reachability", ok("healthy", {"type": "object"}), "system", security=None)},
    "/metrics": {"get": {"summary": "Prometheus metrics", "tags": ["system"], "security": [],
        "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": text}}}}}},
    "/api/openapi.json": {"get": {"summary": "This document", "tags": ["system"], "security": [],
        "responses": {"200": {"description": "OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}}}},
    "/api/v1/accounts": {
        "post": op("Create an account (operator); it starts in pending_audit", ok("created", ref("Account"), "201"), "operator", body(ref("CreateAccount")), extra_errors=("409",)),
        "get": op("List accounts (operator)", ok("accounts", {"type": "object", "properties": {"accounts": {"type": "array", "items": ref("Account")}}}), "operator")},
    "/api/v1/accounts/{id}": {"get": op("An account with imprint, audit and history (operator)", ok("account", ref("Account")), "operator", params=ID("account"), extra_errors=("404",))},
    **{f"/api/v1/accounts/{{id}}/{a}": {"post": op(f"{a.capitalize()} an account (operator); reject and suspend need a reason", ok("account", ref("Account")), "operator",
        body(ref("Decision"), False) if a == "activate" else body(ref("ReasonedDecision")), ID("account"), extra_errors=("404", "409"))} for a in ["activate", "reject", "suspend"]},
    "/api/v1/accounts/{id}/tokens": {"post": op("Create a token for an account (operator bootstrap)", ok("created", ref("NewToken"), "201"), "operator", body(ref("CreateToken"), False), ID("account"), extra_errors=("404",))},
    "/api/v1/account": {"get": op("The calling account", ok("account", ref("Account")), "account")},
    "/api/v1/account/audit": {"put": op("Submit the audit with the DDG §5 imprint", ok("account", ref("Account")), "account", body(ref("Audit")), extra_errors=("409",))},
    "/api/v1/account/tokens": {
        "post": op("Create a token (owner)", ok("created", ref("NewToken"), "201"), "account", body(ref("CreateToken"), False)),
        "get": op("List the account's tokens", ok("tokens", {"type": "object", "properties": {"tokens": {"type": "array", "items": ref("Token")}}}), "account")},
    "/api/v1/account/tokens/{id}": {"delete": op("Revoke a token (owner)", {"204": {"description": "revoked"}}, "account", params=ID("token"), extra_errors=("404",))},
    "/api/v1/lists": {
        "post": op("Create a list", ok("created", ref("List"), "201"), "lists", body(ref("CreateList"))),
        "get": op("The account's lists", ok("lists", {"type": "object", "properties": {"lists": {"type": "array", "items": ref("List")}}}), "lists")},
    "/api/v1/lists/{id}": {
        "get": op("One list", ok("list", ref("List")), "lists", params=ID("list"), extra_errors=("404",)),
        "patch": op("Change a list", ok("list", ref("List")), "lists", body(ref("UpdateList")), ID("list"), extra_errors=("404",)),
        "delete": op("Delete a list (its consent events stay)", {"204": {"description": "deleted"}}, "lists", params=ID("list"), extra_errors=("404",))},
    "/api/v1/contacts": {
        "post": op("Add a contact with declared consent (active accounts only)", {**ok("created", ref("Contact"), "201"), **ok("already known; merged", ref("Contact"))}, "contacts", body(ref("CreateContact")), extra_errors=("409",)),
        "get": op("Find a contact by ?email= or page through contacts (?after=&limit=)", ok("contacts", {"type": "object", "properties": {"contacts": {"type": "array", "items": ref("Contact")}, "next_after": {"type": ["integer", "null"]}}}), "contacts",
            params=[{"name": "email", "in": "query", "schema": address}, {"name": "after", "in": "query", "schema": {"type": "integer", "format": "int64"}}, limit(100, 1000)])},
    "/api/v1/contacts/{id}": {
        "get": op("A contact with subscriptions and the full consent history", ok("contact", ref("Contact")), "contacts", params=ID("contact"), extra_errors=("404",)),
        "delete": op("Erase a contact (keeps a hashed suppression entry and the consent proof)", {"204": {"description": "erased"}}, "contacts", params=ID("contact"), extra_errors=("404",))},
    "/api/v1/contacts/{id}/export": {"get": op("Everything stored about a contact, with consent proof", ok("contact", ref("Contact")), "contacts", params=ID("contact"), extra_errors=("404",))},
    "/api/v1/forms": {
        "post": op("Create a sign-up form", ok("created", ref("Form"), "201"), "forms", body(ref("CreateForm"))),
        "get": op("The account's forms", ok("forms", {"type": "object", "properties": {"forms": {"type": "array", "items": ref("Form")}}}), "forms")},
    "/api/v1/forms/{id}": {
        "get": op("One form", ok("form", ref("Form")), "forms", params=[{"name": "id", "in": "path", "required": True, "schema": text}], extra_errors=("404",)),
        "patch": op("Change a form", ok("form", ref("Form")), "forms", body(ref("UpdateForm")), [{"name": "id", "in": "path", "required": True, "schema": text}], extra_errors=("404",))},
    "/api/v1/suppressions": {
        "get": op("The suppression list (?email= checks one address)", ok("suppressions", {"type": "object", "properties": {"suppressions": {"type": "array", "items": ref("Suppression")}}}), "suppressions",
            params=[{"name": "email", "in": "query", "schema": address}, limit(1000, 10000)]),
        "post": op("Suppress an address by hand", {**ok("created", ref("Suppression"), "201"), **ok("already suppressed", ref("Suppression"))}, "suppressions", body(ref("SuppressionBody"))),
        "delete": op("Lift a manual or soft-bounce suppression (others are permanent: 409)", {"204": {"description": "lifted"}}, "suppressions", body(ref("SuppressionBody")), extra_errors=("404", "409"))},
}
imp = {"type": "object", "required": ["id", "status", "counts"], "properties": {
    "id": {"type": "integer"}, "status": {"type": "string", "enum": ["pending_review", "running", "completed", "failed", "rejected"]},
    "review": {"type": "string", "enum": ["not_required", "pending", "approved", "rejected"]}, "review_reason": nullable_text,
    "decision_reason": nullable_text, "list_id": {"type": "integer"}, "origin": nullable_text, "evidence": {},
    "counts": {"type": "object", "properties": {k: {"type": "integer"} for k in ["rows", "imported", "merged", "rejected", "risky"]}},
    "progress": {"type": "object", "properties": {"done": {"type": "boolean"}, "fraction": {"type": "number"}, "rows_per_sec": {"type": "number"}, "eta_secs": {"type": ["number", "null"]}}},
    "error": nullable_text, "rejections": {"type": "array", "items": {"type": "object", "properties": {"line": {"type": "integer"}, "address": text, "reason": text}}}}}
schemas["Import"] = imp
upload = {"required": True, "content": {"multipart/form-data": {"schema": {"type": "object", "required": ["file", "list_id"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "CSV with an email column; UTF-8 (BOM optional) or Windows-1252; , ; or tab; up to the configured size (default 1 GiB)"},
    "list_id": {"type": "integer"}, "origin": {"type": "string", "description": "consent origin of the whole file"},
    "evidence": {"type": "string", "description": "JSON object with the origin's evidence"},
    "origin_column": {"type": "string", "description": "column holding each row's origin (instead of origin)"},
    "evidence_columns": {"type": "string", "description": "JSON: evidence field → column"},
    "mapping": {"type": "string", "description": "JSON: header renames, e.g. {\"E-Mail\": \"email\"}"},
    "encoding": {"type": "string", "enum": ["auto", "utf-8", "windows-1252", "latin1"]}, "delimiter": {"type": "string", "enum": [",", ";", "tab"]}}}}}}
paths.update({
    "/api/v1/imports": {
        "post": op("Upload a CSV import with declared consent (active accounts)", ok("accepted", ref("Import"), "202"), "imports", upload),
        "get": op("The account's imports", ok("imports", {"type": "object", "properties": {"imports": {"type": "array", "items": ref("Import")}}}), "imports")},
    "/api/v1/imports/{id}": {"get": op("Status, counts, progress and rejected rows", ok("import", ref("Import")), "imports", params=ID("import"), extra_errors=("404",))},
    "/api/v1/imports/{id}/report": {"get": {"summary": "Rejected rows as CSV (line,address,reason)", "tags": ["imports"], "parameters": ID("import"),
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": text}}}, "401": err("unauthorized"), "403": err("not an account token"), "404": err("not found")}}},
    "/api/v1/imports/{id}/approve": {"post": op("Approve an import in review (operator)", ok("import", ref("Import")), "operator", body(ref("Decision"), False), ID("import"), extra_errors=("404", "409"))},
    "/api/v1/imports/{id}/reject": {"post": op("Reject an import in review (operator; reason required; removes its new contacts)", ok("import", ref("Import")), "operator", body(ref("ReasonedDecision")), ID("import"), extra_errors=("404", "409"))},
    "/api/v1/operator/imports": {"get": op("Imports waiting for review (operator)", ok("imports", {"type": "object", "properties": {"imports": {"type": "array", "items": ref("Import")}}}), "operator",
        params=[limit(100, 1000)])},
})
schemas["SenderDomain"] = {"type": "object", "required": ["id", "domain", "verified", "records"], "properties": {
    "id": {"type": "integer"}, "domain": text, "verified": {"type": "boolean"}, "verified_at": nullable_text, "verified_by": nullable_text,
    "records": {"type": "array", "items": {"type": "object", "properties": {"type": {"type": "string", "enum": ["TXT", "MX", "CNAME"]}, "name": text, "value": text, "purpose": text}}},
    "last_check": {}}}
schemas["CampaignBody"] = {"type": "object", "additionalProperties": False, "required": ["name", "subject", "from_email", "list_ids", "html"], "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 200}, "subject": text, "from_email": address, "from_name": text, "reply_to": {"anyOf": [address, {"type": "null"}, {"type": "string", "maxLength": 0}]},
    "list_ids": {"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "integer", "format": "int64"}}, "html": text, "text": nullable_text,
    "product_category": {"type": ["string", "null"], "description": "the campaign advertises this product category (purchase-origin contacts of it receive it)"}}}
counts = {"type": "object", "description": "Deliveries by state; once a campaign is cancelled, what was still queued or deferred counts as cancelled.", "properties": {k: {"type": "integer"} for k in ["total", "queued", "sent", "deferred", "bounced", "failed", "skipped", "cancelled"]}}
schemas["Campaign"] = {"type": "object", "required": ["id", "status", "counts"], "properties": {
    "id": {"type": "integer"}, "name": text, "subject": text, "from_email": text, "list_ids": {"type": "array", "items": {"type": "integer"}},
    "status": {"type": "string", "enum": ["draft", "scheduled", "sending", "paused", "sent", "cancelled"]},
    "acceptance": {"type": ["object", "null"]}, "audience": {"type": "object", "description": "Before the start: eligible contacts and the count per exclusion reason. Once the campaign has started: {eligible: recipients queued so far, snapshot: true, complete: whether the whole audience is queued}."}, "counts": counts,
    "reports": {"type": "object", "description": "What came back, each recipient once per kind: bounces by class (from the SMTP dialogue and from DSNs), complaints and unsubscribes.",
        "properties": {k: {"type": "integer"} for k in ["hard", "soft", "policy", "complaint", "unsubscribe"]}}}}
preflight = {"type": "object", "required": ["ok", "failures"], "properties": {"ok": {"type": "boolean"}, "failures": {"type": "array", "items": {"type": "object", "properties": {"code": text, "message": text}}}}}
send_body = body({"type": "object", "additionalProperties": False, "required": ["accept_guidelines", "guidelines_version"], "properties": {
    "accept_guidelines": {"type": "boolean", "const": True}, "guidelines_version": text, "send_at": {"type": "string", "format": "date-time"}}})
cid = ID("campaign")
paths.update({
    "/api/v1/guidelines": {"get": {"summary": "The anti-spam guidelines accepted before each send", "tags": ["campaigns"], "security": [],
        "responses": {"200": {"description": "guidelines", "content": {"application/json": {"schema": {"type": "object", "properties": {"version": text, "text": text}}}}}}}},
    "/api/v1/sender-domains": {
        "post": op("Add a sender domain: generates RSA-2048 and Ed25519 DKIM keys and returns the DNS records to publish", ok("created", ref("SenderDomain"), "201"), "sender-domains",
            body({"type": "object", "additionalProperties": False, "required": ["domain"], "properties": {"domain": {"type": "string", "minLength": 3, "maxLength": 243, "pattern": f"^{domain_pattern}\\.?$"}}}), extra_errors=("409",)),
        "get": op("The account's sender domains", ok("domains", {"type": "object", "properties": {"sender_domains": {"type": "array", "items": ref("SenderDomain")}}}), "sender-domains")},
    "/api/v1/sender-domains/{id}": {"get": op("One sender domain", ok("domain", ref("SenderDomain")), "sender-domains", params=ID("sender domain"), extra_errors=("404",))},
    "/api/v1/sender-domains/{id}/verify": {"post": op("Check the DNS records (the operator may verify by hand with force + reason)", ok("domain", ref("SenderDomain")), "sender-domains",
        body({"type": "object", "additionalProperties": False, "properties": {"force": {"type": "boolean"}, "reason": {"type": ["string", "null"], "maxLength": 2000}},
            "if": {"required": ["force"], "properties": {"force": {"const": True}}}, "then": {"required": ["reason"], "properties": {"reason": said(2000)}}}, False), ID("sender domain"), extra_errors=("404",))},
    "/api/v1/campaigns": {
        "post": op("Create a campaign draft (templates are checked and CSS-inlined)", ok("created", ref("Campaign"), "201"), "campaigns", body(ref("CampaignBody"))),
        "get": op("The account's campaigns", ok("campaigns", {"type": "object", "properties": {"campaigns": {"type": "array", "items": ref("Campaign")}}}), "campaigns")},
    "/api/v1/campaigns/{id}": {
        "get": op("A campaign with audience, progress counts and history", ok("campaign", ref("Campaign")), "campaigns", params=cid, extra_errors=("404",)),
        "patch": op("Change a draft or scheduled campaign (a scheduled one returns to draft)", ok("campaign", ref("Campaign")), "campaigns", body(ref("CampaignBody")), cid, extra_errors=("404", "409"))},
    "/api/v1/campaigns/{id}/preflight": {"post": op("The compliance report: every failed rule with a message", ok("report", preflight), "campaigns", params=cid, extra_errors=("404",))},
    "/api/v1/campaigns/{id}/test": {"post": op("Test send to the account's own addresses", ok("sent", {"type": "object"}), "campaigns",
        body({"type": "object", "additionalProperties": False, "required": ["emails"], "properties": {"emails": {"type": "array", "minItems": 1, "maxItems": 10, "items": address}}}), cid, extra_errors=("404", "502", "503"))},
    "/api/v1/campaigns/{id}/send": {"post": op("Send (or schedule with send_at) after accepting the current guidelines; 422 with the preflight failures while any remain", ok("scheduled", ref("Campaign"), "202"), "campaigns", send_body, cid, extra_errors=("404", "409"))},
    **{f"/api/v1/campaigns/{{id}}/{a}": {"post": op(f"{a.capitalize()} a campaign", ok("campaign", ref("Campaign")), "campaigns", params=cid, extra_errors=("404", "409"))} for a in ["pause", "resume", "cancel"]},
})
num = {"type": "number"}
rates = {"type": "object", "properties": {**{k: {"type": "integer"} for k in ["sent", "attempted", "hard_bounces", "soft_bounces", "policy_bounces", "complaints", "unsubscribes"]},
    **{k: num for k in ["hard_bounce_rate", "bounce_rate", "complaint_rate", "unsubscribe_rate"]}, "enough_sample": {"type": "boolean"}}}
schemas["ReputationThresholds"] = {"type": "object", "properties": {"window_days": {"type": "integer"}, "min_sample": {"type": "integer", "description": "messages a rate needs before it is acted on"},
    "complaint_flag_rate": num, "complaint_suspend_rate": num, "hard_bounce_pause_rate": num}}
schemas["Reputation"] = {"type": "object", "required": ["account_id", "rates", "campaigns", "flags", "flagged", "thresholds"], "properties": {
    "account_id": {"type": "integer"}, "name": text, "status": text, "window_days": {"type": "integer"}, "rates": rates,
    "campaigns": {"type": "array", "items": {"type": "object", "properties": {"campaign_id": {"type": "integer"}, "name": text, "status": text, "rates": rates, "flags": {"type": "array", "items": text}}}},
    "flags": {"type": "array", "items": {"type": "object", "properties": {"campaign_id": {"type": ["integer", "null"]}, "kind": text, "detail": {}, "at": {"type": "string", "format": "date-time"}}}},
    "flagged": {"type": "boolean"}, "thresholds": ref("ReputationThresholds"), "evaluated_at": {"type": "string", "format": "date-time"}}}
paths.update({
    "/api/v1/reputation": {"get": op("The account's bounce, complaint and unsubscribe rates (per campaign and over the rolling window) with the thresholds and the monitor's flags", ok("reputation", ref("Reputation")), "reputation")},
    "/api/v1/operator/reputation": {"get": op("All accounts' reputation, flagged first, with recent operator alerts (operator)", ok("overview", {"type": "object", "properties": {
        "accounts": {"type": "array", "items": ref("Reputation")}, "flagged": {"type": "integer"}, "thresholds": ref("ReputationThresholds"),
        "alerts": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "action": text, "target": text, "detail": {}, "at": {"type": "string", "format": "date-time"}}}}}}), "operator")},
})
html = lambda d: {"description": d, "content": {"text/html": {"schema": text}}}
# The sign-up form answers JSON to JSON.
page_or_json = lambda d, schema=None: {"description": d, "content": {"text/html": {"schema": text}, "application/json": {"schema": schema or ref("Error")}}}
token = [{"name": "token", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 128}}]
formid = [{"name": "form", "in": "path", "required": True, "schema": text}]
fields = {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}, "multipart/form-data": {"schema": {"type": "object"}}, "application/json": {"schema": {"type": "object"}}}}
paths.update({
    "/f/{form}": {
        "get": {"summary": "Hosted sign-up form", "tags": ["public"], "security": [], "parameters": formid, "responses": {"200": html("form page"), "404": html("unknown form")}},
        "post": {"summary": "Submit a sign-up (email, consent=yes, form fields); never reveals whether an address is known", "tags": ["public"], "security": [], "parameters": formid,
                 "requestBody": fields, "description": "A JSON body (or `Accept: application/json`) gets JSON answers: {status, message} or an Error.",
                 "responses": {"200": page_or_json("check your inbox", {"type": "object", "properties": {"status": text, "message": text}}), "303": {"description": "to the form's success_url"},
                               "400": page_or_json("a body that cannot be read"), "404": html("unknown form"), "413": page_or_json("too large"),
                               "422": page_or_json("invalid address or missing consent"), "429": page_or_json("rate limited")}}},
    "/f/{form}/embed": {"get": {"summary": "Embeddable HTML form snippet", "tags": ["public"], "security": [], "parameters": formid, "responses": {"200": html("snippet"), "404": {"description": "unknown form"}}}},
    "/c/{token}": {
        "get": {"summary": "Confirmation page (confirms through its own POST; a GET alone never confirms)", "tags": ["public"], "security": [], "parameters": token, "responses": {"200": html("page"), "404": html("invalid link"), "410": html("expired")}},
        "post": {"summary": "Confirm a double opt-in", "tags": ["public"], "security": [], "parameters": token, "responses": {"200": html("confirmed"), "303": {"description": "to the form's confirm_url"}, "404": html("invalid link"), "410": html("expired")}}},
    "/u/{token}": {
        "get": {"summary": "Unsubscribe page with one button (never unsubscribes)", "tags": ["public"], "security": [], "parameters": token, "responses": {"200": html("page"), "404": html("invalid link")}},
        "post": {"summary": "One-click unsubscribe (RFC 8058: body List-Unsubscribe=One-Click); 200, never a redirect", "tags": ["public"], "security": [], "parameters": token, "requestBody": fields, "responses": {"200": html("unsubscribed"), "404": html("invalid link")}}},
    "/p/{token}": {
        "get": {"summary": "Preference page", "tags": ["public"], "security": [], "parameters": token, "responses": {"200": html("page"), "404": html("invalid link")}},
        "post": {"summary": "action=save (list=…), export (JSON download) or erase (confirm=yes)", "tags": ["public"], "security": [], "parameters": token, "requestBody": fields, "responses": {"200": {"description": "page or JSON export"}, "404": html("invalid link")}}},
})
paths_end = None

doc = {"openapi": "3.1.0",
       "info": {"title": "Assent API", "version": "1", "description": "Email distribution that only mails people who provably agreed."},
       "servers": [{"url": "/"}],
       "security": [{"bearer": []}],
       "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}, "schemas": schemas},
       "paths": paths}
out = pathlib.Path(__file__).resolve().parent.parent / "crates/web/openapi.json"
out.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
print(f"wrote {out}")
