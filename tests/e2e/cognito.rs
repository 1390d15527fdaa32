//! The api verifies real Cognito tokens: a user pool, app clients, groups and users on
//! moto, tokens from AdminInitiateAuth, and `hanko serve` trusting the pool's issuer
//! (`https://cognito-idp.<region>.amazonaws.com/<pool id>`, as in the tokens) with its keys
//! fetched from moto's JWKS URL (set apart from the issuer). The dev login is off.

use aws_sdk_cognitoidentityprovider::types::AuthenticationResultType;
use aws_sdk_sfn::types::ExecutionStatus;
use hanko_e2e::cognito::Pool;
use hanko_e2e::{Moto, Options, Stack, example_input};
use serde_json::json;

/// A pool with group `release-managers`, alice in it and mallory in no group.
async fn pool(moto: &Moto, name: &str) -> anyhow::Result<Pool> {
    Pool::create(
        moto,
        name,
        &[
            ("alice@example.com", &["release-managers"]),
            ("mallory@example.com", &[]),
        ],
    )
    .await
}

async fn tokens(p: &Pool, email: &str) -> anyhow::Result<AuthenticationResultType> {
    p.tokens_for(&p.client_id, email).await
}

/// moto with the pool, and `hanko serve` trusting it, taking `token_use` tokens.
async fn stack(token_use: &str) -> (Stack, Pool) {
    let moto = Moto::start().await.expect("moto");
    let p = pool(&moto, "hanko").await.expect("user pool");
    let stack = Stack::start_on(
        moto,
        Options {
            no_dev_login: true,
            args: p.hanko_args(token_use),
            ..Options::default()
        },
    )
    .await
    .expect("stack");
    (stack, p)
}

fn id_token(t: &AuthenticationResultType) -> String {
    t.id_token().expect("an ID token").to_string()
}

fn access_token(t: &AuthenticationResultType) -> String {
    t.access_token().expect("an access token").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cognito_id_token_names_the_user_and_groups_and_its_approver_approves_end_to_end() {
    let (stack, p) = stack("id").await;
    let alice = tokens(&p, "alice@example.com").await.unwrap();
    let mallory = tokens(&p, "mallory@example.com").await.unwrap();

    let (status, me) = stack.get("/api/me", &id_token(&alice)).await.unwrap();
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "alice@example.com", "{me}");
    assert_eq!(me["groups"], json!(["release-managers"]), "{me}");

    let (status, config) = stack.get("/api/config", "").await.unwrap();
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["login"]["dev"], false, "{config}");
    assert_eq!(config["login"]["oidc"]["clientId"], p.client_id.as_str());
    assert_eq!(config["login"]["oidc"]["tokenUse"], "id");
    assert!(
        config["login"]["oidc"].get("providerName").is_none(),
        "unnamed, the console calls it Cognito from its domain: {config}"
    );

    let input = example_input(
        "Rotate the payment keys",
        json!(["group:release-managers"]),
        1,
    );
    let exec = stack
        .start_execution("cognito-approve", input)
        .await
        .unwrap();
    let id = stack
        .wait_for_request("cognito-approve", &id_token(&alice))
        .await
        .unwrap();

    // Logged in, but in no approver group: may look, may not decide.
    let (status, me) = stack.get("/api/me", &id_token(&mallory)).await.unwrap();
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "mallory@example.com", "{me}");
    let (status, body) = stack
        .decide(&id, &id_token(&mallory), json!({"decision": "approve"}))
        .await
        .unwrap();
    // In no group the request names: not even told it exists.
    assert_eq!(status, 404, "{body}");

    // The access token is not what this api takes.
    let (status, body) = stack
        .decide(&id, &access_token(&alice), json!({"decision": "approve"}))
        .await
        .unwrap();
    assert_eq!(status, 401, "{body}");

    let (status, body) = stack
        .decide(
            &id,
            &id_token(&alice),
            json!({"decision": "approve", "comment": "keys rotated by the book"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "approved", "{body}");
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let output = run.output.clone().unwrap();
    assert_eq!(output["approval"]["decision"], "approved", "{run:?}");
    assert_eq!(
        output["approval"]["approvals"][0]["approver"], "alice@example.com",
        "{run:?}"
    );
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_token_use_access_cognito_access_tokens_are_taken_and_id_tokens_refused() {
    let (stack, p) = stack("access").await;
    let alice = tokens(&p, "alice@example.com").await.unwrap();
    // Cognito's access token: `client_id` (no `aud`), token_use=access, the username.
    let (status, me) = stack.get("/api/me", &access_token(&alice)).await.unwrap();
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "alice@example.com", "{me}");
    assert_eq!(me["groups"], json!(["release-managers"]), "{me}");
    let (status, body) = stack.get("/api/me", &id_token(&alice)).await.unwrap();
    assert_eq!(status, 401, "{body}");

    let input = example_input("Open the gates", json!(["alice@example.com"]), 1);
    let exec = stack
        .start_execution("cognito-access", input)
        .await
        .unwrap();
    let id = stack
        .wait_for_request("cognito-access", &access_token(&alice))
        .await
        .unwrap();
    let (status, body) = stack
        .decide(&id, &access_token(&alice), json!({"decision": "approve"}))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_of_another_user_pool_or_another_app_client_are_refused() {
    let (stack, p) = stack("id").await;
    // moto signs every pool's tokens with the same key: only `iss` tells them apart.
    let other_pool = pool(&stack.moto, "elsewhere").await.unwrap();
    let other_client = p.app_client("another-app").await.unwrap();
    let from_other_pool = tokens(&other_pool, "alice@example.com").await.unwrap();
    let from_other_client = p
        .tokens_for(&other_client, "alice@example.com")
        .await
        .unwrap();
    let right = tokens(&p, "alice@example.com").await.unwrap();

    let (status, _) = stack.get("/api/me", &id_token(&right)).await.unwrap();
    assert_eq!(
        status, 200,
        "the right token works, so the refusals mean something"
    );
    for (what, token) in [
        ("ID token of another pool", id_token(&from_other_pool)),
        (
            "access token of another pool",
            access_token(&from_other_pool),
        ),
        (
            "ID token of another app client",
            id_token(&from_other_client),
        ),
        (
            "access token of another app client",
            access_token(&from_other_client),
        ),
    ] {
        let (status, body) = stack.get("/api/me", &token).await.unwrap();
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}: {body}");
    }
    stack.stop().await.unwrap();
}
