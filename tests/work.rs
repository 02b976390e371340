//! Work to work, as real GraphQL requests against a real database with the imported sample:
//! contracts ending, vacancies, matching and introductions — and who sees what of them.

mod common;

use std::collections::{BTreeSet, HashMap};

use chrono::{Duration, NaiveDate, Utc};
use common::{TestEnv, consented, org_id, post, send};
use importers::sample::{MUNICIPALITY, NETWORK, NOORDERLICHT, PANTAR, PARTNERS};
use model::Role;
use model::entity::{candidate_profile, placement, source, source_record, vacancy};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

async fn gql(app: &axum::Router, token: &str, query: &str) -> Value {
    send(app, post(query, Some(token))).await.body
}

fn ok(r: &Value) {
    assert!(r["errors"].is_null(), "{r}");
}

fn code(r: &Value) -> &str {
    r["errors"][0]["extensions"]["code"].as_str().unwrap_or("")
}

/// Every transition the token sees within `within`, following cursors: (candidate id, end).
async fn all_transitions(
    app: &axum::Router,
    token: &str,
    within: &str,
    fields: &str,
) -> Vec<Value> {
    common::all_nodes(app, "transitionsDue", |after| {
        post(
            &format!(
                "{{ transitionsDue(within: \"{within}\", first: 7{after}) {{ pageInfo {{ hasNextPage endCursor }} \
                 edges {{ node {{ candidate {{ id }} {fields} }} }} }} }}"
            ),
            Some(token),
        )
    })
    .await
}

const TRANSITION_KINDS: [&str; 4] = [
    "employment",
    "secondment",
    "trial_placement",
    "participation_place",
];

/// The transitions rule computed by hand from all placements: person → earliest end.
fn expected_transitions(
    all: &[placement::Model],
    today: NaiveDate,
    horizon: NaiveDate,
) -> HashMap<i64, NaiveDate> {
    let mut out: HashMap<i64, NaiveDate> = HashMap::new();
    for p in all {
        let Some(end) = p.planned_end_date else {
            continue;
        };
        if !TRANSITION_KINDS.contains(&p.kind.as_str())
            || !p.active
            || p.actual_end_date.is_some()
            || end < today
            || end > horizon
        {
            continue;
        }
        let followed = all.iter().any(|f| {
            f.person_id == p.person_id
                && f.id != p.id
                && f.active
                && f.actual_end_date.is_none()
                && match (f.start_date, p.start_date) {
                    (Some(a), Some(b)) => a > b,
                    (Some(_), None) => true,
                    (None, _) => false,
                }
                && f.planned_end_date.is_none_or(|e| e > end)
        });
        if !followed {
            let e = out.entry(p.person_id).or_insert(end);
            *e = (*e).min(end);
        }
    }
    out
}

/// The organisation's caseload by hand: persons it holds a source record for, or an active
/// placement at or through it.
async fn caseload_by_hand(env: &TestEnv, all: &[placement::Model], code: &str) -> BTreeSet<i64> {
    let org = org_id(env, code).await;
    let sources: Vec<i64> = source::Entity::find()
        .filter(source::Column::OrganisationId.eq(org))
        .all(&env.db)
        .await
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    let mut caseload: BTreeSet<i64> = source_record::Entity::find()
        .filter(source_record::Column::SourceId.is_in(sources))
        .all(&env.db)
        .await
        .unwrap()
        .iter()
        .filter_map(|r| r.person_id)
        .collect();
    caseload.extend(
        all.iter()
            .filter(|p| {
                p.actual_end_date.is_none()
                    && (p.organisation_id == org || p.provider_organisation_id == Some(org))
            })
            .map(|p| p.person_id),
    );
    caseload
}

/// The persons with a candidate profile.
async fn profile_ids(env: &TestEnv) -> BTreeSet<i64> {
    candidate_profile::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .iter()
        .map(|p| p.person_id)
        .collect()
}

