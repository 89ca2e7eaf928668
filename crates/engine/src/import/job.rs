//! Running an import: reading and checking rows on a blocking thread,
//! applying them in batches, deciding whether the operator must review.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;
use std::time::{Duration, Instant};

use assent_domain::{AddressPolicy, Consent};
use assent_store::{Import, ImportBatch, Store};
use tokio::sync::{mpsc, watch};

use super::csvread::{self, FileError, RecordReader, Row};
use super::rows::{self, ImportOptions, RowContext, RowError};

/// When the operator must approve an import before its contacts become
/// mailable (PRODUCT.md rule 3).
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// Accounts younger than this always need review.
    pub review_account_age: Duration,
    /// Files larger than this need review.
    pub review_bytes: i64,
    /// Imports with more rows than this need review.
    pub review_rows: i64,
    /// Imports whose share of invalid, role and disposable addresses
    /// exceeds this need review.
    pub review_risky_ratio: f64,
    /// Rows per transaction. On SQLite 20,000 measured the same as 5,000
    /// (about 67k rows/s either way) with more memory; 50,000 was slower
    /// (65k) at a peak RSS of 180 MB instead of 120.
    pub batch_rows: usize,
    /// Where uploads are spooled; files there are deleted once their
    /// import is done (files given on the command line are left alone).
    pub spool_dir: Option<std::path::PathBuf>,
}

impl Default for ImportConfig {
    fn default() -> Self {
        ImportConfig {
            review_account_age: Duration::from_secs(30 * 24 * 3600),
            review_bytes: 50 * 1024 * 1024,
            review_rows: 250_000,
            review_risky_ratio: 0.05,
            batch_rows: 5_000,
            spool_dir: None,
        }
    }
}

/// The review reason known at upload (account age, file size), if any.
pub fn review_on_upload(config: &ImportConfig, account_created_ms: i64, file_size: i64, now_ms: i64) -> Option<String> {
    let age_ms = i64::try_from(config.review_account_age.as_millis()).unwrap_or(i64::MAX);
    if now_ms.saturating_sub(account_created_ms) < age_ms {
        return Some(format!("the account is younger than {} days", config.review_account_age.as_secs() / 86_400));
    }
    if file_size > config.review_bytes {
        return Some(format!("the file is larger than {} MB", config.review_bytes / (1024 * 1024)));
    }
    None
}

/// How far an import has come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    pub rows_done: i64,
    pub imported: i64,
    pub rejected: i64,
    /// Share of the file read, 0.0–1.0.
    pub fraction: f64,
    pub rows_per_sec: f64,
    pub eta_secs: Option<f64>,
}

impl Progress {
    /// From the stored import (what the API shows).
    pub fn of(import: &Import, now_ms: i64) -> Progress {
        let fraction = if import.processed {
            1.0
        } else {
            (import.byte_offset as f64 / import.file_size.max(1) as f64).clamp(0.0, 1.0)
        };
        let elapsed = match import.started_at {
            Some(start) => {
                let end = import.finished_at.unwrap_or(if import.processed { import.updated_at } else { now_ms });
                (end - start).max(1) as f64 / 1000.0
            }
            None => 0.0,
        };
        let rows_per_sec = if elapsed > 0.0 { import.rows_done as f64 / elapsed } else { 0.0 };
        let eta_secs =
            (!import.processed && fraction > 0.0 && elapsed > 0.0).then(|| elapsed * (1.0 - fraction) / fraction);
        Progress {
            rows_done: import.rows_done,
            imported: import.imported,
            rejected: import.rejected,
            fraction,
            rows_per_sec,
            eta_secs,
        }
    }
}

pub struct Importer {
    pub store: Arc<dyn Store>,
    pub policy: Arc<AddressPolicy>,
    pub config: ImportConfig,
}

const LEASE_MS: i64 = 60_000;

enum Message {
    Batch(ImportBatch),
    Failed(String),
}

