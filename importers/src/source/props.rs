//! Property tests on hostile input: the CSV and XLSX readers on arbitrary bytes and on valid
//! files mutated (bytes, and the XML inside a workbook re-zipped so the damage gets past the zip
//! checksums), and every value parser on arbitrary cells. None may panic or hang, and a reader's
//! output keeps its promises ([`probe::broken_promise`]).
//!
//! `cargo test -p importers props` runs a few dozen cases each; `PROPTEST_CASES=20000` runs more
//! (docs/reliability.md). A failing case is shrunk and printed; add it as a regression test.

use std::io::{Read, Write};
use std::sync::{LazyLock, Mutex};

use proptest::prelude::*;

use super::probe::{self, Events};
use super::{Cell, Limits};
use crate::fixtures::{MUNICIPALITY_HEADERS, municipality_rows, write_csv, write_xlsx};
use crate::value;

/// Cases per property: `default` from a fixed seed (so `cargo test` is repeatable), or
/// `PROPTEST_CASES` from a random one (`PROPTEST_RNG_SEED` repeats such a run).
fn cases(default: u32) -> ProptestConfig {
    let long = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok());
    let config = ProptestConfig::default();
    ProptestConfig {
        cases: long.unwrap_or(default),
        rng_seed: match long {
            Some(_) => config.rng_seed,
            None => proptest::test_runner::RngSeed::Fixed(6),
        },
        failure_persistence: None,
        ..config
    }
}

/// Small limits, so that a mutated size field is refused rather than read for long.
fn limits() -> Limits {
    Limits {
        max_uncompressed_bytes: 16 << 20,
        max_metadata_bytes: 4 << 20,
        max_shared_strings: 100_000,
        ..Limits::default()
    }
}

/// Where the panics of this test binary happened, newest last.
static PANICS: LazyLock<Mutex<Vec<String>>> = LazyLock::new(|| {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(l) = info.location() {
            PANICS.lock().unwrap().push(l.file().to_owned());
        }
        default(info);
    }));
    Mutex::new(Vec::new())
});

/// Reads the bytes and checks the reader's promises. One exception: calamine 0.38 overflows a
/// `u32` on a cell reference with many column letters (`ZZZZZZZ1`); in a debug build that
/// panics inside calamine, which the reader turns into an error for the file (in a release
/// build it wraps silently). That is accepted here when the panic was calamine's.
fn check(format: &str, bytes: &[u8]) -> Events {
    LazyLock::force(&PANICS);
    let seen = PANICS.lock().unwrap().len();
    let events = probe::read_bytes(format, bytes, &["Klantnummer"], limits());
    if let Some(broken) = probe::broken_promise(&events) {
        let panics = PANICS.lock().unwrap()[seen..].to_vec();
        let upstream = !panics.is_empty() && panics.iter().all(|f| f.contains("calamine-0.38"));
        if !(broken.contains("the reader panicked") && upstream) {
            panic!("{format} reader: {broken} (panics in {panics:?})");
        }
    }
    events
}

fn rows(n: usize) -> Vec<Vec<String>> {
    municipality_rows(n, 9)
}

/// A valid municipality CSV of a few rows.
static CSV: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.csv");
    write_csv(&p, &MUNICIPALITY_HEADERS, &rows(4)).unwrap();
    std::fs::read(p).unwrap()
});

/// Valid workbooks: inline strings (as the fixtures write them) and a shared-string table.
static XLSX: LazyLock<[Vec<u8>; 2]> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.xlsx");
    write_xlsx(&p, "Deelnemers", &MUNICIPALITY_HEADERS, &rows(3)).unwrap();
    let inline = std::fs::read(&p).unwrap();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    for (c, h) in MUNICIPALITY_HEADERS.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows(3).iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, v).unwrap();
        }
    }
    ws.merge_range(5, 0, 6, 2, "samengevoegd", &rust_xlsxwriter::Format::new())
        .unwrap();
    ws.write_number(7, 1, 45366.0).unwrap();
    wb.save(&p).unwrap();
    [inline, std::fs::read(&p).unwrap()]
});

