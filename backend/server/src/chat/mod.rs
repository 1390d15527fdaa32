//! Slack and Microsoft Teams notifications, besides email. A request names its channels
//! (its policy's `notify`, then its message's); each gets one message with the deep link
//! and no action that decides. A Slack message is remembered (its channel and `ts`, in the
//! store) and changed once the request has ended: "Approved by alice@example.com at ...".
//!
//! Chat never holds anything up: [`WithChat`] sends mail and chat side by side, and a post
//! that fails (after a few retries of a 429 or a 5xx) is logged and counted, nothing more.
//! Tokens and webhook URLs are secrets: never in a log line or an error.

pub mod config;
pub mod message;
pub mod slack;
pub mod teams;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use aws_config::SdkConfig;
use secrecy::{ExposeSecret, SecretString};

use self::config::{ChatConfig, SecretSource};
use self::message::{ChatText, lang_of};
use self::slack::{Posted, Slack};
use self::teams::Teams;
use crate::domain::chat::ChatChannel;
use crate::domain::{NewRequest, RequestId};
use crate::notifier::{Lang, NotSent, Notifier, Why, deep_link};
use crate::store::{ChatMessage, Store, StoredRequest};

pub use self::config::ChatArgs;

/// The longest wait a `Retry-After` may ask for that is still waited for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How often and how patiently a chat post is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Tries in all (at least one).
    pub attempts: u32,
    /// Wait after a 5xx or a failed connection; doubles with each try. A 429 waits what
    /// its `Retry-After` says.
    pub base: Duration,
    /// No retry starts later than this after the first try: an intake (a Lambda
    /// invocation with its own timeout) is not held up for long by chat.
    pub budget: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self {
            attempts: 4,
            base: Duration::from_millis(500),
            budget: Duration::from_secs(20),
        }
    }
}

