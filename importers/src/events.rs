//! Import outcomes as typed events: each makes the log line and the metric, so they never drift
//! apart. Events carry counts, names and row numbers, never values; metrics are labelled by the
//! source's configured name and the outcome only.

use crate::error::ImportError;
use crate::pipeline::{Counts, Trigger};

/// Import runs by source and outcome (`succeeded`, `failed`, `stopped`).
pub const RUNS: &str = "werkbrug_import_runs_total";
/// Rows by source and result (`inserted`, `updated`, `unchanged`, `rejected`, `deactivated`).
pub const ROWS: &str = "werkbrug_import_rows_total";
/// How long runs took, by source and outcome.
pub const DURATION: &str = "werkbrug_import_run_duration_seconds";
/// Runs in progress in this process.
pub const RUNNING: &str = "werkbrug_import_runs_running";

/// Describes the import metrics to the installed recorder (once at start-up).
pub fn describe_metrics() {
    metrics::describe_counter!(RUNS, "import runs by source and outcome");
    metrics::describe_counter!(
        ROWS,
        "imported rows by source and result (rejected included)"
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "import run duration by source and outcome"
    );
    metrics::describe_gauge!(RUNNING, "import runs in progress in this process");
}

/// A run started.
pub fn run_started(source: &str, run: Option<i64>, trigger: Trigger) {
    tracing::info!(
        source,
        run,
        trigger = trigger.as_str(),
        "import run started"
    );
    if run.is_some() {
        metrics::gauge!(RUNNING).increment(1.0);
    }
}

/// A row was refused and stored with its reason.
pub fn row_rejected(source: &str, row: u64, column: Option<&str>) {
    tracing::debug!(source, row, column, "row rejected");
}

/// A run committed.
pub fn run_finished(source: &str, run: Option<i64>, c: &Counts, seconds: f64) {
    tracing::info!(
        source,
        run,
        read = c.read,
        inserted = c.inserted,
        updated = c.updated,
        unchanged = c.unchanged,
        rejected = c.rejected,
        deactivated = c.deactivated,
        seconds,
        "import run finished"
    );
    if run.is_some() {
        metrics::gauge!(RUNNING).decrement(1.0);
        let source = source.to_owned();
        metrics::counter!(RUNS, "source" => source.clone(), "outcome" => "succeeded").increment(1);
        metrics::histogram!(DURATION, "source" => source.clone(), "outcome" => "succeeded")
            .record(seconds);
        for (result, n) in [
            ("inserted", c.inserted),
            ("updated", c.updated),
            ("unchanged", c.unchanged),
            ("rejected", c.rejected),
            ("deactivated", c.deactivated),
        ] {
            metrics::counter!(ROWS, "source" => source.clone(), "result" => result)
                .increment(n.max(0) as u64);
        }
    }
}

/// A run failed (or was stopped by shutdown) and was rolled back.
pub fn run_failed(source: &str, run: Option<i64>, error: &ImportError, seconds: f64) {
    tracing::warn!(source, run, %error, "import run failed; nothing of it was kept");
    if run.is_some() {
        let outcome = match error {
            ImportError::Stopped => "stopped",
            _ => "failed",
        };
        metrics::gauge!(RUNNING).decrement(1.0);
        metrics::counter!(RUNS, "source" => source.to_owned(), "outcome" => outcome).increment(1);
        metrics::histogram!(DURATION, "source" => source.to_owned(), "outcome" => outcome)
            .record(seconds);
    }
}

/// A run waits for another import run, of any source and process, to finish writing.
pub fn turn_awaited(source: &str) {
    tracing::info!(
        source,
        "another import run is writing to the database; this run waits for it to finish"
    );
}

/// A run that waited for another has its turn.
pub fn turn_taken(source: &str, waited_seconds: f64) {
    tracing::info!(source, waited_seconds, "import run's turn to write");
}

/// A scheduled tick was skipped because the previous run of the source is still going.
pub fn tick_skipped(source: &str, reason: &str) {
    tracing::info!(source, reason, "scheduled import skipped");
}
