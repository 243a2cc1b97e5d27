//! Test support for the adapters against the local AWS emulator (moto),
//! started on demand through `infra/emulator.sh up` once per test binary
//! (feature `testing`). Each test works in its own table (or under random
//! ids), so tests and runs never collide.

use std::collections::HashMap;
use std::sync::OnceLock;

use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;

pub use shared::testing::conformance::{now_ms, random_key, session, unique};

use crate::table::ensure_table;
use crate::{
    AwsClients, AwsConfig, DynamoAccountStore, DynamoSessionStore, KmsKeyStore,
    PURPOSE_OUTBOX_DATA_KEY, PURPOSE_SESSION_DATA_KEY,
};

/// The running emulator, as `infra/emulator.sh env` describes it.
pub struct Emulator {
    pub endpoint: String,
    pub kms_key_id: String,
    pub sender: String,
    pub table: String,
}

pub use test_support::{root, EMULATOR_TIMEOUT_MS};

/// Starts (if needed) and bootstraps the emulator once per test binary.
pub fn emulator() -> &'static Emulator {
    static EMU: OnceLock<Emulator> = OnceLock::new();
    EMU.get_or_init(|| {
        let vars: HashMap<String, String> = test_support::emulator_env();
        Emulator {
            endpoint: vars["AWS_ENDPOINT_URL"].clone(),
            kms_key_id: vars["KMS_KEY_ID"].clone(),
            sender: vars["SES_FROM_ADDRESS"].clone(),
            table: vars["TABLE_NAME"].clone(),
        }
    })
}

pub fn config(table: &str, kms_key_id: &str, sender: &str, op_timeout_ms: u64) -> AwsConfig {
    let vars: HashMap<&str, String> = [
        ("TABLE_NAME", table.to_owned()),
        ("KMS_KEY_ID", kms_key_id.to_owned()),
        ("SES_FROM_ADDRESS", sender.to_owned()),
        ("AWS_OPERATION_TIMEOUT_MS", op_timeout_ms.to_string()),
    ]
    .into_iter()
    .collect();
    AwsConfig::from_lookup(|k| vars.get(k).cloned()).unwrap()
}

pub async fn clients_at(cfg: &AwsConfig, endpoint: &str) -> AwsClients {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint);
    AwsClients::from_loader(cfg, loader).await
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A fresh, empty table of its own for one test.
pub async fn fresh_empty(tag: &str) -> (AwsConfig, AwsClients) {
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
pub async fn fresh(tag: &str) -> (AwsConfig, AwsClients) {
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

/// A fresh table as a deploy and `pwctl admin keys init --kid k1` leave
/// it: data keys, pepper `p1`, and the first SCv2 key.
pub async fn deployed(tag: &str) -> (AwsConfig, AwsClients) {
    let (cfg, clients) = fresh_empty(tag).await;
    let cfg = AwsConfig {
        pepper_id: Some("p1".into()),
        ..cfg
    };
    let first = crate::admin::FirstKey {
        kid: "k1".into(),
        lifetime: std::time::Duration::from_secs(3600),
    };
    let now_ms = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_millis(),
    )
    .expect("ms fit in u64");
    crate::admin::init_keys_with(
        &KmsKeyStore::from_clients(&clients, &cfg),
        &cfg,
        Some(first),
        now_ms,
    )
    .await
    .unwrap();
    (cfg, clients)
}

/// Cognito's documented event JSON of trigger `name`
/// (`tests/data/cognito/<name>.json`), for the pool user `user_name` with
/// `email`, answering `answer` (the verify trigger's challenge answer).
pub fn cognito_event(name: &str, user_name: &str, email: &str, answer: &str) -> serde_json::Value {
    let path = format!(
        "{}/tests/data/cognito/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).unwrap();
    let filled = text
        .replace("{userName}", user_name)
        .replace("{email}", email)
        .replace("{answer}", answer);
    serde_json::from_str(&filled).unwrap()
}

pub async fn dynamo_session_store(cfg: &AwsConfig, clients: &AwsClients) -> DynamoSessionStore {
    let keys = KmsKeyStore::from_clients(clients, cfg);
    let sealer = keys.session_sealer("d1").await.unwrap();
    DynamoSessionStore::new(clients.dynamodb.clone(), &cfg.table_name, sealer)
}

/// The account store over a [`fresh`] table, with its outbox key.
pub async fn dynamo_account_store(cfg: &AwsConfig, clients: &AwsClients) -> DynamoAccountStore {
    let keys = KmsKeyStore::from_clients(clients, cfg);
    let sealer = keys.outbox_sealer("o1").await.unwrap();
    DynamoAccountStore::new(
        clients.dynamodb.clone(),
        &cfg.table_name,
        sealer,
        std::sync::Arc::new(shared::adapters::memory::SystemClock),
    )
}

/// The settings and clients of the bootstrapped stack (`infra/emulator.sh
/// env`: its table, KMS key and sender).
pub async fn bootstrapped() -> (AwsConfig, AwsClients) {
    let emu = emulator();
    let cfg = config(
        &emu.table,
        &emu.kms_key_id,
        &emu.sender,
        EMULATOR_TIMEOUT_MS,
    );
    let clients = clients_at(&cfg, &emu.endpoint).await;
    (cfg, clients)
}

// ------------------------------------------------ no secret at rest

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.len() <= hay.len() && hay.windows(needle.len()).any(|w| w == needle)
}

pub fn collect(v: &AttributeValue, bytes: &mut Vec<Vec<u8>>) {
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
pub fn encodings(secret: &[u8]) -> Vec<Vec<u8>> {
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

pub async fn scan_values(cfg: &AwsConfig, clients: &AwsClients) -> (usize, Vec<Vec<u8>>) {
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

pub async fn http_get(endpoint: &str, path: &str) -> String {
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
