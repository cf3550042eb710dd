//! Pipelined durability for an SQLite file with `synchronous = FULL`.
//!
//! SQLite syncs the WAL inside `COMMIT` and holds its write lock while it does: nothing else
//! is written during the sync, so the commit rate is bound by the disk's sync latency (and
//! every write of a group waits behind the last group's sync). Here the writer connection
//! commits with `synchronous = NORMAL` (the frames are written to the WAL, not synced) and a
//! syncer task syncs the WAL file *after* the commit, while the writer already runs the next
//! group. A unit's `commit` still returns only once a sync that began after its group's
//! `COMMIT` has returned, so what a caller hears is durable exactly as with `FULL`: the WAL is
//! written in order, and one `fdatasync` covers every frame written before it. Syncs coalesce:
//! the groups that committed while one sync ran share the next.
//!
//! The window this opens: a reader may see a commit up to one sync (0.3 ms median on the
//! reference machine's disk) before it is durable. Nothing fapiao does acts on such a read alone — the runner acts on a
//! job only after its claim (a later write, so a later point of the WAL) is durable.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

/// Where a unit hears that its work is durable (or why not).
pub(crate) type Durable = oneshot::Sender<Result<(), String>>;

/// Makes everything SQLite has written so far durable; runs on a blocking thread.
pub(crate) type SyncFn = Arc<dyn Fn() -> io::Result<()> + Send + Sync>;

/// Groups whose `COMMIT` returned, waiting for a sync.
pub(crate) type Committed = mpsc::UnboundedSender<Vec<Durable>>;

/// The most groups one sync answers at once (it answers all that are waiting; this only bounds
/// one allocation).
const MAX_GROUPS: usize = 256;

/// Starts the syncer; it ends when every [`Committed`] clone is dropped.
pub(crate) fn spawn_syncer(sync: SyncFn) -> Committed {
    let (committed, groups) = mpsc::unbounded_channel();
    tokio::spawn(syncer(sync, groups));
    committed
}

async fn syncer(sync: SyncFn, mut groups: mpsc::UnboundedReceiver<Vec<Durable>>) {
    let mut waiting = Vec::new();
    while groups.recv_many(&mut waiting, MAX_GROUPS).await > 0 {
        let sync = sync.clone();
        let result = match tokio::task::spawn_blocking(move || sync()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(err)) => Err(format!("the WAL could not be synced: {err}")),
            Err(err) => Err(format!("the WAL sync did not finish: {err}")),
        };
        if let Err(err) = &result {
            tracing::error!(error = %err, "commits not confirmed durable; their callers are told");
        }
        for durable in waiting.drain(..).flatten() {
            let _ = durable.send(result.clone());
        }
    }
}

/// The sync of an SQLite file's WAL (`<database>-wal`), opened afresh each time so a WAL that
/// SQLite deleted and created again (after every connection closed) is never missed.
///
/// When the WAL is gone, its frames were checkpointed into the database file as the last
/// connection closed, so the database file is synced instead. When the WAL is a new file, the
/// directory is synced once too (best effort, logged when it fails), so its entry survives a
/// power loss.
pub(crate) fn wal_sync(database: PathBuf) -> SyncFn {
    let mut wal = database.clone().into_os_string();
    wal.push("-wal");
    let wal = PathBuf::from(wal);
    let known = std::sync::Mutex::new(None::<u64>);
    Arc::new(move || match std::fs::File::open(&wal) {
        Ok(file) => {
            file.sync_data()?;
            let id = file_id(&file)?;
            let mut known = known
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *known != Some(id) {
                // Best effort: the frames are synced; a directory this process may not open
                // for reading (a traverse-only data directory) must not fail every commit.
                if let Err(err) = sync_directory(&wal) {
                    tracing::warn!(error = %err, wal = %wal.display(), "the WAL's directory could not be synced");
                }
                *known = Some(id);
            }
            Ok(())
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            std::fs::File::open(&database)?.sync_data()
        }
        Err(err) => Err(err),
    })
}

#[cfg(unix)]
fn file_id(file: &std::fs::File) -> io::Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(file.metadata()?.ino())
}

#[cfg(not(unix))]
fn file_id(_file: &std::fs::File) -> io::Result<u64> {
    Ok(0)
}

#[cfg(unix)]
fn sync_directory(file: &std::path::Path) -> io::Result<()> {
    match file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::File::open(dir)?.sync_all(),
        _ => std::fs::File::open(".")?.sync_all(),
    }
}

#[cfg(not(unix))]
fn sync_directory(_file: &std::path::Path) -> io::Result<()> {
    Ok(())
}
