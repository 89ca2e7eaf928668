//! DNS verification of sender domains. This module owns looking up the
//! records Assent asks a customer to publish for a sending domain (DKIM
//! keys, SPF, DMARC, the bounce MX, CNAMEs) and deciding whether what is
//! published matches, with a problem text that tells the customer what to
//! fix. It does not generate keys or decide which records a domain needs;
//! the caller hands in the [`ExpectedRecord`]s.
//!
//! Lookups go through hickory's stub resolver over plain UDP (TCP when a
//! reply is truncated) to one configured nameserver (`--dns-resolver
//! host:port`) or to the system's (`/etc/resolv.conf`). Caching is off so a
//! customer who fixes a record sees the fix on the next check; every lookup
//! has a deadline so a dead resolver never hangs a request.
//!
//! Rules followed:
//! * RFC 1035 (names, TXT character-strings, MX, CNAME; `found` shows TXT
//!   records with their character-strings concatenated).
//! * RFC 6376 §3.6 (DKIM key records: tag=value list, `v=DKIM1` first if
//!   present, `k` defaults to `rsa`, whitespace in `p` ignored, one record
//!   per selector, §3.6.2.2).
//! * RFC 7208 §4.5 (exactly one record starting `v=spf1`; mechanisms are
//!   compared textually), §5.2 and §6.1 (a mechanism may come in through
//!   `include:` or `redirect=`: those are followed, at most 10 lookups as
//!   §4.6.4 allows, macros not expanded) and §5.1 (`+all`/`all` lets anyone
//!   send, so a record ending in it is refused).
//! * RFC 7489 §6.3, §6.6.3 (exactly one record starting `v=DMARC1` at
//!   `_dmarc.<domain>`, `p` of none, quarantine or reject). The caller
//!   picks the name; where nothing is published there, the record of a
//!   parent domain applies to its subdomains (§6.6.3's organizational
//!   domain, found by walking up the tree as DMARCbis does instead of with
//!   a public suffix list; its `sp` policy, if any, must be valid too).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError as HickoryDnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use serde::Serialize;
use thiserror::Error;

/// How long one lookup may take unless configured otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest lookup deadline accepted; verification runs inside an HTTP request.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a [`DnsChecker`] could not be made.
#[derive(Debug, Error)]
pub enum DnsError {
    /// `/etc/resolv.conf` is missing, unreadable or lists no nameserver.
    #[error(
        "cannot use the system's DNS configuration (/etc/resolv.conf): {0}; \
         fix that file or start Assent with --dns-resolver host:port"
    )]
    SystemConfig(String),
    /// The resolver library refused the configuration.
    #[error("cannot set up the DNS resolver for {resolver}: {reason}; check --dns-resolver host:port")]
    Setup { resolver: String, reason: String },
    /// A zero or absurdly long lookup deadline.
    #[error("DNS lookup timeout {0:?} is out of range; use between 1 ms and 60 s")]
    InvalidTimeout(Duration),
}

/// The DNS record type of an expected record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecordKind {
    Txt,
    Mx,
    Cname,
}

impl RecordKind {
    fn as_str(self) -> &'static str {
        match self {
            RecordKind::Txt => "TXT",
            RecordKind::Mx => "MX",
            RecordKind::Cname => "CNAME",
        }
    }

    fn record_type(self) -> RecordType {
        match self {
            RecordKind::Txt => RecordType::TXT,
            RecordKind::Mx => RecordType::MX,
            RecordKind::Cname => RecordType::CNAME,
        }
    }
}

/// A record the customer has to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedRecord {
    #[serde(rename = "type")]
    pub kind: RecordKind,
    /// Fully qualified, no trailing dot, e.g. `assent1._domainkey.example.com`.
    pub name: String,
    /// What to publish: the TXT text; for MX `"PRIORITY HOST"`; the CNAME
    /// target. For `spf` either one mechanism (`include:spf.assent.example`)
    /// or a whole record (`v=spf1 include:spf.assent.example ~all`, whose
    /// mechanisms other than `all` must then all be present).
    pub value: String,
    /// `dkim_rsa`, `dkim_ed25519`, `spf`, `dmarc`, `bounce_mx`; any other
    /// purpose is compared literally (TXT: one record equals the value).
    pub purpose: &'static str,
}

/// The outcome of checking one [`ExpectedRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordCheck {
    pub purpose: &'static str,
    pub name: String,
    pub ok: bool,
    /// What is published at the name: TXT texts (character-strings
    /// concatenated), MX as `"PRIORITY HOST"`, the CNAME target. A DMARC
    /// record inherited from a parent domain is shown as
    /// `"_dmarc.<parent>: <record>"`.
    pub found: Vec<String>,
    /// What is wrong and what to publish instead; `None` when `ok`.
    pub problem: Option<String>,
}

/// Looks records up and compares them with what is expected.
#[derive(Clone)]
pub struct DnsChecker {
    resolver: Arc<TokioResolver>,
    timeout: Duration,
    description: String,
}

impl std::fmt::Debug for DnsChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsChecker").field("resolver", &self.description).field("timeout", &self.timeout).finish()
    }
}

