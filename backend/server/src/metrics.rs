//! What Hanko counts, for CloudWatch: each figure is written as a line in the Embedded
//! Metric Format (EMF), a JSON object whose `_aws` member tells CloudWatch Logs which of its
//! members are metrics. On Lambda the line goes to standard output, which is the function's
//! log group, and CloudWatch makes the metrics from it: no `PutMetricData` call, no
//! permission, nothing to flush before the function is frozen. `hanko serve` writes the
//! same lines (with `HANKO_LOG_FORMAT=json`) or logs each at debug level (text logs).
//!
//! [`CATALOGUE`] is every metric Hanko writes, with its unit and dimensions: the alarms and
//! dashboard of `infra/template.yaml` are checked against it (`infra/checks/alarms.py`
//! reads this file), and docs/operations.md lists it.
//!
//! The document is written with serde_json rather than a crate: `metrique` (AWS Labs) is
//! kept well but is a framework (entry macros, a background writer) for wide per-request
//! records, and `metrics_cloudwatch_embedded` is a recorder behind the `metrics` crate's
//! global façade that aggregates and must be flushed at the end of each invocation; a
//! dozen counters as one JSON line each need neither.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Map, Value, json};

/// A metric's unit, as CloudWatch names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Count,
    Seconds,
}

/// One metric Hanko writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    /// The dimension it is written with (none: `None`). Values come from a short fixed
    /// list each, never from a request (no ids, no addresses).
    pub dimension: Option<&'static str>,
    /// Also written without the dimension, as the total over its values (what an alarm on
    /// the whole takes).
    pub total: bool,
}

impl Metric {
    /// The dimension sets of the metric: `[[dimension], []]`, `[[dimension]]` or `[[]]`.
    pub fn dimension_sets(&self) -> Vec<Vec<&'static str>> {
        match (self.dimension, self.total) {
            (Some(d), true) => vec![vec![d], vec![]],
            (Some(d), false) => vec![vec![d]],
            (None, _) => vec![vec![]],
        }
    }
}

// Every metric, one per constant, in the shape infra/checks/alarms.py reads.

/// Approval requests stored by the intake (a duplicate delivery of one is not counted).
pub const REQUESTS_TAKEN: Metric = Metric {
    name: "RequestsTaken",
    unit: Unit::Count,
    dimension: None,
    total: false,
};
/// Intake messages not taken: `Reason` is `invalid_request` (its task failed with
/// `Hanko.InvalidRequest`), `policy_violation` (`Hanko.PolicyViolation`) or `dropped` (no
/// usable task token, or not JSON: nobody to answer).
pub const REQUESTS_REFUSED: Metric = Metric {
    name: "RequestsRefused",
    unit: Unit::Count,
    dimension: Some("Reason"),
    total: true,
};
/// Votes recorded (approve or reject).
pub const VOTES: Metric = Metric {
    name: "Votes",
    unit: Unit::Count,
    dimension: None,
    total: false,
};
/// Requests that ended: `Outcome` is `approved` or `rejected` (by votes), `expired` (the
/// deadline passed) or `closed` (the execution ended while the request waited).
pub const DECISIONS: Metric = Metric {
    name: "Decisions",
    unit: Unit::Count,
    dimension: Some("Outcome"),
    total: false,
};
/// Callbacks (SendTaskSuccess/SendTaskFailure of a decision or an expiry) Step Functions
/// accepted.
pub const CALLBACKS_DELIVERED: Metric = Metric {
    name: "CallbacksDelivered",
    unit: Unit::Count,
    dimension: None,
    total: false,
};
/// Callback attempts that did not go through: `Reason` is `refused` (throttled or refused
/// before it was acted on: retried), `no_answer` (timed out: retried) or `task_gone`
/// (Step Functions no longer waits for the task: not retried).
pub const CALLBACK_ATTEMPTS_FAILED: Metric = Metric {
    name: "CallbackAttemptsFailed",
    unit: Unit::Count,
    dimension: Some("Reason"),
    total: true,
};
/// Seconds since the oldest decision (or expiry) whose callback is still owed was made; 0
/// when none is owed. Written by every housekeeping pass (the sweeper).
pub const OLDEST_UNDELIVERED_DECISION_AGE: Metric = Metric {
    name: "OldestUndeliveredDecisionAge",
    unit: Unit::Seconds,
    dimension: None,
    total: false,
};
/// Notification emails sent (one per recipient).
pub const NOTIFICATIONS_SENT: Metric = Metric {
    name: "NotificationsSent",
    unit: Unit::Count,
    dimension: None,
    total: false,
};
/// Reminders and escalations sent: `Kind` is `reminder` or `escalation` (one per request
/// and kind, however many people it told: those are `NotificationsSent`).
pub const NUDGES: Metric = Metric {
    name: "Nudges",
    unit: Unit::Count,
    dimension: Some("Kind"),
    total: false,
};
/// Notification emails that could not be sent.
pub const NOTIFICATIONS_FAILED: Metric = Metric {
    name: "NotificationsFailed",
    unit: Unit::Count,
    dimension: None,
    total: false,
};
/// EventBridge events (`HANKO_EVENT_BUS`) that did not get through: `PutEvents` failed, its
/// entry was refused, or the request could not be read to make it. The vote, intake or
/// housekeeping that caused it stands.
pub const EVENTS_FAILED: Metric = Metric {
    name: "EventsFailed",
    unit: Unit::Count,
    dimension: None,
    total: false,
};
/// Api requests answered, by `Route` (`GET /api/approvals/{id}`: the method and the route
/// that matched, not the path asked for; `unmatched` for an api path with no route).
pub const API_REQUESTS: Metric = Metric {
    name: "ApiRequests",
    unit: Unit::Count,
    dimension: Some("Route"),
    total: true,
};
/// Api answers with a 4xx status (1 on such an answer, 0 on any other: the average is the
/// rate).
pub const API_4XX: Metric = Metric {
    name: "Api4xx",
    unit: Unit::Count,
    dimension: Some("Route"),
    total: true,
};
/// Api answers with a 5xx status (1 or 0, as [`API_4XX`]).
pub const API_5XX: Metric = Metric {
    name: "Api5xx",
    unit: Unit::Count,
    dimension: Some("Route"),
    total: true,
};

