//! Secrets and settings from outside the spec: the process environment
//! (and `.env`), and credential sources, each one module behind
//! `Sources`. A source's token is fetched lazily, at most once per run
//! for the same request, and everything secret it brings is registered
//! with the redactor before anything could print it.
//!
//! Adding a source (OAuth2, a credential helper) touches: a variant of
//! `spec::Source` and its raw form in `spec/raw.rs` (with its lowering in
//! `spec/lower.rs`), a module here, one arm in each `match` of
//! `Sources`, and a variant of `SourceError` for the module's errors.
//! See `docs/spec.md`, "Adding an auth source".

pub(crate) mod descope;
mod env;

use std::collections::BTreeMap;

pub use env::{Environment, environment};

use crate::http::Clients;
use crate::redact::Redactor;
use crate::render::{PLAN_SECRET, Renderer, Token};
use crate::secret::Secret;
use crate::spec::Source;

/// What a source needs from the run.
pub(crate) struct Context<'a> {
    pub(crate) env: &'a BTreeMap<String, String>,
    pub(crate) clients: &'a Clients,
    pub(crate) redactor: &'a Redactor,
    /// `--allow-http`: credentials may go over plain http to other hosts.
    pub(crate) allow_http: bool,
    /// Hears of retries, and of secrets too short to mask.
    pub(crate) notes: &'a dyn Fn(String),
    /// `-v`: where the requests a source sends are traced.
    pub(crate) tracer: crate::http::Tracer<'a>,
}

impl Context<'_> {
    /// Masks `secret` from now on; says so when it is too short to mask.
    pub(crate) fn register(&self, secret: &Secret) {
        if let Err(unmasked) = self.redactor.mask(secret) {
            (self.notes)(unmasked.to_string());
        }
    }
}

/// The run's credential sources and their per-run state.
#[derive(Default)]
pub(crate) struct Sources {
    descope: descope::Descope,
}

impl Sources {
    pub(crate) fn new() -> Sources {
        Sources::default()
    }

    /// Whether `source` has everything it needs (settings, a safe
    /// connection), without fetching anything: checked before a run starts.
    pub(crate) fn verify(
        &self,
        source: &Source,
        r: &Renderer,
        ctx: &Context,
    ) -> Result<(), SourceError> {
        match source {
            Source::Descope(d) => descope::Descope::settings(d, r, ctx).map(|_| ())?,
        }
        Ok(())
    }

    /// What `plan` shows for the source's token.
    pub(crate) fn placeholder(source: &Source) -> Token {
        Token {
            source: source.name(),
            access_token: Secret::new(PLAN_SECRET),
            token_type: "Bearer".to_string(),
        }
    }

    /// The token of `source`, fetched once per run for the same request.
    pub(crate) async fn fetch(
        &self,
        source: &Source,
        r: &Renderer<'_>,
        ctx: &Context<'_>,
    ) -> Result<Token, SourceError> {
        match source {
            Source::Descope(d) => Ok(self.descope.token(d, r, ctx).await?),
        }
    }
}

/// Why a credential source gave no token: one variant per source.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SourceError {
    #[error(transparent)]
    Descope(#[from] descope::DescopeError),
}
