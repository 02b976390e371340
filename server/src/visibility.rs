//! Which types and fields each caller's schema has, and checks on the parsed document before
//! validation and execution.
//!
//! Types and fields a caller's role may not use do not exist for that caller: introspection
//! hides them (async-graphql's `visible`, whose functions evaluate the [`GATES`] below), and a
//! request naming one — at the root or nested, through aliases and fragments — fails with the
//! same "Unknown field" error as a field that was never there ([`check_document`];
//! async-graphql applies `visible` to introspection only). [`check_aliases`] refuses alias
//! floods. Both run on the parsed document before execution, outside async-graphql's extension
//! chain (an extension would wrap every field's resolution).

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
use async_graphql::{Pos, Positioned, ServerError, ServerResult};
use model::privacy::PrivacyClass;

use crate::auth::Caller;
use crate::policy::{ENTRY_POINTS, Policy};

/// What must hold for a caller to have a type or field in its schema.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// The caller's role may use this root entry point.
    Entry(&'static str),
    /// Fields of this class of a person's record can be readable for the caller.
    Class(PrivacyClass),
    /// A field a consent may name (`table`, `column`): see `policy::CONSENT_NAMED`.
    ConsentNamed(&'static str, &'static str),
}

impl Gate {
    /// Whether the gate is open for the caller.
    pub fn open(self, policy: &Policy, caller: Option<&Caller>) -> bool {
        let Some(caller) = caller else {
            return false;
        };
        match self {
            Gate::Entry(entry) => policy.entry(Some(caller), entry).is_ok(),
            Gate::Class(class) => policy.class_visible(caller, class),
            Gate::ConsentNamed(table, column) => policy.named_field_visible(caller, table, column),
        }
    }
}

use Gate::*;
use PrivacyClass::{Generic, Internal, Personal, Special};

/// Types (field `""`) and fields below the root that only some callers have. Root fields follow
/// the policy's entry points. A field whose type is gated shares its type's gate.
pub const GATES: &[(&str, &str, Gate)] = &[
    ("AuditEvent", "", Entry("auditEvents")),
    ("Person", "", Entry("person")),
    ("Person", "identity", Class(Personal)),
    ("Person", "sensitive", Class(Internal)),
    ("Person", "placements", Class(Internal)),
    ("Person", "consents", Class(Internal)),
    ("PersonIdentity", "", Class(Personal)),
    ("CandidateProfile", "", Class(Generic)),
    ("SensitiveDetail", "", Class(Internal)),
    ("SensitiveDetail", "healthNotes", Class(Special)),
    ("SensitiveDetail", "workloadLimits", Class(Special)),
    ("SensitiveDetail", "benefitType", Class(Special)),
    ("SensitiveDetail", "legalBasis", Class(Special)),
    ("SensitiveDetail", "targetGroupRegister", Class(Special)),
    ("SensitiveDetail", "targetGroupRegisterFrom", Class(Special)),
    (
        "SensitiveDetail",
        "targetGroupRegisterUntil",
        Class(Special),
    ),
    ("SensitiveDetail", "caseNotes", Class(Special)),
    ("Consent", "", Class(Internal)),
    ("Person", "sources", Class(Internal)),
    ("SourceRecord", "", Class(Internal)),
    ("SourceRecord", "values", Class(Special)),
    (
        "Candidate",
        "jobAgreementEligible",
        ConsentNamed("sensitive_detail", "target_group_register"),
    ),
    ("Candidate", "person", Entry("person")),
    ("Transition", "endsOn", Entry("person")),
    ("Transition", "person", Entry("person")),
    ("Introduction", "", Entry("introductions")),
    ("Introduction", "person", Entry("person")),
    ("IntroductionEvent", "", Entry("introductions")),
    ("Vacancy", "introductions", Entry("introductions")),
];

/// Whether the caller has the type `ty` (`field` `""`) or the field `ty.field` below the root.
pub fn has(policy: &Policy, caller: Option<&Caller>, ty: &str, field: &str) -> bool {
    GATES
        .iter()
        .filter(|(t, f, _)| *t == ty && (*f == field || f.is_empty()))
        .all(|(.., gate)| gate.open(policy, caller))
}

/// Whether the caller has the root field `field` of `Query` or `Mutation`.
pub fn has_root(policy: &Policy, caller: Option<&Caller>, field: &str) -> bool {
    !ENTRY_POINTS.iter().any(|(e, _)| *e == field) || policy.entry(caller, field).is_ok()
}

/// Every object type's fields and the named type each returns, read from the schema's SDL.
#[derive(Debug, Default)]
pub struct TypeMap {
    types: HashMap<String, HashMap<String, String>>,
}

