//! Logging in to the console with an OIDC provider (authorization code + PKCE) in a real
//! headless Chromium, against a stand-in provider on 127.0.0.1 (moto has no hosted UI) and
//! a `hanko serve` that trusts only that provider (the dev login is off).

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use fantoccini::Locator;
use hanko_e2e::browser::Browser;
use hanko_e2e::oidc::{FakeIdp, IdpUser};
use hanko_e2e::{Options, Stack, example_input};
use serde_json::{Value, json};

const CLIENT_ID: &str = "hanko-console-test";
const PROVIDER_NAME: &str = "Example SSO";

fn alice() -> IdpUser {
    IdpUser::new("alice@example.com", &["release-managers"])
}

/// The provider, and a stack with the console that trusts only it.
async fn stack_with_idp() -> (FakeIdp, Stack) {
    let idp = FakeIdp::start(CLIENT_ID, alice()).await.unwrap();
    let stack = Stack::start_opts(Options {
        console: true,
        no_dev_login: true,
        args: [
            idp.hanko_args("id"),
            vec!["--oidc-provider-name".into(), PROVIDER_NAME.into()],
        ]
        .concat(),
        ..Options::default()
    })
    .await
    .expect("stack (build the console first: scripts/build-console.sh)");
    idp.set_redirect_uri(&format!("{}/auth/callback", stack.base));
    (idp, stack)
}

/// What the page keeps in its storages.
async fn storages(b: &Browser) -> Value {
    b.client
        .execute(
            "return {session: Object.assign({}, sessionStorage), local: Object.keys(localStorage)};",
            vec![],
        )
        .await
        .unwrap()
}

async fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(40);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_link_goes_through_the_providers_pkce_login_and_back_to_the_request_to_approve_it() {
    let (idp, stack) = stack_with_idp().await;
    assert_eq!(
        stack
            .http
            .post(format!("{}/api/dev/login", stack.base))
            .json(&json!({"email": "alice@example.com", "password": "x"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404,
        "the dev login is off"
    );
    let input = example_input(
        "Deploy shop-api v2.0.0",
        json!(["group:release-managers"]),
        1,
    );
    let exec = stack.start_execution("oidc-approve", input).await.unwrap();
    let api_token = idp.id_token(&alice());
    let id = stack
        .wait_for_request("oidc-approve", &api_token)
        .await
        .unwrap();
    // Tokens that run out within 70 s: the console renews them with the refresh token
    // (a minute ahead), so the decision below is made with a renewed token.
    idp.set_token_ttl(70);

    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/approvals/{id}?from=mail", stack.base))
        .await
        .unwrap();
    // Logged out: to the login page, on to the provider, back at /auth/callback, and on to
    // the deep link, query and all.
    b.wait_for("#request-title").await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        format!("/approvals/{id}"),
        "back on the request"
    );
    assert_eq!(
        url.query(),
        Some("from=mail"),
        "the deep link's query survives"
    );
    let seen = idp.seen();
    assert_eq!(seen.authorizations, 1, "{seen:?}");
    assert_eq!(seen.code_exchanges, 1, "{seen:?}");
    assert!(seen.refusals.is_empty(), "{seen:?}");
    let user = b.wait_for("#current-user").await;
    assert_eq!(
        user.attr("title").await.unwrap().as_deref(),
        Some("alice@example.com")
    );
    let kept = storages(&b).await;
    assert_eq!(
        kept["local"].as_array().map(|l| l.iter().any(|k| k
            .as_str()
            .is_some_and(|k| k.contains("token") || k.contains("refresh") || k.contains("oidc")))),
        Some(false),
        "{kept}"
    );
    assert!(
        kept["session"].get("hanko.oidc.pending").is_none(),
        "the verifier is gone after the round trip: {kept}"
    );
    assert!(kept["session"]["hanko.token"].is_string(), "{kept}");

    wait_until("a renewal with the refresh token", || {
        idp.seen().refreshes >= 1
    })
    .await;
    b.wait_for("#decision-comment")
        .await
        .send_keys("Ship it")
        .await
        .unwrap();
    b.wait_for("#approve-button").await.click().await.unwrap();
    b.wait_for("#confirm-decision").await.click().await.unwrap();
    b.wait_for("#decision-result[data-outcome='approved']")
        .await;

    let (status, approval) = stack
        .get(&format!("/api/approvals/{id}"), &api_token)
        .await
        .unwrap();
    assert_eq!(status, 200, "{approval}");
    assert_eq!(approval["status"], "approved", "{approval}");
    assert!(
        approval.to_string().contains("alice@example.com"),
        "{approval}"
    );
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_eq!(
        run.output.as_ref().unwrap()["approval"]["decision"],
        "approved",
        "{run:?}"
    );

    // Logging out revokes the refresh token and goes through the provider (its session
    // ends too), back to the login page, which does not log in again by itself, with no
    // token left in the tab.
    assert_eq!(idp.seen().revocations, 0);
    b.wait_for("#logout").await.click().await.unwrap();
    let button = b.wait_for("#login-oidc").await;
    assert!(
        button.text().await.unwrap().contains(PROVIDER_NAME),
        "the button names the provider as configured"
    );
    assert_eq!(idp.seen().logouts, 1);
    wait_until("the refresh token's revocation", || {
        idp.seen().revocations >= 1
    })
    .await;
    let seen = idp.seen();
    assert_eq!(seen.revocations, 1, "{seen:?}");
    assert!(seen.refusals.is_empty(), "{seen:?}");
    assert_eq!(idp.seen().authorizations, 1, "no new login started");
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.path(), "/login", "{url}");
    let kept = storages(&b).await;
    assert!(kept["session"].get("hanko.token").is_none(), "{kept}");
    assert!(kept["session"].get("hanko.refresh").is_none(), "{kept}");
    assert!(b.client.find(Locator::Css("#current-user")).await.is_err());

    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_without_a_refresh_token_that_runs_out_logs_in_again_and_returns_to_the_request()
{
    let (idp, stack) = stack_with_idp().await;
    let input = example_input(
        "Publish the spring catalogue",
        json!(["alice@example.com"]),
        1,
    );
    let exec = stack.start_execution("oidc-expiry", input).await.unwrap();
    let id = stack
        .wait_for_request("oidc-expiry", &idp.id_token(&alice()))
        .await
        .unwrap();
    // The first login's tokens run out in 6 s and cannot be renewed.
    idp.set_refresh_tokens(false);
    idp.set_token_ttl(6);

    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/approvals/{id}", stack.base))
        .await
        .unwrap();
    b.wait_for("#request-title").await;
    assert_eq!(idp.seen().authorizations, 1);
    let kept = storages(&b).await;
    assert!(kept["session"]["hanko.token"].is_string(), "{kept}");
    assert!(kept["session"].get("hanko.refresh").is_none(), "{kept}");
    // The next login lasts.
    idp.set_token_ttl(3600);

    // Once the token runs out, the console logs in again (the provider alone) and comes
    // back to the same request, without a renewal.
    wait_until("a second login after the token ran out", || {
        idp.seen().code_exchanges >= 2
    })
    .await;
    b.wait_for("#request-title").await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/approvals/{id}"), "{url}");
    let seen = idp.seen();
    assert_eq!(seen.refreshes, 0, "{seen:?}");
    assert_eq!(seen.authorizations, 2, "{seen:?}");
    assert!(seen.refusals.is_empty(), "{seen:?}");

    // And the new session decides.
    b.wait_for("#approve-button").await.click().await.unwrap();
    b.wait_for("#confirm-decision").await.click().await.unwrap();
    b.wait_for("#decision-result[data-outcome='approved']")
        .await;
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");

    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_whose_state_was_tampered_with_is_refused_and_logs_nobody_in() {
    let (idp, stack) = stack_with_idp().await;
    let b = Browser::start().await;

    // A callback nobody started in this tab (a link planted by someone else).
    b.client
        .goto(&format!(
            "{}/auth/callback?code=planted&state=planted",
            stack.base
        ))
        .await
        .unwrap();
    b.wait_for("#callback-error[data-reason='state']").await;

    // A real login started here, whose answer comes back with another state.
    b.client
        .goto(&format!("{}/login", stack.base))
        .await
        .unwrap();
    let button = b.wait_for("#login-oidc").await;
    assert!(
        button.text().await.unwrap().contains("Log in with"),
        "the provider's button"
    );
    assert!(
        b.client.find(Locator::Css("#login-form")).await.is_err(),
        "no dev form when the dev login is off"
    );
    // Stop the browser on its way back, to change the answer.
    idp.divert_to(Some(&format!("{}/auth/held", stack.base)));
    button.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let held = loop {
        let url = b.client.current_url().await.unwrap();
        if url.path() == "/auth/held" {
            break url;
        }
        assert!(
            Instant::now() < deadline,
            "the provider did not answer: {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let query: std::collections::HashMap<_, _> = held.query_pairs().into_owned().collect();
    assert!(
        query.contains_key("code") && query.contains_key("state"),
        "{held}"
    );
    b.client
        .goto(&format!(
            "{}/auth/callback?code={}&state={}x",
            stack.base, query["code"], query["state"]
        ))
        .await
        .unwrap();
    let error = b.wait_for("#callback-error[data-reason='state']").await;
    assert!(!error.text().await.unwrap().is_empty());
    assert_eq!(idp.seen().code_exchanges, 0, "no code was exchanged");
    let kept = storages(&b).await;
    assert!(kept["session"].get("hanko.token").is_none(), "{kept}");
    assert!(
        b.client.find(Locator::Css("#current-user")).await.is_err()
            && b.client.find(Locator::Css("#logout")).await.is_err(),
        "nobody is logged in"
    );
    // The verifier went with the refused answer: replaying the right state now fails too.
    b.client
        .goto(&format!(
            "{}/auth/callback?code={}&state={}",
            stack.base, query["code"], query["state"]
        ))
        .await
        .unwrap();
    b.wait_for("#callback-error[data-reason='state']").await;
    assert_eq!(idp.seen().code_exchanges, 0);
    b.close().await;
    stack.stop().await.unwrap();
}
