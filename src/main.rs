//! The `panoptes` command line: serve, init, check, import, export, token, user, backup, agent,
//! farm.
//!
//! Errors here are for a person at a terminal: one line, `panoptes: error: ...`, exit status 1.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use panoptes::app::{self, Overrides, Server};
use panoptes::clock::{SharedClock, SystemClock};
use panoptes::config::{self, root::Config};
use panoptes::metrics::Metrics;
use panoptes::telemetry::LogFormat;
use panoptes::{auth, telemetry};
use tracing::{error, info, warn};

#[path = "cli/agent.rs"]
mod agent_cli;
#[path = "cli/backup.rs"]
mod backup_client;
use agent_cli::agent;
#[path = "cli/export.rs"]
mod export;
#[path = "cli/import.rs"]
mod import;
#[path = "cli/password.rs"]
mod password;
use password::read_password;

#[derive(Parser)]
#[command(
    name = "panoptes",
    version,
    about = "Self-hosted observability server: probes, exceptions, Sentry-compatible ingest, alerts."
)]
struct Cli {
    /// Log format: text (default) or json.
    #[arg(long, global = true, env = "PANOPTES_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormatArg>,
    /// Log filter, e.g. `info` or `panoptes=debug` (overrides log.level).
    #[arg(long, global = true, env = "PANOPTES_LOG")]
    log_level: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(clap::Args, Clone, Default)]
