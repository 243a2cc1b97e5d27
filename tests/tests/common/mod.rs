//! A local-api on a loopback port and a client speaking real SCv2 to it.
//! Every answer a client made here receives is held against docs/openapi.yaml.
#![allow(dead_code)]

pub mod contract;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use client::{Client, Identity, Reply, SecureSession};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use shared::channel::{BodyForm, KeyRing, ServerKey};
use shared::config::Config;

pub const CHANGE: &str = "/web/v1/system/auth/password/change";
pub const STATUS: &str = "/web/v1/system/auth/password/status";
pub const INIT: &str = "/web/v1/system/auth/password/init";
pub const FORGOT: &str = "/web/v1/system/auth/password/forgot";
pub const RESET: &str = "/web/v1/system/auth/password/reset";

pub const STRONG: &str = "velvet-Orbit-harbor-91";
pub const STRONG_2: &str = "quartz lantern meadow 57";
pub const STRONG_3: &str = "Copper!Falcon!Nimbus!3";

pub struct Server {
    pub url: String,
    pub local: local_api::Local,
    pub http: reqwest::Client,
}

impl Server {
    pub async fn start() -> Server {
        Self::start_with(Config::default()).await
    }

    pub async fn start_with(config: Config) -> Server {
        let keys = KeyRing::single(ServerKey::generate("k-e2e", u64::MAX / 2).unwrap().0);
        Self::serve(local_api::Local::new(config, keys).unwrap()).await
    }

