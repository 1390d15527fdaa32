//! Telling the workflow: `SendTaskSuccess` / `SendTaskFailure` on Step Functions.

use async_trait::async_trait;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};

use crate::store::Callback;

/// Why a callback did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// Step Functions no longer knows the task (`InvalidToken`, `TaskTimedOut`,
    /// `TaskDoesNotExist`): it was already answered, timed out, or its execution ended.
    #[error("the task is gone ({0})")]
    TaskGone(String),
    /// Anything that may pass: throttling, a 5xx, a dropped connection. Retry later.
    #[error("callback failed: {0}")]
    Transient(String),
}

#[async_trait]
pub trait Workflow: Send + Sync + 'static {
    async fn send(&self, task_token: &str, callback: &Callback) -> Result<(), CallbackError>;
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
}

fn classify<E>(e: aws_sdk_sfn::error::SdkError<E>) -> CallbackError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match e.code() {
        Some(code @ ("InvalidToken" | "TaskTimedOut" | "TaskDoesNotExist")) => {
            CallbackError::TaskGone(code.to_string())
        }
        _ => CallbackError::Transient(DisplayErrorContext(&e).to_string()),
    }
}

#[async_trait]
impl Workflow for StepFunctions {
    async fn send(&self, task_token: &str, callback: &Callback) -> Result<(), CallbackError> {
        match callback {
            Callback::Success { output } => self
                .client
                .send_task_success()
                .task_token(task_token)
                .output(output)
                .send()
                .await
                .map(|_| ())
                .map_err(classify),
            Callback::Failure { error, cause } => self
                .client
                .send_task_failure()
                .task_token(task_token)
                .error(error)
                .cause(cause)
                .send()
                .await
                .map(|_| ())
                .map_err(classify),
        }
    }
}
