//! Validated configuration of the stateful translator: timers with their
//! RFC 6146 §4 minimums, pool4 with per-protocol port ranges, port blocks,
//! limits, filtering and static BIB entries.
//!
//! [`Settings`] is the plain form a config file or a binding fills in;
//! [`Config::new`] checks it once and the result is valid for good.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;
use std::time::Duration;

use ipnet::Ipv4Net;

use super::hash::KeyedState;
use super::pool::block_id;
use super::{customer_of, Protocol, Transport4, Transport6};
use crate::Nat64Prefix;

/// RFC 6146 §4 `UDP_MIN`: the UDP session lifetime may not be shorter.
pub const UDP_MIN: Duration = Duration::from_secs(2 * 60);
/// RFC 6146 §4 `UDP_DEFAULT`: 5 minutes.
pub const UDP_DEFAULT: Duration = Duration::from_secs(5 * 60);
/// RFC 6146 §4 `TCP_EST`: 2 hours 4 minutes, also its minimum.
pub const TCP_EST: Duration = Duration::from_secs(2 * 3600 + 4 * 60);
/// RFC 6146 §4 `TCP_TRANS`: 4 minutes, also its minimum.
pub const TCP_TRANS: Duration = Duration::from_secs(4 * 60);
/// RFC 6146 §4 `TCP_INCOMING_SYN`: how long an unsolicited IPv4 SYN is kept
/// (RFC 5382 REQ-4: at least 6 seconds).
pub const TCP_INCOMING_SYN: Duration = Duration::from_secs(6);
/// RFC 6146 §4 `ICMP_DEFAULT`: 60 seconds.
pub const ICMP_DEFAULT: Duration = Duration::from_secs(60);

/// The most shards the state may be split into ([`Settings::shards`]).
pub const MAX_SHARDS: u16 = 256;

/// The most port blocks a pool4 may hold in all (each free block costs four
/// bytes of the free list; 4 Mi blocks is 16 MiB).
pub const MAX_BLOCKS: u64 = 1 << 22;

/// Session lifetimes (RFC 6146 §3.5, §4). Valid once built: no timer is
/// below its minimum.
///
/// ```
/// use std::time::Duration;
/// use sixgate::nat64::state::Timeouts;
///
/// let t = Timeouts::default();
/// assert_eq!(t.udp(), Duration::from_secs(300));
/// let short = Timeouts::new(Duration::from_secs(60), t.tcp_est(), t.tcp_trans(), t.icmp());
/// assert_eq!(
///     short.unwrap_err().to_string(),
///     "udp timeout 60s is below the RFC 6146 §4 minimum of 120s"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    udp: Duration,
    tcp_est: Duration,
    tcp_trans: Duration,
    icmp: Duration,
}

impl Default for Timeouts {
    /// The RFC 6146 §4 defaults: UDP 5 min, TCP established 2 h 4 min,
    /// TCP transitory 4 min, ICMP 60 s.
    fn default() -> Self {
        Self {
            udp: UDP_DEFAULT,
            tcp_est: TCP_EST,
            tcp_trans: TCP_TRANS,
            icmp: ICMP_DEFAULT,
        }
    }
}

impl Timeouts {
    /// Checks each lifetime against its minimum: UDP 2 min, TCP established
    /// 2 h 4 min, TCP transitory 4 min (RFC 6146 §4), ICMP 1 s (the RFC
    /// gives no minimum; zero would expire a query before its reply).
    pub fn new(
        udp: Duration,
        tcp_est: Duration,
        tcp_trans: Duration,
        icmp: Duration,
    ) -> Result<Self, ConfigError> {
        let check = |name: &'static str, value: Duration, min: Duration| {
            if value < min {
                Err(ConfigError::TimeoutTooShort { name, value, min })
            } else {
                Ok(())
            }
        };
        check("udp", udp, UDP_MIN)?;
        check("tcp established", tcp_est, TCP_EST)?;
        check("tcp transitory", tcp_trans, TCP_TRANS)?;
        check("icmp", icmp, Duration::from_secs(1))?;
        Ok(Self {
            udp,
            tcp_est,
            tcp_trans,
            icmp,
        })
    }

    /// UDP session lifetime.
    pub fn udp(&self) -> Duration {
        self.udp
    }
    /// TCP established lifetime (after which the probe is sent).
    pub fn tcp_est(&self) -> Duration {
        self.tcp_est
    }
    /// TCP transitory lifetime (opening, closing, after RST or probe).
    pub fn tcp_trans(&self) -> Duration {
        self.tcp_trans
    }
    /// ICMP query session lifetime.
    pub fn icmp(&self) -> Duration {
        self.icmp
    }
}

