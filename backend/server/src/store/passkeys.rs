//! What the stores keep for passkeys: each person's registered credentials, and the
//! single-use nonces of registrations and signed votes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;

/// One registered passkey of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// Whose it is: their email as they log in with it (lowercased).
    pub person: String,
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    /// The credential as webauthn-rs-core keeps it (its JSON): public key, sign count, flags.
    pub credential: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A single-use nonce given to one person for one purpose (`register`, or `vote:<id>`),
/// with the state its ceremony needs back (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyNonce {
    pub nonce: String,
    pub person: String,
    pub purpose: String,
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// Keeps a new passkey; `false` when this person already has one with this id.
    async fn add_passkey(&self, p: &StoredPasskey) -> StoreResult<bool>;

    /// The person's passkeys, oldest first.
    async fn passkeys(&self, person: &str) -> StoreResult<Vec<StoredPasskey>>;

    /// Writes a passkey's credential after a use (its sign count) and when it was used;
    /// `false` when it is gone.
    async fn passkey_used(
        &self,
        person: &str,
        id: &str,
        credential: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Removes a passkey; `false` when the person had none with this id.
    async fn remove_passkey(&self, person: &str, id: &str) -> StoreResult<bool>;

    /// Keeps a nonce until it is taken or expires.
    async fn put_nonce(&self, n: &PasskeyNonce) -> StoreResult<()>;

    /// Takes the nonce out, once: of two takers at once only one gets it. `None` when it is
    /// unknown, already taken, expired by `now`, or another person's (which also uses it up).
    async fn take_nonce(
        &self,
        nonce: &str,
        person: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PasskeyNonce>>;
}

/// What [`PasskeyStore::take_nonce`] gives back of a nonce read out of a store.
pub(crate) fn usable(
    n: Option<PasskeyNonce>,
    person: &str,
    now: DateTime<Utc>,
) -> Option<PasskeyNonce> {
    n.filter(|n| n.person == person && n.expires_at > now)
}
