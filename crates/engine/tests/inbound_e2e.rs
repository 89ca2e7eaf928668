//! Issue 7 end to end. Campaigns are sent through the real engine (HTTP
//! API, delivery worker, DKIM, VERP envelope senders) into the test app's
//! outbox; the test then plays the remote mail systems: it sends RFC 3464
//! DSNs, RFC 5965 ARF complaints, an RFC 3834 out-of-office answer and a
//! `mailto:` unsubscribe to the inbound SMTP listener over real SMTP, and
//! checks what became of each contact through the API. A second test drives
//! the reputation monitor over complaints and bounces that came in the same
//! way, with a small minimum sample.

mod support;

use std::sync::Arc;
use std::time::Duration;

use assent_domain::{AccountId, AccountStatus, ContactId, EmailAddress, ListId, SubscriptionStatus};
use assent_engine::inbound::{InboundProcessor, InboundSettings};
use assent_engine::reputation::{Monitor, ReputationConfig, account_reputation};
use assent_mail::token::{Purpose, TokenKey};
use assent_smtp::inbound::{InboundConfig, InboundServer};
use assent_smtp::{RecipientOutcome, Relay, SendOutcome, SmtpConnection, TlsMode};
use assent_store::{CampaignDraft, DeliveryOutcome, NewAuditEntry, PutSubscription, Store};
use assent_test_support::{TestApp, spawn_app_with};
use assent_web::WebConfig;
use serde_json::{Value, json};
use support::{Sent, contact, find, original, sent};

const HTML: &str = "<html><body><p>Hello {{ first_name | default('there') }},</p><p>Our autumn offers are here.</p>\
    <p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p><p>{{ imprint }}</p></body></html>";
const TEXT: &str = "Hello,\n\nOur autumn offers are here.\n\nUnsubscribe: {{ unsubscribe_url }}\n\n{{ imprint }}\n";
const FBL: &str = "fbl@bounce.news.beispiel.de";

async fn inbound(store: Arc<dyn Store>, tokens: Arc<TokenKey>) -> InboundServer {
    let settings = InboundSettings { feedback_address: Some(FBL.into()), ..InboundSettings::default() };
    let processor = Arc::new(InboundProcessor::new(store, tokens, settings));
    let config = InboundConfig {
        listen: "127.0.0.1:0".into(),
        hostname: "bounce.assent.test".into(),
        ..InboundConfig::default()
    };
    InboundServer::start(config, processor).await.expect("start the inbound listener")
}

/// Sends one message to the listener as a remote MTA would (null sender).
async fn deliver(server: &InboundServer, rcpts: &[&str], message: &str) -> SendOutcome {
    let mut relay = Relay::new("127.0.0.1", server.local_addr().port());
    relay.tls = TlsMode::None;
    relay.helo_name = "mx.example.org".into();
    let mut conn = SmtpConnection::connect(&relay).await.expect("connect to the inbound listener");
    let out = conn.send("", rcpts, message.as_bytes()).await.expect("send to the inbound listener");
    conn.quit().await;
    out
}

async fn accepted(server: &InboundServer, rcpt: &str, message: &str) {
    let out = deliver(server, &[rcpt], message).await;
    assert!(out.get(rcpt).is_some_and(RecipientOutcome::is_accepted), "{rcpt}: {out:?}");
}

fn headers_of(s: &Sent) -> String {
    let o = original(s);
    o.split("\r\n\r\n").next().unwrap_or("").to_string()
}

fn dsn(s: &Sent, action: &str, status: &str, diagnostic: &str, postfix_header: bool) -> String {
    let auto = if postfix_header { "Auto-Submitted: auto-replied\r\n" } else { "" };
    format!(
        "Return-Path: <>\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.example.org>\r\nTo: {verp}\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nDate: Mon, 6 Oct 2025 10:00:00 +0200\r\n\
         Message-ID: <{n}.dsn@mx.example.org>\r\n{auto}MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"dsn-b\"\r\n\r\n\
         --dsn-b\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n\
         This is the mail system at host mx.example.org.\r\n\r\nI'm sorry to have to inform you that your message could not\r\n\
         be delivered to one or more recipients.\r\n\r\n<{to}>: host mx.example.org said: {diagnostic}\r\n\r\n\
         --dsn-b\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; mx.example.org\r\nArrival-Date: Mon, 6 Oct 2025 09:59:58 +0200\r\n\r\n\
         Final-Recipient: rfc822; {to}\r\nOriginal-Recipient: rfc822;{to}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Remote-MTA: dns; mx.example.org\r\nDiagnostic-Code: smtp; {diagnostic}\r\n\r\n\
         --dsn-b\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--dsn-b--\r\n",
        verp = s.verp,
        n = s.to.len() + status.len(),
        to = s.to,
        headers = headers_of(s),
    )
}

