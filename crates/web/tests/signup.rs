//! The double opt-in flow over real HTTP with the real mail worker and a
//! maildir outbox: forms, confirmation, one-click unsubscribe (RFC 8058),
//! preferences, erasure, and the tokens that guard them.

use assent_mail::token::{Claims, Purpose};
use assent_test_support::{TestApp, spawn_app, spawn_app_with};
use assent_web::WebConfig;
use serde_json::{Value, json};

/// An active account with a list and a form; returns (token, list id, form id).
async fn setup(app: &TestApp) -> (String, i64, String) {
    let (_, token) = app.active_account("Beispiel GmbH", "owner@beispiel.de").await;
    let (_, list) = app.call("POST", "/api/v1/lists", Some(&token), Some(json!({"name": "Weekly news"}))).await;
    let list_id = list["id"].as_i64().expect("list");
    let (status, form) = app
        .call(
            "POST",
            "/api/v1/forms",
            Some(&token),
            Some(json!({"name": "Newsletter", "list_ids": [list_id], "fields": ["first_name"],
                "consent_text": "Yes, send me the weekly newsletter of Beispiel GmbH by email. I can unsubscribe at any time."})),
        )
        .await;
    assert_eq!(status, 201, "{form}");
    (token, list_id, form["id"].as_str().expect("form id").to_string())
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn submit(app: &TestApp, form: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let resp = no_redirects()
        .post(app.url(&format!("/f/{form}")))
        .header("user-agent", "Mozilla/5.0 (Test)")
        .form(fields)
        .send()
        .await
        .expect("submit");
    let status = resp.status().as_u16();
    (status, resp.text().await.expect("body"))
}

/// The text part of a message, decoded by an independent MIME parser.
fn text_of(raw: &str) -> String {
    let msg = mail_parser::MessageParser::default().parse(raw.as_bytes()).expect("parseable mail");
    msg.body_text(0).expect("text part").into_owned()
}

fn link_in(text: &str, prefix: &str) -> String {
    let start = text.find(prefix).expect("link in mail");
    text[start..].split_whitespace().next().expect("link").trim_end_matches(['>', ')', '.', '"']).to_string()
}

async fn contact(app: &TestApp, token: &str, email: &str) -> Value {
    let (status, found) = app.call("GET", &format!("/api/v1/contacts?email={email}"), Some(token), None).await;
    assert_eq!(status, 200);
    found["contacts"][0].clone()
}

fn kinds(contact: &Value) -> Vec<String> {
    contact["consent_events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn form_to_confirmed_subscription_with_complete_proof() {
    let app = spawn_app().await;
    let (token, list_id, form) = setup(&app).await;

    let page = app.client.get(app.url(&format!("/f/{form}"))).send().await.expect("form page");
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().expect("csp").contains("default-src 'none'"));
    let html = page.text().await.expect("html");
    assert!(
        html.contains("weekly newsletter of Beispiel GmbH")
            && html.contains("name=\"email\"")
            && html.contains("hp_website")
    );
    let embed = app.client.get(app.url(&format!("/f/{form}/embed"))).send().await.expect("embed");
    assert_eq!(embed.headers()["access-control-allow-origin"], "*");
    assert!(embed.text().await.expect("snippet").starts_with("<!-- Assent sign-up form"));

    let (status, body) =
        submit(&app, &form, &[("email", "Ada@Example.org"), ("first_name", "Ada"), ("consent", "yes")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("confirmation link"));

    let mails = app.wait_for_mail(1).await;
    let mail = &mails[0];
    assert!(mail.contains("Delivered-To: Ada@example.org"), "{mail}");
    let text = text_of(mail);
    for needle in
        ["weekly newsletter of Beispiel GmbH", "Weekly news", "UTC", "Beispiel GmbH", "Musterstraße 1", "HRB 12345"]
    {
        assert!(text.contains(needle), "{needle:?} missing from confirmation mail:\n{text}");
    }
    let link = link_in(&text, &app.url("/c/"));

    // The link is visited by a scanner: GET alone confirms nothing.
    let page = app.client.get(&link).send().await.expect("GET link");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("page").contains("method=\"post\""));
    let c = contact(&app, &token, "ada@example.org").await;
    assert_eq!(c["status"], "pending");
    assert_eq!(c["attributes"]["first_name"], "Ada");

    // The page's POST confirms.
    let resp =
        no_redirects().post(&link).header("user-agent", "Mozilla/5.0 (Confirm)").send().await.expect("POST link");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("page").contains("confirmed"));
    let c = contact(&app, &token, "ada@example.org").await;
    assert_eq!(c["status"], "confirmed", "{c}");
    assert_eq!(kinds(&c), ["requested", "confirmation_sent", "confirmed"]);
    let proof = &c["consent_events"][2]["evidence"];
    assert_eq!(
        proof["consent_text"],
        "Yes, send me the weekly newsletter of Beispiel GmbH by email. I can unsubscribe at any time."
    );
    assert_eq!(proof["form_version"], 1);
    assert_eq!(proof["request_ip"], "127.0.0.1");
    assert_eq!(proof["request_user_agent"], "Mozilla/5.0 (Test)");
    assert_eq!(proof["confirm_ip"], "127.0.0.1");
    assert_eq!(proof["confirm_user_agent"], "Mozilla/5.0 (Confirm)");
    for field in ["requested_at", "confirmation_sent_at", "confirmed_at"] {
        assert!(proof[field].as_i64().is_some_and(|t| t > 0), "{field} missing in {proof}");
    }
    assert_eq!(c["subscriptions"][0]["list_id"], list_id);
    assert_eq!(c["subscriptions"][0]["origin"], "double_opt_in");

    // Replaying the link changes nothing.
    let again = no_redirects().post(&link).send().await.expect("replay");
    assert_eq!(again.status(), 200);
    assert!(again.text().await.expect("page").contains("already been used"));
    assert_eq!(kinds(&contact(&app, &token, "ada@example.org").await).len(), 3);

    // Submitting again for a confirmed address: same answer, no mail, no change.
    let (status, second) = submit(&app, &form, &[("email", "ada@example.org"), ("consent", "yes")]).await;
    let (_, fresh) = submit(&app, &form, &[("email", "someone.new@example.org"), ("consent", "yes")]).await;
    assert_eq!(status, 200);
    assert_eq!(second, fresh, "the answer must not reveal whether an address is subscribed");
    let mails = app.wait_for_mail(2).await;
    assert_eq!(mails.len(), 2, "only the new address got a mail");
    assert!(mails[1].contains("someone.new@example.org"));
    assert_eq!(contact(&app, &token, "ada@example.org").await["status"], "confirmed");
}

