//! Test databases: a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards, from
//! `fapiao_storage::testing`.

use fapiao_domain::{OrderId, OrderKey, SPappId, Timestamp};
use fapiao_storage::testing::TestDatabase;
use fapiao_storage::{Database, DatabaseOptions};

pub use fapiao_storage::Backend as Kind;
pub use fapiao_storage::testing::postgres_enabled as postgres_configured;

/// A migrated database private to one test; dropped (file or schema) with it.
pub struct TestDb {
    pub db: Database,
    pub kind: Kind,
    inner: TestDatabase,
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
        let url = match kind {
            Kind::Sqlite => String::new(),
            Kind::Postgres => std::env::var(fapiao_storage::testing::DATABASE_URL_VAR)
                .expect("checked by postgres_configured"),
        };
        let options = DatabaseOptions {
            max_connections: (kind == Kind::Postgres).then_some(8),
            ..DatabaseOptions::default()
        };
        let inner = TestDatabase::connect(kind, "fapiao_test", &url, options)
            .await
            .expect("a fresh test database");
        TestDb {
            db: inner.database().clone(),
            kind,
            inner,
        }
    }

    /// A plain sea-orm connection to the test database (in the test schema on PostgreSQL),
    /// for looking at rows the public API does not show.
    pub async fn raw_connection(&self) -> sea_orm::DatabaseConnection {
        let mut options = sea_orm::ConnectOptions::new(self.inner.url());
        options.max_connections(1);
        if let Some(schema) = self.inner.postgres_schema() {
            options.set_schema_search_path(schema.to_owned());
        }
        sea_orm::Database::connect(options)
            .await
            .expect("raw connection")
    }

    /// Another pool on the same database (a second instance).
    pub async fn second_instance(&self) -> Database {
        self.inner.second_instance().await.expect("second pool")
    }
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
