//! The one dispatcher every runtime calls: each route's endpoint (route
//! and handler), and the checks and records around every handler call.

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use http::Method;

use crate::app::App;
use crate::handlers::{self, Ctx};
use crate::http::{
    error_response, gateway, request_id, ApiError, ApiRequest, ApiResponse, SUCCESS_CODE,
};
use crate::observe::{self, audit, metrics, Facts};
use crate::route::Route;

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
    let started = Instant::now();
    let now_ms = app.clock.now_ms();
    let request_id = request_id(req, &app.config.client_ip);
    let facts = Facts::default();
    let mut origin = audit::Origin {
        client_ip: req.source_ip,
        country: None,
        user_agent: req
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let (resp, code) = respond(app, endpoint, req, &request_id, &facts, &mut origin).await;
    let status = resp.status().as_u16();
    // One line per request: route, status and timing only, never a header value or body.
    tracing::info!(
        request_id = %request_id,
        route = route.path(),
        status,
        elapsed_ms = app.clock.now_ms().saturating_sub(now_ms),
        "request"
    );
    let recorded = facts.snapshot();
    let code = recorded.code.unwrap_or(code);
    let now_ms = app.clock.now_ms();
    if let Some(event) = audit::event_for(route.spec().audit, code) {
        observe::emit(
            &audit::Record {
                event,
                request_id: &request_id,
                route: route.path(),
                status,
                code,
                biz_id: recorded.biz_id.as_deref(),
                forgot_id: recorded.forgot_id.as_deref(),
                origin: &origin,
                now_ms,
            }
            .to_json(),
        );
    }
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    observe::emit(
        &metrics::RequestMetrics {
            route: route.path(),
            function: route.function(),
            status,
            rate_limited: code == audit::RATE_LIMITED_CODE,
            sc_rejected: audit::is_sc_rejection(code),
            latency_ms,
            hash_ms: recorded.hash_ms,
            pepper_missing: recorded.pepper_missing,
        }
        .to_emf(observe::namespace(), now_ms),
    );
    resp
}

/// The answer, and its envelope code unless the handler sealed one (then
/// recorded in `facts`). `origin` learns the checked gateway's client.
async fn respond(
    app: &App,
    endpoint: Endpoint,
    req: &ApiRequest,
    request_id: &str,
    facts: &Facts,
    origin: &mut audit::Origin,
) -> (ApiResponse, &'static str) {
    let route = endpoint.route;
    let lang = gateway::language(&req.headers);
    let refuse = |e: ApiError, lang| {
        let code = e.parts(lang).code;
        (
            error_response(&e, lang, app.clock.now_ms(), request_id),
            code,
        )
    };
    // Size first: nothing is parsed or decrypted for an oversized body. The
    // cap is on the SCv2 envelope (decoded from base64 when sent so), and on
    // the plain JSON body of the two secure-channel routes.
    let carried = if route.spec().sealed {
        crate::secure_request::envelope_len(&req.headers, &req.body)
    } else {
        req.body.len()
    };
    if carried > crate::channel::wire::MAX_ENVELOPE_LEN {
        return refuse(ApiError::PayloadTooLarge, lang);
    }
    if req.method != route.method() {
        return refuse(ApiError::MethodNotAllowed, lang);
    }
    let gw = match gateway::check(
        &req.headers,
        route.method() == Method::POST,
        req.source_ip,
        &app.config.client_ip,
    ) {
        Ok(gw) => gw,
        Err(e) => return refuse(e, lang),
    };
    origin.client_ip = Some(gw.client_ip);
    origin.country = Some(gw.country.clone());
    let ctx = handlers::Ctx {
        route,
        app,
        gw: &gw,
        request_id,
        facts,
    };
    match (endpoint.handler)(&ctx, req).await {
        Ok(resp) => (resp, SUCCESS_CODE),
        Err(e) => refuse(e, gw.lang),
    }
}

/// Routes by path (local-api): unknown paths get 404 `REQUEST.NOT_FOUND`.
pub async fn by_path(app: &App, path: &str, req: ApiRequest) -> ApiResponse {
    match Route::from_path(path) {
        Some(route) => handle(app, route, req).await,
        None => {
            let mut resp = error_response(
                &ApiError::NotFound,
                gateway::language(&req.headers),
                app.clock.now_ms(),
                &request_id(&req, &app.config.client_ip),
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
