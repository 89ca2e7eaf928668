//! Accounts (tenants): the audit life cycle that gates sending (PRODUCT.md
//! rule 4) and the DDG §5 imprint every campaign carries as text (CSA §2.4).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::EmailAddress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    /// New, or waiting for the operator to review a submitted audit.
    PendingAudit,
    Active,
    Rejected,
    Suspended,
}

/// What the customer or the operator does to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAction {
    /// The customer submits (or resubmits) the audit and imprint.
    SubmitAudit,
    Activate,
    Reject,
    Suspend,
    Reinstate,
}

#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleError {
    #[error("{}", illegal_message(*.from, *.action))]
    Illegal { from: AccountStatus, action: AccountAction },
}

impl LifecycleError {
    /// Stable snake_case code, used as the API error code.
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleError::Illegal { .. } => "illegal_transition",
        }
    }
}

fn illegal_message(from: AccountStatus, action: AccountAction) -> String {
    let (verb, hint) = match action {
        AccountAction::SubmitAudit => {
            ("submit an audit", "a suspended account must first be reinstated by the operator")
        }
        AccountAction::Activate => (
            "be activated",
            "only an account pending audit or a suspended one can be activated; a rejected account submits a new audit first",
        ),
        AccountAction::Reject => ("be rejected", "only an account pending audit can be rejected"),
        AccountAction::Suspend => ("be suspended", "only an active account can be suspended"),
        AccountAction::Reinstate => ("be reinstated", "only a suspended account can be reinstated"),
    };
    format!("an account that is {} cannot {verb}; {hint}", from.describe())
}

impl AccountStatus {
    pub const ALL: &'static [AccountStatus] =
        &[AccountStatus::PendingAudit, AccountStatus::Active, AccountStatus::Rejected, AccountStatus::Suspended];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::PendingAudit => "pending_audit",
            AccountStatus::Active => "active",
            AccountStatus::Rejected => "rejected",
            AccountStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> Option<AccountStatus> {
        Self::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    fn describe(self) -> &'static str {
        match self {
            AccountStatus::PendingAudit => "pending audit",
            AccountStatus::Active => "active",
            AccountStatus::Rejected => "rejected",
            AccountStatus::Suspended => "suspended",
        }
    }

    /// Only an audited, active account may send.
    pub fn can_send(self) -> bool {
        self == AccountStatus::Active
    }

    pub fn apply(self, action: AccountAction) -> Result<AccountStatus, LifecycleError> {
        use AccountAction as A;
        use AccountStatus as S;
        match (self, action) {
            // Resubmitting while waiting just replaces the audit data.
            (S::PendingAudit, A::SubmitAudit) => Ok(S::PendingAudit),
            // A rejected customer may fix the problems and try again.
            (S::Rejected, A::SubmitAudit) => Ok(S::PendingAudit),
            // Updating the imprint of an audited account keeps it active.
            (S::Active, A::SubmitAudit) => Ok(S::Active),
            (S::PendingAudit, A::Activate) => Ok(S::Active),
            (S::PendingAudit, A::Reject) => Ok(S::Rejected),
            (S::Active, A::Suspend) => Ok(S::Suspended),
            (S::Suspended, A::Reinstate | A::Activate) => Ok(S::Active),
            (from, action) => Err(LifecycleError::Illegal { from, action }),
        }
    }
}

impl fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AccountAction {
    pub const ALL: &'static [AccountAction] = &[
        AccountAction::SubmitAudit,
        AccountAction::Activate,
        AccountAction::Reject,
        AccountAction::Suspend,
        AccountAction::Reinstate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountAction::SubmitAudit => "submit_audit",
            AccountAction::Activate => "activate",
            AccountAction::Reject => "reject",
            AccountAction::Suspend => "suspend",
            AccountAction::Reinstate => "reinstate",
        }
    }
}

impl fmt::Display for AccountAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The imprint as the customer submits it (`PUT /api/v1/account/audit`,
/// field `imprint`). Unknown fields are refused so a typo does not silently
/// drop a field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImprintDraft {
    pub name: Option<String>,
    pub legal_form: Option<String>,
    pub representative: Option<String>,
    pub street: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub register_court: Option<String>,
    pub register_number: Option<String>,
    pub vat_id: Option<String>,
}

