//! PostgreSQL only: a notification on channel `werkbrug_api_token` whenever a token record
//! changes (payload: its `token_id`) or organisations change (payload `*`), so that every
//! `werkbrug serve` that keeps token checks in memory forgets them at once (see
//! `server::auth::cache`). SQLite has no notifications; there every request reads the token.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

/// Adds the notifying triggers to `api_token` and `organisation`.
pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000008_token_notifications"
    }
}

const UP: &str = r#"
CREATE FUNCTION werkbrug_api_token_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('werkbrug_api_token', OLD.token_id);
    RETURN NULL;
END
$$;
CREATE FUNCTION werkbrug_api_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('werkbrug_api_token', '*');
    RETURN NULL;
END
$$;
CREATE TRIGGER werkbrug_api_token_changed AFTER UPDATE OR DELETE ON api_token
    FOR EACH ROW EXECUTE FUNCTION werkbrug_api_token_changed();
CREATE TRIGGER werkbrug_api_tokens_truncated AFTER TRUNCATE ON api_token
    FOR EACH STATEMENT EXECUTE FUNCTION werkbrug_api_tokens_changed();
CREATE TRIGGER werkbrug_organisations_changed AFTER UPDATE OR DELETE OR TRUNCATE ON organisation
    FOR EACH STATEMENT EXECUTE FUNCTION werkbrug_api_tokens_changed();
"#;

const DOWN: &str = r#"
DROP TRIGGER IF EXISTS werkbrug_organisations_changed ON organisation;
DROP TRIGGER IF EXISTS werkbrug_api_tokens_truncated ON api_token;
DROP TRIGGER IF EXISTS werkbrug_api_token_changed ON api_token;
DROP FUNCTION IF EXISTS werkbrug_api_tokens_changed();
DROP FUNCTION IF EXISTS werkbrug_api_token_changed();
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(UP).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager.get_connection().execute_unprepared(DOWN).await?;
        }
        Ok(())
    }
}
