//! CORS for browser front-ends: an exact list of allowed origins.
//!
//! A preflight (`OPTIONS`) from an allowed origin answers 204 with the
//! methods and request headers the contract uses; real answers to an
//! allowed origin carry `Access-Control-Allow-Origin` and expose the
//! headers a client reads. Any other origin gets no CORS header, and
//! nothing else about its answer changes.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::StatusCode;

use super::ApiResponse;

/// Methods of the routes (the preflight lists them).
pub const ALLOW_METHODS: [&str; 2] = ["GET", "POST"];
/// Request headers a browser client sends.
pub const ALLOW_HEADERS: [&str; 6] = [
    "Content-Type",
    "Authorization",
    "X-SC-Session-Id",
    "X-SC-Version",
    "X-Client-Hash",
    "Accept-Language",
];
/// The Cloudflare headers a local or test client simulates (the edge sets them in AWS).
pub const SIMULATION_HEADERS: [&str; 3] = ["CF-Connecting-IP", "Cf-Ray", "cf-ipcountry"];
/// Response headers a browser client may read.
pub const EXPOSE_HEADERS: [&str; 2] = ["Retry-After", "Content-Language"];
/// How long a browser may cache a preflight answer.
pub const MAX_AGE_SECS: u32 = 600;

/// The allowed origins (`CORS_ALLOWED_ORIGINS`) and whether the preflight
/// also allows the simulation headers (local-api only).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsPolicy {
    origins: Vec<String>,
    allow_simulation_headers: bool,
}

impl CorsPolicy {
    /// Parses a comma-separated list of exact origins (`scheme://host[:port]`).
    /// `*`, paths, and anything but http(s) are refused: an origin list is an
    /// allow-list, never a pattern.
    pub fn parse(list: &str) -> Result<CorsPolicy, String> {
        let mut origins = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item.contains('*') {
                return Err(format!(
                    "{item:?}: wildcards are not allowed, list exact origins"
                ));
            }
            if !is_origin(item) {
                return Err(format!(
                    "{item:?} is not an origin (scheme://host[:port], http or https, no path)"
                ));
            }
            origins.push(item.to_owned());
        }
        Ok(CorsPolicy {
            origins,
            allow_simulation_headers: false,
        })
    }

    /// The same origins, with the simulation headers allowed in preflights.
    pub fn with_simulation_headers(mut self) -> CorsPolicy {
        self.allow_simulation_headers = true;
        self
    }

    /// The same origins, the simulation headers no longer allowed: a local
    /// server that plays an edge-less deployment (`EDGE_MODE=none`), where a
    /// browser sends no `CF-*` header, as in AWS.
    pub fn without_simulation_headers(mut self) -> CorsPolicy {
        self.allow_simulation_headers = false;
        self
    }

    /// The allowed origins.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Whether any origin is allowed (CORS headers are sent at all).
    pub fn is_enabled(&self) -> bool {
        !self.origins.is_empty()
    }

    /// The request's `Origin` when it is on the list.
    pub fn allowed_origin<'h>(&self, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let text = origin.to_str().ok()?;
        self.origins.iter().any(|o| o == text).then_some(origin)
    }

    /// The request headers a preflight allows.
    pub fn allow_headers(&self) -> Vec<&'static str> {
        let mut names = ALLOW_HEADERS.to_vec();
        if self.allow_simulation_headers {
            names.extend(SIMULATION_HEADERS);
        }
        names
    }

    /// The answer to a preflight: 204, with the CORS headers for an allowed
    /// origin and none for another. Never rate limited, never parsed further.
    pub fn preflight(&self, request: &HeaderMap) -> ApiResponse {
        let mut resp = http::Response::new(Bytes::new());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        let h = resp.headers_mut();
        if self.is_enabled() {
            h.insert(header::VARY, HeaderValue::from_static("Origin"));
        }
        if let Some(origin) = self.allowed_origin(request) {
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                header_list(&ALLOW_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                header_list(&self.allow_headers()),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from(MAX_AGE_SECS),
            );
        }
        resp
    }

    /// Adds the CORS headers of a real answer to an allowed origin.
    pub fn decorate(&self, request: &HeaderMap, resp: &mut ApiResponse) {
        if !self.is_enabled() {
            return;
        }
        // Answers differ by origin, so shared caches must key on it.
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        if let Some(origin) = self.allowed_origin(request) {
            let h = resp.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
            h.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                header_list(&EXPOSE_HEADERS),
            );
        }
    }
}

