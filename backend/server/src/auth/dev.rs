//! The built-in dev identity provider: a users file with argon2 password hashes, and
//! short-lived ES256 tokens that the api verifies like any other issuer's. Off unless a
//! users file is configured.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::Algorithm;
use serde::Deserialize;
use serde_json::json;

use super::{KeySet, TokenUse, TrustedIssuer};
use crate::keys::EcKey;

pub const DEV_ISSUER: &str = "urn:hanko:dev";
pub const DEV_AUDIENCE: &str = "hanko-console";
pub const TOKEN_LIFETIME_MINUTES: i64 = 60;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevUser {
    pub email: String,
    pub name: String,
    #[serde(default)]
    pub groups: Vec<String>,
    /// PHC string, `$argon2id$...` (make one with `hanko hash-password`).
    pub password_hash: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsersFile {
    users: Vec<DevUser>,
}

pub struct DevIdp {
    users: HashMap<String, DevUser>,
    key: EcKey,
    /// One permit per core: at most this many password checks run at once, each holding
    /// argon2's memory (`m_cost`, 19 MiB by default). Without it, N concurrent attempts
    /// held N times that, on as many blocking threads (up to 512).
    checks: Arc<tokio::sync::Semaphore>,
}

/// How many password checks run at once: the cores this process may use.
pub fn check_permits() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// Verified against when the email is unknown, so timing does not tell who exists. A
/// constant (argon2id with the default parameters, like `hash_password` makes) rather than
/// a hash made at start, which cost every start tens of milliseconds and ~19 MiB; no
/// password is known to match it.
const DECOY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$w/W6I9MzYj5HT3CXFXV65g$k8Hk1WAvbU9dt6Oqx/HoHQIh8khOHoP/DkXWPXLc7TM";

impl DevIdp {
    pub fn load(users_file: &Path, key: EcKey) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(users_file)
            .with_context(|| format!("reading dev users file {}", users_file.display()))?;
        let parsed: UsersFile = serde_json::from_str(&text)
            .with_context(|| format!("dev users file {} is not valid", users_file.display()))?;
        Self::new(parsed.users, key)
    }

    pub fn new(users: Vec<DevUser>, key: EcKey) -> anyhow::Result<Self> {
        let mut map = HashMap::new();
        for u in users {
            PasswordHash::new(&u.password_hash)
                .map_err(|e| anyhow::anyhow!("user {}: password hash: {e}", u.email))?;
            map.insert(u.email.trim().to_lowercase(), u);
        }
        Ok(Self {
            users: map,
            key,
            checks: Arc::new(tokio::sync::Semaphore::new(check_permits())),
        })
    }

    /// The issuer entry that makes the api accept this provider's tokens.
    pub fn trusted_issuer(&self) -> TrustedIssuer {
        let mut keys = HashMap::new();
        keys.insert(self.key.kid().to_string(), self.key.decoding_key().clone());
        TrustedIssuer {
            issuer: DEV_ISSUER.into(),
            audiences: vec![DEV_AUDIENCE.into()],
            keys: KeySet::Fixed {
                algorithm: Algorithm::ES256,
                keys,
            },
            groups_claim: "groups".into(),
            token_use: Some(TokenUse::Id),
            // The users file is the operator's word; its tokens also say so.
            require_verified_email: false,
        }
    }

    /// Members of a group, for notifications.
    pub fn members_of(&self, group: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .users
            .iter()
            .filter(|(_, u)| u.groups.iter().any(|g| g == group))
            .map(|(email, _)| email.clone())
            .collect();
        v.sort();
        v
    }

    /// [`DevIdp::login`] on a blocking thread, once one of the [`check_permits`] permits is
    /// free: attempts beyond them wait here, holding no thread and no argon2 memory. The
    /// permit goes with the check, so a request given up on (its timeout) still holds it
    /// until the hash is done.
    pub async fn login_checked(
        self: &Arc<Self>,
        email: String,
        password: String,
    ) -> Result<Option<(String, DateTime<Utc>)>, tokio::task::JoinError> {
        let permit = self
            .checks
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let idp = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            idp.login(&email, &password)
        })
        .await
    }

    /// Checks the password (slow by design; call from a blocking thread) and issues a token.
    pub fn login(&self, email: &str, password: &str) -> Option<(String, DateTime<Utc>)> {
        let email = email.trim().to_lowercase();
        let user = self.users.get(&email);
        let hash = user.map_or(DECOY_HASH, |u| u.password_hash.as_str());
        let ok = PasswordHash::new(hash).ok().is_some_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        });
        let user = user.filter(|_| ok)?;
        let now = Utc::now();
        let exp = now + Duration::minutes(TOKEN_LIFETIME_MINUTES);
        let claims = json!({
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "sub": format!("dev|{email}"),
            "email": email,
            "email_verified": true,
            "name": user.name,
            "groups": user.groups,
            "token_use": "id",
            "iat": now.timestamp(),
            "auth_time": now.timestamp(),
            "exp": exp.timestamp(),
        });
        let token = self.key.sign(&claims, "JWT").ok()?;
        Some((token, exp))
    }
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Authenticator;

    fn idp() -> DevIdp {
        DevIdp::new(
            vec![DevUser {
                email: "Alice@example.com".into(),
                name: "Alice".into(),
                groups: vec!["ops".into()],
                password_hash: hash_password("correct horse").unwrap(),
            }],
            EcKey::generate().unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_dev_login_token_is_accepted_by_the_common_verifier() {
        let idp = idp();
        let (token, _) = idp
            .login("alice@example.com", "correct horse")
            .expect("login");
        let auth = Authenticator::new(vec![idp.trusted_issuer()]);
        let caller = auth.verify(&token).await.unwrap();
        assert_eq!(caller.email, "alice@example.com");
        assert_eq!(caller.groups, vec!["ops"]);
        assert_eq!(idp.members_of("ops"), vec!["alice@example.com"]);
    }

    #[test]
    fn a_wrong_password_or_an_unknown_user_gets_no_token() {
        let idp = idp();
        assert!(idp.login("alice@example.com", "wrong").is_none());
        assert!(idp.login("nobody@example.com", "correct horse").is_none());
    }

    #[test]
    fn the_decoy_hash_is_a_valid_hash_with_the_default_cost() {
        let decoy = PasswordHash::new(DECOY_HASH).unwrap();
        let real = hash_password("x").unwrap();
        let real = PasswordHash::new(&real).unwrap();
        assert_eq!(decoy.algorithm, real.algorithm);
        assert_eq!(decoy.params, real.params);
        assert!(Argon2::default().verify_password(b"decoy", &decoy).is_err());
    }
}
