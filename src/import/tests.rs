//! The importer against the descriptions in `tests/fixtures/openapi/`: each
//! catalog is read back with `serde_yaml` and its actions and params
//! checked; snapshots of the whole text for review; determinism; errors.

use super::{ImportError, Options, openapi};
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/openapi")
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).expect("read fixture")
}

fn options(app: &str) -> Options {
    Options {
        app: app.into(),
        ..Options::default()
    }
}

/// The catalog text for a fixture.
fn import(name: &str, options: &Options) -> String {
    openapi(&fixture(name), options).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The catalog text read back, after the format checks every catalog must pass.
fn read(text: &str) -> Value {
    let catalog: Value = serde_yaml::from_str(text).expect("the catalog is YAML");
    check_format(&catalog);
    catalog
}

/// `apps.<app>.actions`.
fn actions<'c>(catalog: &'c Value, app: &str) -> &'c Map<String, Value> {
    catalog["apps"][app]["actions"]
        .as_object()
        .expect("actions mapping")
}

fn action<'c>(catalog: &'c Value, app: &str, name: &str) -> &'c Value {
    actions(catalog, app)
        .get(name)
        .unwrap_or_else(|| panic!("no action {name}"))
}

/// The params of an action as `key -> {…}`.
fn params(action: &Value) -> &Map<String, Value> {
    action["params"].as_object().expect("params mapping")
}

/// What every catalog must look like, whatever the input.
fn check_format(catalog: &Value) {
    assert_eq!(catalog["version"], json!(1));
    let apps = catalog["apps"].as_object().expect("apps");
    assert_eq!(apps.len(), 1);
    for app in apps.values() {
        let app = app.as_object().expect("app mapping");
        for key in app.keys() {
            assert!(
                ["description", "base_url", "headers", "actions", "schemas"]
                    .contains(&key.as_str()),
                "app key {key}"
            );
        }
        let base_url = app["base_url"].as_str().expect("base_url");
        assert!(base_url.starts_with("https://") || base_url.starts_with("http://"));
        let Some(actions) = app["actions"].as_object() else {
            continue;
        };
        for (name, action) in actions {
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
                "action name {name}"
            );
            check_action(name, action);
        }
    }
}

fn check_action(name: &str, action: &Value) {
    let action = action.as_object().expect("action mapping");
    for key in action.keys() {
        assert!(
            [
                "description",
                "aliases",
                "keywords",
                "docs",
                "method",
                "path",
                "body_format",
                "content_type",
                "base_url",
                "params",
                "response"
            ]
            .contains(&key.as_str()),
            "{name}: action key {key}"
        );
    }
    let method = action["method"].as_str().expect("method");
    assert!(
        ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(&method),
        "{name}: method {method}"
    );
    if let Some(format) = action.get("body_format") {
        assert!(
            ["form", "multipart", "raw"].contains(&format.as_str().unwrap()),
            "{name}: body_format {format}"
        );
        assert_eq!(
            action.contains_key("content_type"),
            format == "raw",
            "{name}"
        );
    }
    if let Some(description) = action.get("description") {
        check_description(name, description);
    }
    let path = action["path"].as_str().expect("path");
    let holes = holes(path);
    let empty = Map::new();
    let params = action
        .get("params")
        .map_or(&empty, |p| p.as_object().expect("params mapping"));
    let mut path_params = Vec::new();
    let mut order = Vec::new();
    for (key, param) in params {
        let what = format!("{name}.{key}");
        assert!(super::names::is_plain_key(key), "{what}: key");
        let param = param.as_object().expect("param mapping");
        for field in param.keys() {
            assert!(
                [
                    "type",
                    "required",
                    "server_default",
                    "description",
                    "enum",
                    "in",
                    "name",
                    "whole_body",
                    "array_style",
                    "server_default",
                    "minimum",
                    "maximum",
                    "min_length",
                    "max_length",
                    "pattern",
                    "min_items",
                    "max_items",
                    "fields",
                    "items",
                ]
                .contains(&field.as_str()),
                "{what}: field {field}"
            );
        }
        let ty = param["type"].as_str().expect("type");
        assert!(
            [
                "string", "integer", "number", "boolean", "array", "object", "any", "file"
            ]
            .contains(&ty),
            "{what}: type {ty}"
        );
        let place = param["in"].as_str().expect("in");
        let rank = ["path", "query", "header", "body"]
            .iter()
            .position(|p| *p == place)
            .unwrap_or_else(|| panic!("{what}: in {place}"));
        order.push(rank);
        if place == "path" {
            assert_eq!(param.get("required"), Some(&json!(true)), "{what}");
            path_params.push(key.as_str());
        }
        if let Some(name) = param.get("name") {
            assert_ne!(
                name.as_str(),
                Some(key.as_str()),
                "{what}: name equal to key"
            );
        }
        if let Some(values) = param.get("enum") {
            assert!(!values.as_array().expect("enum list").is_empty(), "{what}");
        }
        if let Some(default) = param.get("server_default") {
            assert!(
                !default.to_string().contains("{{"),
                "{what}: template default"
            );
        }
        if let Some(description) = param.get("description") {
            check_description(&what, description);
        }
        if ty == "file" {
            assert_eq!(place, "body", "{what}");
        }
    }
    assert!(
        order.is_sorted(),
        "{name}: params not in path, query, header, body order"
    );
    assert_eq!(
        holes, path_params,
        "{name}: placeholders and path params differ"
    );
}

