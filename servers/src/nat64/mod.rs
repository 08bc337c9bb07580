//! `sixgate nat64`: a stateful NAT64 gateway (RFC 6146) on a TUN device.
//! The core's sans-IO engine ([`sixgate::nat64::Nat64`]) translates; this
//! module owns the device, the worker thread, the clock, the config, the
//! RFC 6888 log lines, reload and `/metrics`. It translates only between
//! its prefix and its pool4: everything else that reaches the device is
//! counted and dropped.
//!
//! Everything that touches the core's config, event and statistics types
//! is in [`engine_config`].

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

mod batch;
mod config;
mod device;
mod engine_config;
mod metrics;
mod offload;
mod worker;

use config::{Config, Flags, LogTarget};

use crate::common::{config_and_flags, flag_value, parse_listen, ConfigError};

/// `sixgate nat64` flags. Those that define the gateway build the same
/// config a file would; `--log`, `--metrics`, `--workers` and `--no-offload` also override
/// a file.
#[derive(Debug, Args)]
pub(crate) struct Nat64Args {
    /// Config file (TOML). Cannot be combined with the flags that define
    /// the gateway.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the config (file or flags), print a summary and exit.
    #[arg(long)]
    check: bool,
    /// The TUN device to create or attach to (default nat64).
    #[arg(long, value_name = "NAME")]
    tun: Option<String>,
    /// Bring the device up and route the prefix (IPv6) and pool4 (IPv4)
    /// into it (iproute2 `ip`); without it, that is left to the operator.
    #[arg(long)]
    setup: bool,
    /// The NAT64 prefix (RFC 6052; default 64:ff9b::/96).
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// IPv4 pool: ADDR[/LEN][:PORTLO-PORTHI] (repeatable; each entry its
    /// own port range, default 1024-65535; TCP, UDP and ICMP alike).
    #[arg(long, value_name = "ADDR[/LEN][:LO-HI]")]
    pool4: Vec<String>,
    /// Translate non-global IPv4 (documentation, private-use) under the
    /// well-known prefix too (RFC 6052 §3.1 forbids it by default).
    #[arg(long = "allow-non-global")]
    allow_non_global: bool,
    /// Port blocks (RFC 7422): SIZE ports per block (even, 2-32768;
    /// default 128), at most MAX blocks per customer /64 and protocol
    /// (default 8).
    #[arg(long = "port-block", value_name = "SIZE[/MAX]")]
    port_block: Option<String>,
    /// endpoint-independent (default) or address-dependent.
    #[arg(long, value_name = "MODE")]
    filtering: Option<String>,
    /// Drop every TCP connection opened from the IPv4 side (RFC 6146
    /// §3.5.2.2), static entries included: no stored SYNs.
    #[arg(long = "drop-external-tcp")]
    drop_external_tcp: bool,
    /// UDP session lifetime (default 5m, at least 2m).
    #[arg(long = "udp-timeout", value_name = "DURATION")]
    udp_timeout: Option<String>,
    /// ICMP query session lifetime (default 60s).
    #[arg(long = "icmp-timeout", value_name = "DURATION")]
    icmp_timeout: Option<String>,
    /// TCP established lifetime (default 7440s, at least 7440s).
    #[arg(long = "tcp-est-timeout", value_name = "DURATION")]
    tcp_est_timeout: Option<String>,
    /// TCP transitory lifetime (default 4m, at least 4m).
    #[arg(long = "tcp-trans-timeout", value_name = "DURATION")]
    tcp_trans_timeout: Option<String>,
    /// The most sessions at once (default 1000000).
    #[arg(long = "max-sessions", value_name = "N")]
    max_sessions: Option<u32>,
    /// The most sessions one customer /64 may hold (default 4096).
    #[arg(long = "max-sessions-per-customer", value_name = "N")]
    max_sessions_per_customer: Option<u32>,
    /// The most BIB entries, static ones included (default 1000000).
    #[arg(long = "max-bibs", value_name = "N")]
    max_bibs: Option<u32>,
    /// The most unsolicited IPv4 SYNs kept at once for simultaneous open
    /// (default 64).
    #[arg(long = "max-stored-syns", value_name = "N")]
    max_stored_syns: Option<u16>,
    /// A static BIB entry (port forward), repeatable:
    /// PROTO:V4ADDR:PORT=[V6ADDR]:PORT, e.g.
    /// tcp:203.0.113.1:8080=[2001:db8:1::10]:80 (V4ADDR in pool4).
    #[arg(long = "static", value_name = "PROTO:V4:PORT=[V6]:PORT")]
    statics: Vec<String>,
    /// Log a line per session created and closed too (default: blocks and
    /// BIB entries only).
    #[arg(long = "log-sessions")]
    log_sessions: bool,
    /// The MTU toward IPv6 nodes (default 1500).
    #[arg(long = "ipv6-mtu", value_name = "BYTES")]
    ipv6_mtu: Option<u16>,
    /// The MTU toward IPv4 nodes (default 1500).
    #[arg(long = "ipv4-mtu", value_name = "BYTES")]
    ipv4_mtu: Option<u16>,
    /// Source of the ICMPv4 errors the translator sends (default: the
    /// first pool4 address).
    #[arg(long = "icmp-source-v4", value_name = "ADDR")]
    icmp_source_v4: Option<String>,
    /// Source of the ICMPv6 errors (default: the ICMPv4 source under the
    /// prefix).
    #[arg(long = "icmp-source-v6", value_name = "ADDR")]
    icmp_source_v6: Option<String>,
    /// Write the RFC 6888 log lines (port blocks, BIB entries, probes,
    /// stored SYNs, limits; UTC) to this file; `-` for stdout (the default).
    #[arg(long, value_name = "FILE")]
    log: Option<String>,
    /// Serve Prometheus /metrics here (e.g. 127.0.0.1:9466).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Open the TUN device without offloads: every packet read and
    /// written one by one, at most an MTU long (default: TCP super-packets
    /// of up to 64 KiB are translated whole).
    #[arg(long = "no-offload")]
    no_offload: bool,
    /// Packet workers, each with its own TUN queue (a multi-queue device)
    /// and engine shard (default: one per CPU, at most 16; 1 to 64).
    #[arg(long, value_name = "N")]
    workers: Option<String>,
}

