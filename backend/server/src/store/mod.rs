//! Where requests, votes and decisions live. A small trait so the api does not care
//! whether it is SQLite on this machine or DynamoDB on AWS.
//!
//! The task token is stored apart from everything else and comes out only through
//! [`Store::task_token`], which only delivery calls.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus};
use serde::{Deserialize, Serialize};

use crate::domain::rules::Ballot;
use crate::domain::{Delegation, Email, NewRequest, Principal, RequestId, TaskToken};

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod delegation;
pub mod dynamo;
pub mod passkeys;
pub mod sqlite;

pub use passkeys::{PasskeyNonce, PasskeyStore, StoredPasskey};

/// What Hanko owes the workflow: one `SendTaskSuccess` or one `SendTaskFailure`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Callback {
    Success { output: String },
    Failure { error: String, cause: String },
}

/// A callback still owed, and how many attempts to deliver it were made (for backoff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCallback {
    pub callback: Callback,
    pub attempts: u32,
}

/// A callback claimed for one delivery attempt: by [`Store::claim_delivery`], or by the
/// deciding vote itself ([`Store::record_vote`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub callback: Callback,
    /// Attempts recorded so far (for backoff).
    pub attempts: u32,
    /// An earlier attempt got no answer (its delivery was `Unconfirmed` when claimed): it
    /// may have reached Step Functions.
    pub unconfirmed: bool,
}

/// The decision on a request, once there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    pub outcome: Outcome,
    pub decided_at: DateTime<Utc>,
    /// Compact JWS of the decision record.
    pub signature: String,
}

/// A request as stored (without its task token).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRequest {
    pub id: RequestId,
    pub request: NewRequest,
    pub status: RequestStatus,
    /// Bumped by every vote: the condition that makes racing votes safe.
    pub version: i64,
    pub votes: Vec<Ballot>,
    pub decision: Option<StoredDecision>,
    pub delivery: Option<Delivery>,
    pub delivery_attempts: u32,
    pub last_delivery_error: Option<String>,
    pub closed_reason: Option<String>,
    /// When the request stopped being pending: its decision, or its closing without one
    /// (expired, the workflow gone). Kept when a decided request is closed later.
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a page of the list shows of a request: none of its body but these fields.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSummary {
    pub id: RequestId,
    pub title: String,
    pub requested_by: Option<Email>,
    pub state_machine_name: String,
    pub execution_name: String,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub required_approvals: u32,
    pub votes: Vec<Ballot>,
    /// The outcome and when, once decided.
    pub decision: Option<(Outcome, DateTime<Utc>)>,
}

impl From<StoredRequest> for RequestSummary {
    fn from(r: StoredRequest) -> Self {
        let q = r.request;
        Self {
            id: r.id,
            title: q.title,
            requested_by: q.requested_by,
            state_machine_name: q.state_machine_name,
            execution_name: q.execution_name,
            status: r.status,
            created_at: q.created_at,
            expires_at: q.expires_at,
            required_approvals: q.required_approvals,
            votes: r.votes,
            decision: r.decision.map(|d| (d.outcome, d.decided_at)),
        }
    }
}

/// What [`Store::insert`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    Created,
    /// The same task token was seen before; this is the request it made.
    Duplicate {
        existing_id: RequestId,
    },
}

/// A vote and, when it completes the request, the decision and the callback it causes.
#[derive(Debug, Clone)]
pub struct VoteWrite<'a> {
    pub id: &'a RequestId,
    /// The version read before deciding; the write happens only if it is unchanged.
    pub expected_version: i64,
    pub ballot: &'a Ballot,
    pub decision: Option<(StoredDecision, Callback)>,
    /// With a decision: the end of the claim on its callback's delivery, which the vote
    /// takes in the same write for the voter's own attempt (see [`Store::record_vote`]).
    /// Unused without a decision.
    pub lease_until: DateTime<Utc>,
    /// The time of the write (taken after signing): the vote is written only if the
    /// request's deadline is after it.
    pub now: DateTime<Utc>,
}

/// Which requests to list.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// `None` lists every status.
    pub status: Option<RequestStatus>,
    /// Only requests this person may still vote on: one of their principals is among its
    /// `approvers`, they have not voted, and it is not their own (unless self-approval is
    /// allowed).
    pub votable_by: Option<Person>,
    /// Only requests this person may see: those they approve (one of their principals is
    /// among its `approvers`) or asked for (`requested_by` is their email). `None`: every
    /// request (an auditor). Pages count only the requests seen.
    pub visible_to: Option<Person>,
    pub limit: usize,
    /// The id of the last item of the previous page.
    pub after: Option<RequestId>,
    pub now: DateTime<Utc>,
}

/// Whom a list is for: a caller as the store matches them against requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Their email as they logged in with it (lowercased): what their votes are recorded
    /// under, and what a request's `requested_by` names.
    pub email: String,
    /// Their email (when it is an address) and groups, as approvers are named.
    pub principals: Vec<Principal>,
    /// The delegations to them in force now: they also see, and may vote in the seat of,
    /// each delegator on the requests the delegator approves (see `store/delegation.rs`).
    pub standing_in_for: Vec<Delegation>,
}

