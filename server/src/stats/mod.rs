//! Work-to-work figures: outcomes of ended placements and KPI aggregates with small-cell
//! suppression.
//!
//! The figures are computed from a snapshot of the placements ([`Facts`]), built from the
//! database at most once per `cache` interval and shared by all requests, so a dashboard's
//! request costs an aggregation in memory, not a scan of the tables. Every cell goes through
//! [`suppression`] before it leaves this module.

pub mod suppression;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Datelike, Months, NaiveDate};
use model::entity::{candidate_profile, organisation, placement, sensitive_detail};
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QuerySelect};

/// Hours a week of one job-agreement job (banenafspraak: 25.5 hours is one job).
pub const JOB_AGREEMENT_HOURS: f64 = 25.5;

/// Placement kinds that pay a wage (counted for job-agreement jobs).
const PAID_KINDS: [&str; 3] = ["employment", "secondment", "sheltered_work"];

/// What followed a placement that ended.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Another placement started within the window.
    NextPlacement,
    /// Regular work: a job at an employer, from the source or from what followed.
    RegularWork,
    /// Education.
    Education,
    /// Care or day activities.
    Care,
    /// A benefit.
    Benefit,
    /// Nothing known followed within the window.
    Unknown,
}

impl Outcome {
    /// The outcome's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NextPlacement => "next_placement",
            Self::RegularWork => "regular_work",
            Self::Education => "education",
            Self::Care => "care",
            Self::Benefit => "benefit",
            Self::Unknown => "unknown",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "next_placement" => Self::NextPlacement,
            "regular_work" => Self::RegularWork,
            "education" => Self::Education,
            "care" => Self::Care,
            "benefit" => Self::Benefit,
            "unknown" => Self::Unknown,
            _ => return None,
        })
    }

    /// Whether the person went on to work.
    pub fn is_work(self) -> bool {
        matches!(self, Self::NextPlacement | Self::RegularWork)
    }
}

/// One placement as the figures need it.
#[derive(Clone, Debug)]
pub struct PlacementFact {
    /// The person.
    pub person: i64,
    /// Kind (employment, secondment, …).
    pub kind: String,
    /// The organisation's name.
    pub organisation: String,
    /// The organisation's kind (employer, social_firm, …).
    pub organisation_kind: String,
    /// Start date.
    pub start: Option<NaiveDate>,
    /// End: the actual end, else the planned one.
    pub end: Option<NaiveDate>,
    /// Whether it has ended (an actual end, or a planned end before today).
    pub ended: bool,
    /// Hours a week.
    pub hours: Option<f64>,
    /// The outcome the source gave, if any.
    pub source_outcome: Option<Outcome>,
}

impl PlacementFact {
    /// The facts of a placement row at an organisation (name and kind), as of `today`.
    pub fn new(
        p: &placement::Model,
        organisation: String,
        organisation_kind: String,
        today: NaiveDate,
    ) -> Self {
        Self {
            person: p.person_id,
            kind: p.kind.clone(),
            organisation,
            organisation_kind,
            start: p.start_date,
            ended: p.actual_end_date.is_some() || p.planned_end_date.is_some_and(|e| e < today),
            end: p.actual_end_date.or(p.planned_end_date),
            hours: p.hours_per_week,
            source_outcome: p.outcome.as_deref().and_then(Outcome::parse),
        }
    }
}

/// A placement's outcome and, for a move to work, the days until the next placement began.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Derived {
    /// The outcome; `None` while the window after the end is still open and nothing followed.
    pub outcome: Option<Outcome>,
    /// Days from the end to the next placement's start (0 when it started before the end).
    pub gap_days: Option<i64>,
}