#[tokio::test]
async fn one_click_unsubscribe_per_rfc_8058() {
    let app = spawn_app().await;
    let (token, list_id, _) = setup(&app).await;
    let add = |email: &str| json!({"email": email, "list_ids": [list_id], "consent": {"origin": "offline_form", "evidence": {"document_ref": "scan-1.pdf"}}});
    let mut ids = Vec::new();
    for email in ["eve@example.org", "bob@example.org"] {
        let (status, c) = app.call("POST", "/api/v1/contacts", Some(&token), Some(add(email))).await;
        assert_eq!(status, 201, "{c}");
        ids.push(c["id"].as_i64().expect("id"));
    }
    let account = app.store.list_accounts().await.expect("accounts")[0].id.get();
    let link = |contact: i64| {
        let t = app.tokens.sign(Purpose::Unsubscribe, Claims { account, subject: contact, nonce: list_id, expires: 0 });
        app.url(&format!("/u/{t}"))
    };

    // A GET (link scanner) never unsubscribes.
    let page = app.client.get(link(ids[0])).send().await.expect("get");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("page").contains("List-Unsubscribe"));
    assert_eq!(contact(&app, &token, "eve@example.org").await["status"], "confirmed");

    // The mail client's one-click POST: urlencoded body, no cookies, 200, no redirect.
    let client = no_redirects();
    let resp = client
        .post(link(ids[0]))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 200);
    let c = contact(&app, &token, "eve@example.org").await;
    assert_eq!(c["subscriptions"][0]["status"], "unsubscribed");
    assert_eq!(c["suppressed"], "unsubscribed");
    assert_eq!(kinds(&c), ["consent_recorded", "unsubscribed"]);
    // Idempotent.
    let resp = client.post(link(ids[0])).body("List-Unsubscribe=One-Click").send().await.expect("again");
    assert_eq!(resp.status(), 200);
    assert_eq!(kinds(&contact(&app, &token, "eve@example.org").await).len(), 2);

    // Multipart works too.
    let form = reqwest::multipart::Form::new().text("List-Unsubscribe", "One-Click");
    let resp = client.post(link(ids[1])).multipart(form).send().await.expect("multipart");
    assert_eq!(resp.status(), 200);
    assert_eq!(contact(&app, &token, "bob@example.org").await["subscriptions"][0]["status"], "unsubscribed");

    // The API cannot put an unsubscribed address back.
    let (status, err) = app.call("POST", "/api/v1/contacts", Some(&token), Some(add("eve@example.org"))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("suppressed")));
}

