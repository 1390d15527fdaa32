//! The store conformance suite (the same checks the SQLite store passes in
//! `backend/server`) against the DynamoDB store on a real moto server: a fresh moto and
//! a fresh table for every test. Plus the table's own shape, which must be the one
//! `infra/template.yaml` creates.
//!
//! The suite runs on a moto whose DynamoDB answers one request at a time
//! ([`Moto::start_serial_dynamodb`]): moto's threaded DynamoDB does not isolate concurrent
//! transactions, DynamoDB does (serializably). The launcher of that moto is tested here too.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    PointInTimeRecoveryStatus, ProjectionType, Put, PutRequest, ReturnValue, ScalarAttributeType,
    TableStatus, TimeToLiveStatus, TransactWriteItem, Update, WriteRequest,
};
use hanko::store::dynamo::DynamoStore;
use hanko_e2e::{Moto, request_item};

const TABLE: &str = "hanko-conformance";

async fn fresh() -> (Moto, DynamoStore) {
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&client, TABLE)
        .await
        .expect("the table");
    (moto, DynamoStore::new(client, TABLE, 400))
}

hanko::store_conformance_tests!(fresh());

/// The suite's race, ten times over (a table each): one run of five racers tries few of
/// the ways their requests can interleave.
#[tokio::test]
async fn racing_deciders_on_one_version_have_one_winner_ten_times_over() {
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    for round in 0..10 {
        let table = format!("{TABLE}-{round}");
        DynamoStore::create_table(&client, &table).await.unwrap();
        let store = DynamoStore::new(client.clone(), table, 400);
        hanko::store::conformance::racing_deciders_on_one_version_have_one_winner(&store).await;
    }
}

/// A table keyed by `pk` holding the item `counter` with `attrs`, and `padding` other items.
async fn counter_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    attrs: HashMap<String, AttributeValue>,
    padding: usize,
) {
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(table)
        .set_item(Some(
            attrs
                .into_iter()
                .chain([("pk".to_string(), AttributeValue::S("counter".into()))])
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    let pad: Vec<WriteRequest> = (0..padding)
        .map(|i| {
            let item = PutRequest::builder()
                .item("pk", AttributeValue::S(format!("padding#{i}")))
                .item("blob", AttributeValue::S("x".repeat(100)))
                .build()
                .unwrap();
            WriteRequest::builder().put_request(item).build()
        })
        .collect();
    for batch in pad.chunks(25) {
        client
            .batch_write_item()
            .request_items(table, batch.to_vec())
            .send()
            .await
            .unwrap();
    }
}

fn counter_key() -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_string(), AttributeValue::S("counter".into()))])
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item[name].as_n().unwrap().parse().unwrap()
}

