//! Consent-based visibility of the generic profile, per-organisation ids, opaque cursors and
//! filters, as real GraphQL requests against a real database.

mod common;

use std::collections::BTreeSet;

use common::{TestEnv, post, send};
use model::Role;
use sea_orm::{ConnectionTrait, Statement};

/// Persons whose active, two-key consent covers `partner` (or only the network when `None`).
async fn expected(env: &TestEnv, partner: Option<i64>) -> BTreeSet<i64> {
    common::consented(env, partner).await
}

async fn org_id(env: &TestEnv, code: &str) -> i64 {
    common::org_id(env, code).await
}

/// Every candidate id the token sees, following cursors.
async fn all_ids(app: &axum::Router, token: &str, filter: &str) -> Vec<String> {
    common::all_nodes(app, "candidates", |after| {
        post(
            &format!(
                "{{ candidates(first: 40{filter}{after}) {{ pageInfo {{ hasNextPage endCursor }} \
                 edges {{ cursor node {{ id profile {{ skills }} }} }} }} }}"
            ),
            Some(token),
        )
    })
    .await
    .iter()
    .map(|n| n["id"].as_str().unwrap().to_owned())
    .collect()
}

#[tokio::test]
async fn partners_and_the_network_see_consented_candidates_only() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let partners = importers::sample::PARTNERS;
    for code in partners {
        let token = env.token(Role::Partner, code, &[]).await;
        let seen = all_ids(&app, &token, "").await;
        let want = expected(&env, Some(org_id(&env, code).await)).await;
        assert_eq!(seen.len(), want.len(), "{code}");
        let opened: BTreeSet<i64> = seen
            .iter()
            .map(|id| env.protector.open_id(code, id).unwrap())
            .collect();
        assert_eq!(
            opened, want,
            "{code} sees exactly the persons whose consent covers it"
        );
    }
    let network = env.token(Role::Network, "sociaal-werkkoepel", &[]).await;
    let seen = all_ids(&app, &network, "").await;
    assert_eq!(seen.len(), expected(&env, None).await.len());
    assert!(seen.len() > 50 && seen.len() < 200, "{}", seen.len());
    env.cleanup().await;
}

#[tokio::test]
async fn ids_and_cursors_cannot_be_joined_or_decoded() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let [a, b] = [
        importers::sample::PARTNERS[0],
        importers::sample::PARTNERS[1],
    ];
    let (ta, tb) = (
        env.token(Role::Partner, a, &[]).await,
        env.token(Role::Partner, b, &[]).await,
    );
    let network_person = *expected(&env, None).await.iter().next().unwrap();
    let id_a = env.protector.seal_id(a, network_person);
    let id_b = env.protector.seal_id(b, network_person);
    assert!(all_ids(&app, &ta, "").await.contains(&id_a));
    assert!(all_ids(&app, &tb, "").await.contains(&id_b));
    assert_ne!(id_a, id_b, "two partners see different ids for one person");
    assert!(!id_a.contains(&network_person.to_string()) || id_a.len() == 48);

    // One partner's id means nothing to another, nor does a database id.
    for (token, id) in [
        (&tb, id_a.clone()),
        (&ta, network_person.to_string()),
        (&ta, "1".into()),
    ] {
        let r = send(
            &app,
            post(
                &format!("{{ candidate(id: \"{id}\") {{ id }} }}"),
                Some(token),
            ),
        )
        .await;
        assert!(r.body["data"]["candidate"].is_null(), "{}", r.text);
    }
    let r = send(
        &app,
        post(
            &format!("{{ candidate(id: \"{id_a}\") {{ id profile {{ district }} }} }}"),
            Some(&ta),
        ),
    )
    .await;
    assert_eq!(r.body["data"]["candidate"]["id"], id_a.as_str());

    // A cursor is as opaque as an id: another partner cannot use it, and it decodes to noise.
    let r = send(
        &app,
        post(
            "{ candidates(first: 1) { pageInfo { endCursor } } }",
            Some(&ta),
        ),
    )
    .await;
    let cursor = r.body["data"]["candidates"]["pageInfo"]["endCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&cursor)
        .unwrap();
    assert!(
        serde_json::from_slice::<serde_json::Value>(&raw).is_err(),
        "no JSON inside"
    );
    let r = send(
        &app,
        post(
            &format!("{{ candidates(first: 1, after: \"{cursor}\") {{ edges {{ cursor }} }} }}"),
            Some(&tb),
        ),
    )
    .await;
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("not a cursor this server issued")
    );
    env.cleanup().await;
}

