//! `/away`, "While I am away": the caller's delegation (who decides for them, from when
//! until when), a form to set it, a button to end it, and those the caller stands in for.
//! Times are entered and shown in the browser's time zone.

use chrono::{DateTime, Utc};
use hanko_api::{DelegationInfo, DelegationStatus, SetDelegation};
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsValue;

use crate::api::{self, ApiError};
use crate::components::error_panel::ErrorPanel;
use crate::components::loading::Loading;
use crate::components::relative_time::DateTimeText;
use crate::i18n::{away, tr_away};

const DAY_MS: f64 = 86_400_000.0;

/// `ms` as a `datetime-local` value in the browser's time zone: `2026-12-05T22:44`.
fn local_input(ms: f64) -> String {
    let d = js_sys::Date::new(&JsValue::from_f64(ms));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// The moment a `datetime-local` value names in the browser's time zone (JavaScript reads
/// a date and time without an offset as local time).
fn from_local_input(value: &str) -> Option<DateTime<Utc>> {
    if value.trim().is_empty() {
        return None;
    }
    let ms = js_sys::Date::new(&JsValue::from_str(value)).get_time();
    (!ms.is_nan())
        .then(|| DateTime::from_timestamp_millis(ms as i64))
        .flatten()
}

#[component]
pub fn Away() -> impl IntoView {
    crate::title::follow(|| away().title.to_string());
    let status = RwSignal::new(None::<Result<DelegationStatus, ApiError>>);
    let load = move || {
        spawn_local(async move {
            let answer = api::delegation().await;
            let _ = status.try_set(Some(answer));
        });
    };
    load();

    let now = js_sys::Date::now();
    let delegate = RwSignal::new(String::new());
    let from = RwSignal::new(local_input(now));
    let until = RwSignal::new(local_input(now + 7.0 * DAY_MS));
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);
    let bad_time = RwSignal::new(false);
    let notice = RwSignal::new(None::<&'static str>);

    let save = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        error.set(None);
        notice.set(None);
        let times =
            from_local_input(&from.get_untracked()).zip(from_local_input(&until.get_untracked()));
        bad_time.set(times.is_none());
        let Some((f, u)) = times else {
            return;
        };
        let body = SetDelegation {
            delegate: delegate.get_untracked().trim().to_string(),
            from: f,
            until: u,
        };
        busy.set(true);
        spawn_local(async move {
            match api::set_delegation(&body).await {
                Ok(s) => {
                    status.set(Some(Ok(s)));
                    notice.set(Some(away().saved));
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let end = Callback::new(move |_: ()| {
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        notice.set(None);
        spawn_local(async move {
            match api::end_delegation().await {
                Ok(()) => {
                    notice.set(Some(away().ended));
                    load();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    });

    view! {
        <section class="page away-page" aria-labelledby="page-title">
            <header class="page-header">
                <h1 id="page-title">{tr_away(|t| t.title)}</h1>
                <p class="lead">{tr_away(|t| t.intro)}</p>
                <p class="hint">{tr_away(|t| t.rules)}</p>
            </header>
            {move || notice.get().map(|words| view! {
                <p class="notice success" id="delegation-notice" role="status">{words}</p>
            })}
            {move || match status.get() {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorPanel error=e on_retry=Callback::new(move |_| load())/> }.into_any(),
                Some(Ok(s)) => view! { <Current status=s busy on_end=end/> }.into_any(),
            }}
            <section class="card" aria-labelledby="delegation-form-title">
                <h2 id="delegation-form-title">{tr_away(|t| t.form_title)}</h2>
                <form id="delegation-form" class="delegation-form" on:submit=save>
                    <div class="field">
                        <label for="delegation-delegate">{tr_away(|t| t.delegate)}</label>
                        <input
                            id="delegation-delegate"
                            name="delegate"
                            type="email"
                            autocomplete="email"
                            required
                            aria-describedby="delegation-delegate-hint"
                            prop:value=delegate
                            on:input=move |e| delegate.set(event_target_value(&e))
                        />
                        <p class="hint" id="delegation-delegate-hint">{tr_away(|t| t.delegate_hint)}</p>
                    </div>
                    <div class="field-row">
                        <div class="field">
                            <label for="delegation-from">{tr_away(|t| t.from)}</label>
                            <input
                                id="delegation-from"
                                name="from"
                                type="datetime-local"
                                required
                                aria-describedby="delegation-times-hint"
                                aria-invalid=move || bad_time.get().then_some("true")
                                prop:value=from
                                on:input=move |e| from.set(event_target_value(&e))
                            />
                        </div>
                        <div class="field">
                            <label for="delegation-until">{tr_away(|t| t.until)}</label>
                            <input
                                id="delegation-until"
                                name="until"
                                type="datetime-local"
                                required
                                aria-describedby="delegation-times-hint"
                                aria-invalid=move || bad_time.get().then_some("true")
                                prop:value=until
                                on:input=move |e| until.set(event_target_value(&e))
                            />
                        </div>
                    </div>
                    <p class="hint" id="delegation-times-hint">{tr_away(|t| t.times_hint)}</p>
                    <Show when=move || bad_time.get()>
                        <p class="field-error" role="alert">{tr_away(|t| t.bad_time)}</p>
                    </Show>
                    {move || error.get().map(|e| view! {
                        <div class="error-panel" id="delegation-error" role="alert" data-code=e.code().map(str::to_string)>
                            <h3 class="error-title">{tr_away(|t| t.failed)}</h3>
                            <p class="error-message">{e.message()}</p>
                        </div>
                    })}
                    <div class="form-actions">
                        <button id="delegation-save" type="submit" class="button approve" disabled=move || busy.get()>
                            {move || if busy.get() { away().saving } else { away().save }}
                        </button>
                    </div>
                </form>
            </section>
        </section>
    }
}

/// The caller's delegation and those they stand in for.
#[component]
fn Current(status: DelegationStatus, busy: RwSignal<bool>, on_end: Callback<()>) -> impl IntoView {
    let DelegationStatus {
        delegation,
        standing_in_for,
    } = status;
    view! {
        <section class="card" aria-labelledby="delegation-current-title">
            <h2 id="delegation-current-title">{tr_away(|t| t.current_title)}</h2>
            {match delegation {
                None => view! { <p class="muted" id="delegation-none">{tr_away(|t| t.none)}</p> }.into_any(),
                Some(d) => {
                    let who = d.delegate.clone();
                    view! {
                        <div id="delegation-current" data-delegate=d.delegate.clone() data-active=d.active.to_string()>
                            <p>
                                <strong>{move || (away().decides_for_you)(&who)}</strong>
                                " "
                                <span class=if d.active { "tag voted" } else { "tag" }>
                                    {if d.active { tr_away(|t| t.active) } else { tr_away(|t| t.upcoming) }}
                                </span>
                            </p>
                            <Window d=d.clone()/>
                            <button type="button" id="delegation-end" class="button secondary"
                                disabled=move || busy.get() on:click=move |_| on_end.run(())>
                                {tr_away(|t| t.end)}
                            </button>
                        </div>
                    }.into_any()
                }
            }}
        </section>
        <section class="card" aria-labelledby="standing-in-title">
            <h2 id="standing-in-title">{tr_away(|t| t.standing_title)}</h2>
            {if standing_in_for.is_empty() {
                view! { <p class="muted" id="standing-in-none">{tr_away(|t| t.standing_none)}</p> }.into_any()
            } else {
                view! {
                    <ul class="standing-in" id="standing-in">
                        {standing_in_for.into_iter().map(|d| view! {
                            <li data-delegator=d.delegator.clone()>
                                <strong>{d.delegator.clone()}</strong>
                                " "
                                <span class=if d.active { "tag voted" } else { "tag" }>
                                    {if d.active { tr_away(|t| t.active) } else { tr_away(|t| t.upcoming) }}
                                </span>
                                <Window d=d.clone()/>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

/// From when until when, in the browser's time zone.
#[component]
fn Window(d: DelegationInfo) -> impl IntoView {
    view! {
        <dl class="facts">
            <div>
                <dt>{tr_away(|t| t.from)}</dt>
                <dd class="delegation-from"><DateTimeText at=d.from/></dd>
            </div>
            <div>
                <dt>{tr_away(|t| t.until)}</dt>
                <dd class="delegation-until"><DateTimeText at=d.until/></dd>
            </div>
        </dl>
    }
}
