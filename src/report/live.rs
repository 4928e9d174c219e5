//! What a long step shows while it runs, and whether the terminal gets
//! colour: on a terminal, a progress line on stderr (`indicatif`) once a
//! step has run for a second or while a loop runs; elsewhere (a pipe, a
//! file, `NO_COLOR`, `CI`, `TERM=dumb`) a heartbeat line at most every
//! 10 s while a loop, a poll or pages run, so a CI log never looks hung.
//! Every line goes through the one redactor first.

use std::cell::RefCell;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Out;
use crate::execute::Progress;

/// How long a step runs before a terminal shows its progress.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// What the terminal gets: colour on stdout, a progress line on stderr.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Terminal {
    pub colour: bool,
    pub progress: bool,
}

impl Terminal {
    /// Colour and progress where the output is a terminal that did not ask
    /// for plain text: `NO_COLOR` (any value but empty), `CI` (any value
    /// but empty, `false` or `0`) and `TERM=dumb` turn both off.
    pub(crate) fn detect() -> Terminal {
        let var = |name| std::env::var_os(name).unwrap_or_default();
        let ci = var("CI");
        let plain = !var("NO_COLOR").is_empty()
            || !(ci.is_empty() || ci == "false" || ci == "0")
            || var("TERM") == "dumb";
        Terminal {
            colour: !plain && std::io::stdout().is_terminal(),
            progress: !plain && std::io::stderr().is_terminal(),
        }
    }
}

/// How often the heartbeat beats. `RUNNER_TEST_HEARTBEAT_MS` shortens it
/// for the tests, in debug builds only: it is no setting for users.
fn heartbeat_every() -> Duration {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("RUNNER_TEST_HEARTBEAT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        return Duration::from_millis(ms);
    }
    Duration::from_secs(10)
}

/// The root step running now, as progress shows it.
pub(crate) struct Live<'a> {
    out: &'a Out,
    terminal: Terminal,
    heartbeat: Duration,
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// `name  action`, while a watched step runs.
    step: String,
    began: Option<Instant>,
    doing: Doing,
    /// The progress line, once shown.
    bar: Option<ProgressBar>,
}

#[derive(Default)]
enum Doing {
    #[default]
    Running,
    Items {
        done: usize,
        total: usize,
    },
    Try {
        attempt: u32,
        of: u32,
        looked: Option<String>,
    },
    Page(usize),
}

impl<'a> Live<'a> {
    pub(crate) fn new(out: &'a Out, terminal: Terminal) -> Self {
        Live {
            out,
            terminal,
            heartbeat: heartbeat_every(),
            state: RefCell::default(),
        }
    }

    /// A progress line after a second on a terminal; a heartbeat for long
    /// steps elsewhere; nothing at all for a short step off a terminal.
    pub(crate) fn pulse_every(&self, long: bool) -> Option<Duration> {
        if self.terminal.progress {
            Some(SHOW_AFTER)
        } else if long {
            Some(self.heartbeat)
        } else {
            None
        }
    }

    pub(crate) fn progress(&self, event: Progress<'_>) {
        let mut state = self.state.borrow_mut();
        match event {
            Progress::Began { name, action } => {
                *state = State {
                    step: format!("{name}  {action}"),
                    began: Some(Instant::now()),
                    ..State::default()
                };
                return;
            }
            Progress::Ended => {
                if let Some(bar) = state.bar.take() {
                    bar.finish_and_clear();
                }
                *state = State::default();
                return;
            }
            Progress::Items { done, total } => state.doing = Doing::Items { done, total },
            Progress::Try {
                attempt,
                of,
                looked,
            } => {
                state.doing = Doing::Try {
                    attempt,
                    of,
                    looked: looked.map(str::to_string),
                }
            }
            Progress::Page { page } => state.doing = Doing::Page(page),
        }
        // A loop shows its progress at once; the rest after a second.
        let show = matches!(state.doing, Doing::Items { .. });
        if self.terminal.progress && (show || state.bar.is_some()) {
            self.draw(&mut state);
        }
    }