/// The serial emulator's own test: every test of DynamoDB's isolation rests on it. Plain
/// moto is not used for any such test because it fails this one (it can lose or
/// double-apply writes under concurrency: a cancelled transaction restores the copy of the
/// table it took when it began, erasing the transactions that committed meanwhile; five
/// runs of this test on plain moto 5.2.5 all ended with fewer versions than successes).
/// The padding makes that copy slow, which widens the window on an emulator without the
/// lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_conditional_transactions_on_the_serial_emulator_count_exactly_their_successes()
{
    const TABLE: &str = "counter";
    // Each task reads and writes this many times: more transactions overlap.
    const ATTEMPTS: usize = 4;
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    counter_table(
        &client,
        TABLE,
        HashMap::from([("version".into(), n(0))]),
        300,
    )
    .await;
    let tasks: Vec<_> = (0..64)
        .map(|task| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut won = 0;
                for _ in 0..ATTEMPTS {
                    let read = client
                        .get_item()
                        .table_name(TABLE)
                        .set_key(Some(counter_key()))
                        .consistent_read(true)
                        .send()
                        .await
                        .unwrap();
                    let expected = number(read.item().unwrap(), "version");
                    let bump = Update::builder()
                        .table_name(TABLE)
                        .set_key(Some(counter_key()))
                        .update_expression("SET version = :next")
                        .condition_expression("version = :expected")
                        .expression_attribute_values(":next", n(expected + 1))
                        .expression_attribute_values(":expected", n(expected))
                        .build()
                        .unwrap();
                    // One item per version, written in the same transaction.
                    let record = Put::builder()
                        .table_name(TABLE)
                        .item("pk", AttributeValue::S(format!("version#{}", expected + 1)))
                        .item("task", n(task))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap();
                    let written = client
                        .transact_write_items()
                        .transact_items(TransactWriteItem::builder().update(bump).build())
                        .transact_items(TransactWriteItem::builder().put(record).build())
                        .send()
                        .await;
                    won += match written.map_err(|e| e.into_service_error()) {
                        Ok(_) => 1,
                        Err(TransactWriteItemsError::TransactionCanceledException(c))
                            if c.cancellation_reasons()
                                .iter()
                                .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                        {
                            0
                        }
                        Err(e) => panic!("task {task}: {e:?}"),
                    };
                }
                won
            })
        })
        .collect();
    let mut successes = 0;
    for t in tasks {
        successes += t.await.unwrap();
    }
    let items = client
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let counter = items
        .iter()
        .find(|i| i["pk"].as_s().unwrap() == "counter")
        .unwrap();
    let mut versions: Vec<u64> = items
        .iter()
        .filter_map(|i| i["pk"].as_s().unwrap().strip_prefix("version#"))
        .map(|v| v.parse().unwrap())
        .collect();
    versions.sort();
    assert!(successes >= 1);
    assert_eq!(number(counter, "version"), successes);
    assert_eq!(
        versions,
        (1..=successes).collect::<Vec<_>>(),
        "each success wrote its version's item, and nothing else did"
    );
}

/// The old item UpdateItem returns (ReturnValues ALL_OLD, which Hanko's delivery claim
/// reads) is the one the update replaced. moto reads it in a call of its own before the
/// write, so a lock around the backend's operations alone does not do (the launcher locks
/// whole requests): with the backend's lock only, three runs of this test each saw two
/// updates return the same old value. The large item makes moto's copy of it slow, which
/// widens that window.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_on_the_serial_emulator_each_return_the_item_they_replaced() {
    const TABLE: &str = "counter";
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    let large = AttributeValue::L(vec![AttributeValue::S("x".repeat(10)); 1000]);
    counter_table(
        &client,
        TABLE,
        HashMap::from([("n".into(), n(0)), ("large".into(), large)]),
        0,
    )
    .await;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                let old = client
                    .update_item()
                    .table_name(TABLE)
                    .set_key(Some(counter_key()))
                    .update_expression("SET n = n + :one")
                    .expression_attribute_values(":one", n(1))
                    .return_values(ReturnValue::AllOld)
                    .send()
                    .await
                    .unwrap();
                number(old.attributes().unwrap(), "n")
            })
        })
        .collect();
    let mut olds = Vec::new();
    for t in tasks {
        olds.push(t.await.unwrap());
    }
    olds.sort();
    assert_eq!(olds, (0..64).collect::<Vec<_>>());
    let after = client
        .get_item()
        .table_name(TABLE)
        .set_key(Some(counter_key()))
        .consistent_read(true)
        .send()
        .await
        .unwrap();
    assert_eq!(number(after.item().unwrap(), "n"), 64);
}

