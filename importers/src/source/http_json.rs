//! The `json` reader: a paged HTTP JSON feed (UWV's indications).
//!
//! `GET {url}?updated_since=<RFC 3339>&cursor=<c>&limit=<n>` with a bearer token, answering
//! `{"items": [{…}], "next_cursor": "…" | null}` (`next_cursor` required: null ends the feed,
//! a page without it is refused as cut short). Every page is retried on connection errors,
//! timeouts, unreadable answers, 5xx and 429 with exponential back-off and jitter (`Retry-After`
//! wins when it asks for longer), up to a maximum of attempts; then the stream ends with the last
//! error. The pipeline commits a run (and advances `updated_since`) only when the stream ends
//! cleanly, so a failed run skips nothing.

use std::sync::Arc;
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use secrecy::ExposeSecret;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{
    Cell, HttpInput, Location, RawRow, ReadError, ReadEvent, ReadInput, Reader, RowStream,
    STREAM_CAPACITY, normalise_header,
};

/// Reads `format = "json"` sources.
pub struct HttpJsonReader;

impl Reader for HttpJsonReader {
    fn format(&self) -> &'static str {
        "json"
    }

    fn read(&self, input: ReadInput) -> RowStream {
        let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
        // A panic in the task must end the stream with an error, not as a shorter feed.
        let guard = tx.clone();
        let name = match &input.location {
            Location::Url(u) => bare(u),
            Location::Files(_) => String::new(),
        };
        let task = tokio::spawn(async move {
            let url = match &input.location {
                Location::Url(u) => u.clone(),
                Location::Files(files) => {
                    let file = files
                        .first()
                        .map(|f| f.display().to_string())
                        .unwrap_or_default();
                    let _ = tx
                        .send(Err(ReadError::Unreadable {
                            file,
                            format: "json",
                            reason: "this reader fetches an http(s) URL; set `location` to the feed's URL".into(),
                        }))
                        .await;
                    return;
                }
            };
            if let Err(e) = feed(&url, &input, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        tokio::spawn(async move {
            if task.await.is_err() {
                let _ = guard
                    .send(Err(ReadError::Http {
                        url: name,
                        reason:
                            "the feed reader failed (an internal error); report it with the log"
                                .into(),
                    }))
                    .await;
            }
        });
        rx
    }
}

/// Longest wait a `Retry-After` may ask for; longer requests are capped.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// The URL without its query, for messages.
fn bare(url: &str) -> String {
    url.split('?').next().unwrap_or(url).to_owned()
}

async fn feed(
    url: &str,
    input: &ReadInput,
    tx: &mpsc::Sender<Result<ReadEvent, ReadError>>,
) -> Result<(), ReadError> {
    let http = &input.http;
    let fail = |reason: String| ReadError::Http {
        url: bare(url),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(http.timeout)
        .user_agent(concat!("werkbrug/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| fail(format!("cannot build an HTTP client: {e}")))?;
    let mut headers: Option<Arc<[String]>> = None;
    let mut cursor: Option<String> = None;
    let mut number = 0u64;
    let mut pages = 0u32;
    loop {
        let page = fetch_page(&client, url, http, cursor.as_deref()).await?;
        pages += 1;
        let items = page.items;
        tracing::debug!(page = pages, items = items.len(), "feed page fetched");
        let headers = match &headers {
            Some(h) => h.clone(),
            None => {
                let h: Arc<[String]> = if input.headers.known.is_empty() {
                    items
                        .first()
                        .and_then(Value::as_object)
                        .map(|o| o.keys().cloned().collect())
                        .unwrap_or_default()
                } else {
                    input.headers.known.clone().into()
                };
                headers = Some(h.clone());
                let event = ReadEvent::Headers {
                    file: bare(url),
                    sheet: None,
                    headers: h.clone(),
                };
                if tx.send(Ok(event)).await.is_err() {
                    return Ok(());
                }
                h
            }
        };
        let wanted: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        for item in items {
            number += 1;
            let object = item.as_object().expect("checked by fetch_page");
            let mut cells = vec![Cell::Empty; wanted.len()];
            for (k, v) in object {
                if let Some(i) = wanted.iter().position(|w| *w == normalise_header(k)) {
                    cells[i] = cell(v);
                }
            }
            if tx
                .send(Ok(ReadEvent::Row(RawRow { number, cells })))
                .await
                .is_err()
            {
                return Ok(());
            }
        }
        match page.next_cursor {
            Some(next) if Some(&next) != cursor.as_ref() => cursor = Some(next),
            Some(_) => {
                return Err(fail(
                    "the feed answered the same next_cursor twice; stopped to avoid a loop".into(),
                ));
            }
            None => return Ok(()),
        }
    }
}

/// A JSON value as a cell.
fn cell(v: &Value) -> Cell {
    match v {
        Value::Null => Cell::Empty,
        Value::Bool(b) => Cell::Bool(*b),
        Value::Number(n) => n.as_f64().map_or(Cell::Empty, Cell::Number),
        Value::String(s) if s.trim().is_empty() => Cell::Empty,
        Value::String(s) => Cell::Text(s.trim().to_owned()),
        other => Cell::Text(other.to_string()),
    }
}

/// One page of the feed: its items and the cursor of the next page (`None` on the last page).
#[derive(Debug)]
struct Page {
    items: Vec<Value>,
    next_cursor: Option<String>,
}

/// Why one attempt failed, and whether another may help.
struct Attempt {
    reason: String,
    /// What to do about it, appended after the attempt count (e.g. check the token).
    hint: &'static str,
    retry: bool,
    retry_after: Option<Duration>,
}

async fn fetch_page(
    client: &reqwest::Client,
    url: &str,
    http: &HttpInput,
    cursor: Option<&str>,
) -> Result<Page, ReadError> {
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(http.initial_backoff)
        .with_max_delay(Duration::from_secs(60))
        .with_jitter()
        .with_max_times(http.max_attempts.saturating_sub(1) as usize)
        .build();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let failure = match attempt(client, url, http, cursor).await {
            Ok(page) => return Ok(page),
            Err(f) => f,
        };
        let next = if failure.retry { delays.next() } else { None };
        let Some(delay) = next else {
            let plural = if attempts == 1 { "" } else { "s" };
            return Err(ReadError::Http {
                url: bare(url),
                reason: format!(
                    "{} after {attempts} attempt{plural}{}",
                    failure.reason, failure.hint
                ),
            });
        };
        let wait = failure
            .retry_after
            .map_or(delay, |r| r.min(MAX_RETRY_AFTER).max(delay));
        tracing::debug!(attempt = attempts, wait_ms = wait.as_millis() as u64, reason = %failure.reason, "feed page failed; retrying");
        tokio::time::sleep(wait).await;
    }
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    http: &HttpInput,
    cursor: Option<&str>,
) -> Result<Page, Attempt> {
    let mut query: Vec<(&str, String)> = vec![("limit", http.page_size.to_string())];
    if let Some(since) = &http.updated_since {
        query.push(("updated_since", since.clone()));
    }
    if let Some(c) = cursor {
        query.push(("cursor", c.to_owned()));
    }
    let mut request = client.get(url).query(&query);
    if let Some(token) = &http.bearer_token {
        request = request.bearer_auth(token.expose_secret());
    }
    let response = request.send().await.map_err(|e| Attempt {
        reason: if e.is_timeout() {
            format!("no answer within {} s", http.timeout.as_secs_f64())
        } else {
            format!("connection failed ({})", e.without_url())
        },
        hint: "",
        retry: true,
        retry_after: None,
    })?;
    let status = response.status();
    if !status.is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let hint = match status.as_u16() {
            401 | 403 => {
                "; check the source's token (token_env, or token_url with client_id_env and client_secret_env)"
            }
            404 => "; check the source's location",
            _ => "",
        };
        return Err(Attempt {
            reason: format!("HTTP {}", status.as_u16()),
            hint,
            retry: status.is_server_error() || status.as_u16() == 429,
            retry_after,
        });
    }
    let body = response.bytes().await.map_err(|e| Attempt {
        reason: format!("the answer broke off ({})", e.without_url()),
        hint: "",
        retry: true,
        retry_after: None,
    })?;
    parse_page(&body).map_err(|reason| Attempt {
        reason,
        hint: "",
        retry: true,
        retry_after: None,
    })
}

/// Parses a page; the reason names the position or the shape, never content (it holds BSNs).
fn parse_page(body: &[u8]) -> Result<Page, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "the answer is not JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let shape = |what: &str| format!("the answer is not the documented JSON: {what}");
    let object = value.as_object().ok_or_else(|| shape("not an object"))?;
    let items = object
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| shape("no `items` array"))?;
    if let Some(i) = items.iter().position(|i| !i.is_object()) {
        return Err(shape(&format!("item {} is not an object", i + 1)));
    }
    // A missing `next_cursor` is not taken as the last page: a page cut short by a proxy or a
    // half-written answer would otherwise end the run early and advance `updated_since` past
    // items never fetched. The last page says so with `"next_cursor": null`.
    let next_cursor = match object.get("next_cursor") {
        None => return Err(shape("no `next_cursor` (null on the last page)")),
        Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => return Err(shape("`next_cursor` is not a string or null")),
    };
    Ok(Page {
        items: items.clone(),
        next_cursor,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Instant;

    use axum::extract::{Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use serde_json::json;

    use super::*;
    use crate::source::HeaderHint;

    /// What the test server does per request, in order; then it serves pages normally.
    #[derive(Clone, Copy, Debug)]
    enum Fault {
        Status(u16),
        RetryAfter(u64),
        Hang,
        Garbage,
    }

    #[derive(Default)]
    struct Server {
        /// What to do on each request in turn; `None` answers normally.
        faults: Vec<Option<Fault>>,
        requests: Vec<HashMap<String, String>>,
    }

    type Shared = Arc<Mutex<Server>>;

    const ITEMS: usize = 250;

    async fn handler(
        State(s): State<Shared>,
        Query(q): Query<HashMap<String, String>>,
        headers: HeaderMap,
    ) -> Response {
        let fault = {
            let mut s = s.lock().unwrap();
            s.requests.push(q.clone());
            if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer sesam") {
                return StatusCode::UNAUTHORIZED.into_response();
            }
            if s.faults.is_empty() {
                None
            } else {
                s.faults.remove(0)
            }
        };
        match fault {
            Some(Fault::Status(code)) => {
                return StatusCode::from_u16(code).unwrap().into_response();
            }
            Some(Fault::RetryAfter(secs)) => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", secs.to_string())],
                )
                    .into_response();
            }
            Some(Fault::Hang) => tokio::time::sleep(Duration::from_secs(5)).await,
            Some(Fault::Garbage) => return "{\"items\": [{\"bsn\": ".into_response(),
            None => {}
        }
        let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
        let limit: usize = q["limit"].parse().unwrap();
        let items: Vec<Value> = (start..(start + limit).min(ITEMS))
            .map(|i| json!({ "BSN": format!("{i:09}"), "indicatie": "wajong", "geldig_tot": null, "extra": [1] }))
            .collect();
        let next = (start + limit < ITEMS).then(|| (start + limit).to_string());
        axum::Json(json!({ "items": items, "next_cursor": next })).into_response()
    }

    async fn serve(faults: Vec<Option<Fault>>) -> (String, Shared) {
        let shared: Shared = Arc::new(Mutex::new(Server {
            faults,
            ..Default::default()
        }));
        let app = axum::Router::new()
            .route("/feed", axum::routing::get(handler))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/feed"), shared)
    }

    fn input(url: &str, token: &str) -> ReadInput {
        ReadInput {
            location: Location::Url(url.into()),
            sheet: None,
            headers: HeaderHint {
                required: vec![],
                known: vec!["bsn".into(), "indicatie".into(), "geldig_tot".into()],
            },
            limits: Default::default(),
            http: HttpInput {
                bearer_token: Some(token.to_owned().into()),
                updated_since: Some("2026-01-01T00:00:00Z".into()),
                page_size: 100,
                timeout: Duration::from_millis(800),
                max_attempts: 4,
                initial_backoff: Duration::from_millis(10),
            },
        }
    }

    async fn collect(mut rx: RowStream) -> (Vec<ReadEvent>, Option<ReadError>) {
        let mut events = vec![];
        while let Some(e) = rx.recv().await {
            match e {
                Ok(e) => events.push(e),
                Err(e) => return (events, Some(e)),
            }
        }
        (events, None)
    }

    #[tokio::test]
    async fn pages_arrive_once_in_order_through_faults() {
        // Two faults before the first page, two before the second.
        let faults = vec![
            Some(Fault::Status(500)),
            Some(Fault::Hang),
            None,
            Some(Fault::Garbage),
            Some(Fault::RetryAfter(1)),
        ];
        let (url, server) = serve(faults).await;
        let started = Instant::now();
        let (events, err) = collect(HttpJsonReader.read(input(&url, "sesam"))).await;
        assert!(err.is_none(), "{err:?}");
        assert!(
            started.elapsed() >= Duration::from_secs(1),
            "Retry-After honoured"
        );
        let ReadEvent::Headers { file, headers, .. } = &events[0] else {
            panic!("headers first")
        };
        assert_eq!(file, &url);
        assert_eq!(&headers[..], ["bsn", "indicatie", "geldig_tot"]);
        let rows: Vec<&RawRow> = events[1..]
            .iter()
            .map(|e| match e {
                ReadEvent::Row(r) => r,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(rows.len(), ITEMS);
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(r.number, i as u64 + 1);
            assert_eq!(r.cells[0], Cell::Text(format!("{i:09}")));
            assert_eq!(r.cells[1], Cell::Text("wajong".into()));
            assert_eq!(r.cells[2], Cell::Empty);
        }
        let requests = server.lock().unwrap().requests.clone();
        // 3 pages + 4 failed attempts.
        assert_eq!(requests.len(), 7, "{requests:?}");
        assert!(
            requests
                .iter()
                .all(|q| q["limit"] == "100" && q["updated_since"] == "2026-01-01T00:00:00Z")
        );
        assert!(!requests[0].contains_key("cursor"));
        assert_eq!(requests.last().unwrap()["cursor"], "200");
    }

    #[tokio::test]
    async fn a_wrong_token_fails_at_once_and_persistent_errors_after_the_last_attempt() {
        let (url, server) = serve(vec![]).await;
        let (events, err) = collect(HttpJsonReader.read(input(&url, "wrong"))).await;
        assert!(events.is_empty());
        let msg = err.unwrap().to_string();
        assert!(
            msg.contains("HTTP 401") && msg.contains("after 1 attempt"),
            "{msg}"
        );
        assert!(msg.contains("token_env") && !msg.contains("wrong") && !msg.contains('?'));
        assert_eq!(server.lock().unwrap().requests.len(), 1);

        let (url, server) = serve(vec![Some(Fault::Status(503)); 10]).await;
        let (_, err) = collect(HttpJsonReader.read(input(&url, "sesam"))).await;
        let msg = err.unwrap().to_string();
        assert!(msg.contains("HTTP 503 after 4 attempts"), "{msg}");
        assert_eq!(server.lock().unwrap().requests.len(), 4);
    }

    #[test]
    fn unreadable_pages_are_described_without_content() {
        let e = parse_page(b"{\"items\": [{\"bsn\": \"123456782\"").unwrap_err();
        assert!(e.contains("not JSON") && !e.contains("123456782"), "{e}");
        assert!(parse_page(b"[]").unwrap_err().contains("not an object"));
        assert!(parse_page(b"{}").unwrap_err().contains("no `items`"));
        assert!(
            parse_page(b"{\"items\": [1]}")
                .unwrap_err()
                .contains("item 1 is not an object")
        );
        assert!(
            parse_page(b"{\"items\": []}")
                .unwrap_err()
                .contains("no `next_cursor`")
        );
        let p = parse_page(b"{\"items\": [], \"next_cursor\": null}").unwrap();
        assert!(p.items.is_empty() && p.next_cursor.is_none());
    }
}
