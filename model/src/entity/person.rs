//! A person: the human being, linked across sources by a keyed pseudonym of the BSN.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A person; carries no identifying value itself.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "person")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// HMAC-SHA-256 pseudonym of the BSN (hex); `None` for records without a valid BSN.
    #[sea_orm(unique)]
    pub bsn_pseudonym: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
