//! JSON without serde: the browser's `JSON.parse` reads the api's answers, and each type is
//! taken out of the parsed value by hand (serde's derived readers and serde_json's parser
//! were ~40 KB of the wasm). As with serde, a missing field or one of the wrong type makes
//! the answer unreadable, unknown fields are ignored, and an `Option` may be missing or
//! null. `JSON.stringify` writes the few objects the console sends.

use chrono::{DateTime, Utc};
use hanko_api::{
    Approval, ApprovalPage, ApprovalSummary, ConsoleConfig, DecisionInfo, Delivery, ErrorBody,
    ErrorDetail, LoginOptions, LoginResponse, Me, OidcLogin, Outcome, PolicyRef, RawJson,
    RequestStatus, Viewer, Vote, VoteBlock, VoteChoice,
};
use js_sys::{Array, JSON, Reflect};
use wasm_bindgen::{JsCast, JsValue};

/// A type read from a value of `JSON.parse`.
pub trait FromJson: Sized {
    fn from_json(v: &JsValue) -> Option<Self>;

    /// The JSON text `text` as `Self`.
    fn parse(text: &str) -> Option<Self> {
        Self::from_json(&JSON::parse(text).ok()?)
    }
}

/// The JSON text of an object with these fields, in this order (`None` is written as null).
pub fn object(fields: &[(&str, Option<&str>)]) -> String {
    let o = js_sys::Object::new();
    for (key, value) in fields {
        let value = value.map_or(JsValue::NULL, JsValue::from_str);
        let _ = Reflect::set(&o, &JsValue::from_str(key), &value);
    }
    JSON::stringify(&o)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default()
}

/// `v[key]`; undefined when `v` is not an object or has no such field.
pub fn field(v: &JsValue, key: &str) -> JsValue {
    if !v.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(v, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn string(v: &JsValue, key: &str) -> Option<String> {
    field(v, key).as_string()
}

/// An optional field: `Some(None)` when missing or null, `None` when of the wrong type.
fn opt<T>(v: &JsValue, key: &str, read: fn(&JsValue) -> Option<T>) -> Option<Option<T>> {
    let f = field(v, key);
    if f.is_null() || f.is_undefined() {
        Some(None)
    } else {
        read(&f).map(Some)
    }
}

fn opt_string(v: &JsValue, key: &str) -> Option<Option<String>> {
    opt(v, key, JsValue::as_string)
}

fn boolean(v: &JsValue, key: &str) -> Option<bool> {
    field(v, key).as_bool()
}

fn count(v: &JsValue, key: &str) -> Option<u32> {
    let n = field(v, key).as_f64()?;
    (n >= 0.0 && n <= f64::from(u32::MAX) && n == f64::from(n as u32)).then_some(n as u32)
}

fn time_of(v: &JsValue) -> Option<DateTime<Utc>> {
    hanko_api::parse_time(&v.as_string()?)
}

fn time(v: &JsValue, key: &str) -> Option<DateTime<Utc>> {
    time_of(&field(v, key))
}

fn word<T>(v: &JsValue, key: &str, parse: fn(&str) -> Option<T>) -> Option<T> {
    parse(&field(v, key).as_string()?)
}

fn list<T: FromJson>(v: &JsValue, key: &str) -> Option<Vec<T>> {
    let f = field(v, key);
    if !Array::is_array(&f) {
        return None;
    }
    f.unchecked_into::<Array>()
        .iter()
        .map(|x| T::from_json(&x))
        .collect()
}

impl FromJson for String {
    fn from_json(v: &JsValue) -> Option<Self> {
        v.as_string()
    }
}

fn outcome(s: &str) -> Option<Outcome> {
    match s {
        "approved" => Some(Outcome::Approved),
        "rejected" => Some(Outcome::Rejected),
        _ => None,
    }
}

fn delivery(s: &str) -> Option<Delivery> {
    match s {
        "pending" => Some(Delivery::Pending),
        "delivered" => Some(Delivery::Delivered),
        "task_gone" => Some(Delivery::TaskGone),
        "unconfirmed" => Some(Delivery::Unconfirmed),
        "delivered_or_gone" => Some(Delivery::DeliveredOrGone),
        _ => None,
    }
}

fn vote_block(v: &JsValue) -> Option<VoteBlock> {
    match v.as_string()?.as_str() {
        "not_an_approver" => Some(VoteBlock::NotAnApprover),
        "own_request" => Some(VoteBlock::OwnRequest),
        "already_voted" => Some(VoteBlock::AlreadyVoted),
        "decided" => Some(VoteBlock::Decided),
        "expired" => Some(VoteBlock::Expired),
        "closed" => Some(VoteBlock::Closed),
        _ => None,
    }
}

impl FromJson for ConsoleConfig {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(ConsoleConfig {
            login: LoginOptions::from_json(&field(v, "login"))?,
        })
    }
}

impl FromJson for LoginOptions {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(LoginOptions {
            dev: boolean(v, "dev")?,
            oidc: opt(v, "oidc", OidcLogin::from_json)?,
        })
    }
}

impl FromJson for OidcLogin {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(OidcLogin {
            authorize_url: string(v, "authorizeUrl")?,
            token_url: string(v, "tokenUrl")?,
            client_id: string(v, "clientId")?,
            scopes: string(v, "scopes")?,
            logout_url: opt_string(v, "logoutUrl")?,
            token_use: string(v, "tokenUse")?,
            provider_name: opt_string(v, "providerName")?,
        })
    }
}

