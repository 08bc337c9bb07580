//! Everything of the gateway that touches the core engine's configuration,
//! event and statistics types, kept in one place so that a change of the
//! core's state layer is adapted here alone:
//!
//! - [`build`]: the server's [`Config`] → the core's `xlat::Config` and
//!   `state::Config` (through `state::Settings`; the core's rule
//!   violations come back named by key);
//! - [`engine`]: a new [`Nat64`] from them;
//! - [`log_line`]: a core event → an RFC 6888 §4 log line (UTC);
//! - [`Gauges`]: the table sizes and core counters `/metrics` shows;
//! - [`transmit_name`]: what a packet of `Nat64::poll_transmit` is;
//! - [`Clock`]: the process clock as the core's `Instant`.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ipnet::Ipv4Net;
use sixgate::nat64::state::{
    self, DropReason, Event, Pool4Range, Protocol, Settings, StaticBib, Transport4, Transport6,
    TCP_INCOMING_SYN,
};
use sixgate::nat64::xlat::{self, Reason};
use sixgate::nat64::{Emit, Nat64};
use sixgate::time::Instant;

use super::config::{Config, Filtering, Key, Static};

/// The core configurations of one engine.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub(crate) xlat: xlat::Config,
    pub(crate) state: state::Config,
}

/// The core's settings for `config` (unchecked): the state split into one
/// shard per worker, customers placed in shards by a hash keyed with
/// `shard_key`.
pub(crate) fn settings(config: &Config, shard_key: u64) -> Result<Settings, (Key, String)> {
    let [udp, icmp, tcp_est, tcp_trans] = timeouts(config);
    let secs = |s: u32| Duration::from_secs(u64::from(s));
    let t = state::Timeouts::new(secs(udp), secs(tcp_est), secs(tcp_trans), secs(icmp))
        .map_err(|e| (key_of(config, &e), e.to_string()))?;
    let mut pool = Vec::new();
    for p in &config.pool4 {
        let (lo, hi) = p.ports.unwrap_or(DEFAULT_PORTS);
        for proto in Protocol::ALL {
            pool.push(Pool4Range {
                proto,
                net: p.net,
                ports: lo..=hi,
            });
        }
    }
    let mut s = Settings::new(config.prefix, pool);
    s.timeouts = t;
    if let Some((size, max)) = config.port_blocks {
        s.block_size = size;
        s.max_blocks_per_customer = max;
    }
    let l = &config.limits;
    if let Some(n) = l.max_sessions {
        s.max_sessions = n;
    }
    if let Some(n) = l.max_sessions_per_customer {
        s.max_sessions_per_customer = n;
    }
    if let Some(n) = l.max_bibs {
        s.max_bibs = n;
    }
    if let Some(n) = l.max_stored_syns {
        s.max_stored_syns = n;
    }
    s.filtering = match config.filtering {
        Filtering::EndpointIndependent => state::Filtering::EndpointIndependent,
        Filtering::AddressDependent => state::Filtering::AddressDependent,
    };
    s.drop_externally_initiated_tcp = config.drop_external_tcp;
    s.log_sessions = config.log_sessions;
    s.shards = config.workers();
    s.shard_key = shard_key;
    s.statics = config
        .statics
        .iter()
        .copied()
        .map(Static::to_core)
        .collect();
    Ok(s)
}

/// The port range of a pool4 entry that names none.
pub(crate) const DEFAULT_PORTS: (u16, u16) = (1024, 65535);

/// Checks `config` against the core's rules and builds its configurations
/// (shard 0; [`state::Config::for_shard`] gives the others).
pub(crate) fn build(config: &Config) -> Result<Built, (Key, String)> {
    build_keyed(config, 0)
}

