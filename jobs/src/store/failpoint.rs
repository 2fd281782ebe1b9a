//! Crash injection for the recovery tests: `LIVELAKE_FAILPOINT=<name>[:<n>]` makes the process
//! SIGKILL itself the n-th time (default 1st) it reaches the named point. Unset, it costs one
//! atomic load.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
static HITS: AtomicU64 = AtomicU64::new(0);

fn target() -> &'static Option<(String, u64)> {
    TARGET.get_or_init(|| {
        let v = std::env::var("LIVELAKE_FAILPOINT").ok()?;
        let (name, n) = match v.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((name, n.max(1)))
    })
}

/// Die here (SIGKILL, no cleanup) if this is the configured failpoint's n-th hit.
pub fn hit(name: &str) {
    let Some((want, n)) = target() else { return };
    if want != name {
        return;
    }
    if HITS.fetch_add(1, Ordering::SeqCst) + 1 == *n {
        tracing::warn!(failpoint = name, "failpoint reached: killing the process");
        let pid = std::process::id().to_string();
        let _ = std::process::Command::new("kill").args(["-KILL", &pid]).status();
        // SIGKILL is asynchronous: make sure nothing else happens meanwhile.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}
