//! Readers run over bytes in memory, for property tests and fuzz targets (`fuzz/`): the bytes
//! go to a temporary file, the reader reads it on a runtime of its own, and every event comes
//! back. Not used by the importer itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::{HeaderHint, HttpInput, Limits, Location, ReadError, ReadEvent, ReadInput, reader_for};

/// Longest a reader may take over one input before it counts as hanging.
pub const HANG: Duration = Duration::from_secs(60);

/// What a reader made of some bytes; `Err` ends the list.
pub type Events = Vec<Result<ReadEvent, ReadError>>;

/// Reads `bytes` as a file of `format` (`xlsx` or `csv`), looking for a header row with
/// `required` headers. Panics when the reader hangs for [`HANG`].
pub fn read_bytes(format: &str, bytes: &[u8], required: &[&str], limits: Limits) -> Events {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "werkbrug-probe-{}-{}.{format}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, bytes).expect("temporary file written");
    let input = ReadInput {
        location: Location::Files(vec![path.clone()]),
        sheet: None,
        headers: HeaderHint {
            required: required.iter().map(|s| s.to_string()).collect(),
            known: Vec::new(),
        },
        limits,
        http: HttpInput::default(),
    };
    let reader = reader_for(format).expect("a known format");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime");
    let events = runtime.block_on(async {
        let mut rx = reader.read(input);
        tokio::time::timeout(HANG, async {
            let mut events = Events::new();
            while let Some(e) = rx.recv().await {
                events.push(e);
            }
            events
        })
        .await
    });
    let _ = std::fs::remove_file(&path);
    events.unwrap_or_else(|_| {
        panic!(
            "the {format} reader hung for {HANG:?} on {} bytes",
            bytes.len()
        )
    })
}

/// Whether a reader's output keeps its promises: headers before rows, rows as wide as their
/// headers, at most one error and only at the end, and no error from a panic inside the reader.
/// Returns what is wrong, if anything.
pub fn broken_promise(events: &Events) -> Option<String> {
    let mut width: Option<usize> = None;
    for (i, e) in events.iter().enumerate() {
        match e {
            Ok(ReadEvent::Headers { headers, .. }) => width = Some(headers.len()),
            Ok(ReadEvent::Row(r)) => match width {
                None => return Some(format!("row {} before any headers", r.number)),
                Some(w) if r.cells.len() != w => {
                    return Some(format!(
                        "row {} has {} cells for {w} headers",
                        r.number,
                        r.cells.len()
                    ));
                }
                Some(_) => {}
            },
            Err(e) if i + 1 != events.len() => return Some(format!("events after an error: {e}")),
            Err(e) if e.to_string().contains("internal error") => {
                return Some(format!("the reader panicked: {e}"));
            }
            Err(_) => {}
        }
    }
    None
}
