//! Rows to the store's types: a request's columns, its votes, the summary fields of a page,
//! and the wire words (status, outcome, delivery, vote) as SQLite reads and writes them.

use chrono::{DateTime, TimeZone, Utc};
use hanko_api::{Delivery, Outcome, RequestStatus, VoteChoice};
use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, params_from_iter};

use crate::domain::rules::Ballot;
use crate::domain::{Email, NewRequest, Principal, RequestId};
use crate::store::{
    RequestSummary, StoreError, StoreResult, StoredDecision, StoredRequest, stored_id,
};

pub(super) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(super) fn from_ms(v: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(v).single().unwrap_or_default()
}

fn bad(what: &str, v: &str) -> StoreError {
    StoreError::backend(format!("unexpected {what} {v:?} in the database"))
}

/// An api enum stored as its wire word (`pending`, `approve`, `task_gone`, ...).
pub(super) trait WireWord: Copy + 'static {
    /// What the column holds, for the error about a word it should not.
    const WHAT: &'static str;
    fn as_str(self) -> &'static str;
    fn parse(s: &str) -> Option<Self>;
}

macro_rules! wire_words {
    ($($t:ty => $what:literal),* $(,)?) => {$(
        impl WireWord for $t {
            const WHAT: &'static str = $what;
            fn as_str(self) -> &'static str {
                <$t>::as_str(self)
            }
            fn parse(s: &str) -> Option<Self> {
                <$t>::parse(s)
            }
        }
    )*};
}

wire_words!(
    RequestStatus => "status",
    Outcome => "outcome",
    Delivery => "delivery",
    VoteChoice => "vote",
);

/// A wire word as a parameter or a column (rusqlite's traits and the api's enums are both
/// foreign, hence the wrapper).
pub(super) struct Word<T>(pub T);

impl<T: WireWord> Word<T> {
    /// The word in column `i` of `r`.
    pub(super) fn at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<T> {
        Ok(r.get::<_, Self>(i)?.0)
    }

    /// The word in column `i` of `r`, if it is not `NULL`.
    pub(super) fn maybe_at(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<T>> {
        Ok(r.get::<_, Option<Self>>(i)?.map(|w| w.0))
    }
}

impl<T: WireWord> ToSql for Word<T> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.0.as_str().into())
    }
}

impl<T: WireWord> FromSql for Word<T> {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let word = value.as_str()?;
        T::parse(word).map(Word).ok_or_else(|| {
            FromSqlError::Other(Box::new(UnknownWord {
                what: T::WHAT,
                word: word.to_string(),
            }))
        })
    }
}

/// Ids, emails and approvers are stored as their text.
impl ToSql for RequestId {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl ToSql for Email {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl ToSql for Principal {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.to_string().into())
    }
}

/// Read back, the text is parsed again: what does not parse is not what Hanko wrote.
impl FromSql for Email {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        Email::parse(value.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

impl FromSql for RequestId {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        RequestId::parse(value.as_str()?).map_err(|e| FromSqlError::Other(Box::new(e)))
    }
}

/// A column holds a word that its enum does not have.
#[derive(Debug, thiserror::Error)]
#[error("unexpected {what} {word:?} in the database")]
struct UnknownWord {
    what: &'static str,
    word: String,
}

/// The columns of [`Row`], in its order.
pub(super) const COLUMNS: &str = "id, status, body, version, outcome, decided_ms, signature, \
                                  delivery, delivery_attempts, last_error, closed_reason, \
                                  closed_ms";

/// A row of [`COLUMNS`], before its votes are attached and its body parsed.
pub(super) struct Row {
    pub(super) id: String,
    status: RequestStatus,
    body: String,
    version: i64,
    outcome: Option<Outcome>,
    decided_ms: Option<i64>,
    signature: Option<String>,
    delivery: Option<Delivery>,
    delivery_attempts: i64,
    last_error: Option<String>,
    closed_reason: Option<String>,
    closed_ms: Option<i64>,
}

pub(super) fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok(Row {
        id: r.get(0)?,
        status: Word::at(r, 1)?,
        body: r.get(2)?,
        version: r.get(3)?,
        outcome: Word::maybe_at(r, 4)?,
        decided_ms: r.get(5)?,
        signature: r.get(6)?,
        delivery: Word::maybe_at(r, 7)?,
        delivery_attempts: r.get(8)?,
        last_error: r.get(9)?,
        closed_reason: r.get(10)?,
        closed_ms: r.get(11)?,
    })
}

