//! Resume: what the journal says about a request about to be sent — done
//! in an earlier run (its outputs reused), to send, or refused (a completed
//! POST or PATCH whose request changed, or whose outputs are gone). Shared
//! by the checks before a run and by apply, which both hold a
//! [`Journalled`].

use std::cell::RefCell;
use std::collections::HashSet;

use serde_json::Value;

use super::{Act, Mode, Unit, Walk};
use crate::check::Needed;
use crate::execute::journal::{Parts, Past, Record, State};
use crate::execute::outcome::{Failure, FailureKind};

/// What the journal says about a request that is about to be sent.
pub(super) enum Resume {
    /// Done in the earlier run: these are its outputs.
    Done(Box<Record>),
    /// Not done, or safe to do again.
    Run,
    /// In flight when the journalled run stopped, and to be sent again
    /// (`--rerun-uncertain`, or a method safe to repeat): the journal says
    /// the old send is given up on before the new one starts.
    Again(Box<Record>),
}

/// A journal being resumed, and which of its records this run's requests
/// have matched so far.
pub(in crate::execute) struct Journalled<'a> {
    pub past: &'a Past,
    /// Records a step of this run matches exactly (by key and request): no
    /// other step may claim them by request alone.
    pub reserved: HashSet<usize>,
    /// Records already matched to a request of this run.
    claimed: RefCell<HashSet<usize>>,
}

impl<'a> Journalled<'a> {
    pub(crate) fn new(past: &'a Past, reserved: HashSet<usize>) -> Self {
        Journalled {
            past,
            reserved,
            claimed: RefCell::default(),
        }
    }

    /// What the journal says about this request of `act`: done (its
    /// outputs reused), to run, or refused (a completed POST or PATCH whose
    /// request changed, a POST or PATCH whose outputs are gone).
    pub(super) fn resume<M: Mode>(
        &self,
        walk: &Walk<'_, M>,
        act: &Act<'_>,
        (parts, fingerprint): (&Parts, &str),
    ) -> Result<Resume, Failure> {
        if self.past.is_empty() {
            return Ok(Resume::Run);
        }
        let (step, key, label) = (act.step, act.key.as_str(), act.label.as_str());
        let rerun_changed = walk.setup.opts.rerun_changed;
        let journal = |m: String| Failure::new(FailureKind::Journal, m);
        let method = parts.method.clone();
        let unsafe_method = matches!(method.as_str(), "POST" | "PATCH");
        let mut claimed = self.claimed.borrow_mut();
        let found = self
            .past
            .exact(key, fingerprint, &claimed)
            .or_else(|| self.past.moved(fingerprint, &claimed, &self.reserved));
        if let Some((i, record)) = found {
            match record.state {
                State::Ok if !record.complete && step.needed != Needed::Never => {
                    if unsafe_method && !rerun_changed {
                        return Err(journal(format!(
                            "{label} ({method}) completed in the journalled run, but its response held secrets, which the journal never stores, and a later step uses it; sending it again would repeat it. \
                             Start a new run, or pass `--rerun-changed` to send it again"
                        )));
                    }
                    walk.warn(format!(
                        "{label}: its journalled outputs held secrets, which are never stored, and a later step uses them; running it again"
                    ));
                    claimed.insert(i);
                    return Ok(Resume::Run);
                }
                State::Ok => {
                    claimed.insert(i);
                    return Ok(Resume::Done(Box::new(record.clone())));
                }
                State::Started => {
                    // In flight when the run stopped: refused before the run
                    // for POST and PATCH without `--rerun-uncertain`.
                    walk.warn(format!(
                        "{label}: it was in flight when the journalled run stopped; sending it again"
                    ));
                    claimed.insert(i);
                    return Ok(Resume::Again(Box::new(record.clone())));
                }
                State::Failed | State::Abandoned => {
                    claimed.insert(i);
                    return Ok(Resume::Run);
                }
            }
        }
        // A loop's items are told apart by their requests: a new request is
        // a new item, not a changed one.
        if step.def.each.is_none()
            && step.def.paginate.is_none()
            && let Some(earlier) = self.past.latest(key)
            && earlier.state == State::Ok
        {
            let changes = parts.changes_since(&earlier.parts).join(", ");
            if unsafe_method && !rerun_changed {
                return Err(journal(format!(
                    "{label} ({method}) completed in the journalled run, and its request changed since ({changes}); it is not sent again. \
                     Check, then resume with `--rerun-changed` to send it"
                )));
            }
            walk.warn(format!(
                "{label}: its request changed since the journalled run; running it again (changed: {changes})"
            ));
        }
        Ok(Resume::Run)
    }
}

/// A unit done in an earlier run, from its journal record.
pub(super) fn from_record(record: &Record) -> Unit {
    let outputs = record.outputs.clone().unwrap_or(Value::Null);
    Unit {
        http_status: record.http_status,
        headers: outputs
            .get("headers")
            .and_then(|h| serde_json::from_value(h.clone()).ok())
            .unwrap_or_default(),
        response: outputs.get("response").cloned(),
        resumed: true,
        ..Unit::default()
    }
}