impl DnsChecker {
    /// `resolver`: a nameserver address (UDP+TCP on that address), or None
    /// for the system's (/etc/resolv.conf). Lookups time out after
    /// [`DEFAULT_TIMEOUT`].
    pub fn new(resolver: Option<SocketAddr>) -> Result<DnsChecker, DnsError> {
        DnsChecker::with_timeout(resolver, DEFAULT_TIMEOUT)
    }

    /// Like [`DnsChecker::new`] with a deadline per lookup.
    pub fn with_timeout(resolver: Option<SocketAddr>, timeout: Duration) -> Result<DnsChecker, DnsError> {
        check_timeout(timeout)?;
        match resolver {
            Some(addr) => {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
                let config = ResolverConfig::from_name_servers(vec![server]);
                DnsChecker::build(config, ResolverOpts::default(), timeout, addr.to_string())
            }
            None => DnsChecker::system(timeout),
        }
    }

    /// A checker configured from the text of a `resolv.conf` file, for
    /// tests and for systems that keep it elsewhere.
    #[cfg(all(unix, not(any(target_os = "android", target_vendor = "apple"))))]
    pub fn from_resolv_conf(contents: &[u8], timeout: Duration) -> Result<DnsChecker, DnsError> {
        check_timeout(timeout)?;
        let (config, opts) = hickory_resolver::system_conf::parse_resolv_conf(contents)
            .map_err(|e| DnsError::SystemConfig(e.to_string()))?;
        DnsChecker::build(config, opts, timeout, "resolv.conf".into())
    }

    #[cfg(any(unix, windows))]
    fn system(timeout: Duration) -> Result<DnsChecker, DnsError> {
        let (config, opts) =
            hickory_resolver::system_conf::read_system_conf().map_err(|e| DnsError::SystemConfig(e.to_string()))?;
        DnsChecker::build(config, opts, timeout, "the system resolver".into())
    }

    #[cfg(not(any(unix, windows)))]
    fn system(_timeout: Duration) -> Result<DnsChecker, DnsError> {
        Err(DnsError::SystemConfig("this platform has no system resolver configuration".into()))
    }

    fn build(
        config: ResolverConfig,
        mut opts: ResolverOpts,
        timeout: Duration,
        description: String,
    ) -> Result<DnsChecker, DnsError> {
        if config.name_servers().is_empty() {
            return Err(DnsError::Setup { resolver: description, reason: "no nameserver configured".into() });
        }
        opts.timeout = timeout;
        opts.attempts = 1;
        // No caching: a customer fixing a record must see the fix at once.
        opts.cache_size = 0;
        opts.positive_max_ttl = Some(Duration::ZERO);
        opts.negative_max_ttl = Some(Duration::ZERO);
        opts.use_hosts_file = ResolveHosts::Never;
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(opts)
            .build()
            .map_err(|e| DnsError::Setup { resolver: description.clone(), reason: e.to_string() })?;
        Ok(DnsChecker { resolver: Arc::new(resolver), timeout, description })
    }

    /// The lookup deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Looks every expected record up (concurrently) and says whether it
    /// matches, in the order given.
    pub async fn check(&self, expected: &[ExpectedRecord]) -> Vec<RecordCheck> {
        let handles: Vec<_> = expected
            .iter()
            .cloned()
            .map(|record| {
                let resolver = self.resolver.clone();
                let timeout = self.timeout;
                tokio::spawn(async move { check_one(&resolver, &record, timeout).await })
            })
            .collect();
        let mut checks = Vec::with_capacity(handles.len());
        for (handle, record) in handles.into_iter().zip(expected) {
            checks.push(match handle.await {
                Ok(check) => check,
                Err(e) => RecordCheck {
                    purpose: record.purpose,
                    name: record.name.clone(),
                    ok: false,
                    found: Vec::new(),
                    problem: Some(format!("the lookup of {} was interrupted ({e}); try again", record.name)),
                },
            });
        }
        checks
    }
}

fn check_timeout(timeout: Duration) -> Result<(), DnsError> {
    if timeout < Duration::from_millis(1) || timeout > MAX_TIMEOUT {
        return Err(DnsError::InvalidTimeout(timeout));
    }
    Ok(())
}

/// What one lookup produced.
#[derive(Debug)]
enum Answer {
    /// Records of the asked type (possibly after following a CNAME).
    Records(Vec<String>),
    /// NXDOMAIN or no record of that type.
    Missing,
    /// Timeout, SERVFAIL, network trouble, invalid name.
    Failed(String),
}

