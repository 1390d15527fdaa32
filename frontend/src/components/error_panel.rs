//! An api error in words, with a button to try again.

use leptos::prelude::*;

use crate::api::ApiError;
use crate::i18n::tr;

#[component]
pub fn ErrorPanel(
    /// What went wrong.
    error: ApiError,
    /// Called by the "Try again" button.
    on_retry: Callback<()>,
) -> impl IntoView {
    let code = error.code().map(str::to_string);
    view! {
        <div class="error-panel" role="alert" data-code=code>
            <h2 class="error-title">{tr(|t| t.error_title)}</h2>
            <p class="error-message">{move || error.message()}</p>
            <button type="button" class="button secondary retry" on:click=move |_| on_retry.run(())>
                {tr(|t| t.retry)}
            </button>
        </div>
    }
}
