//! A request's status as a small coloured label.

use hanko_api::RequestStatus;
use leptos::prelude::*;

use crate::i18n;

#[component]
pub fn StatusBadge(status: RequestStatus) -> impl IntoView {
    view! {
        <span class=format!("badge status-{}", status.as_str()) data-status=status.as_str()>
            {move || i18n::status_name(status)}
        </span>
    }
}
