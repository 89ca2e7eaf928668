//! The store contract: every test below runs once on SQLite and once on
//! PostgreSQL (modules `sqlite::` and `postgres::` in the test names), so
//! the two backends cannot drift apart.

use std::sync::Arc;

use assent_domain::{
    AccountId, AccountStatus, ContactId, EmailAddress, Imprint, ImprintDraft, ListId, SubscriptionStatus,
    SuppressionHash, SuppressionReason, TokenId, UserRole,
};
use assent_store::{
    AuditSubmission, ConfirmOutcome, DoiRequest, FormUpdate, ImportBatch, ImportRejection, ImportRow, NewAuditEntry,
    NewConsentEvent, NewForm, NewImport, NewToken, PutSubscription, Store, StoreError, TokenOwner, UnsubscribeOutcome,
};
use serde_json::json;

fn addr(s: &str) -> EmailAddress {
    EmailAddress::parse(s).expect("valid test address")
}

fn imprint(name: &str) -> Imprint {
    Imprint::parse(ImprintDraft {
        name: Some(name.into()),
        legal_form: Some("GmbH".into()),
        representative: Some("Erika Mustermann".into()),
        street: Some("Musterstraße 1".into()),
        postal_code: Some("10115".into()),
        city: Some("Berlin".into()),
        country: Some("DE".into()),
        email: Some("impressum@beispiel.de".into()),
        phone: Some("+49 30 1234567".into()),
        register_court: Some("Amtsgericht Charlottenburg".into()),
        register_number: Some("HRB 12345".into()),
        vat_id: Some("DE123456789".into()),
    })
    .expect("complete imprint")
}

fn audit_entry(account: Option<AccountId>, action: &str) -> NewAuditEntry {
    NewAuditEntry {
        account,
        actor: "test".into(),
        action: action.into(),
        target: String::new(),
        detail: json!({"k": 1}),
        ip: Some("192.0.2.1".into()),
    }
}

async fn two_accounts(store: &dyn Store) -> (AccountId, AccountId) {
    let (a, _) = store.create_account("Alpha", &addr("owner@alpha.example")).await.expect("account a");
    let (b, _) = store.create_account("Beta", &addr("owner@beta.example")).await.expect("account b");
    (a.id, b.id)
}

async fn migrate_is_idempotent(store: Arc<dyn Store>) {
    store.migrate().await.expect("second migrate is a no-op");
    store.ping().await.expect("ping");
}

async fn account_lifecycle_is_compare_and_set(store: Arc<dyn Store>) {
    let (account, owner) = store.create_account("Alpha", &addr("Owner@Alpha.Example")).await.expect("create");
    assert_eq!(account.status, AccountStatus::PendingAudit);
    assert_eq!(account.owner_email, "Owner@alpha.example");
    let users = store.list_users(account.id).await.expect("users");
    assert_eq!(users.len(), 1);
    assert_eq!((users[0].id, users[0].role), (owner, UserRole::Owner));

    let moved = store
        .transition_account(
            account.id,
            AccountStatus::PendingAudit,
            AccountStatus::Active,
            None,
            &audit_entry(Some(account.id), "activate"),
        )
        .await
        .expect("transition");
    assert!(moved);
    // A second operator acting on the stale status loses.
    let stale = store
        .transition_account(
            account.id,
            AccountStatus::PendingAudit,
            AccountStatus::Rejected,
            Some("x"),
            &audit_entry(Some(account.id), "reject"),
        )
        .await
        .expect("transition");
    assert!(!stale);
    let got = store.get_account(account.id).await.expect("get").expect("exists");
    assert_eq!(got.status, AccountStatus::Active);
    // Only the successful transition was logged.
    let log = store.audit_log(Some(account.id), 10).await.expect("log");
    assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), vec!["activate"]);
    assert!(store.get_account(AccountId(account.id.get() + 1000)).await.expect("get").is_none());
    assert_eq!(store.list_accounts().await.expect("list").len(), 1);
}