async fn lookup(resolver: &TokioResolver, name: &str, kind: RecordKind, timeout: Duration) -> Answer {
    let fqdn = if name.ends_with('.') { name.to_string() } else { format!("{name}.") };
    let parsed = match Name::from_utf8(&fqdn) {
        Ok(n) => n,
        Err(e) => return Answer::Failed(format!("{name} is not a valid DNS name ({e})")),
    };
    let wanted = kind.record_type();
    let result = match tokio::time::timeout(timeout, resolver.lookup(parsed, wanted)).await {
        Ok(r) => r,
        Err(_) => return Answer::Failed(no_answer(timeout)),
    };
    match result {
        Ok(found) => {
            let records: Vec<String> = found
                .answers()
                .iter()
                .filter(|r| r.record_type() == wanted)
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => {
                        let bytes: Vec<u8> = txt.txt_data.iter().flat_map(|s| s.iter().copied()).collect();
                        Some(String::from_utf8_lossy(&bytes).into_owned())
                    }
                    RData::MX(mx) => Some(format!("{} {}", mx.preference, host_of(&mx.exchange))),
                    RData::CNAME(cname) => Some(host_of(&cname.0)),
                    _ => None,
                })
                .collect();
            if records.is_empty() { Answer::Missing } else { Answer::Records(records) }
        }
        Err(e) if e.is_nx_domain() || e.is_no_records_found() => Answer::Missing,
        Err(NetError::Timeout) => Answer::Failed(no_answer(timeout)),
        Err(NetError::Dns(HickoryDnsError::ResponseCode(code))) => Answer::Failed(response_code(code)),
        Err(e) => Answer::Failed(format!("the lookup failed ({e})")),
    }
}

fn no_answer(timeout: Duration) -> String {
    format!("the DNS server did not answer within {} ms", timeout.as_millis())
}

fn response_code(code: ResponseCode) -> String {
    format!("the DNS server answered {code}")
}

/// A host name as shown to users: no trailing dot, lower case.
fn host_of(name: &Name) -> String {
    normalize_host(&name.to_ascii())
}

