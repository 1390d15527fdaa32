//! What Hanko does, independent of how it is reached: take in a request, count a vote,
//! sign and deliver the decision, expire what is overdue. HTTP handlers, the SQS poller
//! and the Lambda handlers all call this.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use hanko_api::{
    DecisionRecord, Delivery, Outcome, RecordedVote, RequestStatus, TaskOutput, VoteBlock,
    VoteChoice,
};
use serde_json::{Value, json};

use crate::domain::nudge::{self, ESCALATION_KEY, NudgeKind};
use crate::domain::rules::{self, Ballot};
use crate::domain::{
    Caller, IntakeError, IntakeMessage, NewRequest, OnReject, RequestId, TaskToken,
};
use crate::events::Events;
use crate::metrics::{self, Metrics};
use crate::notifier::{NotSent, Notifier, Why};
use crate::policy_source::Policies;
use crate::signer::Signer;
use crate::store::{
    Callback, Claim, Inserted, NudgeClaim, Store, StoreError, StoredDecision, StoredRequest,
    VoteWrite, Waiting,
};
use crate::workflow::{CallbackError, Execution, ExecutionState, Workflow};

pub const REJECTED_ERROR: &str = "Hanko.Rejected";
pub const INVALID_ERROR: &str = "Hanko.InvalidRequest";
pub const POLICY_ERROR: &str = "Hanko.PolicyViolation";
pub const EXPIRED_ERROR: &str = "Hanko.Expired";

/// The `Reason` of [`metrics::REQUESTS_REFUSED`] for a message without a usable task token
/// or not JSON: dropped, with nobody to answer.
pub const REFUSED_DROPPED: &str = "dropped";

/// How delivery attempts are paced and how much housekeeping one pass does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// Wait after the first failed attempt; doubles with each further one.
    pub backoff_base: std::time::Duration,
    /// Longest wait between two attempts.
    pub backoff_max: std::time::Duration,
    /// Longest one call to Step Functions may take (the client's timeout). A claimed
    /// attempt that records nothing for this long (plus a margin) is retried.
    pub attempt_timeout: std::time::Duration,
    /// Pending requests whose execution is looked up per housekeeping pass.
    pub reconcile_batch: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        Self {
            backoff_base: std::time::Duration::from_secs(1),
            backoff_max: std::time::Duration::from_secs(300),
            attempt_timeout: std::time::Duration::from_secs(10),
            reconcile_batch: 50,
        }
    }
}

impl DeliveryPolicy {
    /// The wait after `attempts` failed attempts: base, 2×base, 4×base... up to the max.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let wait = self
            .backoff_base
            .saturating_mul(2u32.saturating_pow(attempts.min(20)))
            .min(self.backoff_max);
        Duration::from_std(wait).unwrap_or(Duration::seconds(300))
    }

    /// How long a claimed attempt is left alone before someone else may retry it.
    fn lease(&self) -> Duration {
        Duration::from_std(self.attempt_timeout).unwrap_or(Duration::seconds(10))
            + Duration::seconds(1)
    }
}

pub struct Hanko {
    pub store: Arc<dyn Store>,
    pub workflow: Arc<dyn Workflow>,
    pub notifier: Arc<dyn Notifier>,
    pub signer: Arc<dyn Signer>,
    pub delivery: DeliveryPolicy,
    /// The operator's approval policies, which every request is held to.
    pub policies: Policies,
    /// Where the next reconciliation pass goes on (the last id checked).
    pub reconcile_from: std::sync::Mutex<Option<RequestId>>,
    /// Where the figures of [`crate::metrics`] go.
    pub metrics: Metrics,
    /// Where the EventBridge events of [`crate::events`] go.
    pub events: Arc<dyn Events>,
    /// The relying party of votes signed with passkeys.
    pub passkeys: crate::passkeys::Passkeys,
}

