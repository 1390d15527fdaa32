//! Amazon EventBridge events: what happens to each request, for other systems (ticketing,
//! audit, dashboards) to follow without polling the api. Each event has `source` `hanko`, a
//! `detail-type` ([`Event::detail_type`]), the execution's ARN as its one resource, and a
//! `detail` that is one of the structs below, which are its documentation.
//!
//! What a detail never holds: the task token (which would let its reader answer the
//! workflow), the request's `details` and `description` (the workflow's own data, shown only
//! to those who may read the request), and vote comments (free text that goes to the
//! workflow in the signed decision and to the audit export, not to every rule on a bus).
//!
//! Publishing is best effort: a `PutEvents` that fails, or that EventBridge answers with a
//! failed entry, is logged and counted (`EventsFailed`), and the vote or intake that caused
//! it stands ([`crate::service::Hanko`] never fails on one).

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use chrono::{DateTime, Utc};
use hanko_api::{Outcome, RequestStatus, VoteChoice};
use serde::{Deserialize, Serialize};

use crate::domain::rules::Ballot;
use crate::domain::{NewRequest, RequestId};
use crate::metrics;
use crate::service::Hanko;
use crate::store::{Callback, Claim, StoredRequest};

/// The `source` of every Hanko event.
pub const SOURCE: &str = "hanko";

/// Which request an event is about; the first fields of every detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    pub request_id: String,
    /// The execution waiting on the request (also the event's one `resources` entry).
    pub execution_arn: String,
    pub state_machine_arn: String,
}

/// `Approval Requested`: intake stored a new request, and its approvers are being told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequested {
    #[serde(flatten)]
    pub subject: Subject,
    pub status: RequestStatus,
    pub title: String,
    /// Who asked, when the workflow said.
    pub requested_by: Option<String>,
    /// Who may decide: emails and `group:NAME`, as the request (or its policy) names them.
    pub approvers: Vec<String>,
    pub required_approvals: u32,
    /// The approval policy the request was held to, when there is a policy document.
    pub policy: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The deadline: the request expires then if nobody decided.
    pub expires_at: DateTime<Utc>,
}

/// `Vote Recorded`: one vote was counted (the deciding one too, before `Approval Decided`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoteRecorded {
    #[serde(flatten)]
    pub subject: Subject,
    /// The voter's email, from their verified login.
    pub voter: String,
    pub voter_name: String,
    pub choice: VoteChoice,
    pub voted_at: DateTime<Utc>,
    /// Approvals counted so far, this one included.
    pub approvals: u32,
    pub required_approvals: u32,
    /// The request's status after this vote: `pending`, or the decision it made.
    pub status: RequestStatus,
}

/// `Approval Decided`: the deciding vote made the decision, which was signed and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalDecided {
    #[serde(flatten)]
    pub subject: Subject,
    pub decision: Outcome,
    /// Who approved, in the order they voted.
    pub approved_by: Vec<String>,
    /// Who rejected.
    pub rejected_by: Vec<String>,
    pub decided_at: DateTime<Utc>,
}

/// `Approval Expired`: the sweeper found the deadline passed with no decision; the
/// workflow is told `Hanko.Expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalExpired {
    #[serde(flatten)]
    pub subject: Subject,
    pub status: RequestStatus,
    pub expires_at: DateTime<Utc>,
    pub expired_at: DateTime<Utc>,
}

/// `Approval Closed`: the execution ended (stopped, failed, timed out) while the request
/// waited, so nobody waits for a decision any more; nothing is sent to the workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalClosed {
    #[serde(flatten)]
    pub subject: Subject,
    pub status: RequestStatus,
    /// What Step Functions says of the execution (`ABORTED`, `FAILED`, `TIMED_OUT`...).
    pub execution_status: String,
    pub closed_at: DateTime<Utc>,
}

