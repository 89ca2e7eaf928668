//! Tenant isolation: another account's ids behave exactly like ids that do
//! not exist.

use assent_test_support::spawn_app;
use serde_json::json;

#[tokio::test]
async fn account_b_gets_404_for_every_account_a_resource() {
    let app = spawn_app().await;
    let (_, a) = app.active_account("Alpha", "owner@alpha.example").await;
    let (_, b) = app.active_account("Beta", "owner@beta.example").await;

    let (_, list) = app.call("POST", "/api/v1/lists", Some(&a), Some(json!({"name": "A news"}))).await;
    let list_id = list["id"].as_i64().expect("list");
    let (status, contact) = app
        .call(
            "POST",
            "/api/v1/contacts",
            Some(&a),
            Some(json!({"email": "ada@example.org", "list_ids": [list_id],
                "consent": {"origin": "offline_form", "evidence": {"document_ref": "scan-17.pdf"}}})),
        )
        .await;
    assert_eq!(status, 201, "{contact}");
    let contact_id = contact["id"].as_i64().expect("contact");
    let (_, token) = app.call("POST", "/api/v1/account/tokens", Some(&a), Some(json!({"name": "a2"}))).await;
    let token_id = token["id"].as_i64().expect("token");

    let probes = [
        ("GET", format!("/api/v1/lists/{list_id}"), None),
        ("PATCH", format!("/api/v1/lists/{list_id}"), Some(json!({"name": "mine now"}))),
        ("DELETE", format!("/api/v1/lists/{list_id}"), None),
        ("GET", format!("/api/v1/contacts/{contact_id}"), None),
        ("DELETE", format!("/api/v1/account/tokens/{token_id}"), None),
    ];
    for (method, path, body) in &probes {
        let (status, err) = app.call(method, path, Some(&b), body.clone()).await;
        assert_eq!(status, 404, "{method} {path}: {err}");
        assert_eq!(err["error"]["code"], "not_found");
        // Same answer as for an id that exists nowhere.
        let missing = format!("{}/987654", path.rsplit_once('/').expect("id segment").0);
        let (status2, err2) = app.call(method, &missing, Some(&b), body.clone()).await;
        assert_eq!((status, &err), (status2, &err2), "{method} {path} differs from a missing id");
    }
    // B cannot put a contact on A's list, nor find A's contact by address.
    let (status, err) = app
        .call(
            "POST",
            "/api/v1/contacts",
            Some(&b),
            Some(json!({"email": "eve@example.org", "list_ids": [list_id],
                "consent": {"origin": "offline_form", "evidence": {"document_ref": "x"}}})),
        )
        .await;
    assert_eq!((status, err["error"]["code"].as_str()), (422, Some("unknown_list")));
    let (status, found) = app.call("GET", "/api/v1/contacts?email=ada@example.org", Some(&b), None).await;
    assert_eq!(status, 200);
    assert_eq!(found["contacts"], json!([]));
    let (_, lists) = app.call("GET", "/api/v1/lists", Some(&b), None).await;
    assert_eq!(lists["lists"], json!([]));
    // Operator routes are closed to customers entirely.
    let (status, _) = app.call("GET", "/api/v1/accounts", Some(&b), None).await;
    assert_eq!(status, 403);
    // A's resources are untouched.
    let (status, list) = app.call("GET", &format!("/api/v1/lists/{list_id}"), Some(&a), None).await;
    assert_eq!((status, list["name"].as_str()), (200, Some("A news")));
}
