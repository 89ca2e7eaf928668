//! The store contract for report events and reputation (issue 7), run on
//! SQLite and PostgreSQL alike (modules `sqlite::` and `postgres::`).

use std::sync::Arc;

use assent_domain::{
    AccountId, ContactId, EmailAddress, ListId, SubscriptionEvent, SubscriptionStatus, SuppressionHash,
    SuppressionReason,
};
use assent_store::{
    CampaignDraft, DeliveryOutcome, NewReportEvent, PutSubscription, ReportCounts, ReportEffect, ReportEventKind,
    SoftEscalation, Store,
};
use serde_json::json;

fn addr(s: &str) -> EmailAddress {
    EmailAddress::parse(s).expect("valid test address")
}

const DAY: i64 = 24 * 3600 * 1000;

struct World {
    account: AccountId,
    list: ListId,
    contacts: Vec<ContactId>,
    campaign: i64,
}

/// An account with `n` confirmed contacts on one list and a campaign that
/// is sending to them (nothing delivered yet).
async fn world(store: &dyn Store, name: &str, n: usize) -> World {
    let (account, _) = store.create_account(name, &addr(&format!("owner@{name}.example"))).await.expect("account");
    let account = account.id;
    let list = store.create_list(account, "News", "").await.expect("list").id;
    let mut contacts = Vec::new();
    for i in 0..n {
        let (c, _) = store
            .upsert_contact(account, &addr(&format!("p{i}@{name}.example")), &serde_json::Map::new())
            .await
            .expect("contact");
        let put = PutSubscription {
            contact: c.id,
            list,
            expected: None,
            status: SubscriptionStatus::Confirmed,
            origin: "contract".into(),
            evidence: json!({"contract_ref": "K"}),
        };
        assert!(store.put_subscription(account, &put).await.expect("subscribe"));
        contacts.push(c.id);
    }
    let draft = CampaignDraft {
        name: "Autumn".into(),
        subject: "Offers".into(),
        from_email: format!("news@{name}.example"),
        from_name: String::new(),
        reply_to: None,
        list_ids: vec![list],
        filter: json!({}),
        html: "<p>x</p>".into(),
        text: None,
        html_inlined: "<p>x</p>".into(),
        product_category: None,
    };
    let campaign = store.create_campaign(account, &draft).await.expect("campaign");
    assert!(store.set_campaign_status(account, campaign.id, &["draft"], "sending", None).await.expect("start sending"));
    let campaign = store.get_campaign(account, campaign.id).await.expect("get").expect("campaign");
    let members: Vec<(i64, ListId, String)> = contacts.iter().map(|c| (c.get(), list, "example".to_string())).collect();
    store.enqueue_deliveries(&campaign, &members, contacts.last().map_or(0, |c| c.get()), true).await.expect("enqueue");
    World { account, list, contacts, campaign: campaign.id }
}

fn report(w: &World, contact: usize, kind: ReportEventKind, at: i64) -> NewReportEvent {
    NewReportEvent {
        campaign: Some(w.campaign),
        contact: Some(w.contacts[contact]),
        kind,
        source: "dsn".into(),
        status: Some("5.1.1".into()),
        reason: Some("user_unknown".into()),
        detail: json!({"diagnostic": "550 5.1.1 no such user"}),
        at,
    }
}

fn hard_effect() -> ReportEffect {
    ReportEffect {
        consent_event: Some("bounced".into()),
        consent_source: "bounce".into(),
        subscriptions: Some(SubscriptionEvent::HardBounced),
        suppress: Some(SuppressionReason::HardBounce),
        escalate: None,
    }
}

