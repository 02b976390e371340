//! KPI figures: numbers equal to a hand-computed fixture, small cells suppressed so that no
//! total gives one away (tried, on the imported sample), dashboards refused small filters, and
//! `/stats.csv` the same as the GraphQL answer.

mod common;

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use common::{TestEnv, post, send};
use model::Role;
use model::entity::{candidate_profile, organisation, person, placement, sensitive_detail};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

async fn org(env: &TestEnv, code: &str, kind: &str) -> i64 {
    organisation::ActiveModel {
        name: Set(code.to_uppercase()),
        code: Set(code.into()),
        kind: Set(kind.into()),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&env.db)
    .await
    .unwrap()
    .id
}

async fn place(
    env: &TestEnv,
    person: i64,
    org: i64,
    kind: &str,
    start: NaiveDate,
    planned_end: Option<NaiveDate>,
    actual_end: Option<NaiveDate>,
) {
    placement::ActiveModel {
        person_id: Set(person),
        organisation_id: Set(org),
        kind: Set(kind.into()),
        start_date: Set(Some(start)),
        planned_end_date: Set(planned_end),
        actual_end_date: Set(actual_end),
        hours_per_week: Set(Some(25.5)),
        active: Set(true),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&env.db)
    .await
    .unwrap();
}

/// Twelve persons at a social firm: 1–8 (line 3, Noord for 1–6) leave on 31 January 2025 —
/// 1–5 to an employer ten days later (1–3 in the job-agreement register), 6–7 to another
/// secondment 29 days later, 8 to nothing; 9–12 (line 4, Oost) leave on 30 April 2025 — 9–10
/// to an employer the next day, 11–12 to nothing.
async fn fixture(env: &TestEnv) {
    let firm = org(env, "firm", "social_firm").await;
    let employer = org(env, "employer", "employer").await;
    org(env, "koepel", "network").await;
    for n in 1..=12 {
        let p = person::ActiveModel {
            bsn_pseudonym: Set(None),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&env.db)
        .await
        .unwrap()
        .id;
        candidate_profile::ActiveModel {
            person_id: Set(p),
            skills: Set(json!([])),
            strengths: Set(json!([])),
            development_points: Set(json!([])),
            work_types: Set(json!(["schoonmaak"])),
            sectors: Set(json!([])),
            days_available: Set(json!([])),
            languages: Set(json!([])),
            district: Set(Some(if n <= 6 { "Noord" } else { "Oost" }.into())),
            line: Set(Some(if n <= 8 { "line_3" } else { "line_4" }.into())),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        }
        .insert(&env.db)
        .await
        .unwrap();
        if n <= 3 {
            sensitive_detail::ActiveModel {
                person_id: Set(p),
                target_group_register: Set(Some("registered".into())),
                created_at: Set(Utc::now()),
                updated_at: Set(Utc::now()),
                ..Default::default()
            }
            .insert(&env.db)
            .await
            .unwrap();
        }
        if n <= 8 {
            let end = d(2025, 1, 31);
            place(
                env,
                p,
                firm,
                "secondment",
                d(2024, 1, 1),
                Some(end),
                Some(end),
            )
            .await;
            if n <= 5 {
                let e = Some(d(2025, 10, 31));
                place(env, p, employer, "employment", d(2025, 2, 10), e, None).await;
            } else if n <= 7 {
                place(env, p, firm, "secondment", d(2025, 3, 1), None, None).await;
            }
        } else {
            let end = d(2025, 4, 30);
            place(
                env,
                p,
                firm,
                "employment",
                d(2024, 6, 1),
                Some(end),
                Some(end),
            )
            .await;
            if n <= 10 {
                place(env, p, employer, "employment", d(2025, 5, 1), None, None).await;
            }
        }
    }
}

async fn stats(app: &axum::Router, token: &str, args: &str) -> Value {
    let r = send(
        app,
        post(
            &format!(
                "{{ stats({args}) {{ minCellSize rows {{ period line district organisation value suppressed }} }} }}"
            ),
            Some(token),
        ),
    )
    .await;
    r.body
}

