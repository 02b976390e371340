//! The validity UWV reports for a target-group-register entry (`geldig_vanaf`, `geldig_tot`), so
//! that eligibility is decided on the day it is asked, not on the day the feed was read: an entry
//! that ends next month stops counting next month without a new import.

use crate::builders::*;
use sea_orm_migration::prelude::*;

/// Adds `target_group_register_from` and `target_group_register_until` to `sensitive_detail`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261129_000005_register_validity"
    }
}

const COLUMNS: [&str; 2] = ["target_group_register_from", "target_group_register_until"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("sensitive_detail"))
                        .add_column(date_null(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS.into_iter().rev() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("sensitive_detail"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
