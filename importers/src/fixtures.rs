//! Generated import files — invented people, realistic shapes — for tests, benchmarks and the
//! demo: municipality and social-firm exports as XLSX or CSV, with the quirks real exports have.
//! Nothing here is real data: names come from short lists, BSNs are random numbers that pass the
//! eleven-test.

use std::path::Path;

use chrono::{Duration, NaiveDate};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The municipality export's headers, as the preset expects them.
pub const MUNICIPALITY_HEADERS: [&str; 27] = [
    "Klantnummer",
    "BSN",
    "Voornaam",
    "Tussenvoegsel",
    "Achternaam",
    "Geboortedatum",
    "Postcode",
    "Stadsdeel",
    "Trede",
    "Traject",
    "Startdatum traject",
    "Einddatum traject",
    "Werkgever",
    "Uitstroomreden",
    "Uitstroomdatum",
    "Uren beschikbaar",
    "Sterke punten",
    "Ontwikkelpunten",
    "Vaardigheden",
    "Werksoorten",
    "Rijbewijs",
    "Opleidingsniveau",
    "Talen",
    "Toestemming delen",
    "Belemmeringen",
    "Uitkering",
    "Jobcoach",
];

/// The social-firm export's headers.
pub const SOCIAL_FIRM_HEADERS: [&str; 15] = [
    "Personeelsnummer",
    "BSN",
    "Naam",
    "Geboortedatum",
    "Lijn",
    "Werksoort",
    "Gedetacheerd bij",
    "Startdatum contract",
    "Einddatum contract",
    "Uren per week",
    "Loonwaarde",
    "Sterke punten",
    "Ontwikkelpunten",
    "Vaardigheden",
    "Toestemming delen",
];

const GIVEN: &[&str] = &[
    "Fatima", "Jan", "Mohamed", "Sanne", "Kevin", "Aisha", "Pieter", "Yusuf", "Lotte", "Dewi",
];
const PREFIX: &[&str] = &["", "", "van", "de", "van der", ""];
const FAMILY: &[&str] = &[
    "Jansen",
    "El Amrani",
    "Bakker",
    "Yilmaz",
    "Visser",
    "Pinas",
    "Smit",
    "Boateng",
];
const DISTRICTS: &[&str] = &[
    "Centrum",
    "Noord",
    "Oost",
    "West",
    "Zuid",
    "Nieuw-West",
    "Zuidoost",
    "Weesp",
];
const SKILLS: &[&str] = &[
    "heftruck",
    "koken",
    "schoonmaak",
    "kassa",
    "magazijn",
    "groenvoorziening",
    "klantcontact",
];
const STRENGTHS: &[&str] = &["betrouwbaar", "punctueel", "leergierig", "teamspeler"];
const DEVELOP: &[&str] = &["Nederlandse taal", "tempo", "zelfstandigheid"];
const WORK_TYPES: &[&str] = &["schoonmaak", "horeca", "logistiek", "groen", "retail"];
const TRAJECTS: &[&str] = &[
    "proefplaatsing",
    "participatieplaats",
    "jobcoaching",
    "detachering",
];
const EMPLOYERS: &[&str] = &[
    "Schoonmaak Amstelglans",
    "Catering IJkeuken",
    "Uitzendbureau Werkzaam",
];

/// A random BSN passing the eleven-test; about one in ten starts with a zero.
pub fn random_bsn(rng: &mut impl Rng) -> String {
    loop {
        let mut d = [0u32; 9];
        for x in d.iter_mut().take(8) {
            *x = rng.gen_range(0..10);
        }
        let sum: u32 = d[..8]
            .iter()
            .enumerate()
            .map(|(i, v)| (9 - i as u32) * v)
            .sum();
        let check = sum % 11;
        if check == 10 || d.iter().all(|x| *x == 0) {
            continue;
        }
        d[8] = check;
        return d.iter().map(|v| char::from(b'0' + *v as u8)).collect();
    }
}

