//! `make deploy` hands the same `Architecture` to `sam build` and `sam deploy`.

use super::*;

/// The commands `make deploy` would run, without running them.
fn deploy_commands(args: &[&str]) -> Vec<String> {
    let out = Command::new("make")
        .arg("-n")
        .arg("deploy")
        .args(args)
        .current_dir(root())
        .output()
        .expect("run make -n deploy");
    assert!(
        out.status.success(),
        "make -n deploy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains("sam build") || l.contains("sam deploy"))
        .map(str::to_owned)
        .collect()
}

fn architecture_of(command: &str) -> Vec<&str> {
    command
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("Architecture="))
        .collect()
}

#[test]
fn make_deploy_builds_and_deploys_one_architecture() {
    for (args, arch) in [
        (&[][..], "arm64"),
        (&["ARCH=x86_64"][..], "x86_64"),
        (&["ARCH=arm64"][..], "arm64"),
    ] {
        let commands = deploy_commands(args);
        let build: Vec<&String> = commands
            .iter()
            .filter(|c| c.contains("sam build"))
            .collect();
        let deploy: Vec<&String> = commands
            .iter()
            .filter(|c| c.contains("sam deploy"))
            .collect();
        assert_eq!((build.len(), deploy.len()), (1, 1), "{commands:?}");
        for command in build.iter().chain(&deploy) {
            assert_eq!(
                architecture_of(command),
                [arch],
                "make deploy {args:?}: {command}"
            );
        }
    }
}
