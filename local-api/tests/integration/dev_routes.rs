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
    child.wait().unwrap();
    assert!(
        err.contains(&format!(
            "import: line {}: email: not a valid address",
            n + 1
        )),
        "{err}"
    );
    std::fs::remove_file(file).unwrap();
}

// ------------------------------------------------ user administration

const INIT: &str = "/web/v1/system/auth/password/init";
const STATUS: &str = "/web/v1/system/auth/password/status";
const CHANGE: &str = "/web/v1/system/auth/password/change";
const FIRST: &str = "a long first passphrase 19";

/// The secrets after `key=` in every email of `kind` to `to` so far.
async fn secrets(d: &Dev, kind: &str, to: &str, key: &str) -> Vec<String> {
    let (status, mail) = answer(d.outbox()).await;
    assert_eq!(status, 200, "{mail}");
    mail["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == kind && m["to"] == to)
        .map(|m| {
            let link = m["link"].as_str().unwrap();
            link.split_once(&format!("{key}=")).unwrap().1.to_owned()
        })
        .collect()
}

/// One sealed call to a password route; status and code of the answer.
async fn sealed(d: &Dev, route: &str, body: Value, token: Option<&str>) -> (u16, String) {
    let client = client::Client::new(&d.url, client::Identity::default());
    let session = client.handshake().await.unwrap();
    let mut extra = reqwest::header::HeaderMap::new();
    if let Some(t) = token {
        extra.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
    }
    let reply = client
        .call(
            &session,
            "POST",
            route,
            &body,
            shared::channel::BodyForm::Raw,
            extra,
        )
        .await
        .unwrap();
    let code = reply.body["code"].as_str().unwrap_or_default().to_owned();
    (reply.status, code)
}

async fn admin(d: &Dev, who: &str, action: &str) -> (u16, Value) {
    answer(d.post(&format!("/_dev/admin/users/{who}/{action}"), &json!({}))).await
}

async fn show(d: &Dev, who: &str) -> (u16, Value) {
    answer(d.req(Method::GET, &format!("/_dev/admin/users/{who}"), None)).await
}

async fn signin(d: &Dev, email: &str) -> (u16, Value) {
    answer(d.post("/_dev/signin", &json!({"email": email, "password": FIRST}))).await
}

/// Every action over HTTP: a lost invitation sent again (the old link
/// refused, the new one signs up), a disabled or locked user's token
/// refused until enabled or unlocked, mustChange, the reset email, bad
/// input changing nothing, and a deleted user's address invited again.
#[tokio::test]
async fn user_administration_over_http() {
    let d = start(false).await;
    let to = "pending.admin@example.com";
    let (status, created) =
        answer(d.post("/_dev/users", &json!({"email": to, "name": "Pat"}))).await;
    assert_eq!(status, 201, "{created}");
    let biz = created["data"]["bizId"].as_str().unwrap().to_owned();
    let (status, shown) = show(&d, &biz).await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["user"]["status"], "PendingPassword");
    assert_eq!(shown["data"]["user"]["email"], to);

    // The invitation was lost: send it again.
    let first = secrets(&d, "init", to, "sid").await;
    assert_eq!(first.len(), 1);
    let (status, resent) = admin(&d, to, "resend-invite").await;
    assert_eq!(status, 200, "{resent}");
    assert_eq!(resent["data"]["changed"], true);
    let both = secrets(&d, "init", to, "sid").await;
    let second = both.iter().find(|s| **s != first[0]).expect("a new link");
    let old = sealed(
        &d,
        INIT,
        json!({"sessionId": first[0], "password": FIRST}),
        None,
    )
    .await;
    assert_eq!(old, (400, "AUTH.INIT_SESSION_INVALID".into()));
    let new = sealed(
        &d,
        INIT,
        json!({"sessionId": second, "password": FIRST}),
        None,
    )
    .await;
    assert_eq!(new, (201, "2000".into()), "the new link signs up");
    // A token from the second of the password change is revoked with it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, signed) = signin(&d, to).await;
    assert_eq!(status, 200, "{signed}");
    let token = signed["data"]["accessToken"].as_str().unwrap().to_owned();
    assert_eq!(sealed(&d, STATUS, json!({}), Some(&token)).await.0, 200);

    // Disabled, then locked: no sign-in, change or status with a token.
    for (off, on) in [("disable", "enable"), ("lock", "unlock")] {
        let (status, body) = admin(&d, &biz, off).await;
        assert_eq!(status, 200, "{body}");
        let refused = (403, "AUTH.ACCOUNT_DISABLED".to_owned());
        assert_eq!(sealed(&d, STATUS, json!({}), Some(&token)).await, refused);
        let change = json!({"currentPassword": FIRST, "newPassword": "another long passphrase 7"});
        assert_eq!(sealed(&d, CHANGE, change, Some(&token)).await, refused);
        assert_eq!(signin(&d, to).await.0, 401, "{off}: no sign-in");
        let (status, body) = admin(&d, &biz, on).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["user"]["status"], "Active");
        assert_eq!(sealed(&d, STATUS, json!({}), Some(&token)).await.0, 200);
    }

    let (_, required) = admin(&d, &biz, "require-change").await;
    assert_eq!(required["data"]["user"]["mustChange"], true, "{required}");
    assert!(secrets(&d, "reset", to, "token").await.is_empty());
    let (status, body) = admin(&d, &biz, "send-reset").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(secrets(&d, "reset", to, "token").await.len(), 1);

    // Bad input: clear errors, nothing changed.
    let version = show(&d, &biz).await.1["data"]["user"]["version"].clone();
    let (status, body) = admin(&d, &biz, "promote").await;
    assert_eq!(
        (status, body["details"][0]["field"].clone()),
        (400, json!("action"))
    );
    let (status, body) = admin(&d, &biz, "resend-invite").await;
    assert_eq!(
        (status, body["code"].clone()),
        (409, json!("AUTH.PASSWORD_ALREADY_SET"))
    );
    assert_eq!(admin(&d, "nobody@example.com", "lock").await.0, 404);
    assert_eq!(show(&d, "ACC_USR_000000000000").await.0, 404);
    let r = d.post(
        &format!("/_dev/admin/users/{biz}/lock"),
        &json!({"force": true}),
    );
    assert_eq!(answer(r).await.0, 400);
    assert_eq!(
        answer(d.req(Method::GET, &format!("/_dev/admin/users/{biz}/lock"), None))
            .await
            .0,
        404
    );
    let r = d
        .post(&format!("/_dev/admin/users/{biz}/lock"), &json!({}))
        .header("host", FOREIGN_HOST);
    refused(&answer(r).await, "GATEWAY.HEADER_INVALID", "Host");
    let (_, after) = show(&d, &biz).await;
    assert_eq!(after["data"]["user"]["version"], version, "{after}");
    assert_eq!(after["data"]["user"]["status"], "Active");

    // Delete: gone, and the address can be invited again.
    let (status, body) = admin(&d, to, "delete").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(show(&d, &biz).await.0, 404);
    assert_eq!(signin(&d, to).await.0, 401);
    let (status, again) = answer(d.post("/_dev/users", &json!({"email": to, "name": "Pat"}))).await;
    assert_eq!(status, 201, "{again}");
    assert_ne!(again["data"]["bizId"], biz.as_str());
}

