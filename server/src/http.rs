//! HTTP: GraphQL over HTTP (`GET`/`POST /graphql`), GraphiQL, the dashboard page, health and
//! readiness, Prometheus metrics, with request ids, timeouts, body limits and graceful shutdown.

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, Request, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Router, extract::DefaultBodyLimit};
use serde::Deserialize;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::audit::{self, AuditCollector, RequestContext};
use crate::auth::{self, AuthError, Caller};
use crate::graphql::{WerkbrugSchema, build_schema};
use crate::{AppState, Phase};

/// The media type of the GraphQL-over-HTTP spec.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// What every handler shares, behind an `Arc`: a request clones a pointer, not the state.
#[derive(Clone)]
struct Shared(std::sync::Arc<SharedParts>);

struct SharedParts {
    state: AppState,
    schema: WerkbrugSchema,
    /// The schema's types, for the document checks before execution.
    types: crate::visibility::TypeMap,
    /// Documents parsed for earlier requests.
    documents: crate::documents::Documents,
}

impl std::ops::Deref for Shared {
    type Target = SharedParts;

    fn deref(&self) -> &SharedParts {
        &self.0
    }
}

/// The werkbrug HTTP application as a router, ready to serve or to call in tests.
pub fn app(state: AppState) -> Router {
    let schema = build_schema(Some(state.clone()));
    let types = crate::visibility::TypeMap::from_sdl(&crate::graphql::sdl());
    let settings = state.settings.clone();
    // Routes that need the database and its schema: refused with 503 until migrations have run.
    let gated = Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/stats.csv", get(stats_csv))
        .route_layer(axum::middleware::from_fn_with_state(
            state.readiness.clone(),
            readiness_gate,
        ));
    let mut router = gated
        .route("/", get(graphiql))
        .route("/graphiql", get(graphiql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/dashboard", get(crate::dashboard::page));
    if settings.metrics {
        crate::metrics::install();
        router = router.route("/metrics", get(metrics));
    }
    let router = router.with_state(Shared(std::sync::Arc::new(SharedParts {
        state,
        schema,
        types,
        documents: Default::default(),
    })));
    with_http_layers(router, &settings)
}

/// Wraps routes in the server's HTTP handling: panic guard, body limit, timeout, request ids,
/// a tracing span and metrics per request. Public so that benchmarks compare like with like.
pub fn with_http_layers(router: Router, settings: &crate::ServerSettings) -> Router {
    let limit = settings.body_limit;
    // One stack, outermost first, wrapped around each route once: layered one by one, every
    // layer boxed its route again, and a request cloned each box inside the next.
    router.layer(
        tower::ServiceBuilder::new()
            // Outermost, so that it times and counts every answer, refusals included.
            .layer(axum::middleware::from_fn(crate::metrics::track))
            .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
            .layer(
                TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    // Path only: a query string may carry search terms.
                    tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = %req.uri().path(),
                        request_id = %request_id(req.headers()),
                    )
                }),
            )
            .layer(PropagateRequestIdLayer::x_request_id())
            .layer(TimeoutLayer::with_status_code(
                StatusCode::REQUEST_TIMEOUT,
                settings.request_timeout,
            ))
            // Both limits answer 413 with a terse text of their own; say what the limit is.
            .layer(axum::middleware::from_fn(
                move |req: Request<axum::body::Body>, next: axum::middleware::Next| async move {
                    let resp = next.run(req).await;
                    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
                        too_large(limit)
                    } else {
                        resp
                    }
                },
            ))
            .layer(RequestBodyLimitLayer::new(settings.body_limit))
            .layer(DefaultBodyLimit::max(settings.body_limit))
            .layer(panic_guard()),
    )
}

