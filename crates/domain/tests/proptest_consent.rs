//! Properties of `Consent::parse`: forbidden origins are always refused with
//! an explanation, the sponsor limit holds, each missing evidence field is
//! named, and no input makes it panic.

#![allow(clippy::unwrap_used)]

use assent_domain::{Consent, ConsentOrigin, ConsentRefusal, ForbiddenOrigin};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const US: &[&str] = &["Acme GmbH"];

/// Random case, '-' or '_' between words, whitespace around.
fn variant_of(name: &'static str) -> impl Strategy<Value = String> {
    let n = name.len();
    (prop::collection::vec(any::<bool>(), n), prop::collection::vec(any::<bool>(), n), "[ \t]{0,2}", "[ \t\n]{0,2}")
        .prop_map(move |(upper, hyphen, pre, post)| {
            let body: String = name
                .chars()
                .zip(upper.iter().zip(&hyphen))
                .map(|(c, (&up, &hy))| match c {
                    '_' if hy => '-',
                    c if up => c.to_ascii_uppercase(),
                    c => c,
                })
                .collect();
            format!("{pre}{body}{post}")
        })
}

fn forbidden() -> impl Strategy<Value = ForbiddenOrigin> {
    prop::sample::select(ForbiddenOrigin::ALL.to_vec())
}

fn allowed() -> impl Strategy<Value = ConsentOrigin> {
    prop::sample::select(ConsentOrigin::ALL.to_vec())
}

/// Evidence with every required field valid (sponsor = this account).
fn valid_evidence(origin: ConsentOrigin) -> Map<String, Value> {
    let mut m = Map::new();
    for field in origin.required_fields() {
        let v = match *field {
            "sponsors" => json!(["Other AG", "Acme GmbH"]),
            "sponsor_name" => json!("Acme GmbH"),
            f => json!(format!("some {f}")),
        };
        m.insert((*field).to_owned(), v);
    }
    m
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        any::<String>().prop_map(Value::String),
        "[ ]{0,3}(Acme GmbH|Other AG)?[ ]{0,3}".prop_map(Value::String),
    ];
    let key = prop_oneof![
        prop::sample::select(vec![
            "order_ref",
            "notice_text",
            "product_category",
            "document_ref",
            "permission_text",
            "contest_id",
            "sponsors",
            "sponsor_name",
            "contract_ref",
        ])
        .prop_map(String::from),
        ".{0,6}",
    ];
    leaf.prop_recursive(3, 48, 12, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..14).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..8).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn origin_string() -> impl Strategy<Value = String> {
    prop_oneof![
        allowed().prop_flat_map(|o| variant_of(o.as_str())),
        forbidden().prop_flat_map(|o| variant_of(o.as_str())),
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn forbidden_origins_are_always_refused_with_an_explanation(
        (origin, spelled) in forbidden().prop_flat_map(|o| (Just(o), variant_of(o.as_str()))),
        evidence in arb_json(),
    ) {
        let err = Consent::parse(&spelled, &evidence, US).unwrap_err();
        prop_assert_eq!(&err, &ConsentRefusal::Forbidden { origin });
        prop_assert_eq!(err.code(), "forbidden_origin");
        prop_assert!(!origin.explanation().trim().is_empty());
        prop_assert_eq!(err.to_string(), origin.explanation());
    }

    #[test]
    fn allowed_origins_parse_in_any_spelling(
        (origin, spelled) in allowed().prop_flat_map(|o| (Just(o), variant_of(o.as_str()))),
    ) {
        let consent = Consent::parse(&spelled, &Value::Object(valid_evidence(origin)), US).unwrap();
        prop_assert_eq!(consent.origin(), origin);
        // The evidence comes back in a shape that parses to the same consent.
        let again = Consent::parse(origin.as_str(), &consent.evidence_json(), US).unwrap();
        prop_assert_eq!(again, consent);
    }

    #[test]
    fn more_than_ten_sponsors_are_always_refused(
        mut sponsors in prop::collection::vec(".{0,20}", 11..40),
        contest in any::<Option<String>>(),
        name in any::<Option<String>>(),
        us_index in any::<prop::sample::Index>(),
    ) {
        let count = sponsors.len();
        let mut ev = json!({"sponsors": sponsors.clone(), "contest_id": contest, "sponsor_name": name});
        prop_assert!(Consent::parse("co_registration", &ev, US).is_err());

        // With everything else right, the refusal is the sponsor limit.
        sponsors[us_index.index(count)] = "Acme GmbH".into();
        ev = json!({"sponsors": sponsors, "contest_id": "c-1", "sponsor_name": "Acme GmbH"});
        prop_assert_eq!(
            Consent::parse("co_registration", &ev, US).unwrap_err(),
            ConsentRefusal::TooManySponsors { count }
        );
    }

    #[test]
    fn a_missing_field_is_named_exactly(
        origin in allowed().prop_filter("has evidence", |o| !o.required_fields().is_empty()),
        which in any::<prop::sample::Index>(),
        how in 0..4u8,
        spelled_blank in "[ \t\n]{0,4}",
    ) {
        let fields = origin.required_fields();
        let field = fields[which.index(fields.len())];
        let mut ev = valid_evidence(origin);
        match how {
            0 => { ev.remove(field); }
            1 => { ev.insert(field.into(), Value::Null); }
            2 if field == "sponsors" => { ev.insert(field.into(), json!([])); }
            _ if field == "sponsors" => { ev.remove(field); }
            _ => { ev.insert(field.into(), Value::String(spelled_blank)); }
        }
        let err = Consent::parse(origin.as_str(), &Value::Object(ev), US).unwrap_err();
        prop_assert_eq!(&err, &ConsentRefusal::MissingEvidence { origin, field });
        prop_assert_eq!(err.field(), Some(field));
        prop_assert!(err.to_string().contains(field));
    }

    #[test]
    fn parse_never_panics(origin in origin_string(), evidence in arb_json(), names in prop::collection::vec(".{0,12}", 0..3)) {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        match Consent::parse(&origin, &evidence, &names) {
            Ok(consent) => {
                // Whatever is accepted is re-accepted from its own evidence.
                let again = Consent::parse(consent.origin().as_str(), &consent.evidence_json(), &names);
                prop_assert_eq!(again, Ok(consent));
            }
            Err(refusal) => {
                prop_assert!(!refusal.to_string().is_empty());
                prop_assert!(refusal.field().is_some());
            }
        }
    }
}
