//! The one error type of the api. Every error body is
//! `{"error":{"code":"snake_case","message":"words a person can act on"}}`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hanko_api::{ErrorBody, ErrorDetail, VoteBlock};

use crate::service::VoteError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: a query parameter is wrong.
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no token, or a token we do not accept.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: you may not do this.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// 405.
    #[error("this method is not allowed here")]
    MethodNotAllowed,
    /// 409: the request's state does not allow it any more.
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 410: the request is over (expired, or the workflow stopped waiting).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// 413.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 415.
    #[error("send the body as JSON with Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: the body is not what this endpoint takes.
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 401: the login is valid but older than this server accepts for deciding.
    #[error("you logged in too long ago to decide; log in again")]
    LoginTooOld,
    /// 429, with the seconds to wait.
    #[error("too many attempts; wait a minute and try again")]
    TooManyRequests { retry_after: u64 },
    /// 503: the store is throttling; try again after `retry_after` seconds.
    #[error("the server is busy; try again in a moment")]
    Busy { retry_after: u64 },
    /// 503: the request took longer than the server allows.
    #[error("the server took too long to answer; try again")]
    Timeout,
    /// 503: a service we depend on (the identity provider's keys) cannot be reached.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// 500: logged in full, answered with a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError::NotFound {
            code: "not_found",
            message: "there is no approval request with this id".into(),
        }
    }

    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest { code, .. } => (StatusCode::BAD_REQUEST, code),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden { code, .. } => (StatusCode::FORBIDDEN, code),
            ApiError::NotFound { code, .. } => (StatusCode::NOT_FOUND, code),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Conflict { code, .. } => (StatusCode::CONFLICT, code),
            ApiError::Gone { code, .. } => (StatusCode::GONE, code),
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Unprocessable { code, .. } => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::LoginTooOld => (StatusCode::UNAUTHORIZED, "login_too_old"),
            ApiError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            ApiError::Timeout => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
            ApiError::Unavailable { code, .. } => (StatusCode::SERVICE_UNAVAILABLE, code),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "something went wrong on our side; try again, and tell the operators if it persists"
                    .to_string()
            }
            other => other.to_string(),
        };
        let body = ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::TooManyRequests { retry_after } | ApiError::Busy { retry_after } = self {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        }
        resp
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // DynamoDB is over its capacity for a moment: the client may simply try again.
            StoreError::Throttled(detail) => {
                tracing::warn!(%detail, "store throttled");
                ApiError::Busy { retry_after: 1 }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<VoteError> for ApiError {
    fn from(e: VoteError) -> Self {
        match e {
            VoteError::NotFound => ApiError::not_found(),
            VoteError::Blocked(b) => block_error(b),
            VoteError::BadComment(m) => ApiError::Unprocessable {
                code: "invalid_comment",
                message: m,
            },
            VoteError::WorkflowGone(code) => ApiError::Gone {
                code: "workflow_gone",
                message: format!(
                    "your vote was recorded, but the workflow no longer waits for this request ({code}): it was stopped, timed out or already answered"
                ),
            },
            VoteError::LoginTooOld => ApiError::LoginTooOld,
            VoteError::Busy => ApiError::Conflict {
                code: "busy",
                message: "many people are voting on this request right now and your vote was not recorded; try again".into(),
            },
            VoteError::Store(e) => e.into(),
            VoteError::Signing(e) => ApiError::Internal(e),
            VoteError::PasskeyRequired => ApiError::Forbidden {
                code: "passkey_required",
                message: "this vote must be signed with your passkey; register one under Passkeys, then vote again".into(),
            },
            VoteError::PasskeyRefused(m) => ApiError::Forbidden {
                code: "passkey_refused",
                message: m,
            },
            VoteError::BadPasskey(m) => ApiError::Unprocessable {
                code: "invalid_passkey",
                message: m,
            },
        }
    }
}

/// The error for a vote the rules refuse.
pub fn block_error(b: VoteBlock) -> ApiError {
    match b {
        VoteBlock::NotAnApprover => ApiError::Forbidden {
            code: "not_an_approver",
            message: "you are not among the approvers of this request".into(),
        },
        VoteBlock::OwnRequest => ApiError::Forbidden {
            code: "own_request",
            message: "you asked for this approval, so someone else must decide".into(),
        },
        VoteBlock::AlreadyVoted => ApiError::Conflict {
            code: "already_voted",
            message: "you have already voted on this request".into(),
        },
        VoteBlock::Decided => ApiError::Conflict {
            code: "already_decided",
            message: "this request has already been decided".into(),
        },
        VoteBlock::Expired => ApiError::Gone {
            code: "expired",
            message: "the deadline of this request has passed; it can no longer be decided".into(),
        },
        VoteBlock::Closed => ApiError::Gone {
            code: "closed",
            message: "the workflow no longer waits for this request".into(),
        },
        VoteBlock::NotADelegate => ApiError::Forbidden {
            code: "not_a_delegate",
            message: "you may vote for that person only as their delegate, while their delegation to you is in force".into(),
        },
    }
}

#[cfg(test)]
mod store_error_tests {
    use super::*;

    #[test]
    fn a_throttled_store_is_a_503_with_retry_after_and_other_store_errors_a_500() {
        let busy = ApiError::from(StoreError::Throttled(
            "ProvisionedThroughputExceeded".into(),
        ))
        .into_response();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
        let broken = ApiError::from(StoreError::backend("disk")).into_response();
        assert_eq!(broken.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
