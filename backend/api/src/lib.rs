//! The JSON contract between the Hanko console and the Hanko api.
//!
//! Serde types only: no axum, no database, no AWS. The console compiles this crate to
//! wasm32 and the server serialises the same types, so the two sides cannot disagree.
//! Field names are camelCase on the wire; every time is RFC 3339 UTC.
//!
//! With the `openapi` feature every type also derives `utoipa::ToSchema`, so the server's
//! OpenAPI description (`/api/openapi.json`) is generated from these very types.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

mod delegation;
pub use delegation::{DelegationInfo, DelegationStatus, MAX_DELEGATION_DAYS, SetDelegation};

/// The JSON a workflow sent with its request.
pub type Details = Value;

/// `GET /api/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    pub status: String,
}

/// `GET /api/config` (public): how the console logs people in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConsoleConfig {
    pub login: LoginOptions,
}

/// The ways to log in this server offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginOptions {
    /// Whether `POST /api/dev/login` (email and password) is on.
    pub dev: bool,
    /// Cognito or another OIDC provider, when configured.
    pub oidc: Option<OidcLogin>,
}

/// Authorization code + PKCE with a public client (no secret). The redirect URI is
/// `<console origin>/auth/callback`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct OidcLogin {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    /// Space-separated, as sent in `scope`.
    pub scopes: String,
    /// Where logging out sends the person (the provider ends its own session there).
    pub logout_url: Option<String>,
    /// Which token the api takes as the bearer: `id` (the ID token) or `access`.
    pub token_use: String,
    /// The name on the login button ("Log in with <name>"); the console picks one from the
    /// authorize URL when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_name: Option<String>,
}

/// `POST /api/dev/login` body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

/// `POST /api/dev/login` answer: a short-lived bearer token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// `GET /api/me`: who the verified token says the caller is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Me {
    pub email: String,
    pub name: String,
    pub groups: Vec<String>,
    /// May export the audit trail (member of the auditor group).
    #[serde(default, rename = "canAudit")]
    pub can_audit: bool,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RequestStatus {
    /// Waiting for votes.
    Pending,
    /// The quorum approved; the workflow was (or is being) told.
    Approved,
    /// Someone rejected; the workflow was (or is being) told.
    Rejected,
    /// The deadline passed before a decision.
    Expired,
    /// The workflow no longer waits (its task token is gone: execution stopped, timed out).
    Closed,
}

impl RequestStatus {
    pub const ALL: [RequestStatus; 5] = [
        RequestStatus::Pending,
        RequestStatus::Approved,
        RequestStatus::Rejected,
        RequestStatus::Expired,
        RequestStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Pending => "pending",
            RequestStatus::Approved => "approved",
            RequestStatus::Rejected => "rejected",
            RequestStatus::Expired => "expired",
            RequestStatus::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// What one approver said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VoteChoice {
    Approve,
    Reject,
}

impl VoteChoice {
    pub const ALL: [VoteChoice; 2] = [VoteChoice::Approve, VoteChoice::Reject];

    /// The word the api writes and reads (`approve`, `reject`).
    pub fn as_str(self) -> &'static str {
        match self {
            VoteChoice::Approve => "approve",
            VoteChoice::Reject => "reject",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "approve" => Some(VoteChoice::Approve),
            "reject" => Some(VoteChoice::Reject),
            _ => None,
        }
    }
}

/// What the request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Approved,
    Rejected,
}

impl Outcome {
    pub const ALL: [Outcome; 2] = [Outcome::Approved, Outcome::Rejected];

    /// The word the api and the stores write (`approved`, `rejected`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Approved => "approved",
            Outcome::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// The longest comment a vote may carry, in characters (after trimming).
pub const MAX_COMMENT_CHARS: usize = 2000;

/// `POST /api/approvals/{id}/decision` body. A reject needs a comment (not only spaces).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    pub decision: VoteChoice,
    #[serde(default)]
    pub comment: Option<String>,
    /// The approver's passkey signature of this vote (required when the request's policy or
    /// the server asks for one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
    /// Vote in this person's seat, as their delegate (see `/api/me/delegation`).
    #[serde(
        default,
        rename = "onBehalfOf",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_behalf_of: Option<String>,
}