/// One change to a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn apply(bytes: &mut Vec<u8>, edits: &[Edit]) {
    for e in edits {
        let len = bytes.len().max(1);
        match e {
            Edit::Flip(at, x) => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= x | 1;
                }
            }
            Edit::Insert(at, s) => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, s.iter().copied());
            }
            Edit::Delete(at, n) => {
                let at = (at % len).min(bytes.len());
                let end = (at + n).min(bytes.len());
                bytes.drain(at..end);
            }
            Edit::Truncate(at) => bytes.truncate(at % len),
        }
    }
}

/// Snippets that mean something to a CSV or XML parser.
const TOKENS: &[&str] = &[
    "\"",
    "\"\"",
    ";",
    ",",
    "\n",
    "\r\n",
    "\r",
    "\t",
    "\u{feff}",
    "\u{0}",
    "\u{ff}",
    "é",
    "<",
    ">",
    "/>",
    "</c>",
    "</row>",
    "<row r=\"4294967295\">",
    "<row r=\"0\">",
    "<c r=\"XFD1048576\">",
    "<c r=\"A0\">",
    "<c r=\"ZZZZ9\" t=\"s\">",
    "t=\"s\"",
    "t=\"d\"",
    "t=\"e\"",
    "t=\"b\"",
    "t=\"inlineStr\"",
    "<v>1e308</v>",
    "<v>-1</v>",
    "<v>99999999999</v>",
    "<v>NaN</v>",
    "<v></v>",
    "s=\"999\"",
    "<is><t>x</t></is>",
    "&amp;",
    "&#0;",
    "&#xFFFF;",
    "&bogus;",
    "<![CDATA[",
    "]]>",
    "<!--",
    "-->",
    "<si>",
    "</si>",
    "<t>",
    "</t>",
    "uniqueCount=\"18446744073709551615\"",
    "<mergeCell ref=\"A1:XFD1048576\"/>",
    "<mergeCell ref=\"B2:A1\"/>",
    "numFmtId=\"14\"",
    "formatCode=\"dd-mm-yyyy\"",
    "date1904=\"1\"",
    "Klantnummer",
    "BSN",
    "0",
    "45366",
    "31-02-2024",
];

fn token() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::sample::select(TOKENS).prop_map(|t| t.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..8),
    ]
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(a, x)| Edit::Flip(a, x)),
        4 => (any::<usize>(), token()).prop_map(|(a, t)| Edit::Insert(a, t)),
        2 => (any::<usize>(), 1..64usize).prop_map(|(a, n)| Edit::Delete(a, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ];
    proptest::collection::vec(edit, 1..6)
}

/// A workbook with the XML of one of its parts edited, re-zipped with correct checksums.
fn edit_part(workbook: &[u8], which: usize, edits: &[Edit]) -> Vec<u8> {
    let mut zin = zip::ZipArchive::new(std::io::Cursor::new(workbook)).unwrap();
    let xml: Vec<usize> = (0..zin.len())
        .filter(|i| {
            let f = zin.by_index_raw(*i).unwrap();
            let n = f.name().unwrap_or_default();
            n.ends_with(".xml") || n.ends_with(".rels")
        })
        .collect();
    let target = xml[which % xml.len()];
    let mut zout = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zin.len() {
        if i == target {
            let mut f = zin.by_index(i).unwrap();
            let name = f.name().unwrap_or_default().into_owned();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            drop(f);
            apply(&mut content, edits);
            zout.start_file(name, zip::write::SimpleFileOptions::default())
                .unwrap();
            zout.write_all(&content).unwrap();
        } else {
            zout.raw_copy_file(zin.by_index_raw(i).unwrap()).unwrap();
        }
    }
    zout.finish().unwrap().into_inner()
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn csv_arbitrary_bytes(header in any::<bool>(), bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut input = if header { b"Klantnummer;BSN\n".to_vec() } else { vec![] };
        input.extend(bytes);
        check("csv", &input);
    }

    #[test]
    fn csv_mutated(edits in edits()) {
        let mut bytes = CSV.clone();
        apply(&mut bytes, &edits);
        check("csv", &bytes);
    }

    #[test]
    fn xlsx_arbitrary_bytes(zip_magic in any::<bool>(), bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut input = if zip_magic { b"PK\x03\x04".to_vec() } else { vec![] };
        input.extend(bytes);
        check("xlsx", &input);
    }

    #[test]
    fn xlsx_mutated_bytes(which in 0..2usize, edits in edits()) {
        let mut bytes = XLSX[which].clone();
        apply(&mut bytes, &edits);
        check("xlsx", &bytes);
    }

    #[test]
    fn xlsx_mutated_xml(which in 0..2usize, part in any::<usize>(), edits in edits()) {
        let bytes = edit_part(&XLSX[which], part, &edits);
        check("xlsx", &bytes);
    }
}

