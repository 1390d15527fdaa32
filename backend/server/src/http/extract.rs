//! Extractors that answer in our error shape: JSON bodies and the verified caller.

use axum::extract::rejection::JsonRejection;
use std::convert::Infallible;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::AppState;
use super::error::ApiError;
use crate::auth::AuthError;
use crate::domain::Caller;

/// `Json<T>` whose rejections are [`ApiError`]s.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(rejection) => Err(json_error(rejection)),
        }
    }
}

fn json_error(r: JsonRejection) -> ApiError {
    match r {
        JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType,
        JsonRejection::BytesRejection(b) if b.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        JsonRejection::JsonDataError(e) => ApiError::Unprocessable {
            code: "invalid_body",
            message: format!(
                "the body does not have the expected fields: {}",
                e.body_text()
            ),
        },
        JsonRejection::JsonSyntaxError(e) => ApiError::Unprocessable {
            code: "invalid_json",
            message: format!("the body is not valid JSON: {}", e.body_text()),
        },
        other => ApiError::Unprocessable {
            code: "invalid_body",
            message: other.body_text(),
        },
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized("log in first: send Authorization: Bearer <token>".into())
            })?;
        state.auth.verify(token).await.map_err(|e| match e {
            AuthError::KeysUnavailable(detail) => {
                tracing::warn!(%detail, "cannot check a login: identity provider keys unavailable");
                ApiError::Unavailable {
                    code: "identity_provider_unavailable",
                    message: "logins cannot be checked right now because the identity provider's keys could not be fetched; try again in a minute".into(),
                }
            }
            e => {
                tracing::debug!(error = %e, "token refused");
                ApiError::Unauthorized(
                    "your login is not valid or has expired; log in again".into(),
                )
            }
        })
    }
}

/// The peer address, when the server knows it (not on Lambda).
pub struct SourceIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for SourceIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(SourceIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string()),
        ))
    }
}
