//! Presets: how one kind of source (municipality, social firm, UWV) maps its Dutch headers onto
//! the unified model. A preset lists its columns and turns one row of cells into a [`Record`] of
//! domain values, or into a [`Rejection`] that names the column and the reason.
//!
//! Adding a source kind is one file implementing [`Preset`] and one line in [`PRESETS`].

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use model::{Bsn, Line, PlacementKind};

use crate::source::{Cell, normalise_header};
use crate::value::{self, Refusal};

pub mod municipality;
pub mod social_firm;
pub mod uwv;

/// One column a preset knows: the field it fills, its default header, whether it must exist.
#[derive(Clone, Copy, Debug)]
pub struct Column {
    /// The field's name (snake_case English), also the key for overrides in `[source.columns]`.
    pub field: &'static str,
    /// The header as the source writes it (Dutch).
    pub header: &'static str,
    /// The file cannot be imported without this column.
    pub required: bool,
    /// The column holds a personal or special value: masked in stored raw values.
    pub personal: bool,
}

/// A source kind's mapping.
pub trait Preset: Send + Sync {
    /// The `kind` value in a `[[source]]` table.
    fn kind(&self) -> &'static str;
    /// The columns, in the order they are documented.
    fn columns(&self) -> &'static [Column];
    /// Whether each run delivers every row (so a missing row was removed at the source).
    fn full_export(&self) -> bool;
    /// The kind of organisation that supplies such a source.
    fn organisation_kind(&self) -> model::OrganisationKind;
    /// Turns one row into domain values.
    fn map(&self, row: &Values<'_>) -> Result<Record, Rejection>;
    /// Whether a record of this source says something special by existing at all (a register
    /// entry): such kinds are listed in `model::privacy::SPECIAL_SOURCE_KINDS`.
    fn records_are_special(&self) -> bool {
        false
    }
}

/// Every preset; one line per source kind.
pub static PRESETS: &[&dyn Preset] = &[
    &municipality::Municipality,
    &social_firm::SocialFirm,
    &uwv::Uwv,
];

/// The preset for a `kind` value.
pub fn preset_for(kind: &str) -> Option<&'static dyn Preset> {
    PRESETS.iter().copied().find(|p| p.kind() == kind)
}

/// Why a row was refused: the column (as the source names it) and what is wrong. Never carries
/// the cell's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The column at fault, as the file names it; `None` for the row as a whole.
    pub column: Option<String>,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// Where each field's column sits in a file, after overrides.
#[derive(Clone, Debug)]
pub struct ColumnIndex {
    /// `(field, header as configured, position in the file)`.
    entries: Vec<(&'static str, String, Option<usize>)>,
    /// Positions of columns holding personal or special values.
    personal: Vec<usize>,
}

/// A file lacks required columns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("required column(s) {} not found; headers found: {}", missing.join(", "), found.join(", "))]
pub struct MissingColumns {
    /// The required headers not found (as configured).
    pub missing: Vec<String>,
    /// The headers the file has.
    pub found: Vec<String>,
}

impl ColumnIndex {
    /// The headers (as configured, overrides applied) of a preset: `(field, header, required)`.
    pub fn configured(
        preset: &dyn Preset,
        overrides: &BTreeMap<String, String>,
    ) -> Vec<(&'static str, String, bool)> {
        preset
            .columns()
            .iter()
            .map(|c| {
                let header = overrides
                    .get(c.field)
                    .cloned()
                    .unwrap_or_else(|| c.header.to_owned());
                (c.field, header, c.required)
            })
            .collect()
    }

    /// Locates the preset's columns among a file's headers (compared loosely: case, spaces,
    /// underscores and dashes do not matter).
    pub fn locate(
        preset: &dyn Preset,
        overrides: &BTreeMap<String, String>,
        headers: &[String],
    ) -> Result<Self, MissingColumns> {
        let normalised: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
        let mut entries = vec![];
        let mut missing = vec![];
        let mut personal = vec![];
        for ((field, header, required), column) in Self::configured(preset, overrides)
            .into_iter()
            .zip(preset.columns())
        {
            let want = normalise_header(&header);
            let pos = normalised.iter().position(|h| *h == want);
            if pos.is_none() && required {
                missing.push(header.clone());
            }
            if let (Some(p), true) = (pos, column.personal) {
                personal.push(p);
            }
            entries.push((field, header, pos));
        }
        if !missing.is_empty() {
            return Err(MissingColumns {
                missing,
                found: headers.to_vec(),
            });
        }
        Ok(Self { entries, personal })
    }

    /// Whether the column at `position` holds personal or special values.
    pub fn is_personal(&self, position: usize) -> bool {
        self.personal.contains(&position)
    }

