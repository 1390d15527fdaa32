//! The recorded decision: approved or rejected, when, whether the workflow has been told,
//! and the signed record.

use hanko_api::{DecisionInfo, Delivery, Outcome};
use leptos::prelude::*;

use crate::components::relative_time::DateTimeText;
use crate::i18n::{self, tr};

#[component]
pub fn DecisionResult(decision: DecisionInfo) -> impl IntoView {
    let outcome = match decision.outcome {
        Outcome::Approved => "approved",
        Outcome::Rejected => "rejected",
    };
    let delivery = match decision.delivery {
        Delivery::Pending => "pending",
        Delivery::Delivered => "delivered",
        Delivery::TaskGone => "task_gone",
        Delivery::Unconfirmed => "unconfirmed",
        Delivery::DeliveredOrGone => "delivered_or_gone",
    };
    let signature = decision.signature.clone();
    view! {
        <section
            class=format!("card decision-result outcome-{outcome}")
            id="decision-result"
            data-outcome=outcome
            data-delivery=delivery
            aria-labelledby="decision-result-title"
        >
            <h2 id="decision-result-title">{tr(|t| t.result_title)}</h2>
            <p class="outcome" id="decision-outcome">
                <span class="outcome-mark" aria-hidden="true">
                    {if decision.outcome == Outcome::Approved { "✓" } else { "✕" }}
                </span>
                {move || i18n::outcome_name(decision.outcome)}
            </p>
            <dl class="facts">
                <div>
                    <dt>{tr(|t| t.decided_at)}</dt>
                    <dd><DateTimeText at=decision.decided_at/></dd>
                </div>
                <div>
                    <dt>{tr(|t| t.delivery)}</dt>
                    <dd id="decision-delivery" class=format!("delivery-{delivery}")>
                        {move || i18n::delivery_name(decision.delivery)}
                    </dd>
                </div>
            </dl>
            <details class="signature">
                <summary>{tr(|t| t.signature_show)}</summary>
                <p class="hint">
                    {tr(|t| t.signature_note)} " "
                    // The server's own file, not a page of the console: the router leaves
                    // a rel="external" link to the browser.
                    <a href="/.well-known/jwks.json" rel="external">"/.well-known/jwks.json"</a>
                </p>
                <pre tabindex="0" id="decision-signature"><code>{signature}</code></pre>
            </details>
        </section>
    }
}
