//! Imports over real HTTP with the real import worker: declared consent,
//! per-row checks, operator review, hostile files.

use std::time::Duration;

use assent_test_support::{TestApp, spawn_app, spawn_app_with};
use assent_web::WebConfig;
use serde_json::{Value, json};

/// No review for account age, so imports run straight through.
fn no_age_review() -> WebConfig {
    let mut c = WebConfig::default();
    c.import.review_account_age = Duration::ZERO;
    c
}

async fn setup(app: &TestApp) -> (String, i64) {
    let (_, token) = app.active_account("Beispiel GmbH", "owner@beispiel.de").await;
    let (_, list) = app.call("POST", "/api/v1/lists", Some(&token), Some(json!({"name": "Customers"}))).await;
    (token, list["id"].as_i64().expect("list"))
}

async fn upload(app: &TestApp, token: &str, file: Vec<u8>, fields: &[(&str, String)]) -> (u16, Value) {
    let mut form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(file).file_name("contacts.csv"));
    for (k, v) in fields {
        form = form.text(k.to_string(), v.clone());
    }
    let resp =
        app.client.post(app.url("/api/v1/imports")).bearer_auth(token).multipart(form).send().await.expect("upload");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn offline(list: i64) -> Vec<(&'static str, String)> {
    vec![
        ("list_id", list.to_string()),
        ("origin", "offline_form".into()),
        ("evidence", r#"{"document_ref": "forms-2026.pdf"}"#.into()),
    ]
}

async fn wait(app: &TestApp, token: &str, id: i64) -> Value {
    for _ in 0..500 {
        let (_, i) = app.call("GET", &format!("/api/v1/imports/{id}"), Some(token), None).await;
        if i["progress"]["done"] == true {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("import {id} did not finish");
}

async fn contact(app: &TestApp, token: &str, email: &str) -> Value {
    let (_, found) = app.call("GET", &format!("/api/v1/contacts?email={email}"), Some(token), None).await;
    found["contacts"][0].clone()
}

fn reasons(import: &Value) -> Vec<(i64, String)> {
    import["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .map(|r| (r["line"].as_i64().expect("line"), r["reason"].as_str().expect("reason").to_string()))
        .collect()
}

#[tokio::test]
async fn csv_import_checks_every_row_and_keeps_the_proof() {
    // This file is a third bad addresses: more than the review threshold,
    // which this test is not about.
    let mut config = no_age_review();
    config.import.review_risky_ratio = 0.9;
    let app = spawn_app_with(config).await;
    let (token, list) = setup(&app).await;
    // An existing confirmed contact (merged, never downgraded) and a suppressed address.
    app.call("POST", "/api/v1/contacts", Some(&token), Some(json!({"email": "old@example.org", "list_ids": [list],
        "attributes": {"city": "Köln"}, "consent": {"origin": "contract", "evidence": {"contract_ref": "K1", "notice_text": "n"}}}))).await;
    app.call("POST", "/api/v1/suppressions", Some(&token), Some(json!({"email": "gone@example.org"}))).await;

    let csv = "\u{feff}email;first_name;city\r\n\
        ada@example.org;Ada;London\r\n\
        info@example.org;Info;X\r\n\
        not-an-address;Bad;X\r\n\
        x@mailinator.com;Temp;X\r\n\
        ADA@example.org;Ada again;X\r\n\
        gone@example.org;Gone;X\r\n\
        old@example.org;Old;\"Bonn\r\nam Rhein\"\r\n\
        ;nobody;X\r\n\
        bob@example.org;Bob;Berlin\r\n";
    let (status, created) = upload(&app, &token, csv.as_bytes().to_vec(), &offline(list)).await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["status"], "running");
    let import = wait(&app, &token, created["id"].as_i64().expect("id")).await;
    assert_eq!(import["status"], "completed", "{import}");
    assert_eq!(import["counts"]["imported"], 2, "{import}");
    assert_eq!(import["counts"]["merged"], 1);
    assert_eq!(import["counts"]["rejected"], 6);
    assert_eq!(import["counts"]["rows"], 9);
    assert_eq!(
        reasons(&import),
        vec![
            (3, "role_address".to_string()),
            (4, "invalid_address".to_string()),
            (5, "disposable_domain".to_string()),
            (6, "duplicate_in_file".to_string()),
            (7, "suppressed".to_string()),
            (10, "missing_email".to_string()),
        ]
    );
    let ada = contact(&app, &token, "ada@example.org").await;
    assert_eq!((ada["status"].as_str(), ada["attributes"]["first_name"].as_str()), (Some("confirmed"), Some("Ada")));
    let imported = &ada["consent_events"][0];
    assert_eq!(imported["kind"], "imported");
    assert_eq!(imported["evidence"]["origin"], "offline_form");
    assert_eq!(imported["evidence"]["declared_evidence"]["document_ref"], "forms-2026.pdf");
    // The existing contact: attributes merged (quoted newline kept), consent untouched.
    let old = contact(&app, &token, "old@example.org").await;
    assert_eq!(old["attributes"]["city"], "Bonn\r\nam Rhein");
    assert_eq!(old["subscriptions"][0]["origin"], "contract");
    assert_eq!(contact(&app, &token, "gone@example.org").await, Value::Null);

    // The downloadable report.
    let report = app
        .client
        .get(app.url(&format!("/api/v1/imports/{}/report", import["id"])))
        .bearer_auth(&token)
        .send()
        .await
        .expect("report")
        .text()
        .await
        .expect("csv");
    assert!(report.starts_with("line,address,reason\r\n3,info@example.org,role_address\r\n"), "{report}");
    assert!(report.contains("10,,missing_email"));
}

#[tokio::test]
async fn forbidden_or_incomplete_consent_is_refused_up_front_and_stores_nothing() {
    let app = spawn_app_with(no_age_review()).await;
    let (token, list) = setup(&app).await;
    let csv = b"email\nada@example.org\n".to_vec();
    for origin in [
        "purchased_list",
        "scraped",
        "single_opt_in",
        "verbal",
        "b2b_without_consent",
        "third_party",
        "membership",
        "social_network",
    ] {
        let (status, err) =
            upload(&app, &token, csv.clone(), &[("list_id", list.to_string()), ("origin", origin.into())]).await;
        assert_eq!((status, err["error"]["code"].as_str()), (422, Some("forbidden_origin")), "{origin}: {err}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| m.len() > 30), "{err}");
    }
    let missing = [
        ("purchase", json!({"order_ref": "o", "notice_text": "n"}), "product_category"),
        ("business_card", json!({"document_ref": "d"}), "permission_text"),
        ("offline_form", json!({}), "document_ref"),
        ("co_registration", json!({"contest_id": "c", "sponsor_name": "Beispiel GmbH"}), "sponsors"),
        ("contract", json!({"contract_ref": "c"}), "notice_text"),
    ];
    for (origin, evidence, field) in missing {
        let (status, err) = upload(
            &app,
            &token,
            csv.clone(),
            &[("list_id", list.to_string()), ("origin", origin.into()), ("evidence", evidence.to_string())],
        )
        .await;
        assert_eq!(status, 422, "{origin}: {err}");
        assert!(err["error"]["message"].as_str().expect("message").contains(field), "{origin}: {err}");
    }
    let (status, err) =
        upload(&app, &token, csv.clone(), &[("list_id", list.to_string()), ("origin", "double_opt_in".into())]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("double_opt_in_not_importable")));
    let (status, err) = upload(&app, &token, csv.clone(), &[("list_id", list.to_string())]).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("missing_origin")));
    let (status, err) = upload(
        &app,
        &token,
        csv.clone(),
        &[
            ("list_id", "999999".into()),
            ("origin", "offline_form".into()),
            ("evidence", r#"{"document_ref":"d"}"#.into()),
        ],
    )
    .await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("unknown_list")));
    let (_, imports) = app.call("GET", "/api/v1/imports", Some(&token), None).await;
    assert_eq!(imports["imports"], json!([]), "nothing stored");
    assert_eq!(std::fs::read_dir(app_import_dir(&app)).map(|d| d.count()).unwrap_or(0), 0, "spooled files removed");

    // Each allowed origin with complete evidence is accepted.
    let complete = [
        ("purchase", json!({"order_ref": "o", "notice_text": "n", "product_category": "shoes"})),
        ("business_card", json!({"document_ref": "d", "permission_text": "p"})),
        ("offline_form", json!({"document_ref": "d"})),
        (
            "co_registration",
            json!({"contest_id": "c", "sponsors": ["Beispiel GmbH", "Other AG"], "sponsor_name": "Beispiel GmbH"}),
        ),
        ("contract", json!({"contract_ref": "c", "notice_text": "n"})),
    ];
    for (origin, evidence) in complete {
        let (status, body) = upload(
            &app,
            &token,
            csv.clone(),
            &[("list_id", list.to_string()), ("origin", origin.into()), ("evidence", evidence.to_string())],
        )
        .await;
        assert_eq!(status, 202, "{origin}: {body}");
    }
}

