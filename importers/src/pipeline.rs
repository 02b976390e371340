//! One import run: reader → mapping → validation → linking → upsert, in one transaction.
//!
//! A run either commits everything it read (good rows upserted, bad rows stored as rejected rows
//! with their reason) or, when the input cannot be read at all, rolls back and leaves the database
//! as it was; the `import_run` row records the outcome either way.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, LazyLock};
use std::time::Instant;

use chrono::{DateTime, Utc};
use model::BsnProtector;
use model::entity::{
    consent, import_run, organisation, person, placement, rejected_row, source, source_record,
};
use sea_orm::Value;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    EntityTrait, IntoActiveModel, NotSet, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
    Statement,
};

use crate::config::{ImportConfig, SourceConfig, resolve_location};
use crate::error::ImportError;
use crate::preset::{ColumnIndex, Preset, Record, Rejection, Values, preset_for};
use crate::source::{Cell, HeaderHint, HttpInput, Location, ReadEvent, ReadInput, reader_for};
use crate::turn::Turn;
use crate::value;
use crate::write::{Insert, Writer, json, keep_known, plain};

/// The columns a run looks rows up by, for `ANALYZE` during a long run: their statistics and
/// their tables' sizes are what the lookups' plans need. The other tables and columns (an
/// insert's plan has no choice to make; a JSON column's statistics cost the most to gather) are
/// left to autovacuum: analyzing all of them was 7–8% of PostgreSQL's statement time per run.
const ANALYZE_LOOKUP_COLUMNS: &str = "ANALYZE source_record (source_id, source_key, active), \
     person (bsn_pseudonym), placement (source_record_id), \
     consent (person_id, audience, recorded_by, revoked_at), organisation (code)";

/// How a run was started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// By the schedule.
    Schedule,
    /// Through the API (`runImport`), queued.
    Manual,
    /// By `werkbrug import`.
    Command,
    /// By the bundled sample data (`werkbrug serve --demo`).
    Sample,
}

impl Trigger {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Schedule => "schedule",
            Trigger::Manual => "manual",
            Trigger::Command => "command",
            Trigger::Sample => "sample",
        }
    }
}

/// Counts of a run, also reported while it goes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Data rows read.
    pub read: i64,
    /// New source records.
    pub inserted: i64,
    /// Source records whose content changed.
    pub updated: i64,
    /// Source records seen again unchanged.
    pub unchanged: i64,
    /// Rows refused, stored with their reason.
    pub rejected: i64,
    /// Source records a full export no longer had, marked inactive.
    pub deactivated: i64,
}

/// What a finished run reports.
#[derive(Clone, Debug)]
pub struct RunSummary {
    /// The `import_run` row, `None` for a dry run.
    pub run_id: Option<i64>,
    /// The counts.
    pub counts: Counts,
    /// The files or URL read.
    pub files: Vec<String>,
    /// Seconds the run took.
    pub seconds: f64,
    /// The first rejected rows (up to 20): file, row, column and reason.
    pub rejections: Vec<RejectionNote>,
    /// The earlier run whose input this run found unchanged, so it read nothing and repeated
    /// that run's outcome.
    pub unchanged_since: Option<i64>,
}

/// What a run did: counts, files read, the first rejections, and the earlier run it repeated.
type Outcome = (Counts, Vec<String>, Vec<RejectionNote>, Option<i64>);

/// What a source said before about one key: enough to compare and link.
#[derive(Clone, Debug)]
struct Known {
    id: i64,
    person_id: Option<i64>,
    import_run_id: i64,
    content_hash: String,
    active: bool,
    row_number: Option<i64>,
}

/// A callback that receives the counts so far.
pub type Progress = Arc<dyn Fn(&Counts) + Send + Sync>;

/// A rejected row as the summary reports it: file, row number, column, reason.
pub type RejectionNote = (String, u64, Option<String>, String);

/// Options of one run.
#[derive(Clone, Default)]
pub struct RunOptions {
    /// Read this file (or URL) instead of the source's location.
    pub file: Option<String>,
    /// Validate and count only; write nothing.
    pub dry_run: bool,
    /// An `import_run` row already claimed for this run (queued or scheduled).
    pub run_id: Option<i64>,
    /// Read every row even when the files are those the last successful run read.
    pub reread: bool,
    /// Called after every batch with the counts so far.
    pub progress: Option<Progress>,
}

