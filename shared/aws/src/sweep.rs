//! The scheduled `sweep-mail` function: delivers what the table stream did
//! not, and drains the mail dead-letter queue.
//!
//! `send-mail` gives up on a stream record after its retries and leaves a
//! pointer to the record batch in the dead-letter queue. The messages
//! themselves stay in the table with their `OUTBOX#PENDING` markers, so the
//! pending markers, not the dead letters, say what is left to send. One run:
//!
//! 1. reads the dead letters (up to [`MAX_DEAD_LETTERS`]) and keeps their
//!    receipt handles; every batch they point at was written before, so its
//!    messages are among the pending ones read next;
//! 2. answers the oldest pending forgot requests, at most
//!    [`MAX_FORGOT_PER_RUN`] (one Query with `Limit`);
//! 3. delivers the oldest pending messages the way `send-mail` does (claim
//!    under a condition, send, drop the marker), at most
//!    [`MAX_MESSAGES_PER_RUN`] (one Query with `Limit`): a message already
//!    claimed by the stream or by another run is skipped, so each one goes
//!    out at most once;
//! 4. deletes the dead letters of step 1 only when every pending message was
//!    delivered and none is left for a later run; otherwise they reappear
//!    after their visibility timeout and the next run tries again.
//!
//! A run does bounded work whatever the backlog (the function has a 30 s
//! timeout and runs every 15 minutes): what is past the bounds waits for the
//! next run, oldest first. Within the bounds, the deadline rule of
//! `send-mail` holds too ([`crate::deadline`]): a forgot answer or a
//! delivery starts only if its worst case fits before the invocation's
//! deadline; what does not is left for the next run.
//!
//! Each run writes one mail metric document (`MailSent`, `MailFailed`,
//! dimension `Function` = `sweep-mail`), a run that stops counting as one
//! failure, so the alarm on `MailFailed` sees it.

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use shared::config::Config;
use shared::handlers::accounts::answer_forgot;
use shared::observe::metrics::{mail_emf_of, SWEEP_MAIL_FUNCTION};
use shared::ports::accounts::Mailer;
use shared::ports::PortResult;

use crate::bootstrap::{account_store, cold_start_failed};
use crate::deadline::{Budget, FORGOT_ANSWER_CALLS, OUTBOX_RECORD_CALLS};
use crate::error::unavailable;
use crate::mail_fn::{deliver_message_within, now_ms, Delivery};
use crate::{AwsClients, AwsConfig, DynamoAccountStore, KmsKeyStore, SesMailer};

/// Environment variable naming the dead-letter queue (its URL).
pub const DEAD_LETTER_QUEUE_URL_VAR: &str = "MAIL_DEAD_LETTER_QUEUE_URL";
/// Dead letters read per run at most (SQS hands out 10 per call).
pub const MAX_DEAD_LETTERS: usize = 1000;
/// Forgot requests one run answers at most (each: two reads, a Query and a
/// transaction).
pub const MAX_FORGOT_PER_RUN: usize = 50;
/// Messages one run delivers at most (each: a read, a claim, an SES send and
/// a marker delete).
pub const MAX_MESSAGES_PER_RUN: usize = 50;
/// How long a read dead letter stays hidden from other readers: longer than
/// one run (the function's timeout is at most a few minutes).
const VISIBILITY_TIMEOUT_SECS: i32 = 900;

/// The mail dead-letter queue.
#[derive(Debug, Clone)]
pub struct DeadLetters {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl DeadLetters {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        DeadLetters {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// Receipt handles of the dead letters available now (hidden for the
    /// run), as many as `budget` leaves time to read while the work after
    /// them can still start.
    async fn receive(&self, budget: &Budget) -> PortResult<Vec<String>> {
        let mut handles = Vec::new();
        while handles.len() < MAX_DEAD_LETTERS && budget.allows(1 + OUTBOX_RECORD_CALLS) {
            let out = self
                .client
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .visibility_timeout(VISIBILITY_TIMEOUT_SECS)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(|e| unavailable("sqs ReceiveMessage", e))?;
            let batch: Vec<String> = out
                .messages()
                .iter()
                .filter_map(|m| m.receipt_handle().map(str::to_owned))
                .collect();
            if batch.is_empty() {
                break;
            }
            handles.extend(batch);
        }
        Ok(handles)
    }

    /// Deletes received dead letters; returns how many SQS confirmed.
    async fn delete(&self, handles: &[String]) -> PortResult<usize> {
        let mut deleted = 0;
        for chunk in handles.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, handle)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(handle)
                        .build()
                        .map_err(|e| unavailable("sqs DeleteMessageBatch entry", e))
                })
                .collect::<PortResult<Vec<_>>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| unavailable("sqs DeleteMessageBatch", e))?;
            deleted += out.successful().len();
        }
        Ok(deleted)
    }
}

/// What one run did; logged and returned as the invocation's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub dead_letters_read: usize,
    /// Forgot requests the stream never answered, answered now.
    pub forgot_answered: usize,
    pub dead_letters_deleted: usize,
    pub sent: usize,
    pub already_delivered: usize,
    pub failed: usize,
    /// Forgot requests or messages past this run's bounds, left for the next.
    pub left_for_next_run: bool,
}

/// How much one run does at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepLimits {
    pub forgot_requests: usize,
    pub messages: usize,
}

impl Default for SweepLimits {
    fn default() -> Self {
        SweepLimits {
            forgot_requests: MAX_FORGOT_PER_RUN,
            messages: MAX_MESSAGES_PER_RUN,
        }
    }
}

