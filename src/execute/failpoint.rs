//! Places where a test may stop the runner to kill it there: `kill -9` at
//! a chosen instant of a step, so that resuming from the journal it left
//! can be checked. Only in debug builds, which the tests run; a release
//! build has none of it.
//!
//! `RUNNER_TEST_PAUSE=<point>:<n>` makes the n-th passage through
//! `<point>` (counting from 1) say `runner: paused at <point>` on stderr
//! and stop there, the whole process with it, until it is killed.

/// Whether this passage through `point` is the one to stop at.
#[cfg(debug_assertions)]
pub(super) fn reached(point: &str) -> bool {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static WANTED: OnceLock<Option<(String, usize)>> = OnceLock::new();
    static PASSED: AtomicUsize = AtomicUsize::new(0);
    let wanted = WANTED.get_or_init(|| {
        let text = std::env::var("RUNNER_TEST_PAUSE").ok()?;
        let (name, n) = text.rsplit_once(':')?;
        Some((name.to_string(), n.parse().ok()?))
    });
    match wanted {
        Some((name, n)) if name == point => PASSED.fetch_add(1, Ordering::SeqCst) + 1 == *n,
        _ => false,
    }
}

#[cfg(not(debug_assertions))]
pub(super) fn reached(_point: &str) -> bool {
    false
}

/// Says so and stops here, every thread of the process with it, until the
/// test kills it.
pub(super) fn stop(point: &str) -> ! {
    eprintln!("runner: paused at {point}");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Stops at `point` when the environment says so.
pub(super) fn pause(point: &str) {
    if reached(point) {
        stop(point);
    }
}
