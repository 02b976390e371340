//! One run of an importer over one source.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An import run with its counts and outcome.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "import_run")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub source_id: i64,
    /// `queued`, `running`, `succeeded` or `failed`.
    pub status: String,
    /// `schedule`, `manual` or `command`.
    pub trigger: String,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub rows_read: i64,
    pub rows_inserted: i64,
    pub rows_updated: i64,
    pub rows_unchanged: i64,
    pub rows_rejected: i64,
    /// Why the run failed; never carries personal values.
    pub error: Option<String>,
    /// Rows (and their placements) marked inactive because a full export no longer has them.
    pub rows_deactivated: i64,
    /// The instance that claimed the run.
    pub worker: Option<String>,
    /// Last sign of life of the instance running it.
    pub heartbeat_at: Option<DateTimeUtc>,
    /// The schedule tick this run is for; unique per source, so one instance runs it.
    pub scheduled_for: Option<DateTimeUtc>,
    /// Validated and counted only; nothing was written.
    pub dry_run: bool,
    /// The files (or URL) read, as a JSON array.
    pub files: Option<String>,
    /// What a file run read: werkbrug's version, the source's configuration and each file's
    /// SHA-256, hashed; a later run with the same input needs to read nothing.
    pub input_fingerprint: Option<String>,
    /// The earlier run whose unchanged input this run found: it read nothing and repeated that
    /// run's outcome.
    pub repeats_run_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
