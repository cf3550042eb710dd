//! The shared test-database helper keeps its promises: a fresh database per call, rows read
//! over its own connection, and nothing left behind after `close` or a drop.

use fapiao_storage::testing::{DATABASE_URL_VAR, TestDatabase};
use sea_orm::{ConnectionTrait, Statement};

use crate::harness::Kind;
use crate::on_both;

on_both!(close_removes_the_database, drop_removes_the_database);

async fn fresh(kind: Kind) -> TestDatabase {
    let test_db = TestDatabase::new(kind, "fapiao_helper")
        .await
        .expect("a fresh database");
    test_db
        .execute("CREATE TABLE probe (name TEXT NOT NULL, n BIGINT NOT NULL)")
        .await
        .expect("create a table");
    test_db
}

async fn close_removes_the_database(kind: Kind) {
    let test_db = fresh(kind).await;
    assert_eq!(test_db.backend(), kind);
    test_db
        .execute("INSERT INTO probe VALUES ('b', 2); INSERT INTO probe VALUES ('a', 1)")
        .await
        .expect("two statements");
    assert_eq!(
        test_db
            .count("SELECT COUNT(*) FROM probe")
            .await
            .expect("count"),
        2
    );
    let rows = test_db
        .query("SELECT name, n FROM probe ORDER BY name")
        .await
        .expect("rows");
    let read: Vec<(String, i64)> = rows
        .iter()
        .map(|row| (row.string(0).expect("text"), row.i64(1).expect("integer")))
        .collect();
    assert_eq!(read, [("a".to_owned(), 1), ("b".to_owned(), 2)]);
    let other = fresh(kind).await;
    assert_eq!(
        other
            .count("SELECT COUNT(*) FROM probe")
            .await
            .expect("count"),
        0,
        "each call makes a database of its own"
    );
    let gone = where_it_lives(&test_db);
    test_db.close().await.expect("close");
    assert!(!exists(kind, &gone).await, "{gone} is left behind");
    other.close().await.expect("close");
}

async fn drop_removes_the_database(kind: Kind) {
    let test_db = fresh(kind).await;
    let gone = where_it_lives(&test_db);
    drop(test_db);
    assert!(!exists(kind, &gone).await, "{gone} is left behind");
}

/// The SQLite file's path or the PostgreSQL schema's name.
fn where_it_lives(test_db: &TestDatabase) -> String {
    match test_db.backend() {
        Kind::Sqlite => test_db.sqlite_path().expect("a file").display().to_string(),
        Kind::Postgres => test_db.postgres_schema().expect("a schema").to_owned(),
    }
}

async fn exists(kind: Kind, place: &str) -> bool {
    match kind {
        Kind::Sqlite => std::path::Path::new(place).exists(),
        Kind::Postgres => {
            let url = std::env::var(DATABASE_URL_VAR).expect("checked by on_both");
            let admin = sea_orm::Database::connect(url.as_str())
                .await
                .expect("connect");
            let rows = admin
                .query_all_raw(Statement::from_string(
                    sea_orm::DbBackend::Postgres,
                    format!(
                        "SELECT 1 FROM information_schema.schemata WHERE schema_name = '{place}'"
                    ),
                ))
                .await
                .expect("look up the schema");
            admin.close().await.expect("close");
            !rows.is_empty()
        }
    }
}
