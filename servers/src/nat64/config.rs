//! The NAT64 gateway's configuration: the TOML file and the flags both build
//! the same [`Config`], then [`engine_config::build`] checks it against the
//! core's rules. Errors are the servers' shared [`ConfigError`]s:
//! `FILE:LINE: key: message` for a file, `--flag "value": message` for flags.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::Deserialize;
use sixgate::nat64::state::{Protocol, StaticBib, Transport4, Transport6};
use sixgate::rfc6052::{non_global_range, Nat64Prefix};
use toml::Spanned;

use super::engine_config;
pub(crate) use crate::common::ConfigError;
use crate::common::{parse_duration, parse_listen, read_config, Locator};

/// The default TUN device name.
pub(crate) const DEFAULT_TUN: &str = "nat64";

/// The most `pool4` entries.
const MAX_POOL4: usize = 64;

/// The most workers (`workers`, `--workers`).
pub(crate) const MAX_WORKERS: u16 = 64;

/// The most workers chosen by default (one per CPU up to this).
pub(crate) const DEFAULT_MAX_WORKERS: u16 = 16;

/// One `pool4` entry: addresses, and the ports bindings use on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pool4 {
    pub(crate) net: Ipv4Net,
    /// `None`: the default 1024-65535.
    pub(crate) ports: Option<(u16, u16)>,
}

/// Who may reach an IPv6 node through its binding (RFC 4787 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Filtering {
    #[default]
    EndpointIndependent,
    AddressDependent,
}

impl Filtering {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::EndpointIndependent => "endpoint-independent",
            Self::AddressDependent => "address-dependent",
        }
    }
}

/// Session lifetimes in seconds (RFC 6146 §4); `None` is the core default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Timeouts {
    pub(crate) udp: Option<u32>,
    pub(crate) icmp: Option<u32>,
    pub(crate) tcp_est: Option<u32>,
    pub(crate) tcp_trans: Option<u32>,
}

/// Session and table limits; `None` is the core default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Limits {
    pub(crate) max_sessions: Option<u32>,
    pub(crate) max_sessions_per_customer: Option<u32>,
    pub(crate) max_bibs: Option<u32>,
    pub(crate) max_stored_syns: Option<u16>,
}

/// A static BIB entry (port forward): the pool4 transport address `v4`
/// always reaches `v6` (RFC 6146 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Static {
    pub(crate) proto: Protocol,
    pub(crate) v4: SocketAddrV4,
    pub(crate) v6: SocketAddrV6,
}

impl Static {
    pub(crate) fn to_core(self) -> StaticBib {
        StaticBib {
            proto: self.proto,
            v4: Transport4::new(*self.v4.ip(), self.v4.port()),
            v6: Transport6::new(*self.v6.ip(), self.v6.port()),
        }
    }
}

impl std::fmt::Display for Static {
    /// The flag form, `tcp:192.0.2.9:8080=[2001:db8:1::10]:80`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}=[{}]:{}",
            self.proto,
            self.v4,
            self.v6.ip(),
            self.v6.port()
        )
    }
}

/// Where the RFC 6888 log lines go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum LogTarget {
    #[default]
    Stdout,
    File(PathBuf),
}

/// A configuration whose values are each valid; the core's own rules
/// (minimum lifetimes, port blocks, MTUs) are checked by
/// [`engine_config::build`] when the config is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) tun: String,
    pub(crate) setup: bool,
    pub(crate) prefix: Nat64Prefix,
    pub(crate) allow_non_global: bool,
    pub(crate) pool4: Vec<Pool4>,
    /// Ports per block and blocks per customer /64 (RFC 7422); `None`:
    /// the core's 128 and 8.
    pub(crate) port_blocks: Option<(u16, u16)>,
    pub(crate) filtering: Filtering,
    pub(crate) drop_external_tcp: bool,
    pub(crate) timeouts: Timeouts,
    pub(crate) limits: Limits,
    pub(crate) statics: Vec<Static>,
    pub(crate) log_sessions: bool,
    pub(crate) ipv6_mtu: Option<u16>,
    pub(crate) ipv4_mtu: Option<u16>,
    pub(crate) icmp_source_v4: Option<Ipv4Addr>,
    pub(crate) icmp_source_v6: Option<Ipv6Addr>,
    pub(crate) log: LogTarget,
    pub(crate) metrics: Option<SocketAddr>,
    /// TUN offloads (`IFF_VNET_HDR`, TCP super-packets kept whole).
    pub(crate) offload: bool,
    /// Packet workers, each with a TUN queue and an engine shard; `None`:
    /// one per CPU, at most [`DEFAULT_MAX_WORKERS`].
    pub(crate) workers: Option<u16>,
}

impl Config {
    fn empty() -> Self {
        Self {
            tun: DEFAULT_TUN.to_owned(),
            setup: false,
            prefix: Nat64Prefix::WELL_KNOWN,
            allow_non_global: false,
            pool4: Vec::new(),
            port_blocks: None,
            filtering: Filtering::default(),
            drop_external_tcp: false,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            statics: Vec::new(),
            log_sessions: false,
            ipv6_mtu: None,
            ipv4_mtu: None,
            icmp_source_v4: None,
            icmp_source_v6: None,
            log: LogTarget::Stdout,
            metrics: None,
            offload: true,
            workers: None,
        }
    }

