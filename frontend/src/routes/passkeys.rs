//! `/passkeys`: the person's passkeys. Add one (the browser's passkey prompt), see when each
//! was added and last used, remove one.

use hanko_api::{PasskeyList, PasskeyRegistration};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::components::relative_time::RelativeTime;
use crate::i18n::{t, tr};
use crate::webauthn::{self, PasskeyError};

/// Registers a passkey named `name`: the api's options, the browser's prompt, the api again.
async fn add(name: String) -> Result<(), String> {
    let options = api::passkey_registration().await.map_err(|e| e.message())?;
    let credential = webauthn::create(&options.public_key)
        .await
        .map_err(|e| match e {
            PasskeyError::Unsupported => t().passkey_unsupported.to_string(),
            PasskeyError::Failed(why) => why,
        })?;
    api::register_passkey(&PasskeyRegistration {
        registration_id: options.registration_id,
        name,
        credential,
    })
    .await
    .map(|_| ())
    .map_err(|e| e.message())
}

#[component]
pub fn Passkeys() -> impl IntoView {
    crate::title::follow(|| t().passkeys_title.to_string());
    let list = RwSignal::new(None::<Result<PasskeyList, ApiError>>);
    let load = move || {
        spawn_local(async move {
            list.set(Some(api::passkeys().await));
        })
    };
    load();
    let name = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let notice = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let n = name.get_untracked().trim().to_string();
        busy.set(true);
        error.set(None);
        notice.set(false);
        spawn_local(async move {
            let added = add(n).await;
            busy.set(false);
            match added {
                Ok(()) => {
                    name.set(String::new());
                    notice.set(true);
                    load();
                }
                Err(why) => error.set(Some(why)),
            }
        });
    };
    let remove = move |id: String| {
        notice.set(false);
        spawn_local(async move {
            if let Err(e) = api::remove_passkey(&id).await {
                error.set(Some(e.message()));
            }
            load();
        });
    };

    view! {
        <section class="page" aria-labelledby="page-title">
            <header class="page-header">
                <h1 id="page-title">{tr(|t| t.passkeys_title)}</h1>
                <p class="lead">{tr(|t| t.passkeys_intro)}</p>
            </header>
            <section class="card">
                <form id="passkey-form" on:submit=submit>
                    <div class="field">
                        <label for="passkey-name">{tr(|t| t.passkey_name)}</label>
                        <input
                            id="passkey-name"
                            name="name"
                            type="text"
                            required=true
                            maxlength="64"
                            autocomplete="off"
                            aria-describedby="passkey-name-hint"
                            bind:value=name
                        />
                        <p class="hint" id="passkey-name-hint">{tr(|t| t.passkey_name_hint)}</p>
                    </div>
                    <Show when=move || error.with(Option::is_some)>
                        <div class="error-panel" id="passkey-error" role="alert">
                            <h2 class="error-title">{tr(|t| t.passkey_add_failed)}</h2>
                            <p class="error-message">{move || error.get().unwrap_or_default()}</p>
                        </div>
                    </Show>
                    <Show when=move || notice.get()>
                        <p class="notice success" id="passkey-notice" role="status">
                            {tr(|t| t.passkey_added)}
                        </p>
                    </Show>
                    <button
                        type="submit"
                        id="passkey-add"
                        class="button approve"
                        disabled=move || busy.get()
                    >
                        {move || if busy.get() { t().passkey_adding } else { t().passkey_add }}
                    </button>
                </form>
            </section>
            <section class="card" aria-labelledby="passkey-list-title">
                <h2 id="passkey-list-title" class="visually-hidden">{tr(|t| t.passkeys_title)}</h2>
                {move || match list.get() {
                    None => view! { <p>{tr(|t| t.sending)}</p> }.into_any(),
                    Some(Err(e)) => view! {
                        <p class="error-message" role="alert">{e.message()}</p>
                    }
                    .into_any(),
                    Some(Ok(l)) if l.items.is_empty() => view! {
                        <p id="passkeys-none">{tr(|t| t.passkeys_none)}</p>
                    }
                    .into_any(),
                    Some(Ok(l)) => view! {
                        <ul id="passkey-list" class="passkey-list">
                            {l
                                .items
                                .into_iter()
                                .map(|p| {
                                    let id = p.id.clone();
                                    view! {
                                        <li class="passkey" data-id=p.id.clone()>
                                            <span class="passkey-name">{p.name.clone()}</span>
                                            " · "
                                            {tr(|t| t.passkey_created)}
                                            " "
                                            <RelativeTime at=p.created_at/>
                                            " · "
                                            {tr(|t| t.passkey_last_used)}
                                            " "
                                            {match p.last_used_at {
                                                Some(at) => view! { <RelativeTime at/> }.into_any(),
                                                None => view! {
                                                    <span>{tr(|t| t.passkey_never_used)}</span>
                                                }
                                                .into_any(),
                                            }}
                                            <button
                                                type="button"
                                                class="button ghost passkey-remove"
                                                aria-label=format!("{} {}", t().passkey_remove, p.name)
                                                on:click=move |_| remove(id.clone())
                                            >
                                                {tr(|t| t.passkey_remove)}
                                            </button>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                    .into_any(),
                }}
            </section>
        </section>
    }
}
