-- Contact imports: the declared consent, the operator's review, progress
-- for resuming after a crash, and the per-row rejection report.

CREATE TABLE imports (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id         BIGINT NOT NULL REFERENCES accounts(id),
    list_id            BIGINT NOT NULL REFERENCES lists(id),
    status             TEXT NOT NULL CHECK (status IN ('pending_review', 'running', 'completed', 'failed', 'rejected')),
    review             TEXT NOT NULL CHECK (review IN ('not_required', 'pending', 'approved', 'rejected')),
    review_reason      TEXT,
    decision_reason    TEXT,
    origin             TEXT,
    evidence           TEXT NOT NULL DEFAULT '{}',
    options            TEXT NOT NULL DEFAULT '{}',
    file_path          TEXT NOT NULL,
    file_name          TEXT NOT NULL DEFAULT '',
    file_size          BIGINT NOT NULL,
    processed          BIGINT NOT NULL DEFAULT 0,
    byte_offset        BIGINT NOT NULL DEFAULT 0,
    line               BIGINT NOT NULL DEFAULT 0,
    rows_done          BIGINT NOT NULL DEFAULT 0,
    imported           BIGINT NOT NULL DEFAULT 0,
    merged             BIGINT NOT NULL DEFAULT 0,
    rejected           BIGINT NOT NULL DEFAULT 0,
    risky              BIGINT NOT NULL DEFAULT 0,
    created_by         TEXT NOT NULL,
    ip                 TEXT,
    error              TEXT,
    lease_until        BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    started_at         BIGINT,
    finished_at        BIGINT,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX imports_account ON imports (account_id, id);
CREATE INDEX imports_unfinished ON imports (processed) WHERE processed = 0;

CREATE TABLE import_rejections (
    import_id BIGINT NOT NULL REFERENCES imports(id),
    line      BIGINT NOT NULL,
    address   TEXT NOT NULL,
    reason    TEXT NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- Which import created a contact / a subscription: an import that is not
-- (yet) approved makes its subscriptions unmailable, and rejecting it
-- removes the contacts it created.
ALTER TABLE contacts ADD COLUMN import_id BIGINT REFERENCES imports(id);
ALTER TABLE subscriptions ADD COLUMN import_id BIGINT REFERENCES imports(id);
-- No index on import_id: only rejecting an import looks rows up by it, and
-- an index would cost every imported row a second write.