/// Inbound filtering (RFC 6146 §3.5.1.2, RFC 4787 §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Filtering {
    /// Endpoint-independent filtering: any IPv4 host may reach a mapped
    /// transport address. The default (RFC 6146 §3.5.1.2 RECOMMENDS it).
    #[default]
    EndpointIndependent,
    /// Address-dependent filtering: only IPv4 addresses the IPv6 host has
    /// sent to (on this mapping) may reach it. Static BIB entries (port
    /// forwards) are not filtered.
    AddressDependent,
}

/// One line of pool4: a protocol, IPv4 addresses and the ports of each
/// address that the translator may hand out for that protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool4Range {
    /// The protocol the ports are for.
    pub proto: Protocol,
    /// The addresses (a /32 for one).
    pub net: Ipv4Net,
    /// The ports (ICMP: query identifiers).
    pub ports: RangeInclusive<u16>,
}

/// Addresses and ports the host itself uses, so that pool4 can be checked
/// not to overlap them (Linux: the addresses of the egress interface and
/// `net.ipv4.ip_local_port_range`, 32768-60999 by default).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostPorts {
    /// The host's own IPv4 addresses.
    pub addrs: Vec<Ipv4Addr>,
    /// The ports its own sockets take.
    pub ports: RangeInclusive<u16>,
}

/// A static BIB entry (port forwarding): the IPv4 transport address
/// `v4` always maps to `v6` and never expires (RFC 6146 §3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StaticBib {
    /// The protocol.
    pub proto: Protocol,
    /// The IPv6 side (the server).
    pub v6: Transport6,
    /// The pool4 side (one of pool4's addresses).
    pub v4: Transport4,
}

/// Everything the translator's state can be configured with, unchecked:
/// fill it in and pass it to [`Config::new`].
#[derive(Clone, Debug)]
pub struct Settings {
    /// The NAT64 prefix: destinations inside it are translated; sources
    /// inside it are dropped (loop guard).
    pub prefix: Nat64Prefix,
    /// pool4. Must not be empty.
    pub pool4: Vec<Pool4Range>,
    /// If set, a pool4 port range that overlaps the host's own ports on one
    /// of its addresses is an error.
    pub host: Option<HostPorts>,
    /// Session lifetimes.
    pub timeouts: Timeouts,
    /// Ports per block (even, 2 to 32768): each customer /64 is given
    /// blocks of this many ports, logged once per block (RFC 6888 REQ-12,
    /// RFC 7422). Default 128.
    pub block_size: u16,
    /// Blocks one customer /64 may hold per protocol. Default 8.
    pub max_blocks_per_customer: u16,
    /// Sessions one customer /64 may hold, all protocols. Default 4096.
    pub max_sessions_per_customer: u32,
    /// Sessions in all. Default 1,000,000.
    pub max_sessions: u32,
    /// BIB entries in all (static ones included). Default 1,000,000.
    pub max_bibs: u32,
    /// Unsolicited IPv4 SYNs kept at once for simultaneous open. Default 64.
    pub max_stored_syns: u16,
    /// Bytes of a stored SYN kept (enough for an ICMP error quoting it).
    /// Default 576 (RFC 1812 §4.3.2.3).
    pub max_stored_syn_bytes: u16,
    /// Events queued before the oldest undrained ones are counted as lost.
    /// Default 65,536.
    pub max_events: u32,
    /// Inbound filtering. Default endpoint-independent.
    pub filtering: Filtering,
    /// Drop every externally initiated TCP connection (RFC 6146 §3.5.2.2,
    /// "security policy"). Default false.
    pub drop_externally_initiated_tcp: bool,
    /// Treat an RST in V4 FIN RCV / V6 FIN RCV as in ESTABLISHED (go to
    /// TRANS). RFC 6146 leaves it out; default false.
    pub rst_in_fin_rcv: bool,
    /// Emit an event per session created and closed (RFC 6888 REQ-12 is
    /// met by the block events alone). Default false.
    pub log_sessions: bool,
    /// Static BIB entries.
    pub statics: Vec<StaticBib>,
    /// Shards the state is split into, 1 to [`MAX_SHARDS`]: one engine per
    /// shard, each with its own tables, for a gateway that runs a worker
    /// per core without locks (see [`Config::shard_of_v6_source`] and
    /// [`Config::shard_of_v4`]). A customer /64 lives in one shard, so
    /// the per-customer limits stay exact; `max_sessions`, `max_bibs` and
    /// `max_stored_syns` are split evenly (each shard gets the total
    /// divided by the shard count, rounded up). Default 1: one engine with
    /// everything.
    pub shards: u16,
    /// Keys the hash that places a customer /64 in a shard (every shard
    /// and every dispatcher must use the same key). Default 0.
    pub shard_key: u64,
}

