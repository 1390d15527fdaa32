//! Identity comes only from a verified JWT (RFC 8725).
//!
//! Each trusted issuer pins its algorithm and audience and has a key set looked up by
//! `kid`. The header's `alg` must equal the pinned one; `jku`, `jwk` and `x5u` are never
//! used. The dev identity provider is just another issuer verified by this same code.

pub mod dev;
pub mod oidc;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::domain::Caller;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

/// Tokens remembered as verified (each until its `exp`); past this many the memory starts
/// again empty.
const VERIFIED_CACHE_SIZE: usize = 4096;

/// One issuer whose tokens we accept.
pub struct TrustedIssuer {
    pub issuer: String,
    /// Accepted `aud` (ID tokens) or `client_id` (Cognito access tokens) values.
    pub audiences: Vec<String>,
    pub keys: KeySet,
    /// The claim listing the caller's groups (`groups`, `cognito:groups`...).
    pub groups_claim: String,
    /// Which kind of token the api takes from this issuer; `None` takes either.
    pub token_use: Option<TokenUse>,
    /// Take the `email` claim only when `email_verified` is true (unset by
    /// `HANKO_OIDC_ALLOW_UNVERIFIED_EMAIL`). False for the dev identity provider, whose
    /// users file is the operator's own word.
    pub require_verified_email: bool,
}

/// Where an issuer's keys come from.
pub enum KeySet {
    /// Keys known at start, all for one pinned algorithm (the dev identity provider).
    Fixed {
        algorithm: Algorithm,
        keys: HashMap<String, DecodingKey>,
    },
    /// An OIDC provider's JWKS URL; each key allows the algorithm its JWK names.
    Remote(Arc<oidc::RemoteJwks>),
}

impl KeySet {
    async fn key(&self, kid: &str) -> Result<oidc::VerifyKey, AuthError> {
        match self {
            KeySet::Fixed { algorithm, keys } => keys
                .get(kid)
                .map(|k| oidc::VerifyKey {
                    key: k.clone(),
                    algorithm: *algorithm,
                })
                .ok_or_else(|| invalid("unknown kid")),
            KeySet::Remote(jwks) => jwks.key(kid).await,
        }
    }
}

/// The kind of token the api takes (`HANKO_OIDC_TOKEN_USE`).
///
/// An ID token says who the person is (`email`, `aud` = the client id); an access token
/// says what the client may do (Cognito: `client_id`, `username`, no `email`). A token of
/// the other kind is refused, so a token minted for one purpose cannot serve the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenUse {
    Id,
    Access,
}

impl TokenUse {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenUse::Id => "id",
            TokenUse::Access => "access",
        }
    }
}

/// How the console logs in with an OIDC provider (authorization code + PKCE), as told
/// to it by `GET /api/config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcClient {
    pub authorize_url: url::Url,
    pub token_url: url::Url,
    pub client_id: String,
    pub scopes: String,
    pub logout_url: Option<url::Url>,
    pub token_use: TokenUse,
    pub provider_name: Option<String>,
}

#[derive(Default)]
pub struct Authenticator {
    issuers: Vec<TrustedIssuer>,
    oidc_client: Option<OidcClient>,
    /// Tokens already verified, exactly as sent: the console sends the same token with
    /// every call, and checking its signature each time was most of an api request's cost.
    verified: Mutex<HashMap<String, Verified>>,
}

/// A token that verified: who it names, until when, and the key that signed it, which must
/// still be in its issuer's key set each time the token is taken from memory.
#[derive(Clone)]
struct Verified {
    caller: Caller,
    exp: i64,
    issuer: usize,
    kid: String,
}

/// Why a token was refused. The message is for logs; callers answer a plain 401.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("token refused: {0}")]
    Invalid(String),
    /// The issuer's keys could not be fetched, so no token of it can be checked (503).
    #[error("identity provider keys unavailable: {0}")]
    KeysUnavailable(String),
    /// A well-signed token whose `email` the provider has not verified (`email_verified`
    /// is not true): anyone could have typed that address (401, saying so).
    #[error("the identity provider has not verified the email address {0}")]
    UnverifiedEmail(String),
}

fn invalid(s: impl Into<String>) -> AuthError {
    AuthError::Invalid(s.into())
}

