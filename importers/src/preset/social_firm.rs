//! A social firm's employee export (e.g. Pantar): one row per employee (`Personeelsnummer`), with
//! the line of work, the contract and a secondment at a partner employer.

use model::PlacementKind;

use super::{Column, PlacementValues, Preset, Record, Rejection, Values};
use crate::value;

/// `kind = "social_firm"`.
pub struct SocialFirm;

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
        header: "Personeelsnummer",
        required: true,
        personal: false,
    },
    col("bsn", "BSN", true),
    col("full_name", "Naam", true),
    col("birth_date", "Geboortedatum", true),
    col("line", "Lijn", false),
    col("work_type", "Werksoort", false),
    col("seconded_to", "Gedetacheerd bij", false),
    col("contract_start", "Startdatum contract", false),
    col("contract_end", "Einddatum contract", false),
    col("hours_per_week", "Uren per week", false),
    col("wage_value", "Loonwaarde", false),
    col("strengths", "Sterke punten", false),
    col("development_points", "Ontwikkelpunten", false),
    col("skills", "Vaardigheden", false),
    col("consent_network", "Toestemming delen", false),
];

impl Preset for SocialFirm {
    fn kind(&self) -> &'static str {
        "social_firm"
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn organisation_kind(&self) -> model::OrganisationKind {
        model::OrganisationKind::SocialFirm
    }

    fn full_export(&self) -> bool {
        true
    }

    fn map(&self, v: &Values<'_>) -> Result<Record, Rejection> {
        let mut r = Record::new(v.key("source_key")?);
        r.bsn = v.get("bsn", value::bsn)?;
        r.identity.full_name = v.text("full_name");
        r.identity.birth_date = v.get("birth_date", value::date)?;
        r.profile.line = v.get("line", value::line)?;
        r.profile.work_types = v.list("work_type");
        r.profile.hours_per_week = v.get("hours_per_week", value::hours)?;
        r.profile.strengths = v.list("strengths");
        r.profile.development_points = v.list("development_points");
        r.profile.skills = v.list("skills");
        r.consent_network = v.get("consent_network", value::boolean)?;
        r.sensitive.wage_value_pct = v.get("wage_value", value::percentage)?;

        let start = v.get("contract_start", value::date)?;
        let end = v.get("contract_end", value::date)?;
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            return Err(v.reject(
                "contract_end",
                "ends before it starts (Startdatum contract)",
            ));
        }
        let seconded_to = v.text("seconded_to");
        if start.is_some() || seconded_to.is_some() {
            r.placement = Some(PlacementValues {
                kind: if seconded_to.is_some() {
                    PlacementKind::Secondment
                } else {
                    PlacementKind::Employment
                },
                organisation: seconded_to,
                start_date: start,
                planned_end_date: end,
                actual_end_date: None,
                hours_per_week: r.profile.hours_per_week,
                outcome: None,
            });
        }
        Ok(r)
    }
}
