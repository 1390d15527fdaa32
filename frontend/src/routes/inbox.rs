//! `/`: the requests waiting for my vote, newest first.

use leptos::prelude::*;

use crate::api::ListQuery;
use crate::components::approval_list::ApprovalList;
use crate::i18n::{t, tr};

#[component]
pub fn Inbox() -> impl IntoView {
    let query = Signal::derive(|| ListQuery {
        status: Some(hanko_api::RequestStatus::Pending),
        mine: true,
    });
    crate::title::follow(|| t().inbox_title.to_string());
    view! {
        <section class="page" aria-labelledby="page-title">
            <header class="page-header">
                <h1 id="page-title">{tr(|t| t.inbox_title)}</h1>
                <p class="lead">{tr(|t| t.inbox_intro)}</p>
            </header>
            <ApprovalList
                query
                empty_title=|| t().inbox_empty
                empty_hint=|| t().inbox_empty_hint
            />
        </section>
    }
}