    /// Whether the preset declares this field.
    pub fn declares(&self, field: &str) -> bool {
        self.entries.iter().any(|(f, _, _)| *f == field)
    }

    fn find(&self, field: &str) -> &(&'static str, String, Option<usize>) {
        self.entries
            .iter()
            .find(|(f, _, _)| *f == field)
            .unwrap_or_else(|| panic!("preset reads `{field}` without declaring it"))
    }
}

/// One row's cells as a preset reads them: by field, with the column named in refusals.
pub struct Values<'a> {
    /// The row's cells.
    pub cells: &'a [Cell],
    /// Where each field is.
    pub index: &'a ColumnIndex,
}

static EMPTY: Cell = Cell::Empty;

impl Values<'_> {
    /// The cell of a field (empty when the file lacks the optional column).
    pub fn cell(&self, field: &str) -> &Cell {
        match self.index.find(field).2 {
            Some(p) => self.cells.get(p).unwrap_or(&EMPTY),
            None => &EMPTY,
        }
    }

    /// Parses a field, naming its column when the value is refused.
    pub fn get<T>(
        &self,
        field: &str,
        parse: impl Fn(&Cell) -> Result<T, Refusal>,
    ) -> Result<T, Rejection> {
        parse(self.cell(field)).map_err(|reason| self.reject(field, reason))
    }

    /// A refusal of a field's value.
    pub fn reject(&self, field: &str, reason: impl Into<String>) -> Rejection {
        Rejection {
            column: Some(self.index.find(field).1.clone()),
            reason: reason.into(),
        }
    }

    /// Free text of a field.
    pub fn text(&self, field: &str) -> Option<String> {
        value::free_text(self.cell(field))
    }

    /// A list field.
    pub fn list(&self, field: &str) -> Vec<String> {
        value::list(self.cell(field))
    }

    /// The required source key, as text.
    pub fn key(&self, field: &str) -> Result<String, Rejection> {
        self.text(field)
            .ok_or_else(|| self.reject(field, "the key column is empty; every row needs one"))
    }
}

/// Identifying values of a row (all personal).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IdentityValues {
    /// Given name.
    pub given_name: Option<String>,
    /// Surname prefix.
    pub name_prefix: Option<String>,
    /// Surname.
    pub family_name: Option<String>,
    /// The whole name, when the source does not split it.
    pub full_name: Option<String>,
    /// Birth date.
    pub birth_date: Option<NaiveDate>,
    /// Postcode, `1234 AB`.
    pub postcode: Option<String>,
}

/// Generic profile values of a row. Lists are empty when the source says nothing.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileValues {
    /// Skills.
    pub skills: Vec<String>,
    /// Strengths.
    pub strengths: Vec<String>,
    /// Points to develop.
    pub development_points: Vec<String>,
    /// Work types wanted or done.
    pub work_types: Vec<String>,
    /// Hours per week available.
    pub hours_per_week: Option<f64>,
    /// District (stadsdeel).
    pub district: Option<String>,
    /// SUWI education level.
    pub education_level: Option<i32>,
    /// Languages.
    pub languages: Vec<String>,
    /// Driving licence.
    pub driving_licence: Option<bool>,
    /// Social-firm line.
    pub line: Option<Line>,
    /// Participation ladder step.
    pub participation_step: Option<i32>,
}

/// Special and internal values of a row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SensitiveValues {
    /// Limitations (special).
    pub health_notes: Option<String>,
    /// Benefit (special).
    pub benefit_type: Option<String>,
    /// Legal basis (special).
    pub legal_basis: Option<String>,
    /// Target-group-register status (special).
    pub target_group_register: Option<String>,
    /// First and last day of the register entry (special); written with the status, as a pair.
    pub target_group_register_valid: (Option<NaiveDate>, Option<NaiveDate>),
    /// Wage value % (internal).
    pub wage_value_pct: Option<i32>,
}

/// A placement a row describes.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacementValues {
    /// Where the person works, by name; `None` means the source's own organisation.
    pub organisation: Option<String>,
    /// Kind of placement.
    pub kind: PlacementKind,
    /// Start.
    pub start_date: Option<NaiveDate>,
    /// Planned end.
    pub planned_end_date: Option<NaiveDate>,
    /// Actual end.
    pub actual_end_date: Option<NaiveDate>,
    /// Hours per week.
    pub hours_per_week: Option<f64>,
    /// What followed, when the source says.
    pub outcome: Option<String>,
}

