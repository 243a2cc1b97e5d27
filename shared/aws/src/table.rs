//! Single-table layout shared by every adapter (see `docs/data-model.md`).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;
use shared::ports::PortResult;

use crate::error::{corrupt, unavailable};

/// Partition key (string).
pub const PK: &str = "PK";
/// Sort key (string).
pub const SK: &str = "SK";
/// TTL attribute: epoch seconds; DynamoDB deletes expired items late, so
/// every read also checks `expiresAtMs` in code.
pub const TTL_ATTR: &str = "expiresAt";
/// Exact expiry in epoch milliseconds, the one the code checks.
pub const EXPIRES_MS: &str = "expiresAtMs";
/// Item type tag.
pub const TYPE: &str = "type";

/// TTL seconds for an expiry in milliseconds (rounded up, never early).
pub fn ttl_secs(expires_at_ms: u64) -> u64 {
    expires_at_ms.div_ceil(1000)
}

pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn get_s<'a>(
    item: &'a std::collections::HashMap<String, AttributeValue>,
    name: &str,
) -> PortResult<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(corrupt("item attribute missing or not a string")),
    }
}

pub(crate) fn get_n(
    item: &std::collections::HashMap<String, AttributeValue>,
    name: &str,
) -> PortResult<u64> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map_err(|_| corrupt("item attribute is not an unsigned integer")),
        _ => Err(corrupt("item attribute missing or not a number")),
    }
}

pub(crate) fn get_b<'a>(
    item: &'a std::collections::HashMap<String, AttributeValue>,
    name: &str,
) -> PortResult<&'a [u8]> {
    match item.get(name) {
        Some(AttributeValue::B(v)) => Ok(v.as_ref()),
        _ => Err(corrupt("item attribute missing or not binary")),
    }
}

/// The table stream carries keys only, as in template.yaml: its consumer
/// (`send-mail`) reads each item itself, so no image (hashes, addresses,
/// sealed keys) is ever copied to the stream.
pub const STREAM_VIEW_TYPE: StreamViewType = StreamViewType::KeysOnly;

/// Creates the table if missing (on-demand, `PK`/`SK` strings, stream
/// [`STREAM_VIEW_TYPE`]) and enables TTL on `expiresAt`. Idempotent.
pub async fn ensure_table(client: &Client, table: &str) -> PortResult<()> {
    let exists = match client.describe_table().table_name(table).send().await {
        Ok(_) => true,
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            false
        }
        Err(e) => return Err(unavailable("dynamodb DescribeTable", e)),
    };
    if !exists {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition")
        };
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("key schema")
        };
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr(PK))
            .attribute_definitions(attr(SK))
            .key_schema(key(PK, KeyType::Hash))
            .key_schema(key(SK, KeyType::Range))
            .stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(STREAM_VIEW_TYPE)
                    .build()
                    .expect("stream specification"),
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) => {}
            Err(e) => return Err(unavailable("dynamodb CreateTable", e)),
        }
        wait_active(client, table).await?;
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(table)
        .send()
        .await
        .map_err(|e| unavailable("dynamodb DescribeTimeToLive", e))?;
    let enabled = ttl
        .time_to_live_description()
        .and_then(|d| d.attribute_name())
        .is_some_and(|a| a == TTL_ATTR);
    if !enabled {
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTR)
                    .build()
                    .expect("ttl specification"),
            )
            .send()
            .await
            .map_err(|e| unavailable("dynamodb UpdateTimeToLive", e))?;
    }
    Ok(())
}

async fn wait_active(client: &Client, table: &str) -> PortResult<()> {
    use aws_sdk_dynamodb::types::TableStatus;
    for _ in 0..60 {
        let out = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| unavailable("dynamodb DescribeTable", e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    Err(corrupt("table did not become ACTIVE within 30 s"))
}
