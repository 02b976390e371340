//! End-to-end tests of the HTTP API, in-process, against a real database (SQLite, or PostgreSQL
//! with `TEST_DATABASE_URL`): GraphQL over HTTP, authentication, and that person data reaches
//! caseworkers of the holding organisation only.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestEnv, post, send};
use jsonwebtoken::{EncodingKey, Header};
use model::Role;
use model::entity::{api_token, audit_event, person_identity};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Statement};

const MUNICIPALITY: &str = "gemeente-amsterdam";
const NETWORK: &str = "sociaal-werkkoepel";

fn claims(exp_offset: i64, jti: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "sub": "attacker", "role": "caseworker", "org": MUNICIPALITY, "scopes": ["special:read"],
        "jti": jti, "iss": "werkbrug", "iat": now, "exp": now + exp_offset
    })
}

const PERSONS: &str = "{ persons(first: 100) { edges { node { id identity { givenName familyName bsnMasked birthDate } } } } }";

#[tokio::test]
async fn anonymous_requests_get_typename_only() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let r = send(&app, post("{ __typename }", None)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["__typename"], "Query");
    for q in [
        "{ organisations { name } }",
        "{ __schema { types { name } } }",
        PERSONS,
    ] {
        let r = send(&app, post(q, None)).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{q}");
        assert!(r.headers.contains_key("www-authenticate"));
        insta::assert_snapshot!("unauthenticated", r.text);
    }
    env.cleanup().await;
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_and_no_detail() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let good = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let jti = api_token::Entity::find()
        .one(&env.db)
        .await
        .unwrap()
        .unwrap()
        .token_id;
    let key = EncodingKey::from_secret(env.signing_key.as_bytes());

    let expired = jsonwebtoken::encode(&Header::default(), &claims(-10, &jti), &key).unwrap();
    let wrong_key = jsonwebtoken::encode(
        &Header::default(),
        &claims(600, &jti),
        &EncodingKey::from_secret(b"another key that is long enough!!"),
    )
    .unwrap();
    // Tampered: a valid token whose payload now claims special:read.
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    parts[1] = b64.encode(claims(600, &jti).to_string());
    let tampered = parts.join(".");
    let alg_none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims(600, &jti).to_string())
    );
    let hs512 = jsonwebtoken::encode(
        &Header::new(jsonwebtoken::Algorithm::HS512),
        &claims(600, &jti),
        &key,
    )
    .unwrap();

    for (name, token) in [
        ("expired", expired),
        ("wrong key", wrong_key),
        ("tampered", tampered),
        ("alg none", alg_none),
        ("other algorithm", hs512),
        ("garbage", "not-a-token".to_owned()),
    ] {
        let r = send(&app, post("{ organisations { name } }", Some(&token))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{name}");
        insta::assert_snapshot!("invalid_token", r.text);
    }

    // The good token works, and stops working once revoked.
    let r = send(&app, post("{ organisations { name } }", Some(&good))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["data"]["organisations"].as_array().unwrap().len() >= 10);
    env.db
        .execute_raw(Statement::from_string(
            env.db.get_database_backend(),
            "UPDATE api_token SET revoked_at = created_at".to_owned(),
        ))
        .await
        .unwrap();
    common::token_change_heard("revocation", || async {
        let r = send(&app, post("{ organisations { name } }", Some(&good))).await;
        r.status == StatusCode::UNAUTHORIZED
    })
    .await;
    env.cleanup().await;
}

#[tokio::test]
async fn no_person_data_reaches_a_non_caseworker() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let names: Vec<String> = person_identity::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|p| p.family_name)
        .collect();
    assert!(names.len() > 100);
    let partner = importers::sample::PARTNERS[0];
    for (role, org) in [
        (Role::Partner, partner),
        (Role::Network, NETWORK),
        (Role::Dashboard, NETWORK),
        (Role::Steward, MUNICIPALITY),
    ] {
        let token = env.token(role, org, &[]).await;
        for q in [
            PERSONS,
            "{ person(id: \"1\") { identity { familyName } } }",
            "{ me { subject role } organisations { name code kind } }",
            "{ sources { name location } importRuns { source status error } }",
        ] {
            let r = send(&app, post(q, Some(&token))).await;
            for name in &names {
                assert!(
                    !r.text.contains(&format!("\"{name}\"")),
                    "{role} saw a family name via {q}"
                );
            }
            if q.contains("person") {
                assert!(
                    r.body["errors"][0]["message"]
                        .as_str()
                        .unwrap()
                        .contains("Unknown field")
                );
            }
        }
    }
    assert_eq!(
        audit_event::Entity::find()
            .all(&env.db)
            .await
            .unwrap()
            .len(),
        0
    );
    env.cleanup().await;
}

