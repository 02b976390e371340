//! The `werkbrug` command line: serve the API, run migrations, issue tokens, export the schema.

mod config;
mod import;
mod keys;

/// The allocator of the whole binary, server and importers alike (see Cargo.toml).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use migrations::{Migrator, MigratorTrait};
use model::Role;
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use server::auth::{self, TokenRequest};

/// werkbrug — a GraphQL data platform for social employment in Amsterdam.
///
/// Start with `werkbrug serve --demo`: it loads invented sample data into a fresh SQLite file,
/// prints a token for every role and serves GraphiQL at http://127.0.0.1:8080/.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Configuration file (TOML). Default: ./werkbrug.toml when it exists.
    #[arg(long, global = true, env = "WERKBRUG_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log lines as text for people, or one JSON object per line for a log collector.
    #[arg(
        long,
        global = true,
        env = "WERKBRUG_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text
    )]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written (to standard error).
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, with the current span's fields (request, import run).
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the GraphQL server (GraphiQL at /, API at /graphql, /healthz, /readyz).
    Serve {
        /// Load the bundled sample data into a fresh SQLite file (werkbrug-demo.db) and print a
        /// ready token for each role.
        #[arg(long)]
        demo: bool,
        /// Address to listen on (overrides [server] listen), e.g. 127.0.0.1:0 for any free port.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Apply or roll back database migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Inspect the audit log of reads of personal and special fields.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Import one configured source now (a `[[source]]` in werkbrug.toml), e.g.
    /// `werkbrug import gemeente-deelnemers --file export.xlsx --dry-run`.
    Import {
        /// The source's `name`.
        source: String,
        /// Read this file (or URL) instead of the source's `location`.
        #[arg(long, value_name = "PATH")]
        file: Option<String>,
        /// Validate and count only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Read every row even when the files are those the last successful run read.
        #[arg(long)]
        reread: bool,
    },
    /// Print the GraphQL schema (SDL); `schema.graphql` in the repository is its output.
    ExportSchema,
    /// Fill an empty database with PERSONS generated municipality rows through the importers,
    /// plus the caseworkers' consent approvals and the partners' vacancies (benchmarks and load
    /// tests: bench/peers, bench/load).
    #[command(hide = true)]
    Seed {
        /// How many persons (rows of the municipality export).
        #[arg(long, default_value_t = 100_000)]
        persons: usize,
        /// Seed of the generator; the same seed gives the same people.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Where to write the generated XLSX export (default: a temporary folder).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Only write the export (DIR/gemeente-deelnemers.xlsx); touch no database.
        #[arg(long, requires = "dir")]
        export_only: bool,
        /// With --export-only: write the export as CSV (DIR/gemeente-deelnemers.csv).
        #[arg(long, requires = "export_only")]
        csv: bool,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Recompute the hash chain of the audit log; exits 1 and names the events that were
    /// changed, removed or inserted out of order.
    Verify,
}

#[derive(Subcommand)]
enum MigrateAction {
    /// Apply all pending migrations (the default).
    Up,
    /// Roll back the last N migrations.
    Down {
        /// How many migrations to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List applied and pending migrations.
    Status,
}

#[derive(Subcommand)]
enum TokenAction {
    /// Issue a bearer token; prints it as the last line.
    ///
    /// Example: werkbrug token create --role caseworker --org "Gemeente Amsterdam" --scope special:read
    Create {
        /// caseworker, partner, network, dashboard or steward.
        #[arg(long)]
        role: String,
        /// The organisation's name as imported (e.g. "Gemeente Amsterdam") or its short code.
        #[arg(long)]
        org: String,
        /// Extra permission; repeatable. Known: special:read (caseworkers only).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30d, 12h, 90m (default: [auth] default_token_ttl, 30d).
        #[arg(long)]
        ttl: Option<String>,
        /// Who the token is for (account or tool name); appears in the audit log.
        #[arg(long, default_value = "cli")]
        subject: String,
    },
    /// List issued tokens (ids, who, role, organisation, expiry); never the tokens themselves.
    List {
        /// Also revoked and expired tokens.
        #[arg(long)]
        all: bool,
    },
    /// Revoke tokens: refused from the next request on.
    ///
    /// Example: werkbrug token revoke --subject laptop-jan   (every token issued to it)
    Revoke {
        /// Token ids, as `werkbrug token list` shows them.
        ids: Vec<String>,
        /// Every token issued to this subject.
        #[arg(long)]
        subject: Option<String>,
        /// Every token of this organisation (name or code).
        #[arg(long)]
        org: Option<String>,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    // A panic's message may quote the data it was handling: log where it happened, not what it
    // said. (The server answers the request with a 500; see `server::http`.)
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(at = %at, "panic (message withheld: it may quote personal data)");
    }));
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        // Spans (request, import run) as fields of every line; never values, as in text.
        LogFormat::Json => logs
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    match cli.command {
        Command::ExportSchema => {
            print!("{}", server::sdl());
            Ok(())
        }
        Command::Audit {
            action: AuditAction::Verify,
        } => {
            let loaded = config::load(cli.config.as_deref())?;
            let db = connect(&loaded.settings.database).await?;
            let report = server::audit::verify_chain(&db)
                .await
                .context("cannot read the audit log")?;
            if report.broken.is_empty() {
                println!("audit chain intact: {} events", report.events);
                Ok(())
            } else {
                let ids: Vec<String> = report.broken.iter().map(i64::to_string).collect();
                bail!(
                    "audit chain broken: {} of {} events do not match the chain (ids {}); the log was altered in the database",
                    report.broken.len(),
                    report.events,
                    ids.join(", ")
                )
            }
        }
        Command::Migrate { action } => {
            let loaded = config::load(cli.config.as_deref())?;
            let db = connect(&loaded.settings.database).await?;
            migrate(&db, action.unwrap_or(MigrateAction::Up)).await
        }
        Command::Token { action } => {
            let loaded = config::load(cli.config.as_deref())?;
            let keys = keys::load(&loaded)?;
            let db = connect(&loaded.settings.database).await?;
            Migrator::up(&db, None)
                .await
                .context("cannot apply migrations")?;
            let (role, org, scopes, ttl, subject) = match action {
                TokenAction::Create {
                    role,
                    org,
                    scopes,
                    ttl,
                    subject,
                } => (role, org, scopes, ttl, subject),
                TokenAction::List { all } => return list_tokens(&db, all).await,
                TokenAction::Revoke { ids, subject, org } => {
                    let what = auth::Revocation {
                        ids,
                        subject,
                        organisation: org,
                    };
                    let revoked = auth::revoke_tokens(&db, &what).await?;
                    for id in &revoked {
                        println!("{id}");
                    }
                    eprintln!(
                        "revoked {} token(s); they are refused from the next request on",
                        revoked.len()
                    );
                    return Ok(());
                }
            };
            let ttl = ttl.unwrap_or(loaded.settings.auth.default_token_ttl.clone());
            let request = TokenRequest {
                subject,
                role: role
                    .parse::<Role>()
                    .map_err(|e| anyhow::anyhow!("--role: {e}"))?,
                organisation: org,
                scopes,
                ttl: parse_ttl(&ttl)?,
            };
            if request.role != Role::Caseworker && !request.scopes.is_empty() {
                bail!("--scope special:read is only for caseworkers");
            }
            let (token, expires) = auth::issue_token(&db, &keys.tokens, &request).await?;
            eprintln!(
                "token for {} ({}) at {}, expires {}:",
                request.subject,
                request.role,
                request.organisation,
                expires.format("%Y-%m-%d %H:%M UTC")
            );
            println!("{token}");
            Ok(())
        }
        Command::Import {
            source,
            file,
            dry_run,
            reread,
        } => {
            let loaded = config::load(cli.config.as_deref())?;
            let keys = keys::load(&loaded)?;
            let db = connect(&loaded.settings.database).await?;
            Migrator::up(&db, None)
                .await
                .context("cannot apply migrations")?;
            let options = importers::RunOptions {
                file,
                dry_run,
                reread,
                ..Default::default()
            };
            import::run(&loaded.settings, db, keys.protector, &source, options).await
        }
        Command::Seed {
            persons,
            seed,
            dir,
            export_only,
            csv,
        } => {
            if let (true, Some(dir)) = (export_only, &dir) {
                let started = std::time::Instant::now();
                let file = importers::sample::write_generated_export(persons, seed, dir, csv)?;
                println!(
                    "wrote {} in {:.1}s",
                    file.display(),
                    started.elapsed().as_secs_f64()
                );
                return Ok(());
            }
            let loaded = config::load(cli.config.as_deref())?;
            let keys = keys::load(&loaded)?;
            let db = connect(&loaded.settings.database).await?;
            Migrator::up(&db, None)
                .await
                .context("cannot apply migrations")?;
            let temp = tempfile::Builder::new()
                .prefix("werkbrug-seed-")
                .tempdir()
                .context("cannot create a temporary folder for the generated export")?;
            let dir = dir.unwrap_or_else(|| temp.path().to_path_buf());
            let started = std::time::Instant::now();
            let s = importers::sample::load_generated(&db, &keys.protector, persons, seed, &dir)
                .await
                .context("cannot load the generated data")?;
            println!(
                "seeded in {:.1}s: {} persons, {} placements, {} consents, {} vacancies, {} rows rejected",
                started.elapsed().as_secs_f64(),
                s.persons,
                s.placements,
                s.consents,
                s.vacancies,
                s.rejected
            );
            Ok(())
        }
        Command::Serve { demo, listen } => {
            let mut loaded = config::load(cli.config.as_deref())?;
            if let Some(listen) = listen {
                loaded.settings.server.listen = listen;
            }
            serve(loaded, demo).await
        }
    }
}

