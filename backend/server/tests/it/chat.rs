//! Slack and Teams notifications against local stand-ins for Slack's Web API and a Teams
//! incoming webhook (axum on 127.0.0.1), which check what the real ones check: the bearer
//! token, a JSON body, Block Kit blocks and an Adaptive Card of known element types, and
//! answer as they do (`{"ok": true, "channel", "ts"}`, `{"ok": false, "error"}`, 429 with
//! `Retry-After`, 500).

use crate::common;

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use common::{RecordingWorkflow, intake_message};
use hanko::chat::config::{ChatConfig, SecretSource, SlackConfig};
use hanko::chat::{Chat, Retry, WithChat};
use hanko::domain::{Caller, PolicyDocument};
use hanko::keys::EcKey;
use hanko::notifier::{FileOutbox, NoDirectory, Notifier};
use hanko::policy_source::Policies;
use hanko::service::{Hanko, IntakeOutcome};
use hanko::signer::LocalSigner;
use hanko::store::Store;
use hanko::store::sqlite::SqliteStore;
use hanko::workflow::ExecutionState;
use hanko_api::VoteChoice;
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-1111-2222-testtoken";
const TASK_TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAchat-secret-task-token";
const PUBLIC_URL: &str = "https://hanko.example";

/// What the stand-in answers next, before it answers as Slack normally does.
#[derive(Clone, Copy)]
enum Scripted {
    TooMany { retry_after: u64 },
    ServerError,
    Refuse(&'static str),
}

#[derive(Clone, Debug)]
struct Received {
    path: String,
    auth: Option<String>,
    body: Value,
}

#[derive(Default)]
struct Fake {
    received: Mutex<Vec<Received>>,
    script: Mutex<VecDeque<Scripted>>,
    /// Every Slack message posted: (channel id, ts).
    posted: Mutex<Vec<(String, String)>>,
    next_ts: AtomicU64,
}

impl Fake {
    fn received(&self, path: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn all_bodies(&self) -> String {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.body.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn slack_error(error: &str) -> Response {
    axum::Json(json!({"ok": false, "error": error})).into_response()
}

async fn handle(
    State(fake): State<Arc<Fake>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let json_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    fake.received.lock().unwrap().push(Received {
        path: path.clone(),
        auth: auth.clone(),
        body: parsed.clone(),
    });
    let scripted = fake.script.lock().unwrap().pop_front();
    match scripted {
        Some(Scripted::TooMany { retry_after }) => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after.to_string())],
                "rate limited",
            )
                .into_response();
        }
        Some(Scripted::ServerError) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response();
        }
        Some(Scripted::Refuse(error)) => return slack_error(error),
        None => {}
    }
    if let Some(name) = path.strip_prefix("/teams/") {
        let problems = if json_body {
            adaptive_card_problems(&parsed)
        } else {
            vec!["not JSON".into()]
        };
        return if name == "release-team" && problems.is_empty() {
            (StatusCode::OK, "1").into_response()
        } else {
            (
                StatusCode::BAD_REQUEST,
                format!("Bad payload: {problems:?}"),
            )
                .into_response()
        };
    }
    // Slack answers its own errors with 200 and `ok: false`.
    if auth.as_deref() != Some(&format!("Bearer {TOKEN}")) {
        return slack_error(if auth.is_none() {
            "not_authed"
        } else {
            "invalid_auth"
        });
    }
    if !json_body {
        return slack_error("invalid_form_data");
    }
    let problems = block_kit_problems(&parsed["blocks"]);
    if !problems.is_empty() {
        return axum::Json(json!({"ok": false, "error": "invalid_blocks", "errors": problems}))
            .into_response();
    }
    if parsed["text"].as_str().is_none_or(str::is_empty) {
        return slack_error("no_text");
    }
    match path.as_str() {
        "/api/chat.postMessage" => {
            let channel = match parsed["channel"].as_str() {
                Some("#deploys") => "C0DEPLOYS".to_string(),
                Some(id) if id.starts_with('C') => id.to_string(),
                _ => return slack_error("channel_not_found"),
            };
            let ts = format!(
                "1765000000.{:06}",
                fake.next_ts.fetch_add(1, Ordering::SeqCst)
            );
            fake.posted
                .lock()
                .unwrap()
                .push((channel.clone(), ts.clone()));
            axum::Json(json!({"ok": true, "channel": channel, "ts": ts, "message": {}}))
                .into_response()
        }
        "/api/chat.update" => {
            let at = (
                parsed["channel"].as_str().unwrap_or_default().to_string(),
                parsed["ts"].as_str().unwrap_or_default().to_string(),
            );
            if !fake.posted.lock().unwrap().contains(&at) {
                return slack_error("message_not_found");
            }
            axum::Json(json!({"ok": true, "channel": at.0, "ts": at.1})).into_response()
        }
        _ => slack_error("unknown_method"),
    }
}

