//! Servers that act on what they are sent: [`HoldFirst`] keeps the first
//! request in flight while the test acts on the runner (kills it, starts
//! another), announcing it instead of making the test sleep; [`Echo`]
//! answers with what it was sent. And [`kill`], for the signals those
//! tests send.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use wiremock::{Request, Respond, ResponseTemplate};

use super::command::Running;
use super::{Run, json_reply};

/// Answers with `response`; the first request it matches is announced on
/// `arrived` and held for 10 s (or as long as [`HoldFirst::holding`] says),
/// long enough for the test to act on the runner while the request is in
/// flight.
pub struct HoldFirst {
    arrived: mpsc::UnboundedSender<()>,
    seen: AtomicUsize,
    response: ResponseTemplate,
    hold: Duration,
    before: Duration,
}

impl HoldFirst {
    /// A hold with its own announcements, to wait for with [`arrival`].
    pub fn new(response: ResponseTemplate) -> (HoldFirst, mpsc::UnboundedReceiver<()>) {
        let (arrived, rx) = mpsc::unbounded_channel();
        (HoldFirst::announcing(arrived, response), rx)
    }

    /// A hold that announces on `arrived`, which other holds may share.
    pub fn announcing(arrived: mpsc::UnboundedSender<()>, response: ResponseTemplate) -> HoldFirst {
        HoldFirst {
            arrived,
            seen: AtomicUsize::new(0),
            response,
            hold: Duration::from_secs(10),
            before: Duration::ZERO,
        }
    }

    /// Keeps the first request in flight for `hold` once announced.
    pub fn holding(mut self, hold: Duration) -> Self {
        self.hold = hold;
        self
    }

    /// Sits on the first request for `before` before announcing it, so a
    /// step stopped then has run at least that long.
    pub fn announced_after(mut self, before: Duration) -> Self {
        self.before = before;
        self
    }
}

impl Respond for HoldFirst {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        if self.seen.fetch_add(1, Ordering::SeqCst) == 0 {
            if !self.before.is_zero() {
                std::thread::sleep(self.before);
            }
            let _ = self.arrived.send(());
            self.response.clone().set_delay(self.hold)
        } else {
            self.response.clone()
        }
    }
}

/// Waits (at most 30 s, never in a test that passes) for the announcement
/// that the held request reached the server.
pub async fn arrival(rx: &mut mpsc::UnboundedReceiver<()>) {
    let got = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
    assert!(
        matches!(got, Ok(Some(()))),
        "the held request never arrived"
    );
}

/// Waits (at most 30 s) for the held request to be announced, sends
/// `signal` to `running` either way, and returns how the run ended: a test
/// whose request never arrived fails, with the run printed.
pub async fn signal_when_held(
    running: Running,
    rx: &mut mpsc::UnboundedReceiver<()>,
    signal: &str,
) -> Run {
    let waited = tokio::time::timeout(Duration::from_secs(30), rx.recv()).await;
    kill(running.id(), signal);
    let out = running.wait().await;
    assert!(
        matches!(waited, Ok(Some(()))),
        "the held request never arrived: {out:?}"
    );
    out
}

/// Sends `signal` (`-KILL`, `-TERM`, `-INT`) to a runner this test started.
pub fn kill(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Sends SIGKILL to a runner this test started.
pub fn kill9(pid: u32) {
    kill(pid, "-KILL");
}

/// Answers with `status` and a body made by `body` from the request: an
/// API that echoes what it was sent.
pub struct Echo<F>(pub u16, pub F);

impl<F: Fn(&Request) -> Value + Send + Sync> Respond for Echo<F> {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        json_reply(self.0, (self.1)(r))
    }
}