    /// The number of workers: configured, else one per CPU
    /// (`available_parallelism`), at most [`DEFAULT_MAX_WORKERS`].
    pub(crate) fn workers(&self) -> u16 {
        self.workers.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map_or(1, |n| u16::try_from(n.get()).unwrap_or(u16::MAX))
                .clamp(1, DEFAULT_MAX_WORKERS)
        })
    }

    /// The source of the ICMPv4 errors the translator sends: configured,
    /// else the first pool4 address (routable back to the gateway; the
    /// first host address, as the core leaves out a /30's network and
    /// broadcast addresses).
    pub(crate) fn icmp_v4(&self) -> Ipv4Addr {
        self.icmp_source_v4
            .or_else(|| self.pool4.first().and_then(|p| p.net.hosts().next()))
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// The source of the ICMPv6 errors: configured, else the ICMPv4 source
    /// under the prefix.
    pub(crate) fn icmp_v6(&self) -> Ipv6Addr {
        self.icmp_source_v6
            .unwrap_or_else(|| self.prefix.embed(self.icmp_v4()))
    }
}

/// The flags that define a config (the alternative to a file).
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags {
    pub(crate) tun: Option<String>,
    pub(crate) setup: bool,
    pub(crate) prefix: Option<String>,
    pub(crate) allow_non_global: bool,
    pub(crate) pool4: Vec<String>,
    pub(crate) port_block: Option<String>,
    pub(crate) filtering: Option<String>,
    pub(crate) udp_timeout: Option<String>,
    pub(crate) icmp_timeout: Option<String>,
    pub(crate) tcp_est_timeout: Option<String>,
    pub(crate) tcp_trans_timeout: Option<String>,
    pub(crate) drop_external_tcp: bool,
    pub(crate) max_sessions: Option<u32>,
    pub(crate) max_sessions_per_customer: Option<u32>,
    pub(crate) max_bibs: Option<u32>,
    pub(crate) max_stored_syns: Option<u16>,
    pub(crate) statics: Vec<String>,
    pub(crate) log_sessions: bool,
    pub(crate) ipv6_mtu: Option<u16>,
    pub(crate) ipv4_mtu: Option<u16>,
    pub(crate) icmp_source_v4: Option<String>,
    pub(crate) icmp_source_v6: Option<String>,
}

impl Flags {
    pub(crate) fn defines_anything(&self) -> bool {
        self.tun.is_some()
            || self.setup
            || self.prefix.is_some()
            || self.allow_non_global
            || !self.pool4.is_empty()
            || self.port_block.is_some()
            || self.filtering.is_some()
            || self.udp_timeout.is_some()
            || self.icmp_timeout.is_some()
            || self.tcp_est_timeout.is_some()
            || self.tcp_trans_timeout.is_some()
            || self.drop_external_tcp
            || self.max_sessions.is_some()
            || self.max_sessions_per_customer.is_some()
            || self.max_bibs.is_some()
            || self.max_stored_syns.is_some()
            || !self.statics.is_empty()
            || self.log_sessions
            || self.ipv6_mtu.is_some()
            || self.ipv4_mtu.is_some()
            || self.icmp_source_v4.is_some()
            || self.icmp_source_v6.is_some()
    }
}

// ---------------------------------------------------------------------------
// Value parsers, shared by both forms.

/// A worker count, 1 to [`MAX_WORKERS`].
pub(crate) fn parse_workers(s: &str) -> Result<u16, String> {
    let n: u16 = s
        .trim()
        .parse()
        .map_err(|_| "not a number of workers".to_owned())?;
    check_workers(n)
}

fn check_workers(n: u16) -> Result<u16, String> {
    if n == 0 || n > MAX_WORKERS {
        return Err(format!("workers {n} must be between 1 and {MAX_WORKERS}"));
    }
    Ok(n)
}

/// A NAT64 prefix (RFC 6052 §2.2 lengths, u-octet zero).
pub(crate) fn parse_prefix(s: &str) -> Result<Nat64Prefix, String> {
    s.parse::<Nat64Prefix>().map_err(|e| e.to_string())
}

