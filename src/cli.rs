//! The command line: parses arguments, wires the pipeline, maps outcomes to
//! exit codes. Nothing here knows about YAML or HTTP.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::error::{Error, exit};
use crate::execute::Options;
use crate::fsio;
use crate::redact::Redactor;
use crate::report::{self, Format, Out};
use crate::spec::LoadOptions;

#[derive(Parser)]
#[command(name = "runner", version, about = "Run API actions described in YAML")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the spec's steps in order.
    Apply(RunArgs),
    /// Print every request `apply` would send, sending nothing.
    Plan(RunArgs),
    /// Check specs without reading the environment or the network.
    Validate {
        /// Spec files to check.
        #[arg(required = true)]
        specs: Vec<PathBuf>,
        #[command(flatten)]
        files: FileArgs,
        /// Output format (`json`: `{"ok", "diagnostics": [...]}`).
        #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
        output: ValidateFormat,
    },
    /// List the actions of app catalogs.
    Actions {
        /// Specs to read (default: every spec under `./specs/`).
        specs: Vec<PathBuf>,
        /// Only this app's actions.
        #[arg(long)]
        app: Option<String>,
        /// Only actions that answer these words, best first (stemmed, with
        /// synonyms: "add webhook" finds create-webhook actions).
        #[arg(long, value_name = "WORDS")]
        query: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
        #[command(flatten)]
        files: FileArgs,
    },
    /// Show one action: its params, their types and places, and its auth.
    Describe {
        /// The action's name.
        action: String,
        /// Specs to read (default: every spec under `./specs/`).
        specs: Vec<PathBuf>,
        /// Output format (`json`: a tool definition whose `parameters` is a JSON Schema).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        output: Format,
        #[command(flatten)]
        files: FileArgs,
    },
    /// Write an app catalog from an API description.
    Import {
        #[command(subcommand)]
        from: Import,
    },
    /// Print the JSON Schema of spec files, for editors; given catalogs,
    /// one that also knows their actions and params.
    Schema {
        /// Catalogs whose actions steps may name (and what they include).
        specs: Vec<PathBuf>,
        #[command(flatten)]
        files: FileArgs,
    },
    /// Print a shell's completion script.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

#[derive(Subcommand)]
enum Import {
    /// From an OpenAPI 3.0 or 3.1 document (JSON or YAML).
    Openapi {
        /// The OpenAPI document (a file; `-` for standard input).
        source: PathBuf,
        /// The app's name in the catalog.
        #[arg(long)]
        app: String,
        /// The actions' name prefix (default: the app name upper-cased).
        #[arg(long)]
        prefix: Option<String>,
        /// Only operations with this tag (repeatable).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// Only the operation with this operationId (repeatable).
        #[arg(long = "operation", value_name = "ID")]
        operations: Vec<String>,
        /// A catalog whose actions' names become aliases (and whose
        /// keywords become keywords) of the operations with the same
        /// method and path (repeatable).
        #[arg(long = "aliases-from", value_name = "SPEC")]
        aliases_from: Vec<PathBuf>,
        /// Write the catalog here instead of standard output.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

#[derive(Args, Clone, Copy)]
struct FileArgs {
    /// Let specs name files outside the project root (the git work tree of
    /// the spec or, outside git, its directory): includes, sub-workflows,
    /// schemas and uploads (never `.env*`, `.git/`, `.runner/`, journals).
    #[arg(long)]
    allow_outside_root: bool,
}

impl FileArgs {
    fn load(&self) -> LoadOptions {
        LoadOptions {
            allow_outside_root: self.allow_outside_root,
        }
    }
}

/// `validate --output`.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ValidateFormat {
    Text,
    Json,
}

/// `--journal-sync`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum JournalSyncArg {
    Default,
    Strict,
}