/// The answer to a body over the limit.
fn too_large(limit: usize) -> Response {
    let body = error_body(
        &format!(
            "the request body is larger than this server accepts ({limit} bytes, \
             [server] body_limit_bytes); send a smaller query, or pass large inputs in several requests"
        ),
        "PAYLOAD_TOO_LARGE",
    );
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Refuses requests that need the database while the server is not ready.
async fn readiness_gate(
    State(readiness): State<std::sync::Arc<crate::Readiness>>,
    req: Request<axum::body::Body>,
    next: axum::middleware::Next,
) -> Response {
    let message = match readiness.phase() {
        Phase::Ready => return next.run(req).await,
        Phase::Migrating => {
            "the server is starting: database migrations are running; try again shortly"
        }
        Phase::Stopping => "the server is shutting down; try again (another instance may answer)",
    };
    unavailable(req.headers(), message)
}

/// A 503 with a generic message and `Retry-After`.
fn unavailable(headers: &HeaderMap, message: &str) -> Response {
    let mut resp = json_response(
        headers,
        StatusCode::SERVICE_UNAVAILABLE,
        error_body(message, "UNAVAILABLE"),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

/// A 503 for a request that failed because the database could not be reached.
fn database_unavailable(headers: &HeaderMap) -> Response {
    metrics::counter!(crate::metrics::DB_UNAVAILABLE).increment(1);
    let mut resp = json_response(
        headers,
        StatusCode::SERVICE_UNAVAILABLE,
        error_body(
            crate::graphql::DATABASE_UNAVAILABLE_MESSAGE,
            crate::graphql::DATABASE_UNAVAILABLE,
        ),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    resp
}

/// Turns a panic while answering one request into a 500 for that request alone; the panic's
/// message (which might quote data) is neither answered nor logged, only where it happened.
fn panic_guard()
-> tower_http::catch_panic::CatchPanicLayer<fn(Box<dyn std::any::Any + Send>) -> Response> {
    fn answer(_: Box<dyn std::any::Any + Send>) -> Response {
        tracing::error!("a request handler panicked; answered 500");
        let body = serde_json::json!({ "errors": [{
            "message": "internal error; the request id in the response headers helps the operator find it",
            "extensions": { "code": "INTERNAL" }
        }] });
        (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
    }
    tower_http::catch_panic::CatchPanicLayer::custom(answer as fn(_) -> Response)
}

/// Serves the application on `listener` until SIGTERM or Ctrl-C, then drains open requests.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_until(listener, state, shutdown_signal()).await
}

/// Serves the application on `listener` until `stop` completes; then `/readyz` and new requests
/// answer 503, the listener closes, and requests already running finish before this returns.
pub async fn serve_until(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let readiness = state.readiness.clone();
    axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            stop.await;
            readiness.set(Phase::Stopping);
            tracing::info!("shutting down: finishing open requests");
        })
        .await
}

/// Completes on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned()
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("werkbrug GraphiQL")
            .finish(),
    )
}

/// How long `/readyz` waits for the database before it answers "unreachable".
const READY_PING_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// `GET /readyz`: 200 when migrations have run and the database answers; 503 otherwise.
async fn readyz(State(shared): State<Shared>) -> Response {
    let not_ready = |why: &'static str| (StatusCode::SERVICE_UNAVAILABLE, why).into_response();
    match shared.state.readiness.phase() {
        Phase::Migrating => return not_ready("starting: database migrations are running"),
        Phase::Stopping => return not_ready("shutting down"),
        Phase::Ready => {}
    }
    match tokio::time::timeout(READY_PING_TIMEOUT, shared.state.db.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            not_ready("database unreachable")
        }
        Err(_) => {
            tracing::warn!("readiness check: the database did not answer in time");
            not_ready("database unreachable")
        }
    }
}

/// `GET /metrics`: Prometheus text format (see [`crate::metrics`]).
async fn metrics(State(shared): State<Shared>) -> Response {
    crate::metrics::render(&shared.state.db)
}

/// The `stats` query behind `GET /stats.csv`.
const STATS_QUERY: &str = "query Stats($measure: StatsMeasure!, $groupBy: [StatsDimension!]!, \
    $from: NaiveDate, $to: NaiveDate, $filter: StatsFilter) { stats(measure: $measure, groupBy: $groupBy, \
    from: $from, to: $to, filter: $filter) { rows { period organisation line workType district \
    placementKind value suppressed } } }";

