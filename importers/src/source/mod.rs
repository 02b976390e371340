//! Readers: turn a source's bytes (an XLSX workbook, a CSV file, pages of an HTTP JSON API) into
//! raw rows of cells under a header row. Readers know nothing of presets or the model; mapping
//! turns their cells into domain values.
//!
//! Adding a source format is one file implementing [`Reader`] and one line in [`READERS`].

use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDateTime;
use tokio::sync::mpsc;

pub mod csv;
pub mod http_json;
pub mod probe;
#[cfg(test)]
mod props;
pub mod xlsx;

/// One cell as the reader found it; no interpretation beyond the file format's own types.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    /// Nothing in the cell (or only white space).
    Empty,
    /// Text, trimmed.
    Text(String),
    /// A number (XLSX numbers, JSON numbers).
    Number(f64),
    /// A boolean (XLSX or JSON).
    Bool(bool),
    /// A date or date-time the format itself marks as one (an XLSX date cell, either date
    /// system already applied).
    DateTime(NaiveDateTime),
    /// An error value in the file (e.g. `#DIV/0!`).
    Error(String),
}

impl Cell {
    /// Whether the cell holds nothing.
    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }
}

/// One data row; `cells` line up with the headers of the last [`ReadEvent::Headers`].
#[derive(Clone, Debug, PartialEq)]
pub struct RawRow {
    /// Row number as a person would look it up: the spreadsheet's row number (1-based), the line
    /// a CSV record starts on, or the item's position in the HTTP feed.
    pub number: u64,
    /// The cells.
    pub cells: Vec<Cell>,
}

/// What a reader sends, in order: for each file (or feed), its headers, then its rows.
#[derive(Clone, Debug, PartialEq)]
pub enum ReadEvent {
    /// A new file, sheet or feed begins; the following rows belong to it.
    Headers {
        /// The file path or URL, as it will be named in errors and rejected rows.
        file: String,
        /// The sheet, for workbooks.
        sheet: Option<String>,
        /// Headers as written in the file (trimmed), in column order.
        headers: Arc<[String]>,
    },
    /// A data row of the current file.
    Row(RawRow),
}

/// Why a reader could not go on. Messages name the file and say what to do; they never quote a
/// cell's value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be opened or is not of the expected format.
    #[error("{file}: cannot be read as {format}: {reason}")]
    Unreadable {
        /// The file.
        file: String,
        /// `xlsx`, `csv` or `json`.
        format: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// No row in the first rows of the sheet carries the required headers.
    #[error(
        "{file}{}: no header row found: none of the first {searched} rows holds the column(s) {}; headers must be in one row above the data",
        sheet.as_deref().map(|s| format!(", sheet `{s}`")).unwrap_or_default(),
        required.join(", ")
    )]
    NoHeaderRow {
        /// The file.
        file: String,
        /// The sheet, for workbooks.
        sheet: Option<String>,
        /// How many rows were searched.
        searched: usize,
        /// The headers looked for (as configured).
        required: Vec<String>,
    },
    /// A named sheet is not in the workbook.
    #[error("{file}: no sheet `{sheet}`; sheets found: {}", found.join(", "))]
    NoSuchSheet {
        /// The file.
        file: String,
        /// The sheet asked for.
        sheet: String,
        /// The sheets in the workbook.
        found: Vec<String>,
    },
    /// A limit that protects memory was exceeded (zip bombs, huge shared-string tables).
    #[error("{file}: refused: {what}; raise [import] limits only for files you trust")]
    TooLarge {
        /// The file.
        file: String,
        /// Which limit, with numbers.
        what: String,
    },
    /// No file matched the location.
    #[error("no file matches `{location}`; check the source's `location` or pass --file")]
    NoFiles {
        /// The configured location.
        location: String,
    },
    /// The HTTP source failed after its retries (or with an error that is not retried).
    #[error("{url}: {reason}")]
    Http {
        /// The URL without query.
        url: String,
        /// What went wrong, e.g. `HTTP 401 after 1 attempt` or `timed out after 5 attempts`.
        reason: String,
    },
}

/// Headers a reader looks for to find the header row (normalised with [`normalise_header`]).
#[derive(Clone, Debug, Default)]
pub struct HeaderHint {
    /// Headers that must all be in the header row (e.g. the source key column), as configured.
    pub required: Vec<String>,
    /// Every header the mapping knows, as configured; used by readers that must pick fields
    /// by name (JSON) and to prefer the row with most known headers.
    pub known: Vec<String>,
}

