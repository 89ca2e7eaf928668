//! Connection pools: per relay, up to `max_connections` connections, each
//! reused for up to `max_messages` messages, idle ones kept for
//! `timeouts.idle`; and [`RelaySet`], several relays picked by weight with
//! exponential back-off of relays that fail.
//!
//! A [`Pool`] is cheap to clone and can be used from many tasks at once: a
//! semaphore caps the connections in use, idle connections wait in a list.
//! A connection that broke is dropped, never reused. Every open connection
//! is either idle or held by a task holding a permit, and a new one is
//! opened only when none is idle, so at most `max_connections` are open.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::client::SmtpConnection;
use crate::error::SmtpError;
use crate::outcome::{RecipientOutcome, SendOutcome, Stage};
use crate::relay::{Relay, RelayError};

struct Idle {
    conn: SmtpConnection,
    since: Instant,
}

struct PoolInner {
    relay: Relay,
    name: String,
    permits: Semaphore,
    idle: Mutex<Vec<Idle>>,
    opened: AtomicU64,
    messages: AtomicU64,
}

/// The connections to one relay.
#[derive(Clone)]
pub struct Pool {
    inner: Arc<PoolInner>,
}

/// A snapshot of a pool's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections opened since the pool was made.
    pub connections_opened: u64,
    /// Messages attempted (transactions started) through the pool.
    pub messages: u64,
    /// Connections open and unused right now.
    pub idle: usize,
    /// Sends in progress right now.
    pub in_use: usize,
}

/// A poisoned lock only means another task panicked while holding it; the
/// list of idle connections is still consistent (push/pop/retain).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pool {
    pub fn new(relay: Relay) -> Pool {
        let permits = Semaphore::new(relay.max_connections.max(1));
        Pool {
            inner: Arc::new(PoolInner {
                name: relay.to_string(),
                relay,
                permits,
                idle: Mutex::new(Vec::new()),
                opened: AtomicU64::new(0),
                messages: AtomicU64::new(0),
            }),
        }
    }

    pub fn relay(&self) -> &Relay {
        &self.inner.relay
    }

    /// Sends one message over a pooled connection; see
    /// [`SmtpConnection::send`]. An `Err` means nothing was handed over
    /// (no connection could be set up, or the envelope is unusable).
    ///
    /// A reused idle connection that turns out to be dead before the
    /// content was sent (the server timed it out) is dropped and the message
    /// goes over the next idle or a fresh connection: the server cannot
    /// have accepted anything on the dead one. A fresh connection's outcome
    /// is final.
    pub async fn send<S: AsRef<str>>(
        &self,
        from: &str,
        recipients: &[S],
        message: &[u8],
    ) -> Result<SendOutcome, SmtpError> {
        let inner = &self.inner;
        let _permit = inner.permits.acquire().await.map_err(|_| SmtpError::PoolClosed { relay: inner.name.clone() })?;
        // Every reused connection that fails comes out of the idle list, so
        // this ends with a fresh connection at the latest; the cap is a guard.
        let mut stale = 0;
        loop {
            let (mut conn, reused) = match self.take_idle() {
                Some(conn) => (conn, true),
                None => (self.open().await?, false),
            };
            let outcome = match conn.send(from, recipients, message).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    self.put_back(conn).await;
                    return Err(e);
                }
            };
            inner.messages.fetch_add(1, Ordering::Relaxed);
            if reused && stale <= inner.relay.max_connections && lost_before_content(&outcome) {
                stale += 1;
                continue;
            }
            self.put_back(conn).await;
            return Ok(outcome);
        }
    }

    async fn open(&self) -> Result<SmtpConnection, SmtpError> {
        let conn = SmtpConnection::connect(&self.inner.relay).await?;
        self.inner.opened.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// Says QUIT on idle connections older than `timeouts.idle` (sends do
    /// this too; call it periodically when a pool may sit unused).
    pub async fn prune_idle(&self) {
        let limit = self.inner.relay.timeouts.idle;
        let expired: Vec<Idle> = {
            let mut idle = lock(&self.inner.idle);
            let (keep, old) = std::mem::take(&mut *idle).into_iter().partition(|e| e.since.elapsed() < limit);
            *idle = keep;
            old
        };
        for entry in expired {
            entry.conn.quit().await;
        }
    }

    /// The most recently used live idle connection; expired ones are closed.
    fn take_idle(&self) -> Option<SmtpConnection> {
        let limit = self.inner.relay.timeouts.idle;
        let mut expired = Vec::new();
        let found = {
            let mut idle = lock(&self.inner.idle);
            // Entries are pushed in the order they come back (`since` is
            // taken under the lock), so the expired ones are a prefix: no
            // pass over the whole list per send.
            let fresh = idle.partition_point(|e| e.since.elapsed() >= limit);
            expired.extend(idle.drain(..fresh).map(|e| e.conn));
            idle.pop().map(|e| e.conn)
        };
        for conn in expired {
            tokio::spawn(conn.quit());
        }
        found
    }

    async fn put_back(&self, conn: SmtpConnection) {
        if conn.is_broken() {
            return;
        }
        if conn.transactions() >= self.inner.relay.max_messages || self.inner.permits.is_closed() {
            conn.quit().await;
            return;
        }
        // `since` is read with the lock held, which keeps the list in order.
        let mut idle = lock(&self.inner.idle);
        idle.push(Idle { conn, since: Instant::now() });
    }

    /// Counters for monitoring and tests.
    pub fn stats(&self) -> PoolStats {
        let inner = &self.inner;
        PoolStats {
            connections_opened: inner.opened.load(Ordering::Relaxed),
            messages: inner.messages.load(Ordering::Relaxed),
            idle: lock(&inner.idle).len(),
            in_use: inner.relay.max_connections.max(1) - inner.permits.available_permits(),
        }
    }

    /// Stops new sends and says QUIT on the idle connections; sends in
    /// progress finish and close their connections.
    pub async fn close(&self) {
        self.inner.permits.close();
        let idle: Vec<Idle> = std::mem::take(&mut *lock(&self.inner.idle));
        for entry in idle {
            entry.conn.quit().await;
        }
    }
}