async fn hard_bounce_suppresses_once_and_writes_history(store: Arc<dyn Store>) {
    let w = world(store.as_ref(), "alpha", 2).await;
    let now = assent_store_now();
    let first = store.record_report(w.account, &report(&w, 0, ReportEventKind::Hard, now), &hard_effect()).await;
    let first = first.expect("record");
    assert!(first.recorded && first.suppressed);
    assert_eq!(first.subscriptions_changed, 1);
    // The same report again (a DSN delivered twice) changes nothing.
    let again = store.record_report(w.account, &report(&w, 0, ReportEventKind::Hard, now), &hard_effect()).await;
    let again = again.expect("record again");
    assert!(!again.recorded && !again.suppressed);

    let subs = store.subscriptions(w.account, w.contacts[0]).await.expect("subs");
    assert_eq!(subs[0].status, SubscriptionStatus::Bounced);
    let s = store.suppression(w.account, &SuppressionHash::of(&addr("p0@alpha.example"))).await.expect("suppression");
    assert_eq!(s.map(|s| s.reason), Some(SuppressionReason::HardBounce));
    let events = store.consent_events(w.account, w.contacts[0]).await.expect("events");
    let bounced: Vec<_> = events.iter().filter(|e| e.kind == "bounced").collect();
    assert_eq!(bounced.len(), 1, "{events:?}");
    assert_eq!(bounced[0].source, "bounce");
    assert_eq!(bounced[0].evidence["campaign_id"], w.campaign);
    assert_eq!(bounced[0].evidence["diagnostic"], "550 5.1.1 no such user");
    // The other contact is untouched.
    let other = store.subscriptions(w.account, w.contacts[1]).await.expect("subs");
    assert_eq!(other[0].status, SubscriptionStatus::Confirmed);
    let listed = store.report_events(w.account, Some(w.campaign), 10).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].kind, listed[0].contact_id), (ReportEventKind::Hard, Some(w.contacts[0])));
    // The campaign's own counts: the hard bounce once, then a complaint.
    let counts = store.campaign_reports(w.account, w.campaign).await.expect("counts");
    assert_eq!((counts.hard, counts.soft, counts.complaint), (1, 0, 0));
    let complaint = NewReportEvent { kind: ReportEventKind::Complaint, ..report(&w, 1, ReportEventKind::Hard, now) };
    store.record_report(w.account, &complaint, &ReportEffect::default()).await.expect("complaint");
    let counts = store.campaign_reports(w.account, w.campaign).await.expect("counts");
    assert_eq!((counts.hard, counts.complaint, counts.unsubscribe), (1, 1, 0));
    // Another account sees none of them.
    let other = world(store.as_ref(), "beta", 1).await;
    let none = store.campaign_reports(other.account, w.campaign).await.expect("other account");
    assert_eq!(none, ReportCounts::default());
}

fn assent_store_now() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

async fn soft_bounces_escalate_within_the_window(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let w = world(store, "beta", 1).await;
    let now = assent_store_now();
    // Three soft bounces from three campaigns; the oldest is outside the window.
    let mut campaigns = vec![w.campaign];
    for _ in 0..3 {
        let c = store.get_campaign(w.account, w.campaign).await.expect("get").expect("campaign");
        let draft = CampaignDraft {
            name: c.name.clone(),
            subject: c.subject.clone(),
            from_email: c.from_email.clone(),
            from_name: String::new(),
            reply_to: None,
            list_ids: vec![w.list],
            filter: json!({}),
            html: c.html.clone(),
            text: None,
            html_inlined: c.html_inlined.clone(),
            product_category: None,
        };
        campaigns.push(store.create_campaign(w.account, &draft).await.expect("campaign").id);
    }
    let soft = |campaign: i64, at: i64| NewReportEvent {
        campaign: Some(campaign),
        kind: ReportEventKind::Soft,
        status: Some("4.2.2".into()),
        reason: Some("mailbox_full".into()),
        ..report(&w, 0, ReportEventKind::Soft, at)
    };
    let effect = ReportEffect {
        consent_event: Some("bounced".into()),
        consent_source: "bounce".into(),
        escalate: Some(SoftEscalation { max: 3, since: now - 30 * DAY }),
        ..ReportEffect::default()
    };
    let old = store.record_report(w.account, &soft(campaigns[0], now - 40 * DAY), &effect).await.expect("old");
    assert_eq!(old.soft_bounces, Some(0), "an old bounce is outside the window");
    let one = store.record_report(w.account, &soft(campaigns[1], now - DAY), &effect).await.expect("one");
    let two = store.record_report(w.account, &soft(campaigns[2], now), &effect).await.expect("two");
    assert_eq!((one.soft_bounces, one.suppressed, two.soft_bounces, two.suppressed), (Some(1), false, Some(2), false));
    let subs = store.subscriptions(w.account, w.contacts[0]).await.expect("subs");
    assert_eq!(subs[0].status, SubscriptionStatus::Confirmed, "two soft bounces do not suppress");
    assert_eq!(store.soft_bounces_since(w.account, w.contacts[0], now - 30 * DAY).await.expect("count"), 2);

    let three = store.record_report(w.account, &soft(campaigns[3], now), &effect).await.expect("three");
    assert_eq!((three.soft_bounces, three.suppressed, three.subscriptions_changed), (Some(3), true, 1));
    let s = store.suppression(w.account, &SuppressionHash::of(&addr("p0@beta.example"))).await.expect("suppression");
    assert_eq!(s.map(|s| s.reason), Some(SuppressionReason::SoftBounce));
    let subs = store.subscriptions(w.account, w.contacts[0]).await.expect("subs");
    assert_eq!(subs[0].status, SubscriptionStatus::Bounced);
    let events = store.consent_events(w.account, w.contacts[0]).await.expect("events");
    let last = events.iter().rev().find(|e| e.kind == "bounced").expect("bounced event");
    assert_eq!(
        (last.evidence["suppressed"].as_str(), last.evidence["soft_bounces"].as_i64()),
        (Some("soft_bounce"), Some(3))
    );
    assert_eq!(events.iter().filter(|e| e.kind == "bounced").count(), 4, "every soft bounce is in the history");
}

