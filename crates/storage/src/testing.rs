//! Databases for tests and benchmarks (feature `testing`): a fresh SQLite file in a temporary
//! directory, or a fresh PostgreSQL schema, removed afterwards.
//!
//! One helper for the storage suite, the end-to-end suite and `fapiao-bench`, so they all
//! create, name and clean up their databases the same way. Turn the feature on from
//! `[dev-dependencies]` (or from the bench); production builds never compile this module.

use std::error::Error as StdError;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, QueryResult, Statement};
use tempfile::TempDir;
use tokio::sync::OnceCell;

use crate::db::{Backend, Database, DatabaseOptions};

/// The variable naming the PostgreSQL database the PostgreSQL variants of the tests run on.
pub const DATABASE_URL_VAR: &str = "FAPIAO_TEST_DATABASE_URL";

/// Setting up, querying or removing a test database failed.
#[derive(Debug, thiserror::Error)]
#[error("test database: {what}")]
pub struct TestDatabaseError {
    what: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl TestDatabaseError {
    fn new(what: impl Into<String>, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    fn plain(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            source: None,
        }
    }
}

/// Whether the PostgreSQL variant of `test` runs, i.e. whether [`DATABASE_URL_VAR`] is set.
///
/// When it is not, this prints `SKIPPED <test>::postgres: FAPIAO_TEST_DATABASE_URL is not set`
/// straight to stderr, which the test harness does not capture, so CI can count skips.
pub fn postgres_enabled(test: &str) -> bool {
    if std::env::var_os(DATABASE_URL_VAR).is_some() {
        return true;
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED {test}::postgres: {DATABASE_URL_VAR} is not set"
    );
    false
}

/// A database private to one test or benchmark run, not migrated yet.
///
/// On SQLite it is `fapiao.db` in a new temporary directory; on PostgreSQL a new schema that
/// every pooled connection works in. [`TestDatabase::close`] removes it; dropping it without
/// closing removes it too (the schema on a thread of its own, so this also runs when a test
/// panicked).
#[derive(Debug)]
pub struct TestDatabase {
    db: Database,
    backend: Backend,
    url: String,
    dir: Option<TempDir>,
    // The server URL and the schema, while the schema exists.
    schema: Option<(String, String)>,
    // A plain connection for `count`, `execute` and `query`, opened on first use, so that
    // looking at rows never takes a connection from the pool the code under test uses.
    raw: OnceCell<DatabaseConnection>,
}

impl TestDatabase {
    /// A fresh database of `backend`; PostgreSQL at [`DATABASE_URL_VAR`], with the default
    /// options. `label` starts the directory or schema name (e.g. `fapiao_e2e_restart`).
    ///
    /// # Errors
    /// When [`DATABASE_URL_VAR`] is unset for PostgreSQL, or the database cannot be set up.
    pub async fn new(backend: Backend, label: &str) -> Result<TestDatabase, TestDatabaseError> {
        let postgres_url = match backend {
            Backend::Sqlite => String::new(),
            Backend::Postgres => std::env::var(DATABASE_URL_VAR)
                .map_err(|_| TestDatabaseError::plain(format!("{DATABASE_URL_VAR} is not set")))?,
        };
        TestDatabase::connect(backend, label, &postgres_url, DatabaseOptions::default()).await
    }

