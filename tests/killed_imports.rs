//! `werkbrug import` killed with SIGKILL at random moments, 20 times: after every kill the
//! database holds either what it held before the run or the whole run (never part of it), and
//! the next run completes with data equal to a clean import into a fresh database.
//!
//! The kills alternate between a first import into a fresh database (file A) and an import of a
//! changed export into a database holding A (file B: rows changed, removed and added, so rows are
//! updated and deactivated). The reference is a database that imported A, then B, without kills.
//! The comparison covers every table an import writes, with ids, run ids and timestamps left out
//! (foreign keys as the natural keys they point at).
//!
//! The delays come from a seeded generator; the seed is printed, and `KILL_SEED=n` repeats a
//! run. `KILL_ROWS` sets the file's size (default 2,500 rows), `KILL_COUNT` the number of kills.
//! Run with `-- --nocapture` to see where each kill landed.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::TestEnv;
use importers::fixtures::{MUNICIPALITY_HEADERS, municipality_rows, write_csv};
use model::entity::{
    candidate_profile, consent, import_run, organisation, person, person_identity, placement,
    rejected_row, sensitive_detail, source, source_record,
};
use rand::{Rng, SeedableRng};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, Statement,
};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_werkbrug");

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The `werkbrug import gemeente --file FILE` command against the database at `url`.
fn command(env: &TestEnv, url: &str, file: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(env.dir.path())
        .env_remove("WERKBRUG_CONFIG")
        .envs(env.binary_env())
        .env("DATABASE_URL", url)
        .args(["import", "gemeente", "--file"])
        .arg(file);
    c
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every table an import writes, each as sorted canonical rows.
type Dump = BTreeMap<&'static str, Vec<String>>;

/// The database's imported content, independent of ids, runs and clocks.
async fn dump(db: &DatabaseConnection) -> Dump {
    let orgs: HashMap<i64, String> = organisation::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.id, o.code))
        .collect();
    let records_list = source_record::Entity::find().all(db).await.unwrap();
    let records: HashMap<i64, String> = records_list
        .iter()
        .map(|r| (r.id, format!("{}:{}", r.source_id, r.source_key)))
        .collect();
    let persons_list = person::Entity::find().all(db).await.unwrap();
    let persons: HashMap<i64, String> = persons_list
        .iter()
        .map(|p| {
            let label = p.bsn_pseudonym.clone().unwrap_or_else(|| {
                let mut keys: Vec<&String> = records_list
                    .iter()
                    .filter(|r| r.person_id == Some(p.id))
                    .map(|r| &records[&r.id])
                    .collect();
                keys.sort();
                format!("records {keys:?}")
            });
            (p.id, label)
        })
        .collect();
    let canon = |v: Value| -> String {
        let Value::Object(map) = v else {
            panic!("a model serialises to an object")
        };
        let mut out = serde_json::Map::new();
        for (k, v) in map {
            let id = v.as_i64();
            let mapped = match k.as_str() {
                "id" | "import_run_id" | "created_at" | "updated_at" => continue,
                "person_id" => id.map_or(Value::Null, |i| persons[&i].clone().into()),
                "source_record_id" => id.map_or(Value::Null, |i| records[&i].clone().into()),
                k if k.ends_with("organisation_id") => {
                    id.map_or(Value::Null, |i| orgs[&i].clone().into())
                }
                // Sealed with a random nonce: equal content, different bytes.
                "bsn_encrypted" => Value::Bool(!v.is_null()),
                k if k.ends_with("_at") => Value::Bool(!v.is_null()),
                _ => v,
            };
            out.insert(k, mapped);
        }
        Value::Object(out).to_string()
    };
    let mut d = Dump::new();
    let mut put = |table: &'static str, rows: Vec<Value>| {
        let mut rows: Vec<String> = rows.into_iter().map(&canon).collect();
        rows.sort();
        d.insert(table, rows);
    };
    macro_rules! table {
        ($name:literal, $entity:path) => {{
            use $entity as e;
            let rows = e::Entity::find().all(db).await.unwrap();
            put(
                $name,
                rows.into_iter()
                    .map(|r| serde_json::to_value(r).unwrap())
                    .collect(),
            );
        }};
    }
    put(
        "person",
        persons_list
            .into_iter()
            .map(|p| serde_json::to_value(p).unwrap())
            .collect(),
    );
    put(
        "source_record",
        records_list
            .into_iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect(),
    );
    table!("organisation", organisation);
    table!("source", source);
    table!("person_identity", person_identity);
    table!("candidate_profile", candidate_profile);
    table!("sensitive_detail", sensitive_detail);
    table!("placement", placement);
    table!("consent", consent);
    table!("rejected_row", rejected_row);
    d
}

