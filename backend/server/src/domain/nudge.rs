//! Reminders and escalation: when a pending request's approvers are reminded, and when
//! (and to whom) it is escalated. Plain data and functions; the sweeper
//! ([`crate::service::Hanko::sweep`]) sends them, each once, by a conditional write.
//!
//! A reminder is due `remindBeforeSeconds` before the deadline and goes to those who may
//! still vote. The escalation is due `escalateAfterSeconds` after the request was made:
//! its principals (`escalateTo`) become approvers of the request and are told.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::intake::{MAX_APPROVERS, MAX_TIMEOUT_SECONDS, NewRequest};
use super::principal::Principal;

/// When neither the message nor its policy says: a day before the deadline and an hour
/// before it (each only when the request lives longer than that).
pub const DEFAULT_REMIND_BEFORE_SECONDS: [i64; 2] = [24 * 3600, 3600];
/// The most reminders one request may ask for.
pub const MAX_REMINDERS: usize = 5;
/// The shortest wait a reminder or an escalation may name.
pub const MIN_NUDGE_SECONDS: i64 = 1;

/// The key under which the reminder `before` seconds before the deadline is remembered
/// as sent.
pub fn reminder_key(before: i64) -> String {
    format!("remind:{before}")
}

/// The key under which the escalation is remembered as done.
pub const ESCALATION_KEY: &str = "escalate";

/// Who the request goes to when nobody decided in time, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Escalation {
    /// Seconds after the request was made.
    pub after_seconds: i64,
    /// The people and groups it goes to.
    pub to: Vec<Principal>,
    /// When it happened (the sweeper's time); `None` until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_at: Option<DateTime<Utc>>,
    /// Those of `to` who were not approvers already, and became approvers then.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<Principal>,
}

/// What is due of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NudgeKind {
    Reminder,
    Escalation,
}

/// One reminder or the escalation, and when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scheduled {
    pub key: String,
    pub at: DateTime<Utc>,
    pub kind: NudgeKind,
}

/// Every reminder and the escalation of `req`, by time. A reminder that would fall at or
/// before the request's creation, and an escalation at or after its deadline, are left
/// out: they could never help.
pub fn schedule(req: &NewRequest) -> Vec<Scheduled> {
    let mut out: Vec<Scheduled> = req
        .remind_before_seconds
        .iter()
        .map(|&before| Scheduled {
            key: reminder_key(before),
            at: req.expires_at - Duration::seconds(before),
            kind: NudgeKind::Reminder,
        })
        .filter(|s| s.at > req.created_at)
        .collect();
    if let Some(e) = &req.escalation {
        let at = req.created_at + Duration::seconds(e.after_seconds);
        if at < req.expires_at {
            out.push(Scheduled {
                key: ESCALATION_KEY.into(),
                at,
                kind: NudgeKind::Escalation,
            });
        }
    }
    out.sort_by(|a, b| (a.at, &a.key).cmp(&(b.at, &b.key)));
    out
}

/// When the next of `req`'s nudges not among `sent` is due; `None` when none is left.
pub fn next_due(req: &NewRequest, sent: &[String]) -> Option<DateTime<Utc>> {
    schedule(req)
        .into_iter()
        .find(|s| !sent.contains(&s.key))
        .map(|s| s.at)
}

/// The nudges of `req` due by `now` and not among `sent`, by time.
pub fn due(req: &NewRequest, sent: &[String], now: DateTime<Utc>) -> Vec<Scheduled> {
    schedule(req)
        .into_iter()
        .filter(|s| s.at <= now && !sent.contains(&s.key))
        .collect()
}

/// `req` once escalated at `now`: the escalation's principals are approvers, and the
/// escalation says when and whom it added. `None` when `req` has no escalation.
pub fn escalated(req: &NewRequest, now: DateTime<Utc>) -> Option<NewRequest> {
    let mut out = req.clone();
    let e = out.escalation.as_mut()?;
    let added: Vec<Principal> =
        e.to.iter()
            .filter(|p| !req.approvers.contains(p))
            .cloned()
            .collect();
    out.approvers.extend(added.iter().cloned());
    e.escalated_at = Some(now);
    e.added = added;
    Some(out)
}

