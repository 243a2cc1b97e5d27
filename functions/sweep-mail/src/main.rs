//! Lambda for `sweep-mail` (scheduled: pending outbox messages, mail dead letters).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aws_adapters::sweep::run().await
}
