//! The inbound fixture corpus: every `tests/fixtures/inbound/NAME.eml` is
//! parsed and compared with its hand-written `NAME.expected.json`.
//!
//! The fixtures were written for this project from the documented and
//! commonly seen formats of each MTA and provider; none is copied from
//! another bounce parser's test suite.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use assent_mail::inbound::{InboundReport, classify_file_json, parse_report};
use serde_json::Value;

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/inbound")
}

fn fixtures() -> Vec<(String, Vec<u8>, Value)> {
    let mut out = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(fixtures_dir()).expect("fixture dir").flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("eml") {
            continue;
        }
        let name = path.file_stem().and_then(|s| s.to_str()).expect("name").to_owned();
        let raw = fs::read(&path).expect("read eml");
        let exp_path = path.with_file_name(format!("{name}.expected.json"));
        let exp_text =
            fs::read_to_string(&exp_path).unwrap_or_else(|_| panic!("{name}: missing {}", exp_path.display()));
        let expected: Value =
            serde_json::from_str(&exp_text).unwrap_or_else(|e| panic!("{name}: bad expectation: {e}"));
        out.push((name, raw, expected));
    }
    out
}

fn opt_str(v: Option<&str>) -> Value {
    v.map_or(Value::Null, |s| Value::String(s.to_owned()))
}

/// Compares one report with its expectation; returns the differences.
fn check(name: &str, r: &InboundReport, exp: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    let mut eq = |what: &str, got: Value, want: &Value| {
        if &got != want {
            errs.push(format!("{name}: {what}: got {got}, want {want}"));
        }
    };
    eq("kind", Value::String(r.kind.as_str().into()), &exp["kind"]);
    if let Some(f) = exp.get("format") {
        eq("format", Value::String(r.format.into()), f);
    }
    if let Some(v) = exp.get("verp_token") {
        eq("verp_token", opt_str(r.original.verp_token.as_deref()), v);
    }
    if let Some(v) = exp.get("original_message_id") {
        eq("original_message_id", opt_str(r.original.message_id.as_deref()), v);
    }
    if let Some(v) = exp.get("reporting_mta") {
        eq("reporting_mta", opt_str(r.reporting_mta.as_deref()), v);
    }
    if let Some(v) = exp.get("feedback_type") {
        eq("feedback_type", opt_str(r.feedback.as_ref().map(|f| f.feedback_type.as_str())), v);
    }
    if let Some(v) = exp.get("is_complaint") {
        eq("is_complaint", Value::Bool(r.feedback.as_ref().is_some_and(|f| f.is_complaint())), v);
    }
    let want = exp["recipients"].as_array().cloned().unwrap_or_default();
    // A report without recipients is expected as one all-null entry.
    let got: Vec<Value> = if r.recipients.is_empty() {
        vec![serde_json::json!({"recipient": null, "class": null, "status": null, "reason": null, "action": null})]
    } else {
        r.recipients.iter().map(|x| serde_json::to_value(x).expect("serialize")).collect()
    };
    if got.len() != want.len() {
        errs.push(format!("{name}: {} recipients, want {}: {:?}", got.len(), want.len(), r.recipients));
        return errs;
    }
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        for key in ["recipient", "class", "status", "reason", "action"] {
            if let Some(wv) = w.get(key) {
                let gv = g.get(key).cloned().unwrap_or(Value::Null);
                if &gv != wv {
                    errs.push(format!(
                        "{name}: recipient[{i}].{key}: got {gv}, want {wv} (diagnostic: {})",
                        g["diagnostic"]
                    ));
                }
            }
        }
        if let Some(sub) = w.get("diagnostic_contains").and_then(Value::as_str) {
            let d = g["diagnostic"].as_str().unwrap_or_default();
            if !d.contains(sub) {
                errs.push(format!("{name}: recipient[{i}].diagnostic {d:?} lacks {sub:?}"));
            }
        }
    }
    errs
}

#[test]
fn corpus_matches_expectations() {
    let all = fixtures();
    let mut errors = Vec::new();
    for (name, raw, exp) in &all {
        let r = parse_report(raw);
        errors.extend(check(name, &r, exp));
    }
    assert!(errors.is_empty(), "{} mismatches:\n{}", errors.len(), errors.join("\n"));
}

#[test]
fn corpus_is_broad() {
    let all = fixtures();
    assert!(all.len() >= 60, "only {} fixtures", all.len());
    let kinds: BTreeSet<String> =
        all.iter().map(|(_, _, e)| e["kind"].as_str().unwrap_or_default().to_owned()).collect();
    for k in ["bounce", "complaint", "auto_reply", "other"] {
        assert!(kinds.contains(k), "no {k} fixture");
    }
    // Non-RFC 3464 bounce formats, as recognised by the parser.
    let text_formats: BTreeSet<&'static str> = all
        .iter()
        .map(|(_, raw, _)| parse_report(raw))
        .filter(|r| r.kind.as_str() == "bounce" && r.format != "rfc3464")
        .map(|r| r.format)
        .collect();
    assert!(text_formats.len() >= 15, "non-RFC 3464 formats: {text_formats:?}");
}

#[test]
fn cli_json_has_the_design_shape() {
    for (name, raw, exp) in fixtures() {
        let lines = classify_file_json(&format!("{name}.eml"), &raw);
        assert!(!lines.is_empty(), "{name}");
        for obj in &lines {
            let o = obj.as_object().expect("object");
            let keys: BTreeSet<&str> = o.keys().map(String::as_str).collect();
            let want: BTreeSet<&str> = ["file", "kind", "recipient", "class", "status", "reason", "diagnostic"].into();
            assert_eq!(keys, want, "{name}");
            assert_eq!(o["kind"], exp["kind"], "{name}");
            assert!(matches!(o["class"].as_str(), None | Some("hard" | "soft" | "policy")), "{name}");
            // Every line is one JSON object a shell pipeline can read.
            let line = serde_json::to_string(obj).expect("json");
            assert!(!line.contains('\n'), "{name}");
        }
    }
}

#[test]
fn crlf_and_lf_parse_alike() {
    for (name, raw, _) in fixtures() {
        let lf: Vec<u8> = String::from_utf8_lossy(&raw).replace("\r\n", "\n").into_bytes();
        let crlf: Vec<u8> = String::from_utf8_lossy(&lf).replace('\n', "\r\n").into_bytes();
        let a = parse_report(&lf);
        let b = parse_report(&crlf);
        assert_eq!(a.kind, b.kind, "{name}");
        let ra: Vec<_> = a.recipients.iter().map(|r| (&r.recipient, r.class, &r.status, r.reason)).collect();
        let rb: Vec<_> = b.recipients.iter().map(|r| (&r.recipient, r.class, &r.status, r.reason)).collect();
        assert_eq!(ra, rb, "{name}");
    }
}

#[test]
fn envelope_recipient_supplies_the_verp_token() {
    let raw = b"From: someone@example.com\r\nSubject: hello\r\n\r\nbody\r\n";
    let r = assent_mail::inbound::parse_report_with_envelope(raw, Some("bounces+tok123@bounce.assent.example"));
    assert_eq!(r.original.verp_token.as_deref(), Some("tok123"));
}