fn normalize_host(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

async fn check_one(resolver: &TokioResolver, record: &ExpectedRecord, timeout: Duration) -> RecordCheck {
    let answer = lookup(resolver, &record.name, record.kind, timeout).await;
    let mut found = match &answer {
        Answer::Records(r) => r.clone(),
        _ => Vec::new(),
    };
    let mut problem = match answer {
        Answer::Failed(reason) => Some(format!(
            "could not look up the {} record at {}: {reason}; try again in a few minutes",
            record.kind.as_str(),
            record.name
        )),
        Answer::Missing => Some(missing(record)),
        Answer::Records(found) => judge(record, &found),
    };
    if problem.is_some() && record.kind == RecordKind::Txt {
        if record.purpose == "spf" {
            // What the record lacks may come in through its includes.
            let spf: Vec<&String> = found.iter().filter(|t| is_spf_record(t)).collect();
            if let [one] = spf.as_slice()
                && spf_problem(one, &[]).is_none()
                && spf_reaches(resolver, one, &spf_mechanisms(&record.value), timeout).await
            {
                problem = None;
            }
        } else if record.purpose == "dmarc" && !found.iter().any(|t| is_dmarc_record(t)) {
            // Nothing at the name: a parent domain's record covers it.
            if let Some((name, text)) = inherited_dmarc(resolver, &record.name, timeout).await {
                found = vec![format!("{name}: {text}")];
                problem = None;
            }
        }
    }
    RecordCheck { purpose: record.purpose, name: record.name.clone(), ok: problem.is_none(), found, problem }
}

/// The most DNS lookups an SPF evaluation may cause (RFC 7208 §4.6.4).
const SPF_LOOKUP_LIMIT: usize = 10;

/// Whether every mechanism is in `record` or in a record it includes (pass
/// qualifier) or redirects to, following at most [`SPF_LOOKUP_LIMIT`]
/// lookups; an include without exactly one SPF record, with a macro or
/// that loops is not followed.
async fn spf_reaches(resolver: &TokioResolver, record: &str, mechanisms: &[String], timeout: Duration) -> bool {
    let has = |record: &str, m: &str| has_term(record.split_ascii_whitespace().skip(1), m);
    let mut absent: Vec<&String> = mechanisms.iter().filter(|m| !has(record, m)).collect();
    let mut queue: std::collections::VecDeque<String> = spf_targets(record).into();
    let mut seen = std::collections::HashSet::new();
    let mut lookups = 0;
    let budget = Budget::new(timeout);
    while !absent.is_empty()
        && let Some(domain) = queue.pop_front()
    {
        if !seen.insert(domain.clone()) {
            continue;
        }
        lookups += 1;
        let Some(left) = budget.left().filter(|_| lookups <= SPF_LOOKUP_LIMIT) else { break };
        let Answer::Records(texts) = lookup(resolver, &domain, RecordKind::Txt, left).await else { continue };
        let spf: Vec<&String> = texts.iter().filter(|t| is_spf_record(t)).collect();
        let [included] = spf.as_slice() else { continue };
        absent.retain(|m| !has(included, m));
        queue.extend(spf_targets(included));
    }
    absent.is_empty()
}

/// One lookup deadline shared by the lookups of a walk (SPF includes,
/// DMARC parents), so a slow or hostile chain of names costs one timeout,
/// not one per name, inside the verification request.
struct Budget(tokio::time::Instant);

impl Budget {
    fn new(timeout: Duration) -> Budget {
        Budget(tokio::time::Instant::now() + timeout)
    }

    /// The time left, `None` once it is spent.
    fn left(&self) -> Option<Duration> {
        Some(self.0.saturating_duration_since(tokio::time::Instant::now())).filter(|d| !d.is_zero())
    }
}

/// The domains an SPF record passes on to: `include:` mechanisms with the
/// pass qualifier, and `redirect=` when the record has no `all` (RFC 7208
/// §6.1). Targets with macros (`%{…}`) are left out: they depend on the
/// message.
fn spf_targets(record: &str) -> Vec<String> {
    let terms: Vec<&str> = record.split_ascii_whitespace().skip(1).collect();
    let has_all = terms.iter().any(|t| is_all(t));
    let mut out = Vec::new();
    for t in terms {
        let lower = unqualified(t).to_ascii_lowercase();
        let target = match lower.split_once([':', '=']) {
            Some(("include", d)) => d,
            Some(("redirect", d)) if !has_all => d,
            _ => continue,
        };
        if !target.is_empty() && !target.contains('%') {
            out.push(normalize_host(target));
        }
    }
    out
}

/// Parents of a domain a DMARC record may be inherited from, nearest
/// first: the tree walk of DMARCbis, at most 7 of them, never a top-level
/// domain alone.
fn dmarc_parents(name: &str) -> Vec<String> {
    let domain = normalize_host(name.strip_prefix("_dmarc.").unwrap_or(name));
    let labels: Vec<&str> = domain.split('.').collect();
    (1..labels.len().saturating_sub(1)).take(7).map(|skip| labels[skip..].join(".")).collect()
}

/// The nearest parent's usable DMARC record, as (`_dmarc.<parent>`, text).
async fn inherited_dmarc(resolver: &TokioResolver, name: &str, timeout: Duration) -> Option<(String, String)> {
    let budget = Budget::new(timeout);
    for parent in dmarc_parents(name) {
        let at = format!("_dmarc.{parent}");
        let left = budget.left()?;
        let Answer::Records(texts) = lookup(resolver, &at, RecordKind::Txt, left).await else { continue };
        let dmarc: Vec<&String> = texts.iter().filter(|t| is_dmarc_record(t)).collect();
        // The nearest record decides, usable or not.
        return match dmarc.as_slice() {
            [one] if dmarc_problem(one).is_none() && subdomain_policy_ok(one) => Some((at, (*one).clone())),
            [] => continue,
            _ => None,
        };
    }
    None
}

/// A parent's `sp` (its policy for subdomains), when given, is a policy.
fn subdomain_policy_ok(record: &str) -> bool {
    let Some(tags) = tag_list(record) else { return false };
    tag(&tags, "sp").is_none_or(is_dmarc_policy)
}

/// What to tell a customer who has published nothing at the name.
fn missing(record: &ExpectedRecord) -> String {
    format!("no {} record at {}: publish {}", record.kind.as_str(), record.name, publish_text(record))
}

/// The record text to publish, as shown in problems.
fn publish_text(record: &ExpectedRecord) -> String {
    match (record.kind, record.purpose) {
        (RecordKind::Txt, "spf") => spf_suggestion(None, &spf_mechanisms(&record.value)),
        (RecordKind::Mx, _) => format!("{} MX {}", record.name, record.value.trim()),
        (RecordKind::Cname, _) => format!("{} CNAME {}", record.name, record.value.trim()),
        (RecordKind::Txt, _) => record.value.clone(),
    }
}

/// `None` when the found records satisfy the expected one, else the problem.
fn judge(record: &ExpectedRecord, found: &[String]) -> Option<String> {
    let name = &record.name;
    match record.kind {
        RecordKind::Txt if record.purpose.starts_with("dkim") => {
            if found.len() > 1 {
                return Some(format!(
                    "more than one TXT record at {name}; a DKIM selector must have exactly one \
                     (RFC 6376 §3.6.2.2): keep only {}",
                    record.value
                ));
            }
            let Some(first) = found.first() else {
                return Some(missing(record));
            };
            let reason = dkim_problem(first, &record.value)?;
            Some(format!("the DKIM record at {name} {reason}; replace it with {}", record.value))
        }
        RecordKind::Txt if record.purpose == "spf" => {
            let mechanisms = spf_mechanisms(&record.value);
            let spf: Vec<&String> = found.iter().filter(|t| is_spf_record(t)).collect();
            match spf.as_slice() {
                [] => Some(format!(
                    "no SPF record (a TXT record starting with v=spf1) at {name}: publish {}",
                    spf_suggestion(None, &mechanisms)
                )),
                [one] => {
                    let reason = spf_problem(one, &mechanisms)?;
                    Some(format!(
                        "the SPF record at {name} {reason}; publish instead: {}",
                        spf_suggestion(Some(one), &mechanisms)
                    ))
                }
                _ => Some(format!(
                    "more than one SPF record (RFC 7208 §4.5) at {name}, so receivers treat SPF as broken: \
                     merge them into one record that includes {}",
                    mechanisms.join(" ")
                )),
            }
        }
        RecordKind::Txt if record.purpose == "dmarc" => {
            let dmarc: Vec<&String> = found.iter().filter(|t| is_dmarc_record(t)).collect();
            match dmarc.as_slice() {
                [] => Some(format!(
                    "no DMARC record (a TXT record starting with v=DMARC1) at {name}: publish {}",
                    record.value
                )),
                [one] => {
                    let reason = dmarc_problem(one)?;
                    Some(format!("the DMARC record at {name} {reason}; publish for example {}", record.value))
                }
                _ => Some(format!(
                    "more than one DMARC record (RFC 7489 §6.6.3) at {name}, so receivers ignore DMARC: \
                     keep only one, for example {}",
                    record.value
                )),
            }
        }
        RecordKind::Txt => {
            if found.iter().any(|t| t.trim() == record.value.trim()) {
                None
            } else {
                Some(format!("the TXT record at {name} differs: publish {}", record.value))
            }
        }
        RecordKind::Mx => {
            let (_, host) = parse_mx_value(&record.value);
            let hosts: Vec<String> = found.iter().map(|f| parse_mx_value(f).1).collect();
            if hosts.iter().any(|h| same_host(h, &host)) {
                None
            } else {
                Some(format!(
                    "the MX records at {name} ({}) do not include {host}: add {}",
                    found.join(", "),
                    publish_text(record)
                ))
            }
        }
        RecordKind::Cname => {
            let target = found.first().map(String::as_str).unwrap_or_default();
            if same_host(target, &record.value) {
                None
            } else {
                Some(format!(
                    "the CNAME at {name} points to {target}, not {}: change it to {}",
                    normalize_host(&record.value),
                    publish_text(record)
                ))
            }
        }
    }
}

/// Splits a tag=value list (RFC 6376 §3.2, also used by DMARC): `;`
/// separated, whitespace around tags and values ignored. `None` when a
/// part has no `=` or a tag repeats.
pub fn tag_list(text: &str) -> Option<Vec<(String, String)>> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for part in text.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (tag, value) = part.split_once('=')?;
        let tag = tag.trim();
        if tag.is_empty() || tags.iter().any(|(t, _)| t == tag) {
            return None;
        }
        tags.push((tag.to_string(), value.trim().to_string()));
    }
    Some(tags)
}

