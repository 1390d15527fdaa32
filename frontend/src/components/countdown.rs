//! A live countdown to a deadline, updated every second.

use chrono::{DateTime, Utc};
use leptos::prelude::*;

use crate::{clock, i18n};

/// Less than this is shown as urgent.
const URGENT_MS: f64 = 60.0 * 60.0 * 1000.0;

#[component]
pub fn Countdown(deadline: DateTime<Utc>) -> impl IntoView {
    let ms = deadline.timestamp_millis() as f64;
    let iso = clock::iso_datetime(deadline.timestamp());
    let utc = clock::utc_minute(deadline.timestamp());
    let left = move || ms - clock::now();
    view! {
        <span
            class="countdown"
            class:urgent=move || { left() > 0.0 && left() < URGENT_MS }
            class:over=move || { left() <= 0.0 }
        >
            {move || {
                if left() <= 0.0 {
                    i18n::t().deadline_passed.to_string()
                } else {
                    match i18n::lang() {
                        i18n::Lang::En => {
                            format!("{} {}", i18n::format_countdown(left()), i18n::t().time_left)
                        }
                        i18n::Lang::Ja => {
                            format!("{} {}", i18n::t().time_left, i18n::format_countdown(left()))
                        }
                    }
                }
            }}
        </span>
        " "
        <time class="deadline-at" datetime=iso title=utc>
            "("
            {move || i18n::format_datetime(ms)}
            ")"
        </time>
    }
}