#[tokio::test]
async fn bad_tokens_are_refused_without_revealing_anything() {
    let app = spawn_app().await;
    let (_, _, form) = setup(&app).await;
    submit(&app, &form, &[("email", "ada@example.org"), ("consent", "yes")]).await;
    let link = link_in(&text_of(&app.wait_for_mail(1).await[0]), &app.url("/c/"));
    let token = link.rsplit('/').next().expect("token").to_string();
    let claims = app.tokens.verify(Purpose::Confirm, &token, 0).expect("valid");

    let client = no_redirects();
    let post = |t: String| {
        let client = client.clone();
        let url = app.url(&format!("/c/{t}"));
        async move {
            let r = client.post(url).send().await.expect("post");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    // Tampered: one character changed.
    let mut forged = token.clone().into_bytes();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    let tampered = post(String::from_utf8(forged).expect("ascii")).await;
    // Another account's id with this subject: a valid seal over nothing.
    let other_account = app.tokens.sign(Purpose::Confirm, Claims { account: claims.account + 1, ..claims });
    let foreign = post(other_account).await;
    // Wrong nonce (a guessed id).
    let guessed = post(app.tokens.sign(Purpose::Confirm, Claims { nonce: claims.nonce ^ 1, ..claims })).await;
    // A token for another purpose.
    let wrong_purpose = post(app.tokens.sign(Purpose::Unsubscribe, claims)).await;
    for (name, answer) in
        [("tampered", &tampered), ("foreign", &foreign), ("guessed", &guessed), ("purpose", &wrong_purpose)]
    {
        assert_eq!(answer.0, 404, "{name}");
        assert_eq!(answer.1, tampered.1, "{name} answers differently from a tampered link");
    }
    // Expired.
    let expired = post(app.tokens.sign(Purpose::Confirm, Claims { expires: 1, ..claims })).await;
    assert_eq!(expired.0, 410);
    assert!(expired.1.contains("expired"));
    // Garbage and oversized tokens.
    for junk in ["x", "....", &"A".repeat(5000)] {
        let r = client.post(app.url(&format!("/c/{junk}"))).send().await.expect("post");
        assert!(matches!(r.status().as_u16(), 404 | 414 | 431), "{junk}");
    }
    // Nothing was confirmed by any of it; the real link still works once.
    assert_eq!(post(token.clone()).await.0, 200);
    assert!(post(token).await.1.contains("already been used"));
}

#[tokio::test]
async fn hostile_form_input_gets_a_clear_answer_and_stores_nothing() {
    let app = spawn_app().await;
    let (token, _, form) = setup(&app).await;
    type Case<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);
    let cases: &[Case<'_>] = &[
        (&[("email", "info@example.org"), ("consent", "yes")], 422, "personal address"),
        (&[("email", "x@mailinator.com"), ("consent", "yes")], 422, "disposable"),
        (&[("email", "not an address"), ("consent", "yes")], 422, "valid email"),
        (&[("email", "ada@example.org")], 422, "tick the box"),
        (
            &[("email", "<script>alert(1)</script>"), ("first_name", "<script>alert(2)</script>"), ("consent", "yes")],
            422,
            "valid email",
        ),
    ];
    for (fields, status, message) in cases {
        let (got, body) = submit(&app, &form, fields).await;
        assert_eq!(got, *status, "{fields:?}: {body}");
        assert!(body.contains(message), "{fields:?}: {body}");
        assert!(!body.contains("<script>alert"), "unescaped input in the page: {body}");
    }
    // Oversized body.
    let huge = "a".repeat(200 * 1024);
    let (status, _) =
        submit(&app, &form, &[("email", "ada@example.org"), ("consent", "yes"), ("first_name", &huge)]).await;
    assert_eq!(status, 413);
    // A bot fills the honeypot: normal answer, nothing stored.
    let (status, _) =
        submit(&app, &form, &[("email", "bot@example.org"), ("consent", "yes"), ("hp_website", "http://spam")]).await;
    assert_eq!(status, 200);
    // JSON errors for scripts.
    let resp = app
        .client
        .post(app.url(&format!("/f/{form}")))
        .json(&json!({"email": "sales@example.org", "consent": true}))
        .send()
        .await
        .expect("json submit");
    assert_eq!(resp.status(), 422);
    let err: Value = resp.json().await.expect("json");
    assert_eq!((err["error"]["code"].as_str(), err["error"]["field"].as_str()), (Some("role_address"), Some("email")));
    // Unknown form.
    let (status, _) = submit(&app, "nope", &[("email", "ada@example.org"), ("consent", "yes")]).await;
    assert_eq!(status, 404);

    let (_, contacts) = app.call("GET", "/api/v1/contacts", Some(&token), None).await;
    assert_eq!(contacts["contacts"], json!([]), "nothing may be stored");
    assert_eq!(app.store.queued_mail_count().await.expect("queue"), 0);
    assert!(app.outbox.messages().expect("outbox").is_empty());
}

#[tokio::test]
async fn rate_limits_answer_429() {
    let app = spawn_app_with(WebConfig { signups_per_ip_per_minute: 3, ..WebConfig::default() }).await;
    let (_, _, form) = setup(&app).await;
    let mut statuses = Vec::new();
    for i in 0..5 {
        let email = format!("person{i}@example.org");
        statuses.push(submit(&app, &form, &[("email", &email), ("consent", "yes")]).await.0);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let app = spawn_app_with(WebConfig { signups_per_address_per_hour: 2, ..WebConfig::default() }).await;
    let (_, _, form) = setup(&app).await;
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(submit(&app, &form, &[("email", "same@example.org"), ("consent", "yes")]).await.0);
        }
        v
    };
    assert_eq!(statuses, [200, 200, 429]);
}