fn tag<'a>(tags: &'a [(String, String)], name: &str) -> Option<&'a str> {
    tags.iter().find(|(t, _)| t == name).map(|(_, v)| v.as_str())
}

fn without_whitespace(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Whether a published DKIM key record (character-strings concatenated)
/// carries the expected key: `v=DKIM1` if present, equal `k` (default
/// `rsa`) and equal `p` (whitespace ignored).
pub fn dkim_matches(found: &str, expected: &str) -> bool {
    dkim_problem(found, expected).is_none()
}

/// Why a DKIM key record does not carry the expected key (`None` when it does).
pub fn dkim_problem(found: &str, expected: &str) -> Option<String> {
    let quotes = if found.contains('"') {
        " (it contains quote characters: enter the value without quotes, or as separate quoted strings)"
    } else {
        ""
    };
    let Some(tags) = tag_list(found) else {
        return Some(format!("is not a valid tag=value list{quotes}"));
    };
    let want = tag_list(expected).unwrap_or_default();
    if let Some(v) = tag(&tags, "v") {
        if v != "DKIM1" {
            return Some(format!("has v={v} instead of v=DKIM1"));
        }
        if tags.first().is_some_and(|(t, _)| t != "v") {
            return Some("has v=DKIM1 but not as its first tag (RFC 6376 §3.6.1)".into());
        }
    }
    let found_k = tag(&tags, "k").unwrap_or("rsa");
    let want_k = tag(&want, "k").unwrap_or("rsa");
    if !found_k.eq_ignore_ascii_case(want_k) {
        return Some(format!("has key type k={found_k} instead of k={want_k}"));
    }
    let Some(found_p) = tag(&tags, "p").map(without_whitespace) else {
        return Some("has no public key (p=)".into());
    };
    if found_p.is_empty() {
        return Some("has an empty p=, which means the key is revoked".into());
    }
    let want_p = tag(&want, "p").map(without_whitespace).unwrap_or_default();
    if found_p != want_p {
        return Some(format!("has a different public key (p=) than the one Assent generated{quotes}"));
    }
    None
}

/// Whether a TXT text is an SPF record: starts with `v=spf1` followed by
/// a space or the end (RFC 7208 §4.5, case-insensitive).
pub fn is_spf_record(txt: &str) -> bool {
    let b = txt.as_bytes();
    b.len() >= 6 && b[..6].eq_ignore_ascii_case(b"v=spf1") && (b.len() == 6 || b[6] == b' ')
}

/// The mechanisms an expected SPF value asks for: the value itself when
/// it is one mechanism, the terms other than `all` when it is a record.
fn spf_mechanisms(expected: &str) -> Vec<String> {
    let expected = expected.trim();
    if is_spf_record(expected) {
        expected.split_ascii_whitespace().skip(1).filter(|t| !is_all(t)).map(str::to_string).collect()
    } else {
        vec![expected.to_string()]
    }
}

fn is_all(term: &str) -> bool {
    term.trim_start_matches(['+', '-', '~', '?']).eq_ignore_ascii_case("all")
}

/// The term with an explicit `+` (pass) qualifier dropped.
fn unqualified(term: &str) -> &str {
    term.strip_prefix('+').unwrap_or(term)
}

/// Whether one SPF record contains the mechanism (case-insensitive, `+`
/// qualifier optional) and does not end in `+all`.
pub fn spf_matches(found: &str, expected_mechanism: &str) -> bool {
    spf_problem(found, &spf_mechanisms(expected_mechanism)).is_none()
}

fn spf_problem(found: &str, mechanisms: &[String]) -> Option<String> {
    if !is_spf_record(found) {
        return Some("does not start with v=spf1".into());
    }
    let terms: Vec<&str> = found.split_ascii_whitespace().skip(1).collect();
    let absent: Vec<&str> =
        mechanisms.iter().map(String::as_str).filter(|m| !has_term(terms.iter().copied(), m)).collect();
    if !absent.is_empty() {
        return Some(format!("does not contain {}", absent.join(" ")));
    }
    if terms.last().is_some_and(|t| unqualified(t).eq_ignore_ascii_case("all")) {
        return Some("ends in +all, which lets anyone send mail as your domain; end it with ~all or -all".into());
    }
    None
}

/// Whether one of the SPF terms is the mechanism (case-insensitive, `+`
/// qualifier optional on either side).
fn has_term<'a>(mut terms: impl Iterator<Item = &'a str>, mechanism: &str) -> bool {
    terms.any(|t| unqualified(t).eq_ignore_ascii_case(unqualified(mechanism)))
}

