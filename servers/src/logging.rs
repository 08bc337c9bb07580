//! Log set-up for the servers: plain lines on stderr (journald adds its own
//! timestamps under systemd, but a terminal wants them), no colour unless
//! stderr is a terminal. `RUST_LOG` sets the level: error, warn, info
//! (default), debug or trace.

use std::io::IsTerminal;

use tracing::Level;

/// Installs the subscriber; call once, before the runtime starts.
pub(crate) fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.trim().parse::<Level>().ok())
        .unwrap_or(Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_max_level(level)
        .with_target(false)
        .init();
}
