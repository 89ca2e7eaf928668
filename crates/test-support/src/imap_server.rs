//! A real IMAP server for tests: a private dovecot instance per test (its
//! own configuration, state, log and Maildir in a temporary directory,
//! IMAP and IMAPS on free ports of 127.0.0.1, a fresh self-signed
//! certificate), killed when dropped.
//!
//! Dovecot refuses to run its helper processes or to access mail as root,
//! so when the tests run as root the helpers run as the `dovenull` and
//! `dovecot` users the Debian package creates and mail belongs to
//! `nobody`; otherwise everything runs as the current user.
//!
//! Without dovecot installed (`apt-get install dovecot-imapd`) [`start`]
//! prints a notice and returns `None`, so the test skips; under `CI=true`
//! a missing dovecot is a failure.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assent_smtp::Secret;
use assent_smtp::imap::{ImapConfig, ImapTimeouts, ImapTls};

/// The mailbox user; the password needs quoting (quote, backslash, space).
pub const USER: &str = "bounces";
pub const PASSWORD: &str = r#"pa"ss\ w(o)rd{1}"#;
/// A second user whose password can only be sent as a literal (8-bit).
pub const LITERAL_USER: &str = "fbl";
pub const LITERAL_PASSWORD: &str = "pässwört";

/// The `nobody` user owns the mail when the tests run as root.
const NOBODY: u32 = 65534;

pub struct ImapServer {
    pub imap_port: u16,
    pub imaps_port: u16,
    dir: PathBuf,
    /// Owner of the Maildirs (chown'ed to when running as root).
    mail_owner: Option<u32>,
    child: Child,
}

fn dovecot_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin")]).map(|d| d.join("dovecot")).find(|p| p.is_file())
}

/// Starts a dovecot, or `None` (with a notice) when it is not installed.
pub fn start() -> Option<ImapServer> {
    start_with("")
}

/// Like [`start`], with extra lines for `dovecot.conf` (e.g.
/// `imap_capability = …` to hide MOVE).
pub fn start_with(extra_config: &str) -> Option<ImapServer> {
    let Some(binary) = dovecot_binary() else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("dovecot is not installed under CI=true: apt-get install dovecot-imapd");
        }
        eprintln!("\n!!!! SKIPPING IMAP test: dovecot not installed (apt-get install dovecot-imapd) !!!!\n");
        return None;
    };
    let mut last = String::new();
    // A free port found now may be taken by the time dovecot binds it.
    for _ in 0..3 {
        match try_start(&binary, extra_config) {
            Ok(server) => return Some(server),
            Err(e) => last = e,
        }
    }
    panic!("dovecot did not start: {last}");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

