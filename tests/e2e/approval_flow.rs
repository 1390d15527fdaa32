//! One approval the whole way on this machine: a real moto server runs the example state
//! machine, which waits on its task token; `hanko serve` takes the request from the intake
//! queue; people log in and decide over HTTP; the execution goes on down the right branch.

use aws_sdk_sfn::types::ExecutionStatus;
use hanko_api::{DecisionRecord, TaskOutput};
use hanko_e2e::{
    APPROVER_PASSWORD, STACK_TABLE, Stack, StackOptions, example_input, request_item,
    workflow_names_approvers,
};
use serde_json::{Value, json};

const ALICE: (&str, &str) = ("alice@example.com", "alice-approves");
const MALLORY: (&str, &str) = ("mallory@example.com", "mallory-watches");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approved_execution_resumes_on_the_approved_branch_with_a_verifiable_signature() {
    let stack = Stack::start().await.expect("stack");
    let exec = stack
        .start_execution(
            "deploy-approve",
            example_input("Deploy shop-api v1.4.2", json!(["alice@example.com"]), 1),
        )
        .await
        .unwrap();
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let id = stack
        .wait_for_request("deploy-approve", &alice)
        .await
        .unwrap();

    let (_, inbox) = stack
        .get("/api/approvals?status=pending&mine=true", &alice)
        .await
        .unwrap();
    assert!(
        inbox["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str())
    );

    let mallory = stack.login(MALLORY.0, MALLORY.1).await.unwrap();
    let (status, body) = stack
        .decide(&id, &mallory, json!({"decision": "approve"}))
        .await
        .unwrap();
    // Not an approver, nor the requester: not even told the request exists.
    assert_eq!(status, 404, "{body}");

    let (status, body) = stack
        .decide(
            &id,
            &alice,
            json!({"decision": "approve", "comment": "Go ahead"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");

    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert!(
        run.states_entered.contains(&"Approved".to_string()),
        "{run:?}"
    );
    assert!(!run.states_entered.contains(&"Rejected".to_string()));
    assert_eq!(run.task_results, 1);

    // The task output carries a signature that verifies with the published key.
    let output: TaskOutput =
        serde_json::from_value(run.output.unwrap()["approval"].clone()).unwrap();
    assert_eq!(output.request_id, id);
    let jwks: jsonwebtoken::jwk::JwkSet =
        serde_json::from_value(stack.jwks().await.unwrap()).unwrap();
    let kid = jsonwebtoken::decode_header(&output.signature)
        .unwrap()
        .kid
        .unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    let record = jsonwebtoken::decode::<DecisionRecord>(&output.signature, &key, &v)
        .expect("signature verifies")
        .claims;
    assert_eq!(record.execution_arn, exec);
    assert_eq!(record.approvals[0].approver, "alice@example.com");
    assert_eq!(record.approvals[0].comment.as_deref(), Some("Go ahead"));

    // The email carried the deep link and nothing that decides.
    let mails: Vec<String> = std::fs::read_dir(stack.outbox())
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].contains("To: <alice@example.com>"));
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_execution_resumes_on_the_rejected_branch() {
    let stack = Stack::start().await.expect("stack");
    let exec = stack
        .start_execution(
            "deploy-reject",
            example_input(
                "Deploy during the sale",
                json!(["group:release-managers"]),
                1,
            ),
        )
        .await
        .unwrap();
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let id = stack
        .wait_for_request("deploy-reject", &alice)
        .await
        .unwrap();
    let (status, body) = stack
        .decide(&id, &alice, json!({"decision": "reject"}))
        .await
        .unwrap();
    assert_eq!(status, 422, "a rejection needs a comment: {body}");
    let (status, body) = stack
        .decide(
            &id,
            &alice,
            json!({"decision": "reject", "comment": "Not during the sale"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "rejected");

    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert!(
        run.states_entered.contains(&"Rejected".to_string()),
        "{run:?}"
    );
    assert!(!run.states_entered.contains(&"Approved".to_string()));
    let output = run.output.unwrap();
    assert_eq!(output["rejection"]["Error"], "Hanko.Rejected");
    // moto 5.2 drops the `cause` of SendTaskFailure; the Router tests check what Hanko
    // sends as the cause (the signed decision).
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_request_fails_the_execution_with_hanko_invalid_request() {
    let stack = Stack::start().await.expect("stack");
    let exec = stack
        .start_execution(
            "deploy-invalid",
            example_input("Nobody can approve this", json!(["not an email"]), 1),
        )
        .await
        .unwrap();
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("Hanko.InvalidRequest"));
    // The cause naming each problem is checked in the Router tests (moto drops it).
    stack.stop().await.unwrap();
}

/// A state machine that only waits: its executions run, and send no message of their own.
fn idle_machine() -> Value {
    json!({"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": true}}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_token_delivered_twice_makes_one_request() {
    let stack = Stack::start().await.expect("stack");
    let idle = stack
        .create_state_machine("idle", &idle_machine())
        .await
        .unwrap();
    let exec = stack
        .start_execution_of(&idle, "dup", json!({}))
        .await
        .unwrap();
    let message = json!({
        "taskToken": "duplicate-delivery-token",
        "execution": {"Id": exec, "Name": "dup"},
        "stateMachine": {"Id": idle, "Name": "idle"},
        "title": "Delivered twice",
        "approvers": ["alice@example.com"],
        "requestedBy": "bob@example.com"
    });
    stack.send_intake(&message).await.unwrap();
    stack.send_intake(&message).await.unwrap();
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    stack.wait_for_request("dup", &alice).await.unwrap();
    // Let the poller take the second copy too.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let attrs = stack
            .sqs
            .get_queue_attributes()
            .queue_url(&stack.queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(
                aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            )
            .send()
            .await
            .unwrap();
        let left: i64 = attrs
            .attributes()
            .map(|a| a.values().map(|v| v.parse::<i64>().unwrap_or(0)).sum())
            .unwrap_or(0);
        if left == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "queue never drained");
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
    let (_, page) = stack
        .get("/api/approvals?status=all", &alice)
        .await
        .unwrap();
    let same: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["executionName"] == "dup")
        .collect();
    assert_eq!(same.len(), 1, "{page}");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_approvals_by_different_approvers_make_one_decision_and_one_callback() {
    let stack = Stack::start().await.expect("stack");
    let exec = stack
        .start_execution(
            "deploy-race",
            example_input("Race to approve", json!(["group:approvers"]), 1),
        )
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for i in 1..=20 {
        tokens.push(
            stack
                .login(&format!("approver{i:02}@example.com"), APPROVER_PASSWORD)
                .await
                .unwrap(),
        );
    }
    let id = stack
        .wait_for_request("deploy-race", &tokens[0])
        .await
        .unwrap();
    let stack = std::sync::Arc::new(stack);
    let mut handles = Vec::new();
    for token in tokens {
        let (stack, id) = (stack.clone(), id.clone());
        handles.push(tokio::spawn(async move {
            stack
                .decide(&id, &token, json!({"decision": "approve"}))
                .await
                .unwrap()
        }));
    }
    let mut ok = 0;
    for h in handles {
        let (status, body) = h.await.unwrap();
        match status {
            200 => ok += 1,
            409 => assert_eq!(body["error"]["code"], "already_decided", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1);
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(run.task_results, 1, "exactly one callback: {run:?}");
    let stack = std::sync::Arc::into_inner(stack).expect("all tasks done");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_dynamodb_store_an_approved_and_a_rejected_execution_each_resume_on_their_branch() {
    let stack = Stack::start_opts(StackOptions {
        dynamodb: true,
        ..StackOptions::default()
    })
    .await
    .expect("stack");
    let approve = stack
        .start_execution(
            "ddb-approve",
            example_input("Deploy shop-api v1.4.2", json!(["alice@example.com"]), 1),
        )
        .await
        .unwrap();
    let reject = stack
        .start_execution(
            "ddb-reject",
            example_input(
                "Deploy during the sale",
                json!(["group:release-managers"]),
                1,
            ),
        )
        .await
        .unwrap();
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let approve_id = stack.wait_for_request("ddb-approve", &alice).await.unwrap();
    let reject_id = stack.wait_for_request("ddb-reject", &alice).await.unwrap();

    let (_, inbox) = stack
        .get("/api/approvals?status=pending&mine=true", &alice)
        .await
        .unwrap();
    let waiting: Vec<&str> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    let mut newest_first = vec![approve_id.as_str(), reject_id.as_str()];
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(waiting, newest_first);
    let mallory = stack.login(MALLORY.0, MALLORY.1).await.unwrap();
    let (status, body) = stack
        .decide(&approve_id, &mallory, json!({"decision": "approve"}))
        .await
        .unwrap();
    assert_eq!(status, 404, "{body}");

    let (status, body) = stack
        .decide(
            &approve_id,
            &alice,
            json!({"decision": "approve", "comment": "Go ahead"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved");
    let (status, body) = stack
        .decide(
            &reject_id,
            &alice,
            json!({"decision": "reject", "comment": "Not during the sale"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "rejected");
    let (status, _) = stack
        .decide(&approve_id, &alice, json!({"decision": "approve"}))
        .await
        .unwrap();
    assert_eq!(status, 409, "a decided request takes no more votes");

    let run = stack.wait_for_end(&approve).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert!(
        run.states_entered.contains(&"Approved".to_string()),
        "{run:?}"
    );
    assert_eq!(run.task_results, 1);
    let output: TaskOutput =
        serde_json::from_value(run.output.unwrap()["approval"].clone()).unwrap();
    assert_eq!(output.request_id, approve_id);
    let run = stack.wait_for_end(&reject).await.unwrap();
    assert!(
        run.states_entered.contains(&"Rejected".to_string()),
        "{run:?}"
    );
    assert!(!run.states_entered.contains(&"Approved".to_string()));
    assert_eq!(run.output.unwrap()["rejection"]["Error"], "Hanko.Rejected");

    // The records are in the table, delivered; no SQLite file was made.
    let ddb = aws_sdk_dynamodb::Client::new(&stack.moto.sdk);
    for (id, want) in [(&approve_id, "approved"), (&reject_id, "rejected")] {
        let item = request_item(&ddb, STACK_TABLE, id).await.unwrap();
        assert_eq!(item["status"].as_s().unwrap(), want);
        assert_eq!(item["delivery"].as_s().unwrap(), "delivered");
        assert!(item.contains_key("ttl"), "a decided record expires");
        assert!(!item.contains_key("task_token"));
    }
    assert!(!stack.data.path().join("hanko.db").exists());
    let (_, history) = stack
        .get("/api/approvals?status=approved", &alice)
        .await
        .unwrap();
    assert_eq!(history["items"][0]["id"], approve_id.as_str());
    stack.stop().await.unwrap();
}

/// The operator's policy for the example state machine: a release manager decides, never
/// the requester, within a day.
const POLICY: &str = r#"
default = "deny"

[[policies]]
name = "example-deploys"
stateMachines = ["arn:aws:states:*:*:stateMachine:hanko-example"]
approvers = ["group:release-managers"]
minApprovals = 1
allowSelfApproval = false
maxTimeoutSeconds = 86400
"#;

/// A stack whose `hanko serve` holds requests to [`POLICY`].
async fn governed(as_shipped: bool) -> (Stack, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.toml");
    std::fs::write(&file, POLICY).unwrap();
    let stack = Stack::start_opts(StackOptions {
        as_shipped,
        args: vec!["--policy-file".into(), file.display().to_string()],
        ..Default::default()
    })
    .await
    .expect("stack");
    (stack, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_execution_whose_input_names_its_author_as_sole_approver_fails_with_hanko_policy_violation()
 {
    // The state machine passes approvers from its input, as the old examples did.
    let (stack, _dir) = governed(false).await;
    let mut input = example_input(
        "Let me approve my own deploy",
        json!(["bob@example.com"]),
        1,
    );
    input["allowSelfApproval"] = json!(true);
    let exec = stack.start_execution("self-approved", input).await.unwrap();
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert_eq!(run.error.as_deref(), Some("Hanko.PolicyViolation"));
    assert!(!run.states_entered.contains(&"Approved".to_string()));
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let (_, page) = stack
        .get("/api/approvals?status=all", &alice)
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]), "nothing was stored");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_example_takes_its_approvers_from_the_policy_and_the_console_names_it() {
    let (stack, _dir) = governed(true).await;
    let exec = stack
        .start_execution(
            "policy-approvers",
            json!({"title": "Deploy shop-api", "description": "", "details": {}, "requestedBy": "bob@example.com", "timeoutSeconds": 3600}),
        )
        .await
        .unwrap();
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let id = stack
        .wait_for_request("policy-approvers", &alice)
        .await
        .unwrap();
    let (status, body) = stack
        .get(&format!("/api/approvals/{id}"), &alice)
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["approvers"], json!(["group:release-managers"]));
    assert_eq!(body["policy"]["name"], "example-deploys");
    assert!(
        body["stateMachineArn"]
            .as_str()
            .unwrap()
            .ends_with(":stateMachine:hanko-example")
    );
    let (status, body) = stack
        .decide(&id, &alice, json!({"decision": "approve"}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_naming_a_stopped_execution_or_another_state_machine_is_refused() {
    let (stack, _dir) = governed(true).await;
    // A running execution of the governed example, and one that has stopped.
    let idle = stack
        .create_state_machine("idle", &idle_machine())
        .await
        .unwrap();
    let stopped = stack
        .start_execution_of(&idle, "stopped", json!({}))
        .await
        .unwrap();
    stack
        .sfn
        .stop_execution()
        .execution_arn(&stopped)
        .send()
        .await
        .unwrap();
    // A forger: its own task token, with claims about another execution or machine.
    let shipped: Value = serde_json::from_str(
        &workflow_names_approvers(
            &std::fs::read_to_string(
                hanko_e2e::root().join("infra/example-state-machine.asl.json"),
            )
            .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let forge = |claims: Value| {
        let mut def = shipped.clone();
        let body = def["States"]["AskForApproval"]["Parameters"]["MessageBody"]
            .as_object_mut()
            .unwrap();
        for (k, v) in claims.as_object().unwrap() {
            body.remove(&format!("{k}.$"));
            body.insert(k.clone(), v.clone());
        }
        def
    };
    let cases = [
        (
            "names-stopped",
            forge(
                json!({"execution": {"Id": stopped, "Name": "stopped"}, "stateMachine": {"Id": idle, "Name": "idle"}}),
            ),
        ),
        (
            "claims-example",
            forge(
                json!({"stateMachine": {"Id": stack.state_machine_arn, "Name": "hanko-example"}}),
            ),
        ),
    ];
    for (name, def) in cases {
        let machine = stack
            .create_state_machine(&format!("forger-{name}"), &def)
            .await
            .unwrap();
        let exec = stack
            .start_execution_of(
                &machine,
                name,
                example_input(name, json!(["group:release-managers"]), 1),
            )
            .await
            .unwrap();
        let run = stack.wait_for_end(&exec).await.unwrap();
        assert_eq!(run.status, ExecutionStatus::Failed, "{name}: {run:?}");
        assert_eq!(run.error.as_deref(), Some("Hanko.InvalidRequest"), "{name}");
    }
    let alice = stack.login(ALICE.0, ALICE.1).await.unwrap();
    let (_, page) = stack
        .get("/api/approvals?status=all", &alice)
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]), "nothing was stored");
    stack.stop().await.unwrap();
}
