-- The recipients still to send, in the order workers claim them. Without
-- it every claim walked (or sorted) all of a campaign's deliveries, sent
-- ones included: quadratic in the audience, minutes per batch at a million.
-- Partial, so it shrinks as the campaign is sent.
CREATE INDEX deliveries_pending ON deliveries (campaign_id, contact_id)
    WHERE status IN ('queued', 'deferred');

-- Fan-out pages walk a list's confirmed members in contact order from where
-- the last page ended; with contact_id in the index that is a range scan.
DROP INDEX subscriptions_list;
CREATE INDEX subscriptions_list ON subscriptions (account_id, list_id, status, contact_id);
