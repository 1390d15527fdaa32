//! The console with the keyboard alone: from the login page to a recorded approval with
//! Tab, Shift+Tab, Enter, Space and Escape only, each stop showing where the focus is.

use fantoccini::key::Key;
use hanko_e2e::browser::Browser;
use hanko_e2e::{Stack, example_input};
use serde_json::json;

/// Panics unless the keyboard focus is on `css`.
async fn assert_focus(b: &Browser, css: &str, when: &str) {
    assert!(
        b.focus_is(css).await,
        "{when}: the focus should be on {css}, it is on {}",
        b.focused().await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approver_logs_in_opens_a_request_and_approves_it_with_the_keyboard_alone() {
    let stack = Stack::start_with(true).await.expect("stack");
    let input = example_input("Deploy shop-api v1.4.3", json!(["alice@example.com"]), 1);
    let exec = stack.start_execution("keyboard", input).await.unwrap();
    let alice = stack
        .login("alice@example.com", "alice-approves")
        .await
        .unwrap();
    let id = stack.wait_for_request("keyboard", &alice).await.unwrap();

    let b = Browser::start().await;
    b.client.goto(&stack.base).await.unwrap();
    b.wait_for("#login-form").await;
    assert_focus(&b, "#login-email", "the login page").await;
    b.type_text("alice@example.com").await;
    b.press(Key::Tab).await;
    assert_focus(&b, "#login-password", "Tab from the email").await;
    b.type_text("alice-approves").await;
    b.press(Key::Enter).await;

    // The inbox: Tab through the page to the request, and open it.
    let link = format!("li[data-id='{id}'] a.request-title");
    b.wait_for(&link).await;
    // The form that had the focus is gone: the focus goes to the new page's content.
    assert_focus(&b, "#main", "logged in").await;
    b.tab_to(&link, false, 15).await;
    b.press(Key::Enter).await;
    b.wait_for("#request-title").await;
    assert_focus(&b, "#main", "the request opened").await;

    // A comment, then the buttons: Reject comes before Approve.
    b.tab_to("#decision-comment", false, 25).await;
    b.type_text("Checked with the keyboard").await;
    b.tab_to("#approve-button", false, 3).await;
    b.press_with(Some(Key::Shift), Key::Tab).await;
    assert_focus(&b, "#reject-button", "Shift+Tab from Approve").await;
    b.press(Key::Tab).await;
    assert_focus(&b, "#approve-button", "Tab from Reject").await;

    // Space opens the confirmation on its safe choice; Escape backs out to the button.
    b.press(Key::Space).await;
    b.wait_for("#confirm-dialog[open]").await;
    assert_focus(&b, "#confirm-cancel", "the confirmation opens").await;
    b.press(Key::Escape).await;
    b.wait_for("#confirm-dialog:not([open])").await;
    assert_focus(&b, "#approve-button", "Escape closes the confirmation").await;

    // Enter opens it again; Tab to "Yes, approve" and Enter.
    b.press(Key::Enter).await;
    b.wait_for("#confirm-dialog[open]").await;
    b.tab_to("#confirm-decision", false, 2).await;
    b.press(Key::Enter).await;
    b.wait_for("#decision-result[data-outcome='approved']")
        .await;
    b.wait_for("#vote-recorded").await;
    assert_focus(&b, "#vote-recorded", "the vote is recorded").await;

    let (_, r) = stack
        .get(&format!("/api/approvals/{id}"), &alice)
        .await
        .unwrap();
    assert_eq!(r["status"], "approved", "{r}");
    assert_eq!(r["votes"][0]["approver"], "alice@example.com", "{r}");
    assert_eq!(r["votes"][0]["comment"], "Checked with the keyboard", "{r}");
    stack.wait_for_end(&exec).await.unwrap();

    // Back up the page to "Log out": the login page is ready for the next person to type.
    b.tab_to("#logout", true, 30).await;
    b.press(Key::Enter).await;
    b.wait_for("#login-form").await;
    assert_focus(&b, "#login-email", "logged out").await;
    b.close().await;
    stack.stop().await.unwrap();
}
