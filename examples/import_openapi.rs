//! Runs the OpenAPI importer until `runner import openapi` exists (it will
//! replace this example):
//!
//!     cargo run --release --example import_openapi -- SOURCE --app NAME [--prefix P] [-o FILE]

use std::process::ExitCode;

const USAGE: &str = "usage: import_openapi SOURCE --app NAME [--prefix P] [-o FILE]";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (mut source, mut output) = (None, None);
    let mut options = runner::import::Options::default();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--app" => options.app = value()?,
            "--prefix" => options.prefix = Some(value()?),
            "-o" | "--output" => output = Some(value()?),
            _ if source.is_none() && !arg.starts_with('-') => source = Some(arg),
            _ => return Err(format!("unexpected argument `{arg}`\n{USAGE}")),
        }
    }
    let source = source.ok_or(USAGE)?;
    let text = std::fs::read_to_string(&source).map_err(|e| format!("{source}: {e}"))?;
    let catalog = runner::import::openapi(&text, &options).map_err(|e| e.to_string())?;
    match output {
        Some(path) => std::fs::write(&path, catalog).map_err(|e| format!("{path}: {e}")),
        None => {
            print!("{catalog}");
            Ok(())
        }
    }
}
