//! The import's multi-row writes, as plain SQL whose text repeats.
//!
//! sea-orm's `insert_many` builds, binds and drops a fresh statement for every call, and a batch
//! whose row count differs from the last one is a new statement text for the driver to prepare.
//! Here an insert is a fixed list of columns: its text depends only on the number of rows, and
//! rows go in chunks of power-of-two sizes (at most [`MAX_CHUNK`]), so a run sees a handful of
//! texts per table and sqlx prepares each once (its statement cache is keyed by the text). Values
//! that every row shares (the run's time, constants) are bound once per statement.
//!
//! Placeholders are `$N`, which SQLite and PostgreSQL both accept; JSON columns take JSON text,
//! cast to `jsonb` on PostgreSQL, which stores what sea-orm's JSON values stored.

use std::collections::HashMap;
use std::fmt::Write;

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, QueryResult, Statement, Value,
};

/// The most rows one statement carries: 512 rows of the widest insert (16 values a row on SQLite,
/// which binds the shared values with every row) stay far below
/// SQLite's limit of bound values (32,766) and PostgreSQL's (65,535).
pub(crate) const MAX_CHUNK: usize = 512;

/// A column of an [`Insert`]: its name and whether it holds JSON text.
pub(crate) type Col = (&'static str, bool);

/// A column holding plain values.
pub(crate) const fn plain(name: &'static str) -> Col {
    (name, false)
}

/// A column holding JSON text.
pub(crate) const fn json(name: &'static str) -> Col {
    (name, true)
}

/// One table's insert: the columns every statement binds once, the columns each row binds, and
/// what follows the rows (`ON CONFLICT …`, `RETURNING …`).
pub(crate) struct Insert {
    /// The table.
    pub table: &'static str,
    /// Columns whose value every row of a statement shares, bound once as `$1…$k`.
    pub shared: &'static [Col],
    /// Columns bound per row.
    pub columns: &'static [Col],
    /// What follows the `VALUES` rows.
    pub tail: String,
}

/// Runs [`Insert`]s and fixed-text statements inside the run's transaction, keeping the texts it
/// built.
pub(crate) struct Writer<'a> {
    txn: &'a DatabaseTransaction,
    backend: DbBackend,
    texts: HashMap<(&'static str, usize), String>,
}

impl<'a> Writer<'a> {
    /// A writer for one transaction.
    pub fn new(txn: &'a DatabaseTransaction) -> Self {
        Self {
            txn,
            backend: txn.get_database_backend(),
            texts: HashMap::new(),
        }
    }

    /// The placeholder of parameter `n` in a fixed-text statement: JSON text is cast on
    /// PostgreSQL.
    pub fn param(&self, n: usize, json: bool) -> String {
        if json && self.backend == DbBackend::Postgres {
            format!("CAST(${n} AS jsonb)")
        } else {
            format!("${n}")
        }
    }

    /// Whether the shared values are bound once per statement (`$1…$k`, PostgreSQL) or with
    /// every row (anonymous `?`, SQLite: naming a parameter makes SQLite look its name up in a
    /// list for every value bound, which is quadratic in a statement of thousands).
    fn shared_once(&self) -> bool {
        self.backend == DbBackend::Postgres
    }

    fn text(&mut self, insert: &Insert, rows: usize) -> &str {
        let postgres = self.backend == DbBackend::Postgres;
        self.texts.entry((insert.table, rows)).or_insert_with(|| {
            let param = |n: usize, json: bool| match (postgres, json) {
                (true, true) => format!("CAST(${n} AS jsonb)"),
                (true, false) => format!("${n}"),
                (false, _) => "?".to_owned(),
            };
            let mut sql = format!("INSERT INTO \"{}\" (", insert.table);
            let names = insert.columns.iter().chain(insert.shared).map(|c| c.0);
            for (i, name) in names.enumerate() {
                if i > 0 {
                    sql.push_str(", ");
                }
                let _ = write!(sql, "\"{name}\"");
            }
            sql.push_str(") VALUES ");
            let k = insert.shared.len();
            let w = insert.columns.len();
            for r in 0..rows {
                sql.push_str(if r == 0 { "(" } else { ", (" });
                for (i, c) in insert.columns.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    sql.push_str(&param(k + r * w + i + 1, c.1));
                }
                for (i, c) in insert.shared.iter().enumerate() {
                    sql.push_str(", ");
                    sql.push_str(&param(i + 1, c.1));
                }
                sql.push(')');
            }
            if !insert.tail.is_empty() {
                sql.push(' ');
                sql.push_str(&insert.tail);
            }
            sql
        })
    }

    /// Inserts rows (their values one after another, `insert.columns.len()` each) in order, with
    /// `shared` for the shared columns of every row; returns what `RETURNING` in the tail
    /// returns.
    pub async fn insert(
        &mut self,
        insert: &Insert,
        shared: &[Value],
        rows: Vec<Value>,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let w = insert.columns.len();
        debug_assert_eq!(rows.len() % w, 0, "{}: whole rows", insert.table);
        debug_assert_eq!(shared.len(), insert.shared.len());
        let returning = insert.tail.contains("RETURNING");
        let postgres = self.backend == DbBackend::Postgres;
        if postgres {
            // The run plans every execution anew (see `Importer::execute`), which an insert's
            // plan does not need: it has no choice to make, and planning a 512-row statement
            // costs milliseconds. Its cached plan is used while it runs.
            self.txn
                .execute_unprepared("SET LOCAL plan_cache_mode = auto")
                .await?;
        }
        let shared: Vec<Value> = if self.shared_once() {
            shared.to_vec()
        } else {
            shared.iter().map(sqlite_text).collect()
        };
        let mut left = rows.len() / w;
        let mut values = rows.into_iter();
        let mut out = vec![];
        while left > 0 {
            // The largest power of two that fits: a run sees at most log2(MAX_CHUNK) + 1 texts.
            let n = 1usize << left.min(MAX_CHUNK).ilog2();
            left -= n;
            let params: Vec<Value> = if self.shared_once() {
                shared
                    .iter()
                    .cloned()
                    .chain(values.by_ref().take(n * w))
                    .collect()
            } else {
                let mut params = Vec::with_capacity(n * (w + shared.len()));
                for _ in 0..n {
                    params.extend(values.by_ref().take(w));
                    params.extend(shared.iter().cloned());
                }
                params
            };
            let sql = self.text(insert, n).to_owned();
            let stmt = Statement::from_sql_and_values(self.backend, sql, params);
            if returning {
                out.extend(self.txn.query_all_raw(stmt).await?);
            } else {
                self.txn.execute_raw(stmt).await?;
            }
        }
        if postgres {
            self.txn
                .execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
                .await?;
        }
        Ok(out)
    }

    /// Runs one statement of fixed text.
    pub async fn execute(&self, sql: &str, values: Vec<Value>) -> Result<(), DbErr> {
        self.txn
            .execute_raw(Statement::from_sql_and_values(self.backend, sql, values))
            .await?;
        Ok(())
    }
}

