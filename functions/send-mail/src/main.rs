//! Lambda for `send-mail` (DynamoDB stream of the table).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aws_adapters::mail_fn::run().await
}
