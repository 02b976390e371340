//! The GraphQL schema: root queries and object types. Every field that touches a person asks the
//! policy ([`crate::policy`]) through [`RecordScope::check`]; reads of personal and special
//! fields are collected for the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::connection::{Connection, CursorType, Edge, OpaqueCursor};
use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Error, ErrorExtensions, ID, Object, Result, Schema,
    SimpleObject,
};
use model::entity::{
    audit_event, candidate_profile, import_run, organisation, person, person_identity, placement,
    sensitive_detail, source,
};
use model::privacy::PrivacyClass;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::AppState;
use crate::audit::AuditCollector;
use crate::auth::Caller;
use crate::policy::{Denied, RecordAccess};

/// The schema werkbrug serves.
pub type WerkbrugSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Largest page a list query returns.
pub const MAX_PAGE: usize = 100;

/// Builds the schema; request data (caller, audit collector) is added per request.
pub fn build_schema(state: Option<AppState>) -> WerkbrugSchema {
    let mut builder = Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(12)
        .limit_complexity(2_000);
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
    visible_sources => "sources",
    visible_import_runs => "importRuns",
    visible_audit_events => "auditEvents",
    visible_persons => "persons",
    visible_person => "person",
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

fn denied(d: Denied) -> Error {
    let code = match d {
        Denied::Unauthenticated => "UNAUTHENTICATED",
        _ => "FORBIDDEN",
    };
    Error::new(d.to_string()).extend_with(|_, e| e.set("code", code))
}

fn db_error(e: sea_orm::DbErr) -> Error {
    tracing::error!(error = %e, "database error in resolver");
    Error::new(
        "internal database error; the request id in the response headers helps the operator find it",
    )
}

/// The root query.
pub struct Query;

#[Object]
impl Query {
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
            .limit(page_size(first)? as u64)
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
            .limit(page_size(first)? as u64)
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
    ) -> Result<Connection<OpaqueCursor<i64>, Person>> {
        let caller = enter(ctx, "persons")?;
        let size = page_size(first)?;
        let after = match after {
            Some(c) => Some(
                OpaqueCursor::<i64>::decode_cursor(&c)
                    .map_err(|_| Error::new("`after` is not a cursor this server issued"))?
                    .0,
            ),
            None => None,
        };
        let Some(visible) = state(ctx).policy.visible_persons(caller) else {
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
        let persons = load_persons(ctx, rows).await?;
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(
            persons
                .into_iter()
                .map(|p| Edge::new(OpaqueCursor(p.m.id), p)),
        );
        Ok(conn)
    }

    /// One person of the caller's caseload; `null` when it is not in the caseload or does not exist.
    #[graphql(visible = "visible_person")]
    async fn person(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Person>> {
        let caller = enter(ctx, "person")?;
        let Ok(id) = id.parse::<i64>() else {
            return Ok(None);
        };
        let Some(visible) = state(ctx).policy.visible_persons(caller) else {
            return Ok(None);
        };
        let row = person::Entity::find_by_id(id)
            .filter(visible)
            .one(db(ctx))
            .await
            .map_err(db_error)?;
        match row {
            Some(row) => Ok(load_persons(ctx, vec![row]).await?.pop()),
            None => Ok(None),
        }
    }
}

fn page_size(first: i32) -> Result<usize> {
    match usize::try_from(first) {
        Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        _ => Err(Error::new(format!(
            "`first` must be between 1 and {MAX_PAGE}"
        ))),
    }
}

async fn organisations_by_id(db: &DatabaseConnection) -> Result<HashMap<i64, Organisation>> {
    Ok(organisation::Entity::find()
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|o| (o.id, o.into()))
        .collect())
}

/// Loads the details of a page of persons (already row-filtered) in one query per table.
async fn load_persons(ctx: &Context<'_>, rows: Vec<person::Model>) -> Result<Vec<Person>> {
    let db = db(ctx);
    let st = state(ctx);
    let ids: Vec<i64> = rows.iter().map(|p| p.id).collect();
    let mut identities: HashMap<i64, person_identity::Model> = person_identity::Entity::find()
        .filter(person_identity::Column::PersonId.is_in(ids.clone()))
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| (m.person_id, m))
        .collect();
    let mut profiles: HashMap<i64, candidate_profile::Model> = candidate_profile::Entity::find()
        .filter(candidate_profile::Column::PersonId.is_in(ids.clone()))
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| (m.person_id, m))
        .collect();
    let mut details: HashMap<i64, sensitive_detail::Model> = sensitive_detail::Entity::find()
        .filter(sensitive_detail::Column::PersonId.is_in(ids.clone()))
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|m| (m.person_id, m))
        .collect();
    let orgs = organisations_by_id(db).await?;
    let mut placements: HashMap<i64, Vec<Placement>> = HashMap::new();
    for p in placement::Entity::find()
        .filter(placement::Column::PersonId.is_in(ids))
        .order_by_asc(placement::Column::StartDate)
        .all(db)
        .await
        .map_err(db_error)?
    {
        let org = orgs.get(&p.organisation_id).cloned();
        placements.entry(p.person_id).or_default().push(Placement {
            m: p,
            organisation: org,
        });
    }
    // Rows reach here only through the caseload filter.
    let access = RecordAccess {
        in_caseload: true,
        consented: false,
    };
    Ok(rows
        .into_iter()
        .map(|p| {
            let scope = RecordScope {
                pseudonym: p.bsn_pseudonym.clone().unwrap_or_else(|| {
                    st.protector
                        .keyed_hash(b"person-id:", p.id.to_string().as_bytes())
                }),
                access,
            };
            Person {
                identity: identities.remove(&p.id).map(|m| PersonIdentity {
                    m,
                    scope: scope.clone(),
                }),
                profile: profiles.remove(&p.id).map(|m| CandidateProfile {
                    m,
                    scope: scope.clone(),
                }),
                sensitive: details.remove(&p.id).map(|m| SensitiveDetail {
                    m,
                    scope: scope.clone(),
                }),
                placements: placements.remove(&p.id).unwrap_or_default(),
                m: p,
                scope,
            }
        })
        .collect())
}

