//! The date, BSN and other value parsers on arbitrary text: no panic, and what they accept is
//! valid.
#![no_main]

use chrono::Datelike;
use importers::source::Cell;
use importers::value;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let cell = Cell::Text(text.to_owned());
    if let Ok(Some(d)) = value::date(&cell) {
        assert!((1900..=2100).contains(&d.year()));
    }
    if let Ok(bsn) = model::Bsn::parse(text) {
        assert_eq!(model::Bsn::parse(&bsn.expose()).unwrap(), bsn);
    }
    let _ = value::postcode(&cell);
    let _ = value::number(&cell);
    let _ = value::hours(&cell);
    let _ = value::boolean(&cell);
    let _ = value::list(&cell);
});
