//! Chat channels a request is told to, besides email: a Slack channel (name or id) or a
//! Teams incoming webhook by the name the operator gave it. A workflow may add channels,
//! but never names a secret: a Teams target is a name looked up in the operator's
//! configuration, never a URL from the message.

use hanko_api::ChatTarget;
use serde::{Deserialize, Serialize};

/// The most chat channels one request is told to (policy and message together).
pub const MAX_CHAT_TARGETS: usize = 10;

/// Where a chat message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChatChannel {
    /// `#name` or a channel id (`C0123ABCDE`): what Slack's `chat.postMessage` takes.
    Slack(String),
    /// The name of a configured Teams incoming webhook.
    Teams(String),
}

/// The language of a chat message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatLang {
    Ja,
    En,
}

/// A checked chat target: a channel, and its language when it has one of its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ChatTarget", into = "ChatTarget")]
pub struct ChatRoute {
    pub channel: ChatChannel,
    /// `None`: the request's language.
    pub lang: Option<ChatLang>,
}

impl std::fmt::Display for ChatChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChatChannel::Slack(c) => write!(f, "slack {c}"),
            ChatChannel::Teams(t) => write!(f, "teams {t}"),
        }
    }
}

/// `#name` (letters of any script, digits, `-`, `_`; at most 80) or a Slack id (`C`, `G`
/// or `D` and 8 or more uppercase letters and digits).
fn slack_channel(raw: &str) -> Result<String, String> {
    let ok_name = |n: &str| {
        (1..=80).contains(&n.chars().count())
            && n.chars()
                .all(|c| (c.is_alphanumeric() && !c.is_uppercase()) || c == '-' || c == '_')
    };
    let ok_id = |n: &str| {
        n.len() >= 9
            && n.starts_with(['C', 'G', 'D'])
            && n.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    match raw.strip_prefix('#') {
        Some(name) if ok_name(name) => Ok(raw.to_string()),
        None if ok_id(raw) => Ok(raw.to_string()),
        _ => Err(format!(
            "slack channel {raw:?} must be #name (lowercase letters, digits, - and _) or a channel id like C0123ABCDE"
        )),
    }
}

/// A webhook's name: 1-64 ASCII letters, digits, `-`, `_` and `.`; never a URL.
fn teams_name(raw: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&raw.len())
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(raw.to_string())
    } else {
        Err(format!(
            "teams target {raw:?} must be the name of a webhook the operator configured (letters, digits, - _ .), not a URL"
        ))
    }
}

impl TryFrom<ChatTarget> for ChatRoute {
    type Error = String;

    fn try_from(t: ChatTarget) -> Result<Self, String> {
        let channel = match (t.slack, t.teams) {
            (Some(s), None) => ChatChannel::Slack(slack_channel(&s)?),
            (None, Some(n)) => ChatChannel::Teams(teams_name(&n)?),
            _ => return Err("a notify entry names exactly one of \"slack\" and \"teams\"".into()),
        };
        let lang = match t.lang.as_deref() {
            None => None,
            Some("ja") => Some(ChatLang::Ja),
            Some("en") => Some(ChatLang::En),
            Some(other) => return Err(format!("lang {other:?} must be \"ja\" or \"en\"")),
        };
        Ok(ChatRoute { channel, lang })
    }
}

impl From<ChatRoute> for ChatTarget {
    fn from(r: ChatRoute) -> Self {
        let (slack, teams) = match r.channel {
            ChatChannel::Slack(s) => (Some(s), None),
            ChatChannel::Teams(t) => (None, Some(t)),
        };
        ChatTarget {
            slack,
            teams,
            lang: r.lang.map(|l| {
                match l {
                    ChatLang::Ja => "ja",
                    ChatLang::En => "en",
                }
                .to_string()
            }),
        }
    }
}

/// Reads a message's or a policy's `notify` list: each entry checked, duplicates kept
/// once; every problem is named (`where_` says whose list it is).
pub fn parse_notify(list: &serde_json::Value, where_: &str) -> Result<Vec<ChatRoute>, Vec<String>> {
    let serde_json::Value::Array(items) = list else {
        return Err(vec![format!(
            "{where_} must be an array like [{{\"slack\": \"#deploys\"}}, {{\"teams\": \"release-team\"}}]"
        )]);
    };
    let mut problems = Vec::new();
    if items.len() > MAX_CHAT_TARGETS {
        problems.push(format!(
            "{where_} names more than {MAX_CHAT_TARGETS} chat channels"
        ));
    }
    let mut out: Vec<ChatRoute> = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let route = serde_json::from_value::<ChatTarget>(item.clone())
            .map_err(|e| e.to_string())
            .and_then(ChatRoute::try_from);
        match route {
            Ok(r) if !out.contains(&r) => out.push(r),
            Ok(_) => {}
            Err(e) => problems.push(format!("{where_}[{n}]: {e}")),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// The policy's channels then the message's, each once, at most [`MAX_CHAT_TARGETS`].
pub fn merge(policy: &[ChatRoute], message: &[ChatRoute]) -> Vec<ChatRoute> {
    let mut out: Vec<ChatRoute> = Vec::new();
    for r in policy.iter().chain(message) {
        if !out.contains(r) && out.len() < MAX_CHAT_TARGETS {
            out.push(r.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slack_names_and_ids_and_teams_webhook_names_are_taken() {
        let routes = parse_notify(
            &json!([{"slack": "#deploys"}, {"slack": "C0123ABCDE", "lang": "ja"}, {"teams": "release-team"}, {"slack": "#deploys"}]),
            "notify",
        )
        .unwrap();
        assert_eq!(
            routes,
            vec![
                ChatRoute {
                    channel: ChatChannel::Slack("#deploys".into()),
                    lang: None
                },
                ChatRoute {
                    channel: ChatChannel::Slack("C0123ABCDE".into()),
                    lang: Some(ChatLang::Ja)
                },
                ChatRoute {
                    channel: ChatChannel::Teams("release-team".into()),
                    lang: None
                },
            ]
        );
    }

    #[test]
    fn a_webhook_url_from_the_workflow_is_refused() {
        let problems = parse_notify(
            &json!([{"teams": "https://evil.example/webhook"}]),
            "notify",
        )
        .unwrap_err();
        assert!(problems[0].contains("not a URL"), "{problems:?}");
    }

    #[test]
    fn every_bad_entry_is_named() {
        let problems = parse_notify(
            &json!([{"slack": "deploys"}, {"slack": "#a", "teams": "b"}, {"email": "x"}, {"teams": "t", "lang": "fr"}, "#x"]),
            "notify",
        )
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        assert!(parse_notify(&json!({"slack": "#a"}), "notify").is_err());
    }

    #[test]
    fn a_route_is_stored_in_the_shape_it_was_written_in() {
        let r = ChatRoute {
            channel: ChatChannel::Teams("ops".into()),
            lang: Some(ChatLang::En),
        };
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v, json!({"teams": "ops", "lang": "en"}));
        assert_eq!(serde_json::from_value::<ChatRoute>(v).unwrap(), r);
    }
}
