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
