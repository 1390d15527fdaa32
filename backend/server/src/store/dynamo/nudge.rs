//! Reminders and escalation: the item `REQ#<id>` / `NUDGE`, in gsi2 `NUDGE` /
//! `<next due ms>#<id>` while a reminder or the escalation is still to come, and the keys
//! of those sent, a list `nudges` on the request item.
//!
//! - `insert` puts the nudge item in its transaction when the request has one due.
//! - `due_nudges`: `Query` gsi2 `NUDGE` with `gsi2sk < now`, like `overdue`.
//! - `claim_nudges`: a transaction: update the request item on `status = pending AND
//!   expires_ms > now AND NOT contains(nudges, key)` for each key, appending the keys
//!   (and, for the escalation, setting the new body and bumping the version), and put the
//!   nudge item at the next due time, or delete it when none is left. The escalation's
//!   new approver and viewer items are put first, as `insert` puts them: harmless until
//!   the body names them.
//! - `drop_nudges`: `DeleteItem` of the nudge item (the sweeper found the request no
//!   longer pending).

use std::collections::HashSet;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::DynamoStore;
use super::expr::{Expr, put, update};
use super::items::{
    Item, PointerItem, REQUEST_SK, approver_pk, key, num, request_pk, s, timed_key, to_item,
    viewer_pk,
};
use crate::domain::nudge;
use crate::domain::{NewRequest, RequestId};
use crate::store::{NudgeClaim, StoreResult};

const NUDGE_SK: &str = "NUDGE";
/// The gsi2 partition of requests with a reminder or escalation to come, by due time.
const NUDGES: &str = "NUDGE";

#[derive(Serialize)]
struct NudgeItem {
    pk: String,
    sk: &'static str,
    id: String,
    gsi2pk: &'static str,
    gsi2sk: String,
    ttl: i64,
}

impl DynamoStore {
    /// The nudge item of a request whose next nudge is due at `due` (before the request's
    /// deadline); kept no longer than the request's records after it.
    pub(super) fn nudge_item(&self, id: &str, due: DateTime<Utc>) -> StoreResult<Item> {
        to_item(NudgeItem {
            pk: request_pk(id),
            sk: NUDGE_SK,
            id: id.to_string(),
            gsi2pk: NUDGES,
            gsi2sk: timed_key(due.timestamp_millis(), id),
            ttl: self.ttl_after(due.timestamp_millis()),
        })
    }

    /// The nudge item of `req` as it is inserted, if it has a nudge to come.
    pub(super) fn first_nudge_item(&self, id: &str, req: &NewRequest) -> StoreResult<Option<Item>> {
        nudge::next_due(req, &[])
            .map(|due| self.nudge_item(id, due))
            .transpose()
    }

    pub(super) async fn due_nudge_ids(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> StoreResult<Vec<RequestId>> {
        self.sweep_query(NUDGES, now, limit).await
    }

    pub(super) async fn sent_nudge_keys(&self, id: &RequestId) -> StoreResult<Vec<String>> {
        let item = self.get_item(request_pk(id.as_str()), REQUEST_SK).await?;
        let keys = item
            .and_then(|mut i| i.remove("nudges"))
            .and_then(|v| v.as_l().ok().cloned())
            .unwrap_or_default();
        Ok(keys
            .into_iter()
            .filter_map(|v| v.as_s().ok().cloned())
            .collect())
    }

    pub(super) async fn claim_nudge_keys(&self, c: NudgeClaim<'_>) -> StoreResult<bool> {
        let id = c.id.as_str();
        let mut e = Expr::default();
        let nudges = e.name("nudges");
        let (status, expires) = (e.name("status"), e.name("expires_ms"));
        let pending = e.value(s("pending"));
        let now = e.value(num(c.now.timestamp_millis()));
        let mut condition = format!("{status} = {pending} AND {expires} > {now}");
        for k in c.keys {
            let k = e.value(s(k.clone()));
            condition.push_str(&format!(" AND NOT contains({nudges}, {k})"));
        }
        let keys = e.value(AttributeValue::L(
            c.keys.iter().map(|k| s(k.clone())).collect(),
        ));
        let empty = e.value(AttributeValue::L(Vec::new()));
        e.set_raw(format!(
            "{nudges} = list_append(if_not_exists({nudges}, {empty}), {keys})"
        ));
        if let Some(req) = c.escalated {
            e.set("body", s(serde_json::to_string(req)?));
            e.increment("version");
            self.put_escalation_pointers(id, req).await?;
        }
        let next = match c.next_due {
            Some(due) => put(&self.table, self.nudge_item(id, due)?, None)?,
            None => TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.table)
                        .set_key(Some(key(request_pk(id), NUDGE_SK)))
                        .build()
                        .map_err(super::build_err)?,
                )
                .build(),
        };
        let written = self
            .transact(vec![
                update(e.into_update(&self.table, id, condition)?),
                next,
            ])
            .await?;
        Ok(written.is_ok())
    }

    /// The approver and viewer items of the principals an escalation adds.
    async fn put_escalation_pointers(&self, id: &str, req: &NewRequest) -> StoreResult<()> {
        let Some(escalation) = &req.escalation else {
            return Ok(());
        };
        let expires_ms = req.expires_at.timestamp_millis();
        let mut seen = HashSet::new();
        let mut pointers = Vec::new();
        for p in escalation.added.iter().map(ToString::to_string) {
            if !seen.insert(p.clone()) {
                continue;
            }
            pointers.push(to_item(PointerItem {
                pk: approver_pk(&p),
                sk: id.to_string(),
                id: id.to_string(),
                ttl: expires_ms.div_euclid(1000) + 1,
            })?);
            pointers.push(to_item(PointerItem {
                pk: viewer_pk(&p),
                sk: id.to_string(),
                id: id.to_string(),
                ttl: self.ttl_after(expires_ms),
            })?);
        }
        self.batch_put(pointers).await
    }

    pub(super) async fn delete_nudge_item(&self, id: &RequestId) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(request_pk(id.as_str()), NUDGE_SK)))
            .send()
            .await
            .map_err(|e| self.err("DeleteItem", e))?;
        Ok(())
    }
}
