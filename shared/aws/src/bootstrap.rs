//! Cold start of every function over the AWS adapters: configuration from
//! the environment (fail fast), SDK clients built once with bounded timeouts
//! and retries, then exactly the secrets the function needs
//! ([`shared::route::Needs`]) unsealed once, then the Lambda loop.
//!
//! Nothing here creates a key: data keys, the pepper and the first SCv2 key
//! are made at deploy time (`pwctl admin keys init`); a missing one stops the
//! cold start with an error naming that command.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use password::{PepperId, PepperRing};
use shared::adapters::memory::SystemClock;
use shared::app::password_service;
use shared::channel::{KeyRing, KeyRingSource, ReloadPolicy, ServerKeys};
use shared::config::Config;
use shared::ports::{Clock, NoIdentityProvider};
use shared::route::{Needs, ScKeys};
use shared::App;

use crate::cognito::CognitoIdentityProvider;
use crate::{
    AwsClients, AwsConfig, DynamoAccountStore, DynamoGuessCounter, DynamoRateLimiter,
    DynamoReplayGuard, DynamoSessionStore, KmsKeyStore, SesMailer, SessionSealer, PEPPER_BYTES,
    PURPOSE_OUTBOX_DATA_KEY, PURPOSE_PASSWORD_PEPPER, PURPOSE_SCV2_PRIVATE_KEY,
    PURPOSE_SESSION_DATA_KEY,
};

/// The KMS and key-item access a cold start with `needs` may make: what the
/// function's role is granted (checked against `template.yaml` by
/// `tests/tests/e2e/template_drift.rs`) and all a cold start is seen to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdStartAccess {
    /// `kms:Decrypt` encryption-context purposes. Never `kms:Encrypt`.
    pub decrypt_purposes: Vec<&'static str>,
    /// `dynamodb:Query` of `KEYRING#scv2`.
    pub keyring_query: bool,
    /// `dynamodb:GetItem` partitions of sealed secrets (`SECRET#<purpose>`).
    pub secret_items: Vec<String>,
}

impl ColdStartAccess {
    pub fn of(needs: Needs) -> Self {
        let mut secrets = Vec::new();
        if needs.session_data_key {
            secrets.push(PURPOSE_SESSION_DATA_KEY);
        }
        if needs.outbox_data_key {
            secrets.push(PURPOSE_OUTBOX_DATA_KEY);
        }
        // Granted where passwords are hashed; used once PASSWORD_PEPPER_ID is set.
        if needs.pepper {
            secrets.push(PURPOSE_PASSWORD_PEPPER);
        }
        let mut decrypt_purposes = secrets.clone();
        if needs.sc_keys == ScKeys::Private {
            decrypt_purposes.insert(0, PURPOSE_SCV2_PRIVATE_KEY);
        }
        ColdStartAccess {
            decrypt_purposes,
            keyring_query: needs.sc_keys != ScKeys::None,
            secret_items: secrets.iter().map(|p| format!("SECRET#{p}")).collect(),
        }
    }
}

/// The [`App`] of a deployed function holding `needs`: every port over
/// DynamoDB, KMS and SES.
pub async fn app_from_env(needs: Needs) -> anyhow::Result<App> {
    let config = Config::from_env()?;
    let aws = AwsConfig::http_from_env()?;
    let clients = AwsClients::from_env(&aws).await;
    app_with(needs, config, &aws, &clients).await
}

/// The app of a function that checks passwords for sign-in (verify-password,
/// the verifying Cognito trigger): [`Needs::VERIFY_PASSWORD`], and the dummy
/// hash unknown users are checked against made before the first of them.
pub async fn verifying_app() -> anyhow::Result<App> {
    let app = app_from_env(Needs::VERIFY_PASSWORD).await?;
    app.passwords
        .prepare_dummy()
        .map_err(|e| anyhow::anyhow!("making the dummy hash: {e}"))?;
    Ok(app)
}

