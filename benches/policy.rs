//! Policy overhead: `cargo bench --bench policy [-- CANDIDATES REQUESTS ROUNDS]` (default 10000
//! 1000 7).
//!
//! On one SQLite database with CANDIDATES consented candidates, prints in one run the
//! throughput of a partner's `candidates(first: 50)` through the real server (token check,
//! policy row filter, per-field policy checks, audit collection, opaque ids) and of the same
//! rows and fields served by a bench-only GraphQL schema that skips the policy layer (behind the
//! same HTTP handling and token check), both called in-process through an axum router,
//! sequentially, in rounds that alternate the two; and the overhead ratio (median of the rounds).
//! The server
//! itself has no switch to turn the policy off: the harness is this file's own schema.
//! Figures go to docs/benchmarks.md.

use std::time::Instant;

use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema, SimpleObject};
use axum::Router;
use axum::body::Body;
use axum::http::Request;
use chrono::Utc;
use model::entity::{candidate_profile, consent, organisation, person};
use model::{BsnProtector, Role};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, EntityTrait, QueryOrder, QuerySelect, Set,
};
use secrecy::SecretString;
use serde_json::json;
use tower::ServiceExt;

const QUERY: &str = "{ candidates(first: 50) { edges { cursor node { id profile { skills workTypes district hoursPerWeek availableFrom } } } } }";

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let candidates = args.first().copied().unwrap_or(10_000);
    let requests = args.get(1).copied().unwrap_or(1_000);
    let rounds = args.get(2).copied().unwrap_or(7).max(1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(run(candidates, requests, rounds));
}

async fn run(candidates: usize, requests: usize, rounds: usize) {
    use migrations::{Migrator, MigratorTrait};
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("policy.db").display()
    );
    let mut opts = ConnectOptions::new(url);
    opts.sqlx_logging(false).max_connections(4);
    let db = Database::connect(opts).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let started = Instant::now();
    seed(&db, candidates).await;
    eprintln!(
        "seeded {candidates} consented candidates in {:.1}s",
        started.elapsed().as_secs_f64()
    );

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
    let (token, _) = server::auth::issue_token(
        &db,
        &tokens,
        &server::auth::TokenRequest {
            subject: "bench".into(),
            role: Role::Partner,
            organisation: "partner".into(),
            scopes: vec![],
            ttl: chrono::Duration::hours(1),
        },
    )
    .await
    .unwrap();
    let with_policy = server::app(state);
    let without = harness(db.clone(), tokens.clone());

    // Both answer the same page.
    let a = call(&with_policy, &token).await;
    let b = call(&without, &token).await;
    assert_eq!(
        a["data"]["candidates"]["edges"].as_array().unwrap().len(),
        50,
        "{a}"
    );
    assert_eq!(
        b["data"]["candidates"]["edges"].as_array().unwrap().len(),
        50,
        "{b}"
    );

    // `BENCH_ONLY=server` or `harness` measures one path (for a profiler); no ratio then.
    let only = std::env::var("BENCH_ONLY").ok();
    let paths: Vec<(&str, &Router)> = [
        ("with policy (server)", &with_policy),
        ("without policy (harness)", &without),
    ]
    .into_iter()
    .filter(|(name, _)| only.as_deref().is_none_or(|o| name.contains(o)))
    .collect();
    for (_, app) in &paths {
        for _ in 0..requests / 10 {
            call(app, &token).await;
        }
    }
    // Rounds alternate the paths (and which goes first), so a change in the machine's other load
    // hits both alike; the overhead is the median of the rounds' ratios.
    let mut rates: Vec<Vec<f64>> = vec![vec![]; paths.len()];
    println!("| candidates | requests | round | path | requests/s |");
    println!("|---|---|---|---|---|");
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..paths.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let (name, app) = paths[i];
            let t = Instant::now();
            for _ in 0..requests {
                call(app, &token).await;
            }
            let rate = requests as f64 / t.elapsed().as_secs_f64();
            println!(
                "| {candidates} | {requests} | {} | {name} | {rate:.0} |",
                round + 1
            );
            rates[i].push(rate);
        }
    }
    if paths.len() < 2 {
        return;
    }
    let mut ratios: Vec<f64> = rates[1]
        .iter()
        .zip(&rates[0])
        .map(|(without, with)| without / with - 1.0)
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "\npolicy overhead: {:.1}% (median of {rounds} rounds of time per request with policy / \
         without − 1; rounds ranged {:.1}% to {:.1}%)",
        median * 100.0,
        ratios[0] * 100.0,
        ratios[ratios.len() - 1] * 100.0
    );
}

async fn call(app: &Router, token: &str) -> serde_json::Value {
    let req = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(json!({ "query": QUERY }).to_string()))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// A partner, an owner organisation, and `n` persons with a profile and an approved network
