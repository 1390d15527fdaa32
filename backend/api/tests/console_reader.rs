//! The console reads the api's answers by hand (`frontend/src/json.rs`, through the browser's
//! `JSON.parse`), not with these types' serde readers, which were too big for its wasm. These
//! tests hold that reader to what the server writes: every key it reads is one serde writes,
//! every key serde writes is read, and every wire word of the enums it reads is matched.
//! A renamed field or a new enum variant fails here rather than in a browser.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use hanko_api::*;
use serde::Serialize;
use serde_json::{Value, json};

const READER: &str = include_str!("../../../frontend/src/json.rs");

/// The keys the reader asks for: the string literal after the value in its calls, such as
/// `string(v, "authorizeUrl")` or `field(&e, "code")`.
fn keys_read() -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    let mut rest = READER;
    while let Some(at) = rest.find(", \"") {
        rest = &rest[at + 3..];
        let end = rest.find('"').unwrap_or(0);
        let key = &rest[..end];
        let word = key.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.chars().all(|c| c.is_ascii_alphanumeric());
        if word {
            keys.insert(key.to_string());
        }
    }
    keys
}

/// Every object key in `v`, at any depth, except inside a request's `details` (the
/// workflow's own JSON, which the console shows as text).
fn keys_written(v: &Value, into: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                into.insert(k.clone());
                if k != "details" {
                    keys_written(x, into);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| keys_written(x, into)),
        _ => {}
    }
}

fn t() -> DateTime<Utc> {
    "2026-11-25T09:41:00.123Z".parse().expect("a time")
}

/// One of each answer the console reads, with every optional part present.
fn answers() -> Vec<Value> {
    fn v(x: impl Serialize) -> Value {
        serde_json::to_value(x).expect("serialisable")
    }
    let summary = ApprovalSummary {
        id: "r".into(),
        title: "t".into(),
        requested_by: Some("bob@example.com".into()),
        state_machine_name: "deploy".into(),
        execution_name: "run-1".into(),
        status: RequestStatus::Approved,
        created_at: t(),
        expires_at: t(),
        required_approvals: 1,
        approvals_so_far: 1,
        decided_at: Some(t()),
        decided_by: vec!["alice@example.com".into()],
    };
    let approval = Approval {
        id: "r".into(),
        title: "t".into(),
        description: Some("d".into()),
        details: json!({"service": "shop-api"}),
        approvers: vec!["alice@example.com".into()],
        required_approvals: 1,
        allow_self_approval: false,
        requested_by: Some("bob@example.com".into()),
        status: RequestStatus::Approved,
        created_at: t(),
        expires_at: t(),
        execution_arn: "arn:e".into(),
        execution_name: "run-1".into(),
        state_machine_arn: "arn:s".into(),
        state_machine_name: "deploy".into(),
        state_name: Some("Ask".into()),
        region: Some("ap-northeast-1".into()),
        votes: vec![Vote {
            approver: "alice@example.com".into(),
            name: "Alice".into(),
            decision: VoteChoice::Approve,
            comment: Some("ok".into()),
            decided_at: t(),
        }],
        decision: Some(DecisionInfo {
            outcome: Outcome::Approved,
            decided_at: t(),
            signature: "s".into(),
            delivery: Delivery::Delivered,
        }),
        closed_reason: Some("c".into()),
        policy: Some(PolicyRef {
            name: "deploys".into(),
            sha256: "00".into(),
        }),
        viewer: Viewer {
            can_vote: false,
            reason: Some(VoteBlock::Decided),
        },
    };
    vec![
        v(ConsoleConfig {
            login: LoginOptions {
                dev: true,
                oidc: Some(OidcLogin {
                    authorize_url: "a".into(),
                    token_url: "t".into(),
                    client_id: "c".into(),
                    scopes: "openid".into(),
                    logout_url: Some("l".into()),
                    token_use: "id".into(),
                    provider_name: Some("p".into()),
                }),
            },
        }),
        v(LoginResponse {
            token: "t".into(),
            expires_at: t(),
        }),
        v(Me {
            email: "alice@example.com".into(),
            name: "Alice".into(),
            groups: vec!["g".into()],
            can_audit: true,
        }),
        v(ErrorBody {
            error: ErrorDetail {
                code: "c".into(),
                message: "m".into(),
            },
        }),
        v(ApprovalPage {
            items: vec![summary],
            next_cursor: Some("n".into()),
        }),
        v(approval),
    ]
}

#[test]
fn the_console_reads_every_key_the_api_writes_and_no_other() {
    let mut written = BTreeSet::new();
    for a in answers() {
        keys_written(&a, &mut written);
    }
    let read = keys_read();
    let unread: Vec<_> = written.difference(&read).collect();
    let unknown: Vec<_> = read.difference(&written).collect();
    assert!(
        unread.is_empty() && unknown.is_empty(),
        "frontend/src/json.rs is out of step with the api's types: written but not read \
         {unread:?}; read but never written {unknown:?}"
    );
}

/// A variant's wire word, as serde writes it.
fn word(x: impl Serialize) -> String {
    match serde_json::to_value(x) {
        Ok(Value::String(s)) => s,
        other => panic!("not a word: {other:?}"),
    }
}

/// Does nothing; it stops building when a variant is added to an enum the console reads,
/// until the variant is listed here and in the test below.
#[allow(dead_code)]
fn every_variant_is_listed(c: VoteChoice, o: Outcome, d: Delivery, b: VoteBlock) {
    match c {
        VoteChoice::Approve | VoteChoice::Reject => {}
    }
    match o {
        Outcome::Approved | Outcome::Rejected => {}
    }
    match d {
        Delivery::Pending
        | Delivery::Delivered
        | Delivery::TaskGone
        | Delivery::Unconfirmed
        | Delivery::DeliveredOrGone => {}
    }
    match b {
        VoteBlock::NotAnApprover
        | VoteBlock::OwnRequest
        | VoteBlock::AlreadyVoted
        | VoteBlock::Decided
        | VoteBlock::Expired
        | VoteBlock::Closed => {}
    }
}

#[test]
fn the_console_knows_every_word_of_the_enums_it_reads() {
    let mut all: Vec<String> = Vec::new();
    all.extend([Outcome::Approved, Outcome::Rejected].map(word));
    all.extend(
        [
            Delivery::Pending,
            Delivery::Delivered,
            Delivery::TaskGone,
            Delivery::Unconfirmed,
            Delivery::DeliveredOrGone,
        ]
        .map(word),
    );
    all.extend(
        [
            VoteBlock::NotAnApprover,
            VoteBlock::OwnRequest,
            VoteBlock::AlreadyVoted,
            VoteBlock::Decided,
            VoteBlock::Expired,
            VoteBlock::Closed,
        ]
        .map(word),
    );
    let missing: Vec<_> = all
        .iter()
        .filter(|w| !READER.contains(&format!("\"{w}\" => Some(")))
        .collect();
    assert!(
        missing.is_empty(),
        "frontend/src/json.rs does not read these wire words: {missing:?}"
    );
    // Statuses and vote choices are read with the api crate's own `parse`.
    for s in RequestStatus::ALL {
        assert_eq!(word(s), s.as_str());
    }
    for c in VoteChoice::ALL {
        assert_eq!(word(c), c.as_str());
    }
    for parse in ["RequestStatus::parse", "VoteChoice::parse"] {
        assert!(
            READER.contains(parse),
            "frontend/src/json.rs no longer uses {parse}"
        );
    }
}
