//! The `xlsx` reader: Excel workbooks, every sheet with a header row or one named sheet.
//!
//! - Before calamine opens a workbook, its size and the declared unpacked size of every zip part
//!   are checked against [`Limits`] (zip bombs, huge shared-string tables).
//! - Sheets are streamed cell by cell (calamine's `worksheet_cells_reader`): shared strings,
//!   dates in either date system and formulas' cached values are resolved by calamine, and no
//!   sheet is held in memory as a whole. Only the shared-string table, the styles and the header
//!   search window are.
//! - Merged header cells count for every cell they cover.
//! - [`RawRow::number`] is the row number Excel shows.

use std::fs::File;
use std::io::{BufReader, Read, Seek};
use std::path::Path;

use calamine::{DataRef, Dimensions, Reader as _, SheetType, Xlsx, XlsxError};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

use super::csv::{
    Flow, Out, display_name, header_list, no_header_row, open_checked, pick_header_row,
    spawn_file_reader,
};
use super::{Cell, Limits, RawRow, ReadError, ReadEvent, ReadInput, Reader, RowStream, in_mib};

/// Reads `format = "xlsx"` sources.
pub struct XlsxReader;

impl Reader for XlsxReader {
    fn format(&self) -> &'static str {
        "xlsx"
    }

    fn read(&self, input: ReadInput) -> RowStream {
        spawn_file_reader(input, "xlsx", read_workbook)
    }
}

/// The start of an OLE compound file: `.xls` workbooks and password-protected `.xlsx` ones.
const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

/// Excel's last column (XFD), 0-based.
const MAX_COL: u32 = 16_383;

fn unreadable(file: &str, reason: String) -> ReadError {
    ReadError::Unreadable {
        file: file.to_owned(),
        format: "xlsx",
        reason,
    }
}

fn not_a_workbook(file: &str) -> ReadError {
    unreadable(
        file,
        "it is not an XLSX workbook (not a zip archive of a workbook); save it from Excel as \
         \"Excel Workbook (*.xlsx)\", or use format = \"csv\" for text files"
            .to_owned(),
    )
}

/// A calamine error without anything from the cells (some of its messages quote values).
fn describe(e: &XlsxError) -> String {
    match e {
        XlsxError::Io(e) => format!("read error ({e})"),
        XlsxError::Zip(_) => "the zip container is damaged; save the workbook again".to_owned(),
        XlsxError::Password => {
            "the workbook is password protected; save a copy without a password".to_owned()
        }
        XlsxError::Xml(_) | XlsxError::XmlAttr(_) | XlsxError::Encoding(_) => {
            "the workbook's XML is malformed; open and save it again in Excel".to_owned()
        }
        XlsxError::Unrecognized { typ, .. } => {
            format!("unrecognised {typ}; open and save it again in Excel")
        }
        XlsxError::CellError(_) => "an unknown error value in a cell".to_owned(),
        XlsxError::ParseFloat(_) | XlsxError::ParseInt(_) | XlsxError::Parse(_) => {
            "a number cell that does not hold a number; open and save it again in Excel".to_owned()
        }
        other => format!("{other}; open and save it again in Excel"),
    }
}

/// Checks the zip directory before calamine opens the workbook: the declared unpacked size of
/// every part against the limits (the zip crate refuses to unpack a part beyond its declared
/// size, so a lying directory cannot get past this), and the shared-string table's size, the
/// count it declares (calamine reserves that many strings up front) and the strings it holds.
fn check_zip(file: &str, f: &mut File, limits: &Limits) -> Result<(), ReadError> {
    let mut magic = [0u8; 8];
    if f.read_exact(&mut magic).is_ok() && magic == CFB_MAGIC {
        return Err(unreadable(
            file,
            "it is an old .xls workbook or a password-protected one, not an XLSX workbook; \
             save it from Excel as \"Excel Workbook (*.xlsx)\" without a password"
                .to_owned(),
        ));
    }
    f.rewind()
        .map_err(|e| unreadable(file, format!("read error ({e})")))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(f)).map_err(|_| not_a_workbook(file))?;
    let too_large = |what: String| ReadError::TooLarge {
        file: file.to_owned(),
        what,
    };
    let mut shared_strings = None;
    for i in 0..zip.len() {
        let part = zip.by_index_raw(i).map_err(|_| not_a_workbook(file))?;
        let name = part.name().unwrap_or_default().into_owned();
        let lower = name.to_ascii_lowercase();
        // Parts calamine holds in memory whole; worksheets are streamed, media never read.
        let whole =
            (lower.ends_with(".xml") || lower.ends_with(".rels")) && !lower.contains("worksheets/");
        let (limit, key) = if whole {
            (limits.max_metadata_bytes, "max_xlsx_metadata_mib")
        } else {
            (limits.max_uncompressed_bytes, "max_uncompressed_mib")
        };
        if part.size() > limit {
            return Err(too_large(format!(
                "part `{name}` unpacks to {} bytes, more than the limit of {} ([import] {key})",
                part.size(),
                in_mib(limit),
            )));
        }
        if lower.ends_with("sharedstrings.xml") {
            shared_strings = Some((i, name));
        }
    }
    if let Some((i, name)) = shared_strings {
        let part = zip.by_index(i).map_err(|_| not_a_workbook(file))?;
        let (declared, counted) = count_shared_strings(part, limits.max_shared_strings)
            .map_err(|e| unreadable(file, format!("read error in `{name}` ({e})")))?;
        let limit = limits.max_shared_strings;
        if let Some(n) = declared.filter(|n| *n > limit) {
            return Err(too_large(format!(
                "the shared-string table `{name}` declares {n} strings, more than the limit of \
                 {limit} ([import] max_shared_strings)"
            )));
        }
        if counted > limit {
            return Err(too_large(format!(
                "the shared-string table `{name}` holds more than {limit} strings \
                 ([import] max_shared_strings)"
            )));
        }
    }
    Ok(())
}

