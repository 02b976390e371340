//! The `xlsx` reader (being written; see docs/progress.md).

use super::{ReadInput, Reader, RowStream};

/// Reads `format = "xlsx"` sources.
pub struct XlsxReader;

impl Reader for XlsxReader {
    fn format(&self) -> &'static str {
        "xlsx"
    }
    fn read(&self, _input: ReadInput) -> RowStream {
        unimplemented!("the xlsx reader is not written yet")
    }
}
