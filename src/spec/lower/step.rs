//! Lowering a step: what it runs, its params and inputs, its loop,
//! condition, polling, pagination and outputs, a method for each.

use super::*;

/// Where the step being lowered is: its YAML path, and the label messages
/// name it by (`steps[2] (comment)`).
pub(super) struct StepAt {
    file: Arc<File>,
    pub(super) path: String,
    label: String,
}

impl StepAt {
    /// The place `sub` below the step, named after the step's label.
    pub(super) fn labelled(&self, sub: &str) -> Loc {
        let full = child(&self.path, sub);
        Loc::value(&self.file, &full).labelled(full.replacen(&self.path, &self.label, 1))
    }

    /// How messages name the step.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// The step itself.
    fn here(&self) -> Loc {
        Loc::value(&self.file, &self.path).labelled(self.label.clone())
    }
}

impl Lower {
    /// One step, construct by construct; the diagnostics come in the order
    /// the constructs are lowered.
    pub(super) fn step(
        &mut self,
        flow: usize,
        index: usize,
        path: &str,
        mut raw: raw::Step,
    ) -> Step {
        let at = StepAt {
            file: self.file.clone(),
            path: path.to_string(),
            label: format!(
                "{}{}",
                self.step_prefix,
                step_label(index, raw.id.as_deref())
            ),
        };
        self.step_id(flow, raw.id.as_deref(), &at);
        self.what_runs(&raw, &at);
        let url_origin = raw
            .url_origin
            .as_deref()
            .and_then(|o| self.url_origin(o, raw.url.is_some(), at.labelled("url_origin")));
        self.only_for_requests(&raw, &at);
        let params = self.given_values(&at, "params", std::mem::take(&mut raw.params));
        let mut with = self.given_values(&at, "with", std::mem::take(&mut raw.with));
        let auth = raw.auth.take().map(|a| {
            let mut auth = self.auth(&child(path, "auth"), *a);
            let shown = auth.loc.path().replacen(path, &at.label, 1);
            auth.loc = auth.loc.labelled(shown);
            Arc::new(auth)
        });
        let key = self.step_key(flow, &raw);
        let expect = raw
            .expect
            .take()
            .map(|e| Box::new(self.expect(&child(path, "expect"), Some(&at.label), *e)));
        let tuning = Tuning {
            timeouts: self.timeouts(&child(path, "timeout"), raw.timeout.take().map(|t| *t)),
            retry: self.retry(&child(path, "retry"), raw.retry.take().map(|r| *r)),
        };
        let each = self.each(&mut raw, &at);
        let inline = raw.steps.take().map(|steps| {
            let outputs = std::mem::take(&mut raw.outputs);
            Box::new(self.inline(steps, each.as_ref(), &mut with, outputs, &at))
        });
        let condition = raw.condition.take().and_then(|c| {
            Some(Located {
                value: self.json(&child(path, "if"), *c)?,
                loc: at.labelled("if"),
            })
        });
        let until = self.until(
            raw.until.take().map(|u| *u),
            raw.poll.take().map(|p| *p),
            &at,
        );
        let paginate = self.step_paginate(raw.paginate.take().map(|p| *p), &each, &until, &at);
        let outputs = std::mem::take(&mut raw.outputs)
            .into_iter()
            .map(|(name, value)| {
                let loc = at.labelled(&format!("outputs.{name}"));
                (name, Located { value, loc })
            })
            .collect();
        Step {
            index,
            key,
            id: raw.id,
            description: raw.description,
            action: raw.action.map(|value| Located {
                value,
                loc: at.labelled("action"),
            }),
            url: raw.url.map(|value| {
                Box::new(Located {
                    value,
                    loc: at.labelled("url"),
                })
            }),
            url_origin: url_origin.map(Box::new),
            uses: inline.or_else(|| {
                raw.uses.map(|value| {
                    Box::new(Uses {
                        path: Located {
                            value,
                            loc: at.labelled("uses"),
                        },
                        flow: None,
                        inline: false,
                    })
                })
            }),
            params,
            with,
            auth,
            continue_on_error: raw.continue_on_error,
            expect,
            // Most steps set neither: nothing to hold.
            tuning: (tuning != Tuning::default()).then(|| Box::new(tuning)),
            each: each.map(Box::new),
            condition: condition.map(Box::new),
            until: until.map(Box::new),
            paginate: paginate.map(Box::new),
            outputs,
            loc: at.here(),
        }
    }

