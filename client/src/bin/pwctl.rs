//! `pwctl`: command-line client of the password API.
//!
//! Every password command performs a fresh SCv2 handshake, then one sealed
//! call. Exit codes: 0 on 2xx, 1 on an API error (4xx/5xx), 2 on a
//! transport or protocol error (and on bad command-line usage, as clap does).
//! Secrets (access token, passwords, reset token) are never printed.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use client::{Client, ClientError, Identity, Reply};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use serde_json::{json, Value};
use shared::channel::BodyForm;
use shared::Route;

const SECRETS_HELP: &str = "\
Secrets from the environment:
  Every secret can come from an environment variable instead of the command
  line, so it stays out of shell history and of the process list:
    PWCTL_TOKEN             access token (JWT) for `change` and `status`
    PWCTL_CURRENT_PASSWORD  current password for `change`
    PWCTL_NEW_PASSWORD      new password for `change` and `reset`
    PWCTL_PASSWORD          first password for `init`
    PWCTL_RESET_TOKEN       reset token for `reset`
  e.g.  read -rs PWCTL_NEW_PASSWORD && export PWCTL_NEW_PASSWORD
  pwctl never prints tokens or passwords.

Exit status: 0 on success (2xx), 1 on an API error (4xx/5xx),
2 on a transport or protocol error.";

// Global options take display orders from 100 so that, in a subcommand's
// help, its own options come first.
#[derive(Parser)]
#[command(
    about = "Client of the password API (Secure Channel v2)",
    after_help = SECRETS_HELP
)]
struct Cli {
    /// Base URL of the API.
    #[arg(
        long,
        global = true,
        display_order = 100,
        default_value = "http://127.0.0.1:9000",
        env = "PWCTL_URL"
    )]
    url: String,
    /// Device fingerprint sent as X-Client-Hash.
    #[arg(
        long,
        global = true,
        display_order = 101,
        default_value = "pwctl-device",
        env = "PWCTL_CLIENT_HASH"
    )]
    client_hash: String,
    /// Accept-Language to ask for.
    #[arg(
        long,
        global = true,
        display_order = 102,
        default_value = "en",
        env = "PWCTL_LANG"
    )]
    lang: String,
    /// Print machine-readable JSON: `{"status":<http>,"body":<envelope>}` for API calls.
    #[arg(long, global = true, display_order = 103)]
    json: bool,
    /// Send sealed calls as base64 text instead of raw application/octet-stream bytes.
    #[arg(long, global = true, display_order = 104)]
    base64: bool,
    #[command(subcommand)]
    command: Command,
}

/// The access token of the JWT-protected commands.
#[derive(Args)]
struct AccessToken {
    /// Access token (JWT), sent as `Authorization: Bearer`.
    #[arg(
        long = "token",
        value_name = "JWT",
        env = "PWCTL_TOKEN",
        hide_env_values = true
    )]
    token: String,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the public key, create a session and check its key confirmation.
    Handshake,
    /// Operator commands against the AWS table and KMS key (TABLE_NAME, KMS_KEY_ID, AWS_*).
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Show the server's active public key.
    PublicKey,
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
        #[arg(long, value_name = "SID")]
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

/// Renders the `data` of a successful envelope as one human line.
type Describe = fn(&Value) -> String;

/// One sealed call: which route, its plaintext body, and the bearer token if any.
struct SecureCall<'a> {
    route: Route,
    body: Value,
    bearer: Option<&'a str>,
    describe: Describe,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let client = Client::new(
        &cli.url,
        Identity {
            client_hash: cli.client_hash.clone(),
            accept_language: cli.lang.clone(),
            ..Identity::default()
        },
    );
    let out = Output { json: cli.json };
    let form = if cli.base64 {
        BodyForm::Base64
    } else {
        BodyForm::Raw
    };
    let call = match &cli.command {
        Command::Handshake => return handshake(&client, out).await,
        Command::Admin { command } => return admin(command).await,
        Command::PublicKey => return public_key(&client, out).await,
        Command::Change {
            auth,
            new_password,
            current_password,
        } => change(auth, new_password, current_password.as_deref()),
        Command::Status { auth } => status(auth),
        Command::Init {
            session_id,
            password,
        } => init(session_id, password),
        Command::Forgot { email } => forgot(email),
        Command::Reset {
            reset_token,
            new_password,
        } => reset(reset_token, new_password),
    };
    let describe = call.describe;
    match secure_call(&client, form, call).await {
        Ok(reply) => out.reply(&reply, describe),
        Err(e) => out.failure(&e),
    }
}

