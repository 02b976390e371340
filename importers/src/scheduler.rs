//! The scheduler inside `werkbrug serve`: cron schedules per source, runs queued through the API,
//! and a catch-up run at start-up for sources that ask for it.
//!
//! Several instances may share one database. Every run is an `import_run` row, and a run is
//! claimed by writing that row: a scheduled tick inserts `(source, scheduled_for)`, which is
//! unique, so exactly one instance runs each tick; a queued run is claimed by an `UPDATE … WHERE
//! status = 'queued'` that only one instance can win. A source never runs twice at once: a tick
//! that finds a live run of its source is skipped and logged.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use model::entity::{import_run, source};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, SqlErr};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::error::ImportError;
use crate::events;
use crate::pipeline::{Importer, RunOptions, STALE_SECS, Trigger};
use crate::turn::Turn;

/// Parses a cron expression with seconds, e.g. `"0 0 6 * * *"` (06:00:00 every day).
pub fn parse_schedule(expr: &str) -> Result<Cron, String> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .map_err(|e| {
            format!("`{expr}` is not a cron expression with seconds (e.g. \"0 0 6 * * *\"): {e}")
        })
}

/// A running scheduler; stop it with [`SchedulerHandle::shutdown`].
pub struct SchedulerHandle {
    importer: Importer,
    cron: JobScheduler,
    poller: JoinHandle<()>,
    /// Held while a run is in progress, so shutdown can wait for it.
    running: Arc<Mutex<()>>,
    /// Tells the poller to stop between its rounds.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl SchedulerHandle {
    /// Stops starting runs and waits for a run in progress to finish.
    pub async fn shutdown(self) {
        self.shutdown_within(Duration::MAX).await;
    }

    /// Stops starting runs, gives a run in progress `grace` to finish, then stops it: it rolls
    /// back and its run row says so. Returns when no run is in progress.
    pub async fn shutdown_within(mut self, grace: Duration) {
        let _ = self.cron.shutdown().await;
        self.stopping.send_replace(true);
        // The poller only sleeps between its rounds; a round's run is waited for below.
        let poller = std::mem::replace(&mut self.poller, tokio::spawn(async {}));
        let waiting = async {
            let _ = poller.await;
            let _ = self.running.lock().await;
        };
        tokio::pin!(waiting);
        if tokio::time::timeout(grace, &mut waiting).await.is_err() {
            tracing::warn!(
                grace_secs = grace.as_secs(),
                "a running import did not finish within the shutdown grace; stopping it (it rolls back)"
            );
            self.importer.stop();
            waiting.await;
        }
        // Nothing new starts once the scheduler is gone.
        self.importer.stop();
    }
}

/// Starts the schedules of every configured source, the queue poller, and catch-up runs.
pub async fn start(importer: Importer) -> Result<SchedulerHandle, ImportError> {
    let running = Arc::new(Mutex::new(()));
    let cron = JobScheduler::new().await.map_err(scheduler_error)?;
    let default_tz: Tz = importer
        .config()
        .timezone
        .parse()
        .map_err(|_| ImportError::Config {
            source_name: "[import]".into(),
            what: format!(
                "timezone `{}` is not an IANA time zone such as Europe/Amsterdam",
                importer.config().timezone
            ),
        })?;
    for cfg in importer.sources() {
        let Some(schedule) = cfg.schedule.clone() else {
            continue;
        };
        let tz: Tz = match &cfg.timezone {
            Some(t) => t.parse().map_err(|_| ImportError::Config {
                source_name: cfg.name.clone(),
                what: format!("timezone `{t}` is not an IANA time zone"),
            })?,
            None => default_tz,
        };
        let name = cfg.name.clone();
        let imp = importer.clone();
        let lock = running.clone();
        let job = Job::new_async_tz(schedule.as_str(), tz, move |_, _| {
            let (name, imp, lock) = (name.clone(), imp.clone(), lock.clone());
            Box::pin(async move {
                // Instances fire within milliseconds of the tick; the nearest second names it.
                let tick = Utc::now().round_subsecs(0);
                run_tick(&imp, &name, tick, &lock).await;
            })
        })
        .map_err(|e| ImportError::Config {
            source_name: cfg.name.clone(),
            what: format!("schedule `{schedule}`: {e}"),
        })?;
        cron.add(job).await.map_err(scheduler_error)?;
        if cfg.catch_up {
            let (imp, name, lock) = (importer.clone(), cfg.name.clone(), running.clone());
            tokio::spawn(async move { catch_up(&imp, &name, &schedule, tz, &lock).await });
        }
    }
    cron.start().await.map_err(scheduler_error)?;
    let (stopping, mut stop_poller) = tokio::sync::watch::channel(false);
    let poller = {
        let imp = importer.clone();
        let lock = running.clone();
        let every = Duration::from_secs(importer.config().poll_secs.max(1));
        tokio::spawn(async move {
            loop {
                if let Err(e) = run_queued(&imp, &lock).await {
                    tracing::warn!(error = %e, "cannot read queued import runs; retrying");
                }
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop_poller.changed() => return,
                }
            }
        })
    };
    Ok(SchedulerHandle {
        importer,
        cron,
        poller,
        running,
        stopping,
    })
}

