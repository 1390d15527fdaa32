//! The login session: the bearer token (and an OIDC refresh token, when the provider gave
//! one) in `sessionStorage` (gone when the tab closes, never in `localStorage`), a reactive
//! view of it, and the safe handling of the `next` path to return to after login.

use hanko_api::LoginResponse;
use leptos::prelude::*;
use web_sys::Storage;

const TOKEN_KEY: &str = "hanko.token";
const EXPIRES_KEY: &str = "hanko.expiresAt";
const REFRESH_KEY: &str = "hanko.refresh";

/// A logged-in session.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub token: String,
    /// Milliseconds since the epoch.
    pub expires_at: f64,
}

thread_local! {
    static SESSION: ArcRwSignal<Option<Session>> = ArcRwSignal::new(load());
    static EXPIRED: ArcRwSignal<bool> = ArcRwSignal::new(false);
    /// Why the server refused the last session's token, in its words (a 401's message).
    static REFUSED: ArcRwSignal<Option<String>> = ArcRwSignal::new(None);
}

fn storage() -> Option<Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn load() -> Option<Session> {
    let s = storage()?;
    let token = s.get_item(TOKEN_KEY).ok().flatten()?;
    // JavaScript's own number parsing (Rust's would add its tables to the wasm).
    let expires_at = js_sys::Number::parse_float(&s.get_item(EXPIRES_KEY).ok().flatten()?);
    let expires_at = (!expires_at.is_nan()).then_some(expires_at)?;
    (!token.is_empty() && expires_at > js_sys::Date::now()).then_some(Session { token, expires_at })
}

/// The current session (reactive).
pub fn session() -> Option<Session> {
    SESSION.with(|s| s.get())
}

/// Whether someone is logged in (reactive).
pub fn logged_in() -> bool {
    SESSION.with(|s| s.with(Option::is_some))
}

/// The bearer token, read without tracking.
pub fn token() -> Option<String> {
    SESSION.with(|s| s.with_untracked(|s| s.as_ref().map(|s| s.token.clone())))
}

/// Keeps a fresh dev login.
pub fn store(login: &LoginResponse) {
    store_token(
        &login.token,
        login.expires_at.timestamp_millis() as f64,
        None,
    );
}

/// Keeps a fresh bearer token that runs out at `expires_at` (ms since the epoch), and the
/// refresh token that renews it, when there is one (`None` keeps the one already held).
pub fn store_token(token: &str, expires_at: f64, refresh: Option<&str>) {
    if let Some(s) = storage() {
        let _ = s.set_item(TOKEN_KEY, token);
        let stored = String::from(
            js_sys::Number::from(expires_at)
                .to_string_with_radix(10)
                .unwrap_or_default(),
        );
        let _ = s.set_item(EXPIRES_KEY, &stored);
        if let Some(r) = refresh {
            let _ = s.set_item(REFRESH_KEY, r);
        }
    }
    EXPIRED.with(|e| e.set(false));
    REFUSED.with(|r| r.set(None));
    SESSION.with(|s| {
        s.set(Some(Session {
            token: token.to_string(),
            expires_at,
        }))
    });
}

/// The OIDC refresh token of this session, if the provider gave one.
pub fn refresh_token() -> Option<String> {
    storage()?
        .get_item(REFRESH_KEY)
        .ok()
        .flatten()
        .filter(|r| !r.is_empty())
}

fn clear() {
    remove_stored();
    SESSION.with(|s| s.set(None));
}

fn remove_stored() {
    if let Some(s) = storage() {
        let _ = s.remove_item(TOKEN_KEY);
        let _ = s.remove_item(EXPIRES_KEY);
        let _ = s.remove_item(REFRESH_KEY);
    }
}

/// Logging out on purpose: the provider is asked to revoke the refresh token (best-effort,
/// see [`crate::oidc::revoke`]), so that a copy of it cannot make new tokens afterwards.
fn revoke_refresh_token() {
    if let Some(refresh) = refresh_token() {
        crate::oidc::revoke(&refresh);
    }
}

/// Logs out, leaving the in-memory session alone, for a page that is about to be left
/// (logging out through the provider): revokes the refresh token and forgets the stored
/// tokens. Clearing the session here would re-render the page as logged out, send it to
/// the login page, and there (provider only) start a new login whose navigation would
/// race, and win over, the one to the provider.
pub fn forget_stored() {
    revoke_refresh_token();
    remove_stored();
}

/// Logs out on purpose: revokes the refresh token and forgets the session.
pub fn logout() {
    revoke_refresh_token();
    EXPIRED.with(|e| e.set(false));
    REFUSED.with(|r| r.set(None));
    clear();
}

/// Ends a session the server no longer accepts (a 401) or whose token ran out.
pub fn expire() {
    if SESSION.with(|s| s.with_untracked(Option::is_some)) {
        EXPIRED.with(|e| e.set(true));
        clear();
    }
}

/// Ends a session whose token the server refused (a 401), keeping the server's reason to
/// show at login. Unlike a token that ran out, logging in again by itself would only be
/// refused again (an address the provider has not verified, say), so it waits for a click.
pub fn refuse(reason: String) {
    if SESSION.with(|s| s.with_untracked(Option::is_some)) {
        EXPIRED.with(|e| e.set(false));
        REFUSED.with(|r| r.set(Some(reason)));
        clear();
    }
}

/// Why the server refused the last session, when it did (reactive).
pub fn refusal() -> Option<String> {
    REFUSED.with(|r| r.get())
}

/// Whether the last session ended by itself rather than by logging out (reactive).
pub fn ended_by_expiry() -> bool {
    EXPIRED.with(|e| e.get())
}

/// Accepts a return path only when it stays on this site: it must be an absolute path
/// ("/…", not "//host" or "/\host"), with no control characters, and must resolve to this
/// origin. Anything else returns to the inbox.
pub fn safe_next(next: Option<&str>) -> String {
    let Some(next) = next else {
        return "/".into();
    };
    let plain = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(|c| c.is_control() || c == '\\')
        && !next.starts_with("/login")
        && !next.starts_with("/auth/");
    if !plain {
        return "/".into();
    }
    let Some(origin) = web_sys::window().and_then(|w| w.location().origin().ok()) else {
        return "/".into();
    };
    match web_sys::Url::new_with_base(next, &origin) {
        Ok(url) if url.origin() == origin => {
            format!("{}{}{}", url.pathname(), url.search(), url.hash())
        }
        _ => "/".into(),
    }
}

/// The login page's address that returns to `next` afterwards.
pub fn login_path(next: &str) -> String {
    let next = safe_next(Some(next));
    if next == "/" {
        "/login".into()
    } else {
        format!(
            "/login?next={}",
            String::from(js_sys::encode_uri_component(&next))
        )
    }
}
