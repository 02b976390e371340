//! Work to work: vacancies, contracts ending (transitions), matching and introductions.
//!
//! Like every resolver, these ask the policy which rows a caller sees ([`Policy::visible`],
//! [`Policy::vacancies`], [`Policy::introductions`]) and which fields it reads; candidates come
//! back as the same [`Candidate`] objects as `candidates`, persons as the same [`Person`].
//!
//! [`Policy::visible`]: crate::policy::Policy::visible
//! [`Policy::vacancies`]: crate::policy::Policy::vacancies
//! [`Policy::introductions`]: crate::policy::Policy::introductions

use std::collections::{HashMap, HashSet};

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Enum, Error, ErrorExtensions, ID, InputObject, Object, Result};
use chrono::{Months, NaiveDate, Utc};
use model::entity::{
    candidate_profile, introduction, introduction_event, person, placement, vacancy,
};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, Order, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{
    Candidate, CandidateFilter, Organisation, Person, PersonParts, Pseudonym, caller,
    candidates_of, db, db_error, denied, enter, load_persons, organisations_by_id, page_size,
    read_pseudonyms, state,
};
use crate::auth::Caller;
use crate::matching::{self, Criterion};
use crate::policy::{Denied, RecordAccess};

/// Placement kinds whose end starts a work-to-work transition.
pub const TRANSITION_KINDS: [&str; 4] = [
    "employment",
    "secondment",
    "trial_placement",
    "participation_place",
];

visible_entry!(
    visible_vacancies => "vacancies",
    visible_vacancy => "vacancy",
    visible_vacancy_edits => "createVacancy",
    visible_transitions => "transitionsDue",
    visible_matches => "matches",
    visible_vacancies_for => "vacanciesFor",
    visible_introductions => "introductions",
    visible_request_introduction => "requestIntroduction",
    visible_decide_introduction => "acceptIntroduction",
    visible_person => "person",
);

fn not_found(what: &str) -> Error {
    Error::new(what.to_owned()).extend_with(|_, e| e.set("code", "NOT_FOUND"))
}

fn conflict(what: String) -> Error {
    Error::new(what).extend_with(|_, e| e.set("code", "CONFLICT"))
}

fn invalid(what: String) -> Error {
    Error::new(what).extend_with(|_, e| e.set("code", "BAD_USER_INPUT"))
}

/// Root fields for vacancies, transitions, matching and introductions.
#[derive(Default)]
pub struct WorkQuery;

