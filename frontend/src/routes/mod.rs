//! The pages of the console, one per route.

pub mod approvals;
pub mod callback;
pub mod delegation;
pub mod history;
pub mod inbox;
pub mod login;
pub mod not_found;
pub mod passkeys;
pub mod request;

use hanko_api::RequestStatus;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The `?status=` of the current address, when it names a status.
pub fn status_param() -> Memo<Option<RequestStatus>> {
    let query = use_query_map();
    Memo::new(move |_| {
        query
            .read()
            .get_str("status")
            .and_then(RequestStatus::parse)
    })
}
