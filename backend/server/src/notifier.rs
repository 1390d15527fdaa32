//! Telling approvers that a request waits for them. The email carries only a deep link
//! into the console: no task token, nothing that decides on a GET.
//!
//! The message is composed once per request ([`compose`]: subject, text and HTML in the
//! request's language, then the other language) and addressed per recipient as one lettre
//! [`Message`] ([`Composed::to_message`]) that every transport sends as it is: the file
//! outbox writes it, SES sends it as raw content, SMTP as the message data.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Datelike, FixedOffset, Utc};
// Text from the workflow in the HTML part: `& < > " '` escaped, inside elements and quoted
// attributes alike.
use html_escape::encode_quoted_attribute as escape_html;
use lettre::address::{Address, Envelope};
use lettre::message::header::{ContentTransferEncoding, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncTransport, Message};
use secrecy::{ExposeSecret, SecretString};

use crate::domain::{NewRequest, Principal, RequestId};

/// Who is in a group, for sending to `group:NAME` approvers.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// The members' emails; empty when the group is unknown or cannot be read now (its
    /// members still see the request in the console when they log in).
    async fn members_of(&self, group: &str) -> Vec<String>;
}

/// No directory: groups cannot be expanded (their members still see the request in the
/// console when they log in).
pub struct NoDirectory;

#[async_trait]
impl Directory for NoDirectory {
    async fn members_of(&self, _group: &str) -> Vec<String> {
        Vec::new()
    }
}

/// Group members from a Cognito user pool (`ListUsersInGroup`): the `email` of every
/// enabled user in the group.
pub struct CognitoDirectory {
    pub client: aws_sdk_cognitoidentityprovider::Client,
    pub user_pool_id: String,
}

impl CognitoDirectory {
    async fn list(&self, group: &str) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .list_users_in_group()
                .user_pool_id(&self.user_pool_id)
                .group_name(group)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "{}",
                        aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e)
                    )
                })?;
            for user in page.users() {
                if !user.enabled() {
                    continue;
                }
                let email = user
                    .attributes()
                    .iter()
                    .find(|a| a.name() == "email")
                    .and_then(|a| a.value());
                if let Some(email) = email {
                    out.push(email.to_string());
                }
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_string()),
                _ => return Ok(out),
            }
        }
    }
}

#[async_trait]
impl Directory for CognitoDirectory {
    async fn members_of(&self, group: &str) -> Vec<String> {
        match self.list(group).await {
            Ok(members) => members,
            Err(e) => {
                tracing::warn!(group, error = %format!("{e:#}"), "could not list the group's members in Cognito");
                Vec::new()
            }
        }
    }
}

/// Why people are told of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why<'a> {
    /// It was made: its approvers are told.
    Requested,
    /// Its reminder `key` ([`crate::domain::nudge`]) is due: those who may still vote
    /// (its approvers but those in `voted`) are told again.
    Reminder { key: &'a str, voted: &'a [String] },
    /// It was escalated: those the escalation made approvers are told.
    Escalated,
}

impl Why<'_> {
    /// What tells this message apart from the request's first one, in its Message-ID and
    /// outbox file name; `None` for the first one.
    fn tag(&self) -> Option<String> {
        match self {
            Why::Requested => None,
            Why::Reminder { key, .. } => {
                Some(key.replace(|c: char| !c.is_ascii_alphanumeric(), "-"))
            }
            Why::Escalated => Some("escalated".into()),
        }
    }
}

#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    /// Tells people of request `id`, as `why` says whom; `Ok` is how many messages were
    /// sent (all of them).
    async fn tell(&self, id: &RequestId, req: &NewRequest, why: Why<'_>) -> Result<usize, NotSent>;

    /// Tells the request's approvers that it was made.
    async fn request_created(&self, id: &RequestId, req: &NewRequest) -> Result<usize, NotSent> {
        self.tell(id, req, Why::Requested).await
    }

    /// Request `id` is no longer pending (decided, expired or closed): messages that can be
    /// changed say so (Slack's). Failures are logged here, never returned: the decision
    /// stands whatever chat says. Email has nothing to change.
    async fn request_finished(&self, _id: &RequestId) {}
}