impl Importer {
    /// Runs one (claimed) import to its end. Progress is reported after
    /// every batch. Returns the import as it stands at the end.
    pub async fn run(&self, import: Import, mut on_progress: impl FnMut(&Progress) + Send) -> Import {
        let started = Instant::now();
        let id = import.id;
        let account = import.account_id;
        let prepared = match self.prepare(&import).await {
            Ok(p) => p,
            Err(message) => {
                tracing::warn!(import = id, %message, "import failed");
                let _ = self.store.fail_import(id, &message).await;
                self.discard_file(&import);
                return self.reload(&import).await;
            }
        };
        let (tx, mut rx) = mpsc::channel::<Message>(2);
        let reader_import = import.clone();
        let policy = self.policy.clone();
        let batch_rows = self.config.batch_rows.max(1);
        let reader = tokio::task::spawn_blocking(move || read_file(reader_import, prepared, policy, batch_rows, tx));
        let mut current = import;
        let mut failure = None;
        while let Some(message) = rx.recv().await {
            match message {
                Message::Batch(batch) => match self.store.apply_import_batch(&current, &batch).await {
                    Ok(_) => {
                        current = self.reload(&current).await;
                        let _ = self.store.renew_import_lease(id, crate::now_ms() + LEASE_MS).await;
                        on_progress(&Progress::of(&current, crate::now_ms()));
                    }
                    Err(assent_store::StoreError::Conflict(detail)) => {
                        // Another worker owns this import now (our lease ran
                        // out): leave it to them.
                        tracing::warn!(import = id, %detail, "import taken over by another worker");
                        drop(rx);
                        let _ = reader.await;
                        return self.reload(&current).await;
                    }
                    Err(e) => {
                        failure = Some(format!("cannot store rows: {e}"));
                        break;
                    }
                },
                Message::Failed(message) => {
                    failure = Some(message);
                    break;
                }
            }
        }
        drop(rx);
        let _ = reader.await;
        if let Some(message) = failure {
            tracing::warn!(import = id, %message, "import failed");
            let _ = self.store.fail_import(id, &message).await;
            self.discard_file(&current);
            return self.reload(&current).await;
        }
        // Decide the review with the import as it stands now (the operator
        // may have decided while it ran).
        let latest = self.reload(&current).await;
        let (status, review, reason) = match latest.review.as_str() {
            "pending" => ("pending_review", "pending", None),
            "approved" => ("completed", "approved", None),
            "rejected" => ("rejected", "rejected", None),
            _ => {
                let ratio = latest.risky as f64 / latest.rows_done.max(1) as f64;
                if ratio > self.config.review_risky_ratio {
                    (
                        "pending_review",
                        "pending",
                        Some(format!(
                            "{:.1} % of the rows are invalid, role or disposable addresses (more than {:.1} %)",
                            ratio * 100.0,
                            self.config.review_risky_ratio * 100.0
                        )),
                    )
                } else if latest.imported > self.config.review_rows {
                    (
                        "pending_review",
                        "pending",
                        Some(format!("more than {} rows were imported", self.config.review_rows)),
                    )
                } else {
                    ("completed", "not_required", None)
                }
            }
        };
        if let Err(e) = self.store.finish_import(id, status, review, reason.as_deref()).await {
            tracing::error!(import = id, error = %e, "cannot finish import");
        }
        let done = self.reload(&latest).await;
        self.discard_file(&done);
        tracing::info!(
            import = id, account = %account, rows = done.rows_done, imported = done.imported, rejected = done.rejected,
            status = %done.status, seconds = started.elapsed().as_secs_f64(), "import finished"
        );
        done
    }

    /// Removes a spooled upload once nothing will read it again.
    pub fn discard_file(&self, import: &Import) {
        if let Some(dir) = &self.config.spool_dir
            && std::path::Path::new(&import.file_path).starts_with(dir)
        {
            let _ = std::fs::remove_file(&import.file_path);
        }
    }

    async fn reload(&self, import: &Import) -> Import {
        match self.store.find_import(import.id).await {
            Ok(Some(i)) => i,
            _ => import.clone(),
        }
    }

