//! The `assent` binary: command line, configuration, logging, start-up and
//! shutdown. Everything else lives in the library crates.

mod config;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use assent_domain::{AccountAction, AccountId, EmailAddress, UserRole};
use assent_store::{NewToken, Store, TokenOwner};
use assent_web::{AppState, WebConfig, auth};
use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use crate::config::{Config, Overrides};

/// mimalloc instead of the system allocator: sending allocates and frees
/// message-sized buffers on every thread, and glibc's malloc spent about
/// a tenth of the sending CPU on them (consolidating free lists, locks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "assent", version, about = "Email distribution that only mails people who provably agreed")]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, env = "ASSENT_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER@HOST/DB.
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Log format: text or json.
    #[arg(long, global = true)]
    log_format: Option<String>,
    /// Nameserver (host:port) for checking sender domains' DNS records.
    #[arg(long, global = true)]
    dns_resolver: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run Assent (HTTP API; more roles arrive with their features).
    Serve {
        /// HTTP listen address.
        #[arg(long)]
        http: Option<String>,
        /// Base URL for links in mail and pages.
        #[arg(long)]
        public_url: Option<String>,
        /// Comma-separated roles to run in this process.
        #[arg(long, value_delimiter = ',')]
        roles: Option<Vec<String>>,
        /// SMTP relay for outgoing mail (repeatable): smtp://host:port?tls=starttls&user=…&password=…
        #[arg(long)]
        relay: Option<Vec<String>>,
        /// Listen address of the inbound SMTP listener (role `inbound`).
        #[arg(long)]
        inbound_smtp: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Operator administration.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Import contacts from a CSV file (the same checks and review rules as the API).
    Import {
        /// The CSV file (UTF-8 or Windows-1252; `,` `;` or tab separated; an `email` column).
        file: PathBuf,
        /// The account to import into.
        #[arg(long)]
        account: i64,
        /// The list to import into.
        #[arg(long)]
        list: i64,
        /// Consent origin of the whole file (purchase, business_card, offline_form, co_registration, contract).
        #[arg(long)]
        origin: Option<String>,
        /// Evidence for the origin, as JSON.
        #[arg(long, default_value = "{}")]
        evidence: String,
        /// Column holding each row's origin, instead of --origin.
        #[arg(long)]
        origin_column: Option<String>,
        /// Evidence field → column, as JSON: {"order_ref": "Order"}.
        #[arg(long)]
        evidence_columns: Option<String>,
        /// Header renames, as JSON: {"E-Mail": "email"}.
        #[arg(long)]
        mapping: Option<String>,
        /// auto, utf-8 or windows-1252.
        #[arg(long)]
        encoding: Option<String>,
        /// , ; or tab.
        #[arg(long)]
        delimiter: Option<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Inbound reports.
    Bounce {
        #[command(subcommand)]
        command: BounceCommand,
    },
    /// Account administration (as the operator).
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
}

#[derive(Subcommand)]
enum BounceCommand {
    /// Classify raw messages (bounce, DSN, ARF, auto-reply, anything): one
    /// JSON object per line and recipient.
    Classify {
        /// Files holding one raw message each.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Create an operator API token (and the operator, if there is none yet).
    CreateToken {
        /// Name to remember the token by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account; it starts in pending_audit.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
    },
    /// List all accounts as JSON lines.
    List,
    /// Activate an audited account (or reinstate a suspended one).
    Activate {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Reject an account's audit.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Suspend an account.
    Suspend {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Create an API token for an account (printed once).
    Token {
        id: i64,
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long, default_value = "owner")]
        role: String,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    // Classifying needs no configuration, database or runtime.
    if let Command::Bounce { command: BounceCommand::Classify { files } } = &cli.command {
        return bounce_classify(files);
    }
    let mut overrides = Overrides {
        database_url: cli.database_url.clone(),
        log_format: cli.log_format.clone(),
        ..Overrides::default()
    };
    if let Command::Serve { http, public_url, roles, relay, inbound_smtp } = &cli.command {
        overrides.http = http.clone();
        overrides.public_url = public_url.clone();
        overrides.roles = roles.clone();
        overrides.relay = relay.clone();
        overrides.inbound_smtp = inbound_smtp.clone();
    }
    let config = config::load(cli.config.as_deref(), &overrides).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    init_logging(&config.log_format)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run(cli.command, config))
}

fn init_logging(format: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ASSENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        "json" => builder.json().init(),
        "text" => builder.init(),
        other => bail!("unknown log format {other:?}: use text or json"),
    }
    Ok(())
}

/// `assent bounce classify FILE…` (DESIGN.md): exit 0 unless a file can't be read.
fn bounce_classify(files: &[PathBuf]) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut unreadable = Vec::new();
    for file in files {
        match std::fs::read(file) {
            Ok(raw) => {
                for line in assent_mail::inbound::classify_file_json(&file.to_string_lossy(), &raw) {
                    writeln!(out, "{line}")?;
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", file.display());
                unreadable.push(file.display().to_string());
            }
        }
    }
    out.flush()?;
    if unreadable.is_empty() { Ok(()) } else { bail!("could not read {}", unreadable.join(", ")) }
}

async fn open_store(config: &Config) -> Result<Arc<dyn Store>> {
    let store = assent_store::connect(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&config.database_url)))?;
    store.migrate().await.context("cannot migrate the database")?;
    Ok(store)
}

