//! Chat messages posted about a request: items `REQ#<id>` / `CHAT#<channel>#<ts>` beside
//! the request item.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::DynamoStore;
use super::items::{from_item, request_pk, to_item};
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
        self.put_item(item).await
    }

    /// See [`crate::store::Store::chat_messages`].
    pub(super) async fn query_chat_messages(&self, id: &str) -> StoreResult<Vec<ChatMessage>> {
        self.partition(request_pk(id), Some(CHAT_PREFIX))
            .await?
            .into_iter()
            .map(|item| {
                let item: ChatItem = from_item(item)?;
                Ok(ChatMessage {
                    channel: item.channel,
                    ts: item.ts,
                    lang: item.lang,
                })
            })
            .collect()
    }
}
