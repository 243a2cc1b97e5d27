//! Cold start of every function over the AWS adapters: configuration from
//! the environment (fail fast), SDK clients built once with bounded timeouts
//! and retries, KMS-sealed secrets unsealed once, then the Lambda loop.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use password::{PepperId, PepperRing};
use shared::adapters::memory::SystemClock;
use shared::app::{jwt_verifier, password_service};
use shared::config::Config;
use shared::ports::Clock;
use shared::routes::Endpoint;
use shared::App;

use crate::{
    AwsClients, AwsConfig, DynamoAccountStore, DynamoRateLimiter, DynamoReplayGuard,
    DynamoSessionStore, KmsKeyStore, SesMailer, PURPOSE_PASSWORD_PEPPER,
};

/// Length of a generated password pepper.
const PEPPER_BYTES: usize = 32;

/// The [`App`] of a deployed function: every port over DynamoDB, KMS and SES.
pub async fn app_from_env() -> anyhow::Result<App> {
    let config = Config::from_env()?;
    let aws = AwsConfig::http_from_env()?;
    let clients = AwsClients::from_env(&aws).await;
    app_with(config, &aws, &clients).await
}

/// Same as [`app_from_env`] over given settings and clients (tests).
pub async fn app_with(
    config: Config,
    aws: &AwsConfig,
    clients: &AwsClients,
) -> anyhow::Result<App> {
    let clock = SystemClock;
    let keys = KmsKeyStore::from_clients(clients, aws);
    let now = clock.now_ms();
    // Independent cold-start reads run together; the first one also opens
    // the DynamoDB connection the first request reuses.
    let (ring, session_sealer, accounts, peppers) = tokio::try_join!(
        async {
            keys.load_key_ring(now)
                .await
                .context("loading the SCv2 key ring")
        },
        async {
            keys.session_sealer(&aws.session_data_key_id)
                .await
                .context("loading the session data key")
        },
        account_store(aws, clients, &keys),
        pepper_ring(&keys, aws.pepper_id.as_deref()),
    )?;
    Ok(App {
        passwords: Arc::new(password_service(&config, peppers)?),
        jwt: Arc::new(jwt_verifier(&config)?),
        config: Arc::new(config),
        clock: Arc::new(clock),
        keys: Arc::new(ring),
        sessions: Arc::new(DynamoSessionStore::new(
            clients.dynamodb.clone(),
            &aws.table_name,
            session_sealer,
        )),
        replay: Arc::new(DynamoReplayGuard::new(
            clients.dynamodb.clone(),
            &aws.table_name,
        )),
        limiter: Arc::new(DynamoRateLimiter::new(
            clients.dynamodb.clone(),
            &aws.table_name,
        )),
        accounts: Arc::new(accounts),
        mailer: Arc::new(SesMailer::new(clients.ses.clone(), &aws.ses_from_address)),
    })
}

/// The account store with its outbox data key, its connection warmed.
pub async fn account_store(
    aws: &AwsConfig,
    clients: &AwsClients,
    keys: &KmsKeyStore,
) -> anyhow::Result<DynamoAccountStore> {
    let sealer = keys
        .outbox_sealer(&aws.outbox_data_key_id)
        .await
        .context("loading the outbox data key")?;
    let store = DynamoAccountStore::new(clients.dynamodb.clone(), &aws.table_name, sealer);
    store.warm_up().await.context("DynamoDB warm-up")?;
    Ok(store)
}

async fn pepper_ring(keys: &KmsKeyStore, pepper_id: Option<&str>) -> anyhow::Result<PepperRing> {
    let Some(id) = pepper_id else {
        return Ok(PepperRing::none());
    };
    let secret = keys
        .load_or_create_secret(PURPOSE_PASSWORD_PEPPER, id, PEPPER_BYTES)
        .await
        .context("loading the password pepper")?;
    let id = PepperId::new(id);
    Ok(PepperRing::new(
        Some(id.clone()),
        HashMap::from([(id, secret)]),
    )?)
}

/// Logs a cold-start failure (the chain names the variable or the call,
/// never a secret) and hands it to the runtime.
pub(crate) fn cold_start_failed(err: anyhow::Error) -> lambda_runtime::Error {
    tracing::error!(error = %format!("{err:#}"), "cold start failed");
    err.into()
}

/// Everything an HTTP function's `main` does.
pub async fn run_http(endpoint: Endpoint) -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = app_from_env().await.map_err(cold_start_failed)?;
    shared::lambda::serve(app, endpoint).await
}