/// Runs imports against one database.
#[derive(Clone)]
pub struct Importer {
    db: DatabaseConnection,
    protector: BsnProtector,
    config: ImportConfig,
    sources: Vec<SourceConfig>,
    /// Set on shutdown: a run in progress rolls back at its next step (see [`Importer::stop`]).
    stop: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Importer {
    /// An importer for the configured sources.
    pub fn new(
        db: DatabaseConnection,
        protector: BsnProtector,
        config: ImportConfig,
        sources: Vec<SourceConfig>,
    ) -> Self {
        Self {
            db,
            protector,
            config,
            sources,
            stop: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }

    /// Stops runs of this importer (and its clones): a run in progress rolls back at its next
    /// step and its run row says it was stopped ([`ImportError::Stopped`]); no new run starts.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// Turns true when [`Importer::stop`] is called.
    pub fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Whether [`Importer::stop`] was called.
    pub fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// The database.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The configured sources.
    pub fn sources(&self) -> &[SourceConfig] {
        &self.sources
    }

    /// The `[import]` settings.
    pub fn config(&self) -> &ImportConfig {
        &self.config
    }

    /// Validates every source and writes it to the `source` table (by name), so runs, the API
    /// and the scheduler see the configuration. Writes only what changed: on SQLite a write
    /// waits for an import that another process is running. Two processes starting at once may
    /// both create a new source or supplier; the one that loses that race reads the winner's.
    pub async fn sync_sources(&self) -> Result<(), ImportError> {
        // Each lost race means the other process wrote that row: at most one per source and
        // supplier before every row is there.
        let mut attempts = 2 * self.sources.len() + 1;
        loop {
            attempts -= 1;
            match self.sync_sources_once().await {
                Err(ImportError::Database(e))
                    if attempts > 0
                        && matches!(
                            e.sql_err(),
                            Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                        ) => {}
                other => return other,
            }
        }
    }

    async fn sync_sources_once(&self) -> Result<(), ImportError> {
        let now = Utc::now();
        for cfg in &self.sources {
            cfg.validate()?;
            let preset = preset_for(&cfg.kind).expect("validated");
            let org = match find_organisation(&self.db, &cfg.organisation).await? {
                Some(org) => org,
                // A supplier named for the first time is created, of the kind its preset implies.
                None => {
                    organisation::ActiveModel {
                        name: Set(cfg.organisation.trim().to_owned()),
                        code: Set(slug(&cfg.organisation)),
                        kind: Set(preset.organisation_kind().as_str().to_owned()),
                        created_at: Set(now),
                        updated_at: Set(now),
                        ..Default::default()
                    }
                    .insert(&self.db)
                    .await?
                }
            };
            let existing = source::Entity::find()
                .filter(source::Column::Name.eq(&cfg.name))
                .one(&self.db)
                .await?;
            let mut am = match existing {
                Some(m) => m.into_active_model(),
                None => source::ActiveModel {
                    id: NotSet,
                    name: Set(cfg.name.clone()),
                    created_at: Set(now),
                    updated_since: Set(None),
                    ..Default::default()
                },
            };
            am.kind.set_if_not_equals(cfg.kind.clone());
            am.organisation_id.set_if_not_equals(org.id);
            am.format.set_if_not_equals(cfg.format.clone());
            am.location.set_if_not_equals(cfg.location.clone());
            am.schedule.set_if_not_equals(cfg.schedule.clone());
            am.catch_up.set_if_not_equals(cfg.catch_up);
            am.full_export.set_if_not_equals(preset.full_export());
            if am.is_changed() {
                am.updated_at = Set(now);
                am.save(&self.db).await?;
            }
        }
        Ok(())
    }

    /// The configuration of a source by name.
    pub fn source_config(&self, name: &str) -> Result<&SourceConfig, ImportError> {
        self.sources.iter().find(|s| s.name == name).ok_or_else(|| {
            ImportError::UnknownSource(
                name.to_owned(),
                self.sources
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })
    }

    /// Runs one import of `name`. On success the counts are committed; on failure nothing of the
    /// run's rows is, and the run row says why.
    #[tracing::instrument(skip(self, options), fields(source = %name, dry_run = options.dry_run))]
    pub async fn run(
        &self,
        name: &str,
        trigger: Trigger,
        options: RunOptions,
    ) -> Result<RunSummary, ImportError> {
        let cfg = self.source_config(name)?.clone();
        cfg.validate()?;
        let src = source::Entity::find()
            .filter(source::Column::Name.eq(&cfg.name))
            .one(&self.db)
            .await?
            .ok_or_else(|| ImportError::Config {
                source_name: cfg.name.clone(),
                what: "not synchronised to the database; run `werkbrug migrate` and try again"
                    .into(),
            })?;
        // Runs write one at a time (see `turn`); on SQLite even the run row waits for it.
        let _turn = match Turn::take(&self.db, self.stop.subscribe(), &cfg.name).await {
            Ok(turn) => turn,
            Err(e) => {
                // A claimed run's row says why; should that write fail too (SQLite, still
                // busy), the row is found stale later and marked interrupted.
                if let Some(id) = options.run_id {
                    let (error, none) = (e.to_string(), Counts::default());
                    let recorded = Self::finish_run(&self.db, id, &none, &[], Some(&error));
                    if let Err(not) = recorded.await {
                        tracing::warn!(run = id, error = %not, "cannot record the run's end");
                    }
                }
                crate::events::run_failed(&cfg.name, options.run_id, &e, 0.0);
                return Err(e);
            }
        };
        // The run's time (and rows/s) starts with its turn: the wait is logged on its own.
        let started = Instant::now();
        let run_id = if options.dry_run {
            None
        } else {
            Some(self.start_run(&src, trigger, options.run_id).await?)
        };
        crate::events::run_started(&cfg.name, run_id, trigger);
        let result = self.execute(&cfg, &src, run_id, &options).await;
        let seconds = started.elapsed().as_secs_f64();
        match result {
            // The run row was marked succeeded inside the run's transaction (see `execute`).
            Ok((counts, files, rejections, unchanged_since)) => {
                crate::events::run_finished(&cfg.name, run_id, &counts, seconds);
                Ok(RunSummary {
                    run_id,
                    counts,
                    files,
                    seconds,
                    rejections,
                    unchanged_since,
                })
            }
            Err(e) => {
                if let Some(id) = run_id {
                    Self::finish_run(&self.db, id, &Counts::default(), &[], Some(&e.to_string()))
                        .await?;
                }
                crate::events::run_failed(&cfg.name, run_id, &e, seconds);
                Err(e)
            }
        }
    }

    /// Creates (or claims) the run row. A run of the same source still marked running is
    /// refused while it shows signs of life; one whose worker died is marked interrupted.
    async fn start_run(
        &self,
        src: &source::Model,
        trigger: Trigger,
        claimed: Option<i64>,
    ) -> Result<i64, ImportError> {
        let now = Utc::now();
        let running = import_run::Entity::find()
            .filter(import_run::Column::SourceId.eq(src.id))
            .filter(import_run::Column::Status.is_in(["claimed", "running"]))
            .filter(import_run::Column::Id.ne(claimed.unwrap_or(-1)))
            .all(&self.db)
            .await?;
        for r in running {
            let fresh = r
                .heartbeat_at
                .is_some_and(|h| now - h < chrono::Duration::seconds(STALE_SECS));
            let alive = crate::worker_alive(r.worker.as_deref(), fresh);
            if alive {
                return Err(ImportError::Busy(src.name.clone(), r.id));
            }
            import_run::Entity::update_many()
                .col_expr(import_run::Column::Status, Expr::value("failed"))
                .col_expr(
                    import_run::Column::Error,
                    Expr::value(
                        "interrupted: the process running it stopped; nothing of it was kept",
                    ),
                )
                .col_expr(import_run::Column::FinishedAt, Expr::value(now))
                .filter(import_run::Column::Id.eq(r.id))
                .exec(&self.db)
                .await?;
        }
        if let Some(id) = claimed {
            import_run::Entity::update_many()
                .col_expr(import_run::Column::Status, Expr::value("running"))
                .col_expr(import_run::Column::StartedAt, Expr::value(now))
                .col_expr(import_run::Column::HeartbeatAt, Expr::value(now))
                .col_expr(import_run::Column::UpdatedAt, Expr::value(now))
                .filter(import_run::Column::Id.eq(id))
                .exec(&self.db)
                .await?;
            return Ok(id);
        }
        let run = import_run::ActiveModel {
            source_id: Set(src.id),
            status: Set("running".into()),
            trigger: Set(trigger.as_str().into()),
            started_at: Set(Some(now)),
            heartbeat_at: Set(Some(now)),
            worker: Set(Some(crate::worker_id())),
            rows_read: Set(0),
            rows_inserted: Set(0),
            rows_updated: Set(0),
            rows_unchanged: Set(0),
            rows_rejected: Set(0),
            rows_deactivated: Set(0),
            dry_run: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?;
        Ok(run.id)
    }

    /// Records a run's outcome on its `import_run` row. A succeeded run is recorded inside its
    /// own transaction, so a process killed between commit and this update cannot leave a
    /// committed run that looks interrupted.
    async fn finish_run(
        db: &impl ConnectionTrait,
        id: i64,
        c: &Counts,
        files: &[String],
        error: Option<&str>,
    ) -> Result<(), ImportError> {
        let now = Utc::now();
        import_run::Entity::update_many()
            .col_expr(
                import_run::Column::Status,
                Expr::value(if error.is_some() {
                    "failed"
                } else {
                    "succeeded"
                }),
            )
            .col_expr(
                import_run::Column::Error,
                Expr::value(error.map(str::to_owned)),
            )
            .col_expr(import_run::Column::FinishedAt, Expr::value(now))
            .col_expr(import_run::Column::UpdatedAt, Expr::value(now))
            .col_expr(import_run::Column::RowsRead, Expr::value(c.read))
            .col_expr(import_run::Column::RowsInserted, Expr::value(c.inserted))
            .col_expr(import_run::Column::RowsUpdated, Expr::value(c.updated))
            .col_expr(import_run::Column::RowsUnchanged, Expr::value(c.unchanged))
            .col_expr(import_run::Column::RowsRejected, Expr::value(c.rejected))
            .col_expr(
                import_run::Column::RowsDeactivated,
                Expr::value(c.deactivated),
            )
            .col_expr(
                import_run::Column::Files,
                Expr::value(Some(serde_json::to_string(files).unwrap_or_default())),
            )
            .filter(import_run::Column::Id.eq(id))
            .exec(db)
            .await?;
        Ok(())
    }

    async fn execute(
        &self,
        cfg: &SourceConfig,
        src: &source::Model,
        run_id: Option<i64>,
        options: &RunOptions,
    ) -> Result<Outcome, ImportError> {
        let preset = preset_for(&cfg.kind).expect("validated");
        let reader = reader_for(&cfg.format).expect("validated");
        let location = resolve_location(options.file.as_deref().unwrap_or(&cfg.location))?;
        // Files the source's last successful run read, unchanged, under the same configuration
        // and binary: that run's outcome again, without reading a row.
        let fingerprint = match (&location, run_id) {
            (Location::Files(paths), Some(_)) => {
                let settings = (cfg.clone(), self.config.clone());
                let paths = paths.clone();
                tokio::task::spawn_blocking(move || input_fingerprint(&settings, &paths))
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            _ => None,
        };
        if let (Some(fp), Some(id), false) = (&fingerprint, run_id, options.reread)
            && let Some(outcome) = self.repeat(src, id, fp).await?
        {
            return Ok(outcome);
        }
        let configured = ColumnIndex::configured(preset, &cfg.columns);
        let input = ReadInput {
            location,
            sheet: cfg.sheet.clone(),
            headers: HeaderHint {
                required: configured
                    .iter()
                    .filter(|c| c.2)
                    .map(|c| c.1.clone())
                    .collect(),
                known: configured.iter().map(|c| c.1.clone()).collect(),
            },
            limits: self.config.limits(),
            http: self.http_input(cfg, src).await?,
        };
        let stream = reader.read(input);
        // Reading, mapping and hashing run on a thread of their own, a few hundred rows ahead
        // of the writing here: with two cores, one maps while the other writes.
        let mut mapped = spawn_mapping(stream, preset, cfg.columns.clone(), self.protector.clone());
        let txn = model::db::begin_write(&self.db).await?;
        Turn::lock_transaction(&txn, &self.db, self.stop.subscribe(), &cfg.name, run_id).await?;
        if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            // The run's lookups are prepared statements against tables that grow inside this
            // transaction; a generic plan made while they were small stays a sequential scan
            // and makes the run quadratic. Planning each execution sees their real size.
            txn.execute_unprepared("SET LOCAL plan_cache_mode = force_custom_plan")
                .await?;
        }
        let mut batch = Batch::new(self, cfg, src, preset, run_id, &txn).await?;
        let mut files = vec![];
        let mut stop = self.stop.subscribe();
        // PostgreSQL plans each lookup with the statistics it has, and autovacuum never sees this
        // transaction's rows: a first import into empty tables keeps estimating a few rows per
        // source and fetches the source's every record per batch (the run turns quadratic:
        // 7,900 rows/s at 100,000 rows, 3,100 at 1,000,000). ANALYZE counts the transaction's
        // own rows, so it runs whenever the rows read have doubled, from twenty batches on
        // (20,000 rows at the default batch size).
        let postgres = txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        let batch_size = self.config.batch_size.clamp(1, 1000);
        let mut analyze_at = 20 * batch_size as i64;
        loop {
            let chunk = tokio::select! {
                biased;
                _ = async { stop.wait_for(|stopped| *stopped).await.map(|_| ()) } => {
                    drop(batch);
                    txn.rollback().await?;
                    return Err(ImportError::Stopped);
                }
                chunk = mapped.recv() => chunk,
            };
            let Some(chunk) = chunk else { break };
            for item in chunk? {
                match item {
                    Mapped::File(name) => {
                        batch.flush().await?;
                        files.push(name);
                    }
                    Mapped::Row(row) => {
                        batch.counts.read += 1;
                        match row {
                            MappedRow::Ok(record, hash, meta) => {
                                if let Some((record, hash, meta)) = batch.push(record, hash, meta) {
                                    batch.flush().await?;
                                    let queued = batch.queue(record, hash, meta);
                                    debug_assert!(queued.is_none(), "the batch was empty");
                                }
                            }
                            MappedRow::Rejected(meta, rejection, changed_at) => {
                                if let Some(t) = changed_at {
                                    batch.note_change(t);
                                }
                                batch.reject(meta, rejection)
                            }
                        }
                        // Bounded so one statement stays within SQLite's limit of bound values.
                        if batch.len() >= batch_size {
                            batch.flush().await?;
                            if postgres && batch.counts.read >= analyze_at {
                                txn.execute_unprepared(ANALYZE_LOOKUP_COLUMNS).await?;
                                analyze_at *= 2;
                            }
                            if let Some(p) = &options.progress {
                                p(&batch.counts);
                            }
                        }
                    }
                }
            }
        }
        batch.flush().await?;
        if src.full_export && !options.dry_run {
            batch.deactivate_missing().await?;
        }
        // The overlap re-reads items older than the stored time: never move it back.
        let stored = src.updated_since.as_deref().and_then(parse_time);
        if let Some(latest) = batch
            .latest_change
            .filter(|l| stored.is_none_or(|s| *l > s))
        {
            source::Entity::update_many()
                .col_expr(
                    source::Column::UpdatedSince,
                    Expr::value(Some(latest.to_rfc3339())),
                )
                .filter(source::Column::Id.eq(src.id))
                .exec(&txn)
                .await?;
        }
        if let Some(p) = &options.progress {
            p(&batch.counts);
        }
        let counts = batch.counts.clone();
        let rejections = std::mem::take(&mut batch.first_rejections);
        drop(batch);
        if options.dry_run {
            txn.rollback().await?;
        } else {
            if let Some(id) = run_id {
                Self::finish_run(&txn, id, &counts, &files, None).await?;
                import_run::Entity::update_many()
                    .col_expr(
                        import_run::Column::InputFingerprint,
                        Expr::value(fingerprint),
                    )
                    .filter(import_run::Column::Id.eq(id))
                    .exec(&txn)
                    .await?;
            }
            txn.commit().await?;
        }
        Ok((counts, files, rejections, None))
    }

    /// The outcome of the source's last successful run, repeated as run `run_id` without
    /// reading, when that run read the input `fingerprint` names: its records are seen again
    /// unchanged and its rejected rows are stored again for this run. `None` (and nothing
    /// written) when the last successful run read something else, or the records no longer
    /// match its counts.
    async fn repeat(
        &self,
        src: &source::Model,
        run_id: i64,
        fingerprint: &str,
    ) -> Result<Option<Outcome>, ImportError> {
        let Some(last) = import_run::Entity::find()
            .filter(import_run::Column::SourceId.eq(src.id))
            .filter(import_run::Column::Status.eq("succeeded"))
            .filter(import_run::Column::Id.ne(run_id))
            .order_by_desc(import_run::Column::Id)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        if last.input_fingerprint.as_deref() != Some(fingerprint) {
            return Ok(None);
        }
        let txn = model::db::begin_write(&self.db).await?;
        Turn::lock_transaction(
            &txn,
            &self.db,
            self.stop.subscribe(),
            &src.name,
            Some(run_id),
        )
        .await?;
        let now = Utc::now();
        let seen = source_record::Entity::update_many()
            .col_expr(source_record::Column::ImportRunId, Expr::value(run_id))
            .col_expr(source_record::Column::LastSeenAt, Expr::value(now))
            .filter(source_record::Column::SourceId.eq(src.id))
            .filter(source_record::Column::ImportRunId.eq(last.id))
            .filter(source_record::Column::Active.eq(true))
            .exec(&txn)
            .await?
            .rows_affected as i64;
        let backend = txn.get_database_backend();
        let rejected = txn
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "INSERT INTO \"rejected_row\" (\"import_run_id\", \"source_id\", \"row_number\", \
                 \"file\", \"sheet\", \"column_name\", \"reason\", \"raw_values\", \"created_at\", \
                 \"updated_at\") SELECT $1, \"source_id\", \"row_number\", \"file\", \"sheet\", \
                 \"column_name\", \"reason\", \"raw_values\", $2, $2 FROM \"rejected_row\" \
                 WHERE \"import_run_id\" = $3 ORDER BY \"id\"",
                [run_id.into(), now.into(), last.id.into()],
            ))
            .await?
            .rows_affected() as i64;
        if seen + rejected != last.rows_read {
            // Something changed the records since (it should not): read the files after all.
            txn.rollback().await?;
            return Ok(None);
        }
        let counts = Counts {
            read: last.rows_read,
            unchanged: seen,
            rejected,
            ..Counts::default()
        };
        let files: Vec<String> = last
            .files
            .as_deref()
            .and_then(|f| serde_json::from_str(f).ok())
            .unwrap_or_default();
        let rejections = rejected_row::Entity::find()
            .filter(rejected_row::Column::ImportRunId.eq(run_id))
            .order_by_asc(rejected_row::Column::Id)
            .limit(20)
            .all(&txn)
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.file.unwrap_or_default(),
                    r.row_number as u64,
                    r.column_name,
                    r.reason,
                )
            })
            .collect();
        Self::finish_run(&txn, run_id, &counts, &files, None).await?;
        import_run::Entity::update_many()
            .col_expr(
                import_run::Column::InputFingerprint,
                Expr::value(Some(fingerprint.to_owned())),
            )
            .col_expr(import_run::Column::RepeatsRunId, Expr::value(Some(last.id)))
            .filter(import_run::Column::Id.eq(run_id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        tracing::info!(
            source = %src.name,
            unchanged_since = last.id,
            "the files are those run {} read, unchanged: nothing read",
            last.id
        );
        Ok(Some((counts, files, rejections, Some(last.id))))
    }

    async fn http_input(
        &self,
        cfg: &SourceConfig,
        src: &source::Model,
    ) -> Result<HttpInput, ImportError> {
        let env = |var: &str| {
            std::env::var(var).map_err(|_| ImportError::Credentials {
                source_name: cfg.name.clone(),
                what: format!("environment variable {var} is not set"),
            })
        };
        let bearer_token = match (&cfg.token_env, &cfg.token_url) {
            (Some(var), _) => Some(env(var)?.into()),
            (None, Some(url)) => {
                let id = env(cfg
                    .client_id_env
                    .as_deref()
                    .unwrap_or("UNSET_CLIENT_ID_ENV"))?;
                let secret = env(cfg
                    .client_secret_env
                    .as_deref()
                    .unwrap_or("UNSET_CLIENT_SECRET_ENV"))?;
                Some(
                    crate::credentials::client_credentials(
                        url,
                        &id,
                        &secret,
                        self.config.http_timeout_secs,
                    )
                    .await?,
                )
            }
            (None, None) => None,
        };
        Ok(HttpInput {
            bearer_token,
            updated_since: src.updated_since.as_deref().map(|since| {
                let overlap = cfg
                    .updated_since_overlap_secs
                    .unwrap_or(SourceConfig::DEFAULT_OVERLAP_SECS);
                match parse_time(since) {
                    Some(t) => (t - chrono::Duration::seconds(overlap.into())).to_rfc3339(),
                    None => since.to_owned(),
                }
            }),
            page_size: cfg.page_size.unwrap_or(500),
            timeout: std::time::Duration::from_secs(self.config.http_timeout_secs),
            max_attempts: self.config.http_max_attempts,
            initial_backoff: std::time::Duration::from_millis(self.config.http_initial_backoff_ms),
        })
    }
}

/// A content hash in eight bytes, to tell two states of a feed's item apart.
fn fingerprint(hash: &str) -> u64 {
    use std::hash::BuildHasher;
    std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
        .hash_one(hash)
}

/// What a file run reads, hashed: the running binary (its size and time, so a rebuilt werkbrug
/// reads again), the source's and the `[import]` configuration, and every file's path and
/// SHA-256.
fn input_fingerprint(
    settings: &(SourceConfig, ImportConfig),
    paths: &[std::path::PathBuf],
) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION"));
    if let Ok(meta) = std::env::current_exe().and_then(std::fs::metadata) {
        h.update(meta.len().to_le_bytes());
        if let Ok(t) = meta.modified()
            && let Ok(d) = t.duration_since(std::time::UNIX_EPOCH)
        {
            h.update(d.as_nanos().to_le_bytes());
        }
    }
    h.update(serde_json::to_vec(settings).unwrap_or_default());
    for path in paths {
        h.update(path.to_string_lossy().as_bytes());
        h.update([0]);
        let mut file = Sha256::new();
        std::io::copy(&mut std::fs::File::open(path)?, &mut file)?;
        h.update(file.finalize());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// A stored `updated_since` (RFC 3339, written by this pipeline).
fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A run is taken as dead when its heartbeat is older than this.
pub const STALE_SECS: i64 = 120;

/// Rows the mapping stage hands over at a time.
const MAPPED_CHUNK: usize = 256;

/// What the mapping stage hands to the writer.
// Rows are moved once, into the batch; boxing them would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
enum Mapped {
    /// A new file (or sheet) begins: its name as the summary lists it.
    File(String),
    /// One data row.
    Row(MappedRow),
}

/// A data row, mapped.
#[allow(clippy::large_enum_variant)]
enum MappedRow {
    /// Domain values, the content hash, and where the row came from.
    Ok(Record, String, RowMeta),
    /// Refused, and when a feed said the row changed.
    Rejected(RowMeta, Rejection, Option<DateTime<Utc>>),
}

/// Reads, maps and hashes on a blocking thread of its own, handing rows on in chunks in the
/// order read; an unreadable input or a file without the required columns ends the stream with
/// the error. Stops when the receiver is dropped.
fn spawn_mapping(
    mut stream: crate::source::RowStream,
    preset: &'static dyn Preset,
    columns: BTreeMap<String, String>,
    protector: BsnProtector,
) -> tokio::sync::mpsc::Receiver<Result<Vec<Mapped>, ImportError>> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    // A panic while mapping must end the stream with an error: a stream that merely stops
    // would be committed as a complete, shorter input (and deactivate the rest of a full export).
    let guard = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mapped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let mut index: Option<ColumnIndex> = None;
            let mut current: (Arc<str>, Option<Arc<str>>) = (Arc::from(""), None);
            let mut shape = Arc::new(RowShape::default());
            let mut chunk = Vec::with_capacity(MAPPED_CHUNK);
            loop {
                // Hand over what is mapped when the reader has nothing more at hand (a slow feed) or
                // the chunk is full.
                let event = match stream.try_recv() {
                    Ok(event) => Some(event),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                        if !chunk.is_empty()
                            && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
                        {
                            return;
                        }
                        stream.blocking_recv()
                    }
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
                };
                let Some(event) = event else {
                    if !chunk.is_empty() {
                        let _ = tx.blocking_send(Ok(chunk));
                    }
                    return;
                };
                let event = match event {
                    Ok(event) => event,
                    Err(e) => {
                        let _ = tx.blocking_send(Ok(std::mem::take(&mut chunk)));
                        let _ = tx.blocking_send(Err(e.into()));
                        return;
                    }
                };
                match event {
                    ReadEvent::Headers {
                        file,
                        sheet,
                        headers: h,
                    } => {
                        let located = match ColumnIndex::locate(preset, &columns, &h) {
                            Ok(located) => located,
                            Err(missing) => {
                                let _ = tx.blocking_send(Ok(std::mem::take(&mut chunk)));
                                let _ = tx.blocking_send(Err(ImportError::Columns {
                                    file,
                                    sheet,
                                    missing,
                                }));
                                return;
                            }
                        };
                        chunk.push(Mapped::File(match &sheet {
                            Some(s) => format!("{file} [{s}]"),
                            None => file.clone(),
                        }));
                        current = (Arc::from(file.as_str()), sheet.as_deref().map(Arc::from));
                        shape = Arc::new(RowShape::new(h, &located));
                        index = Some(located);
                    }
                    ReadEvent::Row(row) => {
                        let index = index.as_ref().expect("readers send headers first");
                        let values = Values {
                            cells: &row.cells,
                            index,
                        };
                        let mapped = preset.map(&values);
                        let changed_at = match &mapped {
                            // A feed moves past a refused item too: it is kept as a rejected row,
                            // and asking for it again on every run would only repeat that.
                            Err(_) if index.declares("changed_at") => values
                                .text("changed_at")
                                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                                .map(|t| t.with_timezone(&Utc)),
                            _ => None,
                        };
                        let hash = mapped
                            .is_ok()
                            .then(|| row_hash(&protector, &shape, &row.cells));
                        let meta = RowMeta {
                            file: current.0.clone(),
                            sheet: current.1.clone(),
                            number: row.number,
                            cells: row.cells,
                            shape: shape.clone(),
                        };
                        chunk.push(Mapped::Row(match mapped {
                            Ok(record) => MappedRow::Ok(record, hash.unwrap_or_default(), meta),
                            Err(rejection) => MappedRow::Rejected(meta, rejection, changed_at),
                        }));
                    }
                }
                if chunk.len() >= MAPPED_CHUNK
                    && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
                {
                    return;
                }
            }
        }));
        if mapped.is_err() {
            let _ = guard.blocking_send(Err(ImportError::Internal("mapping rows")));
        }
    });
    rx
}

