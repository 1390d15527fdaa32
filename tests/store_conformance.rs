//! The store conformance suite (the same checks the SQLite store passes in
//! `backend/server`) against the DynamoDB store on a real moto server: a fresh moto and
//! a fresh table for every test. Plus the table's own shape, which must be the one
//! `infra/template.yaml` creates.
//!
//! moto answers one request at a time here ([`Moto::start_serial`]): its threaded server
//! does not isolate concurrent transactions, DynamoDB does (serializably).

use aws_sdk_dynamodb::types::{
    BillingMode, KeyType, PointInTimeRecoveryStatus, ProjectionType, TableStatus, TimeToLiveStatus,
};
use hanko::store::dynamo::DynamoStore;
use hanko_e2e::{Moto, request_item};

const TABLE: &str = "hanko-conformance";

async fn fresh() -> (Moto, DynamoStore) {
    let moto = Moto::start_serial().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&client, TABLE)
        .await
        .expect("the table");
    (moto, DynamoStore::new(client, TABLE, 400))
}

hanko::store_conformance_tests!(fresh());

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
        .get("0190e4b2-7c1e-7000-8000-000000000001")
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
        approvers: approvers.iter().map(|s| s.to_string()).collect(),
        required_approvals: 1,
        allow_self_approval: false,
        requested_by: Some("bob@example.com".into()),
        on_reject: hanko::domain::OnReject::Fail,
        execution_arn: "arn:aws:states:ap-northeast-1:1:execution:m:e".into(),
        execution_name: "e".into(),
        state_machine_arn: "arn:aws:states:ap-northeast-1:1:stateMachine:m".into(),
        state_machine_name: "m".into(),
        state_name: None,
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
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
            "0190e4b2-7c1e-7000-8000-000000000001",
            token,
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
        vec!["APPROVER", "REQ", "TOKEN"]
    );
}

#[tokio::test]
async fn a_closed_record_expires_the_retention_period_after_closing_and_a_pending_one_never() {
    use hanko::store::Store;
    let moto = Moto::start_serial().await.expect("moto");
    let client = aws_sdk_dynamodb::Client::new(&moto.sdk);
    DynamoStore::create_table(&client, TABLE).await.unwrap();
    let store = DynamoStore::new(client.clone(), TABLE, 30);
    let id = "0190e4b2-7c1e-7000-8000-000000000002";
    store
        .insert(id, "token-2", &sample(&["a@x.io"]))
        .await
        .unwrap();
    let request_item = || async { request_item(&client, TABLE, id).await.unwrap() };
    assert!(!request_item().await.contains_key("ttl"));
    let before = chrono::Utc::now();
    assert!(
        store
            .close_pending(id, hanko_api::RequestStatus::Expired, "deadline", None)
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
