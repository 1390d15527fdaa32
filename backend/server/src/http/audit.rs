//! The audit trail: the signed record of one decision, and the export of everything that
//! was decided or closed in a period (for members of the auditor group).

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use hanko_api::{AuditEntry, AuditExport, AuditVote, DecisionRecord, ErrorBody, SignedDecision};
use std::collections::HashMap;

use super::AppState;
use super::error::ApiError;
use crate::domain::Caller;
use crate::store::StoredRequest;

/// Most requests one export holds; a longer period must be asked for in parts.
pub const MAX_AUDIT_ROWS: usize = 10_000;
/// Longest period one export covers.
pub const MAX_AUDIT_DAYS: i64 = 366;
/// The period when none is given.
pub const DEFAULT_AUDIT_DAYS: i64 = 30;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/approvals/{id}/decision", get(signed_decision))
        .route("/audit", get(export))
}

fn bad(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code,
        message: message.into(),
    }
}

/// The header and claims of a compact JWS this server made, without verifying it.
fn open_jws(jws: &str) -> Option<(String, DecisionRecord)> {
    let mut parts = jws.split('.');
    let (h, p) = (parts.next()?, parts.next()?);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    let kid = header.get("kid")?.as_str()?.to_string();
    let record = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()?;
    Some((kid, record))
}

/// The signed decision record of a decided request, for those who may see the request: its
/// approvers, its requester and auditors.
#[utoipa::path(get, path = "/api/approvals/{id}/decision", tag = "audit", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "the request's id")),
    responses(
        (status = 200, description = "the decision's JWS, its key id and its claims", body = SignedDecision),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 404, description = "`not_found`: no request has this id, or none the caller may see; `not_decided`: nothing was signed yet", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn signed_decision(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<SignedDecision>, ApiError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::not_found());
    }
    let r = s
        .hanko
        .store
        .get(&id)
        .await?
        .filter(|r| super::approvals::may_see(&s, &caller, r))
        .ok_or_else(ApiError::not_found)?;
    let d = r.decision.ok_or_else(|| ApiError::NotFound {
        code: "not_decided",
        message: "this request has no decision (yet): nothing was signed".into(),
    })?;
    let (kid, record) = open_jws(&d.signature)
        .ok_or_else(|| ApiError::Internal(format!("stored signature of {id} is not a JWS")))?;
    Ok(Json(SignedDecision {
        request_id: r.id,
        signature: d.signature,
        kid,
        jwks_url: "/.well-known/jwks.json".into(),
        record,
    }))
}

/// `2026-11-01` (midnight UTC) or a full RFC 3339 time.
fn parse_time(name: &str, v: &str) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(bad(
        "invalid_time",
        format!("{name} must be a date (2026-11-01) or an RFC 3339 time (2026-11-01T09:00:00Z)"),
    ))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
}

