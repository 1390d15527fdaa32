//! `/api/passkeys`: the caller's passkeys (list, register, remove), and the challenge a
//! passkey signs for a vote (`/api/approvals/{id}/passkey-challenge`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use hanko_api::{
    ErrorBody, PasskeyChallenge, PasskeyChallengeRequest, PasskeyInfo, PasskeyList,
    PasskeyRegistration, PasskeyRegistrationOptions, VoteBlock,
};

use super::AppState;
use super::approvals::{may_see, request_id};
use super::error::ApiError;
use super::extract::AppJson;
use crate::domain::Caller;
use crate::service::VoteError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/passkeys", get(list).post(register))
        .route("/passkeys/registration", post(registration))
        .route("/passkeys/{id}", delete(remove))
        .route("/approvals/{id}/passkey-challenge", post(challenge))
}

/// The caller's passkeys.
#[utoipa::path(get, path = "/api/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller's passkeys, oldest first", body = PasskeyList),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<PasskeyList>, ApiError> {
    Ok(Json(PasskeyList {
        items: s.hanko.passkeys_of(&caller).await?,
        rp_id: s.hanko.passkeys.rp_id().to_string(),
    }))
}

/// Starts registering a passkey: the options for `navigator.credentials.create()`. Needs a
/// login at most ten minutes old.
#[utoipa::path(post, path = "/api/passkeys/registration", tag = "passkeys", security(("bearer" = [])),
    responses(
        (status = 200, description = "the options, and the registration's single-use id", body = PasskeyRegistrationOptions),
        (status = 401, description = "`unauthorized`; `login_too_old`: log in again to register a passkey", body = ErrorBody),
    ))]
pub(crate) async fn registration(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<Json<PasskeyRegistrationOptions>, ApiError> {
    Ok(Json(s.hanko.passkey_registration(&caller).await?))
}

/// Keeps the passkey `navigator.credentials.create()` made.
#[utoipa::path(post, path = "/api/passkeys", tag = "passkeys", security(("bearer" = [])),
    request_body = PasskeyRegistration,
    responses(
        (status = 201, description = "registered", body = PasskeyInfo),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`passkey_refused`: the registration is unknown, used or expired, or the credential is not one or does not hold (another origin, no user verification)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not sent as JSON", body = ErrorBody),
        (status = 422, description = "`invalid_json`, `invalid_body`, `invalid_passkey` (no name)", body = ErrorBody),
    ))]
pub(crate) async fn register(
    State(s): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<PasskeyRegistration>,
) -> Result<(StatusCode, Json<PasskeyInfo>), ApiError> {
    let info = s.hanko.passkey_register(&caller, body).await?;
    Ok((StatusCode::CREATED, Json(info)))
}

/// Removes one of the caller's passkeys.
#[utoipa::path(delete, path = "/api/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = String, Path, description = "the passkey's credential id (base64url)")),
    responses(
        (status = 204, description = "removed"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 404, description = "`no_such_passkey`", body = ErrorBody),
    ))]
pub(crate) async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if s.hanko.passkey_remove(&caller, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound {
            code: "no_such_passkey",
            message: "you have no passkey with this id".into(),
        })
    }
}

/// The challenge for the caller's vote: the SHA-256 of the vote's canonical form with a
/// single-use nonce, and the options for `navigator.credentials.get()`.
#[utoipa::path(post, path = "/api/approvals/{id}/passkey-challenge", tag = "passkeys", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "the request's id")),
    request_body = PasskeyChallengeRequest,
    responses(
        (status = 200, description = "what to sign", body = PasskeyChallenge),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`not_an_approver`, `own_request`; `passkey_required`: the caller has no passkey yet", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`already_voted`, `already_decided`", body = ErrorBody),
        (status = 410, description = "`expired`, `closed`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not sent as JSON", body = ErrorBody),
        (status = 422, description = "`invalid_json`, `invalid_body`, `invalid_comment`", body = ErrorBody),
    ))]
pub(crate) async fn challenge(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    AppJson(body): AppJson<PasskeyChallengeRequest>,
) -> Result<Json<PasskeyChallenge>, ApiError> {
    let id = request_id(&id)?;
    match s
        .hanko
        .passkey_challenge(
            &id,
            &caller,
            body.decision,
            body.comment.as_deref(),
            body.on_behalf_of.as_deref(),
        )
        .await
    {
        Ok(c) => Ok(Json(c)),
        // Someone who may not see the request is not told that it exists.
        Err(VoteError::Blocked(VoteBlock::NotAnApprover)) => {
            let visible = s
                .hanko
                .store
                .get(&id)
                .await?
                .is_some_and(|r| may_see(&s, &caller, &r));
            Err(if visible {
                VoteError::Blocked(VoteBlock::NotAnApprover).into()
            } else {
                ApiError::not_found()
            })
        }
        Err(e) => Err(e.into()),
    }
}