impl Settings {
    /// Defaults around a prefix and pool4.
    pub fn new(prefix: Nat64Prefix, pool4: Vec<Pool4Range>) -> Self {
        Self {
            prefix,
            pool4,
            host: None,
            timeouts: Timeouts::default(),
            block_size: 128,
            max_blocks_per_customer: 8,
            max_sessions_per_customer: 4096,
            max_sessions: 1_000_000,
            max_bibs: 1_000_000,
            max_stored_syns: 64,
            max_stored_syn_bytes: 576,
            max_events: 65_536,
            filtering: Filtering::EndpointIndependent,
            drop_externally_initiated_tcp: false,
            rst_in_fin_rcv: false,
            log_sessions: false,
            statics: Vec::new(),
            shards: 1,
            shard_key: 0,
        }
    }
}

/// A run of whole blocks: the ports of one address, for one protocol, in
/// one port class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) addr: u32,
    /// First port of the first block (even).
    pub(crate) first_port: u16,
    /// How many blocks.
    pub(crate) blocks: u32,
    /// Id of the first block (ids count up in (addr, port) order).
    pub(crate) first_id: u32,
}

/// A checked configuration: see [`Settings`] for each field's meaning.
///
/// ```
/// use std::net::Ipv4Addr;
/// use sixgate::nat64::state::{Config, HostPorts, Pool4Range, Protocol, Settings};
///
/// let pool = vec![Pool4Range {
///     proto: Protocol::Tcp,
///     net: "192.0.2.1/32".parse()?,
///     ports: 1024..=65535,
/// }];
/// let mut s = Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool);
/// assert!(Config::new(s.clone()).is_ok());
///
/// s.host = Some(HostPorts { addrs: vec![Ipv4Addr::new(192, 0, 2, 1)], ports: 32768..=60999 });
/// assert_eq!(
///     Config::new(s).unwrap_err().to_string(),
///     "pool4 tcp ports 1024-65535 of 192.0.2.1 overlap the host's own ports 32768-60999"
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) prefix: Nat64Prefix,
    pub(crate) timeouts: Timeouts,
    pub(crate) block_size: u16,
    pub(crate) max_blocks_per_customer: u16,
    pub(crate) max_sessions_per_customer: u32,
    pub(crate) max_sessions: u32,
    pub(crate) max_bibs: u32,
    pub(crate) max_stored_syns: u16,
    pub(crate) max_stored_syn_bytes: u16,
    pub(crate) max_events: u32,
    pub(crate) filtering: Filtering,
    pub(crate) drop_externally_initiated_tcp: bool,
    pub(crate) rst_in_fin_rcv: bool,
    pub(crate) log_sessions: bool,
    pub(crate) statics: Vec<StaticBib>,
    /// Sorted, deduplicated pool4 addresses (all protocols).
    pub(crate) addrs: Vec<u32>,
    /// Per protocol, per port class (well-known, ephemeral): segments in
    /// (addr, port) order.
    pub(crate) segments: [[Vec<Segment>; 2]; 3],
    /// How many shards the state is split into.
    pub(crate) shards: u16,
    /// Which of them this configuration is for.
    pub(crate) shard: u16,
    /// Places a customer /64 in a shard.
    pub(crate) shard_hash: KeyedState,
    /// Static entries' pool4 sides (protocol index, address, port), sorted,
    /// with the shard of their IPv6 side.
    pub(crate) static_shards: Vec<((u8, u32, u16), u16)>,
}

