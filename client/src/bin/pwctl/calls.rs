//! The API commands: one fresh handshake, then one sealed call.

use std::process::ExitCode;

use crate::*;

use client::{Client, ClientError, Reply};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use shared::channel::BodyForm;
use shared::Route;

// ---- commands ---------------------------------------------------------------

pub(crate) fn change<'a>(
    auth: &'a AccessToken,
    new: &str,
    current: Option<&str>,
) -> SecureCall<'a> {
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

pub(crate) fn status(auth: &AccessToken) -> SecureCall<'_> {
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

pub(crate) fn init(session_id: &str, password: &str) -> SecureCall<'static> {
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

pub(crate) fn forgot(email: &str) -> SecureCall<'static> {
    SecureCall {
        route: Route::Forgot,
        body: json!({ "email": email }),
        bearer: None,
        // The data is empty by design; the localized message says it all.
        describe: |_| "reset requested: if the email exists, a reset link will be sent".to_owned(),
    }
}

pub(crate) fn reset(reset_token: &str, new: &str) -> SecureCall<'static> {
    SecureCall {
        route: Route::Reset,
        body: json!({ "token": reset_token, "newPassword": new }),
        bearer: None,
        describe: |data| format!("password reset ({})", text(&data["passwordChangedAt"])),
    }
}

/// A fresh handshake, then one sealed call of `call.route`.
pub(crate) async fn secure_call(
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

pub(crate) async fn handshake(client: &Client, out: Output) -> ExitCode {
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

pub(crate) async fn public_key(client: &Client, out: Output) -> ExitCode {
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