/// An SPF record that keeps what `current` has and adds the missing
/// mechanisms, ending in `~all` unless it already ends in `-all`/`~all`.
fn spf_suggestion(current: Option<&str>, mechanisms: &[String]) -> String {
    let mut terms: Vec<String> =
        current.map(|c| c.split_ascii_whitespace().skip(1).map(str::to_string).collect()).unwrap_or_default();
    let all = match terms.last() {
        Some(t) if is_all(t) && !unqualified(t).eq_ignore_ascii_case("all") => terms.pop(),
        Some(t) if is_all(t) => {
            terms.pop();
            Some("~all".to_string())
        }
        _ => Some("~all".to_string()),
    };
    for m in mechanisms {
        if !has_term(terms.iter().map(String::as_str), m) {
            terms.push(m.clone());
        }
    }
    terms.extend(all);
    format!("v=spf1 {}", terms.join(" "))
}

/// Whether a TXT text is a DMARC record: its first tag is `v=DMARC1`
/// (RFC 7489 §6.6.3: other records are discarded).
pub fn is_dmarc_record(txt: &str) -> bool {
    txt.split(';')
        .next()
        .and_then(|first| first.split_once('='))
        .is_some_and(|(t, v)| t.trim() == "v" && v.trim() == "DMARC1")
}

/// Whether a DMARC record is usable: `v=DMARC1` first and `p` one of
/// none, quarantine, reject ("at least p=none").
pub fn dmarc_matches(found: &str) -> bool {
    dmarc_problem(found).is_none()
}

/// `none`, `quarantine` or `reject`: the DMARC policies (RFC 7489 §6.3).
fn is_dmarc_policy(p: &str) -> bool {
    ["none", "quarantine", "reject"].iter().any(|ok| p.eq_ignore_ascii_case(ok))
}

fn dmarc_problem(found: &str) -> Option<String> {
    if !is_dmarc_record(found) {
        return Some("does not start with v=DMARC1".into());
    }
    let Some(tags) = tag_list(found) else {
        return Some("is not a valid tag=value list".into());
    };
    match tag(&tags, "p") {
        None => Some("has no policy (p=); add p=none, p=quarantine or p=reject".into()),
        Some(p) if is_dmarc_policy(p) => None,
        Some(p) => Some(format!("has p={p}, which is not a policy; use p=none, p=quarantine or p=reject")),
    }
}

/// Splits an MX value `"PRIORITY HOST"` (or just `"HOST"`); the host is normalized.
pub fn parse_mx_value(value: &str) -> (Option<u16>, String) {
    let mut parts = value.split_ascii_whitespace();
    match (parts.next(), parts.next()) {
        (Some(first), Some(host)) => match first.parse() {
            Ok(priority) => (Some(priority), normalize_host(host)),
            Err(_) => (None, normalize_host(value)),
        },
        _ => (None, normalize_host(value)),
    }
}

/// Whether the MX hosts found include the expected host (priority,
/// trailing dots and case ignored).
pub fn mx_contains(found: &[(u16, String)], expected_host: &str) -> bool {
    let expected = parse_mx_value(expected_host).1;
    found.iter().any(|(_, h)| same_host(h, &expected))
}