/// `GET /stats.csv?measure=…&groupBy=MONTH,LINE&from=…&to=…&lines=…`: the same table as the
/// `stats` query (run through it, with the same token, policy and suppression), as CSV for
/// spreadsheets. List parameters are comma-separated.
async fn stats_csv(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let list = |key: &str| {
        params.get(key).filter(|v| !v.trim().is_empty()).map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
    };
    let Some(measure) = params.get("measure") else {
        return request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "missing `measure` parameter, e.g. `?measure=WORK_TO_WORK&groupBy=MONTH`",
        );
    };
    let group_by = list("groupBy").unwrap_or_default();
    let variables = serde_json::json!({
        "measure": measure,
        "groupBy": group_by,
        "from": params.get("from"),
        "to": params.get("to"),
        "filter": {
            "organisations": list("organisations"),
            "lines": list("lines"),
            "districts": list("districts"),
            "workTypes": list("workTypes"),
            "placementKinds": list("placementKinds"),
        },
    });
    let request = async_graphql::Request::new(STATS_QUERY)
        .variables(async_graphql::Variables::from_json(variables));
    let response = match run(shared, &headers, request, true, &mut None).await {
        Ok(r) => r,
        Err(refusal) => return refusal,
    };
    if let Some(e) = response.errors.first() {
        let code = e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .map(|c| c.to_string())
            .unwrap_or_default();
        let status = if code.contains("FORBIDDEN") || e.message.starts_with("Unknown field") {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        return (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", e.message),
        )
            .into_response();
    }
    let data = response.data.into_json().unwrap_or_default();
    let columns: Vec<(&str, &str)> = group_by
        .iter()
        .filter_map(|d| {
            Some(match d.as_str() {
                "MONTH" | "QUARTER" | "YEAR" => ("period", "period"),
                "ORGANISATION" => ("organisation", "organisation"),
                "LINE" => ("line", "line"),
                "WORK_TYPE" => ("work_type", "workType"),
                "DISTRICT" => ("district", "district"),
                "PLACEMENT_KIND" => ("placement_kind", "placementKind"),
                _ => return None,
            })
        })
        .collect();
    let mut out = csv::Writer::from_writer(vec![]);
    let mut header_row: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    header_row.extend(["value", "suppressed"]);
    let mut write = |fields: Vec<String>| out.write_record(fields).is_ok();
    let mut ok = write(header_row.iter().map(|s| s.to_string()).collect());
    for row in data["stats"]["rows"].as_array().into_iter().flatten() {
        let mut fields: Vec<String> = columns
            .iter()
            .map(|(_, key)| row[*key].as_str().unwrap_or_default().to_owned())
            .collect();
        fields.push(
            row["value"]
                .as_f64()
                .map(|v| v.to_string())
                .unwrap_or_default(),
        );
        fields.push(row["suppressed"].as_bool().unwrap_or(false).to_string());
        ok &= write(fields);
    }
    match out.into_inner() {
        Ok(bytes) if ok => {
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response()
        }
        _ => request_error(
            &headers,
            StatusCode::INTERNAL_SERVER_ERROR,
            "writing the CSV failed",
        ),
    }
}

/// Query parameters of `GET /graphql`.
#[derive(Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn graphql_get(
    State(shared): State<Shared>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(params)) = params else {
        return request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "the query string is not valid",
        );
    };
    let Some(query) = params.query else {
        return request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "missing `query` parameter",
        );
    };
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(vars) = params.variables.filter(|v| !v.is_empty()) {
        match serde_json::from_str::<serde_json::Value>(&vars) {
            Ok(v) => request = request.variables(async_graphql::Variables::from_json(v)),
            Err(_) => {
                return request_error(
                    &headers,
                    StatusCode::BAD_REQUEST,
                    "`variables` is not valid JSON",
                );
            }
        }
    }
    execute(shared, headers, request, true).await
}

async fn graphql_post(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/json")
        && !content_type.starts_with(GRAPHQL_RESPONSE_JSON)
    {
        return request_error(
            &headers,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the request as `Content-Type: application/json`",
        );
    }
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "batched requests (a JSON array) are not accepted; send one request per HTTP request",
        );
    }
    match serde_json::from_slice::<async_graphql::Request>(&body) {
        Ok(request) => execute(shared, headers, request, false).await,
        Err(e) if e.is_syntax() && e.to_string().contains("recursion limit") => request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "the body's JSON is nested too deeply (over 128 levels); flatten the variables",
        ),
        Err(_) => request_error(
            &headers,
            StatusCode::BAD_REQUEST,
            "the body is not a GraphQL request: expected JSON like {\"query\": \"{ __typename }\"}",
        ),
    }
}

async fn execute(
    shared: Shared,
    headers: HeaderMap,
    request: async_graphql::Request,
    is_get: bool,
) -> Response {
    let mut operation = None;
    let mut resp = match run(shared, &headers, request, is_get, &mut operation).await {
        Ok(response) => graphql_response(&headers, response),
        Err(refusal) => refusal,
    };
    resp.extensions_mut()
        .insert(crate::metrics::Operation(operation));
    resp
}

