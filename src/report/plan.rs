//! The plan as text: each request with its headers and body, what waits
//! for the run, and what conditions, loops, polling and pages do to it.

use crate::execute::Plan;

pub(super) fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let mut requests = 0;
    for s in &plan.steps {
        out.push_str(&format!("{}  {}\n", s.label, s.action));
        for note in &s.notes {
            out.push_str(&format!("  ({note})\n"));
        }
        if let Some(request) = &s.request {
            requests += 1;
            out.push_str(&format!("  {:?} {}\n", request.method, request.url));
            for (name, value) in &request.headers {
                out.push_str(&format!("  {name}: {value}\n"));
            }
            if let Some(body) = &request.body {
                for line in body.describe() {
                    for line in line.lines() {
                        out.push_str(&format!("  | {line}\n"));
                    }
                }
            }
        }
        if !s.deferred.is_empty() {
            out.push_str(&format!(
                "  (known after earlier steps run: {})\n",
                crate::error::ticked(&s.deferred)
            ));
        }
        out.push('\n');
    }
    out.push_str(&format!("{requests} request(s) planned, none sent"));
    out
}
