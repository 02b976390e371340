//! The `csv` reader: delimited text files as spreadsheet tools export them.
//!
//! - Delimiter `;`, `,` or tab, sniffed from the first 64 KiB: the one that yields a header row
//!   with the required headers (then the most known headers, then the most columns) wins.
//! - Encoding: UTF-8 (with or without BOM); a file that is not valid UTF-8 anywhere is read as
//!   Windows-1252, the encoding of older Excel exports.
//! - Quoted fields may hold delimiters and newlines; short records are padded with
//!   [`Cell::Empty`]; every cell is [`Cell::Text`] (trimmed) or [`Cell::Empty`]; empty records are
//!   skipped.
//! - [`RawRow::number`] is the line on which the record starts, as a text editor shows it.
//!
//! The file is streamed record by record; only the header search window is buffered.
//!
//! This file also holds the helpers both file readers share (header row search, sending,
//! size checks).

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::mpsc;

use super::{
    Cell, HeaderHint, Limits, Location, RawRow, ReadError, ReadEvent, ReadInput, Reader, RowStream,
    STREAM_CAPACITY, normalise_header,
};

/// Reads `format = "csv"` sources.
pub struct CsvReader;

impl Reader for CsvReader {
    fn format(&self) -> &'static str {
        "csv"
    }

    fn read(&self, input: ReadInput) -> RowStream {
        spawn_file_reader(input, "csv", read_csv_file)
    }
}

// ---------------------------------------------------------------------------------------------
// Shared by the file readers (csv, xlsx).
// ---------------------------------------------------------------------------------------------

/// The sending end of a [`RowStream`], used from a blocking thread.
pub(super) struct Out(mpsc::Sender<Result<ReadEvent, ReadError>>);

impl Out {
    /// Sends an event; `false` when the receiver is gone and reading should stop.
    pub(super) fn event(&self, event: ReadEvent) -> bool {
        self.0.blocking_send(Ok(event)).is_ok()
    }

    /// Sends the error that ends the stream.
    fn fail(&self, error: ReadError) {
        let _ = self.0.blocking_send(Err(error));
    }
}

/// What reading one file led to.
pub(super) enum Flow {
    /// Go on with the next file.
    Next,
    /// The receiver is gone; stop quietly.
    Closed,
}

/// Runs `read_file` for every file of `input` on a blocking thread; the first error ends the
/// stream.
pub(super) fn spawn_file_reader(
    input: ReadInput,
    format: &'static str,
    read_file: fn(&Path, &ReadInput, &Out) -> Result<Flow, ReadError>,
) -> RowStream {
    let (tx, rx) = mpsc::channel(STREAM_CAPACITY);
    let out = Out(tx);
    tokio::task::spawn_blocking(move || {
        let paths: Vec<PathBuf> = match &input.location {
            Location::Files(paths) => paths.clone(),
            Location::Url(url) => {
                out.fail(ReadError::Unreadable {
                    file: url.clone(),
                    format,
                    reason: "this reader reads files, not URLs; give a file path as `location`, \
                             or use format = \"json\" for an HTTP feed"
                        .to_owned(),
                });
                return;
            }
        };
        for path in &paths {
            // A panic in a format library (a hostile file can find one) must end the stream with
            // an error: a stream that merely stops would read as a complete, shorter file.
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                read_file(path, &input, &out)
            }));
            match read {
                Ok(Ok(Flow::Next)) => {}
                Ok(Ok(Flow::Closed)) => return,
                Ok(Err(e)) => {
                    out.fail(e);
                    return;
                }
                Err(_) => {
                    out.fail(ReadError::Unreadable {
                        file: display_name(path),
                        format,
                        reason: "the reader failed on this file (an internal error); open and \
                                 save it again, and report the file if that does not help"
                            .to_owned(),
                    });
                    return;
                }
            }
        }
    });
    rx
}

