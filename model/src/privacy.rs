//! Privacy classes of every field of the unified model: the one source of truth that the server's
//! policy reads. A column missing here fails the tests (and the server's start-up check).

use serde::Serialize;

/// How sensitive a field is; decides, with the caller's role, who may read it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyClass {
    /// Anyone with a token may read it (organisation names, vacancy titles).
    Public,
    /// The generic candidate profile: shareable with consent.
    Generic,
    /// Operational data of the organisations holding the file.
    Internal,
    /// Identifies a person: BSN, name, birth date, contact, full postcode.
    Personal,
    /// Special category: health, disability-derived statuses, benefits, case notes.
    Special,
}

impl PrivacyClass {
    /// The class's lowercase name, as in the brief and the docs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Generic => "generic",
            Self::Internal => "internal",
            Self::Personal => "personal",
            Self::Special => "special",
        }
    }
}

use PrivacyClass::*;

/// `(table, column, class)` for every column of every table.
pub const FIELD_CLASSES: &[(&str, &str, PrivacyClass)] = &[
    ("organisation", "id", Public),
    ("organisation", "name", Public),
    ("organisation", "code", Public),
    ("organisation", "kind", Public),
    ("organisation", "created_at", Public),
    ("organisation", "updated_at", Public),
    ("person", "id", Internal),
    ("person", "bsn_pseudonym", Internal),
    ("person", "created_at", Internal),
    ("person", "updated_at", Internal),
    ("person_identity", "id", Internal),
    ("person_identity", "person_id", Internal),
    ("person_identity", "bsn_encrypted", Personal),
    ("person_identity", "given_name", Personal),
    ("person_identity", "name_prefix", Personal),
    ("person_identity", "family_name", Personal),
    ("person_identity", "full_name", Personal),
    ("person_identity", "birth_date", Personal),
    ("person_identity", "email", Personal),
    ("person_identity", "phone", Personal),
    ("person_identity", "postcode", Personal),
    ("person_identity", "created_at", Internal),
    ("person_identity", "updated_at", Internal),
    ("candidate_profile", "id", Internal),
    ("candidate_profile", "person_id", Internal),
    ("candidate_profile", "skills", Generic),
    ("candidate_profile", "strengths", Generic),
    ("candidate_profile", "development_points", Generic),
    ("candidate_profile", "work_types", Generic),
    ("candidate_profile", "sectors", Generic),
    ("candidate_profile", "hours_per_week", Generic),
    ("candidate_profile", "days_available", Generic),
    ("candidate_profile", "available_from", Generic),
    ("candidate_profile", "district", Generic),
    ("candidate_profile", "municipality", Generic),
    ("candidate_profile", "travel_range_km", Generic),
    ("candidate_profile", "travels_independently", Generic),
    ("candidate_profile", "education_level", Generic),
    ("candidate_profile", "languages", Generic),
    ("candidate_profile", "driving_licence", Generic),
    ("candidate_profile", "line", Generic),
    ("candidate_profile", "participation_step", Generic),
    ("candidate_profile", "created_at", Internal),
    ("candidate_profile", "updated_at", Generic),
    ("sensitive_detail", "id", Internal),
    ("sensitive_detail", "person_id", Internal),
    ("sensitive_detail", "health_notes", Special),
    ("sensitive_detail", "workload_limits", Special),
    ("sensitive_detail", "benefit_type", Special),
    ("sensitive_detail", "legal_basis", Special),
    ("sensitive_detail", "target_group_register", Special),
    ("sensitive_detail", "target_group_register_from", Special),
    ("sensitive_detail", "target_group_register_until", Special),
    ("sensitive_detail", "wage_value_pct", Internal),
    ("sensitive_detail", "wage_cost_subsidy", Internal),
    ("sensitive_detail", "case_notes", Special),
    ("sensitive_detail", "created_at", Internal),
    ("sensitive_detail", "updated_at", Internal),
    ("placement", "id", Internal),
    ("placement", "person_id", Internal),
    ("placement", "organisation_id", Internal),
    ("placement", "provider_organisation_id", Internal),
    ("placement", "kind", Internal),
    ("placement", "start_date", Internal),
    ("placement", "planned_end_date", Internal),
    ("placement", "actual_end_date", Internal),
    ("placement", "hours_per_week", Internal),
    ("placement", "outcome", Internal),
    ("placement", "source_record_id", Internal),
    ("placement", "active", Internal),
    ("placement", "created_at", Internal),
    ("placement", "updated_at", Internal),
    ("vacancy", "id", Public),
    ("vacancy", "organisation_id", Public),
    ("vacancy", "title", Public),
    ("vacancy", "work_type", Public),
    ("vacancy", "skills", Public),
    ("vacancy", "hours_per_week", Public),
    ("vacancy", "district", Public),
    ("vacancy", "suitable_line_3", Public),
    ("vacancy", "suitable_line_4", Public),
    ("vacancy", "start_date", Public),
    ("vacancy", "status", Public),
    ("vacancy", "created_at", Public),
    ("vacancy", "updated_at", Public),
    ("introduction", "id", Internal),
    ("introduction", "vacancy_id", Internal),
    ("introduction", "person_id", Internal),
    ("introduction", "requested_by_organisation_id", Internal),
    ("introduction", "status", Internal),
    ("introduction", "decided_by", Internal),
    ("introduction", "decided_at", Internal),
    ("introduction", "created_at", Internal),
    ("introduction", "updated_at", Internal),
    ("introduction_event", "id", Internal),
    ("introduction_event", "introduction_id", Internal),
    ("introduction_event", "status", Internal),
    ("introduction_event", "actor", Internal),
    ("introduction_event", "actor_role", Internal),
    ("introduction_event", "actor_organisation_id", Internal),
    ("introduction_event", "created_at", Internal),
    ("introduction_event", "updated_at", Internal),
    ("consent", "id", Internal),
    ("consent", "person_id", Internal),
    ("consent", "audience", Internal),
    ("consent", "partner_organisation_id", Internal),
    ("consent", "scope", Internal),
    ("consent", "person_agreed", Internal),
    ("consent", "granted_at", Internal),
    ("consent", "expires_at", Internal),
    ("consent", "revoked_at", Internal),
    ("consent", "approved_by", Internal),
    ("consent", "approved_at", Internal),
    ("consent", "recorded_by", Internal),
    ("consent", "recorded_by_organisation_id", Internal),
    ("consent", "created_at", Internal),
    ("consent", "updated_at", Internal),
    ("source", "id", Internal),
    ("source", "name", Internal),
    ("source", "kind", Internal),
    ("source", "organisation_id", Internal),
    ("source", "format", Internal),
    ("source", "location", Internal),
    ("source", "schedule", Internal),
    ("source", "updated_since", Internal),
    ("source", "catch_up", Internal),
    ("source", "full_export", Internal),
    ("source", "created_at", Internal),
    ("source", "updated_at", Internal),
    ("import_run", "id", Internal),
    ("import_run", "source_id", Internal),
    ("import_run", "status", Internal),
    ("import_run", "trigger", Internal),
    ("import_run", "started_at", Internal),
    ("import_run", "finished_at", Internal),
    ("import_run", "rows_read", Internal),
    ("import_run", "rows_inserted", Internal),
    ("import_run", "rows_updated", Internal),
    ("import_run", "rows_unchanged", Internal),
    ("import_run", "rows_rejected", Internal),
    ("import_run", "error", Internal),
    ("import_run", "rows_deactivated", Internal),
    ("import_run", "worker", Internal),
    ("import_run", "heartbeat_at", Internal),
    ("import_run", "scheduled_for", Internal),
    ("import_run", "dry_run", Internal),
    ("import_run", "files", Internal),
    ("import_run", "input_fingerprint", Internal),
    ("import_run", "repeats_run_id", Internal),
    ("import_run", "created_at", Internal),
    ("import_run", "updated_at", Internal),
    ("source_record", "id", Internal),
    ("source_record", "source_id", Internal),
    ("source_record", "source_key", Internal),
    ("source_record", "person_id", Internal),
    ("source_record", "import_run_id", Internal),
    ("source_record", "content_hash", Internal),
    ("source_record", "raw_values", Special),
    ("source_record", "active", Internal),
    ("source_record", "deactivated_at", Internal),
    ("source_record", "file", Internal),
    ("source_record", "row_number", Internal),
    ("source_record", "first_seen_at", Internal),
    ("source_record", "last_seen_at", Internal),
    ("source_record", "created_at", Internal),
    ("source_record", "updated_at", Internal),
    ("rejected_row", "id", Internal),
    ("rejected_row", "import_run_id", Internal),
    ("rejected_row", "source_id", Internal),
    ("rejected_row", "row_number", Internal),
    ("rejected_row", "file", Internal),
    ("rejected_row", "sheet", Internal),
    ("rejected_row", "column_name", Internal),
    ("rejected_row", "reason", Internal),
    ("rejected_row", "raw_values", Special),
    ("rejected_row", "created_at", Internal),
    ("rejected_row", "updated_at", Internal),
    ("audit_event", "id", Internal),
    ("audit_event", "occurred_at", Internal),
    ("audit_event", "subject", Internal),
    ("audit_event", "role", Internal),
    ("audit_event", "organisation_id", Internal),
    ("audit_event", "person_pseudonym", Internal),
    ("audit_event", "fields", Internal),
    ("audit_event", "purpose", Internal),
    ("audit_event", "operation_name", Internal),
    ("audit_event", "request_id", Internal),
    ("audit_event", "trace_id", Internal),
    ("audit_event", "prev_hash", Internal),
    ("audit_event", "hash", Internal),
    ("audit_event", "created_at", Internal),
    ("audit_event", "updated_at", Internal),
    ("api_token", "id", Internal),
    ("api_token", "token_id", Internal),
    ("api_token", "subject", Internal),
    ("api_token", "role", Internal),
    ("api_token", "organisation_id", Internal),
    ("api_token", "scopes", Internal),
    ("api_token", "expires_at", Internal),
    ("api_token", "revoked_at", Internal),
    ("api_token", "created_at", Internal),
    ("api_token", "updated_at", Internal),
];