fn check_description(what: &str, description: &Value) {
    let text = description.as_str().expect("description is a string");
    assert!(!text.contains('\n'), "{what}: multi-line description");
    assert!(
        text.chars().count() <= super::text::MAX_CHARS,
        "{what}: long description"
    );
}

/// The placeholder names of a catalog path, `{+x}` as `x`.
fn holes(path: &str) -> Vec<&str> {
    path.split('{')
        .skip(1)
        .filter_map(|part| part.split_once('}').map(|(name, _)| name))
        .map(|name| name.trim_start_matches('+'))
        .collect()
}

const SMALL: &[&str] = &[
    "bodies.yaml",
    "names.yaml",
    "openapi-3.1.yaml",
    "refs.json",
    "security.yaml",
];

#[test]
fn snapshots() {
    insta::glob!(
        "../../tests/fixtures/openapi",
        "{*.yaml,refs.json}",
        |path| {
            let text = std::fs::read_to_string(path).expect("read fixture");
            let catalog = openapi(&text, &options("demo")).expect("import");
            read(&catalog);
            insta::assert_snapshot!(catalog);
        }
    );
}

#[test]
fn the_same_input_gives_the_same_bytes() {
    for name in SMALL.iter().chain(&["github-subset.json"]) {
        let first = import(name, &options("demo"));
        let second = import(name, &options("demo"));
        assert!(first == second, "{name}: two imports differ");
    }
}

