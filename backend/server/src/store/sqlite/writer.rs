//! The connections and their threads: opening the file, the writer thread that commits
//! writes in groups, the checkpointer, and the read connections beside them.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::Connection;

use super::{SqliteStore, schema};
use crate::store::{StoreError, StoreResult};

/// Read-only connections of a database file.
const READERS: usize = 4;

/// The most writes one transaction takes.
const MAX_GROUP: usize = 64;

/// Answers a write once its group's commit is known: `None` when it committed, else why not.
type Answer = Box<dyn FnOnce(Option<String>) + Send>;

/// A write for the writer thread. It runs in the group's transaction and says whether it
/// succeeded (else its savepoint is rolled back); it is given `Err` when no transaction
/// could be begun.
pub(super) type Job = Box<dyn FnOnce(Result<&mut Connection, &str>) -> (bool, Answer) + Send>;

/// The least time between two checkpoints.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// The checkpointer thread of a database file: after commits (at most every
/// [`CHECKPOINT_EVERY`]) it copies the write-ahead log into the database, on a connection of
/// its own. SQLite's automatic checkpoint would run inside the commit that crosses 1,000
/// pages of log, with its fsync of the database, and every write queued behind that commit
/// would wait for it. The writer nudges it after each commit; nudges that come while a
/// checkpoint runs or while it waits are one. It stops with the writer.
fn checkpoints(conn: Connection, nudges: mpsc::Receiver<()>) {
    while nudges.recv().is_ok() {
        // PASSIVE: copies what no reader still needs, without waiting for readers or
        // holding up the writer.
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(error = %e, "checkpoint failed; the next commit tries again");
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}

/// The writer thread: takes the first waiting write and every other one already waiting
/// (up to [`MAX_GROUP`]), runs them in one transaction, commits once, then answers them,
/// and nudges the checkpointer, when there is one.
fn write_groups(
    mut conn: Connection,
    jobs: mpsc::Receiver<Job>,
    checkpointer: Option<mpsc::SyncSender<()>>,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let why = format!("cannot begin a write: {e}");
            for job in group {
                let (_, answer) = job(Err(&why));
                answer(Some(why.clone()));
            }
            continue;
        }
        let mut answers = Vec::with_capacity(group.len());
        for job in group {
            let (ok, answer) = match conn.execute_batch("SAVEPOINT job") {
                Ok(()) => job(Ok(&mut conn)),
                Err(e) => job(Err(&format!("cannot begin a write: {e}"))),
            };
            let undo = if ok {
                "RELEASE job"
            } else {
                "ROLLBACK TO job; RELEASE job"
            };
            // A savepoint that cannot be closed leaves the transaction in doubt: roll it
            // all back below.
            let closed = conn.execute_batch(undo).map_err(|e| e.to_string());
            answers.push((answer, closed));
        }
        let failed = answers
            .iter()
            .find_map(|(_, closed)| closed.as_ref().err().cloned())
            .map(|e| format!("a write could not be closed: {e}"));
        let outcome = match failed {
            Some(e) => Some(e),
            None => conn
                .execute_batch("COMMIT")
                .err()
                .map(|e| format!("commit failed: {e}")),
        };
        if outcome.is_some() && !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for (answer, _) in answers {
            answer(outcome.clone());
        }
        if let Some(nudge) = &checkpointer {
            let _ = nudge.try_send(());
        }
    }
}

/// Where a read runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    /// Right here, on the async worker, when a read connection is free (else as
    /// `Blocking`). For index lookups of a few pages, tens of microseconds: less than
    /// handing them to a blocking thread and back costs (two thread wake-ups, ~15% of a
    /// list's CPU).
    HereIfFree,
    /// On a blocking thread, for a read of many rows (thousands, with their bodies), so
    /// that it does not hold up the requests of an async worker.
    Blocking,
}