#[tokio::test]
async fn revoked_consent_takes_effect_on_the_next_request() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let code = importers::sample::PARTNERS[2];
    let token = env.token(Role::Partner, code, &[]).await;
    let visible = expected(&env, Some(org_id(&env, code).await)).await;
    let person = *visible.iter().next().unwrap();
    let id = env.protector.seal_id(code, person);
    let q = format!("{{ candidate(id: \"{id}\") {{ profile {{ skills }} }} }}");
    let r = send(&app, post(&q, Some(&token))).await;
    assert!(!r.body["data"]["candidate"].is_null(), "{}", r.text);

    env.db
        .execute_raw(Statement::from_string(
            env.db.get_database_backend(),
            format!("UPDATE consent SET revoked_at = granted_at WHERE person_id = {person}"),
        ))
        .await
        .unwrap();
    let r = send(&app, post(&q, Some(&token))).await;
    assert!(
        r.body["data"]["candidate"].is_null(),
        "revocation is immediate: {}",
        r.text
    );
    assert!(!all_ids(&app, &token, "").await.contains(&id));

    // A person who never consented, fetched by a correctly sealed id: null, not an error.
    let never = (1..=200i64).find(|p| !visible.contains(p)).unwrap();
    let q = format!(
        "{{ candidate(id: \"{}\") {{ id }} }}",
        env.protector.seal_id(code, never)
    );
    let r = send(&app, post(&q, Some(&token))).await;
    assert!(
        r.body["data"]["candidate"].is_null() && r.body["errors"].is_null(),
        "{}",
        r.text
    );
    env.cleanup().await;
}