/// A keyed hash of a row's content: order of columns does not matter, and without the key
/// nobody can test a guessed BSN against it.
fn row_hash(protector: &BsnProtector, shape: &RowShape, cells: &[Cell]) -> String {
    let mut pairs: Vec<(&str, String)> = shape
        .sorted
        .iter()
        .filter_map(|(h, i)| cells.get(*i).and_then(value::text).map(|t| (h.as_str(), t)))
        .collect();
    // Already in header order; equal headers (rare) are ordered by value.
    pairs.sort();
    let mut buf = String::with_capacity(512);
    for (h, t) in pairs {
        buf.push_str(h);
        buf.push('\u{1f}');
        buf.push_str(&t);
        buf.push('\u{1e}');
    }
    protector.keyed_hash(b"row:", buf.as_bytes())
}

/// A file's headers as rows are hashed and stored: normalised and sorted once per file.
#[derive(Default)]
struct RowShape {
    headers: Arc<[String]>,
    /// Whether each column holds personal or special values (masked in raw values).
    personal: Vec<bool>,
    /// Normalised headers with their column, sorted: the order of the content hash.
    sorted: Vec<(String, usize)>,
    /// The columns of the stored raw values, in the order of their headers; of equal headers the
    /// last column (as a JSON object keeps one value per key).
    raw_order: Vec<usize>,
}

