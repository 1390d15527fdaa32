//! `make bench`: measures Hanko and prints a table, also written to BENCHMARKS.md.
//!
//! Numbers, not pass/fail (except the console's byte budget, which is a test). Every
//! server it talks to is on 127.0.0.1 and every load is bounded in time.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use clap::Parser;
use hanko::domain::{NewRequest, OnReject};
use serde_json::{Value, json};
use tokio::sync::Notify;

#[derive(Parser)]
#[command(about = "Hanko's benchmarks")]
struct Args {
    /// The release `hanko` binary.
    #[arg(long)]
    hanko: PathBuf,
    /// The built console (Trunk's dist).
    #[arg(long, default_value = "dist")]
    dist: PathBuf,
    /// Folder with node_modules/@aws-sdk/client-sfn, for the Node.js cold start.
    #[arg(long, default_value = ".local/bench-node")]
    node_dir: PathBuf,
    /// moto_server, for the SQS intake benchmark.
    #[arg(long, default_value = ".venv/bin/moto_server")]
    moto: PathBuf,
    /// Scratch folder (databases, outboxes).
    #[arg(long, default_value = ".local/bench")]
    work: PathBuf,
    /// Request counts to seed for list/read.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000")]
    sizes: Vec<usize>,
    /// Seconds of load per list/read measurement.
    #[arg(long, default_value_t = 8)]
    seconds: u64,
    /// Runs per cold start.
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// Sections to run (console, cold, serve, decide, intake); all when empty.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Where the report goes.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

impl Args {
    fn wants(&self, s: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == s)
    }
}

/// The report, section by section (markdown).
#[derive(Default)]
struct Report {
    sections: Vec<String>,
}

impl Report {
    fn add(&mut self, s: String) {
        println!("{s}");
        self.sections.push(s);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.work)?;
    let mut report = Report::default();
    let started = Instant::now();
    if args.wants("console") {
        report.add(console(&args)?);
    }
    let stub = SfnStub::start().await?;
    if args.wants("cold") {
        report.add(cold_start(&args, &stub).await?);
    }
    // Decide waits on fsync, so it runs before the list and read seeds: the root file
    // system here is mounted with `discard`, and deleting the 1M seed's 4.9 GB makes the
    // disk trim for a while after, which stalled the decide runs that followed it (p99 42
    // and 104 ms, against 12 to 22 ms alone).
    if args.wants("decide") {
        report.add(decide(&args, &stub).await?);
    }
    if args.wants("serve") {
        report.add(serve_load(&args, &stub).await?);
    }
    if args.wants("intake") {
        report.add(intake(&args, &stub).await?);
    }
    let took = started.elapsed().as_secs();
    let mut md = String::new();
    writeln!(md, "# Benchmarks\n")?;
    writeln!(
        md,
        "Measured by `make bench` on {} ({}; {} cores, {} GiB memory), in {}m{:02}s. \
         Numbers, not pass/fail: the target column says what we aim for. Everything runs \
         on the one machine, load generator included.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_total_gib(),
        took / 60,
        took % 60
    )?;
    for s in &report.sections {
        writeln!(md, "{s}")?;
    }
    md.push_str(include_str!("../CHANGES.md"));
    std::fs::write(&args.out, md).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("wrote {}", args.out.display());
    Ok(())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn mem_total_gib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or(0, |kib| (kib + 512 * 1024) / (1024 * 1024))
}

fn kb(bytes: u64) -> String {
    format!("{:.1} KB", bytes as f64 / 1024.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn yes(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

/// The peak resident memory of a live process (VmHWM), in KiB.
fn peak_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// The CPU time a live process's threads have had, in ms: the sum of their
/// `/proc/<pid>/task/*/schedstat` (nanoseconds on a CPU). Threads that already ended are not
/// in it; Hanko's and Node's threads all live until the process is stopped.
fn cpu_ms(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return f64::NAN;
    };
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e6
}

/// The page faults a live process has taken (minor and major, all its threads), from
/// `/proc/<pid>/stat`. With the page cache warm, most of a cold start's kernel time is these.
fn page_faults(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // minflt is field 10 of the whole line and majflt field 12: 8th and 10th after the name.
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(7) + field(9)
}

/// A KiB figure of a live process's `/proc/<pid>/status`, such as `RssFile:`.
fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse().ok())
        })
        .unwrap_or(0)
}

