//! The municipality's participant export (Gemeente Amsterdam, Werk en Re-integratie): one row per
//! participant (`Klantnummer`), with identity, profile, the current trajectory and outflow.

use model::PlacementKind;

use super::{
    Column, PLACEMENT_KIND_NAMES, PlacementValues, Preset, Record, Rejection, Values, outcome,
    placement_kind,
};
use crate::value;

/// `kind = "municipality"`.
pub struct Municipality;

const fn col(field: &'static str, header: &'static str, personal: bool) -> Column {
    Column {
        field,
        header,
        required: false,
        personal,
    }
}

static COLUMNS: &[Column] = &[
    Column {
        field: "source_key",
        header: "Klantnummer",
        required: true,
        personal: false,
    },
    col("bsn", "BSN", true),
    col("given_name", "Voornaam", true),
    col("name_prefix", "Tussenvoegsel", true),
    col("family_name", "Achternaam", true),
    col("birth_date", "Geboortedatum", true),
    col("postcode", "Postcode", true),
    col("district", "Stadsdeel", false),
    col("participation_step", "Trede", false),
    col("trajectory", "Traject", false),
    col("trajectory_start", "Startdatum traject", false),
    col("trajectory_end", "Einddatum traject", false),
    col("employer", "Werkgever", false),
    col("outflow_reason", "Uitstroomreden", false),
    col("outflow_date", "Uitstroomdatum", false),
    col("hours_available", "Uren beschikbaar", false),
    col("strengths", "Sterke punten", false),
    col("development_points", "Ontwikkelpunten", false),
    col("skills", "Vaardigheden", false),
    col("work_types", "Werksoorten", false),
    col("driving_licence", "Rijbewijs", false),
    col("education_level", "Opleidingsniveau", false),
    col("languages", "Talen", false),
    col("consent_network", "Toestemming delen", false),
    col("limitations", "Belemmeringen", true),
    col("benefit", "Uitkering", true),
    col("caseworker", "Jobcoach", true),
];

impl Preset for Municipality {
    fn kind(&self) -> &'static str {
        "municipality"
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn organisation_kind(&self) -> model::OrganisationKind {
        model::OrganisationKind::Municipality
    }

    fn full_export(&self) -> bool {
        true
    }

    fn map(&self, v: &Values<'_>) -> Result<Record, Rejection> {
        let mut r = Record::new(v.key("source_key")?);
        r.bsn = v.get("bsn", value::bsn)?;
        r.identity.given_name = v.text("given_name");
        r.identity.name_prefix = v.text("name_prefix");
        r.identity.family_name = v.text("family_name");
        r.identity.birth_date = v.get("birth_date", value::date)?;
        r.identity.postcode = v.get("postcode", value::postcode)?;
        r.profile.district = v.text("district");
        r.profile.participation_step = v.get("participation_step", value::participation_step)?;
        r.profile.hours_per_week = v.get("hours_available", value::hours)?;
        r.profile.strengths = v.list("strengths");
        r.profile.development_points = v.list("development_points");
        r.profile.skills = v.list("skills");
        r.profile.work_types = v.list("work_types");
        r.profile.driving_licence = v.get("driving_licence", value::boolean)?;
        r.profile.education_level = v.get("education_level", value::education_level)?;
        r.profile.languages = v.list("languages");
        r.consent_network = v.get("consent_network", value::boolean)?;
        r.sensitive.health_notes = v.text("limitations");
        r.sensitive.benefit_type = v.text("benefit").map(|b| b.to_lowercase());

        let start = v.get("trajectory_start", value::date)?;
        let planned_end = v.get("trajectory_end", value::date)?;
        let outflow = v.get("outflow_date", value::date)?;
        if let (Some(s), Some(e)) = (start, planned_end)
            && e < s
        {
            return Err(v.reject(
                "trajectory_end",
                "ends before it starts (Startdatum traject)",
            ));
        }
        if let Some(employer) = v.text("employer") {
            let kind = match v.text("trajectory") {
                None => PlacementKind::Employment,
                Some(t) => placement_kind(&t).ok_or_else(|| {
                    v.reject(
                        "trajectory",
                        format!("unknown trajectory; known: {PLACEMENT_KIND_NAMES}"),
                    )
                })?,
            };
            r.placement = Some(PlacementValues {
                organisation: Some(employer),
                kind,
                start_date: start,
                planned_end_date: planned_end,
                actual_end_date: outflow,
                hours_per_week: r.profile.hours_per_week,
                outcome: v.text("outflow_reason").map(|o| outcome(&o).to_owned()),
            });
        }
        Ok(r)
    }
}