    pub(crate) fn pulse(&self) {
        let mut state = self.state.borrow_mut();
        if state.began.is_none() {
            return;
        }
        if self.terminal.progress {
            if state.bar.is_none() {
                self.draw(&mut state);
            }
            return;
        }
        let elapsed = state.began.map(|b| b.elapsed()).unwrap_or_default();
        self.out.stderr(&format!(
            "... {}, {} elapsed",
            line(&state, elapsed),
            clock(elapsed)
        ));
    }

    /// Prints with the progress line out of the way, so the two never mix.
    pub(crate) fn print(&self, print: impl FnOnce()) {
        match &self.state.borrow().bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// The progress line shown (made the first time), with what it says now.
    fn draw(&self, state: &mut State) {
        let elapsed = state.began.map(|b| b.elapsed()).unwrap_or_default();
        let message = self.out.redactor().redact(&line(state, elapsed));
        if let Some(bar) = &state.bar {
            bar.set_message(message);
            return;
        }
        let mut bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {wide_msg} {elapsed}") {
            bar.set_style(style);
        }
        bar = bar.with_elapsed(elapsed);
        bar.set_message(message);
        // The ticks (a thread of indicatif's) keep the spinner and the
        // elapsed time moving while nothing else happens.
        bar.enable_steady_tick(Duration::from_millis(100));
        state.bar = Some(bar);
    }
}

/// A run that ended without its step ending (an error, a signal) leaves
/// no progress line behind.
impl Drop for Live<'_> {
    fn drop(&mut self) {
        if let Some(bar) = self.state.get_mut().bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// What the step is doing, in words: `each  call  3/10 items  2.0/s`,
/// `wait  get_job  try 5/24: status=queued`, `list  list_repos  page 3`.
fn line(state: &State, elapsed: Duration) -> String {
    let step = &state.step;
    match &state.doing {
        Doing::Running => step.clone(),
        Doing::Items { done, total } => {
            let secs = elapsed.as_secs_f64();
            let rate = if secs > 0.0 && *done > 0 {
                format!("  {:.1}/s", *done as f64 / secs)
            } else {
                String::new()
            };
            format!("{step}  {done}/{total} items{rate}")
        }
        Doing::Try {
            attempt,
            of,
            looked,
        } => match looked {
            Some(looked) => format!("{step}  try {attempt}/{of}: {looked}"),
            None => format!("{step}  try {attempt}/{of}"),
        },
        Doing::Page(page) => format!("{step}  page {page}"),
    }
}

/// `42 s`, `2m 05s`: elapsed time in a heartbeat.
fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else {
        format!("{}m {:02}s", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks() {
        assert_eq!(clock(Duration::from_millis(900)), "0 s");
        assert_eq!(clock(Duration::from_secs(42)), "42 s");
        assert_eq!(clock(Duration::from_secs(125)), "2m 05s");
    }

    #[test]
    fn lines() {
        let mut state = State {
            step: "wait  get_job".into(),
            ..State::default()
        };
        state.doing = Doing::Try {
            attempt: 5,
            of: 24,
            looked: Some("status=queued".into()),
        };
        assert_eq!(
            line(&state, Duration::ZERO),
            "wait  get_job  try 5/24: status=queued"
        );
        state.doing = Doing::Items { done: 3, total: 10 };
        assert_eq!(
            line(&state, Duration::from_secs(2)),
            "wait  get_job  3/10 items  1.5/s"
        );
        state.doing = Doing::Items { done: 0, total: 10 };
        assert_eq!(
            line(&state, Duration::from_secs(2)),
            "wait  get_job  0/10 items"
        );
        state.doing = Doing::Page(3);
        assert_eq!(line(&state, Duration::ZERO), "wait  get_job  page 3");
    }
}
