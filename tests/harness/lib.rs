//! The end-to-end harness: a real moto server (local AWS) with Step Functions execution
//! switched on, the intake queue and the example state machine from `infra/`, and a real
//! `hanko serve` on a free port. Every test stops what it started.
//!
//! Optionally a fault-injecting proxy sits between `hanko` and moto ([`proxy`]), and
//! `hanko serve` runs as a real child process (the `hanko` binary), so a test can kill it.
//!
//! # What the DynamoDB tests prove, and what they rest on
//!
//! moto's DynamoDB is not isolated under concurrency: a transaction checks its conditions
//! and writes with no lock while moto serves requests on threads, and a cancelled one
//! restores a copy of the whole table, erasing what other clients committed meanwhile. So
//! every test that relies on DynamoDB's atomicity (the store conformance suite, the races,
//! any [`Stack`] with [`Options::dynamodb`]) runs on [`Moto::start_serial_dynamodb`]:
//! moto with one lock around every DynamoDB request (`scripts/moto-serial-dynamodb.py`),
//! the other services threaded as usual. Each DynamoDB request then runs alone, which is
//! the serializable isolation DynamoDB gives transactions. On it the DynamoDB tests prove
//! Hanko's side: that its condition expressions, transactions and version checks let one
//! decision through a race and refuse every other write, on any interleaving of whole
//! requests. They do not prove DynamoDB's side: that AWS isolates concurrent transactions
//! and conditional writes as documented is assumed, not tested here (no emulator can).

pub mod browser;
pub mod cognito;
pub mod mail;
pub mod oidc;
pub mod proxy;
pub mod webauthn;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use clap::Parser;
use hanko::config::ServeArgs;
use hanko::serve::Running;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

/// The DynamoDB item of request `id` in `table` (key `REQ#<id>` / `REQ`).
pub async fn request_item(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    id: &str,
) -> anyhow::Result<HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    use aws_sdk_dynamodb::types::AttributeValue;
    client
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(format!("REQ#{id}")))
        .key("sk", AttributeValue::S("REQ".into()))
        .send()
        .await?
        .item
        .with_context(|| format!("no item for request {id}"))
}

/// The `kid` Hanko gives the public key of the KMS key `key`.
pub async fn kms_kid(kms: &aws_sdk_kms::Client, key: &str) -> anyhow::Result<String> {
    let spki = kms.get_public_key().key_id(key).send().await?;
    let der = spki.public_key().context("no public key")?;
    Ok(hanko::keys::EcPublicKey::from_spki_der(der.as_ref())?
        .kid()
        .to_string())
}

/// The workspace root (tests/ is one level down).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// `moto_server` from the project's venv (made by scripts/setup.sh), or `HANKO_MOTO_SERVER`.
pub fn moto_server_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HANKO_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    root().join(".venv/bin/moto_server")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A moto server on 127.0.0.1; killed when dropped.
pub struct Moto {
    pub endpoint: String,
    pub sdk: SdkConfig,
    /// Started with [`Moto::start_serial_dynamodb`].
    pub serial_dynamodb: bool,
    _child: Child,
    _stderr: tempfile::NamedTempFile,
}

/// The launcher of [`Moto::start_serial_dynamodb`], run by the venv's python.
pub const SERIAL_DYNAMODB_LAUNCHER: &str = "scripts/moto-serial-dynamodb.py";

impl Moto {
    /// Plain moto_server, for tests that do not rely on DynamoDB's isolation.
    pub async fn start() -> anyhow::Result<Self> {
        Self::launch(false).await
    }

    /// moto_server with its DynamoDB serial (scripts/moto-serial-dynamodb.py): one
    /// DynamoDB request at a time, every other service threaded as usual. moto's threaded
    /// DynamoDB does not isolate concurrent requests (a cancelled transaction restores a
    /// copy of the whole table, undoing what others wrote meanwhile); one at a time is the
    /// serializable isolation DynamoDB gives transactions. Every test that relies on that
    /// isolation starts its moto here; a [`Stack`] with [`Options::dynamodb`] does.
    pub async fn start_serial_dynamodb() -> anyhow::Result<Self> {
        Self::launch(true).await
    }

