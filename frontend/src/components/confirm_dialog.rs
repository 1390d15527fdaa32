//! The confirmation before a vote: a modal `<dialog>` that restates the decision, the
//! request's title and the comment. Escape or "Cancel" backs out.

use hanko_api::VoteChoice;
use leptos::html::Dialog;
use leptos::prelude::*;

use crate::i18n::{t, tr};

#[component]
pub fn ConfirmDialog(
    /// The decision awaiting confirmation; `None` closes the dialog.
    choice: RwSignal<Option<VoteChoice>>,
    /// The request's title, restated.
    title: String,
    /// The comment that will be sent.
    #[prop(into)]
    comment: Signal<String>,
    /// While the vote is being sent.
    #[prop(into)]
    sending: Signal<bool>,
    /// Whose seat the vote is cast in, when it is someone else's (as their delegate).
    #[prop(optional, into)]
    on_behalf_of: Signal<Option<String>>,
    /// Sends the vote.
    on_confirm: Callback<VoteChoice>,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();

    Effect::new(move |_| {
        let want_open = choice.with(Option::is_some);
        if let Some(d) = dialog.get() {
            if want_open && !d.open() {
                let _ = d.show_modal();
            } else if !want_open && d.open() {
                d.close();
            }
        }
    });

    let is_reject = move || choice.get() == Some(VoteChoice::Reject);
    view! {
        <dialog
            node_ref=dialog
            id="confirm-dialog"
            class="confirm-dialog"
            class:reject=is_reject
            aria-labelledby="confirm-title"
            aria-describedby="confirm-body"
            on:close=move |_| choice.set(None)
            on:cancel=move |ev: leptos::ev::Event| {
                if sending.get_untracked() {
                    ev.prevent_default();
                }
            }
        >
            <h2 id="confirm-title">
                {move || if is_reject() { t().confirm_reject_title } else { t().confirm_approve_title }}
            </h2>
            <div id="confirm-body">
                <p>
                    {move || if is_reject() { t().confirm_reject_body } else { t().confirm_approve_body }}
                </p>
                <p class="confirm-request-title" id="confirm-request-title">{title}</p>
                {move || on_behalf_of.get().map(|who| view! {
                    <p class="confirm-for" id="confirm-for">
                        <strong>{(crate::i18n::away().for_whom)(&who)}</strong>
                    </p>
                })}
                <p class="confirm-comment-label">{tr(|t| t.confirm_comment)}</p>
                {move || {
                    let c = comment.get();
                    if c.trim().is_empty() {
                        view! { <p class="muted" id="confirm-comment">{t().confirm_no_comment}</p> }.into_any()
                    } else {
                        view! { <blockquote class="confirm-comment" id="confirm-comment">{c}</blockquote> }
                            .into_any()
                    }
                }}
            </div>
            <div class="dialog-actions">
                <button
                    type="button"
                    id="confirm-cancel"
                    class="button secondary"
                    autofocus
                    disabled=move || sending.get()
                    on:click=move |_| choice.set(None)
                >
                    {tr(|t| t.cancel)}
                </button>
                <button
                    type="button"
                    id="confirm-decision"
                    class="button"
                    class:approve=move || !is_reject()
                    class:danger=is_reject
                    disabled=move || sending.get()
                    on:click=move |_| {
                        if let Some(c) = choice.get_untracked() {
                            on_confirm.run(c);
                        }
                    }
                >
                    {move || {
                        if sending.get() {
                            t().sending
                        } else if is_reject() {
                            t().confirm_reject
                        } else {
                            t().confirm_approve
                        }
                    }}
                </button>
            </div>
        </dialog>
    }
}
