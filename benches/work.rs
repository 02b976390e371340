//! Matching and KPI latency: `cargo bench --bench work [-- CANDIDATES REQUESTS]` (default
//! 100000 200); PostgreSQL as well when `BENCH_DATABASE_URL` is set.
//!
//! Seeds CANDIDATES persons with generic profiles, three placements each (a trial placement and
//! a secondment that ended, a current job, a third of them ending within six months), network
//! consent for six in ten and a partner's vacancies; then sends REQUESTS requests of each kind
//! through the real server (token check, policy, audit) in-process, one after another, and
//! prints p50, p95 and the slowest: a partner's candidate search (one skill, in one district and
//! in three), a partner's `matches(vacancyId, first: 20)`, the
//! network's, and a dashboard's `stats(groupBy: [MONTH, LINE])` for two measures, each for
//! another twelve months so that every request computes its table (repeated tables come from
//! the server's per-snapshot cache and cost less). The first `stats` request builds the shared
//! snapshot; its time is printed apart.

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::{Days, NaiveDate, Utc};
use model::entity::{
    candidate_profile, consent, organisation, person, placement, sensitive_detail, vacancy,
};
use model::{BsnProtector, Role};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryOrder,
    QuerySelect, Set,
};
use secrecy::SecretString;
use serde_json::json;
use tower::ServiceExt;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let candidates = args.first().copied().unwrap_or(100_000);
    let requests = args.get(1).copied().unwrap_or(200);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        println!(
            "| database | request | candidates | placements | requests | p50 (ms) | p95 (ms) | slowest (ms) |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        run("sqlite", None, candidates, requests).await;
        if let Some(url) = std::env::var("BENCH_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            run("postgres", Some(url), candidates, requests).await;
        }
    });
}

async fn connect(pg: Option<&str>, dir: &std::path::Path) -> (DatabaseConnection, Option<String>) {
    let (url, schema) = match pg {
        None => (
            format!("sqlite://{}?mode=rwc", dir.join("work.db").display()),
            None,
        ),
        Some(base) => {
            let schema = format!("bench_work_{}", std::process::id());
            let admin = Database::connect(base).await.unwrap();
            admin
                .execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
                ))
                .await
                .unwrap();
            admin.close().await.ok();
            let sep = if base.contains('?') { '&' } else { '?' };
            (
                format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                Some(schema),
            )
        }
    };
    let mut opts = ConnectOptions::new(url);
    opts.sqlx_logging(false).max_connections(4);
    (Database::connect(opts).await.unwrap(), schema)
}

