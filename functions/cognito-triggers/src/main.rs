//! Lambda for the Cognito custom-authentication triggers (`COGNITO_TRIGGER`).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aws_adapters::cognito_fn::run().await
}