/// Authenticates, runs the request through the schema (and so the policy) and writes its audit
/// events; a refusal before or after comes back as the HTTP answer to give. The operation's name,
/// once known, is left in `operation` for the metrics.
async fn run(
    shared: Shared,
    headers: &HeaderMap,
    request: async_graphql::Request,
    is_get: bool,
    operation: &mut Option<String>,
) -> Result<async_graphql::Response, Response> {
    let headers = headers.clone();
    let doc = match shared.documents.parse(&request.query) {
        Ok(doc) => doc,
        Err(e) => {
            return Err(request_error(
                &headers,
                StatusCode::BAD_REQUEST,
                &parse_error(&e),
            ));
        }
    };
    if is_get && is_mutation(&doc, request.operation_name.as_deref()) {
        let mut resp = request_error(
            &headers,
            StatusCode::METHOD_NOT_ALLOWED,
            "mutations are only accepted over POST",
        );
        resp.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Err(resp);
    }
    let caller = match bearer(&headers) {
        None if only_typename(&doc) => None,
        None => {
            return Err(unauthorized(
                &headers,
                "authentication required: send `Authorization: Bearer <token>` (create one with `werkbrug token create`)",
            ));
        }
        Some(token) => {
            match auth::authenticate(
                &shared.state.db,
                &shared.state.tokens,
                &shared.state.token_cache,
                token,
            )
            .await
            {
                Ok(caller) => Some(caller),
                Err(AuthError::Db(e)) => {
                    tracing::error!(error = %e, "token check failed: database error");
                    return Err(database_unavailable(&headers));
                }
                Err(_) => return Err(unauthorized(&headers, "invalid or expired token")),
            }
        }
    };
    if let Some(c) = &caller {
        tracing::info!(role = c.role.as_str(), org = %c.organisation_code, "graphql request");
    }
    // The operation's name: as the client asked for it, or the document's only named operation.
    let operation_name = request.operation_name.clone().or_else(|| {
        let mut names = doc.operations.iter().map(|(name, _)| name);
        match (names.next(), names.next()) {
            (Some(Some(name)), None) => Some(name.to_string()),
            _ => None,
        }
    });
    let purpose = match headers.get(audit::PURPOSE_HEADER).map(|v| v.to_str()) {
        None => None,
        Some(Ok(p)) if audit::PURPOSES.contains(&p.trim()) => Some(p.trim().to_owned()),
        Some(_) => {
            return Err(request_error(
                &headers,
                StatusCode::BAD_REQUEST,
                &format!(
                    "`{}` must name a processing purpose: one of {}",
                    audit::PURPOSE_HEADER,
                    audit::PURPOSES.join(", ")
                ),
            ));
        }
    };
    let trace_id = audit::trace_id_from(headers.get("traceparent").and_then(|v| v.to_str().ok()));
    operation.clone_from(&operation_name);
    let context = RequestContext {
        request_id: request_id(&headers),
        operation_name,
        purpose,
        trace_id,
    };
    // Alias floods and types or fields the caller does not have fail as validation would,
    // before anything runs.
    let settings = &shared.state.settings;
    let checked = crate::visibility::check_aliases(&doc, settings.max_aliases)
        .and_then(|()| crate::visibility::check_expansion(&doc, settings.max_complexity))
        .and_then(|()| {
            crate::visibility::check_lists(&doc, &request.variables, settings.max_list_items)
        })
        .and_then(|()| match &caller {
            Some(c) => {
                crate::visibility::check_document(&doc, &shared.types, &shared.state.policy, c)
            }
            None => Ok(()),
        });
    if let Err(e) = checked {
        return Ok(async_graphql::Response::from_errors(vec![e]));
    }
    let collector = std::sync::Arc::new(AuditCollector::default());
    let mut request = request;
    // Parsed once: the schema executes the document checked here.
    request.set_parsed_query(doc);
    let mut request = request
        .data(collector.clone())
        .data(audit::Purpose(context.purpose.clone()));
    if let Some(c) = caller.clone() {
        request = request.data::<Caller>(c);
    }
    let mut response = shared.schema.execute(request).await;
    name_the_limits(&mut response, &shared.state.settings);
    // The database went away while the request ran: nothing of it is answered (and nothing was
    // read that would need an audit event).
    if response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from(crate::graphql::DATABASE_UNAVAILABLE))
    }) {
        return Err(database_unavailable(&headers));
    }
    if let Some(c) = &caller {
        match audit::flush(&shared.state.db, &collector, c, &context).await {
            Ok(written) => {
                metrics::counter!(crate::metrics::AUDIT_EVENTS).increment(written as u64);
            }
            Err(e) => {
                tracing::error!(error = %e, "audit log write failed; response withheld");
                metrics::counter!(crate::metrics::AUDIT_FAILURES).increment(1);
                return Err(request_error(
                    &headers,
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the audit log could not be written; no data was returned",
                ));
            }
        }
    }
    Ok(response)
}

