//! Reminders and escalation (table `nudges`, column `requests.next_nudge_ms`).

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::ms;
use crate::domain::RequestId;
use crate::store::{NudgeClaim, StoreResult, stored_id};

/// See [`crate::store::Store::due_nudges`].
pub(super) fn due(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> StoreResult<Vec<RequestId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM requests WHERE status = 'pending' AND next_nudge_ms IS NOT NULL \
         AND next_nudge_ms <= ?1 ORDER BY next_nudge_ms LIMIT ?2",
    )?;
    let ids = stmt.query_map(params![ms(now), limit as i64], |r| r.get::<_, String>(0))?;
    ids.map(|id| stored_id(id?)).collect()
}

/// See [`crate::store::Store::sent_nudges`].
pub(super) fn sent(conn: &Connection, id: &RequestId) -> StoreResult<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT key FROM nudges WHERE request_id = ?1 ORDER BY sent_ms, key")?;
    let keys = stmt.query_map([id], |r| r.get(0))?;
    Ok(keys.collect::<Result<_, _>>()?)
}

/// A [`NudgeClaim`] without its borrows, for the writer thread.
pub(super) struct Claim {
    id: RequestId,
    keys: Vec<String>,
    next_due: Option<DateTime<Utc>>,
    /// The escalated request as JSON, and the approvers it names.
    escalated: Option<(String, Vec<String>)>,
    now: DateTime<Utc>,
}

impl TryFrom<NudgeClaim<'_>> for Claim {
    type Error = crate::store::StoreError;

    fn try_from(c: NudgeClaim<'_>) -> StoreResult<Self> {
        let escalated = c
            .escalated
            .map(|req| {
                let approvers = req.approvers.iter().map(ToString::to_string).collect();
                serde_json::to_string(req).map(|body| (body, approvers))
            })
            .transpose()?;
        Ok(Self {
            id: c.id.clone(),
            keys: c.keys.to_vec(),
            next_due: c.next_due,
            escalated,
            now: c.now,
        })
    }
}

/// See [`crate::store::Store::claim_nudges`].
pub(super) fn claim(conn: &mut Connection, c: Claim) -> StoreResult<bool> {
    let tx = conn.savepoint()?;
    let pending: Option<i64> = tx
        .query_row(
            "SELECT expires_ms FROM requests WHERE id = ?1 AND status = 'pending'",
            [&c.id],
            |r| r.get(0),
        )
        .optional()?;
    if pending.is_none_or(|expires_ms| expires_ms <= ms(c.now)) {
        return Ok(false);
    }
    for key in &c.keys {
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO nudges (request_id, key, sent_ms) VALUES (?1, ?2, ?3)",
            params![c.id, key, ms(c.now)],
        )?;
        if inserted == 0 {
            // Claimed before: the savepoint rolls back what this claim wrote.
            return Ok(false);
        }
    }
    tx.execute(
        "UPDATE requests SET next_nudge_ms = ?2 WHERE id = ?1",
        params![c.id, c.next_due.map(ms)],
    )?;
    if let Some((body, approvers)) = &c.escalated {
        tx.execute(
            "UPDATE requests SET body = ?2, version = version + 1 WHERE id = ?1",
            params![c.id, body],
        )?;
        for p in approvers {
            tx.execute(
                "INSERT OR IGNORE INTO approvers (principal, request_id) VALUES (?1, ?2)",
                params![p, c.id],
            )?;
        }
    }
    tx.commit()?;
    Ok(true)
}

/// See [`crate::store::Store::drop_nudges`].
pub(super) fn drop_all(conn: &mut Connection, id: &RequestId) -> StoreResult<()> {
    conn.execute(
        "UPDATE requests SET next_nudge_ms = NULL WHERE id = ?1",
        [id],
    )?;
    Ok(())
}