/// Written by hand: the rule "a reject needs a comment" is part of the contract, and a
/// derived schema cannot say it.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for DecisionRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let comment = |types: serde_json::Value, min: usize| {
            serde_json::json!({
                "type": types,
                "minLength": min,
                "maxLength": MAX_COMMENT_CHARS,
                "description": format!("why; up to {MAX_COMMENT_CHARS} characters"),
            })
        };
        let passkey = serde_json::json!({
            "type": ["object", "null"],
            "description": "the approver's passkey signature of this vote (see PasskeyAssertion)",
            "required": ["nonce", "credential"],
            "properties": {"nonce": {"type": "string"}, "credential": {"type": "object"}},
            "additionalProperties": false,
        });
        let on_behalf_of = serde_json::json!({
            "type": ["string", "null"],
            "format": "email",
            "description": "vote in this person's seat, as their delegate during their delegation (see /api/me/delegation)",
        });
        let mut reject_comment = comment("string".into(), 1);
        reject_comment["pattern"] = "\\S".into();
        serde_json::from_value(serde_json::json!({
            "description": "A vote: approve (a comment is optional), or reject with a comment saying why.",
            "oneOf": [
                {
                    "type": "object",
                    "required": ["decision"],
                    "properties": {
                        "decision": {"type": "string", "enum": ["approve"]},
                        "comment": comment(serde_json::json!(["string", "null"]), 0),
                        "passkey": passkey.clone(),
                        "onBehalfOf": on_behalf_of.clone(),
                    },
                    "additionalProperties": false,
                },
                {
                    "type": "object",
                    "required": ["decision", "comment"],
                    "properties": {
                        "decision": {"type": "string", "enum": ["reject"]},
                        "comment": reject_comment,
                        "passkey": passkey,
                        "onBehalfOf": on_behalf_of,
                    },
                    "additionalProperties": false,
                },
            ],
        }))
        .expect("a valid schema")
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for DecisionRequest {}

/// One recorded vote, as shown to people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    pub approver: String,
    pub name: String,
    pub decision: VoteChoice,
    pub comment: Option<String>,
    pub decided_at: DateTime<Utc>,
    /// The `approver` voted as this person's delegate, in their seat ("carol for alice").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

/// Whether the workflow has been told of the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Recorded, not yet accepted by Step Functions; Hanko keeps retrying.
    Pending,
    /// Step Functions accepted the callback.
    Delivered,
    /// Step Functions no longer knew the task (the execution ended or timed out).
    TaskGone,
    /// An attempt got no answer (a timeout, a dropped connection, or Hanko stopped during
    /// it): it may or may not have reached Step Functions. Hanko keeps trying.
    Unconfirmed,
    /// After an attempt that got no answer, Step Functions said the task is gone
    /// (`InvalidToken`, `TaskTimedOut`): either that attempt delivered the decision or the
    /// task had already ended. `closedReason` says which answer came back.
    DeliveredOrGone,
}

impl Delivery {
    pub const ALL: [Delivery; 5] = [
        Delivery::Pending,
        Delivery::Delivered,
        Delivery::TaskGone,
        Delivery::Unconfirmed,
        Delivery::DeliveredOrGone,
    ];