    /// A fresh database of `backend` with explicit options; `postgres_url` names the server
    /// for PostgreSQL and is ignored for SQLite. `options.postgres_schema` is replaced by the
    /// new schema.
    ///
    /// # Errors
    /// When the directory, the file, the schema or the pool cannot be created.
    pub async fn connect(
        backend: Backend,
        label: &str,
        postgres_url: &str,
        mut options: DatabaseOptions,
    ) -> Result<TestDatabase, TestDatabaseError> {
        let name = unique_name(label);
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::Builder::new()
                    .prefix(&format!("{name}-"))
                    .tempdir()
                    .map_err(|err| TestDatabaseError::new("temporary directory", err))?;
                let url = format!("sqlite://{}", dir.path().join("fapiao.db").display());
                let db = Database::connect_with(&url, &options)
                    .await
                    .map_err(|err| TestDatabaseError::new("open the SQLite file", err))?;
                Ok(TestDatabase {
                    db,
                    backend,
                    url,
                    dir: Some(dir),
                    schema: None,
                    raw: OnceCell::new(),
                })
            }
            Backend::Postgres => {
                let admin = sea_orm::Database::connect(postgres_url)
                    .await
                    .map_err(|err| {
                        TestDatabaseError::new(format!("connect to {postgres_url}"), err)
                    })?;
                let created = admin
                    .execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
                    .await;
                let _ = admin.close().await;
                created.map_err(|err| TestDatabaseError::new("create the schema", err))?;
                options.postgres_schema = Some(name.clone());
                let schema = Some((postgres_url.to_owned(), name));
                match Database::connect_with(postgres_url, &options).await {
                    Ok(db) => Ok(TestDatabase {
                        db,
                        backend,
                        url: postgres_url.to_owned(),
                        dir: None,
                        schema,
                        raw: OnceCell::new(),
                    }),
                    Err(err) => {
                        if let Some((url, schema)) = schema {
                            let _ = drop_schema(&url, &schema).await;
                        }
                        Err(TestDatabaseError::new("connect to the schema", err))
                    }
                }
            }
        }
    }

    /// The pool on this database; clones share it.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL to connect with: the SQLite file's, or the PostgreSQL server's (then also set
    /// the schema, [`TestDatabase::postgres_schema`]).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The PostgreSQL schema every connection must work in.
    pub fn postgres_schema(&self) -> Option<&str> {
        self.schema.as_ref().map(|(_, schema)| schema.as_str())
    }

    /// The SQLite file.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.path().join("fapiao.db"))
    }

    /// Another pool on the same database, as a second instance of the service would open.
    ///
    /// # Errors
    /// When the pool cannot connect.
    pub async fn second_instance(&self) -> Result<Database, TestDatabaseError> {
        let options = DatabaseOptions {
            postgres_schema: self.postgres_schema().map(str::to_owned),
            ..DatabaseOptions::default()
        };
        Database::connect_with(&self.url, &options)
            .await
            .map_err(|err| TestDatabaseError::new("second pool", err))
    }

    /// The first column of the first row of `sql`, e.g. `SELECT COUNT(*) FROM jobs`.
    ///
    /// # Errors
    /// When the query fails or answers no row or no integer.
    pub async fn count(&self, sql: &str) -> Result<i64, TestDatabaseError> {
        let rows = self.query(sql).await?;
        let row = rows
            .first()
            .ok_or_else(|| TestDatabaseError::plain(format!("no row from {sql}")))?;
        row.i64(0)
    }

    /// Runs `sql` (one statement, or several separated by `;`) and ignores what it answers.
    ///
    /// # Errors
    /// When a statement fails.
    pub async fn execute(&self, sql: &str) -> Result<(), TestDatabaseError> {
        self.raw()
            .await?
            .execute_unprepared(sql)
            .await
            .map_err(|err| TestDatabaseError::new(format!("execute {sql}"), err))?;
        Ok(())
    }

    /// The rows `sql` answers.
    ///
    /// # Errors
    /// When the query fails.
    pub async fn query(&self, sql: &str) -> Result<Vec<Row>, TestDatabaseError> {
        let raw = self.raw().await?;
        let rows = raw
            .query_all_raw(Statement::from_string(raw.get_database_backend(), sql))
            .await
            .map_err(|err| TestDatabaseError::new(format!("query {sql}"), err))?;
        Ok(rows.into_iter().map(Row).collect())
    }

    /// Closes the pool (every clone of [`TestDatabase::database`] with it) and removes the
    /// file or the schema.
    ///
    /// # Errors
    /// When the schema cannot be dropped.
    pub async fn close(mut self) -> Result<(), TestDatabaseError> {
        if let Some(raw) = self.raw.take() {
            let _ = raw.close().await;
        }
        let _ = self.db.clone().close().await;
        if let Some((url, schema)) = self.schema.take() {
            drop_schema(&url, &schema).await?;
        }
        // The temporary directory goes when `self` drops.
        Ok(())
    }

    async fn raw(&self) -> Result<&DatabaseConnection, TestDatabaseError> {
        self.raw
            .get_or_try_init(|| async {
                let mut options = ConnectOptions::new(self.url.as_str());
                options.sqlx_logging(false);
                if let Some(schema) = self.postgres_schema() {
                    options.set_schema_search_path(schema.to_owned());
                }
                sea_orm::Database::connect(options)
                    .await
                    .map_err(|err| TestDatabaseError::new("plain connection", err))
            })
            .await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((url, schema)) = self.schema.take() else {
            return;
        };
        // Drop is synchronous and may run inside a runtime, so the schema is dropped on a
        // thread with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|err| TestDatabaseError::new("cleanup runtime", err))?
                .block_on(drop_schema(&url, &schema))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            let _ = writeln!(std::io::stderr(), "warning: test schema not dropped");
        }
    }
}

/// One row of [`TestDatabase::query`], read by column index.
#[derive(Debug)]
pub struct Row(QueryResult);

impl Row {
    /// The integer in column `index`.
    ///
    /// # Errors
    /// When there is no such column or it holds no integer.
    pub fn i64(&self, index: usize) -> Result<i64, TestDatabaseError> {
        self.0
            .try_get_by_index(index)
            .map_err(|err| TestDatabaseError::new(format!("column {index}"), err))
    }

    /// The text in column `index`.
    ///
    /// # Errors
    /// When there is no such column or it holds no text.
    pub fn string(&self, index: usize) -> Result<String, TestDatabaseError> {
        self.0
            .try_get_by_index(index)
            .map_err(|err| TestDatabaseError::new(format!("column {index}"), err))
    }
}

async fn drop_schema(url: &str, schema: &str) -> Result<(), TestDatabaseError> {
    let admin = sea_orm::Database::connect(url)
        .await
        .map_err(|err| TestDatabaseError::new(format!("connect to {url}"), err))?;
    let dropped = admin
        .execute_unprepared(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
        .await;
    let _ = admin.close().await;
    dropped.map_err(|err| TestDatabaseError::new(format!("drop schema {schema}"), err))?;
    Ok(())
}

/// `label`, cut to 32 bytes, then the process id, a counter and the clock's nanoseconds: unique
/// across parallel tests and processes, and within PostgreSQL's 63-byte identifiers.
fn unique_name(label: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mut cut = label.len().min(32);
    while !label.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(
        "{}_{}_{}_{nanos}",
        &label[..cut],
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