/// consent.
async fn seed(db: &DatabaseConnection, n: usize) {
    let now = Utc::now();
    for (name, code, kind) in [
        ("Partner", "partner", "employer"),
        ("Gemeente", "gemeente", "municipality"),
    ] {
        organisation::Entity::insert(organisation::ActiveModel {
            name: Set(name.into()),
            code: Set(code.into()),
            kind: Set(kind.into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .exec(db)
        .await
        .unwrap();
    }
    let skills = [
        "schoonmaken",
        "koken",
        "heftruck",
        "kassa",
        "logistiek",
        "klantcontact",
    ];
    let districts = ["Noord", "Oost", "West", "Zuid", "Zuidoost", "Nieuw-West"];
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        person::Entity::insert_many(chunk.iter().map(|_| person::ActiveModel {
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
    for chunk in ids.chunks(500) {
        candidate_profile::Entity::insert_many(chunk.iter().map(|&id| {
            let i = id as usize;
            candidate_profile::ActiveModel {
                person_id: Set(id),
                skills: Set(json!([skills[i % 6], skills[(i / 6) % 6]])),
                strengths: Set(json!(["betrouwbaar"])),
                development_points: Set(json!([])),
                work_types: Set(json!(["schoonmaak"])),
                sectors: Set(json!([])),
                days_available: Set(json!(["monday"])),
                languages: Set(json!(["nl"])),
                district: Set(Some(districts[i % 6].into())),
                hours_per_week: Set(Some(f64::from((i % 30) as u32 + 8))),
                available_from: Set(Some(now.date_naive())),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
        consent::Entity::insert_many(chunk.iter().map(|&id| consent::ActiveModel {
            person_id: Set(id),
            audience: Set("network".into()),
            scope: Set("generic_profile".into()),
            person_agreed: Set(true),
            granted_at: Set(now - chrono::Duration::days(1)),
            expires_at: Set(Some(now + chrono::Duration::days(365))),
            approved_by: Set(Some("bench".into())),
            approved_at: Set(Some(now)),
            recorded_by: Set("bench".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }))
        .exec_without_returning(db)
        .await
        .unwrap();
    }
}

/// The harness: the same rows and fields behind the same HTTP handling and token check, with
/// no policy — no row filter, no field checks, no audit collection, no sealed ids.
fn harness(db: DatabaseConnection, keys: server::auth::TokenKeys) -> Router {
    let schema = Schema::build(HQuery, EmptyMutation, EmptySubscription)
        .data(db.clone())
        .finish();
    // The same token checks as the server's, cache included.
    let cache = server::auth::TokenCache::start(&db);
    let router = Router::new().route(
        "/graphql",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::Json<async_graphql::Request>| {
                let (schema, db, keys, cache) =
                    (schema.clone(), db.clone(), keys.clone(), cache.clone());
                async move {
                    let token = headers
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("Bearer "))
                        .unwrap_or_default();
                    server::auth::authenticate(&db, &keys, &cache, token)
                        .await
                        .expect("the bench token is valid");
                    axum::Json(schema.execute(body.0).await)
                }
            },
        ),
    );
    server::http::with_http_layers(router, &server::ServerSettings::default())
}

struct HQuery;

#[Object]
impl HQuery {
    async fn candidates(&self, ctx: &Context<'_>, first: i32) -> HConnection {
        let db = ctx.data_unchecked::<DatabaseConnection>();
        let rows = candidate_profile::Entity::find()
            .order_by_asc(candidate_profile::Column::PersonId)
            .limit(first as u64)
            .all(db)
            .await
            .unwrap();
        let list = |v: &serde_json::Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        HConnection {
            edges: rows
                .into_iter()
                .map(|m| HEdge {
                    cursor: m.person_id.to_string(),
                    node: HCandidate {
                        id: m.person_id.to_string(),
                        profile: HProfile {
                            skills: list(&m.skills),
                            work_types: list(&m.work_types),
                            district: m.district.clone(),
                            hours_per_week: m.hours_per_week,
                            available_from: m.available_from,
                        },
                    },
                })
                .collect(),
        }
    }
}

#[derive(SimpleObject)]
struct HConnection {
    edges: Vec<HEdge>,
}

#[derive(SimpleObject)]
struct HEdge {
    cursor: String,
    node: HCandidate,
}

#[derive(SimpleObject)]
struct HCandidate {
    id: String,
    profile: HProfile,
}

#[derive(SimpleObject)]
struct HProfile {
    skills: Vec<String>,
    work_types: Vec<String>,
    district: Option<String>,
    hours_per_week: Option<f64>,
    available_from: Option<chrono::NaiveDate>,
}
