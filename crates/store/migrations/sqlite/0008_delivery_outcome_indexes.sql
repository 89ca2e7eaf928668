-- Recording an outcome moves a delivery from queued to sent, and the index
-- on (campaign_id, status, next_attempt_at) moved its entry with it: a
-- delete and an insert in one more B-tree per recipient on the sending
-- path. Sent deliveries, the bulk of them, are now left out: they only
-- leave this index. Sent counts are the total (primary key) minus these.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_unsent ON deliveries (campaign_id, status, contact_id) WHERE status <> 'sent';
-- Never written or read: links carry signed tokens, not stored ones.
DROP INDEX deliveries_token;
ALTER TABLE deliveries DROP COLUMN token;
