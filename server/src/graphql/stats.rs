//! `stats`: KPI figures per period and dimension, suppressed where a cell counts too few persons.

use async_graphql::{
    Context, Enum, Error, ErrorExtensions, InputObject, Object, Result, SimpleObject,
};
use chrono::{Datelike, Months, NaiveDate};

use super::{caller, db_error, enter, state};
use crate::stats::{self, Dimension, Measure, StatsError, Thresholds};

visible_entry!(visible_stats => "stats");

/// A figure.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum StatsMeasure {
    /// Persons whose placement started in the period.
    Inflow,
    /// Persons with a placement during the period.
    Active,
    /// Persons whose placement ended in the period.
    Outflow,
    /// Persons whose placement ended in the period with regular work as its outcome.
    OutflowToWork,
    /// Persons whose placement ended in the period who moved on to work (another placement or
    /// regular work) within the outcome window.
    WorkToWork,
    /// WORK_TO_WORK as a share (0–1) of the placements that ended with a known outcome; shown
    /// only from `[privacy] min_rate_denominator` persons.
    WorkToWorkRate,
    /// Average days between the end of a placement and the start of the next, over
    /// work-to-work transitions.
    AverageDaysBetweenPlacements,
    /// Persons whose placement, running on the period's last day (today for a period still
    /// running), ends in the six months after it.
    ContractsEnding,
    /// Job-agreement jobs on the period's last day (today for a period still running): paid
    /// hours a week of persons in the target-group register / 25.5.
    JobAgreementJobs,
}

impl From<StatsMeasure> for Measure {
    fn from(m: StatsMeasure) -> Self {
        match m {
            StatsMeasure::Inflow => Measure::Inflow,
            StatsMeasure::Active => Measure::Active,
            StatsMeasure::Outflow => Measure::Outflow,
            StatsMeasure::OutflowToWork => Measure::OutflowToWork,
            StatsMeasure::WorkToWork => Measure::WorkToWork,
            StatsMeasure::WorkToWorkRate => Measure::WorkToWorkRate,
            StatsMeasure::AverageDaysBetweenPlacements => Measure::AverageDaysBetweenPlacements,
            StatsMeasure::ContractsEnding => Measure::ContractsEnding,
            StatsMeasure::JobAgreementJobs => Measure::JobAgreementJobs,
        }
    }
}

/// A dimension to group figures by; at most one of MONTH, QUARTER and YEAR.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum StatsDimension {
    /// Calendar month (`period` = `2026-03`).
    Month,
    /// Calendar quarter (`period` = `2026-Q1`).
    Quarter,
    /// Calendar year (`period` = `2026`).
    Year,
    /// The placement's organisation.
    Organisation,
    /// The person's line (line_3, line_4, none).
    Line,
    /// The person's first work type.
    WorkType,
    /// The person's district.
    District,
    /// The placement's kind.
    PlacementKind,
}

impl From<StatsDimension> for Dimension {
    fn from(d: StatsDimension) -> Self {
        match d {
            StatsDimension::Month => Dimension::Month,
            StatsDimension::Quarter => Dimension::Quarter,
            StatsDimension::Year => Dimension::Year,
            StatsDimension::Organisation => Dimension::Organisation,
            StatsDimension::Line => Dimension::Line,
            StatsDimension::WorkType => Dimension::WorkType,
            StatsDimension::District => Dimension::District,
            StatsDimension::PlacementKind => Dimension::PlacementKind,
        }
    }
}

/// Which placements count; all given conditions must hold. A filter that leaves fewer than
/// `[privacy] min_cell_size` persons is refused.
#[derive(InputObject, Default)]
pub struct StatsFilter {
    /// Organisation names.
    organisations: Option<Vec<String>>,
    /// Lines: line_3, line_4, none.
    lines: Option<Vec<String>>,
    /// Districts.
    districts: Option<Vec<String>>,
    /// Work types.
    work_types: Option<Vec<String>>,
    /// Placement kinds.
    placement_kinds: Option<Vec<String>>,
}