/// The file's name as errors and events show it.
pub(super) fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Opens a file and checks its size against [`Limits::max_file_bytes`].
pub(super) fn open_checked(
    path: &Path,
    file: &str,
    format: &'static str,
    limits: &Limits,
) -> Result<File, ReadError> {
    let f = File::open(path).map_err(|e| ReadError::Unreadable {
        file: file.to_owned(),
        format,
        reason: format!("cannot open the file ({e}); check that it exists and is readable"),
    })?;
    let size = f
        .metadata()
        .map_err(|e| ReadError::Unreadable {
            file: file.to_owned(),
            format,
            reason: format!("cannot read the file's size ({e})"),
        })?
        .len();
    if size > limits.max_file_bytes {
        return Err(ReadError::TooLarge {
            file: file.to_owned(),
            what: format!(
                "the file has {size} bytes, more than the limit of {} ([import] max_file_mib)",
                super::in_mib(limits.max_file_bytes)
            ),
        });
    }
    Ok(f)
}

/// Picks the header row among the first rows (cell texts, trimmed): the first row holding every
/// required header; among several, the one holding the most known headers.
pub(super) fn pick_header_row(rows: &[Vec<String>], hint: &HeaderHint) -> Option<usize> {
    let required: Vec<String> = hint
        .required
        .iter()
        .map(|h| normalise_header(h))
        .filter(|h| !h.is_empty())
        .collect();
    let known: HashSet<String> = hint.known.iter().map(|h| normalise_header(h)).collect();
    let mut best: Option<(usize, usize)> = None;
    for (i, row) in rows.iter().enumerate() {
        let present: HashSet<String> = row
            .iter()
            .map(|c| normalise_header(c))
            .filter(|c| !c.is_empty())
            .collect();
        if present.is_empty() || !required.iter().all(|r| present.contains(r)) {
            continue;
        }
        let score = present.iter().filter(|c| known.contains(*c)).count();
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i)
}

/// Header texts of a header row: trimmed, trailing empty headers dropped.
pub(super) fn header_list(mut texts: Vec<String>) -> Arc<[String]> {
    for t in &mut texts {
        let trimmed = t.trim();
        if trimmed.len() != t.len() {
            *t = trimmed.to_owned();
        }
    }
    while texts.last().is_some_and(String::is_empty) {
        texts.pop();
    }
    texts.into()
}

/// The error for a file (or sheet) without a header row.
pub(super) fn no_header_row(file: &str, sheet: Option<String>, input: &ReadInput) -> ReadError {
    ReadError::NoHeaderRow {
        file: file.to_owned(),
        sheet,
        searched: input.limits.header_search_rows,
        required: input.headers.required.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// CSV.
// ---------------------------------------------------------------------------------------------

/// How many bytes are looked at to choose the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;

/// Delimiters tried, in order of preference on a tie.
const DELIMITERS: [u8; 3] = [b';', b',', b'\t'];

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A file's text encoding.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Encoding {
    Utf8,
    Windows1252,
}

impl Encoding {
    fn decode<'a>(self, bytes: &'a [u8]) -> Cow<'a, str> {
        match self {
            // The whole file was checked to be valid UTF-8, and fields are split at ASCII bytes,
            // so this never replaces anything.
            Encoding::Utf8 => String::from_utf8_lossy(bytes),
            Encoding::Windows1252 => {
                encoding_rs::WINDOWS_1252
                    .decode_without_bom_handling(bytes)
                    .0
            }
        }
    }
}

/// One record's fields, decoded and trimmed.
fn fields(record: &csv::ByteRecord, encoding: Encoding) -> Vec<String> {
    record
        .iter()
        .map(|f| encoding.decode(f).trim().to_owned())
        .collect()
}

