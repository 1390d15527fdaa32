//! Databases to measure against: `n` requests, as a busy team's would hold them.
//!
//! The schema is the store's own: [`SqliteStore::open`] creates the file. The rows are then
//! written in one transaction on a connection of the seed's own, not through
//! [`hanko::store::Store`]: through the store every write is a savepoint in a group commit
//! of at most 64 writes, its statements prepared anew, and a seed takes about three times
//! as long (measured at 10k and 100k requests; the 1M seed would take minutes more). The
//! INSERTs below therefore repeat those of `store::sqlite::requests` (`insert`,
//! `record_vote`) and `delivery::record_delivery`, which are private to the store; the test
//! at the bottom reads a seed back through the store against the store's own writes, so
//! the two cannot drift apart unnoticed.

use std::path::Path;

use chrono::{DateTime, Utc};
use hanko::domain::{NewRequest, OnReject};
use hanko::store::sqlite::SqliteStore;
use serde_json::json;

/// The approvers of every seeded request.
const APPROVERS: [&str; 2] = ["alice@example.com", "group:release-managers"];

/// Seeds `n` requests into a fresh database with Hanko's schema, in one transaction.
/// Every `pending_every`th is pending for alice; the rest are decided (one vote each, by
/// carol; one in seven a rejection) and their callback delivered. Returns the ids of the
/// pending ones, oldest first.
pub fn seed(db: &Path, n: usize, pending_every: usize) -> anyhow::Result<Vec<String>> {
    remove_db(db);
    drop(SqliteStore::open(db)?);
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    let now = Utc::now();
    let base_ms = now.timestamp_millis() - n as i64 - 1000;
    let mut pending = Vec::new();
    {
        let mut req = tx.prepare(
            "INSERT INTO requests (id, token_hash, task_token, status, created_ms, expires_ms, \
             requested_by, allow_self, body, outcome, decided_ms, signature, delivery, closed_ms, version, \
             title, state_machine_name, execution_name, created_at, expires_at, required_approvals, \
             next_nudge_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11, ?12, ?10, ?13, \
             json_extract(?8, '$.title'), json_extract(?8, '$.stateMachineName'), \
             json_extract(?8, '$.executionName'), json_extract(?8, '$.createdAt'), \
             json_extract(?8, '$.expiresAt'), json_extract(?8, '$.requiredApprovals'), ?14)",
        )?;
        let mut appr =
            tx.prepare("INSERT INTO approvers (principal, request_id) VALUES (?1, ?2)")?;
        let mut vote = tx.prepare(
            "INSERT INTO votes (request_id, seat, voter, subject, name, choice, comment, \
             decided_ms, source_ip, user_agent) VALUES (?1, 'carol@example.com', \
             'carol@example.com', 'dev|carol@example.com', 'Carol', ?2, ?3, ?4, '127.0.0.1', \
             'Mozilla/5.0 (bench)')",
        )?;
        for i in 0..n {
            let id = seed_id(base_ms, i);
            let r = sample_request(i, now, &APPROVERS);
            let token = task_token(i);
            let body = serde_json::to_string(&r)?;
            let is_pending = i % pending_every == 0;
            let (status, outcome, decided, sig, delivery) = if is_pending {
                ("pending", None, None, None, None)
            } else {
                let o = if i.is_multiple_of(7) {
                    "rejected"
                } else {
                    "approved"
                };
                (
                    o,
                    Some(o),
                    Some(r.created_at.timestamp_millis() + 60_000),
                    Some(signature()),
                    Some("delivered"),
                )
            };
            req.execute(rusqlite::params![
                id,
                sha256_hex(&token),
                token,
                status,
                r.created_at.timestamp_millis(),
                r.expires_at.timestamp_millis(),
                r.requested_by,
                body,
                outcome,
                decided,
                sig,
                delivery,
                if is_pending { 0 } else { 1 },
                // As the store's insert: when the request's first reminder is due.
                hanko::domain::nudge::next_due(&r, &[]).map(|at| at.timestamp_millis()),
            ])?;
            for a in &APPROVERS {
                appr.execute(rusqlite::params![a, id])?;
            }
            if let Some(at) = decided {
                vote.execute(rusqlite::params![
                    id,
                    if status == "rejected" {
                        "reject"
                    } else {
                        "approve"
                    },
                    Some(VOTE_COMMENT),
                    at
                ])?;
            } else {
                pending.push(id);
            }
        }
    }
    tx.commit()?;
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    drop(conn);
    // The seed writes without syncing (the 1M seed is ~5 GB). Its writeback goes to the
    // disk now, in the seed's time, so that the measurements after it do not run behind it.
    std::fs::File::open(db)?.sync_all()?;
    Ok(pending)
}

