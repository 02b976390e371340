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
pub mod pipeline;
pub mod preset;
pub mod sample;
pub mod scheduler;
pub mod source;
pub mod value;

pub use config::{ImportConfig, SourceConfig};
pub use error::ImportError;
pub use pipeline::{Counts, Importer, RunOptions, RunSummary, Trigger};

/// This process's name in `import_run.worker`: host and process id.
pub fn worker_id() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}
