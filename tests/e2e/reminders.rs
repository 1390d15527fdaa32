//! Reminders and escalation: the whole journey through `hanko serve` on moto (the policy's
//! reminder and escalation reach the outbox; the escalated person may then see and approve
//! the request), and two sweepers at once against each store, counting one mail per
//! reminder and per escalated person.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::Utc;
use hanko::domain::{IntakeMessage, PolicyDocument, RequestId, TaskToken};
use hanko::metrics::Metrics;
use hanko::notifier::{FileOutbox, NoDirectory};
use hanko::policy_source::Policies;
use hanko::service::{DeliveryPolicy, Hanko};
use hanko::signer::LocalSigner;
use hanko::store::Store;
use hanko::store::dynamo::DynamoStore;
use hanko::store::sqlite::SqliteStore;
use hanko::workflow::StepFunctions;
use hanko_e2e::{Moto, Stack, StackOptions};
use serde_json::{Value, json};

const POLICY: &str = r#"
default = "deny"

[[policies]]
name = "example-deploys"
stateMachines = ["arn:aws:states:*:*:stateMachine:hanko-example"]
approvers = ["alice@example.com"]
minApprovals = 1
maxTimeoutSeconds = 86400
# With an hour to decide: a reminder after 4 seconds, the escalation after 2.
remindBeforeSeconds = [3596]
escalateAfterSeconds = 2
escalateTo = ["carol@example.com"]
"#;

