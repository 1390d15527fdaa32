//! Reading back the mail moto's SES accepted.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::Stack;

/// The raw messages moto's SES accepted (`/moto-api/data.json`, `ses.RawMessage`).
pub async fn ses_messages(stack: &Stack) -> anyhow::Result<Vec<Value>> {
    let data: Value = stack
        .http
        .get(format!("{}/moto-api/data.json", stack.moto.endpoint))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(data["ses"]["RawMessage"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Waits (up to 10 s) until SES has accepted at least `n` messages, and returns them all.
pub async fn wait_for_ses_messages(stack: &Stack, n: usize) -> anyhow::Result<Vec<Value>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mail = ses_messages(stack).await?;
        if mail.len() >= n || Instant::now() > deadline {
            return Ok(mail);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The headers, and the decoded (content type, body) of each base64 part, of a multipart
/// message as Hanko's SES notifier writes it.
pub fn mime_parts(msg: &str) -> (String, Vec<(String, String)>) {
    let (headers, body) = msg.split_once("\r\n\r\n").unwrap_or((msg, ""));
    let boundary = headers
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default();
    let mut out = Vec::new();
    if boundary.is_empty() {
        return (headers.to_string(), out);
    }
    for part in body.split(&format!("--{boundary}")).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let Some((h, b)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let ct = h
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap_or_default()
            .to_string();
        let b64: String = b.split_whitespace().collect();
        let text = STANDARD
            .decode(b64)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .unwrap_or_default();
        out.push((ct, text));
    }
    (headers.to_string(), out)
}
