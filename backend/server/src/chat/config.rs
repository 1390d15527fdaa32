//! The chat settings: flags and variables ([`ChatArgs`], flattened into
//! [`crate::config::ServeArgs`]) and what they mean ([`ChatConfig`]). The secrets (the
//! Slack bot token, the Teams webhook URLs) are given in the environment, or as the ARN
//! of a Secrets Manager secret read at start (on AWS: no secret in the template).

use std::collections::BTreeMap;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Slack and Microsoft Teams notifications, besides email.
#[derive(Debug, Clone, Args)]
pub struct ChatArgs {
    /// Slack bot token (xoxb-...) of an app with the `chat:write` scope; turns Slack on.
    #[arg(long, env = "HANKO_SLACK_BOT_TOKEN", hide_env_values = true,
          value_parser = |s: &str| Ok::<_, std::convert::Infallible>(SecretString::from(s)),
          conflicts_with = "slack_bot_token_secret_arn")]
    pub slack_bot_token: Option<SecretString>,

    /// Secrets Manager secret (ARN or name) whose value is the Slack bot token; read at start.
    #[arg(long, env = "HANKO_SLACK_BOT_TOKEN_SECRET_ARN")]
    pub slack_bot_token_secret_arn: Option<String>,

    /// Base URL of Slack's Web API: https://, or http:// on a loopback address (a local receiver).
    #[arg(long, env = "HANKO_SLACK_API_URL", default_value = "https://slack.com/api",
          value_parser = |s: &str| crate::auth::oidc::provider_url("HANKO_SLACK_API_URL (--slack-api-url)", s))]
    pub slack_api_url: Url,

    /// Teams incoming webhooks by name, as a JSON object: {"release-team": "https://..."}.
    /// Requests and policies name them (`{"teams": "release-team"}`); the URLs stay here.
    #[arg(long, env = "HANKO_TEAMS_WEBHOOKS", hide_env_values = true,
          value_parser = |s: &str| Ok::<_, std::convert::Infallible>(SecretString::from(s)),
          conflicts_with = "teams_webhooks_secret_arn")]
    pub teams_webhooks: Option<SecretString>,

    /// Secrets Manager secret (ARN or name) whose value is the HANKO_TEAMS_WEBHOOKS JSON object; read at start.
    #[arg(long, env = "HANKO_TEAMS_WEBHOOKS_SECRET_ARN")]
    pub teams_webhooks_secret_arn: Option<String>,
}

/// Where a secret comes from.
#[derive(Debug, Clone)]
pub enum SecretSource {
    /// Given in the environment.
    Value(SecretString),
    /// A Secrets Manager secret's ARN (or name), read at start.
    SecretsManager(String),
}

/// Slack: the Web API's base URL and the bot token.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub api_url: Url,
    pub token: SecretSource,
}

/// What chat notifications are configured; none of either by default.
#[derive(Debug, Clone, Default)]
pub struct ChatConfig {
    pub slack: Option<SlackConfig>,
    /// The `HANKO_TEAMS_WEBHOOKS` JSON object, or where to read it.
    pub teams: Option<SecretSource>,
}

