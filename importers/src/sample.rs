//! The bundled sample data: a small, invented but realistic data set, generated deterministically
//! from a seed. No real person's data: names are combined from common lists, BSNs are random
//! numbers that pass the eleven-test, e-mail addresses use example.org, phone numbers 06-0000….
//!
//! The sample goes through the importers as real data would: it writes the municipality's XLSX
//! export, Pantar's XLSX and Noorderlicht's CSV (with the quirks real exports have, and a few rows
//! that are refused), serves UWV's indications as feed pages from an HTTP endpoint on loopback,
//! and imports all four with the real pipeline. What no export carries — a caseworker's consent
//! approvals, intake details, earlier placements, the partners' vacancies — is then recorded the
//! way those users would record it.

use std::collections::HashSet;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use model::entity::{
    candidate_profile, consent, introduction, introduction_event, organisation, person,
    person_identity, placement, sensitive_detail, vacancy,
};
use model::{BsnProtector, OrganisationKind as K};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde_json::{Value, json};

use crate::config::{ImportConfig, SourceConfig};
use crate::error::ImportError;
use crate::fixtures::{
    MUNICIPALITY_HEADERS, SOCIAL_FIRM_HEADERS, municipality_rows, random_bsn, write_csv, write_xlsx,
};
use crate::pipeline::{Importer, RunOptions, Trigger};

/// Code of the municipality, Gemeente Amsterdam.
pub const MUNICIPALITY: &str = "gemeente-amsterdam";
/// Code of UWV.
pub const UWV: &str = "uwv";
/// Code of the social firm Pantar.
pub const PANTAR: &str = "pantar";
/// Code of the invented social firm Werkbedrijf Noorderlicht.
pub const NOORDERLICHT: &str = "noorderlicht";
/// Codes of the two social firms.
pub const SOCIAL_FIRMS: [&str; 2] = [PANTAR, NOORDERLICHT];
/// Codes of the five invented partner employers.
pub const PARTNERS: [&str; 5] = [
    "schoonmaak-amstelglans",
    "catering-ijkeuken",
    "luchthaven-grondservice-west",
    "uitzendbureau-werkzaam",
    "tankstation-de-ring",
];
/// Code of the network organisation, the Sociaal Werkkoepel.
pub const NETWORK: &str = "sociaal-werkkoepel";
/// How many persons the sample holds.
pub const PERSONS: usize = 200;