struct Location {
    /// Config file (YAML). Without one, the embedded default is used.
    #[arg(long, short = 'c', env = "PANOPTES_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (overrides server.data_dir).
    #[arg(long, env = "PANOPTES_DATA_DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        #[command(flatten)]
        location: Location,
        /// Listen address, e.g. 127.0.0.1:8080 (overrides server.listen).
        #[arg(long, env = "PANOPTES_LISTEN")]
        listen: Option<String>,
    },
    /// Write a commented example config (to FILE, or stdout).
    Init {
        file: Option<PathBuf>,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Validate a config file and print every error; exit status 1 when invalid.
    Check { file: PathBuf },
    /// Convert another tool's config into Panoptes config (printed on stdout).
    Import {
        #[command(subcommand)]
        from: ImportCommand,
    },
    /// Print the monitors created through the API or the dashboard as a config file's
    /// `monitors:` section: from a running server (--server), or from a stopped one's data.
    Export {
        /// Base URL of a running server, e.g. http://127.0.0.1:8080.
        #[arg(long, env = "PANOPTES_SERVER")]
        server: Option<String>,
        /// API token (editor or admin) for --server.
        #[arg(long, env = "PANOPTES_TOKEN")]
        token: Option<String>,
        #[command(flatten)]
        location: Location,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage dashboard users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Write a consistent copy of the data file. With --server, from a running server (its API
    /// streams a snapshot while it keeps writing); without, from the data file of a stopped
    /// one. Restore by starting panoptes on the copy (as `panoptes.redb` in a data directory).
    Backup {
        /// Where to write the copy (must not exist).
        #[arg(long)]
        to: PathBuf,
        /// Base URL of a running server, e.g. http://127.0.0.1:8080.
        #[arg(long, env = "PANOPTES_SERVER")]
        server: Option<String>,
        /// API token for --server.
        #[arg(long, env = "PANOPTES_TOKEN")]
        token: Option<String>,
        #[command(flatten)]
        location: Location,
    },
    /// Run as a probing agent for a server (or, with `token`, create an agent's token).
    #[command(args_conflicts_with_subcommands = true)]
    Agent {
        #[command(subcommand)]
        command: Option<AgentCommand>,
        #[command(flatten)]
        run: AgentRun,
    },
    /// A farm of Panoptes instances forwarding to one upstream Sentry.
    Farm {
        #[command(subcommand)]
        command: FarmCommand,
    },
}

#[derive(Subcommand)]
enum FarmCommand {
    /// Print each instance's forwarding backlog (`GET /count`) and the farm's totals: to send,
    /// processed, ignored (with its share), mean and p90 upstream response time.
    Stats {
        /// Instances, e.g. http://10.0.0.5:8080 (with --ports, the host to combine with them).
        #[arg(required = true)]
        urls: Vec<String>,
        /// Ports of every URL's host: 9000-9004, or 9000,9002.
        #[arg(short = 'p', long)]
        ports: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token and print it (shown only once).
    Create {
        name: String,
        /// What the token may do: viewer, editor or admin.
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: auth::Role,
        #[command(flatten)]
        location: Location,
    },
}

#[derive(clap::Args, Clone, Default)]
struct AgentRun {
    /// The server's base URL, e.g. http://10.0.0.5:8080.
    #[arg(long, env = "PANOPTES_SERVER")]
    server: Option<String>,
    /// The agent token (`panoptes agent token`, or `POST /api/v1/agents`).
    #[arg(long, env = "PANOPTES_AGENT_TOKEN")]
    token: Option<String>,
    /// This agent's location (overrides probing.location).
    #[arg(long = "location")]
    at: Option<String>,
    /// Most bytes of unsent results kept while the server is away; beyond, the oldest are
    /// dropped (counted and logged).
    #[arg(long, env = "PANOPTES_AGENT_MAX_SPOOL_BYTES",
          default_value_t = panoptes::agent::run::DEFAULT_MAX_SPOOL_BYTES)]
    max_spool_bytes: u64,
    #[command(flatten)]
    location: Location,
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Create an agent for a location and print its token (shown only once; the server must
    /// be stopped: this opens its data file).
    Token {
        name: String,
        /// The agent's location, as monitors name it in `locations:`.
        #[arg(long = "location")]
        at: String,
        #[command(flatten)]
        location: Location,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// A Gatus config's endpoints as Panoptes monitors (what cannot be carried over is listed
    /// on stderr).
    Gatus { file: PathBuf },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user or set its password (read from stdin, or prompted on a terminal).
    Add {
        name: String,
        /// What the user may do: viewer, editor or admin.
        #[arg(long, default_value = "admin", value_parser = parse_role)]
        role: auth::Role,
        #[command(flatten)]
        location: Location,
    },
}

fn parse_role(s: &str) -> Result<auth::Role, String> {
    s.parse::<auth::Role>()
        .map_err(|_| format!("`{s}` is not a role: viewer, editor or admin"))
}

/// See Cargo.toml: glibc malloc was a fifth of the ingest path's CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("panoptes: error: {e}");
            ExitCode::from(1)
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let log_format = cli.log_format;
    let log_level = cli.log_level;
    match cli.command {
        Command::Serve { location, listen } => {
            let listen = listen
                .map(|l| {
                    l.parse::<SocketAddr>().map_err(|_| {
                        format!(
                            "invalid --listen address `{l}`: expected host:port like 127.0.0.1:8080"
                        )
                    })
                })
                .transpose()?;
            let overrides = Overrides {
                data_dir: location.data_dir.clone(),
                listen,
            };
            let config = load(location.config.as_deref(), &overrides)?;
            let log = init_log(log_format, log_level.clone(), &config)?;
            runtime()?.block_on(serve(
                config,
                location.config,
                overrides,
                log,
                log_level.is_some(),
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { file, force } => {
            match file {
                None => print!("{}", config::root::EXAMPLE),
                Some(path) => {
                    if path.exists() && !force {
                        return Err(format!(
                            "{} already exists; pass --force to overwrite",
                            path.display()
                        ));
                    }
                    std::fs::write(&path, config::root::EXAMPLE)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    eprintln!(
                        "wrote {}; check it with `panoptes check {}`",
                        path.display(),
                        path.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            from: ImportCommand::Gatus { file },
        } => export::import_gatus(&file),
        Command::Export {
            server,
            token,
            location,
        } => {
            let config = match server {
                Some(_) => None,
                None => Some(load(location.config.as_deref(), &overrides_of(&location))?),
            };
            print!(
                "{}",
                runtime()?.block_on(export::run(server, token, config))?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { file } => match config::root::load(&file) {
            Ok(c) => {
                // Valid, but worth knowing (the same lines `serve` logs at start and reload).
                for w in config::root::warnings(&c) {
                    println!("warning: {w}");
                }
                println!("{}: ok", file.display());
                Ok(ExitCode::SUCCESS)
            }
            Err(errors) => {
                for e in &errors.0 {
                    println!("{e}");
                }
                eprintln!("{}: {} error(s)", file.display(), errors.0.len());
                Ok(ExitCode::from(1))
            }
        },
        Command::Token {
            command:
                TokenCommand::Create {
                    name,
                    role,
                    location,
                },
        } => {
            let config = load(location.config.as_deref(), &overrides_of(&location))?;
            let created = runtime()?.block_on(async {
                let store = app::open_store(&config, &Metrics::new()).map_err(|e| e.to_string())?;
                let clock: SharedClock = Arc::new(SystemClock);
                let r = auth::create_token(&store, &clock, "cli", &name, role).await;
                store.close().await;
                r.map_err(|e| e.to_string())
            })?;
            println!("{}", created.token);
            eprintln!(
                "token `{}` (id {}) created; it is shown only now. Use it as `Authorization: Bearer <token>`.",
                created.info.name, created.info.id
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent { command: None, run } => {
            let (Some(server), Some(token), Some(at)) = (run.server, run.token, run.at) else {
                return Err("panoptes agent needs --server, --token and --location".into());
            };
            let config = load(run.location.config.as_deref(), &overrides_of(&run.location))?;
            // The agent logs like the server (its spool's losses and the server's absence are
            // only ever said there).
            let _log = init_log(log_format, log_level, &config)?;
            let settings = panoptes::agent::run::Settings {
                server,
                token,
                location: at,
                probing: config.probing.clone(),
                max_spool_bytes: run.max_spool_bytes,
            };
            runtime()?.block_on(agent(config, settings))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Agent {
            command: Some(AgentCommand::Token { name, at, location }),
            ..
        } => {
            let config = load(location.config.as_deref(), &overrides_of(&location))?;
            let created = runtime()?.block_on(async {
                let store = app::open_store(&config, &Metrics::new()).map_err(|e| e.to_string())?;
                let clock: SharedClock = Arc::new(SystemClock);
                let r = panoptes::agent::create(&store, &clock, "cli", &name, &at).await;
                store.close().await;
                r.map_err(|e| e.to_string())
            })?;
            println!("{}", created.token);
            eprintln!(
                "agent `{}` at `{}` created; its token is shown only now.",
                created.name, created.location
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup {
            to,
            server,
            token,
            location,
        } => {
            if to.exists() {
                return Err(format!(
                    "{} already exists; a backup never overwrites a file",
                    to.display()
                ));
            }
            match server {
                Some(url) => {
                    let token = token.ok_or("--server needs --token (or PANOPTES_TOKEN)")?;
                    let bytes =
                        runtime()?.block_on(backup_client::backup_online(&url, &token, &to))?;
                    eprintln!("wrote {} ({bytes} bytes) from {url}", to.display());
                }
                None => {
                    let config = load(location.config.as_deref(), &overrides_of(&location))?;
                    let source = config.server.data_dir.join(panoptes::store::DATA_FILE);
                    let stats = panoptes::store::backup::backup_offline(&source, &to).map_err(
                        |e| match e {
                            panoptes::store::StoreError::Locked { .. } => format!(
                                "{e}; to back up a running server, pass --server http://HOST:PORT --token TOKEN"
                            ),
                            other => other.to_string(),
                        },
                    )?;
                    eprintln!(
                        "wrote {} ({} tables, {} rows) from {}",
                        to.display(),
                        stats.tables,
                        stats.rows,
                        source.display()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Farm {
            command: FarmCommand::Stats { urls, ports },
        } => {
            let instances = panoptes::forward::farm::instances(&urls, ports.as_deref())?;
            let rows = runtime()?.block_on(panoptes::forward::farm::fetch(
                &panoptes::outbound::default_clients(),
                &instances,
            ))?;
            print!("{}", panoptes::forward::farm::render(&rows));
            // Some instance did not answer: the totals are partial, and scripts should know.
            Ok(if rows.iter().all(|(_, r)| r.is_ok()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::User {
            command:
                UserCommand::Add {
                    name,
                    role,
                    location,
                },
        } => {
            auth::validate_user_name(&name).map_err(|e| e.to_string())?;
            let config = load(location.config.as_deref(), &overrides_of(&location))?;
            let password = read_password()?;
            auth::validate_password(&password).map_err(|e| e.to_string())?;
            runtime()?.block_on(async {
                let store = app::open_store(&config, &Metrics::new()).map_err(|e| e.to_string())?;
                let clock: SharedClock = Arc::new(SystemClock);
                let r = auth::set_user(&store, &clock, &name, &password, role).await;
                store.close().await;
                r.map_err(|e| e.to_string())
            })?;
            eprintln!("user `{name}` saved");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn overrides_of(location: &Location) -> Overrides {
    Overrides {
        data_dir: location.data_dir.clone(),
        listen: None,
    }
}

fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, String> {
    app::load_config(path, overrides).map_err(|errors| {
        let n = errors.0.len();
        format!("invalid configuration ({n} error(s)):\n{errors}")
    })
}

/// Logging as the flags say, else as the config's `log:` section.
fn init_log(
    format: Option<LogFormatArg>,
    level: Option<String>,
    config: &Config,
) -> Result<telemetry::LogHandle, String> {
    let format = match format {
        Some(LogFormatArg::Json) => LogFormat::Json,
        Some(LogFormatArg::Text) => LogFormat::Text,
        None => config.log.format,
    };
    telemetry::init(&level.unwrap_or_else(|| config.log.level.clone()), format)
}

async fn serve(
    config: Config,
    config_path: Option<PathBuf>,
    overrides: Overrides,
    log: telemetry::LogHandle,
    log_level_pinned: bool,
) -> Result<(), String> {
    // The handlers are installed before anything else: once "panoptes is serving" is logged a
    // SIGTERM or SIGINT must shut down cleanly, never take the default action (die with the
    // signal). A signal that arrives while the store opens waits until the server has started.
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| e.to_string())?;
    let addr = config.server.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let mut config = config;
    if config_path.is_none() {
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        config.monitors.extend(app::embedded::self_monitor(bound));
        if config.projects.is_empty() {
            let project = app::embedded::default_project(&config.server.data_dir)?;
            let host = if bound.ip().is_unspecified() {
                format!("127.0.0.1:{}", bound.port())
            } else {
                bound.to_string()
            };
            if let Some(key) = project.keys.first() {
                info!(
                    dsn = %format!("http://{}@{host}/{}", key.0, project.id),
                    "Sentry SDKs can send to the default project"
                );
            }
            config.projects.push(project);
        }
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let server = Server::start(
        config,
        listener,
        clock,
        panoptes::outbound::default_clients(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let _ = std::io::stderr().flush();

    loop {
        tokio::select! {
            _ = term.recv() => { info!("SIGTERM: shutting down"); break; }
            _ = int.recv() => { info!("SIGINT: shutting down"); break; }
            _ = hup.recv() => {
                let Some(path) = config_path.as_deref() else {
                    warn!("SIGHUP: no config file to reload (running on the embedded default)");
                    continue;
                };
                match app::load_config(Some(path), &overrides) {
                    Ok(new) => {
                        let warnings = server.reload(new, (!log_level_pinned).then_some(&log)).await;
                        server.state.metrics.config_reloads.get_or_create(&vec![("result".into(), "ok".into())]).inc();
                        info!(warnings = warnings.len(), "SIGHUP: configuration reloaded");
                    }
                    Err(errors) => {
                        server.state.metrics.config_reloads.get_or_create(&vec![("result".into(), "error".into())]).inc();
                        error!("SIGHUP: keeping the running configuration; the file has {} error(s):\n{errors}", errors.0.len());
                    }
                }
            }
        }
    }
    server.shutdown().await.map_err(|e| e.to_string())
}
