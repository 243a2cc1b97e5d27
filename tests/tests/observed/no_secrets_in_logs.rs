//! Runs the password stories with every log line captured (all levels, every
//! crate) and proves no password, token, session key or decrypted body leaks.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use e2e_tests::*;

use crate::capture::{lines, logs, SERIAL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_hold_no_password_token_key_or_body() {
    let _serial = SERIAL.lock().await;
    // The log lines and the audit events and metric documents of this run.
    let (logged, observed) = (logs(), lines());
    let logged_from = logged.lock().unwrap().len();
    let observed_from = observed.lock().unwrap().len();

    let s = Server::start().await;
    let biz = s.user("pat@example.com", STRONG).await;
    let access = s.token(&biz).await;
    let c = s.client("198.51.100.90");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let mut secrets: Vec<String> = vec![
        STRONG.into(),
        STRONG_2.into(),
        STRONG_3.into(),
        access.clone(),
        "wrong-password-7".into(),
        hex(sess.key.expose_bytes()),
        STANDARD.encode(sess.key.expose_bytes()),
        URL_SAFE_NO_PAD.encode(sess.key.expose_bytes()),
    ];
    // failures and successes on every route
    app.status(&access).await;
    app.change(&access, "wrong-password-7", STRONG_2).await;
    app.change(&access, STRONG, "pat").await;
    let r = app.change(&access, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.forgot("pat@example.com").await;
    let mail = s.outbox().await;
    let link = mail.iter().find(|m| m["kind"] == "reset").unwrap()["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = query(&link, "token");
    secrets.push(token.clone());
    secrets.push(link);
    let r = app.reset(&token, STRONG_3).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (_, sid) = s.pending_user("quin@example.com", "Quin").await;
    secrets.push(sid.clone());
    app.init(&sid, "Init-Password-Secret-77").await;
    secrets.push("Init-Password-Secret-77".into());
    // the addresses of the run: an audit event names accounts by bizId only
    secrets.push("pat@example.com".into());
    secrets.push("quin@example.com".into());
    // a decrypted body fragment that only exists inside the envelopes
    secrets.push("currentPassword".into());
    secrets.push("newPassword".into());

    let mut logs = String::from_utf8(logged.lock().unwrap()[logged_from..].to_vec()).unwrap();
    for line in &observed.lock().unwrap()[observed_from..] {
        logs.push_str(line);
        logs.push('\n');
    }
    // the capture works: every request left its line
    assert!(logs.matches("\"request\"").count() >= 9, "{logs}");
    assert!(logs.contains(CHANGE) && logs.contains(RESET) && logs.contains(INIT));
    // ... and its audit event and metrics document
    for event in [
        "password.changed",
        "password.change_rejected",
        "password.reset_requested",
        "password.reset_answered",
        "password.reset",
        "password.init",
    ] {
        // (`password.init` stands for either init outcome)
        assert!(
            logs.contains(&format!("\"audit\":\"{event}")),
            "{event}: {logs}"
        );
    }
    assert!(logs.matches("\"_aws\"").count() >= 9, "{logs}");
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret leaked into the logs: {}...",
            &secret[..4]
        );
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
