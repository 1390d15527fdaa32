//! The origin secret (`HANKO_ORIGIN_SECRET`): behind CloudFront, the api answers only
//! requests that carry the secret CloudFront adds, so nobody can go around CloudFront to the
//! api's own address and write the caller's address the audit trail records.

use axum::body::Body;
use axum::http::{HeaderName, Request, StatusCode};
use clap::Parser;
use hanko::config::ServeArgs;
use hanko::http::{ORIGIN_SECRET_HEADER, Policy};
use hanko_api::AuditExport;
use serde_json::{Value, json};

use crate::common::*;

const SECRET: &str = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";
const VIEWER_HEADER: &str = "x-hanko-viewer-address";

/// The api as the stack runs it: the origin secret and the viewer-address header set.
fn behind_cloudfront() -> TestApp {
    test_app_with_policy(Policy {
        client_ip_header: Some(HeaderName::from_static(VIEWER_HEADER)),
        origin_secret: Some(SECRET.into()),
        ..Policy::default()
    })
}

/// A request with the given extra headers, a bearer token and a JSON body when given.
fn request(
    method: &str,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    match body {
        Some(v) => b
            .header("content-type", "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

async fn login_through(t: &TestApp, email: &str, headers: &[(&str, &str)]) -> Resp {
    t.send(request(
        "POST",
        "/api/dev/login",
        None,
        Some(json!({"email": email, "password": PASSWORD})),
        headers,
    ))
    .await
}

fn assert_forbidden_origin(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.text);
    assert_eq!(
        r.body["error"]["code"], "forbidden_origin",
        "{what}: {}",
        r.text
    );
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("CloudFront")),
        "{what}: {}",
        r.text
    );
    // The refusal is an api answer like any other: JSON, with the security headers.
    assert!(r.headers.contains_key("content-security-policy"), "{what}");
    assert_eq!(r.headers["x-frame-options"], "DENY", "{what}");
}

