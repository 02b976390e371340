//! The `json` reader (being written; see docs/progress.md).

use super::{ReadInput, Reader, RowStream};

/// Reads `format = "json"` sources.
pub struct HttpJsonReader;

impl Reader for HttpJsonReader {
    fn format(&self) -> &'static str {
        "json"
    }
    fn read(&self, _input: ReadInput) -> RowStream {
        unimplemented!("the json reader is not written yet")
    }
}