// ---- commands ---------------------------------------------------------------

fn change<'a>(auth: &'a AccessToken, new: &str, current: Option<&str>) -> SecureCall<'a> {
    let mut body = json!({ "newPassword": new });
    if let Some(current) = current {
        body["currentPassword"] = Value::from(current);
    }
    SecureCall {
        route: Route::Change,
        body,
        bearer: Some(&auth.token),
        describe: |data| format!("password changed ({})", text(&data["passwordChangedAt"])),
    }
}

fn status(auth: &AccessToken) -> SecureCall<'_> {
    SecureCall {
        route: Route::Status,
        body: json!({}),
        bearer: Some(&auth.token),
        describe: |data| match (&data["passwordSet"], data["passwordChangedAt"].as_str()) {
            (Value::Bool(true), Some(at)) => format!("password set (last changed {at})"),
            (Value::Bool(true), None) => "password set".to_owned(),
            _ => "no password set".to_owned(),
        },
    }
}

fn init(session_id: &str, password: &str) -> SecureCall<'static> {
    SecureCall {
        route: Route::Init,
        body: json!({ "sessionId": session_id, "password": password }),
        bearer: None,
        describe: |data| {
            format!(
                "password set for {} ({}), account {}",
                text(&data["email"]),
                text(&data["bizId"]),
                account_status(&data["status"]),
            )
        },
    }
}

fn forgot(email: &str) -> SecureCall<'static> {
    SecureCall {
        route: Route::Forgot,
        body: json!({ "email": email }),
        bearer: None,
        // The data is empty by design; the localized message says it all.
        describe: |_| "reset requested: if the email exists, a reset link will be sent".to_owned(),
    }
}

fn reset(reset_token: &str, new: &str) -> SecureCall<'static> {
    SecureCall {
        route: Route::Reset,
        body: json!({ "token": reset_token, "newPassword": new }),
        bearer: None,
        describe: |data| format!("password reset ({})", text(&data["passwordChangedAt"])),
    }
}

/// A fresh handshake, then one sealed call of `call.route`.
async fn secure_call(
    client: &Client,
    form: BodyForm,
    call: SecureCall<'_>,
) -> Result<Reply, ClientError> {
    let mut extra = HeaderMap::new();
    if let Some(token) = call.bearer {
        // Checked before any request; the error never echoes the token.
        let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
            .map_err(|_| ClientError::Protocol("the access token is not a valid header value"))?;
        value.set_sensitive(true);
        extra.insert(AUTHORIZATION, value);
    }
    let session = client.handshake().await?;
    let route = call.route;
    client
        .call(
            &session,
            route.method().as_str(),
            route.path(),
            &call.body,
            form,
            extra,
        )
        .await
}

async fn handshake(client: &Client, out: Output) -> ExitCode {
    match client.handshake().await {
        Ok(s) if out.json => {
            println!(
                "{}",
                json!({ "sessionId": s.id, "expiresAt": s.expires_at, "keyConfirmed": true })
            );
            ExitCode::SUCCESS
        }
        Ok(s) => {
            println!("session {} (key confirmed), expires {}", s.id, s.expires_at);
            ExitCode::SUCCESS
        }
        Err(e) => out.failure(&e),
    }
}

async fn public_key(client: &Client, out: Output) -> ExitCode {
    match client.public_key().await {
        Ok(pk) if out.json => {
            println!(
                "{}",
                json!({ "keyId": pk.key_id, "expiresAt": pk.expires_at, "spkiBytes": pk.spki_der.len() })
            );
            ExitCode::SUCCESS
        }
        Ok(pk) => {
            println!(
                "key {} ({} bytes SPKI), expires {}",
                pk.key_id,
                pk.spki_der.len(),
                pk.expires_at
            );
            ExitCode::SUCCESS
        }
        Err(e) => out.failure(&e),
    }
}

// ---- output -----------------------------------------------------------------

const API_ERROR: u8 = 1;
const TRANSPORT_ERROR: u8 = 2;

#[derive(Clone, Copy)]
struct Output {
    json: bool,
}