impl RowShape {
    fn new(headers: Arc<[String]>, index: &ColumnIndex) -> Self {
        let mut sorted: Vec<(String, usize)> = headers
            .iter()
            .enumerate()
            .map(|(i, h)| (crate::source::normalise_header(h), i))
            .collect();
        sorted.sort();
        let mut raw_order: Vec<usize> = (0..headers.len()).collect();
        raw_order.sort_by(|a, b| headers[*a].cmp(&headers[*b]).then(b.cmp(a)));
        raw_order.dedup_by(|next, kept| headers[*next] == headers[*kept]);
        Self {
            personal: (0..headers.len()).map(|i| index.is_personal(i)).collect(),
            headers,
            sorted,
            raw_order,
        }
    }
}

/// Where a row came from, and its cells (kept until written).
struct RowMeta {
    file: Arc<str>,
    sheet: Option<Arc<str>>,
    number: u64,
    cells: Vec<Cell>,
    shape: Arc<RowShape>,
}

impl RowMeta {
    /// The raw values as stored (a JSON object, keys in order): personal and special cells
    /// masked. Written straight to text, and only for rows that are written, so an unchanged row
    /// costs no JSON.
    fn raw_json(&self) -> String {
        serde_json::to_string(&RawValues(self)).expect("a map of strings serialises")
    }
}

