//! `make run`'s start-up banner: the sign-in it prints for the demo user works.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

#[tokio::test]
async fn the_printed_signin_signs_the_demo_user_in() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
        .args(["--port", "0", "--key-id", "k-banner"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
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
    let find = |prefix: &str| {
        banner
            .iter()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no line starting {prefix:?} in:\n{text}"))
            .to_owned()
    };
    let url = find("local-api listening on ");
    let password = find("demo user: ")
        .rsplit("password: ")
        .next()
        .unwrap()
        .to_owned();

    // The curl line, run as written: its URL and its JSON body.
    let curl = find("  curl -s ");
    let (target, rest) = curl.split_once(' ').unwrap();
    assert_eq!(target, format!("{url}/_dev/signin"), "{text}");
    assert!(
        rest.starts_with("-H 'Content-Type: application/json' -d '"),
        "{text}"
    );
    let body = rest
        .split_once("-d '")
        .unwrap()
        .1
        .strip_suffix('\'')
        .unwrap();
    let resp = reqwest::Client::new()
        .post(target)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{text}");
    let got: Value = resp.json().await.unwrap();
    assert!(got["data"]["accessToken"].is_string(), "{got}");
    assert_eq!(got["data"]["mustChange"], false, "{got}");

    // pwctl signin with the same account, the password from the environment.
    let pwctl = find("  export PWCTL_TOKEN=$(");
    assert!(
        pwctl.starts_with(&format!("PWCTL_PASSWORD='{password}' cargo run -q -p client --bin pwctl -- --url {url} signin --email demo@example.com)")),
        "{text}"
    );
    assert_eq!(
        find("  in a browser: "),
        format!("{url}/demo/signin.html"),
        "{text}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
