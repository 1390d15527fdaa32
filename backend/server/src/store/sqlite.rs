//! The embedded store: one SQLite file, created with its schema on first start.
//!
//! Writes go to one writer thread, which owns the writing connection and commits them in
//! groups: whatever writes are waiting when it starts a transaction run in that one
//! `IMMEDIATE` transaction, each in a savepoint of its own (a write that fails is rolled
//! back alone), and none is answered before the commit. Votes check the request's version,
//! so two racing approvers cannot both complete a request, even from two processes sharing
//! the file. Reads of a database file go through a few read-only connections beside it (WAL
//! mode lets them run while the writer writes), and request bodies are parsed after the
//! connection is let go.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus, VoteChoice};
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};

use super::{
    Callback, Claim, Inserted, ListQuery, PendingCallback, RequestSummary, Store, StoreError,
    StoreResult, StoredDecision, StoredRequest, VoteWrite, token_hash,
};
use crate::domain::NewRequest;
use crate::domain::rules::Ballot;

/// Schema versions, applied in order; `PRAGMA user_version` says how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE requests (
    id                TEXT PRIMARY KEY,
    token_hash        TEXT NOT NULL UNIQUE,
    task_token        TEXT NOT NULL,
    status            TEXT NOT NULL,
    created_ms        INTEGER NOT NULL,
    expires_ms        INTEGER NOT NULL,
    requested_by      TEXT,
    allow_self        INTEGER NOT NULL,
    body              TEXT NOT NULL,
    version           INTEGER NOT NULL DEFAULT 0,
    outcome           TEXT,
    decided_ms        INTEGER,
    signature         TEXT,
    callback          TEXT,
    delivery          TEXT,
    delivery_attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms   INTEGER,
    last_error        TEXT,
    closed_reason     TEXT
) STRICT;
CREATE INDEX requests_by_status ON requests (status, id);
CREATE INDEX requests_by_delivery ON requests (delivery, next_attempt_ms);
CREATE TABLE approvers (
    principal  TEXT NOT NULL,
    request_id TEXT NOT NULL REFERENCES requests (id),
    PRIMARY KEY (principal, request_id)
) STRICT, WITHOUT ROWID;
CREATE TABLE votes (
    request_id TEXT NOT NULL REFERENCES requests (id),
    voter      TEXT NOT NULL,
    subject    TEXT NOT NULL,
    name       TEXT NOT NULL,
    choice     TEXT NOT NULL,
    comment    TEXT,
    decided_ms INTEGER NOT NULL,
    source_ip  TEXT,
    user_agent TEXT,
    PRIMARY KEY (request_id, voter)
) STRICT;
"#,
    r#"
ALTER TABLE requests ADD COLUMN closed_ms INTEGER;
-- Older rows did not keep when they closed; the decision time, else the deadline of an
-- expired request, else its creation, is the best estimate left.
UPDATE requests SET closed_ms = COALESCE(decided_ms,
    CASE WHEN status = 'expired' THEN expires_ms END, created_ms) WHERE status <> 'pending';
CREATE INDEX requests_by_closed ON requests (closed_ms) WHERE closed_ms IS NOT NULL;
"#,
    // A delivery attempt's claim: until then nobody else sends the same callback.
    "ALTER TABLE requests ADD COLUMN claimed_until_ms INTEGER;",
    // The housekeeping pass looks for pending requests past their deadline; without this
    // it walked every pending request.
    "CREATE INDEX requests_pending_by_deadline ON requests (expires_ms) WHERE status = 'pending';",
    // The approvals list: a page is read out of the index `requests_page` alone. A row with
    // its task token, body and signature is ~4.5 KB and spills into an overflow page;
    // visiting fifty of them (and parsing fifty bodies for six fields) was most of a page's
    // cost. The body's fields a page shows get columns of their own, set once at insert
    // (a body never changes). SQLite does not read virtual generated columns out of an
    // index, so these are plain columns.
    r#"
ALTER TABLE requests ADD COLUMN title TEXT;
ALTER TABLE requests ADD COLUMN state_machine_name TEXT;
ALTER TABLE requests ADD COLUMN execution_name TEXT;
ALTER TABLE requests ADD COLUMN created_at TEXT;
ALTER TABLE requests ADD COLUMN expires_at TEXT;
ALTER TABLE requests ADD COLUMN required_approvals INTEGER;
UPDATE requests SET title = json_extract(body, '$.title'),
    state_machine_name = json_extract(body, '$.stateMachineName'),
    execution_name = json_extract(body, '$.executionName'),
    created_at = json_extract(body, '$.createdAt'),
    expires_at = json_extract(body, '$.expiresAt'),
    required_approvals = json_extract(body, '$.requiredApprovals');
DROP INDEX requests_by_status;
CREATE INDEX requests_page ON requests (status, id, expires_ms, requested_by, allow_self,
    version, outcome, decided_ms, required_approvals, created_at, expires_at, title,
    state_machine_name, execution_name);
