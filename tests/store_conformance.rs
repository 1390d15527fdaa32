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
use hanko_e2e::Moto;

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