impl Config {
    /// Checks the settings: timers (already checked by [`Timeouts`]), block
    /// size, limits, pool4 (no overlap between its lines, room for at least
    /// one block per configured protocol, at most [`MAX_BLOCKS`] blocks, no
    /// overlap with [`Settings::host`]) and static entries (inside pool4,
    /// IPv6 side outside the prefix, no duplicates).
    pub fn new(s: Settings) -> Result<Self, ConfigError> {
        if s.block_size < 2 || !s.block_size.is_multiple_of(2) || s.block_size > 32768 {
            return Err(ConfigError::BlockSize { size: s.block_size });
        }
        for (name, v) in [
            (
                "max_blocks_per_customer",
                u64::from(s.max_blocks_per_customer),
            ),
            (
                "max_sessions_per_customer",
                u64::from(s.max_sessions_per_customer),
            ),
            ("max_sessions", u64::from(s.max_sessions)),
            ("max_bibs", u64::from(s.max_bibs)),
            ("max_events", u64::from(s.max_events)),
        ] {
            if v == 0 {
                return Err(ConfigError::ZeroLimit { name });
            }
        }
        if s.max_sessions >= u32::MAX / 2 || s.max_bibs >= u32::MAX / 2 {
            return Err(ConfigError::LimitTooLarge);
        }
        if s.shards == 0 || s.shards > MAX_SHARDS {
            return Err(ConfigError::Shards { shards: s.shards });
        }
        if s.pool4.is_empty() {
            return Err(ConfigError::EmptyPool);
        }
        // Overlaps between pool4 lines of one protocol.
        for (i, a) in s.pool4.iter().enumerate() {
            if a.ports.is_empty() {
                return Err(ConfigError::EmptyRange {
                    proto: a.proto,
                    net: a.net,
                });
            }
            for b in s.pool4.iter().skip(i.saturating_add(1)) {
                if a.proto == b.proto
                    && (a.net.contains(&b.net) || b.net.contains(&a.net))
                    && a.ports.start() <= b.ports.end()
                    && b.ports.start() <= a.ports.end()
                {
                    return Err(ConfigError::PoolOverlap {
                        proto: a.proto,
                        a: a.net,
                        b: b.net,
                    });
                }
            }
            if let Some(host) = &s.host {
                for &h in &host.addrs {
                    if a.net.contains(&h)
                        && a.ports.start() <= host.ports.end()
                        && host.ports.start() <= a.ports.end()
                    {
                        return Err(ConfigError::OverlapsHost {
                            proto: a.proto,
                            addr: h,
                            pool: a.ports.clone(),
                            host: host.ports.clone(),
                        });
                    }
                }
            }
        }
        let mut addrs: Vec<u32> = Vec::new();
        let mut segments: [[Vec<Segment>; 2]; 3] = Default::default();
        let mut total: u64 = 0;
        for range in &s.pool4 {
            if range.net.prefix_len() < 16 {
                return Err(ConfigError::PoolNetTooLarge { net: range.net });
            }
            for addr in range.net.hosts() {
                let a = u32::from(addr);
                addrs.push(a);
                for (class, lo, hi) in [(0usize, 0u16, 1023u16), (1, 1024, 65535)] {
                    // Port 0 is no source port for TCP or UDP (ICMP
                    // identifier 0 is fine).
                    let floor = if range.proto == Protocol::Icmp {
                        lo
                    } else {
                        lo.max(1)
                    };
                    let lo = (*range.ports.start()).max(floor);
                    let hi = (*range.ports.end()).min(hi);
                    if lo > hi {
                        continue;
                    }
                    let first = lo.saturating_add(lo % 2);
                    let span = u32::from(hi)
                        .saturating_sub(u32::from(first))
                        .saturating_add(1);
                    let blocks = span.checked_div(u32::from(s.block_size)).unwrap_or(0);
                    if hi < first || blocks == 0 {
                        continue;
                    }
                    if let Some(per_class) = segments
                        .get_mut(range.proto.index())
                        .and_then(|c| c.get_mut(class))
                    {
                        per_class.push(Segment {
                            addr: a,
                            first_port: first,
                            blocks,
                            first_id: 0,
                        });
                    }
                    total = total.saturating_add(u64::from(blocks));
                    if total > MAX_BLOCKS {
                        return Err(ConfigError::PoolTooLarge { blocks: total });
                    }
                }
            }
        }
        addrs.sort_unstable();
        addrs.dedup();
        for proto in Protocol::ALL {
            let Some(per_proto) = segments.get_mut(proto.index()) else {
                continue;
            };
            let configured = s.pool4.iter().any(|r| r.proto == proto);
            if configured && per_proto.iter().all(Vec::is_empty) {
                return Err(ConfigError::NoRoomForBlock {
                    proto,
                    size: s.block_size,
                });
            }
            let mut next: u32 = 0;
            for class in per_proto.iter_mut() {
                class.sort_unstable_by_key(|g| (g.addr, g.first_port));
                for seg in class.iter_mut() {
                    seg.first_id = next;
                    next = next.saturating_add(seg.blocks);
                }
            }
        }
        for (i, st) in s.statics.iter().enumerate() {
            let in_pool = s.pool4.iter().any(|r| {
                r.proto == st.proto && r.net.contains(&st.v4.addr) && r.ports.contains(&st.v4.port)
            });
            if !in_pool {
                return Err(ConfigError::StaticOutsidePool { entry: *st });
            }
            if s.prefix.contains(st.v6.addr) {
                return Err(ConfigError::StaticInsidePrefix { entry: *st });
            }
            for other in s.statics.iter().skip(i.saturating_add(1)) {
                if other.proto == st.proto && (other.v4 == st.v4 || other.v6 == st.v6) {
                    return Err(ConfigError::StaticDuplicate { entry: *other });
                }
            }
        }
        let shards = u32::from(s.shards);
        let max_bibs = s.max_bibs.div_ceil(shards);
        let shard_hash = KeyedState::new(s.shard_key);
        let mut static_shards = Vec::with_capacity(s.statics.len());
        let mut per_shard = vec![0u64; usize::from(s.shards)];
        for st in &s.statics {
            let shard = shard_of(shard_hash, s.shards, st.v6.addr);
            if let Some(n) = per_shard.get_mut(usize::from(shard)) {
                *n = n.saturating_add(1);
            }
            static_shards.push((
                (st.proto.index() as u8, u32::from(st.v4.addr), st.v4.port),
                shard,
            ));
        }
        static_shards.sort_unstable();
        // Each shard holds its own static entries and needs room for more.
        if per_shard.iter().any(|&n| n >= u64::from(max_bibs)) {
            return Err(ConfigError::LimitTooLarge);
        }
        Ok(Self {
            prefix: s.prefix,
            timeouts: s.timeouts,
            block_size: s.block_size,
            max_blocks_per_customer: s.max_blocks_per_customer,
            max_sessions_per_customer: s.max_sessions_per_customer,
            max_sessions: s.max_sessions.div_ceil(shards),
            max_bibs,
            max_stored_syns: u16::try_from(u32::from(s.max_stored_syns).div_ceil(shards))
                .unwrap_or(u16::MAX),
            max_stored_syn_bytes: s.max_stored_syn_bytes,
            max_events: s.max_events,
            filtering: s.filtering,
            drop_externally_initiated_tcp: s.drop_externally_initiated_tcp,
            rst_in_fin_rcv: s.rst_in_fin_rcv,
            log_sessions: s.log_sessions,
            statics: s.statics,
            addrs,
            segments,
            shards: s.shards,
            shard: 0,
            shard_hash,
            static_shards,
        })
    }

