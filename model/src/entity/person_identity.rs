//! Identifying details of a person: BSN (encrypted), name, birth date, contact, full postcode.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Identifying details of one person (all personal).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "person_identity")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub person_id: i64,
    /// The BSN sealed with AES-256-GCM (see [`crate::crypto::BsnProtector`]); never clear text.
    pub bsn_encrypted: Option<String>,
    pub given_name: Option<String>,
    /// Dutch surname prefix ("tussenvoegsel"), e.g. "van der".
    pub name_prefix: Option<String>,
    pub family_name: Option<String>,
    /// The name as one string, when a source does not split it (social firms' `Naam`).
    pub full_name: Option<String>,
    pub birth_date: Option<Date>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// Full postcode, e.g. "1012 AB".
    pub postcode: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::person::Entity",
        from = "Column::PersonId",
        to = "super::person::Column::Id"
    )]
    Person,
}

impl ActiveModelBehavior for ActiveModel {}
