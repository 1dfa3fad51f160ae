//! The `dockside` binary: parse flags, set up logging, then hand over to `dockside::app`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use dockside::config::{Cli, Command, Config};

/// mimalloc: hyper allocates and frees a read buffer per message, which glibc's and musl's
/// allocators make a visible cost (docs/benchmarks.md, "Figures behind choices in the code").
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let command = cli.command.unwrap_or(Command::Run);
    let config = match Config::from_sources(cli.flags, |name| std::env::var(name).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dockside: {e:#}");
            return ExitCode::from(2);
        }
    };
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match command {
        Command::Run => finish(runtime.block_on(dockside::app::run(config))),
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
/// terminal: `docker logs` and journald get plain text.
fn init_tracing() {
    let directives = log_directives(std::env::var("RUST_LOG").ok().as_deref());
    let filter = tracing_subscriber::EnvFilter::try_new(&directives)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(log_directives(None)));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
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
