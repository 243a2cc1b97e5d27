//! Lambda for `verify-password` (internal, invoked by the identity provider).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aws_adapters::verify_fn::run().await
}
