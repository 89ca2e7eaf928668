-- Sender domains with their DKIM keys, campaigns, and the delivery queue.

CREATE TABLE sender_domains (
    id            BIGSERIAL PRIMARY KEY,
    account_id    BIGINT NOT NULL REFERENCES accounts(id),
    domain        TEXT NOT NULL,
    selector      TEXT NOT NULL,
    -- PKCS#8 private keys sealed with the installation's key (never clear).
    rsa_key       TEXT NOT NULL,
    ed25519_key   TEXT NOT NULL,
    records       TEXT NOT NULL,
    verified_at   BIGINT,
    verified_by   TEXT,
    last_check    TEXT,
    created_at    BIGINT NOT NULL,
    UNIQUE (account_id, domain)
);

CREATE TABLE campaigns (
    id                 BIGSERIAL PRIMARY KEY,
    account_id         BIGINT NOT NULL REFERENCES accounts(id),
    name               TEXT NOT NULL,
    subject            TEXT NOT NULL,
    from_email         TEXT NOT NULL,
    from_name          TEXT NOT NULL DEFAULT '',
    reply_to           TEXT,
    list_ids           TEXT NOT NULL,
    filter             TEXT NOT NULL DEFAULT '{}',
    html               TEXT NOT NULL,
    text               TEXT,
    html_inlined       TEXT NOT NULL,
    product_category   TEXT,
    status             TEXT NOT NULL CHECK (status IN ('draft', 'scheduled', 'sending', 'paused', 'sent', 'cancelled')),
    scheduled_at       BIGINT,
    accepted_by        TEXT,
    accepted_at        BIGINT,
    accepted_ip        TEXT,
    guidelines_version TEXT,
    started_at         BIGINT,
    finished_at        BIGINT,
    pause_reason       TEXT,
    -- Fan-out progress: contacts up to this id are queued; a restart
    -- continues after it.
    fanout_after       BIGINT NOT NULL DEFAULT 0,
    fanout_done        BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX campaigns_account ON campaigns (account_id, id);
CREATE INDEX campaigns_due ON campaigns (status, scheduled_at);

-- One row per campaign and contact: a recipient can never be queued twice.
CREATE TABLE deliveries (
    campaign_id     BIGINT NOT NULL REFERENCES campaigns(id),
    contact_id      BIGINT NOT NULL REFERENCES contacts(id),
    account_id      BIGINT NOT NULL REFERENCES accounts(id),
    list_id         BIGINT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'deferred', 'bounced', 'failed', 'skipped')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    lease_until     BIGINT NOT NULL DEFAULT 0,
    -- Who holds the lease: a worker renews only its own, and records
    -- outcomes only for rows it still holds.
    lease_owner     TEXT,
    domain          TEXT NOT NULL DEFAULT '',
    token           TEXT,
    last_reply      TEXT,
    sent_at         BIGINT,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX deliveries_due ON deliveries (campaign_id, status, next_attempt_at);
CREATE INDEX deliveries_token ON deliveries (token);

-- The suppression key of each contact's address, so an audience can be
-- matched against the suppression list in the database (looked up from the
-- contact side through the suppressions' primary key: no index needed here,
-- and none to slow down every import).
ALTER TABLE contacts ADD COLUMN address_hash TEXT;
-- The product category of purchase-origin consent (UWG §7(3): only similar
-- products may be advertised).
ALTER TABLE subscriptions ADD COLUMN category TEXT;
