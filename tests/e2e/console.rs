//! The console in a real headless Chromium (driven through chromedriver) against the real
//! local stack: moto running the example state machine, `hanko serve` with the built console.

use aws_sdk_sfn::types::ExecutionStatus;
use fantoccini::Locator;
use hanko_e2e::browser::Browser;
use hanko_e2e::{Stack, example_input};
use serde_json::{Value, json};

async fn stack_with_request(execution: &str, input: Value) -> (Stack, String, String) {
    let stack = Stack::start_with(true).await.expect("stack");
    let exec = stack.start_execution(execution, input).await.unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request(execution, &alice).await.unwrap();
    (stack, exec, id)
}

/// A new browser that opens the deep link of `id` logged out and logs in as `email`.
async fn open_as(stack: &Stack, id: &str, email: &str, password: &str) -> Browser {
    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/approvals/{id}", stack.base))
        .await
        .unwrap();
    b.log_in(email, password).await;
    b
}

/// Opens the deep link logged out, logs in, and decides with a comment.
async fn decide_in_browser(stack: &Stack, id: &str, button: &str, comment: &str) -> Browser {
    let b = open_as(stack, id, "alice@example.com", "alice-approves").await;
    b.wait_for("#request-title").await;
    let url = b.client.current_url().await.unwrap();
    assert_eq!(
        url.path(),
        format!("/approvals/{id}"),
        "back on the request"
    );
    b.wait_for("#decision-comment")
        .await
        .send_keys(comment)
        .await
        .unwrap();
    b.wait_for(button).await.click().await.unwrap();
    b.wait_for("#confirm-decision").await.click().await.unwrap();
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deep_link_leads_through_login_to_an_approval_that_resumes_the_execution() {
    let input = example_input("Deploy shop-api v1.4.2", json!(["alice@example.com"]), 1);
    let (stack, exec, id) = stack_with_request("browser-approve", input).await;
    let b = decide_in_browser(&stack, &id, "#approve-button", "Looks good").await;
    b.wait_for("#decision-result[data-outcome='approved']")
        .await;
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert!(
        run.states_entered.contains(&"Approved".to_string()),
        "{run:?}"
    );
    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_in_the_browser_sends_the_execution_down_the_rejected_branch() {
    let input = example_input("Deploy during the sale", json!(["alice@example.com"]), 1);
    let (stack, exec, id) = stack_with_request("browser-reject", input).await;
    let b = decide_in_browser(&stack, &id, "#reject-button", "Not during the sale").await;
    b.wait_for("#decision-result[data-outcome='rejected']")
        .await;
    let run = stack.wait_for_end(&exec).await.unwrap();
    assert!(
        run.states_entered.contains(&"Rejected".to_string()),
        "{run:?}"
    );
    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn someone_who_is_not_an_approver_sees_why_and_no_buttons() {
    // Bob asked for it: he may see it, but only alice may decide.
    let input = example_input("Not for bob", json!(["alice@example.com"]), 1);
    let (stack, _exec, id) = stack_with_request("browser-bob", input).await;
    let b = open_as(&stack, &id, "bob@example.com", "bob-requests").await;
    b.wait_for("#vote-blocked[data-reason='not_an_approver']")
        .await;
    assert!(
        b.client
            .find(Locator::Css("#approve-button"))
            .await
            .is_err()
    );
    assert!(b.client.find(Locator::Css("#reject-button")).await.is_err());
    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_sent_by_a_workflow_is_shown_as_text_and_never_runs() {
    let mut input = example_input(
        "<script>window.__pwned=1</script> Title",
        json!(["alice@example.com"]),
        1,
    );
    input["description"] = json!("<img src=x onerror=\"window.__pwned=2\"> description");
    input["details"] = json!({"note": "<img src=x onerror=\"window.__pwned=3\">", "s": "<script>window.__pwned=4</script>"});
    let (stack, _exec, id) = stack_with_request("browser-xss", input).await;
    let b = open_as(&stack, &id, "alice@example.com", "alice-approves").await;
    let title = b.wait_for("#request-title").await.text().await.unwrap();
    assert!(
        title.contains("<script>window.__pwned=1</script>"),
        "{title}"
    );
    let details = b.wait_for("#request-details").await.text().await.unwrap();
    assert!(details.contains("onerror"), "{details}");
    let description = b
        .wait_for("#request-description")
        .await
        .text()
        .await
        .unwrap();
    assert!(description.contains("<img src=x"), "{description}");
    let pwned = b
        .client
        .execute("return window.__pwned === undefined && document.querySelectorAll('img[src=x]').length === 0;", vec![])
        .await
        .unwrap();
    assert_eq!(pwned, json!(true), "workflow markup became live HTML");
    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_downloads_the_audit_trail_from_the_history_page_and_others_see_no_export() {
    let input = example_input("Publish the price list", json!(["alice@example.com"]), 1);
    let (stack, exec, id) = stack_with_request("browser-audit", input).await;
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let (status, body) = stack
        .decide(
            &id,
            &alice,
            json!({"decision": "approve", "comment": "ok, 公開"}),
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    stack.wait_for_end(&exec).await.unwrap();

    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/history", stack.base))
        .await
        .unwrap();
    b.log_in("dave@example.com", "dave-audits").await;
    b.wait_for("#audit-form").await;
    // Keep the file the console makes instead of letting the browser save it.
    b.client
        .execute(
            "window.__files = [];
             const make = URL.createObjectURL;
             URL.createObjectURL = (blob) => { window.__files.push({blob}); return make(blob); };
             HTMLAnchorElement.prototype.click = function () {
               window.__files[window.__files.length - 1].name = this.download;
             };",
            vec![],
        )
        .await
        .unwrap();
    b.wait_for("#audit-download").await.click().await.unwrap();
    let file = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const poll = async () => {
               const f = window.__files[0];
               if (f && f.name) { done({name: f.name, text: await f.blob.text()}); }
               else { setTimeout(poll, 100); }
             };
             poll();",
            vec![],
        )
        .await
        .unwrap();
    let name = file["name"].as_str().unwrap();
    let text = file["text"].as_str().unwrap();
    assert!(
        name.starts_with("hanko-audit-") && name.ends_with(".csv"),
        "{name}"
    );
    assert!(text.contains(&id), "{text}");
    assert!(text.contains("alice@example.com,"), "{text}");
    assert!(text.contains("\"ok, 公開\""), "{text}");
    b.close().await;

    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/history", stack.base))
        .await
        .unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for(&format!("a[href='/approvals/{id}']")).await;
    // Who may export is known from /api/me, fetched beside the list.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(b.client.find(Locator::Css("#audit-form")).await.is_err());
    b.close().await;
    stack.stop().await.unwrap();
}

/// The path and query the browser shows now.
async fn address(b: &Browser) -> String {
    let url = b.client.current_url().await.unwrap();
    match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_and_the_back_and_forward_buttons_move_between_pages_without_reloading_the_console() {
    let input = example_input("Rotate the signing keys", json!(["alice@example.com"]), 1);
    let (stack, _exec, id) = stack_with_request("browser-navigate", input).await;
    let b = Browser::start().await;
    // Logged out, a filtered list goes through the login and comes back to itself.
    b.client
        .goto(&format!("{}/approvals?status=pending", stack.base))
        .await
        .unwrap();
    b.log_in("alice@example.com", "alice-approves").await;
    b.wait_for("#filter-pending[aria-current='page']").await;
    b.wait_for("#nav-all[aria-current='page']").await;
    assert_eq!(address(&b).await, "/approvals?status=pending");
    // A mark in the page's script state: a reload would lose it.
    b.client
        .execute("window.__samePage = true;", vec![])
        .await
        .unwrap();

    b.wait_for(&format!("li[data-id='{id}'] a.request-title"))
        .await
        .click()
        .await
        .unwrap();
    b.wait_for("#request-title").await;
    assert_eq!(address(&b).await, format!("/approvals/{id}"));
    b.wait_for("#nav-history").await.click().await.unwrap();
    b.wait_for("#nav-history[aria-current='page']").await;
    assert_eq!(address(&b).await, "/history");

    b.client.back().await.unwrap();
    b.wait_for("#request-title").await;
    assert_eq!(address(&b).await, format!("/approvals/{id}"));
    b.client.back().await.unwrap();
    b.wait_for("#filter-pending[aria-current='page']").await;
    assert_eq!(address(&b).await, "/approvals?status=pending");
    b.client.forward().await.unwrap();
    b.wait_for("#request-title").await;
    assert_eq!(address(&b).await, format!("/approvals/{id}"));
    let same = b
        .client
        .execute("return window.__samePage === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        same,
        json!(true),
        "a link or the back button reloaded the console"
    );

    // An address that is no page of the console says so.
    b.client
        .goto(&format!("{}/no/such/page", stack.base))
        .await
        .unwrap();
    let title = b.wait_for("#page-title").await.text().await.unwrap();
    assert_eq!(title, "Page not found");
    b.close().await;
    stack.stop().await.unwrap();
}