/// Some notifications of a request were not sent (the others were).
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {} notifications were not sent ({})", .sent + .failed, .recipients.join(", "))]
pub struct NotSent {
    pub sent: usize,
    pub failed: usize,
    /// Who was not told.
    pub recipients: Vec<String>,
}

/// The people to tell: named approvers and group members, once each, never the requester
/// when they may not approve their own request.
pub async fn recipients(req: &NewRequest, directory: &dyn Directory) -> Vec<String> {
    recipients_among(&req.approvers, req, directory).await
}

/// Whom `why` tells of `req`: its approvers; for a reminder those of them who have not
/// voted; for an escalation those it added.
pub async fn recipients_for(
    req: &NewRequest,
    why: Why<'_>,
    directory: &dyn Directory,
) -> Vec<String> {
    match why {
        Why::Requested => recipients(req, directory).await,
        Why::Reminder { voted, .. } => recipients(req, directory)
            .await
            .into_iter()
            .filter(|e| !voted.contains(e))
            .collect(),
        Why::Escalated => {
            let added = req.escalation.as_ref().map_or(&[][..], |e| &e.added[..]);
            recipients_among(added, req, directory).await
        }
    }
}

/// `principals` as people to tell, as [`recipients`] does.
async fn recipients_among(
    principals: &[Principal],
    req: &NewRequest,
    directory: &dyn Directory,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in principals {
        let emails = match p {
            Principal::User(e) => vec![e.to_string()],
            Principal::Group(g) => directory.members_of(g).await,
        };
        for e in emails {
            let e = e.to_lowercase();
            let own = !req.allow_self_approval && req.is_requested_by(&e);
            if !own && !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// A header value with no line breaks (the title is untrusted: no header injection).
pub(crate) fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The deep link into the console for a request.
pub fn deep_link(public_url: &str, id: &str) -> String {
    format!("{}/approvals/{id}", public_url.trim_end_matches('/'))
}

/// The language of a notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// The request's language: Japanese when its title or description is written in
    /// Japanese (kana or kanji), English otherwise.
    pub fn of(req: &NewRequest) -> Self {
        let japanese = |c: char| matches!(c, '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{ff66}'..='\u{ff9f}');
        let text = req
            .title
            .chars()
            .chain(req.description.iter().flat_map(|d| d.chars()));
        if text.into_iter().any(japanese) {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Ja => "ja",
            Lang::En => "en",
        }
    }

    fn other(self) -> Self {
        match self {
            Lang::Ja => Lang::En,
            Lang::En => Lang::Ja,
        }
    }
}

/// One notification, composed once per request; [`Composed::to_message`] addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub request_id: String,
    /// Set for a reminder or an escalation ([`Why`]): a Message-ID of its own.
    pub tag: Option<String>,
    pub lang: Lang,
    pub link: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

struct Facts<'a> {
    why: Why<'a>,
    title: String,
    requester: &'a str,
    workflow: String,
    deadline: DateTime<Utc>,
    link: &'a str,
}

/// Japan Standard Time: UTC+9 all year (Japan keeps no daylight saving time).
fn jst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// The deadline, saying its time zone: in English in UTC ("Mon 7 Dec 2026, 17:51 UTC"), in
/// Japanese in Japan time with UTC beside it ("2026年12月8日(火) 2:51 JST（UTC 12月7日
/// 17:51）"). The mail cannot know the reader's zone; the console shows their own.
pub(crate) fn deadline_text(lang: Lang, at: DateTime<Utc>) -> String {
    match lang {
        Lang::En => at.format("%a %-d %b %Y, %H:%M UTC").to_string(),
        Lang::Ja => {
            let local = at.with_timezone(&jst());
            let weekday = ["月", "火", "水", "木", "金", "土", "日"]
                [local.weekday().num_days_from_monday() as usize];
            format!(
                "{}({weekday}) {} JST（UTC {}）",
                local.format("%Y年%-m月%-d日"),
                local.format("%-H:%M"),
                at.format("%-m月%-d日 %H:%M"),
            )
        }
    }
}

/// The first line of a message: why it was sent.
fn lead(lang: Lang, why: Why<'_>) -> &'static str {
    match (lang, why) {
        (Lang::En, Why::Requested) => "An approval is waiting for you.",
        (Lang::Ja, Why::Requested) => "承認依頼が届いています。",
        (Lang::En, Why::Reminder { .. }) => {
            "Reminder: an approval is still waiting for you, and its deadline is near."
        }
        (Lang::Ja, Why::Reminder { .. }) => {
            "リマインダー: 承認依頼がまだ判断されていません。期限が近づいています。"
        }
        (Lang::En, Why::Escalated) => {
            "This approval was escalated to you: nobody decided it in time, and you may now decide it."
        }
        (Lang::Ja, Why::Escalated) => {
            "この承認依頼はエスカレーションされました。期限内に判断されなかったため、あなたも判断できます。"
        }
    }
}

fn text_section(lang: Lang, f: &Facts) -> String {
    match lang {
        Lang::En => format!(
            "{lead}\n\n{title}\nRequested by: {req}\nWorkflow: {wf}\nDecide by: {dl}\n\nOpen it in Hanko to review and decide:\n{link}\n",
            lead = lead(lang, f.why),
            title = f.title,
            req = f.requester,
            wf = f.workflow,
            dl = deadline_text(lang, f.deadline),
            link = f.link
        ),
        Lang::Ja => format!(
            "{lead}\n\n{title}\n依頼者: {req}\nワークフロー: {wf}\n期限: {dl}\n\nHanko で内容を確認して判断してください:\n{link}\n",
            lead = lead(lang, f.why),
            title = f.title,
            req = f.requester,
            wf = f.workflow,
            dl = deadline_text(lang, f.deadline),
            link = f.link
        ),
    }
}

fn html_section(lang: Lang, f: &Facts) -> String {
    let lead = lead(lang, f.why);
    let (by, wf, dl, open) = match lang {
        Lang::En => (
            "Requested by",
            "Workflow",
            "Decide by",
            "Open in Hanko to review and decide",
        ),
        Lang::Ja => ("依頼者", "ワークフロー", "期限", "Hanko で確認して判断する"),
    };
    let link = escape_html(f.link);
    format!(
        "<div lang=\"{code}\">\n<p>{lead}</p>\n<h1 style=\"font-size:18px\">{title}</h1>\n<table>\n<tr><th align=\"left\">{by}</th><td>{req}</td></tr>\n<tr><th align=\"left\">{wf}</th><td>{workflow}</td></tr>\n<tr><th align=\"left\">{dl}</th><td>{deadline}</td></tr>\n</table>\n<p><a href=\"{link}\">{open}</a></p>\n<p style=\"color:#666\">{link}</p>\n</div>\n",
        code = lang.code(),
        title = escape_html(&f.title),
        req = escape_html(f.requester),
        workflow = escape_html(&f.workflow),
        deadline = escape_html(&deadline_text(lang, f.deadline)),
    )
}

/// Composes the notification for request `id`: the request's language first, then the
/// other one. Everything from the workflow is untrusted: one line in headers, escaped in
/// HTML.
pub fn compose(id: &str, req: &NewRequest, link: &str) -> Composed {
    compose_for(id, req, link, Why::Requested)
}

/// [`compose`] for a reminder or an escalation: its own first line and subject.
pub fn compose_for(id: &str, req: &NewRequest, link: &str, why: Why<'_>) -> Composed {
    let lang = Lang::of(req);
    let facts = Facts {
        why,
        title: one_line(&req.title),
        requester: req.requested_by.as_ref().map_or("-", |e| e.as_str()),
        workflow: format!(
            "{} / {}",
            one_line(&req.state_machine_name),
            one_line(&req.execution_name)
        ),
        deadline: req.expires_at,
        link,
    };
    let subject = match (lang, why) {
        (Lang::Ja, Why::Requested) => format!("承認依頼: {}", facts.title),
        (Lang::En, Why::Requested) => format!("Approval requested: {}", facts.title),
        (Lang::Ja, Why::Reminder { .. }) => format!("リマインダー: 承認依頼: {}", facts.title),
        (Lang::En, Why::Reminder { .. }) => {
            format!("Reminder: approval requested: {}", facts.title)
        }
        (Lang::Ja, Why::Escalated) => format!("エスカレーション: 承認依頼: {}", facts.title),
        (Lang::En, Why::Escalated) => format!("Escalated: approval requested: {}", facts.title),
    };
    let note = match lang {
        Lang::Ja => {
            "このメールに承認・却下のリンクはありません。判断にはログインが必要です。\nThis message has no approve or reject links: deciding needs a login.\n"
        }
        Lang::En => {
            "This message has no approve or reject links: deciding needs a login.\nこのメールに承認・却下のリンクはありません。判断にはログインが必要です。\n"
        }
    };
    let text = format!(
        "{}\n----\n{}\n{note}",
        text_section(lang, &facts),
        text_section(lang.other(), &facts)
    );
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"{code}\">\n<head><meta charset=\"utf-8\"><title>{subject}</title></head>\n<body>\n{first}<hr>\n{second}<p style=\"color:#666\">{note}</p>\n</body>\n</html>\n",
        code = lang.code(),
        subject = escape_html(&subject),
        first = html_section(lang, &facts),
        second = html_section(lang.other(), &facts),
        note = escape_html(note).replace('\n', "<br>\n"),
    );
    Composed {
        request_id: id.to_string(),
        tag: why.tag(),
        lang,
        link: link.to_string(),
        subject,
        text,
        html,
    }
}

impl Composed {
    /// The message to `to`: multipart/alternative, text then HTML, UTF-8, base64.
    pub fn to_message(&self, from: &str, to: &str) -> anyhow::Result<Message> {
        let id = &self.request_id;
        let to_id = to.replace(|c: char| !c.is_ascii_alphanumeric(), "-");
        let tag = self.tag.as_ref().map_or(String::new(), |t| format!(".{t}"));
        let from: Address = from.parse().context("sender address")?;
        let to: Address = to.parse().with_context(|| format!("recipient {to:?}"))?;
        // Both parts in base64, as Hanko's mail always was (lettre would choose
        // quoted-printable for mostly English text): one encoding for anyone who reads
        // the outbox or the mail SES accepted.
        let part = |content_type: &'static str, body: &str| {
            SinglePart::builder()
                .header(PartType(content_type.to_string()))
                .header(ContentTransferEncoding::Base64)
                .body(body.to_string())
        };
        let raw = |name: &'static str, value: String| {
            HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
        };
        Message::builder()
            .from(Mailbox::new(Some("Hanko".into()), from.clone()))
            // `To: <address>`, as before: lettre writes a lone address without the angle
            // brackets, and readers of the outbox look for them.
            .raw_header(raw("To", format!("<{to}>")))
            .envelope(Envelope::new(Some(from), vec![to.clone()]).context("envelope")?)
            .subject(self.subject.as_str())
            .message_id(Some(format!("<{id}{tag}.{to_id}@hanko>")))
            .raw_header(raw("Content-Language", self.lang.code().to_string()))
            .raw_header(raw("X-Hanko-Request", id.clone()))
            .multipart(
                MultiPart::alternative()
                    .singlepart(part("text/plain; charset=UTF-8", &self.text))
                    .singlepart(part("text/html; charset=UTF-8", &self.html)),
            )
            .context("building the message")
    }
}

