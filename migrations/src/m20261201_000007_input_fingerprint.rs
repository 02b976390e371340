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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("import_run"))
                    .add_column(string_null("input_fingerprint"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("import_run"))
                    .add_column(big_int_null("repeats_run_id"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("import_run"))
                    .drop_column(Alias::new("repeats_run_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("import_run"))
                    .drop_column(Alias::new("input_fingerprint"))
                    .to_owned(),
            )
            .await
    }
}