#[derive(Args)]
struct RunArgs {
    /// The spec file.
    spec: PathBuf,
    #[command(flatten)]
    files: FileArgs,
    /// Override a var of the spec (a list or mapping var takes YAML: `--var 'repos=[a, b]'`).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_pair)]
    vars: Vec<(String, String)>,
    /// Read env vars from this file instead of `./.env`.
    #[arg(long, value_name = "PATH")]
    env_file: Option<PathBuf>,
    /// Let requests upload this exact file, wherever it is and whatever it
    /// is (outside the project root, a `.env`, under `.git`); repeatable.
    #[arg(long, value_name = "PATH")]
    allow_upload: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    output: Format,
    /// Also write the run as JUnit XML to this file, whatever `--output` is.
    #[arg(long, value_name = "FILE")]
    report_junit: Option<PathBuf>,
    /// Append the workflow's outputs to `$GITHUB_OUTPUT` (GitHub Actions).
    #[arg(long)]
    github_output: bool,
    /// Send requests for HOST:PORT to ADDR, like curl's `--resolve`.
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = parse_resolve)]
    resolve: Vec<(String, SocketAddr)>,
    /// Send an app's requests to another base URL (a stand-in or a staging API).
    #[arg(long = "base-url", value_name = "APP=URL", value_parser = parse_pair)]
    base_urls: Vec<(String, String)>,
    /// Allow credentials over plain http to hosts other than loopback.
    #[arg(long)]
    allow_http: bool,
    /// Whole-request time limit, unless a step or app sets its own (`30s`, `2m`).
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
    timeout: Option<Duration>,
    /// Connect time limit, unless a step or app sets its own.
    #[arg(long, value_name = "DURATION", value_parser = crate::units::parse_duration)]
    connect_timeout: Option<Duration>,
    /// Largest response body read (`16MiB` by default).
    #[arg(long, value_name = "SIZE", value_parser = crate::units::parse_size)]
    max_response_size: Option<usize>,
    /// Largest file a request uploads (`100MiB` by default); a larger one
    /// stops the run before anything is sent.
    #[arg(long, value_name = "SIZE", value_parser = crate::units::parse_size)]
    max_upload_size: Option<usize>,
    /// Journal the run to this file (default: `.runner/<spec>.jsonl` beside the spec).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["resume", "no_journal"])]
    journal: Option<PathBuf>,
    /// Keep no journal.
    #[arg(long, conflicts_with = "resume")]
    no_journal: bool,
    /// Continue a journalled run: skip what it records as done with the same request.
    #[arg(long, value_name = "FILE")]
    resume: Option<PathBuf>,
    /// On resume, send again a POST or PATCH that was in flight when the run stopped.
    #[arg(long, requires = "resume")]
    rerun_uncertain: bool,
    /// On resume, send again a completed POST or PATCH whose request changed since.
    #[arg(long, requires = "resume")]
    rerun_changed: bool,
    /// How the journal reaches the disk: `default` survives the death of the
    /// process, `strict` also power loss (each POST or PATCH waits for its
    /// record to be synced).
    #[arg(long, value_enum, value_name = "MODE", default_value_t = JournalSyncArg::Default)]
    journal_sync: JournalSyncArg,
    /// Give the workflow an input (YAML of the input's type: `--input 'repos=[a, b]'`).
    #[arg(long = "input", value_name = "NAME=VALUE", value_parser = parse_pair)]
    inputs: Vec<(String, String)>,
    /// Read inputs from this YAML or JSON file (a mapping of names to values).
    #[arg(long, value_name = "FILE")]
    inputs_file: Option<PathBuf>,
    /// Write the workflow's outputs to this file, as one JSON object
    /// (readable by its owner only; checked before the first request).
    #[arg(long, value_name = "FILE")]
    outputs_file: Option<PathBuf>,
    /// The instant `now()` gives (RFC 3339, UTC if no offset): for
    /// reproducible plans and runs. A resumed run keeps the journal's.
    #[arg(long, value_name = "TIME", value_parser = crate::template::time::parse_instant)]
    now: Option<String>,
    /// Run shard I of N: loops marked `shard: true` run the items whose
    /// index is I modulo N (0 ≤ I < N).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Trust this CA certificate (PEM) too, for private CAs.
    #[arg(long, value_name = "PATH")]
    cacert: Vec<PathBuf>,
    /// Do not check TLS certificates of the API (warned about on every run;
    /// credential sources are always checked).
    #[arg(long)]
    insecure: bool,
    /// Trace each request as sent on stderr (`-vv`: responses too), secrets masked.
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, found `{s}`")),
    }
}

