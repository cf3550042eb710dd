//! Connecting to SQLite or PostgreSQL and migrating the schema.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use std::path::PathBuf;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::migration::Migrator;

mod sync;
#[cfg(test)]
mod tests;
mod write;

pub use write::WriteTxn;

/// Which database a [`Database`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite: one file (or memory), one writer at a time.
    Sqlite,
    /// PostgreSQL: several instances may share it.
    Postgres,
}

/// Tuning for [`Database::connect_with`]; [`DatabaseOptions::default`] suits most deployments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseOptions {
    /// Pool size. Default: 10 on PostgreSQL, 4 on an SQLite file, 1 for SQLite in memory.
    pub max_connections: Option<u32>,
    /// How long a connection waits for the pool, and an SQLite writer for the write lock.
    pub busy_timeout: Duration,
    /// PostgreSQL only: the schema every pooled connection works in (`SET search_path`), e.g.
    /// to share one database between environments. The schema must exist.
    pub postgres_schema: Option<String>,
    /// SQLite file only: when a commit reaches the disk. PostgreSQL keeps its own setting
    /// (`synchronous_commit = on` unless the server says otherwise).
    pub sqlite_synchronous: SqliteSync,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        Self {
            max_connections: None,
            busy_timeout: Duration::from_secs(5),
            postgres_schema: None,
            sqlite_synchronous: SqliteSync::default(),
        }
    }
}

/// SQLite's `synchronous` setting for a file database in WAL mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SqliteSync {
    /// A commit returns only once the WAL is synced: a commit that returned survives a power
    /// loss. The default, because a lost `issuing` save may mean a second invoice. (The sync
    /// runs after SQLite's `COMMIT`, beside the next writes, not inside it: see `db/sync.rs`.)
    #[default]
    Full,
    /// The WAL is synced at checkpoints only: the last commits may roll back on a power loss
    /// (never on a crash of the process); faster, see `docs/BENCHMARKS.md`.
    Normal,
}