impl SqliteStore {
    /// Opens (or creates) the database file and brings its schema up to date.
    ///
    /// The file holds task tokens: on unix, the folders it creates are 0700 and a new
    /// database file 0600 (SQLite gives its `-wal` and `-shm` files the database's mode).
    pub fn open(path: &Path) -> StoreResult<Self> {
        let cannot = |what: &Path, e: std::io::Error| {
            StoreError::backend(format!("cannot create {}: {e}", what.display()))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let mut folder = std::fs::DirBuilder::new();
            folder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut folder, 0o700);
            folder.create(dir).map_err(|e| cannot(dir, e))?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // Created empty before SQLite opens it (an empty file is a new database);
            // an existing file is left as it is.
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(path)
                .map_err(|e| cannot(path, e))?;
        }
        let checkpointer = Connection::open(path)?;
        schema::stable_plans(&checkpointer)?;
        let mut store = Self::setup(Connection::open(path)?, Some(checkpointer))?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let conn = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            schema::stable_plans(&conn)?;
            readers.push(Mutex::new(conn));
        }
        store.readers = Arc::new(readers);
        Ok(store)
    }

    /// A private database in memory, for tests.
    pub fn in_memory() -> StoreResult<Self> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    /// Brings the schema up to date on the writing connection `conn`, then starts the
    /// writer thread, and the checkpointer thread on `checkpointer` (a database file).
    fn setup(mut conn: Connection, checkpointer: Option<Connection>) -> StoreResult<Self> {
        schema::writer_settings(&conn)?;
        let nudges = match checkpointer {
            Some(checkpointer) => {
                // Checkpoints are the checkpointer's, never a commit's.
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                let (nudge, nudges) = mpsc::sync_channel(1);
                std::thread::Builder::new()
                    .name("hanko-sqlite-checkpoints".into())
                    .spawn(move || checkpoints(checkpointer, nudges))
                    .map_err(|e| {
                        StoreError::backend(format!("cannot start the checkpointer thread: {e}"))
                    })?;
                Some(nudge)
            }
            None => None,
        };
        schema::migrate(&mut conn)?;
        let (writes, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("hanko-sqlite-writer".into())
            .spawn(move || write_groups(conn, jobs, nudges))
            .map_err(|e| StoreError::backend(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            writes,
            readers: Arc::new(Vec::new()),
            next_reader: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Runs `f` on a read connection (a free one if any), then `then` on its result
    /// after the connection is released; `place` says on which thread.
    pub(super) async fn read<T, U: Send + 'static>(
        &self,
        place: Place,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
        then: impl FnOnce(T) -> StoreResult<U> + Send + 'static,
    ) -> StoreResult<U> {
        let readers = self.readers.clone();
        let n = readers.len();
        if n == 0 {
            return self.with(move |conn| then(f(conn)?)).await;
        }
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        if place == Place::HereIfFree
            && let Some(guard) = (0..n).find_map(|k| readers[(start + k) % n].try_lock().ok())
        {
            let raw = f(&guard);
            drop(guard);
            return then(raw?);
        }
        tokio::task::spawn_blocking(move || {
            let raw = {
                let guard = readers[start % n]
                    .lock()
                    .map_err(|_| StoreError::backend("database lock poisoned"))?;
                f(&guard)?
            };
            then(raw)
        })
        .await
        .map_err(|e| StoreError::backend(format!("database task failed: {e}")))?
    }

    /// Runs `f` in the writer thread's next group of writes, and answers once that group
    /// has committed. `f` may open a savepoint of its own to undo what it did (rusqlite's
    /// `Connection::savepoint`): anything it leaves when it returns an error is undone.
    pub(super) async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let out = match conn {
                Ok(conn) => f(conn),
                Err(why) => Err(StoreError::backend(why)),
            };
            let ok = out.is_ok();
            let answer: Answer = Box::new(move |commit| {
                let out = match (out, commit) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(why)) => Err(StoreError::backend(why)),
                    (Ok(v), None) => Ok(v),
                };
                let _ = tx.send(out);
            });
            (ok, answer)
        });
        let stopped = || StoreError::backend("the database writer has stopped");
        self.writes.send(job).map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::store::Store;

    #[tokio::test]
    async fn commits_leave_the_log_and_the_checkpointer_copies_it_into_the_database_soon_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        let store = SqliteStore::open(&path).unwrap();
        // The writer's connection does not checkpoint by itself.
        let auto: i64 = store
            .with(|c| Ok(c.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(auto, 0);
        // Far fewer pages than SQLite's automatic checkpoint (1,000) would wait for.
        store
            .with(|c| {
                c.execute_batch("CREATE TABLE scratch (n INTEGER NOT NULL, pad TEXT NOT NULL)")?;
                for n in 0..100 {
                    c.execute(
                        "INSERT INTO scratch VALUES (?1, ?2)",
                        params![n, "x".repeat(2_000)],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // 100 rows of 2 KB are in the database file itself once checkpointed.
        while std::fs::metadata(&path).unwrap().len() < 200_000 {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was not copied into {} within 10 s",
                path.display()
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn writes_waiting_together_commit_together_and_a_failed_one_is_undone_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .with(|c| Ok(c.execute_batch("CREATE TABLE scratch (n INTEGER NOT NULL)")?))
            .await
            .unwrap();
        // The first write holds the writer while the others queue up behind it.
        let writer = store.clone();
        let first = tokio::spawn(async move {
            writer
                .with(|c| {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    Ok(c.execute("INSERT INTO scratch VALUES (0)", [])?)
                })
                .await
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let mut rest = Vec::new();
        for n in 1..=20i64 {
            let (writer, path) = (store.clone(), path.clone());
            rest.push(tokio::spawn(async move {
                writer
                    .with(move |c| {
                        c.execute("INSERT INTO scratch VALUES (?1)", [n])?;
                        // One write fails after it has written: its row must not stay.
                        if n == 7 {
                            return Err(StoreError::Conflict("seven".into()));
                        }
                        let count = "SELECT count(*) FROM scratch";
                        // The group's rows so far, and what others can see: the commits.
                        let mine: i64 = c.query_row(count, [], |r| r.get(0))?;
                        let committed: i64 =
                            Connection::open(&path)?.query_row(count, [], |r| r.get(0))?;
                        Ok((mine, committed))
                    })
                    .await
            }));
        }
        first.await.unwrap().unwrap();
        let mut last = (0, 0);
        for (i, r) in rest.into_iter().enumerate() {
            match r.await.unwrap() {
                Ok(counts) => last = counts,
                Err(e) => assert_eq!(i + 1, 7, "{e}"),
            }
        }
        // The twenty ran in one transaction after the first's commit: the last saw the
        // other eighteen that stayed, none of them committed yet.
        assert_eq!(last, (20, 1));
        let rows: Vec<i64> = store
            .read(
                Place::HereIfFree,
                |c| {
                    let mut stmt = c.prepare("SELECT n FROM scratch ORDER BY n")?;
                    let rows = stmt.query_map([], |r| r.get(0))?;
                    Ok(rows.collect::<Result<Vec<i64>, _>>()?)
                },
                Ok,
            )
            .await
            .unwrap();
        assert_eq!(rows, (0..=20).filter(|n| *n != 7).collect::<Vec<_>>());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_new_database_its_log_and_its_folders_are_private_to_their_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let path = data.join("nested/hanko.db");
        let store = SqliteStore::open(&path).unwrap();
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        store
            .insert(
                &crate::store::conformance::id(1),
                &crate::store::conformance::token("token-1"),
                &req,
            )
            .await
            .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for folder in [data.clone(), data.join("nested")] {
            assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }
}