#[tokio::test]
async fn filters_work_and_only_on_readable_fields() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Network, "sociaal-werkkoepel", &[]).await;
    let q = "{ candidates(first: 100, filter: { skills: [\"heftruck\", \"koken\"], minHoursPerWeek: 16, districts: [\"Noord\", \"Oost\", \"West\", \"Zuid\", \"Centrum\", \"Nieuw-West\", \"Zuidoost\"] }) { edges { node { profile { skills hoursPerWeek district } } } } }";
    let r = send(&app, post(q, Some(&token))).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    let edges = r.body["data"]["candidates"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty());
    for e in edges {
        let p = &e["node"]["profile"];
        let skills: Vec<&str> = p["skills"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert!(
            skills.contains(&"heftruck") || skills.contains(&"koken"),
            "{skills:?}"
        );
        assert!(p["hoursPerWeek"].as_f64().unwrap() >= 16.0);
        assert_ne!(p["district"], "Weesp");
    }
    // Several districts find what each finds alone, in the same order (on SQLite they are
    // tested per row of a walk in person order rather than through the district index).
    let ids = |districts: &str| {
        let q = format!(
            "{{ candidates(first: 100, filter: {{ districts: {districts} }}) {{ edges {{ node {{ id profile {{ district }} }} }} }} }}"
        );
        let app = app.clone();
        let token = token.clone();
        async move {
            let r = send(&app, post(&q, Some(&token))).await;
            assert!(r.body["errors"].is_null(), "{}", r.text);
            r.body["data"]["candidates"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["node"]["id"].as_str().unwrap().to_owned(),
                        e["node"]["profile"]["district"]
                            .as_str()
                            .unwrap()
                            .to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let both = ids("[\"Noord\", \"Oost\"]").await;
    let (noord, oost) = (ids("[\"Noord\"]").await, ids("[\"Oost\"]").await);
    assert!(!noord.is_empty() && !oost.is_empty());
    assert!(both.len() < 100, "the sample fits one page");
    let mut each: Vec<_> = both.iter().filter(|(_, d)| d == "Noord").cloned().collect();
    assert_eq!(each, noord);
    each = both.iter().filter(|(_, d)| d == "Oost").cloned().collect();
    assert_eq!(each, oost);
    assert_eq!(both.len(), noord.len() + oost.len());

    // A LIKE wildcard in a filter value matches literally, not everything.
    let r = send(
        &app,
        post(
            "{ candidates(filter: { skills: [\"%\"] }) { edges { node { id } } } }",
            Some(&token),
        ),
    )
    .await;
    assert_eq!(
        r.body["data"]["candidates"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "{}",
        r.text
    );

    // No filter or path on personal fields exists for a partner: validation refuses them.
    let partner = env
        .token(Role::Partner, importers::sample::PARTNERS[0], &[])
        .await;
    for q in [
        "{ candidates(filter: { birthDate: \"1990-01-01\" }) { edges { node { id } } } }",
        "{ candidates { edges { node { identity { bsnMasked } } } } }",
        "{ candidates { edges { node { n: profile { ...F } } } } } fragment F on PersonIdentity { familyName }",
        "{ persons { edges { node { id } } } }",
    ] {
        let r = send(&app, post(q, Some(&partner))).await;
        assert!(r.body["data"].is_null(), "{q}: {}", r.text);
        assert!(!r.body["errors"].as_array().unwrap().is_empty());
    }
    env.cleanup().await;
}

#[tokio::test]
async fn a_list_filter_matches_whole_items_however_they_are_spelt() {
    use model::entity::candidate_profile::{Column as C, Entity as Profiles};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let token = env.token(Role::Network, "sociaal-werkkoepel", &[]).await;
    let person = *expected(&env, None)
        .await
        .first()
        .expect("a consented candidate");
    // Items with LIKE's wildcards, both databases' escape characters, JSON's escapes and
    // letters outside ASCII.
    let items = ["50%_lassen", r#"c:\temp "q" één!"#];
    Profiles::update_many()
        .col_expr(C::Skills, Expr::value(serde_json::json!(items)))
        .filter(C::PersonId.eq(person))
        .exec(&env.db)
        .await
        .unwrap();
    for (value, found) in [
        (items[0], true),
        (items[1], true),
        ("50%_LASSEN", true),
        (r#"C:\TEMP "Q" ÉÉN!"#, true),
        ("50", false),
        ("%_lassen", false),
        ("50__lassen", false),
        (r#"c:\temp"#, false),
        (r#"c:\\temp "q" één!"#, false),
    ] {
        let q = format!(
            "{{ candidates(first: 100, filter: {{ skills: [{}] }}) {{ edges {{ node {{ profile {{ skills }} }} }} }} }}",
            serde_json::Value::from(value)
        );
        let r = send(&app, post(&q, Some(&token))).await;
        assert!(r.body["errors"].is_null(), "{}", r.text);
        let lists: Vec<_> = r.body["data"]["candidates"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["profile"]["skills"].clone())
            .collect();
        assert_eq!(
            lists == [serde_json::json!(items)],
            found,
            "{value}: {lists:?}"
        );
    }
    env.cleanup().await;
}

#[tokio::test]
async fn hidden_root_fields_do_not_exist_through_aliases_or_fragments() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let partner = env
        .token(Role::Partner, importers::sample::PARTNERS[0], &[])
        .await;
    let caseworker = env.token(Role::Caseworker, "gemeente-amsterdam", &[]).await;
    for q in [
        "{ x: persons(first: 1) { edges { node { id } } } }",
        "{ ...F } fragment F on Query { persons(first: 1) { edges { node { id } } } }",
        "{ ... on Query { ... { auditEvents { id } } } }",
        "query A { me { role } } query B { sources { name } }",
    ] {
        let r = send(&app, post(q, Some(&partner))).await;
        let msg = r.body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            msg.starts_with("Unknown field \"") && msg.ends_with("on type \"Query\"."),
            "{q}: {}",
            r.text
        );
        assert!(r.body["data"].is_null(), "nothing executed: {}", r.text);
    }
    let r = send(
        &app,
        post(
            "{ ...F } fragment F on Query { persons(first: 1) { edges { node { id } } } }",
            Some(&caseworker),
        ),
    )
    .await;
    assert!(r.body["errors"].is_null(), "{}", r.text);

    // A batch (a JSON array of requests) is not accepted at all.
    let batch = serde_json::json!([
        { "query": "{ me { role } }" },
        { "query": "{ persons(first: 1) { edges { node { identity { familyName } } } } }" }
    ]);
    let req = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {partner}"))
        .body(axum::body::Body::from(batch.to_string()))
        .unwrap();
    let r = send(&app, req).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(!r.text.contains("familyName\":\""), "{}", r.text);
    env.cleanup().await;
}

/// Every candidate as `(id, sort value)`, following cursors of `first` at a time.
async fn ordered(
    app: &axum::Router,
    token: &str,
    order: &str,
    value: &str,
) -> Vec<(String, serde_json::Value)> {
    let mut out = vec![];
    let mut after = String::new();
    loop {
        let q = format!(
            "{{ candidates(first: 7, orderBy: {order}{after}) {{ pageInfo {{ hasNextPage endCursor }} \
             edges {{ node {{ id profile {{ {value} }} }} }} }} }}"
        );
        let r = send(app, post(&q, Some(token))).await;
        assert!(r.body["errors"].is_null(), "{}", r.text);
        let conn = &r.body["data"]["candidates"];
        for e in conn["edges"].as_array().unwrap() {
            out.push((
                e["node"]["id"].as_str().unwrap().to_owned(),
                e["node"]["profile"][value].clone(),
            ));
        }
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            return out;
        }
        after = format!(
            ", after: \"{}\"",
            conn["pageInfo"]["endCursor"].as_str().unwrap()
        );
    }
}

#[tokio::test]
async fn candidates_sort_on_readable_fields_with_opaque_keyset_cursors() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let code = importers::sample::PARTNERS[0];
    let token = env.token(Role::Partner, code, &[]).await;
    let unordered: BTreeSet<String> = all_ids(&app, &token, "").await.into_iter().collect();

    let rows = ordered(&app, &token, "{ field: AVAILABLE_FROM }", "availableFrom").await;
    let ids: BTreeSet<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), rows.len(), "no candidate twice across pages");
    assert_eq!(ids, unordered, "the same candidates as unsorted");
    let dates: Vec<Option<&str>> = rows.iter().map(|(_, v)| v.as_str()).collect();
    let known: Vec<&str> = dates.iter().flatten().copied().collect();
    assert!(
        known.windows(2).all(|w| w[0] <= w[1]),
        "ascending: {dates:?}"
    );
    let first_unknown = dates
        .iter()
        .position(Option::is_none)
        .unwrap_or(dates.len());
    assert!(
        dates[first_unknown..].iter().all(Option::is_none),
        "unknown last"
    );

    let rows = ordered(
        &app,
        &token,
        "{ field: HOURS_PER_WEEK, direction: DESC }",
        "hoursPerWeek",
    )
    .await;
    assert_eq!(rows.len(), unordered.len());
    let hours: Vec<f64> = rows.iter().filter_map(|(_, v)| v.as_f64()).collect();
    assert!(
        hours.windows(2).all(|w| w[0] >= w[1]),
        "descending: {hours:?}"
    );

    // No sort key reaches beyond the generic profile, and cursors carry no values.
    for order in [
        "{ field: BIRTH_DATE }",
        "{ field: BSN }",
        "{ field: HEALTH_NOTES }",
    ] {
        let r = send(
            &app,
            post(
                &format!("{{ candidates(orderBy: {order}) {{ edges {{ cursor }} }} }}"),
                Some(&token),
            ),
        )
        .await;
        assert!(
            r.body["data"].is_null() && !r.body["errors"].is_null(),
            "{}",
            r.text
        );
    }
    let r = send(
        &app,
        post(
            "{ candidates(first: 3, orderBy: { field: AVAILABLE_FROM }) { edges { cursor node { id } } } }",
            Some(&token),
        ),
    )
    .await;
    for e in r.body["data"]["candidates"]["edges"].as_array().unwrap() {
        assert_eq!(
            e["cursor"], e["node"]["id"],
            "the cursor is the sealed id alone"
        );
    }
    env.cleanup().await;
}

/// A page reads only the profile columns the query asks for; whatever way the query asks
/// (aliases, named and inline fragments, `@skip`/`@include`, a field asked twice), every field
/// answers what the database holds, and a field asked for is never left out.
#[tokio::test]
async fn a_page_answers_every_profile_field_asked_for_however_asked() {
    use sea_orm::EntityTrait;
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let code = importers::sample::PARTNERS[0];
    let token = env.token(Role::Partner, code, &[]).await;
    let q = "{ candidates(first: 100) { edges { node { id profile { s: skills ...P \
             ... on CandidateProfile { educationLevel hoursPerWeek } \
             district @include(if: true) languages @skip(if: false) line @skip(if: true) } } } \
             nodes { profile { municipality skills } } } } \
             fragment P on CandidateProfile { participationStep workTypes skills }";
    let r = send(&app, post(q, Some(&token))).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    let edges = r.body["data"]["candidates"]["edges"].as_array().unwrap();
    assert!(!edges.is_empty(), "the sample has consenting candidates");
    let nodes = r.body["data"]["candidates"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), edges.len());
    let profiles: std::collections::HashMap<i64, model::entity::candidate_profile::Model> =
        model::entity::candidate_profile::Entity::find()
            .all(&env.db)
            .await
            .unwrap()
            .into_iter()
            .map(|m| (m.person_id, m))
            .collect();
    for (edge, node) in edges.iter().zip(nodes) {
        let id = env
            .protector
            .open_id(code, edge["node"]["id"].as_str().unwrap())
            .unwrap();
        let m = &profiles[&id];
        let p = &edge["node"]["profile"];
        assert_eq!(p["s"], m.skills, "{id}");
        assert_eq!(p["skills"], m.skills, "{id}");
        assert_eq!(p["workTypes"], m.work_types, "{id}");
        assert_eq!(p["languages"], m.languages, "{id}");
        assert_eq!(
            p["participationStep"],
            serde_json::json!(m.participation_step)
        );
        assert_eq!(p["educationLevel"], serde_json::json!(m.education_level));
        assert_eq!(p["hoursPerWeek"], serde_json::json!(m.hours_per_week));
        assert_eq!(p["district"], serde_json::json!(m.district));
        assert!(p.get("line").is_none(), "skipped: {p}");
        assert_eq!(
            node["profile"]["municipality"],
            serde_json::json!(m.municipality)
        );
        assert_eq!(node["profile"]["skills"], m.skills);
    }
    env.cleanup().await;
}

/// One field of each class, with the type that carries it and a query that reads it for each
/// kind of entry point.
const CLASS_FIELDS: [(model::privacy::PrivacyClass, &str, &str); 5] = {
    use model::privacy::PrivacyClass::*;
    [
        (Public, "Organisation", "name"),
        (Generic, "CandidateProfile", "skills"),
        (Internal, "SensitiveDetail", "wageValuePct"),
        (Personal, "PersonIdentity", "familyName"),
        (Special, "SensitiveDetail", "healthNotes"),
    ]
};

/// The query that reads a class's field through the role's own entry points.
fn read_query(role: Role, class: model::privacy::PrivacyClass) -> &'static str {
    use model::privacy::PrivacyClass::*;
    match (role, class) {
        (_, Public) => "{ organisations { name } }",
        (Role::Caseworker, Generic) => {
            "{ persons(first: 50) { edges { node { profile { skills } } } } }"
        }
        (_, Generic) => "{ candidates(first: 50) { edges { node { profile { skills } } } } }",
        // Partners read internal fields of their own records only: introductions they asked for.
        (Role::Partner, Internal) => "{ introductions(first: 50) { edges { node { status } } } }",
        (_, Internal) => "{ persons(first: 50) { edges { node { sensitive { wageValuePct } } } } }",
        (_, Personal) => "{ persons(first: 50) { edges { node { identity { familyName } } } } }",
        (_, Special) => "{ persons(first: 50) { edges { node { sensitive { healthNotes } } } } }",
    }
}