/// A row's raw values as a JSON object.
struct RawValues<'a>(&'a RowMeta);

impl serde::Serialize for RawValues<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let meta = self.0;
        let shape = &meta.shape;
        let mut map = s.serialize_map(Some(shape.raw_order.len()))?;
        for &i in &shape.raw_order {
            let header = &shape.headers[i];
            match meta.cells.get(i).and_then(value::text) {
                None => map.serialize_entry(header, &())?,
                Some(_) if shape.personal[i] => map.serialize_entry(header, "[personal]")?,
                Some(t) => map.serialize_entry(header, &t)?,
            }
        }
        map.end()
    }
}

/// Rows waiting to be written, and what the run has learnt so far.
struct Batch<'a> {
    importer: &'a Importer,
    cfg: &'a SourceConfig,
    src: &'a source::Model,
    preset: &'a dyn Preset,
    run_id: Option<i64>,
    txn: &'a DatabaseTransaction,
    writer: Writer<'a>,
    rows: Vec<(Record, String, RowMeta)>,
    rejected: Vec<(RowMeta, Rejection)>,
    counts: Counts,
    first_rejections: Vec<RejectionNote>,
    organisations: HashMap<String, i64>,
    latest_change: Option<DateTime<Utc>>,
    /// Key → row of the rows waiting in this batch.
    batch_keys: HashMap<String, u64>,
    /// Key → the row that first had it (dry runs only: real runs ask the records they wrote).
    first_row: HashMap<String, u64>,
    /// Feeds: key → the change time and content fingerprint of the latest state this run has
    /// of it.
    feed_seen: HashMap<String, (DateTime<Utc>, u64)>,
    /// When this run last said it is alive.
    last_heartbeat: Option<DateTime<Utc>>,
}

impl<'a> Batch<'a> {
    async fn new(
        importer: &'a Importer,
        cfg: &'a SourceConfig,
        src: &'a source::Model,
        preset: &'a dyn Preset,
        run_id: Option<i64>,
        txn: &'a DatabaseTransaction,
    ) -> Result<Self, ImportError> {
        let organisations = organisation::Entity::find()
            .all(txn)
            .await?
            .into_iter()
            .map(|o| (o.name.to_lowercase(), o.id))
            .collect();
        Ok(Self {
            importer,
            cfg,
            src,
            preset,
            run_id,
            txn,
            writer: Writer::new(txn),
            rows: vec![],
            rejected: vec![],
            counts: Counts::default(),
            first_rejections: vec![],
            organisations,
            latest_change: None,
            batch_keys: HashMap::new(),
            first_row: HashMap::new(),
            feed_seen: HashMap::new(),
            last_heartbeat: None,
        })
    }

    fn len(&self) -> usize {
        self.rows.len() + self.rejected.len()
    }

    /// The refusal of a key seen before in this run, on row `prev`.
    fn duplicate(&self, prev: u64) -> Rejection {
        let column = self.cfg.columns.get("source_key").cloned().or_else(|| {
            self.preset
                .columns()
                .iter()
                .find(|c| c.field == "source_key")
                .map(|c| c.header.to_owned())
        });
        Rejection {
            column,
            reason: format!("the same key appears on row {prev}; each key may appear once per run"),
        }
    }

    /// Queues a row. Returns it when it must wait for the rows queued before it to be written
    /// first: a feed's later state of an item already waiting in this batch.
    fn push(
        &mut self,
        mut record: Record,
        hash: String,
        meta: RowMeta,
    ) -> Option<(Record, String, RowMeta)> {
        if record.key_with_bsn
            && let Some(bsn) = &record.bsn
        {
            record.source_key = format!(
                "{}:{}",
                &self.importer.protector.pseudonym(bsn)[..32],
                record.source_key
            );
        }
        self.queue(record, hash, meta)
    }

    /// [`Batch::push`] for a row whose key is final.
    fn queue(
        &mut self,
        record: Record,
        hash: String,
        meta: RowMeta,
    ) -> Option<(Record, String, RowMeta)> {
        // A feed may list an item twice in one run (it changed while the run paged through):
        // the latest change wins, whatever the order; an older state changes nothing.
        if let Some(t) = record.changed_at {
            self.note_change(t);
            let state = (t, fingerprint(&hash));
            let earlier = match self.feed_seen.entry(record.source_key.clone()) {
                Entry::Occupied(e) if t < e.get().0 => {
                    self.counts.unchanged += 1;
                    return None;
                }
                Entry::Occupied(mut e) => Some(e.insert(state)),
                Entry::Vacant(e) => {
                    e.insert(state);
                    None
                }
            };
            if let Some((_, earlier_hash)) = earlier {
                if self.run_id.is_none() {
                    // Dry run: what writing it over the earlier state would do.
                    if earlier_hash == state.1 {
                        self.counts.unchanged += 1;
                    } else {
                        self.counts.updated += 1;
                    }
                    return None;
                }
                if self.batch_keys.contains_key(&record.source_key) {
                    return Some((record, hash, meta));
                }
                // Written earlier in this run: `flush` takes it as a later observation.
                self.batch_keys
                    .insert(record.source_key.clone(), meta.number);
                self.rows.push((record, hash, meta));
                return None;
            }
        }
        // Duplicates within the batch are caught here, earlier ones in the run by the records
        // this run already wrote (see `flush`); dry runs write none, so they remember keys.
        let prev = self
            .batch_keys
            .get(&record.source_key)
            .copied()
            .or_else(|| {
                self.run_id
                    .is_none()
                    .then(|| self.first_row.get(&record.source_key).copied())
                    .flatten()
            });
        if let Some(prev) = prev {
            let rejection = self.duplicate(prev);
            self.reject(meta, rejection);
            return None;
        }
        self.batch_keys
            .insert(record.source_key.clone(), meta.number);
        if self.run_id.is_none() {
            self.first_row
                .insert(record.source_key.clone(), meta.number);
        }
        self.rows.push((record, hash, meta));
        None
    }

    /// Remembers the latest change time a feed reported, for the next run's `updated_since`.
    fn note_change(&mut self, t: DateTime<Utc>) {
        self.latest_change = Some(self.latest_change.map_or(t, |l| l.max(t)));
    }

    fn reject(&mut self, meta: RowMeta, rejection: Rejection) {
        crate::events::row_rejected(&self.cfg.name, meta.number, rejection.column.as_deref());
        self.counts.rejected += 1;
        if self.first_rejections.len() < 20 {
            self.first_rejections.push((
                meta.file.to_string(),
                meta.number,
                rejection.column.clone(),
                rejection.reason.clone(),
            ));
        }
        self.rejected.push((meta, rejection));
    }

