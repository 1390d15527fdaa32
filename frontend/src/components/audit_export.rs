//! The audit export on the history page, shown to members of the auditor group: a period,
//! a format, and a download made from the api's answer (the api needs the bearer token,
//! so a plain link cannot fetch it).

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;

use crate::api::{self, ApiError};
use crate::i18n::{t, tr};

/// Today (UTC) moved by `days`, as `YYYY-MM-DD`. (chrono's own clock is not available in
/// the browser; the JavaScript one is.)
fn today_plus(days: i64) -> String {
    let ms = js_sys::Date::now() as i64 + days * 86_400_000;
    crate::clock::iso_date(ms.div_euclid(1000))
}

/// Hands `text` to the browser as a file download.
fn save(text: &str, filename: &str, mime: &str) -> Option<()> {
    let parts = js_sys::Array::of1(&text.into());
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options).ok()?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).ok()?;
    let doc = web_sys::window()?.document()?;
    let a: web_sys::HtmlAnchorElement = doc.create_element("a").ok()?.dyn_into().ok()?;
    a.set_href(&url);
    a.set_download(filename);
    a.click();
    web_sys::Url::revoke_object_url(&url).ok()
}

#[component]
pub fn AuditExport() -> impl IntoView {
    let me = api::me_once();
    let from = RwSignal::new(today_plus(-30));
    let to = RwSignal::new(today_plus(1));
    let format = RwSignal::new("csv".to_string());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<ApiError>);

    let download = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let (f, tt, fmt) = (
            from.get_untracked(),
            to.get_untracked(),
            format.get_untracked(),
        );
        spawn_local(async move {
            match api::audit_export(&f, &tt, &fmt).await {
                Ok(text) => {
                    let mime = if fmt == "csv" {
                        "text/csv;charset=utf-8"
                    } else {
                        "application/json"
                    };
                    save(&text, &format!("hanko-audit-{f}-{tt}.{fmt}"), mime);
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(false);
        });
    };

    move || {
        let can = me
            .get()
            .and_then(|r| r.as_ref().ok().map(|m| m.can_audit))
            .unwrap_or(false);
        can.then(|| {
            view! {
                <section class="audit-export" aria-labelledby="audit-title">
                    <h2 id="audit-title">{tr(|t| t.audit_title)}</h2>
                    <p class="hint">{tr(|t| t.audit_intro)}</p>
                    <form id="audit-form" class="audit-form" on:submit=download>
                        <label>
                            {tr(|t| t.audit_from)}
                            <input id="audit-from" type="date" required
                                prop:value=from on:input=move |e| from.set(event_target_value(&e))/>
                        </label>
                        <label>
                            {tr(|t| t.audit_to)}
                            <input id="audit-to" type="date" required
                                prop:value=to on:input=move |e| to.set(event_target_value(&e))/>
                        </label>
                        <label>
                            {tr(|t| t.audit_format)}
                            <select id="audit-format" prop:value=format
                                on:change=move |e| format.set(event_target_value(&e))>
                                <option value="csv">"CSV"</option>
                                <option value="json">"JSON"</option>
                            </select>
                        </label>
                        <button id="audit-download" type="submit" class="button secondary"
                            disabled=move || busy.get()>
                            {move || if busy.get() { t().audit_downloading } else { t().audit_download }}
                        </button>
                    </form>
                    {move || error.get().map(|e| view! {
                        <p class="error-message" id="audit-error" role="alert" data-code=e.code().map(str::to_string)>
                            {e.message()}
                        </p>
                    })}
                </section>
            }
        })
    }
}
