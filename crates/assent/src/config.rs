//! Configuration: defaults < `assent.toml` < `ASSENT_*` environment < flags.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `sqlite://FILE` (created when missing) or `postgres://…`.
    pub database_url: String,
    /// Address of the HTTP listener.
    pub http: String,
    /// Base URL for links in mail and pages.
    pub public_url: String,
    /// Roles this process plays.
    #[serde(deserialize_with = "list")]
    pub roles: Vec<String>,
    /// `text` or `json` log lines.
    pub log_format: String,
    /// Largest JSON request body in bytes.
    pub max_json_bytes: usize,
    /// E-mail of the operator created on first start.
    pub operator_email: String,
    /// Local parts added to the built-in role-address list.
    #[serde(deserialize_with = "list")]
    pub role_addresses: Vec<String>,
    /// Domains never treated as disposable, even if the built-in list has them.
    #[serde(deserialize_with = "list")]
    pub disposable_allow: Vec<String>,
    /// Domains treated as disposable in addition to the built-in list.
    #[serde(deserialize_with = "list")]
    pub disposable_deny: Vec<String>,
    /// Proxies (IPs or CIDR networks) whose X-Forwarded-For is believed.
    #[serde(deserialize_with = "list")]
    pub trusted_proxies: Vec<String>,
    /// Maildir that receives outgoing mail when no relay is configured.
    pub outbox: String,
    /// `From` of transactional mail such as confirmations.
    pub mail_from: String,
    /// Seconds before a pending address may get another confirmation mail.
    pub resend_interval_secs: u64,
    /// Seconds a confirmation link works; unconfirmed sign-ups are deleted after it.
    pub unconfirmed_ttl_secs: u64,
    /// Sign-ups per IP address per minute (0: unlimited).
    pub signups_per_ip_per_minute: u32,
    /// Sign-ups per e-mail address per hour (0: unlimited).
    pub signups_per_address_per_hour: u32,
    /// Where uploaded import files wait until they are read.
    pub import_dir: String,
    /// Largest import file in bytes.
    pub max_import_bytes: u64,
    /// Imports of accounts younger than this many days need review.
    pub import_review_account_age_days: u64,
    /// Import files larger than this many bytes need review.
    pub import_review_bytes: i64,
    /// Imports of more rows than this need review.
    pub import_review_rows: i64,
    /// Imports with a larger share of invalid, role and disposable addresses need review.
    pub import_review_risky_ratio: f64,
    /// Rows an import writes per transaction (memory holds about three
    /// batches; larger ones write each index page fewer times).
    pub import_batch_rows: usize,
    /// File holding the master key (64 hex characters) that seals DKIM keys
    /// at rest; created on first start when missing. Back it up.
    pub master_key_file: String,
    /// The master key itself, instead of a file (e.g. from a secret store).
    pub master_key: Option<String>,
    /// SPF mechanism every sender domain must publish.
    pub spf_mechanism: String,
    /// Host receiving bounces: the MX of each sender domain's bounce subdomain.
    pub bounce_mx: String,
    /// Address of the inbound SMTP listener (role `inbound`) that takes
    /// bounces, complaints and `mailto:` unsubscribes.
    pub inbound_smtp: String,
    /// The feedback-loop address registered with mailbox providers; ARF
    /// complaints sent to it are accepted by the inbound listener.
    pub feedback_address: Option<String>,
    /// IMAP server of an existing mailbox that receives bounces and
    /// complaints; polled by the `inbound` role when set.
    pub imap_host: Option<String>,
    /// Its port; default 993 for implicit TLS, else 143.
    pub imap_port: Option<u16>,
    /// `implicit` (TLS from the start), `starttls` or `none` (tests only).
    pub imap_tls: String,
    /// Accept any certificate (a test server with a self-signed one).
    pub imap_tls_insecure: bool,
    pub imap_user: Option<String>,
    pub imap_password: Option<String>,
    /// A file holding the IMAP password, instead of `imap_password`.
    pub imap_password_file: Option<String>,
    /// The folder the bounces land in.
    pub imap_folder: String,
    /// What becomes of processed messages: `move:FOLDER` or `flag`.
    pub imap_processed: String,
    /// Seconds between two polls.
    pub imap_interval_secs: u64,
    /// Larger messages are marked processed without being downloaded.
    pub imap_max_message_bytes: u64,
    /// Nameserver (host:port) for checking sender domains; default the system's.
    pub dns_resolver: Option<String>,
    /// SMTP relays for outgoing mail (`smtp://host:port?tls=starttls&user=…`);
    /// none: mail goes to the maildir outbox.
    #[serde(deserialize_with = "list")]
    pub relay: Vec<String>,
    /// Messages handed to the relays at once (per worker process).
    pub send_concurrency: usize,
    /// Sign campaign mail with DKIM (turn off only when the relay signs).
    pub dkim_sign: bool,
    /// Messages per second per destination domain: `gmail.com=50,yahoo.com=20`.
    pub throttle_domains: String,
    /// Messages per second to any other domain (0: unlimited).
    pub throttle_default_domain: f64,
    /// Messages per second per account and per campaign (0: unlimited).
    pub throttle_account: f64,
    pub throttle_campaign: f64,
    /// Seconds a worker holds a batch of recipients; after a crash another
    /// worker (or the restarted one) takes them over when this runs out.
    pub delivery_lease_secs: u64,
}

