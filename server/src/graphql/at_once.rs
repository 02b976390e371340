//! Objects resolved field after field, in one pass.
//!
//! async-graphql resolves each field of an object as a boxed future of its own and runs them
//! together, so that fields waiting on the database overlap; a list's items likewise. The
//! objects wrapped in [`AtOnce`] and the items of an [`AtOnceList`] (a page of candidates: its
//! edges, profiles, persons, their placements and organisations) never wait: everything they
//! answer was read before the page is answered. For them that machinery was about a third of
//! werkbrug's work on a page of 50 candidates, so they await each field in turn instead,
//! through the same generated resolvers and so the same policy checks, with the same answers and
//! errors. A selection it does not handle the same way (a directive other than
//! `@skip`/`@include`, which the executor has removed already; a fragment on another type; one
//! response key twice, which async-graphql merges) goes to async-graphql's own resolution.
//!
//! It reads the query's fragments through `ContextBase::query_env` (public but hidden in
//! async-graphql 7) and assumes the schema registers no extension that hooks field resolution
//! (werkbrug's registers none; such an extension would not see these fields).

use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::resolver_utils::{ContainerType, resolve_container};
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};

/// Object `T` (or `&T`), whose fields all answer without waiting, resolved field after field;
/// the same type in the schema as `T`.
pub struct AtOnce<T>(pub T);

impl<T: ContainerType> OutputType for AtOnce<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve(&self.0, ctx).await
    }
}

/// Objects resolved one after another, each as [`AtOnce`] resolves it; `[T!]!` in the schema,
/// as a `Vec<T>` is (async-graphql resolves a list's items one future each).
pub struct AtOnceList<T>(pub Vec<T>);

impl<T: ContainerType> OutputType for AtOnceList<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut async_graphql::registry::Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _: &Positioned<Field>,
    ) -> ServerResult<Value> {
        // Every item answers the same selection: collected once for the list.
        let fields = selected::<T>(ctx);
        let mut items = Vec::with_capacity(self.0.len());
        for (i, item) in self.0.iter().enumerate() {
            let ctx = ctx.with_index(i);
            let value = match &fields {
                Some(fields) => resolve_fields(item, &ctx, fields).await,
                None => resolve_container(&ctx, item).await,
            };
            items.push(value.map_err(|e| ctx.set_error_path(e))?);
        }
        Ok(Value::List(items))
    }
}

/// `object`'s selected fields, one after another.
async fn resolve<T: ContainerType>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
) -> ServerResult<Value> {
    match selected::<T>(ctx) {
        Some(fields) => resolve_fields(object, ctx, &fields).await,
        None => resolve_container(ctx, object).await,
    }
}

/// The fields `ctx` selects on `T`, in order; `None` when the selection needs async-graphql's
/// own resolution (see the module docs).
fn selected<'a, T: ContainerType>(
    ctx: &ContextSelectionSet<'a>,
) -> Option<Vec<&'a Positioned<Field>>> {
    let mut fields = Vec::with_capacity(ctx.item.node.items.len());
    if collect(&T::type_name(), &ctx.item.node, ctx, &mut fields) {
        Some(fields)
    } else {
        #[cfg(test)]
        tests::FALLBACKS.with(|n| n.set(n.get() + 1));
        None
    }
}

/// `fields` of `object`, one after another.
async fn resolve_fields<T: ContainerType>(
    object: &T,
    ctx: &ContextSelectionSet<'_>,
    fields: &[&Positioned<Field>],
) -> ServerResult<Value> {
    let mut out = IndexMap::with_capacity(fields.len());
    for &field in fields {
        let key = field.node.response_key().node.clone();
        if field.node.name.node == "__typename" {
            let name = object.introspection_type_name().into_owned();
            out.insert(key, Value::String(name));
            continue;
        }
        match object.resolve_field(&ctx.with_field(field)).await {
            Ok(value) => {
                out.insert(key, value.unwrap_or_default());
            }
            Err(e) => ctx.add_error(e),
        }
    }
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Object(out)
    })
}

