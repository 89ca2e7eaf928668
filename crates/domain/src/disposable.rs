//! Disposable (throwaway) email domains. An address that evaporates in ten
//! minutes cannot carry lasting consent, so sign-ups and imports refuse them
//! (PRODUCT.md rule 3). The built-in list is disposable-email-domains
//! (CC0), embedded at build time; operators may allow or add domains.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};

const BLOCKLIST: &str = include_str!("../data/disposable_email_blocklist.conf");

static BUILTIN: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| BLOCKLIST.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect());

/// The built-in list plus operator overrides. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct DisposableDomains {
    overrides: Arc<Overrides>,
}

#[derive(Clone, Debug, Default)]
struct Overrides {
    allow: HashSet<String>,
    deny: HashSet<String>,
}

/// Lower-case A-label form without a trailing dot, so that operator entries
/// and parsed addresses meet in one spelling.
fn normalize(domain: &str) -> String {
    let d = domain.trim();
    let d = d.strip_suffix('.').unwrap_or(d);
    match idna::domain_to_ascii(d) {
        Ok(ascii) => ascii.to_ascii_lowercase(),
        Err(_) => d.to_lowercase(),
    }
}

/// The domain itself, then each parent domain: a.b.c, b.c, c.
fn suffixes(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(Some(domain), |d| d.split_once('.').map(|(_, rest)| rest))
}

impl DisposableDomains {
    pub fn builtin() -> DisposableDomains {
        DisposableDomains::default()
    }

    /// Operator lists. Both beat the built-in list; between the two, the
    /// more specific entry wins and on a tie the allow list wins (the
    /// operator's explicit trust is the reason the allow list exists).
    pub fn with_overrides(
        mut self,
        allow: impl IntoIterator<Item = String>,
        deny: impl IntoIterator<Item = String>,
    ) -> Self {
        let o = Arc::make_mut(&mut self.overrides);
        o.allow.extend(allow.into_iter().map(|d| normalize(&d)).filter(|d| !d.is_empty()));
        o.deny.extend(deny.into_iter().map(|d| normalize(&d)).filter(|d| !d.is_empty()));
        self
    }

    /// Is the domain, or any parent of it, a disposable domain?
    /// Case-insensitive; a trailing dot is ignored.
    pub fn is_disposable(&self, domain: &str) -> bool {
        let domain = normalize(domain);
        if domain.is_empty() {
            return false;
        }
        let o = &self.overrides;
        for suffix in suffixes(&domain) {
            if o.allow.contains(suffix) {
                return false;
            }
            if o.deny.contains(suffix) {
                return true;
            }
        }
        suffixes(&domain).any(|s| BUILTIN.contains(s))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_list_is_loaded_and_clean() {
        assert!(BUILTIN.len() > 8000, "{}", BUILTIN.len());
        for d in BUILTIN.iter() {
            assert_eq!(*d, d.to_ascii_lowercase());
            assert!(d.contains('.'), "{d}");
        }
    }

    #[test]
    fn listed_domain_and_subdomains_match() {
        let d = DisposableDomains::builtin();
        assert!(d.is_disposable("mailinator.com"));
        assert!(d.is_disposable("MailInator.COM."));
        assert!(d.is_disposable("sub.mailinator.com"));
        assert!(d.is_disposable("a.b.mailinator.com"));
        assert!(!d.is_disposable("example.com"));
        assert!(!d.is_disposable("gmail.com"));
        // A suffix match is on label boundaries only.
        assert!(!d.is_disposable("xmailinator.com.example"));
        assert!(!d.is_disposable(""));
        assert!(!d.is_disposable("com"));
    }

    #[test]
    fn overrides() {
        let d = DisposableDomains::builtin().with_overrides(
            ["Mailinator.com.".to_owned(), "ok.trashmail.com".to_owned()],
            ["example.net".to_owned(), "bad.example.org".to_owned()],
        );
        assert!(!d.is_disposable("mailinator.com"));
        assert!(!d.is_disposable("x.mailinator.com"));
        assert!(!d.is_disposable("ok.trashmail.com"));
        assert!(d.is_disposable("trashmail.com"));
        assert!(d.is_disposable("example.net"));
        assert!(d.is_disposable("mx.example.net"));
        assert!(d.is_disposable("bad.example.org"));
        assert!(!d.is_disposable("example.org"));
        // The original is untouched.
        assert!(DisposableDomains::default().is_disposable("mailinator.com"));
    }

    #[test]
    fn more_specific_override_wins_and_ties_go_to_allow() {
        let d = DisposableDomains::builtin().with_overrides(
            ["example.com".to_owned(), "same.org".to_owned()],
            ["bad.example.com".to_owned(), "same.org".to_owned()],
        );
        assert!(!d.is_disposable("example.com"));
        assert!(d.is_disposable("bad.example.com"));
        assert!(!d.is_disposable("same.org"));
    }

    #[test]
    fn unicode_override_matches_a_label() {
        let d = DisposableDomains::builtin().with_overrides([], ["wegwerf-bücher.de".to_owned()]);
        let a_label = idna::domain_to_ascii("wegwerf-bücher.de").unwrap();
        assert!(a_label.starts_with("xn--"));
        assert!(d.is_disposable(&a_label));
        assert!(d.is_disposable("wegwerf-bücher.de"));
    }
}