#[tokio::test]
async fn caseworkers_see_their_caseload_and_reads_are_audited() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let q = match &after {
            Some(c) => format!(
                "{{ persons(first: 50, after: \"{c}\") {{ pageInfo {{ hasNextPage endCursor }} edges {{ node {{ id identity {{ familyName bsnMasked }} profile {{ skills }} }} }} }} }}"
            ),
            None => "{ persons(first: 50) { pageInfo { hasNextPage endCursor } edges { node { id identity { familyName bsnMasked } profile { skills } } } } }".into(),
        };
        let r = send(&app, post(&q, Some(&token))).await;
        assert!(r.body["errors"].is_null(), "{}", r.text);
        let conn = &r.body["data"]["persons"];
        for e in conn["edges"].as_array().unwrap() {
            let masked = e["node"]["identity"]["bsnMasked"].as_str();
            if let Some(m) = masked {
                assert!(m.starts_with("******") && m.len() == 9, "{m}");
            }
        }
        seen += conn["edges"].as_array().unwrap().len();
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert!(
        seen > 20 && seen < 200,
        "the municipality holds part of the sample, saw {seen}"
    );
    let events = audit_event::Entity::find().all(&env.db).await.unwrap();
    assert_eq!(events.len(), seen, "one audit event per person read");
    assert!(
        events
            .iter()
            .all(|e| e.role == "caseworker" && e.purpose == "case_management")
    );
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev_hash, pair[0].hash,
            "the audit log is hash-chained"
        );
    }

    // Special fields need the scope: without it they do not exist in the caller's schema.
    let r = send(
        &app,
        post(
            "{ persons(first: 5) { edges { node { sensitive { healthNotes } } } } }",
            Some(&token),
        ),
    )
    .await;
    assert_eq!(
        r.body["errors"][0]["message"],
        "Unknown field \"healthNotes\" on type \"SensitiveDetail\"."
    );
    let special = env
        .token(Role::Caseworker, MUNICIPALITY, &["special:read"])
        .await;
    let query = "{ persons(first: 5) { edges { node { sensitive { healthNotes } } } } }";
    // Special fields need a processing purpose, named per request.
    let r = send(&app, post(query, Some(&special))).await;
    assert_eq!(
        r.body["errors"][0]["extensions"]["code"], "PURPOSE_REQUIRED",
        "{}",
        r.text
    );
    let r = send(
        &app,
        common::with_purpose(post(query, Some(&special)), "no such purpose"),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text);
    let mut req = common::with_purpose(post(query, Some(&special)), "transition_planning");
    req.headers_mut().insert(
        "traceparent",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            .parse()
            .unwrap(),
    );
    let r = send(&app, req).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    let last = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .one(&env.db)
        .await
        .unwrap()
        .expect("the read was audited");
    assert_eq!(last.purpose, "transition_planning");
    assert_eq!(
        last.trace_id.as_deref(),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );

    // A person outside the caseload is `null`, not an error.
    let other = env.token(Role::Caseworker, "uwv", &[]).await;
    let r = send(&app, post("{ person(id: \"1\") { id } }", Some(&other))).await;
    assert!(r.body["data"]["person"].is_null(), "{}", r.text);
    env.cleanup().await;
}