/// A part's `Content-Type` with the charset spelled `UTF-8`, as Hanko's mail always had it:
/// lettre's `ContentType` goes through the `mime` crate, which lowercases it to `utf-8`
/// (the same charset to a mail client, but readers of SES's copy compare the spelling).
#[derive(Clone)]
struct PartType(String);

impl Header for PartType {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Type")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Sends one finished message to one recipient.
#[async_trait]
trait Transport: Send + Sync {
    /// Short name for logs.
    fn name(&self) -> &'static str;
    async fn send(&self, n: usize, to: &str, message: Message) -> anyhow::Result<()>;
}

/// Composes once, sends one message per recipient, logs the deep link. A failed
/// recipient does not stop the others; the error names how many failed.
async fn notify(
    transport: &dyn Transport,
    directory: &dyn Directory,
    from: &str,
    public_url: &str,
    id: &str,
    req: &NewRequest,
    why: Why<'_>,
) -> Result<usize, NotSent> {
    let link = deep_link(public_url, id);
    let to = recipients_for(req, why, directory).await;
    let composed = compose_for(id, req, &link, why);
    let mut failed = Vec::new();
    for (n, rcpt) in to.iter().enumerate() {
        let sent = match composed.to_message(from, rcpt) {
            Ok(message) => transport.send(n, rcpt, message).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::error!(request_id = %id, recipient = %rcpt, via = transport.name(), error = %format!("{e:#}"), "could not send a notification");
            failed.push(rcpt.clone());
        }
    }
    let what = match why {
        Why::Requested => "approval requested",
        Why::Reminder { .. } => "approvers reminded",
        Why::Escalated => "approval escalated",
    };
    tracing::info!(request_id = %id, recipients = ?to, via = transport.name(), %link, "{what}");
    if failed.is_empty() {
        Ok(to.len())
    } else {
        Err(NotSent {
            sent: to.len() - failed.len(),
            failed: failed.len(),
            recipients: failed,
        })
    }
}

/// The embedded default: one `.eml` file per recipient in a folder, and a log line with
/// the deep link.
pub struct FileOutbox {
    pub dir: PathBuf,
    pub from: String,
    pub public_url: String,
    pub directory: Arc<dyn Directory>,
}

#[async_trait]
impl Notifier for FileOutbox {
    async fn tell(&self, id: &RequestId, req: &NewRequest, why: Why<'_>) -> Result<usize, NotSent> {
        let id = id.as_str();
        let files = Files {
            dir: self.dir.clone(),
            name: match why.tag() {
                None => id.to_string(),
                Some(tag) => format!("{id}-{tag}"),
            },
        };
        notify(
            &files,
            self.directory.as_ref(),
            &self.from,
            &self.public_url,
            id,
            req,
            why,
        )
        .await
    }
}

/// Writes `<id>-<n>.eml` files.
struct Files {
    dir: PathBuf,
    /// The request's id, and what tells a reminder's or an escalation's files apart.
    name: String,
}

#[async_trait]
impl Transport for Files {
    fn name(&self) -> &'static str {
        "outbox"
    }
    async fn send(&self, n: usize, _to: &str, message: Message) -> anyhow::Result<()> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .with_context(|| format!("creating outbox {}", self.dir.display()))?;
        let path = self.dir.join(format!("{}-{n}.eml", self.name));
        tokio::fs::write(&path, message.formatted())
            .await
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Amazon SES (`SendEmail` with the raw MIME message), one email per approver. The
/// sender (`HANKO_MAIL_FROM`) must be a verified SES identity.
pub struct SesNotifier {
    pub client: aws_sdk_sesv2::Client,
    pub from: String,
    pub public_url: String,
    pub directory: Arc<dyn Directory>,
}

struct Ses<'a> {
    client: &'a aws_sdk_sesv2::Client,
    from: &'a str,
}

