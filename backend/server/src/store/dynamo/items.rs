//! Items and structs: the keys of every item, the items written whole, and the request
//! item read back. serde_dynamo maps the structs to attribute maps; the attribute names
//! and types are the table of items in the module's header, and must not change (tables
//! written before read the same).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, TimeZone, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus, VoteChoice};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::domain::rules::Ballot;
use crate::store::{StoreError, StoreResult, StoredDecision, StoredRequest, stored_id};

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) const REQUEST_SK: &str = "REQ";
pub(super) const TOKEN_SK: &str = "TOKEN";
pub(super) const CLOSED_SK: &str = "CLOSED";
/// The gsi2 partition of pending requests, by deadline.
pub(super) const EXPIRES: &str = "EXPIRES";
/// The gsi2 partition of requests that owe a callback, by next attempt.
pub(super) const DELIVERY: &str = "DELIVERY";
/// The gsi1 partition of closure items, by closing time.
pub(super) const CLOSED: &str = "CLOSED";

pub(super) fn request_pk(id: &str) -> String {
    format!("REQ#{id}")
}

pub(super) fn token_pk(hash: &str) -> String {
    format!("TOKEN#{hash}")
}

pub(super) fn approver_pk(principal: &str) -> String {
    format!("APPROVER#{principal}")
}

pub(super) fn viewer_pk(principal: &str) -> String {
    format!("VIEWER#{principal}")
}

/// The vote item of a seat: the voter's own email, or the email of whom they voted for.
fn vote_sk(seat: &str) -> String {
    format!("VOTE#{seat}")
}

pub(super) fn status_pk(status: RequestStatus) -> String {
    format!("STATUS#{}", status.as_str())
}

/// A time as a sort key: fixed width, so text order is time order.
pub(super) fn at_key(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

pub(super) fn timed_key(ms: i64, id: &str) -> String {
    format!("{}#{id}", at_key(ms))
}

/// The key of an item.
pub(super) fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_string(), s(pk)), ("sk".to_string(), s(sk))])
}

// Expression values are single attributes, written by hand.
pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn num(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The `id` attribute of an item of a query (a request, closure, approver or viewer item).
pub(super) fn id_of(item: &Item) -> Option<&str> {
    match item.get("id") {
        Some(AttributeValue::S(v)) => Some(v),
        _ => None,
    }
}

pub(super) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

pub(super) fn bad(what: &str, v: &str) -> StoreError {
    StoreError::backend(format!("unexpected {what} {v:?} in the table"))
}

pub(super) fn to_item(v: impl Serialize) -> StoreResult<Item> {
    serde_dynamo::to_item(v).map_err(|e| StoreError::backend(format!("DynamoDB item: {e}")))
}

pub(super) fn from_item<T: DeserializeOwned>(item: Item) -> StoreResult<T> {
    serde_dynamo::from_item(item)
        .map_err(|e| StoreError::backend(format!("unexpected item in the table: {e}")))
}

/// A ballot as an element of the request item's `votes` list.
pub(super) fn ballot_value(b: &Ballot) -> StoreResult<AttributeValue> {
    serde_dynamo::to_attribute_value(BallotItem::from(b))
        .map_err(|e| StoreError::backend(format!("DynamoDB item: {e}")))
}

/// A request item read whole, as a [`StoredRequest`].
pub(super) fn to_request(item: Item) -> StoreResult<StoredRequest> {
    from_item::<RequestRow>(item)?.into_stored()
}

/// The request item as `insert` writes it; every later change is an update expression.
#[derive(Serialize)]
pub(super) struct NewRequestItem<'a> {
    pub pk: String,
    pub sk: &'static str,
    pub id: &'a str,
    pub status: RequestStatus,
    /// The [`crate::domain::NewRequest`] as JSON.
    pub body: String,
    pub version: i64,
    pub created_ms: i64,
    pub expires_ms: i64,
    pub token_hash: &'a str,
    pub votes: Vec<BallotItem>,
    pub delivery_attempts: i64,
    pub gsi1pk: String,
    pub gsi1sk: &'a str,
    pub gsi2pk: &'static str,
    pub gsi2sk: String,
}

