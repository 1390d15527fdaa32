//! The audit trail and the login rules around deciding: the signed record of a decision,
//! the export for auditors, the maximum login age, the dev login's rate limit, and the
//! request timeout.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::*;
use hanko::http::Policy;
use hanko::http::limit::RateLimiter;
use hanko::service::DeliveryPolicy;
use hanko_api::{AuditExport, DecisionRecord, SignedDecision};
use serde_json::json;

fn verify(jws: &str, jwks: serde_json::Value) -> DecisionRecord {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    let header = jsonwebtoken::decode_header(jws).unwrap();
    let key = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    jsonwebtoken::decode::<DecisionRecord>(
        jws,
        &jsonwebtoken::DecodingKey::from_jwk(key).unwrap(),
        &v,
    )
    .unwrap()
    .claims
}

#[tokio::test]
async fn the_signed_decision_record_is_served_once_there_is_a_decision_and_verifies() {
    let t = test_app();
    let id = t.seed("tok-record", json!({})).await;
    let bob = t.login("bob@example.com").await;
    let uri = format!("/api/approvals/{id}/decision");

    let before = t.call("GET", &uri, Some(&bob), None).await;
    assert_error(&before, StatusCode::NOT_FOUND, "not_decided");

    let alice = t.login("alice@example.com").await;
    let r = t
        .decide(&id, &alice, json!({"decision": "approve", "comment": "ok"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Anyone logged in may read it (the requester's deploy job, for instance).
    let got = t.call("GET", &uri, Some(&bob), None).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    let signed: SignedDecision = serde_json::from_value(got.body).unwrap();
    assert_eq!(signed.request_id, id);
    assert_eq!(signed.signature, r.body["decision"]["signature"]);
    assert_eq!(signed.jwks_url, "/.well-known/jwks.json");

    let jwks = t.call("GET", "/.well-known/jwks.json", None, None).await;
    let verified = verify(&signed.signature, jwks.body);
    assert_eq!(verified, signed.record);
    assert_eq!(verified.request_id, id);
    assert_eq!(verified.approvals[0].approver, "alice@example.com");
    assert_eq!(
        jsonwebtoken::decode_header(&signed.signature).unwrap().kid,
        Some(signed.kid)
    );

    let out = t.call("GET", &uri, None, None).await;
    assert_error(&out, StatusCode::UNAUTHORIZED, "unauthorized");
    let missing = t
        .call(
            "GET",
            "/api/approvals/0190e4b2-7c1e-7000-8000-00000000ffff/decision",
            Some(&bob),
            None,
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "not_found");
}

#[tokio::test]
async fn an_auditor_exports_who_decided_what_when_and_from_where_as_json_and_csv() {
    let t = test_app();
    let approved = t
        .seed("tok-a1", json!({"title": "売上レポートの公開, 11月"}))
        .await;
    let rejected = t.seed("tok-a2", json!({})).await;
    let pending = t.seed("tok-a3", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let carol = t.login("carol@example.com").await;
    let r = t
        .decide(
            &approved,
            &alice,
            json!({"decision": "approve", "comment": "=cmd|' /C calc'!A0"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = t
        .decide(
            &rejected,
            &carol,
            json!({"decision": "reject", "comment": "not on a Friday, please"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let dave = t.login("dave@example.com").await;
    let r = t.call("GET", "/api/audit", Some(&dave), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let export: AuditExport = serde_json::from_value(r.body.clone()).unwrap();
    let ids: Vec<&str> = export.items.iter().map(|e| e.request_id.as_str()).collect();
    assert_eq!(ids, [approved.as_str(), rejected.as_str()], "oldest first");
    assert!(!ids.contains(&pending.as_str()));
    let first = &export.items[0];
    assert_eq!(first.status, hanko_api::RequestStatus::Approved);
    assert_eq!(first.votes[0].approver, "alice@example.com");
    assert_eq!(first.votes[0].subject, "dev|alice@example.com");
    assert!(first.signature.is_some());
    assert!(first.votes[0].decided_at <= first.ended_at);
    assert!(
        r.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"hanko-audit-")
    );

    let csv = t
        .call("GET", "/api/audit?format=csv", Some(&dave), None)
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(csv.text.starts_with('\u{feff}'), "a BOM for spreadsheets");
    let lines: Vec<&str> = csv.text.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 3, "{}", csv.text);
    assert!(lines[0].ends_with("source_ip,user_agent"));
    assert!(
        lines[1].contains("\"売上レポートの公開, 11月\""),
        "{}",
        lines[1]
    );
    assert!(lines[1].contains("'=cmd"), "formula defused: {}", lines[1]);
    assert!(
        lines[2].contains(",reject,\"not on a Friday, please\","),
        "{}",
        lines[2]
    );
    assert!(lines[1].contains("T"), "times in RFC 3339");
    assert!(
        !lines[1].contains("+00:00"),
        "times in UTC with Z: {}",
        lines[1]
    );
    assert!(lines[2].contains("carol@example.com"));
}

#[tokio::test]
async fn only_auditors_export_and_a_bad_period_or_format_is_400() {
    let t = test_app();
    let alice = t.login("alice@example.com").await;
    let r = t.call("GET", "/api/audit", Some(&alice), None).await;
    assert_error(&r, StatusCode::FORBIDDEN, "not_an_auditor");
    let r = t.call("GET", "/api/audit", None, None).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");

    let dave = t.login("dave@example.com").await;
    for (query, code) in [
        ("format=xml", "invalid_format"),
        ("from=yesterday", "invalid_time"),
        ("from=2026-11-02&to=2026-11-01", "invalid_period"),
        ("from=2024-01-01&to=2026-01-01", "period_too_long"),
    ] {
        let r = t
            .call("GET", &format!("/api/audit?{query}"), Some(&dave), None)
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, code);
    }
    let r = t
        .call(
            "GET",
            "/api/audit?from=2026-01-01&to=2026-01-02T00:00:00Z",
            Some(&dave),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["items"], json!([]));
}

#[tokio::test]
async fn a_login_older_than_the_maximum_age_may_read_but_must_log_in_again_to_decide() {
    let t = test_app_with_policy(Policy {
        max_auth_age: Some(chrono::Duration::seconds(1)),
        ..Policy::default()
    });
    let id = t.seed("tok-old-login", json!({})).await;
    let alice = t.login("alice@example.com").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;

    assert_eq!(t.read(&id, &alice).await.status, StatusCode::OK);
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "login_too_old");
    assert!(t.callbacks().is_empty());
    assert_eq!(t.read(&id, &alice).await.body["votes"], json!([]));

    let fresh = t.login("alice@example.com").await;
    let r = t.decide(&id, &fresh, json!({"decision": "approve"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn the_dev_login_is_rate_limited_per_email_with_retry_after() {
    let t = test_app_with_policy(Policy {
        login_limiter: RateLimiter::new(3),
        ..Policy::default()
    });
    for _ in 0..3 {
        let r = t
            .call(
                "POST",
                "/api/dev/login",
                None,
                Some(json!({"email": "alice@example.com", "password": "guess"})),
            )
            .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    // The right password does not get past the limit either.
    let r = t
        .call(
            "POST",
            "/api/dev/login",
            None,
            Some(json!({"email": "Alice@Example.com ", "password": PASSWORD})),
        )
        .await;
    assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Someone else is not locked out.
    t.login("carol@example.com").await;
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_503_and_its_decision_is_still_delivered() {
    let t = test_app_configured(
        true,
        Policy {
            request_timeout: Duration::from_millis(300),
            ..Policy::default()
        },
        DeliveryPolicy {
            attempt_timeout: Duration::from_millis(200),
            ..DeliveryPolicy::default()
        },
        Vec::new(),
    );
    let id = t.seed("tok-slow", json!({})).await;
    let alice = t.login("alice@example.com").await;
    t.answer(Answer::Slow(1_000));
    let started = std::time::Instant::now();
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "timeout");

    // The vote was written before the callback: it stands. The attempt cut short may or
    // may not have reached Step Functions, and holds its claim until the attempt timeout
    // (plus a second) has passed; then it is delivered again (by the sweeper; here
    // directly).
    let read = t.read(&id, &alice).await;
    assert_eq!(read.body["status"], "approved", "{}", read.text);
    assert_eq!(read.body["decision"]["delivery"], "unconfirmed");
    assert!(
        t.callbacks().is_empty(),
        "the cut-short attempt never finished"
    );
    t.answer(Answer::Accept);
    assert!(matches!(
        t.hanko.deliver(&id).await.unwrap(),
        hanko::service::Delivered::NothingOwed
    ));
    assert!(t.callbacks().is_empty(), "not while the claim holds");
    tokio::time::sleep(Duration::from_millis(1_300).saturating_sub(started.elapsed())).await;
    t.hanko.deliver(&id).await.unwrap();
    assert_eq!(t.callbacks().len(), 1);
    assert_eq!(
        t.read(&id, &alice).await.body["decision"]["delivery"],
        "delivered"
    );
}

async fn vote_through_a_proxy(t: &TestApp, id: &str, token: &str) {
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(format!("/api/approvals/{id}/decision"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("cloudfront-viewer-address", "198.51.100.7:50123")
        .header("user-agent", "Mozilla/5.0 (audit test)")
        .body(axum::body::Body::from(r#"{"decision":"approve"}"#))
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn the_callers_address_comes_from_the_trusted_proxy_header_only_when_configured() {
    let trusting = test_app_with_policy(Policy {
        client_ip_header: Some(axum::http::HeaderName::from_static(
            "cloudfront-viewer-address",
        )),
        ..Policy::default()
    });
    let plain = test_app();
    for (t, expected) in [(&trusting, Some("198.51.100.7")), (&plain, None)] {
        let id = t.seed("tok-proxy", json!({})).await;
        let alice = t.login("alice@example.com").await;
        vote_through_a_proxy(t, &id, &alice).await;
        let dave = t.login("dave@example.com").await;
        let r = t.call("GET", "/api/audit", Some(&dave), None).await;
        let export: AuditExport = serde_json::from_value(r.body).unwrap();
        let vote = &export.items[0].votes[0];
        assert_eq!(vote.source_ip.as_deref(), expected);
        assert_eq!(vote.user_agent.as_deref(), Some("Mozilla/5.0 (audit test)"));
    }
}