fn median<T: Copy + PartialOrd>(v: &[T]) -> T {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    s[s.len() / 2]
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

// ---------------------------------------------------------------------------------------
// Console

fn console(args: &Args) -> anyhow::Result<String> {
    let (files, total) = hanko_bench::console_first_load(&args.dist)?;
    let mut s = String::from(
        "## Console first load\n\nThe release build in dist/ (`scripts/build-console.sh`): \
         every wasm, js and css file.\n\n| file | raw | gzip -9 | brotli -q 11 |\n| --- | ---: | ---: | ---: |\n",
    );
    for (name, z) in &files {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            kb(z.raw),
            kb(z.gzip),
            kb(z.brotli)
        );
    }
    let _ = writeln!(
        s,
        "| **total** | {} | {} | **{}** |\n\nTarget ≤ {} brotli: {}. Budget (test \
         `console_budget` in backend/bench, part of `cargo test --workspace`): {} bytes \
         brotli ({}); measured {} bytes.\n",
        kb(total.raw),
        kb(total.gzip),
        kb(total.brotli),
        kb(hanko_bench::CONSOLE_BROTLI_TARGET),
        yes(total.brotli <= hanko_bench::CONSOLE_BROTLI_TARGET),
        hanko_bench::CONSOLE_BROTLI_BUDGET,
        kb(hanko_bench::CONSOLE_BROTLI_BUDGET),
        total.brotli
    );
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// A Step Functions stand-in that answers every call at once.

struct SfnStub {
    url: String,
    calls: Arc<Mutex<u64>>,
}

impl SfnStub {
    async fn start() -> anyhow::Result<Self> {
        let calls = Arc::new(Mutex::new(0u64));
        let c = calls.clone();
        // Counts SendTaskSuccess/SendTaskFailure; says every execution is still running, so
        // `hanko serve`'s reconciliation leaves the seeded requests pending.
        let app = Router::new().fallback(move |headers: axum::http::HeaderMap| {
            let c = c.clone();
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let body = if target.ends_with(".DescribeExecution") {
                    json!({"executionArn": "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run",
                           "stateMachineArn": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy",
                           "status": "RUNNING", "startDate": 1.7e9})
                    .to_string()
                } else {
                    if target.contains(".SendTask") {
                        *c.lock().unwrap() += 1;
                    }
                    "{}".to_string()
                };
                ([("content-type", "application/x-amz-json-1.0")], body)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { url, calls })
    }

    fn calls(&self) -> u64 {
        *self.calls.lock().unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// Cold start under a minimal Lambda Runtime API.

#[derive(Default)]
struct RuntimeState {
    event: Option<Value>,
    served: bool,
    answer: Option<(Instant, bool, String)>,
}

#[derive(Clone)]
struct Runtime {
    state: Arc<Mutex<RuntimeState>>,
    done: Arc<Notify>,
}

async fn next_invocation(State(rt): State<Runtime>) -> axum::response::Response {
    let event = {
        let mut s = rt.state.lock().unwrap();
        if s.served {
            None
        } else {
            s.served = true;
            s.event.clone()
        }
    };
    match event {
        // One invocation per process: the second `next` waits until the process is killed.
        None => std::future::pending().await,
        Some(ev) => {
            let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
            (
                [
                    ("lambda-runtime-aws-request-id", "bench-1".to_string()),
                    ("lambda-runtime-deadline-ms", deadline.to_string()),
                    (
                        "lambda-runtime-invoked-function-arn",
                        "arn:aws:lambda:ap-northeast-1:123456789012:function:bench".into(),
                    ),
                    ("lambda-runtime-trace-id", "Root=1-0-0".into()),
                    ("content-type", "application/json".into()),
                ],
                ev.to_string(),
            )
                .into_response()
        }
    }
}

async fn invocation_answer(
    State(rt): State<Runtime>,
    axum::extract::Path((_, kind)): axum::extract::Path<(String, String)>,
    body: String,
) -> StatusCode {
    rt.state.lock().unwrap().answer = Some((Instant::now(), kind == "response", body));
    rt.done.notify_one();
    StatusCode::ACCEPTED
}

async fn init_error(State(rt): State<Runtime>, body: String) -> StatusCode {
    rt.state.lock().unwrap().answer = Some((Instant::now(), false, format!("init error: {body}")));
    rt.done.notify_one();
    StatusCode::ACCEPTED
}

impl Runtime {
    async fn start() -> anyhow::Result<(Self, SocketAddr)> {
        let rt = Runtime {
            state: Default::default(),
            done: Arc::new(Notify::new()),
        };
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
            .route(
                "/2018-06-01/runtime/invocation/{id}/{kind}",
                post(invocation_answer),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(rt.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok((rt, addr))
    }

    /// Starts `cmd` and hands it `event`: its wall time to the answer (ms), peak memory and
    /// file pages resident at the answer (KiB), CPU time (ms), and the answer.
    async fn one(&self, mut cmd: Command, event: Value) -> anyhow::Result<(Run, String)> {
        *self.state.lock().unwrap() = RuntimeState {
            event: Some(event),
            ..Default::default()
        };
        let t0 = Instant::now();
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting the function")?;
        let waited = tokio::time::timeout(Duration::from_secs(30), self.done.notified()).await;
        let peak = peak_kib(child.id());
        let file = status_kib(child.id(), "RssFile:");
        let cpu = cpu_ms(child.id());
        let faults = page_faults(child.id());
        let _ = child.kill();
        let out = child.wait_with_output()?;
        if waited.is_err() {
            bail!(
                "no answer within 30 s; its stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let (at, ok, body) = self.state.lock().unwrap().answer.take().unwrap();
        if !ok {
            bail!(
                "the function failed: {body}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let ms = (at - t0).as_secs_f64() * 1000.0;
        Ok((
            Run {
                ms,
                peak,
                file,
                cpu,
                faults,
            },
            body,
        ))
    }
}

const NODE_BOOTSTRAP: &str = r#"// The classic recipe's approval function, as a Lambda would start it: load the SDK,
// make the client, then loop on the Runtime API (a tiny stand-in for the runtime client).
const http = require('http');
const { SFNClient, SendTaskSuccessCommand } = require('@aws-sdk/client-sfn');
const sfn = new SFNClient({ endpoint: process.env.SFN_ENDPOINT, region: process.env.AWS_REGION });

async function handler(event) {
  const q = event.queryStringParameters || {};
  await sfn.send(new SendTaskSuccessCommand({
    taskToken: q.taskToken,
    output: JSON.stringify({ Status: 'Approved! Task approved by ' + q.email }),
  }));
  return { statusCode: 200, body: 'Approved!' };
}

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, path, method, headers: { 'content-type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ headers: res.headers, body: data }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

(async () => {
  for (;;) {
    const next = await call('GET', '/2018-06-01/runtime/invocation/next');
    const id = next.headers['lambda-runtime-aws-request-id'];
    try {
      const out = await handler(JSON.parse(next.body));
      await call('POST', `/2018-06-01/runtime/invocation/${id}/response`, JSON.stringify(out));
    } catch (e) {
      await call('POST', `/2018-06-01/runtime/invocation/${id}/error`, JSON.stringify({ errorMessage: String(e) }));
    }
  }
})();
"#;

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

/// A request waiting for alice, as a state machine would have sent it.
fn sample_request(i: usize, now: chrono::DateTime<chrono::Utc>, approvers: &[&str]) -> NewRequest {
    let created = now - chrono::Duration::seconds((i % 86_400) as i64);
    NewRequest {
        title: format!("Deploy shop-api v1.{}.{} to production", i % 40, i % 17),
        description: Some(format!(
            "Release notes for build {i}:\n- faster checkout for returning customers\n\
             - fixes the rounding of yen amounts in refunds (ticket SHOP-{})\n\
             - upgrades the payment SDK\nRollback: redeploy the previous task definition.",
            1000 + i % 9000
        )),
        details: json!({
            "service": "shop-api", "version": format!("1.{}.{}", i % 40, i % 17),
            "environment": "production", "commit": format!("{:040x}", i as u128 * 2_654_435_761),
            "changes": 12 + i % 30, "ticket": format!("SHOP-{}", 1000 + i % 9000),
            "requestedFrom": {"pipeline": "release", "run": i}
        }),
        approvers: approvers.iter().map(|s| s.to_string()).collect(),
        required_approvals: 1,
        allow_self_approval: false,
        requested_by: Some("bob@example.com".into()),
        on_reject: OnReject::Fail,
        execution_arn: format!(
            "arn:aws:states:ap-northeast-1:123456789012:execution:deploy:run-{i}"
        ),
        execution_name: format!("run-{i}"),
        state_machine_arn: "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy".into(),
        state_machine_name: "deploy".into(),
        state_name: Some("AskForApproval".into()),
        created_at: created,
        expires_at: created + chrono::Duration::days(30),
        policy: None,
        sender: None,
    }
}

fn sha256_hex(s: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    hex::encode(d)
}

/// A time-ordered id (UUID v7 layout) for the `i`th request, so id order is age order.
fn seed_id(base_ms: i64, i: usize) -> String {
    let ms = (base_ms + i as i64) as u64;
    let rand = (i as u128).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
    let v = ((ms as u128) << 80)
        | (0x7u128 << 76)
        | (rand & 0x0fff_3fff_ffff_ffff_ffff)
        | (0b10u128 << 62);
    uuid::Uuid::from_u128(v).to_string()
}

/// Seeds `n` requests into a fresh database with Hanko's schema, in one transaction.
/// Every `pending_every`th is pending for alice; the rest are decided (one vote each).
/// Returns the ids of the pending ones.
fn seed(db: &Path, n: usize, pending_every: usize) -> anyhow::Result<Vec<String>> {
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    drop(hanko::store::sqlite::SqliteStore::open(db)?);
    let mut conn = rusqlite::Connection::open(db)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    let now = chrono::Utc::now();
    let base_ms = now.timestamp_millis() - n as i64 - 1000;
    let mut pending = Vec::new();
    {
        let mut req = tx.prepare(
            "INSERT INTO requests (id, token_hash, task_token, status, created_ms, expires_ms, \
             requested_by, allow_self, body, outcome, decided_ms, signature, delivery, closed_ms, version, \
             title, state_machine_name, execution_name, created_at, expires_at, required_approvals) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, ?8, ?9, ?10, ?11, ?12, ?10, ?13, \
             json_extract(?8, '$.title'), json_extract(?8, '$.stateMachineName'), \
             json_extract(?8, '$.executionName'), json_extract(?8, '$.createdAt'), \
             json_extract(?8, '$.expiresAt'), json_extract(?8, '$.requiredApprovals'))",
        )?;
        let mut appr =
            tx.prepare("INSERT INTO approvers (principal, request_id) VALUES (?1, ?2)")?;
        let mut vote = tx.prepare(
            "INSERT INTO votes (request_id, voter, subject, name, choice, comment, decided_ms, \
             source_ip, user_agent) VALUES (?1, 'carol@example.com', 'dev|carol@example.com', \
             'Carol', ?2, ?3, ?4, '127.0.0.1', 'Mozilla/5.0 (bench)')",
        )?;
        let approvers = ["alice@example.com", "group:release-managers"];
        for i in 0..n {
            let id = seed_id(base_ms, i);
            let r = sample_request(i, now, &approvers);
            let token = format!("AQCEAAAAKgAAAAMAAAAAAAAAA{i:012}{}", "x".repeat(600));
            let body = serde_json::to_string(&r)?;
            let is_pending = i % pending_every == 0;
            let (status, outcome, decided, sig, delivery) = if is_pending {
                ("pending", None, None, None, None)
            } else {
                let o = if i % 7 == 0 { "rejected" } else { "approved" };
                (
                    o,
                    Some(o),
                    Some(r.created_at.timestamp_millis() + 60_000),
                    Some(format!("eyJhbGciOiJFUzI1NiJ9.{}.sig", "A".repeat(300))),
                    Some("delivered"),
                )
            };
            req.execute(rusqlite::params![
                id,
                sha256_hex(&token),
                token,
                status,
                r.created_at.timestamp_millis(),
                r.expires_at.timestamp_millis(),
                r.requested_by,
                body,
                outcome,
                decided,
                sig,
                delivery,
                if is_pending { 0 } else { 1 },
            ])?;
            for a in &approvers {
                appr.execute(rusqlite::params![a, id])?;
            }
            if let Some(at) = decided {
                vote.execute(rusqlite::params![
                    id,
                    if status == "rejected" {
                        "reject"
                    } else {
                        "approve"
                    },
                    Some("Looks good; the canary was healthy for an hour."),
                    at
                ])?;
            } else {
                pending.push(id);
            }
        }
    }
    tx.commit()?;
    conn.pragma_update(None, "wal_checkpoint", "TRUNCATE")?;
    drop(conn);
    // The seed writes without syncing (1M requests are ~5 GB). Its writeback goes to the
    // disk now, in the seed's time, not in the measurements that follow: a full bench had
    // the decide section run behind the 1M seed's writeback, at twice its p99.
    std::fs::File::open(db)?.sync_all()?;
    Ok(pending)
}

/// One cold start.
#[derive(Clone, Copy)]
struct Run {
    ms: f64,
    peak: u64,
    file: u64,
    cpu: f64,
    faults: u64,
}

async fn cold_start(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    let (rt, addr) = Runtime::start().await?;
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
        lambda_env(&mut cmd, addr, &dir, stub);
        cmd.env("HANKO_HANDLER", "api")
            .env("HANKO_PUBLIC_URL", "https://hanko.example")
            .env("HANKO_DATA_DIR", &dir)
            .env("HANKO_DEV_USERS", root.join("infra/dev-users.json"))
            .env("AWS_ENDPOINT_URL", &stub.url)
            .env("RUST_LOG", "warn");
        let before = stub.calls();
        let (r, answer) = rt.one(cmd, event.clone()).await?;
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
        lambda_env(&mut cmd, addr, &dir, stub);
        cmd.current_dir(&node_dir).arg(&script);
        let before = stub.calls();
        let (r, answer) = rt.one(cmd, node_event.clone()).await?;
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
    let med = |runs: &[Run], f: fn(&Run) -> f64| median(&runs.iter().map(f).collect::<Vec<_>>());
    let (hm, nm) = (med(&hanko_runs, |r| r.ms), med(&node_runs, |r| r.ms));
    let (hp, np) = (
        med(&hanko_runs, |r| r.peak as f64),
        med(&node_runs, |r| r.peak as f64),
    );
    let (hf, nf) = (
        med(&hanko_runs, |r| r.file as f64),
        med(&node_runs, |r| r.file as f64),
    );
    let (hc, nc) = (med(&hanko_runs, |r| r.cpu), med(&node_runs, |r| r.cpu));
    let (hpf, npf) = (
        med(&hanko_runs, |r| r.faults as f64),
        med(&node_runs, |r| r.faults as f64),
    );
    let speed = nm / hm;
    let mem = hp / np;
    let mut s = format!(
        "## Lambda cold start\n\nFrom process start to the first answered invocation, under a \
         minimal Lambda Runtime API served by the bench on 127.0.0.1; peak memory is VmHWM just \
         after the answer, and \"of it, file pages\" is RssFile then: pages of the program and its \
         libraries, mapped from the page cache. CPU is the time the process's threads ran, on \
         either core, up to the answer, and page faults are the process's (minor and major) by \
         then. Median of {} runs each (one warm-up run not counted). The trust store \
         is the CA bundle file alone (`SSL_CERT_FILE`), as on Lambda's provided.al2023.\n\n\
         - **hanko**: the release binary as the `api` function (`HANKO_HANDLER=api`, SQLite, \
         dev login, local signer), invoked with an API Gateway v2 event that approves a \
         request: verifies the JWT, records the vote, signs the decision, calls \
         SendTaskSuccess (a local stub).\n\
         - **node**: Node.js {node_version}, the classic recipe's approval function: requires \
         `@aws-sdk/client-sfn`, builds an `SFNClient`, and on the event calls SendTaskSuccess \
         (the same stub), with a small `http` loop as its runtime client.\n\n\
         | function | wall time (median) | CPU (median) | page faults (median) | peak memory (median) | of it, file pages | runs (ms) |\n\
         | --- | ---: | ---: | ---: | ---: | ---: | --- |\n",
        args.runs
    );
    for (name, runs, m, c, pf, p, f) in [
        ("hanko", &hanko_runs, hm, hc, hpf, hp, hf),
        ("node", &node_runs, nm, nc, npf, np, nf),
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
         (target ≤ 0.25×: {}).\n",
        yes(speed >= 15.0),
        yes(mem <= 0.25)
    );
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// hanko serve under load

struct Serve {
    child: Child,
    url: String,
    token: String,
}

impl Serve {
    async fn start(
        args: &Args,
        db: &Path,
        extra: &[(&str, String)],
        log: &Path,
    ) -> anyhow::Result<Self> {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            l.local_addr()?.port()
        };
        let data = db.parent().unwrap_or(Path::new("."));
        let mut cmd = Command::new(&args.hanko);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", data)
            .env("HANKO_LISTEN", format!("127.0.0.1:{port}"))
            .env("HANKO_DATA_DIR", data)
            .env("HANKO_DATABASE", db)
            .env("HANKO_DEV_USERS", "infra/dev-users.json")
            .env("HANKO_LOGIN_RATE_LIMIT", "0")
            .env("AWS_REGION", "ap-northeast-1")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log)?);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let child = cmd.spawn().context("starting hanko serve")?;
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let t0 = Instant::now();
        loop {
            if let Ok(r) = http.get(format!("{url}/api/health")).send().await
                && r.status().is_success()
            {
                break;
            }
            if t0.elapsed() > Duration::from_secs(60) {
                bail!("hanko serve did not start; see {}", log.display());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let login: Value = http
            .post(format!("{url}/api/dev/login"))
            .json(&json!({"email": "alice@example.com", "password": "alice-approves"}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let token = login["token"].as_str().context("no token")?.to_string();
        Ok(Self { child, url, token })
    }

    fn peak(&self) -> u64 {
        peak_kib(self.child.id())
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Load {
    rps: f64,
    p50: f64,
    p99: f64,
    errors: u64,
}

fn wrk_ms(v: &str) -> f64 {
    let num = |s: &str| s.parse::<f64>().unwrap_or(f64::NAN);
    if let Some(x) = v.strip_suffix("us") {
        num(x) / 1000.0
    } else if let Some(x) = v.strip_suffix("ms") {
        num(x)
    } else if let Some(x) = v.strip_suffix('s') {
        num(x) * 1000.0
    } else {
        num(v)
    }
}

/// `wrk` for `seconds` against `url` (with `script` choosing paths when given).
fn wrk(url: &str, token: &str, seconds: u64, script: Option<&Path>) -> anyhow::Result<Load> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t1", "-c32", "--latency", "--timeout", "5s"])
        .arg(format!("-d{seconds}s"))
        .arg("-H")
        .arg(format!("Authorization: Bearer {token}"));
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    let field = |prefix: &str| -> Option<String> {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1))
            .map(str::to_string)
    };
    let errors = text
        .lines()
        .find(|l| l.contains("Non-2xx or 3xx responses:"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    Ok(Load {
        rps: field("Requests/sec:")
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN),
        p50: field("50%").map_or(f64::NAN, |v| wrk_ms(&v)),
        p99: field("99%").map_or(f64::NAN, |v| wrk_ms(&v)),
        errors,
    })
}

async fn serve_load(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    let dir = args.work.join("serve");
    std::fs::create_dir_all(&dir)?;
    let mut rows = Vec::new();
    for &n in &args.sizes {
        let db = dir.join(format!("hanko-{n}.db"));
        let t0 = Instant::now();
        // One in twenty waits for a decision, as in a busy but healthy team.
        let pending = seed(&db, n, 20)?;
        let seeded = t0.elapsed().as_secs_f64();
        eprintln!("seeded {n} requests in {seeded:.1} s");
        // Every AWS call (the housekeeping's DescribeExecution) goes to the local stub.
        let serve = Serve::start(
            args,
            &db,
            &[("AWS_ENDPOINT_URL", stub.url.clone())],
            &dir.join(format!("serve-{n}.log")),
        )
        .await?;
        let list = wrk(
            &format!("{}/api/approvals?status=pending&limit=50", serve.url),
            &serve.token,
            args.seconds,
            None,
        )?;
        let list_peak = serve.peak();
        let script = dir.join(format!("read-{n}.lua"));
        let sample: Vec<String> = pending
            .iter()
            .step_by((pending.len() / 1000).max(1))
            .map(|id| format!("\"{id}\""))
            .collect();
        std::fs::write(
            &script,
            format!(
                "ids = {{{}}}\nrequest = function()\n  return wrk.format(\"GET\", \"/api/approvals/\" .. ids[math.random(#ids)])\nend\n",
                sample.join(",")
            ),
        )?;
        let read = wrk(&serve.url, &serve.token, args.seconds, Some(&script))?;
        let read_peak = serve.peak();
        drop(serve);
        let size = std::fs::metadata(&db).map_or(0, |m| m.len());
        rows.push((n, seeded, size, list, list_peak, read, read_peak));
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
        }
        // Freeing a big file's blocks is disk work too: done before the next measurement.
        let _ = Command::new("sync").status();
    }
    let mut s = String::from(
        "## List and read (`hanko serve`, SQLite)\n\n`wrk -t1 -c32` on 127.0.0.1 with alice's dev \
         login token: `GET /api/approvals?status=pending&limit=50` (list) and \
         `GET /api/approvals/{id}` for random pending ids (read). One request in twenty is \
         pending, the rest decided with a vote; each has two approver rows and a ~1.3 KB body. \
         Peak memory is the server's VmHWM after that load.\n\n\
         | requests | seed | db size | list req/s | list p50 | list p99 | read req/s | read p50 | read p99 | peak memory |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n",
    );
    for (n, seeded, size, list, _lp, read, rp) in &rows {
        let _ = writeln!(
            s,
            "| {n} | {seeded:.1} s | {:.0} MB | {:.0} | {:.2} ms | {:.2} ms | {:.0} | {:.2} ms | {:.2} ms | {} |",
            *size as f64 / 1e6,
            list.rps,
            list.p50,
            list.p99,
            read.rps,
            read.p50,
            read.p99,
            mib(*rp)
        );
        if list.errors + read.errors > 0 {
            let _ = writeln!(
                s,
                "\n(at {n}: {} list and {} read answers were not 2xx)\n",
                list.errors, read.errors
            );
        }
    }
    let at = |n: usize| rows.iter().find(|r| r.0 == n);
    if let Some(r) = at(100_000) {
        let _ = writeln!(
            s,
            "\nTarget at 100k: ≥ 10k req/s and p99 ≤ 5 ms. List: {} ({:.0} req/s, p99 {:.2} ms); \
             read: {} ({:.0} req/s, p99 {:.2} ms).",
            yes(r.3.rps >= 10_000.0 && r.3.p99 <= 5.0),
            r.3.rps,
            r.3.p99,
            yes(r.5.rps >= 10_000.0 && r.5.p99 <= 5.0),
            r.5.rps,
            r.5.p99
        );
    }
    if let (Some(a), Some(b)) = (at(10_000), at(1_000_000)) {
        let l = a.3.rps / b.3.rps;
        let r = a.5.rps / b.5.rps;
        let _ = writeln!(
            s,
            "Target: 1M no more than 1.5× slower than 10k. List {l:.2}× ({}), read {r:.2}× ({}).",
            yes(l <= 1.5),
            yes(r <= 1.5)
        );
    }
    s.push('\n');
    Ok(s)
}

// ---------------------------------------------------------------------------------------
// Decide

async fn decide(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    const N: usize = 2000;
    const CONCURRENCY: usize = 8;
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
    let failed = failures.len();
    // What went wrong, once per kind of answer.
    failures.sort();
    failures.dedup_by(|a, b| a.split(' ').next() == b.split(' ').next());
    let failure_note = if failures.is_empty() {
        String::new()
    } else {
        format!(
            "\nNot 2xx (one example of each): {}.\n",
            failures
                .iter()
                .map(|f| format!("`{}`", f.chars().take(200).collect::<String>()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let took = t0.elapsed().as_secs_f64();
    let peak = serve.peak();
    drop(serve);
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let calls = stub.calls() - before;
    let p99 = percentile(&lat, 0.99);
    Ok(format!(
        "## Decide\n\n{N} approvals, each its own `POST /api/approvals/{{id}}/decision` ({CONCURRENCY} \
         at a time), on a 10k-request SQLite database; Step Functions is a local stub that answers \
         SendTaskSuccess at once. Each approval records the vote, signs the decision (ES256) and \
         calls SendTaskSuccess before it answers.\n\n\
         | decisions/s | p50 | p99 | failed | SendTaskSuccess calls | peak memory |\n\
         | ---: | ---: | ---: | ---: | ---: | ---: |\n\
         | {:.0} | {:.2} ms | {:.2} ms | {failed} | {calls} | {} |\n\n\
         Target p99 ≤ 20 ms: {}.\n{failure_note}",
        lat.len() as f64 / took,
        percentile(&lat, 0.5),
        p99,
        mib(peak),
        yes(p99 <= 20.0)
    ))
}

// ---------------------------------------------------------------------------------------
// Intake

fn intake_message(i: usize, run: &str) -> Value {
    json!({
        "taskToken": format!("AQCEAAAAKgAAAAMAAAAAAAAAA{run}{i:08}{}", "t".repeat(600)),
        "execution": {"Id": format!("arn:aws:states:ap-northeast-1:123456789012:execution:deploy:{run}-{i}"),
                      "Name": format!("{run}-{i}")},
        "stateMachine": {"Id": "arn:aws:states:ap-northeast-1:123456789012:stateMachine:deploy", "Name": "deploy"},
        "state": {"Name": "AskForApproval"},
        "title": format!("Deploy shop-api v1.4.{} to production", i % 100),
        "description": "Release notes: faster checkout; fixes the rounding of yen amounts in refunds; upgrades the payment SDK.",
        "details": {"service": "shop-api", "version": format!("1.4.{}", i % 100), "environment": "production",
                    "changes": 12 + i % 30, "ticket": format!("SHOP-{}", 1000 + i)},
        "approvers": ["alice@example.com", "group:release-managers"],
        "requestedBy": "bob@example.com",
        "timeoutSeconds": 86400
    })
}

fn count_requests(db: &Path) -> u64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM requests", [], |r| r.get(0)))
        .unwrap_or(0)
}

#[derive(Parser)]
struct ServeArgsCli {
    #[command(flatten)]
    args: hanko::config::ServeArgs,
}

async fn intake(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
    const N: usize = 10_000;
    const SQS_N: usize = 1_000;
    let dir = args.work.join("intake");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;

    // In process: the Lambda intake handler (`HANKO_HANDLER=intake`) called directly.
    let lambda_rate = {
        let data = dir.join("lambda");
        let cli = ServeArgsCli::parse_from([
            "x",
            "--data-dir",
            data.to_str().unwrap_or("."),
            "--dev-users",
            "infra/dev-users.json",
            "--aws-endpoint-url",
            &stub.url,
        ]);
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("ap-northeast-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "bench",
            ))
            .endpoint_url(&stub.url)
            .load()
            .await;
        let parts = hanko::serve::build(&cli.args, sdk, "https://hanko.example").await?;
        let hanko = parts.state.hanko.clone();
        let t0 = Instant::now();
        for i in 0..N {
            let out = hanko::intake::handle_invoke(&hanko, intake_message(i, "lambda"))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            if out["status"] != "created" {
                bail!("intake answered {out}");
            }
        }
        N as f64 / t0.elapsed().as_secs_f64()
    };

    // Through SQS: moto, the intake queue, and `hanko serve`'s poller.
    let sqs_result: anyhow::Result<(f64, f64, u64)> = async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let moto = MotoGuard(
            Command::new(&args.moto)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(dir.join("moto.log"))?)
                .spawn()
                .with_context(|| format!("starting {}", args.moto.display()))?,
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let t0 = Instant::now();
        while http
            .get(format!("{endpoint}/moto-api/"))
            .send()
            .await
            .is_err()
        {
            if t0.elapsed() > Duration::from_secs(30) {
                bail!("moto did not start");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("ap-northeast-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "test", "test", None, None, "bench",
            ))
            .endpoint_url(&endpoint)
            .load()
            .await;
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let queue = sqs
            .create_queue()
            .queue_name("hanko-intake")
            .send()
            .await?
            .queue_url
            .context("no queue url")?;
        let t0 = Instant::now();
        let mut sends = Vec::new();
        // moto answers a batch slowly on a loaded machine: the queue gets SQS_N messages,
        // or what two minutes of sending puts in it.
        for chunk in (0..SQS_N).collect::<Vec<_>>().chunks(10) {
            if t0.elapsed() > Duration::from_secs(120) {
                break;
            }
            let mut b = sqs.send_message_batch().queue_url(&queue);
            for &i in chunk {
                b = b.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(intake_message(i, "sqs").to_string())
                        .build()?,
                );
            }
            sends.push(b.send());
            if sends.len() == 8 {
                for s in sends.drain(..) {
                    s.await?;
                }
            }
        }
        for s in sends {
            s.await?;
        }
        let sent = t0.elapsed().as_secs_f64();
        // Counted before the poller starts: once it runs, the messages it holds are not
        // visible, and the count would come short of what the queue held.
        let queued = sqs
            .get_queue_attributes()
            .queue_url(&queue)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .ok()
            .and_then(|a| {
                a.attributes()?
                    .get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(SQS_N as u64);
        let db = dir.join("sqs/hanko.db");
        std::fs::create_dir_all(db.parent().unwrap_or(&dir))?;
        let t0 = Instant::now();
        let serve = Serve::start(
            args,
            &db,
            &[
                ("AWS_ENDPOINT_URL", endpoint.clone()),
                ("HANKO_INTAKE_QUEUE_URL", queue.clone()),
                ("HANKO_INTAKE_WAIT_SECONDS", "1".into()),
            ],
            &dir.join("serve.log"),
        )
        .await?;
        let limit = Duration::from_secs(240);
        let mut stored = 0;
        while t0.elapsed() < limit {
            stored = count_requests(&db);
            if stored >= queued {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let rate = stored as f64 / t0.elapsed().as_secs_f64();
        let peak = serve.peak();
        drop(serve);
        drop(moto);
        let _ = sent;
        Ok((rate, stored as f64, peak))
    }
    .await;
    let sqs_row = match &sqs_result {
        Ok((rate, stored, peak)) => format!(
            "| SQS poller in `hanko serve` (moto) | {rate:.0} | {stored:.0} messages (of {SQS_N} sent) stored; peak memory {} |",
            mib(*peak)
        ),
        Err(e) => format!("| SQS poller in `hanko serve` (moto) | — | not measured: {e:#} |"),
    };
    Ok(format!(
        "## Intake\n\n{N} valid intake messages (two approvers each; the file outbox writes the \
         notification emails).\n\n| path | requests stored/s | notes |\n| --- | ---: | --- |\n\
         | Lambda intake handler, called in process | {lambda_rate:.0} | one after another, as one Lambda instance would |\n\
         {sqs_row}\n\nThe SQS figure counts from `hanko serve`'s start (the queue already holds \
         its messages) until all are stored; moto, the local AWS, is itself slow (a Python \
         server), so it bounds this figure.\n"
    ))
}

struct MotoGuard(Child);

impl Drop for MotoGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
