//! werkbrug's GraphQL server: HTTP (axum), authentication, the privacy policy, resolvers and the
//! audit log. It reads the model; it never calls the importers.

// A page of candidates is resolved as one nested future (graphql::at_once), whose layout is
// deeper than the compiler's default query depth allows.
#![recursion_limit = "256"]

pub mod audit;
pub mod auth;
pub mod dashboard;
pub mod documents;
pub mod graphql;
pub mod http;
pub mod matching;
pub mod metrics;
pub mod policy;
pub mod stats;
pub mod visibility;

use std::sync::Arc;
use std::time::Duration;

use model::BsnProtector;
use sea_orm::{DatabaseConnection, DbBackend, SqlxPostgresConnector};

pub use graphql::{WerkbrugSchema, sdl};
pub use http::{app, serve, serve_until};
pub use metrics::install as install_metrics;

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// How long a request may take before it is answered with 408.
    pub request_timeout: Duration,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Deepest selection nesting a query may have.
    pub max_depth: usize,
    /// Highest complexity (fields, weighted by page sizes) a query may have.
    pub max_complexity: usize,
    /// Largest `first` a list accepts.
    pub max_page: usize,
    /// Most aliased fields a query may use.
    pub max_aliases: usize,
    /// Most items a list (in the variables or an argument) may have.
    pub max_list_items: usize,
    /// Smallest number of distinct persons an aggregate cell may count (k).
    pub min_cell_size: usize,
    /// Smallest denominator a rate is shown for.
    pub min_rate_denominator: usize,
    /// Days after a placement ends within which what follows decides its outcome.
    pub outcome_window_days: i64,
    /// How long a statistics snapshot or the matching index serves before it is rebuilt.
    pub stats_cache: Duration,
    /// Serve Prometheus metrics at `GET /metrics` (no personal data; see the README).
    pub metrics: bool,
    /// Keep token checks in memory until a change is notified (PostgreSQL; see
    /// [`auth::cache`]); otherwise every request reads its token.
    pub keep_token_checks: bool,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            request_timeout: Duration::from_secs(30),
            body_limit: 256 * 1024,
            max_depth: 12,
            max_complexity: 2_000,
            max_page: 100,
            max_aliases: 30,
            max_list_items: 100,
            min_cell_size: 10,
            min_rate_denominator: 100,
            outcome_window_days: 90,
            stats_cache: Duration::from_secs(60),
            metrics: true,
            keep_token_checks: true,
        }
    }
}

/// What every request shares: database, keys and the policy.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: DatabaseConnection,
    /// The connections the candidate search runs on: on PostgreSQL a pool of its own (as large
    /// as `db`'s) that keeps each search's first plan, see [`search_connection`]; elsewhere `db`.
    pub search_db: DatabaseConnection,
    /// Token signing and verification keys.
    pub tokens: auth::TokenKeys,
    /// Token checks kept while nothing changed (PostgreSQL only).
    pub token_cache: Arc<auth::TokenCache>,
    /// BSN decryption and pseudonym keys.
    pub protector: BsnProtector,
    /// The privacy policy, checked at start-up.
    pub policy: Arc<policy::Policy>,
    /// HTTP settings.
    pub settings: ServerSettings,
    /// The statistics snapshot shared by requests.
    pub stats: Arc<stats::FactsCache>,
    /// The matching index shared by requests.
    pub matching: Arc<matching::IndexCache>,
    /// Whether requests are taken: not while migrations run or once shutdown began.
    pub readiness: Arc<Readiness>,
}

impl AppState {
    /// Builds the state; fails when the privacy policy does not cover every field.
    pub fn new(
        db: DatabaseConnection,
        tokens: auth::TokenKeys,
        protector: BsnProtector,
        settings: ServerSettings,
    ) -> Result<Self, policy::PolicyError> {
        Ok(Self {
            search_db: search_connection(&db),
            token_cache: if settings.keep_token_checks {
                auth::TokenCache::start(&db)
            } else {
                Arc::default()
            },
            db,
            tokens,
            protector,
            policy: Arc::new(policy::Policy::new()?),
            settings,
            stats: Arc::default(),
            matching: Arc::default(),
            readiness: Arc::default(),
        })
    }
}

