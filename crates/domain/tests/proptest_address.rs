//! Properties of `EmailAddress::parse`: it never panics, what it accepts is
//! within the RFC 5321 limits and canonical, and length violations are
//! reported as such.

#![allow(clippy::unwrap_used)]

use assent_domain::{AddressError, EmailAddress};
use proptest::prelude::*;

/// RFC 5322 atext.
const ATEXT: &str = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]";

fn re(pattern: &str) -> impl Strategy<Value = String> + use<> {
    proptest::string::string_regex(pattern).unwrap()
}

/// A dot-atom local part of `len` atoms of 1..=8 characters.
fn dot_atom(atoms: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    prop::collection::vec(re(&format!("{ATEXT}{{1,8}}")), atoms).prop_map(|a| a.join("."))
}

/// An LDH label of 1..=max characters, no hyphen at either end.
fn label(max: usize) -> impl Strategy<Value = String> {
    let inner = max.saturating_sub(2);
    let long = re(&format!("[a-zA-Z0-9][a-zA-Z0-9-]{{0,{inner}}}[a-zA-Z0-9]"));
    prop_oneof!["[a-zA-Z0-9]".prop_map(String::from), long]
        // "xn--" starts an A-label, which must be valid punycode.
        .prop_filter("not an A-label", |l| !l.to_ascii_lowercase().starts_with("xn--"))
}

