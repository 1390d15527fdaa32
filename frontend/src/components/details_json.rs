//! The JSON the workflow sent, pretty-printed as text (never as HTML), in a disclosure that
//! starts closed when the payload is large.

use hanko_api::Details;
use leptos::prelude::*;

use crate::i18n::{t, tr};

/// Payloads longer than this many lines start collapsed.
const LARGE_LINES: usize = 30;

#[component]
pub fn DetailsJson(details: Details) -> impl IntoView {
    let empty = match &details {
        Details::Null => true,
        Details::Object(o) => o.is_empty(),
        Details::Array(a) => a.is_empty(),
        _ => false,
    };
    if empty {
        return view! { <p class="muted" id="request-details-empty">{tr(|t| t.no_details)}</p> }
            .into_any();
    }
    let text = serde_json::to_string_pretty(&details).unwrap_or_default();
    let lines = text.lines().count();
    let large = lines > LARGE_LINES || text.len() > 4000;
    view! {
        <details class="details-json" id="request-details" open=!large>
            <summary>{move || (t().details_show)(lines)}</summary>
            <pre tabindex="0"><code>{text}</code></pre>
        </details>
    }
    .into_any()
}
