//! Provenance through the API: `Person.sources` lists what each source said about a person, on
//! the sample data imported by the real pipeline, under the policy — UWV's register records
//! only with `special:read` and a purpose (audited), the cells only with `special:read`, personal
//! cells masked.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{TestEnv, post, send, with_purpose};
use model::Role;
use model::entity::{audit_event, source, source_record};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;

const MUNICIPALITY: &str = "gemeente-amsterdam";

/// Every person node the caller's `persons` lists, with `selection` inside `node`.
async fn all_persons(
    app: &axum::Router,
    token: &str,
    purpose: Option<&str>,
    selection: &str,
) -> Vec<Value> {
    common::all_nodes(app, "persons", |after| {
        let q = format!(
            "{{ persons(first: 50{after}) {{ pageInfo {{ hasNextPage endCursor }} \
             edges {{ node {{ id {selection} }} }} }} }}"
        );
        let req = post(&q, Some(token));
        match purpose {
            Some(p) => with_purpose(req, p),
            None => req,
        }
    })
    .await
}

/// `(source name, source key)` of every record the database holds for the person, and the
/// names of the sources whose records are special.
async fn stored(env: &TestEnv, person_id: i64) -> (BTreeSet<(String, String)>, BTreeSet<String>) {
    let sources: BTreeMap<i64, source::Model> = source::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.id, s))
        .collect();
    let records = source_record::Entity::find()
        .filter(source_record::Column::PersonId.eq(person_id))
        .all(&env.db)
        .await
        .unwrap();
    let special = sources
        .values()
        .filter(|s| model::privacy::SPECIAL_SOURCE_KINDS.contains(&s.kind.as_str()))
        .map(|s| s.name.clone())
        .collect();
    let pairs = records
        .into_iter()
        .map(|r| (sources[&r.source_id].name.clone(), r.source_key))
        .collect();
    (pairs, special)
}

/// The database id of a person node listed to the municipality.
fn person_id(env: &TestEnv, node: &Value) -> i64 {
    env.protector
        .open_id(MUNICIPALITY, node["id"].as_str().unwrap())
        .unwrap()
}

fn listed(node: &Value) -> BTreeSet<(String, String)> {
    node["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["source"].as_str().unwrap().to_owned(),
                s["sourceKey"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_caseworker_sees_where_each_persons_data_came_from() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let plain = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let special = env
        .token(Role::Caseworker, MUNICIPALITY, &["special:read"])
        .await;
    let selection =
        "sources { source sourceKey active file rowNumber firstSeenAt lastSeenAt importRun }";

    // Without special:read: every record of every source but UWV's register, per person
    // exactly what the database holds.
    let nodes = all_persons(&app, &plain, None, selection).await;
    assert!(nodes.len() > 20, "the municipality's caseload");
    let mut linked = 0;
    let mut special_held = 0;
    for node in &nodes {
        let id = person_id(&env, node);
        let (all, special_sources) = stored(&env, id).await;
        let public: BTreeSet<_> = all
            .iter()
            .filter(|(s, _)| !special_sources.contains(s))
            .cloned()
            .collect();
        assert_eq!(listed(node), public, "person {id}");
        special_held += usize::from(public.len() < all.len());
        let names: BTreeSet<&String> = public.iter().map(|(s, _)| s).collect();
        linked += usize::from(names.len() > 1);
        for s in node["sources"].as_array().unwrap() {
            assert!(s["importRun"].as_str().unwrap().parse::<i64>().is_ok());
            assert!(s["lastSeenAt"].as_str().unwrap() >= s["firstSeenAt"].as_str().unwrap());
        }
    }
    assert!(
        linked > 0,
        "some persons came from two sources, linked by BSN"
    );
    assert!(
        special_held > 0,
        "some persons have UWV records, not listed"
    );

    // The cells are special: not in this caller's schema.
    let r = send(
        &app,
        post(
            "{ persons(first: 1) { edges { node { sources { values { column } } } } } }",
            Some(&plain),
        ),
    )
    .await;
    assert_eq!(
        r.body["errors"][0]["message"], "Unknown field \"values\" on type \"SourceRecord\".",
        "{}",
        r.text
    );

    // With special:read but no purpose: UWV's records stay out, reading cells is refused.
    let without = all_persons(&app, &special, None, "sources { source sourceKey }").await;
    assert_eq!(
        without.iter().map(listed).collect::<Vec<_>>(),
        nodes.iter().map(listed).collect::<Vec<_>>()
    );
    let r = send(
        &app,
        post(
            "{ persons(first: 5) { edges { node { sources { values { column } } } } } }",
            Some(&special),
        ),
    )
    .await;
    assert_eq!(
        r.body["errors"][0]["extensions"]["code"], "PURPOSE_REQUIRED",
        "{}",
        r.text
    );

    // With a purpose: every record, UWV's too, each listing audited; cells with personal values
    // masked.
    let before = audit_event::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .max()
        .unwrap_or(0);
    let nodes = all_persons(
        &app,
        &special,
        Some("case_management"),
        "sources { source sourceKey values { column value } }",
    )
    .await;
    let mut uwv = 0;
    for node in &nodes {
        let id = person_id(&env, node);
        let (all, special_sources) = stored(&env, id).await;
        assert_eq!(listed(node), all, "person {id}");
        for s in node["sources"].as_array().unwrap() {
            uwv += usize::from(special_sources.contains(s["source"].as_str().unwrap()));
            let cells: BTreeMap<&str, &Value> = s["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["column"].as_str().unwrap(), &c["value"]))
                .collect();
            assert!(!cells.is_empty());
            for (column, value) in cells {
                let personal = [
                    "BSN",
                    "bsn",
                    "Voornaam",
                    "Achternaam",
                    "Naam",
                    "Geboortedatum",
                ];
                if personal.contains(&column) && !value.is_null() {
                    assert_eq!(value, "[personal]", "{column} is masked");
                }
                if let Some(v) = value.as_str() {
                    assert!(
                        !(v.len() == 9 && v.bytes().all(|b| b.is_ascii_digit())),
                        "no BSN in clear ({column})"
                    );
                }
            }
        }
    }
    assert!(uwv > 0, "UWV's records are listed");
    let listing = audit_event::Entity::find()
        .filter(audit_event::Column::Id.gt(before))
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.fields.to_string().contains("Person.sources"))
        .collect::<Vec<_>>();
    assert!(!listing.is_empty(), "listing UWV's records is audited");
    assert!(listing.iter().all(|e| e.purpose == "case_management"));
    env.cleanup().await;
}
