//! Keys of an OIDC provider (Cognito or any other), fetched from its JWKS URL.
//!
//! The key set is cached. A token whose `kid` is not in the cache makes us fetch the set
//! again (the provider rotated its keys), but at most once per [`RemoteJwks::min_refresh`],
//! so a stream of tokens with made-up `kid`s cannot make us hammer the provider. Each key
//! allows only the algorithm its JWK names (or the one its type and curve imply); a JWKS
//! never supplies a symmetric key, so `HS*` tokens can never verify.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::AuthError;

/// Least time between two fetches of the key set.
pub const DEFAULT_MIN_REFRESH: Duration = Duration::from_secs(60);
/// A key set older than this is fetched again on the next token (keys also get removed).
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(3600);
/// Whole-request timeout of one fetch.
pub const DEFAULT_FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A key set larger than this is refused (a JWKS is a few kilobytes).
const MAX_JWKS_BYTES: usize = 256 * 1024;
/// `kid`s longer than this are refused without a lookup.
const MAX_KID_LEN: usize = 256;

/// One verification key and the only algorithm it may be used with.
#[derive(Clone)]
pub struct VerifyKey {
    pub key: DecodingKey,
    pub algorithm: Algorithm,
}

#[derive(Default)]
struct Cache {
    keys: HashMap<String, VerifyKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// A provider's key set, fetched from `url` and cached.
pub struct RemoteJwks {
    url: String,
    http: reqwest::Client,
    /// Least time between two fetches, successful or not.
    pub min_refresh: Duration,
    /// Age after which a cached set is fetched again.
    pub max_age: Duration,
    cache: RwLock<Cache>,
    /// One fetch at a time: concurrent requests with a new `kid` share it.
    fetching: tokio::sync::Mutex<()>,
}

impl RemoteJwks {
    /// A key set at `url` with the default refresh limits.
    pub fn new(url: impl Into<String>) -> anyhow::Result<Self> {
        Self::with_limits(url, DEFAULT_MIN_REFRESH, DEFAULT_FETCH_TIMEOUT)
    }

