#!/usr/bin/env python3
"""Extracts tests/fixtures/openapi/github-subset.json from GitHub's OpenAPI
description: about 300 operations spread over every tag, with every
component they reference (transitively), for the importer's tests.

    scripts/github-subset.py API.GITHUB.COM.JSON [OUTPUT]

The input is `package/generated/api.github.com.json` of @octokit/openapi
(scripts/github-catalog.sh fetches it). The selection is deterministic:

1. the operations the tests name (repos/get-content, issues/create, ...);
2. every operation with an array query parameter;
3. every operation whose request body is not JSON;
4. per tag (tags sorted), its first operation with a JSON request body;
5. then one operation per tag in turn (each tag's in document order) until
   there are TARGET operations.

Operations keep everything but their responses, which are replaced by a
stub: the importer does not read responses, and GitHub's response schemas
are most of the description's size. Paths, operations and components stay
in the order of the input. Python 3 standard library only.
"""

import json
import sys

TARGET = 300
MAX_BYTES = 3 * 1024 * 1024
METHODS = ("get", "head", "post", "put", "patch", "delete", "options", "trace")
MUST = [
    "repos/get-content",
    "repos/create-or-update-file-contents",
    "repos/upload-release-asset",
    "repos/compare-commits",
    "issues/create",
    "issues/update",
    "issues/list-for-repo",
    "issues/add-labels",
    "issues/create-comment",
    "pulls/create",
    "git/get-ref",
    "checks/create",
    "markdown/render",
    "markdown/render-raw",
    "actions/update-org-variable",
    "copilot/set-copilot-content-exclusion-for-organization",
    "reactions/create-for-issue",
]
RESPONSES = {"default": {"description": "Left out of this subset; see the full description."}}


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(doc, value):
    seen = 0
    while isinstance(value, dict) and "$ref" in value and seen < 32:
        _, _, section, name = value["$ref"].split("/", 3)
        value = doc["components"][section][name]
        seen += 1
    return value


def has_query_array(doc, op):
    for param in op.get("parameters", []):
        param = resolve(doc, param)
        schema = resolve(doc, param.get("schema", {}))
        if param.get("in") == "query" and schema.get("type") == "array":
            return True
    return False


def body_types(doc, op):
    body = resolve(doc, op.get("requestBody", {}))
    return list(body.get("content", {}).keys())


def select(doc):
    ops = list(operations(doc))
    chosen = []
    keys = set()

    def add(path, method):
        if (path, method) not in keys:
            keys.add((path, method))
            chosen.append((path, method))

    by_id = {op.get("operationId"): (path, method) for path, method, op in ops}
    for operation_id in MUST:
        if operation_id not in by_id:
            sys.exit(f"github-subset: no operation {operation_id} in the input")
        add(*by_id[operation_id])
    for path, method, op in ops:
        if has_query_array(doc, op):
            add(path, method)
    for path, method, op in ops:
        types = body_types(doc, op)
        if types and "application/json" not in types:
            add(path, method)
    by_tag = {}
    for path, method, op in ops:
        tag = (op.get("tags") or ["(none)"])[0]
        by_tag.setdefault(tag, []).append((path, method, op))
    for tag in sorted(by_tag):
        for path, method, op in by_tag[tag]:
            if "application/json" in body_types(doc, op):
                add(path, method)
                break
    queues = {tag: [(p, m) for p, m, _ in by_tag[tag]] for tag in sorted(by_tag)}
    while len(chosen) < TARGET and any(queues.values()):
        for tag in sorted(queues):
            while queues[tag]:
                path, method = queues[tag].pop(0)
                if (path, method) not in keys:
                    add(path, method)
                    break
            if len(chosen) >= TARGET:
                break
    return keys


def references(value, out):
    if isinstance(value, dict):
        ref = value.get("$ref")
        if isinstance(ref, str):
            out.append(ref)
        for item in value.values():
            references(item, out)
    elif isinstance(value, list):
        for item in value:
            references(item, out)


def subset(doc):
    keys = select(doc)
    paths = {}
    for path, item in doc["paths"].items():
        methods = {m: item[m] for m in METHODS if (path, m) in keys}
        if not methods:
            continue
        kept = {k: v for k, v in item.items() if k not in METHODS}
        for method, op in methods.items():
            op = dict(op)
            op["responses"] = RESPONSES
            kept[method] = op
        paths[path] = kept

    needed = set()
    pending = []
    references(paths, pending)
    while pending:
        ref = pending.pop()
        if ref in needed:
            continue
        needed.add(ref)
        _, _, section, name = ref.split("/", 3)
        references(doc["components"][section][name], pending)
    components = {}
    for section, entries in doc["components"].items():
        kept = {n: v for n, v in entries.items() if f"#/components/{section}/{n}" in needed}
        if kept:
            components[section] = kept

    used_tags = {t for item in paths.values() for m in METHODS if m in item for t in item[m].get("tags", [])}
    out = {}
    for key, value in doc.items():
        if key == "paths":
            out[key] = paths
        elif key == "components":
            out[key] = components
        elif key == "tags":
            out[key] = [t for t in value if t["name"] in used_tags]
        else:
            out[key] = value
    out["info"] = dict(doc["info"])
    out["info"]["description"] = (
        f"A subset of {doc['info']['title']} {doc['info']['version']}: "
        f"{len(keys)} operations and the components they use, responses left out "
        "(scripts/github-subset.py)."
    )
    return out, len(keys)


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    output = sys.argv[2] if len(sys.argv) == 3 else "tests/fixtures/openapi/github-subset.json"
    with open(sys.argv[1], encoding="utf-8") as f:
        doc = json.load(f)
    out, count = subset(doc)
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        sys.exit(f"github-subset: {size} bytes, more than {MAX_BYTES}")
    with open(output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"{output}: {count} operations, {size} bytes")


if __name__ == "__main__":
    main()