    /// The word the api and the stores write (`pending`, `delivered`, `task_gone`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Pending => "pending",
            Delivery::Delivered => "delivered",
            Delivery::TaskGone => "task_gone",
            Delivery::Unconfirmed => "unconfirmed",
            Delivery::DeliveredOrGone => "delivered_or_gone",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The final decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DecisionInfo {
    pub outcome: Outcome,
    pub decided_at: DateTime<Utc>,
    /// Compact JWS (ES256) of the [`DecisionRecord`]; verify with `/.well-known/jwks.json`.
    pub signature: String,
    pub delivery: Delivery,
}

/// Why the caller may not vote on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VoteBlock {
    NotAnApprover,
    OwnRequest,
    AlreadyVoted,
    Decided,
    Expired,
    Closed,
    /// `onBehalfOf` names someone whose delegation to the caller is not in force now.
    NotADelegate,
}

impl VoteBlock {
    pub const ALL: [VoteBlock; 7] = [
        VoteBlock::NotAnApprover,
        VoteBlock::OwnRequest,
        VoteBlock::AlreadyVoted,
        VoteBlock::Decided,
        VoteBlock::Expired,
        VoteBlock::Closed,
        VoteBlock::NotADelegate,
    ];

    /// The word the api writes (`not_an_approver`, `own_request`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            VoteBlock::NotAnApprover => "not_an_approver",
            VoteBlock::OwnRequest => "own_request",
            VoteBlock::AlreadyVoted => "already_voted",
            VoteBlock::Decided => "decided",
            VoteBlock::Expired => "expired",
            VoteBlock::Closed => "closed",
            VoteBlock::NotADelegate => "not_a_delegate",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == s)
    }
}

/// One line of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalSummary {
    pub id: String,
    pub title: String,
    pub requested_by: Option<String>,
    pub state_machine_name: String,
    pub execution_name: String,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub required_approvals: u32,
    pub approvals_so_far: u32,
    pub decided_at: Option<DateTime<Utc>>,
    /// Who cast the deciding votes, when decided.
    pub decided_by: Vec<String>,
}

/// `GET /api/approvals` answer: one page, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApprovalPage {
    pub items: Vec<ApprovalSummary>,
    pub next_cursor: Option<String>,
}

/// What the caller may do on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Viewer {
    pub can_vote: bool,
    pub reason: Option<VoteBlock>,
    /// Those whose delegate the caller is now and in whose seat the caller may vote on
    /// this request (`onBehalfOf` of the decision), besides their own seat (`canVote`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub on_behalf_of: Vec<String>,
}

/// `GET /api/approvals/{id}`: everything a person needs to decide.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
    /// The JSON the workflow sent, as sent. Untrusted: render as text.
    pub details: Details,
    /// Emails and `group:NAME` entries.
    pub approvers: Vec<String>,
    pub required_approvals: u32,
    pub allow_self_approval: bool,
    pub requested_by: Option<String>,
    pub status: RequestStatus,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub execution_arn: String,
    pub execution_name: String,
    pub state_machine_arn: String,
    pub state_machine_name: String,
    pub state_name: Option<String>,
    /// AWS region of the execution, from its ARN, for a link to the AWS console.
    pub region: Option<String>,
    pub votes: Vec<Vote>,
    pub decision: Option<DecisionInfo>,
    /// Why a closed request was closed.
    pub closed_reason: Option<String>,
    /// The operator's approval policy that chose who decides; `None`: the approvers were
    /// chosen by the workflow (Hanko runs without a policy document).
    pub policy: Option<PolicyRef>,
    /// When those who may still vote are reminded (before the deadline).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reminders_at: Vec<DateTime<Utc>>,
    /// Who the request goes to if nobody decides in time, and whether it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationInfo>,
    pub viewer: Viewer,
    /// A vote on this request must be signed with the voter's passkey.
    #[serde(default)]
    pub passkey_required: bool,
}

/// A request's escalation: when it is due, to whom, and what it did once it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct EscalationInfo {
    /// When it is (or was) due.
    pub at: DateTime<Utc>,
    /// Emails and `group:NAME` entries it goes to.
    pub to: Vec<String>,
    /// When it happened; `None` while it is still to come.
    pub escalated_at: Option<DateTime<Utc>>,
    /// Those of `to` who became approvers then (the others already were).
    pub added: Vec<String>,
}