/// Derives the outcomes of one person's placements: what the source said, else what followed
/// within `window_days` of the end — another placement (regular work when it is employment at an
/// employer), or `unknown` once the window has passed.
pub fn derive_outcomes(
    placements: &[&PlacementFact],
    window_days: i64,
    today: NaiveDate,
) -> Vec<Derived> {
    placements
        .iter()
        .map(|p| {
            let (true, Some(end)) = (p.ended, p.end) else {
                return Derived {
                    outcome: None,
                    gap_days: None,
                };
            };
            let next = placements
                .iter()
                .filter(|q| !std::ptr::eq(**q, *p))
                .filter_map(|q| q.start.map(|s| (s, q)))
                .filter(|(s, _)| {
                    p.start.is_none_or(|ps| *s > ps)
                        && *s <= end + chrono::Days::new(window_days as u64)
                })
                .min_by_key(|(s, _)| *s);
            let gap = next.map(|(s, _)| (s - end).num_days().max(0));
            let derived = next.map(|(_, q)| {
                if q.kind == "employment" && q.organisation_kind == "employer" {
                    Outcome::RegularWork
                } else {
                    Outcome::NextPlacement
                }
            });
            let outcome = match (p.source_outcome, derived) {
                (Some(o), _) if o != Outcome::Unknown => Some(o),
                (_, Some(d)) => Some(d),
                _ if (today - end).num_days() > window_days => Some(Outcome::Unknown),
                _ => None,
            };
            Derived {
                outcome,
                gap_days: gap.filter(|_| outcome.is_some_and(Outcome::is_work)),
            }
        })
        .collect()
}

/// The dimensions a placement carries besides time, in the order of [`Fact::dims`].
const ATTRIBUTES: [Dimension; 5] = [
    Dimension::Organisation,
    Dimension::Line,
    Dimension::WorkType,
    Dimension::District,
    Dimension::PlacementKind,
];

fn attribute(dim: Dimension) -> Option<usize> {
    ATTRIBUTES.iter().position(|d| *d == dim)
}

/// A person's line, district, first work type and whether they are in the register.
type PersonAttributes = (Option<String>, Option<String>, Option<String>, bool);

/// One placement in a snapshot: dates, outcome and its dimension values (as label indexes).
#[derive(Clone, Debug)]
pub struct Fact {
    /// The person.
    pub person: i64,
    /// Start date.
    pub start: Option<NaiveDate>,
    /// End: the actual end, else the planned one.
    pub end: Option<NaiveDate>,
    /// Whether it has ended.
    pub ended: bool,
    /// Hours a week.
    pub hours: f64,
    /// A paid kind held by a person in the job-agreement register.
    pub job_agreement_paid: bool,
    /// What followed.
    pub derived: Derived,
    /// Label indexes for organisation, line, work type, district and placement kind.
    pub dims: [u32; 5],
}

/// A snapshot of placements with derived outcomes, ordered by person.
#[derive(Debug, Default)]
pub struct Facts {
    /// Every active placement, grouped by person.
    pub facts: Vec<Fact>,
    /// Labels per attribute dimension (see [`Fact::dims`]).
    pub labels: [Vec<String>; 5],
    /// The day the snapshot was taken.
    pub today: NaiveDate,
    /// Tables already computed from this snapshot (dashboards ask the same ones again).
    results: std::sync::Mutex<HashMap<String, Arc<Vec<Row>>>>,
}

/// Most tables kept per snapshot.
const MAX_CACHED_TABLES: usize = 256;

impl Facts {
    /// [`compute`], answered from the tables this snapshot already computed where it can.
    pub fn table(&self, req: &Request, t: Thresholds) -> Result<Arc<Vec<Row>>, StatsError> {
        let key = format!("{req:?}|{t:?}");
        if let Some(rows) = self.lock_results().get(&key) {
            return Ok(rows.clone());
        }
        let rows = Arc::new(compute(self, req, t)?);
        let mut results = self.lock_results();
        if results.len() >= MAX_CACHED_TABLES {
            results.clear();
        }
        results.insert(key, rows.clone());
        Ok(rows)
    }

