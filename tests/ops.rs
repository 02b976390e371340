//! Operation end to end: Prometheus metrics, JSON logs, readiness while migrations run, graceful
//! shutdown (a request and an import in flight), and the database going away and coming back.
//! Server tests spawn the real binary; the database outage runs through a TCP proxy in the test
//! (PostgreSQL only: a SQLite file cannot go away under an open connection, see
//! `docs/reliability.md`; on SQLite a closed pool stands in for it).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestEnv, post, send};
use model::Role;
use model::entity::{person, source_record};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait, TransactionTrait};

const BIN: &str = env!("CARGO_BIN_EXE_werkbrug");
const MUNICIPALITY: &str = "gemeente-amsterdam";
const PERSONS: &str =
    "query Persons { persons(first: 5) { edges { node { identity { givenName familyName } } } } }";

/// A hang guard, never a measure.
const PATIENCE: Duration = Duration::from_secs(90);

/// The binary, serving; killed when dropped.
struct Server {
    child: Child,
    base: String,
    /// Standard error, line by line, as the test reads it.
    stderr: std::sync::mpsc::Receiver<String>,
}

impl Server {
    /// Starts `werkbrug serve` on a free port and returns once it listens (not yet ready).
    fn start(env: &TestEnv, extra_env: &[(&str, String)], args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .current_dir(env.dir.path())
            .env_remove("WERKBRUG_CONFIG")
            .envs(env.binary_env())
            .envs(extra_env.iter().map(|(k, v)| (*k, v.as_str())))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("werkbrug starts");
        let (tx, stderr) = std::sync::mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("[werkbrug] {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let out = child.stdout.take().unwrap();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = addr_tx.send(addr.to_owned());
                }
            }
        });
        let base = addr_rx
            .recv_timeout(PATIENCE)
            .expect("the server prints `listening on`");
        Server {
            child,
            base,
            stderr,
        }
    }

    fn wait_ready(&self) {
        common::wait_ready(&self.base, Instant::now() + PATIENCE);
    }

    fn get(&self, path: &str) -> (u16, String) {
        common::http_get(&self.base, path).expect("the server answers")
    }

    async fn query(&self, token: &str, query: &str) -> (StatusCode, serde_json::Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .bearer_auth(token)
            .json(&serde_json::json!({ "query": query }))
            .timeout(PATIENCE)
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
        (status, r.json().await.unwrap_or(serde_json::Value::Null))
    }

    fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for the process to exit and returns whether it exited 0.
    fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the listener still accepts connections.
    fn accepting(&self) -> bool {
        TcpStream::connect(self.base.trim_start_matches("http://")).is_ok()
    }

    /// Standard error to its end (call once the process has exited).
    fn logs(&self) -> Vec<String> {
        let mut lines = vec![];
        // Ends when the reader thread reaches end of file; the timeout is a hang guard.
        while let Ok(line) = self.stderr.recv_timeout(PATIENCE) {
            lines.push(line);
        }
        lines
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn metrics_text(app: &axum::Router) -> String {
    send(app, Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .text
}

/// The value of the first sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_operations_imports_audit_and_the_pool() {
    // Installed before the sample is imported, so its runs are counted too.
    server::install_metrics();
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let r = send(&app, post(PERSONS, Some(&token))).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    let names: Vec<String> = r.body["data"]["persons"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["node"]["identity"]["familyName"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // A client-chosen name that is not a plain GraphQL name is not a label.
    let odd = serde_json::json!({ "query": "query Jansen_123 { me { role } }", "operationName": "Jansen 123" });
    let req = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(odd.to_string()))
        .unwrap();
    send(&app, req).await;
    send(&app, post("{ __typename }", None)).await;

    let text = metrics_text(&app).await;
    for series in [
        "werkbrug_graphql_requests_total{operation=\"Persons\",status=\"200\"}",
        "werkbrug_graphql_requests_total{operation=\"anonymous\",status=\"200\"}",
        "werkbrug_graphql_request_duration_seconds_bucket{operation=\"Persons\",le=\"+Inf\"}",
        "werkbrug_http_requests_total{route=\"/graphql\",status=\"200\"}",
        "werkbrug_http_request_duration_seconds_count{route=\"/graphql\"}",
        "werkbrug_import_runs_total{source=\"gemeente-deelnemers\",outcome=\"succeeded\"}",
        "werkbrug_import_rows_total{source=\"gemeente-deelnemers\",result=\"inserted\"}",
        "werkbrug_import_rows_total{source=\"gemeente-deelnemers\",result=\"rejected\"}",
        "werkbrug_audit_events_written_total",
        "werkbrug_db_pool_max_connections",
    ] {
        assert!(
            sample(&text, series).is_some_and(|v| v >= 1.0),
            "{series} missing or 0 in\n{text}"
        );
    }
    assert!(sample(&text, "werkbrug_db_pool_connections{state=\"idle\"}").is_some());
    assert!(sample(&text, "werkbrug_db_pool_connections{state=\"in_use\"}").is_some());
    assert!(text.contains("operation=\"other\""), "{text}");
    assert!(!text.contains("Jansen"), "{text}");
    for name in &names {
        assert!(
            !text.contains(name.as_str()),
            "a personal value in /metrics"
        );
    }
    // Off by configuration.
    let off = server::app(env.state_with(server::ServerSettings {
        metrics: false,
        ..Default::default()
    }));
    let r = send(&off, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    env.cleanup().await;
}

#[tokio::test]
async fn json_logs_carry_the_request_span_and_no_personal_values() {
    let env = TestEnv::with_sample().await;
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let mut server = Server::start(
        &env,
        &[("RUST_LOG", "info".into())],
        &["--log-format", "json"],
    );
    server.wait_ready();
    let (status, body) = server.query(&token, PERSONS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let values: Vec<String> = body["data"]["persons"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| {
            ["givenName", "familyName"]
                .map(|f| e["node"]["identity"][f].as_str().unwrap().to_owned())
        })
        .collect();
    assert!(!values.is_empty());
    server.terminate();
    assert!(server.wait_exit(), "graceful shutdown exits 0");
    let lines = server.logs();
    let parsed: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    assert!(
        parsed.iter().any(|l| l["span"]["path"] == "/graphql"
            && l["span"]["name"] == "request"
            && l["span"]["request_id"].is_string()),
        "a line inside the request span: {lines:?}"
    );
    assert!(
        parsed.iter().any(|l| l["fields"]["message"] == "stopped"),
        "{lines:?}"
    );
    for line in &lines {
        for v in &values {
            assert!(
                !line.contains(v.as_str()),
                "a personal value logged: {line}"
            );
        }
    }
    env.cleanup().await;
}

#[tokio::test]
async fn not_ready_while_migrations_run() {
    let env = TestEnv::with_sample().await;
    let state = env.state();
    state.readiness.set(server::Phase::Migrating);
    let app = server::app(state.clone());
    let r = send(&app, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text.contains("migrations"), "{}", r.text);
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let r = send(&app, post("{ me { role } }", Some(&token))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers["retry-after"], "5");
    insta::assert_snapshot!("starting", r.text);
    // Health and metrics answer meanwhile.
    let r = send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    state.readiness.finish_migrating();
    let r = send(&app, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(&app, post("{ me { role } }", Some(&token))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    env.cleanup().await;
}

/// The binary listens before its migrations run and says it is not ready until they are done.
/// PostgreSQL only: the test holds a lock the migrator waits for, which SQLite cannot do without
/// the migrator giving up after its busy timeout.
#[tokio::test]
async fn the_binary_is_not_ready_until_its_migrations_have_run() {
    if common::backend() != "postgres" {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL)");
        return;
    }
    let env = TestEnv::migrated().await;
    let lock = env.db.begin().await.unwrap();
    lock.execute_unprepared("LOCK TABLE seaql_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let server = Server::start(&env, &[], &[]);
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("migrations are running"), "{body}");
    let (status, _) = server.get("/healthz");
    assert_eq!(status, 200);
    lock.rollback().await.unwrap();
    server.wait_ready();
    drop(server);
    env.cleanup().await;
}

/// SIGTERM while a request is in flight: the listener closes, the request is answered in full,
/// and the process exits 0.
#[tokio::test]
async fn sigterm_finishes_a_running_request() {
    let env = TestEnv::with_sample().await;
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let mut server = Server::start(&env, &[], &[]);
    server.wait_ready();
    let body = serde_json::json!({ "query": PERSONS }).to_string();
    let host = server.base.trim_start_matches("http://").to_owned();
    let mut conn = TcpStream::connect(&host).unwrap();
    conn.set_read_timeout(Some(PATIENCE)).unwrap();
    write!(
        conn,
        "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {token}\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        body.len()
    )
    .unwrap();
    // `100 Continue` comes when the handler starts reading the body: the request is running.
    let mut head = [0u8; 25];
    conn.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 100 Continue\r\n\r\n");
    server.terminate();
    let deadline = Instant::now() + PATIENCE;
    while server.accepting() {
        assert!(Instant::now() < deadline, "the listener did not close");
        std::thread::sleep(Duration::from_millis(20));
    }
    conn.write_all(body.as_bytes()).unwrap();
    let mut reply = String::new();
    conn.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
    assert!(reply.contains("familyName"), "{reply}");
    assert!(server.wait_exit(), "graceful shutdown exits 0");
    env.cleanup().await;
}

/// A UWV feed whose second page hangs until the test lets it go.
#[derive(Default)]
struct HangingFeed {
    items: Vec<serde_json::Value>,
    /// Set when the second page was asked for.
    hanging: Option<tokio::sync::oneshot::Sender<()>>,
}

async fn hanging_feed(
    items: Vec<serde_json::Value>,
) -> (
    String,
    tokio::sync::oneshot::Receiver<()>,
    tokio::sync::watch::Sender<bool>,
) {
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    let (hanging_tx, hanging_rx) = tokio::sync::oneshot::channel();
    let (release, released) = tokio::sync::watch::channel(false);
    let feed = Arc::new(Mutex::new(HangingFeed {
        items,
        hanging: Some(hanging_tx),
    }));
    let app = axum::Router::new()
        .route(
            "/indicaties",
            axum::routing::get(
                move |State(feed): State<Arc<Mutex<HangingFeed>>>,
                      Query(q): Query<HashMap<String, String>>| {
                    let mut released = released.clone();
                    async move {
                        let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
                        let limit: usize = q.get("limit").map_or(10, |l| l.parse().unwrap());
                        if start > 0 {
                            if let Some(tx) = feed.lock().unwrap().hanging.take() {
                                let _ = tx.send(());
                            }
                            let _ = released.wait_for(|r| *r).await;
                        }
                        let feed = feed.lock().unwrap();
                        let page: Vec<_> =
                            feed.items.iter().skip(start).take(limit).cloned().collect();
                        let next =
                            (start + limit < feed.items.len()).then(|| (start + limit).to_string());
                        axum::Json(serde_json::json!({ "items": page, "next_cursor": next }))
                    }
                },
            ),
        )
        .with_state(feed);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/indicaties"), hanging_rx, release)
}

/// Starts a server whose UWV source runs at once (a missed tick caught up) and hangs on its
/// second page; returns when the run is in its transaction, with the first page written.
async fn server_with_hanging_import(
    env: &TestEnv,
    grace_secs: u64,
) -> (Server, tokio::sync::watch::Sender<bool>) {
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(6);
    let items: Vec<serde_json::Value> = (0..30)
        .map(|i| {
            serde_json::json!({
                "bsn": importers::fixtures::random_bsn(&mut rng),
                "indicatie": "banenafspraak",
                "geldig_vanaf": "2024-01-01",
                "geldig_tot": null,
                "gewijzigd_op": format!("2026-05-01T10:{i:02}:00Z"),
            })
        })
        .collect();
    let (url, hanging, release) = hanging_feed(items).await;
    std::fs::write(
        env.dir.path().join("werkbrug.toml"),
        format!(
            "[import]\nbatch_size = 5\nhttp_timeout_secs = 600\nshutdown_grace_secs = {grace_secs}\n\n\
             [[source]]\nname = \"uwv\"\nkind = \"uwv\"\norganisation = \"UWV\"\nformat = \"json\"\n\
             location = \"{url}\"\ntoken_env = \"UWV_TOKEN\"\npage_size = 10\n\
             schedule = \"0 0 6 * * *\"\ncatch_up = true\n"
        ),
    )
    .unwrap();
    let server = Server::start(env, &[("UWV_TOKEN", "t".into())], &[]);
    server.wait_ready();
    tokio::time::timeout(PATIENCE, hanging)
        .await
        .expect("the import asks for the second page")
        .unwrap();
    (server, release)
}

/// SIGTERM during an import, beyond the grace: the run rolls back (nothing of it is kept), its
/// row says it was stopped, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_rolls_back_an_import_that_outlasts_the_grace() {
    let env = TestEnv::migrated().await;
    let (mut server, _release) = server_with_hanging_import(&env, 0).await;
    assert_eq!(env.last_run().await.status, "running");
    server.terminate();
    assert!(server.wait_exit(), "graceful shutdown exits 0");
    let run = env.last_run().await;
    assert_eq!(run.status, "failed");
    let error = run.error.unwrap_or_default();
    assert!(
        error.starts_with("stopped: the server shut down"),
        "{error}"
    );
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 0);
    assert_eq!(
        source_record::Entity::find().count(&env.db).await.unwrap(),
        0
    );
    env.cleanup().await;
}

/// SIGTERM during an import within the grace: the server stops listening, the import finishes
/// and commits, and the process exits 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_import_finish_within_the_grace() {
    let env = TestEnv::migrated().await;
    let (mut server, release) = server_with_hanging_import(&env, 600).await;
    server.terminate();
    let deadline = Instant::now() + PATIENCE;
    while server.accepting() {
        assert!(Instant::now() < deadline, "the listener did not close");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(env.last_run().await.status, "running");
    release.send_replace(true);
    assert!(server.wait_exit(), "graceful shutdown exits 0");
    let run = env.last_run().await;
    assert_eq!((run.status.as_str(), run.rows_inserted), ("succeeded", 30));
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 30);
    env.cleanup().await;
}

/// A TCP proxy between the server and PostgreSQL that the test can cut and restore.
struct Proxy {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<ProxyState>>,
}

#[derive(Default)]
struct ProxyState {
    down: bool,
    links: Vec<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let mut state = shared.lock().unwrap();
                if state.down {
                    // Accepted and closed at once: the database is gone.
                    drop(client);
                    continue;
                }
                let upstream = upstream.clone();
                state.links.push(tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                }));
            }
        });
        Proxy { addr, state }
    }

    /// Cuts every open connection and refuses new ones.
    fn cut(&self) {
        let mut state = self.state.lock().unwrap();
        state.down = true;
        for link in state.links.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.state.lock().unwrap().down = false;
    }
}