/// `ADDR[/LEN][:PORTLO-PORTHI]`.
pub(crate) fn parse_pool4(s: &str) -> Result<Pool4, String> {
    let bad = || {
        format!("{s:?} is not a pool4 entry: write ADDR[/LEN][:PORTLO-PORTHI] (203.0.113.1, 203.0.113.0/28:1024-65535)")
    };
    let (net, ports) = match s.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    let net = match net.parse::<Ipv4Net>() {
        Ok(n) => n,
        Err(_) => Ipv4Net::from(net.parse::<Ipv4Addr>().map_err(|_| bad())?),
    };
    if net.trunc() != net {
        return Err(format!(
            "{s:?} has bits set past its length: did you mean {}?",
            net.trunc()
        ));
    }
    let ports = match ports {
        None => None,
        Some(p) => {
            let (lo, hi) = p.split_once('-').ok_or_else(bad)?;
            let lo: u16 = lo.parse().map_err(|_| bad())?;
            let hi: u16 = hi.parse().map_err(|_| bad())?;
            if lo == 0 || lo > hi {
                return Err(format!(
                    "{s:?}: port range {lo}-{hi} must be ascending and start above 0"
                ));
            }
            Some((lo, hi))
        }
    };
    Ok(Pool4 { net, ports })
}

/// `SIZE` or `SIZE/MAX` (ports per block, blocks per customer /64; MAX
/// defaults to 8).
pub(crate) fn parse_port_block(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{s:?} is not a port block: write SIZE or SIZE/MAX (128, 256/4)");
    let (size, max) = match s.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let size: u16 = size.parse().map_err(|_| bad())?;
    let max: u16 = match max {
        Some(m) => m.parse().map_err(|_| bad())?,
        None => 8,
    };
    if size == 0 || max == 0 {
        return Err(format!("{s:?}: size and count must be above 0"));
    }
    Ok((size, max))
}

/// `tcp`, `udp` or `icmp`.
pub(crate) fn parse_proto(s: &str) -> Result<Protocol, String> {
    match s {
        "tcp" => Ok(Protocol::Tcp),
        "udp" => Ok(Protocol::Udp),
        "icmp" => Ok(Protocol::Icmp),
        _ => Err(format!("{s:?} is not a protocol: tcp, udp or icmp")),
    }
}

/// A pool4 transport address, `V4ADDR:PORT`.
pub(crate) fn parse_static_v4(s: &str) -> Result<SocketAddrV4, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address and port (192.0.2.9:8080)"))
}

/// An IPv6 transport address, `[V6ADDR]:PORT`.
pub(crate) fn parse_static_v6(s: &str) -> Result<SocketAddrV6, String> {
    let a: SocketAddrV6 = s
        .parse()
        .map_err(|_| format!("{s:?} is not an IPv6 address and port ([2001:db8::10]:80)"))?;
    if a.scope_id() != 0 || a.flowinfo() != 0 {
        return Err(format!("{s:?}: no scope or flow label"));
    }
    Ok(a)
}

/// `PROTO:V4ADDR:PORT=[V6ADDR]:PORT`, e.g.
/// `tcp:192.0.2.9:8080=[2001:db8:1::10]:80`.
pub(crate) fn parse_static(s: &str) -> Result<Static, String> {
    let bad = || {
        format!("{s:?} is not a static entry: write PROTO:V4ADDR:PORT=[V6ADDR]:PORT (tcp:192.0.2.9:8080=[2001:db8:1::10]:80)")
    };
    let (proto, rest) = s.split_once(':').ok_or_else(bad)?;
    let (v4, v6) = rest.split_once('=').ok_or_else(bad)?;
    Ok(Static {
        proto: parse_proto(proto)?,
        v4: parse_static_v4(v4)?,
        v6: parse_static_v6(v6)?,
    })
}

pub(crate) fn parse_filtering(s: &str) -> Result<Filtering, String> {
    match s {
        "endpoint-independent" => Ok(Filtering::EndpointIndependent),
        "address-dependent" => Ok(Filtering::AddressDependent),
        _ => Err(format!(
            "{s:?} is not a filtering mode: endpoint-independent or address-dependent"
        )),
    }
}

/// A lifetime in whole seconds (`5m`, `300s`, `2h`).
pub(crate) fn parse_secs(s: &str) -> Result<u32, String> {
    let d = parse_duration(s)?;
    if d.subsec_millis() != 0 {
        return Err(format!("{s:?}: write whole seconds"));
    }
    u32::try_from(d.as_secs()).map_err(|_| format!("{s:?} is too long"))
}

fn parse_v4(s: &str) -> Result<Ipv4Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv4 address"))
}

fn parse_v6(s: &str) -> Result<Ipv6Addr, String> {
    s.parse()
        .map_err(|_| format!("{s:?} is not an IPv6 address"))
}

/// A TUN name the kernel takes: 1-15 bytes, no `/`, whitespace or `:`.
pub(crate) fn parse_tun(s: &str) -> Result<String, String> {
    let ok = (1..=15).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_graphic() && b != b'/' && b != b':')
        && s != "."
        && s != "..";
    if ok {
        Ok(s.to_owned())
    } else {
        Err(format!(
            "{s:?} is not an interface name (1-15 printable characters, no '/' or ':')"
        ))
    }
}

// ---------------------------------------------------------------------------
// Rules across values.

