//! The Hanko api, one function per endpoint, each returning `Result<_, ApiError>`.
//! Every call but login carries the session's bearer token; a 401 ends the session, and
//! the app then sends the person to the login page, keeping where they were.
//!
//! A GET first takes the answer boot.js may have fetched for it while the wasm downloaded
//! ([`prefetched`]), and asks the server itself only when there is none to take.

use gloo_net::http::{Request, RequestBuilder, Response};
use hanko_api::{
    Approval, ApprovalPage, ConsoleConfig, DecisionRequest, DelegationStatus, ErrorBody,
    LoginRequest, LoginResponse, Me, RequestStatus, SetDelegation, VoteChoice,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;
use wasm_bindgen::{JsCast, JsValue};

use crate::auth;
use crate::i18n;

/// Items per page of a list. boot.js asks for the inbox's first page early with the same
/// `limit` (a test in tests/e2e/console.rs holds them together).
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
    with_token(req, auth::token().as_deref())
}

fn with_token(req: RequestBuilder, token: Option<&str>) -> RequestBuilder {
    match token {
        Some(token) => req.header("Authorization", &format!("Bearer {token}")),
        None => req,
    }
}

/// The answer boot.js fetched early for `GET url` (path and query, written as this file
/// writes them), kept in `window.hankoPrefetch[url]` as `{ token, response }`. Taken once:
/// the entry is deleted whatever it holds. Used only when it was sent with the same token
/// (`None`: without one) and came back ok; anything else (none, another token, a network
/// failure, an error status such as a 401) is `None`, and the caller asks the server
/// itself, so errors are handled exactly as without the early fetch.
async fn prefetched(url: &str, token: Option<&str>) -> Option<Response> {
    let all = js_sys::Reflect::get(&js_sys::global(), &"hankoPrefetch".into()).ok()?;
    let all = all.dyn_into::<js_sys::Object>().ok()?;
    let key = JsValue::from_str(url);
    let entry = js_sys::Reflect::get(&all, &key).ok()?;
    if entry.is_undefined() {
        return None;
    }
    let _ = js_sys::Reflect::delete_property(&all, &key);
    let sent_with = js_sys::Reflect::get(&entry, &"token".into()).ok()?;
    if sent_with.as_string().as_deref() != token {
        return None;
    }
    let promise = js_sys::Reflect::get(&entry, &"response".into()).ok()?;
    let resp = wasm_bindgen_futures::JsFuture::from(promise.dyn_into::<js_sys::Promise>().ok()?)
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    resp.ok().then(|| Response::from(resp))
}

/// `GET path?query`, with the session's token when `with_session`: the early answer when
/// boot.js fetched one (see [`prefetched`]), else a request of its own.
async fn get(
    path: &str,
    query: &[(&str, &str)],
    with_session: bool,
) -> Result<Response, gloo_net::Error> {
    let token = if with_session { auth::token() } else { None };
    // The URL as gloo-net writes it: the query in a URLSearchParams, appended in order.
    let url = if query.is_empty() {
        Some(path.to_string())
    } else {
        web_sys::UrlSearchParams::new().ok().map(|params| {
            for (name, value) in query {
                params.append(name, value);
            }
            format!("{path}?{}", String::from(params.to_string()))
        })
    };
    if let Some(url) = url
        && let Some(resp) = prefetched(&url, token.as_deref()).await
    {
        return Ok(resp);
    }
    let req = with_token(Request::get(path), token.as_deref());
    if query.is_empty() {
        req.send().await
    } else {
        req.query(query.iter().copied()).send().await
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
    read(get("/api/config", &[], false).await, false).await
}

/// `GET /api/me`.
pub async fn me() -> Result<Me, ApiError> {
    read(get("/api/me", &[], true).await, true).await
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
    read(get("/api/approvals", &params, true).await, true).await
}

/// `GET /api/approvals/{id}`.
pub async fn approval(id: &str) -> Result<Approval, ApiError> {
    let url = format!("/api/approvals/{}", encode(id));
    read(get(&url, &[], true).await, true).await
}

/// `POST /api/approvals/{id}/decision`; `on_behalf_of`: in the seat of this person, as
/// their delegate; `passkey`: the passkey's signature of the vote, when there is one.
pub async fn decide(
    id: &str,
    decision: VoteChoice,
    comment: Option<String>,
    on_behalf_of: Option<String>,
    passkey: Option<hanko_api::PasskeyAssertion>,
) -> Result<Approval, ApiError> {
    let url = format!("/api/approvals/{}/decision", encode(id));
    let req = authorized(Request::post(&url))
        .json(&DecisionRequest {
            decision,
            comment,
            on_behalf_of,
            passkey,
        })
        .map_err(|_| ApiError::Decode)?;
    read(req.send().await, true).await
}

/// `POST /api/approvals/{id}/passkey-challenge`: what the passkey signs for this vote.
pub async fn passkey_challenge(
    id: &str,
    decision: VoteChoice,
    comment: Option<String>,
    on_behalf_of: Option<String>,
) -> Result<hanko_api::PasskeyChallenge, ApiError> {
    let url = format!("/api/approvals/{}/passkey-challenge", encode(id));
    let req = authorized(Request::post(&url))
        .json(&hanko_api::PasskeyChallengeRequest {
            decision,
            comment,
            on_behalf_of,
        })
        .map_err(|_| ApiError::Decode)?;
    read(req.send().await, true).await
}

/// `GET /api/passkeys`.
pub async fn passkeys() -> Result<hanko_api::PasskeyList, ApiError> {
    read(authorized(Request::get("/api/passkeys")).send().await, true).await
}

/// `POST /api/passkeys/registration`.
pub async fn passkey_registration() -> Result<hanko_api::PasskeyRegistrationOptions, ApiError> {
    let req = authorized(Request::post("/api/passkeys/registration"));
    read(req.send().await, true).await
}

/// `POST /api/passkeys`.
pub async fn register_passkey(
    body: &hanko_api::PasskeyRegistration,
) -> Result<hanko_api::PasskeyInfo, ApiError> {
    let req = authorized(Request::post("/api/passkeys"))
        .json(body)
        .map_err(|_| ApiError::Decode)?;
    read(req.send().await, true).await
}

/// `GET /api/me/delegation`. Never the early answer of boot.js: it changes under the page.
pub async fn delegation() -> Result<DelegationStatus, ApiError> {
    let req = authorized(Request::get("/api/me/delegation"));
    read(req.send().await, true).await
}

/// `PUT /api/me/delegation`.
pub async fn set_delegation(body: &SetDelegation) -> Result<DelegationStatus, ApiError> {
    let req = authorized(Request::put("/api/me/delegation"))
        .json(body)
        .map_err(|_| ApiError::Decode)?;
    read(req.send().await, true).await
}

/// `DELETE /api/passkeys/{id}`.
pub async fn remove_passkey(id: &str) -> Result<(), ApiError> {
    let url = format!("/api/passkeys/{}", encode(id));
    body(authorized(Request::delete(&url)).send().await, true)
        .await
        .map(|_| ())
}

/// `DELETE /api/me/delegation`.
pub async fn end_delegation() -> Result<(), ApiError> {
    let req = authorized(Request::delete("/api/me/delegation"));
    body(req.send().await, true).await.map(|_| ())
}

/// `GET /api/audit`: the export of a period as a file's text (CSV or JSON).
pub async fn audit_export(from: &str, to: &str, format: &str) -> Result<String, ApiError> {
    let query = [("from", from), ("to", to), ("format", format)];
    body(get("/api/audit", &query, true).await, true).await
}
