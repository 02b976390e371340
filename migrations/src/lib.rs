//! Every schema change of werkbrug, as sea-orm migrations that run on SQLite and PostgreSQL alike.
//!
//! Migrations are frozen history: they name tables and columns as strings and never use the
//! entities of `model/`, so a later change to an entity cannot rewrite an old migration.

pub use sea_orm_migration::prelude::*;

mod builders;
mod m20261122_000001_initial;
mod m20261125_000002_imports;
mod m20261127_000003_work;
mod m20261128_000004_row_filters;
mod m20261129_000005_register_validity;
mod m20261130_000006_redundant_index;
mod m20261201_000007_input_fingerprint;
mod m20261202_000008_token_notifications;
mod m20261204_000009_active_consents;

/// The ordered list of werkbrug's migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261122_000001_initial::Migration),
            Box::new(m20261125_000002_imports::Migration),
            Box::new(m20261127_000003_work::Migration),
            Box::new(m20261128_000004_row_filters::Migration),
            Box::new(m20261129_000005_register_validity::Migration),
            Box::new(m20261130_000006_redundant_index::Migration),
            Box::new(m20261201_000007_input_fingerprint::Migration),
            Box::new(m20261202_000008_token_notifications::Migration),
            Box::new(m20261204_000009_active_consents::Migration),
        ]
    }
}
