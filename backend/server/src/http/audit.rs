//! The audit trail: the signed record of one decision, and the export of everything that
//! was decided or closed in a period (for members of the auditor group).

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, NaiveDate, SecondsFormat, Utc};
use hanko_api::{AuditEntry, AuditExport, AuditVote, DecisionRecord, ErrorBody, SignedDecision};
use serde::Deserialize;
use std::borrow::Cow;
use utoipa::IntoParams;

use super::AppState;
use super::error::ApiError;
use super::extract::AppQuery;
use crate::domain::{AppliedPolicy, Caller};
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
    let id = super::approvals::request_id(&id)?;
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
        request_id: r.id.to_string(),
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

/// The query string of the export. The values are read as text and checked by the methods
/// below, so that a wrong one is answered with its own code (`invalid_time`, ...).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportParams {
    /// start (inclusive): a date `2026-11-01` or an RFC 3339 time; default `to` minus 30 days
    from: Option<String>,
    /// end (exclusive): a date or an RFC 3339 time; default now; at most 366 days after `from`
    to: Option<String>,
    /// `json` (default) or `csv` (one line per vote, UTF-8 with a BOM)
    format: Option<String>,
}

impl ExportParams {
    fn format(&self) -> Result<Format, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(_) => Err(bad("invalid_format", "format must be json or csv")),
        }
    }

    /// `[from, to)`, defaults filled in, checked.
    fn period(&self) -> Result<(DateTime<Utc>, DateTime<Utc>), ApiError> {
        let to = match &self.to {
            Some(v) => parse_time("to", v)?,
            None => Utc::now(),
        };
        let from = match &self.from {
            Some(v) => parse_time("from", v)?,
            None => to - Duration::days(DEFAULT_AUDIT_DAYS),
        };
        if from >= to {
            return Err(bad("invalid_period", "from must be before to"));
        }
        if to - from > Duration::days(MAX_AUDIT_DAYS) {
            return Err(bad(
                "period_too_long",
                format!(
                    "one export covers at most {MAX_AUDIT_DAYS} days; ask for the period in parts"
                ),
            ));
        }
        Ok((from, to))
    }
}

/// Every request decided or closed in `[from, to)`, with each vote's who, what, when and
/// from where: for members of the auditor group.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(ExportParams),
    responses(
        (status = 200, description = "the export, as an attachment", content(
            (AuditExport = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "`invalid_time`, `invalid_period`, `period_too_long`, `invalid_format`; `invalid_query`: a parameter is given twice", body = ErrorBody),
        (status = 401, description = "`unauthorized`: no token, or one not accepted", body = ErrorBody),
        (status = 403, description = "`not_an_auditor`", body = ErrorBody),
        (status = 422, description = "`too_many_results`: more than 10,000 requests ended in the period", body = ErrorBody),
        (status = 500, description = "`internal_error`", body = ErrorBody),
    ))]
pub(crate) async fn export(
    State(s): State<AppState>,
    caller: Caller,
    AppQuery(params): AppQuery<ExportParams>,
) -> Result<Response, ApiError> {
    if !s.policy.is_auditor(&caller) {
        return Err(ApiError::Forbidden {
            code: "not_an_auditor",
            message: format!(
                "only members of the group {:?} may export the audit trail",
                s.policy.auditor_group
            ),
        });
    }
    let format = params.format()?;
    let (from, to) = params.period()?;
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
            to_csv(&items).map_err(|e| ApiError::Internal(format!("the audit CSV: {e}")))?,
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
        request_id: r.id.to_string(),
        title: q.title.clone(),
        execution_arn: q.execution_arn.clone(),
        state_machine_arn: q.state_machine_arn.clone(),
        requested_by: q.requested_by.as_ref().map(ToString::to_string),
        sender: q.sender.clone(),
        policy: q.policy.as_ref().map(AppliedPolicy::reference),
        created_at: q.created_at,
        status: r.status,
        ended_at: r
            .closed_at
            .or(r.decision.as_ref().map(|d| d.decided_at))
            .unwrap_or(q.expires_at),
        closed_reason: r.closed_reason.clone(),
        signature: r.decision.as_ref().map(|d| d.signature.clone()),
        escalation: crate::domain::nudge::info(q),
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
                passkey_credential_id: b.passkey.as_ref().map(|p| p.credential_id.clone()),
                user_verified: b.passkey.as_ref().map(|p| p.user_verified),
                on_behalf_of: b.on_behalf_of.clone(),
            })
            .collect(),
    }
}