fn app_import_dir(_app: &TestApp) -> std::path::PathBuf {
    // spawn_app puts each app's spool in a directory of its own under temp.
    let mut newest = None;
    for e in std::fs::read_dir(std::env::temp_dir()).expect("temp").flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("assent_imports_{}_", std::process::id())) {
            let t = e.metadata().and_then(|m| m.modified()).ok();
            if newest.as_ref().is_none_or(|(nt, _)| t > *nt) {
                newest = Some((t, e.path()));
            }
        }
    }
    newest.map(|(_, p)| p).unwrap_or_default()
}

#[tokio::test]
async fn pending_accounts_cannot_import() {
    let app = spawn_app().await;
    let (_, token) = app.create_account("New GmbH", "owner@new.example").await;
    let (_, list) = app.call("POST", "/api/v1/lists", Some(&token), Some(json!({"name": "L"}))).await;
    let list = list["id"].as_i64().expect("list");
    let (status, err) = upload(&app, &token, b"email\na@example.org\n".to_vec(), &offline(list)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("account_not_active")));
}

#[tokio::test]
async fn per_row_consent_columns() {
    let app = spawn_app_with(no_age_review()).await;
    let (token, list) = setup(&app).await;
    let csv = "email,origin,order,notice,category\n\
        a@example.org,purchase,O-1,You may object at any time,shoes\n\
        b@example.org,purchased_list,,,\n\
        c@example.org,purchase,O-3,,shoes\n\
        d@example.org,contract,,,\n";
    let fields = vec![
        ("list_id", list.to_string()),
        ("origin_column", "origin".into()),
        (
            "evidence_columns",
            r#"{"order_ref": "order", "notice_text": "notice", "product_category": "category"}"#.into(),
        ),
    ];
    let (status, created) = upload(&app, &token, csv.as_bytes().to_vec(), &fields).await;
    assert_eq!(status, 202, "{created}");
    let import = wait(&app, &token, created["id"].as_i64().expect("id")).await;
    assert_eq!(import["counts"]["imported"], 1, "{import}");
    assert_eq!(
        reasons(&import),
        vec![(3, "forbidden_origin".into()), (4, "missing_evidence".into()), (5, "missing_evidence".into())]
    );
    let a = contact(&app, &token, "a@example.org").await;
    assert_eq!(a["subscriptions"][0]["origin"], "purchase");
    assert_eq!(a["subscriptions"][0]["evidence"]["product_category"], "shoes");
    // Order numbers are not attributes; other columns would be.
    assert_eq!(a["attributes"], json!({}));
}

