//! What can go wrong talking to an IMAP server, each said so that the
//! operator knows what to do. No message ever contains the password.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("cannot connect to IMAP server {server}: {source}; check imap_host and imap_port and that the server runs")]
    Connect { server: String, source: std::io::Error },
    #[error(
        "IMAP server {server} did not answer {during} within {after:?}; the server is down or overloaded, try later"
    )]
    Timeout { server: String, during: &'static str, after: Duration },
    #[error("connection to IMAP server {server} lost during {during}: {source}; try later")]
    Io { server: String, during: &'static str, source: std::io::Error },
    #[error("IMAP server {server} closed the connection during {during}{}; try later", bye_text(.bye))]
    Closed { server: String, during: &'static str, bye: Option<String> },
    #[error(
        "IMAP server {server} sent a malformed response during {during}: {detail}; the connection was dropped \
         (is imap_port an IMAP port, and imap_tls right for it?)"
    )]
    Protocol { server: String, during: &'static str, detail: String },
    #[error(
        "TLS handshake with IMAP server {server} failed: {source}; check the server's certificate and imap_tls \
         (for a test server with a self-signed certificate set imap_tls_insecure = true)"
    )]
    Tls { server: String, source: std::io::Error },
    #[error("TLS is not available: {reason}")]
    TlsConfig { reason: String },
    #[error("{host:?} is not a valid host name for TLS; set imap_host to the name on the server's certificate")]
    InvalidServerName { host: String },
    #[error(
        "IMAP server {server} does not offer STARTTLS; use imap_tls = implicit (usually port 993) or enable TLS on the server"
    )]
    StartTlsUnavailable { server: String },
    #[error("IMAP server {server} sent data right after accepting STARTTLS (an injection attempt); connection dropped")]
    StartTlsInjection { server: String },
    #[error(
        "IMAP server {server} refuses LOGIN on this connection (LOGINDISABLED); use imap_tls = implicit or starttls"
    )]
    LoginDisabled { server: String },
    #[error("IMAP server {server} rejected the login of {user:?}: {text}; check imap_user and imap_password")]
    AuthFailed { server: String, user: String, text: String },
    #[error("IMAP server {server} answered {command} with {status}: {text}")]
    Rejected { server: String, command: &'static str, status: &'static str, text: String },
    #[error(
        "folder {folder:?} on IMAP server {server} is read-only for this user, so processed messages can be neither \
         moved nor flagged; grant the user write access"
    )]
    ReadOnly { server: String, folder: String },
    #[error("folder name {name:?} is not supported: use a plain ASCII name without control characters")]
    BadFolderName { name: String },
    #[error("this IMAP connection failed earlier and can no longer be used; open a new one")]
    Broken,
}

fn bye_text(bye: &Option<String>) -> String {
    bye.as_deref().map(|b| format!(" (BYE {b})")).unwrap_or_default()
}