/// A caseworker's candidate search with full records: every organisation's caseworkers get
/// exactly their caseload's candidates, each with the record of the same person (the page's
/// row filter is the one the records would get; it is not evaluated twice).
#[tokio::test]
async fn candidate_records_are_the_caseload_s_own() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let all = placement::Entity::find().all(&env.db).await.unwrap();
    let profiles = profile_ids(&env).await;
    for code in [MUNICIPALITY, PANTAR, NOORDERLICHT] {
        let want: BTreeSet<i64> = caseload_by_hand(&env, &all, code)
            .await
            .intersection(&profiles)
            .copied()
            .collect();
        let token = env.token(Role::Caseworker, code, &[]).await;
        let nodes = common::all_nodes(&app, "candidates", |after| {
            post(
                &format!(
                    "{{ candidates(first: 40{after}) {{ pageInfo {{ hasNextPage endCursor }} \
                     edges {{ node {{ id person {{ id }} }} }} }} }}"
                ),
                Some(&token),
            )
        })
        .await;
        let mut seen = BTreeSet::new();
        for node in &nodes {
            assert_eq!(node["person"]["id"], node["id"], "{code}: {node}");
            seen.insert(
                env.protector
                    .open_id(code, node["id"].as_str().unwrap())
                    .unwrap(),
            );
        }
        assert!(!want.is_empty(), "{code}");
        assert_eq!(seen, want, "{code}");
    }
    env.cleanup().await;
}

