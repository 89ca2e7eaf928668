//! Produced messages parsed by independent MIME parsers — Python's `email`
//! (policy=default) and the mail-parser crate — decode back to exactly what
//! went in; plus a snapshot of the complete header block (fixed keys, date
//! and ids, so the DKIM signatures are fixed too).

mod outbound_support;

use assent_domain::EmailAddress;
use assent_mail::outbound::{AutoSubmitted, Mailbox, MessageId, TransactionalMessage};
use mail_parser::MessageParser;
use outbound_support::*;

fn non_ascii_sample() -> Sample {
    let mut s = Sample::new();
    s.from_name = "Bäckerei \"Müller\" & Söhne".into();
    s.to_name = Some("Zoë Øster 🙂".into());
    s.subject = "Grüße aus Köln — 20 % auf alles ☕ und noch viel mehr Text, damit gefaltet werden muss".into();
    s.list_name = "Neuigkeiten für Kunden".into();
    s.text =
        "Hallo Zoë,\n\nschöne Grüße =?utf-8?q?nicht?= dekodieren.\n.Punkt am Zeilenanfang\nEnde mit Leerzeichen   \n"
            .into();
    s.html = format!("<p>Grüße ✓</p>\n<p>{}</p>\n", "lange Zeile ohne Umbruch ".repeat(100));
    s
}

#[test]
fn python_email_decodes_everything_back() {
    if !python_has("email") {
        return;
    }
    let sample = non_ascii_sample();
    let signed = sample.signed(&signers());
    assert_wire_safe(&signed);
    let report = python_parse("py-mime", &signed);
    assert_eq!(report["defects"], serde_json::json!([]), "parser defects: {report}");
    assert_eq!(report["content_type"], "multipart/alternative");
    let headers = &report["headers"];
    assert_eq!(headers["Subject"][0], sample.subject.as_str());
    assert_eq!(headers["From"][0], "\"Bäckerei \\\"Müller\\\" & Söhne\" <hello@news.example.com>");
    assert_eq!(headers["To"][0], "Zoë Øster 🙂 <anna.muster@example.org>");
    assert_eq!(headers["List-Id"][0], "Neuigkeiten für Kunden <c7.lists.news.example.com>");
    assert_eq!(
        headers["List-Unsubscribe"][0],
        "<https://app.example.com/u/AbCdEf0123456789.xyz>, <mailto:unsubscribe+AbCdEf0123456789.xyz@news.example.com>"
    );
    assert_eq!(headers["List-Unsubscribe-Post"][0], "List-Unsubscribe=One-Click");
    assert_eq!(headers["Feedback-ID"][0], "c7:a3:newsletter:assent");
    assert_eq!(headers["X-CSA-Complaints"][0], "csa-complaints@eco.de");
    assert_eq!(headers["Message-ID"][0], "<d42.c7.1751371200@news.example.com>");
    assert_eq!(headers["Date"][0], "Tue, 01 Jul 2025 12:00:00 +0000");
    assert_eq!(headers["MIME-Version"][0], "1.0");
    assert_eq!(headers["DKIM-Signature"].as_array().map(Vec::len), Some(2));

    let parts = report["parts"].as_array().expect("parts");
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[0]["charset"], "utf-8");
    assert_eq!(parts[0]["cte"], "quoted-printable");
    assert_eq!(parts[0]["content"], sample.text.as_str());
    assert_eq!(parts[1]["content_type"], "text/html");
    assert_eq!(parts[1]["content"], sample.html.as_str());
}

#[test]
fn mail_parser_decodes_everything_back() {
    let sample = non_ascii_sample();
    let signed = sample.signed(&signers());
    let msg = MessageParser::default().parse(&signed).expect("parses");
    assert_eq!(msg.subject(), Some(sample.subject.as_str()));
    let from = msg.from().and_then(|a| a.first()).expect("from");
    assert_eq!(from.name(), Some(sample.from_name.as_str()));
    assert_eq!(from.address(), Some("hello@news.example.com"));
    let to = msg.to().and_then(|a| a.first()).expect("to");
    assert_eq!(to.name(), sample.to_name.as_deref());
    assert_eq!(to.address(), Some("anna.muster@example.org"));
    assert_eq!(msg.message_id(), Some("d42.c7.1751371200@news.example.com"));
    assert_eq!(msg.date().map(|d| d.to_timestamp()), Some(DATE));
    let text = msg.body_text(0).expect("text part").replace("\r\n", "\n");
    assert_eq!(text, sample.text);
    let html = msg.body_html(0).expect("html part").replace("\r\n", "\n");
    assert_eq!(html, sample.html);
    assert_eq!(msg.header_raw("List-Unsubscribe-Post").map(str::trim), Some("List-Unsubscribe=One-Click"));
}

