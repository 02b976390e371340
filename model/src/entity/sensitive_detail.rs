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
    /// Target-group-register status as last reported: `registered` or `ended` (special: implies
    /// a work disability). Whether it holds today also depends on the validity below
    /// ([`register_status`]).
    pub target_group_register: Option<String>,
    /// First day of the register entry (UWV's `geldig_vanaf`; special).
    pub target_group_register_from: Option<Date>,
    /// Last day of the register entry (UWV's `geldig_tot`; special); `None`: open-ended.
    pub target_group_register_until: Option<Date>,
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

/// The register status on `today`: `registered` only within the entry's validity, `pending`
/// before its first day, `ended` after its last day or when reported ended; `None` without an
/// entry.
pub fn register_status(
    status: Option<&str>,
    from: Option<Date>,
    until: Option<Date>,
    today: Date,
) -> Option<&'static str> {
    match status? {
        "registered" if until.is_some_and(|u| u < today) => Some("ended"),
        "registered" if from.is_some_and(|f| f > today) => Some("pending"),
        "registered" => Some("registered"),
        _ => Some("ended"),
    }
}

/// Rows whose register entry holds on `today` (the SQL form of [`register_status`] being
/// `registered`).
pub fn registered_on(today: Date) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::TargetGroupRegister.eq("registered"))
        .add(
            sea_orm::Condition::any()
                .add(Column::TargetGroupRegisterFrom.is_null())
                .add(Column::TargetGroupRegisterFrom.lte(today)),
        )
        .add(
            sea_orm::Condition::any()
                .add(Column::TargetGroupRegisterUntil.is_null())
                .add(Column::TargetGroupRegisterUntil.gte(today)),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_holds_only_within_its_validity() {
        let d = |s: &str| s.parse::<Date>().unwrap();
        let today = d("2026-11-29");
        let status =
            |s, f: Option<&str>, u: Option<&str>| register_status(s, f.map(d), u.map(d), today);
        assert_eq!(status(None, None, None), None);
        assert_eq!(status(Some("registered"), None, None), Some("registered"));
        assert_eq!(
            status(Some("registered"), Some("2026-11-29"), Some("2026-11-29")),
            Some("registered")
        );
        assert_eq!(
            status(Some("registered"), None, Some("2026-11-28")),
            Some("ended")
        );
        assert_eq!(
            status(Some("registered"), Some("2026-11-30"), None),
            Some("pending")
        );
        assert_eq!(status(Some("ended"), None, None), Some("ended"));
    }
}
