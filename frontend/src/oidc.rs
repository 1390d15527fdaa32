//! Logging in with Cognito or another OIDC provider: the authorization code flow with PKCE
//! (S256) for a public client, so no secret is ever in the browser.
//!
//! 1. [`begin`] makes a random code verifier and `state`, keeps them (and the path to come
//!    back to) in `sessionStorage` for the round trip only, and sends the browser to the
//!    provider's authorize URL with the verifier's SHA-256 as the code challenge.
//! 2. The provider sends the browser back to `<console origin>/auth/callback?code=…&state=…`;
//!    [`finish`] checks `state` against the one kept, exchanges the code (with the verifier)
//!    at the token URL, and keeps the ID or access token as the bearer, per `tokenUse`.
//! 3. [`keep_fresh`] renews the token with the refresh token before it runs out; without
//!    one, the session ends and the person logs in again, coming back to where they were.
//! 4. Logging out [`revoke`]s the refresh token at the provider before leaving.

use gloo_net::http::Request;
use hanko_api::{ConsoleConfig, OidcLogin};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;

use crate::api::{self, ApiError};
use crate::auth;

/// Where the provider sends the browser back to.
pub const CALLBACK_PATH: &str = "/auth/callback";
/// The login under way: state, code verifier, return path. Only for the round trip.
const PENDING_KEY: &str = "hanko.oidc.pending";
/// Renew this long before the token runs out (ms).
const REFRESH_AHEAD_MS: f64 = 60_000.0;

thread_local! {
    static CONFIG: ArcRwSignal<Option<Result<ConsoleConfig, ApiError>>> = ArcRwSignal::new(None);
    static REFRESHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Fetches `GET /api/config` once, at start.
/// Called before the app is mounted, so before Leptos' executor exists: the task goes
/// straight to wasm-bindgen's.
pub fn load_config() {
    wasm_bindgen_futures::spawn_local(async {
        let config = api::config().await;
        CONFIG.with(|c| c.set(Some(config)));
    });
}

/// The server's login options, once known (reactive).
pub fn config() -> Option<Result<ConsoleConfig, ApiError>> {
    CONFIG.with(|c| c.get())
}

/// The OIDC login, when the server offers one (not tracked).
pub fn oidc_untracked() -> Option<OidcLogin> {
    CONFIG.with(|c| {
        c.with_untracked(|c| {
            c.as_ref()
                .and_then(|c| c.as_ref().ok())
                .and_then(|c| c.login.oidc.clone())
        })
    })
}

/// A name for the provider on the login button: "Cognito" for Cognito's domains, else the
/// host of its authorize URL.
pub fn provider_name(oidc: &OidcLogin) -> String {
    if let Some(name) = oidc.provider_name.as_ref().filter(|n| !n.is_empty()) {
        return name.clone();
    }
    let host = web_sys::Url::new(&oidc.authorize_url)
        .map(|u| u.host())
        .unwrap_or_default();
    if host.ends_with(".amazoncognito.com") || host.ends_with(".amazonaws.com") {
        "Cognito".into()
    } else if host.is_empty() {
        "SSO".into()
    } else {
        host
    }
}

/// The login under way, kept in `sessionStorage` as JSON for the round trip.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    next: String,
}

fn session_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

/// The redirect URI to register at the provider.
pub fn redirect_uri() -> String {
    format!("{}{CALLBACK_PATH}", origin())
}

fn crypto() -> Result<web_sys::Crypto, String> {
    web_sys::window()
        .ok_or("no window")?
        .crypto()
        .map_err(|_| "no Web Crypto".to_string())
}

/// The base64url alphabet (RFC 4648 §5).
const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding, as PKCE and JWTs write it. (Written here: it is a few lines,
/// and the base64 crate's engine is a few kilobytes of the wasm.)
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}

/// Reads unpadded base64url. `None` for anything else: a byte outside the alphabet, a
/// lone last symbol, or leftover bits that are not zero (not canonical).
fn from_base64url(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = BASE64URL.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6 && acc == 0).then_some(out)
}

/// `n` random bytes from `crypto.getRandomValues`, base64url without padding.
fn random_b64(n: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; n];
    crypto()?
        .get_random_values_with_u8_array(&mut bytes)
        .map_err(|_| "getRandomValues failed".to_string())?;
    Ok(base64url(&bytes))
}

/// The S256 code challenge: base64url(SHA-256(verifier)) by `crypto.subtle.digest`.
async fn challenge_of(verifier: &str) -> Result<String, String> {
    let promise = crypto()?
        .subtle()
        .digest_with_str_and_u8_array("SHA-256", verifier.as_bytes())
        .map_err(|_| "crypto.subtle.digest failed".to_string())?;
    let digest = wasm_bindgen_futures::JsFuture::from(promise)
        .await
        .map_err(|_| "crypto.subtle.digest failed".to_string())?;
    let digest = digest
        .dyn_into::<js_sys::ArrayBuffer>()
        .map_err(|_| "crypto.subtle.digest gave no ArrayBuffer".to_string())?;
    Ok(base64url(&js_sys::Uint8Array::new(&digest).to_vec()))
}