/// What Slack checks of `blocks` (Block Kit's limits on the block types used here).
fn block_kit_problems(blocks: &Value) -> Vec<String> {
    let mut p = Vec::new();
    let text_object = |t: &Value, max: usize, p: &mut Vec<String>| {
        let kind = t["type"].as_str().unwrap_or_default();
        if kind != "mrkdwn" && kind != "plain_text" {
            p.push(format!("text object of type {kind:?}"));
        }
        match t["text"].as_str() {
            Some(s) if !s.is_empty() && s.chars().count() <= max => {}
            _ => p.push(format!("text missing or longer than {max}")),
        }
    };
    let Some(list) = blocks.as_array() else {
        return vec!["blocks is not an array".into()];
    };
    if list.is_empty() || list.len() > 50 {
        p.push("1 to 50 blocks".into());
    }
    for b in list {
        match b["type"].as_str() {
            Some("section") => {
                if b.get("text").is_none() && b.get("fields").is_none() {
                    p.push("a section needs text or fields".into());
                }
                if let Some(t) = b.get("text") {
                    text_object(t, 3000, &mut p);
                }
                if let Some(f) = b.get("fields") {
                    let f = f.as_array().cloned().unwrap_or_default();
                    if f.is_empty() || f.len() > 10 {
                        p.push("1 to 10 fields".into());
                    }
                    for t in &f {
                        text_object(t, 2000, &mut p);
                    }
                }
            }
            Some("context") => {
                let e = b["elements"].as_array().cloned().unwrap_or_default();
                if e.is_empty() || e.len() > 10 {
                    p.push("1 to 10 context elements".into());
                }
                for t in &e {
                    text_object(t, 3000, &mut p);
                }
            }
            Some("actions") => {
                let e = b["elements"].as_array().cloned().unwrap_or_default();
                if e.is_empty() || e.len() > 25 {
                    p.push("1 to 25 action elements".into());
                }
                for el in &e {
                    if el["type"] != "button" {
                        p.push(format!("action element {}", el["type"]));
                    }
                    if el["text"]["type"] != "plain_text" {
                        p.push("a button's text is plain_text".into());
                    }
                    text_object(&el["text"], 75, &mut p);
                    if el["url"].as_str().is_some_and(|u| u.len() > 3000) {
                        p.push("url longer than 3000".into());
                    }
                }
            }
            other => p.push(format!("unknown block type {other:?}")),
        }
    }
    p
}

/// What a Teams webhook checks of a message: one Adaptive Card attachment of known
/// element and action types.
fn adaptive_card_problems(m: &Value) -> Vec<String> {
    let mut p = Vec::new();
    if m["type"] != "message" {
        p.push("type is not message".into());
    }
    let attachments = m["attachments"].as_array().cloned().unwrap_or_default();
    if attachments.len() != 1 {
        return vec!["one attachment".into()];
    }
    let a = &attachments[0];
    if a["contentType"] != "application/vnd.microsoft.card.adaptive" {
        p.push("contentType".into());
    }
    let card = &a["content"];
    if card["type"] != "AdaptiveCard" {
        p.push("content.type is not AdaptiveCard".into());
    }
    if !matches!(
        card["version"].as_str(),
        Some("1.0" | "1.1" | "1.2" | "1.3" | "1.4" | "1.5")
    ) {
        p.push(format!("version {}", card["version"]));
    }
    let body = card["body"].as_array().cloned().unwrap_or_default();
    if body.is_empty() {
        p.push("empty body".into());
    }
    for el in &body {
        match el["type"].as_str() {
            Some("TextBlock") => {
                if el["text"].as_str().is_none() {
                    p.push("TextBlock without text".into());
                }
            }
            Some("RichTextBlock") => {
                for run in el["inlines"].as_array().cloned().unwrap_or_default() {
                    if run["type"] != "TextRun" || run["text"].as_str().is_none() {
                        p.push("RichTextBlock inline is not a TextRun with text".into());
                    }
                }
            }
            other => p.push(format!("element {other:?}")),
        }
    }
    for action in card["actions"].as_array().cloned().unwrap_or_default() {
        if action["type"] != "Action.OpenUrl" || action["url"].as_str().is_none() {
            p.push(format!("action {}", action["type"]));
        }
    }
    p
}

