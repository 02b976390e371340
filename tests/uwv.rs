//! The UWV feed end to end: a real HTTP server on 127.0.0.1 that checks the bearer token,
//! paginates, and fails with 500 and 429 now and then; `werkbrug import` fetches it, links the
//! indications to persons by BSN, and fetches only what changed on the next run.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use common::TestEnv;
use model::entity::{import_run, person, rejected_row, sensitive_detail, source_record};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_werkbrug");
const TOKEN: &str = "uwv-test-token";

#[derive(Default)]
struct Feed {
    items: Vec<Value>,
    /// Requests seen: (query, authorised).
    requests: Vec<(HashMap<String, String>, bool)>,
    /// Answer these statuses first, one per request, before serving normally.
    faults: Vec<StatusCode>,
}

impl Feed {
    /// Publishes an item's new state: like a real feed, one item per BSN and indication.
    fn put(&mut self, item: Value) {
        let same = |i: &Value| i["bsn"] == item["bsn"] && i["indicatie"] == item["indicatie"];
        self.items.retain(|i| !same(i));
        self.items.push(item);
    }
}

type Shared = Arc<Mutex<Feed>>;

async fn indicaties(
    State(feed): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut feed = feed.lock().unwrap();
    let authorised = headers
        .get("authorization")
        .is_some_and(|v| v.to_str().unwrap_or("") == format!("Bearer {TOKEN}"));
    feed.requests.push((q.clone(), authorised));
    if !authorised {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    if !feed.faults.is_empty() {
        let status = feed.faults.remove(0);
        let mut r = status.into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            r.headers_mut().insert("retry-after", "1".parse().unwrap());
        }
        return r;
    }
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    let since = q.get("updated_since").map(|s| time(s));
    let changed: Vec<&Value> = feed
        .items
        .iter()
        .filter(|i| since.is_none_or(|s| time(i["gewijzigd_op"].as_str().unwrap()) > s))
        .collect();
    let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
    let limit: usize = q.get("limit").map_or(100, |l| l.parse().unwrap());
    let page: Vec<&Value> = changed.iter().skip(start).take(limit).copied().collect();
    let next = (start + limit < changed.len()).then(|| (start + limit).to_string());
    Json(json!({ "items": page, "next_cursor": next })).into_response()
}