impl Authenticator {
    pub fn new(issuers: Vec<TrustedIssuer>) -> Self {
        Self {
            issuers,
            oidc_client: None,
            verified: Mutex::default(),
        }
    }

    /// The same, and the console logs in through `client`.
    pub fn with_oidc_client(mut self, client: OidcClient) -> Self {
        self.oidc_client = Some(client);
        self
    }

    pub fn oidc_client(&self) -> Option<&OidcClient> {
        self.oidc_client.as_ref()
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Verifies `token` and returns who it names. A token seen before is taken from
    /// memory while it has not expired and the key that signed it is still its issuer's
    /// (a key removed from a provider's JWKS stops its tokens at the next fetch).
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let remembered = self
            .verified
            .lock()
            .ok()
            .and_then(|cache| cache.get(token).cloned());
        if let Some(v) = remembered
            && now <= v.exp.saturating_add(LEEWAY_SECONDS as i64)
            && let Some(trusted) = self.issuers.get(v.issuer)
        {
            match trusted.keys.key(&v.kid).await {
                Ok(_) => return Ok(v.caller),
                Err(e) => {
                    if let Ok(mut cache) = self.verified.lock() {
                        cache.remove(token);
                    }
                    return Err(e);
                }
            }
        }
        let verified = self.verify_fully(token).await?;
        let caller = verified.caller.clone();
        if let Ok(mut cache) = self.verified.lock() {
            if cache.len() >= VERIFIED_CACHE_SIZE {
                cache.clear();
            }
            cache.insert(token.to_string(), verified);
        }
        Ok(caller)
    }

    /// Checks everything about `token`; returns who it names, its `exp` and its key.
    async fn verify_fully(&self, token: &str) -> Result<Verified, AuthError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| invalid(format!("header: {e}")))?;
        // The issuer is read unverified only to choose which keys and rules apply; the
        // verification below checks it again with the signature.
        let iss = unverified_issuer(token)?;
        let (issuer, trusted) = self
            .issuers
            .iter()
            .enumerate()
            .find(|(_, i)| i.issuer == iss)
            .ok_or_else(|| invalid("unknown issuer"))?;
        // `jku`, `jwk` and `x5u` are never read: keys come only from our own key set.
        let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
        let key = trusted.keys.key(&kid).await?;
        // The key decides the algorithm, never the token.
        if header.alg != key.algorithm {
            return Err(invalid(format!("algorithm {:?} not accepted", header.alg)));
        }

        let mut v = Validation::new(key.algorithm);
        v.leeway = LEEWAY_SECONDS;
        v.validate_nbf = true;
        v.set_issuer(&[&trusted.issuer]);
        v.set_required_spec_claims(&["exp", "iss", "sub"]);
        // `aud` (ID tokens) or `client_id` (Cognito access tokens) is checked below.
        v.validate_aud = false;
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &v)
            .map_err(|e| invalid(format!("{e}")))?;
        let c = data.claims;

        let aud_ok = match c.get("aud") {
            Some(Value::String(a)) => trusted.audiences.contains(a),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| trusted.audiences.iter().any(|t| t == a)),
            _ => false,
        };
        let client_id_ok = c
            .get("client_id")
            .and_then(Value::as_str)
            .is_some_and(|a| trusted.audiences.iter().any(|t| t == a));
        let token_use = c.get("token_use").and_then(Value::as_str);
        let typ_says_access = header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("at+jwt"));
        match trusted.token_use {
            // An ID token names the client in `aud` (OIDC Core 2); Cognito adds `token_use`.
            Some(TokenUse::Id) => {
                if token_use.is_some_and(|u| u != "id") || typ_says_access {
                    return Err(invalid("an ID token is wanted, not an access token"));
                }
                if !aud_ok {
                    return Err(invalid("audience not accepted"));
                }
            }
            // An access token must say so: Cognito's `token_use`, or RFC 9068's `at+jwt`.
            Some(TokenUse::Access) => {
                if !(token_use == Some("access") || (token_use.is_none() && typ_says_access)) {
                    return Err(invalid("an access token is wanted, not an ID token"));
                }
                if !(aud_ok || client_id_ok) {
                    return Err(invalid("client_id/audience not accepted"));
                }
            }
            None => {
                if !(aud_ok || client_id_ok) {
                    return Err(invalid("audience not accepted"));
                }
            }
        }
        let subject = c
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| invalid("no sub"))?
            .to_string();
        let email = caller_email(trusted, &c, token_use)?;
        let name = c
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .unwrap_or(&email)
            .to_string();
        let groups = match c.get(&trusted.groups_claim) {
            Some(Value::Array(g)) => g
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(g)) => g.split(',').map(|s| s.trim().to_string()).collect(),
            _ => Vec::new(),
        };
        // Only the provider's word on when the person logged in: `iat` says when this
        // token was made, which a refresh renews without anyone logging in again.
        let auth_time = c.get("auth_time").and_then(Value::as_i64);
        let exp = c
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| invalid("exp is not a whole number"))?;
        Ok(Verified {
            caller: Caller {
                subject,
                email,
                name,
                groups,
                auth_time,
            },
            exp,
            issuer,
            kid,
        })
    }
}