/// The fields of `set` and of its fragments on `type_name`, in order, into `out`; `false` when
/// the set needs async-graphql's own resolution (see the module docs).
fn collect<'a>(
    type_name: &str,
    set: &'a SelectionSet,
    ctx: &ContextSelectionSet<'a>,
    out: &mut Vec<&'a Positioned<Field>>,
) -> bool {
    for selection in &set.items {
        let handled = match &selection.node {
            Selection::Field(field) => {
                let key = &field.node.response_key().node;
                let twice = out.iter().any(|f| &f.node.response_key().node == key);
                out.push(field);
                field.node.directives.is_empty() && !twice
            }
            Selection::FragmentSpread(spread) => {
                match ctx.query_env.fragments.get(&spread.node.fragment_name.node) {
                    Some(fragment) => {
                        spread.node.directives.is_empty()
                            && fragment.node.directives.is_empty()
                            && fragment.node.type_condition.node.on.node == type_name
                            && collect(type_name, &fragment.node.selection_set.node, ctx, out)
                    }
                    None => false,
                }
            }
            Selection::InlineFragment(inline) => {
                inline.node.directives.is_empty()
                    && inline
                        .node
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| c.node.on.node == type_name)
                    && collect(type_name, &inline.node.selection_set.node, ctx, out)
            }
        };
        if !handled {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
    use std::cell::Cell;

    thread_local! {
        /// Selections this thread's [`AtOnce`] left to async-graphql.
        pub(super) static FALLBACKS: Cell<usize> = const { Cell::new(0) };
    }

    struct Leaf;

    #[Object]
    impl Leaf {
        async fn a(&self) -> i32 {
            1
        }
        async fn b(&self) -> Option<String> {
            Some("b".into())
        }
        async fn denied(&self) -> async_graphql::Result<i32> {
            Err("not for you".into())
        }
    }

    static LEAF: Leaf = Leaf;

    struct Query;

    #[Object]
    impl Query {
        async fn at_once(&self) -> AtOnce<&'static Leaf> {
            AtOnce(&LEAF)
        }
        async fn owning(&self) -> AtOnce<Leaf> {
            AtOnce(Leaf)
        }
        async fn at_once_list(&self) -> AtOnceList<&'static Leaf> {
            AtOnceList(vec![&LEAF, &LEAF])
        }
        async fn common_list(&self) -> Vec<&'static Leaf> {
            vec![&LEAF, &LEAF]
        }
        async fn common(&self) -> &'static Leaf {
            &LEAF
        }
    }

    /// The answer to `query` with `FIELD` standing for the root field, as JSON.
    async fn answer(query: &str, field: &str) -> serde_json::Value {
        let schema = Schema::new(Query, EmptyMutation, EmptySubscription);
        let response = schema.execute(query.replace("FIELD", field)).await;
        serde_json::to_value(&response).unwrap()
    }

    #[tokio::test]
    async fn answers_and_errors_as_async_graphql_does() {
        // (query, whether AtOnce leaves it to async-graphql)
        for (query, left) in [
            ("{ x: FIELD { a b } }", false),
            ("{ x: FIELD { b a __typename } }", false),
            ("{ x: FIELD { one: a two: a } }", false),
            ("{ x: FIELD { a denied b } }", false),
            (
                "{ x: FIELD { ...F ... on Leaf { b } ... { t: __typename } } } fragment F on Leaf { a }",
                false,
            ),
            ("{ x: FIELD { a ... on Leaf { a b } } }", true),
            (
                "{ x: FIELD { a b @skip(if: true) c: b @include(if: false) } }",
                false,
            ),
            (
                "query Q($s: Boolean! = true) { x: FIELD { a ...F @skip(if: $s) } } fragment F on Leaf { b }",
                false,
            ),
        ] {
            let common = answer(query, "common").await;
            // Field names of one length, so that errors' locations agree.
            for field in ["atOnce", "owning"] {
                let before = FALLBACKS.with(Cell::get);
                let at_once = answer(query, field).await;
                assert_eq!(
                    FALLBACKS.with(Cell::get) - before,
                    usize::from(left),
                    "{query}"
                );
                assert_eq!(at_once, common, "{field}: {query}");
            }
            assert!(common["data"]["x"].is_object(), "{query}: {common}");
        }
        // A list: its items as async-graphql's, an error's path with the item's index.
        for (query, left) in [
            ("{ x: FIELD { a b __typename } }", 0),
            ("{ x: FIELD { a ... on Leaf { a } } }", 1),
        ] {
            let common = answer(query, "commonList").await;
            let before = FALLBACKS.with(Cell::get);
            let list = answer(query, "atOnceList").await;
            assert_eq!(FALLBACKS.with(Cell::get) - before, left, "{query}");
            assert_eq!(list, common, "{query}");
            assert_eq!(common["data"]["x"].as_array().map(Vec::len), Some(2));
        }
        let denied = answer("{ x: FIELD { a denied } }", "atOnceList").await;
        assert_eq!(denied["data"]["x"][1], serde_json::json!({ "a": 1 }));
        assert_eq!(
            denied["errors"][1]["path"],
            serde_json::json!(["x", 1, "denied"])
        );
        let denied = answer("{ x: FIELD { a denied } }", "atOnce").await;
        assert_eq!(denied["data"]["x"], serde_json::json!({ "a": 1 }));
        assert_eq!(
            denied["errors"][0]["path"],
            serde_json::json!(["x", "denied"])
        );
    }
}