async fn complaints_move_to_complained_and_counts_add_up(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let w = world(store, "gamma", 4).await;
    let now = assent_store_now();
    // Deliveries: three accepted, one rejected during the dialogue.
    let outcomes = vec![
        (w.contacts[0].get(), DeliveryOutcome::Sent { reply: "250 ok".into() }),
        (w.contacts[1].get(), DeliveryOutcome::Sent { reply: "250 ok".into() }),
        (w.contacts[2].get(), DeliveryOutcome::Sent { reply: "250 ok".into() }),
        (w.contacts[3].get(), DeliveryOutcome::Bounced { reply: "550 5.1.1 unknown user".into() }),
    ];
    let c = store.get_campaign(w.account, w.campaign).await.expect("get").expect("campaign");
    let claimed = store.claim_deliveries(&c, now, 100, 60_000, "test").await.expect("claim");
    assert_eq!(claimed.len(), 4);
    store.finish_deliveries(w.campaign, &outcomes, "test").await.expect("finish");

    let complaint = NewReportEvent {
        source: "arf".into(),
        status: None,
        reason: Some("abuse".into()),
        ..report(&w, 0, ReportEventKind::Complaint, now)
    };
    let effect = ReportEffect {
        consent_event: Some("complained".into()),
        consent_source: "complaint".into(),
        subscriptions: Some(SubscriptionEvent::Complained),
        suppress: Some(SuppressionReason::Complaint),
        escalate: None,
    };
    let applied = store.record_report(w.account, &complaint, &effect).await.expect("complaint");
    assert!(applied.recorded && applied.suppressed);
    let subs = store.subscriptions(w.account, w.contacts[0]).await.expect("subs");
    assert_eq!(subs[0].status, SubscriptionStatus::Complained);
    let policy = NewReportEvent {
        status: Some("5.7.1".into()),
        reason: Some("spam_block".into()),
        ..report(&w, 1, ReportEventKind::Policy, now)
    };
    let applied = store.record_report(w.account, &policy, &ReportEffect::default()).await.expect("policy");
    assert!(applied.recorded && !applied.suppressed && applied.subscriptions_changed == 0);
    assert!(store.consent_events(w.account, w.contacts[1]).await.expect("events").iter().all(|e| e.kind != "bounced"));
    let unsub = NewReportEvent { source: "mailto".into(), ..report(&w, 2, ReportEventKind::Unsubscribe, now) };
    assert!(store.record_report(w.account, &unsub, &ReportEffect::default()).await.expect("unsub").recorded);

    let since = now - 7 * DAY;
    let campaigns = store.campaign_activity(w.account, since).await.expect("activity");
    assert_eq!(campaigns.len(), 1);
    let c = &campaigns[0];
    assert_eq!((c.campaign_id, c.sent, c.bounced_sync), (w.campaign, 3, 1));
    assert_eq!((c.reports.complaint, c.reports.policy, c.reports.unsubscribe, c.reports.hard), (1, 1, 1, 0));
    let a = store.account_activity(w.account, since).await.expect("account activity");
    assert_eq!((a.sent, a.reports.complaint, a.reports.policy), (3, 1, 1));
    // Outside the window, nothing.
    let later = store.account_activity(w.account, now + DAY).await.expect("later");
    assert_eq!((later.sent, later.reports.complaint), (0, 0));
    assert_eq!(
        store
            .count_reports(w.account, Some(w.campaign), ReportEventKind::Policy, Some("spam_block"), since)
            .await
            .expect("n"),
        1
    );
    assert_eq!(
        store.count_reports(w.account, None, ReportEventKind::Policy, Some("auth_failure"), since).await.expect("n"),
        0
    );

    // The synchronous rejection has no report yet; once recorded it is not listed again.
    let sync = store.unrecorded_sync_bounces(w.account, w.campaign, 10).await.expect("sync");
    assert_eq!(sync.len(), 1);
    assert_eq!((sync[0].contact, sync[0].last_reply.as_str()), (w.contacts[3], "550 5.1.1 unknown user"));
    let hard = NewReportEvent { source: "smtp".into(), ..report(&w, 3, ReportEventKind::Hard, now) };
    assert!(store.record_report(w.account, &hard, &hard_effect()).await.expect("hard").recorded);
    assert!(store.unrecorded_sync_bounces(w.account, w.campaign, 10).await.expect("sync").is_empty());
    let a = store.account_activity(w.account, since).await.expect("account activity");
    assert_eq!((a.reports.hard, a.sync_bounces, a.unsubscribes), (1, 1, 0));

    let found = store.find_delivery(w.campaign, w.contacts[1]).await.expect("find").expect("delivery");
    assert_eq!((found.account, found.status.as_str()), (w.account, "sent"));
    assert!(store.find_delivery(w.campaign + 1000, w.contacts[1]).await.expect("find").is_none());
}