/// One row in domain values, ready for linking and upsert.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The row's key within its source (never a clear-text BSN).
    pub source_key: String,
    /// The person's BSN, when the row has a valid one.
    pub bsn: Option<Bsn>,
    /// Identifying values.
    pub identity: IdentityValues,
    /// Generic profile values.
    pub profile: ProfileValues,
    /// Special and internal values.
    pub sensitive: SensitiveValues,
    /// A placement, when the row describes one.
    pub placement: Option<PlacementValues>,
    /// The person's own key to network consent ("Toestemming delen"); `None` when not given.
    pub consent_network: Option<bool>,
    /// When the source changed the row (feeds), for `updated_since`.
    pub changed_at: Option<DateTime<Utc>>,
    /// The source has no key of its own: the stored key is the BSN's pseudonym and `source_key`.
    pub key_with_bsn: bool,
}

impl Record {
    /// An empty record for a key.
    pub fn new(source_key: String) -> Self {
        Self {
            source_key,
            bsn: None,
            identity: IdentityValues::default(),
            profile: ProfileValues::default(),
            sensitive: SensitiveValues::default(),
            placement: None,
            consent_network: None,
            changed_at: None,
            key_with_bsn: false,
        }
    }
}

/// The placement kind a trajectory name stands for.
pub fn placement_kind(name: &str) -> Option<PlacementKind> {
    let n = normalise_header(name);
    Some(match n.as_str() {
        "proefplaatsing" | "proefplaats" | "trialplacement" => PlacementKind::TrialPlacement,
        "participatieplaats" | "participationplace" => PlacementKind::ParticipationPlace,
        "detachering" | "gedetacheerd" | "secondment" => PlacementKind::Secondment,
        "beschutwerk" | "shelteredwork" => PlacementKind::ShelteredWork,
        "stage" | "werkervaringsplaats" | "werkervaringplaats" | "leerwerkplek" | "internship" => {
            PlacementKind::Internship
        }
        "baan"
        | "dienstverband"
        | "werk"
        | "loonkostensubsidie"
        | "jobcoaching"
        | "arbeidsovereenkomst"
        | "employment" => PlacementKind::Employment,
        _ => return None,
    })
}

/// The trajectory names [`placement_kind`] knows, for error messages.
pub const PLACEMENT_KIND_NAMES: &str = "proefplaatsing, participatieplaats, detachering, beschut werk, stage, werkervaringsplaats, baan, dienstverband, loonkostensubsidie, jobcoaching";

/// The outcome an outflow reason stands for.
pub fn outcome(reason: &str) -> &'static str {
    let r = reason.to_lowercase();
    if r.contains("opleiding") || r.contains("school") || r.contains("studie") {
        "education"
    } else if r.contains("zorg") || r.contains("dagbesteding") {
        "care"
    } else if r.contains("uitkering") {
        "benefit"
    } else if r.contains("werk") || r.contains("baan") || r.contains("dienst") {
        "regular_work"
    } else {
        "unknown"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_preset_with_a_required_key() {
        for kind in ["municipality", "social_firm", "uwv"] {
            let p = preset_for(kind).unwrap();
            assert_eq!(p.kind(), kind);
            assert!(p.columns().iter().any(|c| c.required));
            let mut fields: Vec<_> = p.columns().iter().map(|c| c.field).collect();
            fields.sort();
            fields.dedup();
            assert_eq!(fields.len(), p.columns().len(), "{kind}: a field twice");
        }
    }

    #[test]
    fn the_privacy_model_knows_which_kinds_have_special_records() {
        let special: Vec<&str> = PRESETS
            .iter()
            .filter(|p| p.records_are_special())
            .map(|p| p.kind())
            .collect();
        assert_eq!(
            special,
            model::privacy::SPECIAL_SOURCE_KINDS,
            "list the kind in model::privacy::SPECIAL_SOURCE_KINDS"
        );
    }

    #[test]
    fn columns_are_found_loosely_and_missing_ones_named() {
        let p = preset_for("social_firm").unwrap();
        let headers: Vec<String> = ["PERSONEELSNUMMER", "bsn", "uren_per_week"]
            .map(String::from)
            .to_vec();
        let idx = ColumnIndex::locate(p, &BTreeMap::new(), &headers).unwrap();
        let cells = [
            Cell::Text("P1".into()),
            Cell::Empty,
            Cell::Text("99".into()),
        ];
        let v = Values {
            cells: &cells,
            index: &idx,
        };
        let rejection = p.map(&v).unwrap_err();
        assert_eq!(rejection.column.as_deref(), Some("Uren per week"));
        let err = ColumnIndex::locate(p, &BTreeMap::new(), &["Naam".to_owned()]).unwrap_err();
        assert!(err.to_string().contains("Personeelsnummer"), "{err}");
        let overrides = BTreeMap::from([("source_key".to_owned(), "Medewerker".to_owned())]);
        assert!(ColumnIndex::locate(p, &overrides, &["medewerker".to_owned()]).is_ok());
    }
}
