//! werkbrug's importers: sources (XLSX, CSV, HTTP JSON), mapping presets, validation, identity
//! linking, upsert with provenance, and the scheduler, plus the bundled, invented sample data that
//! `werkbrug serve --demo` loads.

pub mod sample;
pub mod source;