fn arf(s: &Sent, to: &str, feedback_type: &str) -> String {
    format!(
        "From: Feedback Loop <fbl@feedback.mailbox.example>\r\nTo: {to}\r\nSubject: Abuse report\r\n\
         Date: Tue, 7 Oct 2025 08:00:00 +0000\r\nMessage-ID: <arf-{ft}@feedback.mailbox.example>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"arf-b\"\r\n\r\n\
         --arf-b\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report for a message received from 192.0.2.10.\r\n\r\n\
         --arf-b\r\nContent-Type: message/feedback-report\r\n\r\n\
         Feedback-Type: {ft}\r\nUser-Agent: ExampleFBL/2.1\r\nVersion: 1\r\nSource-IP: 192.0.2.10\r\n\
         Arrival-Date: Mon, 6 Oct 2025 09:59:58 +0200\r\nReported-Domain: news.beispiel.de\r\n\r\n\
         --arf-b\r\nContent-Type: message/rfc822\r\nContent-Disposition: inline\r\n\r\n{original}\r\n--arf-b--\r\n",
        ft = feedback_type,
        original = original(s),
    )
}

fn out_of_office(s: &Sent) -> String {
    format!(
        "From: {to}\r\nTo: {verp}\r\nSubject: Out of Office: Autumn offers\r\nAuto-Submitted: auto-replied\r\n\
         X-Auto-Response-Suppress: All\r\nPrecedence: auto_reply\r\nMessage-ID: <ooo@example.org>\r\n\r\n\
         I am out of the office until Monday and will read your message when I am back.\r\n",
        to = s.to,
        verp = s.verp,
    )
}

fn unsubscribe_request(s: &Sent) -> String {
    format!(
        "From: {to}\r\nTo: {mailto}\r\nSubject: unsubscribe\r\nMessage-ID: <unsub@example.org>\r\n\r\nPlease remove me.\r\n",
        to = s.to,
        mailto = s.mailto,
    )
}

struct Shop {
    token: String,
    list: i64,
}

async fn shop(app: &TestApp, contacts: usize) -> Shop {
    let (_, token) = app.active_account("Beispiel GmbH", "owner@beispiel.de").await;
    let (_, list) = app.call("POST", "/api/v1/lists", Some(&token), Some(json!({"name": "Customers"}))).await;
    let list = list["id"].as_i64().expect("list");
    for i in 0..contacts {
        let (status, c) = app
            .call(
                "POST",
                "/api/v1/contacts",
                Some(&token),
                Some(json!({"email": format!("person{i}@example.org"), "list_ids": [list],
                    "consent": {"origin": "contract", "evidence": {"contract_ref": format!("K{i}"), "notice_text": "We may email you."}}})),
            )
            .await;
        assert_eq!(status, 201, "{c}");
    }
    let (status, d) =
        app.call("POST", "/api/v1/sender-domains", Some(&token), Some(json!({"domain": "news.beispiel.de"}))).await;
    assert_eq!(status, 201, "{d}");
    let path = format!("/api/v1/sender-domains/{}/verify", d["id"]);
    let (status, v) = app
        .call("POST", &path, Some(&app.operator_token), Some(json!({"force": true, "reason": "checked by phone"})))
        .await;
    assert_eq!(status, 200, "{v}");
    Shop { token, list }
}