/// Hides a password in a database URL before it is logged.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}://{}:***{}", &url[..scheme], &creds[..colon], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

async fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve { .. } => serve(config).await,
        Command::Migrate => {
            open_store(&config).await?;
            println!("migrated {}", redact(&config.database_url));
            Ok(())
        }
        Command::Operator { command: OperatorCommand::CreateToken { name } } => {
            let store = open_store(&config).await?;
            let secret = operator_token(store.as_ref(), &config, &name).await?;
            println!("{secret}");
            Ok(())
        }
        Command::Account { command } => account_command(command, config).await,
        Command::Bounce { .. } => unreachable!("handled before the runtime starts"),
        Command::Import {
            file,
            account,
            list,
            origin,
            evidence,
            origin_column,
            evidence_columns,
            mapping,
            encoding,
            delimiter,
            quiet,
        } => {
            let parse = |name: &str, v: Option<String>| -> Result<Option<serde_json::Value>> {
                v.map(|v| serde_json::from_str(&v).with_context(|| format!("--{name} must be JSON"))).transpose()
            };
            let options = assent_engine::import::ImportOptions {
                encoding,
                delimiter,
                origin_column,
                mapping: parse("mapping", mapping)?
                    .map(serde_json::from_value)
                    .transpose()
                    .context("--mapping")?
                    .unwrap_or_default(),
                evidence_columns: parse("evidence-columns", evidence_columns)?
                    .map(serde_json::from_value)
                    .transpose()
                    .context("--evidence-columns")?
                    .unwrap_or_default(),
            };
            let evidence = parse("evidence", Some(evidence))?.unwrap_or_default();
            import_command(&config, file, account, list, origin, evidence, options, quiet).await
        }
    }
}

/// Creates an operator token, creating the operator first if there is none.
async fn operator_token(store: &dyn Store, config: &Config, name: &str) -> Result<String> {
    let operator = match store.find_operator(&config.operator_email).await? {
        Some(op) => op.id,
        None => store.create_operator(&config.operator_email, None).await?,
    };
    let (secret, hash) = auth::new_token();
    store
        .create_token(&NewToken {
            owner: TokenOwner::Operator(operator),
            role: UserRole::Owner,
            name: name.into(),
            token_hash: hash,
        })
        .await?;
    Ok(secret)
}