fn parse_ttl(text: &str) -> Result<chrono::Duration> {
    let d = humantime::parse_duration(text)
        .with_context(|| format!("--ttl `{text}` is not a duration; write e.g. 30d, 12h or 90m"))?;
    chrono::Duration::from_std(d).context("--ttl is too long")
}

/// How long a pooled connection may sit idle before it is checked when next taken.
const IDLE_BEFORE_PING_SECS: u64 = 5;

/// Connects to the database; SQLite files are created when missing. `connect_timeout_secs`
/// bounds both connecting and waiting for a pooled connection.
async fn connect(database: &config::DatabaseConfig) -> Result<DatabaseConnection> {
    let url = database.url.as_str();
    let url = if url.starts_with("sqlite:") && !url.contains("mode=") && !url.contains(":memory:") {
        format!("{url}{}mode=rwc", if url.contains('?') { '&' } else { '?' })
    } else {
        url.to_owned()
    };
    let mut opts = ConnectOptions::new(url.clone());
    // SQLite: more than one connection, so that reads (and /readyz) go on while an import holds
    // its transaction; in WAL mode readers never wait for the writer. Writes still take turns.
    // (An in-memory database is one per connection, so it keeps one.)
    let sqlite_default = if url.contains(":memory:") {
        Some(1)
    } else {
        url.starts_with("sqlite:").then_some(4)
    };
    if let Some(n) = database.max_connections.or(sqlite_default) {
        opts.max_connections(n.max(1));
    }
    opts.sqlx_logging(false)
        .connect_timeout(Duration::from_secs(database.connect_timeout_secs.max(1)))
        // A pooled connection is checked (a round trip to the database) before it is handed
        // out only when it sat idle long enough to have been dropped by the server or a
        // network device; sqlx's default checks it on every checkout, one extra round trip per
        // statement (q1 of bench/peers: see docs/benchmarks.md). A connection that broke
        // while busy fails its statement and is replaced.
        .test_before_acquire_if_idle_for(Duration::from_secs(IDLE_BEFORE_PING_SECS))
        // SQLite: write-ahead log (readers never wait for the importer), fsync at checkpoints
        // (safe with WAL: a power cut loses at most the last commits, never consistency), and a
        // 64 MiB page cache so a large import does not spill and re-read pages.
        .map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .pragma("cache_size", "-65536")
        });
    // PostgreSQL: random reads priced as what they are on SSDs and a cached working set. With
    // the default (4), a partner's search walked every candidate in person order, testing
    // district and skill on each, instead of walking one district's (district, person) index:
    // 1.13 against 0.25 ms per search with 100,000 candidates, q1 of bench/peers +17%.
    if let Some(cost) = database.postgres_random_page_cost.filter(|c| *c > 0.0) {
        opts.map_sqlx_postgres_opts(move |o| o.options([("random_page_cost", cost)]));
    }
    Database::connect(opts).await.with_context(|| {
        format!(
            "cannot connect to the database `{}`; check [database] url or DATABASE_URL",
            redact_url(&url)
        )
    })
}

