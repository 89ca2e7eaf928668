-- Housekeeping looks only for sign-ups still pending (status = 'pending',
-- by age). A partial index serves that query alone, and the subscriptions
-- an import creates (confirmed) no longer cost an entry each.
DROP INDEX subscriptions_pending;
CREATE INDEX subscriptions_pending ON subscriptions (updated_at) WHERE status = 'pending';
