//! `Secret` keeps a credential out of `Debug`, `Display` and panic messages.

use std::fmt;

/// A credential. Formatting it prints `***`; only [`Secret::expose`] reveals it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("hunter22");
        assert_eq!(format!("{s} {s:?} {:?}", vec![s.clone()]), "*** *** [***]");
        assert_eq!(s.expose(), "hunter22");
    }
}
