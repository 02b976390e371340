//! Matching candidates and vacancies: a documented, explainable score.
//!
//! A match is scored on six criteria of the generic profile, each worth a fixed number of points
//! ([`CRITERIA`]; 100 in all), among the candidates sharing at least one skill or the work type
//! with the vacancy. Ranking uses an index ([`MatchIndex`]): one bit set per skill, work type,
//! district and line over all candidates, combined per score level from the best down, so a
//! request touches bit sets, not rows, and reads from the database only the candidates it
//! returns (after the policy's row filter). [`assess`] explains a match criterion by criterion
//! from the current row; a test holds the two equal.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_graphql::Enum;
use chrono::NaiveDate;
use fixedbitset::FixedBitSet;
use model::entity::{candidate_profile, vacancy};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    DatabaseConnection, DbBackend, DbErr, EntityTrait, IdenStatic, QueryOrder, QuerySelect,
};

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

/// `candidate_profile.column` (a JSON array of strings) contains `value`, on either database
/// (lists are stored lowercased; so is the value).
pub fn json_list_contains(
    backend: DbBackend,
    column: candidate_profile::Column,
    value: &str,
) -> Expr {
    // The element as the stored JSON text spells it: quoted, with JSON's escapes.
    let element = serde_json::Value::from(value.to_lowercase()).to_string();
    let text = Expr::cust(format!(
        "CAST(candidate_profile.{} AS TEXT)",
        column.as_str()
    ));
    match backend {
        // PostgreSQL's LIKE escapes with `\` unless told otherwise; an `ESCAPE` clause would make
        // a cached (generic) plan call `like_escape` on the pattern once per row it tests.
        DbBackend::Postgres => text.like(format!("%{}%", like_escaped(&element, '\\'))),
        // SQLite's LIKE has no escape character unless given one.
        _ => text.like(LikeExpr::new(format!("%{}%", like_escaped(&element, '!'))).escape('!')),
    }
}

/// `text` with LIKE's wildcards (and the escape character itself) escaped by `escape`.
fn like_escaped(text: &str, escape: char) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if c == escape || c == '%' || c == '_' {
            out.push(escape);
        }
        out.push(c);
    }
    out
}

/// What the index reads of a profile: person, skills, work types, district, line, hours and
/// availability.
type IndexRow = (
    i64,
    serde_json::Value,
    serde_json::Value,
    Option<String>,
    Option<String>,
    Option<f64>,
    Option<NaiveDate>,
);

/// Candidates' generic profiles as bit sets, for ranking without reading rows.
#[derive(Debug, Default)]
pub struct MatchIndex {
    /// Person ids, ascending; bit `i` of every set stands for `persons[i]`.
    persons: Vec<i64>,
    skills: HashMap<String, FixedBitSet>,
    work_types: HashMap<String, FixedBitSet>,
    districts: HashMap<String, FixedBitSet>,
    line_3: FixedBitSet,
    line_4: FixedBitSet,
    hours: Vec<Option<f64>>,
    available_from: Vec<Option<NaiveDate>>,
}

impl MatchIndex {
    /// Reads every candidate profile.
    pub async fn load(db: &DatabaseConnection) -> Result<Self, DbErr> {
        use candidate_profile::Column as C;
        let rows: Vec<IndexRow> = candidate_profile::Entity::find()
            .select_only()
            .columns([
                C::PersonId,
                C::Skills,
                C::WorkTypes,
                C::District,
                C::Line,
                C::HoursPerWeek,
                C::AvailableFrom,
            ])
            .order_by_asc(C::PersonId)
            .into_tuple()
            .all(db)
            .await?;
        Ok(Self::build(rows))
    }