    /// `id:`: a name, used once in its flow.
    fn step_id(&mut self, flow: usize, id: Option<&str>, at: &StepAt) {
        if id == Some("") {
            self.diagnostics.push(Diagnostic::new(
                "step id is empty; give the step a name or leave `id` out",
                Some(at.labelled("id")),
            ));
        } else if let Some(id) = id {
            if !is_name(id) {
                self.diagnostics.push(Diagnostic::new(
                    format!("step id `{id}` must be a name made of letters, digits and `_` (it is used as `steps.{id}` in templates)"),
                    Some(at.labelled("id")),
                ));
            }
            let flow = &mut self.flows[flow];
            match flow.ids.get(id) {
                Some(&first) => {
                    let first = flow.steps[first].label();
                    self.diagnostics.push(Diagnostic::new(
                        format!("step id `{id}` is used twice (first by {first})"),
                        Some(at.labelled("id")),
                    ));
                }
                None => {
                    let index = flow.steps.len();
                    flow.ids.insert(id.to_string(), index);
                }
            }
        }
    }

    /// `action:`, `uses:` or a loop's `steps:`, exactly one; a `url` only
    /// with an action.
    fn what_runs(&mut self, raw: &raw::Step, at: &StepAt) {
        if raw.steps.is_some() {
            if let Some(other) = [
                (raw.action.is_some(), "action"),
                (raw.uses.is_some(), "uses"),
            ]
            .into_iter()
            .find_map(|(given, key)| given.then_some(key))
            {
                self.diagnostics.push(
                    Diagnostic::new(
                        format!("a step runs either an `{other}` or its own `steps`, not both"),
                        Some(at.labelled(other)),
                    )
                    .with_help(Some(format!(
                        "move the `{other}` into the loop's `steps` as one more step"
                    ))),
                );
            }
            return;
        }
        match (&raw.action, &raw.uses) {
            (Some(_), Some(_)) => self.diagnostics.push(
                Diagnostic::new(
                    "a step runs either an `action` or a sub-workflow (`uses`), not both",
                    Some(at.here()),
                )
                .with_help(Some("split it into two steps".into())),
            ),
            (None, None) => self.diagnostics.push(
                Diagnostic::new("missing key `action`", Some(at.here())).with_help(Some(
                    "a step runs an `action` (or, with `uses`, another spec file's steps)".into(),
                )),
            ),
            _ => {}
        }
        if raw.uses.is_some() && raw.url.is_some() {
            self.diagnostics.push(Diagnostic::new(
                "`url` replaces an action's URL; a step that `uses` a sub-workflow sends no request itself",
                Some(at.labelled("url")),
            ));
        }
    }

    /// Keys that mean something only for a request (on a `uses` step), or
    /// only for a sub-workflow (`with:` on an action step).
    fn only_for_requests(&mut self, raw: &raw::Step, at: &StepAt) {
        let sub = raw.uses.is_some() || raw.steps.is_some();
        if sub && !raw.params.is_empty() {
            self.diagnostics.push(
                Diagnostic::new(
                    "a step that `uses` a sub-workflow takes `with:`, not `params:`",
                    Some(at.labelled("params")),
                )
                .with_help(Some("rename `params` to `with`".into())),
            );
        }
        if sub {
            // What only a request has; a sub-workflow's steps send theirs.
            for (given, key, help) in [
                (
                    raw.expect.is_some(),
                    "expect",
                    "put `expect` on the sub-workflow's steps",
                ),
                (
                    raw.auth.is_some(),
                    "auth",
                    "give the sub-workflow's steps their own `auth:`, or set the app's auth",
                ),
                (
                    raw.timeout.is_some(),
                    "timeout",
                    "set `timeout` on the sub-workflow's steps, or on the app",
                ),
                (
                    raw.retry.is_some(),
                    "retry",
                    "set `retry` on the sub-workflow's steps, or on the app",
                ),
                (
                    !raw.outputs.is_empty() && raw.steps.is_none(),
                    "outputs",
                    "a step that `uses` a sub-workflow has its `outputs`: declare them in the sub-workflow",
                ),
            ] {
                if given {
                    self.diagnostics.push(
                        Diagnostic::new(
                            format!("`{key}` would have no effect: a step that `uses` a sub-workflow sends no request itself"),
                            Some(at.labelled(key)),
                        )
                        .with_help(Some(help.into())),
                    );
                }
            }
        }
        if raw.action.is_some() && !raw.with.is_empty() {
            self.diagnostics.push(
                Diagnostic::new(
                    "`with:` gives a sub-workflow its inputs; an action takes `params:`",
                    Some(at.labelled("with")),
                )
                .with_help(Some("rename `with` to `params`".into())),
            );
        }
    }

    /// `params:` or `with:` (`key`): each value as JSON, located.
    fn given_values(
        &mut self,
        at: &StepAt,
        key: &str,
        raw: raw::Map<serde_yaml::Value>,
    ) -> IndexMap<String, Located<Value>> {
        // Exactly as many as given: a workflow holds one map per step.
        let mut out = IndexMap::with_capacity(raw.len());
        for (name, value) in raw {
            let value_path = child(&child(&at.path, key), &name);
            if let Some(value) = self.json(&value_path, value) {
                let loc = at.labelled(&format!("{key}.{name}"));
                out.insert(name, Located { value, loc });
            }
        }
        out
    }