fn try_start(binary: &Path, extra_config: &str) -> Result<ImapServer, String> {
    let dir = std::env::temp_dir().join(crate::unique_name("assent_dovecot"));
    for sub in ["run", "state", "home"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    let me = std::fs::metadata(&dir).map_err(|e| e.to_string())?.uid();
    let (login_user, internal_user, mail_uid, mail_gid) = if me == 0 {
        ("dovenull".to_string(), "dovecot".to_string(), NOBODY, NOBODY)
    } else {
        let name = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .map_err(|_| "USER is not set: dovecot needs the name of the user running it".to_string())?;
        let gid = std::fs::metadata(&dir).map_err(|e| e.to_string())?.gid();
        (name.clone(), name, me, gid)
    };
    let home = dir.join("home");
    let mail_owner = (me == 0).then_some(mail_uid);
    if let Some(uid) = mail_owner {
        std::os::unix::fs::chown(&home, Some(uid), Some(mail_gid)).map_err(|e| format!("chown home: {e}"))?;
    }

    let key = rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .map_err(|e| format!("certificate: {e}"))?;
    write(&dir.join("cert.pem"), key.cert.pem().as_bytes())?;
    write(&dir.join("key.pem"), key.signing_key.serialize_pem().as_bytes())?;
    // passwd-file: user:password:uid:gid:gecos:home:shell:extra
    let users = format!(
        "{USER}:{{PLAIN}}{PASSWORD}:{mail_uid}:{mail_gid}::{home}::\n\
         {LITERAL_USER}:{{PLAIN}}{LITERAL_PASSWORD}:{mail_uid}:{mail_gid}::{home}/fbl::\n",
        home = home.display(),
    );
    write(&dir.join("users"), users.as_bytes())?;

    let (imap_port, imaps_port) = (free_port(), free_port());
    let d = dir.display();
    let config = format!(
        "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\ninfo_log_path = {d}/dovecot.log\n\
         protocols = imap\nlisten = 127.0.0.1\n\
         default_login_user = {login_user}\ndefault_internal_user = {internal_user}\nfirst_valid_uid = 1\n\
         ssl = yes\nssl_cert = <{d}/cert.pem\nssl_key = <{d}/key.pem\n\
         disable_plaintext_auth = no\nauth_mechanisms = plain login\n\
         passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN {d}/users\n}}\n\
         userdb {{\n  driver = passwd-file\n  args = {d}/users\n}}\n\
         mail_location = maildir:~/Maildir\n\
         service imap-login {{\n  chroot =\n\
           inet_listener imap {{\n    address = 127.0.0.1\n    port = {imap_port}\n  }}\n\
           inet_listener imaps {{\n    address = 127.0.0.1\n    port = {imaps_port}\n    ssl = yes\n  }}\n}}\n\
         service anvil {{\n  chroot =\n}}\n\
         {extra_config}\n"
    );
    let conf = dir.join("dovecot.conf");
    write(&conf, config.as_bytes())?;

    let child = Command::new(binary)
        .arg("-F")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
    let mut server = ImapServer { imap_port, imaps_port, dir, mail_owner, child };
    server.wait_ready()?;
    Ok(server)
}

fn write(path: &Path, content: &[u8]) -> Result<(), String> {
    std::fs::write(path, content).map_err(|e| format!("write {}: {e}", path.display()))
}

impl ImapServer {
    /// Waits until the IMAP port greets with "ready" (the first greeting may
    /// be "Waiting for authentication process").
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("dovecot exited ({status}): {}", self.log()));
            }
            if let Ok(tcp) = std::net::TcpStream::connect(("127.0.0.1", self.imap_port)) {
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(2)));
                let mut reader = BufReader::new(&tcp);
                let mut greeting = String::new();
                for _ in 0..3 {
                    greeting.clear();
                    if reader.read_line(&mut greeting).is_err() || greeting.contains("ready") {
                        break;
                    }
                }
                let _ = (&tcp).write_all(b"x LOGOUT\r\n");
                if greeting.contains("ready") {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("dovecot did not get ready within 15 s: {}", self.log()))
    }

    /// Dovecot's log (for assertion messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }

    /// A client configuration for [`USER`]: TLS as given (any certificate
    /// accepted), short timeouts.
    pub fn config(&self, tls: ImapTls) -> ImapConfig {
        let port = if tls == ImapTls::Implicit { self.imaps_port } else { self.imap_port };
        ImapConfig {
            host: "127.0.0.1".into(),
            port,
            tls,
            tls_insecure: true,
            user: USER.into(),
            password: Secret::new(PASSWORD),
            timeouts: ImapTimeouts {
                connect: Duration::from_secs(10),
                read: Duration::from_secs(10),
                command: Duration::from_secs(30),
            },
            max_message_bytes: 10 * 1024 * 1024,
        }
    }

    /// The Maildir of `folder` of [`USER`] (`INBOX` or a folder name).
    fn maildir(&self, folder: &str) -> PathBuf {
        let root = self.dir.join("home").join("Maildir");
        if folder.eq_ignore_ascii_case("INBOX") { root } else { root.join(format!(".{folder}")) }
    }

    /// Drops a message straight into `folder` (`new/`), as a local
    /// delivery agent would.
    pub fn deliver(&self, folder: &str, message: &[u8]) {
        let root = self.dir.join("home").join("Maildir");
        let dir = self.maildir(folder);
        for d in [root.clone(), dir.clone(), dir.join("cur"), dir.join("new"), dir.join("tmp")] {
            std::fs::create_dir_all(&d).expect("create the maildir");
            self.own(&d);
        }
        let name = crate::unique_name("m");
        let tmp = dir.join("tmp").join(&name);
        std::fs::write(&tmp, message).expect("write the message");
        self.own(&tmp);
        std::fs::rename(&tmp, dir.join("new").join(format!("{name}.test"))).expect("deliver the message");
    }

    fn own(&self, path: &Path) {
        if let Some(uid) = self.mail_owner {
            std::os::unix::fs::chown(path, Some(uid), Some(uid)).expect("chown to the mail user");
        }
    }

    /// The messages in `folder`, read from the Maildir, oldest name first.
    pub fn messages(&self, folder: &str) -> Vec<Vec<u8>> {
        let dir = self.maildir(folder);
        let mut files: Vec<PathBuf> = ["new", "cur"]
            .iter()
            .filter_map(|s| std::fs::read_dir(dir.join(s)).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
    }
}

impl Drop for ImapServer {
    fn drop(&mut self) {
        // The helper processes follow the master when it dies.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
