//! Value parsers: every accepted spelling of a date, a boolean, a list, hours or a percentage in
//! one place. Mapping calls them on raw cells; what they return is valid, what they refuse comes
//! back as a reason that never quotes the value (it may be personal).

use chrono::{Datelike, Duration, NaiveDate};
use model::{Bsn, Line, ParticipationStep};

use crate::source::Cell;

/// Why a cell's value was refused; becomes a rejected row's reason.
pub type Refusal = String;

/// The text of a cell as a spreadsheet user would read it (numbers without a trailing `.0`).
pub fn text(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Empty => None,
        Cell::Text(s) => Some(s.clone()).filter(|s| !s.is_empty()),
        Cell::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => Some(format!("{}", *n as i64)),
        Cell::Number(n) => Some(n.to_string()),
        Cell::Bool(b) => Some(if *b { "ja" } else { "nee" }.to_owned()),
        Cell::DateTime(d) => Some(d.date().format("%Y-%m-%d").to_string()),
        Cell::Error(e) => Some(e.clone()),
    }
}

/// Excel's day 0 in the 1900 date system (serial 1 is 1900-01-01; serial 60, the invented
/// 1900-02-29, is ignored by starting at 1899-12-30).
fn excel_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date")
}

/// A date: an Excel date cell, an Excel serial (1900 system; a number or digits in text),
/// `dd-mm-jjjj`, `d-m-jjjj` (also with `/` or `.`), or `jjjj-mm-dd`; optionally followed by a time.
/// Dates before 1900 or after 2100 are refused as implausible.
pub fn date(cell: &Cell) -> Result<Option<NaiveDate>, Refusal> {
    let d = match cell {
        Cell::Empty => return Ok(None),
        Cell::DateTime(dt) => dt.date(),
        Cell::Number(n) => serial(*n)?,
        Cell::Text(s) if s.is_empty() => return Ok(None),
        Cell::Text(s) => text_date(s)?,
        Cell::Bool(_) | Cell::Error(_) => {
            return Err("not a date; write dd-mm-jjjj or jjjj-mm-dd".into());
        }
    };
    if !(1900..=2100).contains(&d.year()) {
        return Err("implausible date (before 1900 or after 2100)".into());
    }
    Ok(Some(d))
}

fn serial(n: f64) -> Result<NaiveDate, Refusal> {
    if !(1.0..=200_000.0).contains(&n) {
        return Err("not a date: the number is no Excel date serial".into());
    }
    Ok(excel_epoch() + Duration::days(n.trunc() as i64))
}

fn text_date(s: &str) -> Result<NaiveDate, Refusal> {
    let s = s.trim();
    // Drop a time part: "01-02-2024 00:00", "2024-02-01T00:00:00".
    let day = s.split([' ', 'T']).next().unwrap_or(s);
    if day.chars().all(|c| c.is_ascii_digit()) && (1..=6).contains(&day.len()) {
        return serial(day.parse::<f64>().map_err(|_| "not a date")?);
    }
    let parts: Vec<&str> = day.split(['-', '/', '.']).collect();
    let refuse = || "not a date; write dd-mm-jjjj, d-m-jjjj or jjjj-mm-dd".to_owned();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(refuse());
    }
    let n = |p: &str| p.parse::<u32>().map_err(|_| refuse());
    let (y, m, d) = if parts[0].len() == 4 {
        (n(parts[0])?, n(parts[1])?, n(parts[2])?)
    } else if parts[2].len() == 4 {
        (n(parts[2])?, n(parts[1])?, n(parts[0])?)
    } else {
        return Err(refuse());
    };
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or_else(|| "no such day in the calendar".to_owned())
}

/// A yes/no: Ja/Nee/J/N/yes/no/1/0/true/false/x (x and any mark mean yes in a tick column).
pub fn boolean(cell: &Cell) -> Result<Option<bool>, Refusal> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Bool(b) => Ok(Some(*b)),
        Cell::Number(n) if *n == 1.0 => Ok(Some(true)),
        Cell::Number(n) if *n == 0.0 => Ok(Some(false)),
        Cell::Text(s) => match s.trim().to_lowercase().as_str() {
            "" => Ok(None),
            "ja" | "j" | "yes" | "y" | "1" | "true" | "waar" | "x" | "✓" => Ok(Some(true)),
            "nee" | "n" | "no" | "0" | "false" | "onwaar" | "-" => Ok(Some(false)),
            _ => Err("not a yes/no; write Ja or Nee (also J/N, yes/no, 1/0, true/false, x)".into()),
        },
        _ => Err("not a yes/no; write Ja or Nee".into()),
    }
}

