//! The unified model's first schema: every entity of the design brief.

use crate::builders::*;
use sea_orm_migration::prelude::*;

/// Creates all tables of the unified model.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_initial"
    }
}

/// A table: its name, its own columns, its foreign keys and its indexes.
struct Spec {
    name: &'static str,
    columns: Vec<ColumnDef>,
    foreign_keys: Vec<(&'static str, &'static str, ForeignKeyAction)>,
    indexes: Vec<(&'static [&'static str], bool)>,
}

use ForeignKeyAction::{Cascade, Restrict, SetNull};

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            name: "organisation",
            columns: vec![string("name"), string("code"), string("kind")],
            foreign_keys: vec![],
            indexes: vec![(&["name"], true), (&["code"], true), (&["kind"], false)],
        },
        Spec {
            name: "person",
            columns: vec![string_null("bsn_pseudonym")],
            foreign_keys: vec![],
            indexes: vec![(&["bsn_pseudonym"], true)],
        },
        Spec {
            name: "person_identity",
            columns: vec![
                big_int("person_id"),
                text_null("bsn_encrypted"),
                string_null("given_name"),
                string_null("name_prefix"),
                string_null("family_name"),
                date_null("birth_date"),
                string_null("email"),
                string_null("phone"),
                string_null("postcode"),
            ],
            foreign_keys: vec![("person_id", "person", Cascade)],
            indexes: vec![(&["person_id"], true)],
        },
        Spec {
            name: "candidate_profile",
            columns: vec![
                big_int("person_id"),
                json("skills"),
                json("strengths"),
                json("development_points"),
                json("work_types"),
                json("sectors"),
                double_null("hours_per_week"),
                json("days_available"),
                date_null("available_from"),
                string_null("district"),
                string_null("municipality"),
                int_null("travel_range_km"),
                bool_null("travels_independently"),
                int_null("education_level"),
                json("languages"),
                bool_null("driving_licence"),
                string_null("line"),
                int_null("participation_step"),
            ],
            foreign_keys: vec![("person_id", "person", Cascade)],
            indexes: vec![
                (&["person_id"], true),
                (&["district"], false),
                (&["line"], false),
                (&["available_from"], false),
            ],
        },
        Spec {
            name: "sensitive_detail",
            columns: vec![
                big_int("person_id"),
                text_null("health_notes"),
                text_null("workload_limits"),
                string_null("benefit_type"),
                string_null("legal_basis"),
                string_null("target_group_register"),
                int_null("wage_value_pct"),
                bool_null("wage_cost_subsidy"),
                text_null("case_notes"),
            ],
            foreign_keys: vec![("person_id", "person", Cascade)],
            indexes: vec![(&["person_id"], true)],
        },
        Spec {
            name: "placement",
            columns: vec![
                big_int("person_id"),
                big_int("organisation_id"),
                big_int_null("provider_organisation_id"),
                string("kind"),
                date_null("start_date"),
                date_null("planned_end_date"),
                date_null("actual_end_date"),
                double_null("hours_per_week"),
                string_null("outcome"),
            ],
            foreign_keys: vec![
                ("person_id", "person", Cascade),
                ("organisation_id", "organisation", Restrict),
                ("provider_organisation_id", "organisation", SetNull),
            ],
            indexes: vec![
                (&["person_id"], false),
                (&["organisation_id"], false),
                (&["provider_organisation_id"], false),
                (&["planned_end_date"], false),
            ],
        },
        Spec {
            name: "vacancy",
            columns: vec![
                big_int("organisation_id"),
                string("title"),
                string_null("work_type"),
                json("skills"),
                double_null("hours_per_week"),
                string_null("district"),
                bool_default("suitable_line_3", false),
                bool_default("suitable_line_4", false),
                date_null("start_date"),
                string("status"),
            ],
            foreign_keys: vec![("organisation_id", "organisation", Cascade)],
            indexes: vec![(&["organisation_id"], false), (&["status"], false)],
        },
        Spec {
            name: "introduction",
            columns: vec![
                big_int("vacancy_id"),
                big_int("person_id"),
                big_int("requested_by_organisation_id"),
                string("status"),
                string_null("decided_by"),
                timestamp_null("decided_at"),
            ],
            foreign_keys: vec![
                ("vacancy_id", "vacancy", Cascade),
                ("person_id", "person", Cascade),
                ("requested_by_organisation_id", "organisation", Cascade),
            ],
            indexes: vec![
                (&["vacancy_id", "person_id"], true),
                (&["person_id"], false),
                (&["requested_by_organisation_id"], false),
            ],
        },
        Spec {
            name: "consent",
            columns: vec![
                big_int("person_id"),
                string("audience"),
                big_int_null("partner_organisation_id"),
                string("scope"),
                bool_default("person_agreed", false),
                timestamp("granted_at"),
                timestamp_null("expires_at"),
                timestamp_null("revoked_at"),
                string_null("approved_by"),
                timestamp_null("approved_at"),
                string("recorded_by"),
                big_int_null("recorded_by_organisation_id"),
            ],
            foreign_keys: vec![
                ("person_id", "person", Cascade),
                ("partner_organisation_id", "organisation", Cascade),
                ("recorded_by_organisation_id", "organisation", SetNull),
            ],
            indexes: vec![
                (&["person_id"], false),
                (&["audience", "partner_organisation_id"], false),
            ],
        },
        Spec {
            name: "source",
            columns: vec![
                string("name"),
                string("kind"),
                big_int("organisation_id"),
                string("format"),
                text("location"),
                string_null("schedule"),
                string_null("updated_since"),
            ],
            foreign_keys: vec![("organisation_id", "organisation", Restrict)],
            indexes: vec![(&["name"], true), (&["organisation_id"], false)],
        },
        Spec {
            name: "import_run",
            columns: vec![
                big_int("source_id"),
                string("status"),
                string("trigger"),
                timestamp_null("started_at"),
                timestamp_null("finished_at"),
                big_int("rows_read"),
                big_int("rows_inserted"),
                big_int("rows_updated"),
                big_int("rows_unchanged"),
                big_int("rows_rejected"),
                text_null("error"),
            ],
            foreign_keys: vec![("source_id", "source", Cascade)],
            indexes: vec![(&["source_id", "created_at"], false), (&["status"], false)],
        },
        Spec {
            name: "source_record",
            columns: vec![
                big_int("source_id"),
                string("source_key"),
                big_int_null("person_id"),
                big_int("import_run_id"),
                string("content_hash"),
                json("raw_values"),
                timestamp("first_seen_at"),
                timestamp("last_seen_at"),
            ],
            foreign_keys: vec![
                ("source_id", "source", Cascade),
                ("person_id", "person", SetNull),
                ("import_run_id", "import_run", Cascade),
            ],
            indexes: vec![
                (&["source_id", "source_key"], true),
                (&["person_id"], false),
                (&["import_run_id"], false),
            ],
        },
        Spec {
            name: "rejected_row",
            columns: vec![
                big_int("import_run_id"),
                big_int("source_id"),
                big_int("row_number"),
                string_null("column_name"),
                text("reason"),
                json("raw_values"),
            ],
            foreign_keys: vec![
                ("import_run_id", "import_run", Cascade),
                ("source_id", "source", Cascade),
            ],
            indexes: vec![(&["import_run_id"], false), (&["source_id"], false)],
        },
        Spec {
            name: "audit_event",
            columns: vec![
                timestamp("occurred_at"),
                string("subject"),
                string("role"),
                big_int_null("organisation_id"),
                string("person_pseudonym"),
                json("fields"),
                string("purpose"),
                string_null("operation_name"),
                string("request_id"),
                string_null("trace_id"),
                string("prev_hash"),
                string("hash"),
            ],
            foreign_keys: vec![],
            indexes: vec![(&["occurred_at"], false), (&["person_pseudonym"], false)],
        },
        Spec {
            name: "api_token",
            columns: vec![
                string("token_id"),
                string("subject"),
                string("role"),
                big_int("organisation_id"),
                json("scopes"),
                timestamp("expires_at"),
                timestamp_null("revoked_at"),
            ],
            foreign_keys: vec![("organisation_id", "organisation", Cascade)],
            indexes: vec![(&["token_id"], true)],
        },
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for spec in specs() {
            let mut create = table(spec.name, spec.columns);
            // Foreign keys go into CREATE TABLE: SQLite cannot add them afterwards.
            for (column, target, on_delete) in &spec.foreign_keys {
                create.foreign_key(&mut fk(spec.name, column, target, *on_delete));
            }
            manager.create_table(create).await?;
            for (columns, unique) in &spec.indexes {
                manager
                    .create_index(index(spec.name, columns, *unique))
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for spec in specs().into_iter().rev() {
            manager
                .drop_table(Table::drop().table(Alias::new(spec.name)).to_owned())
                .await?;
        }
        Ok(())
    }
}