impl Nat64Args {
    fn flags(&self) -> Flags {
        Flags {
            tun: self.tun.clone(),
            setup: self.setup,
            prefix: self.prefix.clone(),
            allow_non_global: self.allow_non_global,
            pool4: self.pool4.clone(),
            port_block: self.port_block.clone(),
            filtering: self.filtering.clone(),
            udp_timeout: self.udp_timeout.clone(),
            icmp_timeout: self.icmp_timeout.clone(),
            tcp_est_timeout: self.tcp_est_timeout.clone(),
            tcp_trans_timeout: self.tcp_trans_timeout.clone(),
            drop_external_tcp: self.drop_external_tcp,
            max_sessions: self.max_sessions,
            max_sessions_per_customer: self.max_sessions_per_customer,
            max_bibs: self.max_bibs,
            max_stored_syns: self.max_stored_syns,
            statics: self.statics.clone(),
            log_sessions: self.log_sessions,
            ipv6_mtu: self.ipv6_mtu,
            ipv4_mtu: self.ipv4_mtu,
            icmp_source_v4: self.icmp_source_v4.clone(),
            icmp_source_v6: self.icmp_source_v6.clone(),
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
                    "the flags that define the gateway (all but --log, --metrics, --workers and --no-offload)",
                )),
                Some(path) => config::load(path)?,
                None => config::from_flags(&flags)?,
            };
        if let Some(l) = &self.log {
            if l.is_empty() {
                return Err(ConfigError::flag(
                    "--log",
                    l,
                    "empty: write a path or - for stdout".into(),
                ));
            }
            config.log = if l == "-" {
                LogTarget::Stdout
            } else {
                LogTarget::File(PathBuf::from(l))
            };
        }
        if let Some(m) = flag_value("--metrics", self.metrics.as_ref(), |m| {
            parse_listen(m, 9466)
        })? {
            config.metrics = Some(m);
        }
        if self.no_offload {
            config.offload = false;
        }
        if let Some(w) = flag_value("--workers", self.workers.as_ref(), config::parse_workers)? {
            config.workers = Some(w);
            // The limits are split between the shards: checked again.
            engine_config::build(&config)
                .map_err(|(_, m)| ConfigError::flag("--workers", &w.to_string(), m))?;
        }
        Ok(config)
    }
}

