//! The operator's approval policy at intake: what a workflow's message may ask for, what
//! it gets when it leaves the governed fields out, and what AWS (not the message) decides.

use axum::http::StatusCode;
use hanko::service::{IntakeOutcome, POLICY_ERROR};
use hanko::store::Callback;
use hanko::workflow::ExecutionState;
use hanko_api::{DecisionRecord, TaskOutput};
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error, intake_message, test_app, test_app_governed};

/// Requests of `deploy` need two release managers, no self-approval, a day at most.
const POLICY: &str = r#"
default = "deny"

[[policies]]
name = "production-deploys"
stateMachines = ["arn:aws:states:*:123456789012:stateMachine:deploy"]
approvers = ["group:release-managers", "alice@example.com"]
minApprovals = 2
allowSelfApproval = false
maxTimeoutSeconds = 86400
"#;

/// The governed fields left out: the policy fills them in.
fn bare() -> Value {
    json!({"approvers": null, "requiredApprovals": null, "timeoutSeconds": null})
}

async fn take(t: &TestApp, token: &str, overrides: Value) -> IntakeOutcome {
    t.hanko
        .intake(&intake_message(token, overrides), None)
        .await
        .expect("handled")
}

/// The one callback sent for `token`: its error and its cause as JSON.
fn failure_of(t: &TestApp, token: &str) -> (String, Value) {
    let sent: Vec<_> = t
        .callbacks()
        .into_iter()
        .filter(|(k, _)| k == token)
        .collect();
    assert_eq!(sent.len(), 1, "one callback for {token}: {sent:?}");
    match &sent[0].1 {
        Callback::Failure { error, cause } => (
            error.clone(),
            serde_json::from_str(cause).expect("JSON cause"),
        ),
        other => panic!("expected a task failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_request_within_its_policy_is_stored_with_the_policys_rules_and_shows_the_policy() {
    let t = test_app_governed(POLICY);
    let IntakeOutcome::Created { id } = take(&t, "tok-within", bare()).await else {
        panic!("not created")
    };
    let alice = t.login("alice@example.com").await;
    let r = t.read(&id, &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["approvers"],
        json!(["group:release-managers", "alice@example.com"])
    );
    assert_eq!(r.body["requiredApprovals"], 2);
    assert_eq!(r.body["allowSelfApproval"], false);
    assert_eq!(r.body["policy"]["name"], "production-deploys");
    assert_eq!(r.body["policy"]["sha256"].as_str().unwrap().len(), 64);
    assert!(t.callbacks().is_empty(), "nothing told to the workflow yet");
}

#[tokio::test]
async fn each_way_of_asking_for_less_than_the_policy_fails_the_task_with_hanko_policy_violation() {
    let t = test_app_governed(POLICY);
    let cases = [
        (
            "tok-self-named",
            json!({"approvers": ["mallory@example.com"], "requiredApprovals": 1}),
            "mallory@example.com are not among",
        ),
        (
            "tok-one",
            json!({"approvers": null, "requiredApprovals": 1}),
            "needs at least 2",
        ),
        (
            "tok-self",
            json!({"approvers": null, "requiredApprovals": null, "allowSelfApproval": true}),
            "does not allow it",
        ),
        (
            "tok-long",
            json!({"approvers": null, "requiredApprovals": null, "timeoutSeconds": 86401}),
            "at most 86400",
        ),
    ];
    for (token, overrides, says) in cases {
        let out = take(&t, token, overrides).await;
        assert!(
            matches!(&out, IntakeOutcome::Refused { error, .. } if *error == POLICY_ERROR),
            "{token}: {out:?}"
        );
        let (error, cause) = failure_of(&t, token);
        assert_eq!(error, "Hanko.PolicyViolation");
        assert_eq!(cause["policy"], "production-deploys", "{token}");
        assert!(
            cause["message"].as_str().unwrap().contains(says),
            "{token}: {cause}"
        );
    }
    let admin = t.login("dave@example.com").await;
    let list = t.call("GET", "/api/approvals", Some(&admin), None).await;
    assert_eq!(list.body["items"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn a_state_machine_no_policy_names_is_refused_under_default_deny() {
    let t = test_app_governed(POLICY);
    let run = "arn:aws:states:ap-northeast-1:123456789012:execution:payroll:run-9";
    let out = take(
        &t,
        "tok-unnamed",
        json!({"execution": {"Id": run}, "stateMachine": null}),
    )
    .await;
    assert!(matches!(out, IntakeOutcome::Refused { .. }), "{out:?}");
    let (error, cause) = failure_of(&t, "tok-unnamed");
    assert_eq!(error, "Hanko.PolicyViolation");
    assert_eq!(cause["policy"], Value::Null);
    assert!(
        cause["message"]
            .as_str()
            .unwrap()
            .contains("stateMachine:payroll")
    );
}

#[tokio::test]
async fn without_a_policy_document_the_workflow_chooses_and_the_request_says_so() {
    let t = test_app();
    let id = t
        .seed(
            "tok-free",
            json!({"approvers": ["mallory@example.com"], "requiredApprovals": 1}),
        )
        .await;
    let mallory = t.login("mallory@example.com").await;
    let r = t.read(&id, &mallory).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["policy"], Value::Null);
    // And a message without approvers has nobody to ask.
    let out = take(&t, "tok-nobody", json!({"approvers": null})).await;
    assert!(matches!(out, IntakeOutcome::Refused { .. }), "{out:?}");
    let (error, cause) = failure_of(&t, "tok-nobody");
    assert_eq!(error, "Hanko.InvalidRequest");
    assert!(
        cause["message"]
            .as_str()
            .unwrap()
            .contains("approvers is missing")
    );
}

#[tokio::test]
async fn the_signed_decision_names_the_policy_and_its_hash_and_verifies() {
    let t = test_app_governed(POLICY);
    let IntakeOutcome::Created { id } = take(&t, "tok-signed", bare()).await else {
        panic!("not created")
    };
    let approval = t.read(&id, &t.login("alice@example.com").await).await;
    for who in ["alice@example.com", "carol@example.com"] {
        let token = t.login(who).await;
        let r = t.decide(&id, &token, json!({"decision": "approve"})).await;
        assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.text);
    }
    let sent = t.callbacks();
    let Callback::Success { output } = &sent[0].1 else {
        panic!("expected success, got {:?}", sent[0].1)
    };
    let out: TaskOutput = serde_json::from_str(output).unwrap();
    let jwks = t.call("GET", "/.well-known/jwks.json", None, None).await;
    let verified = hanko::verify::verify_decision(&out.signature, &jwks.body).expect("valid");
    let record: DecisionRecord = verified.record;
    let policy = record
        .policy
        .expect("the policy is signed with the decision");
    assert_eq!(policy.name, "production-deploys");
    assert_eq!(policy.min_approvals, 2);
    assert_eq!(
        record.policy_sha256.as_deref(),
        approval.body["policy"]["sha256"].as_str()
    );
}

#[tokio::test]
async fn a_request_for_an_execution_that_is_not_running_is_refused() {
    let t = test_app_governed(POLICY);
    *t.workflow.execution.lock().unwrap() = ExecutionState::Ended("ABORTED".into());
    let out = take(&t, "tok-stopped", bare()).await;
    assert!(matches!(out, IntakeOutcome::Refused { .. }), "{out:?}");
    let (error, cause) = failure_of(&t, "tok-stopped");
    assert_eq!(error, "Hanko.InvalidRequest");
    assert!(
        cause["message"]
            .as_str()
            .unwrap()
            .contains("is ABORTED, not running")
    );
}

#[tokio::test]
async fn a_message_that_names_another_state_machine_than_aws_is_refused() {
    let t = test_app_governed(POLICY);
    // The execution belongs to `payroll`; the message claims the governed `deploy`.
    *t.workflow.state_machine.lock().unwrap() =
        Some("arn:aws:states:ap-northeast-1:123456789012:stateMachine:payroll".into());
    let out = take(&t, "tok-claims", bare()).await;
    assert!(matches!(out, IntakeOutcome::Refused { .. }), "{out:?}");
    let (error, cause) = failure_of(&t, "tok-claims");
    assert_eq!(error, "Hanko.InvalidRequest");
    assert!(
        cause["message"]
            .as_str()
            .unwrap()
            .contains("belongs to arn:aws:states:ap-northeast-1:123456789012:stateMachine:payroll"),
        "{cause}"
    );
}

#[tokio::test]
async fn a_requester_that_is_not_an_email_and_oversized_details_are_refused() {
    let t = test_app();
    for (token, overrides, says) in [
        (
            "tok-who",
            json!({"requestedBy": "the build bot"}),
            "requestedBy must be an email address",
        ),
        (
            "tok-big",
            json!({"details": {"blob": "x".repeat(70 * 1024)}}),
            "Hanko keeps at most 65536",
        ),
    ] {
        let out = take(&t, token, overrides).await;
        assert!(
            matches!(out, IntakeOutcome::Refused { .. }),
            "{token}: {out:?}"
        );
        let (error, cause) = failure_of(&t, token);
        assert_eq!(error, "Hanko.InvalidRequest");
        assert!(cause["message"].as_str().unwrap().contains(says), "{cause}");
    }
}

#[tokio::test]
async fn a_policys_longest_login_age_refuses_an_older_login() {
    let t = test_app_governed(&POLICY.replace(
        "maxTimeoutSeconds = 86400",
        "maxTimeoutSeconds = 86400\nmaxLoginAgeSeconds = 1",
    ));
    let IntakeOutcome::Created { id } = take(&t, "tok-fresh", bare()).await else {
        panic!("not created")
    };
    let alice = t.login("alice@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let r = t.decide(&id, &alice, json!({"decision": "approve"})).await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "login_too_old");
    let again = t.login("alice@example.com").await;
    let r = t.decide(&id, &again, json!({"decision": "approve"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn the_queues_sender_is_recorded_and_exported_for_auditors() {
    let t = test_app_governed(POLICY);
    let out = t
        .hanko
        .intake(
            &intake_message("tok-sender", bare()),
            Some("AROAEXAMPLE:deploy-role".into()),
        )
        .await
        .unwrap();
    let IntakeOutcome::Created { id } = out else {
        panic!("not created: {out:?}")
    };
    for who in ["alice@example.com", "carol@example.com"] {
        let token = t.login(who).await;
        let r = t.decide(&id, &token, json!({"decision": "approve"})).await;
        assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.text);
    }
    let dave = t.login("dave@example.com").await;
    let r = t
        .call("GET", "/api/audit?format=csv", Some(&dave), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let header = r.text.lines().next().unwrap();
    assert!(header.contains("sender,policy,policy_sha256"), "{header}");
    assert!(r.text.contains("AROAEXAMPLE:deploy-role"), "{}", r.text);
    assert!(r.text.contains("production-deploys"), "{}", r.text);
}
