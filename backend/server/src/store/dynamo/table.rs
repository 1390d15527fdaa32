//! The table's shape: its key and its two indexes, which the queries name, and
//! [`DynamoStore::create_table`], which makes the table as `infra/template.yaml` does.

use std::time::Duration as StdDuration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType,
    SseSpecification, TableStatus, TimeToLiveSpecification,
};

use super::{DynamoStore, build_err, classify};
use crate::store::{StoreError, StoreResult};

/// A key the store queries by: the table's own, or a global secondary index's (both
/// attributes strings; every index projects all attributes).
pub(super) struct Index {
    /// `None` for the table itself.
    pub name: Option<&'static str>,
    pub pk: &'static str,
    pub sk: &'static str,
}

pub(super) const TABLE_KEY: Index = Index {
    name: None,
    pk: "pk",
    sk: "sk",
};

/// Requests by status (`STATUS#<status>` / `<id>`) and closures by time (`CLOSED`).
pub(super) const GSI1: Index = Index {
    name: Some("gsi1"),
    pk: "gsi1pk",
    sk: "gsi1sk",
};

/// Requests by deadline (`EXPIRES`) and by next delivery attempt (`DELIVERY`).
pub(super) const GSI2: Index = Index {
    name: Some("gsi2"),
    pk: "gsi2pk",
    sk: "gsi2sk",
};

/// The attribute DynamoDB's TTL reads: seconds since the epoch.
const TTL: &str = "ttl";

impl DynamoStore {
    /// Creates the table exactly as the SAM template does (keys, both GSIs, on-demand,
    /// encryption with the AWS managed key, TTL on `ttl`, point-in-time recovery) and
    /// waits until it is active.
    pub async fn create_table(client: &Client, table: &str) -> StoreResult<()> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)
        };
        let key = |name: &str, kt: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kt)
                .build()
                .map_err(build_err)
        };
        let gsi = |index: &Index| {
            GlobalSecondaryIndex::builder()
                .set_index_name(index.name.map(str::to_string))
                .key_schema(key(index.pk, KeyType::Hash)?)
                .key_schema(key(index.sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)
        };
        let mut create = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .sse_specification(SseSpecification::builder().enabled(true).build())
            .key_schema(key(TABLE_KEY.pk, KeyType::Hash)?)
            .key_schema(key(TABLE_KEY.sk, KeyType::Range)?)
            .global_secondary_indexes(gsi(&GSI1)?)
            .global_secondary_indexes(gsi(&GSI2)?);
        for index in [TABLE_KEY, GSI1, GSI2] {
            create = create
                .attribute_definitions(attr(index.pk)?)
                .attribute_definitions(attr(index.sk)?);
        }
        create
            .send()
            .await
            .map_err(|e| classify(table, "CreateTable", e))?;
        for i in 0..120u32 {
            let d = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| classify(table, "DescribeTable", e))?;
            if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                break;
            }
            if i == 119 {
                return Err(StoreError::backend(format!(
                    "table {table} did not become active"
                )));
            }
            tokio::time::sleep(StdDuration::from_millis(500)).await;
        }
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify(table, "UpdateTimeToLive", e))?;
        client
            .update_continuous_backups()
            .table_name(table)
            .point_in_time_recovery_specification(
                PointInTimeRecoverySpecification::builder()
                    .point_in_time_recovery_enabled(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(|e| classify(table, "UpdateContinuousBackups", e))?;
        Ok(())
    }
}
