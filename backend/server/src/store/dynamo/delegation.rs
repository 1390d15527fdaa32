//! Delegations: the item `DELEGATION#<delegator>` / `DELEGATION`, and a pointer item
//! `DELEGATE#<delegate>` / `<delegator>` with the same attributes, so a delegate's
//! delegations are one `Query`. Both are written in one transaction, conditioned on the
//! delegation item's `version` as read: of two changes at once, one wins and the other
//! reads again. Nothing is deleted (the api's role may not `DeleteItem`): ending a
//! delegation, or leaving an old delegate's pointer behind when it is replaced, writes the
//! item `ended`, which reads as none. Every item expires (TTL) when its delegation ends.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::items::{Item, from_item, from_ms, num, to_item};
use super::{DynamoStore, build_err};
use crate::domain::{Delegation, Email};
use crate::store::{StoreError, StoreResult};

const DELEGATION_SK: &str = "DELEGATION";

fn delegation_pk(delegator: &str) -> String {
    format!("DELEGATION#{delegator}")
}

fn delegate_pk(delegate: &str) -> String {
    format!("DELEGATE#{delegate}")
}

/// The delegation item and its pointer: the same attributes under two keys.
#[derive(Clone, Serialize, Deserialize)]
struct DelegationItem {
    pk: String,
    sk: String,
    delegator: String,
    delegate: String,
    groups: Vec<String>,
    from_ms: i64,
    until_ms: i64,
    created_ms: i64,
    /// Bumped by every change of the delegation item: the condition of the next one.
    version: i64,
    /// Ended (by its delegator, or replaced for this delegate): reads as none.
    #[serde(default)]
    ended: bool,
    ttl: i64,
}

impl DelegationItem {
    fn new(d: &Delegation, pk: String, sk: String, version: i64) -> Self {
        Self {
            pk,
            sk,
            delegator: d.delegator.clone(),
            delegate: d.delegate.to_string(),
            groups: d.groups.clone(),
            from_ms: d.from.timestamp_millis(),
            until_ms: d.until.timestamp_millis(),
            created_ms: d.created_at.timestamp_millis(),
            version,
            ended: false,
            ttl: d.until.timestamp_millis().div_euclid(1000) + 1,
        }
    }

    /// The same item, ended now: it reads as none and expires a day later.
    fn ended(mut self, version: i64) -> Self {
        self.ended = true;
        self.version = version;
        self.ttl = Utc::now().timestamp() + 86_400;
        self
    }

    fn into_delegation(self) -> StoreResult<Delegation> {
        Ok(Delegation {
            delegate: Email::parse(&self.delegate)
                .map_err(|e| StoreError::backend(format!("stored delegate: {e}")))?,
            delegator: self.delegator,
            groups: self.groups,
            from: from_ms(self.from_ms),
            until: from_ms(self.until_ms),
            created_at: from_ms(self.created_ms),
        })
    }
}

/// How often a change that lost a race reads again before giving up.
const TRIES: usize = 5;

impl DynamoStore {
    /// The delegation item of `delegator`, ended or not.
    async fn read_item(&self, delegator: &str) -> StoreResult<Option<DelegationItem>> {
        self.get_item(delegation_pk(delegator), DELEGATION_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    /// The delegation of `delegator`, unless none is set or it was ended.
    pub(super) async fn read_delegation(&self, delegator: &str) -> StoreResult<Option<Delegation>> {
        match self.read_item(delegator).await? {
            Some(item) if !item.ended => Ok(Some(item.into_delegation()?)),
            _ => Ok(None),
        }
    }

    /// The condition that the delegation item is as read: absent, or at `version`.
    fn as_read(read: Option<i64>) -> (String, Option<AttributeValue>) {
        match read {
            None => ("attribute_not_exists(pk)".into(), None),
            Some(v) => ("#version = :read".into(), Some(num(v))),
        }
    }

    fn put_write(
        &self,
        item: Item,
        condition: Option<(String, Option<AttributeValue>)>,
    ) -> StoreResult<TransactWriteItem> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some((cond, value)) = condition {
            put = put.condition_expression(cond);
            if let Some(v) = value {
                put = put
                    .expression_attribute_names("#version", "version")
                    .expression_attribute_values(":read", v);
            }
        }
        Ok(TransactWriteItem::builder()
            .put(put.build().map_err(build_err)?)
            .build())
    }

    /// See [`crate::store::Store::put_delegation`].
    pub(super) async fn write_delegation(&self, d: &Delegation) -> StoreResult<()> {
        for _ in 0..TRIES {
            let old = self.read_item(&d.delegator).await?;
            let read = old.as_ref().map(|o| o.version);
            let version = read.map_or(1, |v| v + 1);
            let mut items = vec![
                self.put_write(
                    to_item(DelegationItem::new(
                        d,
                        delegation_pk(&d.delegator),
                        DELEGATION_SK.into(),
                        version,
                    ))?,
                    Some(Self::as_read(read)),
                )?,
                self.put_write(
                    to_item(DelegationItem::new(
                        d,
                        delegate_pk(d.delegate.as_str()),
                        d.delegator.clone(),
                        version,
                    ))?,
                    None,
                )?,
            ];
            // The old delegate's pointer, when it is another person's, ends.
            if let Some(old) = old
                && !old.ended
                && old.delegate != d.delegate.as_str()
            {
                let pk = delegate_pk(&old.delegate);
                let sk = d.delegator.clone();
                items.push(self.put_write(
                    to_item(DelegationItem {
                        pk,
                        sk,
                        ..old.ended(version)
                    })?,
                    None,
                )?);
            }
            if self.transact(items).await?.is_ok() {
                return Ok(());
            }
        }
        Err(StoreError::Conflict(format!(
            "the delegation of {} kept changing while it was written",
            d.delegator
        )))
    }

    /// See [`crate::store::Store::delete_delegation`].
    pub(super) async fn remove_delegation(&self, delegator: &str) -> StoreResult<bool> {
        for _ in 0..TRIES {
            let Some(old) = self.read_item(delegator).await? else {
                return Ok(false);
            };
            if old.ended {
                return Ok(false);
            }
            let read = old.version;
            let pointer = DelegationItem {
                pk: delegate_pk(&old.delegate),
                sk: delegator.to_string(),
                ..old.clone()
            };
            let items = vec![
                self.put_write(
                    to_item(old.ended(read + 1))?,
                    Some(Self::as_read(Some(read))),
                )?,
                self.put_write(to_item(pointer.ended(read + 1))?, None)?,
            ];
            if self.transact(items).await?.is_ok() {
                return Ok(true);
            }
        }
        Err(StoreError::Conflict(format!(
            "the delegation of {delegator} kept changing while it was ended"
        )))
    }

    /// See [`crate::store::Store::delegations_to`].
    pub(super) async fn query_delegations_to(
        &self,
        delegate: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Delegation>> {
        let mut out = Vec::new();
        for item in self.partition(delegate_pk(delegate), None).await? {
            let item: DelegationItem = from_item(item)?;
            if item.ended {
                continue;
            }
            let d = item.into_delegation()?;
            // TTL deletes late: a delegation past its end may still be there.
            if d.until > now {
                out.push(d);
            }
        }
        Ok(out)
    }
}
