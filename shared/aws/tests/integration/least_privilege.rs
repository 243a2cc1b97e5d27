//! Least privilege per route: each function's cold start over the real
//! adapters against the emulator, with a KMS client that refuses every call
//! its role is not granted (as IAM would) and a DynamoDB client that records
//! what the cold start touches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_adapters::admin::init_keys_with;
use aws_adapters::bootstrap::{app_with, ColdStartAccess};
use aws_adapters::testing::*;
use aws_adapters::{
    AwsClients, AwsConfig, KeyStoreError, KmsKeyStore, PURPOSE_OUTBOX_DATA_KEY,
    PURPOSE_SESSION_DATA_KEY,
};
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::config::interceptors::BeforeSerializationInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept};
use aws_sdk_kms::error::BoxError;
use base64::Engine;
use shared::channel::ServerKey;
use shared::ports::accounts::{AccountChange, MailKind, OutboxMessage};
use shared::route::{Needs, Route};
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
        context: &aws_sdk_dynamodb::config::interceptors::BeforeSerializationInterceptorContextRef<
            '_,
        >,
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
        cognito: aws_sdk_cognitoidentityprovider::Client::new(&sdk),
    };
    Gated {
        clients,
        kms,
        table,
    }
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
    all.push(("admin-users".into(), Needs::ADMIN_USERS));
    all.push(("verify-password".into(), Needs::VERIFY_PASSWORD));
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
    let resp = shared::dispatch::serve_endpoint(&app, shared::dispatch::PUBLIC_KEY, req).await;
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
    assert!(app
        .keys
        .loaded()
        .active()
        .unwrap_session_key(&[0u8; 384])
        .is_err());
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

/// verify-password unseals its outbox key and pepper at cold start, then
/// checks passwords, locks and writes the lock email without a KMS call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_password_makes_no_kms_call_after_its_cold_start() {
    let (cfg, _) = deployed("verify").await;
    let needs = Needs::VERIFY_PASSWORD;
    let access = ColdStartAccess::of(needs);
    let g = gated(&cfg, &access.decrypt_purposes).await;
    let app = app_with(needs, shared::config::Config::default(), &cfg, &g.clients)
        .await
        .unwrap();
    assert!(
        app.keys.loaded().keys().is_empty(),
        "verify-password holds no SCv2 key"
    );
    let mut want: Vec<String> = access
        .decrypt_purposes
        .iter()
        .map(|p| format!("Decrypt {p}"))
        .collect();
    want.sort();
    assert_eq!(sorted(&g.kms), want);
    g.kms.lock().unwrap().clear();
    let mut user = shared::testing::conformance::accounts::user(
        &shared::testing::conformance::accounts::email(),
        now_ms(),
    );
    user.password = Some(
        app.passwords
            .hash_unchecked("right horse 42")
            .await
            .unwrap(),
    );
    let now = now_ms();
    let create = shared::testing::conformance::accounts::create(&user);
    app.accounts.apply(create, now).await.unwrap().unwrap();
    let event = |password: &str| serde_json::json!({"email": user.email, "password": password});
    let ok = aws_adapters::verify_fn::handle(&app, event("right horse 42")).await;
    assert_eq!(ok["result"], "ok", "{ok}");
    // Up to the lock: the last failure seals the lock email with the outbox key.
    for _ in 0..app.config.lockout.threshold {
        let answer = aws_adapters::verify_fn::handle(&app, event("wrong horse 42")).await;
        assert_eq!(answer["result"], "invalid", "{answer}");
    }
    let pending = app.accounts.pending_outbox().await.unwrap();
    assert!(pending
        .iter()
        .any(|m| m.kind == MailKind::Locked && m.to == user.email));
    assert_eq!(
        sorted(&g.kms),
        Vec::<String>::new(),
        "KMS calls after the cold start"
    );
}