/// Who the claims `c` name, by email (approvers are named by email).
///
/// - `email`, taken only when `email_verified` is `true` (or Cognito's string `"true"`),
///   unless the issuer accepts unverified emails: an address nobody proved is one that
///   anyone signing up could have typed.
/// - Without `email`, Cognito access tokens (`token_use` = `access`, from a
///   `cognito-idp.<region>.amazonaws.com` issuer that the api takes access tokens of) carry
///   only `username`: it is used when it is an email address, as in pools whose usernames
///   are their people's emails. No other token's `username` names anyone.
fn caller_email(
    trusted: &TrustedIssuer,
    c: &Value,
    token_use: Option<&str>,
) -> Result<String, AuthError> {
    let email = c
        .get("email")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(email) = email {
        // Cognito's ID tokens write it as the string "true".
        let verified = match c.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(v)) => v == "true",
            _ => false,
        };
        if trusted.require_verified_email && !verified {
            return Err(AuthError::UnverifiedEmail(email.to_lowercase()));
        }
        return Ok(email.to_lowercase());
    }
    let cognito_access = trusted.token_use == Some(TokenUse::Access)
        && token_use == Some("access")
        && is_cognito_issuer(&trusted.issuer);
    if cognito_access
        && let Some(username) = c
            .get("username")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|u| crate::domain::email::is_email(u))
    {
        return Ok(username.to_lowercase());
    }
    Err(invalid(
        "no email claim (and not a Cognito access token whose username is an email)",
    ))
}

