-- Foundation schema (SQLite). Times are unix milliseconds (BIGINT) so both
-- backends share one representation; JSON is stored as TEXT.

CREATE TABLE operators (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT NOT NULL,
    owner_email   TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('pending_audit', 'active', 'rejected', 'suspended')),
    status_reason TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id    BIGINT NOT NULL REFERENCES accounts(id),
    email         TEXT NOT NULL,
    password_hash TEXT,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    created_at    BIGINT NOT NULL,
    UNIQUE (account_id, email)
);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    operator_id  BIGINT REFERENCES operators(id),
    account_id   BIGINT REFERENCES accounts(id),
    user_id      BIGINT REFERENCES users(id),
    role         TEXT NOT NULL,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    CHECK ((operator_id IS NULL) <> (account_id IS NULL))
);

CREATE TABLE imprints (
    account_id      BIGINT PRIMARY KEY REFERENCES accounts(id),
    name            TEXT NOT NULL,
    legal_form      TEXT NOT NULL,
    representative  TEXT NOT NULL,
    street          TEXT NOT NULL,
    postal_code     TEXT NOT NULL,
    city            TEXT NOT NULL,
    country         TEXT NOT NULL,
    email           TEXT NOT NULL,
    phone           TEXT NOT NULL,
    register_court  TEXT,
    register_number TEXT,
    vat_id          TEXT,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE account_audits (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id              BIGINT NOT NULL REFERENCES accounts(id),
    website                 TEXT NOT NULL,
    list_origins            TEXT NOT NULL,
    consent_collection      TEXT NOT NULL,
    expected_monthly_volume BIGINT NOT NULL,
    imprint                 TEXT NOT NULL,
    submitted_at            BIGINT NOT NULL
);
CREATE INDEX account_audits_account ON account_audits (account_id, id);

CREATE TABLE lists (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    -- Lists are deleted softly: consent events keep pointing at them.
    deleted_at  BIGINT
);
CREATE INDEX lists_account ON lists (account_id, id);

CREATE TABLE contacts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    email      TEXT NOT NULL,
    email_norm TEXT NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (account_id, email_norm)
);

CREATE TABLE subscriptions (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    contact_id BIGINT NOT NULL REFERENCES contacts(id),
    list_id    BIGINT NOT NULL REFERENCES lists(id),
    status     TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed', 'bounced', 'complained', 'erased')),
    origin     TEXT NOT NULL,
    evidence   TEXT NOT NULL DEFAULT '{}',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (contact_id, list_id)
);
CREATE INDEX subscriptions_list ON subscriptions (account_id, list_id, status);

-- Append-only: the code has no UPDATE or DELETE path, and the triggers make
-- the database refuse one too, because this table is the consent proof.
CREATE TABLE consent_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    contact_id BIGINT NOT NULL REFERENCES contacts(id),
    list_id    BIGINT REFERENCES lists(id),
    kind       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    source     TEXT NOT NULL,
    ip         TEXT,
    user_agent TEXT,
    evidence   TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX consent_events_contact ON consent_events (account_id, contact_id, id);
CREATE TRIGGER consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;
CREATE TRIGGER consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;

CREATE TABLE suppressions (
    account_id   BIGINT NOT NULL REFERENCES accounts(id),
    address_hash TEXT NOT NULL,
    reason       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (account_id, address_hash)
);

CREATE TABLE audit_log (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT REFERENCES accounts(id),
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL DEFAULT '',
    detail     TEXT NOT NULL DEFAULT '{}',
    ip         TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX audit_log_account ON audit_log (account_id, id);