/// Every metric Hanko writes.
pub const CATALOGUE: &[Metric] = &[
    REQUESTS_TAKEN,
    REQUESTS_REFUSED,
    VOTES,
    DECISIONS,
    CALLBACKS_DELIVERED,
    CALLBACK_ATTEMPTS_FAILED,
    OLDEST_UNDELIVERED_DECISION_AGE,
    NOTIFICATIONS_SENT,
    NOTIFICATIONS_FAILED,
    NUDGES,
    EVENTS_FAILED,
    API_REQUESTS,
    API_4XX,
    API_5XX,
];

/// The namespace when `HANKO_METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "Hanko";

/// Where the lines go.
#[derive(Clone)]
enum Sink {
    /// Standard output, one line each (Lambda, `hanko serve` with JSON logs).
    Stdout,
    /// A debug-level log line each (`hanko serve` with text logs).
    Log,
    /// Kept in memory (tests).
    Memory(Arc<Mutex<Vec<String>>>),
    Off,
}

/// Writes metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    namespace: Arc<str>,
    sink: Sink,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    /// Writes nothing.
    fn default() -> Self {
        Self::off()
    }
}

impl Metrics {
    /// EMF lines on standard output, in `namespace`.
    pub fn stdout(namespace: &str) -> Self {
        Self {
            namespace: namespace.into(),
            sink: Sink::Stdout,
        }
    }

    /// Each EMF line as a debug-level log line (target `hanko::metrics`).
    pub fn log(namespace: &str) -> Self {
        Self {
            namespace: namespace.into(),
            sink: Sink::Log,
        }
    }

    pub fn off() -> Self {
        Self {
            namespace: DEFAULT_NAMESPACE.into(),
            sink: Sink::Off,
        }
    }

    /// Keeps the lines in memory; the returned handle reads them.
    pub fn memory(namespace: &str) -> (Self, Recorded) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                namespace: namespace.into(),
                sink: Sink::Memory(lines.clone()),
            },
            Recorded(lines),
        )
    }

    /// Adds 1 to `metric` (with `value` for its dimension, if it has one).
    pub fn count(&self, metric: Metric, value: Option<&str>) {
        self.put(&[(metric, 1.0)], value);
    }

    /// Writes one line with `figures`, which must share one dimension (`value` is its
    /// value), or none.
    pub fn put(&self, figures: &[(Metric, f64)], value: Option<&str>) {
        let wanted = match self.sink {
            Sink::Off => false,
            // Nothing to build when the debug line would not be written (the default).
            Sink::Log => tracing::enabled!(target: "hanko::metrics", tracing::Level::DEBUG),
            Sink::Stdout | Sink::Memory(_) => true,
        };
        if !wanted || figures.is_empty() {
            return;
        }
        let line = self.line(figures, value, chrono::Utc::now().timestamp_millis());
        match &self.sink {
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                // A lost metric is better than a request that fails for it.
                let _ = writeln!(out, "{line}").and_then(|()| out.flush());
            }
            Sink::Log => tracing::debug!(target: "hanko::metrics", "{line}"),
            Sink::Memory(lines) => {
                if let Ok(mut l) = lines.lock() {
                    l.push(line);
                }
            }
            Sink::Off => {}
        }
    }

    /// The EMF document: one metric directive whose dimension sets are those of the first
    /// figure's metric, the dimension's value, and each figure's value.
    fn line(&self, figures: &[(Metric, f64)], value: Option<&str>, timestamp_ms: i64) -> String {
        let first = figures[0].0;
        debug_assert!(
            figures
                .iter()
                .all(|(m, _)| m.dimension == first.dimension && m.total == first.total),
            "one line's metrics share their dimensions"
        );
        let mut root = Map::new();
        let metrics: Vec<Value> = figures
            .iter()
            .map(|(m, _)| json!({"Name": m.name, "Unit": m.unit}))
            .collect();
        let dimension_sets = match (first.dimension, value) {
            (Some(d), Some(v)) => {
                root.insert(d.to_string(), Value::String(v.to_string()));
                first.dimension_sets()
            }
            // No value for its dimension: only the total is known.
            _ => vec![vec![]],
        };
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": &*self.namespace,
                    "Dimensions": dimension_sets,
                    "Metrics": metrics,
                }],
            }),
        );
        for (m, v) in figures {
            root.insert(m.name.to_string(), json!(v));
        }
        Value::Object(root).to_string()
    }
}

