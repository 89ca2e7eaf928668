//! Consent origins and the evidence each needs (PRODUCT.md rule 1; UWG §7,
//! GDPR Art. 7, CSA criteria). Only the allowed origins produce a
//! [`Consent`]; every other declared origin is refused with an explanation a
//! customer can act on.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Longest accepted evidence string. Evidence is a reference or a notice
/// text, not a document; anything longer is a mistake or an attack.
pub const MAX_EVIDENCE_CHARS: usize = 4_000;
/// RULES.md "Consent": at most 10 sponsors per contest **(limit)**.
pub const MAX_SPONSORS: usize = 10;

/// Case-insensitive, trimmed, hyphens (and spaces) as underscores, so that
/// "Double-Opt-In" and "double_opt_in" are one origin.
fn normalize_origin(s: &str) -> String {
    s.trim().chars().map(|c| if c == '-' || c == ' ' { '_' } else { c }).flat_map(char::to_lowercase).collect()
}

/// An origin of consent that Assent accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentOrigin {
    DoubleOptIn,
    Purchase,
    BusinessCard,
    OfflineForm,
    CoRegistration,
    Contract,
}

impl ConsentOrigin {
    pub const ALL: &'static [ConsentOrigin] = &[
        ConsentOrigin::DoubleOptIn,
        ConsentOrigin::Purchase,
        ConsentOrigin::BusinessCard,
        ConsentOrigin::OfflineForm,
        ConsentOrigin::CoRegistration,
        ConsentOrigin::Contract,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConsentOrigin::DoubleOptIn => "double_opt_in",
            ConsentOrigin::Purchase => "purchase",
            ConsentOrigin::BusinessCard => "business_card",
            ConsentOrigin::OfflineForm => "offline_form",
            ConsentOrigin::CoRegistration => "co_registration",
            ConsentOrigin::Contract => "contract",
        }
    }

    /// Case-insensitive; hyphens count as underscores.
    pub fn parse(s: &str) -> Option<ConsentOrigin> {
        let s = normalize_origin(s);
        Self::ALL.iter().copied().find(|o| o.as_str() == s)
    }

    /// The evidence fields the caller must supply, in the order they are
    /// checked. Double opt-in has none: the confirmation produces its proof.
    pub fn required_fields(self) -> &'static [&'static str] {
        match self {
            ConsentOrigin::DoubleOptIn => &[],
            ConsentOrigin::Purchase => &["order_ref", "notice_text", "product_category"],
            ConsentOrigin::BusinessCard => &["document_ref", "permission_text"],
            ConsentOrigin::OfflineForm => &["document_ref"],
            ConsentOrigin::CoRegistration => &["contest_id", "sponsors", "sponsor_name"],
            ConsentOrigin::Contract => &["contract_ref", "notice_text"],
        }
    }
}

impl fmt::Display for ConsentOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Origins that are not consent. They are named so that the refusal can
/// say why, instead of a bare "unknown".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ForbiddenOrigin {
    PurchasedList,
    Scraped,
    SingleOptIn,
    Verbal,
    B2bWithoutConsent,
    ThirdParty,
    Membership,
    SocialNetwork,
}