async fn audit_and_imprint_round_trip(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    assert!(store.get_imprint(a).await.expect("imprint").is_none());
    let submission = AuditSubmission {
        imprint: imprint("Alpha GmbH"),
        website: "https://alpha.example".into(),
        list_origins: "web form".into(),
        consent_collection: "double opt-in".into(),
        expected_monthly_volume: 5000,
    };
    store.submit_audit(a, &submission).await.expect("submit");
    let second = AuditSubmission { imprint: imprint("Alpha Two GmbH"), ..submission.clone() };
    store.submit_audit(a, &second).await.expect("resubmit");
    assert_eq!(store.get_imprint(a).await.expect("imprint"), Some(imprint("Alpha Two GmbH")));
    let latest = store.latest_audit(a).await.expect("audit").expect("exists");
    assert_eq!(latest.imprint.name.as_deref(), Some("Alpha Two GmbH"));
    assert_eq!(latest.expected_monthly_volume, 5000);
    assert!(store.get_imprint(b).await.expect("imprint").is_none());
    assert!(store.latest_audit(b).await.expect("audit").is_none());
}

async fn tokens_are_found_by_hash_and_revoked_per_account(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let op = store.create_operator("op@example.test", None).await.expect("operator");
    assert_eq!(store.operator_count().await.expect("count"), 1);
    assert_eq!(store.find_operator("op@example.test").await.expect("find").map(|o| o.id), Some(op));
    let op_token = store
        .create_token(&NewToken {
            owner: TokenOwner::Operator(op),
            role: UserRole::Owner,
            name: "op".into(),
            token_hash: "h-op".into(),
        })
        .await
        .expect("op token");
    let a_token = store
        .create_token(&NewToken {
            owner: TokenOwner::Account { account: a, user: None },
            role: UserRole::Editor,
            name: "a".into(),
            token_hash: "h-a".into(),
        })
        .await
        .expect("a token");
    let found = store.find_token("h-a").await.expect("find").expect("exists");
    assert_eq!(
        (found.id, found.owner, found.role),
        (a_token, TokenOwner::Account { account: a, user: None }, UserRole::Editor)
    );
    assert_eq!(store.find_token("h-op").await.expect("find").map(|t| t.owner), Some(TokenOwner::Operator(op)));
    assert!(store.find_token("nope").await.expect("find").is_none());
    // The same hash twice is a conflict, not a silent second owner.
    let dup = store
        .create_token(&NewToken {
            owner: TokenOwner::Account { account: b, user: None },
            role: UserRole::Owner,
            name: "b".into(),
            token_hash: "h-a".into(),
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "{dup:?}");
    // Account B cannot revoke A's token, nor the operator's.
    assert!(!store.revoke_token(b, a_token).await.expect("revoke"));
    assert!(!store.revoke_token(b, op_token).await.expect("revoke"));
    assert!(store.revoke_token(a, a_token).await.expect("revoke"));
    assert!(!store.revoke_token(a, a_token).await.expect("revoke twice"));
    assert!(store.find_token("h-a").await.expect("find").is_none());
    let listed = store.list_tokens(a).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert!(listed[0].revoked_at.is_some());
    assert!(store.list_tokens(b).await.expect("list").is_empty());
    assert!(!store.revoke_token(a, TokenId(9_999)).await.expect("revoke unknown"));
}

async fn lists_are_scoped_by_account(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let list = store.create_list(a, "News", "weekly").await.expect("create");
    assert_eq!(store.list_lists(a).await.expect("lists").len(), 1);
    assert!(store.list_lists(b).await.expect("lists").is_empty());
    assert!(store.get_list(b, list.id).await.expect("get").is_none());
    assert!(store.update_list(b, list.id, Some("Hijack"), None).await.expect("update").is_none());
    assert!(!store.delete_list(b, list.id).await.expect("delete"));
    let renamed = store.update_list(a, list.id, Some("Weekly News"), None).await.expect("update").expect("exists");
    assert_eq!((renamed.name.as_str(), renamed.description.as_str()), ("Weekly News", "weekly"));
    assert!(store.delete_list(a, list.id).await.expect("delete"));
    assert!(store.get_list(a, list.id).await.expect("get").is_none());
    assert!(!store.delete_list(a, list.id).await.expect("delete twice"));
}

async fn contacts_merge_and_stay_in_their_account(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let mut attrs = serde_json::Map::new();
    attrs.insert("first_name".into(), json!("Ada"));
    let (c, created) = store.upsert_contact(a, &addr("Ada@Example.org"), &attrs).await.expect("create");
    assert!(created);
    let mut more = serde_json::Map::new();
    more.insert("city".into(), json!("London"));
    // Same person, other spelling of the address: the same contact.
    let (c2, created) = store.upsert_contact(a, &addr("ada@EXAMPLE.org"), &more).await.expect("merge");
    assert!(!created);
    assert_eq!(c2.id, c.id);
    assert_eq!(c2.attributes.get("first_name"), Some(&json!("Ada")));
    assert_eq!(c2.attributes.get("city"), Some(&json!("London")));
    assert_eq!(store.find_contact(a, &addr("ADA@example.org")).await.expect("find").map(|c| c.id), Some(c.id));
    // Account B sees nothing of it, and the same address is a new contact there.
    assert!(store.get_contact(b, c.id).await.expect("get").is_none());
    assert!(store.find_contact(b, &addr("ada@example.org")).await.expect("find").is_none());
    let (cb, created) = store.upsert_contact(b, &addr("ada@example.org"), &serde_json::Map::new()).await.expect("b");
    assert!(created);
    assert_ne!(cb.id, c.id);
    let page = store.list_contacts(a, None, 10).await.expect("page");
    assert_eq!(page.iter().map(|c| c.id).collect::<Vec<_>>(), vec![c.id]);
    assert!(store.list_contacts(a, Some(c.id), 10).await.expect("page").is_empty());
}

async fn subscriptions_are_compare_and_set(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let list = store.create_list(a, "News", "").await.expect("list");
    let other_list = store.create_list(b, "Other", "").await.expect("list");
    let (c, _) = store.upsert_contact(a, &addr("ada@example.org"), &serde_json::Map::new()).await.expect("contact");
    let put = |expected, status| PutSubscription {
        contact: c.id,
        list: list.id,
        expected,
        status,
        origin: "double_opt_in".into(),
        evidence: json!({"form": "f1"}),
    };
    assert!(store.put_subscription(a, &put(None, SubscriptionStatus::Pending)).await.expect("insert"));
    assert!(!store.put_subscription(a, &put(None, SubscriptionStatus::Pending)).await.expect("insert twice"));
    assert!(
        !store
            .put_subscription(a, &put(Some(SubscriptionStatus::Confirmed), SubscriptionStatus::Unsubscribed))
            .await
            .expect("stale")
    );
    assert!(
        store
            .put_subscription(a, &put(Some(SubscriptionStatus::Pending), SubscriptionStatus::Confirmed))
            .await
            .expect("confirm")
    );
    let subs = store.subscriptions(a, c.id).await.expect("subs");
    assert_eq!(subs.len(), 1);
    assert_eq!((subs[0].status, subs[0].evidence.clone()), (SubscriptionStatus::Confirmed, json!({"form": "f1"})));
    // Another account's list, or this contact through another account: nothing happens.
    let cross = PutSubscription { list: other_list.id, ..put(None, SubscriptionStatus::Pending) };
    assert!(!store.put_subscription(a, &cross).await.expect("cross list"));
    assert!(!store.put_subscription(b, &put(None, SubscriptionStatus::Pending)).await.expect("cross account"));
    assert!(store.subscriptions(b, c.id).await.expect("subs").is_empty());
    // Deleting the list ends the subscription.
    assert!(store.delete_list(a, list.id).await.expect("delete"));
    assert!(store.subscriptions(a, c.id).await.expect("subs").is_empty());
}

async fn consent_events_are_kept_in_order(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let list = store.create_list(a, "News", "").await.expect("list");
    let (c, _) = store.upsert_contact(a, &addr("ada@example.org"), &serde_json::Map::new()).await.expect("contact");
    for kind in ["requested", "confirmation_sent", "confirmed"] {
        store
            .append_consent_event(
                a,
                &NewConsentEvent {
                    contact: c.id,
                    list: Some(list.id),
                    kind: kind.into(),
                    source: "form:abc".into(),
                    ip: Some("198.51.100.7".into()),
                    user_agent: Some("Mozilla/5.0".into()),
                    evidence: json!({"wording_version": 3}),
                },
            )
            .await
            .expect("append");
    }
    let events = store.consent_events(a, c.id).await.expect("events");
    assert_eq!(
        events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["requested", "confirmation_sent", "confirmed"]
    );
    assert_eq!(events[2].ip.as_deref(), Some("198.51.100.7"));
    assert_eq!(events[2].evidence, json!({"wording_version": 3}));
    assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    // Account B can neither read nor attach events to A's contact.
    assert!(store.consent_events(b, c.id).await.expect("events").is_empty());
    let foreign = store
        .append_consent_event(
            b,
            &NewConsentEvent {
                contact: c.id,
                list: None,
                kind: "confirmed".into(),
                source: "api".into(),
                ip: None,
                user_agent: None,
                evidence: json!({}),
            },
        )
        .await;
    assert!(matches!(foreign, Err(StoreError::Conflict(_))), "{foreign:?}");
    assert!(store.consent_events(a, ContactId(c.id.get() + 1000)).await.expect("events").is_empty());
    // The proof survives the list's deletion.
    store.delete_list(a, list.id).await.expect("delete");
    assert_eq!(store.consent_events(a, c.id).await.expect("events").len(), 3);
    assert_eq!(store.consent_events(a, c.id).await.expect("events")[0].list_id, Some(ListId(list.id.get())));
}

async fn suppressions_are_hashed_per_account(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let hash = SuppressionHash::of(&addr("Gone@Example.org"));
    assert!(store.suppress(a, &hash, SuppressionReason::HardBounce).await.expect("suppress"));
    assert!(!store.suppress(a, &hash, SuppressionReason::Unsubscribed).await.expect("again"));
    let s = store.suppression(a, &hash).await.expect("lookup").expect("present");
    assert_eq!((s.reason, s.address_hash.as_str()), (SuppressionReason::HardBounce, hash.as_str()));
    // Normalisation: another spelling of the same address hits the entry.
    assert!(store.suppression(a, &SuppressionHash::of(&addr("gone@EXAMPLE.ORG"))).await.expect("lookup").is_some());
    assert!(store.suppression(b, &hash).await.expect("lookup").is_none());
    assert_eq!(store.list_suppressions(a, 10).await.expect("list").len(), 1);
    assert!(store.list_suppressions(b, 10).await.expect("list").is_empty());
    assert!(!store.unsuppress(b, &hash).await.expect("foreign unsuppress"));
    assert!(store.unsuppress(a, &hash).await.expect("unsuppress"));
    assert!(store.suppression(a, &hash).await.expect("lookup").is_none());
}

async fn audit_log_is_newest_first_and_scoped(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    store.record_action(&audit_entry(Some(a), "one")).await.expect("one");
    store.record_action(&audit_entry(Some(a), "two")).await.expect("two");
    store.record_action(&audit_entry(Some(b), "other")).await.expect("other");
    store.record_action(&audit_entry(None, "operator")).await.expect("operator");
    let log = store.audit_log(Some(a), 10).await.expect("log");
    assert_eq!(log.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["two", "one"]);
    assert_eq!(log[0].detail, json!({"k": 1}));
    assert_eq!(log[0].ip.as_deref(), Some("192.0.2.1"));
    assert_eq!(store.audit_log(None, 10).await.expect("log").len(), 1);
    assert_eq!(store.audit_log(Some(a), 1).await.expect("log").len(), 1);
}

async fn concurrent_writers_do_not_fail(store: Arc<dyn Store>) {
    let (a, _) = two_accounts(store.as_ref()).await;
    let mut tasks = Vec::new();
    for i in 0..16 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for j in 0..10 {
                let email = addr(&format!("user{i}_{j}@example.org"));
                store.upsert_contact(a, &email, &serde_json::Map::new()).await.expect("concurrent upsert");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(store.list_contacts(a, None, 1000).await.expect("list").len(), 160);
}

async fn double_opt_in_flow_keeps_proof_and_never_downgrades(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let list = store.create_list(a, "News", "").await.expect("list");
    let form = store
        .create_form(
            a,
            &NewForm {
                public_id: "pub1".into(),
                name: "F".into(),
                list_ids: vec![list.id],
                fields: vec!["first_name".into()],
                language: "de".into(),
                success_url: None,
                confirm_url: None,
                consent_text: "v1".into(),
            },
        )
        .await
        .expect("form");
    assert_eq!(store.find_public_form("pub1").await.expect("find").map(|f| f.account_id), Some(a));
    assert!(store.get_form(b, "pub1").await.expect("get").is_none());
    let v2 = store
        .update_form(a, "pub1", &FormUpdate { consent_text: Some("v2".into()), ..FormUpdate::default() })
        .await
        .expect("update")
        .expect("exists");
    assert_eq!((v2.version, v2.consent_text.as_str()), (2, "v2"));
    let same = store
        .update_form(a, "pub1", &FormUpdate { name: Some("G".into()), ..FormUpdate::default() })
        .await
        .expect("update")
        .expect("exists");
    assert_eq!(same.version, 2, "an unchanged wording is not a new version");

    let request = |nonce: i64| DoiRequest {
        email: addr("Ada@Example.org"),
        attributes: serde_json::Map::new(),
        lists: vec![list.id],
        form: Some((form.id, 2)),
        consent_text: "v2".into(),
        source: "form:pub1".into(),
        language: "de".into(),
        ip: Some("198.51.100.1".into()),
        user_agent: Some("UA".into()),
        resend_interval_ms: 600_000,
        expires_at_ms: i64::MAX / 2,
        nonce,
    };
    let first = store.request_double_opt_in(a, &request(7)).await.expect("request");
    let (conf, nonce) = first.queued.expect("a confirmation mail is queued");
    assert_eq!((first.pending.clone(), nonce), (vec![list.id], 7));
    // Within the interval: pending again, but no second mail.
    let again = store.request_double_opt_in(a, &request(8)).await.expect("request");
    assert_eq!((again.pending.len(), again.queued), (1, None));
    assert_eq!(store.queued_mail_count().await.expect("count"), 1);
    let claimed = store.claim_mail(i64::MAX / 4, 10, 60_000).await.expect("claim");
    assert_eq!(claimed.len(), 1);
    assert!(store.claim_mail(i64::MAX / 4, 10, 60_000).await.expect("claim").is_empty(), "leased");
    store.mark_mail_sent(&claimed[0]).await.expect("sent");
    assert_eq!(store.queued_mail_count().await.expect("count"), 0);

    // Confirmation: only with the right account and nonce, only once.
    assert_eq!(store.confirm(b, conf, 7, None, None, 1).await.expect("confirm"), ConfirmOutcome::NotFound);
    assert_eq!(store.confirm(a, conf, 8, None, None, 1).await.expect("confirm"), ConfirmOutcome::NotFound);
    assert_eq!(
        store.confirm(a, conf, 7, Some("203.0.113.5"), Some("UA2"), 1).await.expect("confirm"),
        ConfirmOutcome::Confirmed
    );
    assert_eq!(store.confirm(a, conf, 7, None, None, 2).await.expect("confirm"), ConfirmOutcome::AlreadyUsed);
    let contact = first.contact;
    let subs = store.subscriptions(a, contact).await.expect("subs");
    assert_eq!(subs[0].status, SubscriptionStatus::Confirmed);
    assert_eq!(subs[0].evidence["confirm_ip"], "203.0.113.5");
    assert_eq!(subs[0].evidence["form_version"], 2);
    assert!(subs[0].evidence["confirmation_sent_at"].as_i64().is_some());
    let kinds: Vec<String> =
        store.consent_events(a, contact).await.expect("events").into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["requested", "requested", "confirmation_sent", "confirmed"], "every request is recorded");
    // A new request for a confirmed address changes nothing.
    let resubmit = store.request_double_opt_in(a, &request(9)).await.expect("request");
    assert_eq!((resubmit.already_confirmed, resubmit.pending, resubmit.queued), (vec![list.id], vec![], None));
    assert_eq!(store.subscriptions(a, contact).await.expect("subs")[0].status, SubscriptionStatus::Confirmed);

    // Unsubscribe suppresses once nothing is left; repeating changes nothing.
    assert_eq!(
        store.unsubscribe(b, contact, None, "link", None, None).await.expect("unsub"),
        UnsubscribeOutcome::NotFound
    );
    assert_eq!(
        store.unsubscribe(a, contact, Some(list.id), "link", None, None).await.expect("unsub"),
        UnsubscribeOutcome::Unsubscribed
    );
    assert_eq!(
        store.unsubscribe(a, contact, None, "link", None, None).await.expect("unsub"),
        UnsubscribeOutcome::AlreadyUnsubscribed
    );
    let hash = SuppressionHash::of(&addr("ada@example.org"));
    assert_eq!(store.suppression(a, &hash).await.expect("s").map(|s| s.reason), Some(SuppressionReason::Unsubscribed));
    // Erasure: the address goes, the proof stays.
    assert!(!store.erase_contact(b, contact, "api", None).await.expect("erase"));
    assert!(store.erase_contact(a, contact, "api", None).await.expect("erase"));
    let erased = store.get_contact(a, contact).await.expect("get").expect("row stays");
    assert!(!erased.email.contains("ada"));
    assert!(store.find_contact(a, &addr("ada@example.org")).await.expect("find").is_none());
    assert_eq!(
        store.consent_events(a, contact).await.expect("events").last().map(|e| e.kind.clone()),
        Some("erased".into())
    );
    // Erasing again finds the contact and adds nothing to the proof.
    assert!(store.erase_contact(a, contact, "api", None).await.expect("erase again"));
    let erasures =
        store.consent_events(a, contact).await.expect("events").iter().filter(|e| e.kind == "erased").count();
    assert_eq!(erasures, 1, "one erasure, one event");
}

async fn unconfirmed_sign_ups_are_purged(store: Arc<dyn Store>) {
    let (a, _) = two_accounts(store.as_ref()).await;
    let list = store.create_list(a, "News", "").await.expect("list");
    let out = store
        .request_double_opt_in(
            a,
            &DoiRequest {
                email: addr("late@example.org"),
                attributes: serde_json::Map::new(),
                lists: vec![list.id],
                form: None,
                consent_text: "t".into(),
                source: "api".into(),
                language: "en".into(),
                ip: Some("192.0.2.9".into()),
                user_agent: None,
                resend_interval_ms: 0,
                expires_at_ms: 1,
                nonce: 1,
            },
        )
        .await
        .expect("request");
    assert_eq!(store.purge_unconfirmed(0).await.expect("purge"), 0, "nothing is old enough");
    assert_eq!(store.purge_unconfirmed(i64::MAX / 2).await.expect("purge"), 1);
    assert!(store.subscriptions(a, out.contact).await.expect("subs").is_empty());
    assert!(store.find_contact(a, &addr("late@example.org")).await.expect("find").is_none());
    let c = store.get_confirmation(a, out.queued.expect("queued").0).await.expect("get").expect("kept");
    assert_eq!(c.request_ip, None, "the IP of someone who never confirmed is gone");
}

/// An import of a file declared as offline-form consent, without review.
fn file_import(list_id: ListId) -> NewImport {
    NewImport {
        list_id,
        review: "not_required",
        review_reason: None,
        origin: Some("offline_form".into()),
        evidence: json!({"document_ref": "d"}),
        options: json!({}),
        file_path: "/nonexistent.csv".into(),
        file_name: "x.csv".into(),
        file_size: 100,
        created_by: "test".into(),
        ip: None,
    }
}

/// A checked row of such a file.
fn import_row(line: i64, email: &str, attrs: &str) -> ImportRow {
    let e = addr(email);
    ImportRow {
        line,
        email: e.as_str().into(),
        email_norm: e.normalized(),
        hash: SuppressionHash::of(&e).as_str().into(),
        attributes: attrs.into(),
        origin: "offline_form".into(),
        evidence: json!({}),
    }
}

async fn import_batches_apply_once_and_rejection_removes_new_contacts(store: Arc<dyn Store>) {
    let (a, b) = two_accounts(store.as_ref()).await;
    let list = store.create_list(a, "Customers", "").await.expect("list");
    let (existing, _) =
        store.upsert_contact(a, &addr("old@example.org"), &serde_json::Map::new()).await.expect("contact");
    store
        .put_subscription(
            a,
            &PutSubscription {
                contact: existing.id,
                list: list.id,
                expected: None,
                status: SubscriptionStatus::Unsubscribed,
                origin: "contract".into(),
                evidence: json!({}),
            },
        )
        .await
        .expect("sub");
    store
        .suppress(a, &SuppressionHash::of(&addr("gone@example.org")), SuppressionReason::Complaint)
        .await
        .expect("suppress");
    let new = NewImport { review: "pending", review_reason: Some("new account".into()), ..file_import(list.id) };
    assert!(matches!(store.create_import(b, &new).await, Err(StoreError::Conflict(_))), "another account's list");
    let import = store.create_import(a, &new).await.expect("import");
    assert_eq!((import.status.as_str(), import.review.as_str()), ("pending_review", "pending"));
    let mut rows: Vec<ImportRow> =
        (0..1200).map(|i| import_row(i + 2, &format!("p{i}@example.org"), r#"{"n":"1"}"#)).collect();
    rows.push(import_row(1300, "old@example.org", r#"{"city":"Bonn"}"#));
    rows.push(import_row(1301, "gone@example.org", "{}"));
    let batch = ImportBatch {
        rows,
        rejections: vec![ImportRejection {
            line: 1302,
            address: "info@x.org".into(),
            reason: "role_address".into(),
            risky: true,
        }],
        byte_offset: 5000,
        line: 1303,
    };
    let counts = store.apply_import_batch(&import, &batch).await.expect("apply");
    assert_eq!((counts.imported, counts.merged, counts.rejected), (1200, 0, 3));
    // The same batch again (a second worker with a stale view) is refused.
    assert!(matches!(store.apply_import_batch(&import, &batch).await, Err(StoreError::Conflict(_))));
    let now = store.get_import(a, import.id).await.expect("get").expect("exists");
    assert_eq!((now.byte_offset, now.rows_done, now.imported, now.rejected, now.risky), (5000, 1203, 1200, 3, 1));
    assert!(store.get_import(b, import.id).await.expect("get").is_none());
    let reasons: Vec<String> =
        store.import_rejections(a, import.id, 0, 10).await.expect("rejections").into_iter().map(|r| r.reason).collect();
    assert_eq!(reasons, ["unsubscribed", "suppressed", "role_address"]);
    assert!(store.import_rejections(b, import.id, 0, 10).await.expect("rejections").is_empty());
    // The unsubscribed contact was not brought back, but its attributes merged.
    let old = store.get_contact(a, existing.id).await.expect("get").expect("exists");
    assert_eq!(old.attributes.get("city"), Some(&json!("Bonn")));
    assert_eq!(store.subscriptions(a, existing.id).await.expect("subs")[0].status, SubscriptionStatus::Unsubscribed);
    store.finish_import(import.id, "pending_review", "pending", None).await.expect("finish");
    assert_eq!(store.imports_in_review(10).await.expect("queue").len(), 1);
    assert!(store.decide_import(import.id, false, "bought").await.expect("reject"));
    assert!(!store.decide_import(import.id, true, "").await.expect("not in review any more"));
    assert!(store.find_contact(a, &addr("p7@example.org")).await.expect("find").is_none());
    assert!(store.find_contact(a, &addr("old@example.org")).await.expect("find").is_some());
    assert_eq!(store.list_contacts(a, None, 10_000).await.expect("contacts").len(), 1);
}

/// New, existing and repeated addresses count the same however a backend
/// writes a batch (SQLite takes a shorter way for distinct addresses with
/// the file's consent).
async fn import_batches_count_new_existing_and_repeated_rows_alike(store: Arc<dyn Store>) {
    let (a, _) = two_accounts(store.as_ref()).await;
    let list = store.create_list(a, "Customers", "").await.expect("list");
    let (member, _) =
        store.upsert_contact(a, &addr("member@example.org"), &serde_json::Map::new()).await.expect("contact");
    let put = |contact| PutSubscription {
        contact,
        list: list.id,
        expected: None,
        status: SubscriptionStatus::Confirmed,
        origin: "contract".into(),
        evidence: json!({}),
    };
    store.put_subscription(a, &put(member.id)).await.expect("sub");
    let (outsider, _) =
        store.upsert_contact(a, &addr("outsider@example.org"), &serde_json::Map::new()).await.expect("contact");
    let new = file_import(list.id);
    let import = store.create_import(a, &new).await.expect("import");
    // Distinct addresses: three new, one already a member, one a contact
    // without this list.
    let first = ImportBatch {
        rows: vec![
            import_row(2, "n1@example.org", "{}"),
            import_row(3, "member@example.org", r#"{"city":"Bonn"}"#),
            import_row(4, "n2@example.org", "{}"),
            import_row(5, "outsider@example.org", "{}"),
            import_row(6, "n3@example.org", r#"{"n":"3"}"#),
        ],
        rejections: vec![],
        byte_offset: 100,
        line: 7,
    };
    let counts = store.apply_import_batch(&import, &first).await.expect("apply");
    assert_eq!((counts.imported, counts.merged, counts.rejected), (4, 1, 0));
    // An address twice, and one the previous batch brought.
    let import = store.get_import(a, import.id).await.expect("get").expect("exists");
    let second = ImportBatch {
        rows: vec![
            import_row(7, "twice@example.org", r#"{"n":"1"}"#),
            import_row(8, "n1@example.org", "{}"),
            import_row(9, "twice@example.org", r#"{"city":"Ulm"}"#),
        ],
        rejections: vec![],
        byte_offset: 200,
        line: 10,
    };
    let counts = store.apply_import_batch(&import, &second).await.expect("apply");
    assert_eq!((counts.imported, counts.merged, counts.rejected), (1, 2, 0));
    let done = store.get_import(a, import.id).await.expect("get").expect("exists");
    assert_eq!((done.rows_done, done.imported, done.merged, done.rejected), (8, 5, 3, 0));
    for email in ["n1@example.org", "n2@example.org", "n3@example.org", "outsider@example.org", "twice@example.org"] {
        let c = store.find_contact(a, &addr(email)).await.expect("find").expect("a contact per address");
        let subs = store.subscriptions(a, c.id).await.expect("subs");
        assert_eq!(subs.len(), 1, "{email}");
        assert_eq!(
            (subs[0].status, subs[0].origin.as_str()),
            (SubscriptionStatus::Confirmed, "offline_form"),
            "{email}"
        );
    }
    assert_eq!(
        store.subscriptions(a, member.id).await.expect("subs")[0].origin,
        "contract",
        "members keep their consent"
    );
    let member = store.get_contact(a, member.id).await.expect("get").expect("exists");
    assert_eq!(member.attributes.get("city"), Some(&json!("Bonn")));
    let n3 = store.find_contact(a, &addr("n3@example.org")).await.expect("find").expect("exists");
    assert_eq!(n3.attributes.get("n"), Some(&json!("3")));
    assert_eq!(store.get_contact(a, outsider.id).await.expect("get").expect("exists").id, outsider.id);
    assert_eq!(store.list_contacts(a, None, 100).await.expect("contacts").len(), 6);
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
                    println!("contract {} on backend {}", stringify!($name), store.backend().as_str());
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
                    println!("contract {} on backend {}", stringify!($name), store.backend().as_str());
                    super::$name(store).await;
                }
            )*
        }
    };
}

contract!(
    migrate_is_idempotent,
    import_batches_count_new_existing_and_repeated_rows_alike,
    account_lifecycle_is_compare_and_set,
    audit_and_imprint_round_trip,
    tokens_are_found_by_hash_and_revoked_per_account,
    lists_are_scoped_by_account,
    contacts_merge_and_stay_in_their_account,
    subscriptions_are_compare_and_set,
    consent_events_are_kept_in_order,
    suppressions_are_hashed_per_account,
    audit_log_is_newest_first_and_scoped,
    concurrent_writers_do_not_fail,
    double_opt_in_flow_keeps_proof_and_never_downgrades,
    unconfirmed_sign_ups_are_purged,
    import_batches_apply_once_and_rejection_removes_new_contacts,
);

/// The database itself refuses to rewrite consent proof, whatever code runs.
#[tokio::test]
async fn consent_events_are_append_only_in_the_database() {
    let db = assent_test_support::TempDb::new();
    let sqlite = assent_store::SqliteStore::connect(&db.url()).await.expect("sqlite");
    let s: Arc<dyn Store> = Arc::new(sqlite.clone());
    s.migrate().await.expect("migrate");
    seed_event(s.as_ref()).await;
    for sql in ["UPDATE consent_events SET kind = 'forged'", "DELETE FROM consent_events"] {
        let err = sqlx::query(sql).execute(sqlite.pool()).await.expect_err("sqlite must refuse");
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    if let Some(url) = assent_test_support::postgres_url().await {
        let pg = assent_store::PgStore::connect(&url).await.expect("pg");
        let s: Arc<dyn Store> = Arc::new(pg.clone());
        s.migrate().await.expect("migrate");
        seed_event(s.as_ref()).await;
        for sql in ["UPDATE consent_events SET kind = 'forged'", "DELETE FROM consent_events"] {
            let err = sqlx::query(sql).execute(pg.pool()).await.expect_err("postgres must refuse");
            assert!(err.to_string().contains("append-only"), "{err}");
        }
    }
}

async fn seed_event(store: &dyn Store) {
    let (a, _) = store.create_account("Alpha", &addr("o@alpha.example")).await.expect("account");
    let (c, _) = store.upsert_contact(a.id, &addr("ada@example.org"), &serde_json::Map::new()).await.expect("contact");
    store
        .append_consent_event(
            a.id,
            &NewConsentEvent {
                contact: c.id,
                list: None,
                kind: "requested".into(),
                source: "api".into(),
                ip: None,
                user_agent: None,
                evidence: json!({}),
            },
        )
        .await
        .expect("append");
}