fn read_csv_file(path: &Path, input: &ReadInput, out: &Out) -> Result<Flow, ReadError> {
    let file = display_name(path);
    let unreadable = |reason: String| ReadError::Unreadable {
        file: file.clone(),
        format: "csv",
        reason,
    };
    let io_error = |e: std::io::Error| unreadable(format!("cannot read the file ({e})"));

    let mut f = open_checked(path, &file, "csv", &input.limits)?;

    // Encoding. Bytes are parsed as CSV first and each field is decoded afterwards (delimiters,
    // quotes and newlines are ASCII in UTF-8 and Windows-1252 alike), so the file is never
    // decoded as a whole. The choice must hold for the whole file, and a non-UTF-8 byte may come
    // after the first megabytes; so one streaming pass validates UTF-8 before any row is sent.
    // That costs a second read of the file, in constant memory, and never mixes encodings.
    let encoding = if is_utf8(BufReader::new(&mut f)).map_err(io_error)? {
        Encoding::Utf8
    } else {
        Encoding::Windows1252
    };

    // Delimiter, from the start of the file.
    let mut head = Vec::with_capacity(SNIFF_BYTES);
    f.seek(SeekFrom::Start(0)).map_err(io_error)?;
    (&mut f)
        .take(SNIFF_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(io_error)?;
    let bom = head.starts_with(BOM);
    let sniff = if bom { &head[BOM.len()..] } else { &head[..] };
    let delimiter = sniff_delimiter(sniff, encoding, input);
    tracing::debug!(
        file = %file,
        ?encoding,
        delimiter = %char::from(delimiter).escape_default(),
        "csv: reading"
    );

    // The real pass.
    let start = if bom { BOM.len() as u64 } else { 0 };
    f.seek(SeekFrom::Start(start)).map_err(io_error)?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(Lines::new(BufReader::with_capacity(64 * 1024, f)));
    let mut record = csv::ByteRecord::new();
    let search = input.limits.header_search_rows.max(1);
    let mut pending: Vec<(u64, Vec<String>)> = Vec::new();
    let mut width: Option<usize> = None;

    loop {
        let more = rdr.read_byte_record(&mut record).map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            match e.into_kind() {
                csv::ErrorKind::Io(io) => io_error(io),
                kind => unreadable(format!(
                    "the CSV is malformed near line {line} ({}); check quoting there",
                    csv_kind_name(&kind)
                )),
            }
        })?;
        if !more {
            break;
        }
        let line = rdr
            .get_mut()
            .line_at(record.position().map_or(0, |p| p.byte()));
        match width {
            Some(w) => {
                if !send_row(out, line, &record, w, encoding) {
                    return Ok(Flow::Closed);
                }
            }
            None => {
                let texts = fields(&record, encoding);
                if texts.iter().all(String::is_empty) {
                    continue;
                }
                pending.push((line, texts));
                if pending.len() >= search {
                    match start_data(&file, &mut pending, input, out)? {
                        Some(w) => width = Some(w),
                        None => return Ok(Flow::Closed),
                    }
                }
            }
        }
    }
    if width.is_none() && start_data(&file, &mut pending, input, out)?.is_none() {
        return Ok(Flow::Closed);
    }
    Ok(Flow::Next)
}

/// Finds the header row among the buffered records, sends the headers and the data records
/// buffered after it. `Ok(Some(width))` on success, `Ok(None)` when the receiver is gone.
fn start_data(
    file: &str,
    pending: &mut Vec<(u64, Vec<String>)>,
    input: &ReadInput,
    out: &Out,
) -> Result<Option<usize>, ReadError> {
    let rows: Vec<Vec<String>> = pending.iter().map(|(_, t)| t.clone()).collect();
    let Some(at) = pick_header_row(&rows, &input.headers) else {
        return Err(no_header_row(file, None, input));
    };
    let headers = header_list(rows[at].clone());
    let width = headers.len();
    if !out.event(ReadEvent::Headers {
        file: file.to_owned(),
        sheet: None,
        headers,
    }) {
        return Ok(None);
    }
    for (line, texts) in pending.drain(..).skip(at + 1) {
        let cells = align(texts.into_iter().map(text_cell), width);
        if cells.iter().all(Cell::is_empty) {
            continue;
        }
        if !out.event(ReadEvent::Row(RawRow {
            number: line,
            cells,
        })) {
            return Ok(None);
        }
    }
    Ok(Some(width))
}