/// What happened to an intake message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    Created {
        id: RequestId,
    },
    /// The same task token was delivered before.
    Duplicate {
        id: RequestId,
    },
    /// Invalid (`Hanko.InvalidRequest`) or against the operator's policy
    /// (`Hanko.PolicyViolation`): the workflow's task was failed with `error`.
    Refused {
        error: &'static str,
        problems: Vec<String>,
    },
    /// No task token: nobody to tell; dropped.
    Dropped {
        reason: String,
    },
}

/// The message could not be handled now; it should be offered again later.
#[derive(Debug, thiserror::Error)]
pub enum IntakeRetry {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not fail the invalid request's task: {0}")]
    Callback(CallbackError),
    #[error("could not look up the execution: {0}")]
    Lookup(String),
    #[error("could not read the approval policy document: {0}")]
    Policy(String),
}

/// Why a vote was not counted.
#[derive(Debug, thiserror::Error)]
pub enum VoteError {
    #[error("no such request")]
    NotFound,
    #[error("vote refused: {0:?}")]
    Blocked(VoteBlock),
    #[error("{0}")]
    BadComment(String),
    /// The decision was recorded but Step Functions no longer knows the task.
    #[error("the workflow no longer waits for this request ({0})")]
    WorkflowGone(String),
    /// The request's policy asks for a fresher login than the caller's (`auth_time`).
    #[error("the login is too old to decide this request")]
    LoginTooOld,
    /// Other votes kept changing the request; nothing was recorded.
    #[error("the request is busy")]
    Busy,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the decision: {0}")]
    Signing(String),
    /// The vote must be signed with the voter's passkey and was not (or they have none).
    #[error("this vote must be signed with your passkey")]
    PasskeyRequired,
    /// The passkey signature was checked and refused; nothing was recorded.
    #[error("{0}")]
    PasskeyRefused(String),
    /// A passkey's name is not one (empty, too long).
    #[error("{0}")]
    BadPasskey(String),
}

/// Where a delivery stands after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Yes,
    TaskGone(String),
    /// After an attempt without an answer the task is gone: delivered then, or it ended.
    DeliveredOrGone(String),
    Later(String),
    /// Nothing owed, or another attempt holds it.
    NothingOwed,
}

/// SHA-256 (hex) of the request as shown to approvers when it was made: an escalation's
/// additions ([`nudge::as_made`]) change who may decide, not what is decided, so a vote
/// signed before an escalation and the decision after it name the same digest.
pub fn request_digest(req: &NewRequest) -> String {
    let bytes = serde_json::to_vec(&nudge::as_made(req)).unwrap_or_default();
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &bytes);
    hex::encode(d)
}

/// Why `caller` may not vote on `req` now, in their own seat or, with `delegation`, in
/// the seat of the person who delegated to them.
pub(crate) fn seat_block(
    req: &StoredRequest,
    caller: &Caller,
    delegation: Option<&crate::domain::delegation::Delegation>,
    now: DateTime<Utc>,
) -> Option<VoteBlock> {
    match delegation {
        None => rules::vote_block(&req.request, req.status, &req.votes, caller, now),
        Some(d) => {
            rules::delegated_vote_block(&req.request, req.status, &req.votes, caller, d, now)
        }
    }
}

/// Puts AWS's word in place of the message's: the execution must be running, and the
/// state machine is the one AWS names (a message naming another one is refused).
fn trust_aws(req: &mut NewRequest, execution: &Execution) -> Result<(), String> {
    let arn = &req.execution_arn;
    if let ExecutionState::Ended(status) = &execution.state {
        return Err(match status.as_str() {
            "DOES_NOT_EXIST" => format!("execution {arn} does not exist"),
            s => format!("execution {arn} is {s}, not running"),
        });
    }
    let Some(real) = &execution.state_machine_arn else {
        return Err(format!(
            "Step Functions did not name the state machine of {arn}"
        ));
    };
    if *real != req.state_machine_arn {
        return Err(format!(
            "the message names state machine {} but execution {arn} belongs to {real}",
            req.state_machine_arn
        ));
    }
    req.state_machine_name = real.rsplit(':').next().unwrap_or_default().to_string();
    Ok(())
}

