//! The privacy policy: the one place that decides which caller may read which field of which
//! record. Resolvers ask it; they never look at roles themselves.
//!
//! The rules are a table of `(role, class) → rule` read together with the field classes of
//! `model::privacy`. Row filters (which persons a caller may see at all) live here too.

use chrono::Utc;
use model::Role;
use model::entity::{consent, introduction, placement, source, source_record, vacancy};
use model::privacy::{self, PrivacyClass};
use sea_orm::sea_query::{Expr, ExprTrait, JoinType, Query, SelectStatement, UnionType};
use sea_orm::{ColumnTrait, Condition};

use crate::auth::{Caller, SCOPE_SPECIAL_READ};

/// When a role may read a class of field.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Always.
    Always,
    /// Only for persons in the caller's organisation's caseload.
    Caseload,
    /// Only for persons in the caseload, and only with the named scope.
    CaseloadWithScope(&'static str),
    /// Only for persons whose active, two-key consent covers the caller.
    Consented,
    /// Only for the caller's organisation's own records: the vacancies it posted and the
    /// introductions it asked for. Never for a person's own records.
    Own,
    /// Never.
    Never,
}

use PrivacyClass::*;
use Role::*;
use Rule::*;

/// The policy as data: for every role and every class, the rule.
pub const RULES: &[(Role, PrivacyClass, Rule)] = &[
    (Caseworker, Public, Always),
    (Caseworker, Generic, Caseload),
    (Caseworker, Internal, Caseload),
    (Caseworker, Personal, Caseload),
    (Caseworker, Special, CaseloadWithScope(SCOPE_SPECIAL_READ)),
    (Partner, Public, Always),
    (Partner, Generic, Consented),
    (Partner, Internal, Own),
    (Partner, Personal, Never),
    (Partner, Special, Never),
    (Network, Public, Always),
    (Network, Generic, Consented),
    (Network, Internal, Never),
    (Network, Personal, Never),
    (Network, Special, Never),
    (Dashboard, Public, Always),
    (Dashboard, Generic, Never),
    (Dashboard, Internal, Never),
    (Dashboard, Personal, Never),
    (Dashboard, Special, Never),
    (Steward, Public, Always),
    (Steward, Generic, Never),
    (Steward, Internal, Never),
    (Steward, Personal, Never),
    (Steward, Special, Never),
];

/// The consent scope that lets partners and the network see job-agreement eligibility.
pub const SCOPE_JOB_AGREEMENT: &str = "generic_profile_and_job_agreement";

/// Special fields a consent may name explicitly: `(table, column, consent scope)`. Partners and
/// the network may read these (and filter on them) for a person only while an active consent
/// that covers them carries that scope; for everyone else the class rule above applies.
pub const CONSENT_NAMED: &[(&str, &str, &str)] = &[(
    "sensitive_detail",
    "target_group_register",
    SCOPE_JOB_AGREEMENT,
)];

/// What the policy needs to know about a field apart from who asks and whose record it is:
/// its class and whether a consent can name it. Looked up once per field, not per read.
#[derive(Clone, Copy, Debug)]
pub struct FieldKey {
    class: Option<PrivacyClass>,
    consent_named: bool,
}

impl FieldKey {
    /// The field's class; `None` for a column without one (refused to everyone).
    pub fn class(&self) -> Option<PrivacyClass> {
        self.class
    }

    /// The key of `table.column`; a column without a class is refused to everyone.
    pub fn of(table: &str, column: &str) -> Self {
        Self {
            class: privacy::class_of(table, column),
            consent_named: CONSENT_NAMED
                .iter()
                .any(|(t, c, _)| *t == table && *c == column),
        }
    }
}

