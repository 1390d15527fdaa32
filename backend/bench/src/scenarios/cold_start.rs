//! Lambda cold start: the release `hanko` as the `api` function deciding one request,
//! against Node.js running the classic recipe's approval function (node_bootstrap.js), each
//! started afresh under the bench's Runtime API until it answers its first invocation.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hanko_bench::runtime_api::{AnswerKind, RuntimeApi};
use serde_json::{Value, json};

use crate::cli::Args;
use crate::procfs::{cpu_ms, page_faults, peak_kib, status_kib};
use crate::report::{median, mib, yes};
use crate::seed::seed;
use crate::sfn_stub::SfnStub;

/// The Node.js function: the SDK client and a small Runtime API loop.
const NODE_BOOTSTRAP: &str = include_str!("node_bootstrap.js");

/// One cold start.
#[derive(Clone, Copy)]
struct Run {
    /// Wall time from the process's start to its answer.
    ms: f64,
    /// Peak resident memory (VmHWM) at the answer, KiB.
    peak: u64,
    /// Of it, file pages (RssFile), KiB.
    file: u64,
    /// CPU time of its threads, ms.
    cpu: f64,
    faults: u64,
}

pub async fn run(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    let mut api = RuntimeApi::start("bench").await?;
    let root = std::fs::canonicalize(".")?;
    let dir = args.work.join("cold");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let dir = std::fs::canonicalize(&dir)?;

    // Hanko: the api function deciding one request (sign, store, SendTaskSuccess).
    let template = dir.join("template.db");
    let pending = seed(&template, 1, 1)?;
    let id = pending[0].clone();
    let idp_key = hanko::keys::EcKey::load_or_create(&dir.join("dev-idp-key.pem"))?;
    hanko::keys::EcKey::load_or_create(&dir.join("signing-key.pem"))?;
    let now = chrono::Utc::now().timestamp();
    let token = idp_key.sign(
        &json!({"iss": "urn:hanko:dev", "aud": "hanko-console", "sub": "dev|alice@example.com",
                "email": "alice@example.com", "name": "Alice", "groups": ["release-managers"],
                "token_use": "id", "iat": now, "auth_time": now, "exp": now + 3600}),
        "JWT",
    )?;
    let body = r#"{"decision":"approve","comment":"Go ahead"}"#;
    let path = format!("/api/approvals/{id}/decision");
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"host": "hanko.example", "content-type": "application/json",
                    "authorization": format!("Bearer {token}"), "user-agent": "bench"},
        "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "hanko.example",
            "domainPrefix": "hanko", "http": {"method": "POST", "path": path, "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1", "userAgent": "bench"}, "requestId": "bench-1",
            "routeKey": "$default", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0},
        "body": body, "isBase64Encoded": false
    });
    let mut hanko_runs = Vec::new();
    for run in 0..=args.runs {
        std::fs::copy(&template, dir.join("hanko.db"))?;
        for s in ["-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.join(format!("hanko.db{s}")));
        }
        let mut cmd = Command::new(std::fs::canonicalize(&args.hanko)?);
        lambda_env(&mut cmd, api.addr(), &dir, stub);
        cmd.env("HANKO_HANDLER", "api")
            .env("HANKO_PUBLIC_URL", "https://hanko.example")
            .env("HANKO_DATA_DIR", &dir)
            .env("HANKO_DEV_USERS", root.join("infra/dev-users.json"))
            .env("AWS_ENDPOINT_URL", &stub.url)
            .env("RUST_LOG", "warn");
        let before = stub.calls();
        let (r, answer) = one(&mut api, cmd, event.clone()).await?;
        if !answer.contains("\"statusCode\":200") || stub.calls() != before + 1 {
            bail!("hanko did not decide as expected: {answer}");
        }
        // The first run warms the page cache; it is not counted.
        if run > 0 {
            hanko_runs.push(r);
        }
    }

    // Node.js 20: the classic recipe's function.
    let node_dir = std::fs::canonicalize(&args.node_dir).with_context(|| {
        format!(
            "{} (npm install @aws-sdk/client-sfn)",
            args.node_dir.display()
        )
    })?;
    let script = node_dir.join("bootstrap.js");
    std::fs::write(&script, NODE_BOOTSTRAP)?;
    let node_event = json!({"queryStringParameters": {"action": "approve", "email": "alice@example.com",
        "taskToken": "AQCEAAAAKgAAAAMAAAAAAAAAA".to_string() + &"x".repeat(600)}});
    let mut node_runs = Vec::new();
    for run in 0..=args.runs {
        let mut cmd = Command::new("node");
        lambda_env(&mut cmd, api.addr(), &dir, stub);
        cmd.current_dir(&node_dir).arg(&script);
        let before = stub.calls();
        let (r, answer) = one(&mut api, cmd, node_event.clone()).await?;
        if !answer.contains("200") || stub.calls() != before + 1 {
            bail!("node did not answer as expected: {answer}");
        }
        if run > 0 {
            node_runs.push(r);
        }
    }
    let node_version = Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Ok(table(args.runs, &node_version, &hanko_runs, &node_runs))
}

