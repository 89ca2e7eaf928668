//! Relay configuration: where to hand mail over and how, parsed from a URL.
//!
//! ```text
//! smtp://[user[:password]@]host[:port][?param=value&…]    (default port 25)
//! smtps://[user[:password]@]host[:port][?param=value&…]   (default port 465, implicit TLS)
//! ```
//!
//! Parameters: `tls=starttls|required|none` (smtp only; default `starttls`),
//! `tls_insecure=true` (accept any certificate: test relays only), `user`,
//! `password` (percent-encoded), `helo` (the name we introduce ourselves
//! with), `max_connections`, `max_messages` (per connection), `weight`,
//! `connect_timeout`, `command_timeout`, `data_timeout`, `idle_timeout`
//! (`10`, `10s`, `500ms`).
//!
//! The password never appears in `Debug` or `Display` output.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How the connection to the relay is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text, never STARTTLS (`tls=none`). AUTH is allowed in clear.
    None,
    /// STARTTLS (RFC 3207) when the relay offers it, plain text otherwise
    /// (`tls=starttls`, the default). Credentials are never sent in clear.
    StartTls,
    /// STARTTLS is mandatory (`tls=required`): a relay that does not offer
    /// it is an error.
    Required,
    /// TLS from the first byte (`smtps://`, RFC 8314).
    Implicit,
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Required => "required",
            TlsMode::Implicit => "implicit",
        })
    }
}

/// A secret string that prints as `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the AUTH exchange.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Time limits for a connection (RFC 5321 §4.5.3.2 suggests longer ones;
/// these suit a relay we control or pay for).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect and TLS handshake.
    pub connect: Duration,
    /// Waiting for the reply to any command other than the final `.`.
    pub command: Duration,
    /// Sending the message content and waiting for the reply to the final `.`.
    pub data: Duration,
    /// How long a pool keeps an unused connection open.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            command: Duration::from_secs(60),
            data: Duration::from_secs(120),
            idle: Duration::from_secs(30),
        }
    }
}

/// Default `max_connections` of a relay.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4;
/// Default `max_messages` per connection.
pub const DEFAULT_MAX_MESSAGES: u32 = 100;

/// One SMTP relay (smarthost) and how to use it.
#[derive(Clone, PartialEq, Eq)]
pub struct Relay {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    /// Accept any certificate. Only for test relays with self-signed
    /// certificates; never in production.
    pub tls_insecure: bool,
    pub user: Option<String>,
    pub password: Option<Secret>,
    /// The name sent with EHLO/HELO.
    pub helo_name: String,
    /// The most connections the pool opens to this relay at once.
    pub max_connections: usize,
    /// The most messages sent over one connection before it is closed.
    pub max_messages: u32,
    /// The share of traffic this relay gets in a [`crate::RelaySet`].
    pub weight: u32,
    pub timeouts: Timeouts,
}

/// Why a relay URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("relay URL {url:?} must start with smtp:// or smtps://")]
    Scheme { url: String },
    #[error("relay URL {url:?} has no host; write it as smtp://host:port")]
    MissingHost { url: String },
    #[error("relay URL has a bad port {port:?}; use a number from 1 to 65535")]
    BadPort { port: String },
    #[error(
        "unknown relay parameter {name:?}; known: tls, tls_insecure, user, password, helo, max_connections, max_messages, weight, connect_timeout, command_timeout, data_timeout, idle_timeout"
    )]
    UnknownParameter { name: String },
    #[error("relay parameter {name}={value:?} is invalid: expected {expected}")]
    BadValue { name: String, value: String, expected: &'static str },
    #[error("relay URL has a bad percent-encoding in {part:?}; write a literal % as %25")]
    BadEncoding { part: String },
    #[error("a password was given without a user; add user=… to the relay URL")]
    PasswordWithoutUser,
    #[error("smtps:// always uses TLS; drop tls=none or use smtp://")]
    ImplicitWithoutTls,
    #[error("no relay configured; give at least one smtp:// URL")]
    NoRelays,
}