/// A valid domain: a few labels and an alphabetic TLD.
fn domain() -> impl Strategy<Value = String> {
    (prop::collection::vec(label(20), 1..4), "[a-zA-Z]{2,6}")
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

/// Strings that look like addresses often enough to reach deep code paths:
/// most are accepted, many are one character away from being refused.
fn addressish() -> impl Strategy<Value = String> {
    let noisy = "[a-zA-Z0-9.+\"\\\\@ ()\\[\\]<>,;:\t\u{0}\u{7f}äü例-]{0,70}";
    let near_local = "[a-zA-Z0-9.+_äü例\"-]{1,70}";
    let near_domain = "[a-zA-Z0-9.äü例_-]{1,40}\\.[a-zA-Z0-9-]{1,6}";
    prop_oneof![
        (re(near_local), domain()).prop_map(|(l, d)| format!("{l}@{d}")),
        (dot_atom(1..10), re(near_domain)).prop_map(|(l, d)| format!("{l}@{d}")),
        (re("[ -~äü]{0,70}"), domain()).prop_map(|(l, d)| format!("\"{l}\"@{d}")),
        (any::<String>(), domain()).prop_map(|(l, d)| format!("{l}@{d}")),
        (re(noisy), re(noisy)).prop_map(|(l, d)| format!("{l}@{d}")),
        any::<String>(),
    ]
}

fn assert_within_limits(a: &EmailAddress) {
    assert!(a.local_part().len() <= 64, "{a:?}");
    assert!(a.domain().len() <= 255, "{a:?}");
    assert!(a.as_str().len() <= 254, "{a:?}");
    assert!(!a.local_part().is_empty());
    assert!(a.domain().is_ascii());
    assert_eq!(a.domain(), a.domain().to_ascii_lowercase());
    assert!(a.domain().split('.').count() >= 2);
    assert!(a.domain().split('.').all(|l| (1..=63).contains(&l.len())));
    assert_eq!(a.needs_smtputf8(), !a.local_part().is_ascii());
    assert_eq!(a.as_str(), format!("{}@{}", a.local_part(), a.domain()));
}

proptest! {
    #[test]
    fn parse_never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = EmailAddress::parse(&s);
    }

    #[test]
    fn accepted_addresses_are_within_limits_and_stable(s in addressish()) {
        if let Ok(a) = EmailAddress::parse(&s) {
            assert_within_limits(&a);
            // Canonical: parsing the delivery form gives the same address
            // spelled the same way.
            let again = EmailAddress::parse(a.as_str()).unwrap();
            prop_assert_eq!(&again, &a);
            prop_assert_eq!(again.as_str(), a.as_str());
            prop_assert_eq!(again.normalized(), a.normalized());
        }
    }

    #[test]
    fn valid_dot_atom_addresses_round_trip(
        local in dot_atom(1..6),
        domain in domain(),
        pad in "[ \t\n]{0,3}",
    ) {
        prop_assume!(local.len() <= 64);
        let input = format!("{pad}{local}@{domain}{pad}");
        let a = EmailAddress::parse(&input).unwrap();
        prop_assert_eq!(a.local_part(), local.as_str());
        prop_assert_eq!(a.domain(), domain.to_ascii_lowercase());
        assert_within_limits(&a);
        let again = EmailAddress::parse(a.as_str()).unwrap();
        prop_assert_eq!(&again, &a);
        prop_assert_eq!(again.as_str(), a.as_str());
        prop_assert_eq!(a.normalized(), format!("{}@{}", local.to_lowercase(), domain.to_lowercase()));
        // Serde goes through the same parser.
        let json = serde_json::to_string(&a).unwrap();
        let back: EmailAddress = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back.as_str(), a.as_str());
    }

    #[test]
    fn case_never_changes_identity(local in dot_atom(1..4), domain in domain()) {
        prop_assume!(local.len() <= 64);
        let lower = EmailAddress::parse(&format!("{local}@{domain}").to_lowercase()).unwrap();
        let upper = EmailAddress::parse(&format!("{local}@{domain}").to_uppercase()).unwrap();
        prop_assert_eq!(lower, upper);
    }

    #[test]
    fn quoted_local_parts_round_trip(content in "[ -~]{1,40}", domain in domain()) {
        let escaped: String = content
            .chars()
            .flat_map(|c| if c == '"' || c == '\\' { vec!['\\', c] } else { vec![c] })
            .collect();
        let a = EmailAddress::parse(&format!("\"{escaped}\"@{domain}")).unwrap();
        assert_within_limits(&a);
        let again = EmailAddress::parse(a.as_str()).unwrap();
        prop_assert_eq!(&again, &a);
        prop_assert_eq!(again.as_str(), a.as_str());
    }

    #[test]
    fn unicode_domains_round_trip_through_a_labels(
        local in dot_atom(1..3),
        name in "[a-zäöüéñ]{1,20}",
        tld in prop_oneof![Just("de"), Just("com"), Just("xn--p1ai")],
    ) {
        prop_assume!(local.len() <= 64);
        let a = EmailAddress::parse(&format!("{local}@{name}.{tld}")).unwrap();
        assert_within_limits(&a);
        prop_assert!(a.unicode_domain().starts_with(&name));
        prop_assert_eq!(EmailAddress::parse(a.as_str()).unwrap(), a.clone());
        prop_assert_eq!(EmailAddress::parse(&format!("{local}@{}", a.unicode_domain())).unwrap(), a);
    }

    #[test]
    fn overly_long_local_parts_are_refused(
        local in re(&format!("{ATEXT}{{65,300}}")),
        domain in domain(),
    ) {
        let err = EmailAddress::parse(&format!("{local}@{domain}")).unwrap_err();
        prop_assert_eq!(err, AddressError::LocalPartTooLong { len: local.len() });
    }

    #[test]
    fn overly_long_domains_are_refused(
        local in dot_atom(1..3),
        labels in prop::collection::vec(label(63), 5..40),
    ) {
        prop_assume!(local.len() <= 64);
        let domain = format!("{}.com", labels.join("."));
        prop_assume!(domain.len() > 255);
        let err = EmailAddress::parse(&format!("{local}@{domain}")).unwrap_err();
        prop_assert_eq!(err, AddressError::DomainTooLong { len: domain.len() });
    }

    #[test]
    fn overly_long_addresses_are_refused(
        local in "[a-z]{1,64}",
        labels in prop::collection::vec(label(63), 2..5),
    ) {
        let domain = format!("{}.com", labels.join("."));
        prop_assume!(domain.len() <= 255);
        let whole = local.len() + 1 + domain.len();
        let result = EmailAddress::parse(&format!("{local}@{domain}"));
        if whole > 254 {
            prop_assert_eq!(result.unwrap_err(), AddressError::TooLong { len: whole });
        } else {
            prop_assert_eq!(result.unwrap().as_str().len(), whole);
        }
    }
}
