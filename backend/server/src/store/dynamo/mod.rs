//! The AWS store: one DynamoDB table (single-table design), the table the SAM template
//! creates: key `pk` (S) + `sk` (S); GSI `gsi1` on `gsi1pk`/`gsi1sk` and GSI `gsi2` on
//! `gsi2pk`/`gsi2sk`, both projecting all attributes; TTL attribute `ttl`; on-demand.
//!
//! # Items
//!
//! | item | `pk` | `sk` | GSI keys | `ttl` |
//! | --- | --- | --- | --- | --- |
//! | request | `REQ#<id>` | `REQ` | gsi1 `STATUS#<status>` / `<id>`; gsi2 `EXPIRES` / `<expires ms>#<id>` while pending, `DELIVERY` / `<next attempt ms>#<id>` while a callback is owed (`pending` or `unconfirmed`; a claimed attempt's next attempt is the end of its lease) | closed + retention |
//! | task token | `TOKEN#<sha256 of the token>` | `TOKEN` | - | expires + retention |
//! | approver | `APPROVER#<principal>` | `<id>` | - | expires (no vote after it) |
//! | viewer | `VIEWER#<principal>` | `<id>` | - | expires + retention |
//! | vote | `REQ#<id>` | `VOTE#<seat email>` (the voter's, or whom a delegate voted for) | - | vote + longest timeout + retention |
//! | delegation | `DELEGATION#<delegator email>` | `DELEGATION` | - | until |
//! | delegate's pointer | `DELEGATE#<delegate email>` | `<delegator email>` | - | until |
//! | closure | `REQ#<id>` | `CLOSED` | gsi1 `CLOSED` / `<closed ms>#<id>` | closed + retention |
//! | chat message | `REQ#<id>` | `CHAT#<channel>#<ts>` | - | posted + longest timeout + retention |
//! | nudge (a reminder or the escalation to come, `nudge.rs`) | `REQ#<id>` | `NUDGE` | gsi2 `NUDGE` / `<next due ms>#<id>` while one is to come | due + retention |
//! | passkey | `PERSON#<email>` | `PASSKEY#<credential id>` | - | - (until removed) |
//! | passkey nonce | `NONCE#<nonce>` | `NONCE` | - | its expiry |
//!
//! The request item carries everything a page of the console shows, including a copy of
//! its ballots (`votes`), so every list is answered from the index items alone. The task
//! token lives only on the token item, whose key is the token's hash: the dedup key and
//! the secret in one place, never projected into an index. Ids are UUIDv7, so ordering by
//! id is ordering by creation; times in sort keys are zero-padded milliseconds.
//!
//! # Access patterns (no Scan anywhere)
//!
//! - `insert`: the approver items and the viewer items first (one viewer item per
//!   approver principal and one for the requester's email; idempotent; harmless while no
//!   request item exists), then a transaction putting the request item and the token
//!   item, each with `attribute_not_exists(pk)`. A cancelled token put means a duplicate
//!   delivery: the token item names the request it made. The request item is the commit
//!   point.
//! - `get`, `pending_callback`, `task_token`: consistent `GetItem`s. A callback is owed
//!   while `delivery` is `pending` or `unconfirmed`.
//! - `list`, newest first: `Query` gsi1 `STATUS#<s>` descending (`gsi1sk < after` for the
//!   next page), several partitions merged by id for "all" (five) and "expired" (expired
//!   plus overdue pending); "what I may vote on": `Query` the base table partitions
//!   `APPROVER#<principal>` of the caller's email and groups, merged, then `BatchGetItem`
//!   of the request items, whose status, deadline, votes and requester decide. "What I
//!   may see" (everyone but an auditor): `Query` the base table partitions
//!   `VIEWER#<principal>` of the caller's email and groups, merged, then `BatchGetItem` of
//!   the request items, whose status, approvers and requester decide; a page holds only
//!   requests the caller may see. Within one call, pages follow `LastEvaluatedKey`;
//!   between calls the cursor is the last id, from which the key condition is rebuilt.
//! - `record_vote`: a transaction: put the vote item with `attribute_not_exists(pk)` (one
//!   vote per person) and update the request item on `status = pending AND version =
//!   expected AND expires_ms > now` (racing approvers: exactly one wins; none after the
//!   deadline, however long signing took), appending the ballot, and when the vote
//!   decides, setting the decision, the owed callback, the closure time and TTL, and
//!   claiming the callback's delivery for the voter's own attempt just as `claim_delivery`
//!   does (`delivery = unconfirmed`, `claimed_until_ms` and the next attempt, and gsi2
//!   `DELIVERY` / `<lease end ms>#<id>`, at the end of the lease); with a decision it also
//!   puts the closure item. A decision delivered at once thus takes two writes, this
//!   transaction and `record_delivery`'s update, with no `claim_delivery` between them.
//! - `close_pending`: a transaction: update the request on `status = pending`, put the
//!   closure item.
//! - `claim_delivery`: one `UpdateItem` of the request item on `delivery IN (pending,
//!   unconfirmed)` and no unexpired claim (`claimed_until_ms` absent or at most now),
//!   setting `delivery = unconfirmed`, `claimed_until_ms` and the next attempt (and gsi2
//!   `DELIVERY` / `<lease end ms>#<id>`) to the end of the lease, returning the old item
//!   (`ALL_OLD`) for the callback, the attempts and whether an earlier attempt was
//!   unconfirmed. A failed condition is "nothing to claim". An attempt that dies without
//!   recording its result (the voter's, claimed by its vote, as any other) leaves the item
//!   `unconfirmed` in the `DELIVERY` partition at the end of its lease, so `due_deliveries`
//!   finds it again then.
//! - `record_delivery`: a consistent read, then one `UpdateItem` on `delivery IN (pending,
//!   unconfirmed)` and the status read (which `TaskGone` turns into closed unless
//!   expired), removing the claim; `pending` and `unconfirmed` stay in the `DELIVERY`
//!   partition at the retry time, every other result leaves it. `DeliveredOrGone` keeps
//!   the status and appends the error to the closed reason read (conditioned on it).
//! - `overdue`, `due_deliveries`: `Query` gsi2 `EXPIRES` / `DELIVERY` with `gsi2sk < now`.
//! - `pending_oldest_first`: `Query` gsi1 `STATUS#pending` ascending, `gsi1sk > after`;
//!   the execution ARN comes from the projected `body`.
//! - `decided_between`: `Query` gsi1 `CLOSED` between two times, oldest first, then
//!   `BatchGetItem` of the requests.
//! - `put_delegation`, `delete_delegation`: a consistent read of the delegation item, then
//!   a transaction putting it on its `version` read and the delegate's pointer (an ended
//!   copy over the old delegate's; `delete_delegation` puts both ended: nothing is
//!   deleted); `delegation_of`: a consistent `GetItem`; `delegations_to`: a consistent
//!   `Query` of `DELEGATE#<email>` (see `delegation`).
//! - `add_chat_message`: `PutItem` (the same message twice is the same item);
//!   `chat_messages`: a consistent `Query` of `REQ#<id>` with `sk` beginning `CHAT#`.
//!
//! Trade-offs: lists read indexes, which are eventually consistent (a list can show a
//! vote a moment late; `get` is consistent). Reconciliation reads `STATUS#pending` from
//! the index too: a request decided a moment ago may still be listed, and its conditional
//! close (`status = pending`) then does nothing. `STATUS#pending`, `EXPIRES`, `DELIVERY` and
//! `CLOSED` are one index partition each, far above what approvals by people need. An
//! approver item stays after its request is decided, until its deadline's TTL; the
//! "what I may vote on" list reads past those. A viewer item lives as long as its request
//! is kept, so "what I may see" in one status (pending, say) reads past the caller's whole
//! history in the other statuses, a request item per id (`BatchGetItem`, 100 at a time).
//! Requests stored before viewer items existed have none: they are listed to auditors
//! only (reading one by its id is unchanged).
//!
//! Throttling (after the SDK's own retries) is [`StoreError::Throttled`]; a condition that
//! fails where the trait has an answer for it (`false`, `Duplicate`) is that answer, and
//! otherwise [`StoreError::Conflict`].
//!
//! # Code
//!
//! `items`: the keys, and the items as structs (serde_dynamo); `expr`: update and
//! condition expressions; `query`: lists, merging and pages; `table`: the table's keys
//! and indexes, and its creation. This module: the [`Store`] itself.

