//! The `hanko` binary as a Lambda function: started with `AWS_LAMBDA_RUNTIME_API` pointing at
//! a Runtime API served here, the way Lambda's provided.al2023 starts a function's
//! `bootstrap`, and handed API Gateway events one after another.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hanko_e2e::{hanko_binary, root};
use serde_json::Value;
use tokio::sync::mpsc;

/// What the function posted back: the invocation id, `response` or `error`, and the body.
type Answer = (String, String, String);

#[derive(Clone)]
struct RuntimeApi {
    events: Arc<Mutex<VecDeque<(String, Value)>>>,
    answers: mpsc::UnboundedSender<Answer>,
}

async fn next(State(api): State<RuntimeApi>) -> Response {
    let Some((id, event)) = api.events.lock().unwrap().pop_front() else {
        // No more events: the function waits here, as it would between invocations.
        return std::future::pending().await;
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    (
        [
            ("lambda-runtime-aws-request-id", id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:ap-northeast-1:123456789012:function:hanko-api".into(),
            ),
            ("content-type", "application/json".into()),
        ],
        event.to_string(),
    )
        .into_response()
}

async fn answer(
    State(api): State<RuntimeApi>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> StatusCode {
    let _ = api.answers.send((id, kind, body));
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<RuntimeApi>, body: String) -> StatusCode {
    let _ = api.answers.send(("init".into(), "error".into(), body));
    StatusCode::ACCEPTED
}

fn fixture(name: &str) -> anyhow::Result<Value> {
    let path = root().join("backend/server/tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

#[tokio::test]
async fn the_hanko_binary_runs_as_a_lambda_function_and_answers_api_gateway_events_in_turn()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let bin = hanko_binary(dir.path())?;
    let events = VecDeque::from([
        ("event-1".to_string(), fixture("apigw-v2-health.json")?),
        (
            "event-2".to_string(),
            fixture("apigw-v2-decision-no-token.json")?,
        ),
    ]);
    let (tx, mut answers) = mpsc::unbounded_channel();
    let api = RuntimeApi {
        events: Arc::new(Mutex::new(events)),
        answers: tx,
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let log = dir.path().join("hanko.log");
    let mut function = tokio::process::Command::new(&bin)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "hanko-api")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        // Nothing here should reach AWS; if something tried, it would find no one.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("HANKO_HANDLER", "api")
        .env("HANKO_PUBLIC_URL", "https://hanko.example")
        .env("HANKO_DATA_DIR", dir.path())
        .env("HANKO_DEV_USERS", root().join("infra/dev-users.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log)?)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;

    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < 2 {
        tokio::select! {
            a = answers.recv() => match a {
                Some(a) => got.push(a),
                None => bail!("the Runtime API stopped"),
            },
            status = function.wait() => bail!(
                "the function stopped ({status:?}) after {} of 2 answers; its log:\n{}",
                got.len(),
                log_text()
            ),
            _ = tokio::time::sleep_until(deadline) => {
                function.kill().await?;
                bail!(
                    "the function answered {} of 2 events in 60 s; its log:\n{}",
                    got.len(),
                    log_text()
                );
            }
        }
    }
    // Still running, waiting for its next event.
    let running = function.try_wait()?.is_none();
    function.kill().await?;
    server.abort();
    assert!(running, "the function exited after its events");

    let body = |i: usize| -> anyhow::Result<(u64, Value)> {
        let (id, kind, text) = &got[i];
        assert_eq!(id, &format!("event-{}", i + 1), "answers come in order");
        assert_eq!(kind, "response", "{text}");
        let v: Value = serde_json::from_str(text)?;
        let status = v["statusCode"].as_u64().context("a statusCode")?;
        let body: Value = serde_json::from_str(v["body"].as_str().context("a body")?)?;
        Ok((status, body))
    };
    let (status, health) = body(0)?;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    let (status, refused) = body(1)?;
    assert_eq!(status, 401);
    assert_eq!(refused["error"]["code"], "unauthorized", "{refused}");
    Ok(())
}