fn scheduler_error(e: tokio_cron_scheduler::JobSchedulerError) -> ImportError {
    ImportError::Config {
        source_name: "[import]".into(),
        what: format!("the scheduler cannot start: {e}"),
    }
}

/// Runs a source once for a schedule tick, unless another instance claimed the tick or a run of
/// the source is still going.
pub async fn run_tick(importer: &Importer, name: &str, tick: DateTime<Utc>, lock: &Mutex<()>) {
    match claim_tick_when_free(importer, name, tick).await {
        Ok(Some(run_id)) => {
            let _guard = lock.lock().await;
            if importer.stopped() {
                release(importer, run_id, None).await;
                return;
            }
            let options = RunOptions {
                run_id: Some(run_id),
                ..Default::default()
            };
            // The outcome is in the run row and the log.
            let _ = importer.run(name, Trigger::Schedule, options).await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(source = name, error = %e, "cannot claim a scheduled import"),
    }
}

/// [`claim_tick`], waiting on SQLite for an import that another process is running: its write
/// lock outlasts the busy timeout, and the tick would be missed.
async fn claim_tick_when_free(
    importer: &Importer,
    name: &str,
    tick: DateTime<Utc>,
) -> Result<Option<i64>, ImportError> {
    loop {
        match claim_tick(importer, name, tick).await {
            Err(e) if crate::turn::is_busy(&e) && !importer.stopped() => {
                Turn::take(importer.db(), importer.stopping(), name).await?;
            }
            other => return other,
        }
    }
}

/// Inserts the run row of a tick; `None` when another instance has it or the source is busy.
pub async fn claim_tick(
    importer: &Importer,
    name: &str,
    tick: DateTime<Utc>,
) -> Result<Option<i64>, ImportError> {
    let db = importer.db();
    let Some(src) = source::Entity::find()
        .filter(source::Column::Name.eq(name))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if let Some(busy) = live_run(importer, src.id).await? {
        events::tick_skipped(name, &format!("run {busy} is still going"));
        return Ok(None);
    }
    let now = Utc::now();
    let row = import_run::ActiveModel {
        source_id: Set(src.id),
        status: Set("claimed".into()),
        trigger: Set(Trigger::Schedule.as_str().into()),
        scheduled_for: Set(Some(tick)),
        worker: Set(Some(crate::worker_id())),
        heartbeat_at: Set(Some(now)),
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
    };
    match row.insert(db).await {
        Ok(r) => Ok(Some(r.id)),
        Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            events::tick_skipped(name, "another instance runs this tick");
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// A run of the source that is claimed or running and shows signs of life.
async fn live_run(importer: &Importer, source_id: i64) -> Result<Option<i64>, ImportError> {
    let cutoff = Utc::now() - chrono::Duration::seconds(STALE_SECS);
    Ok(import_run::Entity::find()
        .filter(import_run::Column::SourceId.eq(source_id))
        .filter(import_run::Column::Status.is_in(["claimed", "running"]))
        .all(importer.db())
        .await?
        .into_iter()
        .find(|r| {
            crate::worker_alive(
                r.worker.as_deref(),
                r.heartbeat_at.is_some_and(|h| h > cutoff),
            )
        })
        .map(|r| r.id))
}

/// Claims and runs queued manual runs, oldest first.
pub async fn run_queued(importer: &Importer, lock: &Mutex<()>) -> Result<(), ImportError> {
    let db = importer.db();
    let queued = import_run::Entity::find()
        .filter(import_run::Column::Status.eq("queued"))
        .order_by_asc(import_run::Column::Id)
        .all(db)
        .await?;
    for run in queued {
        if importer.stopped() {
            break;
        }
        let Some(src) = source::Entity::find_by_id(run.source_id).one(db).await? else {
            continue;
        };
        if importer.source_config(&src.name).is_err() {
            // Queued for a source this instance does not have configured; leave it.
            continue;
        }
        if live_run(importer, src.id).await?.is_some() {
            continue;
        }
        let now = Utc::now();
        let claimed = import_run::Entity::update_many()
            .col_expr(import_run::Column::Status, Expr::value("claimed"))
            .col_expr(
                import_run::Column::Worker,
                Expr::value(Some(crate::worker_id())),
            )
            .col_expr(import_run::Column::HeartbeatAt, Expr::value(Some(now)))
            .filter(import_run::Column::Id.eq(run.id))
            .filter(import_run::Column::Status.eq("queued"))
            .exec(db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let _guard = lock.lock().await;
        if importer.stopped() {
            // Back in the queue for the next server (or this one after its restart).
            release(importer, run.id, Some("queued")).await;
            return Ok(());
        }
        let options = RunOptions {
            run_id: Some(run.id),
            ..Default::default()
        };
        let _ = importer.run(&src.name, Trigger::Manual, options).await;
    }
    Ok(())
}

/// Gives up a claimed run that has not started because the server is shutting down: a queued
/// run goes back to `queued`, a scheduled tick is marked failed with the reason.
async fn release(importer: &Importer, run_id: i64, back_to: Option<&str>) {
    let update = import_run::Entity::update_many().filter(import_run::Column::Id.eq(run_id));
    let update = match back_to {
        Some(status) => update
            .col_expr(import_run::Column::Status, Expr::value(status))
            .col_expr(import_run::Column::Worker, Expr::value(None::<String>)),
        None => update
            .col_expr(import_run::Column::Status, Expr::value("failed"))
            .col_expr(
                import_run::Column::Error,
                Expr::value("not started: the server shut down first"),
            )
            .col_expr(import_run::Column::FinishedAt, Expr::value(Utc::now())),
    };
    if let Err(e) = update.exec(importer.db()).await {
        tracing::warn!(run = run_id, error = %e, "cannot release a claimed import run");
    }
}

/// Runs a source once when its last tick passed without a run (the server was down).
async fn catch_up(importer: &Importer, name: &str, schedule: &str, tz: Tz, lock: &Mutex<()>) {
    let Ok(cron) = parse_schedule(schedule) else {
        return;
    };
    let Ok(previous) = cron.find_previous_occurrence(&Utc::now().with_timezone(&tz), false) else {
        return;
    };
    let previous = previous.with_timezone(&Utc);
    let db = importer.db();
    let ran = async {
        let src = source::Entity::find()
            .filter(source::Column::Name.eq(name))
            .one(db)
            .await?;
        let Some(src) = src else {
            return Ok::<_, sea_orm::DbErr>(true);
        };
        Ok(import_run::Entity::find()
            .filter(import_run::Column::SourceId.eq(src.id))
            .filter(import_run::Column::CreatedAt.gte(previous))
            .one(db)
            .await?
            .is_some())
    }
    .await;
    if let Ok(false) = ran {
        tracing::info!(source = name, missed = %previous, "catching up a missed scheduled import");
        run_tick(importer, name, previous, lock).await;
    }
}