/// As [`build`], with the key of the hash that places customers in shards.
pub(crate) fn build_keyed(config: &Config, shard_key: u64) -> Result<Built, (Key, String)> {
    let mut x = xlat::Config::builder()
        .icmp_source_v4(config.icmp_v4())
        .icmp_source_v6(config.icmp_v6());
    if let Some(m) = config.ipv6_mtu {
        x = x.ipv6_mtu(m);
    }
    if let Some(m) = config.ipv4_mtu {
        x = x.ipv4_mtu(m);
    }
    let xlat = x.build().map_err(|e| {
        let key = match e {
            xlat::ConfigError::Ipv4Mtu { .. } => Key::Mtu("ipv4"),
            _ => Key::Mtu("ipv6"),
        };
        (key, e.to_string())
    })?;
    let state = state::Config::new(settings(config, shard_key)?)
        .map_err(|e| (key_of(config, &e), e.to_string()))?;
    Ok(Built { xlat, state })
}

/// The key a core rule violation is about.
fn key_of(config: &Config, e: &state::ConfigError) -> Key {
    use state::ConfigError as E;
    let pool_of =
        |net: Ipv4Net| Key::Pool4(config.pool4.iter().position(|p| p.net == net).unwrap_or(0));
    let static_of = |entry: &StaticBib, last: bool| {
        let same = |s: &Static| s.to_core() == *entry;
        let i = if last {
            config.statics.iter().rposition(same)
        } else {
            config.statics.iter().position(same)
        };
        Key::Static(i.unwrap_or(0))
    };
    match e {
        E::TimeoutTooShort { name, .. } => Key::Timeout(match *name {
            "udp" => "udp",
            "icmp" => "icmp",
            "tcp established" => "tcp_est",
            _ => "tcp_trans",
        }),
        E::BlockSize { .. } => Key::PortBlocks,
        // Named where it was set: the block size, else the shortest range.
        E::NoRoomForBlock { .. } if config.port_blocks.is_some() => Key::PortBlocks,
        E::NoRoomForBlock { .. } => Key::Pool4(
            (0..config.pool4.len())
                .min_by_key(|&i| {
                    config.pool4[i]
                        .ports
                        .map_or(u32::MAX, |(lo, hi)| u32::from(hi) - u32::from(lo))
                })
                .unwrap_or(0),
        ),
        E::ZeroLimit {
            name: "max_blocks_per_customer",
        } => Key::PortBlocks,
        E::ZeroLimit { name } => Key::Limits(name),
        E::LimitTooLarge => Key::Limits(
            if config.limits.max_bibs.is_some() && config.limits.max_sessions.is_none() {
                "max_bibs"
            } else {
                "max_sessions"
            },
        ),
        E::EmptyRange { net, .. } | E::PoolNetTooLarge { net } => pool_of(*net),
        E::PoolOverlap { b, .. } => pool_of(*b),
        E::StaticOutsidePool { entry } | E::StaticInsidePrefix { entry } => static_of(entry, false),
        E::StaticDuplicate { entry } => static_of(entry, true),
        _ => Key::Pool4(0),
    }
}

/// The lifetimes in effect in seconds (udp, icmp, tcp established, tcp
/// transitory), the core's defaults where the config gives none.
pub(crate) fn timeouts(config: &Config) -> [u32; 4] {
    let d = state::Timeouts::default();
    let s = |d: Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
    let t = config.timeouts;
    [
        t.udp.unwrap_or(s(d.udp())),
        t.icmp.unwrap_or(s(d.icmp())),
        t.tcp_est.unwrap_or(s(d.tcp_est())),
        t.tcp_trans.unwrap_or(s(d.tcp_trans())),
    ]
}

/// The limits in effect: (block size, blocks per customer, sessions,
/// sessions per customer, BIB entries, stored SYNs), the core's defaults
/// where the config gives none.
pub(crate) fn limits(config: &Config) -> (u16, u16, u32, u32, u32, u16) {
    let d = Settings::new(config.prefix, Vec::new());
    let (size, max) = config
        .port_blocks
        .unwrap_or((d.block_size, d.max_blocks_per_customer));
    let l = &config.limits;
    (
        size,
        max,
        l.max_sessions.unwrap_or(d.max_sessions),
        l.max_sessions_per_customer
            .unwrap_or(d.max_sessions_per_customer),
        l.max_bibs.unwrap_or(d.max_bibs),
        l.max_stored_syns.unwrap_or(d.max_stored_syns),
    )
}

