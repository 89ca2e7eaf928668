//! An import interrupted half-way (its task killed, as by a crash) resumes
//! from the last applied batch: every row ends up applied exactly once.

use std::sync::Arc;

use assent_domain::{AccountStatus, AddressPolicy, EmailAddress, ListId};
use assent_engine::import::{ImportConfig, ImportOptions, Importer, Upload, check};
use assent_store::{NewAuditEntry, Store};
use assent_test_support::TempDb;

async fn store_with_list() -> (TempDb, Arc<dyn Store>, assent_domain::AccountId, ListId) {
    let db = TempDb::new();
    let store = assent_store::connect(&db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    let (account, _) =
        store.create_account("Alpha", &EmailAddress::parse("o@alpha.example").expect("addr")).await.expect("account");
    let audit = NewAuditEntry {
        account: Some(account.id),
        actor: "test".into(),
        action: "x".into(),
        target: String::new(),
        detail: serde_json::json!({}),
        ip: None,
    };
    store
        .transition_account(account.id, AccountStatus::PendingAudit, AccountStatus::Active, None, &audit)
        .await
        .expect("activate");
    let list = store.create_list(account.id, "L", "").await.expect("list");
    (db, store, account.id, list.id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_import_resumes_without_duplicates_or_gaps() {
    let (_db, store, account, list) = store_with_list().await;
    let path = std::env::temp_dir().join(assent_test_support::unique_name("resume")).with_extension("csv");
    let mut csv = String::from("email,n\r\n");
    for i in 0..20_000 {
        csv.push_str(&format!("person{i}@example.org,\"row\r\n{i}\"\r\n"));
    }
    std::fs::write(&path, &csv).expect("write csv");
    let config =
        ImportConfig { batch_rows: 500, review_account_age: std::time::Duration::ZERO, ..ImportConfig::default() };
    let new = check(
        store.as_ref(),
        &config,
        Upload {
            account,
            list,
            origin: Some("offline_form"),
            evidence: serde_json::json!({"document_ref": "d"}),
            options: ImportOptions::default(),
            path: &path,
            file_name: "resume.csv".into(),
            created_by: "test".into(),
            ip: None,
        },
    )
    .await
    .expect("valid upload");
    store.create_import(account, &new).await.expect("create");
    let importer =
        Arc::new(Importer { store: store.clone(), policy: Arc::new(AddressPolicy::default()), config: config.clone() });

    // Kill the first run after a few batches.
    let import = store.claim_import(assent_engine::now_ms(), 60_000).await.expect("claim").expect("an import");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let first = {
        let importer = importer.clone();
        tokio::spawn(async move {
            importer
                .run(import, move |p| {
                    let _ = tx.send(p.rows_done);
                })
                .await
        })
    };
    while let Some(done) = rx.recv().await {
        if done >= 3_000 {
            break;
        }
    }
    first.abort();
    let _ = first.await;
    let halfway = store.list_imports(account, 1).await.expect("imports")[0].clone();
    assert!(!halfway.processed && halfway.rows_done >= 3_000 && halfway.rows_done < 20_000, "{halfway:?}");

    // Its lease runs out; a worker picks it up again and finishes it.
    store.renew_import_lease(halfway.id, 0).await.expect("expire lease");
    let again = store.claim_import(assent_engine::now_ms(), 60_000).await.expect("claim").expect("resumable");
    assert_eq!(again.id, halfway.id);
    let done = importer.run(again, |_| {}).await;
    assert_eq!(done.status, "completed", "{done:?}");
    assert_eq!((done.rows_done, done.imported, done.rejected), (20_000, 20_000, 0), "{done:?}");
    let contacts = store.list_contacts(account, None, 100_000).await.expect("contacts");
    assert_eq!(contacts.len(), 20_000);
    // The multi-line field survived the resume boundary.
    let last = contacts.iter().find(|c| c.email == "person19999@example.org").expect("last row");
    assert_eq!(last.attributes["n"], "row\r\n19999");
    let _ = std::fs::remove_file(&path);
}
