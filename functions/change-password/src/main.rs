//! Lambda for `change-password`: all logic lives in `shared`, wired to AWS by `aws-adapters`.
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    aws_adapters::lambda::run_http(shared::dispatch::CHANGE).await
}
