//! Adapters against the local AWS emulator (moto), started on demand through
//! `infra/emulator.sh up` once per test binary. Each test works in its own
//! table (or under random ids), so tests and runs never collide.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_adapters::table::ensure_table;
use aws_adapters::{
    AwsClients, AwsConfig, DynamoRateLimiter, DynamoReplayGuard, DynamoSessionStore, Email,
    Ensured, KeyStoreError, KmsKeyStore, KmsSealer, Mailer, SealContext, SesMailer,
    PURPOSE_OUTBOX_DATA_KEY, PURPOSE_PASSWORD_PEPPER, PURPOSE_SCV2_PRIVATE_KEY,
    PURPOSE_SESSION_DATA_KEY,
};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use shared::adapters::memory::{MemoryRateLimiter, MemoryReplayGuard, MemorySessionStore};
use shared::channel::{ServerKey, SessionKey};
use shared::ports::{Limit, RateDecision, RateLimiter, ReplayGuard, ScSession, SessionStore};

// ---------------------------------------------------------------- harness

struct Emulator {
    endpoint: String,
    kms_key_id: String,
    sender: String,
    table: String,
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts (if needed) and bootstraps the emulator once per test binary.
fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let root = root();
        let out = std::process::Command::new(root.join("infra/emulator.sh"))
            .arg("up")
            .output()
            .expect("run infra/emulator.sh up");
        assert!(
            out.status.success(),
            "emulator.sh up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env = std::process::Command::new(root.join("infra/emulator.sh"))
            .arg("env")
            .output()
            .expect("run infra/emulator.sh env");
        let vars: HashMap<String, String> = String::from_utf8_lossy(&env.stdout)
            .lines()
            .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Emulator {
            endpoint: vars["AWS_ENDPOINT_URL"].clone(),
            kms_key_id: vars["KMS_KEY_ID"].clone(),
            sender: vars["SES_FROM_ADDRESS"].clone(),
            table: vars["TABLE_NAME"].clone(),
        }
    })
}

/// Bound of one call against the emulator. It serializes every request, so
/// under a loaded test run a call can queue for seconds; the production
/// default (3 s) would fail tests that are not about timeouts.
const EMULATOR_TIMEOUT_MS: &str = "20000";

fn config(table: &str, kms_key_id: &str, sender: &str, op_timeout_ms: &str) -> AwsConfig {
    let vars: HashMap<&str, String> = [
        ("TABLE_NAME", table.to_owned()),
        ("KMS_KEY_ID", kms_key_id.to_owned()),
        ("SES_FROM_ADDRESS", sender.to_owned()),
        ("AWS_OPERATION_TIMEOUT_MS", op_timeout_ms.to_owned()),
    ]
    .into_iter()
    .collect();
    AwsConfig::from_lookup(|k| vars.get(k).cloned()).unwrap()
}

async fn clients_at(cfg: &AwsConfig, endpoint: &str) -> AwsClients {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint);
    AwsClients::from_loader(cfg, loader).await
}

fn unique(tag: &str) -> String {
    let mut r = [0u8; 6];
    aws_lc_rs::rand::fill(&mut r).unwrap();
    format!("{tag}-{}-{}", std::process::id(), hex(&r))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh, empty table of its own for one test.
async fn fresh_empty(tag: &str) -> (AwsConfig, AwsClients) {
    let emu = emulator();
    let cfg = config(
        &unique(tag),
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    ensure_table(&clients.dynamodb, &cfg.table_name)
        .await
        .unwrap();
    (cfg, clients)
}

/// A fresh table with its data keys, as a deploy leaves it (`pwctl admin keys init`).
async fn fresh(tag: &str) -> (AwsConfig, AwsClients) {
    let (cfg, clients) = fresh_empty(tag).await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    for (purpose, kid) in [
        (PURPOSE_SESSION_DATA_KEY, "d1"),
        (PURPOSE_OUTBOX_DATA_KEY, "o1"),
    ] {
        keys.ensure_secret(purpose, kid, 32).await.unwrap();
    }
    (cfg, clients)
}

async fn dynamo_session_store(cfg: &AwsConfig, clients: &AwsClients) -> DynamoSessionStore {
    let keys = KmsKeyStore::from_clients(clients, cfg);
    let sealer = keys.session_sealer("d1").await.unwrap();
    DynamoSessionStore::new(clients.dynamodb.clone(), &cfg.table_name, sealer)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    aws_lc_rs::rand::fill(&mut k).unwrap();
    k
}

fn session(id: &str, now: u64, ttl_ms: u64) -> ScSession {
    ScSession {
        id: id.to_owned(),
        key: SessionKey::from_bytes(random_key()),
        client_hash: "client-hash-1".into(),
        created_at_ms: now,
        expires_at_ms: now + ttl_ms,
    }
}

// ------------------------------------------- contract, written once

async fn check_session_store(store: &dyn SessionStore) {
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

async fn check_replay_guard(guard: Arc<dyn ReplayGuard>) {
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

async fn check_rate_limiter(limiter: Arc<dyn RateLimiter>) {
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

#[tokio::test]
async fn conformance_memory_adapters() {
    check_session_store(&MemorySessionStore::default()).await;
    check_replay_guard(Arc::new(MemoryReplayGuard::default())).await;
    check_rate_limiter(Arc::new(MemoryRateLimiter::default())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_dynamo_adapters() {
    let (cfg, clients) = fresh("conf").await;
    check_session_store(&dynamo_session_store(&cfg, &clients).await).await;
    check_replay_guard(Arc::new(DynamoReplayGuard::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
    )))
    .await;
    check_rate_limiter(Arc::new(DynamoRateLimiter::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
    )))
    .await;
}

// ------------------------------------------------ dynamo specifics

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

// ------------------------------------------------------------- KMS

#[tokio::test]
async fn kms_seal_round_trip_and_wrong_context_fails() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let sealer = KmsSealer::new(clients.kms.clone(), &cfg.kms_key_id);
    let (_, der) = ServerKey::generate("k-seal", u64::MAX).unwrap();
    let ctx = SealContext::new(PURPOSE_SCV2_PRIVATE_KEY, "k-seal");
    let sealed = sealer.seal(&ctx, &der).await.unwrap();
    assert!(!contains(&sealed, &der));
    let opened = sealer.unseal(&ctx, &sealed).await.unwrap();
    assert_eq!(opened.as_slice(), der.as_slice());
    for wrong in [
        SealContext::new(PURPOSE_SCV2_PRIVATE_KEY, "k-other"),
        SealContext::new(PURPOSE_PASSWORD_PEPPER, "k-seal"),
    ] {
        let err = sealer.unseal(&wrong, &sealed).await.unwrap_err();
        assert!(matches!(err, KeyStoreError::Rejected), "{err:?}");
    }
    let mut tampered = sealed.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    assert!(sealer.unseal(&ctx, &tampered).await.is_err());
}

#[tokio::test]
async fn secrets_are_created_at_deploy_time_and_only_loaded_at_cold_start() {
    let (cfg, clients) = fresh_empty("secret").await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    let missing = keys
        .load_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
        .await
        .unwrap_err();
    assert!(matches!(missing, KeyStoreError::Missing(_)), "{missing:?}");
    assert!(missing.to_string().contains("pwctl admin keys init"));
    // Loading created nothing.
    assert!(keys
        .load_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
        .await
        .is_err());
    assert_eq!(
        keys.ensure_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
            .await
            .unwrap(),
        Ensured::Created
    );
    assert_eq!(
        keys.ensure_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
            .await
            .unwrap(),
        Ensured::Existing
    );
    let a = keys
        .load_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
        .await
        .unwrap();
    let b = keys
        .load_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
        .await
        .unwrap();
    assert_eq!(a.as_slice(), b.as_slice());
    keys.ensure_secret(PURPOSE_PASSWORD_PEPPER, "p2", 32)
        .await
        .unwrap();
    let c = keys
        .load_secret(PURPOSE_PASSWORD_PEPPER, "p2", 32)
        .await
        .unwrap();
    assert_ne!(a.as_slice(), c.as_slice());
}

fn oaep_encrypt(spki: &[u8], k: &[u8; 32]) -> Vec<u8> {
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
    let key = OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(spki).unwrap()).unwrap();
    let mut out = vec![0u8; key.ciphertext_size()];
    key.encrypt(&OAEP_SHA256_MGF1SHA256, k, &mut out, None)
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn rotation_keeps_previous_key_until_grace_end() {
    let (cfg, clients) = fresh("rotate").await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    let now = now_ms();
    let hour = Duration::from_secs(3600);
    let grace = Duration::from_secs(600);
    assert!(matches!(
        keys.load_key_ring(now).await.unwrap_err(),
        KeyStoreError::NoActiveKey
    ));
    keys.rotate("k1", hour, grace, now).await.unwrap();
    let ring1 = keys.load_key_ring(now).await.unwrap();
    assert_eq!(ring1.active().kid(), "k1");
    let k1_spki = ring1.active().public_spki_der().to_vec();

    let t2 = now + 1_000;
    let info = keys.rotate("k2", hour, grace, t2).await.unwrap();
    assert!(info.active);
    assert!(matches!(
        keys.rotate("k2", hour, grace, t2).await.unwrap_err(),
        KeyStoreError::KidExists(_)
    ));
    let list = keys.list().await.unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0].kid.as_str(), list[0].active), ("k1", false));
    assert_eq!(list[0].expires_at_ms, t2 + 600_000);
    assert_eq!((list[1].kid.as_str(), list[1].active), ("k2", true));
    assert_eq!(list[1].expires_at_ms, t2 + 3_600_000);

    // During the grace period both keys unwrap; the new one is published.
    let ring = keys.load_key_ring(t2 + 1).await.unwrap();
    assert_eq!(ring.active().kid(), "k2");
    let k = random_key();
    let ct = oaep_encrypt(&k1_spki, &k);
    let got = ring.unwrap_session_key("k1", &ct, t2 + 1).unwrap();
    assert_eq!(got.expose_bytes(), &k);
    let ct2 = oaep_encrypt(ring.active().public_spki_der(), &k);
    assert!(ring.unwrap_session_key("k2", &ct2, t2 + 1).is_ok());

    // After the grace end the old key is neither loaded nor accepted.
    let after = t2 + 600_000;
    let ring = keys.load_key_ring(after).await.unwrap();
    assert_eq!(ring.keys().len(), 1);
    assert!(ring.unwrap_session_key("k1", &ct, after).is_err());
    assert!(ring.unwrap_session_key("k2", &ct2, after).is_ok());
}

#[tokio::test]
async fn bootstrapped_emulator_key_ring_loads() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    let ring = keys.load_key_ring(now_ms()).await.unwrap();
    assert!(ring.active().kid().starts_with("k-local-"));
    assert!(keys.list().await.unwrap().iter().any(|k| k.active));
}

