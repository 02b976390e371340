//! A row that failed validation, kept with its reason.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// A rejected row of an import run.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "rejected_row")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub import_run_id: i64,
    pub source_id: i64,
    /// Row number in the source file (1-based, as a spreadsheet shows it).
    pub row_number: i64,
    /// The file (or URL) the row came from.
    pub file: Option<String>,
    /// The sheet, for workbooks.
    pub sheet: Option<String>,
    /// The column at fault, as the source names it.
    pub column_name: Option<String>,
    pub reason: String,
    /// The row's raw values, with any BSN replaced by its pseudonym.
    pub raw_values: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
