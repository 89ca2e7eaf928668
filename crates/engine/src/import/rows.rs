//! From CSV records to checked rows: the header (which column is the
//! address, which hold per-row consent, which become attributes), and the
//! checks of every row. Pure.

use std::collections::{BTreeMap, HashSet};

use assent_domain::{AddressError, AddressPolicy, Consent, EmailAddress, SuppressionHash};
use assent_store::{ImportRejection, ImportRow};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::csvread::{Encoding, Fields, FileError, decode};

/// How to read a file, given at upload and kept with the import.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOptions {
    /// `auto` (default), `utf-8` or `windows-1252`/`latin1`.
    #[serde(default)]
    pub encoding: Option<String>,
    /// `,`, `;` or `\t`; sniffed from the header when absent.
    #[serde(default)]
    pub delimiter: Option<String>,
    /// Header renames: `{"E-Mail-Adresse": "email", "Vorname": "first_name"}`.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// A column holding each row's consent origin (instead of one for the file).
    #[serde(default)]
    pub origin_column: Option<String>,
    /// Evidence field → column, for per-row evidence (`{"order_ref": "Order"}`).
    #[serde(default)]
    pub evidence_columns: BTreeMap<String, String>,
}

impl ImportOptions {
    pub fn encoding(&self) -> Result<Option<Encoding>, String> {
        match &self.encoding {
            None => Ok(None),
            Some(e) => {
                Encoding::parse(e).ok_or_else(|| format!("unknown encoding {e:?}: use auto, utf-8 or windows-1252"))
            }
        }
    }

    pub fn delimiter(&self) -> Result<Option<u8>, String> {
        match self.delimiter.as_deref() {
            None | Some("") | Some("auto") => Ok(None),
            Some(",") => Ok(Some(b',')),
            Some(";") => Ok(Some(b';')),
            Some("\t") | Some("\\t") | Some("tab") => Ok(Some(b'\t')),
            Some(d) => Err(format!("unsupported delimiter {d:?}: use , ; or tab")),
        }
    }
}

/// Which column means what.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub email: usize,
    pub origin: Option<usize>,
    pub evidence: Vec<(String, usize)>,
    pub attributes: Vec<(String, usize)>,
}

/// Names people give the address column.
const EMAIL_NAMES: &[&str] =
    &["email", "e-mail", "email_address", "email address", "e-mail address", "emailaddress", "mail", "e-mail-adresse"];

/// Reads the header row.
pub fn header(fields: &Fields<'_>, encoding: Encoding, options: &ImportOptions) -> Result<Header, FileError> {
    let mut names = Vec::with_capacity(fields.len());
    for i in 0..fields.len() {
        let raw = fields.get(i).unwrap_or_default();
        let name = decode(encoding, raw).ok_or(FileError::HeaderEncoding(encoding.as_str()))?;
        let name = name.trim().trim_start_matches('\u{feff}').to_string();
        let name = options.mapping.get(&name).cloned().unwrap_or(name);
        names.push(name);
    }
    let mut seen = HashSet::new();
    for n in &names {
        if !n.is_empty() && !seen.insert(n.to_lowercase()) {
            return Err(FileError::DuplicateColumn(n.clone()));
        }
    }
    let find = |want: &str| names.iter().position(|n| n.eq_ignore_ascii_case(want));
    let email = find("email")
        .or_else(|| names.iter().position(|n| EMAIL_NAMES.contains(&n.to_lowercase().as_str())))
        .ok_or(FileError::NoEmailColumn)?;
    let origin = options.origin_column.as_deref().and_then(find);
    let mut evidence = Vec::new();
    for (field, column) in &options.evidence_columns {
        if let Some(i) = find(column) {
            evidence.push((field.clone(), i));
        }
    }
    let consent_columns: Vec<usize> = origin.into_iter().chain(evidence.iter().map(|(_, i)| *i)).collect();
    let attributes = names
        .iter()
        .enumerate()
        .filter(|(i, n)| *i != email && !consent_columns.contains(i) && !n.is_empty())
        .map(|(i, n)| (n.clone(), i))
        .collect();
    Ok(Header { email, origin, evidence, attributes })
}

/// Why a row was not imported (the report's reason codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowError {
    MissingEmail,
    InvalidAddress(&'static str),
    RoleAddress,
    DisposableDomain,
    DuplicateInFile,
    Consent(&'static str),
    TooLarge,
    TooManyColumns,
    BadEncoding,
}

impl RowError {
    pub fn code(&self) -> &'static str {
        match self {
            RowError::MissingEmail => "missing_email",
            RowError::InvalidAddress(_) => "invalid_address",
            RowError::RoleAddress => "role_address",
            RowError::DisposableDomain => "disposable_domain",
            RowError::DuplicateInFile => "duplicate_in_file",
            RowError::Consent(code) => code,
            RowError::TooLarge => "row_too_large",
            RowError::TooManyColumns => "too_many_columns",
            RowError::BadEncoding => "bad_encoding",
        }
    }

    /// Rejections that say something about where a list came from: many of
    /// them send an import to review.
    pub fn is_risky(&self) -> bool {
        matches!(self, RowError::InvalidAddress(_) | RowError::RoleAddress | RowError::DisposableDomain)
    }
}