fn non_blank(v: Option<String>) -> Option<String> {
    v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

fn non_blank_secret(v: Option<SecretString>) -> Option<SecretString> {
    v.filter(|s| !s.expose_secret().trim().is_empty())
}

impl ChatArgs {
    /// Makes sense of the flags; a webhook list given in the environment is checked here.
    pub fn into_config(self) -> anyhow::Result<ChatConfig> {
        let token = match (
            non_blank_secret(self.slack_bot_token),
            non_blank(self.slack_bot_token_secret_arn),
        ) {
            (Some(t), _) => {
                slack_token(t.expose_secret()).map_err(anyhow::Error::msg)?;
                Some(SecretSource::Value(t))
            }
            (None, Some(arn)) => Some(SecretSource::SecretsManager(arn)),
            (None, None) => None,
        };
        let teams = match (
            non_blank_secret(self.teams_webhooks),
            non_blank(self.teams_webhooks_secret_arn),
        ) {
            (Some(w), _) => {
                teams_webhooks(w.expose_secret(), "HANKO_TEAMS_WEBHOOKS")
                    .map_err(anyhow::Error::msg)?;
                Some(SecretSource::Value(w))
            }
            (None, Some(arn)) => Some(SecretSource::SecretsManager(arn)),
            (None, None) => None,
        };
        Ok(ChatConfig {
            slack: token.map(|token| SlackConfig {
                api_url: self.slack_api_url,
                token,
            }),
            teams,
        })
    }
}

/// A Slack token: `xoxb-` (a bot) or `xoxp-` (a user), one line. The error never shows it.
pub fn slack_token(raw: &str) -> Result<SecretString, String> {
    let t = raw.trim();
    let ok = (t.starts_with("xoxb-") || t.starts_with("xoxp-"))
        && t.chars().all(|c| c.is_ascii_graphic());
    if ok {
        Ok(SecretString::from(t))
    } else {
        Err("the Slack bot token (HANKO_SLACK_BOT_TOKEN or its secret) must start with xoxb- (a bot token with the chat:write scope)".into())
    }
}

/// The Teams webhooks: a JSON object of names (as [`crate::domain::chat`] allows them) to
/// URLs (https://, or http:// on a loopback address). `what` names the setting in errors,
/// which never show a URL (each is a secret).
pub fn teams_webhooks(raw: &str, what: &str) -> Result<BTreeMap<String, Url>, String> {
    let map: BTreeMap<String, String> = serde_json::from_str(raw).map_err(|_| {
        format!(
            "{what} must be a JSON object of webhook names to URLs, like {{\"release-team\": \"https://....webhook.office.com/...\"}}"
        )
    })?;
    let mut out = BTreeMap::new();
    for (name, url) in map {
        let route = hanko_api::ChatTarget {
            slack: None,
            teams: Some(name.clone()),
            lang: None,
        };
        crate::domain::chat::ChatRoute::try_from(route).map_err(|_| {
            format!("{what}: {name:?} is not a webhook name (letters, digits, - _ .)")
        })?;
        let parsed = crate::auth::oidc::provider_url("", &url).map_err(|_| {
            format!(
                "{what}: the URL of {name:?} must be https:// (http:// only on a loopback address)"
            )
        })?;
        out.insert(name, parsed);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        chat: ChatArgs,
    }

    fn parse(args: &[&str]) -> anyhow::Result<ChatConfig> {
        let mut all = vec!["hanko"];
        all.extend_from_slice(args);
        Cli::try_parse_from(all)?.chat.into_config()
    }

    #[test]
    fn nothing_configured_means_no_chat_and_slacks_default_api() {
        let c = parse(&[]).unwrap();
        assert!(c.slack.is_none() && c.teams.is_none());
        let c = parse(&["--slack-bot-token", "xoxb-1-2-abc"]).unwrap();
        assert_eq!(c.slack.unwrap().api_url.as_str(), "https://slack.com/api");
    }

    #[test]
    fn a_plain_http_slack_api_is_refused_unless_it_is_on_this_machine() {
        let err = parse(&["--slack-api-url", "http://slack.example/api"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("HANKO_SLACK_API_URL"), "{err}");
        assert!(parse(&["--slack-api-url", "http://127.0.0.1:9/api"]).is_ok());
    }

    #[test]
    fn a_token_that_is_not_a_slack_token_is_refused_without_showing_it() {
        let err = parse(&["--slack-bot-token", "hunter2-secret"])
            .err()
            .unwrap();
        assert!(err.to_string().contains("xoxb-"));
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn teams_webhooks_are_a_json_map_of_names_to_https_urls() {
        let ok = teams_webhooks(
            r#"{"release-team": "https://example.webhook.office.com/webhookb2/x", "local": "http://127.0.0.1:9/t"}"#,
            "HANKO_TEAMS_WEBHOOKS",
        )
        .unwrap();
        assert_eq!(ok.len(), 2);
        let err =
            teams_webhooks(r#"{"ops": "http://hooks.example/secret-path"}"#, "X").unwrap_err();
        assert!(
            err.contains("\"ops\"") && !err.contains("secret-path"),
            "{err}"
        );
        assert!(teams_webhooks("ops=https://x", "X").is_err());
        assert!(teams_webhooks(r#"{"a b": "https://x.example"}"#, "X").is_err());
        assert!(parse(&["--teams-webhooks", "not json"]).is_err());
    }
}
