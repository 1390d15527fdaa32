//! The app: the router, the page frame, and the session rules (a logged-out visit goes to
//! the login page; a session that runs out mid-page does too, keeping the path).

use leptos::prelude::*;
use leptos_router::components::{FlatRoutes, Route, Router};
use leptos_router::hooks::use_location;
use leptos_router::path;
use wasm_bindgen::JsCast;

use crate::components::header::Header;
use crate::components::require_login::RequireLogin;
use crate::routes::approvals::Approvals;
use crate::routes::callback::AuthCallback;
use crate::routes::delegation::Away;
use crate::routes::history::History;
use crate::routes::inbox::Inbox;
use crate::routes::login::Login;
use crate::routes::not_found::NotFound;
use crate::routes::passkeys::Passkeys;
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
            <FocusAfterNavigation/>
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
                    <Route
                        path=path!("/passkeys")
                        view=|| view! { <RequireLogin><Passkeys/></RequireLogin> }
                    />
                    <Route
                        path=path!("/away")
                        view=|| view! { <RequireLogin><Away/></RequireLogin> }
                    />
                </FlatRoutes>
            </main>
        </Router>
    }
}

/// After the console moves to another page, the element that had the keyboard focus (the
/// link followed, the form sent) is usually gone, and the focus with it: then it goes to
/// `<main>`, so that the next Tab continues in the new page's content and a screen reader
/// reads from there, as after a page load. A focus the new page placed itself (a field with
/// `autofocus`) stays where it is.
#[component]
fn FocusAfterNavigation() -> impl IntoView {
    let location = use_location();
    Effect::new(move |previous: Option<String>| {
        let path = location.pathname.get();
        if previous.is_some_and(|p| p != path) {
            // After the new page is in the document.
            request_animation_frame(|| {
                let Some(doc) = web_sys::window().and_then(|w| w.document()) else {
                    return;
                };
                let lost = match (doc.active_element(), doc.body()) {
                    (None, _) => true,
                    (Some(active), Some(body)) => {
                        active == *body.unchecked_ref::<web_sys::Element>()
                    }
                    (Some(_), None) => false,
                };
                if lost
                    && let Some(main) = doc
                        .get_element_by_id("main")
                        .and_then(|m| m.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    let _ = main.focus();
                }
            });
        }
        path
    });
}
