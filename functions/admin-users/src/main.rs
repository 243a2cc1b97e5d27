//! Lambda for `admin-users` (internal, invoked by an operator through IAM).
#![forbid(unsafe_code)]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    aws_adapters::admin_users_fn::run().await
}