/// Setting up the database failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The URL names no supported database.
    #[error(
        "unsupported database url: expected `sqlite:<path>`, `sqlite::memory:` or `postgres://…`"
    )]
    UnsupportedUrl,
    /// The database could not be opened or reached.
    #[error("cannot connect to the database")]
    Connect(#[source] Box<dyn StdError + Send + Sync>),
    /// A migration failed; the schema is as the last successful migration left it.
    #[error("database migration failed")]
    Migration(#[source] Box<dyn StdError + Send + Sync>),
}

/// A pool of connections to fapiao's database; cheap to clone.
///
/// Repositories (`SeaOrmOrderRepository`, `SeaOrmJobQueue`, …) each hold a clone.
#[derive(Clone)]
pub struct Database {
    conn: DatabaseConnection,
    /// Where writes go. On an SQLite file, a pool of its own with one connection: SQLite has
    /// one writer, and writers that meet at its lock wait in its busy handler, which sleeps
    /// whole milliseconds; queued here they take turns at once. Elsewhere a clone of `conn`.
    writer: DatabaseConnection,
    separate_writer: bool,
    /// On SQLite, the group writer that owns `writer` (see [`write`]).
    group: Option<write::Requests>,
    busy_timeout: Duration,
    backend: Backend,
}

/// How often a background task checkpoints an SQLite file's WAL into the database
/// (`PRAGMA wal_checkpoint(PASSIVE)`), instead of the commit that crosses SQLite's threshold.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password, so only the backend is shown.
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Database {
    /// Connects with [`DatabaseOptions::default`].
    ///
    /// `sqlite:fapiao.db` (or `sqlite://fapiao.db`) opens that file, creating it if missing, in
    /// WAL mode with a busy timeout and foreign keys on; `sqlite::memory:` is a private
    /// in-memory database; `postgres://user@host/db` opens a pool to PostgreSQL.
    ///
    /// # Errors
    /// [`StorageError::UnsupportedUrl`] for another scheme, [`StorageError::Connect`] when the
    /// database cannot be opened.
    pub async fn connect(url: &str) -> Result<Database, StorageError> {
        Database::connect_with(url, &DatabaseOptions::default()).await
    }

    /// Connects with explicit options; see [`Database::connect`].
    ///
    /// # Errors
    /// As for [`Database::connect`].
    pub async fn connect_with(
        url: &str,
        options: &DatabaseOptions,
    ) -> Result<Database, StorageError> {
        Database::open(url, options, None).await
    }

    /// [`Database::connect_with`], with `sync` instead of the WAL sync when the writes are
    /// pipelined (tests hold it to see that no commit returns before it).
    pub(crate) async fn open(
        url: &str,
        options: &DatabaseOptions,
        sync: Option<sync::SyncFn>,
    ) -> Result<Database, StorageError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StorageError::UnsupportedUrl);
        };
        let mut connect = ConnectOptions::new(url);
        connect
            .acquire_timeout(options.busy_timeout)
            .connect_timeout(options.busy_timeout)
            .sqlx_logging(false);
        match backend {
            Backend::Sqlite => {
                let in_memory = is_in_memory(url);
                // Each connection to a private in-memory database would see its own database.
                let default_pool = if in_memory { 1 } else { 4 };
                connect.max_connections(options.max_connections.unwrap_or(default_pool));
                let busy_timeout = options.busy_timeout;
                let synchronous = match options.sqlite_synchronous {
                    SqliteSync::Full => SqliteSynchronous::Full,
                    SqliteSync::Normal => SqliteSynchronous::Normal,
                };
                connect.map_sqlx_sqlite_opts(move |sqlite| {
                    sqlite_options(sqlite, busy_timeout, in_memory, synchronous)
                });
            }
            Backend::Postgres => {
                connect.max_connections(options.max_connections.unwrap_or(10));
                if let Some(schema) = &options.postgres_schema {
                    connect.set_schema_search_path(schema.clone());
                }
            }
        }
        let file = backend == Backend::Sqlite && !is_in_memory(url);
        // With FULL, the writer commits with NORMAL and a syncer syncs the WAL after each
        // group, beside the next one's writes (see `sync`); the readers keep FULL, so a
        // checkpoint syncs as before.
        let pipelined = file && options.sqlite_synchronous == SqliteSync::Full;
        let writer_options = file.then(|| {
            let mut writer = connect.clone();
            writer.max_connections(1).min_connections(1);
            if pipelined {
                let busy_timeout = options.busy_timeout;
                writer.map_sqlx_sqlite_opts(move |sqlite| {
                    sqlite_options(sqlite, busy_timeout, false, SqliteSynchronous::Normal)
                });
            }
            writer
        });
        let conn = sea_orm::Database::connect(connect)
            .await
            .map_err(|err| StorageError::Connect(Box::new(err)))?;
        let writer = match writer_options {
            Some(options) => sea_orm::Database::connect(options)
                .await
                .map_err(|err| StorageError::Connect(Box::new(err)))?,
            None => conn.clone(),
        };
        if file {
            tokio::spawn(checkpoint(conn.clone()));
        }
        let syncer = if pipelined {
            let sync = match sync {
                Some(sync) => sync,
                None => sync::wal_sync(database_file(&writer).await?),
            };
            Some(sync::spawn_syncer(sync))
        } else {
            None
        };
        let group =
            (backend == Backend::Sqlite).then(|| write::spawn_group_writer(writer.clone(), syncer));
        Ok(Database {
            conn,
            writer,
            separate_writer: file,
            group,
            busy_timeout: options.busy_timeout,
            backend,
        })
    }

    /// Applies the migrations not yet applied; running it again does nothing.
    ///
    /// # Errors
    /// [`StorageError::Migration`] when a migration fails.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        Migrator::up(&self.conn, None)
            .await
            .map_err(|err| StorageError::Migration(Box::new(err)))
    }

    /// The names of the applied migrations, oldest first.
    ///
    /// # Errors
    /// [`StorageError::Migration`] when the migration table cannot be read.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, StorageError> {
        let applied = Migrator::get_applied_migrations(&self.conn)
            .await
            .map_err(|err| StorageError::Migration(Box::new(err)))?;
        Ok(applied.iter().map(|m| m.name().to_owned()).collect())
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers (for readiness probes).
    ///
    /// # Errors
    /// [`StorageError::Connect`] when it does not.
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.conn
            .ping()
            .await
            .map_err(|err| StorageError::Connect(Box::new(err)))
    }

    /// Closes every pooled connection.
    ///
    /// # Errors
    /// [`StorageError::Connect`] when closing fails.
    pub async fn close(self) -> Result<(), StorageError> {
        if self.separate_writer {
            self.writer
                .close()
                .await
                .map_err(|err| StorageError::Connect(Box::new(err)))?;
        }
        self.conn
            .close()
            .await
            .map_err(|err| StorageError::Connect(Box::new(err)))
    }

    /// The connections for reads.
    pub(crate) fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    pub(crate) fn db_backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    /// Whether writes are group-committed ([`Database::begin_write`]): on SQLite every write
    /// must go through it; elsewhere a single statement may also run on its own.
    pub(crate) fn groups_writes(&self) -> bool {
        self.group.is_some()
    }

    /// Starts a transaction that will write; every write goes through one.
    ///
    /// On SQLite it is a unit of a group commit (see [`WriteTxn`] and the `write` module): the
    /// writes of the whole process take turns on one writer connection, in one `BEGIN
    /// IMMEDIATE` transaction per group (so one that reads before it writes never fails with
    /// `SQLITE_BUSY` when upgrading its lock), and share its commit. Waits for its turn up to
    /// the busy timeout. On PostgreSQL a plain transaction from the pool.
    pub(crate) async fn begin_write(&self) -> Result<WriteTxn, DbErr> {
        match &self.group {
            Some(requests) => WriteTxn::grouped(requests, self.busy_timeout).await,
            None => Ok(WriteTxn::plain(self.conn.begin().await?)),
        }
    }
}

