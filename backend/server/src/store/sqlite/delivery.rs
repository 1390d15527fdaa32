//! The callback a request owes its workflow: the task token, the claim of one attempt at a
//! time, the attempts' results, and which deliveries are due.

use chrono::{DateTime, Utc};
use hanko_api::Delivery;
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{Word, from_ms, ms};
use crate::domain::{RequestId, TaskToken};
use crate::store::{Claim, PendingCallback, StoreResult, stored_token};

/// The task token of request `id`.
pub(super) fn task_token(conn: &Connection, id: &RequestId) -> StoreResult<Option<TaskToken>> {
    let token: Option<String> = conn
        .query_row("SELECT task_token FROM requests WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?;
    token.as_deref().map(stored_token).transpose()
}

/// See [`crate::store::Store::pending_callback`].
pub(super) fn pending_callback(
    conn: &Connection,
    id: &RequestId,
) -> StoreResult<Option<PendingCallback>> {
    let row: Option<(Option<String>, i64)> = conn
        .query_row(
            "SELECT callback, delivery_attempts FROM requests \
             WHERE id = ?1 AND delivery IN ('pending', 'unconfirmed')",
            [id],
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
}

/// See [`crate::store::Store::claim_delivery`].
pub(super) fn claim_delivery(
    conn: &mut Connection,
    id: &RequestId,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> StoreResult<Option<Claim>> {
    let tx = conn.savepoint()?;
    let row: Option<(Option<String>, i64, Delivery)> = tx
        .query_row(
            "SELECT callback, delivery_attempts, delivery FROM requests \
             WHERE id = ?1 AND delivery IN ('pending', 'unconfirmed') \
             AND (claimed_until_ms IS NULL OR claimed_until_ms <= ?2)",
            params![id, ms(now)],
            |r| Ok((r.get(0)?, r.get(1)?, Word::at(r, 2)?)),
        )
        .optional()?;
    let Some((Some(cb), attempts, delivery)) = row else {
        return Ok(None);
    };
    tx.execute(
        "UPDATE requests SET delivery = ?3, claimed_until_ms = ?2, next_attempt_ms = ?2 \
         WHERE id = ?1",
        params![id, ms(lease_until), Word(Delivery::Unconfirmed)],
    )?;
    tx.commit()?;
    Ok(Some(Claim {
        callback: serde_json::from_str(&cb)?,
        attempts: attempts.max(0) as u32,
        unconfirmed: delivery == Delivery::Unconfirmed,
    }))
}

/// See [`crate::store::Store::record_delivery`].
pub(super) fn record_delivery(
    conn: &mut Connection,
    id: &RequestId,
    result: Delivery,
    error: Option<&str>,
    retry_at: Option<DateTime<Utc>>,
) -> StoreResult<()> {
    let tx = conn.savepoint()?;
    // Only a delivery still owed changes: a late answer to a duplicate attempt must not
    // turn a delivered decision into a closed request.
    let changed = tx.execute(
        "UPDATE requests SET delivery = ?2, delivery_attempts = delivery_attempts + 1, \
         last_error = ?3, next_attempt_ms = ?4, claimed_until_ms = NULL \
         WHERE id = ?1 AND delivery IN ('pending', 'unconfirmed')",
        params![id, Word(result), error, retry_at.map(ms)],
    )?;
    if changed == 1 && result == Delivery::TaskGone {
        // The workflow no longer waits: whatever was decided, the request is closed.
        tx.execute(
            "UPDATE requests \
             SET status = CASE WHEN status = 'expired' THEN status ELSE 'closed' END, \
             closed_reason = COALESCE(closed_reason, ?2), \
             closed_ms = COALESCE(closed_ms, ?3) \
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
}

/// Requests whose callback is still owed and due by `now`, earliest due first.
pub(super) fn due_deliveries(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> StoreResult<Vec<RequestId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM requests WHERE delivery IN ('pending', 'unconfirmed') \
         AND (next_attempt_ms IS NULL OR next_attempt_ms <= ?1) \
         ORDER BY next_attempt_ms LIMIT ?2",
    )?;
    let ids = stmt
        .query_map(params![ms(now), limit as i64], |r| r.get(0))?
        .collect::<Result<Vec<RequestId>, _>>()?;
    Ok(ids)
}

/// See [`crate::store::Store::oldest_owed_callback`].
pub(super) fn oldest_owed_callback(conn: &Connection) -> StoreResult<Option<DateTime<Utc>>> {
    let oldest: Option<i64> = conn
        .prepare_cached(
            "SELECT MIN(COALESCE(closed_ms, decided_ms, created_ms)) FROM requests \
             WHERE delivery IN ('pending', 'unconfirmed')",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(oldest.map(from_ms))
}