/// A fresh engine for shard `shard`; `seed` keys its hashes and port
/// choices.
pub(crate) fn engine(built: &Built, shard: usize, seed: u64) -> Nat64 {
    let state = built
        .state
        .for_shard(shard)
        .unwrap_or_else(|| built.state.clone());
    Nat64::new(built.xlat.clone(), state, seed)
}

/// The process clock: the core's `Instant` counts milliseconds since
/// `start`; [`Clock::utc`] turns one back into wall time for logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: std::time::Instant,
    wall: SystemTime,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            start: std::time::Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// Now, for the engine.
    pub(crate) fn now(&self) -> Instant {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Instant::from_millis(ms)
    }

    /// How long from now until `at` (zero if past).
    pub(crate) fn until(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.now())
    }

    /// `at` as an RFC 3339 UTC timestamp with milliseconds.
    pub(crate) fn utc(&self, at: Instant) -> String {
        let t = self.wall + Duration::from_millis(at.as_millis());
        utc_text(t)
    }
}

/// Pool4 blocks of one protocol.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Blocks {
    pub(crate) total: u64,
    pub(crate) free: u64,
}

/// The engine's gauges and counters, read when the worker publishes.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gauges {
    pub(crate) sessions: u64,
    pub(crate) bibs: u64,
    pub(crate) customers: u64,
    pub(crate) stored_syns: u64,
    /// Per protocol (tcp, udp, icmp).
    pub(crate) blocks: [Blocks; 3],
    pub(crate) probes: u64,
    pub(crate) events_lost: u64,
    pub(crate) transmits_lost: u64,
    /// The state layer's refusals, by its reason names.
    pub(crate) state_drops: Vec<(&'static str, u64)>,
    /// Pool4 transport addresses per protocol (addresses × ports).
    pub(crate) pool_capacity: u64,
}

impl Gauges {
    pub(crate) fn of(nat: &Nat64, config: &Config) -> Self {
        let st = nat.state();
        let stats = st.stats();
        let pool_capacity = config
            .pool4
            .iter()
            .map(|p| {
                let (lo, hi) = p.ports.unwrap_or(DEFAULT_PORTS);
                p.net.hosts().count() as u64 * (u64::from(hi) - u64::from(lo) + 1)
            })
            .sum();
        let blocks = Protocol::ALL.map(|p| Blocks {
            total: u64::from(st.config().blocks(p)),
            free: st.free_blocks(p) as u64,
        });
        Self {
            sessions: u64::from(stats.sessions),
            bibs: u64::from(stats.bibs),
            customers: u64::from(stats.customers),
            stored_syns: u64::from(stats.stored_syns),
            blocks,
            probes: stats.probes,
            events_lost: stats.events_lost.saturating_add(nat.events_lost()),
            transmits_lost: nat.transmits_lost(),
            state_drops: DropReason::ALL
                .iter()
                .map(|r| (r.name(), st.drops(*r)))
                .collect(),
            pool_capacity,
        }
    }
}

impl Gauges {
    /// Adds another shard's gauges: tables and counters sum; pool4's size
    /// (blocks in all, transport addresses) is the same in every shard,
    /// while each shard's free blocks are its own.
    pub(crate) fn merge(&mut self, o: &Gauges) {
        self.sessions += o.sessions;
        self.bibs += o.bibs;
        self.customers += o.customers;
        self.stored_syns += o.stored_syns;
        for (a, b) in self.blocks.iter_mut().zip(&o.blocks) {
            a.total = a.total.max(b.total);
            a.free += b.free;
        }
        self.probes += o.probes;
        self.events_lost += o.events_lost;
        self.transmits_lost += o.transmits_lost;
        for &(name, n) in &o.state_drops {
            match self.state_drops.iter_mut().find(|(k, _)| *k == name) {
                Some((_, v)) => *v += n,
                None => self.state_drops.push((name, n)),
            }
        }
        self.pool_capacity = self.pool_capacity.max(o.pool_capacity);
    }
}

/// The stable counter name of a drop reason.
pub(crate) fn reason_name(r: Reason) -> &'static str {
    r.as_str()
}

