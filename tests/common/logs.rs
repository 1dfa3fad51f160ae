//! Captures this test binary's log lines (tracing, INFO and up) so tests can assert that
//! dockside said something — e.g. a warning naming a container. Tests share one capture, so
//! they look for lines naming their own (unique) containers or hosts. A failing test prints
//! them with `text()`.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

static LINES: Mutex<Vec<u8>> = Mutex::new(Vec::new());

struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LINES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once per test binary.
pub fn capture() {
    capture_at(tracing::Level::INFO);
}

/// `capture`, keeping lines down to `level` (the first call in a binary decides).
pub fn capture_at(level: tracing::Level) {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(level)
            .with_writer(|| Capture)
            .try_init();
    });
}

/// Everything logged so far.
pub fn text() -> String {
    String::from_utf8_lossy(&LINES.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// Waits (up to `timeout`) for a logged line containing every one of `needles`.
pub async fn wait_line(needles: &[&str], timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(line) = text()
            .lines()
            .find(|l| needles.iter().all(|n| l.contains(n)))
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needles:?} within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
