//! `werkbrug import`: one run of one source, with a progress bar on a terminal and a summary.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use importers::{Importer, RunOptions, Trigger};
use indicatif::{ProgressBar, ProgressStyle};
use model::BsnProtector;
use sea_orm::DatabaseConnection;

use crate::config::Settings;

/// Runs `source` once and prints what happened; fails (exit 1) when the run failed.
pub async fn run(
    settings: &Settings,
    db: DatabaseConnection,
    protector: BsnProtector,
    source: &str,
    options: RunOptions,
) -> Result<()> {
    let dry_run = options.dry_run;
    let importer = Importer::new(
        db,
        protector,
        settings.import.clone(),
        settings.sources.clone(),
    );
    importer.sync_sources().await?;
    let bar = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Some(bar)
    } else {
        None
    };
    let started = std::time::Instant::now();
    let progress = bar.clone().map(|bar| {
        Arc::new(move |c: &importers::Counts| {
            let rate = c.read as f64 / started.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} rows read ({rate:.0} rows/s), {} rejected so far",
                c.read, c.rejected
            ));
        }) as importers::pipeline::Progress
    });
    let result = importer
        .run(
            source,
            Trigger::Command,
            RunOptions {
                progress,
                ..options
            },
        )
        .await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => bail!("import of `{source}` failed: {e}"),
    };
    let c = &summary.counts;
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header(vec![
        "read",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
        "deactivated",
        "rows/s",
    ]);
    table.add_row(vec![
        c.read.to_string(),
        c.inserted.to_string(),
        c.updated.to_string(),
        c.unchanged.to_string(),
        c.rejected.to_string(),
        c.deactivated.to_string(),
        format!("{:.0}", c.read as f64 / summary.seconds.max(0.001)),
    ]);
    println!(
        "{} `{source}` from {}{}",
        if dry_run { "dry run of" } else { "imported" },
        summary.files.join(", "),
        summary
            .run_id
            .map(|id| format!(" (run {id})"))
            .unwrap_or_else(|| " (nothing written)".into())
    );
    println!("{table}");
    if let Some(run) = summary.unchanged_since {
        println!(
            "the files are those run {run} read, unchanged: nothing read, its outcome repeated \
             (--reread reads them again)"
        );
    }
    if let Some(peak) = peak_memory_mib() {
        println!("peak memory: {peak:.0} MiB");
    }
    if !summary.rejections.is_empty() {
        println!("rejected rows (first {}):", summary.rejections.len());
        for (file, row, column, reason) in &summary.rejections {
            println!(
                "  {file} row {row}{}: {reason}",
                column
                    .as_deref()
                    .map(|c| format!(", column `{c}`"))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// This process's peak resident memory (Linux), for the summary and the benchmarks.
fn peak_memory_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}
