//! Intake: how fast new requests are stored, by the Lambda intake handler called in
//! process, and by `hanko serve`'s SQS poller reading a queue on moto.
//!
//! Intake asks Step Functions (`DescribeExecution`) whether the execution a message names
//! runs, and of which state machine, and refuses it otherwise. In process, the bench's stub
//! says RUNNING at once (what is measured is the handler). Through SQS, every message names
//! a real execution started on moto, and `hanko serve` asks moto about it, as it would ask
//! AWS: the path a workflow's message takes, round trips included.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::{Value, json};

use crate::cli::Args;
use crate::report::mib;
use crate::serve::{Serve, wait_until_answering};
use crate::sfn_stub::SfnStub;

/// Messages handed to the Lambda handler.
const N: usize = 10_000;
/// Messages put on the SQS queue.
const SQS_N: usize = 1_000;
/// The state machine the stub names for every execution (sfn_stub.rs).
const STUB_MACHINE: &str = "deploy";
const MACHINE_PREFIX: &str = "arn:aws:states:ap-northeast-1:123456789012:stateMachine:";
const EXECUTION_PREFIX: &str = "arn:aws:states:ap-northeast-1:123456789012:execution:";

pub async fn run(args: &Args, stub: &SfnStub) -> anyhow::Result<String> {
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
        let config = hanko::config::Config::from_args(cli.args)?;
        let parts = hanko::serve::build(&config, sdk, "https://hanko.example").await?;
        let hanko = parts.state.hanko.clone();
        let t0 = Instant::now();
        for i in 0..N {
            let exec = format!("{EXECUTION_PREFIX}{STUB_MACHINE}:lambda-{i}");
            let msg = intake_message(i, &exec, &format!("{MACHINE_PREFIX}{STUB_MACHINE}"));
            let out = hanko::intake::handle_invoke(&hanko, msg)
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
        wait_until_answering(
            &format!("{endpoint}/moto-api/"),
            "moto",
            Duration::from_secs(30),
        )
        .await?;
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
        // A state machine that only waits, and one execution of it per message. moto does
        // not run state machines unless told to (`/moto-api/config`); its executions stay
        // RUNNING, which is what intake checks.
        let sfn = aws_sdk_sfn::Client::new(&sdk);
        let machine = sfn
            .create_state_machine()
            .name("deploy")
            .definition(
                json!({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": true}}})
                    .to_string(),
            )
            .role_arn("arn:aws:iam::123456789012:role/hanko-bench")
            .send()
            .await?
            .state_machine_arn()
            .to_string();
        let t0 = Instant::now();
        let mut executions = Vec::with_capacity(SQS_N);
        for chunk in (0..SQS_N).collect::<Vec<_>>().chunks(8) {
            if t0.elapsed() > Duration::from_secs(120) {
                break;
            }
            let starts: Vec<_> = chunk
                .iter()
                .map(|i| {
                    tokio::spawn(
                        sfn.start_execution()
                            .state_machine_arn(&machine)
                            .name(format!("sqs-{i}"))
                            .input("{}")
                            .send(),
                    )
                })
                .collect();
            for started in starts {
                executions.push(started.await??.execution_arn().to_string());
            }
        }
        let t0 = Instant::now();
        let mut sends = Vec::new();
        // moto answers a batch slowly on a loaded machine: the queue gets SQS_N messages,
        // or what two minutes of sending puts in it.
        for chunk in (0..executions.len()).collect::<Vec<_>>().chunks(10) {
            if t0.elapsed() > Duration::from_secs(120) {
                break;
            }
            let mut b = sqs.send_message_batch().queue_url(&queue);
            for &i in chunk {
                b = b.entries(
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message_body(intake_message(i, &executions[i], &machine).to_string())
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
        Ok((rate, stored as f64, peak))
    }
    .await;
    let sqs_row = match &sqs_result {
        Ok((rate, stored, peak)) => format!(
            "| SQS poller in `hanko serve` (moto) | {rate:.0} | {stored:.0} messages (of {SQS_N} sent) stored, each naming an execution started on moto; peak memory {} |",
            mib(*peak)
        ),
        Err(e) => format!("| SQS poller in `hanko serve` (moto) | — | not measured: {e:#} |"),
    };
    Ok(format!(
        "## Intake\n\n{N} valid intake messages (two approvers each; the file outbox writes the \
         notification emails).\n\n| path | requests stored/s | notes |\n| --- | ---: | --- |\n\
         | Lambda intake handler, called in process | {lambda_rate:.0} | one after another, as one Lambda instance would |\n\
         {sqs_row}\n\nIntake asks Step Functions (`DescribeExecution`) whether each message's \
         execution runs, and of which state machine, before it stores the request. In \
         process, a local stub answers RUNNING at once. Through SQS, each message names an \
         execution started on moto (which leaves it RUNNING), and `hanko serve` asks moto, as \
         it would ask AWS: one SQS receive per batch and one DescribeExecution per message. \
         The SQS figure counts from `hanko serve`'s start (the queue already holds its \
         messages) until all are stored; moto, the local AWS, is itself slow (a Python \
         server), so it bounds this figure.\n"
    ))
}

/// The `i`th intake message, as the task of the execution `execution` of the state machine
/// `machine` would send it.
fn intake_message(i: usize, execution: &str, machine: &str) -> Value {
    let name = execution.rsplit(':').next().unwrap_or_default();
    json!({
        "taskToken": format!("AQCEAAAAKgAAAAMAAAAAAAAAA{name}{i:08}{}", "t".repeat(600)),
        "execution": {"Id": execution, "Name": name},
        "stateMachine": {"Id": machine, "Name": machine.rsplit(':').next().unwrap_or_default()},
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

/// The requests stored in `db` so far, read beside the server writing them.
fn count_requests(db: &Path) -> u64 {
    rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM requests", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// `hanko serve`'s flags, to build its parts in process as `main` would.
#[derive(Parser)]
struct ServeArgsCli {
    #[command(flatten)]
    args: hanko::config::ServeArgs,
}

/// moto, stopped when dropped.
struct MotoGuard(Child);

impl Drop for MotoGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
