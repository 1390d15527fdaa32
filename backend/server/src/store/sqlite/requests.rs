//! The writes that move a request along: intake, a vote (and the decision it may make),
//! and closing without a decision. Each runs in the writer's group of writes, in a
//! savepoint of its own.

use chrono::{DateTime, Utc};
use hanko_api::{Delivery, RequestStatus};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{Word, ms};
use crate::domain::nudge;
use crate::domain::rules::Ballot;
use crate::domain::{NewRequest, RequestId, TaskToken};
use crate::store::{
    Callback, Inserted, StoreResult, StoredDecision, VoteWrite, stored_id, token_hash,
};

/// Stores a new request and its approvers, unless its task token made one before.
pub(super) fn insert(
    conn: &mut Connection,
    id: &RequestId,
    token: &TaskToken,
    req: &NewRequest,
    body: &str,
) -> StoreResult<Inserted> {
    let hash = token_hash(token);
    let tx = conn.savepoint()?;
    let existing: Option<String> = tx
        .query_row(
            "SELECT id FROM requests WHERE token_hash = ?1",
            [&hash],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(existing) = existing {
        return Ok(Inserted::Duplicate {
            existing_id: stored_id(existing)?,
        });
    }
    tx.execute(
        "INSERT INTO requests (id, token_hash, task_token, status, created_ms, expires_ms, \
         requested_by, allow_self, body, title, state_machine_name, execution_name, \
         created_at, expires_at, required_approvals, next_nudge_ms) VALUES (?1, ?2, ?3, \
         ?4, ?5, ?6, ?7, ?8, ?9, json_extract(?9, '$.title'), \
         json_extract(?9, '$.stateMachineName'), json_extract(?9, '$.executionName'), \
         json_extract(?9, '$.createdAt'), json_extract(?9, '$.expiresAt'), \
         json_extract(?9, '$.requiredApprovals'), ?10)",
        params![
            id,
            hash,
            token.expose(),
            Word(RequestStatus::Pending),
            ms(req.created_at),
            ms(req.expires_at),
            req.requested_by,
            req.allow_self_approval,
            body,
            nudge::next_due(req, &[]).map(ms),
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
}

/// A [`VoteWrite`] without its borrows, for the writer thread.
pub(super) struct Vote {
    id: RequestId,
    expected_version: i64,
    ballot: Ballot,
    decision: Option<(StoredDecision, Callback)>,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
}

impl From<VoteWrite<'_>> for Vote {
    fn from(w: VoteWrite<'_>) -> Self {
        Self {
            id: w.id.clone(),
            expected_version: w.expected_version,
            ballot: w.ballot.clone(),
            decision: w.decision,
            lease_until: w.lease_until,
            now: w.now,
        }
    }
}

/// See [`crate::store::Store::record_vote`].
pub(super) fn record_vote(conn: &mut Connection, vote: Vote) -> StoreResult<bool> {
    let Vote {
        id,
        expected_version,
        ballot: b,
        decision,
        lease_until,
        now,
    } = vote;
    let tx = conn.savepoint()?;
    let current: Option<(RequestStatus, i64, i64)> = tx
        .query_row(
            "SELECT status, version, expires_ms FROM requests WHERE id = ?1",
            [&id],
            |r| Ok((Word::at(r, 0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    match current {
        // No vote once the deadline has passed, however long signing took.
        Some((RequestStatus::Pending, version, expires_ms))
            if version == expected_version && expires_ms > ms(now) => {}
        _ => return Ok(false),
    }
    let passkey = b.passkey.as_ref().map(serde_json::to_string).transpose()?;
    let inserted = tx.execute(
        "INSERT OR IGNORE INTO votes (request_id, seat, voter, subject, name, choice, \
         comment, decided_ms, source_ip, user_agent, on_behalf_of, passkey) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        params![
            id,
            b.seat(),
            b.voter,
            b.subject,
            b.name,
            Word(b.choice),
            b.comment,
            ms(b.decided_at),
            b.source_ip,
            b.user_agent,
            b.on_behalf_of,
            passkey,
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
            // The delivery is claimed for the voter's own attempt, as `claim_delivery`
            // would claim it: one write instead of two. If that attempt never records its
            // outcome, the sweeper finds it when the lease ends. The status is the
            // outcome's word.
            tx.execute(
                "UPDATE requests SET version = version + 1, status = ?2, outcome = ?2, \
                 decided_ms = ?3, signature = ?4, callback = ?5, delivery = ?7, \
                 claimed_until_ms = ?6, next_attempt_ms = ?6, closed_ms = ?3 WHERE id = ?1",
                params![
                    id,
                    Word(d.outcome),
                    ms(d.decided_at),
                    d.signature,
                    serde_json::to_string(&cb)?,
                    ms(lease_until),
                    Word(Delivery::Unconfirmed),
                ],
            )?;
        }
    }
    tx.commit()?;
    Ok(true)
}

/// See [`crate::store::Store::close_pending`].
pub(super) fn close_pending(
    conn: &mut Connection,
    id: &RequestId,
    status: RequestStatus,
    reason: &str,
    callback: Option<&Callback>,
) -> StoreResult<bool> {
    let cb = callback.map(serde_json::to_string).transpose()?;
    let delivery = cb.as_ref().map(|_| Word(Delivery::Pending));
    let n = conn.execute(
        "UPDATE requests SET status = ?2, closed_reason = ?3, callback = ?4, delivery = ?5, \
         next_attempt_ms = ?6, closed_ms = ?6, version = version + 1 \
         WHERE id = ?1 AND status = 'pending'",
        params![id, Word(status), reason, cb, delivery, ms(Utc::now())],
    )?;
    Ok(n == 1)
}