/// True when every recipient lost the connection before the content was on
/// its way, so nothing can have been accepted.
fn lost_before_content(outcome: &SendOutcome) -> bool {
    outcome
        .recipients
        .iter()
        .all(|r| matches!(r.outcome, RecipientOutcome::ConnectionLost { stage: Stage::Mail | Stage::Rcpt, .. }))
}

/// How a [`RelaySet`] backs off a relay that fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Consecutive failures before the relay is backed off (default 2: one
    /// dropped connection is not yet a pattern).
    pub threshold: u32,
    /// The first back-off; it doubles with every further failure.
    pub base: Duration,
    /// The longest back-off.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { threshold: 2, base: Duration::from_secs(1), max: Duration::from_secs(300) }
    }
}

impl Backoff {
    /// The back-off after `failures` consecutive failures, if any.
    pub fn delay(&self, failures: u32) -> Option<Duration> {
        if failures < self.threshold.max(1) {
            return None;
        }
        let doublings = (failures - self.threshold.max(1)).min(30);
        Some(self.base.saturating_mul(1u32 << doublings).min(self.max))
    }
}

#[derive(Default)]
struct Health {
    failures: u32,
    until: Option<Instant>,
    /// Smooth weighted round-robin state.
    current: i64,
}

struct Member {
    pool: Pool,
    health: Health,
}

/// The state of one relay of a [`RelaySet`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelayStatus {
    /// The relay URL without the password.
    pub relay: String,
    pub weight: u32,
    pub consecutive_failures: u32,
    /// How much longer the relay is skipped, if it is backing off.
    pub backing_off_for: Option<Duration>,
    pub stats: PoolStats,
}

/// The outcome of a send through a [`RelaySet`], with the relay used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// The index of the relay in the set (the order given to [`RelaySet::new`]).
    pub relay: usize,
    pub outcome: SendOutcome,
}

/// Several relays, each with its pool, picked in proportion to their
/// weights (smooth weighted round-robin). A relay whose connections fail
/// is skipped for a back-off that doubles with each consecutive failure,
/// while another relay is healthy; a message that could not be handed to
/// one relay at all is tried on the next.
pub struct RelaySet {
    members: Mutex<Vec<Member>>,
    backoff: Backoff,
}

impl RelaySet {
    pub fn new(relays: Vec<Relay>) -> Result<RelaySet, RelayError> {
        RelaySet::with_backoff(relays, Backoff::default())
    }

    pub fn with_backoff(relays: Vec<Relay>, backoff: Backoff) -> Result<RelaySet, RelayError> {
        if relays.is_empty() {
            return Err(RelayError::NoRelays);
        }
        let members = relays.into_iter().map(|r| Member { pool: Pool::new(r), health: Health::default() }).collect();
        Ok(RelaySet { members: Mutex::new(members), backoff })
    }

    /// The pool of relay `index`.
    pub fn pool(&self, index: usize) -> Option<Pool> {
        lock(&self.members).get(index).map(|m| m.pool.clone())
    }

