//! A configured data source.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A data source: a file, folder or HTTP API of one organisation.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "source")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// `municipality`, `social_firm` or `uwv`.
    pub kind: String,
    pub organisation_id: i64,
    /// `xlsx`, `csv` or `json`.
    pub format: String,
    pub location: String,
    /// Cron expression with seconds.
    pub schedule: Option<String>,
    /// Incremental cursor for HTTP sources (RFC 3339).
    pub updated_since: Option<String>,
    /// Run once at start-up when a scheduled run was missed while no server was up.
    pub catch_up: bool,
    /// Each run delivers every row, so a row that is missing was removed at the source.
    pub full_export: bool,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
