//! The port contracts (`shared::testing::conformance`), run side by side
//! against the in-memory adapters and the DynamoDB ones (local emulator).

use std::sync::Arc;

use aws_adapters::testing::*;
use aws_adapters::{DynamoGuessCounter, DynamoRateLimiter, DynamoReplayGuard};
use shared::adapters::memory::accounts::MemoryAccountStore;
use shared::adapters::memory::{
    MemoryGuessCounter, MemoryRateLimiter, MemoryReplayGuard, MemorySessionStore,
};
use shared::testing::conformance;

#[tokio::test]
async fn conformance_memory_adapters() {
    conformance::session_store(&MemorySessionStore::default()).await;
    conformance::replay_guard(Arc::new(MemoryReplayGuard::default())).await;
    conformance::rate_limiter(Arc::new(MemoryRateLimiter::default())).await;
    conformance::guess_counter(Arc::new(MemoryGuessCounter::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_dynamo_adapters() {
    let (cfg, clients) = fresh("conf").await;
    conformance::session_store(&dynamo_session_store(&cfg, &clients).await).await;
    conformance::replay_guard(Arc::new(DynamoReplayGuard::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
    )))
    .await;
    conformance::rate_limiter(Arc::new(DynamoRateLimiter::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
    )))
    .await;
    conformance::guess_counter(Arc::new(DynamoGuessCounter::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
    )))
    .await;
}

#[tokio::test]
async fn conformance_memory_account_store() {
    conformance::account_store(Arc::new(MemoryAccountStore::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_dynamo_account_store_and_no_token_at_rest() {
    let (cfg, clients) = fresh("acct").await;
    let store = Arc::new(dynamo_account_store(&cfg, &clients).await);
    let secrets = conformance::account_store(store.clone()).await;
    let (items, values) = scan_values(&cfg, &clients).await;
    assert!(items > 20, "{items}");
    for secret in &secrets {
        for enc in encodings(secret.as_bytes()) {
            assert!(
                !values.iter().any(|v| contains(v, &enc)),
                "a raw token, sid or link is stored in clear"
            );
        }
    }
    for v in &values {
        let text = String::from_utf8_lossy(v);
        assert!(!text.contains("token=") && !text.contains("sid="));
    }
}

#[tokio::test]
async fn forgot_request_before_a_password_change_gets_no_link_memory() {
    conformance::accounts::forgot_request_before_a_password_change(Arc::new(
        MemoryAccountStore::default(),
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_request_before_a_password_change_gets_no_link_dynamo() {
    let (cfg, clients) = fresh("stale-forgot").await;
    conformance::accounts::forgot_request_before_a_password_change(Arc::new(
        dynamo_account_store(&cfg, &clients).await,
    ))
    .await;
}

/// The sign-in use case's ports in memory.
fn memory_sign_in() -> conformance::signin::Backend {
    conformance::signin::Backend {
        accounts: Arc::new(MemoryAccountStore::default()),
        guesses: Arc::new(MemoryGuessCounter::default()),
        limiter: Arc::new(MemoryRateLimiter::default()),
    }
}

/// The sign-in use case's ports on a fresh emulator table named after `name`.
async fn dynamo_sign_in(name: &str) -> conformance::signin::Backend {
    let (cfg, clients) = fresh(name).await;
    conformance::signin::Backend {
        accounts: Arc::new(dynamo_account_store(&cfg, &clients).await),
        guesses: Arc::new(DynamoGuessCounter::new(
            clients.dynamodb.clone(),
            &cfg.table_name,
        )),
        limiter: Arc::new(DynamoRateLimiter::new(
            clients.dynamodb.clone(),
            &cfg.table_name,
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_use_case_memory() {
    conformance::signin::sign_in(memory_sign_in()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_use_case_dynamo() {
    conformance::signin::sign_in(dynamo_sign_in("signin").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_sign_in_memory() {
    conformance::signin::imported_sign_in(memory_sign_in()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_sign_in_dynamo() {
    conformance::signin::imported_sign_in(dynamo_sign_in("imported-signin").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breached_sign_in_memory() {
    conformance::signin::breached_sign_in(memory_sign_in()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breached_sign_in_dynamo() {
    conformance::signin::breached_sign_in(dynamo_sign_in("breached-signin").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_admin_memory() {
    conformance::admin::user_admin(memory_sign_in()).await;
    conformance::admin::user_erasure(memory_sign_in()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_admin_dynamo() {
    conformance::admin::user_admin(dynamo_sign_in("admin").await).await;
}

/// After `delete`, a scan of the whole table finds nothing of the user: no
/// id, address, link hash, counter or limit key derived from them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_erasure_dynamo_leaves_no_item() {
    let (cfg, clients) = fresh("erase").await;
    let backend = conformance::signin::Backend {
        accounts: Arc::new(dynamo_account_store(&cfg, &clients).await),
        guesses: Arc::new(DynamoGuessCounter::new(
            clients.dynamodb.clone(),
            &cfg.table_name,
        )),
        limiter: Arc::new(DynamoRateLimiter::new(
            clients.dynamodb.clone(),
            &cfg.table_name,
        )),
    };
    let erased = conformance::admin::user_erasure(backend).await;
    let (items, values) = scan_values(&cfg, &clients).await;
    assert!(items > 0, "the table still holds the secrets and keys");
    let mut traces = vec![
        erased.email.clone(),
        shared::token::token_sha256(&erased.email),
        shared::handlers::verify::unknown_email_guess_key(&erased.email),
    ];
    for biz in &erased.biz_ids {
        traces.push(biz.clone());
        traces.push(shared::handlers::verify::account_guess_key(biz));
    }
    traces.extend(erased.link_sha256.iter().cloned());
    for trace in &traces {
        assert!(
            !values.iter().any(|v| contains(v, trace.as_bytes())),
            "an item of the erased user is left: {trace}"
        );
    }
}
