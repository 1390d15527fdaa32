//! Delegations (table `delegations`): one per delegator, found by their delegate.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::rows::{from_ms, ms};
use crate::domain::{Delegation, Email};
use crate::store::{StoreError, StoreResult};

const COLUMNS: &str = "delegator, delegate, groups, from_ms, until_ms, created_ms";

type Raw = (String, String, String, i64, i64, i64);

fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn parse((delegator, delegate, groups, from, until, created): Raw) -> StoreResult<Delegation> {
    Ok(Delegation {
        delegator,
        groups: serde_json::from_str(&groups)?,
        delegate: Email::parse(&delegate)
            .map_err(|e| StoreError::backend(format!("stored delegate: {e}")))?,
        from: from_ms(from),
        until: from_ms(until),
        created_at: from_ms(created),
    })
}

/// See [`crate::store::Store::put_delegation`].
pub(super) fn put(conn: &mut Connection, d: &Delegation) -> StoreResult<()> {
    conn.execute(
        &format!("INSERT OR REPLACE INTO delegations ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            d.delegator,
            d.delegate.as_str(),
            serde_json::to_string(&d.groups)?,
            ms(d.from),
            ms(d.until),
            ms(d.created_at),
        ],
    )?;
    Ok(())
}

/// See [`crate::store::Store::delegation_of`].
pub(super) fn of(conn: &Connection, delegator: &str) -> StoreResult<Option<Delegation>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM delegations WHERE delegator = ?1"
    ))?
    .query_row([delegator], read)
    .optional()?
    .map(parse)
    .transpose()
}

/// See [`crate::store::Store::delete_delegation`].
pub(super) fn delete(conn: &mut Connection, delegator: &str) -> StoreResult<bool> {
    Ok(conn.execute("DELETE FROM delegations WHERE delegator = ?1", [delegator])? > 0)
}

/// See [`crate::store::Store::delegations_to`].
pub(super) fn to(
    conn: &Connection,
    delegate: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Delegation>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM delegations WHERE delegate = ?1 AND until_ms > ?2 \
         ORDER BY delegator"
    ))?;
    let raw = stmt
        .query_map(params![delegate, ms(now)], read)?
        .collect::<Result<Vec<_>, _>>()?;
    raw.into_iter().map(parse).collect()
}