/// Root entry points and the roles that may use them.
pub const ENTRY_POINTS: &[(&str, &[Role])] = &[
    (
        "organisations",
        &[Caseworker, Partner, Network, Dashboard, Steward],
    ),
    ("me", &[Caseworker, Partner, Network, Dashboard, Steward]),
    ("sources", &[Steward]),
    ("importRuns", &[Steward]),
    ("importRun", &[Steward]),
    ("runImport", &[Steward]),
    ("auditEvents", &[Steward]),
    ("persons", &[Caseworker]),
    ("candidates", &[Caseworker, Partner, Network]),
    ("candidate", &[Caseworker, Partner, Network]),
    ("person", &[Caseworker]),
    ("recordConsent", &[Caseworker]),
    ("approveConsent", &[Caseworker]),
    ("renewConsent", &[Caseworker]),
    ("revokeConsent", &[Caseworker]),
    ("vacancies", &[Caseworker, Partner, Network]),
    ("vacancy", &[Caseworker, Partner, Network]),
    ("createVacancy", &[Partner]),
    ("updateVacancy", &[Partner]),
    ("closeVacancy", &[Partner]),
    ("transitionsDue", &[Caseworker, Partner, Network]),
    ("matches", &[Caseworker, Partner, Network]),
    ("vacanciesFor", &[Caseworker, Partner, Network]),
    ("introductions", &[Caseworker, Partner]),
    ("requestIntroduction", &[Partner]),
    ("withdrawIntroduction", &[Partner]),
    ("acceptIntroduction", &[Caseworker]),
    ("declineIntroduction", &[Caseworker]),
    ("stats", &[Network, Dashboard]),
];

/// A refusal; names the field or entry point, never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The caller is not authenticated.
    #[error(
        "authentication required: send `Authorization: Bearer <token>` (create one with `werkbrug token create`)"
    )]
    Unauthenticated,
    /// The caller's role may not use this entry point.
    #[error("`{entry}` is not available to the role `{role}`")]
    EntryPoint {
        /// The root field.
        entry: String,
        /// The caller's role.
        role: &'static str,
    },
    /// The caller may not read this field of this record.
    #[error("not permitted to read `{field}`")]
    Field {
        /// `Type.field` as the schema names it.
        field: String,
    },
}

/// Why the policy could not be built: a field without a class or a role without rules.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// Columns without a privacy class.
    #[error(
        "the privacy policy cannot start: columns without a privacy class: {0}; add them to model/src/privacy.rs"
    )]
    Unclassified(String),
    /// A role/class combination without a rule.
    #[error(
        "the privacy policy cannot start: no rule for role `{0}` and class `{1}`; add it to server/src/policy.rs"
    )]
    MissingRule(&'static str, &'static str),
}

/// How a record relates to the caller; computed by the row filter, consulted per field.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct RecordAccess {
    /// The caller's organisation holds a source record or an active placement for the person.
    pub in_caseload: bool,
    /// An active consent covers the caller.
    pub consented: bool,
    /// An active consent that covers the caller names job-agreement eligibility.
    pub job_agreement: bool,
    /// The record is the caller's organisation's own (a vacancy it posted, an introduction it
    /// asked for); never true for a person's records.
    pub own: bool,
}

impl RecordAccess {
    /// A record the caller's organisation owns.
    pub const OWN: RecordAccess = RecordAccess {
        in_caseload: false,
        consented: false,
        job_agreement: false,
        own: true,
    };
}

/// A set of privacy classes (see [`Policy::plain_reads`]).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ClassSet(u8);

impl ClassSet {
    /// Whether the set holds `class`.
    pub fn contains(self, class: PrivacyClass) -> bool {
        self.0 & (1 << class as u8) != 0
    }
}

/// The policy, checked once at start-up.
#[derive(Debug, Clone)]
pub struct Policy {
    _checked: (),
}

impl Policy {
    /// Builds the policy; fails when any column lacks a class or any role/class lacks a rule.
    pub fn new() -> Result<Self, PolicyError> {
        let (missing, stale) = privacy::unclassified();
        if !missing.is_empty() || !stale.is_empty() {
            return Err(PolicyError::Unclassified(
                missing
                    .into_iter()
                    .chain(stale)
                    .collect::<Vec<_>>()
                    .join(", "),
            ));
        }
        for role in Role::ALL {
            for class in [Public, Generic, Internal, Personal, Special] {
                if rule(*role, class).is_none() {
                    return Err(PolicyError::MissingRule(role.as_str(), class.as_str()));
                }
            }
        }
        Ok(Self { _checked: () })
    }

