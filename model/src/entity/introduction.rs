//! A partner's request to meet a candidate for a vacancy.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An introduction request and its status.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "introduction")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vacancy_id: i64,
    pub person_id: i64,
    pub requested_by_organisation_id: i64,
    /// `requested`, `accepted`, `declined` or `withdrawn`.
    pub status: String,
    /// Token subject of the caseworker who decided.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
