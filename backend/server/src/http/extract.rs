//! Extractors that answer in our error shape: JSON bodies, query strings and the verified
//! caller.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use std::convert::Infallible;
use std::error::Error as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::{AppState, ThroughTrustedProxy};
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

/// `Query<T>` whose rejections are [`ApiError`]s. Unknown parameters are ignored. A handler
/// that answers each wrong value with its own code reads those parameters as text and checks
/// them itself; what is left to refuse here is a query string serde cannot read at all, such
/// as one that gives a parameter twice.
pub struct AppQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for AppQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(AppQuery(v)),
            Err(rejection) => Err(query_error(&rejection)),
        }
    }
}

fn query_error(r: &QueryRejection) -> ApiError {
    let why = r.source().map_or_else(|| r.body_text(), |e| e.to_string());
    ApiError::BadRequest {
        code: "invalid_query",
        message: format!("the query string cannot be read: {why}"),
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
            AuthError::UnverifiedEmail(email) => {
                tracing::info!(%email, "login refused: the provider has not verified the email");
                ApiError::Unauthorized(format!(
                    "your identity provider has not verified your email address {email}, so it cannot name you here; verify it with the provider (or ask its administrator), then log in again"
                ))
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

/// The caller's address, for the audit trail: from the trusted proxy's header when one is
/// configured (`HANKO_CLIENT_IP_HEADER`, e.g. CloudFront's `CloudFront-Viewer-Address`)
/// and, with `HANKO_ORIGIN_SECRET` set, the request carried that secret (so the proxy, not
/// the caller, wrote the header); else the peer of the socket, else the source Lambda saw
/// (function URL / API Gateway).
pub struct SourceIp(pub Option<String>);

impl FromRequestParts<AppState> for SourceIp {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let proxy_proven = state.policy.origin_secret.is_none()
            || parts.extensions.get::<ThroughTrustedProxy>().is_some();
        let header = state
            .policy
            .client_ip_header
            .as_ref()
            .filter(|_| proxy_proven);
        let from_header = header.and_then(|h| {
            let v = parts.headers.get(h)?.to_str().ok()?;
            if h == "cloudfront-viewer-address" {
                viewer_address(v)
            } else {
                address_of(v)
            }
        });
        let from_socket = || {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string())
        };
        let from_lambda = || match parts
            .extensions
            .get::<lambda_http::request::RequestContext>()
        {
            Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => {
                ctx.http.source_ip.clone()
            }
            Some(lambda_http::request::RequestContext::ApiGatewayV1(ctx)) => {
                ctx.identity.source_ip.clone()
            }
            _ => None,
        };
        Ok(SourceIp(
            from_header.or_else(from_socket).or_else(from_lambda),
        ))
    }
}

/// The address in a proxy's header: `203.0.113.9`, `203.0.113.9:4711`, `[2001:db8::1]:443`,
/// or the last entry of a list (the one the trusted proxy added). Anything else is ignored.
fn address_of(v: &str) -> Option<String> {
    let last = v.rsplit(',').next()?.trim();
    if let Ok(ip) = last.parse::<std::net::IpAddr>() {
        return Some(ip.to_string());
    }
    last.parse::<SocketAddr>()
        .ok()
        .map(|sa| sa.ip().to_string())
}

/// CloudFront's `CloudFront-Viewer-Address`: always the address, a colon and the port, with
/// IPv6 unbracketed (`2001:db8::1:443`).
fn viewer_address(v: &str) -> Option<String> {
    let (host, port) = v.trim().rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::IpAddr>()
        .ok()
        .map(|ip| ip.to_string())
}

#[cfg(test)]
mod tests {
    use super::{AppQuery, address_of, viewer_address};
    use axum::extract::FromRequestParts;
    use axum::http::Request;

    #[derive(serde::Deserialize)]
    struct Params {
        status: Option<String>,
    }

    async fn query(uri: &str) -> Result<Option<String>, super::ApiError> {
        let (mut parts, ()) = Request::get(uri).body(()).unwrap().into_parts();
        let AppQuery(p) = AppQuery::<Params>::from_request_parts(&mut parts, &()).await?;
        Ok(p.status)
    }

    #[tokio::test]
    async fn a_query_string_is_read_with_unknown_parameters_ignored() {
        assert_eq!(query("/x").await.unwrap(), None);
        assert_eq!(
            query("/x?status=pending&other=1").await.unwrap().as_deref(),
            Some("pending")
        );
    }

    #[tokio::test]
    async fn a_parameter_given_twice_is_a_400_in_our_error_shape() {
        let e = query("/x?status=a&status=b").await.unwrap_err();
        assert!(
            matches!(
                e,
                super::ApiError::BadRequest {
                    code: "invalid_query",
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(e.to_string().contains("status"), "{e}");
    }

    #[test]
    fn a_proxy_header_gives_the_address_without_its_port() {
        assert_eq!(address_of("203.0.113.9").as_deref(), Some("203.0.113.9"));
        assert_eq!(
            address_of("203.0.113.9:4711").as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            address_of("[2001:db8::1]:443").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(address_of("2001:db8::1").as_deref(), Some("2001:db8::1"));
        assert_eq!(
            address_of("10.0.0.1, 198.51.100.7").as_deref(),
            Some("198.51.100.7")
        );
        assert_eq!(address_of("not an address"), None);
        assert_eq!(address_of("<script>"), None);
    }

    #[test]
    fn cloudfronts_viewer_address_always_ends_in_a_port() {
        assert_eq!(
            viewer_address("203.0.113.9:4711").as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            viewer_address("2001:db8::1:443").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(viewer_address("203.0.113.9"), None);
        assert_eq!(viewer_address("x:1"), None);
    }
}