#[async_trait]
impl Transport for Ses<'_> {
    fn name(&self) -> &'static str {
        "ses"
    }
    async fn send(&self, _n: usize, to: &str, message: Message) -> anyhow::Result<()> {
        use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
        let raw = RawMessage::builder()
            .data(aws_sdk_sesv2::primitives::Blob::new(message.formatted()))
            .build()
            .context("building the SES message")?;
        self.client
            .send_email()
            .from_email_address(self.from)
            .destination(Destination::builder().to_addresses(to).build())
            .content(EmailContent::builder().raw(raw).build())
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("{}", aws_sdk_sesv2::error::DisplayErrorContext(e)))
            .context("SES SendEmail")?;
        Ok(())
    }
}

#[async_trait]
impl Notifier for SesNotifier {
    async fn tell(&self, id: &RequestId, req: &NewRequest, why: Why<'_>) -> Result<usize, NotSent> {
        let id = id.as_str();
        let ses = Ses {
            client: &self.client,
            from: &self.from,
        };
        notify(
            &ses,
            self.directory.as_ref(),
            &self.from,
            &self.public_url,
            id,
            req,
            why,
        )
        .await
    }
}

/// Any SMTP server (`HANKO_SMTP_URL`): `smtp://host:port` (plain, for local sinks),
/// `smtp://...?tls=required` (STARTTLS) or `smtps://` (TLS), with optional `user:pass@`.
pub struct SmtpNotifier {
    mailer: lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
    pub from: String,
    pub public_url: String,
    pub directory: Arc<dyn Directory>,
}