mod chat;
mod delegation;
mod expr;
mod items;
mod nudge;
mod passkeys;
mod query;
mod table;

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, PutRequest, ReturnValue, TransactWriteItem, WriteRequest,
};
use chrono::{DateTime, Duration, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus};

use self::expr::{Expr, put, update};
use self::items::{
    ClosureItem, DELIVERY, EXPIRES, Item, NewRequestItem, PointerItem, REQUEST_SK, RequestRow,
    TOKEN_SK, TokenItem, VoteItem, approver_pk, bad, ballot_value, from_item, from_ms, key, num,
    request_pk, s, status_pk, timed_key, to_item, to_request, token_pk, viewer_pk,
};
use super::{
    Callback, ChatMessage, Claim, Inserted, ListQuery, NudgeClaim, Page, PendingCallback, Store,
    StoreError, StoreResult, StoredRequest, VoteWrite, Waiting, stored_id, stored_token,
    token_hash,
};
use crate::domain::intake::MAX_TIMEOUT_SECONDS;
use crate::domain::{Delegation, Email, NewRequest, RequestId, TaskToken};

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    retention: Duration,
}

impl DynamoStore {
    /// A store on an existing table; closed records expire `retention_days` after closing.
    pub fn new(client: Client, table: impl Into<String>, retention_days: u32) -> Self {
        Self {
            client,
            table: table.into(),
            retention: Duration::days(i64::from(retention_days)),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn err<E, R>(&self, what: &str, e: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        classify(&self.table, what, e)
    }

    /// The `ttl` (seconds) of a record kept for the retention period after `t_ms`.
    fn ttl_after(&self, t_ms: i64) -> i64 {
        (t_ms + self.retention.num_milliseconds()).div_euclid(1000)
    }

    async fn get_item(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        Ok(out.item)
    }

    async fn get_request(&self, id: &str) -> StoreResult<Option<RequestRow>> {
        self.get_item(request_pk(id), REQUEST_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn get_token(&self, hash: &str) -> StoreResult<Option<TokenItem>> {
        self.get_item(token_pk(hash), TOKEN_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    /// Puts one item, whatever was there.
    async fn put_item(&self, item: Item) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.err("PutItem", e))?;
        Ok(())
    }

    async fn batch_put(&self, items: Vec<Item>) -> StoreResult<()> {
        for chunk in items.chunks(25) {
            let mut writes: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    Ok(WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item.clone()))
                                .build()
                                .map_err(build_err)?,
                        )
                        .build())
                })
                .collect::<StoreResult<_>>()?;
            let mut tries = 0u32;
            while !writes.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, std::mem::take(&mut writes))
                    .send()
                    .await
                    .map_err(|e| self.err("BatchWriteItem", e))?;
                writes = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !writes.is_empty() {
                    tries += 1;
                    if tries > 8 {
                        return Err(StoreError::Throttled(
                            "BatchWriteItem kept leaving items unprocessed".into(),
                        ));
                    }
                    tokio::time::sleep(backoff(tries)).await;
                }
            }
        }
        Ok(())
    }

    /// Writes a transaction; `Ok(Err(codes))` when it was cancelled, with one reason
    /// code per item (`"None"` for the items that were fine).
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> StoreResult<Result<(), Vec<String>>> {
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            Err(e) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(tc)) =
                    e.as_service_error()
                {
                    let codes: Vec<String> = tc
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_string())
                        .collect();
                    if codes.iter().any(|c| c == "ThrottlingError") {
                        return Err(StoreError::Throttled(format!(
                            "TransactWriteItems on {}: {codes:?}",
                            self.table
                        )));
                    }
                    return Ok(Err(codes));
                }
                Err(self.err("TransactWriteItems", e))
            }
        }
    }

    fn closure_item(&self, id: &str, closed_ms: i64) -> StoreResult<Item> {
        to_item(ClosureItem::new(id, closed_ms, self.ttl_after(closed_ms)))
    }
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::backend(format!("DynamoDB request: {e}"))
}