/// What the api and the audit export say of a request's escalation.
pub fn info(req: &NewRequest) -> Option<hanko_api::EscalationInfo> {
    let e = req.escalation.as_ref()?;
    let texts = |list: &[Principal]| list.iter().map(ToString::to_string).collect();
    Some(hanko_api::EscalationInfo {
        at: req.created_at + Duration::seconds(e.after_seconds),
        to: texts(&e.to),
        escalated_at: e.escalated_at,
        added: texts(&e.added),
    })
}

/// When the request's reminders are (or were) due.
pub fn reminder_times(req: &NewRequest) -> Vec<DateTime<Utc>> {
    schedule(req)
        .into_iter()
        .filter(|s| s.kind == NudgeKind::Reminder)
        .map(|s| s.at)
        .collect()
}

/// `req` as it was made, before its escalation: without the approvers the escalation
/// added, and without its record. The same request for one that never escalated.
pub fn as_made(req: &NewRequest) -> std::borrow::Cow<'_, NewRequest> {
    match &req.escalation {
        Some(e) if e.escalated_at.is_some() || !e.added.is_empty() => {
            let mut out = req.clone();
            out.approvers.retain(|p| !e.added.contains(p));
            if let Some(e) = out.escalation.as_mut() {
                e.escalated_at = None;
                e.added.clear();
            }
            std::borrow::Cow::Owned(out)
        }
        _ => std::borrow::Cow::Borrowed(req),
    }
}

/// Reads `remindBeforeSeconds` of a message: `Ok(None)` when absent.
pub fn parse_reminders(v: Option<&Value>) -> Result<Option<Vec<i64>>, String> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(reminders_problem()),
    };
    if list.len() > MAX_REMINDERS {
        return Err(format!(
            "remindBeforeSeconds has more than {MAX_REMINDERS} entries"
        ));
    }
    let mut out = Vec::with_capacity(list.len());
    for v in list {
        match v.as_i64() {
            Some(n) if (MIN_NUDGE_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&n) => {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
            _ => return Err(reminders_problem()),
        }
    }
    Ok(Some(out))
}

fn reminders_problem() -> String {
    format!(
        "remindBeforeSeconds must be an array of whole numbers from {MIN_NUDGE_SECONDS} to {MAX_TIMEOUT_SECONDS} (seconds before the deadline)"
    )
}

/// Reads `escalateAfterSeconds`: `Ok(None)` when absent.
pub fn parse_escalate_after(v: Option<&Value>) -> Result<Option<i64>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if (MIN_NUDGE_SECONDS..=MAX_TIMEOUT_SECONDS).contains(&n) => Ok(Some(n)),
            _ => Err(format!(
                "escalateAfterSeconds must be a whole number from {MIN_NUDGE_SECONDS} to {MAX_TIMEOUT_SECONDS}"
            )),
        },
    }
}

/// Reads `escalateTo` (emails and `group:NAME`, as approvers are named): `Ok(None)` when
/// absent; every bad entry is a problem.
pub fn parse_escalate_to(v: Option<&Value>) -> Result<Option<Vec<Principal>>, Vec<String>> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(list)) if !list.is_empty() => list,
        Some(Value::Array(_)) => return Err(vec!["escalateTo is empty".into()]),
        Some(_) => {
            return Err(vec![
                "escalateTo must be an array of emails or group:NAME".into(),
            ]);
        }
    };
    if list.len() > MAX_APPROVERS {
        return Err(vec![format!(
            "escalateTo has more than {MAX_APPROVERS} entries"
        )]);
    }
    principals(list.iter().map(|v| v.as_str().ok_or_else(|| v.to_string())))
        .map(Some)
        .map_err(|problems| {
            problems
                .into_iter()
                .map(|p| format!("escalateTo: {p}"))
                .collect()
        })
}