fn parse_shard(s: &str) -> Result<(usize, usize), String> {
    let bad = || format!("expected I/N with 0 ≤ I < N (like `0/3`), found `{s}`");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (
        i.trim().parse().map_err(|_| bad())?,
        n.trim().parse().map_err(|_| bad())?,
    );
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

fn parse_resolve(s: &str) -> Result<(String, SocketAddr), String> {
    let bad =
        || format!("expected HOST:PORT:ADDR (like `api.github.com:443:127.0.0.1`), found `{s}`");
    let (host, rest) = s.split_once(':').ok_or_else(bad)?;
    let (port, addr) = rest.split_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let addr = addr.trim_start_matches('[').trim_end_matches(']');
    let ip: std::net::IpAddr = addr.parse().map_err(|_| bad())?;
    Ok((host.to_string(), SocketAddr::new(ip, port)))
}

/// Stack for the thread that runs `plan` and `apply`: values built by
/// templates nest as deep as their fuel allows, and dropping them recurses.
const STACK: usize = 64 << 20;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The other commands read documents whose depth the parsers bound, and
    // a thread with its own stack and heap arena costs a third of a
    // millisecond, a quarter of `validate`'s time.
    if !matches!(cli.command, Command::Apply(_) | Command::Plan(_)) {
        return run(cli);
    }
    match std::thread::Builder::new()
        .name("runner".into())
        .stack_size(STACK)
        .spawn(move || run(cli))
        .map(|t| t.join())
    {
        Ok(Ok(code)) => code,
        // The panic hook has already said what happened.
        Ok(Err(_)) => ExitCode::from(101),
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            ExitCode::from(exit::INVALID)
        }
    }
}

/// The longest one template may take to render.
const RENDER_LIMIT: Duration = Duration::from_secs(2);

/// Whether this is a GitHub Actions job (`GITHUB_ACTIONS=true`).
fn in_github_actions() -> bool {
    std::env::var_os("GITHUB_ACTIONS").is_some_and(|v| v == "true")
}

/// The CI reports `args` and the environment ask for. `--github-output`
/// without `$GITHUB_OUTPUT` is an error when `strict`.
fn ci(args: &RunArgs, strict: bool) -> Result<report::ci::Ci, Error> {
    let file = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let github = in_github_actions();
    let github_output = match (args.github_output, file("GITHUB_OUTPUT")) {
        (true, None) if strict => {
            return Err(Error::Environment(
                "`--github-output` needs `$GITHUB_OUTPUT`, the file GitHub Actions gives each step; it is not set".into(),
            ));
        }
        (true, path) => path,
        (false, _) => None,
    };
    Ok(report::ci::Ci {
        junit: args.report_junit.clone(),
        github,
        step_summary: file("GITHUB_STEP_SUMMARY").filter(|_| github),
        github_output,
    })
}

fn run(cli: Cli) -> ExitCode {
    let out = Out::new(Redactor::new());
    let out = if in_github_actions() {
        out.in_github_actions()
    } else {
        out
    };
    let format = match &cli.command {
        Command::Apply(a) | Command::Plan(a) => a.output,
        Command::Actions { output, .. } | Command::Describe { output, .. } => *output,
        Command::Validate { .. }
        | Command::Import { .. }
        | Command::Schema { .. }
        | Command::Completions { .. }
        | Command::Man => Format::Text,
    };
    let watchdog_out = out.clone();
    crate::template::watchdog::arm(RENDER_LIMIT, move || {
        let message = format!(
            "error: a template took longer than {} to compile or render and was stopped (a runaway template?)",
            crate::units::show(RENDER_LIMIT)
        );
        report::sink(format, &watchdog_out, None).stopped(&message);
        std::process::exit(i32::from(if crate::http::sent_any() {
            exit::STEP_FAILED
        } else {
            exit::INVALID
        }));
    });
    // Even a crash prints nothing unmasked.
    let hook_out = out.clone();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        hook_out.stderr(&format!(
            "runner crashed{at}: {message}\nthis is a bug; please report it"
        ));
    }));
    match cli.command {
        Command::Validate {
            specs,
            files,
            output,
        } => validate(&out, &specs, files, output),
        Command::Actions {
            specs,
            app,
            query,
            output,
            files,
        } => done(
            &out,
            actions(&out, &specs, app.as_deref(), &query, output, files),
        ),
        Command::Describe {
            action,
            specs,
            output,
            files,
        } => done(&out, describe(&out, &action, &specs, output, files)),
        Command::Import {
            from:
                Import::Openapi {
                    source,
                    app,
                    prefix,
                    tags,
                    operations,
                    aliases_from,
                    output,
                },
        } => {
            let known = match known_actions(&aliases_from) {
                Ok(known) => known,
                Err(e) => return done(&out, Err(e)),
            };
            let options = crate::import::Options {
                app,
                prefix,
                tags,
                operations,
                known,
            };
            done(&out, import(&out, &source, &options, output.as_deref()))
        }
        Command::Schema { specs, files } => done(&out, schema(&out, &specs, files)),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "runner", &mut script);
            out.stdout_raw(&String::from_utf8_lossy(&script));
            ExitCode::from(exit::OK)
        }
        Command::Man => done(&out, man(&out)),
        Command::Plan(args) => finish(&out, &args, plan(&out, &args)),
        Command::Apply(args) => finish(&out, &args, apply(&out, &args)),
    }
}