/// Whether `issuer` is a Cognito user pool: `https://cognito-idp.<region>.amazonaws.com/<pool>`
/// (or `.amazonaws.com.cn`).
fn is_cognito_issuer(issuer: &str) -> bool {
    let Some(rest) = issuer.strip_prefix("https://cognito-idp.") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let pool = rest.split_once('/').map_or("", |(_, p)| p);
    (host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn"))
        && !pool.is_empty()
        && !pool.contains('/')
}

fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| invalid("not a compact JWT"))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| invalid("payload is not base64url"))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("payload is not JSON"))?;
    v.get("iss")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| invalid("no iss"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::EcKey;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const ISS: &str = "https://issuer.example";
    const AUD: &str = "hanko-console";

    fn setup() -> (EcKey, Authenticator) {
        let key = EcKey::generate().unwrap();
        let mut keys = HashMap::new();
        keys.insert(key.kid().to_string(), key.decoding_key().clone());
        let auth = Authenticator::new(vec![TrustedIssuer {
            issuer: ISS.into(),
            audiences: vec![AUD.into()],
            keys: KeySet::Fixed {
                algorithm: Algorithm::ES256,
                keys,
            },
            groups_claim: "groups".into(),
            token_use: None,
            require_verified_email: true,
        }]);
        (key, auth)
    }

    /// An issuer trusting `key`, named `issuer`, taking `token_use` tokens.
    fn issuer_of(key: &EcKey, issuer: &str, token_use: Option<TokenUse>) -> Authenticator {
        let mut keys = HashMap::new();
        keys.insert(key.kid().to_string(), key.decoding_key().clone());
        Authenticator::new(vec![TrustedIssuer {
            issuer: issuer.into(),
            audiences: vec![AUD.into()],
            keys: KeySet::Fixed {
                algorithm: Algorithm::ES256,
                keys,
            },
            groups_claim: "groups".into(),
            token_use,
            require_verified_email: true,
        }])
    }

    fn claims() -> Value {
        let now = chrono::Utc::now().timestamp();
        json!({"iss": ISS, "aud": AUD, "sub": "u1", "email": "Alice@Example.com", "name": "Alice",
               "email_verified": true, "groups": ["ops"], "iat": now, "auth_time": now - 5,
               "exp": now + 600})
    }

    fn b64(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[tokio::test]
    async fn a_well_signed_token_names_the_caller_and_their_groups() {
        let (key, auth) = setup();
        let caller = auth
            .verify(&key.sign(&claims(), "JWT").unwrap())
            .await
            .unwrap();
        assert_eq!(caller.email, "alice@example.com");
        assert_eq!(caller.subject, "u1");
        assert_eq!(caller.groups, vec!["ops"]);
    }

    #[tokio::test]
    async fn an_unsigned_token_with_alg_none_is_refused() {
        let (key, auth) = setup();
        let token = format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT", "kid": key.kid()})),
            b64(&claims())
        );
        assert!(auth.verify(&token).await.is_err());
    }

    #[tokio::test]
    async fn a_token_signed_by_another_key_with_the_same_kid_is_refused() {
        let (key, auth) = setup();
        let other = EcKey::generate().unwrap();
        let forged = other.sign(&claims(), "JWT").unwrap();
        // Put the trusted kid in the forged header.
        let mut parts: Vec<String> = forged.split('.').map(str::to_string).collect();
        parts[0] = b64(&json!({"alg": "ES256", "typ": "JWT", "kid": key.kid()}));
        assert!(auth.verify(&parts.join(".")).await.is_err());
    }

    #[tokio::test]
    async fn a_token_whose_claims_were_altered_after_signing_is_refused() {
        let (key, auth) = setup();
        let token = key.sign(&claims(), "JWT").unwrap();
        let mut c = claims();
        c["email"] = json!("mallory@example.com");
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        parts[1] = b64(&c);
        assert!(auth.verify(&parts.join(".")).await.is_err());
    }

    #[tokio::test]
    async fn a_token_verified_before_is_still_refused_once_expired() {
        let (key, auth) = setup();
        let mut c = claims();
        c["exp"] = json!(chrono::Utc::now().timestamp() - LEEWAY_SECONDS as i64 + 1);
        let token = key.sign(&c, "JWT").unwrap();
        assert!(auth.verify(&token).await.is_ok());
        assert!(auth.verify(&token).await.is_ok());
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        assert!(auth.verify(&token).await.is_err());
    }

    #[tokio::test]
    async fn an_expired_token_is_refused() {
        let (key, auth) = setup();
        let mut c = claims();
        c["exp"] = json!(chrono::Utc::now().timestamp() - 120);
        assert!(auth.verify(&key.sign(&c, "JWT").unwrap()).await.is_err());
    }

    #[tokio::test]
    async fn a_token_not_yet_valid_is_refused() {
        let (key, auth) = setup();
        let mut c = claims();
        c["nbf"] = json!(chrono::Utc::now().timestamp() + 600);
        assert!(auth.verify(&key.sign(&c, "JWT").unwrap()).await.is_err());
    }

    #[tokio::test]
    async fn a_token_from_another_issuer_or_for_another_audience_is_refused() {
        let (key, auth) = setup();
        let mut c = claims();
        c["iss"] = json!("https://evil.example");
        assert!(auth.verify(&key.sign(&c, "JWT").unwrap()).await.is_err());
        let mut c = claims();
        c["aud"] = json!("someone-else");
        assert!(auth.verify(&key.sign(&c, "JWT").unwrap()).await.is_err());
    }

    #[tokio::test]
    async fn an_hs256_token_using_the_public_key_as_secret_is_refused() {
        let (key, auth) = setup();
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some(key.kid().into());
        let secret = serde_json::to_vec(&key.public_jwk()).unwrap();
        let token = jsonwebtoken::encode(
            &header,
            &claims(),
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert!(auth.verify(&token).await.is_err());
    }

    #[tokio::test]
    async fn an_email_is_taken_only_when_the_provider_verified_it() {
        let (key, auth) = setup();
        for verified in [json!(true), json!("true")] {
            let mut c = claims();
            c["email_verified"] = verified;
            let caller = auth.verify(&key.sign(&c, "JWT").unwrap()).await.unwrap();
            assert_eq!(caller.email, "alice@example.com");
        }
        for unverified in [
            json!(false),
            json!("false"),
            json!("yes"),
            json!(1),
            Value::Null,
        ] {
            let mut c = claims();
            c["email_verified"] = unverified.clone();
            let e = auth
                .verify(&key.sign(&c, "JWT").unwrap())
                .await
                .unwrap_err();
            assert_eq!(
                e,
                AuthError::UnverifiedEmail("alice@example.com".into()),
                "{unverified}"
            );
        }
        let mut c = claims();
        c.as_object_mut().unwrap().remove("email_verified");
        let token = key.sign(&c, "JWT").unwrap();
        assert!(matches!(
            auth.verify(&token).await,
            Err(AuthError::UnverifiedEmail(_))
        ));
        // HANKO_OIDC_ALLOW_UNVERIFIED_EMAIL=true: the issuer's emails are taken as given.
        let mut lenient = issuer_of(&key, ISS, None);
        lenient.issuers[0].require_verified_email = false;
        assert_eq!(
            lenient.verify(&token).await.unwrap().email,
            "alice@example.com"
        );
    }

    #[tokio::test]
    async fn a_username_names_the_caller_only_in_a_cognito_access_token() {
        let key = EcKey::generate().unwrap();
        let cognito = "https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_Pool";
        let now = chrono::Utc::now().timestamp();
        let access = |iss: &str, username: &str| {
            json!({"iss": iss, "client_id": AUD, "sub": "u1", "username": username,
                   "token_use": "access", "iat": now, "auth_time": now, "exp": now + 600})
        };
        let auth = issuer_of(&key, cognito, Some(TokenUse::Access));
        let t = key
            .sign(&access(cognito, "Alice@Example.com"), "JWT")
            .unwrap();
        assert_eq!(auth.verify(&t).await.unwrap().email, "alice@example.com");
        // A username that is not an email names nobody.
        let t = key.sign(&access(cognito, "alice"), "JWT").unwrap();
        assert!(auth.verify(&t).await.is_err());
        let t = key.sign(&access(cognito, "a@b"), "JWT").unwrap();
        assert!(auth.verify(&t).await.is_err());
        // Another provider's access token: its username is not an email it vouches for.
        let other = "https://idp.example/pool";
        let auth = issuer_of(&key, other, Some(TokenUse::Access));
        let t = key
            .sign(&access(other, "alice@example.com"), "JWT")
            .unwrap();
        assert!(auth.verify(&t).await.is_err());
        // Nor does an ID token's, from Cognito or not.
        let auth = issuer_of(&key, cognito, None);
        let mut c = access(cognito, "alice@example.com");
        c["aud"] = json!(AUD);
        c["token_use"] = json!("id");
        assert!(auth.verify(&key.sign(&c, "JWT").unwrap()).await.is_err());
    }

    #[tokio::test]
    async fn the_login_time_is_the_auth_time_claim_and_never_iat() {
        let (key, auth) = setup();
        let c = claims();
        let caller = auth.verify(&key.sign(&c, "JWT").unwrap()).await.unwrap();
        assert_eq!(caller.auth_time, c["auth_time"].as_i64());
        let mut c = claims();
        c.as_object_mut().unwrap().remove("auth_time");
        let caller = auth.verify(&key.sign(&c, "JWT").unwrap()).await.unwrap();
        assert_eq!(
            caller.auth_time, None,
            "iat is when the token was made, not the login"
        );
    }

    #[test]
    fn only_a_cognito_user_pool_is_a_cognito_issuer() {
        assert!(is_cognito_issuer(
            "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc"
        ));
        assert!(is_cognito_issuer(
            "https://cognito-idp.cn-north-1.amazonaws.com.cn/cn-north-1_abc"
        ));
        for not in [
            "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc",
            "https://cognito-idp.us-east-1.amazonaws.com.evil.example/pool",
            "https://cognito-idp.us-east-1.amazonaws.com/",
            "https://cognito-idp.us-east-1.amazonaws.com/a/b",
            "https://idp.example/pool",
        ] {
            assert!(!is_cognito_issuer(not), "{not}");
        }
    }

    #[tokio::test]
    async fn an_unknown_kid_is_refused() {
        let (_, auth) = setup();
        let stranger = EcKey::generate().unwrap();
        assert!(
            auth.verify(&stranger.sign(&claims(), "JWT").unwrap())
                .await
                .is_err()
        );
    }
}
