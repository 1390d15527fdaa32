//! The audit trail and the login rules around deciding: the signed record of a decision,
//! the export for auditors, the maximum login age, the dev login's rate limit, and the
//! request timeout.

use crate::common;
mod origin;

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
    assert!(
        lines[0].ends_with("source_ip,user_agent,passkey_credential_id,user_verified,on_behalf_of")
    );
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
        t.hanko.deliver(&rid(&id)).await.unwrap(),
        hanko::service::Delivered::NothingOwed
    ));
    assert!(t.callbacks().is_empty(), "not while the claim holds");
    tokio::time::sleep(Duration::from_millis(1_300).saturating_sub(started.elapsed())).await;
    t.hanko.deliver(&rid(&id)).await.unwrap();
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

/// `POST /api/dev/login` from `address`.
async fn login_from(t: &TestApp, address: &str, email: &str, password: &str) -> Resp {
    let mut req = axum::http::Request::post("/api/dev/login")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"email": email, "password": password}).to_string(),
        ))
        .unwrap();
    let peer: std::net::SocketAddr = format!("{address}:40000").parse().unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    t.send(req).await
}

#[tokio::test]
async fn a_strangers_failed_logins_from_another_address_do_not_lock_the_person_out() {
    let t = test_app_with_policy(Policy {
        login_limiter: RateLimiter::new(3),
        ..Policy::default()
    });
    let stranger = "203.0.113.9";
    for _ in 0..3 {
        let r = login_from(&t, stranger, "alice@example.com", "guess").await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    for _ in 0..10 {
        let r = login_from(&t, stranger, "Alice@Example.com", "guess").await;
        assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_requests");
    }
    // Alice, from her own address, logs in.
    let r = login_from(&t, "198.51.100.7", "alice@example.com", PASSWORD).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The stranger's address, trying email after email, is stopped too.
    let mut refused = 0;
    for i in 0..40 {
        let r = login_from(&t, stranger, &format!("user{i}@example.com"), "guess").await;
        refused += usize::from(r.status == StatusCode::TOO_MANY_REQUESTS);
    }
    assert!(refused >= 25, "only {refused} of 40 refused");
}

#[tokio::test]
async fn a_token_without_auth_time_cannot_decide_when_a_maximum_login_age_is_set() {
    use hanko::auth::{KeySet, TokenUse, TrustedIssuer};
    let key = hanko::keys::EcKey::generate().unwrap();
    let issuer = "https://idp.example/pool";
    let t = test_app_configured(
        true,
        Policy {
            max_auth_age: Some(chrono::Duration::hours(1)),
            ..Policy::default()
        },
        DeliveryPolicy::default(),
        vec![TrustedIssuer {
            issuer: issuer.into(),
            audiences: vec!["console".into()],
            keys: KeySet::Fixed {
                algorithm: jsonwebtoken::Algorithm::ES256,
                keys: [(key.kid().to_string(), key.decoding_key().clone())].into(),
            },
            groups_claim: "groups".into(),
            token_use: Some(TokenUse::Id),
            require_verified_email: true,
        }],
    );
    let id = t.seed("tok-no-auth-time", json!({})).await;
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({"iss": issuer, "aud": "console", "sub": "alice",
        "email": "alice@example.com", "email_verified": true, "iat": now, "exp": now + 600});
    // Just made (`iat` is now), but when did alice log in? The token does not say.
    let no_auth_time = key.sign(&claims, "JWT").unwrap();
    assert_eq!(t.read(&id, &no_auth_time).await.status, StatusCode::OK);
    let r = t
        .decide(&id, &no_auth_time, json!({"decision": "approve"}))
        .await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "login_too_old");
    assert!(t.callbacks().is_empty());
    // The same login, saying it logged in a minute ago, decides.
    claims["auth_time"] = json!(now - 60);
    let fresh = key.sign(&claims, "JWT").unwrap();
    let r = t.decide(&id, &fresh, json!({"decision": "approve"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Set in the child process that measures the memory of parallel dev logins.
const MEASURE_LOGIN_MEMORY: &str = "HANKO_TEST_MEASURE_LOGIN_MEMORY";

/// A `/proc/self/status` field, in bytes.
fn proc_status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    let kib: u64 = line
        .trim_start_matches(field)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap();
    kib * 1024
}

/// 200 dev logins at once, through the router, in this (child) process: the peak resident
/// memory they add must stay under the bound.
///
/// The bound: the dev login runs at most `check_permits()` argon2 verifications at once
/// (a semaphore sized to the cores), each holding `m_cost` KiB (19 MiB, argon2's default,
/// which `hash-password` and the decoy use); the 200 waiting requests, their answers and
/// the runtime add well under one more. So the growth stays under `(permits + 4) × m_cost`:
/// 114 MiB on 2 cores (measured: about 40 MiB). Without the semaphore, all 200
/// verifications run at once on as many blocking threads and hold up to 200 × 19 MiB =
/// 3.7 GiB. (Past 196 cores the bound no longer tells the two apart.)
///
/// The process runs with `MALLOC_MMAP_THRESHOLD_` fixed at 1 MiB, so that glibc maps each
/// argon2 block on its own and unmaps it when freed: by default it raises that threshold
/// after the first free and then keeps freed 19 MiB blocks in its per-thread arenas for
/// reuse, which measures the allocator's cache rather than what the logins hold. (The
/// server binary itself allocates with mimalloc.)
fn measure_parallel_dev_logins() {
    let permits = hanko::auth::dev::check_permits() as u64;
    let m_cost = u64::from(argon2::Params::DEFAULT_M_COST) * 1024;
    let bound = (permits + 4) * m_cost;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let t = std::sync::Arc::new(test_app_with_policy(Policy {
            // No rate limit: every attempt reaches argon2.
            login_limiter: RateLimiter::new(0),
            ..Policy::default()
        }));
        t.login("alice@example.com").await;
        // Start the peak over from here (Linux: 5 resets VmHWM to VmRSS).
        std::fs::write("/proc/self/clear_refs", "5").unwrap();
        let before = proc_status_bytes("VmRSS");
        let mut attempts = tokio::task::JoinSet::new();
        for i in 0..200 {
            let t = t.clone();
            attempts.spawn(async move {
                let email = if i % 2 == 0 {
                    "alice@example.com".to_string()
                } else {
                    format!("nobody{i}@example.com")
                };
                t.call(
                    "POST",
                    "/api/dev/login",
                    None,
                    Some(json!({"email": email, "password": "wrong"})),
                )
                .await
                .status
            });
        }
        while let Some(status) = attempts.join_next().await {
            assert_eq!(status.unwrap(), StatusCode::UNAUTHORIZED);
        }
        let growth = proc_status_bytes("VmHWM").saturating_sub(before);
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        println!(
            "200 parallel dev logins: peak RSS grew {:.1} MiB (bound {:.1} MiB: ({permits} permits + 4) x {:.1} MiB)",
            mib(growth),
            mib(bound),
            mib(m_cost)
        );
        assert!(
            growth < bound,
            "peak RSS grew {:.1} MiB, over the bound of {:.1} MiB",
            mib(growth),
            mib(bound)
        );
    });
}

#[test]
fn two_hundred_parallel_dev_logins_stay_under_a_few_argon2_memory_costs() {
    if std::env::var_os(MEASURE_LOGIN_MEMORY).is_some() {
        measure_parallel_dev_logins();
        return;
    }
    // In a process of its own, so that other tests' memory does not count.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "audit::two_hundred_parallel_dev_logins_stay_under_a_few_argon2_memory_costs",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(MEASURE_LOGIN_MEMORY, "1")
        .env("MALLOC_MMAP_THRESHOLD_", "1048576")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("200 parallel dev logins"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
