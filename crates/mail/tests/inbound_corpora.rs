//! Third-party bounce corpora, kept unmodified under `tests/fixtures`
//! with their licences: flufl.bounce 6.0.0 (`flufl`, Apache-2.0) and
//! Mail::DeliveryStatus::BounceParser 1.543 (`bounceparser`, the terms of
//! Perl). Every message is parsed and compared with the directory's
//! `expected.json`, which states what assent reports under its own rules
//! (see the README there). All differences are printed before failing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use assent_mail::inbound::{ReportKind, parse_report};
use serde_json::Value;

fn dir(corpus: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(corpus)
}

/// (recipient, class); `None` for "no address" and "not a failure".
type Outcomes = BTreeSet<(Option<String>, Option<String>)>;

/// (recipient, class) pairs as the CLI reports them: failed recipients of
/// a bounce, or everyone named when nobody failed.
fn reported(raw: &[u8]) -> (String, Outcomes) {
    let r = parse_report(raw);
    let failed_any = r.recipients.iter().any(|x| x.class.is_some());
    let mut set: Outcomes = r
        .recipients
        .iter()
        .filter(|x| !(r.kind == ReportKind::Bounce && failed_any && x.class.is_none()))
        .map(|x| (x.recipient.clone(), x.class.map(|c| c.as_str().to_owned())))
        .collect();
    if set.is_empty() {
        set.insert((None, None));
    }
    (r.kind.as_str().to_owned(), set)
}

fn expected_set(v: &Value) -> Outcomes {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            let s = |k: &str| x.get(k).and_then(Value::as_str).map(str::to_owned);
            (s("recipient"), s("class"))
        })
        .collect()
}

#[test]
fn flufl_corpus_matches_expectations() {
    check_corpus("flufl", ".txt", 100);
}

#[test]
fn bounceparser_corpus_matches_expectations() {
    check_corpus("bounceparser", ".msg", 120);
}

/// Compares every `*{ext}` file of the corpus with its expectation.
fn check_corpus(corpus: &str, ext: &str, at_least: usize) {
    let dir = dir(corpus);
    let exp_text = fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let expected: BTreeMap<String, Value> = serde_json::from_str(&exp_text).expect("valid expected.json");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .expect("fixture dir")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(ext))
        .collect();
    files.sort();
    assert!(files.len() >= at_least, "{corpus} corpus missing: {} files", files.len());

    let mut errs = Vec::new();
    for name in expected.keys().filter(|k| !files.contains(k)) {
        errs.push(format!("{name}: in expected.json but no such file"));
    }
    for name in &files {
        let Some(exp) = expected.get(name) else {
            errs.push(format!("{name}: no expectation"));
            continue;
        };
        let raw = fs::read(dir.join(name)).expect("read fixture");
        let (kind, got) = reported(&raw);
        let want_kind = exp.get("kind").and_then(Value::as_str).unwrap_or_default();
        if kind != want_kind {
            errs.push(format!("{name}: kind {kind}, want {want_kind}"));
        }
        let want = expected_set(&exp["recipients"]);
        if got != want {
            errs.push(format!("{name}: recipients {got:?}, want {want:?}"));
        }
    }
    assert!(errs.is_empty(), "{} difference(s):\n{}", errs.len(), errs.join("\n"));
}
