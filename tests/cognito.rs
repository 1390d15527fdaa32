//! The api verifies real Cognito tokens: a user pool, app clients, groups and users on
//! moto, tokens from AdminInitiateAuth, and `hanko serve` trusting the pool's issuer
//! (`https://cognito-idp.<region>.amazonaws.com/<pool id>`, as in the tokens) with its keys
//! fetched from moto's JWKS URL (set apart from the issuer). The dev login is off.

use anyhow::Context;
use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{
    AttributeType, AuthFlowType, AuthenticationResultType, ExplicitAuthFlowsType,
};
use aws_sdk_sfn::types::ExecutionStatus;
use hanko_e2e::{Moto, Options, Stack, example_input};
use serde_json::json;

const REGION: &str = "ap-northeast-1";
const PASSWORD: &str = "Correct-Horse-42";

/// A user pool with an app client like the console's (a public client, password auth on for
/// the test), group `release-managers` with alice in it, and mallory in no group.
struct Pool {
    id: String,
    client_id: String,
}

async fn app_client(c: &Cognito, pool: &str, name: &str) -> anyhow::Result<String> {
    Ok(c.create_user_pool_client()
        .user_pool_id(pool)
        .client_name(name)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .read_attributes("email")
        .send()
        .await?
        .user_pool_client()
        .and_then(|c| c.client_id())
        .context("client id")?
        .to_string())
}

async fn pool(c: &Cognito, name: &str) -> anyhow::Result<Pool> {
    let id = c
        .create_user_pool()
        .pool_name(name)
        .send()
        .await?
        .user_pool()
        .and_then(|p| p.id())
        .context("pool id")?
        .to_string();
    let client_id = app_client(c, &id, "hanko-console").await?;
    c.create_group()
        .user_pool_id(&id)
        .group_name("release-managers")
        .send()
        .await?;
    for (email, group) in [
        ("alice@example.com", Some("release-managers")),
        ("mallory@example.com", None),
    ] {
        c.admin_create_user()
            .user_pool_id(&id)
            .username(email)
            .user_attributes(
                AttributeType::builder()
                    .name("email")
                    .value(email)
                    .build()?,
            )
            .user_attributes(
                AttributeType::builder()
                    .name("email_verified")
                    .value("true")
                    .build()?,
            )
            .send()
            .await?;
        c.admin_set_user_password()
            .user_pool_id(&id)
            .username(email)
            .password(PASSWORD)
            .permanent(true)
            .send()
            .await?;
        if let Some(g) = group {
            c.admin_add_user_to_group()
                .user_pool_id(&id)
                .username(email)
                .group_name(g)
                .send()
                .await?;
        }
    }
    Ok(Pool { id, client_id })
}

/// ID and access tokens of `email`, by AdminInitiateAuth.
async fn tokens(
    c: &Cognito,
    pool: &str,
    client_id: &str,
    email: &str,
) -> anyhow::Result<AuthenticationResultType> {
    c.admin_initiate_auth()
        .user_pool_id(pool)
        .client_id(client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await?
        .authentication_result()
        .cloned()
        .context("no tokens (a challenge instead?)")
}

fn issuer(pool: &str) -> String {
    format!("https://cognito-idp.{REGION}.amazonaws.com/{pool}")
}

/// moto with the pool, and `hanko serve` trusting it, taking `token_use` tokens.
async fn stack(token_use: &str) -> (Stack, Cognito, Pool) {
    let moto = Moto::start().await.expect("moto");
    let cognito = Cognito::new(&moto.sdk);
    let p = pool(&cognito, "hanko").await.expect("user pool");
    let jwks = format!("{}/{}/.well-known/jwks.json", moto.endpoint, p.id);
    let domain = "https://hanko-test.auth.ap-northeast-1.amazoncognito.com";
    let args = [
        ("--oidc-issuer", issuer(&p.id)),
        ("--oidc-jwks-url", jwks),
        ("--oidc-client-id", p.client_id.clone()),
        ("--oidc-token-use", token_use.to_string()),
        ("--oidc-authorize-url", format!("{domain}/oauth2/authorize")),
        ("--oidc-token-url", format!("{domain}/oauth2/token")),
        ("--oidc-logout-url", format!("{domain}/logout")),
    ]
    .into_iter()
    .flat_map(|(k, v)| [k.to_string(), v])
    .collect();
    let stack = Stack::start_on(
        moto,
        Options {
            no_dev_login: true,
            args,
            ..Options::default()
        },
    )
    .await
    .expect("stack");
    (stack, cognito, p)
}

fn id_token(t: &AuthenticationResultType) -> String {
    t.id_token().expect("an ID token").to_string()
}

fn access_token(t: &AuthenticationResultType) -> String {
    t.access_token().expect("an access token").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cognito_id_token_names_the_user_and_groups_and_its_approver_approves_end_to_end() {
    let (stack, cognito, p) = stack("id").await;
    let alice = tokens(&cognito, &p.id, &p.client_id, "alice@example.com")
        .await
        .unwrap();
    let mallory = tokens(&cognito, &p.id, &p.client_id, "mallory@example.com")
        .await
        .unwrap();

    let (status, me) = stack.get("/api/me", &id_token(&alice)).await.unwrap();
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "alice@example.com", "{me}");
    assert_eq!(me["groups"], json!(["release-managers"]), "{me}");

    let (status, config) = stack.get("/api/config", "").await.unwrap();
    assert_eq!(status, 200, "{config}");
    assert_eq!(config["login"]["dev"], false, "{config}");
    assert_eq!(config["login"]["oidc"]["clientId"], p.client_id.as_str());
    assert_eq!(config["login"]["oidc"]["tokenUse"], "id");

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
    assert_eq!(status, 403, "{body}");

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
    let (stack, cognito, p) = stack("access").await;
    let alice = tokens(&cognito, &p.id, &p.client_id, "alice@example.com")
        .await
        .unwrap();
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
    let (stack, cognito, p) = stack("id").await;
    // moto signs every pool's tokens with the same key: only `iss` tells them apart.
    let other_pool = pool(&cognito, "elsewhere").await.unwrap();
    let other_client = app_client(&cognito, &p.id, "another-app").await.unwrap();
    let from_other_pool = tokens(
        &cognito,
        &other_pool.id,
        &other_pool.client_id,
        "alice@example.com",
    )
    .await
    .unwrap();
    let from_other_client = tokens(&cognito, &p.id, &other_client, "alice@example.com")
        .await
        .unwrap();
    let right = tokens(&cognito, &p.id, &p.client_id, "alice@example.com")
        .await
        .unwrap();

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