/// `Approval Escalated`: nobody decided within the request's `escalateAfterSeconds`, so
/// its `escalateTo` became approvers and were told (README, "Reminders and escalation").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalEscalated {
    #[serde(flatten)]
    pub subject: Subject,
    /// Emails and `group:NAME` it goes to.
    pub escalated_to: Vec<String>,
    /// Those of them who became approvers then (the others already were).
    pub added: Vec<String>,
    /// Who may decide now.
    pub approvers: Vec<String>,
    pub escalated_at: DateTime<Utc>,
}

/// How the workflow was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// `SendTaskSuccess`: approved, or rejected with `onReject` `succeed`.
    Success,
    /// `SendTaskFailure`: `Hanko.Rejected` or `Hanko.Expired`.
    Failure,
}

/// `Workflow Told`: Step Functions accepted the callback (SendTaskSuccess or
/// SendTaskFailure) of a decision or an expiry: the execution goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowTold {
    #[serde(flatten)]
    pub subject: Subject,
    /// What the workflow was told of: `approved`, `rejected` or `expired`.
    pub status: RequestStatus,
    pub answer: Answer,
    /// The error name of a failure (`Hanko.Rejected`, `Hanko.Expired`).
    pub error: Option<String>,
    /// Attempts it took, this one included.
    pub attempts: u32,
    pub told_at: DateTime<Utc>,
}

/// One event, by detail-type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ApprovalRequested(ApprovalRequested),
    VoteRecorded(VoteRecorded),
    ApprovalDecided(ApprovalDecided),
    ApprovalExpired(ApprovalExpired),
    ApprovalClosed(ApprovalClosed),
    ApprovalEscalated(ApprovalEscalated),
    WorkflowTold(WorkflowTold),
}

impl Event {
    /// The event's `detail-type`.
    pub fn detail_type(&self) -> &'static str {
        match self {
            Event::ApprovalRequested(_) => "Approval Requested",
            Event::VoteRecorded(_) => "Vote Recorded",
            Event::ApprovalDecided(_) => "Approval Decided",
            Event::ApprovalExpired(_) => "Approval Expired",
            Event::ApprovalClosed(_) => "Approval Closed",
            Event::ApprovalEscalated(_) => "Approval Escalated",
            Event::WorkflowTold(_) => "Workflow Told",
        }
    }

    pub fn subject(&self) -> &Subject {
        match self {
            Event::ApprovalRequested(e) => &e.subject,
            Event::VoteRecorded(e) => &e.subject,
            Event::ApprovalDecided(e) => &e.subject,
            Event::ApprovalExpired(e) => &e.subject,
            Event::ApprovalClosed(e) => &e.subject,
            Event::ApprovalEscalated(e) => &e.subject,
            Event::WorkflowTold(e) => &e.subject,
        }
    }

    /// When it happened (the entry's `time`).
    pub fn time(&self) -> DateTime<Utc> {
        match self {
            Event::ApprovalRequested(e) => e.created_at,
            Event::VoteRecorded(e) => e.voted_at,
            Event::ApprovalDecided(e) => e.decided_at,
            Event::ApprovalExpired(e) => e.expired_at,
            Event::ApprovalClosed(e) => e.closed_at,
            Event::ApprovalEscalated(e) => e.escalated_at,
            Event::WorkflowTold(e) => e.told_at,
        }
    }

    /// The event's `detail`, as JSON.
    pub fn detail(&self) -> serde_json::Result<String> {
        match self {
            Event::ApprovalRequested(e) => serde_json::to_string(e),
            Event::VoteRecorded(e) => serde_json::to_string(e),
            Event::ApprovalDecided(e) => serde_json::to_string(e),
            Event::ApprovalExpired(e) => serde_json::to_string(e),
            Event::ApprovalClosed(e) => serde_json::to_string(e),
            Event::ApprovalEscalated(e) => serde_json::to_string(e),
            Event::WorkflowTold(e) => serde_json::to_string(e),
        }
    }
}

/// Where events go.
#[async_trait::async_trait]
pub trait Events: Send + Sync {
    /// Whether events are published at all; when not, Hanko does not build them (some
    /// take a read of the request).
    fn enabled(&self) -> bool {
        true
    }

