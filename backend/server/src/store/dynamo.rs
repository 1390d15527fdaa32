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
//! | vote | `REQ#<id>` | `VOTE#<voter email>` | - | vote + longest timeout + retention |
//! | closure | `REQ#<id>` | `CLOSED` | gsi1 `CLOSED` / `<closed ms>#<id>` | closed + retention |
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

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType, KeysAndAttributes, PointInTimeRecoverySpecification, Projection, ProjectionType, Put,
    PutRequest, ReturnValue, ScalarAttributeType, SseSpecification, TableStatus,
    TimeToLiveSpecification, TransactWriteItem, Update, WriteRequest,
};
use chrono::{DateTime, Duration, TimeZone, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus, VoteChoice};

use super::{
    Callback, Claim, Inserted, ListQuery, PendingCallback, Store, StoreError, StoreResult,
    StoredDecision, StoredRequest, VoteWrite, token_hash,
};
use crate::domain::NewRequest;
use crate::domain::intake::MAX_TIMEOUT_SECONDS;
use crate::domain::rules::Ballot;

type Item = HashMap<String, AttributeValue>;

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

    fn ttl_after(&self, t_ms: i64) -> AttributeValue {
        num((t_ms + self.retention.num_milliseconds()).div_euclid(1000))
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

    async fn get_request(&self, id: &str) -> StoreResult<Option<Item>> {
        self.get_item(request_pk(id), REQUEST_SK).await
    }

    /// The request items of `ids`, in the order of `ids`; missing ones are left out.
    async fn batch_get(&self, ids: &[String]) -> StoreResult<Vec<Item>> {
        let mut found: HashMap<String, Item> = HashMap::new();
        for chunk in ids.chunks(100) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .collect::<HashSet<_>>()
                .into_iter()
                .map(|id| key(request_pk(id), REQUEST_SK))
                .collect();
            let mut tries = 0u32;
            while !keys.is_empty() {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut keys)))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err)?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, ka)
                    .send()
                    .await
                    .map_err(|e| self.err("BatchGetItem", e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    if let Some(id) = str_attr(&item, "id") {
                        found.insert(id.to_string(), item);
                    }
                }
                keys = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|ka| ka.keys)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    tries += 1;
                    if tries > 8 {
                        return Err(StoreError::Throttled(
                            "BatchGetItem kept leaving keys unprocessed".into(),
                        ));
                    }
                    tokio::time::sleep(backoff(tries)).await;
                }
            }
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
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

    /// One page of a query, in key order (`forward`) or reverse.
    async fn query_page(
        &self,
        src: &Source,
        start: Option<Item>,
    ) -> StoreResult<(Vec<Item>, Option<Item>)> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .scan_index_forward(src.forward)
            .set_exclusive_start_key(start)
            .limit(src.page)
            .expression_attribute_names("#pk", src.pk_attr)
            .expression_attribute_values(":pk", s(&src.pk));
        if !matches!(src.range, Range::All) {
            q = q.expression_attribute_names("#sk", src.sk_attr);
        }
        if let Some(index) = src.index {
            q = q.index_name(index);
        }
        q = match &src.range {
            Range::All => q.key_condition_expression("#pk = :pk"),
            Range::Below(b) => q
                .key_condition_expression("#pk = :pk AND #sk < :b")
                .expression_attribute_values(":b", s(b)),
            Range::Above(a) => q
                .key_condition_expression("#pk = :pk AND #sk > :a")
                .expression_attribute_values(":a", s(a)),
            Range::Between(a, b) => q
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :a AND :b")
                .expression_attribute_values(":a", s(a))
                .expression_attribute_values(":b", s(b)),
        };
        let out = q.send().await.map_err(|e| self.err("Query", e))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// The ids (`id` attribute) of up to `limit` items of one query, in its order.
    async fn query_ids(&self, src: &Source, limit: usize) -> StoreResult<Vec<String>> {
        let mut ids = Vec::new();
        let mut start = None;
        loop {
            let (items, next) = self.query_page(src, start).await?;
            ids.extend(
                items
                    .iter()
                    .filter_map(|i| str_attr(i, "id"))
                    .map(str::to_string),
            );
            if ids.len() >= limit || next.is_none() {
                ids.truncate(limit);
                return Ok(ids);
            }
            start = next;
        }
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

    /// Merges newest-first sources by id and keeps the requests `keep` accepts, until
    /// `want` are found or the sources run dry.
    async fn merged(
        &self,
        sources: Vec<Source>,
        resolve: bool,
        want: usize,
        keep: impl Fn(&StoredRequest) -> bool,
    ) -> StoreResult<Vec<StoredRequest>> {
        let mut streams: Vec<Stream> = sources.into_iter().map(Stream::new).collect();
        let mut out = Vec::new();
        let mut last: Option<String> = None;
        while out.len() < want {
            // The batch of candidates, newest first, before reading their requests.
            let mut batch: Vec<(String, Option<Item>)> = Vec::new();
            let room = (want - out.len()).clamp(1, 100);
            while batch.len() < room {
                let mut best: Option<(usize, String)> = None;
                for (i, st) in streams.iter_mut().enumerate() {
                    if let Some(id) = st.head_id(self).await?
                        && best.as_ref().is_none_or(|(_, b)| id > *b)
                    {
                        best = Some((i, id));
                    }
                }
                let Some((i, id)) = best else { break };
                let item = streams[i].pop();
                if last.as_deref() == Some(id.as_str()) {
                    continue; // the same request through two principals
                }
                last = Some(id.clone());
                batch.push((id, item));
            }
            if batch.is_empty() {
                break;
            }
            let items: Vec<Item> = if resolve {
                let ids: Vec<String> = batch.into_iter().map(|(id, _)| id).collect();
                self.batch_get(&ids).await?
            } else {
                batch.into_iter().filter_map(|(_, i)| i).collect()
            };
            for item in &items {
                let r = to_request(item)?;
                if keep(&r) {
                    out.push(r);
                    if out.len() == want {
                        break;
                    }
                }
            }
        }
        Ok(out)
    }

    /// Creates the table exactly as the SAM template does (keys, both GSIs, on-demand,
    /// encryption with the AWS managed key, TTL on `ttl`, point-in-time recovery) and
    /// waits until it is active.
    pub async fn create_table(client: &Client, table: &str) -> StoreResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let key = |name: &str, kt: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kt)
                .build()
                .map_err(build_err)
        };
        let gsi = |name: &str| {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(&format!("{name}pk"), KeyType::Hash)?)
                .key_schema(key(&format!("{name}sk"), KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)
        };
        let mut create = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(gsi("gsi1")?)
            .global_secondary_indexes(gsi("gsi2")?);
        for name in ["pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk"] {
            create = create.attribute_definitions(attr(name)?);
        }
        create
            .send()
            .await
            .map_err(|e| classify(table, "CreateTable", e))?;
        for i in 0..120u32 {
            let d = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| classify(table, "DescribeTable", e))?;
            if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            if i == 119 {
                return Err(StoreError::Backend(format!(
                    "table {table} did not become active"
                )));
            }
            tokio::time::sleep(StdDuration::from_millis(500)).await;
        }
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("ttl")
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify(table, "UpdateTimeToLive", e))?;
        client
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify(table, "UpdateContinuousBackups", e))?;
        Ok(())
    }
}

