//! Drops the index on `placement.person_id` alone: migration 3's `(person_id, start_date)`
//! serves every lookup by person as well, and each placement an import writes maintained both.

use crate::builders::*;
use sea_orm_migration::prelude::*;

/// Drops `ix_placement_person_id`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000006_redundant_index"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_placement_person_id")
                    .table(Alias::new("placement"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("placement", &["person_id"], false))
            .await
    }
}
