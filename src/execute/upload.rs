//! A request's body as reqwest sends it, built anew for every try and
//! every redirect: bytes held in memory, or files opened and streamed from
//! disk, never read whole into memory.

use reqwest::RequestBuilder;
use reqwest::multipart::{Form, Part};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

use super::files::{FileError, FileProblem, file_id, open_options};
use crate::render::{Body, PartContent, Raw, Upload};

/// `builder` with `body` attached. `Err` when a file cannot be opened or
/// changed since it was checked: nothing was sent.
pub(super) async fn attach(
    builder: RequestBuilder,
    body: &Body,
) -> Result<RequestBuilder, FileError> {
    if let Some(bytes) = body.bytes() {
        return Ok(builder.body(bytes));
    }
    match body {
        Body::Multipart(parts) => {
            let mut form = Form::new();
            for part in parts {
                let built = match &part.content {
                    PartContent::Text(text) => Part::text(text.clone()),
                    PartContent::File(file) => {
                        let (stream, len) = open(file).await?;
                        Part::stream_with_length(stream, len)
                            .file_name(file.file_name.clone())
                            .mime_str(&file.content_type)
                            .map_err(|_| FileError {
                                param: file.param.clone(),
                                problem: FileProblem::ContentType(file.content_type.clone()),
                            })?
                    }
                };
                form = form.part(part.name.clone(), built);
            }
            Ok(builder.multipart(form))
        }
        Body::Raw {
            content: Raw::File(file),
            ..
        } => {
            let (stream, len) = open(file).await?;
            Ok(builder
                .header(reqwest::header::CONTENT_LENGTH, len)
                .body(stream))
        }
        // Held in memory: attached above.
        Body::Json(_) | Body::Form(_) | Body::Raw { .. } => Ok(builder),
    }
}

/// The file that was checked, as a stream of exactly the size that was
/// checked. Opened by its resolved path, never through a symbolic link,
/// and refused when it is not the very file the checks looked at.
async fn open(file: &Upload) -> Result<(reqwest::Body, u64), FileError> {
    let fail = |problem| FileError {
        param: file.param.clone(),
        problem,
    };
    let shown = crate::spec::display(&file.path);
    let Some(checked) = &file.checked else {
        return Err(fail(FileProblem::NeverChecked { shown }));
    };
    let handle = tokio::fs::OpenOptions::from(open_options())
        .open(&checked.path)
        .await
        .map_err(|e| fail(FileProblem::unreadable(&shown, &e)))?;
    let meta = handle
        .metadata()
        .await
        .map_err(|e| fail(FileProblem::unreadable(&shown, &e)))?;
    if file_id(&meta) != checked.id {
        return Err(fail(FileProblem::Replaced { shown }));
    }
    let len = meta.len();
    if len != checked.size {
        return Err(fail(FileProblem::Resized {
            shown,
            checked: checked.size,
            now: len,
        }));
    }
    let stream = ReaderStream::new(handle.take(len));
    Ok((reqwest::Body::wrap_stream(stream), len))
}