/// Sends a campaign to the list and returns the messages it delivered.
async fn send_campaign(app: &TestApp, s: &Shop, name: &str, delivered_before: usize) -> Vec<Sent> {
    let body = json!({"name": name, "subject": "Autumn offers", "from_email": "hello@news.beispiel.de",
        "from_name": "Beispiel Shop", "list_ids": [s.list], "html": HTML, "text": TEXT});
    let (status, c) = app.call("POST", "/api/v1/campaigns", Some(&s.token), Some(body)).await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_i64().expect("id");
    let (_, g) = app.call("GET", "/api/v1/guidelines", None, None).await;
    let accept = json!({"accept_guidelines": true, "guidelines_version": g["version"]});
    let (status, c) = app.call("POST", &format!("/api/v1/campaigns/{id}/send"), Some(&s.token), Some(accept)).await;
    assert_eq!(status, 202, "{c}");
    let mut done = Value::Null;
    for _ in 0..500 {
        let (_, c) = app.call("GET", &format!("/api/v1/campaigns/{id}"), Some(&s.token), None).await;
        if c["status"] == "sent" {
            done = c;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let n = done["counts"]["sent"].as_u64().unwrap_or_else(|| panic!("campaign {id} never finished")) as usize;
    let all = app.wait_for_mail(delivered_before + n).await;
    let mine: Vec<Sent> = all.iter().map(|m| sent(m)).filter(|m| campaign_of(&m.verp) == format!("{id:x}")).collect();
    assert_eq!(mine.len(), n, "one VERP sender per message of campaign {id}");
    mine
}

/// The campaign id (hex) in a VERP token `bounces+ACCOUNT-CAMPAIGN-CONTACT-MAC@…`.
fn campaign_of(verp: &str) -> String {
    verp.trim_start_matches("bounces+").split('-').nth(1).unwrap_or("").to_string()
}

fn events<'a>(c: &'a Value, kind: &str) -> Vec<&'a Value> {
    c["consent_events"].as_array().expect("consent_events").iter().filter(|e| e["kind"] == kind).collect()
}

fn sub_status(c: &Value) -> &str {
    c["subscriptions"][0]["status"].as_str().unwrap_or("")
}