/// What the store reads of a request item: from a consistent read, an index page, or the
/// old item an update returns. Absent attributes are `None`, or what a new request has.
#[derive(Deserialize)]
pub(super) struct RequestRow {
    pub id: String,
    pub body: String,
    pub status: RequestStatus,
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub votes: Vec<BallotItem>,
    pub outcome: Option<Outcome>,
    pub decided_ms: Option<i64>,
    pub signature: Option<String>,
    pub token_hash: Option<String>,
    /// The [`crate::store::Callback`] owed, as JSON.
    pub callback: Option<String>,
    pub delivery: Option<Delivery>,
    #[serde(default)]
    pub delivery_attempts: i64,
    pub last_error: Option<String>,
    pub closed_reason: Option<String>,
    pub closed_ms: Option<i64>,
}

impl RequestRow {
    /// Whether the callback is still owed: `pending`, or `unconfirmed` (an attempt got no
    /// answer, or is under way).
    pub fn owed(&self) -> bool {
        matches!(
            self.delivery,
            Some(Delivery::Pending | Delivery::Unconfirmed)
        )
    }

    pub fn attempts(&self) -> u32 {
        self.delivery_attempts.clamp(0, i64::from(u32::MAX)) as u32
    }

    pub fn into_stored(self) -> StoreResult<StoredRequest> {
        let delivery_attempts = self.attempts();
        let decision = match (self.outcome, self.decided_ms, self.signature) {
            (Some(outcome), Some(at), Some(signature)) => Some(StoredDecision {
                outcome,
                decided_at: from_ms(at),
                signature,
            }),
            _ => None,
        };
        let mut votes: Vec<Ballot> = self.votes.into_iter().map(Ballot::from).collect();
        votes.sort_by(|a, b| (a.decided_at, &a.voter).cmp(&(b.decided_at, &b.voter)));
        Ok(StoredRequest {
            id: stored_id(self.id)?,
            request: serde_json::from_str(&self.body)?,
            status: self.status,
            version: self.version,
            votes,
            decision,
            delivery: self.delivery,
            delivery_attempts,
            last_delivery_error: self.last_error,
            closed_reason: self.closed_reason,
            closed_at: self.closed_ms.map(from_ms),
        })
    }
}

/// One ballot in a request item's `votes` list (a map).
#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub(super) struct BallotItem {
    voter: String,
    subject: String,
    name: String,
    choice: VoteChoice,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
    #[serde(default)]
    decided_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    /// The vote's passkey signature (JSON of `hanko_api::PasskeySignature`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    passkey: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    on_behalf_of: Option<String>,
}

impl From<&Ballot> for BallotItem {
    fn from(b: &Ballot) -> Self {
        Self {
            voter: b.voter.clone(),
            subject: b.subject.clone(),
            name: b.name.clone(),
            choice: b.choice,
            comment: b.comment.clone(),
            decided_ms: b.decided_at.timestamp_millis(),
            source_ip: b.source_ip.clone(),
            user_agent: b.user_agent.clone(),
            passkey: b
                .passkey
                .as_ref()
                .and_then(|p| serde_json::to_string(p).ok()),
            on_behalf_of: b.on_behalf_of.clone(),
        }
    }
}

impl From<BallotItem> for Ballot {
    fn from(b: BallotItem) -> Self {
        Self {
            voter: b.voter,
            subject: b.subject,
            name: b.name,
            choice: b.choice,
            comment: b.comment,
            decided_at: from_ms(b.decided_ms),
            source_ip: b.source_ip,
            user_agent: b.user_agent,
            // Written by Hanko from the type it reads back into.
            passkey: b.passkey.and_then(|j| serde_json::from_str(&j).ok()),
            on_behalf_of: b.on_behalf_of,
        }
    }
}

/// The vote item: one per seat and request, so a second vote in a seat fails its put.
#[derive(Serialize)]
pub(super) struct VoteItem<'a> {
    pk: String,
    sk: String,
    id: &'a str,
    voter: &'a str,
    choice: VoteChoice,
    decided_ms: i64,
    ttl: i64,
}

impl<'a> VoteItem<'a> {
    pub fn new(id: &'a str, b: &'a Ballot, ttl: i64) -> Self {
        Self {
            pk: request_pk(id),
            sk: vote_sk(b.seat()),
            id,
            voter: &b.voter,
            choice: b.choice,
            decided_ms: b.decided_at.timestamp_millis(),
            ttl,
        }
    }
}

/// The task token item, keyed by the token's hash.
#[derive(Serialize, Deserialize)]
pub(super) struct TokenItem {
    pub pk: String,
    pub sk: String,
    pub request_id: String,
    pub task_token: String,
    pub ttl: i64,
}

