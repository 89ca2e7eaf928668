//! Sending rates: per destination domain (mailbox providers such as
//! gmail.com or yahoo.com throttle senders that go too fast), per account
//! and per campaign. Token buckets per key; a send waits for a token from
//! every bucket that applies. Limits are per worker process.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Messages per second; 0 means unlimited.
#[derive(Debug, Clone, Default)]
pub struct ThrottleConfig {
    pub per_domain: HashMap<String, f64>,
    /// For domains not listed in `per_domain`.
    pub default_domain: f64,
    pub per_account: f64,
    pub per_campaign: f64,
}

impl ThrottleConfig {
    /// Parses `gmail.com=50,yahoo.com=20` (messages per second).
    pub fn parse_domains(s: &str) -> Result<HashMap<String, f64>, String> {
        let mut out = HashMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (domain, rate) =
                part.split_once('=').ok_or_else(|| format!("{part:?}: use domain=messages_per_second"))?;
            let rate: f64 = rate.trim().parse().map_err(|_| format!("{part:?}: the rate must be a number"))?;
            if !(rate >= 0.0 && rate.is_finite()) {
                return Err(format!("{part:?}: the rate must not be negative"));
            }
            out.insert(domain.trim().to_ascii_lowercase(), rate);
        }
        Ok(out)
    }
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

pub struct Throttles {
    config: ThrottleConfig,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Throttles {
    pub fn new(config: ThrottleConfig) -> Throttles {
        Throttles { config, buckets: Mutex::new(HashMap::new()) }
    }

    fn rates(&self, account: i64, campaign: i64, domain: &str) -> Vec<(String, f64)> {
        let domain = domain.to_ascii_lowercase();
        let domain_rate = self.config.per_domain.get(&domain).copied().unwrap_or(self.config.default_domain);
        [
            (format!("d:{domain}"), domain_rate),
            (format!("a:{account}"), self.config.per_account),
            (format!("c:{campaign}"), self.config.per_campaign),
        ]
        .into_iter()
        .filter(|(_, r)| *r > 0.0)
        .collect()
    }

    /// Takes a token from each bucket, or says how long to wait first.
    fn try_take(&self, keys: &[(String, f64)]) -> Option<Duration> {
        let now = Instant::now();
        // A poisoned lock means another send panicked mid-update; the
        // buckets are still usable.
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for (key, rate) in keys {
            // A burst of up to one second's worth.
            let b = buckets.entry(key.clone()).or_insert(Bucket { tokens: rate.max(1.0), last: now });
            b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * rate).min(rate.max(1.0));
            b.last = now;
            if b.tokens < 1.0 {
                wait = wait.max(Duration::from_secs_f64((1.0 - b.tokens) / rate));
            }
        }
        if wait > Duration::ZERO {
            return Some(wait);
        }
        for (key, _) in keys {
            if let Some(b) = buckets.get_mut(key) {
                b.tokens -= 1.0;
            }
        }
        None
    }

    /// Waits until this message may go.
    pub async fn acquire(&self, account: i64, campaign: i64, domain: &str) {
        let keys = self.rates(account, campaign, domain);
        if keys.is_empty() {
            return;
        }
        while let Some(wait) = self.try_take(&keys) {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn domains_are_limited_separately() {
        let mut per_domain = HashMap::new();
        per_domain.insert("gmail.com".to_string(), 10.0);
        let t = Throttles::new(ThrottleConfig { per_domain, ..ThrottleConfig::default() });
        let start = tokio::time::Instant::now();
        for _ in 0..30 {
            t.acquire(1, 1, "GMAIL.com").await;
        }
        let gmail = start.elapsed();
        // A burst of 10, then 10 per second: about two seconds for 30.
        assert!(gmail >= Duration::from_millis(1900) && gmail <= Duration::from_millis(2200), "{gmail:?}");
        let start = tokio::time::Instant::now();
        for _ in 0..1000 {
            t.acquire(1, 1, "example.org").await;
        }
        assert!(start.elapsed() < Duration::from_millis(10), "unlisted domains are unlimited by default");
        assert_eq!(ThrottleConfig::parse_domains("gmail.com=50, yahoo.com=2.5").map(|m| m.len()), Ok(2));
        assert!(ThrottleConfig::parse_domains("gmail.com").is_err());
        assert!(ThrottleConfig::parse_domains("gmail.com=-1").is_err());
    }
}