/// The options of every SQLite connection: WAL for a file (readers beside the writer), with
/// `synchronous` (see `SqliteSync`) and no automatic checkpoint — a background task
/// checkpoints (`checkpoint`), not the commit that crosses a threshold, off the writer's path.
fn sqlite_options(
    sqlite: SqliteConnectOptions,
    busy_timeout: Duration,
    in_memory: bool,
    synchronous: SqliteSynchronous,
) -> SqliteConnectOptions {
    let sqlite = sqlite
        .create_if_missing(true)
        .busy_timeout(busy_timeout)
        .foreign_keys(true);
    if in_memory {
        sqlite
    } else {
        sqlite
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .pragma("wal_autocheckpoint", "0")
    }
}

/// The path of the file `conn` has open as its main database.
async fn database_file(conn: &DatabaseConnection) -> Result<PathBuf, StorageError> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT file FROM pragma_database_list WHERE name = 'main'",
        ))
        .await
        .map_err(|err| StorageError::Connect(Box::new(err)))?;
    let file: String = row
        .map(|row| row.try_get_by_index(0))
        .transpose()
        .map_err(|err| StorageError::Connect(Box::new(err)))?
        .unwrap_or_default();
    if file.is_empty() {
        return Err(StorageError::Connect(
            "SQLite names no file for the main database".into(),
        ));
    }
    Ok(PathBuf::from(file))
}

fn is_in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Checkpoints the WAL of an SQLite file every [`CHECKPOINT_EVERY`] on a reader connection,
/// so the writer's commits never copy pages into the database themselves (`PASSIVE` waits for
/// no one: frames a reader still needs are left for the next round). Ends when the pool is
/// closed.
async fn checkpoint(conn: DatabaseConnection) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(err) = conn
            .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
            .await
        {
            if matches!(err, DbErr::ConnectionAcquire(_)) && conn.ping().await.is_err() {
                return;
            }
            tracing::debug!(error = %err, "WAL checkpoint failed; tried again shortly");
        }
    }
}
