//! Black-box tests of the account life cycle over a real HTTP port.

use assent_test_support::{TestApp, spawn_app};
use serde_json::json;

fn contact_body(list: i64) -> serde_json::Value {
    json!({
        "email": "kunde@example.org",
        "list_ids": [list],
        "consent": {"origin": "contract", "evidence": {"contract_ref": "C-1", "notice_text": "We may email you; you can object any time."}}
    })
}

#[tokio::test]
async fn pending_account_cannot_import_until_audited_and_activated() {
    let app = spawn_app().await;
    let (id, token) = app.create_account("Beispiel GmbH", "owner@beispiel.de").await;
    let (status, account) = app.call("GET", "/api/v1/account", Some(&token), None).await;
    assert_eq!((status, account["status"].as_str()), (200, Some("pending_audit")));

    // Lists may be prepared while pending, but adding contacts is refused.
    let (status, list) = app.call("POST", "/api/v1/lists", Some(&token), Some(json!({"name": "News"}))).await;
    assert_eq!(status, 201, "{list}");
    let list_id = list["id"].as_i64().expect("list id");
    let (status, err) = app.call("POST", "/api/v1/contacts", Some(&token), Some(contact_body(list_id))).await;
    assert_eq!(status, 403, "{err}");
    assert_eq!(err["error"]["code"], "account_not_active");

    // The operator cannot activate before the audit.
    let activate = format!("/api/v1/accounts/{id}/activate");
    let (status, err) = app.call("POST", &activate, Some(&app.operator_token), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("audit_missing")), "{err}");

    // An incomplete imprint is refused, naming every missing field.
    let mut audit = TestApp::complete_audit();
    audit["imprint"]["phone"] = json!("");
    audit["imprint"].as_object_mut().expect("imprint").remove("representative");
    audit["imprint"]["street"] = json!("Postfach 12 34");
    let (status, err) = app.call("PUT", "/api/v1/account/audit", Some(&token), Some(audit)).await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["code"], "audit_incomplete");
    let field = err["error"]["field"].as_str().expect("field");
    for missing in ["imprint.phone", "imprint.representative", "imprint.street"] {
        assert!(field.contains(missing), "{missing} not named in {field}");
    }
    assert!(err["error"]["message"].as_str().expect("message").contains("phone"));

    // An answer too long for the operator to read is refused, not cut.
    let mut audit = TestApp::complete_audit();
    audit["consent_collection"] = json!("x".repeat(10_001));
    let (status, err) = app.call("PUT", "/api/v1/account/audit", Some(&token), Some(audit)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("too_long")), "{err}");
    assert_eq!(err["error"]["field"], "consent_collection");

    // Complete audit → still pending, until the operator activates.
    let (status, body) = app.call("PUT", "/api/v1/account/audit", Some(&token), Some(TestApp::complete_audit())).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("pending_audit")), "{body}");
    assert_eq!(body["imprint"]["name"], "Beispiel GmbH");
    let (status, err) = app.call("POST", "/api/v1/contacts", Some(&token), Some(contact_body(list_id))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("account_not_active")));

    // A customer token cannot activate itself.
    let (status, err) = app.call("POST", &activate, Some(&token), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("operator_only")));

    let (status, body) =
        app.call("POST", &activate, Some(&app.operator_token), Some(json!({"reason": "checked"}))).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("active")), "{body}");
    let (status, contact) = app.call("POST", "/api/v1/contacts", Some(&token), Some(contact_body(list_id))).await;
    assert_eq!(status, 201, "{contact}");
    assert_eq!(contact["status"], "confirmed");
    assert_eq!(contact["consent_events"][0]["kind"], "consent_recorded");
    assert_eq!(contact["consent_events"][0]["evidence"]["evidence"]["contract_ref"], "C-1");

    // Suspension stops it again; the reason is required and recorded.
    let suspend = format!("/api/v1/accounts/{id}/suspend");
    let (status, err) = app.call("POST", &suspend, Some(&app.operator_token), None).await;
    assert_eq!((status, err["error"]["field"].as_str()), (422, Some("reason")));
    let (status, body) =
        app.call("POST", &suspend, Some(&app.operator_token), Some(json!({"reason": "complaint rate 0.5 %"}))).await;
    assert_eq!(
        (status, body["status"].as_str(), body["status_reason"].as_str()),
        (200, Some("suspended"), Some("complaint rate 0.5 %"))
    );
    let (status, _) = app.call("POST", "/api/v1/contacts", Some(&token), Some(contact_body(list_id))).await;
    assert_eq!(status, 403);
    // …and the operator sees the whole story.
    let (_, account) = app.call("GET", &format!("/api/v1/accounts/{id}"), Some(&app.operator_token), None).await;
    let actions: Vec<&str> =
        account["history"].as_array().expect("history").iter().filter_map(|e| e["action"].as_str()).collect();
    for a in ["account.create", "account.submit_audit", "account.activate", "account.suspend"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    // Reinstating works through activate.
    let (status, body) = app.call("POST", &activate, Some(&app.operator_token), None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("active")));
}

