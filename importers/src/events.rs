//! Import outcomes as typed events: each makes the log line (and, with the metrics issue, the
//! metric) so they never drift apart. Events carry counts, names and row numbers, never values.

use crate::error::ImportError;
use crate::pipeline::{Counts, Trigger};

/// A run started.
pub fn run_started(source: &str, run: Option<i64>, trigger: Trigger) {
    tracing::info!(
        source,
        run,
        trigger = trigger.as_str(),
        "import run started"
    );
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
}

/// A run failed and was rolled back.
pub fn run_failed(source: &str, run: Option<i64>, error: &ImportError) {
    tracing::warn!(source, run, %error, "import run failed; nothing of it was kept");
}

/// A scheduled tick was skipped because the previous run of the source is still going.
pub fn tick_skipped(source: &str, reason: &str) {
    tracing::info!(source, reason, "scheduled import skipped");
}