/// Limits that keep a hostile file from exhausting memory.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest file to read, in bytes.
    pub max_file_bytes: u64,
    /// Largest uncompressed size of an XLSX part, in bytes (worksheets are streamed).
    pub max_uncompressed_bytes: u64,
    /// Largest uncompressed size of an XLSX part that is held in memory whole (the shared-string
    /// table, styles, the workbook and its relationships), in bytes.
    pub max_metadata_bytes: u64,
    /// Most strings an XLSX shared-string table may hold (declared or counted).
    pub max_shared_strings: u64,
    /// Most rows searched for the header row.
    pub header_search_rows: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_file_bytes: 2 * 1024 * 1024 * 1024,
            max_uncompressed_bytes: 4 * 1024 * 1024 * 1024,
            max_metadata_bytes: 512 * 1024 * 1024,
            max_shared_strings: 10_000_000,
            header_search_rows: 50,
        }
    }
}

/// A limit in bytes as its configuration sets it: whole MiB, else bytes.
pub(crate) fn in_mib(bytes: u64) -> String {
    const MIB: u64 = 1024 * 1024;
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// HTTP settings for a feed.
#[derive(Clone, Debug)]
pub struct HttpInput {
    /// Bearer token, when the source needs one.
    pub bearer_token: Option<secrecy::SecretString>,
    /// `updated_since` to send (RFC 3339); `None` fetches everything.
    pub updated_since: Option<String>,
    /// Page size (`limit`).
    pub page_size: u32,
    /// Timeout of one request.
    pub timeout: std::time::Duration,
    /// Most attempts for one page before the run fails.
    pub max_attempts: u32,
    /// First back-off delay; doubles per attempt, with jitter; `Retry-After` wins when larger.
    pub initial_backoff: std::time::Duration,
}

impl Default for HttpInput {
    fn default() -> Self {
        Self {
            bearer_token: None,
            updated_since: None,
            page_size: 500,
            timeout: std::time::Duration::from_secs(30),
            max_attempts: 5,
            initial_backoff: std::time::Duration::from_millis(500),
        }
    }
}

/// What to read.
#[derive(Clone, Debug)]
pub enum Location {
    /// Files already resolved from a path, glob or folder, in order.
    Files(Vec<PathBuf>),
    /// An `http(s)://` URL.
    Url(String),
}

/// Everything a reader needs for one run.
#[derive(Clone, Debug)]
pub struct ReadInput {
    /// Files or URL.
    pub location: Location,
    /// Only this sheet (workbooks); every sheet with a header row when `None`.
    pub sheet: Option<String>,
    /// How to find the header row.
    pub headers: HeaderHint,
    /// Memory limits.
    pub limits: Limits,
    /// HTTP settings (feeds only).
    pub http: HttpInput,
}

/// The receiving end of a reader: events in order, then the channel closes. An `Err` ends the
/// stream; everything sent before it stays valid.
pub type RowStream = mpsc::Receiver<Result<ReadEvent, ReadError>>;

/// How many events may wait in a [`RowStream`]; bounds memory while streaming.
pub const STREAM_CAPACITY: usize = 4096;

/// A source format.
pub trait Reader: Send + Sync {
    /// The `format` value in a `[[source]]` table this reader serves.
    fn format(&self) -> &'static str;
    /// Starts reading in the background (a blocking thread for files, a task for HTTP); must be
    /// called inside a Tokio runtime.
    fn read(&self, input: ReadInput) -> RowStream;
}

/// Every reader; one line per format.
pub static READERS: &[&dyn Reader] = &[
    &xlsx::XlsxReader,
    &csv::CsvReader,
    &http_json::HttpJsonReader,
];

/// The reader for a `format` value.
pub fn reader_for(format: &str) -> Option<&'static dyn Reader> {
    READERS.iter().copied().find(|r| r.format() == format)
}

/// A header for comparison: lower case, without spaces, underscores, dashes and dots.
pub fn normalise_header(h: &str) -> String {
    h.chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.' | '\u{a0}' | '\t' | '\n' | '\r'))
        .flat_map(char::to_lowercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_compare_loosely() {
        assert_eq!(normalise_header("Startdatum traject"), "startdatumtraject");
        assert_eq!(normalise_header("STARTDATUM_TRAJECT"), "startdatumtraject");
        assert_eq!(
            normalise_header(" start-datum traject "),
            "startdatumtraject"
        );
    }

    #[test]
    fn every_format_has_one_reader() {
        for f in ["xlsx", "csv", "json"] {
            assert_eq!(reader_for(f).unwrap().format(), f);
        }
    }
}