async fn serve(config: Config) -> Result<()> {
    let mut web_role = false;
    let mut worker_role = false;
    let mut inbound_role = false;
    for role in &config.roles {
        match role.as_str() {
            "web" => web_role = true,
            "worker" => worker_role = true,
            "inbound" => inbound_role = true,
            other => bail!("unknown role {other:?}: the roles are web, worker, inbound"),
        }
    }
    let store = open_store(&config).await?;
    if store.operator_count().await? == 0 {
        let secret = operator_token(store.as_ref(), &config, "first-start").await?;
        // A closed stdout must not take the server down (println! would panic).
        use std::io::Write;
        let _ = writeln!(
            std::io::stdout(),
            "Assent is set up. Operator API token (shown once, keep it safe):\n\n    {secret}\n\n\
             Use it as `Authorization: Bearer <token>` on {}/api/v1/…",
            config.public_url.trim_end_matches('/')
        );
    }
    let tokens = Arc::new(assent_web::token_key(store.as_ref()).await.context("cannot read the token secret")?);
    let addresses = config.address_policy();
    let mut trusted_proxies = Vec::new();
    for p in &config.trusted_proxies {
        trusted_proxies.push(
            assent_web::net::IpNet::parse(p).with_context(|| format!("trusted_proxies: {p:?} is not an IP or CIDR"))?,
        );
    }
    let web = WebConfig {
        public_url: config.public_url.clone(),
        max_json_bytes: config.max_json_bytes,
        trusted_proxies,
        resend_interval: Duration::from_secs(config.resend_interval_secs),
        confirmation_ttl: Duration::from_secs(config.unconfirmed_ttl_secs),
        signups_per_ip_per_minute: config.signups_per_ip_per_minute,
        signups_per_address_per_hour: config.signups_per_address_per_hour,
        import_dir: PathBuf::from(&config.import_dir),
        max_import_bytes: config.max_import_bytes,
        import: config.import_config(),
        spf_mechanism: config.spf_mechanism.clone(),
        bounce_mx: config.bounce_mx.clone(),
        dns_resolver: config.dns_resolver()?,
        ..WebConfig::default()
    };
    if assent_engine::message::parse_mailbox(&config.mail_from).is_none() {
        bail!("mail_from {:?} is not a valid mailbox: use `Name <address@domain.tld>`", config.mail_from);
    }
    let secrets = Arc::new(config.secret_box()?);
    let mut state = AppState::new(store.clone(), web, addresses, tokens.clone(), secrets.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut background = Vec::new();
    if worker_role {
        let transport: Arc<dyn assent_engine::Transport> = if config.relay.is_empty() {
            let maildir = assent_engine::Maildir::new(&config.outbox)
                .with_context(|| format!("cannot create the outbox maildir {}", config.outbox))?;
            tracing::info!(outbox = %maildir.dir().display(), "outgoing mail goes to the maildir outbox");
            Arc::new(maildir)
        } else {
            let mut relays = Vec::new();
            for r in &config.relay {
                relays.push(assent_smtp::Relay::parse(r).map_err(|e| anyhow::anyhow!("relay: {e}"))?);
            }
            tracing::info!(relays = relays.len(), "outgoing mail goes to SMTP relays");
            Arc::new(assent_engine::transport::SmtpTransport::new(relays).map_err(|e| anyhow::anyhow!("relay: {e}"))?)
        };
        state.transport = Some(transport.clone());
        let outbox = assent_engine::Outbox {
            store: store.clone(),
            transport,
            mailer: assent_engine::ConfirmationMailer {
                store: store.clone(),
                tokens: tokens.clone(),
                public_url: config.public_url.clone(),
            },
            from: config.mail_from.clone(),
            wake: state.outbox_wake.clone(),
        };
        background.push(tokio::spawn(outbox.run(stopped.clone())));
        let throttle = assent_engine::throttle::ThrottleConfig {
            per_domain: assent_engine::throttle::ThrottleConfig::parse_domains(&config.throttle_domains)
                .map_err(|e| anyhow::anyhow!("throttle_domains: {e}"))?,
            default_domain: config.throttle_default_domain,
            per_account: config.throttle_account,
            per_campaign: config.throttle_campaign,
        };
        let deliverer = assent_engine::delivery::Deliverer {
            store: store.clone(),
            throttles: Arc::new(assent_engine::throttle::Throttles::new(throttle)),
            transport: state.transport.clone().context("a worker always has a transport")?,
            secrets: secrets.clone(),
            tokens: tokens.clone(),
            public_url: config.public_url.clone(),
            policy: state.addresses.clone(),
            config: assent_engine::delivery::DeliveryConfig {
                concurrency: config.send_concurrency.max(1),
                lease: Duration::from_secs(config.delivery_lease_secs.max(1)),
                dkim: config.dkim_sign,
                ..assent_engine::delivery::DeliveryConfig::default()
            },
        };
        background.push(tokio::spawn(deliverer.work(state.campaign_wake.clone(), stopped.clone())));
        let importer = assent_engine::import::Importer {
            store: store.clone(),
            policy: state.addresses.clone(),
            config: config.import_config(),
        };
        background.push(tokio::spawn(importer.work(state.import_wake.clone(), stopped.clone())));
        background.push(tokio::spawn(assent_engine::housekeeping::run(
            store.clone(),
            Duration::from_secs(config.unconfirmed_ttl_secs),
            Duration::from_secs(3600),
            stopped.clone(),
        )));
        let monitor = assent_engine::reputation::Monitor { store: store.clone(), config: Default::default() };
        background.push(tokio::spawn(monitor.work(stopped.clone())));
    }
    let inbound = if inbound_role {
        let settings = assent_engine::inbound::InboundSettings {
            feedback_address: config.feedback_address.clone(),
            ..Default::default()
        };
        let processor =
            Arc::new(assent_engine::inbound::InboundProcessor::new(store.clone(), tokens.clone(), settings));
        let listen = assent_smtp::inbound::InboundConfig {
            listen: config.inbound_smtp.clone(),
            hostname: config.bounce_mx.clone(),
            ..Default::default()
        };
        if let Some(mailbox) = config.mailbox_config()? {
            let poller = assent_engine::mailbox::MailboxPoller { config: mailbox, handler: processor.clone() };
            background.push(tokio::spawn(poller.work(stopped.clone())));
        }
        Some(assent_smtp::inbound::InboundServer::start(listen, processor).await?)
    } else {
        None
    };
    if web_role {
        let listener =
            TcpListener::bind(&config.http).await.with_context(|| format!("cannot listen on {}", config.http))?;
        tracing::info!(address = %listener.local_addr()?, database = %redact(&config.database_url), "assent listening");
        assent_web::serve(listener, state, shutdown_signal()).await?;
    } else {
        shutdown_signal().await;
    }
    let _ = stop.send(true);
    if let Some(server) = inbound {
        server.shutdown(Duration::from_secs(10)).await;
    }
    for task in background {
        let _ = task.await;
    }
    tracing::info!("assent stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing open requests");
}

#[allow(clippy::too_many_arguments)]
async fn import_command(
    config: &Config,
    file: PathBuf,
    account: i64,
    list: i64,
    origin: Option<String>,
    evidence: serde_json::Value,
    options: assent_engine::import::ImportOptions,
    quiet: bool,
) -> Result<()> {
    use std::io::Write;
    let store = open_store(config).await?;
    let path = std::fs::canonicalize(&file).with_context(|| format!("cannot open {}", file.display()))?;
    let mut import_config = config.import_config();
    // A file named on the command line is the user's: never delete it.
    import_config.spool_dir = None;
    let new = assent_engine::import::check(
        store.as_ref(),
        &import_config,
        assent_engine::import::Upload {
            account: AccountId(account),
            list: assent_domain::ListId(list),
            origin: origin.as_deref(),
            evidence,
            options,
            path: &path,
            file_name: file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            created_by: "cli".into(),
            ip: None,
        },
    )
    .await
    .map_err(|e| anyhow::anyhow!("{} ({}): {}", e.field, e.code, e.message))?;
    let import = store.create_import(AccountId(account), &new).await?;
    let import =
        store.claim_import(assent_engine::now_ms(), 60_000).await?.filter(|i| i.id == import.id).unwrap_or(import);
    let importer = assent_engine::import::Importer {
        store: store.clone(),
        policy: std::sync::Arc::new(config.address_policy()),
        config: import_config,
    };
    let started = std::time::Instant::now();
    let done = importer
        .run(import, |p| {
            if quiet {
                return;
            }
            let width = 30;
            let filled = (p.fraction * width as f64) as usize;
            let eta = p.eta_secs.map(|e| format!("{e:.0}s")).unwrap_or_else(|| "-".into());
            let _ = write!(
                std::io::stderr(),
                "\r[{}{}] {:>5.1}%  {} rows  {:.0} rows/s  ETA {eta}   ",
                "#".repeat(filled),
                " ".repeat(width - filled),
                p.fraction * 100.0,
                p.rows_done,
                p.rows_per_sec
            );
        })
        .await;
    if !quiet {
        eprintln!();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "id": done.id,
            "status": done.status,
            "review": done.review,
            "review_reason": done.review_reason,
            "error": done.error,
            "counts": {"rows": done.rows_done, "imported": done.imported, "merged": done.merged, "rejected": done.rejected},
            "seconds": (secs * 1000.0).round() / 1000.0,
            "rows_per_sec": (done.rows_done as f64 / secs.max(1e-9)).round(),
        })
    );
    if done.status == "failed" {
        bail!("import failed: {}", done.error.unwrap_or_default());
    }
    Ok(())
}