impl Person {
    /// `principals` as the store keeps approvers: `alice@example.com`, `group:NAME`.
    pub fn principal_texts(&self) -> Vec<String> {
        self.principals.iter().map(ToString::to_string).collect()
    }
}

impl From<&crate::domain::Caller> for Person {
    fn from(c: &crate::domain::Caller) -> Self {
        Person {
            email: c.email.clone(),
            principals: c.principals(),
            standing_in_for: Vec::new(),
        }
    }
}

/// A chat message posted about a request, to be changed when the request ends (a Slack
/// message: the channel id Slack answered with, the message's `ts`, and its language,
/// `ja` or `en`, for the words that change it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub channel: String,
    pub ts: String,
    pub lang: String,
}

/// Reminders or an escalation of one request, claimed to be sent once: see
/// [`Store::claim_nudges`].
#[derive(Debug, Clone)]
pub struct NudgeClaim<'a> {
    pub id: &'a RequestId,
    /// The nudges this claim sends, by their keys ([`crate::domain::nudge`]).
    pub keys: &'a [String],
    /// When the next nudge not sent is due once these are; `None`: none is left.
    pub next_due: Option<DateTime<Utc>>,
    /// With the escalation: the request as it becomes, with the escalation's principals
    /// among its approvers and the escalation's record ([`crate::domain::nudge::escalated`]).
    pub escalated: Option<&'a NewRequest>,
    /// The claim is made only while the request is pending and its deadline after `now`.
    pub now: DateTime<Utc>,
}

/// A pending request and the execution waiting for it (for reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub id: RequestId,
    pub execution_arn: String,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// More items follow this page.
    pub more: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            more: self.more,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed, or holds what Hanko cannot read. `message` says what (with
    /// the words of `source`, when there is one).
    #[error("store: {message}")]
    Backend {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// The database refused for load (after the client's own retries): try again later.
    #[error("store busy: {0}")]
    Throttled(String),
    /// A conditional write failed where no other answer fits (for example an id reused).
    #[error("store conflict: {0}")]
    Conflict(String),
}

impl StoreError {
    /// A [`StoreError::Backend`] that only says what went wrong.
    pub fn backend(message: impl Into<String>) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: None,
        }
    }

    /// A [`StoreError::Backend`] caused by `source`; `message` says what went wrong.
    pub fn backend_caused_by(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Backend {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::backend_caused_by(format!("stored JSON: {e}"), e)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The key under which a task token is remembered, so the same token twice makes one request.
pub(crate) fn token_hash(token: &TaskToken) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.expose().as_bytes());
    hex::encode(d)
}

/// An id read back from the database: one Hanko wrote, or the database holds what Hanko
/// cannot read.
pub(crate) fn stored_id(s: String) -> StoreResult<RequestId> {
    RequestId::try_from(s).map_err(|e| StoreError::backend(format!("stored id: {e}")))
}

/// A task token read back from the database (its text is not in the error).
pub(crate) fn stored_token(s: &str) -> StoreResult<TaskToken> {
    TaskToken::parse(s).map_err(|e| StoreError::backend(format!("stored task token: {e}")))
}