/// Runs `sixgate nat64`. A config error is returned as such (exit 2).
pub(crate) fn run(args: Nat64Args) -> anyhow::Result<()> {
    let config = args.load()?;
    if args.check {
        print_check(&args, &config);
        return Ok(());
    }
    crate::logging::init();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
        ^ (u64::from(std::process::id()) << 32);
    let log = open_log(&config.log)?;
    let queues = device::open_queues(&config, config.workers())?;
    let workers = queues.len();
    // The engines' view: as many shards as queues opened (one, when the
    // device took no more; device::open_queues said so).
    let mut sharded = config.clone();
    sharded.workers = u16::try_from(workers).ok();
    // One key for every shard and dispatcher, secret like the seed.
    let shard_key = seed.rotate_left(23) ^ 0x6a09_e667_f3bc_c908;
    let built =
        engine_config::build_keyed(&sharded, shard_key).map_err(|(_, m)| anyhow::anyhow!("{m}"))?;
    few_blocks_warning(&built.state, workers);
    let shared = Arc::new(worker::Shared::new(workers, log).context("creating the wakeup events")?);
    tracing::info!(
        "translating {} <-> {} on {} ({}), {} worker{}",
        config.prefix,
        config
            .pool4
            .iter()
            .map(|p| p.net.to_string())
            .collect::<Vec<_>>()
            .join(","),
        config.tun,
        if config.setup {
            "set up by sixgate"
        } else {
            "routes by the operator"
        },
        workers,
        if workers == 1 { "" } else { "s" }
    );
    // Signalled when a worker ends, however it ends: the server stops too.
    let done = Arc::new(tokio::sync::Notify::new());
    let (peers, inboxes) = worker::channels(workers);
    let mut threads = Vec::with_capacity(workers);
    for (index, (dev, inbox)) in queues.into_iter().zip(inboxes).enumerate() {
        let shared = shared.clone();
        let config = sharded.clone();
        let built = built.clone();
        let peers = peers.clone();
        let done = done.clone();
        let t = std::thread::Builder::new()
            .name(format!("nat64-worker-{index}"))
            .spawn(move || {
                let _done = NotifyOnDrop(done);
                worker::run(index, &dev, &config, &built, seed, &shared, &peers, &inbox)
            })
            .context("starting a worker thread")?;
        threads.push(t);
    }
    drop(peers);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let result = runtime.block_on(async {
        tokio::select! {
            r = serve(&args, config, shared.clone()) => r,
            () = done.notified() => Ok(()),
        }
    });
    shared.stop();
    let mut failed = None;
    let mut panicked = false;
    for t in threads {
        match t.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failed = failed.or(Some(e)),
            Err(_) => panicked = true,
        }
    }
    if panicked {
        anyhow::bail!("a packet worker panicked");
    }
    match failed {
        Some(e) => Err(e).context("the TUN device failed"),
        None => result,
    }
}

/// Wakes the server when a worker thread ends (returns or panics).
struct NotifyOnDrop(Arc<tokio::sync::Notify>);

impl Drop for NotifyOnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

async fn serve(
    args: &Nat64Args,
    config: Config,
    shared: Arc<worker::Shared>,
) -> anyhow::Result<()> {
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
        let s = shared.clone();
        tokio::spawn(crate::common::serve_metrics(socket, move || {
            s.snapshot().render()
        }));
    }
    let mut running = config;
    crate::common::until_stopped(|| reload(args, &mut running, &shared)).await
}

/// SIGHUP: reopens the log file (for logrotate) and re-reads the config. A
/// new log destination applies at once; the translation settings need a
/// restart (the engine's tables are built from them), and a change to them
/// is logged as such. A bad config is logged and the running one stays.
fn reload(args: &Nat64Args, running: &mut Config, shared: &worker::Shared) {
    let count = |ok: bool| shared.count_reload(ok);
    let new = match args.load() {
        Ok(c) => c,
        Err(e) => {
            count(false);
            tracing::error!("SIGHUP: keeping the running config: {e}");
            return;
        }
    };
    match open_log(&new.log) {
        Ok(w) => {
            if let Ok(mut sink) = shared.log.lock() {
                let _ = sink.flush();
                *sink = w;
            }
        }
        Err(e) => {
            count(false);
            tracing::error!("SIGHUP: keeping the running log: {e:#}");
            return;
        }
    }
    let mut rest = new.clone();
    rest.log = running.log.clone();
    if rest != *running {
        tracing::warn!("SIGHUP: settings other than the log changed; they take effect on restart");
    }
    running.log = new.log;
    count(true);
    tracing::info!("SIGHUP: log reopened ({})", log_name(&running.log));
}

