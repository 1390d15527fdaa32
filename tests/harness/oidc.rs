//! A stand-in OIDC provider on 127.0.0.1 for the console's login tests (moto has no hosted
//! UI): the authorization code flow with PKCE, Cognito-shaped RS256 tokens, a JWKS.
//!
//! - `GET /authorize` checks `response_type=code`, `client_id`, `redirect_uri`,
//!   `code_challenge_method=S256` and a `code_challenge`, then sends the browser straight
//!   back to the redirect URI with a fresh `code` and the `state` it was given, logged in as
//!   the configured [`IdpUser`] (no form: the person is taken to have typed their password).
//! - `POST /token` (form) exchanges a code once, checking `client_id`, `redirect_uri` and that
//!   SHA-256 of `code_verifier` is the challenge; or renews with `grant_type=refresh_token`.
//!   Answers carry `Access-Control-Allow-Origin`, as a provider's token endpoint does.
//! - `GET /jwks.json` is the public key; `GET /logout` records the call and redirects to
//!   `logout_uri`.
//! - `POST /revoke` (form, RFC 7009, as Cognito's `/oauth2/revoke` for a public client)
//!   takes `token` and `client_id`, forgets that refresh token and counts the revocation.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

/// Who the provider logs in.
#[derive(Debug, Clone)]
pub struct IdpUser {
    pub sub: String,
    pub email: String,
    pub groups: Vec<String>,
}