/// Whether a "drop" is not a loss: a fragment held for reassembly, or an
/// unsolicited SYN stored for a simultaneous open.
pub(crate) fn is_held(r: Reason) -> bool {
    matches!(r, Reason::Reassembling | Reason::SynStored)
}

/// What a packet of `Nat64::poll_transmit` is, by its bytes: the Port
/// Unreachable for an expired stored SYN (`syn_expired`), the stored SYN
/// of a simultaneous open (`simultaneous_open`) or a TCP probe (`probe`).
pub(crate) fn transmit_name(emit: &Emit, out: &[u8]) -> &'static str {
    match *emit {
        Emit::V4 { reply: Some(r), .. } => r.as_str(),
        Emit::V4 { .. } => "other",
        // IPv6 header, then TCP: flags at byte 13 of the TCP header.
        Emit::V6 { .. } => match out.get(6).zip(out.get(40 + 13)) {
            Some((6, f)) if f & 0x02 != 0 => "simultaneous_open",
            Some((6, _)) => "probe",
            _ => "other",
        },
        Emit::Drop(r) => r.as_str(),
    }
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Icmp => "ICMP",
    }
}

fn ports(addr: Ipv4Addr, first: u16, last: u16) -> String {
    format!("{addr}:{first}-{last}")
}

fn pair(v6: &Transport6, v4: &Transport4) -> String {
    format!("{v6} {v4}")
}

/// An event as one RFC 6888 §4 log line (REQ-12: the IPv6 node, the pool
/// transport address, the protocol and the time, UTC), without newline.
pub(crate) fn log_line(clock: &Clock, e: &Event) -> String {
    let (at, what) = match e {
        Event::BlockAllocated {
            customer,
            proto: p,
            addr,
            first,
            last,
            at,
        } => (
            *at,
            format!(
                "block create {} {customer} {}",
                proto(*p),
                ports(*addr, *first, *last)
            ),
        ),
        Event::BlockReleased {
            customer,
            proto: p,
            addr,
            first,
            last,
            at,
        } => (
            *at,
            format!(
                "block release {} {customer} {}",
                proto(*p),
                ports(*addr, *first, *last)
            ),
        ),
        Event::BibCreated {
            proto: p,
            v6,
            v4,
            at,
        } => (*at, format!("BIB create {} {}", proto(*p), pair(v6, v4))),
        Event::BibReleased {
            proto: p,
            v6,
            v4,
            at,
        } => (*at, format!("BIB release {} {}", proto(*p), pair(v6, v4))),
        Event::SessionCreated {
            proto: p,
            v6,
            v4,
            remote,
            at,
        } => (
            *at,
            format!("session create {} {} {remote}", proto(*p), pair(v6, v4)),
        ),
        Event::SessionClosed {
            proto: p,
            v6,
            v4,
            remote,
            at,
        } => (
            *at,
            format!("session release {} {} {remote}", proto(*p), pair(v6, v4)),
        ),
        Event::TcpProbe { v6, peer, at } => (*at, format!("TCP probe {peer} -> {v6}")),
        Event::SynExpired(s) => (
            s.at.saturating_add(TCP_INCOMING_SYN),
            format!("SYN expired {} -> {} port-unreachable", s.src, s.dst),
        ),
        Event::SimultaneousOpen(s) => (
            s.at,
            format!("SYN simultaneous-open {} -> {}", s.src, s.dst),
        ),
        Event::LimitReached { reason, at } => (*at, format!("limit {}", reason.name())),
    };
    let mut line = clock.utc(at);
    let _ = write!(line, " NAT64 {what}");
    line
}