#[test]
fn header_block_snapshot() {
    let signed = Sample::new().signed(&signers());
    insta::assert_snapshot!("campaign_header_block", header_block(&signed));
    let signed = non_ascii_sample().signed(&signers());
    insta::assert_snapshot!("campaign_header_block_non_ascii", header_block(&signed));
}

#[test]
fn boundary_never_occurs_inside_parts() {
    let mut sample = Sample::new();
    // Content that tries to contain the boundary: it would have to contain
    // "=_", which quoted-printable always encodes as "=3D_".
    let msg = sample.message().to_bytes().expect("message");
    let text = String::from_utf8(msg).expect("ascii");
    let boundary = text.split("boundary=\"").nth(1).and_then(|s| s.split('"').next()).expect("boundary").to_owned();
    sample.text = format!("--{boundary}\n--{boundary}--\n");
    sample.html = format!("<p>--{boundary}</p>");
    let msg = String::from_utf8(sample.message().to_bytes().expect("message")).expect("ascii");
    assert_eq!(msg.matches(&format!("--{boundary}")).count(), 3, "{msg}");
    let parsed = MessageParser::default().parse(msg.as_bytes()).expect("parses");
    assert_eq!(parsed.body_text(0).expect("text").replace("\r\n", "\n"), sample.text);
}

#[test]
fn transactional_message_has_no_list_headers() {
    let from = EmailAddress::parse("confirm@news.example.com").expect("address");
    let to = EmailAddress::parse("anna@example.org").expect("address");
    let id = MessageId::new("conf1", 1, "news.example.com").expect("id");
    let message = TransactionalMessage {
        from: Mailbox::new(Some("Example Shop"), &from),
        to: Mailbox::new(None, &to),
        reply_to: Some(Mailbox::new(Some("Support"), &from)),
        subject: "Bitte bestätigen Sie Ihre Anmeldung",
        date: DATE,
        message_id: &id,
        auto_submitted: Some(AutoSubmitted::AutoGenerated),
        text: "Bitte bestätigen: https://app.example.com/c/T\n",
        html: None,
    };
    let bytes = message.to_bytes().expect("assembles");
    assert_wire_safe(&bytes);
    let head = header_block(&bytes);
    assert!(!head.contains("List-"), "{head}");
    assert!(head.contains("Auto-Submitted: auto-generated\r\n"));
    assert!(head.contains("Reply-To: Support <confirm@news.example.com>\r\n"));
    assert!(head.contains("Content-Type: text/plain; charset=utf-8\r\n"));
    let parsed = MessageParser::default().parse(&bytes).expect("parses");
    assert_eq!(parsed.subject(), Some("Bitte bestätigen Sie Ihre Anmeldung"));
    assert_eq!(parsed.body_text(0).expect("text").replace("\r\n", "\n"), message.text);

    let with_html = TransactionalMessage { html: Some("<p>Bitte bestätigen</p>"), ..message };
    let bytes = with_html.to_bytes().expect("assembles");
    let parsed = MessageParser::default().parse(&bytes).expect("parses");
    assert_eq!(parsed.body_html(0).as_deref(), Some("<p>Bitte bestätigen</p>"));
    if python_has("email") {
        let report = python_parse("transactional", &bytes);
        assert_eq!(report["defects"], serde_json::json!([]), "{report}");
        assert_eq!(report["parts"][0]["content"], message.text);
    }
}

#[test]
fn utf8_local_part_is_written_raw_for_smtputf8() {
    let from = EmailAddress::parse("news@example.com").expect("address");
    let to = EmailAddress::parse("jürgen@example.org").expect("address");
    assert!(to.needs_smtputf8());
    let id = MessageId::new("x", 1, "example.com").expect("id");
    let message = TransactionalMessage {
        from: Mailbox::new(None, &from),
        to: Mailbox::new(Some("Jürgen"), &to),
        reply_to: None,
        subject: "Hallo",
        date: DATE,
        message_id: &id,
        auto_submitted: None,
        text: "x",
        html: None,
    };
    let bytes = message.to_bytes().expect("assembles");
    let head = header_block(&bytes);
    assert!(head.contains("To: =?UTF-8?Q?J=C3=BCrgen?= <jürgen@example.org>\r\n"), "{head}");
}