#[tokio::test]
async fn pending_addresses_get_one_mail_per_interval() {
    let app = spawn_app().await;
    let (_, _, form) = setup(&app).await;
    for _ in 0..3 {
        assert_eq!(submit(&app, &form, &[("email", "ada@example.org"), ("consent", "yes")]).await.0, 200);
    }
    app.wait_for_mail(1).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.outbox.messages().expect("outbox").len(), 1, "re-submissions within the interval send nothing");

    let app = spawn_app_with(WebConfig { resend_interval: std::time::Duration::ZERO, ..WebConfig::default() }).await;
    let (_, _, form) = setup(&app).await;
    for _ in 0..2 {
        submit(&app, &form, &[("email", "ada@example.org"), ("consent", "yes")]).await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert_eq!(app.wait_for_mail(2).await.len(), 2);
}

#[tokio::test]
async fn preferences_export_and_erase_then_a_new_double_opt_in() {
    let app = spawn_app().await;
    let (token, list_id, form) = setup(&app).await;
    submit(&app, &form, &[("email", "ada@example.org"), ("consent", "yes")]).await;
    let link = link_in(&text_of(&app.wait_for_mail(1).await[0]), &app.url("/c/"));
    assert_eq!(no_redirects().post(&link).send().await.expect("confirm").status(), 200);
    let c = contact(&app, &token, "ada@example.org").await;
    let contact_id = c["id"].as_i64().expect("id");
    let account = app.store.list_accounts().await.expect("accounts")[0].id.get();
    let prefs = app.url(&format!(
        "/p/{}",
        app.tokens.sign(Purpose::Preferences, Claims { account, subject: contact_id, nonce: 0, expires: 0 })
    ));

    let page = app.client.get(&prefs).send().await.expect("prefs").text().await.expect("page");
    assert!(page.contains("Weekly news") && page.contains("checked"));
    // Export: machine-readable, with the consent proof.
    let export = no_redirects().post(&prefs).form(&[("action", "export")]).send().await.expect("export");
    assert!(export.headers()["content-disposition"].to_str().expect("cd").contains("attachment"));
    let data: Value = export.json().await.expect("json");
    assert_eq!(data["email"], "ada@example.org");
    assert!(kinds(&data).contains(&"confirmed".to_string()));
    // Erase needs the tick.
    no_redirects().post(&prefs).form(&[("action", "erase")]).send().await.expect("erase");
    assert_eq!(contact(&app, &token, "ada@example.org").await["status"], "confirmed");
    let resp =
        no_redirects().post(&prefs).form(&[("action", "erase"), ("confirm", "yes")]).send().await.expect("erase");
    assert_eq!(resp.status(), 200);
    assert!(resp.text().await.expect("page").contains("erased"));

    // The address is gone; the proof stays, attached to a hashed placeholder.
    assert_eq!(contact(&app, &token, "ada@example.org").await, Value::Null);
    let (_, erased) = app.call("GET", &format!("/api/v1/contacts/{contact_id}"), Some(&token), None).await;
    assert!(!erased.to_string().contains("ada@example.org"), "{erased}");
    assert_eq!(erased["subscriptions"][0]["status"], "erased");
    assert!(kinds(&erased).ends_with(&["erased".to_string()]));
    let (_, s) = app.call("GET", "/api/v1/suppressions?email=ada@example.org", Some(&token), None).await;
    assert_eq!(s["suppressions"][0]["reason"], "erased");
    // Never re-added by the API…
    let (status, err) = app
        .call(
            "POST",
            "/api/v1/contacts",
            Some(&token),
            Some(json!({"email": "ada@example.org", "list_ids": [list_id],
            "consent": {"origin": "offline_form", "evidence": {"document_ref": "x"}}})),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("suppressed")));
    // …but the person may sign up again and confirm.
    submit(&app, &form, &[("email", "ada@example.org"), ("consent", "yes")]).await;
    let link = link_in(&text_of(&app.wait_for_mail(2).await[1]), &app.url("/c/"));
    assert_eq!(no_redirects().post(&link).send().await.expect("confirm").status(), 200);
    assert_eq!(contact(&app, &token, "ada@example.org").await["status"], "confirmed");
    let (_, s) = app.call("GET", "/api/v1/suppressions?email=ada@example.org", Some(&token), None).await;
    assert_eq!(s["suppressions"], json!([]), "fresh consent lifts the erasure suppression");
}