/// The `.eml` files of request `id` in `outbox` whose names start with `prefix`.
fn mails(outbox: &Path, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(outbox)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix) && n.ends_with(".eml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Who each of `files` in `outbox` was sent to.
fn recipients(outbox: &Path, files: &[String]) -> Vec<String> {
    let mut to: Vec<String> = files
        .iter()
        .map(|f| {
            let mail = std::fs::read_to_string(outbox.join(f)).unwrap();
            mail.lines()
                .find_map(|l| l.strip_prefix("To: <"))
                .and_then(|l| l.strip_suffix('>'))
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    to.sort();
    to
}

async fn wait_for_mails(outbox: &Path, prefix: &str, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found = mails(outbox, prefix);
        if found.len() >= n || Instant::now() > deadline {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policys_escalation_makes_carol_an_approver_who_approves_after_everyone_is_reminded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let stack = Stack::start_opts(StackOptions {
        as_shipped: true,
        // The stack sweeps every second.
        args: vec!["--policy-file".into(), file.display().to_string()],
        ..Default::default()
    })
    .await
    .expect("stack");
    let exec = stack
        .start_execution(
            "escalated",
            json!({"title": "Deploy shop-api", "description": "", "details": {}, "requestedBy": "bob@example.com", "timeoutSeconds": 3600}),
        )
        .await
        .unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let carol = stack
        .login("carol@example.com", "carol-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request("escalated", &alice).await.unwrap();
    let outbox = stack.outbox();

    // The escalation comes first: carol is told, and becomes an approver.
    let escalated = wait_for_mails(&outbox, &format!("{id}-escalated-"), 1).await;
    assert_eq!(recipients(&outbox, &escalated), ["carol@example.com"]);
    let mail = std::fs::read_to_string(outbox.join(&escalated[0])).unwrap();
    assert!(
        mail.contains("Subject: Escalated: approval requested: Deploy shop-api"),
        "{mail}"
    );
    assert!(mail.contains(&format!("X-Hanko-Request: {id}")), "{mail}");
    assert!(
        mail.contains(&format!("Message-ID: <{id}.escalated.")),
        "its own id: {mail}"
    );

    // Then the reminder, to everyone who may still vote: alice and now carol.
    let reminded = wait_for_mails(&outbox, &format!("{id}-remind-3596-"), 2).await;
    assert_eq!(
        recipients(&outbox, &reminded),
        ["alice@example.com", "carol@example.com"]
    );
    // Each once, however many passes the sweeper made since.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(mails(&outbox, &format!("{id}-remind-")).len(), 2);
    assert_eq!(mails(&outbox, &format!("{id}-escalated-")).len(), 1);

    let (status, body) = stack
        .get(&format!("/api/approvals/{id}"), &carol)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["approvers"],
        json!(["alice@example.com", "carol@example.com"])
    );
    let e = &body["escalation"];
    assert_eq!(e["to"], json!(["carol@example.com"]));
    assert_eq!(e["added"], json!(["carol@example.com"]));
    assert!(e["escalatedAt"].is_string(), "{e}");
    assert_eq!(body["viewer"]["canVote"], json!(true));

    let (status, body) = stack
        .decide(
            &id,
            &carol,
            json!({"decision": "approve", "comment": "escalated to me"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");

    // The audit export names the escalation and its time.
    let dave = stack
        .login("dave@example.com", "dave-audits")
        .await
        .unwrap();
    let (status, audit) = stack.get("/api/audit?format=json", &dave).await.unwrap();
    assert_eq!(status, 200, "{audit}");
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["requestId"] == json!(id))
        .expect("the request is in the export");
    assert_eq!(entry["escalation"]["added"], json!(["carol@example.com"]));
    stack.stop().await.unwrap();
}

/// A sweeper of its own over `store`, writing its mail into `outbox`.
fn sweeper(store: Arc<dyn Store>, outbox: &Path, sfn: &aws_config::SdkConfig) -> Hanko {
    Hanko {
        store,
        workflow: Arc::new(StepFunctions::new(aws_sdk_sfn::Client::new(sfn))),
        notifier: Arc::new(FileOutbox {
            dir: outbox.to_path_buf(),
            from: "hanko@example.com".into(),
            public_url: "http://console.example".into(),
            // Every approver here is named by email.
            directory: Arc::new(NoDirectory),
        }),
        signer: Arc::new(LocalSigner::new(
            hanko::keys::EcKey::generate().unwrap(),
            vec![],
        )),
        delivery: DeliveryPolicy::default(),
        policies: Policies::Absent,
        reconcile_from: Default::default(),
        metrics: Metrics::off(),
        events: Arc::new(hanko::events::NoEvents),
        passkeys: hanko::passkeys::Passkeys::localhost(),
    }
}

/// Request `n` as intake makes it under a policy that escalates after a second and
/// reminds one and two seconds in (an hour to decide).
fn nudging_request(n: u32) -> (RequestId, TaskToken, hanko::domain::NewRequest) {
    let doc = PolicyDocument::parse(
        r#"
default = "race"
[[policies]]
name = "race"
stateMachines = ["arn:*"]
approvers = ["alice@example.com", "bob@example.com"]
minApprovals = 2
maxTimeoutSeconds = 86400
remindBeforeSeconds = [3599, 3598]
escalateAfterSeconds = 1
escalateTo = ["carol@example.com", "alice@example.com"]
"#,
    )
    .unwrap();
    let raw: Value = json!({
        "taskToken": format!("token-{n}"),
        "execution": {"Id": format!("arn:aws:states:us-east-1:123456789012:execution:race:run-{n}")},
        "title": format!("Race {n}"),
        "requestedBy": "dave@example.com",
        "timeoutSeconds": 3600,
    });
    let mut m = IntakeMessage::parse(&raw, Utc::now()).unwrap();
    doc.govern(&mut m.request, &m.given, &m.asked_escalation)
        .unwrap();
    (RequestId::new(), m.task_token, m.request)
}

/// Two sweepers at once, five requests in a row, each request's reminders and
/// escalation due: one escalation mail (to carol) and one reminder mail per person who
/// may still vote (alice, bob, carol), whichever sweeper sends them.
async fn two_sweepers_at_once(a: Arc<dyn Store>, b: Arc<dyn Store>, sfn: &aws_config::SdkConfig) {
    let outbox = tempfile::tempdir().unwrap();
    let (one, two) = (
        sweeper(a.clone(), outbox.path(), sfn),
        sweeper(b, outbox.path(), sfn),
    );
    for n in 0..5 {
        let (id, token, req) = nudging_request(n);
        a.insert(&id, &token, &req).await.unwrap();
        // The escalation is due one second in, both reminders two seconds in.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let (x, y) = tokio::join!(one.nudge(), two.nudge());
        x.unwrap();
        y.unwrap();
        let escalated = mails(outbox.path(), &format!("{id}-escalated-"));
        assert_eq!(
            recipients(outbox.path(), &escalated),
            ["carol@example.com"],
            "round {n}"
        );
        // The two reminders due together make one mail each.
        let reminded = mails(outbox.path(), &format!("{id}-remind-"));
        assert_eq!(
            recipients(outbox.path(), &reminded),
            ["alice@example.com", "bob@example.com", "carol@example.com"],
            "round {n}: {reminded:?}"
        );
        let stored = a.get(&id).await.unwrap().unwrap();
        let approvers: Vec<String> = stored
            .request
            .approvers
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            approvers,
            ["alice@example.com", "bob@example.com", "carol@example.com"]
        );
        let mut sent = a.sent_nudges(&id).await.unwrap();
        sent.sort();
        assert_eq!(sent, ["escalate", "remind:3598", "remind:3599"]);
        // A later pass finds nothing left to send.
        one.nudge().await.unwrap();
        assert_eq!(mails(outbox.path(), &format!("{id}-")).len(), 4);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweepers_on_one_sqlite_file_send_each_reminder_and_escalation_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hanko.db");
    // Two stores on one file: two processes sharing it, as two `hanko serve` would.
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let sdk = hanko_e2e::sdk_for("http://127.0.0.1:9").await;
    two_sweepers_at_once(a, b, &sdk).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sweepers_on_one_dynamodb_table_send_each_reminder_and_escalation_once() {
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&client, "hanko-nudges")
        .await
        .unwrap();
    // Two clients, as two Lambda sweepers would have.
    let a: Arc<dyn Store> = Arc::new(DynamoStore::new(client, "hanko-nudges", 400));
    let b: Arc<dyn Store> = Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&moto.sdk),
        "hanko-nudges",
        400,
    ));
    two_sweepers_at_once(a, b, &moto.sdk).await;
}
