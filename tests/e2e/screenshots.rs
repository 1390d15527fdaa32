//! The README's pictures, taken again from the local stack's real parts: the console (login,
//! inbox, a request with a vote, a decided request in Japanese, the inbox on a phone), the
//! web mailbox with an approval mail open, and the OpenID provider's login form.
//!
//! Not part of `make test` (it writes into docs/screenshots):
//! `cargo test -p hanko-e2e --test e2e screenshots -- --ignored`, with a Japanese font
//! installed (Debian's `fonts-noto-cjk`) and the console built.

use std::time::Duration;

use hanko_e2e::browser::{Browser, BrowserOptions};
use hanko_e2e::mail::Maildev;
use hanko_e2e::oidc::OidcProvider;
use hanko_e2e::webauthn::VirtualAuthenticator;
use hanko_e2e::{Options, Stack, root};
use serde_json::{Value, json};

/// The examples `make run` starts (infra/examples/executions.json), each with the approvers
/// the local policy would give it.
fn examples() -> Vec<(String, Value)> {
    let raw = std::fs::read_to_string(root().join("infra/examples/executions.json")).unwrap();
    let list: Vec<Value> = serde_json::from_str(&raw).unwrap();
    list.into_iter()
        .map(|e| {
            let name = e["name"].as_str().unwrap().to_string();
            let mut input = e["input"].clone();
            let (approvers, required) = match name.as_str() {
                n if n.starts_with("expense") => (json!(["group:finance"]), 1),
                n if n.starts_with("contract") => {
                    (json!(["group:legal", "group:release-managers"]), 2)
                }
                _ => (json!(["group:release-managers"]), 1),
            };
            input["approvers"] = approvers;
            input["requiredApprovals"] = json!(required);
            input["allowSelfApproval"] = json!(false);
            (name, input)
        })
        .collect()
}

async fn save(b: &Browser, name: &str) {
    if !name.ends_with("-phone.png") {
        b.client.set_window_size(1280, 900).await.unwrap();
    }
    // Let fonts and transitions settle.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let png = b.client.screenshot().await.unwrap();
    std::fs::write(root().join("docs/screenshots").join(name), png).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes the README's screenshots; run on purpose"]
async fn the_readmes_screenshots_are_taken_from_the_local_stack() {
    let mailbox = Maildev::start().await.unwrap();
    let idp = OidcProvider::start(&[]).await.unwrap();
    let stack = Stack::start_opts(Options {
        console: true,
        args: [
            idp.hanko_args("id"),
            mailbox.hanko_args(),
            vec![
                "--oidc-provider-name".into(),
                "the local OpenID provider".into(),
            ],
        ]
        .concat(),
        ..Options::default()
    })
    .await
    .expect("stack (build the console first: scripts/build-console.sh)");
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let carol = stack
        .login("carol@example.com", "carol-approves")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (name, input) in examples() {
        stack.start_execution(&name, input).await.unwrap();
        ids.push((
            name.clone(),
            stack.wait_for_request(&name, &alice).await.unwrap(),
        ));
    }
    let id_of = |prefix: &str| {
        ids.iter()
            .find(|(n, _)| n.starts_with(prefix))
            .map(|(_, id)| id.clone())
            .unwrap()
    };
    let contract = id_of("contract");
    let expense = id_of("expense");
    let vote = |id: String, token: String, comment: &str| {
        let http = stack.http.clone();
        let url = format!("{}/api/approvals/{id}/decision", stack.base);
        let body = json!({"decision": "approve", "comment": comment});
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{:?}", r.text().await);
        }
    };
    vote(
        contract.clone(),
        carol.clone(),
        "Legal is fine with the new liability cap (9.2)",
    )
    .await;
    mailbox.wait_for(3).await.unwrap();

    // The console, in English.
    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/login", stack.base))
        .await
        .unwrap();
    b.wait_for("#login-oidc").await;
    save(&b, "login.png").await;
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for("#request-list li").await;
    save(&b, "inbox.png").await;
    b.client
        .goto(&format!("{}/approvals/{contract}", stack.base))
        .await
        .unwrap();
    b.wait_for("#approve-button").await;
    save(&b, "request.png").await;
    b.client.set_window_size(390, 844).await.unwrap();
    b.client.goto(&format!("{}/", stack.base)).await.unwrap();
    b.wait_for("#request-list li").await;
    save(&b, "inbox-phone.png").await;
    b.close().await;

    // A decided request, in Japanese.
    vote(
        expense.clone(),
        alice.clone(),
        "承認します。領収書を確認しました",
    )
    .await;
    let b = Browser::start_with(BrowserOptions {
        lang: "ja-JP".into(),
        time_zone: Some("Asia/Tokyo".into()),
    })
    .await;
    b.client
        .goto(&format!("{}/login", stack.base))
        .await
        .unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for("#current-user").await;
    b.client
        .goto(&format!("{}/approvals/{expense}", stack.base))
        .await
        .unwrap();
    b.wait_for("#decision-result").await;
    save(&b, "request-decided-ja.png").await;
    b.close().await;

    // "While I am away" with carol standing in for alice, and the Passkeys page with one
    // passkey (on `localhost`: a passkey's rpId cannot be an IP address).
    let now = chrono::Utc::now();
    let away = json!({
        "delegate": "carol@example.com",
        "from": now.to_rfc3339(),
        "until": (now + chrono::Duration::days(5)).to_rfc3339(),
    });
    let r = stack
        .http
        .put(format!("{}/api/me/delegation", stack.base))
        .bearer_auth(&alice)
        .json(&away)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    let console = stack.base.replace("127.0.0.1", "localhost");
    let b = Browser::start().await;
    let _device = VirtualAuthenticator::add(&b.client).await;
    b.client.goto(&format!("{console}/away")).await.unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for("#delegation-current-title").await;
    save(&b, "away.png").await;
    b.client.goto(&format!("{console}/passkeys")).await.unwrap();
    b.wait_for("#passkey-name")
        .await
        .send_keys("Work laptop")
        .await
        .unwrap();
    b.wait_for("#passkey-add").await.click().await.unwrap();
    b.wait_for("#passkey-list .passkey-name").await;
    save(&b, "passkeys.png").await;
    b.close().await;

    // The web mailbox with the newest mail open, and the provider's login form.
    let b = Browser::start().await;
    b.client.goto(&mailbox.web).await.unwrap();
    b.wait_for(".email-item-link").await.click().await.unwrap();
    b.wait_for("iframe.panel-html").await;
    save(&b, "mailbox.png").await;
    b.client
        .goto(&format!("{}/approvals/{contract}", stack.base))
        .await
        .unwrap();
    b.wait_for("#login-oidc").await.click().await.unwrap();
    b.wait_for("#provider-login").await;
    save(&b, "provider-login.png").await;
    b.close().await;

    stack.stop().await.unwrap();
    idp.stop().await;
    mailbox.stop().await;
}