#[tokio::test]
async fn preferences_switch_lists_off_and_back_on_with_double_opt_in() {
    let app = spawn_app().await;
    let (token, list_id, _) = setup(&app).await;
    let (_, c) = app
        .call("POST", "/api/v1/contacts", Some(&token), Some(json!({"email": "bob@example.org", "list_ids": [list_id],
            "consent": {"origin": "contract", "evidence": {"contract_ref": "K-9", "notice_text": "We may email you."}}})))
        .await;
    let contact_id = c["id"].as_i64().expect("id");
    let account = app.store.list_accounts().await.expect("accounts")[0].id.get();
    let prefs = app.url(&format!(
        "/p/{}",
        app.tokens.sign(Purpose::Preferences, Claims { account, subject: contact_id, nonce: 0, expires: 0 })
    ));
    no_redirects().post(&prefs).form(&[("action", "save")]).send().await.expect("off");
    assert_eq!(contact(&app, &token, "bob@example.org").await["subscriptions"][0]["status"], "unsubscribed");
    let list = list_id.to_string();
    let resp = no_redirects().post(&prefs).form(&[("action", "save"), ("list", &list)]).send().await.expect("on");
    assert!(resp.text().await.expect("page").contains("confirm"));
    assert_eq!(contact(&app, &token, "bob@example.org").await["subscriptions"][0]["status"], "pending");
    let link = link_in(&text_of(&app.wait_for_mail(1).await[0]), &app.url("/c/"));
    no_redirects().post(&link).send().await.expect("confirm");
    assert_eq!(contact(&app, &token, "bob@example.org").await["subscriptions"][0]["status"], "confirmed");
}