    fn lock_results(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Vec<Row>>>> {
        // A poisoned cache only loses cached tables.
        self.results.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Interns labels of one dimension.
#[derive(Default)]
struct Labels {
    list: Vec<String>,
    index: HashMap<String, u32>,
}

impl Labels {
    fn id(&mut self, label: &str) -> u32 {
        if let Some(i) = self.index.get(label) {
            return *i;
        }
        let i = self.list.len() as u32;
        self.list.push(label.to_owned());
        self.index.insert(label.to_owned(), i);
        i
    }
}

impl Facts {
    /// Reads a snapshot from the database.
    pub async fn load(
        db: &DatabaseConnection,
        window_days: i64,
        today: NaiveDate,
    ) -> Result<Self, DbErr> {
        let orgs: HashMap<i64, (String, String)> = organisation::Entity::find()
            .all(db)
            .await?
            .into_iter()
            .map(|o| (o.id, (o.name, o.kind)))
            .collect();
        let mut persons: HashMap<i64, PersonAttributes> = HashMap::new();
        let profiles: Vec<(i64, Option<String>, Option<String>, serde_json::Value)> =
            candidate_profile::Entity::find()
                .select_only()
                .column(candidate_profile::Column::PersonId)
                .column(candidate_profile::Column::Line)
                .column(candidate_profile::Column::District)
                .column(candidate_profile::Column::WorkTypes)
                .into_tuple()
                .all(db)
                .await?;
        for (id, line, district, work_types) in profiles {
            let work_type = work_types
                .as_array()
                .and_then(|a| a.first())
                .and_then(|w| w.as_str())
                .map(str::to_owned);
            persons.insert(id, (line, district, work_type, false));
        }
        let registered: Vec<i64> = sensitive_detail::Entity::find()
            .select_only()
            .column(sensitive_detail::Column::PersonId)
            .filter(sensitive_detail::registered_on(today))
            .into_tuple()
            .all(db)
            .await?;
        for id in registered {
            persons.entry(id).or_default().3 = true;
        }
        let rows = placement::Entity::find()
            .filter(placement::Column::Active.eq(true))
            .all(db)
            .await?;
        let mut by_person: BTreeMap<i64, Vec<PlacementFact>> = BTreeMap::new();
        for p in rows {
            let (organisation, organisation_kind) =
                orgs.get(&p.organisation_id).cloned().unwrap_or_default();
            by_person
                .entry(p.person_id)
                .or_default()
                .push(PlacementFact::new(
                    &p,
                    organisation,
                    organisation_kind,
                    today,
                ));
        }
        let mut labels: [Labels; 5] = Default::default();
        let mut facts = Vec::new();
        let none = (None, None, None, false);
        for (id, list) in by_person {
            let refs: Vec<&PlacementFact> = list.iter().collect();
            let derived = derive_outcomes(&refs, window_days, today);
            let (line, district, work_type, register) = persons.get(&id).unwrap_or(&none);
            for (p, derived) in list.iter().zip(derived) {
                facts.push(Fact {
                    person: id,
                    start: p.start,
                    end: p.end,
                    ended: p.ended,
                    hours: p.hours.unwrap_or(0.0),
                    job_agreement_paid: *register && PAID_KINDS.contains(&p.kind.as_str()),
                    derived,
                    dims: [
                        labels[0].id(&p.organisation),
                        labels[1].id(line.as_deref().unwrap_or("none")),
                        labels[2].id(work_type.as_deref().unwrap_or("unknown")),
                        labels[3].id(district.as_deref().unwrap_or("unknown")),
                        labels[4].id(&p.kind),
                    ],
                });
            }
        }
        Ok(Self {
            facts,
            labels: labels.map(|l| l.list),
            today,
            results: Default::default(),
        })
    }
}

/// Snapshots shared between requests, rebuilt when older than the configured interval.
#[derive(Default)]
pub struct FactsCache {
    slot: tokio::sync::Mutex<Option<(Instant, Arc<Facts>)>>,
}

impl FactsCache {
    /// The current snapshot, rebuilt first when it is older than `max_age` (one rebuild at a
    /// time; other requests wait for it).
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        max_age: Duration,
        window_days: i64,
    ) -> Result<Arc<Facts>, DbErr> {
        let mut slot = self.slot.lock().await;
        if let Some((at, facts)) = slot.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(facts.clone());
        }
        let started = Instant::now();
        let facts = Arc::new(Facts::load(db, window_days, model::clock::today()).await?);
        tracing::info!(
            placements = facts.facts.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "statistics snapshot built"
        );
        *slot = Some((Instant::now(), facts.clone()));
        Ok(facts)
    }
}

/// A figure the statistics compute.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Measure {
    /// Persons whose placement started in the period.
    Inflow,
    /// Persons with a placement during the period.
    Active,
    /// Persons whose placement ended in the period.
    Outflow,
    /// Persons whose placement ended in the period with regular work as its outcome.
    OutflowToWork,
    /// Persons whose placement ended in the period and who moved on to work (another placement
    /// or regular work) within the window.
    WorkToWork,
    /// Work-to-work transitions as a share of the placements that ended with a known outcome.
    WorkToWorkRate,
    /// Average days between the end of a placement and the start of the next, over
    /// work-to-work transitions.
    AverageDaysBetweenPlacements,
    /// Persons whose placement, running on the period's last day (today for a period still
    /// running), ends in the six months after it.
    ContractsEnding,
    /// Job-agreement jobs on the period's last day (today for a period still running): paid
    /// hours a week of persons in the target-group register, / 25.5.
    JobAgreementJobs,
}