/// Connections like `db`'s for the candidate search. On PostgreSQL they plan each search's
/// statement once and reuse that plan (`plan_cache_mode = force_generic_plan`). Left to decide
/// per execution, PostgreSQL planned the search anew every time (its generic plan looks dearer
/// on paper) and planning was a quarter of its work per search. The plan is the same either
/// way: walk the candidates in person order (or one district's `(district, person)` index),
/// test the filters, stop at the page's end. What it costs: a skill nobody has, searched
/// without a district, walks every candidate either way, 36 ms with a fresh plan against 55 ms
/// with the kept one at 100,000 candidates (docs/benchmarks.md).
fn search_connection(db: &DatabaseConnection) -> DatabaseConnection {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            let options = (*pool.connect_options())
                .clone()
                .options([("plan_cache_mode", "force_generic_plan")]);
            SqlxPostgresConnector::from_sqlx_postgres_pool(
                pool.options().clone().connect_lazy_with(options),
            )
        }
        _ => db.clone(),
    }
}

/// Where the server stands: `/readyz` answers 503 and `/graphql` refuses with 503 unless
/// [`Phase::Ready`]. A new state starts ready; `werkbrug serve` sets it to migrating first.
#[derive(Debug, Default)]
pub struct Readiness(std::sync::atomic::AtomicU8);

/// A phase of [`Readiness`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Taking requests.
    Ready,
    /// Database migrations are running; requests wait for them.
    Migrating,
    /// Shutting down: open requests finish, new ones belong elsewhere.
    Stopping,
}

impl Readiness {
    /// The current phase.
    pub fn phase(&self) -> Phase {
        match self.0.load(std::sync::atomic::Ordering::SeqCst) {
            0 => Phase::Ready,
            1 => Phase::Migrating,
            _ => Phase::Stopping,
        }
    }

    /// Moves to `phase`.
    pub fn set(&self, phase: Phase) {
        let value = match phase {
            Phase::Ready => 0,
            Phase::Migrating => 1,
            Phase::Stopping => 2,
        };
        self.0.store(value, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves from [`Phase::Migrating`] to [`Phase::Ready`]; a shutdown that began meanwhile
    /// stays.
    pub fn finish_migrating(&self) {
        let _ = self.0.compare_exchange(
            1,
            0,
            std::sync::atomic::Ordering::SeqCst,
            std::sync::atomic::Ordering::SeqCst,
        );
    }
}

/// Whether a database error means the database cannot be reached or is not taking work now
/// (connection refused or lost, pool timed out, server shutting down, SQLite busy), as opposed to
/// a fault in a statement. Such errors are answered with 503 and a generic message.
pub fn db_unavailable(e: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let sqlx = match e {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => e.as_ref(),
        DbErr::Conn(_) => return true,
        _ => return false,
    };
    match sqlx {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (class 08), shutting down or starting (57P01–57P03);
        // SQLite: busy beyond the busy timeout.
        Sqlx::Database(d) => d.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "5")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};
    use std::sync::Arc;

    #[test]
    fn lost_connections_count_as_unavailable_and_statement_faults_do_not() {
        let sqlx = |e: sea_orm::sqlx::Error| RuntimeErr::SqlxError(Arc::new(e));
        let io = || std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        for e in [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
            DbErr::Conn(sqlx(sea_orm::sqlx::Error::Io(io()))),
            DbErr::Query(sqlx(sea_orm::sqlx::Error::Io(io()))),
            DbErr::Exec(sqlx(sea_orm::sqlx::Error::PoolTimedOut)),
        ] {
            assert!(db_unavailable(&e), "{e}");
        }
        for e in [
            DbErr::Query(sqlx(sea_orm::sqlx::Error::RowNotFound)),
            DbErr::RecordNotFound("x".into()),
            DbErr::Custom("x".into()),
        ] {
            assert!(!db_unavailable(&e), "{e}");
        }
    }

    #[test]
    fn readiness_moves_from_migrating_to_ready_unless_stopping() {
        let r = Readiness::default();
        assert_eq!(r.phase(), Phase::Ready);
        r.set(Phase::Migrating);
        r.finish_migrating();
        assert_eq!(r.phase(), Phase::Ready);
        r.set(Phase::Stopping);
        r.finish_migrating();
        assert_eq!(r.phase(), Phase::Stopping);
    }
}
