//! The queries of many requests: the pages of the approvals list (whole requests or their
//! summaries), the audit window, and what the sweeper looks for.

use chrono::{DateTime, Utc};
use hanko_api::RequestStatus;
use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params, params_from_iter};

use super::rows::{
    COLUMNS, RawRequest, SUMMARY_COLUMNS, SummaryRow, attach_votes, ms, read_row, read_summary_row,
    take_votes, votes_for,
};
use crate::domain::rules::Ballot;
use crate::domain::{NewRequest, RequestId};
use crate::store::{ListQuery, Page, RequestSummary, StoreResult, Waiting, stored_id};

/// The query of one page of [`crate::store::Store::list`], selecting `columns`.
pub(super) fn list_sql(columns: &str, q: &ListQuery) -> (String, Vec<Sql>) {
    let now = ms(q.now);
    let mut sql = format!("SELECT {columns} FROM requests r WHERE 1 = 1");
    let mut args: Vec<Sql> = Vec::new();
    match q.status {
        None => {}
        Some(RequestStatus::Pending) => {
            sql.push_str(" AND r.status = 'pending' AND r.expires_ms > ?");
            args.push(Sql::Integer(now));
        }
        Some(RequestStatus::Expired) => {
            sql.push_str(
                " AND (r.status = 'expired' OR (r.status = 'pending' AND r.expires_ms <= ?))",
            );
            args.push(Sql::Integer(now));
        }
        Some(other) => {
            sql.push_str(" AND r.status = ?");
            args.push(Sql::Text(other.as_str().into()));
        }
    }
    if let Some(who) = &q.votable_by {
        // A seat of theirs is open: their own, or that of someone they stand in for.
        let seat = |principals: Vec<String>, requesters: usize| {
            let marks = vec!["?"; principals.len()].join(",");
            let not_theirs = vec!["?"; requesters].join(",");
            format!(
                "(r.id IN (SELECT request_id FROM approvers WHERE principal IN ({marks})) \
                 AND NOT EXISTS (SELECT 1 FROM votes v WHERE v.request_id = r.id AND v.seat = ?) \
                 AND (r.allow_self = 1 OR r.requested_by IS NULL \
                 OR r.requested_by NOT IN ({not_theirs})))"
            )
        };
        let mut seats = vec![seat(who.principal_texts(), 1)];
        args.push(Sql::Integer(now));
        args.extend(who.principal_texts().into_iter().map(Sql::Text));
        args.push(Sql::Text(who.email.clone()));
        args.push(Sql::Text(who.email.clone()));
        for d in &who.standing_in_for {
            let principals: Vec<String> = d.principals().iter().map(ToString::to_string).collect();
            seats.push(seat(principals.clone(), 2));
            args.extend(principals.into_iter().map(Sql::Text));
            args.push(Sql::Text(d.delegator.clone()));
            args.push(Sql::Text(d.delegator.clone()));
            args.push(Sql::Text(who.email.clone()));
        }
        sql.push_str(&format!(
            " AND r.status = 'pending' AND r.expires_ms > ? AND ({})",
            seats.join(" OR ")
        ));
    }
    if let Some(who) = &q.visible_to {
        // Their own principals and those of whom they stand in for.
        let principals = who.seen_principal_texts();
        // A correlated lookup per row (the primary key of `approvers` is (principal,
        // request_id)), never the whole set of what the caller approves: a page of
        // someone who sees most requests costs what it did, and hidden requests are
        // skipped in the index without being counted.
        let marks = vec!["?"; principals.len().max(1)].join(",");
        sql.push_str(&format!(
            " AND (r.requested_by = ? OR EXISTS (SELECT 1 FROM approvers a \
              WHERE a.principal IN ({marks}) AND a.request_id = r.id))"
        ));
        args.push(Sql::Text(who.email.clone()));
        if principals.is_empty() {
            args.push(Sql::Null);
        }
        args.extend(principals.into_iter().map(Sql::Text));
    }
    if let Some(after) = &q.after {
        sql.push_str(" AND r.id < ?");
        args.push(Sql::Text(after.to_string()));
    }
    sql.push_str(" ORDER BY r.id DESC LIMIT ?");
    args.push(Sql::Integer(q.limit as i64 + 1));
    (sql, args)
}

