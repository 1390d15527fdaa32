//! Which page the address shows, and moving between pages without reloading.
//!
//! The address (path and query) lives in one signal. A click on a link to one of the
//! console's own pages, and `navigate`, change it with the History API; the back and forward
//! buttons (`popstate`) read it again. Any other link (another site, a new tab, a download,
//! the server's own files such as `/.well-known/jwks.json`, a `#fragment` of this page) is
//! left to the browser. This replaces leptos_router, which cost the wasm ~50 KB.

use leptos::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{HtmlAnchorElement, MouseEvent, Url, UrlSearchParams};

/// The pages, one per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/login`
    Login,
    /// `/auth/callback`
    Callback,
    /// `/`
    Inbox,
    /// `/approvals`
    Approvals,
    /// `/approvals/:id`
    Request,
    /// `/history`
    History,
    /// Any other address.
    NotFound,
}

/// The address: the path, and the query with its `?` (or empty).
#[derive(Debug, Clone, PartialEq)]
struct Address {
    path: String,
    search: String,
}

thread_local! {
    static HERE: ArcRwSignal<Address> = ArcRwSignal::new(read_address());
}

fn read_address() -> Address {
    let location = window().location();
    Address {
        path: location.pathname().unwrap_or_default(),
        search: location.search().unwrap_or_default(),
    }
}

/// The page of a path; one trailing slash is allowed ("/history/").
pub fn page_of(path: &str) -> Page {
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    match path {
        "/" => Page::Inbox,
        "/login" => Page::Login,
        "/auth/callback" => Page::Callback,
        "/approvals" => Page::Approvals,
        "/history" => Page::History,
        _ if request_id_of(path).is_some() => Page::Request,
        _ => Page::NotFound,
    }
}

fn request_id_of(path: &str) -> Option<&str> {
    let id = path.strip_prefix("/approvals/")?;
    let id = id.strip_suffix('/').unwrap_or(id);
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// The page the address shows (reactive).
pub fn page() -> Page {
    HERE.with(|h| h.with(|a| page_of(&a.path)))
}

/// The page the address shows, read without tracking.
pub fn page_untracked() -> Page {
    HERE.with(|h| h.with_untracked(|a| page_of(&a.path)))
}

/// The path and query, as `next` after logging in, read without tracking.
pub fn here_untracked() -> String {
    HERE.with(|h| h.with_untracked(|a| format!("{}{}", a.path, a.search)))
}

/// The `:id` of `/approvals/:id` (reactive); `None` on any other page.
pub fn request_id() -> Option<String> {
    HERE.with(|h| h.with(|a| request_id_of(&a.path).map(str::to_string)))
}

/// The value of `key` in the query, decoded (reactive).
pub fn query(key: &str) -> Option<String> {
    HERE.with(|h| h.with(|a| query_of(&a.search, key)))
}

/// The value of `key` in the query, decoded, read without tracking.
pub fn query_untracked(key: &str) -> Option<String> {
    HERE.with(|h| h.with_untracked(|a| query_of(&a.search, key)))
}

fn query_of(search: &str, key: &str) -> Option<String> {
    UrlSearchParams::new_with_str(search).ok()?.get(key)
}

/// Goes to `to` (a path on this site, with any query), as a new history entry or in place
/// of the current one, and scrolls to the top.
pub fn navigate(to: &str, replace: bool) {
    let w = window();
    if let Ok(history) = w.history() {
        let _ = if replace {
            history.replace_state_with_url(&JsValue::NULL, "", Some(to))
        } else {
            history.push_state_with_url(&JsValue::NULL, "", Some(to))
        };
    }
    HERE.with(|h| h.set(read_address()));
    w.scroll_to_with_x_and_y(0.0, 0.0);
}

/// Starts following links and the back and forward buttons; called once at start.
pub fn start() {
    _ = window_event_listener(leptos::ev::popstate, |_| {
        HERE.with(|h| h.set(read_address()));
    });
    _ = window_event_listener(leptos::ev::click, on_click);
}

/// A plain click on a link to one of the console's pages navigates in place.
fn on_click(ev: MouseEvent) {
    if ev.default_prevented()
        || ev.button() != 0
        || ev.meta_key()
        || ev.alt_key()
        || ev.ctrl_key()
        || ev.shift_key()
    {
        return;
    }
    let Some(a) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .and_then(|e| e.closest("a[href]").ok().flatten())
        .and_then(|a| a.dyn_into::<HtmlAnchorElement>().ok())
    else {
        return;
    };
    if !a.target().is_empty()
        || a.has_attribute("download")
        || a.rel().split_ascii_whitespace().any(|r| r == "external")
    {
        return;
    }
    let Ok(url) = Url::new(&a.href()) else {
        return;
    };
    let location = window().location();
    if location.origin().ok() != Some(url.origin()) {
        return;
    }
    let (path, search, hash) = (url.pathname(), url.search(), url.hash());
    if page_of(&path) == Page::NotFound {
        return;
    }
    // A link to a part of this very page: the browser scrolls and moves the focus there.
    if !hash.is_empty()
        && location.pathname().ok() == Some(path.clone())
        && location.search().ok() == Some(search.clone())
    {
        return;
    }
    ev.prevent_default();
    navigate(&format!("{path}{search}{hash}"), false);
}

/// `aria-current="page"` for a link to `href` while the address is on that page (`exact`)
/// or on that page or one below it.
pub fn aria_current(href: &'static str, exact: bool) -> impl Fn() -> Option<&'static str> {
    move || {
        HERE.with(|h| {
            h.with(|a| {
                let on = a.path == href
                    || (!exact
                        && a.path
                            .strip_prefix(href)
                            .is_some_and(|rest| rest.starts_with('/')));
                on.then_some("page")
            })
        })
    }
}
