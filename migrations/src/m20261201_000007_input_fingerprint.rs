//! The fingerprint of what a file run read (werkbrug's version, the source's configuration, each
//! file's path and SHA-256), so a run whose input has not changed since the source's last
//! successful run can say so instead of reading every row again, and which run it repeated.

use crate::builders::*;
use sea_orm_migration::prelude::*;

/// Adds `input_fingerprint` and `repeats_run_id` to `import_run`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261201_000007_input_fingerprint"
    }
}

/// The columns this migration adds.
fn columns() -> [ColumnDef; 2] {
    [
        string_null("input_fingerprint"),
        big_int_null("repeats_run_id"),
    ]
}

/// `ALTER TABLE import_run` with one change.
fn alter() -> TableAlterStatement {
    Table::alter().table(Alias::new("import_run")).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for mut column in columns() {
            manager
                .alter_table(alter().add_column(&mut column).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in columns().into_iter().rev() {
            manager
                .alter_table(alter().drop_column(column.get_column_name()).to_owned())
                .await?;
        }
        Ok(())
    }
}