/// An approver or viewer item: a principal's pointer to a request.
#[derive(Serialize)]
pub(super) struct PointerItem {
    pub pk: String,
    pub sk: String,
    pub id: String,
    pub ttl: i64,
}

/// The closure item, in gsi1 `CLOSED` by closing time.
#[derive(Serialize)]
pub(super) struct ClosureItem<'a> {
    pk: String,
    sk: &'static str,
    id: &'a str,
    closed_ms: i64,
    gsi1pk: &'static str,
    gsi1sk: String,
    ttl: i64,
}

impl<'a> ClosureItem<'a> {
    pub fn new(id: &'a str, closed_ms: i64, ttl: i64) -> Self {
        Self {
            pk: request_pk(id),
            sk: CLOSED_SK,
            id,
            closed_ms,
            gsi1pk: CLOSED,
            gsi1sk: timed_key(closed_ms, id),
            ttl,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The structs write the attributes the hand-written maps of earlier versions wrote,
    //! and read them back.

    use super::*;

    fn ballot() -> Ballot {
        Ballot {
            voter: "a@x.io".into(),
            subject: "sub".into(),
            name: "A".into(),
            choice: VoteChoice::Reject,
            comment: Some("no".into()),
            decided_at: from_ms(1_700_000_000_123),
            source_ip: None,
            user_agent: Some("ua".into()),
            passkey: None,
            on_behalf_of: None,
        }
    }

    fn map(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn time_keys_sort_as_times_do() {
        assert!(timed_key(999, "b") < timed_key(1_000, "a"));
        assert!(at_key(1_000) < timed_key(1_000, "a"));
        assert!(timed_key(1_000, "z") < at_key(1_001));
        assert_eq!(at_key(-5), at_key(0));
    }

    #[test]
    fn a_ballot_survives_the_trip_through_an_attribute_map() {
        let b = ballot();
        let av: AttributeValue = serde_dynamo::to_attribute_value(BallotItem::from(&b)).unwrap();
        let back: BallotItem = serde_dynamo::from_attribute_value(av).unwrap();
        assert_eq!(Ballot::from(back), b);
    }

    #[test]
    fn a_ballot_is_a_map_of_strings_and_its_time_in_milliseconds_without_absent_fields() {
        let av: AttributeValue =
            serde_dynamo::to_attribute_value(BallotItem::from(&ballot())).unwrap();
        assert_eq!(
            av,
            AttributeValue::M(map(&[
                ("voter", s("a@x.io")),
                ("subject", s("sub")),
                ("name", s("A")),
                ("choice", s("reject")),
                ("comment", s("no")),
                ("decided_ms", num(1_700_000_000_123)),
                ("user_agent", s("ua")),
            ]))
        );
    }

    #[test]
    fn the_written_items_have_the_attributes_of_the_table_of_items() {
        let b = ballot();
        assert_eq!(
            to_item(VoteItem::new("r1", &b, 99)).unwrap(),
            map(&[
                ("pk", s("REQ#r1")),
                ("sk", s("VOTE#a@x.io")),
                ("id", s("r1")),
                ("voter", s("a@x.io")),
                ("choice", s("reject")),
                ("decided_ms", num(1_700_000_000_123)),
                ("ttl", num(99)),
            ])
        );
        assert_eq!(
            to_item(ClosureItem::new("r1", 1_000, 7)).unwrap(),
            map(&[
                ("pk", s("REQ#r1")),
                ("sk", s("CLOSED")),
                ("id", s("r1")),
                ("closed_ms", num(1_000)),
                ("gsi1pk", s("CLOSED")),
                ("gsi1sk", s("000000000001000#r1")),
                ("ttl", num(7)),
            ])
        );
        let token = TokenItem {
            pk: token_pk("h"),
            sk: TOKEN_SK.into(),
            request_id: "r1".into(),
            task_token: "secret".into(),
            ttl: 5,
        };
        assert_eq!(
            to_item(token).unwrap(),
            map(&[
                ("pk", s("TOKEN#h")),
                ("sk", s("TOKEN")),
                ("request_id", s("r1")),
                ("task_token", s("secret")),
                ("ttl", num(5)),
            ])
        );
        let pointer = PointerItem {
            pk: viewer_pk("group:ops"),
            sk: "r1".into(),
            id: "r1".into(),
            ttl: 3,
        };
        assert_eq!(
            to_item(pointer).unwrap(),
            map(&[
                ("pk", s("VIEWER#group:ops")),
                ("sk", s("r1")),
                ("id", s("r1")),
                ("ttl", num(3)),
            ])
        );
        let request = NewRequestItem {
            pk: request_pk("r1"),
            sk: REQUEST_SK,
            id: "r1",
            status: RequestStatus::Pending,
            body: "{}".into(),
            version: 0,
            created_ms: 1,
            expires_ms: 2,
            token_hash: "h",
            votes: Vec::new(),
            delivery_attempts: 0,
            gsi1pk: status_pk(RequestStatus::Pending),
            gsi1sk: "r1",
            gsi2pk: EXPIRES,
            gsi2sk: timed_key(2, "r1"),
        };
        assert_eq!(
            to_item(request).unwrap(),
            map(&[
                ("pk", s("REQ#r1")),
                ("sk", s("REQ")),
                ("id", s("r1")),
                ("status", s("pending")),
                ("body", s("{}")),
                ("version", num(0)),
                ("created_ms", num(1)),
                ("expires_ms", num(2)),
                ("token_hash", s("h")),
                ("votes", AttributeValue::L(Vec::new())),
                ("delivery_attempts", num(0)),
                ("gsi1pk", s("STATUS#pending")),
                ("gsi1sk", s("r1")),
                ("gsi2pk", s("EXPIRES")),
                ("gsi2sk", s("000000000000002#r1")),
            ])
        );
    }

    #[test]
    fn a_decided_request_item_reads_back_with_its_decision_delivery_and_votes_in_order() {
        const ID: &str = "0190e4b2-7c1e-7000-8000-000000000001";
        let req = crate::domain::NewRequest {
            title: "t".into(),
            description: None,
            details: serde_json::Value::Null,
            approvers: vec!["a@x.io".parse().unwrap(), "b@x.io".parse().unwrap()],
            required_approvals: 1,
            allow_self_approval: false,
            requested_by: None,
            on_reject: crate::domain::OnReject::Fail,
            execution_arn: "arn:aws:states:r:1:execution:m:e".into(),
            execution_name: "e".into(),
            state_machine_arn: "arn:aws:states:r:1:stateMachine:m".into(),
            state_machine_name: "m".into(),
            state_name: None,
            created_at: from_ms(1_700_000_000_000),
            expires_at: from_ms(1_700_000_100_000),
            policy: None,
            sender: None,
            notify: Vec::new(),
            remind_before_seconds: Vec::new(),
            escalation: None,
        };
        let body = serde_json::to_string(&req).unwrap();
        // Listed second, voted first.
        let first = AttributeValue::M(map(&[
            ("voter", s("b@x.io")),
            ("subject", s("b")),
            ("name", s("B")),
            ("choice", s("approve")),
            ("decided_ms", num(2_000)),
        ]));
        let second = serde_dynamo::to_attribute_value(BallotItem::from(&ballot())).unwrap();
        let item = map(&[
            ("pk", s(format!("REQ#{ID}"))),
            ("sk", s("REQ")),
            ("id", s(ID)),
            ("status", s("approved")),
            ("body", s(body)),
            ("version", num(2)),
            ("votes", AttributeValue::L(vec![second, first])),
            ("outcome", s("approved")),
            ("decided_ms", num(1_700_000_000_500)),
            ("signature", s("jws")),
            ("delivery", s("delivered_or_gone")),
            ("delivery_attempts", num(3)),
            ("closed_reason", s("why")),
            ("closed_ms", num(1_700_000_000_500)),
            ("gsi1pk", s("STATUS#approved")),
            ("ttl", num(1)),
        ]);
        let r = to_request(item).unwrap();
        assert_eq!(
            (r.id.as_str(), r.status, r.version),
            (ID, RequestStatus::Approved, 2)
        );
        assert_eq!(r.request, req);
        assert_eq!(
            r.votes.iter().map(|v| v.voter.as_str()).collect::<Vec<_>>(),
            ["b@x.io", "a@x.io"]
        );
        let d = r.decision.unwrap();
        assert_eq!(
            (d.outcome, d.decided_at, d.signature.as_str()),
            (Outcome::Approved, from_ms(1_700_000_000_500), "jws")
        );
        assert_eq!(
            (r.delivery, r.delivery_attempts),
            (Some(Delivery::DeliveredOrGone), 3)
        );
        assert_eq!(r.closed_reason.as_deref(), Some("why"));
        assert_eq!(r.closed_at, Some(from_ms(1_700_000_000_500)));
        assert_eq!(r.last_delivery_error, None);
    }
}
