//! The audit log end to end: one event per person read with the fields read, the steward's
//! `auditEvents` query, and `werkbrug audit verify` catching a row changed in the database.

mod common;

use std::process::Command;

use common::{TestEnv, post, send};
use model::Role;
use model::entity::audit_event;
use sea_orm::{ConnectionTrait, EntityTrait, Statement};

const BIN: &str = env!("CARGO_BIN_EXE_werkbrug");

fn verify(env: &TestEnv) -> std::process::Output {
    Command::new(BIN)
        .current_dir(env.dir.path())
        .env_remove("WERKBRUG_CONFIG")
        .envs(env.binary_env())
        .args(["audit", "verify"])
        .output()
        .unwrap()
}

#[tokio::test]
async fn reading_a_bsn_is_audited_once_and_the_chain_catches_tampering() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let caseworker = env.token(Role::Caseworker, "gemeente-amsterdam", &[]).await;
    let r = send(
        &app,
        post(
            "{ persons(first: 1) { edges { node { id } } } }",
            Some(&caseworker),
        ),
    )
    .await;
    let id = r.body["data"]["persons"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        audit_event::Entity::find()
            .all(&env.db)
            .await
            .unwrap()
            .is_empty(),
        "ids are not personal"
    );

    let q = format!(
        "query ReadBsn {{ person(id: \"{id}\") {{ identity {{ bsnMasked }} a: identity {{ bsnMasked }} profile {{ skills }} }} }}"
    );
    let r = send(&app, post(&q, Some(&caseworker))).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    let events = audit_event::Entity::find().all(&env.db).await.unwrap();
    assert_eq!(
        events.len(),
        1,
        "one event for one person, however often the field is selected"
    );
    let e = &events[0];
    assert_eq!(e.fields, serde_json::json!(["PersonIdentity.bsnMasked"]));
    assert_eq!(e.subject, "test-caseworker");
    assert_eq!(e.role, "caseworker");
    assert_eq!(e.purpose, "case_management");
    assert_eq!(e.operation_name.as_deref(), Some("ReadBsn"));
    assert_eq!(r.headers["x-request-id"].to_str().unwrap(), e.request_id);
    assert_eq!(
        e.person_pseudonym.len(),
        64,
        "a pseudonym, not an id or a BSN"
    );

    // A few more reads, then the steward lists them and the chain verifies.
    for _ in 0..3 {
        send(
            &app,
            post(
                "{ persons(first: 3) { edges { node { identity { familyName } } } } }",
                Some(&caseworker),
            ),
        )
        .await;
    }
    let steward = env.token(Role::Steward, "gemeente-amsterdam", &[]).await;
    let r = send(
        &app,
        post(
            "{ auditEvents(first: 100) { id fields purpose hash prevHash } }",
            Some(&steward),
        ),
    )
    .await;
    let listed = r.body["data"]["auditEvents"].as_array().unwrap();
    assert_eq!(listed.len(), 10, "{}", r.text);
    let partner = env
        .token(Role::Partner, importers::sample::PARTNERS[0], &[])
        .await;
    let r = send(&app, post("{ auditEvents { id } }", Some(&partner))).await;
    assert!(r.body["data"].is_null(), "{}", r.text);

    let out = verify(&env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "audit chain intact: 10 events"
    );

    // Someone edits a row in the database: verify names it.
    let victim = audit_event::Entity::find().all(&env.db).await.unwrap()[4].id;
    env.db
        .execute_raw(Statement::from_string(
            env.db.get_database_backend(),
            format!("UPDATE audit_event SET subject = 'someone-else' WHERE id = {victim}"),
        ))
        .await
        .unwrap();
    let out = verify(&env);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("(ids {victim})")), "{err}");

    // Deleting a row breaks the link of the next one.
    env.db
        .execute_raw(Statement::from_string(
            env.db.get_database_backend(),
            format!("DELETE FROM audit_event WHERE id = {}", victim + 2),
        ))
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&verify(&env).stderr).into_owned();
    assert!(err.contains(&format!("{}", victim + 3)), "{err}");
    env.cleanup().await;
}

/// Many caseworkers reading names at once: every request writes its audit events (SQLite takes
/// the write lock up front instead of failing with "database is locked" when another request's
/// events were committed between its read of the chain's tail and its first write), and the
/// chain stays one unbroken line.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_audited_reads_all_succeed_and_keep_one_chain() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let caseworker = env.token(Role::Caseworker, "gemeente-amsterdam", &[]).await;
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..32 {
        let (app, token) = (app.clone(), caseworker.clone());
        requests.spawn(async move {
            let q = format!(
                "{{ persons(first: 3) {{ edges {{ node {{ identity {{ familyName }} }} }} }} }} # {i}"
            );
            send(&app, post(&q, Some(&token))).await
        });
    }
    while let Some(r) = requests.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["errors"].is_null(), "{}", r.text);
    }
    let events = audit_event::Entity::find().all(&env.db).await.unwrap();
    assert_eq!(events.len(), 32 * 3);
    let out = verify(&env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.cleanup().await;
}

#[tokio::test]
async fn reads_through_a_candidate_s_person_are_logged_under_that_person() {
    use model::entity::person;
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let caseworker = env.token(Role::Caseworker, "gemeente-amsterdam", &[]).await;
    let page = |fields: &str| {
        format!("{{ candidates(first: 5) {{ edges {{ node {{ person {{ {fields} }} }} }} }} }}")
    };
    // Placements are internal: nothing to audit (and the persons' rows are not read).
    let r = send(&app, post(&page("placements { kind }"), Some(&caseworker))).await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    assert!(
        audit_event::Entity::find()
            .all(&env.db)
            .await
            .unwrap()
            .is_empty()
    );

    // Identity is personal: one event per person, under that person's pseudonym.
    let r = send(
        &app,
        post(
            &page("identity { familyName } placements { kind }"),
            Some(&caseworker),
        ),
    )
    .await;
    assert!(r.body["errors"].is_null(), "{}", r.text);
    let read = r.body["data"]["candidates"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["node"]["person"]["identity"].is_null())
        .count();
    let known: std::collections::BTreeSet<String> = person::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .map(|p| {
            p.bsn_pseudonym.unwrap_or_else(|| {
                env.protector
                    .keyed_hash(b"person-id:", p.id.to_string().as_bytes())
            })
        })
        .collect();
    let events = audit_event::Entity::find().all(&env.db).await.unwrap();
    assert!(read > 0);
    assert_eq!(events.len(), read);
    for e in events {
        assert!(
            known.contains(&e.person_pseudonym),
            "{}",
            e.person_pseudonym
        );
    }
    env.cleanup().await;
}