#[tokio::test]
async fn rejection_needs_a_reason_and_resubmission_reopens_the_audit() {
    let app = spawn_app().await;
    let (id, token) = app.create_account("Shady Ltd", "owner@shady.example").await;
    app.call("PUT", "/api/v1/account/audit", Some(&token), Some(TestApp::complete_audit())).await;
    let reject = format!("/api/v1/accounts/{id}/reject");
    let (status, _) = app.call("POST", &reject, Some(&app.operator_token), Some(json!({"reason": "  "}))).await;
    assert_eq!(status, 422);
    let (status, body) =
        app.call("POST", &reject, Some(&app.operator_token), Some(json!({"reason": "lists were bought"}))).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("rejected")));
    // Rejected cannot be suspended (illegal transition → 409).
    let (status, err) = app
        .call(
            "POST",
            &format!("/api/v1/accounts/{id}/suspend"),
            Some(&app.operator_token),
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (409, Some("illegal_transition")));
    let (status, body) = app.call("PUT", "/api/v1/account/audit", Some(&token), Some(TestApp::complete_audit())).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("pending_audit")));
    // Unknown account ids are 404 for the operator too.
    let (status, _) = app.call("POST", "/api/v1/accounts/999999/activate", Some(&app.operator_token), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn tokens_are_shown_once_hashed_and_revocable() {
    let app = spawn_app().await;
    let (_, owner) = app.active_account("Alpha", "owner@alpha.example").await;
    let (status, created) =
        app.call("POST", "/api/v1/account/tokens", Some(&owner), Some(json!({"name": "ci", "role": "viewer"}))).await;
    assert_eq!(status, 201, "{created}");
    let viewer = created["token"].as_str().expect("secret").to_string();
    let (status, listed) = app.call("GET", "/api/v1/account/tokens", Some(&owner), None).await;
    assert_eq!(status, 200);
    // The listing never shows a secret again.
    assert!(!listed.to_string().contains(&viewer));
    // A viewer reads but does not write.
    let (status, _) = app.call("GET", "/api/v1/lists", Some(&viewer), None).await;
    assert_eq!(status, 200);
    let (status, err) = app.call("POST", "/api/v1/lists", Some(&viewer), Some(json!({"name": "x"}))).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("insufficient_role")));
    let (status, _) = app.call("POST", "/api/v1/account/tokens", Some(&viewer), None).await;
    assert_eq!(status, 403);
    // The secret is stored only as a hash.
    let hash = assent_web::auth::hash_token(&viewer);
    assert!(app.store.find_token(&hash).await.expect("find").is_some());
    let id = created["id"].as_i64().expect("id");
    let (status, _) = app.call("DELETE", &format!("/api/v1/account/tokens/{id}"), Some(&owner), None).await;
    assert_eq!(status, 204);
    let (status, err) = app.call("GET", "/api/v1/lists", Some(&viewer), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (401, Some("unauthorized")));
    let (status, _) = app.call("DELETE", &format!("/api/v1/account/tokens/{id}"), Some(&owner), None).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn missing_or_wrong_credentials_are_401() {
    let app = spawn_app().await;
    for token in [None, Some("nope"), Some("assent_forged"), Some("")] {
        let (status, err) = app.call("GET", "/api/v1/lists", token, None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (401, Some("unauthorized")), "{token:?}");
    }
    let resp = app
        .client
        .get(app.url("/api/v1/lists"))
        .header("Authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 401);
    // The operator token is not an account token.
    let (status, err) = app.call("GET", "/api/v1/lists", Some(&app.operator_token), None).await;
    assert_eq!((status, err["error"]["code"].as_str()), (403, Some("account_only")));
}
