//! Request bodies and URLs real APIs need: nested form fields and
//! `array_style`, multipart parts and file uploads, raw bodies streamed
//! from disk, `whole_body`, wire names, `{+path}`, `enum` and `type: any`.
//! Each against a server on 127.0.0.1 that records the exact bytes it got.

use serde_json::json;
use wiremock::ResponseTemplate;

use crate::harness::specs::Spec;
use crate::harness::{RequestExt, Server, Workspace, json_reply, squash};

/// Forms, searches, uploads and raw bodies.
const ACTIONS: &str = include_str!("fixtures/catalogs/bodies.yaml");

/// Every action of these tests, pointed at `base`.
fn catalog(base: &str) -> String {
    Spec::app("api", base).actions(ACTIONS).build()
}

/// A server answering 200 to everything.
async fn server() -> Server {
    Server::answering("", ResponseTemplate::new(200)).await
}

/// The catalog as `api.yaml` and `steps` (YAML lines under `steps:`) as
/// `main.yaml`, which includes it and declares `vars`.
fn workspace(server: &Server, vars: &str, steps: &str) -> Workspace {
    Workspace::new()
        .file("api.yaml", &catalog(&server.uri()))
        .file(
            "main.yaml",
            &format!("version: 1\ninclude: [api.yaml]\nvars: {vars}\nsteps:\n{steps}"),
        )
}

