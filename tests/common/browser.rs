//! A real browser for pages dockside serves: Debian's headless Chromium, run once per call with
//! its own profile directory (parallel tests never share one) and a time limit.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Chromium may take a few seconds to start on a loaded machine.
const LIMIT: Duration = Duration::from_secs(60);

fn chromium(args: &[&str]) -> std::process::Output {
    super::require_tool("chromium", "chromium");
    let profile = tempfile::tempdir().expect("profile dir");
    let profile_arg = format!("--user-data-dir={}", profile.path().display());
    let limit = LIMIT.as_secs().to_string();
    let out = Command::new("timeout")
        .args([
            &limit,
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
        ])
        .args([
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
        ])
        .arg(&profile_arg)
        .args(args)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The DOM of `url` after the browser loaded it (`--dump-dom`).
pub fn dump_dom(url: &str) -> String {
    String::from_utf8_lossy(&chromium(&["--dump-dom", url]).stdout).into_owned()
}

/// A PNG of `url` at `width`×`height` into `file`.
pub fn screenshot(url: &str, file: &Path, (width, height): (u32, u32)) {
    let shot = format!("--screenshot={}", file.display());
    let size = format!("--window-size={width},{height}");
    chromium(&[&shot, &size, url]);
    let png = std::fs::read(file).expect("chromium wrote the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{}: not a real screenshot ({} bytes)",
        file.display(),
        png.len()
    );
}
