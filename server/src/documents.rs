//! Parsed GraphQL documents kept by their text, so a query a client sends again is not parsed
//! again: parsing was about 7% of the server's work on a page of 50 candidates.
//!
//! A map behind a mutex that starts over when full, not a cache crate: a server's clients send
//! the same few documents over and over, so an eviction order would buy nothing; a bound on
//! entries and on text length is all that is needed. What is kept is the query text and its
//! parse, in memory only and never logged: what a request holds while it runs, without its
//! variables.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::parser::{Error, parse_query};

/// Most documents kept; the map starts over when full.
const CAPACITY: usize = 256;
/// Longest query text kept, in bytes; longer ones are parsed every time.
const MAX_TEXT: usize = 8 * 1024;

/// Parsed documents by query text (see the module docs).
#[derive(Default)]
pub struct Documents(Mutex<HashMap<Box<str>, ExecutableDocument>>);

impl Documents {
    /// The parse of `query`: the one kept from an earlier request, or a new one (kept when the
    /// text is short enough). Errors are not kept.
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, Error> {
        if let Some(doc) = self.lock().get(query) {
            return Ok(doc.clone());
        }
        let doc = parse_query(query)?;
        if query.len() <= MAX_TEXT {
            let mut kept = self.lock();
            if kept.len() >= CAPACITY {
                kept.clear();
            }
            kept.insert(query.into(), doc.clone());
        }
        Ok(doc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Box<str>, ExecutableDocument>> {
        // The map is valid after any panic: entries are inserted whole.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_document_is_the_same_parse_and_the_map_stays_bounded() {
        let docs = Documents::default();
        let query = "query Q($n: Int) { candidates(first: $n) { edges { cursor } } }";
        let first = docs.parse(query).unwrap();
        let again = docs.parse(query).unwrap();
        assert_eq!(format!("{first:?}"), format!("{again:?}"));
        assert_eq!(
            format!("{:?}", parse_query(query).unwrap()),
            format!("{again:?}")
        );
        assert_eq!(docs.len(), 1);

        assert!(docs.parse("{ candidates(").is_err());
        assert_eq!(docs.len(), 1, "a parse error is not kept");

        let long = format!("{{ __typename {} }}", " ".repeat(MAX_TEXT));
        docs.parse(&long).unwrap();
        assert_eq!(docs.len(), 1, "a text longer than MAX_TEXT is not kept");

        for i in 0..CAPACITY + 10 {
            docs.parse(&format!("{{ a{i}: __typename }}")).unwrap();
        }
        assert!(docs.len() <= CAPACITY);
    }
}