#[tokio::test]
async fn transitions_honour_the_window_and_the_follow_up_rule() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let caseworker = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let today = model::clock::today();

    let all = placement::Entity::find().all(&env.db).await.unwrap();
    let profiles = profile_ids(&env).await;

    // Each organisation's caseworkers see exactly their own caseload's transitions: the
    // municipality (source records) and the social firms (source records and placements held
    // through them), so a row filter that matched the outer placement with itself would show.
    for code in [MUNICIPALITY, PANTAR, NOORDERLICHT] {
        let caseload = caseload_by_hand(&env, &all, code).await;
        let token = env.token(Role::Caseworker, code, &[]).await;
        for (within, horizon) in [
            (
                "P6M",
                today.checked_add_months(chrono::Months::new(6)).unwrap(),
            ),
            ("P30D", today + Duration::days(30)),
        ] {
            let everyone = expected_transitions(&all, today, horizon);
            let expected: HashMap<i64, NaiveDate> = everyone
                .iter()
                .filter(|(p, _)| caseload.contains(p) && profiles.contains(p))
                .map(|(p, d)| (*p, *d))
                .collect();
            let got = all_transitions(&app, &token, within, "endsOn").await;
            let got: HashMap<i64, NaiveDate> = got
                .iter()
                .map(|n| {
                    let id = env
                        .protector
                        .open_id(code, n["candidate"]["id"].as_str().unwrap())
                        .unwrap();
                    (id, n["endsOn"].as_str().unwrap().parse().unwrap())
                })
                .collect();
            assert_eq!(got, expected, "{code}: transitions within {within}");
            if within == "P6M" {
                assert!(
                    got.len() >= 3,
                    "{code}: the sample has contracts ending: {got:?}"
                );
                assert!(
                    everyone.len() > got.len(),
                    "{code}: the sample has transitions outside this caseload"
                );
            }
        }
    }

    // Soonest end first, across pages.
    let list = all_transitions(&app, &caseworker, "P6M", "endsOn").await;
    let ends: Vec<&str> = list.iter().map(|n| n["endsOn"].as_str().unwrap()).collect();
    let mut sorted = ends.clone();
    sorted.sort();
    assert_eq!(ends, sorted);

    // A follow-up placement takes the person off the list; one that ends earlier does not.
    let first = &list[0];
    let person = env
        .protector
        .open_id(MUNICIPALITY, first["candidate"]["id"].as_str().unwrap())
        .unwrap();
    let horizon = today.checked_add_months(chrono::Months::new(6)).unwrap();
    let latest_start = all
        .iter()
        .filter(|p| {
            p.person_id == person
                && TRANSITION_KINDS.contains(&p.kind.as_str())
                && p.active
                && p.actual_end_date.is_none()
                && p.planned_end_date
                    .is_some_and(|e| e >= today && e <= horizon)
        })
        .filter_map(|p| p.start_date)
        .max()
        .unwrap_or(today);
    let organisation_id = all
        .iter()
        .find(|p| p.person_id == person)
        .unwrap()
        .organisation_id;
    let start = latest_start + Duration::days(1);
    let follow_up = placement::ActiveModel {
        person_id: Set(person),
        organisation_id: Set(organisation_id),
        kind: Set("employment".into()),
        start_date: Set(Some(start)),
        planned_end_date: Set(Some(today - Duration::days(1))),
        active: Set(true),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&env.db)
    .await
    .unwrap();
    let ids = |l: Vec<Value>| -> Vec<String> {
        l.iter()
            .map(|n| n["candidate"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = first["candidate"]["id"].as_str().unwrap().to_owned();
    assert!(ids(all_transitions(&app, &caseworker, "P6M", "").await).contains(&id));
    let mut follow_up: placement::ActiveModel = follow_up.into();
    follow_up.planned_end_date = Set(None);
    follow_up.update(&env.db).await.unwrap();
    assert!(!ids(all_transitions(&app, &caseworker, "P6M", "").await).contains(&id));

    // The full record for caseworkers; a bad window is named.
    let r = gql(
        &app,
        &caseworker,
        "{ transitionsDue(first: 3) { edges { node { endsOn person { identity { familyName } placements { kind plannedEndDate } } } } } }",
    )
    .await;
    ok(&r);
    assert!(
        r["data"]["transitionsDue"]["edges"][0]["node"]["person"]["identity"]["familyName"]
            .is_string(),
        "{r}"
    );
    // The same full record from a candidate search.
    let r = gql(
        &app,
        &caseworker,
        "{ candidates(first: 5) { edges { node { id person { id placements { kind organisation { name } } } } } nodes { person { id } } } }",
    )
    .await;
    ok(&r);
    let edges = r["data"]["candidates"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 5, "{r}");
    assert!(
        edges.iter().all(|e| e["node"]["person"]["id"].is_string()),
        "{r}"
    );
    assert!(
        edges
            .iter()
            .any(|e| e["node"]["person"]["placements"][0]["kind"].is_string()),
        "{r}"
    );
    let r = gql(
        &app,
        &caseworker,
        "{ transitionsDue(within: \"6 months\") { edges { node { endsOn } } } }",
    )
    .await;
    assert_eq!(code(&r), "BAD_USER_INPUT");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`within`"),
        "{r}"
    );
    env.cleanup().await;
}

#[tokio::test]
async fn partners_see_only_consented_candidates_in_matches_and_transitions() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let partner = PARTNERS[0];
    let pid = org_id(&env, partner).await;
    let token = env.token(Role::Partner, partner, &[]).await;
    let allowed = consented(&env, Some(pid)).await;
    let opened = |id: &Value| {
        env.protector
            .open_id(partner, id.as_str().unwrap())
            .unwrap()
    };

    // Transitions: consented candidates only, generic profile, no end date or person.
    let list = all_transitions(&app, &token, "P1Y", "candidate { profile { skills } }").await;
    for n in &list {
        assert!(allowed.contains(&opened(&n["candidate"]["id"])));
    }
    let r = gql(
        &app,
        &token,
        "{ transitionsDue { edges { node { endsOn } } } }",
    )
    .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown field"),
        "{r}"
    );

    // Matches for the partner's own open vacancy: consented candidates, best first, and the
    // server's ranking equals the documented score computed here over every candidate it may see.
    let v = vacancy::Entity::find()
        .filter(vacancy::Column::OrganisationId.eq(pid))
        .filter(vacancy::Column::Status.eq("open"))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    let r = gql(
        &app,
        &token,
        &format!(
            "{{ matches(vacancyId: \"{}\", first: 20) {{ score candidate {{ id }} criteria {{ criterion met points maxPoints detail }} }} }}",
            v.id
        ),
    )
    .await;
    ok(&r);
    let matches = r["data"]["matches"].as_array().unwrap();
    assert!(
        !matches.is_empty(),
        "the sample has candidates for {}",
        v.title
    );
    let profiles = candidate_profile::Entity::find()
        .filter(candidate_profile::Column::PersonId.is_in(allowed.iter().copied()))
        .all(&env.db)
        .await
        .unwrap();
    let mut by_hand: Vec<(i64, i64)> = profiles
        .iter()
        .filter(|p| {
            let skills = server::matching::vacancy_skills(&v);
            let has = |list: &serde_json::Value, s: &str| {
                list.as_array()
                    .unwrap()
                    .iter()
                    .any(|x| x.as_str() == Some(s))
            };
            skills.iter().any(|s| has(&p.skills, s))
                || v.work_type
                    .as_deref()
                    .is_some_and(|w| has(&p.work_types, w))
        })
        .map(|p| {
            (
                server::matching::total(&server::matching::assess(&v, p)),
                p.person_id,
            )
        })
        .collect();
    by_hand.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let got: Vec<(i64, i64)> = matches
        .iter()
        .map(|m| (m["score"].as_i64().unwrap(), opened(&m["candidate"]["id"])))
        .collect();
    assert_eq!(got, by_hand.into_iter().take(20).collect::<Vec<_>>());
    for m in matches {
        let criteria = m["criteria"].as_array().unwrap();
        assert_eq!(criteria.len(), 6);
        let sum: i64 = criteria.iter().map(|c| c["points"].as_i64().unwrap()).sum();
        assert_eq!(sum, m["score"].as_i64().unwrap());
    }

    // Another partner's vacancy is not there for this partner; the network may match it.
    let other = vacancy::Entity::find()
        .filter(vacancy::Column::OrganisationId.ne(pid))
        .filter(vacancy::Column::Status.eq("open"))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    let q = format!(
        "{{ matches(vacancyId: \"{}\") {{ score candidate {{ id }} }} }}",
        other.id
    );
    assert_eq!(code(&gql(&app, &token, &q).await), "NOT_FOUND");
    let network = env.token(Role::Network, NETWORK, &[]).await;
    let r = gql(&app, &network, &q).await;
    ok(&r);
    let network_allowed = consented(&env, None).await;
    for m in r["data"]["matches"].as_array().unwrap() {
        let id = env
            .protector
            .open_id(NETWORK, m["candidate"]["id"].as_str().unwrap())
            .unwrap();
        assert!(network_allowed.contains(&id));
    }

    // The reverse: vacancies for a candidate, only the partner's own open ones.
    let candidate = matches[0]["candidate"]["id"].as_str().unwrap();
    let r = gql(
        &app,
        &token,
        &format!("{{ vacanciesFor(candidateId: \"{candidate}\") {{ score vacancy {{ id status organisation {{ code }} }} }} }}"),
    )
    .await;
    ok(&r);
    let list = r["data"]["vacanciesFor"].as_array().unwrap();
    assert!(!list.is_empty());
    for x in list {
        assert_eq!(x["vacancy"]["organisation"]["code"], partner);
        assert_eq!(x["vacancy"]["status"], "open");
    }
    // A person without consent: nothing, as for an id that does not exist.
    let hidden = candidate_profile::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| !allowed.contains(&p.person_id))
        .unwrap();
    let sealed = env.protector.seal_id(partner, hidden.person_id);
    let r = gql(
        &app,
        &token,
        &format!("{{ vacanciesFor(candidateId: \"{sealed}\") {{ score }} }}"),
    )
    .await;
    ok(&r);
    assert_eq!(r["data"]["vacanciesFor"], serde_json::json!([]));
    env.cleanup().await;
}