// ------------------------------------------------ no secret at rest

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

fn collect(v: &AttributeValue, bytes: &mut Vec<Vec<u8>>) {
    match v {
        AttributeValue::S(s) | AttributeValue::N(s) => bytes.push(s.as_bytes().to_vec()),
        AttributeValue::B(b) => bytes.push(b.as_ref().to_vec()),
        AttributeValue::Ss(l) | AttributeValue::Ns(l) => {
            bytes.extend(l.iter().map(|s| s.as_bytes().to_vec()))
        }
        AttributeValue::Bs(l) => bytes.extend(l.iter().map(|b| b.as_ref().to_vec())),
        AttributeValue::L(l) => l.iter().for_each(|x| collect(x, bytes)),
        AttributeValue::M(m) => m.values().for_each(|x| collect(x, bytes)),
        _ => {}
    }
}

/// Every encoding a careless adapter might use for `secret`.
fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let mut v = vec![secret.to_vec()];
    for e in [STANDARD, STANDARD_NO_PAD] {
        v.push(e.encode(secret).into_bytes());
    }
    for e in [URL_SAFE, URL_SAFE_NO_PAD] {
        v.push(e.encode(secret).into_bytes());
    }
    v.push(hex(secret).into_bytes());
    v.push(hex(secret).to_uppercase().into_bytes());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_scan_finds_no_secret_in_clear() {
    let (cfg, clients) = fresh("scan").await;
    let store = dynamo_session_store(&cfg, &clients).await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    let now = now_ms();
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for _ in 0..5 {
        let s = session(&unique("s"), now, 60_000);
        store.create(&s).await.unwrap();
        secrets.push(s.key.expose_bytes().to_vec());
    }
    let (_, der) = ServerKey::generate("k-known", now + 60_000).unwrap();
    keys.store_key("k-known", &der, now, now + 60_000)
        .await
        .unwrap();
    secrets.push(der.to_vec());
    keys.rotate(
        "k-rot",
        Duration::from_secs(60),
        Duration::from_secs(1),
        now,
    )
    .await
    .unwrap();
    keys.ensure_secret(PURPOSE_PASSWORD_PEPPER, "p", 32)
        .await
        .unwrap();
    let pepper = keys
        .load_secret(PURPOSE_PASSWORD_PEPPER, "p", 32)
        .await
        .unwrap();
    secrets.push(pepper.to_vec());
    // The rotated key's DER, as unsealed: must not be in the table either.
    let ring = keys.load_key_ring(now).await.unwrap();
    assert_eq!(ring.active().kid(), "k-rot");

    let mut values = Vec::new();
    let mut start = None;
    let mut items = 0;
    loop {
        let out = clients
            .dynamodb
            .scan()
            .table_name(&cfg.table_name)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in out.items() {
            items += 1;
            item.values().for_each(|v| collect(v, &mut values));
        }
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    assert!(items >= 9, "sessions, keys, pointer, secrets: {items}");
    for secret in &secrets {
        for enc in encodings(secret) {
            assert!(
                !values.iter().any(|v| contains(v, &enc)),
                "a secret is stored in clear"
            );
        }
    }
    // No PKCS#8 RSA key at all: its version 0 followed by the rsaEncryption
    // AlgorithmIdentifier never appears, raw or in a base64/hex string (the
    // public keys stored in clear are SubjectPublicKeyInfo: no version).
    let rsa_oid = [
        0x02, 0x01, 0x00, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
        0x01,
    ];
    assert!(contains(&der, &rsa_oid), "the marker is the PKCS#8 one");
    for v in &values {
        assert!(!contains(v, &rsa_oid));
        let text = String::from_utf8_lossy(v);
        assert!(!text.contains("PRIVATE KEY"));
        for decoded in [
            base64::engine::general_purpose::STANDARD
                .decode(v.as_slice())
                .ok(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(v.as_slice())
                .ok(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(!contains(&decoded, &rsa_oid));
        }
    }
}

// ------------------------------------------------------------- SES

async fn http_get(endpoint: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let host = endpoint.trim_start_matches("http://");
    let mut sock = tokio::net::TcpStream::connect(host).await.unwrap();
    sock.write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = Vec::new();
    sock.read_to_end(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn ses_send_is_recorded_by_the_emulator() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let to = format!("{}@example.com", unique("user"));
    let id = mailer
        .send(&Email {
            to: to.clone(),
            subject: "Reset your password".into(),
            text: "Your code is 123456".into(),
            html: Some("<p>Your code is <b>123456</b></p>".into()),
        })
        .await
        .unwrap();
    assert!(!id.is_empty());
    let data = http_get(&emu.endpoint, "/moto-api/data.json").await;
    let body = data.split_once("\r\n\r\n").unwrap().1;
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    let sent = json["ses"]["Message"].as_array().unwrap();
    let msg = sent
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("message recorded by moto");
    assert_eq!(msg["source"], cfg.ses_from_address.as_str());
    assert_eq!(msg["destinations"]["ToAddresses"][0], to.as_str());
    assert_eq!(msg["subject"], "Reset your password");
}

#[tokio::test]
async fn ses_unverified_sender_is_an_error() {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        "nobody@unverified.test",
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let res = mailer
        .send(&Email {
            to: "a@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: None,
        })
        .await;
    assert!(res.is_err());
}

// ------------------------------------------------------------ faults

async fn assert_unavailable_in_time(endpoint: &str) {
    let cfg = config("t", "alias/x", "a@b.c", "2000");
    let clients = clients_at(&cfg, endpoint).await;
    let sessions = DynamoSessionStore::new(
        clients.dynamodb.clone(),
        "t",
        aws_adapters::SessionSealer::new("d", &[7; 32]).unwrap(),
    );
    let replay = DynamoReplayGuard::new(clients.dynamodb.clone(), "t");
    let limiter = DynamoRateLimiter::new(clients.dynamodb.clone(), "t");
    let sealer = KmsSealer::new(clients.kms.clone(), "alias/x");
    let mailer = SesMailer::new(clients.ses.clone(), "a@b.c");
    let limit = Limit {
        max: 1,
        window_secs: 1,
    };
    let started = Instant::now();
    let bound = Duration::from_secs(10);
    let r = tokio::time::timeout(bound, sessions.get("x", 0)).await;
    assert!(matches!(r, Ok(Err(_))), "session get: {r:?}");
    let r = tokio::time::timeout(bound, replay.first_use("x", &[0; 12], 1, 0)).await;
    assert!(matches!(r, Ok(Err(_))), "replay: {r:?}");
    let r = tokio::time::timeout(bound, limiter.hit("b", "k", limit, 0)).await;
    assert!(matches!(r, Ok(Err(_))), "limiter: {r:?}");
    let r = tokio::time::timeout(bound, sealer.seal(&SealContext::new("p", "k"), b"x")).await;
    assert!(matches!(r, Ok(Err(_))), "kms: {r:?}");
    let email = Email {
        to: "x@y.z".into(),
        subject: "s".into(),
        text: "t".into(),
        html: None,
    };
    let r = tokio::time::timeout(bound, mailer.send(&email)).await;
    assert!(matches!(r, Ok(Err(_))), "ses: {r:?}");
    assert!(started.elapsed() < bound * 5);
}

#[tokio::test]
async fn closed_port_is_unavailable_within_timeout() {
    assert_unavailable_in_time("http://127.0.0.1:1").await;
}

#[tokio::test]
async fn silent_endpoint_is_unavailable_within_operation_timeout() {
    // Accepts connections and never answers: only the operation timeout ends the call.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let started = Instant::now();
    assert_unavailable_in_time(&format!("http://{addr}")).await;
    // Five calls, each bounded by the 2 s operation timeout (retries included).
    assert!(started.elapsed() >= Duration::from_millis(1_900));
    hold.abort();
}

#[tokio::test]
async fn ses_sends_outbox_messages_through_the_accounts_port() {
    use shared::ports::accounts::{MailKind, Mailer as OutboxMailer, OutboxMessage};
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let to = format!("{}@example.com", unique("outbox"));
    let message = OutboxMessage {
        id: unique("m"),
        kind: MailKind::Reset,
        to: to.clone(),
        subject: "Reset".into(),
        text: "link".into(),
        html: "<a>link</a>".into(),
        link: "https://example.com/reset".into(),
        created_at_ms: now_ms(),
    };
    OutboxMailer::send(&mailer, &message).await.unwrap();
    let data = http_get(&emu.endpoint, "/moto-api/data.json").await;
    assert!(data.contains(&to));
}

// --------------------------------------------------------- accounts

mod accounts {
    use super::*;
    use aws_adapters::bootstrap::app_with;
    use aws_adapters::{mail_fn, sha256_hex, DynamoAccountStore};
    use aws_lambda_events::dynamodb::Event;
    use password::{PasswordHash, PepperId};
    use serde_json::{json, Value};
    use shared::adapters::memory::accounts::MemoryAccountStore;
    use shared::config::Config;
    use shared::ports::accounts::{
        AccountChange, AccountStore, ChangeRejected, ForgotRequest, InitSession, MailKind,
        OutboxMessage, ResetToken, User, UserStatus, MAX_LIVE_RESET_TOKENS,
    };

    fn phc(tag: u8) -> PasswordHash {
        let salt = base64::engine::general_purpose::STANDARD_NO_PAD.encode([tag; 16]);
        let out = base64::engine::general_purpose::STANDARD_NO_PAD.encode([tag ^ 0x5a; 32]);
        PasswordHash::parse(
            &format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${out}"),
            Some(PepperId::new("p1")),
        )
        .unwrap()
    }

    fn user(email: &str, now: u64) -> User {
        User {
            biz_id: unique("ACC_USR"),
            email: email.to_owned(),
            name: "Ann Example".into(),
            phone: Some("+33 6 12 34 56 78".into()),
            locale: None,
            status: UserStatus::Active,
            password: Some(phc(1)),
            history: vec![phc(2), phc(3)],
            password_changed_at_ms: Some(now),
            created_at_ms: now,
            version: 1,
        }
    }

    fn next(u: &User) -> User {
        let mut n = u.clone();
        n.version += 1;
        n
    }

    fn email() -> String {
        format!("{}@example.com", unique("u").to_lowercase())
    }

    fn token() -> String {
        let mut b = [0u8; 32];
        aws_lc_rs::rand::fill(&mut b).unwrap();
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    }

    fn message(kind: MailKind, to: &str, link: &str, now: u64) -> OutboxMessage {
        OutboxMessage {
            id: unique("m"),
            kind,
            to: to.to_owned(),
            subject: "Your link".into(),
            text: format!("Open {link}"),
            html: format!("<a href=\"{link}\">{link}</a>"),
            link: link.to_owned(),
            created_at_ms: now,
        }
    }

    fn create(u: &User) -> AccountChange {
        AccountChange {
            user: Some((u.clone(), None)),
            ..AccountChange::default()
        }
    }

    async fn apply(
        store: &dyn AccountStore,
        c: AccountChange,
        now: u64,
    ) -> Result<(), ChangeRejected> {
        store.apply(c, now).await.unwrap()
    }

    /// Runs the account contract; returns the raw single-use secrets and
    /// links it handed to the store (none may be at rest in clear).
    pub(super) async fn check_account_store(store: Arc<dyn AccountStore>) -> Vec<String> {
        let mut secrets = Vec::new();
        let now = now_ms();

        // -- users and email uniqueness
        let ann = user(&email(), now);
        let sid = token();
        let link = format!("https://app.example.com/password/init?sid={sid}");
        secrets.extend([sid.clone(), link.clone()]);
        let init_mail = message(MailKind::Init, &ann.email, &link, now);
        let mut pending_ann = ann.clone();
        pending_ann.status = UserStatus::PendingPassword;
        pending_ann.password = None;
        pending_ann.history.clear();
        pending_ann.password_changed_at_ms = None;
        let change = AccountChange {
            user: Some((pending_ann.clone(), None)),
            new_init: Some(InitSession {
                sid: sid.clone(),
                biz_id: ann.biz_id.clone(),
                expires_at_ms: now + 60_000,
            }),
            outbox: vec![init_mail.clone()],
            ..AccountChange::default()
        };
        assert_eq!(apply(&*store, change, now).await, Ok(()));
        let got = store.user(&ann.biz_id).await.unwrap().expect("stored");
        assert_eq!(got.email, ann.email);
        assert_eq!(got.status, UserStatus::PendingPassword);
        assert!(got.password.is_none() && got.history.is_empty());
        assert_eq!(got.phone, ann.phone);
        assert_eq!(got.locale, None);
        let by_email = store.user_by_email(&ann.email).await.unwrap().unwrap();
        assert_eq!(by_email.biz_id, ann.biz_id);
        assert!(store.user_by_email(&email()).await.unwrap().is_none());
        assert!(store.user(&unique("ACC_USR")).await.unwrap().is_none());
        // Another user with the same address is refused.
        let twin = user(&ann.email, now);
        assert_eq!(
            apply(&*store, create(&twin), now).await,
            Err(ChangeRejected::EmailTaken)
        );
        assert!(store.user(&twin.biz_id).await.unwrap().is_none());

        // Concurrent creations of one address: exactly one wins.
        let contested = email();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let (store, u) = (store.clone(), user(&contested, now));
            tasks.spawn(async move { store.apply(create(&u), now).await.unwrap() });
        }
        let mut results = Vec::new();
        while let Some(r) = tasks.join_next().await {
            results.push(r.unwrap());
        }
        assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
        assert!(results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(ChangeRejected::EmailTaken))));

        // -- init sessions: single use, expiry decided at `now`
        let found = store.init_session(&sid, now).await.unwrap().expect("init");
        assert_eq!(found.biz_id, ann.biz_id);
        assert!(store
            .init_session(&sid, now + 60_000)
            .await
            .unwrap()
            .is_none());
        assert!(store.init_session(&token(), now).await.unwrap().is_none());
        // Single-use items are checked first: a stale version still reads InitInvalid.
        let stale = AccountChange {
            user: Some((next(&ann), Some(99))),
            consume_init: Some(sid.clone()),
            ..AccountChange::default()
        };
        assert_eq!(
            apply(&*store, stale, now + 60_000).await,
            Err(ChangeRejected::InitInvalid),
            "expired init refused while still present"
        );
        let mut active = next(&pending_ann);
        active.status = UserStatus::Active;
        active.password = Some(phc(4));
        let first = AccountChange {
            user: Some((active.clone(), Some(1))),
            consume_init: Some(sid.clone()),
            ..AccountChange::default()
        };
        assert_eq!(apply(&*store, first, now).await, Ok(()));
        assert!(store.init_session(&sid, now).await.unwrap().is_none());
        let again = AccountChange {
            user: Some((next(&active), Some(2))),
            consume_init: Some(sid.clone()),
            ..AccountChange::default()
        };
        assert_eq!(
            apply(&*store, again, now).await,
            Err(ChangeRejected::InitInvalid)
        );
        let got = store.user(&ann.biz_id).await.unwrap().unwrap();
        assert_eq!(got.version, 2);
        assert_eq!(got.password, Some(phc(4)));
        assert_eq!(got.status, UserStatus::Active);

        // -- optimistic versions: the stale writer loses, nothing is written
        let v3 = next(&active);
        assert_eq!(
            apply(
                &*store,
                AccountChange {
                    user: Some((v3.clone(), Some(2))),
                    ..Default::default()
                },
                now
            )
            .await,
            Ok(())
        );
        let mut stale_write = next(&active);
        stale_write.name = "Stale".into();
        let lost = AccountChange {
            user: Some((stale_write, Some(2))),
            outbox: vec![message(MailKind::Changed, &ann.email, "https://x", now)],
            ..AccountChange::default()
        };
        assert_eq!(
            apply(&*store, lost, now).await,
            Err(ChangeRejected::VersionConflict)
        );
        let got = store.user(&ann.biz_id).await.unwrap().unwrap();
        assert_eq!((got.version, got.name.as_str()), (3, "Ann Example"));
        // Moving to an address someone else owns is refused.
        let mut grab = next(&v3);
        grab.email = contested.clone();
        assert_eq!(
            apply(
                &*store,
                AccountChange {
                    user: Some((grab, Some(3))),
                    ..Default::default()
                },
                now
            )
            .await,
            Err(ChangeRejected::EmailTaken)
        );
        // Moving to a free address moves the claim.
        let mut moved = next(&v3);
        moved.email = email();
        assert_eq!(
            apply(
                &*store,
                AccountChange {
                    user: Some((moved.clone(), Some(3))),
                    ..Default::default()
                },
                now
            )
            .await,
            Ok(())
        );
        assert_eq!(
            store
                .user_by_email(&moved.email)
                .await
                .unwrap()
                .unwrap()
                .biz_id,
            ann.biz_id
        );

        // -- reset tokens
        let bob = user(&email(), now);
        assert_eq!(apply(&*store, create(&bob), now).await, Ok(()));
        let issue = |u: &User, raw: &str, expires: u64| AccountChange {
            new_reset: Some(ResetToken {
                token_sha256: sha256_hex(raw),
                biz_id: u.biz_id.clone(),
                expires_at_ms: expires,
            }),
            outbox: vec![message(
                MailKind::Reset,
                &u.email,
                &format!("https://app.example.com/password/reset?token={raw}"),
                now,
            )],
            ..AccountChange::default()
        };
        let consume = |u: &User, raw: &str| AccountChange {
            consume_reset: Some(sha256_hex(raw)),
            revoke_links_of: Some(u.biz_id.clone()),
            user: Some((next(u), Some(u.version))),
            ..AccountChange::default()
        };
        let t1 = token();
        secrets.extend([
            t1.clone(),
            format!("https://app.example.com/password/reset?token={t1}"),
        ]);
        assert_eq!(
            apply(&*store, issue(&bob, &t1, now + 60_000), now).await,
            Ok(())
        );
        let found = store
            .reset_token(&sha256_hex(&t1), now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.biz_id, bob.biz_id);
        // 20 concurrent consumptions of one token: exactly one succeeds.
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (store, c) = (store.clone(), consume(&bob, &t1));
            tasks.spawn(async move { store.apply(c, now).await.unwrap() });
        }
        let mut results = Vec::new();
        while let Some(r) = tasks.join_next().await {
            results.push(r.unwrap());
        }
        assert_eq!(
            results.iter().filter(|r| r.is_ok()).count(),
            1,
            "{results:?}"
        );
        assert!(results
            .iter()
            .all(|r| matches!(r, Ok(()) | Err(ChangeRejected::ResetInvalid))));
        assert!(store
            .reset_token(&sha256_hex(&t1), now)
            .await
            .unwrap()
            .is_none());
        let bob = store.user(&bob.biz_id).await.unwrap().unwrap();
        assert_eq!(bob.version, 2);

        // Expired: refused while the item is still present.
        let t2 = token();
        secrets.push(t2.clone());
        assert_eq!(
            apply(&*store, issue(&bob, &t2, now + 1_000), now).await,
            Ok(())
        );
        assert!(store
            .reset_token(&sha256_hex(&t2), now + 999)
            .await
            .unwrap()
            .is_some());
        assert!(store
            .reset_token(&sha256_hex(&t2), now + 1_000)
            .await
            .unwrap()
            .is_none());
        assert_eq!(
            apply(&*store, consume(&bob, &t2), now + 1_000).await,
            Err(ChangeRejected::ResetInvalid)
        );

        // Revocation: using one token revokes the user's others, not another user's.
        let (t3, t4, t5) = (token(), token(), token());
        secrets.extend([t3.clone(), t4.clone(), t5.clone()]);
        assert_eq!(
            apply(&*store, issue(&bob, &t3, now + 60_000), now).await,
            Ok(())
        );
        assert_eq!(
            apply(&*store, issue(&bob, &t4, now + 60_000), now).await,
            Ok(())
        );
        let carl = user(&email(), now);
        assert_eq!(apply(&*store, create(&carl), now).await, Ok(()));
        assert_eq!(
            apply(&*store, issue(&carl, &t5, now + 60_000), now).await,
            Ok(())
        );
        assert!(store
            .reset_token(&sha256_hex(&t4), now)
            .await
            .unwrap()
            .is_some());
        assert_eq!(apply(&*store, consume(&bob, &t3), now).await, Ok(()));
        assert!(store
            .reset_token(&sha256_hex(&t3), now)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .reset_token(&sha256_hex(&t4), now)
            .await
            .unwrap()
            .is_none());
        let bob = store.user(&bob.biz_id).await.unwrap().unwrap();
        assert_eq!(
            apply(&*store, consume(&bob, &t4), now).await,
            Err(ChangeRejected::ResetInvalid)
        );
        assert!(store
            .reset_token(&sha256_hex(&t5), now)
            .await
            .unwrap()
            .is_some());
        // A token issued after the revocation is valid.
        let t6 = token();
        secrets.push(t6.clone());
        assert_eq!(
            apply(&*store, issue(&bob, &t6, now + 60_000), now).await,
            Ok(())
        );
        assert_eq!(apply(&*store, consume(&bob, &t6), now).await, Ok(()));

        // -- a password set by any path revokes the user's reset tokens and
        // pending init sessions, in the same change (not another user's).
        let dora = user(&email(), now);
        let (t7, t8, sid2, sid3) = (token(), token(), token(), token());
        secrets.extend([t7.clone(), t8.clone(), sid2.clone(), sid3.clone()]);
        let init_of = |u: &User, sid: &str| AccountChange {
            new_init: Some(InitSession {
                sid: sid.to_owned(),
                biz_id: u.biz_id.clone(),
                expires_at_ms: now + 60_000,
            }),
            ..AccountChange::default()
        };
        let mut pending_dora = dora.clone();
        pending_dora.password = None;
        let mut created = init_of(&pending_dora, &sid2);
        created.user = Some((pending_dora.clone(), None));
        assert_eq!(apply(&*store, created, now).await, Ok(()));
        assert_eq!(apply(&*store, init_of(&carl, &sid3), now).await, Ok(()));
        assert_eq!(
            apply(&*store, issue(&dora, &t7, now + 60_000), now).await,
            Ok(())
        );
        assert_eq!(
            apply(&*store, issue(&carl, &t8, now + 60_000), now).await,
            Ok(())
        );
        let password_set = AccountChange {
            user: Some((next(&pending_dora), Some(1))),
            revoke_links_of: Some(dora.biz_id.clone()),
            ..AccountChange::default()
        };
        assert_eq!(apply(&*store, password_set, now).await, Ok(()));
        assert!(store
            .reset_token(&sha256_hex(&t7), now)
            .await
            .unwrap()
            .is_none());
        assert!(store.init_session(&sid2, now).await.unwrap().is_none());
        assert!(store
            .reset_token(&sha256_hex(&t8), now)
            .await
            .unwrap()
            .is_some());
        assert!(store.init_session(&sid3, now).await.unwrap().is_some());
        // The init path: consuming one sid revokes the rest with it.
        let erin = user(&email(), now);
        let (sid4, sid5) = (token(), token());
        secrets.extend([sid4.clone(), sid5.clone()]);
        let mut pending_erin = erin.clone();
        pending_erin.password = None;
        let mut created = init_of(&pending_erin, &sid4);
        created.user = Some((pending_erin.clone(), None));
        assert_eq!(apply(&*store, created, now).await, Ok(()));
        assert_eq!(apply(&*store, init_of(&erin, &sid5), now).await, Ok(()));
        let first_password = AccountChange {
            user: Some((next(&pending_erin), Some(1))),
            consume_init: Some(sid4.clone()),
            revoke_links_of: Some(erin.biz_id.clone()),
            ..AccountChange::default()
        };
        assert_eq!(apply(&*store, first_password, now).await, Ok(()));
        assert!(store.init_session(&sid4, now).await.unwrap().is_none());
        assert!(store.init_session(&sid5, now).await.unwrap().is_none());

        // -- live reset tokens are capped per user: the oldest go, so the
        // revoking change stays within one transaction however many were asked.
        let fay = user(&email(), now);
        assert_eq!(apply(&*store, create(&fay), now).await, Ok(()));
        let many: Vec<String> = (0..55).map(|_| token()).collect();
        for (i, raw) in many.iter().enumerate() {
            let change = AccountChange {
                new_reset: Some(ResetToken {
                    token_sha256: sha256_hex(raw),
                    biz_id: fay.biz_id.clone(),
                    expires_at_ms: now + 60_000 + i as u64,
                }),
                ..AccountChange::default()
            };
            assert_eq!(apply(&*store, change, now).await, Ok(()), "token {i}");
        }
        let mut live = 0;
        for (i, raw) in many.iter().enumerate() {
            let found = store.reset_token(&sha256_hex(raw), now).await.unwrap();
            assert_eq!(
                found.is_some(),
                i >= many.len() - MAX_LIVE_RESET_TOKENS,
                "token {i}"
            );
            live += usize::from(found.is_some());
        }
        assert_eq!(live, MAX_LIVE_RESET_TOKENS);
        let newest = many.last().unwrap();
        assert_eq!(apply(&*store, consume(&fay, newest), now).await, Ok(()));
        for raw in &many {
            assert!(store
                .reset_token(&sha256_hex(raw), now)
                .await
                .unwrap()
                .is_none());
        }
        secrets.extend(many);

        // -- forgot requests: pending oldest first, answered exactly once
        let forgot = |email: &str, at: u64| ForgotRequest {
            id: shared::handlers::mail::new_id(),
            email: email.to_owned(),
            lang: "ja".into(),
            requested_at_ms: at,
        };
        let asked = email();
        secrets.push(asked.clone());
        let (f1, f2) = (forgot(&asked, now), forgot(&fay.email, now + 1));
        store.record_forgot(&f2).await.unwrap();
        store.record_forgot(&f1).await.unwrap();
        let pending: Vec<(String, String, String, u64)> = store
            .pending_forgot()
            .await
            .unwrap()
            .into_iter()
            .map(|f| (f.id, f.email, f.lang, f.requested_at_ms))
            .filter(|(id, ..)| *id == f1.id || *id == f2.id)
            .collect();
        let expected: Vec<(String, String, String, u64)> = [&f1, &f2]
            .iter()
            .map(|f| {
                (
                    f.id.clone(),
                    f.email.clone(),
                    f.lang.clone(),
                    f.requested_at_ms,
                )
            })
            .collect();
        assert_eq!(pending, expected);
        let answer = |f: &ForgotRequest| AccountChange {
            consume_forgot: Some(f.clone()),
            ..AccountChange::default()
        };
        assert_eq!(apply(&*store, answer(&f1), now).await, Ok(()));
        assert_eq!(
            apply(&*store, answer(&f1), now).await,
            Err(ChangeRejected::ForgotHandled)
        );
        let left: Vec<String> = store
            .pending_forgot()
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect();
        assert!(!left.contains(&f1.id) && left.contains(&f2.id));
        assert_eq!(apply(&*store, answer(&f2), now).await, Ok(()));

        // An empty change is a successful no-op.
        assert_eq!(apply(&*store, AccountChange::default(), now).await, Ok(()));

        // -- outbox: pending oldest first, delivery marked once
        let pending = store.pending_outbox().await.unwrap();
        let ids: Vec<&str> = pending.iter().map(|m| m.id.as_str()).collect();
        assert!(ids.contains(&init_mail.id.as_str()));
        assert!(pending
            .windows(2)
            .all(|w| w[0].created_at_ms <= w[1].created_at_ms));
        let first = pending.iter().find(|m| m.id == init_mail.id).unwrap();
        assert_eq!(first.link, init_mail.link);
        assert_eq!(first.to, init_mail.to);
        assert_eq!(first.text, init_mail.text);
        assert_eq!(first.html, init_mail.html);
        assert_eq!(first.subject, init_mail.subject);
        assert_eq!(first.kind, MailKind::Init);
        // The refused changes above left no message behind.
        assert!(!pending.iter().any(|m| m.link == "https://x"));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let (store, id) = (store.clone(), init_mail.id.clone());
            tasks.spawn(async move { store.mark_delivered(&id).await.unwrap() });
        }
        let mut wins = 0;
        while let Some(r) = tasks.join_next().await {
            wins += usize::from(r.unwrap());
        }
        assert_eq!(wins, 1, "exactly one delivery claim wins");
        assert!(!store.mark_delivered(&init_mail.id).await.unwrap());
        let after = store.pending_outbox().await.unwrap();
        assert!(!after.iter().any(|m| m.id == init_mail.id));
        assert_eq!(after.len(), pending.len() - 1);
        secrets
    }

    #[tokio::test]
    async fn conformance_memory_account_store() {
        check_account_store(Arc::new(MemoryAccountStore::default())).await;
    }

    async fn dynamo_account_store(cfg: &AwsConfig, clients: &AwsClients) -> DynamoAccountStore {
        let keys = KmsKeyStore::from_clients(clients, cfg);
        let sealer = keys.outbox_sealer("o1").await.unwrap();
        DynamoAccountStore::new(clients.dynamodb.clone(), &cfg.table_name, sealer)
    }

    async fn scan_values(cfg: &AwsConfig, clients: &AwsClients) -> (usize, Vec<Vec<u8>>) {
        let mut values = Vec::new();
        let mut start = None;
        let mut items = 0;
        loop {
            let out = clients
                .dynamodb
                .scan()
                .table_name(&cfg.table_name)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .unwrap();
            for item in out.items() {
                items += 1;
                item.values().for_each(|v| collect(v, &mut values));
                item.keys().for_each(|k| values.push(k.as_bytes().to_vec()));
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        (items, values)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn conformance_dynamo_account_store_and_no_token_at_rest() {
        let (cfg, clients) = fresh("acct").await;
        let store = Arc::new(dynamo_account_store(&cfg, &clients).await);
        let secrets = check_account_store(store.clone()).await;
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

    fn stored(
        out: &aws_sdk_dynamodb::operation::get_item::GetItemOutput,
    ) -> &HashMap<String, AttributeValue> {
        out.item().expect("item present")
    }

    #[tokio::test]
    async fn dynamo_account_items_follow_the_data_model() {
        let (cfg, clients) = fresh("acctmodel").await;
        let store = dynamo_account_store(&cfg, &clients).await;
        let now = now_ms();
        let ann = user(&email(), now);
        assert_eq!(apply(&store, create(&ann), now).await, Ok(()));
        let get = |pk: String, sk: &'static str| {
            clients
                .dynamodb
                .get_item()
                .table_name(&cfg.table_name)
                .key("PK", AttributeValue::S(pk))
                .key("SK", AttributeValue::S(sk.into()))
                .send()
        };
        let out = get(format!("USER#{}", ann.biz_id), "PROFILE")
            .await
            .unwrap();
        let item = stored(&out);
        assert_eq!(item["version"], AttributeValue::N("1".into()));
        assert_eq!(item["status"], AttributeValue::S("Active".into()));
        let AttributeValue::M(pw) = &item["password"] else {
            panic!("password is a map")
        };
        assert_eq!(pw["pepperId"], AttributeValue::S("p1".into()));
        assert!(matches!(&pw["phc"], AttributeValue::S(p) if p.starts_with("$argon2id$")));
        let out = get(format!("EMAIL#{}", ann.email), "EMAIL").await.unwrap();
        assert_eq!(stored(&out)["bizId"], AttributeValue::S(ann.biz_id.clone()));

        // An email change moves the claim: the old address is free again.
        let mut moved = next(&ann);
        moved.email = email();
        assert_eq!(
            apply(
                &store,
                AccountChange {
                    user: Some((moved.clone(), Some(1))),
                    ..Default::default()
                },
                now
            )
            .await,
            Ok(())
        );
        assert!(get(format!("EMAIL#{}", ann.email), "EMAIL")
            .await
            .unwrap()
            .item()
            .is_none());
        assert!(store.user_by_email(&ann.email).await.unwrap().is_none());
        let newcomer = user(&ann.email, now);
        assert_eq!(apply(&store, create(&newcomer), now).await, Ok(()));

        // The outbox item holds only sealed content, with a 7-day TTL.
        let raw = token();
        let m = message(
            MailKind::Reset,
            &ann.email,
            &format!("https://r?token={raw}"),
            now,
        );
        let change = AccountChange {
            new_reset: Some(ResetToken {
                token_sha256: sha256_hex(&raw),
                biz_id: ann.biz_id.clone(),
                expires_at_ms: now + 60_000,
            }),
            outbox: vec![m.clone()],
            ..AccountChange::default()
        };
        assert_eq!(apply(&store, change, now).await, Ok(()));
        let out = get(format!("OUTBOX#{}", m.id), "OUTBOX").await.unwrap();
        let item = stored(&out);
        assert!(!item.contains_key("to") && !item.contains_key("link"));
        assert_eq!(item["kind"], AttributeValue::S("reset".into()));
        assert_eq!(
            item["expiresAt"],
            AttributeValue::N((now + 7 * 24 * 3_600_000).div_ceil(1000).to_string())
        );
        let out = get(format!("RESET#{}", sha256_hex(&raw)), "RESET")
            .await
            .unwrap();
        assert_eq!(stored(&out)["bizId"], AttributeValue::S(ann.biz_id.clone()));
        // Its marker lives in the user's links partition, never beside the profile.
        let partition = |pk: String| {
            let q = clients
                .dynamodb
                .query()
                .table_name(&cfg.table_name)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(pk));
            async move { q.send().await.unwrap().items.unwrap_or_default() }
        };
        let sks = |items: &[HashMap<String, AttributeValue>]| -> Vec<String> {
            items
                .iter()
                .map(|i| match &i["SK"] {
                    AttributeValue::S(sk) => sk.clone(),
                    other => panic!("{other:?}"),
                })
                .collect()
        };
        let profile_only = partition(format!("USER#{}", ann.biz_id)).await;
        assert_eq!(sks(&profile_only), ["PROFILE"]);
        let links = partition(format!("LINKS#{}", ann.biz_id)).await;
        assert_eq!(
            sks(&links),
            [format!("RESET#{:013}#{}", now + 60_000, sha256_hex(&raw))]
        );
        assert_eq!(
            links[0]["type"],
            AttributeValue::S("ResetTokenOfUser".into())
        );

        // A forgot request is one item of one size whatever the address,
        // the address sealed.
        let (short, long) = (
            "a@b.co".to_owned(),
            format!("{}@example.com", "x".repeat(60)),
        );
        for email in [&short, &long] {
            let request = ForgotRequest {
                id: shared::handlers::mail::new_id(),
                email: email.clone(),
                lang: "en".into(),
                requested_at_ms: now,
            };
            store.record_forgot(&request).await.unwrap();
        }
        let requests = partition("FORGOT#PENDING".into()).await;
        assert_eq!(requests.len(), 2);
        let size = |i: &HashMap<String, AttributeValue>| -> Vec<(String, usize)> {
            let mut v: Vec<(String, usize)> = i
                .iter()
                .map(|(k, v)| {
                    let len = match v {
                        AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                        AttributeValue::B(b) => b.as_ref().len(),
                        other => panic!("{other:?}"),
                    };
                    (k.clone(), len)
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(size(&requests[0]), size(&requests[1]));
        let mut values = Vec::new();
        requests
            .iter()
            .flat_map(|i| i.values())
            .for_each(|v| collect(v, &mut values));
        for email in [&short, &long] {
            assert!(!values.iter().any(|v| contains(v, email.as_bytes())));
        }
        let sk = sks(&requests)[0].clone();
        let loaded = store.forgot_request(&sk).await.unwrap().expect("pending");
        assert!(loaded.email == short || loaded.email == long);
        // A tampered sealed body fails to open rather than yielding text.
        clients
            .dynamodb
            .update_item()
            .table_name(&cfg.table_name)
            .key("PK", AttributeValue::S(format!("OUTBOX#{}", m.id)))
            .key("SK", AttributeValue::S("OUTBOX".into()))
            .update_expression("SET kind = :k")
            .expression_attribute_values(":k", AttributeValue::S("init".into()))
            .send()
            .await
            .unwrap();
        assert!(store.outbox_message(&m.id).await.is_err());
    }

    // ------------------------------------------------ send-mail stream

    /// DynamoDB JSON of an SDK attribute value, as a stream record carries it.
    fn ddb_json(v: &AttributeValue) -> Value {
        match v {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n }),
            AttributeValue::B(b) => {
                json!({ "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref()) })
            }
            AttributeValue::Bool(b) => json!({ "BOOL": b }),
            AttributeValue::Null(_) => json!({ "NULL": true }),
            AttributeValue::L(l) => json!({ "L": l.iter().map(ddb_json).collect::<Vec<_>>() }),
            AttributeValue::M(m) => json!({
                "M": m.iter().map(|(k, v)| (k.clone(), ddb_json(v))).collect::<serde_json::Map<_, _>>()
            }),
            other => panic!("unexpected attribute {other:?}"),
        }
    }

    fn record(seq: &str, name: &str, item: &HashMap<String, AttributeValue>) -> Value {
        let image: serde_json::Map<String, Value> =
            item.iter().map(|(k, v)| (k.clone(), ddb_json(v))).collect();
        json!({
            "eventID": format!("ev-{seq}"),
            "eventName": name,
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024",
            "dynamodb": {
                "ApproximateCreationDateTime": 1_700_000_000.0,
                "Keys": { "PK": ddb_json(&item["PK"]), "SK": ddb_json(&item["SK"]) },
                "NewImage": image,
                "SequenceNumber": seq,
                "SizeBytes": 512,
                "StreamViewType": "NEW_IMAGE"
            }
        })
    }

    async fn raw_item(
        cfg: &AwsConfig,
        clients: &AwsClients,
        pk: &str,
        sk: &str,
    ) -> HashMap<String, AttributeValue> {
        clients
            .dynamodb
            .get_item()
            .table_name(&cfg.table_name)
            .key("PK", AttributeValue::S(pk.into()))
            .key("SK", AttributeValue::S(sk.into()))
            .send()
            .await
            .unwrap()
            .item
            .expect("item")
    }

    async fn sent_to(endpoint: &str, to: &str) -> Vec<Value> {
        let data = http_get(endpoint, "/moto-api/data.json").await;
        let body = data.split_once("\r\n\r\n").unwrap().1;
        let json: Value = serde_json::from_str(body).unwrap();
        json["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| m["destinations"]["ToAddresses"][0] == to)
            .collect()
    }

    fn failures(resp: &aws_lambda_events::streams::DynamoDbEventResponse) -> Vec<String> {
        resp.batch_item_failures
            .iter()
            .filter_map(|f| f.item_identifier.clone())
            .collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn send_mail_stream_sends_each_message_once_and_reports_failures() {
        let emu = emulator();
        let (cfg, clients) = fresh("mailfn").await;
        let store = dynamo_account_store(&cfg, &clients).await;
        let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
        let now = now_ms();
        let (to1, to2) = (email(), email());
        let m1 = message(
            MailKind::Reset,
            &to1,
            &format!("https://r?token={}", token()),
            now,
        );
        let m2 = message(
            MailKind::Changed,
            &to2,
            "https://app.example.com/forgot",
            now + 1,
        );
        let change = AccountChange {
            outbox: vec![m1.clone(), m2.clone()],
            ..AccountChange::default()
        };
        assert_eq!(apply(&store, change, now).await, Ok(()));
        let item1 = raw_item(&cfg, &clients, &format!("OUTBOX#{}", m1.id), "OUTBOX").await;
        let item2 = raw_item(&cfg, &clients, &format!("OUTBOX#{}", m2.id), "OUTBOX").await;
        let marker = raw_item(
            &cfg,
            &clients,
            "OUTBOX#PENDING",
            &format!("{now:013}#{}", m1.id),
        )
        .await;
        let mut unknown = item1.clone();
        unknown.insert("PK".into(), AttributeValue::S("OUTBOX#m-unknown".into()));
        let batch: Event = serde_json::from_value(json!({ "Records": [
            record("100", "INSERT", &item1),
            record("101", "INSERT", &marker),
            record("102", "INSERT", &item2),
            record("103", "INSERT", &unknown),
            record("104", "MODIFY", &item1),
        ]}))
        .unwrap();

        let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch.clone()).await;
        assert_eq!(failures(&resp), vec!["103".to_owned()]);
        let sent = sent_to(&emu.endpoint, &to1).await;
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0]["subject"], "Your link");
        assert_eq!(sent_to(&emu.endpoint, &to2).await.len(), 1);
        assert!(store
            .outbox_message(&m1.id)
            .await
            .unwrap()
            .unwrap()
            .delivered_at_ms
            .is_some());
        let pending = store.pending_outbox().await.unwrap();
        assert!(pending.is_empty(), "{pending:?}");

        // The same batch retried sends nothing new.
        let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch).await;
        assert_eq!(failures(&resp), vec!["103".to_owned()]);
        assert_eq!(sent_to(&emu.endpoint, &to1).await.len(), 1);
        assert_eq!(sent_to(&emu.endpoint, &to2).await.len(), 1);

        // An SES failure is reported and releases the claim; the retry sends once.
        let to3 = email();
        let m3 = message(
            MailKind::Init,
            &to3,
            &format!("https://i?sid={}", token()),
            now,
        );
        let change = AccountChange {
            outbox: vec![m3.clone()],
            ..AccountChange::default()
        };
        assert_eq!(apply(&store, change, now).await, Ok(()));
        let item3 = raw_item(&cfg, &clients, &format!("OUTBOX#{}", m3.id), "OUTBOX").await;
        let batch: Event =
            serde_json::from_value(json!({ "Records": [record("200", "INSERT", &item3)] }))
                .unwrap();
        let broken = SesMailer::new(clients.ses.clone(), "nobody@unverified.test");
        let resp = mail_fn::handle(&store, &broken, &Config::default(), batch.clone()).await;
        assert_eq!(failures(&resp), vec!["200".to_owned()]);
        assert!(sent_to(&emu.endpoint, &to3).await.is_empty());
        assert!(store
            .outbox_message(&m3.id)
            .await
            .unwrap()
            .unwrap()
            .delivered_at_ms
            .is_none());
        assert_eq!(store.pending_outbox().await.unwrap().len(), 1);
        let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch.clone()).await;
        assert!(failures(&resp).is_empty());
        let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch).await;
        assert!(failures(&resp).is_empty());
        assert_eq!(sent_to(&emu.endpoint, &to3).await.len(), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn send_mail_answers_each_forgot_request_once() {
        let (cfg, clients) = fresh("forgotfn").await;
        let store = dynamo_account_store(&cfg, &clients).await;
        let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
        let config = Config::default();
        let now = now_ms();
        let ann = user(&email(), now);
        assert_eq!(apply(&store, create(&ann), now).await, Ok(()));
        let mut records = Vec::new();
        for (seq, to) in [("300", ann.email.clone()), ("301", email())] {
            let request = ForgotRequest {
                id: shared::handlers::mail::new_id(),
                email: to,
                lang: "en".into(),
                requested_at_ms: now,
            };
            store.record_forgot(&request).await.unwrap();
            let sk = format!("{now:013}#{}", request.id);
            let item = raw_item(&cfg, &clients, "FORGOT#PENDING", &sk).await;
            records.push(record(seq, "INSERT", &item));
        }
        let batch: Event = serde_json::from_value(json!({ "Records": records })).unwrap();
        let resp = mail_fn::handle(&store, &mailer, &config, batch.clone()).await;
        assert!(failures(&resp).is_empty());
        // The active account got one reset message (sent when its own record
        // comes through); the unknown address nothing; both requests are gone.
        let pending = store.pending_outbox().await.unwrap();
        assert_eq!(pending.len(), 1, "{pending:?}");
        assert_eq!(
            (pending[0].kind, pending[0].to.as_str()),
            (MailKind::Reset, ann.email.as_str())
        );
        let raw = pending[0].link.split("token=").nth(1).unwrap().to_owned();
        let token = store.reset_token(&sha256_hex(&raw), now).await.unwrap();
        assert_eq!(token.unwrap().biz_id, ann.biz_id);
        assert!(store.pending_forgot().await.unwrap().is_empty());
        // The same batch again answers nothing twice.
        let resp = mail_fn::handle(&store, &mailer, &config, batch).await;
        assert!(failures(&resp).is_empty());
        assert_eq!(store.pending_outbox().await.unwrap().len(), 1);
    }

    // ------------------------------------------------ bootstrap + invite

    /// A fresh table with one SCv2 key, and the app every deployed function builds over it.
    async fn aws_app(tag: &str) -> (AwsConfig, AwsClients, KmsKeyStore, shared::App) {
        let (cfg, clients) = fresh(tag).await;
        let keys = KmsKeyStore::from_clients(&clients, &cfg);
        keys.rotate(
            "k1",
            Duration::from_secs(3600),
            Duration::from_secs(60),
            now_ms(),
        )
        .await
        .unwrap();
        let app = app_with(
            shared::routes::Needs::INVITE_USER,
            shared::config::Config::default(),
            &cfg,
            &clients,
        )
        .await
        .unwrap();
        (cfg, clients, keys, app)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invite_function_over_the_aws_app() {
        let emu = emulator();
        let (cfg, clients, keys, app) = aws_app("invite").await;
        // invite-user holds no SCv2 key.
        assert!(app.keys.keys().is_empty());
        let to = email();
        let out = aws_adapters::invite_fn::handle(
            &app,
            json!({ "email": to, "name": "Ann", "locale": "ja" }),
        )
        .await;
        assert_eq!(out["email"], to.as_str(), "{out}");
        assert_eq!(out["status"], "PendingPassword");
        let biz_id = out["bizId"].as_str().expect("bizId").to_owned();
        let user = app.accounts.user(&biz_id).await.unwrap().unwrap();
        assert_eq!(user.locale.as_deref(), Some("ja"));

        let dup =
            aws_adapters::invite_fn::handle(&app, json!({ "email": to, "name": "Bob" })).await;
        assert_eq!(dup["error"]["code"], "CONFLICT.CONCURRENT_UPDATE");
        let bad = aws_adapters::invite_fn::handle(
            &app,
            json!({ "email": email(), "name": "Eve", "role": "admin" }),
        )
        .await;
        assert_eq!(bad["error"]["code"], "VALIDATION.INVALID_PARAMETER");
        assert!(bad.get("bizId").is_none());

        // The init email waits in the outbox and is delivered by send-mail.
        let pending = app.accounts.pending_outbox().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].to, to);
        let store = aws_adapters::bootstrap::account_store(&cfg, &clients, &keys)
            .await
            .unwrap();
        let item = raw_item(
            &cfg,
            &clients,
            &format!("OUTBOX#{}", pending[0].id),
            "OUTBOX",
        )
        .await;
        let batch: Event =
            serde_json::from_value(json!({ "Records": [record("1", "INSERT", &item)] })).unwrap();
        let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
        assert!(
            failures(&mail_fn::handle(&store, &mailer, &Config::default(), batch).await).is_empty()
        );
        let sent = sent_to(&emu.endpoint, &to).await;
        assert_eq!(sent.len(), 1);
        assert!(app.accounts.pending_outbox().await.unwrap().is_empty());
    }

    // ------------------------------------------------ sweep-mail

    /// Outbox messages stored as a change would store them, left pending.
    async fn enqueue(store: &dyn AccountStore, outbox: Vec<OutboxMessage>, now: u64) {
        let change = AccountChange {
            outbox,
            ..AccountChange::default()
        };
        assert_eq!(apply(store, change, now).await, Ok(()));
    }

    async fn dead_letter_queue(cfg: &AwsConfig) -> (aws_sdk_sqs::Client, String) {
        let loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(&emulator().endpoint);
        let sqs = aws_sdk_sqs::Client::new(&AwsClients::sdk_config_with(cfg, loader).await);
        let url = sqs
            .create_queue()
            .queue_name(unique("mail-dlq"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        (sqs, url)
    }

    /// What the stream's OnFailure destination leaves: a pointer, not the message.
    async fn dead_letter(sqs: &aws_sdk_sqs::Client, url: &str, seq: &str) {
        let body = json!({"DDBStreamBatchInfo": {"shardId": "shardId-1",
            "startSequenceNumber": seq, "endSequenceNumber": seq, "batchSize": 1}});
        sqs.send_message()
            .queue_url(url)
            .message_body(body.to_string())
            .send()
            .await
            .unwrap();
    }

    /// Dead letters still in the queue, visible or hidden by a reader.
    async fn queued(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap();
        let attrs = out.attributes.unwrap_or_default();
        [
            A::ApproximateNumberOfMessages,
            A::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|a| attrs.get(a).map_or(0, |v| v.parse::<u64>().unwrap()))
        .sum()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sweep_sends_each_pending_message_once_and_drains_dead_letters() {
        use aws_adapters::sweep::{sweep, DeadLetters, SweepReport};
        let emu = emulator();
        let (cfg, clients) = fresh("sweep").await;
        let store = dynamo_account_store(&cfg, &clients).await;
        let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
        let (sqs, url) = dead_letter_queue(&cfg).await;
        let dead_letters = DeadLetters::new(sqs.clone(), &url);
        let config = Config::default();
        let now = now_ms();

        // A forgot request whose stream record ended among the dead letters:
        // the sweep answers it, and its reset email goes out in the same run.
        let ann = user(&email(), now);
        assert_eq!(apply(&store, create(&ann), now).await, Ok(()));
        store
            .record_forgot(&ForgotRequest {
                id: shared::handlers::mail::new_id(),
                email: ann.email.clone(),
                lang: "en".into(),
                requested_at_ms: now,
            })
            .await
            .unwrap();

        // Two messages the stream never delivered, one it did.
        let (to1, to2, to3) = (email(), email(), email());
        let m1 = message(
            MailKind::Reset,
            &to1,
            &format!("https://r#token={}", token()),
            now,
        );
        let m2 = message(
            MailKind::Changed,
            &to2,
            "https://app.example.com/forgot",
            now + 1,
        );
        let m3 = message(
            MailKind::Init,
            &to3,
            &format!("https://i#sid={}", token()),
            now + 2,
        );
        enqueue(&store, vec![m1.clone(), m2.clone(), m3.clone()], now).await;
        assert_eq!(
            mail_fn::deliver_message(&store, &mailer, &m3.id)
                .await
                .unwrap(),
            mail_fn::Delivery::Sent
        );
        dead_letter(&sqs, &url, "100").await;
        dead_letter(&sqs, &url, "101").await;

        // Two runs at once: each message goes out once, the dead letters once.
        let (a, b) = tokio::join!(
            sweep(&store, &mailer, &config, &dead_letters),
            sweep(&store, &mailer, &config, &dead_letters)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.forgot_answered + b.forgot_answered, 1, "{a:?} {b:?}");
        assert!(store.pending_forgot().await.unwrap().is_empty());
        let reset_mail = sent_to(&emu.endpoint, &ann.email).await;
        assert_eq!(
            reset_mail.len(),
            1,
            "one reset email for the answered request"
        );
        assert_eq!(a.sent + b.sent, 3, "{a:?} {b:?}");
        assert_eq!(a.failed + b.failed, 0, "{a:?} {b:?}");
        assert_eq!(a.dead_letters_read + b.dead_letters_read, 2, "{a:?} {b:?}");
        assert_eq!(
            a.dead_letters_deleted + b.dead_letters_deleted,
            2,
            "{a:?} {b:?}"
        );
        assert_eq!(sent_to(&emu.endpoint, &to1).await.len(), 1);
        assert_eq!(sent_to(&emu.endpoint, &to2).await.len(), 1);
        assert_eq!(sent_to(&emu.endpoint, &to3).await.len(), 1);
        assert!(store.pending_outbox().await.unwrap().is_empty());
        assert_eq!(queued(&sqs, &url).await, 0);

        // A run with nothing to do does nothing.
        let idle = sweep(&store, &mailer, &config, &dead_letters)
            .await
            .unwrap();
        assert_eq!(idle, SweepReport::default());
        assert_eq!(sent_to(&emu.endpoint, &to1).await.len(), 1);

        // SES refuses: the message stays pending and the dead letter stays
        // queued; the next run sends it once.
        let to4 = email();
        let m4 = message(
            MailKind::Reset,
            &to4,
            &format!("https://r#token={}", token()),
            now,
        );
        enqueue(&store, vec![m4.clone()], now).await;
        dead_letter(&sqs, &url, "200").await;
        let broken = SesMailer::new(clients.ses.clone(), "nobody@unverified.test");
        let failed = sweep(&store, &broken, &config, &dead_letters)
            .await
            .unwrap();
        assert_eq!(
            failed,
            SweepReport {
                dead_letters_read: 1,
                failed: 1,
                ..SweepReport::default()
            }
        );
        assert!(sent_to(&emu.endpoint, &to4).await.is_empty());
        assert_eq!(
            queued(&sqs, &url).await,
            1,
            "a dead letter is kept while mail fails"
        );
        assert_eq!(store.pending_outbox().await.unwrap().len(), 1);
        let retried = sweep(&store, &mailer, &config, &dead_letters)
            .await
            .unwrap();
        assert_eq!(retried.sent, 1, "{retried:?}");
        assert_eq!(sent_to(&emu.endpoint, &to4).await.len(), 1);
        assert!(store.pending_outbox().await.unwrap().is_empty());
    }

    // ------------------------------------------------ first user (docs/deployment.md)

    /// The `## First user` section of the deployment guide: the invitation
    /// event of its heredoc and the command that sends it.
    fn documented_first_user() -> (Value, String) {
        let doc = std::fs::read_to_string(root().join("docs/deployment.md")).unwrap();
        let section = doc
            .split("\n## ")
            .find(|s| s.starts_with("First user\n"))
            .expect("docs/deployment.md has a `## First user` section");
        let (_, rest) = section
            .split_once("cat > first-user.json <<'EOF'\n")
            .expect("the event is written to first-user.json by a heredoc");
        let (event, command) = rest.split_once("\nEOF\n").expect("heredoc end");
        (serde_json::from_str(event).unwrap(), command.to_owned())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn first_user_event_of_the_deployment_guide() {
        let (event, command) = documented_first_user();
        assert!(
            command.contains("aws lambda invoke")
                && command.contains("--payload fileb://first-user.json")
                && command.contains("InviteUserFunctionArn"),
            "the guide invokes invite-user with the file it wrote: {command}"
        );
        let (_, _, _, app) = aws_app("first-user").await;
        let out = aws_adapters::invite_fn::handle(&app, event.clone()).await;
        assert_eq!(out["email"], event["email"], "{out}");
        assert_eq!(out["status"], "PendingPassword", "{out}");
        let biz_id = out["bizId"].as_str().expect("bizId");
        let user = app.accounts.user(biz_id).await.unwrap().unwrap();
        assert_eq!(user.name, event["name"].as_str().unwrap());
        assert_eq!(user.locale.as_deref(), event["locale"].as_str());
        assert!(user.password.is_none());
        let pending = app.accounts.pending_outbox().await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].kind, MailKind::Init);
        assert_eq!(pending[0].to, event["email"].as_str().unwrap());
        assert!(
            pending[0].link.starts_with(&app.config.links.init_url),
            "{}",
            pending[0].link
        );
    }
}

// ------------------------------------------- least privilege per route

/// Each function's cold start over the real adapters against the emulator,
/// with a KMS client that refuses every call its role is not granted (as
/// IAM would) and a DynamoDB client that records what the cold start touches.
mod least_privilege {
    use super::*;
    use aws_adapters::admin::{init_keys_with, FirstKey};
    use aws_adapters::bootstrap::{app_with, ColdStartAccess};
    use aws_sdk_kms::config::interceptors::BeforeSerializationInterceptorContextRef;
    use aws_sdk_kms::config::{ConfigBag, Intercept};
    use aws_sdk_kms::error::BoxError;
    use shared::ports::accounts::{AccountChange, MailKind, OutboxMessage};
    use shared::routes::{Needs, Route};
    use std::sync::Mutex;

    /// Allows `kms:Decrypt` for `allowed` purposes only; records every call.
    #[derive(Debug, Clone)]
    struct KmsGate {
        allowed: Vec<&'static str>,
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl Intercept for KmsGate {
        fn name(&self) -> &'static str {
            "kms-gate"
        }

        fn read_before_execution(
            &self,
            context: &BeforeSerializationInterceptorContextRef<'_>,
            _cfg: &mut ConfigBag,
        ) -> Result<(), BoxError> {
            let input = context.input();
            let call = match input.downcast_ref::<aws_sdk_kms::operation::decrypt::DecryptInput>() {
                Some(d) => {
                    let purpose = d
                        .encryption_context()
                        .and_then(|c| c.get("purpose"))
                        .cloned()
                        .unwrap_or_default();
                    let allowed = self.allowed.contains(&purpose.as_str());
                    self.seen.lock().unwrap().push(format!("Decrypt {purpose}"));
                    if allowed {
                        return Ok(());
                    }
                    format!("kms:Decrypt {purpose}")
                }
                None => {
                    self.seen.lock().unwrap().push("other".into());
                    "a KMS call other than Decrypt".into()
                }
            };
            Err(format!("AccessDenied: {call} not granted").into())
        }
    }

    /// Records `<operation> <partition>` of every DynamoDB call.
    #[derive(Debug, Clone, Default)]
    struct TableLog {
        seen: Arc<Mutex<Vec<String>>>,
    }

    impl aws_sdk_dynamodb::config::Intercept for TableLog {
        fn name(&self) -> &'static str {
            "table-log"
        }

        fn read_before_execution(
            &self,
            context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<'_>,
            _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
        ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
            use aws_sdk_dynamodb::operation::{
                get_item::GetItemInput, put_item::PutItemInput, query::QueryInput,
                update_item::UpdateItemInput,
            };
            let input = context.input();
            let pk = |m: Option<&HashMap<String, AttributeValue>>, k: &str| {
                m.and_then(|m| m.get(k))
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            let line = if let Some(i) = input.downcast_ref::<GetItemInput>() {
                format!("GetItem {}", pk(i.key(), "PK"))
            } else if let Some(i) = input.downcast_ref::<QueryInput>() {
                format!("Query {}", pk(i.expression_attribute_values(), ":pk"))
            } else if let Some(i) = input.downcast_ref::<PutItemInput>() {
                format!("PutItem {}", pk(i.item(), "PK"))
            } else if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
                format!("UpdateItem {}", pk(i.key(), "PK"))
            } else {
                "other".to_owned()
            };
            self.seen.lock().unwrap().push(line);
            Ok(())
        }
    }

    struct Gated {
        clients: AwsClients,
        kms: Arc<Mutex<Vec<String>>>,
        table: Arc<Mutex<Vec<String>>>,
    }

    async fn gated(cfg: &AwsConfig, allowed: &[&'static str]) -> Gated {
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(&emulator().endpoint)
            .timeout_config(cfg.timeout_config())
            .retry_config(cfg.retry_config())
            .load()
            .await;
        let gate = KmsGate {
            allowed: allowed.to_vec(),
            seen: Arc::default(),
        };
        let log = TableLog::default();
        let (kms, table) = (gate.seen.clone(), log.seen.clone());
        let clients = AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .interceptor(log)
                    .build(),
            ),
            kms: aws_sdk_kms::Client::from_conf(
                aws_sdk_kms::config::Builder::from(&sdk)
                    .interceptor(gate)
                    .build(),
            ),
            ses: aws_sdk_sesv2::Client::new(&sdk),
        };
        Gated {
            clients,
            kms,
            table,
        }
    }

    /// A table as `pwctl admin keys init --kid k1` leaves it, pepper `p1` included.
    async fn deployed(tag: &str) -> (AwsConfig, AwsClients) {
        let (cfg, clients) = fresh_empty(tag).await;
        let cfg = AwsConfig {
            pepper_id: Some("p1".into()),
            ..cfg
        };
        let first = FirstKey {
            kid: "k1".into(),
            lifetime: Duration::from_secs(3600),
        };
        init_keys_with(
            &KmsKeyStore::from_clients(&clients, &cfg),
            &cfg,
            Some(first),
            now_ms(),
        )
        .await
        .unwrap();
        (cfg, clients)
    }

    fn sorted(v: &Mutex<Vec<String>>) -> Vec<String> {
        let mut v = v.lock().unwrap().clone();
        v.sort();
        v
    }

    /// Every function's needs, named as in the template.
    fn functions() -> Vec<(String, Needs)> {
        let mut all: Vec<(String, Needs)> = Route::ALL
            .into_iter()
            .map(|r| (format!("{r:?}"), r.needs()))
            .collect();
        all.push(("invite-user".into(), Needs::INVITE_USER));
        all
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_cold_start_unseals_exactly_its_needs_and_writes_nothing() {
        let (cfg, _) = deployed("needs").await;
        for (name, needs) in functions() {
            let access = ColdStartAccess::of(needs);
            let g = gated(&cfg, &access.decrypt_purposes).await;
            let app = app_with(needs, shared::config::Config::default(), &cfg, &g.clients).await;
            assert!(app.is_ok(), "{name}: {:#}", app.err().unwrap());
            let mut want: Vec<String> = access
                .decrypt_purposes
                .iter()
                .map(|p| format!("Decrypt {p}"))
                .collect();
            want.sort();
            assert_eq!(sorted(&g.kms), want, "{name}: KMS calls");
            let mut reads: Vec<String> = access
                .secret_items
                .iter()
                .map(|pk| format!("GetItem {pk}"))
                .collect();
            reads.push("GetItem ACCOUNTS#NOOP".into());
            if access.keyring_query {
                reads.push("Query KEYRING#scv2".into());
            }
            reads.sort();
            assert_eq!(sorted(&g.table), reads, "{name}: DynamoDB calls");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn public_key_answers_with_a_kms_that_refuses_everything() {
        let (cfg, clients) = deployed("pubkey").await;
        let g = gated(&cfg, &[]).await;
        // Loading everything, as every cold start once did, is refused.
        assert!(app_with(
            Needs::ALL,
            shared::config::Config::default(),
            &cfg,
            &g.clients
        )
        .await
        .is_err());
        g.kms.lock().unwrap().clear();
        let app = app_with(
            Route::PublicKey.needs(),
            shared::config::Config::default(),
            &cfg,
            &g.clients,
        )
        .await
        .unwrap();
        let mut headers = http::HeaderMap::new();
        for (k, v) in [
            ("accept", "application/json"),
            ("x-client-hash", "h"),
            ("accept-language", "en"),
            ("cf-connecting-ip", "203.0.113.9"),
            ("cf-ray", "ray-1"),
            ("cf-ipcountry", "JP"),
        ] {
            headers.insert(k, http::HeaderValue::from_static(v));
        }
        let req = shared::http::ApiRequest {
            method: http::Method::GET,
            headers,
            body: bytes::Bytes::new(),
            fallback_request_id: None,
            source_ip: None,
        };
        let resp = shared::routes::serve_endpoint(&app, shared::routes::PUBLIC_KEY, req).await;
        assert_eq!(resp.status(), 200);
        let body: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        let ring = KmsKeyStore::from_clients(&clients, &cfg)
            .load_key_ring(now_ms())
            .await
            .unwrap();
        let published = base64::engine::general_purpose::STANDARD
            .decode(body["data"]["publicKey"].as_str().unwrap())
            .unwrap();
        assert_eq!(body["data"]["keyId"], "k1");
        assert_eq!(published, ring.active().public_spki_der());
        // Neither its cold start nor its request made a single KMS call.
        assert_eq!(sorted(&g.kms), Vec::<String>::new());
        assert!(app.keys.active().unwrap_session_key(&[0u8; 384]).is_err());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn create_session_can_neither_load_nor_use_the_outbox_key() {
        let (cfg, clients) = deployed("session").await;
        let needs = Route::CreateSession.needs();
        let g = gated(&cfg, &ColdStartAccess::of(needs).decrypt_purposes).await;
        let app = app_with(needs, shared::config::Config::default(), &cfg, &g.clients)
            .await
            .unwrap();
        assert!(!sorted(&g.kms)
            .iter()
            .any(|c| c.contains(PURPOSE_OUTBOX_DATA_KEY)));
        // Its KMS role refuses the outbox key outright.
        let keys = KmsKeyStore::from_clients(&g.clients, &cfg);
        assert!(keys.outbox_sealer("o1").await.is_err());
        // And its account store cannot write an outbox message.
        let message = OutboxMessage {
            id: unique("m"),
            kind: MailKind::Reset,
            to: "x@example.com".into(),
            subject: "s".into(),
            text: "t".into(),
            html: "h".into(),
            link: "https://r#token=secret".into(),
            created_at_ms: now_ms(),
        };
        let change = AccountChange {
            outbox: vec![message.clone()],
            ..AccountChange::default()
        };
        assert!(app.accounts.apply(change, now_ms()).await.is_err());
        let store = aws_adapters::bootstrap::account_store(
            &cfg,
            &clients,
            &KmsKeyStore::from_clients(&clients, &cfg),
        )
        .await
        .unwrap();
        assert!(store.outbox_message(&message.id).await.unwrap().is_none());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_key_stops_the_cold_start_naming_the_command() {
        let (cfg, clients) = fresh_empty("missing").await;
        let keys = KmsKeyStore::from_clients(&clients, &cfg);
        keys.rotate("k1", Duration::from_secs(3600), Duration::ZERO, now_ms())
            .await
            .unwrap();
        for (name, needs) in functions() {
            if needs.session_data_key || needs.outbox_data_key {
                let err = app_with(needs, shared::config::Config::default(), &cfg, &clients)
                    .await
                    .err()
                    .unwrap_or_else(|| panic!("{name} started without its data key"));
                assert!(
                    format!("{err:#}").contains("pwctl admin keys init"),
                    "{name}: {err:#}"
                );
            }
        }
        // The cold start created nothing.
        assert!(keys
            .load_secret(PURPOSE_SESSION_DATA_KEY, "d1", 32)
            .await
            .is_err());
        let lines = init_keys_with(&keys, &cfg, None, now_ms()).await.unwrap();
        assert!(lines.iter().any(|l| l.contains("created")), "{lines:?}");
        let again = init_keys_with(&keys, &cfg, None, now_ms()).await.unwrap();
        assert!(!again.iter().any(|l| l.contains("created")), "{again:?}");
        for (name, needs) in functions() {
            let app = app_with(needs, shared::config::Config::default(), &cfg, &clients).await;
            assert!(app.is_ok(), "{name}: {:#}", app.err().unwrap());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn key_items_without_a_public_key_are_backfilled_by_init() {
        let (cfg, clients) = deployed("backfill").await;
        let keys = KmsKeyStore::from_clients(&clients, &cfg);
        let pk = |sk: &str| {
            HashMap::from([
                ("PK".to_owned(), AttributeValue::S("KEYRING#scv2".into())),
                ("SK".to_owned(), AttributeValue::S(sk.into())),
            ])
        };
        // An item written before the public key was kept.
        clients
            .dynamodb
            .update_item()
            .table_name(&cfg.table_name)
            .set_key(Some(pk("KEY#k1")))
            .update_expression("REMOVE publicKey")
            .send()
            .await
            .unwrap();
        let err = keys.load_public_ring(now_ms()).await.unwrap_err();
        assert!(err.to_string().contains("pwctl admin keys init"), "{err}");
        let lines = init_keys_with(&keys, &cfg, None, now_ms()).await.unwrap();
        assert!(
            lines.contains(&"scv2 key k1: public key stored".to_owned()),
            "{lines:?}"
        );
        let public = keys.load_public_ring(now_ms()).await.unwrap();
        let private = keys.load_key_ring(now_ms()).await.unwrap();
        assert_eq!(
            public.active().public_spki_der(),
            private.active().public_spki_der()
        );

        // A stored public key that is not the private key's stops create-session.
        let (other, _) = ServerKey::generate("other", u64::MAX).unwrap();
        clients
            .dynamodb
            .update_item()
            .table_name(&cfg.table_name)
            .set_key(Some(pk("KEY#k1")))
            .update_expression("SET publicKey = :p")
            .expression_attribute_values(
                ":p",
                AttributeValue::B(other.public_spki_der().to_vec().into()),
            )
            .send()
            .await
            .unwrap();
        assert!(matches!(
            keys.load_key_ring(now_ms()).await.unwrap_err(),
            KeyStoreError::PublicKeyMismatch(_)
        ));
    }
}