/// `--import-invite`: the pending users of the file get the invitation of
/// `invite-user`, delivered to the local mailbox (`/_dev/outbox`).
#[tokio::test]
async fn imported_pending_users_are_invited_with_import_invite() {
    let file = std::env::temp_dir().join(format!("local-api-invite-{}.csv", std::process::id()));
    std::fs::write(
        &file,
        "email,name,status\nP1@Import.test,P one,PendingPassword\np2@import.test,\"Two, P\",PendingPassword\nd@import.test,D,Disabled\n",
    )
    .unwrap();
    let keys = KeyRing::single(ServerKey::generate("k-inv", u64::MAX / 2).unwrap().0);
    let config = Config {
        cors: local_api::local_cors(None).unwrap(),
        ..Config::default()
    };
    let local = Local::new(config, keys).unwrap();
    let flags = local_api::import::ImportFlags {
        import: Some(file.clone()),
        import_invite: true,
        ..Default::default()
    };
    let summary = flags.load(&local.app).await.unwrap().unwrap();
    assert!(summary.starts_with("imported 3 users from "), "{summary}");
    assert!(summary.contains("2 invited"), "{summary}");
    let addr = local_api::spawn(local, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let d = Dev {
        port: addr.port(),
        url: format!("http://{addr}"),
        http: reqwest::Client::new(),
    };
    let (status, body) = answer(d.outbox()).await;
    assert_eq!(status, 200, "{body}");
    let mut to: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "init")
        .map(|m| m["to"].as_str().unwrap())
        .collect();
    to.sort_unstable();
    assert_eq!(to, ["p1@import.test", "p2@import.test"], "{body}");
    std::fs::remove_file(file).unwrap();
}
