//! The UWV feed misbehaving, end to end: a feed on 127.0.0.1 written on raw TCP so that it can
//! hang, reset the connection, answer garbage, cut a page short or start refusing the token in
//! the middle of a run; `werkbrug import uwv` fetches it.
//!
//! Each test imports a first batch cleanly, then serves a second batch with a fault on its second
//! page and checks that the run fails (or retries and succeeds) as designed, that the database
//! holds exactly what it held before the failed run (one transaction per run), that the stored
//! `updated_since` did not move, and that the next good run fetches everything the failed one
//! missed. The feed lists items by BSN, not by change time, so a run that stopped early and still
//! advanced `updated_since` would skip items for good.

mod common;

use std::collections::HashMap;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestEnv;
use model::entity::{person, rejected_row, sensitive_detail, source_record};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_werkbrug");
const TOKEN: &str = "uwv-fault-token";
const PAGE: usize = 100;

/// What the feed does with a request for the faulty page.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fault {
    /// Reads the request and never answers (until the client gives up).
    Hang,
    /// Sends the status line, headers and half the body, then stalls.
    HangInBody,
    /// Reads the request and resets the connection (RST).
    Reset,
    /// Answers 200 with a body that is not JSON.
    Garbage,
    /// Answers 200 promising the whole page (Content-Length) and closes after half of it.
    TruncatedBody,
    /// Answers 200 with complete JSON holding the page's items but no `next_cursor`.
    MissingCursor,
    /// Answers 200 with half the page's items and an honest `next_cursor` after them.
    ShortPage,
    /// Answers 401, as when the token is revoked mid-run.
    Unauthorized,
}

#[derive(Default)]
struct Feed {
    /// Every item, in feed order (by BSN).
    items: Vec<Value>,
    /// The fault, the cursor of the page it hits (`None`: every page), and how many requests it
    /// hits before the feed recovers (`usize::MAX`: until cleared).
    fault: Option<(Fault, Option<String>, usize)>,
    /// Requests seen: the query, and whether a fault answered it.
    requests: Vec<(HashMap<String, String>, bool)>,
}

type Shared = Arc<Mutex<Feed>>;

/// Serves the feed on 127.0.0.1, one request per connection.
async fn serve(feed: Shared) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(connection(stream, feed.clone()));
        }
    });
    format!("http://{addr}/indicaties")
}

async fn connection(mut stream: TcpStream, feed: Shared) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let query: HashMap<String, String> = target
        .split_once('?')
        .map(|(_, q)| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), decode(v)))
                .collect()
        })
        .unwrap_or_default();
    let authorised = head
        .lines()
        .any(|l| l.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}")));
    let (fault, page) = {
        let mut feed = feed.lock().unwrap();
        let cursor = query.get("cursor").cloned();
        let fault = match &mut feed.fault {
            Some((f, at, left)) if *left > 0 && (at.is_none() || *at == cursor) => {
                *left = left.saturating_sub(1);
                Some(*f)
            }
            _ => None,
        };
        feed.requests.push((query.clone(), fault.is_some()));
        (fault, page_of(&feed.items, &query))
    };
    if !authorised || fault == Some(Fault::Unauthorized) {
        let _ = respond(&mut stream, "401 Unauthorized", b"").await;
        return;
    }
    let body = |items: &[Value], next: Option<String>| {
        json!({ "items": items, "next_cursor": next }).to_string()
    };
    match fault {
        None => {
            let _ = respond(&mut stream, "200 OK", body(&page.0, page.1).as_bytes()).await;
        }
        Some(Fault::Hang) => tokio::time::sleep(Duration::from_secs(60)).await,
        Some(Fault::HangInBody) => {
            let full = body(&page.0, page.1);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                full.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&full.as_bytes()[..full.len() / 2]).await;
            let _ = stream.flush().await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        Some(Fault::Reset) => {
            // Linger 0 makes the close a reset (RST); it cannot block with a zero timeout.
            #[allow(deprecated)]
            let _ = stream.set_linger(Some(Duration::ZERO));
            drop(stream);
        }
        Some(Fault::Garbage) => {
            let _ = respond(
                &mut stream,
                "200 OK",
                b"<html>502 Bad Gateway</html>{\"items\": [",
            )
            .await;
        }
        Some(Fault::TruncatedBody) => {
            let full = body(&page.0, page.1);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                full.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&full.as_bytes()[..full.len() / 2]).await;
            let _ = stream.shutdown().await;
        }
        Some(Fault::MissingCursor) => {
            let full = json!({ "items": page.0 }).to_string();
            let _ = respond(&mut stream, "200 OK", full.as_bytes()).await;
        }
        Some(Fault::ShortPage) => {
            let start: usize = query.get("cursor").map_or(0, |c| c.parse().unwrap());
            let half = page.0.len() / 2;
            let next = Some((start + half).to_string());
            let _ = respond(
                &mut stream,
                "200 OK",
                body(&page.0[..half], next).as_bytes(),
            )
            .await;
        }
        Some(Fault::Unauthorized) => unreachable!("answered above"),
    }
}