async fn start_fake() -> (Arc<Fake>, std::net::SocketAddr) {
    let fake = Arc::new(Fake::default());
    let app = Router::new().fallback(handle).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (fake, addr)
}

/// Chat tried quickly: the same number of tries, shorter waits (a 429 still waits its
/// `Retry-After`).
fn quick(mut chat: Chat) -> Chat {
    let retry = Retry {
        attempts: 4,
        base: Duration::from_millis(20),
        ..Retry::default()
    };
    if let Some(s) = chat.slack.as_mut() {
        s.retry = retry;
    }
    if let Some(t) = chat.teams.as_mut() {
        t.retry = retry;
    }
    chat
}

struct Setup {
    hanko: Hanko,
    fake: Arc<Fake>,
    workflow: Arc<RecordingWorkflow>,
    outbox: tempfile::TempDir,
    notifier: Arc<dyn Notifier>,
}

/// A Hanko that mails to a file outbox and posts to the stand-ins, configured as `hanko
/// serve` is (the secrets as given in the environment).
async fn setup(policies: Policies) -> Setup {
    let (fake, addr) = start_fake().await;
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    let outbox = tempfile::tempdir().unwrap();
    let config = ChatConfig {
        slack: Some(SlackConfig {
            api_url: format!("http://{addr}/api").parse().unwrap(),
            token: SecretSource::Value(TOKEN.into()),
        }),
        teams: Some(SecretSource::Value(
            json!({"release-team": format!("http://{addr}/teams/release-team")})
                .to_string()
                .into(),
        )),
    };
    let sdk = aws_config::SdkConfig::builder().build();
    let chat = hanko::chat::build(&config, &sdk, PUBLIC_URL, store.clone())
        .await
        .unwrap()
        .expect("chat is configured");
    let notifier: Arc<dyn Notifier> = Arc::new(WithChat {
        mail: Arc::new(FileOutbox {
            dir: outbox.path().to_path_buf(),
            from: "hanko@example.com".into(),
            public_url: PUBLIC_URL.into(),
            directory: Arc::new(NoDirectory),
        }),
        chat: Arc::new(quick(chat)),
    });
    let workflow = Arc::new(RecordingWorkflow::accepting());
    let hanko = Hanko {
        store,
        workflow: workflow.clone(),
        notifier: notifier.clone(),
        signer: Arc::new(LocalSigner::new(EcKey::generate().unwrap(), vec![])),
        delivery: Default::default(),
        policies,
        reconcile_from: Default::default(),
        passkeys: hanko::passkeys::Passkeys::localhost(),
        metrics: Default::default(),
        events: Arc::new(hanko::events::NoEvents),
    };
    Setup {
        hanko,
        fake,
        workflow,
        outbox,
        notifier,
    }
}

async fn take_in(s: &Setup, overrides: Value) -> hanko::domain::RequestId {
    match s
        .hanko
        .intake(&intake_message(TASK_TOKEN, overrides), None)
        .await
        .unwrap()
    {
        IntakeOutcome::Created { id } => id,
        other => panic!("not created: {other:?}"),
    }
}

fn alice() -> Caller {
    Caller {
        subject: "alice".into(),
        email: "alice@example.com".into(),
        name: "Alice".into(),
        groups: vec![],
        auth_time: Some(chrono::Utc::now().timestamp()),
    }
}

fn mails(outbox: &tempfile::TempDir) -> usize {
    std::fs::read_dir(outbox.path()).map_or(0, |d| d.count())
}

