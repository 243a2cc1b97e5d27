//! The node test runs of the browser client (client/web): where their
//! screenshots go, and the verdict of a TAP report.

use std::path::PathBuf;
use std::process::Output;

/// `target/screenshots`, where the Chromium tests leave their pictures,
/// beside the test's `CARGO_TARGET_TMPDIR` (`target/tmp`; only test crates
/// are given it).
pub fn screenshot_dir(target_tmpdir: &str) -> PathBuf {
    std::path::Path::new(target_tmpdir)
        .parent()
        .expect("the target directory")
        .join("screenshots")
}

/// Fails unless `node --test --test-reporter=tap` exited 0 and its report
/// counts no failed, skipped or cancelled test and at least `min_pass` passed.
pub fn assert_tap_passed(out: &Output, min_pass: u32) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let count = |label: &str| -> u32 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("# {label} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no '# {label}' line in the node test report:\n{stdout}"))
    };
    assert_eq!(count("fail"), 0, "{stdout}");
    assert_eq!(count("skipped"), 0, "{stdout}");
    assert_eq!(count("cancelled"), 0, "{stdout}");
    assert!(count("pass") >= min_pass, "{stdout}");
}