#[tokio::test]
async fn vacancies_are_posted_changed_and_closed_by_their_partner_only() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let partner = env.token(Role::Partner, PARTNERS[1], &[]).await;
    let rival = env.token(Role::Partner, PARTNERS[2], &[]).await;
    let network = env.token(Role::Network, NETWORK, &[]).await;

    let before = vacancy::Entity::find().all(&env.db).await.unwrap().len();
    let r = gql(
        &app,
        &partner,
        "mutation { createVacancy(input: { title: \"Kok\", hoursPerWeek: 80 }) { id } }",
    )
    .await;
    assert_eq!(code(&r), "BAD_USER_INPUT");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("`input.hoursPerWeek`"),
        "{r}"
    );
    let after = vacancy::Entity::find().all(&env.db).await.unwrap().len();
    assert_eq!(before, after, "a refused vacancy writes nothing");

    let r = gql(
        &app,
        &partner,
        "mutation { createVacancy(input: { title: \" Hulpkok \", workType: \"Catering\", \
         skills: [\"Koken\", \"koken\", \"afwassen\"], hoursPerWeek: 24, district: \"Oost\", \
         suitableForLine3: true, startDate: \"2027-02-01\" }) \
         { id title workType skills status organisation { code } } }",
    )
    .await;
    ok(&r);
    let v = &r["data"]["createVacancy"];
    assert_eq!(v["title"], "Hulpkok");
    assert_eq!(v["workType"], "catering");
    assert_eq!(v["skills"], serde_json::json!(["koken", "afwassen"]));
    assert_eq!(v["status"], "open");
    assert_eq!(v["organisation"]["code"], PARTNERS[1]);
    let id = v["id"].as_str().unwrap().to_owned();

    let open_ids = |r: &Value| -> Vec<String> {
        r["data"]["vacancies"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = "{ vacancies(first: 100) { edges { node { id status } } } }";
    assert!(open_ids(&gql(&app, &network, list).await).contains(&id));
    assert!(!open_ids(&gql(&app, &rival, list).await).contains(&id));

    // The rival can neither change nor close it, and learns nothing from trying.
    for m in [
        format!("mutation {{ updateVacancy(id: \"{id}\", input: {{ title: \"x\" }}) {{ id }} }}"),
        format!("mutation {{ closeVacancy(id: \"{id}\") {{ id }} }}"),
    ] {
        let r = gql(&app, &rival, &m).await;
        assert_eq!(code(&r), "NOT_FOUND", "{r}");
    }
    let r = gql(
        &app,
        &partner,
        &format!("mutation {{ updateVacancy(id: \"{id}\", input: {{ title: \"Kok\", hoursPerWeek: 32 }}) {{ title hoursPerWeek skills }} }}"),
    )
    .await;
    ok(&r);
    assert_eq!(r["data"]["updateVacancy"]["hoursPerWeek"], 32.0);
    assert_eq!(r["data"]["updateVacancy"]["skills"], serde_json::json!([]));

    let r = gql(
        &app,
        &partner,
        &format!("mutation {{ closeVacancy(id: \"{id}\") {{ status }} }}"),
    )
    .await;
    ok(&r);
    assert_eq!(r["data"]["closeVacancy"]["status"], "closed");
    assert!(!open_ids(&gql(&app, &network, list).await).contains(&id));
    assert!(open_ids(&gql(&app, &partner, list).await).contains(&id));
    // The network cannot post; the dashboard does not even see vacancies.
    let r = gql(
        &app,
        &network,
        "mutation { createVacancy(input: { title: \"x\" }) { id } }",
    )
    .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown field"),
        "{r}"
    );
    let dashboard = env.token(Role::Dashboard, NETWORK, &[]).await;
    let r = gql(&app, &dashboard, list).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown field"),
        "{r}"
    );
    env.cleanup().await;
}

