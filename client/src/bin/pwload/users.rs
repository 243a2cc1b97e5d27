//! Virtual users: seeded through local-api's `/_dev` routes, each with its
//! own address, SCv2 session, access token and current password.

use anyhow::{anyhow, bail, Context, Result};
use client::{Client, Identity, SecureSession};
use reqwest::Url;
use serde_json::{json, Value};

/// One virtual user's state between requests.
pub struct VirtualUser {
    pub index: usize,
    pub client: Client,
    pub session: SecureSession,
    pub email: String,
    pub token: String,
    pub password: String,
    /// The client address this user's requests come from (also the
    /// `clientIp` of its sign-ins).
    pub ip: String,
    biz_id: String,
    changes: u64,
    forgot_asked: u64,
    /// Every `wrong_every`th sign-in sends a wrong password (0: none).
    wrong_every: u32,
    sign_ins: u64,
    dev: Dev,
}

/// The `/_dev` routes of local-api (seeding and the test mailbox).
#[derive(Clone)]
pub struct Dev {
    http: reqwest::Client,
    base: Url,
}

impl Dev {
    pub fn new(base: Url) -> Dev {
        Dev {
            http: reqwest::Client::new(),
            base,
        }
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> Result<Value> {
        let resp = req.send().await.with_context(|| what.to_owned())?;
        let status = resp.status();
        let body: Value = resp.json().await.with_context(|| format!("{what}: body"))?;
        if !status.is_success() {
            bail!(
                "{what} answered {status} {}: is the target a local-api with its /_dev routes?",
                body["code"]
            );
        }
        Ok(body["data"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let url = self.base.join(path)?;
        self.send(self.http.post(url).json(&body), path).await
    }

    /// A fresh access token, issued after any password change so far.
    async fn token(&self, biz_id: &str) -> Result<String> {
        // A token from the same second as a change counts as older than it.
        let iat = now_secs() + 1;
        let d = self
            .post("/_dev/token", json!({"bizId": biz_id, "iat": iat}))
            .await?;
        Ok(d["accessToken"].as_str().context("accessToken")?.to_owned())
    }

    /// One sign-in check as the identity provider sends it: the HTTP status
    /// and the function's JSON answer, as they came.
    pub async fn verify_password(&self, body: &Value) -> Result<(u16, Value)> {
        let url = self.base.join(crate::run::VERIFY)?;
        let resp = self.http.post(url).json(body).send().await?;
        let status = resp.status().as_u16();
        Ok((status, resp.json().await?))
    }

    /// The reset token of the newest reset email sent to `email`.
    pub async fn reset_token(&self, email: &str) -> Result<String> {
        let url = self.base.join("/_dev/outbox")?;
        let mail = self.send(self.http.get(url), "/_dev/outbox").await?;
        let link = mail
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .find(|m| m["kind"] == "reset" && m["to"] == email)
            .and_then(|m| m["link"].as_str())
            .ok_or_else(|| anyhow!("no reset email for a virtual user"))?;
        let token = link
            .split(['#', '?', '&'])
            .find_map(|kv| kv.strip_prefix("token="))
            .context("reset link without a token")?;
        Ok(token.to_owned())
    }
}

/// A strong password no earlier one repeats: three words and a counter.
pub fn fresh_password(user: usize, n: u64) -> String {
    const WORDS: [&str; 16] = [
        "velvet", "otter", "harbor", "quartz", "lantern", "meadow", "copper", "falcon", "nimbus",
        "saffron", "tundra", "marble", "heron", "orchard", "puffin", "granite",
    ];
    let k = user.wrapping_mul(7).wrapping_add(n as usize);
    format!(
        "{} {} {} {user}-{n}",
        WORDS[k % 16],
        WORDS[(k / 16 + 5) % 16],
        WORDS[(k / 256 + 11) % 16]
    )
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl VirtualUser {
    /// Seeds user `index` of run `run` (an active user with a password),
    /// with its own client address, and opens its SCv2 session. Every
    /// `wrong_every`th of its sign-ins will use a wrong password (0: none).
    pub async fn seed(dev: &Dev, run: u64, index: usize, wrong_every: u32) -> Result<VirtualUser> {
        let email = format!("load-{run}-{index}@example.com");
        let password = fresh_password(index, 0);
        let d = dev
            .post(
                "/_dev/users",
                json!({"email": email, "name": "Load Tester", "password": password}),
            )
            .await?;
        let biz_id = d["bizId"].as_str().context("bizId")?.to_owned();
        let token = dev.token(&biz_id).await?;
        // 198.18.0.0/15 is set aside for benchmarks (RFC 2544): one address
        // per user keeps the per-IP buckets apart.
        let ip = format!("198.18.{}.{}", index / 250, index % 250 + 1);
        let client = Client::new(
            dev.base.as_str().trim_end_matches('/'),
            Identity {
                ip: ip.clone(),
                client_hash: format!("pwload-{index}"),
                ..Identity::default()
            },
        );
        let session = client.handshake().await.context("SCv2 handshake")?;
        Ok(VirtualUser {
            index,
            client,
            session,
            email,
            token,
            password,
            ip,
            biz_id,
            changes: 0,
            forgot_asked: 0,
            wrong_every,
            sign_ins: 0,
            dev: dev.clone(),
        })
    }

    /// The next password this user will set.
    pub fn next_password(&mut self) -> String {
        self.changes += 1;
        fresh_password(self.index, self.changes)
    }

    /// Whether this user's next forgot request names its own email (known)
    /// or an address no user has (unknown): they alternate.
    pub fn next_forgot_is_known(&mut self) -> bool {
        self.forgot_asked += 1;
        self.forgot_asked % 2 == 1
    }

    /// The password for this user's next sign-in: the current one, except
    /// every `wrong_every`th time. With
    /// `wrong_every` at 2 or more a wrong attempt always follows a right
    /// one, whose success cleared the failure count, so no account gets
    /// near the lock (5 consecutive failures).
    pub fn next_verify_password(&mut self) -> String {
        self.sign_ins += 1;
        let every = u64::from(self.wrong_every);
        if every > 0 && self.sign_ins.is_multiple_of(every) {
            format!("not {}", self.password)
        } else {
            self.password.clone()
        }
    }

    /// After its password changed: remember it, and get a token the change
    /// did not revoke.
    pub async fn password_changed(&mut self, new: String) -> Result<()> {
        self.password = new;
        self.token = self.dev.token(&self.biz_id).await?;
        Ok(())
    }

    pub fn dev(&self) -> &Dev {
        &self.dev
    }
}