/// The Cognito triggers (`cognito-triggers`, one function per trigger): the
/// verifying one starts under exactly verify-password's grants (its role in
/// template.yaml) and answers without a KMS call after its cold start, on
/// the user and guess-counter items only; the other three answer with no
/// app at all, so their functions are deployed with no grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cognito_triggers_need_verify_passwords_grants_or_none() {
    use aws_adapters::cognito_fn::{handle, Trigger};
    let (cfg, _) = deployed("cognito").await;
    let needs = Needs::VERIFY_PASSWORD;
    let access = ColdStartAccess::of(needs);
    let g = gated(&cfg, &access.decrypt_purposes).await;
    let app = app_with(needs, shared::config::Config::default(), &cfg, &g.clients)
        .await
        .unwrap();
    app.passwords.prepare_dummy().unwrap();
    let mut user = shared::testing::conformance::accounts::user(
        &shared::testing::conformance::accounts::email(),
        now_ms(),
    );
    user.password = Some(
        app.passwords
            .hash_unchecked("right horse 42")
            .await
            .unwrap(),
    );
    let create = shared::testing::conformance::accounts::create(&user);
    app.accounts.apply(create, now_ms()).await.unwrap().unwrap();
    g.kms.lock().unwrap().clear();
    g.table.lock().unwrap().clear();
    let verify = |user_name: &str, answer: &str, not_found: bool| {
        let mut event = cognito_event(
            "verify-auth-challenge",
            user_name,
            "cognito-least@example.com",
            answer,
        );
        event["request"]["userNotFound"] = serde_json::json!(not_found);
        let app = app.clone();
        async move {
            let out = handle(Trigger::Verify, Some(&app), event).await.unwrap();
            out["response"]["answerCorrect"].clone()
        }
    };
    assert_eq!(verify(&user.biz_id, "right horse 42", false).await, true);
    assert_eq!(verify(&user.biz_id, "wrong horse 42", false).await, false);
    assert_eq!(
        verify("nobody@example.com", "right horse 42", true).await,
        false
    );
    assert_eq!(
        sorted(&g.kms),
        Vec::<String>::new(),
        "KMS calls after the cold start"
    );
    // GetItem USER#, UpdateItem GUESS# (the reservation); DeleteItem GUESS# is "other".
    for call in sorted(&g.table) {
        assert!(
            ["GetItem USER#", "UpdateItem GUESS#", "other"]
                .iter()
                .any(|p| call.starts_with(p)),
            "the verifying trigger made {call}"
        );
    }
    // The other three need nothing: no app, no client, no grant.
    for (trigger, name) in [
        (Trigger::Define, "define-auth-challenge"),
        (Trigger::Create, "create-auth-challenge"),
        (Trigger::PreToken, "pre-token-generation-v2"),
    ] {
        let event = cognito_event(name, &user.biz_id, "cognito-least@example.com", "");
        assert!(
            handle(trigger, None, event).await.is_ok(),
            "{name} answers without an app"
        );
    }
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

/// send-mail and sweep-mail start through `bootstrap::account_store` (their
/// `main.rs`), not `app_with`: under a KMS that allows only their
/// `Needs::SEND_MAIL` / `Needs::SWEEP_MAIL` purposes they unseal exactly the
/// outbox data key, read exactly its item and the warm-up item, and write
/// nothing; a role without the outbox purpose cannot start them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_cold_starts_unseal_exactly_their_needs_and_write_nothing() {
    let (cfg, _) = deployed("mail").await;
    for (name, needs) in [
        ("send-mail", Needs::SEND_MAIL),
        ("sweep-mail", Needs::SWEEP_MAIL),
    ] {
        let access = ColdStartAccess::of(needs);
        assert_eq!(
            access.decrypt_purposes,
            [PURPOSE_OUTBOX_DATA_KEY],
            "{name}: the outbox data key only"
        );
        assert!(!access.keyring_query, "{name}: no SCv2 key");
        let g = gated(&cfg, &access.decrypt_purposes).await;
        let keys = KmsKeyStore::from_clients(&g.clients, &cfg);
        let store = aws_adapters::bootstrap::account_store(&cfg, &g.clients, &keys).await;
        assert!(store.is_ok(), "{name}: {:#}", store.err().unwrap());
        assert_eq!(
            sorted(&g.kms),
            [format!("Decrypt {PURPOSE_OUTBOX_DATA_KEY}")],
            "{name}: KMS calls"
        );
        let mut reads: Vec<String> = access
            .secret_items
            .iter()
            .map(|pk| format!("GetItem {pk}"))
            .collect();
        reads.push("GetItem ACCOUNTS#NOOP".into());
        reads.sort();
        assert_eq!(sorted(&g.table), reads, "{name}: DynamoDB calls");

        // Without the outbox purpose (another function's role) it cannot start.
        let refused = gated(&cfg, &[PURPOSE_SESSION_DATA_KEY]).await;
        let keys = KmsKeyStore::from_clients(&refused.clients, &cfg);
        assert!(
            aws_adapters::bootstrap::account_store(&cfg, &refused.clients, &keys)
                .await
                .is_err(),
            "{name} started without kms:Decrypt of the outbox key"
        );
    }
}
