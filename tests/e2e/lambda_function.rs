//! The `hanko` binary as a Lambda function: started with `AWS_LAMBDA_RUNTIME_API` pointing at
//! a Runtime API served here (the bench's, `hanko_bench::runtime_api`), the way Lambda's
//! provided.al2023 starts a function's `bootstrap`, and handed API Gateway events one after
//! another.
//!
//! `HANKO_LAMBDA_BIN` runs another build as the function, and `HANKO_LAMBDA_WRAPPER` (words
//! split at spaces) starts it through a program: `make package` (scripts/package.sh) runs
//! this test against the arm64 `bootstrap` that `sam build` made, under
//! `qemu-aarch64 -L /usr/aarch64-linux-gnu`. Unset, the function is the debug `hanko`.

use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use hanko_bench::runtime_api::{Answer, AnswerKind, RuntimeApi};
use hanko_e2e::{hanko_binary, root};
use serde_json::Value;

fn fixture(name: &str) -> anyhow::Result<Value> {
    let path = root().join("backend/server/tests/fixtures").join(name);
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

#[tokio::test]
async fn the_hanko_binary_runs_as_a_lambda_function_and_answers_api_gateway_events_in_turn()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let bin = match std::env::var_os("HANKO_LAMBDA_BIN") {
        Some(p) => std::path::PathBuf::from(p),
        None => hanko_binary(dir.path())?,
    };
    let wrapper = std::env::var("HANKO_LAMBDA_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = tokio::process::Command::new(program);
            c.args(words).arg(&bin);
            c
        }
        None => tokio::process::Command::new(&bin),
    };
    let mut api = RuntimeApi::start("hanko-api").await?;
    api.push("event-1", fixture("apigw-v2-health.json")?);
    api.push("event-2", fixture("apigw-v2-decision-no-token.json")?);

    let log = dir.path().join("hanko.log");
    let mut function = command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", api.addr().to_string())
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
        .with_context(|| format!("starting {} {}", wrapper, bin.display()))?;

    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut got: Vec<Answer> = Vec::new();
    while got.len() < 2 {
        tokio::select! {
            a = api.answer() => match a {
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
    drop(api);
    assert!(running, "the function exited after its events");

    let body = |i: usize| -> anyhow::Result<(u64, Value)> {
        let a = &got[i];
        let expected_id = format!("event-{}", i + 1);
        assert_eq!(
            a.request_id.as_deref(),
            Some(expected_id.as_str()),
            "answers come in order"
        );
        assert_eq!(a.kind, AnswerKind::Response, "{}", a.body);
        let v: Value = serde_json::from_str(&a.body)?;
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
