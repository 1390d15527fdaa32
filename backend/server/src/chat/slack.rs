//! Slack's Web API: `chat.postMessage` to post a request's message, `chat.update` to change
//! it once the request has ended. A bot token in `Authorization: Bearer`, JSON bodies.

use anyhow::{Context, anyhow, bail};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::{Retry, send_with_retries};

/// Where Slack's answer said a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The channel's id (a post to `#name` is answered with the id).
    pub channel: String,
    pub ts: String,
}

pub struct Slack {
    pub http: reqwest::Client,
    /// The Web API's base, `https://slack.com/api` unless configured.
    pub api_url: Url,
    pub token: SecretString,
    pub retry: Retry,
}

impl Slack {
    fn method(&self, name: &str) -> String {
        format!("{}/{name}", self.api_url.as_str().trim_end_matches('/'))
    }

    /// Calls `method` with `body`; Slack's own refusal (`"ok": false`) is an error that
    /// names its `error`.
    async fn call(&self, method: &str, body: &Value) -> anyhow::Result<Value> {
        let url = self.method(method);
        let answer = send_with_retries(&self.retry, method, || {
            self.http
                .post(&url)
                .bearer_auth(self.token.expose_secret())
                .json(body)
        })
        .await?;
        let v: Value = serde_json::from_str(&answer)
            .with_context(|| format!("{method}: the answer is not JSON"))?;
        if v.get("ok") == Some(&Value::Bool(true)) {
            Ok(v)
        } else {
            let error = v
                .get("error")
                .and_then(Value::as_str)
                .unwrap_or("no error given");
            bail!("Slack refused {method}: {error}")
        }
    }

    /// Posts a message to `channel` (`#name` or an id).
    pub async fn post(&self, channel: &str, text: &str, blocks: &Value) -> anyhow::Result<Posted> {
        let body = serde_json::json!({
            "channel": channel,
            "text": text,
            "blocks": blocks,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        let v = self.call("chat.postMessage", &body).await?;
        let field = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| anyhow!("chat.postMessage answered without {k}"))
        };
        Ok(Posted {
            channel: field("channel")?,
            ts: field("ts")?,
        })
    }

    /// Changes a posted message.
    pub async fn update(&self, at: &Posted, text: &str, blocks: &Value) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "channel": at.channel,
            "ts": at.ts,
            "text": text,
            "blocks": blocks,
        });
        self.call("chat.update", &body).await.map(|_| ())
    }
}