    /// The same configuration for shard `index` (0 to
    /// [`shards`](Self::shards) − 1) of the state: the tables built from
    /// it hand out only that shard's pool4 port blocks and hold only the
    /// static entries of its customers. `None` when there is no such
    /// shard. [`Config::new`] gives shard 0.
    ///
    /// ```
    /// use sixgate::nat64::state::{Config, Pool4Range, Protocol, Settings};
    ///
    /// let pool = vec![Pool4Range { proto: Protocol::Udp, net: "192.0.2.1/32".parse()?, ports: 1024..=65535 }];
    /// let mut s = Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool);
    /// s.shards = 4;
    /// let c = Config::new(s)?;
    /// assert_eq!(c.for_shard(3).map(|c| c.shard()), Some(3));
    /// assert!(c.for_shard(4).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_shard(&self, index: usize) -> Option<Config> {
        let shard = u16::try_from(index).ok().filter(|&i| i < self.shards)?;
        Some(Self {
            shard,
            ..self.clone()
        })
    }

    /// How many shards the state is split into ([`Settings::shards`]).
    pub fn shards(&self) -> usize {
        usize::from(self.shards)
    }

    /// Which shard this configuration is for ([`Config::for_shard`]).
    pub fn shard(&self) -> usize {
        usize::from(self.shard)
    }

    /// The shard that owns the customer /64 of `addr`: the one that
    /// translates its packets (6 → 4) and holds its BIB entries, sessions
    /// and port blocks. A keyed hash of the /64 ([`Settings::shard_key`]),
    /// so every address of a /64 gives the same shard. Pure: any
    /// dispatcher may call it.
    ///
    /// ```
    /// use sixgate::nat64::state::{Config, Pool4Range, Protocol, Settings};
    ///
    /// let pool = vec![Pool4Range { proto: Protocol::Tcp, net: "192.0.2.1/32".parse()?, ports: 1024..=65535 }];
    /// let mut s = Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool);
    /// s.shards = 8;
    /// let c = Config::new(s)?;
    /// let a = c.shard_of_v6_source("2001:db8:0:1::10".parse()?);
    /// assert_eq!(a, c.shard_of_v6_source("2001:db8:0:1:ffff::1".parse()?));
    /// assert!(a < 8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shard_of_v6_source(&self, addr: std::net::Ipv6Addr) -> usize {
        usize::from(shard_of(self.shard_hash, self.shards, addr))
    }

    /// The shard that owns the pool4 transport address `addr:port` of
    /// `proto` (ICMP: the query identifier): the shard of the static entry
    /// there, else the shard its port block is handed out by (block number
    /// modulo the shard count). `None` when no block of pool4 holds it
    /// (not a pool4 address, or a port outside every block): no shard
    /// can have a binding there. Pure: any dispatcher may call it.
    ///
    /// ```
    /// use sixgate::nat64::state::{Config, Pool4Range, Protocol, Settings};
    ///
    /// let pool = vec![Pool4Range { proto: Protocol::Udp, net: "192.0.2.1/32".parse()?, ports: 1024..=65535 }];
    /// let mut s = Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool);
    /// s.shards = 2;
    /// s.block_size = 128;
    /// let c = Config::new(s)?;
    /// let a = "192.0.2.1".parse()?;
    /// // Blocks 0 (1024-1151) and 1 (1152-1279) go to shards 0 and 1.
    /// assert_eq!(c.shard_of_v4(Protocol::Udp, a, 1100), Some(0));
    /// assert_eq!(c.shard_of_v4(Protocol::Udp, a, 1200), Some(1));
    /// assert_eq!(c.shard_of_v4(Protocol::Udp, a, 80), None);
    /// assert_eq!(c.shard_of_v4(Protocol::Tcp, a, 1100), None);
    /// assert_eq!(c.shard_of_v4(Protocol::Udp, "192.0.2.2".parse()?, 1100), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shard_of_v4(&self, proto: Protocol, addr: Ipv4Addr, port: u16) -> Option<usize> {
        let a = u32::from(addr);
        if !self.static_shards.is_empty() {
            let key = (proto.index() as u8, a, port);
            if let Ok(i) = self.static_shards.binary_search_by_key(&key, |&(k, _)| k) {
                return self.static_shards.get(i).map(|&(_, s)| usize::from(s));
            }
        }
        let (_, id) = block_id(&self.segments, self.block_size, proto, a, port)?;
        usize::try_from(id.checked_rem(u32::from(self.shards))?).ok()
    }

    /// Whether this shard owns `addr:port` of `proto` (always, unsharded).
    pub(crate) fn owns_v4(&self, proto: Protocol, addr: Ipv4Addr, port: u16) -> bool {
        self.shards == 1 || self.shard_of_v4(proto, addr, port) == Some(self.shard())
    }

    /// The NAT64 prefix.
    pub fn prefix(&self) -> Nat64Prefix {
        self.prefix
    }
    /// The session lifetimes.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }
    /// Ports per block.
    pub fn block_size(&self) -> u16 {
        self.block_size
    }
    /// The inbound filtering mode.
    pub fn filtering(&self) -> Filtering {
        self.filtering
    }
    /// Whether `addr` is one of pool4's addresses.
    pub fn is_pool4(&self, addr: Ipv4Addr) -> bool {
        self.addrs.binary_search(&u32::from(addr)).is_ok()
    }
    /// How many blocks pool4 holds for `proto`.
    pub fn blocks(&self, proto: Protocol) -> u32 {
        self.segments
            .get(proto.index())
            .into_iter()
            .flatten()
            .flatten()
            .fold(0u32, |n, g| n.saturating_add(g.blocks))
    }
}