impl TypeMap {
    /// Reads the map from the full SDL (every type and field, as exported).
    pub fn from_sdl(sdl: &str) -> Self {
        use async_graphql::parser::types::{BaseType, TypeKind, TypeSystemDefinition};
        let mut types = HashMap::new();
        let Ok(doc) = async_graphql::parser::parse_schema(sdl) else {
            return Self::default();
        };
        for def in doc.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let fields = match &t.node.kind {
                TypeKind::Object(o) => &o.fields,
                TypeKind::Interface(i) => &i.fields,
                _ => continue,
            };
            let map = fields
                .iter()
                .map(|f| {
                    let mut ty = &f.node.ty.node;
                    while let BaseType::List(inner) = &ty.base {
                        ty = inner;
                    }
                    let name = match &ty.base {
                        BaseType::Named(n) => n.to_string(),
                        BaseType::List(_) => String::new(),
                    };
                    (f.node.name.node.to_string(), name)
                })
                .collect();
            types.insert(t.node.name.node.to_string(), map);
        }
        Self { types }
    }

    fn field_type(&self, ty: &str, field: &str) -> Option<&str> {
        self.types.get(ty)?.get(field).map(String::as_str)
    }
}

/// Fails on the first type or field of the document the caller does not have, with the error
/// validation gives for a field that does not exist.
pub fn check_document(
    doc: &ExecutableDocument,
    types: &TypeMap,
    policy: &Policy,
    caller: &Caller,
) -> Result<(), ServerError> {
    let walk = Walk {
        doc,
        types,
        policy,
        caller,
    };
    for (_, op) in doc.operations.iter() {
        let root = match op.node.ty {
            OperationType::Query => "Query",
            OperationType::Mutation => "Mutation",
            OperationType::Subscription => continue,
        };
        walk.check(&op.node.selection_set, root, true, &mut HashSet::new())?;
    }
    Ok(())
}

/// A walk over one document for one caller.
struct Walk<'a> {
    doc: &'a ExecutableDocument,
    types: &'a TypeMap,
    policy: &'a Policy,
    caller: &'a Caller,
}

