//! The app: the router, the page frame, and the session rules (a logged-out visit goes to
//! the login page; a session that runs out mid-page does too, keeping the path).

use leptos::prelude::*;
use leptos_router::components::{FlatRoutes, Route, Router};
use leptos_router::path;

use crate::components::header::Header;
use crate::components::require_login::RequireLogin;
use crate::routes::approvals::Approvals;
use crate::routes::callback::AuthCallback;
use crate::routes::history::History;
use crate::routes::inbox::Inbox;
use crate::routes::login::Login;
use crate::routes::not_found::NotFound;
use crate::routes::request::RequestPage;
use crate::{auth, clock, oidc};

#[component]
pub fn App() -> impl IntoView {
    // A token about to run out is renewed with the OIDC refresh token when there is one;
    // past its expiry it ends the session without waiting for the api's 401.
    Effect::new(move |_| {
        if let Some(s) = auth::session() {
            oidc::keep_fresh(&s, clock::now());
        }
    });

    view! {
        <Router>
            <Header/>
            <main id="main" tabindex="-1">
                <FlatRoutes fallback=NotFound>
                    <Route path=path!("/login") view=Login/>
                    <Route path=path!("/auth/callback") view=AuthCallback/>
                    <Route
                        path=path!("/")
                        view=|| view! { <RequireLogin><Inbox/></RequireLogin> }
                    />
                    <Route
                        path=path!("/approvals")
                        view=|| view! { <RequireLogin><Approvals/></RequireLogin> }
                    />
                    <Route
                        path=path!("/approvals/:id")
                        view=|| view! { <RequireLogin><RequestPage/></RequireLogin> }
                    />
                    <Route
                        path=path!("/history")
                        view=|| view! { <RequireLogin><History/></RequireLogin> }
                    />
                </FlatRoutes>
            </main>
        </Router>
    }
}
