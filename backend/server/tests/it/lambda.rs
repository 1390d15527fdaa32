//! Lambda events from JSON fixtures, through the same Router and intake as `hanko serve`.

use crate::common;

use axum::http::StatusCode;
use common::{assert_error, test_app};
use hanko::store::Callback;
use serde_json::Value;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

async fn via_lambda(t: &common::TestApp, name: &str) -> common::Resp {
    let req = lambda_http::request::from_str(&fixture(name)).expect("a valid Lambda HTTP event");
    let (parts, body) = req.into_parts();
    let body = axum::body::Body::from(body.to_vec());
    t.send(axum::http::Request::from_parts(parts, body)).await
}

#[tokio::test]
async fn a_function_url_event_reaches_the_same_router() {
    let t = test_app();
    let r = via_lambda(&t, "apigw-v2-health.json").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"], "ok");
}

#[tokio::test]
async fn a_function_url_decision_without_a_token_is_401() {
    let t = test_app();
    let r = via_lambda(&t, "apigw-v2-decision-no-token.json").await;
    assert_error(&r, StatusCode::UNAUTHORIZED, "unauthorized");
}

#[tokio::test]
async fn a_direct_invoke_stores_the_request_once() {
    let t = test_app();
    let event: Value = serde_json::from_str(&fixture("invoke-intake.json")).unwrap();
    let first = hanko::intake::handle_invoke(&t.hanko, event.clone())
        .await
        .unwrap();
    assert_eq!(first["status"], "created");
    let again = hanko::intake::handle_invoke(&t.hanko, event).await.unwrap();
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["requestId"], first["requestId"]);
    let alice = t.login("alice@example.com").await;
    let id = first["requestId"].as_str().unwrap();
    let r = t
        .call("GET", &format!("/api/approvals/{id}"), Some(&alice), None)
        .await;
    assert_eq!(r.body["title"], "経費精算: 出張旅費 48,200円");
    assert_eq!(r.body["stateName"], "ManagerApproval");
}

#[tokio::test]
async fn an_sqs_batch_with_one_invalid_message_reports_no_retries_and_fails_that_task() {
    let t = test_app();
    let event: aws_lambda_events::sqs::SqsEvent =
        serde_json::from_str(&fixture("sqs-batch.json")).unwrap();
    let resp = hanko::intake::handle_sqs_batch(&t.hanko, event).await;
    assert!(resp.batch_item_failures.is_empty());
    let sent = t.callbacks();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "sqs-fixture-token-2");
    assert!(
        matches!(&sent[0].1, Callback::Failure { error, .. } if error == "Hanko.InvalidRequest")
    );
    let alice = t.login("alice@example.com").await;
    let r = t
        .call("GET", "/api/approvals?mine=true", Some(&alice), None)
        .await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}