/// Sends one data record; `false` when the receiver is gone.
fn send_row(
    out: &Out,
    line: u64,
    record: &csv::ByteRecord,
    width: usize,
    encoding: Encoding,
) -> bool {
    let cells = align(
        record
            .iter()
            .map(|f| text_cell(encoding.decode(f).trim().to_owned())),
        width,
    );
    if cells.iter().all(Cell::is_empty) {
        return true;
    }
    out.event(ReadEvent::Row(RawRow {
        number: line,
        cells,
    }))
}

/// A trimmed field as a cell.
fn text_cell(text: String) -> Cell {
    if text.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(text)
    }
}

/// Cells cut or padded to `width`.
fn align(cells: impl Iterator<Item = Cell>, width: usize) -> Vec<Cell> {
    let mut v: Vec<Cell> = cells.take(width).collect();
    v.resize(width, Cell::Empty);
    v
}

/// A csv error kind's name, without any field content.
fn csv_kind_name(kind: &csv::ErrorKind) -> &'static str {
    match kind {
        csv::ErrorKind::Io(_) => "I/O error",
        csv::ErrorKind::Utf8 { .. } => "invalid text encoding",
        csv::ErrorKind::UnequalLengths { .. } => "records of unequal length",
        _ => "parse error",
    }
}

/// Chooses the delimiter whose parse of `head` yields the best header row.
fn sniff_delimiter(head: &[u8], encoding: Encoding, input: &ReadInput) -> u8 {
    let search = input.limits.header_search_rows.max(1);
    let known: HashSet<String> = input
        .headers
        .known
        .iter()
        .map(|h| normalise_header(h))
        .collect();
    // (found, known headers, columns): larger is better; the earlier delimiter wins ties.
    let mut best: Option<((bool, usize, usize), u8)> = None;
    for d in DELIMITERS {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(d)
            .from_reader(head);
        let mut rows = Vec::new();
        let mut record = csv::ByteRecord::new();
        while rows.len() < search && rdr.read_byte_record(&mut record).unwrap_or(false) {
            let texts = fields(&record, encoding);
            if !texts.iter().all(String::is_empty) {
                rows.push(texts);
            }
        }
        let score = match pick_header_row(&rows, &input.headers) {
            Some(at) => {
                let row = &rows[at];
                let k = row
                    .iter()
                    .filter(|c| known.contains(&normalise_header(c)))
                    .count();
                (true, k, row.iter().filter(|c| !c.is_empty()).count())
            }
            None => (false, 0, 0),
        };
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, d));
        }
    }
    best.map_or(b';', |(_, d)| d)
}

/// A reader that tells the line a record starts on.
///
/// csv's own record position is where the parser began: before skipped blank lines, and on the
/// `\n` of a CRLF that ended the previous record, so its line is off for Windows files. This
/// wrapper notes the runs of line-break bytes it passes on; a record starts after the run its
/// parse began in. Only the runs in csv's read-ahead are kept.
struct Lines<R> {
    inner: R,
    /// Bytes passed on so far.
    offset: u64,
    /// Closed runs of `\r`/`\n` not yet passed by a record start.
    runs: VecDeque<Run>,
    /// The run the last bytes belong to.
    open: Option<Run>,
    /// Whether the last byte was `\r` (a CRLF counts once).
    prev_cr: bool,
    /// Line breaks in the runs already passed.
    breaks: u64,
}

/// A run of line-break bytes from `start` holding `breaks` line breaks.
struct Run {
    start: u64,
    breaks: u64,
}

