//! Token checks kept in memory, so a request need not read `api_token` while nothing changed.
//!
//! PostgreSQL only. Migration 8's triggers send a notification on [`CHANNEL`] whenever a token
//! record changes (payload: its id) or organisations do (payload `*`); a listener task on a
//! connection of its own makes the cache forget the token, or everything. The cache answers
//! only while that listener is connected: before it is, after it loses its connection and
//! until it listens again, every request reads the database, as every request does on SQLite.
//! A revoked token is thus refused as soon as the revoking transaction's notification arrives
//! (milliseconds), and after [`MAX_AGE`] at the latest should a notification never come.
//!
//! A plain map behind a mutex, not a cache crate: what matters is the generation check (a read
//! that raced a notification is not kept), which no cache crate does for us.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use sea_orm::sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use sea_orm::{DatabaseConnection, DbBackend};

/// The channel migration 8's triggers notify on.
pub const CHANNEL: &str = "werkbrug_api_token";
/// The payload that means "organisations or all tokens changed".
const EVERYTHING: &str = "*";
/// How long a kept check answers at most, should its notification never come.
pub const MAX_AGE: Duration = Duration::from_secs(60);
/// Most tokens kept; the cache starts over when full.
const CAPACITY: usize = 10_000;

/// What the database says about one token id: the record and its organisation.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    /// The role it was issued for.
    pub role: String,
    /// Whether it was revoked.
    pub revoked: bool,
    /// Its organisation's id.
    pub organisation_id: i64,
    /// Its organisation's code.
    pub organisation_code: String,
}

#[derive(Default)]
struct Inner {
    listening: bool,
    /// Counts every change heard (and every start or loss of listening).
    generation: u64,
    records: HashMap<String, (TokenRecord, Instant)>,
}

/// Token checks made while nothing changed (see the module docs).
#[derive(Default)]
pub struct TokenCache(Mutex<Inner>);

/// Permission to keep what a database read returns, unless a change is heard meanwhile.
#[derive(Debug)]
pub struct Ticket(u64);

impl TokenCache {
    /// A cache kept true by `db`'s notifications on PostgreSQL (the listener runs on the
    /// current tokio runtime); one that never answers on other databases or outside a runtime.
    pub fn start(db: &DatabaseConnection) -> Arc<Self> {
        let cache = Arc::new(Self::default());
        if db.get_database_backend() == DbBackend::Postgres
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let pool = db.get_postgres_connection_pool();
            let own = PgPoolOptions::new()
                .max_connections(1)
                .connect_lazy_with((*pool.connect_options()).clone());
            runtime.spawn(listen(Arc::downgrade(&cache), own));
        }
        cache
    }

    /// The kept record of token `id`, or a ticket to keep the one the caller reads now.
    pub fn get(&self, id: &str) -> Result<TokenRecord, Ticket> {
        let inner = self.lock();
        match inner.records.get(id) {
            Some((record, at)) if inner.listening && at.elapsed() < MAX_AGE => Ok(record.clone()),
            _ => Err(Ticket(inner.generation)),
        }
    }

    /// Keeps `record` for token `id`, unless a change was heard since `ticket` was taken.
    pub fn keep(&self, ticket: Ticket, id: &str, record: &TokenRecord) {
        let mut inner = self.lock();
        if !inner.listening || inner.generation != ticket.0 {
            return;
        }
        if inner.records.len() >= CAPACITY {
            inner.records.clear();
        }
        inner
            .records
            .insert(id.to_owned(), (record.clone(), Instant::now()));
    }

    /// Whether the cache answers (its listener is connected).
    pub fn is_listening(&self) -> bool {
        self.lock().listening
    }

    /// Forgets token `id`, or every token when `None`.
    fn forget(&self, id: Option<&str>) {
        let mut inner = self.lock();
        inner.generation += 1;
        match id {
            Some(id) => {
                inner.records.remove(id);
            }
            None => inner.records.clear(),
        }
    }

    /// Starts or stops answering; either way from an empty cache.
    fn set_listening(&self, listening: bool) {
        let mut inner = self.lock();
        inner.listening = listening;
        inner.generation += 1;
        inner.records.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves the map consistent, so a panic elsewhere cannot poison it.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Listens on [`CHANNEL`] until the cache is dropped, connecting again (with backoff) when the
/// connection is lost.
async fn listen(cache: Weak<TokenCache>, pool: PgPool) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match subscribe(&pool).await {
            Ok(mut listener) => {
                let Some(c) = cache.upgrade() else { return };
                c.set_listening(true);
                drop(c);
                backoff = Duration::from_millis(250);
                loop {
                    let heard = listener.try_recv().await;
                    let Some(c) = cache.upgrade() else { return };
                    match heard {
                        Ok(Some(n)) if n.payload() == EVERYTHING => c.forget(None),
                        Ok(Some(n)) => c.forget(Some(n.payload())),
                        // The connection was lost and is listening again: whatever changed in
                        // between was not heard.
                        Ok(None) => c.forget(None),
                        Err(e) => {
                            c.set_listening(false);
                            tracing::warn!(error = %e, "token checks: lost the notification connection; every request reads the database until it is back");
                            break;
                        }
                    }
                }
            }
            Err(e) => {
                let Some(c) = cache.upgrade() else { return };
                c.set_listening(false);
                tracing::warn!(error = %e, "token checks: cannot listen for changes; every request reads the database until it can");
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(30));
        if cache.strong_count() == 0 {
            return;
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TokenRecord {
        TokenRecord {
            role: "partner".into(),
            revoked: false,
            organisation_id: 1,
            organisation_code: "x".into(),
        }
    }

    #[test]
    fn answers_only_while_listening_and_keeps_no_read_that_raced_a_change() {
        let cache = TokenCache::default();
        let ticket = cache.get("a").unwrap_err();
        cache.keep(ticket, "a", &record());
        assert!(cache.get("a").is_err(), "not listening: nothing kept");

        cache.set_listening(true);
        let ticket = cache.get("a").unwrap_err();
        cache.keep(ticket, "a", &record());
        assert_eq!(cache.get("a").unwrap().organisation_code, "x");

        // A read that began before a change was heard is not kept.
        cache.forget(Some("a"));
        let ticket = cache.get("a").unwrap_err();
        cache.forget(Some("b"));
        cache.keep(ticket, "a", &record());
        assert!(cache.get("a").is_err());

        let ticket = cache.get("a").unwrap_err();
        cache.keep(ticket, "a", &record());
        cache.forget(None);
        assert!(
            cache.get("a").is_err(),
            "organisations changed: all forgotten"
        );

        let ticket = cache.get("a").unwrap_err();
        cache.keep(ticket, "a", &record());
        cache.set_listening(false);
        assert!(cache.get("a").is_err(), "listener lost: nothing answers");
    }
}
