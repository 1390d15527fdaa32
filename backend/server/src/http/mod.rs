//! The HTTP api: one axum `Router`, served by tokio locally and by `lambda_http` on AWS.
//! Each feature owns its routes; handlers stay thin and call [`crate::service::Hanko`].

pub mod approvals;
pub mod audit;
pub mod delegation;
pub mod error;
pub mod extract;
pub mod limit;
pub mod meta;
pub mod openapi;
pub mod passkeys;
pub mod session;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::Authenticator;
use crate::auth::dev::DevIdp;
use crate::service::Hanko;
use error::ApiError;

/// Largest request body the api reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The console's Content-Security-Policy: only our own scripts (WASM needs
/// `wasm-unsafe-eval`), no framing, no plugins, nothing from elsewhere.
pub const CONSOLE_CSP: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// [`CONSOLE_CSP`], letting the console also reach the OIDC token endpoint (it exchanges
/// the login code there with `fetch`).
pub fn console_csp(token_url: Option<&url::Url>) -> HeaderValue {
    let origin = token_url.and_then(url_origin);
    match origin {
        Some(o) => HeaderValue::from_str(
            &CONSOLE_CSP.replace("connect-src 'self'", &format!("connect-src 'self' {o}")),
        )
        .unwrap_or(HeaderValue::from_static(CONSOLE_CSP)),
        None => HeaderValue::from_static(CONSOLE_CSP),
    }
}

/// `scheme://host[:port]` of an http(s) URL (the port only when it is not the scheme's
/// default; the host in ASCII, as a CSP source expression wants it).
fn url_origin(url: &url::Url) -> Option<String> {
    let origin = url.origin();
    (matches!(url.scheme(), "https" | "http") && origin.is_tuple())
        .then(|| origin.ascii_serialization())
}

#[derive(Clone)]
pub struct AppState {
    pub hanko: Arc<Hanko>,
    pub auth: Arc<Authenticator>,
    pub dev_idp: Option<Arc<DevIdp>>,
    pub policy: Arc<Policy>,
}

/// The api's rules that configuration can change.
pub struct Policy {
    /// Members of this group may export the audit trail.
    pub auditor_group: String,
    /// A login older than this may read but not decide. `None`: any valid login decides.
    pub max_auth_age: Option<chrono::Duration>,
    /// Dev login attempts per minute, per source address and email together and per
    /// address (see [`limit::RateLimiter::check_login`]).
    pub login_limiter: limit::RateLimiter,
    /// Longest time one api request may take before it is answered with a 503.
    pub request_timeout: Duration,
    /// The header a trusted proxy puts the caller's address in (behind CloudFront:
    /// `cloudfront-viewer-address`). `None`: the socket's peer, or Lambda's source.
    pub client_ip_header: Option<HeaderName>,
    /// The secret the trusted proxy sends in [`ORIGIN_SECRET_HEADER`] (`HANKO_ORIGIN_SECRET`).
    /// When set, a request without it is refused (403 `forbidden_origin`), and
    /// `client_ip_header` is believed only on a request that carried it.
    pub origin_secret: Option<secrecy::SecretString>,
}

impl Policy {
    /// Whether `caller` is in the auditor group: reads every request, exports the trail.
    pub fn is_auditor(&self, caller: &crate::domain::Caller) -> bool {
        caller.groups.contains(&self.auditor_group)
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            auditor_group: "auditors".into(),
            max_auth_age: None,
            login_limiter: limit::RateLimiter::new(10),
            request_timeout: Duration::from_secs(15),
            client_ip_header: None,
            origin_secret: None,
        }
    }
}

/// The header in which the trusted proxy (CloudFront's origin custom header) sends
/// `HANKO_ORIGIN_SECRET`.
pub const ORIGIN_SECRET_HEADER: &str = "x-hanko-origin-secret";

/// Put on a request that carried the origin secret: it came through the trusted proxy, so
/// the proxy's address header ([`Policy::client_ip_header`]) may be believed.
#[derive(Debug, Clone, Copy)]
pub struct ThroughTrustedProxy;

/// With an origin secret configured, only requests that carry it get through; the header
/// is taken off the request before anything else sees it. The comparison takes the same
/// time wherever the first difference is.
async fn require_origin_secret(
    secret: Option<Arc<secrecy::SecretString>>,
    mut req: Request,
    next: Next,
) -> axum::response::Response {
    use secrecy::ExposeSecret;
    let Some(secret) = secret else {
        return next.run(req).await;
    };
    let sent = req.headers_mut().remove(ORIGIN_SECRET_HEADER);
    let matches = sent.is_some_and(|v| {
        !v.is_empty()
            && aws_lc_rs::constant_time::verify_slices_are_equal(
                v.as_bytes(),
                secret.expose_secret().as_bytes(),
            )
            .is_ok()
    });
    if !matches {
        tracing::debug!(path = %req.uri().path(), "refused: no origin secret");
        return ApiError::Forbidden {
            code: "forbidden_origin",
            message:
                "this api answers only through its console's address (CloudFront); call it there"
                    .into(),
        }
        .into_response();
    }
    req.extensions_mut().insert(ThroughTrustedProxy);
    next.run(req).await
}