    pub fn with_limits(
        url: impl Into<String>,
        min_refresh: Duration,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        // reqwest is built without a bundled crypto provider; the AWS SDK already links
        // aws-lc-rs. Installing fails harmlessly when a provider is already installed.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| anyhow::anyhow!("building the JWKS http client: {e}"))?;
        Ok(Self {
            url: url.into(),
            http,
            min_refresh,
            max_age: DEFAULT_MAX_AGE,
            cache: RwLock::new(Cache::default()),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn cached(&self, kid: &str, fresh_only: bool) -> Option<VerifyKey> {
        let c = self.cache.read().unwrap_or_else(|e| e.into_inner());
        let fresh = c.fetched_at.is_some_and(|t| t.elapsed() < self.max_age);
        if fresh_only && !fresh {
            return None;
        }
        c.keys.get(kid).cloned()
    }

    /// The key named `kid`, fetching the set when it is unknown (within the rate limit).
    pub async fn key(&self, kid: &str) -> Result<VerifyKey, AuthError> {
        if kid.is_empty() || kid.len() > MAX_KID_LEN {
            return Err(AuthError::Invalid("kid is empty or too long".into()));
        }
        if let Some(k) = self.cached(kid, true) {
            return Ok(k);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Someone else may have fetched while we waited.
        if let Some(k) = self.cached(kid, true) {
            return Ok(k);
        }
        {
            let c = self.cache.read().unwrap_or_else(|e| e.into_inner());
            if c.last_attempt
                .is_some_and(|t| t.elapsed() < self.min_refresh)
            {
                return match (c.keys.get(kid), c.fetched_at) {
                    // Stale but we may not fetch yet: still the provider's key.
                    (Some(k), _) => Ok(k.clone()),
                    (None, None) => Err(AuthError::KeysUnavailable(
                        "the identity provider's keys could not be fetched recently".into(),
                    )),
                    (None, Some(_)) => Err(AuthError::Invalid("unknown kid".into())),
                };
            }
        }
        let fetched = self.fetch().await;
        let mut c = self.cache.write().unwrap_or_else(|e| e.into_inner());
        c.last_attempt = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                tracing::info!(url = %self.url, keys = keys.len(), "fetched the identity provider's keys");
                c.keys = keys;
                c.fetched_at = Some(Instant::now());
                c.keys
                    .get(kid)
                    .cloned()
                    .ok_or_else(|| AuthError::Invalid("unknown kid".into()))
            }
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "fetching the identity provider's keys failed");
                match c.keys.get(kid) {
                    Some(k) => Ok(k.clone()),
                    None => Err(AuthError::KeysUnavailable(e)),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, VerifyKey>, String> {
        let resp = self
            .http
            .get(&self.url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        if !resp.status().is_success() {
            return Err(format!("GET {}: status {}", self.url, resp.status()));
        }
        let body = read_capped(resp, MAX_JWKS_BYTES)
            .await
            .map_err(|e| format!("GET {}: {e}", self.url))?;
        parse_jwks(&body)
    }
}

/// The body of `resp`, refused once it passes `max` bytes: a `Content-Length` over it is
/// refused before reading, and a body without one (chunked) is read a chunk at a time and
/// dropped as soon as it is too large, so a key server cannot make us hold more than
/// `max` plus one chunk.
pub async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    let too_large = || format!("the answer is larger than {max} bytes");
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Checks the URL of an identity provider (issuer, JWKS, authorize, token, logout) or of a
/// key set: `https://`, or `http://` only to this machine (127.0.0.0/8, `::1`,
/// `localhost`), where nobody on the network can read or change what travels. `name` is
/// the setting, named in the message. Returns the URL as parsed (scheme and host
/// lowercased).
pub fn provider_url(name: &str, raw: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| format!("{name} is not a URL ({e}): {raw:?}"))?;
    match url.scheme() {
        "https" if url.host().is_some() => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!(
            "{name} must be an https:// URL (http:// is only for a loopback address: 127.0.0.1, [::1], localhost), got {raw:?}"
        )),
        _ => Err(format!("{name} must be an https:// URL, got {raw:?}")),
    }
}

/// Whether the URL's host is this machine: 127.0.0.0/8, `::1` or `localhost`. (The URL
/// parser has already normalised the host: `127.1` and `0x7f.0.0.1` read `127.0.0.1`.)
pub fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<std::net::Ipv6Addr>()
            .is_ok_and(|ip| ip.is_loopback());
    }
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|ip| ip.is_loopback())
        || host.eq_ignore_ascii_case("localhost")
}

/// The usable signature keys of a JWKS document, by `kid`. Keys that are not for
/// signatures, have no `kid`, are symmetric, or that we cannot read are left out.
pub fn parse_jwks(body: &[u8]) -> Result<HashMap<String, VerifyKey>, String> {
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| format!("the key set is not JSON: {e}"))?;
    let list = doc
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("the key set has no \"keys\" list")?;
    let mut out = HashMap::new();
    for raw in list {
        // One key we cannot read must not hide the others.
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if matches!(
            jwk.common.public_key_use,
            Some(ref u) if *u != PublicKeyUse::Signature
        ) {
            continue;
        }
        let Some(algorithm) = allowed_algorithm(&jwk) else {
            continue;
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.insert(kid, VerifyKey { key, algorithm });
    }
    Ok(out)
}

/// The one algorithm a key may verify: the one its `alg` names when that fits its type,
/// else the usual one for its type (RS256 for RSA, as OIDC and Cognito use).
fn allowed_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let named = jwk.common.key_algorithm;
    match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => match named {
            None => Some(Algorithm::RS256),
            Some(KeyAlgorithm::RS256) => Some(Algorithm::RS256),
            Some(KeyAlgorithm::RS384) => Some(Algorithm::RS384),
            Some(KeyAlgorithm::RS512) => Some(Algorithm::RS512),
            Some(KeyAlgorithm::PS256) => Some(Algorithm::PS256),
            Some(KeyAlgorithm::PS384) => Some(Algorithm::PS384),
            Some(KeyAlgorithm::PS512) => Some(Algorithm::PS512),
            Some(_) => None,
        },
        AlgorithmParameters::EllipticCurve(p) => {
            let by_curve = match p.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                _ => return None,
            };
            match named {
                None => Some(by_curve),
                Some(n) if Algorithm::try_from(n).ok() == Some(by_curve) => Some(by_curve),
                Some(_) => None,
            }
        }
        AlgorithmParameters::OctetKeyPair(_) => match named {
            None | Some(KeyAlgorithm::EdDSA) => Some(Algorithm::EdDSA),
            Some(_) => None,
        },
        // A symmetric key in a public key set is a configuration mistake or an attack.
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_set_keeps_signature_keys_with_the_algorithm_each_allows() {
        let ec = crate::keys::EcKey::generate().unwrap();
        let mut enc = ec.public_jwk();
        enc["kid"] = json!("for-encryption");
        enc["use"] = json!("enc");
        let doc = json!({"keys": [
            ec.public_jwk(),
            enc,
            {"kty": "oct", "kid": "shared-secret", "k": "c2VjcmV0"},
            {"kty": "RSA", "kid": "rsa-ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-enc-alg", "alg": "RSA-OAEP", "n": "AQAB", "e": "AQAB"},
            {"kty": "RSA", "kid": "rsa-plain", "n": "AQAB", "e": "AQAB"},
            {"kty": "EC", "kid": "ec-wrong-alg", "alg": "ES384", "crv": "P-256",
             "x": ec.public_jwk()["x"], "y": ec.public_jwk()["y"]},
            {"kty": "weird", "kid": "unreadable"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        let mut names: Vec<&str> = keys.keys().map(String::as_str).collect();
        names.sort();
        let mut expected = vec![ec.kid(), "rsa-plain", "rsa-ps"];
        expected.sort();
        assert_eq!(names, expected);
        assert_eq!(keys[ec.kid()].algorithm, Algorithm::ES256);
        assert_eq!(keys["rsa-plain"].algorithm, Algorithm::RS256);
        assert_eq!(keys["rsa-ps"].algorithm, Algorithm::PS256);
    }

    #[test]
    fn provider_urls_must_be_https_except_on_a_loopback_address() {
        for ok in [
            "https://cognito-idp.ap-northeast-1.amazonaws.com/pool",
            "https://idp.example:8443/jwks.json",
            "http://127.0.0.1:9000/jwks.json",
            "http://127.8.9.10/x",
            "http://localhost:8080/token",
            "http://LOCALHOST/token",
            "http://[::1]:9000/logout",
        ] {
            assert!(provider_url("HANKO_X", ok).is_ok(), "{ok} refused");
        }
        for bad in [
            "http://idp.example/jwks.json",
            "http://10.0.0.1/jwks.json",
            "http://[::2]/jwks.json",
            "http://localhost.evil.example/jwks.json",
            "http://127.0.0.1.evil.example/jwks.json",
            "ftp://idp.example/jwks.json",
            "file:///etc/jwks.json",
            "https://",
            "idp.example/jwks.json",
        ] {
            let e = provider_url("HANKO_X", bad).unwrap_err();
            assert!(e.contains("HANKO_X"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_document_that_is_not_a_key_set_is_an_error() {
        assert!(parse_jwks(b"<html>").is_err());
        assert!(parse_jwks(b"{\"nokeys\": []}").is_err());
    }
}
