//! EventBridge events through the real SDK client, against a local server that answers
//! `PutEvents` as EventBridge does (the JSON 1.1 protocol, SigV4-signed) and records what
//! it got: which events a request's life publishes, that none carries the task token, the
//! details or a comment, and that a failed or refused `PutEvents` never fails the vote.
//! (On moto, end to end, with a rule and an SQS queue: tests/e2e/events.rs.)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hanko::events::{
    ApprovalClosed, ApprovalDecided, ApprovalExpired, ApprovalRequested, EventBridge, Events,
    VoteRecorded, WorkflowTold,
};
use hanko::http::Policy;
use hanko::policy_source::Policies;
use hanko::service::DeliveryPolicy;
use hanko::store::Callback;
use hanko::workflow::ExecutionState;
use serde_json::{Value, json};

use crate::common::{TestApp, rid, test_app_publishing, token};

/// How the stand-in answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Accept,
    /// HTTP 500 `InternalException`, every time (the SDK retries, then gives up).
    Fail,
    /// HTTP 200 with every entry refused (`FailedEntryCount`).
    RefuseEntry,
    /// HTTP 200, accepting every entry but those of `Approval Decided`.
    RefuseDecided,
}

#[derive(Clone)]
struct Receiver {
    mode: Arc<Mutex<Mode>>,
    /// Each accepted entry, as sent.
    entries: Arc<Mutex<Vec<Value>>>,
    /// Every request's body, as sent (also the failed ones).
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn entries(&self) -> Vec<Value> {
        self.entries.lock().unwrap().clone()
    }

    fn detail_types(&self) -> Vec<String> {
        self.entries()
            .iter()
            .map(|e| e["DetailType"].as_str().unwrap().to_string())
            .collect()
    }
}

fn aws_json(status: StatusCode, body: Value) -> Response {
    (
        status,
        [("content-type", "application/x-amz-json-1.1")],
        body.to_string(),
    )
        .into_response()
}

/// What EventBridge checks of a `PutEvents` call, then the answer of the mode.
async fn put_events(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> Response {
    let text = String::from_utf8_lossy(&body).to_string();
    r.bodies.lock().unwrap().push(text.clone());
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    if header("x-amz-target") != "AWSEvents.PutEvents"
        || header("content-type") != "application/x-amz-json-1.1"
        || !header("authorization").starts_with("AWS4-HMAC-SHA256 Credential=AKIDEVENTS/")
    {
        return aws_json(
            StatusCode::BAD_REQUEST,
            json!({"__type": "UnrecognizedClientException", "message": format!("{headers:?}")}),
        );
    }
    let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let entries = doc["Entries"].as_array().cloned().unwrap_or_default();
    let well_formed = !entries.is_empty()
        && entries.len() <= 10
        && entries.iter().all(|e| {
            e["Source"].is_string()
                && e["DetailType"].is_string()
                && e["EventBusName"].is_string()
                && e["Time"].is_number()
                && e["Detail"]
                    .as_str()
                    .and_then(|d| serde_json::from_str::<Value>(d).ok())
                    .is_some_and(|d| d.is_object())
        });
    if !well_formed {
        return aws_json(
            StatusCode::BAD_REQUEST,
            json!({"__type": "ValidationException", "message": text}),
        );
    }
    let mode = *r.mode.lock().unwrap();
    match mode {
        Mode::Accept => {
            let ids: Vec<Value> = entries
                .iter()
                .enumerate()
                .map(|(i, _)| json!({"EventId": format!("event-{i}")}))
                .collect();
            r.entries.lock().unwrap().extend(entries);
            aws_json(
                StatusCode::OK,
                json!({"FailedEntryCount": 0, "Entries": ids}),
            )
        }
        Mode::Fail => aws_json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"__type": "InternalException", "message": "try again later"}),
        ),
        Mode::RefuseEntry | Mode::RefuseDecided => {
            let mut failed = 0;
            let answers: Vec<Value> = entries
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    if mode == Mode::RefuseEntry || e["DetailType"] == "Approval Decided" {
                        failed += 1;
                        json!({"ErrorCode": "InternalFailure", "ErrorMessage": "not this time"})
                    } else {
                        r.entries.lock().unwrap().push(e.clone());
                        json!({"EventId": format!("event-{i}")})
                    }
                })
                .collect();
            aws_json(
                StatusCode::OK,
                json!({"FailedEntryCount": failed, "Entries": answers}),
            )
        }
    }
}

