//! The bundled sample data: a small, invented but realistic data set, generated deterministically
//! from a seed. No real person's data: names are combined from common lists, BSNs are random
//! numbers that pass the eleven-test, e-mail addresses use example.org.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use model::entity::{
    candidate_profile, consent, import_run, introduction, organisation, person, person_identity,
    placement, sensitive_detail, source, source_record, vacancy,
};
use model::{Bsn, BsnProtector, Line, OrganisationKind, PlacementKind};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{
    ActiveModelTrait, DatabaseConnection, DatabaseTransaction, EntityTrait, PaginatorTrait, Set,
    TransactionTrait,
};
use serde_json::json;

/// Code of the municipality.
pub const MUNICIPALITY: &str = "gemeente-amsterdam";
/// Code of UWV.
pub const UWV: &str = "uwv";
/// Codes of the two social firms.
pub const SOCIAL_FIRMS: [&str; 2] = ["pantar", "noorderlicht"];
/// Codes of the five partner employers.
pub const PARTNERS: [&str; 5] = [
    "schoonmaak-amstelglans",
    "catering-ijkeuken",
    "luchthaven-grondservice-west",
    "uitzendbureau-werkzaam",
    "tankstation-de-ring",
];
/// Code of the network organisation.
pub const NETWORK: &str = "sociaal-werkkoepel";
/// How many persons the sample holds.
pub const PERSONS: usize = 200;

const ORGANISATIONS: &[(&str, &str, OrganisationKind)] = &[
    (
        "Gemeente Amsterdam",
        MUNICIPALITY,
        OrganisationKind::Municipality,
    ),
    ("UWV", UWV, OrganisationKind::Uwv),
    ("Pantar", "pantar", OrganisationKind::SocialFirm),
    (
        "Werkbedrijf Noorderlicht",
        "noorderlicht",
        OrganisationKind::SocialFirm,
    ),
    (
        "Schoonmaak Amstelglans",
        "schoonmaak-amstelglans",
        OrganisationKind::Employer,
    ),
    (
        "Catering IJkeuken",
        "catering-ijkeuken",
        OrganisationKind::Employer,
    ),
    (
        "Luchthaven Grondservice West",
        "luchthaven-grondservice-west",
        OrganisationKind::Employer,
    ),
    (
        "Uitzendbureau Werkzaam",
        "uitzendbureau-werkzaam",
        OrganisationKind::Employer,
    ),
    (
        "Tankstation De Ring",
        "tankstation-de-ring",
        OrganisationKind::Employer,
    ),
    ("Sociaal Werkkoepel", NETWORK, OrganisationKind::Network),
];

