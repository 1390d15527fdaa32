//! Passkeys in the console, in a real headless Chromium with its virtual authenticator
//! (WebDriver's WebAuthn extension), against the local stack with every vote required to be
//! signed (`--require-passkey`): register a passkey, approve with it, the execution resumes
//! and its decision verifies with both signatures; an authenticator whose user
//! verification fails gets nothing recorded.

use aws_sdk_sfn::types::ExecutionStatus;
use fantoccini::Locator;
use hanko_api::TaskOutput;
use hanko_e2e::browser::Browser;
use hanko_e2e::webauthn::VirtualAuthenticator;
use hanko_e2e::{Options, Stack, example_input};
use serde_json::json;

/// A stack serving the console that requires passkeys, with one request for Alice; the
/// console's address on `localhost` (a passkey's rpId cannot be an IP address).
async fn stack_with_request(execution: &str) -> (Stack, String, String, String) {
    let stack = Stack::start_opts(Options {
        console: true,
        args: vec!["--require-passkey".into()],
        ..Options::default()
    })
    .await
    .expect("stack");
    let input = example_input("Deploy shop-api v2.0.0", json!(["alice@example.com"]), 1);
    let exec = stack.start_execution(execution, input).await.unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request(execution, &alice).await.unwrap();
    let console = stack.base.replace("127.0.0.1", "localhost");
    (stack, exec, id, console)
}

/// Registers a passkey named `name` on the Passkeys page.
async fn register(b: &Browser, name: &str) {
    b.wait_for("#passkey-name")
        .await
        .send_keys(name)
        .await
        .unwrap();
    b.wait_for("#passkey-add").await.click().await.unwrap();
    b.wait_for("#passkey-notice").await;
    let listed = b.wait_for("#passkey-list .passkey-name").await;
    assert_eq!(listed.text().await.unwrap(), name);
}

/// Approves the open request with `comment`, through the confirmation dialog.
async fn approve(b: &Browser, comment: &str) {
    b.wait_for("#passkey-required-note").await;
    let field = b.wait_for("#decision-comment").await;
    field.clear().await.unwrap();
    field.send_keys(comment).await.unwrap();
    b.wait_for("#approve-button").await.click().await.unwrap();
    b.wait_for("#confirm-decision").await.click().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_registered_in_the_console_signs_an_approval_that_resumes_the_execution() {
    let (stack, exec, id, console) = stack_with_request("browser-passkey").await;
    let b = Browser::start().await;
    let device = VirtualAuthenticator::add(&b.client).await;
    b.client
        .goto(&format!("{console}/approvals/{id}"))
        .await
        .unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for("#request-title").await;

    // Without a passkey the vote is refused and the console says how to add one.
    approve(&b, "Ship it").await;
    b.wait_for("#passkey-missing").await;
    b.wait_for("#passkey-go-add").await.click().await.unwrap();
    register(&b, "Virtual laptop").await;
    let held = device.credentials(&b.client).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["rpId"], "localhost");

    b.client
        .goto(&format!("{console}/approvals/{id}"))
        .await
        .unwrap();
    approve(&b, "Ship it").await;
    b.wait_for("#decision-result[data-outcome='approved']")
        .await;
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");

    // The task output's decision verifies: Hanko's signature and Alice's passkey's.
    let output: TaskOutput =
        serde_json::from_value(run.output.unwrap()["approval"].clone()).unwrap();
    let jwks = stack.jwks().await.unwrap();
    let verified = hanko::verify::verify_decision(&output.signature, &jwks).expect("valid");
    let vote = &verified.record.approvals[0];
    assert_eq!(vote.approver, "alice@example.com");
    assert_eq!(vote.comment.as_deref(), Some("Ship it"));
    let passkey = vote.passkey.as_ref().expect("signed with the passkey");
    assert_eq!(passkey.rp_id, "localhost");
    assert!(passkey.user_verified);
    assert_eq!(
        held[0]["credentialId"].as_str().unwrap(),
        passkey.credential_id,
        "the device's own credential signed"
    );
    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_whose_user_verification_fails_gets_the_vote_refused_and_nothing_recorded() {
    let (stack, _exec, id, console) = stack_with_request("browser-passkey-uv").await;
    let b = Browser::start().await;
    let device = VirtualAuthenticator::add(&b.client).await;
    b.client.goto(&format!("{console}/passkeys")).await.unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    register(&b, "Virtual laptop").await;

    device.set_user_verified(&b.client, false).await;
    b.client
        .goto(&format!("{console}/approvals/{id}"))
        .await
        .unwrap();
    approve(&b, "Ship it").await;
    let error = b.wait_for("#decision-error").await;
    let words = error.text().await.unwrap();
    assert!(words.contains("Your passkey did not sign"), "{words}");
    assert!(
        b.client
            .find_all(Locator::Css("#decision-result"))
            .await
            .unwrap()
            .is_empty(),
        "no decision: {}",
        error.text().await.unwrap()
    );
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let (status, request) = stack
        .get(&format!("/api/approvals/{id}"), &alice)
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(request["status"], "pending", "{request}");
    assert_eq!(request["votes"], json!([]), "{request}");
    let (status, _) = stack
        .get(&format!("/api/approvals/{id}/decision"), &alice)
        .await
        .unwrap();
    assert_eq!(status, 404, "no signed decision");
    b.close().await;
    stack.stop().await.unwrap();
}
