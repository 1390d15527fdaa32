//! The pages of the console, one per route.

pub mod approvals;
pub mod callback;
pub mod history;
pub mod inbox;
pub mod login;
pub mod not_found;
pub mod request;

use hanko_api::RequestStatus;
use leptos::prelude::*;

use crate::router;

/// The `?status=` of the current address, when it names a status.
pub fn status_param() -> Memo<Option<RequestStatus>> {
    Memo::new(move |_| router::query("status").and_then(|s| RequestStatus::parse(&s)))
}