"#,
];

/// Read-only connections of a database file.
const READERS: usize = 4;

const COLUMNS: &str = "id, status, body, version, outcome, decided_ms, signature, delivery, \
                       delivery_attempts, last_error, closed_reason, closed_ms";

/// Settings of every connection: wait up to 5 s for a lock, and plan each statement once.
///
/// Without the query planner stability guarantee (QPSG), SQLite plans again whenever a
/// parameter that its plan looked at is bound: a page's `LIMIT ?` made every list re-prepare
/// its statement, ~12% of a list's CPU.
fn stable_plans(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// The most writes one transaction takes.
const MAX_GROUP: usize = 64;

/// Answers a write once its group's commit is known: `None` when it committed, else why not.
type Answer = Box<dyn FnOnce(Option<String>) + Send>;

/// A write for the writer thread. It runs in the group's transaction and says whether it
/// succeeded (else its savepoint is rolled back); it is given `Err` when no transaction
/// could be begun.
type Job = Box<dyn FnOnce(Result<&mut Connection, &str>) -> (bool, Answer) + Send>;

#[derive(Clone)]
pub struct SqliteStore {
    /// To the writer thread, which owns the writing connection; it stops when the last
    /// clone of the store is dropped.
    writes: mpsc::Sender<Job>,
    /// Read-only connections for reads; none for an in-memory database (reads are jobs of
    /// the writer).
    readers: Arc<Vec<Mutex<Connection>>>,
    next_reader: Arc<AtomicUsize>,
}

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
enum Place {
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
            StoreError::Backend(format!("cannot create {}: {e}", what.display()))
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
        stable_plans(&checkpointer)?;
        let mut store = Self::setup(Connection::open(path)?, Some(checkpointer))?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let conn = Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            stable_plans(&conn)?;
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
        stable_plans(&conn)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let nudges = match checkpointer {
            Some(checkpointer) => {
                // Checkpoints are the checkpointer's, never a commit's.
                conn.pragma_update(None, "wal_autocheckpoint", 0)?;
                let (nudge, nudges) = mpsc::sync_channel(1);
                std::thread::Builder::new()
                    .name("hanko-sqlite-checkpoints".into())
                    .spawn(move || checkpoints(checkpointer, nudges))
                    .map_err(|e| {
                        StoreError::Backend(format!("cannot start the checkpointer thread: {e}"))
                    })?;
                Some(nudge)
            }
            None => None,
        };
        let applied: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            tx.execute_batch(m)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        let (writes, jobs) = mpsc::channel();
        std::thread::Builder::new()
            .name("hanko-sqlite-writer".into())
            .spawn(move || write_groups(conn, jobs, nudges))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            writes,
            readers: Arc::new(Vec::new()),
            next_reader: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Runs `f` on a read connection (a free one if any), then `then` on its result
    /// after the connection is released; `place` says on which thread.
    async fn read<T, U: Send + 'static>(
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
                    .map_err(|_| StoreError::Backend("database lock poisoned".into()))?;
                f(&guard)?
            };
            then(raw)
        })
        .await
        .map_err(|e| StoreError::Backend(format!("database task failed: {e}")))?
    }

    /// Runs `f` in the writer thread's next group of writes, and answers once that group
    /// has committed. `f` may open a savepoint of its own to undo what it did (rusqlite's
    /// `Connection::savepoint`): anything it leaves when it returns an error is undone.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let out = match conn {
                Ok(conn) => f(conn),
                Err(why) => Err(StoreError::Backend(why.to_string())),
            };
            let ok = out.is_ok();
            let answer: Answer = Box::new(move |commit| {
                let out = match (out, commit) {
                    (Err(e), _) => Err(e),
                    (Ok(_), Some(why)) => Err(StoreError::Backend(why)),
                    (Ok(v), None) => Ok(v),
                };
                let _ = tx.send(out);
            });
            (ok, answer)
        });
        self.writes
            .send(job)
            .map_err(|_| StoreError::Backend("the database writer has stopped".into()))?;
        rx.await
            .map_err(|_| StoreError::Backend("the database writer has stopped".into()))?
    }
}

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

fn bad(what: &str, v: &str) -> StoreError {
    StoreError::Backend(format!("unexpected {what} {v:?} in the database"))
}

fn choice_str(c: VoteChoice) -> &'static str {
    match c {
        VoteChoice::Approve => "approve",
        VoteChoice::Reject => "reject",
    }
}

fn outcome_str(o: Outcome) -> &'static str {
    match o {
        Outcome::Approved => "approved",
        Outcome::Rejected => "rejected",
    }
}

fn delivery_str(d: Delivery) -> &'static str {
    match d {
        Delivery::Pending => "pending",
        Delivery::Delivered => "delivered",
        Delivery::TaskGone => "task_gone",
        Delivery::Unconfirmed => "unconfirmed",
        Delivery::DeliveredOrGone => "delivered_or_gone",
    }
}

