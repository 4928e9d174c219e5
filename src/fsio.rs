//! Files read whole into memory, always within a size cap, and I/O errors
//! in the program's words. Every read of a user-named file (a spec, a
//! schema, an env file, an inputs file, an API description) goes through
//! here, so a `/dev/zero` or a runaway pipe cannot fill memory and every
//! message about a file that cannot be read is worded the same way.
//!
//! Nothing here knows what the file is for: callers say which file it was
//! (`cannot read env file `.env`: …`) around a [`ReadError`].

use std::io::Read;
use std::path::Path;

/// Why a file could not be read; its `Display` is the reason alone (`not
/// found`, `larger than 1 MiB`), for the caller to name the file around it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadError {
    #[error("{}", io_words(.0))]
    Io(#[from] std::io::Error),
    #[error("is a directory")]
    Directory,
    /// A FIFO, a device, a socket: where only a regular file will do.
    #[error("not a regular file")]
    NotRegular,
    /// More than the cap (in bytes, a whole number of MiB).
    #[error("larger than {} MiB", .0 >> 20)]
    TooLarge(u64),
    /// Not UTF-8 from this line on.
    #[error("not valid UTF-8 (line {0})")]
    NotUtf8(usize),
}

/// An I/O error in words: lower case, without the OS error number, and
/// `not found` for a missing file.
pub(crate) fn io_words(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        return "not found".to_string();
    }
    let text = e.to_string().to_lowercase();
    match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// All of `reader`, refusing more than `max` bytes. Reads at most one byte
/// past the cap, so an endless reader costs nothing.
pub(crate) fn read_capped(reader: impl Read, max: u64) -> Result<Vec<u8>, ReadError> {
    let mut bytes = Vec::new();
    reader.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(ReadError::TooLarge(max));
    }
    Ok(bytes)
}

/// The file at `path`, at most `max` bytes. Anything that opens is read, a
/// pipe too (`--env-file <(op inject …)`).
pub(crate) fn read_file(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    read_capped(std::fs::File::open(path)?, max)
}

/// The regular file at `path` (not a directory, not `/dev/zero`, not a
/// FIFO that would block), at most `max` bytes: checked before it is
/// opened, and its length checked again as it is read.
pub(crate) fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(ReadError::Directory);
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular);
    }
    if meta.len() > max {
        return Err(ReadError::TooLarge(max));
    }
    read_file(path, max)
}

/// `bytes` as UTF-8 text, or the line where it stops being UTF-8.
pub(crate) fn text(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| {
        let before = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        ReadError::NotUtf8(before.iter().filter(|b| **b == b'\n').count() + 1)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_in_words() {
        let missing = read_file(Path::new("/nonexistent/x"), 10).unwrap_err();
        assert_eq!(missing.to_string(), "not found");
        assert_eq!(
            read_regular(Path::new("/"), 10).unwrap_err().to_string(),
            "is a directory"
        );
        assert_eq!(
            read_capped(std::io::repeat(0), 1 << 20)
                .unwrap_err()
                .to_string(),
            "larger than 1 MiB"
        );
        assert_eq!(
            text(b"a\nb\xff".to_vec()).unwrap_err().to_string(),
            "not valid UTF-8 (line 2)"
        );
    }

    #[test]
    fn the_os_error_number_is_not_shown() {
        let e = std::io::Error::from_raw_os_error(13);
        assert_eq!(io_words(&e), "permission denied");
    }
}
