//! Imports end to end: generated XLSX and CSV files through the real `werkbrug import` command
//! into a real database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`): linking across
//! sources, rejected rows, idempotent re-imports, removed rows, failed runs that change nothing,
//! a killed import, and schedulers that share one database.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::TestEnv;
use importers::fixtures::{
    MUNICIPALITY_HEADERS, SOCIAL_FIRM_HEADERS, municipality_rows, write_csv, write_xlsx,
};
use importers::turn::Turn;
use model::entity::{
    candidate_profile, import_run, person, person_identity, placement, rejected_row,
    sensitive_detail, source_record,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

const BIN: &str = env!("CARGO_BIN_EXE_werkbrug");

/// A BSN whose leading zero a spreadsheet drops (`12345672`).
const ZERO_BSN: &str = "012345672";

fn write_config(env: &TestEnv, sources: &str) -> PathBuf {
    let path = env.dir.path().join("werkbrug.toml");
    std::fs::write(&path, sources).unwrap();
    path
}

fn sources_toml(dir: &Path) -> String {
    format!(
        r#"
[[source]]
name = "gemeente"
kind = "municipality"
organisation = "Gemeente Amsterdam"
format = "xlsx"
location = "{0}/gemeente.xlsx"

[[source]]
name = "pantar"
kind = "social_firm"
organisation = "Pantar"
format = "csv"
location = "{0}/pantar/*.csv"
"#,
        dir.display()
    )
}

/// The `werkbrug` command in the test's folder, on its database.
fn werkbrug(env: &TestEnv) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(env.dir.path())
        .env_remove("WERKBRUG_CONFIG")
        .envs(env.binary_env());
    command
}

fn import(env: &TestEnv, args: &[&str]) -> Output {
    werkbrug(env).arg("import").args(args).output().unwrap()
}

/// A migrated database and the two sources' configuration, with a 20-row municipality
/// workbook (one invalid BSN).
async fn with_gemeente_workbook() -> TestEnv {
    let env = TestEnv::migrated().await;
    let dir = env.dir.path();
    write_config(&env, &sources_toml(dir));
    write_xlsx(
        &dir.join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &municipality_fixture(20),
    )
    .unwrap();
    env
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Row counts of every data table, to show a failed run changed nothing.
async fn data_counts(env: &TestEnv) -> Vec<u64> {
    vec![
        person::Entity::find().count(&env.db).await.unwrap(),
        person_identity::Entity::find()
            .count(&env.db)
            .await
            .unwrap(),
        candidate_profile::Entity::find()
            .count(&env.db)
            .await
            .unwrap(),
        sensitive_detail::Entity::find()
            .count(&env.db)
            .await
            .unwrap(),
        placement::Entity::find().count(&env.db).await.unwrap(),
        source_record::Entity::find().count(&env.db).await.unwrap(),
        rejected_row::Entity::find().count(&env.db).await.unwrap(),
    ]
}

fn municipality_fixture(n: usize) -> Vec<Vec<String>> {
    let mut rows = municipality_rows(n, 42);
    rows[0][1] = ZERO_BSN.into();
    rows[9][1] = "123456789".into(); // fails the eleven-test
    rows
}

/// The social firm's export row `i` for the person of municipality row `r`: same BSN, name,
/// start date and hours, line 3.
fn firm_row(i: usize, r: &[String]) -> Vec<String> {
    let mut row = vec![String::new(); SOCIAL_FIRM_HEADERS.len()];
    row[0] = format!("P{i:06}");
    row[1] = r[1].clone();
    row[2] = format!("{} {}", r[2], r[4]);
    row[4] = "3".into();
    row[7] = r[10].clone();
    row[9] = r[15].clone();
    row
}

/// What a run left: every source record (key, hash, active, person, file, row, and whether
/// this run saw it) and the rows it rejected (row, column, reason, raw values).
async fn run_state(env: &TestEnv, run_id: i64) -> (Vec<String>, Vec<String>) {
    let records = source_record::Entity::find()
        .order_by_asc(source_record::Column::Id)
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {} {} {:?} {:?} {:?} {}",
                r.source_key,
                r.content_hash,
                r.active,
                r.person_id,
                r.file,
                r.row_number,
                r.import_run_id == run_id
            )
        })
        .collect();
    let rejected = rejected_row::Entity::find()
        .filter(rejected_row::Column::ImportRunId.eq(run_id))
        .order_by_asc(rejected_row::Column::Id)
        .all(&env.db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {:?} {:?} {} {}",
                r.row_number, r.file, r.column_name, r.reason, r.raw_values
            )
        })
        .collect();
    (records, rejected)
}

