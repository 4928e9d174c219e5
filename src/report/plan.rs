//! The plan as text: each request with its headers and body, and what
//! waits for the run.

use crate::execute::Plan;

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    for s in &plan.steps {
        out.push_str(&format!("{}  {}\n", s.label, s.action));
        out.push_str(&format!("  {:?} {}\n", s.request.method, s.request.url));
        for (name, value) in &s.request.headers {
            out.push_str(&format!("  {name}: {value}\n"));
        }
        if let Some(body) = &s.request.body {
            for line in body.describe() {
                for line in line.lines() {
                    out.push_str(&format!("  | {line}\n"));
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
    out.push_str(&format!(
        "{} request(s) planned, none sent",
        plan.steps.len()
    ));
    out
}
