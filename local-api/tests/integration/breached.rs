//! Breached-password screening end to end: the `local-api` binary as a child
//! process, started with its `--breached-*` flags, driven over real HTTP with
//! real SCv2 crypto (`client`) and the `/_dev` routes.
//!
//! * A password listed in a `--breached-filter` file is refused on change,
//!   init and reset (400 `PASSWORD.POLICY_VIOLATION` with a
//!   `PASSWORD.BREACHED` detail that does not carry it) and changes nothing;
//!   with the bundled filter, or with `--no-breached`, the same password is
//!   accepted. The flags override `PASSWORD_CONFIG`.
//! * At sign-in, a correct password found breached answers `ok` with
//!   `mustChange` (`flag`, the default; the owner is emailed), `invalid`
//!   (`--breached-sign-in block`), or is not checked (`off`).
//! * A missing or corrupt `--breached-filter` stops the start with an error
//!   naming the flag, the file and the problem.

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use client::{Client, Identity, Reply, SecureSession};
use password::breach::{key_of_password, read_corpus, BreachFilter, CorpusFormat};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use shared::channel::BodyForm;

const CHANGE: &str = "/web/v1/system/auth/password/change";
const STATUS: &str = "/web/v1/system/auth/password/status";
const INIT: &str = "/web/v1/system/auth/password/init";
const FORGOT: &str = "/web/v1/system/auth/password/forgot";
const RESET: &str = "/web/v1/system/auth/password/reset";