    /// Whether the caller's role may use a root field.
    pub fn entry(&self, caller: Option<&Caller>, entry: &str) -> Result<(), Denied> {
        let caller = caller.ok_or(Denied::Unauthenticated)?;
        let allowed = ENTRY_POINTS
            .iter()
            .find(|(e, _)| *e == entry)
            .is_some_and(|(_, roles)| roles.contains(&caller.role));
        if allowed {
            Ok(())
        } else {
            Err(Denied::EntryPoint {
                entry: entry.to_owned(),
                role: caller.role.as_str(),
            })
        }
    }

    /// Whether fields of `class` of a person's records belong in the caller's schema at all
    /// (some person could allow them). Records a role reads only as their owner (introductions)
    /// have their own entry points.
    pub fn class_visible(&self, caller: &Caller, class: PrivacyClass) -> bool {
        match rule(caller.role, class).unwrap_or(Never) {
            Always | Caseload | Consented => true,
            CaseloadWithScope(scope) => caller.has_scope(scope),
            Own | Never => false,
        }
    }

    /// Whether the caller may read `table.column` of a record with the given access.
    /// `field` is the schema's name for it, written out only into a refusal.
    pub fn field(
        &self,
        caller: &Caller,
        table: &str,
        column: &str,
        access: RecordAccess,
        field: impl std::fmt::Display,
    ) -> Result<PrivacyClass, Denied> {
        self.decide(caller, &FieldKey::of(table, column), access, field)
    }

    /// [`Policy::field`] for a field whose [`FieldKey`] was looked up once, ahead of the
    /// records: what is left per record is the rule for the caller's role and the record's
    /// access.
    pub fn decide(
        &self,
        caller: &Caller,
        key: &FieldKey,
        access: RecordAccess,
        field: impl std::fmt::Display,
    ) -> Result<PrivacyClass, Denied> {
        let denied = || Denied::Field {
            field: field.to_string(),
        };
        let class = key.class.ok_or_else(denied)?;
        let allowed = by_rule(caller, class, access)
            || (key.consent_named
                && matches!(caller.role, Partner | Network)
                && access.job_agreement);
        if allowed { Ok(class) } else { Err(denied()) }
    }

    /// The classes below `personal` the caller may read on every record with this access by
    /// the class rule alone (no audit, no purpose). A record's fields of these classes are
    /// answered from this set, decided once per record; anything else goes through
    /// [`Policy::decide`].
    pub fn plain_reads(&self, caller: &Caller, access: RecordAccess) -> ClassSet {
        let mut set = ClassSet::default();
        for class in [Public, Generic, Internal] {
            if by_rule(caller, class, access) {
                set.0 |= 1 << class as u8;
            }
        }
        set
    }

    /// The persons the caller may see at all, as a condition on the person-id column
    /// `person_id` of the outer query; `None` when it sees none. Evaluated on every request, so
    /// revoked or expired consent takes effect at once. Consent is tested per row (`EXISTS` on
    /// the consent's person index), so a page costs its own rows, not every consent.
    pub fn visible(&self, caller: &Caller, person_id: Expr) -> Option<Expr> {
        match caller.role {
            Caseworker => Some(in_caseload(caller.organisation_id, person_id)),
            Partner => Some(consent_exists(
                Some(caller.organisation_id),
                None,
                person_id,
            )),
            Network => Some(consent_exists(None, None, person_id)),
            Dashboard | Steward => None,
        }
    }

    /// The vacancies the caller may see (see [`WORK_FILTERS`]); `None` when it sees none.
    pub fn vacancies(&self, caller: &Caller) -> Option<Condition> {
        match caller.role {
            Partner => Some(
                Condition::all().add(vacancy::Column::OrganisationId.eq(caller.organisation_id)),
            ),
            Caseworker | Network => Some(Condition::all().add(vacancy::Column::Status.eq("open"))),
            Dashboard | Steward => None,
        }
    }

    /// The introductions the caller may see (see [`WORK_FILTERS`]); `None` when it sees none.
    pub fn introductions(&self, caller: &Caller) -> Option<Condition> {
        match caller.role {
            Partner => {
                Some(Condition::all().add(
                    introduction::Column::RequestedByOrganisationId.eq(caller.organisation_id),
                ))
            }
            Caseworker => Some(Condition::all().add(in_caseload(
                caller.organisation_id,
                Expr::col((introduction::Entity, introduction::Column::PersonId)),
            ))),
            Network | Dashboard | Steward => None,
        }
    }

