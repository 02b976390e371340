//! A placement: a person at an organisation for a while.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A person placed at an organisation (employment, secondment, trial placement …).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "placement")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub person_id: i64,
    /// Where the person works.
    pub organisation_id: i64,
    /// Who arranged it, e.g. the social firm that seconds the person.
    pub provider_organisation_id: Option<i64>,
    /// One of [`crate::PlacementKind`], snake_case.
    pub kind: String,
    pub start_date: Option<Date>,
    pub planned_end_date: Option<Date>,
    pub actual_end_date: Option<Date>,
    pub hours_per_week: Option<f64>,
    /// What followed: next_placement, regular_work, education, care, benefit, unknown.
    pub outcome: Option<String>,
    /// The source record it was derived from, when imported.
    pub source_record_id: Option<i64>,
    /// False when its source row disappeared from a full export.
    pub active: bool,
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
    #[sea_orm(
        belongs_to = "super::organisation::Entity",
        from = "Column::OrganisationId",
        to = "super::organisation::Column::Id"
    )]
    Organisation,
}

impl ActiveModelBehavior for ActiveModel {}
