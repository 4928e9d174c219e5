//! `plan`: the walk that shows each request instead of sending it.
//!
//! It never waits. Every `.await` of the walk is either the walk's own
//! recursion or a [`Mode`] hook, and this mode's hooks finish at once: its
//! token is a placeholder (no credential source is called), its action
//! records what it was given, and it has no loop concurrency, journal,
//! retry or sleep (those are [`super::Apply`]'s). So [`Plan::walk`] polls
//! the walk once, on this thread, without an async runtime: `plan` works
//! from a library without one.

use std::cell::RefCell;
use std::task::{Context, Poll, Waker};

use super::{Act, FlowEnd, Mode, Prepared, Unit, Walk, show};
use crate::error::Error;
use crate::execute::Setup;
use crate::execute::outcome::{Failure, PlannedStep};
use crate::render::{Renderer, Token};
use crate::resolve::Sources;
use crate::spec::{Next, Source};

/// What plan saw, step by step, in the order of the walk.
#[derive(Default)]
pub(in crate::execute) struct Plan {
    planned: RefCell<Vec<PlannedStep>>,
}

impl Plan {
    /// Walks the workflow; the requests it would send, and its warnings.
    pub(crate) fn walk(setup: &Setup<'_>) -> Result<(Vec<PlannedStep>, Vec<String>), Error> {
        let walk = Walk::new(setup, Plan::default());
        {
            let mut future = std::pin::pin!(walk.root_flow());
            let mut cx = Context::from_waker(Waker::noop());
            // Ready on the first poll: see the module's documentation.
            let Poll::Ready(end) = future.as_mut().poll(&mut cx) else {
                return Err(Error::Environment(
                    "internal error: the plan walk waited for something; please report it".into(),
                ));
            };
            let _: FlowEnd = end?;
        }
        let warnings = walk.warnings.take();
        Ok((walk.mode.planned.into_inner(), warnings))
    }
}

impl Mode for Plan {
    const SENDS: bool = false;
    const SHOWS: bool = true;

    fn identifies(&self) -> bool {
        false
    }

    fn shows_failure_conditions(&self) -> bool {
        true
    }

    async fn token(
        &self,
        _walk: &Walk<'_, Self>,
        source: &Source,
        _r: &Renderer<'_>,
    ) -> Result<Token, Failure> {
        Ok(Sources::placeholder(source))
    }

    async fn action(
        &self,
        _walk: &Walk<'_, Self>,
        act: &Act<'_>,
        prepared: Prepared,
        mut notes: Vec<String>,
    ) -> Result<Unit, Error> {
        let step = &act.step.def;
        if let Some(until) = &step.until {
            notes.push(format!(
                "until {}, every {}, for at most {}",
                show(&until.condition.value),
                crate::units::show(until.every),
                crate::units::show(until.timeout)
            ));
        }
        if let Some(p) = &step.paginate {
            notes.push(match &p.next {
                Next::Link => format!(
                    "pages: following `Link: <...>; rel=\"next\"`, at most {}",
                    p.max_pages
                ),
                Next::Cursor(c) => format!(
                    "pages: `{}` set to {} from each page, at most {}",
                    c.param.value, c.value.value, p.max_pages
                ),
            });
        }
        self.show(PlannedStep {
            name: step.name(),
            label: act.label.clone(),
            action: act.bound.action.name.clone(),
            request: Some(prepared.request),
            deferred: prepared.deferred,
            notes,
        });
        Ok(Unit::default())
    }

    fn show(&self, planned: PlannedStep) {
        self.planned.borrow_mut().push(planned);
    }
}
