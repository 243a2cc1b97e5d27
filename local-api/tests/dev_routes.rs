//! The `/_dev` routes over HTTP answer only loopback names, JSON bodies and
//! allowed origins: a web page the developer visits (DNS rebinding, a
//! cross-site form or `text/plain` post) is refused before anything changes.

use std::net::SocketAddr;

use local_api::Local;
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use shared::channel::{KeyRing, ServerKey};
use shared::config::Config;

const FOREIGN_HOST: &str = "rebind.attacker.example";

struct Dev {
    port: u16,
    url: String,
    http: reqwest::Client,
}

async fn start(expose: bool) -> Dev {
    let keys = KeyRing::single(ServerKey::generate("k-dev", u64::MAX / 2).unwrap().0);
    let config = Config {
        cors: local_api::local_cors(None).unwrap(),
        ..Config::default()
    };
    let mut local = Local::new(config, keys).unwrap();
    if expose {
        local = local.exposing_dev_routes();
    }
    let addr = local_api::spawn(local, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    Dev {
        port: addr.port(),
        url: format!("http://{addr}"),
        http: reqwest::Client::new(),
    }
}

impl Dev {
    /// A request to `path`, a JSON body when given, from the loopback name.
    fn req(&self, method: Method, path: &str, body: Option<&Value>) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.url));
        match body {
            Some(b) => r
                .header("content-type", "application/json")
                .body(b.to_string()),
            None => r,
        }
    }

    fn post(&self, path: &str, body: &Value) -> RequestBuilder {
        self.req(Method::POST, path, Some(body))
    }

    fn outbox(&self) -> RequestBuilder {
        self.req(Method::GET, "/_dev/outbox", None)
    }
}

async fn answer(r: RequestBuilder) -> (u16, Value) {
    let resp: Response = r.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// 400 with `code`, naming `header`, and no data.
fn refused(got: &(u16, Value), code: &str, header: &str) {
    let (status, body) = got;
    assert_eq!(*status, 400, "{body}");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["details"], json!([{"header": header}]), "{body}");
    assert!(body.get("data").is_none(), "{body}");
}

fn user(email: &str) -> Value {
    json!({"email": email, "name": "Dev User", "password": "a long demo passphrase"})
}

#[tokio::test]
async fn foreign_host_names_are_refused_on_every_dev_route_and_change_nothing() {
    let d = start(false).await;
    let foreign = [
        FOREIGN_HOST.to_owned(),
        format!("{FOREIGN_HOST}:{}", d.port),
        format!("10.0.0.5:{}", d.port),
        format!("localhost.{FOREIGN_HOST}:{}", d.port),
    ];
    for host in &foreign {
        let r = d.post("/_dev/users", &user("rebound@example.com"));
        refused(
            &answer(r.header("host", host)).await,
            "GATEWAY.HEADER_INVALID",
            "Host",
        );
        let r = d.post("/_dev/token", &json!({"bizId": "ACC_USR_00000001"}));
        refused(
            &answer(r.header("host", host)).await,
            "GATEWAY.HEADER_INVALID",
            "Host",
        );
        let r = d.outbox().header("host", host);
        refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Host");
    }
    // Nothing was created: the same user is new to a loopback request.
    let (status, body) = answer(d.post("/_dev/users", &user("rebound@example.com"))).await;
    assert_eq!(status, 201, "{body}");
    // Every loopback name, any port, still answers.
    for host in [
        format!("localhost:{}", d.port),
        format!("127.0.0.1:{}", d.port),
        format!("127.0.0.2:{}", d.port),
        format!("[::1]:{}", d.port),
        "localhost".to_owned(),
    ] {
        let r = d.post("/_dev/token", &json!({"bizId": body["data"]["bizId"]}));
        let (status, got) = answer(r.header("host", &host)).await;
        assert_eq!(status, 200, "{host}: {got}");
        assert!(got["data"]["accessToken"].is_string(), "{got}");
        let (status, got) = answer(d.outbox().header("host", &host)).await;
        assert_eq!(status, 200, "{host}: {got}");
    }
}

