//! The API commands: one fresh handshake, then one sealed call.

use std::process::ExitCode;

use crate::*;

use client::{Client, ClientError, Reply};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use shared::channel::BodyForm;
use shared::route::Route;

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

/// local-api's sign-in: plain JSON, loopback only, never in AWS.
pub(crate) const SIGNIN_ROUTE: &str = "/_dev/signin";

/// `signin`: one `POST /_dev/signin`. On success the access token alone on
/// stdout (`--json`: the envelope), so that `export PWCTL_TOKEN=$(pwctl
/// signin ...)` works; a refusal (`AUTH.SIGNIN_FAILED`, `AUTH.ACCOUNT_LOCKED`
/// with its wait) goes to stderr with exit 1.
pub(crate) async fn signin(client: &Client, email: &str, password: &str, out: Output) -> ExitCode {
    // A redirect is never followed: it would take the password elsewhere.
    let http = match reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(e) => return transport(&e),
    };
    let sent = http
        .post(client.url(SIGNIN_ROUTE))
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json")
        .body(json!({ "email": email, "password": password }).to_string())
        .send()
        .await;
    let resp = match sent {
        Ok(resp) => resp,
        Err(e) => return transport(&e),
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body: Value = match resp.bytes().await {
        Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Err(e) => return transport(&e),
    };
    match status {
        200..=299 => {
            let Some(token) = body["data"]["accessToken"]
                .as_str()
                .filter(|_| body["success"] == Value::Bool(true))
            else {
                return out.protocol("the sign-in answer carries no access token");
            };
            if out.json {
                println!("{}", json!({ "status": status, "body": body }));
            } else {
                println!("{token}");
            }
            if body["data"]["mustChange"] == Value::Bool(true) {
                eprintln!("pwctl: this account must choose a new password (mustChange)");
            }
            ExitCode::SUCCESS
        }
        400..=599 => out.api_error(status, &body, &headers),
        other => out.protocol_status(other),
    }
}

fn transport(e: &reqwest::Error) -> ExitCode {
    eprintln!("pwctl: transport error: {}", error_chain(e));
    ExitCode::from(TRANSPORT_ERROR)
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