    /// What the journal and `steps.<key>` know the step by: its id, else
    /// what it runs, numbered from the second use in the flow.
    fn step_key(&mut self, flow: usize, raw: &raw::Step) -> String {
        let target = raw
            .action
            .clone()
            .or_else(|| raw.uses.clone())
            .or_else(|| raw.steps.as_ref().map(|_| "steps".to_string()))
            .unwrap_or_default();
        let uses = self.action_uses.entry((flow, target.clone())).or_insert(0);
        *uses += 1;
        match &raw.id {
            Some(id) => id.clone(),
            None if *uses == 1 => target,
            None => format!("{target}#{uses}"),
        }
    }

    /// `for_each:` with `as`, `concurrency`, `max_items` and `shard`, which
    /// mean nothing without it.
    fn each(&mut self, raw: &mut raw::Step, at: &StepAt) -> Option<Each> {
        let each = raw.for_each.take().and_then(|list| {
            let list = Located {
                value: self.json(&child(&at.path, "for_each"), *list)?,
                loc: at.labelled("for_each"),
            };
            let name = raw.item_name.clone().unwrap_or_else(|| "item".to_string());
            let name_loc = at.labelled(if raw.item_name.is_some() {
                "as"
            } else {
                "for_each"
            });
            if !is_name(&name) {
                self.diagnostics.push(Diagnostic::new(
                    format!("`as: {name}` must be a name made of letters, digits and `_`"),
                    Some(name_loc.clone()),
                ));
            }
            let concurrency = raw.concurrency.unwrap_or(1);
            if !(1..=MAX_CONCURRENCY).contains(&concurrency) {
                self.diagnostics.push(Diagnostic::new(
                    format!(
                        "`concurrency` must be between 1 and {MAX_CONCURRENCY}, found {concurrency}"
                    ),
                    Some(at.labelled("concurrency")),
                ));
            }
            let max_items = raw.max_items.unwrap_or(DEFAULT_MAX_ITEMS);
            if max_items == 0 {
                self.diagnostics.push(Diagnostic::new(
                    "`max_items` must be at least 1",
                    Some(at.labelled("max_items")),
                ));
            }
            Some(Each {
                list,
                name: Located {
                    value: name,
                    loc: name_loc,
                },
                concurrency: concurrency.clamp(1, MAX_CONCURRENCY) as usize,
                max_items: usize::try_from(max_items).unwrap_or(usize::MAX),
                shard: raw.shard,
            })
        });
        if each.is_none() {
            for (given, key) in [
                (raw.item_name.is_some(), "as"),
                (raw.concurrency.is_some(), "concurrency"),
                (raw.max_items.is_some(), "max_items"),
                (raw.shard, "shard"),
            ] {
                if given {
                    self.diagnostics.push(Diagnostic::new(
                        format!("`{key}` only applies to a step with `for_each`"),
                        Some(at.labelled(key)),
                    ));
                }
            }
        }
        each
    }

    /// `until:` with its `poll:` timing; `poll` alone is a mistake.
    fn until(
        &mut self,
        until: Option<serde_yaml::Value>,
        poll: Option<raw::Poll>,
        at: &StepAt,
    ) -> Option<Until> {
        let Some(c) = until else {
            if poll.is_some() {
                self.diagnostics.push(
                    Diagnostic::new(
                        "`poll` says how often to repeat the step, but there is no `until` saying when to stop",
                        Some(at.labelled("poll")),
                    )
                    .with_help(Some("add `until: \"{{ response.status == 'completed' }}\"`".into())),
                );
            }
            return None;
        };
        let poll_path = child(&at.path, "poll");
        let (every, timeout) = match &poll {
            Some(p) => (
                self.duration(&child(&poll_path, "every"), p.every.as_deref()),
                self.duration(&child(&poll_path, "timeout"), p.timeout.as_deref()),
            ),
            None => (None, None),
        };
        self.json(&child(&at.path, "until"), c).map(|value| Until {
            condition: Located {
                value,
                loc: at.labelled("until"),
            },
            every: every.unwrap_or(DEFAULT_POLL_EVERY),
            timeout: timeout.unwrap_or(DEFAULT_POLL_TIMEOUT),
        })
    }

