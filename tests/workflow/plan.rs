//! `plan` on the new constructs: a loop over a list known before the run is
//! expanded item by item; one over a list known only later says so;
//! conditions, polling and pagination are shown as what they are.

use serde_json::json;

use super::{TOKEN, workspace};

const PLANNED: &str = r#"inputs:
  ids: {type: array, default: [a, b]}
  run: {type: boolean, default: true}
steps:
  - id: known
    for_each: "{{ inputs.ids }}"
    action: GET_ITEM
    params: {id: "{{ item }}-{{ index }}"}
  - id: list
    action: LIST_ITEMS
  - id: later
    for_each: "{{ steps.list.response }}"
    as: row
    action: UPDATE_ITEM
    params: {id: "{{ row.id }}"}
  - id: guarded
    if: "{{ steps.list.status == 200 }}"
    action: GET_ITEM
    params: {id: guarded}
  - id: off
    if: "{{ not inputs.run }}"
    action: GET_ITEM
    params: {id: "off"}
  - id: wait
    action: GET_JOB
    params: {id: "42"}
    until: "{{ response.status == 'completed' }}"
    poll: {every: 10ms, timeout: 5s}
  - id: pages
    action: LIST_ITEMS
    paginate: {next: link, max_pages: 7}
  - id: cursor
    action: LIST_ITEMS
    paginate:
      next: {param: cursor, value: "{{ response.next }}"}
      items: "{{ response.data }}"
  - id: sub
    uses: flows/one.yaml
    with: {name: "{{ steps.list.response[0].id }}", label: bug}
  - id: cleanup
    if: "{{ failure() }}"
    action: GET_ITEM
    params: {id: cleanup}
  - id: evens
    for_each: [1, 2]
    if: "{{ item % 2 == 0 }}"
    action: GET_ITEM
    params: {id: "even-{{ item }}"}
"#;

/// A sub-workflow creating an item tagged by its inputs.
const ONE: &str = include_str!("../fixtures/flows/create-tagged.yaml");

#[test]
fn plan_expands_known_loops_and_shows_conditions_polls_and_pages() {
    let ws = workspace("http://127.0.0.1:9", PLANNED).file("flows/one.yaml", ONE);
    let out = ws
        .runner(["plan", "main.yaml"])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(0);
    let has = |block: &str| {
        assert!(out.stdout.contains(block), "expected:\n{block}\n{out:?}");
    };
    // A list known before the run: one request per item.
    has(
        "steps[0] (known)[0]  GET_ITEM\n  (for each item of 2 items)\n  GET http://127.0.0.1:9/items/a-0\n",
    );
    has(
        "steps[0] (known)[1]  GET_ITEM\n  (for each item of 2 items)\n  GET http://127.0.0.1:9/items/b-1\n",
    );
    // One known only from a response: said so, the item left as a template.
    has(
        "steps[2] (later)  UPDATE_ITEM\n  (for each row of {{ steps.list.response }})\n  PUT http://127.0.0.1:9/items/{{ row.id }}\n",
    );
    has("  (known after earlier steps run: `id`)\n");
    has(
        "steps[3] (guarded)  GET_ITEM\n  (if `{{ steps.list.status == 200 }}`)\n  GET http://127.0.0.1:9/items/guarded\n",
    );
    has("steps[4] (off)  GET_ITEM\n  (skipped: if `{{ not inputs.run }}` is false)\n\n");
    has(
        "steps[5] (wait)  GET_JOB\n  (until `{{ response.status == 'completed' }}`, every 10 ms, for at most 5 s)\n  GET http://127.0.0.1:9/jobs/42\n",
    );
    has(
        "steps[6] (pages)  LIST_ITEMS\n  (pages: following `Link: <...>; rel=\"next\"`, at most 7)\n",
    );
    has(
        "steps[7] (cursor)  LIST_ITEMS\n  (pages: `cursor` set to {{ response.next }} from each page, at most 100)\n",
    );
    // A sub-workflow given an earlier response: its own steps, what waits
    // for the run left as templates, its defaults bound.
    has("steps[8] (sub).steps[0] (create)  CREATE_ITEM\n  POST http://127.0.0.1:9/items\n");
    has("  |   \"name\": \"{{ inputs.name }}\",\n  |   \"tag\": \"bug-plain\"\n");
    has("  (known after earlier steps run: `name`)\n");
    // Whether a step runs after a failure is known only during the run.
    has(
        "steps[9] (cleanup)  GET_ITEM\n  (if `{{ failure() }}`)\n  GET http://127.0.0.1:9/items/cleanup\n",
    );
    // A condition on the item, per item.
    has("steps[10] (evens)[0]  GET_ITEM\n  (skipped: if `{{ item % 2 == 0 }}` is false)\n\n");
    has(
        "steps[10] (evens)[1]  GET_ITEM\n  (for each item of 2 items)\n  GET http://127.0.0.1:9/items/even-2\n",
    );
    has("11 request(s) planned, none sent");
    assert!(!out.stdout.contains("/items/off"), "{out:?}");

    let out = ws
        .runner([
            "plan",
            "main.yaml",
            "--output",
            "json",
            "--input",
            "run=false",
        ])
        .env("API_TOKEN", TOKEN)
        .run()
        .code(0);
    let steps = out.json()["steps"].clone();
    let off = steps
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["label"] == "steps[4] (off)")
        .expect("off is planned")
        .clone();
    // Known to hold now: planned like any step.
    assert_eq!(off["notes"], json!([]));
    assert_eq!(off["url"], json!("http://127.0.0.1:9/items/off"));
}
