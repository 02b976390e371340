//! Consent as caseworkers record it: two keys, partner or network, renewal and revocation taking
//! effect on the next request — real GraphQL requests against a real database.

mod common;

use common::{TestEnv, post, send};
use importers::sample::{MUNICIPALITY, PANTAR, PARTNERS};
use model::Role;
use serde_json::Value;

async fn gql(app: &axum::Router, token: &str, query: &str) -> Value {
    send(app, post(query, Some(token))).await.body
}

/// Whether the partner finds the person through `candidate(id)` with its own id for them.
async fn partner_sees(env: &TestEnv, app: &axum::Router, partner: &str, person: i64) -> bool {
    let token = env.token(Role::Partner, partner, &[]).await;
    let id = env.protector.seal_id(partner, person);
    let r = gql(
        app,
        &token,
        &format!("{{ candidate(id: \"{id}\") {{ id profile {{ skills }} }} }}"),
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");
    !r["data"]["candidate"].is_null()
}

#[tokio::test]
async fn two_keys_make_a_profile_visible_and_revocation_hides_it_at_once() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let caseworker = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let partner = PARTNERS[0];

    // A person in the caseload whom no active consent covers.
    let r = gql(
        &app,
        &caseworker,
        "{ persons(first: 100) { edges { node { id consents { status } } } } }",
    )
    .await;
    let edges = r["data"]["persons"]["edges"].as_array().expect("persons");
    let person_id = edges
        .iter()
        .find(|e| {
            e["node"]["consents"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["status"] != "active")
        })
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .expect("someone without an active consent");
    let person = env.protector.open_id(MUNICIPALITY, &person_id).unwrap();
    assert!(!partner_sees(&env, &app, partner, person).await);

    // The person's key alone is not enough.
    let expires = (chrono::Utc::now() + chrono::Duration::days(365)).to_rfc3339();
    let r = gql(
        &app,
        &caseworker,
        &format!(
            "mutation {{ recordConsent(input: {{ personId: \"{person_id}\", audience: PARTNER, \
             partner: \"{partner}\", expiresAt: \"{expires}\", approve: false }}) \
             {{ id status audience personAgreed approvedAt recordedBy }} }}"
        ),
    )
    .await;
    let consent = &r["data"]["recordConsent"];
    assert_eq!(consent["status"], "awaiting_approval", "{r}");
    assert_eq!(consent["recordedBy"], "test-caseworker");
    let consent_id = consent["id"].as_str().unwrap().to_owned();
    assert!(!partner_sees(&env, &app, partner, person).await);

    // Another organisation's caseworker can neither approve it nor learn that it exists.
    let other = env.token(Role::Caseworker, PANTAR, &[]).await;
    let r = gql(
        &app,
        &other,
        &format!("mutation {{ approveConsent(id: \"{consent_id}\") {{ status }} }}"),
    )
    .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{r}");
    let r2 = gql(
        &app,
        &other,
        "mutation { approveConsent(id: \"999999999\") { status } }",
    )
    .await;
    assert_eq!(
        r["errors"][0]["message"], r2["errors"][0]["message"],
        "the same answer for an existing and a missing consent"
    );

    // The caseworker's key: now this partner sees the profile, another partner does not.
    let r = gql(
        &app,
        &caseworker,
        &format!("mutation {{ approveConsent(id: \"{consent_id}\") {{ status approvedBy }} }}"),
    )
    .await;
    assert_eq!(r["data"]["approveConsent"]["status"], "active", "{r}");
    assert!(partner_sees(&env, &app, partner, person).await);
    assert!(!partner_sees(&env, &app, PARTNERS[1], person).await);

    // Renewal moves the expiry; revocation takes effect on the partner's next request.
    let later = (chrono::Utc::now() + chrono::Duration::days(700)).to_rfc3339();
    let r = gql(
        &app,
        &caseworker,
        &format!(
            "mutation {{ renewConsent(id: \"{consent_id}\", expiresAt: \"{later}\") {{ expiresAt }} }}"
        ),
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");
    let r = gql(
        &app,
        &caseworker,
        &format!("mutation {{ revokeConsent(id: \"{consent_id}\") {{ status revokedAt }} }}"),
    )
    .await;
    assert_eq!(r["data"]["revokeConsent"]["status"], "revoked", "{r}");
    assert!(!partner_sees(&env, &app, partner, person).await);
    env.cleanup().await;
}

#[tokio::test]
async fn consent_mutations_refuse_what_they_should() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let caseworker = env.token(Role::Caseworker, MUNICIPALITY, &[]).await;
    let r = gql(
        &app,
        &caseworker,
        "{ persons(first: 1) { edges { node { id } } } }",
    )
    .await;
    let person_id = r["data"]["persons"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let record =
        |input: String| format!("mutation {{ recordConsent(input: {{ {input} }}) {{ id }} }}");
    let future = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let far = (chrono::Utc::now() + chrono::Duration::days(4 * 365)).to_rfc3339();
    let before = consents(&env).await;
    for (input, message) in [
        (
            format!("personId: \"{person_id}\", audience: NETWORK, expiresAt: \"{far}\""),
            "at most three years ahead",
        ),
        (
            format!("personId: \"{person_id}\", audience: NETWORK, expiresAt: \"{past}\""),
            "must lie in the future",
        ),
        (
            format!("personId: \"{person_id}\", audience: PARTNER, expiresAt: \"{future}\""),
            "needs `partner`",
        ),
        (
            format!(
                "personId: \"{person_id}\", audience: PARTNER, partner: \"{PANTAR}\", expiresAt: \"{future}\""
            ),
            "not a partner employer",
        ),
        (
            format!("personId: \"not-an-id\", audience: NETWORK, expiresAt: \"{future}\""),
            "names nothing in your caseload",
        ),
    ] {
        let r = gql(&app, &caseworker, &record(input)).await;
        let msg = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(message), "{message}: {r}");
    }

    // A person outside the caseload: the other organisation's id for them does not open here.
    let other = env.token(Role::Caseworker, PANTAR, &[]).await;
    let r = gql(
        &app,
        &other,
        &record(format!(
            "personId: \"{person_id}\", audience: NETWORK, expiresAt: \"{future}\""
        )),
    )
    .await;
    assert_eq!(r["errors"][0]["extensions"]["code"], "NOT_FOUND", "{r}");

    // For partners, the network, dashboards and stewards the mutations do not exist.
    for (role, org) in [
        (Role::Partner, PARTNERS[0]),
        (Role::Network, "sociaal-werkkoepel"),
        (Role::Dashboard, "sociaal-werkkoepel"),
        (Role::Steward, MUNICIPALITY),
    ] {
        let token = env.token(role, org, &[]).await;
        let r = gql(
            &app,
            &token,
            "mutation { revokeConsent(id: \"1\") { status } }",
        )
        .await;
        let msg = r["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("Unknown field \"revokeConsent\" on type \"Mutation\""),
            "{role}: {r}"
        );
    }
    assert_eq!(
        consents(&env).await,
        before,
        "no refusal wrote or changed a consent"
    );
    env.cleanup().await;
}