/// Rows per table, for a quick look after a kill (a full dump takes seconds in a debug build).
async fn counts(db: &DatabaseConnection) -> BTreeMap<&'static str, u64> {
    let mut c = BTreeMap::new();
    macro_rules! count {
        ($($name:literal: $entity:path),*) => {$({
            use $entity as e;
            c.insert($name, e::Entity::find().count(db).await.unwrap());
        })*};
    }
    count!(
        "person": person,
        "source_record": source_record,
        "organisation": organisation,
        "source": source,
        "person_identity": person_identity,
        "candidate_profile": candidate_profile,
        "sensitive_detail": sensitive_detail,
        "placement": placement,
        "consent": consent,
        "rejected_row": rejected_row
    );
    c
}

/// Waits until the killed process's session has ended on the server. On PostgreSQL its backend
/// outlives the process: a `COMMIT` sent just before the kill completes after it, and tables
/// counted one by one meanwhile would show part of a run that is, in fact, whole.
async fn settled(db: &DatabaseConnection) {
    if db.get_database_backend() != DbBackend::Postgres {
        return;
    }
    let busy = Statement::from_string(
        DbBackend::Postgres,
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
         AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'",
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let row = db.query_one_raw(busy.clone()).await.unwrap().unwrap();
        if row.try_get::<i64>("", "n").unwrap() == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the killed import's session is still busy after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Rows per table of a dump.
fn counts_of(d: &Dump) -> BTreeMap<&'static str, u64> {
    d.iter().map(|(t, r)| (*t, r.len() as u64)).collect()
}

/// A short fingerprint of a dump for the log: rows per table and a hash of all rows.
fn fingerprint(d: &Dump) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    d.hash(&mut h);
    let counts: Vec<String> = d.iter().map(|(t, r)| format!("{t} {}", r.len())).collect();
    format!("{} (hash {:016x})", counts.join(", "), h.finish())
}

/// Asserts two dumps are equal, naming the first table and row that differ.
fn same(what: &str, got: &Dump, want: &Dump) {
    for (table, rows) in want {
        let g = &got[table];
        if g != rows {
            let first = rows
                .iter()
                .zip(g.iter())
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("\n want: {a}\n  got: {b}"))
                .unwrap_or_default();
            panic!(
                "{what}: table {table} differs ({} rows, want {}){first}",
                g.len(),
                rows.len()
            );
        }
    }
}

/// File A: `rows` municipality rows. File B: every 7th row changed, every 13th removed, and
/// `rows / 20` new rows.
fn files(dir: &Path, rows: usize) -> (PathBuf, PathBuf) {
    let a_rows = municipality_rows(rows, 20);
    let mut b_rows: Vec<Vec<String>> = a_rows
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 13 != 5)
        .map(|(i, r)| {
            let mut r = r.clone();
            if i % 7 == 0 {
                r[15] = "36".into(); // Uren beschikbaar
                r[18] = "kassa; magazijn".into(); // Vaardigheden
            }
            r
        })
        .collect();
    let extra = municipality_rows(rows + rows / 20, 21);
    b_rows.extend(extra.into_iter().skip(rows));
    let a = dir.join("gemeente-a.csv");
    let b = dir.join("gemeente-b.csv");
    write_csv(&a, &MUNICIPALITY_HEADERS, &a_rows).unwrap();
    write_csv(&b, &MUNICIPALITY_HEADERS, &b_rows).unwrap();
    (a, b)
}

