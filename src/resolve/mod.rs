//! Secrets and settings from outside the spec: the process environment (and
//! `.env`), and outbound-app tokens from Descope, fetched lazily and at most
//! once per run.

pub mod descope;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

/// The environment templates see: `.env` (or `--env-file`) under the real
/// process environment, which wins.
pub fn environment(env_file: Option<&Path>) -> Result<Arc<BTreeMap<String, String>>> {
    let mut vars = BTreeMap::new();
    let file = match env_file {
        Some(path) => Some(path.to_path_buf()),
        None => Some(Path::new(".env").to_path_buf()).filter(|p| p.is_file()),
    };
    if let Some(path) = file {
        let iter = dotenvy::from_path_iter(&path).map_err(|e| {
            Error::Environment(format!(
                "cannot read env file `{}`: {}",
                path.display(),
                env_error(&e)
            ))
        })?;
        for item in iter {
            let (k, v) = item.map_err(|e| {
                Error::Environment(format!(
                    "invalid env file `{}`: {}",
                    path.display(),
                    env_error(&e)
                ))
            })?;
            vars.insert(k, v);
        }
    }
    vars.extend(
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
    );
    Ok(Arc::new(vars))
}

/// dotenvy's message without the line's content, which may hold a secret.
fn env_error(e: &dotenvy::Error) -> String {
    match e {
        dotenvy::Error::LineParse(_, index) => format!("cannot parse it at character {index}"),
        dotenvy::Error::Io(io) => io.to_string().to_lowercase(),
        _ => "cannot parse it".to_string(),
    }
}