#[Object]
impl WorkQuery {
    /// Vacancies the caller may see: a partner its own (open and closed), caseworkers and the
    /// network the open ones; newest first.
    #[graphql(visible = "visible_vacancies")]
    async fn vacancies(
        &self,
        ctx: &Context<'_>,
        status: Option<VacancyStatus>,
        after: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Connection<String, Vacancy>> {
        let caller = enter(ctx, "vacancies")?;
        let size = page_size(ctx, first)?;
        let Some(rows) = state(ctx).policy.vacancies(caller) else {
            return Ok(Connection::new(false, false));
        };
        let after = match after {
            Some(a) => Some(
                a.parse::<i64>()
                    .map_err(|_| invalid("`after` is not a cursor of this list".into()))?,
            ),
            None => None,
        };
        let mut q = vacancy::Entity::find().filter(rows);
        if let Some(s) = status {
            q = q.filter(vacancy::Column::Status.eq(s.as_str()));
        }
        let (list, has_next) = newest_first(ctx, q, vacancy::Column::Id, after, size).await?;
        let orgs = organisations_by_id(db(ctx)).await?;
        let mut conn = Connection::new(after.is_some(), has_next);
        conn.edges.extend(list.into_iter().map(|m| {
            let v = Vacancy::new(m, &orgs);
            Edge::new(v.m.id.to_string(), v)
        }));
        Ok(conn)
    }

    /// One vacancy the caller may see; `null` otherwise.
    #[graphql(visible = "visible_vacancy")]
    async fn vacancy(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Vacancy>> {
        let caller = enter(ctx, "vacancy")?;
        let Some(m) = visible_vacancy_by_id(ctx, caller, &id).await? else {
            return Ok(None);
        };
        let orgs = organisations_by_id(db(ctx)).await?;
        Ok(Some(Vacancy::new(m, &orgs)))
    }

    /// Candidates whose placement (employment, secondment, trial placement or participation
    /// place) is planned to end within `within` (an ISO 8601 period such as `P6M`, `P90D`,
    /// `P1Y`; from today) and who have no follow-up placement arranged — another current one
    /// with a start date after it (any start date when its own is unknown) that does not end
    /// before it. Soonest end first. Partners and the network see the
    /// generic profile of consenting candidates; caseworkers their caseload, with the full record.
    #[graphql(visible = "visible_transitions")]
    async fn transitions_due(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = "P6M")] within: String,
        filter: Option<CandidateFilter>,
        after: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Connection<String, Transition>> {
        let caller = enter(ctx, "transitionsDue")?;
        let size = page_size(ctx, first)?;
        let today = model::clock::today();
        let horizon = add_period(today, &within).map_err(|e| invalid(format!("`within`: {e}")))?;
        let after = super::open_cursor(ctx, caller, after)?;
        let profile_filter = match filter {
            Some(f) => Some(f.condition(ctx, caller, false)?),
            None => None,
        };
        let st = state(ctx);
        let Some(visible) = st.policy.visible(
            caller,
            Expr::col((placement::Entity, placement::Column::PersonId)),
        ) else {
            return Ok(Connection::new(false, false));
        };
        let base = ending_placements(today, horizon, visible, profile_filter);
        let ends = || {
            Expr::expr(Func::min(Expr::col((
                placement::Entity,
                placement::Column::PlannedEndDate,
            ))))
        };
        let mut q = base.clone();
        if let Some(after) = after {
            // Keyset: the cursor holds only the sealed person id; its end date is looked up.
            let position: Option<(i64, NaiveDate)> = base
                .clone()
                .having(placement::Column::PersonId.eq(after))
                .into_tuple()
                .one(db(ctx))
                .await
                .map_err(db_error)?;
            let Some((_, end)) = position else {
                return Err(invalid(
                    "`after` names a candidate no longer in this list; start again without `after`"
                        .into(),
                ));
            };
            q = q.having(
                Condition::any().add(ends().gt(end)).add(
                    Condition::all()
                        .add(ends().eq(end))
                        .add(placement::Column::PersonId.gt(after)),
                ),
            );
        }
        let mut rows: Vec<(i64, NaiveDate)> = q
            .order_by(ends(), Order::Asc)
            .order_by_asc(placement::Column::PersonId)
            .limit(size as u64 + 1)
            .into_tuple()
            .all(db(ctx))
            .await
            .map_err(db_error)?;
        let has_next = rows.len() > size;
        rows.truncate(size);
        let ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
        let wants_ja = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("candidate")
            .field("jobAgreementEligible")
            .exists();
        let mut candidates = candidates_by_person(ctx, caller, &ids, wants_ja).await?;
        let look = ctx.look_ahead();
        let person = [
            look.field("edges").field("node").field("person"),
            look.field("nodes").field("person"),
        ];
        let mut persons = if person.iter().any(|p| p.exists()) {
            persons_by_id(
                ctx,
                caller,
                PersonIds::Unfiltered(&ids),
                PersonParts::of(&person),
            )
            .await?
        } else {
            HashMap::new()
        };
        let mut conn = Connection::new(after.is_some(), has_next);
        for (person_id, ends_on) in rows {
            let Some(candidate) = candidates.remove(&person_id) else {
                continue;
            };
            let cursor = candidate.id.to_string();
            conn.edges.push(Edge::new(
                cursor,
                Transition {
                    candidate,
                    ends_on,
                    access: st.policy.record_access(caller),
                    person: persons.remove(&person_id),
                },
            ));
        }
        Ok(conn)
    }

    /// The candidates the caller may see, ranked for a vacancy by the documented score (see
    /// `MatchCriterion`), best first, with each criterion met or not. A partner matches its own
    /// vacancies; caseworkers (within their caseload) and the network any open one.
    #[graphql(visible = "visible_matches")]
    async fn matches(
        &self,
        ctx: &Context<'_>,
        vacancy_id: ID,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<Match>> {
        let caller = enter(ctx, "matches")?;
        let size = page_size(ctx, first)?;
        let v = visible_vacancy_by_id(ctx, caller, &vacancy_id)
            .await?
            .ok_or_else(|| not_found("`vacancyId` names no vacancy you may see"))?;
        let Some(visible) = state(ctx).policy.visible(
            caller,
            Expr::col((
                candidate_profile::Entity,
                candidate_profile::Column::PersonId,
            )),
        ) else {
            return Ok(vec![]);
        };
        // Ranked by the index, best first; the policy's row filter and the current rows are
        // read for growing batches of the ranking until the page is full.
        let st = state(ctx);
        let index = st
            .matching
            .get(db(ctx), st.settings.stats_cache)
            .await
            .map_err(db_error)?;
        let mut ranking = index.ranked(&v);
        let mut rows: Vec<candidate_profile::Model> = Vec::with_capacity(size);
        let mut batch_size = 4 * size;
        while rows.len() < size {
            let batch: Vec<i64> = ranking.by_ref().take(batch_size).map(|(p, _)| p).collect();
            if batch.is_empty() {
                break;
            }
            let mut found: HashMap<i64, candidate_profile::Model> =
                candidate_profile::Entity::find()
                    .filter(candidate_profile::Column::PersonId.is_in(batch.iter().copied()))
                    .filter(visible.clone())
                    .all(db(ctx))
                    .await
                    .map_err(db_error)?
                    .into_iter()
                    .map(|m| (m.person_id, m))
                    .collect();
            rows.extend(
                batch
                    .iter()
                    .filter_map(|id| found.remove(id))
                    .take(size - rows.len()),
            );
            batch_size = (batch_size * 4).min(20_000);
        }
        // The page as it is now (a profile may have changed since the index was built).
        rows.sort_by_cached_key(|p| (-matching::total(&matching::assess(&v, p)), p.person_id));
        let assessed: Vec<(i64, Vec<matching::Assessment>)> = rows
            .iter()
            .map(|p| (p.person_id, matching::assess(&v, p)))
            .collect();
        let wants_ja = ctx
            .look_ahead()
            .field("candidate")
            .field("jobAgreementEligible")
            .exists();
        let candidates = candidates_of(ctx, caller, rows, wants_ja, None).await?;
        Ok(candidates
            .into_iter()
            .zip(assessed)
            .map(|(candidate, (_, criteria))| Match {
                score: matching::total(&criteria),
                criteria: criteria.into_iter().map(MatchCriterion).collect(),
                candidate,
            })
            .collect())
    }

    /// Open vacancies the caller may see, ranked for one candidate by the same score as
    /// `matches`; empty when the caller may not see the candidate.
    #[graphql(visible = "visible_vacancies_for")]
    async fn vacancies_for(
        &self,
        ctx: &Context<'_>,
        candidate_id: ID,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Vec<VacancyMatch>> {
        let caller = enter(ctx, "vacanciesFor")?;
        let size = page_size(ctx, first)?;
        let st = state(ctx);
        let Some(person_id) = st
            .protector
            .open_id(&caller.organisation_code, &candidate_id)
        else {
            return Ok(vec![]);
        };
        let (Some(visible), Some(rows)) = (
            st.policy.visible(
                caller,
                Expr::col((
                    candidate_profile::Entity,
                    candidate_profile::Column::PersonId,
                )),
            ),
            st.policy.vacancies(caller),
        ) else {
            return Ok(vec![]);
        };
        let Some(profile) = candidate_profile::Entity::find()
            .filter(candidate_profile::Column::PersonId.eq(person_id))
            .filter(visible)
            .one(db(ctx))
            .await
            .map_err(db_error)?
        else {
            return Ok(vec![]);
        };
        // Vacancies are few (hundreds) next to candidates; they are scored here.
        let mut ranked: Vec<(i64, Vec<matching::Assessment>, vacancy::Model)> =
            vacancy::Entity::find()
                .filter(rows)
                .filter(vacancy::Column::Status.eq("open"))
                .all(db(ctx))
                .await
                .map_err(db_error)?
                .into_iter()
                .map(|v| {
                    let a = matching::assess(&v, &profile);
                    (matching::total(&a), a, v)
                })
                .collect();
        ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.2.id.cmp(&b.2.id)));
        ranked.truncate(size);
        let orgs = organisations_by_id(db(ctx)).await?;
        Ok(ranked
            .into_iter()
            .map(|(score, criteria, v)| VacancyMatch {
                vacancy: Vacancy::new(v, &orgs),
                score,
                criteria: criteria.into_iter().map(MatchCriterion).collect(),
            })
            .collect())
    }

    /// Introductions the caller is a party to: a partner those it asked for, a caseworker those
    /// for persons in its caseload; newest first.
    #[graphql(visible = "visible_introductions")]
    async fn introductions(
        &self,
        ctx: &Context<'_>,
        status: Option<IntroductionStatus>,
        after: Option<String>,
        #[graphql(default = 20)] first: i32,
    ) -> Result<Connection<String, Introduction>> {
        let caller = enter(ctx, "introductions")?;
        let size = page_size(ctx, first)?;
        let Some(rows) = state(ctx).policy.introductions(caller) else {
            return Ok(Connection::new(false, false));
        };
        let after = match after {
            Some(a) => Some(open_introduction_id(ctx, caller, &a).ok_or_else(|| {
                invalid("`after` is not a cursor this server issued to you".into())
            })?),
            None => None,
        };
        let mut q = introduction::Entity::find().filter(rows);
        if let Some(s) = status {
            q = q.filter(introduction::Column::Status.eq(s.as_str()));
        }
        let (list, has_next) = newest_first(ctx, q, introduction::Column::Id, after, size).await?;
        let wants_person = ctx
            .look_ahead()
            .field("edges")
            .field("node")
            .field("person")
            .exists();
        let mut conn = Connection::new(after.is_some(), has_next);
        for i in introductions_of(ctx, caller, list, wants_person).await? {
            conn.edges.push(Edge::new(i.id.to_string(), i));
        }
        Ok(conn)
    }
}

/// One page of `q`, newest (highest id) first, after the row `after`; and whether more follow.
async fn newest_first<E: EntityTrait>(
    ctx: &Context<'_>,
    q: sea_orm::Select<E>,
    id: E::Column,
    after: Option<i64>,
    size: usize,
) -> Result<(Vec<E::Model>, bool)> {
    let mut q = q.order_by_desc(id);
    if let Some(a) = after {
        q = q.filter(id.lt(a));
    }
    let mut list = q
        .limit(size as u64 + 1)
        .all(db(ctx))
        .await
        .map_err(db_error)?;
    let has_next = list.len() > size;
    list.truncate(size);
    Ok((list, has_next))
}

/// The vacancy behind an id, if the caller may see it.
async fn visible_vacancy_by_id(
    ctx: &Context<'_>,
    caller: &Caller,
    id: &ID,
) -> Result<Option<vacancy::Model>> {
    let (Ok(id), Some(rows)) = (id.parse::<i64>(), state(ctx).policy.vacancies(caller)) else {
        return Ok(None);
    };
    vacancy::Entity::find_by_id(id)
        .filter(rows)
        .one(db(ctx))
        .await
        .map_err(db_error)
}

/// Adds an ISO 8601 period of years, months, weeks and days (`P6M`, `P1Y6M`, `P90D`, `P2W`) to
/// a date. Hand-written: only the date part of ISO 8601 durations is meaningful here, and the
/// crates that parse durations turn months into a fixed number of seconds.
pub fn add_period(from: NaiveDate, period: &str) -> Result<NaiveDate, String> {
    let bad = || format!("`{period}` is not a period such as P6M, P90D, P2W or P1Y");
    let rest = period.trim().strip_prefix('P').ok_or_else(bad)?;
    if rest.is_empty() || rest.contains('T') {
        return Err(bad());
    }
    let (mut months, mut days, mut number) = (0u32, 0u64, String::new());
    for c in rest.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u32 = number.parse().map_err(|_| bad())?;
        number.clear();
        match c {
            'Y' => months += n.checked_mul(12).ok_or_else(bad)?,
            'M' => months += n,
            'W' => days += u64::from(n) * 7,
            'D' => days += u64::from(n),
            _ => return Err(bad()),
        }
    }
    if !number.is_empty() {
        return Err(bad());
    }
    if months > 120 || days > 3660 {
        return Err(format!("`{period}` is longer than ten years"));
    }
    from.checked_add_months(Months::new(months))
        .and_then(|d| d.checked_add_days(chrono::Days::new(days)))
        .ok_or_else(bad)
}