/// The stable name of the limit an `Event::LimitReached` reports, for
/// the metric.
pub(crate) fn limit_name(e: &Event) -> Option<&'static str> {
    match e {
        Event::LimitReached { reason, .. } => Some(reason.name()),
        _ => None,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, days from the epoch by
/// Howard Hinnant's `civil_from_days`).
fn utc_text(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        let t = |s: u64, ms: u64| utc_text(UNIX_EPOCH + Duration::from_millis(s * 1000 + ms));
        assert_eq!(t(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(t(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(t(1_796_558_399, 999), "2026-12-06T11:59:59.999Z");
    }

    #[test]
    fn transmits_are_named_by_their_bytes() {
        let mut out = [0u8; 60];
        out[0] = 0x60;
        out[6] = 6;
        let v6 = Emit::V6 {
            len: 60,
            chunk: 60,
            reply: None,
        };
        out[53] = 0x10; // ACK alone: the probe
        assert_eq!(transmit_name(&v6, &out), "probe");
        out[53] = 0x02; // SYN: a stored SYN sent on
        assert_eq!(transmit_name(&v6, &out), "simultaneous_open");
        out[6] = 17;
        assert_eq!(transmit_name(&v6, &out), "other");
        let v4 = Emit::V4 {
            len: 56,
            chunk: 56,
            reply: Some(Reason::SynExpired),
        };
        assert_eq!(transmit_name(&v4, &out), "syn_expired");
    }

    #[test]
    fn log_lines() {
        let clock = Clock {
            start: std::time::Instant::now(),
            wall: UNIX_EPOCH,
        };
        let v6 = Transport6::new("2001:db8:1::10".parse().unwrap(), 5000);
        let v4 = Transport4::new("203.0.113.1".parse().unwrap(), 5001);
        let remote = Transport4::new("198.51.100.2".parse().unwrap(), 53);
        let at = Instant::from_millis(1500);
        let syn = state::StoredSyn {
            src: remote,
            dst: v4,
            at,
            packet: Box::new([]),
        };
        for (e, want) in [
            (
                Event::BibCreated {
                    proto: Protocol::Udp,
                    v6,
                    v4,
                    at,
                },
                "BIB create UDP [2001:db8:1::10]:5000 203.0.113.1:5001",
            ),
            (
                Event::BibReleased {
                    proto: Protocol::Tcp,
                    v6,
                    v4,
                    at,
                },
                "BIB release TCP [2001:db8:1::10]:5000 203.0.113.1:5001",
            ),
            (
                Event::BlockAllocated {
                    customer: "2001:db8:1::/64".parse().unwrap(),
                    proto: Protocol::Udp,
                    addr: v4.addr,
                    first: 5000,
                    last: 5127,
                    at,
                },
                "block create UDP 2001:db8:1::/64 203.0.113.1:5000-5127",
            ),
            (
                Event::BlockReleased {
                    customer: "2001:db8:1::/64".parse().unwrap(),
                    proto: Protocol::Icmp,
                    addr: v4.addr,
                    first: 5000,
                    last: 5127,
                    at,
                },
                "block release ICMP 2001:db8:1::/64 203.0.113.1:5000-5127",
            ),
            (
                Event::SessionCreated {
                    proto: Protocol::Udp,
                    v6,
                    v4,
                    remote,
                    at,
                },
                "session create UDP [2001:db8:1::10]:5000 203.0.113.1:5001 198.51.100.2:53",
            ),
            (
                Event::SessionClosed {
                    proto: Protocol::Udp,
                    v6,
                    v4,
                    remote,
                    at,
                },
                "session release UDP [2001:db8:1::10]:5000 203.0.113.1:5001 198.51.100.2:53",
            ),
            (
                Event::TcpProbe {
                    v6,
                    peer: Transport6::new("64:ff9b::c633:6402".parse().unwrap(), 443),
                    at,
                },
                "TCP probe [64:ff9b::c633:6402]:443 -> [2001:db8:1::10]:5000",
            ),
            (
                Event::SimultaneousOpen(syn.clone()),
                "SYN simultaneous-open 198.51.100.2:53 -> 203.0.113.1:5001",
            ),
            (
                Event::LimitReached {
                    reason: DropReason::SessionLimit,
                    at,
                },
                "limit session_limit",
            ),
        ] {
            assert_eq!(
                log_line(&clock, &e),
                format!("1970-01-01T00:00:01.500Z NAT64 {want}")
            );
        }
        // Logged when it expired: six seconds after it came.
        assert_eq!(
            log_line(&clock, &Event::SynExpired(syn)),
            "1970-01-01T00:00:07.500Z NAT64 SYN expired 198.51.100.2:53 -> 203.0.113.1:5001 port-unreachable"
        );
    }
}