#[tokio::test]
async fn the_table_has_the_keys_indexes_ttl_and_billing_of_the_template() {
    let moto = Moto::start().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&client, "hanko").await.unwrap();
    let d = client
        .describe_table()
        .table_name("hanko")
        .send()
        .await
        .unwrap();
    let t = d.table().unwrap();
    assert_eq!(t.table_status(), Some(&TableStatus::Active));
    let keys = |ks: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        ks.iter()
            .map(|k| (k.attribute_name().to_string(), k.key_type().clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        keys(t.key_schema()),
        vec![("pk".into(), KeyType::Hash), ("sk".into(), KeyType::Range)]
    );
    let mut indexes: Vec<_> = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            (
                g.index_name().unwrap().to_string(),
                keys(g.key_schema()),
                g.projection().and_then(|p| p.projection_type()).cloned(),
            )
        })
        .collect();
    indexes.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        indexes,
        vec![
            (
                "gsi1".to_string(),
                vec![
                    ("gsi1pk".into(), KeyType::Hash),
                    ("gsi1sk".into(), KeyType::Range)
                ],
                Some(ProjectionType::All)
            ),
            (
                "gsi2".to_string(),
                vec![
                    ("gsi2pk".into(), KeyType::Hash),
                    ("gsi2sk".into(), KeyType::Range)
                ],
                Some(ProjectionType::All)
            ),
        ]
    );
    let mut attrs: Vec<_> = t
        .attribute_definitions()
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_string(),
                a.attribute_type().as_str().to_string(),
            )
        })
        .collect();
    attrs.sort();
    assert_eq!(
        attrs,
        ["gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "pk", "sk"]
            .map(|n| (n.to_string(), "S".to_string()))
            .to_vec()
    );
    assert_eq!(
        t.billing_mode_summary().and_then(|b| b.billing_mode()),
        Some(&BillingMode::PayPerRequest)
    );
    assert_eq!(
        t.sse_description().and_then(|d| d.status()),
        Some(&aws_sdk_dynamodb::types::SseStatus::Enabled)
    );
    let ttl = client
        .describe_time_to_live()
        .table_name("hanko")
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description().unwrap();
    assert_eq!(ttl.attribute_name(), Some("ttl"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
    let backups = client
        .describe_continuous_backups()
        .table_name("hanko")
        .send()
        .await
        .unwrap();
    assert_eq!(
        backups
            .continuous_backups_description()
            .and_then(|c| c.point_in_time_recovery_description())
            .and_then(|p| p.point_in_time_recovery_status()),
        Some(&PointInTimeRecoveryStatus::Enabled)
    );
}

#[tokio::test]
async fn a_missing_table_is_an_error_that_names_it_not_a_panic() {
    use hanko::store::Store;
    let moto = Moto::start().await.expect("moto");
    let store = DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&moto.sdk),
        "no-such-table",
        400,
    );
    let e = store
        .get(&"0190e4b2-7c1e-7000-8000-000000000001".parse().unwrap())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no-such-table"), "{e}");
    assert!(e.to_string().contains("HANKO_TABLE"), "{e}");
}

/// Every item of the table, for checks of what the store wrote (tests only: the store
/// itself never scans).
async fn all_items(
    client: &aws_sdk_dynamodb::Client,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    client
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default()
}

fn sample(approvers: &[&str]) -> hanko::domain::NewRequest {
    let now = chrono::Utc::now();
    hanko::domain::NewRequest {
        title: "Deploy".into(),
        description: None,
        details: serde_json::Value::Null,
        approvers: approvers.iter().map(|s| s.parse().unwrap()).collect(),
        required_approvals: 1,
        allow_self_approval: false,
        requested_by: Some("bob@example.com".parse().unwrap()),
        on_reject: hanko::domain::OnReject::Fail,
        execution_arn: "arn:aws:states:ap-northeast-1:1:execution:m:e".into(),
        execution_name: "e".into(),
        state_machine_arn: "arn:aws:states:ap-northeast-1:1:stateMachine:m".into(),
        state_machine_name: "m".into(),
        state_name: None,
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
        policy: None,
        sender: None,
        notify: Vec::new(),
        remind_before_seconds: Vec::new(),
        escalation: None,
    }
}

