//! The command line: global options and subcommands.

use crate::*;

use clap::{Args, Parser, Subcommand};

pub(crate) const SECRETS_HELP: &str = "\
Secrets from the environment:
  Every secret can come from an environment variable instead of the command
  line, so it stays out of shell history and of the process list:
    PWCTL_TOKEN             access token (JWT) for `change` and `status`
    PWCTL_CURRENT_PASSWORD  current password for `change`
    PWCTL_NEW_PASSWORD      new password for `change` and `reset`
    PWCTL_PASSWORD          password for `signin`, first password for `init`
    PWCTL_SESSION_ID        registration link's `sid` for `init`
    PWCTL_RESET_TOKEN       reset token for `reset`
  e.g.  read -rs PWCTL_NEW_PASSWORD && export PWCTL_NEW_PASSWORD
        export PWCTL_TOKEN=$(pwctl signin --email demo@example.com)
  pwctl never prints passwords, and prints a token only as the output of
  `signin` (the new access token, alone on stdout).

Exit status: 0 on success (2xx), 1 on an API error (4xx/5xx),
2 on a transport or protocol error.";

// Global options take display orders from 100 so that, in a subcommand's
// help, its own options come first.
#[derive(Parser)]
#[command(
    about = "Client of the password API (Secure Channel v2)",
    after_help = SECRETS_HELP
)]
pub(crate) struct Cli {
    /// Base URL of the API.
    #[arg(
        long,
        global = true,
        display_order = 100,
        default_value = "http://127.0.0.1:9000",
        env = "PWCTL_URL"
    )]
    pub(crate) url: String,
    /// Device fingerprint sent as X-Client-Hash.
    #[arg(
        long,
        global = true,
        display_order = 101,
        default_value = "pwctl-device",
        env = "PWCTL_CLIENT_HASH"
    )]
    pub(crate) client_hash: String,
    /// Accept-Language to ask for.
    #[arg(
        long,
        global = true,
        display_order = 102,
        default_value = "en",
        env = "PWCTL_LANG"
    )]
    pub(crate) lang: String,
    /// Print machine-readable JSON: `{"status":<http>,"body":<envelope>}` for API calls.
    #[arg(long, global = true, display_order = 103)]
    pub(crate) json: bool,
    /// Send sealed calls as base64 text instead of raw application/octet-stream bytes.
    #[arg(long, global = true, display_order = 104)]
    pub(crate) base64: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The access token of the JWT-protected commands.
#[derive(Args)]
pub(crate) struct AccessToken {
    /// Access token (JWT), sent as `Authorization: Bearer`.
    #[arg(
        long = "token",
        value_name = "JWT",
        env = "PWCTL_TOKEN",
        hide_env_values = true
    )]
    pub(crate) token: String,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Fetch the public key, create a session and check its key confirmation.
    Handshake,
    /// Operator commands against the AWS table and KMS key (TABLE_NAME, KMS_KEY_ID, AWS_*).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Show the server's active public key.
    PublicKey,
    /// Sign in through local-api's `POST /_dev/signin` and print the new access
    /// token alone on stdout: `export PWCTL_TOKEN=$(pwctl signin --email E)`.
    /// Local only (the `/_dev` routes exist only in local-api); plain JSON, not SC.
    #[command(after_help = SECRETS_HELP)]
    Signin {
        /// Email address of the account.
        #[arg(long, value_name = "E")]
        email: String,
        /// The account's password.
        #[arg(long, value_name = "P", env = "PWCTL_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Change the password of the token's user (JWT + SC).
    #[command(after_help = SECRETS_HELP)]
    Change {
        #[command(flatten)]
        auth: AccessToken,
        /// New password.
        #[arg(
            long,
            value_name = "P",
            env = "PWCTL_NEW_PASSWORD",
            hide_env_values = true
        )]
        new_password: String,
        /// Current password (required when the account has one).
        #[arg(
            long,
            value_name = "P",
            env = "PWCTL_CURRENT_PASSWORD",
            hide_env_values = true
        )]
        current_password: Option<String>,
    },
    /// Show whether the token's user has a password, and when it last changed (JWT + SC).
    #[command(after_help = SECRETS_HELP)]
    Status {
        #[command(flatten)]
        auth: AccessToken,
    },
    /// Set the first password of a pending account from its registration link (SC).
    #[command(after_help = SECRETS_HELP)]
    Init {
        /// The `sid` of the link emailed at registration.
        #[arg(
            long,
            value_name = "SID",
            env = "PWCTL_SESSION_ID",
            hide_env_values = true
        )]
        session_id: String,
        /// The password to set.
        #[arg(long, value_name = "P", env = "PWCTL_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Ask for a password-reset link to be emailed (SC).
    Forgot {
        /// Email address of the account.
        #[arg(long, value_name = "E")]
        email: String,
    },
    /// Set a new password with the token of a reset link (SC).
    #[command(after_help = SECRETS_HELP)]
    Reset {
        /// Reset token from the emailed link (not the access token).
        #[arg(
            long = "token",
            value_name = "T",
            env = "PWCTL_RESET_TOKEN",
            hide_env_values = true
        )]
        reset_token: String,
        /// New password.
        #[arg(
            long,
            value_name = "P",
            env = "PWCTL_NEW_PASSWORD",
            hide_env_values = true
        )]
        new_password: String,
    },
}
