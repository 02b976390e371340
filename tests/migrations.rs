//! Migrations run up and down on the test database (SQLite, or PostgreSQL with `TEST_DATABASE_URL`).

mod common;

use migrations::{Migrator, MigratorTrait};
use sea_orm_migration::SchemaManager;

const TABLES: &[&str] = &[
    "organisation",
    "person",
    "person_identity",
    "candidate_profile",
    "sensitive_detail",
    "placement",
    "vacancy",
    "introduction",
    "consent",
    "source",
    "import_run",
    "source_record",
    "rejected_row",
    "audit_event",
    "api_token",
];

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let env = common::TestEnv::empty().await;
    let manager = SchemaManager::new(&env.db);
    Migrator::up(&env.db, None).await.unwrap();
    for t in TABLES {
        assert!(manager.has_table(*t).await.unwrap(), "{t} after up");
    }
    assert!(
        Migrator::get_pending_migrations(&env.db)
            .await
            .unwrap()
            .is_empty()
    );
    Migrator::down(&env.db, None).await.unwrap();
    for t in TABLES {
        assert!(!manager.has_table(*t).await.unwrap(), "{t} after down");
    }
    Migrator::up(&env.db, None).await.unwrap();
    assert!(manager.has_table("audit_event").await.unwrap());
    // Unique key: one source record per source and source key.
    assert!(
        manager
            .has_index("source_record", "ux_source_record_source_id_source_key")
            .await
            .unwrap()
    );
    env.cleanup().await;
}