    /// `paginate:`, which neither loops nor polls.
    fn step_paginate(
        &mut self,
        raw: Option<raw::Paginate>,
        each: &Option<Each>,
        until: &Option<Until>,
        at: &StepAt,
    ) -> Option<Paginate> {
        let paginate = raw.and_then(|p| self.paginate(&|sub| at.labelled(sub), p))?;
        if each.is_some() {
            self.diagnostics.push(
                Diagnostic::new(
                    "a step cannot both loop (`for_each`) and paginate",
                    Some(at.labelled("paginate")),
                )
                .with_help(Some(
                    "page inside a loop with `uses:`: a sub-workflow whose step paginates".into(),
                )),
            );
        }
        if until.is_some() {
            self.diagnostics.push(Diagnostic::new(
                "a step cannot both poll (`until`) and paginate",
                Some(at.labelled("paginate")),
            ));
        }
        Some(paginate)
    }

    /// `url_origin:` as an origin, `scheme://host[:port]`; it only means
    /// something on a step with a `url`.
    fn url_origin(&mut self, text: &str, has_url: bool, loc: Loc) -> Option<Located<url::Url>> {
        let help = || {
            Some("write the origin alone: `url_origin: https://uploads.example.com`".to_string())
        };
        if !has_url {
            self.diagnostics.push(
                Diagnostic::new(
                    "`url_origin` pins the origin of the step's `url`, and this step has no `url`",
                    Some(loc),
                )
                .with_help(Some(
                    "remove `url_origin`, or give the step a `url:`".into(),
                )),
            );
            return None;
        }
        let parsed = url::Url::parse(text).ok();
        let why = match &parsed {
            _ if is_template(text) => Some("it is a template, and an origin is written out"),
            None => Some("it is not an absolute URL"),
            Some(u) if !matches!(u.scheme(), "http" | "https") => {
                Some("its scheme is not http or https")
            }
            Some(u) if u.host_str().is_none_or(str::is_empty) => Some("it has no host"),
            Some(u) if !u.username().is_empty() || u.password().is_some() => {
                Some("it has a user name or password")
            }
            Some(u) if u.path() != "/" && !u.path().is_empty() => Some("it has a path"),
            Some(u) if u.query().is_some() => Some("it has a query"),
            Some(u) if u.fragment().is_some() => Some("it has a fragment"),
            Some(_) => None,
        };
        if let Some(why) = why {
            self.diagnostics.push(
                Diagnostic::new(
                    format!("`url_origin` must be an http or https origin, `scheme://host[:port]`, found `{text}`: {why}"),
                    Some(loc),
                )
                .with_help(help()),
            );
            return None;
        }
        Some(Located {
            value: parsed?,
            loc,
        })
    }

    fn paginate(&mut self, labelled: &dyn Fn(&str) -> Loc, raw: raw::Paginate) -> Option<Paginate> {
        let next = match raw.next {
            serde_yaml::Value::String(s) if s == "link" => Next::Link,
            serde_yaml::Value::Mapping(_) => {
                match serde_yaml::from_value::<raw::Cursor>(raw.next) {
                    Ok(c) => Next::Cursor(Box::new(Cursor {
                        param: Located {
                            value: c.param,
                            loc: labelled("paginate.next.param"),
                        },
                        value: Located {
                            value: c.value,
                            loc: labelled("paginate.next.value"),
                        },
                    })),
                    Err(e) => {
                        let (message, help) = super::diagnose::nested_message(&e);
                        self.diagnostics.push(
                            Diagnostic::new(
                                format!("`paginate.next`: {message}"),
                                Some(labelled("paginate.next")),
                            )
                            .with_help(help.or_else(|| {
                                Some("write `next: link`, or `next: {param: cursor, value: \"{{ response.next_cursor }}\"}`".into())
                            })),
                        );
                        return None;
                    }
                }
            }
            other => {
                let found = serde_yaml::to_string(&other).unwrap_or_default();
                self.diagnostics.push(
                    Diagnostic::new(
                        format!(
                            "`paginate.next` must be `link` or `{{param, value}}`, found `{}`",
                            found.trim()
                        ),
                        Some(labelled("paginate.next")),
                    )
                    .with_help(Some(
                        "`link` follows RFC 8288 `Link: <...>; rel=\"next\"`; `{param: cursor, value: \"{{ response.next_cursor }}\"}` sends a cursor".into(),
                    )),
                );
                return None;
            }
        };
        let max_pages = raw.max_pages.unwrap_or(DEFAULT_MAX_PAGES);
        if max_pages == 0 {
            self.diagnostics.push(Diagnostic::new(
                "`paginate.max_pages` must be at least 1",
                Some(labelled("paginate.max_pages")),
            ));
        }
        Some(Paginate {
            next,
            items: raw.items.map(|value| Located {
                value,
                loc: labelled("paginate.items"),
            }),
            max_pages: usize::try_from(max_pages).unwrap_or(usize::MAX).max(1),
            loc: labelled("paginate"),
        })
    }
}
