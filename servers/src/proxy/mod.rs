//! `sixgate proxy`: the dual-stack edge. Reads the TLS ClientHello's SNI or
//! the HTTP Host (core `tls`, `http`), or maps a port, and relays the raw
//! connection to an IPv6-only backend, telling it who the client was (PROXY
//! protocol, or a NAT46 source address). See docs/proxy.md.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

mod config;
mod dynamic;
mod forward;
mod metrics;
mod route;
mod server;

use config::{Config, Flags};
use server::{Runtime, Shared};

use crate::common::{config_and_flags, flag_value, parse_duration, parse_listen, ConfigError};

/// `sixgate proxy` flags. Those that define listeners and routes build the
/// same config a file would; the limit flags also override a file.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// Config file (TOML). Cannot be combined with the listener and route flags.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the config (file or flags), print a summary and exit.
    #[arg(long)]
    check: bool,
    /// Listen for TLS here and route by SNI (repeatable), e.g. 0.0.0.0:443, [::]:443.
    #[arg(long = "tls-listen", value_name = "ADDR")]
    tls_listen: Vec<String>,
    /// Listen for HTTP here and route by Host (repeatable).
    #[arg(long = "http-listen", value_name = "ADDR")]
    http_listen: Vec<String>,
    /// Map a port to one backend (repeatable), e.g. 0.0.0.0:2201=[2001:db8::10]:22.
    #[arg(long = "tcp-listen", value_name = "ADDR=BACKEND")]
    tcp_listen: Vec<String>,
    /// Route a name (exact or *.suffix) to a backend on every TLS and HTTP
    /// listener (repeatable; the same name again adds a backend).
    #[arg(long, value_name = "NAME=BACKEND")]
    route: Vec<String>,
    /// Where names no route matches (and IP literals, absent SNI) go.
    #[arg(long = "default-backend", value_name = "BACKEND")]
    default_backend: Option<String>,
    /// Port for backends written without one (default: the port the client used).
    #[arg(long = "backend-port", value_name = "PORT")]
    backend_port: Option<u16>,
    /// Send a PROXY protocol header to every backend: v1 or v2.
    #[arg(long = "proxy-protocol", value_name = "VERSION")]
    proxy_protocol: Option<String>,
    /// Connect to backends from this prefix with an IPv4 client's address
    /// embedded (NAT46 source mode, RFC 6052).
    #[arg(long = "nat46-prefix", value_name = "PREFIX")]
    nat46_prefix: Option<String>,
    /// Zero-config mode: forward unrouted names to their AAAA if it is in
    /// one of these prefixes (repeatable).
    #[arg(long = "allowed-backend", value_name = "PREFIX")]
    allowed_backend: Vec<String>,
    /// Zero-config mode: only names under these suffixes (repeatable).
    #[arg(long = "dynamic-suffix", value_name = "NAME")]
    dynamic_suffix: Vec<String>,
    /// Zero-config mode: the resolver to ask (default: /etc/resolv.conf's first).
    #[arg(long, value_name = "ADDR")]
    resolver: Option<String>,
    /// Accept a PROXY v1/v2 header from these front proxies (repeatable).
    #[arg(long = "accept-proxy-from", value_name = "PREFIX")]
    accept_proxy_from: Vec<String>,
    /// Serve Prometheus /metrics here (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Time allowed to read the whole ClientHello or request head.
    #[arg(long = "hello-timeout", value_name = "DURATION")]
    hello_timeout: Option<String>,
    /// Time allowed for each backend connect.
    #[arg(long = "connect-timeout", value_name = "DURATION")]
    connect_timeout: Option<String>,
    /// Close a forwarded connection idle this long in both directions.
    #[arg(long = "idle-timeout", value_name = "DURATION")]
    idle_timeout: Option<String>,
    /// Most connections open at once.
    #[arg(long = "max-connections", value_name = "N")]
    max_connections: Option<u32>,
    /// Most connections open at once from one client (IPv4 address or IPv6 /64).
    #[arg(long = "max-connections-per-client", value_name = "N")]
    max_connections_per_client: Option<u32>,
    /// How relayed bytes move: splice (a buffer for the first 256 KiB of each
    /// direction, then splice(2) through a kernel pipe) or buffer (read/write only).
    #[arg(long, value_name = "HOW", default_value = "splice", value_parser = ["splice", "buffer"])]
    copier: String,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
}

impl ProxyArgs {
    fn flags(&self) -> Flags {
        Flags {
            tls_listen: self.tls_listen.clone(),
            http_listen: self.http_listen.clone(),
            tcp_listen: self.tcp_listen.clone(),
            route: self.route.clone(),
            default_backend: self.default_backend.clone(),
            proxy_protocol: self.proxy_protocol.clone(),
            nat46_prefix: self.nat46_prefix.clone(),
            allowed_backend: self.allowed_backend.clone(),
            dynamic_suffix: self.dynamic_suffix.clone(),
            resolver: self.resolver.clone(),
            accept_proxy_from: self.accept_proxy_from.clone(),
            backend_port: self.backend_port,
        }
    }

    /// Loads the config from the file or the flags, with the override flags
    /// applied.
    fn load(&self) -> Result<Config, ConfigError> {
        let flags = self.flags();
        let mut config = match &self.config {
            Some(path) if flags.defines_anything() => {
                return Err(config_and_flags(
                    path,
                    "the flags that define listeners and routes",
                ))
            }
            Some(path) => config::load(path)?,
            None => config::from_flags(&flags)?,
        };
        self.apply_overrides(&mut config)?;
        Ok(config)
    }

