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

/// `local-api --import FILE`: every foreign-hash format of the password
/// crate's fixture (`shared/password/tests/data/foreign-hashes.json`) is
/// loaded at start and signs in over HTTP through `/_dev/signin` with its
/// password, and only with it.
#[tokio::test]
async fn imported_users_of_every_format_sign_in_over_http() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let fixture: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(root.join("shared/password/tests/data/foreign-hashes.json"))
            .unwrap(),
    )
    .unwrap();
    let mut lines = Vec::new();
    let mut flags: Vec<String> = vec!["--allow-legacy-sha".into()];
    for e in &fixture {
        let format = e["format"].as_str().unwrap();
        let mut line = json!({
            "email": format!("{format}@import.test"), "name": format, "status": "Active",
            "passwordHash": e["hash"], "hashFormat": format,
        });
        if let Some(salt) = e.get("salt") {
            line["salt"] = salt.clone();
        }
        if let Some(f) = e.get("firebase") {
            for (flag, key) in [
                ("--firebase-signer-key", "signerKey"),
                ("--firebase-salt-separator", "saltSeparator"),
                ("--firebase-rounds", "rounds"),
                ("--firebase-mem-cost", "memCost"),
            ] {
                flags.push(flag.into());
                flags.push(f[key].to_string().trim_matches('"').to_owned());
            }
        }
        lines.push(line.to_string());
    }
    // One line that fails: reported on stderr, the rest still loads.
    lines.push(r#"{"email":"bad","name":"B","status":"PendingPassword"}"#.into());
    let file = std::env::temp_dir().join(format!("local-api-import-{}.jsonl", std::process::id()));
    std::fs::write(&file, lines.join("\n")).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
        .args(["--port", "0", "--key-id", "k-import", "--import"])
        .arg(&file)
        .args(&flags)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("local-api starts");
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    loop {
        let line = out.next().expect("local-api printed its banner").unwrap();
        let last = line.starts_with("try: ");
        banner.push(line);
        if last {
            break;
        }
    }
    std::thread::spawn(move || for _ in out {});
    let text = banner.join("\n");
    let n = fixture.len();
    assert!(
        banner
            .iter()
            .any(|l| l.starts_with(&format!("imported {n} users from ")) && l.contains("1 failed")),
        "{text}"
    );
    let url = banner
        .iter()
        .find_map(|l| l.strip_prefix("local-api listening on "))
        .unwrap()
        .to_owned();
    let http = reqwest::Client::new();
    let signin = |email: String, password: String| {
        let r = http
            .post(format!("{url}/_dev/signin"))
            .header("content-type", "application/json")
            .body(json!({"email": email, "password": password}).to_string());
        answer(r)
    };
    for e in &fixture {
        let format = e["format"].as_str().unwrap();
        let email = format!("{format}@import.test");
        let password = e["password"].as_str().unwrap().to_owned();
        let (status, body) = signin(email.clone(), format!("{password}!")).await;
        assert!(
            (400..500).contains(&status),
            "{format} wrong password: {body}"
        );
        let (status, body) = signin(email.clone(), password.clone()).await;
        assert_eq!(status, 200, "{format}: {body}");
        assert!(body["data"]["accessToken"].is_string(), "{format}: {body}");
        // And again, on the hash it was upgraded to.
        let (status, body) = signin(email, password).await;
        assert_eq!(status, 200, "{format} after the upgrade: {body}");
    }
    child.kill().unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(
        err.contains(&format!(
            "import: line {}: email: not a valid address",
            n + 1
        )),
        "{err}"
    );
    std::fs::remove_file(file).unwrap();
}