/// The exit code of a command; an error that stopped it before it ran is
/// reported in the command's format.
fn finish(out: &Out, args: &RunArgs, result: Result<u8, Error>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let spec = args.spec.display().to_string();
            let inner: Box<dyn report::Sink> = match args.output {
                Format::Junit => Box::new(report::JunitSink::named(out, &spec)),
                format => report::sink(format, out, None),
            };
            let ci = ci(args, false).unwrap_or_default();
            report::ci::sink(inner, out, ci, &spec, None).error(&e);
            e.exit_code()
        }
    }
}

/// The exit code of a command that prints its own results.
fn done(out: &Out, result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(e) => {
            out.stderr(&e.to_string());
            e.exit_code()
        }
    }
}

/// JUnit holds steps: `actions` and `describe` have none.
fn steps_only(format: Format) -> Result<(), Error> {
    match format {
        Format::Junit => Err(Error::Usage(
            "`--output junit` reports a run's steps (`apply`); here, use `text` or `json`".into(),
        )),
        _ => Ok(()),
    }
}

/// The specs to browse: those named, else every spec under `./specs/`.
fn catalog_specs(specs: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    if !specs.is_empty() {
        return Ok(specs.to_vec());
    }
    let found = crate::catalog::specs_under(std::path::Path::new("specs"));
    if found.is_empty() {
        return Err(Error::Usage(
            "no spec given, and no `./specs/` directory with specs in it".into(),
        ));
    }
    Ok(found)
}

fn actions(
    out: &Out,
    specs: &[PathBuf],
    app: Option<&str>,
    query: &[String],
    format: Format,
    files: FileArgs,
) -> Result<(), Error> {
    steps_only(format)?;
    let entries = crate::catalog::load(&catalog_specs(specs)?, files.load())?;
    if let Some(app) = app
        && !entries.iter().any(|e| e.app.name == app)
    {
        let mut apps: Vec<&str> = entries.iter().map(|e| e.app.name.as_str()).collect();
        apps.dedup();
        let help = crate::error::suggest(app, apps.iter().copied());
        return Err(Error::Usage(format!(
            "no app `{app}` in the specs read{help}"
        )));
    }
    let found = crate::catalog::filter(&entries, app, query);
    if found.entries.is_empty() && !query.is_empty() {
        let nearest: Vec<String> = found
            .nearest
            .iter()
            .map(|e| {
                format!(
                    "\n  {}  {}",
                    e.action.name,
                    crate::catalog::summary(&e.action)
                )
            })
            .collect();
        let query = query.join(" ");
        out.stderr(&if nearest.is_empty() {
            format!("no action answers `{query}`, nor any word like its words")
        } else {
            format!(
                "no action answers `{query}`; the nearest:{}",
                nearest.concat()
            )
        });
    }
    report::sink(format, out, None).actions(&found.entries);
    Ok(())
}

fn describe(
    out: &Out,
    action: &str,
    specs: &[PathBuf],
    format: Format,
    files: FileArgs,
) -> Result<(), Error> {
    steps_only(format)?;
    let entries = crate::catalog::load(&catalog_specs(specs)?, files.load())?;
    let entry = crate::catalog::find(&entries, action)?;
    report::sink(format, out, None).describe(entry);
    Ok(())
}

/// The largest API description read.
const MAX_DESCRIPTION: u64 = 64 << 20;

/// The actions of the catalogs at `paths`, for `--aliases-from`.
fn known_actions(paths: &[PathBuf]) -> Result<Vec<crate::import::Known>, Error> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let entries = crate::catalog::load(paths, LoadOptions::default())?;
    Ok(entries
        .iter()
        .map(|e| crate::import::Known {
            method: format!("{:?}", e.action.method),
            path: e.action.path.clone(),
            names: std::iter::once(&e.action.name)
                .chain(&e.aliases)
                .cloned()
                .collect(),
            keywords: e.action.keywords.clone(),
        })
        .collect())
}

