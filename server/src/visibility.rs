//! Checks on the parsed document, before validation and execution.
//!
//! Root fields a caller's role may not use do not exist for that caller: a request naming one
//! fails validation with the same "Unknown field" error as a field that was never there.
//! async-graphql applies `visible` to introspection only, so [`HiddenRootFields`] applies the
//! policy's entry-point rule to the parsed document. [`AliasLimit`] refuses alias floods.

use std::collections::HashSet;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Pos, Positioned, ServerError, ServerResult, Variables};

use crate::AppState;
use crate::auth::Caller;
use crate::policy::ENTRY_POINTS;

/// The extension factory; installed on the schema.
pub struct HiddenRootFields;

impl ExtensionFactory for HiddenRootFields {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(HiddenRootFieldsExtension)
    }
}

struct HiddenRootFieldsExtension;

#[async_trait::async_trait]
impl Extension for HiddenRootFieldsExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        // Anonymous callers get "authentication required" from the resolver, which says more.
        let (Some(state), Some(caller)) = (ctx.data_opt::<AppState>(), ctx.data_opt::<Caller>())
        else {
            return Ok(doc);
        };
        for (_, op) in doc.operations.iter() {
            let ty = match op.node.ty {
                OperationType::Query => "Query",
                OperationType::Mutation => "Mutation",
                OperationType::Subscription => continue,
            };
            let mut seen = HashSet::new();
            if let Some((name, pos)) = first_hidden(&doc, &op.node.selection_set, &mut seen, &|n| {
                ENTRY_POINTS.iter().any(|(e, _)| *e == n)
                    && state.policy.entry(Some(caller), n).is_err()
            }) {
                return Err(ServerError::new(
                    format!("Unknown field \"{name}\" on type \"{ty}\"."),
                    Some(pos),
                ));
            }
        }
        Ok(doc)
    }
}

/// The first root field (through fragments) that `hidden` rejects.
fn first_hidden(
    doc: &ExecutableDocument,
    set: &Positioned<SelectionSet>,
    seen: &mut HashSet<String>,
    hidden: &dyn Fn(&str) -> bool,
) -> Option<(String, Pos)> {
    for item in &set.node.items {
        let found = match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                hidden(name).then(|| (name.to_owned(), f.pos))
            }
            Selection::InlineFragment(f) => first_hidden(doc, &f.node.selection_set, seen, hidden),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.to_string();
                // Each fragment once: cycles are reported by validation, not followed here.
                match doc.fragments.get(&s.node.fragment_name.node) {
                    Some(f) if seen.insert(name) => {
                        first_hidden(doc, &f.node.selection_set, seen, hidden)
                    }
                    _ => None,
                }
            }
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Refuses documents with more aliased fields than allowed (`[server] max_aliases`).
pub struct AliasLimit(pub usize);

impl ExtensionFactory for AliasLimit {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(AliasLimitExtension(self.0))
    }
}

struct AliasLimitExtension(usize);

#[async_trait::async_trait]
impl Extension for AliasLimitExtension {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let mut count = 0;
        for (_, op) in doc.operations.iter() {
            count += aliases(&op.node.selection_set);
        }
        for f in doc.fragments.values() {
            count += aliases(&f.node.selection_set);
        }
        if count > self.0 {
            return Err(ServerError::new(
                format!(
                    "the query uses {count} aliases; at most {} are allowed ([server] max_aliases)",
                    self.0
                ),
                None,
            ));
        }
        Ok(doc)
    }
}

/// Aliased fields in a selection set, nested ones included (fragment spreads counted where the
/// fragment is defined).
fn aliases(set: &Positioned<SelectionSet>) -> usize {
    set.node
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + aliases(&f.node.selection_set)
            }
            Selection::InlineFragment(f) => aliases(&f.node.selection_set),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
