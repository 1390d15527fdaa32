//! `/api/approvals`: list, read, decide.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::http::header::USER_AGENT;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use hanko_api::{
    Approval, ApprovalPage, ApprovalSummary, DecisionInfo, DecisionRequest, Delivery, ErrorBody,
    RequestStatus, Viewer, Vote, VoteBlock, VoteChoice,
};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, AppQuery, SourceIp};
use crate::domain::rules;
use crate::domain::{AppliedPolicy, Caller, Delegation, RequestId};
use crate::service::VoteError;
use crate::store::{ListQuery, Person, RequestSummary, StoredRequest};

pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/approvals", get(list))
        .route("/approvals/{id}", get(read))
        .route("/approvals/{id}/decision", post(decide))
}

fn bad_query(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code,
        message: message.into(),
    }
}

/// The request a path names: what is not an id Hanko gives out names none, and is answered
/// as a request that does not exist.
pub(crate) fn request_id(raw: &str) -> Result<RequestId, ApiError> {
    RequestId::parse(raw).map_err(|_| ApiError::not_found())
}

/// The cursor is the id of the last request of the page: the next page starts below it.
fn encode_cursor(id: &RequestId) -> String {
    id.to_string()
}

/// Any spelling of a UUID is taken, as the id it spells.
fn decode_cursor(c: &str) -> Result<RequestId, ApiError> {
    uuid::Uuid::parse_str(c).map(RequestId::from).map_err(|_| {
        bad_query(
            "invalid_cursor",
            "cursor is not one this api gave out; start again without it",
        )
    })
}

/// What the list of `caller` is limited to: `None` for an auditor (every request), else
/// the requests they approve (by email or group), asked for, or approve as a delegate.
fn sees_only_some(s: &AppState, caller: &Caller, person: &Person) -> Option<Person> {
    (!s.policy.is_auditor(caller)).then(|| person.clone())
}

/// Whether `caller` may see the request `r`: one of its approvers (by email or group), its
/// requester, or an auditor. Anyone else is answered as if it did not exist.
pub(crate) fn may_see(s: &AppState, caller: &Caller, r: &StoredRequest) -> bool {
    let q = &r.request;
    s.policy.is_auditor(caller)
        || q.is_requested_by(&caller.email)
        || q.approvers.iter().any(|p| caller.is(p))
}

/// [`may_see`], or a delegate of one of its approvers while the delegation is in force.
fn may_see_as_delegate(
    s: &AppState,
    caller: &Caller,
    standing_in_for: &[Delegation],
    r: &StoredRequest,
) -> bool {
    may_see(s, caller, r)
        || standing_in_for
            .iter()
            .any(|d| r.request.approvers.iter().any(|p| d.stands_for(p)))
}

/// The query string of the list. The values are read as text and checked by the methods
/// below, so that a wrong one is answered with its own code (`invalid_status`, ...).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// only requests in this status (default `all`)
    #[param(value_type = Option<super::openapi::StatusFilter>)]
    status: Option<String>,
    /// `true`: only requests the caller may still vote on
    #[param(value_type = Option<bool>)]
    mine: Option<String>,
    /// page size, 1 to 200 (default 50)
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// `nextCursor` of the previous page
    #[param(value_type = Option<uuid::Uuid>)]
    cursor: Option<String>,
}

impl ListParams {
    fn status(&self) -> Result<Option<RequestStatus>, ApiError> {
        match self.status.as_deref() {
            None | Some("all") => Ok(None),
            Some(st) => RequestStatus::parse(st).map(Some).ok_or_else(|| {
                bad_query(
                    "invalid_status",
                    "status must be one of pending, approved, rejected, expired, closed, all",
                )
            }),
        }
    }

    fn mine(&self) -> Result<bool, ApiError> {
        match self.mine.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(bad_query("invalid_mine", "mine must be true or false")),
        }
    }

    fn limit(&self) -> Result<usize, ApiError> {
        let Some(l) = &self.limit else {
            return Ok(DEFAULT_PAGE);
        };
        l.parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                bad_query(
                    "invalid_limit",
                    format!("limit must be a whole number from 1 to {MAX_PAGE}"),
                )
            })
    }

    fn after(&self) -> Result<Option<RequestId>, ApiError> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }
}

