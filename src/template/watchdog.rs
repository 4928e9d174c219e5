//! A last line of defence against templates that run too long: some
//! minijinja operations (testing membership in `[0] * 100000000`, doubling a
//! list in a loop) do work that fuel does not meter. The command line arms
//! a watchdog that stops the process when one render runs past its limit;
//! rendering always happens before the request it feeds, so nothing is sent
//! half-rendered.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When the render in progress started (ms since the epoch); 0 when idle.
static RENDERING_SINCE: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1)
}

/// Marks a render as running until dropped.
pub(crate) struct Rendering;

impl Rendering {
    pub(crate) fn start() -> Rendering {
        WATCHING.call_once(watch);
        RENDERING_SINCE.store(now_ms(), Ordering::Relaxed);
        Rendering
    }
}

impl Drop for Rendering {
    fn drop(&mut self) {
        RENDERING_SINCE.store(0, Ordering::Relaxed);
    }
}

/// What to do when a render runs too long, and within how long.
struct Armed {
    limit: Duration,
    on_timeout: Box<dyn Fn() + Send + Sync>,
}

static ARMED: OnceLock<Armed> = OnceLock::new();
static WATCHING: Once = Once::new();

/// Watches renders from a background thread, started by the first render
/// (a command that renders nothing, like `validate`, starts no thread);
/// calls `on_timeout` (which should end the process) when one runs longer
/// than `limit`. Only the first call arms it.
pub fn arm(limit: Duration, on_timeout: impl Fn() + Send + Sync + 'static) {
    let _ = ARMED.set(Armed {
        limit,
        on_timeout: Box::new(on_timeout),
    });
}

fn watch() {
    let Some(armed) = ARMED.get() else { return };
    let tick = (armed.limit / 10).max(Duration::from_millis(10));
    let limit_ms = armed.limit.as_millis() as u64;
    let _ = std::thread::Builder::new()
        .name("template-watchdog".into())
        .spawn(move || {
            loop {
                std::thread::sleep(tick);
                let since = RENDERING_SINCE.load(Ordering::Relaxed);
                if since != 0 && now_ms().saturating_sub(since) > limit_ms {
                    (armed.on_timeout)();
                    return;
                }
            }
        });
}
