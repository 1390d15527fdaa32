//! The Router in-process, driven by real HTTP requests: every status code of the contract.

use crate::common;
#[path = "governance/need_to_know.rs"]
mod need_to_know;
#[path = "governance/policy.rs"]
mod policy;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{Answer, assert_error, rid, test_app, test_app_with, token};
use hanko::store::Callback;
use hanko::workflow::ExecutionState;
use hanko_api::{DecisionRecord, TaskOutput};
use serde_json::{Value, json};

#[tokio::test]
async fn health_answers_ok_without_a_login() {
    let t = test_app();
    let r = t.call("GET", "/api/health", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, json!({"status": "ok"}));
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn a_dev_login_gives_a_token_that_names_the_user() {
    let t = test_app();
    let token = t.login("Alice@Example.com").await;
    let r = t.call("GET", "/api/me", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"email": "alice@example.com", "name": "Alice", "groups": ["release-managers"], "canAudit": false})
    );
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_401() {
    let t = test_app();
    let r = t
        .call(
            "POST",
            "/api/dev/login",
            None,
            Some(json!({"email": "alice@example.com", "password": "nope"})),
        )
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn the_dev_login_is_404_when_the_dev_provider_is_off() {
    let t = test_app_with(false);
    let r = t
        .call(
            "POST",
            "/api/dev/login",
            None,
            Some(json!({"email": "alice@example.com", "password": "x"})),
        )
        .await;
    assert_error(&r, StatusCode::NOT_FOUND, "dev_login_off");
}

#[tokio::test]
async fn a_login_body_that_is_not_json_is_422_and_without_content_type_415() {
    let t = test_app();
    let req = Request::post("/api/dev/login")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{not json"))
        .unwrap();
    assert_error(
        &t.send(req).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_json",
    );
    let req = Request::post("/api/dev/login")
        .body(Body::from("{}"))
        .unwrap();
    assert_error(
        &t.send(req).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
}

#[tokio::test]
async fn every_api_route_without_a_valid_token_is_401() {
    let t = test_app();
    let id = t.seed("tok-401", json!({})).await;
    for (m, uri) in [
        ("GET", "/api/me".to_string()),
        ("GET", "/api/approvals".to_string()),
        ("GET", format!("/api/approvals/{id}")),
        ("POST", format!("/api/approvals/{id}/decision")),
    ] {
        let body = (m == "POST").then(|| json!({"decision": "approve"}));
        let r = t.call(m, &uri, None, body.clone()).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
        assert_eq!(r.headers[header::WWW_AUTHENTICATE], "Bearer");
        let r = t.call(m, &uri, Some("not.a.token"), body).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
}

#[tokio::test]
async fn the_inbox_lists_only_what_i_may_still_vote_on_newest_first() {
    let t = test_app();
    let a = t.seed("tok-a", json!({"title": "first"})).await;
    let b = t.seed("tok-b", json!({"title": "second"})).await;
    let _not_mine = t
        .seed(
            "tok-c",
            json!({"approvers": ["carol@example.com"], "title": "carol only"}),
        )
        .await;
    let alice = t.login("alice@example.com").await;
    let r = t
        .call(
            "GET",
            "/api/approvals?status=pending&mine=true",
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ids: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b.as_str(), a.as_str()]);
    assert_eq!(r.body["nextCursor"], Value::Null);

    // Bob asked for these: they are not his to approve, although he is in the group.
    let bob = t.login("bob@example.com").await;
    let r = t
        .call("GET", "/api/approvals?mine=true", Some(&bob), None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn the_list_pages_with_a_cursor_and_refuses_bad_parameters() {
    let t = test_app();
    for i in 0..5 {
        t.seed(&format!("tok-page-{i}"), json!({})).await;
    }
    let alice = t.login("alice@example.com").await;
    let mut seen = Vec::new();
    let mut uri = "/api/approvals?status=all&limit=2".to_string();
    loop {
        let r = t.call("GET", &uri, Some(&alice), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for i in r.body["items"].as_array().unwrap() {
            seen.push(i["id"].as_str().unwrap().to_string());
        }
        match r.body["nextCursor"].as_str() {
            Some(c) => uri = format!("/api/approvals?status=all&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first");

    for (q, code) in [
        ("status=maybe", "invalid_status"),
        ("limit=0", "invalid_limit"),
        ("limit=abc", "invalid_limit"),
        ("mine=yes", "invalid_mine"),
        ("cursor=%%%", "invalid_cursor"),
    ] {
        let r = t
            .call("GET", &format!("/api/approvals?{q}"), Some(&alice), None)
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, code);
    }
}

#[tokio::test]
async fn a_request_shows_everything_needed_to_decide_but_never_its_task_token() {
    let t = test_app();
    let token = "secret-task-token-1234567890";
    let id = t.seed(token, json!({})).await;
    let alice = t.login("alice@example.com").await;
    let r = t.read(&id, &alice).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["title"], "Deploy shop-api v1.4.2 to production");
    assert_eq!(
        r.body["details"],
        json!({"service": "shop-api", "version": "1.4.2"})
    );
    assert_eq!(r.body["status"], "pending");
    assert_eq!(r.body["region"], "ap-northeast-1");
    assert_eq!(r.body["stateMachineName"], "deploy");
    assert_eq!(r.body["viewer"], json!({"canVote": true, "reason": null}));
    assert!(!r.text.contains(token));
    let list = t.call("GET", "/api/approvals", Some(&alice), None).await;
    assert!(!list.text.contains(token));
    for entry in std::fs::read_dir(t.outbox.path()).unwrap() {
        let mail = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!mail.contains(token));
    }

    // An auditor reads what they may not vote on.
    let dave = t.login("dave@example.com").await;
    let r = t.read(&id, &dave).await;
    assert_eq!(
        r.body["viewer"],
        json!({"canVote": false, "reason": "not_an_approver"})
    );
}

#[tokio::test]
async fn an_unknown_or_malformed_id_is_404() {
    let t = test_app();
    let alice = t.login("alice@example.com").await;
    for id in [
        "0190e4b2-7c1e-7000-8000-000000000000",
        "nope",
        "..%2F..%2Fetc",
    ] {
        let r = t.read(id, &alice).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
        let r = t.decide(id, &alice, json!({"decision": "approve"})).await;
        assert_error(&r, StatusCode::NOT_FOUND, "not_found");
    }
    let r = t.call("GET", "/api/nothing-here", Some(&alice), None).await;
    assert_error(&r, StatusCode::NOT_FOUND, "no_such_route");
    let r = t.call("DELETE", "/api/approvals", Some(&alice), None).await;
    assert_error(&r, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed");
}

#[tokio::test]
async fn an_approval_sends_a_signed_decision_to_the_workflow() {
    let t = test_app();
    let id = t.seed("tok-approve", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let r = t
        .decide(
            &id,
            &alice,
            json!({"decision": "approve", "comment": "LGTM"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "approved");
    assert_eq!(r.body["decision"]["outcome"], "approved");
    assert_eq!(r.body["decision"]["delivery"], "delivered");
    assert_eq!(r.body["viewer"]["reason"], "already_voted");

    let sent = t.callbacks();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "tok-approve");
    let Callback::Success { output } = &sent[0].1 else {
        panic!("expected success, got {:?}", sent[0].1)
    };
    let out: TaskOutput = serde_json::from_str(output).unwrap();
    assert_eq!(out.request_id, id);
    assert_eq!(out.approvals[0].approver, "alice@example.com");
    assert_eq!(out.approvals[0].comment.as_deref(), Some("LGTM"));

    // The signature verifies with the published key.
    let jwks = t.call("GET", "/.well-known/jwks.json", None, None).await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.body).unwrap();
    let header = jsonwebtoken::decode_header(&out.signature).unwrap();
    let key = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    let record = jsonwebtoken::decode::<DecisionRecord>(
        &out.signature,
        &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(record.request_id, id);
    assert_eq!(record.decision, hanko_api::Outcome::Approved);
    assert_eq!(record.request_digest.len(), 64);
}

#[tokio::test]
async fn a_rejection_fails_the_task_with_hanko_rejected_or_succeeds_when_asked() {
    let t = test_app();
    let fail = t.seed("tok-rej-fail", json!({})).await;
    let succeed = t.seed("tok-rej-ok", json!({"onReject": "succeed"})).await;
    let alice = t.login("alice@example.com").await;
    for id in [&fail, &succeed] {
        let r = t
            .decide(
                id,
                &alice,
                json!({"decision": "reject", "comment": "not during the sale"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["status"], "rejected");
    }
    let sent = t.callbacks();
    match &sent[0].1 {
        Callback::Failure { error, cause } => {
            assert_eq!(error, "Hanko.Rejected");
            let c: Value = serde_json::from_str(cause).unwrap();
            assert_eq!(c["decision"], "rejected");
            assert_eq!(c["rejections"][0]["comment"], "not during the sale");
        }
        other => panic!("expected failure, got {other:?}"),
    }
    match &sent[1].1 {
        Callback::Success { output } => {
            let o: Value = serde_json::from_str(output).unwrap();
            assert_eq!(o["decision"], "rejected");
        }
        other => panic!("expected success, got {other:?}"),
    }
}

#[tokio::test]
async fn a_rejection_without_a_comment_is_422_and_records_nothing() {
    let t = test_app();
    let id = t.seed("tok-nocomment", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let r = t.decide(&id, &alice, json!({"decision": "reject"})).await;
    assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_comment");
    let r = t.read(&id, &alice).await;
    assert_eq!(r.body["votes"], json!([]));
    assert_eq!(r.body["status"], "pending");
}

#[tokio::test]
async fn a_malformed_or_oversized_decision_body_is_refused() {
    let t = test_app();
    let id = t.seed("tok-body", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let uri = format!("/api/approvals/{id}/decision");
    for body in [
        json!({"decision": "maybe"}),
        json!({}),
        json!({"decision": "approve", "extra": 1}),
    ] {
        let r = t.call("POST", &uri, Some(&alice), Some(body)).await;
        assert_error(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body");
    }
    let huge = json!({"decision": "approve", "comment": "x".repeat(100_000)});
    let r = t.call("POST", &uri, Some(&alice), Some(huge)).await;
    assert_error(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large");
    assert!(t.callbacks().is_empty());
}

#[tokio::test]
async fn someone_who_is_not_an_approver_or_who_asked_gets_403_and_a_stranger_404() {
    let t = test_app();
    let id = t.seed("tok-403", json!({})).await;
    let uri = format!("/api/approvals/{id}/decision");
    let body = json!({"decision": "approve"});
    // An auditor sees the request but may not decide it.
    let dave = t.login("dave@example.com").await;
    assert_error(
        &t.call("POST", &uri, Some(&dave), Some(body.clone())).await,
        StatusCode::FORBIDDEN,
        "not_an_approver",
    );
    // Someone who may not see it is not told it exists.
    let mallory = t.login("mallory@example.com").await;
    assert_error(
        &t.call("POST", &uri, Some(&mallory), Some(body.clone()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let bob = t.login("bob@example.com").await;
    assert_error(
        &t.call("POST", &uri, Some(&bob), Some(body)).await,
        StatusCode::FORBIDDEN,
        "own_request",
    );
    assert!(t.callbacks().is_empty());
}

#[tokio::test]
async fn a_second_vote_is_409_and_a_quorum_of_two_needs_two_people() {
    let t = test_app();
    let id = t.seed("tok-quorum", json!({"requiredApprovals": 2})).await;
    let uri = format!("/api/approvals/{id}/decision");
    let alice = t.login("alice@example.com").await;
    let carol = t.login("carol@example.com").await;
    let r = t
        .call(
            "POST",
            &uri,
            Some(&alice),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "pending");
    assert!(t.callbacks().is_empty());
    assert_error(
        &t.call(
            "POST",
            &uri,
            Some(&alice),
            Some(json!({"decision": "approve"})),
        )
        .await,
        StatusCode::CONFLICT,
        "already_voted",
    );
    let r = t
        .call(
            "POST",
            &uri,
            Some(&carol),
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(r.body["status"], "approved");
    assert_eq!(t.callbacks().len(), 1);
}

#[tokio::test]
async fn a_decided_request_is_409_for_the_other_approvers() {
    let t = test_app();
    let id = t.seed("tok-decided", json!({})).await;
    let uri = format!("/api/approvals/{id}/decision");
    let alice = t.login("alice@example.com").await;
    let carol = t.login("carol@example.com").await;
    t.call(
        "POST",
        &uri,
        Some(&alice),
        Some(json!({"decision": "approve"})),
    )
    .await;
    assert_error(
        &t.call(
            "POST",
            &uri,
            Some(&carol),
            Some(json!({"decision": "reject", "comment": "late"})),
        )
        .await,
        StatusCode::CONFLICT,
        "already_decided",
    );
    assert_eq!(t.callbacks().len(), 1);
}

#[tokio::test]
async fn an_expired_request_is_410_and_the_sweeper_tells_the_workflow() {
    let t = test_app();
    let id = t.seed("tok-expired", json!({"timeoutSeconds": 60})).await;
    // A request whose deadline has passed, as time would make it.
    let mut req = t.hanko.store.get(&rid(&id)).await.unwrap().unwrap().request;
    req.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    let expired = "0190e4b2-7c1e-7000-8000-0000000000aa";
    t.hanko
        .store
        .insert(&rid(expired), &token("tok-expired-2"), &req)
        .await
        .unwrap();
    let alice = t.login("alice@example.com").await;
    let r = t
        .call(
            "GET",
            &format!("/api/approvals/{expired}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.body["status"], "expired");
    assert_eq!(r.body["viewer"]["reason"], "expired");
    let uri = format!("/api/approvals/{expired}/decision");
    assert_error(
        &t.call(
            "POST",
            &uri,
            Some(&alice),
            Some(json!({"decision": "approve"})),
        )
        .await,
        StatusCode::GONE,
        "expired",
    );
    t.hanko.sweep().await.unwrap();
    let sent = t.callbacks();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "tok-expired-2");
    assert!(matches!(&sent[0].1, Callback::Failure { error, .. } if error == "Hanko.Expired"));
    let r = t
        .call("GET", "/api/approvals?status=expired", Some(&alice), None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn when_the_workflow_no_longer_waits_the_vote_is_410_and_the_request_closed() {
    let t = test_app();
    let id = t.seed("tok-gone", json!({})).await;
    t.answer(Answer::Gone);
    let alice = t.login("alice@example.com").await;
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_error(&r, StatusCode::GONE, "workflow_gone");
    let r = t.read(&id, &alice).await;
    assert_eq!(r.body["status"], "closed");
    assert_eq!(r.body["decision"]["delivery"], "task_gone");
    assert!(
        r.body["closedReason"]
            .as_str()
            .unwrap()
            .contains("InvalidToken")
    );
}

#[tokio::test]
async fn a_decision_that_could_not_be_delivered_is_retried_by_the_sweeper() {
    let t = test_app();
    let id = t.seed("tok-retry", json!({})).await;
    t.answer(Answer::Throttled);
    let alice = t.login("alice@example.com").await;
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["decision"]["delivery"], "pending");
    t.answer(Answer::Accept);
    // The retry is scheduled with backoff; force it due by delivering directly.
    t.hanko.deliver(&rid(&id)).await.unwrap();
    t.hanko.sweep().await.unwrap();
    assert_eq!(t.callbacks().len(), 1, "delivered exactly once");
    let r = t.read(&id, &alice).await;
    assert_eq!(r.body["decision"]["delivery"], "delivered");
}

#[tokio::test]
async fn a_task_gone_answer_after_an_unanswered_attempt_is_recorded_as_delivered_or_gone() {
    let t = test_app();
    let id = t.seed("tok-unknown", json!({})).await;
    t.answer(Answer::Silence);
    let alice = t.login("alice@example.com").await;
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "the decision is recorded: {}",
        r.text
    );
    assert_eq!(r.body["decision"]["delivery"], "unconfirmed");
    // A refusal in between does not make Hanko forget the unanswered attempt.
    t.answer(Answer::Throttled);
    t.hanko.deliver(&rid(&id)).await.unwrap();
    assert_eq!(
        t.read(&id, &alice).await.body["decision"]["delivery"],
        "unconfirmed"
    );
    t.answer(Answer::Gone);
    t.hanko.deliver(&rid(&id)).await.unwrap();
    let r = t.read(&id, &alice).await;
    assert_eq!(
        r.body["status"], "approved",
        "the decision stands: {}",
        r.text
    );
    assert_eq!(r.body["decision"]["delivery"], "delivered_or_gone");
    let reason = r.body["closedReason"].as_str().unwrap();
    assert!(reason.contains("InvalidToken"), "{reason}");
    assert!(reason.contains("earlier attempt got no answer"), "{reason}");
    // Nothing is owed any more.
    t.answer(Answer::Accept);
    t.hanko.deliver(&rid(&id)).await.unwrap();
    assert!(t.callbacks().is_empty());
}

#[tokio::test]
async fn a_task_gone_answer_without_an_unanswered_attempt_closes_the_request() {
    let t = test_app();
    let id = t.seed("tok-refused-then-gone", json!({})).await;
    t.answer(Answer::Throttled);
    let alice = t.login("alice@example.com").await;
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_eq!(r.body["decision"]["delivery"], "pending");
    t.answer(Answer::Gone);
    t.hanko.deliver(&rid(&id)).await.unwrap();
    let r = t.read(&id, &alice).await;
    assert_eq!(r.body["status"], "closed");
    assert_eq!(r.body["decision"]["delivery"], "task_gone");
}

#[tokio::test]
async fn a_pending_request_whose_execution_ended_is_closed_with_the_reason() {
    let t = test_app();
    let running = t.seed("tok-still-running", json!({})).await;
    t.hanko.sweep().await.unwrap();
    let alice = t.login("alice@example.com").await;
    assert_eq!(t.read(&running, &alice).await.body["status"], "pending");

    *t.workflow.execution.lock().unwrap() = ExecutionState::Ended("ABORTED".into());
    t.hanko.sweep().await.unwrap();
    let r = t.read(&running, &alice).await;
    assert_eq!(r.body["status"], "closed", "{}", r.text);
    assert!(r.body["closedReason"].as_str().unwrap().contains("ABORTED"));
    assert_eq!(r.body["viewer"]["canVote"], false);
    let r = t
        .decide(&running, &alice, json!({"decision": "approve"}))
        .await;
    assert_error(&r, StatusCode::GONE, "closed");
    assert!(t.callbacks().is_empty(), "nobody waits: nothing is sent");
}

#[tokio::test]
async fn reconciliation_checks_a_batch_per_pass_and_goes_on_where_it_stopped() {
    let t = common::test_app_full(
        true,
        hanko::service::DeliveryPolicy {
            reconcile_batch: 2,
            ..Default::default()
        },
    );
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(t.seed(&format!("tok-batch-{i}"), json!({})).await);
    }
    *t.workflow.execution.lock().unwrap() = ExecutionState::Ended("FAILED".into());
    let alice = t.login("alice@example.com").await;
    let mut closed_after_each_pass = Vec::new();
    for _ in 0..3 {
        t.hanko.reconcile().await.unwrap();
        let mut closed = 0;
        for id in &ids {
            if t.read(id, &alice).await.body["status"] == "closed" {
                closed += 1;
            }
        }
        closed_after_each_pass.push(closed);
    }
    assert_eq!(
        closed_after_each_pass,
        vec![2, 4, 5],
        "two per pass, oldest first"
    );
    for id in &ids[..2] {
        let r = t.read(id, &alice).await;
        assert!(r.body["closedReason"].as_str().unwrap().contains("FAILED"));
    }
}

#[tokio::test]
async fn get_and_head_change_nothing() {
    let t = test_app();
    let id = t.seed("tok-head", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let before = t.read(&id, &alice).await.body;
    for m in ["GET", "HEAD"] {
        for uri in [
            format!("/api/approvals/{id}"),
            format!("/api/approvals/{id}/decision"),
            "/api/approvals?mine=true".into(),
        ] {
            let r = t.call(m, &uri, Some(&alice), None).await;
            assert!(r.status != StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    let after = t.read(&id, &alice).await.body;
    assert_eq!(before, after);
    assert!(t.callbacks().is_empty());
}

#[tokio::test]
async fn the_same_task_token_twice_makes_one_request() {
    let t = test_app();
    let first = t.seed("tok-dup", json!({})).await;
    let again = t
        .hanko
        .intake(&common::intake_message("tok-dup", json!({})), None)
        .await
        .unwrap();
    assert_eq!(
        again,
        hanko::service::IntakeOutcome::Duplicate { id: rid(&first) }
    );
}

#[tokio::test]
async fn an_invalid_intake_message_fails_the_task_with_hanko_invalid_request() {
    let t = test_app();
    let out = t
        .hanko
        .intake(
            &common::intake_message("tok-bad", json!({"approvers": []})),
            None,
        )
        .await
        .unwrap();
    assert!(matches!(out, hanko::service::IntakeOutcome::Refused { .. }));
    let sent = t.callbacks();
    assert_eq!(sent.len(), 1);
    match &sent[0].1 {
        Callback::Failure { error, cause } => {
            assert_eq!(error, "Hanko.InvalidRequest");
            assert!(cause.contains("approvers is empty"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn twenty_concurrent_approvals_make_one_decision() {
    let t = std::sync::Arc::new(test_app());
    let id = t
        .seed(
            "tok-race",
            json!({"approvers": ["group:release-managers"], "requestedBy": "someone@example.com"}),
        )
        .await;
    let mut tokens = Vec::new();
    for email in ["alice@example.com", "bob@example.com", "carol@example.com"] {
        tokens.push(t.login(email).await);
    }
    let mut handles = Vec::new();
    for i in 0..20 {
        let t = t.clone();
        let token = tokens[i % 3].clone();
        let uri = format!("/api/approvals/{id}/decision");
        handles.push(tokio::spawn(async move {
            t.call(
                "POST",
                &uri,
                Some(&token),
                Some(json!({"decision": "approve"})),
            )
            .await
            .status
        }));
    }
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(t.callbacks().len(), 1);
}
