//! Periodic clean-up: sign-ups never confirmed are deleted after a
//! configurable period (default 7 days), so no personal data of people who
//! did not agree stays behind.

use std::sync::Arc;
use std::time::Duration;

use assent_store::Store;
use tokio::sync::watch;

/// Runs the clean-up every `every` until `shutdown` turns true.
pub async fn run(
    store: Arc<dyn Store>,
    unconfirmed_ttl: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let cutoff = crate::now_ms() - i64::try_from(unconfirmed_ttl.as_millis()).unwrap_or(i64::MAX);
        match store.purge_unconfirmed(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "deleted unconfirmed sign-ups"),
            Err(e) => tracing::warn!(error = %e, "housekeeping failed; will retry"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
    }
}
