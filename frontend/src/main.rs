//! Hanko's approval console: a Leptos client-side app that people log in to and decide in.
//! This file only mounts the app; see `app.rs` for the routes.

mod api;
mod app;
mod auth;
mod clock;
mod components;
mod i18n;
mod oidc;
mod routes;
mod title;
mod webauthn;

fn main() {
    // Panic messages in the browser's console, for development builds; a release build
    // leaves the formatting of panic messages out of the wasm.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    i18n::apply_document_lang();
    clock::start();
    oidc::load_config();
    if let Some(boot) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id("boot"))
    {
        boot.remove();
    }
    leptos::mount::mount_to_body(app::App);
}