impl Relay {
    /// A relay at `host:port` with every other setting at its default
    /// (`tls=starttls`, no credentials).
    pub fn new(host: impl Into<String>, port: u16) -> Relay {
        Relay {
            host: host.into(),
            port,
            tls: TlsMode::StartTls,
            tls_insecure: false,
            user: None,
            password: None,
            helo_name: "localhost".into(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_messages: DEFAULT_MAX_MESSAGES,
            weight: 1,
            timeouts: Timeouts::default(),
        }
    }

    /// Parses a relay URL (see the module documentation).
    pub fn parse(url: &str) -> Result<Relay, RelayError> {
        let (implicit, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "smtps://") {
            (true, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(url, "smtp://") {
            (false, rest)
        } else {
            return Err(RelayError::Scheme { url: url.to_string() });
        };
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.trim_end_matches('/');
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (host, port) = split_host_port(hostport, url)?;
        let mut relay = Relay::new(host, port.unwrap_or(if implicit { 465 } else { 25 }));
        if implicit {
            relay.tls = TlsMode::Implicit;
        }
        if let Some(info) = userinfo {
            let (user, password) = match info.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (info, None),
            };
            if !user.is_empty() {
                relay.user = Some(percent_decode(user)?);
            }
            if let Some(p) = password {
                relay.password = Some(Secret(percent_decode(p)?));
            }
        }
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(raw)?;
            let bad = |expected| RelayError::BadValue { name: name.to_string(), value: value.clone(), expected };
            match name {
                "tls" => {
                    relay.tls = match (value.to_ascii_lowercase().as_str(), implicit) {
                        ("none" | "off", false) => TlsMode::None,
                        ("starttls", false) => TlsMode::StartTls,
                        ("required" | "require", false) => TlsMode::Required,
                        ("none" | "off", true) => return Err(RelayError::ImplicitWithoutTls),
                        ("starttls" | "required" | "require" | "implicit", true) => TlsMode::Implicit,
                        _ => return Err(bad("starttls, required or none")),
                    }
                }
                "tls_insecure" => relay.tls_insecure = parse_bool(&value).ok_or_else(|| bad("true or false"))?,
                "user" => relay.user = Some(value).filter(|u| !u.is_empty()),
                "password" => relay.password = Some(Secret(value)),
                "helo" => {
                    if value.is_empty() || value.bytes().any(|b| b.is_ascii_whitespace() || b.is_ascii_control()) {
                        return Err(bad("a host name without spaces"));
                    }
                    relay.helo_name = value;
                }
                "max_connections" => {
                    relay.max_connections =
                        value.parse().ok().filter(|&n| n >= 1).ok_or_else(|| bad("a whole number ≥ 1"))?
                }
                "max_messages" => {
                    relay.max_messages =
                        value.parse().ok().filter(|&n| n >= 1).ok_or_else(|| bad("a whole number ≥ 1"))?
                }
                "weight" => {
                    relay.weight = value
                        .parse()
                        .ok()
                        .filter(|&n| n >= 1)
                        .ok_or_else(|| bad("a whole number ≥ 1 (remove the relay to disable it)"))?
                }
                "connect_timeout" => relay.timeouts.connect = parse_duration(&value).ok_or_else(|| bad(DURATION))?,
                "command_timeout" => relay.timeouts.command = parse_duration(&value).ok_or_else(|| bad(DURATION))?,
                "data_timeout" => relay.timeouts.data = parse_duration(&value).ok_or_else(|| bad(DURATION))?,
                "idle_timeout" => relay.timeouts.idle = parse_duration(&value).ok_or_else(|| bad(DURATION))?,
                _ => return Err(RelayError::UnknownParameter { name: name.to_string() }),
            }
        }
        if relay.password.is_some() && relay.user.is_none() {
            return Err(RelayError::PasswordWithoutUser);
        }
        Ok(relay)
    }

    /// `host:port`, as used to connect (IPv6 hosts in brackets).
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The user and password to authenticate with, when both are set.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        Some((self.user.as_deref()?, self.password.as_ref()?.expose()))
    }
}

impl FromStr for Relay {
    type Err = RelayError;
    fn from_str(s: &str) -> Result<Relay, RelayError> {
        Relay::parse(s)
    }
}

