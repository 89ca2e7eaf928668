//! Progress counts of sending campaigns, shared by every request that
//! shows them.
//!
//! Counting reads one index entry per recipient: about 0.2 s of database
//! work at a million recipients. Every progress page, dashboard and API
//! poller asks about once a second while a campaign sends, and each count
//! competes with the sending for the same cores. So a sending campaign is
//! recounted at most every [`MAX_AGE`]; a campaign that is not sending (its
//! counts no longer change, or change rarely) is counted when asked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use assent_domain::AccountId;
use assent_store::{DeliveryCounts, Store};

/// How old the counts of a sending campaign may be.
pub const MAX_AGE: Duration = Duration::from_secs(3);

#[derive(Default)]
pub struct ProgressCounts {
    counted: Mutex<HashMap<i64, (Instant, DeliveryCounts)>>,
}

impl ProgressCounts {
    /// The campaign's delivery counts: at most [`MAX_AGE`] old while
    /// `sending`, exact otherwise.
    pub async fn get(
        &self,
        store: &dyn Store,
        account: AccountId,
        campaign: i64,
        sending: bool,
    ) -> assent_store::Result<DeliveryCounts> {
        self.get_or_count(campaign, sending, store.delivery_counts(account, campaign)).await
    }

    /// [`ProgressCounts::get`] with the count given as a future, which runs
    /// only when the counts are needed.
    async fn get_or_count<E>(
        &self,
        campaign: i64,
        sending: bool,
        count: impl Future<Output = Result<DeliveryCounts, E>>,
    ) -> Result<DeliveryCounts, E> {
        if sending && let Some(counts) = self.fresh(campaign) {
            return Ok(counts);
        }
        // Concurrent pollers of the same campaign may each count once when
        // the entry expires; that is bounded by the pollers, not the rate.
        let counts = count.await?;
        let mut counted = self.counted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if sending {
            let now = Instant::now();
            // Campaigns that stopped sending without being asked again.
            counted.retain(|_, (at, _)| now.duration_since(*at) < MAX_AGE * 10);
            counted.insert(campaign, (now, counts));
        } else {
            counted.remove(&campaign);
        }
        Ok(counts)
    }

    fn fresh(&self, campaign: i64) -> Option<DeliveryCounts> {
        let counted = self.counted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counted.get(&campaign).filter(|(at, _)| at.elapsed() < MAX_AGE).map(|(_, c)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(n: i64) -> DeliveryCounts {
        DeliveryCounts { total: 10, sent: n, queued: 10 - n, ..DeliveryCounts::default() }
    }

    async fn ask(p: &ProgressCounts, campaign: i64, sending: bool, n: i64) -> DeliveryCounts {
        p.get_or_count(campaign, sending, async { Ok::<_, ()>(sent(n)) }).await.expect("counts")
    }

    #[tokio::test]
    async fn sending_campaigns_are_recounted_at_most_every_max_age() {
        let p = ProgressCounts::default();
        assert_eq!(ask(&p, 1, true, 1).await, sent(1));
        // Within MAX_AGE the first count is served; other campaigns count.
        assert_eq!(ask(&p, 1, true, 2).await, sent(1));
        assert_eq!(ask(&p, 2, true, 7).await, sent(7));
        // Once it no longer sends, every answer is exact and nothing is kept.
        assert_eq!(ask(&p, 1, false, 3).await, sent(3));
        assert_eq!(ask(&p, 1, true, 4).await, sent(4));
        // An expired entry is counted again.
        p.counted.lock().expect("lock").get_mut(&1).expect("entry").0 -= MAX_AGE;
        assert_eq!(ask(&p, 1, true, 5).await, sent(5));
        // A failed count is reported and caches nothing.
        let err = p.get_or_count(3, true, async { Err::<DeliveryCounts, _>("down") }).await;
        assert_eq!(err, Err("down"));
        assert_eq!(ask(&p, 3, true, 6).await, sent(6));
    }
}