    /// How every record the row filter lets through relates to the caller.
    pub fn record_access(&self, caller: &Caller) -> RecordAccess {
        match caller.role {
            Caseworker => RecordAccess {
                in_caseload: true,
                consented: false,
                job_agreement: false,
                own: false,
            },
            Partner | Network => RecordAccess {
                in_caseload: false,
                consented: true,
                // Per record: see `Policy::consent_scope`.
                job_agreement: false,
                own: false,
            },
            Dashboard | Steward => RecordAccess {
                in_caseload: false,
                consented: false,
                job_agreement: false,
                own: false,
            },
        }
    }

    /// Whether a consent-named field (see [`CONSENT_NAMED`]) can be readable for this caller at
    /// all: by its class rule, or — for partners and the network — through a consent naming it.
    pub fn named_field_visible(&self, caller: &Caller, table: &str, column: &str) -> bool {
        consent_named(caller, table, column).is_some()
            || privacy::class_of(table, column).is_some_and(|c| self.class_visible(caller, c))
    }

    /// For partners and the network, whether an active consent covering the caller that names
    /// `scope` exists for the person in the outer query's `person_id`; `None` for other roles
    /// (their class rules apply).
    pub fn consent_scope(&self, caller: &Caller, scope: &str, person_id: Expr) -> Option<Expr> {
        let partner = match caller.role {
            Partner => Some(caller.organisation_id),
            Network => None,
            _ => return None,
        };
        Some(consent_exists(partner, Some(scope), person_id))
    }

    /// Whether the caller may filter or sort on `table.column` (only on what it may read).
    pub fn may_filter(
        &self,
        caller: &Caller,
        table: &str,
        column: &str,
        field: &str,
    ) -> Result<(), Denied> {
        match privacy::class_of(table, column) {
            Some(class) if self.class_visible(caller, class) => Ok(()),
            // Filtered only among persons whose consent names it (the resolver adds that).
            Some(_) if consent_named(caller, table, column).is_some() => Ok(()),
            _ => Err(Denied::Field {
                field: field.to_owned(),
            }),
        }
    }
}

/// Which persons each role may see at all, in words; the queries are [`Policy::visible`].
pub const ROW_FILTERS: &[(Role, &str)] = &[
    (
        Caseworker,
        "persons its organisation holds a source record for, or an active placement at or \
         through it (its caseload)",
    ),
    (
        Partner,
        "persons with an active two-key consent (the person agreed, a caseworker approved, not \
         revoked, not expired) for the network or for this partner",
    ),
    (
        Network,
        "persons with an active two-key consent for the network",
    ),
    (Dashboard, "none: aggregates only"),
    (Steward, "none: sources, import runs and the audit log only"),
];

/// Which vacancies and introductions each role sees, in words; the queries are
/// [`Policy::vacancies`] and [`Policy::introductions`]. `(role, vacancies, introductions)`.
pub const WORK_FILTERS: &[(Role, &str, &str)] = &[
    (
        Caseworker,
        "open ones (and the vacancy of an introduction it sees)",
        "those for persons in its caseload; it accepts or declines them",
    ),
    (
        Partner,
        "its own, open and closed; it creates, updates and closes them",
        "those it asked for: status and history, never the person's identity",
    ),
    (Network, "open ones", "none"),
    (Dashboard, "none", "none"),
    (Steward, "none", "none"),
];

impl Rule {
    /// The rule in words, for the policy document.
    pub fn describe(self) -> String {
        match self {
            Always => "yes".into(),
            Caseload => "own caseload".into(),
            CaseloadWithScope(scope) => format!("own caseload, with scope `{scope}`"),
            Consented => "with consent".into(),
            Own => "own records (vacancies, introductions)".into(),
            Never => "—".into(),
        }
    }
}

const CLASSES: [PrivacyClass; 5] = [Public, Generic, Internal, Personal, Special];

