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
//!
//! `schema` has the tables and their migrations, `writer` the connections and their
//! threads, `rows` the mapping of rows to the store's types, `list` the queries of many
//! requests, `requests` and `delivery` the writes.

use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hanko_api::{Delivery, RequestStatus};
use rusqlite::Connection;

use super::{
    Callback, ChatMessage, Claim, Inserted, ListQuery, NudgeClaim, Page, PendingCallback,
    RequestSummary, Store, StoreError, StoreResult, StoredRequest, VoteWrite, Waiting,
};
use crate::domain::{Delegation, NewRequest, RequestId, TaskToken};

mod chat;
mod delegation;
mod delivery;
mod list;
mod nudges;
mod passkeys;
mod requests;
mod rows;
mod schema;
mod writer;

use writer::{Job, Place};

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

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::backend_caused_by(e.to_string(), e)
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn insert(
        &self,
        id: &RequestId,
        task_token: &TaskToken,
        req: &NewRequest,
    ) -> StoreResult<Inserted> {
        let (id, token, req) = (id.clone(), task_token.clone(), req.clone());
        let body = serde_json::to_string(&req)?;
        self.with(move |conn| requests::insert(conn, &id, &token, &req, &body))
            .await
    }

    async fn get(&self, id: &RequestId) -> StoreResult<Option<StoredRequest>> {
        let id = id.clone();
        self.read(
            Place::HereIfFree,
            move |conn| rows::get_one(conn, &id),
            |raw| raw.map(rows::parse).transpose(),
        )
        .await
    }

    async fn list(&self, q: &ListQuery) -> StoreResult<Page<StoredRequest>> {
        let q = q.clone();
        self.read(
            Place::HereIfFree,
            move |conn| list::page(conn, &q),
            |(raw, more)| {
                Ok(Page {
                    items: rows::parse_all(raw)?,
                    more,
                })
            },
        )
        .await
    }

    /// Reads the summary fields from the index `requests_page` (columns copied out of the
    /// body at insert), so a page of a status costs neither the rows nor any body parsing;
    /// the default went through [`Store::list`].
    async fn list_summaries(&self, q: &ListQuery) -> StoreResult<Page<RequestSummary>> {
        let q = q.clone();
        self.read(
            Place::HereIfFree,
            move |conn| list::summary_page(conn, &q),
            list::summaries,
        )
        .await
    }

    async fn record_vote(&self, w: VoteWrite<'_>) -> StoreResult<bool> {
        let vote = requests::Vote::from(w);
        self.with(move |conn| requests::record_vote(conn, vote))
            .await
    }

    async fn close_pending(
        &self,
        id: &RequestId,
        status: RequestStatus,
        reason: &str,
        callback: Option<Callback>,
    ) -> StoreResult<bool> {
        let (id, reason) = (id.clone(), reason.to_string());
        self.with(move |conn| {
            requests::close_pending(conn, &id, status, &reason, callback.as_ref())
        })
        .await
    }

    async fn task_token(&self, id: &RequestId) -> StoreResult<Option<TaskToken>> {
        let id = id.clone();
        self.read(
            Place::HereIfFree,
            move |conn| delivery::task_token(conn, &id),
            Ok,
        )
        .await
    }

    async fn pending_callback(&self, id: &RequestId) -> StoreResult<Option<PendingCallback>> {
        let id = id.clone();
        self.read(
            Place::HereIfFree,
            move |conn| delivery::pending_callback(conn, &id),
            Ok,
        )
        .await
    }

    async fn claim_delivery(
        &self,
        id: &RequestId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claim>> {
        let id = id.clone();
        self.with(move |conn| delivery::claim_delivery(conn, &id, now, lease_until))
            .await
    }

    async fn record_delivery(
        &self,
        id: &RequestId,
        result: Delivery,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        let (id, error) = (id.clone(), error.map(str::to_string));
        self.with(move |conn| {
            delivery::record_delivery(conn, &id, result, error.as_deref(), retry_at)
        })
        .await
    }

    async fn due_deliveries(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<RequestId>> {
        self.read(
            Place::HereIfFree,
            move |conn| delivery::due_deliveries(conn, now, limit),
            Ok,
        )
        .await
    }

    async fn oldest_owed_callback(&self) -> StoreResult<Option<DateTime<Utc>>> {
        self.read(Place::HereIfFree, delivery::oldest_owed_callback, Ok)
            .await
    }

    async fn overdue(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<RequestId>> {
        self.read(
            Place::HereIfFree,
            move |conn| list::overdue(conn, now, limit),
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
            move |conn| list::closed_between(conn, from, to, limit),
            rows::parse_all,
        )
        .await
    }

    async fn pending_oldest_first(
        &self,
        after: Option<&RequestId>,
        limit: usize,
    ) -> StoreResult<Vec<Waiting>> {
        let after = after.cloned();
        self.read(
            Place::HereIfFree,
            move |conn| list::pending_oldest_first(conn, after.as_ref(), limit),
            Ok,
        )
        .await
    }

    async fn due_nudges(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<RequestId>> {
        self.read(
            Place::HereIfFree,
            move |conn| nudges::due(conn, now, limit),
            Ok,
        )
        .await
    }

    async fn sent_nudges(&self, id: &RequestId) -> StoreResult<Vec<String>> {
        let id = id.clone();
        self.read(Place::HereIfFree, move |conn| nudges::sent(conn, &id), Ok)
            .await
    }

    async fn claim_nudges(&self, c: NudgeClaim<'_>) -> StoreResult<bool> {
        let claim = nudges::Claim::try_from(c)?;
        self.with(move |conn| nudges::claim(conn, claim)).await
    }

    async fn drop_nudges(&self, id: &RequestId) -> StoreResult<()> {
        let id = id.clone();
        self.with(move |conn| nudges::drop_all(conn, &id)).await
    }

    async fn add_chat_message(&self, id: &RequestId, message: &ChatMessage) -> StoreResult<()> {
        let (id, message) = (id.clone(), message.clone());
        self.with(move |conn| chat::add(conn, &id, &message)).await
    }

    async fn chat_messages(&self, id: &RequestId) -> StoreResult<Vec<ChatMessage>> {
        let id = id.clone();
        self.read(Place::HereIfFree, move |conn| chat::list(conn, &id), Ok)
            .await
    }

    async fn put_delegation(&self, d: &Delegation) -> StoreResult<()> {
        let d = d.clone();
        self.with(move |conn| delegation::put(conn, &d)).await
    }

    async fn delegation_of(&self, delegator: &str) -> StoreResult<Option<Delegation>> {
        let delegator = delegator.to_string();
        self.read(
            Place::HereIfFree,
            move |conn| delegation::of(conn, &delegator),
            Ok,
        )
        .await
    }

    async fn delete_delegation(&self, delegator: &str) -> StoreResult<bool> {
        let delegator = delegator.to_string();
        self.with(move |conn| delegation::delete(conn, &delegator))
            .await
    }

    async fn delegations_to(
        &self,
        delegate: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Delegation>> {
        let delegate = delegate.to_string();
        self.read(
            Place::HereIfFree,
            move |conn| delegation::to(conn, &delegate, now),
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
}
