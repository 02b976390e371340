//! The generic candidate profile: what a partner may see of a consenting candidate.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A generic work profile (GGM "Werkzoekende"); lists are JSON arrays of strings. `Default`
/// is an empty row, for reads of some columns only.
#[derive(Clone, Debug, Default, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "candidate_profile")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub person_id: i64,
    pub skills: Json,
    pub strengths: Json,
    pub development_points: Json,
    pub work_types: Json,
    pub sectors: Json,
    pub hours_per_week: Option<f64>,
    /// Days available, e.g. `["monday","tuesday"]`.
    pub days_available: Json,
    pub available_from: Option<Date>,
    /// District (stadsdeel), never a full postcode.
    pub district: Option<String>,
    pub municipality: Option<String>,
    pub travel_range_km: Option<i32>,
    pub travels_independently: Option<bool>,
    /// SUWI education level 0–7.
    pub education_level: Option<i32>,
    pub languages: Json,
    pub driving_licence: Option<bool>,
    /// `line_3` or `line_4` for social-firm employees.
    pub line: Option<String>,
    /// Participation ladder step 1–6.
    pub participation_step: Option<i32>,
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
