//! What `validate` refuses in the new constructs, statically, with exit 2
//! and `file:line:col` pointing at the mistake. No server: nothing is sent.

use super::{line_of, spec};
use crate::harness::{Run, Workspace};

/// Never contacted: `validate` reads no network.
const NOWHERE: &str = "http://127.0.0.1:9";

/// A sub-workflow taking a required `name` and giving `id`.
const ONE: &str = include_str!("../fixtures/flows/create.yaml");

fn workspace() -> Workspace {
    Workspace::new()
        .file("flows/one.yaml", ONE)
        .file("schemas/ok.json", r#"{"type": "object"}"#)
        .file("schemas/broken.json", r#"{"type": "object""#)
        .file("schemas/invalid.json", r#"{"type": 12}"#)
}

/// `validate main.yaml` with `rest` after the catalog must fail (exit 2)
/// saying `message`, at the line of `main.yaml` holding `needle`.
fn refused(ws: &Workspace, rest: &str, needle: &str, message: &str) -> Run {
    let text = spec(NOWHERE, rest);
    ws.write("main.yaml", &text);
    let out = ws
        .runner(["validate", "main.yaml"])
        .run()
        .code_for(2, format_args!("{message}"));
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.contains(message),
        "expected `{message}`:\n{out:?}"
    );
    let line = line_of(&text, needle);
    assert!(
        out.stderr.contains(&format!("main.yaml:{line}:")),
        "expected main.yaml:{line} (`{needle}`) for `{message}`:\n{out:?}"
    );
    out
}

/// `validate main.yaml` with `rest` after the catalog passes.
fn accepted(ws: &Workspace, rest: &str) {
    ws.write("main.yaml", &spec(NOWHERE, rest));
    ws.runner(["validate", "main.yaml"])
        .run()
        .code_for(0, format_args!("{rest}"));
}

/// A step getting item `1`, with `extra` lines (indented as step keys).
fn get(extra: &str) -> String {
    format!("steps:\n  - id: get\n    action: GET_ITEM\n    params: {{id: \"1\"}}\n{extra}")
}

#[test]
fn unknown_keys_and_values_out_of_range() {
    let ws = workspace();
    refused(
        &ws,
        &get("    for_eachh: [a]\n"),
        "for_eachh",
        "unknown key `for_eachh`",
    )
    .stderr_has("did you mean `for_each`?");
    refused(
        &ws,
        &get("    until: \"{{ response.done }}\"\n    poll: {every: 1s, evry: 2s}\n"),
        "poll:",
        "unknown key `evry`",
    );
    refused(
        &ws,
        "steps:\n  - id: all\n    action: LIST_ITEMS\n    paginate: {next: link, max_page: 3}\n",
        "paginate:",
        "unknown key `max_page`",
    );
    refused(
        &ws,
        &get("    expect:\n      body: [{path: \"$.a\", exist: true}]\n"),
        "exist: true",
        "unknown key `exist`",
    );
    for n in ["0", "65"] {
        refused(
            &ws,
            &format!(
                "steps:\n  - id: each\n    for_each: [a]\n    concurrency: {n}\n    action: GET_ITEM\n    params: {{id: \"{{{{ item }}}}\"}}\n"
            ),
            "concurrency:",
            &format!("`concurrency` must be between 1 and 64, found {n}"),
        );
    }
    refused(
        &ws,
        &get("    until: \"{{ response.done }}\"\n    poll: {every: soon}\n"),
        "every: soon",
        "expected a duration like `500ms`, `10s` or `2m`, found `soon`",
    );
    refused(
        &ws,
        &get("    until: \"{{ response.done }}\"\n    poll: {timeout: 10 minutes}\n"),
        "timeout: 10 minutes",
        "expected a duration like `500ms`, `10s` or `2m`, found `10 minutes`",
    );
    refused(
        &ws,
        "steps:\n  - id: all\n    action: LIST_ITEMS\n    paginate: {next: link, max_pages: 0}\n",
        "max_pages: 0",
        "`paginate.max_pages` must be at least 1",
    );
    refused(
        &ws,
        "steps:\n  - id: each\n    for_each: [a]\n    max_items: 0\n    action: GET_ITEM\n    params: {id: \"{{ item }}\"}\n",
        "max_items: 0",
        "`max_items` must be at least 1",
    );
}

#[test]
fn item_and_index_only_inside_their_loop_and_as_hides_nothing() {
    let ws = workspace();
    refused(
        &ws,
        "steps:\n  - id: get\n    action: GET_ITEM\n    params: {id: \"{{ item }}\"}\n",
        "{{ item }}",
        "`item` is only defined inside a step with `for_each`",
    );
    refused(
        &ws,
        "steps:\n  - id: get\n    action: GET_ITEM\n    params: {id: \"{{ index }}\"}\n",
        "{{ index }}",
        "`index` is only defined inside a step with `for_each`",
    );
    // Not in the step after the loop either, nor in the workflow's outputs.
    let after = "steps:\n  - id: each\n    for_each: [a]\n    as: repo\n    action: GET_ITEM\n    params: {id: \"{{ repo }}\"}\n  - id: next\n    action: GET_ITEM\n    params: {id: \"{{ repo }}-x\"}\n";
    refused(&ws, after, "{{ repo }}-x", "unknown variable `repo`");
    refused(
        &ws,
        "steps:\n  - id: each\n    for_each: [a]\n    action: GET_ITEM\n    params: {id: \"{{ item }}\"}\noutputs:\n  last: \"{{ index }}\"\n",
        "last:",
        "`index` is only defined inside a step with `for_each`",
    );
    for name in ["env", "vars", "inputs", "steps", "shard"] {
        refused(
            &ws,
            &format!(
                "steps:\n  - id: each\n    for_each: [a]\n    as: {name}\n    action: GET_ITEM\n    params: {{id: \"1\"}}\n"
            ),
            &format!("as: {name}"),
            &format!("`as: {name}` would hide `{name}`; choose another name for the item"),
        );
    }
    accepted(
        &ws,
        "steps:\n  - id: each\n    for_each: [a]\n    as: repo\n    action: GET_ITEM\n    params: {id: \"{{ repo }}-{{ index }}\"}\n",
    );
}

#[test]
fn conditions_must_be_booleans_and_status_functions_belong_in_if() {
    let ws = workspace();
    refused(
        &ws,
        &get("    if: \"yes\"\n"),
        "if: \"yes\"",
        "`if` must be a boolean or a template that renders one, found a string `\"yes\"`",
    );
    refused(
        &ws,
        &get("    until: 1\n"),
        "until: 1",
        "`until` must be a boolean or a template that renders one, found an integer `1`",
    );
    refused(
        &ws,
        &get("    expect:\n      that: [\"ok\"]\n"),
        "that:",
        "`expect.that` must be a boolean or a template that renders one, found a string `\"ok\"`",
    );
    for function in ["failure", "always", "success"] {
        refused(
            &ws,
            &format!(
                "steps:\n  - id: get\n    action: GET_ITEM\n    params: {{id: \"{{{{ {function}() }}}}\"}}\n"
            ),
            &format!("{function}()"),
            &format!("`{function}()` can only be used in a step's `if`"),
        );
    }
    refused(
        &ws,
        &get("    until: \"{{ failure() }}\"\n"),
        "until:",
        "`failure()` can only be used in a step's `if`",
    );
    refused(
        &ws,
        &get("    outputs:\n      ok: \"{{ always() }}\"\n"),
        "ok:",
        "`always()` can only be used in a step's `if`",
    );
    refused(
        &ws,
        &get("outputs:\n  fine: \"{{ success() }}\"\n"),
        "fine:",
        "`success()` can only be used in a step's `if`",
    );
    accepted(
        &ws,
        &get("    if: \"{{ failure() or always() or success() }}\"\n"),
    );
}

#[test]
fn references_to_items_outputs_and_pages_must_exist() {
    let ws = workspace();
    let list = "steps:\n  - id: list\n    action: LIST_ITEMS\n    outputs:\n      number: \"{{ response.number }}\"\n";
    refused(
        &ws,
        &format!(
            "{list}  - id: use\n    action: GET_ITEM\n    params: {{id: \"{{{{ steps.list.items | length }}}}\"}}\n"
        ),
        "steps.list.items",
        "`steps.list.items` is only set for a step with `for_each` or `paginate`",
    );
    refused(
        &ws,
        &format!(
            "{list}  - id: use\n    action: GET_ITEM\n    params: {{id: \"{{{{ steps.list.pages }}}}\"}}\n"
        ),
        "steps.list.pages",
        "`steps.list.pages` is only set for a step with `paginate`",
    );
    refused(
        &ws,
        &format!(
            "{list}  - id: use\n    action: GET_ITEM\n    params: {{id: \"{{{{ steps.list.outputs.nmber }}}}\"}}\n"
        ),
        "steps.list.outputs.nmber",
        "step `list` has no output `nmber`",
    );
    refused(
        &ws,
        "steps:\n  - id: list\n    action: LIST_ITEMS\n  - id: use\n    action: GET_ITEM\n    params: {id: \"{{ steps.list.outputs.x }}\"}\n",
        "steps.list.outputs.x",
        "step `list` declares no `outputs`",
    );
    refused(
        &ws,
        "steps:\n  - id: sub\n    uses: flows/one.yaml\n    with: {name: a}\noutputs:\n  x: \"{{ steps.sub.outputs.number }}\"\n",
        "x:",
        "step `sub` has no output `number`",
    );
    accepted(
        &ws,
        &format!(
            "{list}  - id: use\n    action: GET_ITEM\n    params: {{id: \"{{{{ steps.list.outputs.number }}}}\"}}\n"
        ),
    );
    // A loop's results are its items'.
    let each = "steps:\n  - id: each\n    for_each: [a]\n    action: GET_ITEM\n    params: {id: \"{{ item }}\"}\n    outputs:\n      url: \"{{ response.url }}\"\n";
    for field in ["outputs.url", "status", "response", "headers"] {
        let head = field.split('.').next().unwrap_or(field);
        refused(
            &ws,
            &format!("{each}outputs:\n  x: \"{{{{ steps.each.{field} }}}}\"\n"),
            "  x:",
            &format!(
                "`steps.each.{head}` is not set for a step with `for_each`: each item has its own, in `steps.each.items[i].{head}`"
            ),
        );
    }
    accepted(
        &ws,
        &format!("{each}outputs:\n  x: \"{{{{ steps.each.items[0].outputs.url }}}}\"\n"),
    );
}

#[test]
fn sub_workflows_must_exist_inside_the_root_take_their_inputs_and_not_recurse() {
    let ws = workspace();
    refused(
        &ws,
        "steps:\n  - id: sub\n    uses: flows/none.yaml\n",
        "uses:",
        "`flows/none.yaml`: not found",
    );
    refused(
        &ws,
        "steps:\n  - id: sub\n    uses: flows/one.yaml\n    with: {nam: a}\n",
        "with:",
        "unknown input `nam` for `flows/one.yaml`",
    );
    refused(
        &ws,
        "steps:\n  - id: sub\n    uses: flows/one.yaml\n",
        "- id: sub",
        "missing required input `name` for `flows/one.yaml`",
    );
    refused(
        &ws,
        "steps:\n  - id: sub\n    uses: flows/one.yaml\n    with: {name: [1]}\n",
        "with:",
        "input `name`: expected a string, found an array `[1]`",
    );
    refused(
        &ws,
        "steps:\n  - id: sub\n    uses: main.yaml\n",
        "uses: main.yaml",
        "sub-workflows use each other in a cycle: `main.yaml` -> `main.yaml`",
    );
    ws.write(
        "flows/a.yaml",
        "version: 1\nsteps:\n  - id: b\n    uses: b.yaml\n",
    );
    ws.write(
        "flows/b.yaml",
        "version: 1\nsteps:\n  - id: a\n    uses: a.yaml\n",
    );
    let text = spec(NOWHERE, "steps:\n  - id: a\n    uses: flows/a.yaml\n");
    ws.write("main.yaml", &text);
    let out = ws.runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has("sub-workflows use each other in a cycle: `flows/a.yaml` -> `flows/b.yaml` -> `flows/a.yaml`")
        .stderr_has("flows/b.yaml:4:");
    assert_eq!(out.stderr.matches("in a cycle").count(), 1, "{out:?}");

    // Outside the project root (the spec's directory, outside git).
    let ws = Workspace::new().file("other.yaml", ONE).file(
        "proj/main.yaml",
        &spec(
            NOWHERE,
            "steps:\n  - id: sub\n    uses: ../other.yaml\n    with: {name: a}\n",
        ),
    );
    let out = ws
        .runner(["validate", "proj/main.yaml"])
        .run()
        .code(2)
        .stderr_has("`proj/../other.yaml` is outside the project root");
    let line = line_of(&ws.read("proj/main.yaml"), "uses:");
    assert!(
        out.stderr.contains(&format!("proj/main.yaml:{line}:")),
        "{out:?}"
    );
    ws.runner(["validate", "proj/main.yaml", "--allow-outside-root"])
        .run()
        .code(0);
}

#[test]
fn jsonpaths_regular_expressions_and_schemas_must_compile() {
    let ws = workspace();
    refused(
        &ws,
        &get("    expect:\n      body:\n        - {path: \"$.[\", exists: true}\n"),
        "$.[",
        "`$.[` is not a valid JSONPath",
    );
    refused(
        &ws,
        &get("    expect:\n      body:\n        - {path: items, exists: true}\n"),
        "path: items",
        "`items` is not a valid JSONPath",
    );
    refused(
        &ws,
        &get("    expect:\n      body:\n        - {path: \"$.a\", matches: \"(open\"}\n"),
        "(open",
        "`(open` is not a valid regular expression",
    );
    refused(
        &ws,
        &get("    expect:\n      headers:\n        Content-Type: {matches: \"[json\"}\n"),
        "Content-Type",
        "`[json` is not a valid regular expression",
    );
    refused(
        &ws,
        &get("    expect:\n      schema: schemas/none.json\n"),
        "schema:",
        "cannot read the schema `schemas/none.json`: not found",
    );
    refused(
        &ws,
        &get("    expect:\n      schema: schemas/broken.json\n"),
        "schema:",
        "the schema `schemas/broken.json` is not valid JSON",
    );
    refused(
        &ws,
        &get("    expect:\n      schema: schemas/invalid.json\n"),
        "schema:",
        "`schemas/invalid.json` is not a valid JSON Schema",
    );
    refused(
        &ws,
        &get("    expect:\n      schema: ../outside.json\n"),
        "schema:",
        "`../outside.json` is outside the project root",
    );
    accepted(
        &ws,
        &get(
            "    expect:\n      schema: schemas/ok.json\n      body:\n        - {path: \"$..name\", matches: \"^a\"}\n",
        ),
    );
}

#[test]
fn loops_pages_and_polls_that_cannot_work() {
    let ws = workspace();
    refused(
        &ws,
        "steps:\n  - id: each\n    for_each: 3\n    action: GET_ITEM\n    params: {id: \"1\"}\n",
        "for_each: 3",
        "`for_each` must be a list or a template that renders one, found an integer `3`",
    );
    refused(
        &ws,
        &get("    shard: true\n"),
        "shard: true",
        "`shard` only applies to a step with `for_each`",
    );
    ws.write(
        "flows/sharded.yaml",
        "version: 1\nsteps:\n  - id: each\n    for_each: [a]\n    shard: true\n    action: GET_ITEM\n    params: {id: \"{{ item }}\"}\n",
    );
    let text = spec(
        NOWHERE,
        "steps:\n  - id: sub\n    uses: flows/sharded.yaml\n",
    );
    ws.write("main.yaml", &text);
    ws.runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has("`shard: true` only applies to a loop of the root spec")
        .stderr_has("flows/sharded.yaml:3:");
    refused(
        &ws,
        "steps:\n  - id: all\n    for_each: [a]\n    action: LIST_ITEMS\n    paginate: {next: link}\n",
        "paginate:",
        "a step cannot both loop (`for_each`) and paginate",
    );
    let poll_post =
        "steps:\n  - id: start\n    action: START_JOB\n    until: \"{{ response.done }}\"\n";
    refused(
        &ws,
        poll_post,
        "until:",
        "`until` repeats the request, and `START_JOB` is a POST: repeating it could repeat its effect",
    );
    accepted(&ws, &format!("{poll_post}    retry: {{unsafe: true}}\n"));
}

#[test]
fn an_app_or_action_default_is_checked_once_whether_or_not_a_step_uses_it() {
    let catalog = r#"version: 1
apps:
  used:
    base_url: http://127.0.0.1:9
    expect:
      body: [{path: "$.[", exists: true}]
    actions:
      USED_GET: {method: GET, path: /a}
  unused:
    base_url: http://127.0.0.1:9
    actions:
      UNUSED_GET:
        method: GET
        path: /b
        expect:
          headers: {Content-Type: {matches: "(json"}}
"#;
    let ws = Workspace::main(&format!(
        "{catalog}steps:\n  - id: a\n    action: USED_GET\n  - id: b\n    action: USED_GET\n"
    ));
    let out = ws
        .runner(["validate", "main.yaml"])
        .run()
        .code(2)
        .stderr_has("main.yaml:6:")
        .stderr_has("`(json` is not a valid regular expression")
        .stderr_has("main.yaml:16:");
    // Two steps meet the app's default: it is said once.
    assert_eq!(
        out.stderr.matches("`$.[` is not a valid JSONPath").count(),
        1,
        "{out:?}"
    );
    // No step uses the action, and its default is still checked.
}
