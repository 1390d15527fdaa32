//! The language switch: English / 日本語, as two toggle buttons.

use leptos::prelude::*;

use crate::i18n::{self, Lang, tr};

#[component]
pub fn LangSwitch() -> impl IntoView {
    let button = move |lang: Lang, label: &'static str| {
        view! {
            <button
                type="button"
                class="lang-option"
                id=format!("lang-{}", lang.tag())
                lang=lang.tag()
                aria-pressed=move || (i18n::lang() == lang).to_string()
                on:click=move |_| i18n::set_lang(lang)
            >
                {label}
            </button>
        }
    };
    view! {
        <div class="lang-switch" role="group" aria-label=tr(|t| t.language)>
            {button(Lang::En, "English")}
            {button(Lang::Ja, "日本語")}
        </div>
    }
}
