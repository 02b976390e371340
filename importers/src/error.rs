//! Why an import could not run. Messages name the source, file, row or column and say what to
//! do; they never carry a cell's value.

use crate::preset::MissingColumns;
use crate::source::ReadError;

/// A failed or refused import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// No `[[source]]` with this name.
    #[error("no source named `{0}`; configured sources: {1}")]
    UnknownSource(String, String),
    /// A `[[source]]` table is wrong.
    #[error("source `{source_name}`: {what}")]
    Config {
        /// The source.
        source_name: String,
        /// What is wrong and how to fix it.
        what: String,
    },
    /// The input could not be read; nothing was changed.
    #[error("{0}; nothing was imported")]
    Read(#[from] ReadError),
    /// A file lacks required columns; nothing was changed.
    #[error("{file}{}: {missing}; nothing was imported", sheet.as_deref().map(|s| format!(", sheet `{s}`")).unwrap_or_default())]
    Columns {
        /// The file.
        file: String,
        /// The sheet.
        sheet: Option<String>,
        /// Which columns.
        missing: MissingColumns,
    },
    /// Credentials for an HTTP source are missing.
    #[error("source `{source_name}`: {what}")]
    Credentials {
        /// The source.
        source_name: String,
        /// Which variable is missing.
        what: String,
    },
    /// Another run of this source is in progress.
    #[error("source `{0}` is already being imported (run {1}); try again when it has finished")]
    Busy(String, i64),
    /// The server shut down while the run went on; it was rolled back.
    #[error(
        "stopped: the server shut down before the run finished; it was rolled back and the next run imports the same data"
    )]
    Stopped,
    /// A stage of the import stopped on a bug (a panic); the run was rolled back.
    #[error(
        "the import stopped on an internal error while {0}; nothing was imported; please report it with the log"
    )]
    Internal(&'static str),
    /// The lock file that makes imports into a SQLite file take turns cannot be used.
    #[error(
        "cannot lock `{0}`, which makes imports into this SQLite database take turns: {1}; check that the database's folder is writable"
    )]
    Turn(String, String),
    /// The database refused; the run was rolled back.
    #[error(
        "database error during the import; the run was rolled back: {}",
        database_message(.0)
    )]
    Database(#[from] sea_orm::DbErr),
}

/// What the database said, with its error code. sqlx's own text adds PostgreSQL's source-code
/// line ("… at line 1147"), which in an import's error reads like a row of the file.
pub fn database_message(e: &sea_orm::DbErr) -> String {
    let Some(db) = driver_error(e) else {
        return e.to_string();
    };
    match db.code() {
        Some(code)
            if db
                .try_downcast_ref::<sea_orm::sqlx::postgres::PgDatabaseError>()
                .is_some() =>
        {
            format!("{} (SQLSTATE {code})", db.message())
        }
        Some(code) => format!("{} (code {code})", db.message()),
        None => db.message().to_owned(),
    }
}

/// The error the database itself returned, when `e` is one.
pub(crate) fn driver_error(
    e: &sea_orm::DbErr,
) -> Option<&(dyn sea_orm::sqlx::error::DatabaseError + 'static)> {
    use sea_orm::{DbErr, RuntimeErr, sqlx};
    match e {
        DbErr::Exec(RuntimeErr::SqlxError(inner))
        | DbErr::Query(RuntimeErr::SqlxError(inner))
        | DbErr::Conn(RuntimeErr::SqlxError(inner)) => match &**inner {
            sqlx::Error::Database(db) => Some(&**db),
            _ => None,
        },
        _ => None,
    }
}
