//! The `pwctl` binary against a local-api on a loopback port.

use std::process::Command;

use e2e_tests::Server;
use serde_json::Value;

/// Runs pwctl off the async runtime; returns (exit code, stdout, stderr).
async fn pwctl(args: Vec<String>, env: Vec<(&'static str, String)>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_pwctl"))
            .args(&args)
            .envs(env)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .unwrap()
}

fn args(url: &str, rest: &[&str]) -> Vec<String> {
    let mut v = vec!["--url".to_owned(), url.to_owned()];
    v.extend(rest.iter().map(|s| s.to_string()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pwctl_runs_every_flow_and_never_prints_secrets() {
    let Server { url, local, .. } = Server::start().await;
    let seeded = local_api::dev::seed_user(
        &local.app,
        "cli@example.com",
        "Cli User",
        None,
        Some("ember-Kestrel-tundra-64"),
    )
    .await
    .unwrap();
    let biz = seeded["bizId"].as_str().unwrap();
    let token = local
        .signer
        .token(biz, local.app.clock.now_ms() / 1000)
        .unwrap();

    let (code, out, _) = pwctl(args(&url, &["handshake"]), vec![]).await;
    assert_eq!(code, 0);
    assert!(out.contains("key confirmed"), "{out}");

    let (code, out, _) = pwctl(
        args(&url, &["--json", "status"]),
        vec![("PWCTL_TOKEN", token.clone())],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["body"]["data"]["passwordSet"], true);

    // a policy failure: exit 1, details listed, secrets never echoed
    let (code, out, err) = pwctl(
        args(&url, &["change"]),
        vec![
            ("PWCTL_TOKEN", token.clone()),
            ("PWCTL_CURRENT_PASSWORD", "ember-Kestrel-tundra-64".into()),
            ("PWCTL_NEW_PASSWORD", "cli".into()),
        ],
    )
    .await;
    assert_eq!(code, 1);
    assert!(
        err.contains("PASSWORD.POLICY_VIOLATION") && err.contains("PASSWORD.TOO_SHORT"),
        "{err}"
    );
    for text in [&out, &err] {
        assert!(!text.contains("ember-Kestrel-tundra-64") && !text.contains(&token));
    }

    let (code, out, err) = pwctl(
        args(&url, &["change"]),
        vec![
            ("PWCTL_TOKEN", token.clone()),
            ("PWCTL_CURRENT_PASSWORD", "ember-Kestrel-tundra-64".into()),
            ("PWCTL_NEW_PASSWORD", "harbor Violet summit 29".into()),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("password changed"), "{out}");

    let (code, _, _) = pwctl(
        args(&url, &["forgot", "--email", "cli@example.com"]),
        vec![],
    )
    .await;
    assert_eq!(code, 0);
    local.settle().await;
    let link = local
        .mailbox
        .sent()
        .into_iter()
        .find(|m| m.link.contains("token="))
        .unwrap()
        .link;
    let reset_token = link.split("token=").nth(1).unwrap().to_owned();
    let (code, out, err) = pwctl(
        args(&url, &["reset"]),
        vec![
            ("PWCTL_RESET_TOKEN", reset_token.clone()),
            ("PWCTL_NEW_PASSWORD", "Opal?River?Cinder?40".into()),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(&reset_token) && !err.contains(&reset_token));

    // unreachable server: transport error, exit 2
    let (code, _, _) = pwctl(
        vec![
            "--url".into(),
            "http://127.0.0.1:1".into(),
            "handshake".into(),
        ],
        vec![],
    )
    .await;
    assert_eq!(code, 2);
}

/// `init` takes the registration link's sid from the environment, like
/// every other secret, and never prints it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pwctl_init_reads_the_sid_from_the_environment() {
    let Server { url, local, .. } = Server::start().await;
    let seeded =
        local_api::dev::seed_user(&local.app, "first@example.com", "First User", None, None)
            .await
            .unwrap();
    let sid = seeded["initSessionId"].as_str().unwrap().to_owned();
    let (code, out, err) = pwctl(
        args(&url, &["init"]),
        vec![
            ("PWCTL_SESSION_ID", sid.clone()),
            ("PWCTL_PASSWORD", "lantern Quartz meadow 84".into()),
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(!out.contains(&sid) && !err.contains(&sid));
    let biz = seeded["bizId"].as_str().unwrap();
    let user = local.app.accounts.user(biz).await.unwrap().unwrap();
    assert!(user.password.is_some(), "the first password is set");
}

/// `signin` prints the access token alone on stdout (so `$(pwctl signin)`
/// captures it), reads the password from the environment, and refuses a
/// wrong password, then a locked account, with the code and exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pwctl_signin_prints_only_the_token_and_refuses_with_the_code() {
    let Server { url, local, .. } = Server::start().await;
    let password = "cobalt Meadow lantern 73";
    local_api::dev::seed_user(
        &local.app,
        "signin@example.com",
        "Signin User",
        None,
        Some(password),
    )
    .await
    .unwrap();
    let signin = |email: &str| args(&url, &["signin", "--email", email]);

    let (code, out, err) = pwctl(
        signin("signin@example.com"),
        vec![("PWCTL_PASSWORD", password.into())],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let token = out.strip_suffix('\n').expect("one line");
    assert!(
        !token.is_empty() && !token.contains(char::is_whitespace),
        "{out:?}"
    );
    assert_eq!(token.split('.').count(), 3, "a JWT: {out:?}");
    assert!(!out.contains(password) && !err.contains(password), "{err}");

    // The captured token is the one the other commands take.
    let (code, out2, err2) = pwctl(
        args(&url, &["--json", "status"]),
        vec![("PWCTL_TOKEN", token.to_owned())],
    )
    .await;
    assert_eq!(code, 0, "{out2}{err2}");
    let v: Value = serde_json::from_str(out2.trim()).unwrap();
    assert_eq!(v["body"]["data"]["passwordSet"], true);
    assert_eq!(v["body"]["data"]["mustChange"], false);

    // --json: the envelope instead of the bare token.
    let (code, out2, _) = pwctl(
        args(&url, &["--json", "signin", "--email", "signin@example.com"]),
        vec![("PWCTL_PASSWORD", password.into())],
    )
    .await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(out2.trim()).unwrap();
    assert_eq!(v["status"], 200);
    assert!(v["body"]["data"]["accessToken"].is_string(), "{v}");

    // A wrong password (--password works too): exit 1, the code, no token.
    let (code, out, err) = pwctl(
        args(
            &url,
            &[
                "signin",
                "--email",
                "signin@example.com",
                "--password",
                "wrong passphrase 1",
            ],
        ),
        vec![],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(out, "", "nothing on stdout");
    assert!(err.contains("error 401 AUTH.SIGNIN_FAILED"), "{err}");
    assert!(!err.contains("wrong passphrase 1"), "{err}");

    // An unknown address answers the same.
    let (code, out, err) = pwctl(
        signin("nobody@example.com"),
        vec![("PWCTL_PASSWORD", password.into())],
    )
    .await;
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(err.contains("AUTH.SIGNIN_FAILED"), "{err}");

    // Consecutive failures lock the account: 429, the code and the wait. (The
    // first lock lasts one second; a slow run may see more failures first,
    // each lock twice as long as the one before.)
    let mut locked = None;
    for _ in 0..10 {
        let (code, out, err) = pwctl(
            signin("signin@example.com"),
            vec![("PWCTL_PASSWORD", "wrong passphrase 2".into())],
        )
        .await;
        assert_eq!((code, out.as_str()), (1, ""), "{err}");
        if err.contains("AUTH.ACCOUNT_LOCKED") {
            locked = Some(err);
            break;
        }
        assert!(err.contains("AUTH.SIGNIN_FAILED"), "{err}");
    }
    let err = locked.expect("the account locks after consecutive failures");
    assert!(err.contains("error 429 AUTH.ACCOUNT_LOCKED"), "{err}");
    let secs: u64 = err
        .split("retry after ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no wait in {err}"));
    assert!(secs >= 1, "{err}");

    // Unreachable server: transport error, exit 2.
    let (code, out, _) = pwctl(
        vec![
            "--url".into(),
            "http://127.0.0.1:1".into(),
            "signin".into(),
            "--email".into(),
            "signin@example.com".into(),
        ],
        vec![("PWCTL_PASSWORD", password.into())],
    )
    .await;
    assert_eq!((code, out.as_str()), (2, ""));
}

/// `make smoke URL=... [TOKEN=...]` (infra/smoke.sh) against local-api: the
/// public key and a handshake, then with a token that user's status; a bad
/// token or an API that does not answer fails it. The token never appears
/// in what it prints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_smoke_checks_key_handshake_and_with_a_token_status() {
    let Server { url, local, .. } = Server::start().await;
    let seeded = local_api::dev::seed_user(
        &local.app,
        "smoke@example.com",
        "Smoke User",
        None,
        Some("ember-Kestrel-tundra-64"),
    )
    .await
    .unwrap();
    let token = local
        .signer
        .token(
            seeded["bizId"].as_str().unwrap(),
            local.app.clock.now_ms() / 1000 + 1,
        )
        .unwrap();
    let smoke = |url: String, token: Option<String>| {
        tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new("make");
            cmd.args(["-s", "smoke", &format!("URL={url}")])
                .current_dir(e2e_tests::root())
                .env("PWCTL", env!("CARGO_BIN_EXE_pwctl"))
                .env_remove("TOKEN");
            if let Some(t) = token {
                cmd.env("TOKEN", t);
            }
            let out = cmd.output().expect("make");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        })
    };

    let (ok, out) = smoke(url.clone(), None).await.unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("smoke public-key ok"), "{out}");
    assert!(out.contains("smoke handshake  ok"), "{out}");
    assert!(out.contains("key confirmed"), "{out}");
    assert!(out.contains("smoke status     skipped"), "{out}");

    let (ok, out) = smoke(url.clone(), Some(token.clone())).await.unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("smoke status     ok"), "{out}");
    assert!(!out.contains(&token), "the token is never printed");

    let (ok, out) = smoke(url.clone(), Some("not-a-token".into()))
        .await
        .unwrap();
    assert!(!ok, "{out}");
    assert!(out.contains("smoke status     FAILED"), "{out}");

    // Nothing listens there any more.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let (ok, out) = smoke(closed, None).await.unwrap();
    assert!(!ok, "{out}");
    assert!(out.contains("smoke public-key FAILED"), "{out}");
}