fn enc(s: &str) -> String {
    js_sys::encode_uri_component(s).into()
}

fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Starts the login: keeps state and verifier for the round trip and goes to the provider.
/// `next` is the path to come back to afterwards.
pub async fn begin(oidc: &OidcLogin, next: &str) -> Result<(), String> {
    let verifier = random_b64(32)?;
    let state = random_b64(16)?;
    let challenge = challenge_of(&verifier).await?;
    let pending = Pending {
        state: state.clone(),
        verifier,
        next: auth::safe_next(Some(next)),
    };
    let pending = serde_json::to_string(&pending).map_err(|e| e.to_string())?;
    session_storage()
        .ok_or("no sessionStorage")?
        .set_item(PENDING_KEY, &pending)
        .map_err(|_| "sessionStorage is not writable".to_string())?;
    let query = form(&[
        ("response_type", "code"),
        ("client_id", &oidc.client_id),
        ("redirect_uri", &redirect_uri()),
        ("scope", &oidc.scopes),
        ("state", &state),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ]);
    let sep = if oidc.authorize_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!("{}{sep}{query}", oidc.authorize_url);
    web_sys::window()
        .ok_or("no window")?
        .location()
        .assign(&url)
        .map_err(|_| "could not go to the identity provider".to_string())
}

/// Why the callback did not log anyone in.
#[derive(Debug, Clone, PartialEq)]
pub enum CallbackError {
    /// The provider answered with `error` (its words).
    Provider(String),
    /// No login was started in this tab, or `state` does not match it.
    State,
    /// The code could not be exchanged for tokens.
    Exchange,
}

/// Where the callback failed, and the path the person wanted (for "log in again").
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub error: CallbackError,
    pub next: String,
}

/// What the provider's token endpoint answers (RFC 6749 §5.1, and OIDC's `id_token`).
#[derive(Debug, Deserialize)]
struct Tokens {
    id_token: Option<String>,
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<f64>,
}

/// The one claim the console reads from a token.
#[derive(Deserialize)]
struct Expiry {
    exp: f64,
}

/// The `exp` of a JWT, in ms since the epoch (read, not verified: the api verifies).
fn jwt_expiry(token: &str) -> Option<f64> {
    let payload = token.split('.').nth(1)?;
    let bytes = from_base64url(payload.trim_end_matches('='))?;
    let claims: Expiry = serde_json::from_slice(&bytes).ok()?;
    Some(claims.exp * 1000.0)
}

/// Keeps the bearer the api wants out of a token answer. False when it is not there.
fn keep(oidc: &OidcLogin, tokens: Tokens) -> bool {
    let bearer = if oidc.token_use == "access" {
        tokens.access_token
    } else {
        tokens.id_token
    };
    let Some(bearer) = bearer.filter(|t| !t.is_empty()) else {
        return false;
    };
    let expires_at = jwt_expiry(&bearer).unwrap_or_else(|| {
        js_sys::Date::now() + tokens.expires_in.unwrap_or(300.0).max(0.0) * 1000.0
    });
    auth::store_token(&bearer, expires_at, tokens.refresh_token.as_deref());
    true
}

async fn token_request(oidc: &OidcLogin, body: String) -> Option<Tokens> {
    let resp = Request::post(&oidc.token_url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body(body)
        .ok()?
        .send()
        .await
        .ok()?;
    if !resp.ok() {
        return None;
    }
    resp.json().await.ok()
}

/// Ends the round trip at `/auth/callback`: checks `state`, exchanges the code and keeps the
/// tokens. Returns the path to go to.
pub async fn finish(
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
) -> Result<String, Failed> {
    // The verifier is for this one answer only, whatever happens next.
    let pending = session_storage().and_then(|s| {
        let raw = s.get_item(PENDING_KEY).ok().flatten();
        let _ = s.remove_item(PENDING_KEY);
        raw.and_then(|r| serde_json::from_str::<Pending>(&r).ok())
    });
    let next = pending
        .as_ref()
        .map_or_else(|| "/".to_string(), |p| p.next.clone());
    let fail = |error| Failed {
        error,
        next: next.clone(),
    };
    let Some(pending) = pending else {
        return Err(fail(CallbackError::State));
    };
    if state.as_deref() != Some(pending.state.as_str()) {
        return Err(fail(CallbackError::State));
    }
    if let Some(e) = error {
        let words = match error_description {
            Some(d) if !d.is_empty() => format!("{e}: {d}"),
            _ => e,
        };
        return Err(fail(CallbackError::Provider(words)));
    }
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Err(fail(CallbackError::Exchange));
    };
    let oidc = match oidc_untracked() {
        Some(o) => o,
        None => match api::config().await {
            Ok(ConsoleConfig {
                login: hanko_api::LoginOptions { oidc: Some(o), .. },
            }) => o,
            _ => return Err(fail(CallbackError::Exchange)),
        },
    };
    let body = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &redirect_uri()),
        ("client_id", &oidc.client_id),
        ("code_verifier", &pending.verifier),
    ]);
    match token_request(&oidc, body).await {
        Some(tokens) => match keep(&oidc, tokens) {
            true => Ok(pending.next),
            false => Err(fail(CallbackError::Exchange)),
        },
        None => Err(fail(CallbackError::Exchange)),
    }
}