/// Lists approval requests, newest first, a page at a time: those the caller approves (by
/// email or group) or asked for, and those approved by someone whose delegation to the
/// caller is in force; every request for an auditor.
#[utoipa::path(get, path = "/api/approvals", tag = "approvals", security(("bearer" = [])),
    params(ListParams),
    responses(
        (status = 200, description = "one page", body = ApprovalPage),
        (status = 400, description = "a query parameter is wrong: `invalid_status`, `invalid_mine`, `invalid_limit`, `invalid_cursor`; `invalid_query`: one is given twice", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(s): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<ListParams>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    let person = Person {
        standing_in_for: super::delegation::standing_in_for(&s, &caller, now).await?,
        ..Person::from(&caller)
    };
    let q = ListQuery {
        status: params.status()?,
        votable_by: params.mine()?.then(|| person.clone()),
        visible_to: sees_only_some(&s, &caller, &person),
        limit: params.limit()?,
        after: params.after()?,
        now,
    };
    let crate::store::Page { items, more } = s.hanko.store.list_summaries(&q).await?;
    let next_cursor = if more {
        items.last().map(|r| encode_cursor(&r.id))
    } else {
        None
    };
    let page = ApprovalPage {
        items: items.into_iter().map(|r| summary(r, q.now)).collect(),
        next_cursor,
    };
    Ok(Json(page).into_response())
}

/// One request: everything a person needs to decide, and whether the caller may vote (in
/// their own seat, and in whose as their delegate). Only for its approvers, their
/// delegates while the delegation is in force, its requester and auditors.
#[utoipa::path(get, path = "/api/approvals/{id}", tag = "approvals", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the request", body = Approval),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 404, description = "`not_found`: no request has this id, or none the caller may see (an approver, the requester or an auditor)", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Approval>, ApiError> {
    let id = request_id(&id)?;
    let delegations = super::delegation::standing_in_for(&s, &caller, Utc::now()).await?;
    let r = s
        .hanko
        .store
        .get(&id)
        .await?
        .filter(|r| may_see_as_delegate(&s, &caller, &delegations, r))
        .ok_or_else(ApiError::not_found)?;
    let passkey_required = s.hanko.passkey_required(&r);
    Ok(Json(detail(&r, &caller, &delegations, passkey_required)))
}

