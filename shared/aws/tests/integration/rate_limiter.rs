//! The DynamoDB limiter's round trips, counted on the emulator: one
//! conditional update per allowed request, whether its bucket is idle or
//! busy, and none for a request this instance already knows is over the
//! limit. A second instance over the same table, with nothing remembered,
//! still never admits more than the limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aws_adapters::testing::*;
use aws_adapters::DynamoRateLimiter;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use shared::ports::{Limit, RateDecision, RateLimiter};

/// Counts the calls a DynamoDB client sends.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "Calls"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// One hit: its decision and how many calls it sent.
async fn hit(
    limiter: &DynamoRateLimiter,
    calls: &Calls,
    key: &str,
    now: u64,
) -> (RateDecision, usize) {
    // 3 per minute: a burst of 3, then one every 20 s.
    let limit = Limit {
        max: 3,
        window_secs: 60,
    };
    let before = calls.0.load(Ordering::SeqCst);
    let decision = limiter.hit("login", key, limit, now).await.unwrap();
    (decision, calls.0.load(Ordering::SeqCst) - before)
}

const ALLOWED: RateDecision = RateDecision::Allowed;

fn limited(retry_after_secs: u64) -> RateDecision {
    RateDecision::Limited { retry_after_secs }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_round_trips_per_request() {
    let (cfg, clients) = fresh("rate").await;
    let calls = Calls::default();
    let counted = aws_sdk_dynamodb::Client::from_conf(
        clients
            .dynamodb
            .config()
            .to_builder()
            .interceptor(calls.clone())
            .build(),
    );
    let a = DynamoRateLimiter::new(counted.clone(), &cfg.table_name);
    let b = DynamoRateLimiter::new(counted, &cfg.table_name);
    let key = unique("ip");
    let now = now_ms();

    // Idle, then busy: one update each; the full bucket costs no call.
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(hit(&a, &calls, &key, now).await);
    }
    assert_eq!(
        seen,
        [
            (ALLOWED, 1),
            (ALLOWED, 1),
            (ALLOWED, 1),
            (limited(20), 0),
            (limited(20), 0)
        ]
    );

    // Another instance learns the bucket from the table's answer once.
    assert_eq!(hit(&b, &calls, &key, now).await, (limited(20), 1));
    assert_eq!(hit(&b, &calls, &key, now).await, (limited(20), 0));
    // One period later one request fits, taken by b in one call...
    assert_eq!(hit(&b, &calls, &key, now + 20_000).await, (ALLOWED, 1));
    // ...and a, whose memory is now behind the table, is refused by the
    // table's condition, not admitted on what it remembered.
    assert_eq!(hit(&a, &calls, &key, now + 20_000).await, (limited(20), 1));
    assert_eq!(hit(&a, &calls, &key, now + 20_000).await, (limited(20), 0));
    // A whole window later the bucket is full again for both.
    assert_eq!(hit(&a, &calls, &key, now + 100_000).await, (ALLOWED, 1));
}