/// A table of figures, one row per cell, ready to plot.
#[derive(SimpleObject)]
pub struct StatsTable {
    /// The figure.
    measure: StatsMeasure,
    /// The grouping, in order.
    group_by: Vec<StatsDimension>,
    /// First day counted.
    from: NaiveDate,
    /// Last day counted.
    to: NaiveDate,
    /// Cells counting fewer distinct persons than this are suppressed.
    min_cell_size: i32,
    /// The cells.
    rows: Vec<StatsRow>,
}

/// One cell. Dimension columns not grouped by are null.
#[derive(SimpleObject, Default)]
pub struct StatsRow {
    /// `2026-03`, `2026-Q1` or `2026` when grouped by time.
    period: Option<String>,
    /// Organisation name.
    organisation: Option<String>,
    /// line_3, line_4 or none.
    line: Option<String>,
    /// Work type.
    work_type: Option<String>,
    /// District.
    district: Option<String>,
    /// Placement kind.
    placement_kind: Option<String>,
    /// The figure; null when suppressed.
    value: Option<f64>,
    /// Withheld: too few persons, a neighbouring cell's protection, or a rate's denominator
    /// below the minimum.
    suppressed: bool,
}

/// The `stats` root field.
#[derive(Default)]
pub struct StatsQuery;

#[Object]
impl StatsQuery {
    /// KPI figures per period and dimension (network and dashboards). Defaults: the twelve
    /// months up to today. Every cell counting fewer than `minCellSize` persons is suppressed,
    /// and so is a second cell wherever a total would give a suppressed one away.
    #[graphql(visible = "visible_stats")]
    async fn stats(
        &self,
        ctx: &Context<'_>,
        measure: StatsMeasure,
        #[graphql(default)] group_by: Vec<StatsDimension>,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
        filter: Option<StatsFilter>,
    ) -> Result<StatsTable> {
        enter(ctx, "stats")?;
        let st = state(ctx);
        let today = model::clock::today();
        let to = to.unwrap_or(today);
        let from = from.unwrap_or_else(|| {
            let start = to - Months::new(11);
            start.with_day(1).unwrap_or(start)
        });
        let filter = filter.unwrap_or_default();
        let req = stats::Request {
            measure: measure.into(),
            group_by: group_by.iter().map(|d| (*d).into()).collect(),
            from,
            to,
            filter: stats::Filter {
                organisations: filter.organisations,
                lines: filter.lines,
                districts: filter.districts,
                work_types: filter.work_types,
                placement_kinds: filter.placement_kinds,
            },
        };
        let s = &st.settings;
        let facts = st
            .stats
            .get(&st.db, s.stats_cache, s.outcome_window_days)
            .await
            .map_err(db_error)?;
        let thresholds = Thresholds {
            min_cell_size: s.min_cell_size,
            min_rate_denominator: s.min_rate_denominator,
        };
        let rows = facts.table(&req, thresholds).map_err(|e| {
            let code = match e {
                StatsError::PopulationTooSmall(_) => "POPULATION_TOO_SMALL",
                _ => "BAD_USER_INPUT",
            };
            Error::new(e.to_string()).extend_with(|_, x| x.set("code", code))
        })?;
        Ok(StatsTable {
            measure,
            from,
            to,
            min_cell_size: s.min_cell_size as i32,
            rows: rows
                .iter()
                .map(|r| {
                    let mut row = StatsRow {
                        value: r.value,
                        suppressed: r.suppressed,
                        ..Default::default()
                    };
                    for (d, v) in group_by.iter().zip(r.key.iter().cloned()) {
                        let slot = match d {
                            StatsDimension::Month
                            | StatsDimension::Quarter
                            | StatsDimension::Year => &mut row.period,
                            StatsDimension::Organisation => &mut row.organisation,
                            StatsDimension::Line => &mut row.line,
                            StatsDimension::WorkType => &mut row.work_type,
                            StatsDimension::District => &mut row.district,
                            StatsDimension::PlacementKind => &mut row.placement_kind,
                        };
                        *slot = Some(v);
                    }
                    row
                })
                .collect(),
            group_by,
        })
    }
}