/// Sends the request `make` builds until it gets a 2xx (its body is returned), retrying a
/// 429 (after its `Retry-After`, up to [`MAX_RETRY_AFTER`]), a 5xx and a failed connection,
/// `retry.attempts` times in all, within `retry.budget`. `what` names the call in errors,
/// which never hold the URL (a webhook's is a secret).
pub(crate) async fn send_with_retries(
    retry: &Retry,
    what: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> anyhow::Result<String> {
    let started = std::time::Instant::now();
    let mut tries = 0;
    loop {
        tries += 1;
        let (wait, problem) = match make().send().await {
            Ok(r) if r.status().is_success() => {
                return r
                    .text()
                    .await
                    .map_err(|e| anyhow!("{what}: reading the answer: {}", e.without_url()));
            }
            Ok(r) if r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS => {
                let after = r
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                match after {
                    Some(after) if after > MAX_RETRY_AFTER => {
                        bail!("{what}: rate limited, asked to wait {}s", after.as_secs())
                    }
                    Some(after) => (after, "rate limited (429)".to_string()),
                    None => (backoff(retry, tries), "rate limited (429)".to_string()),
                }
            }
            Ok(r) if r.status().is_server_error() => {
                (backoff(retry, tries), format!("HTTP {}", r.status()))
            }
            Ok(r) => {
                let status = r.status();
                let body: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                bail!("{what} answered HTTP {status}: {body}")
            }
            Err(e) => (backoff(retry, tries), e.without_url().to_string()),
        };
        if tries >= retry.attempts.max(1) || started.elapsed() + wait > retry.budget {
            bail!("{what}: gave up after {tries} tries: {problem}");
        }
        tracing::warn!(call = what, tries, wait_ms = wait.as_millis() as u64, %problem, "chat post failed; will retry");
        tokio::time::sleep(wait).await;
    }
}

fn backoff(retry: &Retry, tries: u32) -> Duration {
    retry
        .base
        .saturating_mul(2u32.saturating_pow(tries.saturating_sub(1).min(10)))
}

/// The chat side of the notifier: posts, remembers Slack's messages, changes them.
pub struct Chat {
    pub slack: Option<Slack>,
    pub teams: Option<Teams>,
    pub public_url: String,
    pub store: Arc<dyn Store>,
}

impl Chat {
    /// The client every chat call goes through: a timeout, and no redirects (a bearer
    /// token is not sent on anywhere else).
    pub fn http_client() -> anyhow::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the chat HTTP client")
    }

    /// Posts the request's message to each of its channels. Returns how many were posted
    /// and the channels that were not (each failure logged).
    pub async fn request_created(&self, id: &RequestId, req: &NewRequest) -> (usize, Vec<String>) {
        let link = deep_link(&self.public_url, id.as_str());
        let mut sent = 0;
        let mut failed = Vec::new();
        for route in &req.notify {
            let lang = lang_of(route.lang, req);
            let text = ChatText::new(lang, req, &link);
            let posted = match &route.channel {
                ChatChannel::Slack(channel) => self.post_slack(id, channel, lang, &text).await,
                ChatChannel::Teams(name) => match &self.teams {
                    Some(teams) => teams.post(name, &text.teams_message()).await,
                    None => Err(anyhow!(
                        "Teams is not configured (HANKO_TEAMS_WEBHOOKS or HANKO_TEAMS_WEBHOOKS_SECRET_ARN)"
                    )),
                },
            };
            match posted {
                Ok(()) => sent += 1,
                Err(e) => {
                    tracing::error!(request_id = %id, channel = %route.channel, error = %format!("{e:#}"), "could not post the chat notification");
                    failed.push(route.channel.to_string());
                }
            }
        }
        if !req.notify.is_empty() {
            tracing::info!(request_id = %id, sent, failed = failed.len(), "chat notifications");
        }
        (sent, failed)
    }

    async fn post_slack(
        &self,
        id: &RequestId,
        channel: &str,
        lang: Lang,
        text: &ChatText,
    ) -> anyhow::Result<()> {
        let slack = self.slack.as_ref().ok_or_else(|| {
            anyhow!("Slack is not configured (HANKO_SLACK_BOT_TOKEN or HANKO_SLACK_BOT_TOKEN_SECRET_ARN)")
        })?;
        let Posted { channel, ts } = slack
            .post(channel, &text.slack_text(), &text.slack_blocks())
            .await?;
        let message = ChatMessage {
            channel,
            ts,
            lang: lang.code().to_string(),
        };
        // Posted: a store that fails now only costs the later change of the message.
        if let Err(e) = self.store.add_chat_message(id, &message).await {
            tracing::warn!(request_id = %id, error = %e, "could not remember the Slack message; it will not show the outcome");
        }
        Ok(())
    }

    /// Changes every Slack message of request `id` to say how it ended.
    pub async fn request_finished(&self, id: &RequestId) {
        let Some(slack) = &self.slack else {
            return;
        };
        let messages = match self.store.chat_messages(id).await {
            Ok(m) if m.is_empty() => return,
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(request_id = %id, error = %e, "could not read the request's Slack messages");
                return;
            }
        };
        let req = match self.store.get(id).await {
            Ok(Some(req)) => req,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(request_id = %id, error = %e, "could not read the request to change its Slack messages");
                return;
            }
        };
        self.update_slack(slack, &req, messages).await;
    }

    async fn update_slack(&self, slack: &Slack, req: &StoredRequest, messages: Vec<ChatMessage>) {
        let link = deep_link(&self.public_url, req.id.as_str());
        for m in messages {
            let lang = if m.lang == "ja" { Lang::Ja } else { Lang::En };
            let text = ChatText::new(lang, &req.request, &link).finished(req);
            let at = Posted {
                channel: m.channel,
                ts: m.ts,
            };
            match slack
                .update(&at, &text.slack_text(), &text.slack_blocks())
                .await
            {
                Ok(()) => {
                    tracing::info!(request_id = %req.id, channel = %at.channel, status = ?req.status, "the Slack message says how the request ended")
                }
                Err(e) => {
                    tracing::error!(request_id = %req.id, channel = %at.channel, error = %format!("{e:#}"), "could not change the Slack message")
                }
            }
        }
    }
}

