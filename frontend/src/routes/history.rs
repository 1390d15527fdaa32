//! `/history`: the finished requests (approved, rejected, expired, closed), with who
//! decided and when.

use hanko_api::RequestStatus;
use leptos::prelude::*;

use crate::api::ListQuery;
use crate::components::approval_list::ApprovalList;
use crate::components::audit_export::AuditExport;
use crate::components::status_filter::StatusFilter;
use crate::i18n::{t, tr};
use crate::routes::status_param;

const FINISHED: [RequestStatus; 4] = [
    RequestStatus::Approved,
    RequestStatus::Rejected,
    RequestStatus::Expired,
    RequestStatus::Closed,
];

#[component]
pub fn History() -> impl IntoView {
    let param = status_param();
    let status = Signal::derive(move || param.get().filter(|s| *s != RequestStatus::Pending));
    let query = Signal::derive(move || ListQuery {
        status: status.get(),
        mine: false,
    });
    crate::title::follow(|| t().history_title.to_string());
    view! {
        <section class="page" aria-labelledby="page-title">
            <header class="page-header">
                <h1 id="page-title">{tr(|t| t.history_title)}</h1>
                <p class="lead">{tr(|t| t.history_intro)}</p>
            </header>
            <StatusFilter
                base="/history"
                all_label=|| t().filter_finished
                options=&FINISHED
                current=status
            />
            <ApprovalList query empty_title=|| t().history_empty finished_only=true/>
            <AuditExport/>
        </section>
    }
}
