//! A fault-injecting HTTP proxy between `hanko` and the local AWS (moto). Everything is
//! forwarded as is, except Step Functions callbacks (`X-Amz-Target:
//! AWSStepFunctions.SendTask*`), which it can answer with a 500, a 503 or a throttling
//! error, cut off (before or after forwarding), delay, or hold until released, for a
//! number of calls or for a time. It counts what it did.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What to do to one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 500 InternalFailure without forwarding.
    Status500,
    /// Answer 503 ServiceUnavailable without forwarding.
    Status503,
    /// Answer 400 ThrottlingException without forwarding.
    Throttle,
    /// Close the connection without forwarding.
    DropBefore,
    /// Forward, then close the connection without answering: the call took effect, the
    /// caller cannot know.
    DropAfter,
    /// Wait this long, then forward and answer (if the caller still listens).
    Delay(Duration),
    /// Hold the call until [`FaultProxy::release`]. If the caller went away meanwhile, the
    /// call is forwarded anyway when `forward_orphans`, else dropped.
    Hold { forward_orphans: bool },
}

impl Fault {
    fn name(&self) -> &'static str {
        match self {
            Fault::Status500 => "500",
            Fault::Status503 => "503",
            Fault::Throttle => "throttling",
            Fault::DropBefore => "dropped before forwarding",
            Fault::DropAfter => "dropped after forwarding",
            Fault::Delay(_) => "delayed",
            Fault::Hold { .. } => "held",
        }
    }
}

/// How long a plan of faults lasts.
#[derive(Debug, Clone, Copy)]
pub enum Span {
    Calls(usize),
    For(Duration),
}

struct Plan {
    faults: Vec<Fault>,
    next: usize,
    calls_left: Option<usize>,
    until: Option<Instant>,
}

/// What the proxy did, for assertions and reports.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Every SendTaskSuccess/SendTaskFailure call that reached the proxy.
    pub callbacks_seen: usize,
    /// Callbacks passed on to Step Functions (including after a delay or a hold).
    pub callbacks_forwarded: usize,
    /// Of those, the ones Step Functions accepted (2xx).
    pub callbacks_accepted: usize,
    /// Of those, the ones Step Functions refused because the task was gone.
    pub callbacks_task_gone: usize,
    /// Faults injected, by kind.
    pub injected: BTreeMap<&'static str, usize>,
    /// Every other AWS call, forwarded untouched.
    pub other_calls: usize,
}

impl Counts {
    pub fn faults(&self) -> usize {
        self.injected.values().sum()
    }
}

struct Shared {
    upstream: String,
    http: reqwest::Client,
    plan: Mutex<Option<Plan>>,
    counts: Mutex<Counts>,
    held: Mutex<usize>,
    release: watch::Sender<u64>,
    /// Callback bodies seen (they carry task tokens), for secrecy checks.
    bodies: Mutex<Vec<String>>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free port of 127.0.0.1 and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let (release, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(16)
                .build()?,
            plan: Mutex::new(None),
            counts: Mutex::new(Counts::default()),
            held: Mutex::new(0),
            release,
            bodies: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(stream, s).await;
                });
            }
        });
        Ok(Self {
            endpoint,
            shared,
            task,
        })
    }

    /// From now on, callbacks meet `faults` in turn, for `span`.
    pub fn misbehave(&self, faults: &[Fault], span: Span) {
        let (calls_left, until) = match span {
            Span::Calls(n) => (Some(n), None),
            Span::For(d) => (None, Some(Instant::now() + d)),
        };
        *self.shared.plan.lock().unwrap() = Some(Plan {
            faults: faults.to_vec(),
            next: 0,
            calls_left,
            until,
        });
    }

    /// Forward every call from now on (held calls stay held until released).
    pub fn behave(&self) {
        *self.shared.plan.lock().unwrap() = None;
    }

    /// Lets every held call go.
    pub fn release(&self) {
        self.shared.release.send_modify(|g| *g += 1);
    }

    /// Calls held right now.
    pub fn held(&self) -> usize {
        *self.shared.held.lock().unwrap()
    }

    pub fn counts(&self) -> Counts {
        self.shared.counts.lock().unwrap().clone()
    }

    /// Bodies of the callbacks that reached the proxy.
    pub fn callback_bodies(&self) -> Vec<String> {
        self.shared.bodies.lock().unwrap().clone()
    }

    /// Waits until `n` calls are held.
    pub async fn wait_held(&self, n: usize, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        while self.held() < n {
            if Instant::now() > deadline {
                anyhow::bail!("only {} of {n} calls held", self.held());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

fn next_fault(s: &Shared) -> Option<Fault> {
    let mut plan = s.plan.lock().unwrap();
    let p = plan.as_mut()?;
    let over = p.calls_left == Some(0) || p.until.is_some_and(|u| Instant::now() >= u);
    if over || p.faults.is_empty() {
        *plan = None;
        return None;
    }
    if let Some(n) = p.calls_left.as_mut() {
        *n -= 1;
    }
    let f = p.faults[p.next % p.faults.len()];
    p.next += 1;
    Some(f)
}

struct Req {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Req {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// Reads one HTTP/1.1 request (Content-Length bodies; the AWS SDK sends those).
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> anyhow::Result<Option<Req>> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let first = lines.next().context("request line")?;
    let mut parts = first.split(' ');
    let method = parts.next().context("method")?.to_string();
    let path = parts.next().context("path")?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let start = head_end + 4;
    while buf.len() < start + len {
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            anyhow::bail!("connection closed inside a body");
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = buf[start..start + len].to_vec();
    buf.drain(..start + len);
    Ok(Some(Req {
        method,
        path,
        headers,
        body,
    }))
}

async fn forward(s: &Shared, req: &Req) -> anyhow::Result<Resp> {
    let method = reqwest::Method::from_bytes(req.method.as_bytes())?;
    let mut rb = s
        .http
        .request(method, format!("{}{}", s.upstream, req.path))
        .body(req.body.clone());
    for (k, v) in &req.headers {
        let lk = k.to_ascii_lowercase();
        if !matches!(
            lk.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            rb = rb.header(k, v);
        }
    }
    let r = rb.send().await?;
    let status = r.status().as_u16();
    let headers = r
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            )
        })
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).to_string(),
            )
        })
        .collect();
    let body = r.bytes().await?.to_vec();
    Ok(Resp {
        status,
        headers,
        body,
    })
}

