//! `sixgate`: the one binary of the toolkit. Each subcommand is a thin shell
//! around the pure `sixgate` core crate.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod addr;
mod common;
mod dns64;
mod logging;
mod nat64;
mod plan;
mod proxy;

/// IPv6-only hosting toolkit: DNS64, NAT64, inbound proxy and address helpers.
#[derive(Debug, Parser)]
#[command(name = "sixgate", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Address helpers for shell scripts and panels: RFC 6052 synthesis and
    /// extraction, normalising, PTR names, reverse zones, config formatting.
    #[command(subcommand)]
    Addr(addr::AddrCommand),
    /// Inbound proxy: route TLS by SNI, HTTP by Host and mapped ports to
    /// IPv6-only backends, without terminating TLS (see docs/proxy.md).
    Proxy(Box<proxy::ProxyArgs>),
    /// Forwarding DNS64 resolver (RFC 6147): synthesises AAAA from A under
    /// NAT64 prefixes for IPv6-only clients.
    Dns64(Box<dns64::Dns64Args>),
    /// Stateful NAT64 gateway (RFC 6146) on a TUN device: translates
    /// between a NAT64 prefix and an IPv4 pool (see docs/nat64.md).
    Nat64(Box<nat64::Nat64Args>),
    /// Address plans for panels: pools within pools (provider block, site,
    /// customer prefix, host address), allocation, release with hold-down,
    /// lookup, free space and DNS records, on one plan file (see docs/plan.md).
    Plan(Box<plan::PlanArgs>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let (result, json) = match cli.command {
        Command::Addr(cmd) => {
            let json = cmd.json();
            (addr::run(cmd), json)
        }
        Command::Proxy(args) => return server_exit(proxy::run(*args)),
        Command::Dns64(args) => return server_exit(dns64::run(*args)),
        Command::Nat64(args) => return server_exit(nat64::run(*args)),
        Command::Plan(args) => return plan::run(*args),
    };
    match result {
        Ok(out) => emit(&out, json),
        Err(err) => {
            // One clear line on stderr, nothing on stdout (the whole input is
            // checked before anything is printed).
            eprintln!("sixgate: error: {err}");
            ExitCode::from(2)
        }
    }
}

/// The exit of a server: 0 when it stopped cleanly, 2 for a config error
/// (the message names the file, line and key), 1 for anything else.
fn server_exit(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("sixgate: error: {err:#}");
            if err.downcast_ref::<common::ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// Prints a finished result. A closed pipe (`sixgate addr … | head -1`) ends
/// the program quietly rather than with a panic.
fn emit(out: &addr::Output, json: bool) -> ExitCode {
    let text = if json { out.to_json() } else { out.to_plain() };
    let mut stdout = io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sixgate: error: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}
