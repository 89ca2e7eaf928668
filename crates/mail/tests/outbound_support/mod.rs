//! Shared fixtures of the outbound tests: fixed keys, a sample campaign
//! message, and the bridge to the Python checkers (dkimpy, `email`).
#![allow(dead_code)] // each test crate uses a different subset

use std::path::PathBuf;
use std::process::Command;

use assent_domain::EmailAddress;
use assent_mail::outbound::{CampaignMessage, DkimKey, DkimSigner, ListId, Mailbox, MessageId};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// RSA-2048 test key (PKCS#8 DER, base64), made with `openssl genpkey`. Test
/// use only: it is public in this repository.
pub const RSA_PKCS8_B64: [&str; 17] = [
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQC5J9c+lOTRPLcVKoheCYDxEkyACE5BTdLFplKUY06BQWhWXBQc",
    "MD81OeSiPVN/5o2WIvZzOm/2uxJAKcrCrPdAFSKzttvkUJRRPmAvk5okyVNsJ4umGkNM0ajmSKvWqxgJRgMUaXaziHUEe7M4FYrP",
    "DxyYKOWRV2NXECPsY9fFmblDhFHgjbPv24csuFXkuuurOQS0aXDv6roT4cjgX+jHH1YsK7cozQJaWIM123v1i1m9C7stVBMbkgUe",
    "vgF9tyG1RcnXoVn3a7PD1e79AjVbBBxyYk5NoeAQtOsTzCAW+A4JlG96JNDbMD2pRzj1BDIfi6Tdj4ifgP6MpVCCzP3dAgMBAAEC",
    "ggEAB9kd6fkOXBenvFTw3MxvcCwD1eAgserQ4xOc7uno5diPH0kWwnY6Z6YoquLtBCOgnzCj+PRiYP5fYqrbtlJLODTtI0vamKpS",
    "J/qKUBLV6MwnXvaPe8l4+QgLWNFFTZf6vvOo3mz1Fd0M9g4FHpkfmo2qNA+RfirY3oykCSssdhVSJKTG+3/B/QpTHyaWMRweZGXf",
    "AGwbzYgFgzocoXmtxJwl1CW87OUWXvG98yw2pXx3gLTglJaK26sQ4hAY8iLvcA7X3bGg+HbcM4TDMEEa3aqFy9UD1HUTut/khclM",
    "0RJDuzLjeGVQWOixDjTiDQpwEQ0tyCgh3SgOxHBGAxdMnQKBgQD5Wmkm160RbnBIuv/jD3z/+4i0tG1MMoRyTgvZPJfNFZiVO/95",
    "Y2fMpV5bwk6qOrozxwxvOzKciBkJsmf3eVlH1eksoib33oMIkYibgVc+MLrSD+3a/mwTJ1hu1GhCrBTc8bnk47FeF0xpzwI5LZTD",
    "DKzlX/ptXrkHCxjAgK9WtwKBgQC+F1hftl7NlOV//CfqeDeg1AZ2WdPCH/OIDfT+4jRUFkVvk/Gc6QSIp6pggQVDhO+h76eWrsNs",
    "MbZENv1Xzl+7wixsYMQzWvBo89AskjLYEXNAMbi6e3Qpqo5BDSkoLvp2zXUGnTgAHMlXTCETTX+H5o0PygoFK5zlWLMX8jncCwKB",
    "gE3bY//D0f8iW57p/KH6IQ6QjHPX7lSfZWmHYv22hLN9bcITFMbjOfLVI6xE9GkEo0Utfn1wn3HusNqtQPcthan/aaoNC1vTt1hC",
    "kMP1U7dQYdTbMmpxjG9ClsMsQU2oC2+dbmzAh44YejyDbW9LAysP1yBboobpz54aYeUhiR3rAoGAZM90qq3I8TX50Dol4Q8IUV6g",
    "XructeLEAG+GcnX8UmvNPzMye4iIQwDINo22AOzLORIjyqG8OfDTPLH9AUgNNUHw1TksVB/yR3al/D08gaIfgPfdg+hc3ov5DT6x",
    "iQIBCmhDm9JdFJIvpQBWuinrbGM0hB8d2Ugb2PWFZTmsvakCgYBlFdo3F1+kEbQ0Fq0S42oNNTugkUXpxMM+MdY4Aj77wHmjg0K+",
    "v4RjjeEaCZNEoPhxKmxmzfzcbu0Q3QA3YVZ2AvwqGHXO8GDft/BWsif+MZQqrX+op4/YKa/isX5jV+k1a9KjcL4mns4ghJvSRYDf",
    "q3YjgdDIwRw0M2VZcZMVzw==",
];

