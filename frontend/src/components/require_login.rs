//! Shows its children only to a logged-in person; anyone else is sent to the login page
//! with the current path as `next`, so that logging in brings them back here.

use leptos::prelude::*;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_location, use_navigate};

use crate::auth;

#[component]
pub fn RequireLogin(children: ChildrenFn) -> impl IntoView {
    let location = use_location();
    let navigate = use_navigate();
    Effect::new(move |_| {
        // Logging out navigates to /login itself.
        if !auth::logged_in() && location.pathname.get_untracked() != "/login" {
            // The router's `search` comes without its `?`.
            let search = location.search.get_untracked();
            let here = match search.trim_start_matches('?') {
                "" => location.pathname.get_untracked(),
                query => format!("{}?{query}", location.pathname.get_untracked()),
            };
            navigate(
                &auth::login_path(&here),
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            );
        }
    });
    view! { <Show when=auth::logged_in>{children()}</Show> }
}
