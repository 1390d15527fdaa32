//! Where approval requests come in: an SQS queue (polled by `hanko serve`, or an event
//! source mapping on Lambda) or a direct Lambda invoke (`lambda:invoke.waitForTaskToken`).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::MessageSystemAttributeName;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::service::{Hanko, IntakeOutcome, IntakeRetry};

/// Handles one message body; `sender` is the queue's `SenderId` of it. `Ok` means: done
/// with it (stored, refused or dropped); `Err` means: offer it again later.
pub async fn handle_body(
    hanko: &Hanko,
    body: &str,
    sender: Option<String>,
) -> Result<IntakeOutcome, IntakeRetry> {
    match serde_json::from_str::<Value>(body) {
        Ok(v) => hanko.intake(&v, sender).await,
        Err(e) => {
            tracing::warn!(error = %e, "dropped an intake message that is not JSON");
            hanko.metrics.count(
                crate::metrics::REQUESTS_REFUSED,
                Some(crate::service::REFUSED_DROPPED),
            );
            Ok(IntakeOutcome::Dropped {
                reason: format!("not JSON: {e}"),
            })
        }
    }
}

/// The long-polling loop inside `hanko serve`.
pub async fn poll_queue(
    hanko: Arc<Hanko>,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    wait_seconds: i32,
    stop: CancellationToken,
) {
    tracing::info!(%queue_url, "polling the intake queue");
    loop {
        let receive = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::SenderId)
            .wait_time_seconds(wait_seconds)
            .send();
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            r = receive => r,
        };
        let out = match received {
            Ok(out) => out,
            Err(e) => {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "receiving from the intake queue failed; retrying");
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(2)) => continue,
                }
            }
        };
        for m in out.messages() {
            let body = m.body().unwrap_or_default();
            let sender = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::SenderId))
                .cloned();
            match handle_body(&hanko, body, sender).await {
                Ok(_) => {
                    if let Some(handle) = m.receipt_handle()
                        && let Err(e) = sqs
                            .delete_message()
                            .queue_url(&queue_url)
                            .receipt_handle(handle)
                            .send()
                            .await
                    {
                        // Redelivery is harmless: the same token makes one request.
                        tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&e), "could not delete a handled intake message");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "intake failed; the message will be offered again");
                }
            }
        }
        if wait_seconds == 0 && out.messages().is_empty() {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
        }
    }
}

/// Lambda, direct invoke: the event is the intake message itself. Lambda does not tell a
/// function who invoked it (CloudTrail's Invoke data events do), so no sender is recorded.
pub async fn handle_invoke(hanko: &Hanko, event: Value) -> Result<Value, IntakeRetry> {
    Ok(match hanko.intake(&event, None).await? {
        IntakeOutcome::Created { id } => json!({"status": "created", "requestId": id}),
        IntakeOutcome::Duplicate { id } => json!({"status": "duplicate", "requestId": id}),
        IntakeOutcome::Refused { error, problems } => {
            json!({"status": "refused", "error": error, "problems": problems})
        }
        IntakeOutcome::Dropped { reason } => json!({"status": "dropped", "reason": reason}),
    })
}

/// Lambda, SQS event source: reports only the messages to retry, so one bad message does
/// not bring the others back.
pub async fn handle_sqs_batch(hanko: &Hanko, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in event.records {
        let body = record.body.as_deref().unwrap_or_default();
        let sender = record.attributes.get("SenderId").cloned();
        if let Err(e) = handle_body(hanko, body, sender).await {
            tracing::warn!(error = %e, message_id = ?record.message_id, "intake failed; reported for retry");
            if let Some(id) = record.message_id {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                failures.push(f);
            }
        }
    }
    let mut resp = SqsBatchResponse::default();
    resp.batch_item_failures = failures;
    resp
}
