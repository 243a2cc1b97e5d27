//! Typed calls of the password routes over one secure session: each builds
//! the documented body, seals it and opens the answer, so a suite states
//! only what differs from call to call.

use client::{Client, Reply, SealedRequest, SecureSession};
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

    /// Sends `envelope`, sealed for `route` under `nonce`, in `form` with no
    /// extra header: for bodies the typed calls cannot build.
    pub async fn send_sealed(
        &self,
        route: &str,
        nonce: [u8; 12],
        envelope: &[u8],
        form: BodyForm,
    ) -> Reply {
        let req = SealedRequest {
            method: "POST",
            route,
            request_nonce: nonce,
            envelope,
            form,
            extra: HeaderMap::new(),
        };
        self.client.send_envelope(self.session, req).await.unwrap()
    }

    /// Seals the bytes `plain` as they are (no JSON encoding) for `route`
    /// and sends them in `form`.
    pub async fn post_bytes(&self, route: &str, plain: &[u8], form: BodyForm) -> Reply {
        let (header, envelope) = Client::seal_request(self.session, "POST", route, plain);
        self.send_sealed(route, header.nonce, &envelope, form).await
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
