//! The AWS adapters against the local emulator, behind local-api's front.

use std::collections::HashMap;

use aws_sdk_dynamodb::config::Credentials;
use shared::config::Config;
use test_support::{emulator_env, EMULATOR_TIMEOUT_MS};

use crate::now_secs;

/// A table of its own on the emulator at `endpoint` (the emulator itself
/// or a proxy in front of it), with an SCv2 key: the AWS settings and clients.
pub async fn aws_stack(
    tag: &str,
    endpoint: &str,
    operation_timeout_ms: u64,
) -> (aws_adapters::AwsConfig, aws_adapters::AwsClients) {
    let emu = emulator_env();
    let mut random = [0u8; 6];
    aws_lc_rs::rand::fill(&mut random).unwrap();
    let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let table = format!("{tag}-{}-{random}", std::process::id());
    let vars: HashMap<&str, String> = [
        ("TABLE_NAME", table.clone()),
        ("KMS_KEY_ID", emu["KMS_KEY_ID"].clone()),
        ("SES_FROM_ADDRESS", emu["SES_FROM_ADDRESS"].clone()),
        ("AWS_OPERATION_TIMEOUT_MS", operation_timeout_ms.to_string()),
    ]
    .into_iter()
    .collect();
    let aws = aws_adapters::AwsConfig::from_lookup(|k| vars.get(k).cloned()).unwrap();
    let clients_with = |aws: aws_adapters::AwsConfig| async move {
        let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(endpoint);
        aws_adapters::AwsClients::from_loader(&aws, loader).await
    };
    let clients = clients_with(aws.clone()).await;
    // The deploy-time steps run with a generous bound: the test's own bound
    // is for the requests under test, not for a busy emulator's setup.
    let mut setup_vars = vars.clone();
    setup_vars.insert("AWS_OPERATION_TIMEOUT_MS", EMULATOR_TIMEOUT_MS.to_string());
    let setup_aws = aws_adapters::AwsConfig::from_lookup(|k| setup_vars.get(k).cloned()).unwrap();
    let setup = clients_with(setup_aws.clone()).await;
    aws_adapters::table::ensure_table(&setup.dynamodb, &table)
        .await
        .unwrap();
    // What `pwctl admin keys init --kid k-e2e` does after a deploy.
    let first = aws_adapters::admin::FirstKey {
        kid: "k-e2e".into(),
        lifetime: std::time::Duration::from_secs(3600),
    };
    aws_adapters::admin::init_keys_with(
        &aws_adapters::KmsKeyStore::from_clients(&setup, &setup_aws),
        &setup_aws,
        Some(first),
        now_secs() * 1000,
    )
    .await
    .unwrap();
    (aws, clients)
}

/// The AWS app over `clients` behind local-api's front (dev token signer,
/// mail kept in the local mailbox).
pub async fn aws_local(
    aws: &aws_adapters::AwsConfig,
    clients: &aws_adapters::AwsClients,
) -> local_api::Local {
    aws_local_with(Config::default(), aws, clients).await
}

pub async fn aws_local_with(
    mut config: Config,
    aws: &aws_adapters::AwsConfig,
    clients: &aws_adapters::AwsClients,
) -> local_api::Local {
    let signer = local_api::DevSigner::generate().unwrap();
    config.jwt.jwks_json = Some(signer.jwks().to_owned());
    // local-api serves every route from one process: it holds every key.
    let app = aws_adapters::bootstrap::app_with(shared::route::Needs::ALL, config, aws, clients)
        .await
        .unwrap();
    local_api::Local::over(app, signer)
}
