//! Passkeys and their nonces: items `PERSON#<email>` / `PASSKEY#<credential id>`, and
//! `NONCE#<nonce>` / `NONCE` (with a `ttl`; a nonce past its time is refused before
//! DynamoDB gets round to deleting it).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::items::{from_item, s, to_item};
use crate::store::passkeys::usable;
use crate::store::{PasskeyNonce, PasskeyStore, StoreError, StoreResult, StoredPasskey};

const PASSKEY_PREFIX: &str = "PASSKEY#";
const NONCE_SK: &str = "NONCE";

fn person_pk(person: &str) -> String {
    format!("PERSON#{person}")
}

fn nonce_pk(nonce: &str) -> String {
    format!("NONCE#{nonce}")
}

fn time(ms: i64) -> StoreResult<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::backend("stored time"))
}

#[derive(Serialize, Deserialize)]
struct PasskeyItem {
    pk: String,
    sk: String,
    person: String,
    id: String,
    name: String,
    credential: String,
    created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_ms: Option<i64>,
}

impl PasskeyItem {
    fn into_passkey(self) -> StoreResult<StoredPasskey> {
        Ok(StoredPasskey {
            person: self.person,
            id: self.id,
            name: self.name,
            credential: self.credential,
            created_at: time(self.created_ms)?,
            last_used_at: self.used_ms.map(time).transpose()?,
        })
    }
}

#[derive(Serialize, Deserialize)]
struct NonceItem {
    pk: String,
    sk: String,
    nonce: String,
    person: String,
    purpose: String,
    state: String,
    expires_ms: i64,
    ttl: i64,
}

fn conditional_failed(e: &StoreError) -> bool {
    matches!(e, StoreError::Conflict(_))
}

#[async_trait]
impl PasskeyStore for DynamoStore {
    async fn add_passkey(&self, p: &StoredPasskey) -> StoreResult<bool> {
        let item = to_item(PasskeyItem {
            pk: person_pk(&p.person),
            sk: format!("{PASSKEY_PREFIX}{}", p.id),
            person: p.person.clone(),
            id: p.id.clone(),
            name: p.name.clone(),
            credential: p.credential.clone(),
            created_ms: p.created_at.timestamp_millis(),
            used_ms: p.last_used_at.map(|t| t.timestamp_millis()),
        })?;
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| self.err("PutItem", e));
        match put {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn passkeys(&self, person: &str) -> StoreResult<Vec<StoredPasskey>> {
        let mut out = self
            .partition(person_pk(person), Some(PASSKEY_PREFIX))
            .await?
            .into_iter()
            .map(|item| from_item::<PasskeyItem>(item)?.into_passkey())
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn passkey_used(
        &self,
        person: &str,
        id: &str,
        credential: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(person_pk(person)))
            .key("sk", s(format!("{PASSKEY_PREFIX}{id}")))
            .update_expression("SET credential = :c, used_ms = :at")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":c", s(credential))
            .expression_attribute_values(
                ":at",
                AttributeValue::N(at.timestamp_millis().to_string()),
            )
            .send()
            .await
            .map_err(|e| self.err("UpdateItem", e));
        match updated {
            Ok(_) => Ok(true),
            Err(e) if conditional_failed(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn remove_passkey(&self, person: &str, id: &str) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(person_pk(person)))
            .key("sk", s(format!("{PASSKEY_PREFIX}{id}")))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.err("DeleteItem", e))?;
        Ok(out.attributes.is_some_and(|a| !a.is_empty()))
    }

    async fn put_nonce(&self, n: &PasskeyNonce) -> StoreResult<()> {
        let expires_ms = n.expires_at.timestamp_millis();
        let item = to_item(NonceItem {
            pk: nonce_pk(&n.nonce),
            sk: NONCE_SK.into(),
            nonce: n.nonce.clone(),
            person: n.person.clone(),
            purpose: n.purpose.clone(),
            state: n.state.clone(),
            expires_ms,
            ttl: expires_ms.div_euclid(1000) + 1,
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| self.err("PutItem", e))?;
        Ok(())
    }

    async fn take_nonce(
        &self,
        nonce: &str,
        person: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PasskeyNonce>> {
        // One delete: of two takers at once, only one gets the old item back.
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(nonce_pk(nonce)))
            .key("sk", s(NONCE_SK))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| self.err("DeleteItem", e))?;
        let taken = match out.attributes {
            Some(item) if !item.is_empty() => {
                let n: NonceItem = from_item(item)?;
                Some(PasskeyNonce {
                    nonce: n.nonce,
                    person: n.person,
                    purpose: n.purpose,
                    state: n.state,
                    expires_at: time(n.expires_ms)?,
                })
            }
            _ => None,
        };
        Ok(usable(taken, person, now))
    }
}
