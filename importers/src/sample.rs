//! The bundled sample data: a small, invented but realistic data set, generated deterministically
//! from a seed. No real person's data: names are combined from common lists, BSNs are random
//! numbers that pass the eleven-test, e-mail addresses use example.org, phone numbers 06-0000….

use std::collections::HashSet;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use model::entity::{
    candidate_profile, consent, import_run, introduction, organisation, person, person_identity,
    placement, sensitive_detail, source, source_record, vacancy,
};
use model::{Bsn, BsnProtector, Line, OrganisationKind as K, PlacementKind};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, PaginatorTrait,
    Set, TransactionTrait,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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
/// (organisation, source name, format, location, schedule).
#[rustfmt::skip]
type SourceSpec = (&'static str, &'static str, &'static str, &'static str, &'static str);
/// The sources; the first three hold persons, UWV adds indications for some.
#[rustfmt::skip]
const SOURCES: [SourceSpec; 4] = [
    (MUNICIPALITY, "gemeente-deelnemers", "xlsx", "samples/gemeente.xlsx", "0 0 6 * * *"),
    (PANTAR, "pantar-medewerkers", "xlsx", "samples/pantar.xlsx", "0 30 6 * * *"),
    (NOORDERLICHT, "noorderlicht-medewerkers", "csv", "samples/noorderlicht.csv", "0 0 7 * * Mon"),
    (UWV, "uwv-indicaties", "json", "http://127.0.0.1:9000/uwv/indicaties", "0 15 */4 * * *"),
];
const UWV_SOURCE: usize = 3;
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
/// Legal bases, weighted: for line 4, line 3 and the municipality's own participants.
#[rustfmt::skip]
const LEGAL_BASES: [&[&str]; 3] = [
    &["wsw", "wsw", "sheltered_work"],
    &["participatiewet", "wajong"],
    &["participatiewet", "participatiewet", "participatiewet", "wajong", "sheltered_work"],
];
/// Placement kinds, weighted: arranged by a social firm, and by the municipality.
#[rustfmt::skip]
const PLACEMENT_KINDS: [&[PlacementKind]; 2] = {
    use PlacementKind::*;
    [
        &[Secondment, Secondment, Employment, ShelteredWork],
        &[TrialPlacement, ParticipationPlace, ParticipationPlace, Employment, Employment],
    ]
};
/// Outcomes of a placement that ended without a next placement following it.
const FINAL_OUTCOMES: &[&str] = &["regular_work", "education", "care", "benefit", "unknown"];
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
    /// Organisations created.
    pub organisations: usize,
    /// Persons created.
    pub persons: usize,
    /// Placements created.
    pub placements: usize,
    /// Consents created.
    pub consents: usize,
    /// Vacancies created.
    pub vacancies: usize,
}

/// Why the sample data could not be loaded; nothing was written in either case.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The database already holds organisations.
    #[error(
        "the database already holds data; sample data goes into a fresh database \
         (point DATABASE_URL at a new database, or use `werkbrug serve --demo`)"
    )]
    NotEmpty,
    /// The database refused a statement.
    #[error(
        "cannot load the sample data, nothing was written: {0}; \
         check that the database is migrated (`werkbrug migrate up`) and writable"
    )]
    Db(#[from] DbErr),
}

/// Loads the invented sample data, generated from `seed`, into a migrated, empty database, in
/// one transaction.
pub async fn load_sample(
    db: &DatabaseConnection,
    protector: &BsnProtector,
    seed: u64,
) -> Result<SampleSummary, SampleError> {
    let txn = db.begin().await?;
    if organisation::Entity::find().count(&txn).await? > 0 {
        return Err(SampleError::NotEmpty);
    }
    let now = Utc::now();
    let summary = Generator {
        rng: StdRng::seed_from_u64(seed),
        txn: &txn,
        protector,
        now,
        today: now.date_naive(),
        bsns: HashSet::new(),
        partners: Vec::new(),
    }
    .run()
    .await?;
    txn.commit().await?;
    Ok(summary)
}

/// A source as generated: its ids, the organisation that supplies it, and its rows so far.
struct Src {
    id: i64,
    run_id: i64,
    name: &'static str,
    org_code: &'static str,
    org_id: i64,
    rows: i64,
}