/// The organisation codes holding a source record for the person.
async fn holders(env: &TestEnv, person: i64) -> Vec<String> {
    let records = source_record::Entity::find()
        .filter(source_record::Column::PersonId.eq(person))
        .all(&env.db)
        .await
        .unwrap();
    let mut codes = vec![];
    for r in records {
        let s = source::Entity::find_by_id(r.source_id)
            .one(&env.db)
            .await
            .unwrap()
            .unwrap();
        let o = model::entity::organisation::Entity::find_by_id(s.organisation_id)
            .one(&env.db)
            .await
            .unwrap()
            .unwrap();
        if !codes.contains(&o.code) {
            codes.push(o.code);
        }
    }
    codes
}

#[tokio::test]
async fn introductions_move_through_their_states_with_the_right_people_seeing_them() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let partner = PARTNERS[3];
    let pid = org_id(&env, partner).await;
    let token = env.token(Role::Partner, partner, &[]).await;
    let allowed = consented(&env, Some(pid)).await;

    // A consented candidate who is in a caseworker's caseload, and one of the partner's vacancies.
    let v = vacancy::Entity::find()
        .filter(vacancy::Column::OrganisationId.eq(pid))
        .filter(vacancy::Column::Status.eq("open"))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    let mut person = None;
    for p in &allowed {
        let h = holders(&env, *p).await;
        if let Some(code) = h.into_iter().find(|c| c.as_str() != importers::sample::UWV) {
            person = Some((*p, code));
            break;
        }
    }
    let (person, holder) = person.expect("a consented person held by an organisation");
    let candidate = env.protector.seal_id(partner, person);

    let introductions = || async {
        model::entity::introduction::Entity::find()
            .all(&env.db)
            .await
            .unwrap()
            .len()
    };
    let count_before = introductions().await;
    // Without consent: NOT_FOUND, as for an id that does not exist.
    let hidden = candidate_profile::Entity::find()
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .find(|p| !allowed.contains(&p.person_id))
        .unwrap();
    let r = gql(
        &app,
        &token,
        &format!(
            "mutation {{ requestIntroduction(vacancyId: \"{}\", candidateId: \"{}\") {{ id }} }}",
            v.id,
            env.protector.seal_id(partner, hidden.person_id)
        ),
    )
    .await;
    assert_eq!(code(&r), "NOT_FOUND", "{r}");

    let fields = "id status requestedBy { code } vacancy { id } candidate { id } history { status role organisation { code } actor }";
    let r = gql(
        &app,
        &token,
        &format!(
            "mutation {{ requestIntroduction(vacancyId: \"{}\", candidateId: \"{candidate}\") {{ {fields} }} }}",
            v.id
        ),
    )
    .await;
    ok(&r);
    let intro = &r["data"]["requestIntroduction"];
    assert_eq!(intro["status"], "requested");
    assert_eq!(intro["candidate"]["id"], candidate.as_str());
    assert_eq!(intro["history"][0]["actor"], "test-partner");
    let partner_intro_id = intro["id"].as_str().unwrap().to_owned();
    // Asking twice is a conflict.
    let r = gql(
        &app,
        &token,
        &format!(
            "mutation {{ requestIntroduction(vacancyId: \"{}\", candidateId: \"{candidate}\") {{ id }} }}",
            v.id
        ),
    )
    .await;
    assert_eq!(code(&r), "CONFLICT");
    assert_eq!(
        introductions().await,
        count_before + 1,
        "one introduction: the refused requests wrote nothing"
    );

    // Another partner does not see it; the network has no introductions at all.
    let rival = env.token(Role::Partner, PARTNERS[4], &[]).await;
    let r = gql(
        &app,
        &rival,
        "{ introductions(first: 100) { edges { node { vacancy { id } } } } }",
    )
    .await;
    ok(&r);
    assert!(!r.to_string().contains(&format!("\"id\":\"{}\"", v.id)));
    let network = env.token(Role::Network, NETWORK, &[]).await;
    let r = gql(
        &app,
        &network,
        "{ introductions { edges { node { status } } } }",
    )
    .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown field"),
        "{r}"
    );

    // The holder's caseworker sees it with the person's record; another caseworker does not.
    let caseworker = env.token(Role::Caseworker, &holder, &[]).await;
    let r = gql(
        &app,
        &caseworker,
        "{ introductions(first: 100, status: REQUESTED) { edges { node { id status vacancy { id title } requestedBy { code } person { identity { familyName } } } } } }",
    )
    .await;
    ok(&r);
    let vacancy_id = v.id.to_string();
    let mine = r["data"]["introductions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["node"]["vacancy"]["id"] == vacancy_id.as_str()
                && e["node"]["requestedBy"]["code"] == partner
        })
        .expect("the caseworker sees the request")
        .clone();
    assert!(mine["node"]["person"]["identity"]["familyName"].is_string());
    let caseworker_intro_id = mine["node"]["id"].as_str().unwrap().to_owned();
    assert_ne!(
        caseworker_intro_id, partner_intro_id,
        "ids differ per organisation"
    );
    let mut outsider = None;
    for c in ["gemeente-amsterdam", "pantar", "noorderlicht"] {
        if !in_caseload(&env, person, c).await {
            outsider = Some(c);
            break;
        }
    }
    if let Some(outsider) = outsider {
        let other = env.token(Role::Caseworker, outsider, &[]).await;
        let r = gql(
            &app,
            &other,
            &format!(
                "mutation {{ acceptIntroduction(id: \"{caseworker_intro_id}\") {{ status }} }}"
            ),
        )
        .await;
        assert_eq!(code(&r), "NOT_FOUND", "{r}");
    }
    // The partner cannot decide its own request.
    let r = gql(
        &app,
        &token,
        &format!("mutation {{ acceptIntroduction(id: \"{partner_intro_id}\") {{ status }} }}"),
    )
    .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown field"),
        "{r}"
    );

    let r = gql(
        &app,
        &caseworker,
        &format!("mutation {{ acceptIntroduction(id: \"{caseworker_intro_id}\") {{ status decidedAt }} }}"),
    )
    .await;
    ok(&r);
    assert_eq!(r["data"]["acceptIntroduction"]["status"], "accepted");
    let r = gql(
        &app,
        &caseworker,
        &format!("mutation {{ declineIntroduction(id: \"{caseworker_intro_id}\") {{ status }} }}"),
    )
    .await;
    assert_eq!(code(&r), "CONFLICT");

    // The partner sees the decision and who decided it by organisation, not by name.
    let r = gql(&app, &token, &format!("{{ introductions(first: 100, status: ACCEPTED) {{ edges {{ node {{ {fields} decidedAt }} }} }} }}")).await;
    ok(&r);
    let node = r["data"]["introductions"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["id"] == partner_intro_id.as_str())
        .expect("the partner sees its introduction")
        .clone();
    let history = node["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1]["status"], "accepted");
    assert_eq!(history[1]["role"], "caseworker");
    assert_eq!(history[1]["organisation"]["code"], holder.as_str());
    assert!(
        history[1]["actor"].is_null(),
        "no caseworker names for partners"
    );
    assert!(!r.to_string().contains("familyName"));

    let r = gql(&app, &token, &format!("mutation {{ withdrawIntroduction(id: \"{partner_intro_id}\") {{ status history {{ status }} }} }}")).await;
    ok(&r);
    assert_eq!(r["data"]["withdrawIntroduction"]["status"], "withdrawn");
    assert_eq!(
        r["data"]["withdrawIntroduction"]["history"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    env.cleanup().await;
}

/// Whether the organisation holds the person's file: a source record, or an active placement
/// at or through it.
async fn in_caseload(env: &TestEnv, person: i64, code: &str) -> bool {
    let all = placement::Entity::find().all(&env.db).await.unwrap();
    caseload_by_hand(env, &all, code).await.contains(&person)
}
