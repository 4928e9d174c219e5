//! The checks before a run: everything knowable before the first request —
//! credential sources' settings, every request that can be built, and,
//! when resuming, what the journal says of each — so a problem exits 2
//! with nothing sent.
//!
//! [`Collect`] is the first of them when a run resumes: it lists every
//! request known before the run (key and fingerprint), so a journal record
//! is kept for the step that matches it exactly rather than claimed by an
//! earlier step sending the same. [`Preflight`] then matches each request
//! against the journal: a completed POST whose request changed stops the
//! run before it starts.

use std::cell::RefCell;

use super::resume::{Journalled, Resume, from_record};
use super::{Act, FlowEnd, Mode, Prepared, Unit, Walk};
use crate::error::Error;
use crate::execute::Setup;
use crate::execute::outcome::{Failure, FailureKind};
use crate::render::{Renderer, Token};
use crate::resolve::Sources;
use crate::spec::Source;

/// Lists the requests known before a resumed run, touching nothing.
#[derive(Default)]
pub(in crate::execute) struct Collect {
    known: RefCell<Vec<(String, String)>>,
}

impl Collect {
    /// `(key, fingerprint)` of every request known before the run.
    pub(crate) async fn walk(setup: &Setup<'_>) -> Result<Vec<(String, String)>, Error> {
        let walk = Walk::new(setup, Collect::default());
        let _: FlowEnd = walk.root_flow().await?;
        Ok(walk.mode.known.into_inner())
    }
}

impl Mode for Collect {
    const SENDS: bool = false;

    fn identifies(&self) -> bool {
        true
    }

    async fn token(
        &self,
        walk: &Walk<'_, Self>,
        source: &Source,
        r: &Renderer<'_>,
    ) -> Result<Token, Failure> {
        check_source(walk, source, r)
    }

    async fn action(
        &self,
        _walk: &Walk<'_, Self>,
        act: &Act<'_>,
        prepared: Prepared,
        _notes: Vec<String>,
    ) -> Result<Unit, Error> {
        if let Some(parts) = &prepared.parts {
            self.known
                .borrow_mut()
                .push((act.key.clone(), parts.fingerprint()));
        }
        Ok(Unit::default())
    }
}

/// Matches each request known before the run against the journal.
pub(in crate::execute) struct Preflight<'a> {
    journalled: &'a Journalled<'a>,
}

impl<'a> Preflight<'a> {
    /// Walks the workflow; its warnings.
    pub(crate) async fn walk(
        setup: &Setup<'_>,
        journalled: &'a Journalled<'a>,
    ) -> Result<Vec<String>, Error> {
        let walk = Walk::new(setup, Preflight { journalled });
        let _: FlowEnd = walk.root_flow().await?;
        Ok(walk.warnings.take())
    }
}

impl Mode for Preflight<'_> {
    const SENDS: bool = false;

    fn identifies(&self) -> bool {
        !self.journalled.past.is_empty()
    }

    async fn token(
        &self,
        walk: &Walk<'_, Self>,
        source: &Source,
        r: &Renderer<'_>,
    ) -> Result<Token, Failure> {
        check_source(walk, source, r)
    }

    async fn action(
        &self,
        walk: &Walk<'_, Self>,
        act: &Act<'_>,
        prepared: Prepared,
        _notes: Vec<String>,
    ) -> Result<Unit, Error> {
        // A request known now is matched against the journal now, so a
        // changed POST stops the run before it starts.
        let Some(parts) = &prepared.parts else {
            return Ok(Unit::default());
        };
        // A polled step is polled again; a paged step's pages are matched
        // one by one as the run reads them, which is also how its `items`
        // come back.
        let step = &act.step.def;
        if step.until.is_some() || step.paginate.is_some() {
            return Ok(Unit::default());
        }
        match self
            .journalled
            .resume(walk, act, (parts, &parts.fingerprint()))
        {
            Ok(Resume::Done(record)) => Ok(from_record(&record)),
            Ok(Resume::Run | Resume::Again(_)) => Ok(Unit::default()),
            Err(f) => Err(Error::Environment(f.message)),
        }
    }
}

/// The checks' stand-in for a credential: the source's settings checked,
/// nothing fetched.
fn check_source<M: Mode>(
    walk: &Walk<'_, M>,
    source: &Source,
    r: &Renderer<'_>,
) -> Result<Token, Failure> {
    let notes = |note| walk.warn(note);
    walk.setup
        .sources
        .verify(source, r, &walk.context(&notes))
        .map_err(|e| Failure::new(FailureKind::Token, e.to_string()))?;
    Ok(Sources::placeholder(source))
}