const GIVEN: &[&str] = &[
    "Anouk", "Bram", "Chaima", "Daan", "Esra", "Fleur", "Gijs", "Hamza", "Iris", "Jesse", "Kevin",
    "Lotte", "Mohamed", "Noor", "Omar", "Priya", "Quinten", "Rachid", "Sanne", "Tim", "Usha",
    "Vera", "Wesley", "Yasmina", "Zeynep", "Ayoub", "Bo", "Demi", "Emre", "Farah",
];
const PREFIXES: &[Option<&str>] = &[
    None,
    None,
    None,
    None,
    Some("van"),
    Some("de"),
    Some("van der"),
    Some("van den"),
];
const FAMILY: &[&str] = &[
    "Jansen",
    "Bakker",
    "Visser",
    "Smit",
    "Meijer",
    "Mulder",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "Dekker",
    "Brouwer",
    "Yilmaz",
    "El Amrani",
    "Kaya",
    "Ramdin",
    "Koster",
    "Prins",
    "Huisman",
    "Kok",
    "Berg",
    "Veen",
    "Boer",
    "Graaf",
    "Linden",
    "Doğan",
    "Bouzid",
    "Sitaram",
    "Wijk",
    "Groot",
];
const DISTRICTS: &[(&str, &str)] = &[
    ("Centrum", "1012"),
    ("Nieuw-West", "1064"),
    ("Noord", "1032"),
    ("Oost", "1093"),
    ("West", "1055"),
    ("Zuid", "1077"),
    ("Zuidoost", "1103"),
    ("Weesp", "1382"),
];
const SKILLS: &[&str] = &[
    "schoonmaken",
    "klantcontact",
    "heftruck",
    "koken",
    "administratie",
    "logistiek",
    "groenonderhoud",
    "beveiliging",
    "kassa",
    "magazijn",
    "orderpicken",
    "afwassen",
    "bagage afhandelen",
    "tanken en shop",
];
const STRENGTHS: &[&str] = &[
    "betrouwbaar",
    "punctueel",
    "zorgvuldig",
    "klantvriendelijk",
    "leergierig",
    "teamspeler",
    "zelfstandig",
];
const DEVELOPMENT: &[&str] = &[
    "Nederlandse taal",
    "werktempo",
    "plannen",
    "samenwerken",
    "omgaan met feedback",
];
const WORK_TYPES: &[&str] = &[
    "schoonmaak",
    "catering",
    "logistiek",
    "groen",
    "productie",
    "detailhandel",
    "facilitair",
    "luchthavendiensten",
];
const DAYS: &[&str] = &[
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const LANGUAGES: &[&str] = &["en", "ar", "tr", "pap", "srn", "pl"];
const HEALTH: &[&str] = &[
    "Rugklachten; geen zwaar tillen",
    "Concentratieproblemen bij drukte",
    "Beperkte belastbaarheid na lange afwezigheid",
    "Hoort slecht aan één oor",
];
const LEGAL_BASIS: &[&str] = &["participatiewet", "wajong", "wsw", "sheltered_work"];
const VACANCIES: &[(&str, &str, &[&str])] = &[
    ("Medewerker schoonmaak", "schoonmaak", &["schoonmaken"]),
    (
        "Medewerker bediening",
        "catering",
        &["klantcontact", "afwassen"],
    ),
    (
        "Bagagemedewerker",
        "luchthavendiensten",
        &["bagage afhandelen", "logistiek"],
    ),
    ("Orderpicker", "logistiek", &["orderpicken", "magazijn"]),
    (
        "Medewerker shop",
        "detailhandel",
        &["kassa", "tanken en shop"],
    ),
];

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

/// Why the sample data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// The database already holds organisations.
    #[error(
        "the database already holds data; sample data goes into a fresh database (use `werkbrug serve --demo`)"
    )]
    NotEmpty,
    /// A database error; nothing was written.
    #[error("database error while loading sample data (nothing was written): {0}")]
    Db(#[from] sea_orm::DbErr),
}

/// Loads the sample data into a migrated, empty database, in one transaction.
pub async fn load_sample(
    db: &DatabaseConnection,
    protector: &BsnProtector,
    seed: u64,
) -> Result<SampleSummary, SampleError> {
    if organisation::Entity::find().count(db).await? > 0 {
        return Err(SampleError::NotEmpty);
    }
    let txn = db.begin().await?;
    let summary = Generator {
        rng: StdRng::seed_from_u64(seed),
        txn: &txn,
        protector,
        now: Utc::now(),
        today: Utc::now().date_naive(),
    }
    .run()
    .await?;
    txn.commit().await?;
    Ok(summary)
}

/// A generated person's holding organisation and source.
struct Holder {
    org_id: i64,
    code: &'static str,
    source_id: i64,
    run_id: i64,
    source_name: String,
}

struct Generator<'a> {
    rng: StdRng,
    txn: &'a DatabaseTransaction,
    protector: &'a BsnProtector,
    now: DateTime<Utc>,
    today: NaiveDate,
}

