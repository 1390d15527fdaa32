//! `/approvals/:id`, the deep-link target: everything a person needs to decide one
//! request, and the place to decide it.

use gloo_timers::future::TimeoutFuture;
use hanko_api::{Approval, Delivery, VoteBlock, VoteChoice};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params;
use leptos_router::params::Params;

use crate::api::{self, ApiError};
use crate::clock;
use crate::components::countdown::Countdown;
use crate::components::decision_form::DecisionForm;
use crate::components::decision_result::DecisionResult;
use crate::components::details_json::DetailsJson;
use crate::components::error_panel::ErrorPanel;
use crate::components::loading::Loading;
use crate::components::relative_time::{DateTimeText, RelativeTime};
use crate::components::status_badge::StatusBadge;
use crate::i18n::{self, t, tr};

/// How often, and how many times, the page asks again while a decision is not yet
/// handed to the workflow.
const DELIVERY_POLL_MS: u32 = 2000;
const DELIVERY_POLLS: u32 = 30;

#[derive(Debug, Clone, PartialEq)]
enum Load {
    Loading,
    Ready(Box<Approval>),
    Failed(ApiError),
}

/// The execution's page in the AWS console, only for a region that looks like one.
pub fn aws_console_url(region: &str, execution_arn: &str) -> Option<String> {
    let valid = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    valid.then(|| {
        format!(
            "https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{}",
            String::from(js_sys::encode_uri_component(execution_arn))
        )
    })
}

/// A vote block's wire name (`not_an_approver`, …), as `VoteBlock` is written in JSON.
fn vote_block_code(reason: VoteBlock) -> &'static str {
    match reason {
        VoteBlock::NotAnApprover => "not_an_approver",
        VoteBlock::OwnRequest => "own_request",
        VoteBlock::AlreadyVoted => "already_voted",
        VoteBlock::Decided => "decided",
        VoteBlock::Expired => "expired",
        VoteBlock::Closed => "closed",
        VoteBlock::NotADelegate => "not_a_delegate",
    }
}

/// The route's parameters: `/approvals/:id`.
#[derive(Debug, Clone, PartialEq, Params)]
struct RequestParams {
    id: Option<String>,
}

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params::<RequestParams>();
    // Leaving for another page keeps the last id rather than asking for an empty one.
    let id = Memo::new(move |last: Option<&String>| {
        params
            .get()
            .ok()
            .and_then(|p| p.id)
            .or_else(|| last.cloned())
            .unwrap_or_default()
    });
    let state = RwSignal::new(Load::Loading);
    let just_voted = RwSignal::new(false);
    let generation = StoredValue::new(0u64);
    let polls = StoredValue::new(0u32);

    let fetch = move || {
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        polls.set_value(0);
        just_voted.set(false);
        state.set(Load::Loading);
        let id = id.get_untracked();
        spawn_local(async move {
            let result = api::approval(&id).await;
            if generation.try_get_value() == Some(mine) {
                state.set(match result {
                    Ok(a) => Load::Ready(Box::new(a)),
                    Err(e) => Load::Failed(e),
                });
            }
        });
    };
    Effect::new(move |_| {
        id.track();
        fetch();
    });

    // While the decision waits to be handed to the workflow, look again now and then.
    Effect::new(move |_| {
        let waiting = state.with(|s| {
            matches!(s, Load::Ready(a)
                if a.decision.as_ref().is_some_and(|d| matches!(d.delivery, Delivery::Pending | Delivery::Unconfirmed)))
        });
        if waiting && polls.get_value() < DELIVERY_POLLS {
            polls.update_value(|p| *p += 1);
            let mine = generation.get_value();
            let id = id.get_untracked();
            spawn_local(async move {
                TimeoutFuture::new(DELIVERY_POLL_MS).await;
                if generation.try_get_value() != Some(mine) {
                    return;
                }
                if let Ok(a) = api::approval(&id).await
                    && generation.try_get_value() == Some(mine)
                {
                    state.set(Load::Ready(Box::new(a)));
                }
            });
        }
    });

    crate::title::follow(move || {
        state.with(|s| match s {
            Load::Ready(a) => a.title.clone(),
            _ => String::new(),
        })
    });

    let on_decided = Callback::new(move |a: Approval| {
        polls.set_value(0);
        just_voted.set(true);
        state.set(Load::Ready(Box::new(a)));
    });

    view! {
        <div class="page request-page">
            <nav class="breadcrumb" aria-label=tr(|t| t.breadcrumb)>
                <A href="/">"← " {tr(|t| t.back_to_inbox)}</A>
            </nav>
            {move || match state.get() {
                Load::Loading => view! { <Loading/> }.into_any(),
                Load::Failed(error) => {
                    view! { <ErrorPanel error on_retry=Callback::new(move |_| fetch())/> }.into_any()
                }
                Load::Ready(a) => {
                    let on_reload = Callback::new(move |_| fetch());
                    view! { <RequestView approval=*a just_voted on_decided on_reload/> }.into_any()
                }
            }}
        </div>
    }
}