/// The URL without its password.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}://{}:***@{}", &url[..s], user, &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

async fn migrate(db: &DatabaseConnection, action: MigrateAction) -> Result<()> {
    match action {
        MigrateAction::Up => {
            Migrator::up(db, None).await.context("migration failed")?;
            println!("migrations applied");
        }
        MigrateAction::Down { steps } => {
            Migrator::down(db, Some(steps))
                .await
                .context("rollback failed")?;
            println!("rolled back {steps} migration(s)");
        }
        MigrateAction::Status => {
            for m in Migrator::get_applied_migrations(db).await? {
                println!("applied  {}", m.name());
            }
            for m in Migrator::get_pending_migrations(db).await? {
                println!("pending  {}", m.name());
            }
        }
    }
    Ok(())
}

/// Prints issued tokens as a table (`werkbrug token list`).
async fn list_tokens(db: &DatabaseConnection, all: bool) -> Result<()> {
    let now = chrono::Utc::now();
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "id",
        "subject",
        "role",
        "organisation",
        "scopes",
        "issued",
        "expires",
        "status",
    ]);
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M").to_string();
    for (t, org) in auth::list_tokens(db, all).await? {
        let status = match t.revoked_at {
            Some(at) => format!("revoked {}", time(at)),
            None if t.expires_at <= now => "expired".to_owned(),
            None => "active".to_owned(),
        };
        let scopes: Vec<&str> = t
            .scopes
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str()).collect())
            .unwrap_or_default();
        table.add_row([
            t.token_id.clone(),
            t.subject.clone(),
            t.role.clone(),
            org,
            scopes.join(" "),
            time(t.created_at),
            time(t.expires_at),
            status,
        ]);
    }
    println!("{table}");
    Ok(())
}