/// Every interactive element of a Slack message: a button that only opens `link`.
fn assert_only_the_link_button(blocks: &Value, link: &str) {
    let mut buttons = 0;
    for b in blocks.as_array().unwrap() {
        if b["type"] == "actions" {
            for el in b["elements"].as_array().unwrap() {
                assert_eq!(el["type"], "button");
                assert_eq!(
                    el["url"], link,
                    "a button that does not open the console: {el}"
                );
                assert!(
                    el.get("value").is_none(),
                    "a button that sends a value: {el}"
                );
                buttons += 1;
            }
        }
        assert!(b.get("accessory").is_none(), "an accessory: {b}");
    }
    assert_eq!(buttons, 1);
}

#[tokio::test]
async fn a_request_naming_slack_and_teams_gets_one_message_in_each_with_the_deep_link_and_mail_as_well()
 {
    let s = setup(Policies::Absent).await;
    let id = take_in(
        &s,
        json!({"notify": [{"slack": "#deploys"}, {"teams": "release-team", "lang": "ja"}]}),
    )
    .await;
    let link = format!("{PUBLIC_URL}/approvals/{id}");

    let posts = s.fake.received("/api/chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(
        posts[0].auth.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    let body = &posts[0].body;
    assert_eq!(body["channel"], "#deploys");
    assert!(block_kit_problems(&body["blocks"]).is_empty());
    assert_only_the_link_button(&body["blocks"], &link);
    let blocks = body["blocks"].to_string();
    assert!(
        blocks.contains("Deploy shop-api v1.4.2 to production"),
        "{blocks}"
    );
    assert!(blocks.contains("bob@example.com"), "{blocks}");
    assert!(
        blocks.contains(" UTC"),
        "the deadline says its zone: {blocks}"
    );

    let cards = s.fake.received("/teams/release-team");
    assert_eq!(cards.len(), 1);
    assert!(cards[0].auth.is_none(), "a webhook gets no token");
    let card = &cards[0].body;
    assert!(adaptive_card_problems(card).is_empty());
    let content = &card["attachments"][0]["content"];
    assert_eq!(
        content["actions"],
        json!([{"type": "Action.OpenUrl", "title": "Hanko で開く", "url": link}])
    );
    assert!(
        content.to_string().contains(" JST（UTC "),
        "the deadline in Japan time: {content}"
    );

    assert!(mails(&s.outbox) >= 1, "mail is sent besides chat");
    let stored = s.hanko.store.chat_messages(&id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].channel, "C0DEPLOYS");
    assert!(
        !s.fake.all_bodies().contains(TASK_TOKEN),
        "the task token was sent to chat"
    );
}

#[tokio::test]
async fn a_policys_channels_are_told_with_the_requests_own() {
    let doc = PolicyDocument::parse(
        r#"
default = "deny"
[[policies]]
name = "deploys"
stateMachines = ["arn:aws:states:*:123456789012:stateMachine:deploy"]
approvers = ["alice@example.com", "group:release-managers"]
minApprovals = 1
maxTimeoutSeconds = 86400
notify = [{ teams = "release-team" }]
mayNotify = [{ slack = "C0SHOP1234" }]
"#,
    )
    .unwrap();
    let s = setup(Policies::Fixed(Arc::new(doc))).await;
    take_in(&s, json!({"notify": [{"slack": "C0SHOP1234"}]})).await;
    assert_eq!(s.fake.received("/teams/release-team").len(), 1);
    let posts = s.fake.received("/api/chat.postMessage");
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].body["channel"], "C0SHOP1234");
}