/// Starts `cmd` under the Runtime API and hands it `event`: the run's figures, read from
/// /proc at the answer, and the answer.
async fn one(
    api: &mut RuntimeApi,
    mut cmd: Command,
    event: Value,
) -> anyhow::Result<(Run, String)> {
    api.push("bench-1", event);
    let t0 = Instant::now();
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the function")?;
    let waited = tokio::time::timeout(Duration::from_secs(30), api.answer()).await;
    let pid = child.id();
    let peak = peak_kib(pid);
    let file = status_kib(pid, "RssFile:");
    let cpu = cpu_ms(pid);
    let faults = page_faults(pid);
    let _ = child.kill();
    let out = child.wait_with_output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let answer = match waited {
        Ok(Some(answer)) => answer,
        Ok(None) => bail!("the Runtime API stopped; the function's stderr:\n{stderr}"),
        Err(_) => bail!("no answer within 30 s; its stderr:\n{stderr}"),
    };
    match answer.kind {
        AnswerKind::Response => {}
        AnswerKind::Error => bail!("the function failed: {}\n{stderr}", answer.body),
        AnswerKind::InitError => {
            bail!("the function failed: init error: {}\n{stderr}", answer.body)
        }
    }
    let ms = (answer.at - t0).as_secs_f64() * 1000.0;
    Ok((
        Run {
            ms,
            peak,
            file,
            cpu,
            faults,
        },
        answer.body,
    ))
}

/// The environment Lambda's provided.al2023 gives a function, with the Runtime API at
/// `runtime` and Step Functions at the stub.
fn lambda_env(cmd: &mut Command, runtime: SocketAddr, data: &Path, stub: &SfnStub) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", data)
        .env("AWS_LAMBDA_RUNTIME_API", runtime.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "ap-northeast-1")
        .env("AWS_DEFAULT_REGION", "ap-northeast-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_SESSION_TOKEN", "test")
        .env("SFN_ENDPOINT", &stub.url);
    // Lambda's provided.al2023 keeps its trust store in one bundle file. Debian also has
    // /etc/ssl/certs/ with a file per certificate, which rustls-native-certs would read one
    // by one on top of the bundle (~150 more files at start); the bundle alone is what a
    // Lambda function reads.
    let bundle = Path::new("/etc/ssl/certs/ca-certificates.crt");
    if bundle.is_file() {
        cmd.env("SSL_CERT_FILE", bundle);
    }
}

/// The section: medians of the counted runs of each function, and the ratios to the targets.
fn table(runs: usize, node_version: &str, hanko_runs: &[Run], node_runs: &[Run]) -> String {
    let med = |runs: &[Run], f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let (hm, nm) = (med(hanko_runs, |r| r.ms), med(node_runs, |r| r.ms));
    let (hp, np) = (
        med(hanko_runs, |r| r.peak as f64),
        med(node_runs, |r| r.peak as f64),
    );
    let (hf, nf) = (
        med(hanko_runs, |r| r.file as f64),
        med(node_runs, |r| r.file as f64),
    );
    let (hc, nc) = (med(hanko_runs, |r| r.cpu), med(node_runs, |r| r.cpu));
    let (hpf, npf) = (
        med(hanko_runs, |r| r.faults as f64),
        med(node_runs, |r| r.faults as f64),
    );
    let speed = nm / hm;
    let mem = hp / np;
    let mut s = format!(
        "## Lambda cold start\n\nFrom process start to the first answered invocation, under a \
         minimal Lambda Runtime API served by the bench on 127.0.0.1; peak memory is VmHWM just \
         after the answer, and \"of it, file pages\" is RssFile then: pages of the program and its \
         libraries, mapped from the page cache. CPU is the time the process's threads ran, on \
         either core, up to the answer, and page faults are the process's (minor and major) by \
         then. Median of {runs} runs each (one warm-up run not counted). The trust store \
         is the CA bundle file alone (`SSL_CERT_FILE`), as on Lambda's provided.al2023.\n\n\
         - **hanko**: the release binary as the `api` function (`HANKO_HANDLER=api`, SQLite, \
         dev login, local signer), invoked with an API Gateway v2 event that approves a \
         request: verifies the JWT, records the vote, signs the decision, calls \
         SendTaskSuccess (a local stub).\n\
         - **node**: Node.js {node_version}, the classic recipe's approval function: requires \
         `@aws-sdk/client-sfn`, builds an `SFNClient`, and on the event calls SendTaskSuccess \
         (the same stub), with a small `http` loop as its runtime client.\n\n\
         | function | wall time (median) | CPU (median) | page faults (median) | peak memory (median) | of it, file pages | runs (ms) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | --- |\n"
    );
    for (name, runs, m, c, pf, p, f) in [
        ("hanko", hanko_runs, hm, hc, hpf, hp, hf),
        ("node", node_runs, nm, nc, npf, np, nf),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {m:.1} ms | {c:.1} ms | {pf:.0} | {} | {} | {} |",
            mib(p as u64),
            mib(f as u64),
            runs.iter()
                .map(|r| format!("{:.1}", r.ms))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\nHanko is **{speed:.1}× faster** (target ≥ 15×: {}) and uses **{mem:.2}× the memory** \
         (no target: the ¼ of Node's memory target is retired).\n",
        yes(speed >= 15.0)
    );
    s
}
