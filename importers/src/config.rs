//! The importers' configuration: `[[source]]` tables and the `[import]` section.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::ImportError;
use crate::source::{Limits, Location, ReadError};

/// One `[[source]]` table.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Unique name, used by `werkbrug import NAME` and in the API.
    pub name: String,
    /// `municipality`, `social_firm` or `uwv`: which preset maps it.
    pub kind: String,
    /// The organisation that supplies it, by name or code.
    pub organisation: String,
    /// `xlsx`, `csv` or `json`.
    pub format: String,
    /// A file, a glob (`/data/*.xlsx`), a folder, or an `http(s)://` URL.
    pub location: String,
    /// Cron with seconds, e.g. `"0 0 6 * * *"`; no schedule means manual runs only.
    #[serde(default)]
    pub schedule: Option<String>,
    /// Time zone of the schedule (default: `[import] timezone`, Europe/Amsterdam).
    #[serde(default)]
    pub timezone: Option<String>,
    /// Run once at start-up when a scheduled run was missed while no server was up.
    #[serde(default)]
    pub catch_up: bool,
    /// Only this sheet of a workbook (default: every sheet with a header row).
    #[serde(default)]
    pub sheet: Option<String>,
    /// Header overrides: field → header, e.g. `source_key = "Klantnr"`.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Environment variable holding a bearer token (HTTP sources).
    #[serde(default)]
    pub token_env: Option<String>,
    /// OAuth2 client-credentials token endpoint (HTTP sources), with the two variables below.
    #[serde(default)]
    pub token_url: Option<String>,
    /// Environment variable holding the OAuth2 client id.
    #[serde(default)]
    pub client_id_env: Option<String>,
    /// Environment variable holding the OAuth2 client secret.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// Page size for HTTP sources.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// Feeds: ask again for this many seconds before the last change seen (default 300), so
    /// items the feed stamped with an earlier or the same time but published later are not
    /// skipped; items fetched twice are unchanged and change nothing.
    #[serde(default)]
    pub updated_since_overlap_secs: Option<u32>,
}

impl SourceConfig {
    /// Default of `updated_since_overlap_secs`.
    pub const DEFAULT_OVERLAP_SECS: u32 = 300;
}

/// `[import]`: settings for every source.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct ImportConfig {
    /// Time zone of schedules.
    pub timezone: String,
    /// Rows written per batch inside a run's transaction.
    pub batch_size: usize,
    /// Largest input file, in MiB.
    pub max_file_mib: u64,
    /// Largest uncompressed XLSX part, in MiB (zip-bomb guard; worksheets are streamed).
    pub max_uncompressed_mib: u64,
    /// Largest uncompressed XLSX part held in memory whole (shared strings, styles, workbook),
    /// in MiB.
    pub max_xlsx_metadata_mib: u64,
    /// Most strings in an XLSX shared-string table (declared or counted).
    pub max_shared_strings: u64,
    /// Timeout of one HTTP request, in seconds.
    pub http_timeout_secs: u64,
    /// Most attempts for one HTTP page.
    pub http_max_attempts: u32,
    /// First retry delay in milliseconds; doubles per attempt, with jitter.
    pub http_initial_backoff_ms: u64,
    /// How often the scheduler looks for queued manual runs, in seconds.
    pub poll_secs: u64,
    /// On shutdown, how long a running import may go on to finish before it is stopped and
    /// rolled back, in seconds.
    pub shutdown_grace_secs: u64,
}

impl Default for ImportConfig {
    fn default() -> Self {
        Self {
            timezone: "Europe/Amsterdam".into(),
            batch_size: 1000,
            max_file_mib: 2048,
            max_uncompressed_mib: 4096,
            max_xlsx_metadata_mib: 512,
            max_shared_strings: 10_000_000,
            http_timeout_secs: 30,
            http_max_attempts: 5,
            http_initial_backoff_ms: 500,
            poll_secs: 5,
            shutdown_grace_secs: 20,
        }
    }
}

impl ImportConfig {
    /// The readers' memory limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_bytes: self.max_file_mib * 1024 * 1024,
            max_uncompressed_bytes: self.max_uncompressed_mib * 1024 * 1024,
            max_metadata_bytes: self.max_xlsx_metadata_mib * 1024 * 1024,
            max_shared_strings: self.max_shared_strings,
            ..Limits::default()
        }
    }
}

impl SourceConfig {
    /// Checks what can be checked without reading: kind, format, field names of overrides.
    pub fn validate(&self) -> Result<(), ImportError> {
        let bad = |what: String| ImportError::Config {
            source_name: self.name.clone(),
            what,
        };
        let preset = crate::preset::preset_for(&self.kind).ok_or_else(|| {
            bad(format!(
                "kind `{}` is unknown; use one of: {}",
                self.kind,
                crate::preset::PRESETS
                    .iter()
                    .map(|p| p.kind())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if crate::source::reader_for(&self.format).is_none() {
            return Err(bad(format!(
                "format `{}` is unknown; use one of: {}",
                self.format,
                crate::source::READERS
                    .iter()
                    .map(|r| r.format())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        for field in self.columns.keys() {
            if !preset.columns().iter().any(|c| c.field == field) {
                return Err(bad(format!(
                    "`columns.{field}` is not a field of the {} preset; fields: {}",
                    self.kind,
                    preset
                        .columns()
                        .iter()
                        .map(|c| c.field)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        if let Some(s) = &self.schedule {
            crate::scheduler::parse_schedule(s).map_err(|e| bad(format!("schedule: {e}")))?;
        }
        Ok(())
    }
}

/// Resolves a location (or a `--file` given on the command line) to files or a URL.
pub fn resolve_location(location: &str) -> Result<Location, ReadError> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Ok(Location::Url(location.to_owned()));
    }
    let path = Path::new(location);
    let mut files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .map_err(|e| ReadError::Unreadable {
                file: location.to_owned(),
                format: "folder",
                reason: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && !is_hidden_or_lock(p))
            .collect()
    } else if location.contains(['*', '?', '[']) {
        glob::glob(location)
            .map_err(|e| ReadError::Unreadable {
                file: location.to_owned(),
                format: "glob",
                reason: e.to_string(),
            })?
            .filter_map(Result::ok)
            .filter(|p| p.is_file() && !is_hidden_or_lock(p))
            .collect()
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        vec![]
    };
    if files.is_empty() {
        return Err(ReadError::NoFiles {
            location: location.to_owned(),
        });
    }
    files.sort();
    Ok(Location::Files(files))
}

/// Spreadsheet lock files (`~$x.xlsx`) and hidden files are never data.
fn is_hidden_or_lock(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.') || n.starts_with("~$"))
}