/// Placements ending between `today` and `horizon` without a follow-up, one row per person
/// (`person_id`, earliest end), among the persons `visible` lets through that have a profile
/// matching `profile_filter`.
fn ending_placements(
    today: NaiveDate,
    horizon: NaiveDate,
    visible: Expr,
    profile_filter: Option<Condition>,
) -> sea_orm::Select<placement::Entity> {
    use placement::Column as P;
    let f = Alias::new("follow_up");
    let this = |c: P| Expr::col((placement::Entity, c));
    let other = |c: P| Expr::col((f.clone(), c));
    let follow_up = Query::select()
        .expr(Expr::val(1))
        .from_as(placement::Entity, f.clone())
        .and_where(other(P::PersonId).eq(this(P::PersonId)))
        .and_where(other(P::Id).ne(this(P::Id)))
        .and_where(other(P::Active).eq(true))
        .and_where(other(P::ActualEndDate).is_null())
        .and_where(other(P::StartDate).is_not_null())
        .cond_where(
            Condition::any()
                .add(this(P::StartDate).is_null())
                .add(other(P::StartDate).gt(this(P::StartDate))),
        )
        .cond_where(
            Condition::any()
                .add(other(P::PlannedEndDate).is_null())
                .add(other(P::PlannedEndDate).gt(this(P::PlannedEndDate))),
        )
        .to_owned();
    let mut profiles = Query::select()
        .column(candidate_profile::Column::PersonId)
        .from(candidate_profile::Entity)
        .to_owned();
    if let Some(cond) = profile_filter {
        profiles.cond_where(cond);
    }
    placement::Entity::find()
        .select_only()
        .column(P::PersonId)
        .expr(Func::min(this(P::PlannedEndDate)))
        .filter(P::Kind.is_in(TRANSITION_KINDS))
        .filter(P::Active.eq(true))
        .filter(P::ActualEndDate.is_null())
        .filter(P::PlannedEndDate.gte(today))
        .filter(P::PlannedEndDate.lte(horizon))
        .filter(Expr::exists(follow_up).not())
        .filter(visible)
        .filter(P::PersonId.in_subquery(profiles))
        .group_by(P::PersonId)
}