/// A complete DDG §5 imprint. `register_court`/`register_number` are `None`
/// when the company is explicitly not in a register, `vat_id` when it
/// explicitly has no VAT or business id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Imprint {
    pub name: String,
    pub legal_form: String,
    pub representative: String,
    pub street: String,
    pub postal_code: String,
    pub city: String,
    pub country: String,
    pub email: String,
    pub phone: String,
    pub register_court: Option<String>,
    pub register_number: Option<String>,
    pub vat_id: Option<String>,
}

/// Everything wrong with a submitted imprint, so it can be fixed in one go.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
#[error("{}", self.message())]
pub struct ImprintError {
    pub missing: Vec<&'static str>,
    pub invalid: Vec<(&'static str, String)>,
}

impl ImprintError {
    /// Stable snake_case code, used as the API error code.
    pub fn code(&self) -> &'static str {
        "imprint_incomplete"
    }

    /// The fields at fault: missing ones, then invalid ones.
    pub fn fields(&self) -> Vec<&'static str> {
        self.missing.iter().copied().chain(self.invalid.iter().map(|(f, _)| *f)).collect()
    }

    fn message(&self) -> String {
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!("missing {}", self.missing.join(", ")));
        }
        for (field, reason) in &self.invalid {
            parts.push(format!("invalid {field}: {reason}"));
        }
        let mut msg = format!("imprint incomplete: {}", parts.join("; "));
        if self.missing.iter().any(|f| matches!(*f, "register_number" | "vat_id")) {
            msg.push_str(" (write \"none\" as register_number or vat_id if the company has none)");
        }
        msg
    }
}

/// Longest accepted imprint field; an imprint line, not a document.
const MAX_FIELD_CHARS: usize = 500;
/// Fewest digits in a phone number that can be dialled from abroad.
const MIN_PHONE_DIGITS: usize = 6;

/// Collects the problems while the fields are read.
#[derive(Default)]
struct Check {
    missing: Vec<&'static str>,
    invalid: Vec<(&'static str, String)>,
}

impl Check {
    /// Trimmed value; blank records it as missing, too long as invalid.
    fn text(&mut self, field: &'static str, value: Option<String>) -> Option<String> {
        let value = value.as_deref().map(str::trim).unwrap_or_default();
        if value.is_empty() {
            self.missing.push(field);
            None
        } else if value.chars().count() > MAX_FIELD_CHARS {
            self.invalid.push((field, format!("is longer than {MAX_FIELD_CHARS} characters")));
            None
        } else {
            Some(value.to_owned())
        }
    }

    fn invalid(&mut self, field: &'static str, reason: impl Into<String>) {
        self.invalid.push((field, reason.into()));
    }
}

fn is_none_word(s: &str) -> bool {
    s.eq_ignore_ascii_case("none")
}

/// Word sequences that mean "PO box" in the languages of our customers.
const PO_BOX_WORDS: &[&[&str]] = &[
    &["postfach"],
    &["po", "box"],
    &["p", "o", "box"],
    &["pobox"],
    &["post", "office", "box"],
    &["boîte", "postale"],
    &["boite", "postale"],
    &["apartado"],
    &["casella", "postale"],
    &["postbus"],
    &["postboks"],
];

/// A PO box is not a postal address where the sender can be served (DDG §5
/// asks for a "ladungsfähige Anschrift"). Matched on whole words so that a
/// "Hippo Boxweg" is not a PO box.
fn is_po_box(street: &str) -> bool {
    let lower = street.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let postfach_compound = words.iter().any(|w| w.starts_with("postfach"));
    postfach_compound || PO_BOX_WORDS.iter().any(|pattern| words.windows(pattern.len()).any(|w| w == *pattern))
}

fn phone_problem(phone: &str) -> Option<&'static str> {
    if !phone.chars().all(|c| c.is_ascii_digit() || " +()-/.".contains(c)) {
        return Some("may only contain digits, spaces and + ( ) - / .");
    }
    if phone.chars().filter(char::is_ascii_digit).count() < MIN_PHONE_DIGITS {
        return Some("needs at least 6 digits; give the full number with area code");
    }
    None
}

