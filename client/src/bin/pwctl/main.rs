//! `pwctl`: command-line client of the password API.
//!
//! Every password command performs a fresh SCv2 handshake, then one sealed
//! call; `signin` is one plain JSON call of local-api's `/_dev/signin`. Exit codes: 0 on 2xx, 1 on an API error (4xx/5xx), 2 on a
//! transport or protocol error (and on bad command-line usage, as clap does).
//! Secrets (access token, passwords, reset token) are never printed, but for
//! the access token `signin` prints as its only output.
#![forbid(unsafe_code)]

mod admin;
mod breached;
mod calls;
mod cli;
mod import;
mod output;
mod users;

use std::process::ExitCode;

use clap::Parser;
use client::{Client, Identity};
use serde_json::Value;
use shared::channel::BodyForm;
use shared::route::Route;

use admin::*;
use calls::*;
use cli::*;
use output::*;

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
        Command::Admin { command } => return admin(command, cli.json).await,
        Command::PublicKey => return public_key(&client, out).await,
        Command::Signin { email, password } => return signin(&client, email, password, out).await,
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