/// Deterministic bytes that are not text, `len` of them.
fn binary(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

/// One part of a multipart body as the server got it.
#[derive(Debug, PartialEq)]
struct Part {
    /// Header lines, in order.
    headers: Vec<String>,
    data: Vec<u8>,
}

/// Splits `haystack` at every `needle`.
fn split<'a>(haystack: &'a [u8], needle: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if &haystack[i..i + needle.len()] == needle {
            out.push(&haystack[start..i]);
            i += needle.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(&haystack[start..]);
    out
}

/// The parts of a `multipart/form-data` body, by the boundary its
/// `Content-Type` names; checks the framing on the way.
fn parts(content_type: &str, body: &[u8]) -> Vec<Part> {
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .unwrap_or_else(|| panic!("not multipart: {content_type}"));
    assert!(!boundary.is_empty());
    let mut framed = b"\r\n".to_vec();
    framed.extend_from_slice(body);
    let pieces = split(&framed, format!("\r\n--{boundary}").as_bytes());
    assert!(pieces[0].is_empty(), "the body starts with the boundary");
    assert_eq!(
        pieces.last().unwrap(),
        b"--\r\n",
        "the body ends with the closing boundary"
    );
    pieces[1..pieces.len() - 1]
        .iter()
        .map(|piece| {
            let piece = piece
                .strip_prefix(b"\r\n")
                .expect("CRLF after the boundary");
            let (head, data) = piece.split_at(
                piece
                    .windows(4)
                    .position(|w| w == b"\r\n\r\n")
                    .expect("blank line after the part's headers"),
            );
            Part {
                headers: String::from_utf8(head.to_vec())
                    .unwrap()
                    .split("\r\n")
                    .map(str::to_string)
                    .collect(),
                data: data[4..].to_vec(),
            }
        })
        .collect()
}

fn text_part(name: &str, value: &str) -> Part {
    Part {
        headers: vec![format!("Content-Disposition: form-data; name=\"{name}\"")],
        data: value.as_bytes().to_vec(),
    }
}

fn file_part(name: &str, file_name: &str, content_type: &str, data: &[u8]) -> Part {
    Part {
        headers: vec![
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\""),
            format!("Content-Type: {content_type}"),
        ],
        data: data.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn form_bodies_nest_objects_in_brackets_with_each_array_style() {
    let server = server().await;
    let metadata =
        r#"{order_id: "123", tags: {a: x, deep: {b: true}}, ids: [1, 2], items: [{p: 1}]}"#;
    let steps = format!(
        r#"  - action: FORM_REPEAT
    params: {{amount: 2000, metadata: {metadata}, expand: [customer, invoice], note: "a b&c"}}
  - action: FORM_BRACKETS
    params: {{metadata: {metadata}, expand: [customer, invoice]}}
  - action: FORM_INDEXED
    params: {{metadata: {metadata}, expand: [customer, invoice]}}
  - action: FORM_WHOLE
    params: {{fields: {{amount: 5, expand: [a, b], metadata: {{k: v}}}}}}
"#
    );
    let ws = workspace(&server, "{}", &steps);
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs.len(), 4);
    for r in &reqs {
        assert_eq!(
            r.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
    }
    let body = |i: usize| String::from_utf8(reqs[i].body.clone()).unwrap();
    let m = "metadata%5B";
    assert_eq!(
        body(0),
        format!(
            "amount=2000&{m}order_id%5D=123&{m}tags%5D%5Ba%5D=x&{m}tags%5D%5Bdeep%5D%5Bb%5D=true\
             &{m}ids%5D=1&{m}ids%5D=2&{m}items%5D%5Bp%5D=1\
             &expand=customer&expand=invoice&{m}note%5D=a+b%26c"
        )
    );
    assert_eq!(
        body(1),
        format!(
            "{m}order_id%5D=123&{m}tags%5D%5Ba%5D=x&{m}tags%5D%5Bdeep%5D%5Bb%5D=true\
             &{m}ids%5D%5B%5D=1&{m}ids%5D%5B%5D=2&{m}items%5D%5B%5D%5Bp%5D=1\
             &expand%5B%5D=customer&expand%5B%5D=invoice"
        )
    );
    assert_eq!(
        body(2),
        format!(
            "{m}order_id%5D=123&{m}tags%5D%5Ba%5D=x&{m}tags%5D%5Bdeep%5D%5Bb%5D=true\
             &{m}ids%5D%5B0%5D=1&{m}ids%5D%5B1%5D=2&{m}items%5D%5B0%5D%5Bp%5D=1\
             &expand%5B0%5D=customer&expand%5B1%5D=invoice"
        )
    );
    assert_eq!(
        body(3),
        "amount=5&expand%5B0%5D=a&expand%5B1%5D=b&metadata%5Bk%5D=v"
    );

    // Plan shows the encoded text.
    ws.runner(["plan", "main.yaml"])
        .await
        .code(0)
        .stdout_has("  | amount=5&expand%5B0%5D=a&expand%5B1%5D=b&metadata%5Bk%5D=v\n");
    assert_eq!(server.received().await.len(), 4, "plan sends nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_objects_and_arrays_are_form_fields_and_scalars_stay_as_they_were() {
    let server = server().await;
    let steps = r#"  - action: SEARCH
    params:
      q: "a b/c"
      filter: {state: open, labels: [bug, ui]}
      expand: [x, y]
      page_size: 50
      tags: [t1, t2]
"#;
    let ws = workspace(&server, "{}", steps);
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(
        reqs[0].url.query(),
        Some(
            "q=a+b%2Fc&filter%5Bstate%5D=open&filter%5Blabels%5D=bug&filter%5Blabels%5D=ui\
             &expand%5B0%5D=x&expand%5B1%5D=y&page%5Bsize%5D=50&tags=t1&tags=t2"
        )
    );
    assert!(reqs[0].body.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn multipart_sends_text_parts_and_files_streamed_from_disk() {
    let server = server().await;
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &binary(5000)].concat();
    let ws = workspace(
        &server,
        "{}",
        r#"  - action: UPLOAD
    params:
      title: Hello
      tags: [a, b]
      meta: {k: v, list: [1, true]}
      photo: img/cat.png
      notes: notes.txt
"#,
    );
    ws.write_bytes("img/cat.png", &png);
    ws.write("notes.txt", "line one\r\n--not a boundary\r\n");
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs.len(), 1);
    let content_type = reqs[0].header("content-type").unwrap().to_string();
    assert_eq!(
        reqs[0].header("content-length"),
        Some(reqs[0].body.len().to_string().as_str()),
        "the length of a multipart body with files is known up front"
    );
    assert_eq!(
        parts(&content_type, &reqs[0].body),
        vec![
            text_part("title", "Hello"),
            text_part("tags", "a"),
            text_part("tags", "b"),
            text_part("meta[k]", "v"),
            text_part("meta[list][0]", "1"),
            text_part("meta[list][1]", "true"),
            file_part("photo", "cat.png", "image/png", &png),
            file_part(
                "attachment",
                "notes.txt",
                "text/plain",
                b"line one\r\n--not a boundary\r\n"
            ),
        ]
    );

    // Plan lists the parts, files by name, type and size, never their bytes.
    let out = ws.runner(["plan", "main.yaml"]).await.code(0);
    let expected = "  Content-Type: multipart/form-data
  | title: Hello
  | tags: a
  | tags: b
  | meta[k]: v
  | meta[list][0]: 1
  | meta[list][1]: true
  | photo: @img/cat.png (image/png, 4.9 KiB)
  | attachment: @notes.txt (text/plain, 28 bytes)
";
    assert!(out.stdout.contains(expected), "{out:?}");
    assert!(!out.stdout.contains("line one"), "{out:?}");
    let out = ws.runner(["plan", "main.yaml", "--output", "json"]).await;
    assert_eq!(
        out.step(0)["body"][6],
        json!({"file": "img/cat.png", "reads": "img/cat.png", "content_type": "image/png", "size": 5008, "name": "photo"})
    );
    assert_eq!(server.received().await.len(), 1, "plan sends nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_raw_file_body_is_streamed_byte_for_byte() {
    let server = server().await;
    let data = binary(3 << 20);
    let ws = workspace(
        &server,
        "{}",
        r#"  - action: PUT_BLOB
    params: {name: archive.zip, blob: data/archive.bin}
  - action: PUT_TEXT
    params: {text: "a,b\n1,2\n"}
"#,
    );
    ws.write_bytes("data/archive.bin", &data);
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs[0].url.path(), "/blobs/archive.zip");
    assert_eq!(reqs[0].header("content-type"), Some("application/zip"));
    assert_eq!(reqs[0].header("content-length"), Some("3145728"));
    assert_eq!(reqs[0].body.len(), data.len());
    assert!(reqs[0].body == data, "the bytes differ");
    assert_eq!(reqs[1].header("content-type"), Some("text/csv"));
    assert_eq!(reqs[1].body, b"a,b\n1,2\n");

    ws.runner(["plan", "main.yaml"])
        .await
        .code(0)
        .stdout_has("  | @data/archive.bin (application/zip, 3.0 MiB)\n")
        .stdout_has("  | (8 bytes of text/csv)\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_is_opened_again_for_a_redirect_that_keeps_the_body() {
    let server = Server::build()
        .reply(
            "PUT /blobs/old",
            ResponseTemplate::new(307).insert_header("location", "/blobs/new"),
        )
        .reply("PUT /blobs/new", ResponseTemplate::new(201))
        .start()
        .await;
    let data = binary(200_000);
    let ws = workspace(
        &server,
        "{}",
        "  - action: PUT_BLOB\n    params: {name: old, blob: blob.bin}\n",
    );
    ws.write_bytes("blob.bin", &data);
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs.len(), 2);
    assert_eq!(reqs[1].url.path(), "/blobs/new");
    assert!(reqs[0].body == data && reqs[1].body == data);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_over_the_upload_limit_stops_the_run_before_anything_is_sent() {
    let server = server().await;
    let ws = workspace(
        &server,
        "{}",
        r#"  - action: GET_STATE
  - action: PUT_BLOB
    params: {name: big, blob: big.bin}
"#,
    );
    ws.write_bytes("big.bin", &binary(3 << 20));
    for command in ["apply", "plan"] {
        ws.runner([command, "main.yaml", "--max-upload-size", "1MiB"])
            .await
            .code(2)
            .stderr_has("param `blob`: file `big.bin` is 3.0 MiB, larger than the upload limit of 1.0 MiB; raise `--max-upload-size`");
    }
    assert!(server.received().await.is_empty());
    // Under the limit it goes.
    ws.runner(["apply", "main.yaml", "--max-upload-size", "4MiB"])
        .sends(&server, 2)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn file_paths_from_specs_are_relative_to_the_spec_and_from_the_command_line_to_the_cwd() {
    let server = server().await;
    let ws = Workspace::new()
        .file("specs/api.yaml", &catalog(&server.uri()))
        .file(
            "specs/main.yaml",
            r#"version: 1
include: [api.yaml]
vars: {upload: default.txt}
steps:
  - action: PUT_BLOB
    params: {name: a, blob: files/beside-spec.txt}
  - action: PUT_BLOB
    params: {name: b, blob: "{{ vars.upload }}"}
"#,
        );
    ws.write("specs/files/beside-spec.txt", "beside the spec");
    ws.write("specs/default.txt", "the var's default, beside the spec");
    ws.write("given/on-the-command-line.txt", "from the cwd");
    ws.runner(["apply", "specs/main.yaml"]).await.code(0);
    // A path given on the command line is confined to the project root
    // too (here `specs/`, outside git): `--allow-upload` admits this one.
    let given = [
        "apply",
        "specs/main.yaml",
        "--var",
        "upload=given/on-the-command-line.txt",
    ];
    ws.runner(given)
        .await
        .code(2)
        .stderr_has("file `given/on-the-command-line.txt` (`")
        .stderr_has("is outside the project root");
    ws.runner(given)
        .args(["--allow-upload", "given/on-the-command-line.txt"])
        .await
        .code(0);
    let bodies: Vec<String> = server
        .each_received(|r| String::from_utf8(r.body.clone()).unwrap())
        .await;
    assert_eq!(
        bodies,
        [
            "beside the spec",
            "the var's default, beside the spec",
            "beside the spec",
            "from the cwd"
        ]
    );

    // A missing file stops the run before anything is sent.
    ws.runner([
        "apply",
        "specs/main.yaml",
        "--var",
        "upload=specs/nowhere.txt",
    ])
    .await
    .code(2)
    .stderr_has("param `blob`: cannot read file `specs/nowhere.txt`: not found");
    // A spec may not name a file outside the project root.
    ws.runner(["apply", "specs/main.yaml", "--var", "upload=x"])
        .await
        .code(2);
    ws.write(
        "specs/main.yaml",
        "version: 1\ninclude: [api.yaml]\nsteps:\n  - action: PUT_BLOB\n    params: {name: a, blob: ../given/on-the-command-line.txt}\n",
    );
    ws.runner(["apply", "specs/main.yaml"])
        .await
        .code(2)
        .stderr_has("file `specs/../given/on-the-command-line.txt` (`")
        .stderr_has("/given/on-the-command-line.txt`) is outside the project root");
    ws.runner(["apply", "specs/main.yaml", "--allow-outside-root"])
        .sends(&server, 5)
        .await;
}

/// Answers `{}`, after removing `file`.
struct Removes(std::path::PathBuf);

impl wiremock::Respond for Removes {
    fn respond(&self, _: &wiremock::Request) -> ResponseTemplate {
        let _ = std::fs::remove_file(&self.0);
        json_reply(200, json!({}))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_that_is_gone_when_its_step_runs_fails_its_step() {
    // A response can never name a file (see `uploads.rs`); a file the spec
    // names can still disappear during the run.
    let ws = Workspace::new();
    let server = Server::build()
        .reply("GET /state", Removes(ws.path().join("gone.bin")))
        .reply("", ResponseTemplate::new(200))
        .start()
        .await;
    ws.write("api.yaml", &catalog(&server.uri()));
    ws.write(
        "main.yaml",
        "version: 1\ninclude: [api.yaml]\nsteps:\n  - id: state\n    action: GET_STATE\n  - action: PUT_BLOB\n    params: {name: x, blob: gone.bin}\n",
    );
    ws.write("gone.bin", "here before the run");
    ws.runner(["apply", "main.yaml"])
        .await
        .code(1)
        .stdout_has("param `blob`: cannot read file `gone.bin`: not found");
    assert_eq!(server.requests().await, ["GET /state"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn whole_body_params_send_arrays_and_scalars_as_the_body() {
    let server = server().await;
    let ws = workspace(
        &server,
        "{tags: [bug, ui]}",
        r#"  - action: SET_TAGS
    params: {tags: "{{ vars.tags }}"}
  - action: SET_COUNT
    params: {count: "42"}
  - action: SET_ANYTHING
    params: {value: "just text"}
  - action: SET_ANYTHING
    params: {value: null}
"#,
    );
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs[0].body, br#"["bug","ui"]"#);
    assert_eq!(reqs[1].body, b"42");
    assert_eq!(reqs[2].body, br#""just text""#);
    assert!(reqs[3].body.is_empty(), "a null body is no body");
    for r in &reqs[..3] {
        assert_eq!(r.header("content-type"), Some("application/json"));
    }
    assert_eq!(reqs[3].header("content-type"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn wire_names_name_headers_query_keys_json_keys_and_form_fields() {
    let server = server().await;
    let ws = workspace(
        &server,
        "{}",
        r#"  - action: CREATE
    params: {idempotency_key: k-1, page_size: 5, plus_one: 1, order: "77"}
  - action: FORM_REPEAT
    params: {note: hi}
"#,
    );
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(reqs[0].header("idempotency-key"), Some("k-1"));
    assert!(reqs[0].header("idempotency_key").is_none());
    assert_eq!(reqs[0].url.query(), Some("page%5Bsize%5D=5"));
    assert_eq!(reqs[0].body, br#"{"+1":1,"metadata[order_id]":"77"}"#);
    assert_eq!(reqs[1].body, b"metadata%5Bnote%5D=hi");
}

#[tokio::test(flavor = "multi_thread")]
async fn type_any_sends_values_as_given() {
    let server = server().await;
    let ws = workspace(
        &server,
        "{}",
        r#"  - action: CREATE
    params: {extra: {a: [1, "2", null, {b: false}]}, label: "42"}
  - action: CREATE
    params: {extra: 1.5, label: [x]}
"#,
    );
    ws.runner(["apply", "main.yaml"]).await.code(0);
    let reqs = server.received().await;
    assert_eq!(
        reqs[0].body,
        br#"{"extra":{"a":[1,"2",null,{"b":false}]},"label":"42"}"#
    );
    assert_eq!(reqs[1].json(), json!({"extra": 1.5, "label": ["x"]}));
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_expansion_keeps_slashes_and_encodes_the_rest() {
    let server = server().await;
    let ws = workspace(
        &server,
        "{path: docs/guide/intro.md}",
        r#"  - action: CONTENTS
    params: {owner: o, repo: r, path: "{{ vars.path }}"}
"#,
    );
    ws.runner(["apply", "main.yaml"]).await.code(0);
    ws.runner(["apply", "main.yaml", "--var", "path=dir/a b?c#d%e.md"])
        .await
        .code(0);
    let paths: Vec<String> = server.each_received(|r| r.url.path().to_string()).await;
    assert_eq!(
        paths,
        [
            "/repos/o/r/contents/docs/guide/intro.md",
            "/repos/o/r/contents/dir/a%20b%3Fc%23d%25e.md"
        ]
    );
    assert!(server.received().await[1].url.query().is_none());

    for (bad, why) in [
        ("docs/../secrets", "has a `..` segment"),
        ("./x", "has a `.` segment"),
        ("..", "has a `..` segment"),
        ("a//b", "has an empty segment"),
        ("/abs", "has an empty segment"),
    ] {
        ws.runner(["apply", "main.yaml", "--var", &format!("path={bad}")])
            .await
            .code_for(2, format_args!("{bad}"))
            .stderr_has(&format!("path value `{bad}` for `{{+path}}` {why}"));
    }
    assert_eq!(server.received().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn enum_refuses_a_literal_at_validate_and_a_rendered_value_before_sending() {
    let server = Server::build()
        .reply("GET /state", json_reply(200, json!({"state": "bogus"})))
        .reply("", ResponseTemplate::new(200))
        .start()
        .await;
    let ws = workspace(
        &server,
        "{state: open}",
        r#"  - action: LIST
    params: {state: "{{ vars.state }}", per_page: "50"}
"#,
    );
    ws.runner(["apply", "main.yaml"]).await.code(0);
    assert_eq!(
        server.received().await[0].url.query(),
        Some("state=open&per_page=50")
    );

    // Known before the run: nothing is sent.
    for command in ["plan", "apply"] {
        ws.runner([command, "main.yaml", "--var", "state=everything"])
            .await
            .code(2)
            .stderr_has("param `state`: expected one of `open`, `closed`, `all`, found a string `\"everything\"`");
    }
    assert_eq!(server.received().await.len(), 1);

    // A literal: `validate` refuses it.
    ws.write(
        "main.yaml",
        "version: 1\ninclude: [api.yaml]\nsteps:\n  - action: LIST\n    params: {per_page: 20}\n",
    );
    let out = ws.runner(["validate", "main.yaml"]).run().code(2);
    assert!(
        squash(&out.stderr).contains(
            "error: param `per_page`: expected one of `10`, `50`, found an integer `20`\n--> main.yaml:5:24: steps[0].params.per_page"
        ),
        "{out:?}"
    );

    // Known only from a response: the step fails, exit 1.
    ws.write(
        "main.yaml",
        r#"version: 1
include: [api.yaml]
steps:
  - id: current
    action: GET_STATE
  - action: LIST
    params: {state: "{{ steps.current.response.state }}"}
"#,
    );
    ws.runner(["apply", "main.yaml"]).await.code(1).stdout_has(
        "param `state`: expected one of `open`, `closed`, `all`, found a string `\"bogus\"`",
    );
    assert_eq!(server.requests().await, ["GET /issues", "GET /state"]);
}