/// Host names equal ignoring case and a trailing dot.
pub fn same_host(a: &str, b: &str) -> bool {
    let a = normalize_host(a);
    !a.is_empty() && a == normalize_host(b)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spf_targets_are_pass_includes_and_a_redirect_without_all() {
        assert_eq!(
            spf_targets("v=spf1 mx include:_SPF.Corp.Example. +include:b.example -include:no.example ~all"),
            ["_spf.corp.example", "b.example"]
        );
        assert_eq!(spf_targets("v=spf1 ip4:192.0.2.1 redirect=_spf.example"), ["_spf.example"]);
        // redirect= is ignored beside an `all` (RFC 7208 §6.1); macros depend on the message.
        assert!(spf_targets("v=spf1 redirect=_spf.example -all").is_empty());
        assert!(spf_targets("v=spf1 include:%{d}.spf.example include: ~all").is_empty());
    }

    #[tokio::test]
    async fn a_walk_shares_one_deadline() {
        let budget = Budget::new(Duration::from_millis(30));
        assert!(budget.left().is_some_and(|d| d <= Duration::from_millis(30)));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(budget.left(), None);
    }

    #[test]
    fn dmarc_parents_walk_up_but_not_to_the_tld() {
        assert_eq!(dmarc_parents("_dmarc.news.mail.example.co.uk"), ["mail.example.co.uk", "example.co.uk", "co.uk"]);
        assert_eq!(dmarc_parents("_dmarc.news.example.com"), ["example.com"]);
        assert!(dmarc_parents("_dmarc.example.com").is_empty());
        assert!(dmarc_parents("_dmarc.com").is_empty());
        assert_eq!(dmarc_parents(&format!("_dmarc.{}example.com", "a.".repeat(20))).len(), 7);
    }

    const P: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw";

    fn rec(kind: RecordKind, purpose: &'static str, name: &str, value: &str) -> ExpectedRecord {
        ExpectedRecord { kind, name: name.into(), value: value.into(), purpose }
    }

    #[test]
    fn dkim_matches_same_key_with_any_whitespace_and_order() {
        let expected = format!("v=DKIM1; k=rsa; p={P}");
        assert!(dkim_matches(&expected, &expected));
        let spaced = format!("v = DKIM1 ;k=rsa;  p={} {}  ;", &P[..40], &P[40..]);
        assert!(dkim_matches(&spaced, &expected));
        // k defaults to rsa (RFC 6376 §3.6.1); v is optional.
        assert!(dkim_matches(&format!("p={P}"), &expected));
        assert!(dkim_matches(&format!("p={P}; t=s; k=rsa"), &expected));
    }

    #[test]
    fn dkim_refuses_other_key_type_version_key_or_revocation() {
        let expected = format!("v=DKIM1; k=rsa; p={P}");
        assert!(dkim_problem(&format!("v=DKIM1; k=ed25519; p={P}"), &expected).unwrap().contains("k=ed25519"));
        assert!(dkim_problem(&format!("v=DKIM2; p={P}"), &expected).unwrap().contains("v=DKIM2"));
        assert!(dkim_problem(&format!("k=rsa; v=DKIM1; p={P}"), &expected).unwrap().contains("first tag"));
        assert!(dkim_problem(&format!("v=DKIM1; k=rsa; p={P}x"), &expected).unwrap().contains("different"));
        assert!(dkim_problem("v=DKIM1; k=rsa; p=", &expected).unwrap().contains("revoked"));
        assert!(dkim_problem("v=DKIM1; k=rsa", &expected).unwrap().contains("no public key"));
        assert!(dkim_problem("hello world", &expected).unwrap().contains("tag=value"));
        let quoted = format!("v=DKIM1; k=rsa; p={}\" \"{}", &P[..40], &P[40..]);
        assert!(dkim_problem(&quoted, &expected).unwrap().contains("quote"));
        let ed = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
        assert!(dkim_matches(ed, ed));
        assert!(!dkim_matches(&expected, ed));
    }

    #[test]
    fn spf_needs_the_mechanism_and_no_plus_all() {
        assert!(spf_matches("v=spf1 include:spf.assent.example ~all", "include:spf.assent.example"));
        assert!(spf_matches("V=SPF1 mx INCLUDE:SPF.Assent.Example -all", "include:spf.assent.example"));
        assert!(spf_matches("v=spf1 +include:spf.assent.example ?all", "include:spf.assent.example"));
        assert!(spf_matches("v=spf1 ip4:192.0.2.10", "ip4:192.0.2.10"));
        assert!(!spf_matches("v=spf1 include:other.example ~all", "include:spf.assent.example"));
        assert!(!spf_matches("v=spf1 -include:spf.assent.example ~all", "include:spf.assent.example"));
        assert!(!spf_matches("v=spf1 include:spf.assent.example +all", "include:spf.assent.example"));
        assert!(!spf_matches("v=spf1 include:spf.assent.example all", "include:spf.assent.example"));
        assert!(!spf_matches("v=spf10 include:spf.assent.example", "include:spf.assent.example"));
        assert!(!spf_matches("include:spf.assent.example", "include:spf.assent.example"));
        // A whole record as the expected value: all its mechanisms are needed.
        assert!(spf_matches("v=spf1 ip4:192.0.2.10 include:x.example -all", "v=spf1 include:x.example ~all"));
        assert!(!spf_matches("v=spf1 ip4:192.0.2.10 -all", "v=spf1 ip4:192.0.2.10 include:x.example ~all"));
    }

    #[test]
    fn spf_two_records_and_suggestions() {
        let r = rec(RecordKind::Txt, "spf", "example.com", "include:spf.assent.example");
        let p = judge(&r, &["v=spf1 include:spf.assent.example ~all".into(), "v=spf1 mx -all".into()]).unwrap();
        assert!(p.contains("more than one SPF record (RFC 7208 §4.5)"), "{p}");
        let p = judge(&r, &["v=spf1 mx -all".into()]).unwrap();
        assert!(p.contains("v=spf1 mx include:spf.assent.example -all"), "{p}");
        let p = judge(&r, &["v=spf1 include:spf.assent.example +all".into()]).unwrap();
        assert!(p.contains("+all") && p.contains("v=spf1 include:spf.assent.example ~all"), "{p}");
        let p = judge(&r, &["google-site-verification=abc".into()]).unwrap();
        assert!(p.contains("no SPF record") && p.contains("v=spf1 include:spf.assent.example ~all"), "{p}");
        assert_eq!(judge(&r, &["other".into(), "v=spf1 include:spf.assent.example -all".into()]), None);
    }

    #[test]
    fn dmarc_needs_one_record_with_a_policy() {
        assert!(dmarc_matches("v=DMARC1; p=none"));
        assert!(dmarc_matches("v=DMARC1;p=reject;rua=mailto:d@example.com"));
        assert!(dmarc_matches(" v = DMARC1 ; p = Quarantine ; pct=50"));
        assert!(!dmarc_matches("v=DMARC1; rua=mailto:d@example.com"));
        assert!(!dmarc_matches("v=DMARC1; p=maybe"));
        assert!(!dmarc_matches("p=none; v=DMARC1"));
        assert!(!dmarc_matches("v=spf1 -all"));
        let r = rec(RecordKind::Txt, "dmarc", "_dmarc.example.com", "v=DMARC1; p=none");
        assert!(judge(&r, &["v=DMARC1".into()]).unwrap().contains("no policy (p=)"));
        let two = judge(&r, &["v=DMARC1; p=none".into(), "v=DMARC1; p=reject".into()]).unwrap();
        assert!(two.contains("more than one DMARC record"), "{two}");
        assert_eq!(judge(&r, &["unrelated".into(), "v=DMARC1; p=none".into()]), None);
    }

    #[test]
    fn mx_set_must_contain_the_host() {
        let found = vec![(10, "MX1.example.com.".to_string()), (20, "bounce.assent.example".to_string())];
        assert!(mx_contains(&found, "bounce.assent.example"));
        assert!(mx_contains(&found, "10 Bounce.Assent.Example."));
        assert!(!mx_contains(&found, "10 other.example"));
        assert_eq!(parse_mx_value("10 bounce.example.com."), (Some(10), "bounce.example.com".into()));
        let r = rec(RecordKind::Mx, "bounce_mx", "bounce.example.com", "10 mx.assent.example");
        assert_eq!(judge(&r, &["5 MX.assent.example".into()]), None);
        let p = judge(&r, &["10 mail.example.com".into()]).unwrap();
        assert!(p.contains("do not include mx.assent.example"), "{p}");
    }

    #[test]
    fn cname_target_must_equal() {
        let r = rec(RecordKind::Cname, "tracking", "t.example.com", "track.assent.example.");
        assert_eq!(judge(&r, &["Track.Assent.Example".into()]), None);
        let p = judge(&r, &["elsewhere.example".into()]).unwrap();
        assert!(p.contains("points to elsewhere.example"), "{p}");
        assert!(!same_host("", ""));
    }

    #[test]
    fn missing_records_say_what_to_publish() {
        let value = format!("v=DKIM1; k=rsa; p={P}");
        let r = rec(RecordKind::Txt, "dkim_rsa", "assent1._domainkey.example.com", &value);
        assert_eq!(missing(&r), format!("no TXT record at assent1._domainkey.example.com: publish {value}"));
        let r = rec(RecordKind::Mx, "bounce_mx", "bounce.example.com", "10 mx.assent.example");
        assert_eq!(
            missing(&r),
            "no MX record at bounce.example.com: publish bounce.example.com MX 10 mx.assent.example"
        );
        let r = rec(RecordKind::Txt, "spf", "example.com", "ip4:192.0.2.10");
        assert_eq!(missing(&r), "no TXT record at example.com: publish v=spf1 ip4:192.0.2.10 ~all");
    }

    #[test]
    fn record_kind_serializes_upper_case() {
        let r = rec(RecordKind::Cname, "x", "a.example", "b.example");
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["type"], "CNAME");
        assert_eq!(serde_json::to_value(RecordKind::Txt).unwrap(), "TXT");
        assert_eq!(serde_json::to_value(RecordKind::Mx).unwrap(), "MX");
    }

    #[test]
    fn timeouts_out_of_range_are_refused() {
        assert!(matches!(DnsChecker::with_timeout(None, Duration::ZERO), Err(DnsError::InvalidTimeout(_))));
        let addr: SocketAddr = "127.0.0.1:53".parse().unwrap();
        assert!(DnsChecker::with_timeout(Some(addr), Duration::from_secs(3600)).is_err());
        assert!(DnsChecker::with_timeout(Some(addr), Duration::from_secs(2)).is_ok());
    }
}