/// What every row is checked against.
pub struct RowContext<'a> {
    pub header: &'a Header,
    pub encoding: Encoding,
    pub policy: &'a AddressPolicy,
    /// The file-wide consent, when declared for the whole file.
    pub consent: Option<&'a Consent>,
    pub account_names: &'a [&'a str],
}

/// Identity of an address within one file: 128 bits of SHA-256 of the
/// normalised address, so a million addresses take ~16 MB, not their text.
fn identity(norm: &str) -> u128 {
    let digest = Sha256::digest(norm.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    u128::from_be_bytes(b)
}

/// Checks one row; accepted rows come back ready for the store.
pub fn prepare(
    ctx: &RowContext<'_>,
    fields: &Fields<'_>,
    line: i64,
    seen: &mut HashSet<u128>,
) -> Result<ImportRow, (RowError, String)> {
    let text = |i: usize| -> Result<String, (RowError, String)> {
        match fields.get(i) {
            None => Ok(String::new()),
            Some(raw) => decode(ctx.encoding, raw).ok_or((RowError::BadEncoding, String::new())),
        }
    };
    let raw_email = text(ctx.header.email)?;
    let raw_email = raw_email.trim();
    if raw_email.is_empty() {
        return Err((RowError::MissingEmail, String::new()));
    }
    let shown = raw_email.chars().take(320).collect::<String>();
    let email = EmailAddress::parse(raw_email).map_err(|e| (RowError::InvalidAddress(e.code()), shown.clone()))?;
    if let Err(e) = ctx.policy.check(&email) {
        let err = match e {
            AddressError::RoleAddress { .. } => RowError::RoleAddress,
            _ => RowError::DisposableDomain,
        };
        return Err((err, shown));
    }
    let norm = email.normalized();
    if !seen.insert(identity(&norm)) {
        return Err((RowError::DuplicateInFile, shown));
    }
    let (origin, evidence) = match (ctx.consent, ctx.header.origin) {
        (Some(consent), _) => {
            (consent.origin().as_str().to_string(), serde_json::Value::Object(serde_json::Map::new()))
        }
        (None, Some(col)) => {
            let origin = text(col).map_err(|(e, _)| (e, shown.clone()))?;
            let mut ev = serde_json::Map::new();
            for (field, i) in &ctx.header.evidence {
                let v = text(*i).map_err(|(e, _)| (e, shown.clone()))?;
                let v = v.trim();
                if !v.is_empty() {
                    ev.insert(field.clone(), parse_evidence_value(field, v));
                }
            }
            let ev = serde_json::Value::Object(ev);
            let consent = Consent::parse(&origin, &ev, ctx.account_names)
                .map_err(|e| (RowError::Consent(e.code()), shown.clone()))?;
            if matches!(consent, Consent::DoubleOptIn) {
                return Err((RowError::Consent("double_opt_in_not_importable"), shown));
            }
            (consent.origin().as_str().to_string(), consent.evidence_json())
        }
        (None, None) => return Err((RowError::Consent("missing_origin"), shown)),
    };
    let mut attributes = serde_json::Map::new();
    let mut size = 0;
    for (name, i) in &ctx.header.attributes {
        let v = text(*i).map_err(|(e, _)| (e, shown.clone()))?;
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        size += name.len() + v.len();
        if size > 16 * 1024 || attributes.len() >= 100 {
            return Err((RowError::TooLarge, shown));
        }
        attributes.insert(name.clone(), serde_json::Value::String(v.to_string()));
    }
    Ok(ImportRow {
        line,
        email: email.as_str().to_string(),
        email_norm: norm,
        hash: SuppressionHash::of(&email).as_str().to_string(),
        attributes: serde_json::Value::Object(attributes).to_string(),
        origin,
        evidence,
    })
}

/// Co-registration sponsors come as one cell: `A|B|C` or `A, B, C`.
fn parse_evidence_value(field: &str, v: &str) -> serde_json::Value {
    if field == "sponsors" {
        let sep = if v.contains('|') { '|' } else { ',' };
        serde_json::Value::from(
            v.split(sep).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect::<Vec<_>>(),
        )
    } else {
        serde_json::Value::String(v.to_string())
    }
}

/// The report entry for a rejected row.
pub fn rejection(line: i64, err: RowError, address: String) -> ImportRejection {
    ImportRejection { line, risky: err.is_risky(), address, reason: err.code().to_string() }
}

/// An address as logs may show it: `a***@example.org`.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".to_string(),
    }
}