#[tokio::test]
async fn the_task_token_is_kept_on_one_item_outside_every_index() {
    use hanko::store::Store;
    let (moto, store) = fresh().await;
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    let token = "AQCEAAAAKgAAAAMAAAAAAAAAAfake-secret-task-token";
    store
        .insert(
            &"0190e4b2-7c1e-7000-8000-000000000001".parse().unwrap(),
            &hanko::domain::TaskToken::parse(token).unwrap(),
            &sample(&["a@x.io", "group:ops"]),
        )
        .await
        .unwrap();
    let items = all_items(&client).await;
    let holding: Vec<_> = items
        .iter()
        .filter(|i| format!("{i:?}").contains(token))
        .collect();
    assert_eq!(holding.len(), 1, "{items:?}");
    let item = holding[0];
    assert!(item["pk"].as_s().unwrap().starts_with("TOKEN#"));
    assert!(
        !item["pk"].as_s().unwrap().contains(token),
        "keyed by its hash"
    );
    assert!(
        item.keys().all(|k| !k.starts_with("gsi")),
        "not projected into an index"
    );
    let pks: std::collections::BTreeSet<String> = items
        .iter()
        .map(|i| {
            i["pk"]
                .as_s()
                .unwrap()
                .split('#')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        pks.into_iter().collect::<Vec<_>>(),
        vec!["APPROVER", "REQ", "TOKEN", "VIEWER"]
    );
}

#[tokio::test]
async fn viewer_items_name_the_approvers_and_the_requester_for_as_long_as_the_request_is_kept() {
    use hanko::store::Store;
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&client, TABLE).await.unwrap();
    let store = DynamoStore::new(client.clone(), TABLE, 30);
    let (one, two) = (
        "0190e4b2-7c1e-7000-8000-000000000003",
        "0190e4b2-7c1e-7000-8000-000000000004",
    );
    let req = sample(&["a@x.io", "group:ops"]);
    let token = |t: &str| hanko::domain::TaskToken::parse(t).unwrap();
    store
        .insert(&one.parse().unwrap(), &token("token-3"), &req)
        .await
        .unwrap();
    // A requester who also approves: one viewer item.
    let mut own = sample(&["bob@example.com"]);
    own.allow_self_approval = true;
    store
        .insert(&two.parse().unwrap(), &token("token-4"), &own)
        .await
        .unwrap();
    let mut viewers: Vec<(String, String, i64)> = all_items(&client)
        .await
        .into_iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("VIEWER#"))
        .map(|i| {
            (
                i["pk"].as_s().unwrap().clone(),
                i["sk"].as_s().unwrap().clone(),
                i["ttl"].as_n().unwrap().parse().unwrap(),
            )
        })
        .collect();
    viewers.sort();
    let kept = |r: &hanko::domain::NewRequest| {
        (r.expires_at.timestamp_millis() + chrono::Duration::days(30).num_milliseconds())
            .div_euclid(1000)
    };
    let item = |p: &str, id: &str, r| (format!("VIEWER#{p}"), id.to_string(), kept(r));
    assert_eq!(
        viewers,
        vec![
            item("a@x.io", one, &req),
            item("bob@example.com", one, &req),
            item("bob@example.com", two, &own),
            item("group:ops", one, &req),
        ]
    );
}

#[tokio::test]
async fn a_closed_record_expires_the_retention_period_after_closing_and_a_pending_one_never() {
    use hanko::store::Store;
    let moto = Moto::start_serial_dynamodb().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&client, TABLE).await.unwrap();
    let store = DynamoStore::new(client.clone(), TABLE, 30);
    let id = "0190e4b2-7c1e-7000-8000-000000000002";
    store
        .insert(
            &id.parse().unwrap(),
            &hanko::domain::TaskToken::parse("token-2").unwrap(),
            &sample(&["a@x.io"]),
        )
        .await
        .unwrap();
    let request_item = || async { request_item(&client, TABLE, id).await.unwrap() };
    assert!(!request_item().await.contains_key("ttl"));
    let before = chrono::Utc::now();
    assert!(
        store
            .close_pending(
                &id.parse().unwrap(),
                hanko_api::RequestStatus::Expired,
                "deadline",
                None
            )
            .await
            .unwrap()
    );
    let ttl: i64 = request_item().await["ttl"].as_n().unwrap().parse().unwrap();
    let expected = (before + chrono::Duration::days(30)).timestamp();
    assert!(
        (expected..=expected + 5).contains(&ttl),
        "ttl {ttl}, expected about {expected}"
    );
    let closure = all_items(&client)
        .await
        .into_iter()
        .find(|i| i["sk"].as_s().unwrap() == "CLOSED")
        .expect("the closure item");
    assert_eq!(closure["ttl"], request_item().await["ttl"]);
}
