//! What a chat message says, and its two shapes: Slack Block Kit and a Teams Adaptive
//! Card. Both carry the title, the requester, the workflow, the deadline (saying its time
//! zone) and one "Open in Hanko" button with the deep link; never an action that decides.
//! Everything from the workflow is untrusted: escaped for Slack's mrkdwn (`&`, `<`, `>`:
//! no mentions, no links of its own), and in the card only in `TextRun`s, which show text
//! as it is (a `TextBlock` or a fact would read Markdown: a title could become a link).

use chrono::{DateTime, Utc};
use hanko_api::{RequestStatus, VoteChoice};
use serde_json::{Value, json};

use crate::domain::NewRequest;
use crate::domain::chat::ChatLang;
use crate::notifier::{Lang, deadline_text, one_line};
use crate::store::StoredRequest;

/// The facts of one request as a chat message shows them, in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatText {
    pub lang: Lang,
    pub title: String,
    pub requester: String,
    pub workflow: String,
    pub deadline: String,
    pub link: String,
    /// How the request ended, once it has ("Approved by alice@example.com at ...").
    pub outcome: Option<String>,
}

/// The message's language: the channel's own, else the request's.
pub fn lang_of(channel: Option<ChatLang>, req: &NewRequest) -> Lang {
    match channel {
        Some(ChatLang::Ja) => Lang::Ja,
        Some(ChatLang::En) => Lang::En,
        None => Lang::of(req),
    }
}

impl ChatText {
    pub fn new(lang: Lang, req: &NewRequest, link: &str) -> Self {
        Self {
            lang,
            title: one_line(&req.title),
            requester: req
                .requested_by
                .as_ref()
                .map_or("-", |e| e.as_str())
                .to_string(),
            workflow: format!(
                "{} / {}",
                one_line(&req.state_machine_name),
                one_line(&req.execution_name)
            ),
            deadline: deadline_text(lang, req.expires_at),
            link: link.to_string(),
            outcome: None,
        }
    }

    /// The same message, saying how `req` ended.
    pub fn finished(mut self, req: &StoredRequest) -> Self {
        self.outcome = Some(outcome_text(self.lang, req));
        self
    }

    fn labels(&self) -> Labels {
        match self.lang {
            Lang::En => Labels {
                lead: "Approval requested",
                by: "Requested by",
                workflow: "Workflow",
                deadline: "Decide by",
                open: "Open in Hanko",
                note: "No approve or reject here: deciding needs a login in Hanko.",
            },
            Lang::Ja => Labels {
                lead: "承認依頼",
                by: "依頼者",
                workflow: "ワークフロー",
                deadline: "期限",
                open: "Hanko で開く",
                note: "ここでは承認・却下できません。判断には Hanko へのログインが必要です。",
            },
        }
    }

    /// The notification's plain text (Slack's `text`: what notifications and screen
    /// readers show), escaped for mrkdwn.
    pub fn slack_text(&self) -> String {
        let l = self.labels();
        match &self.outcome {
            Some(o) => format!("{}: {} ({})", l.lead, mrkdwn(&self.title), mrkdwn(o)),
            None => format!(
                "{}: {} ({}: {})",
                l.lead,
                mrkdwn(&self.title),
                l.deadline,
                self.deadline
            ),
        }
    }

    /// Block Kit blocks: the title, the outcome once there is one, the facts, a note that
    /// nothing here decides, and the one link button.
    pub fn slack_blocks(&self) -> Value {
        let l = self.labels();
        let mut blocks = vec![json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": format!("{}\n*{}*", l.lead, mrkdwn(&self.title))},
        })];
        if let Some(o) = &self.outcome {
            blocks.push(json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": format!("*{}*", mrkdwn(o))},
            }));
        }
        let field =
            |k: &str, v: &str| json!({"type": "mrkdwn", "text": format!("*{k}*\n{}", mrkdwn(v))});
        blocks.push(json!({
            "type": "section",
            "fields": [
                field(l.by, &self.requester),
                field(l.deadline, &self.deadline),
                field(l.workflow, &self.workflow),
            ],
        }));
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": mrkdwn(l.note)}],
        }));
        blocks.push(json!({
            "type": "actions",
            "elements": [{
                "type": "button",
                "action_id": "open_in_hanko",
                "text": {"type": "plain_text", "text": l.open},
                "url": self.link,
            }],
        }));
        Value::Array(blocks)
    }

    /// The Teams message: one Adaptive Card (1.4) whose only action opens the console.
    pub fn teams_message(&self) -> Value {
        let l = self.labels();
        let plain = |text: &str, bold: bool| {
            let mut run = json!({"type": "TextRun", "text": text});
            if bold {
                run["weight"] = json!("Bolder");
            }
            run
        };
        let mut body = vec![
            json!({"type": "TextBlock", "text": l.lead, "weight": "Bolder", "size": "Medium", "wrap": true}),
            json!({"type": "RichTextBlock", "inlines": [plain(&self.title, true)]}),
        ];
        if let Some(o) = &self.outcome {
            body.push(json!({"type": "RichTextBlock", "inlines": [plain(o, true)]}));
        }
        for (k, v) in [
            (l.by, &self.requester),
            (l.deadline, &self.deadline),
            (l.workflow, &self.workflow),
        ] {
            body.push(json!({
                "type": "RichTextBlock",
                "inlines": [plain(&format!("{k}: "), true), plain(v, false)],
            }));
        }
        body.push(json!({"type": "TextBlock", "text": l.note, "isSubtle": true, "size": "Small", "wrap": true}));
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "lang": self.lang.code(),
                    "body": body,
                    "actions": [{"type": "Action.OpenUrl", "title": l.open, "url": self.link}],
                },
            }],
        })
    }
}