/// The shard of the /64 of `addr` among `shards`.
fn shard_of(hash: KeyedState, shards: u16, addr: std::net::Ipv6Addr) -> u16 {
    if shards <= 1 {
        return 0;
    }
    let h = hash.hash3(customer_of(addr), 0x0053_4841_5244, 0);
    // Multiply-shift: the high half of h × shards is below shards.
    (u128::from(h).wrapping_mul(u128::from(shards)) >> 64) as u16
}

/// Why a configuration was refused. Each message quotes the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A timer is below its minimum.
    #[error("{name} timeout {}s is below the RFC 6146 §4 minimum of {}s", value.as_secs(), min.as_secs())]
    TimeoutTooShort {
        /// Which timer.
        name: &'static str,
        /// The value given.
        value: Duration,
        /// Its minimum.
        min: Duration,
    },
    /// The block size is odd, zero or above 32768.
    #[error("port block size {size} must be even and between 2 and 32768")]
    BlockSize {
        /// The size given.
        size: u16,
    },
    /// A limit is zero.
    #[error("{name} must be at least 1")]
    ZeroLimit {
        /// Which limit.
        name: &'static str,
    },
    /// The shard count is zero or above [`MAX_SHARDS`].
    #[error("shards {shards} must be between 1 and {MAX_SHARDS}")]
    Shards {
        /// The count given.
        shards: u16,
    },
    /// A table limit is too large for the 32-bit indexes, or static entries
    /// fill the BIB limit (of their shard, when sharded).
    #[error("max_sessions and max_bibs must be below 2^31 and above the number of static entries")]
    LimitTooLarge,
    /// pool4 has no lines.
    #[error("pool4 is empty")]
    EmptyPool,
    /// A pool4 line has an empty port range.
    #[error("pool4 {proto} line {net} has an empty port range")]
    EmptyRange {
        /// Its protocol.
        proto: Protocol,
        /// Its addresses.
        net: Ipv4Net,
    },
    /// Two pool4 lines of one protocol overlap.
    #[error("pool4 {proto} lines {a} and {b} overlap")]
    PoolOverlap {
        /// The protocol.
        proto: Protocol,
        /// One line's addresses.
        a: Ipv4Net,
        /// The other's.
        b: Ipv4Net,
    },
    /// pool4 overlaps the ports the host itself uses on one of its addresses.
    #[error(
        "pool4 {proto} ports {}-{} of {addr} overlap the host's own ports {}-{}",
        pool.start(), pool.end(), host.start(), host.end()
    )]
    OverlapsHost {
        /// The protocol.
        proto: Protocol,
        /// The host address inside pool4.
        addr: Ipv4Addr,
        /// The pool4 ports.
        pool: RangeInclusive<u16>,
        /// The host's ports.
        host: RangeInclusive<u16>,
    },
    /// A pool4 line is wider than a /16.
    #[error("pool4 line {net} is wider than a /16")]
    PoolNetTooLarge {
        /// The line's addresses.
        net: Ipv4Net,
    },
    /// pool4 holds too many blocks.
    #[error(
        "pool4 holds over {blocks} port blocks (at most {MAX_BLOCKS}): use a larger block size"
    )]
    PoolTooLarge {
        /// Blocks counted so far.
        blocks: u64,
    },
    /// A protocol's pool4 ranges are all shorter than one block.
    #[error("pool4 has no room for one block of {size} {proto} ports")]
    NoRoomForBlock {
        /// The protocol.
        proto: Protocol,
        /// The block size.
        size: u16,
    },
    /// A static entry's IPv4 side is not in pool4.
    #[error("static {} entry {} -> {} is outside pool4", entry.proto, entry.v4, entry.v6)]
    StaticOutsidePool {
        /// The entry.
        entry: StaticBib,
    },
    /// A static entry's IPv6 side is inside the NAT64 prefix.
    #[error("static {} entry {} -> {} points inside the NAT64 prefix", entry.proto, entry.v4, entry.v6)]
    StaticInsidePrefix {
        /// The entry.
        entry: StaticBib,
    },
    /// Two static entries share a side.
    #[error("static {} entry {} -> {} repeats an address of an earlier entry", entry.proto, entry.v4, entry.v6)]
    StaticDuplicate {
        /// The later entry.
        entry: StaticBib,
    },
}