    async fn launch(serial_dynamodb: bool) -> anyhow::Result<Self> {
        let bin = moto_server_bin();
        if !bin.exists() {
            bail!(
                "{} is missing: run scripts/setup.sh (or set HANKO_MOTO_SERVER)",
                bin.display()
            );
        }
        let mut cmd = if serial_dynamodb {
            // The venv's python sits beside its moto_server.
            let mut c = Command::new(bin.with_file_name("python"));
            c.arg(root().join(SERIAL_DYNAMODB_LAUNCHER));
            c
        } else {
            Command::new(&bin)
        };
        let port = free_port();
        // moto's standard error, kept to say why it stopped (the launcher names what it
        // could not wrap).
        let stderr = tempfile::NamedTempFile::new()?;
        let mut child = cmd
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(stderr.reopen()?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if http
                .get(format!("{endpoint}/moto-api/"))
                .send()
                .await
                .is_ok()
            {
                break;
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "moto stopped before it answered ({status}): {}",
                    std::fs::read_to_string(stderr.path()).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                bail!("moto did not start on {endpoint}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // Must come before any state machine is created.
        http.post(format!("{endpoint}/moto-api/config"))
            .json(&json!({"stepfunctions": {"execute_state_machine": true}}))
            .send()
            .await?
            .error_for_status()?;
        let sdk = sdk_for(&endpoint).await;
        Ok(Self {
            endpoint,
            sdk,
            serial_dynamodb,
            _child: child,
            _stderr: stderr,
        })
    }
}

/// Creates the SQS queue `name`; answers its URL and its ARN (what a rule's target or a
/// state machine names).
pub async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
) -> anyhow::Result<(String, String)> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await?
        .queue_url()
        .context("no queue URL")?
        .to_string();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .context("no queue ARN")?;
    Ok((url, arn))
}

/// The AWS configuration the tests use: region ap-northeast-1, static credentials.
pub async fn sdk_for(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("ap-northeast-1"))
        .credentials_provider(aws_sdk_sfn::config::Credentials::new(
            "test", "test", None, None, "moto",
        ))
        .load()
        .await
}

