use sea_orm::{ConnectionTrait, Statement};

use super::*;

/// `PRAGMA synchronous` as a connection of `conn` sees it (0 OFF, 1 NORMAL, 2 FULL).
async fn synchronous(conn: &DatabaseConnection) -> i32 {
    let row = conn
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
    assert_eq!(synchronous(durable.conn()).await, 2, "FULL by default");

    let options = DatabaseOptions {
        sqlite_synchronous: SqliteSync::Normal,
        ..DatabaseOptions::default()
    };
    let faster = Database::connect_with(&url("normal.db"), &options)
        .await
        .expect("connect");
    assert_eq!(synchronous(faster.conn()).await, 1, "NORMAL when asked");

    // With FULL the writer commits with NORMAL and the syncer syncs the WAL after; with
    // NORMAL the writer is NORMAL and nothing syncs.
    assert_eq!(synchronous(&durable.writer).await, 1, "pipelined writer");
    assert_eq!(synchronous(&faster.writer).await, 1);
}

/// With FULL, a commit returns only after a sync that began after SQLite's `COMMIT`; the
/// writer runs the next group meanwhile; a failed sync fails the commit it was to confirm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_returns_only_after_the_wal_sync_that_follows_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("sync.db").display());
    // Each sync takes the next answer the test gives, waiting for it.
    let (answer, answers) = std::sync::mpsc::channel::<std::io::Result<()>>();
    let answers = std::sync::Mutex::new(answers);
    let syncs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = syncs.clone();
    let sync: sync::SyncFn = std::sync::Arc::new(move || {
        counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        answers
            .lock()
            .expect("answers")
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("test over")))
    });
    let db = Database::open(&url, &DatabaseOptions::default(), Some(sync))
        .await
        .expect("connect");
    answer.send(Ok(())).expect("setup's sync");
    let setup = db.begin_write().await.expect("begin");
    setup
        .execute_unprepared("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        .await
        .expect("create");
    setup.commit().await.expect("setup commits once synced");
    assert_eq!(syncs.load(std::sync::atomic::Ordering::SeqCst), 1);

    let first = db.begin_write().await.expect("begin");
    insert(&first, 1).await.expect("insert");
    let first = tokio::spawn(first.commit());
    // SQLite's COMMIT returned (a reader sees the row), the commit has not: no sync yet.
    wait_for_keys(&db, &[1]).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(!first.is_finished(), "returned before its sync");

    // The writer goes on while the sync waits: the next group is written meanwhile.
    let second = db.begin_write().await.expect("the writer is free");
    insert(&second, 2).await.expect("insert");
    let second = tokio::spawn(second.commit());
    wait_for_keys(&db, &[1, 2]).await;

    answer.send(Ok(())).expect("first sync");
    first.await.expect("task").expect("durable after its sync");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert!(
        !second.is_finished(),
        "its group committed after that sync began"
    );
    answer
        .send(Err(std::io::Error::other("disk gone")))
        .expect("second sync");
    let failed = second.await.expect("task");
    assert!(
        failed
            .as_ref()
            .is_err_and(|err| err.to_string().contains("disk gone")),
        "{failed:?}"
    );
    assert_eq!(syncs.load(std::sync::atomic::Ordering::SeqCst), 3);
}

/// Waits (up to 5 s) until a reader sees exactly `expected` in `t`.
async fn wait_for_keys(db: &Database, expected: &[i64]) {
    for _ in 0..500 {
        if keys(db).await == expected {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(keys(db).await, expected);
}

/// The WAL sync of a real file: commits to it are durable (a fresh connection, after the
/// first closed, reads them) and the sync of a WAL that is gone falls back to the database.
#[tokio::test]
async fn the_wal_sync_syncs_the_file_sqlite_writes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("wal.db");
    let db = Database::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    let file = database_file(&db.writer).await.expect("the file");
    assert_eq!(
        file.canonicalize().expect("exists"),
        path.canonicalize().expect("exists")
    );
    let sync = sync::wal_sync(file.clone());
    sync().expect("the WAL syncs");
    db.close().await.expect("close");
    assert!(!dir.path().join("wal.db-wal").exists(), "SQLite removed it");
    sync().expect("the database file syncs instead");
    std::fs::remove_file(&path).expect("remove");
    assert!(sync().is_err(), "nothing to sync is an error");
}

/// Rows of the scratch table `t`, in key order.
async fn keys(db: &Database) -> Vec<i64> {
    db.conn()
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT k FROM t ORDER BY k",
        ))
        .await
        .expect("select")
        .iter()
        .map(|row| row.try_get_by_index(0).expect("an integer"))
        .collect()
}

async fn insert(txn: &WriteTxn, k: i64) -> Result<(), DbErr> {
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "INSERT INTO t (k) VALUES (?)",
        [k.into()],
    ))
    .await
    .map(|_| ())
}

/// Many concurrent write transactions share group commits on SQLite, and each one's outcome
/// is its own: a unit that fails midway, or is dropped, leaves nothing behind (its savepoint
/// is rolled back) and takes nothing from the others; a unit whose commit returned is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_a_commit_and_fail_alone() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("group.db").display());
    let db = Database::connect(&url).await.expect("connect");
    let setup = db.begin_write().await.expect("begin");
    setup
        .execute_unprepared("CREATE TABLE t (k INTEGER PRIMARY KEY)")
        .await
        .expect("create");
    insert(&setup, 0)
        .await
        .expect("the row every duplicate meets");
    setup.commit().await.expect("commit");

    let units = 300_i64;
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(
        usize::try_from(units).unwrap_or(1),
    ));
    let mut tasks = Vec::new();
    for i in 1..=units {
        let (db, start) = (db.clone(), start.clone());
        tasks.push(tokio::spawn(async move {
            start.wait().await;
            let txn = db.begin_write().await?;
            insert(&txn, i).await?;
            match i % 5 {
                // Fails midway: its first row must go too.
                0 => {
                    insert(&txn, 0).await?;
                    Ok(false)
                }
                // Dropped without a commit.
                1 => Ok(false),
                _ => txn.commit().await.map(|()| true),
            }
        }));
    }
    let mut expected = vec![0];
    for (i, task) in (1..=units).zip(tasks) {
        let outcome: Result<bool, DbErr> = task.await.expect("task");
        match i % 5 {
            0 => assert!(
                outcome.is_err(),
                "unit {i} inserted a duplicate: {outcome:?}"
            ),
            1 => assert!(matches!(outcome, Ok(false)), "unit {i}: {outcome:?}"),
            _ => {
                assert!(matches!(outcome, Ok(true)), "unit {i}: {outcome:?}");
                expected.push(i);
            }
        }
    }
    assert_eq!(keys(&db).await, expected);

    // A committed unit is durable: a fresh connection to the file sees it.
    drop(db);
    let again = Database::connect(&url).await.expect("reconnect");
    assert_eq!(keys(&again).await, expected);
}

/// A writer that waits longer than the busy timeout for its turn gets a timeout, not a hang.
#[tokio::test]
async fn a_write_waiting_past_the_busy_timeout_fails() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("busy.db").display());
    let options = DatabaseOptions {
        busy_timeout: std::time::Duration::from_millis(200),
        ..DatabaseOptions::default()
    };
    let db = Database::connect_with(&url, &options)
        .await
        .expect("connect");
    let holder = db.begin_write().await.expect("first");
    let waiting = db.begin_write().await;
    assert!(
        matches!(waiting, Err(DbErr::ConnectionAcquire(_))),
        "{waiting:?}"
    );
    holder.commit().await.expect("the holder still commits");
    db.begin_write()
        .await
        .expect("and the next one gets its turn");
}