/// Every consent as stored, to show that refusals change nothing.
async fn consents(env: &TestEnv) -> Vec<model::entity::consent::Model> {
    use sea_orm::{EntityTrait, QueryOrder};
    model::entity::consent::Entity::find()
        .order_by_asc(model::entity::consent::Column::Id)
        .all(&env.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn job_agreement_eligibility_reaches_a_partner_only_where_the_consent_names_it() {
    let env = TestEnv::with_sample().await;
    let app = server::app(env.state());
    let caseworker = env
        .token(Role::Caseworker, MUNICIPALITY, &["special:read"])
        .await;
    let (p0, p1) = (PARTNERS[0], PARTNERS[1]);

    // A registered person in the caseload whom no active consent covers yet.
    let r = send(
        &app,
        common::with_purpose(
            post(
                "{ persons(first: 100) { edges { node { id consents { status } \
                   sensitive { targetGroupRegister } } } } }",
                Some(&caseworker),
            ),
            "matching",
        ),
    )
    .await
    .body;
    let person_id = r["data"]["persons"]["edges"]
        .as_array()
        .expect("persons")
        .iter()
        .find(|e| {
            e["node"]["sensitive"]["targetGroupRegister"] == "registered"
                && e["node"]["consents"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| c["status"] != "active")
        })
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .expect("a registered person without consent in the sample");
    let person = env.protector.open_id(MUNICIPALITY, &person_id).unwrap();
    let expires = (chrono::Utc::now() + chrono::Duration::days(90)).to_rfc3339();
    let r = gql(
        &app,
        &caseworker,
        &format!(
            "mutation {{ recordConsent(input: {{ personId: \"{person_id}\", audience: PARTNER, \
             partner: \"{p0}\", scope: GENERIC_PROFILE_AND_JOB_AGREEMENT, expiresAt: \"{expires}\" }}) \
             {{ status scope }} }}"
        ),
    )
    .await;
    assert_eq!(r["data"]["recordConsent"]["status"], "active", "{r}");

    let query = |id: &str| format!("{{ candidate(id: \"{id}\") {{ jobAgreementEligible }} }}");
    let partner0 = env.token(Role::Partner, p0, &[]).await;
    let r = gql(&app, &partner0, &query(&env.protector.seal_id(p0, person))).await;
    assert_eq!(r["data"]["candidate"]["jobAgreementEligible"], true, "{r}");

    // Filtering finds the person among those whose consent names it, and only there.
    let ids = |r: &Value| -> Vec<i64> {
        r["data"]["candidates"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                env.protector
                    .open_id(p0, e["node"]["id"].as_str().unwrap())
                    .unwrap()
            })
            .collect()
    };
    let eligible = gql(
        &app,
        &partner0,
        "{ candidates(first: 100, filter: { jobAgreementEligible: true }) { edges { node { id jobAgreementEligible } } } }",
    )
    .await;
    assert!(ids(&eligible).contains(&person), "{eligible}");
    for e in eligible["data"]["candidates"]["edges"].as_array().unwrap() {
        assert_eq!(e["node"]["jobAgreementEligible"], true, "{eligible}");
    }
    let not_eligible = gql(
        &app,
        &partner0,
        "{ candidates(first: 100, filter: { jobAgreementEligible: false }) { edges { node { id jobAgreementEligible } } } }",
    )
    .await;
    assert!(!ids(&not_eligible).contains(&person));
    for e in not_eligible["data"]["candidates"]["edges"]
        .as_array()
        .unwrap()
    {
        assert_eq!(e["node"]["jobAgreementEligible"], false, "{not_eligible}");
    }

    // Another partner, without such a consent, learns nothing.
    let partner1 = env.token(Role::Partner, p1, &[]).await;
    let r = gql(&app, &partner1, &query(&env.protector.seal_id(p1, person))).await;
    assert!(r["data"]["candidate"].is_null(), "{r}");

    // Every read is audited, as a special field.
    let r = gql(
        &app,
        &env.token(Role::Steward, MUNICIPALITY, &[]).await,
        "{ auditEvents(first: 100) { fields } }",
    )
    .await;
    let reads = r["data"]["auditEvents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["fields"]
                .to_string()
                .contains("Candidate.jobAgreementEligible")
        })
        .count();
    assert!(reads >= 2, "{r}");

    // Placement end dates are internal: partners may not filter on them, caseworkers may.
    let r = gql(
        &app,
        &partner0,
        "{ candidates(filter: { placementEndingBefore: \"2030-01-01\" }) { edges { node { id } } } }",
    )
    .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("CandidateFilter.placementEndingBefore"),
        "{r}"
    );
    let r = gql(
        &app,
        &caseworker,
        "{ candidates(first: 100, filter: { placementEndingBefore: \"2030-01-01\" }) { edges { node { id } } } }",
    )
    .await;
    assert!(r["errors"].is_null(), "{r}");
    assert!(
        !r["data"]["candidates"]["edges"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    env.cleanup().await;
}