/// Any cell a reader can produce.
fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        Just(Cell::Empty),
        any::<String>().prop_map(Cell::Text),
        "[0-9 .,/:T+-]{0,24}".prop_map(Cell::Text),
        any::<f64>().prop_map(Cell::Number),
        (-1e6f64..1e6).prop_map(Cell::Number),
        any::<bool>().prop_map(Cell::Bool),
        (any::<i64>(), 0u32..86_400).prop_filter_map("a representable date-time", |(s, t)| {
            chrono::DateTime::from_timestamp(s % 300_000_000_000, 0)
                .map(|d| Cell::DateTime(d.naive_utc() + chrono::Duration::seconds(i64::from(t))))
        }),
        any::<String>().prop_map(Cell::Error),
    ]
}

proptest! {
    #![proptest_config(cases(2000))]

    #[test]
    fn value_parsers_take_any_cell(c in cell()) {
        let _ = value::text(&c);
        if let Ok(Some(d)) = value::date(&c) {
            prop_assert!((1900..=2100).contains(&chrono::Datelike::year(&d)), "{d}");
        }
        let _ = value::boolean(&c);
        let _ = value::list(&c);
        if let Ok(Some(n)) = value::number(&c) {
            prop_assert!(n.is_finite());
        }
        if let Ok(Some(h)) = value::hours(&c) {
            prop_assert!((0.0..=60.0).contains(&h), "{h}");
        }
        let _ = value::percentage(&c);
        if let Ok(Some(s)) = value::participation_step(&c) {
            prop_assert!((1..=6).contains(&s));
        }
        let _ = value::education_level(&c);
        let _ = value::line(&c);
        let _ = value::bsn(&c);
        let _ = value::postcode(&c);
        let _ = value::free_text(&c);
    }

    #[test]
    fn every_date_spelling_reads_as_the_same_day(
        days in 0i64..73_000,
        spelling in 0..6usize,
    ) {
        let d = chrono::NaiveDate::from_ymd_opt(1900, 3, 1).unwrap() + chrono::Duration::days(days);
        prop_assume!(chrono::Datelike::year(&d) <= 2100);
        let text = match spelling {
            0 => d.format("%d-%m-%Y").to_string(),
            1 => d.format("%-d-%-m-%Y").to_string(),
            2 => d.format("%Y-%m-%d").to_string(),
            3 => d.format("%d/%m/%Y").to_string(),
            4 => d.format("%d.%m.%Y 00:00").to_string(),
            _ => d.format("%Y-%m-%dT00:00:00").to_string(),
        };
        prop_assert_eq!(value::date(&Cell::Text(text.clone())), Ok(Some(d)), "{}", text);
        let serial = (d - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()).num_days();
        prop_assert_eq!(value::date(&Cell::Number(serial as f64 + 0.25)), Ok(Some(d)));
    }
}