/// Demo tokens: (role, organisation code, scopes, what to try).
const DEMO_TOKENS: &[(Role, &str, &[&str], &str)] = &[
    (
        Role::Caseworker,
        "gemeente-amsterdam",
        &[],
        "{ persons(first: 5) { edges { node { id identity { givenName familyName } profile { skills district } sources { source sourceKey lastSeenAt importRun } } } } }",
    ),
    (
        Role::Caseworker,
        "pantar",
        &[auth::SCOPE_SPECIAL_READ],
        "{ persons(first: 3) { edges { node { sensitive { healthNotes legalBasis } } } } }",
    ),
    (
        Role::Partner,
        "schoonmaak-amstelglans",
        &[],
        "{ me { role organisation { name } } organisations { name kind } }",
    ),
    (
        Role::Network,
        "sociaal-werkkoepel",
        &[],
        "{ organisations(kind: \"employer\") { name } }",
    ),
    (
        Role::Dashboard,
        "sociaal-werkkoepel",
        &[],
        "{ organisations { name } }",
    ),
    (
        Role::Steward,
        "gemeente-amsterdam",
        &[],
        "{ sources { name kind format } importRuns { source status rowsRead } }",
    ),
];

const DEMO_DB: &str = "werkbrug-demo.db";

async fn serve(mut loaded: config::Loaded, demo: bool) -> Result<()> {
    let keys = keys::load(&loaded)?;
    if demo {
        for suffix in ["", "-shm", "-wal"] {
            let _ = std::fs::remove_file(format!("{DEMO_DB}{suffix}"));
        }
        loaded.settings.database.url = format!("sqlite://{DEMO_DB}");
    }
    let db = connect(&loaded.settings.database).await?;
    let s = &loaded.settings.server;
    let settings = server::ServerSettings {
        request_timeout: Duration::from_secs(s.request_timeout_secs),
        body_limit: s.body_limit_bytes,
        max_depth: s.max_query_depth,
        max_complexity: s.max_query_complexity,
        max_page: s.max_page_size,
        max_aliases: s.max_aliases,
        max_list_items: s.max_list_items,
        min_cell_size: loaded.settings.privacy.min_cell_size as usize,
        min_rate_denominator: loaded.settings.privacy.min_rate_denominator as usize,
        outcome_window_days: i64::from(loaded.settings.stats.outcome_window_days),
        stats_cache: Duration::from_secs(loaded.settings.stats.cache_seconds),
        metrics: s.metrics,
        keep_token_checks: loaded.settings.auth.keep_token_checks,
    };
    if s.metrics {
        server::metrics::install();
        importers::events::describe_metrics();
    }
    let state = server::AppState::new(
        db.clone(),
        keys.tokens.clone(),
        keys.protector.clone(),
        settings,
    )?;
    let mut banner = String::new();
    // Kept until the server stops: the demo's sources point at these files.
    let mut demo_files = None;
    let mut imported = String::new();
    if demo {
        // The demo fills its database before it listens, so its banner can name the tokens.
        Migrator::up(&db, None)
            .await
            .context("cannot apply migrations")?;
        let files = demo_files.insert(
            tempfile::Builder::new()
                .prefix("werkbrug-demo-")
                .tempdir()
                .context("cannot create a temporary folder for the sample files")?,
        );
        let summary = importers::sample::load_sample(&db, &keys.protector, 2026, files.path())
            .await
            .context("cannot load the sample data")?;
        tracing::info!(
            persons = summary.persons,
            organisations = summary.organisations,
            runs = summary.runs,
            rejected = summary.rejected,
            files = %files.path().display(),
            "sample data imported into {DEMO_DB}"
        );
        imported = format!(
            "\nSample exports imported through the importers ({} runs, {} rows rejected; see \
             `importRuns` as the steward): {}\n",
            summary.runs,
            summary.rejected,
            files.path().display()
        );
        for (role, org, scopes, example) in DEMO_TOKENS {
            let request = TokenRequest {
                subject: format!("demo-{role}"),
                role: *role,
                organisation: (*org).to_owned(),
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                ttl: chrono::Duration::days(1),
            };
            let (token, _) = auth::issue_token(&db, &keys.tokens, &request).await?;
            let scope = if scopes.is_empty() {
                String::new()
            } else {
                format!(" +{}", scopes.join(","))
            };
            // Special fields are read only under a named processing purpose.
            let purpose = if scopes.is_empty() {
                String::new()
            } else {
                format!(
                    ", \"{}\": \"case_management\"",
                    server::audit::PURPOSE_HEADER
                )
            };
            banner.push_str(&format!(
                "\n  {role}{scope} @ {org}\n    try:    {example}\n    header: {{\"Authorization\": \"Bearer {token}\"{purpose}}}\n"
            ));
        }
    }
    let listener = tokio::net::TcpListener::bind(&s.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another server running there? choose another with --listen", s.listen))?;
    let addr = listener.local_addr()?;
    if demo {
        println!(
            "\nwerkbrug demo: invented sample data, never real people.\n\
             GraphiQL: http://{addr}/  (paste a header below into GraphiQL's Headers tab)\n\
             Dashboard: http://{addr}/dashboard  (paste the network or dashboard token)\n\
             {imported}Tokens, valid for one day:{banner}"
        );
    }
    // Listening before migrations run, so that /readyz can say "not yet" meanwhile.
    let migrate = loaded.settings.database.auto_migrate && !demo;
    if migrate {
        state.readiness.set(server::Phase::Migrating);
    }
    let stop = std::sync::Arc::new(tokio::sync::watch::channel(false).0);
    let signal = stop.clone();
    tokio::spawn(async move {
        server::http::shutdown_signal().await;
        signal.send_replace(true);
    });
    let mut stopped = stop.subscribe();
    let http = tokio::spawn(server::serve_until(listener, state.clone(), async move {
        let _ = stopped.wait_for(|s| *s).await;
    }));
    println!("listening on http://{addr}");
    tracing::info!(%addr, "werkbrug serving GraphQL at /graphql, GraphiQL at /");
    if migrate {
        tracing::info!("applying database migrations; /readyz answers 503 until they are done");
        if let Err(e) = Migrator::up(&db, None).await {
            return give_up(
                &stop,
                http,
                anyhow::Error::new(e).context("cannot apply migrations"),
            )
            .await;
        }
        state.readiness.finish_migrating();
        tracing::info!("migrations applied; ready");
    }
    // The scheduler runs beside the server; it shares only the database with it.
    let scheduler = if loaded.settings.sources.is_empty() || *stop.borrow() {
        None
    } else {
        let importer = importers::Importer::new(
            db.clone(),
            keys.protector.clone(),
            loaded.settings.import.clone(),
            loaded.settings.sources.clone(),
        );
        let started = async {
            importer
                .sync_sources()
                .await
                .context("the [[source]] configuration is not valid")?;
            anyhow::Ok(importers::scheduler::start(importer).await?)
        };
        match started.await {
            Ok(scheduler) => Some(scheduler),
            Err(e) => return give_up(&stop, http, e).await,
        }
    };
    http.await.context("the HTTP server task failed")??;
    if let Some(scheduler) = scheduler {
        let grace = Duration::from_secs(loaded.settings.import.shutdown_grace_secs);
        tracing::info!(
            grace_secs = grace.as_secs(),
            "waiting for a running import to finish (or to roll back after the grace)"
        );
        scheduler.shutdown_within(grace).await;
    }
    drop(demo_files);
    tracing::info!("stopped");
    Ok(())
}

/// Stops serving (open requests finish), then returns `error`.
async fn give_up(
    stop: &tokio::sync::watch::Sender<bool>,
    http: tokio::task::JoinHandle<std::io::Result<()>>,
    error: anyhow::Error,
) -> Result<()> {
    stop.send_replace(true);
    let _ = http.await;
    Err(error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://werkbrug.db"), "sqlite://werkbrug.db");
    }

    #[test]
    fn ttl_parses() {
        assert_eq!(parse_ttl("30d").unwrap(), chrono::Duration::days(30));
        assert!(parse_ttl("soon").is_err());
    }
}
