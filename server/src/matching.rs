//! Matching candidates and vacancies: a documented, explainable score.
//!
//! A match is scored on six criteria of the generic profile, each worth a fixed number of points
//! ([`CRITERIA`]; 100 in all). The database ranks candidates with the same formula as one SQL
//! expression ([`score_expr`]) among those sharing at least one skill or the work type with the
//! vacancy ([`relevant`]), so a request reads only its page; [`assess`] then explains the page's
//! matches criterion by criterion. Both follow the table below, and a test holds them equal.

use async_graphql::Enum;
use model::entity::{candidate_profile, vacancy};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{ColumnTrait, Condition, IdenStatic};

/// One criterion of a match.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "MatchCriterionKind")]
pub enum Criterion {
    /// Share of the vacancy's skills the candidate has; met at half or more.
    Skills,
    /// The candidate wants the vacancy's work type.
    WorkType,
    /// The candidate is available for at least the vacancy's hours.
    Hours,
    /// The candidate lives in the vacancy's district.
    District,
    /// The candidate is available on or before the vacancy's start date.
    Availability,
    /// The vacancy suits the candidate's line (3 or 4); candidates without a line always fit.
    Line,
}

/// The criteria and their points; a criterion the vacancy leaves open counts as met.
pub const CRITERIA: &[(Criterion, i64)] = &[
    (Criterion::Skills, 40),
    (Criterion::WorkType, 20),
    (Criterion::Hours, 15),
    (Criterion::District, 10),
    (Criterion::Availability, 10),
    (Criterion::Line, 5),
];

fn points(c: Criterion) -> i64 {
    CRITERIA
        .iter()
        .find(|(k, _)| *k == c)
        .map(|(_, p)| *p)
        .unwrap_or(0)
}

/// How one criterion came out for one candidate and vacancy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assessment {
    /// The criterion.
    pub criterion: Criterion,
    /// Whether it was met.
    pub met: bool,
    /// Points scored.
    pub points: i64,
    /// Points possible.
    pub max_points: i64,
    /// What was compared, in words (only generic profile fields and the vacancy's own values).
    pub detail: String,
}

/// A vacancy's skills, lowercased as profiles store them.
pub fn vacancy_skills(v: &vacancy::Model) -> Vec<String> {
    list(&v.skills)
}

fn list(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(|s| s.trim().to_lowercase()))
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Scores a candidate's profile against a vacancy, criterion by criterion.
pub fn assess(v: &vacancy::Model, p: &candidate_profile::Model) -> Vec<Assessment> {
    let skills = vacancy_skills(v);
    let has = list(&p.skills);
    let shared: Vec<&String> = skills.iter().filter(|s| has.contains(s)).collect();
    let work_types = list(&p.work_types);
    let mut out = Vec::with_capacity(CRITERIA.len());
    let mut push = |criterion, met: bool, scored: Option<i64>, detail: String| {
        let max = points(criterion);
        out.push(Assessment {
            criterion,
            met,
            points: scored.unwrap_or(if met { max } else { 0 }),
            max_points: max,
            detail,
        });
    };
    let n = skills.len() as i64;
    push(
        Criterion::Skills,
        n == 0 || 2 * shared.len() as i64 >= n,
        Some(if n == 0 {
            points(Criterion::Skills)
        } else {
            points(Criterion::Skills) * shared.len() as i64 / n
        }),
        if n == 0 {
            "the vacancy asks for no skills".into()
        } else {
            let names: Vec<&str> = shared.iter().map(|s| s.as_str()).collect();
            format!("{} of {n} skills: {}", shared.len(), names.join(", "))
        },
    );
    match v.work_type.as_deref().map(str::to_lowercase) {
        None => push(Criterion::WorkType, true, None, "any work type".into()),
        Some(w) => push(
            Criterion::WorkType,
            work_types.contains(&w),
            None,
            format!("wants {w}: {}", yes_no(work_types.contains(&w))),
        ),
    }
    match (v.hours_per_week, p.hours_per_week) {
        (None, _) => push(Criterion::Hours, true, None, "any hours".into()),
        (Some(need), None) => push(
            Criterion::Hours,
            false,
            None,
            format!("{need} hours asked; availability unknown"),
        ),
        (Some(need), Some(have)) => push(
            Criterion::Hours,
            have >= need,
            None,
            format!("{need} hours asked, {have} available"),
        ),
    }
    match v.district.as_deref() {
        None => push(Criterion::District, true, None, "any district".into()),
        Some(d) => {
            let same = p
                .district
                .as_deref()
                .is_some_and(|c| c.trim().eq_ignore_ascii_case(d.trim()));
            push(
                Criterion::District,
                same,
                None,
                format!("in {d}: {}", yes_no(same)),
            )
        }
    }
    match (v.start_date, p.available_from) {
        (None, _) => push(Criterion::Availability, true, None, "no start date".into()),
        (Some(_), None) => push(Criterion::Availability, true, None, "available now".into()),
        (Some(start), Some(from)) => push(
            Criterion::Availability,
            from <= start,
            None,
            format!("starts {start}, available from {from}"),
        ),
    }
    let line_ok = match p.line.as_deref() {
        Some("line_3") => v.suitable_line_3,
        Some("line_4") => v.suitable_line_4,
        _ => true,
    };
    push(
        Criterion::Line,
        line_ok,
        None,
        match p.line.as_deref() {
            Some(l) => format!("suits {}: {}", l.replace('_', " "), yes_no(line_ok)),
            None => "no line".into(),
        },
    );
    out
}

