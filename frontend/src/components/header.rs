//! The top bar: the Hanko mark, the main navigation, who is logged in, the language switch
//! and logging out.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::components::lang_switch::LangSwitch;
use crate::i18n::tr;
use crate::{api, auth, oidc};

#[component]
pub fn Header() -> impl IntoView {
    view! {
        // A part of this very page: rel="external" leaves it to the browser, which scrolls
        // there and moves the keyboard focus too.
        <a class="skip-link" href="#main" rel="external">{tr(|t| t.skip_to_content)}</a>
        <header class="site-header">
            <div class="header-inner">
                <A href="/" exact=true attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"判"</span>
                    <span class="brand-name">{tr(|t| t.app_name)}</span>
                </A>
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
            <A href="/" exact=true attr:id="nav-inbox">
                {tr(|t| t.nav_inbox)}
            </A>
            <A href="/approvals" attr:id="nav-all">
                {tr(|t| t.nav_all)}
            </A>
            <A href="/history" attr:id="nav-history">
                {tr(|t| t.nav_history)}
            </A>
            <A href="/passkeys" attr:id="nav-passkeys">
                {tr(|t| t.nav_passkeys)}
            </A>
            <A href="/away" attr:id="nav-away">
                {crate::i18n::tr_away(|t| t.nav)}
            </A>
        </nav>
    }
}

#[component]
fn UserMenu() -> impl IntoView {
    let me = api::me_once();
    let navigate = use_navigate();
    let logout = move |_| {
        // The provider's logout ends its own session too, and sends the browser back to
        // the login page, a fresh load that finds no tokens.
        if let Some((url, w)) = oidc::logout_url().zip(web_sys::window()) {
            auth::forget_stored();
            if w.location().assign(&url).is_ok() {
                return;
            }
        }
        // To the login page first, so that the page being left does not send the person
        // there with itself as `next`.
        navigate("/login", Default::default());
        auth::logout();
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