#[tokio::test]
async fn operator_review_for_new_accounts_and_risky_files() {
    let app = spawn_app().await; // default: accounts younger than 30 days need review
    let (token, list) = setup(&app).await;
    let (status, created) =
        upload(&app, &token, b"email,name\nada@example.org,Ada\nbob@example.org,Bob\n".to_vec(), &offline(list)).await;
    assert_eq!((status, created["status"].as_str()), (202, Some("pending_review")), "{created}");
    let id = created["id"].as_i64().expect("id");
    let import = wait(&app, &token, id).await;
    assert_eq!((import["status"].as_str(), import["review"].as_str()), (Some("pending_review"), Some("pending")));
    assert!(import["review_reason"].as_str().expect("reason").contains("younger"));
    // The contacts exist, waiting.
    assert_eq!(contact(&app, &token, "ada@example.org").await["subscriptions"][0]["status"], "confirmed");
    let (_, queue) = app.call("GET", "/api/v1/operator/imports", Some(&app.operator_token), None).await;
    assert_eq!(queue["imports"][0]["id"], id);
    // Customers cannot approve their own import.
    let (status, _) = app.call("POST", &format!("/api/v1/imports/{id}/approve"), Some(&token), None).await;
    assert_eq!(status, 403);
    let (status, done) =
        app.call("POST", &format!("/api/v1/imports/{id}/approve"), Some(&app.operator_token), None).await;
    assert_eq!(
        (status, done["status"].as_str(), done["review"].as_str()),
        (200, Some("completed"), Some("approved")),
        "{done}"
    );
    let (status, _) = app.call("POST", &format!("/api/v1/imports/{id}/approve"), Some(&app.operator_token), None).await;
    assert_eq!(status, 409);

    // A second import gets rejected: its new contacts go, existing ones stay.
    let (_, created) =
        upload(&app, &token, b"email\nada@example.org\ncarl@example.org\n".to_vec(), &offline(list)).await;
    let id = created["id"].as_i64().expect("id");
    wait(&app, &token, id).await;
    let (status, _) = app.call("POST", &format!("/api/v1/imports/{id}/reject"), Some(&app.operator_token), None).await;
    assert_eq!(status, 422, "a rejection needs a reason");
    let long = json!({"reason": "x".repeat(2001)});
    let (status, err) =
        app.call("POST", &format!("/api/v1/imports/{id}/reject"), Some(&app.operator_token), Some(long)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("too_long")), "shown to the customer whole: {err}");
    let (status, done) = app
        .call(
            "POST",
            &format!("/api/v1/imports/{id}/reject"),
            Some(&app.operator_token),
            Some(json!({"reason": "bought list"})),
        )
        .await;
    assert_eq!((status, done["status"].as_str()), (200, Some("rejected")));
    assert_eq!(contact(&app, &token, "carl@example.org").await, Value::Null);
    assert_eq!(contact(&app, &token, "ada@example.org").await["status"], "confirmed");

    // Risky files go to review even for old accounts.
    let app = spawn_app_with(no_age_review()).await;
    let (token, list) = setup(&app).await;
    let mut csv = String::from("email\n");
    for i in 0..20 {
        csv.push_str(&format!("user{i}@example.org\n"));
    }
    csv.push_str("info@example.org\nsales@example.org\nbroken\n");
    let (_, created) = upload(&app, &token, csv.into_bytes(), &offline(list)).await;
    let import = wait(&app, &token, created["id"].as_i64().expect("id")).await;
    assert_eq!(import["status"], "pending_review", "{import}");
    assert!(import["review_reason"].as_str().expect("reason").contains("%"));
}