/// async-graphql's refusals for depth and complexity, with the limit and the key that sets it.
fn name_the_limits(response: &mut async_graphql::Response, settings: &crate::ServerSettings) {
    for e in &mut response.errors {
        match e.message.as_str() {
            "Query is too complex." => {
                e.message = format!(
                    "the query is too complex: over {} ([server] max_query_complexity; fields \
                     weighted by page sizes); ask for fewer fields or smaller pages",
                    settings.max_complexity
                )
            }
            "Query is nested too deep." => {
                e.message = format!(
                    "the query is nested too deep: over {} levels ([server] max_query_depth)",
                    settings.max_depth
                )
            }
            _ => {}
        }
    }
}

/// A parse error in one line: where, and what the parser expected — not the query text it
/// quotes (which may be 256 KiB, or hold values).
fn parse_error(e: &async_graphql::parser::Error) -> String {
    use async_graphql::parser::Error;
    match e {
        Error::Syntax { message, start, .. } => {
            let what = message
                .lines()
                .rev()
                .find_map(|l| l.trim().strip_prefix("= "))
                .unwrap_or("syntax error");
            let what = if what == "stack limit reached" {
                "nested too deeply to parse"
            } else {
                what
            };
            format!(
                "the query does not parse at line {}, column {}: {what}",
                start.line, start.column
            )
        }
        Error::RecursionLimitExceeded => {
            "the query does not parse: it is nested too deeply".to_owned()
        }
        other => format!("the query does not parse: {other}"),
    }
}

fn is_mutation(doc: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    doc.operations.iter().any(|(name, op)| {
        let selected = match (operation_name, name) {
            (Some(wanted), Some(n)) => n.as_str() == wanted,
            (Some(_), None) => false,
            (None, _) => true,
        };
        selected && op.node.ty != OperationType::Query
    })
}

/// Whether every operation selects only `__typename` (allowed without a token).
fn only_typename(doc: &ExecutableDocument) -> bool {
    doc.fragments.is_empty()
        && doc.operations.iter().all(|(_, op)| {
            op.node.ty == OperationType::Query
                && op
                    .node
                    .selection_set
                    .node
                    .items
                    .iter()
                    .all(|s| match &s.node {
                        Selection::Field(f) => {
                            f.node.name.node == "__typename"
                                && f.node.selection_set.node.items.is_empty()
                        }
                        _ => false,
                    })
        })
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn wants_graphql_response(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains(GRAPHQL_RESPONSE_JSON))
}

fn json_response(headers: &HeaderMap, status: StatusCode, body: serde_json::Value) -> Response {
    encoded_response(headers, status, body.to_string().into_bytes())
}

/// A JSON body already encoded, under the media type the client asked for.
fn encoded_response(headers: &HeaderMap, status: StatusCode, body: Vec<u8>) -> Response {
    let media = if wants_graphql_response(headers) {
        GRAPHQL_RESPONSE_JSON
    } else {
        "application/json"
    };
    (status, [(header::CONTENT_TYPE, media)], body).into_response()
}

fn error_body(message: &str, code: &str) -> serde_json::Value {
    serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

fn request_error(headers: &HeaderMap, status: StatusCode, message: &str) -> Response {
    json_response(headers, status, error_body(message, "BAD_REQUEST"))
}

fn unauthorized(headers: &HeaderMap, message: &str) -> Response {
    let mut resp = json_response(
        headers,
        StatusCode::UNAUTHORIZED,
        error_body(message, "UNAUTHENTICATED"),
    );
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"werkbrug\""),
    );
    resp
}

fn graphql_response(headers: &HeaderMap, response: async_graphql::Response) -> Response {
    // Under the GraphQL-over-HTTP media type, a request that failed before execution is a 400.
    let request_failed = response.is_err() && response.data == async_graphql::Value::Null;
    let status = if request_failed && wants_graphql_response(headers) {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    // Encoded straight to bytes: a `serde_json::Value` in between doubled the cost of a page.
    // Room for a page of 50 profiles from the start, so the buffer is not grown a dozen times.
    let mut body = Vec::with_capacity(16 * 1024);
    match serde_json::to_writer(&mut body, &response) {
        Ok(()) => encoded_response(headers, status, body),
        Err(_) => json_response(
            headers,
            status,
            error_body("response could not be encoded", "INTERNAL"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_answers_500_without_its_message_and_the_next_request_is_served() {
        async fn boom() -> &'static str {
            panic!("BSN 123456782 in a panic message")
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "ok" }))
            .layer(panic_guard());
        let resp = app
            .clone()
            .oneshot(
                Request::get("/boom")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.contains("INTERNAL") && !text.contains("123456782"),
            "{text}"
        );
        let resp = app
            .oneshot(Request::get("/ok").body(axum::body::Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
}
