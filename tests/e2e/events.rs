//! EventBridge events on moto, as another system would take them: an event bus of the
//! test's own, a rule whose pattern is `source: ["hanko"]` and whose target is an SQS
//! queue, and `hanko serve --event-bus` on it. The test reads the queue back while
//! requests live their lives (decided by a quorum of two, expired by the sweeper, closed
//! because the execution went on without it) and checks each one's events, in order, with its
//! ids, and that none carries the task token, the details or a comment; on each store.

use std::time::{Duration, Instant};

use aws_sdk_eventbridge::types::Target;
use aws_sdk_sfn::types::ExecutionStatus;
use hanko::events::{
    ApprovalClosed, ApprovalDecided, ApprovalExpired, ApprovalRequested, VoteRecorded, WorkflowTold,
};
use hanko_e2e::{Moto, Options, Stack, example_input};
use serde_json::{Value, json};

const ALICE: (&str, &str) = ("alice@example.com", "alice-approves");
const CAROL: (&str, &str) = ("carol@example.com", "carol-approves");
const BUS: &str = "approvals";
const DETAILS_MARKER: &str = "details-never-in-an-event-4d1c";
const COMMENT_MARKER: &str = "comment-never-in-an-event-a72e";

/// The queue the rule sends Hanko's events to, and what was read from it so far.
struct EventQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    read: Vec<Value>,
}

impl EventQueue {
    /// The bus, the rule and its queue on `moto`.
    async fn create(moto: &Moto) -> Self {
        let sqs = aws_sdk_sqs::Client::new(&moto.sdk);
        let events = aws_sdk_eventbridge::Client::new(&moto.sdk);
        let (url, queue_arn) = hanko_e2e::create_queue(&sqs, "hanko-events").await.unwrap();
        events.create_event_bus().name(BUS).send().await.unwrap();
        events
            .put_rule()
            .name("hanko-to-queue")
            .event_bus_name(BUS)
            .event_pattern(json!({"source": ["hanko"]}).to_string())
            .send()
            .await
            .unwrap();
        events
            .put_targets()
            .rule("hanko-to-queue")
            .event_bus_name(BUS)
            .targets(
                Target::builder()
                    .id("queue")
                    .arn(queue_arn)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        Self {
            sqs,
            url,
            read: Vec::new(),
        }
    }

    /// Reads the queue until `request_id` has `n` events; returns them, in the order read.
    async fn wait_for(&mut self, request_id: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let of = |read: &[Value]| -> Vec<Value> {
                read.iter()
                    .filter(|e| e["detail"]["requestId"] == request_id)
                    .cloned()
                    .collect()
            };
            let mine = of(&self.read);
            if mine.len() >= n {
                return mine;
            }
            assert!(
                Instant::now() < deadline,
                "{request_id} has {} events of {n}: {mine:#?}",
                mine.len()
            );
            self.receive().await;
        }
    }