/// The `hanko` binary of this build: built (if it is not up to date) into the target
/// folder this test binary lives in, then copied to `dir` so that a build of another
/// checkout sharing the target folder cannot swap it during the test.
pub fn hanko_binary(dir: &Path) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("HANKO_BIN") {
        return Ok(PathBuf::from(p));
    }
    // <target>/<profile>/deps/<this test binary>
    let exe = std::env::current_exe()?;
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .context("test binary outside a cargo target folder")?;
    let target_dir = profile_dir.parent().context("target folder")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let mut cmd = std::process::Command::new(cargo);
    cmd.args(["build", "--quiet", "-p", "hanko", "--bin", "hanko"])
        .env("CARGO_TARGET_DIR", target_dir)
        .current_dir(root());
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let out = cmd.output().context("running cargo build -p hanko")?;
    if !out.status.success() {
        bail!(
            "cargo build -p hanko failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let built = profile_dir.join("hanko");
    let copy = dir.join("hanko-under-test");
    std::fs::copy(&built, &copy).with_context(|| format!("copying {}", built.display()))?;
    Ok(copy)
}

/// `hanko serve` as a child process; killed when dropped. Its standard error (every log
/// line) goes to a file, its standard output (the metric lines, with JSON logs) to
/// `hanko-stdout.log` beside it.
pub struct HankoProcess {
    child: std::process::Child,
    pub stderr_path: PathBuf,
}

impl HankoProcess {
    pub fn spawn(
        bin: &Path,
        argv: &[String],
        env: &[(String, String)],
        stderr_path: PathBuf,
    ) -> anyhow::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&stderr_path)?;
        let child = std::process::Command::new(bin)
            .arg("serve")
            .args(argv)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "ap-northeast-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(stderr_path.with_file_name("hanko-stdout.log"))?,
            )
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        Ok(Self { child, stderr_path })
    }

    /// SIGKILL: no shutdown, no flush, like a power cut.
    pub fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    /// SIGTERM and wait.
    pub fn terminate(&mut self) -> anyhow::Result<()> {
        let pid = self.child.id().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait()?.is_none() {
            if Instant::now() > deadline {
                self.child.kill()?;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }
}

impl Drop for HankoProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// How to start a [`Stack`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Serve the built console from `dist/`.
    pub console: bool,
    /// Put a [`proxy::FaultProxy`] between `hanko` and moto.
    pub proxy: bool,
    /// Run `hanko serve` as a child process (the real binary).
    pub process: bool,
    /// More `hanko serve` flags (they override the defaults).
    pub args: Vec<String>,
    /// Requests live in a DynamoDB table on moto (`HANKO_STORE=dynamodb`), not SQLite.
    pub dynamodb: bool,
    /// No dev identity provider (`--dev-users` left out): log in only through the OIDC
    /// provider given in `args`.
    pub no_dev_login: bool,
    /// The example state machine as infra/ ships it, whose messages name no approvers (an
    /// approval policy, `--policy-file` in `args`, supplies them). Otherwise it also passes
    /// `approvers`, `requiredApprovals` and `allowSelfApproval` from the execution's input,
    /// as workflows did before approval policies, for tests that choose approvers per
    /// execution (bounded by a policy when one is given).
    pub as_shipped: bool,
    /// More environment variables for the `hanko serve` child process (with `process`).
    pub env: Vec<(String, String)>,
}

/// The example state machine's definition with the governed fields taken from the input.
pub fn workflow_names_approvers(asl: &str) -> anyhow::Result<String> {
    let mut def: Value = serde_json::from_str(asl)?;
    let body = def["States"]["AskForApproval"]["Parameters"]["MessageBody"]
        .as_object_mut()
        .context("the example state machine's MessageBody")?;
    body.insert("approvers.$".into(), json!("$.approvers"));
    body.insert("requiredApprovals.$".into(), json!("$.requiredApprovals"));
    body.insert("allowSelfApproval.$".into(), json!("$.allowSelfApproval"));
    Ok(def.to_string())
}

/// The name the DynamoDB stack tests use for [`Options`].
pub type StackOptions = Options;

/// Password of the generated `approverNN@example.com` users.
pub const APPROVER_PASSWORD: &str = "many-approvers";

/// Users: those of infra/dev-users.json, plus approver01..20@example.com in group `approvers`.
fn write_users_file(dir: &Path) -> anyhow::Result<PathBuf> {
    let base: Value = serde_json::from_str(&std::fs::read_to_string(
        root().join("infra/dev-users.json"),
    )?)?;
    let mut users = base["users"].as_array().cloned().unwrap_or_default();
    let hash = hanko::auth::dev::hash_password(APPROVER_PASSWORD)?;
    for i in 1..=20 {
        users.push(json!({
            "email": format!("approver{i:02}@example.com"),
            "name": format!("Approver {i}"),
            "groups": ["approvers"],
            "passwordHash": hash,
        }));
    }
    let path = dir.join("users.json");
    std::fs::write(&path, serde_json::to_vec(&json!({"users": users}))?)?;
    Ok(path)
}

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: ServeArgs,
}

/// The table of a stack started with [`Options::dynamodb`].
pub const STACK_TABLE: &str = "hanko";

/// moto + intake queue + example state machine + `hanko serve`.
pub struct Stack {
    pub moto: Moto,
    pub hanko: Option<Running>,
    pub proxy: Option<proxy::FaultProxy>,
    pub process: Option<HankoProcess>,
    /// The `hanko` binary a process stack (re)starts, and its flags.
    pub bin: Option<PathBuf>,
    pub argv: Vec<String>,
    /// More environment of the child process (see [`Options::env`]).
    pub env: Vec<(String, String)>,
    pub base: String,
    pub http: reqwest::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue_url: String,
    pub state_machine_arn: String,
    pub data: tempfile::TempDir,
}

