//! Writes a generated municipality export of invented people, for trying `werkbrug import` and
//! for profiling: `cargo run --release -p importers --example generate -- ROWS FILE.{csv,xlsx}`.

use importers::fixtures::{MUNICIPALITY_HEADERS, municipality_rows, write_csv, write_xlsx};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: generate ROWS FILE.csv|FILE.xlsx";
    let rows: usize = args.next().ok_or(usage)?.parse()?;
    let file = std::path::PathBuf::from(args.next().ok_or(usage)?);
    let data = municipality_rows(rows, 1);
    match file.extension().and_then(|e| e.to_str()) {
        Some("csv") => write_csv(&file, &MUNICIPALITY_HEADERS, &data)?,
        Some("xlsx") => write_xlsx(&file, "Deelnemers", &MUNICIPALITY_HEADERS, &data)?,
        _ => return Err(usage.into()),
    }
    println!("{rows} rows written to {}", file.display());
    Ok(())
}