    /// Writes the waiting rows.
    async fn flush(&mut self) -> Result<(), ImportError> {
        let rows = std::mem::take(&mut self.rows);
        self.batch_keys.clear();
        let Some(run_id) = self.run_id else {
            // Dry run: count what would happen without writing.
            self.rejected.clear();
            return self.count_dry(rows).await;
        };
        let now = Utc::now();
        let txn = self.txn;
        // What this source said before about these keys.
        let existing: HashMap<String, Known> = if rows.is_empty() {
            HashMap::new()
        } else {
            // Only what comparing and linking need: leaving out the raw values makes
            // re-importing an unchanged file mostly reading and hashing.
            use source_record::Column as C;
            source_record::Entity::find()
                .select_only()
                .columns([
                    C::SourceKey,
                    C::Id,
                    C::PersonId,
                    C::ImportRunId,
                    C::ContentHash,
                    C::Active,
                    C::RowNumber,
                ])
                .filter(C::SourceId.eq(self.src.id))
                .filter(C::SourceKey.is_in(rows.iter().map(|r| r.0.source_key.clone())))
                .into_tuple::<(String, i64, Option<i64>, i64, String, bool, Option<i64>)>()
                .all(txn)
                .await?
                .into_iter()
                .map(
                    |(key, id, person_id, import_run_id, content_hash, active, row_number)| {
                        let known = Known {
                            id,
                            person_id,
                            import_run_id,
                            content_hash,
                            active,
                            row_number,
                        };
                        (key, known)
                    },
                )
                .collect()
        };
        let mut kept = Vec::with_capacity(rows.len());
        for (record, hash, meta) in rows {
            match existing.get(&record.source_key) {
                // Written earlier in this run: the key is a duplicate (a feed's later state of an
                // item is not: see `push`).
                Some(old) if old.import_run_id == run_id && record.changed_at.is_none() => {
                    let rejection = self.duplicate(old.row_number.unwrap_or(0) as u64);
                    self.reject(meta, rejection);
                }
                _ => kept.push((record, hash, meta)),
            }
        }
        let rows = kept;
        let rejected = std::mem::take(&mut self.rejected);
        if !rejected.is_empty() {
            let mut values = Vec::with_capacity(rejected.len() * REJECTED.columns.len());
            for (meta, r) in rejected {
                values.extend([
                    Value::from(meta.number as i64),
                    Some(meta.file.to_string()).into(),
                    meta.sheet.as_deref().map(str::to_owned).into(),
                    r.column.into(),
                    r.reason.into(),
                    meta.raw_json().into(),
                ]);
            }
            let shared = [run_id.into(), self.src.id.into(), now.into(), now.into()];
            self.writer.insert(&REJECTED, &shared, values).await?;
        }
        if rows.is_empty() {
            return Ok(());
        }

        let mut unchanged_ids = vec![];
        let mut changed = vec![];
        for (record, hash, meta) in rows {
            match existing.get(&record.source_key) {
                Some(old) if old.content_hash == hash && old.active => {
                    unchanged_ids.push(old.id);
                }
                old => changed.push((record, hash, meta, old.cloned())),
            }
        }
        if !unchanged_ids.is_empty() {
            self.counts.unchanged += unchanged_ids.len() as i64;
            source_record::Entity::update_many()
                .col_expr(source_record::Column::ImportRunId, Expr::value(run_id))
                .col_expr(source_record::Column::LastSeenAt, Expr::value(now))
                .filter(source_record::Column::Id.is_in(unchanged_ids))
                .exec(txn)
                .await?;
        }
        if changed.is_empty() {
            return Ok(());
        }

        // Linking: one person per BSN (by its pseudonym); a row without one keeps the person its
        // record had, or gets a person of its own. Nothing is merged on name.
        let pseudonyms: Vec<Option<String>> = changed
            .iter()
            .map(|(r, ..)| r.bsn.as_ref().map(|b| self.importer.protector.pseudonym(b)))
            .collect();
        let wanted: Vec<String> = pseudonyms.iter().flatten().cloned().collect();
        // The persons are looked up and created while the raw values of the rows to write are
        // serialised (as with the entities below: one thread, taking turns where the database
        // is working).
        let writer = &mut self.writer;
        let (linked, raw_values) = tokio::join!(
            async {
                let mut by_pseudonym: HashMap<String, i64> = HashMap::new();
                // Persons this batch created: nothing refers to them yet.
                let mut created: HashSet<i64> = HashSet::new();
                if wanted.is_empty() {
                    return Ok::<_, ImportError>((by_pseudonym, created));
                }
                by_pseudonym = person::Entity::find()
                    .select_only()
                    .column(person::Column::BsnPseudonym)
                    .column(person::Column::Id)
                    .filter(person::Column::BsnPseudonym.is_in(wanted.iter().cloned()))
                    .into_tuple::<(Option<String>, i64)>()
                    .all(txn)
                    .await?
                    .into_iter()
                    .filter_map(|(p, id)| p.map(|p| (p, id)))
                    .collect();
                // New persons in row order, so ids follow the file.
                let mut seen = HashSet::new();
                let missing: Vec<Value> = wanted
                    .iter()
                    .filter(|p| !by_pseudonym.contains_key(*p) && seen.insert(*p))
                    .map(|p| Some(p.clone()).into())
                    .collect();
                if !missing.is_empty() {
                    for row in writer
                        .insert(&PERSON, &[now.into(), now.into()], missing)
                        .await?
                    {
                        let id: i64 = row.try_get_by_index(1)?;
                        by_pseudonym.insert(row.try_get_by_index(0)?, id);
                        created.insert(id);
                    }
                }
                Ok((by_pseudonym, created))
            },
            async {
                changed
                    .iter()
                    .map(|(_, _, meta, _)| meta.raw_json())
                    .collect::<Vec<String>>()
            },
        );
        let (by_pseudonym, mut created) = linked?;
        let mut person_ids = Vec::with_capacity(changed.len());
        for ((_, _, _, old), pseudonym) in changed.iter().zip(&pseudonyms) {
            let id = match pseudonym {
                Some(p) => by_pseudonym[p],
                None => match old.as_ref().and_then(|o| o.person_id) {
                    Some(id) => id,
                    None => {
                        let id = person::ActiveModel {
                            bsn_pseudonym: Set(None),
                            created_at: Set(now),
                            updated_at: Set(now),
                            ..Default::default()
                        }
                        .insert(txn)
                        .await?
                        .id;
                        created.insert(id);
                        id
                    }
                },
            };
            person_ids.push(id);
        }

        // Provenance: the source records.
        let mut record_ids: HashMap<String, i64> = HashMap::with_capacity(changed.len());
        let mut new_records = vec![];
        let update_record = format!(
            "UPDATE \"source_record\" SET \"content_hash\" = $1, \"raw_values\" = {}, \
             \"person_id\" = $3, \"import_run_id\" = $4, \"active\" = $5, \
             \"deactivated_at\" = NULL, \"file\" = $6, \"row_number\" = $7, \
             \"last_seen_at\" = $8, \"updated_at\" = $8 WHERE \"id\" = $9",
            self.writer.param(2, true)
        );
        for (((record, hash, meta, old), person_id), raw) in
            changed.iter().zip(&person_ids).zip(raw_values)
        {
            match old {
                Some(old) => {
                    self.counts.updated += 1;
                    let values = vec![
                        hash.clone().into(),
                        raw.into(),
                        Some(*person_id).into(),
                        run_id.into(),
                        true.into(),
                        Some(meta.file.to_string()).into(),
                        Some(meta.number as i64).into(),
                        now.into(),
                        old.id.into(),
                    ];
                    self.writer.execute(&update_record, values).await?;
                    record_ids.insert(record.source_key.clone(), old.id);
                }
                None => {
                    self.counts.inserted += 1;
                    new_records.extend([
                        Value::from(record.source_key.clone()),
                        Some(*person_id).into(),
                        hash.clone().into(),
                        raw.into(),
                        Some(meta.file.to_string()).into(),
                        Some(meta.number as i64).into(),
                    ]);
                }
            }
        }
        // The unified entities' values are built while the database writes the new records
        // (the insert is sent before the building starts; both take turns on this thread only
        // where the insert waits).
        let shared = [
            self.src.id.into(),
            run_id.into(),
            true.into(),
            now.into(),
            now.into(),
            now.into(),
            now.into(),
        ];
        let protector = &self.importer.protector;
        let (inserted, entities) = tokio::join!(
            async {
                if new_records.is_empty() {
                    Ok(vec![])
                } else {
                    self.writer.insert(&RECORD, &shared, new_records).await
                }
            },
            async { entity_rows(protector, &changed, &person_ids) },
        );
        for row in inserted? {
            record_ids.insert(row.try_get_by_index(0)?, row.try_get_by_index(1)?);
        }

        // The unified entities; the newest observation wins, an empty cell keeps what is known.
        self.upsert_entities(entities, now).await?;
        self.upsert_placements(&changed, &person_ids, &record_ids, now)
            .await?;
        self.upsert_consents(&changed, &person_ids, &created, now)
            .await?;
        self.heartbeat(run_id, now).await?;
        Ok(())
    }

    async fn count_dry(&mut self, rows: Vec<(Record, String, RowMeta)>) -> Result<(), ImportError> {
        if rows.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = rows.iter().map(|r| r.0.source_key.clone()).collect();
        let existing: HashMap<String, (String, bool)> = source_record::Entity::find()
            .filter(source_record::Column::SourceId.eq(self.src.id))
            .filter(source_record::Column::SourceKey.is_in(keys))
            .all(self.txn)
            .await?
            .into_iter()
            .map(|r| (r.source_key, (r.content_hash, r.active)))
            .collect();
        for (record, hash, _) in rows {
            match existing.get(&record.source_key) {
                Some((h, true)) if *h == hash => self.counts.unchanged += 1,
                Some(_) => self.counts.updated += 1,
                None => self.counts.inserted += 1,
            }
        }
        Ok(())
    }

    async fn heartbeat(&mut self, run_id: i64, now: DateTime<Utc>) -> Result<(), ImportError> {
        // SQLite has one writer, which this run's transaction is: a second write would wait for
        // it. There, liveness is the worker's process id (see `worker_alive`).
        if self.importer.db.get_database_backend() != sea_orm::DatabaseBackend::Postgres
            || self
                .last_heartbeat
                .is_some_and(|t| now - t < chrono::Duration::seconds(10))
        {
            return Ok(());
        }
        self.last_heartbeat = Some(now);
        // On the pool, not in the transaction, so other instances see it.
        import_run::Entity::update_many()
            .col_expr(import_run::Column::HeartbeatAt, Expr::value(now))
            .filter(import_run::Column::Id.eq(run_id))
            .exec(&self.importer.db)
            .await
            .ok();
        Ok(())
    }