/// Which of the operator's policies applied to a request, and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyRef {
    pub name: String,
    /// Lowercase hex SHA-256 of the policy's canonical JSON (see [`ApprovalPolicy`]).
    pub sha256: String,
}

/// One approval policy of the operator's policy document: which state machines it covers
/// and what it asks of their requests. Its canonical JSON (this struct written by
/// serde_json, compact, keys in this order, `maxLoginAgeSeconds`, `requirePasskey`,
/// `notify` and `mayNotify` left out when unset) is what [`PolicyRef::sha256`] hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApprovalPolicy {
    pub name: String,
    /// State machine ARN patterns; `*` matches any run of characters.
    pub state_machines: Vec<String>,
    /// The people (emails) and `group:NAME` entries who may be asked.
    pub approvers: Vec<String>,
    /// The fewest distinct approvals a request may ask for.
    pub min_approvals: u32,
    /// Whether the requester may approve their own request.
    #[serde(default)]
    pub allow_self_approval: bool,
    /// The longest a request may wait for a decision.
    pub max_timeout_seconds: i64,
    /// Every vote must be signed with the approver's passkey.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_passkey: bool,
    /// The oldest a login may be to decide (seconds since the person logged in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_login_age_seconds: Option<i64>,
    /// Chat channels told of every request under this policy (besides email).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notify: Vec<ChatTarget>,
    /// More chat channels a request under this policy may name in its own `notify`. A
    /// channel is a reader too: a request may not name one outside `notify` and this list.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub may_notify: Vec<ChatTarget>,
    /// Seconds before the deadline at which those who may still vote are reminded, when
    /// the request names none (otherwise Hanko's default: a day and an hour before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remind_before_seconds: Option<Vec<i64>>,
    /// After how many seconds without a decision the request is escalated to `escalateTo`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after_seconds: Option<i64>,
    /// The people and `group:NAME` entries a request under this policy is escalated to:
    /// they become its approvers. A request may name only these in its own `escalateTo`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate_to: Vec<String>,
}

/// A chat channel to tell of a request, as a policy or an intake message names it:
/// `{"slack": "#deploys"}` (a Slack channel name or id) or `{"teams": "release-team"}` (the
/// name of a Teams incoming webhook the operator configured; never a URL), and optionally
/// `"lang": "ja"` or `"en"` (default: the request's language). Exactly one of `slack` and
/// `teams`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ChatTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub teams: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lang: Option<String>,
}

/// One approval inside the workflow's task output and the decision record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct RecordedVote {
    pub approver: String,
    pub comment: Option<String>,
    pub decided_at: DateTime<Utc>,
    /// The approver's passkey signature of this vote, when they signed with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeySignature>,
    /// The approver voted as this person's delegate, in their seat ("carol for alice").
    /// Absent otherwise, so records signed before delegation verify unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

/// The claims of the signed decision (the JWS payload).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    /// Always `hanko`.
    pub iss: String,
    pub request_id: String,
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub title: String,
    pub decision: Outcome,
    pub approvals: Vec<RecordedVote>,
    pub rejections: Vec<RecordedVote>,
    /// Lowercase hex SHA-256 of the request as it was shown to approvers.
    pub request_digest: String,
    pub decided_at: DateTime<Utc>,
    /// Seconds since the epoch, for JWT-aware verifiers.
    pub iat: i64,
    /// The operator's policy the request was held to, as it was when the request came in;
    /// absent when Hanko ran without a policy document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<ApprovalPolicy>,
    /// Lowercase hex SHA-256 of `policy`'s canonical JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_sha256: Option<String>,
}

/// What the workflow's task gets back (approve, or reject with `onReject: succeed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TaskOutput {
    pub decision: Outcome,
    pub request_id: String,
    pub approvals: Vec<RecordedVote>,
    pub rejections: Vec<RecordedVote>,
    pub signature: String,
}