    async fn prepare(&self, import: &Import) -> Result<Prepared, String> {
        let options: ImportOptions =
            serde_json::from_value(import.options.clone()).map_err(|e| format!("bad import options: {e}"))?;
        let account =
            self.store.get_account(import.account_id).await.map_err(|e| e.to_string())?.ok_or("account gone")?;
        let imprint = self.store.get_imprint(import.account_id).await.map_err(|e| e.to_string())?;
        let mut names = vec![account.name.clone()];
        if let Some(i) = imprint {
            names.push(i.name);
        }
        let consent = match &import.origin {
            Some(origin) => {
                let refs: Vec<&str> = names.iter().map(String::as_str).collect();
                Some(Consent::parse(origin, &import.evidence, &refs).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        Ok(Prepared { options, consent, names })
    }

    /// Works through imports as they come, until `shutdown`.
    pub async fn work(self, wake: Arc<tokio::sync::Notify>, mut shutdown: watch::Receiver<bool>) {
        loop {
            loop {
                match self.store.claim_import(crate::now_ms(), LEASE_MS).await {
                    Ok(Some(import)) => {
                        self.run(import, |_| {}).await;
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot claim imports");
                        break;
                    }
                }
                if *shutdown.borrow() {
                    return;
                }
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = shutdown.changed() => return,
            }
            if *shutdown.borrow() {
                return;
            }
        }
    }
}

struct Prepared {
    options: ImportOptions,
    consent: Option<Consent>,
    names: Vec<String>,
}

/// Reads the file from where the import stands and sends batches.
fn read_file(import: Import, p: Prepared, policy: Arc<AddressPolicy>, batch_rows: usize, tx: mpsc::Sender<Message>) {
    let fail = |tx: &mpsc::Sender<Message>, m: String| {
        let _ = tx.blocking_send(Message::Failed(m));
    };
    let encoding = match p.options.encoding() {
        Ok(e) => e,
        Err(m) => return fail(&tx, m),
    };
    let delimiter = match p.options.delimiter() {
        Ok(d) => d,
        Err(m) => return fail(&tx, m),
    };
    let mut file = match std::fs::File::open(&import.file_path) {
        Ok(f) => f,
        Err(e) => return fail(&tx, format!("the uploaded file is gone ({e}); upload it again")),
    };
    let mut head = vec![0u8; 64 * 1024];
    let n = match read_up_to(&mut file, &mut head) {
        Ok(n) => n,
        Err(e) => return fail(&tx, FileError::Io(e.to_string()).to_string()),
    };
    let sniffed = match csvread::sniff(&head[..n], encoding, delimiter) {
        Ok(s) => s,
        Err(e) => return fail(&tx, e.to_string()),
    };
    if file.seek(SeekFrom::Start(sniffed.bom as u64)).is_err() {
        return fail(&tx, "cannot read the file".into());
    }
    let mut reader = RecordReader::new(std::io::BufReader::new(file), sniffed.delimiter, sniffed.bom as u64, 1);
    let header = match reader.next_row() {
        Ok(Some(Row::Fields(f))) => match rows::header(&f, sniffed.encoding, &p.options) {
            Ok(h) => h,
            Err(e) => return fail(&tx, e.to_string()),
        },
        Ok(Some(Row::TooLarge)) => return fail(&tx, FileError::HeaderTooLarge.to_string()),
        Ok(Some(Row::TooManyFields)) => return fail(&tx, FileError::TooManyColumns.to_string()),
        Ok(None) => return fail(&tx, FileError::Empty.to_string()),
        Err(e) => return fail(&tx, FileError::Io(e.to_string()).to_string()),
    };
    if p.consent.is_none() && header.origin.is_none() {
        return fail(&tx, "no consent origin: declare one for the file or name the origin column".into());
    }
    // Resuming: continue right after the last applied record.
    if import.byte_offset > 0 {
        let mut file = match std::fs::File::open(&import.file_path) {
            Ok(f) => f,
            Err(e) => return fail(&tx, format!("the uploaded file is gone ({e})")),
        };
        if file.seek(SeekFrom::Start(import.byte_offset as u64)).is_err() {
            return fail(&tx, "cannot resume reading the file".into());
        }
        reader = RecordReader::new(
            std::io::BufReader::new(file),
            sniffed.delimiter,
            import.byte_offset as u64,
            import.line as u64,
        );
    }
    let names: Vec<&str> = p.names.iter().map(String::as_str).collect();
    let ctx = RowContext {
        header: &header,
        encoding: sniffed.encoding,
        policy: &policy,
        consent: p.consent.as_ref(),
        account_names: &names,
    };
    let mut seen = HashSet::new();
    let mut batch = ImportBatch::default();
    loop {
        // The line the next record starts on (the row borrows the reader).
        let line = reader.next_line() as i64;
        let row = match reader.next_row() {
            Ok(r) => r,
            Err(e) => return fail(&tx, FileError::Io(e.to_string()).to_string()),
        };
        let Some(row) = row else { break };
        match row {
            Row::Fields(f) if f.is_blank() => {}
            Row::Fields(f) => match rows::prepare(&ctx, &f, line, &mut seen) {
                Ok(r) => batch.rows.push(r),
                Err((err, address)) => batch.rejections.push(rows::rejection(line, err, address)),
            },
            Row::TooLarge => batch.rejections.push(rows::rejection(line, RowError::TooLarge, String::new())),
            Row::TooManyFields => batch.rejections.push(rows::rejection(line, RowError::TooManyColumns, String::new())),
        }
        if batch.rows.len() + batch.rejections.len() >= batch_rows {
            batch.byte_offset = reader.offset() as i64;
            batch.line = reader.next_line() as i64;
            if tx.blocking_send(Message::Batch(std::mem::take(&mut batch))).is_err() {
                return;
            }
        }
    }
    batch.byte_offset = reader.offset() as i64;
    batch.line = reader.next_line() as i64;
    let _ = tx.blocking_send(Message::Batch(batch));
}

fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
