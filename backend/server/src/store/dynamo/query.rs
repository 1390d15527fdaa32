//! Reads of many requests: queries of one partition page by page, several partitions merged
//! newest first, and the request items of the ids found (`BatchGetItem`). No Scan.

use std::collections::{HashMap, HashSet, VecDeque};

use aws_sdk_dynamodb::types::KeysAndAttributes;
use chrono::{DateTime, Utc};
use hanko_api::RequestStatus;

use super::items::{
    CLOSED, Item, REQUEST_SK, approver_pk, at_key, id_of, key, request_pk, s, status_pk,
    to_request, viewer_pk,
};
use super::table::{GSI1, GSI2, Index, TABLE_KEY};
use super::{DynamoStore, backoff, build_err};
use crate::domain::RequestId;
use crate::store::{ListQuery, Page, StoreError, StoreResult, StoredRequest, stored_id};

/// Most owed callbacks [`DynamoStore::oldest_closed_in`] reads: far more than are ever
/// owed at once while Step Functions answers.
const OWED_READ: usize = 1000;

/// What to query: one partition of the table or of an index, in one direction.
pub(super) struct Source {
    index: &'static Index,
    pk: String,
    range: Range,
    forward: bool,
    page: i32,
}

/// Which sort keys of the partition.
enum Range {
    All,
    Below(String),
    Above(String),
    Between(String, String),
}

/// Items per page of a query: enough for `want` items, at most 100.
fn page_for(want: usize) -> i32 {
    i32::try_from(want.min(100)).unwrap_or(100)
}

impl Source {
    /// A partition newest (largest sort key) first, below `after` when given.
    fn newest_first(
        index: &'static Index,
        pk: String,
        after: Option<&RequestId>,
        page: i32,
    ) -> Self {
        Self {
            index,
            pk,
            range: after.map_or(Range::All, |a| Range::Below(a.to_string())),
            forward: false,
            page,
        }
    }

    /// A partition oldest (smallest sort key) first, within `range`.
    fn oldest_first(index: &'static Index, pk: String, range: Range, limit: usize) -> Self {
        Self {
            index,
            pk,
            range,
            forward: true,
            page: page_for(limit),
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
        Ok(self.buf.front().and_then(id_of).map(str::to_string))
    }

    fn pop(&mut self) -> Option<Item> {
        self.buf.pop_front()
    }
}

impl DynamoStore {
    /// One page of the list, newest first, and whether more follow.
    pub(super) async fn list_page(&self, q: &ListQuery) -> StoreResult<Page<StoredRequest>> {
        let want = q.limit.saturating_add(1);
        let page = page_for(want);
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
        let partitions = |principals: Vec<String>, pk: fn(&str) -> String| -> Vec<Source> {
            principals
                .into_iter()
                .collect::<HashSet<_>>()
                .into_iter()
                .map(|p| Source::newest_first(&TABLE_KEY, pk(&p), q.after.as_ref(), page))
                .collect()
        };
        let (sources, resolve) = match (&q.votable_by, &q.visible_to) {
            (Some(who), _) => {
                if !matches!(q.status, None | Some(RequestStatus::Pending)) {
                    // Only a live pending request can be voted on.
                    return Ok(Page {
                        items: Vec::new(),
                        more: false,
                    });
                }
                // Their own principals and those of whom they stand in for.
                (partitions(who.seen_principal_texts(), approver_pk), true)
            }
            // What the caller may see: the viewer items of their email (as an approver
            // and as the requester) and of their groups; status and page in memory.
            (None, Some(who)) => {
                let mut viewers = who.seen_principal_texts();
                viewers.push(who.email.clone());
                (partitions(viewers, viewer_pk), true)
            }
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
                    .map(|st| Source::newest_first(&GSI1, status_pk(st), q.after.as_ref(), page))
                    .collect();
                (sources, false)
            }
        };
        let votable = |r: &StoredRequest| match &q.votable_by {
            None => true,
            Some(who) => live(r) && who.has_a_seat_on(r),
        };
        let seen = |r: &StoredRequest| match &q.visible_to {
            None => true,
            Some(who) => who.sees(&r.request),
        };
        let mut items = self
            .merged(sources, resolve, want, |r| {
                after_ok(r) && status_ok(r) && votable(r) && seen(r)
            })
            .await?;
        let more = items.len() > q.limit;
        items.truncate(q.limit);
        Ok(Page { items, more })
    }

