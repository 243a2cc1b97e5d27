//! Output: human lines or JSON, and the exit code of a reply.

use std::process::ExitCode;

use crate::*;

use client::{ClientError, Reply};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::{json, Value};

// ---- output -----------------------------------------------------------------

pub(crate) const API_ERROR: u8 = 1;
pub(crate) const TRANSPORT_ERROR: u8 = 2;

#[derive(Clone, Copy)]
pub(crate) struct Output {
    pub(crate) json: bool,
}

impl Output {
    /// Prints a decoded reply and picks the exit code from its status.
    pub(crate) fn reply(self, reply: &Reply, describe: Describe) -> ExitCode {
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
    pub(crate) fn failure(self, err: &ClientError) -> ExitCode {
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

    pub(crate) fn api_error(self, status: u16, body: &Value, headers: &HeaderMap) -> ExitCode {
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

    pub(crate) fn protocol(self, what: &str) -> ExitCode {
        eprintln!("pwctl: protocol error: {what}");
        ExitCode::from(TRANSPORT_ERROR)
    }

    pub(crate) fn protocol_status(self, status: u16) -> ExitCode {
        eprintln!("pwctl: protocol error: unexpected HTTP status {status}");
        ExitCode::from(TRANSPORT_ERROR)
    }
}

/// `<code>: <message>` of one `details` item, whatever its shape.
pub(crate) fn detail_line(detail: &Value) -> String {
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

pub(crate) fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

pub(crate) fn account_status(v: &Value) -> String {
    match v.as_u64() {
        Some(10010201) => "pending password".to_owned(),
        Some(10010202) => "active".to_owned(),
        Some(10010203) => "locked".to_owned(),
        Some(10010204) => "disabled".to_owned(),
        _ => format!("status {v}"),
    }
}

pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
