//! A Step Functions stand-in on 127.0.0.1 that answers every call at once, so that what is
//! measured is Hanko and not AWS.

use std::sync::{Arc, Mutex};

use axum::Router;
use serde_json::json;

pub struct SfnStub {
    pub url: String,
    calls: Arc<Mutex<u64>>,
}

impl SfnStub {
    pub async fn start() -> anyhow::Result<Self> {
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

    /// SendTaskSuccess and SendTaskFailure calls so far.
    pub fn calls(&self) -> u64 {
        *self.calls.lock().unwrap()
    }
}