/// One municipality row per person `i` (cells as text, in [`MUNICIPALITY_HEADERS`] order),
/// deterministic for a seed.
pub fn municipality_rows(n: usize, seed: u64) -> Vec<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let base = NaiveDate::from_ymd_opt(2026, 1, 1).expect("valid date");
    (0..n)
        .map(|i| {
            let pick =
                |rng: &mut StdRng, from: &[&str]| from[rng.gen_range(0..from.len())].to_owned();
            let list = |rng: &mut StdRng, from: &[&str]| {
                let k = rng.gen_range(1..=3.min(from.len()));
                let mut v: Vec<&str> = vec![];
                for _ in 0..k {
                    let s = from[rng.gen_range(0..from.len())];
                    if !v.contains(&s) {
                        v.push(s);
                    }
                }
                v.join("; ")
            };
            let birth = NaiveDate::from_ymd_opt(1965, 1, 1).expect("valid")
                + Duration::days(rng.gen_range(0..14_000));
            let placed = rng.gen_bool(0.6);
            let start = base - Duration::days(rng.gen_range(30..700));
            let end = start + Duration::days(rng.gen_range(90..730));
            let outflow = placed && rng.gen_bool(0.15);
            vec![
                format!("K{:07}", i + 1),
                random_bsn(&mut rng),
                pick(&mut rng, GIVEN),
                pick(&mut rng, PREFIX),
                pick(&mut rng, FAMILY),
                birth.format("%d-%m-%Y").to_string(),
                format!(
                    "10{:02} {}{}",
                    rng.gen_range(11..99),
                    ['A', 'B', 'K', 'X'][i % 4],
                    ['B', 'C', 'L', 'Z'][i % 4]
                ),
                pick(&mut rng, DISTRICTS),
                rng.gen_range(1..=6).to_string(),
                if placed {
                    pick(&mut rng, TRAJECTS)
                } else {
                    String::new()
                },
                if placed {
                    start.format("%d-%m-%Y").to_string()
                } else {
                    String::new()
                },
                if placed {
                    end.format("%Y-%m-%d").to_string()
                } else {
                    String::new()
                },
                if placed {
                    pick(&mut rng, EMPLOYERS)
                } else {
                    String::new()
                },
                if outflow {
                    "Werk".into()
                } else {
                    String::new()
                },
                if outflow {
                    end.format("%d-%m-%Y").to_string()
                } else {
                    String::new()
                },
                rng.gen_range(8..=40).to_string(),
                list(&mut rng, STRENGTHS),
                list(&mut rng, DEVELOP),
                list(&mut rng, SKILLS),
                list(&mut rng, WORK_TYPES),
                if rng.gen_bool(0.4) { "Ja" } else { "Nee" }.into(),
                rng.gen_range(1..=5).to_string(),
                ["nl", "nl, en", "nl; ar", "nl, tr"][i % 4].into(),
                if rng.gen_bool(0.5) { "Ja" } else { "Nee" }.into(),
                if rng.gen_bool(0.2) {
                    "Rugklachten; geen tilwerk".into()
                } else {
                    String::new()
                },
                ["Participatiewet", "", "WW"][i % 3].into(),
                ["J. de Boer", "A. Öztürk", "M. Pinas"][i % 3].into(),
            ]
        })
        .collect()
}

/// Writes rows as CSV with `;` (as Dutch spreadsheet tools do), quoting where needed.
pub fn write_csv(path: &Path, headers: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let quote = |s: &str| {
        if s.contains([';', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    writeln!(
        out,
        "{}",
        headers
            .iter()
            .map(|h| quote(h))
            .collect::<Vec<_>>()
            .join(";")
    )?;
    for r in rows {
        writeln!(
            out,
            "{}",
            r.iter().map(|c| quote(c)).collect::<Vec<_>>().join(";")
        )?;
    }
    out.flush()
}

/// Writes rows into one sheet of a workbook below a title row and a blank row (as exports
/// often have), with numbers written as numbers where a column holds only digits (`Trede`,
/// hours) — so the reader sees both kinds.
pub fn write_xlsx(
    path: &Path,
    sheet: &str,
    headers: &[&str],
    rows: &[Vec<String>],
) -> Result<(), rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet_with_constant_memory()?;
    ws.set_name(sheet)?;
    ws.write_string(0, 0, "Export deelnemers Werk en Re-integratie")?;
    for (c, h) in headers.iter().enumerate() {
        ws.write_string(2, c as u16, *h)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 3;
        for (c, v) in row.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let numeric = headers[c] == "Trede" || headers[c].starts_with("Uren");
            match v.parse::<f64>() {
                Ok(n) if numeric => ws.write_number(r, c as u16, n)?,
                _ => ws.write_string(r, c as u16, v)?,
            };
        }
    }
    book.save(path)
}