/// The stand-in on a port of its own, and an [`EventBridge`] publisher (the real SDK
/// client) to bus `approvals` there.
async fn receiver(mode: Mode) -> (Receiver, Arc<dyn Events>) {
    let r = Receiver {
        mode: Arc::new(Mutex::new(mode)),
        entries: Default::default(),
        bodies: Default::default(),
    };
    let app = axum::Router::new()
        .route("/", axum::routing::post(put_events))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("ap-northeast-1"))
        .endpoint_url(format!("http://{addr}"))
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new(
            "AKIDEVENTS",
            "events-secret",
            None,
            None,
            "test",
        ))
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(5)),
        )
        .load()
        .await;
    (r, Arc::new(EventBridge::from_sdk(&sdk, "approvals")))
}

fn app_publishing_to(events: Arc<dyn Events>) -> TestApp {
    test_app_publishing(
        true,
        Policy::default(),
        DeliveryPolicy::default(),
        Vec::new(),
        Policies::Absent,
        events,
    )
}

/// The sum of `EventsFailed` over the metric lines written so far.
fn events_failed(t: &TestApp) -> f64 {
    t.metrics
        .lines()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|d| d["EventsFailed"].as_f64())
        .sum()
}

fn detail<T: serde::de::DeserializeOwned>(entry: &Value) -> T {
    serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap()
}

const DETAILS_MARKER: &str = "details-only-7f3a9";
const DESCRIPTION_MARKER: &str = "description-only-5c21";
const COMMENT_MARKER: &str = "comment-only-91be";

#[tokio::test]
async fn each_step_of_a_decision_is_published_with_its_detail_and_never_the_token_or_details() {
    let (r, events) = receiver(Mode::Accept).await;
    let t = app_publishing_to(events);
    let task_token = "tok-events-life-0123456789";
    let id = t
        .seed(
            task_token,
            json!({
                "approvers": ["alice@example.com", "carol@example.com"],
                "requiredApprovals": 2,
                "details": {"note": DETAILS_MARKER},
                "description": DESCRIPTION_MARKER,
            }),
        )
        .await;
    let alice = t.login("alice@example.com").await;
    let carol = t.login("carol@example.com").await;
    let v = t
        .decide(
            &id,
            &alice,
            json!({"decision": "approve", "comment": COMMENT_MARKER}),
        )
        .await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    let v = t.decide(&id, &carol, json!({"decision": "approve"})).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.body["status"], "approved");

    assert_eq!(
        r.detail_types(),
        [
            "Approval Requested",
            "Vote Recorded",
            "Vote Recorded",
            "Approval Decided",
            "Workflow Told"
        ]
    );
    let stored = t.hanko.store.get(&rid(&id)).await.unwrap().unwrap();
    let execution_arn = stored.request.execution_arn.clone();
    let entries = r.entries();
    for e in &entries {
        assert_eq!(e["Source"], "hanko", "{e}");
        assert_eq!(e["EventBusName"], "approvals", "{e}");
        assert_eq!(e["Resources"], json!([execution_arn]), "{e}");
        let d: Value = serde_json::from_str(e["Detail"].as_str().unwrap()).unwrap();
        assert_eq!(d["requestId"], id.as_str(), "{e}");
        assert_eq!(d["executionArn"], execution_arn.as_str(), "{e}");
        assert_eq!(
            d["stateMachineArn"],
            stored.request.state_machine_arn.as_str()
        );
    }
    for body in r.bodies.lock().unwrap().iter() {
        for secret in [
            task_token,
            DETAILS_MARKER,
            DESCRIPTION_MARKER,
            COMMENT_MARKER,
        ] {
            assert!(!body.contains(secret), "{secret} went out in {body}");
        }
    }

    let requested: ApprovalRequested = detail(&entries[0]);
    assert_eq!(
        requested.approvers,
        ["alice@example.com", "carol@example.com"]
    );
    assert_eq!(requested.required_approvals, 2);
    assert_eq!(requested.requested_by.as_deref(), Some("bob@example.com"));
    assert_eq!(requested.title, stored.request.title);
    assert_eq!(requested.expires_at, stored.request.expires_at);
    let first: VoteRecorded = detail(&entries[1]);
    assert_eq!(
        (first.voter.as_str(), first.approvals, first.status.as_str()),
        ("alice@example.com", 1, "pending")
    );
    let second: VoteRecorded = detail(&entries[2]);
    assert_eq!(
        (
            second.voter.as_str(),
            second.approvals,
            second.status.as_str()
        ),
        ("carol@example.com", 2, "approved")
    );
    let decided: ApprovalDecided = detail(&entries[3]);
    assert_eq!(decided.decision.as_str(), "approved");
    assert_eq!(
        decided.approved_by,
        ["alice@example.com", "carol@example.com"]
    );
    assert!(decided.rejected_by.is_empty());
    // The time of the deciding vote (the store keeps the decision's to the millisecond).
    assert_eq!(decided.decided_at, second.voted_at);
    let recorded = stored.decision.map(|d| d.decided_at).unwrap();
    assert!((decided.decided_at - recorded).num_milliseconds().abs() < 1);
    let told: WorkflowTold = detail(&entries[4]);
    assert_eq!(told.status.as_str(), "approved");
    assert_eq!(told.error, None);
    assert_eq!(told.attempts, 1);
    assert_eq!(events_failed(&t), 0.0);
}

