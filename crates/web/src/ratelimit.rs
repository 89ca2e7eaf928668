//! Fixed-window rate limits for public endpoints (per IP, per address).
//! In memory and per process: enough to keep bots and mail bombs out
//! without a third-party captcha.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    limit: u32,
    window: Duration,
    start: Instant,
    counts: Mutex<HashMap<String, (u64, u32)>>,
}

impl RateLimiter {
    /// `limit` events per `window`; 0 disables the limit.
    pub fn new(limit: u32, window: Duration) -> RateLimiter {
        RateLimiter { limit, window, start: Instant::now(), counts: Mutex::new(HashMap::new()) }
    }

    /// Counts one event for `key`; `false` when over the limit.
    pub fn allow(&self, key: &str) -> bool {
        if self.limit == 0 {
            return true;
        }
        let window = (self.start.elapsed().as_millis() / self.window.as_millis().max(1)) as u64;
        // A poisoned lock only means another request panicked mid-update;
        // the counters are still usable.
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.len() > 100_000 {
            counts.retain(|_, (w, _)| *w == window);
        }
        let entry = counts.entry(key.to_string()).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        entry.1 <= self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_key_and_window() {
        let l = RateLimiter::new(2, Duration::from_secs(3600));
        assert!(l.allow("a") && l.allow("a") && !l.allow("a"));
        assert!(l.allow("b"));
        let off = RateLimiter::new(0, Duration::from_secs(1));
        assert!((0..100).all(|_| off.allow("a")));
        let short = RateLimiter::new(1, Duration::from_millis(20));
        assert!(short.allow("a") && !short.allow("a"));
        std::thread::sleep(Duration::from_millis(45));
        assert!(short.allow("a"));
    }
}