pub const CSV_COLUMNS: [&str; 25] = [
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
    "escalated_at",
    "escalated_to",
    "approver",
    "subject",
    "name",
    "vote",
    "comment",
    "voted_at",
    "source_ip",
    "user_agent",
    "passkey_credential_id",
    "user_verified",
    "on_behalf_of",
];

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One line per vote (a request nobody voted on has one line with empty vote columns), each
/// cell [defused](defuse). Starts with a byte order mark so that spreadsheet programs read it
/// as UTF-8, which Japanese titles and names need.
pub fn to_csv(items: &[AuditEntry]) -> csv::Result<Vec<u8>> {
    let mut out = csv_writer("\u{feff}".as_bytes().to_vec());
    out.write_record(CSV_COLUMNS)?;
    for e in items {
        let (ended, created) = (time(e.ended_at), time(e.created_at));
        let policy = e.policy.as_ref();
        // The escalation that happened (one planned but not reached is not history).
        let (escalated_at, escalated_to) = match &e.escalation {
            Some(x) => match x.escalated_at {
                Some(at) => (time(at), x.added.join(" ")),
                None => Default::default(),
            },
            None => Default::default(),
        };
        let request: [&str; 14] = [
            &e.request_id,
            &e.title,
            e.status.as_str(),
            &ended,
            e.closed_reason.as_deref().unwrap_or_default(),
            e.requested_by.as_deref().unwrap_or_default(),
            &created,
            &e.execution_arn,
            &e.state_machine_arn,
            e.sender.as_deref().unwrap_or_default(),
            policy.map_or("", |p| &p.name),
            policy.map_or("", |p| &p.sha256),
            &escalated_at,
            &escalated_to,
        ];
        if e.votes.is_empty() {
            write_line(&mut out, request.into_iter().chain([""; 11]))?;
        }
        for v in &e.votes {
            let voted = time(v.decided_at);
            let verified = match v.user_verified {
                Some(true) => "true",
                Some(false) => "false",
                None => "",
            };
            let vote: [&str; 11] = [
                &v.approver,
                &v.subject,
                &v.name,
                v.decision.as_str(),
                v.comment.as_deref().unwrap_or_default(),
                &voted,
                v.source_ip.as_deref().unwrap_or_default(),
                v.user_agent.as_deref().unwrap_or_default(),
                v.passkey_credential_id.as_deref().unwrap_or_default(),
                verified,
                v.on_behalf_of.as_deref().unwrap_or_default(),
            ];
            write_line(&mut out, request.into_iter().chain(vote))?;
        }
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// RFC 4180 as spreadsheet programs read it: lines end in CRLF, and a cell is quoted when
/// it holds a comma, a quote or a line break.
fn csv_writer(out: Vec<u8>) -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out)
}

fn write_line<'a>(
    out: &mut csv::Writer<Vec<u8>>,
    cells: impl IntoIterator<Item = &'a str>,
) -> csv::Result<()> {
    for cell in cells {
        out.write_field(defuse(cell).as_bytes())?;
    }
    out.write_record(None::<&[u8]>)
}

/// A leading `'` on text a spreadsheet would run as a formula.
fn defuse(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One cell as [`to_csv`] writes it.
    fn csv_field(f: &str) -> String {
        let mut out = csv_writer(Vec::new());
        write_line(&mut out, [f]).unwrap();
        let line = String::from_utf8(out.into_inner().unwrap()).unwrap();
        line.strip_suffix("\r\n").unwrap().to_string()
    }

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
    fn the_csv_starts_with_a_bom_and_has_a_crlf_line_per_vote_or_per_request_without_votes() {
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let voted = AuditEntry {
            request_id: "r1".into(),
            title: "売上, 11月".into(),
            execution_arn: "arn:x".into(),
            state_machine_arn: "arn:sm".into(),
            requested_by: Some("bob@example.com".into()),
            sender: None,
            policy: Some(hanko_api::PolicyRef {
                name: "p".into(),
                sha256: "ab".into(),
            }),
            created_at: at("2026-11-01T09:00:00Z"),
            status: hanko_api::RequestStatus::Approved,
            ended_at: at("2026-11-01T10:00:00Z"),
            closed_reason: None,
            signature: Some("jws".into()),
            escalation: Some(hanko_api::EscalationInfo {
                at: at("2026-11-01T09:10:00Z"),
                to: vec!["group:leads".into(), "carol@example.com".into()],
                escalated_at: Some(at("2026-11-01T09:10:02Z")),
                added: vec!["group:leads".into(), "carol@example.com".into()],
            }),
            votes: vec![AuditVote {
                approver: "alice@example.com".into(),
                subject: "dev|alice".into(),
                name: "Alice".into(),
                decision: hanko_api::VoteChoice::Approve,
                comment: Some("=cmd".into()),
                decided_at: at("2026-11-01T09:30:00Z"),
                source_ip: Some("203.0.113.9".into()),
                user_agent: None,
                passkey_credential_id: Some("Y3JlZA".into()),
                user_verified: Some(true),
                on_behalf_of: None,
            }],
        };
        let unvoted = AuditEntry {
            request_id: "r2".into(),
            status: hanko_api::RequestStatus::Expired,
            escalation: None,
            votes: vec![],
            ..voted.clone()
        };
        let csv = String::from_utf8(to_csv(&[voted, unvoted]).unwrap()).unwrap();
        assert_eq!(
            csv,
            format!(
                "\u{feff}{}\r\n\
                 r1,\"売上, 11月\",approved,2026-11-01T10:00:00.000Z,,bob@example.com,\
                 2026-11-01T09:00:00.000Z,arn:x,arn:sm,,p,ab,2026-11-01T09:10:02.000Z,\
                 group:leads carol@example.com,alice@example.com,dev|alice,Alice,\
                 approve,'=cmd,2026-11-01T09:30:00.000Z,203.0.113.9,,Y3JlZA,true,\r\n\
                 r2,\"売上, 11月\",expired,2026-11-01T10:00:00.000Z,,bob@example.com,\
                 2026-11-01T09:00:00.000Z,arn:x,arn:sm,,p,ab,,,,,,,,,,,,,\r\n",
                CSV_COLUMNS.join(",")
            )
        );
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
