//! Reading spec files into the located [`Spec`] model: YAML and includes
//! into raw structs ([`read`], [`diagnose`]), then into the model
//! ([`lower`]). Every node knows where it was written; cross-references are
//! checked by `check`.

pub(crate) mod coerce;
mod depth;
mod diagnose;
mod lower;
pub(crate) mod model;
mod raw;
mod read;
pub(crate) mod schema;
pub(crate) mod shape;

use std::path::Path;

use crate::error::Result;
pub use model::*;
pub(crate) use read::{Root, display, resolve};
pub(crate) use shape::{Bounds, Field, Pattern, Shape};

/// How to load: what the command line says about reading files.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// `--allow-outside-root`: includes may name files outside the project root.
    pub allow_outside_root: bool,
}

/// Loads the spec at `path` and every file it includes.
pub(crate) fn load(path: &Path, options: LoadOptions) -> Result<Spec> {
    let mut reader = read::Reader::new(Root::of(path, options.allow_outside_root));
    let file = display(path);
    reader.file(path, &file, None, None);
    reader.finish(file)
}

/// Loads a spec from text (includes are still read from disk, relative to
/// the current directory). For tools and fuzzing.
pub(crate) fn load_str(name: &str, source: &str, options: LoadOptions) -> Result<Spec> {
    let mut reader = read::Reader::new(Root::of(Path::new(name), options.allow_outside_root));
    reader.source(Path::new(name), name, source.to_string(), None, None);
    reader.finish(name.to_string())
}