fn header_list(names: &[&str]) -> HeaderValue {
    HeaderValue::from_str(&names.join(", ")).expect("static header names")
}

/// `scheme://host[:port]` exactly as a browser sends it in `Origin`:
/// http(s), lower case, no user info, path, query or trailing slash.
fn is_origin(s: &str) -> bool {
    let Ok(uri) = s.parse::<http::Uri>() else {
        return false;
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && s == format!("{scheme}://{authority}")
        && !authority.as_str().contains('@')
        && !authority.host().is_empty()
        && authority.as_str() == authority.as_str().to_ascii_lowercase()
        && valid_port(authority)
}

/// No port, or `:` and a port number (the parser lets `:99999` through).
fn valid_port(authority: &http::uri::Authority) -> bool {
    match authority.as_str().strip_prefix(authority.host()) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix(':')
            .is_some_and(|p| p.parse::<u16>().is_ok()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(origin: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ORIGIN, HeaderValue::from_str(origin).unwrap());
        h
    }

    #[test]
    fn parses_exact_origins_and_refuses_patterns_and_paths() {
        let p =
            CorsPolicy::parse("https://app.example.com, http://localhost:5173,http://[::1]:8080")
                .unwrap();
        assert_eq!(
            p.origins(),
            [
                "https://app.example.com",
                "http://localhost:5173",
                "http://[::1]:8080"
            ]
        );
        assert!(CorsPolicy::parse("").unwrap().origins().is_empty());
        for bad in [
            "*",
            "https://*.example.com",
            "https://app.example.com/",
            "https://app.example.com/path",
            "app.example.com",
            "ftp://app.example.com",
            "https://",
            "https://App.Example.com",
            "http://localhost:99999",
            "http://localhost:",
            "https://a.example.com?x=1",
        ] {
            assert!(CorsPolicy::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn preflight_answers_allowed_origins_only() {
        let p = CorsPolicy::parse("https://app.example.com").unwrap();
        let ok = p.preflight(&with_origin("https://app.example.com"));
        assert_eq!(ok.status(), 204);
        let h = ok.headers();
        assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
        assert_eq!(h["access-control-allow-methods"], "GET, POST");
        assert_eq!(
            h["access-control-allow-headers"],
            "Content-Type, Authorization, X-SC-Session-Id, X-SC-Version, X-Client-Hash, Accept-Language"
        );
        assert_eq!(h["access-control-max-age"], "600");
        assert_eq!(h["vary"], "Origin");

        let other = p.preflight(&with_origin("https://evil.example.com"));
        assert_eq!(other.status(), 204);
        assert!(other
            .headers()
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")));

        let local = CorsPolicy::parse("http://localhost:5173")
            .unwrap()
            .with_simulation_headers();
        let h = local.preflight(&with_origin("http://localhost:5173"));
        assert!(h.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .ends_with("CF-Connecting-IP, Cf-Ray, cf-ipcountry"));
        // Without an edge, as deployed: the plain list again.
        let edgeless = local.without_simulation_headers();
        assert_eq!(edgeless.allow_headers(), ALLOW_HEADERS);
    }

    #[test]
    fn real_answers_carry_the_origin_and_exposed_headers_only_when_allowed() {
        let p = CorsPolicy::parse("https://app.example.com").unwrap();
        let mut resp = http::Response::new(Bytes::from_static(b"{}"));
        p.decorate(&with_origin("https://app.example.com"), &mut resp);
        assert_eq!(
            resp.headers()["access-control-allow-origin"],
            "https://app.example.com"
        );
        assert_eq!(
            resp.headers()["access-control-expose-headers"],
            "Retry-After, Content-Language"
        );

        let mut other = http::Response::new(Bytes::from_static(b"{}"));
        p.decorate(&with_origin("https://evil.example.com"), &mut other);
        assert!(other.headers().get("access-control-allow-origin").is_none());
        assert!(other
            .headers()
            .get("access-control-expose-headers")
            .is_none());

        let mut off = http::Response::new(Bytes::from_static(b"{}"));
        CorsPolicy::default().decorate(&with_origin("https://app.example.com"), &mut off);
        assert!(off.headers().is_empty());
    }
}
