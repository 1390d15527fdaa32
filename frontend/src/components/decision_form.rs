//! Approve or reject: a comment (required to reject), two buttons, the confirmation dialog,
//! and the api's answer. A failed vote shows the api's words and leaves the form as it was;
//! it never looks like a success. When the request asks for it, the vote is signed with
//! the person's passkey: the api's challenge for this very vote, the browser's prompt, then
//! the vote with the signature.

use hanko_api::{Approval, PasskeyAssertion, VoteChoice};
use leptos::html::Textarea;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::components::confirm_dialog::ConfirmDialog;
use crate::i18n::{away, t, tr, tr_away};
use crate::webauthn::{self, PasskeyError};

/// Longest comment the form accepts (the api has its own limit too).
const MAX_COMMENT: usize = 2000;

#[component]
pub fn DecisionForm(
    /// The request's id.
    id: String,
    /// The request's title, restated in the confirmation.
    title: String,
    /// The vote must be signed with the person's passkey.
    #[prop(optional)]
    passkey: bool,
    /// The caller may vote in their own seat.
    own_seat: bool,
    /// Those in whose seat the caller may vote, as their delegate.
    seats: Vec<String>,
    /// Gets the request as it is after a recorded vote.
    on_decided: Callback<Approval>,
    /// Loads the request again (offered when the vote was refused because it changed).
    on_reload: Callback<()>,
) -> impl IntoView {
    let comment = RwSignal::new(String::new());
    let choice = RwSignal::new(None::<VoteChoice>);
    let sending = RwSignal::new(false);
    let error = RwSignal::new(None::<api::ApiError>);
    let comment_missing = RwSignal::new(false);
    let textarea = NodeRef::<Textarea>::new();
    // In whose seat: `None` their own. Their own first, when they have one.
    let seat = RwSignal::new(if own_seat {
        None
    } else {
        seats.first().cloned()
    });

    let ask = move |c: VoteChoice| {
        error.set(None);
        if c == VoteChoice::Reject && comment.with_untracked(|s| s.trim().is_empty()) {
            comment_missing.set(true);
            if let Some(el) = textarea.get_untracked() {
                let _ = el.focus();
            }
            return;
        }
        comment_missing.set(false);
        choice.set(Some(c));
    };

    let id = StoredValue::new(id);
    let send = Callback::new(move |c: VoteChoice| {
        if sending.get_untracked() {
            return;
        }
        sending.set(true);
        let text = comment.get_untracked().trim().to_string();
        let text = (!text.is_empty()).then_some(text);
        let id = id.get_value();
        let on_behalf_of = seat.get_untracked();
        spawn_local(async move {
            let result = if passkey {
                signed_vote(&id, c, text, on_behalf_of).await
            } else {
                api::decide(&id, c, text, on_behalf_of, None).await
            };
            sending.set(false);
            choice.set(None);
            match result {
                Ok(approval) => on_decided.run(approval),
                Err(e) => error.set(Some(e)),
            }
        });
    });

    view! {
        <section class="card decision-form" aria-labelledby="decision-form-title">
            <h2 id="decision-form-title">{tr(|t| t.your_decision)}</h2>
            <form on:submit=move |ev| {
                ev.prevent_default();
                ask(VoteChoice::Approve);
            }>
                {(!seats.is_empty()).then(|| view! { <SeatChoice own_seat seats seat/> })}
                <div class="field">
                    <label for="decision-comment">{tr(|t| t.comment)}</label>
                    <textarea
                        id="decision-comment"
                        name="comment"
                        rows="4"
                        maxlength=MAX_COMMENT.to_string()
                        node_ref=textarea
                        aria-describedby="decision-comment-hint"
                        aria-invalid=move || comment_missing.get().then_some("true")
                        bind:value=comment
                        on:input=move |_| comment_missing.set(false)
                    ></textarea>
                    <p class="hint" id="decision-comment-hint">{tr(|t| t.comment_hint)}</p>
                    <Show when=move || comment_missing.get()>
                        <p class="field-error" id="comment-error" role="alert">
                            {tr(|t| t.comment_required)}
                        </p>
                    </Show>
                </div>
                <Show when=move || passkey>
                    <p class="hint" id="passkey-required-note">
                        {tr(|t| t.passkey_required_note)}
                    </p>
                </Show>
                <Show when=move || error.with(Option::is_some)>
                    <div class="error-panel" id="decision-error" role="alert">
                        <h3 class="error-title">{tr(|t| t.decision_failed)}</h3>
                        <p class="error-message">
                            {move || error.get().map(|e| e.message()).unwrap_or_default()}
                        </p>
                        <Show when=move || {
                            error.with(|e| {
                                e.as_ref().is_some_and(|e| e.code() == Some("passkey_required"))
                            })
                        }>
                            <p id="passkey-missing">
                                {tr(|t| t.passkey_missing)} " "
                                <a href="/passkeys" id="passkey-go-add">{tr(|t| t.passkey_go_add)}</a>
                            </p>
                        </Show>
                        <Show when=move || {
                            error.with(|e| {
                                e.as_ref()
                                    .is_some_and(|e| {
                                        e.changed_meanwhile() && !e.code().is_some_and(is_passkey_code)
                                    })
                            })
                        }>
                            <button
                                type="button"
                                id="decision-reload"
                                class="button secondary"
                                on:click=move |_| on_reload.run(())
                            >
                                {tr(|t| t.reload_request)}
                            </button>
                        </Show>
                    </div>
                </Show>
                <div class="decision-actions">
                    <button
                        type="button"
                        id="reject-button"
                        class="button danger"
                        disabled=move || sending.get()
                        on:click=move |_| ask(VoteChoice::Reject)
                    >
                        {tr(|t| t.reject)}
                    </button>
                    <button
                        type="submit"
                        id="approve-button"
                        class="button approve"
                        disabled=move || sending.get()
                    >
                        {tr(|t| t.approve)}
                    </button>
                </div>
            </form>
            <ConfirmDialog choice title comment sending on_behalf_of=seat on_confirm=send/>
        </section>
    }
}

