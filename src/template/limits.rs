//! Bounds on what a template's value may hold when it is printed or
//! converted: both recurse, and `[0] * 100000000` is cheap to make but not
//! to print.

use minijinja::value::{Value as JValue, ValueKind};
use minijinja::{Error, ErrorKind};

/// How deeply a value may nest.
pub(super) const MAX_DEPTH: usize = 128;
/// How many items and string bytes a value may hold.
pub(super) const MAX_ITEMS: usize = 1_000_000;
pub(super) const MAX_BYTES: usize = 16 << 20;

/// Fails for values nested more than [`MAX_DEPTH`] deep or larger than
/// [`MAX_ITEMS`] / [`MAX_BYTES`], without recursing and without walking
/// more than the budget.
pub(super) fn check(value: &JValue) -> Result<(), Error> {
    let too_big = || {
        Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "value too large (more than {MAX_ITEMS} items or {} MiB)",
                MAX_BYTES >> 20
            ),
        )
    };
    let mut items = 0usize;
    let mut bytes = 0usize;
    let mut stack = vec![(value.clone(), 0usize)];
    while let Some((v, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("value nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        items += 1;
        if let Some(s) = v.as_str() {
            bytes += s.len();
        }
        if items > MAX_ITEMS || bytes > MAX_BYTES {
            return Err(too_big());
        }
        let kind = v.kind();
        if matches!(kind, ValueKind::Seq | ValueKind::Iterable | ValueKind::Map) {
            if v.len().is_some_and(|n| n > MAX_ITEMS - items) {
                return Err(too_big());
            }
            // Objects that cannot be listed (`env`) are leaves.
            for item in v.try_iter().into_iter().flatten() {
                let child = if kind == ValueKind::Map {
                    v.get_item(&item)?
                } else {
                    item
                };
                stack.push((child, depth + 1));
                if stack.len() > MAX_ITEMS {
                    return Err(too_big());
                }
            }
        }
    }
    Ok(())
}