#[test]
fn references_chains_cycles_and_combinations() {
    let catalog = read(&import("refs.json", &options("demo")));
    let list = params(action(&catalog, "demo", "DEMO_LIST_PETS"));
    // A parameter reached through two references, its schema through three.
    assert_eq!(
        list["limit"],
        json!({"type": "integer", "in": "query", "description": "How many."})
    );
    assert_eq!(
        list["color"],
        json!({"type": "string", "in": "query", "enum": ["red", "green", "blue"], "server_default": "green", "description": "A color."})
    );
    assert_eq!(list["loop"]["type"], "any", "a reference cycle");
    assert_eq!(list["size"]["type"], "number", "anyOf integer, number");
    assert_eq!(list["key"]["type"], "string", "oneOf string, integer");
    assert_eq!(list["mixed"]["type"], "any", "anyOf string, array");
    assert_eq!(list["nick"]["type"], "string", "nullable string");
    assert_eq!(list["self"]["type"], "object", "allOf through itself");
    assert_eq!(
        list["deep"]["type"], "string",
        "a reference into a property"
    );
    assert_eq!(
        list["status"]["enum"],
        json!(["a", "b", "c"]),
        "enums of the branches"
    );
    assert_eq!(list["ids"]["type"], "array");
    assert_eq!(
        list["filter"]["type"], "string",
        "a JSON-encoded `content` parameter"
    );

    // allOf: properties and required names united; readOnly ones left out.
    let create = params(action(&catalog, "demo", "DEMO_CREATE_PET"));
    assert_eq!(
        create.keys().collect::<Vec<_>>(),
        ["name", "tag", "age", "color"]
    );
    assert_eq!(create["name"]["required"], true);
    assert_eq!(create["age"]["required"], true);
    assert_eq!(create["tag"].get("required"), None);

    // oneOf objects: a property is required when every object branch requires it.
    let update = params(action(&catalog, "demo", "DEMO_UPDATE_PET"));
    assert_eq!(update["pet_id"]["name"], "petId");
    assert_eq!(update["name"]["required"], true);
    assert_eq!(update["age"].get("required"), None);
    assert_eq!(
        action(&catalog, "demo", "DEMO_UPDATE_PET")["path"],
        "/pets/{pet_id}"
    );

    // A parameter referenced by a JSON pointer into another path.
    let toys = params(action(&catalog, "demo", "DEMO_LIST_TOYS"));
    assert_eq!(toys["pet_id"]["type"], "integer");

    // A request body through a reference chain; a self-referencing schema.
    let node = params(action(&catalog, "demo", "DEMO_CREATE_NODE"));
    assert_eq!(node["name"]["required"], true);
    assert_eq!(node["children"]["type"], "array");
    assert_eq!(node["parent"]["type"], "object");

    // anyOf of required-only branches: neither property is required.
    let settings = params(action(&catalog, "demo", "DEMO_PUT_SETTINGS"));
    assert_eq!(
        settings["mode"],
        json!({"type": "string", "in": "body", "enum": ["on", "off"]})
    );
    assert_eq!(settings["level"], json!({"type": "number", "in": "body"}));
}

#[test]
fn bodies_of_every_kind() {
    let catalog = read(&import("bodies.yaml", &options("demo")));
    let app = &catalog["apps"]["demo"];
    assert_eq!(app["base_url"], "https://example.invalid");

    let create = action(&catalog, "demo", "DEMO_CREATE_THING");
    assert_eq!(create.get("body_format"), None);
    let p = params(create);
    assert_eq!(
        p.keys().collect::<Vec<_>>(),
        ["sort", "name", "sort_body", "labels", "owner", "visibility"]
    );
    assert_eq!(p["sort"], json!({"type": "string", "in": "query"}));
    assert_eq!(
        p["sort_body"],
        json!({"type": "integer", "required": true, "in": "body", "name": "sort", "description": "Same name as the query param."})
    );
    assert_eq!(p["owner"]["type"], "object");

    let tags = params(action(&catalog, "demo", "DEMO_REPLACE_TAGS"));
    assert_eq!(
        tags["body"],
        json!({"type": "array", "required": true, "in": "body", "whole_body": true, "description": "The tags, replacing the current ones."})
    );
    let metadata = params(action(&catalog, "demo", "DEMO_SET_METADATA"));
    assert_eq!(
        metadata["body"],
        json!({"type": "object", "in": "body", "whole_body": true})
    );
    let count = params(action(&catalog, "demo", "DEMO_SET_COUNT"));
    assert_eq!(
        count["body"],
        json!({"type": "integer", "in": "body", "whole_body": true, "server_default": 1})
    );

    let charge = action(&catalog, "demo", "DEMO_CREATE_CHARGE");
    assert_eq!(charge["body_format"], "form");
    let p = params(charge);
    assert_eq!(p["metadata"]["type"], "object");
    assert_eq!(p["expand"]["array_style"], "brackets", "deepObject");
    assert_eq!(
        p["tags"].get("array_style"),
        None,
        "form, exploded: repeated"
    );
    assert_eq!(p["ids"].get("array_style"), None, "no encoding: repeated");
    assert_eq!(p["receipt"]["type"], "string", "no files in a form");

    let upload = action(&catalog, "demo", "DEMO_UPLOAD_FILE");
    assert_eq!(upload["body_format"], "multipart");
    let p = params(upload);
    assert_eq!(
        p["file"],
        json!({"type": "file", "required": true, "in": "body", "description": "The file."})
    );
    assert_eq!(p["description"]["type"], "string");

    let blob = action(&catalog, "demo", "DEMO_PUT_BLOB");
    assert_eq!(blob["body_format"], "raw");
    assert_eq!(blob["content_type"], "application/octet-stream");
    assert_eq!(
        params(blob)["body"],
        json!({"type": "file", "required": true, "in": "body"})
    );

    let text = action(&catalog, "demo", "DEMO_RENDER_TEXT");
    assert_eq!(text["content_type"], "text/plain");
    assert_eq!(params(text)["body"]["type"], "string");

    // JSON wins over form, form over multipart, else the first listed.
    assert!(params(action(&catalog, "demo", "DEMO_PREFER_JSON")).contains_key("b"));
    let form = action(&catalog, "demo", "DEMO_PREFER_FORM");
    assert_eq!(form["body_format"], "form");
    assert!(params(form).contains_key("b"));
    let other = action(&catalog, "demo", "DEMO_FIRST_OTHER");
    assert_eq!(other["content_type"], "application/xml");
    assert_eq!(params(other)["body"]["type"], "string");
    let image = action(&catalog, "demo", "DEMO_UPLOAD_IMAGE");
    assert_eq!(image["content_type"], "application/octet-stream");
    assert_eq!(params(image)["body"]["type"], "file");
}

