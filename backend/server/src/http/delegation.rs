//! `/api/me/delegation`: "while I am away, carol decides for me". The caller sets, reads
//! and ends their own delegation; who they are comes only from their verified token.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use hanko_api::{DelegationStatus, ErrorBody, SetDelegation};

use super::AppState;
use super::error::ApiError;
use super::extract::AppJson;
use crate::domain::{Caller, Delegation};

pub fn router() -> Router<AppState> {
    Router::new().route("/me/delegation", get(read).put(set).delete(end))
}

/// The delegations to `caller` in force at `now`: whose seats they may vote in.
pub(crate) async fn standing_in_for(
    s: &AppState,
    caller: &Caller,
    now: DateTime<Utc>,
) -> Result<Vec<Delegation>, ApiError> {
    let mut all = s.hanko.store.delegations_to(&caller.email, now).await?;
    all.retain(|d| d.active_at(now));
    Ok(all)
}

async fn status_of(s: &AppState, caller: &Caller) -> Result<DelegationStatus, ApiError> {
    let now = Utc::now();
    let store = &s.hanko.store;
    let mine = store
        .delegation_of(&caller.email)
        .await?
        .filter(|d| d.until > now);
    let theirs = store.delegations_to(&caller.email, now).await?;
    Ok(DelegationStatus {
        delegation: mine.map(|d| d.info(now)),
        standing_in_for: theirs.iter().map(|d| d.info(now)).collect(),
    })
}

/// The caller's delegation (unless none is set or it has ended), and those for whom the
/// caller stands in.
#[utoipa::path(get, path = "/api/me/delegation", tag = "delegation", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller's delegation and those they stand in for", body = DelegationStatus),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn read(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<DelegationStatus>, ApiError> {
    Ok(Json(status_of(&s, &caller).await?))
}

/// Sets the caller's delegation, replacing the one they had: from `from` until `until`
/// (at most 90 days), `delegate` may see and vote in the caller's seat on the requests the
/// caller approves, by email or by one of the groups in the caller's token now.
#[utoipa::path(put, path = "/api/me/delegation", tag = "delegation", security(("bearer" = [])),
    request_body = SetDelegation,
    responses(
        (status = 200, description = "set; the caller's delegation as it now stands", body = DelegationStatus),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not sent as JSON", body = ErrorBody),
        (status = 422, description = "`invalid_json`, `invalid_body`; `invalid_delegate` (not an email address), `self_delegation`, `invalid_until` (not after `from`, or not in the future), `too_long` (more than 90 days), `cannot_delegate` (the caller's login has no plain email address)", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn set(
    State(s): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<SetDelegation>,
) -> Result<Json<DelegationStatus>, ApiError> {
    let d = Delegation::parse(&caller, &body, Utc::now()).map_err(|p| ApiError::Unprocessable {
        code: p.code,
        message: p.message,
    })?;
    s.hanko.store.put_delegation(&d).await?;
    tracing::info!(delegator = %d.delegator, delegate = %d.delegate, from = %d.from, until = %d.until, "delegation set");
    Ok(Json(status_of(&s, &caller).await?))
}

/// Ends the caller's delegation at once (nothing happens when there is none).
#[utoipa::path(delete, path = "/api/me/delegation", tag = "delegation", security(("bearer" = [])),
    responses(
        (status = 204, description = "the caller has no delegation any more"),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn end(State(s): State<AppState>, caller: Caller) -> Result<StatusCode, ApiError> {
    if s.hanko.store.delete_delegation(&caller.email).await? {
        tracing::info!(delegator = %caller.email, "delegation ended");
    }
    Ok(StatusCode::NO_CONTENT)
}