fn backoff(tries: u32) -> StdDuration {
    StdDuration::from_millis(25 * 2u64.pow(tries.min(6)))
}

fn classify<E, R>(table: &str, what: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    // A service error in one line (code and message); anything else (timeouts,
    // connection failures) with its whole chain of causes.
    let detail = match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{what} on {table}: {code}: {message}"),
        (Some(code), None) => format!("{what} on {table}: {code}"),
        _ => format!("{what} on {table}: {}", DisplayErrorContext(&e)),
    };
    match e.code() {
        Some(
            "ThrottlingException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "LimitExceededException",
        ) => StoreError::Throttled(detail),
        Some("ResourceNotFoundException") => StoreError::backend(format!(
            "{what}: DynamoDB table {table:?} not found (HANKO_TABLE)"
        )),
        Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
            StoreError::Conflict(detail)
        }
        _ => StoreError::backend(detail),
    }
}

fn outcome_status(o: Outcome) -> RequestStatus {
    match o {
        Outcome::Approved => RequestStatus::Approved,
        Outcome::Rejected => RequestStatus::Rejected,
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn insert(
        &self,
        id: &RequestId,
        task_token: &TaskToken,
        req: &NewRequest,
    ) -> StoreResult<Inserted> {
        let id = id.as_str();
        let hash = token_hash(task_token);
        // Redelivery of a message is the common duplicate: answer it without writing.
        if let Some(existing) = self.get_token(&hash).await? {
            return Ok(Inserted::Duplicate {
                existing_id: stored_id(existing.request_id)?,
            });
        }
        let created_ms = req.created_at.timestamp_millis();
        let expires_ms = req.expires_at.timestamp_millis();
        let approvers: Vec<String> = req.approvers.iter().map(ToString::to_string).collect();
        let mut seen = HashSet::new();
        let principals: Vec<&str> = approvers
            .iter()
            .map(String::as_str)
            .filter(|p| seen.insert(*p))
            .collect();
        let pointer = |pk: String, ttl: i64| PointerItem {
            pk,
            sk: id.to_string(),
            id: id.to_string(),
            ttl,
        };
        // Who may vote (until the deadline) and who may see the request (as long as it is
        // kept): its approvers and its requester.
        let mut pointers: Vec<PointerItem> = principals
            .iter()
            .map(|p| pointer(approver_pk(p), expires_ms.div_euclid(1000) + 1))
            .collect();
        let requester = req
            .requested_by
            .as_ref()
            .map(Email::as_str)
            .filter(|r| seen.insert(r));
        pointers.extend(
            principals
                .iter()
                .copied()
                .chain(requester)
                .map(|p| pointer(viewer_pk(p), self.ttl_after(expires_ms))),
        );
        self.batch_put(pointers.iter().map(to_item).collect::<StoreResult<_>>()?)
            .await?;

        let request = NewRequestItem {
            pk: request_pk(id),
            sk: REQUEST_SK,
            id,
            status: RequestStatus::Pending,
            body: serde_json::to_string(req)?,
            version: 0,
            created_ms,
            expires_ms,
            token_hash: &hash,
            votes: Vec::new(),
            delivery_attempts: 0,
            gsi1pk: status_pk(RequestStatus::Pending),
            gsi1sk: id,
            gsi2pk: EXPIRES,
            gsi2sk: timed_key(expires_ms, id),
        };
        let token = TokenItem {
            pk: token_pk(&hash),
            sk: TOKEN_SK.to_string(),
            request_id: id.to_string(),
            task_token: task_token.expose().to_string(),
            ttl: self.ttl_after(expires_ms),
        };
        let mut items = vec![
            put(
                &self.table,
                to_item(request)?,
                Some("attribute_not_exists(pk)"),
            )?,
            put(
                &self.table,
                to_item(token)?,
                Some("attribute_not_exists(pk)"),
            )?,
        ];
        if let Some(nudge) = self.first_nudge_item(id, req)? {
            items.push(put(&self.table, nudge, None)?);
        }
        let written = self.transact(items).await?;
        match written {
            Ok(()) => Ok(Inserted::Created),
            Err(codes) => {
                // Nothing of this request was committed: take its approver and viewer
                // items back.
                let cleanup = async {
                    for p in pointers {
                        self.client
                            .delete_item()
                            .table_name(&self.table)
                            .set_key(Some(key(p.pk, &p.sk)))
                            .send()
                            .await
                            .map_err(|e| self.err("DeleteItem", e))?;
                    }
                    Ok::<_, StoreError>(())
                };
                if codes.get(1).map(String::as_str) == Some("ConditionalCheckFailed") {
                    if let Err(e) = cleanup.await {
                        tracing::warn!(request_id = %id, error = %e, "could not remove the approver and viewer items of a duplicate");
                    }
                    let existing = self
                        .get_token(&hash)
                        .await?
                        .ok_or_else(|| StoreError::Conflict("token item vanished".into()))?;
                    return Ok(Inserted::Duplicate {
                        existing_id: stored_id(existing.request_id)?,
                    });
                }
                if codes.first().map(String::as_str) == Some("ConditionalCheckFailed") {
                    return Err(StoreError::Conflict(format!("request id {id} is taken")));
                }
                Err(StoreError::Conflict(format!(
                    "inserting request {id} was cancelled: {codes:?}"
                )))
            }
        }
    }

    async fn get(&self, id: &RequestId) -> StoreResult<Option<StoredRequest>> {
        self.get_request(id.as_str())
            .await?
            .map(RequestRow::into_stored)
            .transpose()
    }

    async fn list(&self, q: &ListQuery) -> StoreResult<Page<StoredRequest>> {
        self.list_page(q).await
    }

    async fn record_vote(&self, w: VoteWrite<'_>) -> StoreResult<bool> {
        let b = w.ballot;
        let id = w.id.as_str();
        // The vote does not know its request's deadline; the longest a request can wait is
        // enough for the one-vote-per-person condition to outlive it.
        let vote = VoteItem::new(
            id,
            b,
            self.ttl_after(b.decided_at.timestamp_millis() + MAX_TIMEOUT_SECONDS * 1000),
        );
        let mut e = Expr::default();
        let votes = e.name("votes");
        let ballot = e.value(AttributeValue::L(vec![ballot_value(b)?]));
        e.increment("version");
        e.set_raw(format!("{votes} = list_append({votes}, {ballot})"));
        let mut closure = None;
        if let Some((d, cb)) = &w.decision {
            let at = d.decided_at.timestamp_millis();
            let lease_ms = w.lease_until.timestamp_millis();
            let status = outcome_status(d.outcome);
            e.set("status", s(status.as_str()))
                .set("outcome", s(d.outcome.as_str()))
                .set("decided_ms", num(at))
                .set("signature", s(&d.signature))
                .set("callback", s(serde_json::to_string(cb)?))
                // Claimed for the voter's own attempt, as `claim_delivery` would claim it:
                // one write instead of two. If that attempt never records its outcome, the
                // sweeper finds it in the DELIVERY partition when the lease ends.
                .set("delivery", s(Delivery::Unconfirmed.as_str()))
                .set("claimed_until_ms", num(lease_ms))
                .set("next_attempt_ms", num(lease_ms))
                .set("closed_ms", num(at))
                .set("ttl", num(self.ttl_after(at)))
                .set("gsi1pk", s(status_pk(status)))
                .set("gsi2pk", s(DELIVERY))
                .set("gsi2sk", s(timed_key(lease_ms, id)));
            closure = Some(self.closure_item(id, at)?);
        }
        let (st, version, expires) = (e.name("status"), e.name("version"), e.name("expires_ms"));
        let (pending, expected, now) = (
            e.value(s(RequestStatus::Pending.as_str())),
            e.value(num(w.expected_version)),
            e.value(num(w.now.timestamp_millis())),
        );
        // No vote once the deadline has passed, however long signing took.
        let condition =
            format!("{st} = {pending} AND {version} = {expected} AND {expires} > {now}");
        let mut items = vec![
            put(
                &self.table,
                to_item(vote)?,
                Some("attribute_not_exists(pk)"),
            )?,
            update(e.into_update(&self.table, id, condition)?),
        ];
        if let Some(c) = closure {
            items.push(put(&self.table, c, None)?);
        }
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            Err(codes) => {
                if codes
                    .iter()
                    .any(|c| c == "ConditionalCheckFailed" || c == "TransactionConflict")
                {
                    Ok(false)
                } else {
                    Err(StoreError::Conflict(format!(
                        "vote on {} was cancelled: {codes:?}",
                        id
                    )))
                }
            }
        }
    }

    async fn close_pending(
        &self,
        id: &RequestId,
        status: RequestStatus,
        reason: &str,
        callback: Option<Callback>,
    ) -> StoreResult<bool> {
        let id = id.as_str();
        let now = Utc::now().timestamp_millis();
        let mut e = Expr::default();
        e.set("status", s(status.as_str()))
            .set("closed_reason", s(reason))
            .set("closed_ms", num(now))
            .set("ttl", num(self.ttl_after(now)))
            .set("gsi1pk", s(status_pk(status)));
        match &callback {
            Some(cb) => {
                e.set("callback", s(serde_json::to_string(cb)?))
                    .set("delivery", s(Delivery::Pending.as_str()))
                    .set("next_attempt_ms", num(now))
                    .set("gsi2pk", s(DELIVERY))
                    .set("gsi2sk", s(timed_key(now, id)));
            }
            None => {
                e.remove("callback")
                    .remove("delivery")
                    .remove("next_attempt_ms")
                    .remove("gsi2pk")
                    .remove("gsi2sk");
            }
        }
        e.increment("version");
        let st = e.name("status");
        let pending = e.value(s(RequestStatus::Pending.as_str()));
        let condition = format!("{st} = {pending}");
        let items = vec![
            update(e.into_update(&self.table, id, condition)?),
            put(&self.table, self.closure_item(id, now)?, None)?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(true),
            Err(codes) if codes.first().map(String::as_str) == Some("ConditionalCheckFailed") => {
                Ok(false)
            }
            Err(codes) => Err(StoreError::Conflict(format!(
                "closing {id} was cancelled: {codes:?}"
            ))),
        }
    }

    async fn task_token(&self, id: &RequestId) -> StoreResult<Option<TaskToken>> {
        let id = id.as_str();
        let Some(req) = self.get_request(id).await? else {
            return Ok(None);
        };
        let hash = req.token_hash.ok_or_else(|| bad("token_hash", "missing"))?;
        self.get_token(&hash)
            .await?
            .map(|t| stored_token(&t.task_token))
            .transpose()
    }

    async fn pending_callback(&self, id: &RequestId) -> StoreResult<Option<PendingCallback>> {
        let id = id.as_str();
        let Some(req) = self.get_request(id).await? else {
            return Ok(None);
        };
        if !req.owed() {
            return Ok(None);
        }
        match &req.callback {
            None => Ok(None),
            Some(cb) => Ok(Some(PendingCallback {
                callback: serde_json::from_str(cb)?,
                attempts: req.attempts(),
            })),
        }
    }

    async fn claim_delivery(
        &self,
        id: &RequestId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claim>> {
        let id = id.as_str();
        let lease_ms = lease_until.timestamp_millis();
        let mut e = Expr::default();
        // Until the attempt records its result, its outcome is unknown; the sweeper finds
        // it again in the DELIVERY partition when the claim ends.
        e.set("delivery", s(Delivery::Unconfirmed.as_str()))
            .set("claimed_until_ms", num(lease_ms))
            .set("next_attempt_ms", num(lease_ms))
            .set("gsi2pk", s(DELIVERY))
            .set("gsi2sk", s(timed_key(lease_ms, id)));
        let (d, claimed, cb) = (
            e.name("delivery"),
            e.name("claimed_until_ms"),
            e.name("callback"),
        );
        let (pending, unconfirmed, now) = (
            e.value(s(Delivery::Pending.as_str())),
            e.value(s(Delivery::Unconfirmed.as_str())),
            e.value(num(now.timestamp_millis())),
        );
        let condition = format!(
            "{d} IN ({pending}, {unconfirmed}) AND attribute_exists({cb}) AND \
             (attribute_not_exists({claimed}) OR {claimed} <= {now})"
        );
        let u = e.into_update(&self.table, id, condition)?;
        let r = self
            .update_item(u)
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        let before: RequestRow = match r {
            Ok(out) => from_item(out.attributes.unwrap_or_default())?,
            // Nothing owed, no such request, or another attempt holds the claim.
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => return Ok(None),
            Err(e) => return Err(self.err("UpdateItem", e)),
        };
        let callback = before
            .callback
            .as_deref()
            .ok_or_else(|| bad("callback", "missing"))?;
        Ok(Some(Claim {
            callback: serde_json::from_str(callback)?,
            attempts: before.attempts(),
            unconfirmed: before.delivery == Some(Delivery::Unconfirmed),
        }))
    }

    async fn record_delivery(
        &self,
        id: &RequestId,
        result: Delivery,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let id = id.as_str();
        let Some(req) = self.get_request(id).await? else {
            return Ok(());
        };
        if !req.owed() {
            // Only a delivery still owed changes: a late answer to a duplicate attempt must
            // not turn a delivered decision into a closed request.
            return Ok(());
        }
        let seen = req.status;
        let mut e = Expr::default();
        e.set("delivery", s(result.as_str()))
            .set_opt("last_error", error.map(s))
            .set_opt(
                "next_attempt_ms",
                retry_at.map(|t| num(t.timestamp_millis())),
            )
            // The attempt is over: its claim ends with it.
            .remove("claimed_until_ms")
            .increment("delivery_attempts");
        if matches!(result, Delivery::Pending | Delivery::Unconfirmed) {
            let next = retry_at.map_or(0, |t| t.timestamp_millis());
            e.set("gsi2pk", s(DELIVERY))
                .set("gsi2sk", s(timed_key(next, id)));
        } else {
            e.remove("gsi2pk").remove("gsi2sk");
        }
        if result == Delivery::TaskGone {
            // The workflow no longer waits: whatever was decided, the request is closed.
            let status = if seen == RequestStatus::Expired {
                RequestStatus::Expired
            } else {
                RequestStatus::Closed
            };
            e.set("status", s(status.as_str()))
                .set("gsi1pk", s(status_pk(status)));
            if req.closed_reason.is_none() {
                e.set_opt("closed_reason", error.map(s));
            }
            if req.closed_ms.is_none() {
                let now = Utc::now().timestamp_millis();
                e.set("closed_ms", num(now))
                    .set("ttl", num(self.ttl_after(now)));
            }
        }
        if result == Delivery::DeliveredOrGone
            && let Some(error) = error
        {
            // Perhaps delivered: the decision stands; say what Step Functions answered.
            let reason = match &req.closed_reason {
                Some(before) => format!("{before}; {error}"),
                None => error.to_string(),
            };
            e.set("closed_reason", s(reason));
        }
        let (d, st) = (e.name("delivery"), e.name("status"));
        let (pending, unconfirmed, seen) = (
            e.value(s(Delivery::Pending.as_str())),
            e.value(s(Delivery::Unconfirmed.as_str())),
            e.value(s(seen.as_str())),
        );
        let mut condition = format!("{d} IN ({pending}, {unconfirmed}) AND {st} = {seen}");
        if result == Delivery::DeliveredOrGone {
            // The reason appended to is the one read.
            let reason = e.name("closed_reason");
            match &req.closed_reason {
                Some(before) => {
                    let before = e.value(s(before));
                    condition.push_str(&format!(" AND {reason} = {before}"));
                }
                None => condition.push_str(&format!(" AND attribute_not_exists({reason})")),
            }
        }
        let u = e.into_update(&self.table, id, condition)?;
        let r = self.update_item(u).send().await;
        match r {
            Ok(_) => Ok(()),
            // Another attempt recorded its outcome first.
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(()),
            Err(e) => Err(self.err("UpdateItem", e)),
        }
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<RequestId>> {
        self.sweep_query(DELIVERY, now, limit).await
    }

    async fn oldest_owed_callback(&self) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.oldest_closed_in(DELIVERY).await?.map(from_ms))
    }

    async fn due_nudges(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<RequestId>> {
        self.due_nudge_ids(now, limit).await
    }

    async fn sent_nudges(&self, id: &RequestId) -> StoreResult<Vec<String>> {
        self.sent_nudge_keys(id).await
    }

    async fn claim_nudges(&self, c: NudgeClaim<'_>) -> StoreResult<bool> {
        self.claim_nudge_keys(c).await
    }

    async fn drop_nudges(&self, id: &RequestId) -> StoreResult<()> {
        self.unschedule_nudges(id).await
    }

    async fn overdue(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<RequestId>> {
        self.sweep_query(EXPIRES, now, limit).await
    }

    async fn pending_oldest_first(
        &self,
        after: Option<&RequestId>,
        limit: usize,
    ) -> StoreResult<Vec<Waiting>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.pending_items(after, limit)
            .await?
            .into_iter()
            .map(|item| {
                let row: RequestRow = from_item(item)?;
                let body: NewRequest = serde_json::from_str(&row.body)?;
                Ok(Waiting {
                    id: stored_id(row.id)?,
                    execution_arn: body.execution_arn,
                })
            })
            .collect()
    }

    async fn decided_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<StoredRequest>> {
        let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
        if limit == 0 || to <= from {
            return Ok(Vec::new());
        }
        let ids = self.closed_between(from, to, limit).await?;
        self.batch_get(&ids)
            .await?
            .into_iter()
            .map(to_request)
            .collect()
    }
    async fn add_chat_message(&self, id: &RequestId, message: &ChatMessage) -> StoreResult<()> {
        self.put_chat_message(id.as_str(), message).await
    }

    async fn chat_messages(&self, id: &RequestId) -> StoreResult<Vec<ChatMessage>> {
        self.query_chat_messages(id.as_str()).await
    }

    async fn put_delegation(&self, d: &Delegation) -> StoreResult<()> {
        self.write_delegation(d).await
    }

    async fn delegation_of(&self, delegator: &str) -> StoreResult<Option<Delegation>> {
        self.read_delegation(delegator).await
    }

    async fn delete_delegation(&self, delegator: &str) -> StoreResult<bool> {
        self.remove_delegation(delegator).await
    }

    async fn delegations_to(
        &self,
        delegate: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Delegation>> {
        self.query_delegations_to(delegate, now).await
    }
}
