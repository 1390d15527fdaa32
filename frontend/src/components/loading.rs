//! A quiet "Loading…" line, announced to screen readers.

use leptos::prelude::*;

use crate::i18n::tr;

#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {tr(|t| t.loading)}
        </p>
    }
}