#[test]
fn names_keys_and_quoting() {
    let text = import("names.yaml", &options("demo"));
    let catalog = read(&text);
    let app = &catalog["apps"]["demo"];
    assert_eq!(
        app["base_url"], "https://eu.api.example.com/v2",
        "server variables"
    );
    assert_eq!(
        app["description"],
        "Names & Places — Exercises the naming rules, e.g. keys and collisions."
    );
    // Document order; a collision takes the first suffix no operation has naturally.
    assert_eq!(
        actions(&catalog, "demo").keys().collect::<Vec<_>>(),
        [
            "DEMO_GET_THING",
            "DEMO_GET_THING_3",
            "DEMO_DELETE_THINGS_THING_ID",
            "DEMO_GET_THING_2",
            "DEMO_GET_THINGS_THING_ID_FILES_PATH",
            "DEMO_GET_DOC_HISTORY",
            "DEMO_GET_REF_LOG",
            "DEMO_UNDECLARED",
            "DEMO_QUOTING",
        ]
    );
    assert!(text.contains("# TRACE /things/{thing-id} (traceThing) left out"));
    assert!(text.contains("# cookie parameter `session` left out"));

    let get = action(&catalog, "demo", "DEMO_GET_THING");
    assert_eq!(get["path"], "/things/{thing_id}");
    let p = params(get);
    assert_eq!(
        p.keys().collect::<Vec<_>>(),
        ["thing_id", "verbose", "page_size", "x_request_id"],
        "path, query, header; Accept ignored, cookie left out"
    );
    assert_eq!(p["thing_id"]["name"], "thing-id");
    assert_eq!(p["thing_id"]["description"], "The thing's id.");
    assert_eq!(
        p["verbose"]["type"], "integer",
        "the operation's parameter wins"
    );
    assert_eq!(p["page_size"]["name"], "page[size]");
    assert_eq!(
        p["x_request_id"],
        json!({"type": "string", "in": "header", "name": "X-Request-Id", "description": "Correlates logs."})
    );
    let put = params(action(&catalog, "demo", "DEMO_GET_THING_3"));
    assert_eq!(
        put["verbose"]["type"], "boolean",
        "the path-level parameter"
    );

    assert_eq!(
        action(&catalog, "demo", "DEMO_GET_THINGS_THING_ID_FILES_PATH")["path"],
        "/things/{thing_id}/files/{+path}"
    );
    assert_eq!(
        action(&catalog, "demo", "DEMO_GET_DOC_HISTORY")["path"],
        "/docs/{path}/history"
    );
    assert_eq!(
        action(&catalog, "demo", "DEMO_GET_REF_LOG")["path"],
        "/things/{thing_id}/refs/{+ref}/log"
    );
    assert_eq!(
        params(action(&catalog, "demo", "DEMO_UNDECLARED"))["id"],
        json!({"type": "string", "required": true, "in": "path"})
    );

    let quoting = params(action(&catalog, "demo", "DEMO_QUOTING"));
    assert_eq!(
        quoting["on"],
        json!({
            "type": "string", "in": "query",
            "enum": ["yes", "no", "on", "null", "123", "*star", "#hash", "a: b"],
            "description": "A key YAML 1.1 reads as a boolean: {{ not a template }}."
        }),
        "strings kept as strings; the template default dropped"
    );
    assert_eq!(quoting["sort"]["server_default"], "null");
    assert_eq!(quoting["sort_body"]["name"], "sort");
    assert_eq!(
        quoting["plus_1"],
        json!({"type": "integer", "in": "body", "name": "+1", "server_default": 1})
    );
    assert_eq!(quoting["minus_1"]["name"], "-1");
    assert_eq!(
        quoting["count"]["server_default"], "30",
        "a number default of a string"
    );
    assert_eq!(quoting["when"]["server_default"], "2024-01-01");
}

