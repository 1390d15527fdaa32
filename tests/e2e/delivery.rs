//! No lost decision: a fault-injecting proxy between `hanko` and the local Step Functions
//! (moto) answers callbacks with errors, cuts them off, delays or holds them; `hanko serve`
//! is killed in the middle of a delivery and restarted. Every decision still reaches its
//! execution, and each execution resumes exactly once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use hanko_e2e::proxy::{Fault, Span};
use hanko_e2e::{APPROVER_PASSWORD, Options, Stack, example_input};
use serde_json::{Value, json};

/// Short timeouts and backoff, so that the tests take seconds, not minutes.
fn fast_delivery() -> Vec<String> {
    fast_delivery_with_timeout(1000)
}

fn fast_delivery_with_timeout(callback_timeout_ms: u32) -> Vec<String> {
    [
        "--callback-timeout-ms",
        &callback_timeout_ms.to_string(),
        "--retry-base-ms",
        "200",
        "--retry-max-seconds",
        "2",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Reads the request until `done` says yes.
async fn wait_for_request_state(
    stack: &Stack,
    id: &str,
    token: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = stack
            .get(&format!("/api/approvals/{id}"), token)
            .await
            .unwrap();
        if done(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "never {what}: {r}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_approvals_made_while_step_functions_misbehaves_all_resume_exactly_once() {
    let stack = Stack::start_opts(Options {
        proxy: true,
        args: fast_delivery(),
        ..Options::default()
    })
    .await
    .expect("stack");
    let approver = stack
        .login("approver01@example.com", APPROVER_PASSWORD)
        .await
        .unwrap();
    let mut executions = Vec::new();
    for i in 0..50 {
        let name = format!("chaos-{i:02}");
        let arn = stack
            .start_execution(
                &name,
                example_input(&format!("Deploy {i}"), json!(["group:approvers"]), 1),
            )
            .await
            .unwrap();
        executions.push((name, arn));
    }
    let mut ids = Vec::new();
    for (name, _) in &executions {
        ids.push(stack.wait_for_request(name, &approver).await.unwrap());
    }

    let mixed = [
        Fault::Status500,
        Fault::Throttle,
        Fault::DropBefore,
        Fault::Status503,
        Fault::DropAfter,
        Fault::Delay(Duration::from_millis(2500)),
    ];
    stack
        .proxy()
        .misbehave(&mixed, Span::For(Duration::from_secs(6)));
    let stack = Arc::new(stack);
    let mut votes = Vec::new();
    for id in &ids {
        let (stack, id, token) = (stack.clone(), id.clone(), approver.clone());
        votes.push(tokio::spawn(async move {
            stack
                .decide(
                    &id,
                    &token,
                    json!({"decision": "approve", "comment": "ship"}),
                )
                .await
                .unwrap()
        }));
    }
    for v in votes {
        let (status, body) = v.await.unwrap();
        assert_eq!(
            status, 200,
            "the decision is recorded whatever happens: {body}"
        );
        assert_eq!(body["status"], "approved");
    }

    // After the proxy recovers, every execution resumes, once.
    for (name, arn) in &executions {
        let run = stack.wait_for_end(arn).await.unwrap();
        assert_eq!(run.status, ExecutionStatus::Succeeded, "{name}: {run:?}");
        assert!(run.states_entered.contains(&"Approved".to_string()));
        assert_eq!(run.task_results, 1, "{name} resumed once: {run:?}");
    }
    let mut delivered = 0;
    let mut delivered_or_gone = 0;
    for id in &ids {
        let r = wait_for_request_state(&stack, id, &approver, "settled", |r| {
            matches!(
                r["decision"]["delivery"].as_str(),
                Some("delivered" | "delivered_or_gone")
            )
        })
        .await;
        assert_eq!(r["status"], "approved", "{r}");
        match r["decision"]["delivery"].as_str() {
            Some("delivered") => delivered += 1,
            _ => {
                delivered_or_gone += 1;
                assert!(r["closedReason"].as_str().unwrap().contains("InvalidToken"));
            }
        }
    }
    let counts = stack.proxy().counts();
    assert!(counts.faults() >= 50, "faults were injected: {counts:?}");
    assert!(counts.injected.len() >= 5, "of several kinds: {counts:?}");
    assert_eq!(
        counts.callbacks_accepted, 50,
        "Step Functions accepted one callback per decision: {counts:?}"
    );
    assert_eq!(delivered + delivered_or_gone, 50);
    eprintln!(
        "fault proxy: {} callbacks seen, {} faults injected {:?}, {} forwarded, {} accepted, \
         {} answered task-gone; requests: {delivered} delivered, {delivered_or_gone} delivered-or-gone",
        counts.callbacks_seen,
        counts.faults(),
        counts.injected,
        counts.callbacks_forwarded,
        counts.callbacks_accepted,
        counts.callbacks_task_gone,
    );
    let stack = Arc::into_inner(stack).expect("all votes done");
    stack.stop().await.unwrap();
}

/// Starts one execution, holds its callback in the proxy and kills `hanko serve` with
/// SIGKILL while it waits for Step Functions' answer. Returns the stack, the request id,
/// the execution ARN and a login.
async fn kill_hanko_during_delivery(forward_orphans: bool) -> (Stack, String, String, String) {
    // Long enough for the hold; short enough that the restarted server retries soon.
    let args = fast_delivery_with_timeout(3000);
    let mut stack = Stack::start_opts(Options {
        proxy: true,
        process: true,
        args,
        ..Options::default()
    })
    .await
    .expect("stack");
    let exec = stack
        .start_execution(
            "crash",
            example_input("Deploy through a crash", json!(["alice@example.com"]), 1),
        )
        .await
        .unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request("crash", &alice).await.unwrap();

    stack
        .proxy()
        .misbehave(&[Fault::Hold { forward_orphans }], Span::Calls(1));
    let vote = {
        let (http, url, token) = (
            stack.http.clone(),
            format!("{}/api/approvals/{id}/decision", stack.base),
            alice.clone(),
        );
        tokio::spawn(async move {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"decision": "approve", "comment": "before the crash"}))
                .send()
                .await
        })
    };
    stack
        .proxy()
        .wait_held(1, Duration::from_secs(20))
        .await
        .unwrap();
    stack.process.as_mut().unwrap().kill9().unwrap();
    assert!(
        vote.await.unwrap().is_err(),
        "the voter's connection died with the server"
    );

    // The decision was recorded before the callback.
    let db = rusqlite::Connection::open(stack.database()).unwrap();
    let (status, delivery): (String, String) = db
        .query_row(
            "SELECT status, delivery FROM requests WHERE id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(status, "approved");
    assert_eq!(delivery, "unconfirmed", "the attempt's outcome is unknown");
    drop(db);

    stack.proxy().release();
    if forward_orphans {
        // The held call reached Step Functions after all.
        let run = stack.wait_for_end(&exec).await.unwrap();
        assert_eq!(run.task_results, 1);
    }
    stack.spawn_process().await.unwrap();
    (stack, id, exec, alice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_whose_delivery_was_cut_off_by_a_kill_is_delivered_once_after_a_restart() {
    let (stack, id, exec, alice) = kill_hanko_during_delivery(false).await;
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_eq!(run.task_results, 1, "delivered once: {run:?}");
    let r = wait_for_request_state(&stack, &id, &alice, "delivered", |r| {
        r["decision"]["delivery"] == "delivered"
    })
    .await;
    assert_eq!(r["status"], "approved");
    assert_eq!(r["votes"][0]["comment"], "before the crash");
    let counts = stack.proxy().counts();
    assert_eq!(counts.callbacks_accepted, 1, "{counts:?}");
    assert_eq!(counts.injected.get("held"), Some(&1));
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_delivered_by_an_attempt_its_server_did_not_live_to_see_is_recorded_as_delivered_or_gone()
 {
    let (stack, id, exec, alice) = kill_hanko_during_delivery(true).await;
    let r = wait_for_request_state(&stack, &id, &alice, "settled", |r| {
        r["decision"]["delivery"] == "delivered_or_gone"
    })
    .await;
    assert_eq!(r["status"], "approved", "the decision stands: {r}");
    let reason = r["closedReason"].as_str().unwrap();
    assert!(reason.contains("InvalidToken"), "{reason}");
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.task_results, 1, "{run:?}");
    let counts = stack.proxy().counts();
    assert_eq!(counts.callbacks_accepted, 1, "{counts:?}");
    assert_eq!(counts.callbacks_task_gone, 1, "{counts:?}");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_refuses_votes_with_410_and_its_execution_ends_by_its_own_timeout()
 {
    let stack = Stack::start_opts(Options {
        proxy: true,
        args: fast_delivery(),
        ..Options::default()
    })
    .await
    .expect("stack");
    // The same state machine, with a timeout on the waiting task.
    let mut asl: Value = serde_json::from_str(
        &hanko_e2e::workflow_names_approvers(
            &std::fs::read_to_string(
                hanko_e2e::root().join("infra/example-state-machine.asl.json"),
            )
            .unwrap()
            .replace("${IntakeQueueUrl}", &stack.queue_url),
        )
        .unwrap(),
    )
    .unwrap();
    asl["States"]["AskForApproval"]["TimeoutSeconds"] = json!(4);
    let machine = stack
        .sfn
        .create_state_machine()
        .name("hanko-timeout")
        .definition(asl.to_string())
        .role_arn("arn:aws:iam::123456789012:role/hanko-example")
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    let mut input = example_input("Two seconds to decide", json!(["alice@example.com"]), 1);
    input["timeoutSeconds"] = json!(2);
    let exec = stack
        .sfn
        .start_execution()
        .state_machine_arn(&machine)
        .name("short-deadline")
        .input(input.to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_string();
    // Step Functions cannot be told (throttled throughout): the execution must end by itself.
    stack
        .proxy()
        .misbehave(&[Fault::Throttle], Span::For(Duration::from_secs(30)));
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack
        .wait_for_request("short-deadline", &alice)
        .await
        .unwrap();
    let (_, r) = stack
        .get(&format!("/api/approvals/{id}"), &alice)
        .await
        .unwrap();
    let expires: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(r["expiresAt"].clone()).unwrap();
    let left = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(left + Duration::from_millis(100)).await;

    let (status, body) = stack
        .decide(&id, &alice, json!({"decision": "approve"}))
        .await
        .unwrap();
    assert_eq!(status, 410, "{body}");
    assert_eq!(body["error"]["code"], "expired");
    let (_, r) = stack
        .get(&format!("/api/approvals/{id}"), &alice)
        .await
        .unwrap();
    assert_eq!(r["status"], "expired", "{r}");
    assert_eq!(r["viewer"]["canVote"], false);
    let (_, page) = stack
        .get("/api/approvals?status=expired", &alice)
        .await
        .unwrap();
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id.as_str()),
        "{page}"
    );

    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Failed, "{run:?}");
    assert!(run.states_entered.contains(&"NobodyDecided".to_string()));
    assert_eq!(run.task_results, 0, "no callback got through: {run:?}");
    let history = stack
        .sfn
        .get_execution_history()
        .execution_arn(&exec)
        .send()
        .await
        .unwrap();
    assert!(
        history
            .events()
            .iter()
            .any(|e| e.r#type() == &aws_sdk_sfn::types::HistoryEventType::TaskTimedOut),
        "the task timed out by itself"
    );
    assert!(stack.proxy().counts().injected["throttling"] >= 1);
    stack.stop().await.unwrap();
}