    /// Writes the unified entities' rows built by [`entity_rows`].
    async fn upsert_entities(
        &mut self,
        rows: EntityRows,
        now: DateTime<Utc>,
    ) -> Result<(), ImportError> {
        let shared = [Value::from(now), now.into()];
        if !rows.identities.is_empty() {
            self.writer
                .insert(&IDENTITY, &shared, rows.identities)
                .await?;
        }
        if !rows.profiles.is_empty() {
            let shared = [Value::from("[]"), "[]".into(), now.into(), now.into()];
            self.writer.insert(&PROFILE, &shared, rows.profiles).await?;
        }
        if !rows.sensitive.is_empty() {
            self.writer
                .insert(&SENSITIVE, &shared, rows.sensitive)
                .await?;
        }
        Ok(())
    }

    async fn organisation_id(
        &mut self,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, ImportError> {
        let key = name.trim().to_lowercase();
        if let Some(id) = self.organisations.get(&key) {
            return Ok(*id);
        }
        let mut code = slug(name);
        if organisation::Entity::find()
            .filter(organisation::Column::Code.eq(&code))
            .one(self.txn)
            .await?
            .is_some()
        {
            code = format!("{code}-{}", self.organisations.len() + 1);
        }
        let org = organisation::ActiveModel {
            name: Set(name.trim().to_owned()),
            code: Set(code),
            kind: Set(model::OrganisationKind::Employer.as_str().to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(self.txn)
        .await?;
        self.organisations.insert(key, org.id);
        Ok(org.id)
    }

    async fn upsert_placements(
        &mut self,
        changed: &[(Record, String, RowMeta, Option<Known>)],
        person_ids: &[i64],
        record_ids: &HashMap<String, i64>,
        now: DateTime<Utc>,
    ) -> Result<(), ImportError> {
        // Only records that existed before this batch can have a placement.
        let ids: Vec<i64> = changed
            .iter()
            .filter(|c| c.3.is_some())
            .filter_map(|c| record_ids.get(&c.0.source_key).copied())
            .collect();
        let existing: HashMap<i64, i64> = if ids.is_empty() {
            HashMap::new()
        } else {
            placement::Entity::find()
                .select_only()
                .column(placement::Column::SourceRecordId)
                .column(placement::Column::Id)
                .filter(placement::Column::SourceRecordId.is_in(ids))
                .into_tuple::<(Option<i64>, i64)>()
                .all(self.txn)
                .await?
                .into_iter()
                .filter_map(|(r, id)| r.map(|r| (r, id)))
                .collect()
        };
        let mut inserts = vec![];
        for ((record, ..), &pid) in changed.iter().zip(person_ids) {
            let Some(&rid) = record_ids.get(&record.source_key) else {
                continue;
            };
            let Some(p) = &record.placement else {
                if let Some(&id) = existing.get(&rid) {
                    self.writer
                        .execute(
                            "UPDATE \"placement\" SET \"active\" = $1, \"updated_at\" = $2 \
                             WHERE \"id\" = $3",
                            vec![false.into(), now.into(), id.into()],
                        )
                        .await?;
                }
                continue;
            };
            let org = match &p.organisation {
                Some(name) => self.organisation_id(name, now).await?,
                None => self.src.organisation_id,
            };
            let provider = (org != self.src.organisation_id).then_some(self.src.organisation_id);
            let values = [
                Value::from(pid),
                org.into(),
                provider.into(),
                p.kind.as_str().to_owned().into(),
                p.start_date.into(),
                p.planned_end_date.into(),
                p.actual_end_date.into(),
                p.hours_per_week.into(),
                p.outcome.clone().into(),
                Some(rid).into(),
            ];
            match existing.get(&rid) {
                Some(&id) => {
                    let mut values = values.to_vec();
                    values.extend([true.into(), now.into(), id.into()]);
                    self.writer
                        .execute(
                            "UPDATE \"placement\" SET \"person_id\" = $1, \"organisation_id\" = $2, \
                             \"provider_organisation_id\" = $3, \"kind\" = $4, \
                             \"start_date\" = $5, \"planned_end_date\" = $6, \
                             \"actual_end_date\" = $7, \"hours_per_week\" = $8, \
                             \"outcome\" = $9, \"source_record_id\" = $10, \"active\" = $11, \
                             \"updated_at\" = $12 WHERE \"id\" = $13",
                            values,
                        )
                        .await?;
                }
                None => inserts.extend(values),
            }
        }
        if !inserts.is_empty() {
            let shared = [Value::from(true), now.into(), now.into()];
            self.writer.insert(&PLACEMENT, &shared, inserts).await?;
        }
        Ok(())
    }

    async fn upsert_consents(
        &mut self,
        changed: &[(Record, String, RowMeta, Option<Known>)],
        person_ids: &[i64],
        created: &HashSet<i64>,
        now: DateTime<Utc>,
    ) -> Result<(), ImportError> {
        let recorded_by = format!("import:{}", self.cfg.name);
        let mut grant = BTreeMap::new();
        let mut revoke = vec![];
        for ((r, ..), &pid) in changed.iter().zip(person_ids) {
            match r.consent_network {
                Some(true) => {
                    grant.insert(pid, ());
                }
                Some(false) => revoke.push(pid),
                None => {}
            }
        }
        if !revoke.is_empty() {
            consent::Entity::update_many()
                .col_expr(consent::Column::RevokedAt, Expr::value(Some(now)))
                .col_expr(consent::Column::UpdatedAt, Expr::value(now))
                .filter(consent::Column::PersonId.is_in(revoke))
                .filter(consent::Column::Audience.eq("network"))
                .filter(consent::Column::RecordedBy.eq(recorded_by.clone()))
                .filter(consent::Column::RevokedAt.is_null())
                .exec(self.txn)
                .await?;
        }
        if grant.is_empty() {
            return Ok(());
        }
        // A person created in this batch has no consent yet; ask only about the others.
        let known: Vec<i64> = grant
            .keys()
            .filter(|p| !created.contains(p))
            .copied()
            .collect();
        let has: HashSet<i64> = if known.is_empty() {
            HashSet::new()
        } else {
            consent::Entity::find()
                .select_only()
                .column(consent::Column::PersonId)
                .filter(consent::Column::PersonId.is_in(known))
                .filter(consent::Column::Audience.eq("network"))
                .filter(consent::Column::RecordedBy.eq(recorded_by.clone()))
                .filter(consent::Column::RevokedAt.is_null())
                .into_tuple::<i64>()
                .all(self.txn)
                .await?
                .into_iter()
                .collect()
        };
        let new: Vec<Value> = grant
            .keys()
            .filter(|p| !has.contains(p))
            .map(|&pid| pid.into())
            .collect();
        if !new.is_empty() {
            let shared = [
                Value::from("network"),
                "generic_profile".into(),
                // The person's key only; a caseworker's approval is a separate act.
                true.into(),
                now.into(),
                recorded_by.into(),
                Some(self.src.organisation_id).into(),
                now.into(),
                now.into(),
            ];
            self.writer.insert(&CONSENT, &shared, new).await?;
        }
        Ok(())
    }

    /// Marks records (and their placements) that this full export no longer has as inactive.
    async fn deactivate_missing(&mut self) -> Result<(), ImportError> {
        let Some(run_id) = self.run_id else {
            return Ok(());
        };
        let now = Utc::now();
        let gone = || {
            source_record::Entity::find()
                .select_only()
                .column(source_record::Column::Id)
                .filter(source_record::Column::SourceId.eq(self.src.id))
                .filter(source_record::Column::Active.eq(true))
                .filter(source_record::Column::ImportRunId.ne(run_id))
                .into_query()
        };
        placement::Entity::update_many()
            .col_expr(placement::Column::Active, Expr::value(false))
            .col_expr(placement::Column::UpdatedAt, Expr::value(now))
            .filter(placement::Column::SourceRecordId.in_subquery(gone()))
            .exec(self.txn)
            .await?;
        let res = source_record::Entity::update_many()
            .col_expr(source_record::Column::Active, Expr::value(false))
            .col_expr(source_record::Column::DeactivatedAt, Expr::value(Some(now)))
            .col_expr(source_record::Column::UpdatedAt, Expr::value(now))
            .filter(source_record::Column::SourceId.eq(self.src.id))
            .filter(source_record::Column::Active.eq(true))
            .filter(source_record::Column::ImportRunId.ne(run_id))
            .exec(self.txn)
            .await?;
        self.counts.deactivated = res.rows_affected as i64;
        Ok(())
    }
}

/// The import's inserts (see [`crate::write`]): what each row binds, what a statement shares.
/// The values of the unified entities' rows for the changed rows of a batch (identity, profile,
/// sensitive details; one row per person, later rows of the batch winning, in person order).
/// Pure computation (sealing BSNs, lists as JSON), so that it runs while the database writes the
/// batch's source records.
fn entity_rows(
    protector: &BsnProtector,
    changed: &[(Record, String, RowMeta, Option<Known>)],
    person_ids: &[i64],
) -> EntityRows {
    let mut identities: BTreeMap<i64, &Record> = BTreeMap::new();
    let mut profiles: BTreeMap<i64, &Record> = BTreeMap::new();
    let mut sensitive: BTreeMap<i64, &Record> = BTreeMap::new();
    for ((r, ..), &pid) in changed.iter().zip(person_ids) {
        let i = &r.identity;
        if r.bsn.is_some()
            || i.given_name.is_some()
            || i.family_name.is_some()
            || i.full_name.is_some()
            || i.birth_date.is_some()
            || i.postcode.is_some()
        {
            identities.insert(pid, r);
        }
        if r.profile != Default::default() {
            profiles.insert(pid, r);
        }
        if r.sensitive != Default::default() {
            sensitive.insert(pid, r);
        }
    }
    let mut rows = EntityRows {
        identities: Vec::with_capacity(identities.len() * IDENTITY.columns.len()),
        profiles: Vec::with_capacity(profiles.len() * PROFILE.columns.len()),
        sensitive: Vec::with_capacity(sensitive.len() * SENSITIVE.columns.len()),
    };
    for (pid, r) in identities {
        let i = &r.identity;
        rows.identities.extend([
            Value::from(pid),
            // Sealing is randomised; only rows that changed get here.
            r.bsn.as_ref().map(|b| protector.encrypt(b)).into(),
            i.given_name.clone().into(),
            i.name_prefix.clone().into(),
            i.family_name.clone().into(),
            i.full_name.clone().into(),
            i.birth_date.into(),
            i.postcode.clone().into(),
        ]);
    }
    let list = |v: &Vec<String>| Value::from(serde_json::to_string(v).expect("strings"));
    for (pid, r) in profiles {
        let p = &r.profile;
        rows.profiles.extend([
            Value::from(pid),
            list(&p.skills),
            list(&p.strengths),
            list(&p.development_points),
            list(&p.work_types),
            p.hours_per_week.into(),
            p.district.clone().into(),
            p.education_level.into(),
            list(&p.languages),
            p.driving_licence.into(),
            p.line.map(|l| l.as_str().to_owned()).into(),
            p.participation_step.into(),
        ]);
    }
    for (pid, r) in sensitive {
        let s = &r.sensitive;
        rows.sensitive.extend([
            Value::from(pid),
            s.health_notes.clone().into(),
            s.benefit_type.clone().into(),
            s.legal_basis.clone().into(),
            s.target_group_register.clone().into(),
            s.target_group_register_valid.0.into(),
            s.target_group_register_valid.1.into(),
            s.wage_value_pct.into(),
        ]);
    }
    rows
}

/// The rows [`entity_rows`] builds, each table's values one row after another.
struct EntityRows {
    identities: Vec<Value>,
    profiles: Vec<Value>,
    sensitive: Vec<Value>,
}

static PERSON: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "person",
    shared: const { &[plain("created_at"), plain("updated_at")] },
    columns: const { &[plain("bsn_pseudonym")] },
    tail: "RETURNING \"bsn_pseudonym\", \"id\"".into(),
});

static RECORD: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "source_record",
    shared: const {
        &[
            plain("source_id"),
            plain("import_run_id"),
            plain("active"),
            plain("first_seen_at"),
            plain("last_seen_at"),
            plain("created_at"),
            plain("updated_at"),
        ]
    },
    columns: const {
        &[
            plain("source_key"),
            plain("person_id"),
            plain("content_hash"),
            json("raw_values"),
            plain("file"),
            plain("row_number"),
        ]
    },
    tail: "RETURNING \"source_key\", \"id\"".into(),
});