/// The policy's rules, role × class, checked against the schema each role introspects and the
/// answers it gets: allowed fields come back, forbidden ones are absent and refused.
#[tokio::test]
async fn every_role_and_class_behaves_as_the_policy_says() {
    use server::policy::{RULES, Rule};
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let org_for = |role: Role| match role {
        Role::Caseworker | Role::Steward => "gemeente-amsterdam",
        Role::Partner => importers::sample::PARTNERS[0],
        Role::Network | Role::Dashboard => "sociaal-werkkoepel",
    };
    let mut checked = 0;
    for (role, class, rule) in RULES {
        let scopes: &[&[&str]] = match rule {
            Rule::CaseloadWithScope(s) => &[&[], &[s]],
            _ => &[&[]],
        };
        for scopes in scopes {
            let allowed = match rule {
                Rule::Never => false,
                Rule::CaseloadWithScope(s) => scopes.contains(s),
                _ => true,
            };
            let token = env.token(*role, org_for(*role), scopes).await;
            let (_, ty, field) = match (role, class) {
                (Role::Partner, model::privacy::PrivacyClass::Internal) => {
                    &(*class, "Introduction", "status")
                }
                _ => CLASS_FIELDS.iter().find(|(c, ..)| c == class).unwrap(),
            };
            let r = send(
                &app,
                post(
                    &format!("{{ __type(name: \"{ty}\") {{ fields {{ name }} }} }}"),
                    Some(&token),
                ),
            )
            .await;
            let introspected = r.body["data"]["__type"]["fields"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f["name"] == *field));
            assert_eq!(
                introspected, allowed,
                "{role} {scopes:?} introspects {ty}.{field}"
            );

            let req = common::with_purpose(
                post(read_query(*role, *class), Some(&token)),
                "case_management",
            );
            let r = send(&app, req).await;
            let text = &r.text;
            if allowed {
                assert!(
                    r.body["errors"].is_null(),
                    "{role} {scopes:?} {class:?}: {text}"
                );
                assert!(
                    text.contains(&format!("\"{field}\":")),
                    "{role} {class:?}: {text}"
                );
            } else {
                assert!(
                    !r.body["errors"].is_null(),
                    "{role} {scopes:?} {class:?}: {text}"
                );
                assert!(
                    !text.contains(&format!("\"{field}\":\""))
                        && !text.contains(&format!("\"{field}\":[")),
                    "{role} {class:?} got a value: {text}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, RULES.len() + 1, "every rule, the scoped one twice");
    env.cleanup().await;
}

/// The schema each role introspects is the one the gates in `server::visibility` describe — the
/// same table the document check enforces — so hidden fields are refused as unknown at any depth.
#[tokio::test]
async fn introspection_and_the_document_check_follow_one_table() {
    use async_graphql::parser::{parse_schema, types::TypeSystemDefinition};
    use server::visibility::{has, has_root};
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let policy = server::policy::Policy::new().unwrap();
    let sdl = parse_schema(server::sdl()).unwrap();
    let mut all: Vec<(String, Vec<(String, String)>)> = vec![];
    for def in sdl.definitions {
        if let TypeSystemDefinition::Type(t) = def
            && let async_graphql::parser::types::TypeKind::Object(o) = &t.node.kind
        {
            let fields = o
                .fields
                .iter()
                .map(|f| {
                    let mut ty = &f.node.ty.node;
                    while let async_graphql::parser::types::BaseType::List(inner) = &ty.base {
                        ty = inner;
                    }
                    (
                        f.node.name.node.to_string(),
                        ty.to_string().trim_end_matches('!').to_owned(),
                    )
                })
                .collect();
            all.push((t.node.name.node.to_string(), fields));
        }
    }
    let variants: Vec<(Role, &[&str])> = vec![
        (Role::Caseworker, &[]),
        (Role::Caseworker, &["special:read"]),
        (Role::Partner, &[]),
        (Role::Network, &[]),
        (Role::Dashboard, &[]),
        (Role::Steward, &[]),
    ];
    for (role, scopes) in variants {
        let org = match role {
            Role::Partner => importers::sample::PARTNERS[0],
            Role::Network | Role::Dashboard => importers::sample::NETWORK,
            _ => importers::sample::MUNICIPALITY,
        };
        let caller = server::auth::Caller {
            subject: "t".into(),
            role,
            organisation_id: org_id(&env, org).await,
            organisation_code: org.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        let token = env.token(role, org, scopes).await;
        let r = send(
            &app,
            post(
                "{ __schema { types { name fields { name } } } }",
                Some(&token),
            ),
        )
        .await;
        let introspected: std::collections::HashMap<String, BTreeSet<String>> =
            r.body["data"]["__schema"]["types"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["fields"].is_array())
                .map(|t| {
                    (
                        t["name"].as_str().unwrap().to_owned(),
                        t["fields"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|f| f["name"].as_str().unwrap().to_owned())
                            .collect(),
                    )
                })
                .collect();
        let c = Some(&caller);
        for (ty, fields) in &all {
            let root = ty == "Query" || ty == "Mutation";
            let expected: BTreeSet<String> = fields
                .iter()
                .filter(|(f, child)| {
                    (if root {
                        has_root(&policy, c, f)
                    } else {
                        has(&policy, c, ty, f)
                    }) && has(&policy, c, child, "")
                })
                .map(|(f, _)| f.clone())
                .collect();
            // A type missing from introspection is one no visible field reaches.
            if let Some(got) = introspected.get(ty) {
                assert_eq!(got, &expected, "{role} {scopes:?} {ty}");
            }
            if !root && !has(&policy, c, ty, "") {
                assert!(
                    !introspected.contains_key(ty),
                    "{role} {scopes:?} sees {ty}"
                );
            }
        }
    }
    env.cleanup().await;
}

/// The nested path vacancy → introductions → candidate → identity, and its variants through
/// fragments, fail as unknown for a partner; so do special fields for a caseworker without
/// `special:read`, at any depth. Nothing executes.
#[tokio::test]
async fn nested_paths_to_hidden_fields_do_not_exist() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let partner = env
        .token(Role::Partner, importers::sample::PARTNERS[0], &[])
        .await;
    let caseworker = env
        .token(Role::Caseworker, importers::sample::MUNICIPALITY, &[])
        .await;
    let cases: [(&str, &str, &str); 8] = [
        (
            &partner,
            "{ candidates(first: 5) { nodes { id person { placements { kind } } } } }",
            "Unknown field \"person\" on type \"Candidate\"",
        ),
        (
            &partner,
            "{ vacancies { edges { node { introductions { candidate { identity { familyName } } } } } } }",
            "Unknown field \"identity\" on type \"Candidate\"",
        ),
        (
            &partner,
            "{ vacancies { edges { node { introductions { person { identity { familyName } } } } } } }",
            "Unknown field \"person\" on type \"Introduction\"",
        ),
        (
            &partner,
            "query { introductions { edges { node { ...F } } } } \
             fragment F on Introduction { status p: person { identity { bsnMasked } } }",
            "Unknown field \"person\" on type \"Introduction\"",
        ),
        (
            &partner,
            "{ introductions { edges { node { candidate { ... on Person { identity { familyName } } } } } } }",
            "Unknown type \"Person\"",
        ),
        (
            &partner,
            "{ transitionsDue { edges { node { candidate { id } person { id } } } } }",
            "Unknown field \"person\" on type \"Transition\"",
        ),
        (
            &caseworker,
            "{ persons { edges { node { sensitive { wageValuePct healthNotes } } } } }",
            "Unknown field \"healthNotes\" on type \"SensitiveDetail\"",
        ),
        (
            &caseworker,
            "{ introductions { edges { node { person { ...S } } } } } \
             fragment S on Person { sensitive { notes: caseNotes } }",
            "Unknown field \"caseNotes\" on type \"SensitiveDetail\"",
        ),
    ];
    for (token, query, error) in cases {
        let r = send(&app, post(query, Some(token))).await;
        let message = r.body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with(error), "{query}: {}", r.text);
        assert!(r.body["data"].is_null(), "nothing executes: {}", r.text);
    }
    env.cleanup().await;
}