/// Candidates for these persons as the caller sees them (only those the row filter lets
/// through), by person id.
async fn candidates_by_person(
    ctx: &Context<'_>,
    caller: &Caller,
    ids: &[i64],
    wants_job_agreement: bool,
) -> Result<HashMap<i64, Candidate>> {
    let Some(visible) = state(ctx).policy.visible(
        caller,
        Expr::col((
            candidate_profile::Entity,
            candidate_profile::Column::PersonId,
        )),
    ) else {
        return Ok(HashMap::new());
    };
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = candidate_profile::Entity::find()
        .filter(candidate_profile::Column::PersonId.is_in(ids.iter().copied()))
        .filter(visible)
        .all(db(ctx))
        .await
        .map_err(db_error)?;
    let person_ids: Vec<i64> = rows.iter().map(|r| r.person_id).collect();
    Ok(person_ids
        .into_iter()
        .zip(candidates_of(ctx, caller, rows, wants_job_agreement, None).await?)
        .collect())
}

/// Person ids whose full records a caseworker asks for, and whether the policy's row filter
/// ([`crate::policy::Policy::visible`]) has let them through already.
#[derive(Clone, Copy)]
pub(super) enum PersonIds<'a> {
    /// Ids from rows read without the row filter (matches, introductions): it is applied.
    Unfiltered(&'a [i64]),
    /// Ids of rows that a query in this request read through the row filter for the same
    /// caller (a page of candidates): it is not evaluated a second time.
    Visible(&'a [i64]),
}

/// Full records of these persons for a caseworker (only those in its caseload), by person id.
pub(super) async fn persons_by_id(
    ctx: &Context<'_>,
    caller: &Caller,
    ids: PersonIds<'_>,
    parts: PersonParts,
) -> Result<HashMap<i64, Person>> {
    let (PersonIds::Unfiltered(list) | PersonIds::Visible(list)) = ids;
    if caller.role != model::Role::Caseworker || list.is_empty() {
        return Ok(HashMap::new());
    }
    let Some(visible) = state(ctx)
        .policy
        .visible(caller, Expr::col((person::Entity, person::Column::Id)))
    else {
        return Ok(HashMap::new());
    };
    let rows = match ids {
        // Rows that passed the row filter exist (their tables' keys reference `person`), and
        // the person's own row holds only what an audited read is logged under: not needed
        // when nothing asked for can be audited.
        PersonIds::Visible(list) if !parts.audited() => {
            list.iter().map(|&id| (id, Pseudonym::NotRead)).collect()
        }
        _ => {
            let mut q =
                person::Entity::find().filter(person::Column::Id.is_in(list.iter().copied()));
            if let PersonIds::Unfiltered(_) = ids {
                q = q.filter(visible);
            }
            read_pseudonyms(q.all(db(ctx)).await.map_err(db_error)?)
        }
    };
    let person_ids: Vec<i64> = rows.iter().map(|(id, _)| *id).collect();
    Ok(person_ids
        .into_iter()
        .zip(load_persons(ctx, caller, rows, parts).await?)
        .collect())
}

/// Whether a vacancy is open or closed.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum VacancyStatus {
    /// Accepting candidates.
    Open,
    /// Filled or withdrawn.
    Closed,
}

impl VacancyStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
        }
    }
}

/// A partner's vacancy (public: anyone who may see it reads all of it).
pub struct Vacancy {
    m: vacancy::Model,
    organisation: Option<Organisation>,
}

impl Vacancy {
    fn new(m: vacancy::Model, orgs: &HashMap<i64, Organisation>) -> Self {
        let organisation = orgs.get(&m.organisation_id).cloned();
        Self { m, organisation }
    }
}

#[Object]
impl Vacancy {
    /// Vacancy id.
    async fn id(&self) -> ID {
        ID(self.m.id.to_string())
    }
    /// Title.
    async fn title(&self) -> &str {
        &self.m.title
    }
    /// Work type (werksoort), lowercase.
    async fn work_type(&self) -> Option<&str> {
        self.m.work_type.as_deref()
    }
    /// Skills asked for, lowercase.
    async fn skills(&self) -> Vec<String> {
        matching::vacancy_skills(&self.m)
    }
    /// Hours per week.
    async fn hours_per_week(&self) -> Option<f64> {
        self.m.hours_per_week
    }
    /// District (stadsdeel).
    async fn district(&self) -> Option<&str> {
        self.m.district.as_deref()
    }
    /// Suitable for line 3 (some support).
    async fn suitable_for_line3(&self) -> bool {
        self.m.suitable_line_3
    }
    /// Suitable for line 4 (intensive support).
    async fn suitable_for_line4(&self) -> bool {
        self.m.suitable_line_4
    }
    /// Start date.
    async fn start_date(&self) -> Option<NaiveDate> {
        self.m.start_date
    }
    /// open or closed.
    async fn status(&self) -> &str {
        &self.m.status
    }
    /// The partner that posted it.
    async fn organisation(&self) -> Option<&Organisation> {
        self.organisation.as_ref()
    }
    /// When it was posted.
    async fn created_at(&self) -> chrono::DateTime<Utc> {
        self.m.created_at
    }
    /// When it last changed.
    async fn updated_at(&self) -> chrono::DateTime<Utc> {
        self.m.updated_at
    }
    /// Introductions for this vacancy that the caller is a party to.
    #[graphql(visible = "visible_introductions")]
    async fn introductions(&self, ctx: &Context<'_>) -> Result<Vec<Introduction>> {
        let caller = enter(ctx, "introductions")?;
        let Some(rows) = state(ctx).policy.introductions(caller) else {
            return Ok(vec![]);
        };
        let list = introduction::Entity::find()
            .filter(rows)
            .filter(introduction::Column::VacancyId.eq(self.m.id))
            .order_by_desc(introduction::Column::Id)
            .all(db(ctx))
            .await
            .map_err(db_error)?;
        let wants_person = ctx.look_ahead().field("person").exists();
        introductions_of(ctx, caller, list, wants_person).await
    }
}

