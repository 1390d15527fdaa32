//! Telling approvers that a request waits for them. The email carries only a deep link
//! into the console: no task token, nothing that decides on a GET.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;

use crate::domain::{NewRequest, Principal};

/// Who is in a group, for sending to `group:NAME` approvers.
pub trait Directory: Send + Sync + 'static {
    fn members_of(&self, group: &str) -> Vec<String>;
}

/// No directory: groups cannot be expanded (their members still see the request in the
/// console when they log in).
pub struct NoDirectory;

impl Directory for NoDirectory {
    fn members_of(&self, _group: &str) -> Vec<String> {
        Vec::new()
    }
}

#[async_trait]
pub trait Notifier: Send + Sync + 'static {
    async fn request_created(&self, id: &str, req: &NewRequest) -> anyhow::Result<()>;
}

/// The people to tell: named approvers and group members, once each, never the requester
/// when they may not approve their own request.
pub fn recipients(req: &NewRequest, directory: &dyn Directory) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in req.principals() {
        let emails = match p {
            Principal::User(e) => vec![e],
            Principal::Group(g) => directory.members_of(&g),
        };
        for e in emails {
            let e = e.to_lowercase();
            let own = !req.allow_self_approval && req.requested_by.as_deref() == Some(e.as_str());
            if !own && !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// A header value with no line breaks (the title is untrusted: no header injection).
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// RFC 2047 encoded-word, so Japanese subjects survive any mail client.
fn encode_header(s: &str) -> String {
    if s.is_ascii() {
        one_line(s)
    } else {
        format!("=?UTF-8?B?{}?=", STANDARD.encode(one_line(s)))
    }
}

/// The deep link into the console for a request.
pub fn deep_link(public_url: &str, id: &str) -> String {
    format!("{}/approvals/{id}", public_url.trim_end_matches('/'))
}

/// Builds one RFC 5322 message (text/plain, UTF-8, base64 body).
pub fn render_email(from: &str, to: &str, link: &str, req: &NewRequest, id: &str) -> String {
    let subject = format!("承認依頼 / Approval requested: {}", req.title);
    let requester = req.requested_by.as_deref().unwrap_or("-");
    let deadline = req
        .expires_at
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = format!(
        "An approval is waiting for you.\n\n\
         {title}\n\
         Requested by: {requester}\n\
         Workflow: {sm} / {ex}\n\
         Decide by: {deadline}\n\n\
         Open it in Hanko to review and decide:\n{link}\n\n\
         ----\n\
         承認依頼が届いています。\n\n\
         {title}\n\
         依頼者: {requester}\n\
         ワークフロー: {sm} / {ex}\n\
         期限: {deadline}\n\n\
         Hanko で内容を確認して判断してください:\n{link}\n\n\
         This message has no approve or reject links: deciding needs a login.\n",
        title = one_line(&req.title),
        sm = one_line(&req.state_machine_name),
        ex = one_line(&req.execution_name),
    );
    let encoded: Vec<String> = STANDARD
        .encode(body.as_bytes())
        .as_bytes()
        .chunks(76)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    format!(
        "From: Hanko <{from}>\r\n\
         To: <{to}>\r\n\
         Subject: {subject}\r\n\
         Date: {date}\r\n\
         Message-ID: <{id}.{to_id}@hanko>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=UTF-8\r\n\
         Content-Transfer-Encoding: base64\r\n\
         X-Hanko-Request: {id}\r\n\
         \r\n{body}\r\n",
        subject = encode_header(&subject),
        date = Utc::now().to_rfc2822(),
        to_id = to.replace(|c: char| !c.is_ascii_alphanumeric(), "-"),
        body = encoded.join("\r\n"),
    )
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
    async fn request_created(&self, id: &str, req: &NewRequest) -> anyhow::Result<()> {
        let link = deep_link(&self.public_url, id);
        let to = recipients(req, self.directory.as_ref());
        tokio::fs::create_dir_all(&self.dir)
            .await
            .with_context(|| format!("creating outbox {}", self.dir.display()))?;
        for (n, rcpt) in to.iter().enumerate() {
            let msg = render_email(&self.from, rcpt, &link, req, id);
            let path = self.dir.join(format!("{id}-{n}.eml"));
            tokio::fs::write(&path, msg)
                .await
                .with_context(|| format!("writing {}", path.display()))?;
        }
        tracing::info!(request_id = %id, recipients = ?to, %link, "approval requested");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::intake::sample_request;

    struct Ops;
    impl Directory for Ops {
        fn members_of(&self, group: &str) -> Vec<String> {
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

    #[test]
    fn group_members_are_told_once_and_the_requester_is_not() {
        assert_eq!(
            recipients(&req(), &Ops),
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
        let headers = msg.split("\r\n\r\n").next().unwrap();
        assert!(!headers.contains("Bcc:"));
        assert!(headers.contains("Subject: =?UTF-8?B?"));
    }
}