/// The database goes away under a running server (PostgreSQL through a proxy the test cuts):
/// requests get a clean 503 with a generic message, `/readyz` says 503, and both recover when
/// the database is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_answers_503_and_recovers() {
    if common::backend() != "postgres" {
        eprintln!("skipped: needs TEST_DATABASE_URL (PostgreSQL); see closed_pool_answers_503");
        return;
    }
    let env = TestEnv::with_sample().await;
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    // postgres://user@HOST:PORT/db?… → the same through the proxy.
    let after_at = env.url.split_once('@').unwrap().1;
    let upstream = after_at.split('/').next().unwrap().to_owned();
    let proxy = Proxy::start(upstream.clone()).await;
    let proxied = env.url.replacen(&upstream, &proxy.addr.to_string(), 1);
    let server = Server::start(
        &env,
        &[
            ("DATABASE_URL", proxied),
            ("WERKBRUG_DATABASE__CONNECT_TIMEOUT_SECS", "2".into()),
        ],
        &[],
    );
    server.wait_ready();
    let (status, body) = server.query(&token, PERSONS).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    proxy.cut();
    for _ in 0..3 {
        let (status, body) = server.query(&token, PERSONS).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "DATABASE_UNAVAILABLE",
            "{body}"
        );
        let text = body.to_string();
        for raw in [
            "sqlx",
            "Connection",
            "error returned",
            "postgres",
            "127.0.0.1",
        ] {
            assert!(!text.contains(raw), "raw database detail in {text}");
        }
        assert!(body["data"].is_null(), "{body}");
    }
    insta::assert_snapshot!(
        "database_unavailable",
        server.query(&token, PERSONS).await.1.to_string()
    );
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 503, "{body}");
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        sample(&metrics, "werkbrug_db_unavailable_total").is_some_and(|v| v >= 3.0),
        "{metrics}"
    );

    proxy.restore();
    server.wait_ready();
    let (status, body) = server.query(&token, PERSONS).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    drop(server);
    env.cleanup().await;
}

