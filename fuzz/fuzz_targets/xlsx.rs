//! The XLSX reader on arbitrary bytes (seed the corpus with real workbooks): no panic, no hang,
//! promises kept, and small limits so a mutated size is refused rather than unpacked.
#![no_main]

use importers::source::{Limits, probe};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_uncompressed_bytes: 16 << 20,
        max_metadata_bytes: 4 << 20,
        max_shared_strings: 100_000,
        ..Limits::default()
    };
    let events = probe::read_bytes("xlsx", data, &["Klantnummer"], limits);
    if let Some(broken) = probe::broken_promise(&events) {
        panic!("{broken}");
    }
});