#[tokio::test]
async fn api_double_opt_in_sends_the_same_confirmation_mail() {
    let app = spawn_app().await;
    let (token, list_id, form) = setup(&app).await;
    let (status, c) = app
        .call(
            "POST",
            "/api/v1/contacts",
            Some(&token),
            Some(json!({"email": "carol@example.org", "list_ids": [list_id],
            "consent": {"origin": "double_opt_in", "evidence": {"form_id": form}}})),
        )
        .await;
    assert_eq!(status, 202, "{c}");
    assert_eq!((c["status"].as_str(), c["confirmation_queued"].as_bool()), (Some("pending"), Some(true)));
    let text = text_of(&app.wait_for_mail(1).await[0]);
    assert!(text.contains("weekly newsletter of Beispiel GmbH"), "{text}");
    no_redirects().post(link_in(&text, &app.url("/c/"))).send().await.expect("confirm");
    assert_eq!(contact(&app, &token, "carol@example.org").await["status"], "confirmed");
}

#[tokio::test]
async fn form_wording_is_versioned_and_unconfirmed_sign_ups_expire() {
    let app = spawn_app().await;
    let (token, _, form) = setup(&app).await;
    let (status, updated) = app
        .call(
            "PATCH",
            &format!("/api/v1/forms/{form}"),
            Some(&token),
            Some(json!({"consent_text": "Version two wording."})),
        )
        .await;
    assert_eq!((status, updated["version"].as_i64()), (200, Some(2)), "{updated}");
    submit(&app, &form, &[("email", "dan@example.org"), ("consent", "yes")]).await;
    app.wait_for_mail(1).await;
    let c = contact(&app, &token, "dan@example.org").await;
    assert_eq!(c["consent_events"][0]["evidence"]["form_version"], 2);
    assert_eq!(c["consent_events"][0]["evidence"]["consent_text"], "Version two wording.");

    // The housekeeping job deletes what was never confirmed.
    let removed = app.store.purge_unconfirmed(assent_engine::now_ms() + 1).await.expect("purge");
    assert_eq!(removed, 1);
    assert_eq!(contact(&app, &token, "dan@example.org").await, Value::Null);
    let (_, gone) = app.call("GET", &format!("/api/v1/contacts/{}", c["id"]), Some(&token), None).await;
    assert!(!gone.to_string().contains("dan@example.org"));
    assert!(kinds(&gone).contains(&"expired".to_string()));
}

#[tokio::test]
async fn suppression_list_api() {
    let app = spawn_app().await;
    let (token, list_id, _) = setup(&app).await;
    let (status, s) =
        app.call("POST", "/api/v1/suppressions", Some(&token), Some(json!({"email": "Block@Example.org"}))).await;
    assert_eq!((status, s["reason"].as_str()), (201, Some("manual")));
    assert!(!s.to_string().contains("block@example.org"), "only the hash is stored");
    let (_, found) = app.call("GET", "/api/v1/suppressions?email=block@example.org", Some(&token), None).await;
    assert_eq!(found["suppressions"].as_array().map(Vec::len), Some(1));
    let (status, _) = app
        .call(
            "POST",
            "/api/v1/contacts",
            Some(&token),
            Some(json!({"email": "block@example.org", "list_ids": [list_id],
            "consent": {"origin": "offline_form", "evidence": {"document_ref": "x"}}})),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) =
        app.call("DELETE", "/api/v1/suppressions", Some(&token), Some(json!({"email": "block@example.org"}))).await;
    assert_eq!(status, 204);
    let (_, found) = app.call("GET", "/api/v1/suppressions", Some(&token), None).await;
    assert_eq!(found["suppressions"], json!([]));
}
