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
//!
//! Under the invocation deadline ([`crate::deadline`]): a record starts only
//! if its worst case fits in the time left, and a claim is taken only if the
//! send and the claim's release still fit; the send is cut off in time to
//! release the claim. The records not started are reported in
//! `batchItemFailures` too, so a timeout never leaves a claimed, unsent message.

use aws_lambda_events::dynamodb::{Event, EventRecord};
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::{service_fn, LambdaEvent};
use shared::config::Config;
use shared::handlers::accounts::answer_forgot;
use shared::ports::accounts::Mailer;
use shared::ports::{PortResult, Unavailable};

use crate::bootstrap::{account_store, cold_start_failed};
use crate::deadline::{Budget, CLAIM_CALLS, FORGOT_RECORD_CALLS, OUTBOX_RECORD_CALLS};
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
    /// Not started (or not claimed): its worst case did not fit before the
    /// invocation deadline. Still pending; the retry or the sweep sends it.
    Deferred,
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
    deliver_within(store, mailer, config, record, &Budget::unbounded()).await
}

/// [`deliver`] under `budget`: a record whose worst case does not fit is
/// not started ([`Delivery::Deferred`]).
pub async fn deliver_within(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    record: &EventRecord,
    budget: &Budget,
) -> PortResult<Delivery> {
    if let Some(sk) = forgot_sk(record) {
        if !budget.allows(FORGOT_RECORD_CALLS) {
            return Ok(Delivery::Deferred);
        }
        // Gone = answered already (a retried record) or expired.
        if let Some(request) = store.forgot_request(&sk).await? {
            answer_forgot(store, config, &request, now_ms()).await?;
        }
        return Ok(Delivery::Answered);
    }
    match outbox_id(record) {
        Some(id) => deliver_message_within(store, mailer, &id, budget).await,
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
    deliver_message_within(store, mailer, id, &Budget::unbounded()).await
}

/// [`deliver_message`] under `budget`: started only if its worst case fits,
/// claimed only if the send and the release still fit, and the send cut off
/// in time to give the claim back.
pub async fn deliver_message_within(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    id: &str,
    budget: &Budget,
) -> PortResult<Delivery> {
    if !budget.allows(OUTBOX_RECORD_CALLS) {
        return Ok(Delivery::Deferred);
    }
    let id = id.to_owned();
    let stored = store
        .outbox_message(&id)
        .await?
        .ok_or_else(|| Unavailable(anyhow::anyhow!("outbox message unknown or expired")))?;
    if stored.delivered_at_ms.is_some() {
        return Ok(Delivery::AlreadyDelivered);
    }
    // The read may have been slow: never take a claim that cannot be sent
    // and, failing that, given back before the deadline.
    if !budget.allows(CLAIM_CALLS) {
        return Ok(Delivery::Deferred);
    }
    let Some(claim) = store.claim(&id, now_ms()).await? else {
        return Ok(Delivery::AlreadyDelivered);
    };
    let send = mailer.send(&stored.message);
    // One call (the release) must still fit after the send.
    let sent = match budget.bound_of_call(1) {
        None => send.await,
        Some(bound) => tokio::time::timeout(bound, send).await.unwrap_or_else(|_| {
            Err(Unavailable(anyhow::anyhow!(
                "ses SendEmail cut off before the invocation deadline"
            )))
        }),
    };
    if let Err(err) = sent {
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

fn batch_item_failure(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = Some(
        record
            .change
            .sequence_number
            .clone()
            .unwrap_or_else(|| record.event_id.clone()),
    );
    failure
}

/// Handles one stream batch without a deadline (tests, tools); failed
/// records are reported by sequence number.
pub async fn handle(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    event: Event,
) -> DynamoDbEventResponse {
    handle_within(store, mailer, config, event, &Budget::unbounded()).await
}

/// Handles one stream batch under `budget`. Failed records and the records
/// not started before the deadline are reported by sequence number; once
/// one record is not started, none after it is (the retry starts there).
pub async fn handle_within(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    event: Event,
    budget: &Budget,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let (mut sent, mut failed, mut deferred) = (0u64, 0u64, 0usize);
    for record in &event.records {
        if deferred > 0 {
            deferred += 1;
            response
                .batch_item_failures
                .push(batch_item_failure(record));
            continue;
        }
        match deliver_within(store, mailer, config, record, budget).await {
            Ok(Delivery::Sent) => sent += 1,
            Ok(Delivery::Deferred) => {
                deferred = 1;
                response
                    .batch_item_failures
                    .push(batch_item_failure(record));
            }
            Ok(_) => {}
            Err(err) => {
                failed += 1;
                tracing::error!(event_id = %record.event_id, error = %format!("{:#}", err.0), "outbox record failed");
                response
                    .batch_item_failures
                    .push(batch_item_failure(record));
            }
        }
    }
    if deferred > 0 {
        // Not a failure: the records are retried, or reach the sweep.
        tracing::warn!(
            records = deferred,
            "records left for the retry: the invocation deadline is near"
        );
    }
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
    let (store, mailer, config, call) = async {
        let config = Config::from_env()?;
        let aws = AwsConfig::from_env()?;
        let clients = AwsClients::from_env(&aws).await;
        let keys = KmsKeyStore::from_clients(&clients, &aws);
        let store = account_store(&aws, &clients, &keys).await?;
        let mailer = SesMailer::new(clients.ses.clone(), &aws.ses_from_address);
        anyhow::Ok((store, mailer, config, aws.operation_timeout))
    }
    .await
    .map_err(cold_start_failed)?;
    let (store, mailer, config) = (&store, &mailer, &config);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        let budget = Budget::until_epoch_ms(event.context.deadline, call);
        budget.require(OUTBOX_RECORD_CALLS)?;
        Ok::<_, lambda_runtime::Error>(
            handle_within(store, mailer, config, event.payload, &budget).await,
        )
    }))
    .await
}