/// Source kinds whose every record is special: that a person has a record there at all says
/// they hold a target-group indication (UWV: job agreement, sheltered work, Wajong — derived
/// from health). Their source records are listed only to callers who may read special fields.
pub const SPECIAL_SOURCE_KINDS: &[&str] = &["uwv"];

/// The class of `table.column`, or `None` when the column has no class (a defect).
pub fn class_of(table: &str, column: &str) -> Option<PrivacyClass> {
    // Asked for every field of every record served: an index instead of a scan of the table.
    static INDEX: std::sync::LazyLock<
        std::collections::HashMap<(&'static str, &'static str), PrivacyClass>,
    > = std::sync::LazyLock::new(|| {
        FIELD_CLASSES
            .iter()
            .map(|(t, c, class)| ((*t, *c), *class))
            .collect()
    });
    INDEX.get(&(table, column)).copied()
}

/// Every `(table, column)` of the entities; used to prove that each has a class.
pub fn all_columns() -> Vec<(&'static str, String)> {
    use crate::entity::*;
    use sea_orm::{IdenStatic, Iterable};
    fn cols<E: sea_orm::EntityTrait>(e: E) -> Vec<(&'static str, String)> {
        E::Column::iter()
            .map(|c| (e.table_name(), c.as_str().to_owned()))
            .collect()
    }
    [
        cols(organisation::Entity),
        cols(person::Entity),
        cols(person_identity::Entity),
        cols(candidate_profile::Entity),
        cols(sensitive_detail::Entity),
        cols(placement::Entity),
        cols(vacancy::Entity),
        cols(introduction::Entity),
        cols(introduction_event::Entity),
        cols(consent::Entity),
        cols(source::Entity),
        cols(import_run::Entity),
        cols(source_record::Entity),
        cols(rejected_row::Entity),
        cols(audit_event::Entity),
        cols(api_token::Entity),
    ]
    .concat()
}

