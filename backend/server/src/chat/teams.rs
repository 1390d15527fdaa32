//! Microsoft Teams: an incoming webhook (or a Workflows webhook) by the name the operator
//! gave it, POSTed an Adaptive Card. A webhook cannot change what it posted, so a Teams
//! message stays as it was sent.

use std::collections::BTreeMap;

use anyhow::anyhow;
use serde_json::Value;
use url::Url;

use super::{Retry, send_with_retries};

pub struct Teams {
    pub http: reqwest::Client,
    /// Webhook URLs by name: secrets, never logged.
    pub webhooks: BTreeMap<String, Url>,
    pub retry: Retry,
}

impl Teams {
    /// Posts `message` to the webhook called `name`.
    pub async fn post(&self, name: &str, message: &Value) -> anyhow::Result<()> {
        let url = self.webhooks.get(name).ok_or_else(|| {
            anyhow!("no Teams webhook is called {name:?} (HANKO_TEAMS_WEBHOOKS names them)")
        })?;
        send_with_retries(&self.retry, "the Teams webhook", || {
            self.http.post(url.clone()).json(message)
        })
        .await
        .map(|_| ())
    }
}
