//! Delegation in the console, the whole way: alice names carol as her delegate on the
//! "While I am away" page; carol logs in, finds alice's request in her inbox, approves it
//! for alice; the execution on moto goes on, and the signed record says "carol for alice".

use aws_sdk_sfn::types::ExecutionStatus;
use hanko_api::{DecisionRecord, TaskOutput};
use hanko_e2e::browser::Browser;
use hanko_e2e::{Stack, example_input};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alice_names_carol_in_the_console_and_carol_approves_for_her_and_the_workflow_goes_on() {
    let stack = Stack::start_with(true).await.expect("stack");
    let input = example_input("Deploy shop-api v1.5.0", json!(["alice@example.com"]), 1);
    let exec = stack
        .start_execution("delegated-approval", input)
        .await
        .unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack
        .wait_for_request("delegated-approval", &alice)
        .await
        .unwrap();

    // Alice, in the console: carol decides for her, from now for a week (the form's
    // default window, in the browser's time zone).
    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/away", stack.base))
        .await
        .unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for("#delegation-none").await;
    b.wait_for("#delegation-delegate")
        .await
        .send_keys("carol@example.com")
        .await
        .unwrap();
    b.wait_for("#delegation-save").await.click().await.unwrap();
    b.wait_for("#delegation-current[data-delegate='carol@example.com'][data-active='true']")
        .await;
    b.wait_for("#delegation-notice").await;
    b.wait_for("#logout").await.click().await.unwrap();

    // Carol: the request is in her inbox; she votes for alice.
    b.wait_for("#login-form").await;
    b.log_in("carol@example.com", "carol-approves").await;
    b.wait_for(&format!("li[data-id='{id}'] a"))
        .await
        .click()
        .await
        .unwrap();
    b.wait_for("#seat-choice").await;
    let for_alice = b
        .wait_for("#seat-for-0[data-for='alice@example.com']")
        .await;
    assert_eq!(
        for_alice.prop("checked").await.unwrap().as_deref(),
        Some("true"),
        "carol has no seat of her own: alice's is chosen"
    );
    assert!(
        b.client
            .find(fantoccini::Locator::Css("#seat-own"))
            .await
            .is_err(),
        "carol is not an approver herself"
    );
    b.wait_for("#decision-comment")
        .await
        .send_keys("Approved while alice is away")
        .await
        .unwrap();
    b.wait_for("#approve-button").await.click().await.unwrap();
    let restated = b.wait_for("#confirm-for").await.text().await.unwrap();
    assert!(restated.contains("alice@example.com"), "{restated}");
    b.wait_for("#confirm-decision").await.click().await.unwrap();
    b.wait_for("#decision-result[data-outcome='approved']")
        .await;
    let vote = b.wait_for("#votes li").await.text().await.unwrap();
    assert!(vote.contains("for alice@example.com"), "{vote}");

    // The workflow goes on, with a record that names both.
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert!(
        run.states_entered.contains(&"Approved".to_string()),
        "{run:?}"
    );
    let output: TaskOutput =
        serde_json::from_value(run.output.unwrap()["approval"].clone()).unwrap();
    assert_eq!(output.request_id, id);
    assert_eq!(output.approvals[0].approver, "carol@example.com");
    assert_eq!(
        output.approvals[0].on_behalf_of.as_deref(),
        Some("alice@example.com")
    );
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
    assert_eq!(record.approvals, output.approvals);
    b.close().await;
    stack.stop().await.unwrap();
}