impl<R> Lines<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            runs: VecDeque::new(),
            open: None,
            prev_cr: false,
            breaks: 0,
        }
    }

    /// The 1-based line of the record whose parse began at byte `at`; calls come in order.
    fn line_at(&mut self, at: u64) -> u64 {
        while let Some(run) = self.runs.front() {
            if run.start > at {
                break;
            }
            self.breaks += run.breaks;
            self.runs.pop_front();
        }
        self.breaks + 1
    }
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for (i, &b) in buf[..n].iter().enumerate() {
            let pos = self.offset + i as u64;
            if b == b'\r' || b == b'\n' {
                let run = self.open.get_or_insert(Run {
                    start: pos,
                    breaks: 0,
                });
                if b == b'\n' || self.prev_cr {
                    run.breaks += 1;
                }
                self.prev_cr = b == b'\r';
            } else if let Some(mut run) = self.open.take() {
                if self.prev_cr {
                    run.breaks += 1;
                    self.prev_cr = false;
                }
                self.runs.push_back(run);
            }
        }
        self.offset += n as u64;
        Ok(n)
    }
}

/// Whether everything `r` yields is valid UTF-8; reads in chunks, in constant memory.
fn is_utf8(mut r: impl Read) -> std::io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut carry = 0;
    loop {
        let n = match r.read(&mut buf[carry..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // A sequence cut off by the end of the file is invalid.
            return Ok(carry == 0);
        }
        let len = carry + n;
        match std::str::from_utf8(&buf[..len]) {
            Ok(_) => carry = 0,
            // An invalid byte.
            Err(e) if e.error_len().is_some() => return Ok(false),
            // A sequence cut off by the end of the chunk: keep its bytes for the next round.
            Err(e) => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..len, 0);
                carry = len - valid;
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::source::HttpInput;

    /// Everything a stream yields, in order.
    pub(in crate::source) async fn collect(mut rx: RowStream) -> Vec<Result<ReadEvent, ReadError>> {
        let mut v = Vec::new();
        while let Some(x) = rx.recv().await {
            v.push(x);
        }
        v
    }

    fn input(paths: Vec<PathBuf>, required: &[&str]) -> ReadInput {
        ReadInput {
            location: Location::Files(paths),
            sheet: None,
            headers: HeaderHint {
                required: required.iter().map(|s| s.to_string()).collect(),
                known: Vec::new(),
            },
            limits: Limits::default(),
            http: HttpInput::default(),
        }
    }

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn headers_of(events: &[Result<ReadEvent, ReadError>]) -> Vec<Vec<String>> {
        events
            .iter()
            .filter_map(|e| match e {
                Ok(ReadEvent::Headers { headers, .. }) => Some(headers.to_vec()),
                _ => None,
            })
            .collect()
    }

    fn rows_of(events: &[Result<ReadEvent, ReadError>]) -> Vec<(u64, Vec<Cell>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Ok(ReadEvent::Row(r)) => Some((r.number, r.cells.clone())),
                _ => None,
            })
            .collect()
    }

    async fn read(paths: Vec<PathBuf>, required: &[&str]) -> Vec<Result<ReadEvent, ReadError>> {
        collect(CsvReader.read(input(paths, required))).await
    }

    #[tokio::test]
    async fn semicolon_with_title_rows_and_bom() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "a.csv",
            "\u{feff}Deelnemers 2024;;\n\nBSN;Naam;Startdatum\n123456782; Jan ;2024-01-02\n"
                .as_bytes(),
        );
        let ev = read(vec![p.clone()], &["bsn"]).await;
        assert!(ev.iter().all(Result::is_ok), "{ev:?}");
        match &ev[0] {
            Ok(ReadEvent::Headers { file, sheet, .. }) => {
                assert_eq!(file, &p.display().to_string());
                assert_eq!(sheet, &None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(headers_of(&ev), vec![vec!["BSN", "Naam", "Startdatum"]]);
        assert_eq!(
            rows_of(&ev),
            vec![(4, vec![t("123456782"), t("Jan"), t("2024-01-02")])]
        );
    }

    #[tokio::test]
    async fn comma_delimiter_quoted_newline_and_short_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "b.csv",
            b"Naam,Opmerking,Plaats\r\n\"de Vries, J.\",\"regel 1\nregel 2\",Amsterdam\r\nPiet\r\n,,\r\nKees,,Zaandam,extra\r\n",
        );
        let ev = read(vec![p], &["naam"]).await;
        assert_eq!(headers_of(&ev), vec![vec!["Naam", "Opmerking", "Plaats"]]);
        assert_eq!(
            rows_of(&ev),
            vec![
                (
                    2,
                    vec![t("de Vries, J."), t("regel 1\nregel 2"), t("Amsterdam")]
                ),
                (4, vec![t("Piet"), Cell::Empty, Cell::Empty]),
                (6, vec![t("Kees"), Cell::Empty, t("Zaandam")]),
            ]
        );
    }

    #[tokio::test]
    async fn tab_delimiter() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "c.tsv", b"Naam\tPlaats\nAnna\tDiemen\n");
        let ev = read(vec![p], &["Plaats"]).await;
        assert_eq!(headers_of(&ev), vec![vec!["Naam", "Plaats"]]);
        assert_eq!(rows_of(&ev), vec![(2, vec![t("Anna"), t("Diemen")])]);
    }

    #[tokio::test]
    async fn delimiter_follows_the_required_headers() {
        // Commas inside the header texts: only `;` yields a header row with both headers.
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            &dir,
            "d.csv",
            b"Achternaam, voorletters;Geboortedatum, dd-mm-jjjj;BSN\nJansen, A.;01-02-1990;1\n",
        );
        let ev = read(vec![p], &["BSN", "Achternaam, voorletters"]).await;
        assert_eq!(
            headers_of(&ev),
            vec![vec![
                "Achternaam, voorletters",
                "Geboortedatum, dd-mm-jjjj",
                "BSN"
            ]]
        );
        assert_eq!(
            rows_of(&ev),
            vec![(2, vec![t("Jansen, A."), t("01-02-1990"), t("1")])]
        );
    }

    #[tokio::test]
    async fn windows_1252_is_decoded() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"Naam;Plaats\n".to_vec();
        // Make the non-UTF-8 byte come after the first sniffing chunk.
        for i in 0..10_000 {
            bytes.extend_from_slice(format!("n{i};Amsterdam\n").as_bytes());
        }
        bytes.extend_from_slice(b"Caf\xE9;Z\xFCrich\n");
        let p = write(&dir, "e.csv", &bytes);
        let ev = read(vec![p], &["naam"]).await;
        let rows = rows_of(&ev);
        assert_eq!(rows.len(), 10_001);
        assert_eq!(rows[0], (2, vec![t("n0"), t("Amsterdam")]));
        assert_eq!(rows[10_000], (10_002, vec![t("Café"), t("Zürich")]));
    }

    #[tokio::test]
    async fn utf8_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "f.csv", "Naam;Plaats\nCafé;Zürich\n".as_bytes());
        let ev = read(vec![p], &["naam"]).await;
        assert_eq!(rows_of(&ev), vec![(2, vec![t("Café"), t("Zürich")])]);
    }

    #[tokio::test]
    async fn several_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(&dir, "1.csv", b"BSN;Naam\n1;A\n");
        let b = write(&dir, "2.csv", b"Naam,BSN\nB,2\n");
        let ev = read(vec![a, b], &["bsn"]).await;
        assert_eq!(
            headers_of(&ev),
            vec![vec!["BSN", "Naam"], vec!["Naam", "BSN"]]
        );
        assert_eq!(
            rows_of(&ev),
            vec![(2, vec![t("1"), t("A")]), (2, vec![t("B"), t("2")])]
        );
    }

    #[tokio::test]
    async fn no_header_row_names_file_and_header_not_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "g.csv", b"Naam;Plaats\nJan Jansen;Amsterdam\n");
        let ev = read(vec![p.clone()], &["BSN"]).await;
        assert_eq!(ev.len(), 1);
        let msg = ev[0].as_ref().unwrap_err().to_string();
        assert!(matches!(ev[0], Err(ReadError::NoHeaderRow { .. })));
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        assert!(msg.contains("BSN"), "{msg}");
        assert!(
            !msg.contains("Jan Jansen") && !msg.contains("Amsterdam"),
            "{msg}"
        );
    }

    #[tokio::test]
    async fn too_large_and_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(&dir, "h.csv", b"Naam\nJan\n");
        let mut inp = input(vec![p.clone()], &["naam"]);
        inp.limits.max_file_bytes = 4;
        let ev = collect(CsvReader.read(inp)).await;
        assert!(
            matches!(&ev[..], [Err(ReadError::TooLarge { file, .. })] if *file == p.display().to_string()),
            "{ev:?}"
        );

        let missing = dir.path().join("missing.csv");
        let ev = read(vec![missing], &["naam"]).await;
        let msg = ev[0].as_ref().unwrap_err().to_string();
        assert!(msg.contains("missing.csv"), "{msg}");
    }

    #[tokio::test]
    async fn url_is_refused() {
        let mut inp = input(vec![], &[]);
        inp.location = Location::Url("https://example.org/x.csv".into());
        let ev = collect(CsvReader.read(inp)).await;
        assert!(
            matches!(&ev[..], [Err(ReadError::Unreadable { reason, .. })] if reason.contains("reads files")),
            "{ev:?}"
        );
    }

    #[tokio::test]
    async fn dropped_receiver_stops_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = b"Naam\n".to_vec();
        for i in 0..(STREAM_CAPACITY * 3) {
            bytes.extend_from_slice(format!("n{i}\n").as_bytes());
        }
        let p = write(&dir, "i.csv", &bytes);
        let mut rx = CsvReader.read(input(vec![p], &["naam"]));
        assert!(rx.recv().await.is_some());
        drop(rx);
        // Nothing to assert beyond not hanging or panicking: the blocking thread ends quietly.
    }

    #[test]
    fn record_lines_with_any_line_ending() {
        for (text, want) in [
            (&b"a,b\nc,d\n\n\ne,\"f\ng\"\nh,i"[..], [1, 2, 5, 7]),
            (
                &b"a,b\r\nc,d\r\n\r\n\r\ne,\"f\r\ng\"\r\nh,i\r\n"[..],
                [1, 2, 5, 7],
            ),
            (&b"\r\na,b\rc,d\r\r\re,\"f\rg\"\rh,i\r"[..], [2, 3, 6, 8]),
        ] {
            let mut rdr = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .buffer_capacity(3)
                .from_reader(Lines::new(text));
            let mut record = csv::ByteRecord::new();
            let mut lines = Vec::new();
            while rdr.read_byte_record(&mut record).unwrap() {
                let at = record.position().unwrap().byte();
                lines.push(rdr.get_mut().line_at(at));
            }
            assert_eq!(lines, want, "{}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn utf8_check_handles_chunk_boundaries() {
        let mut s = "a".repeat(64 * 1024 - 1).into_bytes();
        s.extend_from_slice("é".as_bytes()); // split over the first chunk boundary
        assert!(is_utf8(&s[..]).unwrap());
        s.push(0xE9);
        assert!(!is_utf8(&s[..]).unwrap());
        assert!(!is_utf8(&b"ab\xC3"[..]).unwrap());
    }

    #[test]
    fn header_row_prefers_known_headers() {
        let hint = HeaderHint {
            required: vec!["Naam".into()],
            known: vec!["Naam".into(), "Start".into(), "Eind".into()],
        };
        let rows = vec![
            vec!["Naam".to_string(), "Traject".into(), "Traject".into()],
            vec!["Naam".to_string(), "Start".into(), "Eind".into()],
        ];
        assert_eq!(pick_header_row(&rows, &hint), Some(1));
        assert_eq!(pick_header_row(&rows, &HeaderHint::default()), Some(0));
    }
}
