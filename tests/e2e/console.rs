//! The console in a real headless Chromium (driven through chromedriver) against the real
//! local stack: moto running the example state machine, `hanko serve` with the built console.

use aws_sdk_sfn::types::ExecutionStatus;
use fantoccini::Locator;
use hanko_e2e::browser::Browser;
use hanko_e2e::{Options, Stack, example_input};
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

/// A stack whose `hanko serve` runs as a child process and logs, as JSON lines, every
/// request it receives (tower-http's trace), with a request waiting for alice.
async fn logging_stack_with_request(execution: &str, input: Value) -> (Stack, String) {
    let stack = Stack::start_opts(Options {
        console: true,
        process: true,
        args: vec!["--log-format".into(), "json".into()],
        env: vec![("RUST_LOG".into(), "info,tower_http=debug".into())],
        ..Default::default()
    })
    .await
    .expect("stack");
    stack.start_execution(execution, input).await.unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request(execution, &alice).await.unwrap();
    (stack, id)
}

/// How many `GET {path}` (path and query) `hanko serve` has received so far, by its log:
/// every one, whether or not the page read the answer.
fn gets(stack: &Stack, path: &str) -> usize {
    stack
        .hanko_log()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|l| {
            l["fields"]["message"] == "started processing request"
                && l["span"]["method"] == "GET"
                && l["span"]["uri"] == path
        })
        .count()
}

/// The early fetches boot.js started on this page that the console has not taken.
async fn prefetches_left(b: &Browser) -> Value {
    b.client
        .execute(
            "var p = window.hankoPrefetch;\
             return p === undefined ? 'no early fetches: window.hankoPrefetch is missing' : Object.keys(p);",
            vec![],
        )
        .await
        .unwrap()
}

/// Opens `path` afresh (a new page load) and waits for `ready`. The `GET`s of `paths` it
/// led to, in order.
async fn load_counting(
    b: &Browser,
    stack: &Stack,
    path: &str,
    ready: &[&str],
    paths: &[&str],
) -> Vec<usize> {
    let before: Vec<usize> = paths.iter().map(|p| gets(stack, p)).collect();
    b.client
        .goto(&format!("{}{path}", stack.base))
        .await
        .unwrap();
    for css in ready {
        b.wait_for(css).await;
    }
    paths
        .iter()
        .zip(before)
        .map(|(p, n)| gets(stack, p) - n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_in_a_deep_link_and_the_inbox_ask_for_their_data_once_while_the_console_loads() {
    let input = example_input("Renew the TLS certificate", json!(["alice@example.com"]), 1);
    let (stack, id) = logging_stack_with_request("browser-prefetch", input).await;
    let b = open_as(&stack, &id, "alice@example.com", "alice-approves").await;
    b.wait_for("#request-title").await;

    // A fresh load of the deep link, logged in: boot.js asks for the request, who is logged
    // in and the login options while the wasm downloads, and the console takes those
    // answers rather than asking again (the next test shows boot.js does ask).
    let request = format!("/api/approvals/{id}");
    let asked = load_counting(
        &b,
        &stack,
        &format!("/approvals/{id}"),
        &["#approve-button:enabled", "#current-user"],
        &[&request, "/api/me", "/api/config"],
    )
    .await;
    assert_eq!(asked, [1, 1, 1], "{request}, /api/me, /api/config");
    assert_eq!(prefetches_left(&b).await, json!([]));

    // The inbox: the list of what waits for alice, as the console asks for it.
    let list = "/api/approvals?status=pending&limit=20&mine=true";
    let row = format!("#request-list li[data-id='{id}']");
    let asked = load_counting(
        &b,
        &stack,
        "/",
        &[&row, "#current-user"],
        &[list, "/api/me", "/api/config"],
    )
    .await;
    assert_eq!(asked, [1, 1, 1], "{list}, /api/me, /api/config");
    assert_eq!(prefetches_left(&b).await, json!([]));
    b.close().await;
    stack.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_on_the_early_fetch_still_ends_the_session_and_leads_to_the_login_page() {
    let input = example_input("Drop the staging database", json!(["alice@example.com"]), 1);
    let (stack, id) = logging_stack_with_request("browser-prefetch-refused", input).await;
    let b = Browser::start().await;
    b.client
        .goto(&format!("{}/login", stack.base))
        .await
        .unwrap();
    b.wait_for("#login-email").await;
    // A token that has not run out by its stored expiry, but that the server refuses.
    let refused_token = "sessionStorage.setItem('hanko.token', 'not-a-token');\
        sessionStorage.setItem('hanko.expiresAt', String(Date.now() + 3600000));";

    for (page, data, next) in [
        (
            format!("/approvals/{id}"),
            format!("/api/approvals/{id}"),
            format!("/login?next=%2Fapprovals%2F{id}"),
        ),
        (
            "/".to_string(),
            "/api/approvals?status=pending&limit=20&mine=true".to_string(),
            "/login".to_string(),
        ),
    ] {
        b.client.execute(refused_token, vec![]).await.unwrap();
        let asked = load_counting(&b, &stack, &page, &["#session-refused"], &[&data]).await;
        // boot.js's early fetch, refused (401), and the console's own, as without it.
        assert_eq!(asked, [2], "{data}");
        assert_eq!(address(&b).await, next);
        let stored = b
            .client
            .execute("return sessionStorage.getItem('hanko.token');", vec![])
            .await
            .unwrap();
        assert_eq!(stored, Value::Null, "the refused token is forgotten");
    }
    b.close().await;
    stack.stop().await.unwrap();
}