/// What to query: one partition of the table or of an index, in one direction.
struct Source {
    index: Option<&'static str>,
    pk_attr: &'static str,
    sk_attr: &'static str,
    pk: String,
    range: Range,
    forward: bool,
    page: i32,
}

enum Range {
    All,
    Below(String),
    Above(String),
    Between(String, String),
}

impl Source {
    fn gsi1(pk: String, after: Option<&String>, page: i32) -> Self {
        Self {
            index: Some("gsi1"),
            pk_attr: "gsi1pk",
            sk_attr: "gsi1sk",
            pk,
            range: after.map_or(Range::All, |a| Range::Below(a.clone())),
            forward: false,
            page,
        }
    }
}

/// A source read page by page, one item at a time.
struct Stream {
    src: Source,
    buf: VecDeque<Item>,
    next: Option<Item>,
    done: bool,
}

impl Stream {
    fn new(src: Source) -> Self {
        Self {
            src,
            buf: VecDeque::new(),
            next: None,
            done: false,
        }
    }

    async fn head_id(&mut self, store: &DynamoStore) -> StoreResult<Option<String>> {
        while self.buf.is_empty() && !self.done {
            let (items, next) = store.query_page(&self.src, self.next.take()).await?;
            self.buf.extend(items);
            self.done = next.is_none();
            self.next = next;
        }
        Ok(self
            .buf
            .front()
            .and_then(|i| str_attr(i, "id"))
            .map(str::to_string))
    }

    fn pop(&mut self) -> Option<Item> {
        self.buf.pop_front()
    }
}

const REQUEST_SK: &str = "REQ";
const TOKEN_SK: &str = "TOKEN";
const CLOSED_SK: &str = "CLOSED";
const EXPIRES: &str = "EXPIRES";
const DELIVERY: &str = "DELIVERY";
const CLOSED: &str = "CLOSED";

fn request_pk(id: &str) -> String {
    format!("REQ#{id}")
}

fn token_pk(hash: &str) -> String {
    format!("TOKEN#{hash}")
}

fn approver_pk(principal: &str) -> String {
    format!("APPROVER#{principal}")
}

fn viewer_pk(principal: &str) -> String {
    format!("VIEWER#{principal}")
}