fn error_response(status: u16, kind: &str, message: &str) -> Resp {
    Resp {
        status,
        headers: vec![
            ("content-type".into(), "application/x-amz-json-1.0".into()),
            ("x-amzn-errortype".into(), kind.into()),
        ],
        body: serde_json::json!({"__type": kind, "message": message})
            .to_string()
            .into_bytes(),
    }
}

async fn write_response(stream: &mut TcpStream, r: &Resp) -> std::io::Result<()> {
    let mut out = format!("HTTP/1.1 {} X\r\n", r.status);
    for (k, v) in &r.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n", r.body.len()));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&r.body);
    stream.write_all(&bytes).await?;
    stream.flush().await
}

/// Forwards a callback and counts what Step Functions said.
async fn forward_callback(s: &Shared, req: &Req) -> anyhow::Result<Resp> {
    let r = forward(s, req).await?;
    let mut c = s.counts.lock().unwrap();
    c.callbacks_forwarded += 1;
    if (200..300).contains(&r.status) {
        c.callbacks_accepted += 1;
    } else {
        let body = String::from_utf8_lossy(&r.body);
        if ["InvalidToken", "TaskTimedOut", "TaskDoesNotExist"]
            .iter()
            .any(|code| body.contains(code))
        {
            c.callbacks_task_gone += 1;
        }
    }
    Ok(r)
}

async fn serve_connection(mut stream: TcpStream, s: Arc<Shared>) -> anyhow::Result<()> {
    let mut buf = Vec::new();
    while let Some(req) = read_request(&mut stream, &mut buf).await? {
        let is_callback = req
            .header("x-amz-target")
            .is_some_and(|t| t.starts_with("AWSStepFunctions.SendTask"));
        if !is_callback {
            s.counts.lock().unwrap().other_calls += 1;
            let r = forward(&s, &req).await?;
            write_response(&mut stream, &r).await?;
            continue;
        }
        s.counts.lock().unwrap().callbacks_seen += 1;
        s.bodies
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&req.body).to_string());
        let fault = next_fault(&s);
        if let Some(f) = fault {
            *s.counts
                .lock()
                .unwrap()
                .injected
                .entry(f.name())
                .or_default() += 1;
        }
        match fault {
            None => {
                let r = forward_callback(&s, &req).await?;
                write_response(&mut stream, &r).await?;
            }
            Some(Fault::Status500) => {
                let r = error_response(500, "InternalFailure", "injected by the test proxy");
                write_response(&mut stream, &r).await?;
            }
            Some(Fault::Status503) => {
                let r = error_response(503, "ServiceUnavailable", "injected by the test proxy");
                write_response(&mut stream, &r).await?;
            }
            Some(Fault::Throttle) => {
                let r = error_response(400, "ThrottlingException", "Rate exceeded");
                write_response(&mut stream, &r).await?;
            }
            Some(Fault::DropBefore) => return Ok(()),
            Some(Fault::DropAfter) => {
                forward_callback(&s, &req).await?;
                return Ok(());
            }
            Some(Fault::Delay(d)) => {
                tokio::time::sleep(d).await;
                let r = forward_callback(&s, &req).await?;
                // The caller may have given up; that is the point.
                if write_response(&mut stream, &r).await.is_err() {
                    return Ok(());
                }
            }
            Some(Fault::Hold { forward_orphans }) => {
                let mut release = s.release.subscribe();
                *s.held.lock().unwrap() += 1;
                let mut probe = [0u8; 1];
                let caller_gone = tokio::select! {
                    _ = release.changed() => false,
                    r = stream.peek(&mut probe) => matches!(r, Ok(0) | Err(_)),
                };
                if caller_gone {
                    // Keep it until released, like a request stuck in the network.
                    let _ = release.changed().await;
                }
                *s.held.lock().unwrap() -= 1;
                if caller_gone {
                    if forward_orphans {
                        forward_callback(&s, &req).await?;
                    }
                    return Ok(());
                }
                let r = forward_callback(&s, &req).await?;
                write_response(&mut stream, &r).await?;
            }
        }
    }
    Ok(())
}