fn import(
    out: &Out,
    source: &std::path::Path,
    options: &crate::import::Options,
    output: Option<&std::path::Path>,
) -> Result<(), Error> {
    let read = if source == std::path::Path::new("-") {
        fsio::read_capped(std::io::stdin().lock(), MAX_DESCRIPTION)
    } else {
        fsio::read_file(source, MAX_DESCRIPTION)
    };
    let text = read
        .and_then(fsio::text)
        .map_err(|e| Error::Usage(format!("cannot read `{}`: {e}", source.display())))?;
    let catalog = crate::import::openapi(&text, options)
        .map_err(|e| Error::Usage(format!("`{}`: {e}", source.display())))?;
    match output {
        Some(path) => std::fs::write(path, catalog).map_err(|e| {
            Error::Environment(format!(
                "cannot write `{}`: {}",
                path.display(),
                fsio::io_words(&e)
            ))
        }),
        None => {
            out.stdout_raw(&catalog);
            Ok(())
        }
    }
}

/// `runner schema [SPEC…]`: the schema of spec files, specialised to the
/// catalogs given.
fn schema(out: &Out, specs: &[PathBuf], files: FileArgs) -> Result<(), Error> {
    let base = crate::spec::schema::file();
    let text = if specs.is_empty() {
        serde_json::to_string_pretty(&base)
    } else {
        let entries = crate::catalog::load(specs, files.load())?;
        // An enum of no names would refuse every step that runs an action.
        if entries.is_empty() {
            return Err(Error::Usage(
                "the specs given define no actions; name the catalogs the workflows include, or give no spec for the plain schema".into(),
            ));
        }
        // On one line: indenting GitHub's 1,223 actions triples the size
        // (3.1 MB against 1.1), and the file is regenerated, never edited.
        serde_json::to_string(&crate::catalog::schema::specialise(base, &entries))
    }
    .unwrap_or_default();
    out.stdout_raw(&(text + "\n"));
    Ok(())
}

/// `runner man`: one page for the whole command line: the main page, then
/// a section per command with its synopsis, description and options.
fn man(out: &Out) -> Result<(), Error> {
    let mut command = Cli::command();
    command.build();
    let mut page = Vec::new();
    let failed = |e: std::io::Error| Error::Environment(format!("cannot render the man page: {e}"));
    clap_mangen::Man::new(command.clone())
        .render(&mut page)
        .map_err(failed)?;
    let mut sections = Vec::new();
    let mut pending: Vec<&clap::Command> = command.get_subcommands().collect();
    pending.reverse();
    while let Some(sub) = pending.pop() {
        if sub.get_name() == "help" {
            continue;
        }
        pending.extend(sub.get_subcommands().collect::<Vec<_>>().into_iter().rev());
        let name = sub.get_bin_name().unwrap_or(sub.get_name()).to_uppercase();
        let man = clap_mangen::Man::new(sub.clone());
        let mut parts = Vec::new();
        man.render_synopsis_section(&mut parts).map_err(failed)?;
        man.render_description_section(&mut parts).map_err(failed)?;
        man.render_options_section(&mut parts).map_err(failed)?;
        // clap_mangen renders each part as a section of a page of its own;
        // here they are subsections of the command's section.
        let parts = String::from_utf8_lossy(&parts)
            .replace(".SH SYNOPSIS\n", "")
            .replace(".SH DESCRIPTION\n", "")
            .replace(".SH OPTIONS\n", ".SS Options\n");
        sections.push(format!(".SH \"{name}\"\n{parts}"));
    }
    let page = String::from_utf8_lossy(&page);
    out.stdout_raw(&(page.into_owned() + &sections.concat()));
    Ok(())
}

