//! An organisation: municipality, UWV, social firm, partner employer, care, education or the network.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// An organisation known to werkbrug (all fields public).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "organisation")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Full name as imported, e.g. "Gemeente Amsterdam".
    #[sea_orm(unique)]
    pub name: String,
    /// Short stable code used in tokens and configuration, e.g. "gemeente-amsterdam".
    #[sea_orm(unique)]
    pub code: String,
    /// One of [`crate::OrganisationKind`], stored as its snake_case name.
    pub kind: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