fn log_name(t: &LogTarget) -> String {
    match t {
        LogTarget::Stdout => "stdout".into(),
        LogTarget::File(p) => p.display().to_string(),
    }
}

fn open_log(t: &LogTarget) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match t {
        LogTarget::Stdout => Box::new(std::io::stdout()),
        LogTarget::File(p) => Box::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("opening the log file {}", p.display()))?,
        ),
    })
}

fn print_check(args: &Nat64Args, c: &Config) {
    let origin = args
        .config
        .as_ref()
        .map_or_else(|| "flags".to_owned(), |p| p.display().to_string());
    let nets = c
        .pool4
        .iter()
        .map(|p| p.net.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    println!("{origin}: ok");
    if c.setup {
        println!(
            "  tun: {} (set up: up, routes {} and {} via it)",
            c.tun, c.prefix, nets
        );
    } else {
        println!("  tun: {} (addresses and routes by the operator)", c.tun);
    }
    let kind = if c.prefix.is_well_known() {
        "well-known"
    } else {
        "network-specific"
    };
    let ng = if c.allow_non_global {
        ", non-global IPv4 allowed"
    } else {
        ""
    };
    println!("  prefix: {} ({kind}{ng})", c.prefix);
    let pools = c
        .pool4
        .iter()
        .map(|p| {
            let (lo, hi) = p.ports.unwrap_or(engine_config::DEFAULT_PORTS);
            format!("{} ports {lo}-{hi}", p.net)
        })
        .collect::<Vec<_>>()
        .join(", ");
    println!("  pool4: {pools} (tcp, udp, icmp)");
    let w = c.workers();
    let how = if c.workers.is_some() {
        "set"
    } else {
        "one per CPU"
    };
    if w == 1 {
        println!("  workers: 1 ({how}; one TUN queue, one engine)");
    } else {
        println!("  workers: {w} ({how}; a TUN queue and an engine shard each, total limits split {w} ways)");
    }
    let (size, max, sessions, per_customer, bibs, syns) = engine_config::limits(c);
    println!("  port blocks: {size} ports, at most {max} per customer /64 and protocol");
    let filtering = c.filtering.as_str();
    if c.drop_external_tcp {
        println!("  filtering: {filtering}, TCP from IPv4 dropped");
    } else {
        println!("  filtering: {filtering}");
    }
    let t = engine_config::timeouts(c);
    println!(
        "  timeouts: udp {}s, icmp {}s, tcp established {}s, tcp transitory {}s",
        t[0], t[1], t[2], t[3]
    );
    println!(
        "  limits: {sessions} sessions, {per_customer} per customer /64, {bibs} BIB entries, {syns} stored SYNs"
    );
    if c.statics.is_empty() {
        println!("  static: none");
    }
    for st in &c.statics {
        println!("  static: {st}");
    }
    println!("  icmp errors from: {}, {}", c.icmp_v4(), c.icmp_v6());
    let sessions = if c.log_sessions { ", sessions too" } else { "" };
    println!("  log: {}{sessions}", log_name(&c.log));
    if let Some(m) = c.metrics {
        println!("  metrics: {m}");
    }
    let offload = if c.offload {
        "on (TCP super-packets translated whole)"
    } else {
        "off"
    };
    println!("  offload: {offload}");
}

/// Shard i of n hands out the blocks numbered i mod n: with fewer blocks
/// than workers some shards have none, and their customers get
/// `pool_exhausted`. Say so at start.
fn few_blocks_warning(state: &sixgate::nat64::state::Config, workers: usize) {
    for proto in sixgate::nat64::state::Protocol::ALL {
        let blocks = state.blocks(proto);
        if usize::try_from(blocks).is_ok_and(|b| b < workers) {
            tracing::warn!(
                "pool4 has {blocks} {} port block(s) for {workers} workers: the customers of a \
                 worker without one get pool_exhausted; use smaller port blocks (--port-block) \
                 or fewer workers (--workers)",
                proto
            );
        }
    }
}