/// Parses principals, deduplicated in order; every bad one is a problem.
pub fn principals<'a>(
    list: impl Iterator<Item = Result<&'a str, String>>,
) -> Result<Vec<Principal>, Vec<String>> {
    let mut out: Vec<Principal> = Vec::new();
    let mut problems = Vec::new();
    for raw in list {
        match raw.map(Principal::parse) {
            Ok(Ok(p)) => {
                if !out.contains(&p) {
                    out.push(p);
                }
            }
            Ok(Err(e)) => problems.push(e),
            Err(v) => problems.push(format!("{v} is not a string")),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::intake::sample_request;

    fn at(req: &NewRequest, secs: i64) -> DateTime<Utc> {
        req.created_at + Duration::seconds(secs)
    }

    fn escalating(after: i64, to: &[&str]) -> NewRequest {
        let mut req = sample_request(&["alice@example.com"]);
        req.remind_before_seconds = vec![600, 60];
        req.escalation = Some(Escalation {
            after_seconds: after,
            to: to.iter().map(|p| Principal::parse(p).unwrap()).collect(),
            escalated_at: None,
            added: Vec::new(),
        });
        req
    }

    #[test]
    fn reminders_fall_before_the_deadline_and_the_escalation_after_the_start() {
        // An hour to decide: reminders at 50 and 59 minutes, escalation at 30.
        let req = escalating(1800, &["carol@example.com"]);
        let s = schedule(&req);
        let keys: Vec<&str> = s.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(keys, ["escalate", "remind:600", "remind:60"]);
        assert_eq!(s[0].at, at(&req, 1800));
        assert_eq!(s[1].at, req.expires_at - Duration::seconds(600));
    }

    #[test]
    fn a_reminder_before_the_request_existed_and_an_escalation_after_the_deadline_are_dropped() {
        let mut req = escalating(7200, &["carol@example.com"]);
        req.remind_before_seconds = vec![3600, 4000, 60];
        let keys: Vec<String> = schedule(&req).into_iter().map(|s| s.key).collect();
        assert_eq!(keys, ["remind:60"]);
    }

    #[test]
    fn what_is_due_leaves_out_what_was_sent_and_what_is_not_yet_due() {
        let req = escalating(1800, &["carol@example.com"]);
        let now = req.expires_at - Duration::seconds(300);
        let due_keys = |sent: &[String]| -> Vec<String> {
            due(&req, sent, now).into_iter().map(|s| s.key).collect()
        };
        assert_eq!(due_keys(&[]), ["escalate", "remind:600"]);
        assert_eq!(due_keys(&["escalate".into()]), ["remind:600"]);
        assert_eq!(
            next_due(&req, &["escalate".into(), "remind:600".into()]),
            Some(req.expires_at - Duration::seconds(60))
        );
        let all: Vec<String> = schedule(&req).into_iter().map(|s| s.key).collect();
        assert_eq!(next_due(&req, &all), None);
    }

    #[test]
    fn escalation_adds_only_those_who_were_not_approvers_and_says_when() {
        let req = escalating(1800, &["alice@example.com", "group:managers"]);
        let now = at(&req, 1801);
        let out = escalated(&req, now).unwrap();
        let approvers: Vec<String> = out.approvers.iter().map(|p| p.to_string()).collect();
        assert_eq!(approvers, ["alice@example.com", "group:managers"]);
        let e = out.escalation.unwrap();
        assert_eq!(e.escalated_at, Some(now));
        assert_eq!(e.added, [Principal::parse("group:managers").unwrap()]);
        assert!(escalated(&sample_request(&["a@example.com"]), now).is_none());
        assert_eq!(*as_made(&out_of(&req, now)), req, "as it was made");
    }

    fn out_of(req: &NewRequest, now: DateTime<Utc>) -> NewRequest {
        escalated(req, now).unwrap()
    }

    #[test]
    fn bad_reminders_and_escalations_are_named() {
        assert_eq!(parse_reminders(None), Ok(None));
        assert_eq!(
            parse_reminders(Some(&json!([60, 60, 5]))),
            Ok(Some(vec![60, 5]))
        );
        assert!(parse_reminders(Some(&json!([0]))).is_err());
        assert!(parse_reminders(Some(&json!("60"))).is_err());
        assert!(parse_reminders(Some(&json!([1, 2, 3, 4, 5, 6]))).is_err());
        assert_eq!(parse_escalate_after(Some(&json!(90))), Ok(Some(90)));
        assert!(parse_escalate_after(Some(&json!(-1))).is_err());
        assert!(parse_escalate_to(Some(&json!([]))).is_err());
        let e = parse_escalate_to(Some(&json!(["carol@example.com", "nobody", 3]))).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("escalateTo: approver \"nobody\""), "{e:?}");
    }
}