/// Every error body: `{"error":{"code","message"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// snake_case, stable: clients branch on it.
    pub code: String,
    /// Words a person can act on.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_round_trips_through_its_wire_name() {
        for st in RequestStatus::ALL {
            assert_eq!(RequestStatus::parse(st.as_str()), Some(st));
            assert_eq!(
                serde_json::to_value(st).unwrap(),
                Value::String(st.as_str().into())
            );
        }
        assert_eq!(RequestStatus::parse("PENDING"), None);
    }

    #[test]
    fn a_vote_choice_round_trips_through_its_wire_name() {
        for c in VoteChoice::ALL {
            assert_eq!(VoteChoice::parse(c.as_str()), Some(c));
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                Value::String(c.as_str().into())
            );
            let read: VoteChoice =
                serde_json::from_value(Value::String(c.as_str().into())).unwrap();
            assert_eq!(read, c);
        }
        assert_eq!(VoteChoice::parse("Approve"), None);
    }

    #[test]
    fn a_decision_body_with_an_unknown_field_is_refused() {
        let r: Result<DecisionRequest, _> =
            serde_json::from_str(r#"{"decision":"approve","extra":1}"#);
        assert!(r.is_err());
        let ok: DecisionRequest =
            serde_json::from_str(r#"{"decision":"reject","comment":"no"}"#).expect("valid body");
        assert_eq!(ok.decision, VoteChoice::Reject);
    }
}

/// `GET /api/approvals/{id}/decision`: the signed decision record of a decided request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SignedDecision {
    pub request_id: String,
    /// Compact JWS (ES256) whose payload is `record`.
    pub signature: String,
    /// The key that signed it, as listed in `jwksUrl`.
    pub kid: String,
    /// Where the public keys are: `/.well-known/jwks.json`.
    pub jwks_url: String,
    pub record: DecisionRecord,
}

/// One vote as kept for the audit trail: who, what, when, from where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditVote {
    pub approver: String,
    pub subject: String,
    pub name: String,
    pub decision: VoteChoice,
    pub comment: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The passkey that signed the vote (its credential id), when one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey_credential_id: Option<String>,
    /// Whether the passkey's authenticator verified the person; absent without a passkey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_verified: Option<bool>,
    /// The approver voted as this person's delegate, in their seat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_behalf_of: Option<String>,
}

/// One request that was decided or closed in the audited period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub request_id: String,
    pub title: String,
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub requested_by: Option<String>,
    /// Who put the request on the intake queue (its SQS `SenderId`), when known.
    pub sender: Option<String>,
    /// The operator's policy the request was held to, when there was a policy document.
    pub policy: Option<PolicyRef>,
    pub created_at: DateTime<Utc>,
    /// approved, rejected, expired or closed.
    pub status: RequestStatus,
    /// When it was decided or closed.
    pub ended_at: DateTime<Utc>,
    pub closed_reason: Option<String>,
    /// The decision's compact JWS, when there was a decision.
    pub signature: Option<String>,
    /// The escalation, when the request had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation: Option<EscalationInfo>,
    pub votes: Vec<AuditVote>,
}

/// `GET /api/audit?format=json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct AuditExport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub items: Vec<AuditEntry>,
}

#[cfg(test)]
mod wire_words {
    use super::*;

    /// Each enum's `as_str` is the word serde writes, and `parse` reads it back.
    fn check<T: Serialize + Copy + PartialEq + std::fmt::Debug>(
        all: &[T],
        as_str: fn(T) -> &'static str,
        parse: fn(&str) -> Option<T>,
    ) {
        for &v in all {
            assert_eq!(serde_json::to_value(v).unwrap(), as_str(v), "{v:?}");
            assert_eq!(parse(as_str(v)), Some(v));
        }
        assert_eq!(parse("no such word"), None);
    }

