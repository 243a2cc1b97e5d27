//! `pwctl admin`: key administration and the emulator bootstrap.

use std::process::ExitCode;

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum AdminCommand {
    /// Keys: `init` (deploy time), `list`, `rotate`, `check`.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Set up a stack without CloudFormation (the local emulator), idempotent:
    /// the table (TABLE_NAME), the KMS key behind `--kms-alias`, the SES
    /// sender (SES_FROM_ADDRESS), then what `keys init` creates, with a first
    /// SCv2 key `k-local-<epoch seconds>`. Steps go to stderr.
    Bootstrap {
        /// Alias of the sealing key, created with its key when missing.
        #[arg(long, default_value = "alias/password-api")]
        kms_alias: String,
        /// Lifetime of the first SCv2 key, in days.
        #[arg(long, env = "SC_KEY_LIFETIME_DAYS", default_value_t = 90)]
        days: u64,
        /// Write the KMS key id here (for KMS_KEY_ID).
        #[arg(long, value_name = "PATH")]
        key_id_file: Option<PathBuf>,
    },
    /// Import users from another system (JSON Lines or CSV, docs/migration.md),
    /// resumable from a checkpoint; exit 1 when a line failed. With --json,
    /// the summary is one JSON object.
    Import(crate::import::ImportArgs),
    /// A user: show, resend-invite, lock, unlock, disable, enable,
    /// require-change, send-reset, delete (docs/operations.md#user-administration).
    Users(crate::users::UsersArgs),
    /// Breached-password filters: `build`.
    Breached {
        #[command(subcommand)]
        command: crate::breached::BreachedCommand,
    },
}

/// Default life of the previous SCv2 key after a rotation: one day. Warm
/// functions keep the key ring of their cold start for hours, and clients
/// cache the public key for `SC_PUBLIC_KEY_MAX_AGE_SECONDS` on top of that.
pub(crate) const DEFAULT_ROTATION_GRACE_SECS: u64 = 86_400;

#[derive(Subcommand)]
pub(crate) enum KeysCommand {
    /// Deploy time, idempotent: create the missing data keys (session, outbox)
    /// and pepper (when PASSWORD_PEPPER_ID is set), store the public key of
    /// SCv2 keys that lack it, and create the first SCv2 key if none is active.
    Init {
        /// Key id of the first SCv2 key, used only when none is active.
        #[arg(long)]
        kid: Option<String>,
        /// Lifetime of that key, in days.
        #[arg(long, default_value_t = 90)]
        days: u64,
    },
    /// Every stored key, its expiry and which one is active.
    List,
    /// Create a new RSA-3072 key, seal it with KMS, store it and make it active;
    /// the previous key stays accepted for the grace period.
    Rotate {
        /// Key id of the new key (1-64 of [A-Za-z0-9._-]).
        #[arg(long)]
        kid: String,
        /// Lifetime of the new key, in days.
        #[arg(long, default_value_t = 90)]
        days: u64,
        /// How long the previous key stays accepted, in seconds. It must cover the
        /// public-key cache plus the longest-lived warm instance (hours), hence one day.
        #[arg(long, default_value_t = DEFAULT_ROTATION_GRACE_SECS)]
        grace_secs: u64,
    },
    /// Unseal the key ring as a cold start would.
    Check,
}

pub(crate) async fn admin(command: &AdminCommand, json: bool) -> ExitCode {
    let result = match command {
        AdminCommand::Import(args) => return crate::import::run(args, json).await,
        AdminCommand::Users(args) => return crate::users::run(args, json).await,
        AdminCommand::Keys { command } => keys(command).await,
        AdminCommand::Bootstrap {
            kms_alias,
            days,
            key_id_file,
        } => bootstrap(kms_alias, *days, key_id_file.as_deref()).await,
        AdminCommand::Breached { command } => crate::breached::breached(command),
    };
    match result {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn bootstrap(
    kms_alias: &str,
    days: u64,
    key_id_file: Option<&std::path::Path>,
) -> anyhow::Result<String> {
    let spec = aws_adapters::admin::StackSpec {
        kms_alias: kms_alias.to_owned(),
        key_lifetime: Duration::from_secs(days * 86_400),
    };
    let (key_id, lines) = aws_adapters::admin::bootstrap_stack(&spec).await?;
    for line in &lines {
        eprintln!("bootstrap: {line}");
    }
    if let Some(path) = key_id_file {
        std::fs::write(path, format!("{key_id}\n"))?;
    }
    Ok(key_id)
}

async fn keys(command: &KeysCommand) -> anyhow::Result<String> {
    match command {
        KeysCommand::Init { kid, days } => {
            let first = kid.clone().map(|kid| aws_adapters::admin::FirstKey {
                kid,
                lifetime: Duration::from_secs(days * 86_400),
            });
            aws_adapters::admin::init_keys(first)
                .await
                .map(|l| l.join("\n"))
        }
        KeysCommand::List => aws_adapters::admin::list_keys().await.map(|l| l.join("\n")),
        KeysCommand::Rotate {
            kid,
            days,
            grace_secs,
        } => {
            aws_adapters::admin::rotate_key(
                kid,
                Duration::from_secs(days * 86_400),
                Duration::from_secs(*grace_secs),
            )
            .await
        }
        KeysCommand::Check => aws_adapters::admin::check_keys().await,
    }
}
