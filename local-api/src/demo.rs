//! Reference pages of the browser client under `/demo/`: five screens built on
//! `client/web`, served from its sources and build output. Local only, never
//! deployed. Served with a strict Content-Security-Policy: no inline script,
//! nothing from another origin.

use std::path::PathBuf;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use shared::config::Links;
use shared::http::ApiResponse;

pub const PREFIX: &str = "/demo/";

/// `/demo/<name>` -> file under the web client's directory, and its type.
const FILES: &[(&str, &str, &str)] = &[
    ("", "demo/index.html", HTML),
    ("index.html", "demo/index.html", HTML),
    ("change.html", "demo/change.html", HTML),
    ("status.html", "demo/status.html", HTML),
    ("init.html", "demo/init.html", HTML),
    ("reset.html", "demo/reset.html", HTML),
    ("forgot.html", "demo/forgot.html", HTML),
    ("demo.css", "demo/demo.css", CSS),
    ("pages.js", "dist/demo/pages.js", JS),
    ("password-api.js", "dist/index.js", JS),
    ("channel.js", "dist/channel.js", JS),
];

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Same-origin scripts, styles and API calls only; no frames, plugins or form posts elsewhere.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// The web client's directory: `WEB_CLIENT_DIR`, else `client/web` of this checkout.
fn web_dir() -> PathBuf {
    std::env::var_os("WEB_CLIENT_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../client/web")))
}

/// Points the emailed links at these pages unless `is_set(variable)` says they are configured.
pub fn point_links_here(links: &mut Links, origin: &str, is_set: impl Fn(&str) -> bool) {
    if !is_set("INIT_PASSWORD_URL") {
        links.init_url = format!("{origin}{PREFIX}init.html");
    }
    if !is_set("RESET_PASSWORD_URL") {
        links.reset_url = format!("{origin}{PREFIX}reset.html");
    }
    if !is_set("FORGOT_PASSWORD_URL") {
        links.forgot_url = format!("{origin}{PREFIX}forgot.html");
    }
}

/// Answers a `/demo` path, or `None` when `path` is not one.
pub fn handle(method: &Method, path: &str) -> Option<ApiResponse> {
    if path == "/demo" {
        return Some(respond(
            StatusCode::PERMANENT_REDIRECT,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"see /demo/"),
            Some(PREFIX),
        ));
    }
    let name = path.strip_prefix(PREFIX)?;
    let plain = "text/plain; charset=utf-8";
    if method != Method::GET && method != Method::HEAD {
        return Some(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            plain,
            Bytes::from_static(b"GET only"),
            None,
        ));
    }
    let Some((_, file, content_type)) = FILES.iter().find(|(n, _, _)| *n == name) else {
        return Some(respond(
            StatusCode::NOT_FOUND,
            plain,
            Bytes::from_static(b"no such page"),
            None,
        ));
    };
    // A few small local files, read per request so a rebuild shows at once.
    Some(match std::fs::read(web_dir().join(file)) {
        Ok(body) => respond(StatusCode::OK, content_type, Bytes::from(body), None),
        Err(_) => respond(
            StatusCode::NOT_FOUND,
            plain,
            Bytes::from(format!(
                "{file} is missing: build the web client first (make web)\n"
            )),
            None,
        ),
    })
}

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    location: Option<&'static str>,
) -> ApiResponse {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // The reset token and init sid arrive in the page URL: never pass it on.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if let Some(to) = location {
        h.insert(header::LOCATION, HeaderValue::from_static(to));
    }
    resp
}