#[tokio::test]
async fn bsn_is_never_stored_in_clear_text() {
    let env = TestEnv::with_sample().await;
    let backend = env.db.get_database_backend();
    let rows = env
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT bsn_encrypted FROM person_identity WHERE bsn_encrypted IS NOT NULL".to_owned(),
        ))
        .await
        .unwrap();
    assert!(rows.len() > 150);
    let digits9 = |s: &str| {
        s.as_bytes()
            .windows(9)
            .any(|w| w.iter().all(u8::is_ascii_digit))
    };
    for row in &rows {
        let sealed: String = row.try_get("", "bsn_encrypted").unwrap();
        assert!(!digits9(&sealed), "a nine-digit run in the BSN column");
        let bsn = env.protector.decrypt(&sealed).unwrap();
        assert!(!sealed.contains(&bsn.expose()));
    }
    // No other text column of the tables holding person data carries a BSN either.
    for (table, column) in [("source_record", "raw_values"), ("person", "bsn_pseudonym")] {
        let rows = env
            .db
            .query_all_raw(Statement::from_string(
                backend,
                format!(
                    "SELECT CAST({column} AS TEXT) AS v FROM {table} WHERE {column} IS NOT NULL"
                ),
            ))
            .await
            .unwrap();
        for row in rows {
            let v: String = row.try_get("", "v").unwrap();
            assert!(table == "person" || !digits9(&v), "{table}.{column}");
        }
    }
    let with_pseudonym = model::entity::person::Entity::find()
        .filter(model::entity::person::Column::BsnPseudonym.is_not_null())
        .all(&env.db)
        .await
        .unwrap();
    assert_eq!(
        with_pseudonym.len(),
        rows.len(),
        "each stored BSN has its pseudonym"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn graphql_over_http() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Steward, MUNICIPALITY, &[]).await;
    let auth = format!("Bearer {token}");

    // GET with a query works; a mutation over GET is 405.
    let r = send(
        &app,
        Request::get("/graphql?query=%7B%20organisations%20%7B%20code%20%7D%20%7D")
            .header("authorization", &auth)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.content_type, "application/json");
    let r = send(
        &app,
        Request::get("/graphql?query=mutation%20%7B%20x%20%7D")
            .header("authorization", &auth)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers["allow"], "POST");

    // Unparsable JSON and unparsable GraphQL are 400.
    let r = send(
        &app,
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", &auth)
            .body(Body::from("{not json"))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(&app, post("{ organisations {", Some(&token))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // The spec's media type is answered when asked; a validation error is then a 400.
    let ask = |q: &str| {
        Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .header("authorization", &auth)
            .body(Body::from(serde_json::json!({ "query": q }).to_string()))
            .unwrap()
    };
    let r = send(&app, ask("{ organisations { name } }")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.content_type, "application/graphql-response+json");
    let r = send(&app, ask("{ organisations { noSuchField } }")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // A steward sees sources and runs.
    let r = send(
        &app,
        post(
            "{ sources { name kind } importRuns(first: 3) { source status } }",
            Some(&token),
        ),
    )
    .await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    assert!(!r.body["data"]["sources"].as_array().unwrap().is_empty());

    // Request ids, health and readiness.
    assert!(r.headers.contains_key("x-request-id"));
    for path in ["/healthz", "/readyz", "/", "/graphiql"] {
        let r = send(&app, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
    }

    // Oversized bodies are refused.
    let big = "x".repeat(300 * 1024);
    let r = send(
        &app,
        post(&format!("{{ __typename }} # {big}"), Some(&token)),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    env.cleanup().await;
}

#[tokio::test]
async fn each_role_introspects_only_its_own_schema() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let q = "{ query: __type(name: \"Query\") { fields { name } } mutation: __type(name: \"Mutation\") { fields { name } } person: __type(name: \"Person\") { fields { name } } sensitive: __type(name: \"SensitiveDetail\") { fields { name } } }";
    let names = |v: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = v["fields"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| f["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        n.sort();
        n
    };
    let partner = importers::sample::PARTNERS[0];
    for (role, org, scopes) in [
        (Role::Caseworker, MUNICIPALITY, &[][..]),
        (Role::Caseworker, MUNICIPALITY, &["special:read"][..]),
        (Role::Partner, partner, &[][..]),
        (Role::Network, NETWORK, &[][..]),
        (Role::Dashboard, NETWORK, &[][..]),
        (Role::Steward, MUNICIPALITY, &[][..]),
    ] {
        let token = env.token(role, org, scopes).await;
        let r = send(&app, post(q, Some(&token))).await;
        assert!(r.body["errors"].is_null(), "{}", r.text);
        let mut expected: Vec<String> = server::policy::ENTRY_POINTS
            .iter()
            .filter(|(_, roles)| roles.contains(&role))
            .map(|(e, _)| (*e).to_owned())
            .collect();
        expected.sort();
        let mut roots = names(&r.body["data"]["query"]);
        roots.extend(names(&r.body["data"]["mutation"]));
        roots.sort();
        assert_eq!(roots, expected, "{role} root fields");
        let sensitive = names(&r.body["data"]["sensitive"]);
        if role == Role::Caseworker {
            assert!(names(&r.body["data"]["person"]).contains(&"identity".to_owned()));
            assert_eq!(
                sensitive.contains(&"healthNotes".to_owned()),
                !scopes.is_empty(),
                "{role} {scopes:?}"
            );
            assert!(sensitive.contains(&"wageValuePct".to_owned()));
        } else {
            assert!(
                r.body["data"]["person"].is_null(),
                "{role} sees the Person type"
            );
            assert!(
                r.body["data"]["sensitive"].is_null(),
                "{role} sees the SensitiveDetail type"
            );
        }
    }
    env.cleanup().await;
}

#[tokio::test]
async fn abuse_limits_are_configurable_and_refusals_name_them() {
    let env = TestEnv::with_sample().await;
    let settings = server::ServerSettings {
        max_depth: 5,
        max_aliases: 3,
        max_page: 5,
        ..Default::default()
    };
    let state = server::AppState::new(
        env.db.clone(),
        env.tokens.clone(),
        env.protector.clone(),
        settings,
    )
    .unwrap();
    let app = server::app(state);
    let token = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let ask = |q: String| {
        let app = app.clone();
        let token = token.clone();
        async move { send(&app, post(&q, Some(&token))).await }
    };
    let aliases: String = (0..4).map(|i| format!("a{i}: __typename ")).collect();
    let r = ask(format!("{{ {aliases} }}")).await;
    assert!(
        r.text.contains("4 aliases") && r.text.contains("max_aliases"),
        "{}",
        r.text
    );
    let r = ask("{ persons(first: 6) { edges { node { id } } } }".into()).await;
    assert!(r.text.contains("max_page_size"), "{}", r.text);
    let r = ask("{ persons(first: 5) { edges { node { profile { skills } } } } }".into()).await;
    assert!(r.body["errors"].is_null(), "within the limits: {}", r.text);
    let r = ask(
        "{ persons(first: 5) { edges { node { placements { organisation { name } } } } } }".into(),
    )
    .await;
    assert!(r.text.contains("nested too deep"), "{}", r.text);
    assert!(r.body["data"].is_null(), "nothing executed: {}", r.text);
    env.cleanup().await;
}

#[tokio::test]
async fn every_server_forgets_a_changed_token() {
    let env = TestEnv::with_sample().await;
    // Two servers on one database, as behind a load balancer.
    let (a, b) = (env.state(), env.state());
    common::token_change_heard("both servers listen for changes", || async {
        common::backend() == "sqlite"
            || (a.token_cache.is_listening() && b.token_cache.is_listening())
    })
    .await;
    let caches = [a.token_cache.clone(), b.token_cache.clone()];
    let servers = [server::app(a), server::app(b)];
    let me = "{ me { role } }";
    let partner = env
        .token(Role::Partner, importers::sample::PARTNERS[0], &[])
        .await;
    let network = env.token(Role::Network, NETWORK, &[]).await;
    // Twice each: the second answer comes from what the server kept, where it keeps anything.
    for app in &servers {
        for token in [&partner, &network, &partner, &network] {
            let r = send(app, post(me, Some(token))).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
    }

    // On PostgreSQL both servers now answer these tokens from memory.
    let jti = |token: &str| env.tokens.verify(token).unwrap().jti;
    let kept = |token: &str| caches.iter().filter(|c| c.get(&jti(token)).is_ok()).count();
    let expected = if common::backend() == "postgres" {
        2
    } else {
        0
    };
    assert_eq!((kept(&partner), kept(&network)), (expected, expected));

    // Revoked: refused by both.
    server::auth::revoke_tokens(
        &env.db,
        &server::auth::Revocation {
            organisation: Some(NETWORK.to_owned()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for app in &servers {
        common::token_change_heard("revocation", || async {
            send(app, post(me, Some(&network))).await.status == StatusCode::UNAUTHORIZED
        })
        .await;
        let r = send(app, post(me, Some(&partner))).await;
        assert_eq!(
            r.status,
            StatusCode::OK,
            "another organisation's token: {}",
            r.text
        );
    }

    // The organisation's code changes: its tokens name the old code and are refused.
    env.db
        .execute_raw(Statement::from_string(
            env.db.get_database_backend(),
            format!(
                "UPDATE organisation SET code = 'renamed' WHERE code = '{}'",
                importers::sample::PARTNERS[0]
            ),
        ))
        .await
        .unwrap();
    for app in &servers {
        common::token_change_heard("new organisation code", || async {
            send(app, post(me, Some(&partner))).await.status == StatusCode::UNAUTHORIZED
        })
        .await;
    }
    env.cleanup().await;
}