fn status_pk(status: RequestStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

/// A time as a sort key: fixed width, so text order is time order.
fn at_key(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

fn timed_key(ms: i64, id: &str) -> String {
    format!("{}#{id}", at_key(ms))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn num(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

fn str_attr<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

fn num_attr(item: &Item, name: &str) -> StoreResult<Option<i64>> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v.parse().map(Some).map_err(|_| bad(name, v)),
        Some(other) => Err(bad(name, &format!("{other:?}"))),
    }
}

fn opt_string(item: &Item, name: &str) -> Option<String> {
    str_attr(item, name).map(str::to_string)
}

fn required<'a>(item: &'a Item, name: &str) -> StoreResult<&'a str> {
    str_attr(item, name).ok_or_else(|| bad(name, "missing"))
}

fn bad(what: &str, v: &str) -> StoreError {
    StoreError::Backend(format!("unexpected {what} {v:?} in the table"))
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Backend(format!("DynamoDB request: {e}"))
}

fn backoff(tries: u32) -> StdDuration {
    StdDuration::from_millis(25 * 2u64.pow(tries.min(6)))
}

fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
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
        Some("ResourceNotFoundException") => StoreError::Backend(format!(
            "{what}: DynamoDB table {table:?} not found (HANKO_TABLE)"
        )),
        Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
            StoreError::Conflict(detail)
        }
        _ => StoreError::Backend(detail),
    }
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

fn outcome_status(o: Outcome) -> RequestStatus {
    match o {
        Outcome::Approved => RequestStatus::Approved,
        Outcome::Rejected => RequestStatus::Rejected,
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

/// Whether the item's callback is still owed: `pending`, or `unconfirmed` (an attempt got
/// no answer, or is under way).
fn owed(item: &Item) -> bool {
    matches!(
        str_attr(item, "delivery"),
        Some(d) if d == delivery_str(Delivery::Pending) || d == delivery_str(Delivery::Unconfirmed)
    )
}

fn ballot_item(b: &Ballot) -> AttributeValue {
    let mut m = HashMap::from([
        ("voter".to_string(), s(&b.voter)),
        ("subject".to_string(), s(&b.subject)),
        ("name".to_string(), s(&b.name)),
        ("choice".to_string(), s(choice_str(b.choice))),
        (
            "decided_ms".to_string(),
            num(b.decided_at.timestamp_millis()),
        ),
    ]);
    for (k, v) in [
        ("comment", &b.comment),
        ("source_ip", &b.source_ip),
        ("user_agent", &b.user_agent),
    ] {
        if let Some(v) = v {
            m.insert(k.to_string(), s(v));
        }
    }
    AttributeValue::M(m)
}

fn to_ballot(v: &AttributeValue) -> StoreResult<Ballot> {
    let AttributeValue::M(m) = v else {
        return Err(bad("vote", &format!("{v:?}")));
    };
    Ok(Ballot {
        voter: required(m, "voter")?.to_string(),
        subject: required(m, "subject")?.to_string(),
        name: required(m, "name")?.to_string(),
        choice: match required(m, "choice")? {
            "approve" => VoteChoice::Approve,
            "reject" => VoteChoice::Reject,
            other => return Err(bad("choice", other)),
        },
        comment: opt_string(m, "comment"),
        decided_at: from_ms(num_attr(m, "decided_ms")?.unwrap_or_default()),
        source_ip: opt_string(m, "source_ip"),
        user_agent: opt_string(m, "user_agent"),
    })
}

fn to_request(item: &Item) -> StoreResult<StoredRequest> {
    let request: NewRequest = serde_json::from_str(required(item, "body")?)?;
    let status_s = required(item, "status")?;
    let status = RequestStatus::parse(status_s).ok_or_else(|| bad("status", status_s))?;
    let decision = match (
        str_attr(item, "outcome"),
        num_attr(item, "decided_ms")?,
        str_attr(item, "signature"),
    ) {
        (Some(o), Some(at), Some(sig)) => Some(StoredDecision {
            outcome: match o {
                "approved" => Outcome::Approved,
                "rejected" => Outcome::Rejected,
                other => return Err(bad("outcome", other)),
            },
            decided_at: from_ms(at),
            signature: sig.to_string(),
        }),
        _ => None,
    };
    let delivery = match str_attr(item, "delivery") {
        None => None,
        Some("pending") => Some(Delivery::Pending),
        Some("delivered") => Some(Delivery::Delivered),
        Some("task_gone") => Some(Delivery::TaskGone),
        Some("unconfirmed") => Some(Delivery::Unconfirmed),
        Some("delivered_or_gone") => Some(Delivery::DeliveredOrGone),
        Some(other) => return Err(bad("delivery", other)),
    };
    let mut votes = match item.get("votes") {
        Some(AttributeValue::L(l)) => l.iter().map(to_ballot).collect::<StoreResult<Vec<_>>>()?,
        _ => Vec::new(),
    };
    votes.sort_by(|a, b| (a.decided_at, &a.voter).cmp(&(b.decided_at, &b.voter)));
    Ok(StoredRequest {
        id: required(item, "id")?.to_string(),
        request,
        status,
        version: num_attr(item, "version")?.unwrap_or_default(),
        votes,
        decision,
        delivery,
        delivery_attempts: num_attr(item, "delivery_attempts")?
            .unwrap_or_default()
            .clamp(0, i64::from(u32::MAX)) as u32,
        last_delivery_error: opt_string(item, "last_error"),
        closed_reason: opt_string(item, "closed_reason"),
        closed_at: num_attr(item, "closed_ms")?.map(from_ms),
    })
}

/// `SET`/`REMOVE` clauses with placeholder names for every attribute (several, like
/// `status` and `ttl`, are reserved words).
#[derive(Default)]
struct Expr {
    set: Vec<String>,
    remove: Vec<String>,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, attr: &str) -> String {
        let k = format!("#{attr}");
        self.names.insert(k.clone(), attr.to_string());
        k
    }

    fn value(&mut self, v: AttributeValue) -> String {
        let k = format!(":v{}", self.values.len());
        self.values.insert(k.clone(), v);
        k
    }

    fn set(&mut self, attr: &str, v: AttributeValue) -> &mut Self {
        let (n, v) = (self.name(attr), self.value(v));
        self.set.push(format!("{n} = {v}"));
        self
    }

    fn set_opt(&mut self, attr: &str, v: Option<AttributeValue>) -> &mut Self {
        match v {
            Some(v) => self.set(attr, v),
            None => self.remove(attr),
        }
    }

    fn set_raw(&mut self, clause: String) -> &mut Self {
        self.set.push(clause);
        self
    }

    fn remove(&mut self, attr: &str) -> &mut Self {
        let n = self.name(attr);
        self.remove.push(n);
        self
    }

    fn update_expression(&self) -> String {
        let mut e = String::new();
        if !self.set.is_empty() {
            e.push_str("SET ");
            e.push_str(&self.set.join(", "));
        }
        if !self.remove.is_empty() {
            e.push_str(" REMOVE ");
            e.push_str(&self.remove.join(", "));
        }
        e
    }

    /// An `Update` of the request item `id` under `condition`.
    fn into_update(self, table: &str, id: &str, condition: String) -> StoreResult<Update> {
        Update::builder()
            .table_name(table)
            .set_key(Some(key(request_pk(id), REQUEST_SK)))
            .update_expression(self.update_expression())
            .condition_expression(condition)
            .set_expression_attribute_names(Some(self.names))
            .set_expression_attribute_values(Some(self.values))
            .build()
            .map_err(build_err)
    }
}

fn put(table: &str, item: Item, condition: Option<&str>) -> StoreResult<TransactWriteItem> {
    Ok(TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .set_condition_expression(condition.map(str::to_string))
                .build()
                .map_err(build_err)?,
        )
        .build())
}