/// Which key a cross-value rule names (mapped to a flag or a file span).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    Pool4(usize),
    PortBlocks,
    Timeout(&'static str),
    Mtu(&'static str),
    Limits(&'static str),
    Static(usize),
}

impl Key {
    fn flag(self) -> &'static str {
        match self {
            Self::Pool4(_) => "--pool4",
            Self::PortBlocks => "--port-block",
            Self::Timeout("udp") => "--udp-timeout",
            Self::Timeout("icmp") => "--icmp-timeout",
            Self::Timeout("tcp_est") => "--tcp-est-timeout",
            Self::Timeout(_) => "--tcp-trans-timeout",
            Self::Mtu("ipv4") => "--ipv4-mtu",
            Self::Mtu(_) => "--ipv6-mtu",
            Self::Limits("max_sessions_per_customer") => "--max-sessions-per-customer",
            Self::Limits("max_bibs") => "--max-bibs",
            Self::Limits("max_stored_syns") => "--max-stored-syns",
            Self::Limits(_) => "--max-sessions",
            Self::Static(_) => "--static",
        }
    }
}

/// The rules between values: pool4 entries do not overlap and are global
/// unless allowed (RFC 6052 §3.1 for the well-known prefix); then the
/// core's own rules (lifetimes, port blocks, limits, static entries).
fn check(config: &Config) -> Result<(), (Key, String)> {
    if config.pool4.is_empty() {
        return Err((
            Key::Pool4(0),
            "no pool4: give at least one IPv4 address (ADDR[/LEN][:PORTLO-PORTHI])".into(),
        ));
    }
    if config.pool4.len() > MAX_POOL4 {
        return Err((
            Key::Pool4(MAX_POOL4),
            format!("at most {MAX_POOL4} pool4 entries"),
        ));
    }
    for (i, p) in config.pool4.iter().enumerate() {
        for (j, q) in config.pool4.iter().enumerate().take(i) {
            if p.net.contains(&q.net.network()) || q.net.contains(&p.net.network()) {
                return Err((
                    Key::Pool4(i),
                    format!("{} overlaps pool4 entry {j} ({})", p.net, q.net),
                ));
            }
        }
        if config.prefix.is_well_known() && !config.allow_non_global {
            let ng = p
                .net
                .hosts()
                .chain([p.net.network(), p.net.broadcast()])
                .take(65538)
                .find_map(non_global_range);
            if let Some(range) = ng {
                return Err((
                    Key::Pool4(i),
                    format!(
                        "{} is in {} space ({}), not global: RFC 6052 §3.1 keeps it out of the well-known prefix {}; use a network-specific prefix or set allow_non_global (--allow-non-global)",
                        p.net, range.name, range.net, config.prefix
                    ),
                ));
            }
        }
    }
    engine_config::build(config).map(drop)
}

// ---------------------------------------------------------------------------
// The flag form.

fn flag_err(flag: &str, value: &str, message: String) -> ConfigError {
    ConfigError::flag(flag, value, message)
}

fn one<T>(
    flag: &str,
    v: Option<&String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    v.map(|s| parse(s).map_err(|m| flag_err(flag, s, m)))
        .transpose()
}

/// Builds the config from flags alone.
pub(crate) fn from_flags(f: &Flags) -> Result<Config, ConfigError> {
    let mut c = Config::empty();
    if let Some(t) = one("--tun", f.tun.as_ref(), parse_tun)? {
        c.tun = t;
    }
    c.setup = f.setup;
    if let Some(p) = one("--prefix", f.prefix.as_ref(), parse_prefix)? {
        c.prefix = p;
    }
    c.allow_non_global = f.allow_non_global;
    c.pool4 = f
        .pool4
        .iter()
        .map(|s| parse_pool4(s).map_err(|m| flag_err("--pool4", s, m)))
        .collect::<Result<_, _>>()?;
    c.port_blocks = one("--port-block", f.port_block.as_ref(), parse_port_block)?;
    if let Some(m) = one("--filtering", f.filtering.as_ref(), parse_filtering)? {
        c.filtering = m;
    }
    c.timeouts = Timeouts {
        udp: one("--udp-timeout", f.udp_timeout.as_ref(), parse_secs)?,
        icmp: one("--icmp-timeout", f.icmp_timeout.as_ref(), parse_secs)?,
        tcp_est: one("--tcp-est-timeout", f.tcp_est_timeout.as_ref(), parse_secs)?,
        tcp_trans: one(
            "--tcp-trans-timeout",
            f.tcp_trans_timeout.as_ref(),
            parse_secs,
        )?,
    };
    c.drop_external_tcp = f.drop_external_tcp;
    c.limits = Limits {
        max_sessions: f.max_sessions,
        max_sessions_per_customer: f.max_sessions_per_customer,
        max_bibs: f.max_bibs,
        max_stored_syns: f.max_stored_syns,
    };
    c.statics = f
        .statics
        .iter()
        .map(|s| parse_static(s).map_err(|m| flag_err("--static", s, m)))
        .collect::<Result<_, _>>()?;
    c.log_sessions = f.log_sessions;
    c.ipv6_mtu = f.ipv6_mtu;
    c.ipv4_mtu = f.ipv4_mtu;
    c.icmp_source_v4 = one("--icmp-source-v4", f.icmp_source_v4.as_ref(), parse_v4)?;
    c.icmp_source_v6 = one("--icmp-source-v6", f.icmp_source_v6.as_ref(), parse_v6)?;
    check(&c).map_err(|(key, m)| {
        if f.pool4.is_empty() && matches!(key, Key::Pool4(_)) {
            return ConfigError {
                origin: "--pool4".into(),
                key: String::new(),
                message: m,
            };
        }
        let value = match key {
            Key::Pool4(i) => f.pool4.get(i).cloned().unwrap_or_default(),
            Key::PortBlocks => f.port_block.clone().unwrap_or_default(),
            Key::Timeout("udp") => f.udp_timeout.clone().unwrap_or_default(),
            Key::Timeout("icmp") => f.icmp_timeout.clone().unwrap_or_default(),
            Key::Timeout("tcp_est") => f.tcp_est_timeout.clone().unwrap_or_default(),
            Key::Timeout(_) => f.tcp_trans_timeout.clone().unwrap_or_default(),
            Key::Mtu("ipv4") => f.ipv4_mtu.map(|m| m.to_string()).unwrap_or_default(),
            Key::Mtu(_) => f.ipv6_mtu.map(|m| m.to_string()).unwrap_or_default(),
            Key::Limits("max_sessions_per_customer") => f
                .max_sessions_per_customer
                .map(|m| m.to_string())
                .unwrap_or_default(),
            Key::Limits("max_bibs") => f.max_bibs.map(|m| m.to_string()).unwrap_or_default(),
            Key::Limits("max_stored_syns") => {
                f.max_stored_syns.map(|m| m.to_string()).unwrap_or_default()
            }
            Key::Limits(_) => f.max_sessions.map(|m| m.to_string()).unwrap_or_default(),
            Key::Static(i) => f.statics.get(i).cloned().unwrap_or_default(),
        };
        flag_err(key.flag(), &value, m)
    })?;
    Ok(c)
}

// ---------------------------------------------------------------------------
// The file form.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    tun: Option<Spanned<String>>,
    setup: Option<bool>,
    prefix: Option<Spanned<String>>,
    allow_non_global: Option<bool>,
    pool4: Option<Spanned<Vec<Spanned<String>>>>,
    filtering: Option<Spanned<String>>,
    drop_externally_initiated_tcp: Option<bool>,
    icmp_source_v4: Option<Spanned<String>>,
    icmp_source_v6: Option<Spanned<String>>,
    port_blocks: Option<Spanned<RawPortBlocks>>,
    timeouts: Option<RawTimeouts>,
    limits: Option<RawLimits>,
    mtu: Option<RawMtu>,
    log: Option<RawLog>,
    metrics: Option<RawMetrics>,
    offload: Option<bool>,
    workers: Option<Spanned<u16>>,
    #[serde(rename = "static")]
    statics: Option<Vec<RawStatic>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatic {
    proto: Spanned<String>,
    ipv4: Spanned<String>,
    ipv6: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPortBlocks {
    size: u16,
    /// `max_per_host` was its name before blocks were per customer /64.
    #[serde(alias = "max_per_host")]
    max_per_customer: Option<u16>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    udp: Option<Spanned<String>>,
    icmp: Option<Spanned<String>>,
    tcp_established: Option<Spanned<String>>,
    tcp_transitory: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    max_sessions: Option<Spanned<u32>>,
    max_sessions_per_customer: Option<Spanned<u32>>,
    max_bibs: Option<Spanned<u32>>,
    max_stored_syns: Option<Spanned<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMtu {
    ipv6: Option<Spanned<u16>>,
    ipv4: Option<Spanned<u16>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    file: Option<Spanned<String>>,
    sessions: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Spanned<String>,
}

/// Reads and validates a config file.
pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
    let (file, text) = read_config(path)?;
    parse(&file, &text)
}

/// Validates a config file's text; `file` names it in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let loc = Locator::new(file, text);
    build(&loc, loc.deserialize()?)
}

fn field<T>(
    loc: &Locator<'_>,
    v: &Option<Spanned<String>>,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    v.as_ref()
        .map(|s| parse(s.get_ref()).map_err(|m| loc.err(s.span(), key, m)))
        .transpose()
}

fn build(loc: &Locator<'_>, raw: RawConfig) -> Result<Config, ConfigError> {
    let mut c = Config::empty();
    if let Some(t) = field(loc, &raw.tun, "tun", parse_tun)? {
        c.tun = t;
    }
    c.setup = raw.setup.unwrap_or(false);
    if let Some(p) = field(loc, &raw.prefix, "prefix", parse_prefix)? {
        c.prefix = p;
    }
    c.allow_non_global = raw.allow_non_global.unwrap_or(false);
    let pool: &[Spanned<String>] = raw.pool4.as_ref().map_or(&[], |p| p.get_ref());
    c.pool4 = pool
        .iter()
        .enumerate()
        .map(|(i, s)| {
            parse_pool4(s.get_ref()).map_err(|m| loc.err(s.span(), format!("pool4[{i}]"), m))
        })
        .collect::<Result<_, _>>()?;
    if let Some(f) = field(loc, &raw.filtering, "filtering", parse_filtering)? {
        c.filtering = f;
    }
    c.icmp_source_v4 = field(loc, &raw.icmp_source_v4, "icmp_source_v4", parse_v4)?;
    c.icmp_source_v6 = field(loc, &raw.icmp_source_v6, "icmp_source_v6", parse_v6)?;
    if let Some(b) = &raw.port_blocks {
        let b = b.get_ref();
        c.port_blocks = Some((b.size, b.max_per_customer.unwrap_or(8)));
    }
    if let Some(t) = &raw.timeouts {
        c.timeouts = Timeouts {
            udp: field(loc, &t.udp, "timeouts.udp", parse_secs)?,
            icmp: field(loc, &t.icmp, "timeouts.icmp", parse_secs)?,
            tcp_est: field(
                loc,
                &t.tcp_established,
                "timeouts.tcp_established",
                parse_secs,
            )?,
            tcp_trans: field(
                loc,
                &t.tcp_transitory,
                "timeouts.tcp_transitory",
                parse_secs,
            )?,
        };
    }
    c.drop_external_tcp = raw.drop_externally_initiated_tcp.unwrap_or(false);
    c.offload = raw.offload.unwrap_or(true);
    if let Some(l) = &raw.limits {
        let v = |x: &Option<Spanned<u32>>| x.as_ref().map(|v| *v.get_ref());
        c.limits = Limits {
            max_sessions: v(&l.max_sessions),
            max_sessions_per_customer: v(&l.max_sessions_per_customer),
            max_bibs: v(&l.max_bibs),
            max_stored_syns: l.max_stored_syns.as_ref().map(|v| *v.get_ref()),
        };
    }
    let statics: &[RawStatic] = raw.statics.as_deref().unwrap_or(&[]);
    for (i, st) in statics.iter().enumerate() {
        let key = |k: &str| format!("static[{i}].{k}");
        c.statics.push(Static {
            proto: parse_proto(st.proto.get_ref())
                .map_err(|m| loc.err(st.proto.span(), key("proto"), m))?,
            v4: parse_static_v4(st.ipv4.get_ref())
                .map_err(|m| loc.err(st.ipv4.span(), key("ipv4"), m))?,
            v6: parse_static_v6(st.ipv6.get_ref())
                .map_err(|m| loc.err(st.ipv6.span(), key("ipv6"), m))?,
        });
    }
    if let Some(m) = &raw.mtu {
        c.ipv6_mtu = m.ipv6.as_ref().map(|v| *v.get_ref());
        c.ipv4_mtu = m.ipv4.as_ref().map(|v| *v.get_ref());
    }
    if let Some(l) = &raw.log {
        c.log_sessions = l.sessions.unwrap_or(false);
        if let Some(f) = &l.file {
            c.log = match f.get_ref().as_str() {
                "" => {
                    return Err(loc.err(
                        f.span(),
                        "log.file",
                        "empty: write a path or \"-\" for stdout".into(),
                    ))
                }
                "-" => LogTarget::Stdout,
                p => LogTarget::File(PathBuf::from(p)),
            };
        }
    }
    if let Some(w) = &raw.workers {
        c.workers = Some(check_workers(*w.get_ref()).map_err(|m| loc.err(w.span(), "workers", m))?);
    }
    if let Some(m) = &raw.metrics {
        c.metrics = Some(
            parse_listen(m.listen.get_ref(), 9466)
                .map_err(|e| loc.err(m.listen.span(), "metrics.listen", e))?,
        );
    }
    check(&c).map_err(|(key, m)| {
        let (span, name) = match key {
            Key::Pool4(i) => (
                pool.get(i)
                    .map(Spanned::span)
                    .or_else(|| raw.pool4.as_ref().map(Spanned::span))
                    .unwrap_or(0..0),
                if raw.pool4.is_some() {
                    format!("pool4[{i}]")
                } else {
                    "pool4".into()
                },
            ),
            Key::PortBlocks => (
                raw.port_blocks.as_ref().map_or(0..0, Spanned::span),
                "port_blocks".into(),
            ),
            Key::Timeout(w) => {
                let t = raw.timeouts.as_ref();
                let (s, n) = match w {
                    "udp" => (t.and_then(|t| t.udp.as_ref()), "timeouts.udp"),
                    "icmp" => (t.and_then(|t| t.icmp.as_ref()), "timeouts.icmp"),
                    "tcp_est" => (
                        t.and_then(|t| t.tcp_established.as_ref()),
                        "timeouts.tcp_established",
                    ),
                    _ => (
                        t.and_then(|t| t.tcp_transitory.as_ref()),
                        "timeouts.tcp_transitory",
                    ),
                };
                (s.map_or(0..0, Spanned::span), n.into())
            }
            Key::Mtu(w) => {
                let m = raw.mtu.as_ref();
                let s = if w == "ipv4" {
                    m.and_then(|m| m.ipv4.as_ref())
                } else {
                    m.and_then(|m| m.ipv6.as_ref())
                };
                (s.map_or(0..0, Spanned::span), format!("mtu.{w}"))
            }
            Key::Limits(w) => {
                let l = raw.limits.as_ref();
                let s = match w {
                    "max_sessions_per_customer" => {
                        l.and_then(|l| l.max_sessions_per_customer.as_ref().map(Spanned::span))
                    }
                    "max_bibs" => l.and_then(|l| l.max_bibs.as_ref().map(Spanned::span)),
                    "max_stored_syns" => {
                        l.and_then(|l| l.max_stored_syns.as_ref().map(Spanned::span))
                    }
                    _ => l.and_then(|l| l.max_sessions.as_ref().map(Spanned::span)),
                };
                (s.unwrap_or(0..0), format!("limits.{w}"))
            }
            Key::Static(i) => (
                statics.get(i).map_or(0..0, |s| s.ipv4.span()),
                format!("static[{i}]"),
            ),
        };
        loc.err(span, name, m)
    })?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool4_entries() {
        let p = parse_pool4("203.0.113.0/28:2000-3000").unwrap();
        assert_eq!(p.net, "203.0.113.0/28".parse::<Ipv4Net>().unwrap());
        assert_eq!(p.ports, Some((2000, 3000)));
        assert_eq!(parse_pool4("203.0.113.7").unwrap().net.prefix_len(), 32);
        assert!(parse_pool4("203.0.113.1/24")
            .unwrap_err()
            .contains("203.0.113.0/24"));
        assert!(parse_pool4("203.0.113.1:3000-2000").is_err());
        assert!(parse_pool4("203.0.113.1:0-10").is_err());
        assert!(parse_pool4("2001:db8::1").is_err());
    }

    #[test]
    fn well_known_prefix_needs_global_pool() {
        let f = Flags {
            pool4: vec!["198.51.100.1/32".into()],
            ..Flags::default()
        };
        let e = from_flags(&f).unwrap_err().to_string();
        assert!(e.starts_with("--pool4 \"198.51.100.1/32\": "), "{e}");
        assert!(e.contains("RFC 6052 §3.1"), "{e}");
        let ok = from_flags(&Flags {
            allow_non_global: true,
            ..f.clone()
        })
        .unwrap();
        assert_eq!(ok.icmp_v4(), Ipv4Addr::new(198, 51, 100, 1));
        assert_eq!(
            ok.icmp_v6(),
            "64:ff9b::c633:6401".parse::<Ipv6Addr>().unwrap()
        );
        // A network-specific prefix carries any IPv4 address.
        from_flags(&Flags {
            prefix: Some("2001:db8:64::/96".into()),
            ..f
        })
        .unwrap();
    }

    #[test]
    fn offload_is_on_unless_turned_off() {
        let base = "prefix = \"2001:db8:64::/96\"\npool4 = [\"192.0.2.1\"]\n";
        assert!(parse("n.toml", base).unwrap().offload);
        assert!(
            !parse("n.toml", &format!("offload = false\n{base}"))
                .unwrap()
                .offload
        );
        let e = parse("n.toml", &format!("{base}offload = \"no\"\n"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("n.toml:3:"), "{e}");
        let f = Flags {
            prefix: Some("2001:db8:64::/96".into()),
            pool4: vec!["192.0.2.1".into()],
            ..Flags::default()
        };
        assert!(from_flags(&f).unwrap().offload);
    }

    #[test]
    fn file_errors_name_line_and_key() {
        let text =
            "prefix = \"2001:db8:64::/96\"\npool4 = [\"192.0.2.1\"]\n[timeouts]\nudp = \"30s\"\n";
        let e = parse("n.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("n.toml:4: timeouts.udp: "), "{e}");
        let text = "pool4 = [\"192.0.2.1\",\n  \"192.0.2.0/30\"]\nprefix = \"2001:db8:64::/96\"\n";
        let e = parse("n.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("n.toml:2: pool4[1]: "), "{e}");
        assert!(e.contains("overlaps"), "{e}");
        let e = parse("n.toml", "pool4 = [\"192.0.2.1\"]\nbogus = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("n.toml:2:"), "{e}");
        let e = parse("n.toml", "prefix = \"2001:db8:64::/96\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no pool4"), "{e}");
    }

    #[test]
    fn pool4_entries_have_their_own_port_ranges() {
        let f = Flags {
            prefix: Some("2001:db8:64::/96".into()),
            pool4: vec!["192.0.2.1:2000-3000".into(), "192.0.2.2:4000-5000".into()],
            ..Flags::default()
        };
        let c = from_flags(&f).unwrap();
        assert_eq!(c.pool4[1].ports, Some((4000, 5000)));
        // A range shorter than one block of the default 128 ports.
        let e = from_flags(&Flags {
            pool4: vec!["192.0.2.1:2000-2100".into()],
            ..f
        })
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("--pool4 \"192.0.2.1:2000-2100\": "), "{e}");
        assert!(e.contains("no room for one block of 128"), "{e}");
    }

    #[test]
    fn static_entries() {
        let s = parse_static("tcp:192.0.2.9:8080=[2001:db8:1::10]:80").unwrap();
        assert_eq!(s.proto, Protocol::Tcp);
        assert_eq!(s.v4, "192.0.2.9:8080".parse().unwrap());
        assert_eq!(s.to_string(), "tcp:192.0.2.9:8080=[2001:db8:1::10]:80");
        for bad in [
            "tcp:192.0.2.9:8080",
            "sctp:192.0.2.9:8080=[2001:db8:1::10]:80",
            "tcp:192.0.2.9=[2001:db8:1::10]:80",
            "tcp:192.0.2.9:8080=2001:db8:1::10",
        ] {
            assert!(parse_static(bad).is_err(), "{bad}");
        }
        let f = |s: &[&str]| Flags {
            prefix: Some("2001:db8:64::/96".into()),
            pool4: vec!["192.0.2.9".into()],
            statics: s.iter().map(|s| (*s).to_owned()).collect(),
            ..Flags::default()
        };
        from_flags(&f(&["udp:192.0.2.9:5353=[2001:db8:1::10]:53"])).unwrap();
        // The core's rules come back naming the entry.
        let e = from_flags(&f(&[
            "udp:192.0.2.9:5353=[2001:db8:1::10]:53",
            "udp:192.0.2.7:5353=[2001:db8:1::11]:53",
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("--static \"udp:192.0.2.7:5353=[2001:db8:1::11]:53\": "),
            "{e}"
        );
        assert!(e.contains("outside pool4"), "{e}");
        let e = from_flags(&f(&[
            "udp:192.0.2.9:5353=[2001:db8:1::10]:53",
            "udp:192.0.2.9:5354=[2001:db8:1::10]:53",
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("5354"), "{e}");
        assert!(e.contains("repeats"), "{e}");
        // The file form names the line and the entry.
        let text = "prefix = \"2001:db8:64::/96\"\npool4 = [\"192.0.2.9\"]\n\n[[static]]\nproto = \"tcp\"\nipv4 = \"192.0.2.9:8080\"\nipv6 = \"[2001:db8:1::10]:80\"\n\n[[static]]\nproto = \"tcp\"\nipv4 = \"192.0.2.1:8080\"\nipv6 = \"[2001:db8:1::11]:80\"\n";
        let e = parse("n.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("n.toml:11: static[1]: "), "{e}");
        let text = text.replace("192.0.2.1:8080", "192.0.2.9:8081");
        assert_eq!(parse("n.toml", &text).unwrap().statics.len(), 2);
        let e = parse("n.toml", &text.replace("\"tcp\"", "\"gre\""))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("n.toml:5: static[0].proto: "), "{e}");
    }

    #[test]
    fn limits_name_their_key() {
        let text = "prefix = \"2001:db8:64::/96\"\npool4 = [\"192.0.2.1\"]\n[limits]\nmax_sessions = 10\nmax_sessions_per_customer = 0\n";
        let e = parse("n.toml", text).unwrap_err().to_string();
        assert!(
            e.starts_with("n.toml:5: limits.max_sessions_per_customer: "),
            "{e}"
        );
        let e = parse(
            "n.toml",
            "prefix = \"2001:db8:64::/96\"\npool4 = [\"192.0.2.1\"]\n[port_blocks]\nsize = 127\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("n.toml:3: port_blocks: "), "{e}");
        let f = Flags {
            prefix: Some("2001:db8:64::/96".into()),
            pool4: vec!["192.0.2.1".into()],
            max_bibs: Some(0),
            ..Flags::default()
        };
        let e = from_flags(&f).unwrap_err().to_string();
        assert!(e.starts_with("--max-bibs \"0\": "), "{e}");
        // The old per-host key is gone: named by line.
        let e = parse(
            "n.toml",
            "pool4 = [\"192.0.2.1\"]\n[limits]\nmax_bindings_per_host = 8\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("n.toml:3:"), "{e}");
    }

    #[test]
    fn workers_key_and_flag() {
        let base = "prefix = \"2001:db8:64::/96\"\npool4 = [\"192.0.2.1\"]\n";
        let c = parse("n.toml", base).unwrap();
        assert_eq!(c.workers, None);
        assert!((1..=DEFAULT_MAX_WORKERS).contains(&c.workers()));
        let c = parse("n.toml", &format!("{base}workers = 4\n")).unwrap();
        assert_eq!((c.workers, c.workers()), (Some(4), 4));
        for bad in ["0", "65"] {
            let e = parse("n.toml", &format!("{base}workers = {bad}\n"))
                .unwrap_err()
                .to_string();
            assert_eq!(
                e,
                format!("n.toml:3: workers: workers {bad} must be between 1 and 64")
            );
        }
        assert_eq!(parse_workers("16"), Ok(16));
        assert_eq!(
            parse_workers("two"),
            Err("not a number of workers".to_owned())
        );
    }
}
