//! The `pwload` binary against a local-api on a loopback port: the report's
//! shape and counts, the sweep and its plot, and the loopback-only rule.

use std::net::SocketAddr;
use std::process::Command;

use serde_json::Value;
use shared::channel::{KeyRing, ServerKey};
use shared::config::{Config, RateLimits};

async fn start() -> (String, local_api::Local) {
    let keys = KeyRing::single(ServerKey::generate("k-load", u64::MAX / 2).unwrap().0);
    let config = Config {
        limits: RateLimits::unlimited(),
        ..Config::default()
    };
    let local = local_api::Local::new(config, keys).unwrap();
    let addr = local_api::spawn(local.clone(), SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    (format!("http://{addr}"), local)
}

/// Runs pwload off the async runtime; returns (exit code, stdout, stderr).
async fn pwload(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let out = Command::new(env!("CARGO_BIN_EXE_pwload"))
            .args(&args)
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

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mixed_run_reports_every_route_with_its_counts() {
    let (url, local) = start().await;
    let (code, out, err) = pwload(&[
        "--url",
        &url,
        "--users",
        "1",
        "--mix",
        "status=1,change=1,forgot=2,reset=1",
        "--requests",
        "10",
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["requests"], 10);
    assert_eq!(r["users"], 1);
    assert!(r["throughput_rps"].as_f64().unwrap() > 0.0);
    let routes = r["routes"].as_object().unwrap();
    let names: Vec<&str> = routes.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "change",
            "forgot-known",
            "forgot-unknown",
            "reset",
            "status"
        ]
    );
    let mut total = 0;
    for (name, route) in routes {
        let n = count(&route["requests"]);
        // Two turns of the 5-step schedule; forgot alternates known and unknown.
        assert_eq!(n, 2, "{name}");
        total += n;
        let l = &route["latency_ms"];
        let (p50, p90, p99, max) = (
            l["p50"].as_f64().unwrap(),
            l["p90"].as_f64().unwrap(),
            l["p99"].as_f64().unwrap(),
            l["max"].as_f64().unwrap(),
        );
        assert!(
            0.0 < p50 && p50 <= p90 && p90 <= p99 && p99 <= max,
            "{name}: {l}"
        );
        let outcomes = route["outcomes"].as_object().unwrap();
        assert_eq!(outcomes.values().map(count).sum::<u64>(), n, "{name}");
        // Rate limits are off and every user knows its password: all succeed.
        assert_eq!(
            outcomes.keys().collect::<Vec<_>>(),
            ["200 2000"],
            "{name}: {outcomes:?}"
        );
    }
    assert_eq!(total, 10);
    let all: u64 = r["outcomes"].as_object().unwrap().values().map(count).sum();
    assert_eq!(all, 10);
    // Each change and reset reached the server: 2 users' passwords moved.
    let changes = count(&routes["change"]["requests"]) + count(&routes["reset"]["requests"]);
    assert!(changes >= 2);
    assert!(local.app.passwords.argon2_evaluations() >= 2 * changes);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_verify_mix_signs_in_with_every_fourth_password_wrong() {
    let (url, local) = start().await;
    let before = local.app.passwords.argon2_evaluations();
    let (code, out, err) = pwload(&[
        "--url",
        &url,
        "--users",
        "1",
        "--mix",
        "verify",
        "--wrong-every",
        "4",
        "--requests",
        "10",
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["requests"], 10);
    let routes = r["routes"].as_object().unwrap();
    assert_eq!(routes.keys().collect::<Vec<_>>(), ["verify"]);
    let verify = &routes["verify"];
    assert_eq!(verify["requests"], 10);
    assert!(verify["throughput_rps"].as_f64().unwrap() > 0.0);
    let l = &verify["latency_ms"];
    assert!(
        0.0 < l["p50"].as_f64().unwrap() && l["p50"].as_f64() <= l["p99"].as_f64(),
        "{l}"
    );
    // Attempts 4 and 8 were wrong; each right one after them cleared the
    // count, so nothing was locked and nothing failed.
    assert_eq!(
        verify["outcomes"],
        serde_json::json!({"200 ok": 8, "200 invalid": 2})
    );
    assert_eq!(r["outcomes"], verify["outcomes"]);
    // One evaluation to seed the user's password, one per sign-in.
    assert_eq!(local.app.passwords.argon2_evaluations() - before, 1 + 10);

    // Several users share the budget: every answer still ok or invalid.
    let (code, out, err) = pwload(&[
        "--url",
        &url,
        "--users",
        "3",
        "--mix",
        "verify",
        "--wrong-every",
        "2",
        "--requests",
        "12",
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let outcomes = r["routes"]["verify"]["outcomes"].as_object().unwrap();
    let ok = outcomes.get("200 ok").map_or(0, count);
    let invalid = outcomes.get("200 invalid").map_or(0, count);
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(ok + invalid, 12);
    // Each user alternates right and wrong, starting right: a user with n
    // sign-ins sent n / 2 wrong ones, so 12 in all give 6, or 5 when two
    // users stopped after an odd number.
    assert!((5..=6).contains(&invalid), "{outcomes:?}");

    // Every sign-in wrong would lock the accounts: refused as bad usage.
    let (code, _, err) = pwload(&["--url", &url, "--mix", "verify", "--wrong-every", "1"]).await;
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = pwload(&["--url", &url, "--mix", "status", "--wrong-every", "4"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("verify"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sweep_runs_each_concurrency_and_draws_it() {
    let (url, _local) = start().await;
    let dir = std::env::temp_dir().join(format!("pwload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("sweep.png");
    let (code, out, err) = pwload(&[
        "--url",
        &url,
        "--mix",
        "status",
        "--sweep",
        "1,3",
        "--requests",
        "6",
        "--plot",
        png.to_str().unwrap(),
        "--json",
    ])
    .await;
    assert_eq!(code, 0, "{err}");
    let r: Value = serde_json::from_str(&out).unwrap();
    let runs = r["sweep"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(
        (runs[0]["users"].clone(), runs[1]["users"].clone()),
        (1.into(), 3.into())
    );
    for run in runs {
        assert_eq!(run["routes"]["status"]["requests"], 6);
    }
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    assert!(
        bytes.len() > 5_000,
        "drawn, not empty: {} bytes",
        bytes.len()
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn only_loopback_targets_are_accepted() {
    // A listener on a routable address of this machine would accept; the
    // generator must refuse before connecting, so no server is needed.
    for url in [
        "http://10.0.0.1:9000",
        "http://192.0.2.1:9000",
        "http://example.com",
        "http://0.0.0.0:9000",
    ] {
        let (code, out, err) = pwload(&["--url", url, "--requests", "1"]).await;
        assert_eq!(code, 2, "{url}: {out} {err}");
        assert!(err.contains("loopback"), "{url}: {err}");
        assert!(out.is_empty());
    }
}
