//! Progress counts of sending campaigns, shared by every request that
//! shows them.
//!
//! Counting reads one index entry per recipient: about 0.2 s of database
//! work at a million recipients. Every progress page, dashboard and API
//! poller asks about once a second while a campaign sends, and each count
//! competes with the sending for the same cores. So the counts of a sending
//! campaign are reused for [`REUSE_FACTOR`] times as long as counting them
//! took (at most [`MAX_AGE`]): counting then takes at most a twentieth of
//! the time however many ask, a small campaign (a count of a millisecond)
//! still shows its progress live, and a million-recipient one is at most
//! about 4 s behind. A campaign that is not sending (its counts no longer
//! change, or change rarely) is counted when asked.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use assent_domain::AccountId;
use assent_store::{DeliveryCounts, Store};

/// Counts are reused for this many times the time counting took.
pub const REUSE_FACTOR: u32 = 20;
/// The oldest counts of a sending campaign shown, however slow the count.
pub const MAX_AGE: Duration = Duration::from_secs(5);

/// When counts were taken, how long that took, and the counts.
struct Counted {
    at: Instant,
    took: Duration,
    counts: DeliveryCounts,
}

#[derive(Default)]
pub struct ProgressCounts {
    counted: Mutex<HashMap<i64, Counted>>,
}

impl ProgressCounts {
    /// The campaign's delivery counts: recent while `sending` (see the
    /// module), exact otherwise.
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
        let started = Instant::now();
        let counts = count.await?;
        let mut counted = self.counted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if sending {
            let now = Instant::now();
            // Campaigns that stopped sending without being asked again.
            counted.retain(|_, c| now.duration_since(c.at) < MAX_AGE * 10);
            counted.insert(campaign, Counted { at: now, took: now - started, counts });
        } else {
            counted.remove(&campaign);
        }
        Ok(counts)
    }

    fn fresh(&self, campaign: i64) -> Option<DeliveryCounts> {
        let counted = self.counted.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        counted.get(&campaign).filter(|c| c.at.elapsed() < (c.took * REUSE_FACTOR).min(MAX_AGE)).map(|c| c.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(n: i64) -> DeliveryCounts {
        DeliveryCounts { total: 10, sent: n, queued: 10 - n, ..DeliveryCounts::default() }
    }

    /// Asks with a count that takes 10 ms (reused for 200 ms).
    async fn ask(p: &ProgressCounts, campaign: i64, sending: bool, n: i64) -> DeliveryCounts {
        let count = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, ()>(sent(n))
        };
        p.get_or_count(campaign, sending, count).await.expect("counts")
    }

    #[tokio::test]
    async fn sending_campaigns_reuse_counts_for_a_multiple_of_the_counting_time() {
        let p = ProgressCounts::default();
        assert_eq!(ask(&p, 1, true, 1).await, sent(1));
        // Shortly after, the first count is served; other campaigns count.
        assert_eq!(ask(&p, 1, true, 2).await, sent(1));
        assert_eq!(ask(&p, 2, true, 7).await, sent(7));
        // Once it no longer sends, every answer is exact and nothing is kept.
        assert_eq!(ask(&p, 1, false, 3).await, sent(3));
        assert_eq!(ask(&p, 1, true, 4).await, sent(4));
        // An expired entry is counted again.
        p.counted.lock().expect("lock").get_mut(&1).expect("entry").at -= MAX_AGE;
        assert_eq!(ask(&p, 1, true, 5).await, sent(5));
        // A count that takes no time is never reused.
        let instant = |n| p.get_or_count(4, true, async move { Ok::<_, ()>(sent(n)) });
        assert_eq!(instant(1).await, Ok(sent(1)));
        p.counted.lock().expect("lock").get_mut(&4).expect("entry").took = Duration::ZERO;
        assert_eq!(instant(2).await, Ok(sent(2)));
        // A failed count is reported and caches nothing.
        let err = p.get_or_count(3, true, async { Err::<DeliveryCounts, _>("down") }).await;
        assert_eq!(err, Err("down"));
        assert_eq!(ask(&p, 3, true, 6).await, sent(6));
    }
}