fn validate(out: &Out, specs: &[PathBuf], files: FileArgs, output: ValidateFormat) -> ExitCode {
    use report::diagnostics::Found;
    let mut sink = report::sink(Format::Text, out, None);
    let mut code = exit::OK;
    let mut found = Vec::new();
    for path in specs {
        let name = path.display().to_string();
        match crate::load_with(path, files.load()) {
            Ok(wf) => {
                found.extend(wf.warnings.iter().map(|w| Found::from_diagnostic(w, &name)));
                if output == ValidateFormat::Text {
                    sink.valid(path, &wf);
                }
                // Freeing a checked workflow touches every part of it again
                // (a tenth of `validate`'s work), and the process ends soon.
                std::mem::forget(wf);
            }
            Err(e) => {
                found.extend(Found::from_error(&e, &name));
                if output == ValidateFormat::Text {
                    sink.error(&e);
                }
                code = exit::INVALID;
            }
        }
    }
    if output == ValidateFormat::Json {
        out.json(&report::diagnostics::document(&found));
    }
    if in_github_actions() {
        // Errors first: GitHub shows only so many of each kind.
        let mut annotations: Vec<_> = found.iter().map(Found::annotation).collect();
        annotations.sort_by_key(|a| a.level != crate::error::Level::Error);
        report::ci::annotate(out, &annotations);
    }
    ExitCode::from(code)
}

