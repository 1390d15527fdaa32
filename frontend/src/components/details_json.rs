//! The JSON the workflow sent, pretty-printed as text (never as HTML), in a disclosure that
//! starts closed when the payload is large.

use hanko_api::RawJson;
use leptos::prelude::*;

use crate::i18n::{t, tr};

/// Payloads longer than this many lines start collapsed.
const LARGE_LINES: usize = 30;

#[component]
pub fn DetailsJson(details: RawJson) -> impl IntoView {
    let text = pretty(&details.0);
    if matches!(text.as_str(), "" | "null" | "{}" | "[]") {
        return view! { <p class="muted" id="request-details-empty">{tr(|t| t.no_details)}</p> }
            .into_any();
    }
    let lines = text.lines().count();
    let large = lines > LARGE_LINES || text.len() > 4000;
    view! {
        <details class="details-json" id="request-details" open=!large>
            <summary>{move || (t().details_show)(lines)}</summary>
            <pre tabindex="0"><code>{text}</code></pre>
        </details>
    }
    .into_any()
}

/// Valid JSON text laid out as serde_json's `to_string_pretty` does: two spaces per level,
/// `"key": value`, and `{}` / `[]` for empty ones. Strings and numbers stay exactly as
/// written, so nothing is parsed (and no number is rounded).
pub fn pretty(json: &str) -> String {
    let mut out = String::with_capacity(json.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = json.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_ascii_whitespace()) {
                    chars.next();
                }
                if matches!(chars.peek(), Some('}' | ']')) {
                    out.extend(chars.next());
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_ascii_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}
