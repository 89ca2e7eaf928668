-- Sign-up forms, double opt-in confirmations and the outgoing mail queue.

CREATE TABLE forms (
    id              BIGSERIAL PRIMARY KEY,
    public_id       TEXT NOT NULL UNIQUE,
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    name            TEXT NOT NULL,
    list_ids        TEXT NOT NULL,
    fields          TEXT NOT NULL DEFAULT '[]',
    language        TEXT NOT NULL DEFAULT 'en',
    success_url     TEXT,
    confirm_url     TEXT,
    current_version BIGINT NOT NULL DEFAULT 1,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    deleted_at      BIGINT
);
CREATE INDEX forms_account ON forms (account_id, id);

-- Every consent wording a form ever showed; a consent record points to the
-- version the person saw. Never updated.
CREATE TABLE form_versions (
    form_id      BIGINT NOT NULL REFERENCES forms(id),
    version      BIGINT NOT NULL,
    consent_text TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (form_id, version)
);

-- A pending double opt-in: what was requested, by whom, and whether the
-- link was used. The token in the mail names this row (encrypted) and its
-- nonce; used_at makes it single-use.
CREATE TABLE confirmations (
    id           BIGSERIAL PRIMARY KEY,
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    contact_id   BIGINT NOT NULL REFERENCES contacts(id),
    form_id      BIGINT REFERENCES forms(id),
    form_version BIGINT,
    consent_text TEXT NOT NULL,
    source       TEXT NOT NULL,
    language     TEXT NOT NULL DEFAULT 'en',
    list_ids     TEXT NOT NULL,
    nonce        BIGINT NOT NULL,
    requested_at BIGINT NOT NULL,
    request_ip   TEXT,
    user_agent   TEXT,
    sent_at      BIGINT,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);
CREATE INDEX confirmations_contact ON confirmations (account_id, contact_id, id);
CREATE INDEX confirmations_expiry ON confirmations (expires_at) WHERE used_at IS NULL;

-- Outgoing transactional mail (confirmations). Rows are written in the
-- same transaction as what caused them, so a crash loses none; the mail
-- itself is rendered at delivery.
CREATE TABLE mail_queue (
    id              BIGSERIAL PRIMARY KEY,
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    kind            TEXT NOT NULL,
    ref_id          BIGINT NOT NULL,
    recipient       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    sent_at         BIGINT,
    last_error      TEXT
);
CREATE INDEX mail_queue_due ON mail_queue (next_attempt_at) WHERE sent_at IS NULL;

CREATE INDEX subscriptions_pending ON subscriptions (status, updated_at);

-- Installation-wide values that must be the same in every process (e.g.
-- the secret that seals link tokens), created once.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
