//! `/login`: "Log in with <provider>" when the server offers Cognito or another OIDC
//! provider, and the dev login (email and password) when that is on. After logging in, the
//! person goes back to `?next=` when it is a path on this site, else to the inbox. Sent here
//! from a page (a deep link) with only the provider to log in with, the browser goes straight
//! on to the provider.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};

use crate::api::{self, ApiError};
use crate::i18n::{t, tr};
use crate::{auth, oidc};

#[component]
pub fn Login() -> impl IntoView {
    let query = use_query_map();
    let next = Memo::new(move |_| auth::safe_next(query.read().get_str("next")));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if auth::logged_in() {
            // In place of the login page: Back should not come here once logged in.
            let options = NavigateOptions {
                replace: true,
                ..Default::default()
            };
            navigate(&next.get_untracked(), options);
        }
    });

    crate::title::follow(|| t().login_submit.to_string());

    // Until /api/config answers, nothing is offered; if it cannot be read, the dev form is.
    let dev_on = move || oidc::config().is_some_and(|c| !c.as_ref().is_ok_and(|c| !c.login.dev));
    let oidc_on =
        move || oidc::config().is_some_and(|c| c.as_ref().is_ok_and(|c| c.login.oidc.is_some()));

    let email = RwSignal::new(String::new());
    // `autofocus` works once per document load; the console comes back here without one
    // (logging out, a session that ended), so the field takes the focus itself.
    let email_field = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(field) = email_field.get() {
            let _ = field.focus();
        }
    });
    let password = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let (e, p) = (email.get_untracked(), password.get_untracked());
        if e.trim().is_empty() || p.is_empty() {
            error.set(Some(t().login_missing.into()));
            return;
        }
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let result = api::login(e.trim().to_string(), p).await;
            busy.set(false);
            match result {
                Ok(login) => {
                    password.set(String::new());
                    auth::store(&login);
                }
                Err(ApiError::Unauthorized(_)) => error.set(Some(t().login_wrong.into())),
                Err(e) => error.set(Some(e.message())),
            }
        });
    };

    view! {
        <section class="login-page" aria-labelledby="login-title">
            <div class="login-card card">
                <div class="login-mark" aria-hidden="true">"判"</div>
                <h1 id="login-title">{tr(|t| t.login_title)}</h1>
                <p class="lead">{tr(|t| t.login_intro)}</p>
                <Show when=auth::ended_by_expiry>
                    <p class="notice" id="session-ended" role="status">{tr(|t| t.login_expired)}</p>
                </Show>
                {move || auth::refusal().map(|reason| view! {
                    <p class="notice" id="session-refused" role="alert">{reason}</p>
                })}
                <OidcButton next=next/>
                <Show when=dev_on>
                <Show when=oidc_on>
                    <p class="login-or">{tr(|t| t.login_or)}</p>
                </Show>
                <form id="login-form" on:submit=submit novalidate>
                    <div class="field">
                        <label for="login-email">{tr(|t| t.email)}</label>
                        <input
                            id="login-email"
                            name="email"
                            type="email"
                            autocomplete="username"
                            inputmode="email"
                            required
                            autofocus
                            node_ref=email_field
                            bind:value=email
                        />
                    </div>
                    <div class="field">
                        <label for="login-password">{tr(|t| t.password)}</label>
                        <input
                            id="login-password"
                            name="password"
                            type="password"
                            autocomplete="current-password"
                            required
                            bind:value=password
                        />
                    </div>
                    {move || {
                        error
                            .get()
                            .map(|message| {
                                view! {
                                    <p class="field-error" id="login-error" role="alert">{message}</p>
                                }
                            })
                    }}
                    <button type="submit" id="login-submit" class="button primary wide" disabled=move || busy.get()>
                        {move || if busy.get() { t().logging_in } else { t().login_submit }}
                    </button>
                </form>
                </Show>
            </div>
        </section>
    }
}

/// "Log in with <provider>", when the server offers one. Goes there by itself when the
/// person was sent here from a page and the provider is the only way to log in.
#[component]
fn OidcButton(next: Memo<String>) -> impl IntoView {
    let busy = RwSignal::new(false);
    let error = RwSignal::new(false);
    let start = move || {
        let Some(o) = oidc::oidc_untracked() else {
            return;
        };
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(false);
        spawn_local(async move {
            if oidc::begin(&o, &next.get_untracked()).await.is_err() {
                busy.set(false);
                error.set(true);
            }
        });
    };
    let auto_started = StoredValue::new(false);
    Effect::new(move |_| {
        let only_oidc = oidc::config().is_some_and(|c| {
            c.as_ref()
                .is_ok_and(|c| c.login.oidc.is_some() && !c.login.dev)
        });
        // Not after a refusal: the provider would hand back a login the server refuses again.
        let refused = auth::refusal().is_some();
        if only_oidc
            && !auth::logged_in()
            && !refused
            && next.get() != "/"
            && !auto_started.get_value()
        {
            auto_started.set_value(true);
            start();
        }
    });
    move || {
        let o = oidc::config()
            .and_then(|c| c.ok())
            .and_then(|c| c.login.oidc)?;
        let name = oidc::provider_name(&o);
        let label = name.clone();
        Some(view! {
            <div class="login-oidc">
                <button
                    type="button"
                    id="login-oidc"
                    class="button primary wide"
                    disabled=move || busy.get()
                    on:click=move |_| start()
                >
                    {move || {
                        if busy.get() { (t().login_redirecting)(&label) } else { (t().login_with)(&name) }
                    }}
                </button>
                <Show when=move || error.get()>
                    <p class="field-error" id="login-oidc-error" role="alert">{tr(|t| t.login_start_failed)}</p>
                </Show>
            </div>
        })
    }
}