    /// Publishes `events` (at most [`BATCH`]) in one go.
    async fn publish(&self, events: &[Event]) -> Result<(), Unpublished>;
}

/// Most events one `PutEvents` takes.
pub const BATCH: usize = 10;

/// Events that did not get through, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{count} event(s) not published: {reason}")]
pub struct Unpublished {
    /// The events of which the detail-types are `detail_types`.
    pub count: usize,
    pub detail_types: Vec<&'static str>,
    pub reason: String,
}

/// No events (`HANKO_EVENT_BUS` unset).
pub struct NoEvents;

#[async_trait::async_trait]
impl Events for NoEvents {
    fn enabled(&self) -> bool {
        false
    }

    async fn publish(&self, _events: &[Event]) -> Result<(), Unpublished> {
        Ok(())
    }
}

/// `PutEvents` on one event bus.
pub struct EventBridge {
    client: aws_sdk_eventbridge::Client,
    /// The bus's name or ARN (`default`: the account's default bus).
    bus: String,
}

impl EventBridge {
    pub fn new(client: aws_sdk_eventbridge::Client, bus: impl Into<String>) -> Self {
        Self {
            client,
            bus: bus.into(),
        }
    }

    /// A client that gives up soon: a vote waits for its events, and a slow EventBridge
    /// must not hold it for long (the SDK's standard retries stay, within these bounds).
    pub fn from_sdk(sdk: &aws_config::SdkConfig, bus: impl Into<String>) -> Self {
        let conf = aws_sdk_eventbridge::config::Builder::from(sdk)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .build();
        Self::new(aws_sdk_eventbridge::Client::from_conf(conf), bus)
    }
}

impl EventBridge {
    fn entry(&self, event: &Event) -> Result<PutEventsRequestEntry, String> {
        let detail = event.detail().map_err(|e| e.to_string())?;
        let time =
            aws_sdk_eventbridge::primitives::DateTime::from_millis(event.time().timestamp_millis());
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus)
            .source(SOURCE)
            .detail_type(event.detail_type())
            .resources(&event.subject().execution_arn)
            .time(time)
            .detail(detail)
            .build())
    }
}

#[async_trait::async_trait]
impl Events for EventBridge {
    async fn publish(&self, events: &[Event]) -> Result<(), Unpublished> {
        let all = |reason: String| Unpublished {
            count: events.len(),
            detail_types: events.iter().map(Event::detail_type).collect(),
            reason,
        };
        let entries = events
            .iter()
            .map(|e| self.entry(e))
            .collect::<Result<Vec<_>, _>>()
            .map_err(all)?;
        let out = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| all(DisplayErrorContext(&e).to_string()))?;
        if out.failed_entry_count() == 0 {
            return Ok(());
        }
        // The answer's entries are in the order of the request's; a failed one has an
        // error code (and no event id).
        let failed: Vec<(&Event, String)> = events
            .iter()
            .zip(out.entries())
            .filter_map(|(event, answer)| {
                answer.error_code().map(|code| {
                    let message = answer.error_message().unwrap_or_default();
                    (event, format!("{code}: {message}"))
                })
            })
            .collect();
        Err(match failed.first() {
            Some((_, why)) => Unpublished {
                count: failed.len(),
                detail_types: failed.iter().map(|(e, _)| e.detail_type()).collect(),
                reason: format!("EventBridge refused the entry ({why})"),
            },
            None => Unpublished {
                count: usize::try_from(out.failed_entry_count()).unwrap_or(events.len()),
                detail_types: Vec::new(),
                reason: "EventBridge refused entries without saying which".into(),
            },
        })
    }
}

/// The publisher `HANKO_EVENT_BUS` names: none when it is unset.
pub fn from_config(bus: Option<&str>, sdk: &aws_config::SdkConfig) -> Arc<dyn Events> {
    match bus {
        Some(bus) => Arc::new(EventBridge::from_sdk(sdk, bus)),
        None => Arc::new(NoEvents),
    }
}

