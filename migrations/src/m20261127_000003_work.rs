//! What work-to-work matching needs: the history of every introduction (who changed it, when),
//! and indexes for the transitions list and the partners' vacancy lists.

use crate::builders::*;
use sea_orm_migration::prelude::*;

/// Adds `introduction_event` and the work indexes.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000003_work"
    }
}

/// `(table, columns, unique)` created by this migration.
const INDEXES: &[(&str, &[&str], bool)] = &[
    ("introduction_event", &["introduction_id"], false),
    // Transitions: ending placements by kind and end date; follow-ups by person and start.
    ("placement", &["person_id", "start_date"], false),
    ("vacancy", &["organisation_id", "status"], false),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut events = table(
            "introduction_event",
            vec![
                big_int("introduction_id"),
                string("status"),
                string("actor"),
                string("actor_role"),
                big_int("actor_organisation_id"),
            ],
        );
        events.foreign_key(&mut fk(
            "introduction_event",
            "introduction_id",
            "introduction",
            ForeignKeyAction::Cascade,
        ));
        events.foreign_key(&mut fk(
            "introduction_event",
            "actor_organisation_id",
            "organisation",
            ForeignKeyAction::Restrict,
        ));
        manager.create_table(events).await?;
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
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("introduction_event"))
                    .to_owned(),
            )
            .await
    }
}