/// A row of `COLUMNS`, before its votes are attached.
struct Row {
    id: String,
    status: String,
    body: String,
    version: i64,
    outcome: Option<String>,
    decided_ms: Option<i64>,
    signature: Option<String>,
    delivery: Option<String>,
    delivery_attempts: i64,
    last_error: Option<String>,
    closed_reason: Option<String>,
    closed_ms: Option<i64>,
}

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        status: r.get(1)?,
        body: r.get(2)?,
        version: r.get(3)?,
        outcome: r.get(4)?,
        decided_ms: r.get(5)?,
        signature: r.get(6)?,
        delivery: r.get(7)?,
        delivery_attempts: r.get(8)?,
        last_error: r.get(9)?,
        closed_reason: r.get(10)?,
        closed_ms: r.get(11)?,
    })
}

impl Row {
    fn into_request(self, votes: Vec<Ballot>) -> StoreResult<StoredRequest> {
        let request: NewRequest = serde_json::from_str(&self.body)?;
        let status =
            RequestStatus::parse(&self.status).ok_or_else(|| bad("status", &self.status))?;
        let decision = match (self.outcome, self.decided_ms, self.signature) {
            (Some(o), Some(at), Some(sig)) => Some(StoredDecision {
                outcome: match o.as_str() {
                    "approved" => Outcome::Approved,
                    "rejected" => Outcome::Rejected,
                    other => return Err(bad("outcome", other)),
                },
                decided_at: from_ms(at),
                signature: sig,
            }),
            _ => None,
        };
        let delivery = match self.delivery.as_deref() {
            None => None,
            Some("pending") => Some(Delivery::Pending),
            Some("delivered") => Some(Delivery::Delivered),
            Some("task_gone") => Some(Delivery::TaskGone),
            Some("unconfirmed") => Some(Delivery::Unconfirmed),
            Some("delivered_or_gone") => Some(Delivery::DeliveredOrGone),
            Some(other) => return Err(bad("delivery", other)),
        };
        Ok(StoredRequest {
            id: self.id,
            request,
            status,
            version: self.version,
            votes,
            decision,
            delivery,
            delivery_attempts: self.delivery_attempts.max(0) as u32,
            last_delivery_error: self.last_error,
            closed_reason: self.closed_reason,
            closed_at: self.closed_ms.map(from_ms),
        })
    }
}

fn votes_for(conn: &Connection, ids: &[String]) -> StoreResult<Vec<(String, Ballot)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(",");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT request_id, voter, subject, name, choice, comment, decided_ms, source_ip, user_agent \
         FROM votes WHERE request_id IN ({marks}) ORDER BY decided_ms, voter"
    ))?;
    let rows = stmt.query_map(params_from_iter(ids.iter()), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, Option<String>>(5)?,
            r.get::<_, i64>(6)?,
            r.get::<_, Option<String>>(7)?,
            r.get::<_, Option<String>>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (rid, voter, subject, name, choice, comment, at, source_ip, user_agent) = row?;
        let choice = match choice.as_str() {
            "approve" => VoteChoice::Approve,
            "reject" => VoteChoice::Reject,
            other => return Err(bad("vote", other)),
        };
        out.push((
            rid,
            Ballot {
                voter,
                subject,
                name,
                choice,
                comment,
                decided_at: from_ms(at),
                source_ip,
                user_agent,
            },
        ));
    }
    Ok(out)
}

/// Rows with their votes, still unparsed (see [`parse_all`]).
type RawRequest = (Row, Vec<Ballot>);

fn attach_votes(conn: &Connection, rows: Vec<Row>) -> StoreResult<Vec<RawRequest>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut votes = votes_for(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine: Vec<Ballot> = votes
                .extract_if(.., |(rid, _)| *rid == row.id)
                .map(|(_, b)| b)
                .collect();
            (row, mine)
        })
        .collect())
}

/// Parses the bodies: done once the connection is released.
fn parse_all(raw: Vec<RawRequest>) -> StoreResult<Vec<StoredRequest>> {
    raw.into_iter()
        .map(|(row, votes)| row.into_request(votes))
        .collect()
}

fn get_one(conn: &Connection, id: &str) -> StoreResult<Option<RawRequest>> {
    let row = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"))?
        .query_row([id], read_row)
        .optional()?;
    match row {
        None => Ok(None),
        Some(row) => Ok(attach_votes(conn, vec![row])?.pop()),
    }
}

