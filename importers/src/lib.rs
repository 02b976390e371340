//! werkbrug's importers: sources (XLSX, CSV, HTTP JSON), mapping presets, validation, identity
//! linking, upsert with provenance, and the scheduler, plus the bundled, invented sample data that
//! `werkbrug serve --demo` loads.
//!
//! Data flows one way: [`source`] (readers) → [`preset`] (mapping, validation via [`value`]) →
//! [`pipeline`] (linking, upsert, provenance, one transaction per run) → the model.

pub mod config;
pub mod credentials;
pub mod error;
pub mod events;
pub mod fixtures;
pub mod pipeline;
pub mod preset;
pub mod sample;
pub mod scheduler;
pub mod source;
pub mod turn;
pub mod value;
mod write;

pub use config::{ImportConfig, SourceConfig};
pub use error::ImportError;
pub use pipeline::{Counts, Importer, RunOptions, RunSummary, Trigger};

/// This process's name in `import_run.worker`: host and process id.
pub fn worker_id() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether the worker that claimed a run may still be running it: a process on this host is
/// asked directly (so a killed import does not block the next one); one elsewhere counts as alive
/// while its heartbeat is fresh.
pub fn worker_alive(worker: Option<&str>, heartbeat_fresh: bool) -> bool {
    let Some((host, pid)) = worker.and_then(|w| w.rsplit_once(':')) else {
        return heartbeat_fresh;
    };
    if host != host_name() || !std::path::Path::new("/proc/self").exists() {
        return heartbeat_fresh;
    }
    match pid.parse::<u32>() {
        Ok(pid) if pid == std::process::id() => heartbeat_fresh,
        Ok(pid) => heartbeat_fresh && std::path::Path::new(&format!("/proc/{pid}")).exists(),
        Err(_) => heartbeat_fresh,
    }
}