#[tokio::test]
async fn a_request_that_names_a_webhook_url_is_refused_and_nothing_is_posted() {
    let s = setup(Policies::Absent).await;
    let out = s
        .hanko
        .intake(
            &intake_message(
                TASK_TOKEN,
                json!({"notify": [{"teams": "https://evil.example/hook"}]}),
            ),
            None,
        )
        .await
        .unwrap();
    let IntakeOutcome::Refused { problems, .. } = out else {
        panic!("not refused: {out:?}");
    };
    assert!(problems[0].contains("not a URL"), "{problems:?}");
    assert!(s.fake.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_slack_429_with_retry_after_and_a_500_are_retried_and_the_message_is_posted_once() {
    let s = setup(Policies::Absent).await;
    s.fake
        .script
        .lock()
        .unwrap()
        .extend([Scripted::TooMany { retry_after: 1 }, Scripted::ServerError]);
    let started = Instant::now();
    let id = take_in(&s, json!({"notify": [{"slack": "#deploys"}]})).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not waited for"
    );
    let posts = s.fake.received("/api/chat.postMessage");
    assert_eq!(posts.len(), 3, "429, 500, then posted");
    assert!(
        posts.iter().all(|p| p.body == posts[0].body),
        "every try sends the same message"
    );
    assert_eq!(s.fake.posted.lock().unwrap().len(), 1);
    assert_eq!(s.hanko.store.chat_messages(&id).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_slack_429_asking_for_a_longer_wait_than_hanko_gives_is_not_waited_for() {
    let s = setup(Policies::Absent).await;
    s.fake
        .script
        .lock()
        .unwrap()
        .push_back(Scripted::TooMany { retry_after: 3600 });
    let id = tokio::time::timeout(
        Duration::from_secs(5),
        take_in(&s, json!({"notify": [{"slack": "#deploys"}]})),
    )
    .await
    .expect("the intake waited for the 429's Retry-After");
    assert_eq!(s.fake.received("/api/chat.postMessage").len(), 1);
    assert!(s.hanko.store.chat_messages(&id).await.unwrap().is_empty());
    assert!(s.hanko.store.get(&id).await.unwrap().is_some());
}

#[tokio::test]
async fn a_slack_that_keeps_failing_is_tried_a_bounded_number_of_times_and_the_request_stays() {
    let s = setup(Policies::Absent).await;
    s.fake
        .script
        .lock()
        .unwrap()
        .extend([Scripted::ServerError; 10]);
    let id = take_in(&s, json!({"notify": [{"slack": "#deploys"}]})).await;
    assert_eq!(s.fake.received("/api/chat.postMessage").len(), 4);
    assert!(s.hanko.store.get(&id).await.unwrap().is_some());
    assert!(mails(&s.outbox) >= 1, "mail went out all the same");
}

/// The log lines written while `f` runs (on this thread: the tests' runtime is current-thread).
async fn logged<F: std::future::Future>(f: F) -> (F::Output, String) {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let out = f.await;
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    (out, text)
}

#[tokio::test]
async fn a_slack_refusal_is_logged_with_its_error_and_counted_as_not_sent() {
    let s = setup(Policies::Absent).await;
    s.fake
        .script
        .lock()
        .unwrap()
        .push_back(Scripted::Refuse("channel_not_found"));
    let req = hanko::domain::IntakeMessage::parse(
        &intake_message(
            TASK_TOKEN,
            json!({"notify": [{"slack": "#deploys"}, {"teams": "release-team"}]}),
        ),
        chrono::Utc::now(),
    )
    .unwrap()
    .request;
    let id = hanko::domain::RequestId::new();
    let (sent, log) = logged(s.notifier.request_created(&id, &req)).await;
    let not_sent = sent.unwrap_err();
    assert_eq!(not_sent.recipients, vec!["slack #deploys"]);
    assert_eq!(not_sent.failed, 1);
    assert!(log.contains("channel_not_found"), "{log}");
    assert!(!log.contains(TOKEN), "the token was logged: {log}");
    assert!(
        !log.contains("/teams/release-team"),
        "a webhook URL was logged: {log}"
    );
}

#[tokio::test]
async fn a_delegate_s_approval_changes_the_slack_message_to_say_carol_for_alice() {
    let s = setup(Policies::Absent).await;
    let id = take_in(&s, json!({"notify": [{"slack": "#deploys"}]})).await;
    let now = chrono::Utc::now();
    s.hanko
        .store
        .put_delegation(&hanko::domain::Delegation {
            delegator: "alice@example.com".into(),
            groups: vec![],
            delegate: "carol@example.com".parse().unwrap(),
            from: now - chrono::Duration::hours(1),
            until: now + chrono::Duration::hours(1),
            created_at: now,
        })
        .await
        .unwrap();
    let carol = Caller {
        subject: "carol".into(),
        email: "carol@example.com".into(),
        name: "Carol".into(),
        ..alice()
    };
    s.hanko
        .vote(
            &id,
            &carol,
            VoteChoice::Approve,
            None,
            Some("alice@example.com"),
            None,
            None,
        )
        .await
        .unwrap();
    let updates = s.fake.received("/api/chat.update");
    let blocks = updates[0].body["blocks"].to_string();
    assert!(
        blocks.contains("Approved by carol@example.com for alice@example.com at "),
        "{blocks}"
    );
}

#[tokio::test]
async fn an_approved_request_changes_its_slack_message_to_say_who_approved_it_and_when() {
    let s = setup(Policies::Absent).await;
    let id = take_in(&s, json!({"notify": [{"slack": "#deploys"}]})).await;
    s.hanko
        .vote(
            &id,
            &alice(),
            VoteChoice::Approve,
            Some("ship it"),
            None,
            None,
            None,
        )
        .await
        .unwrap();
    let updates = s.fake.received("/api/chat.update");
    assert_eq!(updates.len(), 1);
    let u = &updates[0].body;
    let (channel, ts) = s.fake.posted.lock().unwrap()[0].clone();
    assert_eq!(
        (u["channel"].as_str().unwrap(), u["ts"].as_str().unwrap()),
        (channel.as_str(), ts.as_str())
    );
    let blocks = u["blocks"].to_string();
    assert!(
        blocks.contains("Approved by alice@example.com at "),
        "{blocks}"
    );
    assert!(blocks.contains(" UTC"), "{blocks}");
    assert_only_the_link_button(&u["blocks"], &format!("{PUBLIC_URL}/approvals/{id}"));
    assert!(!s.fake.all_bodies().contains(TASK_TOKEN));
}

#[tokio::test]
async fn an_expired_request_changes_its_slack_message_in_the_channels_language() {
    let s = setup(Policies::Absent).await;
    let id = take_in(
        &s,
        json!({"timeoutSeconds": 1, "notify": [{"slack": "#deploys", "lang": "ja"}]}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    s.hanko.sweep().await.unwrap();
    let updates = s.fake.received("/api/chat.update");
    assert_eq!(updates.len(), 1, "request {id}");
    let blocks = updates[0].body["blocks"].to_string();
    assert!(blocks.contains("期限切れ"), "{blocks}");
}

#[tokio::test]
async fn a_request_closed_because_its_execution_ended_changes_its_slack_message() {
    let s = setup(Policies::Absent).await;
    take_in(&s, json!({"notify": [{"slack": "#deploys"}]})).await;
    *s.workflow.execution.lock().unwrap() = ExecutionState::Ended("ABORTED".into());
    s.hanko.reconcile().await.unwrap();
    let updates = s.fake.received("/api/chat.update");
    assert_eq!(updates.len(), 1);
    assert!(
        updates[0].body["text"]
            .as_str()
            .unwrap()
            .contains("Closed without a decision")
    );
}

#[tokio::test]
async fn workflow_text_cannot_mention_the_channel_or_add_links_or_buttons() {
    let s = setup(Policies::Absent).await;
    take_in(
        &s,
        json!({
            "title": "<!channel> <https://evil.example|approve here> [x](https://evil.example)",
            "notify": [{"slack": "#deploys"}, {"teams": "release-team"}]
        }),
    )
    .await;
    let post = &s.fake.received("/api/chat.postMessage")[0].body;
    let text = post.to_string();
    assert!(
        !text.contains("<!channel>") && !text.contains("<https://evil"),
        "{text}"
    );
    let card = &s.fake.received("/teams/release-team")[0].body["attachments"][0]["content"];
    for el in card["body"].as_array().unwrap() {
        if el["type"] == "TextBlock" {
            assert!(
                !el["text"].as_str().unwrap().contains("evil"),
                "untrusted text in a Markdown TextBlock: {el}"
            );
        }
    }
    assert_eq!(card["actions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_teams_name_nobody_configured_is_not_sent_anywhere() {
    let s = setup(Policies::Absent).await;
    take_in(&s, json!({"notify": [{"teams": "someone-else"}]})).await;
    assert!(s.fake.received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn without_chat_settings_no_chat_notifier_is_built() {
    let sdk = aws_config::SdkConfig::builder().build();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
    assert!(
        hanko::chat::build(&ChatConfig::default(), &sdk, PUBLIC_URL, store)
            .await
            .unwrap()
            .is_none()
    );
}
