//! Links that filter a list by status (`?status=…`): plain links, so each filter has its
//! own address and works with the keyboard and the back button. The router follows them
//! in place like any link; they are `<a>` rather than `<A>` because `<A>` marks a link
//! current by its path alone, and here the query is what differs.

use hanko_api::RequestStatus;
use leptos::prelude::*;

use crate::i18n::{self, tr};

#[component]
pub fn StatusFilter(
    /// The page the links lead to, e.g. "/approvals".
    base: &'static str,
    /// The first link's label (no status filter).
    all_label: fn() -> &'static str,
    /// The statuses offered, after the first link.
    options: &'static [RequestStatus],
    /// The status now shown (`None`: the first link).
    #[prop(into)]
    current: Signal<Option<RequestStatus>>,
) -> impl IntoView {
    let link = move |status: Option<RequestStatus>| {
        let href = match status {
            Some(s) => format!("{base}?status={}", s.as_str()),
            None => base.to_string(),
        };
        let id = format!("filter-{}", status.map_or("all", RequestStatus::as_str));
        view! {
            <li>
                <a
                    href=href
                    id=id
                    class="filter"
                    aria-current=move || (current.get() == status).then_some("page")
                >
                    {move || match status {
                        Some(s) => i18n::status_name(s),
                        None => all_label(),
                    }}
                </a>
            </li>
        }
    };
    view! {
        <nav class="status-filter" aria-label=tr(|t| t.filter_label)>
            <ul>
                {link(None)}
                {options.iter().map(|s| link(Some(*s))).collect_view()}
            </ul>
        </nav>
    }
}