async fn run(backend: &str, pg: Option<String>, candidates: usize, requests: usize) {
    use migrations::{Migrator, MigratorTrait};
    let dir = tempfile::tempdir().unwrap();
    let (db, schema) = connect(pg.as_deref(), dir.path()).await;
    Migrator::up(&db, None).await.unwrap();
    let started = Instant::now();
    let placements = seed(&db, candidates).await;
    eprintln!(
        "{backend}: seeded {candidates} candidates and {placements} placements in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if backend == "postgres" {
        db.execute_unprepared("ANALYZE").await.unwrap();
    }

    let key = model::crypto::generate_key_hex;
    let tokens = server::auth::TokenKeys::new(&SecretString::from(key())).unwrap();
    let protector = BsnProtector::from_hex(&key(), &key()).unwrap();
    let state = server::AppState::new(
        db.clone(),
        tokens.clone(),
        protector,
        server::ServerSettings::default(),
    )
    .unwrap();
    let token = |role: Role, org: &'static str| {
        let db = db.clone();
        let tokens = tokens.clone();
        async move {
            server::auth::issue_token(
                &db,
                &tokens,
                &server::auth::TokenRequest {
                    subject: "bench".into(),
                    role,
                    organisation: org.into(),
                    scopes: vec![],
                    ttl: chrono::Duration::hours(1),
                },
            )
            .await
            .unwrap()
            .0
        }
    };
    let partner = token(Role::Partner, "partner").await;
    let network = token(Role::Network, "koepel").await;
    let dashboard = token(Role::Dashboard, "koepel").await;
    let app = server::app(state);
    let vacancies: Vec<i64> = vacancy::Entity::find()
        .select_only()
        .column(vacancy::Column::Id)
        .order_by_asc(vacancy::Column::Id)
        .into_tuple()
        .all(&db)
        .await
        .unwrap();

    let first = Instant::now();
    let r = send(
        &app,
        &dashboard,
        "{ stats(measure: ACTIVE, groupBy: [MONTH, LINE]) { rows { value } } }".into(),
    )
    .await;
    assert!(r.contains("\"rows\""), "{r}");
    let snapshot = first.elapsed();

    let matches = |n: usize| {
        format!(
            "{{ matches(vacancyId: \"{}\", first: 20) {{ score candidate {{ id profile {{ skills district }} }} criteria {{ criterion met }} }} }}",
            vacancies[n % vacancies.len()]
        )
    };
    // A partner's search: one skill in one district, and in three (SQLite once sorted the three
    // districts' every row for the first page).
    let search = |districts: &'static [&'static str]| {
        move |n: usize| {
            format!(
                "{{ candidates(filter: {{ skills: [\"{}\"], districts: {districts:?} }}, first: 50) {{ edges {{ node {{ id profile {{ skills workTypes district hoursPerWeek }} }} }} }} }}",
                SKILLS[n % 12]
            )
        }
    };
    let cases: [Case; 6] = [
        (
            "partner candidates(skill, 1 district, first: 50)",
            &partner,
            Box::new(search(&["Noord"])),
        ),
        (
            "partner candidates(skill, 3 districts, first: 50)",
            &partner,
            Box::new(search(&["Noord", "Oost", "West"])),
        ),
        ("partner matches(first: 20)", &partner, Box::new(matches)),
        ("network matches(first: 20)", &network, Box::new(matches)),
        (
            "stats(WORK_TO_WORK, [MONTH, LINE])",
            &dashboard,
            Box::new(|n| stats_query("WORK_TO_WORK", n)),
        ),
        (
            "stats(ACTIVE, [MONTH, LINE])",
            &dashboard,
            Box::new(|n| stats_query("ACTIVE", n)),
        ),
    ];
    for (name, token, query) in cases {
        let mut times: Vec<Duration> = Vec::with_capacity(requests);
        for n in 0..requests {
            let q = query(n);
            let t = Instant::now();
            let r = send(&app, token, q).await;
            times.push(t.elapsed());
            assert!(!r.contains("\"errors\""), "{name}: {r}");
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let p = |q: f64| {
            ms(times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1])
        };
        println!(
            "| {backend} | {name} | {candidates} | {placements} | {requests} | {:.1} | {:.1} | {:.1} |",
            p(0.50),
            p(0.95),
            ms(*times.last().unwrap())
        );
    }
    println!(
        "| {backend} | first stats request (builds the snapshot) | {candidates} | {placements} | 1 | {:.0} | | |",
        snapshot.as_secs_f64() * 1000.0
    );
    db.close().await.ok();
    if let (Some(base), Some(schema)) = (pg, schema) {
        let admin = Database::connect(base.as_str()).await.unwrap();
        admin
            .execute_unprepared(&format!("DROP SCHEMA {schema} CASCADE"))
            .await
            .unwrap();
    }
}

/// The n-th `stats` request: twelve months by month and line, ending `n` days ago, so that
/// every request computes its table (the server keeps tables it computed per snapshot).
fn stats_query(measure: &str, n: usize) -> String {
    let to = model::clock::today() - Days::new(n as u64);
    format!(
        "{{ stats(measure: {measure}, groupBy: [MONTH, LINE], to: \"{to}\") {{ rows {{ period line value suppressed }} }} }}"
    )
}

/// A request kind: name, token, and the query of the n-th request.
type Case<'a> = (&'a str, &'a str, Box<dyn Fn(usize) -> String + 'a>);

