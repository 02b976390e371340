//! Test harness: a fresh database per test (a SQLite file, or a PostgreSQL schema when
//! `TEST_DATABASE_URL` is set), the app in-process, and helpers to run the real binary.

#![allow(dead_code)]

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use migrations::{Migrator, MigratorTrait};
use model::BsnProtector;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::SecretString;
use server::auth::{TokenKeys, TokenRequest};
use tower::ServiceExt;

/// A fresh, migrated database and the keys of one test.
pub struct TestEnv {
    pub db: DatabaseConnection,
    /// A URL the binary can use to reach the same database.
    pub url: String,
    pub signing_key: String,
    pub encryption_key: String,
    pub pseudonym_key: String,
    pub tokens: TokenKeys,
    pub protector: BsnProtector,
    pub dir: tempfile::TempDir,
    schema: Option<(String, String)>,
}

/// Which database the suite runs against.
pub fn backend() -> &'static str {
    if std::env::var("TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty()) {
        "postgres"
    } else {
        "sqlite"
    }
}

impl TestEnv {
    /// A fresh database, not yet migrated.
    pub async fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (url, schema) = match std::env::var("TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())
        {
            Some(base) => {
                let name = format!("t_{}", uuid_like());
                let admin = Database::connect(base.as_str())
                    .await
                    .expect("TEST_DATABASE_URL reachable");
                admin
                    .execute_raw(Statement::from_string(
                        admin.get_database_backend(),
                        format!("CREATE SCHEMA {name}"),
                    ))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                (
                    format!("{base}{sep}options=-c%20search_path%3D{name}"),
                    Some((base, name)),
                )
            }
            None => (
                format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
                None,
            ),
        };
        let mut opts = ConnectOptions::new(url.clone());
        opts.sqlx_logging(false).max_connections(5);
        let db = Database::connect(opts).await.unwrap();
        let signing_key = model::crypto::generate_key_hex();
        let encryption_key = model::crypto::generate_key_hex();
        let pseudonym_key = model::crypto::generate_key_hex();
        Self {
            tokens: TokenKeys::new(&SecretString::from(signing_key.clone())).unwrap(),
            protector: BsnProtector::from_hex(&encryption_key, &pseudonym_key).unwrap(),
            db,
            url,
            signing_key,
            encryption_key,
            pseudonym_key,
            dir,
            schema,
        }
    }

    /// Another fresh, migrated database beside this one (a SQLite file in the same folder, or a
    /// PostgreSQL schema), for a test that compares databases imported with the same keys.
    pub async fn another_database(&self, name: &str) -> OtherDatabase {
        let (url, schema) = match &self.schema {
            Some((base, _)) => {
                let schema = format!("t_{}", uuid_like());
                let admin = Database::connect(base.as_str()).await.unwrap();
                admin
                    .execute_raw(Statement::from_string(
                        admin.get_database_backend(),
                        format!("CREATE SCHEMA {schema}"),
                    ))
                    .await
                    .unwrap();
                admin.close().await.unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                (
                    format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                    Some((base.clone(), schema)),
                )
            }
            None => {
                let file = self.dir.path().join(format!("{name}.db"));
                let _ = std::fs::remove_file(&file);
                (format!("sqlite://{}?mode=rwc", file.display()), None)
            }
        };
        let mut opts = ConnectOptions::new(url.clone());
        opts.sqlx_logging(false).max_connections(2);
        let db = Database::connect(opts).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        OtherDatabase { db, url, schema }
    }

    /// A fresh, migrated database.
    pub async fn migrated() -> Self {
        let env = Self::empty().await;
        Migrator::up(&env.db, None).await.unwrap();
        env
    }

    /// A fresh database with the bundled sample data.
    pub async fn with_sample() -> Self {
        let env = Self::migrated().await;
        let files = env.dir.path().join("sample");
        importers::sample::load_sample(&env.db, &env.protector, 7, &files)
            .await
            .unwrap();
        env
    }

    /// The application state for in-process requests.
    pub fn state(&self) -> server::AppState {
        self.state_with(server::ServerSettings::default())
    }

    /// The application state with other settings.
    pub fn state_with(&self, settings: server::ServerSettings) -> server::AppState {
        server::AppState::new(
            self.db.clone(),
            self.tokens.clone(),
            self.protector.clone(),
            settings,
        )
        .unwrap()
    }

    /// Issues a token through the same path the command line uses.
    pub async fn token(&self, role: model::Role, org: &str, scopes: &[&str]) -> String {
        let req = TokenRequest {
            subject: format!("test-{role}"),
            role,
            organisation: org.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ttl: chrono::Duration::hours(1),
        };
        server::auth::issue_token(&self.db, &self.tokens, &req)
            .await
            .unwrap()
            .0
    }

    /// The newest import run (the test has run at least one).
    pub async fn last_run(&self) -> model::entity::import_run::Model {
        use model::entity::import_run;
        use sea_orm::{EntityTrait, QueryOrder};
        import_run::Entity::find()
            .order_by_desc(import_run::Column::Id)
            .one(&self.db)
            .await
            .unwrap()
            .expect("an import run")
    }

    /// The `updated_since` the source `name` keeps for its next run.
    pub async fn updated_since(&self, name: &str) -> Option<String> {
        use model::entity::source;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        source::Entity::find()
            .filter(source::Column::Name.eq(name))
            .one(&self.db)
            .await
            .unwrap()
            .expect("the source's row")
            .updated_since
    }