/// A candidate whose placement ends soon without a follow-up.
pub struct Transition {
    candidate: Candidate,
    ends_on: NaiveDate,
    access: RecordAccess,
    person: Option<Person>,
}

#[Object]
impl Transition {
    /// The candidate, as the caller sees candidates.
    async fn candidate(&self) -> &Candidate {
        &self.candidate
    }
    /// When the placement is planned to end (internal: caseworkers).
    #[graphql(visible = "visible_person")]
    async fn ends_on(&self, ctx: &Context<'_>) -> Result<NaiveDate> {
        let c = caller(ctx).ok_or_else(|| denied(Denied::Unauthenticated))?;
        state(ctx)
            .policy
            .field(
                c,
                "placement",
                "planned_end_date",
                self.access,
                "Transition.endsOn",
            )
            .map_err(denied)?;
        Ok(self.ends_on)
    }
    /// The full record (caseworkers, for persons in their caseload).
    #[graphql(visible = "visible_person")]
    async fn person(&self) -> Option<&Person> {
        self.person.as_ref()
    }
}

/// A candidate ranked for a vacancy.
pub struct Match {
    candidate: Candidate,
    score: i64,
    criteria: Vec<MatchCriterion>,
}

#[Object]
impl Match {
    /// The candidate, as the caller sees candidates.
    async fn candidate(&self) -> &Candidate {
        &self.candidate
    }
    /// 0–100: the points of the criteria met.
    async fn score(&self) -> i64 {
        self.score
    }
    /// Each criterion, met or not, with its points.
    async fn criteria(&self) -> &[MatchCriterion] {
        &self.criteria
    }
}

/// A vacancy ranked for a candidate.
pub struct VacancyMatch {
    vacancy: Vacancy,
    score: i64,
    criteria: Vec<MatchCriterion>,
}

#[Object]
impl VacancyMatch {
    /// The vacancy.
    async fn vacancy(&self) -> &Vacancy {
        &self.vacancy
    }
    /// 0–100: the points of the criteria met.
    async fn score(&self) -> i64 {
        self.score
    }
    /// Each criterion, met or not, with its points.
    async fn criteria(&self) -> &[MatchCriterion] {
        &self.criteria
    }
}

/// How one criterion of a match came out. Points: skills 40 (in proportion to the vacancy's
/// skills the candidate has; met at half), work type 20, hours 15, district 10, availability 10,
/// line 5; a criterion the vacancy leaves open counts as met.
pub struct MatchCriterion(matching::Assessment);

#[Object]
impl MatchCriterion {
    /// The criterion.
    async fn criterion(&self) -> Criterion {
        self.0.criterion
    }
    /// Whether it was met.
    async fn met(&self) -> bool {
        self.0.met
    }
    /// Points scored.
    async fn points(&self) -> i64 {
        self.0.points
    }
    /// Points possible.
    async fn max_points(&self) -> i64 {
        self.0.max_points
    }
    /// What was compared, in words.
    async fn detail(&self) -> &str {
        &self.0.detail
    }
}

/// Where an introduction stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum IntroductionStatus {
    /// The partner asked; the caseworkers have not answered.
    Requested,
    /// A caseworker agreed; the meeting is arranged outside the platform.
    Accepted,
    /// A caseworker declined.
    Declined,
    /// The partner withdrew the request.
    Withdrawn,
}

impl IntroductionStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
        }
    }
}

/// The audience under which introduction ids are sealed for an organisation (apart from
/// person ids, so one can never be passed for the other).
fn introduction_audience(caller: &Caller) -> String {
    format!("introduction/{}", caller.organisation_code)
}

fn open_introduction_id(ctx: &Context<'_>, caller: &Caller, id: &str) -> Option<i64> {
    state(ctx)
        .protector
        .open_id(&introduction_audience(caller), id)
}

/// A partner's request to meet a candidate for a vacancy. The partner sees the status and the
/// candidate's generic profile (while consent lasts), never the identity; the caseworkers of
/// the person's organisations see the full record.
pub struct Introduction {
    id: ID,
    m: introduction::Model,
    access: RecordAccess,
    vacancy: Option<Vacancy>,
    candidate: Option<Candidate>,
    person: Option<Person>,
    requested_by: Option<Organisation>,
    history: Vec<IntroductionEvent>,
}

impl Introduction {
    fn check(&self, ctx: &Context<'_>, column: &str, field: &str) -> Result<()> {
        let c = caller(ctx).ok_or_else(|| denied(Denied::Unauthenticated))?;
        state(ctx)
            .policy
            .field(c, "introduction", column, self.access, field)
            .map(|_| ())
            .map_err(denied)
    }
}

