-- Only unconfirmed sign-ups are ever looked up by age (to purge them), so
-- only they are indexed: confirmed subscriptions — every imported row —
-- no longer cost an index entry each.
DROP INDEX subscriptions_pending;
CREATE INDEX subscriptions_pending ON subscriptions (updated_at) WHERE status = 'pending';
