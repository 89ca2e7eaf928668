//! `parse_report` and the classifier are total: no input makes them panic,
//! and what they return is internally consistent. Inputs are random bytes,
//! random text, and mutations of real-shaped reports (the parser's hard
//! paths only open on almost-valid MIME).

#![allow(clippy::unwrap_used)]

use assent_domain::bounce::{BounceReason, EnhancedStatus, Pairs, classify, classify_smtp_reply, clean_diagnostic};
use assent_mail::inbound::{ReportKind, classify_file_json, parse_report};
use proptest::prelude::*;

const SEEDS: &[&[u8]] = &[
    include_bytes!("fixtures/inbound/postfix_dsn_user_unknown.eml"),
    include_bytes!("fixtures/inbound/exim_user_unknown.eml"),
    include_bytes!("fixtures/inbound/qmail_vpopmail_two.eml"),
    include_bytes!("fixtures/inbound/office365_dsn_recipient_not_found.eml"),
    include_bytes!("fixtures/inbound/arf_yahoo_abuse.eml"),
    include_bytes!("fixtures/inbound/ooo_outlook_german.eml"),
    include_bytes!("fixtures/inbound/ses_sns_bounce_json.eml"),
    include_bytes!("fixtures/inbound/lotus_domino.eml"),
    // Real ones: a Sieve reject MDN, XWall's xdelivery-status, Boxbe's
    // out-of-order DSN groups, AOL's bare screen names.
    include_bytes!("fixtures/flufl/simple_38.txt"),
    include_bytes!("fixtures/bounceparser/spam-rejection42.msg"),
    include_bytes!("fixtures/bounceparser/boxbe-cr.msg"),
    include_bytes!("fixtures/bounceparser/aol.attachment.msg"),
];

fn check_report(raw: &[u8]) {
    let r = parse_report(raw);
    for x in &r.recipients {
        // The class always follows from the reason.
        if let (Some(c), Some(reason)) = (x.class, x.reason) {
            assert_eq!(c, reason.class());
        }
        if let Some(s) = &x.status {
            assert!(EnhancedStatus::parse(s).is_ok(), "status {s:?}");
        }
        if r.kind != ReportKind::Bounce {
            assert!(x.class.is_none());
        }
    }
    let lines = classify_file_json("f.eml", raw);
    assert!(!lines.is_empty());
}

/// Text that looks like report fragments, so the scanners get exercised.
fn reportish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("Final-Recipient: rfc822; ".to_owned()),
        Just("Original-Recipient: ".to_owned()),
        Just("Action: failed\n".to_owned()),
        Just("Action: delayed\n".to_owned()),
        Just("Status: 5.1.1\n".to_owned()),
        Just("Diagnostic-Code: smtp; 550".to_owned()),
        Just("Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n".to_owned()),
        Just("Content-Type: message/delivery-status\n".to_owned()),
        Just("Content-Type: message/feedback-report\n".to_owned()),
        Just("Content-Type: message/disposition-notification\n".to_owned()),
        Just("Disposition: automatic-action/MDN-sent-automatically; deleted\n".to_owned()),
        Just("X400-Supplementary-Info: ".to_owned()),
        Just("--b\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("\r\n".to_owned()),
        Just(" ".to_owned()),
        Just("<user@example.com>:".to_owned()),
        Just("bounces+tok@b.example".to_owned()),
        Just("5.".to_owned()),
        Just("#5.1.".to_owned()),
        Just("550-".to_owned()),
        Just("@".to_owned()),
        Just("é@ü".to_owned()),
        Just("{\"notificationType\":\"Bounce\",\"bounce\":{".to_owned()),
        Just("Auto-Submitted: auto-replied\n".to_owned()),
        Just("Subject: Undelivered Mail\n".to_owned()),
        Just("This is the qmail-send program".to_owned()),
        "[ -~]{0,20}",
        "\\PC{0,8}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|v| v.concat())
}

/// Fuzzing found a nesting that trips a `debug_assert!` inside mail-parser;
/// debug builds must not panic on it either.
#[test]
fn malformed_nested_rfc822_is_contained() {
    let raw = b"R\nContent-Type: multipart;boundary==_b\"\n\n--=_bContent-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n\n--=_b--";
    check_report(raw);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_report_never_panics_on_bytes(raw in prop::collection::vec(any::<u8>(), 0..4096)) {
        check_report(&raw);
    }

    #[test]
    fn parse_report_never_panics_on_reportish_text(s in reportish()) {
        check_report(s.as_bytes());
        let with_headers = format!("From: MAILER-DAEMON@x.example\nSubject: failure notice\nMIME-Version: 1.0\n{s}");
        check_report(with_headers.as_bytes());
    }

    #[test]
    fn parse_report_never_panics_on_mutated_reports(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..24),
    ) {
        let mut raw = SEEDS[seed].to_vec();
        for (at, byte, op) in edits {
            if raw.is_empty() { break; }
            let i = at.index(raw.len());
            match op {
                0 => raw[i] = byte,
                1 => raw.insert(i, byte),
                _ => { raw.truncate(i.max(1)); }
            }
        }
        check_report(&raw);
    }

    #[test]
    fn classify_never_panics_and_is_consistent(
        text in "\\PC{0,300}",
        code in proptest::option::of(0u16..1000),
        st in proptest::option::of((prop_oneof![Just(2u8), Just(4u8), Just(5u8)], 0u16..1000, 0u16..1000)),
    ) {
        let status = st.and_then(|(c, s, d)| EnhancedStatus::new(c, s, d).ok());
        let c = classify(status, code, &text);
        prop_assert_eq!(c.class, c.reason.class());
        prop_assert!(BounceReason::ALL.contains(&c.reason));
        let _ = clean_diagnostic(&text);
        let _ = EnhancedStatus::find_in(&text);
        if let Some(code) = code {
            let r = classify_smtp_reply(code, &text);
            prop_assert_eq!(r.is_some(), (400..600).contains(&code));
        }
    }

    /// The phrase prefilter never hides a phrase that is there.
    #[test]
    fn pair_filter_has_no_false_negatives(text in "\\PC{0,200}", a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let idx: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        let (x, y) = (idx[a.index(idx.len())], idx[b.index(idx.len())]);
        let sub = &text[x.min(y)..x.max(y)];
        prop_assert!(Pairs::of(&text).may_contain(sub));
    }

    #[test]
    fn status_round_trips(c in prop_oneof![Just(2u8), Just(4u8), Just(5u8)], s in 0u16..1000, d in 0u16..1000) {
        let st = EnhancedStatus::new(c, s, d).unwrap();
        prop_assert_eq!(EnhancedStatus::parse(&st.to_string()).unwrap(), st);
        if c != 2 {
            prop_assert_eq!(EnhancedStatus::find_in(&format!("550 {st} text")), Some(st));
        }
    }
}
