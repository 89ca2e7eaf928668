//! Checks an uploaded file before it becomes an import: the declared
//! consent, the reading options, and the head of the file (compressed,
//! binary, header without an email column). Shared by the API and the CLI,
//! so both refuse the same things with the same words — and a refused
//! upload stores nothing.

use std::io::Read;
use std::path::Path;

use assent_domain::{AccountId, Consent, ConsentRefusal, ListId};
use assent_store::{NewImport, Store};

use super::csvread::{self, RecordReader, Row};
use super::job::{ImportConfig, review_on_upload};
use super::rows::{self, ImportOptions};

/// Why an upload is refused: a code, a message saying what to do, and the
/// request field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadError {
    pub code: &'static str,
    pub message: String,
    pub field: &'static str,
}

impl UploadError {
    fn new(code: &'static str, message: impl Into<String>, field: &'static str) -> Self {
        UploadError { code, message: message.into(), field }
    }
}

impl From<ConsentRefusal> for UploadError {
    fn from(e: ConsentRefusal) -> Self {
        let field = if matches!(e.field(), None | Some("origin")) { "origin" } else { "evidence" };
        UploadError { code: e.code(), message: e.to_string(), field }
    }
}

pub struct Upload<'a> {
    pub account: AccountId,
    pub list: ListId,
    pub origin: Option<&'a str>,
    pub evidence: serde_json::Value,
    pub options: ImportOptions,
    pub path: &'a Path,
    pub file_name: String,
    pub created_by: String,
    pub ip: Option<String>,
}

/// Validates the upload and returns the import to create.
pub async fn check(store: &dyn Store, config: &ImportConfig, up: Upload<'_>) -> Result<NewImport, UploadError> {
    let internal = |e: assent_store::StoreError| UploadError::new("internal", format!("storage error: {e}"), "file");
    let account = store
        .get_account(up.account)
        .await
        .map_err(internal)?
        .ok_or_else(|| UploadError::new("not_found", "no such account", "account"))?;
    store.get_list(up.account, up.list).await.map_err(internal)?.ok_or_else(|| {
        UploadError::new("unknown_list", format!("there is no list {} in this account", up.list), "list_id")
    })?;
    let imprint = store.get_imprint(up.account).await.map_err(internal)?;
    let mut names = vec![account.name.clone()];
    if let Some(i) = imprint {
        names.push(i.name);
    }
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();

    let origin = up.origin.map(str::trim).filter(|o| !o.is_empty());
    match (origin, &up.options.origin_column) {
        (Some(origin), _) => {
            let consent = Consent::parse(origin, &up.evidence, &refs)?;
            if matches!(consent, Consent::DoubleOptIn) {
                return Err(UploadError::new(
                    "double_opt_in_not_importable",
                    "double opt-in consent is given through Assent's own confirmation; imported contacts need one of \
                     the other origins (purchase, business_card, offline_form, co_registration, contract) with evidence",
                    "origin",
                ));
            }
        }
        (None, Some(_)) => {}
        (None, None) => {
            return Err(UploadError::new(
                "missing_origin",
                "declare the consent origin of the file (origin + evidence) or name the column that holds it per row (origin_column)",
                "origin",
            ));
        }
    }
    let encoding = up.options.encoding().map_err(|m| UploadError::new("invalid_field", m, "encoding"))?;
    let delimiter = up.options.delimiter().map_err(|m| UploadError::new("invalid_field", m, "delimiter"))?;

    // The head of the file tells most of what is wrong with it.
    let path = up.path.to_path_buf();
    let options = up.options.clone();
    let head_check = tokio::task::spawn_blocking(move || -> Result<u64, UploadError> {
        let bad = |e: csvread::FileError| UploadError::new("invalid_file", e.to_string(), "file");
        let mut file = std::fs::File::open(&path)
            .map_err(|e| UploadError::new("invalid_file", format!("cannot read the file: {e}"), "file"))?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut head = vec![0u8; 64 * 1024];
        let mut n = 0;
        while n < head.len() {
            match file.read(&mut head[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => return Err(UploadError::new("invalid_file", format!("cannot read the file: {e}"), "file")),
            }
        }
        let sniffed = csvread::sniff(&head[..n], encoding, delimiter).map_err(bad)?;
        let mut reader = RecordReader::new(&head[sniffed.bom..n], sniffed.delimiter, 0, 1);
        match reader.next_row() {
            Ok(Some(Row::Fields(f))) => {
                rows::header(&f, sniffed.encoding, &options).map_err(bad)?;
            }
            Ok(Some(Row::TooManyFields)) => return Err(bad(csvread::FileError::TooManyColumns)),
            Ok(Some(Row::TooLarge)) | Ok(None) => return Err(bad(csvread::FileError::HeaderTooLarge)),
            Err(e) => return Err(bad(csvread::FileError::Io(e.to_string()))),
        }
        Ok(size)
    })
    .await
    .map_err(|e| UploadError::new("internal", e.to_string(), "file"))??;

    let review_reason = review_on_upload(config, account.created_at, head_check as i64, now_ms());
    Ok(NewImport {
        list_id: up.list,
        review: if review_reason.is_some() { "pending" } else { "not_required" },
        review_reason,
        origin: origin.map(str::to_string),
        evidence: if origin.is_some() { up.evidence } else { serde_json::Value::Object(serde_json::Map::new()) },
        options: serde_json::to_value(&up.options).unwrap_or_default(),
        file_path: up.path.to_string_lossy().into_owned(),
        file_name: up.file_name,
        file_size: head_check as i64,
        created_by: up.created_by,
        ip: up.ip,
    })
}

fn now_ms() -> i64 {
    crate::now_ms()
}