#[rustfmt::skip]
const ORGANISATIONS: [(&str, &str, K); 10] = [
    ("Gemeente Amsterdam", MUNICIPALITY, K::Municipality),
    ("UWV", UWV, K::Uwv),
    ("Pantar", PANTAR, K::SocialFirm),
    ("Werkbedrijf Noorderlicht", NOORDERLICHT, K::SocialFirm),
    ("Schoonmaak Amstelglans", PARTNERS[0], K::Employer),
    ("Catering IJkeuken", PARTNERS[1], K::Employer),
    ("Luchthaven Grondservice West", PARTNERS[2], K::Employer),
    ("Uitzendbureau Werkzaam", PARTNERS[3], K::Employer),
    ("Tankstation De Ring", PARTNERS[4], K::Employer),
    ("Sociaal Werkkoepel", NETWORK, K::Network),
];
/// (organisation, source name, preset, format, schedule).
type SourceSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);
/// The sources, imported in this order.
#[rustfmt::skip]
const SOURCES: [SourceSpec; 4] = [
    (MUNICIPALITY, "gemeente-deelnemers", "municipality", "xlsx", "0 0 6 * * *"),
    (PANTAR, "pantar-medewerkers", "social_firm", "xlsx", "0 30 6 * * *"),
    (NOORDERLICHT, "noorderlicht-medewerkers", "social_firm", "csv", "0 0 7 * * Mon"),
    (UWV, "uwv-indicaties", "uwv", "json", "0 15 */4 * * *"),
];
/// The files the sample writes.
const MUNICIPALITY_FILE: &str = "gemeente-deelnemers.xlsx";
const PANTAR_FILE: &str = "pantar-medewerkers.xlsx";
const NOORDERLICHT_FILE: &str = "noorderlicht-medewerkers.csv";
#[rustfmt::skip]
const GIVEN: &[&str] = &[
    "Anouk", "Bram", "Chaima", "Daan", "Esra", "Fleur", "Gijs", "Hamza", "Iris", "Jesse", "Kevin",
    "Lotte", "Mohamed", "Noor", "Omar", "Priya", "Quinten", "Rachid", "Sanne", "Tim", "Usha",
    "Vera", "Wesley", "Yasmina", "Zeynep", "Ayoub", "Bo", "Demi", "Emre", "Farah", "Gerrit",
    "Ilse", "Jurgen", "Kofi", "Marieke", "Nadia", "Patrick", "Romano", "Shanti", "Thijs",
];
#[rustfmt::skip]
const PREFIXES: &[Option<&str>] = &[
    None, None, None, None, None, None, None, Some("van"), Some("de"), Some("van der"),
    Some("van den"),
];
#[rustfmt::skip]
const FAMILY: &[&str] = &[
    "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Vos", "Peters", "Hendriks",
    "Dekker", "Brouwer", "Yilmaz", "El Amrani", "Kaya", "Ramdin", "Koster", "Prins", "Huisman",
    "Kok", "Berg", "Veen", "Boer", "Graaf", "Linden", "Doğan", "Bouzid", "Sitaram", "Wijk",
    "Groot", "Mensah", "Kowalski", "Martina", "Nijhuis", "Oduya", "Pinas", "Tahiri", "Zwart",
];
/// Amsterdam districts (stadsdelen) with a typical postcode area.
#[rustfmt::skip]
const DISTRICTS: &[(&str, &str)] = &[
    ("Centrum", "1012"), ("Nieuw-West", "1064"), ("Noord", "1032"), ("Oost", "1093"),
    ("West", "1055"), ("Zuid", "1077"), ("Zuidoost", "1103"), ("Weesp", "1382"),
];
#[rustfmt::skip]
const SKILLS: &[&str] = &[
    "schoonmaken", "klantcontact", "heftruck", "koken", "administratie", "logistiek",
    "groenonderhoud", "beveiliging", "kassa", "magazijn", "orderpicken", "afwassen",
    "bagage afhandelen", "inpakken", "tanken en shop", "rolstoelbegeleiding",
];
#[rustfmt::skip]
const STRENGTHS: &[&str] = &[
    "betrouwbaar", "punctueel", "zorgvuldig", "klantvriendelijk", "leergierig", "teamspeler",
    "zelfstandig", "fysiek sterk", "rustig onder druk",
];
#[rustfmt::skip]
const DEVELOPMENT: &[&str] = &[
    "Nederlandse taal", "werktempo", "plannen", "samenwerken", "omgaan met feedback",
    "digitale vaardigheden", "op tijd komen",
];
#[rustfmt::skip]
const WORK_TYPES: &[&str] = &[
    "schoonmaak", "catering", "logistiek", "groen", "productie", "detailhandel", "facilitair",
    "luchthavendiensten",
];
#[rustfmt::skip]
const DAYS: &[&str] = &["monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];
const LANGUAGES: &[&str] = &["en", "ar", "tr", "pap", "srn", "pl", "ti", "so"];
#[rustfmt::skip]
const HEALTH: &[&str] = &[
    "Rugklachten; geen zwaar tillen", "Concentratieproblemen bij drukte",
    "Beperkte belastbaarheid na lange afwezigheid", "Hoort slecht aan één oor",
    "Snel vermoeid; korte werkdagen", "Heeft baat bij een vaste werkplek en vaste collega's",
];
#[rustfmt::skip]
const WORKLOAD: &[&str] = &[
    "max. 6 uur per dag", "geen nachtdiensten", "niet langer dan 2 uur staand werk",
    "vaste pauzes elke 2 uur",
];
#[rustfmt::skip]
const CASE_NOTES: &[&str] = &[
    "Gesprek gevoerd over doorstroom; volgt training.",
    "Wil graag meer uren; jobcoach stemt af met werkgever.",
    "Loopt goed; eind contract bespreken met werkgever.",
    "Taalcursus gestart, voortgang in volgend gesprek.",
];
/// Legal bases a case file records, weighted.
#[rustfmt::skip]
const LEGAL_BASES: &[&str] = &[
    "participatiewet", "participatiewet", "participatiewet", "wajong", "wsw", "sheltered_work",
];
/// Why a trajectory ended, as the municipality writes it.
#[rustfmt::skip]
const OUTFLOW_REASONS: &[&str] = &[
    "Werk", "Werk", "Regulier werk", "Opleiding", "Zorg en dagbesteding", "Terug naar uitkering",
    "Verhuisd",
];
/// Education levels as exports write them: SUWI numbers and names.
#[rustfmt::skip]
const EDUCATION: &[&str] = &["1", "2", "mbo 1", "mbo 2", "vmbo", "mbo 3", "havo", "4", "hbo"];
/// (partner index, title, work type, skills); two are closed.
#[rustfmt::skip]
const VACANCIES: [(usize, &str, &str, &[&str]); 15] = [
    (0, "Medewerker schoonmaak", "schoonmaak", &["schoonmaken"]),
    (0, "Medewerker kantoorschoonmaak", "schoonmaak", &["schoonmaken", "klantcontact"]),
    (0, "Glazenwasser in opleiding", "schoonmaak", &["schoonmaken"]),
    (1, "Medewerker bediening", "catering", &["klantcontact", "afwassen"]),
    (1, "Hulpkok", "catering", &["koken"]),
    (1, "Medewerker spoelkeuken", "catering", &["afwassen"]),
    (2, "Bagagemedewerker", "luchthavendiensten", &["bagage afhandelen", "logistiek"]),
    (2, "Medewerker vliegtuigschoonmaak", "luchthavendiensten", &["schoonmaken"]),
    (2, "Medewerker rolstoelassistentie", "luchthavendiensten", &["rolstoelbegeleiding", "klantcontact"]),
    (3, "Orderpicker", "logistiek", &["orderpicken", "magazijn"]),
    (3, "Heftruckchauffeur", "logistiek", &["heftruck", "magazijn"]),
    (3, "Productiemedewerker inpak", "productie", &["inpakken"]),
    (4, "Medewerker shop", "detailhandel", &["kassa", "klantcontact"]),
    (4, "Medewerker tankstation", "detailhandel", &["tanken en shop", "kassa"]),
    (4, "Medewerker wasstraat", "facilitair", &["schoonmaken"]),
];
const CLOSED_VACANCIES: [usize; 2] = [2, 10];
/// Vacancies with an introduction request of their partner.
const INTRODUCED: [usize; 2] = [0, 3];

/// What was loaded, for the demo banner and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleSummary {
    /// Organisations in the database.
    pub organisations: usize,
    /// Persons in the database.
    pub persons: usize,
    /// Placements in the database.
    pub placements: usize,
    /// Consents in the database.
    pub consents: usize,
    /// Vacancies in the database.
    pub vacancies: usize,
    /// Import runs, one per source.
    pub runs: usize,
    /// Rows the importers refused (stored as rejected rows).
    pub rejected: i64,
}

/// Why the sample data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The database already holds organisations.
    #[error(
        "the database already holds data; sample data goes into a fresh database \
         (point DATABASE_URL at a new database, or use `werkbrug serve --demo`)"
    )]
    NotEmpty,
    /// The sample files could not be written.
    #[error("cannot write the sample files into {0}: {1}; check that the folder is writable")]
    Files(String, String),
    /// The UWV feed endpoint could not start.
    #[error("cannot serve the sample UWV feed on 127.0.0.1: {0}")]
    Feed(std::io::Error),
    /// An import of a sample file failed.
    #[error("the sample import of `{0}` failed: {1}; start again with a fresh database")]
    Import(&'static str, Box<ImportError>),
    /// The database refused a statement.
    #[error(
        "cannot load the sample data: {0}; check that the database is migrated \
         (`werkbrug migrate up`) and writable, and start again with a fresh database"
    )]
    Db(#[from] DbErr),
}