/// A dimension to group by.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Dimension {
    /// Calendar month, `2026-03`.
    Month,
    /// Calendar quarter, `2026-Q1`.
    Quarter,
    /// Calendar year, `2026`.
    Year,
    /// The placement's organisation.
    Organisation,
    /// The person's line.
    Line,
    /// The person's (first) work type.
    WorkType,
    /// The person's district.
    District,
    /// The placement's kind.
    PlacementKind,
}

impl Dimension {
    fn is_time(self) -> bool {
        matches!(self, Self::Month | Self::Quarter | Self::Year)
    }
}

/// Which placements and persons count.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Organisation names.
    pub organisations: Option<Vec<String>>,
    /// Lines.
    pub lines: Option<Vec<String>>,
    /// Districts.
    pub districts: Option<Vec<String>>,
    /// Work types.
    pub work_types: Option<Vec<String>>,
    /// Placement kinds.
    pub placement_kinds: Option<Vec<String>>,
}

/// A request for a table of figures.
#[derive(Clone, Debug)]
pub struct Request {
    /// The figure.
    pub measure: Measure,
    /// Dimensions, in order; at most one time dimension.
    pub group_by: Vec<Dimension>,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Which placements count.
    pub filter: Filter,
}

/// Suppression settings.
#[derive(Copy, Clone, Debug)]
pub struct Thresholds {
    /// Smallest number of distinct persons a cell may count (k).
    pub min_cell_size: usize,
    /// Smallest denominator a rate is shown for.
    pub min_rate_denominator: usize,
}

/// One cell of the answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// One value per grouped dimension.
    pub key: Vec<String>,
    /// The figure; `None` when suppressed.
    pub value: Option<f64>,
    /// Whether the figure was withheld (too few persons, or a rate's denominator too small).
    pub suppressed: bool,
}

/// Why a request for figures was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StatsError {
    /// More than one time dimension.
    #[error("`groupBy` may hold one of MONTH, QUARTER and YEAR, not several")]
    TwoTimeDimensions,
    /// The same dimension twice.
    #[error("`groupBy` names a dimension twice")]
    RepeatedDimension,
    /// `from` after `to`, or a range over ten years.
    #[error("`from` must be on or before `to`, at most ten years apart")]
    BadRange,
    /// The grouping has too many cells.
    #[error("the grouping makes more than {0} cells; group by fewer dimensions or a shorter range")]
    TooManyCells(usize),
    /// The filter leaves too few persons.
    #[error(
        "the filter leaves fewer than {0} persons; widen it (small populations are not published)"
    )]
    PopulationTooSmall(usize),
}

/// The period bucket of a date for a time dimension.
fn bucket(d: NaiveDate, dim: Dimension) -> String {
    match dim {
        Dimension::Month => format!("{:04}-{:02}", d.year(), d.month()),
        Dimension::Quarter => format!("{:04}-Q{}", d.year(), (d.month() - 1) / 3 + 1),
        _ => format!("{:04}", d.year()),
    }
}

fn months_per(dim: Dimension) -> u32 {
    match dim {
        Dimension::Month => 1,
        Dimension::Quarter => 3,
        _ => 12,
    }
}

/// The periods (first day, last day, label) covering `from..=to` for a time dimension, or the
/// whole range as one period.
fn periods(
    from: NaiveDate,
    to: NaiveDate,
    dim: Option<Dimension>,
) -> Vec<(NaiveDate, NaiveDate, String)> {
    let Some(dim) = dim else {
        return vec![(from, to, String::new())];
    };
    let months = months_per(dim);
    let m0 = (from.month0() / months) * months;
    let mut start = NaiveDate::from_ymd_opt(from.year(), m0 + 1, 1).expect("valid first day");
    let mut out = vec![];
    while start <= to {
        let next = start + Months::new(months);
        let last = next.pred_opt().expect("a day before");
        out.push((start.max(from), last.min(to), bucket(start, dim)));
        start = next;
    }
    out
}

/// Most cells a table may have.
const MAX_CELLS: usize = 4_000_000;

