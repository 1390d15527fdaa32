//! Moments in the reader's own time zone and language, with the same moment in UTC in the
//! tooltip (the time the api, the logs and the signed record speak).

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::{clock, i18n};

/// A moment shown as "3 hours ago" / "in 2 days", ticking with the clock; its tooltip has
/// the local date and time and the UTC one, e.g. "Dec 5, 2026, 10:44 PM GMT+9" over
/// "2026-12-05 13:44 UTC".
#[component]
pub fn RelativeTime(at: DateTime<Utc>) -> impl IntoView {
    let ms = at.timestamp_millis() as f64;
    let iso = clock::iso_datetime(at.timestamp());
    let utc = clock::utc_minute(at.timestamp());
    view! {
        <time datetime=iso title=move || format!("{}\n{utc}", i18n::format_datetime(ms))>
            {move || i18n::format_relative(ms, clock::now())}
        </time>
    }
}

/// A moment as an absolute date and time in the reader's language and time zone, with UTC
/// in its tooltip.
#[component]
pub fn DateTimeText(at: DateTime<Utc>) -> impl IntoView {
    let ms = at.timestamp_millis() as f64;
    let iso = clock::iso_datetime(at.timestamp());
    let utc = clock::utc_minute(at.timestamp());
    view! { <time datetime=iso title=utc>{move || i18n::format_datetime(ms)}</time> }
}
