//! Reading a response body within a size cap, for steps and credential
//! sources alike: a hostile server cannot make the run hold more.

/// The body was larger than the cap.
#[derive(Debug)]
pub(crate) struct TooLarge {
    pub max: usize,
}

impl TooLarge {
    /// `16 MiB` or `1000 bytes`.
    pub(crate) fn size(&self) -> String {
        let max = self.max;
        if max >= 1 << 20 && max.is_multiple_of(1 << 20) {
            format!("{} MiB", max >> 20)
        } else {
            format!("{max} bytes")
        }
    }
}

/// The whole body, or `Err(Ok(TooLarge))` past `max` bytes, or
/// `Err(Err(e))` when the body broke off.
pub(crate) async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, Result<TooLarge, reqwest::Error>> {
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(Ok(TooLarge { max }));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(Err)? {
        if bytes.len() + chunk.len() > max {
            return Err(Ok(TooLarge { max }));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}