/// One run within the default [`SweepLimits`].
pub async fn sweep(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    dead_letters: &DeadLetters,
) -> PortResult<SweepReport> {
    sweep_within(store, mailer, config, dead_letters, SweepLimits::default()).await
}

/// One run: dead letters first, then the oldest forgot requests still
/// pending (their stream records may be among them), then the oldest pending
/// messages, each within `limits`, then the dead letters deleted if nothing
/// failed and nothing was left for the next run.
pub async fn sweep_within(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    dead_letters: &DeadLetters,
    limits: SweepLimits,
) -> PortResult<SweepReport> {
    sweep_until(
        store,
        mailer,
        config,
        dead_letters,
        limits,
        &Budget::unbounded(),
    )
    .await
}

/// [`sweep_within`] under `budget`: a step whose worst case does not fit
/// before the deadline is left for the next run, with everything after it.
pub async fn sweep_until(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    dead_letters: &DeadLetters,
    limits: SweepLimits,
    budget: &Budget,
) -> PortResult<SweepReport> {
    let handles = dead_letters.receive(budget).await?;
    let mut report = SweepReport {
        dead_letters_read: handles.len(),
        ..SweepReport::default()
    };
    let (requests, more_requests) = store.oldest_pending_forgot(limits.forgot_requests).await?;
    report.left_for_next_run = more_requests;
    for request in requests {
        if !budget.allows(FORGOT_ANSWER_CALLS) {
            report.left_for_next_run = true;
            break;
        }
        // Answered at most once: the answer consumes the request in its transaction.
        match answer_forgot(store, config, &request, now_ms()).await {
            Ok(true) => report.forgot_answered += 1,
            Ok(false) => {} // another run answered it first
            Err(err) => {
                report.failed += 1;
                tracing::error!(request_id = %request.id, error = %format!("{:#}", err.0), "sweep forgot answer failed");
            }
        }
    }
    let (messages, more_messages) = store.oldest_pending_outbox(limits.messages).await?;
    report.left_for_next_run |= more_messages;
    for message in messages {
        match deliver_message_within(store, mailer, &message.id, budget).await {
            Ok(Delivery::Sent) => report.sent += 1,
            Ok(Delivery::Deferred) => {
                report.left_for_next_run = true;
                break;
            }
            Ok(Delivery::AlreadyDelivered | Delivery::Ignored | Delivery::Answered) => {
                report.already_delivered += 1
            }
            Err(err) => {
                report.failed += 1;
                tracing::error!(message_id = %message.id, error = %format!("{:#}", err.0), "sweep delivery failed");
            }
        }
    }
    let delete_calls = u32::try_from(handles.len().div_ceil(10)).unwrap_or(u32::MAX);
    if report.failed == 0 && !report.left_for_next_run && !handles.is_empty() {
        if budget.allows(delete_calls) {
            report.dead_letters_deleted = dead_letters.delete(&handles).await?;
        } else {
            // They reappear after their visibility timeout; the next run deletes them.
            report.left_for_next_run = true;
        }
    }
    Ok(report)
}

/// One scheduled run within the default [`SweepLimits`] under `budget`, and
/// its mail metric document (`Function` = `sweep-mail`): a run that stops
/// early (an unreadable queue or table) counts as one failure, and is the
/// invocation's error.
pub async fn run_once(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    dead_letters: &DeadLetters,
    budget: &Budget,
) -> PortResult<SweepReport> {
    let run = sweep_until(
        store,
        mailer,
        config,
        dead_letters,
        SweepLimits::default(),
        budget,
    )
    .await;
    let (sent, failed) = match &run {
        Ok(report) => (report.sent as u64, report.failed as u64),
        Err(_) => (0, 1),
    };
    shared::observe::emit(&mail_emf_of(
        SWEEP_MAIL_FUNCTION,
        shared::observe::namespace(),
        now_ms(),
        sent,
        failed,
    ));
    run
}

/// Everything the function's `main` does: the table, the outbox data key,
/// SES and the dead-letter queue (no SCv2 keys).
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let (store, mailer, config, dead_letters, call, keys) = async {
        let config = Config::from_env()?;
        let aws = AwsConfig::from_env()?;
        let queue_url = std::env::var(DEAD_LETTER_QUEUE_URL_VAR)
            .map_err(|_| anyhow::anyhow!("{DEAD_LETTER_QUEUE_URL_VAR} is required"))?;
        let sdk = AwsClients::load_sdk_config(&aws).await;
        let clients = AwsClients::from_sdk_config(&sdk);
        let keys = KmsKeyStore::from_clients(&clients, &aws);
        let store = account_store(&aws, &clients, &keys).await?;
        let mailer = SesMailer::new(clients.ses.clone(), &aws.ses_from_address);
        let dead_letters = DeadLetters::new(aws_sdk_sqs::Client::new(&sdk), queue_url);
        anyhow::Ok((
            store,
            mailer,
            config,
            dead_letters,
            aws.operation_timeout,
            keys,
        ))
    }
    .await
    .map_err(cold_start_failed)?;
    let (store, mailer, config, dead_letters, keys) =
        (&store, &mailer, &config, &dead_letters, &keys);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let budget = Budget::until_epoch_ms(event.context.deadline, call);
        budget.require(OUTBOX_RECORD_CALLS)?;
        // Days left on the active SCv2 key (ScKeyDaysLeft), whatever the mail does.
        crate::key_expiry::publish(keys, now_ms()).await;
        let report = run_once(store, mailer, config, dead_letters, &budget)
            .await
            .map_err(|e| anyhow::anyhow!("sweep stopped: {:#}", e.0))?;
        tracing::info!(?report, "mail sweep done");
        Ok::<_, lambda_runtime::Error>(report)
    }))
    .await
}
