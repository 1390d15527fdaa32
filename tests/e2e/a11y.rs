//! Accessibility: axe-core's WCAG 2.0 and 2.1 level A and AA checks on every kind of page
//! the console shows, in English and in Japanese. Any violation fails the test, with each
//! violation's rule, impact, elements and help printed.

use std::time::{Duration, Instant};

use hanko_e2e::browser::Browser;
use hanko_e2e::{Stack, example_input};
use serde_json::json;

/// Waits until request `id` has `status` in the api.
async fn wait_for_status(stack: &Stack, id: &str, token: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = stack
            .get(&format!("/api/approvals/{id}"), token)
            .await
            .unwrap();
        if r["status"] == status {
            return;
        }
        assert!(Instant::now() < deadline, "{id} never became {status}: {r}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// axe's violations on the page as it is now, each as lines for the report, under `page`.
async fn check(b: &Browser, page: &str, report: &mut Vec<String>) {
    // The clock ticks every second; let a page that has just loaded settle first.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for v in b.axe_violations().await {
        let mut lines = vec![format!(
            "{page}: {} ({}): {} <{}>",
            v["id"].as_str().unwrap_or("?"),
            v["impact"].as_str().unwrap_or("?"),
            v["help"].as_str().unwrap_or("?"),
            v["helpUrl"].as_str().unwrap_or("?"),
        )];
        let nodes = v["nodes"].as_array().cloned().unwrap_or_default();
        for n in nodes.iter().take(5) {
            lines.push(format!(
                "    {}: {}",
                n["target"],
                n["summary"].as_str().unwrap_or("").replace('\n', " ")
            ));
        }
        if nodes.len() > 5 {
            lines.push(format!("    and {} more elements", nodes.len() - 5));
        }
        report.push(lines.join("\n"));
    }
}

/// Switches the console's language with its own switch.
async fn switch_to(b: &Browser, lang: &str) {
    b.wait_for(&format!("#lang-{lang}"))
        .await
        .click()
        .await
        .unwrap();
    b.wait_for(&format!("html[lang='{lang}']")).await;
}

async fn visit(b: &Browser, stack: &Stack, path: &str, ready: &str) {
    b.client
        .goto(&format!("{}{path}", stack.base))
        .await
        .unwrap();
    b.wait_for(ready).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_of_the_console_passes_the_wcag_a_and_aa_checks_of_axe_in_english_and_japanese()
{
    let stack = Stack::start_with(true).await.expect("stack");
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let pending = example_input("Deploy shop-api v1.4.2", json!(["alice@example.com"]), 1);
    let decided = example_input("Publish the price list", json!(["alice@example.com"]), 1);
    let mut expired = example_input("Rotate the keys", json!(["alice@example.com"]), 1);
    expired["timeoutSeconds"] = json!(2);
    // Alice asked for it; only approver01 may decide.
    let mut not_hers = example_input("Alice's own request", json!(["approver01@example.com"]), 1);
    not_hers["requestedBy"] = json!("alice@example.com");
    // Carol is away and alice decides for her: alice may vote as herself or for carol.
    let seats = example_input(
        "Renew the certificate",
        json!(["alice@example.com", "carol@example.com"]),
        1,
    );
    let mut ids: Vec<String> = Vec::new();
    for (name, input) in [
        ("a11y-pending", pending),
        ("a11y-decided", decided),
        ("a11y-expired", expired),
        ("a11y-not-hers", not_hers),
        ("a11y-seats", seats),
    ] {
        stack.start_execution(name, input).await.unwrap();
        ids.push(stack.wait_for_request(name, &alice).await.unwrap());
    }
    let [pending, decided, expired, not_hers, seats]: [String; 5] = ids.try_into().unwrap();
    let carol = stack
        .login("carol@example.com", "carol-approves")
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let away = stack
        .http
        .put(format!("{}/api/me/delegation", stack.base))
        .bearer_auth(&carol)
        .json(&json!({
            "delegate": "alice@example.com",
            "from": now.to_rfc3339(),
            "until": (now + chrono::Duration::days(7)).to_rfc3339(),
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(away.status(), 200, "{}", away.text().await.unwrap());
    let (status, body) = stack
        .decide(
            &decided,
            &alice,
            json!({"decision": "approve", "comment": "Prices checked"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    wait_for_status(&stack, &expired, &alice, "expired").await;
    // The decision handed to the workflow, so that the page stops polling.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, r) = stack
            .get(&format!("/api/approvals/{decided}"), &alice)
            .await
            .unwrap();
        if r["decision"]["delivery"] == "delivered" {
            break;
        }
        assert!(Instant::now() < deadline, "never delivered: {r}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let b = Browser::start().await;
    let mut report = Vec::new();
    visit(&b, &stack, "/login", "#login-form").await;
    check(&b, "login (en)", &mut report).await;
    switch_to(&b, "ja").await;
    check(&b, "login (ja)", &mut report).await;
    b.log_in("alice@example.com", "not her password").await;
    b.wait_for("#login-error").await;
    check(&b, "login with a wrong password (ja)", &mut report).await;
    switch_to(&b, "en").await;
    check(&b, "login with a wrong password (en)", &mut report).await;
    b.wait_for("#login-email").await.clear().await.unwrap();
    b.wait_for("#login-password").await.clear().await.unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for(&format!("li[data-id='{pending}']")).await;

    let lists = "#request-list, #empty-state";
    for lang in ["en", "ja"] {
        switch_to(&b, lang).await;
        visit(&b, &stack, "/", lists).await;
        check(&b, &format!("inbox ({lang})"), &mut report).await;
        visit(&b, &stack, "/approvals", lists).await;
        check(&b, &format!("all requests ({lang})"), &mut report).await;
        visit(&b, &stack, "/history", lists).await;
        check(&b, &format!("history ({lang})"), &mut report).await;
        visit(&b, &stack, "/passkeys", "#passkeys-none, #passkey-list").await;
        check(&b, &format!("passkeys ({lang})"), &mut report).await;
        for (what, id, ready) in [
            ("pending request", &pending, "#approve-button"),
            ("decided request", &decided, "#decision-result"),
            (
                "expired request",
                &expired,
                "#vote-blocked[data-reason='expired']",
            ),
            (
                "request she may not vote on",
                &not_hers,
                "#vote-blocked[data-reason='not_an_approver']",
            ),
            (
                "request she may vote on for carol too",
                &seats,
                "#seat-choice",
            ),
        ] {
            visit(&b, &stack, &format!("/approvals/{id}"), ready).await;
            check(&b, &format!("{what} ({lang})"), &mut report).await;
        }
        visit(
            &b,
            &stack,
            &format!("/approvals/{pending}"),
            "#approve-button",
        )
        .await;
        b.wait_for("#reject-button").await.click().await.unwrap();
        b.wait_for("#comment-error").await;
        check(
            &b,
            &format!("rejecting without a comment ({lang})"),
            &mut report,
        )
        .await;
        b.wait_for("#approve-button").await.click().await.unwrap();
        b.wait_for("#confirm-dialog[open]").await;
        check(&b, &format!("confirmation dialog ({lang})"), &mut report).await;
        b.wait_for("#confirm-cancel").await.click().await.unwrap();
        visit(&b, &stack, "/away", "#standing-in").await;
        check(&b, &format!("while I am away ({lang})"), &mut report).await;
        // Naming herself: the api refuses, and the page says why.
        b.wait_for("#delegation-delegate")
            .await
            .send_keys("alice@example.com")
            .await
            .unwrap();
        b.wait_for("#delegation-save").await.click().await.unwrap();
        b.wait_for("#delegation-error[data-code='self_delegation']")
            .await;
        check(
            &b,
            &format!("while I am away, a refused delegation ({lang})"),
            &mut report,
        )
        .await;
        visit(&b, &stack, "/no/such/page", "#page-title").await;
        check(&b, &format!("page not found ({lang})"), &mut report).await;
    }
    b.wait_for("#logout").await.click().await.unwrap();

    // An auditor's history has the audit export form.
    b.wait_for("#login-form").await;
    visit(&b, &stack, "/history", "#login-form").await;
    b.log_in("dave@example.com", "dave-audits").await;
    b.wait_for("#audit-form").await;
    for lang in ["ja", "en"] {
        switch_to(&b, lang).await;
        check(&b, &format!("auditor's history ({lang})"), &mut report).await;
    }
    b.close().await;
    stack.stop().await.unwrap();
    assert!(
        report.is_empty(),
        "axe found {} violations:\n{}",
        report.len(),
        report.join("\n")
    );
}
