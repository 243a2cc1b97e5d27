//! A local-api on a loopback port and a client speaking real SCv2 to it.
//! Every answer a client made here receives is held against docs/openapi.yaml.

use std::net::SocketAddr;

use client::{Client, Identity, Reply};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use shared::channel::{KeyRing, ServerKey};
use shared::config::Config;
use shared::ports::accounts::User;
use shared::ports::Limit;

use crate::contract;

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

    /// The account `biz_id` as stored.
    pub async fn stored_user(&self, biz_id: &str) -> User {
        self.local.app.accounts.user(biz_id).await.unwrap().unwrap()
    }

    /// How many emails of `kind` (`reset`, `init`, `changed`) went out.
    pub async fn sent(&self, kind: &str) -> usize {
        self.outbox()
            .await
            .iter()
            .filter(|m| m["kind"] == kind)
            .count()
    }

    pub async fn outbox(&self) -> Vec<Value> {
        self.dev("/_dev/outbox", None)
            .await
            .as_array()
            .unwrap()
            .clone()
    }
}

/// `config` with the forgot limits lifted, for runs of many forgot requests.
pub fn without_forgot_limits(mut config: Config) -> Config {
    let wide = Limit {
        max: u32::MAX,
        window_secs: 1,
    };
    config.limits.forgot_per_ip = wide;
    config.limits.forgot_per_email = wide;
    config
}

pub fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
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
