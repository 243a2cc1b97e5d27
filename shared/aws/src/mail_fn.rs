//! The `send-mail` function: consumes the table stream, answers each forgot
//! request and sends each new outbox message through SES exactly once.
//!
//! Per `INSERT` record of a `FORGOT#PENDING` item: load and unseal the
//! request and answer it (`shared::handlers::accounts::answer_forgot`: the
//! address lookup, the reset token and its outbox message, in one
//! transaction with the request's deletion); the message's own record then
//! comes through here like any other.
//!
//! Per `INSERT` record of an `OUTBOX#<id>` / `OUTBOX` item: load and unseal
//! the message, claim it (`deliveredAtMs` under `attribute_not_exists`), send
//! it, then drop its pending marker. A record whose message was already
//! delivered is skipped, so a retried batch never sends twice. A failed
//! record is reported in `batchItemFailures` (its sequence number) and its
//! claim given back, so only it (and what follows it in the shard) is
//! retried. Every other record is ignored.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{service_fn, LambdaEvent};
use shared::config::Config;
use shared::handlers::accounts::answer_forgot;
use shared::ports::accounts::Mailer;
use shared::ports::{PortResult, Unavailable};

use crate::bootstrap::{account_store, cold_start_failed};
use crate::{AwsClients, AwsConfig, DynamoAccountStore, KmsKeyStore, SesMailer, FORGOT_PENDING_PK};

/// What became of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Already delivered (a retried record).
    AlreadyDelivered,
    /// A forgot request answered (or found already answered).
    Answered,
    /// Not an outbox insertion.
    Ignored,
}

/// `(PK, SK)` of an `INSERT` record.
fn inserted_keys(record: &EventRecord) -> Option<(String, String)> {
    if record.event_name != "INSERT" {
        return None;
    }
    let keys = serde_json::to_value(&record.change.keys).ok()?;
    let key = |name: &str| Some(keys.get(name)?.get("S")?.as_str()?.to_owned());
    Some((key("PK")?, key("SK")?))
}

/// The outbox message id of an `INSERT` record of an outbox item.
pub fn outbox_id(record: &EventRecord) -> Option<String> {
    let (pk, sk) = inserted_keys(record)?;
    if sk != "OUTBOX" {
        return None;
    }
    pk.strip_prefix("OUTBOX#").map(str::to_owned)
}

/// The sort key of an `INSERT` record of a forgot request.
pub fn forgot_sk(record: &EventRecord) -> Option<String> {
    let (pk, sk) = inserted_keys(record)?;
    (pk == FORGOT_PENDING_PK).then_some(sk)
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Handles one record: answers a forgot request or delivers a message.
pub async fn deliver(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    record: &EventRecord,
) -> PortResult<Delivery> {
    if let Some(sk) = forgot_sk(record) {
        // Gone = answered already (a retried record) or expired.
        if let Some(request) = store.forgot_request(&sk).await? {
            answer_forgot(store, config, &request, now_ms()).await?;
        }
        return Ok(Delivery::Answered);
    }
    match outbox_id(record) {
        Some(id) => deliver_message(store, mailer, &id).await,
        None => Ok(Delivery::Ignored),
    }
}

/// Delivers one outbox message at most once: claim, send, drop the marker
/// (the stream consumer and the scheduled sweep share it).
pub async fn deliver_message(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    id: &str,
) -> PortResult<Delivery> {
    let id = id.to_owned();
    let stored = store
        .outbox_message(&id)
        .await?
        .ok_or_else(|| Unavailable(anyhow::anyhow!("outbox message unknown or expired")))?;
    if stored.delivered_at_ms.is_some() {
        return Ok(Delivery::AlreadyDelivered);
    }
    let Some(claim) = store.claim(&id, now_ms()).await? else {
        return Ok(Delivery::AlreadyDelivered);
    };
    if let Err(err) = mailer.send(&stored.message).await {
        if let Err(release) = store.release(&claim).await {
            tracing::error!(message_id = %id, error = %format!("{:#}", release.0), "outbox claim not released");
        }
        return Err(err);
    }
    if let Err(err) = store.finish(&claim).await {
        // Delivered all the same; the sweep skips delivered messages.
        tracing::warn!(message_id = %id, error = %format!("{:#}", err.0), "pending marker left");
    }
    tracing::info!(message_id = %id, kind = ?stored.message.kind, "email delivered");
    Ok(Delivery::Sent)
}

/// Handles one stream batch; failed records are reported by sequence number.
pub async fn handle(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    event: Event,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let mut sent = 0u64;
    for record in &event.records {
        let delivered = deliver(store, mailer, config, record).await;
        sent += u64::from(matches!(delivered, Ok(Delivery::Sent)));
        if let Err(err) = delivered {
            tracing::error!(event_id = %record.event_id, error = %format!("{:#}", err.0), "outbox record failed");
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = Some(
                record
                    .change
                    .sequence_number
                    .clone()
                    .unwrap_or_else(|| record.event_id.clone()),
            );
            response.batch_item_failures.push(failure);
        }
    }
    let failed = response.batch_item_failures.len() as u64;
    let emf =
        shared::observe::metrics::mail_emf(shared::observe::namespace(), now_ms(), sent, failed);
    shared::observe::emit(&emf);
    response
}

/// Everything the function's `main` does: only the table, the outbox data
/// key and SES (no SCv2 keys); the configuration gives the reset link and
/// token lifetime.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let (store, mailer, config) = async {
        let config = Config::from_env()?;
        let aws = AwsConfig::from_env()?;
        let clients = AwsClients::from_env(&aws).await;
        let keys = KmsKeyStore::from_clients(&clients, &aws);
        let store = account_store(&aws, &clients, &keys).await?;
        let mailer = SesMailer::new(clients.ses.clone(), &aws.ses_from_address);
        anyhow::Ok((store, mailer, config))
    }
    .await
    .map_err(cold_start_failed)?;
    let (store, mailer, config) = (&store, &mailer, &config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, lambda_runtime::Error>(handle(store, mailer, config, event.payload).await)
    }))
    .await
}