#[tokio::test]
async fn only_json_bodies_and_allowed_origins_reach_the_dev_routes() {
    let d = start(false).await;
    let token = json!({"bizId": "ACC_USR_00000001"}).to_string();
    let url = format!("{}/_dev/token", d.url);
    // Bodies a page can post cross-site without a preflight.
    for ct in [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
    ] {
        let r = d
            .http
            .post(&url)
            .header("content-type", ct)
            .body(token.clone());
        refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Content-Type");
        let r = d
            .http
            .post(format!("{}/_dev/users", d.url))
            .header("content-type", ct)
            .body(user("plain@example.com").to_string());
        refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Content-Type");
    }
    let r = d.http.post(&url).body(token.clone());
    refused(&answer(r).await, "GATEWAY.HEADER_MISSING", "Content-Type");
    for ct in [
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
    ] {
        let r = d
            .http
            .post(&url)
            .header("content-type", ct)
            .body(token.clone());
        assert_eq!(answer(r).await.0, 200, "{ct}");
    }

    // A page of another origin, or an opaque one, is refused; the CORS
    // allow-list (local-api's default: the Vite dev server) is not.
    for origin in ["https://evil.example", "null", "http://localhost:5174"] {
        let r = d.post("/_dev/users", &user("cross@example.com"));
        refused(
            &answer(r.header("origin", origin)).await,
            "GATEWAY.HEADER_INVALID",
            "Origin",
        );
        let r = d.outbox().header("origin", origin);
        refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Origin");
    }
    let r = d.post("/_dev/users", &user("cross@example.com"));
    let (status, body) = answer(r.header("origin", "http://localhost:5173")).await;
    assert_eq!(status, 201, "nothing was created before: {body}");
}

/// The `/demo/` pages post to `/_dev/signin` from local-api's own origin
/// (browsers send `Origin` on every POST): that origin is let through when
/// the `Host` is loopback, and no other.
#[tokio::test]
async fn the_servers_own_loopback_origin_reaches_the_dev_routes() {
    let d = start(false).await;
    let own = format!("http://127.0.0.1:{}", d.port);
    let r = d.post("/_dev/users", &user("own-origin@example.com"));
    let (status, body) = answer(r.header("origin", &own)).await;
    assert_eq!(status, 201, "{body}");
    let r = d.post(
        "/_dev/signin",
        &json!({"email": "own-origin@example.com", "password": "a long demo passphrase"}),
    );
    let (status, body) = answer(r.header("origin", &own)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["accessToken"].is_string(), "{body}");
    let r = d
        .outbox()
        .header("origin", format!("http://localhost:{}", d.port));
    let (status, body) = answer(r.header("host", format!("localhost:{}", d.port))).await;
    assert_eq!(status, 200, "{body}");

    // Another port, another scheme, another loopback name than the Host's.
    for origin in [
        format!("http://127.0.0.1:{}", d.port + 1),
        format!("https://127.0.0.1:{}", d.port),
        format!("http://localhost:{}", d.port),
    ] {
        let r = d.post("/_dev/token", &json!({"bizId": "ACC_USR_00000001"}));
        refused(
            &answer(r.header("origin", &origin)).await,
            "GATEWAY.HEADER_INVALID",
            "Origin",
        );
    }

    // Exposed: a page of a non-loopback name is no "own" page, even when its
    // Origin matches the Host it sent (DNS rebinding looks just like that).
    let d = start(true).await;
    let r = d.post("/_dev/token", &json!({"bizId": "ACC_USR_00000001"}));
    let r = r
        .header("host", "rebind.attacker.example:9000")
        .header("origin", "http://rebind.attacker.example:9000");
    refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Origin");
}

#[tokio::test]
async fn exposed_dev_routes_answer_any_host_but_keep_the_other_checks() {
    let d = start(true).await;
    let r = d.post("/_dev/token", &json!({"bizId": "ACC_USR_00000001"}));
    let (status, body) = answer(r.header("host", "devbox.lan:9000")).await;
    assert_eq!(status, 200, "{body}");
    let r = d
        .http
        .post(format!("{}/_dev/token", d.url))
        .header("host", "devbox.lan:9000")
        .header("content-type", "text/plain")
        .body(json!({"bizId": "ACC_USR_00000001"}).to_string());
    refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Content-Type");
    let r = d.outbox().header("origin", "https://evil.example");
    refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Origin");
}