/// The query of one page of [`Store::list`], selecting `columns`.
fn list_sql(columns: &str, q: &ListQuery) -> (String, Vec<Sql>) {
    let now = ms(q.now);
    let mut sql = format!("SELECT {columns} FROM requests r WHERE 1 = 1");
    let mut args: Vec<Sql> = Vec::new();
    match q.status {
        None => {}
        Some(RequestStatus::Pending) => {
            sql.push_str(" AND r.status = 'pending' AND r.expires_ms > ?");
            args.push(Sql::Integer(now));
        }
        Some(RequestStatus::Expired) => {
            sql.push_str(
                " AND (r.status = 'expired' OR (r.status = 'pending' AND r.expires_ms <= ?))",
            );
            args.push(Sql::Integer(now));
        }
        Some(other) => {
            sql.push_str(" AND r.status = ?");
            args.push(Sql::Text(other.as_str().into()));
        }
    }
    if let Some((email, principals)) = &q.votable_by {
        let marks = vec!["?"; principals.len()].join(",");
        sql.push_str(&format!(
            " AND r.status = 'pending' AND r.expires_ms > ? \
              AND r.id IN (SELECT request_id FROM approvers WHERE principal IN ({marks})) \
              AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.request_id = r.id AND v.voter = ?) \
              AND (r.allow_self = 1 OR r.requested_by IS NULL OR r.requested_by <> ?)"
        ));
        args.push(Sql::Integer(now));
        args.extend(principals.iter().map(|p| Sql::Text(p.clone())));
        args.push(Sql::Text(email.clone()));
        args.push(Sql::Text(email.clone()));
    }
    if let Some((email, principals)) = &q.visible_to {
        // A correlated lookup per row (the primary key of `approvers` is (principal,
        // request_id)), never the whole set of what the caller approves: a page of
        // someone who sees most requests costs what it did, and hidden requests are
        // skipped in the index without being counted.
        let marks = vec!["?"; principals.len().max(1)].join(",");
        sql.push_str(&format!(
            " AND (r.requested_by = ? OR EXISTS (SELECT 1 FROM approvers a \
              WHERE a.principal IN ({marks}) AND a.request_id = r.id))"
        ));
        args.push(Sql::Text(email.clone()));
        if principals.is_empty() {
            args.push(Sql::Null);
        }
        args.extend(principals.iter().map(|p| Sql::Text(p.clone())));
    }
    if let Some(after) = &q.after {
        sql.push_str(" AND r.id < ?");
        args.push(Sql::Text(after.clone()));
    }
    sql.push_str(" ORDER BY r.id DESC LIMIT ?");
    args.push(Sql::Integer(q.limit as i64 + 1));
    (sql, args)
}

/// The summary fields: all of them are in the index `requests_page`, so that a page of a
/// status is read from that index without visiting the rows.
const SUMMARY_COLUMNS: &str = "id, status, requested_by, outcome, decided_ms, title, \
    state_machine_name, execution_name, created_at, expires_at, required_approvals, version";

struct SummaryRow {
    id: String,
    status: String,
    requested_by: Option<String>,
    outcome: Option<String>,
    decided_ms: Option<i64>,
    title: Option<String>,
    state_machine_name: Option<String>,
    execution_name: Option<String>,
    created_at: Option<String>,
    expires_at: Option<String>,
    required_approvals: Option<i64>,
    /// Counts the changes since intake: 0 means no vote yet.
    version: i64,
}

fn read_summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        id: r.get(0)?,
        status: r.get(1)?,
        requested_by: r.get(2)?,
        outcome: r.get(3)?,
        decided_ms: r.get(4)?,
        title: r.get(5)?,
        state_machine_name: r.get(6)?,
        execution_name: r.get(7)?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        required_approvals: r.get(10)?,
        version: r.get(11)?,
    })
}

