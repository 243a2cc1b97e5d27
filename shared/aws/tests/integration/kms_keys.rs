//! KMS-sealed secrets and the SCv2 key ring in the table; no secret in clear.
//! Against the local AWS emulator (`aws_adapters::testing`).

use std::time::Duration;

use aws_adapters::testing::*;
use aws_adapters::{
    Ensured, KeyStoreError, KmsKeyStore, KmsSealer, SealContext, PURPOSE_PASSWORD_PEPPER,
    PURPOSE_SCV2_PRIVATE_KEY,
};
use base64::Engine;
use shared::channel::ServerKey;
use shared::ports::SessionStore;

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
    // The shared table's key may have been rotated by the pwctl suites since
    // the bootstrap: the ring's active key is the one the table lists active.
    let listed = keys.list().await.unwrap();
    let active: Vec<_> = listed.iter().filter(|k| k.active).collect();
    assert_eq!(active.len(), 1, "{listed:?}");
    assert_eq!(active[0].kid, ring.active().kid());
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

// ------------------------------------------------ rotation across function pools

/// A request as API Gateway hands it to the function.
fn gateway_request(method: http::Method, body: &str) -> shared::http::ApiRequest {
    let mut headers = http::HeaderMap::new();
    for (k, v) in [
        ("accept", "application/json"),
        ("content-type", "application/json"),
        ("x-client-hash", "device-1"),
        ("accept-language", "en"),
        ("cf-connecting-ip", "203.0.113.9"),
        ("cf-ray", "8f00000000000001-LHR"),
        ("cf-ipcountry", "GB"),
    ] {
        headers.insert(k, http::HeaderValue::from_static(v));
    }
    shared::http::ApiRequest {
        method,
        headers,
        body: bytes::Bytes::from(body.to_owned()),
        fallback_request_id: None,
        source_ip: None,
    }
}

/// `POST .../session` with a fresh K under `spki`, named `kid`, on `app`.
async fn create_session(app: &shared::App, kid: &str, spki: &[u8]) -> serde_json::Value {
    let wrapped = oaep_encrypt(spki, &random_key());
    let body = serde_json::json!({
        "keyId": kid,
        "encryptedKey": base64::engine::general_purpose::STANDARD.encode(wrapped),
    });
    let resp = shared::dispatch::serve_endpoint(
        app,
        shared::dispatch::CREATE_SESSION,
        gateway_request(http::Method::POST, &body.to_string()),
    )
    .await;
    let status = resp.status().as_u16();
    let mut answer: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    answer["httpStatus"] = status.into();
    answer
}

/// public-key and create-session are separate functions: after a rotation a
/// fresh public-key instance publishes the new key to a client whose next
/// request reaches a create-session instance warm since before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_create_session_instance_accepts_a_key_rotated_after_its_cold_start() {
    use aws_adapters::bootstrap::app_with;
    use shared::route::Route;
    let (cfg, clients) = deployed("rotate-pools").await;
    let config = shared::config::Config::default();
    // Instance B: create-session, warm with the ring of its cold start (k1).
    let b = app_with(Route::CreateSession.needs(), config.clone(), &cfg, &clients)
        .await
        .unwrap();
    assert_eq!(b.keys.loaded().active().kid(), "k1");

    // The operator rotates (the store call `pwctl admin keys rotate` makes).
    let hour = Duration::from_secs(3600);
    KmsKeyStore::from_clients(&clients, &cfg)
        .rotate("k2", hour, Duration::from_secs(600), now_ms())
        .await
        .unwrap();

    // Instance A: a public-key instance cold-started after the rotation.
    let a = app_with(Route::PublicKey.needs(), config, &cfg, &clients)
        .await
        .unwrap();
    let resp = shared::dispatch::serve_endpoint(
        &a,
        shared::dispatch::PUBLIC_KEY,
        gateway_request(http::Method::GET, ""),
    )
    .await;
    let published: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
    assert_eq!(resp.status(), 200, "{published}");
    assert_eq!(published["data"]["keyId"], "k2");
    let spki = base64::engine::general_purpose::STANDARD
        .decode(published["data"]["publicKey"].as_str().unwrap())
        .unwrap();

    // The client's session request reaches B: it reloads and accepts k2.
    let created = create_session(&b, "k2", &spki).await;
    assert_eq!(created["httpStatus"], 201, "{created}");
    assert!(created["data"]["sessionId"].is_string(), "{created}");
    assert_eq!(b.keys.reload_attempts(), 1);
    assert_eq!(b.keys.loaded().active().kid(), "k2");

    // A key id that never exists: refused, and within the interval it
    // never reaches the table or KMS again.
    for _ in 0..3 {
        let refused = create_session(&b, "k-never", &spki).await;
        assert_eq!(refused["httpStatus"], 400, "{refused}");
        assert_eq!(refused["code"], "SC.UNKNOWN_KEY", "{refused}");
    }
    assert_eq!(b.keys.reload_attempts(), 1);
    // The new key keeps working without another reload.
    let again = create_session(&b, "k2", &spki).await;
    assert_eq!(again["httpStatus"], 201, "{again}");
    assert_eq!(b.keys.reload_attempts(), 1);
}