/// A time as the text sqlx stores for it on SQLite (RFC 3339 with as many fraction digits as
/// needed): a value every row of a statement shares is then formatted once, not once per row.
fn sqlite_text(v: &Value) -> Value {
    match v {
        Value::ChronoDateTimeUtc(Some(t)) => Value::String(Some(
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
        )),
        v => v.clone(),
    }
}

/// `ON CONFLICT (key) DO UPDATE` that takes the new value where the row has one and keeps the
/// known one where it is empty (`NULL`, or `[]` for lists).
pub(crate) fn keep_known(key: &str, table: &str, scalars: &[&str], lists: &[&str]) -> String {
    let mut sql = format!("ON CONFLICT (\"{key}\") DO UPDATE SET ");
    for n in scalars {
        let _ = write!(sql, "\"{n}\" = COALESCE(excluded.{n}, {table}.{n}), ");
    }
    for n in lists {
        let _ = write!(
            sql,
            "\"{n}\" = CASE WHEN CAST(excluded.{n} AS TEXT) = '[]' THEN {table}.{n} ELSE excluded.{n} END, "
        );
    }
    sql.push_str("\"updated_at\" = excluded.updated_at");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_in_order() {
        let mut left = 1000usize;
        let mut sizes = vec![];
        while left > 0 {
            let n = 1usize << left.min(MAX_CHUNK).ilog2();
            left -= n;
            sizes.push(n);
        }
        assert_eq!(sizes, [512, 256, 128, 64, 32, 8]);
    }

    #[test]
    fn shared_times_are_the_text_sqlx_stores_on_sqlite() {
        // sqlx-sqlite encodes a time with `to_rfc3339_opts(SecondsFormat::AutoSi, false)`;
        // rows written before this change hold exactly this text.
        let t: chrono::DateTime<chrono::Utc> = "2026-11-27T15:45:01.158798328Z".parse().unwrap();
        assert_eq!(
            sqlite_text(&Value::from(t)),
            Value::from("2026-11-27T15:45:01.158798328+00:00")
        );
        assert_eq!(sqlite_text(&Value::from(7i64)), Value::from(7i64));
    }

    #[test]
    fn keep_known_names_every_column() {
        let sql = keep_known("person_id", "t", &["a"], &["b"]);
        assert_eq!(
            sql,
            "ON CONFLICT (\"person_id\") DO UPDATE SET \"a\" = COALESCE(excluded.a, t.a), \
             \"b\" = CASE WHEN CAST(excluded.b AS TEXT) = '[]' THEN t.b ELSE excluded.b END, \
             \"updated_at\" = excluded.updated_at"
        );
    }
}