#[async_trait]
pub trait Store: PasskeyStore + Send + Sync + 'static {
    /// Stores a new request; the same task token twice makes one request.
    async fn insert(
        &self,
        id: &RequestId,
        task_token: &TaskToken,
        req: &NewRequest,
    ) -> StoreResult<Inserted>;

    async fn get(&self, id: &RequestId) -> StoreResult<Option<StoredRequest>>;

    /// Newest first, one page.
    async fn list(&self, q: &ListQuery) -> StoreResult<Page<StoredRequest>>;

    /// The same page as [`Store::list`], as summaries (what `GET /api/approvals` shows). A
    /// store that can read them without parsing every body overrides this.
    async fn list_summaries(&self, q: &ListQuery) -> StoreResult<Page<RequestSummary>> {
        Ok(self.list(q).await?.map(RequestSummary::from))
    }

    /// Writes the vote (and decision) only if the request is still pending at
    /// `expected_version`, its deadline is after `now` and this voter has not voted.
    /// `false` means: read again.
    ///
    /// A deciding vote also claims the delivery of the callback it owes, in the same write
    /// and exactly as [`Store::claim_delivery`] would: the delivery is `Unconfirmed` (an
    /// attempt is about to be made and its outcome is unknown until recorded), the claim and
    /// the next attempt time are `lease_until`. The voter's attempt follows without a claim
    /// of its own; if it records nothing (Hanko stopped), the delivery is claimable and due
    /// once the lease has passed, as an attempt that got no answer.
    async fn record_vote(&self, w: VoteWrite<'_>) -> StoreResult<bool>;

    /// Closes a pending request without a decision (expired or the workflow is gone),
    /// with the callback owed to the workflow, if any. `false` when it was not pending.
    async fn close_pending(
        &self,
        id: &RequestId,
        status: RequestStatus,
        reason: &str,
        callback: Option<Callback>,
    ) -> StoreResult<bool>;

    /// The secret. Only the delivery of a callback asks for it.
    async fn task_token(&self, id: &RequestId) -> StoreResult<Option<TaskToken>>;

    /// The callback still owed for a request (delivery `Pending` or `Unconfirmed`, claimed
    /// or not).
    async fn pending_callback(&self, id: &RequestId) -> StoreResult<Option<PendingCallback>>;

    /// Claims the owed callback of `id` (delivery `Pending` or `Unconfirmed`) for one
    /// attempt, unless another attempt holds it: an unexpired claim. Atomically sets the
    /// delivery to `Unconfirmed` (until the attempt's result is recorded, its outcome is
    /// unknown: Hanko may stop during it), the claim and the next attempt time to
    /// `lease_until`. `None`: nothing owed, or claimed by someone else (as a fresh
    /// decision is, by its deciding vote, until that vote's lease ends).
    async fn claim_delivery(
        &self,
        id: &RequestId,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> StoreResult<Option<Claim>>;

    /// Records a delivery attempt's result and ends its claim. Only a delivery still owed
    /// (`Pending` or `Unconfirmed`) changes. `TaskGone` also closes the request with
    /// `error` as the reason; `DeliveredOrGone` keeps the status and adds `error` to the
    /// closed reason.
    async fn record_delivery(
        &self,
        id: &RequestId,
        result: Delivery,
        error: Option<&str>,
        retry_at: Option<DateTime<Utc>>,
    ) -> StoreResult<()>;

    /// Requests whose callback is still owed and due by `now`.
    async fn due_deliveries(&self, now: DateTime<Utc>, limit: usize)
    -> StoreResult<Vec<RequestId>>;

    /// When the oldest request whose callback is still owed (delivery `Pending` or
    /// `Unconfirmed`) was decided or closed; `None` when no callback is owed. What the
    /// `OldestUndeliveredDecisionAge` metric is made of.
    async fn oldest_owed_callback(&self) -> StoreResult<Option<DateTime<Utc>>>;

    /// Pending requests whose deadline has passed.
    async fn overdue(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<RequestId>>;

    /// Requests decided or closed with `from <= decided_at < to`, oldest first, at most `limit`.
    async fn decided_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<StoredRequest>>;

    /// Pending requests, oldest first, after the id `after`, with their executions. For
    /// reconciliation with the executions.
    async fn pending_oldest_first(
        &self,
        after: Option<&RequestId>,
        limit: usize,
    ) -> StoreResult<Vec<Waiting>>;

    /// Pending requests with a reminder or their escalation due by `now` (the next one
    /// not yet sent), soonest first. A store may also name a request that is no longer
    /// pending; [`Store::claim_nudges`] then claims nothing and [`Store::drop_nudges`]
    /// forgets it.
    async fn due_nudges(&self, now: DateTime<Utc>, limit: usize) -> StoreResult<Vec<RequestId>>;

    /// The keys of the nudges of `id` sent (claimed) so far.
    async fn sent_nudges(&self, id: &RequestId) -> StoreResult<Vec<String>>;

    /// Claims `c.keys` of request `c.id` as sent, in one conditional write: only while
    /// the request is pending, its deadline is after `c.now` and none of the keys was
    /// claimed before; the next due time becomes `c.next_due`. With `c.escalated`, the
    /// same write stores that request (its new approvers, who may then see and vote on
    /// it, and the escalation's record) and bumps the version, so a vote read before it
    /// is read again. `false`: claimed by someone else, or the request is not pending.
    async fn claim_nudges(&self, c: NudgeClaim<'_>) -> StoreResult<bool>;

    /// Forgets the nudges still scheduled for `id` (it is no longer pending).
    async fn drop_nudges(&self, id: &RequestId) -> StoreResult<()>;

    /// Remembers a chat message posted about request `id` (the same one twice is kept
    /// once), so it can say how the request ended.
    async fn add_chat_message(&self, id: &RequestId, message: &ChatMessage) -> StoreResult<()>;

    /// The chat messages posted about request `id`, by channel then `ts`.
    async fn chat_messages(&self, id: &RequestId) -> StoreResult<Vec<ChatMessage>>;

    /// Sets `d.delegator`'s delegation, replacing the one they had (one per person).
    async fn put_delegation(&self, d: &Delegation) -> StoreResult<()>;

    /// `delegator`'s delegation, if one is set (whether or not in force).
    async fn delegation_of(&self, delegator: &str) -> StoreResult<Option<Delegation>>;

    /// Ends `delegator`'s delegation; `false` when there was none.
    async fn delete_delegation(&self, delegator: &str) -> StoreResult<bool>;

    /// The delegations to `delegate` that have not ended by `now` (`until > now`), in
    /// force or starting later, by delegator.
    async fn delegations_to(
        &self,
        delegate: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Delegation>>;
}