/// The string count a shared-string table declares (`uniqueCount`), and the `si` elements it
/// holds, counted while streaming (stops once past `stop_after`). Nothing is kept but a tag name.
fn count_shared_strings(
    mut part: impl Read,
    stop_after: u64,
) -> std::io::Result<(Option<u64>, u64)> {
    /// Where the scanner is: in text, or in a tag's name (collected, at most 64 bytes).
    enum At {
        Text,
        Name(Vec<u8>),
        Tag,
    }
    let mut at = At::Text;
    let mut declared = None;
    let mut head: Vec<u8> = Vec::new();
    let mut counted = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = part.read(&mut buf)?;
        if n == 0 {
            break;
        }
        // The `sst` start tag with its `uniqueCount` comes first; 4 KiB hold it.
        if head.len() < 4096 {
            head.extend_from_slice(&buf[..n.min(4096 - head.len())]);
            if declared.is_none() {
                declared = declared_count(&head);
            }
        }
        for &b in &buf[..n] {
            at = match at {
                At::Text if b == b'<' => At::Name(Vec::new()),
                At::Text => At::Text,
                At::Name(mut name) if b.is_ascii_alphanumeric() || b":_-.".contains(&b) => {
                    if name.len() < 64 {
                        name.push(b);
                    }
                    At::Name(name)
                }
                At::Name(name) => {
                    if name == b"si" || name.ends_with(b":si") {
                        counted += 1;
                    }
                    if b == b'>' { At::Text } else { At::Tag }
                }
                At::Tag if b == b'>' => At::Text,
                At::Tag => At::Tag,
            };
        }
        if counted > stop_after {
            break;
        }
    }
    Ok((declared, counted))
}

/// `uniqueCount="N"` of the `sst` start tag, from the start of the table.
fn declared_count(head: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(head);
    let sst = text.find("sst")?;
    // Only once the whole start tag is at hand.
    let tag = &text[sst..sst + text[sst..].find('>')?];
    let at = tag.find("uniqueCount")?;
    let value = tag[at..].split(['"', '\'']).nth(1)?.trim();
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        // Not a number: calamine reserves nothing for it either.
        return None;
    }
    // More digits than a u64 holds is more than any limit.
    Some(value.parse::<u64>().unwrap_or(u64::MAX))
}

fn read_workbook(path: &Path, input: &ReadInput, out: &Out) -> Result<Flow, ReadError> {
    let file = display_name(path);
    let mut f = open_checked(path, &file, "xlsx", &input.limits)?;
    check_zip(&file, &mut f, &input.limits)?;
    f.rewind()
        .map_err(|e| unreadable(&file, format!("read error ({e})")))?;
    let mut wb: Xlsx<_> = Xlsx::new(BufReader::new(f)).map_err(|e| match e {
        XlsxError::Zip(_) | XlsxError::FileNotFound(_) | XlsxError::RelationshipNotFound => {
            not_a_workbook(&file)
        }
        e => unreadable(&file, describe(&e)),
    })?;

    let sheets: Vec<(String, SheetType)> = wb
        .sheets_metadata()
        .iter()
        .map(|s| (s.name.clone(), s.typ))
        .collect();

    if let Some(wanted) = &input.sheet {
        let found = sheets
            .iter()
            .find(|(n, _)| n == wanted)
            .or_else(|| {
                let mut it = sheets
                    .iter()
                    .filter(|(n, _)| n.trim().eq_ignore_ascii_case(wanted.trim()));
                it.next().filter(|_| it.next().is_none())
            })
            .map(|(n, t)| (n.clone(), *t));
        let Some((name, typ)) = found else {
            return Err(ReadError::NoSuchSheet {
                file,
                sheet: wanted.clone(),
                found: sheets.into_iter().map(|(n, _)| n).collect(),
            });
        };
        if typ != SheetType::WorkSheet {
            return Err(unreadable(
                &file,
                format!(
                    "sheet `{name}` is not a worksheet (a chart or macro sheet); name a sheet with a table"
                ),
            ));
        }
        return match read_sheet(&mut wb, &file, &name, input, out)? {
            Sheet::Done => Ok(Flow::Next),
            Sheet::Closed => Ok(Flow::Closed),
            Sheet::NoHeader => Err(no_header_row(&file, Some(name), input)),
        };
    }

    let worksheets: Vec<String> = sheets
        .into_iter()
        .filter(|(_, t)| *t == SheetType::WorkSheet)
        .map(|(n, _)| n)
        .collect();
    let mut any = false;
    for name in &worksheets {
        match read_sheet(&mut wb, &file, name, input, out)? {
            Sheet::Done => any = true,
            Sheet::Closed => return Ok(Flow::Closed),
            Sheet::NoHeader => {
                tracing::debug!(file = %file, sheet = %name, "xlsx: sheet without a header row skipped");
            }
        }
    }
    if !any {
        let sheet = match worksheets.as_slice() {
            [only] => Some(only.clone()),
            _ => None,
        };
        return Err(no_header_row(&file, sheet, input));
    }
    Ok(Flow::Next)
}

/// How reading one sheet (or one step of it) ended.
enum Sheet {
    /// Read (or, for a step: go on).
    Done,
    /// No header row in the search window.
    NoHeader,
    /// The receiver is gone.
    Closed,
}

