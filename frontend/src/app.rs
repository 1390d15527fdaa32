//! The app: the router, the page frame, and the session rules (a logged-out visit goes to
//! the login page; a session that runs out mid-page does too, keeping the path).

use leptos::prelude::*;

use crate::components::header::Header;
use crate::components::require_login::RequireLogin;
use crate::router::{self, Page};
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

    let page = Memo::new(move |_| router::page());
    view! {
        <Header/>
        <main id="main" tabindex="-1">
            {move || match page.get() {
                Page::Login => view! { <Login/> }.into_any(),
                Page::Callback => view! { <AuthCallback/> }.into_any(),
                Page::Inbox => view! { <RequireLogin><Inbox/></RequireLogin> }.into_any(),
                Page::Approvals => view! { <RequireLogin><Approvals/></RequireLogin> }.into_any(),
                Page::Request => view! { <RequireLogin><RequestPage/></RequireLogin> }.into_any(),
                Page::History => view! { <RequireLogin><History/></RequireLogin> }.into_any(),
                Page::NotFound => view! { <NotFound/> }.into_any(),
            }}
        </main>
    }
}