fn update(u: Update) -> TransactWriteItem {
    TransactWriteItem::builder().update(u).build()
}

impl DynamoStore {
    /// One conditional update of a request on its own, out of the same `Update` that a
    /// transaction would carry.
    fn update_item(
        &self,
        u: Update,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(u.key))
            .update_expression(u.update_expression)
            .set_condition_expression(u.condition_expression)
            .set_expression_attribute_names(u.expression_attribute_names)
            .set_expression_attribute_values(u.expression_attribute_values)
    }

    fn closure_item(&self, id: &str, closed_ms: i64) -> Item {
        let mut item = key(request_pk(id), CLOSED_SK);
        item.extend([
            ("id".to_string(), s(id)),
            ("closed_ms".to_string(), num(closed_ms)),
            ("gsi1pk".to_string(), s(CLOSED)),
            ("gsi1sk".to_string(), s(timed_key(closed_ms, id))),
            ("ttl".to_string(), self.ttl_after(closed_ms)),
        ]);
        item
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn insert(&self, id: &str, task_token: &str, req: &NewRequest) -> StoreResult<Inserted> {
        let hash = token_hash(task_token);
        // Redelivery of a message is the common duplicate: answer it without writing.
        if let Some(existing) = self.get_item(token_pk(&hash), TOKEN_SK).await? {
            return Ok(Inserted::Duplicate {
                existing_id: required(&existing, "request_id")?.to_string(),
            });
        }
        let created_ms = req.created_at.timestamp_millis();
        let expires_ms = req.expires_at.timestamp_millis();
        let mut seen = HashSet::new();
        let principals: Vec<&str> = req
            .approvers
            .iter()
            .map(String::as_str)
            .filter(|p| seen.insert(*p))
            .collect();
        let item = |pk: String, ttl: AttributeValue| {
            let mut item = key(pk, id);
            item.insert("id".into(), s(id));
            item.insert("ttl".into(), ttl);
            item
        };
        // Who may vote (until the deadline) and who may see the request (as long as it is
        // kept): its approvers and its requester.
        let mut pointers: Vec<Item> = principals
            .iter()
            .map(|p| item(approver_pk(p), num(expires_ms.div_euclid(1000) + 1)))
            .collect();
        let requester = req.requested_by.as_deref().filter(|r| seen.insert(r));
        pointers.extend(
            principals
                .iter()
                .copied()
                .chain(requester)
                .map(|p| item(viewer_pk(p), self.ttl_after(expires_ms))),
        );
        self.batch_put(pointers.clone()).await?;

        let mut request = key(request_pk(id), REQUEST_SK);
        request.extend([
            ("id".to_string(), s(id)),
            ("status".to_string(), s(RequestStatus::Pending.as_str())),
            ("body".to_string(), s(serde_json::to_string(req)?)),
            ("version".to_string(), num(0)),
            ("created_ms".to_string(), num(created_ms)),
            ("expires_ms".to_string(), num(expires_ms)),
            ("token_hash".to_string(), s(&hash)),
            ("votes".to_string(), AttributeValue::L(Vec::new())),
            ("delivery_attempts".to_string(), num(0)),
            ("gsi1pk".to_string(), s(status_pk(RequestStatus::Pending))),
            ("gsi1sk".to_string(), s(id)),
            ("gsi2pk".to_string(), s(EXPIRES)),
            ("gsi2sk".to_string(), s(timed_key(expires_ms, id))),
        ]);
        let mut token = key(token_pk(&hash), TOKEN_SK);
        token.extend([
            ("request_id".to_string(), s(id)),
            ("task_token".to_string(), s(task_token)),
            ("ttl".to_string(), self.ttl_after(expires_ms)),
        ]);
        let written = self
            .transact(vec![
                put(&self.table, request, Some("attribute_not_exists(pk)"))?,
                put(&self.table, token, Some("attribute_not_exists(pk)"))?,
            ])
            .await?;
        match written {
            Ok(()) => Ok(Inserted::Created),
            Err(codes) => {
                // Nothing of this request was committed: take its approver and viewer
                // items back.
                let cleanup = async {
                    for item in pointers {
                        let k = key(required(&item, "pk")?.to_string(), required(&item, "sk")?);
                        self.client
                            .delete_item()
                            .table_name(&self.table)
                            .set_key(Some(k))
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
                        .get_item(token_pk(&hash), TOKEN_SK)
                        .await?
                        .ok_or_else(|| StoreError::Conflict("token item vanished".into()))?;
                    return Ok(Inserted::Duplicate {
                        existing_id: required(&existing, "request_id")?.to_string(),
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

    async fn get(&self, id: &str) -> StoreResult<Option<StoredRequest>> {
        self.get_request(id)
            .await?
            .as_ref()
            .map(to_request)
            .transpose()
    }

    async fn list(&self, q: &ListQuery) -> StoreResult<(Vec<StoredRequest>, bool)> {
        let want = q.limit.saturating_add(1);
        let page = i32::try_from(want.min(100)).unwrap_or(100);
        let now_ms = q.now.timestamp_millis();
        let live = |r: &StoredRequest| {
            r.status == RequestStatus::Pending && r.request.expires_at.timestamp_millis() > now_ms
        };
        let status_ok = |r: &StoredRequest| match q.status {
            None => true,
            Some(RequestStatus::Pending) => live(r),
            Some(RequestStatus::Expired) => {
                r.status == RequestStatus::Expired
                    || (r.status == RequestStatus::Pending && !live(r))
            }
            Some(st) => r.status == st,
        };
        let after_ok = |r: &StoredRequest| q.after.as_ref().is_none_or(|a| r.id < *a);
        // The base table partitions `<prefix><principal>` of these principals, newest first.
        let partitions = |principals: Vec<&String>, pk: fn(&str) -> String| -> Vec<Source> {
            principals
                .into_iter()
                .collect::<HashSet<_>>()
                .into_iter()
                .map(|p| Source {
                    index: None,
                    pk_attr: "pk",
                    sk_attr: "sk",
                    pk: pk(p),
                    range: q
                        .after
                        .as_ref()
                        .map_or(Range::All, |a| Range::Below(a.clone())),
                    forward: false,
                    page,
                })
                .collect()
        };
        let (sources, resolve) = match (&q.votable_by, &q.visible_to) {
            (Some((_, principals)), _) => {
                if !matches!(q.status, None | Some(RequestStatus::Pending)) {
                    // Only a live pending request can be voted on.
                    return Ok((Vec::new(), false));
                }
                (partitions(principals.iter().collect(), approver_pk), true)
            }
            // What the caller may see: the viewer items of their email (as an approver
            // and as the requester) and of their groups; status and page in memory.
            (None, Some((email, principals))) => (
                partitions(
                    principals.iter().chain(std::iter::once(email)).collect(),
                    viewer_pk,
                ),
                true,
            ),
            (None, None) => {
                let statuses: Vec<RequestStatus> = match q.status {
                    None => RequestStatus::ALL.to_vec(),
                    Some(RequestStatus::Expired) => {
                        vec![RequestStatus::Expired, RequestStatus::Pending]
                    }
                    Some(st) => vec![st],
                };
                let sources = statuses
                    .into_iter()
                    .map(|st| Source::gsi1(status_pk(st), q.after.as_ref(), page))
                    .collect();
                (sources, false)
            }
        };
        let votable = |r: &StoredRequest| match &q.votable_by {
            None => true,
            Some((email, principals)) => {
                live(r)
                    && r.request.approvers.iter().any(|a| principals.contains(a))
                    && !r.votes.iter().any(|v| v.voter == *email)
                    && (r.request.allow_self_approval
                        || r.request.requested_by.as_deref() != Some(email.as_str()))
            }
        };
        let seen = |r: &StoredRequest| match &q.visible_to {
            None => true,
            Some((email, principals)) => {
                r.request.approvers.iter().any(|a| principals.contains(a))
                    || r.request.requested_by.as_deref() == Some(email.as_str())
            }
        };
        let mut items = self
            .merged(sources, resolve, want, |r| {
                after_ok(r) && status_ok(r) && votable(r) && seen(r)
            })
            .await?;
        let more = items.len() > q.limit;
        items.truncate(q.limit);
        Ok((items, more))
    }

    async fn record_vote(&self, w: VoteWrite<'_>) -> StoreResult<bool> {
        let b = w.ballot;
        let mut vote = key(request_pk(w.id), &format!("VOTE#{}", b.voter));
        vote.extend([
            ("id".to_string(), s(w.id)),
            ("voter".to_string(), s(&b.voter)),
            ("choice".to_string(), s(choice_str(b.choice))),
            (
                "decided_ms".to_string(),
                num(b.decided_at.timestamp_millis()),
            ),
            // The vote does not know its request's deadline; the longest a request can
            // wait is enough for the one-vote-per-person condition to outlive it.
            (
                "ttl".to_string(),
                self.ttl_after(b.decided_at.timestamp_millis() + MAX_TIMEOUT_SECONDS * 1000),
            ),
        ]);
        let mut e = Expr::default();
        let version = e.name("version");
        let votes = e.name("votes");
        let (one, ballot) = (
            e.value(num(1)),
            e.value(AttributeValue::L(vec![ballot_item(b)])),
        );
        e.set_raw(format!("{version} = {version} + {one}"));
        e.set_raw(format!("{votes} = list_append({votes}, {ballot})"));
        let mut closure = None;
        if let Some((d, cb)) = &w.decision {
            let at = d.decided_at.timestamp_millis();
            let lease_ms = w.lease_until.timestamp_millis();
            let status = outcome_status(d.outcome);
            e.set("status", s(status.as_str()))
                .set("outcome", s(outcome_str(d.outcome)))
                .set("decided_ms", num(at))
                .set("signature", s(&d.signature))
                .set("callback", s(serde_json::to_string(cb)?))
                // Claimed for the voter's own attempt, as `claim_delivery` would claim it:
                // one write instead of two. If that attempt never records its outcome, the
                // sweeper finds it in the DELIVERY partition when the lease ends.
                .set("delivery", s(delivery_str(Delivery::Unconfirmed)))
                .set("claimed_until_ms", num(lease_ms))
                .set("next_attempt_ms", num(lease_ms))
                .set("closed_ms", num(at))
                .set("ttl", self.ttl_after(at))
                .set("gsi1pk", s(status_pk(status)))
                .set("gsi2pk", s(DELIVERY))
                .set("gsi2sk", s(timed_key(lease_ms, w.id)));
            closure = Some(self.closure_item(w.id, at));
        }
        let (st, expires) = (e.name("status"), e.name("expires_ms"));
        let (pending, expected, now) = (
            e.value(s(RequestStatus::Pending.as_str())),
            e.value(num(w.expected_version)),
            e.value(num(w.now.timestamp_millis())),
        );
        // No vote once the deadline has passed, however long signing took.
        let condition =
            format!("{st} = {pending} AND {version} = {expected} AND {expires} > {now}");
        let mut items = vec![
            put(&self.table, vote, Some("attribute_not_exists(pk)"))?,
            update(e.into_update(&self.table, w.id, condition)?),
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
                        w.id
                    )))
                }
            }
        }
    }

    async fn close_pending(
        &self,
        id: &str,
        status: RequestStatus,
        reason: &str,
        callback: Option<Callback>,
    ) -> StoreResult<bool> {
        let now = Utc::now().timestamp_millis();
        let mut e = Expr::default();
        e.set("status", s(status.as_str()))
            .set("closed_reason", s(reason))
            .set("closed_ms", num(now))
            .set("ttl", self.ttl_after(now))
            .set("gsi1pk", s(status_pk(status)));
        match &callback {
            Some(cb) => {
                e.set("callback", s(serde_json::to_string(cb)?))
                    .set("delivery", s(delivery_str(Delivery::Pending)))
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
        let version = e.name("version");
        let one = e.value(num(1));
        e.set_raw(format!("{version} = {version} + {one}"));
        let st = e.name("status");
        let pending = e.value(s(RequestStatus::Pending.as_str()));
        let condition = format!("{st} = {pending}");
        let items = vec![
            update(e.into_update(&self.table, id, condition)?),
            put(&self.table, self.closure_item(id, now), None)?,
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

    async fn task_token(&self, id: &str) -> StoreResult<Option<String>> {
        let Some(req) = self.get_request(id).await? else {
            return Ok(None);
        };
        let hash = required(&req, "token_hash")?;
        Ok(self
            .get_item(token_pk(hash), TOKEN_SK)
            .await?
            .and_then(|t| opt_string(&t, "task_token")))
    }

    async fn pending_callback(&self, id: &str) -> StoreResult<Option<PendingCallback>> {
        let Some(item) = self.get_request(id).await? else {
            return Ok(None);
        };
        if !owed(&item) {
            return Ok(None);
        }
        match str_attr(&item, "callback") {
            None => Ok(None),
            Some(cb) => Ok(Some(PendingCallback {
                callback: serde_json::from_str(cb)?,
                attempts: num_attr(&item, "delivery_attempts")?
                    .unwrap_or_default()
                    .clamp(0, i64::from(u32::MAX)) as u32,
            })),
        }
    }

    async fn claim_delivery(
        &self,
        id: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claim>> {
        let lease_ms = lease_until.timestamp_millis();
        let mut e = Expr::default();
        // Until the attempt records its result, its outcome is unknown; the sweeper finds
        // it again in the DELIVERY partition when the claim ends.
        e.set("delivery", s(delivery_str(Delivery::Unconfirmed)))
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
            e.value(s(delivery_str(Delivery::Pending))),
            e.value(s(delivery_str(Delivery::Unconfirmed))),
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
        let before = match r {
            Ok(out) => out.attributes.unwrap_or_default(),
            // Nothing owed, no such request, or another attempt holds the claim.
            Err(e) if e.code() == Some("ConditionalCheckFailedException") => return Ok(None),
            Err(e) => return Err(self.err("UpdateItem", e)),
        };
        Ok(Some(Claim {
            callback: serde_json::from_str(required(&before, "callback")?)?,
            attempts: num_attr(&before, "delivery_attempts")?
                .unwrap_or_default()
                .clamp(0, i64::from(u32::MAX)) as u32,
            unconfirmed: str_attr(&before, "delivery") == Some(delivery_str(Delivery::Unconfirmed)),
        }))
    }

    async fn record_delivery(
        &self,
        id: &str,
        result: Delivery,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let Some(item) = self.get_request(id).await? else {
            return Ok(());
        };
        if !owed(&item) {
            // Only a delivery still owed changes: a late answer to a duplicate attempt must
            // not turn a delivered decision into a closed request.
            return Ok(());
        }
        let seen = required(&item, "status")?.to_string();
        let mut e = Expr::default();
        e.set("delivery", s(delivery_str(result)))
            .set_opt("last_error", error.map(s))
            .set_opt(
                "next_attempt_ms",
                retry_at.map(|t| num(t.timestamp_millis())),
            )
            // The attempt is over: its claim ends with it.
            .remove("claimed_until_ms");
        let attempts = e.name("delivery_attempts");
        let one = e.value(num(1));
        e.set_raw(format!("{attempts} = {attempts} + {one}"));
        if matches!(result, Delivery::Pending | Delivery::Unconfirmed) {
            let next = retry_at.map_or(0, |t| t.timestamp_millis());
            e.set("gsi2pk", s(DELIVERY))
                .set("gsi2sk", s(timed_key(next, id)));
        } else {
            e.remove("gsi2pk").remove("gsi2sk");
        }
        if result == Delivery::TaskGone {
            // The workflow no longer waits: whatever was decided, the request is closed.
            let status = if seen == RequestStatus::Expired.as_str() {
                RequestStatus::Expired
            } else {
                RequestStatus::Closed
            };
            e.set("status", s(status.as_str()))
                .set("gsi1pk", s(status_pk(status)));
            if str_attr(&item, "closed_reason").is_none() {
                e.set_opt("closed_reason", error.map(s));
            }
            if num_attr(&item, "closed_ms")?.is_none() {
                let now = Utc::now().timestamp_millis();
                e.set("closed_ms", num(now)).set("ttl", self.ttl_after(now));
            }
        }
        if result == Delivery::DeliveredOrGone
            && let Some(error) = error
        {
            // Perhaps delivered: the decision stands; say what Step Functions answered.
            let reason = match str_attr(&item, "closed_reason") {
                Some(before) => format!("{before}; {error}"),
                None => error.to_string(),
            };
            e.set("closed_reason", s(reason));
        }
        let (d, st) = (e.name("delivery"), e.name("status"));
        let (pending, unconfirmed, seen) = (
            e.value(s(delivery_str(Delivery::Pending))),
            e.value(s(delivery_str(Delivery::Unconfirmed))),
            e.value(s(seen)),
        );
        let mut condition = format!("{d} IN ({pending}, {unconfirmed}) AND {st} = {seen}");
        if result == Delivery::DeliveredOrGone {
            // The reason appended to is the one read.
            let reason = e.name("closed_reason");
            match str_attr(&item, "closed_reason") {
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

    async fn due_deliveries(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<String>> {
        self.sweep_query(DELIVERY, now, limit).await
    }

    async fn overdue(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<String>> {
        self.sweep_query(EXPIRES, now, limit).await
    }

    async fn pending_oldest_first(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<(String, String)>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.pending_items(after, limit)
            .await?
            .iter()
            .map(|item| {
                let body: NewRequest = serde_json::from_str(required(item, "body")?)?;
                Ok((required(item, "id")?.to_string(), body.execution_arn))
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
        // "<from ms>" sorts before every "<from ms>#id" and "<to ms>" before "<to ms>#id":
        // BETWEEN them is from <= closed < to.
        let src = Source {
            index: Some("gsi1"),
            pk_attr: "gsi1pk",
            sk_attr: "gsi1sk",
            pk: CLOSED.into(),
            range: Range::Between(at_key(from), at_key(to)),
            forward: true,
            page: i32::try_from(limit.min(100)).unwrap_or(100),
        };
        let ids = self.query_ids(&src, limit).await?;
        self.batch_get(&ids).await?.iter().map(to_request).collect()
    }
}

impl DynamoStore {
    /// Pending request items after `after`, oldest (smallest id) first.
    async fn pending_items(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<Item>> {
        let src = Source {
            index: Some("gsi1"),
            pk_attr: "gsi1pk",
            sk_attr: "gsi1sk",
            pk: status_pk(RequestStatus::Pending),
            range: after.map_or(Range::All, |a| Range::Above(a.to_string())),
            forward: true,
            page: i32::try_from(limit.min(100)).unwrap_or(100),
        };
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let (items, next) = self.query_page(&src, start).await?;
            out.extend(items);
            if next.is_none() {
                break;
            }
            start = next;
        }
        out.truncate(limit);
        Ok(out)
    }

    /// Ids in a gsi2 partition whose time is at or before `now`, earliest first.
    async fn sweep_query(
        &self,
        pk: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let src = Source {
            index: Some("gsi2"),
            pk_attr: "gsi2pk",
            sk_attr: "gsi2sk",
            pk: pk.into(),
            range: Range::Below(at_key(now.timestamp_millis() + 1)),
            forward: true,
            page: i32::try_from(limit.min(100)).unwrap_or(100),
        };
        self.query_ids(&src, limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_as_times_do() {
        assert!(timed_key(999, "b") < timed_key(1_000, "a"));
        assert!(at_key(1_000) < timed_key(1_000, "a"));
        assert!(timed_key(1_000, "z") < at_key(1_001));
        assert_eq!(at_key(-5), at_key(0));
    }

    #[test]
    fn update_expressions_name_every_attribute() {
        let mut e = Expr::default();
        e.set("status", s("closed")).remove("gsi2pk");
        assert_eq!(e.update_expression(), "SET #status = :v0 REMOVE #gsi2pk");
        assert_eq!(e.names["#status"], "status");
    }

    #[test]
    fn a_ballot_survives_the_trip_through_an_attribute_map() {
        let b = Ballot {
            voter: "a@x.io".into(),
            subject: "sub".into(),
            name: "A".into(),
            choice: VoteChoice::Reject,
            comment: Some("no".into()),
            decided_at: from_ms(1_700_000_000_123),
            source_ip: None,
            user_agent: Some("ua".into()),
        };
        assert_eq!(to_ballot(&ballot_item(&b)).unwrap(), b);
    }
}
