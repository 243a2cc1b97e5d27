//! Reference pages of the browser client under `/demo/`: six screens built on
//! `client/web` (sign-in through `/_dev/signin`, then the five password
//! screens), served from its sources and build output. Local only, never
//! deployed. Served with a strict Content-Security-Policy: no inline script,
//! nothing from another origin.

use std::path::PathBuf;

use bytes::Bytes;
use http::{header, HeaderValue, Method, StatusCode};
use shared::config::Links;
use shared::http::ApiResponse;

pub const PREFIX: &str = "/demo/";

/// Screens: `/demo/<name>` -> (page id, title). Each is `demo/layout.html`
/// around `demo/screens/<id>.html`.
const SCREENS: &[(&str, &str, &str)] = &[
    ("", "index", "Screens"),
    ("index.html", "index", "Screens"),
    ("signin.html", "signin", "Sign in"),
    ("change.html", "change", "Change password"),
    ("status.html", "status", "Password status"),
    ("init.html", "init", "Set your first password"),
    ("reset.html", "reset", "Reset your password"),
    ("forgot.html", "forgot", "Forgot your password?"),
];

/// Assets: `/demo/<name>` -> file under the web client's directory, and its type.
const ASSETS: &[(&str, &str, &str)] = &[
    ("demo.css", "demo/demo.css", CSS),
    ("pages.js", "dist/demo/pages.js", JS),
    ("signin.js", "dist/demo/signin.js", JS),
    ("password-api.js", "dist/index.js", JS),
    ("channel.js", "dist/channel.js", JS),
    ("codes.js", "dist/codes.js", JS),
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
    let body = if let Some((_, id, title)) = SCREENS.iter().find(|(n, _, _)| *n == name) {
        screen(id, title).map(|html| (Bytes::from(html), HTML))
    } else if let Some((_, file, kind)) = ASSETS.iter().find(|(n, _, _)| *n == name) {
        read(file).map(|bytes| (Bytes::from(bytes), *kind))
    } else {
        return Some(respond(
            StatusCode::NOT_FOUND,
            plain,
            Bytes::from_static(b"no such page"),
            None,
        ));
    };
    Some(match body {
        Ok((body, kind)) => respond(StatusCode::OK, kind, body, None),
        Err(file) => respond(
            StatusCode::NOT_FOUND,
            plain,
            Bytes::from(format!(
                "{file} is missing: build the web client first (make web)\n"
            )),
            None,
        ),
    })
}

/// A few small local files, read per request so that an edit or rebuild shows at once.
fn read(file: &str) -> Result<Vec<u8>, String> {
    std::fs::read(web_dir().join(file)).map_err(|_| file.to_owned())
}

/// The layout around one screen, its own link in the navigation marked current.
fn screen(id: &str, title: &str) -> Result<String, String> {
    let text = |file: String| read(&file).map(|b| String::from_utf8_lossy(&b).into_owned());
    let layout = text("demo/layout.html".into())?;
    let main = text(format!("demo/screens/{id}.html"))?;
    let own_link = format!("href=\"{id}.html\"");
    Ok(layout
        .replace(&own_link, &format!("{own_link} aria-current=\"page\""))
        .replace("{{title}}", title)
        .replace("{{page}}", id)
        .replace("{{main}}", &main))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_point_here_unless_configured() {
        let mut links = shared::config::Config::default().links;
        point_links_here(&mut links, "http://127.0.0.1:9", |v| {
            v == "RESET_PASSWORD_URL"
        });
        assert_eq!(links.init_url, "http://127.0.0.1:9/demo/init.html");
        assert_eq!(links.forgot_url, "http://127.0.0.1:9/demo/forgot.html");
        assert_eq!(
            links.reset_url,
            shared::config::Config::default().links.reset_url
        );
    }

    #[test]
    fn screens_carry_the_policy_and_mark_their_own_link() {
        let page = handle(&Method::GET, "/demo/reset.html").unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(
            page.headers()[header::CONTENT_SECURITY_POLICY],
            CONTENT_SECURITY_POLICY
        );
        let html = String::from_utf8_lossy(page.body());
        assert!(html.contains(r#"href="reset.html" aria-current="page""#));
        assert!(!html.contains(r#"href="change.html" aria-current"#));
        assert!(html.contains(r#"<form data-action="reset">"#));
        assert!(!html.contains("{{"));
        assert!(!html.contains("<script>"), "no inline script");
    }

    #[test]
    fn the_signin_screen_is_served_and_linked_from_every_screen() {
        let page = handle(&Method::GET, "/demo/signin.html").unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = String::from_utf8_lossy(page.body());
        assert!(html.contains(r#"href="signin.html" aria-current="page""#));
        assert!(html.contains(r#"<form data-action="signin">"#));
        assert!(html.contains(r#"autocomplete="current-password""#));
        let other = handle(&Method::GET, "/demo/status.html").unwrap();
        assert!(String::from_utf8_lossy(other.body()).contains(r#"href="signin.html""#));
        assert!(ASSETS
            .iter()
            .any(|(name, file, _)| *name == "signin.js" && *file == "dist/demo/signin.js"));
    }

    #[test]
    fn every_module_of_the_client_is_served() {
        // dist/index.js imports ./channel.js and ./codes.js, resolved next to
        // /demo/password-api.js.
        for module in ["channel.js", "codes.js"] {
            assert!(
                ASSETS
                    .iter()
                    .any(|(name, file, _)| *name == module && *file == format!("dist/{module}")),
                "{module}"
            );
        }
    }

    #[test]
    fn other_paths_and_methods_are_refused() {
        let status = |m: Method, p: &str| handle(&m, p).map(|r| r.status());
        assert_eq!(
            status(Method::GET, "/demo/../Cargo.toml"),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            status(Method::GET, "/demo/layout.html"),
            Some(StatusCode::NOT_FOUND)
        );
        assert_eq!(
            status(Method::POST, "/demo/"),
            Some(StatusCode::METHOD_NOT_ALLOWED)
        );
        assert_eq!(
            status(Method::GET, "/demo"),
            Some(StatusCode::PERMANENT_REDIRECT)
        );
        assert_eq!(status(Method::GET, "/web/v1/x"), None);
    }
}
