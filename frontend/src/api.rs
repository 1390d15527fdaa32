//! The Hanko api, one function per endpoint, each returning `Result<_, ApiError>`.
//! Every call but login carries the session's bearer token; a 401 ends the session, and
//! the app then sends the person to the login page, keeping where they were.

use hanko_api::{
    Approval, ApprovalPage, ConsoleConfig, ErrorBody, LoginResponse, Me, RequestStatus, VoteChoice,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestInit, Response};

use crate::auth;
use crate::i18n;
use crate::json::{self, FromJson};

/// Items per page of a list.
pub const PAGE_SIZE: u32 = 20;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 401: not logged in, or the session ended.
    Unauthorized(String),
    /// Any other error answer, with the api's own code and words.
    Status {
        status: u16,
        code: String,
        message: String,
    },
    /// The server could not be reached.
    Network,
    /// The answer was not what the contract says.
    Decode,
}

impl ApiError {
    /// Words for a person (reactive: follows the language).
    pub fn message(&self) -> String {
        let t = i18n::t();
        match self {
            ApiError::Unauthorized(_) => t.err_session.into(),
            ApiError::Status { message, .. } => message.clone(),
            ApiError::Network => t.err_network.into(),
            ApiError::Decode => t.err_decode.into(),
        }
    }

    /// The request changed since the page loaded (decided, expired, closed, already voted):
    /// loading it again shows where it stands.
    pub fn changed_meanwhile(&self) -> bool {
        matches!(
            self,
            ApiError::Status {
                status: 403 | 409 | 410,
                ..
            }
        )
    }

    /// The api's error code, when there is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Status { code, .. } => Some(code),
            ApiError::Unauthorized(_) => Some("unauthorized"),
            _ => None,
        }
    }
}

/// Sends a request: a POST of `body` when there is one, else a GET. `None` when the server
/// could not be reached. (web-sys's fetch by hand: gloo-net's request builder cost more.)
pub async fn fetch(url: &str, headers: &[(&str, &str)], body: Option<String>) -> Option<Response> {
    let init = RequestInit::new();
    let h = Headers::new().ok()?;
    for (name, value) in headers {
        h.set(name, value).ok()?;
    }
    init.set_headers(&h);
    if let Some(body) = body {
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&body));
    }
    let request = Request::new_with_str_and_init(url, &init).ok()?;
    let sent = JsFuture::from(window().fetch_with_request(&request)).await;
    sent.ok()?.dyn_into().ok()
}

/// The text of an answer's body.
pub async fn text(resp: &Response) -> Option<String> {
    JsFuture::from(resp.text().ok()?).await.ok()?.as_string()
}

async fn error_from(resp: Response) -> ApiError {
    let status = resp.status();
    let body = text(&resp).await.and_then(|t| ErrorBody::parse(&t));
    let (code, message) = match body {
        Some(b) => (b.error.code, b.error.message),
        None => (
            format!("http_{status}"),
            format!("{} ({status})", resp.status_text()),
        ),
    };
    if status == 401 {
        ApiError::Unauthorized(message)
    } else {
        ApiError::Status {
            status,
            code,
            message,
        }
    }
}

/// The text of a successful answer to `url` (a POST of the JSON `json` when there is one),
/// or why there is none. `with_session`: sent with the session's bearer token, and a 401
/// ends the session.
async fn call(url: &str, json: Option<String>, with_session: bool) -> Result<String, ApiError> {
    let bearer = auth::token()
        .filter(|_| with_session)
        .map(|t| format!("Bearer {t}"));
    let mut headers = Vec::new();
    if let Some(b) = &bearer {
        headers.push(("Authorization", b.as_str()));
    }
    if json.is_some() {
        headers.push(("Content-Type", "application/json"));
    }
    let resp = fetch(url, &headers, json).await.ok_or(ApiError::Network)?;
    if resp.ok() {
        return text(&resp).await.ok_or(ApiError::Decode);
    }
    let err = error_from(resp).await;
    if with_session && matches!(err, ApiError::Unauthorized(_)) {
        auth::expire();
    }
    Err(err)
}

/// A successful answer's JSON as `T`. Only this step is generic: the rest is one copy for
/// every endpoint.
async fn read<T: FromJson>(
    url: &str,
    json: Option<String>,
    with_session: bool,
) -> Result<T, ApiError> {
    let text = call(url, json, with_session).await?;
    T::parse(&text).ok_or(ApiError::Decode)
}

fn encode(s: &str) -> String {
    js_sys::encode_uri_component(s).into()
}

/// `POST /api/dev/login`.
pub async fn login(email: String, password: String) -> Result<LoginResponse, ApiError> {
    let body = json::object(&[
        ("email", Some(email.as_str())),
        ("password", Some(password.as_str())),
    ]);
    read("/api/dev/login", Some(body), false).await
}

/// `GET /api/config`: how to log in.
pub async fn config() -> Result<ConsoleConfig, ApiError> {
    read("/api/config", None, false).await
}

/// `GET /api/me`.
pub async fn me() -> Result<Me, ApiError> {
    read("/api/me", None, true).await
}

/// `GET /api/me`, asked once, as a signal: `None` until the answer comes. (A plain signal
/// and a task rather than a `LocalResource`: the same one fetch, without the async
/// machinery a resource brings into the wasm.)
pub fn me_once() -> RwSignal<Option<Result<Me, ApiError>>> {
    let answer = RwSignal::new(None);
    spawn_local(async move {
        let me = me().await;
        // The component that asked may be gone by now; then nobody needs the answer.
        let _ = answer.try_set(Some(me));
    });
    answer
}

/// Which requests a list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// `None` for every status.
    pub status: Option<RequestStatus>,
    /// Only those the caller can still vote on.
    pub mine: bool,
}

/// `GET /api/approvals`.
pub async fn list(query: &ListQuery, cursor: Option<&str>) -> Result<ApprovalPage, ApiError> {
    let mut url = format!(
        "/api/approvals?status={}&limit={PAGE_SIZE}",
        query.status.map_or("all", RequestStatus::as_str)
    );
    if query.mine {
        url.push_str("&mine=true");
    }
    if let Some(c) = cursor {
        url.push_str("&cursor=");
        url.push_str(&encode(c));
    }
    read(&url, None, true).await
}

/// `GET /api/approvals/{id}`.
pub async fn approval(id: &str) -> Result<Approval, ApiError> {
    let url = format!("/api/approvals/{}", encode(id));
    read(&url, None, true).await
}

/// `POST /api/approvals/{id}/decision`.
pub async fn decide(
    id: &str,
    decision: VoteChoice,
    comment: Option<String>,
) -> Result<Approval, ApiError> {
    let url = format!("/api/approvals/{}/decision", encode(id));
    let decision = match decision {
        VoteChoice::Approve => "approve",
        VoteChoice::Reject => "reject",
    };
    let body = json::object(&[
        ("decision", Some(decision)),
        ("comment", comment.as_deref()),
    ]);
    read(&url, Some(body), true).await
}

/// `GET /api/audit`: the export of a period as a file's text (CSV or JSON).
pub async fn audit_export(from: &str, to: &str, format: &str) -> Result<String, ApiError> {
    let url = format!(
        "/api/audit?from={}&to={}&format={}",
        encode(from),
        encode(to),
        encode(format)
    );
    call(&url, None, true).await
}