impl Output {
    /// Prints a decoded reply and picks the exit code from its status.
    fn reply(self, reply: &Reply, describe: Describe) -> ExitCode {
        match reply.status {
            200..=299 => {
                // A success must come sealed: a plaintext one was not written by
                // the holder of K (or the server broke the protocol).
                if !reply.encrypted || reply.body["success"] != Value::Bool(true) {
                    return self.protocol("a success answer was not a sealed success envelope");
                }
                if self.json {
                    println!("{}", json!({ "status": reply.status, "body": reply.body }));
                } else {
                    println!("{}", describe(&reply.body["data"]));
                }
                ExitCode::SUCCESS
            }
            400..=599 => self.api_error(reply.status, &reply.body, &reply.headers),
            other => self.protocol_status(other),
        }
    }

    /// Reports a failure of the handshake or of the transport.
    fn failure(self, err: &ClientError) -> ExitCode {
        match err {
            ClientError::Api { status, body, .. } => {
                self.api_error(*status, body, &HeaderMap::new())
            }
            ClientError::Transport(e) => {
                eprintln!("pwctl: transport error: {}", error_chain(e));
                ExitCode::from(TRANSPORT_ERROR)
            }
            ClientError::Protocol(what) => self.protocol(what),
        }
    }

    fn api_error(self, status: u16, body: &Value, headers: &HeaderMap) -> ExitCode {
        if self.json {
            println!("{}", json!({ "status": status, "body": body }));
            return ExitCode::from(API_ERROR);
        }
        let code = body["code"].as_str().unwrap_or("(no code)");
        let message = body["message"].as_str().unwrap_or("(no standard envelope)");
        eprintln!("error {status} {code}: {message}");
        for detail in body["details"].as_array().into_iter().flatten() {
            eprintln!("  - {}", detail_line(detail));
        }
        if let Some(secs) = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()) {
            eprintln!("  retry after {secs} s");
        }
        ExitCode::from(API_ERROR)
    }

    fn protocol(self, what: &str) -> ExitCode {
        eprintln!("pwctl: protocol error: {what}");
        ExitCode::from(TRANSPORT_ERROR)
    }

    fn protocol_status(self, status: u16) -> ExitCode {
        eprintln!("pwctl: protocol error: unexpected HTTP status {status}");
        ExitCode::from(TRANSPORT_ERROR)
    }
}

/// `<code>: <message>` of one `details` item, whatever its shape.
fn detail_line(detail: &Value) -> String {
    let mut code = detail["code"].as_str().unwrap_or("").to_owned();
    if let Some(field) = detail["field"].as_str() {
        code = format!("{code} ({field})");
    }
    match (code.is_empty(), detail["message"].as_str()) {
        (false, Some(message)) => format!("{code}: {message}"),
        (false, None) => code,
        (true, _) => match detail["header"].as_str() {
            Some(header) => format!("header: {header}"),
            None => detail.to_string(),
        },
    }
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

fn account_status(v: &Value) -> String {
    match v.as_u64() {
        Some(10010201) => "pending password".to_owned(),
        Some(10010202) => "active".to_owned(),
        Some(10010203) => "locked".to_owned(),
        Some(10010204) => "disabled".to_owned(),
        _ => format!("status {v}"),
    }
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Keys: `init` (deploy time), `list`, `rotate`, `check`.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

/// Default life of the previous SCv2 key after a rotation: one day. Warm
/// functions keep the key ring of their cold start for hours, and clients
/// cache the public key for `SC_PUBLIC_KEY_MAX_AGE_SECONDS` on top of that.
const DEFAULT_ROTATION_GRACE_SECS: u64 = 86_400;

#[derive(Subcommand)]
enum KeysCommand {
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

async fn admin(command: &AdminCommand) -> ExitCode {
    let AdminCommand::Keys { command } = command;
    let result = match command {
        KeysCommand::Init { kid, days } => {
            let first = kid.clone().map(|kid| aws_adapters::admin::FirstKey {
                kid,
                lifetime: std::time::Duration::from_secs(days * 86_400),
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
                std::time::Duration::from_secs(days * 86_400),
                std::time::Duration::from_secs(*grace_secs),
            )
            .await
        }
        KeysCommand::Check => aws_adapters::admin::check_keys().await,
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
