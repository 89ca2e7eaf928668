//! Hostile and malformed requests get a clear JSON error and change nothing.

use assent_test_support::spawn_app;
use serde_json::json;

#[tokio::test]
async fn oversized_body_is_413() {
    let app = spawn_app().await;
    let (_, token) = app.create_account("Alpha", "owner@alpha.example").await;
    let huge = json!({"name": "x".repeat(2 * 1024 * 1024)});
    let (status, err) = app.call("POST", "/api/v1/lists", Some(&token), Some(huge)).await;
    assert_eq!((status, err["error"]["code"].as_str()), (413, Some("payload_too_large")), "{err}");
    let (_, lists) = app.call("GET", "/api/v1/lists", Some(&token), None).await;
    assert_eq!(lists["lists"], json!([]));
}

#[tokio::test]
async fn malformed_json_is_400_with_the_field() {
    let app = spawn_app().await;
    let (_, token) = app.create_account("Alpha", "owner@alpha.example").await;
    let send = |body: &'static str| {
        app.client
            .post(app.url("/api/v1/lists"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        (r#"{"name": "x""#, "malformed_json", None),
        (r#"not json"#, "malformed_json", None),
        (r#"{"name": 5}"#, "invalid_field", Some("name")),
        (r#"{"name": "x", "colour": "red"}"#, "invalid_field", Some("colour")),
        (r#"{"description": "no name"}"#, "invalid_field", Some("name")),
        (r#"[]"#, "invalid_field", None),
        // serde would fill the struct from an array; a body is an object.
        (r#"["x", null]"#, "not_an_object", None),
        (r#" ["x"]"#, "not_an_object", None),
    ];
    for (body, code, field) in cases {
        let resp = send(body).await.expect("send");
        assert_eq!(resp.status(), 400, "{body}");
        let err: serde_json::Value = resp.json().await.expect("json error");
        assert_eq!(err["error"]["code"], code, "{body}: {err}");
        if let Some(f) = field {
            assert_eq!(err["error"]["field"], f, "{body}: {err}");
        }
        assert!(!err["error"]["message"].as_str().unwrap_or_default().is_empty());
    }
    // Not JSON at all.
    let resp = app.client.post(app.url("/api/v1/lists")).bearer_auth(&token).body("name=x").send().await.expect("send");
    assert_eq!(resp.status(), 415);
    let (_, lists) = app.call("GET", "/api/v1/lists", Some(&token), None).await;
    assert_eq!(lists["lists"], json!([]));
}

#[tokio::test]
async fn unknown_fields_are_rejected_everywhere() {
    let app = spawn_app().await;
    let (status, err) = app
        .call(
            "POST",
            "/api/v1/accounts",
            Some(&app.operator_token),
            Some(json!({"name": "A", "owner_email": "a@b.example", "plan": "gold"})),
        )
        .await;
    assert_eq!((status, err["error"]["field"].as_str()), (400, Some("plan")), "{err}");
    let (_, token) = app.create_account("Alpha", "owner@alpha.example").await;
    let mut audit = assent_test_support::TestApp::complete_audit();
    audit["imprint"]["favourite_colour"] = json!("blue");
    let (status, err) = app.call("PUT", "/api/v1/account/audit", Some(&token), Some(audit)).await;
    assert_eq!((status, err["error"]["field"].as_str()), (400, Some("imprint.favourite_colour")), "{err}");
}

#[tokio::test]
async fn bad_addresses_and_consent_are_422_and_store_nothing() {
    let app = spawn_app().await;
    let (_, token) = app.active_account("Alpha", "owner@alpha.example").await;
    let (_, list) = app.call("POST", "/api/v1/lists", Some(&token), Some(json!({"name": "News"}))).await;
    let list = list["id"].as_i64().expect("list");
    let evidence = json!({"origin": "offline_form", "evidence": {"document_ref": "scan.pdf"}});
    let cases = [
        (json!({"email": "not an address", "list_ids": [list], "consent": evidence}), "email"),
        (json!({"email": "info@example.org", "list_ids": [list], "consent": evidence}), "email"),
        (json!({"email": "x@mailinator.com", "list_ids": [list], "consent": evidence}), "email"),
        (
            json!({"email": "a@example.org", "list_ids": [list], "consent": {"origin": "purchased_list"}}),
            "consent.origin",
        ),
        (
            json!({"email": "a@example.org", "list_ids": [list], "consent": {"origin": "purchase", "evidence": {"order_ref": "1", "notice_text": "n"}}}),
            "consent.evidence.product_category",
        ),
        (
            json!({"email": "a@example.org", "list_ids": [list], "consent": {"origin": "co_registration", "evidence": {"contest_id": "c", "sponsors": (0..11).map(|i| format!("S{i}")).collect::<Vec<_>>(), "sponsor_name": "S1"}}}),
            "consent.evidence.sponsors",
        ),
        (json!({"email": "a@example.org", "list_ids": [list], "consent": {"origin": "telepathy"}}), "consent.origin"),
        (json!({"email": "a@example.org", "list_ids": [], "consent": evidence}), "list_ids"),
        (
            json!({"email": "a@example.org", "list_ids": [list], "consent": evidence, "attributes": {"k": "x".repeat(20_000)}}),
            "attributes",
        ),
    ];
    for (body, field) in cases {
        let (status, err) = app.call("POST", "/api/v1/contacts", Some(&token), Some(body.clone())).await;
        assert_eq!(status, 422, "{body}: {err}");
        assert_eq!(err["error"]["field"], field, "{body}: {err}");
        assert!(err["error"]["message"].as_str().is_some_and(|m| m.len() > 10), "{err}");
    }
    let (_, err) = app
        .call(
            "POST",
            "/api/v1/contacts",
            Some(&token),
            Some(json!({"email": "a@example.org", "list_ids": [list], "consent": {"origin": "scraped"}})),
        )
        .await;
    assert_eq!(err["error"]["code"], "forbidden_origin");
    let (_, contacts) = app.call("GET", "/api/v1/contacts", Some(&token), None).await;
    assert_eq!(contacts["contacts"], json!([]), "nothing may be stored");
}

#[tokio::test]
async fn unknown_routes_and_ids_are_json_404() {
    let app = spawn_app().await;
    let (_, token) = app.create_account("Alpha", "owner@alpha.example").await;
    for path in ["/api/v1/nope", "/api/v1/lists/abc", "/api/v1/lists/-1", "/api/v1/lists/99999999999999999999"] {
        let (status, err) = app.call("GET", path, Some(&token), None).await;
        assert_eq!((status, err["error"]["code"].as_str()), (404, Some("not_found")), "{path}");
    }
}

#[tokio::test]
async fn health_metrics_and_openapi_are_served() {
    let app = spawn_app().await;
    let (status, health) = app.call("GET", "/healthz", None, None).await;
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")));
    let (status, doc) = app.call("GET", "/api/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in ["/api/v1/accounts", "/api/v1/account/audit", "/api/v1/lists/{id}", "/api/v1/contacts"] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from OpenAPI");
    }
    let metrics = app.client.get(app.url("/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("assent_http_requests_total"), "{metrics}");
}

/// Every route the router serves is described in the OpenAPI document.
#[test]
fn every_route_is_in_the_openapi_document() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).expect("openapi.json");
    let source = include_str!("../src/routes/mod.rs");
    let mut count = 0;
    for part in source.split(".route(\"").skip(1) {
        let path = part.split('"').next().expect("path");
        assert!(doc["paths"].get(path).is_some(), "{path} is served but missing from openapi.json");
        count += 1;
    }
    assert!(count > 20, "found only {count} routes");
}

/// An optional body may be left out even when the client says it is JSON.
#[tokio::test]
async fn empty_optional_body_is_no_body() {
    let app = spawn_app().await;
    let (id, _) = app.create_account("Alpha", "owner@alpha.example").await;
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/accounts/{id}/tokens")))
        .bearer_auth(&app.operator_token)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 201);
    let resp = app
        .client
        .post(app.url(&format!("/api/v1/accounts/{id}/tokens")))
        .bearer_auth(&app.operator_token)
        .body("{\"nme\": 1}")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status(), 415, "a body that is sent must be JSON");
}
