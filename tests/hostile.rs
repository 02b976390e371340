//! Hostile GraphQL input and HTTP security defaults: deeply nested queries, alias and field
//! floods, fragment bombs, giant batches, huge and deeply nested variables, bodies over the limit
//! — each refused early with a clear error and nothing executed — and no permissive CORS.
//! `docs/reliability.md` lists what was tried.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestEnv, post, send};
use model::Role;

const MUNICIPALITY: &str = "gemeente-amsterdam";

fn json_post(token: &str, body: String) -> Request<Body> {
    Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body))
        .unwrap()
}

/// The first error message of a GraphQL answer.
fn message(r: &common::Reply) -> String {
    let m = r.body["errors"][0]["message"].as_str().unwrap_or_default();
    // Where the parser gives up on nesting depends on the stack it has left, which differs
    // between builds and threads: the column is not part of the message under test.
    match m.split_once(", column ") {
        Some((head, rest)) if m.contains("nested too deeply") => {
            let tail = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{head}, column <n>{tail}")
        }
        _ => m.to_owned(),
    }
}

#[tokio::test]
async fn hostile_queries_are_refused_before_anything_runs() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;

    // Selection sets nested 20,000 deep (within the body limit): the parser's recursion limit.
    let deep = format!("{}{}", "{ me ".repeat(20_000), "}".repeat(20_000));
    let r = send(&app, post(&deep, Some(&token))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["data"].is_null());
    insta::assert_snapshot!("deep_selection", message(&r));

    // Nested lists 20,000 deep in an argument.
    let deep_arg = format!(
        "{{ persons(first: {}1{}) {{ totalCount }} }}",
        "[".repeat(20_000),
        "]".repeat(20_000)
    );
    let r = send(&app, post(&deep_arg, Some(&token))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // Within the parser's limits but deeper than [server] max_query_depth.
    let deep_schema =
        "{ persons(first: 1) { edges { node { placements { organisation { name } } } } } }"
            .to_owned();
    let deep_schema = deep_schema.replace(
        "organisation { name }",
        "organisation { name } person { placements { organisation { name } } }",
    );
    let r = send(&app, post(&deep_schema, Some(&token))).await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    assert!(!message(&r).is_empty(), "{}", r.text);

    // 5,000 aliases.
    let aliases: String = (0..5_000).map(|i| format!("a{i}: __typename ")).collect();
    let r = send(&app, post(&format!("{{ {aliases} }}"), Some(&token))).await;
    insta::assert_snapshot!("alias_flood", message(&r));
    assert!(r.body["data"].is_null());

    // 20,000 copies of one field (no aliases): over the complexity limit.
    let fields = "me { role } ".repeat(20_000);
    let r = send(&app, post(&format!("{{ {fields} }}"), Some(&token))).await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    insta::assert_snapshot!("field_flood", message(&r));

    // Fragment bombs: each fragment spreads the next twice, 2^levels fields. Before the
    // expansion check, 30 levels (under the parser's recursion limit of 32) held a core for
    // over ten minutes in async-graphql's complexity check.
    for levels in [40, 30, 12] {
        let mut bomb = String::from("{ ...F0 }\n");
        for i in 0..levels {
            bomb.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        bomb.push_str(&format!(
            "fragment F{levels} on Query {{ me {{ role }} }}\n"
        ));
        let r = send(&app, post(&bomb, Some(&token))).await;
        assert!(r.body["data"].is_null(), "{levels}: {}", r.text);
        insta::assert_snapshot!(format!("fragment_bomb_{levels}"), message(&r));
    }

    // A fragment cycle.
    let cycle = "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }";
    let r = send(&app, post(cycle, Some(&token))).await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    assert!(!message(&r).is_empty());

    // 10,000 directives on one field: cheap, answered.
    let directives = "@include(if: true) ".repeat(10_000);
    let r = send(
        &app,
        post(&format!("{{ __typename {directives} }}"), Some(&token)),
    )
    .await;
    assert_eq!(r.body["data"]["__typename"], "Query", "{}", r.text);

    // 5,000 operations, none chosen.
    let ops: String = (0..5_000)
        .map(|i| format!("query Q{i} {{ __typename }} "))
        .collect();
    let r = send(&app, post(&ops, Some(&token))).await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    insta::assert_snapshot!("many_operations", message(&r));
    env.cleanup().await;
}

#[tokio::test]
async fn giant_batches_huge_variables_and_bodies_are_refused() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;

    // A batch of 5,000 requests (within the body limit), and one of one.
    let batch: Vec<serde_json::Value> = (0..5_000)
        .map(|_| serde_json::json!({ "query": "{ me { role } }" }))
        .collect();
    let body = serde_json::to_string(&batch).unwrap();
    let r = send(&app, json_post(&token, body)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    insta::assert_snapshot!("batch", message(&r));
    let r = send(
        &app,
        json_post(&token, r#" [{"query":"{ me { role } }"}]"#.into()),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(message(&r), insta_batch_message());

    // A body over the limit (256 KiB by default).
    let big = serde_json::json!({
        "query": "{ me { role } }",
        "variables": { "x": "y".repeat(300 * 1024) },
    });
    let r = send(&app, json_post(&token, big.to_string())).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    insta::assert_snapshot!("too_large", message(&r));

    // Same without a Content-Length (chunked, over a real connection): the limit applies while
    // the body is read.
    let expected = message(&r);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = app.clone();
    tokio::spawn(async move { axum::serve(listener, served).await.unwrap() });
    let reply = chunked_post(addr, &token, big.to_string()).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(reply.contains(&expected), "{reply}");

    // Variables nested 10,000 deep.
    let nested = format!(
        r#"{{"query":"{{ me {{ role }} }}","variables":{{"x":{}1{}}}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let r = send(&app, json_post(&token, nested)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    insta::assert_snapshot!("deep_variables", message(&r));

    // 10,000 variables the operation does not declare (within the body limit).
    let vars: serde_json::Map<String, serde_json::Value> = (0..10_000)
        .map(|i| (format!("v{i}"), serde_json::json!(i)))
        .collect();
    let many = serde_json::json!({ "query": "{ me { role } }", "variables": vars });
    let r = send(&app, json_post(&token, many.to_string())).await;
    assert_eq!(r.body["data"]["me"]["role"], "caseworker", "{}", r.text);

    // A list of 20,000 skills in a filter, as a variable and as a literal. (Before the limit,
    // this overflowed the stack and took the process down.)
    let skills: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
    let list = serde_json::json!({
        "query": "query ($s: [String!]) { candidates(first: 5, filter: { skills: $s }) { edges { node { id } } } }",
        "variables": { "s": skills },
    });
    let r = send(&app, json_post(&token, list.to_string())).await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    insta::assert_snapshot!("long_list_variable", message(&r));
    let literal = format!(
        "{{ candidates(first: 5, filter: {{ skills: {} }}) {{ edges {{ node {{ id }} }} }} }}",
        serde_json::to_string(&skills[..10_000]).unwrap()
    );
    let r = send(&app, post(&literal, Some(&token))).await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    insta::assert_snapshot!("long_list_literal", message(&r));
    // At the limit, it runs.
    let within = serde_json::json!({
        "query": "query ($s: [String!]) { candidates(first: 5, filter: { skills: $s }) { edges { node { id } } } }",
        "variables": { "s": &skills[..100] },
    });
    let r = send(&app, json_post(&token, within.to_string())).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    env.cleanup().await;
}

/// The batch refusal, as snapshotted.
fn insta_batch_message() -> &'static str {
    "batched requests (a JSON array) are not accepted; send one request per HTTP request"
}

/// Sends `body` as `POST /graphql` in 8 KiB chunks without a Content-Length; returns the reply.
async fn chunked_post(addr: std::net::SocketAddr, token: &str, body: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    for chunk in body.as_bytes().chunks(8 * 1024) {
        let frame = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        // The server may answer and close before the whole body is sent.
        if conn.write_all(&frame).await.is_err() {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut reply = vec![];
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        conn.read_to_end(&mut reply),
    )
    .await;
    String::from_utf8_lossy(&reply).into_owned()
}

#[tokio::test]
async fn cors_is_not_permissive_by_default() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let evil = "https://evil.example";
    let preflight = Request::builder()
        .method("OPTIONS")
        .uri("/graphql")
        .header("origin", evil)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .body(Body::empty())
        .unwrap();
    let mut get = post("{ me { role } }", Some(&token));
    get.headers_mut().insert("origin", evil.parse().unwrap());
    let paths = [
        "/graphql?query=%7B__typename%7D",
        "/readyz",
        "/metrics",
        "/dashboard",
        "/",
    ];
    let mut replies = vec![send(&app, preflight).await, send(&app, get).await];
    for path in paths {
        let req = Request::get(path)
            .header("origin", evil)
            .body(Body::empty())
            .unwrap();
        replies.push(send(&app, req).await);
    }
    for r in &replies {
        for (name, value) in &r.headers {
            assert!(
                !name.as_str().starts_with("access-control-"),
                "{name}: {value:?} answered to a foreign origin"
            );
        }
    }
    // The preflight is not approved.
    assert!(!replies[0].status.is_success(), "{}", replies[0].status);
    env.cleanup().await;
}