/// Removes a database file and its `-wal` and `-shm`.
pub fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}

/// carol's comment on every decided request.
const VOTE_COMMENT: &str = "Looks good; the canary was healthy for an hour.";

/// The `i`th request's task token: the length of a real one.
fn task_token(i: usize) -> String {
    format!("AQCEAAAAKgAAAAMAAAAAAAAAA{i:012}{}", "x".repeat(600))
}

/// A decision record's signature: the length of a real one.
fn signature() -> String {
    format!("eyJhbGciOiJFUzI1NiJ9.{}.sig", "A".repeat(300))
}

/// A request waiting for alice, as a state machine would have sent it.
fn sample_request(i: usize, now: DateTime<Utc>, approvers: &[&str]) -> NewRequest {
    let created = now - chrono::Duration::seconds((i % 86_400) as i64);
    NewRequest {
        title: format!("Deploy shop-api v1.{}.{} to production", i % 40, i % 17),
        description: Some(format!(
            "Release notes for build {i}:\n- faster checkout for returning customers\n\
             - fixes the rounding of yen amounts in refunds (ticket SHOP-{})\n\
             - upgrades the payment SDK\nRollback: redeploy the previous task definition.",
            1000 + i % 9000
        )),
        details: json!({
            "service": "shop-api", "version": format!("1.{}.{}", i % 40, i % 17),
            "environment": "production", "commit": format!("{:040x}", i as u128 * 2_654_435_761),
            "changes": 12 + i % 30, "ticket": format!("SHOP-{}", 1000 + i % 9000),
            "requestedFrom": {"pipeline": "release", "run": i}
        }),
        approvers: approvers.iter().map(|s| s.parse().unwrap()).collect(),
        required_approvals: 1,
        allow_self_approval: false,
        requested_by: Some("bob@example.com".parse().unwrap()),
        on_reject: OnReject::Fail,
        execution_arn: format!(
            "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run-{i}"
        ),
        execution_name: format!("run-{i}"),
        state_machine_arn: "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy".into(),
        state_machine_name: "deploy".into(),
        state_name: Some("AskForApproval".into()),
        created_at: created,
        expires_at: created + chrono::Duration::days(30),
        policy: None,
        sender: None,
        notify: Vec::new(),
        remind_before_seconds: vec![86_400, 3_600],
        escalation: None,
    }
}

fn sha256_hex(s: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    hex::encode(d)
}