fn recorded(votes: &[Ballot], choice: VoteChoice) -> Vec<RecordedVote> {
    votes
        .iter()
        .filter(|v| v.choice == choice)
        .map(|v| RecordedVote {
            approver: v.voter.clone(),
            comment: v.comment.clone(),
            decided_at: v.decided_at,
            passkey: v.passkey.clone(),
            on_behalf_of: v.on_behalf_of.clone(),
        })
        .collect()
}

impl Hanko {
    /// Takes in one message from a workflow. `sender` is who put it on the queue (SQS
    /// `SenderId`), when known.
    pub async fn intake(
        &self,
        raw: &Value,
        sender: Option<String>,
    ) -> Result<IntakeOutcome, IntakeRetry> {
        let now = Utc::now();
        let mut msg = match IntakeMessage::parse(raw, now) {
            Ok(msg) => msg,
            Err(IntakeError::NoToken(reason)) => {
                tracing::warn!(%reason, "dropped an intake message without a usable task token");
                self.metrics
                    .count(metrics::REQUESTS_REFUSED, Some(REFUSED_DROPPED));
                return Ok(IntakeOutcome::Dropped { reason });
            }
            Err(IntakeError::Invalid {
                task_token,
                problems,
            }) => {
                let cause = IntakeError::cause(&problems);
                return self
                    .refuse(&task_token, INVALID_ERROR, cause, problems)
                    .await;
            }
        };
        // The message is a claim; AWS says which execution waits and of which state machine.
        let execution = self
            .workflow
            .describe_execution(&msg.request.execution_arn)
            .await
            .map_err(IntakeRetry::Lookup)?;
        if let Err(problem) = trust_aws(&mut msg.request, &execution) {
            let problems = vec![problem];
            let cause = IntakeError::cause(&problems);
            return self
                .refuse(&msg.task_token, INVALID_ERROR, cause, problems)
                .await;
        }
        msg.request.sender = sender;
        match self
            .policies
            .document()
            .await
            .map_err(IntakeRetry::Policy)?
        {
            None => {
                let problems = msg.check_alone();
                if !problems.is_empty() {
                    let cause = IntakeError::cause(&problems);
                    return self
                        .refuse(&msg.task_token, INVALID_ERROR, cause, problems)
                        .await;
                }
            }
            Some(doc) => {
                if let Err(v) = doc.govern(&mut msg.request, &msg.given, &msg.asked_escalation) {
                    tracing::warn!(policy = ?v.policy, problems = ?v.problems, "refused a request that breaks the approval policy");
                    let cause = v.cause();
                    return self
                        .refuse(&msg.task_token, POLICY_ERROR, cause, v.problems)
                        .await;
                }
            }
        }
        if let Some(problem) = crate::domain::intake::size_problem(&msg.request) {
            let problems = vec![problem];
            let cause = IntakeError::cause(&problems);
            return self
                .refuse(&msg.task_token, INVALID_ERROR, cause, problems)
                .await;
        }
        let id = RequestId::new();
        match self
            .store
            .insert(&id, &msg.task_token, &msg.request)
            .await?
        {
            Inserted::Duplicate { existing_id } => {
                tracing::info!(request_id = %existing_id, "the same task token arrived again; kept one request");
                Ok(IntakeOutcome::Duplicate { id: existing_id })
            }
            Inserted::Created => {
                self.metrics.count(metrics::REQUESTS_TAKEN, None);
                self.request_taken_event(&id, &msg.request).await;
                // The request is stored and visible in the console; a failure only
                // costs the email.
                let told = self.notifier.request_created(&id, &msg.request).await;
                self.count_told(&id, told);
                Ok(IntakeOutcome::Created { id })
            }
        }
    }