#[tokio::test]
async fn imports_link_reject_reimport_and_deactivate() {
    let env = TestEnv::migrated().await;
    let dir = env.dir.path();
    write_config(&env, &sources_toml(dir));
    let rows = municipality_fixture(50);
    write_xlsx(
        &dir.join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &rows,
    )
    .unwrap();

    let out = ok(&import(&env, &["gemeente"]));
    assert!(out.contains("imported `gemeente`"), "{out}");
    let run = env.last_run().await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(
        (run.rows_read, run.rows_inserted, run.rows_rejected),
        (50, 49, 1)
    );
    // The invalid BSN is rejected with its row (title, blank and header rows come first) and
    // column, and stored without the value.
    let rejected = rejected_row::Entity::find().all(&env.db).await.unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].row_number, 13);
    assert_eq!(rejected[0].column_name.as_deref(), Some("BSN"));
    assert!(rejected[0].reason.contains("eleven-test"));
    assert_eq!(rejected[0].sheet.as_deref(), Some("Deelnemers"));
    let raw = rejected[0].raw_values.to_string();
    assert!(
        !raw.contains("123456789") && !raw.contains(&rows[9][4]),
        "{raw}"
    );
    assert!(out.contains("row 13, column `BSN`"), "{out}");
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 49);

    // A social firm knows the first person with the leading zero dropped: one person, two
    // records.
    std::fs::create_dir(dir.join("pantar")).unwrap();
    let firm_rows = vec![
        vec![
            "P001",
            "12345672",
            "Invented Name",
            "01-02-1980",
            "3e lijn",
            "schoonmaak",
            "Schoonmaak Amstelglans",
            "01-01-2025",
            "31-12-2026",
            "32",
            "60%",
            "punctueel",
            "taal",
            "heftruck",
            "Ja",
        ],
        vec![
            "P002",
            "",
            "Other Name",
            "1990-05-06",
            "4",
            "groen",
            "",
            "2024-03-01",
            "",
            "24",
            "45",
            "",
            "",
            "",
            "Nee",
        ],
    ]
    .into_iter()
    .map(|r| r.into_iter().map(String::from).collect())
    .collect::<Vec<Vec<String>>>();
    write_csv(
        &dir.join("pantar/export.csv"),
        &SOCIAL_FIRM_HEADERS,
        &firm_rows,
    )
    .unwrap();
    ok(&import(&env, &["pantar"]));
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 50);
    let records = source_record::Entity::find()
        .order_by_asc(source_record::Column::Id)
        .all(&env.db)
        .await
        .unwrap();
    let first = records.iter().find(|r| r.source_key == "K0000001").unwrap();
    let firm = records.iter().find(|r| r.source_key == "P001").unwrap();
    assert_eq!(first.person_id, firm.person_id, "same BSN, one person");
    let pid = first.person_id.unwrap();
    // The newer observation (the firm) set the line; the municipality's skills remain, the
    // firm's replaced them where it had some.
    let profile = candidate_profile::Entity::find()
        .filter(candidate_profile::Column::PersonId.eq(pid))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(profile.line.as_deref(), Some("line_3"));
    assert_eq!(profile.skills, serde_json::json!(["heftruck"]));
    assert!(profile.district.is_some(), "kept from the municipality");
    let secondment = placement::Entity::find()
        .filter(placement::Column::SourceRecordId.eq(firm.id))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(secondment.kind, "secondment");
    // No clear BSN anywhere in provenance.
    for r in &records {
        assert!(
            !r.raw_values.to_string().contains("12345672"),
            "{}",
            r.raw_values
        );
        assert!(!r.source_key.contains("12345672"));
    }

    // Re-importing the unchanged file changes nothing. It is the file the last run read, so
    // nothing is read: that run's outcome is repeated — what reading every row again gives.
    let before = data_counts(&env).await;
    let out = ok(&import(&env, &["gemeente"]));
    assert!(out.contains("nothing read"), "{out}");
    let repeated = env.last_run().await;
    let figures = |run: &import_run::Model| {
        (
            run.rows_read,
            run.rows_inserted,
            run.rows_updated,
            run.rows_unchanged,
            run.rows_rejected,
            run.rows_deactivated,
        )
    };
    assert_eq!(figures(&repeated), (50, 0, 0, 49, 1, 0));
    let first = import_run::Entity::find()
        .filter(import_run::Column::Id.lt(repeated.id))
        .filter(import_run::Column::SourceId.eq(repeated.source_id))
        .order_by_desc(import_run::Column::Id)
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(repeated.repeats_run_id, Some(first.id));
    let mut after = data_counts(&env).await;
    after[6] -= 1; // the invalid row is rejected again, in this run
    assert_eq!(before, after);
    let repeated_state = run_state(&env, repeated.id).await;
    let out = ok(&import(&env, &["gemeente", "--reread"]));
    assert!(!out.contains("nothing read"), "{out}");
    let reread = env.last_run().await;
    assert_eq!(reread.repeats_run_id, None);
    assert_eq!(figures(&reread), figures(&repeated));
    assert_eq!(run_state(&env, reread.id).await, repeated_state);

    // A dry run of a changed file reports and writes nothing.
    let mut changed = rows.clone();
    changed.remove(5);
    changed[1][7] = "Noord".into();
    changed[1][15] = "12".into();
    write_xlsx(
        &dir.join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &changed,
    )
    .unwrap();
    let runs = import_run::Entity::find().count(&env.db).await.unwrap();
    let before = data_counts(&env).await;
    let out = ok(&import(&env, &["gemeente", "--dry-run"]));
    assert!(out.contains("nothing written"), "{out}");
    assert_eq!(
        import_run::Entity::find().count(&env.db).await.unwrap(),
        runs
    );
    assert_eq!(data_counts(&env).await, before);

    // The real run: one row changed, one removed (inactive, with its placement), none deleted.
    ok(&import(&env, &["gemeente"]));
    let run = env.last_run().await;
    assert_eq!(
        (
            run.rows_inserted,
            run.rows_updated,
            run.rows_unchanged,
            run.rows_deactivated
        ),
        (0, 1, 47, 1)
    );
    let removed = source_record::Entity::find()
        .filter(source_record::Column::SourceKey.eq(rows[5][0].clone()))
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    assert!(!removed.active && removed.deactivated_at.is_some());
    for p in placement::Entity::find()
        .filter(placement::Column::SourceRecordId.eq(removed.id))
        .all(&env.db)
        .await
        .unwrap()
    {
        assert!(!p.active);
    }
    assert_eq!(
        source_record::Entity::find().count(&env.db).await.unwrap(),
        records.len() as u64
    );
    env.cleanup().await;
}

