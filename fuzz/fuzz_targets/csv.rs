//! The CSV reader on arbitrary bytes: no panic, no hang, promises kept.
#![no_main]

use importers::source::{Limits, probe};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let events = probe::read_bytes("csv", data, &["Klantnummer"], Limits::default());
    if let Some(broken) = probe::broken_promise(&events) {
        panic!("{broken}");
    }
});