/// Columns that have no class, and classes listed for columns that do not exist.
pub fn unclassified() -> (Vec<String>, Vec<String>) {
    let all = all_columns();
    let missing = all
        .iter()
        .filter(|(t, c)| class_of(t, c).is_none())
        .map(|(t, c)| format!("{t}.{c}"))
        .collect();
    let stale = FIELD_CLASSES
        .iter()
        .filter(|(t, c, _)| !all.iter().any(|(at, ac)| at == t && ac == c))
        .map(|(t, c, _)| format!("{t}.{c}"))
        .collect();
    (missing, stale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_exactly_one_class() {
        let (missing, stale) = unclassified();
        assert!(
            missing.is_empty(),
            "columns without a privacy class: {missing:?}"
        );
        assert!(stale.is_empty(), "classes for unknown columns: {stale:?}");
        let mut seen = std::collections::HashSet::new();
        for (t, c, _) in FIELD_CLASSES {
            assert!(seen.insert((t, c)), "{t}.{c} is listed twice");
        }
    }

    #[test]
    fn identifying_and_health_fields_are_never_generic() {
        for (t, c) in [
            ("person_identity", "bsn_encrypted"),
            ("person_identity", "family_name"),
            ("person_identity", "birth_date"),
            ("person_identity", "postcode"),
        ] {
            assert_eq!(class_of(t, c), Some(Personal), "{t}.{c}");
        }
        for c in [
            "health_notes",
            "benefit_type",
            "legal_basis",
            "target_group_register",
        ] {
            assert_eq!(class_of("sensitive_detail", c), Some(Special), "{c}");
        }
    }
}
