//! The GraphQL schema: root queries and object types. Every field that touches a person asks the
//! policy ([`crate::policy`]) through [`RecordScope::check`]; reads of personal and special
//! fields are collected for the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, PageInfo};
use async_graphql::{
    Context, EmptySubscription, Error, ErrorExtensions, ID, MergedObject, Object, Result, Schema,
    SimpleObject,
};
use model::entity::{
    audit_event, candidate_profile, consent, import_run, organisation, person, person_identity,
    placement, rejected_row, sensitive_detail, source, source_record,
};
use model::privacy::PrivacyClass;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::sqlx;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
};

use crate::AppState;
use crate::audit::AuditCollector;
use crate::auth::Caller;
use crate::matching::json_list_contains;
use crate::policy::{ClassSet, Denied, RecordAccess, SCOPE_JOB_AGREEMENT};

/// The root query: persons and candidates, sources and runs, work-to-work matching and figures.
#[derive(MergedObject, Default)]
pub struct Query(CoreQuery, work::WorkQuery, stats::StatsQuery);

/// The root mutation: imports, consent, vacancies and introductions.
#[derive(MergedObject, Default)]
pub struct Mutation(CoreMutation, work::WorkMutation);

/// The schema werkbrug serves.
pub type WerkbrugSchema = Schema<Query, Mutation, EmptySubscription>;

