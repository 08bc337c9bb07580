//! `sixgate dns64`: a forwarding DNS64 resolver (RFC 6147). The core's
//! sans-IO engine ([`sixgate::dns64`]) decides what to ask and what to
//! answer; this module owns the sockets, the upstreams, the client ACL and
//! the metrics. It is never an open resolver: only loopback and the
//! `--allow` prefixes get answers, everyone else REFUSED.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

mod config;
mod metrics;
mod server;
mod upstream;

use config::{Config, Flags};

use crate::common::{config_and_flags, flag_value, parse_duration, parse_listen, ConfigError};
use server::Shared;

/// `sixgate dns64` flags. Those that define the service build the same
/// config a file would; `--timeout` and `--metrics` also override a file.
#[derive(Debug, Args)]
pub(crate) struct Dns64Args {
    /// Config file (TOML). Cannot be combined with the flags that define
    /// listeners, upstreams, prefixes and the ACL.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the config (file or flags), print a summary and exit.
    #[arg(long)]
    check: bool,
    /// Answer UDP and TCP queries here (repeatable; default 127.0.0.1:5353
    /// and [::1]:5353). Port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    listen: Vec<String>,
    /// Upstream resolver, IP or IP:port (repeatable, tried in order;
    /// default: the nameservers of /etc/resolv.conf, port 53).
    #[arg(long, value_name = "ADDR")]
    upstream: Vec<String>,
    /// NAT64 prefix to synthesise under (repeatable; default 64:ff9b::/96).
    #[arg(long, value_name = "PREFIX")]
    prefix: Vec<String>,
    /// Also answer clients in this prefix (repeatable); loopback is always
    /// allowed unless --no-default-allow, everyone else gets REFUSED.
    #[arg(long, value_name = "PREFIX")]
    allow: Vec<String>,
    /// Drop the implicit loopback entry from the client ACL.
    #[arg(long = "no-default-allow")]
    no_default_allow: bool,
    /// Synthesise non-global IPv4 (RFC 1918 and the like) under the
    /// well-known prefix too (RFC 6052 §3.1 forbids it by default).
    #[arg(long = "allow-non-global")]
    allow_non_global: bool,
    /// Time allowed for each upstream try (default 2s).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<String>,
    /// Serve Prometheus /metrics here (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

impl Dns64Args {
    fn flags(&self) -> Flags {
        Flags {
            listen: self.listen.clone(),
            upstream: self.upstream.clone(),
            prefix: self.prefix.clone(),
            allow: self.allow.clone(),
            allow_non_global: self.allow_non_global,
            no_default_allow: self.no_default_allow,
        }
    }

    /// Loads the config from the file or the flags, with the override flags
    /// applied.
    fn load(&self) -> Result<Config, ConfigError> {
        let flags = self.flags();
        let mut config = match &self.config {
            Some(path) if flags.defines_anything() => return Err(config_and_flags(
                path,
                "--listen, --upstream, --prefix, --allow, --no-default-allow or --allow-non-global",
            )),
            Some(path) => config::load(path)?,
            None => config::from_flags(&flags)?,
        };
        if let Some(t) = flag_value("--timeout", self.timeout.as_ref(), parse_duration)? {
            config.timeout = t;
        }
        if let Some(m) = flag_value("--metrics", self.metrics.as_ref(), |m| {
            parse_listen(m, 9464)
        })? {
            config.metrics = Some(m);
        }
        Ok(config)
    }
}

/// Runs `sixgate dns64`. A config error is returned as such (exit 2).
pub(crate) fn run(args: Dns64Args) -> anyhow::Result<()> {
    let config = args.load()?;
    if args.check {
        let origin = args
            .config
            .as_ref()
            .map_or_else(|| "flags".to_owned(), |p| p.display().to_string());
        let join = |v: Vec<String>| v.join(", ");
        println!("{origin}: ok");
        println!(
            "  listen: {}",
            join(config.listen.iter().map(ToString::to_string).collect())
        );
        println!(
            "  upstreams: {} (timeout {:?} each)",
            join(config.upstreams.iter().map(ToString::to_string).collect()),
            config.timeout
        );
        println!(
            "  prefixes: {}",
            join(
                config
                    .engine
                    .prefixes()
                    .iter()
                    .map(ToString::to_string)
                    .collect()
            )
        );
        let mut allow: Vec<String> = Vec::new();
        if config.acl.loopback {
            allow.push("loopback".into());
        }
        allow.extend(config.acl.nets.iter().map(ToString::to_string));
        println!("  allow: {}", join(allow));
        if let Some(m) = config.metrics {
            println!("  metrics: {m}");
        }
        return Ok(());
    }
    crate::logging::init();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if let Some(n) = args.workers {
        builder.worker_threads(n.max(1));
    }
    let runtime = builder.build().context("starting the runtime")?;
    runtime.block_on(serve(config))
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let metrics = Arc::new(metrics::Metrics::default());
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for &addr in &config.listen {
        match bind_pair(addr) {
            Ok((u, t)) => {
                let bound = u.local_addr().unwrap_or(addr);
                tracing::info!("listening proto=udp addr={bound}");
                let bound = t.local_addr().unwrap_or(addr);
                tracing::info!("listening proto=tcp addr={bound}");
                udp.push(u);
                tcp.push(t);
            }
            Err(e) if config.default_listen && addr.is_ipv6() => {
                tracing::warn!("cannot listen on {addr} ({e}); serving IPv4 only");
            }
            Err(e) => return Err(e).with_context(|| format!("cannot listen on {addr}")),
        }
    }
    if udp.is_empty() {
        anyhow::bail!("no address to listen on");
    }
    let non_loopback = config
        .upstreams
        .iter()
        .filter(|u| !u.ip().is_loopback())
        .count();
    tracing::info!(
        "upstreams {} ({} non-loopback), timeout {:?}",
        config
            .upstreams
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        non_loopback,
        config.timeout
    );
    if let Some(addr) = config.metrics {
        if !addr.ip().is_loopback() {
            tracing::warn!(
                "metrics on {addr}, which is not loopback: anyone who can reach it can read them"
            );
        }
        let socket = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("metrics: cannot listen on {addr}"))?;
        tracing::info!(
            "serving metrics addr={}",
            socket.local_addr().unwrap_or(addr)
        );
        let m = metrics.clone();
        tokio::spawn(crate::common::serve_metrics(socket, move || m.render()));
    }
    let shared = Arc::new(Shared::new(config, metrics));
    for u in udp {
        tokio::spawn(server::udp_loop(shared.clone(), u));
    }
    for t in tcp {
        tokio::spawn(server::tcp_loop(shared.clone(), t));
    }

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .context("installing the SIGHUP handler")?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::warn!("SIGHUP: reloading is not supported yet; restart to apply a new config");
            }
            _ = term.recv() => {
                tracing::info!("SIGTERM: stopping");
                return Ok(());
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted: stopping");
                return Ok(());
            }
        }
    }
}

/// Binds UDP and TCP on one address; for port 0, the same free port for
/// both.
fn bind_pair(
    addr: std::net::SocketAddr,
) -> std::io::Result<(tokio::net::UdpSocket, tokio::net::TcpListener)> {
    if addr.port() != 0 {
        return Ok((server::bind_udp(addr)?, server::bind_tcp(addr)?));
    }
    let mut last = None;
    for _ in 0..20 {
        let u = server::bind_udp(addr)?;
        let port = u.local_addr()?.port();
        let mut a = addr;
        a.set_port(port);
        match server::bind_tcp(a) {
            Ok(t) => return Ok((u, t)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}