/// What the policy needs to know about one person's record, carried by its objects.
#[derive(Clone, Debug)]
pub struct RecordScope {
    /// The person's pseudonym, for the audit log.
    pseudonym: String,
    /// How the record relates to the caller.
    access: RecordAccess,
}

impl RecordScope {
    /// Asks the policy whether `table.column` may be read, and audits personal/special reads.
    fn check(&self, ctx: &Context<'_>, table: &str, column: &str, field: &str) -> Result<()> {
        let caller = caller(ctx).ok_or_else(|| denied(Denied::Unauthenticated))?;
        let class = state(ctx)
            .policy
            .field(caller, table, column, self.access, field)
            .map_err(denied)?;
        if class >= PrivacyClass::Personal {
            if let Some(collector) = ctx.data_opt::<Arc<AuditCollector>>() {
                collector.record(&self.pseudonym, field);
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
    async fn fields(&self) -> Vec<String> {
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
    /// queued, running, succeeded or failed.
    async fn status(&self) -> &str {
        &self.m.status
    }
    /// schedule, manual or command.
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
    /// Why the run failed.
    async fn error(&self) -> Option<&str> {
        self.m.error.as_deref()
    }
}

/// A person in the caller's caseload.
pub struct Person {
    m: person::Model,
    scope: RecordScope,
    identity: Option<PersonIdentity>,
    profile: Option<CandidateProfile>,
    sensitive: Option<SensitiveDetail>,
    placements: Vec<Placement>,
}

#[Object(visible = "visible_person")]
impl Person {
    /// Person id.
    async fn id(&self, ctx: &Context<'_>) -> Result<ID> {
        self.scope.check(ctx, "person", "id", "Person.id")?;
        Ok(ID(self.m.id.to_string()))
    }
    /// Identifying details (personal; every read is audited).
    #[graphql(visible = "visible_personal")]
    async fn identity(&self) -> Option<&PersonIdentity> {
        self.identity.as_ref()
    }
    /// The generic candidate profile.
    async fn profile(&self) -> Option<&CandidateProfile> {
        self.profile.as_ref()
    }
    /// Special and internal details (special fields need the `special:read` scope).
    #[graphql(visible = "visible_internal")]
    async fn sensitive(&self) -> Option<&SensitiveDetail> {
        self.sensitive.as_ref()
    }
    /// Placements, oldest first.
    #[graphql(visible = "visible_internal")]
    async fn placements(&self, ctx: &Context<'_>) -> Result<&[Placement]> {
        self.scope
            .check(ctx, "placement", "kind", "Person.placements")?;
        Ok(&self.placements)
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
macro_rules! guarded_object {
    (
        $(#[$doc:meta])* $name:ident, $table:literal, $model:ty, visible = $visible:literal,
        { $( $(#[$fdoc:meta])* $field:ident $(($column:literal))? : $ty:ty = $conv:expr ),* $(,)? }
    ) => {
        $(#[$doc])*
        pub struct $name {
            m: $model,
            scope: RecordScope,
        }

        #[Object(visible = $visible)]
        impl $name {
            $(
                $(#[$fdoc])*
                async fn $field(&self, ctx: &Context<'_>) -> Result<$ty> {
                    let field = format!("{}.{}", stringify!($name), ctx.item.node.name.node);
                    self.scope.check(ctx, $table, column!($field $(, $column)?), &field)?;
                    let conv: fn(&$model, &AppState) -> $ty = $conv;
                    Ok(conv(&self.m, state(ctx)))
                }
            )*
        }
    };
}

fn list(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

guarded_object!(
    /// Identifying details of a person (personal).
    PersonIdentity, "person_identity", person_identity::Model, visible = "visible_personal", {
        /// The BSN, masked to its last three digits.
        bsn_masked("bsn_encrypted"): Option<String> = |m, st| m
            .bsn_encrypted
            .as_deref()
            .and_then(|sealed| st.protector.decrypt(sealed).ok())
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
    CandidateProfile, "candidate_profile", candidate_profile::Model, visible = "visible_generic", {
        /// Skills.
        skills: Vec<String> = |m, _| list(&m.skills),
        /// Strengths (sterke punten).
        strengths: Vec<String> = |m, _| list(&m.strengths),
        /// Points to develop (ontwikkelpunten).
        development_points: Vec<String> = |m, _| list(&m.development_points),
        /// Work types wanted.
        work_types: Vec<String> = |m, _| list(&m.work_types),
        /// Sectors wanted.
        sectors: Vec<String> = |m, _| list(&m.sectors),
        /// Hours available per week.
        hours_per_week: Option<f64> = |m, _| m.hours_per_week,
        /// Days available.
        days_available: Vec<String> = |m, _| list(&m.days_available),
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
        languages: Vec<String> = |m, _| list(&m.languages),
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
        /// Target-group-register status (special).
#[graphql(visible = "visible_special")]
        target_group_register: Option<String> = |m, _| m.target_group_register.clone(),
        /// Wage value in percent (internal).
        wage_value_pct: Option<i32> = |m, _| m.wage_value_pct,
        /// Wage-cost subsidy applies (internal).
        wage_cost_subsidy: Option<bool> = |m, _| m.wage_cost_subsidy,
        /// Case notes (special).
#[graphql(visible = "visible_special")]
        case_notes: Option<String> = |m, _| m.case_notes.clone(),
    }
);

/// A placement of a person at an organisation.
pub struct Placement {
    m: placement::Model,
    organisation: Option<Organisation>,
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
    async fn organisation(&self) -> Option<&Organisation> {
        self.organisation.as_ref()
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
    /// What followed the placement.
    async fn outcome(&self) -> Option<&str> {
        self.m.outcome.as_deref()
    }
}
