//! Telling the workflow: `SendTaskSuccess` / `SendTaskFailure` on Step Functions.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::config::timeout::TimeoutConfig;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::types::ExecutionStatus;

use crate::domain::TaskToken;
use crate::store::Callback;

/// Why a callback did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Step Functions no longer knows the task (`InvalidToken`, `TaskTimedOut`,
    /// `TaskDoesNotExist`): it was already answered, timed out, or its execution ended.
    #[error("the task is gone ({0})")]
    TaskGone(String),
    /// Refused before it was acted on (throttling, a refused connection): retry later.
    #[error("callback failed: {0}")]
    Transient(String),
    /// No answer, or an answer that does not say whether the call was acted on (a timeout,
    /// a dropped connection, a 5xx): it may have reached Step Functions. Retry later, and
    /// read a later "task gone" as "delivered or already ended".
    #[error("callback outcome unknown: {0}")]
    Unknown(String),
}

/// Where an execution stands, as `DescribeExecution` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecutionState {
    Running,
    /// SUCCEEDED, FAILED, TIMED_OUT, ABORTED (or it does not exist): nobody waits any more.
    Ended(String),
}

#[async_trait]
pub trait Workflow: Send + Sync + 'static {
    async fn send(&self, task_token: &TaskToken, callback: &Callback) -> Result<(), CallbackError>;

    /// Whether the execution still runs (for reconciliation). An error is a passing one:
    /// try again on a later pass.
    async fn execution_status(&self, execution_arn: &str) -> Result<ExecutionState, String>;

    /// What AWS says of an execution at intake: whether it runs, and its state machine
    /// (never taken from the message). An error is a passing one: try again later.
    async fn describe_execution(&self, execution_arn: &str) -> Result<Execution, String>;
}

/// An execution as `DescribeExecution` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub state: ExecutionState,
    /// `None` when the execution does not exist.
    pub state_machine_arn: Option<String>,
}

/// The real one.
#[derive(Clone)]
pub struct StepFunctions {
    client: aws_sdk_sfn::Client,
}

impl StepFunctions {
    pub fn new(client: aws_sdk_sfn::Client) -> Self {
        Self { client }
    }

    /// A client that cannot hold a caller for long: every attempt ends after
    /// `attempt_timeout`, and a callback is tried once per delivery attempt (Hanko retries
    /// it with backoff and keeps track of attempts that got no answer, which the SDK's own
    /// silent retries would hide).
    pub fn with_timeouts(sdk: &aws_config::SdkConfig, attempt_timeout: Duration) -> Self {
        let conf = aws_sdk_sfn::config::Builder::from(sdk)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(attempt_timeout.min(Duration::from_secs(3)))
                    .operation_attempt_timeout(attempt_timeout)
                    .operation_timeout(attempt_timeout * 3)
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(1))
            .build();
        Self::new(aws_sdk_sfn::Client::from_conf(conf))
    }
}

fn classify<E>(e: SdkError<E>) -> CallbackError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    if let Some(code @ ("InvalidToken" | "TaskTimedOut" | "TaskDoesNotExist")) = e.code() {
        return CallbackError::TaskGone(code.to_string());
    }
    let detail = DisplayErrorContext(&e).to_string();
    let acted_on_maybe = match &e {
        // The request was never built or sent.
        SdkError::ConstructionFailure(_) => false,
        SdkError::DispatchFailure(d) => !d.is_user(),
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => true,
        // A 4xx (throttling, validation) was refused; a 5xx says nothing.
        SdkError::ServiceError(s) => s.raw().status().is_server_error(),
        _ => true,
    };
    if acted_on_maybe {
        CallbackError::Unknown(detail)
    } else {
        CallbackError::Transient(detail)
    }
}

#[async_trait]
impl Workflow for StepFunctions {
    async fn send(&self, task_token: &TaskToken, callback: &Callback) -> Result<(), CallbackError> {
        match callback {
            Callback::Success { output } => self
                .client
                .send_task_success()
                .task_token(task_token.expose())
                .output(output)
                .send()
                .await
                .map(|_| ())
                .map_err(classify),
            Callback::Failure { error, cause } => self
                .client
                .send_task_failure()
                .task_token(task_token.expose())
                .error(error)
                .cause(cause)
                .send()
                .await
                .map(|_| ())
                .map_err(classify),
        }
    }

    async fn execution_status(&self, execution_arn: &str) -> Result<ExecutionState, String> {
        self.describe_execution(execution_arn)
            .await
            .map(|e| e.state)
    }

    async fn describe_execution(&self, execution_arn: &str) -> Result<Execution, String> {
        match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .customize()
            .config_override(
                aws_sdk_sfn::config::Config::builder()
                    .retry_config(RetryConfig::standard().with_max_attempts(3)),
            )
            .send()
            .await
        {
            Ok(d) => Ok(Execution {
                state: match d.status() {
                    ExecutionStatus::Running | ExecutionStatus::PendingRedrive => {
                        ExecutionState::Running
                    }
                    other => ExecutionState::Ended(other.as_str().to_string()),
                },
                state_machine_arn: Some(d.state_machine_arn().to_string()),
            }),
            Err(e) if e.code() == Some("ExecutionDoesNotExist") => Ok(Execution {
                state: ExecutionState::Ended("DOES_NOT_EXIST".into()),
                state_machine_arn: None,
            }),
            Err(e) => Err(DisplayErrorContext(&e).to_string()),
        }
    }
}
