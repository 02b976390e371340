//! A vacancy posted by a partner employer.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A vacancy of a partner employer.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "vacancy")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub organisation_id: i64,
    pub title: String,
    pub work_type: Option<String>,
    pub skills: Json,
    pub hours_per_week: Option<f64>,
    pub district: Option<String>,
    pub suitable_line_3: bool,
    pub suitable_line_4: bool,
    pub start_date: Option<Date>,
    /// `open` or `closed`.
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
