//! The playground end to end, in headless Chromium: builds the site (playground/build.sh: the
//! library for wasm32-unknown-unknown, bound by wasm-bindgen), then runs the browser script
//! (playground/browser-test/test.mjs), which serves it on loopback, pastes positives and
//! negatives and checks what the page shows. Screenshots land in `target/playground/`.
//!
//! It needs Chromium, Node.js and the script's npm packages; `.ci/run` installs them. Without
//! them the test says what is missing and skips, except under `CI=true`, where it fails.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn missing_prerequisites(root: &Path) -> Vec<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let mut missing = Vec::new();
    if !Path::new(&chromium).exists() {
        missing.push(format!("Chromium at {chromium} (apt-get install chromium, or set CHROMIUM)"));
    }
    if !Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success()) {
        missing.push("node".into());
    }
    if !root.join("playground/browser-test/node_modules/playwright-core").exists() {
        missing.push("playwright-core (npm ci --prefix playground/browser-test)".into());
    }
    missing
}

#[test]
fn the_page_shows_both_verdicts_in_chromium() {
    let root = root();
    let missing = missing_prerequisites(&root);
    if !missing.is_empty() {
        let what = missing.join(", ");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the browser test needs {what}, and CI=true: .ci/run must install them");
        }
        eprintln!("skipping the browser test: missing {what}");
        return;
    }
    let out = root.join("target/playground");
    let site = out.join("site-test");
    let build = Command::new("bash").arg(root.join("playground/build.sh")).arg(&site).status().unwrap();
    assert!(build.success(), "playground/build.sh failed");
    let test =
        Command::new("node").arg(root.join("playground/browser-test/test.mjs")).arg(&site).arg(&out).status().unwrap();
    assert!(test.success(), "the browser test failed (its output is above)");
    assert!(out.join("playground-extended.png").exists());
}
