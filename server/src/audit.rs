//! The audit log: every read of a `personal` or `special` field is collected during a request and
//! written, hash-chained and append-only, before the response leaves the server.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{SubsecRound, Utc};
use model::entity::audit_event;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, EntityTrait, QueryOrder, Set, Statement,
};
use sha2::{Digest, Sha256};

use crate::auth::Caller;

/// The processing purpose recorded when a request names none (personal fields only; special
/// fields need a named purpose). Logboek Dataverwerkingen: the "verwerkingsactiviteit".
pub const PURPOSE_CASE_MANAGEMENT: &str = "case_management";

/// The purposes a request may name in the `X-Purpose` header.
pub const PURPOSES: &[&str] = &[
    "case_management",
    "matching",
    "transition_planning",
    "benefit_assessment",
    "complaint_handling",
];

/// The header that names the processing purpose of a request.
pub const PURPOSE_HEADER: &str = "x-purpose";

/// Hash of the event before the first one.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Reads of personal or special fields collected during one request.
#[derive(Debug, Default)]
pub struct AuditCollector {
    reads: Mutex<BTreeMap<String, Vec<String>>>,
}

impl AuditCollector {
    /// Records that `field` of the person with this pseudonym was read.
    pub fn record(&self, person_pseudonym: &str, field: &str) {
        let mut reads = self.reads.lock().expect("audit collector lock poisoned");
        let fields = reads.entry(person_pseudonym.to_owned()).or_default();
        if !fields.iter().any(|f| f == field) {
            fields.push(field.to_owned());
        }
    }

    fn take(&self) -> BTreeMap<String, Vec<String>> {
        std::mem::take(&mut *self.reads.lock().expect("audit collector lock poisoned"))
    }
}

/// The trace id of a W3C `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), if valid.
pub fn trace_id_from(traceparent: Option<&str>) -> Option<String> {
    let mut parts = traceparent?.split('-');
    let (_version, trace) = (parts.next()?, parts.next()?);
    (trace.len() == 32
        && trace
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && trace != "0".repeat(32))
    .then(|| trace.to_owned())
}

/// The processing purpose a request named, as request data for the resolvers.
#[derive(Debug, Clone)]
pub struct Purpose(pub Option<String>);

/// Context of the request an audit event belongs to.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id (also in the `x-request-id` header).
    pub request_id: String,
    /// The GraphQL operation name, when given.
    pub operation_name: Option<String>,
    /// The processing purpose the request named (`X-Purpose`), when it named one.
    pub purpose: Option<String>,
    /// The trace id of a W3C `traceparent` header; when the request had none, the events get
    /// one generated as they are written (most requests write none).
    pub trace_id: Option<String>,
}

/// Writes the collected reads as audit events in one transaction, chaining their hashes.
pub async fn flush(
    db: &DatabaseConnection,
    collector: &AuditCollector,
    caller: &Caller,
    request: &RequestContext,
) -> Result<usize, sea_orm::DbErr> {
    let reads = collector.take();
    if reads.is_empty() {
        return Ok(0);
    }
    let txn = model::db::begin_write(db).await?;
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // Serialise writers across instances so the chain has one tail.
        txn.execute_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock(727274)",
        ))
        .await?;
    }
    let mut prev = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Id)
        .one(&txn)
        .await?
        .map_or_else(|| GENESIS_HASH.to_owned(), |e| e.hash);
    let now = Utc::now().trunc_subsecs(6);
    let count = reads.len();
    let trace_id = request
        .trace_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let purpose = request
        .purpose
        .as_deref()
        .unwrap_or(PURPOSE_CASE_MANAGEMENT);
    let mut events = Vec::with_capacity(count);
    for (pseudonym, fields) in reads {
        let fields = serde_json::json!(fields);
        let hash = event_hash(
            &prev,
            now,
            &caller.subject,
            caller.role.as_str(),
            Some(caller.organisation_id),
            &pseudonym,
            &fields,
            purpose,
            request.operation_name.as_deref(),
            &request.request_id,
            Some(&trace_id),
        );
        events.push(audit_event::ActiveModel {
            occurred_at: Set(now),
            subject: Set(caller.subject.clone()),
            role: Set(caller.role.as_str().to_owned()),
            organisation_id: Set(Some(caller.organisation_id)),
            person_pseudonym: Set(pseudonym),
            fields: Set(fields),
            purpose: Set(purpose.to_owned()),
            operation_name: Set(request.operation_name.clone()),
            request_id: Set(request.request_id.clone()),
            trace_id: Set(Some(trace_id.clone())),
            prev_hash: Set(prev.clone()),
            hash: Set(hash.clone()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        });
        prev = hash;
    }
    // A page of persons is one event each: written in a few statements, not one per event, so
    // the chain's lock is held briefly.
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        audit_event::Entity::insert_many(events.by_ref().take(200))
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(count)
}

/// The hash of one event: SHA-256 over its content and the previous event's hash.
#[allow(clippy::too_many_arguments)]
fn event_hash(
    prev: &str,
    at: chrono::DateTime<Utc>,
    subject: &str,
    role: &str,
    organisation_id: Option<i64>,
    pseudonym: &str,
    fields: &serde_json::Value,
    purpose: &str,
    operation_name: Option<&str>,
    request_id: &str,
    trace_id: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    for part in [
        prev,
        &at.to_rfc3339(),
        subject,
        role,
        &organisation_id.map(|i| i.to_string()).unwrap_or_default(),
        pseudonym,
        &fields.to_string(),
        purpose,
        operation_name.unwrap_or(""),
        request_id,
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    // Events written before trace ids were recorded hash as they did then.
    if let Some(t) = trace_id {
        h.update(t.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// The recomputed hash of a stored event.
fn stored_hash(e: &audit_event::Model) -> String {
    event_hash(
        &e.prev_hash,
        e.occurred_at,
        &e.subject,
        &e.role,
        e.organisation_id,
        &e.person_pseudonym,
        &e.fields,
        &e.purpose,
        e.operation_name.as_deref(),
        &e.request_id,
        e.trace_id.as_deref(),
    )
}

/// The outcome of checking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked.
    pub events: u64,
    /// Ids of events whose content or link does not match the chain.
    pub broken: Vec<i64>,
}

/// Recomputes every event's hash and link, in id order, page by page.
pub async fn verify_chain(db: &DatabaseConnection) -> Result<ChainReport, sea_orm::DbErr> {
    use sea_orm::{ColumnTrait, QueryFilter, QuerySelect};
    let mut report = ChainReport {
        events: 0,
        broken: vec![],
    };
    let mut prev = GENESIS_HASH.to_owned();
    let mut after = 0i64;
    loop {
        let page = audit_event::Entity::find()
            .filter(audit_event::Column::Id.gt(after))
            .order_by_asc(audit_event::Column::Id)
            .limit(1_000)
            .all(db)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for e in &page {
            report.events += 1;
            if e.prev_hash != prev || stored_hash(e) != e.hash {
                report.broken.push(e.id);
            }
            prev = e.hash.clone();
        }
    }
    Ok(report)
}
