//! The chat secrets as the stack gives them: the Slack bot token and the Teams webhooks
//! read from Secrets Manager (on moto) at start, by the ARNs the template passes
//! (`HANKO_SLACK_BOT_TOKEN_SECRET_ARN`, `HANKO_TEAMS_WEBHOOKS_SECRET_ARN`), then used: the
//! token as Slack's bearer, the webhook by its name. A missing secret stops the start with
//! its ARN named.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use chrono::Utc;
use hanko::chat::config::{ChatConfig, SecretSource, SlackConfig};
use hanko::domain::{IntakeMessage, RequestId};
use hanko::store::sqlite::SqliteStore;
use hanko_e2e::Moto;
use serde_json::{Value, json};

const TOKEN: &str = "xoxb-from-secrets-manager-7f3a";

/// What a receiver standing in for Slack's Web API and a Teams webhook got: each
/// request's path and `Authorization` header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

async fn receive(State(seen): State<Seen>, uri: Uri, headers: HeaderMap) -> impl IntoResponse {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    seen.lock().unwrap().push((uri.path().to_string(), auth));
    if uri.path().starts_with("/teams/") {
        return "1".into_response();
    }
    axum::Json(json!({"ok": true, "channel": "C0DEPLOYS", "ts": "1765000000.000100"}))
        .into_response()
}

/// The receiver on a free loopback port; its base URL.
async fn receiver(seen: Seen) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(seen);
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, task)
}

async fn secret(moto: &Moto, name: &str, value: &str) -> String {
    aws_sdk_secretsmanager::Client::new(&moto.sdk)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_token_and_teams_webhooks_come_from_secrets_manager_and_are_used() {
    let moto = Moto::start().await.expect("moto");
    let seen: Seen = Arc::default();
    let (url, server) = receiver(seen.clone()).await;
    let slack_arn = secret(&moto, "hanko/slack", TOKEN).await;
    let teams_arn = secret(
        &moto,
        "hanko/teams",
        &json!({"release-team": format!("{url}/teams/release-team")}).to_string(),
    )
    .await;
    let config = ChatConfig {
        slack: Some(SlackConfig {
            api_url: format!("{url}/api").parse().unwrap(),
            token: SecretSource::SecretsManager(slack_arn),
        }),
        teams: Some(SecretSource::SecretsManager(teams_arn)),
    };
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let chat = hanko::chat::build(&config, &moto.sdk, "http://console.example", store)
        .await
        .expect("the secrets are read")
        .expect("chat is on");

    let raw: Value = json!({
        "taskToken": "token-1",
        "execution": {"Id": "arn:aws:states:us-east-1:123456789012:execution:deploy:run-1"},
        "title": "Deploy shop-api",
        "approvers": ["alice@example.com"],
        "notify": [{"slack": "#deploys"}, {"teams": "release-team"}],
    });
    let msg = IntakeMessage::parse(&raw, Utc::now()).unwrap();
    let (sent, failed) = chat.request_created(&RequestId::new(), &msg.request).await;
    assert_eq!((sent, failed), (2, Vec::<String>::new()));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (
                "/api/chat.postMessage".to_string(),
                Some(format!("Bearer {TOKEN}"))
            ),
            ("/teams/release-team".to_string(), None),
        ]
    );
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_stops_the_start_and_names_its_arn() {
    let moto = Moto::start().await.expect("moto");
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:hanko/none-AbCdEf";
    let config = ChatConfig {
        slack: Some(SlackConfig {
            api_url: "https://slack.com/api".parse().unwrap(),
            token: SecretSource::SecretsManager(arn.into()),
        }),
        teams: None,
    };
    let store = Arc::new(SqliteStore::in_memory().unwrap());
    let err = hanko::chat::build(&config, &moto.sdk, "http://console.example", store)
        .await
        .err()
        .expect("no secret, no start");
    let text = format!("{err:#}");
    assert!(text.contains(arn), "{text}");
    assert!(text.contains("the Slack bot token"), "{text}");
}