struct Generator<'a> {
    rng: StdRng,
    txn: &'a DatabaseTransaction,
    protector: &'a BsnProtector,
    now: DateTime<Utc>,
    today: NaiveDate,
    bsns: HashSet<String>,
    partners: Vec<i64>,
}

impl Generator<'_> {
    async fn run(mut self) -> Result<SampleSummary, DbErr> {
        let mut org_ids = Vec::new();
        for (name, code, kind) in ORGANISATIONS {
            let org = organisation::ActiveModel {
                name: Set(name.into()),
                code: Set(code.into()),
                kind: Set(kind.as_str().into()),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            };
            org_ids.push((code, org.insert(self.txn).await?.id));
        }
        let org_id = |code: &str| org_ids.iter().find(|(c, _)| *c == code).map(|(_, id)| *id);
        self.partners = PARTNERS.iter().filter_map(|c| org_id(c)).collect();
        let mut sources = Vec::new();
        for spec in SOURCES {
            let org = org_id(spec.0).ok_or_else(|| DbErr::RecordNotFound(spec.0.into()))?;
            sources.push(self.source(spec, org).await?);
        }

        let (mut persons, mut placements, mut consents, mut shareable) = (vec![], 0, 0, vec![]);
        for i in 0..PERSONS {
            // Held by the municipality (50%), Pantar (30%) or Noorderlicht (20%).
            let h = self.pick(&[0, 0, 0, 0, 0, 1, 1, 1, 2, 2]);
            let (person_id, has_bsn) = self.person(i, &mut sources[h]).await?;
            if has_bsn && self.rng.gen_bool(0.2) {
                let raw = json!({ "Status": "actief", "Peildatum": self.today.to_string() });
                self.record(
                    &mut sources[UWV_SOURCE],
                    person_id,
                    format!("UWV-{i:06}"),
                    raw,
                )
                .await?;
            }
            placements += self.placements(person_id, &sources[h]).await?;
            if let Some(network) = self.consent(person_id, &sources[h]).await? {
                consents += 1;
                if network {
                    shareable.push(person_id);
                }
            }
            persons.push(person_id);
        }
        for src in &sources {
            import_run::ActiveModel {
                id: Set(src.run_id),
                status: Set("succeeded".into()),
                finished_at: Set(Some(self.now)),
                rows_read: Set(src.rows),
                rows_inserted: Set(src.rows),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .update(self.txn)
            .await?;
        }
        let candidates = if shareable.is_empty() {
            &persons
        } else {
            &shareable
        };
        let vacancies = self.vacancies(candidates).await?;
        Ok(SampleSummary {
            organisations: ORGANISATIONS.len(),
            persons: persons.len(),
            placements,
            consents,
            vacancies,
        })
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        *from.choose(&mut self.rng).expect("non-empty list")
    }

    /// One to `max` distinct items.
    fn some<T: Copy>(&mut self, from: &[T], max: usize) -> Vec<T> {
        let n = self.rng.gen_range(1..=max.min(from.len()));
        from.choose_multiple(&mut self.rng, n).copied().collect()
    }

    fn partner(&mut self) -> i64 {
        self.partners[self.rng.gen_range(0..self.partners.len())]
    }

    fn days(&mut self, range: std::ops::Range<i64>) -> Duration {
        Duration::days(self.rng.gen_range(range))
    }

    fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        from + self.days(0..(to - from).num_days().max(1))
    }

    /// A random, not yet used BSN: eight random digits and a check digit passing the eleven-test.
    fn bsn(&mut self) -> Bsn {
        loop {
            let digits: Vec<u32> = (0..8).map(|_| self.rng.gen_range(0..10)).collect();
            let sum: u32 = (2..=9).rev().zip(&digits).map(|(w, d)| w * d).sum();
            let check = sum % 11;
            if check == 10 {
                continue;
            }
            let text: String = digits
                .iter()
                .chain([check].iter())
                .map(u32::to_string)
                .collect();
            if let Ok(bsn) = Bsn::parse(&text)
                && self.bsns.insert(text)
            {
                return bsn;
            }
        }
    }

    async fn source(&mut self, spec: SourceSpec, org_id: i64) -> Result<Src, DbErr> {
        let (org_code, name, format, location, schedule) = spec;
        let kind = match org_code {
            MUNICIPALITY => K::Municipality,
            UWV => K::Uwv,
            _ => K::SocialFirm,
        };
        let src = source::ActiveModel {
            name: Set(name.into()),
            kind: Set(kind.as_str().into()),
            organisation_id: Set(org_id),
            format: Set(format.into()),
            location: Set(location.into()),
            schedule: Set(Some(schedule.into())),
            updated_since: Set((org_code == UWV).then(|| self.now.to_rfc3339())),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        let run = import_run::ActiveModel {
            source_id: Set(src.id),
            status: Set("running".into()),
            trigger: Set("command".into()),
            started_at: Set(Some(
                self.now - Duration::seconds(self.rng.gen_range(20..200)),
            )),
            rows_read: Set(0),
            rows_inserted: Set(0),
            rows_updated: Set(0),
            rows_unchanged: Set(0),
            rows_rejected: Set(0),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        let (id, run_id, rows) = (src.id, run.id, 0);
        Ok(Src {
            id,
            run_id,
            name,
            org_code,
            org_id,
            rows,
        })
    }

    /// A person with identity, profile, (mostly) sensitive details and a record in `holder`'s
    /// source; returns the id and whether the person has a BSN.
    async fn person(&mut self, i: usize, holder: &mut Src) -> Result<(i64, bool), DbErr> {
        let social_firm = holder.org_code != MUNICIPALITY;
        let bsn = (!self.rng.gen_bool(0.05)).then(|| self.bsn());
        let id = person::ActiveModel {
            bsn_pseudonym: Set(bsn.as_ref().map(|b| self.protector.pseudonym(b))),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?
        .id;

        let (given, family, prefix) = (self.pick(GIVEN), self.pick(FAMILY), self.pick(PREFIXES));
        let (district, area) = self.pick(DISTRICTS);
        let letters: String = (0..2)
            .map(|_| char::from(self.rng.gen_range(b'A'..=b'Z')))
            .collect();
        let initial = given.chars().next().unwrap_or('x').to_lowercase();
        let mail_name: String = family
            .to_lowercase()
            .chars()
            .filter(char::is_ascii_alphabetic)
            .collect();
        let birth = self.date_between(ymd(1965, 1, 1), ymd(2004, 12, 31));
        person_identity::ActiveModel {
            person_id: Set(id),
            bsn_encrypted: Set(bsn.as_ref().map(|b| self.protector.encrypt(b))),
            given_name: Set(Some(given.into())),
            name_prefix: Set(prefix.map(Into::into)),
            family_name: Set(Some(family.into())),
            birth_date: Set(Some(birth)),
            email: Set(Some(format!("{initial}.{mail_name}{i}@example.org"))),
            phone: Set(Some(format!("06-0000{:04}", self.rng.gen_range(0..10_000)))),
            postcode: Set(Some(format!("{area} {letters}"))),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;

        let line = social_firm.then(|| self.pick(&[Line::Line3, Line::Line3, Line::Line4]));
        let hours = self.rng.gen_range(4..=19) * 2;
        let step = self.rng.gen_range(1..=6);
        let available_from = self.date_between(
            self.today - Duration::days(270),
            self.today + Duration::days(240),
        );
        let languages: Vec<&str> = std::iter::once("nl")
            .chain(self.some(LANGUAGES, 3).into_iter().skip(1))
            .collect();
        candidate_profile::ActiveModel {
            person_id: Set(id),
            skills: Set(json!(self.some(SKILLS, 4))),
            strengths: Set(json!(self.some(STRENGTHS, 3))),
            development_points: Set(json!(self.some(DEVELOPMENT, 2))),
            work_types: Set(json!(self.some(WORK_TYPES, 3))),
            sectors: Set(json!(self.some(WORK_TYPES, 2))),
            hours_per_week: Set(Some(f64::from(hours))),
            days_available: Set(json!(self.some(DAYS, 5))),
            available_from: Set(Some(available_from)),
            district: Set(Some(district.into())),
            municipality: Set(Some("Amsterdam".into())),
            travel_range_km: Set(Some(self.rng.gen_range(2..=30))),
            travels_independently: Set(Some(self.rng.gen_bool(0.8))),
            education_level: Set(Some(self.rng.gen_range(0..=7))),
            languages: Set(json!(languages)),
            driving_licence: Set(Some(self.rng.gen_bool(0.3))),
            line: Set(line.map(|l| l.as_str().to_owned())),
            participation_step: Set(Some(step)),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;

        if self.rng.gen_bool(0.85) {
            let legal_basis = self.pick(
                LEGAL_BASES[match line {
                    Some(Line::Line4) => 0,
                    Some(Line::Line3) => 1,
                    None => 2,
                }],
            );
            let benefit =
                matches!(legal_basis, "participatiewet" | "wajong") && self.rng.gen_bool(0.7);
            let registered = legal_basis != "participatiewet" || self.rng.gen_bool(0.4);
            let wage_value = self.rng.gen_range(6..=20) * 5;
            let health = self.rng.gen_bool(0.6).then(|| self.pick(HEALTH).to_owned());
            let workload = self
                .rng
                .gen_bool(0.4)
                .then(|| self.pick(WORKLOAD).to_owned());
            let subsidy = wage_value < 100 && legal_basis != "wsw" && self.rng.gen_bool(0.7);
            sensitive_detail::ActiveModel {
                person_id: Set(id),
                health_notes: Set(health),
                workload_limits: Set(workload),
                benefit_type: Set(benefit.then(|| legal_basis.to_owned())),
                legal_basis: Set(Some(legal_basis.into())),
                target_group_register: Set(registered.then(|| "registered".to_owned())),
                wage_value_pct: Set(Some(wage_value)),
                wage_cost_subsidy: Set(Some(subsidy)),
                case_notes: Set(self
                    .rng
                    .gen_bool(0.7)
                    .then(|| self.pick(CASE_NOTES).to_owned())),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .insert(self.txn)
            .await?;
        }

        // The source row as the holder exports it: non-identifying columns only.
        let (key, raw) = match line {
            None => (
                format!("K{i:06}"),
                json!({ "Stadsdeel": district, "Trede": step, "Uren per week": hours }),
            ),
            Some(l) => {
                let lijn = ["3e lijn", "4e lijn"][usize::from(l == Line::Line4)];
                (
                    format!("P{i:05}"),
                    json!({ "Lijn": lijn, "Stadsdeel": district, "Contracturen": hours }),
                )
            }
        };
        self.record(holder, id, key, raw).await?;
        Ok((id, bsn.is_some()))
    }

    async fn record(
        &mut self,
        src: &mut Src,
        person_id: i64,
        key: String,
        raw: Value,
    ) -> Result<(), DbErr> {
        let hash = format!("{:x}", Sha256::digest(format!("{key}\u{1f}{raw}")));
        source_record::ActiveModel {
            source_id: Set(src.id),
            source_key: Set(key),
            person_id: Set(Some(person_id)),
            import_run_id: Set(src.run_id),
            content_hash: Set(hash),
            raw_values: Set(raw),
            first_seen_at: Set(self.now),
            last_seen_at: Set(self.now),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        src.rows += 1;
        Ok(())
    }

    /// Up to two placements in sequence; all but a current one have ended.
    async fn placements(&mut self, person_id: i64, holder: &Src) -> Result<usize, DbErr> {
        let social_firm = holder.org_code != MUNICIPALITY;
        let count = self.pick(&[0, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
        let mut start = self.date_between(ymd(2023, 1, 1), ymd(2025, 9, 30));
        for n in 0..count {
            let last = n + 1 == count;
            let kind = self.pick(PLACEMENT_KINDS[usize::from(!social_firm)]);
            // Secondments and placements go to partners; social firms employ people themselves.
            let at = match kind {
                PlacementKind::Employment | PlacementKind::ShelteredWork if social_firm => {
                    holder.org_id
                }
                _ => self.partner(),
            };
            let planned_end = start + self.days(90..420);
            let actual_end = if self.rng.gen_bool(0.2) {
                (planned_end - self.days(10..60)).max(start + Duration::days(30))
            } else {
                planned_end
            };
            let next_start = actual_end + self.days(1..45);
            let continues = !last && next_start < self.today;
            // The last placement is mostly the current one; some people are between jobs.
            let ended = continues || (actual_end < self.today && self.rng.gen_bool(0.15));
            let (planned, actual, outcome) = if ended {
                let outcome = if continues {
                    "next_placement"
                } else {
                    self.pick(FINAL_OUTCOMES)
                };
                (planned_end, Some(actual_end), Some(outcome))
            } else if self.rng.gen_bool(0.28) {
                (self.today + self.days(10..183), None, None)
            } else {
                (self.today + self.days(200..800), None, None)
            };
            placement::ActiveModel {
                person_id: Set(person_id),
                organisation_id: Set(at),
                provider_organisation_id: Set(Some(holder.org_id)),
                kind: Set(kind.as_str().into()),
                start_date: Set(Some(start)),
                planned_end_date: Set(Some(planned)),
                actual_end_date: Set(actual),
                hours_per_week: Set(Some(f64::from(self.rng.gen_range(4..=16) * 2))),
                outcome: Set(outcome.map(Into::into)),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .insert(self.txn)
            .await?;
            if !continues {
                return Ok(n + 1);
            }
            start = next_start;
        }
        Ok(count)
    }

    /// For ~60% of persons a consent: mostly for the network, some for one partner, a few revoked
    /// or expired, most approved by a jobcoach. Returns whether it is an active, approved network
    /// consent, or `None` when none was recorded.
    async fn consent(&mut self, person_id: i64, holder: &Src) -> Result<Option<bool>, DbErr> {
        if !self.rng.gen_bool(0.6) {
            return Ok(None);
        }
        let granted = self.now - self.days(10..420);
        let expires = granted + Duration::days(365);
        let roll = self.rng.gen_range(0..20);
        let partner = (roll < 3).then(|| self.partner());
        let revoked = (roll == 4 || roll == 5)
            .then(|| (granted + self.days(20..200)).min(self.now - Duration::days(1)));
        let approved = roll < 17;
        consent::ActiveModel {
            person_id: Set(person_id),
            audience: Set(partner.map_or("network", |_| "partner").into()),
            partner_organisation_id: Set(partner),
            scope: Set(if roll == 3 {
                "generic_profile_and_job_agreement"
            } else {
                "generic_profile"
            }
            .into()),
            person_agreed: Set(true),
            granted_at: Set(granted),
            expires_at: Set(Some(expires)),
            revoked_at: Set(revoked),
            approved_by: Set(approved.then(|| format!("jobcoach@{}", holder.org_code))),
            approved_at: Set(approved.then(|| granted + Duration::days(1))),
            recorded_by: Set(format!("import:{}", holder.name)),
            recorded_by_organisation_id: Set(Some(holder.org_id)),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        Ok(Some(
            partner.is_none() && revoked.is_none() && approved && expires > self.now,
        ))
    }

    /// The partners' vacancies, and introduction requests for a few of them.
    async fn vacancies(&mut self, candidates: &[i64]) -> Result<usize, DbErr> {
        for (n, (p, title, work_type, skills)) in VACANCIES.into_iter().enumerate() {
            let (district, _) = self.pick(DISTRICTS);
            let closed = CLOSED_VACANCIES.contains(&n);
            let v = vacancy::ActiveModel {
                organisation_id: Set(self.partners[p]),
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
            if INTRODUCED.contains(&n) {
                introduction::ActiveModel {
                    vacancy_id: Set(v.id),
                    person_id: Set(self.pick(candidates)),
                    requested_by_organisation_id: Set(self.partners[p]),
                    status: Set("requested".into()),
                    created_at: Set(self.now),
                    updated_at: Set(self.now),
                    ..Default::default()
                }
                .insert(self.txn)
                .await?;
            }
        }
        Ok(VACANCIES.len())
    }
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("valid literal date")
}

#[cfg(test)]
mod tests {
    use super::*;
    use migrations::{Migrator, MigratorTrait};
    use sea_orm::{ColumnTrait, ConnectOptions, Database, QueryFilter, QueryOrder};

    async fn fresh() -> DatabaseConnection {
        let mut opts = ConnectOptions::new("sqlite::memory:");
        opts.max_connections(1).sqlx_logging(false);
        let db = Database::connect(opts).await.unwrap();
        Migrator::up(&db, None).await.unwrap();
        db
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
            .map(|p| p.family_name)
            .collect()
    }

    #[tokio::test]
    async fn loads_a_realistic_set() {
        let (db, p) = (fresh().await, protector());
        let summary = load_sample(&db, &p, 1).await.unwrap();
        assert_eq!(summary.organisations, 10);
        assert_eq!(organisation::Entity::find().count(&db).await.unwrap(), 10);
        assert_eq!(summary.persons, PERSONS);
        assert_eq!(
            person::Entity::find().count(&db).await.unwrap(),
            PERSONS as u64
        );
        assert_eq!(
            person_identity::Entity::find().count(&db).await.unwrap(),
            PERSONS as u64
        );
        assert_eq!(
            summary.placements as u64,
            placement::Entity::find().count(&db).await.unwrap()
        );
        assert_eq!(
            summary.consents as u64,
            consent::Entity::find().count(&db).await.unwrap()
        );
        assert!((90..=150).contains(&summary.consents), "{summary:?}");
        assert!(summary.placements > PERSONS, "{summary:?}");
        assert_eq!(summary.vacancies, 15);
        assert_eq!(introduction::Entity::find().count(&db).await.unwrap(), 2);

        let horizon = Utc::now().date_naive() + Duration::days(183);
        let ending = placement::Entity::find()
            .filter(placement::Column::ActualEndDate.is_null())
            .filter(placement::Column::PlannedEndDate.lte(horizon))
            .count(&db)
            .await
            .unwrap();
        assert!(
            (30..=60).contains(&ending),
            "{ending} placements end within six months"
        );

        let without_bsn = person::Entity::find()
            .filter(person::Column::BsnPseudonym.is_null())
            .count(&db)
            .await
            .unwrap();
        assert!(
            (1..=25).contains(&without_bsn),
            "{without_bsn} persons without a BSN"
        );
        let identities = person_identity::Entity::find().all(&db).await.unwrap();
        let mut names = HashSet::new();
        for id in &identities {
            if let Some(sealed) = &id.bsn_encrypted {
                assert!(!has_nine_digits(sealed), "a BSN in clear text");
                p.decrypt(sealed).expect("a sealed, valid BSN");
            }
            assert!(id.email.as_deref().unwrap().ends_with("@example.org"));
            names.extend(
                id.given_name
                    .clone()
                    .into_iter()
                    .chain(id.family_name.clone()),
            );
        }
        assert_eq!(
            identities
                .iter()
                .filter(|i| i.bsn_encrypted.is_none())
                .count() as u64,
            without_bsn
        );

        // Provenance: every person has a record; raw values carry nothing identifying.
        let records = source_record::Entity::find().all(&db).await.unwrap();
        assert!(
            records.len() > PERSONS + 20 && records.len() < PERSONS + 60,
            "{}",
            records.len()
        );
        for r in &records {
            let raw = r.raw_values.as_object().expect("raw values are an object");
            for value in raw.values() {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_owned);
                assert!(!has_nine_digits(&text) && !names.contains(&text), "{raw:?}");
            }
            assert_eq!(r.content_hash.len(), 64);
        }
        let runs = import_run::Entity::find().all(&db).await.unwrap();
        assert_eq!(runs.len(), SOURCES.len());
        for run in runs {
            let rows = records.iter().filter(|r| r.import_run_id == run.id).count() as i64;
            assert_eq!(
                (run.status.as_str(), run.rows_read, run.rows_inserted),
                ("succeeded", rows, rows)
            );
        }
    }

    #[tokio::test]
    async fn same_seed_same_people() {
        let (a, b, c) = (fresh().await, fresh().await, fresh().await);
        load_sample(&a, &protector(), 7).await.unwrap();
        load_sample(&b, &protector(), 7).await.unwrap();
        load_sample(&c, &protector(), 8).await.unwrap();
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

    #[tokio::test]
    async fn refuses_a_database_that_holds_data() {
        let (db, p) = (fresh().await, protector());
        load_sample(&db, &p, 1).await.unwrap();
        let err = load_sample(&db, &p, 2).await.unwrap_err();
        assert!(matches!(err, SampleError::NotEmpty), "{err}");
        assert!(err.to_string().contains("already holds data"), "{err}");
        assert_eq!(
            person::Entity::find().count(&db).await.unwrap(),
            PERSONS as u64,
            "nothing added"
        );
    }
}
