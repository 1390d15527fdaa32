//! Chat messages posted about a request: items `REQ#<id>` / `CHAT#<channel>#<ts>` beside
//! the request item.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::items::{from_item, request_pk, s, to_item};
use crate::domain::intake::MAX_TIMEOUT_SECONDS;
use crate::store::{ChatMessage, StoreResult};

const CHAT_PREFIX: &str = "CHAT#";

#[derive(Serialize, Deserialize)]
struct ChatItem {
    pk: String,
    sk: String,
    channel: String,
    ts: String,
    lang: String,
    ttl: i64,
}

impl DynamoStore {
    /// See [`crate::store::Store::add_chat_message`]. Kept as long as a vote is: past the
    /// longest deadline, then the retention period.
    pub(super) async fn put_chat_message(&self, id: &str, m: &ChatMessage) -> StoreResult<()> {
        let now_ms = Utc::now().timestamp_millis();
        let item = to_item(ChatItem {
            pk: request_pk(id),
            sk: format!("{CHAT_PREFIX}{}#{}", m.channel, m.ts),
            channel: m.channel.clone(),
            ts: m.ts.clone(),
            lang: m.lang.clone(),
            ttl: self.ttl_after(now_ms + MAX_TIMEOUT_SECONDS * 1000),
        })?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| self.err("PutItem", e))?;
        Ok(())
    }

    /// See [`crate::store::Store::chat_messages`].
    pub(super) async fn query_chat_messages(&self, id: &str) -> StoreResult<Vec<ChatMessage>> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .consistent_read(true)
                .key_condition_expression("pk = :pk AND begins_with(sk, :chat)")
                .expression_attribute_values(":pk", s(request_pk(id)))
                .expression_attribute_values(":chat", AttributeValue::S(CHAT_PREFIX.into()))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.err("Query", e))?;
            for item in page.items.unwrap_or_default() {
                let item: ChatItem = from_item(item)?;
                out.push(ChatMessage {
                    channel: item.channel,
                    ts: item.ts,
                    lang: item.lang,
                });
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }
}