/// The policy as a Markdown document (`docs/privacy.md`), generated from [`RULES`],
/// [`ROW_FILTERS`], [`ENTRY_POINTS`] and the model's field classes.
pub fn render_markdown() -> String {
    let mut out = String::from(
        "# Privacy policy\n\n\
         Generated from `server/src/policy.rs` and `model/src/privacy.rs` — the rules the server \
         enforces, not a description of them. Do not edit by hand: \
         `UPDATE_DOCS=1 cargo test -p server policy_document` rewrites it, and the test fails \
         when it is out of date.\n\n\
         ## Who may read which class of field\n\n\
         A field is readable when the role's rule for its class allows it for that record. \
         Fields a role may never read are also absent from the schema it introspects.\n\n",
    );
    out.push_str("| role |");
    for c in CLASSES {
        out.push_str(&format!(" {} |", c.as_str()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(CLASSES.len()));
    out.push('\n');
    for role in Role::ALL {
        out.push_str(&format!("| {} |", role.as_str()));
        for c in CLASSES {
            let r = rule(*role, c).unwrap_or(Never);
            out.push_str(&format!(" {} |", r.describe()));
        }
        out.push('\n');
    }
    out.push_str(
        "\n## Which persons a role sees (row filters)\n\n\
         Evaluated on every request: a revoked or expired consent takes effect on the next one.\n\n\
         | role | persons |\n|---|---|\n",
    );
    for (role, filter) in ROW_FILTERS {
        out.push_str(&format!("| {} | {filter} |\n", role.as_str()));
    }
    out.push_str(
        "\n## Vacancies and introductions\n\n\
         | role | vacancies | introductions |\n|---|---|---|\n",
    );
    for (role, vacancies, introductions) in WORK_FILTERS {
        out.push_str(&format!(
            "| {} | {vacancies} | {introductions} |\n",
            role.as_str()
        ));
    }
    out.push_str(
        "\n## Special fields a consent may name\n\n\
         Partners and the network read these only for persons whose active consent covering them \
         carries the scope; a filter on them matches only among those persons.\n\n\
         | field | consent scope |\n|---|---|\n",
    );
    for (table, column, scope) in CONSENT_NAMED {
        out.push_str(&format!("| `{table}.{column}` | `{scope}` |\n"));
    }
    out.push_str(
        "\n## Sources whose every record is special\n\n\
         A record at such a source says by itself that the person holds a target-group \
         indication. `Person.sources` (provenance) lists these records only to callers who may \
         read special fields, with a processing purpose, and audits each listing.\n\n\
         | source kind |\n|---|\n",
    );
    for kind in privacy::SPECIAL_SOURCE_KINDS {
        out.push_str(&format!("| `{kind}` |\n"));
    }
    out.push_str("\n## Entry points\n\n| field | roles |\n|---|---|\n");
    for (entry, roles) in ENTRY_POINTS {
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        out.push_str(&format!("| `{entry}` | {} |\n", names.join(", ")));
    }
    out.push_str(
        "\n## Field classes\n\n\
         Every column of every table, by class. Filters and sort keys follow the same classes: \
         a caller may filter or sort only on what it may read.\n\n\
         | table | public | generic | internal | personal | special |\n|---|---|---|---|---|---|\n",
    );
    let mut tables: Vec<&str> = privacy::FIELD_CLASSES.iter().map(|(t, ..)| *t).collect();
    tables.dedup();
    for table in tables {
        out.push_str(&format!("| `{table}` |"));
        for c in CLASSES {
            let cols: Vec<&str> = privacy::FIELD_CLASSES
                .iter()
                .filter(|(t, _, class)| *t == table && *class == c)
                .map(|(_, col, _)| *col)
                .collect();
            out.push_str(&format!(" {} |", cols.join(", ")));
        }
        out.push('\n');
    }
    out
}

/// The consent scope that names `table.column` for this caller's role, if any.
fn consent_named(caller: &Caller, table: &str, column: &str) -> Option<&'static str> {
    matches!(caller.role, Partner | Network)
        .then(|| {
            CONSENT_NAMED
                .iter()
                .find(|(t, c, _)| *t == table && *c == column)
                .map(|(.., scope)| *scope)
        })
        .flatten()
}

/// Whether the class rule for the caller's role lets it read `class` on a record with `access`.
fn by_rule(caller: &Caller, class: PrivacyClass, access: RecordAccess) -> bool {
    match rule(caller.role, class).unwrap_or(Never) {
        Always => true,
        Caseload => access.in_caseload,
        CaseloadWithScope(scope) => access.in_caseload && caller.has_scope(scope),
        Consented => access.consented,
        Own => access.own,
        Never => false,
    }
}

fn rule(role: Role, class: PrivacyClass) -> Option<Rule> {
    RULES
        .iter()
        .find(|(r, c, _)| *r == role && *c == class)
        .map(|(_, _, rule)| *rule)
}

/// Whether the organisation holds a source record or an active placement for the outer query's
/// `person_id`: one correlated `EXISTS` over a `UNION ALL` of the two, so each row costs an index
/// probe or two. (An `IN (… UNION …)` built the whole caseload on every request; two `EXISTS`
/// joined by `OR` let PostgreSQL hash each whole subquery instead — 64 ms against 0.8 ms for a
/// page with 100,000 persons in the caseload.) The inner tables are aliased: an outer query on
/// `placement` itself (the transitions list) must not match its own row.
fn in_caseload(organisation_id: i64, person_id: Expr) -> Expr {
    let (sr, src, pl) = ("caseload_record", "caseload_source", "caseload_placement");
    let mut by_record = Query::select()
        .expr(Expr::val(1))
        .from_as(source_record::Entity, sr)
        .join_as(
            JoinType::InnerJoin,
            source::Entity,
            src,
            Expr::col((src, source::Column::Id)).equals((sr, source_record::Column::SourceId)),
        )
        .and_where(Expr::col((src, source::Column::OrganisationId)).eq(organisation_id))
        .and_where(Expr::col((sr, source_record::Column::PersonId)).eq(person_id.clone()))
        .to_owned();
    let by_placement = Query::select()
        .expr(Expr::val(1))
        .from_as(placement::Entity, pl)
        .and_where(Expr::col((pl, placement::Column::PersonId)).eq(person_id))
        .and_where(Expr::col((pl, placement::Column::ActualEndDate)).is_null())
        .cond_where(
            Condition::any()
                .add(Expr::col((pl, placement::Column::OrganisationId)).eq(organisation_id))
                .add(
                    Expr::col((pl, placement::Column::ProviderOrganisationId)).eq(organisation_id),
                ),
        )
        .to_owned();
    Expr::exists(by_record.union(UnionType::All, by_placement).to_owned())
}

/// Whether an active consent (see [`consented_with`]) exists for the outer query's `person_id`.
fn consent_exists(partner: Option<i64>, scope: Option<&str>, person_id: Expr) -> Expr {
    let mut q = consented_with(partner, scope);
    q.and_where(Expr::col((consent::Entity, consent::Column::PersonId)).eq(person_id));
    Expr::exists(q)
}

/// Persons with an active, two-key consent (the person's and a caseworker's approval) for the
/// network, or — when `partner` is given — for the network or that partner; only consents of
/// `scope` when given.
fn consented_with(partner: Option<i64>, scope: Option<&str>) -> SelectStatement {
    let now = Utc::now();
    let mut audience = Condition::any().add(consent::Column::Audience.eq("network"));
    if let Some(partner) = partner {
        audience = audience.add(
            Condition::all()
                .add(consent::Column::Audience.eq("partner"))
                .add(consent::Column::PartnerOrganisationId.eq(partner)),
        );
    }
    Query::select()
        .column(consent::Column::PersonId)
        .from(consent::Entity)
        .cond_where(
            Condition::all()
                // A literal, not a parameter: a plan made once for every execution can then
                // use PostgreSQL's partial index of possibly active consents (migration 9).
                .add(
                    Expr::col((consent::Entity, consent::Column::PersonAgreed))
                        .eq(Expr::cust("TRUE")),
                )
                .add(consent::Column::ApprovedAt.is_not_null())
                .add(consent::Column::RevokedAt.is_null())
                .add(consent::Column::GrantedAt.lte(now))
                .add(
                    Condition::any()
                        .add(consent::Column::ExpiresAt.is_null())
                        .add(consent::Column::ExpiresAt.gt(now)),
                )
                .add(audience)
                .add_option(scope.map(|s| consent::Column::Scope.eq(s))),
        )
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(role: Role, scopes: &[&str]) -> Caller {
        Caller {
            subject: "t".into(),
            role,
            organisation_id: 1,
            organisation_code: "o".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    const IN: RecordAccess = RecordAccess {
        in_caseload: true,
        consented: true,
        job_agreement: false,
        own: false,
    };

    #[test]
    fn policy_starts_and_only_caseworkers_read_personal_fields() {
        let p = Policy::new().unwrap();
        for role in Role::ALL {
            let r = p.field(
                &caller(*role, &[]),
                "person_identity",
                "family_name",
                IN,
                "x",
            );
            assert_eq!(r.is_ok(), *role == Caseworker, "{role}");
        }
        let cw = caller(Caseworker, &[]);
        let outside = RecordAccess {
            in_caseload: false,
            consented: true,
            job_agreement: false,
            own: false,
        };
        assert!(
            p.field(&cw, "person_identity", "family_name", outside, "x")
                .is_err()
        );
    }

    #[test]
    fn plain_reads_are_exactly_what_decide_allows_below_personal() {
        let p = Policy::new().unwrap();
        for role in Role::ALL {
            for scopes in [&[][..], &[SCOPE_SPECIAL_READ][..]] {
                let c = caller(*role, scopes);
                for bits in 0..16u8 {
                    let access = RecordAccess {
                        in_caseload: bits & 1 != 0,
                        consented: bits & 2 != 0,
                        job_agreement: bits & 4 != 0,
                        own: bits & 8 != 0,
                    };
                    let plain = p.plain_reads(&c, access);
                    for (table, column) in privacy::FIELD_CLASSES.iter().map(|(t, c, _)| (*t, *c)) {
                        let key = FieldKey::of(table, column);
                        let Some(class) = key.class() else { continue };
                        let decided = p.decide(&c, &key, access, "x");
                        if plain.contains(class) {
                            assert!(class < Personal, "{role} {table}.{column}");
                            assert!(decided.is_ok(), "{role} {access:?} {table}.{column}");
                        } else if class < Personal && !key.consent_named {
                            assert!(decided.is_err(), "{role} {access:?} {table}.{column}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn special_needs_the_scope() {
        let p = Policy::new().unwrap();
        assert!(
            p.field(
                &caller(Caseworker, &[]),
                "sensitive_detail",
                "health_notes",
                IN,
                "x"
            )
            .is_err()
        );
        assert!(
            p.field(
                &caller(Caseworker, &[SCOPE_SPECIAL_READ]),
                "sensitive_detail",
                "health_notes",
                IN,
                "x"
            )
            .is_ok()
        );
        let err = p.field(
            &caller(Partner, &[]),
            "sensitive_detail",
            "health_notes",
            IN,
            "SensitiveDetail.healthNotes",
        );
        assert_eq!(
            err.unwrap_err().to_string(),
            "not permitted to read `SensitiveDetail.healthNotes`"
        );
    }

    /// `docs/privacy.md` is the policy as generated; `UPDATE_DOCS=1` rewrites it.
    #[test]
    fn policy_document_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/privacy.md");
        let generated = render_markdown();
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/privacy.md is out of date with the policy; run \
             `UPDATE_DOCS=1 cargo test -p server policy_document` and commit it"
        );
        for role in Role::ALL {
            assert!(ROW_FILTERS.iter().any(|(r, _)| r == role), "{role}");
            assert!(WORK_FILTERS.iter().any(|(r, ..)| r == role), "{role}");
        }
    }

    #[test]
    fn entry_points_follow_roles() {
        let p = Policy::new().unwrap();
        assert!(p.entry(Some(&caller(Steward, &[])), "sources").is_ok());
        assert!(p.entry(Some(&caller(Partner, &[])), "persons").is_err());
        assert_eq!(p.entry(None, "organisations"), Err(Denied::Unauthenticated));
    }
}