impl SummaryRow {
    fn into_summary(self, votes: Vec<Ballot>) -> StoreResult<RequestSummary> {
        let text = |v: Option<String>, what: &str| v.ok_or_else(|| bad(what, "missing"));
        // The hand reader takes what intake wrote; chrono's is the fallback for the rest.
        let time = |v: Option<String>, what: &str| {
            let v = text(v, what)?;
            hanko_api::rfc3339::parse(&v)
                .or_else(|| DateTime::parse_from_rfc3339(&v).ok().map(|t| t.to_utc()))
                .ok_or_else(|| bad(what, &v))
        };
        let status =
            RequestStatus::parse(&self.status).ok_or_else(|| bad("status", &self.status))?;
        let decision = match (self.outcome, self.decided_ms) {
            (Some(o), Some(at)) => Some((
                match o.as_str() {
                    "approved" => Outcome::Approved,
                    "rejected" => Outcome::Rejected,
                    other => return Err(bad("outcome", other)),
                },
                from_ms(at),
            )),
            _ => None,
        };
        let required = self.required_approvals.unwrap_or(-1);
        Ok(RequestSummary {
            title: text(self.title, "title")?,
            state_machine_name: text(self.state_machine_name, "stateMachineName")?,
            execution_name: text(self.execution_name, "executionName")?,
            created_at: time(self.created_at, "createdAt")?,
            expires_at: time(self.expires_at, "expiresAt")?,
            required_approvals: u32::try_from(required)
                .map_err(|_| bad("requiredApprovals", &required.to_string()))?,
            id: self.id,
            requested_by: self.requested_by,
            status,
            votes,
            decision,
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(&self, id: &str, task_token: &str, req: &NewRequest) -> StoreResult<Inserted> {
        let (id, token, req) = (id.to_string(), task_token.to_string(), req.clone());
        let body = serde_json::to_string(&req)?;
        self.with(move |conn| {
            let hash = token_hash(&token);
            let tx = conn.savepoint()?;
            let existing: Option<String> = tx
                .query_row(
                    "SELECT id FROM requests WHERE token_hash = ?1",
                    [&hash],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(existing_id) = existing {
                return Ok(Inserted::Duplicate { existing_id });
            }
            tx.execute(
                "INSERT INTO requests (id, token_hash, task_token, status, created_ms, expires_ms, \
                 requested_by, allow_self, body, title, state_machine_name, execution_name, \
                 created_at, expires_at, required_approvals) VALUES (?1, ?2, ?3, 'pending', ?4, \
                 ?5, ?6, ?7, ?8, json_extract(?8, '$.title'), json_extract(?8, '$.stateMachineName'), \
                 json_extract(?8, '$.executionName'), json_extract(?8, '$.createdAt'), \
                 json_extract(?8, '$.expiresAt'), json_extract(?8, '$.requiredApprovals'))",
                params![
                    id,
                    hash,
                    token,
                    ms(req.created_at),
                    ms(req.expires_at),
                    req.requested_by,
                    req.allow_self_approval,
                    body,
                ],
            )?;
            for p in &req.approvers {
                tx.execute(
                    "INSERT OR IGNORE INTO approvers (principal, request_id) VALUES (?1, ?2)",
                    params![p, id],
                )?;
            }
            tx.commit()?;
            Ok(Inserted::Created)
        })
        .await
    }

    async fn get(&self, id: &str) -> StoreResult<Option<StoredRequest>> {
        let id = id.to_string();
        self.read(
            Place::HereIfFree,
            move |conn| get_one(conn, &id),
            |raw| raw.map(|(row, votes)| row.into_request(votes)).transpose(),
        )
        .await
    }

    async fn list(&self, q: &ListQuery) -> StoreResult<(Vec<StoredRequest>, bool)> {
        let q = q.clone();
        self.read(
            Place::HereIfFree,
            move |conn| {
                let (sql, args) = list_sql(COLUMNS, &q);
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt
                    .query_map(params_from_iter(args), read_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                let more = rows.len() > q.limit;
                rows.truncate(q.limit);
                drop(stmt);
                Ok((attach_votes(conn, rows)?, more))
            },
            |(raw, more)| Ok((parse_all(raw)?, more)),
        )
        .await
    }

    /// Reads the summary fields from the index `requests_page` (columns copied out of the
    /// body at insert), so a page of a status costs neither the rows nor any body parsing;
    /// the default went through [`Store::list`].
    async fn list_summaries(&self, q: &ListQuery) -> StoreResult<(Vec<RequestSummary>, bool)> {
        let q = q.clone();
        self.read(
            Place::HereIfFree,
            move |conn| {
                let (sql, args) = list_sql(SUMMARY_COLUMNS, &q);
                let mut stmt = conn.prepare_cached(&sql)?;
                let mut rows = stmt
                    .query_map(params_from_iter(args), read_summary_row)?
                    .collect::<Result<Vec<_>, _>>()?;
                let more = rows.len() > q.limit;
                rows.truncate(q.limit);
                drop(stmt);
                // A request nobody has voted on yet (most pending ones) has no votes to look up.
                let ids: Vec<String> = rows
                    .iter()
                    .filter(|r| r.version > 0)
                    .map(|r| r.id.clone())
                    .collect();
                let votes = votes_for(conn, &ids)?;
                Ok((rows, votes, more))
            },
            |(rows, mut votes, more)| {
                let items = rows
                    .into_iter()
                    .map(|row| {
                        let mine = votes
                            .extract_if(.., |(rid, _)| *rid == row.id)
                            .map(|(_, b)| b)
                            .collect();
                        row.into_summary(mine)
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok((items, more))
            },
        )
        .await
    }

    async fn record_vote(&self, w: VoteWrite<'_>) -> StoreResult<bool> {
        let id = w.id.to_string();
        let expected = w.expected_version;
        let now = ms(w.now);
        let b = w.ballot.clone();
        let decision = w.decision.clone();
        let lease_until = ms(w.lease_until);
        self.with(move |conn| {
            let tx = conn.savepoint()?;
            let current: Option<(String, i64, i64)> = tx
                .query_row(
                    "SELECT status, version, expires_ms FROM requests WHERE id = ?1",
                    [&id],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            match current {
                // No vote once the deadline has passed, however long signing took.
                Some((status, version, expires_ms))
                    if status == "pending" && version == expected && expires_ms > now => {}
                _ => return Ok(false),
            }
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO votes (request_id, voter, subject, name, choice, comment, \
                 decided_ms, source_ip, user_agent) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    id,
                    b.voter,
                    b.subject,
                    b.name,
                    choice_str(b.choice),
                    b.comment,
                    ms(b.decided_at),
                    b.source_ip,
                    b.user_agent,
                ],
            )?;
            if inserted == 0 {
                return Ok(false);
            }
            match decision {
                None => {
                    tx.execute(
                        "UPDATE requests SET version = version + 1 WHERE id = ?1",
                        [&id],
                    )?;
                }
                Some((d, cb)) => {
                    // The delivery is claimed for the voter's own attempt, as
                    // `claim_delivery` would claim it: one write instead of two. If that
                    // attempt never records its outcome, the sweeper finds it when the
                    // lease ends.
                    tx.execute(
                        "UPDATE requests SET version = version + 1, status = ?2, outcome = ?2, \
                         decided_ms = ?3, signature = ?4, callback = ?5, \
                         delivery = 'unconfirmed', claimed_until_ms = ?6, next_attempt_ms = ?6, \
                         closed_ms = ?3 WHERE id = ?1",
                        params![
                            id,
                            outcome_str(d.outcome),
                            ms(d.decided_at),
                            d.signature,
                            serde_json::to_string(&cb)?,
                            lease_until,
                        ],
                    )?;
                }
            }
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn close_pending(
        &self,
        id: &str,
        status: RequestStatus,
        reason: &str,
        callback: Option<Callback>,
    ) -> StoreResult<bool> {
        let (id, reason) = (id.to_string(), reason.to_string());
        self.with(move |conn| {
            let cb = callback.as_ref().map(serde_json::to_string).transpose()?;
            let delivery = cb.as_ref().map(|_| "pending");
            let n = conn.execute(
                "UPDATE requests SET status = ?2, closed_reason = ?3, callback = ?4, delivery = ?5, \
                 next_attempt_ms = ?6, closed_ms = ?6, version = version + 1 \
                 WHERE id = ?1 AND status = 'pending'",
                params![id, status.as_str(), reason, cb, delivery, ms(Utc::now())],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn task_token(&self, id: &str) -> StoreResult<Option<String>> {
        let id = id.to_string();
        self.read(
            Place::HereIfFree,
            move |conn| {
                Ok(conn
                    .query_row(
                        "SELECT task_token FROM requests WHERE id = ?1",
                        [&id],
                        |r| r.get(0),
                    )
                    .optional()?)
            },
            Ok,
        )
        .await
    }

    async fn pending_callback(&self, id: &str) -> StoreResult<Option<PendingCallback>> {
        let id = id.to_string();
        self.read(
            Place::HereIfFree,
            move |conn| {
                let row: Option<(Option<String>, i64)> = conn
                    .query_row(
                        "SELECT callback, delivery_attempts FROM requests \
                         WHERE id = ?1 AND delivery IN ('pending', 'unconfirmed')",
                        [&id],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                match row {
                    Some((Some(cb), attempts)) => Ok(Some(PendingCallback {
                        callback: serde_json::from_str(&cb)?,
                        attempts: attempts.max(0) as u32,
                    })),
                    _ => Ok(None),
                }
            },
            Ok,
        )
        .await
    }

    async fn claim_delivery(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claim>> {
        let id = id.to_string();
        self.with(move |conn| {
            let tx = conn.savepoint()?;
            let row: Option<(Option<String>, i64, String)> = tx
                .query_row(
                    "SELECT callback, delivery_attempts, delivery FROM requests \
                     WHERE id = ?1 AND delivery IN ('pending', 'unconfirmed') \
                     AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?2)",
                    params![id, ms(now)],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((Some(cb), attempts, delivery)) = row else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE requests SET delivery = 'unconfirmed', claimed_until_ms = ?2, \
                 next_attempt_ms = ?2 WHERE id = ?1",
                params![id, ms(lease_until)],
            )?;
            tx.commit()?;
            Ok(Some(Claim {
                callback: serde_json::from_str(&cb)?,
                attempts: attempts.max(0) as u32,
                unconfirmed: delivery == "unconfirmed",
            }))
        })
        .await
    }

    async fn record_delivery(
        &self,
        id: &str,
        result: Delivery,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let (id, error) = (id.to_string(), error.map(str::to_string));
        self.with(move |conn| {
            let tx = conn.savepoint()?;
            // Only a delivery still owed changes: a late answer to a duplicate attempt must
            // not turn a delivered decision into a closed request.
            let changed = tx.execute(
                "UPDATE requests SET delivery = ?2, delivery_attempts = delivery_attempts + 1, \
                 last_error = ?3, next_attempt_ms = ?4, claimed_until_ms = NULL \
                 WHERE id = ?1 AND delivery IN ('pending', 'unconfirmed')",
                params![id, delivery_str(result), error, retry_at.map(ms)],
            )?;
            if changed == 1 && result == Delivery::TaskGone {
                // The workflow no longer waits: whatever was decided, the request is closed.
                tx.execute(
                    "UPDATE requests SET status = CASE WHEN status = 'expired' THEN status ELSE 'closed' END, \
                     closed_reason = COALESCE(closed_reason, ?2), closed_ms = COALESCE(closed_ms, ?3) \
                     WHERE id = ?1",
                    params![id, error, ms(Utc::now())],
                )?;
            }
            if changed == 1 && result == Delivery::DeliveredOrGone {
                // Perhaps delivered: the decision stands; say what Step Functions answered.
                tx.execute(
                    "UPDATE requests SET closed_reason = CASE WHEN closed_reason IS NULL THEN ?2 \
                     ELSE closed_reason || '; ' || ?2 END WHERE id = ?1",
                    params![id, error],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<String>> {
        self.read(
            Place::HereIfFree,
            move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id FROM requests WHERE delivery IN ('pending', 'unconfirmed') AND \
                     (next_attempt_ms IS NULL OR next_attempt_ms <= ?1) ORDER BY next_attempt_ms LIMIT ?2",
                )?;
                let ids = stmt
                    .query_map(params![ms(now), limit as i64], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(ids)
        },
            Ok,
        )
        .await
    }

    async fn overdue(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<String>> {
        self.read(
            Place::HereIfFree,
            move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id FROM requests WHERE status = 'pending' AND expires_ms <= ?1 LIMIT ?2",
                )?;
                let ids = stmt
                    .query_map(params![ms(now), limit as i64], |r| r.get(0))?
                    .collect::<Result<Vec<String>, _>>()?;
                Ok(ids)
        },
            Ok,
        )
        .await
    }

    async fn decided_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<StoredRequest>> {
        self.read(
            Place::Blocking,
            move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM requests WHERE closed_ms >= ?1 AND closed_ms < ?2 \
                 ORDER BY closed_ms, id LIMIT ?3"
                ))?;
                let rows = stmt
                    .query_map(
                        params![ms(from), ms(to), i64::try_from(limit).unwrap_or(i64::MAX)],
                        read_row,
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                drop(stmt);
                attach_votes(conn, rows)
            },
            parse_all,
        )
        .await
    }

    async fn pending_oldest_first(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(String, String)>> {
        let after = after.map(str::to_string);
        self.read(
            Place::HereIfFree,
            move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT id, body FROM requests WHERE status = 'pending' AND id > ?1 \
                     ORDER BY id LIMIT ?2",
                )?;
                let rows = stmt
                    .query_map(params![after.unwrap_or_default(), limit as i64], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                rows.into_iter()
                    .map(|(id, body)| {
                        let req: NewRequest = serde_json::from_str(&body)?;
                        Ok((id, req.execution_arn))
                    })
                    .collect()
            },
            Ok,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    mod in_memory {
        use super::*;
        crate::store_conformance_tests!(async { ((), SqliteStore::in_memory().unwrap()) });
    }

    mod on_disk {
        use super::*;
        crate::store_conformance_tests!(async {
            let dir = tempfile::tempdir().unwrap();
            let store = SqliteStore::open(&dir.path().join("hanko.db")).unwrap();
            (dir, store)
        });
    }

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

    #[tokio::test]
    async fn a_list_statement_is_planned_once_whatever_its_page_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hanko.db")).unwrap();
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        store.insert("id-1", "token-1", &req).await.unwrap();
        let (found, replanned) = store
            .read(
                Place::HereIfFree,
                move |c| {
                    let mut found = 0;
                    let mut replanned = 0;
                    // The page size is a parameter: one statement serves every size.
                    for limit in [50, 10, 200, 50] {
                        let q = ListQuery {
                            status: Some(RequestStatus::Pending),
                            votable_by: None,
                            visible_to: None,
                            limit,
                            after: None,
                            now: req.created_at,
                        };
                        let (sql, args) = list_sql(SUMMARY_COLUMNS, &q);
                        let mut stmt = c.prepare_cached(&sql)?;
                        found += stmt
                            .query_map(params_from_iter(args), read_summary_row)?
                            .count();
                        replanned = stmt.get_status(rusqlite::StatementStatus::RePrepare);
                    }
                    Ok((found, replanned))
                },
                Ok,
            )
            .await
            .unwrap();
        assert_eq!((found, replanned), (4, 0));
    }

    /// What SQLite plans for a page of `q`, one line per step.
    fn plan_of(conn: &Connection, q: &ListQuery) -> Vec<String> {
        let (sql, args) = list_sql(SUMMARY_COLUMNS, q);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[tokio::test]
    async fn a_page_of_a_status_is_read_from_the_index_alone_without_sorting() {
        let store = SqliteStore::in_memory().unwrap();
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        store.insert("id-1", "token-1", &req).await.unwrap();
        for (status, after) in [
            (RequestStatus::Pending, None),
            (RequestStatus::Approved, Some("id-9".to_string())),
        ] {
            let q = ListQuery {
                status: Some(status),
                votable_by: None,
                visible_to: None,
                limit: 50,
                after,
                now: Utc::now(),
            };
            let range = if q.after.is_some() {
                "status=? AND id<?"
            } else {
                "status=?"
            };
            let plan = store.with(move |c| Ok(plan_of(c, &q))).await.unwrap();
            assert_eq!(
                plan,
                vec![format!(
                    "SEARCH r USING COVERING INDEX requests_page ({range})"
                )],
                "{status:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_page_of_what_one_may_see_looks_up_each_row_s_approvers_by_key() {
        let store = SqliteStore::in_memory().unwrap();
        let q = ListQuery {
            status: Some(RequestStatus::Pending),
            votable_by: None,
            visible_to: Some(("a@x.io".into(), vec!["a@x.io".into(), "group:ops".into()])),
            limit: 50,
            after: Some("id-9".into()),
            now: Utc::now(),
        };
        // Never the set of everything the caller approves, which grows with the history.
        let plan = store.with(move |c| Ok(plan_of(c, &q))).await.unwrap();
        assert_eq!(
            plan,
            vec![
                "SEARCH r USING COVERING INDEX requests_page (status=? AND id<?)",
                "CORRELATED SCALAR SUBQUERY 1",
                "SEARCH a USING PRIMARY KEY (principal=? AND request_id=?)",
            ]
        );
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
        store.insert("id-1", "token-1", &req).await.unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        for folder in [data.clone(), data.join("nested")] {
            assert_eq!(mode(&folder), 0o700, "{}", folder.display());
        }
        for suffix in ["", "-wal", "-shm"] {
            let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
            assert_eq!(mode(&file), 0o600, "{}", file.display());
        }
    }

    #[tokio::test]
    async fn a_database_file_is_created_with_its_schema_and_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/hanko.db");
        let store = SqliteStore::open(&path).unwrap();
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        store.insert("id-1", "token-1", &req).await.unwrap();
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        let version: i64 = again
            .with(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(again.get("id-1").await.unwrap().unwrap().request, req);
    }

    #[tokio::test]
    async fn an_older_database_learns_when_its_closed_requests_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            let body =
                serde_json::to_string(&crate::domain::intake::sample_request(&["a@x.io"])).unwrap();
            for (id, status, decided) in [
                ("a", "approved", Some(5_000i64)),
                ("b", "expired", None),
                ("c", "pending", None),
            ] {
                conn.execute(
                    "INSERT INTO requests (id, token_hash, task_token, status, created_ms, \
                     expires_ms, allow_self, body, decided_ms) VALUES (?1, ?1, ?1, ?2, 1000, 9000, 0, ?3, ?4)",
                    params![id, status, body, decided],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let closed = |id: &'static str| {
            let store = store.clone();
            async move { store.get(id).await.unwrap().unwrap().closed_at }
        };
        assert_eq!(closed("a").await, Some(from_ms(5_000)));
        assert_eq!(closed("b").await, Some(from_ms(9_000)));
        assert_eq!(closed("c").await, None);
        let window = store
            .decided_between(from_ms(0), from_ms(10_000), 10)
            .await
            .unwrap();
        assert_eq!(
            window.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            vec!["a", "b"]
        );
    }

    #[tokio::test]
    async fn an_older_database_lists_its_requests_with_the_fields_of_their_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        {
            let conn = Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..4] {
                conn.execute_batch(m).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO requests (id, token_hash, task_token, status, created_ms, \
                 expires_ms, requested_by, allow_self, body) \
                 VALUES ('a', 'a', 'a', 'pending', ?1, ?2, ?3, 0, ?4)",
                params![
                    ms(req.created_at),
                    ms(req.expires_at),
                    req.requested_by,
                    serde_json::to_string(&req).unwrap()
                ],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let q = ListQuery {
            status: Some(RequestStatus::Pending),
            votable_by: None,
            visible_to: None,
            limit: 10,
            after: None,
            now: req.created_at,
        };
        let (page, more) = store.list_summaries(&q).await.unwrap();
        assert!(!more);
        let (full, _) = store.list(&q).await.unwrap();
        assert_eq!(
            page,
            full.into_iter()
                .map(RequestSummary::from)
                .collect::<Vec<_>>()
        );
        assert_eq!(page[0].title, req.title);
        assert_eq!(page[0].created_at, req.created_at);
        assert_eq!(page[0].required_approvals, req.required_approvals);
    }
}