const KEYS: &[&str] = &[
    "database_url",
    "http",
    "public_url",
    "roles",
    "log_format",
    "max_json_bytes",
    "operator_email",
    "role_addresses",
    "disposable_allow",
    "disposable_deny",
    "trusted_proxies",
    "outbox",
    "mail_from",
    "resend_interval_secs",
    "unconfirmed_ttl_secs",
    "signups_per_ip_per_minute",
    "signups_per_address_per_hour",
    "import_dir",
    "max_import_bytes",
    "import_review_account_age_days",
    "import_review_bytes",
    "import_review_rows",
    "import_review_risky_ratio",
    "import_batch_rows",
    "master_key_file",
    "master_key",
    "spf_mechanism",
    "bounce_mx",
    "inbound_smtp",
    "feedback_address",
    "imap_host",
    "imap_port",
    "imap_tls",
    "imap_tls_insecure",
    "imap_user",
    "imap_password",
    "imap_password_file",
    "imap_folder",
    "imap_processed",
    "imap_interval_secs",
    "imap_max_message_bytes",
    "dns_resolver",
    "relay",
    "send_concurrency",
    "dkim_sign",
    "throttle_domains",
    "throttle_default_domain",
    "throttle_account",
    "throttle_campaign",
    "delivery_lease_secs",
];

/// Lists may be written as TOML arrays or, handier in the environment, as
/// one comma-separated string (`ASSENT_ROLES=web,worker`).
fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect(),
        OneOrMany::Many(v) => v,
    })
}