#[Object(visible = "visible_introductions")]
impl Introduction {
    /// This organisation's id for the introduction.
    async fn id(&self) -> &ID {
        &self.id
    }
    /// Where it stands.
    async fn status(&self, ctx: &Context<'_>) -> Result<&str> {
        self.check(ctx, "status", "Introduction.status")?;
        Ok(&self.m.status)
    }
    /// The vacancy.
    async fn vacancy(&self, ctx: &Context<'_>) -> Result<Option<&Vacancy>> {
        self.check(ctx, "vacancy_id", "Introduction.vacancy")?;
        Ok(self.vacancy.as_ref())
    }
    /// The candidate as the caller sees candidates; `null` once the caller may no longer see
    /// them (consent revoked or expired).
    async fn candidate(&self, ctx: &Context<'_>) -> Result<Option<&Candidate>> {
        self.check(ctx, "person_id", "Introduction.candidate")?;
        Ok(self.candidate.as_ref())
    }
    /// The full record (caseworkers).
    #[graphql(visible = "visible_person")]
    async fn person(&self) -> Option<&Person> {
        self.person.as_ref()
    }
    /// The partner that asked.
    async fn requested_by(&self, ctx: &Context<'_>) -> Result<Option<&Organisation>> {
        self.check(
            ctx,
            "requested_by_organisation_id",
            "Introduction.requestedBy",
        )?;
        Ok(self.requested_by.as_ref())
    }
    /// When it was asked for.
    async fn requested_at(&self, ctx: &Context<'_>) -> Result<chrono::DateTime<Utc>> {
        self.check(ctx, "created_at", "Introduction.requestedAt")?;
        Ok(self.m.created_at)
    }
    /// When a caseworker accepted or declined it.
    async fn decided_at(&self, ctx: &Context<'_>) -> Result<Option<chrono::DateTime<Utc>>> {
        self.check(ctx, "decided_at", "Introduction.decidedAt")?;
        Ok(self.m.decided_at)
    }
    /// Every change, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> Result<&[IntroductionEvent]> {
        self.check(ctx, "status", "Introduction.history")?;
        Ok(&self.history)
    }
}

/// One change of an introduction.
pub struct IntroductionEvent {
    m: introduction_event::Model,
    organisation: Option<Organisation>,
    own: bool,
}

#[Object(visible = "visible_introductions")]
impl IntroductionEvent {
    /// The status it changed to.
    async fn status(&self) -> &str {
        &self.m.status
    }
    /// When.
    async fn at(&self) -> chrono::DateTime<Utc> {
        self.m.created_at
    }
    /// The role of who changed it: partner or caseworker.
    async fn role(&self) -> &str {
        &self.m.actor_role
    }
    /// The organisation of who changed it.
    async fn organisation(&self) -> Option<&Organisation> {
        self.organisation.as_ref()
    }
    /// Who changed it (the token's account); only for changes made by the caller's own
    /// organisation.
    async fn actor(&self) -> Option<&str> {
        self.own.then_some(self.m.actor.as_str())
    }
}

/// Introductions as the caller sees them; `rows` went through the policy's row filter.
async fn introductions_of(
    ctx: &Context<'_>,
    caller: &Caller,
    rows: Vec<introduction::Model>,
    wants_person: bool,
) -> Result<Vec<Introduction>> {
    let st = state(ctx);
    let db = db(ctx);
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let orgs = organisations_by_id(db).await?;
    let vacancy_ids: HashSet<i64> = rows.iter().map(|r| r.vacancy_id).collect();
    let vacancies: HashMap<i64, vacancy::Model> = vacancy::Entity::find()
        .filter(vacancy::Column::Id.is_in(vacancy_ids))
        .all(db)
        .await
        .map_err(db_error)?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let person_ids: Vec<i64> = rows.iter().map(|r| r.person_id).collect();
    let candidates = candidates_by_person(ctx, caller, &person_ids, false).await?;
    let persons = if wants_person {
        persons_by_id(
            ctx,
            caller,
            PersonIds::Unfiltered(&person_ids),
            PersonParts::ALL,
        )
        .await?
    } else {
        HashMap::new()
    };
    let mut history: HashMap<i64, Vec<IntroductionEvent>> = HashMap::new();
    for e in introduction_event::Entity::find()
        .filter(introduction_event::Column::IntroductionId.is_in(rows.iter().map(|r| r.id)))
        .order_by_asc(introduction_event::Column::Id)
        .all(db)
        .await
        .map_err(db_error)?
    {
        history
            .entry(e.introduction_id)
            .or_default()
            .push(IntroductionEvent {
                organisation: orgs.get(&e.actor_organisation_id).cloned(),
                own: e.actor_organisation_id == caller.organisation_id,
                m: e,
            });
    }
    let access = match caller.role {
        model::Role::Partner => RecordAccess::OWN,
        _ => st.policy.record_access(caller),
    };
    let audience = introduction_audience(caller);
    Ok(rows
        .into_iter()
        .map(|m| Introduction {
            id: ID(st.protector.seal_id(&audience, m.id)),
            access,
            vacancy: vacancies
                .get(&m.vacancy_id)
                .cloned()
                .map(|v| Vacancy::new(v, &orgs)),
            // A person may be in several introductions of one page.
            candidate: candidates.get(&m.person_id).cloned(),
            person: persons.get(&m.person_id).cloned(),
            requested_by: orgs.get(&m.requested_by_organisation_id).cloned(),
            history: history.remove(&m.id).unwrap_or_default(),
            m,
        })
        .collect())
}

/// The details of a vacancy, as a partner posts or replaces them.
#[derive(InputObject)]
pub struct VacancyInput {
    /// Title (1–200 characters).
    title: String,
    /// Work type (werksoort).
    work_type: Option<String>,
    /// Skills asked for (at most 30).
    #[graphql(default)]
    skills: Vec<String>,
    /// Hours per week (more than 0, at most 60).
    hours_per_week: Option<f64>,
    /// District (stadsdeel).
    district: Option<String>,
    /// Suitable for line 3 (some support).
    #[graphql(default)]
    suitable_for_line3: bool,
    /// Suitable for line 4 (intensive support).
    #[graphql(default)]
    suitable_for_line4: bool,
    /// Start date.
    start_date: Option<NaiveDate>,
}

