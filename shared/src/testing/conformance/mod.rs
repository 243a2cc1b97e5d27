//! The port contracts, written once and run against every adapter (the
//! in-memory ones here, the DynamoDB ones from `aws-adapters`' tests). Each
//! works under random ids, so it may share a store with other tests.

pub mod accounts;
pub mod admin;
pub mod signin;

use std::sync::Arc;

use crate::channel::SessionKey;
use crate::ports::{
    Attempt, GuessCounter, Limit, Lockout, RateDecision, RateLimiter, ReplayGuard, ScSession,
    SessionStore, GUESS_COUNTER_TTL_MS,
};

pub use accounts::account_store;

/// A random id with a readable tag.
pub fn unique(tag: &str) -> String {
    let mut r = [0u8; 6];
    aws_lc_rs::rand::fill(&mut r).expect("system random");
    let hex: String = r.iter().map(|x| format!("{x:02x}")).collect();
    format!("{tag}-{}-{hex}", std::process::id())
}

/// The system clock, Unix ms.
pub fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("ms fit in u64")
}

/// 32 random bytes (a session key).
pub fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).expect("system random");
    key
}

/// A session with a random key, created at `now`, living `ttl_ms`.
pub fn session(id: &str, now: u64, ttl_ms: u64) -> ScSession {
    ScSession {
        id: id.to_owned(),
        key: SessionKey::from_bytes(random_key()),
        client_hash: "client-hash-1".into(),
        created_at_ms: now,
        expires_at_ms: now + ttl_ms,
    }
}

/// The `SessionStore` contract.
pub async fn session_store(store: &dyn SessionStore) {
    let now = now_ms();
    let s1 = session(&unique("s"), now, 3_600_000);
    store.create(&s1).await.unwrap();
    let got = store.get(&s1.id, now + 1).await.unwrap().expect("stored");
    assert_eq!(got.id, s1.id);
    assert_eq!(got.key.expose_bytes(), s1.key.expose_bytes());
    assert_eq!(got.client_hash, s1.client_hash);
    assert_eq!(got.created_at_ms, s1.created_at_ms);
    assert_eq!(got.expires_at_ms, s1.expires_at_ms);

    // Ids are random: a duplicate is refused, the original kept.
    let dup = session(&s1.id, now, 7_200_000);
    assert!(store.create(&dup).await.is_err());
    let again = store.get(&s1.id, now + 2).await.unwrap().unwrap();
    assert_eq!(again.key.expose_bytes(), s1.key.expose_bytes());

    // Expiry is decided by the adapter at `now`, not by a sweeper.
    let s2 = session(&unique("s"), now, 1_000);
    store.create(&s2).await.unwrap();
    assert!(store.get(&s2.id, now + 999).await.unwrap().is_some());
    assert!(store.get(&s2.id, now + 1_000).await.unwrap().is_none());
    assert!(store.get(&unique("none"), now).await.unwrap().is_none());
}

/// The `ReplayGuard` contract: exactly one first use of a (session, nonce) pair.
pub async fn replay_guard(guard: Arc<dyn ReplayGuard>) {
    let now = now_ms();
    let sid = unique("sid");
    let mut nonce = [0u8; 12];
    aws_lc_rs::rand::fill(&mut nonce).unwrap();
    let keep = now + 60_000;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (g, sid) = (guard.clone(), sid.clone());
        tasks.spawn(async move { g.first_use(&sid, &nonce, keep, now).await.unwrap() });
    }
    let mut firsts = 0;
    while let Some(r) = tasks.join_next().await {
        firsts += usize::from(r.unwrap());
    }
    assert_eq!(firsts, 1, "exactly one of 20 concurrent first uses wins");
    assert!(!guard
        .first_use(&sid, &nonce, keep, now + 59_999)
        .await
        .unwrap());
    // Another nonce or another session is independent.
    let mut other = nonce;
    other[0] ^= 1;
    assert!(guard.first_use(&sid, &other, keep, now).await.unwrap());
    assert!(guard
        .first_use(&unique("sid"), &nonce, keep, now)
        .await
        .unwrap());
    // Once the record has expired the pair may be recorded again.
    assert!(guard
        .first_use(&sid, &nonce, keep + 60_000, keep)
        .await
        .unwrap());
}

async fn hits(
    limiter: &dyn RateLimiter,
    key: &str,
    limit: Limit,
    at: u64,
    n: usize,
) -> Vec<RateDecision> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(limiter.hit("login", key, limit, at).await.unwrap());
    }
    out
}

fn limited(retry_after_secs: u64) -> RateDecision {
    RateDecision::Limited { retry_after_secs }
}