#[tokio::test]
async fn bounces_complaints_and_unsubscribes_come_back_over_smtp() {
    let app = spawn_app_with(WebConfig { public_url: "https://assent.test".into(), ..WebConfig::default() }).await;
    let s = shop(&app, 8).await;
    let server = inbound(app.store.clone(), app.tokens.clone()).await;
    let first = send_campaign(&app, &s, "Autumn 1", 0).await;
    assert_eq!(first.len(), 8);
    let to = |i: usize| format!("person{i}@example.org");

    // Nobody else's mail is taken: a stranger, a forged token, the bare bounce domain.
    let forged = first[0].verp.replace("bounces+", "bounces+1-1-1-");
    let strangers = [
        "someone@gmail.example",
        "postmaster@bounce.news.beispiel.de",
        forged.as_str(),
        "unsubscribe+abc@bounce.news.beispiel.de",
    ];
    let out = deliver(
        &server,
        &[strangers[0], strangers[1], strangers[2], strangers[3], &first[0].verp],
        "Subject: x\r\n\r\nx\r\n",
    )
    .await;
    for r in strangers {
        match out.get(r) {
            Some(RecipientOutcome::PermFail { code: 550, .. }) => {}
            other => panic!("{r} must be refused with 550: {other:?}"),
        }
    }
    assert!(
        out.get(&first[0].verp).is_some_and(RecipientOutcome::is_accepted),
        "a non-report to a VERP address is taken and ignored"
    );

    // person0: hard bounce (Postfix DSN, sent twice) → suppressed at once.
    let p0 = find(&first, &to(0));
    let hard = dsn(
        p0,
        "failed",
        "5.1.1",
        "550 5.1.1 <person0@example.org>: Recipient address rejected: User unknown in local recipient table",
        true,
    );
    accepted(&server, &p0.verp, &hard).await;
    accepted(&server, &p0.verp, &hard).await;
    let c0 = contact(&app, &s.token, &to(0)).await;
    assert_eq!((c0["suppressed"].as_str(), sub_status(&c0)), (Some("hard_bounce"), "bounced"), "{c0}");
    let bounced = events(&c0, "bounced");
    assert_eq!(bounced.len(), 1, "a DSN delivered twice counts once: {c0}");
    assert_eq!(
        (bounced[0]["evidence"]["class"].as_str(), bounced[0]["evidence"]["status"].as_str()),
        (Some("hard"), Some("5.1.1"))
    );
    assert_eq!(bounced[0]["evidence"]["reason"], "user_unknown");

    // person1: soft bounce → in the history, counted, not suppressed (yet).
    let p1 = find(&first, &to(1));
    let full =
        |s: &Sent| dsn(s, "failed", "5.2.2", "552 5.2.2 <person1@example.org>: mailbox full, quota exceeded", false);
    accepted(&server, &p1.verp, &full(p1)).await;
    let c1 = contact(&app, &s.token, &to(1)).await;
    assert_eq!((c1["suppressed"].as_str(), sub_status(&c1)), (None, "confirmed"), "{c1}");
    assert_eq!(events(&c1, "bounced").len(), 1);
    assert_eq!(events(&c1, "bounced")[0]["evidence"]["class"], "soft");

    // person2: policy rejection → the operator is alerted, the recipient left alone.
    let p2 = find(&first, &to(2));
    let policy = dsn(
        p2,
        "failed",
        "5.7.1",
        "550 5.7.1 Service unavailable; client host [192.0.2.10] blocked using zen.spamhaus.org",
        false,
    );
    accepted(&server, &p2.verp, &policy).await;
    let c2 = contact(&app, &s.token, &to(2)).await;
    assert_eq!((c2["suppressed"].as_str(), sub_status(&c2)), (None, "confirmed"), "{c2}");
    assert!(events(&c2, "bounced").is_empty(), "{c2}");
    let (status, overview) = app.call("GET", "/api/v1/operator/reputation", Some(&app.operator_token), None).await;
    assert_eq!(status, 200, "{overview}");
    let alerts: Vec<&Value> = overview["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .filter(|a| a["action"] == "alert.policy_bounce")
        .collect();
    assert_eq!(alerts.len(), 1, "{overview}");
    assert_eq!(alerts[0]["detail"]["reason"], "spam_block");

    // person3: ARF complaint at the feedback-loop address, the original
    // quoted without its envelope → found by the signed mailto token.
    let p3 = find(&first, &to(3));
    let report = arf(p3, FBL, "abuse");
    let parsed = assent_mail::inbound::parse_report(report.as_bytes());
    assert_eq!((parsed.kind.as_str(), parsed.original.verp_token.as_deref()), ("complaint", None));
    accepted(&server, FBL, &report).await;
    let c3 = contact(&app, &s.token, &to(3)).await;
    assert_eq!((c3["suppressed"].as_str(), sub_status(&c3)), (Some("complaint"), "complained"), "{c3}");
    let complained = events(&c3, "complained");
    assert_eq!(complained.len(), 1, "{c3}");
    assert_eq!(complained[0]["evidence"]["feedback_type"], "abuse");

    // person4: out of office → no bounce.
    let p4 = find(&first, &to(4));
    accepted(&server, &p4.verp, &out_of_office(p4)).await;
    let c4 = contact(&app, &s.token, &to(4)).await;
    assert_eq!((c4["suppressed"].as_str(), sub_status(&c4)), (None, "confirmed"), "{c4}");
    assert!(events(&c4, "bounced").is_empty());

    // person5: mailto unsubscribe → unsubscribed from every list, source mailto.
    let p5 = find(&first, &to(5));
    accepted(&server, &p5.mailto, &unsubscribe_request(p5)).await;
    let c5 = contact(&app, &s.token, &to(5)).await;
    assert_eq!((c5["suppressed"].as_str(), sub_status(&c5)), (Some("unsubscribed"), "unsubscribed"), "{c5}");
    let unsub = events(&c5, "unsubscribed");
    assert_eq!((unsub.len(), unsub[0]["source"].as_str()), (1, Some("mailto")), "{c5}");

    // person6: a delay warning is no bounce.
    let p6 = find(&first, &to(6));
    accepted(&server, &p6.verp, &dsn(p6, "delayed", "4.4.1", "451 4.4.1 connection timed out", false)).await;
    let c6 = contact(&app, &s.token, &to(6)).await;
    assert!(events(&c6, "bounced").is_empty(), "{c6}");

    // person7: not-spam feedback sent to the VERP address → no complaint.
    let p7 = find(&first, &to(7));
    accepted(&server, &p7.verp, &arf(p7, &p7.verp, "not-spam")).await;
    let c7 = contact(&app, &s.token, &to(7)).await;
    assert_eq!((c7["suppressed"].as_str(), sub_status(&c7)), (None, "confirmed"), "{c7}");

    // The campaign shows what came back, each kind once.
    let id = i64::from_str_radix(&campaign_of(&first[0].verp), 16).expect("campaign id");
    let (_, c) = app.call("GET", &format!("/api/v1/campaigns/{id}"), Some(&s.token), None).await;
    assert_eq!(c["reports"], json!({"hard": 1, "soft": 1, "policy": 1, "complaint": 1, "unsubscribe": 1}), "{c}");

    // The account sees its rates.
    let (status, rep) = app.call("GET", "/api/v1/reputation", Some(&s.token), None).await;
    assert_eq!(status, 200, "{rep}");
    let r = &rep["campaigns"][0]["rates"];
    assert_eq!(
        (
            r["sent"].as_i64(),
            r["hard_bounces"].as_i64(),
            r["soft_bounces"].as_i64(),
            r["policy_bounces"].as_i64(),
            r["complaints"].as_i64(),
            r["unsubscribes"].as_i64()
        ),
        (Some(8), Some(1), Some(1), Some(1), Some(1), Some(1)),
        "{rep}"
    );
    assert_eq!(
        (rep["thresholds"]["min_sample"].as_i64(), rep["thresholds"]["window_days"].as_i64()),
        (Some(1000), Some(7))
    );
    let (status, _) = app.call("GET", "/api/v1/operator/reputation", Some(&s.token), None).await;
    assert_eq!(status, 403, "the overview is the operator's");
    let (status, _) = app.call("GET", "/api/v1/reputation", Some(&app.operator_token), None).await;
    assert_eq!(status, 403, "an operator reads accounts through the overview");
    assert_eq!(rep["rates"]["enough_sample"], false, "8 messages are no sample to act on");

    // Two more campaigns: person1 bounces soft each time; the third suppresses.
    let second = send_campaign(&app, &s, "Autumn 2", 8).await;
    assert_eq!(second.len(), 5, "the hard-bounced, complained and unsubscribed are not mailed again");
    accepted(&server, &find(&second, &to(1)).verp, &full(find(&second, &to(1)))).await;
    let c1 = contact(&app, &s.token, &to(1)).await;
    assert_eq!(
        (c1["suppressed"].as_str(), sub_status(&c1), events(&c1, "bounced").len()),
        (None, "confirmed", 2),
        "{c1}"
    );
    let third = send_campaign(&app, &s, "Autumn 3", 13).await;
    accepted(&server, &find(&third, &to(1)).verp, &full(find(&third, &to(1)))).await;
    let c1 = contact(&app, &s.token, &to(1)).await;
    assert_eq!((c1["suppressed"].as_str(), sub_status(&c1)), (Some("soft_bounce"), "bounced"), "{c1}");
    let last = *events(&c1, "bounced").last().expect("bounced");
    assert_eq!(
        (last["evidence"]["suppressed"].as_str(), last["evidence"]["soft_bounces"].as_i64()),
        (Some("soft_bounce"), Some(3))
    );

    let stats = server.stats();
    assert_eq!(stats.messages_failed, 0);
    assert_eq!(stats.rejected_recipients, 4);
    server.shutdown(Duration::from_secs(2)).await;
}

// --- the reputation monitor ------------------------------------------------

struct Account {
    id: AccountId,
    list: ListId,
}

async fn store_account(store: &dyn Store) -> Account {
    let owner = EmailAddress::parse("owner@shop.example").expect("address");
    let (account, _) = store.create_account("Shop", &owner).await.expect("account");
    let audit = NewAuditEntry {
        account: Some(account.id),
        actor: "test".into(),
        action: "account.activate".into(),
        target: String::new(),
        detail: json!({}),
        ip: None,
    };
    assert!(
        store
            .transition_account(account.id, AccountStatus::PendingAudit, AccountStatus::Active, None, &audit)
            .await
            .expect("activate")
    );
    let list = store.create_list(account.id, "News", "").await.expect("list").id;
    Account { id: account.id, list }
}

/// A campaign that is being sent: `sent` deliveries accepted, `rejected`
/// refused during the dialogue with `reply`. Returns the campaign id and
/// the contacts it was sent to (accepted ones first).
async fn sending_campaign(
    store: &dyn Store,
    a: &Account,
    name: &str,
    sent: usize,
    rejected: usize,
    reply: &str,
) -> (i64, Vec<ContactId>) {
    let mut contacts = Vec::new();
    for i in 0..sent + rejected {
        let email = EmailAddress::parse(&format!("{name}-{i}@example.org")).expect("address");
        let (c, _) = store.upsert_contact(a.id, &email, &serde_json::Map::new()).await.expect("contact");
        let put = PutSubscription {
            contact: c.id,
            list: a.list,
            expected: None,
            status: SubscriptionStatus::Confirmed,
            origin: "contract".into(),
            evidence: json!({"contract_ref": "K"}),
        };
        assert!(store.put_subscription(a.id, &put).await.expect("subscribe"));
        contacts.push(c.id);
    }
    let draft = CampaignDraft {
        name: name.into(),
        subject: "Offers".into(),
        from_email: "news@shop.example".into(),
        from_name: String::new(),
        reply_to: None,
        list_ids: vec![a.list],
        filter: json!({}),
        html: "<p>x</p>".into(),
        text: None,
        html_inlined: "<p>x</p>".into(),
        product_category: None,
    };
    let c = store.create_campaign(a.id, &draft).await.expect("campaign");
    assert!(store.set_campaign_status(a.id, c.id, &["draft"], "sending", None).await.expect("sending"));
    let c = store.get_campaign(a.id, c.id).await.expect("get").expect("campaign");
    let members: Vec<(i64, ListId, String)> =
        contacts.iter().map(|id| (id.get(), a.list, "example.org".into())).collect();
    store.enqueue_deliveries(&c, &members, 0, false).await.expect("enqueue");
    let outcomes: Vec<(i64, DeliveryOutcome)> = contacts
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let o = if i < sent {
                DeliveryOutcome::Sent { reply: "250 ok".into() }
            } else {
                DeliveryOutcome::Bounced { reply: reply.into() }
            };
            (id.get(), o)
        })
        .collect();
    let claimed = store.claim_deliveries(&c, assent_engine::now_ms(), 10_000, 60_000, "test").await.expect("claim");
    assert_eq!(claimed.len(), contacts.len());
    store.finish_deliveries(c.id, &outcomes, "test").await.expect("finish");
    (c.id, contacts)
}

