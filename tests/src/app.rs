//! Typed calls of the password routes over one secure session: each builds
//! the documented body, seals it and opens the answer, so a suite states
//! only what differs from call to call.

use client::{Client, Reply, SecureSession};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use shared::channel::BodyForm;

use crate::{bearer, CHANGE, FORGOT, INIT, RESET, STATUS};

/// A client and a session it opened.
#[derive(Clone, Copy)]
pub struct App<'a> {
    pub client: &'a Client,
    pub session: &'a SecureSession,
}

impl<'a> App<'a> {
    pub fn new(client: &'a Client, session: &'a SecureSession) -> App<'a> {
        App { client, session }
    }

    /// POSTs `body` sealed to `route` with `extra` headers.
    pub async fn post(&self, route: &str, body: Value, extra: HeaderMap) -> Reply {
        self.client
            .call(self.session, "POST", route, &body, BodyForm::Raw, extra)
            .await
            .unwrap()
    }

    /// `change` as the holder of `token`.
    pub async fn change(&self, token: &str, current: &str, new: &str) -> Reply {
        let body = json!({"currentPassword": current, "newPassword": new});
        self.post(CHANGE, body, bearer(token)).await
    }

    /// `status` as the holder of `token`.
    pub async fn status(&self, token: &str) -> Reply {
        self.post(STATUS, json!({}), bearer(token)).await
    }

    /// `init` of the pending account behind `session_id`.
    pub async fn init(&self, session_id: &str, password: &str) -> Reply {
        let body = json!({"sessionId": session_id, "password": password});
        self.post(INIT, body, HeaderMap::new()).await
    }

    /// `forgot` for `email`.
    pub async fn forgot(&self, email: &str) -> Reply {
        self.post(FORGOT, json!({"email": email}), HeaderMap::new())
            .await
    }

    /// `reset` with the emailed `token`.
    pub async fn reset(&self, token: &str, new: &str) -> Reply {
        let body = json!({"token": token, "newPassword": new});
        self.post(RESET, body, HeaderMap::new()).await
    }
}