/// A row's non-empty cells, by 0-based column.
type SparseRow = Vec<(u32, Cell)>;

fn read_sheet<RS: Read + Seek>(
    wb: &mut Xlsx<RS>,
    file: &str,
    sheet: &str,
    input: &ReadInput,
    out: &Out,
) -> Result<Sheet, ReadError> {
    let in_sheet = |e: XlsxError| unreadable(file, format!("sheet `{sheet}`: {}", describe(&e)));
    // The merged regions follow the cells in the sheet's XML, and the header row must be known
    // before rows are sent; so they are read in a pass of their own (no cells kept).
    let merges = wb.merge_cells_by_sheet_name(sheet).map_err(in_sheet)?;
    let mut cells = wb.worksheet_cells_reader(sheet).map_err(in_sheet)?;
    let mut state = SheetState {
        file,
        sheet,
        input,
        merges,
        pending: Vec::new(),
        width: None,
    };

    let mut current: Option<u32> = None;
    let mut row: SparseRow = Vec::new();
    while let Some(c) = cells.next_cell().map_err(in_sheet)? {
        let (r, col) = c.get_position();
        if current != Some(r) {
            if let Some(prev) = current {
                match state.push(prev, std::mem::take(&mut row), out) {
                    Sheet::Done => {}
                    end => return Ok(end),
                }
            }
            current = Some(r);
        }
        let cell = to_cell(c.get_value());
        if !cell.is_empty() && state.width.is_none_or(|w| (col as usize) < w) {
            row.push((col, cell));
        }
    }
    if let Some(prev) = current {
        match state.push(prev, row, out) {
            Sheet::Done => {}
            end => return Ok(end),
        }
    }
    if state.width.is_none() {
        return Ok(state.start_data(out));
    }
    Ok(Sheet::Done)
}

/// One sheet being read: first the header search window, then the data rows.
struct SheetState<'a> {
    file: &'a str,
    sheet: &'a str,
    input: &'a ReadInput,
    merges: Vec<Dimensions>,
    /// Non-empty rows before the header row is known: (0-based row, cells).
    pending: Vec<(u32, SparseRow)>,
    /// Number of header columns, once the header row is known.
    width: Option<usize>,
}

impl SheetState<'_> {
    /// Takes one row: buffers it while the header row is unknown, sends it afterwards.
    fn push(&mut self, row: u32, cells: SparseRow, out: &Out) -> Sheet {
        if cells.is_empty() {
            return Sheet::Done;
        }
        match self.width {
            Some(w) => {
                if send_row(out, row, cells, w) {
                    Sheet::Done
                } else {
                    Sheet::Closed
                }
            }
            None => {
                self.pending.push((row, cells));
                if self.pending.len() < self.input.limits.header_search_rows.max(1) {
                    return Sheet::Done;
                }
                self.start_data(out)
            }
        }
    }

    /// Finds the header row in the window, sends the headers and the rows after it.
    fn start_data(&mut self, out: &Out) -> Sheet {
        let texts = self.header_texts();
        let Some(at) = pick_header_row(&texts, &self.input.headers) else {
            return Sheet::NoHeader;
        };
        let headers = header_list(texts[at].clone());
        let width = headers.len();
        self.width = Some(width);
        if !out.event(ReadEvent::Headers {
            file: self.file.to_owned(),
            sheet: Some(self.sheet.to_owned()),
            headers,
        }) {
            return Sheet::Closed;
        }
        for (row, cells) in self.pending.drain(..).skip(at + 1) {
            if !send_row(out, row, cells, width) {
                return Sheet::Closed;
            }
        }
        Sheet::Done
    }

    /// The window's rows as header texts, merged cells filled in from their top-left cell.
    fn header_texts(&self) -> Vec<Vec<String>> {
        let mut texts: Vec<Vec<String>> = self
            .pending
            .iter()
            .map(|(_, cells)| {
                let width = cells
                    .iter()
                    .map(|(c, _)| *c as usize + 1)
                    .max()
                    .unwrap_or(0);
                let mut t = vec![String::new(); width];
                for (c, cell) in cells {
                    t[*c as usize] = header_text(cell);
                }
                t
            })
            .collect();
        for m in &self.merges {
            let (top, left) = m.start;
            let (bottom, right) = (m.end.0, m.end.1.min(MAX_COL));
            let Some(value) = self
                .pending
                .iter()
                .position(|(r, _)| *r == top)
                .and_then(|i| texts[i].get(left as usize))
                .filter(|v| !v.is_empty())
                .cloned()
            else {
                continue;
            };
            for (i, (r, _)) in self.pending.iter().enumerate() {
                if *r < top || *r > bottom {
                    continue;
                }
                let t = &mut texts[i];
                if t.len() <= right as usize {
                    t.resize(right as usize + 1, String::new());
                }
                for slot in &mut t[left as usize..=right as usize] {
                    if slot.is_empty() {
                        slot.clone_from(&value);
                    }
                }
            }
        }
        texts
    }
}

/// Sends one data row, aligned to `width` columns; empty rows are skipped. `false` when the
/// receiver is gone.
fn send_row(out: &Out, row: u32, cells: SparseRow, width: usize) -> bool {
    let mut dense = vec![Cell::Empty; width];
    let mut any = false;
    for (c, cell) in cells {
        if let Some(slot) = dense.get_mut(c as usize) {
            *slot = cell;
            any = true;
        }
    }
    if !any {
        return true;
    }
    out.event(ReadEvent::Row(RawRow {
        number: u64::from(row) + 1,
        cells: dense,
    }))
}

