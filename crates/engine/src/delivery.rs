//! Campaign delivery: starting scheduled campaigns, fanning the audience
//! out into the delivery queue (streamed in pages, resumable), and sending
//! — leased batches, messages rendered and signed on the blocking pool
//! (one chunk per core), handed to the transport concurrently, outcomes
//! recorded as they come in. A message counts as sent only when the
//! transport says the server accepted it; 4xx and lost connections are
//! retried with exponential back-off and jitter up to a maximum age, 5xx
//! are bounces classified by the domain layer.

use std::sync::Arc;
use std::time::Duration;

use assent_domain::bounce::{BounceClass, classify_smtp_reply};
use assent_domain::{AddressPolicy, EmailAddress};
use assent_mail::token::TokenKey;
use assent_store::{Campaign, Delivery, DeliveryOutcome, NewConsentEvent, Store};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::campaign::Prepared;
use crate::keys::SecretBox;
use crate::transport::{Transport, TransportError};

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// Recipients leased per step.
    pub batch: i64,
    /// Messages handed to the transport at once (the SMTP pool size):
    /// also the most that can be sent twice after a crash.
    pub concurrency: usize,
    /// Temporary failures are retried until a recipient has waited this long.
    pub retry_max_age: Duration,
    /// First retry delay; doubles per attempt up to `retry_max_delay`.
    pub retry_base: Duration,
    pub retry_max_delay: Duration,
    /// Audience page size during fan-out.
    pub fanout_page: i64,
    /// How long a leased recipient is ours before another worker may take it.
    pub lease: Duration,
    /// DKIM-sign messages (off only when the relay signs them).
    pub dkim: bool,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            batch: 512,
            concurrency: 16,
            retry_max_age: Duration::from_secs(3 * 24 * 3600),
            retry_base: Duration::from_secs(60),
            retry_max_delay: Duration::from_secs(6 * 3600),
            fanout_page: 10_000,
            lease: Duration::from_secs(300),
            dkim: true,
        }
    }
}

/// A recipient with its message (envelope sender and bytes), or the
/// outcome that replaces sending it.
type Built = (Delivery, Result<(String, Vec<u8>), DeliveryOutcome>);

pub struct Deliverer {
    pub store: Arc<dyn Store>,
    /// Sending rates per destination domain, account and campaign, shared
    /// by all sends of this worker.
    pub throttles: Arc<crate::throttle::Throttles>,
    pub transport: Arc<dyn Transport>,
    pub secrets: Arc<SecretBox>,
    pub tokens: Arc<TokenKey>,
    pub public_url: String,
    pub policy: Arc<AddressPolicy>,
    pub config: DeliveryConfig,
}

/// A name for this worker's leases, unique across processes and restarts.
pub fn owner_id() -> String {
    let mut r = [0u8; 8];
    // Any value works as long as two workers differ; the time and pid are a
    // fallback should the random source fail.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut r).is_err() {
        r = (crate::now_ms() as u64).to_be_bytes();
    }
    format!("{}-{}", std::process::id(), hex::encode(r))
}

/// Completes with the result of a database task under way — the write of
/// outcomes or the claim of the next batch, each a task of its own so it
/// holds no database lock unpolled while the send loop awaits something
/// else; never, when there is none.
async fn in_progress<T>(
    task: &mut Option<tokio::task::JoinHandle<assent_store::Result<T>>>,
) -> assent_store::Result<T> {
    match task {
        Some(t) => match t.await {
            Ok(done) => done,
            // A panic in the task is a bug: surface it here, as if the task
            // had run inline.
            Err(e) => match e.try_into_panic() {
                Ok(panic) => std::panic::resume_unwind(panic),
                Err(e) => Err(assent_store::StoreError::Interrupted(e.to_string())),
            },
        },
        None => std::future::pending().await,
    }
}

/// How long one step keeps claiming batches of a campaign before the next
/// step looks at it afresh.
const CHAIN: Duration = Duration::from_secs(10);

/// How long outcomes may wait for more to join their write when the pool
/// has slots to spare.
const GATHER: Duration = Duration::from_millis(5);

/// How often a batch being sent looks whether its campaign was paused or
/// cancelled meanwhile: a pause then stops sending within this time plus
/// the messages in flight, not after the rest of the claimed batches.
const STATUS_CHECK: Duration = Duration::from_millis(500);

