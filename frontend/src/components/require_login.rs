//! Shows its children only to a logged-in person; anyone else is sent to the login page
//! with the current path as `next`, so that logging in brings them back here.

use leptos::prelude::*;

use crate::{auth, router};

#[component]
pub fn RequireLogin(children: ChildrenFn) -> impl IntoView {
    Effect::new(move |_| {
        // Logging out navigates to /login itself.
        if !auth::logged_in() && router::page_untracked() != router::Page::Login {
            router::navigate(&auth::login_path(&router::here_untracked()), true);
        }
    });
    view! { <Show when=auth::logged_in>{children()}</Show> }
}
