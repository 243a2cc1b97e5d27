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
//! 2. delivers every pending message the way `send-mail` does (claim under a
//!    condition, send, drop the marker): a message already claimed by the
//!    stream or by another run is skipped, so each one goes out at most once;
//! 3. deletes the dead letters of step 1 only when every pending message was
//!    delivered; otherwise they reappear after their visibility timeout and
//!    the next run tries again.

use aws_sdk_sqs::types::DeleteMessageBatchRequestEntry;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;
use serde_json::Value;
use shared::config::Config;
use shared::handlers::accounts::answer_forgot;
use shared::ports::accounts::{AccountStore, Mailer};
use shared::ports::PortResult;

use crate::bootstrap::{account_store, cold_start_failed};
use crate::error::unavailable;
use crate::mail_fn::{deliver_message, now_ms, Delivery};
use crate::{AwsClients, AwsConfig, DynamoAccountStore, KmsKeyStore, SesMailer};

/// Environment variable naming the dead-letter queue (its URL).
pub const DEAD_LETTER_QUEUE_URL_VAR: &str = "MAIL_DEAD_LETTER_QUEUE_URL";
/// Dead letters read per run at most (SQS hands out 10 per call).
pub const MAX_DEAD_LETTERS: usize = 1000;
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

    /// Receipt handles of the dead letters available now (hidden for the run).
    async fn receive(&self) -> PortResult<Vec<String>> {
        let mut handles = Vec::new();
        while handles.len() < MAX_DEAD_LETTERS {
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
}

/// One run: dead letters first, then every forgot request still pending
/// (its stream record may be one of them), then every pending message, then
/// the dead letters deleted if nothing failed.
pub async fn sweep(
    store: &DynamoAccountStore,
    mailer: &dyn Mailer,
    config: &Config,
    dead_letters: &DeadLetters,
) -> PortResult<SweepReport> {
    let handles = dead_letters.receive().await?;
    let mut report = SweepReport {
        dead_letters_read: handles.len(),
        ..SweepReport::default()
    };
    for request in store.pending_forgot().await? {
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
    for message in store.pending_outbox().await? {
        match deliver_message(store, mailer, &message.id).await {
            Ok(Delivery::Sent) => report.sent += 1,
            Ok(Delivery::AlreadyDelivered | Delivery::Ignored | Delivery::Answered) => {
                report.already_delivered += 1
            }
            Err(err) => {
                report.failed += 1;
                tracing::error!(message_id = %message.id, error = %format!("{:#}", err.0), "sweep delivery failed");
            }
        }
    }
    if report.failed == 0 && !handles.is_empty() {
        report.dead_letters_deleted = dead_letters.delete(&handles).await?;
    }
    Ok(report)
}

/// Everything the function's `main` does: the table, the outbox data key,
/// SES and the dead-letter queue (no SCv2 keys).
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let (store, mailer, config, dead_letters) = async {
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
        anyhow::Ok((store, mailer, config, dead_letters))
    }
    .await
    .map_err(cold_start_failed)?;
    let (store, mailer, config, dead_letters) = (&store, &mailer, &config, &dead_letters);
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        let report = sweep(store, mailer, config, dead_letters)
            .await
            .map_err(|e| anyhow::anyhow!("sweep stopped: {:#}", e.0))?;
        tracing::info!(?report, "mail sweep done");
        Ok::<_, lambda_runtime::Error>(report)
    }))
    .await
}
