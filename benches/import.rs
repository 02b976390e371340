//! Import benchmark: `cargo bench --bench import [-- ROWS…]` (default 100000 1000000).
//!
//! Generates municipality exports (XLSX and CSV) of each size, then prints in one run: rows/s of
//! the reader alone (calamine for XLSX), rows/s of the full `werkbrug import` into SQLite (and
//! into PostgreSQL when `BENCH_DATABASE_URL` or `TEST_DATABASE_URL` is set), the ratio
//! full import / read alone in time, the re-import of the unchanged file (which finds the file
//! the last run read and reads nothing), the same re-import reading every row (`--reread`), and
//! each import's peak memory. Figures go to docs/benchmarks.md.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use importers::fixtures::{MUNICIPALITY_HEADERS, municipality_rows, write_csv, write_xlsx};
use importers::source::{HeaderHint, Location, ReadEvent, ReadInput, reader_for};

fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        sizes
    };
    let bin = env!("CARGO_BIN_EXE_werkbrug");
    let pg = std::env::var("BENCH_DATABASE_URL")
        .or_else(|_| std::env::var("TEST_DATABASE_URL"))
        .ok()
        .filter(|u| !u.is_empty());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    println!(
        "| rows | format | database | read alone (rows/s) | import (rows/s) | import / read (time) | re-import (rows/s) | first / re-import (time) | re-import --reread (rows/s) | first / --reread (time) | peak memory import (MiB) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for &n in &sizes {
        let started = Instant::now();
        let rows = municipality_rows(n, 1);
        let xlsx = dir.path().join(format!("gemeente-{n}.xlsx"));
        let csv = dir.path().join(format!("gemeente-{n}.csv"));
        write_xlsx(&xlsx, "Deelnemers", &MUNICIPALITY_HEADERS, &rows).unwrap();
        write_csv(&csv, &MUNICIPALITY_HEADERS, &rows).unwrap();
        drop(rows);
        eprintln!(
            "generated {n} rows as XLSX ({:.0} MiB) and CSV ({:.0} MiB) in {:.1}s",
            mib(&xlsx),
            mib(&csv),
            started.elapsed().as_secs_f64()
        );
        for (format, file) in [("xlsx", &xlsx), ("csv", &csv)] {
            let read_secs = rt.block_on(read_alone(format, file, n));
            let mut dbs = vec![(
                "sqlite",
                format!(
                    "sqlite://{}/bench-{n}-{format}.db?mode=rwc",
                    dir.path().display()
                ),
                None,
            )];
            if let Some(base) = &pg {
                let schema = format!("bench_{n}_{format}");
                let url = rt.block_on(fresh_schema(base, &schema));
                dbs.push(("postgres", url, Some((base.clone(), schema))));
            }
            for (db_name, url, schema) in dbs {
                let first = import(bin, dir.path(), &url, format, file, &[]);
                let again = import(bin, dir.path(), &url, format, file, &[]);
                let reread = import(bin, dir.path(), &url, format, file, &["--reread"]);
                println!(
                    "| {n} | {format} | {db_name} | {:.0} | {:.0} | {:.2}× | {:.0} | {:.2}× | {:.0} | {:.2}× | {:.0} |",
                    n as f64 / read_secs,
                    n as f64 / first.0,
                    first.0 / read_secs,
                    n as f64 / again.0,
                    first.0 / again.0,
                    n as f64 / reread.0,
                    first.0 / reread.0,
                    first.1,
                );
                if let Some((base, schema)) = schema {
                    rt.block_on(drop_schema(&base, &schema));
                }
            }
        }
    }
}

fn mib(p: &Path) -> f64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0) as f64 / 1024.0 / 1024.0
}

/// Seconds the reader alone takes to deliver every row.
async fn read_alone(format: &str, file: &Path, n: usize) -> f64 {
    let reader = reader_for(format).unwrap();
    let started = Instant::now();
    let mut stream = reader.read(ReadInput {
        location: Location::Files(vec![file.to_path_buf()]),
        sheet: None,
        headers: HeaderHint {
            required: vec!["Klantnummer".into()],
            known: vec![],
        },
        limits: Default::default(),
        http: Default::default(),
    });
    let mut rows = 0;
    while let Some(e) = stream.recv().await {
        if let ReadEvent::Row(_) = e.unwrap() {
            rows += 1;
        }
    }
    assert_eq!(rows, n);
    started.elapsed().as_secs_f64()
}

/// Runs `werkbrug import` once; seconds and peak memory (MiB) as it reports them.
fn import(
    bin: &str,
    dir: &Path,
    url: &str,
    format: &str,
    file: &Path,
    extra: &[&str],
) -> (f64, f64) {
    let config = dir.join(format!("bench-{format}.toml"));
    std::fs::write(
        &config,
        format!(
            "[[source]]\nname = \"gemeente\"\nkind = \"municipality\"\norganisation = \"Gemeente Amsterdam\"\nformat = \"{format}\"\nlocation = \"{}\"\n",
            file.display()
        ),
    )
    .unwrap();
    let keys = "00000000000000000000000000000000000000000000000000000000000000ab";
    let started = Instant::now();
    let out = Command::new(bin)
        .current_dir(dir)
        .env("DATABASE_URL", url)
        .env("WERKBRUG_AUTH__SIGNING_KEY", keys)
        .env("WERKBRUG_PRIVACY__BSN_ENCRYPTION_KEY", keys)
        .env("WERKBRUG_PRIVACY__BSN_PSEUDONYM_KEY", keys)
        .env("RUST_LOG", "warn")
        .args(["--config", config.to_str().unwrap(), "import", "gemeente"])
        .args(extra)
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peak = stdout
        .lines()
        .find_map(|l| l.strip_prefix("peak memory: "))
        .and_then(|l| l.trim_end_matches(" MiB").parse().ok())
        .unwrap_or(f64::NAN);
    (secs, peak)
}

async fn fresh_schema(base: &str, schema: &str) -> String {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(base).await.unwrap();
    for sql in [
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        format!("CREATE SCHEMA {schema}"),
    ] {
        db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

async fn drop_schema(base: &str, schema: &str) {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(base).await.unwrap();
    db.execute_raw(Statement::from_string(
        db.get_database_backend(),
        format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
    ))
    .await
    .unwrap();
}