/// On SQLite (and any backend): a database connection that is gone answers 503 with the same
/// generic message, and `/readyz` says so.
#[tokio::test]
async fn closed_pool_answers_503() {
    let env = TestEnv::with_sample().await;
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let gone = sea_orm::Database::connect(env.url.as_str()).await.unwrap();
    let state = server::AppState::new(
        gone.clone(),
        env.tokens.clone(),
        env.protector.clone(),
        server::ServerSettings::default(),
    )
    .unwrap();
    gone.close_by_ref().await.unwrap();
    let app = server::app(state);
    let r = send(&app, post(PERSONS, Some(&token))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(
        r.body["errors"][0]["extensions"]["code"],
        "DATABASE_UNAVAILABLE"
    );
    insta::assert_snapshot!("database_unavailable", r.text);
    let r = send(&app, Request::get("/readyz").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    env.cleanup().await;
}

#[tokio::test]
async fn the_candidate_search_keeps_its_plans_on_postgresql() {
    if common::backend() != "postgres" {
        // SQLite has no such setting; the search shares the one pool.
        return;
    }
    let env = TestEnv::migrated().await;
    let state = env.state();
    let mode = |db: sea_orm::DatabaseConnection| async move {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SHOW plan_cache_mode",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<String>(0).unwrap()
    };
    // The search's own pool plans once per connection; every other query still gets a plan
    // per execution where PostgreSQL finds that cheaper.
    assert_eq!(mode(state.search_db.clone()).await, "force_generic_plan");
    assert_eq!(mode(state.db.clone()).await, "auto");
    env.cleanup().await;
}

/// The pool takes back a PostgreSQL connection without a round trip only when its last statement
/// ran to its end (the vendored sqlx patch, vendor/README.md). A statement cut short and a
/// transaction dropped unfinished still leave the connection clean for the next user.
#[tokio::test]
async fn pooled_connections_come_back_clean() {
    use sea_orm::sqlx;
    if common::backend() != "postgres" {
        return;
    }
    let env = TestEnv::migrated().await;
    // One connection, so every step below reuses the previous step's.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&env.url)
        .await
        .unwrap();
    sqlx::query("CREATE TEMPORARY TABLE pool_probe (n int)")
        .execute(&pool)
        .await
        .unwrap();
    // Cut short: the statement's future dropped while PostgreSQL is still working on it (a
    // request whose client went away).
    let cut = tokio::time::timeout(
        Duration::from_millis(50),
        sqlx::query("SELECT pg_sleep(0.5)").execute(&pool),
    )
    .await;
    assert!(cut.is_err(), "the statement should have been cut short");
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
    // A transaction dropped without commit is rolled back before the connection is reused.
    {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO pool_probe VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let (rows, in_tx): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM pool_probe), pg_current_xact_id_if_assigned() IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((rows, in_tx), (0, false));
    // A failed statement leaves it usable too.
    assert!(sqlx::query("SELECT 1/0").execute(&pool).await.is_err());
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
    pool.close().await;
    env.cleanup().await;
}
