//! Lambda shell: turns an API Gateway request into an [`ApiRequest`] and the
//! core's answer back. Every HTTP function's `main.rs` calls [`run_http`].
//! Behind the `lambda-http` feature: only the functions compile `lambda_http`.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};

use shared::app::App;
use shared::http::{ApiRequest, ApiResponse};
use shared::routes::{serve_endpoint, Endpoint};

use crate::bootstrap::{app_from_env, cold_start_failed};

/// Converts an API Gateway request into an [`ApiRequest`].
pub fn to_api_request(req: Request) -> ApiRequest {
    let fallback_request_id = Some(
        req.lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default(),
    )
    .filter(|id| !id.is_empty());
    // API Gateway always names the peer; an event without one shares a single
    // bucket rather than letting a header choose it.
    let source_ip = Some(
        req.request_context_ref()
            .and_then(|c| match c {
                RequestContext::ApiGatewayV2(c) => c.http.source_ip.as_deref()?.parse().ok(),
                #[allow(unreachable_patterns)]
                _ => None,
            })
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
    );
    let (parts, body) = req.into_parts();
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(t) => Bytes::from(t),
        Body::Binary(b) => Bytes::from(b),
        _ => Bytes::new(),
    };
    ApiRequest {
        method: parts.method,
        headers: parts.headers,
        body,
        fallback_request_id,
        source_ip,
    }
}

/// Converts the core's response into a Lambda response.
pub fn to_lambda_response(resp: ApiResponse) -> Response<Body> {
    let (parts, body) = resp.into_parts();
    let is_text = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| !ct.starts_with("application/octet-stream"));
    let body = if is_text {
        Body::Text(String::from_utf8_lossy(&body).into_owned())
    } else {
        Body::Binary(body.to_vec())
    };
    Response::from_parts(parts, body)
}

/// Serves `endpoint` forever under the Lambda runtime.
pub async fn serve(app: App, endpoint: Endpoint) -> Result<(), Error> {
    let app = &app;
    lambda_http::run(service_fn(move |req: Request| async move {
        let resp = serve_endpoint(app, endpoint, to_api_request(req)).await;
        Ok::<_, Error>(to_lambda_response(resp))
    }))
    .await
}

/// Everything an HTTP function's `main` does: telemetry, the cold start
/// with exactly the secrets of `endpoint`'s route, then [`serve`].
pub async fn run_http(endpoint: Endpoint) -> Result<(), Error> {
    shared::telemetry::init();
    let app = app_from_env(endpoint.route.needs())
        .await
        .map_err(cold_start_failed)?;
    serve(app, endpoint).await
}
