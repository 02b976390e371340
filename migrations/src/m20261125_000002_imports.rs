//! What the importers need beyond the first schema: provenance per row (active, file, row
//! number), inactive placements, run claims for schedulers that share a database, and the file
//! and sheet of rejected rows.

use crate::builders::*;
use sea_orm_migration::prelude::*;

/// Adds the importers' columns and indexes.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_imports"
    }
}

/// `(table, column)` added by this migration, in order.
fn columns() -> Vec<(&'static str, ColumnDef)> {
    vec![
        ("person_identity", string_null("full_name")),
        ("source", bool_default("catch_up", false)),
        ("source", bool_default("full_export", true)),
        ("import_run", big_int_default("rows_deactivated", 0)),
        ("import_run", string_null("worker")),
        ("import_run", timestamp_null("heartbeat_at")),
        ("import_run", timestamp_null("scheduled_for")),
        ("import_run", bool_default("dry_run", false)),
        ("import_run", text_null("files")),
        ("source_record", bool_default("active", true)),
        ("source_record", timestamp_null("deactivated_at")),
        ("source_record", text_null("file")),
        ("source_record", big_int_null("row_number")),
        ("rejected_row", text_null("file")),
        ("rejected_row", string_null("sheet")),
        ("placement", big_int_null("source_record_id")),
        ("placement", bool_default("active", true)),
    ]
}

/// `(table, columns, unique)` created by this migration.
const INDEXES: &[(&str, &[&str], bool)] = &[
    // One run per source and scheduled tick: the instance that inserts it runs it.
    ("import_run", &["source_id", "scheduled_for"], true),
    ("source_record", &["source_id", "active"], false),
    ("placement", &["source_record_id"], false),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for (table, column) in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for (table, cols, unique) in INDEXES {
            manager.create_index(index(table, cols, *unique)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, cols, unique) in INDEXES.iter().rev() {
            let kind = if *unique { "ux" } else { "ix" };
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("{kind}_{table}_{}", cols.join("_")))
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        for (table, column) in columns().into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new(table))
                        .drop_column(Alias::new(column.get_column_name()))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
