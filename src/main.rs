//! The `dockside` binary: parse flags, set up logging, then hand over to `dockside::app`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use dockside::config::{Cli, Command, Config};

/// mimalloc: hyper allocates and frees a read buffer per message; glibc's malloc spends ~10 %
/// of a proxied request there (perf), and musl's (static builds) is slower still.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        None | Some(Command::Run) => serve(cli),
        Some(Command::Check) | Some(Command::Healthcheck) => {
            eprintln!("dockside: this subcommand is not available yet in this build");
            ExitCode::from(2)
        }
    }
}

fn serve(cli: Cli) -> ExitCode {
    let config = match Config::try_from(cli.flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dockside: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dockside: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dockside::app::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dockside: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Human-readable lines on stderr; `RUST_LOG` filters (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