/// Renews the bearer with the refresh token. False when there is none or it failed.
async fn refresh(oidc: &OidcLogin) -> bool {
    let Some(refresh_token) = auth::refresh_token() else {
        return false;
    };
    let body = form(&[
        ("grant_type", "refresh_token"),
        ("client_id", &oidc.client_id),
        ("refresh_token", &refresh_token),
    ]);
    match token_request(oidc, body).await {
        Some(tokens) => keep(oidc, tokens),
        None => false,
    }
}

/// Called as the clock ticks: renews a token about to run out when a refresh token is held,
/// and ends a session whose token ran out (the login page then brings the person back).
pub fn keep_fresh(session: &auth::Session, now: f64) {
    if REFRESHING.with(|r| r.get()) {
        return;
    }
    let renewable = auth::refresh_token().is_some();
    match oidc_untracked() {
        Some(oidc) if renewable && now >= session.expires_at - REFRESH_AHEAD_MS => {
            REFRESHING.with(|r| r.set(true));
            spawn_local(async move {
                let ok = refresh(&oidc).await;
                REFRESHING.with(|r| r.set(false));
                if !ok {
                    auth::expire();
                }
            });
        }
        _ if now >= session.expires_at => auth::expire(),
        _ => {}
    }
}

/// The provider's revocation endpoint (RFC 7009), beside its token endpoint: Cognito's
/// `…/oauth2/token` has `…/oauth2/revoke` (as do Okta's, Auth0's, Keycloak's…). `None` when
/// the token URL does not end in `/token`.
fn revoke_url(token_url: &str) -> Option<String> {
    let url = web_sys::Url::new(token_url).ok()?;
    let base = url.pathname().strip_suffix("/token")?.to_string();
    url.set_pathname(&format!("{base}/revoke"));
    url.set_search("");
    url.set_hash("");
    Some(url.href())
}

/// Revokes `refresh_token` at the provider: `POST {revoke URL}` with `token` and
/// `client_id`, form-encoded, as a public client does at Cognito's `/oauth2/revoke`. After
/// it, the refresh token (and, at Cognito, the tokens it made) cannot make new ones, even
/// if a copy of it was taken.
///
/// Best-effort, and it never holds up logging out: it goes as a beacon, which the browser
/// still delivers after the page is left for the provider's logout (a `fetch` would be
/// cancelled with the page). Whether it worked is not known here and changes nothing: the
/// tokens are forgotten in this tab either way.
pub fn revoke(refresh_token: &str) {
    let Some(oidc) = oidc_untracked() else {
        return;
    };
    let Some(url) = revoke_url(&oidc.token_url) else {
        return;
    };
    let body = form(&[("token", refresh_token), ("client_id", &oidc.client_id)]);
    // A URLSearchParams body goes as application/x-www-form-urlencoded.
    let queued = web_sys::UrlSearchParams::new_with_str(&body)
        .ok()
        .and_then(|params| {
            web_sys::window()?
                .navigator()
                .send_beacon_with_opt_url_search_params(&url, Some(&params))
                .ok()
        })
        .unwrap_or(false);
    if !queued {
        spawn_local(async move {
            if let Ok(request) = Request::post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body)
            {
                let _ = request.send().await;
            }
        });
    }
}

/// Where logging out sends the browser: the provider's logout URL, coming back to the login
/// page. Cognito's `/logout` reads `client_id` and `logout_uri`; a provider with OpenID
/// RP-initiated logout (the local one, Okta, Keycloak…) reads `client_id` and
/// `post_logout_redirect_uri`. Each ignores the other's name. `None` without a logout URL.
pub fn logout_url() -> Option<String> {
    let oidc = oidc_untracked()?;
    let base = oidc.logout_url.filter(|u| !u.is_empty())?;
    let sep = if base.contains('?') { '&' } else { '?' };
    let back = format!("{}/login", origin());
    Some(format!(
        "{base}{sep}{}",
        form(&[
            ("client_id", &oidc.client_id),
            ("logout_uri", &back),
            ("post_logout_redirect_uri", &back),
        ])
    ))
}