impl Row {
    fn into_request(self, votes: Vec<Ballot>) -> StoreResult<StoredRequest> {
        let request: NewRequest = serde_json::from_str(&self.body)?;
        let decision = match (self.outcome, self.decided_ms, self.signature) {
            (Some(outcome), Some(at), Some(signature)) => Some(StoredDecision {
                outcome,
                decided_at: from_ms(at),
                signature,
            }),
            _ => None,
        };
        Ok(StoredRequest {
            id: stored_id(self.id)?,
            request,
            status: self.status,
            version: self.version,
            votes,
            decision,
            delivery: self.delivery,
            delivery_attempts: self.delivery_attempts.max(0) as u32,
            last_delivery_error: self.last_error,
            closed_reason: self.closed_reason,
            closed_at: self.closed_ms.map(from_ms),
        })
    }
}

/// The votes on the requests `ids`, each with its request's id, oldest first.
pub(super) fn votes_for(conn: &Connection, ids: &[String]) -> StoreResult<Vec<(String, Ballot)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(",");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT request_id, voter, subject, name, choice, comment, decided_ms, source_ip, \
         user_agent, on_behalf_of, passkey FROM votes WHERE request_id IN ({marks}) \
         ORDER BY decided_ms, voter"
    ))?;
    let rows = stmt.query_map(params_from_iter(ids.iter()), |r| {
        let ballot = Ballot {
            voter: r.get(1)?,
            subject: r.get(2)?,
            name: r.get(3)?,
            choice: Word::at(r, 4)?,
            comment: r.get(5)?,
            decided_at: from_ms(r.get(6)?),
            source_ip: r.get(7)?,
            user_agent: r.get(8)?,
            on_behalf_of: r.get(9)?,
            passkey: r
                .get::<_, Option<String>>(10)?
                .map(|j| serde_json::from_str(&j))
                .transpose()
                .map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        10,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?,
        };
        Ok((r.get(0)?, ballot))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Takes the votes of request `id` out of `votes`.
pub(super) fn take_votes(votes: &mut Vec<(String, Ballot)>, id: &str) -> Vec<Ballot> {
    votes
        .extract_if(.., |(rid, _)| *rid == id)
        .map(|(_, b)| b)
        .collect()
}

/// Rows with their votes, still unparsed (see [`parse_all`]).
pub(super) type RawRequest = (Row, Vec<Ballot>);

pub(super) fn attach_votes(conn: &Connection, rows: Vec<Row>) -> StoreResult<Vec<RawRequest>> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut votes = votes_for(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let mine = take_votes(&mut votes, &row.id);
            (row, mine)
        })
        .collect())
}

/// Parses the body of one request: done once the connection is released.
pub(super) fn parse(raw: RawRequest) -> StoreResult<StoredRequest> {
    let (row, votes) = raw;
    row.into_request(votes)
}

/// Parses the bodies: done once the connection is released.
pub(super) fn parse_all(raw: Vec<RawRequest>) -> StoreResult<Vec<StoredRequest>> {
    raw.into_iter().map(parse).collect()
}

/// The request `id` with its votes.
pub(super) fn get_one(conn: &Connection, id: &RequestId) -> StoreResult<Option<RawRequest>> {
    let row = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM requests WHERE id = ?1"))?
        .query_row([id], read_row)
        .optional()?;
    match row {
        None => Ok(None),
        Some(row) => Ok(attach_votes(conn, vec![row])?.pop()),
    }
}