impl ForbiddenOrigin {
    pub const ALL: &'static [ForbiddenOrigin] = &[
        ForbiddenOrigin::PurchasedList,
        ForbiddenOrigin::Scraped,
        ForbiddenOrigin::SingleOptIn,
        ForbiddenOrigin::Verbal,
        ForbiddenOrigin::B2bWithoutConsent,
        ForbiddenOrigin::ThirdParty,
        ForbiddenOrigin::Membership,
        ForbiddenOrigin::SocialNetwork,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ForbiddenOrigin::PurchasedList => "purchased_list",
            ForbiddenOrigin::Scraped => "scraped",
            ForbiddenOrigin::SingleOptIn => "single_opt_in",
            ForbiddenOrigin::Verbal => "verbal",
            ForbiddenOrigin::B2bWithoutConsent => "b2b_without_consent",
            ForbiddenOrigin::ThirdParty => "third_party",
            ForbiddenOrigin::Membership => "membership",
            ForbiddenOrigin::SocialNetwork => "social_network",
        }
    }

    /// Case-insensitive; hyphens count as underscores.
    pub fn parse(s: &str) -> Option<ForbiddenOrigin> {
        let s = normalize_origin(s);
        Self::ALL.iter().copied().find(|o| o.as_str() == s)
    }

    /// Why this origin is not consent, and what to do instead.
    pub fn explanation(self) -> &'static str {
        match self {
            ForbiddenOrigin::PurchasedList => {
                "Addresses from a purchased or rented list are not consent: the people on it never \
                 agreed to hear from you, at best from the list seller, and consent does not come \
                 with the data. Do not mail them; collect consent yourself through a double opt-in \
                 sign-up form."
            }
            ForbiddenOrigin::Scraped => {
                "Addresses collected from web pages, public directories or imprints are not \
                 consent: publishing an address is not agreeing to receive advertising. Do not \
                 mail them; invite people to sign up through your double opt-in form."
            }
            ForbiddenOrigin::SingleOptIn => {
                "A single opt-in sign-up does not prove consent: anyone can enter someone else's \
                 address, and only a clicked confirmation link shows the owner agreed \
                 (BGH I ZR 164/09). Let these people sign up through a double opt-in form; the \
                 ones who confirm become mailable."
            }
            ForbiddenOrigin::Verbal => {
                "Verbal consent cannot be proven: nothing records who agreed, when, and to what. \
                 Ask the person to sign up through your double opt-in form, or have them sign a \
                 written permission and import them as offline_form with the document reference."
            }
            ForbiddenOrigin::B2bWithoutConsent => {
                "Business addresses need consent too: UWG §7 requires prior express consent for \
                 advertising email to companies just as to consumers, and a business card or \
                 trade-fair contact alone is not it. Ask the contact to sign up through a double \
                 opt-in form; customers you sold to may qualify as purchase, a card handed over \
                 to receive email as business_card."
            }
            ForbiddenOrigin::ThirdParty => {
                "Consent given to someone else does not transfer: the person agreed to hear from \
                 that company, not from you. If the third party collected the consent on your \
                 behalf and named you at sign-up, declare co_registration with the sponsor list \
                 that was shown; otherwise have the contacts confirm through your double opt-in \
                 form. The third party itself may not mail them for you."
            }
            ForbiddenOrigin::Membership => {
                "Membership of a club, union or association is not consent to advertising email: \
                 joining an organisation is not agreeing to marketing. Ask members to sign up for \
                 the newsletter through a double opt-in form."
            }
            ForbiddenOrigin::SocialNetwork => {
                "A connection on a social network (LinkedIn, Xing, Facebook …) is not consent to \
                 receive email: the person accepted the network's terms, not your mailings. \
                 Invite them to sign up through your double opt-in form."
            }
        }
    }
}

impl fmt::Display for ForbiddenOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Evidence for `purchase` (UWG §7(3)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurchaseEvidence {
    pub order_ref: String,
    pub notice_text: String,
    pub product_category: String,
}

/// Evidence for `business_card`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BusinessCardEvidence {
    pub document_ref: String,
    pub permission_text: String,
}

/// Evidence for `offline_form`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineFormEvidence {
    pub document_ref: String,
}

/// Evidence for `co_registration`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoRegistrationEvidence {
    pub contest_id: String,
    pub sponsors: Vec<String>,
    pub sponsor_name: String,
}

/// Evidence for `contract`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContractEvidence {
    pub contract_ref: String,
    pub notice_text: String,
}

/// Consent of an allowed origin with its evidence. Holding one means the
/// evidence was complete when it was declared.
#[derive(Debug, Clone, PartialEq)]
pub enum Consent {
    DoubleOptIn,
    Purchase(PurchaseEvidence),
    BusinessCard(BusinessCardEvidence),
    OfflineForm(OfflineFormEvidence),
    CoRegistration(CoRegistrationEvidence),
    Contract(ContractEvidence),
}

