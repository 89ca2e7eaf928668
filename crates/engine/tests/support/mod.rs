//! Shared by the inbound tests (over SMTP and from an IMAP mailbox): a
//! delivered campaign message as the outbox holds it, and the contact as
//! the API shows it.

use assent_test_support::TestApp;
use serde_json::Value;

/// A delivered campaign message: the raw text, its VERP sender, its
/// `mailto:` unsubscribe address and its recipient.
pub struct Sent {
    pub raw: String,
    pub verp: String,
    pub mailto: String,
    pub to: String,
}

fn header<'a>(raw: &'a str, name: &str) -> Option<&'a str> {
    raw.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(':'))).map(str::trim)
}

pub fn sent(raw: &str) -> Sent {
    let verp = header(raw, "Return-Path").expect("Return-Path").trim_matches(['<', '>']).to_string();
    let at = raw.find("mailto:unsubscribe+").expect("mailto unsubscribe") + "mailto:".len();
    let mailto: String = raw[at..].chars().take_while(|c| !matches!(c, '>' | '?' | ' ' | '\r' | '\n')).collect();
    let to = header(raw, "Delivered-To").expect("Delivered-To").to_string();
    Sent { raw: raw.to_string(), verp, mailto, to }
}

/// The original as a receiving system keeps it: without the envelope lines
/// the local delivery added.
pub fn original(s: &Sent) -> String {
    s.raw
        .lines()
        .filter(|l| !l.starts_with("Return-Path:") && !l.starts_with("Delivered-To:"))
        .collect::<Vec<_>>()
        .join("\r\n")
}

pub fn find<'a>(sent: &'a [Sent], to: &str) -> &'a Sent {
    sent.iter().find(|m| m.to == to).unwrap_or_else(|| panic!("nothing was sent to {to}"))
}

/// The contact with this address, with subscriptions and history.
pub async fn contact(app: &TestApp, token: &str, email: &str) -> Value {
    let (status, body) = app.call("GET", &format!("/api/v1/contacts?email={email}"), Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    let id = body["contacts"][0]["id"].clone();
    let (status, full) = app.call("GET", &format!("/api/v1/contacts/{id}"), Some(token), None).await;
    assert_eq!(status, 200, "{full}");
    full
}
