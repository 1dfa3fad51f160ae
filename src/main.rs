//! The `dockside` binary: parse flags, set up logging, then hand over to `dockside::app`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use dockside::config::{Cli, Command, Config};
use dockside::telemetry::{TraceSettings, Traces};
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// mimalloc: hyper allocates and frees a read buffer per message, which glibc's and musl's
/// allocators make a visible cost (docs/benchmarks.md, "Figures behind choices in the code").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Run);
    // The log output for good needs the settings (traces) and the runtime (their export):
    // until then, the same output, scoped to reading the settings (whose warnings it logs).
    let config = {
        let _logs = tracing::subscriber::set_default(log_output());
        Config::from_sources(cli.flags, |name| std::env::var(name).ok())
    };
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dockside: {e:#}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    // Only a serving dockside exports traces; `check` and the others just log.
    let traces = config
        .traces
        .as_ref()
        .filter(|_| matches!(command, Command::Run));
    let traces = match init_tracing(traces, runtime.handle()) {
        Ok(traces) => traces,
        Err(e) => {
            eprintln!("dockside: traces: {e:#}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Run => {
            let result = runtime.block_on(dockside::app::run(config));
            // The runtime still runs: the last spans are exported on it.
            if let Some(traces) = traces {
                traces.shutdown();
            }
            finish(result)
        }
        Command::Check { json } => {
            let report = match json {
                false => runtime.block_on(dockside::app::check(&config)),
                true => runtime.block_on(dockside::app::check_json(&config)),
            };
            match report {
                Ok(report) => {
                    print!("{report}");
                    ExitCode::SUCCESS
                }
                Err(e) => finish(Err(e)),
            }
        }
        Command::Routes { json } => routes(&runtime, &config, json),
        Command::Renew { force, hosts } => renew(&runtime, &config, hosts, force),
        Command::Healthcheck => {
            let Some(addr) = config.admin else {
                eprintln!(
                    "dockside: the admin listener is off (DOCKSIDE_ADMIN=off): nothing to check"
                );
                return ExitCode::FAILURE;
            };
            if runtime.block_on(dockside::admin::healthcheck(addr)) {
                ExitCode::SUCCESS
            } else {
                eprintln!("dockside: no healthy answer from http://{addr}/healthz");
                ExitCode::FAILURE
            }
        }
    }
}

/// `dockside renew`: prints the running instance's answer; fails unless every host was known.
fn renew(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    hosts: Vec<String>,
    force: bool,
) -> ExitCode {
    let Some(addr) = config.admin else {
        eprintln!(
            "dockside: the admin listener is off (DOCKSIDE_ADMIN=off): cannot reach the running dockside"
        );
        return ExitCode::FAILURE;
    };
    match runtime.block_on(dockside::admin::request_renew(
        addr,
        config.admin_auth.token(),
        hosts,
        force,
    )) {
        Ok((status, body)) => {
            print!("{body}");
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("dockside: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `dockside routes`: the running instance's model, as text or JSON.
fn routes(runtime: &tokio::runtime::Runtime, config: &Config, json: bool) -> ExitCode {
    let Some(addr) = config.admin else {
        eprintln!(
            "dockside: the admin listener is off (DOCKSIDE_ADMIN=off): cannot reach the running dockside"
        );
        return ExitCode::FAILURE;
    };
    match runtime.block_on(dockside::admin::fetch_overview(
        addr,
        config.admin_auth.token(),
    )) {
        Ok(view) if json => match serde_json::to_string_pretty(&view) {
            Ok(text) => {
                println!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => finish(Err(e.into())),
        },
        Ok(view) => {
            print!("{}", dockside::admin::api::render_text(&view));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dockside: {e}");
            ExitCode::FAILURE
        }
    }
}

fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dockside: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("dockside: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Human-readable lines on stderr; `RUST_LOG` filters (default `info`). Colours only on a
/// terminal: `docker logs` and journald get plain text. With `traces`, the request spans also
/// go to the OpenTelemetry layer (and never into the log lines); the returned handle flushes it.
fn init_tracing(
    traces: Option<&TraceSettings>,
    runtime: &tokio::runtime::Handle,
) -> anyhow::Result<Option<Traces>> {
    let Some(settings) = traces else {
        log_output().init();
        return Ok(None);
    };
    let (otel, traces) = dockside::telemetry::layer(settings, runtime.clone())?;
    let mut filter = log_filter();
    if let Ok(hidden) = format!("{}=off", dockside::telemetry::TARGET).parse() {
        filter = filter.add_directive(hidden);
    }
    let output = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(filter);
    tracing_subscriber::registry()
        .with(output)
        .with(otel)
        .init();
    Ok(Some(traces))
}

/// The log output alone (traces off, and while the settings are read).
fn log_output() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_env_filter(log_filter())
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .finish()
}

fn log_filter() -> tracing_subscriber::EnvFilter {
    let directives = log_directives(std::env::var("RUST_LOG").ok().as_deref());
    tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_directives(None)))
}

/// `RUST_LOG` (or `info`), with rustls capped at `error` unless `RUST_LOG` names it: rustls
/// warns about what a client sent (an IP address as SNI, which wrk and some monitors send on
/// every connection, or an unknown extension), one line per handshake; our own handshake
/// failures are logged with the client address at debug level.
fn log_directives(env: Option<&str>) -> String {
    let base = env
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .unwrap_or("info");
    if base.contains("rustls") {
        base.to_owned()
    } else {
        format!("{base},rustls=error")
    }
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;