/// Why a declared consent is not accepted.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ConsentRefusal {
    #[error("{}", .origin.explanation())]
    Forbidden { origin: ForbiddenOrigin },
    #[error(
        "{origin:?} is not a consent origin Assent knows; use one of double_opt_in, purchase, business_card, offline_form, co_registration, contract"
    )]
    UnknownOrigin { origin: String },
    #[error("{}", missing_message(*.origin, .field))]
    MissingEvidence { origin: ConsentOrigin, field: &'static str },
    #[error("the evidence field {field} of {origin} consent is invalid: {reason}")]
    InvalidEvidence { origin: ConsentOrigin, field: &'static str, reason: String },
    #[error(
        "the contest named {count} sponsors, but at most 10 are allowed; consent shared among more sponsors is not specific enough to count"
    )]
    TooManySponsors { count: usize },
    #[error(
        "the sponsor_name {sponsor_name:?} must be one of the listed sponsors and be this account's name or imprint name; consent given to other sponsors does not cover this account"
    )]
    SponsorNotListed { sponsor_name: String },
}

fn missing_message(origin: ConsentOrigin, field: &str) -> String {
    let hint = match field {
        "evidence" => {
            return format!("{origin} consent needs evidence: an object with {}", origin.required_fields().join(", "));
        }
        "order_ref" => "the order number of the purchase",
        "notice_text" => "the exact notice shown to the customer about email use and the right to object",
        "product_category" => "the category of product bought; only similar products may be advertised",
        "document_ref" => "a reference to the stored document that proves the permission",
        "permission_text" => "the written permission to send email",
        "contest_id" => "the identifier of the contest",
        "sponsors" => "the list of sponsors shown at sign-up (at most 10)",
        "sponsor_name" => "this account's name as it was shown among the sponsors",
        "contract_ref" => "the contract number",
        _ => "a non-blank value",
    };
    format!("{origin} consent needs the evidence field {field}: {hint}")
}

impl ConsentRefusal {
    /// Stable snake_case code, used as the API error code.
    pub fn code(&self) -> &'static str {
        match self {
            ConsentRefusal::Forbidden { .. } => "forbidden_origin",
            ConsentRefusal::UnknownOrigin { .. } => "unknown_origin",
            ConsentRefusal::MissingEvidence { .. } => "missing_evidence",
            ConsentRefusal::InvalidEvidence { .. } => "invalid_evidence",
            ConsentRefusal::TooManySponsors { .. } => "too_many_sponsors",
            ConsentRefusal::SponsorNotListed { .. } => "sponsor_not_listed",
        }
    }

    /// The request field at fault: "origin" or an evidence field name.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ConsentRefusal::Forbidden { .. } | ConsentRefusal::UnknownOrigin { .. } => Some("origin"),
            ConsentRefusal::MissingEvidence { field, .. } | ConsentRefusal::InvalidEvidence { field, .. } => {
                Some(field)
            }
            ConsentRefusal::TooManySponsors { .. } => Some("sponsors"),
            ConsentRefusal::SponsorNotListed { .. } => Some("sponsor_name"),
        }
    }
}

/// Reads typed fields out of the caller's evidence object.
struct Evidence<'a> {
    origin: ConsentOrigin,
    fields: &'a Map<String, Value>,
}

impl<'a> Evidence<'a> {
    fn of(origin: ConsentOrigin, evidence: &'a Value) -> Result<Self, ConsentRefusal> {
        match evidence {
            Value::Object(fields) => Ok(Evidence { origin, fields }),
            Value::Null => Err(ConsentRefusal::MissingEvidence { origin, field: "evidence" }),
            _ => Err(ConsentRefusal::InvalidEvidence {
                origin,
                field: "evidence",
                reason: format!("it must be a JSON object with {}", origin.required_fields().join(", ")),
            }),
        }
    }