impl SmtpNotifier {
    /// Call inside the tokio runtime (the connection pool lives there).
    pub fn new(
        url: &SecretString,
        from: String,
        public_url: String,
        directory: Arc<dyn Directory>,
    ) -> anyhow::Result<Self> {
        // The URL may hold a password: never echo it.
        let mailer =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url.expose_secret())
                .map_err(|e| anyhow::anyhow!("HANKO_SMTP_URL is not a usable SMTP URL: {e}"))?
                .build();
        from.parse::<lettre::Address>()
            .with_context(|| format!("HANKO_MAIL_FROM {from:?} is not an email address"))?;
        Ok(Self {
            mailer,
            from,
            public_url,
            directory,
        })
    }
}

struct Smtp<'a> {
    mailer: &'a lettre::AsyncSmtpTransport<lettre::Tokio1Executor>,
}

#[async_trait]
impl Transport for Smtp<'_> {
    fn name(&self) -> &'static str {
        "smtp"
    }
    async fn send(&self, _n: usize, _to: &str, message: Message) -> anyhow::Result<()> {
        self.mailer.send(message).await.context("SMTP")?;
        Ok(())
    }
}

#[async_trait]
impl Notifier for SmtpNotifier {
    async fn tell(&self, id: &RequestId, req: &NewRequest, why: Why<'_>) -> Result<usize, NotSent> {
        let id = id.as_str();
        let smtp = Smtp {
            mailer: &self.mailer,
        };
        notify(
            &smtp,
            self.directory.as_ref(),
            &self.from,
            &self.public_url,
            id,
            req,
            why,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::domain::intake::sample_request;

    struct Ops;
    #[async_trait]
    impl Directory for Ops {
        async fn members_of(&self, group: &str) -> Vec<String> {
            if group == "ops" {
                vec!["carol@example.com".into(), "bob@example.com".into()]
            } else {
                vec![]
            }
        }
    }

    fn req() -> NewRequest {
        NewRequest {
            title: "本番デプロイ\r\nBcc: evil@example.com".into(),
            ..sample_request(&["alice@example.com", "group:ops"])
        }
    }

    /// The message for one recipient, as the transports send it.
    fn render_email(from: &str, to: &str, link: &str, req: &NewRequest, id: &str) -> String {
        let message = compose(id, req, link).to_message(from, to).unwrap();
        String::from_utf8(message.formatted()).unwrap()
    }

    /// The header `name` of `msg`, unfolded.
    fn header(msg: &str, name: &str) -> String {
        let headers = msg.split("\r\n\r\n").next().unwrap();
        let mut lines = headers.split("\r\n").skip_while(|l| !l.starts_with(name));
        let first = lines.next().unwrap()[name.len()..].to_string();
        lines
            .take_while(|l| l.starts_with(' '))
            .fold(first, |all, l| all + l)
    }

    /// The decoded parts of a message: (headers, [(content type, body)]).
    pub(crate) fn parts(msg: &str) -> (String, Vec<(String, String)>) {
        let (headers, body) = msg.split_once("\r\n\r\n").unwrap();
        let boundary = headers
            .split("boundary=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap();
        let mut out = Vec::new();
        for part in body.split(&format!("--{boundary}")).skip(1) {
            let Some((h, b)) = part.split_once("\r\n\r\n") else {
                continue;
            };
            let ct = h
                .lines()
                .find_map(|l| l.strip_prefix("Content-Type: "))
                .unwrap()
                .to_string();
            let b64: String = b.split_whitespace().collect();
            let bytes = STANDARD.decode(b64).unwrap();
            out.push((ct, String::from_utf8(bytes).unwrap()));
        }
        (headers.to_string(), out)
    }

    #[tokio::test]
    async fn group_members_are_told_once_and_the_requester_is_not() {
        assert_eq!(
            recipients(&req(), &Ops).await,
            vec!["alice@example.com", "carol@example.com"]
        );
    }

    #[test]
    fn a_title_with_line_breaks_cannot_add_headers() {
        let msg = render_email(
            "hanko@example.com",
            "alice@example.com",
            "http://x/approvals/1",
            &req(),
            "1",
        );
        // lettre leaves a header's ASCII words unencoded: the title's "Bcc:" stays in the
        // Subject's value, and no header line starts with it. RFC 2047 names the charset and
        // encoding case-insensitively (lettre writes them in lowercase).
        let headers = msg.split("\r\n\r\n").next().unwrap();
        assert!(
            !headers
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:"))
        );
        assert!(headers.to_ascii_lowercase().contains("subject: =?utf-8?b?"));
    }

    #[test]
    fn a_japanese_request_is_told_in_japanese_first_with_text_and_html_parts() {
        let link = "https://console.example/approvals/0193";
        let msg = render_email(
            "hanko@example.com",
            "alice@example.com",
            link,
            &req(),
            "0193",
        );
        let (headers, parts) = parts(&msg);
        assert!(headers.contains("Content-Language: ja"));
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].0, "text/plain; charset=UTF-8");
        assert_eq!(parts[1].0, "text/html; charset=UTF-8");
        let text = &parts[0].1;
        assert!(text.starts_with("承認依頼が届いています。"));
        assert!(text.find("承認依頼").unwrap() < text.find("An approval").unwrap());
        assert!(text.contains(link));
        let html = &parts[1].1;
        assert!(html.contains("<html lang=\"ja\">"));
        assert!(html.contains(&format!("<a href=\"{link}\">")));
    }

    #[test]
    fn the_deadline_says_its_time_zone_utc_in_english_and_japan_time_in_japanese() {
        let r = NewRequest {
            expires_at: "2026-12-07T17:51:28Z".parse().unwrap(),
            ..req()
        };
        let c = compose("1", &r, "http://x/approvals/1");
        assert!(
            c.text
                .contains("期限: 2026年12月8日(火) 2:51 JST（UTC 12月7日 17:51）"),
            "{}",
            c.text
        );
        assert!(
            c.text.contains("Decide by: Mon 7 Dec 2026, 17:51 UTC"),
            "{}",
            c.text
        );
        assert!(c.html.contains("<td>Mon 7 Dec 2026, 17:51 UTC</td>"));
    }

    #[test]
    fn an_english_request_is_told_in_english_first_and_html_is_escaped() {
        let r = NewRequest {
            title: "Deploy <script>alert(1)</script> & more".into(),
            ..sample_request(&["alice@example.com"])
        };
        let c = compose("1", &r, "http://x/approvals/1");
        assert_eq!(c.lang, Lang::En);
        assert!(c.subject.starts_with("Approval requested: "));
        assert!(c.text.starts_with("An approval is waiting for you."));
        assert!(!c.html.contains("<script>"));
        assert!(
            c.html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more")
        );
    }

    #[test]
    fn a_long_japanese_subject_is_split_into_short_encoded_words() {
        let composed = Composed {
            subject: "承認".repeat(60),
            ..compose("1", &req(), "http://x/approvals/1")
        };
        let msg = composed
            .to_message("hanko@example.com", "alice@example.com")
            .unwrap();
        let h = header(&String::from_utf8(msg.formatted()).unwrap(), "Subject: ");
        for word in h.split(' ') {
            assert!(word.len() <= 75, "{word}");
        }
        let decoded: String = h
            .split(' ')
            .map(|w| {
                assert!(w[..10].eq_ignore_ascii_case("=?UTF-8?B?"), "{w}");
                let b = &w[10..w.len() - 2];
                String::from_utf8(STANDARD.decode(b).unwrap()).unwrap()
            })
            .collect();
        assert_eq!(decoded, "承認".repeat(60));
    }
}
