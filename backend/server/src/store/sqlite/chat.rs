//! Chat messages posted about a request (table `chat_messages`).

use rusqlite::{Connection, params};

use crate::domain::RequestId;
use crate::store::{ChatMessage, StoreResult};

/// See [`crate::store::Store::add_chat_message`].
pub(super) fn add(conn: &mut Connection, id: &RequestId, m: &ChatMessage) -> StoreResult<()> {
    conn.execute(
        "INSERT OR IGNORE INTO chat_messages (request_id, channel, ts, lang) \
         VALUES (?1, ?2, ?3, ?4)",
        params![id, m.channel, m.ts, m.lang],
    )?;
    Ok(())
}

/// See [`crate::store::Store::chat_messages`].
pub(super) fn list(conn: &Connection, id: &RequestId) -> StoreResult<Vec<ChatMessage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT channel, ts, lang FROM chat_messages WHERE request_id = ?1 ORDER BY channel, ts",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok(ChatMessage {
            channel: r.get(0)?,
            ts: r.get(1)?,
            lang: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