impl Generator<'_> {
    async fn run(mut self) -> Result<SampleSummary, sea_orm::DbErr> {
        let mut orgs = std::collections::HashMap::new();
        for (name, code, kind) in ORGANISATIONS {
            let m = organisation::ActiveModel {
                name: Set((*name).into()),
                code: Set((*code).into()),
                kind: Set(kind.as_str().into()),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .insert(self.txn)
            .await?;
            orgs.insert(*code, m.id);
        }
        let mut holders = vec![];
        for (code, format, location) in [
            (MUNICIPALITY, "xlsx", "samples/gemeente-deelnemers.xlsx"),
            ("pantar", "xlsx", "samples/pantar-medewerkers.xlsx"),
            (
                "noorderlicht",
                "csv",
                "samples/noorderlicht-medewerkers.csv",
            ),
            (UWV, "json", "http://127.0.0.1:9000/uwv/indicaties"),
        ] {
            let name = format!(
                "{code}-{}",
                if code == UWV {
                    "indicaties"
                } else {
                    "deelnemers"
                }
            );
            let src = source::ActiveModel {
                name: Set(name.clone()),
                kind: Set(match code {
                    MUNICIPALITY => "municipality",
                    UWV => "uwv",
                    _ => "social_firm",
                }
                .into()),
                organisation_id: Set(orgs[code]),
                format: Set(format.into()),
                location: Set(location.into()),
                schedule: Set(Some("0 0 6 * * *".into())),
                updated_since: Set(None),
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
                started_at: Set(Some(self.now - Duration::minutes(3))),
                finished_at: Set(None),
                rows_read: Set(0),
                rows_inserted: Set(0),
                rows_updated: Set(0),
                rows_unchanged: Set(0),
                rows_rejected: Set(0),
                error: Set(None),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .insert(self.txn)
            .await?;
            holders.push(Holder {
                org_id: orgs[code],
                code,
                source_id: src.id,
                run_id: run.id,
                source_name: name,
            });
        }
        let mut rows_per_source = vec![0i64; holders.len()];
        let (mut placements, mut consents) = (0, 0);
        let partner_ids: Vec<i64> = PARTNERS.iter().map(|c| orgs[c]).collect();
        let mut person_ids = vec![];
        for i in 0..PERSONS {
            let h = match self.rng.gen_range(0..10) {
                0..=4 => 0,
                5..=7 => 1,
                _ => 2,
            };
            let holder = &holders[h];
            let person_id = self.person(i, holder, h > 0).await?;
            person_ids.push(person_id);
            rows_per_source[h] += 1;
            if self.rng.gen_bool(0.2) {
                self.source_record(&holders[3], person_id, format!("UWV{i:05}"))
                    .await?;
                rows_per_source[3] += 1;
            }
            placements += self
                .placements(person_id, holder, &partner_ids, h > 0)
                .await?;
            consents += self.consents(person_id, holder, &partner_ids).await?;
        }
        for (holder, rows) in holders.iter().zip(rows_per_source) {
            import_run::ActiveModel {
                id: Set(holder.run_id),
                status: Set("succeeded".into()),
                finished_at: Set(Some(self.now)),
                rows_read: Set(rows),
                rows_inserted: Set(rows),
                ..Default::default()
            }
            .update(self.txn)
            .await?;
        }
        let vacancies = self.vacancies(&partner_ids, &person_ids).await?;
        Ok(SampleSummary {
            organisations: ORGANISATIONS.len(),
            persons: PERSONS,
            placements,
            consents,
            vacancies,
        })
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        *from.choose(&mut self.rng).expect("non-empty list")
    }

    fn some<T: Copy>(&mut self, from: &[T], max: usize) -> Vec<T> {
        let n = self.rng.gen_range(1..=max.min(from.len()));
        from.choose_multiple(&mut self.rng, n).copied().collect()
    }

    fn date_between(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let days = (to - from).num_days().max(1);
        from + Duration::days(self.rng.gen_range(0..days))
    }

    /// A random valid BSN: eight random digits and a check digit that passes the eleven-test.
    fn bsn(&mut self) -> Bsn {
        loop {
            let digits: Vec<u32> = (0..8)
                .map(|i| self.rng.gen_range(u32::from(i == 0)..10))
                .collect();
            let sum: u32 = digits
                .iter()
                .enumerate()
                .map(|(i, d)| (9 - i as u32) * d)
                .sum();
            let check = sum % 11;
            if check < 10 {
                let text: String = digits
                    .iter()
                    .chain([check].iter())
                    .map(|d| char::from(b'0' + *d as u8))
                    .collect();
                if let Ok(bsn) = Bsn::parse(&text) {
                    return bsn;
                }
            }
        }
    }

    async fn person(
        &mut self,
        i: usize,
        holder: &Holder,
        social_firm: bool,
    ) -> Result<i64, sea_orm::DbErr> {
        let bsn = (!self.rng.gen_bool(0.05)).then(|| self.bsn());
        let p = person::ActiveModel {
            bsn_pseudonym: Set(bsn.as_ref().map(|b| self.protector.pseudonym(b))),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        let given = self.pick(GIVEN);
        let family = self.pick(FAMILY);
        let (district, pc) = self.pick(DISTRICTS);
        let birth = self.date_between(ymd(1965, 1, 1), ymd(2004, 12, 31));
        let letters: String = (0..2)
            .map(|_| char::from(self.rng.gen_range(b'A'..=b'Z')))
            .collect();
        person_identity::ActiveModel {
            person_id: Set(p.id),
            bsn_encrypted: Set(bsn.as_ref().map(|b| self.protector.encrypt(b))),
            given_name: Set(Some(given.into())),
            name_prefix: Set(self.pick(PREFIXES).map(Into::into)),
            family_name: Set(Some(family.into())),
            birth_date: Set(Some(birth)),
            email: Set(Some(format!(
                "{}.{}{i}@example.org",
                given.to_lowercase().chars().next().unwrap_or('x'),
                family.to_lowercase().replace(' ', "")
            ))),
            phone: Set(Some(format!("06-0000{:04}", self.rng.gen_range(0..10_000)))),
            postcode: Set(Some(format!("{pc} {letters}"))),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        let available_from = self.date_between(
            self.today - Duration::days(180),
            self.today + Duration::days(240),
        );
        candidate_profile::ActiveModel {
            person_id: Set(p.id),
            skills: Set(json!(self.some(SKILLS, 4))),
            strengths: Set(json!(self.some(STRENGTHS, 3))),
            development_points: Set(json!(self.some(DEVELOPMENT, 2))),
            work_types: Set(json!(self.some(WORK_TYPES, 3))),
            sectors: Set(json!(self.some(WORK_TYPES, 2))),
            hours_per_week: Set(Some(f64::from(self.rng.gen_range(2..=19) * 2))),
            days_available: Set(json!(self.some(DAYS, 5))),
            available_from: Set(Some(available_from)),
            district: Set(Some(district.into())),
            municipality: Set(Some(
                if district == "Weesp" {
                    "Weesp"
                } else {
                    "Amsterdam"
                }
                .into(),
            )),
            travel_range_km: Set(Some(self.rng.gen_range(2..=30))),
            travels_independently: Set(Some(self.rng.gen_bool(0.8))),
            education_level: Set(Some(self.rng.gen_range(0..=7))),
            languages: Set(json!(
                std::iter::once("nl")
                    .chain(
                        self.some(LANGUAGES, 2)
                            .into_iter()
                            .take(self.rng.gen_range(0..=2))
                    )
                    .collect::<Vec<_>>()
            )),
            driving_licence: Set(Some(self.rng.gen_bool(0.3))),
            line: Set(social_firm.then(|| self.pick(Line::ALL).as_str().to_owned())),
            participation_step: Set(Some(self.rng.gen_range(1..=6))),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        if self.rng.gen_bool(0.85) {
            let health = self.rng.gen_bool(0.6).then(|| self.pick(HEALTH).to_owned());
            sensitive_detail::ActiveModel {
                person_id: Set(p.id),
                health_notes: Set(health),
                workload_limits: Set(self
                    .rng
                    .gen_bool(0.4)
                    .then(|| "max. 6 uur per dag".to_owned())),
                benefit_type: Set(Some(
                    if social_firm {
                        "geen"
                    } else {
                        "participatiewet"
                    }
                    .into(),
                )),
                legal_basis: Set(Some(self.pick(LEGAL_BASIS).into())),
                target_group_register: Set(self.rng.gen_bool(0.5).then(|| "registered".to_owned())),
                wage_value_pct: Set(Some(self.rng.gen_range(6..=20) * 5)),
                wage_cost_subsidy: Set(Some(self.rng.gen_bool(0.5))),
                case_notes: Set(Some(
                    "Gesprek gevoerd over doorstroom; volgt training.".into(),
                )),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .insert(self.txn)
            .await?;
        }
        let key = if holder.code == MUNICIPALITY {
            format!("K{i:06}")
        } else {
            format!("P{i:05}")
        };
        self.source_record(holder, p.id, key).await?;
        Ok(p.id)
    }

    async fn source_record(
        &mut self,
        holder: &Holder,
        person_id: i64,
        key: String,
    ) -> Result<(), sea_orm::DbErr> {
        // Raw values hold non-identifying columns only; identities live encrypted elsewhere.
        let raw = json!({ "Trede": self.rng.gen_range(1..=6), "Uren beschikbaar": self.rng.gen_range(8..=38) });
        source_record::ActiveModel {
            source_id: Set(holder.source_id),
            source_key: Set(key),
            person_id: Set(Some(person_id)),
            import_run_id: Set(holder.run_id),
            content_hash: Set(format!("{:016x}", self.rng.r#gen::<u64>())),
            raw_values: Set(raw),
            first_seen_at: Set(self.now),
            last_seen_at: Set(self.now),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        Ok(())
    }

    async fn placements(
        &mut self,
        person_id: i64,
        holder: &Holder,
        partners: &[i64],
        social_firm: bool,
    ) -> Result<usize, sea_orm::DbErr> {
        let count = self.rng.gen_range(0..=2);
        let mut start = self.date_between(ymd(2023, 1, 1), ymd(2025, 6, 1));
        for n in 0..count {
            let last = n + 1 == count;
            let kind = if social_firm {
                self.pick(&[
                    PlacementKind::Secondment,
                    PlacementKind::Employment,
                    PlacementKind::ShelteredWork,
                ])
            } else {
                self.pick(&[
                    PlacementKind::TrialPlacement,
                    PlacementKind::ParticipationPlace,
                    PlacementKind::Employment,
                ])
            };
            let at = if kind == PlacementKind::ShelteredWork {
                holder.org_id
            } else {
                self.pick(partners)
            };
            // The last placement is running; ~40% of those end within six months.
            let (planned_end, actual_end, outcome) = if last {
                let end = if self.rng.gen_bool(0.4) {
                    self.today + Duration::days(self.rng.gen_range(7..180))
                } else {
                    self.today + Duration::days(self.rng.gen_range(200..700))
                };
                (end, None, None)
            } else {
                let end = start + Duration::days(self.rng.gen_range(90..360));
                (
                    end,
                    Some(end),
                    Some(self.pick(&["next_placement", "regular_work", "education", "unknown"])),
                )
            };
            placement::ActiveModel {
                person_id: Set(person_id),
                organisation_id: Set(at),
                provider_organisation_id: Set(Some(holder.org_id)),
                kind: Set(kind.as_str().into()),
                start_date: Set(Some(start)),
                planned_end_date: Set(Some(planned_end)),
                actual_end_date: Set(actual_end),
                hours_per_week: Set(Some(f64::from(self.rng.gen_range(4..=16) * 2))),
                outcome: Set(outcome.map(Into::into)),
                created_at: Set(self.now),
                updated_at: Set(self.now),
                ..Default::default()
            }
            .insert(self.txn)
            .await?;
            start = actual_end.unwrap_or(planned_end) + Duration::days(self.rng.gen_range(1..30));
        }
        Ok(count)
    }

    async fn consents(
        &mut self,
        person_id: i64,
        holder: &Holder,
        partners: &[i64],
    ) -> Result<usize, sea_orm::DbErr> {
        if !self.rng.gen_bool(0.65) {
            return Ok(0);
        }
        let granted = self.now - Duration::days(self.rng.gen_range(10..400));
        let roll = self.rng.gen_range(0..20);
        let (audience, partner) = if roll < 3 {
            ("partner", Some(self.pick(partners)))
        } else {
            ("network", None)
        };
        consent::ActiveModel {
            person_id: Set(person_id),
            audience: Set(audience.into()),
            partner_organisation_id: Set(partner),
            scope: Set(if roll == 4 {
                "generic_profile_and_job_agreement"
            } else {
                "generic_profile"
            }
            .into()),
            person_agreed: Set(true),
            granted_at: Set(granted),
            expires_at: Set(Some(granted + Duration::days(365))),
            revoked_at: Set((roll == 5).then_some(granted + Duration::days(5))),
            approved_by: Set((roll < 17).then(|| format!("jobcoach@{}", holder.code))),
            approved_at: Set((roll < 17).then_some(granted + Duration::days(1))),
            recorded_by: Set(format!("import:{}", holder.source_name)),
            recorded_by_organisation_id: Set(Some(holder.org_id)),
            created_at: Set(self.now),
            updated_at: Set(self.now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        Ok(1)
    }

    async fn vacancies(
        &mut self,
        partners: &[i64],
        persons: &[i64],
    ) -> Result<usize, sea_orm::DbErr> {
        let mut count = 0;
        for (p, partner) in partners.iter().enumerate() {
            for v in 0..3 {
                let (title, work_type, skills) = VACANCIES[(p + v) % VACANCIES.len()];
                let (district, _) = self.pick(DISTRICTS);
                let m = vacancy::ActiveModel {
                    organisation_id: Set(*partner),
                    title: Set(title.into()),
                    work_type: Set(Some(work_type.into())),
                    skills: Set(json!(skills)),
                    hours_per_week: Set(Some(f64::from(self.rng.gen_range(4..=16) * 2))),
                    district: Set(Some(district.into())),
                    suitable_line_3: Set(self.rng.gen_bool(0.7)),
                    suitable_line_4: Set(self.rng.gen_bool(0.4)),
                    start_date: Set(Some(
                        self.today + Duration::days(self.rng.gen_range(7..120)),
                    )),
                    status: Set(if v == 2 && p % 2 == 0 {
                        "closed"
                    } else {
                        "open"
                    }
                    .into()),
                    created_at: Set(self.now),
                    updated_at: Set(self.now),
                    ..Default::default()
                }
                .insert(self.txn)
                .await?;
                count += 1;
                if v == 0 && p < 2 {
                    introduction::ActiveModel {
                        vacancy_id: Set(m.id),
                        person_id: Set(self.pick(persons)),
                        requested_by_organisation_id: Set(*partner),
                        status: Set("requested".into()),
                        decided_by: Set(None),
                        decided_at: Set(None),
                        created_at: Set(self.now),
                        updated_at: Set(self.now),
                        ..Default::default()
                    }
                    .insert(self.txn)
                    .await?;
                }
            }
        }
        Ok(count)
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
        BsnProtector::from_hex(
            &model::crypto::generate_key_hex(),
            &model::crypto::generate_key_hex(),
        )
        .unwrap()
    }

    async fn family_names(db: &DatabaseConnection) -> Vec<Option<String>> {
        person_identity::Entity::find()
            .order_by_asc(person_identity::Column::Id)
            .all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.family_name)
            .collect()
    }

    #[tokio::test]
    async fn loads_a_deterministic_realistic_set_once() {
        let db = fresh().await;
        let p = protector();
        let summary = load_sample(&db, &p, 1).await.unwrap();
        assert_eq!(summary.organisations, 10);
        assert_eq!(
            person::Entity::find().count(&db).await.unwrap(),
            PERSONS as u64
        );
        assert!(
            summary.consents > 80 && summary.vacancies == 15,
            "{summary:?}"
        );

        let horizon = Utc::now().date_naive() + Duration::days(183);
        let ending = placement::Entity::find()
            .filter(placement::Column::ActualEndDate.is_null())
            .filter(placement::Column::PlannedEndDate.lte(horizon))
            .count(&db)
            .await
            .unwrap();
        assert!(ending >= 30, "{ending} placements end within six months");

        for id in person_identity::Entity::find().all(&db).await.unwrap() {
            if let Some(sealed) = id.bsn_encrypted {
                assert!(
                    !sealed
                        .as_bytes()
                        .windows(9)
                        .any(|w| w.iter().all(u8::is_ascii_digit))
                );
                p.decrypt(&sealed).unwrap();
            }
        }

        let other = fresh().await;
        load_sample(&other, &protector(), 1).await.unwrap();
        assert_eq!(
            family_names(&db).await,
            family_names(&other).await,
            "same seed, same data"
        );

        let err = load_sample(&db, &p, 1).await.unwrap_err();
        assert!(matches!(err, SampleError::NotEmpty), "{err}");
        assert_eq!(
            person::Entity::find().count(&db).await.unwrap(),
            PERSONS as u64,
            "nothing added"
        );
    }
}