#[tokio::test]
async fn with_an_origin_secret_a_request_without_it_is_refused_with_forbidden_origin() {
    let t = behind_cloudfront();
    let id = t.seed("tok-origin-none", json!({})).await;
    // A token minted by a request that did carry the secret: the refusal is not about login.
    let alice = login_through(&t, "alice@example.com", &[(ORIGIN_SECRET_HEADER, SECRET)]).await;
    assert_eq!(alice.status, StatusCode::OK, "{}", alice.text);
    let alice = alice.body["token"].as_str().unwrap().to_string();
    let forged = [(VIEWER_HEADER, "192.0.2.66")];
    for (method, uri, token, body) in [
        ("GET", "/api/health".to_string(), None, None),
        ("GET", "/api/config".to_string(), None, None),
        ("GET", "/.well-known/jwks.json".to_string(), None, None),
        (
            "GET",
            "/api/approvals".to_string(),
            Some(alice.as_str()),
            None,
        ),
        (
            "GET",
            format!("/api/approvals/{id}"),
            Some(alice.as_str()),
            None,
        ),
        (
            "POST",
            format!("/api/approvals/{id}/decision"),
            Some(alice.as_str()),
            Some(json!({"decision": "approve"})),
        ),
        ("GET", "/api/no-such-route".to_string(), None, None),
    ] {
        let r = t.send(request(method, &uri, token, body, &forged)).await;
        assert_forbidden_origin(&r, &format!("{method} {uri}"));
    }
    let r = login_through(&t, "alice@example.com", &[]).await;
    assert_forbidden_origin(&r, "POST /api/dev/login");
    // Nothing was decided by the refused vote.
    let r = t
        .send(request(
            "GET",
            &format!("/api/approvals/{id}"),
            Some(&alice),
            None,
            &[(ORIGIN_SECRET_HEADER, SECRET)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "pending", "{}", r.text);
    assert!(t.callbacks().is_empty());
}

#[tokio::test]
async fn with_an_origin_secret_a_wrong_one_is_refused_too() {
    let t = behind_cloudfront();
    let flipped = {
        let mut s = SECRET.to_string();
        s.replace_range(SECRET.len() - 1.., "M");
        s
    };
    let wrong = [
        flipped.as_str(),
        &SECRET[..SECRET.len() - 1],
        &format!("{SECRET}x"),
        &SECRET.to_uppercase(),
        "",
        " ",
    ];
    for w in wrong {
        let r = t
            .send(request(
                "GET",
                "/api/health",
                None,
                None,
                &[(ORIGIN_SECRET_HEADER, w)],
            ))
            .await;
        assert_forbidden_origin(&r, &format!("secret {w:?}"));
    }
}

#[tokio::test]
async fn with_the_origin_secret_a_request_passes_and_the_viewer_address_is_believed() {
    let t = behind_cloudfront();
    let through = |viewer: &'static str| [(ORIGIN_SECRET_HEADER, SECRET), (VIEWER_HEADER, viewer)];
    let r = t
        .send(request(
            "GET",
            "/api/health",
            None,
            None,
            &through("198.51.100.7"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "ok");
    let r = t
        .send(request(
            "GET",
            "/.well-known/jwks.json",
            None,
            None,
            &through("198.51.100.7"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let id = t.seed("tok-origin-ok", json!({})).await;
    let alice = login_through(&t, "alice@example.com", &through("198.51.100.7")).await;
    let alice = alice.body["token"].as_str().unwrap().to_string();
    let r = t
        .send(request(
            "POST",
            &format!("/api/approvals/{id}/decision"),
            Some(&alice),
            Some(json!({"decision": "approve"})),
            &through("198.51.100.7"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["status"], "approved", "{}", r.text);

    let dave = login_through(&t, "dave@example.com", &through("198.51.100.8")).await;
    let dave = dave.body["token"].as_str().unwrap().to_string();
    let r = t
        .send(request(
            "GET",
            "/api/audit",
            Some(&dave),
            None,
            &through("198.51.100.8"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let export: AuditExport = serde_json::from_value(r.body).unwrap();
    let vote = &export.items[0].votes[0];
    assert_eq!(vote.source_ip.as_deref(), Some("198.51.100.7"));
}

#[tokio::test]
async fn without_an_origin_secret_every_request_is_served_as_before() {
    let t = test_app_with_policy(Policy {
        client_ip_header: Some(HeaderName::from_static(VIEWER_HEADER)),
        ..Policy::default()
    });
    for headers in [
        &[][..],
        &[(ORIGIN_SECRET_HEADER, "anything at all, nobody checks")][..],
    ] {
        let r = t
            .send(request("GET", "/api/health", None, None, headers))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // The proxy's header is believed, as HANKO_CLIENT_IP_HEADER alone has always meant.
    let id = t.seed("tok-origin-unset", json!({})).await;
    let alice = t.login("alice@example.com").await;
    let r = t
        .send(request(
            "POST",
            &format!("/api/approvals/{id}/decision"),
            Some(&alice),
            Some(json!({"decision": "approve"})),
            &[(VIEWER_HEADER, "203.0.113.9")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let dave = t.login("dave@example.com").await;
    let r = t.call("GET", "/api/audit", Some(&dave), None).await;
    let export: AuditExport = serde_json::from_value(r.body).unwrap();
    assert_eq!(
        export.items[0].votes[0].source_ip.as_deref(),
        Some("203.0.113.9")
    );
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

#[test]
fn hanko_origin_secret_is_at_least_16_characters_and_never_printed() {
    let parse = |secret: &str| {
        Cli::try_parse_from([
            "hanko",
            "--dev-users",
            "users.json",
            "--origin-secret",
            secret,
        ])
        .map(|c| c.args)
    };
    assert!(parse("short").is_err());
    assert!(parse("").is_err());
    let args = parse(SECRET).unwrap();
    assert!(args.origin_secret.is_some());
    let config = hanko::config::Config::try_from(args.clone()).unwrap();
    assert!(config.policy().origin_secret.is_some());
    assert!(
        !format!("{args:?}").contains(SECRET),
        "the secret shows in Debug"
    );
    let unset = Cli::try_parse_from(["hanko", "--dev-users", "users.json"]).unwrap();
    assert!(unset.args.origin_secret.is_none());
}