/// Builds the schema with the configured limits; request data (caller, audit collector) is
/// added per request.
pub fn build_schema(state: Option<AppState>) -> WerkbrugSchema {
    let limits = state
        .as_ref()
        .map(|s| s.settings.clone())
        .unwrap_or_default();
    let mut builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(limits.max_depth)
        .limit_complexity(limits.max_complexity);
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL of the schema, as exported to `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None).sdl()
}

fn state<'a>(ctx: &'a Context<'_>) -> &'a AppState {
    ctx.data_unchecked::<AppState>()
}

fn db<'a>(ctx: &'a Context<'_>) -> &'a DatabaseConnection {
    &state(ctx).db
}

fn caller<'a>(ctx: &'a Context<'_>) -> Option<&'a Caller> {
    ctx.data_opt::<Caller>()
}

/// Checks the entry point against the policy and returns the caller.
fn enter<'a>(ctx: &'a Context<'_>, entry: &str) -> Result<&'a Caller> {
    let caller = caller(ctx);
    state(ctx).policy.entry(caller, entry).map_err(denied)?;
    caller.ok_or_else(|| denied(Denied::Unauthenticated))
}

/// Generates a function that tells async-graphql whether a root field is in the caller's schema.
macro_rules! visible_entry {
    ($($name:ident => $entry:literal),* $(,)?) => {
        $(
            fn $name(ctx: &Context<'_>) -> bool {
                state(ctx).policy.entry(caller(ctx), $entry).is_ok()
            }
        )*
    };
}

visible_entry!(
    visible_candidates => "candidates",
    visible_candidate => "candidate",
    visible_sources => "sources",
    visible_import_runs => "importRuns",
    visible_import_run => "importRun",
    visible_run_import => "runImport",
    visible_audit_events => "auditEvents",
    visible_persons => "persons",
    visible_person => "person",
    visible_record_consent => "recordConsent",
    visible_approve_consent => "approveConsent",
    visible_renew_consent => "renewConsent",
    visible_revoke_consent => "revokeConsent",
);

/// Generates a function that tells async-graphql whether fields of a class are in the caller's schema.
macro_rules! visible_class {
    ($($name:ident => $class:expr),* $(,)?) => {
        $(
            fn $name(ctx: &Context<'_>) -> bool {
                caller(ctx).is_some_and(|c| state(ctx).policy.class_visible(c, $class))
            }
        )*
    };
}

visible_class!(
    visible_generic => PrivacyClass::Generic,
    visible_internal => PrivacyClass::Internal,
    visible_personal => PrivacyClass::Personal,
    visible_special => PrivacyClass::Special,
);

// Declared after the visibility macros, which they use.
mod at_once;
mod stats;
mod work;

fn denied(d: Denied) -> Error {
    let code = match d {
        Denied::Unauthenticated => "UNAUTHENTICATED",
        _ => "FORBIDDEN",
    };
    Error::new(d.to_string()).extend_with(|_, e| e.set("code", code))
}

/// The error code of a request that failed because the database could not be reached.
pub const DATABASE_UNAVAILABLE: &str = "DATABASE_UNAVAILABLE";

/// What a client reads when the database cannot be reached.
pub const DATABASE_UNAVAILABLE_MESSAGE: &str =
    "the database is unavailable; no data was returned. Try again later";

/// A database error as the client sees it: a generic message and an id; the operator finds the
/// error under that id in the log.
fn db_error(e: sea_orm::DbErr) -> Error {
    let id = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(error_id = %id, error = %e, "database error in resolver");
    if crate::db_unavailable(&e) {
        // The HTTP handler answers the whole request with 503 (see `http::run`).
        return Error::new(DATABASE_UNAVAILABLE_MESSAGE)
            .extend_with(|_, ext| ext.set("code", DATABASE_UNAVAILABLE));
    }
    Error::new(format!(
        "internal database error (error id {id}); the operator finds the cause in the log"
    ))
    .extend_with(|_, ext| ext.set("code", "INTERNAL"))
}

/// Root fields for persons, candidates, sources, runs and the audit log.
#[derive(Default)]
pub struct CoreQuery;

#[Object]
impl CoreQuery {
    /// The caller as the server sees it: account, role, organisation and scopes.
    async fn me(&self, ctx: &Context<'_>) -> Result<Me> {
        let caller = enter(ctx, "me")?;
        let org = organisation::Entity::find_by_id(caller.organisation_id)
            .one(db(ctx))
            .await
            .map_err(db_error)?
            .ok_or_else(|| Error::new("the caller's organisation no longer exists"))?;
        Ok(Me {
            subject: caller.subject.clone(),
            role: caller.role.as_str().to_owned(),
            organisation: org.into(),
            scopes: caller.scopes.clone(),
        })
    }

    /// All organisations known to werkbrug, by name; optionally of one kind
    /// (`municipality`, `uwv`, `social_firm`, `employer`, `care`, `education`, `network`).
    async fn organisations(
        &self,
        ctx: &Context<'_>,
        kind: Option<String>,
    ) -> Result<Vec<Organisation>> {
        enter(ctx, "organisations")?;
        let mut q = organisation::Entity::find().order_by_asc(organisation::Column::Name);
        if let Some(kind) = kind {
            q = q.filter(organisation::Column::Kind.eq(kind));
        }
        Ok(q.all(db(ctx))
            .await
            .map_err(db_error)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Configured data sources (steward).
    #[graphql(visible = "visible_sources")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<Source>> {
        enter(ctx, "sources")?;
        let db = db(ctx);
        let orgs = organisations_by_id(db).await?;
        let sources = source::Entity::find()
            .order_by_asc(source::Column::Name)
            .all(db)
            .await
            .map_err(db_error)?;
        Ok(sources
            .into_iter()
            .map(|s| Source {
                organisation: orgs.get(&s.organisation_id).cloned(),
                m: s,
            })
            .collect())
    }

    /// Import runs, newest first (steward); optionally of one source, at most `first` (≤ 100).
    #[graphql(visible = "visible_import_runs")]
    async fn import_runs(
        &self,
        ctx: &Context<'_>,
        source: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<ImportRun>> {
        enter(ctx, "importRuns")?;
        let db = db(ctx);
        let sources: HashMap<i64, String> = source::Entity::find()
            .all(db)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|s| (s.id, s.name))
            .collect();
        let mut q = import_run::Entity::find().order_by_desc(import_run::Column::Id);
        if let Some(name) = source {
            let id = sources
                .iter()
                .find(|(_, n)| **n == name)
                .map(|(id, _)| *id)
                .unwrap_or(-1);
            q = q.filter(import_run::Column::SourceId.eq(id));
        }
        let runs = q
            .limit(page_size(ctx, first)? as u64)
            .all(db)
            .await
            .map_err(db_error)?;
        Ok(runs
            .into_iter()
            .map(|r| ImportRun {
                source: sources.get(&r.source_id).cloned().unwrap_or_default(),
                m: r,
            })
            .collect())
    }

    /// One import run with its counts and rejected rows (steward).
    #[graphql(visible = "visible_import_run")]
    async fn import_run(&self, ctx: &Context<'_>, id: ID) -> Result<Option<ImportRun>> {
        enter(ctx, "importRun")?;
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let db = db(ctx);
        let Some(run) = import_run::Entity::find_by_id(id)
            .one(db)
            .await
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let source = source::Entity::find_by_id(run.source_id)
            .one(db)
            .await
            .map_err(db_error)?
            .map(|s| s.name)
            .unwrap_or_default();
        Ok(Some(ImportRun { m: run, source }))
    }

    /// Audit events of reads of personal and special fields, newest first (steward).
    #[graphql(visible = "visible_audit_events")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<AuditEvent>> {
        enter(ctx, "auditEvents")?;
        let mut q = audit_event::Entity::find().order_by_desc(audit_event::Column::Id);
        if let Some(f) = filter {
            if let Some(v) = f.person_pseudonym {
                q = q.filter(audit_event::Column::PersonPseudonym.eq(v));
            }
            if let Some(v) = f.subject {
                q = q.filter(audit_event::Column::Subject.eq(v));
            }
            if let Some(v) = f.request_id {
                q = q.filter(audit_event::Column::RequestId.eq(v));
            }
            if let Some(v) = f.since {
                q = q.filter(audit_event::Column::OccurredAt.gte(v));
            }
            if let Some(v) = f.before_id {
                q = q.filter(audit_event::Column::Id.lt(v.parse::<i64>().unwrap_or(0)));
            }
        }
        let rows = q
            .limit(page_size(ctx, first)? as u64)
            .all(db(ctx))
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|m| AuditEvent { m }).collect())
    }

    /// Persons in the caller's caseload (caseworker), in a stable order, paginated.
    #[graphql(visible = "visible_persons")]
    async fn persons(
        &self,
        ctx: &Context<'_>,
        after: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Connection<String, Person>> {
        let caller = enter(ctx, "persons")?;
        let size = page_size(ctx, first)?;
        let after = open_cursor(ctx, caller, after)?;
        let Some(visible) = state(ctx)
            .policy
            .visible(caller, Expr::col((person::Entity, person::Column::Id)))
        else {
            return Ok(Connection::new(false, false));
        };
        let mut q = person::Entity::find()
            .filter(visible)
            .order_by_asc(person::Column::Id);
        if let Some(after) = after {
            q = q.filter(person::Column::Id.gt(after));
        }
        let mut rows = q
            .limit(size as u64 + 1)
            .all(db(ctx))
            .await
            .map_err(db_error)?;
        let has_next = rows.len() > size;
        rows.truncate(size);
        let look = ctx.look_ahead();
        let parts = PersonParts::of(&[look.field("edges").field("node"), look.field("nodes")]);
        let persons = load_persons(ctx, caller, read_pseudonyms(rows), parts).await?;
        let mut conn = Connection::new(after.is_some(), has_next);
        let protector = &state(ctx).protector;
        conn.edges.extend(persons.into_iter().map(|p| {
            let cursor = protector.seal_id(&caller.organisation_code, p.scope.person_id);
            Edge::new(cursor, p)
        }));
        Ok(conn)
    }

    /// One person of the caller's caseload; `null` when it is not in the caseload or does not exist.
    #[graphql(visible = "visible_person")]
    async fn person(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Person>> {
        let caller = enter(ctx, "person")?;
        let Some(id) = state(ctx).protector.open_id(&caller.organisation_code, &id) else {
            return Ok(None);
        };
        let Some(visible) = state(ctx)
            .policy
            .visible(caller, Expr::col((person::Entity, person::Column::Id)))
        else {
            return Ok(None);
        };
        let row = person::Entity::find_by_id(id)
            .filter(visible)
            .one(db(ctx))
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => {
                let parts = PersonParts::of(&[ctx.look_ahead()]);
                Ok(load_persons(ctx, caller, read_pseudonyms(vec![row]), parts)
                    .await?
                    .pop())
            }
            None => Ok(None),
        }
    }

    /// Generic candidate profiles the caller may see — for partners and the network only those
    /// with an active consent that covers them — filtered, in a stable order, paginated. Ids and
    /// cursors are opaque and differ per organisation.
    #[graphql(visible = "visible_candidates")]
    async fn candidates(
        &self,
        ctx: &Context<'_>,
        filter: Option<CandidateFilter>,
        order_by: Option<CandidateOrder>,
        after: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<CandidatePage> {
        use candidate_profile::Column as C;
        let caller = enter(ctx, "candidates")?;
        let size = page_size(ctx, first)?;
        let after = open_cursor(ctx, caller, after)?;
        let order = order_by.unwrap_or_default();
        order.check(ctx, caller)?;
        let Some(visible) = state(ctx)
            .policy
            .visible(caller, Expr::col((candidate_profile::Entity, C::PersonId)))
        else {
            return Ok(CandidatePage::default());
        };
        let mut q = candidate_profile::Entity::find().filter(visible);
        let key = order.key_expr();
        if let Some(key) = &key {
            q = q.order_by(key.clone(), order.direction.sea());
        }
        q = q.order_by_asc(C::PersonId);
        if let Some(filter) = filter {
            q = q.filter(filter.condition(ctx, caller, key.is_none())?);
        }
        if let Some(after) = after {
            // Keyset pagination: the cursor holds only the sealed person id; the position's sort
            // value is looked up here, never handed to the client.
            let position = match &key {
                None => None,
                Some(_) => candidate_profile::Entity::find()
                    .filter(C::PersonId.eq(after))
                    .one(db(ctx))
                    .await
                    .map_err(db_error)?,
            };
            q = q.filter(match (&key, position) {
                (Some(key), Some(row)) => {
                    let v = order.value_of(&row);
                    let past = match order.direction {
                        SortDirection::Asc => key.clone().gt(v.clone()),
                        SortDirection::Desc => key.clone().lt(v.clone()),
                    };
                    Condition::any().add(past).add(
                        Condition::all()
                            .add(key.clone().eq(v))
                            .add(C::PersonId.gt(after)),
                    )
                }
                _ => Condition::all().add(C::PersonId.gt(after)),
            });
        }
        let look = ctx.look_ahead();
        let (edges, nodes) = (look.field("edges").field("node"), look.field("nodes"));
        let wants = |field: &str| edges.field(field).exists() || nodes.field(field).exists();
        // Only the profile columns the query asks for are read (a page of whole profiles
        // decodes seven JSON lists per row).
        let loaded: Arc<[&'static str]> = columns_selected(
            CandidateProfile::COLUMNS,
            &[edges.field("profile"), nodes.field("profile")],
        )
        .into();
        let mut rows = profile_page(&state(ctx).search_db, q, &loaded, size as u64 + 1)
            .await
            .map_err(db_error)?;
        let has_next = rows.len() > size;
        rows.truncate(size);
        let mut page = CandidatePage {
            has_previous_page: after.is_some(),
            has_next_page: has_next,
            edges: Vec::with_capacity(rows.len()),
        };
        let ids: Vec<i64> = rows.iter().map(|m| m.person_id).collect();
        let mut persons = if wants("person") {
            let parts = PersonParts::of(&[edges.field("person"), nodes.field("person")]);
            // The page was read through the same caller's row filter just above.
            work::persons_by_id(ctx, caller, work::PersonIds::Visible(&ids), parts).await?
        } else {
            HashMap::new()
        };
        page.edges.extend(
            candidates_of(
                ctx,
                caller,
                rows,
                wants("jobAgreementEligible"),
                Some(loaded),
            )
            .await?
            .into_iter()
            .zip(ids)
            .map(|(mut c, id)| {
                c.person = persons.remove(&id).map(Box::new);
                CandidateEdge {
                    cursor: c.id.to_string(),
                    node: c,
                }
            }),
        );
        Ok(page)
    }

    /// One candidate by the id this organisation sees; `null` when the caller may not see it.
    #[graphql(visible = "visible_candidate")]
    async fn candidate(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Candidate>> {
        let caller = enter(ctx, "candidate")?;
        let Some(id) = state(ctx).protector.open_id(&caller.organisation_code, &id) else {
            return Ok(None);
        };
        let Some(visible) = state(ctx).policy.visible(
            caller,
            Expr::col((
                candidate_profile::Entity,
                candidate_profile::Column::PersonId,
            )),
        ) else {
            return Ok(None);
        };
        let row = candidate_profile::Entity::find()
            .filter(candidate_profile::Column::PersonId.eq(id))
            .filter(visible)
            .one(db(ctx))
            .await
            .map_err(db_error)?;
        let wants = ctx.look_ahead().field("jobAgreementEligible").exists();
        Ok(
            candidates_of(ctx, caller, row.into_iter().collect(), wants, None)
                .await?
                .pop(),
        )
    }
}

/// Reads up to `limit` profiles of `query` with only the person id and `columns`; the other
/// fields of each row keep their defaults (see `partial` in [`guarded_object`]).
async fn profile_page(
    db: &DatabaseConnection,
    query: sea_orm::Select<candidate_profile::Entity>,
    columns: &[&'static str],
    limit: u64,
) -> std::result::Result<Vec<candidate_profile::Model>, sea_orm::DbErr> {
    use candidate_profile::Column as C;
    use sea_orm::{ConnectionTrait, QueryTrait};
    use std::str::FromStr;
    let columns = columns
        .iter()
        .map(|c| C::from_str(c).map_err(|e| sea_orm::DbErr::Custom(e.to_string())))
        .collect::<std::result::Result<Vec<C>, _>>()?;
    let statement = query
        .select_only()
        .column(C::PersonId)
        .columns(columns.iter().copied())
        .limit(limit)
        .build(db.get_database_backend());
    let rows = db.query_all_raw(statement).await?;
    rows.iter()
        .map(|row| {
            let mut m = candidate_profile::Model {
                person_id: read_column(row, 0)?,
                ..Default::default()
            };
            for (i, column) in columns.iter().enumerate() {
                let i = i + 1;
                match column {
                    C::Id => m.id = read_column(row, i)?,
                    C::PersonId => m.person_id = read_column(row, i)?,
                    C::Skills => m.skills = read_column(row, i)?,
                    C::Strengths => m.strengths = read_column(row, i)?,
                    C::DevelopmentPoints => m.development_points = read_column(row, i)?,
                    C::WorkTypes => m.work_types = read_column(row, i)?,
                    C::Sectors => m.sectors = read_column(row, i)?,
                    C::HoursPerWeek => m.hours_per_week = read_column(row, i)?,
                    C::DaysAvailable => m.days_available = read_column(row, i)?,
                    C::AvailableFrom => m.available_from = read_column(row, i)?,
                    C::District => m.district = read_column(row, i)?,
                    C::Municipality => m.municipality = read_column(row, i)?,
                    C::TravelRangeKm => m.travel_range_km = read_column(row, i)?,
                    C::TravelsIndependently => m.travels_independently = read_column(row, i)?,
                    C::EducationLevel => m.education_level = read_column(row, i)?,
                    C::Languages => m.languages = read_column(row, i)?,
                    C::DrivingLicence => m.driving_licence = read_column(row, i)?,
                    C::Line => m.line = read_column(row, i)?,
                    C::ParticipationStep => m.participation_step = read_column(row, i)?,
                    C::CreatedAt => m.created_at = read_column(row, i)?,
                    C::UpdatedAt => m.updated_at = read_column(row, i)?,
                }
            }
            Ok(m)
        })
        .collect()
}

/// Column `i` of `row`, decoded by sqlx itself: sea-orm builds an error message for each NULL
/// it reads into an `Option`, and a page of profiles holds hundreds of NULLs.
fn read_column<T>(row: &sea_orm::QueryResult, i: usize) -> std::result::Result<T, sea_orm::DbErr>
where
    T: sea_orm::TryGetable
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
        + sqlx::Type<sqlx::Sqlite>,
{
    use sqlx::Row;
    let decoded = if let Some(row) = row.try_as_pg_row() {
        row.try_get(i)
    } else if let Some(row) = row.try_as_sqlite_row() {
        row.try_get(i)
    } else {
        return row.try_get_by_index(i);
    };
    decoded.map_err(|e| sea_orm::DbErr::Type(format!("column {i}: {e}")))
}

/// The row id behind a cursor this server issued to the caller's organisation.
fn open_cursor(ctx: &Context<'_>, caller: &Caller, after: Option<String>) -> Result<Option<i64>> {
    match after {
        Some(c) => state(ctx)
            .protector
            .open_id(&caller.organisation_code, &c)
            .map(Some)
            .ok_or_else(|| Error::new("`after` is not a cursor this server issued to you")),
        None => Ok(None),
    }
}

/// Candidates as the caller sees them, with what each record's consent lets the caller read.
/// `wants_job_agreement`: whether the query selects `jobAgreementEligible` (the consent and
/// register lookups are skipped when it does not); `loaded`: the columns read into the rows
/// when not all were (see [`profile_page`]).
async fn candidates_of(
    ctx: &Context<'_>,
    caller: &Caller,
    rows: Vec<candidate_profile::Model>,
    wants_job_agreement: bool,
    loaded: Option<Arc<[&'static str]>>,
) -> Result<Vec<Candidate>> {
    let st = state(ctx);
    let ids: Vec<i64> = if wants_job_agreement {
        rows.iter().map(|m| m.person_id).collect()
    } else {
        vec![]
    };
    // Persons whose consent covering the caller names job-agreement eligibility (partners and
    // the network); for other roles the class rule decides.
    let scope = || {
        st.policy.consent_scope(
            caller,
            SCOPE_JOB_AGREEMENT,
            Expr::col((
                candidate_profile::Entity,
                candidate_profile::Column::PersonId,
            )),
        )
    };
    let named: std::collections::HashSet<i64> = match (!ids.is_empty()).then(scope).flatten() {
        Some(cond) => candidate_profile::Entity::find()
            .select_only()
            .column(candidate_profile::Column::PersonId)
            .filter(candidate_profile::Column::PersonId.is_in(ids.clone()))
            .filter(cond)
            .into_tuple::<i64>()
            .all(db(ctx))
            .await
            .map_err(db_error)?
            .into_iter()
            .collect(),
        None => Default::default(),
    };
    // Persons whose register entry holds today.
    let registered: std::collections::HashSet<i64> = if ids.is_empty() {
        Default::default()
    } else {
        sensitive_detail::Entity::find()
            .select_only()
            .column(sensitive_detail::Column::PersonId)
            .filter(sensitive_detail::Column::PersonId.is_in(ids))
            .filter(sensitive_detail::registered_on(model::clock::today()))
            .into_tuple::<i64>()
            .all(db(ctx))
            .await
            .map_err(db_error)?
            .into_iter()
            .collect()
    };
    let base = st.policy.record_access(caller);
    let plain = st.policy.plain_reads(caller, base);
    Ok(rows
        .into_iter()
        .map(|m| {
            let access = RecordAccess {
                job_agreement: named.contains(&m.person_id),
                ..base
            };
            let scope = RecordScope::new(m.person_id, Pseudonym::Read(None), access, plain);
            Candidate {
                id: ID(st.protector.seal_id(&caller.organisation_code, m.person_id)),
                job_agreement: registered.contains(&m.person_id),
                person: None,
                profile: CandidateProfile {
                    m,
                    scope,
                    loaded: loaded.clone(),
                },
            }
        })
        .collect())
}

/// What to sort candidates by; ties, and the default, go by the candidate's position.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum CandidateSortKey {
    /// A stable order without meaning.
    #[default]
    Position,
    /// Available from, earliest first (ascending); unknown last.
    AvailableFrom,
    /// Hours available per week; unknown last.
    HoursPerWeek,
    /// SUWI education level; unknown last.
    EducationLevel,
    /// Participation step; unknown last.
    ParticipationStep,
}

/// Sort direction.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum SortDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

impl SortDirection {
    fn sea(self) -> sea_orm::Order {
        match self {
            Self::Asc => sea_orm::Order::Asc,
            Self::Desc => sea_orm::Order::Desc,
        }
    }
}

/// The order of a candidate list. Allowed only on fields the caller may read; cursors stay
/// opaque (they carry no sort values).
#[derive(async_graphql::InputObject, Default)]
pub struct CandidateOrder {
    /// The sort key.
    #[graphql(default)]
    field: CandidateSortKey,
    /// The direction.
    #[graphql(default)]
    direction: SortDirection,
}

impl CandidateOrder {
    /// The column and the schema's name for it.
    fn column(&self) -> Option<(candidate_profile::Column, &'static str, &'static str)> {
        use candidate_profile::Column as C;
        Some(match self.field {
            CandidateSortKey::Position => return None,
            CandidateSortKey::AvailableFrom => {
                (C::AvailableFrom, "available_from", "AVAILABLE_FROM")
            }
            CandidateSortKey::HoursPerWeek => (C::HoursPerWeek, "hours_per_week", "HOURS_PER_WEEK"),
            CandidateSortKey::EducationLevel => {
                (C::EducationLevel, "education_level", "EDUCATION_LEVEL")
            }
            CandidateSortKey::ParticipationStep => (
                C::ParticipationStep,
                "participation_step",
                "PARTICIPATION_STEP",
            ),
        })
    }

    /// Asks the policy whether the caller may sort on the key.
    fn check(&self, ctx: &Context<'_>, caller: &Caller) -> Result<()> {
        if let Some((_, column, name)) = self.column() {
            state(ctx)
                .policy
                .may_filter(
                    caller,
                    "candidate_profile",
                    column,
                    &format!("CandidateOrder.{name}"),
                )
                .map_err(denied)?;
        }
        Ok(())
    }

    /// The value that stands in for an unknown one, so it sorts last in either direction.
    fn unknown(&self) -> sea_orm::Value {
        let asc = self.direction == SortDirection::Asc;
        match self.field {
            CandidateSortKey::AvailableFrom => {
                let d = if asc { (9999, 12, 31) } else { (1, 1, 1) };
                chrono::NaiveDate::from_ymd_opt(d.0, d.1, d.2)
                    .expect("valid date")
                    .into()
            }
            CandidateSortKey::HoursPerWeek => (if asc { 1e9 } else { -1.0 }).into(),
            _ => (if asc { i32::MAX } else { -1 }).into(),
        }
    }

    /// The sort expression (unknown values replaced), or `None` for the default order.
    fn key_expr(&self) -> Option<Expr> {
        let (col, ..) = self.column()?;
        Some(
            sea_orm::sea_query::Func::coalesce([
                Expr::col((candidate_profile::Entity, col)),
                Expr::val(self.unknown()),
            ])
            .into(),
        )
    }

    /// A row's sort value, as the sort expression computes it.
    fn value_of(&self, m: &candidate_profile::Model) -> sea_orm::Value {
        let v: Option<sea_orm::Value> = match self.field {
            CandidateSortKey::Position => None,
            CandidateSortKey::AvailableFrom => m.available_from.map(Into::into),
            CandidateSortKey::HoursPerWeek => m.hours_per_week.map(Into::into),
            CandidateSortKey::EducationLevel => m.education_level.map(Into::into),
            CandidateSortKey::ParticipationStep => m.participation_step.map(Into::into),
        };
        v.unwrap_or_else(|| self.unknown())
    }
}

/// Which candidates to list; all given conditions must hold. Each condition is allowed only to
/// callers who may read the field it tests.
#[derive(async_graphql::InputObject, Default)]
pub struct CandidateFilter {
    /// Has at least one of these skills.
    skills: Option<Vec<String>>,
    /// Wants at least one of these work types.
    work_types: Option<Vec<String>>,
    /// Speaks all of these languages.
    languages: Option<Vec<String>>,
    /// Lives in one of these districts.
    districts: Option<Vec<String>>,
    /// Available for at least this many hours a week.
    min_hours_per_week: Option<f64>,
    /// Available on or before this date.
    available_before: Option<chrono::NaiveDate>,
    /// line_3 or line_4.
    line: Option<String>,
    /// At least this SUWI education level (0–7).
    min_education_level: Option<i32>,
    /// Holds a driving licence.
    driving_licence: Option<bool>,
    /// Eligible (or not) for a job-agreement job; for partners and the network this matches
    /// only persons whose consent names it.
    job_agreement_eligible: Option<bool>,
    /// Has a current placement planned to end on or before this date (caseworkers).
    placement_ending_before: Option<chrono::NaiveDate>,
}

impl CandidateFilter {
    /// The filter as a condition on `candidate_profile`. `in_person_order`: the rows are read in
    /// person order (the candidates' default order), so a plan that walks that order and stops
    /// at the page's end is wanted.
    fn condition(
        self,
        ctx: &Context<'_>,
        caller: &Caller,
        in_person_order: bool,
    ) -> Result<Condition> {
        use candidate_profile::Column as C;
        let policy = &state(ctx).policy;
        let backend = state(ctx).db.get_database_backend();
        let check = |column: &str, field: &str| {
            policy
                .may_filter(
                    caller,
                    "candidate_profile",
                    column,
                    &format!("CandidateFilter.{field}"),
                )
                .map_err(denied)
        };
        let mut all = Condition::all();
        let any_of = |column: C, values: &[String]| {
            values.iter().fold(Condition::any(), |c, v| {
                c.add(json_list_contains(backend, column, v))
            })
        };
        if let Some(v) = self.skills {
            check("skills", "skills")?;
            all = all.add(any_of(C::Skills, &v));
        }
        if let Some(v) = self.work_types {
            check("work_types", "workTypes")?;
            all = all.add(any_of(C::WorkTypes, &v));
        }
        if let Some(v) = self.languages {
            check("languages", "languages")?;
            for lang in v {
                all = all.add(json_list_contains(backend, C::Languages, &lang));
            }
        }
        if let Some(v) = self.districts {
            check("district", "districts")?;
            // SQLite reads several districts each through the (district, person) index and then
            // sorts all their rows to find the first page (20 ms against 0.3 ms per search with
            // 100,000 candidates, two districts); written `+district`, the term is tested per
            // row of a walk in person order, which stops at the page's end. One district keeps
            // the index: its rows come in person order already.
            let walk = in_person_order
                && v.len() > 1
                && db(ctx).get_database_backend() == sea_orm::DbBackend::Sqlite;
            all = all.add(if walk {
                Expr::cust("+\"candidate_profile\".\"district\"").is_in(v)
            } else {
                C::District.is_in(v)
            });
        }
        if let Some(v) = self.min_hours_per_week {
            check("hours_per_week", "minHoursPerWeek")?;
            all = all.add(C::HoursPerWeek.gte(v));
        }
        if let Some(v) = self.available_before {
            check("available_from", "availableBefore")?;
            all = all.add(C::AvailableFrom.lte(v));
        }
        if let Some(v) = self.line {
            check("line", "line")?;
            all = all.add(C::Line.eq(v));
        }
        if let Some(v) = self.min_education_level {
            check("education_level", "minEducationLevel")?;
            all = all.add(C::EducationLevel.gte(v));
        }
        if let Some(v) = self.driving_licence {
            check("driving_licence", "drivingLicence")?;
            all = all.add(C::DrivingLicence.eq(v));
        }
        if let Some(v) = self.job_agreement_eligible {
            policy
                .may_filter(
                    caller,
                    "sensitive_detail",
                    "target_group_register",
                    "CandidateFilter.jobAgreementEligible",
                )
                .map_err(denied)?;
            let registered = sea_orm::sea_query::Query::select()
                .column(sensitive_detail::Column::PersonId)
                .from(sensitive_detail::Entity)
                .cond_where(sensitive_detail::registered_on(model::clock::today()))
                .to_owned();
            all = all.add(if v {
                C::PersonId.in_subquery(registered)
            } else {
                C::PersonId.not_in_subquery(registered)
            });
            if let Some(named) = policy.consent_scope(
                caller,
                SCOPE_JOB_AGREEMENT,
                Expr::col((candidate_profile::Entity, C::PersonId)),
            ) {
                all = all.add(named);
            }
        }
        if let Some(v) = self.placement_ending_before {
            policy
                .may_filter(
                    caller,
                    "placement",
                    "planned_end_date",
                    "CandidateFilter.placementEndingBefore",
                )
                .map_err(denied)?;
            let ending = sea_orm::sea_query::Query::select()
                .column(placement::Column::PersonId)
                .from(placement::Entity)
                .and_where(placement::Column::ActualEndDate.is_null())
                .and_where(placement::Column::Active.eq(true))
                .and_where(placement::Column::PlannedEndDate.lte(v))
                .to_owned();
            all = all.add(C::PersonId.in_subquery(ending));
        }
        Ok(all)
    }
}

/// A page of candidates: `CandidateConnection` in the schema, the type async-graphql's
/// `Connection` made before, with its edges and nodes resolved at once (a page's candidates are
/// read before they are answered; see [`at_once`]).
#[derive(Default)]
pub struct CandidatePage {
    edges: Vec<CandidateEdge>,
    has_previous_page: bool,
    has_next_page: bool,
}

// No description, as the `Connection` it replaces had none.
#[Object(name = "CandidateConnection")]
impl CandidatePage {
    /// Information to aid in pagination.
    async fn page_info(&self) -> PageInfo {
        PageInfo {
            has_previous_page: self.has_previous_page,
            has_next_page: self.has_next_page,
            start_cursor: self.edges.first().map(|e| e.cursor.clone()),
            end_cursor: self.edges.last().map(|e| e.cursor.clone()),
        }
    }
    /// A list of edges.
    async fn edges(&self) -> at_once::AtOnceList<&CandidateEdge> {
        at_once::AtOnceList(self.edges.iter().collect())
    }
    /// A list of nodes.
    async fn nodes(&self) -> at_once::AtOnceList<&Candidate> {
        at_once::AtOnceList(self.edges.iter().map(|e| &e.node).collect())
    }
}

/// An edge of a [`CandidatePage`]: a candidate and its cursor.
pub struct CandidateEdge {
    node: Candidate,
    cursor: String,
}

/// An edge in a connection.
#[Object]
impl CandidateEdge {
    /// The item at the end of the edge
    async fn node(&self) -> at_once::AtOnce<&Candidate> {
        at_once::AtOnce(&self.node)
    }
    /// A cursor for use in pagination
    async fn cursor(&self) -> &str {
        &self.cursor
    }
}

/// A candidate as the caller's organisation sees it: an opaque id and the generic profile.
#[derive(Clone)]
pub struct Candidate {
    id: ID,
    profile: CandidateProfile,
    /// In the job-agreement target-group register (read only through the policy).
    job_agreement: bool,
    /// The full record, for a caseworker whose caseload holds the person (loaded only when
    /// the query selects it).
    person: Option<Box<Person>>,
}

#[Object]
impl Candidate {
    /// This organisation's id for the candidate; another organisation sees another id.
    async fn id(&self) -> &ID {
        &self.id
    }
    /// The generic profile: skills, strengths, availability.
    async fn profile(&self) -> at_once::AtOnce<&CandidateProfile> {
        at_once::AtOnce(&self.profile)
    }
    /// The full record (caseworkers, for persons in their caseload).
    #[graphql(visible = "visible_person")]
    async fn person(&self) -> Option<at_once::AtOnce<&Person>> {
        self.person.as_deref().map(at_once::AtOnce)
    }
    /// Eligible for a job-agreement job (in the target-group register). Special: partners and
    /// the network see it only where the person's consent names it, caseworkers with
    /// `special:read`; `null` where it may not be read. Every read is audited.
    #[graphql(visible = "visible_job_agreement")]
    async fn job_agreement_eligible(&self, ctx: &Context<'_>) -> Result<Option<bool>> {
        let scope = &self.profile.scope;
        let readable = caller(ctx).is_some_and(|c| {
            state(ctx)
                .policy
                .field(
                    c,
                    "sensitive_detail",
                    "target_group_register",
                    scope.access,
                    "Candidate.jobAgreementEligible",
                )
                .is_ok()
        });
        if !readable {
            return Ok(None);
        }
        scope.check(
            ctx,
            "sensitive_detail",
            "target_group_register",
            "Candidate.jobAgreementEligible",
        )?;
        Ok(Some(self.job_agreement))
    }
}

fn visible_job_agreement(ctx: &Context<'_>) -> bool {
    caller(ctx).is_some_and(|c| {
        state(ctx)
            .policy
            .named_field_visible(c, "sensitive_detail", "target_group_register")
    })
}

fn page_size(ctx: &Context<'_>, first: i32) -> Result<usize> {
    let max = state(ctx).settings.max_page;
    match usize::try_from(first) {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Error::new(format!(
            "`first` must be between 1 and {max} ([server] max_page_size)"
        ))),
    }
}

async fn organisations_by_id(db: &DatabaseConnection) -> Result<HashMap<i64, Organisation>> {
    organisations_among(db, None).await
}

/// Organisations by id: these (`Some`) or all.
async fn organisations_among(
    db: &DatabaseConnection,
    ids: Option<Vec<i64>>,
) -> Result<HashMap<i64, Organisation>> {
    let mut q = organisation::Entity::find();
    if let Some(ids) = ids {
        q = q.filter(organisation::Column::Id.is_in(ids));
    }
    Ok(q.all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|o| (o.id, o.into()))
        .collect())
}

/// The parts of a person's record a query selects; [`load_persons`] reads only these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct PersonParts {
    identity: bool,
    profile: bool,
    sensitive: bool,
    placements: bool,
    /// Derived outcomes, and the organisations they need (only when `outcome` is selected).
    outcomes: bool,
    /// The placements' organisations.
    organisations: bool,
    consents: bool,
    /// The source records (provenance).
    sources: bool,
}

impl PersonParts {
    /// Every part.
    pub(super) const ALL: Self = Self {
        identity: true,
        profile: true,
        sensitive: true,
        placements: true,
        outcomes: true,
        organisations: true,
        consents: true,
        sources: true,
    };

    /// Whether any part asked for holds fields the policy may audit (personal or special); the
    /// others (profile, placements) are generic or internal.
    pub(super) fn audited(&self) -> bool {
        self.identity || self.sensitive || self.consents || self.sources
    }

    /// The parts the selections of a `Person` ask for (fragments and aliases included).
    pub(super) fn of(selections: &[async_graphql::Lookahead<'_>]) -> Self {
        let any = |f: &dyn Fn(&async_graphql::Lookahead<'_>) -> bool| selections.iter().any(f);
        Self {
            identity: any(&|s| s.field("identity").exists()),
            profile: any(&|s| s.field("profile").exists()),
            sensitive: any(&|s| s.field("sensitive").exists()),
            placements: any(&|s| s.field("placements").exists()),
            outcomes: any(&|s| s.field("placements").field("outcome").exists()),
            organisations: any(&|s| s.field("placements").field("organisation").exists()),
            consents: any(&|s| s.field("consents").exists()),
            sources: any(&|s| s.field("sources").exists()),
        }
    }
}

/// The rows of a one-per-person table (identity, profile, sensitive detail) for these persons, by
/// person id; no query and an empty map when the part is not `wanted`.
async fn one_per_person<E: EntityTrait>(
    db: &DatabaseConnection,
    wanted: bool,
    person_column: E::Column,
    ids: &[i64],
    person_of: impl Fn(&E::Model) -> i64,
) -> Result<HashMap<i64, E::Model>> {
    if !wanted {
        return Ok(HashMap::new());
    }
    Ok(E::find()
        .filter(person_column.is_in(ids.iter().copied()))
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| (person_of(&m), m))
        .collect())
}

/// Person rows as [`load_persons`] takes them.
pub(super) fn read_pseudonyms(rows: Vec<person::Model>) -> Vec<(i64, Pseudonym)> {
    rows.into_iter()
        .map(|p| (p.id, Pseudonym::Read(p.bsn_pseudonym)))
        .collect()
}

/// Loads the details of a page of persons (already row-filtered; each with what its audited
/// reads are logged under) in one query per table, reading only the tables of the `parts` the
/// query selects.
async fn load_persons(
    ctx: &Context<'_>,
    caller: &Caller,
    rows: Vec<(i64, Pseudonym)>,
    parts: PersonParts,
) -> Result<Vec<Person>> {
    let db = db(ctx);
    let st = state(ctx);
    let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    let mut identities = one_per_person::<person_identity::Entity>(
        db,
        parts.identity,
        person_identity::Column::PersonId,
        &ids,
        |m| m.person_id,
    )
    .await?;
    let mut profiles = one_per_person::<candidate_profile::Entity>(
        db,
        parts.profile,
        candidate_profile::Column::PersonId,
        &ids,
        |m| m.person_id,
    )
    .await?;
    let mut details = one_per_person::<sensitive_detail::Entity>(
        db,
        parts.sensitive,
        sensitive_detail::Column::PersonId,
        &ids,
        |m| m.person_id,
    )
    .await?;
    let mut placements: HashMap<i64, Vec<Placement>> = HashMap::new();
    if parts.placements {
        let rows = placement::Entity::find()
            .filter(placement::Column::PersonId.is_in(ids.clone()))
            .order_by_asc(placement::Column::StartDate)
            .all(db)
            .await
            .map_err(db_error)?;
        // Only the organisations these placements name, and only when asked for (directly or
        // to derive outcomes).
        let orgs = if parts.organisations || parts.outcomes {
            let mut org_ids: Vec<i64> = rows.iter().map(|p| p.organisation_id).collect();
            org_ids.sort_unstable();
            org_ids.dedup();
            organisations_among(db, Some(org_ids)).await?
        } else {
            HashMap::new()
        };
        for p in rows {
            let org = orgs.get(&p.organisation_id).cloned();
            placements.entry(p.person_id).or_default().push(Placement {
                m: p,
                organisation: org,
                derived_outcome: None,
            });
        }
    }
    // Outcomes not given by a source follow from what came next (see `stats::derive_outcomes`).
    let today = model::clock::today();
    for list in placements.values_mut().filter(|_| parts.outcomes) {
        let facts: Vec<crate::stats::PlacementFact> = list
            .iter()
            .map(|p| {
                let (name, kind) = p
                    .organisation
                    .as_ref()
                    .map(|o| (o.name.clone(), o.kind.clone()))
                    .unwrap_or_default();
                crate::stats::PlacementFact::new(&p.m, name, kind, today)
            })
            .collect();
        let refs: Vec<&crate::stats::PlacementFact> = facts.iter().collect();
        let derived = crate::stats::derive_outcomes(&refs, st.settings.outcome_window_days, today);
        for (p, d) in list.iter_mut().zip(derived) {
            p.derived_outcome = d.outcome.map(|o| o.as_str());
        }
    }
    let mut records: HashMap<i64, Vec<SourceRecordRow>> = HashMap::new();
    if parts.sources {
        let sources: HashMap<i64, source::Model> = source::Entity::find()
            .all(db)
            .await
            .map_err(db_error)?
            .into_iter()
            .map(|s| (s.id, s))
            .collect();
        for m in source_record::Entity::find()
            .filter(source_record::Column::PersonId.is_in(ids.clone()))
            .order_by_asc(source_record::Column::SourceId)
            .order_by_asc(source_record::Column::Id)
            .all(db)
            .await
            .map_err(db_error)?
        {
            let (Some(person_id), Some(src)) = (m.person_id, sources.get(&m.source_id)) else {
                continue;
            };
            records.entry(person_id).or_default().push(SourceRecordRow {
                source: src.name.clone(),
                special: model::privacy::SPECIAL_SOURCE_KINDS.contains(&src.kind.as_str()),
                m,
            });
        }
    }
    let mut consents: HashMap<i64, Vec<consent::Model>> = HashMap::new();
    if parts.consents {
        for c in consent::Entity::find()
            .filter(consent::Column::PersonId.is_in(ids))
            .order_by_desc(consent::Column::GrantedAt)
            .all(db)
            .await
            .map_err(db_error)?
        {
            consents.entry(c.person_id).or_default().push(c);
        }
    }
    // Rows reach here only through the policy's row filter.
    let access = st.policy.record_access(caller);
    let plain = st.policy.plain_reads(caller, access);
    Ok(rows
        .into_iter()
        .map(|(id, pseudonym)| {
            let scope = RecordScope::new(id, pseudonym, access, plain);
            Person {
                identity: identities.remove(&id).map(|m| PersonIdentity {
                    m,
                    scope: scope.clone(),
                }),
                profile: profiles.remove(&id).map(|m| CandidateProfile {
                    m,
                    scope: scope.clone(),
                    loaded: None,
                }),
                sensitive: details.remove(&id).map(|m| SensitiveDetail {
                    m,
                    scope: scope.clone(),
                }),
                placements: placements.remove(&id).unwrap_or_default(),
                consents: consents
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| Consent {
                        m,
                        scope: scope.clone(),
                    })
                    .collect(),
                sources: records
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| SourceRecord {
                        m,
                        scope: scope.clone(),
                    })
                    .collect(),
                scope,
            }
        })
        .collect())
}

/// What an audited read of a person's record is logged under.
#[derive(Clone, Debug)]
pub(super) enum Pseudonym {
    /// The BSN pseudonym as read with the record; `None`: a keyed hash of the record's id.
    Read(Option<String>),
    /// The person's row was not read (nothing asked for could be audited, see
    /// [`PersonParts::audited`]); a read that needs auditing fails instead.
    NotRead,
}

/// What the policy needs to know about one person's record, carried by its objects.
#[derive(Clone, Debug)]
pub struct RecordScope {
    /// The person's database id.
    person_id: i64,
    /// What the person's audited reads are logged under.
    pseudonym: Pseudonym,
    /// How the record relates to the caller.
    access: RecordAccess,
    /// The classes the policy lets the caller read on this record without further checks.
    plain: ClassSet,
}

impl RecordScope {
    /// The scope of a person's record with `access`; `plain` is [`Policy::plain_reads`] for the
    /// caller and that access, decided once for a page of records (job-agreement consent only
    /// adds consent-named fields, which never count as plain).
    ///
    /// [`Policy::plain_reads`]: crate::policy::Policy::plain_reads
    fn new(person_id: i64, pseudonym: Pseudonym, access: RecordAccess, plain: ClassSet) -> Self {
        Self {
            person_id,
            pseudonym,
            access,
            plain,
        }
    }

    /// Asks the policy whether `table.column` may be read, and audits personal/special reads.
    fn check(
        &self,
        ctx: &Context<'_>,
        table: &str,
        column: &str,
        field: impl std::fmt::Display,
    ) -> Result<()> {
        self.check_key(ctx, &crate::policy::FieldKey::of(table, column), field)
    }

    /// [`RecordScope::check`] for a field whose key was looked up once.
    fn check_key(
        &self,
        ctx: &Context<'_>,
        key: &crate::policy::FieldKey,
        field: impl std::fmt::Display,
    ) -> Result<()> {
        if key.class().is_some_and(|c| self.plain.contains(c)) {
            return Ok(());
        }
        let caller = caller(ctx).ok_or_else(|| denied(Denied::Unauthenticated))?;
        let class = state(ctx)
            .policy
            .decide(caller, key, self.access, &field)
            .map_err(denied)?;
        if class == PrivacyClass::Special
            && caller.role == model::Role::Caseworker
            && ctx
                .data_opt::<crate::audit::Purpose>()
                .is_none_or(|p| p.0.is_none())
        {
            return Err(Error::new(format!(
                "reading `{field}` (special) needs a processing purpose: send the header \
                 `{}: <purpose>`, one of {}",
                crate::audit::PURPOSE_HEADER,
                crate::audit::PURPOSES.join(", ")
            ))
            .extend_with(|_, e| e.set("code", "PURPOSE_REQUIRED")));
        }
        if class >= PrivacyClass::Personal {
            if let Some(collector) = ctx.data_opt::<Arc<AuditCollector>>() {
                let pseudonym = match &self.pseudonym {
                    Pseudonym::Read(Some(p)) => p.clone(),
                    Pseudonym::Read(None) => state(ctx)
                        .protector
                        .keyed_hash(b"person-id:", self.person_id.to_string().as_bytes()),
                    Pseudonym::NotRead => return Err(not_read(format_args!("{field}"))),
                };
                collector.record(&pseudonym, &field.to_string());
            } else {
                return Err(Error::new(
                    "audit unavailable; personal data is not served without it",
                ));
            }
        }
        Ok(())
    }
}

/// Which audit events to list; all conditions must hold.
#[derive(async_graphql::InputObject, Default)]
pub struct AuditEventFilter {
    /// Only reads of this person (pseudonym, as stored in the event).
    person_pseudonym: Option<String>,
    /// Only reads by this token subject.
    subject: Option<String>,
    /// Only reads in this request.
    request_id: Option<String>,
    /// Only events at or after this time.
    since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events older than this id (to page backwards).
    before_id: Option<ID>,
}

/// One read of personal or special fields (the shape of the Logboek Dataverwerkingen).
pub struct AuditEvent {
    m: audit_event::Model,
}

#[Object(visible = "visible_audit_events")]
impl AuditEvent {
    /// Event id.
    async fn id(&self) -> ID {
        ID(self.m.id.to_string())
    }
    /// When the fields were read.
    async fn occurred_at(&self) -> chrono::DateTime<chrono::Utc> {
        self.m.occurred_at
    }
    /// Token subject of the reader.
    async fn subject(&self) -> &str {
        &self.m.subject
    }
    /// Role of the reader.
    async fn role(&self) -> &str {
        &self.m.role
    }
    /// Database id of the reader's organisation.
    async fn organisation_id(&self) -> Option<ID> {
        self.m.organisation_id.map(|i| ID(i.to_string()))
    }
    /// Pseudonym of the person whose fields were read.
    async fn person_pseudonym(&self) -> &str {
        &self.m.person_pseudonym
    }
    /// The fields read, as `Type.field`.
    async fn fields(&self) -> Strings {
        list(&self.m.fields)
    }
    /// Processing purpose.
    async fn purpose(&self) -> &str {
        &self.m.purpose
    }
    /// GraphQL operation name, when the client gave one.
    async fn operation_name(&self) -> Option<&str> {
        self.m.operation_name.as_deref()
    }
    /// Request id (the `x-request-id` response header).
    async fn request_id(&self) -> &str {
        &self.m.request_id
    }
    /// Trace id: from the request's W3C `traceparent` header, or generated for it.
    async fn trace_id(&self) -> Option<&str> {
        self.m.trace_id.as_deref()
    }
    /// Hash of the previous event.
    async fn prev_hash(&self) -> &str {
        &self.m.prev_hash
    }
    /// This event's hash.
    async fn hash(&self) -> &str {
        &self.m.hash
    }
}

/// The caller.
#[derive(SimpleObject)]
pub struct Me {
    /// Account name the token was issued to.
    subject: String,
    /// Role: caseworker, partner, network, dashboard or steward.
    role: String,
    /// The caller's organisation.
    organisation: Organisation,
    /// Extra permissions, e.g. `special:read`.
    scopes: Vec<String>,
}

/// An organisation: municipality, UWV, social firm, partner employer, care, education or the network.
#[derive(SimpleObject, Clone)]
pub struct Organisation {
    /// Database id.
    id: ID,
    /// Full name, e.g. "Gemeente Amsterdam".
    name: String,
    /// Short code used in tokens and configuration.
    code: String,
    /// Kind: municipality, uwv, social_firm, employer, care, education, network.
    kind: String,
}

impl From<organisation::Model> for Organisation {
    fn from(m: organisation::Model) -> Self {
        Self {
            id: ID(m.id.to_string()),
            name: m.name,
            code: m.code,
            kind: m.kind,
        }
    }
}

/// A configured data source.
pub struct Source {
    m: source::Model,
    organisation: Option<Organisation>,
}

#[Object]
impl Source {
    /// Unique name from the configuration.
    async fn name(&self) -> &str {
        &self.m.name
    }
    /// municipality, social_firm or uwv.
    async fn kind(&self) -> &str {
        &self.m.kind
    }
    /// The organisation that supplies it.
    async fn organisation(&self) -> Option<&Organisation> {
        self.organisation.as_ref()
    }
    /// xlsx, csv or json.
    async fn format(&self) -> &str {
        &self.m.format
    }
    /// File, folder, glob or URL.
    async fn location(&self) -> &str {
        &self.m.location
    }
    /// Cron schedule with seconds.
    async fn schedule(&self) -> Option<&str> {
        self.m.schedule.as_deref()
    }
}

/// One run of an importer over a source.
pub struct ImportRun {
    m: import_run::Model,
    source: String,
}

#[Object]
impl ImportRun {
    /// Run id.
    async fn id(&self) -> ID {
        ID(self.m.id.to_string())
    }
    /// Name of the source.
    async fn source(&self) -> &str {
        &self.source
    }
    /// queued, claimed, running, succeeded or failed.
    async fn status(&self) -> &str {
        &self.m.status
    }
    /// schedule, manual, command or sample (the demo).
    async fn trigger(&self) -> &str {
        &self.m.trigger
    }
    /// When it started.
    async fn started_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.m.started_at
    }
    /// When it finished.
    async fn finished_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.m.finished_at
    }
    /// Rows read from the source.
    async fn rows_read(&self) -> i64 {
        self.m.rows_read
    }
    /// Rows that created a record.
    async fn rows_inserted(&self) -> i64 {
        self.m.rows_inserted
    }
    /// Rows that changed a record.
    async fn rows_updated(&self) -> i64 {
        self.m.rows_updated
    }
    /// Rows identical to what was stored.
    async fn rows_unchanged(&self) -> i64 {
        self.m.rows_unchanged
    }
    /// Rows rejected by validation.
    async fn rows_rejected(&self) -> i64 {
        self.m.rows_rejected
    }
    /// Rows a full export no longer had, marked inactive with their placements.
    async fn rows_deactivated(&self) -> i64 {
        self.m.rows_deactivated
    }
    /// Why the run failed.
    async fn error(&self) -> Option<&str> {
        self.m.error.as_deref()
    }
    /// The schedule tick it ran for, for scheduled runs.
    async fn scheduled_for(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.m.scheduled_for
    }
    /// The earlier run whose files this run found unchanged: it read nothing and repeated that
    /// run's outcome (`werkbrug import --reread` reads anyway).
    async fn repeats_run(&self) -> Option<ID> {
        self.m.repeats_run_id.map(|id| ID(id.to_string()))
    }
    /// The files (or URL) read.
    async fn files(&self) -> Vec<String> {
        self.m
            .files
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok())
            .unwrap_or_default()
    }
    /// Rows refused by validation, in file order: where, which column, why. Raw values are not
    /// shown (they may be personal).
    async fn rejected_rows(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        #[graphql(default = 0)] offset: i32,
    ) -> Result<Vec<RejectedRow>> {
        let rows = rejected_row::Entity::find()
            .filter(rejected_row::Column::ImportRunId.eq(self.m.id))
            .order_by_asc(rejected_row::Column::Id)
            .offset(Ord::max(offset, 0) as u64)
            .limit(page_size(ctx, first)? as u64)
            .all(db(ctx))
            .await
            .map_err(db_error)?;
        Ok(rows.into_iter().map(|m| RejectedRow { m }).collect())
    }
}

/// A row an import refused, with where it was and why.
pub struct RejectedRow {
    m: rejected_row::Model,
}

#[Object]
impl RejectedRow {
    /// The file (or URL) it came from.
    async fn file(&self) -> Option<&str> {
        self.m.file.as_deref()
    }
    /// The sheet, for workbooks.
    async fn sheet(&self) -> Option<&str> {
        self.m.sheet.as_deref()
    }
    /// Row number as the file shows it.
    async fn row_number(&self) -> i64 {
        self.m.row_number
    }
    /// The column at fault, as the file names it.
    async fn column(&self) -> Option<&str> {
        self.m.column_name.as_deref()
    }
    /// What is wrong.
    async fn reason(&self) -> &str {
        &self.m.reason
    }
}

/// Root mutations for imports and consent.
#[derive(Default)]
pub struct CoreMutation;

#[Object]
impl CoreMutation {
    /// Queues a run of a configured source (steward); an instance's scheduler picks it up within
    /// seconds. Returns the queued run; follow it with `importRun(id)`.
    #[graphql(visible = "visible_run_import")]
    async fn run_import(&self, ctx: &Context<'_>, source: String) -> Result<ImportRun> {
        enter(ctx, "runImport")?;
        let db = db(ctx);
        let Some(src) = source::Entity::find()
            .filter(source::Column::Name.eq(&source))
            .one(db)
            .await
            .map_err(db_error)?
        else {
            let known: Vec<String> = source::Entity::find()
                .all(db)
                .await
                .map_err(db_error)?
                .into_iter()
                .map(|s| s.name)
                .collect();
            return Err(Error::new(format!(
                "no source named `{source}`; configured sources: {}",
                known.join(", ")
            )));
        };
        let now = chrono::Utc::now();
        let run = import_run::ActiveModel {
            source_id: Set(src.id),
            status: Set("queued".into()),
            trigger: Set("manual".into()),
            rows_read: Set(0),
            rows_inserted: Set(0),
            rows_updated: Set(0),
            rows_unchanged: Set(0),
            rows_rejected: Set(0),
            rows_deactivated: Set(0),
            dry_run: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .map_err(db_error)?;
        Ok(ImportRun {
            m: run,
            source: src.name,
        })
    }

    /// Records a person's consent to share their generic profile, as the person gave it to the
    /// caseworker (the person's key). With `approve` (the default) the caseworker's approval —
    /// the second key — is recorded at once; otherwise it waits for `approveConsent`.
    #[graphql(visible = "visible_record_consent")]
    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        input: RecordConsentInput,
    ) -> Result<Consent> {
        let caller = enter(ctx, "recordConsent")?;
        let st = state(ctx);
        let db = db(ctx);
        let now = chrono::Utc::now();
        let person_id = st
            .protector
            .open_id(&caller.organisation_code, &input.person_id);
        let person_id = match person_id {
            Some(id) if in_caseload(ctx, caller, id).await? => id,
            _ => return Err(not_in_caseload("personId")),
        };
        check_expiry(input.expires_at, now)?;
        let partner = match (input.audience, input.partner.as_deref()) {
            (ConsentAudience::Network, None) => None,
            (ConsentAudience::Network, Some(_)) => {
                return Err(Error::new(
                    "`partner` is only for audience PARTNER; a network consent covers every partner",
                ));
            }
            (ConsentAudience::Partner, None) => {
                return Err(Error::new(
                    "audience PARTNER needs `partner`: the organisation's name or code",
                ));
            }
            (ConsentAudience::Partner, Some(name)) => {
                let org = organisation::Entity::find()
                    .filter(
                        Condition::any()
                            .add(organisation::Column::Code.eq(name))
                            .add(organisation::Column::Name.eq(name)),
                    )
                    .one(db)
                    .await
                    .map_err(db_error)?;
                match org {
                    Some(o) if o.kind == "employer" => Some(o.id),
                    Some(_) => {
                        return Err(Error::new(format!(
                            "`{name}` is not a partner employer; a partner consent names an employer"
                        )));
                    }
                    None => return Err(Error::new(format!("no organisation named `{name}`"))),
                }
            }
        };
        let approve = input.approve.unwrap_or(true);
        let m = consent::ActiveModel {
            person_id: Set(person_id),
            audience: Set(input.audience.as_str().into()),
            partner_organisation_id: Set(partner),
            scope: Set(input
                .scope
                .unwrap_or(ConsentScope::GenericProfile)
                .as_str()
                .into()),
            person_agreed: Set(true),
            granted_at: Set(now),
            expires_at: Set(Some(input.expires_at)),
            revoked_at: Set(None),
            approved_by: Set(approve.then(|| caller.subject.clone())),
            approved_at: Set(approve.then_some(now)),
            recorded_by: Set(caller.subject.clone()),
            recorded_by_organisation_id: Set(Some(caller.organisation_id)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(db)
        .await
        .map_err(db_error)?;
        tracing::info!(consent = m.id, audience = %m.audience, approved = approve, "consent recorded");
        Ok(consent_object(ctx, caller, m))
    }

    /// The caseworker's approval of a consent the person gave (for instance one an import
    /// recorded from `Toestemming delen`): the second key.
    #[graphql(visible = "visible_approve_consent")]
    async fn approve_consent(&self, ctx: &Context<'_>, id: ID) -> Result<Consent> {
        let caller = enter(ctx, "approveConsent")?;
        let m = caseload_consent(ctx, caller, &id).await?;
        not_revoked(&m)?;
        let now = chrono::Utc::now();
        let mut am: consent::ActiveModel = m.into();
        am.approved_by = Set(Some(caller.subject.clone()));
        am.approved_at = Set(Some(now));
        am.updated_at = Set(now);
        let m = am.update(db(ctx)).await.map_err(db_error)?;
        Ok(consent_object(ctx, caller, m))
    }

    /// Extends a consent to a new expiry (the person agreed again).
    #[graphql(visible = "visible_renew_consent")]
    async fn renew_consent(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<Consent> {
        let caller = enter(ctx, "renewConsent")?;
        let m = caseload_consent(ctx, caller, &id).await?;
        let now = chrono::Utc::now();
        not_revoked(&m)?;
        check_expiry(expires_at, now)?;
        let mut am: consent::ActiveModel = m.into();
        am.expires_at = Set(Some(expires_at));
        am.person_agreed = Set(true);
        am.updated_at = Set(now);
        let m = am.update(db(ctx)).await.map_err(db_error)?;
        Ok(consent_object(ctx, caller, m))
    }

    /// Revokes a consent; partners stop seeing the profile from their next request.
    #[graphql(visible = "visible_revoke_consent")]
    async fn revoke_consent(&self, ctx: &Context<'_>, id: ID) -> Result<Consent> {
        let caller = enter(ctx, "revokeConsent")?;
        let m = caseload_consent(ctx, caller, &id).await?;
        if m.revoked_at.is_some() {
            return Ok(consent_object(ctx, caller, m));
        }
        let now = chrono::Utc::now();
        let mut am: consent::ActiveModel = m.into();
        am.revoked_at = Set(Some(now));
        am.updated_at = Set(now);
        let m = am.update(db(ctx)).await.map_err(db_error)?;
        tracing::info!(consent = m.id, "consent revoked");
        Ok(consent_object(ctx, caller, m))
    }
}

/// Who a consent lets see the profile.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum ConsentAudience {
    /// Every partner of the network, and the network itself.
    Network,
    /// One partner employer.
    Partner,
}

impl ConsentAudience {
    fn as_str(self) -> &'static str {
        match self {
            Self::Network => "network",
            Self::Partner => "partner",
        }
    }
}

/// What a consent lets them see.
#[derive(async_graphql::Enum, Copy, Clone, Eq, PartialEq)]
pub enum ConsentScope {
    /// The generic profile: skills, strengths, availability.
    GenericProfile,
    /// The generic profile and whether the person is eligible for a job-agreement job.
    GenericProfileAndJobAgreement,
}

impl ConsentScope {
    fn as_str(self) -> &'static str {
        match self {
            Self::GenericProfile => "generic_profile",
            Self::GenericProfileAndJobAgreement => "generic_profile_and_job_agreement",
        }
    }
}

/// A consent as the person gave it to a caseworker.
#[derive(async_graphql::InputObject)]
pub struct RecordConsentInput {
    /// The person, by the id your organisation sees.
    person_id: ID,
    /// Who may see the profile.
    audience: ConsentAudience,
    /// For audience PARTNER: the employer's name or code.
    partner: Option<String>,
    /// What they may see (default GENERIC_PROFILE).
    scope: Option<ConsentScope>,
    /// When the consent ends (at most three years ahead).
    expires_at: chrono::DateTime<chrono::Utc>,
    /// Record your approval (the second key) at once; default true.
    approve: Option<bool>,
}

/// Refuses to change a revoked consent; a new one must be recorded.
fn not_revoked(m: &consent::Model) -> Result<()> {
    match m.revoked_at {
        Some(_) => Err(Error::new(
            "this consent was revoked; record a new one with `recordConsent`",
        )),
        None => Ok(()),
    }
}

/// A consent's expiry must lie in the future and at most three years ahead.
fn check_expiry(
    expires_at: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if expires_at <= now {
        Err(Error::new("`expiresAt` must lie in the future"))
    } else if expires_at > now + chrono::Duration::days(3 * 365) {
        Err(Error::new(
            "`expiresAt` may lie at most three years ahead; renew the consent when it ends",
        ))
    } else {
        Ok(())
    }
}

/// The refusal for a person or consent outside the caller's caseload; it does not say whether
/// the record exists.
fn not_in_caseload(what: &str) -> Error {
    Error::new(format!("`{what}` names nothing in your caseload"))
        .extend_with(|_, e| e.set("code", "NOT_FOUND"))
}

/// Whether the person is in the caller's caseload (the policy's row filter).
async fn in_caseload(ctx: &Context<'_>, caller: &Caller, person_id: i64) -> Result<bool> {
    let Some(visible) = state(ctx)
        .policy
        .visible(caller, Expr::col((person::Entity, person::Column::Id)))
    else {
        return Ok(false);
    };
    let found = person::Entity::find()
        .filter(person::Column::Id.eq(person_id))
        .filter(visible)
        .one(db(ctx))
        .await
        .map_err(db_error)?;
    Ok(found.is_some())
}

/// A consent of a person in the caller's caseload, by id.
async fn caseload_consent(ctx: &Context<'_>, caller: &Caller, id: &ID) -> Result<consent::Model> {
    let Ok(id) = id.parse::<i64>() else {
        return Err(not_in_caseload("id"));
    };
    let m = consent::Entity::find_by_id(id)
        .one(db(ctx))
        .await
        .map_err(db_error)?;
    match m {
        Some(m) if in_caseload(ctx, caller, m.person_id).await? => Ok(m),
        _ => Err(not_in_caseload("id")),
    }
}

fn consent_object(ctx: &Context<'_>, caller: &Caller, m: consent::Model) -> Consent {
    let policy = &state(ctx).policy;
    let access = policy.record_access(caller);
    let scope = RecordScope::new(
        m.person_id,
        Pseudonym::Read(None),
        access,
        policy.plain_reads(caller, access),
    );
    Consent { m, scope }
}

/// A person in the caller's caseload.
#[derive(Clone)]
pub struct Person {
    /// The person's id (sealed for the caller's organisation when asked for) and what the
    /// caller may read of the record.
    scope: RecordScope,
    identity: Option<PersonIdentity>,
    profile: Option<CandidateProfile>,
    sensitive: Option<SensitiveDetail>,
    placements: Vec<Placement>,
    consents: Vec<Consent>,
    sources: Vec<SourceRecord>,
}

#[Object(visible = "visible_person")]
impl Person {
    /// This organisation's opaque id for the person; another organisation sees another id.
    async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        self.scope.check(ctx, "person", "id", "Person.id")?;
        let caller = caller(ctx).ok_or_else(|| denied(Denied::Unauthenticated))?;
        Ok(ID(state(ctx)
            .protector
            .seal_id(&caller.organisation_code, self.scope.person_id)))
    }
    /// Identifying details (personal; every read is audited).
    #[graphql(visible = "visible_personal")]
    async fn identity(&self) -> Option<&PersonIdentity> {
        self.identity.as_ref()
    }
    /// The generic candidate profile.
    async fn profile(&self) -> Option<at_once::AtOnce<&CandidateProfile>> {
        self.profile.as_ref().map(at_once::AtOnce)
    }
    /// Special and internal details (special fields need the `special:read` scope).
    #[graphql(visible = "visible_internal")]
    async fn sensitive(&self) -> Option<&SensitiveDetail> {
        self.sensitive.as_ref()
    }
    /// Placements, oldest first.
    #[graphql(visible = "visible_internal")]
    async fn placements(&self, ctx: &Context<'_>) -> Result<at_once::AtOnceList<&Placement>> {
        self.scope
            .check(ctx, "placement", "kind", "Person.placements")?;
        Ok(at_once::AtOnceList(self.placements.iter().collect()))
    }
    /// Consents to share the generic profile, newest first.
    #[graphql(visible = "visible_internal")]
    async fn consents(&self) -> &[Consent] {
        &self.consents
    }
    /// Where the person's data came from (provenance): one record per source row that named
    /// them, by source, with when it was first and last seen and the run that last saw it.
    /// Records of sources whose every record is special (UWV's register) are listed only to
    /// callers who may read special fields, with a processing purpose; each such listing is
    /// audited.
    #[graphql(visible = "visible_internal")]
    async fn sources(&self, ctx: &Context<'_>) -> Result<Vec<&SourceRecord>> {
        self.scope
            .check(ctx, "source_record", "source_id", "Person.sources")?;
        Ok(self
            .sources
            .iter()
            .filter(|r| {
                !r.m.special
                    || self
                        .scope
                        .check(ctx, "source_record", "raw_values", "Person.sources")
                        .is_ok()
            })
            .collect())
    }
}

/// The column behind a guarded field: the field's own name unless given.
macro_rules! column {
    ($field:ident) => {
        stringify!($field)
    };
    ($field:ident, $column:literal) => {
        $column
    };
}

/// Generates an object whose every field is checked by the policy before it is read.
///
/// With `partial = loaded`, the object may hold a row read with only some columns (the ones
/// the query selects, see [`columns_selected`]); a field whose column was not read fails
/// instead of answering the column's default.
macro_rules! guarded_object {
    (
        $(#[$doc:meta])* $name:ident, $table:literal, $model:ty, visible = $visible:literal,
        $(partial = $loaded:ident,)?
        { $( $(#[$fdoc:meta])* $field:ident $(($column:literal))? : $ty:ty = $conv:expr ),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name {
            m: $model,
            scope: RecordScope,
            $(
                /// The columns read into `m`; `None`: every column.
                $loaded: Option<Arc<[&'static str]>>,
            )?
        }

        impl $name {
            /// Each field's Rust name and the column behind it.
            #[allow(dead_code)] // used by the objects read in part
            const COLUMNS: &[(&str, &str)] = &[$( (stringify!($field), column!($field $(, $column)?)) ),*];

            /// Whether `column` was read into this object's row.
            #[allow(unused_variables)] // `column` is unused by objects always read whole
            fn read(&self, column: &str) -> bool {
                $(
                    if let Some(read) = &self.$loaded {
                        return read.contains(&column);
                    }
                )?
                true
            }
        }

        #[Object(visible = $visible)]
        impl $name {
            $(
                $(#[$fdoc])*
                async fn $field(&self, ctx: &Context<'_>) -> Result<$ty> {
                    static KEY: std::sync::LazyLock<crate::policy::FieldKey> =
                        std::sync::LazyLock::new(|| {
                            crate::policy::FieldKey::of($table, column!($field $(, $column)?))
                        });
                    let field = format_args!("{}.{}", stringify!($name), ctx.item.node.name.node);
                    self.scope.check_key(ctx, &KEY, field)?;
                    if !self.read(column!($field $(, $column)?)) {
                        return Err(not_read(field));
                    }
                    // The context, not the state: most fields never look the state up.
                    let conv: fn(&$model, &Context<'_>) -> $ty = $conv;
                    Ok(conv(&self.m, ctx))
                }
            )*
        }
    };
}

/// A field whose column a partial read left out: a defect of [`columns_selected`], reported
/// rather than answered with a default.
fn not_read(field: std::fmt::Arguments<'_>) -> Error {
    tracing::error!(%field, "field resolved from a row read without its column");
    Error::new(format!(
        "internal error: `{field}` was not read for this answer; please report this query to \
         the operator"
    ))
    .extend_with(|_, e| e.set("code", "INTERNAL"))
}

/// The columns behind the fields that `selections` ask for, by an object's
/// `COLUMNS` table (fragments and inline fragments included; a field under `@skip` or
/// `@include` counts as asked for).
fn columns_selected(
    columns: &[(&str, &'static str)],
    selections: &[async_graphql::Lookahead<'_>],
) -> Vec<&'static str> {
    let mut out = Vec::new();
    for selection in selections {
        for object in selection.selection_fields() {
            for field in object.selection_set() {
                if let Some((_, column)) = columns
                    .iter()
                    .find(|(rust, _)| same_name(field.name(), rust))
                    && !out.contains(column)
                {
                    out.push(*column);
                }
            }
        }
    }
    out
}

/// Whether a GraphQL field name (`hoursPerWeek`) is the camel-case form of a Rust name
/// (`hours_per_week`), as async-graphql renames fields.
fn same_name(graphql: &str, rust: &str) -> bool {
    let mut g = graphql.chars();
    let mut r = rust.chars();
    loop {
        match (g.next(), r.next()) {
            (None, None) => return true,
            (Some(a), Some('_')) => match r.next() {
                Some(b) if a == b.to_ascii_uppercase() => {}
                _ => return false,
            },
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// The strings of a JSON list column (anything else in it is left out).
fn list(v: &serde_json::Value) -> Strings {
    let items = match v.as_array() {
        Some(a) => a
            .iter()
            .filter_map(|s| {
                s.as_str()
                    .map(|s| async_graphql::Value::String(s.to_owned()))
            })
            .collect(),
        None => Vec::new(),
    };
    Strings(std::sync::Mutex::new(items))
}

/// A list of strings, `[String!]!` in the schema as a `Vec<String>` is, answered in one step:
/// async-graphql resolves a `Vec`'s items one future each, and a page of profiles holds
/// hundreds of them. Its items are answered once: resolving moves them into the answer rather
/// than copying each string again (a resolver's value is resolved once, by reference).
pub struct Strings(std::sync::Mutex<Vec<async_graphql::Value>>);

impl async_graphql::OutputType for Strings {
    fn type_name() -> std::borrow::Cow<'static, str> {
        <Vec<String> as async_graphql::OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<String> as async_graphql::OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        <Vec<String> as async_graphql::OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _: &async_graphql::ContextSelectionSet<'_>,
        _: &async_graphql::Positioned<async_graphql::parser::types::Field>,
    ) -> async_graphql::ServerResult<async_graphql::Value> {
        let mut items = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(async_graphql::Value::List(std::mem::take(&mut *items)))
    }
}

guarded_object!(
    /// Identifying details of a person (personal).
    PersonIdentity, "person_identity", person_identity::Model, visible = "visible_personal", {
        /// The BSN, masked to its last three digits.
        bsn_masked("bsn_encrypted"): Option<String> = |m, ctx| m
            .bsn_encrypted
            .as_deref()
            .and_then(|sealed| state(ctx).protector.decrypt(sealed).ok())
            .map(|b| b.masked()),
        /// Given name.
        given_name: Option<String> = |m, _| m.given_name.clone(),
        /// Surname prefix (tussenvoegsel).
        name_prefix: Option<String> = |m, _| m.name_prefix.clone(),
        /// Family name.
        family_name: Option<String> = |m, _| m.family_name.clone(),
        /// Birth date.
        birth_date: Option<chrono::NaiveDate> = |m, _| m.birth_date,
        /// E-mail address.
        email: Option<String> = |m, _| m.email.clone(),
        /// Phone number.
        phone: Option<String> = |m, _| m.phone.clone(),
        /// Full postcode.
        postcode: Option<String> = |m, _| m.postcode.clone(),
    }
);

guarded_object!(
    /// The generic candidate profile: skills, strengths, availability (generic).
    CandidateProfile, "candidate_profile", candidate_profile::Model, visible = "visible_generic",
    partial = loaded, {
        /// Skills.
        skills: Strings = |m, _| list(&m.skills),
        /// Strengths (sterke punten).
        strengths: Strings = |m, _| list(&m.strengths),
        /// Points to develop (ontwikkelpunten).
        development_points: Strings = |m, _| list(&m.development_points),
        /// Work types wanted.
        work_types: Strings = |m, _| list(&m.work_types),
        /// Sectors wanted.
        sectors: Strings = |m, _| list(&m.sectors),
        /// Hours available per week.
        hours_per_week: Option<f64> = |m, _| m.hours_per_week,
        /// Days available.
        days_available: Strings = |m, _| list(&m.days_available),
        /// Available from.
        available_from: Option<chrono::NaiveDate> = |m, _| m.available_from,
        /// District (stadsdeel).
        district: Option<String> = |m, _| m.district.clone(),
        /// Municipality.
        municipality: Option<String> = |m, _| m.municipality.clone(),
        /// Travel range in kilometres.
        travel_range_km: Option<i32> = |m, _| m.travel_range_km,
        /// Can travel independently.
        travels_independently: Option<bool> = |m, _| m.travels_independently,
        /// SUWI education level 0–7.
        education_level: Option<i32> = |m, _| m.education_level,
        /// Languages.
        languages: Strings = |m, _| list(&m.languages),
        /// Holds a driving licence.
        driving_licence: Option<bool> = |m, _| m.driving_licence,
        /// line_3 or line_4.
        line: Option<String> = |m, _| m.line.clone(),
        /// Participation ladder step 1–6.
        participation_step: Option<i32> = |m, _| m.participation_step,
    }
);

guarded_object!(
    /// Special-category and internal details of a person.
    SensitiveDetail, "sensitive_detail", sensitive_detail::Model, visible = "visible_internal", {
        /// Health or limitation notes (special).
#[graphql(visible = "visible_special")]
        health_notes: Option<String> = |m, _| m.health_notes.clone(),
        /// Workload limits (special).
#[graphql(visible = "visible_special")]
        workload_limits: Option<String> = |m, _| m.workload_limits.clone(),
        /// Benefit type (special).
#[graphql(visible = "visible_special")]
        benefit_type: Option<String> = |m, _| m.benefit_type.clone(),
        /// Legal basis (special).
#[graphql(visible = "visible_special")]
        legal_basis: Option<String> = |m, _| m.legal_basis.clone(),
        /// Target-group-register status today (special): `registered` within the entry's
        /// validity, `pending` before its first day, `ended` after its last day or when UWV
        /// reported it ended.
#[graphql(visible = "visible_special")]
        target_group_register: Option<String> = |m, _| sensitive_detail::register_status(
            m.target_group_register.as_deref(),
            m.target_group_register_from,
            m.target_group_register_until,
            model::clock::today(),
        ).map(str::to_owned),
        /// First day of the register entry (special).
#[graphql(visible = "visible_special")]
        target_group_register_from: Option<chrono::NaiveDate> = |m, _| m.target_group_register_from,
        /// Last day of the register entry (special); empty: open-ended.
#[graphql(visible = "visible_special")]
        target_group_register_until: Option<chrono::NaiveDate> = |m, _| m.target_group_register_until,
        /// Wage value in percent (internal).
        wage_value_pct: Option<i32> = |m, _| m.wage_value_pct,
        /// Wage-cost subsidy applies (internal).
        wage_cost_subsidy: Option<bool> = |m, _| m.wage_cost_subsidy,
        /// Case notes (special).
#[graphql(visible = "visible_special")]
        case_notes: Option<String> = |m, _| m.case_notes.clone(),
    }
);

guarded_object!(
    /// A consent to share a person's generic profile (internal). Partners see the profile only
    /// while a consent is `active`: the person agreed, a caseworker approved, neither revoked nor
    /// expired.
    Consent, "consent", consent::Model, visible = "visible_internal", {
        /// Consent id (use it to approve, renew or revoke).
        id: ID = |m, _| ID(m.id.to_string()),
        /// network or partner.
        audience: String = |m, _| m.audience.clone(),
        /// The partner organisation's id, for a partner consent.
        partner_organisation_id: Option<ID> = |m, _| m.partner_organisation_id.map(|i| ID(i.to_string())),
        /// generic_profile, or generic_profile_and_job_agreement.
        scope: String = |m, _| m.scope.clone(),
        /// active, awaiting_approval, revoked or expired — now.
        status("revoked_at"): String = |m, _| consent_status(m, chrono::Utc::now()).to_owned(),
        /// The person's key: the person agreed.
        person_agreed: bool = |m, _| m.person_agreed,
        /// When the person agreed.
        granted_at: chrono::DateTime<chrono::Utc> = |m, _| m.granted_at,
        /// When it ends.
        expires_at: Option<chrono::DateTime<chrono::Utc>> = |m, _| m.expires_at,
        /// When it was revoked.
        revoked_at: Option<chrono::DateTime<chrono::Utc>> = |m, _| m.revoked_at,
        /// The caseworker's key: who approved.
        approved_by: Option<String> = |m, _| m.approved_by.clone(),
        /// When it was approved.
        approved_at: Option<chrono::DateTime<chrono::Utc>> = |m, _| m.approved_at,
        /// Who recorded it (a caseworker, or `import:<source>`).
        recorded_by: String = |m, _| m.recorded_by.clone(),
    }
);

/// A source record with its source's name, for [`SourceRecord`].
#[derive(Clone)]
pub struct SourceRecordRow {
    m: source_record::Model,
    /// The source's name.
    source: String,
    /// The source's every record is special (`model::privacy::SPECIAL_SOURCE_KINDS`).
    special: bool,
}

/// One cell of a source row as stored: personal and special cells read `[personal]`.
#[derive(async_graphql::SimpleObject)]
pub struct SourceValue {
    /// The column, as the source names it.
    column: String,
    /// The cell's text; null when empty.
    value: Option<String>,
}

guarded_object!(
    /// What one source said about a person: a row of an import, kept as it was read (internal).
    SourceRecord, "source_record", SourceRecordRow, visible = "visible_internal", {
        /// The source's name.
        source("source_id"): String = |r, _| r.source.clone(),
        /// The row's key in the source (Klantnummer, Personeelsnummer, …).
        source_key: String = |r, _| r.m.source_key.clone(),
        /// Whether the source's latest full export still had the row.
        active: bool = |r, _| r.m.active,
        /// When a full export no longer had it.
        deactivated_at: Option<chrono::DateTime<chrono::Utc>> = |r, _| r.m.deactivated_at,
        /// The file (or URL) it was last read from.
        file: Option<String> = |r, _| r.m.file.clone(),
        /// Its row number there.
        row_number: Option<i64> = |r, _| r.m.row_number,
        /// When a run first read it.
        first_seen_at: chrono::DateTime<chrono::Utc> = |r, _| r.m.first_seen_at,
        /// When a run last read it.
        last_seen_at: chrono::DateTime<chrono::Utc> = |r, _| r.m.last_seen_at,
        /// The import run that last read it (`importRun(id:)`, stewards).
        import_run("import_run_id"): ID = |r, _| ID(r.m.import_run_id.to_string()),
        /// The row's cells as read, by column; personal and special cells read `[personal]`
        /// (special: needs `special:read` and a processing purpose).
#[graphql(visible = "visible_special")]
        values("raw_values"): Vec<SourceValue> = |r, _| r
            .m
            .raw_values
            .as_object()
            .map(|cells| {
                cells
                    .iter()
                    .map(|(column, v)| SourceValue {
                        column: column.clone(),
                        value: v.as_str().map(str::to_owned),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
);

/// A consent's state at `now`; the policy's row filter applies the same conditions.
fn consent_status(m: &consent::Model, now: chrono::DateTime<chrono::Utc>) -> &'static str {
    if m.revoked_at.is_some() {
        "revoked"
    } else if m.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else if !m.person_agreed || m.approved_at.is_none() {
        "awaiting_approval"
    } else {
        "active"
    }
}

/// A placement of a person at an organisation.
#[derive(Clone)]
pub struct Placement {
    m: placement::Model,
    organisation: Option<Organisation>,
    /// The outcome that follows from what came next, when the source gave none.
    derived_outcome: Option<&'static str>,
}

#[Object]
impl Placement {
    /// Placement id.
    async fn id(&self) -> ID {
        ID(self.m.id.to_string())
    }
    /// employment, secondment, trial_placement, participation_place, internship or sheltered_work.
    async fn kind(&self) -> &str {
        &self.m.kind
    }
    /// Where the person works.
    async fn organisation(&self) -> Option<at_once::AtOnce<&Organisation>> {
        self.organisation.as_ref().map(at_once::AtOnce)
    }
    /// Start date.
    async fn start_date(&self) -> Option<chrono::NaiveDate> {
        self.m.start_date
    }
    /// Planned end date.
    async fn planned_end_date(&self) -> Option<chrono::NaiveDate> {
        self.m.planned_end_date
    }
    /// Actual end date.
    async fn actual_end_date(&self) -> Option<chrono::NaiveDate> {
        self.m.actual_end_date
    }
    /// Hours per week.
    async fn hours_per_week(&self) -> Option<f64> {
        self.m.hours_per_week
    }
    /// What followed the placement once it ended: next_placement, regular_work, education,
    /// care, benefit or unknown — as the source gave it, else from what began within
    /// `[stats] outcome_window_days` of the end; null while that window is open.
    async fn outcome(&self) -> Option<&str> {
        match self.m.outcome.as_deref() {
            Some(o) if o != "unknown" => Some(o),
            _ => self.derived_outcome.or(self.m.outcome.as_deref()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_names_match_their_rust_names() {
        assert!(same_name("hoursPerWeek", "hours_per_week"));
        assert!(same_name("skills", "skills"));
        assert!(same_name("travelRangeKm", "travel_range_km"));
        assert!(!same_name("hoursPerWeek", "hours_per_day"));
        assert!(!same_name("hours", "hours_per_week"));
        assert!(!same_name("hoursperweek", "hours_per_week"));
        assert!(!same_name("skillsX", "skills"));
    }

    #[test]
    fn every_profile_field_has_its_column() {
        use std::str::FromStr;
        for (field, column) in CandidateProfile::COLUMNS {
            assert!(
                candidate_profile::Column::from_str(column).is_ok(),
                "{field}: no column {column}"
            );
        }
    }
}