impl Imprint {
    /// Checks DDG §5 completeness and collects every problem, not just the
    /// first, so the customer can fix the form in one pass.
    pub fn parse(draft: ImprintDraft) -> Result<Imprint, ImprintError> {
        let mut c = Check::default();
        let name = c.text("name", draft.name);
        let legal_form = c.text("legal_form", draft.legal_form);
        let representative = c.text("representative", draft.representative);
        let street = c.text("street", draft.street);
        if street.as_deref().is_some_and(is_po_box) {
            c.invalid(
                "street",
                "a PO box is not a postal address; give the street address where the company can be served",
            );
        }
        let postal_code = c.text("postal_code", draft.postal_code);
        let city = c.text("city", draft.city);
        let country = c.text("country", draft.country);
        let email = c.text("email", draft.email).and_then(|e| {
            EmailAddress::parse(&e)
                .map(|a| a.as_str().to_owned())
                .map_err(|err| c.invalid("email", err.to_string()))
                .ok()
        });
        let phone = c.text("phone", draft.phone);
        if let Some(problem) = phone.as_deref().and_then(phone_problem) {
            c.invalid("phone", problem);
        }

        // The court alone is optional: it is only needed with a real number.
        let court_raw = draft.register_court.as_deref().map(str::trim).unwrap_or_default();
        let court_given = !court_raw.is_empty() && !is_none_word(court_raw);
        let number = c.text("register_number", draft.register_number);
        let (register_court, register_number) = match number {
            Some(n) if is_none_word(&n) => {
                if court_given {
                    c.invalid(
                        "register_court",
                        "a register court is given but register_number is \"none\"; enter the register number or set the court to \"none\"",
                    );
                }
                (None, None)
            }
            Some(n) => {
                if is_none_word(court_raw) {
                    c.invalid(
                        "register_court",
                        "a registered company names its register court, e.g. \"Amtsgericht Berlin-Charlottenburg\"",
                    );
                    (None, Some(n))
                } else {
                    (c.text("register_court", draft.register_court), Some(n))
                }
            }
            None => (None, None),
        };

        let vat_id = match c.text("vat_id", draft.vat_id) {
            Some(v) if is_none_word(&v) => None,
            Some(v) => {
                if !v.chars().any(|ch| ch.is_ascii_digit()) {
                    c.invalid(
                        "vat_id",
                        "a VAT or business id contains digits, e.g. \"DE123456789\"; write \"none\" if the company has none",
                    );
                }
                Some(v)
            }
            None => None,
        };

        let problems = |c: Check| ImprintError { missing: c.missing, invalid: c.invalid };
        if !c.missing.is_empty() || !c.invalid.is_empty() {
            return Err(problems(c));
        }
        // With nothing reported every required field is Some; the else arm
        // only exists so that a future slip reports instead of panicking.
        let (
            Some(name),
            Some(legal_form),
            Some(representative),
            Some(street),
            Some(postal_code),
            Some(city),
            Some(country),
            Some(email),
            Some(phone),
        ) = (name, legal_form, representative, street, postal_code, city, country, email, phone)
        else {
            return Err(problems(c));
        };
        Ok(Imprint {
            name,
            legal_form,
            representative,
            street,
            postal_code,
            city,
            country,
            email,
            phone,
            register_court,
            register_number,
            vat_id,
        })
    }