/// Per cell: distinct persons of the figure and of its denominator, and a sum. Facts come
/// grouped by person, so a person is counted once per cell by remembering the last one.
#[derive(Clone, Default)]
struct Acc {
    persons: usize,
    last: Option<i64>,
    denominator: usize,
    last_denominator: Option<i64>,
    sum: f64,
    n: usize,
}

impl Acc {
    fn count(&mut self, person: i64) {
        if self.last != Some(person) {
            self.last = Some(person);
            self.persons += 1;
        }
    }
    fn count_denominator(&mut self, person: i64) {
        if self.last_denominator != Some(person) {
            self.last_denominator = Some(person);
            self.denominator += 1;
        }
    }
}

/// Computes a table of figures with suppression applied.
pub fn compute(facts: &Facts, req: &Request, t: Thresholds) -> Result<Vec<Row>, StatsError> {
    let time_dims: Vec<Dimension> = req
        .group_by
        .iter()
        .copied()
        .filter(|d| d.is_time())
        .collect();
    if time_dims.len() > 1 {
        return Err(StatsError::TwoTimeDimensions);
    }
    let unique: HashSet<Dimension> = req.group_by.iter().copied().collect();
    if unique.len() != req.group_by.len() {
        return Err(StatsError::RepeatedDimension);
    }
    if req.from > req.to || (req.to - req.from).num_days() > 3660 {
        return Err(StatsError::BadRange);
    }
    let time = time_dims.first().copied();
    let periods = periods(req.from, req.to, time);

    // Filters as allowed label indexes per attribute.
    let allowed: Vec<Option<HashSet<u32>>> = [
        &req.filter.organisations,
        &req.filter.lines,
        &req.filter.work_types,
        &req.filter.districts,
        &req.filter.placement_kinds,
    ]
    .iter()
    .enumerate()
    .map(|(a, list)| {
        list.as_ref().map(|l| {
            facts.labels[a]
                .iter()
                .enumerate()
                .filter(|(_, label)| l.iter().any(|x| x.eq_ignore_ascii_case(label)))
                .map(|(i, _)| i as u32)
                .collect()
        })
    })
    .collect();
    let keep = |f: &Fact| {
        allowed
            .iter()
            .zip(f.dims)
            .all(|(set, v)| set.as_ref().is_none_or(|s| s.contains(&v)))
    };

    // The population the filter leaves: persons with a placement during the range.
    let mut population = Acc::default();
    for f in facts.facts.iter().filter(|f| keep(f)) {
        if overlaps(f, req.from, req.to) {
            population.count(f.person);
        }
    }
    if population.persons < t.min_cell_size {
        return Err(StatsError::PopulationTooSmall(t.min_cell_size));
    }

    // A dense table: one stride per grouped dimension.
    let sizes: Vec<usize> = req
        .group_by
        .iter()
        .map(|d| match attribute(*d) {
            Some(a) => facts.labels[a].len().max(1),
            None => periods.len(),
        })
        .collect();
    let total: usize = sizes
        .iter()
        .try_fold(1usize, |acc, s| acc.checked_mul(*s))
        .unwrap_or(usize::MAX);
    if total > MAX_CELLS {
        return Err(StatsError::TooManyCells(MAX_CELLS));
    }
    let mut cells = vec![Acc::default(); total];
    // A cell's index is the sum of each grouped value times its dimension's stride; the
    // attribute part is the same for every period of a fact.
    let mut strides = vec![1usize; sizes.len()];
    for i in (0..sizes.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * sizes[i + 1];
    }
    let time_stride = req
        .group_by
        .iter()
        .zip(&strides)
        .find(|(d, _)| d.is_time())
        .map_or(0, |(_, s)| *s);
    let attribute_dims: Vec<(usize, usize)> = req
        .group_by
        .iter()
        .zip(&strides)
        .filter_map(|(d, s)| attribute(*d).map(|a| (a, *s)))
        .collect();
    let base = |f: &Fact| -> usize {
        attribute_dims
            .iter()
            .map(|(a, s)| f.dims[*a] as usize * s)
            .sum()
    };
    let index = |f: &Fact, period: usize| -> usize { base(f) + period * time_stride };
    // The period holding a date, if the date is in the range.
    let period_of = |d: NaiveDate| -> Option<usize> {
        if d < req.from || d > req.to {
            return None;
        }
        match time {
            None => Some(0),
            Some(dim) => {
                let months = |x: NaiveDate| x.year() as i64 * 12 + x.month0() as i64;
                let first = months(periods[0].0);
                let first_bucket = first - first.rem_euclid(12)
                    + (first.rem_euclid(12) / months_per(dim) as i64) * months_per(dim) as i64;
                Some(((months(d) - first_bucket) / months_per(dim) as i64) as usize)
            }
        }
    };
    // The periods a placement runs in.
    let running = |f: &Fact| -> std::ops::Range<usize> {
        if !overlaps(f, req.from, req.to) {
            return 0..0;
        }
        let first = f
            .start
            .and_then(|s| period_of(s.max(req.from)))
            .unwrap_or(0);
        let last = f
            .end
            .and_then(|e| period_of(e.min(req.to)))
            .unwrap_or(periods.len() - 1);
        first..last + 1
    };
    for f in facts.facts.iter().filter(|f| keep(f)) {
        let ended_in = if f.ended {
            f.end.and_then(period_of)
        } else {
            None
        };
        match req.measure {
            Measure::Inflow => {
                if let Some(p) = f.start.and_then(period_of) {
                    cells[index(f, p)].count(f.person);
                }
            }
            Measure::Active => {
                let b = base(f);
                for p in running(f) {
                    cells[b + p * time_stride].count(f.person);
                }
            }
            Measure::Outflow => {
                if let Some(p) = ended_in {
                    cells[index(f, p)].count(f.person);
                }
            }
            Measure::OutflowToWork => {
                if let (Some(p), Some(Outcome::RegularWork)) = (ended_in, f.derived.outcome) {
                    cells[index(f, p)].count(f.person);
                }
            }
            Measure::WorkToWork => {
                if let (Some(p), true) = (ended_in, f.derived.outcome.is_some_and(Outcome::is_work))
                {
                    cells[index(f, p)].count(f.person);
                }
            }
            Measure::WorkToWorkRate => {
                if let (Some(p), Some(o)) = (ended_in, f.derived.outcome) {
                    let c = &mut cells[index(f, p)];
                    c.count_denominator(f.person);
                    if o.is_work() {
                        c.count(f.person);
                    }
                }
            }
            Measure::AverageDaysBetweenPlacements => {
                if let (Some(p), Some(gap)) = (ended_in, f.derived.gap_days) {
                    let c = &mut cells[index(f, p)];
                    c.count(f.person);
                    c.sum += gap as f64;
                    c.n += 1;
                }
            }
            Measure::ContractsEnding => {
                for (p, (_, last, _)) in periods.iter().enumerate() {
                    let from = (*last).min(facts.today);
                    let until = from + Months::new(6);
                    let current = f.start.is_none_or(|s| s <= from);
                    if current && f.end.is_some_and(|e| e > from && e <= until) {
                        cells[index(f, p)].count(f.person);
                    }
                }
            }
            Measure::JobAgreementJobs => {
                if f.job_agreement_paid {
                    for (p, (_, last, _)) in periods.iter().enumerate() {
                        let day = (*last).min(facts.today);
                        if overlaps(f, day, day) {
                            let c = &mut cells[index(f, p)];
                            c.count(f.person);
                            c.sum += f.hours;
                        }
                    }
                }
            }
        }
    }

    // Rows: the cells with something in them; an ungrouped table always has its one total.
    let key_of = |mut i: usize| -> Vec<String> {
        let mut key = vec![String::new(); sizes.len()];
        for (slot, (d, size)) in req.group_by.iter().zip(&sizes).enumerate().rev() {
            let v = i % size;
            i /= size;
            key[slot] = match attribute(*d) {
                Some(a) => facts.labels[a].get(v).cloned().unwrap_or_default(),
                None => periods[v].2.clone(),
            };
        }
        key
    };
    let filled: Vec<(Vec<String>, Acc)> = cells
        .into_iter()
        .enumerate()
        .filter(|(_, a)| req.group_by.is_empty() || a.persons > 0 || a.denominator > 0)
        .map(|(i, a)| (key_of(i), a))
        .collect();
    // Suppression decides on the persons a cell counts: for a rate, on its denominator.
    let table = |rate_numerator: bool| -> Vec<suppression::Cell> {
        filled
            .iter()
            .map(|(k, a)| suppression::Cell {
                key: k.clone(),
                persons: if req.measure == Measure::WorkToWorkRate && !rate_numerator {
                    a.denominator
                } else {
                    a.persons
                },
            })
            .collect()
    };
    let mut hidden = suppression::suppress(&table(false), t.min_cell_size);
    if req.measure == Measure::WorkToWorkRate {
        // The numerator is a count of its own: a rate comes only from unsuppressed counts.
        let numerator_hidden = suppression::suppress(&table(true), t.min_cell_size);
        for (i, (_, a)) in filled.iter().enumerate() {
            hidden[i] = hidden[i] || numerator_hidden[i] || a.denominator < t.min_rate_denominator;
        }
    }
    Ok(filled
        .into_iter()
        .zip(hidden)
        .map(|((key, a), suppressed)| {
            let value = match req.measure {
                Measure::WorkToWorkRate => {
                    (a.denominator > 0).then(|| a.persons as f64 / a.denominator as f64)
                }
                Measure::AverageDaysBetweenPlacements => {
                    (a.n > 0).then(|| (a.sum / a.n as f64 * 10.0).round() / 10.0)
                }
                Measure::JobAgreementJobs => {
                    Some((a.sum / JOB_AGREEMENT_HOURS * 10.0).round() / 10.0)
                }
                _ => Some(a.persons as f64),
            };
            Row {
                key,
                value: if suppressed { None } else { value },
                suppressed,
            }
        })
        .collect())
}