    /// One receive (waiting up to a second): what came is added to `read`, and deleted.
    async fn receive(&mut self) {
        let got = self
            .sqs
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            self.read
                .push(serde_json::from_str(m.body().unwrap()).unwrap());
            self.sqs
                .delete_message()
                .queue_url(&self.url)
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

fn detail_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect()
}

fn detail<T: serde::de::DeserializeOwned>(event: &Value) -> T {
    serde_json::from_value(event["detail"].clone()).unwrap()
}

/// What every event of the request says of itself, and what none may hold.
fn check_envelope(events: &[Value], id: &str, exec: &str, stack: &Stack, token: &str) {
    for e in events {
        assert_eq!(e["source"], "hanko", "{e}");
        assert_eq!(e["resources"], json!([exec]), "{e}");
        assert_eq!(e["detail"]["requestId"], id, "{e}");
        assert_eq!(e["detail"]["executionArn"], exec, "{e}");
        assert_eq!(
            e["detail"]["stateMachineArn"], stack.state_machine_arn,
            "{e}"
        );
        let text = e.to_string();
        for secret in [token, DETAILS_MARKER, COMMENT_MARKER] {
            assert!(!text.contains(secret), "{secret} is in {e}");
        }
    }
}

fn input(title: &str, approvers: Value, required: u32) -> Value {
    let mut input = example_input(title, approvers, required);
    input["details"] = json!({"service": "shop-api", "note": DETAILS_MARKER});
    input
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_on_source_hanko_gets_each_step_of_each_request_in_order() {
    each_life_in_order(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_dynamodb_store_a_rule_gets_each_step_of_each_request_in_order() {
    each_life_in_order(true).await;
}

async fn each_life_in_order(dynamodb: bool) {
    let moto = match dynamodb {
        true => Moto::start_serial_dynamodb().await,
        false => Moto::start().await,
    }
    .expect("moto");
    let mut queue = EventQueue::create(&moto).await;
    let stack = Stack::start_on(
        moto,
        Options {
            args: vec!["--event-bus".into(), BUS.into()],
            dynamodb,
            ..Options::default()
        },
    )
    .await
    .expect("stack");
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let carol = stack.login(CAROL.0, CAROL.1).await.unwrap();

    // Decided by a quorum of two.
    let exec = stack
        .start_execution(
            "events-quorum",
            input(
                "Deploy shop-api v1.4.3",
                json!(["alice@example.com", "carol@example.com"]),
                2,
            ),
        )
        .await
        .unwrap();
    let id = stack
        .wait_for_request("events-quorum", &alice)
        .await
        .unwrap();
    let token = stack.task_token(&id).await.unwrap();
    let events = queue.wait_for(&id, 1).await;
    assert_eq!(detail_types(&events), ["Approval Requested"]);
    let requested: ApprovalRequested = detail(&events[0]);
    assert_eq!(requested.title, "Deploy shop-api v1.4.3");
    assert_eq!(requested.required_approvals, 2);
    assert_eq!(
        requested.approvers,
        ["alice@example.com", "carol@example.com"]
    );

    let (status, body) = stack
        .decide(
            &id,
            &alice,
            json!({"decision": "approve", "comment": COMMENT_MARKER}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let events = queue.wait_for(&id, 2).await;
    assert_eq!(
        detail_types(&events),
        ["Approval Requested", "Vote Recorded"]
    );
    let (status, body) = stack
        .decide(&id, &carol, json!({"decision": "approve"}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let events = queue.wait_for(&id, 5).await;
    assert_eq!(
        detail_types(&events),
        [
            "Approval Requested",
            "Vote Recorded",
            "Vote Recorded",
            "Approval Decided",
            "Workflow Told"
        ]
    );
    check_envelope(&events, &id, &exec, &stack, &token);
    let votes: Vec<VoteRecorded> = events[1..3].iter().map(detail).collect();
    assert_eq!(
        votes
            .iter()
            .map(|v| (v.voter.as_str(), v.choice.as_str(), v.approvals))
            .collect::<Vec<_>>(),
        [
            ("alice@example.com", "approve", 1),
            ("carol@example.com", "approve", 2)
        ]
    );
    let decided: ApprovalDecided = detail(&events[3]);
    assert_eq!(decided.decision.as_str(), "approved");
    assert_eq!(
        decided.approved_by,
        ["alice@example.com", "carol@example.com"]
    );
    let told: WorkflowTold = detail(&events[4]);
    assert_eq!(told.status.as_str(), "approved");
    assert_eq!(told.error, None);

    // Expired by the sweeper: nobody decided within two seconds.
    let mut short = input("Rotate the keys", json!(["alice@example.com"]), 1);
    short["timeoutSeconds"] = json!(2);
    let exec = stack.start_execution("events-expire", short).await.unwrap();
    let id = stack
        .wait_for_request("events-expire", &alice)
        .await
        .unwrap();
    let token = stack.task_token(&id).await.unwrap();
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert!(
        run.states_entered.contains(&"NobodyDecided".to_string()),
        "{run:?}"
    );
    let events = queue.wait_for(&id, 3).await;
    assert_eq!(
        detail_types(&events),
        ["Approval Requested", "Approval Expired", "Workflow Told"]
    );
    check_envelope(&events, &id, &exec, &stack, &token);
    let expired: ApprovalExpired = detail(&events[1]);
    assert_eq!(expired.status.as_str(), "expired");
    let told: WorkflowTold = detail(&events[2]);
    assert_eq!(
        (told.status.as_str(), told.error.as_deref()),
        ("expired", Some("Hanko.Expired"))
    );

    // Closed: the execution went on without Hanko (its task's own timeout) while the
    // request waited. (moto leaves a waiting execution running when it is stopped.)
    let mut asl: Value = serde_json::from_str(
        &hanko_e2e::workflow_names_approvers(
            &std::fs::read_to_string(
                hanko_e2e::root().join("infra/example-state-machine.asl.json"),
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    asl["States"]["AskForApproval"]["TimeoutSeconds"] = json!(3);
    let machine = stack
        .create_state_machine("hanko-impatient", &asl)
        .await
        .unwrap();
    let exec = stack
        .start_execution_of(
            &machine,
            "events-gone",
            input("Pay the invoice", json!(["alice@example.com"]), 1),
        )
        .await
        .unwrap();
    let id = stack.wait_for_request("events-gone", &alice).await.unwrap();
    let token = stack.task_token(&id).await.unwrap();
    let run = stack.wait_for_end(&exec).await.unwrap();
    let events = queue.wait_for(&id, 2).await;
    assert_eq!(
        detail_types(&events),
        ["Approval Requested", "Approval Closed"]
    );
    for e in &events {
        assert_eq!(e["detail"]["stateMachineArn"], machine, "{e}");
        assert!(!e.to_string().contains(&token), "{e}");
    }
    let closed: ApprovalClosed = detail(&events[1]);
    assert_eq!(closed.execution_status, run.status.as_str());

    // Nothing more came for any of them.
    tokio::time::sleep(Duration::from_secs(2)).await;
    queue.receive().await;
    assert_eq!(queue.read.len(), 10, "{:#?}", queue.read);
    stack.stop().await.unwrap();
}