/// The whole api, plus the built console when `console_dir` is given.
pub fn router(state: AppState, console_dir: Option<PathBuf>) -> Router {
    let timeout = state.policy.request_timeout;
    let csp = console_csp(state.auth.oidc_client().map(|c| &c.token_url));
    let origin_secret = state.policy.origin_secret.clone().map(Arc::new);
    let metrics = state.hanko.metrics.clone();
    let api = Router::new()
        .merge(meta::router())
        .merge(session::router())
        .merge(approvals::router())
        .merge(audit::router())
        .merge(passkeys::router())
        .merge(delegation::router())
        .merge(openapi::router())
        .fallback(|| async {
            ApiError::NotFound {
                code: "no_such_route",
                message: "there is no such api route".into(),
            }
        })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| async move {
                // A decision is written in one store transaction and delivered by the
                // sweeper if this answer is cut short, so nothing is lost by giving up here.
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(resp) => resp,
                    Err(_) => ApiError::Timeout.into_response(),
                }
            },
        ));

    let mut app = Router::new()
        .nest("/api", api)
        .merge(meta::well_known())
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    if let Some(dir) = console_dir {
        app = app.fallback_service(console_files(dir));
    }
    // Outside every route, so no path (health, the JWKS, the console) answers a caller
    // who went around the trusted proxy.
    app.layer(axum::middleware::from_fn(
        move |req: Request, next: Next| require_origin_secret(origin_secret.clone(), req, next),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::CONTENT_SECURITY_POLICY,
        csp,
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::X_FRAME_OPTIONS,
        HeaderValue::from_static("DENY"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    ))
    .layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
    .layer(SetResponseHeaderLayer::overriding(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    ))
    // Outermost but for the trace: every answer is counted, the origin secret's 403 too.
    .layer(axum::middleware::from_fn(
        move |req: Request, next: Next| {
            crate::metrics::count_api_answers(metrics.clone(), req, next)
        },
    ))
    .layer(TraceLayer::new_for_http())
}

/// The built console. Every path that is not the api is the console; unknown paths get
/// index.html so that deep links like /approvals/{id} work on a reload. The build writes a
/// brotli and a gzip copy beside each file (scripts/console-post-build.mjs), sent to browsers
/// that accept them. Files with a content hash in their name never change and are cached for
/// a year; index.html and boot.js are checked again on every load (as infra/deploy.sh sets
/// them on S3).
fn console_files(dir: PathBuf) -> Router {
    let index = ServeFile::new(dir.join("index.html"))
        .precompressed_br()
        .precompressed_gzip();
    let files = ServeDir::new(dir)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(index);
    Router::new()
        .fallback_service(files)
        .layer(axum::middleware::from_fn(console_cache_headers))
}

/// `Cache-Control` and `Vary` of a console file (see [`console_files`]).
async fn console_cache_headers(req: Request, next: Next) -> axum::response::Response {
    let hashed = has_content_hash(req.uri().path());
    let mut resp = next.run(req).await;
    // A hashed name that is not there is answered with index.html: not to be kept.
    let html = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if hashed && !html {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    resp
}

/// Whether a path's file name carries Trunk's content hash: `name-0123456789abcdef.ext` or
/// `name-0123456789abcdef_bg.wasm`.
fn has_content_hash(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    !ext.is_empty()
        && stem.rsplit_once('-').is_some_and(|(_, h)| {
            h.len() == 16 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_names_with_a_content_hash_are_kept_for_a_year() {
        for hashed in [
            "/hanko-console-2996cdd01659f848.js",
            "/hanko-console-2996cdd01659f848_bg.wasm",
            "/main-9da0c79ef2ca9117.css",
            "/favicon-8cb90e375e85bd1c.svg",
        ] {
            assert!(has_content_hash(hashed), "{hashed}");
        }
        for plain in [
            "/",
            "/index.html",
            "/boot.js",
            "/approvals/0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
            "/main-9DA0C79EF2CA9117.css",
            "/main-9da0c79ef2ca911.css",
            "/x-9da0c79ef2ca9117",
        ] {
            assert!(!has_content_hash(plain), "{plain}");
        }
    }

    #[test]
    fn the_csp_lets_the_console_reach_the_token_endpoints_origin_only() {
        assert_eq!(console_csp(None), CONSOLE_CSP);
        for (token_url, origin) in [
            (
                "https://auth.example/oauth2/token?x=1",
                "https://auth.example",
            ),
            ("http://127.0.0.1:9000/token", "http://127.0.0.1:9000"),
            ("http://[::1]:9000/token", "http://[::1]:9000"),
            ("https://Auth.Example:443/token", "https://auth.example"),
            (
                "https://user:pw@auth.example:8443/t",
                "https://auth.example:8443",
            ),
        ] {
            let url = url::Url::parse(token_url).unwrap();
            assert_eq!(
                console_csp(Some(&url)),
                CONSOLE_CSP.replace(
                    "connect-src 'self'",
                    &format!("connect-src 'self' {origin}")
                ),
                "{token_url}"
            );
        }
        let odd = url::Url::parse("file:///token").unwrap();
        assert_eq!(console_csp(Some(&odd)), CONSOLE_CSP);
    }
}