#[test]
fn security_schemes_become_an_auth_skeleton() {
    let text = import("security.yaml", &options("demo"));
    let catalog = read(&text);
    for line in [
        "#         - {name: X-API-Key, in: header, value: \"{{ env.DEMO_API_KEY_HEADER }}\"}",
        "#         - {name: api_key, in: query, value: \"{{ env.DEMO_API_KEY_QUERY }}\"}",
        "#         - {name: Authorization, in: header, value: \"Bearer {{ env.DEMO_TOKEN }}\"}",
        "#         - {name: Authorization, in: header, value: \"Basic {{ (env.DEMO_USER ~ ':' ~ env.DEMO_PASSWORD) | b64encode }}\"}",
        "#   # oauth: OAuth2 (authorizationCode, clientCredentials; scopes: read, write, admin)",
        "#       descope: {app_id: demo, user_id: \"{{ vars.user_id }}\"}",
        "#   # apiKeyCookie: an API key in the `sid` cookie, which runner cannot send",
        "#   # digest: HTTP `digest` auth, which runner cannot compute; send the `Authorization` header yourself",
        "#   # oidc: OpenID Connect (https://auth.example.com/.well-known/openid-configuration)",
        "#   # alias: an HTTP bearer token (JWT)",
    ] {
        assert!(
            text.contains(&format!("\n{line}\n")),
            "missing {line}\n{text}"
        );
    }
    // Uncommented, each skeleton is an `auth:` section of the runner's format.
    let block: String = text
        .lines()
        .skip_while(|l| !l.starts_with("#   # basic"))
        .skip(1)
        .take_while(|l| l.starts_with("#  "))
        .map(|l| format!("{}\n", &l[3..]))
        .collect();
    let auth: Value = serde_yaml::from_str(&block).expect("skeleton is YAML");
    assert_eq!(
        auth["auth"]["demo"]["parameters"][0]["name"],
        "Authorization"
    );

    assert_eq!(
        catalog["apps"]["demo"]["base_url"],
        "https://example.invalid/api/v1"
    );
    assert!(text.contains("    # TODO: the document's server URL `/api/v1` is relative"));
}

