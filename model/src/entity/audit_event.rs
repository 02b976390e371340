//! Append-only, hash-chained log of reads of personal and special fields.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// One read of personal or special fields (Logboek Dataverwerkingen shape).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub occurred_at: DateTimeUtc,
    /// Token subject of the caller.
    pub subject: String,
    pub role: String,
    pub organisation_id: Option<i64>,
    /// Pseudonym of the person whose fields were read.
    pub person_pseudonym: String,
    /// Names of the fields read, e.g. `["PersonIdentity.familyName"]`.
    pub fields: Json,
    /// Processing purpose (verwerkingsactiviteit).
    pub purpose: String,
    pub operation_name: Option<String>,
    pub request_id: String,
    pub trace_id: Option<String>,
    /// Hash of the previous event; chains the log.
    pub prev_hash: String,
    /// SHA-256 over this event's content and `prev_hash`.
    pub hash: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