impl Walk<'_> {
    /// Fails on the first field (through fragments) the caller does not have.
    fn check(
        &self,
        set: &Positioned<SelectionSet>,
        ty: &str,
        root: bool,
        seen: &mut HashSet<String>,
    ) -> ServerResult<()> {
        for item in &set.node.items {
            match &item.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    if name.starts_with("__") {
                        continue;
                    }
                    let unknown = || {
                        ServerError::new(
                            format!("Unknown field \"{name}\" on type \"{ty}\"."),
                            Some(f.pos),
                        )
                    };
                    let caller = Some(self.caller);
                    if root && !has_root(self.policy, caller, name) {
                        return Err(unknown());
                    }
                    if !root && !has(self.policy, caller, ty, name) {
                        return Err(unknown());
                    }
                    // Unknown names are left to validation, which reports them.
                    let Some(child) = self.types.field_type(ty, name).map(str::to_owned) else {
                        continue;
                    };
                    if !has(self.policy, caller, &child, "") {
                        return Err(unknown());
                    }
                    self.check(&f.node.selection_set, &child, false, seen)?;
                }
                Selection::InlineFragment(f) => {
                    let on = f
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.to_string());
                    let on = on.as_deref().unwrap_or(ty);
                    self.type_known(on, f.pos)?;
                    self.check(&f.node.selection_set, on, root && on == ty, seen)?;
                }
                Selection::FragmentSpread(s) => {
                    let name = s.node.fragment_name.node.to_string();
                    // Each fragment once: cycles are reported by validation, not followed here.
                    if let Some(f) = self.doc.fragments.get(&s.node.fragment_name.node)
                        && seen.insert(name)
                    {
                        let on = f.node.type_condition.node.on.node.to_string();
                        self.type_known(&on, f.pos)?;
                        self.check(&f.node.selection_set, &on, root && on == ty, seen)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Fails when a fragment names a type the caller does not have.
    fn type_known(&self, ty: &str, pos: Pos) -> ServerResult<()> {
        if has(self.policy, Some(self.caller), ty, "") {
            Ok(())
        } else {
            Err(ServerError::new(
                format!("Unknown type \"{ty}\"."),
                Some(pos),
            ))
        }
    }
}

/// Refuses documents with more aliased fields than allowed (`[server] max_aliases`).
pub fn check_aliases(doc: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
    let mut count = 0;
    for (_, op) in doc.operations.iter() {
        count += aliases(&op.node.selection_set);
    }
    for f in doc.fragments.values() {
        count += aliases(&f.node.selection_set);
    }
    if count > max {
        return Err(ServerError::new(
            format!(
                "the query uses {count} aliases; at most {max} are allowed ([server] max_aliases)"
            ),
            None,
        ));
    }
    Ok(())
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

/// Refuses lists longer than `max` items, in the variables and in the document's arguments and
/// directives (a list of 20,000 filter values overflowed the stack while its SQL was built).
pub fn check_lists(
    doc: &ExecutableDocument,
    variables: &async_graphql::Variables,
    max: usize,
) -> Result<(), ServerError> {
    let too_long = |what: String, n: usize, pos: Option<Pos>| {
        ServerError::new(
            format!(
                "{what} has a list of {n} items; at most {max} are allowed ([server] max_list_items)"
            ),
            pos,
        )
    };
    for (name, value) in variables.iter() {
        let n = longest_const(value);
        if n > max {
            return Err(too_long(format!("the variable `${name}`"), n, None));
        }
    }
    let sets = doc
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set)
        .chain(doc.fragments.values().map(|f| &f.node.selection_set));
    for set in sets {
        if let Some((what, n, pos)) = list_over(set, max) {
            return Err(too_long(format!("an argument of `{what}`"), n, Some(pos)));
        }
    }
    Ok(())
}

/// The longest list in a value, nested ones included.
fn longest_const(v: &async_graphql::Value) -> usize {
    use async_graphql::Value as ConstValue;
    match v {
        ConstValue::List(items) => items
            .iter()
            .map(longest_const)
            .fold(items.len(), usize::max),
        ConstValue::Object(fields) => fields.values().map(longest_const).max().unwrap_or(0),
        _ => 0,
    }
}

/// The longest list literal in an argument's value; its variables count as null (they are
/// checked on their own). A macro: the parser's value type is not exported by name.
macro_rules! literal_longest {
    ($value:expr) => {
        longest_const(
            &$value
                .clone()
                .into_const_with(|_| Ok::<_, std::convert::Infallible>(async_graphql::Value::Null))
                .unwrap_or_default(),
        )
    };
}

/// The first argument (of a field or directive) under `set` holding a list over `max` items:
/// the field or directive, the list's length and where.
fn list_over(set: &Positioned<SelectionSet>, max: usize) -> Option<(String, usize, Pos)> {
    for item in &set.node.items {
        let (directives, nested) = match &item.node {
            Selection::Field(f) => {
                for (_, value) in &f.node.arguments {
                    let n = literal_longest!(value.node);
                    if n > max {
                        return Some((f.node.name.node.to_string(), n, value.pos));
                    }
                }
                (&f.node.directives, Some(&f.node.selection_set))
            }
            Selection::InlineFragment(f) => (&f.node.directives, Some(&f.node.selection_set)),
            Selection::FragmentSpread(s) => (&s.node.directives, None),
        };
        for d in directives {
            for (_, value) in &d.node.arguments {
                let n = literal_longest!(value.node);
                if n > max {
                    return Some((format!("@{}", d.node.name.node), n, value.pos));
                }
            }
        }
        if let Some(found) = nested.and_then(|set| list_over(set, max)) {
            return Some(found);
        }
    }
    None
}

/// Refuses documents whose fragments expand to more than `max` fields. async-graphql's own
/// complexity and depth checks walk every expansion, so a one-kilobyte "fragment bomb" (each
/// fragment spreading the next twice, 30 deep) held a core for minutes; counted here once per
/// fragment, it costs as much as reading the document.
pub fn check_expansion(doc: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
    let mut sizes = HashMap::new();
    for (_, op) in doc.operations.iter() {
        let fields = expanded(doc, &op.node.selection_set, &mut sizes, &mut HashSet::new());
        if fields > max {
            return Err(ServerError::new(
                format!(
                    "the query asks for over {max} fields, each fragment counted as often as it \
                     is spread ([server] max_query_complexity); ask for fewer fields"
                ),
                Some(op.pos),
            ));
        }
    }
    Ok(())
}

/// Fields a selection set expands to, fragments included; each fragment's size is computed once.
/// A fragment that spreads itself counts as empty here (validation reports the cycle).
fn expanded(
    doc: &ExecutableDocument,
    set: &Positioned<SelectionSet>,
    sizes: &mut HashMap<String, usize>,
    visiting: &mut HashSet<String>,
) -> usize {
    let mut total: usize = 0;
    for item in &set.node.items {
        let n = match &item.node {
            Selection::Field(f) => {
                1usize.saturating_add(expanded(doc, &f.node.selection_set, sizes, visiting))
            }
            Selection::InlineFragment(f) => expanded(doc, &f.node.selection_set, sizes, visiting),
            Selection::FragmentSpread(s) => {
                let name = s.node.fragment_name.node.to_string();
                if let Some(&n) = sizes.get(&name) {
                    n
                } else if let Some(f) = doc.fragments.get(&s.node.fragment_name.node)
                    && visiting.insert(name.clone())
                {
                    let n = expanded(doc, &f.node.selection_set, sizes, visiting);
                    visiting.remove(&name);
                    sizes.insert(name, n);
                    n
                } else {
                    0
                }
            }
        };
        total = total.saturating_add(n);
    }
    total
}
