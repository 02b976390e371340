//! Import runs write one at a time, across processes and instances.
//!
//! Two runs that write at once, each in its own transaction, deadlock on PostgreSQL as soon as
//! their files share persons in a different order (each waits for the other's uncommitted
//! person row; the server then fails one of them), and on SQLite the second run's first write
//! gives up after the busy timeout ("database is locked") while the first holds the write lock.
//! Within one `werkbrug serve` the scheduler already runs one import at a time; this turn makes
//! a `werkbrug import` beside it, or a second instance, wait for the running import instead.
//!
//! On PostgreSQL the turn is a transaction-level advisory lock, taken as the first statement of
//! the run's write transaction ([`Turn::lock_transaction`]; the rows a run writes before it, its
//! run row, cannot deadlock). On a SQLite file it is an exclusive lock on
//! `<database>-import.lock` beside it, taken before the run's first write ([`Turn::take`]),
//! since every write waits for the writer there. Either is released when the run ends, and by
//! the server or the operating system when the process dies.

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction,
    EntityTrait, QueryFilter, Statement,
};

use crate::error::ImportError;

/// The advisory lock key of the import turn on PostgreSQL ("wbimport").
pub const ADVISORY_KEY: i64 = 0x7762_696d_706f_7274;

/// How often a waiting run asks again.
const POLL: Duration = Duration::from_millis(250);

/// How often a waiting run that already has a run row refreshes its heartbeat, so that other
/// instances do not take it for dead (see `STALE_SECS`).
const HEARTBEAT: Duration = Duration::from_secs(10);

/// The right to write imported rows into a SQLite file, held until dropped.
#[derive(Debug)]
pub struct Turn {
    /// The locked file, unlocked when closed; `None` where the lock is the transaction's
    /// (PostgreSQL) or the database is this process's alone (in-memory SQLite).
    _file: Option<std::fs::File>,
}

impl Turn {
    /// Before a run's first write: on a SQLite file, waits until no other import run writes to
    /// it and takes the turn; on PostgreSQL and in-memory SQLite returns at once. `source` names
    /// the waiting run in the log. Gives up with [`ImportError::Stopped`] when `stop` turns true.
    pub async fn take(
        db: &DatabaseConnection,
        stop: tokio::sync::watch::Receiver<bool>,
        source: &str,
    ) -> Result<Self, ImportError> {
        let path = match db.get_database_backend() {
            DatabaseBackend::Sqlite => lock_file(db),
            _ => None,
        };
        let Some(path) = path else {
            return Ok(Self { _file: None });
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ImportError::Turn(path.display().to_string(), e.to_string()))?;
        wait(db, stop, source, None, Attempt::File(&file, &path)).await?;
        Ok(Self { _file: Some(file) })
    }

    /// The first statement of a run's write transaction `txn` on PostgreSQL: waits until no
    /// other import run holds the turn and takes it until `txn` ends. `run_id`, when the run row
    /// exists, has its heartbeat kept fresh (through `db`) while it waits, so that other
    /// instances do not take the run for dead. Nothing on SQLite (see [`Turn::take`]).
    pub async fn lock_transaction(
        txn: &DatabaseTransaction,
        db: &DatabaseConnection,
        stop: tokio::sync::watch::Receiver<bool>,
        source: &str,
        run_id: Option<i64>,
    ) -> Result<(), ImportError> {
        if txn.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let statement = Statement::from_string(
            DatabaseBackend::Postgres,
            format!("SELECT pg_try_advisory_xact_lock({ADVISORY_KEY})"),
        );
        wait(db, stop, source, run_id, Attempt::Advisory(txn, &statement)).await
    }
}

/// One way of asking for the turn.
enum Attempt<'a> {
    /// Lock this file (at this path).
    File(&'a std::fs::File, &'a std::path::Path),
    /// Run this `pg_try_advisory_xact_lock` in this transaction.
    Advisory(&'a DatabaseTransaction, &'a Statement),
}

impl Attempt<'_> {
    /// Whether the turn was free and is now held.
    async fn once(&self) -> Result<bool, ImportError> {
        match self {
            Self::File(file, path) => match file.try_lock() {
                Ok(()) => Ok(true),
                Err(std::fs::TryLockError::WouldBlock) => Ok(false),
                Err(std::fs::TryLockError::Error(e)) => {
                    Err(ImportError::Turn(path.display().to_string(), e.to_string()))
                }
            },
            Self::Advisory(txn, statement) => Ok(txn
                .query_one_raw((*statement).clone())
                .await?
                .map(|row| row.try_get_by_index::<bool>(0))
                .transpose()?
                .unwrap_or(false)),
        }
    }
}

/// Asks for the turn every [`POLL`] until it is held; logs the wait once, and its end.
async fn wait(
    db: &DatabaseConnection,
    mut stop: tokio::sync::watch::Receiver<bool>,
    source: &str,
    run_id: Option<i64>,
    attempt: Attempt<'_>,
) -> Result<(), ImportError> {
    let mut waiting_since: Option<std::time::Instant> = None;
    let mut last_beat = std::time::Instant::now();
    loop {
        if attempt.once().await? {
            if let Some(since) = waiting_since {
                crate::events::turn_taken(source, since.elapsed().as_secs_f64());
            }
            return Ok(());
        }
        if waiting_since.is_none() {
            crate::events::turn_awaited(source);
            waiting_since = Some(std::time::Instant::now());
        }
        if let Some(id) = run_id
            && last_beat.elapsed() >= HEARTBEAT
        {
            use model::entity::import_run;
            import_run::Entity::update_many()
                .col_expr(
                    import_run::Column::HeartbeatAt,
                    Expr::value(chrono::Utc::now()),
                )
                .filter(import_run::Column::Id.eq(id))
                .exec(db)
                .await?;
            last_beat = std::time::Instant::now();
        }
        tokio::select! {
            biased;
            Ok(_) = stop.wait_for(|stopped| *stopped) => return Err(ImportError::Stopped),
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

/// The lock file of a SQLite database file: `<database>-import.lock` beside it, as SQLite keeps
/// `-wal` and `-shm`. `None` for an in-memory database.
fn lock_file(db: &DatabaseConnection) -> Option<PathBuf> {
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    let name = file.to_string_lossy();
    if name.is_empty() || name.contains(":memory:") || name.contains("mode=memory") {
        return None;
    }
    let mut lock = file.as_os_str().to_owned();
    lock.push("-import.lock");
    Some(PathBuf::from(lock))
}

/// Whether `e` is SQLite's "database is locked": another connection held the write lock for
/// longer than the busy timeout.
pub fn is_busy(e: &ImportError) -> bool {
    let ImportError::Database(e) = e else {
        return false;
    };
    crate::error::driver_error(e).is_some_and(|db| {
        db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
            .is_some()
            && db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| c & 0xff == 5)
    })
}