#[tokio::test]
async fn hostile_files_get_clear_errors() {
    let mut config = no_age_review();
    config.max_import_bytes = 2 * 1024 * 1024;
    let app = spawn_app_with(config).await;
    let (token, list) = setup(&app).await;
    let refused: Vec<(&str, Vec<u8>, &str)> = vec![
        ("zip", b"PK\x03\x04\x14\x00\x00\x00".to_vec(), "compressed"),
        ("gzip", vec![0x1f, 0x8b, 8, 0, 0, 0], "compressed"),
        ("binary", (0..=255u8).cycle().take(4096).collect(), "binary"),
        ("utf16", b"\xff\xfee\x00m\x00a\x00".to_vec(), "UTF-16"),
        ("empty", Vec::new(), "empty"),
        ("no email column", b"name,city\nAda,London\n".to_vec(), "email column"),
        (
            "100k columns",
            format!("email,{}\n", (0..100_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",")).into_bytes(),
            "columns",
        ),
    ];
    for (name, file, words) in refused {
        let (status, err) = upload(&app, &token, file, &offline(list)).await;
        assert_eq!(status, 422, "{name}: {err}");
        assert!(err["error"]["message"].as_str().expect("message").contains(words), "{name}: {err}");
    }
    // Too large for the configured limit: 413, nothing stored.
    let (status, err) = upload(&app, &token, vec![b'a'; 3 * 1024 * 1024], &offline(list)).await;
    assert_eq!(status, 413, "{err}");
    let (_, imports) = app.call("GET", "/api/v1/imports", Some(&token), None).await;
    assert_eq!(imports["imports"], json!([]));

    // A 1 MB single field and broken quoting: those rows are reported, the rest imported.
    let mut csv = b"email,note\nada@example.org,fine\nbig@example.org,\"".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    csv.extend_from_slice(b"\"\nbob@example.org,fine\ncarl@example.org,\"unterminated\n");
    let (status, created) = upload(&app, &token, csv, &offline(list)).await;
    assert_eq!(status, 202, "{created}");
    let import = wait(&app, &token, created["id"].as_i64().expect("id")).await;
    assert_eq!(import["counts"]["imported"], 3, "{import}");
    assert_eq!(reasons(&import), vec![(3, "row_too_large".into())]);

    // Latin-1 is detected; semicolons and tabs too.
    let (_, created) =
        upload(&app, &token, b"email;name\nmueller@example.org;M\xfcller\n".to_vec(), &offline(list)).await;
    wait(&app, &token, created["id"].as_i64().expect("id")).await;
    assert_eq!(contact(&app, &token, "mueller@example.org").await["attributes"]["name"], "Müller");
    let (_, created) = upload(&app, &token, b"email\tname\ntab@example.org\tT\n".to_vec(), &offline(list)).await;
    wait(&app, &token, created["id"].as_i64().expect("id")).await;
    assert_eq!(contact(&app, &token, "tab@example.org").await["attributes"]["name"], "T");
}

#[tokio::test]
async fn an_upload_that_is_not_multipart_gets_a_json_error() {
    let app = spawn_app().await;
    let (token, _) = setup(&app).await;
    for body in [None, Some("email\nx@example.org\n")] {
        let mut req = app.client.post(app.url("/api/v1/imports")).bearer_auth(&token);
        if let Some(b) = body {
            req = req.header("content-type", "text/csv").body(b);
        }
        let resp = req.send().await.expect("send");
        assert_eq!(resp.status(), 415);
        let err: Value = resp.json().await.expect("a JSON error");
        assert_eq!(err["error"]["code"], "unsupported_media_type", "{err}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| m.contains("multipart/form-data")), "{err}");
    }
    let (_, imports) = app.call("GET", "/api/v1/imports", Some(&token), None).await;
    assert_eq!(imports["imports"], serde_json::json!([]), "nothing stored");
}