/// The `RateLimiter` contract: a token bucket, no double burst at a window edge.
pub async fn rate_limiter(limiter: Arc<dyn RateLimiter>) {
    // 5 per 60 s: a burst of 5, then one request every 12 s.
    let limit = Limit {
        max: 5,
        window_secs: 60,
    };
    let now = now_ms();
    let key = unique("ip");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (l, key) = (limiter.clone(), key.clone());
        tasks.spawn(async move { l.hit("login", &key, limit, now).await.unwrap() });
    }
    let (mut allowed, mut refused) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            RateDecision::Allowed => allowed += 1,
            RateDecision::Limited { retry_after_secs } => {
                // The next request fits one period after the burst.
                assert_eq!(retry_after_secs, 12);
                refused += 1;
            }
        }
    }
    assert_eq!((allowed, refused), (5, 45));
    // Refused requests cost nothing: one request fits exactly 12 s later, not before.
    assert_eq!(
        hits(&*limiter, &key, limit, now + 11_001, 1).await,
        [limited(1)]
    );
    assert_eq!(
        hits(&*limiter, &key, limit, now + 12_000, 2).await,
        [RateDecision::Allowed, limited(12)]
    );
    // Other key, other bucket start full; a whole window later the key is full again.
    assert_eq!(
        hits(&*limiter, &unique("ip"), limit, now, 1).await,
        [RateDecision::Allowed]
    );
    assert_eq!(
        limiter.hit("reset", &key, limit, now).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        hits(&*limiter, &key, limit, now + 12_000 + 60_000, 6).await,
        [[RateDecision::Allowed; 5].as_slice(), &[limited(12)]].concat()
    );

    // No double burst at a clock window's edge: 5 just before a minute
    // boundary, then nothing 2 s later, with Retry-After rounded up.
    let edge = (now / 60_000 + 10) * 60_000;
    let key = unique("edge");
    assert_eq!(
        hits(&*limiter, &key, limit, edge - 1_000, 5).await,
        [RateDecision::Allowed; 5]
    );
    assert_eq!(
        hits(&*limiter, &key, limit, edge + 1_000, 5).await,
        [limited(10); 5]
    );
    assert_eq!(
        hits(&*limiter, &key, limit, edge + 1_500, 1).await,
        [limited(10)]
    );
    assert_eq!(
        hits(&*limiter, &key, limit, edge + 10_999, 1).await,
        [limited(1)]
    );
    assert_eq!(
        hits(&*limiter, &key, limit, edge + 11_000, 2).await,
        [RateDecision::Allowed, limited(12)]
    );

    // A limit that does not divide evenly never lets more than `max` through at once.
    let odd = Limit {
        max: 7,
        window_secs: 1,
    };
    let key = unique("odd");
    let burst = hits(&*limiter, &key, odd, now, 8).await;
    assert_eq!(burst[..7], [RateDecision::Allowed; 7]);
    assert_eq!(burst[7], limited(1));
}

/// The `GuessCounter` contract: at most `threshold` attempts get through a
/// concurrent burst, each further one locks for min(2^(n − threshold) s, max),
/// a lock refuses without counting, a success starts over, keys are apart,
/// and an untouched counter expires.
pub async fn guess_counter(counter: Arc<dyn GuessCounter>) {
    let lockout = Lockout {
        threshold: 5,
        max_lock_secs: 900,
    };
    let now = now_ms();
    let key = unique("acct");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (c, key) = (counter.clone(), key.clone());
        tasks.spawn(async move { c.reserve(&key, lockout, now).await.unwrap() });
    }
    let mut allowed = Vec::new();
    let mut locked = 0;
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            Attempt::Allowed { failures } => allowed.push(failures),
            Attempt::Locked { until_ms } => {
                // The fifth failure locks for 2^0 s.
                assert_eq!(until_ms, now + 1_000);
                locked += 1;
            }
        }
    }
    allowed.sort_unstable();
    assert_eq!(
        allowed,
        [1, 2, 3, 4, 5],
        "exactly threshold attempts get through"
    );
    assert_eq!(locked, 15);
    assert!(Attempt::Allowed { failures: 5 }.first_lock(lockout));
    assert!(!Attempt::Allowed { failures: 6 }.first_lock(lockout));

    // Each further failure doubles the lock, from the moment it was made.
    let mut t = now + 1_000;
    for (n, secs) in [(6u32, 2u64), (7, 4), (8, 8)] {
        assert_eq!(
            counter.reserve(&key, lockout, t - 1).await.unwrap(),
            Attempt::Locked { until_ms: t },
            "still locked 1 ms before the lock ends"
        );
        assert_eq!(
            counter.reserve(&key, lockout, t).await.unwrap(),
            Attempt::Allowed { failures: n }
        );
        t += secs * 1000;
    }
    // Capped at the maximum.
    let capped = Lockout {
        threshold: 1,
        max_lock_secs: 3,
    };
    let other = unique("acct");
    let mut t2 = now;
    for expected in [1_000, 2_000, 3_000, 3_000] {
        assert!(matches!(
            counter.reserve(&other, capped, t2).await.unwrap(),
            Attempt::Allowed { .. }
        ));
        assert_eq!(
            counter.reserve(&other, capped, t2).await.unwrap(),
            Attempt::Locked {
                until_ms: t2 + expected
            }
        );
        t2 += expected;
    }

    // Another key is unaffected; a success starts the count over.
    let fresh = unique("acct");
    assert_eq!(
        counter.reserve(&fresh, lockout, now).await.unwrap(),
        Attempt::Allowed { failures: 1 }
    );
    counter.clear(&key).await.unwrap();
    assert_eq!(
        counter.reserve(&key, lockout, t).await.unwrap(),
        Attempt::Allowed { failures: 1 }
    );
    // Clearing a key that has no counter is fine.
    counter.clear(&unique("none")).await.unwrap();

    // A counter untouched past its expiry starts over.
    let idle = unique("acct");
    for _ in 0..4 {
        counter.reserve(&idle, lockout, now).await.unwrap();
    }
    assert_eq!(
        counter
            .reserve(&idle, lockout, now + GUESS_COUNTER_TTL_MS + 1)
            .await
            .unwrap(),
        Attempt::Allowed { failures: 1 }
    );
}