struct Labels {
    lead: &'static str,
    by: &'static str,
    workflow: &'static str,
    deadline: &'static str,
    open: &'static str,
    note: &'static str,
}

/// Text for Slack's mrkdwn: `&`, `<` and `>` escaped, as Slack asks, so untrusted text
/// makes no mention (`<!channel>`), link (`<https://...|...>`) or user reference.
/// These are HTML's text escapes, so html-escape's `encode_text` does it.
pub fn mrkdwn(s: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_text(s)
}

/// Who voted `choice`; a delegate's vote names both ("carol@example.com for
/// alice@example.com").
fn voters(lang: Lang, req: &StoredRequest, choice: VoteChoice) -> String {
    let who: Vec<String> = req
        .votes
        .iter()
        .filter(|v| v.choice == choice)
        .map(|v| match (&v.on_behalf_of, lang) {
            (None, _) => v.voter.clone(),
            (Some(seat), Lang::En) => format!("{} for {seat}", v.voter),
            (Some(seat), Lang::Ja) => format!("{}（{seat} の代理）", v.voter),
        })
        .collect();
    if who.is_empty() {
        "-".into()
    } else {
        who.join(", ")
    }
}

/// "Approved by alice@example.com at Mon 7 Dec 2026, 10:42 UTC", and the like.
fn outcome_text(lang: Lang, req: &StoredRequest) -> String {
    let at = |t: Option<DateTime<Utc>>| deadline_text(lang, t.unwrap_or_else(Utc::now));
    let decided = req.decision.as_ref().map(|d| d.decided_at);
    match (req.status, lang) {
        (RequestStatus::Approved, Lang::En) => format!(
            "Approved by {} at {}",
            voters(lang, req, VoteChoice::Approve),
            at(decided)
        ),
        (RequestStatus::Approved, Lang::Ja) => format!(
            "{} が承認しました（{}）",
            voters(lang, req, VoteChoice::Approve),
            at(decided)
        ),
        (RequestStatus::Rejected, Lang::En) => format!(
            "Rejected by {} at {}",
            voters(lang, req, VoteChoice::Reject),
            at(decided)
        ),
        (RequestStatus::Rejected, Lang::Ja) => format!(
            "{} が却下しました（{}）",
            voters(lang, req, VoteChoice::Reject),
            at(decided)
        ),
        (RequestStatus::Expired, Lang::En) => {
            format!(
                "Expired: nobody decided by {}",
                at(Some(req.request.expires_at))
            )
        }
        (RequestStatus::Expired, Lang::Ja) => {
            format!(
                "期限切れ: {} までに判断されませんでした",
                at(Some(req.request.expires_at))
            )
        }
        (_, Lang::En) => format!(
            "Closed without a decision at {}: the workflow no longer waits",
            at(req.closed_at)
        ),
        (_, Lang::Ja) => format!(
            "判断されずに終了しました（{}）: ワークフローはもう待っていません",
            at(req.closed_at)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::sample_request;

    fn hostile() -> NewRequest {
        NewRequest {
            title:
                "<!channel> deploy <https://evil.example|click> & [x](https://evil.example)\nnow"
                    .into(),
            expires_at: "2026-12-07T17:51:28Z".parse().unwrap(),
            ..sample_request(&["alice@example.com"])
        }
    }

    #[test]
    fn slack_text_from_the_workflow_makes_no_mention_and_no_link() {
        let t = ChatText::new(Lang::En, &hostile(), "https://hanko.example/approvals/1");
        let blocks = t.slack_blocks().to_string();
        assert!(!blocks.contains("<!channel>"), "{blocks}");
        assert!(!blocks.contains("<https://evil"), "{blocks}");
        assert!(
            blocks.contains("&lt;!channel&gt; deploy &lt;https://evil.example|click&gt; &amp;")
        );
        assert!(!t.slack_text().contains('<'));
        assert!(blocks.contains("Mon 7 Dec 2026, 17:51 UTC"));
    }

    #[test]
    fn the_card_shows_workflow_text_only_in_text_runs() {
        let t = ChatText::new(Lang::Ja, &hostile(), "https://hanko.example/approvals/1");
        let card = t.teams_message();
        let content = &card["attachments"][0]["content"];
        for block in content["body"].as_array().unwrap() {
            if block["type"] == "TextBlock" {
                let text = block["text"].as_str().unwrap();
                assert!(!text.contains("evil"), "{text}");
            }
        }
        assert!(card.to_string().contains("2026年12月8日(火) 2:51 JST"));
        assert_eq!(content["actions"].as_array().unwrap().len(), 1);
    }
}
