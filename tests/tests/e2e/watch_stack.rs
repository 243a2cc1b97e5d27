//! The story suite against `make watch`: every function its own process under
//! `cargo lambda watch`, DynamoDB/KMS/SES on the local emulator, and the table
//! stream pumped into `send-mail`. Emails are read back from the emulator's SES.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use client::{Client, Identity};
use e2e_tests::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

/// `make watch`, stopped (with its children) when dropped.
struct Watch(Child);

impl Drop for Watch {
    fn drop(&mut self) {
        // the script runs in its own process group: end it whole
        let _ = Command::new("kill")
            .args(["--", &format!("-{}", self.0.id())])
            .status();
        let _ = self.0.wait();
    }
}

/// Every email the emulated SES accepted for `to`, as JSON text (from
/// infra/moto_serial_server.py's list, not the whole /moto-api/data.json dump).
async fn mails_to(endpoint: &str, to: &str) -> Vec<String> {
    let data: Value = reqwest::get(format!("{endpoint}/_emulator/ses/messages"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["destinations"].to_string().contains(to))
        .map(|m| m.to_string())
        .collect()
}

/// The first `base?name=value` link in the newest email to `to` that has one.
async fn wait_link(endpoint: &str, to: &str, marker: &str, seen: usize) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mails = mails_to(endpoint, to).await;
        if mails.len() > seen {
            let text = mails.last().unwrap().replace("\\u0026", "&");
            if let Some(start) = text.find(marker) {
                let tail = &text[start + marker.len()..];
                let end = tail
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
                    .unwrap_or(tail.len());
                return tail[..end].to_owned();
            }
        }
        assert!(Instant::now() < deadline, "no email for {to} with {marker}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stories_run_against_the_functions_as_separate_processes() {
    let root = root();
    let env = emulator_env();
    let endpoint = env["AWS_ENDPOINT_URL"].clone();

    // access tokens signed by a key the functions trust through JWT_JWKS
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "watch", "alg": "EdDSA",
        "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref())}]});
    let signing = EncodingKey::from_ed_der(pkcs8.as_ref());
    let token = |biz: &str, iat: u64| {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some("watch".into());
        jsonwebtoken::encode(
            &h,
            &json!({"sub": biz, "iat": iat, "exp": iat + 600,
                "iss": "https://id.example.com", "aud": "password-api"}),
            &signing,
        )
        .unwrap()
    };

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(root.join(".emulator/watch-test.log")).unwrap();
    let watch = Watch(
        Command::new("setsid")
            .arg("bash")
            .arg(root.join("infra/watch.sh"))
            .env("WATCH_PORT", port.to_string())
            // built once up front: an edit elsewhere in the tree must not
            // restart a function in the middle of the story
            .env("WATCH_RELOAD", "0")
            .env("JWT_JWKS", jwks.to_string())
            .env("JWT_ISSUER", "https://id.example.com")
            .env("JWT_AUDIENCE", "password-api")
            .env("AWS_OPERATION_TIMEOUT_MS", EMULATOR_TIMEOUT_MS.to_string())
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    let client = e2e_tests::contract::checked(Client::new(
        &base,
        Identity {
            ip: "192.0.2.77".into(),
            ..Identity::default()
        },
    ));

    // the first call builds and starts the function: allow for compilation
    let deadline = Instant::now() + Duration::from_secs(900);
    let pk = loop {
        match client.public_key().await {
            Ok(pk) => break pk,
            Err(e) => {
                assert!(Instant::now() < deadline, "make watch never answered: {e}");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    };
    assert!(!pk.key_id.is_empty());
    // the session is created by one process and read back from DynamoDB by the others
    let session = client.handshake().await.unwrap();
    let app = App::new(&client, &session);

    // invite -> emailed init link -> init -> second use refused
    let email = format!(
        "watch-{}@example.com",
        URL_SAFE_NO_PAD
            .encode(shared::channel::random_bytes::<6>())
            .to_lowercase()
    );
    let invited: Value = reqwest::Client::new()
        .post(format!(
            "{base}/2015-03-31/functions/invite-user/invocations"
        ))
        .json(&json!({"email": email, "name": "Watch User"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let biz = invited["bizId"]
        .as_str()
        .unwrap_or_else(|| panic!("invite failed: {invited}"))
        .to_owned();
    let sid = wait_link(&endpoint, &email, "#sid=", 0).await;
    let r = app.init(&sid, STRONG).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["bizId"], biz.as_str());
    let r = app.init(&sid, STRONG_2).await;
    assert_eq!(r.body["code"], "AUTH.INIT_SESSION_INVALID");

    // forgot -> emailed reset link -> reset -> old password and old token refused -> notice sent
    // Issued after init's second (a token of the change's own second is
    // revoked), and the reset lands at or after the token's second.
    let old = token(&biz, now_secs() + 1);
    let r = app.status(&old).await;
    assert_eq!(r.status, 200, "{}", r.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let before = mails_to(&endpoint, &email).await.len();
    let r = app.forgot(&email).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reset_token = wait_link(&endpoint, &email, "#token=", before).await;
    let r = app.reset(&reset_token, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.reset(&reset_token, STRONG_3).await;
    assert_eq!(r.body["code"], "AUTH.RESET_TOKEN_INVALID");
    let r = app.status(&old).await;
    assert_eq!(r.body["code"], "AUTH.TOKEN_REVOKED");
    let fresh = token(&biz, now_secs() + 1);
    let r = app.change(&fresh, STRONG, STRONG_3).await;
    assert_eq!(r.body["code"], "AUTH.CURRENT_PASSWORD_INCORRECT");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !mails_to(&endpoint, &email)
        .await
        .iter()
        .any(|m| m.contains("password/forgot"))
    {
        assert!(Instant::now() < deadline, "no password-changed notice");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // each email went out once, although the pump may retry batches
    let mails = mails_to(&endpoint, &email).await;
    assert_eq!(mails.len(), 3, "init, reset, changed: {mails:?}");
    drop(watch);
}
