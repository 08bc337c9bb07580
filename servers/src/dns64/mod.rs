//! `sixgate dns64`: a forwarding DNS64 resolver (RFC 6147). The core's
//! sans-IO engine ([`sixgate::dns64`]) decides what to ask and what to
//! answer; this module owns the sockets, the upstreams, the client ACL and
//! the metrics. It is never an open resolver: only loopback and the
//! `--allow` prefixes get answers, everyone else REFUSED.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

mod cache;
mod config;
mod limit;
mod metrics;
mod server;
mod upstream;

use config::{Config, Flags};

use crate::common::{
    config_and_flags, flag_value, parse_duration, parse_listen, parse_size, ConfigError,
};
use server::{Shared, State};

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
    /// AAAA records in this range are not usable: dropped, and synthesis
    /// happens when none is left (repeatable; replaces the default
    /// ::ffff:0:0/96; `none` excludes nothing).
    #[arg(long = "exclude-aaaa", value_name = "PREFIX")]
    exclude_aaaa: Vec<String>,
    /// Never synthesise from IPv4 addresses in this range (repeatable).
    #[arg(long = "never-map", value_name = "PREFIX")]
    never_map: Vec<String>,
    /// Ignore real AAAA records of this name and every name under it, and
    /// always synthesise (repeatable): a site with broken IPv6.
    #[arg(long, value_name = "NAME")]
    force: Vec<String>,
    /// Leave this name and every name under it alone: no DNS64
    /// (repeatable).
    #[arg(long = "exclude-name", value_name = "NAME")]
    exclude_name: Vec<String>,
    /// When the AAAA query fails (SERVFAIL, timeout), answer the failure
    /// instead of synthesising from A (RFC 6147 §5.1.2 says synthesise).
    #[arg(long = "no-synthesis-on-error")]
    no_synthesis_on_error: bool,
    /// Mark synthesised answers with Extended DNS Error 29 (RFC 8914).
    #[arg(long = "extended-error")]
    extended_error: bool,
    /// Forward queries with CD set without synthesis, as Unbound does.
    #[arg(long = "cd-disables-synthesis")]
    cd_disables_synthesis: bool,
    /// Per-client policy: clients in NET use these prefixes, or no DNS64 at
    /// all with `off` (repeatable; longest NET wins). E.g.
    /// 2001:db8:1::/48=2001:db8:64::/96 or 2001:db8:2::/48=off.
    #[arg(long, value_name = "NET=PREFIX|off")]
    client: Vec<String>,
    /// Answer cache size (default 64M; 0 turns the cache off).
    #[arg(long = "cache-size", value_name = "SIZE")]
    cache_size: Option<String>,
    /// Answer each client (IPv4 address or IPv6 /64) at most this many
    /// queries a second, bursts of twice that (default: no limit).
    #[arg(long = "rate-limit", value_name = "QPS")]
    rate_limit: Option<u32>,
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
            exclude_aaaa: self.exclude_aaaa.clone(),
            never_map: self.never_map.clone(),
            force: self.force.clone(),
            exclude_name: self.exclude_name.clone(),
            no_synthesis_on_error: self.no_synthesis_on_error,
            extended_error: self.extended_error,
            cd_disables_synthesis: self.cd_disables_synthesis,
            client: self.client.clone(),
        }
    }

    /// Loads the config from the file or the flags, with the override flags
    /// applied.
    fn load(&self) -> Result<Config, ConfigError> {
        let flags = self.flags();
        let mut config =
            match &self.config {
                Some(path) if flags.defines_anything() => return Err(config_and_flags(
                    path,
                    "the flags that define listeners, upstreams, prefixes, synthesis and the ACL",
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
        if let Some(size) = flag_value("--cache-size", self.cache_size.as_ref(), parse_size)? {
            config.cache.size = size;
        }
        if let Some(rate) = self.rate_limit {
            config.rate_limit = (rate > 0).then(|| config::RateLimit {
                rate,
                burst: rate.saturating_mul(2),
            });
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
        let prefixes = |c: &sixgate::dns64::Config| {
            join(c.prefixes().iter().map(ToString::to_string).collect())
        };
        let engine = &config.policy.default;
        println!("  prefixes: {}", prefixes(engine));
        for (net, c) in &config.policy.clients {
            match c {
                Some(c) => println!("  clients {net}: {}", prefixes(c)),
                None => println!("  clients {net}: no DNS64"),
            }
        }
        if !engine.force_names().is_empty() {
            println!(
                "  forced: {}",
                join(
                    engine
                        .force_names()
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                )
            );
        }
        if !engine.exclude_names().is_empty() {
            println!(
                "  excluded: {}",
                join(
                    engine
                        .exclude_names()
                        .iter()
                        .map(ToString::to_string)
                        .collect()
                )
            );
        }
        if config.cache.size == 0 {
            println!("  cache: off");
        } else {
            println!(
                "  cache: {} bytes (max TTL {}s, negative {}s)",
                config.cache.size, config.cache.max_ttl, config.cache.max_negative_ttl
            );
        }
        if let Some(r) = config.rate_limit {
            println!("  rate limit: {}/s per client, burst {}", r.rate, r.burst);
        }
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
    runtime.block_on(serve(&args, config))
}

async fn serve(args: &Dns64Args, config: Config) -> anyhow::Result<()> {
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
    let mut metrics_at = None;
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
        metrics_at = Some(socket);
    }
    let shared = Arc::new(Shared::new(State::new(config), metrics.clone()));
    if let Some(socket) = metrics_at {
        let s = shared.clone();
        tokio::spawn(crate::common::serve_metrics(socket, move || {
            s.metrics.render(s.state().cache_gauges())
        }));
    }
    for u in udp {
        tokio::spawn(server::udp_loop(shared.clone(), u));
    }
    for t in tcp {
        tokio::spawn(server::tcp_loop(shared.clone(), t));
    }

    crate::common::until_stopped(|| reload(args, &shared)).await
}

/// Reloads the config file (SIGHUP): a good one replaces upstreams,
/// prefixes, policies, the ACL, limits and the cache (flushed, as Unbound
/// does on reload); a bad one is logged and the running config stays.
/// Listeners and the metrics address need a restart.
fn reload(args: &Dns64Args, shared: &Shared) {
    let Some(path) = &args.config else {
        tracing::warn!("SIGHUP: no config file to reload (the service was started from flags)");
        return;
    };
    let new = match args.load() {
        Ok(c) => c,
        Err(e) => {
            shared.metrics.reload(false);
            tracing::error!("SIGHUP: keeping the running config: {e}");
            return;
        }
    };
    let old = shared.state();
    if new.listen != old.config.listen {
        tracing::warn!("SIGHUP: listen addresses changed; they take effect on restart");
    }
    if new.metrics != old.config.metrics {
        tracing::warn!("SIGHUP: the metrics address changed; it takes effect on restart");
    }
    let summary = format!(
        "{} upstreams, {} prefixes, {} client policies, cache {} bytes",
        new.upstreams.len(),
        new.policy.default.prefixes().len(),
        new.policy.clients.len(),
        new.cache.size
    );
    let flushed = old.cache.as_ref().map_or(0, |c| c.len());
    shared.replace(State::new(new));
    shared.metrics.reload(true);
    tracing::info!(
        "SIGHUP: reloaded {}: {summary}; {flushed} cached answers flushed",
        path.display()
    );
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
