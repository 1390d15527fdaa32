//! The protected-route pattern: a page that needs a login shows its children only to a
//! logged-in person. Anyone else is redirected to the login page with the current address
//! as `next`, so that logging in brings them back here.
//!
//! leptos_router's own `<ProtectedRoute>` redirects with a new history entry: after a deep
//! link and the login, Back would return to the same page. This one's `<Redirect>` takes
//! the page's place in the history, as the login then takes its own.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_location;

use crate::auth;

#[component]
pub fn RequireLogin(children: ChildrenFn) -> impl IntoView {
    let location = use_location();
    let (path, search) = (location.pathname, location.search);
    let to_login = move || {
        // The address being left, read when the redirect happens.
        let (path, search) = (path.get_untracked(), search.get_untracked());
        let here = if search.is_empty() {
            path
        } else {
            format!("{path}?{search}")
        };
        let options = NavigateOptions {
            replace: true,
            ..Default::default()
        };
        view! { <Redirect path=auth::login_path(&here) options/> }
    };
    // `<Show>` keeps its condition in a memo: renewing the token changes the session but
    // not whether there is one, and does not build the page again.
    view! {
        <Show when=auth::logged_in fallback=to_login>
            {children()}
        </Show>
    }
}