    /// Counts (and logs the failures of) the notifications of one request.
    fn count_told(&self, id: &RequestId, told: Result<usize, NotSent>) {
        let (sent, failed) = match told {
            Ok(sent) => (sent, 0),
            Err(e) => {
                tracing::error!(request_id = %id, error = %format!("{e:#}"), "could not notify approvers");
                (e.sent, e.failed)
            }
        };
        self.metrics.put(
            &[
                (metrics::NOTIFICATIONS_SENT, sent as f64),
                (metrics::NOTIFICATIONS_FAILED, failed as f64),
            ],
            None,
        );
    }

    /// Fails the task of a message Hanko will not take, so its execution does not wait.
    async fn refuse(
        &self,
        task_token: &TaskToken,
        error: &'static str,
        cause: String,
        problems: Vec<String>,
    ) -> Result<IntakeOutcome, IntakeRetry> {
        let cb = Callback::Failure {
            error: error.into(),
            cause,
        };
        match self.workflow.send(task_token, &cb).await {
            Ok(()) | Err(CallbackError::TaskGone(_)) => {
                tracing::warn!(%error, ?problems, "refused an approval request");
                let reason = match error {
                    POLICY_ERROR => "policy_violation",
                    _ => "invalid_request",
                };
                self.metrics.count(metrics::REQUESTS_REFUSED, Some(reason));
                Ok(IntakeOutcome::Refused { error, problems })
            }
            Err(e) => Err(IntakeRetry::Callback(e)),
        }
    }

