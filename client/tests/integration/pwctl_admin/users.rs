//! `pwctl admin users` against the emulator, through the real binary: each
//! action by name, the human and `--json` answers, the caller's ARN as the
//! principal unless `--principal` names one, refusals exiting 1 with the
//! code and changing nothing, bad usage exiting 2.

use std::collections::HashMap;
use std::process::Command;

use aws_adapters::bootstrap::app_with;
use aws_adapters::testing::fresh;
use serde_json::Value;
use shared::handlers::accounts::{create_user, Invitation};

/// Exit code, stdout, stderr.
fn users(env: &HashMap<String, String>, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pwctl"))
        .args(args)
        .envs(env)
        .env_remove("PWCTL_PRINCIPAL")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(env: &HashMap<String, String>, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json", "admin", "users"];
    all.extend_from_slice(args);
    let (code, out, err) = users(env, &all);
    let value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out} {err}"));
    (code, value)
}

#[test]
fn users_actions_through_pwctl() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (cfg, clients) = rt.block_on(fresh("pwctl-users"));
    let mut env = test_support::emulator_env();
    env.insert("TABLE_NAME".into(), cfg.table_name.clone());
    let email = format!("pwctl-users-{}@example.com", std::process::id());
    let biz = rt.block_on(async {
        let app = app_with(
            shared::route::Needs::ADMIN_USERS,
            shared::config::Config::default(),
            &cfg,
            &clients,
        )
        .await
        .unwrap();
        let invitation = Invitation {
            email: password::Email::parse(&email).unwrap(),
            name: "Pat".into(),
            phone: None,
            locale: None,
        };
        create_user(&app, invitation, None)
            .await
            .unwrap()
            .user
            .biz_id
    });

    // Human answer; the principal is the caller's ARN (the emulator's).
    let (code, out, err) = users(&env, &["admin", "users", "show", &email]);
    assert_eq!(code, 0, "{out} {err}");
    assert!(
        out.contains(&biz) && out.contains("status: PendingPassword"),
        "{out}"
    );
    assert!(err.contains("\"audit\":\"admin.user_show\""), "{err}");
    assert!(err.contains("\"principal\":\"arn:aws:"), "{err}");

    let (code, answer) = json(&env, &["resend-invite", &biz]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["changed"], true);
    assert!(answer["principal"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:"));
    for (action, status) in [
        ("lock", "Locked"),
        ("unlock", "PendingPassword"),
        ("disable", "Disabled"),
        ("enable", "PendingPassword"),
    ] {
        let (code, answer) = json(&env, &[action, &biz, "--principal", "ops@example"]);
        assert_eq!(
            (code, answer["user"]["status"].as_str()),
            (0, Some(status)),
            "{answer}"
        );
        assert_eq!(answer["principal"], "ops@example");
    }

    // Refused: exit 1 with the code, nothing changed.
    let (_, before) = json(&env, &["show", &biz]);
    let (code, answer) = json(&env, &["send-reset", &biz]);
    assert_eq!(code, 1, "{answer}");
    assert_eq!(answer["error"]["details"][0]["field"], "status");
    let (code, _, err) = users(&env, &["admin", "users", "lock", "nobody@example.com"]);
    assert_eq!(code, 1);
    assert!(err.contains("error 404 AUTH.USER_NOT_FOUND"), "{err}");
    let (code, _, err) = users(&env, &["admin", "users", "promote", &biz]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("resend-invite"), "{err}");
    let (_, after) = json(&env, &["show", &biz]);
    assert_eq!(after["user"]["version"], before["user"]["version"]);

    let (code, answer) = json(&env, &["delete", &email]);
    assert_eq!(code, 0, "{answer}");
    assert_eq!(answer["erased"]["links"], 1);
    assert_eq!(json(&env, &["show", &biz]).0, 1);
}
