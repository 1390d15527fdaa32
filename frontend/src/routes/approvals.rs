//! `/approvals`: every request, filtered by status with `?status=`.

use hanko_api::RequestStatus;
use leptos::prelude::*;

use crate::api::ListQuery;
use crate::components::approval_list::ApprovalList;
use crate::components::status_filter::StatusFilter;
use crate::i18n::{t, tr};
use crate::routes::status_param;

#[component]
pub fn Approvals() -> impl IntoView {
    let status = status_param();
    let query = Signal::derive(move || ListQuery {
        status: status.get(),
        mine: false,
    });
    crate::title::follow(|| t().all_title.to_string());
    view! {
        <section class="page" aria-labelledby="page-title">
            <header class="page-header">
                <h1 id="page-title">{tr(|t| t.all_title)}</h1>
                <p class="lead">{tr(|t| t.all_intro)}</p>
            </header>
            <StatusFilter
                base="/approvals"
                all_label=|| t().filter_all
                options=&RequestStatus::ALL
                current=status
            />
            <ApprovalList query empty_title=|| t().all_empty/>
        </section>
    }
}
