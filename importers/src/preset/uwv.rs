//! UWV's indication feed (HTTP JSON): target-group register, Wajong, sheltered work. Every value
//! is special (health-derived); the feed is incremental (`updated_since`), never a full export.

use chrono::{DateTime, Utc};

use super::{Column, Preset, Record, Rejection, Values};
use crate::value;

/// `kind = "uwv"`.
pub struct Uwv;

static COLUMNS: &[Column] = &[
    Column {
        field: "bsn",
        header: "bsn",
        required: true,
        personal: true,
    },
    Column {
        field: "indication",
        header: "indicatie",
        required: true,
        personal: true,
    },
    Column {
        field: "valid_from",
        header: "geldig_vanaf",
        required: false,
        personal: true,
    },
    Column {
        field: "valid_to",
        header: "geldig_tot",
        required: false,
        personal: true,
    },
    Column {
        field: "changed_at",
        header: "gewijzigd_op",
        required: false,
        personal: false,
    },
];

/// Indications the feed may carry.
const INDICATIONS: &str = "banenafspraak, beschut_werk, wajong, wsw";

impl Preset for Uwv {
    fn kind(&self) -> &'static str {
        "uwv"
    }

    fn columns(&self) -> &'static [Column] {
        COLUMNS
    }

    fn organisation_kind(&self) -> model::OrganisationKind {
        model::OrganisationKind::Uwv
    }

    fn records_are_special(&self) -> bool {
        true
    }

    fn full_export(&self) -> bool {
        false
    }

    fn map(&self, v: &Values<'_>) -> Result<Record, Rejection> {
        let bsn = v
            .get("bsn", value::bsn)?
            .ok_or_else(|| v.reject("bsn", "every indication needs a BSN"))?;
        let indication = v
            .text("indication")
            .map(|i| i.to_lowercase().replace([' ', '-'], "_"))
            .ok_or_else(|| v.reject("indication", "empty indication"))?;
        if !INDICATIONS.split(", ").any(|i| i == indication) {
            return Err(v.reject(
                "indication",
                format!("unknown indication; known: {INDICATIONS}"),
            ));
        }
        let valid_from = v.get("valid_from", value::date)?;
        let valid_to = v.get("valid_to", value::date)?;
        let changed_at = match v.text("changed_at") {
            None => None,
            Some(t) => Some(
                DateTime::parse_from_rfc3339(&t)
                    .map_err(|_| v.reject("changed_at", "not an RFC 3339 time"))?
                    .with_timezone(&Utc),
            ),
        };
        let ended = valid_to.is_some_and(|t| t < model::clock::today());
        // The key is set by the pipeline from the BSN's pseudonym (never the BSN itself).
        let mut r = Record::new(indication.clone());
        match indication.as_str() {
            "banenafspraak" => {
                r.sensitive.target_group_register =
                    Some(if ended { "ended" } else { "registered" }.to_owned());
                // Kept, so that readers decide on their own day whether the entry holds.
                r.sensitive.target_group_register_valid = (valid_from, valid_to);
            }
            "beschut_werk" if !ended => r.sensitive.legal_basis = Some("sheltered_work".into()),
            "wajong" if !ended => r.sensitive.legal_basis = Some("wajong".into()),
            "wsw" if !ended => r.sensitive.legal_basis = Some("wsw".into()),
            _ => {}
        }
        r.bsn = Some(bsn);
        r.key_with_bsn = true;
        r.changed_at = changed_at;
        Ok(r)
    }
}