/// A percent-decoded query value (the feed's cursors and times).
fn decode(v: &str) -> String {
    let mut out = Vec::new();
    let mut bytes = v.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hex: String = bytes.by_ref().take(2).map(char::from).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap());
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
    }
    String::from_utf8(out).unwrap()
}

/// The page a query asks for: items changed after `updated_since`, from the cursor (an offset).
fn page_of(items: &[Value], q: &HashMap<String, String>) -> (Vec<Value>, Option<String>) {
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).unwrap();
    let since = q.get("updated_since").map(|s| time(s));
    let changed: Vec<&Value> = items
        .iter()
        .filter(|i| since.is_none_or(|s| time(i["gewijzigd_op"].as_str().unwrap()) > s))
        .collect();
    let start: usize = q.get("cursor").map_or(0, |c| c.parse().unwrap());
    let limit: usize = q.get("limit").map_or(PAGE, |l| l.parse().unwrap());
    let page = changed
        .iter()
        .skip(start)
        .take(limit)
        .map(|v| (*v).clone())
        .collect();
    let next = (start + limit < changed.len()).then(|| (start + limit).to_string());
    (page, next)
}

async fn respond(stream: &mut TcpStream, status: &str, body: &[u8]) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
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

/// Runs `werkbrug import uwv` with a one-second request timeout and three attempts per page.
fn import(env: &TestEnv) -> Output {
    Command::new(BIN)
        .current_dir(env.dir.path())
        .env_remove("WERKBRUG_CONFIG")
        .envs(env.binary_env())
        .env("UWV_TOKEN", TOKEN)
        .env("WERKBRUG_IMPORT__HTTP_TIMEOUT_SECS", "1")
        .env("WERKBRUG_IMPORT__HTTP_MAX_ATTEMPTS", "3")
        .env("WERKBRUG_IMPORT__HTTP_INITIAL_BACKOFF_MS", "20")
        .args(["import", "uwv"])
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// What the database holds, counted: source records, persons, sensitive details, registered
/// target-group members, rejected rows.
async fn counts(env: &TestEnv) -> [u64; 5] {
    let db = &env.db;
    [
        source_record::Entity::find().count(db).await.unwrap(),
        person::Entity::find().count(db).await.unwrap(),
        sensitive_detail::Entity::find().count(db).await.unwrap(),
        sensitive_detail::Entity::find()
            .filter(sensitive_detail::Column::TargetGroupRegister.eq("registered"))
            .count(db)
            .await
            .unwrap(),
        rejected_row::Entity::find().count(db).await.unwrap(),
    ]
}

/// A feed with a clean first run behind it, and a second batch waiting: 200 new persons
/// (every third with a job-agreement registration) and 50 of the first batch's persons with a
/// new `banenafspraak` indication, listed by BSN with change times in no particular order.
struct Scenario {
    env: TestEnv,
    feed: Shared,
    /// Counts after the first run.
    before: [u64; 5],
    /// `updated_since` after the first run.
    since: Option<String>,
    /// Counts a complete second run must reach.
    after: [u64; 5],
    /// The latest change time of the second batch, as stored.
    latest: String,
}

async fn scenario() -> Scenario {
    let env = TestEnv::migrated().await;
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(6);
    let bsns: Vec<String> = (0..320)
        .map(|_| importers::fixtures::random_bsn(&mut rng))
        .collect();
    let mut first: Vec<Value> = bsns[..120]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let kind = ["wajong", "beschut_werk"][i % 2];
            item(b, kind, &format!("2026-01-{:02}T08:00:00Z", 1 + i % 28))
        })
        .collect();
    // One invalid BSN: a rejected row in the first run, so rejected rows are counted too.
    first.push(item("123456789", "wajong", "2026-01-02T09:00:00Z"));
    let feed: Shared = Arc::new(Mutex::new(Feed {
        items: first.clone(),
        ..Default::default()
    }));
    let url = serve(feed.clone()).await;
    std::fs::write(
        env.dir.path().join("werkbrug.toml"),
        format!(
            "[[source]]\nname = \"uwv\"\nkind = \"uwv\"\norganisation = \"UWV\"\nformat = \"json\"\nlocation = \"{url}\"\ntoken_env = \"UWV_TOKEN\"\npage_size = {PAGE}\n"
        ),
    )
    .unwrap();
    let out = import(&env);
    assert!(out.status.success(), "{}", text(&out));
    let before = counts(&env).await;
    assert_eq!(before, [120, 120, 120, 0, 1]);
    let since = env.updated_since("uwv").await;
    assert_eq!(since.as_deref(), Some("2026-01-28T08:00:00+00:00"));

    // The second batch: change times spread over March, the latest in the middle of the list.
    let mut second: Vec<Value> = bsns[120..]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let kind = ["banenafspraak", "wajong", "beschut_werk"][i % 3];
            let minute = (i * 37) % 60;
            item(
                b,
                kind,
                &format!("2026-03-{:02}T10:{minute:02}:00Z", 1 + (i * 7) % 28),
            )
        })
        .collect();
    second.extend(
        bsns[..50]
            .iter()
            .map(|b| item(b, "banenafspraak", "2026-03-05T12:00:00Z")),
    );
    let latest = second
        .iter()
        .map(|i| chrono::DateTime::parse_from_rfc3339(i["gewijzigd_op"].as_str().unwrap()).unwrap())
        .max()
        .unwrap()
        .to_rfc3339();
    let mut items = first;
    items.extend(second);
    items.sort_by(|a, b| a["bsn"].as_str().cmp(&b["bsn"].as_str()));
    feed.lock().unwrap().items = items;
    Scenario {
        env,
        feed,
        before,
        since,
        // 200 new persons with one record each, 50 new banenafspraak records of known persons;
        // 67 of the new persons and the 50 known ones registered.
        after: [370, 320, 320, 67 + 50, 1],
        latest,
    }
}

