//! Lambda for `invite-user` (internal, invoked by a trusted backend).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aws_adapters::invite_fn::run().await
}