/// Writes outcomes, retrying a few times: an outcome that is lost means a
/// message sent twice. `writing` keeps lease renewals and outcome writes of
/// one batch apart.
async fn record(
    store: Arc<dyn Store>,
    campaign: i64,
    mut outcomes: Vec<(i64, DeliveryOutcome)>,
    owner: Arc<str>,
    writing: Arc<tokio::sync::Mutex<()>>,
) -> assent_store::Result<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    outcomes.sort_by_key(|(contact, _)| *contact);
    let _turn = writing.lock().await;
    let mut attempt = 0;
    loop {
        match store.finish_deliveries(campaign, &outcomes, &owner).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < 5 => {
                attempt += 1;
                tracing::warn!(error = %e, attempt, "recording delivery outcomes failed; retrying");
                tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Queues the next page of a campaign's audience.
async fn fan_out(store: &dyn Store, policy: &AddressPolicy, c: &Campaign, page: i64) -> assent_store::Result<()> {
    let page =
        store.audience_page(c.account_id, &c.list_ids, c.product_category.as_deref(), c.fanout_after, page).await?;
    let members: Vec<(i64, assent_domain::ListId, String)> = page
        .members
        .iter()
        .filter_map(|m| {
            let addr = EmailAddress::parse(&m.email).ok()?;
            // Role addresses are never mailed (PRODUCT.md rule 5).
            if policy.roles.is_role(&addr) {
                return None;
            }
            Some((m.contact, m.list, addr.domain().to_string()))
        })
        .collect();
    store.enqueue_deliveries(c, &members, page.next_after, page.done).await?;
    Ok(())
}

/// One audience page queued at a time per step; see [`claim`].
type Fanning = Arc<tokio::sync::Mutex<()>>;

/// The one-at-a-time turns of a step's batches: `writing` for lease
/// renewals and outcome writes (see [`record`]), `fanning` for audience
/// pages.
struct Turns {
    writing: Arc<tokio::sync::Mutex<()>>,
    fanning: Fanning,
}

/// Claims the next batch of `c`. While its audience is still being fanned
/// out, the next page is queued too: first when nothing is queued to claim,
/// otherwise in a task of its own while the batch is sent — a page takes
/// a tenth of a second or more, and claims waiting for it held sending at
/// a third of its rate until the whole audience was queued.
async fn claim(
    store: &Arc<dyn Store>,
    policy: &Arc<AddressPolicy>,
    c: &Campaign,
    config: &DeliveryConfig,
    owner: &str,
    fanning: &Fanning,
) -> assent_store::Result<Vec<Delivery>> {
    let claimed = store.claim_deliveries(c, crate::now_ms(), config.batch, ms(config.lease), owner).await?;
    if c.fanout_done {
        return Ok(claimed);
    }
    if claimed.is_empty() {
        let _turn = fanning.lock().await;
        // Another page may have been queued while this one waited.
        let Some(fresh) = store.get_campaign(c.account_id, c.id).await? else { return Ok(claimed) };
        if !fresh.fanout_done {
            fan_out(store.as_ref(), policy, &fresh, config.fanout_page).await?;
        }
        return store.claim_deliveries(&fresh, crate::now_ms(), config.batch, ms(config.lease), owner).await;
    }
    if let Ok(turn) = fanning.clone().try_lock_owned() {
        let (store, policy, page) = (store.clone(), policy.clone(), config.fanout_page);
        let (account, id) = (c.account_id, c.id);
        // Detached; `Deliverer::send_batch` waits for the turn before it
        // returns, so pages of one campaign never overlap.
        drop(tokio::spawn(async move {
            let _turn = turn;
            let queued = match store.get_campaign(account, id).await {
                Ok(Some(fresh)) if fresh.status == "sending" && !fresh.fanout_done => {
                    fan_out(store.as_ref(), &policy, &fresh, page).await
                }
                Ok(_) => Ok(()),
                Err(e) => Err(e),
            };
            if let Err(e) = queued {
                tracing::warn!(campaign = id, error = %e, "cannot queue the next audience page; retrying at the next claim");
            }
        }));
    }
    Ok(claimed)
}

/// The batch after the current one, claimed while the current one is still
/// being sent (so the pool never drains between batches); `None` when the
/// campaign is no longer being sent or has nothing due.
async fn claim_next(
    store: Arc<dyn Store>,
    policy: Arc<AddressPolicy>,
    campaign: Campaign,
    config: DeliveryConfig,
    owner: Arc<str>,
    fanning: Fanning,
) -> assent_store::Result<Option<Vec<Delivery>>> {
    let Some(fresh) = store.get_campaign(campaign.account_id, campaign.id).await? else { return Ok(None) };
    // Paused, cancelled or edited meanwhile: the next step decides.
    if fresh.status != "sending" {
        return Ok(None);
    }
    let claimed = claim(&store, &policy, &fresh, &config, &owner, &fanning).await?;
    Ok((!claimed.is_empty()).then_some(claimed))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Deliverer {
    /// Runs until `shutdown`: starts due campaigns and works on those being sent.
    pub async fn work(self, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
        loop {
            let mut busy = false;
            match self.step_all(&shutdown).await {
                Ok(b) => busy = b,
                Err(e) => tracing::warn!(error = %e, "delivery step failed; retrying"),
            }
            if *shutdown.borrow() {
                return;
            }
            if busy {
                continue;
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }

    /// One round over all campaigns; `true` when there was work.
    pub async fn step_all(&self, shutdown: &watch::Receiver<bool>) -> assent_store::Result<bool> {
        let now = crate::now_ms();
        for c in self.store.due_campaigns(now, 100).await? {
            if self.store.set_campaign_status(c.account_id, c.id, &["scheduled"], "sending", None).await? {
                tracing::info!(campaign = c.id, "campaign started");
            }
        }
        let mut busy = false;
        for c in self.store.sending_campaigns(100).await? {
            if *shutdown.borrow() {
                break;
            }
            busy |= self.step(c, shutdown).await?;
        }
        Ok(busy)
    }

    /// Sends one batch of a campaign (and the batches chained after it),
    /// queuing its audience pages as it goes.
    pub async fn step(&self, c: Campaign, shutdown: &watch::Receiver<bool>) -> assent_store::Result<bool> {
        let busy = !c.fanout_done;
        let prepared =
            match Prepared::load(self.store.as_ref(), c.clone(), &self.secrets, self.tokens.clone(), &self.public_url)
                .await
            {
                Ok(mut p) => {
                    if !self.config.dkim {
                        p.signers.clear();
                    }
                    p
                }
                Err(e) => {
                    tracing::warn!(campaign = c.id, error = %e, "campaign cannot be prepared; paused");
                    self.store
                        .set_campaign_status(c.account_id, c.id, &["sending"], "paused", Some(&e.to_string()))
                        .await?;
                    return Ok(false);
                }
            };
        // The gate again at send time: an account suspended or a domain
        // unverified meanwhile stops the campaign.
        if !prepared.account_active || prepared.domain.is_none() {
            let reason = if prepared.account_active {
                "the From domain is no longer verified"
            } else {
                "the account is not active"
            };
            self.store.set_campaign_status(c.account_id, c.id, &["sending"], "paused", Some(reason)).await?;
            return Ok(false);
        }
        let owner = owner_id();
        let fanning = Fanning::default();
        let claimed = claim(&self.store, &self.policy, &c, &self.config, &owner, &fanning).await?;
        if claimed.is_empty() {
            let fresh = self.store.get_campaign(c.account_id, c.id).await?;
            if let Some(fresh) = fresh
                && fresh.fanout_done
            {
                let counts = self.store.delivery_counts(c.account_id, c.id).await?;
                if counts.queued == 0
                    && counts.deferred == 0
                    && self.store.set_campaign_status(c.account_id, c.id, &["sending"], "sent", None).await?
                {
                    tracing::info!(campaign = c.id, sent = counts.sent, bounced = counts.bounced, "campaign sent");
                }
            }
            return Ok(busy);
        }
        self.send_batch(Arc::new(prepared), claimed, &owner, fanning, shutdown).await?;
        Ok(true)
    }

    async fn send_batch(
        &self,
        prepared: Arc<Prepared>,
        batch: Vec<Delivery>,
        owner: &str,
        fanning: Fanning,
        shutdown: &watch::Receiver<bool>,
    ) -> assent_store::Result<()> {
        let campaign = prepared.campaign.id;
        // Keep the lease alive while the batch is worked on; a recipient
        // whose lease could not be renewed (another worker took it over) is
        // not sent from here.
        let held: Arc<std::sync::Mutex<std::collections::HashSet<i64>>> =
            Arc::new(std::sync::Mutex::new(batch.iter().map(|d| d.member.contact).collect()));
        // Renewing and recording touch the same rows; one at a time, so the
        // database never sees them lock in opposite orders.
        let writing = Arc::new(tokio::sync::Mutex::new(()));
        let renewer = {
            let store = self.store.clone();
            let held = held.clone();
            let writing = writing.clone();
            let owner = owner.to_string();
            let lease = self.config.lease;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    let _turn = writing.lock().await;
                    let mut ids: Vec<i64> = held.lock().map(|h| h.iter().copied().collect()).unwrap_or_default();
                    if ids.is_empty() {
                        return;
                    }
                    ids.sort_unstable();
                    match store.renew_deliveries(campaign, &ids, crate::now_ms() + ms(lease), &owner).await {
                        Ok(still) => {
                            let still: std::collections::HashSet<i64> = still.into_iter().collect();
                            if let Ok(mut h) = held.lock() {
                                h.retain(|id| still.contains(id));
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "cannot renew delivery leases"),
                    }
                }
            })
        };
        let result = self
            .send_leased(prepared, batch, owner, &held, Turns { writing, fanning: fanning.clone() }, shutdown)
            .await;
        // An audience page still being queued finishes first, so the next
        // step never queues the same page beside it.
        drop(fanning.lock().await);
        renewer.abort();
        result
    }

    async fn send_leased(
        &self,
        prepared: Arc<Prepared>,
        batch: Vec<Delivery>,
        owner: &str,
        held: &std::sync::Mutex<std::collections::HashSet<i64>>,
        turns: Turns,
        shutdown: &watch::Receiver<bool>,
    ) -> assent_store::Result<()> {
        let campaign = prepared.campaign.id;
        let owner_arc: Arc<str> = owner.into();
        // Render and sign on the blocking pool, one worker per core
        // (signing is the CPU cost of sending), streamed: the first
        // messages are on the wire while the rest are still being signed.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (built_tx, mut built) = tokio::sync::mpsc::channel::<Built>(self.config.concurrency.max(cores) * 2);
        // Claimed recipients no builder has taken yet.
        let unbuilt = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let spawn_builders = |batch: Vec<Delivery>, tx: &tokio::sync::mpsc::Sender<Built>| {
            unbuilt.fetch_add(batch.len(), std::sync::atomic::Ordering::Relaxed);
            let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let batch = Arc::new(batch);
            for _ in 0..cores.min(batch.len()) {
                let (batch, next, tx, unbuilt) = (batch.clone(), next.clone(), tx.clone(), unbuilt.clone());
                let (prepared, policy) = (prepared.clone(), self.policy.clone());
                // Detached: a builder stops by itself once the receiver is gone.
                drop(tokio::task::spawn_blocking(move || {
                    let mut buf = Vec::new();
                    loop {
                        // Workers take recipients in order, so messages go out
                        // roughly in the order they were claimed.
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(d) = batch.get(i) else { return };
                        unbuilt.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                        let now = time::OffsetDateTime::now_utc().unix_timestamp();
                        let role =
                            EmailAddress::parse(&d.member.email).map(|a| policy.roles.is_role(&a)).unwrap_or(true);
                        let message = if role {
                            Err(DeliveryOutcome::Skipped { reason: "role address".into() })
                        } else {
                            prepared
                                .message(&d.member, now, &mut buf)
                                .map_err(|e| DeliveryOutcome::Failed { reply: e.to_string() })
                        };
                        if tx.blocking_send((d.clone(), message)).is_err() {
                            return;
                        }
                    }
                }));
            }
        };
        spawn_builders(batch, &built_tx);
        // While this batch is sent the next one is claimed, so the pool does
        // not drain between batches — for a while: then the next step looks
        // at the campaign afresh (send-time gate, other campaigns' turns).
        let chain_until = tokio::time::Instant::now() + CHAIN;
        let mut claiming: Option<tokio::task::JoinHandle<assent_store::Result<Option<Vec<Delivery>>>>> = None;
        // Kept while more batches may come; the channel closes once it and
        // every builder are gone.
        let mut built_tx = Some(built_tx);
        let mut outcomes: Vec<(i64, DeliveryOutcome)> = Vec::new();
        let mut sends = JoinSet::new();
        let mut all_built = false;
        let throttles = self.throttles.clone();
        let start_send = |sends: &mut JoinSet<_>, outcomes: &mut Vec<(i64, DeliveryOutcome)>, (d, message): Built| {
            // Poisoning only means a renewal task panicked; the set is intact.
            if !held.lock().map(|h| h.contains(&d.member.contact)).unwrap_or(false) {
                return;
            }
            match message {
                Err(outcome) => outcomes.push((d.member.contact, outcome)),
                Ok((envelope, bytes)) => {
                    let transport = self.transport.clone();
                    let throttles = throttles.clone();
                    let account = prepared.campaign.account_id.get();
                    sends.spawn(async move {
                        let domain = d.member.email.rsplit_once('@').map_or("", |(_, dom)| dom).to_string();
                        throttles.acquire(account, campaign, &domain).await;
                        let result = transport.send(&envelope, &d.member.email, &bytes).await;
                        (d, result)
                    });
                }
            }
        };
        // Outcomes are written by one recording at a time, in the
        // background (group commit): whatever came in while a write ran goes
        // in the next one, and sending goes on meanwhile.
        let mut recording: Option<tokio::task::JoinHandle<assent_store::Result<()>>> = None;
        let mut recording_len = 0usize;
        let mut gather_since: Option<tokio::time::Instant> = None;
        // Set once the campaign is no longer `sending` (paused, cancelled):
        // from then on it is like a shutdown for this campaign.
        let mut halted = false;
        let mut status_check = tokio::time::Instant::now() + STATUS_CHECK;
        loop {
            // At most `concurrency` messages are ever in flight, accepted
            // but not yet recorded, or being recorded: that is all a crash
            // can make us send twice.
            let open = !*shutdown.borrow() && !halted;
            if built_tx.is_some() && claiming.is_none() {
                if !open || tokio::time::Instant::now() >= chain_until {
                    built_tx = None;
                } else if unbuilt.load(std::sync::atomic::Ordering::Relaxed) + built.len()
                    <= usize::try_from(self.config.batch).unwrap_or(0)
                {
                    claiming = Some(tokio::spawn(claim_next(
                        self.store.clone(),
                        self.policy.clone(),
                        prepared.campaign.clone(),
                        self.config.clone(),
                        owner_arc.clone(),
                        turns.fanning.clone(),
                    )));
                }
            }
            let concurrency = self.config.concurrency;
            let room = |sends: &JoinSet<_>, outcomes: &Vec<_>, recording_len: usize| {
                sends.len() + outcomes.len() + recording_len < concurrency
            };
            while open && !all_built && room(&sends, &outcomes, recording_len) {
                match built.try_recv() {
                    Ok(item) => start_send(&mut sends, &mut outcomes, item),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => break,
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => all_built = true,
                }
            }
            // A write starts at once when pool slots are short or a quarter
            // of them wait; otherwise outcomes gather for up to `GATHER`
            // (fewer, larger writes when sending is slow, e.g. signing-bound).
            let gathered = match (outcomes.is_empty(), gather_since) {
                (true, _) => {
                    gather_since = None;
                    false
                }
                (false, None) => {
                    gather_since = Some(tokio::time::Instant::now());
                    false
                }
                (false, Some(since)) => since.elapsed() >= GATHER,
            };
            if recording.is_none()
                && !outcomes.is_empty()
                && (gathered || !room(&sends, &outcomes, recording_len) || outcomes.len() * 4 >= concurrency)
            {
                gather_since = None;
                let taken = std::mem::take(&mut outcomes);
                recording_len = taken.len();
                recording = Some(tokio::spawn(record(
                    self.store.clone(),
                    campaign,
                    taken,
                    owner_arc.clone(),
                    turns.writing.clone(),
                )));
            }
            if sends.is_empty() && recording.is_none() && claiming.is_none() && (all_built || !open) {
                // Nothing in flight, unrecorded or being claimed: done.
                break;
            }
            let can_take = open && !all_built && room(&sends, &outcomes, recording_len);
            tokio::select! {
                done = sends.join_next(), if !sends.is_empty() => {
                    let Some(Ok((d, result))) = done else { continue };
                    let outcome = self.outcome(&prepared.campaign, &d, result).await;
                    if let Ok(mut h) = held.lock() {
                        h.remove(&d.member.contact);
                    }
                    outcomes.push((d.member.contact, outcome));
                }
                written = in_progress(&mut recording) => {
                    recording = None;
                    recording_len = 0;
                    written?;
                }
                claimed = in_progress(&mut claiming) => {
                    claiming = None;
                    match claimed {
                        Ok(Some(batch)) => match &built_tx {
                            Some(tx) if open => {
                                if let Ok(mut h) = held.lock() {
                                    h.extend(batch.iter().map(|d| d.member.contact));
                                }
                                spawn_builders(batch, tx);
                            }
                            // Shutting down: the lease is given back below.
                            _ => {}
                        },
                        Ok(None) => built_tx = None,
                        Err(e) => {
                            tracing::warn!(campaign, error = %e, "cannot claim the next batch; finishing this one");
                            built_tx = None;
                        }
                    }
                }
                _ = tokio::time::sleep_until(gather_since.map_or_else(tokio::time::Instant::now, |t| t + GATHER)),
                    if recording.is_none() && gather_since.is_some() => {}
                _ = tokio::time::sleep_until(status_check), if open => {
                    status_check = tokio::time::Instant::now() + STATUS_CHECK;
                    let c = &prepared.campaign;
                    match self.store.get_campaign(c.account_id, c.id).await {
                        Ok(Some(now)) if now.status != "sending" => {
                            tracing::info!(campaign, status = %now.status, "campaign no longer sending; stopping its batch");
                            halted = true;
                        }
                        Ok(None) => halted = true,
                        Ok(Some(_)) => {}
                        Err(e) => tracing::warn!(campaign, error = %e, "cannot look at the campaign's status"),
                    }
                }
                item = built.recv(), if can_take => match item {
                    Some(item) => start_send(&mut sends, &mut outcomes, item),
                    None => all_built = true,
                },
            }
        }
        // Builders still working stop at their next message.
        drop(built);
        record(self.store.clone(), campaign, std::mem::take(&mut outcomes), owner_arc, turns.writing).await?;
        if *shutdown.borrow() || halted {
            // Leave the rest for the next start, the resume (or another
            // worker).
            self.store.release_deliveries(campaign, owner).await?;
        }
        Ok(())
    }

    async fn outcome(&self, c: &Campaign, d: &Delivery, result: Result<(), TransportError>) -> DeliveryOutcome {
        match result {
            Ok(()) => DeliveryOutcome::Sent { reply: "accepted".into() },
            Err(TransportError::Temporary(reply)) => {
                let started = c.started_at.unwrap_or_else(crate::now_ms);
                if crate::now_ms() - started > ms(self.config.retry_max_age) {
                    self.bounced(c, d, &format!("gave up after {} attempts: {reply}", d.attempts), BounceClass::Soft)
                        .await;
                    return DeliveryOutcome::Bounced { reply };
                }
                DeliveryOutcome::Deferred { next_at: crate::now_ms() + self.backoff(d.attempts), reply }
            }
            Err(TransportError::Permanent(reply)) => {
                let code = reply.get(..3).and_then(|c| c.parse::<u16>().ok()).unwrap_or(550);
                let class = classify_smtp_reply(code, &reply).map_or(BounceClass::Soft, |c| c.class);
                self.bounced(c, d, &reply, class).await;
                DeliveryOutcome::Bounced { reply }
            }
        }
    }

    /// Exponential back-off with ±20 % jitter.
    fn backoff(&self, attempts: i64) -> i64 {
        let base = ms(self.config.retry_base);
        let exp = base.saturating_mul(1i64 << attempts.clamp(1, 20).saturating_sub(1));
        let capped = exp.min(ms(self.config.retry_max_delay));
        let jitter = (crate::now_ms().rem_euclid(1000) - 500) * capped / 2500;
        (capped + jitter).max(1)
    }

    /// A synchronous rejection is a bounce (RULES.md): hard ones suppress
    /// the address at once; all are in the contact's history.
    async fn bounced(&self, c: &Campaign, d: &Delivery, reply: &str, class: BounceClass) {
        let account = c.account_id;
        let contact = assent_domain::ContactId(d.member.contact);
        let event = NewConsentEvent {
            contact,
            list: Some(d.member.list),
            kind: "bounced".into(),
            source: format!("campaign:{}", c.id),
            ip: None,
            user_agent: None,
            evidence: serde_json::json!({"class": class.to_string(), "reply": reply.chars().take(500).collect::<String>()}),
        };
        if let Err(e) = self.store.append_consent_event(account, &event).await {
            tracing::warn!(error = %e, "cannot record bounce event");
        }
        // The consequences (suppression, soft-bounce counting, operator
        // alerts) have one owner: the same code that applies bounces
        // reported later by mail.
        let mut bounce = crate::inbound::Bounce::from_smtp_reply(reply).unwrap_or(crate::inbound::Bounce {
            class,
            status: None,
            reason: None,
            source: "smtp".into(),
            detail: serde_json::json!({"reply": reply.chars().take(500).collect::<String>()}),
            history: false,
        });
        bounce.class = class;
        let actions = crate::inbound::ReportActions { store: self.store.clone(), soft_bounce: Default::default() };
        let target = crate::inbound::Target { account, campaign: c.id, contact };
        if let Err(e) = actions.bounce(target, &bounce).await {
            tracing::warn!(error = %e, "cannot apply the bounce");
        }
    }
}