impl FromJson for LoginResponse {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(LoginResponse {
            token: string(v, "token")?,
            expires_at: time(v, "expiresAt")?,
        })
    }
}

impl FromJson for Me {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(Me {
            email: string(v, "email")?,
            name: string(v, "name")?,
            groups: list(v, "groups")?,
            can_audit: opt(v, "canAudit", JsValue::as_bool)?.unwrap_or(false),
        })
    }
}

impl FromJson for ErrorBody {
    fn from_json(v: &JsValue) -> Option<Self> {
        let e = field(v, "error");
        Some(ErrorBody {
            error: ErrorDetail {
                code: string(&e, "code")?,
                message: string(&e, "message")?,
            },
        })
    }
}

impl FromJson for Vote {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(Vote {
            approver: string(v, "approver")?,
            name: string(v, "name")?,
            decision: word(v, "decision", VoteChoice::parse)?,
            comment: opt_string(v, "comment")?,
            decided_at: time(v, "decidedAt")?,
        })
    }
}

impl FromJson for DecisionInfo {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(DecisionInfo {
            outcome: word(v, "outcome", outcome)?,
            decided_at: time(v, "decidedAt")?,
            signature: string(v, "signature")?,
            delivery: word(v, "delivery", delivery)?,
        })
    }
}

impl FromJson for PolicyRef {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(PolicyRef {
            name: string(v, "name")?,
            sha256: string(v, "sha256")?,
        })
    }
}

impl FromJson for Viewer {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(Viewer {
            can_vote: boolean(v, "canVote")?,
            reason: opt(v, "reason", vote_block)?,
        })
    }
}

impl FromJson for ApprovalSummary {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(ApprovalSummary {
            id: string(v, "id")?,
            title: string(v, "title")?,
            requested_by: opt_string(v, "requestedBy")?,
            state_machine_name: string(v, "stateMachineName")?,
            execution_name: string(v, "executionName")?,
            status: word(v, "status", RequestStatus::parse)?,
            created_at: time(v, "createdAt")?,
            expires_at: time(v, "expiresAt")?,
            required_approvals: count(v, "requiredApprovals")?,
            approvals_so_far: count(v, "approvalsSoFar")?,
            decided_at: opt(v, "decidedAt", time_of)?,
            decided_by: list(v, "decidedBy")?,
        })
    }
}

impl FromJson for ApprovalPage {
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(ApprovalPage {
            items: list(v, "items")?,
            next_cursor: opt_string(v, "nextCursor")?,
        })
    }
}

impl FromJson for Approval {
    /// The details are left empty here; `parse` fills them in with their own text.
    fn from_json(v: &JsValue) -> Option<Self> {
        Some(Approval {
            id: string(v, "id")?,
            title: string(v, "title")?,
            description: opt_string(v, "description")?,
            details: RawJson(String::new()),
            approvers: list(v, "approvers")?,
            required_approvals: count(v, "requiredApprovals")?,
            allow_self_approval: boolean(v, "allowSelfApproval")?,
            requested_by: opt_string(v, "requestedBy")?,
            status: word(v, "status", RequestStatus::parse)?,
            created_at: time(v, "createdAt")?,
            expires_at: time(v, "expiresAt")?,
            execution_arn: string(v, "executionArn")?,
            execution_name: string(v, "executionName")?,
            state_machine_arn: string(v, "stateMachineArn")?,
            state_machine_name: string(v, "stateMachineName")?,
            state_name: opt_string(v, "stateName")?,
            region: opt_string(v, "region")?,
            votes: list(v, "votes")?,
            decision: opt(v, "decision", DecisionInfo::from_json)?,
            closed_reason: opt_string(v, "closedReason")?,
            policy: opt(v, "policy", PolicyRef::from_json)?,
            viewer: Viewer::from_json(&field(v, "viewer"))?,
        })
    }

    /// The details keep the text they were sent as: read through `JSON.parse`, numbers past
    /// 2^53 would be rounded.
    fn parse(text: &str) -> Option<Self> {
        let mut a = Self::from_json(&JSON::parse(text).ok()?)?;
        a.details = RawJson(raw_field(text, "details").unwrap_or("null").to_string());
        Some(a)
    }
}

/// The index just past the string that starts at `b[i]` (a `"`).
fn skip_string(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// The text of the value of `key` in the JSON object `text` (valid JSON), as written.
pub fn raw_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let b = text.as_bytes();
    let (mut i, mut depth, mut at_key) = (0, 0usize, false);
    while i < b.len() {
        match b[i] {
            b'"' => {
                let start = i;
                i = skip_string(b, i);
                if depth == 1 && at_key {
                    at_key = false;
                    if text.get(start + 1..i - 1) == Some(key) {
                        let mut j = i;
                        while j < b.len() && (b[j] == b':' || b[j].is_ascii_whitespace()) {
                            j += 1;
                        }
                        return text.get(j..value_end(b, j)).map(str::trim_end);
                    }
                }
                continue;
            }
            b'{' | b'[' => {
                depth += 1;
                at_key = depth == 1 && b[i] == b'{';
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' => at_key = depth == 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The index just past the JSON value that starts at `b[i]`.
fn value_end(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i = skip_string(b, i);
                if depth == 0 {
                    return i;
                }
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                if depth <= 1 {
                    return if depth == 0 { i } else { i + 1 };
                }
                depth -= 1;
            }
            b',' if depth == 0 => return i,
            _ => {}
        }
        i += 1;
    }
    i
}
