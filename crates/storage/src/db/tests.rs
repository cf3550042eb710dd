use sea_orm::{ConnectionTrait, Statement};

use super::*;

/// `PRAGMA synchronous` as a pooled connection of `db` sees it (0 OFF, 1 NORMAL, 2 FULL).
async fn synchronous(db: &Database) -> i32 {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA synchronous",
        ))
        .await
        .expect("pragma answers")
        .expect("one row");
    row.try_get_by_index(0).expect("an integer")
}

#[tokio::test]
async fn an_sqlite_file_syncs_every_commit_unless_told_otherwise() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());

    let durable = Database::connect(&url("default.db"))
        .await
        .expect("connect");
    assert_eq!(synchronous(&durable).await, 2, "FULL by default");

    let options = DatabaseOptions {
        sqlite_synchronous: SqliteSync::Normal,
        ..DatabaseOptions::default()
    };
    let faster = Database::connect_with(&url("normal.db"), &options)
        .await
        .expect("connect");
    assert_eq!(synchronous(&faster).await, 1, "NORMAL when asked");
}