fn subject_of(id: &RequestId, req: &NewRequest) -> Subject {
    Subject {
        request_id: id.to_string(),
        execution_arn: req.execution_arn.clone(),
        state_machine_arn: req.state_machine_arn.clone(),
    }
}

fn voters(votes: &[Ballot], choice: VoteChoice) -> Vec<String> {
    votes
        .iter()
        .filter(|v| v.choice == choice)
        .map(|v| v.voter.clone())
        .collect()
}

/// The events of what [`Hanko`] does, built and published where it does it.
impl Hanko {
    /// Publishes `events` (of one request, at most [`BATCH`]) in one `PutEvents`. A failure
    /// is logged and counted ([`metrics::EVENTS_FAILED`]), never returned: what caused the
    /// events has happened and stands.
    async fn publish_events(&self, events: &[Event]) {
        let Some(first) = events.first() else {
            return;
        };
        if let Err(e) = self.events.publish(events).await {
            tracing::warn!(
                request_id = %first.subject().request_id,
                detail_types = ?e.detail_types,
                error = %e.reason,
                "could not publish an event"
            );
            self.metrics
                .put(&[(metrics::EVENTS_FAILED, e.count as f64)], None);
        }
    }

    async fn publish_event(&self, event: Event) {
        self.publish_events(&[event]).await;
    }

    /// The request `id`, for an event about it; `None` (logged) when it cannot be read.
    async fn request_for_event(&self, id: &RequestId) -> Option<StoredRequest> {
        match self.store.get(id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(request_id = %id, error = %e, "could not read the request for its event");
                self.metrics.count(metrics::EVENTS_FAILED, None);
                None
            }
        }
    }

    /// `Approval Requested`, once intake stored `req` as `id`.
    pub(crate) async fn request_taken_event(&self, id: &RequestId, req: &NewRequest) {
        if !self.events.enabled() {
            return;
        }
        self.publish_event(Event::ApprovalRequested(ApprovalRequested {
            subject: subject_of(id, req),
            status: RequestStatus::Pending,
            title: req.title.clone(),
            requested_by: req.requested_by.as_ref().map(|e| e.as_str().to_string()),
            approvers: req.approvers.iter().map(|p| p.to_string()).collect(),
            required_approvals: req.required_approvals,
            policy: req.policy.as_ref().map(|p| p.policy.name.clone()),
            created_at: req.created_at,
            expires_at: req.expires_at,
        }))
        .await;
    }

    /// `Approval Escalated`, once the sweeper escalated `id` to become `req`.
    pub(crate) async fn escalated_event(&self, id: &RequestId, req: &NewRequest) {
        let Some(e) = req.escalation.as_ref().filter(|_| self.events.enabled()) else {
            return;
        };
        let texts =
            |list: &[crate::domain::Principal]| list.iter().map(|p| p.to_string()).collect();
        self.publish_event(Event::ApprovalEscalated(ApprovalEscalated {
            subject: subject_of(id, req),
            escalated_to: texts(&e.to),
            added: texts(&e.added),
            approvers: texts(&req.approvers),
            escalated_at: e.escalated_at.unwrap_or_else(Utc::now),
        }))
        .await;
    }

    /// `Vote Recorded` for `ballot`, counted on `req` (as it was before the vote) with
    /// `votes` (all of them, `ballot` last); and after it `Approval Decided` when it decided.
    pub(crate) async fn vote_events(
        &self,
        req: &StoredRequest,
        votes: &[Ballot],
        ballot: &Ballot,
        decided: Option<Outcome>,
    ) {
        if !self.events.enabled() {
            return;
        }
        let subject = subject_of(&req.id, &req.request);
        let approvals = votes
            .iter()
            .filter(|v| v.choice == VoteChoice::Approve)
            .count();
        let mut events = vec![Event::VoteRecorded(VoteRecorded {
            subject: subject.clone(),
            voter: ballot.voter.clone(),
            voter_name: ballot.name.clone(),
            choice: ballot.choice,
            voted_at: ballot.decided_at,
            approvals: u32::try_from(approvals).unwrap_or(u32::MAX),
            required_approvals: req.request.required_approvals,
            status: match decided {
                None => RequestStatus::Pending,
                Some(Outcome::Approved) => RequestStatus::Approved,
                Some(Outcome::Rejected) => RequestStatus::Rejected,
            },
        })];
        if let Some(decision) = decided {
            events.push(Event::ApprovalDecided(ApprovalDecided {
                subject,
                decision,
                approved_by: voters(votes, VoteChoice::Approve),
                rejected_by: voters(votes, VoteChoice::Reject),
                decided_at: ballot.decided_at,
            }));
        }
        // One PutEvents for both: the deciding vote waits for one call, not two.
        self.publish_events(&events).await;
    }

    /// `Approval Expired`, once the sweeper closed `id` as expired.
    pub(crate) async fn expired_event(&self, id: &RequestId) {
        if !self.events.enabled() {
            return;
        }
        let Some(req) = self.request_for_event(id).await else {
            return;
        };
        self.publish_event(Event::ApprovalExpired(ApprovalExpired {
            subject: subject_of(id, &req.request),
            status: RequestStatus::Expired,
            expires_at: req.request.expires_at,
            expired_at: req.closed_at.unwrap_or_else(Utc::now),
        }))
        .await;
    }

    /// `Approval Closed`, once `id` was closed because its execution is `execution_status`.
    pub(crate) async fn closed_event(&self, id: &RequestId, execution_status: &str) {
        if !self.events.enabled() {
            return;
        }
        let Some(req) = self.request_for_event(id).await else {
            return;
        };
        self.publish_event(Event::ApprovalClosed(ApprovalClosed {
            subject: subject_of(id, &req.request),
            status: RequestStatus::Closed,
            execution_status: execution_status.to_string(),
            closed_at: req.closed_at.unwrap_or_else(Utc::now),
        }))
        .await;
    }

    /// `Workflow Told`, once Step Functions accepted the callback `told` of `id`.
    pub(crate) async fn told_event(&self, id: &RequestId, told: &Claim) {
        if !self.events.enabled() {
            return;
        }
        let Some(req) = self.request_for_event(id).await else {
            return;
        };
        let (answer, error) = match &told.callback {
            Callback::Success { .. } => (Answer::Success, None),
            Callback::Failure { error, .. } => (Answer::Failure, Some(error.clone())),
        };
        self.publish_event(Event::WorkflowTold(WorkflowTold {
            subject: subject_of(id, &req.request),
            status: req.status,
            answer,
            error,
            attempts: told.attempts.saturating_add(1),
            told_at: Utc::now(),
        }))
        .await;
    }
}

