//! Prometheus metrics: the recorder every part of the process reports to (the importers through
//! the `metrics` facade), the HTTP layer that counts and times requests, and `GET /metrics`.
//!
//! Labels are routes, GraphQL operation names, HTTP statuses, source names and outcomes — never a
//! value from a request, a token or a row. Operation names are chosen by clients, so they are
//! bounded: a name that is not a plain GraphQL name, or one beyond the first
//! [`MAX_OPERATION_NAMES`] seen, is counted as `other`.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use sea_orm::{DatabaseBackend, DatabaseConnection};

/// How many distinct operation names get a label of their own; later ones count as `other`.
pub const MAX_OPERATION_NAMES: usize = 200;

/// Requests by route and status.
pub const HTTP_REQUESTS: &str = "werkbrug_http_requests_total";
/// Request latency by route.
pub const HTTP_DURATION: &str = "werkbrug_http_request_duration_seconds";
/// GraphQL requests by operation name and status.
pub const GRAPHQL_REQUESTS: &str = "werkbrug_graphql_requests_total";
/// GraphQL latency by operation name.
pub const GRAPHQL_DURATION: &str = "werkbrug_graphql_request_duration_seconds";
/// Audit events written (reads of personal or special fields).
pub const AUDIT_EVENTS: &str = "werkbrug_audit_events_written_total";
/// Requests whose audit events could not be written (their data was withheld).
pub const AUDIT_FAILURES: &str = "werkbrug_audit_write_failures_total";
/// Database pool connections by state (`in_use`, `idle`).
pub const DB_POOL_CONNECTIONS: &str = "werkbrug_db_pool_connections";
/// The pool's maximum number of connections.
pub const DB_POOL_MAX: &str = "werkbrug_db_pool_max_connections";
/// Requests refused because the database was unavailable.
pub const DB_UNAVAILABLE: &str = "werkbrug_db_unavailable_total";

/// Latency buckets in seconds, from 1 ms to 30 s (the request timeout).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder for this process (once; later calls return the same
/// handle) and starts its upkeep, which keeps histograms from growing between scrapes.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
                .expect("the buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may be installed already (a test harness); then ours stays empty.
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics stays empty");
            }
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                })
                .expect("a thread for metrics upkeep");
            describe();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests by route and status");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by route"
    );
    describe_counter!(
        GRAPHQL_REQUESTS,
        "GraphQL requests by operation name and HTTP status"
    );
    describe_histogram!(
        GRAPHQL_DURATION,
        Unit::Seconds,
        "GraphQL request latency by operation name"
    );
    describe_counter!(AUDIT_EVENTS, "audit events written");
    describe_counter!(
        AUDIT_FAILURES,
        "requests whose audit events could not be written (data withheld)"
    );
    describe_gauge!(
        DB_POOL_CONNECTIONS,
        "database pool connections by state (in_use, idle)"
    );
    describe_gauge!(DB_POOL_MAX, "the database pool's maximum size");
    describe_counter!(
        DB_UNAVAILABLE,
        "requests answered 503 because the database was unavailable"
    );
}

/// The GraphQL operation a response answered, set by the GraphQL handler for the metrics layer.
#[derive(Clone, Debug)]
pub struct Operation(pub Option<String>);

/// The label for an operation name: the name itself when it is a plain GraphQL name among the
/// first [`MAX_OPERATION_NAMES`] seen, `anonymous` without one, `other` otherwise.
pub fn operation_label(name: Option<&str>) -> String {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let Some(name) = name else {
        return "anonymous".into();
    };
    let plain = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !plain {
        return "other".into();
    }
    let mut seen = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if seen.contains(name) || seen.len() < MAX_OPERATION_NAMES {
        seen.insert(name.to_owned());
        name.to_owned()
    } else {
        "other".into()
    }
}

/// Counts and times every request by route (and GraphQL requests by operation).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16().to_string();
    if let Some(Operation(name)) = response.extensions().get::<Operation>() {
        let operation = operation_label(name.as_deref());
        metrics::counter!(GRAPHQL_REQUESTS, "operation" => operation.clone(), "status" => status.clone())
            .increment(1);
        metrics::histogram!(GRAPHQL_DURATION, "operation" => operation).record(seconds);
    }
    metrics::counter!(HTTP_REQUESTS, "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!(HTTP_DURATION, "route" => route).record(seconds);
    response
}

/// Sets the pool gauges from the database's connection pool.
pub fn sample_pool(db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DatabaseBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        DatabaseBackend::Sqlite => {
            let pool = db.get_sqlite_connection_pool();
            (
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            )
        }
        _ => return,
    };
    let idle = idle as f64;
    let in_use = (f64::from(size) - idle).max(0.0);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(in_use);
    metrics::gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(idle);
    metrics::gauge!(DB_POOL_MAX).set(f64::from(max));
}

/// The answer to `GET /metrics`: the Prometheus text format, with the pool gauges sampled now.
pub fn render(db: &DatabaseConnection) -> Response {
    sample_pool(db);
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        install().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_bounded() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("Candidates")), "Candidates");
        for odd in ["", "with space", "1abc", "naïve", &"x".repeat(65)] {
            assert_eq!(operation_label(Some(odd)), "other", "{odd:?}");
        }
        for i in 0..MAX_OPERATION_NAMES + 10 {
            operation_label(Some(&format!("Op{i}")));
        }
        assert_eq!(operation_label(Some("OneTooMany")), "other");
        assert_eq!(
            operation_label(Some("Candidates")),
            "Candidates",
            "seen before"
        );
    }
}
