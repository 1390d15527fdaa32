//! The tables and how a database file gets them: the migrations, applied in order by
//! `rusqlite_migration`, and the settings of every connection.
//!
//! `PRAGMA user_version` counts the migrations that ran. Hanko counted them the same way by
//! hand before `rusqlite_migration`, so a database of any earlier Hanko picks up where it
//! stopped: a migration is only ever added at the end of [`MIGRATIONS`].

use rusqlite::{Connection, TransactionBehavior};
use rusqlite_migration::{M, Migrations};

use crate::store::{StoreError, StoreResult};

/// Schema versions, applied in order; `PRAGMA user_version` says how many ran.
pub(super) const MIGRATIONS: &[&str] = &[
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
    r#"
CREATE INDEX requests_pending_by_deadline ON requests (expires_ms) WHERE status = 'pending';
"#,
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
    // Chat messages posted about a request (Slack's channel and ts), changed when it ends.
    r#"
CREATE TABLE chat_messages (
    request_id TEXT NOT NULL REFERENCES requests (id),
    channel    TEXT NOT NULL,
    ts         TEXT NOT NULL,
    lang       TEXT NOT NULL,
    PRIMARY KEY (request_id, channel, ts)
) STRICT, WITHOUT ROWID;
"#,
    // Reminders and escalation: when the next one of a pending request is due, and which
    // were sent (claimed), each once.
    r#"
ALTER TABLE requests ADD COLUMN next_nudge_ms INTEGER;
CREATE INDEX requests_nudge_due ON requests (next_nudge_ms)
    WHERE status = 'pending' AND next_nudge_ms IS NOT NULL;
CREATE TABLE nudges (
    request_id TEXT NOT NULL REFERENCES requests (id),
    key        TEXT NOT NULL,
    sent_ms    INTEGER NOT NULL,
    PRIMARY KEY (request_id, key)
) STRICT, WITHOUT ROWID;
"#,
    // Passkeys: each person's credentials, the single-use nonces of their ceremonies, and
    // a vote's passkey signature (JSON of hanko_api::PasskeySignature).
    r#"
CREATE TABLE passkeys (
    person     TEXT NOT NULL,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    credential TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    used_ms    INTEGER,
    PRIMARY KEY (person, id)
) STRICT, WITHOUT ROWID;
CREATE TABLE passkey_nonces (
    nonce      TEXT PRIMARY KEY,
    person     TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX passkey_nonces_by_expiry ON passkey_nonces (expires_ms);
ALTER TABLE votes ADD COLUMN passkey TEXT;
"#,
    // Delegation: a vote fills a seat, its voter's own or (`on_behalf_of`) the seat of
    // the person the voter stands in for; one vote per seat. SQLite cannot change a
    // primary key in place, so the votes move to a table keyed by seat. And the
    // delegations themselves, one per delegator, found by their delegate.
    r#"
CREATE TABLE votes_by_seat (
    request_id   TEXT NOT NULL REFERENCES requests (id),
    seat         TEXT NOT NULL,
    voter        TEXT NOT NULL,
    subject      TEXT NOT NULL,
    name         TEXT NOT NULL,
    choice       TEXT NOT NULL,
    comment      TEXT,
    decided_ms   INTEGER NOT NULL,
    source_ip    TEXT,
    user_agent   TEXT,
    on_behalf_of TEXT,
    passkey      TEXT,
    PRIMARY KEY (request_id, seat)
) STRICT;
INSERT INTO votes_by_seat (request_id, seat, voter, subject, name, choice, comment,
    decided_ms, source_ip, user_agent, passkey)
    SELECT request_id, voter, voter, subject, name, choice, comment, decided_ms, source_ip,
    user_agent, passkey FROM votes;
DROP TABLE votes;
ALTER TABLE votes_by_seat RENAME TO votes;
CREATE TABLE delegations (
    delegator  TEXT PRIMARY KEY,
    delegate   TEXT NOT NULL,
    groups     TEXT NOT NULL,
    from_ms    INTEGER NOT NULL,
    until_ms   INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX delegations_by_delegate ON delegations (delegate, until_ms);
"#,
];

fn migrations() -> Migrations<'static> {
    Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect())
}