impl IdpUser {
    pub fn new(email: &str, groups: &[&str]) -> Self {
        Self {
            sub: format!("sub-{}", email.replace(['@', '.'], "-")),
            email: email.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    user: IdpUser,
}

/// What the provider saw, for the tests to check.
#[derive(Debug, Default, Clone)]
pub struct Seen {
    pub authorizations: usize,
    pub code_exchanges: usize,
    pub refreshes: usize,
    pub logouts: usize,
    /// Refresh tokens this provider gave that were revoked (`POST /revoke`).
    pub revocations: usize,
    /// Why requests were refused.
    pub refusals: Vec<String>,
}

struct Inner {
    key: KeyPair,
    kid: String,
    issuer: String,
    client_id: String,
    redirect_uri: Mutex<Option<String>>,
    /// Send the browser here instead of the redirect URI (a test that changes the answer).
    divert: Mutex<Option<String>>,
    user: Mutex<IdpUser>,
    /// Lifetime of the tokens it hands out.
    ttl_seconds: Mutex<i64>,
    /// Whether a code exchange also gives a refresh token (some providers and clients don't).
    refresh: Mutex<bool>,
    codes: Mutex<HashMap<String, Grant>>,
    refresh_tokens: Mutex<HashMap<String, IdpUser>>,
    seen: Mutex<Seen>,
}

/// The running provider; stops when dropped.
pub struct FakeIdp {
    inner: Arc<Inner>,
    task: JoinHandle<()>,
}

impl Drop for FakeIdp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    SystemRandom::new().fill(&mut bytes).expect("random bytes");
    URL_SAFE_NO_PAD.encode(bytes)
}

impl FakeIdp {
    /// Starts the provider for the public client `client_id`, logging in `user`.
    pub async fn start(client_id: &str, user: IdpUser) -> anyhow::Result<Self> {
        let key = KeyPair::generate(KeySize::Rsa2048).map_err(|_| anyhow::anyhow!("RSA key"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let issuer = format!("http://{}", listener.local_addr()?);
        let inner = Arc::new(Inner {
            key,
            kid: format!("fake-idp-{}", random_token(6)),
            issuer,
            client_id: client_id.to_string(),
            redirect_uri: Mutex::new(None),
            divert: Mutex::new(None),
            user: Mutex::new(user),
            ttl_seconds: Mutex::new(3600),
            refresh: Mutex::new(true),
            codes: Mutex::new(HashMap::new()),
            refresh_tokens: Mutex::new(HashMap::new()),
            seen: Mutex::new(Seen::default()),
        });
        let app = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token).options(preflight))
            .route("/jwks.json", get(jwks))
            .route("/logout", get(logout))
            .route("/revoke", post(revoke).options(preflight))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { inner, task })
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The only redirect URI `/authorize` and `/token` accept (the console's callback).
    pub fn set_redirect_uri(&self, uri: &str) {
        *self.inner.redirect_uri.lock().unwrap() = Some(uri.to_string());
    }

    /// Sends the browser back to `url` instead of the redirect URI, with the same code and
    /// state, so that a test can change the answer before the console sees it.
    pub fn divert_to(&self, url: Option<&str>) {
        *self.inner.divert.lock().unwrap() = url.map(str::to_string);
    }

    pub fn set_user(&self, user: IdpUser) {
        *self.inner.user.lock().unwrap() = user;
    }

    pub fn set_token_ttl(&self, seconds: i64) {
        *self.inner.ttl_seconds.lock().unwrap() = seconds;
    }

    /// Whether code exchanges give a refresh token from now on (they do at first).
    pub fn set_refresh_tokens(&self, on: bool) {
        *self.inner.refresh.lock().unwrap() = on;
    }

    pub fn seen(&self) -> Seen {
        self.inner.seen.lock().unwrap().clone()
    }

    /// `hanko serve` flags that trust this provider, taking `token_use` tokens, with the dev
    /// login off.
    pub fn hanko_args(&self, token_use: &str) -> Vec<String> {
        let i = self.issuer();
        [
            ("--oidc-issuer", i.to_string()),
            ("--oidc-jwks-url", format!("{i}/jwks.json")),
            ("--oidc-client-id", self.client_id().to_string()),
            ("--oidc-token-use", token_use.to_string()),
            ("--oidc-authorize-url", format!("{i}/authorize")),
            ("--oidc-token-url", format!("{i}/token")),
            ("--oidc-logout-url", format!("{i}/logout")),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    /// An ID token for `user`, as `/token` hands out (for api calls made by the test).
    pub fn id_token(&self, user: &IdpUser) -> String {
        self.inner.id_token(user)
    }

    pub fn access_token(&self, user: &IdpUser) -> String {
        self.inner.access_token(user)
    }
}

impl Inner {
    fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .expect("RS256 signature");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    fn times(&self) -> (i64, i64) {
        let now = chrono::Utc::now().timestamp();
        (now, now + *self.ttl_seconds.lock().unwrap())
    }

    fn id_token(&self, u: &IdpUser) -> String {
        let (now, exp) = self.times();
        self.sign(&json!({
            "iss": self.issuer, "aud": self.client_id, "sub": u.sub, "email": u.email,
            "email_verified": true, "cognito:groups": u.groups, "cognito:username": u.email,
            "token_use": "id", "auth_time": now, "iat": now, "exp": exp,
        }))
    }

    fn access_token(&self, u: &IdpUser) -> String {
        let (now, exp) = self.times();
        self.sign(&json!({
            "iss": self.issuer, "client_id": self.client_id, "sub": u.sub, "username": u.email,
            "cognito:groups": u.groups, "token_use": "access", "scope": "openid email profile",
            "auth_time": now, "iat": now, "exp": exp, "jti": random_token(8),
        }))
    }

    fn jwk(&self) -> Value {
        let public = self.key.public_key();
        json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
            "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
        })
    }

    fn refuse(&self, status: StatusCode, why: &str) -> Response {
        self.seen.lock().unwrap().refusals.push(why.to_string());
        let mut r = (
            status,
            Json(json!({"error": "invalid_request", "error_description": why})),
        )
            .into_response();
        cors(&mut r);
        r
    }

    fn tokens(&self, user: &IdpUser, with_refresh: bool) -> Response {
        let ttl = *self.ttl_seconds.lock().unwrap();
        let mut body = json!({
            "id_token": self.id_token(user),
            "access_token": self.access_token(user),
            "token_type": "Bearer",
            "expires_in": ttl,
        });
        if with_refresh {
            let refresh = random_token(24);
            self.refresh_tokens
                .lock()
                .unwrap()
                .insert(refresh.clone(), user.clone());
            body["refresh_token"] = json!(refresh);
        }
        let mut r = Json(body).into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        cors(&mut r);
        r
    }
}

fn cors(r: &mut Response) {
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
}

async fn preflight() -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    cors(&mut r);
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, accept"),
    );
    r.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST"),
    );
    r
}

