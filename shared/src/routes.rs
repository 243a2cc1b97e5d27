//! The routes of the contract and the one dispatcher every runtime calls.

use http::Method;

use crate::app::App;
use crate::handlers;
use crate::http::{error_response, gateway, request_id, ApiError, ApiRequest, ApiResponse};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    PublicKey,
    CreateSession,
    Change,
    Status,
    Init,
    Forgot,
    Reset,
}

impl Route {
    pub const ALL: [Route; 7] = [
        Route::PublicKey,
        Route::CreateSession,
        Route::Change,
        Route::Status,
        Route::Init,
        Route::Forgot,
        Route::Reset,
    ];

    /// The documented path: also the `route` bound into SCv2 request AAD.
    pub fn path(self) -> &'static str {
        match self {
            Route::PublicKey => "/web/v1/secure-channel/public-key",
            Route::CreateSession => "/web/v1/secure-channel/session",
            Route::Change => "/web/v1/system/auth/password/change",
            Route::Status => "/web/v1/system/auth/password/status",
            Route::Init => "/web/v1/system/auth/password/init",
            Route::Forgot => "/web/v1/system/auth/password/forgot",
            Route::Reset => "/web/v1/system/auth/password/reset",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Route::PublicKey => Method::GET,
            _ => Method::POST,
        }
    }

    pub fn from_path(path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|r| r.path() == path)
    }
}

/// Answers one request for a known route. Size, method, gateway headers and
/// errors are handled here so every handler starts from checked input.
pub async fn handle(app: &App, route: Route, req: ApiRequest) -> ApiResponse {
    let now_ms = app.clock.now_ms();
    let lang = gateway::language(&req.headers);
    let request_id = request_id(&req);
    // Size first: nothing is parsed or decrypted for an oversized body.
    if req.body.len() > crate::channel::wire::MAX_ENVELOPE_LEN {
        return error_response(&ApiError::PayloadTooLarge, lang, now_ms, &request_id);
    }
    if req.method != route.method() {
        return error_response(&ApiError::MethodNotAllowed, lang, now_ms, &request_id);
    }
    let gw = match gateway::check(&req.headers, route.method() == Method::POST) {
        Ok(gw) => gw,
        Err(e) => return error_response(&e, lang, now_ms, &request_id),
    };
    let ctx = handlers::Ctx {
        app,
        gw: &gw,
        request_id: &request_id,
    };
    let result = match route {
        Route::PublicKey => handlers::secure_channel::public_key(&ctx).await,
        Route::CreateSession => handlers::secure_channel::create_session(&ctx, &req.body).await,
        Route::Change => handlers::password::change(&ctx, &req).await,
        Route::Status => handlers::password::status(&ctx, &req).await,
        Route::Init => handlers::password::init(&ctx, &req).await,
        Route::Forgot => handlers::password::forgot(&ctx, &req).await,
        Route::Reset => handlers::password::reset(&ctx, &req).await,
    };
    let resp =
        result.unwrap_or_else(|e| error_response(&e, gw.lang, app.clock.now_ms(), &request_id));
    // One line per request: route, status and timing only, never a header value or body.
    tracing::info!(
        request_id = %request_id,
        route = route.path(),
        status = resp.status().as_u16(),
        elapsed_ms = app.clock.now_ms().saturating_sub(now_ms),
        "request"
    );
    resp
}

/// Routes by path (local-api): unknown paths get 404 `REQUEST.NOT_FOUND`.
pub async fn dispatch(app: &App, path: &str, req: ApiRequest) -> ApiResponse {
    match Route::from_path(path) {
        Some(route) => handle(app, route, req).await,
        None => error_response(
            &ApiError::NotFound,
            gateway::language(&req.headers),
            app.clock.now_ms(),
            &request_id(&req),
        ),
    }
}