/// A vacancy's details after checking: what is stored.
struct VacancyFields {
    title: String,
    work_type: Option<String>,
    skills: Vec<String>,
    hours_per_week: Option<f64>,
    district: Option<String>,
    suitable_line_3: bool,
    suitable_line_4: bool,
    start_date: Option<NaiveDate>,
}

impl VacancyInput {
    /// Checks and normalises the input; errors name the field.
    fn check(self) -> Result<VacancyFields> {
        let title = self.title.trim().to_owned();
        if title.is_empty() || title.chars().count() > 200 {
            return Err(invalid(
                "`input.title` must have 1 to 200 characters".into(),
            ));
        }
        let mut skills: Vec<String> = Vec::new();
        for s in self.skills {
            let s = s.trim().to_lowercase();
            if s.is_empty() || s.chars().count() > 80 {
                return Err(invalid(
                    "`input.skills`: each skill must have 1 to 80 characters".into(),
                ));
            }
            if !skills.contains(&s) {
                skills.push(s);
            }
        }
        if skills.len() > 30 {
            return Err(invalid("`input.skills`: at most 30 skills".into()));
        }
        if let Some(h) = self.hours_per_week
            && !(h > 0.0 && h <= 60.0)
        {
            return Err(invalid(
                "`input.hoursPerWeek` must be more than 0 and at most 60".into(),
            ));
        }
        let text = |v: Option<String>, field: &str| -> Result<Option<String>> {
            match v.map(|s| s.trim().to_owned()) {
                Some(s) if s.chars().count() > 80 => Err(invalid(format!(
                    "`input.{field}` must have at most 80 characters"
                ))),
                Some(s) if s.is_empty() => Ok(None),
                other => Ok(other),
            }
        };
        Ok(VacancyFields {
            title,
            work_type: text(self.work_type, "workType")?.map(|w| w.to_lowercase()),
            skills,
            hours_per_week: self.hours_per_week,
            district: text(self.district, "district")?,
            suitable_line_3: self.suitable_for_line3,
            suitable_line_4: self.suitable_for_line4,
            start_date: self.start_date,
        })
    }
}

impl VacancyFields {
    fn apply(self, a: &mut vacancy::ActiveModel) {
        a.title = Set(self.title);
        a.work_type = Set(self.work_type);
        a.skills = Set(serde_json::json!(self.skills));
        a.hours_per_week = Set(self.hours_per_week);
        a.district = Set(self.district);
        a.suitable_line_3 = Set(self.suitable_line_3);
        a.suitable_line_4 = Set(self.suitable_line_4);
        a.start_date = Set(self.start_date);
    }
}

/// Mutations for vacancies and introductions.
#[derive(Default)]
pub struct WorkMutation;