/// One page of whole requests, unparsed, and whether more follow.
pub(super) fn page(conn: &Connection, q: &ListQuery) -> StoreResult<(Vec<RawRequest>, bool)> {
    let (sql, args) = list_sql(COLUMNS, q);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query_map(params_from_iter(args), read_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() > q.limit;
    rows.truncate(q.limit);
    drop(stmt);
    Ok((attach_votes(conn, rows)?, more))
}

/// One page of summaries as read, before their fields are checked.
pub(super) struct SummaryPage {
    rows: Vec<SummaryRow>,
    votes: Vec<(String, Ballot)>,
    more: bool,
}

/// One page of summaries, read from the index `requests_page` alone (see
/// [`SUMMARY_COLUMNS`]), with the votes of the requests voted on.
pub(super) fn summary_page(conn: &Connection, q: &ListQuery) -> StoreResult<SummaryPage> {
    let (sql, args) = list_sql(SUMMARY_COLUMNS, q);
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt
        .query_map(params_from_iter(args), read_summary_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let more = rows.len() > q.limit;
    rows.truncate(q.limit);
    drop(stmt);
    // A request nobody has voted on yet (most pending ones) has no votes to look up.
    let ids: Vec<String> = rows
        .iter()
        .filter(|r| r.version > 0)
        .map(|r| r.id.clone())
        .collect();
    let votes = votes_for(conn, &ids)?;
    Ok(SummaryPage { rows, votes, more })
}

/// The summaries of a page: done once the connection is released.
pub(super) fn summaries(page: SummaryPage) -> StoreResult<Page<RequestSummary>> {
    let SummaryPage {
        rows,
        mut votes,
        more,
    } = page;
    let items = rows
        .into_iter()
        .map(|row| {
            let mine = take_votes(&mut votes, &row.id);
            row.into_summary(mine)
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page { items, more })
}

/// Requests decided or closed with `from <= closed_ms < to`, oldest first, unparsed.
pub(super) fn closed_between(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> StoreResult<Vec<RawRequest>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM requests WHERE closed_ms >= ?1 AND closed_ms < ?2 \
         ORDER BY closed_ms, id LIMIT ?3"
    ))?;
    let rows = stmt
        .query_map(
            params![ms(from), ms(to), i64::try_from(limit).unwrap_or(i64::MAX)],
            read_row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    drop(stmt);
    attach_votes(conn, rows)
}

/// Pending requests whose deadline is `now` or earlier.
pub(super) fn overdue(
    conn: &Connection,
    now: DateTime<Utc>,
    limit: usize,
) -> StoreResult<Vec<RequestId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM requests WHERE status = 'pending' AND expires_ms <= ?1 LIMIT ?2",
    )?;
    let ids = stmt
        .query_map(params![ms(now), limit as i64], |r| r.get(0))?
        .collect::<Result<Vec<RequestId>, _>>()?;
    Ok(ids)
}

/// Pending requests after the id `after`, oldest first, with their executions.
pub(super) fn pending_oldest_first(
    conn: &Connection,
    after: Option<&RequestId>,
    limit: usize,
) -> StoreResult<Vec<Waiting>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, body FROM requests WHERE status = 'pending' AND id > ?1 \
         ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(
            params![after.map_or("", RequestId::as_str), limit as i64],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(id, body)| {
            let req: NewRequest = serde_json::from_str(&body)?;
            Ok(Waiting {
                id: stored_id(id)?,
                execution_arn: req.execution_arn,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::{id, token};
    use crate::store::sqlite::{Place, SqliteStore};
    use crate::store::{Person, Store};

    #[tokio::test]
    async fn a_list_statement_is_planned_once_whatever_its_page_size() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hanko.db")).unwrap();
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        store.insert(&id(1), &token("token-1"), &req).await.unwrap();
        let (found, replanned) = store
            .read(
                Place::HereIfFree,
                move |c| {
                    let mut found = 0;
                    let mut replanned = 0;
                    // The page size is a parameter: one statement serves every size.
                    for limit in [50, 10, 200, 50] {
                        let q = ListQuery {
                            status: Some(RequestStatus::Pending),
                            votable_by: None,
                            visible_to: None,
                            limit,
                            after: None,
                            now: req.created_at,
                        };
                        let (sql, args) = list_sql(SUMMARY_COLUMNS, &q);
                        let mut stmt = c.prepare_cached(&sql)?;
                        found += stmt
                            .query_map(params_from_iter(args), read_summary_row)?
                            .count();
                        replanned = stmt.get_status(rusqlite::StatementStatus::RePrepare);
                    }
                    Ok((found, replanned))
                },
                Ok,
            )
            .await
            .unwrap();
        assert_eq!((found, replanned), (4, 0));
    }

    /// What SQLite plans for a page of `q`, one line per step.
    fn plan_of(conn: &Connection, q: &ListQuery) -> Vec<String> {
        let (sql, args) = list_sql(SUMMARY_COLUMNS, q);
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(params_from_iter(args), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[tokio::test]
    async fn a_page_of_a_status_is_read_from_the_index_alone_without_sorting() {
        let store = SqliteStore::in_memory().unwrap();
        let req = crate::domain::intake::sample_request(&["a@x.io"]);
        store.insert(&id(1), &token("token-1"), &req).await.unwrap();
        for (status, after) in [
            (RequestStatus::Pending, None),
            (RequestStatus::Approved, Some(id(9))),
        ] {
            let q = ListQuery {
                status: Some(status),
                votable_by: None,
                visible_to: None,
                limit: 50,
                after,
                now: Utc::now(),
            };
            let range = if q.after.is_some() {
                "status=? AND id<?"
            } else {
                "status=?"
            };
            let plan = store.with(move |c| Ok(plan_of(c, &q))).await.unwrap();
            assert_eq!(
                plan,
                vec![format!(
                    "SEARCH r USING COVERING INDEX requests_page ({range})"
                )],
                "{status:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_page_of_what_one_may_see_looks_up_each_row_s_approvers_by_key() {
        let store = SqliteStore::in_memory().unwrap();
        let q = ListQuery {
            status: Some(RequestStatus::Pending),
            votable_by: None,
            visible_to: Some(Person {
                email: "a@x.io".into(),
                principals: vec!["a@x.io".parse().unwrap(), "group:ops".parse().unwrap()],
                standing_in_for: Vec::new(),
            }),
            limit: 50,
            after: Some(id(9)),
            now: Utc::now(),
        };
        // Never the set of everything the caller approves, which grows with the history.
        let plan = store.with(move |c| Ok(plan_of(c, &q))).await.unwrap();
        assert_eq!(
            plan,
            vec![
                "SEARCH r USING COVERING INDEX requests_page (status=? AND id<?)",
                "CORRELATED SCALAR SUBQUERY 1",
                "SEARCH a USING PRIMARY KEY (principal=? AND request_id=?)",
            ]
        );
    }
}
