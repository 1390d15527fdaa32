//! Attacks on the login token (RFC 8725), each answered 401 with the contract's error body.
//! The OIDC provider's JWKS is served by this test on 127.0.0.1 and counts its fetches;
//! a second server stands for an attacker's key server and must never be contacted.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::http::StatusCode;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::assert_error;
use hanko::auth::oidc::RemoteJwks;
use hanko::auth::{KeySet, TokenUse, TrustedIssuer};
use hanko::keys::EcKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// A Cognito user pool's issuer: its access tokens' `username` may name the caller.
const ISS: &str = "https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_hanko";
const CLIENT: &str = "hanko-console";

/// A JWKS endpoint on a free port that counts how often it was fetched; `doc` is what it
/// serves, and may be changed (a provider rotating its keys).
struct KeyServer {
    url: String,
    hits: Arc<AtomicUsize>,
    doc: Arc<Mutex<Value>>,
    _task: tokio::task::JoinHandle<()>,
}

async fn key_server(doc: Value) -> KeyServer {
    let hits = Arc::new(AtomicUsize::new(0));
    let doc = Arc::new(Mutex::new(doc));
    let (h, d) = (hits.clone(), doc.clone());
    let app = axum::Router::new().fallback(get(move || {
        h.fetch_add(1, Ordering::SeqCst);
        let doc = d.lock().unwrap().clone();
        async move { Json(doc) }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    KeyServer {
        url: format!("http://{addr}/.well-known/jwks.json"),
        hits,
        doc,
        _task: task,
    }
}

struct Setup {
    key: EcKey,
    app: common::TestApp,
    jwks: KeyServer,
}

async fn setup(token_use: TokenUse) -> Setup {
    setup_with(token_use, Duration::from_secs(60)).await
}

/// `window`: least time between two fetches of the key set.
async fn setup_with(token_use: TokenUse, window: Duration) -> Setup {
    setup_keys(token_use, window, None).await
}

/// The same; `max_age`, when given, is how long a fetched key set is trusted.
async fn setup_keys(token_use: TokenUse, window: Duration, max_age: Option<Duration>) -> Setup {
    let key = EcKey::generate().unwrap();
    let jwks = key_server(json!({"keys": [key.public_jwk()]})).await;
    let mut remote = RemoteJwks::with_limits(&jwks.url, window, Duration::from_secs(2)).unwrap();
    if let Some(age) = max_age {
        remote.max_age = age;
    }
    let app = common::test_app_trusting(
        false,
        vec![TrustedIssuer {
            issuer: ISS.into(),
            audiences: vec![CLIENT.into()],
            keys: KeySet::Remote(Arc::new(remote)),
            groups_claim: "cognito:groups".into(),
            token_use: Some(token_use),
            require_verified_email: true,
        }],
    );
    Setup { key, app, jwks }
}

fn id_claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    // Cognito writes `email_verified` as a string.
    json!({"iss": ISS, "aud": CLIENT, "sub": "u-1", "email": "alice@example.com",
           "email_verified": "true", "token_use": "id", "cognito:groups": ["release-managers"],
           "iat": now, "exp": now + 600})
}

fn access_claims() -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"iss": ISS, "client_id": CLIENT, "sub": "u-1", "username": "alice@example.com",
           "token_use": "access", "cognito:groups": ["release-managers"],
           "iat": now, "exp": now + 600})
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn header(key: &EcKey) -> Header {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some(key.kid().into());
    h
}

fn sign(key: &EcKey, h: &Header, claims: &Value) -> String {
    let enc = EncodingKey::from_ec_pem(key.to_pem().as_bytes()).unwrap();
    jsonwebtoken::encode(h, claims, &enc).unwrap()
}

