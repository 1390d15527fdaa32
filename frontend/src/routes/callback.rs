//! `/auth/callback`: where the identity provider sends the browser back with `code` and
//! `state`. A matching `state` gets the code exchanged and the person goes on to the page
//! they wanted; anything else is refused with the reason, and nobody is logged in.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::components::A;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::auth;
use crate::i18n::{t, tr};
use crate::oidc::{self, CallbackError, Failed};

#[component]
pub fn AuthCallback() -> impl IntoView {
    crate::title::follow(|| t().callback_title.to_string());
    let failed = RwSignal::new(None::<Failed>);
    let query = use_query_map().get_untracked();
    let code = query.get("code");
    let state = query.get("state");
    let error = query.get("error");
    let description = query.get("error_description");
    let navigate = use_navigate();
    spawn_local(async move {
        match oidc::finish(code, state, error, description).await {
            // In place of the callback: its code is spent, and Back should not return to it.
            Ok(next) => navigate(
                &next,
                NavigateOptions {
                    replace: true,
                    ..Default::default()
                },
            ),
            Err(f) => failed.set(Some(f)),
        }
    });

    view! {
        <section class="login-page" aria-labelledby="callback-title">
            <div class="login-card card">
                <div class="login-mark" aria-hidden="true">"判"</div>
                {move || match failed.get() {
                    None => {
                        view! {
                            <h1 id="callback-title">{tr(|t| t.callback_title)}</h1>
                            <p class="lead" role="status">
                                <span class="spinner" aria-hidden="true"></span>
                            </p>
                        }
                            .into_any()
                    }
                    Some(f) => {
                        let reason = f.error.clone();
                        let kind = match &reason {
                            CallbackError::State => "state",
                            CallbackError::Provider(_) => "provider",
                            CallbackError::Exchange => "exchange",
                        };
                        let again = auth::login_path(&f.next);
                        view! {
                            <h1 id="callback-title">{tr(|t| t.callback_failed)}</h1>
                            <p class="field-error" id="callback-error" role="alert" data-reason=kind>
                                {move || match &reason {
                                    CallbackError::State => t().callback_state.to_string(),
                                    CallbackError::Provider(words) => {
                                        format!("{} {words}", t().callback_provider)
                                    }
                                    CallbackError::Exchange => t().callback_exchange.to_string(),
                                }}
                            </p>
                            <A href=again attr:class="button primary wide" attr:id="callback-retry">
                                {tr(|t| t.callback_retry)}
                            </A>
                        }
                            .into_any()
                    }
                }}
            </div>
        </section>
    }
}
