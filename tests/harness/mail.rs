//! Reading mail back: what moto's SES accepted, and the local web mailbox (maildev, from
//! `infra/local`) that `make run` sends mail to over SMTP.

use std::path::Path;
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

/// maildev (`infra/local/node_modules`): an SMTP server and a web inbox on free ports of
/// 127.0.0.1, keeping its mail in a temporary folder; stopped when dropped.
pub struct Maildev {
    child: tokio::process::Child,
    pub smtp_port: u16,
    /// The web inbox, and its REST api (`/email`, `/email/{id}/download`).
    pub web: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Maildev {
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None).await
    }

    /// With `tls` (a PEM certificate and key), SMTP is spoken over TLS from the first byte
    /// (`smtps`, port 465's way); maildev offers no STARTTLS.
    pub async fn start_with(tls: Option<(&Path, &Path)>) -> anyhow::Result<Self> {
        let bin = crate::root().join("infra/local/node_modules/.bin/maildev");
        anyhow::ensure!(
            bin.exists(),
            "{} is missing: run scripts/setup.sh",
            bin.display()
        );
        let dir = tempfile::tempdir()?;
        let (smtp_port, web_port) = (crate::free_port(), crate::free_port());
        let mut cmd = tokio::process::Command::new(bin);
        if let Some((cert, key)) = tls {
            cmd.arg("--incoming-secure")
                .arg("--incoming-cert")
                .arg(cert)
                .arg("--incoming-key")
                .arg(key);
        }
        let child = cmd
            .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1", "--silent"])
            .args([
                "--smtp",
                &smtp_port.to_string(),
                "--web",
                &web_port.to_string(),
            ])
            .arg("--mail-directory")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        let web = format!("http://127.0.0.1:{web_port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{web}/email")).send().await.is_err() {
            anyhow::ensure!(
                Instant::now() < deadline,
                "maildev did not start within 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Ok(Self {
            child,
            smtp_port,
            web,
            http,
            _dir: dir,
        })
    }

    /// `hanko serve`'s flags to send its mail here.
    pub fn hanko_args(&self) -> Vec<String> {
        vec![
            "--notifier".into(),
            "smtp".into(),
            "--smtp-url".into(),
            format!("smtp://127.0.0.1:{}", self.smtp_port),
        ]
    }

    /// The messages received, oldest first, as maildev's api describes them.
    pub async fn messages(&self) -> anyhow::Result<Vec<Value>> {
        Ok(self
            .http
            .get(format!("{}/email", self.web))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Waits (up to 20 s) until at least `n` messages came, and returns them all.
    pub async fn wait_for(&self, n: usize) -> anyhow::Result<Vec<Value>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mail = self.messages().await?;
            if mail.len() >= n || Instant::now() > deadline {
                return Ok(mail);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// A message exactly as it came over SMTP (its `.eml`).
    pub async fn raw(&self, id: &str) -> anyhow::Result<String> {
        Ok(self
            .http
            .get(format!("{}/email/{id}/download", self.web))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