    /// Pending request items after `after`, oldest (smallest id) first.
    pub(super) async fn pending_items(
        &self,
        after: Option<&RequestId>,
        limit: usize,
    ) -> StoreResult<Vec<Item>> {
        let src = Source::oldest_first(
            &GSI1,
            status_pk(RequestStatus::Pending),
            after.map_or(Range::All, |a| Range::Above(a.to_string())),
            limit,
        );
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
    pub(super) async fn sweep_query(
        &self,
        pk: &str,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<RequestId>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let src = Source::oldest_first(
            &GSI2,
            pk.into(),
            Range::Below(at_key(now.timestamp_millis() + 1)),
            limit,
        );
        self.query_ids(&src, limit)
            .await?
            .into_iter()
            .map(stored_id)
            .collect()
    }

    /// The earliest `closed_ms` of the request items in a gsi2 partition (`DELIVERY`: the
    /// callbacks owed, a handful at most), reading at most [`OWED_READ`] of them.
    pub(super) async fn oldest_closed_in(&self, pk: &str) -> StoreResult<Option<i64>> {
        let src = Source::oldest_first(&GSI2, pk.into(), Range::All, OWED_READ);
        let mut oldest: Option<i64> = None;
        let (mut start, mut read) = (None, 0usize);
        loop {
            let (items, next) = self.query_page(&src, start).await?;
            read += items.len();
            for item in &items {
                let at = item
                    .get("closed_ms")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse::<i64>().ok());
                oldest = match (oldest, at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            if next.is_none() || read >= OWED_READ {
                return Ok(oldest);
            }
            start = next;
        }
    }

    /// Ids of the requests closed with `from <= closed < to` (milliseconds), oldest first.
    pub(super) async fn closed_between(
        &self,
        from: i64,
        to: i64,
        limit: usize,
    ) -> StoreResult<Vec<String>> {
        // "<from ms>" sorts before every "<from ms>#id" and "<to ms>" before "<to ms>#id":
        // BETWEEN them is from <= closed < to.
        let src = Source::oldest_first(
            &GSI1,
            CLOSED.into(),
            Range::Between(at_key(from), at_key(to)),
            limit,
        );
        self.query_ids(&src, limit).await
    }

    /// The request items of `ids`, in the order of `ids`; missing ones are left out.
    pub(super) async fn batch_get(&self, ids: &[String]) -> StoreResult<Vec<Item>> {
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
                    if let Some(id) = id_of(&item) {
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

    /// One page of a query, in key order (`forward`) or reverse.
    /// Every item of the base table's partition `pk` (whose sort key begins with
    /// `sk_prefix`, when given), read consistently, page after page.
    pub(super) async fn partition(
        &self,
        pk: String,
        sk_prefix: Option<&str>,
    ) -> StoreResult<Vec<Item>> {
        let mut values = HashMap::from([(":pk".to_string(), s(pk))]);
        let condition = match sk_prefix {
            Some(prefix) => {
                values.insert(":prefix".to_string(), s(prefix));
                "pk = :pk AND begins_with(sk, :prefix)"
            }
            None => "pk = :pk",
        };
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression(condition)
                .set_expression_attribute_values(Some(values.clone()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Query", e))?;
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    async fn query_page(
        &self,
        src: &Source,
        start: Option<Item>,
    ) -> StoreResult<(Vec<Item>, Option<Item>)> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .set_index_name(src.index.name.map(str::to_string))
            .scan_index_forward(src.forward)
            .set_exclusive_start_key(start)
            .limit(src.page)
            .expression_attribute_names("#pk", src.index.pk)
            .expression_attribute_values(":pk", s(&src.pk));
        if !matches!(src.range, Range::All) {
            q = q.expression_attribute_names("#sk", src.index.sk);
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
            ids.extend(items.iter().filter_map(id_of).map(str::to_string));
            if ids.len() >= limit || next.is_none() {
                ids.truncate(limit);
                return Ok(ids);
            }
            start = next;
        }
    }

    /// Merges newest-first sources by id and keeps the requests `keep` accepts, until
    /// `want` are found or the sources run dry. With `resolve`, the sources' items point
    /// to requests (approver and viewer items), read with `BatchGetItem`; without, they
    /// are the request items.
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
            for item in items {
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
}