/// What sweep-mail publishes as `ScKeyDaysLeft` and `pwctl admin keys check`
/// prints: whole days left on the active key, 0 without one, read from the
/// ring without unsealing it (a store whose KMS key id names no key still
/// answers).
#[tokio::test]
async fn the_active_keys_days_left_follow_the_ring_without_unsealing() {
    use aws_adapters::key_expiry::{active_key_expiry, KeyExpiry};
    let (cfg, clients) = fresh("expiry").await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    let day = 86_400_000;
    let now = now_ms();
    assert_eq!(
        active_key_expiry(&keys, now).await.unwrap(),
        KeyExpiry {
            kid: None,
            expires_at_ms: None,
            days_left: 0
        },
        "no active key: nothing left"
    );
    keys.rotate(
        "k-exp-1",
        Duration::from_secs(20 * 86_400),
        Duration::from_secs(600),
        now,
    )
    .await
    .unwrap();
    let mut blind = cfg.clone();
    blind.kms_key_id = "alias/no-such-key".into();
    let blind = KmsKeyStore::from_clients(&clients, &blind);
    let e = active_key_expiry(&blind, now).await.unwrap();
    assert_eq!(e.kid.as_deref(), Some("k-exp-1"));
    assert_eq!(e.expires_at_ms, Some(now + 20 * day));
    assert_eq!(e.days_left, 20);
    assert_eq!(
        active_key_expiry(&keys, now + 6 * day + 1)
            .await
            .unwrap()
            .days_left,
        13
    );
    assert_eq!(
        active_key_expiry(&keys, now + 21 * day)
            .await
            .unwrap()
            .days_left,
        0
    );
    // After a rotation the new active key counts.
    keys.rotate(
        "k-exp-2",
        Duration::from_secs(90 * 86_400),
        Duration::from_secs(600),
        now + 1,
    )
    .await
    .unwrap();
    let e = active_key_expiry(&keys, now + 1).await.unwrap();
    assert_eq!((e.kid.as_deref(), e.days_left), (Some("k-exp-2"), 90));
}

/// Replaces one attribute of the stored SCv2 key `kid`.
async fn set_key_attr(
    cfg: &aws_adapters::AwsConfig,
    clients: &aws_adapters::AwsClients,
    kid: &str,
    attr: &str,
    value: Vec<u8>,
) {
    use aws_sdk_dynamodb::types::AttributeValue;
    clients
        .dynamodb
        .update_item()
        .table_name(&cfg.table_name)
        .key("PK", AttributeValue::S("KEYRING#scv2".into()))
        .key("SK", AttributeValue::S(format!("KEY#{kid}")))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", attr)
        .expression_attribute_values(":v", AttributeValue::B(value.into()))
        .send()
        .await
        .unwrap();
}

// The cold start unseals the ring's keys side by side; each one is still
// checked in full, a retired one too, and one bad key stops the load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_of_several_keys_loads_each_checked_and_a_bad_one_stops_the_cold_start() {
    let (cfg, clients) = fresh("ring-many").await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    let now = now_ms();
    let hour = Duration::from_secs(3600);
    for (i, kid) in ["k1", "k2", "k3", "k4"].into_iter().enumerate() {
        keys.rotate(kid, hour, hour, now + i as u64).await.unwrap();
    }
    let at = now + 10;
    let ring = keys.load_key_ring(at).await.unwrap();
    let kids: Vec<&str> = ring.keys().iter().map(|k| k.kid()).collect();
    assert_eq!(kids, ["k1", "k2", "k3", "k4"], "oldest first, as stored");
    assert_eq!(ring.active().kid(), "k4");
    let k = random_key();
    for key in ring.keys() {
        let ct = oaep_encrypt(key.public_spki_der(), &k);
        let got = ring.unwrap_session_key(key.kid(), &ct, at).unwrap();
        assert_eq!(got.expose_bytes(), &k, "{}", key.kid());
    }
    let k2_spki = ring.keys()[1].public_spki_der().to_vec();
    let k3_spki = ring.keys()[2].public_spki_der().to_vec();

    // A retired key whose public half in clear is another key's.
    set_key_attr(&cfg, &clients, "k2", "publicKey", k3_spki).await;
    let err = keys.load_key_ring(at).await.unwrap_err();
    assert!(
        matches!(&err, KeyStoreError::PublicKeyMismatch(kid) if kid == "k2"),
        "{err:?}"
    );
    set_key_attr(&cfg, &clients, "k2", "publicKey", k2_spki).await;
    assert_eq!(keys.load_key_ring(at).await.unwrap().keys().len(), 4);

    // A sealed key that unseals (right context) but is not a sound RSA key:
    // truncated, or with a CRT value changed (its last byte is iqmp's), which
    // only aws-lc's consistency check at parse time catches.
    let sealer = KmsSealer::new(clients.kms.clone(), &cfg.kms_key_id);
    let ctx = SealContext::new(PURPOSE_SCV2_PRIVATE_KEY, "k1");
    let (_, der) = ServerKey::generate("k1", u64::MAX).unwrap();
    let mut crt_changed = der.to_vec();
    *crt_changed.last_mut().unwrap() ^= 0x01;
    for bad in [der[..der.len() / 2].to_vec(), crt_changed] {
        set_key_attr(
            &cfg,
            &clients,
            "k1",
            "sealedKey",
            sealer.seal(&ctx, &bad).await.unwrap(),
        )
        .await;
        let err = keys.load_key_ring(at).await.unwrap_err();
        assert!(
            matches!(&err, KeyStoreError::KeyRing(shared::channel::keyring::KeyRingError::Rejected(kid)) if kid == "k1"),
            "{err:?}"
        );
    }
}