/// Where a kill landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Landed {
    /// Before the run row existed: start-up, configuration, connecting.
    BeforeRun,
    /// While the run was going: nothing of it is visible.
    MidRun,
    /// After the run committed: all of it is visible and the run says it succeeded.
    AfterCommit,
    /// The run had finished before the kill.
    Finished,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_imports_leave_no_half_run_and_the_next_run_equals_a_clean_import() {
    let rows = env_number("KILL_ROWS", 2_500) as usize;
    let kills = env_number("KILL_COUNT", 20);
    let seed = env_number("KILL_SEED", rand::random::<u32>() as u64);
    println!(
        "killed imports on {}: seed {seed} (repeat with KILL_SEED={seed}), {rows} rows, {kills} kills",
        common::backend()
    );
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    // The reference: A, then B, into a fresh database without kills.
    let env = TestEnv::migrated().await;
    std::fs::write(
        env.dir.path().join("werkbrug.toml"),
        "[[source]]\nname = \"gemeente\"\nkind = \"municipality\"\norganisation = \"Gemeente Amsterdam\"\nformat = \"csv\"\nlocation = \"gemeente-a.csv\"\n",
    )
    .unwrap();
    let (a, b) = files(env.dir.path(), rows);
    let started = Instant::now();
    ok(&command(&env, &env.url, &a).output().unwrap());
    let clean = started.elapsed();
    let want_a = dump(&env.db).await;
    let started = Instant::now();
    ok(&command(&env, &env.url, &b).output().unwrap());
    let clean_b = started.elapsed();
    let started = Instant::now();
    let want_b = dump(&env.db).await;
    println!(
        "clean import of A took {:.2} s, of B after A {:.2} s, a dump {:.2} s\n A: {}\n B: {}",
        clean.as_secs_f64(),
        clean_b.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        fingerprint(&want_a),
        fingerprint(&want_b)
    );
    assert_eq!(
        want_a["source_record"].len(),
        rows,
        "every row of A is a source record"
    );

    let mut landed: BTreeMap<Landed, u32> = BTreeMap::new();
    let mut victim: Option<common::OtherDatabase> = None;
    for i in 0..kills {
        let (file, want) = if i % 2 == 0 {
            if let Some(v) = victim.take() {
                v.cleanup().await;
            }
            let fresh = env.another_database(&format!("victim{i}")).await;
            // The source's row, as `werkbrug import` writes it before any run; with it in place
            // a kill that lands before the run starts changes nothing at all.
            importers::Importer::new(
                fresh.db.clone(),
                env.protector.clone(),
                importers::ImportConfig::default(),
                vec![importers::SourceConfig {
                    name: "gemeente".into(),
                    kind: "municipality".into(),
                    organisation: "Gemeente Amsterdam".into(),
                    format: "csv".into(),
                    location: "gemeente-a.csv".into(),
                    ..Default::default()
                }],
            )
            .sync_sources()
            .await
            .unwrap();
            victim = Some(fresh);
            (&a, &want_a)
        } else {
            (&b, &want_b)
        };
        let v = victim.as_ref().unwrap();
        let iteration = Instant::now();
        // A fresh database, or one that holds A (checked at the end of the last iteration).
        let before = if i % 2 == 0 {
            dump(&v.db).await
        } else {
            want_a.clone()
        };
        let runs_before = import_run::Entity::find().count(&v.db).await.unwrap();

        // Up to 10% past the clean import's time, so that a few kills come after the end.
        let delay = Duration::from_secs_f64(rng.gen_range(0.0..clean.as_secs_f64() * 1.1));
        let mut child = command(&env, &v.url, file)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(delay).await;
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok();
        child.wait().unwrap();

        // Counts tell whether anything of the run is visible; a run that committed is then
        // compared in full.
        settled(&v.db).await;
        let after = counts(&v.db).await;
        let runs = import_run::Entity::find().all(&v.db).await.unwrap();
        let run = runs
            .iter()
            .max_by_key(|r| r.id)
            .filter(|_| runs.len() as u64 > runs_before);
        let where_ = if after == counts_of(&before) {
            assert!(
                run.is_none_or(|r| r.status == "running"),
                "kill {i}: nothing committed, yet the run says {:?}",
                run.map(|r| &r.status)
            );
            if run.is_some() {
                Landed::MidRun
            } else {
                Landed::BeforeRun
            }
        } else {
            assert_eq!(
                after,
                counts_of(want),
                "kill {i}: a killed run left part of itself"
            );
            same(
                &format!("kill {i}: a killed run left part of itself"),
                &dump(&v.db).await,
                want,
            );
            let run = run.expect("a committed run has a run row");
            assert_eq!(
                run.status, "succeeded",
                "kill {i}: a committed run is marked succeeded in the same transaction"
            );
            if finished {
                Landed::Finished
            } else {
                Landed::AfterCommit
            }
        };
        *landed.entry(where_).or_default() += 1;

        // The next run completes, and the data equals the clean import.
        let next = Instant::now();
        ok(&command(&env, &v.url, file).output().unwrap());
        let next = next.elapsed();
        same(
            &format!("kill {i}: the run after it"),
            &dump(&v.db).await,
            want,
        );
        let runs = import_run::Entity::find().all(&v.db).await.unwrap();
        let last = runs.iter().max_by_key(|r| r.id).unwrap();
        assert_eq!(last.status, "succeeded");
        assert!(
            runs.iter().all(|r| r.status != "running"),
            "kill {i}: the killed run is marked interrupted"
        );
        println!(
            "kill {i:2}: file {} after {:5.0} ms: {where_:?} (next run {:.1} s, iteration {:.1} s)",
            if i % 2 == 0 { "A" } else { "B" },
            delay.as_secs_f64() * 1000.0,
            next.as_secs_f64(),
            iteration.elapsed().as_secs_f64()
        );
    }
    println!("where the {kills} kills landed: {landed:?}");
    if let Some(v) = victim {
        v.cleanup().await;
    }
    env.cleanup().await;
}
