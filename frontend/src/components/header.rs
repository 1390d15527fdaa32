//! The top bar: the Hanko mark, the main navigation, who is logged in, the language switch
//! and logging out.

use leptos::prelude::*;

use crate::components::lang_switch::LangSwitch;
use crate::i18n::tr;
use crate::router::{self, aria_current};
use crate::{api, auth, oidc};

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">{tr(|t| t.skip_to_content)}</a>
        <header class="site-header">
            <div class="header-inner">
                <a href="/" class="brand" aria-current=aria_current("/", true)>
                    <span class="brand-mark" aria-hidden="true">"判"</span>
                    <span class="brand-name">{tr(|t| t.app_name)}</span>
                </a>
                <Show when=auth::logged_in>
                    <MainNav/>
                </Show>
                <div class="header-tools">
                    <LangSwitch/>
                    <Show when=auth::logged_in>
                        <UserMenu/>
                    </Show>
                </div>
            </div>
        </header>
    }
}

#[component]
fn MainNav() -> impl IntoView {
    view! {
        <nav class="main-nav" aria-label=tr(|t| t.nav_label)>
            <a href="/" id="nav-inbox" aria-current=aria_current("/", true)>
                {tr(|t| t.nav_inbox)}
            </a>
            <a href="/approvals" id="nav-all" aria-current=aria_current("/approvals", false)>
                {tr(|t| t.nav_all)}
            </a>
            <a href="/history" id="nav-history" aria-current=aria_current("/history", false)>
                {tr(|t| t.nav_history)}
            </a>
        </nav>
    }
}

#[component]
fn UserMenu() -> impl IntoView {
    let me = api::me_once();
    let logout = move |_| {
        // The provider's logout ends its own session too, and sends the browser back to
        // the login page, a fresh load that finds no tokens.
        match oidc::logout_url().zip(web_sys::window()) {
            Some((url, w)) => {
                auth::forget_stored();
                if w.location().assign(&url).is_err() {
                    auth::logout();
                    router::navigate("/login", false);
                }
            }
            None => {
                auth::logout();
                router::navigate("/login", false);
            }
        }
    };
    view! {
        <div class="user">
            {move || {
                me.get()
                    .and_then(Result::ok)
                    .map(|me| {
                        view! {
                            <span class="user-name" id="current-user" title=me.email.clone()>
                                <span class="visually-hidden">{tr(|t| t.signed_in_as)} " "</span>
                                {me.name}
                            </span>
                        }
                    })
            }}
            <button type="button" id="logout" class="button ghost" on:click=logout>
                {tr(|t| t.logout)}
            </button>
        </div>
    }
}
