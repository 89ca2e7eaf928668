-- What came back after sending (issue 7): bounces, complaints and mailto
-- unsubscribes per campaign and contact, for the soft-bounce rule and the
-- reputation monitor; and the monitor's flags.

CREATE TABLE report_events (
    id          BIGSERIAL PRIMARY KEY,
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    campaign_id BIGINT REFERENCES campaigns(id),
    contact_id  BIGINT REFERENCES contacts(id),
    kind        TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'policy', 'complaint', 'unsubscribe')),
    -- dsn, arf, mailto, smtp (a synchronous rejection), …
    source      TEXT NOT NULL,
    status      TEXT,
    reason      TEXT,
    detail      TEXT NOT NULL DEFAULT '{}',
    at          BIGINT NOT NULL
);
-- A report repeated (the same DSN delivered twice, an FBL resending) counts
-- once: one event per campaign, contact and kind.
CREATE UNIQUE INDEX report_events_once ON report_events (campaign_id, contact_id, kind);
CREATE INDEX report_events_contact ON report_events (account_id, contact_id, kind, at);
CREATE INDEX report_events_account ON report_events (account_id, at);

-- Flags the reputation monitor raised: account-wide (campaign_id 0) or per
-- campaign. A campaign the monitor paused is not paused again for the same
-- reason once its sender resumed it.
CREATE TABLE reputation_flags (
    account_id  BIGINT NOT NULL REFERENCES accounts(id),
    campaign_id BIGINT NOT NULL DEFAULT 0,
    kind        TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '{}',
    at          BIGINT NOT NULL,
    PRIMARY KEY (account_id, campaign_id, kind)
);