    fn missing(&self, field: &'static str) -> ConsentRefusal {
        ConsentRefusal::MissingEvidence { origin: self.origin, field }
    }

    fn invalid(&self, field: &'static str, reason: impl Into<String>) -> ConsentRefusal {
        ConsentRefusal::InvalidEvidence { origin: self.origin, field, reason: reason.into() }
    }

    /// A required string: trimmed, blank counts as missing.
    fn text(&self, field: &'static str) -> Result<String, ConsentRefusal> {
        match self.fields.get(field) {
            None | Some(Value::Null) => Err(self.missing(field)),
            Some(Value::String(s)) => {
                let s = s.trim();
                if s.is_empty() {
                    Err(self.missing(field))
                } else if s.chars().count() > MAX_EVIDENCE_CHARS {
                    Err(self.invalid(field, "it is longer than 4,000 characters; shorten it"))
                } else {
                    Ok(s.to_owned())
                }
            }
            Some(_) => Err(self.invalid(field, "it must be a string")),
        }
    }

    /// A required, non-empty list of strings of at most [`MAX_SPONSORS`].
    fn sponsors(&self, field: &'static str) -> Result<Vec<String>, ConsentRefusal> {
        let items = match self.fields.get(field) {
            None | Some(Value::Null) => return Err(self.missing(field)),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(self.invalid(field, "it must be a list of sponsor names")),
        };
        if items.len() > MAX_SPONSORS {
            return Err(ConsentRefusal::TooManySponsors { count: items.len() });
        }
        if items.is_empty() {
            return Err(self.missing(field));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let n = i + 1;
            match item {
                Value::String(s) if s.trim().is_empty() => {
                    return Err(self.invalid(field, format!("sponsor {n} is blank")));
                }
                Value::String(s) if s.trim().chars().count() > MAX_EVIDENCE_CHARS => {
                    return Err(self.invalid(field, format!("sponsor {n} is longer than 4,000 characters")));
                }
                Value::String(s) => out.push(s.trim().to_owned()),
                _ => return Err(self.invalid(field, format!("sponsor {n} must be a string"))),
            }
        }
        Ok(out)
    }
}

