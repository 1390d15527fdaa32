//! Property-based tests of the decision body through the real Router: arbitrary JSON and
//! near-valid mutations never get a 5xx or a panic; every refusal is a 4xx in the
//! contract's error shape; the Router refuses a body exactly when `DecisionRequest`'s own
//! deserialisation does; a valid vote is recorded as sent.

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Resp, TestApp, test_app};
use hanko_api::{DecisionRequest, VoteChoice};
use proptest::prelude::*;
use serde_json::{Value, json};

/// Cases per property: a few seconds in `cargo test`.
const CASES: u32 = 512;

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,30}".prop_map(Value::String),
        prop::sample::select(&["approve", "reject", "Approve", "APPROVE", ""][..])
            .prop_map(Value::from),
    ];
    let key = prop_oneof![
        prop::sample::select(&["decision", "comment"][..]).prop_map(str::to_string),
        ".{0,10}",
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn assert_error_shape(r: &Resp) {
    assert!(r.status.is_client_error(), "{} {}", r.status, r.text);
    let e = &r.body["error"];
    assert!(
        e["code"].as_str().is_some_and(|c| !c.is_empty())
            && e["message"].as_str().is_some_and(|m| !m.is_empty())
            && r.body.as_object().is_some_and(|o| o.len() == 1)
            && e.as_object().is_some_and(|o| o.len() == 2),
        "not the error shape: {}",
        r.text
    );
}

struct World {
    rt: tokio::runtime::Runtime,
    t: TestApp,
    id: String,
    mallory: String,
}

/// One app and one request for all cases; mallory may not see the request, so a body that
/// parses is answered 404 and nothing changes between cases.
fn world() -> World {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (t, id, mallory) = rt.block_on(async {
        let t = test_app();
        let id = t.seed("tok-properties", json!({})).await;
        let mallory = t.login("mallory@example.com").await;
        (t, id, mallory)
    });
    World { rt, t, id, mallory }
}

impl World {
    fn post_raw(&self, token: &str, id: &str, body: Vec<u8>) -> Resp {
        let req = Request::post(format!("/api/approvals/{id}/decision"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body))
            .unwrap();
        self.rt.block_on(self.t.send(req))
    }
}

/// A valid body, then one change: a field replaced, removed, added, or the text cut.
fn near_valid() -> impl Strategy<Value = Vec<u8>> {
    let base = prop_oneof![
        Just(json!({"decision": "approve"})),
        Just(json!({"decision": "approve", "comment": "fine"})),
        Just(json!({"decision": "reject", "comment": "not now"})),
    ];
    (
        base,
        0..4usize,
        any_json(),
        ".{0,8}",
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut v, how, value, key, cut)| {
            let o = v.as_object_mut().unwrap();
            match how {
                0 => {
                    o.insert("decision".into(), value);
                }
                1 => {
                    o.insert("comment".into(), value);
                }
                2 => {
                    o.insert(key, value);
                }
                _ => {
                    let text = v.to_string().into_bytes();
                    let n = cut.index(text.len());
                    return text[..n].to_vec();
                }
            }
            v.to_string().into_bytes()
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn any_json_body_is_refused_with_the_error_shape_exactly_when_it_is_not_a_decision(
        body in prop_oneof![any_json().prop_map(|v| v.to_string().into_bytes()), near_valid()]
    ) {
        thread_local!(static W: World = world());
        W.with(|w| {
            let parses = serde_json::from_slice::<DecisionRequest>(&body).is_ok();
            let r = w.post_raw(&w.mallory, &w.id, body.clone());
            assert_error_shape(&r);
            if parses {
                // mallory may not see the request: a decision is answered as if it did not exist.
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
            } else {
                assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
                let code = r.body["error"]["code"].as_str().unwrap();
                assert!(code == "invalid_body" || code == "invalid_json", "{code}");
            }
        });
    }

    #[test]
    fn arbitrary_bytes_as_a_decision_body_never_get_a_server_error(
        body in prop::collection::vec(any::<u8>(), 0..200)
    ) {
        thread_local!(static W: World = world());
        W.with(|w| {
            let r = w.post_raw(&w.mallory, &w.id, body);
            assert_error_shape(&r);
        });
    }

    #[test]
    fn a_valid_vote_is_recorded_as_sent_or_refused_with_invalid_comment(
        approve in any::<bool>(),
        comment in prop::option::of("[\\PC\\s]{0,60}"),
    ) {
        thread_local!(static W: (World, String) = {
            let w = world();
            let alice = w.rt.block_on(w.t.login("alice@example.com"));
            (w, alice)
        });
        W.with(|(w, alice)| {
            let decision = if approve { VoteChoice::Approve } else { VoteChoice::Reject };
            let body = serde_json::to_vec(&json!({"decision": decision, "comment": comment})).unwrap();
            // Round trip of the contract type itself.
            let parsed: DecisionRequest = serde_json::from_slice(&body).unwrap();
            assert_eq!(parsed.decision, decision);
            assert_eq!(parsed.comment, comment);
            // A fresh request for each vote.
            let id = w.rt.block_on(w.t.seed(&format!("tok-vote-{}", uuid_like()), json!({})));
            let r = w.post_raw(alice, &id, body);
            let trimmed = comment.as_deref().map(str::trim).filter(|c| !c.is_empty());
            if !approve && trimmed.is_none() {
                assert_error_shape(&r);
                assert_eq!(r.body["error"]["code"], "invalid_comment");
            } else {
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                let vote = &r.body["votes"][0];
                assert_eq!(vote["approver"], "alice@example.com");
                assert_eq!(vote["decision"], serde_json::to_value(decision).unwrap());
                assert_eq!(vote["comment"].as_str(), trimmed);
            }
        });
    }
}

fn uuid_like() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}