    /// Counts `caller`'s vote, in their own seat or (`on_behalf_of`) in the seat of
    /// someone whose delegation to them is in force; when it decides the request, signs
    /// the decision and tells the workflow. The deciding vote's write also claims the
    /// delivery, so the attempt that follows needs no write of its own before it. Returns
    /// the request as it now stands.
    #[expect(
        clippy::too_many_arguments,
        reason = "one vote's parts, each said once"
    )]
    pub async fn vote(
        &self,
        id: &RequestId,
        caller: &Caller,
        choice: VoteChoice,
        comment: Option<&str>,
        on_behalf_of: Option<&str>,
        source_ip: Option<String>,
        user_agent: Option<String>,
    ) -> Result<StoredRequest, VoteError> {
        self.vote_signed(
            id,
            caller,
            choice,
            comment,
            on_behalf_of,
            None,
            source_ip,
            user_agent,
        )
        .await
    }

    /// [`Hanko::vote`], with the voter's passkey signature of the vote when there is one
    /// (required by the request's policy or `HANKO_REQUIRE_PASSKEY`). The signature is
    /// checked once, before the first write; its nonce is used up even if the vote is then
    /// refused.
    #[expect(
        clippy::too_many_arguments,
        reason = "one vote's parts, each said once"
    )]
    pub async fn vote_signed(
        &self,
        id: &RequestId,
        caller: &Caller,
        choice: VoteChoice,
        comment: Option<&str>,
        on_behalf_of: Option<&str>,
        passkey: Option<&hanko_api::PasskeyAssertion>,
        source_ip: Option<String>,
        user_agent: Option<String>,
    ) -> Result<StoredRequest, VoteError> {
        // The seat's delegation, read once; its window is checked at each try's time.
        let delegation = self.seat_delegation(caller, on_behalf_of).await?;
        // A racing vote changes the version; read again and re-check the rules.
        let mut signed: Option<Option<hanko_api::PasskeySignature>> = None;
        let mut decided: Option<(Outcome, Callback)> = None;
        let mut written = false;
        // The request as it was, every vote, and the one counted: for the events.
        let mut counted: Option<(StoredRequest, Vec<Ballot>, Ballot)> = None;
        for _ in 0..20 {
            let now = Utc::now();
            let req = self.store.get(id).await?.ok_or(VoteError::NotFound)?;
            if let Some(block) = seat_block(&req, caller, delegation.as_ref(), now) {
                return Err(VoteError::Blocked(block));
            }
            if let Some(max) = req
                .request
                .policy
                .as_ref()
                .and_then(|p| p.policy.max_login_age_seconds)
                && !caller.logged_in_within(max, now)
            {
                return Err(VoteError::LoginTooOld);
            }
            let comment = rules::check_comment(choice, comment).map_err(VoteError::BadComment)?;
            if signed.is_none() {
                signed = Some(
                    self.check_passkey(
                        &req,
                        caller,
                        choice,
                        comment.as_deref(),
                        delegation.as_ref().map(|d| d.delegator.as_str()),
                        passkey,
                    )
                    .await?,
                );
            }
            let ballot = Ballot {
                voter: caller.email.clone(),
                subject: caller.subject.clone(),
                name: caller.name.clone(),
                choice,
                comment,
                decided_at: now,
                source_ip: source_ip.clone(),
                user_agent: user_agent.clone(),
                passkey: signed.clone().flatten(),
                on_behalf_of: delegation.as_ref().map(|d| d.delegator.clone()),
            };
            let mut votes = req.votes.clone();
            votes.push(ballot.clone());
            let decision = match rules::tally(&votes, req.request.required_approvals) {
                None => None,
                Some(outcome) => Some(self.decide(&req, &votes, outcome, now).await?),
            };
            decided = decision.as_ref().map(|(d, cb)| (d.outcome, cb.clone()));
            // The lease starts at the write (after signing), as a claim's would.
            let lease_until = Utc::now() + self.delivery.lease();
            written = self
                .store
                .record_vote(VoteWrite {
                    id,
                    expected_version: req.version,
                    ballot: &ballot,
                    decision,
                    lease_until,
                    now: Utc::now(),
                })
                .await?;
            if written {
                counted = Some((req, votes, ballot));
                break;
            }
        }
        if !written {
            return Err(VoteError::Busy);
        }
        self.metrics.count(metrics::VOTES, None);
        if let Some((req, votes, ballot)) = &counted {
            self.vote_events(req, votes, ballot, decided.as_ref().map(|(o, _)| *o))
                .await;
        }
        if let Some((outcome, callback)) = decided {
            let outcome = match outcome {
                Outcome::Approved => "approved",
                Outcome::Rejected => "rejected",
            };
            self.metrics.count(metrics::DECISIONS, Some(outcome));
            // Claimed by the vote's write: the first attempt, after none before it.
            let claim = Claim {
                callback,
                attempts: 0,
                unconfirmed: false,
            };
            let delivered = self.attempt(id, claim).await?;
            self.notifier.request_finished(id).await;
            match delivered {
                Delivered::TaskGone(code) => return Err(VoteError::WorkflowGone(code)),
                Delivered::Later(e) => {
                    tracing::warn!(request_id = %id, error = %e, "decision recorded; delivery will be retried");
                }
                Delivered::Yes | Delivered::DeliveredOrGone(_) | Delivered::NothingOwed => {}
            }
        }
        self.store.get(id).await?.ok_or(VoteError::NotFound)
    }

    /// The delegation that lets `caller` vote in the seat of `on_behalf_of`: `None` for
    /// their own seat; refused (`not_a_delegate`) when that person has delegated to
    /// someone else or to nobody. Its window is checked with the vote ([`seat_block`]).
    pub(crate) async fn seat_delegation(
        &self,
        caller: &Caller,
        on_behalf_of: Option<&str>,
    ) -> Result<Option<crate::domain::delegation::Delegation>, VoteError> {
        let Some(who) = on_behalf_of else {
            return Ok(None);
        };
        let who = who.trim().to_lowercase();
        let d = self
            .store
            .delegation_of(&who)
            .await?
            .filter(|d| d.delegate.as_str() == caller.email)
            .ok_or(VoteError::Blocked(VoteBlock::NotADelegate))?;
        Ok(Some(d))
    }

    /// Builds and signs the decision record and the callback it causes.
    async fn decide(
        &self,
        req: &StoredRequest,
        votes: &[Ballot],
        outcome: Outcome,
        now: DateTime<Utc>,
    ) -> Result<(StoredDecision, Callback), VoteError> {
        let approvals = recorded(votes, VoteChoice::Approve);
        let rejections = recorded(votes, VoteChoice::Reject);
        let record = DecisionRecord {
            iss: "hanko".into(),
            request_id: req.id.to_string(),
            execution_arn: req.request.execution_arn.clone(),
            state_machine_arn: req.request.state_machine_arn.clone(),
            title: req.request.title.clone(),
            decision: outcome,
            approvals: approvals.clone(),
            rejections: rejections.clone(),
            request_digest: request_digest(&req.request),
            decided_at: now,
            iat: now.timestamp(),
            policy: req.request.policy.as_ref().map(|p| p.policy.clone()),
            policy_sha256: req.request.policy.as_ref().map(|p| p.sha256.clone()),
        };
        let signature = self
            .signer
            .sign(&record)
            .await
            .map_err(|e| VoteError::Signing(format!("{e:#}")))?;
        let output = TaskOutput {
            decision: outcome,
            request_id: req.id.to_string(),
            approvals,
            rejections,
            signature: signature.clone(),
        };
        let output_json =
            serde_json::to_string(&output).map_err(|e| VoteError::Signing(e.to_string()))?;
        let callback = match (outcome, req.request.on_reject) {
            (Outcome::Approved, _) | (Outcome::Rejected, OnReject::Succeed) => Callback::Success {
                output: output_json,
            },
            (Outcome::Rejected, OnReject::Fail) => Callback::Failure {
                error: REJECTED_ERROR.into(),
                cause: output_json,
            },
        };
        Ok((
            StoredDecision {
                outcome,
                decided_at: now,
                signature,
            },
            callback,
        ))
    }

    /// Sends the callback owed for `id`, if any, and records how it went. The attempt is
    /// claimed first, so two housekeepers never send the same callback at once, and an
    /// attempt cut short (Hanko killed during it) counts as one without an answer.
    pub async fn deliver(&self, id: &RequestId) -> Result<Delivered, StoreError> {
        let now = Utc::now();
        let lease_until = now + self.delivery.lease();
        let Some(claim) = self.store.claim_delivery(id, now, lease_until).await? else {
            return Ok(Delivered::NothingOwed);
        };
        self.attempt(id, claim).await
    }

    /// One attempt to send the callback of `owed`, which the caller has claimed (by
    /// [`Store::claim_delivery`], or by the deciding vote's write), and the record of how
    /// it went, which ends the claim.
    async fn attempt(&self, id: &RequestId, owed: Claim) -> Result<Delivered, StoreError> {
        let Some(token) = self.store.task_token(id).await? else {
            return Ok(Delivered::NothingOwed);
        };
        let retry_at = || Utc::now() + self.delivery.backoff(owed.attempts);
        let sent = self.workflow.send(&token, &owed.callback).await;
        match &sent {
            Ok(()) => self.metrics.count(metrics::CALLBACKS_DELIVERED, None),
            Err(e) => {
                let reason = match e {
                    CallbackError::TaskGone(_) => "task_gone",
                    CallbackError::Transient(_) => "refused",
                    CallbackError::Unknown(_) => "no_answer",
                };
                self.metrics
                    .count(metrics::CALLBACK_ATTEMPTS_FAILED, Some(reason));
            }
        }
        match sent {
            Ok(()) => {
                self.store
                    .record_delivery(id, Delivery::Delivered, None, None)
                    .await?;
                tracing::info!(request_id = %id, "the workflow was told");
                self.told_event(id, &owed).await;
                Ok(Delivered::Yes)
            }
            Err(CallbackError::TaskGone(code)) if owed.unconfirmed => {
                let reason = format!(
                    "Step Functions answered {code} after an earlier attempt got no answer: \
                     that attempt delivered the decision, or the task had already ended"
                );
                self.store
                    .record_delivery(id, Delivery::DeliveredOrGone, Some(&reason), None)
                    .await?;
                tracing::warn!(request_id = %id, %code, "delivered by an unanswered attempt, or the task had ended");
                Ok(Delivered::DeliveredOrGone(code))
            }
            Err(CallbackError::TaskGone(code)) => {
                let reason = format!("Step Functions no longer waits for this task ({code})");
                self.store
                    .record_delivery(id, Delivery::TaskGone, Some(&reason), None)
                    .await?;
                tracing::warn!(request_id = %id, %code, "the workflow no longer waits; request closed");
                Ok(Delivered::TaskGone(code))
            }
            Err(CallbackError::Transient(e)) => {
                // Refused before it was acted on; an earlier unanswered attempt still counts.
                let state = if owed.unconfirmed {
                    Delivery::Unconfirmed
                } else {
                    Delivery::Pending
                };
                self.store
                    .record_delivery(id, state, Some(&e), Some(retry_at()))
                    .await?;
                tracing::warn!(request_id = %id, attempts = owed.attempts + 1, error = %e, "delivery refused; will retry");
                Ok(Delivered::Later(e))
            }
            Err(CallbackError::Unknown(e)) => {
                self.store
                    .record_delivery(id, Delivery::Unconfirmed, Some(&e), Some(retry_at()))
                    .await?;
                tracing::warn!(request_id = %id, attempts = owed.attempts + 1, error = %e, "delivery got no answer; will retry");
                Ok(Delivered::Later(e))
            }
        }
    }

    /// One pass of housekeeping: expire what is overdue, retry what is owed, close what
    /// no execution waits for any more.
    pub async fn sweep(&self) -> Result<(), StoreError> {
        let now = Utc::now();
        for id in self.store.overdue(now, 100).await? {
            let cause = json!({"message": "nobody decided before the deadline", "requestId": id});
            let closed = self
                .store
                .close_pending(
                    &id,
                    RequestStatus::Expired,
                    "the deadline passed before a decision",
                    Some(Callback::Failure {
                        error: EXPIRED_ERROR.into(),
                        cause: cause.to_string(),
                    }),
                )
                .await?;
            if closed {
                tracing::info!(request_id = %id, "request expired");
                self.metrics.count(metrics::DECISIONS, Some("expired"));
                self.expired_event(&id).await;
                self.notifier.request_finished(&id).await;
                self.deliver(&id).await?;
            }
        }
        if let Err(e) = self.nudge().await {
            // Reminders wait for the next pass; decisions are still delivered.
            tracing::warn!(error = %e, "could not send the reminders and escalations due");
        }
        for id in self.store.due_deliveries(Utc::now(), 100).await? {
            self.deliver(&id).await?;
        }
        self.report_undelivered().await;
        self.reconcile().await
    }

    /// Sends the reminders and escalations that are due ([`crate::domain::nudge`]), each
    /// once however many sweepers run: each is claimed by a conditional write first, and
    /// only the claim's winner sends it. A sweeper stopped between its claim and its mail
    /// loses that mail: a reminder is sent at most once.
    pub async fn nudge(&self) -> Result<(), StoreError> {
        let now = Utc::now();
        for id in self.store.due_nudges(now, 100).await? {
            // What was sent, then the request: an escalation another sweeper claims in
            // between is then in the request read (its approvers are reminded too), or
            // this sweeper's own claim of it fails.
            let mut sent = self.store.sent_nudges(&id).await?;
            let Some(stored) = self.store.get(&id).await? else {
                continue;
            };
            if rules::effective_status(stored.status, &stored.request, now)
                != RequestStatus::Pending
            {
                self.store.drop_nudges(&id).await?;
                continue;
            }
            let (escalations, reminders): (Vec<_>, Vec<_>) =
                nudge::due(&stored.request, &sent, now)
                    .into_iter()
                    .partition(|d| d.kind == NudgeKind::Escalation);
            if escalations.is_empty() && reminders.is_empty() {
                // Listed as due with nothing due: set its next time right.
                self.claim_nudges(&id, &stored.request, &mut sent, Vec::new(), None, now)
                    .await?;
                continue;
            }
            let mut req = stored.request;
            // The escalation first: its people are reminded with the others from then on.
            if !escalations.is_empty()
                && let Some(escalated) = nudge::escalated(&req, now)
            {
                let keys = vec![ESCALATION_KEY.to_string()];
                let claimed = self
                    .claim_nudges(&id, &req, &mut sent, keys, Some(&escalated), now)
                    .await?;
                if !claimed {
                    continue; // another sweeper has it
                }
                let added = escalated.escalation.as_ref().map(|e| e.added.clone());
                tracing::info!(request_id = %id, ?added, "request escalated");
                self.metrics.count(metrics::NUDGES, Some("escalation"));
                self.escalated_event(&id, &escalated).await;
                let told = self.notifier.tell(&id, &escalated, Why::Escalated).await;
                self.count_told(&id, told);
                req = escalated;
            }
            if let Some(last) = reminders.last() {
                // Reminders due together (a sweeper that was down) make one mail.
                let keys = reminders.iter().map(|r| r.key.clone()).collect();
                let claimed = self
                    .claim_nudges(&id, &req, &mut sent, keys, None, now)
                    .await?;
                if claimed {
                    let voted: Vec<String> = stored.votes.iter().map(|b| b.voter.clone()).collect();
                    tracing::info!(request_id = %id, reminder = %last.key, "reminding those who may still vote");
                    self.metrics.count(metrics::NUDGES, Some("reminder"));
                    let why = Why::Reminder {
                        key: &last.key,
                        voted: &voted,
                    };
                    let told = self.notifier.tell(&id, &req, why).await;
                    self.count_told(&id, told);
                }
            }
        }
        Ok(())
    }

    /// Claims `keys` of request `id` ([`Store::claim_nudges`]), adding them to `sent`, with
    /// the next due time of `req`'s nudges left after them.
    async fn claim_nudges(
        &self,
        id: &RequestId,
        req: &NewRequest,
        sent: &mut Vec<String>,
        keys: Vec<String>,
        escalated: Option<&NewRequest>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        sent.extend(keys.iter().cloned());
        self.store
            .claim_nudges(NudgeClaim {
                id,
                keys: &keys,
                next_due: nudge::next_due(req, sent),
                escalated,
                now,
            })
            .await
    }

    /// Writes [`metrics::OLDEST_UNDELIVERED_DECISION_AGE`]: 0 when no callback is owed. A
    /// store that cannot say is logged, not a failed pass.
    async fn report_undelivered(&self) {
        match self.store.oldest_owed_callback().await {
            Ok(oldest) => {
                let age = oldest.map_or(0.0, |at| {
                    (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
                });
                self.metrics
                    .put(&[(metrics::OLDEST_UNDELIVERED_DECISION_AGE, age)], None);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not read the oldest undelivered decision");
            }
        }
    }

    /// Closes pending requests whose execution has ended (stopped, failed, timed out),
    /// a batch per pass, oldest first, going on where the last pass stopped.
    pub async fn reconcile(&self) -> Result<(), StoreError> {
        let batch = self.delivery.reconcile_batch;
        let from = self
            .reconcile_from
            .lock()
            .map(|g| g.clone())
            .unwrap_or_default();
        let pending = self
            .store
            .pending_oldest_first(from.as_ref(), batch)
            .await?;
        let next = if pending.len() < batch {
            None
        } else {
            pending.last().map(|w| w.id.clone())
        };
        if let Ok(mut g) = self.reconcile_from.lock() {
            *g = next;
        }
        for Waiting { id, execution_arn } in pending {
            match self.workflow.execution_status(&execution_arn).await {
                Ok(ExecutionState::Running) => {}
                Ok(ExecutionState::Ended(status)) => {
                    let reason = format!(
                        "the execution is {status}: nobody waits for this decision any more"
                    );
                    if self
                        .store
                        .close_pending(&id, RequestStatus::Closed, &reason, None)
                        .await?
                    {
                        tracing::info!(request_id = %id, %status, "the execution ended; request closed");
                        self.metrics.count(metrics::DECISIONS, Some("closed"));
                        self.closed_event(&id, &status).await;
                        self.notifier.request_finished(&id).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(request_id = %id, error = %e, "could not look up the execution; next pass");
                }
            }
        }
        Ok(())
    }
}