#[test]
fn openapi_3_1_documents() {
    let text = import("openapi-3.1.yaml", &options("demo"));
    let catalog = read(&text);
    assert!(text.contains(
        "\n# Note: mtls: a `mutualTLS` security scheme, which runner's auth cannot express"
    ));
    assert_eq!(
        actions(&catalog, "demo").keys().collect::<Vec<_>>(),
        ["DEMO_GET_PET", "DEMO_LIST_PETS", "DEMO_CREATE_PET"],
        "a path item from components.pathItems; no webhooks"
    );
    assert_eq!(
        params(action(&catalog, "demo", "DEMO_GET_PET"))["pet_id"]["type"],
        "integer"
    );
    let list = params(action(&catalog, "demo", "DEMO_LIST_PETS"));
    assert_eq!(
        list["status"],
        json!({"type": "string", "in": "query", "enum": ["available", "sold"]})
    );
    assert_eq!(list["limit"]["server_default"], 10);
    assert_eq!(list["since"]["type"], "string", "anyOf string, null");
    let create = params(action(&catalog, "demo", "DEMO_CREATE_PET"));
    assert_eq!(create["nickname"]["type"], "string");
    assert_eq!(create["age"]["type"], "integer");
    assert_eq!(create["kind"]["enum"], json!(["dog"]), "const");
    assert_eq!(create["weight"]["type"], "number");
    assert_eq!(create["anything"]["type"], "any", "a boolean schema");
    assert_eq!(create["photo"]["type"], "file", "contentMediaType");
    assert_eq!(create["tags"]["type"], "array");
    assert!(!create.contains_key("id"), "readOnly");
}

#[test]
fn json_and_yaml_read_alike() {
    let json_text = fixture("refs.json");
    let value: Value = serde_json::from_str(&json_text).unwrap();
    let yaml_text = serde_yaml::to_string(&value).unwrap();
    assert_eq!(
        openapi(&json_text, &options("demo")).unwrap(),
        openapi(&yaml_text, &options("demo")).unwrap()
    );
}

#[test]
fn prefix_tags_and_operations() {
    let source = fixture("names.yaml");
    let only = |tags: &[&str], operations: &[&str], prefix: Option<&str>| {
        let options = Options {
            app: "my-app".into(),
            prefix: prefix.map(str::to_string),
            tags: tags.iter().map(|s| s.to_string()).collect(),
            operations: operations.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        };
        let catalog = read(&openapi(&source, &options).unwrap());
        actions(&catalog, "my-app")
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        only(&["other"], &[], None),
        ["MY_APP_DELETE_THINGS_THING_ID", "MY_APP_QUOTING"]
    );
    assert_eq!(
        only(&["other"], &["getRefLog"], Some("x")),
        ["X_DELETE_THINGS_THING_ID", "X_GET_REF_LOG", "X_QUOTING"]
    );
    assert_eq!(only(&[], &["getThing"], Some("")), ["GET_THING"]);
}