impl Stack {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(false).await
    }

    /// With `console`, `hanko serve` also serves the built console from `dist/`.
    pub async fn start_with(console: bool) -> anyhow::Result<Self> {
        Self::start_opts(Options {
            console,
            ..Options::default()
        })
        .await
    }

    /// On a moto of its own: with [`Options::dynamodb`], one whose DynamoDB is serial
    /// ([`Moto::start_serial_dynamodb`]).
    pub async fn start_opts(opts: Options) -> anyhow::Result<Self> {
        let moto = match opts.dynamodb {
            true => Moto::start_serial_dynamodb().await?,
            false => Moto::start().await?,
        };
        Self::start_on(moto, opts).await
    }

    /// The same on a moto the test already started (and set up, e.g. a Cognito user pool).
    /// With [`Options::dynamodb`] that moto must be [`Moto::start_serial_dynamodb`]'s.
    pub async fn start_on(moto: Moto, opts: Options) -> anyhow::Result<Self> {
        if opts.dynamodb && !moto.serial_dynamodb {
            bail!(
                "a stack on the DynamoDB store needs Moto::start_serial_dynamodb(): plain \
                 moto does not isolate concurrent DynamoDB requests"
            );
        }
        let dist = root().join("dist");
        if opts.console && !dist.join("index.html").is_file() {
            bail!("the console is not built: run scripts/build-console.sh");
        }
        let sqs = aws_sdk_sqs::Client::new(&moto.sdk);
        let sfn = aws_sdk_sfn::Client::new(&moto.sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name("hanko-intake")
            .send()
            .await?
            .queue_url()
            .context("queue url")?
            .to_string();
        let asl = std::fs::read_to_string(root().join("infra/example-state-machine.asl.json"))?
            .replace("${IntakeQueueUrl}", &queue_url);
        let asl = if opts.as_shipped {
            asl
        } else {
            workflow_names_approvers(&asl)?
        };
        let state_machine_arn = sfn
            .create_state_machine()
            .name("hanko-example")
            .definition(asl)
            .role_arn("arn:aws:iam::123456789012:role/hanko-example")
            .send()
            .await?
            .state_machine_arn()
            .to_string();
        let data = tempfile::tempdir()?;
        let users = write_users_file(data.path())?;
        let proxy = match opts.proxy {
            true => Some(proxy::FaultProxy::start(&moto.endpoint).await?),
            false => None,
        };
        let aws_endpoint = proxy
            .as_ref()
            .map_or(moto.endpoint.clone(), |p| p.endpoint.clone());
        let listen = match opts.process {
            // A fixed port, so that a restarted process answers at the same address.
            true => format!("127.0.0.1:{}", free_port()),
            false => "127.0.0.1:0".to_string(),
        };
        let mut argv: Vec<String> = [
            "--listen",
            &listen,
            "--data-dir",
            data.path().to_str().context("utf-8 temp path")?,
            "--intake-queue-url",
            &queue_url,
            "--intake-wait-seconds",
            "1",
            "--sweep-interval-seconds",
            "1",
            // Many test users log in from 127.0.0.1 within a minute.
            "--login-rate-limit",
            "1000",
            "--aws-endpoint-url",
            &aws_endpoint,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !opts.no_dev_login {
            argv.extend([
                "--dev-users".into(),
                users.to_str().context("utf-8 temp path")?.into(),
            ]);
        }
        if opts.console {
            argv.extend([
                "--console-dir".into(),
                dist.to_str().context("utf-8")?.into(),
            ]);
        }
        if opts.dynamodb {
            hanko::store::dynamo::DynamoStore::create_table(
                &aws_sdk_dynamodb::Client::new(&moto.sdk),
                STACK_TABLE,
            )
            .await?;
            argv.extend(["--store", "dynamodb", "--table", STACK_TABLE].map(String::from));
        }
        argv.extend(opts.args.iter().cloned());
        let http = reqwest::Client::new();
        let mut stack = Self {
            moto,
            hanko: None,
            proxy,
            process: None,
            bin: None,
            argv,
            env: opts.env.clone(),
            base: String::new(),
            http,
            sfn,
            sqs,
            queue_url,
            state_machine_arn,
            data,
        };
        if opts.process {
            stack.bin = Some(hanko_binary(stack.data.path())?);
            stack.base = format!("http://{listen}");
            stack.spawn_process().await?;
        } else {
            let mut full = vec!["hanko".to_string()];
            full.extend(stack.argv.iter().cloned());
            let args = Cli::try_parse_from(full)?.args;
            let running = hanko::serve::start(args, Some(sdk_for(&aws_endpoint).await)).await?;
            stack.base = format!("http://{}", running.addr);
            stack.hanko = Some(running);
        }
        Ok(stack)
    }

    /// Starts the `hanko serve` child process (again) and waits until it answers.
    pub async fn spawn_process(&mut self) -> anyhow::Result<()> {
        let bin = self.bin.clone().context("not a process stack")?;
        let log = self.data.path().join("hanko-stderr.log");
        self.process = Some(HankoProcess::spawn(&bin, &self.argv, &self.env, log)?);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = self
                .http
                .get(format!("{}/api/health", self.base))
                .send()
                .await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "hanko serve did not answer at {}: {}",
                    self.base,
                    self.hanko_log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Everything the `hanko serve` child process wrote to standard error so far.
    pub fn hanko_log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("hanko-stderr.log")).unwrap_or_default()
    }

    /// Everything the `hanko serve` child process wrote to standard output so far: with
    /// `--log-format json`, its metric lines (Embedded Metric Format).
    pub fn hanko_stdout(&self) -> String {
        std::fs::read_to_string(self.data.path().join("hanko-stdout.log")).unwrap_or_default()
    }

    pub fn proxy(&self) -> &proxy::FaultProxy {
        self.proxy.as_ref().expect("a stack started with a proxy")
    }

    /// The SQLite database `hanko serve` writes.
    pub fn database(&self) -> PathBuf {
        self.data.path().join("hanko.db")
    }

    /// Stops `hanko serve`; moto stops when the stack is dropped.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(h) = self.hanko.take() {
            h.stop().await?;
        }
        if let Some(mut p) = self.process.take() {
            p.terminate()?;
        }
        Ok(())
    }

    pub fn outbox(&self) -> PathBuf {
        self.data.path().join("outbox")
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<String> {
        let r = self
            .http
            .post(format!("{}/api/dev/login", self.base))
            .json(&json!({"email": email, "password": password}))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("login {email}: {} {}", r.status(), r.text().await?);
        }
        let v: Value = r.json().await?;
        Ok(v["token"].as_str().context("token")?.to_string())
    }

    /// The public keys `hanko serve` publishes (`/.well-known/jwks.json`).
    pub async fn jwks(&self) -> anyhow::Result<Value> {
        let r = self
            .http
            .get(format!("{}/.well-known/jwks.json", self.base))
            .send()
            .await?
            .error_for_status()?;
        Ok(r.json().await?)
    }

    pub async fn get(&self, path: &str, token: &str) -> anyhow::Result<(u16, Value)> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    pub async fn decide(&self, id: &str, token: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let r = self
            .http
            .post(format!("{}/api/approvals/{id}/decision", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    }

    pub async fn start_execution(&self, name: &str, input: Value) -> anyhow::Result<String> {
        self.start_execution_of(&self.state_machine_arn, name, input)
            .await
    }

    /// Creates another state machine beside the example one (its `${IntakeQueueUrl}`
    /// replaced); returns its ARN.
    pub async fn create_state_machine(
        &self,
        name: &str,
        definition: &Value,
    ) -> anyhow::Result<String> {
        let asl = definition
            .to_string()
            .replace("${IntakeQueueUrl}", &self.queue_url);
        Ok(self
            .sfn
            .create_state_machine()
            .name(name)
            .definition(asl)
            .role_arn("arn:aws:iam::123456789012:role/hanko-example")
            .send()
            .await?
            .state_machine_arn()
            .to_string())
    }

    pub async fn start_execution_of(
        &self,
        state_machine_arn: &str,
        name: &str,
        input: Value,
    ) -> anyhow::Result<String> {
        Ok(self
            .sfn
            .start_execution()
            .state_machine_arn(state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await?
            .execution_arn()
            .to_string())
    }

    /// Waits until the request of `execution_name` shows up in the api; returns its id.
    pub async fn wait_for_request(
        &self,
        execution_name: &str,
        token: &str,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, page) = self
                .get("/api/approvals?status=all&limit=200", token)
                .await?;
            if let Some(item) = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|i| i["executionName"] == execution_name)
            {
                return Ok(item["id"].as_str().context("id")?.to_string());
            }
            if Instant::now() > deadline {
                bail!("no request appeared for execution {execution_name}: {page}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The task token the in-process `hanko serve` keeps for request `id` (for tests that
    /// check it never leaves the server).
    pub async fn task_token(&self, id: &str) -> anyhow::Result<String> {
        let hanko = &self
            .hanko
            .as_ref()
            .context("not an in-process stack")?
            .state
            .hanko;
        let id = hanko::domain::RequestId::parse(id)?;
        let token = hanko
            .store
            .task_token(&id)
            .await?
            .context("the request has no task token")?;
        Ok(token.expose().to_string())
    }

    /// Waits until the execution is no longer running.
    pub async fn wait_for_end(&self, execution_arn: &str) -> anyhow::Result<Execution> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let d = self
                .sfn
                .describe_execution()
                .execution_arn(execution_arn)
                .send()
                .await?;
            if d.status() != &ExecutionStatus::Running {
                let history = self
                    .sfn
                    .get_execution_history()
                    .execution_arn(execution_arn)
                    .max_results(1000)
                    .send()
                    .await?;
                let events = history.events();
                let entered = events
                    .iter()
                    .filter_map(|e| e.state_entered_event_details())
                    .map(|d| d.name().to_string())
                    .collect();
                let task_results = events
                    .iter()
                    .filter(|e| {
                        matches!(
                            e.r#type(),
                            HistoryEventType::TaskSucceeded | HistoryEventType::TaskFailed
                        )
                    })
                    .count();
                return Ok(Execution {
                    status: d.status().clone(),
                    output: d
                        .output()
                        .map(|o| serde_json::from_str(o).unwrap_or(Value::Null)),
                    error: d.error().map(str::to_string),
                    cause: d.cause().map(str::to_string),
                    states_entered: entered,
                    task_results,
                });
            }
            if Instant::now() > deadline {
                bail!("execution {execution_arn} still running");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Sends a raw message to the intake queue, as a state machine would.
    pub async fn send_intake(&self, body: &Value) -> anyhow::Result<()> {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body.to_string())
            .send()
            .await?;
        Ok(())
    }
}

/// How an execution ended.
#[derive(Debug)]
pub struct Execution {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub states_entered: Vec<String>,
    /// TaskSucceeded + TaskFailed events: callbacks Step Functions accepted.
    pub task_results: usize,
}

/// The input of the example state machine.
pub fn example_input(title: &str, approvers: Value, required: u32) -> Value {
    json!({
        "title": title,
        "description": "Release notes: fixes checkout rounding. <b>bold?</b>",
        "details": {"service": "shop-api", "version": "1.4.2", "note": "<img src=x onerror=alert(1)>"},
        "approvers": approvers,
        "requiredApprovals": required,
        "allowSelfApproval": false,
        "requestedBy": "bob@example.com",
        "timeoutSeconds": 3600
    })
}
