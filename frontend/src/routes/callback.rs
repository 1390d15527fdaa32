//! `/auth/callback`: where the identity provider sends the browser back with `code` and
//! `state`. A matching `state` gets the code exchanged and the person goes on to the page
//! they wanted; anything else is refused with the reason, and nobody is logged in.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::i18n::{t, tr};
use crate::oidc::{self, CallbackError, Failed};
use crate::{auth, router};

#[component]
pub fn AuthCallback() -> impl IntoView {
    crate::title::follow(|| t().callback_title.to_string());
    let failed = RwSignal::new(None::<Failed>);
    let code = router::query_untracked("code");
    let state = router::query_untracked("state");
    let error = router::query_untracked("error");
    let description = router::query_untracked("error_description");
    spawn_local(async move {
        match oidc::finish(code, state, error, description).await {
            Ok(next) => router::navigate(&next, true),
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
                            <a class="button primary wide" id="callback-retry" href=again>
                                {tr(|t| t.callback_retry)}
                            </a>
                        }
                            .into_any()
                    }
                }}
            </div>
        </section>
    }
}