static REJECTED: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "rejected_row",
    shared: const {
        &[
            plain("import_run_id"),
            plain("source_id"),
            plain("created_at"),
            plain("updated_at"),
        ]
    },
    columns: const {
        &[
            plain("row_number"),
            plain("file"),
            plain("sheet"),
            plain("column_name"),
            plain("reason"),
            json("raw_values"),
        ]
    },
    tail: String::new(),
});

static IDENTITY: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "person_identity",
    shared: const { &[plain("created_at"), plain("updated_at")] },
    columns: const {
        &[
            plain("person_id"),
            plain("bsn_encrypted"),
            plain("given_name"),
            plain("name_prefix"),
            plain("family_name"),
            plain("full_name"),
            plain("birth_date"),
            plain("postcode"),
        ]
    },
    tail: keep_known(
        "person_id",
        "person_identity",
        &[
            "bsn_encrypted",
            "given_name",
            "name_prefix",
            "family_name",
            "full_name",
            "birth_date",
            "postcode",
        ],
        &[],
    ),
});

static PROFILE: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "candidate_profile",
    shared: const {
        &[
            json("sectors"),
            json("days_available"),
            plain("created_at"),
            plain("updated_at"),
        ]
    },
    columns: const {
        &[
            plain("person_id"),
            json("skills"),
            json("strengths"),
            json("development_points"),
            json("work_types"),
            plain("hours_per_week"),
            plain("district"),
            plain("education_level"),
            json("languages"),
            plain("driving_licence"),
            plain("line"),
            plain("participation_step"),
        ]
    },
    tail: keep_known(
        "person_id",
        "candidate_profile",
        &[
            "hours_per_week",
            "district",
            "education_level",
            "driving_licence",
            "line",
            "participation_step",
        ],
        &[
            "skills",
            "strengths",
            "development_points",
            "work_types",
            "languages",
        ],
    ),
});

static SENSITIVE: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "sensitive_detail",
    shared: const { &[plain("created_at"), plain("updated_at")] },
    columns: const {
        &[
            plain("person_id"),
            plain("health_notes"),
            plain("benefit_type"),
            plain("legal_basis"),
            plain("target_group_register"),
            plain("target_group_register_from"),
            plain("target_group_register_until"),
            plain("wage_value_pct"),
        ]
    },
    // The register's validity goes with its status: a new status brings its own days (an
    // open end included), a row without one keeps the known ones.
    tail: format!(
        "{}, \"target_group_register_from\" = CASE WHEN excluded.target_group_register IS NULL \
         THEN sensitive_detail.target_group_register_from \
         ELSE excluded.target_group_register_from END, \
         \"target_group_register_until\" = CASE WHEN excluded.target_group_register IS NULL \
         THEN sensitive_detail.target_group_register_until \
         ELSE excluded.target_group_register_until END",
        keep_known(
            "person_id",
            "sensitive_detail",
            &[
                "health_notes",
                "benefit_type",
                "legal_basis",
                "target_group_register",
                "wage_value_pct",
            ],
            &[],
        )
    ),
});

static PLACEMENT: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "placement",
    shared: const { &[plain("active"), plain("created_at"), plain("updated_at")] },
    columns: const {
        &[
            plain("person_id"),
            plain("organisation_id"),
            plain("provider_organisation_id"),
            plain("kind"),
            plain("start_date"),
            plain("planned_end_date"),
            plain("actual_end_date"),
            plain("hours_per_week"),
            plain("outcome"),
            plain("source_record_id"),
        ]
    },
    tail: String::new(),
});

static CONSENT: LazyLock<Insert> = LazyLock::new(|| Insert {
    table: "consent",
    shared: const {
        &[
            plain("audience"),
            plain("scope"),
            plain("person_agreed"),
            plain("granted_at"),
            plain("recorded_by"),
            plain("recorded_by_organisation_id"),
            plain("created_at"),
            plain("updated_at"),
        ]
    },
    columns: const { &[plain("person_id")] },
    tail: String::new(),
});

/// A code for an organisation name: lower case, words joined by dashes.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for ch in name.trim().chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() {
            out.push(ch);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// An organisation by name (case-insensitive) or code.
pub async fn find_organisation(
    db: &impl ConnectionTrait,
    name_or_code: &str,
) -> Result<Option<organisation::Model>, sea_orm::DbErr> {
    let all = organisation::Entity::find().all(db).await?;
    let want = name_or_code.trim().to_lowercase();
    Ok(all
        .into_iter()
        .find(|o| o.code == name_or_code.trim() || o.name.to_lowercase() == want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Schoonmaak Amstelglans B.V."),
            "schoonmaak-amstelglans-b-v"
        );
        assert_eq!(slug("  IJkeuken "), "ijkeuken");
    }
}
