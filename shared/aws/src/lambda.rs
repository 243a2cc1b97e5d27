//! Lambda shell: turns an API Gateway request into an [`ApiRequest`] and the
//! core's answer back. Every HTTP function's `main.rs` calls [`run_http`].
//! Behind the `lambda-http` feature: only the functions compile `lambda_http`.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{service_fn, Body, Error, Request, RequestExt, Response};

use shared::app::App;
use shared::dispatch::{serve_endpoint, Endpoint};
use shared::http::{ApiRequest, ApiResponse};

use crate::bootstrap::{app_from_env, cold_start_failed};

/// Converts an API Gateway request into an [`ApiRequest`].
pub fn to_api_request(req: Request) -> ApiRequest {
    let fallback_request_id = Some(
        req.lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default(),
    )
    .filter(|id| !id.is_empty());
    // API Gateway always names the peer. An event without one stays `None`:
    // behind trusted proxies the core then counts it in one shared bucket
    // (`gateway::UNKNOWN_PEER`), never by a header's choice.
    let source_ip = req.request_context_ref().and_then(|c| match c {
        RequestContext::ApiGatewayV2(c) => c.http.source_ip.as_deref()?.parse().ok(),
        #[allow(unreachable_patterns)]
        _ => None,
    });
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

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use serde_json::{json, Value};
    use shared::http::gateway::{self, ClientIpSource, UNKNOWN_PEER};

    use super::*;

    /// An API Gateway HTTP API (payload 2.0) event, as the function receives it.
    fn event(source_ip: Option<&str>) -> Value {
        let mut http = json!({
            "method": "GET",
            "path": "/web/v1/system/auth/public-key",
            "protocol": "HTTP/1.1",
            "userAgent": "curl/8.5.0"
        });
        if let Some(ip) = source_ip {
            http["sourceIp"] = json!(ip);
        }
        json!({
            "version": "2.0",
            "routeKey": "GET /web/v1/system/auth/public-key",
            "rawPath": "/web/v1/system/auth/public-key",
            "rawQueryString": "",
            "headers": {
                "accept": "application/json",
                "x-client-hash": "device-1",
                "accept-language": "en",
                "cf-connecting-ip": "198.51.100.1",
                "cf-ray": "8f00000000000001-LHR",
                "cf-ipcountry": "GB"
            },
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api-id",
                "domainName": "api.example.com",
                "domainPrefix": "api",
                "http": http,
                "requestId": "req-1",
                "routeKey": "GET /web/v1/system/auth/public-key",
                "stage": "$default",
                "time": "03/Dec/2026:18:00:00 +0000",
                "timeEpoch": 1796320800000_u64
            },
            "isBase64Encoded": false
        })
    }

    /// The shell's `source_ip` for an event from `source_ip`, and the address
    /// the deployed default (Cloudflare's ranges trusted) counts it by.
    fn counted(source_ip: Option<&str>) -> (Option<IpAddr>, IpAddr) {
        let req = lambda_http::request::from_str(&event(source_ip).to_string())
            .expect("an API Gateway v2 event");
        let req = to_api_request(req);
        let gw = gateway::check(
            &req.headers,
            false,
            req.source_ip,
            &ClientIpSource::default(),
        )
        .unwrap();
        (req.source_ip, gw.client_ip)
    }

    #[test]
    fn the_source_ip_comes_from_the_request_context_never_a_header() {
        let direct: IpAddr = "203.0.113.7".parse().unwrap();
        // A caller off the edge sending its own CF-Connecting-IP is counted by
        // the address API Gateway saw.
        assert_eq!(counted(Some("203.0.113.7")), (Some(direct), direct));
        // From a Cloudflare edge address, the header names the client.
        let edge: IpAddr = "172.64.1.9".parse().unwrap();
        let client: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(counted(Some("172.64.1.9")), (Some(edge), client));
    }

    #[test]
    fn an_event_without_a_source_ip_is_never_keyed_on_the_header() {
        assert_eq!(counted(None), (None, UNKNOWN_PEER));
    }
}
