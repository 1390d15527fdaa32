//! Need to know: a request is shown only to its approvers (by email or group), its
//! requester and auditors; to anyone else it does not exist. And a vote counts only if it
//! is written before the deadline, however long signing it took.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error, rid, test_app, token};

/// The ids of a page of `GET /api/approvals{query}` as the holder of `token`.
async fn listed_ids(t: &TestApp, query: &str, token: &str) -> (Vec<String>, Value) {
    let r = t
        .call("GET", &format!("/api/approvals{query}"), Some(token), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
    let ids = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    (ids, r.body["nextCursor"].clone())
}

#[tokio::test]
async fn a_stranger_is_told_a_request_does_not_exist_and_lists_nothing() {
    let t = test_app();
    // For alice and the release managers, asked by bob.
    let decided = t.seed("tok-stranger-1", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let r = t
        .decide(&decided, &alice, json!({"decision": "approve"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let pending = t.seed("tok-stranger-2", json!({})).await;
    // Mallory is a developer: no approver, not the requester, no auditor.
    let mallory = t.login("mallory@example.com").await;
    let missing = t
        .read("0190e4b2-7c1e-7000-8000-00000000ffff", &mallory)
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
    for id in [&decided, &pending] {
        let r = t.read(id, &mallory).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        assert_eq!(r.body, missing.body, "the answer for no request at all");
        let r = t
            .call(
                "GET",
                &format!("/api/approvals/{id}/decision"),
                Some(&mallory),
                None,
            )
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    for query in [
        "",
        "?status=all",
        "?status=pending",
        "?status=approved",
        "?mine=true",
        "?limit=1",
    ] {
        let (ids, next) = listed_ids(&t, query, &mallory).await;
        assert!(ids.is_empty(), "{query}: {ids:?}");
        assert!(next.is_null(), "{query}: {next}");
    }
    // Those who may see them still do.
    let (ids, _) = listed_ids(&t, "?status=all", &alice).await;
    assert_eq!(ids, [pending.clone(), decided.clone()]);
}

#[tokio::test]
async fn approvers_by_email_or_group_the_requester_and_an_auditor_see_a_request() {
    let t = test_app();
    let id = t
        .seed(
            "tok-seen",
            json!({"approvers": ["alice@example.com", "group:developers"],
                   "requestedBy": "carol@example.com"}),
        )
        .await;
    let hidden = t
        .seed(
            "tok-hidden",
            json!({"approvers": ["erin@example.com"], "requestedBy": "erin@example.com"}),
        )
        .await;
    for (who, why) in [
        ("alice@example.com", "an approver by email"),
        ("mallory@example.com", "an approver by group"),
        ("carol@example.com", "the requester"),
        ("dave@example.com", "an auditor"),
    ] {
        let token = t.login(who).await;
        let r = t.read(&id, &token).await;
        assert_eq!(r.status, StatusCode::OK, "{why}: {}", r.text);
        assert_eq!(r.body["id"], id.as_str());
        let (ids, _) = listed_ids(&t, "?status=pending", &token).await;
        let r = t.read(&hidden, &token).await;
        if who == "dave@example.com" {
            assert_eq!(ids, [hidden.clone(), id.clone()], "{why} sees everything");
            assert_eq!(r.status, StatusCode::OK, "{why}: {}", r.text);
        } else {
            assert_eq!(ids, vec![id.clone()], "{why}");
            assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        }
    }
}

#[tokio::test]
async fn a_vote_whose_signing_outlasts_the_deadline_is_410_expired_and_records_nothing() {
    let t = test_app();
    let alice = t.login("alice@example.com").await;
    let seeded = t.seed("tok-slow", json!({})).await;
    // A request whose deadline comes while its deciding vote is being signed.
    let mut req = t
        .hanko
        .store
        .get(&rid(&seeded))
        .await
        .unwrap()
        .unwrap()
        .request;
    req.expires_at = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    let id = "0190e4b2-7c1e-7000-8000-0000000000bb";
    t.hanko
        .store
        .insert(&rid(id), &token("tok-slow-2"), &req)
        .await
        .unwrap();
    let held = req.expires_at + chrono::Duration::milliseconds(100);
    *t.signer.hold_until.lock().unwrap() = Some(held);
    let r = t.decide(id, &alice, json!({"decision": "approve"})).await;
    assert!(
        chrono::Utc::now() >= held,
        "the signer held the vote past the deadline"
    );
    assert_error(&r, StatusCode::GONE, "expired");
    let got = t.hanko.store.get(&rid(id)).await.unwrap().unwrap();
    assert!(got.votes.is_empty(), "{:?}", got.votes);
    assert_eq!(got.decision, None);
    assert_eq!(got.delivery, None);
    assert_eq!(got.status, hanko_api::RequestStatus::Pending);
    assert!(t.callbacks().is_empty());
}
