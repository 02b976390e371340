//! Special and internal details of a person: health, benefits, legal basis, wage value, case notes.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// Special-category and internal details of one person.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "sensitive_detail")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub person_id: i64,
    /// Health or limitation notes (special).
    pub health_notes: Option<String>,
    /// Workload limits (special).
    pub workload_limits: Option<String>,
    /// Benefit type, e.g. "participatiewet" (special).
    pub benefit_type: Option<String>,
    /// Legal basis: participatiewet, wajong, wsw, sheltered_work (special).
    pub legal_basis: Option<String>,
    /// Target-group-register status (special: implies a work disability).
    pub target_group_register: Option<String>,
    /// Wage value (loonwaarde) in percent (internal).
    pub wage_value_pct: Option<i32>,
    /// Whether wage-cost subsidy applies (internal).
    pub wage_cost_subsidy: Option<bool>,
    /// Free-text case notes (special).
    pub case_notes: Option<String>,
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