/// Ed25519 test key (PKCS#8 v1 DER, base64), made with `openssl genpkey`.
pub const ED25519_PKCS8_B64: &str = "MC4CAQAwBQYDK2VwBCIEIIlQctPsV6KUAPyzpxLbZ0h2PY3MTpPbR6YdNWDg2Ibq";

pub const DOMAIN: &str = "news.example.com";
pub const RSA_SELECTOR: &str = "rsa2025";
pub const ED_SELECTOR: &str = "ed2025";
/// Fixed send time: Tue, 01 Jul 2025 12:00:00 +0000.
pub const DATE: i64 = 1_751_371_200;

pub fn rsa_key() -> DkimKey {
    let der = STANDARD.decode(RSA_PKCS8_B64.concat()).expect("test key base64");
    DkimKey::from_pkcs8_der(&der).expect("test RSA key")
}

pub fn ed_key() -> DkimKey {
    let der = STANDARD.decode(ED25519_PKCS8_B64).expect("test key base64");
    DkimKey::from_pkcs8_der(&der).expect("test Ed25519 key")
}

/// The two signers of a campaign message: RSA then Ed25519.
pub fn signers() -> [DkimSigner; 2] {
    [
        DkimSigner::new(rsa_key(), DOMAIN, RSA_SELECTOR).expect("rsa signer"),
        DkimSigner::new(ed_key(), DOMAIN, ED_SELECTOR).expect("ed signer"),
    ]
}

/// The DNS TXT records of the signers, as `{name: value}` JSON.
pub fn dns_records_json(signers: &[DkimSigner]) -> String {
    let map: serde_json::Map<String, serde_json::Value> =
        signers.iter().map(|s| (s.dns_name(), serde_json::Value::from(s.key().dns_txt_value()))).collect();
    serde_json::Value::Object(map).to_string()
}

/// Owned inputs of a campaign message, so tests can vary single fields.
#[derive(Debug, Clone)]
pub struct Sample {
    pub from: EmailAddress,
    pub from_name: String,
    pub to: EmailAddress,
    pub to_name: Option<String>,
    pub subject: String,
    pub message_id: MessageId,
    pub list_name: String,
    pub unsubscribe_url: String,
    pub unsubscribe_mailto: String,
    pub feedback_id: String,
    pub text: String,
    pub html: String,
}

impl Sample {
    pub fn new() -> Sample {
        Sample {
            from: EmailAddress::parse("hello@news.example.com").expect("address"),
            from_name: "Example Shop".into(),
            to: EmailAddress::parse("anna.muster@example.org").expect("address"),
            to_name: Some("Anna Muster".into()),
            subject: "Our July newsletter".into(),
            message_id: MessageId::new("d42.c7", DATE as u64, DOMAIN).expect("id"),
            list_name: "Example Shop News".into(),
            unsubscribe_url: "https://app.example.com/u/AbCdEf0123456789.xyz".into(),
            unsubscribe_mailto: "unsubscribe+AbCdEf0123456789.xyz@news.example.com".into(),
            feedback_id: "c7:a3:newsletter:assent".into(),
            text: "Hello Anna,\n\nour July offers are here.\n\nUnsubscribe: https://app.example.com/u/AbCdEf0123456789.xyz\n".into(),
            html: "<html><body><p>Hello Anna,</p><p>our July offers are here.</p>\
                   <p><a href=\"https://app.example.com/u/AbCdEf0123456789.xyz\">Unsubscribe</a></p></body></html>"
                .into(),
        }
    }

    pub fn message(&self) -> CampaignMessage<'_> {
        CampaignMessage {
            from: Mailbox::new(Some(&self.from_name), &self.from),
            to: Mailbox::new(self.to_name.as_deref(), &self.to),
            reply_to: None,
            subject: &self.subject,
            date: DATE,
            message_id: &self.message_id,
            list_id: ListId { name: &self.list_name, id: "c7.lists.news.example.com" },
            unsubscribe_url: &self.unsubscribe_url,
            unsubscribe_mailto: &self.unsubscribe_mailto,
            feedback_id: &self.feedback_id,
            csa_complaints: true,
            text: &self.text,
            html: &self.html,
        }
    }

    /// The message signed with both signers, signatures prepended.
    pub fn signed(&self, signers: &[DkimSigner]) -> Vec<u8> {
        let body = self.message().to_bytes().expect("message assembles");
        let sigs = assent_mail::outbound::sign_all(signers, &body, DATE as u64).expect("signs");
        let mut out = sigs.into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

impl Default for Sample {
    fn default() -> Self {
        Sample::new()
    }
}

/// The header section (up to the first empty line), CRLF kept.
pub fn header_block(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let end = text.find("\r\n\r\n").expect("header/body separator") + 2;
    text[..end].to_string()
}

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(name)
}