async fn reports_stay_in_their_account(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let a = world(store, "delta", 1).await;
    let b = world(store, "epsilon", 1).await;
    let now = assent_store_now();
    // Account b names a's campaign and contact: nothing of a's is linked or changed.
    let foreign = NewReportEvent {
        campaign: Some(a.campaign),
        contact: Some(a.contacts[0]),
        ..report(&b, 0, ReportEventKind::Hard, now)
    };
    let applied = store.record_report(b.account, &foreign, &hard_effect()).await.expect("record");
    assert!(applied.recorded && !applied.suppressed && applied.subscriptions_changed == 0);
    let subs = store.subscriptions(a.account, a.contacts[0]).await.expect("subs");
    assert_eq!(subs[0].status, SubscriptionStatus::Confirmed);
    assert!(store.report_events(a.account, None, 10).await.expect("a").is_empty());
    let of_b = store.report_events(b.account, None, 10).await.expect("b");
    assert_eq!((of_b.len(), of_b[0].campaign_id, of_b[0].contact_id), (1, None, None));
    assert_eq!(store.soft_bounces_since(b.account, a.contacts[0], 0).await.expect("count"), 0);
    assert!(store.unrecorded_sync_bounces(b.account, a.campaign, 10).await.expect("sync").is_empty());
}

async fn flags_are_set_once_and_listed_per_account(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let a = world(store, "zeta", 0).await;
    let b = world(store, "eta", 0).await;
    assert!(store.set_reputation_flag(a.account, None, "complaint_rate", &json!({"rate": 0.002})).await.expect("set"));
    assert!(
        !store.set_reputation_flag(a.account, None, "complaint_rate", &json!({"rate": 0.004})).await.expect("again")
    );
    assert!(
        store
            .set_reputation_flag(a.account, Some(a.campaign), "campaign_complaint_rate", &json!({}))
            .await
            .expect("set")
    );
    assert!(store.set_reputation_flag(b.account, None, "complaint_rate", &json!({})).await.expect("set b"));
    let of_a = store.reputation_flags(Some(a.account)).await.expect("flags");
    assert_eq!(of_a.len(), 2);
    let account_flag = of_a.iter().find(|f| f.campaign_id.is_none()).expect("account flag");
    assert_eq!((account_flag.kind.as_str(), account_flag.detail["rate"].as_f64()), ("complaint_rate", Some(0.002)));
    assert!(of_a.iter().any(|f| f.campaign_id == Some(a.campaign)));
    assert_eq!(store.reputation_flags(None).await.expect("all").len(), 3);
    assert!(store.clear_reputation_flag(a.account, None, "complaint_rate").await.expect("clear"));
    assert!(!store.clear_reputation_flag(a.account, None, "complaint_rate").await.expect("clear again"));
    assert_eq!(store.reputation_flags(Some(a.account)).await.expect("flags").len(), 1);
}