/// `GET /api/me` with `token` must be a 401 in the contract's shape.
async fn refused(s: &Setup, token: &str, attack: &str) {
    let r = s.app.call("GET", "/api/me", Some(token), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{attack}: {}", r.text);
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_well_signed_id_token_is_accepted_so_the_refusals_below_mean_something() {
    let s = setup(TokenUse::Id).await;
    let token = sign(&s.key, &header(&s.key), &id_claims());
    let r = s.app.call("GET", "/api/me", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["email"], "alice@example.com");
    assert_eq!(r.body["groups"], json!(["release-managers"]));
    let s = setup(TokenUse::Access).await;
    let token = sign(&s.key, &header(&s.key), &access_claims());
    let r = s.app.call("GET", "/api/me", Some(&token), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["email"], "alice@example.com");
}

#[tokio::test]
async fn every_attack_on_the_login_token_is_answered_401() {
    let s = setup(TokenUse::Id).await;
    let key = &s.key;
    let mut attacks = 0;

    // 1. alg: none, no signature.
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": key.kid()})),
        b64(&id_claims())
    );
    refused(&s, &none, "alg none").await;
    attacks += 1;

    // 2-3. HS256 with the provider's public key as the HMAC secret (JWK bytes, raw x||y).
    let jwk = key.public_jwk();
    let xy = [
        URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap(),
        URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap(),
    ]
    .concat();
    for secret in [serde_json::to_vec(&jwk).unwrap(), xy] {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(key.kid().into());
        let t = jsonwebtoken::encode(&h, &id_claims(), &EncodingKey::from_secret(&secret)).unwrap();
        refused(&s, &t, "HS256 with the public key").await;
        attacks += 1;
    }

    // 4. Expired (beyond the leeway).
    let mut c = id_claims();
    c["exp"] = json!(chrono::Utc::now().timestamp() - 300);
    refused(&s, &sign(key, &header(key), &c), "expired").await;
    attacks += 1;

    // 5. Not yet valid.
    let mut c = id_claims();
    c["nbf"] = json!(chrono::Utc::now().timestamp() + 600);
    refused(&s, &sign(key, &header(key), &c), "not yet valid").await;
    attacks += 1;

    // 6. Wrong issuer, signed by the trusted key.
    let mut c = id_claims();
    c["iss"] = json!("https://evil.example/pool");
    refused(&s, &sign(key, &header(key), &c), "wrong issuer").await;
    attacks += 1;

    // 7. Wrong audience.
    let mut c = id_claims();
    c["aud"] = json!("another-app");
    refused(&s, &sign(key, &header(key), &c), "wrong audience").await;
    attacks += 1;

    // 8. An access token where an ID token is wanted.
    refused(
        &s,
        &sign(key, &header(key), &access_claims()),
        "access for id",
    )
    .await;
    attacks += 1;

    // 9-10. kid with a path, kid with SQL.
    for kid in ["../../../../etc/passwd", "' OR '1'='1' --"] {
        let mut h = header(key);
        h.kid = Some(kid.into());
        refused(&s, &sign(key, &h, &id_claims()), "kid injection").await;
        attacks += 1;
    }

    // 11. Valid signature, claims swapped afterwards.
    let t = sign(key, &header(key), &id_claims());
    let mut c = id_claims();
    c["email"] = json!("mallory@example.com");
    c["cognito:groups"] = json!(["admins"]);
    let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
    parts[1] = b64(&c);
    refused(&s, &parts.join("."), "altered claims").await;
    attacks += 1;

    // 12. A token signed by a key we never published, under the trusted kid.
    let other = EcKey::generate().unwrap();
    refused(&s, &sign(&other, &header(key), &id_claims()), "foreign key").await;
    attacks += 1;

    assert_eq!(attacks, 12);
    // All of this cost one fetch of the key set (the kid injections found it cached).
    assert_eq!(s.jwks.hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_id_token_is_refused_where_an_access_token_is_wanted() {
    let s = setup(TokenUse::Access).await;
    refused(
        &s,
        &sign(&s.key, &header(&s.key), &id_claims()),
        "id for access",
    )
    .await;
}

#[tokio::test]
async fn unknown_kids_make_at_most_one_refetch_within_the_rate_limit() {
    let s = setup_with(TokenUse::Id, Duration::from_secs(1)).await;
    let good = sign(&s.key, &header(&s.key), &id_claims());
    let r = s.app.call("GET", "/api/me", Some(&good), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(s.jwks.hits.load(Ordering::SeqCst), 1);
    // Past the window, the first unknown kid may refetch; the next ones may not.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..25 {
        let stranger = EcKey::generate().unwrap();
        let mut h = header(&stranger);
        h.kid = Some(format!("junk-{i}"));
        refused(&s, &sign(&stranger, &h, &id_claims()), "unknown kid").await;
    }
    assert_eq!(
        s.jwks.hits.load(Ordering::SeqCst),
        2,
        "25 unknown kids caused one refetch"
    );
}

#[tokio::test]
async fn jku_jwk_and_x5u_headers_are_ignored_and_their_servers_never_contacted() {
    let s = setup(TokenUse::Id).await;
    let attacker = EcKey::generate().unwrap();
    let evil = key_server(json!({"keys": [attacker.public_jwk()]})).await;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(attacker.public_jwk()).unwrap();
    for which in ["jku", "jwk", "x5u"] {
        let mut h = header(&attacker);
        match which {
            "jku" => h.jku = Some(evil.url.clone()),
            "jwk" => h.jwk = Some(jwk.clone()),
            _ => h.x5u = Some(evil.url.clone()),
        }
        refused(&s, &sign(&attacker, &h, &id_claims()), which).await;
    }
    assert_eq!(
        evil.hits.load(Ordering::SeqCst),
        0,
        "the attacker's server was contacted"
    );
}

#[tokio::test]
async fn a_token_accepted_before_is_refused_once_its_key_leaves_the_providers_key_set() {
    let s = setup_keys(
        TokenUse::Id,
        Duration::ZERO,
        Some(Duration::from_millis(200)),
    )
    .await;
    let token = sign(&s.key, &header(&s.key), &id_claims());
    // Twice: the second answer comes from the verified tokens Hanko remembers.
    for _ in 0..2 {
        let r = s.app.call("GET", "/api/me", Some(&token), None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    // The provider rotates: the token's key is gone from the set it serves.
    let other = EcKey::generate().unwrap();
    *s.jwks.doc.lock().unwrap() = json!({"keys": [other.public_jwk()]});
    tokio::time::sleep(Duration::from_millis(300)).await;
    refused(&s, &token, "a token whose key was removed").await;
    assert!(s.jwks.hits.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn a_key_set_that_cannot_be_fetched_is_a_503_with_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let remote = RemoteJwks::with_limits(
        format!("http://127.0.0.1:{port}/jwks.json"),
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .unwrap();
    let app = common::test_app_trusting(
        false,
        vec![TrustedIssuer {
            issuer: ISS.into(),
            audiences: vec![CLIENT.into()],
            keys: KeySet::Remote(Arc::new(remote)),
            groups_claim: "cognito:groups".into(),
            token_use: Some(TokenUse::Id),
            require_verified_email: true,
        }],
    );
    let key = EcKey::generate().unwrap();
    let r = app
        .call(
            "GET",
            "/api/me",
            Some(&sign(&key, &header(&key), &id_claims())),
            None,
        )
        .await;
    assert_error(
        &r,
        StatusCode::SERVICE_UNAVAILABLE,
        "identity_provider_unavailable",
    );
}

#[tokio::test]
async fn an_id_token_whose_email_the_provider_did_not_verify_is_401_with_a_message_saying_so() {
    let s = setup(TokenUse::Id).await;
    for verified in [json!(false), json!("false"), Value::Null] {
        let mut c = id_claims();
        c["email_verified"] = verified.clone();
        if verified.is_null() {
            c.as_object_mut().unwrap().remove("email_verified");
        }
        let token = sign(&s.key, &header(&s.key), &c);
        let r = s.app.call("GET", "/api/me", Some(&token), None).await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("not verified your email address alice@example.com"),
            "{verified}: {message}"
        );
        // Nor may it decide.
        let id = s
            .app
            .seed(&format!("tok-unverified-{verified}"), json!({}))
            .await;
        let r = s
            .app
            .decide(&id, &token, json!({"decision": "approve"}))
            .await;
        assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    assert!(s.app.callbacks().is_empty());
}

/// A key server that answers every request with a never-ending chunked body (no
/// `Content-Length`), 16 KiB every 5 ms; returns its URL.
async fn endless_key_server() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                let mut chunk = b"4000\r\n{\"keys\": [], \"pad\": \"".to_vec();
                chunk.resize(6 + 0x4000, b'a');
                chunk.extend_from_slice(b"\r\n");
                let mut more = b"4000\r\n".to_vec();
                more.resize(6 + 0x4000, b'a');
                more.extend_from_slice(b"\r\n");
                let mut next = chunk;
                loop {
                    if socket.write_all(&next).await.is_err() {
                        return;
                    }
                    next = more.clone();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            });
        }
    });
    format!("http://{addr}/jwks.json")
}

#[tokio::test]
async fn a_key_set_without_content_length_is_dropped_as_soon_as_it_passes_the_size_cap() {
    let url = endless_key_server().await;
    // The fetch may take 20 s: only the size cap can end it sooner.
    let remote =
        RemoteJwks::with_limits(&url, Duration::from_secs(60), Duration::from_secs(20)).unwrap();
    let started = std::time::Instant::now();
    let e = match remote.key("any-kid").await {
        Err(e) => e,
        Ok(_) => panic!("a key from an endless body"),
    };
    let hanko::auth::AuthError::KeysUnavailable(why) = e else {
        panic!("{e:?}");
    };
    assert!(why.contains("larger than"), "{why}");
    // 256 KiB at 16 KiB per 5 ms is about 80 ms.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_key_set_url_that_redirects_is_not_followed() {
    let s = setup(TokenUse::Id).await;
    let target = s.jwks.url.clone();
    let app = axum::Router::new().fallback(get(move || {
        let target = target.clone();
        async move { axum::response::Redirect::temporary(&target) }
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let remote = RemoteJwks::with_limits(
        format!("http://{addr}/jwks.json"),
        Duration::from_secs(60),
        Duration::from_secs(2),
    )
    .unwrap();
    let e = match remote.key(s.key.kid()).await {
        Err(e) => e,
        Ok(_) => panic!("the redirect was followed"),
    };
    assert!(
        matches!(&e, hanko::auth::AuthError::KeysUnavailable(why) if why.contains("307")),
        "{e:?}"
    );
    assert_eq!(
        s.jwks.hits.load(Ordering::SeqCst),
        0,
        "the target was fetched"
    );
}