#[test]
fn errors_in_user_words() {
    let error = |source: &str, options: &Options| openapi(source, options).unwrap_err();
    let demo = options("demo");
    assert_eq!(
        error(&fixture("swagger2.json"), &demo),
        ImportError::Swagger2
    );
    assert_eq!(
        error(&fixture("swagger2.json"), &demo).to_string(),
        "this is a Swagger 2.0 document; convert it to OpenAPI 3 first (e.g. with swagger2openapi)"
    );
    assert!(matches!(
        error("{\"openapi\": ", &demo),
        ImportError::Syntax { format: "JSON", .. }
    ));
    assert!(matches!(
        error("openapi: [", &demo),
        ImportError::Syntax { format: "YAML", .. }
    ));
    let empty = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n";
    assert_eq!(error(empty, &demo), ImportError::NoPaths);
    let no_paths = "openapi: 3.1.0\ninfo: {title: t, version: '1'}\nwebhooks: {}\n";
    assert_eq!(error(no_paths, &demo), ImportError::NoPaths);

    let names = fixture("names.yaml");
    let typo = Options {
        operations: vec!["getThng".into()],
        ..options("demo")
    };
    assert_eq!(
        error(&names, &typo).to_string(),
        "no operation has the operationId `getThng`; did you mean `getThing`?"
    );
    let tag = Options {
        tags: vec!["thing".into()],
        ..options("demo")
    };
    assert_eq!(
        error(&names, &tag).to_string(),
        "no operation has the tag `thing`; did you mean `things`?"
    );
    assert!(matches!(
        error(&names, &options(" ")),
        ImportError::BadApp(_)
    ));

    let external = r##"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"parameters": [{"$ref": "common.yaml#/components/parameters/p"}],
        "responses": {}}}}}"##;
    let message = error(external, &demo).to_string();
    assert!(message.starts_with("cannot follow `$ref: common.yaml#/components/parameters/p`: it points into another file"), "{message}");
    let missing = r##"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"parameters": [{"name": "q", "in": "query", "schema": {"$ref": "#/components/schemas/Nope"}}]}}}}"##;
    assert_eq!(
        error(missing, &demo).to_string(),
        "cannot follow `$ref: #/components/schemas/Nope`: the document has no `components.schemas.Nope`"
    );
    let dangling = r##"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"parameters": [{"$ref": "#/paths/~1b/get/parameters/0"}]}}}}"##;
    assert_eq!(
        error(dangling, &demo).to_string(),
        "cannot follow `$ref: #/paths/~1b/get/parameters/0`: the document has nothing there"
    );
    let invalid = r##"{"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"get": {"parameters": [{"in": "query", "schema": {}}]}}}}"##;
    let message = error(invalid, &demo).to_string();
    assert!(
        message.starts_with("the document is not valid OpenAPI at `paths./a.get.parameters[0]`"),
        "{message}"
    );
}

#[test]
fn a_subset_of_github() {
    let options = Options {
        app: "github".into(),
        prefix: Some("GITHUB".into()),
        ..Options::default()
    };
    let text = import("github-subset.json", &options);
    let catalog = read(&text);
    let all = actions(&catalog, "github");
    assert!(all.len() >= 250, "{} actions", all.len());
    let content = action(&catalog, "github", "GITHUB_REPOS_GET_CONTENT");
    assert_eq!(content["path"], "/repos/{owner}/{repo}/contents/{+path}");
    let create = params(action(&catalog, "github", "GITHUB_ISSUES_CREATE"));
    assert_eq!(create["owner"]["in"], "path");
    assert_eq!(create["labels"]["type"], "array");
    assert_eq!(create["title"]["required"], true);
    assert_eq!(create["title"]["type"], "string", "oneOf string, integer");
    let list = params(action(&catalog, "github", "GITHUB_ISSUES_LIST_FOR_REPO"));
    assert_eq!(list["state"]["enum"], json!(["open", "closed", "all"]));
    assert_eq!(list["per_page"]["server_default"], 30);
}

#[test]
fn a_property_of_several_branches_allows_each_branch_s_values() {
    // GitHub's `projects/add-field-for-org`: `data_type` is `text`,
    // `number` or `date` in one branch, `single_select` in another.
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/fields": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {"oneOf": [
                {"type": "object", "required": ["data_type"], "properties": {
                    "data_type": {"type": "string", "enum": ["text", "number"]},
                    "size": {"type": "integer", "default": 1},
                    "mode": {"type": "string", "default": "fast"},
                    "note": {"type": "string", "enum": ["a"]}
                }},
                {"type": "object", "required": ["data_type"], "properties": {
                    "data_type": {"type": "string", "enum": ["single_select", "text"]},
                    "size": {"type": "integer", "default": 2},
                    "mode": {"type": "string", "default": "fast"},
                    "note": {"type": "string"}
                }}
            ], "properties": {"kind": {"type": "string", "enum": ["x", "y"], "default": "x"}}}}}},
            "responses": {}
        }}}
    });
    let catalog = read(&openapi(&doc.to_string(), &options("demo")).unwrap());
    let p = params(action(&catalog, "demo", "DEMO_POST_FIELDS"));
    assert_eq!(
        p["data_type"]["enum"],
        json!(["text", "number", "single_select"])
    );
    assert_eq!(p["data_type"]["required"], true);
    // A default only when every branch gives the same one.
    assert_eq!(p["size"].get("server_default"), None);
    assert_eq!(p["mode"]["server_default"], "fast");
    // A branch without an enum allows anything.
    assert_eq!(p["note"].get("enum"), None);
    // The body's own property keeps its own enum and default.
    assert_eq!(p["kind"]["enum"], json!(["x", "y"]));
    assert_eq!(p["kind"]["server_default"], "x");
}

