//! A moment shown as "3 hours ago" / "in 2 days", ticking with the clock, with the exact
//! date and time in its tooltip and in `datetime`.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::{clock, i18n};

#[component]
pub fn RelativeTime(at: DateTime<Utc>) -> impl IntoView {
    let ms = at.timestamp_millis() as f64;
    let iso = clock::iso_datetime(at.timestamp());
    view! {
        <time datetime=iso title=move || i18n::format_datetime(ms)>
            {move || i18n::format_relative(ms, clock::now())}
        </time>
    }
}

/// A moment as an absolute date and time, in the current language.
#[component]
pub fn DateTimeText(at: DateTime<Utc>) -> impl IntoView {
    let ms = at.timestamp_millis() as f64;
    let iso = clock::iso_datetime(at.timestamp());
    view! { <time datetime=iso>{move || i18n::format_datetime(ms)}</time> }
}
