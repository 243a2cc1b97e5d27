use shared::ports::Unavailable;

/// Wraps an SDK (or any) error as `Unavailable`, keeping the full source
/// chain for logs. Callers pass a static context naming the operation, never
/// request data.
pub fn unavailable<E>(context: &'static str, err: E) -> Unavailable
where
    E: std::error::Error + Send + Sync + 'static,
{
    Unavailable(anyhow::Error::new(err).context(context))
}

/// An error that is not an SDK error (malformed item, crypto failure).
pub(crate) fn corrupt(context: &'static str) -> Unavailable {
    Unavailable(anyhow::anyhow!(context))
}

/// Whether a DynamoDB call was refused by its condition expression (the
/// `ConditionalCheckFailedException` of any operation).
pub(crate) fn condition_failed<E, R>(err: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}