/// A list split on `;`, `,` or line breaks; items trimmed, empty items dropped, lower-cased, in
/// order, without duplicates.
pub fn list(cell: &Cell) -> Vec<String> {
    let Some(t) = text(cell) else {
        return vec![];
    };
    let mut out: Vec<String> = vec![];
    for item in t.split([';', ',', '\n', '\r']) {
        let item = item.trim().to_lowercase();
        if !item.is_empty() && !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// A number, also written with a decimal comma or as text.
pub fn number(cell: &Cell) -> Result<Option<f64>, Refusal> {
    match cell {
        Cell::Empty => Ok(None),
        Cell::Number(n) => Ok(Some(*n)),
        Cell::Text(s) if s.trim().is_empty() => Ok(None),
        Cell::Text(s) => s
            .trim()
            .trim_end_matches('%')
            .trim()
            .replace(',', ".")
            .parse::<f64>()
            .map(Some)
            .map_err(|_| "not a number".into()),
        _ => Err("not a number".into()),
    }
}

/// Hours per week, 0 to 60.
pub fn hours(cell: &Cell) -> Result<Option<f64>, Refusal> {
    match number(cell)? {
        None => Ok(None),
        Some(h) if (0.0..=60.0).contains(&h) => Ok(Some(h)),
        Some(_) => Err("hours per week must be between 0 and 60".into()),
    }
}

/// A percentage 0–100; `0.8` in a cell formatted as percent counts as 80.
pub fn percentage(cell: &Cell) -> Result<Option<i32>, Refusal> {
    match number(cell)? {
        None => Ok(None),
        Some(p) if matches!(cell, Cell::Number(_)) && p > 0.0 && p <= 1.0 => {
            Ok(Some((p * 100.0).round() as i32))
        }
        Some(p) if (0.0..=100.0).contains(&p) => Ok(Some(p.round() as i32)),
        Some(_) => Err("a percentage must be between 0 and 100".into()),
    }
}

/// The participation ladder step, 1–6 (also "trede 3").
pub fn participation_step(cell: &Cell) -> Result<Option<i32>, Refusal> {
    let Some(t) = text(cell) else {
        return Ok(None);
    };
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let n: i64 = digits
        .parse()
        .map_err(|_| "Trede must be a number from 1 to 6".to_owned())?;
    ParticipationStep::try_from(n)
        .map(|s| Some(i32::from(s.get())))
        .map_err(|_| "Trede must be a number from 1 to 6".to_owned())
}

/// The SUWI education level 0–7, as a number or as the usual Dutch names.
pub fn education_level(cell: &Cell) -> Result<Option<i32>, Refusal> {
    let Some(t) = text(cell) else {
        return Ok(None);
    };
    let t = t.to_lowercase();
    if let Ok(n) = t.trim().parse::<i32>() {
        return if (0..=7).contains(&n) {
            Ok(Some(n))
        } else {
            Err("Opleidingsniveau must be 0 to 7 (SUWI) or a name such as mbo 2".into())
        };
    }
    let compact: String = t
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let level = match compact.as_str() {
        "geen" | "geenopleiding" => 0,
        "basisonderwijs" | "basisschool" | "po" => 1,
        "vmbo" | "vmbobb" | "vmbokb" | "mbo1" | "praktijkonderwijs" | "entree" => 2,
        "vmbogt" | "mavo" | "mbo2" | "havo3" => 3,
        "mbo3" | "mbo4" | "havo" | "vwo" => 4,
        "hbo" | "hbobachelor" | "wobachelor" | "bachelor" => 5,
        "wo" | "master" | "womaster" | "hbomaster" => 6,
        "doctor" | "phd" | "gepromoveerd" => 7,
        _ => {
            return Err(
                "Opleidingsniveau must be 0 to 7 (SUWI) or a name such as vmbo, mbo 2, hbo".into(),
            );
        }
    };
    Ok(Some(level))
}

/// The social-firm line: `3`, `4`, `3e lijn`, `4e lijn`, `lijn 3`.
pub fn line(cell: &Cell) -> Result<Option<Line>, Refusal> {
    let Some(t) = text(cell) else {
        return Ok(None);
    };
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    match digits.as_str() {
        "3" => Ok(Some(Line::Line3)),
        "4" => Ok(Some(Line::Line4)),
        _ => Err("Lijn must be 3 or 4 (also written 3e lijn, 4e lijn)".into()),
    }
}

/// A BSN: 9 digits after restoring leading zeros a spreadsheet dropped, passing the eleven-test.
pub fn bsn(cell: &Cell) -> Result<Option<Bsn>, Refusal> {
    match text(cell) {
        None => Ok(None),
        Some(t) => Bsn::parse(&t).map(Some).map_err(|e| e.to_string()),
    }
}

/// A Dutch postcode, normalised to `1234 AB`.
pub fn postcode(cell: &Cell) -> Result<Option<String>, Refusal> {
    let Some(t) = text(cell) else {
        return Ok(None);
    };
    let c: String = t
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    // ASCII first: the slices below are byte offsets.
    let ok = c.len() == 6
        && c.is_ascii()
        && c[..4].chars().all(|ch| ch.is_ascii_digit())
        && !c.starts_with('0')
        && c[4..].chars().all(|ch| ch.is_ascii_uppercase());
    if ok {
        Ok(Some(format!("{} {}", &c[..4], &c[4..])))
    } else {
        Err("not a Dutch postcode; write 1234 AB".into())
    }
}

/// Free text, trimmed; `None` when empty.
pub fn free_text(cell: &Cell) -> Option<String> {
    text(cell)
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    fn t(s: &str) -> Cell {
        Cell::Text(s.into())
    }
    fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(y, m, d)
    }

    #[test]
    fn dates_in_every_accepted_spelling() {
        assert_eq!(date(&t("01-02-2024")).unwrap(), ymd(2024, 2, 1));
        assert_eq!(date(&t("1-2-2024")).unwrap(), ymd(2024, 2, 1));
        assert_eq!(date(&t("1/2/2024")).unwrap(), ymd(2024, 2, 1));
        assert_eq!(date(&t("2024-02-01")).unwrap(), ymd(2024, 2, 1));
        assert_eq!(date(&t("2024-02-01T00:00:00")).unwrap(), ymd(2024, 2, 1));
        assert_eq!(date(&t("01-02-2024 00:00")).unwrap(), ymd(2024, 2, 1));
        // Excel serial 45323 is 2024-02-01, as a number or as text.
        assert_eq!(date(&Cell::Number(45323.0)).unwrap(), ymd(2024, 2, 1));
        assert_eq!(date(&t("45323")).unwrap(), ymd(2024, 2, 1));
        let dt = NaiveDateTime::parse_from_str("2024-02-01 13:00", "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(date(&Cell::DateTime(dt)).unwrap(), ymd(2024, 2, 1));
        assert_eq!(date(&Cell::Empty).unwrap(), None);
        assert!(date(&t("31-02-2024")).unwrap_err().contains("no such day"));
        assert!(date(&t("morgen")).is_err());
        assert!(date(&t("01-02-1850")).unwrap_err().contains("implausible"));
        assert!(
            !date(&t("12-13-2024")).unwrap_err().contains("12-13"),
            "no value in reasons"
        );
    }

    #[test]
    fn booleans_lists_and_numbers() {
        for yes in ["Ja", "j", "YES", "1", "true", "x"] {
            assert_eq!(boolean(&t(yes)).unwrap(), Some(true), "{yes}");
        }
        for no in ["Nee", "n", "no", "0", "false"] {
            assert_eq!(boolean(&t(no)).unwrap(), Some(false), "{no}");
        }
        assert_eq!(boolean(&Cell::Number(1.0)).unwrap(), Some(true));
        assert!(boolean(&t("misschien")).is_err());
        assert_eq!(
            list(&t("Heftruck; koken,  Schoonmaak\nkoken")),
            vec!["heftruck", "koken", "schoonmaak"]
        );
        assert_eq!(hours(&t("32,5")).unwrap(), Some(32.5));
        assert_eq!(hours(&Cell::Number(24.0)).unwrap(), Some(24.0));
        assert!(hours(&t("61")).is_err());
        assert_eq!(percentage(&Cell::Number(0.8)).unwrap(), Some(80));
        assert_eq!(percentage(&t("65%")).unwrap(), Some(65));
        assert_eq!(text(&Cell::Number(12345672.0)).unwrap(), "12345672");
    }

    #[test]
    fn ladder_line_education_postcode_bsn() {
        assert_eq!(participation_step(&Cell::Number(3.0)).unwrap(), Some(3));
        assert_eq!(participation_step(&t("trede 5")).unwrap(), Some(5));
        assert!(participation_step(&t("7")).is_err());
        assert_eq!(line(&t("3e lijn")).unwrap(), Some(Line::Line3));
        assert_eq!(line(&Cell::Number(4.0)).unwrap(), Some(Line::Line4));
        assert!(line(&t("5")).is_err());
        assert_eq!(education_level(&t("mbo 2")).unwrap(), Some(3));
        assert_eq!(education_level(&Cell::Number(4.0)).unwrap(), Some(4));
        assert_eq!(postcode(&t("1012ab")).unwrap().unwrap(), "1012 AB");
        assert!(postcode(&t("12345")).is_err());
        // Found by the property tests: six bytes that are not six ASCII characters panicked
        // (slicing inside a character), which stopped the mapping of the whole file.
        assert!(postcode(&t("⼀෦")).is_err());
        assert!(postcode(&t("10€1")).is_err());
        // A BSN with its leading zero dropped by a spreadsheet is the same BSN.
        let full = bsn(&t("012345672")).unwrap().unwrap();
        assert_eq!(bsn(&Cell::Number(12345672.0)).unwrap().unwrap(), full);
        assert!(bsn(&t("123456789")).unwrap_err().contains("eleven-test"));
    }
}
