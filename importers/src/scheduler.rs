//! The scheduler (being written): cron schedules per source and queued manual runs.

use croner::Cron;
use croner::parser::{CronParser, Seconds};

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