/// Votes on a request: approve, or reject with a comment; with `onBehalfOf`, in the seat
/// of someone whose delegation to the caller is in force. The vote that completes the
/// quorum (or the first reject) decides; the decision is signed and sent to the workflow.
#[utoipa::path(post, path = "/api/approvals/{id}/decision", tag = "approvals", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "the request's id")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "the vote is recorded; the updated request", body = Approval),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 403, description = "`not_an_approver` (an auditor, who sees the request), `own_request` (for a delegate: a request she or the person she votes for asked for), `not_a_delegate` (`onBehalfOf` names someone whose delegation to the caller is not in force; answered 404 when the caller may not see the request), `passkey_required` (the vote must carry the voter's passkey signature), `passkey_refused` (it is not an assertion or does not hold: another vote's challenge, a used or expired nonce, a removed passkey, another origin; nothing was recorded)", body = ErrorBody),
        (status = 404, description = "`not_found`: no request has this id, or none the caller may see", body = ErrorBody),
        (status = 409, description = "`already_voted` (in this seat: by the person or their delegate), `already_decided`, `busy` (try again)", body = ErrorBody),
        (status = 410, description = "`expired`, `closed`, `workflow_gone`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not sent as JSON", body = ErrorBody),
        (status = 422, description = "`invalid_json`, `invalid_body`, `invalid_comment` (a reject needs a comment)", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn decide(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    SourceIp(source_ip): SourceIp,
    headers: HeaderMap,
    AppJson(body): AppJson<DecisionRequest>,
) -> Result<Json<Approval>, ApiError> {
    let id = request_id(&id)?;
    // A valid but old login may read; deciding needs a fresh one.
    if let Some(max) = s.policy.max_auth_age
        && !caller.logged_in_within(max.num_seconds(), Utc::now())
    {
        return Err(ApiError::LoginTooOld);
    }
    let user_agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(512).collect());
    let voted = s
        .hanko
        .vote_signed(
            &id,
            &caller,
            body.decision,
            body.comment.as_deref(),
            body.on_behalf_of.as_deref(),
            body.passkey.as_ref(),
            source_ip,
            user_agent,
        )
        .await;
    let delegations = super::delegation::standing_in_for(&s, &caller, Utc::now()).await?;
    match voted {
        Ok(r) => {
            let passkey_required = s.hanko.passkey_required(&r);
            Ok(Json(detail(&r, &caller, &delegations, passkey_required)))
        }
        // Someone who may not see the request is not told that it exists.
        Err(VoteError::Blocked(block @ (VoteBlock::NotAnApprover | VoteBlock::NotADelegate))) => {
            let visible = s
                .hanko
                .store
                .get(&id)
                .await?
                .is_some_and(|r| may_see_as_delegate(&s, &caller, &delegations, &r));
            Err(if visible {
                VoteError::Blocked(block).into()
            } else {
                ApiError::not_found()
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn votes_of(r: &StoredRequest) -> Vec<Vote> {
    r.votes
        .iter()
        .map(|b| Vote {
            approver: b.voter.clone(),
            name: b.name.clone(),
            decision: b.choice,
            comment: b.comment.clone(),
            decided_at: b.decided_at,
            on_behalf_of: b.on_behalf_of.clone(),
        })
        .collect()
}

pub fn summary(r: RequestSummary, now: chrono::DateTime<Utc>) -> ApprovalSummary {
    let decided_by = match &r.decision {
        Some((outcome, _)) => {
            let choice = match outcome {
                hanko_api::Outcome::Approved => VoteChoice::Approve,
                hanko_api::Outcome::Rejected => VoteChoice::Reject,
            };
            r.votes
                .iter()
                .filter(|v| v.choice == choice)
                .map(|v| v.voter.clone())
                .collect()
        }
        None => Vec::new(),
    };
    ApprovalSummary {
        status: rules::status_at(r.status, r.expires_at, now),
        created_at: r.created_at,
        expires_at: r.expires_at,
        required_approvals: r.required_approvals,
        approvals_so_far: r
            .votes
            .iter()
            .filter(|v| v.choice == VoteChoice::Approve)
            .count() as u32,
        decided_at: r.decision.as_ref().map(|(_, at)| *at),
        decided_by,
        id: r.id.to_string(),
        title: r.title,
        requested_by: r.requested_by.map(String::from),
        state_machine_name: r.state_machine_name,
        execution_name: r.execution_name,
    }
}

/// The request as `caller` sees it; `standing_in_for`: the delegations to them in force,
/// whose seats they may vote in besides their own; `passkey_required`: whether a vote on
/// it must be signed ([`crate::service::Hanko::passkey_required`]).
pub fn detail(
    r: &StoredRequest,
    caller: &Caller,
    standing_in_for: &[Delegation],
    passkey_required: bool,
) -> Approval {
    let now = Utc::now();
    let q = &r.request;
    let block = rules::vote_block(q, r.status, &r.votes, caller, now);
    let on_behalf_of = standing_in_for
        .iter()
        .filter(|d| rules::delegated_vote_block(q, r.status, &r.votes, caller, d, now).is_none())
        .map(|d| d.delegator.clone())
        .collect();
    Approval {
        id: r.id.to_string(),
        title: q.title.clone(),
        description: q.description.clone(),
        details: q.details.clone(),
        approvers: q.approvers.iter().map(ToString::to_string).collect(),
        required_approvals: q.required_approvals,
        allow_self_approval: q.allow_self_approval,
        requested_by: q.requested_by.as_ref().map(ToString::to_string),
        status: rules::effective_status(r.status, q, now),
        created_at: q.created_at,
        expires_at: q.expires_at,
        execution_arn: q.execution_arn.clone(),
        execution_name: q.execution_name.clone(),
        state_machine_arn: q.state_machine_arn.clone(),
        state_machine_name: q.state_machine_name.clone(),
        state_name: q.state_name.clone(),
        region: q.region(),
        votes: votes_of(r),
        decision: r.decision.as_ref().map(|d| DecisionInfo {
            outcome: d.outcome,
            decided_at: d.decided_at,
            signature: d.signature.clone(),
            delivery: r.delivery.unwrap_or(Delivery::Pending),
        }),
        closed_reason: r.closed_reason.clone(),
        policy: q.policy.as_ref().map(AppliedPolicy::reference),
        reminders_at: crate::domain::nudge::reminder_times(q),
        escalation: crate::domain::nudge::info(q),
        viewer: Viewer {
            can_vote: block.is_none(),
            reason: block,
            on_behalf_of,
        },
        passkey_required,
    }
}
