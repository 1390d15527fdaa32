//! A Lambda Runtime API on 127.0.0.1, as Lambda's provided.al2023 serves it to a function's
//! `bootstrap`: start the function with `AWS_LAMBDA_RUNTIME_API` set to [`RuntimeApi::addr`],
//! queue events with [`RuntimeApi::push`], and read what it posts back with
//! [`RuntimeApi::answer`].
//!
//! Only what a function's runtime client calls: `invocation/next`, the invocation's
//! `response` or `error`, and `init/error`.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How the function answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerKind {
    /// `POST /runtime/invocation/{id}/response`: the handler's result.
    Response,
    /// `POST /runtime/invocation/{id}/error`: the handler failed.
    Error,
    /// `POST /runtime/init/error`: the function failed before asking for an event.
    InitError,
}

/// What the function posted back.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The invocation's request id, as given to [`RuntimeApi::push`]; `None` for an init error.
    pub request_id: Option<String>,
    pub kind: AnswerKind,
    pub body: String,
    /// When it arrived: the end of a cold start.
    pub at: Instant,
}

#[derive(Clone)]
struct Shared {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    answers: mpsc::UnboundedSender<Answer>,
    function_arn: String,
}

/// The Runtime API server; it stops when dropped.
pub struct RuntimeApi {
    addr: SocketAddr,
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    answers: mpsc::UnboundedReceiver<Answer>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Serves the Runtime API on a free port of 127.0.0.1 for a function named
    /// `function_name` (its ARN is in each invocation's headers).
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let events = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, answers) = mpsc::unbounded_channel();
        let shared = Shared {
            events: events.clone(),
            answers: tx,
            function_arn: format!(
                "arn:aws:lambda:ap-northeast-1:123456789012:function:{function_name}"
            ),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/{kind}",
                post(invocation_answer),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            events,
            answers,
            server,
        })
    }

    /// Where the function finds it: the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queues an invocation. `next` hands them out in order, one per call; with none
    /// queued it waits, as a function waits between invocations.
    pub fn push(&self, request_id: impl Into<String>, event: Value) {
        self.events
            .lock()
            .unwrap()
            .push_back((request_id.into(), event));
    }

    /// The next answer the function posted, waiting for it; `None` once the server has
    /// stopped.
    pub async fn answer(&mut self) -> Option<Answer> {
        self.answers.recv().await
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next_invocation(State(api): State<Shared>) -> Response {
    let Some((id, event)) = api.events.lock().unwrap().pop_front() else {
        return std::future::pending().await;
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", api.function_arn),
            ("lambda-runtime-trace-id", "Root=1-0-0".into()),
            ("content-type", "application/json".into()),
        ],
        event.to_string(),
    )
        .into_response()
}

async fn invocation_answer(
    State(api): State<Shared>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> StatusCode {
    let kind = if kind == "response" {
        AnswerKind::Response
    } else {
        AnswerKind::Error
    };
    let _ = api.answers.send(Answer {
        request_id: Some(id),
        kind,
        body,
        at: Instant::now(),
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Shared>, body: String) -> StatusCode {
    let _ = api.answers.send(Answer {
        request_id: None,
        kind: AnswerKind::InitError,
        body,
        at: Instant::now(),
    });
    StatusCode::ACCEPTED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn events_go_out_in_order_and_each_answer_comes_back_with_its_request_id() {
        let mut api = RuntimeApi::start("bench").await.unwrap();
        api.push("event-1", serde_json::json!({"n": 1}));
        api.push("event-2", serde_json::json!({"n": 2}));
        let base = format!("http://{}/2018-06-01/runtime", api.addr());
        let http = reqwest::Client::new();
        for (n, kind) in [(1, "response"), (2, "error")] {
            let next = http
                .get(format!("{base}/invocation/next"))
                .send()
                .await
                .unwrap();
            let id = next.headers()["lambda-runtime-aws-request-id"]
                .to_str()
                .unwrap()
                .to_string();
            assert_eq!(id, format!("event-{n}"));
            assert_eq!(next.json::<Value>().await.unwrap()["n"], n);
            http.post(format!("{base}/invocation/{id}/{kind}"))
                .body(format!("answer {n}"))
                .send()
                .await
                .unwrap();
        }
        let first = api.answer().await.unwrap();
        assert_eq!(first.request_id.as_deref(), Some("event-1"));
        assert_eq!(first.kind, AnswerKind::Response);
        assert_eq!(first.body, "answer 1");
        let second = api.answer().await.unwrap();
        assert_eq!(second.request_id.as_deref(), Some("event-2"));
        assert_eq!(second.kind, AnswerKind::Error);
    }

    #[tokio::test]
    async fn with_no_event_queued_next_waits() {
        let api = RuntimeApi::start("bench").await.unwrap();
        let next = reqwest::get(format!(
            "http://{}/2018-06-01/runtime/invocation/next",
            api.addr()
        ));
        let waited = tokio::time::timeout(std::time::Duration::from_millis(200), next).await;
        assert!(waited.is_err(), "next answered without an event");
    }
}
