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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn invite_function_over_the_aws_app() {
        let emu = emulator();
        let (cfg, clients) = fresh("invite").await;
        let keys = KmsKeyStore::from_clients(&clients, &cfg);
        keys.rotate(
            "k1",
            Duration::from_secs(3600),
            Duration::from_secs(60),
            now_ms(),
        )
        .await
        .unwrap();
        let app = app_with(shared::config::Config::default(), &cfg, &clients)
            .await
            .unwrap();
        assert_eq!(app.keys.active().kid(), "k1");
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
}