async fn complain(server: &InboundServer, tokens: &TokenKey, a: &Account, campaign: i64, contact: ContactId) {
    let token = tokens.sign_short(Purpose::Bounce, [a.id.get() as u64, campaign as u64, contact.get() as u64]);
    let verp = format!("bounces+{token}@bounce.shop.example");
    let fake = Sent {
        raw: format!(
            "From: news@shop.example\r\nTo: someone@example.org\r\nSubject: Offers\r\nMessage-ID: <{campaign:x}.{:x}.1@shop.example>\r\n\r\nx\r\n",
            contact.get()
        ),
        verp: verp.clone(),
        mailto: String::new(),
        to: "someone@example.org".into(),
    };
    accepted(server, &verp, &arf(&fake, &verp, "abuse")).await;
}

async fn status(store: &dyn Store, a: &Account, campaign: i64) -> (String, Option<String>) {
    let c = store.get_campaign(a.id, campaign).await.expect("get").expect("campaign");
    (c.status, c.pause_reason)
}

#[tokio::test]
async fn the_reputation_monitor_pauses_flags_and_suspends() {
    let db = assent_test_support::TempDb::new();
    let store = assent_store::connect(&db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    let tokens = Arc::new(TokenKey::new(&[9u8; 32]).expect("token key"));
    let server = inbound(store.clone(), tokens.clone()).await;
    let config = ReputationConfig {
        min_sample: 10,
        complaint_flag_rate: 0.05,
        complaint_suspend_rate: 0.2,
        hard_bounce_pause_rate: 0.05,
        ..ReputationConfig::default()
    };
    let monitor = Monitor { store: store.clone(), config: config.clone() };
    let a = store_account(store.as_ref()).await;
    let now = assent_engine::now_ms;

    // Below the minimum sample a complaint is shown, not acted on.
    let (small, people) = sending_campaign(store.as_ref(), &a, "small", 5, 0, "").await;
    complain(&server, &tokens, &a, small, people[0]).await;
    let run = monitor.run_once(now()).await.expect("run");
    assert_eq!(run, Default::default(), "5 messages, 1 complaint (20 %): too few messages to judge");
    assert_eq!(status(store.as_ref(), &a, small).await.0, "sending");

    // Rejections during sending count as bounces: 2 of 20 hard → paused.
    let (bouncy, _) =
        sending_campaign(store.as_ref(), &a, "bouncy", 18, 2, "550 5.1.1 <x@example.org>: user unknown").await;
    let run = monitor.run_once(now()).await.expect("run");
    assert_eq!((run.paused.as_slice(), run.sync_bounces), (&[bouncy][..], 2), "{run:?}");
    let (st, reason) = status(store.as_ref(), &a, bouncy).await;
    assert_eq!(st, "paused");
    assert!(reason.as_deref().is_some_and(|r| r.contains("hard-bounce rate 10.00 %")), "{reason:?}");
    assert!(run.flagged.is_empty() && run.suspended.is_empty(), "1 complaint in 23 messages is under 5 %");

    // 2 complaints in 20 → the campaign is paused; the account (3 in 43) flagged.
    let (noisy, people) = sending_campaign(store.as_ref(), &a, "noisy", 20, 0, "").await;
    complain(&server, &tokens, &a, noisy, people[0]).await;
    complain(&server, &tokens, &a, noisy, people[1]).await;
    let run = monitor.run_once(now()).await.expect("run");
    assert_eq!((run.paused.as_slice(), run.flagged.as_slice()), (&[noisy][..], &[a.id][..]), "{run:?}");
    assert!(run.suspended.is_empty());
    let account = store.get_account(a.id).await.expect("get").expect("account");
    let rep = account_reputation(store.as_ref(), &account, &config, now()).await.expect("reputation");
    assert!(rep.flagged);
    assert_eq!((rep.rates.sent, rep.rates.complaints), (43, 3));
    let noisy_rep = rep.campaigns.iter().find(|c| c.campaign_id == noisy).expect("noisy");
    assert_eq!(noisy_rep.flags, ["campaign_complaint_rate"]);

    // The sender resumes it: not paused again for the same reason.
    assert!(store.set_campaign_status(a.id, noisy, &["paused"], "sending", None).await.expect("resume"));
    let run = monitor.run_once(now()).await.expect("run");
    assert!(run.paused.is_empty(), "{run:?}");

    // 11 complaints in 43 messages (26 %) → the account is suspended.
    for p in &people[2..10] {
        complain(&server, &tokens, &a, noisy, *p).await;
    }
    let run = monitor.run_once(now()).await.expect("run");
    assert_eq!(run.suspended, [a.id], "{run:?}");
    let account = store.get_account(a.id).await.expect("get").expect("account");
    assert_eq!(account.status, AccountStatus::Suspended);
    assert!(account.status_reason.as_deref().is_some_and(|r| r.contains("complaint rate")), "{account:?}");
    let history = store.audit_log(Some(a.id), 50).await.expect("audit");
    assert!(history.iter().any(|e| e.action == "account.suspend" && e.actor == "system:reputation"));
    let alerts: Vec<String> = store.audit_log(None, 50).await.expect("alerts").into_iter().map(|e| e.action).collect();
    for want in ["alert.campaign_paused", "alert.account_flagged", "alert.account_suspended"] {
        assert!(alerts.iter().any(|a| a == want), "{want} missing in {alerts:?}");
    }
    server.shutdown(Duration::from_secs(2)).await;
}
