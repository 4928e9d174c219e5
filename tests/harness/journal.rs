//! Reading what a run journalled.

use serde_json::Value;

/// Where `apply main.yaml` journals by default.
pub const JOURNAL: &str = ".runner/main.yaml.jsonl";

/// The journal's records; every line must be one JSON document.
pub fn records(text: &str) -> Vec<Value> {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "torn journal:\n{text}"
    );
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{text}")))
        .collect()
}