    /// The plain-text imprint block for the foot of every mail.
    pub fn to_text(&self) -> String {
        let name = if self.name.to_lowercase().contains(&self.legal_form.to_lowercase()) {
            self.name.clone()
        } else {
            format!("{} ({})", self.name, self.legal_form)
        };
        let mut lines = vec![
            name,
            format!("Represented by: {}", self.representative),
            format!("{}, {} {}, {}", self.street, self.postal_code, self.city, self.country),
            format!("Email: {} · Phone: {}", self.email, self.phone),
        ];
        match (&self.register_court, &self.register_number) {
            (Some(court), Some(number)) => lines.push(format!("Register: {court} {number}")),
            (None, Some(number)) => lines.push(format!("Register: {number}")),
            _ => {}
        }
        if let Some(vat) = &self.vat_id {
            lines.push(format!("VAT ID: {vat}"));
        }
        lines.join("\n")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use AccountAction as A;
    use AccountStatus as S;

    #[test]
    fn lifecycle_table() {
        let legal = [
            (S::PendingAudit, A::SubmitAudit, S::PendingAudit),
            (S::Rejected, A::SubmitAudit, S::PendingAudit),
            (S::Active, A::SubmitAudit, S::Active),
            (S::PendingAudit, A::Activate, S::Active),
            (S::PendingAudit, A::Reject, S::Rejected),
            (S::Active, A::Suspend, S::Suspended),
            (S::Suspended, A::Reinstate, S::Active),
            (S::Suspended, A::Activate, S::Active),
        ];
        for from in S::ALL {
            for action in A::ALL {
                let expected = legal
                    .iter()
                    .find(|(f, a, _)| f == from && a == action)
                    .map(|(_, _, to)| *to)
                    .ok_or(LifecycleError::Illegal { from: *from, action: *action });
                assert_eq!(from.apply(*action), expected, "{from:?} + {action:?}");
            }
        }
    }

    #[test]
    fn only_active_can_send() {
        for s in S::ALL {
            assert_eq!(s.can_send(), *s == S::Active);
            assert_eq!(S::parse(s.as_str()), Some(*s));
            assert_eq!(serde_json::to_value(s).unwrap(), serde_json::json!(s.as_str()));
        }
        assert_eq!(S::PendingAudit.as_str(), "pending_audit");
        assert_eq!(A::SubmitAudit.as_str(), "submit_audit");
    }

    #[test]
    fn lifecycle_error_message() {
        let e = S::Rejected.apply(A::Suspend).unwrap_err();
        assert_eq!(e.code(), "illegal_transition");
        assert!(e.to_string().starts_with("an account that is rejected cannot be suspended"), "{e}");
        let e = S::Suspended.apply(A::SubmitAudit).unwrap_err();
        assert!(e.to_string().contains("reinstated"), "{e}");
    }

    fn draft() -> ImprintDraft {
        ImprintDraft {
            name: Some(" Example GmbH ".into()),
            legal_form: Some("GmbH".into()),
            representative: Some("Erika Mustermann".into()),
            street: Some("Musterstr. 1".into()),
            postal_code: Some("12345".into()),
            city: Some("Berlin".into()),
            country: Some("Germany".into()),
            email: Some("Kontakt@Example.DE".into()),
            phone: Some("+49 (30) 123-456".into()),
            register_court: Some("Amtsgericht Berlin-Charlottenburg".into()),
            register_number: Some("HRB 12345".into()),
            vat_id: Some("DE123456789".into()),
        }
    }

    #[test]
    fn complete_imprint_parses_and_renders() {
        let imprint = Imprint::parse(draft()).unwrap();
        assert_eq!(imprint.name, "Example GmbH");
        assert_eq!(imprint.email, "Kontakt@example.de");
        assert_eq!(
            imprint.to_text(),
            "Example GmbH\n\
             Represented by: Erika Mustermann\n\
             Musterstr. 1, 12345 Berlin, Germany\n\
             Email: Kontakt@example.de · Phone: +49 (30) 123-456\n\
             Register: Amtsgericht Berlin-Charlottenburg HRB 12345\n\
             VAT ID: DE123456789"
        );
    }

    #[test]
    fn explicit_none_for_register_and_vat() {
        let d = ImprintDraft {
            name: Some("Erika Mustermann".into()),
            legal_form: Some("sole proprietor".into()),
            register_court: None,
            register_number: Some("None".into()),
            vat_id: Some("none".into()),
            ..draft()
        };
        let imprint = Imprint::parse(d.clone()).unwrap();
        assert_eq!(imprint.register_number, None);
        assert_eq!(imprint.register_court, None);
        assert_eq!(imprint.vat_id, None);
        let text = imprint.to_text();
        assert!(text.starts_with("Erika Mustermann (sole proprietor)\n"), "{text}");
        assert!(!text.contains("Register") && !text.contains("VAT"), "{text}");
        let d = ImprintDraft { register_court: Some(" none ".into()), ..d };
        assert!(Imprint::parse(d).is_ok());
    }

    #[test]
    fn all_problems_are_collected() {
        let e = Imprint::parse(ImprintDraft::default()).unwrap_err();
        assert_eq!(
            e.missing,
            vec![
                "name",
                "legal_form",
                "representative",
                "street",
                "postal_code",
                "city",
                "country",
                "email",
                "phone",
                "register_number",
                "vat_id"
            ]
        );
        assert!(e.invalid.is_empty());
        assert_eq!(e.code(), "imprint_incomplete");
        assert!(e.to_string().contains("\"none\""), "{e}");

        let d = ImprintDraft {
            name: Some("  ".into()),
            phone: None,
            street: Some("P.O. Box 123".into()),
            email: Some("not-an-address".into()),
            ..draft()
        };
        let e = Imprint::parse(d).unwrap_err();
        assert_eq!(e.missing, vec!["name", "phone"]);
        assert_eq!(e.fields(), vec!["name", "phone", "street", "email"]);
        let msg = e.to_string();
        assert!(
            msg.starts_with(
                "imprint incomplete: missing name, phone; invalid street: a PO box is not a postal address"
            ),
            "{msg}"
        );
        assert!(msg.contains("invalid email: the email address has no '@'"), "{msg}");
    }

    #[test]
    fn po_boxes_are_refused() {
        for street in [
            "Postfach 10 20 30",
            "POSTFACH 1",
            "Postfachnummer 12",
            "PO Box 7",
            "P.O. Box 7",
            "p. o. box 7",
            "PO-Box 7",
            "POBox 7",
            "Post Office Box 99",
            "Boîte postale 12",
            "Boite Postale 12",
            "Apartado 45",
            "Casella Postale 3",
            "Postbus 100",
        ] {
            assert!(is_po_box(street), "{street}");
        }
        for street in ["Musterstr. 1", "Hippo Boxweg 3", "Postweg 2", "Poststraße 5", "Boxhagener Str. 1"] {
            assert!(!is_po_box(street), "{street}");
        }
    }

    #[test]
    fn phone_rules() {
        for ok in ["+49 30 123456", "030/123456", "(030) 12.34.56", "+1-555-123-4567"] {
            assert_eq!(phone_problem(ok), None, "{ok}");
        }
        for bad in ["12345", "+49 30 CALL-ME", "0301234567 ext 5", "☎ 030123456"] {
            assert!(phone_problem(bad).is_some(), "{bad}");
        }
        let e = Imprint::parse(ImprintDraft { phone: Some("123".into()), ..draft() }).unwrap_err();
        assert_eq!(e.fields(), vec!["phone"]);
    }

    #[test]
    fn register_rules() {
        let e = Imprint::parse(ImprintDraft { register_court: None, ..draft() }).unwrap_err();
        assert_eq!(e.missing, vec!["register_court"]);
        let e = Imprint::parse(ImprintDraft { register_court: Some("none".into()), ..draft() }).unwrap_err();
        assert_eq!(e.fields(), vec!["register_court"]);
        let e = Imprint::parse(ImprintDraft { register_number: Some("none".into()), ..draft() }).unwrap_err();
        assert_eq!(e.fields(), vec!["register_court"]);
        assert!(e.invalid[0].1.contains("\"none\""));
        let e = Imprint::parse(ImprintDraft { register_number: Some(" ".into()), ..draft() }).unwrap_err();
        assert_eq!(e.missing, vec!["register_number"]);
    }

    #[test]
    fn vat_and_length_rules() {
        let e = Imprint::parse(ImprintDraft { vat_id: Some("pending".into()), ..draft() }).unwrap_err();
        assert_eq!(e.fields(), vec!["vat_id"]);
        let e = Imprint::parse(ImprintDraft { city: Some("x".repeat(501)), ..draft() }).unwrap_err();
        assert_eq!(e.invalid, vec![("city", "is longer than 500 characters".to_owned())]);
        assert!(Imprint::parse(ImprintDraft { city: Some("ü".repeat(500)), ..draft() }).is_ok());
    }

    #[test]
    fn draft_json_field_names_are_fixed() {
        let json = serde_json::json!({
            "name": "A GmbH", "legal_form": "GmbH", "representative": "R", "street": "S 1",
            "postal_code": "1", "city": "C", "country": "DE", "email": "a@b.de",
            "phone": "+49 123456", "register_court": "AG X", "register_number": "HRB 1",
            "vat_id": "DE1"
        });
        let d: ImprintDraft = serde_json::from_value(json).unwrap();
        assert!(Imprint::parse(d).is_ok());
        let bad = serde_json::from_value::<ImprintDraft>(serde_json::json!({"nmae": "x"}));
        assert!(bad.is_err());
        let partial: ImprintDraft = serde_json::from_value(serde_json::json!({"name": "x"})).unwrap();
        assert_eq!(partial.city, None);
    }
}
