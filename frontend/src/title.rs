//! The document's title, per page: "<page> · Hanko".

use leptos::prelude::*;

/// Keeps the tab's title in step with `page` (reactive: follows the language).
pub fn follow(page: impl Fn() -> String + 'static) {
    follow_dyn(Box::new(page));
}

/// One effect type for every page, instead of one copy per page's closure.
fn follow_dyn(page: Box<dyn Fn() -> String>) {
    Effect::new(move |_| {
        let text = page();
        if let Some(doc) = web_sys::window().and_then(|w| w.document()) {
            if text.is_empty() {
                doc.set_title("Hanko");
            } else {
                doc.set_title(&format!("{text} · Hanko"));
            }
        }
    });
}