async fn outcomes_are_recorded_per_recipient_for_the_lease_owner(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let w = world(store, "delta", 7).await;
    let now = assent_store_now();
    let c = store.get_campaign(w.account, w.campaign).await.expect("get").expect("campaign");
    assert_eq!(store.claim_deliveries(&c, now, 100, 60_000, "w1").await.expect("claim").len(), 7);
    let id = |i: usize| w.contacts[i].get();
    let later = now + 3_600_000;
    let outcomes = vec![
        // Accepted replies differ per message (queue ids); each is kept.
        (id(0), DeliveryOutcome::Sent { reply: "250 2.0.0 Ok: queued as A1".into() }),
        (id(1), DeliveryOutcome::Sent { reply: "250 2.0.0 Ok: queued as B2".into() }),
        (id(2), DeliveryOutcome::Deferred { next_at: later, reply: "451 4.7.1 try later".into() }),
        (id(3), DeliveryOutcome::Bounced { reply: "550 5.1.1 unknown".into() }),
        (id(4), DeliveryOutcome::Skipped { reason: "role address".into() }),
        (id(5), DeliveryOutcome::Failed { reply: "template error".into() }),
    ];
    // Another worker's outcomes touch nothing: it does not hold the lease.
    store.finish_deliveries(w.campaign, &outcomes, "w2").await.expect("finish as w2");
    let counts = store.delivery_counts(w.account, w.campaign).await.expect("counts");
    assert_eq!((counts.queued, counts.sent), (7, 0));
    store.finish_deliveries(w.campaign, &outcomes, "w1").await.expect("finish");
    let counts = store.delivery_counts(w.account, w.campaign).await.expect("counts");
    assert_eq!(
        (counts.total, counts.queued, counts.sent, counts.deferred, counts.bounced, counts.failed, counts.skipped),
        (7, 1, 2, 1, 1, 1, 1)
    );
    // Another account sees nothing of the campaign.
    let foreign = store.delivery_counts(AccountId(w.account.get() + 1000), w.campaign).await.expect("counts");
    assert_eq!(foreign.total, 0);
    for (i, expected) in [(0, "sent"), (2, "deferred"), (3, "bounced"), (5, "failed"), (6, "queued")] {
        let found = store.find_delivery(w.campaign, w.contacts[i]).await.expect("find").map(|d| d.status);
        assert_eq!(found.as_deref(), Some(expected), "recipient {i}");
    }
    // The leases of finished rows are gone: the queued one left over comes
    // back after its lease, the deferred one only when it is due.
    assert!(store.claim_deliveries(&c, now, 100, 60_000, "w3").await.expect("claim").is_empty());
    let again = store.claim_deliveries(&c, now + 120_000, 100, 60_000, "w3").await.expect("claim");
    assert_eq!(again.iter().map(|d| d.member.contact).collect::<Vec<_>>(), vec![id(6)]);
    let due = store.claim_deliveries(&c, later + 1, 100, 60_000, "w4").await.expect("claim");
    assert!(due.iter().any(|d| d.member.contact == id(2)), "the deferred recipient is due again");
    // A thousand outcomes in one call (more than one statement's chunk).
    let big = world(store, "epsilon", 1_100).await;
    let c = store.get_campaign(big.account, big.campaign).await.expect("get").expect("campaign");
    let claimed = store.claim_deliveries(&c, now, 2_000, 60_000, "w1").await.expect("claim");
    assert_eq!(claimed.len(), 1_100);
    let outcomes: Vec<_> = big
        .contacts
        .iter()
        .enumerate()
        .map(|(i, c)| (c.get(), DeliveryOutcome::Sent { reply: format!("250 2.0.0 Ok: queued as {i}") }))
        .collect();
    store.finish_deliveries(big.campaign, &outcomes, "w1").await.expect("finish many");
    let counts = store.delivery_counts(big.account, big.campaign).await.expect("counts");
    assert_eq!((counts.total, counts.sent, counts.queued), (1_100, 1_100, 0));
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = assent_test_support::TempDb::new();
                    let store = assent_store::connect(&db.url()).await.expect("connect sqlite");
                    store.migrate().await.expect("migrate");
                    super::$name(store).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(url) = assent_test_support::postgres_url().await else { return };
                    let store = assent_store::connect(&url).await.expect("connect postgres");
                    store.migrate().await.expect("migrate");
                    super::$name(store).await;
                }
            )*
        }
    };
}