/// The summary fields: all of them are in the index `requests_page`, so that a page of a
/// status is read from that index without visiting the rows.
pub(super) const SUMMARY_COLUMNS: &str = "id, status, requested_by, outcome, decided_ms, \
    title, state_machine_name, execution_name, created_at, expires_at, required_approvals, \
    version";

pub(super) struct SummaryRow {
    pub(super) id: String,
    status: RequestStatus,
    requested_by: Option<Email>,
    outcome: Option<Outcome>,
    decided_ms: Option<i64>,
    title: Option<String>,
    state_machine_name: Option<String>,
    execution_name: Option<String>,
    created_at: Option<String>,
    expires_at: Option<String>,
    required_approvals: Option<i64>,
    /// Counts the changes since intake: 0 means no vote yet.
    pub(super) version: i64,
}

pub(super) fn read_summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SummaryRow> {
    Ok(SummaryRow {
        id: r.get(0)?,
        status: Word::at(r, 1)?,
        requested_by: r.get(2)?,
        outcome: Word::maybe_at(r, 3)?,
        decided_ms: r.get(4)?,
        title: r.get(5)?,
        state_machine_name: r.get(6)?,
        execution_name: r.get(7)?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        required_approvals: r.get(10)?,
        version: r.get(11)?,
    })
}

impl SummaryRow {
    pub(super) fn into_summary(self, votes: Vec<Ballot>) -> StoreResult<RequestSummary> {
        let text = |v: Option<String>, what: &str| v.ok_or_else(|| bad(what, "missing"));
        let time = |v: Option<String>, what: &str| {
            let v = text(v, what)?;
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| bad(what, &v))
        };
        let decision = match (self.outcome, self.decided_ms) {
            (Some(outcome), Some(at)) => Some((outcome, from_ms(at))),
            _ => None,
        };
        let required = self.required_approvals.unwrap_or(-1);
        Ok(RequestSummary {
            title: text(self.title, "title")?,
            state_machine_name: text(self.state_machine_name, "stateMachineName")?,
            execution_name: text(self.execution_name, "executionName")?,
            created_at: time(self.created_at, "createdAt")?,
            expires_at: time(self.expires_at, "expiresAt")?,
            required_approvals: u32::try_from(required)
                .map_err(|_| bad("requiredApprovals", &required.to_string()))?,
            id: stored_id(self.id)?,
            requested_by: self.requested_by,
            status: self.status,
            votes,
            decision,
        })
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;

    #[test]
    fn every_wire_word_is_written_as_the_api_spells_it_and_read_back() {
        fn round_trip<T: WireWord + PartialEq + std::fmt::Debug>(all: &[T]) {
            let conn = Connection::open_in_memory().unwrap();
            for &v in all {
                let (text, back): (String, Word<T>) = conn
                    .query_row("SELECT ?1, ?1", params![Word(v)], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })
                    .unwrap();
                assert_eq!((text.as_str(), back.0), (v.as_str(), v));
            }
        }
        round_trip(&RequestStatus::ALL);
        round_trip(&Outcome::ALL);
        round_trip(&Delivery::ALL);
        round_trip(&VoteChoice::ALL);
    }

    #[test]
    fn a_word_its_enum_does_not_have_is_an_error_that_names_it() {
        let conn = Connection::open_in_memory().unwrap();
        let read = conn.query_row("SELECT 'maybe'", [], |r| Word::<Outcome>::at(r, 0));
        let e = StoreError::from(read.unwrap_err());
        let text = e.to_string();
        assert!(
            text.contains(r#"unexpected outcome "maybe" in the database"#),
            "{text}"
        );
        // The database's own error stays behind it, for whoever logs the chain.
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.is::<rusqlite::Error>(), "{source:?}");
    }
}