#[tokio::test]
async fn figures_equal_hand_computed_values() {
    let env = TestEnv::migrated().await;
    fixture(&env).await;
    let settings = server::ServerSettings {
        min_cell_size: 3,
        min_rate_denominator: 5,
        ..Default::default()
    };
    let app = server::app(env.state_with(settings));
    let token = env.token(Role::Dashboard, "koepel", &[]).await;
    let range = "from: \"2025-01-01\", to: \"2025-06-30\"";
    let expected = [
        ("INFLOW", 9.0),
        ("ACTIVE", 12.0),
        ("OUTFLOW", 12.0),
        ("OUTFLOW_TO_WORK", 7.0),
        ("WORK_TO_WORK", 9.0),
        ("WORK_TO_WORK_RATE", 0.75),
        ("AVERAGE_DAYS_BETWEEN_PLACEMENTS", 12.2), // (5×10 + 2×29 + 2×1) / 9
        ("CONTRACTS_ENDING", 5.0),                 // 1–5 end on 31 October 2025
        ("JOB_AGREEMENT_JOBS", 3.0),               // 1–3, 25.5 hours each on 30 June
    ];
    for (measure, value) in expected {
        let r = stats(&app, &token, &format!("measure: {measure}, {range}")).await;
        assert!(r["errors"].is_null(), "{measure}: {r}");
        let rows = r["data"]["stats"]["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1, "{measure}");
        assert_eq!(rows[0]["value"].as_f64(), Some(value), "{measure}: {r}");
    }

    // By month and line: January holds 1–8 (line 3) leaving, April 9–12 (line 4).
    let r = stats(
        &app,
        &token,
        &format!("measure: OUTFLOW, groupBy: [MONTH, LINE], {range}"),
    )
    .await;
    let rows: Vec<(String, String, f64)> = r["data"]["stats"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["period"].as_str().unwrap().to_owned(),
                x["line"].as_str().unwrap().to_owned(),
                x["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("2025-01".into(), "line_3".into(), 8.0),
            ("2025-04".into(), "line_4".into(), 4.0)
        ]
    );

    // Work to work in April: 2 persons, below k = 3 — suppressed, and January with it, since
    // the total over months (9) would otherwise give April away.
    let r = stats(
        &app,
        &token,
        &format!("measure: WORK_TO_WORK, groupBy: [MONTH], {range}"),
    )
    .await;
    for row in r["data"]["stats"]["rows"].as_array().unwrap() {
        assert_eq!(row["suppressed"], true, "{r}");
        assert!(row["value"].is_null());
    }

    // Caseworkers see the derived outcome on the placement itself: 6 and 7 went on to another
    // secondment at the firm (their caseload), so their first one ended in `next_placement`.
    let caseworker = env.token(Role::Caseworker, "firm", &[]).await;
    let r = send(
        &app,
        post(
            "{ persons(first: 50) { edges { node { placements { kind startDate outcome } } } } }",
            Some(&caseworker),
        ),
    )
    .await
    .body;
    let outcomes: Vec<(String, Value)> = r["data"]["persons"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .flat_map(|e| e["node"]["placements"].as_array().unwrap().clone())
        .map(|p| {
            (
                p["startDate"].as_str().unwrap().to_owned(),
                p["outcome"].clone(),
            )
        })
        .collect();
    let firsts: Vec<&Value> = outcomes
        .iter()
        .filter(|(start, _)| start == "2024-01-01")
        .map(|(_, o)| o)
        .collect();
    assert_eq!(
        firsts,
        [&json!("next_placement"), &json!("next_placement")],
        "{r}"
    );
    assert!(
        outcomes
            .iter()
            .filter(|(start, _)| start == "2025-03-01")
            .all(|(_, o)| o.is_null()),
        "running placements have no outcome yet"
    );

    // A filter leaving fewer than k persons is refused; so is a partner.
    let r = stats(
        &app,
        &token,
        &format!(
            "measure: ACTIVE, {range}, filter: {{ lines: [\"line_4\"], districts: [\"Noord\"] }}"
        ),
    )
    .await;
    assert_eq!(
        r["errors"][0]["extensions"]["code"], "POPULATION_TOO_SMALL",
        "{r}"
    );
    env.cleanup().await;
}

/// Every cell of `table` as (key, value or None).
fn cells(r: &Value, dims: &[&str]) -> BTreeMap<Vec<String>, Option<f64>> {
    r["data"]["stats"]["rows"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|x| {
            (
                dims.iter()
                    .map(|d| x[*d].as_str().unwrap().to_owned())
                    .collect(),
                x["value"].as_f64(),
            )
        })
        .collect()
}

#[tokio::test]
async fn no_suppressed_cell_can_be_recomputed_from_totals() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env
        .token(Role::Dashboard, importers::sample::NETWORK, &[])
        .await;
    let k = 10.0;
    let mut suppressed_seen = 0;
    let mut published_seen = 0;
    for measure in ["ACTIVE", "INFLOW"] {
        for (a, b) in [
            ("MONTH", "LINE"),
            ("MONTH", "DISTRICT"),
            ("LINE", "DISTRICT"),
        ] {
            let field = |d: &str| match d {
                "MONTH" => "period",
                "LINE" => "line",
                _ => "district",
            };
            let args =
                |g: &str| format!("measure: {measure}, groupBy: [{g}], from: \"2024-01-01\"");
            let table = cells(
                &stats(&app, &token, &args(&format!("{a}, {b}"))).await,
                &[field(a), field(b)],
            );
            // The published totals an attacker would use: per value of a, per value of b, overall.
            let by_a = cells(&stats(&app, &token, &args(a)).await, &[field(a)]);
            let by_b = cells(&stats(&app, &token, &args(b)).await, &[field(b)]);
            for (key, value) in &table {
                match value {
                    Some(v) => {
                        assert!(*v >= k, "{measure} {key:?} = {v} is below k");
                        published_seen += 1;
                    }
                    None => suppressed_seen += 1,
                }
            }
            // Try: in each line of the table, total minus the published others.
            for (dim, totals) in [(0usize, &by_a), (1, &by_b)] {
                let mut lines: HashMap<&str, Vec<Option<f64>>> = HashMap::new();
                for (key, value) in &table {
                    lines.entry(key[dim].as_str()).or_default().push(*value);
                }
                for (line, values) in lines {
                    let hidden = values.iter().filter(|v| v.is_none()).count();
                    let total = totals.get(&vec![line.to_owned()]).copied().flatten();
                    assert!(
                        !(hidden == 1 && total.is_some()),
                        "{measure} by {a}×{b}: the one suppressed cell of {line} is total minus the others"
                    );
                }
            }
        }
    }
    assert!(
        suppressed_seen > 0 && published_seen > 0,
        "the sample exercises both"
    );

    // The same table as CSV, through the same token and rules.
    let r = stats(
        &app,
        &token,
        "measure: ACTIVE, groupBy: [MONTH, LINE], from: \"2024-01-01\"",
    )
    .await;
    let req =
        axum::http::Request::get("/stats.csv?measure=ACTIVE&groupBy=MONTH,LINE&from=2024-01-01")
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
    let csv = send(&app, req).await;
    assert!(csv.content_type.starts_with("text/csv"), "{}", csv.text);
    let mut lines = csv.text.lines();
    assert_eq!(lines.next(), Some("period,line,value,suppressed"));
    let rows: Vec<String> = r["data"]["stats"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            format!(
                "{},{},{},{}",
                x["period"].as_str().unwrap(),
                x["line"].as_str().unwrap(),
                x["value"]
                    .as_f64()
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                x["suppressed"]
            )
        })
        .collect();
    assert_eq!(lines.map(str::to_owned).collect::<Vec<_>>(), rows);

    // Partners have no figures; without a token the CSV answers 401.
    let partner = env
        .token(Role::Partner, importers::sample::PARTNERS[0], &[])
        .await;
    let r = stats(&app, &partner, "measure: ACTIVE").await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown field"),
        "{r}"
    );
    let req = axum::http::Request::get("/stats.csv?measure=ACTIVE")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(send(&app, req).await.status, 401);
    env.cleanup().await;
}
