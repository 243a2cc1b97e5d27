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
    KeyStoreError, KmsKeyStore, KmsSealer, Mailer, SealContext, SesMailer, PURPOSE_PASSWORD_PEPPER,
    PURPOSE_SCV2_PRIVATE_KEY,
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

/// A fresh table of its own for one test.
async fn fresh(tag: &str) -> (AwsConfig, AwsClients) {
    let emu = emulator();
    let cfg = config(&unique(tag), &emu.kms_key_id, &emu.sender, "3000");
    let clients = clients_at(&cfg, &emu.endpoint).await;
    ensure_table(&clients.dynamodb, &cfg.table_name)
        .await
        .unwrap();
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

async fn check_rate_limiter(limiter: Arc<dyn RateLimiter>) {
    let limit = Limit {
        max: 5,
        window_secs: 60,
    };
    // Middle of a window so all 50 hits share it.
    let now = now_ms() / 60_000 * 60_000 + 30_000;
    let key = unique("ip");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (l, key) = (limiter.clone(), key.clone());
        tasks.spawn(async move { l.hit("login", &key, limit, now).await.unwrap() });
    }
    let (mut allowed, mut limited) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        match r.unwrap() {
            RateDecision::Allowed => allowed += 1,
            RateDecision::Limited { retry_after_secs } => {
                assert_eq!(retry_after_secs, 30);
                limited += 1;
            }
        }
    }
    assert_eq!((allowed, limited), (5, 45));
    // Other key, other bucket and the next window start from zero.
    assert_eq!(
        limiter
            .hit("login", &unique("ip"), limit, now)
            .await
            .unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        limiter.hit("reset", &key, limit, now).await.unwrap(),
        RateDecision::Allowed
    );
    assert_eq!(
        limiter
            .hit("login", &key, limit, now + 60_000)
            .await
            .unwrap(),
        RateDecision::Allowed
    );
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
    let cfg = config(&emu.table, &emu.kms_key_id, &emu.sender, "3000");
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
async fn secrets_are_created_once_then_unsealed() {
    let (cfg, clients) = fresh("secret").await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    let a = keys
        .load_or_create_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
        .await
        .unwrap();
    let b = keys
        .load_or_create_secret(PURPOSE_PASSWORD_PEPPER, "p1", 32)
        .await
        .unwrap();
    assert_eq!(a.as_slice(), b.as_slice());
    let c = keys
        .load_or_create_secret(PURPOSE_PASSWORD_PEPPER, "p2", 32)
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
    let cfg = config(&emu.table, &emu.kms_key_id, &emu.sender, "3000");
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
    let pepper = keys
        .load_or_create_secret(PURPOSE_PASSWORD_PEPPER, "p", 32)
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
    // No PKCS#8 RSA key at all: the rsaEncryption AlgorithmIdentifier never
    // appears, raw or in a base64/hex string.
    let rsa_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
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
    let cfg = config(&emu.table, &emu.kms_key_id, &emu.sender, "3000");
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
        "3000",
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
    let cfg = config(&emu.table, &emu.kms_key_id, &emu.sender, "3000");
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
