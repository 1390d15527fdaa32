//! Reminders and escalation: the item `REQ#<id>` / `NUDGE`, in gsi2 `NUDGE` /
//! `<next due ms>#<id>` while a reminder or the escalation is still to come, and the keys
//! of those sent, a list `nudges` on the request item.
//!
//! - `insert` puts the nudge item in its transaction when the request has one due.
//! - `due_nudges`: `Query` gsi2 `NUDGE` with `gsi2sk < now`, like `overdue`.
//! - `claim_nudges`: a transaction: update the request item on `status = pending AND
//!   expires_ms > now AND NOT contains(nudges, key)` for each key, appending the keys
//!   (and, for the escalation, setting the new body and bumping the version), and put the
//!   nudge item at the next due time, or without index keys when none is left. The
//!   escalation's new approver and viewer items are put first (`PutItem` each), as
//!   `insert` puts them: harmless until the body names them.
//! - `drop_nudges`: puts the nudge item without index keys (the sweeper found the request
//!   no longer pending).
//!
//! The sweeper deletes nothing (the table's functions may not, but intake: see the
//! template): a nudge item that is done leaves the index and goes by its TTL.

use std::collections::HashSet;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::DynamoStore;
use super::expr::{Expr, put, update};
use super::items::{
    Item, PointerItem, REQUEST_SK, approver_pk, num, request_pk, s, timed_key, to_item, viewer_pk,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    gsi2pk: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gsi2sk: Option<String>,
    ttl: i64,
}

impl DynamoStore {
    /// The nudge item of a request whose next nudge is due at `due` (before the request's
    /// deadline), or with none to come (out of the index); kept no longer than the
    /// request's records after its time.
    pub(super) fn nudge_item(&self, id: &str, due: Option<DateTime<Utc>>) -> StoreResult<Item> {
        let at = due.unwrap_or_else(Utc::now).timestamp_millis();
        to_item(NudgeItem {
            pk: request_pk(id),
            sk: NUDGE_SK,
            id: id.to_string(),
            gsi2pk: due.map(|_| NUDGES),
            gsi2sk: due.map(|_| timed_key(at, id)),
            ttl: self.ttl_after(at),
        })
    }

    /// The nudge item of `req` as it is inserted, if it has a nudge to come.
    pub(super) fn first_nudge_item(&self, id: &str, req: &NewRequest) -> StoreResult<Option<Item>> {
        nudge::next_due(req, &[])
            .map(|due| self.nudge_item(id, Some(due)))
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
        let next = put(&self.table, self.nudge_item(id, c.next_due)?, None)?;
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
        for p in escalation.added.iter().map(ToString::to_string) {
            if !seen.insert(p.clone()) {
                continue;
            }
            let pointers = [
                (approver_pk(&p), expires_ms.div_euclid(1000) + 1),
                (viewer_pk(&p), self.ttl_after(expires_ms)),
            ];
            for (pk, ttl) in pointers {
                let item = to_item(PointerItem {
                    pk,
                    sk: id.to_string(),
                    id: id.to_string(),
                    ttl,
                })?;
                self.put_item(item).await?;
            }
        }
        Ok(())
    }

    pub(super) async fn unschedule_nudges(&self, id: &RequestId) -> StoreResult<()> {
        self.put_item(self.nudge_item(id.as_str(), None)?).await
    }
}
