//! Session items in DynamoDB: expiry and tampering.
//! Against the local AWS emulator (`aws_adapters::testing`).

use aws_adapters::testing::*;
use aws_sdk_dynamodb::types::AttributeValue;
use shared::ports::SessionStore;

#[tokio::test]
async fn expired_session_refused_while_item_still_present() {
    let (cfg, clients) = fresh("exp").await;
    let store = dynamo_session_store(&cfg, &clients).await;
    let now = now_ms();
    let s = session(&unique("s"), now - 10_000, 5_000);
    store.create(&s).await.unwrap();
    let raw = clients
        .dynamodb
        .get_item()
        .table_name(&cfg.table_name)
        .key("PK", AttributeValue::S(format!("SESSION#{}", s.id)))
        .key("SK", AttributeValue::S("SESSION".into()))
        .send()
        .await
        .unwrap();
    let item = raw.item().expect("item still present (TTL deletes late)");
    assert_eq!(
        item["expiresAt"],
        AttributeValue::N((s.expires_at_ms.div_ceil(1000)).to_string())
    );
    assert!(store.get(&s.id, now).await.unwrap().is_none());
}

#[tokio::test]
async fn tampered_session_item_fails_to_open() {
    let (cfg, clients) = fresh("tamper").await;
    let store = dynamo_session_store(&cfg, &clients).await;
    let now = now_ms();
    let s = session(&unique("s"), now, 60_000);
    store.create(&s).await.unwrap();
    // Extending the lifetime in the table breaks the AAD binding.
    clients
        .dynamodb
        .update_item()
        .table_name(&cfg.table_name)
        .key("PK", AttributeValue::S(format!("SESSION#{}", s.id)))
        .key("SK", AttributeValue::S("SESSION".into()))
        .update_expression("SET expiresAtMs = :e")
        .expression_attribute_values(":e", AttributeValue::N((now + 999_999).to_string()))
        .send()
        .await
        .unwrap();
    assert!(store.get(&s.id, now).await.is_err());
}