/// Loads the invented sample data, generated from `seed`, into a migrated, empty database: writes
/// the source files into `dir`, serves the UWV feed on loopback for as long as the Tokio runtime
/// runs, and imports everything through the importers.
pub async fn load_sample(
    db: &DatabaseConnection,
    protector: &BsnProtector,
    seed: u64,
    dir: &Path,
) -> Result<SampleSummary, SampleError> {
    let now = Utc::now();
    insert_organisations(db, now).await?;
    let exports = Exports::generate(seed, now);
    let files = |e: std::io::Error| SampleError::Files(dir.display().to_string(), e.to_string());
    let xlsx = |e: rust_xlsxwriter::XlsxError| {
        SampleError::Files(dir.display().to_string(), e.to_string())
    };
    std::fs::create_dir_all(dir).map_err(files)?;
    let path = |file: &str| dir.join(file).display().to_string();
    write_xlsx(
        &dir.join(MUNICIPALITY_FILE),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &exports.municipality,
    )
    .map_err(xlsx)?;
    write_xlsx(
        &dir.join(PANTAR_FILE),
        "Medewerkers",
        &SOCIAL_FIRM_HEADERS,
        &exports.pantar,
    )
    .map_err(xlsx)?;
    write_csv(
        &dir.join(NOORDERLICHT_FILE),
        &SOCIAL_FIRM_HEADERS,
        &exports.noorderlicht,
    )
    .map_err(files)?;
    let feed_url = serve_feed(exports.uwv).await.map_err(SampleError::Feed)?;

    let sources: Vec<SourceConfig> = SOURCES
        .iter()
        .map(|&(org, name, kind, format, schedule)| SourceConfig {
            name: name.into(),
            kind: kind.into(),
            organisation: org_name(org).into(),
            format: format.into(),
            location: match format {
                "json" => feed_url.clone(),
                _ => path(match org {
                    MUNICIPALITY => MUNICIPALITY_FILE,
                    PANTAR => PANTAR_FILE,
                    _ => NOORDERLICHT_FILE,
                }),
            },
            schedule: Some(schedule.into()),
            page_size: (format == "json").then_some(25),
            ..Default::default()
        })
        .collect();
    let importer = Importer::new(
        db.clone(),
        protector.clone(),
        ImportConfig::default(),
        sources,
    );
    importer
        .sync_sources()
        .await
        .map_err(|e| SampleError::Import("sources", Box::new(e)))?;
    let mut rejected = 0;
    for (_, name, ..) in SOURCES {
        let run = importer
            .run(name, Trigger::Sample, RunOptions::default())
            .await
            .map_err(|e| SampleError::Import(name, Box::new(e)))?;
        rejected += run.counts.rejected;
    }

    let txn = db.begin().await?;
    Caseworkers {
        rng: StdRng::seed_from_u64(seed.wrapping_add(1)),
        txn: &txn,
        now,
        today: model::clock::date_at(now),
    }
    .run()
    .await?;
    txn.commit().await?;
    Ok(SampleSummary {
        organisations: organisation::Entity::find().count(db).await? as usize,
        persons: person::Entity::find().count(db).await? as usize,
        placements: placement::Entity::find().count(db).await? as usize,
        consents: consent::Entity::find().count(db).await? as usize,
        vacancies: vacancy::Entity::find().count(db).await? as usize,
        runs: SOURCES.len(),
        rejected,
    })
}