fn options(out: &Out, args: &RunArgs, apply: bool) -> Result<Options, Error> {
    let journal = match (&args.resume, &args.journal) {
        (Some(path), _) | (None, Some(path)) => Some(path.clone()),
        _ if args.no_journal || !apply => None,
        _ => Some(crate::execute::default_journal_path(&args.spec, args.shard)),
    };
    let cacerts = args
        .cacert
        .iter()
        .map(|p| {
            std::fs::read(p).map_err(|e| {
                Error::Environment(format!(
                    "cannot read `--cacert {}`: {}",
                    p.display(),
                    fsio::io_words(&e)
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let environment = crate::resolve::environment(args.env_file.as_deref())?;
    let proxies = crate::http::ProxyPolicy::from_env(|name| std::env::var(name).ok())
        .map_err(|e| Error::Environment(e.to_string()))?;
    Ok(Options {
        timeouts: crate::spec::Timeouts {
            connect: args.connect_timeout,
            request: args.timeout,
        },
        max_response_size: args.max_response_size,
        max_upload_size: args.max_upload_size.map(|n| n as u64),
        journal,
        resume: args.resume.is_some(),
        rerun_uncertain: args.rerun_uncertain,
        rerun_changed: args.rerun_changed,
        drop_responses: args.output != Format::Json,
        journal_sync: match args.journal_sync {
            JournalSyncArg::Default => crate::spec::JournalSync::Default,
            JournalSyncArg::Strict => crate::spec::JournalSync::Strict,
        },
        http: crate::http::Config {
            resolve: args.resolve.clone(),
            cacerts,
            insecure: args.insecure,
            proxies,
        },
        env: environment.vars,
        env_file_names: environment.from_file,
        env_file: args.env_file.clone(),
        allow_upload: args.allow_upload.clone(),
        vars: args.vars.clone(),
        base_urls: args.base_urls.clone(),
        allow_http: args.allow_http,
        redactor: out.redactor().clone(),
        shard: args.shard,
        now: args.now.clone(),
        verbosity: crate::execute::Verbosity::from_count(args.verbose),
        inputs: crate::execute::Inputs {
            args: args.inputs.clone(),
            file: match &args.inputs_file {
                Some(path) => inputs_file(path)?,
                None => serde_json::Map::new(),
            },
        },
    })
}

/// The largest `--inputs-file` read.
const MAX_INPUTS_FILE: u64 = 1 << 20;

/// `--inputs-file`: a YAML or JSON mapping, at most 1 MiB.
fn inputs_file(
    path: &std::path::Path,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let cannot = |what: &dyn std::fmt::Display| {
        Error::Environment(format!(
            "cannot read the inputs file `{}`: {what}",
            path.display()
        ))
    };
    let text = fsio::read_file(path, MAX_INPUTS_FILE)
        .and_then(fsio::text)
        .map_err(|e| cannot(&e))?;
    match serde_yaml::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(cannot(&"expected a mapping of input names to values")),
        Err(_) => Err(cannot(&"not valid YAML or JSON")),
    }
}

fn plan(out: &Out, args: &RunArgs) -> Result<u8, Error> {
    let wf = crate::load_with(&args.spec, args.files.load())?;
    let opts = options(out, args, false)?;
    if let Some(path) = &args.outputs_file {
        outputs_file::check(path)?;
    }
    let ci = ci(args, true)?;
    let plan = crate::plan(&wf, &opts)?;
    for w in &wf.warnings {
        out.stderr(&w.to_string());
    }
    let spec = args.spec.display().to_string();
    report::ci::sink(
        report::sink(args.output, out, Some(&wf)),
        out,
        ci,
        &spec,
        Some(&wf),
    )
    .plan(&plan);
    Ok(exit::OK)
}

fn apply(out: &Out, args: &RunArgs) -> Result<u8, Error> {
    let wf = crate::load_with(&args.spec, args.files.load())?;
    let opts = options(out, args, true)?;
    // Before the first request: a file that cannot be written stops the
    // run with nothing sent.
    if let Some(path) = &args.outputs_file {
        outputs_file::check(path)?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Environment(format!("cannot start the async runtime: {e}")))?;
    let spec = args.spec.display().to_string();
    let inner = report::sink(args.output, out, Some(&wf));
    let mut sink = report::ci::sink(inner, out, ci(args, true)?, &spec, Some(&wf));
    let report = runtime.block_on(crate::apply(&wf, &opts, sink.as_mut()))?;
    sink.finish(&report);
    if let Some(path) = &args.outputs_file {
        let outputs = out
            .redactor()
            .redact_json(&serde_json::Value::Object(report.outputs.clone()));
        let text = serde_json::to_string_pretty(&outputs).unwrap_or_default();
        if let Err(e) = outputs_file::write(path, &(text + "\n")) {
            out.stderr(&format!(
                "error: cannot write the outputs file `{}`: {}",
                path.display(),
                fsio::io_words(&e)
            ));
            return Ok(exit::STEP_FAILED.max(report.exit_code()));
        }
    }
    Ok(report.exit_code())
}

/// `--outputs-file`: checked before the run, written at its end through a
/// new file in the same directory renamed over it, so the file is whole or
/// untouched, never written through a symbolic link, readable by its owner
/// only (outputs may hold what responses said).
mod outputs_file {
    use std::fs::{File, OpenOptions};
    use std::io::Write;
    use std::path::{Path, PathBuf};

    use crate::error::Error;

    /// Whether the outputs can be written to `path`: not a symbolic link
    /// nor anything but a regular file, in a directory that takes a new
    /// file (one is created and removed to find out).
    pub(super) fn check(path: &Path) -> Result<(), Error> {
        let refuse = |why: String| {
            Error::Environment(format!(
                "cannot write the outputs file `{}`: {why}",
                path.display()
            ))
        };
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(
                    "it is a symbolic link; outputs are never written through one".into(),
                ));
            }
            Ok(m) if !m.is_file() => return Err(refuse("it is not a regular file".into())),
            _ if path.as_os_str().to_string_lossy().ends_with('/') => {
                return Err(refuse("it names a directory".into()));
            }
            _ => {}
        }
        let (file, temp) = create_temp(path).map_err(|e| refuse(reason(path, &e)))?;
        drop(file);
        std::fs::remove_file(&temp).map_err(|e| refuse(reason(path, &e)))
    }

    /// Writes `text` to a new file beside `path`, then renames it over
    /// `path` (a link there is replaced, never followed).
    pub(super) fn write(path: &Path, text: &str) -> std::io::Result<()> {
        let (mut file, temp) = create_temp(path)?;
        let written = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&temp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }

    /// The directory `path` is in (`.` for a bare file name).
    fn dir(path: &Path) -> &Path {
        match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        }
    }

    /// A new, empty file beside `path`, owner-only, never an existing one
    /// or a link.
    fn create_temp(path: &Path) -> std::io::Result<(File, PathBuf)> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "outputs".into());
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
        }
        loop {
            let temp = dir(path).join(format!(
                ".{name}.{}.{:08x}.tmp",
                std::process::id(),
                fastrand::u32(..)
            ));
            match options.open(&temp) {
                Ok(file) => return Ok((file, temp)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Why a file cannot be created beside `path`, in words.
    fn reason(path: &Path, e: &std::io::Error) -> String {
        let dir = dir(path);
        match e.kind() {
            std::io::ErrorKind::NotFound => {
                format!("its directory `{}` does not exist", dir.display())
            }
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
                format!("its directory `{}` is not writable", dir.display())
            }
            std::io::ErrorKind::NotADirectory => {
                format!("`{}` is not a directory", dir.display())
            }
            _ => crate::fsio::io_words(e),
        }
    }
}
