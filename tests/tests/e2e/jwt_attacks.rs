//! Forged and unacceptable access tokens are refused with 401 and change nothing.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use e2e_tests::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use shared::config::Config;

struct Signer {
    key: EncodingKey,
    public_x: String,
    kid: &'static str,
}

fn signer(kid: &'static str) -> Signer {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
    Signer {
        key: EncodingKey::from_ed_der(pkcs8.as_ref()),
        public_x: URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
        kid,
    }
}

impl Signer {
    fn jwk(&self) -> Value {
        json!({"kty": "OKP", "crv": "Ed25519", "x": self.public_x, "kid": self.kid, "alg": "EdDSA"})
    }
    fn sign(&self, claims: &Value) -> String {
        let mut h = Header::new(Algorithm::EdDSA);
        h.kid = Some(self.kid.into());
        jsonwebtoken::encode(&h, claims, &self.key).unwrap()
    }
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

const HS_SECRET: &str = "an-explicitly-configured-hs256-secret-0123456789";

#[tokio::test]
async fn forged_or_unacceptable_tokens_get_401_and_change_nothing() {
    let trusted = signer("trusted");
    let mut config = Config::default();
    config.jwt.jwks_json = Some(json!({"keys": [trusted.jwk()]}).to_string());
    config.jwt.issuer = Some("https://id.example.com".into());
    config.jwt.audience = Some("password-api".into());
    let s = Server::start_with(config).await;
    let biz = s.user("rae@example.com", STRONG).await;
    let now = now_secs();
    let good = json!({"sub": biz, "iat": now, "exp": now + 600, "iss": "https://id.example.com", "aud": "password-api"});

    let c = s.client("198.51.100.80");
    let sess = c.handshake().await.unwrap();
    let ok = App::new(&c, &sess).status(&trusted.sign(&good)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    // HS256 "signed" with the trusted public key: the classic confusion attack
    let hs_with_public = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("trusted".into());
        jsonwebtoken::encode(
            &h,
            &good,
            &EncodingKey::from_secret(trusted.public_x.as_bytes()),
        )
        .unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "trusted"})),
        b64(&good)
    );
    let stranger = signer("stranger");
    let unknown_kid_same_name = {
        // right kid, wrong key
        let impostor = Signer {
            kid: "trusted",
            ..signer("x")
        };
        impostor.sign(&good)
    };
    let tampered = {
        let t = trusted.sign(&good);
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[1] = b64(&with("sub", json!("ACC_USR_SOMEONE_ELSE")));
        parts.join(".")
    };
    // Signed by the trusted (and only) key, but naming no key: kid is required.
    let no_kid = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &good, &trusted.key).unwrap();
    let cases: Vec<(&str, String)> = vec![
        ("alg none", alg_none),
        ("header without kid", no_kid),
        ("HS256 with the public key", hs_with_public),
        ("unknown kid", stranger.sign(&good)),
        ("kid of a trusted key, other key", unknown_kid_same_name),
        ("tampered payload", tampered),
        (
            "expired beyond leeway",
            trusted.sign(&with("exp", json!(now - 31))),
        ),
        (
            "issued in the future",
            trusted.sign(&with("iat", json!(now + 120))),
        ),
        (
            "not valid before a time beyond the leeway",
            trusted.sign(&with("nbf", json!(now + 120))),
        ),
        (
            "not-before that is not a number",
            trusted.sign(&with("nbf", json!("now"))),
        ),
        (
            "wrong audience",
            trusted.sign(&with("aud", json!("another-api"))),
        ),
        (
            "wrong issuer",
            trusted.sign(&with("iss", json!("https://evil.example.com"))),
        ),
        ("no issuer claim", trusted.sign(&without("iss"))),
        ("no audience claim", trusted.sign(&without("aud"))),
        (
            "audience array without ours",
            trusted.sign(&with("aud", json!(["another-api", "third-api"]))),
        ),
        ("no sub", trusted.sign(&without("sub"))),
        ("no iat", trusted.sign(&without("iat"))),
        ("no exp", trusted.sign(&without("exp"))),
        ("garbage", "a.b.c".into()),
    ];
    let before = s.stored_user(&biz).await.version;
    for (name, token) in cases {
        // a fresh session per attempt keeps the per-IP change limit out of the way
        let c = s.client(&format!("203.0.113.{}", 100 + name.len()));
        let sess = c.handshake().await.unwrap();
        let r = App::new(&c, &sess).change(&token, STRONG, STRONG_2).await;
        assert_eq!(
            (r.status, r.body["code"].as_str().unwrap()),
            (401, "AUTH.TOKEN_INVALID"),
            "{name}"
        );
    }
    assert_eq!(s.stored_user(&biz).await.version, before, "nothing changed");
    assert!(s.outbox().await.is_empty());

    // an audience array that names ours passes
    let r = App::new(&c, &sess)
        .status(&trusted.sign(&with("aud", json!(["another-api", "password-api"]))))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // within the 30 s leeway an expired or not-yet-valid token still passes
    for claims in [with("exp", json!(now - 20)), with("nbf", json!(now + 20))] {
        let r = App::new(&c, &sess).status(&trusted.sign(&claims)).await;
        assert_eq!(r.status, 200, "{claims}: {}", r.body);
    }
}