/// A time-ordered id (UUID v7 layout) for the `i`th request, so id order is age order.
fn seed_id(base_ms: i64, i: usize) -> String {
    let ms = (base_ms + i as i64) as u64;
    let rand = (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    let v = ((ms as u128) << 80)
        | (0x7u128 << 76)
        | (rand & 0x0fff_3fff_ffff_ffff_ffff)
        | (0b10u128 << 62);
    uuid::Uuid::from_u128(v).to_string()
}

#[cfg(test)]
mod tests {
    use hanko::domain::rules::Ballot;
    use hanko::domain::{RequestId, TaskToken};
    use hanko::store::{Callback, Inserted, Store, StoredDecision, StoredRequest, VoteWrite};
    use hanko_api::{Delivery, Outcome, VoteChoice};

    use super::*;

    /// What the seed wrote for the `i`th request, written instead through the store's API,
    /// as `hanko serve` would: intake, carol's deciding vote a minute later, the delivery.
    async fn write_through_the_store(
        store: &SqliteStore,
        id: &RequestId,
        r: &NewRequest,
        i: usize,
    ) {
        let inserted = store.insert(id, &token(i), r).await.unwrap();
        assert_eq!(inserted, Inserted::Created);
        let at = DateTime::from_timestamp_millis(r.created_at.timestamp_millis() + 60_000).unwrap();
        let (choice, outcome) = if i.is_multiple_of(7) {
            (VoteChoice::Reject, Outcome::Rejected)
        } else {
            (VoteChoice::Approve, Outcome::Approved)
        };
        let ballot = Ballot {
            voter: "carol@example.com".into(),
            subject: "dev|carol@example.com".into(),
            name: "Carol".into(),
            choice,
            comment: Some(VOTE_COMMENT.into()),
            decided_at: at,
            source_ip: Some("127.0.0.1".into()),
            user_agent: Some("Mozilla/5.0 (bench)".into()),
            passkey: None,
            on_behalf_of: None,
        };
        let decision = StoredDecision {
            outcome,
            decided_at: at,
            signature: signature(),
        };
        let callback = Callback::Success {
            output: "{}".into(),
        };
        let voted = store
            .record_vote(VoteWrite {
                id,
                expected_version: 0,
                ballot: &ballot,
                decision: Some((decision, callback)),
                lease_until: at,
                now: at,
            })
            .await
            .unwrap();
        assert!(voted, "the store refused carol's vote on {id}");
        store
            .record_delivery(id, Delivery::Delivered, None, None)
            .await
            .unwrap();
    }

    /// The `i`th request's task token, as the store takes it.
    fn token(i: usize) -> TaskToken {
        TaskToken::parse(&task_token(i)).unwrap()
    }

    /// A stored request without what the seed leaves out: the count of delivery attempts
    /// (the seed's deliveries took none).
    fn comparable(mut r: StoredRequest) -> StoredRequest {
        r.delivery_attempts = 0;
        r
    }

    #[tokio::test]
    async fn a_seed_reads_back_through_the_store_as_the_stores_own_writes_would() {
        let dir = tempfile::tempdir().unwrap();
        let seeded = dir.path().join("seeded.db");
        let n = 15;
        let pending = seed(&seeded, n, 5).unwrap();
        assert_eq!(pending.len(), 3);

        let ours = SqliteStore::open(&seeded).unwrap();
        let theirs = SqliteStore::open(&dir.path().join("store.db")).unwrap();
        let first = ours
            .list(&hanko::store::ListQuery {
                status: None,
                votable_by: None,
                visible_to: None,
                limit: n + 1,
                after: None,
                now: Utc::now(),
            })
            .await
            .unwrap()
            .items;
        assert_eq!(first.len(), n);
        for mine in first {
            let i: usize = mine.request.execution_name["run-".len()..].parse().unwrap();
            let id = mine.id.clone();
            let r = mine.request.clone();
            if pending.contains(&id.to_string()) {
                theirs.insert(&id, &token(i), &r).await.unwrap();
            } else {
                write_through_the_store(&theirs, &id, &r, i).await;
            }
            let expected = theirs.get(&id).await.unwrap().unwrap();
            assert_eq!(
                comparable(mine),
                comparable(expected),
                "request {i} as seeded and as the store writes it"
            );
            assert_eq!(
                ours.task_token(&id).await.unwrap(),
                Some(token(i)),
                "request {i}'s task token"
            );
        }
        // The list page's own columns, copied from the body at insert, agree too.
        for store in [&ours, &theirs] {
            let page = store
                .list_summaries(&hanko::store::ListQuery {
                    status: Some(hanko_api::RequestStatus::Pending),
                    votable_by: None,
                    visible_to: None,
                    limit: 10,
                    after: None,
                    now: Utc::now(),
                })
                .await
                .unwrap()
                .items;
            let mut ids: Vec<String> = page.into_iter().map(|s| s.id.to_string()).collect();
            ids.reverse();
            assert_eq!(ids, pending);
        }
    }
}