/// `HANKO_EVENT_BUS`: an event bus name (`default`, `approvals`, a partner bus
/// `aws.partner/...`) or its ARN; blank (returned empty) is no events.
pub fn parse_bus(raw: &str) -> Result<String, String> {
    let bus = raw.trim();
    if bus.is_empty() {
        return Ok(String::new());
    }
    let name_ok = |n: &str| {
        (1..=256).contains(&n.len())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c))
    };
    let ok = match bus.strip_prefix("arn:") {
        Some(rest) => {
            let parts: Vec<&str> = rest.splitn(5, ':').collect();
            matches!(parts.as_slice(), [partition, "events", region, account, resource]
                if partition.starts_with("aws")
                    && !region.is_empty()
                    && account.len() == 12
                    && account.chars().all(|c| c.is_ascii_digit())
                    && resource.strip_prefix("event-bus/").is_some_and(name_ok))
        }
        None => name_ok(bus),
    };
    if ok {
        Ok(bus.to_string())
    } else {
        Err(format!(
            "HANKO_EVENT_BUS (--event-bus) {raw:?} is not an event bus: a name (letters, digits and . _ - /, `default` for the account's default bus) or an event bus ARN (arn:aws:events:REGION:ACCOUNT:event-bus/NAME)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        Subject {
            request_id: "01HZX5V6J5ZQ2V3Z0Y8W9K7M6N".into(),
            execution_arn: "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run-1"
                .into(),
            state_machine_arn: "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy"
                .into(),
        }
    }

    #[test]
    fn a_detail_starts_with_the_request_and_uses_the_apis_spelling() {
        let at = "2026-12-05T10:42:00Z".parse().unwrap();
        let e = Event::VoteRecorded(VoteRecorded {
            subject: subject(),
            voter: "alice@example.com".into(),
            voter_name: "Alice".into(),
            choice: VoteChoice::Approve,
            voted_at: at,
            approvals: 1,
            required_approvals: 2,
            status: RequestStatus::Pending,
        });
        let detail: serde_json::Value = serde_json::from_str(&e.detail().unwrap()).unwrap();
        assert_eq!(
            detail,
            serde_json::json!({
                "requestId": "01HZX5V6J5ZQ2V3Z0Y8W9K7M6N",
                "executionArn": "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run-1",
                "stateMachineArn": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy",
                "voter": "alice@example.com",
                "voterName": "Alice",
                "choice": "approve",
                "votedAt": "2026-12-05T10:42:00Z",
                "approvals": 1,
                "requiredApprovals": 2,
                "status": "pending"
            })
        );
        assert_eq!(e.detail_type(), "Vote Recorded");
        assert_eq!(e.time(), at);
    }

    #[test]
    fn each_event_reads_back_as_the_struct_it_was_written_from() {
        let at: DateTime<Utc> = "2026-12-05T10:42:00Z".parse().unwrap();
        let decided = ApprovalDecided {
            subject: subject(),
            decision: Outcome::Rejected,
            approved_by: vec!["alice@example.com".into()],
            rejected_by: vec!["carol@example.com".into()],
            decided_at: at,
        };
        let text = Event::ApprovalDecided(decided.clone()).detail().unwrap();
        assert_eq!(
            serde_json::from_str::<ApprovalDecided>(&text).unwrap(),
            decided
        );
        let told = WorkflowTold {
            subject: subject(),
            status: RequestStatus::Expired,
            answer: Answer::Failure,
            error: Some("Hanko.Expired".into()),
            attempts: 2,
            told_at: at,
        };
        let text = Event::WorkflowTold(told.clone()).detail().unwrap();
        assert!(text.contains(r#""answer":"failure""#), "{text}");
        assert_eq!(serde_json::from_str::<WorkflowTold>(&text).unwrap(), told);
        let escalated = ApprovalEscalated {
            subject: subject(),
            escalated_to: vec!["group:cto-office".into(), "alice@example.com".into()],
            added: vec!["group:cto-office".into()],
            approvers: vec!["alice@example.com".into(), "group:cto-office".into()],
            escalated_at: at,
        };
        let e = Event::ApprovalEscalated(escalated.clone());
        assert_eq!(e.detail_type(), "Approval Escalated");
        let text = e.detail().unwrap();
        assert!(
            text.contains(r#""escalatedTo":["group:cto-office","#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<ApprovalEscalated>(&text).unwrap(),
            escalated
        );
    }

    #[test]
    fn the_bus_is_a_name_or_an_event_bus_arn_or_blank_for_none() {
        for ok in [
            "default",
            " approvals ",
            "aws.partner/example.com/123/hanko",
            "arn:aws:events:ap-northeast-1:123456789012:event-bus/approvals",
            "arn:aws-cn:events:cn-north-1:123456789012:event-bus/default",
        ] {
            assert_eq!(parse_bus(ok).unwrap(), ok.trim(), "{ok}");
        }
        assert_eq!(parse_bus("").unwrap(), "");
        assert_eq!(parse_bus("  ").unwrap(), "");
        for bad in [
            "my bus",
            "bus;drop",
            "arn:aws:sqs:ap-northeast-1:123456789012:queue",
            "arn:aws:events:ap-northeast-1:123456789012:rule/approvals",
            "arn:aws:events:ap-northeast-1:1234:event-bus/approvals",
            &"a".repeat(257),
        ] {
            let e = parse_bus(bad).unwrap_err();
            assert!(e.contains("HANKO_EVENT_BUS"), "{e}");
        }
    }
}