/// Comparison key for names: case-insensitive, whitespace collapsed, so
/// "ACME  GmbH" shown on a contest page matches the account "Acme GmbH".
fn name_key(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Echoing a caller's string back in an error is useful up to a point.
fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

impl Consent {
    /// origin: the declared origin string; evidence: the JSON object given
    /// by the caller (may be Null for double_opt_in; extra unknown keys are
    /// ignored); account_names: the names this account is known by (account
    /// name, imprint name) — the co-registration sponsor must be one of them.
    pub fn parse(origin: &str, evidence: &Value, account_names: &[&str]) -> Result<Consent, ConsentRefusal> {
        let Some(allowed) = ConsentOrigin::parse(origin) else {
            return Err(match ForbiddenOrigin::parse(origin) {
                Some(forbidden) => ConsentRefusal::Forbidden { origin: forbidden },
                None => ConsentRefusal::UnknownOrigin { origin: truncate(origin.trim(), 100) },
            });
        };
        if allowed == ConsentOrigin::DoubleOptIn {
            // The confirmation click produces the proof; whatever the caller
            // sent along is not evidence, but a non-object is a client bug.
            return match evidence {
                Value::Null | Value::Object(_) => Ok(Consent::DoubleOptIn),
                _ => Err(ConsentRefusal::InvalidEvidence {
                    origin: allowed,
                    field: "evidence",
                    reason: "it must be null or a JSON object; double opt-in proof comes from the confirmation itself"
                        .into(),
                }),
            };
        }

        let ev = Evidence::of(allowed, evidence)?;
        Ok(match allowed {
            ConsentOrigin::DoubleOptIn => Consent::DoubleOptIn,
            ConsentOrigin::Purchase => Consent::Purchase(PurchaseEvidence {
                order_ref: ev.text("order_ref")?,
                notice_text: ev.text("notice_text")?,
                product_category: ev.text("product_category")?,
            }),
            ConsentOrigin::BusinessCard => Consent::BusinessCard(BusinessCardEvidence {
                document_ref: ev.text("document_ref")?,
                permission_text: ev.text("permission_text")?,
            }),
            ConsentOrigin::OfflineForm => {
                Consent::OfflineForm(OfflineFormEvidence { document_ref: ev.text("document_ref")? })
            }
            ConsentOrigin::CoRegistration => {
                let contest_id = ev.text("contest_id")?;
                let sponsors = ev.sponsors("sponsors")?;
                let sponsor_name = ev.text("sponsor_name")?;
                let key = name_key(&sponsor_name);
                let listed = sponsors.iter().any(|s| name_key(s) == key);
                // With no names to compare (e.g. an account not yet named),
                // only the listing can be checked.
                let is_us = account_names.is_empty() || account_names.iter().any(|n| name_key(n) == key);
                if !listed || !is_us {
                    return Err(ConsentRefusal::SponsorNotListed { sponsor_name: truncate(&sponsor_name, 200) });
                }
                Consent::CoRegistration(CoRegistrationEvidence { contest_id, sponsors, sponsor_name })
            }
            ConsentOrigin::Contract => Consent::Contract(ContractEvidence {
                contract_ref: ev.text("contract_ref")?,
                notice_text: ev.text("notice_text")?,
            }),
        })
    }

    pub fn origin(&self) -> ConsentOrigin {
        match self {
            Consent::DoubleOptIn => ConsentOrigin::DoubleOptIn,
            Consent::Purchase(_) => ConsentOrigin::Purchase,
            Consent::BusinessCard(_) => ConsentOrigin::BusinessCard,
            Consent::OfflineForm(_) => ConsentOrigin::OfflineForm,
            Consent::CoRegistration(_) => ConsentOrigin::CoRegistration,
            Consent::Contract(_) => ConsentOrigin::Contract,
        }
    }

    /// The typed evidence back as JSON, in the shape [`Consent::parse`]
    /// accepts; `{}` for double opt-in.
    pub fn evidence_json(&self) -> Value {
        match self {
            Consent::DoubleOptIn => json!({}),
            Consent::Purchase(e) => json!({
                "order_ref": e.order_ref,
                "notice_text": e.notice_text,
                "product_category": e.product_category,
            }),
            Consent::BusinessCard(e) => json!({
                "document_ref": e.document_ref,
                "permission_text": e.permission_text,
            }),
            Consent::OfflineForm(e) => json!({ "document_ref": e.document_ref }),
            Consent::CoRegistration(e) => json!({
                "contest_id": e.contest_id,
                "sponsors": e.sponsors,
                "sponsor_name": e.sponsor_name,
            }),
            Consent::Contract(e) => json!({
                "contract_ref": e.contract_ref,
                "notice_text": e.notice_text,
            }),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const US: &[&str] = &["Acme GmbH", "Acme Shop"];

    fn refuse(origin: &str, evidence: Value) -> ConsentRefusal {
        Consent::parse(origin, &evidence, US).unwrap_err()
    }

    fn coreg(sponsors: Value, sponsor_name: &str) -> Value {
        json!({"contest_id": "summer-2025", "sponsors": sponsors, "sponsor_name": sponsor_name})
    }

    #[test]
    fn origin_names_round_trip() {
        for o in ConsentOrigin::ALL {
            assert_eq!(ConsentOrigin::parse(o.as_str()), Some(*o));
            assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
        }
        for o in ForbiddenOrigin::ALL {
            assert_eq!(ForbiddenOrigin::parse(o.as_str()), Some(*o));
            assert_eq!(serde_json::to_value(o).unwrap(), json!(o.as_str()));
            assert!(o.explanation().len() > 80);
        }
        assert_eq!(ConsentOrigin::parse(" Double-Opt-In "), Some(ConsentOrigin::DoubleOptIn));
        assert_eq!(ConsentOrigin::parse("CO-REGISTRATION"), Some(ConsentOrigin::CoRegistration));
        assert_eq!(ForbiddenOrigin::parse("B2B-without-consent"), Some(ForbiddenOrigin::B2bWithoutConsent));
        assert_eq!(ConsentOrigin::parse("opt_in"), None);
    }

    #[test]
    fn double_opt_in_needs_no_evidence() {
        assert_eq!(Consent::parse("double_opt_in", &Value::Null, US), Ok(Consent::DoubleOptIn));
        assert_eq!(Consent::parse("Double-Opt-In", &json!({"anything": 1}), &[]), Ok(Consent::DoubleOptIn));
        let e = refuse("double_opt_in", json!("yes"));
        assert_eq!(e.code(), "invalid_evidence");
        assert_eq!(e.field(), Some("evidence"));
        assert_eq!(Consent::DoubleOptIn.evidence_json(), json!({}));
        assert_eq!(Consent::DoubleOptIn.origin(), ConsentOrigin::DoubleOptIn);
    }

    #[test]
    fn purchase_evidence_is_trimmed_and_typed() {
        let c = Consent::parse(
            "purchase",
            &json!({"order_ref": " 42-17 ", "notice_text": "We will email offers; object any time.",
                    "product_category": "coffee", "extra": true}),
            US,
        )
        .unwrap();
        assert_eq!(
            c,
            Consent::Purchase(PurchaseEvidence {
                order_ref: "42-17".into(),
                notice_text: "We will email offers; object any time.".into(),
                product_category: "coffee".into(),
            })
        );
        assert_eq!(c.origin(), ConsentOrigin::Purchase);
        assert_eq!(
            c.evidence_json(),
            json!({"order_ref": "42-17", "notice_text": "We will email offers; object any time.",
                   "product_category": "coffee"})
        );
    }

    #[test]
    fn every_origin_round_trips_through_evidence_json() {
        let cases = [
            ("business_card", json!({"document_ref": "scan-1", "permission_text": "yes please"})),
            ("offline_form", json!({"document_ref": "form-7"})),
            ("contract", json!({"contract_ref": "C-9", "notice_text": "you may revoke"})),
            ("co_registration", coreg(json!(["Other AG", "ACME  gmbh"]), "Acme GmbH")),
        ];
        for (origin, ev) in cases {
            let c = Consent::parse(origin, &ev, US).unwrap();
            assert_eq!(c.origin().as_str(), origin);
            assert_eq!(Consent::parse(origin, &c.evidence_json(), US), Ok(c.clone()));
        }
    }

    #[test]
    fn forbidden_origins_are_explained() {
        let e = refuse("Purchased-List", json!({}));
        assert_eq!(e, ConsentRefusal::Forbidden { origin: ForbiddenOrigin::PurchasedList });
        assert_eq!(e.code(), "forbidden_origin");
        assert_eq!(e.field(), Some("origin"));
        assert!(e.to_string().contains("never agreed"));
        let t = refuse("third_party", Value::Null).to_string();
        assert!(t.contains("co_registration") && t.contains("double opt-in"), "{t}");
    }

    #[test]
    fn unknown_origin_lists_the_allowed_ones() {
        let e = refuse("  newsletter ", Value::Null);
        assert_eq!(e, ConsentRefusal::UnknownOrigin { origin: "newsletter".into() });
        assert_eq!(e.code(), "unknown_origin");
        let msg = e.to_string();
        for o in ConsentOrigin::ALL {
            assert!(msg.contains(o.as_str()), "{msg}");
        }
        let long = refuse(&"x".repeat(10_000), Value::Null);
        assert!(long.to_string().len() < 500);
    }

    #[test]
    fn missing_evidence_names_the_field() {
        let e = refuse("purchase", json!({"order_ref": "1", "notice_text": "  ", "product_category": "x"}));
        assert_eq!(e, ConsentRefusal::MissingEvidence { origin: ConsentOrigin::Purchase, field: "notice_text" });
        assert_eq!(e.code(), "missing_evidence");
        assert_eq!(e.field(), Some("notice_text"));
        assert!(e.to_string().contains("notice_text"));
        let e = refuse("offline_form", json!({"document_ref": null}));
        assert_eq!(e.field(), Some("document_ref"));
        let e = refuse("contract", Value::Null);
        assert_eq!(e, ConsentRefusal::MissingEvidence { origin: ConsentOrigin::Contract, field: "evidence" });
        assert!(e.to_string().contains("contract_ref, notice_text"), "{e}");
        let e = refuse("co_registration", coreg(json!([]), "Acme GmbH"));
        assert_eq!(e.field(), Some("sponsors"));
        assert_eq!(e.code(), "missing_evidence");
    }

    #[test]
    fn invalid_evidence() {
        let e = refuse("offline_form", json!({"document_ref": 12}));
        assert_eq!(e.code(), "invalid_evidence");
        assert_eq!(e.field(), Some("document_ref"));
        let e = refuse("offline_form", json!(["document_ref"]));
        assert_eq!(e.field(), Some("evidence"));
        let e = refuse("offline_form", json!({"document_ref": "x".repeat(4_001)}));
        assert_eq!(e.code(), "invalid_evidence");
        assert!(e.to_string().contains("4,000"));
        // Exactly 4,000 characters (multi-byte) is fine.
        assert!(Consent::parse("offline_form", &json!({"document_ref": "ä".repeat(4_000)}), US).is_ok());
        let e = refuse("co_registration", coreg(json!("Acme GmbH"), "Acme GmbH"));
        assert_eq!((e.code(), e.field()), ("invalid_evidence", Some("sponsors")));
        let e = refuse("co_registration", coreg(json!(["Acme GmbH", " "]), "Acme GmbH"));
        assert_eq!((e.code(), e.field()), ("invalid_evidence", Some("sponsors")));
        let e = refuse("co_registration", coreg(json!(["Acme GmbH", 3]), "Acme GmbH"));
        assert_eq!((e.code(), e.field()), ("invalid_evidence", Some("sponsors")));
    }

    #[test]
    fn too_many_sponsors() {
        let eleven: Vec<String> = (0..10).map(|i| format!("S{i}")).chain(["Acme GmbH".into()]).collect();
        let e = refuse("co_registration", coreg(json!(eleven), "Acme GmbH"));
        assert_eq!(e, ConsentRefusal::TooManySponsors { count: 11 });
        assert_eq!(e.code(), "too_many_sponsors");
        assert_eq!(e.field(), Some("sponsors"));
        let ten = &eleven[1..];
        assert!(Consent::parse("co_registration", &coreg(json!(ten), "Acme GmbH"), US).is_ok());
    }

    #[test]
    fn sponsor_must_be_listed_and_be_us() {
        let e = refuse("co_registration", coreg(json!(["Other AG"]), "Acme GmbH"));
        assert_eq!(e, ConsentRefusal::SponsorNotListed { sponsor_name: "Acme GmbH".into() });
        assert_eq!(e.code(), "sponsor_not_listed");
        assert_eq!(e.field(), Some("sponsor_name"));
        // Listed, but not this account.
        let e = refuse("co_registration", coreg(json!(["Other AG"]), "Other AG"));
        assert_eq!(e.code(), "sponsor_not_listed");
        // Imprint name, odd spacing and case.
        assert!(Consent::parse("co_registration", &coreg(json!(["acme   SHOP"]), " Acme Shop "), US).is_ok());
        // No account names known: only the listing is checked.
        assert!(Consent::parse("co_registration", &coreg(json!(["Other AG"]), "Other AG"), &[]).is_ok());
        let e = Consent::parse("co_registration", &coreg(json!(["Other AG"]), "Acme"), &[]).unwrap_err();
        assert_eq!(e.code(), "sponsor_not_listed");
    }
}
