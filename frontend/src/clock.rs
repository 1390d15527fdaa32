//! One shared clock that ticks every second, for countdowns and "3 minutes ago".

use std::time::Duration;

use leptos::prelude::*;

thread_local! {
    static NOW: ArcRwSignal<f64> = ArcRwSignal::new(js_sys::Date::now());
}

/// Starts the ticking; called once at start.
pub fn start() {
    set_interval(
        || NOW.with(|n| n.set(js_sys::Date::now())),
        Duration::from_secs(1),
    );
}

/// Milliseconds since the epoch, updated every second (reactive).
pub fn now() -> f64 {
    NOW.with(|n| n.get())
}

/// The UTC calendar date of a day counted from 1970-01-01: (year, month, day).
fn civil_date(days: i64) -> (i64, i64, i64) {
    // Days are counted from 0000-03-01 in 400-year eras of 146,097 days, so that the leap
    // day falls at the end of each year.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DD` of the UTC day `secs` (seconds since the epoch) falls in; a year outside
/// 0..=9999 gets its sign, as RFC 3339 writers do.
pub fn iso_date(secs: i64) -> String {
    let (y, m, d) = civil_date(secs.div_euclid(86_400));
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        format!("{y:+05}-{m:02}-{d:02}")
    }
}

/// A moment (seconds since the epoch) in RFC 3339, UTC, to the second:
/// `2025-11-25T09:41:00Z`, as in `<time datetime>`.
pub fn iso_datetime(secs: i64) -> String {
    let s = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        iso_date(secs),
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// A moment (seconds since the epoch) in UTC to the minute, for a tooltip beside the
/// reader's local time: `2026-12-05 13:44 UTC`.
pub fn utc_minute(secs: i64) -> String {
    let s = secs.rem_euclid(86_400);
    format!(
        "{} {:02}:{:02} UTC",
        iso_date(secs),
        s / 3600,
        s % 3600 / 60
    )
}