    #[test]
    fn every_wire_word_is_the_one_serde_writes_and_reads_back() {
        check(
            &RequestStatus::ALL,
            RequestStatus::as_str,
            RequestStatus::parse,
        );
        check(&VoteChoice::ALL, VoteChoice::as_str, VoteChoice::parse);
        check(&Outcome::ALL, Outcome::as_str, Outcome::parse);
        check(&Delivery::ALL, Delivery::as_str, Delivery::parse);
        check(&VoteBlock::ALL, VoteBlock::as_str, VoteBlock::parse);
    }
}

/// A vote's passkey signature, as the decision record carries it: the approver's
/// authenticator signed `authenticatorData || SHA-256(clientDataJSON)`, and the challenge
/// in `clientDataJSON` is the SHA-256 of the vote's canonical form (README, "Passkeys").
/// Bytes are base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasskeySignature {
    /// The credential's id.
    pub credential_id: String,
    /// The credential's public key as registered (a COSE key, in webauthn-rs's JSON form).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: Value,
    /// The relying party id the passkey belongs to (the console's domain).
    pub rp_id: String,
    /// The single-use server nonce in the canonical form.
    pub nonce: String,
    pub authenticator_data: String,
    #[serde(rename = "clientDataJSON")]
    pub client_data_json: String,
    pub signature: String,
    /// The authenticator verified the person (PIN, biometrics).
    pub user_verified: bool,
    /// The credential may be synced between devices (it was so registered).
    pub backup_eligible: bool,
}

/// A passkey assertion sent with a vote (`DecisionRequest::passkey`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyAssertion {
    /// The nonce of `POST /api/approvals/{id}/passkey-challenge`.
    pub nonce: String,
    /// What `navigator.credentials.get()` gave, as WebAuthn JSON (`id`, `rawId`,
    /// `response.authenticatorData`, `response.clientDataJSON`, `response.signature`,
    /// `type`; bytes in base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: Value,
}

/// `POST /api/approvals/{id}/passkey-challenge` body: the vote about to be signed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PasskeyChallengeRequest {
    pub decision: VoteChoice,
    #[serde(default)]
    pub comment: Option<String>,
    /// The seat the vote will be cast in, as the person's delegate (as in the vote).
    #[serde(
        default,
        rename = "onBehalfOf",
        skip_serializing_if = "Option::is_none"
    )]
    pub on_behalf_of: Option<String>,
}

/// What the passkey signs for one vote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasskeyChallenge {
    /// Single use; send it back in the vote's `passkey.nonce`.
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
    /// The vote's canonical form; its SHA-256 is the challenge.
    pub canonical: String,
    /// `publicKey` of `navigator.credentials.get()` (WebAuthn JSON, bytes in base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: Value,
}

/// One of the caller's passkeys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasskeyInfo {
    /// The credential id (base64url).
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// `GET /api/passkeys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasskeyList {
    pub items: Vec<PasskeyInfo>,
    /// The relying party id passkeys are registered for here.
    pub rp_id: String,
}

/// `POST /api/passkeys/registration` answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PasskeyRegistrationOptions {
    /// Single use; send it back with the new credential.
    pub registration_id: String,
    pub expires_at: DateTime<Utc>,
    /// `publicKey` of `navigator.credentials.create()` (WebAuthn JSON, bytes in base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub public_key: Value,
}

/// `POST /api/passkeys` body: the credential `navigator.credentials.create()` made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PasskeyRegistration {
    pub registration_id: String,
    /// A name the person recognises it by ("work laptop"), 1 to 64 characters, not only
    /// spaces.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 64, pattern = "\\S")
    )]
    pub name: String,
    /// WebAuthn JSON (`id`, `rawId`, `response.attestationObject`,
    /// `response.clientDataJSON`, `type`; bytes in base64url).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub credential: Value,
}