async fn authorize(
    State(idp): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let expected = idp.redirect_uri.lock().unwrap().clone().unwrap_or_default();
    let checks = [
        (get("response_type") == "code", "response_type must be code"),
        (get("client_id") == idp.client_id, "unknown client_id"),
        (
            !expected.is_empty() && get("redirect_uri") == expected,
            "redirect_uri not registered",
        ),
        (
            get("code_challenge_method") == "S256",
            "code_challenge_method must be S256",
        ),
        (
            get("code_challenge").len() == 43,
            "code_challenge must be a base64url SHA-256",
        ),
        (!get("state").is_empty(), "state is missing"),
        (
            get("scope").split(' ').any(|s| s == "openid"),
            "scope must include openid",
        ),
    ];
    if let Some((_, why)) = checks.iter().find(|(ok, _)| !ok) {
        return idp.refuse(StatusCode::BAD_REQUEST, why);
    }
    idp.seen.lock().unwrap().authorizations += 1;
    let code = random_token(18);
    idp.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            client_id: get("client_id").to_string(),
            redirect_uri: expected.clone(),
            challenge: get("code_challenge").to_string(),
            user: idp.user.lock().unwrap().clone(),
        },
    );
    let state: String = url_encode(get("state"));
    let back = idp.divert.lock().unwrap().clone().unwrap_or(expected);
    Redirect::to(&format!("{back}?code={code}&state={state}")).into_response()
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn token(State(idp): State<Arc<Inner>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    match get("grant_type") {
        "authorization_code" => {
            // A code is good for one exchange, whatever the outcome.
            let Some(grant) = idp.codes.lock().unwrap().remove(get("code")) else {
                return idp.refuse(StatusCode::BAD_REQUEST, "unknown or used code");
            };
            if get("client_id") != grant.client_id {
                return idp.refuse(StatusCode::BAD_REQUEST, "client_id differs");
            }
            if get("redirect_uri") != grant.redirect_uri {
                return idp.refuse(StatusCode::BAD_REQUEST, "redirect_uri differs");
            }
            let digest = aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA256,
                get("code_verifier").as_bytes(),
            );
            if get("code_verifier").len() < 43 || URL_SAFE_NO_PAD.encode(digest) != grant.challenge
            {
                return idp.refuse(StatusCode::BAD_REQUEST, "code_verifier does not match");
            }
            idp.seen.lock().unwrap().code_exchanges += 1;
            let refresh = *idp.refresh.lock().unwrap();
            idp.tokens(&grant.user, refresh)
        }
        "refresh_token" => {
            if get("client_id") != idp.client_id {
                return idp.refuse(StatusCode::BAD_REQUEST, "client_id differs");
            }
            let user = idp
                .refresh_tokens
                .lock()
                .unwrap()
                .get(get("refresh_token"))
                .cloned();
            let Some(user) = user else {
                return idp.refuse(StatusCode::BAD_REQUEST, "unknown refresh_token");
            };
            idp.seen.lock().unwrap().refreshes += 1;
            // Like Cognito: new ID and access tokens, the same refresh token.
            idp.tokens(&user, false)
        }
        _ => idp.refuse(StatusCode::BAD_REQUEST, "unsupported grant_type"),
    }
}

async fn jwks(State(idp): State<Arc<Inner>>) -> Json<Value> {
    Json(json!({"keys": [idp.jwk()]}))
}

async fn logout(
    State(idp): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("client_id") != Some(&idp.client_id) {
        return idp.refuse(StatusCode::BAD_REQUEST, "logout: unknown client_id");
    }
    idp.seen.lock().unwrap().logouts += 1;
    match q.get("logout_uri") {
        Some(u) => Redirect::to(u).into_response(),
        None => "logged out".into_response(),
    }
}

async fn revoke(State(idp): State<Arc<Inner>>, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).map(String::as_str).unwrap_or("");
    if get("client_id") != idp.client_id {
        return idp.refuse(StatusCode::BAD_REQUEST, "revoke: unknown client_id");
    }
    if idp
        .refresh_tokens
        .lock()
        .unwrap()
        .remove(get("token"))
        .is_none()
    {
        return idp.refuse(StatusCode::BAD_REQUEST, "revoke: unknown refresh token");
    }
    idp.seen.lock().unwrap().revocations += 1;
    let mut r = StatusCode::OK.into_response();
    cors(&mut r);
    r
}

/// Makes sure the provider answers (it is ready once bound, but a test may call this).
pub async fn ready(idp: &FakeIdp) -> anyhow::Result<()> {
    reqwest::get(format!("{}/jwks.json", idp.issuer()))
        .await?
        .error_for_status()
        .context("the stand-in provider's JWKS")?;
    Ok(())
}