    /// Builds the index from profile rows in ascending person order.
    fn build(rows: Vec<IndexRow>) -> Self {
        let n = rows.len();
        let mut index = Self {
            line_3: FixedBitSet::with_capacity(n),
            line_4: FixedBitSet::with_capacity(n),
            ..Default::default()
        };
        let set = |map: &mut HashMap<String, FixedBitSet>, key: String, i: usize| {
            map.entry(key)
                .or_insert_with(|| FixedBitSet::with_capacity(n))
                .insert(i);
        };
        for (i, (person, skills, work_types, district, line, hours, from)) in
            rows.into_iter().enumerate()
        {
            index.persons.push(person);
            for s in list(&skills) {
                set(&mut index.skills, s, i);
            }
            for w in list(&work_types) {
                set(&mut index.work_types, w, i);
            }
            if let Some(d) = district {
                set(&mut index.districts, d.trim().to_lowercase(), i);
            }
            match line.as_deref() {
                Some("line_3") => index.line_3.insert(i),
                Some("line_4") => index.line_4.insert(i),
                _ => {}
            }
            index.hours.push(hours);
            index.available_from.push(from);
        }
        index
    }

    /// Candidates in ranking order — score descending, then person id — among those sharing a
    /// skill or the work type with the vacancy, with their scores; lazily, best first.
    pub fn ranked(&self, v: &vacancy::Model) -> impl Iterator<Item = (i64, i64)> + '_ {
        let n = self.persons.len();
        let all = || {
            let mut b = FixedBitSet::with_capacity(n);
            b.insert_range(..);
            b
        };
        let none = || FixedBitSet::with_capacity(n);
        let skills = vacancy_skills(v);
        // Candidates by how many of the vacancy's skills they have.
        let mut counts = vec![0u8; n];
        for s in &skills {
            if let Some(b) = self.skills.get(s) {
                for i in b.ones() {
                    counts[i] += 1;
                }
            }
        }
        let mut with = vec![none(); skills.len() + 1];
        for (i, c) in counts.iter().enumerate() {
            with[usize::from(*c)].insert(i);
        }
        let work_type = match &v.work_type {
            None => all(),
            Some(w) => self
                .work_types
                .get(&w.to_lowercase())
                .cloned()
                .unwrap_or_else(none),
        };
        let mut hours = none();
        let mut available = none();
        for i in 0..n {
            if v.hours_per_week
                .is_none_or(|need| self.hours[i].is_some_and(|h| h >= need))
            {
                hours.insert(i);
            }
            if v.start_date
                .is_none_or(|s| self.available_from[i].is_none_or(|f| f <= s))
            {
                available.insert(i);
            }
        }
        let district = match &v.district {
            None => all(),
            Some(d) => self
                .districts
                .get(&d.trim().to_lowercase())
                .cloned()
                .unwrap_or_else(none),
        };
        let mut line = all();
        if !v.suitable_line_3 {
            line.difference_with(&self.line_3);
        }
        if !v.suitable_line_4 {
            line.difference_with(&self.line_4);
        }
        let criteria = [
            (work_type, points(Criterion::WorkType)),
            (hours, points(Criterion::Hours)),
            (district, points(Criterion::District)),
            (available, points(Criterion::Availability)),
            (line, points(Criterion::Line)),
        ];
        let relevance_needed = !skills.is_empty() || v.work_type.is_some();
        // Every combination of skill count and criteria met, grouped by score.
        let mut levels: Vec<(i64, FixedBitSet)> = Vec::new();
        for (c, base) in with.iter().enumerate() {
            if base.is_clear() {
                continue;
            }
            let skill_points = if skills.is_empty() {
                points(Criterion::Skills)
            } else {
                points(Criterion::Skills) * c as i64 / skills.len() as i64
            };
            for mask in 0u32..(1 << criteria.len()) {
                let met_work_type = mask & 1 == 1;
                if relevance_needed && c == 0 && !(met_work_type && v.work_type.is_some()) {
                    continue;
                }
                let mut b = base.clone();
                let mut score = skill_points;
                for (k, (set, pts)) in criteria.iter().enumerate() {
                    if mask & (1 << k) != 0 {
                        b.intersect_with(set);
                        score += pts;
                    } else {
                        b.difference_with(set);
                    }
                }
                if b.is_clear() {
                    continue;
                }
                match levels.iter_mut().find(|(s, _)| *s == score) {
                    Some((_, level)) => level.union_with(&b),
                    None => levels.push((score, b)),
                }
            }
        }
        levels.sort_by_key(|(score, _)| std::cmp::Reverse(*score));
        levels.into_iter().flat_map(move |(score, b)| {
            b.ones()
                .map(|i| (self.persons[i], score))
                .collect::<Vec<_>>()
        })
    }
}

