//! Any other address.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::i18n::{t, tr};

#[component]
pub fn NotFound() -> impl IntoView {
    crate::title::follow(|| t().not_found_title.to_string());
    view! {
        <section class="page narrow" aria-labelledby="page-title">
            <h1 id="page-title">{tr(|t| t.not_found_title)}</h1>
            <p>{tr(|t| t.not_found_body)}</p>
            <p>
                <A href="/">{tr(|t| t.back_to_inbox)}</A>
            </p>
        </section>
    }
}