async fn serve(feed: Shared) -> String {
    let app = axum::Router::new()
        .route("/indicaties", axum::routing::get(indicaties))
        .with_state(feed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/indicaties")
}

fn item(bsn: &str, indicatie: &str, changed: &str) -> Value {
    json!({
        "bsn": bsn,
        "indicatie": indicatie,
        "geldig_vanaf": "2024-01-01",
        "geldig_tot": null,
        "gewijzigd_op": changed,
    })
}

fn import(env: &TestEnv, token: &str) -> std::process::Output {
    import_with(env, &[("UWV_TOKEN", token)])
}

fn import_with(env: &TestEnv, vars: &[(&str, &str)]) -> std::process::Output {
    Command::new(BIN)
        .current_dir(env.dir.path())
        .env_remove("WERKBRUG_CONFIG")
        .envs(env.binary_env())
        .envs(vars.iter().copied())
        .env("WERKBRUG_IMPORT__HTTP_INITIAL_BACKOFF_MS", "20")
        .args(["import", "uwv"])
        .output()
        .unwrap()
}

/// Writes the test's `werkbrug.toml`: one UWV source at `url`, with `settings` (its auth and
/// paging lines) added.
fn configure(env: &TestEnv, url: &str, settings: &str) {
    std::fs::write(
        env.dir.path().join("werkbrug.toml"),
        format!(
            "[[source]]\nname = \"uwv\"\nkind = \"uwv\"\norganisation = \"UWV\"\nformat = \"json\"\nlocation = \"{url}\"\n{settings}"
        ),
    )
    .unwrap();
}

/// A run's rows: (read, inserted, updated, unchanged, rejected).
fn figures(run: &import_run::Model) -> (i64, i64, i64, i64, i64) {
    (
        run.rows_read,
        run.rows_inserted,
        run.rows_updated,
        run.rows_unchanged,
        run.rows_rejected,
    )
}

/// Fails the test with the command's output unless it succeeded.
fn assert_ok(out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `Basic` credentials of the OAuth2 client the token endpoint knows: `werkbrug-uwv` with the
/// secret `s3cret-QRS-4321`.
const CLIENT_BASIC: &str = "Basic d2Vya2JydWctdXd2OnMzY3JldC1RUlMtNDMyMQ==";

/// An OAuth2 token endpoint (client-credentials grant, client authenticated with HTTP Basic);
/// counts the requests it answered with a token.
async fn token(
    State(issued): State<Arc<Mutex<usize>>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok());
    if basic != Some(CLIENT_BASIC) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    *issued.lock().unwrap() += 1;
    Json(json!({"access_token": TOKEN, "token_type": "Bearer", "expires_in": 3600})).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_uwv_feed_is_paged_retried_linked_and_incremental() {
    let env = TestEnv::migrated().await;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(3);
    let bsns: Vec<String> = (0..230)
        .map(|_| importers::fixtures::random_bsn(&mut rng))
        .collect();
    let mut items: Vec<Value> = bsns
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let kind = ["banenafspraak", "wajong", "beschut_werk"][i % 3];
            item(b, kind, &format!("2026-05-01T10:{:02}:00Z", i % 60))
        })
        .collect();
    // One item with an invalid BSN: rejected, the others land.
    items.push(item("123456789", "wajong", "2026-05-01T11:00:00Z"));
    let feed: Shared = Arc::new(Mutex::new(Feed {
        items,
        faults: vec![
            StatusCode::INTERNAL_SERVER_ERROR,
            StatusCode::TOO_MANY_REQUESTS,
        ],
        ..Default::default()
    }));
    let url = serve(feed.clone()).await;
    configure(&env, &url, "token_env = \"UWV_TOKEN\"\npage_size = 100\n");

    let out = import(&env, TOKEN);
    assert_ok(&out);
    let run = env.last_run().await;
    assert_eq!(
        (
            run.status.as_str(),
            run.rows_read,
            run.rows_inserted,
            run.rows_rejected
        ),
        ("succeeded", 231, 230, 1)
    );
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 230);
    let registered = sensitive_detail::Entity::find()
        .filter(sensitive_detail::Column::TargetGroupRegister.eq("registered"))
        .count(&env.db)
        .await
        .unwrap();
    assert_eq!(registered, 77);
    {
        let feed = feed.lock().unwrap();
        // 3 pages, plus one retry after the 500 and one after the 429.
        assert_eq!(feed.requests.len(), 5, "{:?}", feed.requests);
        assert!(
            feed.requests
                .iter()
                .all(|(q, auth)| *auth && q["limit"] == "100")
        );
        assert!(!feed.requests[0].0.contains_key("updated_since"));
    }
    assert_eq!(
        env.updated_since("uwv").await.as_deref(),
        Some("2026-05-01T11:00:00+00:00")
    );

    // The next run asks only for what changed since, less five minutes of overlap: it finds
    // one change, and the 12 items and the rejected one of 10:56–11:00 again, unchanged.
    feed.lock()
        .unwrap()
        .put(item(&bsns[0], "beschut_werk", "2026-06-01T09:00:00Z"));
    feed.lock().unwrap().requests.clear();
    let out = import(&env, TOKEN);
    assert_ok(&out);
    let run = env.last_run().await;
    assert_eq!(figures(&run), (14, 1, 0, 12, 1));
    assert!(feed.lock().unwrap().requests[0].0["updated_since"].starts_with("2026-05-01T10:55:00"));

    // An item the feed publishes late, stamped with the very second already seen, is not
    // skipped by a feed that reads `updated_since` as "after"; the stored time stays.
    feed.lock()
        .unwrap()
        .put(item(&bsns[1], "beschut_werk", "2026-06-01T09:00:00Z"));
    let out = import(&env, TOKEN);
    assert_ok(&out);
    let run = env.last_run().await;
    assert_eq!(
        (run.rows_read, run.rows_inserted, run.rows_unchanged),
        (2, 1, 1)
    );
    assert_eq!(
        env.updated_since("uwv").await.as_deref(),
        Some("2026-06-01T09:00:00+00:00")
    );

    // A wrong token fails the run at once, keeps the cursor, and says what to do.
    feed.lock().unwrap().requests.clear();
    let out = import(&env, "tok-XYZ-9876");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("XYZ-9876"), "no token in errors: {err}");
    assert_eq!(feed.lock().unwrap().requests.len(), 1, "401 is not retried");
    assert_eq!(
        env.updated_since("uwv").await.as_deref(),
        Some("2026-06-01T09:00:00+00:00")
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_client_credentials_fetch_the_feeds_token() {
    let env = TestEnv::migrated().await;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(5);
    let items: Vec<Value> = (0..3)
        .map(|i| {
            let bsn = importers::fixtures::random_bsn(&mut rng);
            item(&bsn, "wajong", &format!("2026-05-01T10:0{i}:00Z"))
        })
        .collect();
    let feed: Shared = Arc::new(Mutex::new(Feed {
        items,
        ..Default::default()
    }));
    let feed_url = serve(feed.clone()).await;
    let issued = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new()
        .route("/oauth/token", axum::routing::post(token))
        .with_state(issued.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_url = format!("http://{}/oauth/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    configure(
        &env,
        &feed_url,
        &format!(
            "token_url = \"{token_url}\"\nclient_id_env = \"UWV_CLIENT_ID\"\nclient_secret_env = \"UWV_CLIENT_SECRET\"\n"
        ),
    );

    // A wrong secret: the run fails before the feed is asked, names the token endpoint and its
    // answer, never the secret, and writes nothing but the failed run.
    let out = import_with(
        &env,
        &[
            ("UWV_CLIENT_ID", "werkbrug-uwv"),
            ("UWV_CLIENT_SECRET", "wrong-SECRET-777"),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/oauth/token") && err.contains("401"), "{err}");
    assert!(
        err.contains("client_secret_env"),
        "says what to check: {err}"
    );
    assert!(
        !err.contains("wrong-SECRET-777"),
        "no secret in errors: {err}"
    );
    assert_eq!(*issued.lock().unwrap(), 0);
    assert!(
        feed.lock().unwrap().requests.is_empty(),
        "the feed was not asked"
    );
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 0);
    let run = env.last_run().await;
    assert_eq!(run.status.as_str(), "failed");

    // The right one: one token per run, sent as the bearer token on every page.
    let out = import_with(
        &env,
        &[
            ("UWV_CLIENT_ID", "werkbrug-uwv"),
            ("UWV_CLIENT_SECRET", "s3cret-QRS-4321"),
        ],
    );
    assert_ok(&out);
    assert_eq!(*issued.lock().unwrap(), 1);
    {
        let feed = feed.lock().unwrap();
        assert!(!feed.requests.is_empty());
        assert!(feed.requests.iter().all(|(_, authorised)| *authorised));
    }
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 3);

    // A missing variable names it.
    let out = import_with(&env, &[("UWV_CLIENT_ID", "werkbrug-uwv")]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("UWV_CLIENT_SECRET"), "{err}");
    env.cleanup().await;
}

/// The register entry's validity (`geldig_vanaf`, `geldig_tot`) is kept and decides eligibility
/// on the day it is asked: an entry whose last day passes stops counting without a new import,
/// one that has not begun does not count yet, and a new status brings its own days.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_entries_hold_only_within_their_validity() {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let env = TestEnv::migrated().await;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(11);
    let bsn: Vec<String> = (0..4)
        .map(|_| importers::fixtures::random_bsn(&mut rng))
        .collect();
    let today = model::clock::today();
    let day = |offset: i64| (today + chrono::Duration::days(offset)).to_string();
    let entry = |bsn: &str, from: String, until: Option<String>, changed: &str| {
        json!({
            "bsn": bsn,
            "indicatie": "banenafspraak",
            "geldig_vanaf": from,
            "geldig_tot": until,
            "gewijzigd_op": changed,
        })
    };
    let feed: Shared = Arc::new(Mutex::new(Feed {
        items: vec![
            // Open-ended, begun.
            entry(&bsn[0], day(-400), None, "2026-05-01T10:00:00Z"),
            // Ends in a month.
            entry(&bsn[1], day(-400), Some(day(30)), "2026-05-01T10:01:00Z"),
            // Begins tomorrow.
            entry(&bsn[2], day(1), None, "2026-05-01T10:02:00Z"),
            // Ended last week: reported ended.
            entry(&bsn[3], day(-400), Some(day(-7)), "2026-05-01T10:03:00Z"),
        ],
        ..Default::default()
    }));
    let url = serve(feed.clone()).await;
    configure(&env, &url, "token_env = \"UWV_TOKEN\"\n");
    let out = import(&env, TOKEN);
    assert_ok(&out);

    let detail = |i: usize| {
        let pseudonym = env
            .protector
            .pseudonym(&model::Bsn::parse(&bsn[i]).unwrap());
        let db = env.db.clone();
        async move {
            let person = person::Entity::find()
                .filter(person::Column::BsnPseudonym.eq(pseudonym))
                .one(&db)
                .await
                .unwrap()
                .unwrap();
            sensitive_detail::Entity::find()
                .filter(sensitive_detail::Column::PersonId.eq(person.id))
                .one(&db)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let d = |s: String| s.parse::<chrono::NaiveDate>().unwrap();
    let second = detail(1).await;
    assert_eq!(
        (
            second.target_group_register.as_deref(),
            second.target_group_register_from,
            second.target_group_register_until
        ),
        (Some("registered"), Some(d(day(-400))), Some(d(day(30))))
    );
    // What every reader asks the database (candidates, the eligibility filter, figures).
    let holding = || {
        let db = env.db.clone();
        async move {
            let mut ids: Vec<i64> = sensitive_detail::Entity::find()
                .filter(sensitive_detail::registered_on(today))
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|m| m.person_id)
                .collect();
            ids.sort_unstable();
            ids
        }
    };
    let (first, third, fourth) = (detail(0).await, detail(2).await, detail(3).await);
    assert_eq!(holding().await, vec![first.person_id, second.person_id]);
    let status = |m: &sensitive_detail::Model| {
        sensitive_detail::register_status(
            m.target_group_register.as_deref(),
            m.target_group_register_from,
            m.target_group_register_until,
            today,
        )
    };
    assert_eq!(status(&third), Some("pending"));
    assert_eq!(status(&fourth), Some("ended"));

    // Time passes: the second entry's last day was yesterday. No import needed.
    let mut passed: sensitive_detail::ActiveModel = second.clone().into();
    passed.target_group_register_until = Set(Some(d(day(-1))));
    passed.update(&env.db).await.unwrap();
    assert_eq!(holding().await, vec![first.person_id]);
    assert_eq!(status(&detail(1).await), Some("ended"));

    // UWV extends it open-ended: the new status brings its own days, the old end is gone.
    feed.lock()
        .unwrap()
        .put(entry(&bsn[1], day(-400), None, "2026-06-01T10:00:00Z"));
    let out = import(&env, TOKEN);
    assert_ok(&out);
    let extended = detail(1).await;
    assert_eq!(extended.target_group_register_until, None);
    assert_eq!(holding().await, vec![first.person_id, second.person_id]);

    // An impossible last day is refused with its column, the BSN masked; the entry keeps what
    // it had, and the run goes on with the next item.
    {
        let mut feed = feed.lock().unwrap();
        feed.put(entry(
            &bsn[0],
            day(-400),
            Some("2026-02-30".into()),
            "2026-07-01T10:00:00Z",
        ));
        feed.put(entry(&bsn[2], day(-1), None, "2026-07-01T10:01:00Z"));
    }
    let out = import(&env, TOKEN);
    assert_ok(&out);
    let run = env.last_run().await;
    // The two new items, and the extension of 06-01 again (five minutes of overlap).
    assert_eq!((run.rows_read, run.rows_rejected), (3, 1));
    let rejected = rejected_row::Entity::find()
        .filter(rejected_row::Column::ImportRunId.eq(run.id))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rejected.column_name.as_deref(), Some("geldig_tot"));
    assert!(
        !rejected.raw_values.to_string().contains(&bsn[0]),
        "{}",
        rejected.raw_values
    );
    assert_eq!(detail(0).await.target_group_register_until, None);
    // The entry that began yesterday now holds.
    assert_eq!(
        holding().await,
        vec![first.person_id, second.person_id, third.person_id]
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_listed_twice_in_one_run_keeps_its_latest_state() {
    let env = TestEnv::migrated().await;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(8);
    let [a, b, c]: [String; 3] = std::array::from_fn(|_| importers::fixtures::random_bsn(&mut rng));
    let entry = |bsn: &str, until: Option<&str>, changed: &str| {
        json!({
            "bsn": bsn,
            "indicatie": "banenafspraak",
            "geldig_vanaf": "2026-01-01",
            "geldig_tot": until,
            "gewijzigd_op": changed,
        })
    };
    // A feed whose items changed while the run paged through lists them twice. With two rows
    // per batch: A's older state comes after its newer one; B's newer state follows its older
    // one in the same batch; C's newer state comes a batch after its older one was written.
    let feed: Shared = Arc::new(Mutex::new(Feed {
        items: vec![
            entry(&c, None, "2026-05-01T10:00:00Z"),
            entry(&a, Some("2027-06-30"), "2026-05-01T11:00:00Z"),
            entry(&a, None, "2026-05-01T10:30:00Z"),
            entry(&b, None, "2026-05-01T10:00:00Z"),
            entry(&b, Some("2027-03-31"), "2026-05-01T11:00:00Z"),
            entry(&c, Some("2027-01-31"), "2026-05-01T11:00:00Z"),
        ],
        ..Default::default()
    }));
    let url = serve(feed.clone()).await;
    configure(
        &env,
        &url,
        "token_env = \"UWV_TOKEN\"\n\n[import]\nbatch_size = 2\n",
    );

    // A dry run counts what the run will do.
    let out = Command::new(BIN)
        .current_dir(env.dir.path())
        .env_remove("WERKBRUG_CONFIG")
        .envs(env.binary_env())
        .env("UWV_TOKEN", TOKEN)
        .args(["import", "uwv", "--dry-run"])
        .output()
        .unwrap();
    assert_ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<u64> = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("│ 6 "))
        .unwrap_or_else(|| panic!("a summary row for 6 rows read: {stdout}"))
        .split(['│', '┆'])
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    assert_eq!(&summary[..5], [6, 3, 2, 1, 0], "{stdout}");

    let out = import(&env, TOKEN);
    assert_ok(&out);
    let run = env.last_run().await;
    assert_eq!(figures(&run), (6, 3, 2, 1, 0));
    assert_eq!(
        source_record::Entity::find().count(&env.db).await.unwrap(),
        3
    );
    for (bsn, until) in [(&a, "2027-06-30"), (&b, "2027-03-31"), (&c, "2027-01-31")] {
        let pseudonym = env.protector.pseudonym(&model::Bsn::parse(bsn).unwrap());
        let person = person::Entity::find()
            .filter(person::Column::BsnPseudonym.eq(pseudonym))
            .one(&env.db)
            .await
            .unwrap()
            .unwrap();
        let detail = sensitive_detail::Entity::find()
            .filter(sensitive_detail::Column::PersonId.eq(person.id))
            .one(&env.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            detail.target_group_register_until.map(|d| d.to_string()),
            Some(until.to_owned())
        );
    }
    env.cleanup().await;
}
