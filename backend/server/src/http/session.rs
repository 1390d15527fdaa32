//! Logging in with the dev identity provider, and who am I.

use axum::extract::State;
use axum::routing::{get, post};
use axum::{Json, Router};
use hanko_api::{ErrorBody, LoginRequest, LoginResponse, Me};

use super::AppState;
use super::error::ApiError;
use super::extract::{AppJson, SourceIp};
use crate::domain::Caller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dev/login", post(dev_login))
        .route("/me", get(me))
}

/// Logs in with the dev identity provider (local only); answers a short-lived bearer token.
#[utoipa::path(post, path = "/api/dev/login", tag = "session",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "logged in", body = LoginResponse),
        (status = 401, description = "`unauthorized`: wrong email or password", body = ErrorBody),
        (status = 404, description = "`dev_login_off`: the dev login is off on this server", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: the body is not sent as JSON", body = ErrorBody),
        (status = 422, description = "`invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 429, description = "`too_many_requests`: too many attempts from this address, or from it for this email; see `Retry-After`", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn dev_login(
    State(s): State<AppState>,
    SourceIp(source_ip): SourceIp,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let idp = s.dev_idp.clone().ok_or_else(|| ApiError::NotFound {
        code: "dev_login_off",
        message: "the dev login is off on this server; log in with its identity provider".into(),
    })?;
    // Counted before the password is checked, so guessing is slow whether or not it works;
    // by address and email together, and by address: a stranger's attempts at an email
    // do not lock its owner out.
    let email: String = body.email.trim().chars().take(254).collect();
    if let Err(retry_after) = s
        .policy
        .login_limiter
        .check_login(source_ip.as_deref(), &email)
    {
        tracing::warn!(
            source_ip = source_ip.as_deref().unwrap_or("-"),
            "dev login rate limited"
        );
        return Err(ApiError::TooManyRequests { retry_after });
    }
    if body.email.len() > 254 || body.password.len() > 1024 {
        return Err(ApiError::Unauthorized("wrong email or password".into()));
    }
    // argon2 is slow on purpose and holds 19 MiB while it runs: off the async workers, and
    // no more checks at once than there are cores (the others wait their turn).
    let issued = idp
        .login_checked(body.email, body.password)
        .await
        .map_err(|e| ApiError::Internal(format!("login task: {e}")))?;
    match issued {
        Some((token, expires_at)) => Ok(Json(LoginResponse { token, expires_at })),
        None => Err(ApiError::Unauthorized("wrong email or password".into())),
    }
}

/// Who the verified token says the caller is.
#[utoipa::path(get, path = "/api/me", tag = "session", security(("bearer" = [])),
    responses(
        (status = 200, description = "the caller", body = Me),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
    ))]
pub(crate) async fn me(State(s): State<AppState>, caller: Caller) -> Json<Me> {
    let can_audit = s.policy.is_auditor(&caller);
    Json(Me {
        email: caller.email,
        name: caller.name,
        groups: caller.groups,
        can_audit,
    })
}