/// Creates the sample's organisations in an empty database.
async fn insert_organisations(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<(), SampleError> {
    if organisation::Entity::find().count(db).await? > 0 {
        return Err(SampleError::NotEmpty);
    }
    let txn = db.begin().await?;
    for (name, code, kind) in ORGANISATIONS {
        organisation::ActiveModel {
            name: Set(name.into()),
            code: Set(code.into()),
            kind: Set(kind.as_str().into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Writes `persons` generated municipality rows ([`municipality_rows`], seeded by `seed`) as
/// the municipality's export into `dir`, as XLSX (`gemeente-deelnemers.xlsx`) or, with `csv`,
/// as CSV (`gemeente-deelnemers.csv`); returns the file's path.
pub fn write_generated_export(
    persons: usize,
    seed: u64,
    dir: &Path,
    csv: bool,
) -> Result<std::path::PathBuf, SampleError> {
    let failed = |e: String| SampleError::Files(dir.display().to_string(), e);
    std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
    let rows = municipality_rows(persons, seed);
    let file = dir.join(MUNICIPALITY_FILE);
    if csv {
        let file = file.with_extension("csv");
        write_csv(&file, &MUNICIPALITY_HEADERS, &rows).map_err(|e| failed(e.to_string()))?;
        Ok(file)
    } else {
        write_xlsx(&file, "Deelnemers", &MUNICIPALITY_HEADERS, &rows)
            .map_err(|e| failed(e.to_string()))?;
        Ok(file)
    }
}

/// Loads `persons` generated municipality rows into a migrated, empty database, for benchmarks
/// and load tests: the rows of the import benchmark ([`municipality_rows`], seeded by `seed`)
/// are written as the municipality's XLSX export into `dir` and imported through the importers
/// (source `gemeente-deelnemers`); then caseworkers act in bulk as in the sample — most imported
/// consents approved (three in twenty left waiting, one revoked, one expired), a partner consent
/// for one in eight persons without one, and the partners' vacancies.
pub async fn load_generated(
    db: &DatabaseConnection,
    protector: &BsnProtector,
    persons: usize,
    seed: u64,
    dir: &Path,
) -> Result<SampleSummary, SampleError> {
    use sea_orm::QuerySelect;
    let now = Utc::now();
    insert_organisations(db, now).await?;
    let file = write_generated_export(persons, seed, dir, false)?;
    let (_, name, kind, format, schedule) = SOURCES[0];
    let importer = Importer::new(
        db.clone(),
        protector.clone(),
        ImportConfig::default(),
        vec![SourceConfig {
            name: name.into(),
            kind: kind.into(),
            organisation: org_name(MUNICIPALITY).into(),
            format: format.into(),
            location: file.display().to_string(),
            schedule: Some(schedule.into()),
            ..Default::default()
        }],
    );
    importer
        .sync_sources()
        .await
        .map_err(|e| SampleError::Import("sources", Box::new(e)))?;
    let run = importer
        .run(name, Trigger::Sample, RunOptions::default())
        .await
        .map_err(|e| SampleError::Import(name, Box::new(e)))?;

    let txn = db.begin().await?;
    let holder = format!("jobcoach@{MUNICIPALITY}");
    let waiting = || {
        Condition::all()
            .add(consent::Column::ApprovedAt.is_null())
            .add(consent::Column::PersonAgreed.eq(true))
    };
    let by_id = |sql: &str| Expr::cust(format!("consent.id % 20 {sql}"));
    // The same shares as the sample's caseworkers: 0–2 waiting, 3 revoked, 4 expired, rest active.
    consent::Entity::update_many()
        .col_expr(consent::Column::ApprovedBy, Expr::value(holder.clone()))
        .col_expr(consent::Column::ApprovedAt, Expr::value(now))
        .col_expr(consent::Column::RevokedAt, Expr::value(now))
        .col_expr(consent::Column::UpdatedAt, Expr::value(now))
        .filter(waiting().add(by_id("= 3")))
        .exec(&txn)
        .await?;
    let granted = now - Duration::days(450);
    consent::Entity::update_many()
        .col_expr(consent::Column::ApprovedBy, Expr::value(holder.clone()))
        .col_expr(consent::Column::ApprovedAt, Expr::value(granted))
        .col_expr(consent::Column::GrantedAt, Expr::value(granted))
        .col_expr(
            consent::Column::ExpiresAt,
            Expr::value(granted + Duration::days(365)),
        )
        .col_expr(consent::Column::UpdatedAt, Expr::value(now))
        .filter(waiting().add(by_id("= 4")))
        .exec(&txn)
        .await?;
    consent::Entity::update_many()
        .col_expr(consent::Column::ApprovedBy, Expr::value(holder.clone()))
        .col_expr(consent::Column::ApprovedAt, Expr::value(now))
        .col_expr(
            consent::Column::ExpiresAt,
            Expr::value(now + Duration::days(365)),
        )
        .col_expr(consent::Column::UpdatedAt, Expr::value(now))
        .filter(waiting().add(by_id(">= 5")))
        .exec(&txn)
        .await?;
    let partners: Vec<i64> = organisation::Entity::find()
        .select_only()
        .column(organisation::Column::Id)
        .filter(organisation::Column::Code.is_in(PARTNERS))
        .order_by_asc(organisation::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    let without: Vec<i64> = person::Entity::find()
        .select_only()
        .column(person::Column::Id)
        .filter(
            person::Column::Id.not_in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(consent::Column::PersonId)
                    .from(consent::Entity)
                    .to_owned(),
            ),
        )
        .order_by_asc(person::Column::Id)
        .into_tuple()
        .all(&txn)
        .await?;
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(1));
    for chunk in without.chunks(500) {
        let mut chosen: Vec<(i64, i64)> = vec![];
        for &person_id in chunk {
            if rng.gen_bool(0.125) {
                chosen.push((person_id, rng.gen_range(1..200)));
            }
        }
        let rows: Vec<consent::ActiveModel> = chosen
            .into_iter()
            .map(|(person_id, days_ago)| {
                let granted = now - Duration::days(days_ago);
                consent::ActiveModel {
                    person_id: Set(person_id),
                    audience: Set("partner".into()),
                    partner_organisation_id: Set(Some(
                        partners[person_id as usize % partners.len()],
                    )),
                    scope: Set("generic_profile".into()),
                    person_agreed: Set(true),
                    granted_at: Set(granted),
                    expires_at: Set(Some(granted + Duration::days(365))),
                    approved_by: Set(Some(holder.clone())),
                    approved_at: Set(Some(granted)),
                    recorded_by: Set(format!("caseworker@{MUNICIPALITY}")),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
            })
            .collect();
        if !rows.is_empty() {
            consent::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
        }
    }
    let shareable: Vec<i64> = consent::Entity::find()
        .select_only()
        .column(consent::Column::PersonId)
        .filter(consent::Column::RevokedAt.is_null())
        .filter(consent::Column::ApprovedAt.is_not_null())
        .order_by_asc(consent::Column::PersonId)
        .limit(1000)
        .into_tuple()
        .all(&txn)
        .await?;
    Caseworkers {
        rng,
        txn: &txn,
        now,
        today: model::clock::date_at(now),
    }
    .vacancies(&partners, &shareable)
    .await?;
    txn.commit().await?;
    Ok(SampleSummary {
        organisations: organisation::Entity::find().count(db).await? as usize,
        persons: person::Entity::find().count(db).await? as usize,
        placements: placement::Entity::find().count(db).await? as usize,
        consents: consent::Entity::find().count(db).await? as usize,
        vacancies: vacancy::Entity::find().count(db).await? as usize,
        runs: 1,
        rejected: run.counts.rejected,
    })
}

fn org_name(code: &str) -> &'static str {
    ORGANISATIONS
        .iter()
        .find(|(_, c, _)| *c == code)
        .map_or("", |(n, ..)| n)
}

/// Serves the UWV feed (`GET …?updated_since=&cursor=&limit=`) on an ephemeral loopback port.
async fn serve_feed(items: Vec<Value>) -> std::io::Result<String> {
    use axum::extract::{Query, State};
    use std::collections::HashMap;
    use std::sync::Arc;

    async fn page(
        State(items): State<Arc<Vec<Value>>>,
        Query(q): Query<HashMap<String, String>>,
    ) -> axum::Json<Value> {
        let time = |t: &str| DateTime::parse_from_rfc3339(t).ok();
        let since = q.get("updated_since").and_then(|s| time(s));
        let changed: Vec<&Value> = items
            .iter()
            .filter(|i| {
                since.is_none_or(|s| {
                    i["gewijzigd_op"]
                        .as_str()
                        .and_then(time)
                        .is_some_and(|t| t > s)
                })
            })
            .collect();
        let start: usize = q.get("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
        let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
        let next = (start + limit < changed.len()).then(|| (start + limit).to_string());
        let page: Vec<&Value> = changed.into_iter().skip(start).take(limit).collect();
        axum::Json(json!({ "items": page, "next_cursor": next }))
    }

    let app = axum::Router::new()
        .route("/uwv/indicaties", axum::routing::get(page))
        .with_state(Arc::new(items));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "the sample UWV feed stopped");
        }
    });
    Ok(format!("http://{addr}/uwv/indicaties"))
}

/// The four sources' contents, as their suppliers would export them.
struct Exports {
    municipality: Vec<Vec<String>>,
    pantar: Vec<Vec<String>>,
    noorderlicht: Vec<Vec<String>>,
    uwv: Vec<Value>,
}

/// One row's cells by header, laid out in a file's header order.
struct Row(Vec<(&'static str, String)>);

impl Row {
    fn set(&mut self, header: &'static str, value: impl Into<String>) {
        self.0.push((header, value.into()));
    }

    fn cells(mut self, headers: &[&str]) -> Vec<String> {
        headers
            .iter()
            .map(|h| {
                self.0
                    .iter()
                    .position(|(k, _)| k == h)
                    .map(|i| self.0.swap_remove(i).1)
                    .unwrap_or_default()
            })
            .collect()
    }
}

struct Generator {
    rng: StdRng,
    today: NaiveDate,
    now: DateTime<Utc>,
    bsns: HashSet<String>,
}

impl Exports {
    fn generate(seed: u64, now: DateTime<Utc>) -> Self {
        let mut g = Generator {
            rng: StdRng::seed_from_u64(seed),
            today: model::clock::date_at(now),
            now,
            bsns: HashSet::new(),
        };
        let mut e = Exports {
            municipality: vec![],
            pantar: vec![],
            noorderlicht: vec![],
            uwv: vec![],
        };
        for i in 0..PERSONS {
            // Held by the municipality (50%), Pantar (30%) or Noorderlicht (20%).
            let holder = g.pick(&[0, 0, 0, 0, 0, 1, 1, 1, 2, 2]);
            let bsn = (!g.rng.gen_bool(0.05)).then(|| g.bsn());
            let line = match holder {
                0 => None,
                _ => Some(g.pick(&["3e lijn", "3e lijn", "4e lijn"])),
            };
            match holder {
                0 => {
                    let row = g.municipality_row(i, bsn.as_deref());
                    e.municipality.push(row.cells(&MUNICIPALITY_HEADERS));
                }
                _ => {
                    let row = g.social_firm_row(i, bsn.as_deref(), line.unwrap_or("3"));
                    let rows = if holder == 1 {
                        &mut e.pantar
                    } else {
                        &mut e.noorderlicht
                    };
                    rows.push(row.cells(&SOCIAL_FIRM_HEADERS));
                    // Some of a firm's people are also the municipality's participants: the same
                    // BSN links both rows to one person.
                    if bsn.is_some() && g.rng.gen_bool(0.12) {
                        let mut row = g.municipality_row(PERSONS + i, bsn.as_deref());
                        row.0.retain(|(h, _)| !WITHOUT_PLACEMENT.contains(h));
                        e.municipality.push(row.cells(&MUNICIPALITY_HEADERS));
                    }
                }
            }
            if let Some(bsn) = &bsn
                && g.rng.gen_bool(0.2)
            {
                let indication = match line {
                    Some("4e lijn") => g.pick(&["beschut_werk", "banenafspraak"]),
                    Some(_) => g.pick(&["banenafspraak", "wajong"]),
                    None => "banenafspraak",
                };
                let changed = g.now - g.days(1..300);
                e.uwv.push(json!({
                    "bsn": bsn,
                    "indicatie": indication,
                    "geldig_vanaf": (changed.date_naive() - Duration::days(30)).to_string(),
                    "geldig_tot": null,
                    "gewijzigd_op": changed.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                }));
            }
        }
        // Rows a steward will find among the rejected rows of the first runs.
        let mut bad = g.municipality_row(2 * PERSONS, None);
        bad.set("BSN", "123456789");
        e.municipality.push(bad.cells(&MUNICIPALITY_HEADERS));
        let mut bad = g.municipality_row(2 * PERSONS + 1, None);
        bad.0.retain(|(h, _)| *h != "Trede");
        bad.set("Trede", "9");
        e.municipality.push(bad.cells(&MUNICIPALITY_HEADERS));
        let mut bad = g.social_firm_row(2 * PERSONS + 2, None, "3");
        bad.0
            .retain(|(h, _)| !h.starts_with("Einddatum") && !h.starts_with("Startdatum"));
        bad.set("Startdatum contract", "01-03-2025");
        bad.set("Einddatum contract", "01-03-2024");
        e.noorderlicht.push(bad.cells(&SOCIAL_FIRM_HEADERS));
        e
    }
}

/// Municipality columns left empty for a participant whose placement is the social firm's.
const WITHOUT_PLACEMENT: [&str; 6] = [
    "Traject",
    "Startdatum traject",
    "Einddatum traject",
    "Werkgever",
    "Uitstroomreden",
    "Uitstroomdatum",
];

impl Generator {
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        *from.choose(&mut self.rng).expect("non-empty list")
    }

    /// One to `max` distinct items.
    fn some(&mut self, from: &[&str], max: usize, separator: &str) -> String {
        let n = self.rng.gen_range(1..=max.min(from.len()));
        from.choose_multiple(&mut self.rng, n)
            .copied()
            .collect::<Vec<_>>()
            .join(separator)
    }

    fn days(&mut self, range: std::ops::Range<i64>) -> Duration {
        Duration::days(self.rng.gen_range(range))
    }

    fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        from + self.days(0..(to - from).num_days().max(1))
    }

    /// A random, not yet used BSN that passes the eleven-test.
    fn bsn(&mut self) -> String {
        loop {
            let bsn = random_bsn(&mut self.rng);
            if self.bsns.insert(bsn.clone()) {
                return bsn;
            }
        }
    }

    fn partner_name(&mut self) -> &'static str {
        let code = self.pick(&PARTNERS);
        org_name(code)
    }

    /// A birth date, written the way the exports vary it.
    fn birth_date(&mut self) -> String {
        let birth = self.date_between(ymd(1965, 1, 1), ymd(2004, 12, 31));
        let format = self.pick(&["%d-%m-%Y", "%d-%m-%Y", "%-d-%-m-%Y", "%Y-%m-%d"]);
        birth.format(format).to_string()
    }

    /// A current placement's dates: started, and ending within six months (~28%) or later.
    fn current_dates(&mut self) -> (NaiveDate, NaiveDate) {
        let start = self.date_between(ymd(2024, 1, 1), self.today - Duration::days(30));
        let end = if self.rng.gen_bool(0.28) {
            self.today + self.days(10..183)
        } else {
            self.today + self.days(200..800)
        };
        (start, end)
    }

    fn name(&mut self) -> (&'static str, Option<&'static str>, &'static str) {
        (self.pick(GIVEN), self.pick(PREFIXES), self.pick(FAMILY))
    }

    fn municipality_row(&mut self, i: usize, bsn: Option<&str>) -> Row {
        let mut r = Row(vec![]);
        let (given, prefix, family) = self.name();
        let (district, area) = self.pick(DISTRICTS);
        let letters: String = (0..2)
            .map(|_| char::from(self.rng.gen_range(b'A'..=b'Z')))
            .collect();
        r.set("Klantnummer", format!("K{i:06}"));
        // A spreadsheet drops a BSN's leading zero; the importer restores it.
        r.set("BSN", bsn.map_or("", |b| b.trim_start_matches('0')));
        r.set("Voornaam", given);
        r.set("Tussenvoegsel", prefix.unwrap_or(""));
        r.set("Achternaam", family);
        let birth = self.birth_date();
        r.set("Geboortedatum", birth);
        r.set("Postcode", format!("{area}{letters}"));
        r.set("Stadsdeel", district);
        r.set("Trede", self.rng.gen_range(1..=6).to_string());
        if self.rng.gen_bool(0.7) {
            let traject = self.pick(&[
                "proefplaatsing",
                "participatieplaats",
                "participatieplaats",
                "baan",
                "loonkostensubsidie",
            ]);
            let (start, end) = self.current_dates();
            r.set("Traject", traject);
            r.set("Startdatum traject", start.format("%d-%m-%Y").to_string());
            r.set("Einddatum traject", end.format("%d-%m-%Y").to_string());
            r.set("Werkgever", self.partner_name());
            if self.rng.gen_bool(0.12) {
                let left = (self.today - self.days(5..90)).max(start + Duration::days(1));
                r.set("Uitstroomdatum", left.format("%d-%m-%Y").to_string());
                r.set("Uitstroomreden", self.pick(OUTFLOW_REASONS));
            }
        }
        r.set(
            "Uren beschikbaar",
            (self.rng.gen_range(4..=19) * 2).to_string(),
        );
        r.set("Sterke punten", self.some(STRENGTHS, 3, "; "));
        r.set("Ontwikkelpunten", self.some(DEVELOPMENT, 2, "; "));
        r.set("Vaardigheden", self.some(SKILLS, 4, ", "));
        r.set("Werksoorten", self.some(WORK_TYPES, 3, "; "));
        r.set("Rijbewijs", self.pick(&["Ja", "Nee", "Nee", "J", "N"]));
        r.set("Opleidingsniveau", self.pick(EDUCATION));
        let languages = self.some(LANGUAGES, 3, ", ");
        r.set("Talen", format!("nl, {languages}"));
        r.set("Toestemming delen", self.consent());
        if self.rng.gen_bool(0.4) {
            r.set("Belemmeringen", self.pick(HEALTH));
        }
        r.set(
            "Uitkering",
            self.pick(&["Participatiewet", "Participatiewet", "", "WW"]),
        );
        r.set(
            "Jobcoach",
            self.pick(&["J. de Boer", "A. Öztürk", "M. Pinas"]),
        );
        r
    }

    fn social_firm_row(&mut self, i: usize, bsn: Option<&str>, line: &str) -> Row {
        let mut r = Row(vec![]);
        let (given, prefix, family) = self.name();
        r.set("Personeelsnummer", format!("P{i:05}"));
        r.set("BSN", bsn.unwrap_or(""));
        let name = match prefix {
            Some(p) => format!("{given} {p} {family}"),
            None => format!("{given} {family}"),
        };
        r.set("Naam", name);
        let birth = self.birth_date();
        r.set("Geboortedatum", birth);
        r.set("Lijn", line);
        r.set("Werksoort", self.pick(WORK_TYPES));
        if self.rng.gen_bool(0.85) {
            let (start, end) = self.current_dates();
            // Line 3 is mostly seconded to a partner; line 4 mostly works at the firm itself.
            let seconded = self
                .rng
                .gen_bool(if line.starts_with('3') { 0.7 } else { 0.25 });
            if seconded {
                r.set("Gedetacheerd bij", self.partner_name());
            }
            r.set("Startdatum contract", start.format("%d-%m-%Y").to_string());
            r.set("Einddatum contract", end.format("%Y-%m-%d").to_string());
        }
        r.set(
            "Uren per week",
            (self.rng.gen_range(8..=16) * 2).to_string(),
        );
        r.set("Loonwaarde", format!("{}%", self.rng.gen_range(6..=20) * 5));
        r.set("Sterke punten", self.some(STRENGTHS, 3, "\n"));
        r.set("Ontwikkelpunten", self.some(DEVELOPMENT, 2, "; "));
        r.set("Vaardigheden", self.some(SKILLS, 4, "; "));
        r.set("Toestemming delen", self.consent());
        r
    }

    /// The person's answer to "may we share your generic profile?", as exports write it.
    fn consent(&mut self) -> &'static str {
        if self.rng.gen_bool(0.6) {
            self.pick(&["Ja", "ja", "J", "x"])
        } else {
            self.pick(&["Nee", "", "N"])
        }
    }
}

