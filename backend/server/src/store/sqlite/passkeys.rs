//! Passkeys and their nonces (tables `passkeys`, `passkey_nonces`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use super::writer::Place;
use crate::store::passkeys::usable;
use crate::store::{PasskeyNonce, PasskeyStore, StoreError, StoreResult, StoredPasskey};

fn time(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::backend("stored time"))
}

#[async_trait]
impl PasskeyStore for SqliteStore {
    async fn add_passkey(&self, p: &StoredPasskey) -> StoreResult<bool> {
        let p = p.clone();
        self.with(move |conn| {
            let n = conn.execute(
                "INSERT OR IGNORE INTO passkeys (person, id, name, credential, created_ms, used_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    p.person,
                    p.id,
                    p.name,
                    p.credential,
                    p.created_at.timestamp_millis(),
                    p.last_used_at.map(|t| t.timestamp_millis()),
                ],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn passkeys(&self, person: &str) -> StoreResult<Vec<StoredPasskey>> {
        let person = person.to_string();
        self.read(
            Place::HereIfFree,
            move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT person, id, name, credential, created_ms, used_ms FROM passkeys \
                     WHERE person = ?1 ORDER BY created_ms, id",
                )?;
                let rows = stmt.query_map([&person], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, i64>(4)?,
                        r.get::<_, Option<i64>>(5)?,
                    ))
                })?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            },
            |rows| {
                rows.into_iter()
                    .map(|(person, id, name, credential, created, used)| {
                        Ok(StoredPasskey {
                            person,
                            id,
                            name,
                            credential,
                            created_at: time(created)?,
                            last_used_at: used.map(time).transpose()?,
                        })
                    })
                    .collect()
            },
        )
        .await
    }

    async fn passkey_used(
        &self,
        person: &str,
        id: &str,
        credential: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let (person, id, credential) = (person.to_string(), id.to_string(), credential.to_string());
        self.with(move |conn| {
            let n = conn.execute(
                "UPDATE passkeys SET credential = ?3, used_ms = ?4 WHERE person = ?1 AND id = ?2",
                params![person, id, credential, at.timestamp_millis()],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn remove_passkey(&self, person: &str, id: &str) -> StoreResult<bool> {
        let (person, id) = (person.to_string(), id.to_string());
        self.with(move |conn| {
            let n = conn.execute(
                "DELETE FROM passkeys WHERE person = ?1 AND id = ?2",
                params![person, id],
            )?;
            Ok(n == 1)
        })
        .await
    }

    async fn put_nonce(&self, n: &PasskeyNonce) -> StoreResult<()> {
        let n = n.clone();
        self.with(move |conn| {
            // Nonces nobody came back for go when the next one is made.
            conn.execute(
                "DELETE FROM passkey_nonces WHERE expires_ms < ?1",
                [Utc::now().timestamp_millis()],
            )?;
            conn.execute(
                "INSERT INTO passkey_nonces (nonce, person, purpose, state, expires_ms) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    n.nonce,
                    n.person,
                    n.purpose,
                    n.state,
                    n.expires_at.timestamp_millis()
                ],
            )?;
            Ok(())
        })
        .await
    }

    async fn take_nonce(
        &self,
        nonce: &str,
        person: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PasskeyNonce>> {
        let nonce = nonce.to_string();
        let taken = self
            .with(move |conn| {
                // One statement: of two takers, the second deletes nothing.
                let row = conn
                    .query_row(
                        "DELETE FROM passkey_nonces WHERE nonce = ?1 \
                         RETURNING nonce, person, purpose, state, expires_ms",
                        [&nonce],
                        |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                                r.get::<_, String>(3)?,
                                r.get::<_, i64>(4)?,
                            ))
                        },
                    )
                    .optional()?;
                row.map(|(nonce, person, purpose, state, expires)| {
                    Ok(PasskeyNonce {
                        nonce,
                        person,
                        purpose,
                        state,
                        expires_at: time(expires)?,
                    })
                })
                .transpose()
            })
            .await?;
        Ok(usable(taken, person, now))
    }
}