/// A header cell as text.
fn header_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty | Cell::Error(_) => String::new(),
        Cell::Text(s) => s.clone(),
        Cell::Number(n) => n.to_string(),
        Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
        Cell::DateTime(d) if d.time() == NaiveTime::MIN => d.date().to_string(),
        Cell::DateTime(d) => d.to_string(),
    }
}

/// A calamine value as a cell.
fn to_cell(v: &DataRef<'_>) -> Cell {
    match v {
        DataRef::Empty => Cell::Empty,
        DataRef::String(s) => text(s),
        DataRef::SharedString(s) => text(s),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(d) if d.is_datetime() => d
            .as_datetime()
            .map_or(Cell::Number(d.as_f64()), Cell::DateTime),
        // A duration (`[h]:mm`): its number of days.
        DataRef::DateTime(d) => Cell::Number(d.as_f64()),
        DataRef::DateTimeIso(s) => parse_iso(s).map_or_else(|| text(s), Cell::DateTime),
        DataRef::DurationIso(s) => text(s),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

fn text(s: &str) -> Cell {
    let t = s.trim();
    if t.is_empty() {
        Cell::Empty
    } else {
        Cell::Text(t.to_owned())
    }
}

/// An ISO 8601 date or date-time (`t="d"` cells).
fn parse_iso(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M"))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .map(|d| d.and_time(NaiveTime::MIN))
        })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook, Worksheet};

    use super::*;
    use crate::source::csv::tests::collect;
    use crate::source::{HeaderHint, HttpInput, Location};

    type Events = Vec<Result<ReadEvent, ReadError>>;
    type Fill<'a> = &'a dyn Fn(&mut Worksheet);

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

    /// Writes a workbook with one sheet per `(name, fill)`.
    fn workbook(dir: &tempfile::TempDir, file: &str, sheets: &[(&str, Fill<'_>)]) -> PathBuf {
        let mut wb = Workbook::new();
        for (name, fill) in sheets {
            let ws = wb.add_worksheet();
            ws.set_name(*name).unwrap();
            fill(ws);
        }
        let p = dir.path().join(file);
        wb.save(&p).unwrap();
        p
    }

    async fn read(inp: ReadInput) -> Events {
        collect(XlsxReader.read(inp)).await
    }

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn dt(y: i32, m: u32, d: u32, h: u32, min: u32) -> Cell {
        Cell::DateTime(
            NaiveDate::from_ymd_opt(y, m, d)
                .unwrap()
                .and_hms_opt(h, min, 0)
                .unwrap(),
        )
    }

    fn headers_of(events: &Events) -> Vec<(Option<String>, Vec<String>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Ok(ReadEvent::Headers { sheet, headers, .. }) => {
                    Some((sheet.clone(), headers.to_vec()))
                }
                _ => None,
            })
            .collect()
    }

    fn rows_of(events: &Events) -> Vec<(u64, Vec<Cell>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Ok(ReadEvent::Row(r)) => Some((r.number, r.cells.clone())),
                _ => None,
            })
            .collect()
    }

    fn no_errors(events: &Events) {
        assert!(events.iter().all(Result::is_ok), "{events:?}");
    }

    #[tokio::test]
    async fn title_rows_offset_table_and_empty_rows() {
        let dir = tempfile::tempdir().unwrap();
        let p = workbook(
            &dir,
            "a.xlsx",
            &[("Deelnemers", &|ws: &mut Worksheet| {
                ws.write_string(0, 0, "Overzicht deelnemers 2024").unwrap();
                ws.write_string(1, 0, "Afdeling Werk").unwrap();
                // The table starts at B4.
                ws.write_string(3, 1, " BSN ").unwrap();
                ws.write_string(3, 2, "Naam").unwrap();
                ws.write_string(3, 3, "Uren").unwrap();
                ws.write_string(4, 1, "123456782").unwrap();
                ws.write_string(4, 2, " Jan ").unwrap();
                ws.write_number(4, 3, 32).unwrap();
                // Row 6 is empty; row 7 only has whitespace; row 8 only a cell without header.
                ws.write_string(6, 2, "   ").unwrap();
                ws.write_string(7, 6, "notitie").unwrap();
                ws.write_string(8, 1, "23456789").unwrap();
                ws.write_boolean(8, 3, true).unwrap();
            })],
        );
        let ev = read(input(vec![p.clone()], &["bsn", "naam"])).await;
        no_errors(&ev);
        match &ev[0] {
            Ok(ReadEvent::Headers { file, .. }) => assert_eq!(file, &p.display().to_string()),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            headers_of(&ev),
            vec![(
                Some("Deelnemers".into()),
                vec!["".into(), "BSN".into(), "Naam".into(), "Uren".into()]
            )]
        );
        assert_eq!(
            rows_of(&ev),
            vec![
                (
                    5,
                    vec![Cell::Empty, t("123456782"), t("Jan"), Cell::Number(32.0)]
                ),
                (
                    9,
                    vec![Cell::Empty, t("23456789"), Cell::Empty, Cell::Bool(true)]
                ),
            ]
        );
    }

    #[tokio::test]
    async fn cell_types_and_formula_results() {
        let dir = tempfile::tempdir().unwrap();
        let mut wb = Workbook::new();
        {
            let ws = wb.add_worksheet();
            let date = Format::new().set_num_format("dd-mm-yyyy");
            let datetime = Format::new().set_num_format("dd-mm-yyyy hh:mm");
            for (c, h) in [
                "Tekst", "Getal", "Datum", "Tijdstip", "Formule", "Fout", "Bool",
            ]
            .iter()
            .enumerate()
            {
                ws.write_string(0, c as u16, *h).unwrap();
            }
            ws.write_string(1, 0, "0612345678").unwrap();
            ws.write_number(1, 1, 42.5).unwrap();
            ws.write_datetime_with_format(
                1,
                2,
                ExcelDateTime::from_ymd(2024, 3, 15).unwrap(),
                &date,
            )
            .unwrap();
            ws.write_datetime_with_format(
                1,
                3,
                ExcelDateTime::from_ymd(1999, 12, 31)
                    .unwrap()
                    .and_hms(23, 30, 0)
                    .unwrap(),
                &datetime,
            )
            .unwrap();
            ws.write_formula(1, 4, Formula::new("=B2*2").set_result("85"))
                .unwrap();
            ws.write_formula(1, 5, Formula::new("=1/0").set_result("#DIV/0!"))
                .unwrap();
            ws.write_formula(1, 6, Formula::new("=1=1").set_result("TRUE"))
                .unwrap();
            ws.write_formula(2, 4, Formula::new("=UPPER(A2)").set_result(" jan "))
                .unwrap();
        }
        let p = dir.path().join("types.xlsx");
        wb.save(&p).unwrap();

        let ev = read(input(vec![p], &["Tekst"])).await;
        no_errors(&ev);
        let expected = vec![
            (
                2,
                vec![
                    t("0612345678"),
                    Cell::Number(42.5),
                    dt(2024, 3, 15, 0, 0),
                    dt(1999, 12, 31, 23, 30),
                    Cell::Number(85.0),
                    Cell::Error("#DIV/0!".into()),
                    Cell::Bool(true),
                ],
            ),
            (
                3,
                vec![
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    Cell::Empty,
                    t("jan"),
                    Cell::Empty,
                    Cell::Empty,
                ],
            ),
        ];
        assert_eq!(rows_of(&ev), expected);
    }

    /// Rewrites a workbook to the 1904 date system (rust_xlsxwriter cannot write one).
    fn to_1904(p: &Path) {
        use std::io::Write;
        let bytes = std::fs::read(p).unwrap();
        let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..zin.len() {
            let name = zin.by_index_raw(i).unwrap().name().unwrap().into_owned();
            if name == "xl/workbook.xml" {
                let mut xml = String::new();
                zin.by_index(i).unwrap().read_to_string(&mut xml).unwrap();
                assert!(xml.contains("<workbookPr "), "{xml}");
                let xml = xml.replace("<workbookPr ", r#"<workbookPr date1904="1" "#);
                zout.start_file(name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                zout.write_all(xml.as_bytes()).unwrap();
            } else {
                zout.raw_copy_file(zin.by_index_raw(i).unwrap()).unwrap();
            }
        }
        std::fs::write(p, zout.finish().unwrap().into_inner()).unwrap();
    }

    #[tokio::test]
    async fn dates_in_the_1904_system() {
        let dir = tempfile::tempdir().unwrap();
        let p = workbook(
            &dir,
            "mac.xlsx",
            &[("Blad1", &|ws: &mut Worksheet| {
                let date = Format::new().set_num_format("yyyy-mm-dd");
                ws.write_string(0, 0, "Geboortedatum").unwrap();
                // 2024-03-15 is serial 45366 in the 1900 system, 43904 in the 1904 system.
                ws.write_number_with_format(1, 0, 43904.0, &date).unwrap();
                ws.write_number_with_format(2, 0, 43904.5, &date).unwrap();
            })],
        );
        to_1904(&p);
        let ev = read(input(vec![p], &["geboortedatum"])).await;
        no_errors(&ev);
        assert_eq!(
            rows_of(&ev),
            vec![
                (2, vec![dt(2024, 3, 15, 0, 0)]),
                (3, vec![dt(2024, 3, 15, 12, 0)])
            ]
        );
    }

    #[tokio::test]
    async fn merged_header_cells() {
        let dir = tempfile::tempdir().unwrap();
        let p = workbook(
            &dir,
            "merged.xlsx",
            &[("Trajecten", &|ws: &mut Worksheet| {
                let f = Format::new();
                // "Naam" over A1:A2, "Traject" over B1:C1; "Start" and "Eind" below it.
                ws.merge_range(0, 0, 1, 0, "Naam", &f).unwrap();
                ws.merge_range(0, 1, 0, 2, "Traject", &f).unwrap();
                ws.write_string(1, 1, "Start").unwrap();
                ws.write_string(1, 2, "Eind").unwrap();
                ws.write_string(2, 0, "Anna").unwrap();
                ws.write_string(2, 1, "jan").unwrap();
                ws.write_string(2, 2, "mrt").unwrap();
            })],
        );
        // The second row has every required header once "Naam" covers A2.
        let ev = read(input(vec![p.clone()], &["Naam", "Start"])).await;
        no_errors(&ev);
        assert_eq!(
            headers_of(&ev),
            vec![(
                Some("Trajecten".into()),
                vec!["Naam".into(), "Start".into(), "Eind".into()]
            )]
        );
        assert_eq!(rows_of(&ev), vec![(3, vec![t("Anna"), t("jan"), t("mrt")])]);

        // With only "Naam" required, the known headers pick the second row over the first.
        let mut inp = input(vec![p.clone()], &["Naam"]);
        inp.headers.known = vec!["Naam".into(), "Start".into(), "Eind".into()];
        let ev = read(inp).await;
        assert_eq!(
            headers_of(&ev)[0].1,
            vec!["Naam".to_string(), "Start".into(), "Eind".into()]
        );

        // A horizontally merged header counts for every column it covers.
        let ev = read(input(vec![p], &["Traject"])).await;
        no_errors(&ev);
        assert_eq!(
            headers_of(&ev)[0].1,
            vec!["Naam".to_string(), "Traject".into(), "Traject".into()]
        );
        // The sub-header row is then data.
        assert_eq!(
            rows_of(&ev)[0],
            (2, vec![Cell::Empty, t("Start"), t("Eind")])
        );
    }

    fn three_sheets(dir: &tempfile::TempDir) -> PathBuf {
        workbook(
            dir,
            "sheets.xlsx",
            &[
                ("Noord", &|ws: &mut Worksheet| {
                    ws.write_string(0, 0, "BSN").unwrap();
                    ws.write_string(1, 0, "1").unwrap();
                }),
                ("Notities", &|ws: &mut Worksheet| {
                    ws.write_string(0, 0, "Jan belt terug").unwrap();
                }),
                ("Zuid", &|ws: &mut Worksheet| {
                    ws.write_string(2, 0, "bsn").unwrap();
                    ws.write_string(3, 0, "2").unwrap();
                }),
            ],
        )
    }

    #[tokio::test]
    async fn every_sheet_with_a_header_row() {
        let dir = tempfile::tempdir().unwrap();
        let p = three_sheets(&dir);
        let ev = read(input(vec![p], &["BSN"])).await;
        no_errors(&ev);
        assert_eq!(
            headers_of(&ev),
            vec![
                (Some("Noord".into()), vec!["BSN".into()]),
                (Some("Zuid".into()), vec!["bsn".into()]),
            ]
        );
        assert_eq!(rows_of(&ev), vec![(2, vec![t("1")]), (4, vec![t("2")])]);
    }

    #[tokio::test]
    async fn named_sheet_and_missing_sheet() {
        let dir = tempfile::tempdir().unwrap();
        let p = three_sheets(&dir);
        let mut inp = input(vec![p.clone()], &["BSN"]);
        inp.sheet = Some("Zuid".into());
        let ev = read(inp).await;
        no_errors(&ev);
        assert_eq!(
            headers_of(&ev),
            vec![(Some("Zuid".into()), vec!["bsn".into()])]
        );
        assert_eq!(rows_of(&ev), vec![(4, vec![t("2")])]);

        let mut inp = input(vec![p.clone()], &["BSN"]);
        inp.sheet = Some("West".into());
        let ev = read(inp).await;
        match &ev[..] {
            [Err(e @ ReadError::NoSuchSheet { found, .. })] => {
                assert_eq!(found, &["Noord", "Notities", "Zuid"]);
                let msg = e.to_string();
                assert!(msg.contains(&p.display().to_string()) && msg.contains("West"));
            }
            other => panic!("{other:?}"),
        }

        // A named sheet without a header row is an error, naming the sheet.
        let mut inp = input(vec![p], &["BSN"]);
        inp.sheet = Some("Notities".into());
        let ev = read(inp).await;
        assert!(
            matches!(&ev[..], [Err(ReadError::NoHeaderRow { sheet: Some(s), .. })] if s == "Notities"),
            "{ev:?}"
        );
    }

    #[tokio::test]
    async fn no_header_row_names_file_and_header_not_values() {
        let dir = tempfile::tempdir().unwrap();
        let p = workbook(
            &dir,
            "namen.xlsx",
            &[("Blad1", &|ws: &mut Worksheet| {
                ws.write_string(0, 0, "Naam").unwrap();
                ws.write_string(1, 0, "Jan Jansen").unwrap();
                ws.write_string(2, 0, "123456782").unwrap();
            })],
        );
        let ev = read(input(vec![p.clone()], &["BSN"])).await;
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert!(matches!(ev[0], Err(ReadError::NoHeaderRow { .. })));
        let msg = ev[0].as_ref().unwrap_err().to_string();
        assert!(msg.contains(&p.display().to_string()), "{msg}");
        assert!(msg.contains("Blad1") && msg.contains("BSN"), "{msg}");
        assert!(
            !msg.contains("Jan Jansen") && !msg.contains("123456782"),
            "{msg}"
        );

        // Several sheets, none with a header row.
        let p = three_sheets(&dir);
        let ev = read(input(vec![p], &["Postcode"])).await;
        assert!(
            matches!(&ev[..], [Err(ReadError::NoHeaderRow { sheet: None, .. })]),
            "{ev:?}"
        );
    }

    #[tokio::test]
    async fn not_an_xlsx_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.xlsx");
        std::fs::write(&p, "BSN;Naam\n123456782;Jan\n").unwrap();
        let ev = read(input(vec![p.clone()], &["BSN"])).await;
        match &ev[..] {
            [Err(e @ ReadError::Unreadable { .. })] => {
                let msg = e.to_string();
                assert!(msg.contains(&p.display().to_string()), "{msg}");
                assert!(msg.contains("not an XLSX workbook"), "{msg}");
                assert!(!msg.contains("123456782"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn limits_refuse_large_parts_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = three_sheets(&dir);
        let mut inp = input(vec![p.clone()], &["BSN"]);
        inp.limits.max_uncompressed_bytes = 100;
        let ev = read(inp).await;
        match &ev[..] {
            [Err(e @ ReadError::TooLarge { what, .. })] => {
                assert!(what.contains("[import] max_uncompressed_mib"), "{what}");
                assert!(e.to_string().contains(&p.display().to_string()));
            }
            other => panic!("{other:?}"),
        }

        let mut inp = input(vec![p], &["BSN"]);
        inp.limits.max_file_bytes = 100;
        let ev = read(inp).await;
        assert!(
            matches!(&ev[..], [Err(ReadError::TooLarge { what, .. })] if what.contains("[import] max_file_mib")),
            "{ev:?}"
        );
    }

    /// Replaces one part of a workbook (written deflated, as Excel does).
    fn replace_part(p: &Path, part: &str, content: &[u8]) {
        use std::io::Write;
        let bytes = std::fs::read(p).unwrap();
        let mut zin = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..zin.len() {
            let name = zin.by_index_raw(i).unwrap().name().unwrap().into_owned();
            if name == part {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated);
                zout.start_file(name, options).unwrap();
                zout.write_all(content).unwrap();
            } else {
                zout.raw_copy_file(zin.by_index_raw(i).unwrap()).unwrap();
            }
        }
        std::fs::write(p, zout.finish().unwrap().into_inner()).unwrap();
    }

    /// A workbook whose strings are in a shared-string table.
    fn with_shared_strings(dir: &tempfile::TempDir) -> PathBuf {
        workbook(
            dir,
            "strings.xlsx",
            &[("Blad1", &|ws: &mut Worksheet| {
                ws.write_string(0, 0, "BSN").unwrap();
                ws.write_string(1, 0, "x").unwrap();
            })],
        )
    }

    /// The reader refused the file with a message naming it, holding `needle`, saying what to do.
    fn refused(ev: &Events, p: &Path, needle: &str) {
        match &ev[..] {
            [Err(e @ ReadError::TooLarge { .. })] => {
                let msg = e.to_string();
                assert!(msg.contains(&p.display().to_string()), "{msg}");
                assert!(msg.contains(needle), "{msg}");
                assert!(msg.contains("raise [import] limits only for files you trust"));
            }
            other => panic!("{other:?}"),
        }
    }

    /// A shared-string table declaring `declared` strings (no attribute when empty) and holding
    /// `strings` of them: `BSN`, then `x`s.
    fn sst(declared: &str, strings: usize) -> Vec<u8> {
        let unique = if declared.is_empty() {
            String::new()
        } else {
            format!(r#" uniqueCount="{declared}""#)
        };
        let mut xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{strings}"{unique}>"#
        );
        for i in 0..strings {
            xml.push_str(if i == 0 {
                "<si><t>BSN</t></si>"
            } else {
                "<si><t>x</t></si>"
            });
        }
        xml.push_str("</sst>");
        xml.into_bytes()
    }

    #[tokio::test]
    async fn shared_string_bombs_are_refused_before_calamine_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        // A table that declares more strings than it has: calamine reserves the declared count
        // up front, so one line of XML could ask for terabytes.
        let p = with_shared_strings(&dir);
        replace_part(&p, "xl/sharedStrings.xml", &sst("400000000000000000", 2));
        let ev = read(input(vec![p.clone()], &["BSN"])).await;
        refused(
            &ev,
            &p,
            "declares 400000000000000000 strings, more than the limit of 10000000 ([import] max_shared_strings)",
        );

        // With the guard lifted calamine panics on it (capacity overflow); the reader reports
        // that as an error instead of ending the stream as if the file were empty.
        let mut inp = input(vec![p.clone()], &["BSN"]);
        inp.limits.max_shared_strings = u64::MAX;
        let ev = read(inp).await;
        match &ev[..] {
            [Err(e @ ReadError::Unreadable { .. })] => {
                assert!(e.to_string().contains("internal error"), "{e}")
            }
            other => panic!("{other:?}"),
        }

        // Many small strings, honestly declared or not declared at all: counted.
        for (declared, needle) in [
            ("200001", "declares 200001 strings"),
            (
                "",
                "holds more than 200000 strings ([import] max_shared_strings)",
            ),
            (
                "2",
                "holds more than 200000 strings ([import] max_shared_strings)",
            ),
        ] {
            let p = with_shared_strings(&dir);
            replace_part(&p, "xl/sharedStrings.xml", &sst(declared, 200_001));
            let mut inp = input(vec![p.clone()], &["BSN"]);
            inp.limits.max_shared_strings = 200_000;
            refused(&read(inp).await, &p, needle);
        }

        // Within the limit, the same table reads.
        let p = with_shared_strings(&dir);
        replace_part(&p, "xl/sharedStrings.xml", &sst("2", 2));
        let mut inp = input(vec![p], &["BSN"]);
        inp.limits.max_shared_strings = 2;
        let ev = read(inp).await;
        no_errors(&ev);
        assert_eq!(rows_of(&ev), vec![(2, vec![t("x")])]);
    }

    #[tokio::test]
    async fn zip_bombs_are_refused_by_their_declared_sizes() {
        let dir = tempfile::tempdir().unwrap();
        // A worksheet that unpacks to 24 MiB (padding between rows) from well under 1 MiB.
        let p = with_shared_strings(&dir);
        let mut sheet = String::from(
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>"#,
        );
        sheet.push_str(&" ".repeat(24 << 20));
        sheet.push_str("</sheetData></worksheet>");
        replace_part(&p, "xl/worksheets/sheet1.xml", sheet.as_bytes());
        assert!(
            std::fs::metadata(&p).unwrap().len() < 1 << 20,
            "small on disk"
        );
        let mut inp = input(vec![p.clone()], &["BSN"]);
        inp.limits.max_uncompressed_bytes = 8 << 20;
        let ev = read(inp).await;
        refused(&ev, &p, "part `xl/worksheets/sheet1.xml` unpacks to 251");
        refused(&ev, &p, "limit of 8 MiB ([import] max_uncompressed_mib)");

        // A part read whole (here the styles) has the smaller limit of its own.
        let p = with_shared_strings(&dir);
        let styles = format!("<styleSheet>{}</styleSheet>", " ".repeat(3 << 20));
        replace_part(&p, "xl/styles.xml", styles.as_bytes());
        let mut inp = input(vec![p.clone()], &["BSN"]);
        inp.limits.max_metadata_bytes = 2 << 20;
        let ev = read(inp).await;
        refused(&ev, &p, "part `xl/styles.xml` unpacks to");
        refused(&ev, &p, "limit of 2 MiB ([import] max_xlsx_metadata_mib)");
    }

    #[test]
    fn shared_strings_are_counted_across_reads_and_prefixes() {
        /// Reads one byte at a time, so every tag straddles two reads.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let xml = br#"<x:sst uniqueCount='3'><x:si><x:t>a</x:t></x:si><si/><si ><t>b</t></si><sis/><t>si</t></x:sst>"#;
        assert_eq!(
            count_shared_strings(Trickle(xml), 10).unwrap(),
            (Some(3), 3)
        );
        assert_eq!(declared_count(br#"<sst count="5">"#), None);
        assert_eq!(
            declared_count(br#"<sst uniqueCount="99999999999999999999999">"#),
            Some(u64::MAX)
        );
    }

    /// Found by the property tests: calamine 0.38 computes a cell reference's column in a
    /// `u32` without overflow checks, so `AAAAAAAAA2` panics in a debug build (and wraps in a
    /// release build). The panic must end the stream as an error for the file, never as a
    /// clean end (which the pipeline would commit as a complete, shorter file).
    #[tokio::test]
    async fn a_panic_inside_calamine_is_an_error_for_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = with_shared_strings(&dir);
        let sheet = r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="AAAAAAAAA2" t="s"><v>1</v></c></row></sheetData></worksheet>"#;
        replace_part(&p, "xl/worksheets/sheet1.xml", sheet.as_bytes());
        let ev = read(input(vec![p.clone()], &["BSN"])).await;
        if cfg!(debug_assertions) {
            match ev.last() {
                Some(Err(e @ ReadError::Unreadable { .. })) => {
                    let msg = e.to_string();
                    assert!(msg.contains(&p.display().to_string()), "{msg}");
                    assert!(msg.contains("internal error"), "{msg}");
                }
                other => panic!("{other:?}"),
            }
        } else {
            // Wrapped to some column: outside the header's one column, so no cell is read.
            no_errors(&ev);
        }
    }

    #[tokio::test]
    async fn old_xls_and_other_zips_are_not_workbooks() {
        let dir = tempfile::tempdir().unwrap();
        let xls = dir.path().join("oud.xlsx");
        let mut bytes = CFB_MAGIC.to_vec();
        bytes.extend_from_slice(&[0; 504]);
        std::fs::write(&xls, bytes).unwrap();
        let ev = read(input(vec![xls], &["BSN"])).await;
        assert!(
            matches!(&ev[..], [Err(ReadError::Unreadable { reason, .. })] if reason.contains(".xls workbook")),
            "{ev:?}"
        );

        let other = dir.path().join("archief.xlsx");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&other).unwrap());
        zip.start_file("readme.txt", zip::write::SimpleFileOptions::default())
            .unwrap();
        std::io::Write::write_all(&mut zip, b"hallo").unwrap();
        zip.finish().unwrap();
        let ev = read(input(vec![other], &["BSN"])).await;
        assert!(
            matches!(&ev[..], [Err(ReadError::Unreadable { reason, .. })] if reason.contains("not an XLSX workbook")),
            "{ev:?}"
        );
    }

    /// A large sheet streams; run with `cargo test -p importers --release -- --ignored large`.
    #[tokio::test(flavor = "multi_thread")]
    #[ignore = "slow: writes and reads a 1,000,000-row workbook"]
    async fn large_sheet() {
        const ROWS: u32 = 1_000_000;
        let dir = tempfile::tempdir().unwrap();
        let p = workbook(
            &dir,
            "groot.xlsx",
            &[("Blad1", &|ws: &mut Worksheet| {
                ws.write_string(0, 0, "BSN").unwrap();
                ws.write_string(0, 1, "Naam").unwrap();
                for r in 1..=ROWS {
                    ws.write_number(r, 0, f64::from(r)).unwrap();
                    ws.write_string(r, 1, "naam").unwrap();
                }
            })],
        );
        let mut rx = XlsxReader.read(input(vec![p], &["BSN"]));
        let mut rows = 0u32;
        let mut last = 0;
        while let Some(ev) = rx.recv().await {
            if let ReadEvent::Row(r) = ev.unwrap() {
                rows += 1;
                last = r.number;
            }
        }
        assert_eq!((rows, last), (ROWS, u64::from(ROWS) + 1));
    }

    #[tokio::test]
    async fn error_ends_the_stream_after_earlier_files() {
        let dir = tempfile::tempdir().unwrap();
        let good = three_sheets(&dir);
        let bad = dir.path().join("kapot.xlsx");
        std::fs::write(&bad, b"PK\x03\x04 not really").unwrap();
        let ev = read(input(vec![good, bad], &["BSN"])).await;
        assert_eq!(headers_of(&ev).len(), 2);
        assert!(matches!(ev.last(), Some(Err(ReadError::Unreadable { .. }))));
    }

    #[test]
    fn iso_date_cells() {
        assert_eq!(
            to_cell(&DataRef::DateTimeIso("2024-03-15T10:30:00".into())),
            dt(2024, 3, 15, 10, 30)
        );
        assert_eq!(
            to_cell(&DataRef::DateTimeIso("2024-03-15".into())),
            dt(2024, 3, 15, 0, 0)
        );
        assert_eq!(to_cell(&DataRef::DateTimeIso("10:30".into())), t("10:30"));
    }
}