/// Codes of a vote refused for its passkey: loading the request again would not help.
fn is_passkey_code(code: &str) -> bool {
    matches!(
        code,
        "passkey_required" | "passkey_refused" | "passkey_cancelled"
    )
}

/// The vote signed with the person's passkey: the challenge for exactly this vote, the
/// browser's prompt, then the vote carrying the signature.
async fn signed_vote(
    id: &str,
    choice: VoteChoice,
    comment: Option<String>,
    on_behalf_of: Option<String>,
) -> Result<Approval, api::ApiError> {
    let challenge =
        api::passkey_challenge(id, choice, comment.clone(), on_behalf_of.clone()).await?;
    let credential =
        webauthn::sign(&challenge.public_key)
            .await
            .map_err(|e| api::ApiError::Status {
                status: 0,
                code: "passkey_cancelled".into(),
                message: match e {
                    PasskeyError::Unsupported => t().passkey_unsupported.to_string(),
                    PasskeyError::Failed(why) => format!("{} ({why})", t().passkey_cancelled),
                },
            })?;
    let passkey = PasskeyAssertion {
        nonce: challenge.nonce,
        credential,
    };
    api::decide(id, choice, comment, on_behalf_of, Some(passkey)).await
}

/// "Vote as: myself / for alice": shown when the caller may vote in someone's seat as
/// their delegate. Radio buttons in a fieldset: arrow keys move between them.
#[component]
fn SeatChoice(own_seat: bool, seats: Vec<String>, seat: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <fieldset class="field seat-choice" id="seat-choice">
            <legend>{tr_away(|t| t.vote_as)}</legend>
            {own_seat.then(|| view! {
                <label class="radio">
                    <input
                        type="radio"
                        name="seat"
                        id="seat-own"
                        value=""
                        prop:checked=move || seat.with(Option::is_none)
                        on:change=move |_| seat.set(None)
                    />
                    {tr_away(|t| t.as_myself)}
                </label>
            })}
            {seats.into_iter().enumerate().map(|(i, who)| {
                let mine = who.clone();
                let label = who.clone();
                let value = who.clone();
                view! {
                    <label class="radio">
                        <input
                            type="radio"
                            name="seat"
                            id=format!("seat-for-{i}")
                            data-for=who.clone()
                            value=value
                            prop:checked=move || seat.with(|s| s.as_deref() == Some(mine.as_str()))
                            on:change=move |_| seat.set(Some(who.clone()))
                        />
                        {move || (away().for_whom)(&label)}
                    </label>
                }
            }).collect_view()}
        </fieldset>
    }
}