#[component]
fn RequestView(
    approval: Approval,
    just_voted: RwSignal<bool>,
    on_decided: Callback<Approval>,
    on_reload: Callback<()>,
) -> impl IntoView {
    let a = approval;
    let approvals_so_far = a
        .votes
        .iter()
        .filter(|v| v.decision == VoteChoice::Approve)
        .count() as u32;
    let required = a.required_approvals;
    let aws_link = a
        .region
        .as_deref()
        .and_then(|r| aws_console_url(r, &a.execution_arn));
    let deadline_ms = a.expires_at.timestamp_millis() as f64;
    let viewer = a.viewer.clone();
    // Whose seats are filled: a delegate's vote fills the seat of whom they voted for.
    let voters: Vec<String> = a
        .votes
        .iter()
        .map(|v| v.on_behalf_of.clone().unwrap_or_else(|| v.approver.clone()))
        .collect();

    // A memo, so that the form is built once and not on every tick of the clock.
    let past_deadline = Memo::new(move |_| clock::now() >= deadline_ms);
    let vote_area = {
        let (id, title) = (a.id.clone(), a.title.clone());
        let passkey = a.passkey_required;
        move || {
            if just_voted.get() {
                // The "vote recorded" notice says it all.
                ().into_any()
            } else if (viewer.can_vote || !viewer.on_behalf_of.is_empty()) && !past_deadline.get() {
                view! {
                    <DecisionForm
                        id=id.clone()
                        title=title.clone()
                        own_seat=viewer.can_vote
                        seats=viewer.on_behalf_of.clone()
                        passkey
                        on_decided
                        on_reload
                    />
                }
                .into_any()
            } else {
                let (reason, words) = match viewer.reason {
                    Some(r) => (vote_block_code(r).to_string(), i18n::vote_block(r)),
                    None => ("expired".to_string(), t().deadline_passed),
                };
                view! {
                    <p class="notice vote-blocked" id="vote-blocked" data-reason=reason>{words}</p>
                }
                .into_any()
            }
        }
    };

    let decided = a.decision.is_some();
    let still_needed = required.saturating_sub(approvals_so_far);
    // The form, and the button that had the focus, are gone once the vote is recorded: the
    // focus goes to the notice that says so, not back to the top of the page.
    let recorded = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if just_voted.get()
            && let Some(notice) = recorded.get()
        {
            let _ = notice.focus();
        }
    });

    view! {
        <article class="request" data-id=a.id.clone() data-status=a.status.as_str()>
            <header class="request-header">
                <div class="title-row">
                    <h1 id="request-title">{a.title.clone()}</h1>
                    <StatusBadge status=a.status/>
                </div>
                <p class="request-sub">
                    <span id="request-requester">
                        {tr(|t| t.requested_by)} ": "
                        {match a.requested_by.clone() {
                            Some(r) => view! { <strong>{r}</strong> }.into_any(),
                            None => view! { <span class="muted">{tr(|t| t.unknown_requester)}</span> }.into_any(),
                        }}
                    </span>
                    <span>{tr(|t| t.created)} " " <RelativeTime at=a.created_at/></span>
                </p>
            </header>

            <div class="request-grid">
                <div class="request-main">
                    {a.description.clone().filter(|d| !d.trim().is_empty()).map(|d| {
                        view! {
                            <section class="card" aria-labelledby="description-title">
                                <h2 id="description-title">{tr(|t| t.description)}</h2>
                                <p class="description" id="request-description">{d}</p>
                            </section>
                        }
                    })}
                    <section class="card" aria-labelledby="details-title">
                        <h2 id="details-title">{tr(|t| t.details)}</h2>
                        <DetailsJson details=a.details.clone()/>
                    </section>
                    <section class="card" aria-labelledby="overview-title">
                        <h2 id="overview-title">{tr(|t| t.overview)}</h2>
                        <dl class="facts">
                            <div>
                                <dt>{tr(|t| t.state_machine)}</dt>
                                <dd class="mono" id="request-state-machine">{a.state_machine_name.clone()}</dd>
                            </div>
                            <div>
                                <dt>{tr(|t| t.execution)}</dt>
                                <dd>
                                    <span class="mono" id="request-execution">{a.execution_name.clone()}</span>
                                    {aws_link.map(|href| view! {
                                        <a class="external" id="aws-console-link" href=href target="_blank" rel="noopener noreferrer">
                                            {tr(|t| t.open_in_aws)}
                                            <span class="visually-hidden">" " {tr(|t| t.new_tab)}</span>
                                            <span aria-hidden="true">" ↗"</span>
                                        </a>
                                    })}
                                </dd>
                            </div>
                            {a.state_name.clone().map(|s| view! {
                                <div>
                                    <dt>{tr(|t| t.state)}</dt>
                                    <dd class="mono">{s}</dd>
                                </div>
                            })}
                            {a.region.clone().map(|r| view! {
                                <div>
                                    <dt>{tr(|t| t.region)}</dt>
                                    <dd class="mono">{r}</dd>
                                </div>
                            })}
                            <div>
                                <dt>{tr(|t| t.created)}</dt>
                                <dd id="request-created"><DateTimeText at=a.created_at/></dd>
                            </div>
                            <div>
                                <dt>{tr(|t| t.policy)}</dt>
                                {match a.policy.clone() {
                                    Some(p) => view! {
                                        <dd class="mono" id="request-policy" title=format!("sha256 {}", p.sha256)>{p.name}</dd>
                                    }.into_any(),
                                    None => view! {
                                        <dd class="warning" id="request-policy">{tr(|t| t.policy_none)}</dd>
                                    }.into_any(),
                                }}
                            </div>
                            {a.escalation.clone().map(|e| view! {
                                <div>
                                    <dt>{tr(|t| t.escalation)}</dt>
                                    <dd id="request-escalation">
                                        {match e.escalated_at {
                                            Some(at) => view! {
                                                {tr(|t| t.escalated_at)} " " <DateTimeText at=at/> ": "
                                                <span class="mono">{e.added.join(", ")}</span>
                                            }.into_any(),
                                            None => view! {
                                                {tr(|t| t.escalates_at)} " " <DateTimeText at=e.at/> ": "
                                                <span class="mono">{e.to.join(", ")}</span>
                                            }.into_any(),
                                        }}
                                    </dd>
                                </div>
                            })}
                            {a.closed_reason.clone().map(|r| view! {
                                <div>
                                    <dt>{tr(|t| t.closed_reason)}</dt>
                                    <dd id="closed-reason">{r}</dd>
                                </div>
                            })}
                        </dl>
                    </section>
                </div>

                <aside class="request-side">
                    <section class="card status-card" aria-labelledby="status-title">
                        <h2 id="status-title" class="visually-hidden">{tr(|t| t.deadline)}</h2>
                        <dl class="facts">
                            <div>
                                <dt>{tr(|t| t.deadline)}</dt>
                                <dd id="request-deadline">
                                    {if a.status == hanko_api::RequestStatus::Pending {
                                        view! { <Countdown deadline=a.expires_at/> }.into_any()
                                    } else {
                                        view! { <DateTimeText at=a.expires_at/> }.into_any()
                                    }}
                                </dd>
                            </div>
                            <div>
                                <dt>{tr(|t| t.votes)}</dt>
                                <dd id="request-votes">
                                    <span>{move || (t().votes_of)(approvals_so_far, required)}</span>
                                    <progress
                                        value=approvals_so_far.min(required).to_string()
                                        max=required.max(1).to_string()
                                        aria-hidden="true"
                                    ></progress>
                                </dd>
                            </div>
                        </dl>
                    </section>

                    {a.decision.clone().map(|d| view! { <DecisionResult decision=d/> })}

                    <Show when=move || just_voted.get()>
                        <div class="notice success" id="vote-recorded" role="status" tabindex="-1" node_ref=recorded>
                            <p>{tr(|t| t.vote_recorded)}</p>
                            {(!decided && still_needed > 0).then(|| view! {
                                <p>{move || (t().waiting_for_more)(still_needed)}</p>
                            })}
                        </div>
                    </Show>

                    {vote_area}

                    <section class="card" aria-labelledby="votes-title">
                        <h2 id="votes-title">{tr(|t| t.votes)}</h2>
                        {if a.votes.is_empty() {
                            view! { <p class="muted">{tr(|t| t.no_votes)}</p> }.into_any()
                        } else {
                            view! {
                                <ol class="votes" id="votes">
                                    {a.votes.iter().cloned().map(|v| {
                                        let cls = match v.decision {
                                            VoteChoice::Approve => "vote approve",
                                            VoteChoice::Reject => "vote reject",
                                        };
                                        view! {
                                            <li class=cls>
                                                <div class="vote-head">
                                                    <strong title=v.approver.clone()>{v.name.clone()}</strong>
                                                    {v.on_behalf_of.clone().map(|who| view! {
                                                        <span class="vote-for">{move || (i18n::away().voted_for)(&who)}</span>
                                                    })}
                                                    <span class="vote-choice">{move || i18n::choice_name(v.decision)}</span>
                                                    <RelativeTime at=v.decided_at/>
                                                </div>
                                                {v.comment.clone().filter(|c| !c.is_empty()).map(|c| view! {
                                                    <blockquote class="vote-comment">{c}</blockquote>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            }.into_any()
                        }}
                    </section>

                    <section class="card" aria-labelledby="approvers-title">
                        <h2 id="approvers-title">{tr(|t| t.approvers)}</h2>
                        <ul class="approvers" id="approvers">
                            {a.approvers.iter().map(|who| {
                                let voted = voters.contains(who);
                                match who.strip_prefix("group:") {
                                    Some(g) => view! {
                                        <li>
                                            <span class="tag">{tr(|t| t.group)}</span>
                                            " " {g.to_string()}
                                        </li>
                                    }.into_any(),
                                    None => view! {
                                        <li>
                                            {who.clone()}
                                            {voted.then(|| view! { " " <span class="tag voted">"✓ " {tr(|t| t.has_voted)}</span> })}
                                        </li>
                                    }.into_any(),
                                }
                            }).collect_view()}
                        </ul>
                        {a.allow_self_approval.then(|| view! {
                            <p class="hint">{tr(|t| t.self_approval_allowed)}</p>
                        })}
                    </section>
                </aside>
            </div>
        </article>
    }
}