impl Scenario {
    /// Puts a fault on the second page of the second batch, for `times` requests.
    fn fault(&self, fault: Fault, times: usize) {
        let mut feed = self.feed.lock().unwrap();
        feed.fault = Some((fault, Some(PAGE.to_string()), times));
        feed.requests.clear();
    }

    fn requests(&self) -> Vec<(HashMap<String, String>, bool)> {
        self.feed.lock().unwrap().requests.clone()
    }

    /// The run failed with `expected` in its message, and changed nothing.
    async fn failed(&self, out: &Output, expected: &str) {
        let t = text(out);
        assert!(!out.status.success(), "the run should fail: {t}");
        assert!(t.contains(expected), "expected `{expected}` in: {t}");
        assert!(!t.contains(TOKEN), "no token in messages: {t}");
        let run = self.env.last_run().await;
        assert_eq!(run.status, "failed");
        assert!(run.error.unwrap().contains(expected));
        assert_eq!(
            counts(&self.env).await,
            self.before,
            "the failed run left nothing behind"
        );
        assert_eq!(
            self.env.updated_since("uwv").await,
            self.since,
            "updated_since did not move"
        );
    }

    /// The feed recovers and the next run fetches everything the failed one missed.
    async fn recovers(self) {
        self.feed.lock().unwrap().fault = None;
        let out = import(&self.env);
        self.succeeded(&out).await;
        self.env.cleanup().await;
    }

