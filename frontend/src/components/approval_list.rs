//! A list of approval requests with paging by the api's cursor: loading, empty and error
//! states, and a "Load more" button while the api says there is more.

use hanko_api::{ApprovalSummary, RequestStatus};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::api::{self, ApiError, ListQuery};
use crate::components::error_panel::ErrorPanel;
use crate::components::loading::Loading;
use crate::components::relative_time::RelativeTime;
use crate::components::status_badge::StatusBadge;
use crate::i18n::{t, tr};

/// Pages fetched at most in one go when a filter hides a whole page.
const MAX_PAGES_PER_LOAD: usize = 5;

#[derive(Debug, Clone, PartialEq)]
enum ListState {
    Loading,
    Ready,
    Failed(ApiError),
}

#[component]
pub fn ApprovalList(
    /// Which requests to list; the list reloads when it changes.
    #[prop(into)]
    query: Signal<ListQuery>,
    /// The empty state's headline.
    empty_title: fn() -> &'static str,
    /// The empty state's second line.
    #[prop(optional)]
    empty_hint: Option<fn() -> &'static str>,
    /// Hide pending requests (the history).
    #[prop(optional)]
    finished_only: bool,
) -> impl IntoView {
    let items = RwSignal::new(Vec::<ApprovalSummary>::new());
    let cursor = RwSignal::new(None::<String>);
    let state = RwSignal::new(ListState::Loading);
    let more_loading = RwSignal::new(false);
    let more_error = RwSignal::new(None::<ApiError>);
    // Answers to an older query (the filter changed meanwhile) are dropped.
    let generation = StoredValue::new(0u64);

    let fetch = move |reset: bool| {
        let q = query.get_untracked();
        if reset {
            generation.update_value(|g| *g += 1);
            state.set(ListState::Loading);
            items.set(Vec::new());
            cursor.set(None);
        } else {
            more_loading.set(true);
        }
        more_error.set(None);
        let mine = generation.get_value();
        let start = if reset { None } else { cursor.get_untracked() };
        spawn_local(async move {
            let mut after = start;
            let mut got = Vec::new();
            let mut failure = None;
            for _ in 0..MAX_PAGES_PER_LOAD {
                match api::list(&q, after.as_deref()).await {
                    Ok(page) => {
                        got.extend(
                            page.items
                                .into_iter()
                                .filter(|i| !finished_only || i.status != RequestStatus::Pending),
                        );
                        after = page.next_cursor;
                        if !got.is_empty() || after.is_none() {
                            break;
                        }
                    }
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if generation.try_get_value() != Some(mine) {
                return;
            }
            more_loading.set(false);
            match failure {
                Some(e) if reset => state.set(ListState::Failed(e)),
                Some(e) => more_error.set(Some(e)),
                None => {
                    items.update(|v| v.extend(got));
                    cursor.set(after);
                    state.set(ListState::Ready);
                }
            }
        });
    };

    Effect::new(move |_| {
        query.track();
        fetch(true);
    });

    view! {
        {move || match state.get() {
            ListState::Loading => view! { <Loading/> }.into_any(),
            ListState::Failed(error) => {
                view! { <ErrorPanel error on_retry=Callback::new(move |_| fetch(true))/> }.into_any()
            }
            ListState::Ready if items.with(Vec::is_empty) => {
                view! {
                    <div class="empty-state" id="empty-state">
                        <span class="empty-mark" aria-hidden="true">"✓"</span>
                        <p class="empty-title">{move || empty_title()}</p>
                        {empty_hint.map(|hint| view! { <p class="muted">{move || hint()}</p> })}
                    </div>
                }
                    .into_any()
            }
            ListState::Ready => {
                view! {
                    <ul class="request-list" id="request-list">
                        // Not a keyed <For>: rows are only ever appended ("load more"), and the
                        // keyed diff with its hash set cost the wasm ~4 KB brotli.
                        {move || {
                            items
                                .get()
                                .into_iter()
                                .map(|item| view! { <ListItem item/> })
                                .collect_view()
                        }}
                    </ul>
                    {move || {
                        more_error
                            .get()
                            .map(|e| {
                                view! {
                                    <p class="inline-error" role="alert">{move || e.message()}</p>
                                }
                            })
                    }}
                    <Show when=move || cursor.with(Option::is_some)>
                        <div class="more">
                            <button
                                type="button"
                                class="button secondary"
                                id="load-more"
                                disabled=move || more_loading.get()
                                on:click=move |_| fetch(false)
                            >
                                {move || if more_loading.get() { t().loading } else { t().load_more }}
                            </button>
                        </div>
                    </Show>
                }
                    .into_any()
            }
        }}
    }
}

/// One request in a list.
#[component]
fn ListItem(item: ApprovalSummary) -> impl IntoView {
    let href = format!(
        "/approvals/{}",
        String::from(js_sys::encode_uri_component(&item.id))
    );
    let pending = item.status == RequestStatus::Pending;
    let requester = item.requested_by.clone();
    let decided = item.decided_at.map(|at| {
        let by = item.decided_by.join(", ");
        view! {
            <span class="decided">
                {tr(|t| t.decided)} " " <RelativeTime at/>
                {(!by.is_empty())
                    .then(|| {
                        view! {
                            " " {tr(|t| t.decided_by)} " " <span class="decider">{by.clone()}</span>
                        }
                    })}
            </span>
        }
    });
    view! {
        <li class="request-item" data-id=item.id.clone() data-status=item.status.as_str()>
            <div class="request-head">
                <A href=href attr:class="request-title">{item.title.clone()}</A>
                <StatusBadge status=item.status/>
            </div>
            <p class="request-meta">
                <span class="requester">
                    {tr(|t| t.requested_by)} ": "
                    {match requester.clone() {
                        Some(r) => view! { <span>{r}</span> }.into_any(),
                        None => view! { <span class="muted">{tr(|t| t.unknown_requester)}</span> }.into_any(),
                    }}
                </span>
                <span class="workflow">
                    <span class="visually-hidden">{tr(|t| t.workflow)} ": "</span>
                    <span class="mono">{item.state_machine_name.clone()}</span>
                    " / "
                    <span class="mono">{item.execution_name.clone()}</span>
                </span>
            </p>
            <p class="request-times">
                <span>{tr(|t| t.created)} " " <RelativeTime at=item.created_at/></span>
                {pending
                    .then(|| {
                        view! {
                            <span class="due">{tr(|t| t.due)} " " <RelativeTime at=item.expires_at/></span>
                        }
                    })}
                {decided}
                <span class="vote-count">
                    {move || (t().votes_of)(item.approvals_so_far, item.required_approvals)}
                </span>
            </p>
        </li>
    }
}
