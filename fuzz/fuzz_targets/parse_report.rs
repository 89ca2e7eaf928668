//! Any bytes through the inbound report parser and the bounce classifier:
//! they must never panic, and a classification's class must follow from its
//! reason.

#![no_main]

use assent_domain::bounce::{classify, classify_smtp_reply};
use assent_mail::inbound::{classify_file_json, parse_report};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = parse_report(data);
    for r in &report.recipients {
        if let (Some(class), Some(reason)) = (r.class, r.reason) {
            assert_eq!(class, reason.class());
        }
    }
    let _ = classify_file_json("fuzz.eml", data);
    if let Ok(text) = std::str::from_utf8(data) {
        let c = classify(None, None, text);
        assert_eq!(c.class, c.reason.class());
        let _ = classify_smtp_reply(550, text);
        let _ = classify_smtp_reply(451, text);
    }
});
