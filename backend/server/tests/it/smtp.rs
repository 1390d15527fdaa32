//! The SMTP notifier against a real SMTP conversation: a small sink on a free 127.0.0.1
//! port records what Hanko sends when a request comes in through the intake.

use crate::common;

use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{RecordingWorkflow, intake_message};
use hanko::keys::EcKey;
use hanko::notifier::{Directory, NoDirectory, SmtpNotifier};
use hanko::service::{Hanko, IntakeOutcome};
use hanko::signer::LocalSigner;
use hanko::store::sqlite::SqliteStore;
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// One message as the sink received it.
#[derive(Debug, Clone)]
struct Received {
    mail_from: String,
    rcpt_to: Vec<String>,
    data: String,
}

/// A minimal SMTP server: answers every session, keeps every message.
struct Sink {
    addr: std::net::SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Sink {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = {
            let received = received.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                loop {
                    let (socket, _) = tokio::select! {
                        _ = stop.cancelled() => return,
                        a = listener.accept() => a.unwrap(),
                    };
                    let received = received.clone();
                    tokio::spawn(session(socket, received));
                }
            })
        };
        Self {
            addr,
            received,
            stop,
            task,
        }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap();
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

async fn session(socket: tokio::net::TcpStream, received: Arc<Mutex<Vec<Received>>>) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
    let mut current = Received {
        mail_from: String::new(),
        rcpt_to: Vec::new(),
        data: String::new(),
    };
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if let Some(from) = upper.strip_prefix("MAIL FROM:") {
            current.mail_from = line[line.len() - from.len()..].to_string();
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            current.rcpt_to.push(line["RCPT TO:".len()..].to_string());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 go on\r\n").await.unwrap();
            let mut data = String::new();
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "." {
                    break;
                }
                let l = l.strip_prefix('.').unwrap_or(&l);
                data.push_str(l);
                data.push_str("\r\n");
            }
            current.data = data;
            received.lock().unwrap().push(current.clone());
            current.rcpt_to.clear();
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await.unwrap();
            return;
        } else {
            b"250 ok\r\n"
        };
        write.write_all(reply).await.unwrap();
    }
}

/// Decoded (content type, body) of each part of a multipart message.
fn parts(msg: &str) -> (String, Vec<(String, String)>) {
    let (headers, body) = msg.split_once("\r\n\r\n").unwrap();
    let boundary = headers
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let mut out = Vec::new();
    for part in body.split(&format!("--{boundary}")).skip(1) {
        if part.starts_with("--") {
            break; // the closing boundary
        }
        let Some((h, b)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let ct = h
            .lines()
            .find_map(|l| l.strip_prefix("Content-Type: "))
            .unwrap()
            .to_string();
        let b64: String = b.split_whitespace().collect();
        out.push((
            ct,
            String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap(),
        ));
    }
    (headers.to_string(), out)
}

/// `group:release-managers` is carol (and bob, who asked and may not approve).
struct ReleaseManagers;

#[async_trait::async_trait]
impl Directory for ReleaseManagers {
    async fn members_of(&self, group: &str) -> Vec<String> {
        match group {
            "release-managers" => vec!["Carol@Example.com".into(), "bob@example.com".into()],
            _ => vec![],
        }
    }
}

fn hanko_with(notifier: SmtpNotifier) -> Hanko {
    Hanko {
        store: Arc::new(SqliteStore::in_memory().unwrap()),
        workflow: Arc::new(RecordingWorkflow::accepting()),
        notifier: Arc::new(notifier),
        signer: Arc::new(LocalSigner::new(EcKey::generate().unwrap(), vec![])),
        delivery: Default::default(),
        policies: hanko::policy_source::Policies::Absent,
        reconcile_from: Default::default(),
    }
}

#[tokio::test]
async fn each_approver_gets_a_text_and_html_email_with_the_deep_link_and_never_the_task_token() {
    let sink = Sink::start().await;
    let token = "AQCEAAAAKgAAAAMAAAAAAAAAAZsecret-task-token-for-smtp";
    let directory = Arc::new(ReleaseManagers);
    let notifier = SmtpNotifier::new(
        &format!("smtp://{}", sink.addr).into(),
        "hanko@example.com".into(),
        "https://approvals.example.com".into(),
        directory,
    )
    .unwrap();
    let hanko = hanko_with(notifier);
    let IntakeOutcome::Created { id } = hanko
        .intake(
            &intake_message(
                token,
                json!({"title": "本番デプロイ shop-api v1.4.2", "description": "リリースノート"}),
            ),
            None,
        )
        .await
        .unwrap()
    else {
        panic!("not created");
    };

    let mail = sink.received();
    assert_eq!(
        mail.len(),
        2,
        "alice named, carol through the group: {mail:?}"
    );
    let mut rcpts: Vec<String> = mail.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    rcpts.sort();
    assert_eq!(rcpts, vec!["<alice@example.com>", "<carol@example.com>"]);
    let link = format!("https://approvals.example.com/approvals/{id}");
    for m in &mail {
        assert_eq!(m.mail_from, "<hanko@example.com>");
        assert!(!m.data.contains(token));
        let (headers, parts) = parts(&m.data);
        assert!(headers.contains("From: Hanko <hanko@example.com>"));
        assert!(headers.contains(&format!("To: {}", m.rcpt_to[0])));
        // RFC 2047: the charset and encoding names are case-insensitive (lettre writes them
        // in lowercase).
        assert!(headers.to_ascii_lowercase().contains("subject: =?utf-8?b?"));
        assert!(headers.contains("Content-Language: ja"));
        assert!(headers.contains(&format!("X-Hanko-Request: {id}")));
        assert_eq!(parts.len(), 2);
        let (text_type, text) = &parts[0];
        let (html_type, html) = &parts[1];
        assert_eq!(text_type, "text/plain; charset=UTF-8");
        assert_eq!(html_type, "text/html; charset=UTF-8");
        assert!(text.starts_with("承認依頼が届いています。"), "{text}");
        assert!(text.contains("本番デプロイ shop-api v1.4.2"));
        assert!(text.contains(&link));
        assert!(html.contains(&format!("<a href=\"{link}\">")));
        assert!(!text.contains(token) && !html.contains(token));
    }
    sink.stop().await;
}

#[tokio::test]
async fn an_unreachable_smtp_server_still_leaves_the_request_stored() {
    // A port nothing listens on: bind, note it, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let notifier = SmtpNotifier::new(
        &format!("smtp://127.0.0.1:{port}").into(),
        "hanko@example.com".into(),
        "https://approvals.example.com".into(),
        Arc::new(NoDirectory),
    )
    .unwrap();
    let hanko = hanko_with(notifier);
    let outcome = hanko
        .intake(&intake_message("smtp-down-token", json!({})), None)
        .await
        .unwrap();
    let IntakeOutcome::Created { id } = outcome else {
        panic!("not created: {outcome:?}");
    };
    assert!(hanko.store.get(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_bad_smtp_url_or_sender_is_refused_at_start() {
    let bad_url = SmtpNotifier::new(
        &"http://mail.example.com".into(),
        "hanko@example.com".into(),
        "https://x".into(),
        Arc::new(NoDirectory),
    );
    assert!(bad_url.is_err());
    let bad_from = SmtpNotifier::new(
        &"smtp://127.0.0.1:25".into(),
        "not an address".into(),
        "https://x".into(),
        Arc::new(NoDirectory),
    );
    assert!(format!("{:#}", bad_from.err().unwrap()).contains("HANKO_MAIL_FROM"));
}