#[tokio::test]
async fn hs256_only_when_explicitly_configured() {
    let claims = |biz: &str| json!({"sub": biz, "iat": now_secs(), "exp": now_secs() + 600});
    let hs = |biz: &str| {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(biz),
            &EncodingKey::from_secret(HS_SECRET.as_bytes()),
        )
        .unwrap()
    };

    let s = Server::start().await;
    let biz = s.user("sam@example.com", STRONG).await;
    let c = s.client("198.51.100.81");
    let sess = c.handshake().await.unwrap();
    let r = App::new(&c, &sess).status(&hs(&biz)).await;
    assert_eq!(r.status, 401, "HS256 is off by default");

    let mut config = Config::default();
    config.jwt.hs256_secret = Some(HS_SECRET.into());
    let s = Server::start_with(config).await;
    let biz = s.user("sam@example.com", STRONG).await;
    let c = s.client("198.51.100.82");
    let sess = c.handshake().await.unwrap();
    let r = App::new(&c, &sess).status(&hs(&biz)).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// With an issuer and audience configured, local-api's `/_dev/token` mints
/// both claims, so its tokens pass the verifier that now requires them.
#[tokio::test]
async fn dev_tokens_carry_the_configured_issuer_and_audience() {
    let mut config = Config::default();
    config.jwt.issuer = Some("https://id.example.com".into());
    config.jwt.audience = Some("password-api".into());
    let s = Server::start_with(config).await;
    let biz = s.user("ivy@example.com", STRONG).await;
    let token = s.token(&biz).await;
    let payload: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(payload["iss"], "https://id.example.com");
    assert_eq!(payload["aud"], "password-api");
    let c = s.client("198.51.100.81");
    let sess = c.handshake().await.unwrap();
    let r = App::new(&c, &sess).status(&token).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Cognito access tokens carry the app client in `client_id` (no `aud`),
/// `token_use: access`, and the account in the claim the pre-token trigger
/// adds (`bizId`); `sub` is Cognito's own id. ID tokens are refused.
#[tokio::test]
async fn cognito_access_tokens_pass_by_client_id_and_subject_claim_and_id_tokens_do_not() {
    let pool = signer("pool-key");
    let iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example";
    let mut config = Config::default();
    config.jwt.jwks_json = Some(json!({"keys": [pool.jwk()]}).to_string());
    config.jwt.issuer = Some(iss.into());
    config.jwt.audience = Some("app-client-1".into());
    config.jwt.subject_claim = Some("bizId".into());
    let s = Server::start_with(config).await;
    let biz = s.user("cog@example.com", STRONG).await;
    let now = now_secs();
    let access = json!({
        "sub": "5f1c7a1e-0000-4000-8000-00000000c0de", "bizId": biz, "iss": iss,
        "client_id": "app-client-1", "token_use": "access", "iat": now, "exp": now + 600,
        "username": biz, "scope": "aws.cognito.signin.user.admin",
    });
    let c = s.client("198.51.100.83");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let r = app.status(&pool.sign(&access)).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let refused = |patch: Value| {
        let mut claims = access.clone();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };
    for claims in [
        // Another app client of the pool.
        refused(json!({"client_id": "app-client-2"})),
        // An ID token: `aud` is the client, but it is not an access token.
        refused(json!({"client_id": null, "aud": "app-client-1", "token_use": "id"})),
        // No `aud`, and not marked as an access token.
        refused(json!({"token_use": null})),
        // No account claim: Cognito's own `sub` is never taken for a bizId.
        refused(json!({"bizId": null})),
        refused(json!({"bizId": ""})),
        // Another pool.
        refused(json!({"iss": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other"})),
    ] {
        let r = app.status(&pool.sign(&claims)).await;
        assert_eq!(r.status, 401, "{claims}: {}", r.body);
        assert_eq!(r.body["code"], "AUTH.TOKEN_INVALID", "{claims}");
    }
}

/// An identity provider's JWKS over loopback HTTP (`JWT_JWKS_URL`): the
/// document it serves can be swapped while the service runs, and every GET
/// is counted.
struct Idp {
    url: String,
    doc: std::sync::Arc<std::sync::Mutex<String>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Idp {
    async fn start(keys: &[&Signer]) -> Idp {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://127.0.0.1:{}/.well-known/jwks.json",
            listener.local_addr().unwrap().port()
        );
        let idp = Idp {
            url,
            doc: Default::default(),
            hits: Default::default(),
        };
        idp.publish(keys);
        let (doc, hits) = (idp.doc.clone(), idp.hits.clone());
        tokio::spawn(async move {
            loop {
                let (mut sock, _) = listener.accept().await.unwrap();
                let (doc, hits) = (doc.clone(), hits.clone());
                tokio::spawn(async move {
                    let mut req = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => req.extend_from_slice(&buf[..n]),
                        }
                    }
                    hits.fetch_add(1, Ordering::SeqCst);
                    let body = doc.lock().unwrap().clone();
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        idp
    }

    fn publish(&self, keys: &[&Signer]) {
        let jwks: Vec<Value> = keys.iter().map(|k| k.jwk()).collect();
        *self.doc.lock().unwrap() = json!({ "keys": jwks }).to_string();
    }

    fn fetches(&self) -> usize {
        self.hits.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// `JWT_JWKS_URL` as a deployed function loads it (the AWS adapters'
/// verifier), with the service running on local-api: a token under the
/// provider's new key passes after it rotates, the old one before and after
/// while it is published, and unknown `kid`s fetch the set again at most
/// once a minute (the app's clock is moved, never waited on), one caller
/// at a time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwks_by_url_follows_the_providers_rotation_and_refetches_at_most_once_a_minute() {
    use shared::adapters::memory::ManualClock;
    use shared::channel::{KeyRing, ServerKey};
    use shared::ports::Clock;
    use std::sync::Arc;

    let (old, new, unknown) = (
        signer("idp-2026-a"),
        signer("idp-2026-b"),
        signer("made-up"),
    );
    let idp = Idp::start(&[&old]).await;
    let mut config = Config::default();
    config.jwt.jwks_url = Some(idp.url.clone());
    let verifier = aws_adapters::jwks::verifier(&config).await.unwrap();
    assert_eq!(idp.fetches(), 1, "fetched at cold start");

    let clock = Arc::new(ManualClock::new(now_secs() * 1000));
    let keys = KeyRing::single(ServerKey::generate("k-jwks", u64::MAX / 2).unwrap().0);
    let mut app = shared::App::embedded_with_clock(config, keys, clock.clone()).unwrap();
    app.jwt = Arc::new(verifier);
    let s = Server::serve(local_api::Local::over(
        app,
        local_api::dev::DevSigner::generate().unwrap(),
    ))
    .await;
    let biz = s.user("rota@example.com", STRONG).await;
    let c = s.client("198.51.100.90");
    let sess = c.handshake().await.unwrap();
    let api = App::new(&c, &sess);
    let token = |by: &Signer| {
        let now = clock.now_ms() / 1000 + 1;
        by.sign(&json!({"sub": biz, "iat": now, "exp": now + 600}))
    };
    let status = |t: String| {
        let api = &api;
        async move { api.status(&t).await }
    };

    // Before the rotation: the old key passes, with no fetch.
    assert_eq!(status(token(&old)).await.status, 200);
    assert_eq!(idp.fetches(), 1);

    // The provider publishes its new key and signs with it: the unknown kid
    // fetches the set once, and the token passes; the old key still does.
    idp.publish(&[&old, &new]);
    let r = status(token(&new)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(idp.fetches(), 2);
    assert_eq!(status(token(&old)).await.status, 200);
    assert_eq!(status(token(&new)).await.status, 200);
    assert_eq!(idp.fetches(), 2, "known keys fetch nothing");

    // A kid the provider never published, within the minute: refused at once.
    for _ in 0..3 {
        let r = status(token(&unknown)).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (401, Some("AUTH.TOKEN_INVALID"))
        );
    }
    assert_eq!(idp.fetches(), 2, "no fetch within a minute of the last");

    // A minute later, concurrent unknown kids share one fetch.
    clock.advance_secs(61);
    let (a, b, c3) = tokio::join!(
        status(token(&unknown)),
        status(token(&unknown)),
        status(token(&unknown))
    );
    assert_eq!([a.status, b.status, c3.status], [401; 3]);
    assert_eq!(idp.fetches(), 3, "single-flight");
    assert_eq!(status(token(&unknown)).await.status, 401);
    assert_eq!(idp.fetches(), 3);

    // The provider retires the old key: after the next allowed fetch, the
    // old key's tokens are refused, the new key's pass.
    idp.publish(&[&new]);
    assert_eq!(status(token(&old)).await.status, 200, "still held");
    clock.advance_secs(61);
    assert_eq!(status(token(&unknown)).await.status, 401);
    assert_eq!(idp.fetches(), 4);
    assert_eq!(status(token(&old)).await.status, 401);
    assert_eq!(status(token(&new)).await.status, 200);
    assert_eq!(idp.fetches(), 4, "the retired kid waits out the minute");
}