    /// Serves a prepared app (any adapters) on a loopback port.
    pub async fn serve(local: local_api::Local) -> Server {
        let addr = local_api::spawn(local.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        Server {
            url: format!("http://{addr}"),
            local,
            http: reqwest::Client::new(),
        }
    }

    pub fn client(&self, ip: &str) -> Client {
        contract::checked(Client::new(
            &self.url,
            Identity {
                ip: ip.into(),
                ..Identity::default()
            },
        ))
    }

    async fn dev(&self, path: &str, body: Option<Value>) -> Value {
        let (method, req) = match body {
            Some(b) => (
                "POST",
                self.http.post(format!("{}{path}", self.url)).json(&b),
            ),
            None => ("GET", self.http.get(format!("{}{path}", self.url))),
        };
        let (_, _, resp) =
            contract::checked_response(method, path, req.send().await.unwrap()).await;
        assert_eq!(resp["success"], true, "{path}: {resp}");
        resp["data"].clone()
    }

    /// An active user with a password; returns its bizId.
    pub async fn user(&self, email: &str, password: &str) -> String {
        let d = self
            .dev(
                "/_dev/users",
                Some(json!({"email": email, "name": "Test User", "password": password})),
            )
            .await;
        d["bizId"].as_str().unwrap().to_owned()
    }

    /// A pending user (no password); returns (bizId, initSessionId).
    pub async fn pending_user(&self, email: &str, name: &str) -> (String, String) {
        let d = self
            .dev("/_dev/users", Some(json!({"email": email, "name": name})))
            .await;
        (
            d["bizId"].as_str().unwrap().to_owned(),
            d["initSessionId"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn token(&self, biz_id: &str) -> String {
        let d = self
            .dev("/_dev/token", Some(json!({"bizId": biz_id})))
            .await;
        d["accessToken"].as_str().unwrap().to_owned()
    }

    pub async fn token_at(&self, biz_id: &str, iat: u64) -> String {
        let d = self
            .dev("/_dev/token", Some(json!({"bizId": biz_id, "iat": iat})))
            .await;
        d["accessToken"].as_str().unwrap().to_owned()
    }

    pub async fn outbox(&self) -> Vec<Value> {
        self.dev("/_dev/outbox", None)
            .await
            .as_array()
            .unwrap()
            .clone()
    }
}

pub fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

pub async fn call(
    client: &Client,
    session: &SecureSession,
    route: &str,
    body: Value,
    extra: HeaderMap,
) -> Reply {
    client
        .call(session, "POST", route, &body, BodyForm::Raw, extra)
        .await
        .unwrap()
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// An answer with the fields that differ on every request (timestamp,
/// request id) blanked, for comparing two answers.
pub fn comparable(r: &Reply) -> (u16, Value) {
    let mut b = r.body.clone();
    b["timestamp"] = json!(0);
    b["requestId"] = json!("");
    (r.status, b)
}

/// The parameter `name` of an emailed link (its fragment, or its query).
pub fn query(link: &str, name: &str) -> String {
    let q = link.split_once(['#', '?']).unwrap().1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}

/// The newest emailed link of `kind` (`reset`, `init`, `changed`), waiting
/// a bounded time for the outbox to deliver it.
pub async fn wait_for_link(s: &Server, kind: &str) -> String {
    for _ in 0..100 {
        if let Some(m) = s.outbox().await.iter().rev().find(|m| m["kind"] == kind) {
            return m["link"].as_str().unwrap().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no {kind} email was delivered");
}

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Bound of one call against the emulator in tests that are not about
/// timeouts: it serializes every request, so a busy run can queue a call
/// for seconds past the production default.
pub const EMULATOR_TIMEOUT_MS: u64 = 20_000;

/// A table of its own on the emulator at `endpoint` (the emulator itself
/// or a proxy in front of it), with an SCv2 key: the AWS settings and clients.
pub async fn aws_stack(
    tag: &str,
    endpoint: &str,
    operation_timeout_ms: u64,
) -> (aws_adapters::AwsConfig, aws_adapters::AwsClients) {
    use aws_sdk_dynamodb::config::Credentials;
    let emu = emulator_env();
    let mut random = [0u8; 6];
    aws_lc_rs::rand::fill(&mut random).unwrap();
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let table = format!("{tag}-{}-{random}", std::process::id());
    let vars: HashMap<&str, String> = [
        ("TABLE_NAME", table.clone()),
        ("KMS_KEY_ID", emu["KMS_KEY_ID"].clone()),
        ("SES_FROM_ADDRESS", emu["SES_FROM_ADDRESS"].clone()),
        ("AWS_OPERATION_TIMEOUT_MS", operation_timeout_ms.to_string()),
    ]
    .into_iter()
    .collect();
    let aws = aws_adapters::AwsConfig::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let clients_with = |aws: aws_adapters::AwsConfig| async move {
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(endpoint);
        aws_adapters::AwsClients::from_loader(&aws, loader).await
    };
    let clients = clients_with(aws.clone()).await;
    // The deploy-time steps run with a generous bound: the test's own bound
    // is for the requests under test, not for a busy emulator's setup.
    let mut setup_vars = vars.clone();
    setup_vars.insert("AWS_OPERATION_TIMEOUT_MS", EMULATOR_TIMEOUT_MS.to_string());
    let setup_aws = aws_adapters::AwsConfig::from_lookup(|k| setup_vars.get(k).cloned()).unwrap();
    let setup = clients_with(setup_aws.clone()).await;
    aws_adapters::table::ensure_table(&setup.dynamodb, &table)
        .await
        .unwrap();
    // What `pwctl admin keys init --kid k-e2e` does after a deploy.
    let first = aws_adapters::admin::FirstKey {
        kid: "k-e2e".into(),
        lifetime: std::time::Duration::from_secs(3600),
    };
    aws_adapters::admin::init_keys_with(
        &aws_adapters::KmsKeyStore::from_clients(&setup, &setup_aws),
        &setup_aws,
        Some(first),
        now_secs() * 1000,
    )
    .await
    .unwrap();
    (aws, clients)
}

/// The AWS app over `clients` behind local-api's front (dev token signer,
/// mail kept in the local mailbox).
pub async fn aws_local(
    aws: &aws_adapters::AwsConfig,
    clients: &aws_adapters::AwsClients,
) -> local_api::Local {
    aws_local_with(Config::default(), aws, clients).await
}

pub async fn aws_local_with(
    mut config: Config,
    aws: &aws_adapters::AwsConfig,
    clients: &aws_adapters::AwsClients,
) -> local_api::Local {
    let signer = local_api::DevSigner::generate().unwrap();
    config.jwt.jwks_json = Some(signer.jwks().to_owned());
    // local-api serves every route from one process: it holds every key.
    let app = aws_adapters::bootstrap::app_with(shared::routes::Needs::ALL, config, aws, clients)
        .await
        .unwrap();
    local_api::Local::over(app, signer)
}

/// Starts and bootstraps the local AWS emulator (`infra/emulator.sh up`,
/// idempotent) and returns the variables of `infra/emulator.sh env`.
pub fn emulator_env() -> HashMap<String, String> {
    let emulator = |verb: &str| {
        Command::new("bash")
            .arg(root().join("infra/emulator.sh"))
            .arg(verb)
            .output()
            .unwrap()
    };
    let up = emulator("up");
    assert!(
        up.status.success(),
        "emulator.sh up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    String::from_utf8(emulator("env").stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