/// What caseworkers and partners record in werkbrug itself after the first imports.
struct Caseworkers<'a> {
    rng: StdRng,
    txn: &'a DatabaseTransaction,
    now: DateTime<Utc>,
    today: NaiveDate,
}

impl Caseworkers<'_> {
    async fn run(mut self) -> Result<(), DbErr> {
        let orgs: Vec<organisation::Model> = organisation::Entity::find().all(self.txn).await?;
        let code = |id: i64| {
            orgs.iter()
                .find(|o| o.id == id)
                .map_or_else(String::new, |o| o.code.clone())
        };
        let partners: Vec<i64> = PARTNERS
            .iter()
            .filter_map(|c| orgs.iter().find(|o| o.code == *c).map(|o| o.id))
            .collect();
        let persons = person::Entity::find()
            .order_by_asc(person::Column::Id)
            .all(self.txn)
            .await?;
        let mut shareable = vec![];
        for p in &persons {
            self.intake(p.id).await?;
            let current = placement::Entity::find()
                .filter(placement::Column::PersonId.eq(p.id))
                .one(self.txn)
                .await?;
            if let Some(current) = current {
                self.earlier_placement(&current, &partners).await?;
            }
            let consents = consent::Entity::find()
                .filter(consent::Column::PersonId.eq(p.id))
                .all(self.txn)
                .await?;
            if let Some(c) = consents.into_iter().next() {
                let holder = code(c.recorded_by_organisation_id.unwrap_or_default());
                if self.approve(c, &holder).await? {
                    shareable.push(p.id);
                }
            } else if self.rng.gen_bool(0.12) {
                let partner = self.pick(&partners);
                self.partner_consent(p.id, partner).await?;
            }
        }
        self.vacancies(&partners, &shareable).await
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        *from.choose(&mut self.rng).expect("non-empty list")
    }

    fn days(&mut self, range: std::ops::Range<i64>) -> Duration {
        Duration::days(self.rng.gen_range(range))
    }

    /// What an intake interview adds: contact details, availability, and for most a case file.
    async fn intake(&mut self, person_id: i64) -> Result<(), DbErr> {
        person_identity::Entity::update_many()
            .col_expr(
                person_identity::Column::Email,
                Expr::value(format!("deelnemer{person_id}@example.org")),
            )
            .col_expr(
                person_identity::Column::Phone,
                Expr::value(format!("06-0000{:04}", self.rng.gen_range(0..10_000))),
            )
            .filter(person_identity::Column::PersonId.eq(person_id))
            .exec(self.txn)
            .await?;
        let n = self.rng.gen_range(2..=5);
        let days: Vec<&str> = DAYS.choose_multiple(&mut self.rng, n).copied().collect();
        let available_from = self.today - Duration::days(270) + self.days(0..510);
        candidate_profile::Entity::update_many()
            .col_expr(
                candidate_profile::Column::DaysAvailable,
                Expr::value(json!(days)),
            )
            .col_expr(
                candidate_profile::Column::AvailableFrom,
                Expr::value(available_from),
            )
            .col_expr(
                candidate_profile::Column::TravelRangeKm,
                Expr::value(self.rng.gen_range(2..=30)),
            )
            .col_expr(
                candidate_profile::Column::TravelsIndependently,
                Expr::value(self.rng.gen_bool(0.8)),
            )
            .col_expr(
                candidate_profile::Column::Municipality,
                Expr::value("Amsterdam"),
            )
            .filter(candidate_profile::Column::PersonId.eq(person_id))
            .exec(self.txn)
            .await?;
        if !self.rng.gen_bool(0.85) {
            return Ok(());
        }
        let existing = sensitive_detail::Entity::find()
            .filter(sensitive_detail::Column::PersonId.eq(person_id))
            .one(self.txn)
            .await?;
        let basis = self.pick(LEGAL_BASES);
        let workload = self
            .rng
            .gen_bool(0.4)
            .then(|| self.pick(WORKLOAD).to_owned());
        let note = self
            .rng
            .gen_bool(0.7)
            .then(|| self.pick(CASE_NOTES).to_owned());
        let subsidy = self.rng.gen_bool(0.5);
        let mut am = match existing {
            Some(m) => m.into_active_model(),
            None => sensitive_detail::ActiveModel {
                person_id: Set(person_id),
                created_at: Set(self.now),
                ..Default::default()
            },
        };
        if am.legal_basis.try_as_ref().is_none_or(Option::is_none) {
            am.legal_basis = Set(Some(basis.into()));
        }
        am.workload_limits = Set(workload);
        am.case_notes = Set(note);
        am.wage_cost_subsidy = Set(Some(subsidy));
        am.updated_at = Set(self.now);
        am.save(self.txn).await?;
        Ok(())
    }

    /// For some, the placement before the current one, which led straight to it.
    async fn earlier_placement(
        &mut self,
        current: &placement::Model,
        partners: &[i64],
    ) -> Result<(), DbErr> {
        let Some(start) = current.start_date else {
            return Ok(());
        };
        if !self.rng.gen_bool(0.45) {
            return Ok(());
        }
        let end = start - self.days(1..40);
        let at = self.pick(partners);
        placement::ActiveModel {
            person_id: Set(current.person_id),
            organisation_id: Set(at),
            provider_organisation_id: Set(current.provider_organisation_id),
            kind: Set(current.kind.clone()),
            start_date: Set(Some(end - self.days(120..500))),
            planned_end_date: Set(Some(end)),
            actual_end_date: Set(Some(end)),
            hours_per_week: Set(current.hours_per_week),
            outcome: Set(Some("next_placement".into())),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        Ok(())
    }

    /// A jobcoach approves most imported consents (the second key); a few are revoked or
    /// expire. Returns whether the profile is now shared with the network.
    async fn approve(&mut self, c: consent::Model, holder: &str) -> Result<bool, DbErr> {
        let roll = self.rng.gen_range(0..20);
        let mut am = c.into_active_model();
        am.updated_at = Set(self.now);
        match roll {
            // Not yet approved: the person agreed, the caseworker has not looked yet.
            0..=2 => return am.save(self.txn).await.map(|_| false),
            // Revoked by the person.
            3 => am.revoked_at = Set(Some(self.now)),
            // Expired: recorded more than a year ago.
            4 => {
                let granted = self.now - self.days(400..500);
                am.granted_at = Set(granted);
                am.expires_at = Set(Some(granted + Duration::days(365)));
            }
            _ => am.expires_at = Set(Some(self.now + Duration::days(365))),
        }
        am.approved_by = Set(Some(format!("jobcoach@{holder}")));
        am.approved_at = Set(Some(self.now));
        am.save(self.txn).await?;
        Ok(roll > 4)
    }

    /// A consent for one partner only, agreed and approved at a matching meeting.
    async fn partner_consent(&mut self, person_id: i64, partner: i64) -> Result<(), DbErr> {
        let granted = self.now - self.days(1..200);
        consent::ActiveModel {
            person_id: Set(person_id),
            audience: Set("partner".into()),
            partner_organisation_id: Set(Some(partner)),
            scope: Set(if self.rng.gen_bool(0.3) {
                "generic_profile_and_job_agreement"
            } else {
                "generic_profile"
            }
            .into()),
            person_agreed: Set(true),
            granted_at: Set(granted),
            expires_at: Set(Some(granted + Duration::days(365))),
            revoked_at: Set(None),
            approved_by: Set(Some(format!("jobcoach@{MUNICIPALITY}"))),
            approved_at: Set(Some(granted)),
            recorded_by: Set(format!("caseworker@{MUNICIPALITY}")),
            recorded_by_organisation_id: Set(None),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        Ok(())
    }

    /// The partners' vacancies, and introduction requests for a few of them.
    async fn vacancies(&mut self, partners: &[i64], candidates: &[i64]) -> Result<(), DbErr> {
        for (n, (p, title, work_type, skills)) in VACANCIES.into_iter().enumerate() {
            let (district, _) = self.pick(DISTRICTS);
            let closed = CLOSED_VACANCIES.contains(&n);
            let v = vacancy::ActiveModel {
                organisation_id: Set(partners[p]),
                title: Set(title.into()),
                work_type: Set(Some(work_type.into())),
                skills: Set(json!(skills)),
                hours_per_week: Set(Some(f64::from(self.rng.gen_range(6..=16) * 2))),
                district: Set(Some(district.into())),
                suitable_line_3: Set(self.rng.gen_bool(0.8)),
                suitable_line_4: Set(self.rng.gen_bool(0.4)),
                start_date: Set(Some(
                    self.today + self.days(if closed { -60..-10 } else { 7..120 }),
                )),
                status: Set(if closed { "closed" } else { "open" }.into()),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .insert(self.txn)
            .await?;
            if INTRODUCED.contains(&n) && !candidates.is_empty() {
                let i = introduction::ActiveModel {
                    vacancy_id: Set(v.id),
                    person_id: Set(self.pick(candidates)),
                    requested_by_organisation_id: Set(partners[p]),
                    status: Set("requested".into()),
                    created_at: Set(self.now),
                    updated_at: Set(self.now),
                    ..Default::default()
                }
                .insert(self.txn)
                .await?;
                introduction_event::ActiveModel {
                    introduction_id: Set(i.id),
                    status: Set("requested".into()),
                    actor: Set("sample-partner".into()),
                    actor_role: Set("partner".into()),
                    actor_organisation_id: Set(partners[p]),
                    created_at: Set(self.now),
                    updated_at: Set(self.now),
                    ..Default::default()
                }
                .insert(self.txn)
                .await?;
            }
        }
        Ok(())
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid literal date")
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::{Migrator, MigratorTrait};
    use model::entity::{import_run, rejected_row, source, source_record};
    use sea_orm::{ConnectOptions, Database};

    /// A migrated SQLite file in a temporary folder, which also receives the sample files.
    async fn fresh() -> (DatabaseConnection, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let mut opts = ConnectOptions::new(url);
        opts.max_connections(4).sqlx_logging(false);
        let db = Database::connect(opts).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        (db, dir)
    }

    fn protector() -> BsnProtector {
        let key = model::crypto::generate_key_hex;
        BsnProtector::from_hex(&key(), &key()).unwrap()
    }

    fn has_nine_digits(text: &str) -> bool {
        text.as_bytes()
            .windows(9)
            .any(|w| w.iter().all(u8::is_ascii_digit))
    }

    async fn family_names(db: &DatabaseConnection) -> Vec<Option<String>> {
        let ids = person_identity::Entity::find().order_by_asc(person_identity::Column::Id);
        ids.all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.family_name.or(p.full_name))
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn goes_through_the_importers() {
        let (db, dir) = fresh().await;
        let p = protector();
        let summary = load_sample(&db, &p, 1, dir.path()).await.unwrap();
        assert_eq!(summary.organisations, 10, "{summary:?}");
        assert_eq!(summary.persons, PERSONS, "linked by BSN across sources");
        assert_eq!(summary.runs, 4);
        assert_eq!(summary.rejected, 3, "{summary:?}");
        for file in [MUNICIPALITY_FILE, PANTAR_FILE, NOORDERLICHT_FILE] {
            assert!(dir.path().join(file).exists(), "{file} written");
        }

        // Four real runs, one per source, and the UWV feed came over HTTP.
        let runs = import_run::Entity::find().all(&db).await.unwrap();
        assert_eq!(runs.len(), 4);
        assert!(
            runs.iter()
                .all(|r| r.status == "succeeded" && r.trigger == "sample"),
            "{runs:?}"
        );
        let uwv = source::Entity::find()
            .filter(source::Column::Name.eq("uwv-indicaties"))
            .one(&db)
            .await
            .unwrap()
            .unwrap();
        assert!(uwv.location.starts_with("http://127.0.0.1:"));
        assert!(uwv.updated_since.is_some(), "the feed's cursor is kept");
        let uwv_run = runs.iter().find(|r| r.source_id == uwv.id).unwrap();
        assert!(uwv_run.rows_inserted > 10, "{uwv_run:?}");

        // The refused rows name their file, row and column.
        let rejected = rejected_row::Entity::find().all(&db).await.unwrap();
        let mut columns: Vec<_> = rejected
            .iter()
            .map(|r| r.column_name.clone().unwrap_or_default())
            .collect();
        columns.sort();
        assert_eq!(columns, ["BSN", "Einddatum contract", "Trede"]);
        assert!(
            rejected
                .iter()
                .all(|r| r.file.is_some() && r.row_number > 0)
        );

        // Provenance: every person has a source record; some have two from different sources.
        let records = source_record::Entity::find().all(&db).await.unwrap();
        let mut sources_per_person = std::collections::HashMap::<i64, HashSet<i64>>::new();
        for r in &records {
            let person = r.person_id.expect("every record is linked");
            sources_per_person
                .entry(person)
                .or_default()
                .insert(r.source_id);
            let text = r.raw_values.to_string();
            assert!(!has_nine_digits(&text), "no BSN in raw values: {text}");
        }
        assert_eq!(sources_per_person.len(), PERSONS);
        let linked = sources_per_person.values().filter(|s| s.len() > 1).count();
        assert!(linked > 10, "{linked} persons appear in two sources");

        // Consents: the importers record the person's key, caseworkers approve most.
        let consents = consent::Entity::find().all(&db).await.unwrap();
        assert!((90..=160).contains(&consents.len()), "{}", consents.len());
        let approved = consents.iter().filter(|c| c.approved_at.is_some()).count();
        assert!(approved > consents.len() / 2 && approved < consents.len());
        assert!(consents.iter().any(|c| c.audience == "partner"));

        let horizon = model::clock::today() + Duration::days(183);
        let ending = placement::Entity::find()
            .filter(placement::Column::ActualEndDate.is_null())
            .filter(placement::Column::PlannedEndDate.lte(horizon))
            .count(&db)
            .await
            .unwrap();
        assert!(
            (25..=70).contains(&ending),
            "{ending} end within six months"
        );
        let history = placement::Entity::find()
            .filter(placement::Column::Outcome.eq("next_placement"))
            .count(&db)
            .await
            .unwrap();
        assert!(history > 30, "{history} earlier placements");

        let without_bsn = person::Entity::find()
            .filter(person::Column::BsnPseudonym.is_null())
            .count(&db)
            .await
            .unwrap();
        assert!(
            (1..=25).contains(&without_bsn),
            "{without_bsn} without a BSN"
        );
        for id in person_identity::Entity::find().all(&db).await.unwrap() {
            if let Some(sealed) = &id.bsn_encrypted {
                assert!(!has_nine_digits(sealed), "a BSN in clear text");
                p.decrypt(sealed).expect("a sealed, valid BSN");
            }
            assert!(id.email.as_deref().unwrap().ends_with("@example.org"));
        }
        assert_eq!(summary.vacancies, 15);
        assert_eq!(introduction::Entity::find().count(&db).await.unwrap(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn generated_data_goes_through_the_importers() {
        let (db, dir) = fresh().await;
        let summary = load_generated(&db, &protector(), 400, 3, dir.path())
            .await
            .unwrap();
        assert_eq!(summary.persons, 400, "{summary:?}");
        assert_eq!(summary.vacancies, VACANCIES.len());
        assert!(summary.placements > 100, "{summary:?}");
        let consents = consent::Entity::find().all(&db).await.unwrap();
        let active = consents
            .iter()
            .filter(|c| {
                c.approved_at.is_some() && c.revoked_at.is_none() && c.expires_at > Some(Utc::now())
            })
            .count();
        let waiting = consents.iter().filter(|c| c.approved_at.is_none()).count();
        assert!(
            active > consents.len() / 2,
            "{active} of {}",
            consents.len()
        );
        assert!(waiting > 0, "some imported consents await approval");
        assert!(
            consents.iter().any(|c| c.audience == "partner"),
            "partner consents"
        );
        let runs = import_run::Entity::find().all(&db).await.unwrap();
        assert_eq!(runs.len(), 1, "one import run");
        assert!(matches!(
            load_generated(&db, &protector(), 10, 3, dir.path()).await,
            Err(SampleError::NotEmpty)
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn same_seed_same_people() {
        let ((a, da), (b, db_), (c, dc)) = (fresh().await, fresh().await, fresh().await);
        load_sample(&a, &protector(), 7, da.path()).await.unwrap();
        load_sample(&b, &protector(), 7, db_.path()).await.unwrap();
        load_sample(&c, &protector(), 8, dc.path()).await.unwrap();
        assert_eq!(
            family_names(&a).await,
            family_names(&b).await,
            "same seed, same data"
        );
        assert_ne!(
            family_names(&a).await,
            family_names(&c).await,
            "another seed, other data"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refuses_a_database_that_holds_data() {
        let (db, dir) = fresh().await;
        let p = protector();
        load_sample(&db, &p, 1, dir.path()).await.unwrap();
        let err = load_sample(&db, &p, 2, dir.path()).await.unwrap_err();
        assert!(matches!(err, SampleError::NotEmpty), "{err}");
        assert!(err.to_string().contains("already holds data"), "{err}");
        assert_eq!(
            person::Entity::find().count(&db).await.unwrap(),
            PERSONS as u64,
            "nothing added"
        );
    }
}