/// The lines a [`Metrics::memory`] kept.
#[derive(Clone)]
pub struct Recorded(Arc<Mutex<Vec<String>>>);

impl Recorded {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

/// The api route a request matched, as a `Route` dimension value: the method (one of the
/// usual ones, else `OTHER`) and the route's pattern. `None` for paths outside the api
/// (the console's files).
pub fn route_of(method: &axum::http::Method, matched: Option<&str>, path: &str) -> Option<String> {
    use axum::http::Method;
    let method = match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    };
    let is_api = |p: &str| p == "/api" || p.starts_with("/api/") || p.starts_with("/.well-known/");
    match matched {
        // A nested router's fallback matches as a catch-all: no route of its own.
        Some(m) if !m.contains('*') => Some(format!("{method} {m}")),
        _ if is_api(path) => Some("unmatched".to_string()),
        _ => None,
    }
}

/// The layer that writes [`API_REQUESTS`], [`API_4XX`] and [`API_5XX`] for every api answer.
pub async fn count_api_answers(
    metrics: Metrics,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let matched = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_string());
    let route = route_of(req.method(), matched.as_deref(), req.uri().path());
    let resp = next.run(req).await;
    if let Some(route) = route {
        let status = resp.status();
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        metrics.put(
            &[
                (API_REQUESTS, 1.0),
                (API_4XX, flag(status.is_client_error())),
                (API_5XX, flag(status.is_server_error())),
            ],
            Some(&route),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_an_emf_document_with_the_dimension_and_its_total() {
        let (m, _) = Metrics::memory("Hanko/test");
        let line = m.line(
            &[(API_REQUESTS, 1.0), (API_4XX, 0.0), (API_5XX, 1.0)],
            Some("GET /api/approvals"),
            1_700_000_000_000,
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v,
            json!({
                "_aws": {
                    "Timestamp": 1_700_000_000_000i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "Hanko/test",
                        "Dimensions": [["Route"], []],
                        "Metrics": [
                            {"Name": "ApiRequests", "Unit": "Count"},
                            {"Name": "Api4xx", "Unit": "Count"},
                            {"Name": "Api5xx", "Unit": "Count"},
                        ],
                    }],
                },
                "Route": "GET /api/approvals",
                "ApiRequests": 1.0,
                "Api4xx": 0.0,
                "Api5xx": 1.0,
            })
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn a_metric_without_a_dimension_is_written_with_the_empty_dimension_set() {
        let (m, seen) = Metrics::memory("Hanko");
        m.put(&[(OLDEST_UNDELIVERED_DECISION_AGE, 42.0)], None);
        let v: Value = serde_json::from_str(&seen.lines()[0]).unwrap();
        assert_eq!(v["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "OldestUndeliveredDecisionAge", "Unit": "Seconds"}])
        );
        assert_eq!(v["OldestUndeliveredDecisionAge"], json!(42.0));
    }

    #[test]
    fn routes_are_the_matched_pattern_and_a_bounded_method() {
        use axum::http::Method;
        let odd = Method::from_bytes(b"XYZZY").unwrap();
        assert_eq!(
            route_of(
                &Method::GET,
                Some("/api/approvals/{id}"),
                "/api/approvals/x"
            ),
            Some("GET /api/approvals/{id}".into())
        );
        assert_eq!(
            route_of(&odd, Some("/api/approvals"), "/api/approvals"),
            Some("OTHER /api/approvals".into())
        );
        assert_eq!(
            route_of(&Method::GET, None, "/api/no/such/thing"),
            Some("unmatched".into())
        );
        assert_eq!(
            route_of(&Method::GET, Some("/api/{*rest}"), "/api/nothing"),
            Some("unmatched".into())
        );
        assert_eq!(route_of(&Method::GET, None, "/approvals/x"), None);
    }

    #[test]
    fn every_metric_has_a_name_of_its_own() {
        let mut names: Vec<_> = CATALOGUE.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
    }
}