/// Passes every other rule; listed in the test's filter file, not in the
/// bundled common list.
const BREACHED: &str = "Qz7!vRt3#mKp9wXe";
/// Strong and in no filter.
const OLD: &str = "velvet-Orbit-harbor-91";
const FRESH: &str = "quartz lantern meadow 57";

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("breached-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A filter file built from a plain list, as `pwctl admin breached build
/// --format plain` builds it.
fn filter_file(dir: &std::path::Path, passwords: &[&str]) -> PathBuf {
    let list = passwords.join("\n");
    let (keys, stats) = read_corpus(list.as_bytes(), CorpusFormat::Plain, 1, |_| {}).unwrap();
    assert_eq!(stats.kept, passwords.len() as u64);
    let filter = BreachFilter::build(keys).unwrap();
    assert_eq!(
        filter.contains_key(key_of_password(BREACHED).unwrap()),
        passwords.contains(&BREACHED)
    );
    let path = dir.join("breached.bpf");
    std::fs::write(&path, filter.to_bytes()).unwrap();
    path
}

/// A running `local-api` child; killed on drop.
struct Api {
    child: Child,
    url: String,
    http: reqwest::Client,
    /// Everything the child printed after its banner, stdout and stderr.
    output: Arc<Mutex<String>>,
}

impl Api {
    /// Starts `local-api --port 0 --no-rate-limits <args>` with
    /// `PASSWORD_CONFIG` set to `password_config` (else unset).
    fn start(args: &[&str], password_config: Option<&str>) -> Api {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_local-api"));
        cmd.args(["--port", "0", "--key-id", "k-breached", "--no-rate-limits"])
            .args(args)
            .env_remove("LOCAL_API_PORT")
            .env_remove("LOCAL_API_BIND")
            .env_remove("PASSWORD_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(pc) = password_config {
            cmd.env("PASSWORD_CONFIG", pc);
        }
        let mut child = cmd.spawn().expect("local-api starts");
        let output = Arc::new(Mutex::new(String::new()));
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let err_sink = output.clone();
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                err_sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = None;
        loop {
            let Some(line) = lines.next() else {
                let status = child.wait().unwrap();
                panic!(
                    "local-api exited ({status}) before its banner: {}",
                    output.lock().unwrap()
                );
            };
            let line = line.unwrap();
            if let Some(rest) = line.strip_prefix("local-api listening on ") {
                url = Some(rest.trim().to_owned());
            }
            if line.starts_with("try: ") {
                break;
            }
        }
        // Keep the pipe drained (and what the child logs) for the checks.
        let out_sink = output.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut out = out_sink.lock().unwrap();
                out.push_str(&line);
                out.push('\n');
            }
        });
        Api {
            child,
            url: url.expect("the address line"),
            http: reqwest::Client::new(),
            output,
        }
    }

    /// A `/_dev` route: (status, parsed body).
    async fn dev(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.url);
        let req = match body {
            Some(b) => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(b.to_string()),
            None => self.http.get(url),
        };
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap())
    }

    /// An active user with `password` (set without the policy or the
    /// screen, as `/_dev/users` does); returns its bizId.
    async fn user(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .dev(
                "/_dev/users",
                Some(json!({"email": email, "name": "Test User", "password": password})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["data"]["bizId"].as_str().unwrap().to_owned()
    }

    /// A pending user (invited, no password); returns its bizId.
    async fn pending_user(&self, email: &str) -> String {
        let (status, body) = self
            .dev(
                "/_dev/users",
                Some(json!({"email": email, "name": "Test User"})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["data"]["bizId"].as_str().unwrap().to_owned()
    }

    async fn token(&self, biz_id: &str) -> String {
        let (status, body) = self
            .dev("/_dev/token", Some(json!({"bizId": biz_id})))
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["accessToken"].as_str().unwrap().to_owned()
    }

    /// `/_dev/signin`: (status, body).
    async fn signin(&self, email: &str, password: &str) -> (u16, Value) {
        self.dev(
            "/_dev/signin",
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// `/_dev/verify-password`: the internal function's answer.
    async fn verify(&self, email: &str, password: &str) -> Value {
        let (status, body) = self
            .dev(
                "/_dev/verify-password",
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    /// The emails delivered so far, oldest first.
    async fn outbox(&self) -> Vec<Value> {
        let (status, body) = self.dev("/_dev/outbox", None).await;
        assert_eq!(status, 200, "{body}");
        body["data"].as_array().unwrap().clone()
    }

    /// The newest emailed link of `kind` to `to`, waiting a bounded time.
    async fn link(&self, kind: &str, to: &str) -> String {
        for _ in 0..100 {
            let mail = self.outbox().await;
            if let Some(m) = mail
                .iter()
                .rev()
                .find(|m| m["kind"] == kind && m["to"] == to)
            {
                return m["link"].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {kind} email to {to}");
    }

    /// A client with its own simulated address and an open secure session.
    async fn session(&self, ip: &str) -> Session {
        let client = Client::new(
            &self.url,
            Identity {
                ip: ip.into(),
                ..Identity::default()
            },
        );
        let session = client.handshake().await.unwrap();
        Session { client, session }
    }

    /// Fails if the child printed `secret` anywhere after its banner.
    fn assert_never_printed(&self, secret: &str) {
        std::thread::sleep(Duration::from_millis(200));
        let out = self.output.lock().unwrap();
        assert!(!out.contains(secret), "the child printed the password");
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Session {
    client: Client,
    session: SecureSession,
}

impl Session {
    async fn post(&self, route: &str, body: Value, token: Option<&str>) -> Reply {
        let mut extra = HeaderMap::new();
        if let Some(t) = token {
            extra.insert(
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
            );
        }
        self.client
            .call(&self.session, "POST", route, &body, BodyForm::Raw, extra)
            .await
            .unwrap()
    }

    async fn change(&self, token: &str, current: &str, new: &str) -> Reply {
        let body = json!({"currentPassword": current, "newPassword": new});
        self.post(CHANGE, body, Some(token)).await
    }

    async fn status(&self, token: &str) -> Reply {
        self.post(STATUS, json!({}), Some(token)).await
    }

    async fn init(&self, session_id: &str, password: &str) -> Reply {
        let body = json!({"sessionId": session_id, "password": password});
        self.post(INIT, body, None).await
    }

    async fn forgot(&self, email: &str) -> Reply {
        self.post(FORGOT, json!({"email": email}), None).await
    }

    async fn reset(&self, token: &str, new: &str) -> Reply {
        let body = json!({"token": token, "newPassword": new});
        self.post(RESET, body, None).await
    }
}

/// The parameter `name` of an emailed link's fragment (or query).
fn link_param(link: &str, name: &str) -> String {
    let q = link.split_once(['#', '?']).unwrap().1;
    q.split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {link}"))
        .to_owned()
}

/// 400 `PASSWORD.POLICY_VIOLATION` whose only detail is `PASSWORD.BREACHED`
/// (the password passes every other rule), the password nowhere in it.
fn refused_as_breached(r: &Reply, what: &str) {
    assert_eq!(r.status, 400, "{what}: {}", r.body);
    assert!(r.encrypted, "{what}: answered sealed");
    assert_eq!(
        r.body["code"], "PASSWORD.POLICY_VIOLATION",
        "{what}: {}",
        r.body
    );
    let details = r.body["details"].as_array().expect("details");
    let codes: Vec<&str> = details.iter().filter_map(|d| d["code"].as_str()).collect();
    assert_eq!(codes, ["PASSWORD.BREACHED"], "{what}: {}", r.body);
    let entry = &details[0];
    assert!(
        !entry["params"].to_string().contains(BREACHED),
        "{what}: {entry}"
    );
    assert!(!r.body.to_string().contains(BREACHED), "{what}: {}", r.body);
}

/// Sets `BREACHED` on change, init and reset, each expected to answer `ok`
/// (the screen lets it through) or refused (the screen lists it). A refusal
/// leaves the account as it was, which the same flow then proves by
/// finishing with another password.
async fn change_init_reset(api: &Api, refused: bool, tag: &str) {
    let s = api.session("198.51.100.20").await;

    // change
    let email = format!("ann-{tag}@example.com");
    let biz = api.user(&email, OLD).await;
    let token = api.token(&biz).await;
    let before = s.status(&token).await;
    assert_eq!(before.status, 200, "{}", before.body);
    let r = s.change(&token, OLD, BREACHED).await;
    if refused {
        refused_as_breached(&r, "change");
        let after = s.status(&token).await;
        assert_eq!(
            after.status, 200,
            "the token was not revoked: {}",
            after.body
        );
        assert_eq!(after.body["data"], before.body["data"]);
        assert_eq!(
            api.signin(&email, OLD).await.0,
            200,
            "the old password stays"
        );
        let (status, body) = api.signin(&email, BREACHED).await;
        assert_eq!((status, &body["code"]), (401, &json!("AUTH.SIGNIN_FAILED")));
        let r = s.change(&token, OLD, FRESH).await;
        assert_eq!(r.status, 200, "another password: {}", r.body);
    } else {
        assert_eq!(r.status, 200, "change: {}", r.body);
        assert_eq!(r.body["success"], true, "{}", r.body);
        let (status, body) = api.signin(&email, BREACHED).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["mustChange"], false, "{body}");
    }

    // init, through the emailed invitation link
    let email = format!("cy-{tag}@example.com");
    let biz = api.pending_user(&email).await;
    let sid = link_param(&api.link("init", &email).await, "sid");
    let r = s.init(&sid, BREACHED).await;
    if refused {
        refused_as_breached(&r, "init");
        let token = api.token(&biz).await;
        let st = s.status(&token).await;
        assert_eq!(st.status, 200, "{}", st.body);
        assert_eq!(st.body["data"]["passwordSet"], false, "{}", st.body);
        let (status, _) = api.signin(&email, BREACHED).await;
        assert_eq!(status, 401);
        let r = s.init(&sid, FRESH).await;
        assert_eq!(r.status, 201, "the link still works: {}", r.body);
    } else {
        assert_eq!(r.status, 201, "init: {}", r.body);
        assert_eq!(r.body["data"]["bizId"], biz.as_str(), "{}", r.body);
        assert_eq!(api.signin(&email, BREACHED).await.0, 200);
    }

    // reset, through forgot and the emailed reset link
    let email = format!("bo-{tag}@example.com");
    api.user(&email, OLD).await;
    let r = s.forgot(&email).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let reset_token = link_param(&api.link("reset", &email).await, "token");
    let r = s.reset(&reset_token, BREACHED).await;
    if refused {
        refused_as_breached(&r, "reset");
        assert_eq!(
            api.signin(&email, OLD).await.0,
            200,
            "the old password stays"
        );
        assert_eq!(api.signin(&email, BREACHED).await.0, 401);
        let r = s.reset(&reset_token, FRESH).await;
        assert_eq!(r.status, 200, "the token still works: {}", r.body);
    } else {
        assert_eq!(r.status, 200, "reset: {}", r.body);
        assert_eq!(api.signin(&email, BREACHED).await.0, 200);
        assert_eq!(api.signin(&email, OLD).await.0, 401);
    }
}

#[tokio::test]
async fn a_password_in_the_breached_filter_is_refused_on_change_init_and_reset() {
    let dir = scratch("refused");
    let filter = filter_file(&dir, &[BREACHED, "another leaked one 1"]);
    let api = Api::start(&["--breached-filter", filter.to_str().unwrap()], None);
    change_init_reset(&api, true, "refused").await;
    api.assert_never_printed(BREACHED);
}

#[tokio::test]
async fn the_same_password_passes_the_bundled_filter_and_no_screening() {
    // The bundled common list does not hold it.
    let bundled = Api::start(&[], None);
    change_init_reset(&bundled, false, "bundled").await;
    drop(bundled);

    // --no-breached wins over a PASSWORD_CONFIG that names a filter holding it.
    let dir = scratch("off");
    let filter = filter_file(&dir, &[BREACHED]);
    let config = json!({"breached": {"filter": filter}}).to_string();
    let off = Api::start(&["--no-breached"], Some(&config));
    change_init_reset(&off, false, "off").await;
}

#[tokio::test]
async fn the_filter_flag_overrides_password_config() {
    // PASSWORD_CONFIG turns screening off; --breached-filter turns it on
    // with its own file.
    let dir = scratch("override");
    let filter = filter_file(&dir, &[BREACHED]);
    let config = json!({"breached": {"enabled": false}}).to_string();
    let api = Api::start(
        &["--breached-filter", filter.to_str().unwrap()],
        Some(&config),
    );
    let s = api.session("198.51.100.21").await;
    let biz = api.user("di@example.com", OLD).await;
    let token = api.token(&biz).await;
    refused_as_breached(&s.change(&token, OLD, BREACHED).await, "change");
}

/// Sign-in with a correct password the filter lists, under `args`.
async fn signin_with_breached_password(args: &[&str]) -> (Api, Value, (u16, Value)) {
    let dir = scratch(&format!("signin-{}", args.join("-").replace('/', "_")));
    let filter = filter_file(&dir, &[BREACHED]);
    let mut all = vec!["--breached-filter", filter.to_str().unwrap()];
    all.extend_from_slice(args);
    let api = Api::start(&all, None);
    api.user("eve@example.com", BREACHED).await;
    // A wrong password is never screened: plain invalid.
    assert_eq!(
        api.verify("eve@example.com", "wrong password 12").await,
        json!({"result": "invalid"})
    );
    let verdict = api.verify("eve@example.com", BREACHED).await;
    let signin = api.signin("eve@example.com", BREACHED).await;
    (api, verdict, signin)
}

#[tokio::test]
async fn a_breached_password_signs_in_flagged_must_change_by_default() {
    let (api, verdict, (status, body)) = signin_with_breached_password(&[]).await;
    let biz = verdict["bizId"]
        .as_str()
        .expect("ok with a bizId")
        .to_owned();
    assert_eq!(
        verdict,
        json!({"result": "ok", "bizId": biz, "mustChange": true})
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["mustChange"], true, "{body}");
    assert_eq!(body["data"]["bizId"], biz.as_str(), "{body}");
    // The owner is told.
    let mail = api.outbox().await;
    assert!(
        mail.iter()
            .any(|m| m["kind"] == "breached" && m["to"] == "eve@example.com"),
        "{mail:?}"
    );
    assert!(!json!(mail).to_string().contains(BREACHED));
    // A password the filter does not list signs in as usual.
    api.user("fay@example.com", OLD).await;
    let v = api.verify("fay@example.com", OLD).await;
    assert_eq!(v["result"], "ok", "{v}");
    assert_eq!(v["mustChange"], false, "{v}");
    api.assert_never_printed(BREACHED);

    // --breached-sign-in flag says the same as the default.
    let (_api, verdict, _) = signin_with_breached_password(&["--breached-sign-in", "flag"]).await;
    assert_eq!(verdict["result"], "ok", "{verdict}");
    assert_eq!(verdict["mustChange"], true, "{verdict}");
}

#[tokio::test]
async fn a_breached_password_is_refused_at_sign_in_in_block_mode() {
    let (api, verdict, (status, body)) =
        signin_with_breached_password(&["--breached-sign-in", "block"]).await;
    assert_eq!(verdict, json!({"result": "invalid"}));
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["code"], "AUTH.SIGNIN_FAILED", "{body}");
    assert!(body.get("data").is_none(), "{body}");
    api.user("gus@example.com", OLD).await;
    let v = api.verify("gus@example.com", OLD).await;
    assert_eq!(v["result"], "ok", "{v}");
    api.assert_never_printed(BREACHED);
}

#[tokio::test]
async fn sign_in_screening_can_be_off_while_new_passwords_are_screened() {
    let (api, verdict, (status, body)) =
        signin_with_breached_password(&["--breached-sign-in", "off"]).await;
    assert_eq!(verdict["result"], "ok", "{verdict}");
    assert_eq!(verdict["mustChange"], false, "{verdict}");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["mustChange"], false, "{body}");
    // New passwords are still screened.
    let s = api.session("198.51.100.22").await;
    let biz = api.user("hal@example.com", OLD).await;
    let token = api.token(&biz).await;
    refused_as_breached(&s.change(&token, OLD, BREACHED).await, "change");
}

/// Runs local-api with `args`, expecting it to exit unsuccessfully before
/// serving; returns its stderr.
fn fails_to_start(args: &[&str]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
        .args(["--port", "0"])
        .args(args)
        .env_remove("PASSWORD_CONFIG")
        .env_remove("LOCAL_API_PORT")
        .env_remove("LOCAL_API_BIND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("local-api started with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(!status.success(), "{args:?}");
    assert!(
        status.code().is_some(),
        "exited, not killed by a signal: {status}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(stdout.is_empty(), "nothing served: {stdout}");
    stderr
}

#[test]
fn a_bad_breached_filter_stops_the_start_naming_the_flag() {
    let dir = scratch("bad");
    let missing = dir.join("missing.bpf");
    let garbage = dir.join("garbage.bpf");
    std::fs::write(
        &garbage,
        b"\x00\x13not a filter at all, just some bytes\xff\xfe",
    )
    .unwrap();
    let good = filter_file(&dir, &[BREACHED]);
    let mut bytes = std::fs::read(&good).unwrap();
    bytes.truncate(bytes.len() - 3);
    let truncated = dir.join("truncated.bpf");
    std::fs::write(&truncated, bytes).unwrap();

    for (file, problem) in [
        (&missing, "No such file"),
        (&dir, "cannot read"),
        (&garbage, "not a breached-password filter"),
        (&truncated, "corrupt"),
    ] {
        let path = file.to_str().unwrap();
        let stderr = fails_to_start(&["--breached-filter", path]);
        assert!(
            stderr.contains(&format!("--breached-filter {path}")) && stderr.contains(problem),
            "{path}: {stderr}"
        );
    }

    // The other flags' values are checked as well.
    for (args, named) in [
        (
            &["--breached-timeout-ms", "10"][..],
            "--breached-timeout-ms",
        ),
        (&["--breached-sign-in", "warn"], "--breached-sign-in"),
        (
            &["--breached-range-url", "ftp://mirror/range/"],
            "--breached-range-url",
        ),
        (
            &["--no-breached", "--breached-filter", "x.bpf"],
            "--breached-filter",
        ),
    ] {
        let stderr = fails_to_start(args);
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
}

/// Strong, in no filter; the range service of the test lists it.
const IN_RANGE: &str = "Tb6%kWq1^Zs8nVy3";

/// The five-digit prefix and 35-digit suffix of a password's SHA-1.
fn sha1_split(pw: &str) -> (String, String) {
    let hex: String = password::breach::sha1_of(pw)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let (p, s) = hex.split_at(5);
    (p.to_owned(), s.to_owned())
}

/// A Pwned Passwords compatible range service on loopback: every request
/// answers `body` after `delay`; the paths asked are kept.
async fn range_service(body: String, delay: Duration) -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let body = body.clone();
        let kept = kept.clone();
        async move {
            kept.lock().unwrap().push(uri.path().to_owned());
            tokio::time::sleep(delay).await;
            body
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/range/"), seen)
}

#[tokio::test]
async fn the_range_flags_reach_the_range_service_and_choose_fail_open_or_closed() {
    let (prefix, suffix) = sha1_split(IN_RANGE);
    let (_, other) = sha1_split("unrelated");
    let body = format!("{other}:0\r\n{suffix}:12\r\n");

    // Listed by the range service: refused, and only the prefix left.
    let (base, seen) = range_service(body.clone(), Duration::ZERO).await;
    let api = Api::start(&["--breached-range-url", &base], None);
    let s = api.session("198.51.100.23").await;
    let biz = api.user("ivy@example.com", OLD).await;
    let token = api.token(&biz).await;
    refused_as_breached(&s.change(&token, OLD, IN_RANGE).await, "change");
    assert_eq!(*seen.lock().unwrap(), [format!("/range/{prefix}")]);
    let r = s.change(&token, OLD, FRESH).await;
    assert_eq!(r.status, 200, "not listed: {}", r.body);
    drop(api);

    // A range service slower than --breached-timeout-ms: with
    // --breached-fail-closed the change is refused with 503 and nothing
    // changes; without it, the filter's verdict stands.
    let (slow, _) = range_service(body, Duration::from_secs(3)).await;
    let closed = Api::start(
        &[
            "--breached-range-url",
            &slow,
            "--breached-timeout-ms",
            "100",
            "--breached-fail-closed",
        ],
        None,
    );
    let s = closed.session("198.51.100.24").await;
    let biz = closed.user("jo@example.com", OLD).await;
    let token = closed.token(&biz).await;
    let started = Instant::now();
    let r = s.change(&token, OLD, FRESH).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["code"], "SYSTEM.UNAVAILABLE", "{}", r.body);
    assert_eq!(closed.signin("jo@example.com", OLD).await.0, 200);
    drop(closed);

    let open = Api::start(
        &[
            "--breached-range-url",
            &slow,
            "--breached-timeout-ms",
            "100",
        ],
        None,
    );
    let s = open.session("198.51.100.25").await;
    let biz = open.user("kit@example.com", OLD).await;
    let token = open.token(&biz).await;
    let r = s.change(&token, OLD, IN_RANGE).await;
    assert_eq!(r.status, 200, "fail-open: {}", r.body);
}