#[tokio::test]
async fn a_file_that_cannot_be_read_fails_the_run_and_changes_nothing() {
    let env = with_gemeente_workbook().await;
    let dir = env.dir.path();
    ok(&import(&env, &["gemeente"]));
    let before = data_counts(&env).await;

    // A workbook over a configured limit (here any worksheet: 0 MiB): refused before it is
    // unpacked, naming the file, the part, the limit and its key, and what to do.
    let out = werkbrug(&env)
        .env("WERKBRUG_IMPORT__MAX_UNCOMPRESSED_MIB", "0")
        .args(["import", "gemeente"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "gemeente.xlsx: refused: part `xl/worksheets/sheet1.xml` unpacks to",
        "more than the limit of 0 bytes ([import] max_uncompressed_mib)",
        "raise [import] limits only for files you trust",
        "nothing was imported",
    ] {
        assert!(err.contains(needle), "{needle}: {err}");
    }
    assert_eq!(data_counts(&env).await, before);

    // Not a workbook at all.
    std::fs::write(dir.join("kapot.xlsx"), "dit is geen werkmap").unwrap();
    let out = import(&env, &["gemeente", "--file", "kapot.xlsx"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("kapot.xlsx") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(data_counts(&env).await, before);
    let run = env.last_run().await;
    assert_eq!(run.status, "failed");
    assert!(run.error.unwrap().contains("kapot.xlsx"));

    // A workbook without the key column: the error names the file and the column.
    let headers: Vec<&str> = MUNICIPALITY_HEADERS[1..].to_vec();
    let rows: Vec<Vec<String>> = municipality_fixture(12)
        .into_iter()
        .map(|r| r[1..].to_vec())
        .collect();
    write_xlsx(&dir.join("zonder-sleutel.xlsx"), "Blad1", &headers, &rows).unwrap();
    let out = import(&env, &["gemeente", "--file", "zonder-sleutel.xlsx"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zonder-sleutel.xlsx") && err.contains("Klantnummer"),
        "{err}"
    );
    assert!(!err.contains(&rows[0][0]), "no values in errors: {err}");
    assert_eq!(data_counts(&env).await, before);
    env.cleanup().await;
}

#[tokio::test]
async fn a_killed_import_leaves_the_database_consistent_and_the_next_run_completes() {
    let env = TestEnv::migrated().await;
    let dir = env.dir.path();
    write_config(&env, &sources_toml(dir));
    std::fs::create_dir(dir.join("pantar")).unwrap();
    // A large CSV so the run is still going when it is killed.
    let rows: Vec<Vec<String>> = municipality_rows(30_000, 7)
        .into_iter()
        .enumerate()
        .map(|(i, r)| firm_row(i, &r))
        .collect();
    write_csv(&dir.join("pantar/export.csv"), &SOCIAL_FIRM_HEADERS, &rows).unwrap();

    let mut child = werkbrug(&env).args(["import", "pantar"]).spawn().unwrap();
    // Wait until the run has started and written some batches, then kill it hard.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let running = import_run::Entity::find()
            .filter(import_run::Column::Status.eq("running"))
            .one(&env.db)
            .await
            .unwrap();
        if running.is_some() {
            tokio::time::sleep(Duration::from_millis(700)).await;
            break;
        }
        assert!(Instant::now() < deadline, "the import never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let finished_early = child.try_wait().unwrap().is_some();
    child.kill().ok();
    child.wait().unwrap();
    assert!(
        !finished_early,
        "the import finished before it was killed; make the file larger"
    );
    // Nothing of the killed run is visible.
    assert_eq!(
        source_record::Entity::find().count(&env.db).await.unwrap(),
        0
    );
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 0);

    // The next run completes and equals a clean import.
    ok(&import(&env, &["pantar"]));
    let run = env.last_run().await;
    assert_eq!(run.status, "succeeded");
    assert_eq!(
        source_record::Entity::find().count(&env.db).await.unwrap(),
        30_000
    );
    let killed = import_run::Entity::find()
        .order_by_asc(import_run::Column::Id)
        .one(&env.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(killed.status, "failed");
    assert!(killed.error.unwrap().contains("interrupted"));
    env.cleanup().await;
}

#[tokio::test]
async fn two_schedulers_on_one_database_run_a_source_once_per_tick() {
    let env = TestEnv::migrated().await;
    let dir = env.dir.path();
    write_xlsx(
        &dir.join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &municipality_fixture(10),
    )
    .unwrap();
    let mut sources: Vec<importers::SourceConfig> = vec![];
    let cfg: toml::Table = sources_toml(dir).parse().unwrap();
    for s in cfg["source"].as_array().unwrap() {
        sources.push(s.clone().try_into().unwrap());
    }
    sources[0].schedule = Some("*/2 * * * * *".into());
    sources.truncate(1);
    let instance = |db| {
        importers::Importer::new(
            db,
            env.protector.clone(),
            importers::ImportConfig::default(),
            sources.clone(),
        )
    };
    let a = instance(env.db.clone());
    a.sync_sources().await.unwrap();
    // The second instance has its own connection pool, as another process would.
    let mut opts = sea_orm::ConnectOptions::new(env.url.clone());
    opts.sqlx_logging(false);
    let b = instance(sea_orm::Database::connect(opts).await.unwrap());

    let ha = importers::scheduler::start(a).await.unwrap();
    let hb = importers::scheduler::start(b).await.unwrap();
    tokio::time::sleep(Duration::from_millis(6_500)).await;
    ha.shutdown().await;
    hb.shutdown().await;

    let runs = import_run::Entity::find()
        .filter(import_run::Column::Trigger.eq("schedule"))
        .all(&env.db)
        .await
        .unwrap();
    assert!(runs.len() >= 2, "ticks every 2 s for 6.5 s: {}", runs.len());
    let mut ticks: Vec<_> = runs.iter().map(|r| r.scheduled_for.unwrap()).collect();
    ticks.sort();
    ticks.dedup();
    assert_eq!(ticks.len(), runs.len(), "one run per tick: {runs:?}");
    assert!(runs.iter().all(|r| r.status == "succeeded"), "{runs:?}");
    env.cleanup().await;
}

/// An importer for the test's sources (the ones `sources_toml` describes).
fn importer(env: &TestEnv, db: sea_orm::DatabaseConnection) -> importers::Importer {
    let cfg: toml::Table = sources_toml(env.dir.path()).parse().unwrap();
    let sources = cfg["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.clone().try_into().unwrap())
        .collect();
    importers::Importer::new(
        db,
        env.protector.clone(),
        importers::ImportConfig::default(),
        sources,
    )
}

/// [`importer`] on the test's database, writing `batch_size` rows per batch.
fn importer_in_batches(env: &TestEnv, batch_size: usize) -> importers::Importer {
    importers::Importer::new(
        env.db.clone(),
        env.protector.clone(),
        importers::ImportConfig {
            batch_size,
            ..Default::default()
        },
        importer(env, env.db.clone()).sources().to_vec(),
    )
}

#[tokio::test]
async fn a_steward_queues_a_run_and_reads_its_rejected_rows() {
    use common::{post, send};
    let env = TestEnv::migrated().await;
    write_xlsx(
        &env.dir.path().join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &municipality_fixture(12),
    )
    .unwrap();
    let imp = importer(&env, env.db.clone());
    imp.sync_sources().await.unwrap();
    let app = server::app(env.state());
    let steward = env
        .token(model::Role::Steward, "gemeente-amsterdam", &[])
        .await;
    let r = send(
        &app,
        post(
            "mutation { runImport(source: \"gemeente\") { id status trigger } }",
            Some(&steward),
        ),
    )
    .await;
    assert_eq!(
        r.body["data"]["runImport"]["status"], "queued",
        "{}",
        r.text
    );
    let id = r.body["data"]["runImport"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The server never imports; a scheduler (any instance) picks the queued run up.
    importers::scheduler::run_queued(&imp, &tokio::sync::Mutex::new(()))
        .await
        .unwrap();
    let q = format!(
        "{{ importRun(id: \"{id}\") {{ status trigger rowsRead rowsInserted rowsRejected files rejectedRows {{ file sheet rowNumber column reason }} }} }}"
    );
    let r = send(&app, post(&q, Some(&steward))).await;
    let run = &r.body["data"]["importRun"];
    assert_eq!(run["status"], "succeeded", "{}", r.text);
    assert_eq!(run["trigger"], "manual");
    assert_eq!(
        (run["rowsRead"].as_i64(), run["rowsRejected"].as_i64()),
        (Some(12), Some(1))
    );
    let rejected = &run["rejectedRows"][0];
    assert_eq!(rejected["rowNumber"], 13);
    assert_eq!(rejected["column"], "BSN");
    assert_eq!(rejected["sheet"], "Deelnemers");
    assert!(
        rejected["file"]
            .as_str()
            .unwrap()
            .ends_with("gemeente.xlsx")
    );

    // Other roles cannot queue runs, and an unknown source is named in the error.
    let partner = env
        .token(model::Role::Partner, "gemeente-amsterdam", &[])
        .await;
    let r = send(
        &app,
        post(
            "mutation { runImport(source: \"gemeente\") { id } }",
            Some(&partner),
        ),
    )
    .await;
    assert!(r.body["data"].is_null(), "{}", r.text);
    let r = send(
        &app,
        post(
            "mutation { runImport(source: \"onbekend\") { id } }",
            Some(&steward),
        ),
    )
    .await;
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("configured sources: gemeente"),
        "{}",
        r.text
    );
    env.cleanup().await;
}

#[tokio::test]
async fn a_missed_tick_is_caught_up_once_at_start_up() {
    let env = TestEnv::migrated().await;
    write_xlsx(
        &env.dir.path().join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &municipality_fixture(12),
    )
    .unwrap();
    let mut imp = importer(&env, env.db.clone());
    let mut sources = imp.sources().to_vec();
    sources[0].schedule = Some("0 0 6 * * *".into());
    sources[0].catch_up = true;
    imp = importers::Importer::new(
        env.db.clone(),
        env.protector.clone(),
        importers::ImportConfig::default(),
        sources,
    );
    imp.sync_sources().await.unwrap();
    let handle = importers::scheduler::start(imp.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let run = loop {
        let done = import_run::Entity::find()
            .filter(import_run::Column::Status.eq("succeeded"))
            .one(&env.db)
            .await
            .unwrap();
        if let Some(run) = done {
            break run;
        }
        assert!(Instant::now() < deadline, "no catch-up run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    handle.shutdown().await;
    assert_eq!(run.trigger, "schedule");
    let tick = run
        .scheduled_for
        .unwrap()
        .with_timezone(&chrono_tz::Europe::Amsterdam);
    assert_eq!(tick.format("%H:%M:%S").to_string(), "06:00:00");
    // A second start finds the tick done and runs nothing.
    let handle = importers::scheduler::start(imp).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    handle.shutdown().await;
    assert_eq!(import_run::Entity::find().count(&env.db).await.unwrap(), 1);
    env.cleanup().await;
}

#[tokio::test]
async fn a_key_twice_in_one_file_is_rejected_the_second_time() {
    let env = TestEnv::migrated().await;
    let mut rows = municipality_fixture(12);
    rows[3][0] = rows[1][0].clone(); // same batch as row 1
    rows[8][0] = rows[2][0].clone(); // a later batch
    write_xlsx(
        &env.dir.path().join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &rows,
    )
    .unwrap();
    let imp = importer_in_batches(&env, 3);
    imp.sync_sources().await.unwrap();
    let summary = imp
        .run("gemeente", importers::Trigger::Command, Default::default())
        .await
        .unwrap();
    assert_eq!(summary.counts.rejected, 3, "{:?}", summary.rejections);
    assert_eq!(summary.counts.inserted, 9);
    let reasons: Vec<(u64, String)> = summary
        .rejections
        .iter()
        .map(|(_, row, _, reason)| (*row, reason.clone()))
        .collect();
    // Data starts on spreadsheet row 4: rows[3] is row 7, rows[8] is row 12.
    assert!(
        reasons.contains(&(
            7,
            "the same key appears on row 5; each key may appear once per run".into()
        )),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&(
            12,
            "the same key appears on row 6; each key may appear once per run".into()
        )),
        "{reasons:?}"
    );
    env.cleanup().await;
}

/// A long run on PostgreSQL refreshes the statistics of the columns its lookups filter on
/// (`ANALYZE_LOOKUP_COLUMNS`, from twenty batches on), and only those.
#[tokio::test]
async fn a_long_run_refreshes_the_lookups_statistics_on_postgresql() {
    use sea_orm::ConnectionTrait;
    if common::backend() != "postgres" {
        return;
    }
    let env = TestEnv::migrated().await;
    write_xlsx(
        &env.dir.path().join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &municipality_fixture(45),
    )
    .unwrap();
    let imp = importer_in_batches(&env, 1);
    imp.sync_sources().await.unwrap();
    let summary = imp
        .run("gemeente", importers::Trigger::Command, Default::default())
        .await
        .unwrap();
    // The fixture holds one row with an invalid BSN.
    assert_eq!(summary.counts.read, 45);
    assert_eq!(summary.counts.inserted, 44, "{:?}", summary.rejections);
    let analyzed = |table: &'static str, column: &'static str| {
        let db = env.db.clone();
        async move {
            db.query_one_raw(sea_orm::Statement::from_sql_and_values(
                db.get_database_backend(),
                "SELECT count(*) FROM pg_stats WHERE schemaname = current_schema() \
                 AND tablename = $1 AND attname = $2",
                [table.into(), column.into()],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<i64>(0)
            .unwrap()
                > 0
        }
    };
    assert!(analyzed("source_record", "source_key").await);
    assert!(analyzed("person", "bsn_pseudonym").await);
    assert!(!analyzed("source_record", "raw_values").await);
    assert!(!analyzed("candidate_profile", "skills").await);
    env.cleanup().await;
}

/// Holds the import turn as a running import would: the lock file on SQLite, the advisory lock
/// in a transaction on PostgreSQL (see `importers::turn`).
async fn take_turn(
    env: &TestEnv,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(Turn, sea_orm::DatabaseTransaction), importers::ImportError> {
    use sea_orm::TransactionTrait;
    let turn = Turn::take(&env.db, stop.clone(), "test").await?;
    let txn = env.db.begin().await.unwrap();
    Turn::lock_transaction(&txn, &env.db, stop, "test", None).await?;
    Ok((turn, txn))
}

#[tokio::test]
async fn an_import_waits_while_another_writes_and_then_completes() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let env = with_gemeente_workbook().await;
    let (_stop, never) = tokio::sync::watch::channel(false);
    let (turn, txn) = take_turn(&env, never).await.unwrap();

    let mut child = werkbrug(&env)
        .env("RUST_LOG", "info")
        .args(["import", "gemeente"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (said, heard) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if line.contains("waits for it to finish") {
                said.send(()).ok();
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    heard
        .recv_timeout(Duration::from_secs(60))
        .expect("the import says it waits for the other run");
    // Still waiting a moment later, and nothing of it written: not even its run row on SQLite,
    // where every write waits for the writer.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(child.try_wait().unwrap().is_none(), "the import waits");
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 0);
    let written = import_run::Entity::find()
        .filter(import_run::Column::Status.eq("succeeded"))
        .count(&env.db)
        .await
        .unwrap();
    assert_eq!(written, 0);

    // The other run ends: this one takes its turn and completes.
    txn.rollback().await.unwrap();
    drop(turn);
    let status = child.wait().unwrap();
    let stderr = log.join().unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("turn to write"), "{stderr}");
    let run = env.last_run().await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!((run.rows_read, run.rows_inserted), (20, 19));
    assert_eq!(person::Entity::find().count(&env.db).await.unwrap(), 19);
    env.cleanup().await;
}

#[tokio::test]
async fn a_run_waiting_for_its_turn_stops_when_the_server_does() {
    let env = TestEnv::migrated().await;
    let (_stop, never) = tokio::sync::watch::channel(false);
    let held = take_turn(&env, never).await.unwrap();
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let (result, ()) = tokio::join!(take_turn(&env, stopping), async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        stop.send_replace(true);
    });
    assert!(
        matches!(result, Err(importers::ImportError::Stopped)),
        "{result:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(600));
    drop(held);
    // Free again: the next run takes the turn at once.
    let (_stop, never) = tokio::sync::watch::channel(false);
    take_turn(&env, never).await.unwrap();
    env.cleanup().await;
}

#[tokio::test]
async fn two_imports_of_the_same_persons_at_once_both_complete() {
    let env = TestEnv::migrated().await;
    let dir = env.dir.path();
    // Small batches, so that both runs are writing persons long before either commits.
    write_config(
        &env,
        &format!("[import]\nbatch_size = 50\n{}", sources_toml(dir)),
    );
    std::fs::create_dir(dir.join("pantar")).unwrap();
    // The same 3,000 persons, in opposite orders: two transactions writing them at once would
    // each wait for the other's person rows (PostgreSQL fails one of them as a deadlock).
    let rows = municipality_rows(3_000, 11);
    write_xlsx(
        &dir.join("gemeente.xlsx"),
        "Deelnemers",
        &MUNICIPALITY_HEADERS,
        &rows,
    )
    .unwrap();
    let firm: Vec<Vec<String>> = rows
        .iter()
        .rev()
        .enumerate()
        .map(|(i, r)| firm_row(i, r))
        .collect();
    write_csv(&dir.join("pantar/export.csv"), &SOCIAL_FIRM_HEADERS, &firm).unwrap();
    // The database as werkbrug leaves it (write-ahead log on SQLite), as before any import.
    ok(&werkbrug(&env).arg("migrate").output().unwrap());
    let spawn = |source: &str| {
        werkbrug(&env)
            .args(["import", source])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn("gemeente"), spawn("pantar"));
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let persons = person::Entity::find().count(&env.db).await.unwrap();
    assert_eq!(persons, 3_000, "one person per BSN across both sources");
    let runs = import_run::Entity::find()
        .filter(import_run::Column::Status.eq("succeeded"))
        .count(&env.db)
        .await
        .unwrap();
    assert_eq!(runs, 2);
    env.cleanup().await;
}

/// A database error in an import's message says what the database said and its code, not
/// where in the database server's source the error was raised ("at line 1147", which reads
/// like a row of the file).
#[tokio::test]
async fn a_database_error_reads_as_the_database_said_it() {
    use sea_orm::{ConnectionTrait, Statement};
    let env = TestEnv::migrated().await;
    let refused = env
        .db
        .query_all_raw(Statement::from_string(
            env.db.get_database_backend(),
            "SELECT * FROM no_such_table",
        ))
        .await
        .unwrap_err();
    let message = importers::ImportError::Database(refused).to_string();
    assert!(!message.contains(" at line"), "{message}");
    insta::assert_snapshot!(format!("database_error_{}", common::backend()), message);
    env.cleanup().await;
}

/// On SQLite a scheduled tick that comes while another process imports for longer than the
/// busy timeout (5 s) waits for that import and then runs, instead of failing to claim the tick.
#[tokio::test]
async fn a_tick_during_another_process_import_waits_for_it_on_sqlite() {
    use chrono::SubsecRound;
    if common::backend() != "sqlite" {
        return; // PostgreSQL's claim does not wait for an import's transaction.
    }
    let env = with_gemeente_workbook().await;
    let importer = importer(&env, env.db.clone());
    importer.sync_sources().await.unwrap();
    // The other process's import: its turn, and SQLite's write lock.
    let (_stop, never) = tokio::sync::watch::channel(false);
    let turn = Turn::take(&env.db, never, "other").await.unwrap();
    let writing = model::db::begin_write(&env.db).await.unwrap();
    let tick = chrono::Utc::now().round_subsecs(0);
    let lock = tokio::sync::Mutex::new(());
    let started = Instant::now();
    let ((), ()) = tokio::join!(
        importers::scheduler::run_tick(&importer, "gemeente", tick, &lock),
        async {
            tokio::time::sleep(Duration::from_secs(7)).await;
            writing.rollback().await.unwrap();
            drop(turn);
        }
    );
    assert!(started.elapsed() >= Duration::from_secs(7));
    let run = env.last_run().await;
    assert_eq!(run.status, "succeeded", "{:?}", run.error);
    assert_eq!(run.scheduled_for, Some(tick));
    assert_eq!((run.rows_read, run.rows_inserted), (20, 19));
    env.cleanup().await;
}

/// On SQLite, a lock file that cannot be opened (here a folder stands in its place) fails the
/// import before it writes anything, naming the file and what to check.
#[tokio::test]
async fn an_unusable_turn_lock_file_fails_the_import_and_writes_nothing() {
    if common::backend() != "sqlite" {
        return; // PostgreSQL's turn is an advisory lock, not a file.
    }
    let env = with_gemeente_workbook().await;
    let lock = env.dir.path().join("test.db-import.lock");
    std::fs::create_dir(&lock).unwrap();
    let before = data_counts(&env).await;
    let out = import(&env, &["gemeente"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot lock `{}`", lock.display()))
            && stderr.contains("check that the database's folder is writable"),
        "{stderr}"
    );
    assert_eq!(data_counts(&env).await, before);
    assert_eq!(import_run::Entity::find().count(&env.db).await.unwrap(), 0);
    env.cleanup().await;
}
