//! A step's request, prepared: params rendered and typed, the credential
//! taken from the mode, auth rendered (its secrets registered before
//! anything could print them), the request built, and every check a
//! request must pass before it may leave — `url_origin`, the files it
//! uploads, its URL's scheme, auth over clear text — in that order, so the
//! first problem is the one reported.

use serde_json::Value;

use super::{Act, Mode, Prepared, Walk};
use crate::execute::journal::Parts;
use crate::execute::outcome::{Failure, FailureKind};
use crate::http;
use crate::render::{self, Renderer, Token};
use crate::secret::Secret;

impl<M: Mode> Walk<'_, M> {
    /// Renders a step's params and auth and builds its request, with every
    /// check a request must pass before it may leave. `set` replaces a
    /// param (a pagination cursor).
    pub(super) async fn prepare(
        &self,
        act: &Act<'_>,
        r: &Renderer<'_>,
        origins: &render::Origins<'_>,
        set: Option<(&str, &Value)>,
    ) -> Result<Prepared, Failure> {
        let (step, bound) = (act.step, act.bound);
        let opts = self.setup.opts;
        let params =
            render::params(&step.def, &bound.action, r, origins, set).map_err(Failure::render)?;
        let (target, target_waits) = match self.target(act, r)? {
            Target::App => (None, None),
            Target::Url(url) => (Some(url), None),
            Target::Waits(template) => (None, Some(template)),
        };
        let auth = self.auth(act, r).await?;
        let auth_base = auth.as_ref().and_then(|a| a.base_url.as_deref());
        let base_override = opts.base_override(&bound.app, &bound.action, auth_base);
        let effective_base = base_override
            .clone()
            .or_else(|| auth_base.map(str::to_string))
            .unwrap_or_else(|| bound.app.base_url.clone());
        // The app's auth goes only to the app's origin; a step that names
        // its own `auth:` sends it wherever its `url` says.
        let auth = match (&target, &step.def.auth) {
            (Some(t), None) if !http::same_origin_str(t, &effective_base) => None,
            _ => auth,
        };
        // A `url` that waits for the run (plan) is shown with what is known
        // filled in; the app's base URL stands in while the request is built.
        let stand_in = target_waits.as_ref().map(|_| effective_base.as_str());
        let mut request = render::build_request(
            &bound.app,
            &bound.action,
            &params,
            auth.as_ref(),
            base_override.as_deref(),
            target.as_deref().or(stand_in),
        )
        .map_err(Failure::render)?;
        if let Some(template) = target_waits {
            // The query params go after it, as they will on the run.
            let query = request.url.split_once('?').map(|(_, q)| q.to_string());
            request.url = match query {
                Some(q) if !template.contains('?') => format!("{template}?{q}"),
                Some(q) => format!("{template}&{q}"),
                None => template,
            };
            return Ok(Prepared {
                request,
                deferred: params.deferred,
                parts: None,
            });
        }
        self.admit(act, &mut request)?;
        let parts = (params.deferred.is_empty() && self.mode.identifies()).then(|| {
            let (base, path) = match &target {
                Some(t) => (t.clone(), ""),
                None => (effective_base.clone(), bound.action.path.as_str()),
            };
            Parts::new(
                &bound.app.name,
                &bound.action.name,
                bound.action.method,
                &base,
                path,
                &params.values,
                &opts.redactor,
            )
        });
        Ok(Prepared {
            request,
            deferred: params.deferred,
            parts,
        })
    }

    /// Where a `url:` step sends: the rendered URL, or (plan) the template
    /// that waits for the run. A URL outside `url_origin` is refused before
    /// anything — a credential source's token included — is fetched.
    fn target(&self, act: &Act<'_>, r: &Renderer<'_>) -> Result<Target, Failure> {
        let step = &act.step.def;
        let Some(u) = &step.url else {
            return Ok(Target::App);
        };
        if r.deferred(&u.value) {
            return Ok(Target::Waits(r.partial(&u.value)));
        }
        let target = r
            .text(&u.value)
            .map_err(|e| Failure::new(FailureKind::Render, format!("url: {e}")))?;
        if let Some(origin) = &step.url_origin
            && let Some(outside) = http::outside_origin(&target, &origin.value)
        {
            return Err(Failure::new(
                FailureKind::Render,
                format!(
                    "`url` leads to `{outside}`, outside `url_origin` (`{}`); nothing was sent",
                    http::show_origin(&origin.value)
                ),
            )
            .at(Some(u.loc.clone())));
        }
        Ok(Target::Url(target))
    }

    /// The step's auth, rendered with its source's token (from the mode);
    /// every secret in it registered before anything could print it.
    async fn auth(
        &self,
        act: &Act<'_>,
        r: &Renderer<'_>,
    ) -> Result<Option<render::RenderedAuth>, Failure> {
        let Some(auth) = &act.bound.auth else {
            return Ok(None);
        };
        let token: Option<Token> = match &auth.source {
            None => None,
            Some(source) => Some(self.mode.token(self, source, r).await?),
        };
        let mut secrets = Vec::new();
        if !M::SENDS {
            // Plan's stand-in for what waits for the run prints as `***`.
            secrets.push(Secret::new(render::PLAN_SECRET));
        }
        let rendered = render::auth(auth, token.as_ref(), r, &self.setup.taint, &mut secrets);
        self.register(&secrets);
        rendered.map(Some).map_err(Failure::render)
    }

    /// The checks a built request must pass before it may leave: the files
    /// it uploads, its URL's scheme, auth over clear text.
    fn admit(&self, act: &Act<'_>, request: &mut crate::render::Request) -> Result<(), Failure> {
        let (step, bound, opts) = (act.step, act.bound, self.setup.opts);
        let render_failure = |m: String| Failure::new(FailureKind::Render, m);
        crate::execute::files::inspect(request, &self.setup.uploads, opts.max_upload()).map_err(
            |e| {
                // Said at the value that names the file.
                let loc = step
                    .def
                    .params
                    .get(&e.param)
                    .map(|p| p.loc.clone())
                    .or_else(|| bound.action.params.get(&e.param).map(|p| p.loc.clone()));
                Failure::render(e).at(loc)
            },
        )?;
        let url = &request.target;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(render_failure(format!(
                "the request URL's scheme `{}` is not http or https",
                url.scheme()
            )));
        }
        if request.carries_auth
            && !opts.allow_http
            && let Some(why) = self.setup.clients.config().clear_text_exposure(url)
        {
            return Err(render_failure(why));
        }
        Ok(())
    }

    /// Masks `secrets` from now on; warns about one too short to mask.
    pub(super) fn register(&self, secrets: &[Secret]) {
        for s in secrets {
            if let Err(unmasked) = self.setup.opts.redactor.mask(s) {
                self.warn(unmasked.to_string());
            }
        }
    }

    /// What a credential source needs from the run.
    pub(super) fn context<'c>(&'c self, notes: &'c dyn Fn(String)) -> crate::resolve::Context<'c> {
        crate::resolve::Context {
            env: &self.setup.opts.env,
            clients: &self.setup.clients,
            redactor: &self.setup.opts.redactor,
            allow_http: self.setup.opts.allow_http,
            notes,
            tracer: crate::http::Tracer::QUIET,
        }
    }
}

/// Where a request goes.
enum Target {
    /// The app's base URL and the action's path.
    App,
    /// A `url:` step's rendered URL.
    Url(String),
    /// A `url:` template that waits for the run (plan).
    Waits(String),
}
