//! Decide: approvals posted to `hanko serve` a few at a time, each answered only after the
//! vote is stored, the decision signed and SendTaskSuccess called.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::json;

use crate::cli::Args;
use crate::report::{mib, percentile, yes};
use crate::seed::seed;
use crate::serve::Serve;
use crate::sfn_stub::SfnStub;

/// Approvals posted.
const N: usize = 2000;
/// Approvals in flight at once.
const CONCURRENCY: usize = 8;

pub async fn run(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    let dir = args.work.join("decide");
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("hanko.db");
    // 10k requests, every other one pending for alice.
    let ids = seed(&db, 10_000, 2)?;
    let serve = Serve::start(
        args,
        &db,
        &[("AWS_ENDPOINT_URL", stub.url.clone())],
        &dir.join("serve.log"),
    )
    .await?;
    let before = stub.calls();
    let queue = Arc::new(Mutex::new(ids.into_iter().take(N).collect::<Vec<_>>()));
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (queue, http, url, token) = (
            queue.clone(),
            http.clone(),
            serve.url.clone(),
            serve.token.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut failed = Vec::new();
            loop {
                let Some(id) = queue.lock().unwrap().pop() else {
                    break;
                };
                let t = Instant::now();
                let r = http
                    .post(format!("{url}/api/approvals/{id}/decision"))
                    .bearer_auth(&token)
                    .json(&json!({"decision": "approve", "comment": "Go ahead"}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let body = r.text().await.unwrap_or_default();
                        failed.push(format!("{status} {body}"));
                    }
                    Err(e) => failed.push(format!("no answer: {e}")),
                }
            }
            (lat, failed)
        }));
    }
    let mut lat = Vec::new();
    let mut failures = Vec::new();
    for t in tasks {
        let (l, f) = t.await?;
        lat.extend(l);
        failures.extend(f);
    }
    let took = t0.elapsed().as_secs_f64();
    let peak = serve.peak();
    drop(serve);
    let calls = stub.calls() - before;
    let failed = failures.len();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p99 = percentile(&lat, 0.99);
    Ok(format!(
        "## Decide\n\n{N} approvals, each its own `POST /api/approvals/{{id}}/decision` ({CONCURRENCY} \
         at a time), on a 10k-request SQLite database; Step Functions is a local stub that answers \
         SendTaskSuccess at once. Each approval records the vote, signs the decision (ES256) and \
         calls SendTaskSuccess before it answers.\n\n\
         | decisions/s | p50 | p99 | failed | SendTaskSuccess calls | peak memory |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {:.0} | {:.2} ms | {:.2} ms | {failed} | {calls} | {} |\n\n\
         Target p99 ≤ 20 ms: {}.\n{}",
        lat.len() as f64 / took,
        percentile(&lat, 0.5),
        p99,
        mib(peak),
        yes(p99 <= 20.0),
        failure_note(failures)
    ))
}

/// What went wrong, once per kind of answer (its status, or "no").
fn failure_note(mut failures: Vec<String>) -> String {
    if failures.is_empty() {
        return String::new();
    }
    failures.sort();
    failures.dedup_by(|a, b| a.split(' ').next() == b.split(' ').next());
    format!(
        "\nNot 2xx (one example of each): {}.\n",
        failures
            .iter()
            .map(|f| format!("`{}`", f.chars().take(200).collect::<String>()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}