    /// The run succeeded and fetched the whole second batch.
    async fn succeeded(&self, out: &Output) {
        assert!(out.status.success(), "{}", text(out));
        let run = self.env.last_run().await;
        // Plus the first batch's four items of its last minute, read again through the
        // overlap and unchanged.
        assert_eq!(
            (
                run.status.as_str(),
                run.rows_read,
                run.rows_inserted,
                run.rows_unchanged
            ),
            ("succeeded", 254, 250, 4)
        );
        assert_eq!(counts(&self.env).await, self.after);
        assert_eq!(
            self.env.updated_since("uwv").await,
            Some(self.latest.clone())
        );
        // And nothing is left for the run after: it asks from the new `updated_since` (less
        // the overlap) and finds nothing new.
        let out = import(&self.env);
        assert!(out.status.success(), "{}", text(&out));
        let run = self.env.last_run().await;
        assert_eq!((run.rows_inserted, run.rows_updated), (0, 0));
        assert_eq!(run.rows_read, run.rows_unchanged);
        assert_eq!(counts(&self.env).await, self.after);
    }
}

/// Requests for the faulty page.
fn on_page(requests: &[(HashMap<String, String>, bool)]) -> usize {
    requests
        .iter()
        .filter(|(q, _)| q.get("cursor").map(String::as_str) == Some("100"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_feed_times_out_and_fails_the_run_after_its_attempts() {
    let s = scenario().await;
    s.fault(Fault::Hang, usize::MAX);
    let out = import(&s.env);
    s.failed(&out, "no answer within 1 s after 3 attempts")
        .await;
    assert_eq!(on_page(&s.requests()), 3);

    // Stalling halfway through the body is a timeout as well.
    s.fault(Fault::HangInBody, usize::MAX);
    let out = import(&s.env);
    s.failed(&out, "after 3 attempts").await;
    assert_eq!(on_page(&s.requests()), 3);
    s.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_connection_is_retried_and_fails_the_run_when_it_persists() {
    let s = scenario().await;
    // Twice: the third attempt gets the page and the run completes.
    s.fault(Fault::Reset, 2);
    let out = import(&s.env);
    s.succeeded(&out).await;
    assert_eq!(on_page(&s.requests()), 3);

    let s = scenario().await;
    s.fault(Fault::Reset, usize::MAX);
    let out = import(&s.env);
    s.failed(&out, "connection failed").await;
    assert!(text(&out).contains("after 3 attempts"), "{}", text(&out));
    s.recovers().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_json_is_retried_then_fails_the_run_without_quoting_it() {
    let s = scenario().await;
    s.fault(Fault::Garbage, usize::MAX);
    let out = import(&s.env);
    s.failed(&out, "the answer is not JSON").await;
    assert!(!text(&out).contains("Bad Gateway"), "{}", text(&out));
    assert_eq!(on_page(&s.requests()), 3);
    s.recovers().await;
}

/// "Half a page", three ways: the body breaks off before its Content-Length (retried, the run
/// fails when it persists); complete JSON without `next_cursor` (refused as cut short: taken as
/// the last page it would end the run early and move `updated_since` past items never fetched);
/// and half the items with an honest `next_cursor` (a short page is allowed: the run goes on
/// from that cursor and misses nothing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_page_never_ends_the_run_early() {
    let s = scenario().await;
    s.fault(Fault::TruncatedBody, usize::MAX);
    let out = import(&s.env);
    s.failed(&out, "the answer broke off").await;
    assert!(text(&out).contains("after 3 attempts"), "{}", text(&out));
    assert_eq!(on_page(&s.requests()), 3);

    s.fault(Fault::MissingCursor, usize::MAX);
    let out = import(&s.env);
    s.failed(&out, "no `next_cursor`").await;
    assert_eq!(on_page(&s.requests()), 3);

    s.fault(Fault::ShortPage, 1);
    let out = import(&s.env);
    s.succeeded(&out).await;
    let cursors: Vec<Option<String>> = s
        .requests()
        .iter()
        .take(3)
        .map(|(q, _)| q.get("cursor").cloned())
        .collect();
    assert_eq!(cursors, [None, Some("100".into()), Some("150".into())]);
    s.env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_mid_run_fails_at_once_and_keeps_the_cursor() {
    let s = scenario().await;
    s.fault(Fault::Unauthorized, usize::MAX);
    let out = import(&s.env);
    s.failed(&out, "HTTP 401 after 1 attempt").await;
    assert!(text(&out).contains("token_env"), "says what to do");
    let requests = s.requests();
    assert_eq!(on_page(&requests), 1, "401 is not retried");
    assert_eq!(requests.len(), 2, "page 1, then the refused page 2");
    s.recovers().await;
}
