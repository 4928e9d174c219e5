//! Parses a YAML file once with serde_yaml and nothing else: the yardstick
//! `bench/run.sh` holds `runner validate` against.
//!
//!     cargo run --release --example yaml_parse -- specs/apps/github-rest.yaml

fn main() -> std::process::ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: yaml_parse FILE");
        return std::process::ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{path}: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match serde_yaml::from_str::<serde_yaml::Value>(&text) {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
