//! Racing approvers: a hundred votes at once on one request make exactly one decision and
//! one callback; every other answer is a 409 or a 403 with the right code. On SQLite, and on
//! DynamoDB ten times over (on a moto whose DynamoDB is serial: see the harness).

use std::collections::BTreeMap;
use std::sync::Arc;

use hanko_e2e::{APPROVER_PASSWORD, Options, Stack, example_input};
use serde_json::{Value, json};

/// Who casts vote `i` of a hundred, and what they say.
fn ballot(i: usize, voters: &[&str]) -> (String, Value) {
    let voter = voters[i % voters.len()].to_string();
    let body = if i % 3 == 2 {
        json!({"decision": "reject", "comment": format!("no ({i})")})
    } else {
        json!({"decision": "approve"})
    };
    (voter, body)
}

async fn password_of(email: &str) -> &'static str {
    match email {
        "bob@example.com" => "bob-requests",
        "mallory@example.com" => "mallory-watches",
        _ => APPROVER_PASSWORD,
    }
}

/// Casts a hundred votes at once; returns (status, error code or "", voter, body sent).
async fn hundred_votes(
    stack: Arc<Stack>,
    id: &str,
    voters: &[&str],
) -> Vec<(u16, String, String, Value)> {
    let mut tokens = BTreeMap::new();
    for v in voters {
        tokens.insert(
            v.to_string(),
            stack.login(v, password_of(v).await).await.unwrap(),
        );
    }
    let mut handles = Vec::new();
    for i in 0..100 {
        let (voter, body) = ballot(i, voters);
        let token = tokens[&voter].clone();
        let (stack, id) = (stack.clone(), id.to_string());
        handles.push(tokio::spawn(async move {
            let (status, answer) = stack.decide(&id, &token, body.clone()).await.unwrap();
            let code = answer["error"]["code"].as_str().unwrap_or("").to_string();
            (status, code, voter, body)
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

/// One race on a fresh request of `stack`.
async fn check_race(
    stack: &Arc<Stack>,
    required: u32,
    approvers: Value,
    voters: &[&str],
    name: &str,
) {
    let exec = stack
        .start_execution(name, example_input("Race", approvers, required))
        .await
        .unwrap();
    let first = stack
        .login("approver01@example.com", APPROVER_PASSWORD)
        .await
        .unwrap();
    let id = stack.wait_for_request(name, &first).await.unwrap();
    let answers = hundred_votes(stack.clone(), &id, voters).await;

    let mut counted = Vec::new();
    for (status, code, voter, body) in &answers {
        match (status, code.as_str()) {
            (200, _) => counted.push((voter.clone(), body["decision"].clone())),
            // Neither an approver nor the requester: the request does not exist for them.
            (404, "not_found") => assert!(
                voter == "mallory@example.com" || voter == "approver04@example.com",
                "{voter} is an approver"
            ),
            (403, "own_request") => assert_eq!(voter, "bob@example.com"),
            (409, "already_decided" | "already_voted") => {}
            other => panic!("unexpected answer {other:?} to {voter}"),
        }
    }
    let (_, r) = stack
        .get(&format!("/api/approvals/{id}"), &first)
        .await
        .unwrap();
    let votes = r["votes"].as_array().unwrap();
    assert_eq!(
        votes.len(),
        counted.len(),
        "each 200 is one recorded vote: {r}"
    );
    let mut distinct: Vec<&str> = votes
        .iter()
        .map(|v| v["approver"].as_str().unwrap())
        .collect();
    distinct.dedup();
    assert_eq!(distinct.len(), votes.len(), "one vote per person");
    let rejected = counted.iter().any(|(_, d)| d == "reject");
    let expected = if rejected { "rejected" } else { "approved" };
    assert_eq!(r["status"], expected, "{r}");
    if !rejected {
        assert_eq!(counted.len(), required as usize);
    }
    assert!(counted.len() <= required as usize);

    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.task_results, 1, "exactly one callback: {run:?}");
    let branch = if rejected { "Rejected" } else { "Approved" };
    assert!(run.states_entered.contains(&branch.to_string()), "{run:?}");
    let refused = answers.iter().filter(|a| a.0 != 200).count();
    eprintln!(
        "{name}: 100 votes, {} counted, {refused} refused, decision {expected}",
        counted.len()
    );
}

async fn start(opts: Options) -> Arc<Stack> {
    Arc::new(Stack::start_opts(opts).await.expect("stack"))
}

async fn stop(stack: Arc<Stack>) {
    let stack = Arc::into_inner(stack).expect("votes done");
    stack.stop().await.unwrap();
}

/// Approvers 1 to 3 (2 of them needed) and bob, who asks.
fn two_of_three() -> Value {
    json!([
        "approver01@example.com",
        "approver02@example.com",
        "approver03@example.com",
        "bob@example.com"
    ])
}

/// The approvers, one who is not (approver04) and the requester.
const TWO_OF_THREE_VOTERS: [&str; 5] = [
    "approver01@example.com",
    "approver02@example.com",
    "approver03@example.com",
    "approver04@example.com",
    "bob@example.com",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_votes_make_one_decision_and_one_callback() {
    let mut voters: Vec<String> = (1..=18)
        .map(|i| format!("approver{i:02}@example.com"))
        .collect();
    voters.push("mallory@example.com".into());
    voters.push("bob@example.com".into());
    let voters: Vec<&str> = voters.iter().map(String::as_str).collect();
    let stack = start(Options::default()).await;
    check_race(
        &stack,
        1,
        json!(["group:approvers", "bob@example.com"]),
        &voters,
        "race-1",
    )
    .await;
    stop(stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_votes_on_a_two_of_three_quorum_make_one_decision_and_one_callback() {
    let stack = start(Options::default()).await;
    check_race(&stack, 2, two_of_three(), &TWO_OF_THREE_VOTERS, "race-2of3").await;
    stop(stack).await;
}

/// Ten rounds, a fresh request each, on one stack: one race tries few of the ways a
/// hundred requests can interleave.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_dynamodb_ten_races_of_a_hundred_votes_on_a_two_of_three_quorum_each_make_one_decision_and_one_callback()
 {
    let stack = start(Options {
        dynamodb: true,
        ..Options::default()
    })
    .await;
    for round in 0..10 {
        check_race(
            &stack,
            2,
            two_of_three(),
            &TWO_OF_THREE_VOTERS,
            &format!("race-2of3-dynamodb-{round}"),
        )
        .await;
    }
    stop(stack).await;
}