#[test]
fn documents_that_would_expand_forever_finish() {
    // Each schema is `allOf` the next one twice: 2^40 visits without a budget.
    let mut schemas = Map::new();
    for i in 0..40 {
        let next = json!({"$ref": format!("#/components/schemas/S{}", i + 1)});
        schemas.insert(
            format!("S{i}"),
            json!({"allOf": [next, next], "oneOf": [next, next]}),
        );
    }
    schemas.insert(
        "S40".into(),
        json!({"type": "object", "properties": {"x": {"type": "string"}}}),
    );
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"post": {
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}},
            "responses": {}
        }}},
        "components": {"schemas": schemas}
    });
    let start = std::time::Instant::now();
    let catalog = read(&openapi(&doc.to_string(), &options("demo")).unwrap());
    assert!(start.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(
        params(action(&catalog, "demo", "DEMO_POST_A"))["x"]["type"],
        "string"
    );
}

#[test]
fn docs_urls_are_fields_and_known_names_become_aliases() {
    let source = r#"
openapi: 3.0.3
info: {title: Issues, version: "1"}
servers: [{url: "https://api.example"}]
paths:
  /repos/{owner}/{repo}/issues/{issue_number}/comments:
    post:
      operationId: issues/create-comment
      summary: Create an issue comment
      externalDocs: {url: "https://docs.example/issues#create-a-comment"}
      parameters:
        - {name: owner, in: path, required: true, schema: {type: string}}
        - {name: repo, in: path, required: true, schema: {type: string}}
        - {name: issue_number, in: path, required: true, schema: {type: integer}}
      responses: {"201": {description: created}}
    get:
      operationId: issues/list-comments
      responses: {"200": {description: ok}}
"#;
    let known = |method: &str, names: &[&str], keywords: &[&str]| super::Known {
        method: method.into(),
        // Placeholders match whatever they are named.
        path: "/repos/{o}/{r}/issues/{n}/comments".into(),
        names: names.iter().map(|s| s.to_string()).collect(),
        keywords: keywords.iter().map(|s| s.to_string()).collect(),
    };
    let options = Options {
        app: "gh".into(),
        known: vec![
            known(
                "POST",
                &["GH_ISSUES_CREATE_COMMENT", "GH_CREATE_ISSUE_COMMENT"],
                &["pull request"],
            ),
            known("POST", &["GH_COMMENT"], &["reply"]),
            known("PUT", &["GH_NOT_THIS_ONE"], &[]),
        ],
        ..Options::default()
    };
    let text = openapi(source, &options).unwrap();
    assert!(
        text.contains("      # issues/create-comment\n      GH_ISSUES_CREATE_COMMENT:\n"),
        "{text}"
    );
    let catalog = read(&text);
    let create = action(&catalog, "gh", "GH_ISSUES_CREATE_COMMENT");
    assert_eq!(
        create["docs"],
        json!("https://docs.example/issues#create-a-comment")
    );
    assert_eq!(
        create["aliases"],
        json!(["GH_CREATE_ISSUE_COMMENT", "GH_COMMENT"])
    );
    assert_eq!(create["keywords"], json!(["pull request", "reply"]));
    let list = action(&catalog, "gh", "GH_ISSUES_LIST_COMMENTS");
    assert_eq!(list.get("aliases"), None);
    assert_eq!(list.get("docs"), None);
}