#[Object]
impl WorkMutation {
    /// Posts a vacancy of the caller's organisation (partners); it opens at once.
    #[graphql(visible = "visible_vacancy_edits")]
    async fn create_vacancy(&self, ctx: &Context<'_>, input: VacancyInput) -> Result<Vacancy> {
        let caller = enter(ctx, "createVacancy")?;
        let fields = input.check()?;
        let now = Utc::now();
        let mut a = vacancy::ActiveModel {
            organisation_id: Set(caller.organisation_id),
            status: Set("open".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        fields.apply(&mut a);
        let m = a.insert(db(ctx)).await.map_err(db_error)?;
        tracing::info!(vacancy = m.id, "vacancy created");
        Ok(Vacancy::new(m, &organisations_by_id(db(ctx)).await?))
    }

    /// Replaces the details of one of the caller's vacancies (partners).
    #[graphql(visible = "visible_vacancy_edits")]
    async fn update_vacancy(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: VacancyInput,
    ) -> Result<Vacancy> {
        let caller = enter(ctx, "updateVacancy")?;
        let fields = input.check()?;
        let m = own_vacancy(ctx, caller, &id).await?;
        let mut a: vacancy::ActiveModel = m.into();
        fields.apply(&mut a);
        a.updated_at = Set(Utc::now());
        let m = a.update(db(ctx)).await.map_err(db_error)?;
        Ok(Vacancy::new(m, &organisations_by_id(db(ctx)).await?))
    }

    /// Closes one of the caller's vacancies (partners); it leaves the network's lists.
    #[graphql(visible = "visible_vacancy_edits")]
    async fn close_vacancy(&self, ctx: &Context<'_>, id: ID) -> Result<Vacancy> {
        let caller = enter(ctx, "closeVacancy")?;
        let m = own_vacancy(ctx, caller, &id).await?;
        let mut a: vacancy::ActiveModel = m.into();
        a.status = Set("closed".into());
        a.updated_at = Set(Utc::now());
        let m = a.update(db(ctx)).await.map_err(db_error)?;
        Ok(Vacancy::new(m, &organisations_by_id(db(ctx)).await?))
    }

    /// Asks to meet a candidate for one of the caller's open vacancies (partners). The
    /// caseworkers holding the person's file see the request and accept or decline it.
    #[graphql(visible = "visible_request_introduction")]
    async fn request_introduction(
        &self,
        ctx: &Context<'_>,
        vacancy_id: ID,
        candidate_id: ID,
    ) -> Result<Introduction> {
        let caller = enter(ctx, "requestIntroduction")?;
        let v = own_vacancy(ctx, caller, &vacancy_id).await?;
        if v.status != "open" {
            return Err(conflict(
                "`vacancyId` names a closed vacancy; reopen it by posting a new one".into(),
            ));
        }
        let no_candidate = || not_found("`candidateId` names no candidate you may see");
        let person_id = state(ctx)
            .protector
            .open_id(&caller.organisation_code, &candidate_id)
            .ok_or_else(no_candidate)?;
        if candidates_by_person(ctx, caller, &[person_id], false)
            .await?
            .is_empty()
        {
            return Err(no_candidate());
        }
        let existing = introduction::Entity::find()
            .filter(introduction::Column::VacancyId.eq(v.id))
            .filter(introduction::Column::PersonId.eq(person_id))
            .one(db(ctx))
            .await
            .map_err(db_error)?;
        if let Some(e) = existing {
            return Err(conflict(format!(
                "you already asked to meet this candidate for this vacancy (status: {})",
                e.status
            )));
        }
        let now = Utc::now();
        let txn = model::db::begin_write(db(ctx)).await.map_err(db_error)?;
        let m = introduction::ActiveModel {
            vacancy_id: Set(v.id),
            person_id: Set(person_id),
            requested_by_organisation_id: Set(caller.organisation_id),
            status: Set(IntroductionStatus::Requested.as_str().into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(db_error)?;
        record_event(&txn, caller, m.id, IntroductionStatus::Requested).await?;
        txn.commit().await.map_err(db_error)?;
        tracing::info!(introduction = m.id, "introduction requested");
        single_introduction(ctx, caller, m).await
    }

    /// Withdraws one of the caller's requests that is still requested or accepted (partners).
    #[graphql(visible = "visible_request_introduction")]
    async fn withdraw_introduction(&self, ctx: &Context<'_>, id: ID) -> Result<Introduction> {
        let caller = enter(ctx, "withdrawIntroduction")?;
        decide(
            ctx,
            caller,
            &id,
            &[IntroductionStatus::Requested, IntroductionStatus::Accepted],
            IntroductionStatus::Withdrawn,
        )
        .await
    }

    /// Accepts a request for a person in the caller's caseload (caseworkers); the meeting is
    /// then arranged outside the platform.
    #[graphql(visible = "visible_decide_introduction")]
    async fn accept_introduction(&self, ctx: &Context<'_>, id: ID) -> Result<Introduction> {
        let caller = enter(ctx, "acceptIntroduction")?;
        decide(
            ctx,
            caller,
            &id,
            &[IntroductionStatus::Requested],
            IntroductionStatus::Accepted,
        )
        .await
    }

    /// Declines a request for a person in the caller's caseload (caseworkers).
    #[graphql(visible = "visible_decide_introduction")]
    async fn decline_introduction(&self, ctx: &Context<'_>, id: ID) -> Result<Introduction> {
        let caller = enter(ctx, "declineIntroduction")?;
        decide(
            ctx,
            caller,
            &id,
            &[IntroductionStatus::Requested],
            IntroductionStatus::Declined,
        )
        .await
    }
}

/// One of the caller's own vacancies, or NOT_FOUND.
async fn own_vacancy(ctx: &Context<'_>, caller: &Caller, id: &ID) -> Result<vacancy::Model> {
    let missing = || not_found("`id` names none of your vacancies");
    let id = id.parse::<i64>().map_err(|_| missing())?;
    vacancy::Entity::find_by_id(id)
        .filter(vacancy::Column::OrganisationId.eq(caller.organisation_id))
        .one(db(ctx))
        .await
        .map_err(db_error)?
        .ok_or_else(missing)
}

/// Moves an introduction the caller is a party to from one of `from` to `to`, with its event.
async fn decide(
    ctx: &Context<'_>,
    caller: &Caller,
    id: &ID,
    from: &[IntroductionStatus],
    to: IntroductionStatus,
) -> Result<Introduction> {
    let missing = || not_found("`id` names no introduction you are a party to");
    let intro_id = open_introduction_id(ctx, caller, id).ok_or_else(missing)?;
    let rows = state(ctx)
        .policy
        .introductions(caller)
        .ok_or_else(missing)?;
    let txn = model::db::begin_write(db(ctx)).await.map_err(db_error)?;
    let m = introduction::Entity::find_by_id(intro_id)
        .filter(rows)
        .one(&txn)
        .await
        .map_err(db_error)?
        .ok_or_else(missing)?;
    if !from.iter().any(|s| s.as_str() == m.status) {
        return Err(conflict(format!(
            "this introduction is {}; only a {} one can become {}",
            m.status,
            from.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" or "),
            to.as_str()
        )));
    }
    let now = Utc::now();
    let mut a: introduction::ActiveModel = m.into();
    a.status = Set(to.as_str().into());
    a.updated_at = Set(now);
    if caller.role == model::Role::Caseworker {
        a.decided_by = Set(Some(caller.subject.clone()));
        a.decided_at = Set(Some(now));
    }
    let m = a.update(&txn).await.map_err(db_error)?;
    record_event(&txn, caller, m.id, to).await?;
    txn.commit().await.map_err(db_error)?;
    tracing::info!(
        introduction = m.id,
        status = to.as_str(),
        "introduction changed"
    );
    single_introduction(ctx, caller, m).await
}

async fn record_event(
    txn: &sea_orm::DatabaseTransaction,
    caller: &Caller,
    introduction_id: i64,
    status: IntroductionStatus,
) -> Result<()> {
    let now = Utc::now();
    introduction_event::ActiveModel {
        introduction_id: Set(introduction_id),
        status: Set(status.as_str().into()),
        actor: Set(caller.subject.clone()),
        actor_role: Set(caller.role.as_str().into()),
        actor_organisation_id: Set(caller.organisation_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(txn)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn single_introduction(
    ctx: &Context<'_>,
    caller: &Caller,
    m: introduction::Model,
) -> Result<Introduction> {
    let wants_person = ctx.look_ahead().field("person").exists();
    introductions_of(ctx, caller, vec![m], wants_person)
        .await?
        .pop()
        .ok_or_else(|| Error::new("the introduction was not found after writing it"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_add_calendar_months_and_days() {
        assert_eq!(add_period(d(2026, 8, 31), "P6M"), Ok(d(2027, 2, 28)));
        assert_eq!(add_period(d(2026, 1, 1), "P1Y2M"), Ok(d(2027, 3, 1)));
        assert_eq!(add_period(d(2026, 1, 1), "P2W"), Ok(d(2026, 1, 15)));
        assert_eq!(add_period(d(2026, 1, 1), "P90D"), Ok(d(2026, 4, 1)));
        for bad in ["6M", "P", "PT6H", "P6X", "P6", "P-1M", "P999Y"] {
            assert!(add_period(d(2026, 1, 1), bad).is_err(), "{bad}");
        }
    }
}