#[tokio::test]
async fn an_expired_request_and_one_whose_execution_ended_are_published() {
    let (r, events) = receiver(Mode::Accept).await;
    let t = app_publishing_to(events);
    let id = t.seed("tok-events-expire", json!({})).await;
    // A request whose deadline has passed, as time would make it.
    let mut req = t.hanko.store.get(&rid(&id)).await.unwrap().unwrap().request;
    req.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    let expired = "0190e4b2-7c1e-7000-8000-0000000000ee";
    t.hanko
        .store
        .insert(&rid(expired), &token("tok-events-expire-2"), &req)
        .await
        .unwrap();
    t.hanko.sweep().await.unwrap();
    assert_eq!(
        r.detail_types(),
        ["Approval Requested", "Approval Expired", "Workflow Told"]
    );
    let entries = r.entries();
    let e: ApprovalExpired = detail(&entries[1]);
    assert_eq!(e.subject.request_id, expired);
    assert_eq!(e.expires_at, req.expires_at);
    let told: WorkflowTold = detail(&entries[2]);
    assert_eq!(told.subject.request_id, expired);
    assert_eq!(told.status.as_str(), "expired");
    assert_eq!(told.error.as_deref(), Some("Hanko.Expired"));

    // The first request's execution is stopped: the next pass closes it.
    *t.workflow.execution.lock().unwrap() = ExecutionState::Ended("ABORTED".into());
    t.hanko.sweep().await.unwrap();
    let entries = r.entries();
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert_eq!(entries[3]["DetailType"], "Approval Closed");
    let closed: ApprovalClosed = detail(&entries[3]);
    assert_eq!(closed.subject.request_id, id);
    assert_eq!(closed.execution_status, "ABORTED");
    assert_eq!(closed.status.as_str(), "closed");
}

/// Seeds a request for alice alone and has her approve it while EventBridge answers as
/// `mode`; the vote must stand and the workflow be told all the same.
async fn a_vote_while_eventbridge(mode: Mode) -> (TestApp, Receiver) {
    let (r, events) = receiver(mode).await;
    let t = app_publishing_to(events);
    let id = t
        .seed(
            "tok-events-down",
            json!({"approvers": ["alice@example.com"]}),
        )
        .await;
    let alice = t.login("alice@example.com").await;
    let v = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_eq!(v.status, StatusCode::OK, "{}", v.text);
    assert_eq!(v.body["status"], "approved");
    assert_eq!(v.body["decision"]["delivery"], "delivered");
    let sent = t.callbacks();
    assert_eq!(sent.len(), 1);
    assert!(matches!(sent[0].1, Callback::Success { .. }));
    let r2 = t.read(&id, &alice).await;
    assert_eq!(
        r2.body["votes"].as_array().map(Vec::len),
        Some(1),
        "{}",
        r2.text
    );
    (t, r)
}

#[tokio::test]
async fn a_vote_stands_when_eventbridge_fails() {
    let (t, r) = a_vote_while_eventbridge(Mode::Fail).await;
    // Requested, then Vote Recorded with Approval Decided in one PutEvents, then Workflow
    // Told: each call tried twice (as the test's client is told), none got through, each
    // event counted.
    assert!(r.entries().is_empty());
    assert_eq!(r.bodies.lock().unwrap().len(), 6);
    assert_eq!(events_failed(&t), 4.0);
}

#[tokio::test]
async fn a_vote_stands_when_eventbridge_refuses_the_entry() {
    let (t, r) = a_vote_while_eventbridge(Mode::RefuseEntry).await;
    assert_eq!(r.bodies.lock().unwrap().len(), 3);
    assert_eq!(events_failed(&t), 4.0);
}

#[tokio::test]
async fn of_a_vote_and_its_decision_only_the_refused_entry_is_counted() {
    let (t, r) = a_vote_while_eventbridge(Mode::RefuseDecided).await;
    assert_eq!(
        r.detail_types(),
        ["Approval Requested", "Vote Recorded", "Workflow Told"]
    );
    assert_eq!(events_failed(&t), 1.0);
}
