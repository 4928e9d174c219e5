//! The files a request uploads, looked at before anything is sent (in
//! plan, in the checks before a run, and before each step): inside the
//! project root when a spec named them, regular files that can be opened,
//! and no larger than `--max-upload-size`. Their contents are not read
//! here: [`super::upload`] streams them when the request is sent.

use crate::render::Request;
use crate::spec::Root;
use crate::units::show_size;

/// Checks every file `request` uploads and records its size.
pub(super) fn inspect(request: &mut Request, root: &Root, max: u64) -> Result<(), String> {
    let Some(body) = &mut request.body else {
        return Ok(());
    };
    for file in body.files_mut() {
        if file.deferred {
            continue;
        }
        let shown = crate::spec::display(&file.path);
        let what = format!("param `{}`", file.param);
        if file.confined
            && let Err(e) = root.check(&file.path, &shown)
        {
            return Err(format!(
                "{what}: {e} (a file path from a spec must stay inside the project root: the git work tree of the root spec or, outside git, its directory; pass `--allow-outside-root` to lift this, or give the path with `--var`)"
            ));
        }
        let meta = std::fs::metadata(&file.path)
            .map_err(|e| format!("{what}: cannot read file `{shown}`: {}", io_words(&e)))?;
        if !meta.is_file() {
            return Err(format!("{what}: `{shown}` is not a regular file"));
        }
        if meta.len() > max {
            return Err(format!(
                "{what}: file `{shown}` is {}, larger than the upload limit of {}; raise `--max-upload-size` if it is expected",
                show_size(meta.len()),
                show_size(max)
            ));
        }
        // Opened, not read: an unreadable file stops the run before it starts.
        std::fs::File::open(&file.path)
            .map_err(|e| format!("{what}: cannot read file `{shown}`: {}", io_words(&e)))?;
        file.size = Some(meta.len());
    }
    Ok(())
}

/// An I/O error in words, without the OS error number.
pub(super) fn io_words(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        return "not found".to_string();
    }
    let text = e.to_string().to_lowercase();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}