async fn account_command(command: AccountCommand, config: Config) -> Result<()> {
    let store = open_store(&config).await?;
    let decide = |id: i64, action: AccountAction, reason: Option<String>| {
        let store = store.clone();
        async move {
            let account = assent_web::decide_account(store.as_ref(), AccountId(id), action, reason, "cli", None)
                .await
                .map_err(|e| anyhow::anyhow!("account {id}: {}", e.message))?;
            println!("account {id}: {}", account.status.as_str());
            anyhow::Ok(())
        }
    };
    match command {
        AccountCommand::Create { name, owner_email } => {
            let owner = EmailAddress::parse(&owner_email)?;
            let (account, _) = store.create_account(name.trim(), &owner).await?;
            println!("{}", serde_json::json!({"id": account.id, "status": account.status.as_str()}));
        }
        AccountCommand::List => {
            for a in store.list_accounts().await? {
                println!("{}", serde_json::to_string(&a)?);
            }
        }
        AccountCommand::Activate { id, reason } => decide(id, AccountAction::Activate, reason).await?,
        AccountCommand::Reject { id, reason } => decide(id, AccountAction::Reject, Some(reason)).await?,
        AccountCommand::Suspend { id, reason } => decide(id, AccountAction::Suspend, Some(reason)).await?,
        AccountCommand::Token { id, name, role } => {
            let role = UserRole::parse(&role).context("role must be owner, editor or viewer")?;
            let id = AccountId(id);
            store.get_account(id).await?.with_context(|| format!("no account {id}"))?;
            let (secret, hash) = auth::new_token();
            store
                .create_token(&NewToken {
                    owner: TokenOwner::Account { account: id, user: None },
                    role,
                    name,
                    token_hash: hash,
                })
                .await?;
            println!("{secret}");
        }
    }
    Ok(())
}