impl fmt::Display for Relay {
    /// The relay as a URL without the password (safe for logs).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls == TlsMode::Implicit { "smtps" } else { "smtp" };
        write!(f, "{scheme}://{}", self.address())?;
        if self.tls != TlsMode::Implicit {
            write!(f, "?tls={}", self.tls)?;
        }
        if let Some(user) = &self.user {
            let sep = if self.tls == TlsMode::Implicit { '?' } else { '&' };
            write!(f, "{sep}user={user}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Relay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Relay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("tls_insecure", &self.tls_insecure)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("helo_name", &self.helo_name)
            .field("max_connections", &self.max_connections)
            .field("max_messages", &self.max_messages)
            .field("weight", &self.weight)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

const DURATION: &str = "a duration such as 10, 10s or 500ms";

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn split_host_port(hostport: &str, url: &str) -> Result<(String, Option<u16>), RelayError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or_else(|| RelayError::MissingHost { url: url.to_string() })?;
        (host, after.strip_prefix(':'))
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(RelayError::MissingHost { url: url.to_string() });
    }
    let port = match port {
        None => None,
        Some(p) => {
            Some(p.parse::<u16>().ok().filter(|&n| n > 0).ok_or_else(|| RelayError::BadPort { port: p.to_string() })?)
        }
    };
    Ok((host.to_string(), port))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_duration(s: &str) -> Option<Duration> {
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let value: f64 = number.trim().parse().ok()?;
    (value.is_finite() && value > 0.0 && value < 1e9).then(|| Duration::from_secs_f64(value * scale))
}

fn percent_decode(s: &str) -> Result<String, RelayError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
            let byte = hex
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| RelayError::BadEncoding { part: s.to_string() })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| RelayError::BadEncoding { part: s.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_url() {
        let r = Relay::parse(
            "smtp://mail.example.com:587?tls=required&user=news%40example.com&password=p%26ss%3Dw0rd&max_connections=8&max_messages=50&weight=3&helo=out.example.com&command_timeout=500ms",
        )
        .expect("valid");
        assert_eq!(r.host, "mail.example.com");
        assert_eq!(r.port, 587);
        assert_eq!(r.tls, TlsMode::Required);
        assert_eq!(r.credentials(), Some(("news@example.com", "p&ss=w0rd")));
        assert_eq!((r.max_connections, r.max_messages, r.weight), (8, 50, 3));
        assert_eq!(r.helo_name, "out.example.com");
        assert_eq!(r.timeouts.command, Duration::from_millis(500));
        assert_eq!(r.timeouts.connect, Duration::from_secs(10));
        assert!(!r.tls_insecure);
    }

    #[test]
    fn password_is_never_printed() {
        let r = Relay::parse("smtp://u:hunter2@h:25?tls=none").expect("valid");
        assert_eq!(r.credentials(), Some(("u", "hunter2")));
        let debug = format!("{r:?}");
        let display = r.to_string();
        assert!(!debug.contains("hunter2") && !display.contains("hunter2"), "{debug} {display}");
        assert!(debug.contains("***"));
        assert_eq!(display, "smtp://h:25?tls=none&user=u");
    }

    #[test]
    fn defaults_and_schemes() {
        let r = Relay::parse("smtp://relay.test").expect("valid");
        assert_eq!((r.port, r.tls, r.max_connections, r.max_messages, r.weight), (25, TlsMode::StartTls, 4, 100, 1));
        assert_eq!(r.credentials(), None);
        let r = Relay::parse("SMTPS://relay.test/").expect("valid");
        assert_eq!((r.port, r.tls), (465, TlsMode::Implicit));
        assert_eq!(r.to_string(), "smtps://relay.test:465");
        let r = Relay::parse("smtp://[::1]:2525?tls=none&tls_insecure=true").expect("valid");
        assert_eq!((r.host.as_str(), r.port, r.tls_insecure), ("::1", 2525, true));
        assert_eq!(r.address(), "[::1]:2525");
        assert_eq!("smtp://127.0.0.1:2525".parse::<Relay>().expect("valid").address(), "127.0.0.1:2525");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(Relay::parse("http://x"), Err(RelayError::Scheme { .. })));
        assert!(matches!(Relay::parse("smtp://:25"), Err(RelayError::MissingHost { .. })));
        assert!(matches!(Relay::parse("smtp://h:0"), Err(RelayError::BadPort { .. })));
        assert!(matches!(Relay::parse("smtp://h:99999"), Err(RelayError::BadPort { .. })));
        assert!(matches!(Relay::parse("smtp://h?pasword=x"), Err(RelayError::UnknownParameter { .. })));
        assert!(matches!(Relay::parse("smtp://h?tls=maybe"), Err(RelayError::BadValue { .. })));
        assert!(matches!(Relay::parse("smtp://h?weight=0"), Err(RelayError::BadValue { .. })));
        assert!(matches!(Relay::parse("smtp://h?max_connections=x"), Err(RelayError::BadValue { .. })));
        assert!(matches!(Relay::parse("smtp://h?data_timeout=-1"), Err(RelayError::BadValue { .. })));
        assert!(matches!(Relay::parse("smtp://h?password=%zz"), Err(RelayError::BadEncoding { .. })));
        assert!(matches!(Relay::parse("smtp://h?password=x"), Err(RelayError::PasswordWithoutUser)));
        assert!(matches!(Relay::parse("smtps://h?tls=none"), Err(RelayError::ImplicitWithoutTls)));
        let msg = Relay::parse("smtp://h?pasword=x").expect_err("unknown").to_string();
        assert!(msg.contains("known: tls"), "{msg}");
    }
}