async fn audience_pages_list_each_confirmed_contact_once(store: Arc<dyn Store>) {
    let store = store.as_ref();
    let w = world(store, "theta", 5).await;
    let second = store.create_list(w.account, "Offers", "").await.expect("list").id;
    let subscribe = |contact: ContactId, list: ListId, status: SubscriptionStatus| PutSubscription {
        contact,
        list,
        expected: None,
        status,
        origin: "contract".into(),
        evidence: json!({"contract_ref": "K"}),
    };
    // Contact 1 is on both lists, 3 only unsubscribed from the second; a
    // contact only on the second list comes after the others.
    let put = subscribe(w.contacts[1], second, SubscriptionStatus::Confirmed);
    assert!(store.put_subscription(w.account, &put).await.expect("subscribe"));
    let put = subscribe(w.contacts[3], second, SubscriptionStatus::Unsubscribed);
    assert!(store.put_subscription(w.account, &put).await.expect("subscribe"));
    let (only_second, _) =
        store.upsert_contact(w.account, &addr("late@theta.example"), &serde_json::Map::new()).await.expect("contact");
    let put = subscribe(only_second.id, second, SubscriptionStatus::Confirmed);
    assert!(store.put_subscription(w.account, &put).await.expect("subscribe"));
    // Contact 4 is suppressed: never in a page.
    let hard = NewReportEvent { source: "smtp".into(), ..report(&w, 4, ReportEventKind::Hard, assent_store_now()) };
    assert!(store.record_report(w.account, &hard, &hard_effect()).await.expect("hard").suppressed);

    let ids = |page: &assent_store::AudiencePage| page.members.iter().map(|m| m.contact).collect::<Vec<_>>();
    let c = |i: usize| w.contacts[i].get();
    let one = store.audience_page(w.account, &[w.list], None, 0, 100).await.expect("page");
    assert_eq!(ids(&one), vec![c(0), c(1), c(2), c(3)]);
    assert!(one.done);
    assert!(one.members.iter().all(|m| m.list == w.list));
    assert_eq!(one.members[0].email, "p0@theta.example");

    let both = store.audience_page(w.account, &[w.list, second], None, 0, 100).await.expect("page");
    assert_eq!(ids(&both), vec![c(0), c(1), c(2), c(3), only_second.id.get()]);
    let on_both = both.members.iter().find(|m| m.contact == c(1)).expect("contact on both lists");
    assert_eq!(on_both.list, w.list.min(second), "the first of the lists");

    // Pages of two, each starting where the last one ended.
    let mut after = 0;
    let mut seen = Vec::new();
    for _ in 0..10 {
        let page = store.audience_page(w.account, &[w.list, second], None, after, 2).await.expect("page");
        assert!(page.members.len() <= 2);
        seen.extend(ids(&page));
        after = page.next_after;
        if page.done {
            break;
        }
    }
    assert_eq!(seen, ids(&both));
}

contract!(
    hard_bounce_suppresses_once_and_writes_history,
    soft_bounces_escalate_within_the_window,
    complaints_move_to_complained_and_counts_add_up,
    reports_stay_in_their_account,
    flags_are_set_once_and_listed_per_account,
    outcomes_are_recorded_per_recipient_for_the_lease_owner,
    audience_pages_list_each_confirmed_contact_once,
);