/// The index shared by requests, rebuilt when older than the configured interval.
#[derive(Default)]
pub struct IndexCache {
    slot: tokio::sync::Mutex<Option<(Instant, Arc<MatchIndex>)>>,
}

impl IndexCache {
    /// The current index, rebuilt first when older than `max_age`.
    pub async fn get(
        &self,
        db: &DatabaseConnection,
        max_age: Duration,
    ) -> Result<Arc<MatchIndex>, DbErr> {
        let mut slot = self.slot.lock().await;
        if let Some((at, index)) = slot.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(index.clone());
        }
        let started = Instant::now();
        let index = Arc::new(MatchIndex::load(db).await?);
        tracing::info!(
            candidates = index.persons.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "matching index built"
        );
        *slot = Some((Instant::now(), index.clone()));
        Ok(index)
    }
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

    /// The index ranks exactly as scoring every relevant candidate with [`assess`] would.
    #[test]
    fn the_index_ranks_as_assess_scores() {
        let skills = ["schoonmaak", "heftruck", "kassa", "koken", "magazijn"];
        let districts = ["Noord", "Oost", "West"];
        let profiles: Vec<candidate_profile::Model> = (1..=400i64)
            .map(|i| {
                let mut p = profile();
                let u = i as usize;
                p.person_id = i;
                p.skills = json!([skills[u % 5], skills[(u / 5) % 5]]);
                let work_type = ["schoonmaak", "horeca"][u % 2];
                p.work_types = json!([work_type]);
                p.district = (!u.is_multiple_of(4)).then(|| districts[u % 3].to_owned());
                p.line =
                    [None, Some("line_3".to_owned()), Some("line_4".to_owned())][u % 3].clone();
                p.hours_per_week = (!u.is_multiple_of(7)).then_some((u % 40) as f64);
                p.available_from = NaiveDate::from_ymd_opt(2026, 1 + (u % 12) as u32, 1);
                p
            })
            .collect();
        let index = MatchIndex::build(
            profiles
                .iter()
                .map(|p| {
                    (
                        p.person_id,
                        p.skills.clone(),
                        p.work_types.clone(),
                        p.district.clone(),
                        p.line.clone(),
                        p.hours_per_week,
                        p.available_from,
                    )
                })
                .collect(),
        );
        let mut variants = vec![vacancy()];
        let mut v = vacancy();
        v.work_type = None;
        v.district = None;
        v.suitable_line_4 = true;
        variants.push(v);
        let mut v = vacancy();
        v.skills = json!([]);
        v.hours_per_week = None;
        variants.push(v);
        for v in variants {
            let vs = vacancy_skills(&v);
            let mut expected: Vec<(i64, i64)> = profiles
                .iter()
                .filter(|p| {
                    let has = list(&p.skills);
                    vs.iter().any(|s| has.contains(s))
                        || v.work_type
                            .as_deref()
                            .is_some_and(|w| list(&p.work_types).contains(&w.to_owned()))
                        || (vs.is_empty() && v.work_type.is_none())
                })
                .map(|p| (p.person_id, total(&assess(&v, p))))
                .collect();
            expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            let got: Vec<(i64, i64)> = index.ranked(&v).collect();
            assert_eq!(got, expected);
        }
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
    }
}