impl Default for Config {
    fn default() -> Self {
        Config {
            database_url: "sqlite://assent.db".into(),
            http: "127.0.0.1:8080".into(),
            public_url: "http://127.0.0.1:8080".into(),
            roles: vec!["web".into(), "worker".into()],
            log_format: "text".into(),
            max_json_bytes: 1024 * 1024,
            operator_email: "operator@localhost".into(),
            role_addresses: Vec::new(),
            disposable_allow: Vec::new(),
            disposable_deny: Vec::new(),
            trusted_proxies: Vec::new(),
            outbox: "outbox".into(),
            mail_from: "Assent <assent@localhost.localdomain>".into(),
            resend_interval_secs: 600,
            unconfirmed_ttl_secs: 7 * 24 * 3600,
            signups_per_ip_per_minute: 20,
            signups_per_address_per_hour: 5,
            import_dir: "imports".into(),
            max_import_bytes: 1024 * 1024 * 1024,
            import_review_account_age_days: 30,
            import_review_bytes: 50 * 1024 * 1024,
            import_review_rows: 250_000,
            import_review_risky_ratio: 0.05,
            import_batch_rows: assent_engine::import::ImportConfig::default().batch_rows,
            master_key_file: "assent.key".into(),
            master_key: None,
            spf_mechanism: "a:mail.assent.invalid".into(),
            bounce_mx: "mail.assent.invalid".into(),
            inbound_smtp: "127.0.0.1:2525".into(),
            feedback_address: None,
            imap_host: None,
            imap_port: None,
            imap_tls: "implicit".into(),
            imap_tls_insecure: false,
            imap_user: None,
            imap_password: None,
            imap_password_file: None,
            imap_folder: "INBOX".into(),
            imap_processed: "move:Processed".into(),
            imap_interval_secs: 60,
            imap_max_message_bytes: 10 * 1024 * 1024,
            dns_resolver: None,
            relay: Vec::new(),
            send_concurrency: 16,
            dkim_sign: true,
            throttle_domains: String::new(),
            throttle_default_domain: 0.0,
            throttle_account: 0.0,
            throttle_campaign: 0.0,
            delivery_lease_secs: 60,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers alone.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_resolver: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relay: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbound_smtp: Option<String>,
}

pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Config, Box<figment::Error>> {
    let file = file.unwrap_or_else(|| Path::new("assent.toml"));
    Figment::from(Serialized::defaults(Config::default()))
        .merge(Toml::file(file))
        // Only the known keys: other ASSENT_* variables (test settings, the
        // config file's path) are not configuration values.
        .merge(Env::prefixed("ASSENT_").only(KEYS))
        .merge(Serialized::defaults(overrides))
        .extract()
        .map_err(Box::new)
}

impl Config {
    pub fn import_config(&self) -> assent_engine::import::ImportConfig {
        assent_engine::import::ImportConfig {
            review_account_age: std::time::Duration::from_secs(self.import_review_account_age_days * 86_400),
            review_bytes: self.import_review_bytes,
            review_rows: self.import_review_rows,
            review_risky_ratio: self.import_review_risky_ratio,
            batch_rows: self.import_batch_rows.max(1),
            spool_dir: Some(std::path::PathBuf::from(&self.import_dir)),
        }
    }

    pub fn address_policy(&self) -> assent_domain::AddressPolicy {
        assent_domain::AddressPolicy {
            roles: assent_domain::RoleAddresses::default().with_extra(&self.role_addresses),
            disposable: assent_domain::DisposableDomains::builtin()
                .with_overrides(self.disposable_allow.clone(), self.disposable_deny.clone()),
        }
    }
}

impl Config {
    /// The master key: given directly, read from its file, or created in
    /// the file on first start.
    pub fn secret_box(&self) -> anyhow::Result<assent_engine::keys::SecretBox> {
        use anyhow::Context;
        if let Some(k) = &self.master_key {
            return assent_engine::keys::SecretBox::from_hex(k).context("master_key");
        }
        let path = std::path::Path::new(&self.master_key_file);
        if !path.exists() {
            let key = assent_engine::keys::SecretBox::generate_hex()?;
            write_private(path, &key)
                .with_context(|| format!("cannot create the master key file {}", path.display()))?;
            tracing::warn!(file = %path.display(), "created a new master key; back it up — without it the DKIM keys cannot be used");
        }
        let hex = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the master key file {}", path.display()))?;
        assent_engine::keys::SecretBox::from_hex(&hex)
            .with_context(|| format!("the master key file {} is damaged", path.display()))
    }

    pub fn dns_resolver(&self) -> anyhow::Result<Option<std::net::SocketAddr>> {
        use anyhow::Context;
        self.dns_resolver
            .as_deref()
            .map(|r| r.parse().context("dns_resolver must be host:port, e.g. 127.0.0.1:53"))
            .transpose()
    }
}

impl Config {
    /// The bounce mailbox poller's settings; `None` when `imap_host` is not
    /// set. Incomplete or contradictory settings are errors that name the key.
    pub fn mailbox_config(&self) -> anyhow::Result<Option<assent_engine::mailbox::MailboxConfig>> {
        use anyhow::{Context, bail};
        use assent_smtp::imap::{ImapConfig, ImapTls};
        let Some(host) = self.imap_host.as_deref().map(str::trim).filter(|h| !h.is_empty()) else {
            return Ok(None);
        };
        let Some(tls) = ImapTls::parse(&self.imap_tls) else {
            bail!("imap_tls must be implicit, starttls or none, not {:?}", self.imap_tls);
        };
        let Some(user) = self.imap_user.clone().filter(|u| !u.is_empty()) else {
            bail!("imap_host is set but imap_user is not: set the mailbox's login name");
        };
        let password = match (&self.imap_password, &self.imap_password_file) {
            (Some(p), None) => p.clone(),
            (None, Some(file)) => std::fs::read_to_string(file)
                .with_context(|| format!("cannot read imap_password_file {file}"))?
                .trim_end_matches(['\r', '\n'])
                .to_string(),
            (Some(_), Some(_)) => bail!("set imap_password or imap_password_file, not both"),
            (None, None) => bail!("imap_host is set but neither imap_password nor imap_password_file is"),
        };
        let Some(processed) = assent_engine::mailbox::Processed::parse(&self.imap_processed) else {
            bail!("imap_processed must be move:FOLDER or flag, not {:?}", self.imap_processed);
        };
        if let assent_engine::mailbox::Processed::Move(target) = &processed
            && target.eq_ignore_ascii_case(self.imap_folder.trim())
        {
            bail!(
                "imap_processed moves to {target:?}, the polled imap_folder itself: name another folder, or use flag"
            );
        }
        if self.imap_interval_secs == 0 {
            bail!("imap_interval_secs must be at least 1");
        }
        let mut imap = ImapConfig::new(host, user, assent_smtp::Secret::new(password));
        imap.tls = tls;
        imap.port = self.imap_port.unwrap_or(tls.default_port());
        imap.tls_insecure = self.imap_tls_insecure;
        imap.max_message_bytes = self.imap_max_message_bytes.max(1024);
        Ok(Some(assent_engine::mailbox::MailboxConfig {
            imap,
            folder: self.imap_folder.clone(),
            processed,
            interval: std::time::Duration::from_secs(self.imap_interval_secs),
            batch: 100,
        }))
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imap(f: impl FnOnce(&mut Config)) -> anyhow::Result<Option<assent_engine::mailbox::MailboxConfig>> {
        let mut c = Config {
            imap_host: Some("imap.example.com".into()),
            imap_user: Some("bounces".into()),
            imap_password: Some("secret".into()),
            ..Config::default()
        };
        f(&mut c);
        c.mailbox_config()
    }

    #[test]
    fn mailbox_settings() {
        assert!(Config::default().mailbox_config().expect("no mailbox").is_none());
        let m = imap(|_| {}).expect("valid").expect("configured");
        assert_eq!((m.imap.port, m.imap.tls, m.folder.as_str()), (993, assent_smtp::imap::ImapTls::Implicit, "INBOX"));
        assert_eq!(m.processed, assent_engine::mailbox::Processed::Move("Processed".into()));
        let m = imap(|c| {
            c.imap_tls = "starttls".into();
            c.imap_processed = "flag".into();
        })
        .expect("valid")
        .expect("configured");
        assert_eq!((m.imap.port, m.processed), (143, assent_engine::mailbox::Processed::Flag));

        let file = std::env::temp_dir().join(format!("assent_imap_password_{}", std::process::id()));
        std::fs::write(&file, "from a file\n").expect("write");
        let m = imap(|c| {
            c.imap_password = None;
            c.imap_password_file = Some(file.display().to_string());
        })
        .expect("valid")
        .expect("configured");
        assert_eq!(m.imap.password.expose(), "from a file");
        let _ = std::fs::remove_file(&file);

        for (broken, key) in [
            (imap(|c| c.imap_user = None), "imap_user"),
            (imap(|c| c.imap_password = None), "imap_password"),
            (imap(|c| c.imap_password_file = Some("/nonexistent".into())), "not both"),
            (imap(|c| c.imap_tls = "ssl3".into()), "imap_tls"),
            (imap(|c| c.imap_processed = "delete".into()), "imap_processed"),
            (imap(|c| c.imap_interval_secs = 0), "imap_interval_secs"),
            (imap(|c| c.imap_processed = "move:inbox".into()), "imap_folder"),
        ] {
            let e = broken.expect_err(key).to_string();
            assert!(e.contains(key), "{e}");
        }
    }
}