/// Whether the placement runs during any day of `from..=to`.
fn overlaps(f: &Fact, from: NaiveDate, to: NaiveDate) -> bool {
    f.start.is_none_or(|s| s <= to) && f.end.is_none_or(|e| e >= from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn fact(
        person: i64,
        kind: &str,
        org_kind: &str,
        start: NaiveDate,
        end: Option<NaiveDate>,
    ) -> PlacementFact {
        PlacementFact {
            person,
            kind: kind.into(),
            organisation: "Org".into(),
            organisation_kind: org_kind.into(),
            start: Some(start),
            end,
            ended: end.is_some_and(|e| e < d(2026, 11, 27)),
            hours: Some(25.5),
            source_outcome: None,
        }
    }

    #[test]
    fn outcomes_follow_from_what_came_next_within_the_window() {
        let today = d(2026, 11, 27);
        let a = fact(
            1,
            "secondment",
            "social_firm",
            d(2025, 1, 1),
            Some(d(2026, 1, 31)),
        );
        let b = fact(1, "employment", "employer", d(2026, 2, 10), None);
        let derived = derive_outcomes(&[&a, &b], 90, today);
        assert_eq!(derived[0].outcome, Some(Outcome::RegularWork));
        assert_eq!(derived[0].gap_days, Some(10));
        assert_eq!(derived[1].outcome, None, "still running");

        let c = fact(
            2,
            "trial_placement",
            "employer",
            d(2026, 1, 1),
            Some(d(2026, 3, 1)),
        );
        let late = fact(2, "employment", "social_firm", d(2026, 9, 1), None);
        let derived = derive_outcomes(&[&c, &late], 90, today);
        assert_eq!(
            derived[0].outcome,
            Some(Outcome::Unknown),
            "the next came too late"
        );

        let open = fact(
            3,
            "employment",
            "employer",
            d(2026, 1, 1),
            Some(d(2026, 11, 1)),
        );
        assert_eq!(
            derive_outcomes(&[&open], 90, today)[0].outcome,
            None,
            "window still open"
        );

        let mut said = fact(
            4,
            "employment",
            "employer",
            d(2025, 1, 1),
            Some(d(2025, 6, 1)),
        );
        said.source_outcome = Some(Outcome::Education);
        assert_eq!(
            derive_outcomes(&[&said], 90, today)[0].outcome,
            Some(Outcome::Education)
        );
    }

    #[test]
    fn periods_cover_the_range_in_calendar_buckets() {
        let p = periods(d(2026, 2, 15), d(2026, 7, 3), Some(Dimension::Quarter));
        let labels: Vec<&str> = p.iter().map(|(.., l)| l.as_str()).collect();
        assert_eq!(labels, ["2026-Q1", "2026-Q2", "2026-Q3"]);
        assert_eq!(p[0].0, d(2026, 2, 15));
        assert_eq!(p[2].1, d(2026, 7, 3));
        assert_eq!(
            periods(d(2026, 1, 1), d(2026, 12, 31), Some(Dimension::Month)).len(),
            12
        );
    }
}
