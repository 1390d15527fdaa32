//! The `hanko` binary: reads configuration and chooses how to serve. On Lambda (when
//! `AWS_LAMBDA_RUNTIME_API` is set) it runs the handler named by `HANKO_HANDLER`.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use hanko::config::{Config, CreateTableArgs, Handler, LogFormat, ServeArgs};

#[derive(Parser)]
#[command(
    name = "hanko",
    version,
    about = "Human approval for AWS Step Functions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the api (and the console), poll the intake queue, expire and retry.
    Serve(Box<ServeArgs>),
    /// Read a password from standard input and print its argon2id hash, for a dev users file.
    HashPassword,
    /// Create the DynamoDB table for HANKO_STORE=dynamodb, shaped as infra/template.yaml
    /// makes it (for a local emulator; on AWS the stack creates it).
    CreateTable(CreateTableArgs),
    /// Check a signed decision against Hanko's public keys; exit 0 valid, 1 invalid, 2 error.
    Verify(hanko::verify::VerifyArgs),
    /// Work with an approval policy document.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate a policy document (TOML or JSON) and print what each state machine gets;
    /// exit 0 valid, 1 invalid.
    Check {
        /// The policy document.
        file: std::path::PathBuf,
        /// State machine ARNs to show the policy of.
        #[arg(long = "state-machine")]
        state_machines: Vec<String>,
    },
}

/// mimalloc instead of glibc's malloc: a page of the approvals list makes and frees some
/// thousand small strings, and glibc's malloc, free and consolidation took ~25% of the
/// server's CPU per page.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// On Lambda there are no arguments: everything comes from the environment.
#[derive(Parser)]
struct LambdaCli {
    /// The role of the function: api, intake (direct invoke by a state machine), sqs (the
    /// intake queue's event source) or sweeper (scheduled housekeeping).
    #[arg(
        long,
        env = "HANKO_HANDLER",
        value_name = "HANKO_HANDLER",
        value_enum,
        default_value = "api"
    )]
    handler: Handler,

    #[command(flatten)]
    args: ServeArgs,
}

fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,aws_config=warn,aws_smithy_runtime=warn")
    });
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => fmt.json().init(),
        LogFormat::Text => fmt.init(),
    }
}

fn main() -> ExitCode {
    let on_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    // A function handles one event at a time: one thread runs it, without starting a worker
    // per core (blocking work still has tokio's blocking threads).
    let runtime = if on_lambda {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Runtime::new()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hanko: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = if on_lambda {
        let mut cli = LambdaCli::parse_from(["hanko"]);
        // JSON logs on Lambda whatever HANKO_LOG_FORMAT says, and so the metrics as EMF
        // lines, which CloudWatch reads from the function's log.
        cli.args.log_format = LogFormat::Json;
        init_logs(LogFormat::Json);
        Config::from_args(cli.args).and_then(|config| {
            runtime
                .block_on(hanko::lambda::run(cli.handler, config))
                .map_err(|e| anyhow::anyhow!(e))
        })
    } else {
        match Cli::parse().command {
            Command::Serve(args) => {
                init_logs(args.log_format);
                Config::from_args(*args).and_then(|config| runtime.block_on(serve(config)))
            }
            Command::HashPassword => hash_password(),
            Command::CreateTable(args) => runtime.block_on(create_table(args)),
            Command::Verify(args) => {
                return ExitCode::from(runtime.block_on(hanko::verify::cli(args)));
            }
            Command::Policy(PolicyCommand::Check {
                file,
                state_machines,
            }) => {
                let text = match std::fs::read_to_string(&file) {
                    Ok(t) => t,
                    Err(e) => {
                        eprintln!("hanko: reading {}: {e}", file.display());
                        return ExitCode::from(2);
                    }
                };
                return match hanko::domain::policy::report(&text, &state_machines) {
                    Ok(report) => {
                        print!("{report}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        println!("INVALID: {e}");
                        ExitCode::FAILURE
                    }
                };
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hanko: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let running = hanko::serve::start(config, None).await?;
    eprintln!("Hanko is running at {}/", running.public_url);
    let stop = running.stop_token();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate() => {}
        _ = stop.cancelled() => {}
    }
    tracing::info!("stopping");
    running.stop().await
}

#[cfg(unix)]
async fn terminate() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn terminate() {
    std::future::pending().await
}

async fn create_table(args: CreateTableArgs) -> anyhow::Result<()> {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(url) = &args.aws_endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let client = aws_sdk_dynamodb::Client::new(&loader.load().await);
    hanko::store::dynamo::DynamoStore::create_table(&client, &args.table).await?;
    eprintln!("created the DynamoDB table {}", args.table);
    Ok(())
}

fn hash_password() -> anyhow::Result<()> {
    if std::io::stdin().is_terminal() {
        eprintln!("Type the password and press Enter:");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        anyhow::bail!("the password is empty");
    }
    println!("{}", hanko::auth::dev::hash_password(password)?);
    Ok(())
}
