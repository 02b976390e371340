//! One imported row: provenance of what a source said.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An imported row, keyed by source and source key.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "source_record")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source_id: i64,
    pub source_key: String,
    pub person_id: Option<i64>,
    /// The run that last saw this row.
    pub import_run_id: i64,
    /// SHA-256 of the normalised row, to detect changes.
    pub content_hash: String,
    /// The row's raw values, with any BSN replaced by its pseudonym.
    pub raw_values: Json,
    /// Whether the row was in the source's latest full export.
    pub active: bool,
    /// When a full export no longer had the row.
    pub deactivated_at: Option<DateTimeUtc>,
    /// The file (or URL) it was last read from.
    pub file: Option<String>,
    /// Its row number there.
    pub row_number: Option<i64>,
    pub first_seen_at: DateTimeUtc,
    pub last_seen_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
