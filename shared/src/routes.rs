//! The routes of the contract and the one dispatcher every runtime calls.

use std::future::Future;
use std::pin::Pin;

use http::Method;

use crate::app::App;
use crate::handlers::{self, Ctx};
use crate::http::{error_response, gateway, request_id, ApiError, ApiRequest, ApiResponse};
pub use crate::route::{Needs, Route, ScKeys};

/// The future of one handler call.
pub type HandlerFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ApiResponse, ApiError>> + Send + 'a>>;

/// A route's handler as a plain function pointer.
pub type Handler = for<'a> fn(&'a Ctx<'a>, &'a ApiRequest) -> HandlerFuture<'a>;

/// A route and its handler. Each Lambda binary names its one endpoint
/// constant, so it links only that handler and what it uses (the password
/// strength estimator stays out of the routes that never check a password).
#[derive(Clone, Copy)]
pub struct Endpoint {
    /// The route served.
    pub route: Route,
    /// Its handler.
    pub handler: Handler,
}

/// The public-key endpoint.
pub const PUBLIC_KEY: Endpoint = Endpoint {
    route: Route::PublicKey,
    handler: |ctx, _| Box::pin(handlers::secure_channel::public_key(ctx)),
};
/// The session-creation endpoint.
pub const CREATE_SESSION: Endpoint = Endpoint {
    route: Route::CreateSession,
    handler: |ctx, req| Box::pin(handlers::secure_channel::create_session(ctx, &req.body)),
};
/// The password-change endpoint.
pub const CHANGE: Endpoint = Endpoint {
    route: Route::Change,
    handler: |ctx, req| Box::pin(handlers::password::change(ctx, req)),
};
/// The password-status endpoint.
pub const STATUS: Endpoint = Endpoint {
    route: Route::Status,
    handler: |ctx, req| Box::pin(handlers::password::status(ctx, req)),
};
/// The first-password endpoint.
pub const INIT: Endpoint = Endpoint {
    route: Route::Init,
    handler: |ctx, req| Box::pin(handlers::password::init(ctx, req)),
};
/// The forgot-password endpoint.
pub const FORGOT: Endpoint = Endpoint {
    route: Route::Forgot,
    handler: |ctx, req| Box::pin(handlers::password::forgot(ctx, req)),
};
/// The password-reset endpoint.
pub const RESET: Endpoint = Endpoint {
    route: Route::Reset,
    handler: |ctx, req| Box::pin(handlers::password::reset(ctx, req)),
};

impl Route {
    /// The endpoint serving this route.
    pub fn endpoint(self) -> Endpoint {
        match self {
            Route::PublicKey => PUBLIC_KEY,
            Route::CreateSession => CREATE_SESSION,
            Route::Change => CHANGE,
            Route::Status => STATUS,
            Route::Init => INIT,
            Route::Forgot => FORGOT,
            Route::Reset => RESET,
        }
    }
}

/// Answers one request for a known route (see [`serve_endpoint`]).
pub async fn handle(app: &App, route: Route, req: ApiRequest) -> ApiResponse {
    serve_endpoint(app, route.endpoint(), req).await
}

/// Answers one request for `endpoint`. CORS, size, method, gateway headers
/// and errors are handled here so every handler starts from checked input.
pub async fn serve_endpoint(app: &App, endpoint: Endpoint, req: ApiRequest) -> ApiResponse {
    let cors = &app.config.cors;
    // A preflight is answered before anything is counted or parsed.
    if req.method == Method::OPTIONS {
        return cors.preflight(&req.headers);
    }
    let mut resp = answer(app, endpoint, &req).await;
    cors.decorate(&req.headers, &mut resp);
    resp
}

async fn answer(app: &App, endpoint: Endpoint, req: &ApiRequest) -> ApiResponse {
    let route = endpoint.route;
    let now_ms = app.clock.now_ms();
    let lang = gateway::language(&req.headers);
    let request_id = request_id(req);
    // Size first: nothing is parsed or decrypted for an oversized body. The
    // cap is on the SCv2 envelope (decoded from base64 when sent so), and on
    // the plain JSON body of the two secure-channel routes.
    let carried = match route {
        Route::PublicKey | Route::CreateSession => req.body.len(),
        _ => crate::secure_request::envelope_len(&req.headers, &req.body),
    };
    if carried > crate::channel::wire::MAX_ENVELOPE_LEN {
        return error_response(&ApiError::PayloadTooLarge, lang, now_ms, &request_id);
    }
    if req.method != route.method() {
        return error_response(&ApiError::MethodNotAllowed, lang, now_ms, &request_id);
    }
    let gw = match gateway::check(
        &req.headers,
        route.method() == Method::POST,
        req.source_ip,
        &app.config.client_ip,
    ) {
        Ok(gw) => gw,
        Err(e) => return error_response(&e, lang, now_ms, &request_id),
    };
    let ctx = handlers::Ctx {
        route,
        app,
        gw: &gw,
        request_id: &request_id,
    };
    let result = (endpoint.handler)(&ctx, req).await;
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
        None => {
            let mut resp = error_response(
                &ApiError::NotFound,
                gateway::language(&req.headers),
                app.clock.now_ms(),
                &request_id(&req),
            );
            app.config.cors.decorate(&req.headers, &mut resp);
            resp
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_the_endpoint_of_its_own_handler() {
        for route in Route::ALL {
            assert_eq!(route.endpoint().route, route);
            assert_eq!(Route::from_path(route.path()), Some(route));
        }
    }
}