    fn apply_overrides(&self, c: &mut Config) -> Result<(), ConfigError> {
        let limits = &mut c.limits;
        for (flag, value, into) in [
            (
                "--hello-timeout",
                &self.hello_timeout,
                &mut limits.hello_timeout,
            ),
            (
                "--connect-timeout",
                &self.connect_timeout,
                &mut limits.connect_timeout,
            ),
            (
                "--idle-timeout",
                &self.idle_timeout,
                &mut limits.idle_timeout,
            ),
        ] {
            if let Some(d) = flag_value(flag, value.as_ref(), parse_duration)? {
                *into = d;
            }
        }
        for (flag, value, into) in [
            (
                "--max-connections",
                self.max_connections,
                &mut limits.max_connections,
            ),
            (
                "--max-connections-per-client",
                self.max_connections_per_client,
                &mut limits.max_connections_per_client,
            ),
        ] {
            if let Some(v) = value {
                if v == 0 {
                    return Err(ConfigError::flag(flag, "0", "the least is 1".into()));
                }
                *into = v;
            }
        }
        if let Some(m) = flag_value("--metrics", self.metrics.as_ref(), |m| {
            parse_listen(m, 9464)
        })? {
            c.metrics = Some(m);
        }
        Ok(())
    }
}

/// Runs `sixgate proxy`. A config error is returned as such (exit 2).
pub(crate) fn run(args: ProxyArgs) -> anyhow::Result<()> {
    let config = args.load()?;
    if args.check {
        let rt = Runtime::new(config);
        let origin = args
            .config
            .as_ref()
            .map_or_else(|| "flags".to_owned(), |p| p.display().to_string());
        println!("{origin}: ok");
        for (i, l) in rt.config.listeners.iter().enumerate() {
            let listen: Vec<String> = l.listen.iter().map(ToString::to_string).collect();
            let what = match (&l.default_target, l.mode) {
                (Some(t), config::Mode::Tcp) => format!("to {}", t.backends[0]),
                _ => format!("{} names", rt.routes_on(i)),
            };
            println!(
                "  listener {} ({}) on {}: {what}",
                l.name,
                l.mode.as_str(),
                listen.join(", ")
            );
        }
        if let Some(d) = &rt.config.dynamic {
            let allowed: Vec<String> = d.allowed_backends.iter().map(ToString::to_string).collect();
            println!(
                "  dynamic: AAAA via {} within {}",
                d.resolver,
                allowed.join(", ")
            );
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
    runtime.block_on(serve(args, config))
}

async fn serve(args: ProxyArgs, config: Config) -> anyhow::Result<()> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!("open-file limit {n}"),
        Err(e) => tracing::warn!("could not raise the open-file limit: {e}"),
    }
    let names = config.listeners.iter().map(|l| l.name.clone()).collect();
    let metrics = Arc::new(metrics::Metrics::new(names));
    let metrics_addr = config.metrics;
    let listeners = config.listeners.clone();
    let rt = Runtime::new(config);
    if rt.config.routes.is_empty()
        && rt.config.dynamic.is_none()
        && rt
            .config
            .listeners
            .iter()
            .any(|l| l.mode != config::Mode::Tcp && l.default_target.is_none())
    {
        tracing::warn!(
            "no routes: every TLS and HTTP connection will be refused (add --route NAME=BACKEND)"
        );
    }
    let copier = if args.copier == "splice" {
        forward::Copier::Splice
    } else {
        forward::Copier::Buffer
    };
    let shared = Arc::new(Shared::new(rt, metrics.clone(), copier));

    let mut sockets = Vec::new();
    for (i, l) in listeners.iter().enumerate() {
        for addr in &l.listen {
            // [::]:P is IPv6-only when some listener also takes IPv4 on P.
            let v6_only = listeners
                .iter()
                .flat_map(|l| &l.listen)
                .any(|a| a.is_ipv4() && a.port() == addr.port());
            let socket = server::bind(*addr, v6_only)
                .with_context(|| format!("listener {}: cannot listen on {addr}", l.name))?;
            let bound = socket.local_addr().unwrap_or(*addr);
            tracing::info!(
                "listening listener={} mode={} addr={bound}",
                l.name,
                l.mode.as_str()
            );
            sockets.push((i, socket));
        }
    }
    if let Some(addr) = metrics_addr {
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
    tokio::spawn(server::flood_logger(shared.clone()));
    for (i, socket) in sockets {
        tokio::spawn(server::accept_loop(shared.clone(), i, socket));
    }

    crate::common::until_stopped(|| reload(&args, &shared)).await
}

/// SIGHUP: re-reads the config file; applies it to new connections if it is
/// valid and its listeners are the same, else keeps the old one.
fn reload(args: &ProxyArgs, shared: &Shared) {
    let Some(path) = &args.config else {
        tracing::info!("SIGHUP: the config came from flags; nothing to reload");
        return;
    };
    let new = match args.load() {
        Ok(c) => c,
        Err(e) => {
            shared.metrics.reload(false);
            tracing::warn!("reload failed, keeping the running config: {e}");
            return;
        }
    };
    let old = shared.runtime();
    let shape = |c: &Config| -> Vec<(String, config::Mode, Vec<std::net::SocketAddr>)> {
        c.listeners
            .iter()
            .map(|l| (l.name.clone(), l.mode, l.listen.clone()))
            .collect()
    };
    if shape(&old.config) != shape(&new) {
        shared.metrics.reload(false);
        tracing::warn!(
            "reload failed, keeping the running config: {}: listeners (names, modes, addresses) changed; restart to apply",
            path.display()
        );
        return;
    }
    if old.config.metrics != new.metrics {
        tracing::warn!("reload: the metrics address changed; it takes effect on restart");
    }
    shared.replace(Runtime::new(new));
    shared.metrics.reload(true);
    tracing::info!("reloaded config file={}", path.display());
}