/// True when `python3` can import `modules`. Otherwise the test is skipped
/// with a loud message — except in CI (CI=true), where it fails: the
/// independent checks are the point of these tests.
pub fn python_has(modules: &str) -> bool {
    tool_present(
        Command::new("python3").args(["-c", &format!("import {modules}")]),
        &format!("python3 with `{modules}` is not available (install: pip install dkimpy pynacl)"),
    )
}

/// True when Perl's Mail::DKIM (the second independent verifier) is
/// installed; skipped loudly otherwise, failed in CI like [`python_has`].
pub fn perl_has_mail_dkim() -> bool {
    tool_present(
        Command::new("perl").args(["-MMail::DKIM::Verifier", "-MNet::DNS::RR", "-e", "1"]),
        "perl with Mail::DKIM is not available (install: apt-get install libmail-dkim-perl)",
    )
}

/// Whether `probe` succeeds; when not, `missing` is printed loudly, or is a
/// failure under CI=true.
fn tool_present(probe: &mut Command, missing: &str) -> bool {
    let ok = probe.output().map(|o| o.status.success()).unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{missing}; CI must run the independent verifiers");
        }
        eprintln!("\n{}\n!!! SKIPPED independent check: {missing}\n{}\n", "!".repeat(78), "!".repeat(78));
    }
    ok
}

/// Mail::DKIM's verdict per signature, in header order: (algorithm,
/// result, detail), e.g. ("rsa-sha256", "pass", "pass").
pub fn mail_dkim_verify(test: &str, message: &[u8], records_json: &str) -> Vec<(String, String, String)> {
    let field = |r: &serde_json::Value, k: &str| r[k].as_str().unwrap_or_default().to_owned();
    run_verifier("perl", "dkim_verify.pl", test, message, records_json)
        .iter()
        .map(|r| (field(r, "algorithm"), field(r, "result"), field(r, "detail")))
        .collect()
}

/// Runs a verifier script on `message` with the published records and
/// returns its `results`, one per signature in header order.
fn run_verifier(
    interpreter: &str,
    name: &str,
    test: &str,
    message: &[u8],
    records_json: &str,
) -> Vec<serde_json::Value> {
    let dir = scratch_dir(test);
    let msg_path = dir.join("message.eml");
    let rec_path = dir.join("records.json");
    std::fs::write(&msg_path, message).expect("write message");
    std::fs::write(&rec_path, records_json).expect("write records");
    let out = Command::new(interpreter)
        .arg(script(name))
        .arg(&msg_path)
        .arg(&rec_path)
        .output()
        .unwrap_or_else(|e| panic!("run {interpreter}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("{name} output is not JSON ({e}): {stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    report["results"].as_array().unwrap_or_else(|| panic!("no results: {report}")).clone()
}

/// A fresh scratch directory for one test.
pub fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("assent-outbound-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs dkim_verify.py on `message`; returns one verdict per signature,
/// in header order.
pub fn dkimpy_verify(test: &str, message: &[u8], records_json: &str) -> Vec<bool> {
    run_verifier("python3", "dkim_verify.py", test, message, records_json)
        .iter()
        .map(|r| r["ok"].as_bool().expect("ok flag"))
        .collect()
}

/// Runs mime_check.py on `message` and returns its JSON report.
pub fn python_parse(test: &str, message: &[u8]) -> serde_json::Value {
    let dir = scratch_dir(test);
    let msg_path = dir.join("message.eml");
    std::fs::write(&msg_path, message).expect("write message");
    let out = Command::new("python3").arg(script("mime_check.py")).arg(&msg_path).output().expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "mime_check.py failed: {stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("mime_check.py output is not JSON ({e}): {stdout}"))
}

/// Every line is at most 998 octets (CRLF excluded) and every line ends in
/// CRLF; every byte is 7-bit.
pub fn assert_wire_safe(message: &[u8]) {
    assert!(message.is_ascii(), "8-bit byte in message");
    assert!(message.ends_with(b"\r\n"), "message must end with CRLF");
    for (i, line) in message.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue; // after the final LF
        }
        assert!(line.ends_with(b"\r"), "line {i} lacks CR: {:?}", String::from_utf8_lossy(line));
        assert!(!line[..line.len() - 1].contains(&b'\r'), "bare CR in line {i}");
        assert!(line.len() - 1 <= 998, "line {i} is {} octets", line.len() - 1);
    }
}
