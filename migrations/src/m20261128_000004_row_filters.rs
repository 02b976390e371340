//! Indexes for the per-row privacy filters: a partner's or the network's consent test and a
//! caseworker's caseload test are each an index probe per candidate row, answered from the index
//! alone.

use crate::builders::*;
use sea_orm_migration::prelude::*;

/// Adds covering indexes for the consent and caseload row filters.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000004_row_filters"
    }
}

/// `(name, table, columns)` of the indexes this migration creates. Named by purpose: the column
/// lists are longer than PostgreSQL's 63-character identifiers.
const INDEXES: &[(&str, &str, &[&str])] = &[
    // Every column the consent filter tests, person first: the probe never reads the table.
    (
        "ix_consent_row_filter",
        "consent",
        &[
            "person_id",
            "audience",
            "partner_organisation_id",
            "scope",
            "person_agreed",
            "approved_at",
            "revoked_at",
            "granted_at",
            "expires_at",
        ],
    ),
    // The caseload's source-record half: person, then the source that names the organisation.
    (
        "ix_source_record_caseload",
        "source_record",
        &["person_id", "source_id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, cols) in INDEXES {
            let mut index = index(table, cols, false);
            manager.create_index(index.name(*name).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES.iter().rev() {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