/// Mail and chat side by side: chat adds to mail, and neither waits on the other's failure.
pub struct WithChat {
    pub mail: Arc<dyn Notifier>,
    pub chat: Arc<Chat>,
}

#[async_trait]
impl Notifier for WithChat {
    /// Mail, and for a new request its chat channels too (reminders and escalations are
    /// mail to people; a channel is told once).
    async fn tell(&self, id: &RequestId, req: &NewRequest, why: Why<'_>) -> Result<usize, NotSent> {
        if why != Why::Requested {
            return self.mail.tell(id, req, why).await;
        }
        let (mail, (chat_sent, chat_failed)) = tokio::join!(
            self.mail.tell(id, req, why),
            self.chat.request_created(id, req)
        );
        match mail {
            Ok(sent) if chat_failed.is_empty() => Ok(sent + chat_sent),
            Ok(sent) => Err(NotSent {
                sent: sent + chat_sent,
                failed: chat_failed.len(),
                recipients: chat_failed,
            }),
            Err(mut e) => {
                e.sent += chat_sent;
                e.failed += chat_failed.len();
                e.recipients.extend(chat_failed);
                Err(e)
            }
        }
    }

    async fn request_finished(&self, id: &RequestId) {
        tokio::join!(
            self.mail.request_finished(id),
            self.chat.request_finished(id)
        );
    }
}

/// A configured secret: as given, or read from Secrets Manager.
async fn read_secret(
    source: &SecretSource,
    sdk: &SdkConfig,
    what: &str,
) -> anyhow::Result<SecretString> {
    match source {
        SecretSource::Value(v) => Ok(v.clone()),
        SecretSource::SecretsManager(arn) => {
            let out = aws_sdk_secretsmanager::Client::new(sdk)
                .get_secret_value()
                .secret_id(arn)
                .send()
                .await
                .map_err(|e| anyhow!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))
                .with_context(|| format!("reading {what} from Secrets Manager ({arn})"))?;
            out.secret_string()
                .map(SecretString::from)
                .ok_or_else(|| anyhow!("the secret {arn} ({what}) has no text value"))
        }
    }
}

/// The chat notifier `config` names, with its secrets read; `None` when neither Slack
/// nor Teams is configured.
pub async fn build(
    config: &ChatConfig,
    sdk: &SdkConfig,
    public_url: &str,
    store: Arc<dyn Store>,
) -> anyhow::Result<Option<Chat>> {
    if config.slack.is_none() && config.teams.is_none() {
        return Ok(None);
    }
    let http = Chat::http_client()?;
    let slack = match &config.slack {
        Some(s) => {
            let token = read_secret(&s.token, sdk, "the Slack bot token").await?;
            Some(Slack {
                http: http.clone(),
                api_url: s.api_url.clone(),
                token: config::slack_token(token.expose_secret()).map_err(anyhow::Error::msg)?,
                retry: Retry::default(),
            })
        }
        None => None,
    };
    let teams = match &config.teams {
        Some(source) => {
            let raw = read_secret(source, sdk, "the Teams webhooks").await?;
            let what = match source {
                SecretSource::Value(_) => "HANKO_TEAMS_WEBHOOKS",
                SecretSource::SecretsManager(_) => {
                    "the secret HANKO_TEAMS_WEBHOOKS_SECRET_ARN names"
                }
            };
            Some(Teams {
                http,
                webhooks: config::teams_webhooks(raw.expose_secret(), what)
                    .map_err(anyhow::Error::msg)?,
                retry: Retry::default(),
            })
        }
        None => None,
    };
    tracing::info!(
        slack = slack.is_some(),
        teams = ?teams.as_ref().map(|t| t.webhooks.keys().cloned().collect::<Vec<_>>()),
        "chat notifications are on"
    );
    Ok(Some(Chat {
        slack,
        teams,
        public_url: public_url.trim_end_matches('/').to_string(),
        store,
    }))
}
