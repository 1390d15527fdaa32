//! The Hanko api, one function per endpoint, each returning `Result<_, ApiError>`.
//! Every call but login carries the session's bearer token; a 401 ends the session, and
//! the app then sends the person to the login page, keeping where they were.

use gloo_net::http::{Request, RequestBuilder, Response};
use hanko_api::{
    Approval, ApprovalPage, ConsoleConfig, DecisionRequest, ErrorBody, LoginRequest, LoginResponse,
    Me, RequestStatus, VoteChoice,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;

use crate::auth;
use crate::i18n;

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

fn authorized(req: RequestBuilder) -> RequestBuilder {
    match auth::token() {
        Some(token) => req.header("Authorization", &format!("Bearer {token}")),
        None => req,
    }
}

async fn error_from(resp: Response) -> ApiError {
    let status = resp.status();
    let (code, message) = match resp.json::<ErrorBody>().await {
        Ok(b) => (b.error.code, b.error.message),
        Err(_) => (
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

/// The text of a successful answer, or why there is none. A 401 on a call made with the
/// session ends it, with the server's reason.
async fn body(
    sent: Result<Response, gloo_net::Error>,
    with_session: bool,
) -> Result<String, ApiError> {
    let resp = sent.map_err(|_| ApiError::Network)?;
    if resp.ok() {
        return resp.text().await.map_err(|_| ApiError::Decode);
    }
    let err = error_from(resp).await;
    if with_session && let ApiError::Unauthorized(reason) = &err {
        auth::refuse(reason.clone());
    }
    Err(err)
}

/// A successful answer's JSON as the api's type `T`. Only this step is generic: the rest
/// is one copy for every endpoint.
async fn read<T: DeserializeOwned>(
    sent: Result<Response, gloo_net::Error>,
    with_session: bool,
) -> Result<T, ApiError> {
    let text = body(sent, with_session).await?;
    serde_json::from_str(&text).map_err(|_| ApiError::Decode)
}

fn encode(s: &str) -> String {
    js_sys::encode_uri_component(s).into()
}

/// `POST /api/dev/login`.
pub async fn login(email: String, password: String) -> Result<LoginResponse, ApiError> {
    let req = Request::post("/api/dev/login")
        .json(&LoginRequest { email, password })
        .map_err(|_| ApiError::Decode)?;
    read(req.send().await, false).await
}

/// `GET /api/config`: how to log in.
pub async fn config() -> Result<ConsoleConfig, ApiError> {
    read(Request::get("/api/config").send().await, false).await
}

/// `GET /api/me`.
pub async fn me() -> Result<Me, ApiError> {
    read(authorized(Request::get("/api/me")).send().await, true).await
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
    let status = query.status.map_or("all", RequestStatus::as_str);
    let limit = PAGE_SIZE.to_string();
    let mut params = vec![("status", status), ("limit", limit.as_str())];
    if query.mine {
        params.push(("mine", "true"));
    }
    if let Some(c) = cursor {
        params.push(("cursor", c));
    }
    let req = authorized(Request::get("/api/approvals").query(params));
    read(req.send().await, true).await
}

/// `GET /api/approvals/{id}`.
pub async fn approval(id: &str) -> Result<Approval, ApiError> {
    let url = format!("/api/approvals/{}", encode(id));
    read(authorized(Request::get(&url)).send().await, true).await
}

/// `POST /api/approvals/{id}/decision`.
pub async fn decide(
    id: &str,
    decision: VoteChoice,
    comment: Option<String>,
) -> Result<Approval, ApiError> {
    let url = format!("/api/approvals/{}/decision", encode(id));
    let req = authorized(Request::post(&url))
        .json(&DecisionRequest { decision, comment })
        .map_err(|_| ApiError::Decode)?;
    read(req.send().await, true).await
}

/// `GET /api/audit`: the export of a period as a file's text (CSV or JSON).
pub async fn audit_export(from: &str, to: &str, format: &str) -> Result<String, ApiError> {
    let req = Request::get("/api/audit").query([("from", from), ("to", to), ("format", format)]);
    body(authorized(req).send().await, true).await
}