    /// Environment for the binary: database URL and keys, no configuration file.
    pub fn binary_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("DATABASE_URL", self.url.clone()),
            ("WERKBRUG_AUTH__SIGNING_KEY", self.signing_key.clone()),
            (
                "WERKBRUG_PRIVACY__BSN_ENCRYPTION_KEY",
                self.encryption_key.clone(),
            ),
            (
                "WERKBRUG_PRIVACY__BSN_PSEUDONYM_KEY",
                self.pseudonym_key.clone(),
            ),
            ("RUST_LOG", "warn".into()),
        ]
    }

    /// Drops the PostgreSQL schema (SQLite files go with the temporary directory).
    pub async fn cleanup(self) {
        self.db.close().await.ok();
        if let Some((base, name)) = &self.schema {
            let admin = Database::connect(base.as_str()).await.unwrap();
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("DROP SCHEMA {name} CASCADE"),
                ))
                .await
                .unwrap();
            admin.close().await.ok();
        }
    }
}

/// A database made by [`TestEnv::another_database`].
pub struct OtherDatabase {
    pub db: DatabaseConnection,
    /// A URL the binary can use to reach it.
    pub url: String,
    schema: Option<(String, String)>,
}

impl OtherDatabase {
    /// Closes it and drops its PostgreSQL schema.
    pub async fn cleanup(self) {
        self.db.close().await.ok();
        if let Some((base, name)) = &self.schema {
            let admin = Database::connect(base.as_str()).await.unwrap();
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("DROP SCHEMA {name} CASCADE"),
                ))
                .await
                .unwrap();
            admin.close().await.ok();
        }
    }
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{}_{}_{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A response: status, content type and JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub headers: axum::http::HeaderMap,
    pub body: serde_json::Value,
    pub text: String,
}

/// Sends one request to the in-process app.
pub async fn send(app: &axum::Router, req: Request<Body>) -> Reply {
    let resp = tokio::time::timeout(Duration::from_secs(30), app.clone().oneshot(req))
        .await
        .expect("request finished")
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(resp.into_body(), 10 << 20)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Reply {
        status,
        content_type,
        headers,
        body: serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
        text,
    }
}

/// A `POST /graphql` with an optional bearer token.
pub fn post(query: &str, token: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/graphql").header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(
        serde_json::json!({ "query": query }).to_string(),
    ))
    .unwrap()
}

/// Every node of the connection `root`, following cursors: `page(after)` is the request for one
/// page, where `after` is empty for the first and `, after: "<cursor>"` for the next ones (the
/// query must select `pageInfo { hasNextPage endCursor }` and `edges { node { … } }`).
pub async fn all_nodes(
    app: &axum::Router,
    root: &str,
    page: impl Fn(&str) -> Request<Body>,
) -> Vec<serde_json::Value> {
    let mut nodes = vec![];
    let mut after = String::new();
    loop {
        let r = send(app, page(&after)).await;
        assert!(r.body["errors"].is_null(), "{}", r.text);
        let conn = &r.body["data"][root];
        nodes.extend(
            conn["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone()),
        );
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return nodes;
        }
        after = format!(
            ", after: \"{}\"",
            conn["pageInfo"]["endCursor"].as_str().unwrap()
        );
    }
}

/// The request with a processing purpose (`X-Purpose`), as special reads need.
#[allow(dead_code)]
pub fn with_purpose(mut req: Request<Body>, purpose: &str) -> Request<Body> {
    req.headers_mut()
        .insert("x-purpose", purpose.parse().expect("a header value"));
    req
}

/// Persons whose active, two-key consent covers `partner` (or only the network when `None`),
/// computed from the consent table by hand, apart from the server's policy.
pub async fn consented(env: &TestEnv, partner: Option<i64>) -> std::collections::BTreeSet<i64> {
    use sea_orm::EntityTrait;
    let now = chrono::Utc::now();
    model::entity::consent::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| {
            c.person_agreed
                && c.approved_at.is_some()
                && c.revoked_at.is_none()
                && c.expires_at.is_none_or(|e| e > now)
                && (c.audience == "network"
                    || (c.audience == "partner"
                        && partner.is_some()
                        && c.partner_organisation_id == partner))
        })
        .map(|c| c.person_id)
        .collect()
}

/// The database id of the organisation with this code.
pub async fn org_id(env: &TestEnv, code: &str) -> i64 {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    model::entity::organisation::Entity::find()
        .filter(model::entity::organisation::Column::Code.eq(code))
        .one(&env.db)
        .await
        .unwrap()
        .expect("organisation exists")
        .id
}

/// A blocking `GET path` over plain HTTP/1.1 to `base` (`http://host:port`): status and body.
/// For tests that drive the binary without a runtime at hand.
pub fn http_get(base: &str, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let host = base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(host)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply)?;
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = reply
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// Waits until `GET /readyz` answers 200 (the binary listens before its migrations have run).
pub fn wait_ready(base: &str, deadline: std::time::Instant) {
    loop {
        if let Ok((200, _)) = http_get(base, "/readyz") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{base}/readyz did not answer 200 in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until `check` holds after a token or organisation changed: it must hold at once on
/// SQLite, where every request reads the token; on PostgreSQL within 5 s, as a server forgets
/// what it kept when the change's notification arrives (milliseconds).
pub async fn token_change_heard<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !check().await {
        assert!(
            backend() == "postgres" && std::time::Instant::now() < deadline,
            "{what}: not yet in effect"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
