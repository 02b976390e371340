//! The `csv` reader (being written; see docs/progress.md).

use super::{ReadInput, Reader, RowStream};

/// Reads `format = "csv"` sources.
pub struct CsvReader;

impl Reader for CsvReader {
    fn format(&self) -> &'static str {
        "csv"
    }
    fn read(&self, _input: ReadInput) -> RowStream {
        unimplemented!("the csv reader is not written yet")
    }
}
