//! The decoder of sealed ids and `after` cursors on arbitrary text: `None` or the row it was
//! sealed for, never a panic.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use model::BsnProtector;

static KEYS: LazyLock<BsnProtector> = LazyLock::new(|| {
    BsnProtector::from_hex(&"11".repeat(32), &"22".repeat(32)).expect("valid keys")
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(id) = KEYS.open_id("partner-a", text) {
        assert_eq!(
            KEYS.seal_id("partner-a", id),
            text,
            "only what was sealed opens"
        );
    }
});