/// The total of an assessment.
pub fn total(assessments: &[Assessment]) -> i64 {
    assessments.iter().map(|a| a.points).sum()
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// `candidate_profile.column` (a JSON array of strings) contains `value`; portable across
/// SQLite and PostgreSQL (lists are stored lowercased; so is the value).
pub fn json_list_contains(column: candidate_profile::Column, value: &str) -> Expr {
    let escaped = value
        .to_lowercase()
        .replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_")
        .replace('"', "\\\"");
    Expr::cust(format!(
        "CAST(candidate_profile.{} AS TEXT)",
        column.as_str()
    ))
    .like(LikeExpr::new(format!("%\"{escaped}\"%")).escape('!'))
}

/// Candidates worth ranking for the vacancy: sharing a skill or the work type; `None` when the
/// vacancy names neither (every candidate is then worth ranking).
pub fn relevant(v: &vacancy::Model) -> Option<Condition> {
    use candidate_profile::Column as C;
    let mut any = Condition::any();
    let skills = vacancy_skills(v);
    for s in &skills {
        any = any.add(json_list_contains(C::Skills, s));
    }
    if let Some(w) = &v.work_type {
        any = any.add(json_list_contains(C::WorkTypes, w));
    } else if skills.is_empty() {
        return None;
    }
    Some(any)
}

/// The score of [`assess`] as one SQL expression over `candidate_profile`.
pub fn score_expr(v: &vacancy::Model) -> Expr {
    use candidate_profile::Column as C;
    let col = |c: C| Expr::col((candidate_profile::Entity, c));
    let when = |cond: Condition, pts: i64| -> Expr {
        Expr::case(cond, Expr::val(pts))
            .finally(Expr::val(0i64))
            .into()
    };
    let skills = vacancy_skills(v);
    let skill_points = if skills.is_empty() {
        Expr::val(points(Criterion::Skills))
    } else {
        let shared = skills
            .iter()
            .map(|s| when(Condition::all().add(json_list_contains(C::Skills, s)), 1))
            .reduce(|a, b| a.add(b))
            .unwrap_or_else(|| Expr::val(0i64));
        shared
            .mul(Expr::val(points(Criterion::Skills)))
            .div(Expr::val(skills.len() as i64))
    };
    let full = |c: Criterion| Expr::val(points(c));
    let work_type = match &v.work_type {
        None => full(Criterion::WorkType),
        Some(w) => when(
            Condition::all().add(json_list_contains(C::WorkTypes, w)),
            points(Criterion::WorkType),
        ),
    };
    let hours = match v.hours_per_week {
        None => full(Criterion::Hours),
        Some(h) => when(
            Condition::all().add(col(C::HoursPerWeek).gte(h)),
            points(Criterion::Hours),
        ),
    };
    let district = match &v.district {
        None => full(Criterion::District),
        Some(d) => when(
            Condition::all()
                .add(Expr::expr(Func::lower(col(C::District))).eq(d.trim().to_lowercase())),
            points(Criterion::District),
        ),
    };
    let availability = match v.start_date {
        None => full(Criterion::Availability),
        Some(start) => when(
            Condition::any()
                .add(C::AvailableFrom.is_null())
                .add(col(C::AvailableFrom).lte(start)),
            points(Criterion::Availability),
        ),
    };
    let mut line_ok = Condition::any()
        .add(C::Line.is_null())
        .add(C::Line.is_not_in(["line_3", "line_4"]));
    if v.suitable_line_3 {
        line_ok = line_ok.add(C::Line.eq("line_3"));
    }
    if v.suitable_line_4 {
        line_ok = line_ok.add(C::Line.eq("line_4"));
    }
    let line = when(line_ok, points(Criterion::Line));
    skill_points
        .add(work_type)
        .add(hours)
        .add(district)
        .add(availability)
        .add(line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use serde_json::json;

    fn vacancy() -> vacancy::Model {
        vacancy::Model {
            id: 1,
            organisation_id: 1,
            title: "Schoonmaker".into(),
            work_type: Some("schoonmaak".into()),
            skills: json!(["schoonmaak", "heftruck", "kassa"]),
            hours_per_week: Some(24.0),
            district: Some("Noord".into()),
            suitable_line_3: true,
            suitable_line_4: false,
            start_date: NaiveDate::from_ymd_opt(2027, 1, 1),
            status: "open".into(),
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    fn profile() -> candidate_profile::Model {
        candidate_profile::Model {
            id: 1,
            person_id: 1,
            skills: json!(["kassa", "schoonmaak", "koken"]),
            strengths: json!([]),
            development_points: json!([]),
            work_types: json!(["horeca"]),
            sectors: json!([]),
            hours_per_week: Some(32.0),
            days_available: json!([]),
            available_from: NaiveDate::from_ymd_opt(2027, 2, 1),
            district: Some("noord".into()),
            municipality: None,
            travel_range_km: None,
            travels_independently: None,
            education_level: None,
            languages: json!([]),
            driving_licence: None,
            line: Some("line_4".into()),
            participation_step: None,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        }
    }

    #[test]
    fn criteria_add_up_to_one_hundred() {
        assert_eq!(CRITERIA.iter().map(|(_, p)| p).sum::<i64>(), 100);
    }

    #[test]
    fn each_criterion_is_explained() {
        let a = assess(&vacancy(), &profile());
        let by = |c| a.iter().find(|x| x.criterion == c).unwrap();
        assert_eq!(by(Criterion::Skills).points, 26); // 40 × 2 / 3
        assert!(by(Criterion::Skills).met);
        assert_eq!(
            by(Criterion::Skills).detail,
            "2 of 3 skills: schoonmaak, kassa"
        );
        assert!(!by(Criterion::WorkType).met);
        assert!(by(Criterion::Hours).met);
        assert!(
            by(Criterion::District).met,
            "district compared without case"
        );
        assert!(!by(Criterion::Availability).met);
        assert!(!by(Criterion::Line).met);
        assert_eq!(total(&a), 26 + 15 + 10);
    }

    #[test]
    fn open_criteria_count_as_met() {
        let mut v = vacancy();
        v.work_type = None;
        v.skills = json!([]);
        v.hours_per_week = None;
        v.district = None;
        v.start_date = None;
        v.suitable_line_4 = true;
        assert_eq!(total(&assess(&v, &profile())), 100);
        assert!(relevant(&v).is_none());
    }
}
