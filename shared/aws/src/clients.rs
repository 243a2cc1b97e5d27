use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

use crate::config::AwsConfig;

/// The SDK clients, built once per cold start with bounded connect and
/// operation timeouts and at most two retries.
#[derive(Debug, Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub kms: aws_sdk_kms::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
}

impl AwsClients {
    /// Region, credentials and `AWS_ENDPOINT_URL` from the environment.
    pub async fn from_env(cfg: &AwsConfig) -> Self {
        Self::from_loader(cfg, aws_config::defaults(BehaviorVersion::latest())).await
    }

    /// Same, from a caller-prepared loader (tests pin endpoint and credentials);
    /// the timeouts and retries of `cfg` are applied on top.
    pub async fn from_loader(cfg: &AwsConfig, loader: ConfigLoader) -> Self {
        Self::from_sdk_config(&Self::sdk_config_with(cfg, loader).await)
    }

    /// The SDK configuration of [`AwsClients::from_env`], for a client of
    /// another service with the same timeouts and retries.
    pub async fn load_sdk_config(cfg: &AwsConfig) -> SdkConfig {
        Self::sdk_config_with(cfg, aws_config::defaults(BehaviorVersion::latest())).await
    }

    /// `loader` with the timeouts and retries of `cfg`.
    pub async fn sdk_config_with(cfg: &AwsConfig, loader: ConfigLoader) -> SdkConfig {
        loader
            .timeout_config(cfg.timeout_config())
            .retry_config(cfg.retry_config())
            .load()
            .await
    }

    pub fn from_sdk_config(sdk: &SdkConfig) -> Self {
        AwsClients {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            kms: aws_sdk_kms::Client::new(sdk),
            ses: aws_sdk_sesv2::Client::new(sdk),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(sdk),
        }
    }
}