/// Same as [`app_from_env`] over given settings and clients (tests).
pub async fn app_with(
    needs: Needs,
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
        key_ring(&keys, needs.sc_keys, now),
        async {
            if !needs.session_data_key {
                return Ok(SessionSealer::withheld(&aws.session_data_key_id));
            }
            keys.session_sealer(&aws.session_data_key_id)
                .await
                .context("loading the session data key")
        },
        accounts_for(needs, aws, clients, &keys),
        async {
            if needs.pepper {
                pepper_ring(&keys, aws).await
            } else {
                Ok(PepperRing::none())
            }
        },
    )?;
    Ok(App {
        passwords: Arc::new(password_service(&config, peppers)?),
        jwt: Arc::new(crate::jwks::verifier(&config).await?),
        config: Arc::new(config),
        clock: Arc::new(clock),
        keys: Arc::new(match needs.sc_keys {
            ScKeys::None => ServerKeys::fixed(ring),
            sc_keys => ServerKeys::reloading(
                ring,
                now,
                Arc::new(StoredRing { keys, sc_keys }),
                ReloadPolicy::default(),
            ),
        }),
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
        guesses: Arc::new(DynamoGuessCounter::new(
            clients.dynamodb.clone(),
            &aws.table_name,
        )),
        accounts: Arc::new(accounts),
        mailer: Arc::new(SesMailer::new(clients.ses.clone(), &aws.ses_from_address)),
        idp: match &aws.cognito_user_pool_id {
            Some(pool) => Arc::new(CognitoIdentityProvider::new(clients.cognito.clone(), pool)),
            None => Arc::new(NoIdentityProvider),
        },
    })
}

/// The ring of a running function, read again from the table (and KMS for
/// private keys) by the same calls as its cold start, under the same grants.
struct StoredRing {
    keys: KmsKeyStore,
    sc_keys: ScKeys,
}

#[async_trait::async_trait]
impl KeyRingSource for StoredRing {
    async fn load(&self, now_ms: u64) -> anyhow::Result<KeyRing> {
        key_ring(&self.keys, self.sc_keys, now_ms).await
    }
}

async fn key_ring(keys: &KmsKeyStore, sc_keys: ScKeys, now_ms: u64) -> anyhow::Result<KeyRing> {
    match sc_keys {
        ScKeys::None => Ok(KeyRing::empty()),
        ScKeys::Public => keys
            .load_public_ring(now_ms)
            .await
            .context("loading the SCv2 public key"),
        ScKeys::Private => keys
            .load_key_ring(now_ms)
            .await
            .context("loading the SCv2 key ring"),
    }
}

/// The account store of `send-mail` (outbox data key only), its connection warmed.
pub async fn account_store(
    aws: &AwsConfig,
    clients: &AwsClients,
    keys: &KmsKeyStore,
) -> anyhow::Result<DynamoAccountStore> {
    accounts_for(Needs::SEND_MAIL, aws, clients, keys).await
}

/// The account store, with the outbox data key if `needs` has it (else a
/// withheld sealer: no outbox message can be written or read), warmed.
async fn accounts_for(
    needs: Needs,
    aws: &AwsConfig,
    clients: &AwsClients,
    keys: &KmsKeyStore,
) -> anyhow::Result<DynamoAccountStore> {
    let sealer = if needs.outbox_data_key {
        keys.outbox_sealer(&aws.outbox_data_key_id)
            .await
            .context("loading the outbox data key")?
    } else {
        SessionSealer::withheld(&aws.outbox_data_key_id)
    };
    let store = DynamoAccountStore::new(
        clients.dynamodb.clone(),
        &aws.table_name,
        sealer,
        Arc::new(SystemClock),
    );
    store.warm_up().await.context("DynamoDB warm-up")?;
    Ok(store)
}

/// The active pepper (`PASSWORD_PEPPER_ID`) and the verify-only ones
/// (`PASSWORD_PEPPER_VERIFY_IDS`). One after another: verify-only peppers
/// exist only during a rotation, and the whole ring already loads beside the
/// other cold-start reads.
async fn pepper_ring(keys: &KmsKeyStore, aws: &AwsConfig) -> anyhow::Result<PepperRing> {
    let mut secrets = HashMap::new();
    for id in aws.pepper_id.iter().chain(&aws.pepper_verify_ids) {
        let secret = keys
            .load_secret(PURPOSE_PASSWORD_PEPPER, id, PEPPER_BYTES)
            .await
            .with_context(|| format!("loading the password pepper {id}"))?;
        secrets.insert(PepperId::new(id.as_str()), secret);
    }
    Ok(PepperRing::new(
        aws.pepper_id.as_deref().map(PepperId::new),
        secrets,
    )?)
}

/// Logs a cold-start failure (the chain names the variable or the call,
/// never a secret) and hands it to the runtime.
pub(crate) fn cold_start_failed(err: anyhow::Error) -> lambda_runtime::Error {
    tracing::error!(error = %format!("{err:#}"), "cold start failed");
    err.into()
}