    /// Sends one message through a relay picked by weight among those not
    /// backing off. When a relay cannot be used at all (connect, TLS or AUTH
    /// failure) it is backed off and the next one is tried. A lost
    /// connection during the transaction also counts against the relay but
    /// is returned as is: retrying the message is the caller's decision.
    pub async fn send<S: AsRef<str>>(&self, from: &str, recipients: &[S], message: &[u8]) -> Result<Routed, SmtpError> {
        let count = lock(&self.members).len();
        let mut tried = vec![false; count];
        let mut last_error = None;
        loop {
            let (index, pool) = match self.pick(&tried) {
                Ok(picked) => picked,
                Err(retry_in) => return Err(last_error.unwrap_or(SmtpError::NoRelayAvailable { retry_in })),
            };
            tried[index] = true;
            match pool.send(from, recipients, message).await {
                Ok(outcome) => {
                    self.record(index, !outcome.connection_lost());
                    return Ok(Routed { relay: index, outcome });
                }
                Err(e) if e.is_relay_failure() => {
                    self.record(index, false);
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Picks a relay not yet tried and not backing off, or says how long
    /// until the first back-off ends.
    fn pick(&self, tried: &[bool]) -> Result<(usize, Pool), Duration> {
        let now = Instant::now();
        let mut members = lock(&self.members);
        let mut soonest: Option<Duration> = None;
        let mut eligible = Vec::with_capacity(members.len());
        for (i, m) in members.iter().enumerate() {
            if tried.get(i).copied().unwrap_or(true) {
                continue;
            }
            match m.health.until {
                Some(until) if until > now => {
                    let left = until - now;
                    soonest = Some(soonest.map_or(left, |s| s.min(left)));
                }
                _ => eligible.push(i),
            }
        }
        let weight = |m: &Member| i64::from(m.pool.relay().weight.max(1));
        let mut total = 0;
        for &i in &eligible {
            let m = &mut members[i];
            m.health.current += weight(m);
            total += weight(m);
        }
        // The highest current value wins; ties go to the earlier relay.
        let mut best: Option<usize> = None;
        for &i in &eligible {
            if best.is_none_or(|b| members[i].health.current > members[b].health.current) {
                best = Some(i);
            }
        }
        match best {
            Some(i) => {
                members[i].health.current -= total;
                Ok((i, members[i].pool.clone()))
            }
            None => Err(soonest.unwrap_or(Duration::ZERO)),
        }
    }

    fn record(&self, index: usize, ok: bool) {
        let mut members = lock(&self.members);
        let Some(m) = members.get_mut(index) else { return };
        if ok {
            m.health.failures = 0;
            m.health.until = None;
        } else {
            let now = Instant::now();
            // Sends that were under way when the back-off began fail too;
            // they are one outage, not several.
            if m.health.until.is_some_and(|until| until > now) {
                return;
            }
            m.health.failures = m.health.failures.saturating_add(1);
            m.health.until = self.backoff.delay(m.health.failures).map(|d| now + d);
        }
    }

    /// The state of every relay, in the order given to [`RelaySet::new`].
    pub fn status(&self) -> Vec<RelayStatus> {
        let now = Instant::now();
        lock(&self.members)
            .iter()
            .map(|m| RelayStatus {
                relay: m.pool.relay().to_string(),
                weight: m.pool.relay().weight,
                consecutive_failures: m.health.failures,
                backing_off_for: m.health.until.filter(|&u| u > now).map(|u| u - now),
                stats: m.pool.stats(),
            })
            .collect()
    }

    /// Closes every pool (see [`Pool::close`]).
    pub async fn close(&self) {
        let pools: Vec<Pool> = lock(&self.members).iter().map(|m| m.pool.clone()).collect();
        for pool in pools {
            pool.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay(0), None);
        assert_eq!(b.delay(1), None);
        assert_eq!(b.delay(2), Some(Duration::from_secs(1)));
        assert_eq!(b.delay(3), Some(Duration::from_secs(2)));
        assert_eq!(b.delay(6), Some(Duration::from_secs(16)));
        assert_eq!(b.delay(20), Some(Duration::from_secs(300)));
        assert_eq!(b.delay(u32::MAX), Some(Duration::from_secs(300)));
        let eager = Backoff { threshold: 1, base: Duration::from_millis(100), max: Duration::from_secs(1) };
        assert_eq!(eager.delay(1), Some(Duration::from_millis(100)));
        assert_eq!(eager.delay(5), Some(Duration::from_secs(1)));
    }

    #[test]
    fn smooth_weighted_round_robin() {
        let relays = [5, 1, 1].iter().map(|&w| Relay { weight: w, ..Relay::new("127.0.0.1", 1) }).collect();
        let set = RelaySet::new(relays).expect("relays");
        let picks: Vec<usize> = (0..7).map(|_| set.pick(&[false; 3]).expect("pick").0).collect();
        // Spread out, not five in a row (nginx's smooth weighted round-robin).
        assert_eq!(picks, [0, 0, 1, 0, 2, 0, 0]);
        // A relay that is backing off is skipped; tried ones too.
        set.record(0, false);
        set.record(0, false);
        let picks: Vec<usize> = (0..4).map(|_| set.pick(&[false; 3]).expect("pick").0).collect();
        assert!(picks.iter().all(|&i| i != 0), "{picks:?}");
        let wait = set.pick(&[false, true, true]).map(|p| p.0).expect_err("all unavailable");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        // Failures during a back-off do not lengthen it.
        set.record(0, false);
        assert_eq!(set.status()[0].consecutive_failures, 2);
        set.record(0, true);
        assert_eq!(
            set.status()[0],
            RelayStatus { backing_off_for: None, consecutive_failures: 0, ..set.status()[0].clone() }
        );
    }
}
