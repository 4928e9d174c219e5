//! Percent-encoding of values placed into URLs.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters is encoded, so a value
/// stays one path segment (a `/` becomes `%2F`).
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// RFC 6570 reserved expansion (`{+path}`): unreserved and reserved
/// characters stay as they are, so `/` separates segments.
const RESERVED: &AsciiSet = &COMPONENT
    .remove(b':')
    .remove(b'/')
    .remove(b'?')
    .remove(b'#')
    .remove(b'[')
    .remove(b']')
    .remove(b'@')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=');

pub(crate) fn encode_component(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// A value for a `{+name}` placeholder: `/` kept, but never `?` or `#`,
/// which would end the path.
pub(crate) fn encode_reserved_path(value: &str) -> String {
    const PATH: &AsciiSet = &RESERVED.add(b'?').add(b'#');
    utf8_percent_encode(value, PATH).to_string()
}