/// Settings of every connection: wait up to 5 s for a lock, and plan each statement once.
///
/// Without the query planner stability guarantee (QPSG), SQLite plans again whenever a
/// parameter that its plan looked at is bound: a page's `LIMIT ?` made every list re-prepare
/// its statement, ~12% of a list's CPU.
pub(super) fn stable_plans(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// The settings of the writing connection (besides [`stable_plans`]).
pub(super) fn writer_settings(conn: &Connection) -> StoreResult<()> {
    stable_plans(conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Applies the migrations that have not run yet, in one transaction.
///
/// The transaction is `IMMEDIATE` (the writer's connection keeps that behaviour: it only
/// writes): of two processes opening one file at once, the second waits for the first's
/// migrations instead of failing its own upgrade of a read lock.
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    migrations().to_latest(conn).map_err(|e| match e {
        rusqlite_migration::Error::RusqliteError { err, .. } => StoreError::from(err),
        other => StoreError::backend_caused_by(
            format!("cannot bring the schema up to date: {other}"),
            other,
        ),
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::store::conformance::{id, token};
    use crate::store::sqlite::SqliteStore;
    use crate::store::sqlite::rows::{from_ms, ms};
    use crate::store::{ListQuery, Page, RequestSummary, Store};
    use hanko_api::RequestStatus;

    #[test]
    fn the_migrations_apply_to_an_empty_database() {
        migrations().validate().unwrap();
    }

    #[tokio::test]
    async fn a_database_file_is_created_with_its_schema_and_reopened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/hanko.db");
        let store = SqliteStore::open(&path).unwrap();
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        store.insert(&id(1), &token("token-1"), &req).await.unwrap();
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        let version: i64 = again
            .with(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(again.get(&id(1)).await.unwrap().unwrap().request, req);
    }

    /// What Hanko did before `rusqlite_migration`: each migration's SQL, then
    /// `user_version` set by hand to the number that ran.
    fn migrate_by_hand(conn: &Connection, upto: usize) {
        for m in &MIGRATIONS[..upto] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", upto as i64)
            .unwrap();
    }

    /// Every table and index, as SQLite keeps their definitions.
    fn schema_of(conn: &Connection) -> Vec<(String, Option<String>)> {
        let mut stmt = conn
            .prepare("SELECT name, sql FROM sqlite_schema ORDER BY name")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[tokio::test]
    async fn a_database_brought_up_to_date_by_hand_opens_as_it_is_and_keeps_working() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        let by_hand = {
            let conn = Connection::open(&path).unwrap();
            migrate_by_hand(&conn, MIGRATIONS.len());
            schema_of(&conn)
        };
        let mut now = Connection::open_in_memory().unwrap();
        migrate(&mut now).unwrap();
        assert_eq!(schema_of(&now), by_hand);
        // Nothing runs again (a second `ALTER TABLE ... ADD COLUMN` would fail).
        let store = SqliteStore::open(&path).unwrap();
        store.insert(&id(1), &token("token-1"), &req).await.unwrap();
        drop(store);
        let again = SqliteStore::open(&path).unwrap();
        let version: i64 = again
            .with(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        let got = again.get(&id(1)).await.unwrap().unwrap();
        assert_eq!((got.request, got.status), (req, RequestStatus::Pending));
    }

    #[tokio::test]
    async fn an_older_database_learns_when_its_closed_requests_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        {
            let conn = Connection::open(&path).unwrap();
            migrate_by_hand(&conn, 1);
            let body =
                serde_json::to_string(&crate::domain::intake::sample_request(&["a@x.io"])).unwrap();
            for (n, status, decided) in [
                (1, "approved", Some(5_000i64)),
                (2, "expired", None),
                (3, "pending", None),
            ] {
                conn.execute(
                    "INSERT INTO requests (id, token_hash, task_token, status, created_ms, \
                     expires_ms, allow_self, body, decided_ms) \
                     VALUES (?1, ?1, ?1, ?2, 1000, 9000, 0, ?3, ?4)",
                    params![id(n), status, body, decided],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let closed = |n: u8| {
            let store = store.clone();
            async move { store.get(&id(n)).await.unwrap().unwrap().closed_at }
        };
        assert_eq!(closed(1).await, Some(from_ms(5_000)));
        assert_eq!(closed(2).await, Some(from_ms(9_000)));
        assert_eq!(closed(3).await, None);
        let window = store
            .decided_between(from_ms(0), from_ms(10_000), 10)
            .await
            .unwrap();
        assert_eq!(
            window.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
            vec![id(1), id(2)]
        );
    }

    #[tokio::test]
    async fn an_older_database_keeps_its_votes_each_in_its_voter_s_own_seat() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        let req = crate::domain::intake::sample_request(&["a@x.io", "b@x.io"]);
        {
            let conn = Connection::open(&path).unwrap();
            // Every migration but delegation's.
            migrate_by_hand(&conn, MIGRATIONS.len() - 1);
            conn.execute(
                "INSERT INTO requests (id, token_hash, task_token, status, created_ms, \
                 expires_ms, requested_by, allow_self, body, version) \
                 VALUES (?5, 'a', 'a', 'pending', ?1, ?2, ?3, 0, ?4, 1)",
                params![
                    ms(req.created_at),
                    ms(req.expires_at),
                    req.requested_by,
                    serde_json::to_string(&req).unwrap(),
                    id(1),
                ],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO votes (request_id, voter, subject, name, choice, comment, \
                 decided_ms, source_ip, user_agent) \
                 VALUES (?1, 'a@x.io', 'sub-a', 'A', 'approve', 'ok', ?2, NULL, 'ua')",
                params![id(1), ms(req.created_at)],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let got = store.get(&id(1)).await.unwrap().unwrap();
        assert_eq!(got.votes.len(), 1);
        let vote = &got.votes[0];
        assert_eq!(
            (
                vote.voter.as_str(),
                vote.seat(),
                vote.on_behalf_of.as_deref()
            ),
            ("a@x.io", "a@x.io", None)
        );
        assert_eq!(vote.comment.as_deref(), Some("ok"));
        // Still one vote in that seat: a second one is refused, another seat is not.
        let second = |voter: &str| crate::domain::rules::Ballot {
            voter: voter.into(),
            ..vote.clone()
        };
        let write = |b: crate::domain::rules::Ballot| {
            let store = store.clone();
            async move {
                store
                    .record_vote(crate::store::VoteWrite {
                        id: &id(1),
                        expected_version: 1,
                        ballot: &b,
                        decision: None,
                        lease_until: req.created_at,
                        now: req.created_at,
                    })
                    .await
                    .unwrap()
            }
        };
        assert!(!write(second("a@x.io")).await);
        assert!(write(second("b@x.io")).await);
    }

    #[tokio::test]
    async fn an_older_database_lists_its_requests_with_the_fields_of_their_bodies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hanko.db");
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        {
            let conn = Connection::open(&path).unwrap();
            migrate_by_hand(&conn, 4);
            conn.execute(
                "INSERT INTO requests (id, token_hash, task_token, status, created_ms, \
                 expires_ms, requested_by, allow_self, body) \
                 VALUES (?5, 'a', 'a', 'pending', ?1, ?2, ?3, 0, ?4)",
                params![
                    ms(req.created_at),
                    ms(req.expires_at),
                    req.requested_by,
                    serde_json::to_string(&req).unwrap(),
                    id(1),
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
        let Page { items: page, more } = store.list_summaries(&q).await.unwrap();
        assert!(!more);
        let full = store.list(&q).await.unwrap().items;
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
