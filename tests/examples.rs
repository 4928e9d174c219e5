//! Every shipped workflow runs green against the stand-in APIs the
//! quickstart uses (GitHub, Slack, Linear, Descope on 127.0.0.1), with the
//! real binary, and `plan` shows each of them without sending anything.

use crate::harness::Workspace;

#[path = "../examples/support/stand_in.rs"]
#[allow(dead_code)]
mod stand_in;

/// A shipped workflow, the inputs it runs with, and the exit code expected.
struct Case {
    spec: &'static str,
    inputs: &'static [&'static str],
    code: i32,
    /// Text the output must hold.
    says: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        spec: "specs/github.yaml",
        inputs: &[],
        code: 0,
        says: &["3 ok"],
    },
    Case {
        spec: "specs/weekly-triage.yaml",
        inputs: &["owner=acme", "repos=[api, web, docs]"],
        code: 0,
        says: &["open", "3 items", "issues = ["],
    },
    Case {
        spec: "specs/weekly-triage.yaml",
        inputs: &["owner=acme", "repos=[api, web]", "channel=nope"],
        code: 1,
        says: &["channel_not_found", "undo"],
    },
    Case {
        spec: "specs/label-stale-issues.yaml",
        inputs: &[
            "owner=acme",
            "repos=[api, web]",
            "cutoff=2099-01-01T00:00:00Z",
        ],
        code: 0,
        says: &["labelled = "],
    },
    Case {
        spec: "specs/ci-run-conclusion.yaml",
        inputs: &["owner=acme", "repo=api", "run_id=1000002", "pr=128"],
        code: 0,
        says: &["conclusion = success"],
    },
    Case {
        spec: "specs/incident-channel-reminder.yaml",
        inputs: &[],
        code: 0,
        says: &["3 pages"],
    },
    Case {
        spec: "specs/linear-nudge.yaml",
        inputs: &["team=ENG"],
        code: 0,
        says: &["3 pages", "6 items", "urgent = 6"],
    },
];

fn root() -> &'static str {
    env!("CARGO_MANIFEST_DIR")
}

const TOKENS: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "ghp_demoTokenForTheStandIn0000"),
    ("SLACK_TOKEN", "xoxb-demo-token-for-the-stand-in"),
    ("LINEAR_API_KEY", "lin_api_demoKeyForTheStandIn0000"),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_shipped_workflow_runs_against_the_stand_in() {
    for case in CASES {
        // A stand-in each: its state (issue numbers, polls) starts over.
        let server = stand_in::start().await;
        let uri = server.uri();
        let spec = format!("{}/{}", root(), case.spec);
        let text = std::fs::read_to_string(&spec).unwrap();
        let mut args = vec![spec.clone()];
        if text.contains("apps/github.yaml") {
            args.push(format!("--base-url=github={uri}"));
        }
        if text.contains("apps/slack.yaml") {
            args.push(format!("--base-url=slack={uri}"));
        }
        if text.contains("apps/linear.yaml") {
            args.push(format!("--base-url=linear={uri}/linear"));
        }
        args.extend(case.inputs.iter().map(|i| format!("--input={i}")));
        let ws = Workspace::new();
        let run = |command: &str| {
            let mut cmd = ws.runner([command]).args(&args).current_dir(root());
            if command == "apply" {
                cmd = cmd.arg("--no-journal");
            }
            for (name, value) in TOKENS {
                cmd = cmd.env(name, value);
            }
            cmd
        };
        // `plan` sends nothing.
        run("plan")
            .await
            .code_for(0, format_args!("plan {}", case.spec));
        assert!(
            server
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
        );
        let out = run("apply").await.code_for(case.code, case.spec);
        for said in case.says {
            assert!(
                out.all().contains(said),
                "{}: no `{said}` in {out:?}",
                case.spec
            );
        }
        for (_, token) in TOKENS {
            assert!(!out.all().contains(token), "{}: a token leaked", case.spec);
        }
        assert!(
            !server
                .received_requests()
                .await
                .unwrap_or_default()
                .is_empty()
        );
    }
}