/// Every request decided or closed in `[from, to)`, with each vote's who, what, when and
/// from where: for members of the auditor group.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(
        ("from" = Option<String>, Query, description = "start (inclusive): a date `2026-11-01` or an RFC 3339 time; default `to` minus 30 days"),
        ("to" = Option<String>, Query, description = "end (exclusive): a date or an RFC 3339 time; default now; at most 366 days after `from`"),
        ("format" = Option<String>, Query, description = "`json` (default) or `csv` (one line per vote, UTF-8 with a BOM)"),
    ),
    responses(
        (status = 200, description = "the export, as an attachment", content(
            (AuditExport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`invalid_time`, `invalid_period`, `period_too_long`, `invalid_format`", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 403, description = "`not_an_auditor`", body = ErrorBody),
        (status = 422, description = "`too_many_results`: more than 10,000 requests ended in the period", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn export(
    State(s): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    if !caller.groups.iter().any(|g| *g == s.policy.auditor_group) {
        return Err(ApiError::Forbidden {
            code: "not_an_auditor",
            message: format!(
                "only members of the group {:?} may export the audit trail",
                s.policy.auditor_group
            ),
        });
    }
    let format = match params.get("format").map(String::as_str) {
        None | Some("json") => Format::Json,
        Some("csv") => Format::Csv,
        Some(_) => return Err(bad("invalid_format", "format must be json or csv")),
    };
    let to = match params.get("to") {
        Some(v) => parse_time("to", v)?,
        None => Utc::now(),
    };
    let from = match params.get("from") {
        Some(v) => parse_time("from", v)?,
        None => to - Duration::days(DEFAULT_AUDIT_DAYS),
    };
    if from >= to {
        return Err(bad("invalid_period", "from must be before to"));
    }
    if to - from > Duration::days(MAX_AUDIT_DAYS) {
        return Err(bad(
            "period_too_long",
            format!("one export covers at most {MAX_AUDIT_DAYS} days; ask for the period in parts"),
        ));
    }
    let rows = s
        .hanko
        .store
        .decided_between(from, to, MAX_AUDIT_ROWS + 1)
        .await?;
    if rows.len() > MAX_AUDIT_ROWS {
        return Err(ApiError::Unprocessable {
            code: "too_many_results",
            message: format!(
                "more than {MAX_AUDIT_ROWS} requests ended in this period; ask for a shorter one"
            ),
        });
    }
    let items: Vec<AuditEntry> = rows.iter().map(entry).collect();
    tracing::info!(
        auditor = %caller.email, %from, %to, items = items.len(),
        "audit trail exported"
    );
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let filename = format!("hanko-audit-{}-{}", stamp(from), stamp(to));
    let mut resp = match format {
        Format::Json => Json(AuditExport { from, to, items }).into_response(),
        Format::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            to_csv(&items),
        )
            .into_response(),
    };
    let ext = if format == Format::Csv { "csv" } else { "json" };
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}.{ext}\"")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn entry(r: &StoredRequest) -> AuditEntry {
    let q = &r.request;
    AuditEntry {
        request_id: r.id.clone(),
        title: q.title.clone(),
        execution_arn: q.execution_arn.clone(),
        state_machine_arn: q.state_machine_arn.clone(),
        requested_by: q.requested_by.clone(),
        sender: q.sender.clone(),
        policy: q.policy.as_ref().map(|p| hanko_api::PolicyRef {
            name: p.policy.name.clone(),
            sha256: p.sha256.clone(),
        }),
        created_at: q.created_at,
        status: r.status,
        ended_at: r
            .closed_at
            .or(r.decision.as_ref().map(|d| d.decided_at))
            .unwrap_or(q.expires_at),
        closed_reason: r.closed_reason.clone(),
        signature: r.decision.as_ref().map(|d| d.signature.clone()),
        votes: r
            .votes
            .iter()
            .map(|b| AuditVote {
                approver: b.voter.clone(),
                subject: b.subject.clone(),
                name: b.name.clone(),
                decision: b.choice,
                comment: b.comment.clone(),
                decided_at: b.decided_at,
                source_ip: b.source_ip.clone(),
                user_agent: b.user_agent.clone(),
            })
            .collect(),
    }
}

pub const CSV_COLUMNS: [&str; 20] = [
    "request_id",
    "title",
    "status",
    "ended_at",
    "closed_reason",
    "requested_by",
    "created_at",
    "execution_arn",
    "state_machine_arn",
    "sender",
    "policy",
    "policy_sha256",
    "approver",
    "subject",
    "name",
    "vote",
    "comment",
    "voted_at",
    "source_ip",
    "user_agent",
];

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One line per vote (a request nobody voted on has one line with empty vote columns).
/// Starts with a byte order mark so that spreadsheet programs read it as UTF-8, which
/// Japanese titles and names need.
pub fn to_csv(items: &[AuditEntry]) -> String {
    let mut out = String::from("\u{feff}");
    push_line(&mut out, CSV_COLUMNS.iter().map(|c| c.to_string()));
    for e in items {
        let request = [
            e.request_id.clone(),
            e.title.clone(),
            e.status.as_str().to_string(),
            time(e.ended_at),
            e.closed_reason.clone().unwrap_or_default(),
            e.requested_by.clone().unwrap_or_default(),
            time(e.created_at),
            e.execution_arn.clone(),
            e.state_machine_arn.clone(),
            e.sender.clone().unwrap_or_default(),
            e.policy
                .as_ref()
                .map(|p| p.name.clone())
                .unwrap_or_default(),
            e.policy
                .as_ref()
                .map(|p| p.sha256.clone())
                .unwrap_or_default(),
        ];
        if e.votes.is_empty() {
            push_line(
                &mut out,
                request
                    .iter()
                    .cloned()
                    .chain(std::iter::repeat_n(String::new(), 8)),
            );
        }
        for v in &e.votes {
            let vote = [
                v.approver.clone(),
                v.subject.clone(),
                v.name.clone(),
                v.decision.as_str().into(),
                v.comment.clone().unwrap_or_default(),
                time(v.decided_at),
                v.source_ip.clone().unwrap_or_default(),
                v.user_agent.clone().unwrap_or_default(),
            ];
            push_line(&mut out, request.iter().cloned().chain(vote));
        }
    }
    out
}

fn push_line(out: &mut String, fields: impl Iterator<Item = String>) {
    let line: Vec<String> = fields.map(|f| csv_field(&f)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// RFC 4180 quoting, and a leading `'` on text a spreadsheet would run as a formula.
fn csv_field(f: &str) -> String {
    let f = if f.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{f}")
    } else {
        f.to_string()
    };
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_field_with_a_comma_quote_or_newline_is_quoted() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn a_csv_field_a_spreadsheet_would_run_as_a_formula_is_defused() {
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("+1"), "'+1");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
    }

    #[test]
    fn a_time_is_a_date_or_an_rfc_3339_time() {
        assert_eq!(
            parse_time("from", "2026-11-01").unwrap().to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_time("from", "2026-11-01T09:00:00+09:00")
                .unwrap()
                .to_rfc3339(),
            "2026-11-01T00:00:00+00:00"
        );
        assert!(parse_time("from", "yesterday").is_err());
        assert!(parse_time("from", "2026-13-01").is_err());
    }
}
