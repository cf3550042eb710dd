//! Test databases: a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards.

use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use fapiao_domain::{OrderId, OrderKey, SPappId, Timestamp};
use fapiao_storage::{Database, DatabaseOptions};
use sea_orm::ConnectionTrait;
use tempfile::TempDir;

/// The variable naming a PostgreSQL database for the PostgreSQL variants.
pub const DATABASE_URL_VAR: &str = "FAPIAO_TEST_DATABASE_URL";

/// Which backend a test variant runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A migrated database private to one test; dropped (file or schema) with it.
pub struct TestDb {
    pub db: Database,
    pub url: String,
    pub kind: Kind,
    _dir: Option<TempDir>,
    schema: Option<(String, String)>,
}

impl TestDb {
    /// A fresh migrated database of `kind`.
    pub async fn new(kind: Kind) -> TestDb {
        let test_db = TestDb::unmigrated(kind).await;
        test_db.db.migrate().await.expect("migrations apply");
        test_db
    }

    /// Like [`TestDb::new`] without running the migrations.
    pub async fn unmigrated(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("fapiao.db").display());
                let db = Database::connect(&url).await.expect("open sqlite file");
                TestDb {
                    db,
                    url,
                    kind,
                    _dir: Some(dir),
                    schema: None,
                }
            }
            Kind::Postgres => {
                let url = std::env::var(DATABASE_URL_VAR).expect("checked by postgres_configured");
                let schema = unique_schema_name();
                let admin = sea_orm::Database::connect(url.as_str())
                    .await
                    .expect("connect to FAPIAO_TEST_DATABASE_URL");
                admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                    .await
                    .expect("create test schema");
                admin.close().await.expect("close admin connection");
                let options = DatabaseOptions {
                    postgres_schema: Some(schema.clone()),
                    max_connections: Some(8),
                    ..DatabaseOptions::default()
                };
                let db = Database::connect_with(&url, &options)
                    .await
                    .expect("connect to the test schema");
                TestDb {
                    db,
                    url: url.clone(),
                    kind,
                    _dir: None,
                    schema: Some((url, schema)),
                }
            }
        }
    }

    /// The PostgreSQL schema of this test.
    pub fn schema_name(&self) -> Option<&str> {
        self.schema.as_ref().map(|(_, schema)| schema.as_str())
    }

    /// A plain sea-orm connection to the test database (in the test schema on PostgreSQL),
    /// for looking at rows the public API does not show.
    pub async fn raw_connection(&self) -> sea_orm::DatabaseConnection {
        let mut options = sea_orm::ConnectOptions::new(self.url.as_str());
        options.max_connections(1);
        if let Some(schema) = self.schema_name() {
            options.set_schema_search_path(schema.to_owned());
        }
        sea_orm::Database::connect(options)
            .await
            .expect("raw connection")
    }

    /// Another pool on the same database (a second instance).
    pub async fn second_instance(&self) -> Database {
        match &self.schema {
            None => Database::connect(&self.url)
                .await
                .expect("reopen sqlite file"),
            Some((url, schema)) => Database::connect_with(
                url,
                &DatabaseOptions {
                    postgres_schema: Some(schema.clone()),
                    ..DatabaseOptions::default()
                },
            )
            .await
            .expect("second pool"),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((url, schema)) = self.schema.take() else {
            return;
        };
        // Drop is synchronous and may run inside a runtime, so drop the schema on a thread
        // with a runtime of its own; this also runs when the test panicked.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("cleanup runtime");
            runtime.block_on(async move {
                let admin = sea_orm::Database::connect(url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(std::io::stderr(), "warning: test schema not dropped");
        }
    }
}

/// Whether the PostgreSQL variants run; prints a skip line for `test` when they don't.
pub fn postgres_configured(test: &str) -> bool {
    if std::env::var_os(DATABASE_URL_VAR).is_some() {
        return true;
    }
    // Written straight to stderr, which the test harness does not capture.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}::postgres: {DATABASE_URL_VAR} is not set"
    );
    false
}

fn unique_schema_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "fapiao_test_{}_{}_{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Defines `mod $name { sqlite, postgres }` running the async fn `$body(Kind)` on each
/// backend, on a multi-threaded runtime so concurrency tests really run in parallel.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name($crate::harness::Kind::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    if !$crate::harness::postgres_configured(module_path!()) {
                        return;
                    }
                    super::$name($crate::harness::Kind::Postgres).await;
                }
            }
        )*
    };
}

pub fn key(order_id: &str) -> OrderKey {
    OrderKey {
        s_pappid: SPappId::parse("wxpappid_test").expect("valid s_pappid"),
        order_id: OrderId::parse(order_id).expect("valid order id"),
    }
}

pub fn at(millis: i64) -> Timestamp {
    Timestamp::from_millis(millis)
}