async fn send(app: &Router, token: &str, query: String) -> String {
    let req = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(json!({ "query": query }).to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let bytes = axum::body::to_bytes(resp.into_body(), 64 << 20)
        .await
        .unwrap();
    String::from_utf8_lossy(&bytes).into_owned()
}

const SKILLS: [&str; 12] = [
    "schoonmaken",
    "koken",
    "heftruck",
    "kassa",
    "logistiek",
    "klantcontact",
    "magazijn",
    "afwassen",
    "groenonderhoud",
    "orderpicken",
    "inpakken",
    "beveiliging",
];
const WORK_TYPES: [&str; 5] = ["schoonmaak", "horeca", "logistiek", "groen", "retail"];
const DISTRICTS: [&str; 7] = [
    "Centrum",
    "Noord",
    "Oost",
    "West",
    "Zuid",
    "Zuidoost",
    "Nieuw-West",
];

/// Seeds the data; returns the number of placements.
async fn seed(db: &DatabaseConnection, n: usize) -> usize {
    let now = Utc::now();
    let today = model::clock::date_at(now);
    let mut orgs = vec![];
    for (name, code, kind) in [
        ("Partner", "partner", "employer"),
        ("Gemeente", "gemeente", "municipality"),
        ("Sociaal Werkkoepel", "koepel", "network"),
        ("Firma A", "firma-a", "social_firm"),
        ("Firma B", "firma-b", "social_firm"),
        ("Werkgever C", "werkgever-c", "employer"),
    ] {
        let id = organisation::Entity::insert(organisation::ActiveModel {
            name: Set(name.into()),
            code: Set(code.into()),
            kind: Set(kind.into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(db)
        .await
        .unwrap()
        .last_insert_id;
        orgs.push(id);
    }
    let chunk = 400;
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        person::Entity::insert_many((start..end).map(|_| person::ActiveModel {
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
    }
    let ids: Vec<i64> = person::Entity::find()
        .select_only()
        .column(person::Column::Id)
        .order_by_asc(person::Column::Id)
        .into_tuple()
        .all(db)
        .await
        .unwrap();
    let mut placements = 0;
    for chunk in ids.chunks(chunk / 4) {
        candidate_profile::Entity::insert_many(chunk.iter().map(|&id| {
            let i = id as usize;
            candidate_profile::ActiveModel {
                person_id: Set(id),
                skills: Set(json!([
                    SKILLS[i % 12],
                    SKILLS[(i / 12) % 12],
                    SKILLS[(i / 144) % 12]
                ])),
                strengths: Set(json!(["betrouwbaar"])),
                development_points: Set(json!([])),
                work_types: Set(json!([WORK_TYPES[i % 5]])),
                sectors: Set(json!([])),
                days_available: Set(json!(["monday"])),
                languages: Set(json!(["nl"])),
                district: Set(Some(DISTRICTS[i % 7].into())),
                hours_per_week: Set(Some(f64::from((i % 30) as u32 + 8))),
                available_from: Set(Some(today + Days::new((i % 200) as u64))),
                line: Set(match i % 3 {
                    0 => Some("line_3".into()),
                    1 => Some("line_4".into()),
                    _ => None,
                }),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
        consent::Entity::insert_many(chunk.iter().filter(|id| *id % 10 < 6).map(|&id| {
            consent::ActiveModel {
                person_id: Set(id),
                audience: Set("network".into()),
                scope: Set("generic_profile".into()),
                person_agreed: Set(true),
                granted_at: Set(now - chrono::Duration::days(30)),
                approved_by: Set(Some("bench".into())),
                approved_at: Set(Some(now - chrono::Duration::days(29))),
                recorded_by: Set("bench".into()),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
        sensitive_detail::Entity::insert_many(chunk.iter().filter(|id| *id % 5 == 0).map(|&id| {
            sensitive_detail::ActiveModel {
                person_id: Set(id),
                target_group_register: Set(Some("registered".into())),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
        let day = |offset: i64| -> NaiveDate {
            if offset >= 0 {
                today + Days::new(offset as u64)
            } else {
                today - Days::new((-offset) as u64)
            }
        };
        let rows: Vec<placement::ActiveModel> = chunk
            .iter()
            .flat_map(|&id| {
                let i = id;
                let firm = orgs[3 + (i as usize % 2)];
                let first_end = -700 + i % 300;
                let second_start = first_end + i % 60;
                let second_end = second_start + 200 + i % 100;
                let third_start = second_end + i % 120;
                let third_end = if i % 3 == 0 {
                    30 + i % 150
                } else {
                    400 + i % 300
                };
                [
                    (
                        "trial_placement",
                        orgs[5],
                        -900 + i % 100,
                        Some(first_end),
                        true,
                    ),
                    ("secondment", firm, second_start, Some(second_end), true),
                    (
                        "employment",
                        firm,
                        third_start.min(-1),
                        Some(third_end),
                        false,
                    ),
                ]
                .map(|(kind, org, start, end, ended)| placement::ActiveModel {
                    person_id: Set(id),
                    organisation_id: Set(org),
                    kind: Set(kind.into()),
                    start_date: Set(Some(day(start))),
                    planned_end_date: Set(end.map(day)),
                    actual_end_date: Set(if ended { end.map(day) } else { None }),
                    hours_per_week: Set(Some(f64::from((i % 24) as u32 + 12))),
                    active: Set(true),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                })
            })
            .collect();
        placements += rows.len();
        placement::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    vacancy::Entity::insert_many((0..50).map(|v| vacancy::ActiveModel {
        organisation_id: Set(orgs[0]),
        title: Set(format!("Vacature {v}")),
        work_type: Set(Some(WORK_TYPES[v % 5].into())),
        skills: Set(json!([SKILLS[v % 12], SKILLS[(v + 5) % 12]])),
        hours_per_week: Set(Some(f64::from((v % 4) as u32 * 8 + 8))),
        district: Set(Some(DISTRICTS[v % 7].into())),
        suitable_line_3: Set(true),
        suitable_line_4: Set(v % 2 == 0),
        start_date: Set(Some(today + Days::new(30))),
        status: Set("open".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }))
    .exec_without_returning(db)
    .await
    .unwrap();
    placements
}
