//! Stateful NAT64 (RFC 6146): the Binding Information Bases, the session
//! tables, the IPv4 pool, the TCP state machine, lifetimes, filtering and
//! limits, driven from outside with the time (sans-IO).
//!
//! [`State`] owns the tables. A packet is translated by
//! [`xlat`](super::xlat) with [`State::mapping`] as its
//! [`Mapping`]: the lookup, the creation of bindings and sessions, the TCP
//! state machine and the refresh of lifetimes all happen in that call.
//! Lifetimes end in [`State::handle_timeout`]; [`State::poll_timeout`] says
//! when to call it; [`State::poll_event`] gives the RFC 6888 §4 log events
//! (bindings and sessions made and removed, pool exhausted, limits hit).
//!
//! ```
//! use std::net::{Ipv4Addr, Ipv6Addr};
//! use sixgate::nat64::state::{Config, Event, Instant, State};
//! use sixgate::nat64::xlat::{Flow, Mapping, PrefixMapping, Proto};
//!
//! let config = Config::builder().pool("203.0.113.0/30".parse()?).build()?;
//! let mut state = State::new(config, 7);
//! let now = Instant::from_secs(1);
//! let host: Ipv6Addr = "2001:db8::10".parse()?;
//! let flow = Flow {
//!     proto: Proto::Udp,
//!     src: host,
//!     dst: "64:ff9b::c633:6407".parse()?,
//!     src_port: 5000,
//!     dst_port: 53,
//! };
//! let v4 = state.mapping(now).map_6to4(&flow, &PrefixMapping::meta()).unwrap();
//! assert_eq!(v4.dst, Ipv4Addr::new(198, 51, 100, 7));
//! assert!(matches!(state.poll_event(), Some(Event::BibCreated { .. })));
//! // Five minutes of silence end the UDP session (RFC 6146 §4).
//! state.handle_timeout(Instant::from_secs(1 + 300));
//! assert_eq!(state.session_count(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Decisions where the RFCs leave room
//!
//! - **Filtering** is endpoint-independent by default (RFC 4787 REQ-8,
//!   what RFC 6146 §3.5.1 allows); [`Filtering::AddressDependent`] lets an
//!   IPv4 node in only if the binding already has a session with its
//!   address, and refuses others with Destination Unreachable code 13.
//! - **An IPv4 SYN without a session** opens one in V4 INIT when the
//!   filtering lets it in; it is never stored (the RFC 6146 §3.5.2.2
//!   six-second wait for a simultaneous open is not implemented), so under
//!   address-dependent filtering an unsolicited SYN is refused at once.
//! - **No probes**: an ESTABLISHED session whose lifetime ends moves to
//!   TRANS without the SHOULD-probe of §3.5.2.2.
//! - **Port choice** (RFC 6146 §3.5.1.1): the host's own port if free, else
//!   a random one in the same range (below 1024 or not) with the same
//!   parity, on the IPv4 address the host already uses (RFC 4787 REQ-2,
//!   paired pooling), else the next address. Echo identifiers likewise,
//!   without range or parity.
//! - **Port blocks** (off by default, [`ConfigBuilder::port_blocks`]):
//!   a node's blocks serve all three protocols, and go back to the pool
//!   when its last binding ends; the block, not each binding, is what an
//!   operator must log (RFC 6888 §4, RFC 7422).
//! - **UDP from IPv4 with no binding** gets Port Unreachable; TCP and ICMP
//!   are dropped silently.
//!
//! # Bounds
//!
//! Each packet does O(1) expected hash-map work, plus at most one pass over
//! the pool's ports when a new binding needs a port (bounded by the pool
//! size). [`State::handle_timeout`] does O(log n) work per session it ends
//! or moves. Sessions and bindings are bounded by
//! [`ConfigBuilder::max_sessions`] and [`ConfigBuilder::max_bindings_per_host`];
//! the event queue by [`MAX_EVENTS`]; a new binding looks at no more than
//! [`MAX_PROBES`] ports, so a full pool costs each refused packet a bounded
//! amount of work (a nearly full one may then refuse where a free port was
//! left). Alarm events (pool exhausted, limits) are queued at most once a
//! second per kind.

pub mod tcp;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::Ipv4Net;

use self::tcp::{Expiry, Lifetime, Side, TcpState};
use super::xlat::{icmp, Flow, Mapping, Meta, Proto, Reason, Role, Unmapped};
use super::Keyed;
use crate::rfc6052::Nat64Prefix;

/// A point in time: milliseconds since an origin the caller chooses (after
/// smoltcp `time::Instant`), so tokio, Python and tests pass their own
/// clocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }
    /// `s` seconds after the origin.
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }
    /// Milliseconds after the origin.
    pub const fn millis(self) -> u64 {
        self.0
    }
    /// `secs` seconds later (saturating).
    pub const fn after_secs(self, secs: u32) -> Self {
        Self(self.0.saturating_add((secs as u64).saturating_mul(1000)))
    }
}

/// Session lifetimes in seconds (RFC 6146 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// UDP: at least 2 minutes, default 5.
    pub udp: u32,
    /// ICMP query: default 60 seconds.
    pub icmp: u32,
    /// TCP_EST: at least 2 hours 4 minutes, the default.
    pub tcp_est: u32,
    /// TCP_TRANS: at least 4 minutes, the default.
    pub tcp_trans: u32,
    /// TCP_INCOMING_SYN: 6 seconds.
    pub tcp_incoming_syn: u32,
}

impl Timeouts {
    /// The seconds of a TCP lifetime.
    fn secs(&self, l: Lifetime) -> u32 {
        match l {
            Lifetime::Est => self.tcp_est,
            Lifetime::Trans => self.tcp_trans,
            Lifetime::IncomingSyn => self.tcp_incoming_syn,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            udp: 300,
            icmp: 60,
            tcp_est: 7440,
            tcp_trans: 240,
            tcp_incoming_syn: 6,
        }
    }
}

/// Who may reach an IPv6 node through its binding (RFC 6146 §3.5.1,
/// RFC 4787 §5).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Filtering {
    /// Any IPv4 node (RFC 4787 REQ-8). The default.
    #[default]
    EndpointIndependent,
    /// Only IPv4 addresses the binding already has a session with.
    AddressDependent,
}

/// The stateful configuration, valid once built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    prefix: Nat64Prefix,
    pool: Vec<Ipv4Addr>,
    ports: (u16, u16),
    timeouts: Timeouts,
    filtering: Filtering,
    max_sessions: usize,
    max_bindings_per_host: usize,
    port_block: Option<PortBlocks>,
}

/// RFC 6888 §4 / RFC 7422 bulk port allocation: each IPv6 node gets its
/// ports in blocks, so a log line per block replaces one per binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortBlocks {
    /// Ports per block (a divisor of the pool's port range is tidiest;
    /// blocks start at multiples of it).
    pub size: u16,
    /// The most blocks one IPv6 node may hold.
    pub max_per_host: u16,
}

/// Builds a [`Config`].
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    prefix: Nat64Prefix,
    pool: Vec<Ipv4Net>,
    ports: (u16, u16),
    timeouts: Timeouts,
    filtering: Filtering,
    max_sessions: usize,
    max_bindings_per_host: usize,
    port_block: Option<PortBlocks>,
}

/// A [`Config`] that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No IPv4 pool.
    #[error("the IPv4 pool is empty: give at least one address (RFC 6146 §3.5.1.1)")]
    EmptyPool,
    /// A pool too large to index.
    #[error("the IPv4 pool has {count} addresses; at most 65536 are supported")]
    PoolTooLarge {
        /// The number of addresses given.
        count: u64,
    },
    /// An empty or reversed port range.
    #[error("port range {lo}-{hi} is empty")]
    Ports {
        /// Low end.
        lo: u16,
        /// High end.
        hi: u16,
    },
    /// A port block of no ports, or none that fits the port range.
    #[error(
        "no block of {size} ports (starting at a multiple of {size}) fits the port range {lo}-{hi}"
    )]
    PortBlock {
        /// The block size.
        size: u16,
        /// Low end of the range.
        lo: u16,
        /// High end of the range.
        hi: u16,
    },
    /// A lifetime below its RFC 6146 §4 minimum.
    #[error("{what} timeout {secs} s is below the RFC 6146 §4 minimum of {min} s")]
    Timeout {
        /// Which.
        what: &'static str,
        /// Given.
        secs: u32,
        /// The minimum.
        min: u32,
    },
}

/// The most ports (or blocks) one binding attempt looks at before it
/// reports the pool exhausted: the bound on its work when the pool is full.
pub const MAX_PROBES: usize = 8192;

/// The longest event queue; older events are dropped past it (and counted
/// by [`State::events_dropped`]).
pub const MAX_EVENTS: usize = 4096;

impl Config {
    /// A builder: the well-known prefix, no pool yet, ports 1024-65535.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            prefix: Nat64Prefix::WELL_KNOWN,
            pool: Vec::new(),
            ports: (1024, 65535),
            timeouts: Timeouts::default(),
            filtering: Filtering::default(),
            max_sessions: 1 << 20,
            max_bindings_per_host: 8192,
            port_block: None,
        }
    }
    /// The NAT64 prefix.
    pub fn prefix(&self) -> Nat64Prefix {
        self.prefix
    }
    /// Whether `addr` is one of the pool's addresses.
    pub fn pool_contains(&self, addr: Ipv4Addr) -> bool {
        self.pool.binary_search(&addr).is_ok()
    }
}

impl ConfigBuilder {
    /// The NAT64 prefix IPv4 destinations are embedded in (RFC 6052).
    pub fn prefix(mut self, prefix: Nat64Prefix) -> Self {
        self.prefix = prefix;
        self
    }
    /// Adds a network to the IPv4 pool (every address in it, RFC 6146
    /// §3.5.1.1 "IPv4 transport addresses" come from here).
    pub fn pool(mut self, net: Ipv4Net) -> Self {
        self.pool.push(net);
        self
    }
    /// The ports (and echo identifiers) bindings use (default 1024-65535;
    /// RFC 6146 §3.5.1.1 keeps well-known source ports below 1024 only if
    /// the range allows).
    pub fn ports(mut self, lo: u16, hi: u16) -> Self {
        self.ports = (lo, hi);
        self
    }
    /// The lifetimes (RFC 6146 §4).
    pub fn timeouts(mut self, t: Timeouts) -> Self {
        self.timeouts = t;
        self
    }
    /// The filtering (default endpoint-independent).
    pub fn filtering(mut self, f: Filtering) -> Self {
        self.filtering = f;
        self
    }
    /// The most sessions at once (default 2^20; RFC 6888 REQ-4 limits).
    pub fn max_sessions(mut self, n: usize) -> Self {
        self.max_sessions = n;
        self
    }
    /// The most bindings one IPv6 address may hold (default 8192; RFC 6888
    /// REQ-4: a subscriber cannot take the whole pool).
    pub fn max_bindings_per_host(mut self, n: usize) -> Self {
        self.max_bindings_per_host = n;
        self
    }
    /// Bulk port allocation (RFC 6888 §4, RFC 7422): ports in blocks of
    /// `size`, at most `max_per_host` blocks per IPv6 node. Off by default.
    pub fn port_blocks(mut self, size: u16, max_per_host: u16) -> Self {
        self.port_block = Some(PortBlocks { size, max_per_host });
        self
    }
    /// Checks the rules.
    pub fn build(self) -> Result<Config, ConfigError> {
        let count: u64 = self
            .pool
            .iter()
            .map(|n| 1u64 << (32u8.saturating_sub(n.prefix_len())))
            .fold(0, u64::saturating_add);
        if count == 0 {
            return Err(ConfigError::EmptyPool);
        }
        if count > 65536 {
            return Err(ConfigError::PoolTooLarge { count });
        }
        let (lo, hi) = self.ports;
        if lo > hi || hi == 0 {
            return Err(ConfigError::Ports { lo, hi });
        }
        if let Some(b) = self.port_block {
            // At least one block, starting at a multiple of its size, must
            // lie wholly in the range.
            let size = u32::from(b.size);
            let fits = size > 0
                && Some(u32::from(lo).div_ceil(size.max(1)))
                    < u32::from(hi).saturating_add(1).checked_div(size);
            if !fits {
                return Err(ConfigError::PortBlock {
                    size: b.size,
                    lo,
                    hi,
                });
            }
        }
        let t = self.timeouts;
        for (what, secs, min) in [
            ("udp", t.udp, 120),
            ("tcp_est", t.tcp_est, 7440),
            ("tcp_trans", t.tcp_trans, 240),
        ] {
            if secs < min {
                return Err(ConfigError::Timeout { what, secs, min });
            }
        }
        let mut pool: Vec<Ipv4Addr> = self
            .pool
            .iter()
            .flat_map(|n| (u32::from(n.network())..=u32::from(n.broadcast())).map(Ipv4Addr::from))
            .collect();
        pool.sort_unstable();
        pool.dedup();
        Ok(Config {
            prefix: self.prefix,
            pool,
            ports: self.ports,
            timeouts: self.timeouts,
            filtering: self.filtering,
            max_sessions: self.max_sessions,
            max_bindings_per_host: self.max_bindings_per_host,
            port_block: self.port_block,
        })
    }
}

/// An IPv6 transport address (address, port or echo identifier).
pub type Addr6 = (Ipv6Addr, u16);
/// An IPv4 transport address.
pub type Addr4 = (Ipv4Addr, u16);

/// What [`State::poll_event`] reports: the log events of RFC 6888 §4
/// (REQ-12: bindings with their times), and the limits of REQ-4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A binding was made.
    BibCreated {
        /// Protocol.
        proto: Proto,
        /// The IPv6 node's transport address.
        v6: Addr6,
        /// The pool transport address it got.
        v4: Addr4,
        /// When.
        at: Instant,
    },
    /// A binding was removed (its last session ended).
    BibRemoved {
        /// Protocol.
        proto: Proto,
        /// The IPv6 node's transport address.
        v6: Addr6,
        /// The pool transport address it had.
        v4: Addr4,
        /// When.
        at: Instant,
    },
    /// A port block was given to an IPv6 node (RFC 6888 §4: logged
    /// instead of each binding in it).
    BlockAllocated {
        /// The IPv6 node.
        host: Ipv6Addr,
        /// The pool address.
        addr: Ipv4Addr,
        /// The first and last port of the block.
        ports: (u16, u16),
        /// When.
        at: Instant,
    },
    /// A port block went back to the pool (its node's last binding ended).
    BlockReleased {
        /// The IPv6 node.
        host: Ipv6Addr,
        /// The pool address.
        addr: Ipv4Addr,
        /// The first and last port of the block.
        ports: (u16, u16),
        /// When.
        at: Instant,
    },
    /// No pool transport address was free for a new binding.
    PoolExhausted {
        /// Protocol.
        proto: Proto,
        /// The IPv6 node.
        host: Ipv6Addr,
        /// When.
        at: Instant,
    },
    /// A host reached [`ConfigBuilder::max_bindings_per_host`].
    HostLimit {
        /// The IPv6 node.
        host: Ipv6Addr,
        /// When.
        at: Instant,
    },
    /// The table reached [`ConfigBuilder::max_sessions`].
    SessionLimit {
        /// When.
        at: Instant,
    },
}

/// One session (RFC 6146 §3.2 "session table entry").
#[derive(Clone, Copy, Debug)]
struct Session {
    proto: Proto,
    /// The IPv6 node (X', x).
    x6: Addr6,
    /// The IPv4 node as the IPv6 node sees it (Y', y).
    y6: Addr6,
    /// The pool transport address (T, t).
    t4: Addr4,
    /// The IPv4 node (Y, y).
    y4: Addr4,
    /// When the lifetime ends.
    expires: Instant,
    /// The time this session is queued under in `State::expiry`: never
    /// later than `expires`, so refreshing a lifetime (the common case)
    /// costs no queue work; an early entry is re-queued when it comes up.
    queued: Instant,
    tcp: Option<TcpState>,
}

/// One binding (RFC 6146 §3.1 "BIB entry").
#[derive(Clone, Copy, Debug)]
struct Binding {
    v6: Addr6,
    sessions: u32,
}

type Map<K, V> = HashMap<K, V, Keyed>;

/// The tables.
#[derive(Clone, Debug)]
pub struct State {
    config: Config,
    bib6: Map<(Proto, Addr6), Addr4>,
    bib4: Map<(Proto, Addr4), Binding>,
    sessions: Slab,
    by6: Map<(Proto, Addr6, Addr6), u64>,
    by4: Map<(Proto, Addr4, Addr4), u64>,
    /// For address-dependent filtering: sessions per (binding, remote
    /// address).
    remotes: Map<(Proto, Addr4, Ipv4Addr), u32>,
    /// The pool address each IPv6 node uses, and its binding count.
    hosts: Map<Ipv6Addr, (Ipv4Addr, usize)>,
    /// With port blocks: each node's blocks (address, first port).
    blocks: Map<Ipv6Addr, Vec<Addr4>>,
    /// With port blocks: the blocks taken.
    block_owner: Map<Addr4, Ipv6Addr>,
    expiry: BTreeSet<(Instant, u64)>,
    /// Ports or blocks a binding attempt may still look at.
    budget: usize,
    /// When each kind of alarm event was last queued (pool, host, table).
    alarms: [Option<Instant>; 3],
    rng: u64,
    events: VecDeque<Event>,
    events_dropped: u64,
}

impl State {
    /// Empty tables; `seed` drives port choice, so runs replay exactly.
    pub fn new(config: Config, seed: u64) -> Self {
        let k = Keyed::new(seed ^ 0x243f_6a88_85a3_08d3);
        Self {
            config,
            bib6: HashMap::with_hasher(k),
            bib4: HashMap::with_hasher(k),
            sessions: Slab::default(),
            by6: HashMap::with_hasher(k),
            by4: HashMap::with_hasher(k),
            remotes: HashMap::with_hasher(k),
            hosts: HashMap::with_hasher(k),
            blocks: HashMap::with_hasher(k),
            block_owner: HashMap::with_hasher(k),
            expiry: BTreeSet::new(),
            budget: 0,
            alarms: [None; 3],
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            events: VecDeque::new(),
            events_dropped: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The [`Mapping`] for packets arriving at `now`.
    pub fn mapping(&mut self, now: Instant) -> StateMapping<'_> {
        StateMapping { state: self, now }
    }

    /// The number of sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The number of bindings.
    pub fn binding_count(&self) -> usize {
        self.bib4.len()
    }

    /// The pool transport address bound to an IPv6 node's, if any.
    pub fn binding(&self, proto: Proto, v6: Addr6) -> Option<Addr4> {
        self.bib6.get(&(proto, v6)).copied()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due: never
    /// later than the first lifetime's end, sometimes earlier (a lifetime
    /// refreshed since is then re-queued, and nothing ends).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiry.first().map(|&(t, _)| t)
    }

    /// Ends (or, for ESTABLISHED TCP, moves to TRANS) every session whose
    /// lifetime ended by `now`, removing bindings left without sessions.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, id)) = self.expiry.first() {
            if t > now {
                break;
            }
            self.expiry.remove(&(t, id));
            let Some(s) = self.sessions.get_mut(&id) else {
                continue;
            };
            if s.expires > now {
                // Refreshed since it was queued.
                s.queued = s.expires;
                self.expiry.insert((s.expires, id));
                continue;
            }
            if let Some(tcp) = s.tcp {
                if tcp.on_expiry() == Expiry::Trans {
                    s.tcp = Some(TcpState::Trans);
                    s.expires = s.expires.after_secs(self.config.timeouts.tcp_trans);
                    s.queued = s.expires;
                    self.expiry.insert((s.expires, id));
                    continue;
                }
            }
            self.remove_session(id, now);
        }
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many events were dropped because the queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.events_dropped
    }

    fn event(&mut self, e: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.events.pop_front();
            self.events_dropped = self.events_dropped.saturating_add(1);
        }
        self.events.push_back(e);
    }

    fn lifetime(&self, l: Lifetime) -> u32 {
        self.config.timeouts.secs(l)
    }

    /// Applies a packet to an existing session: the TCP state machine,
    /// then the lifetime (one slab access, and queue work only when the
    /// lifetime got shorter).
    fn touch(&mut self, id: u64, side: Side, meta: &Meta, now: Instant) -> Option<Session> {
        let t = self.config.timeouts;
        let s = self.sessions.get_mut(&id)?;
        let secs = match (s.proto, s.tcp) {
            (Proto::Tcp, Some(state)) => {
                let step = state.on_segment(side, meta.tcp_flags);
                s.tcp = Some(step.state);
                step.lifetime.map(|l| t.secs(l))
            }
            (Proto::Icmp, _) => Some(t.icmp),
            _ => Some(t.udp),
        };
        if let Some(secs) = secs {
            let at = now.after_secs(secs);
            s.expires = at;
            if at < s.queued {
                let old = s.queued;
                s.queued = at;
                self.expiry.remove(&(old, id));
                self.expiry.insert((at, id));
            }
        }
        self.sessions.get(&id).copied()
    }

    fn insert_session(&mut self, s: Session) -> u64 {
        let id = self.sessions.next_id();
        self.by6.insert((s.proto, s.x6, s.y6), id);
        self.by4.insert((s.proto, s.y4, s.t4), id);
        let r = self.remotes.entry((s.proto, s.t4, s.y4.0)).or_insert(0);
        *r = r.saturating_add(1);
        if let Some(b) = self.bib4.get_mut(&(s.proto, s.t4)) {
            b.sessions = b.sessions.saturating_add(1);
        }
        self.expiry.insert((s.queued, id));
        self.sessions.insert(id, s);
        id
    }

    fn remove_session(&mut self, id: u64, now: Instant) {
        let Some(s) = self.sessions.remove(&id) else {
            return;
        };
        self.expiry.remove(&(s.queued, id));
        self.by6.remove(&(s.proto, s.x6, s.y6));
        self.by4.remove(&(s.proto, s.y4, s.t4));
        let key = (s.proto, s.t4, s.y4.0);
        if let Some(r) = self.remotes.get_mut(&key) {
            *r = r.saturating_sub(1);
            if *r == 0 {
                self.remotes.remove(&key);
            }
        }
        let last = match self.bib4.get_mut(&(s.proto, s.t4)) {
            Some(b) => {
                b.sessions = b.sessions.saturating_sub(1);
                b.sessions == 0
            }
            None => false,
        };
        if last {
            self.bib4.remove(&(s.proto, s.t4));
            self.bib6.remove(&(s.proto, s.x6));
            if let Some(h) = self.hosts.get_mut(&s.x6.0) {
                h.1 = h.1.saturating_sub(1);
                if h.1 == 0 {
                    self.hosts.remove(&s.x6.0);
                    self.release_blocks(s.x6.0, now);
                }
            }
            self.event(Event::BibRemoved {
                proto: s.proto,
                v6: s.x6,
                v4: s.t4,
                at: now,
            });
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: enough to spread ports; seeded by the caller.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// RFC 6146 §3.5.1.1: a binding for `x6`, made if there is none.
    fn bind(&mut self, proto: Proto, x6: Addr6, now: Instant) -> Result<Addr4, Unmapped> {
        if let Some(&t4) = self.bib6.get(&(proto, x6)) {
            return Ok(t4);
        }
        let used = self.hosts.get(&x6.0).copied();
        if used.is_some_and(|(_, n)| n >= self.config.max_bindings_per_host) {
            self.alarm(
                1,
                now,
                Event::HostLimit {
                    host: x6.0,
                    at: now,
                },
            );
            return Err(Unmapped::silent(Reason::Limit));
        }
        self.budget = MAX_PROBES;
        let found = match self.config.port_block {
            Some(b) => self.free_in_blocks(proto, x6, b, now),
            None => self.free_transport(proto, x6, used.map(|(a, _)| a)),
        };
        let Some(t4) = found else {
            self.alarm(
                0,
                now,
                Event::PoolExhausted {
                    proto,
                    host: x6.0,
                    at: now,
                },
            );
            return Err(Unmapped::unreachable(
                Reason::PoolExhausted,
                icmp::v6::CODE_ADDRESS_UNREACHABLE,
            ));
        };
        self.bib6.insert((proto, x6), t4);
        self.bib4.insert(
            (proto, t4),
            Binding {
                v6: x6,
                sessions: 0,
            },
        );
        let h = self.hosts.entry(x6.0).or_insert((t4.0, 0));
        h.1 = h.1.saturating_add(1);
        self.event(Event::BibCreated {
            proto,
            v6: x6,
            v4: t4,
            at: now,
        });
        Ok(t4)
    }

    /// With port blocks: a free port in one of the node's blocks, or in a
    /// new block (on the address of its first block when one is free there,
    /// RFC 4787 REQ-2), up to its limit of blocks.
    fn free_in_blocks(
        &mut self,
        proto: Proto,
        x6: Addr6,
        b: PortBlocks,
        now: Instant,
    ) -> Option<Addr4> {
        let size = b.size;
        let owned = self.blocks.get(&x6.0).cloned().unwrap_or_default();
        for &(addr, first) in &owned {
            if let Some(p) = self.free_port_in(proto, addr, first, size, x6.1) {
                return Some((addr, p));
            }
        }
        if owned.len() >= usize::from(b.max_per_host) {
            return None;
        }
        let (addr, first) = self.free_block(x6.0, owned.first().map(|&(a, _)| a), size)?;
        self.block_owner.insert((addr, first), x6.0);
        self.blocks.entry(x6.0).or_default().push((addr, first));
        let last = first.saturating_add(size.saturating_sub(1));
        self.event(Event::BlockAllocated {
            host: x6.0,
            addr,
            ports: (first, last),
            at: now,
        });
        self.free_port_in(proto, addr, first, size, x6.1)
            .map(|p| (addr, p))
    }

    /// An unowned block: on `paired` first, then every address from one
    /// picked by hashing the node; a random block index on each.
    fn free_block(&mut self, host: Ipv6Addr, paired: Option<Ipv4Addr>, size: u16) -> Option<Addr4> {
        let (lo, hi) = self.config.ports;
        // Blocks start at multiples of `size` and lie wholly in lo..=hi.
        let size32 = u32::from(size);
        let first_index = u32::from(lo).div_ceil(size32.max(1));
        let end_index = u32::from(hi).saturating_add(1).checked_div(size32)?; // exclusive
        let count = end_index.checked_sub(first_index).filter(|&c| c > 0)?;
        let n = self.config.pool.len();
        let start = match paired.and_then(|a| self.config.pool.binary_search(&a).ok()) {
            Some(i) => i,
            None => {
                let h = u128::from(host).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 64;
                (h as usize).checked_rem(n).unwrap_or(0)
            }
        };
        for k in 0..n {
            let addr = *self
                .config
                .pool
                .get(start.wrapping_add(k).checked_rem(n)?)?;
            let offset = (self.random() as u32).checked_rem(count).unwrap_or(0);
            for j in 0..count {
                let index = first_index.wrapping_add(offset.wrapping_add(j).checked_rem(count)?);
                let first = u16::try_from(index.saturating_mul(size32)).ok()?;
                self.budget = self.budget.checked_sub(1)?;
                if !self.block_owner.contains_key(&(addr, first)) {
                    return Some((addr, first));
                }
            }
        }
        None
    }

    /// A free port of `proto` in the block at `first`: `wanted` if it is
    /// in the block and free, else the first free one from a random place
    /// with the same parity, then any.
    fn free_port_in(
        &mut self,
        proto: Proto,
        addr: Ipv4Addr,
        first: u16,
        size: u16,
        wanted: u16,
    ) -> Option<u16> {
        let last = first.saturating_add(size.saturating_sub(1));
        if (first..=last).contains(&wanted) && self.free(proto, addr, wanted)? {
            return Some(wanted);
        }
        let span = u64::from(size);
        let offset = self.random().checked_rem(span).unwrap_or(0);
        let parity = if proto == Proto::Icmp {
            None
        } else {
            Some(wanted & 1)
        };
        for pass in 0..2 {
            for k in 0..span {
                let step = offset.wrapping_add(k).checked_rem(span).unwrap_or(0);
                let p = first.wrapping_add(step as u16); // step < size
                if pass == 0 && parity.is_some_and(|b| p & 1 != b) {
                    continue;
                }
                if self.free(proto, addr, p)? {
                    return Some(p);
                }
            }
        }
        None
    }

    /// Gives back a node's blocks.
    fn release_blocks(&mut self, host: Ipv6Addr, now: Instant) {
        let Some(size) = self.config.port_block.map(|b| b.size) else {
            return;
        };
        for (addr, first) in self.blocks.remove(&host).unwrap_or_default() {
            self.block_owner.remove(&(addr, first));
            self.event(Event::BlockReleased {
                host,
                addr,
                ports: (first, first.saturating_add(size.saturating_sub(1))),
                at: now,
            });
        }
    }

    /// Whether `proto` port `p` on `addr` is unbound; `None` once the
    /// attempt's budget of [`MAX_PROBES`] looks is spent.
    fn free(&mut self, proto: Proto, addr: Ipv4Addr, p: u16) -> Option<bool> {
        self.budget = self.budget.checked_sub(1)?;
        Some(!self.bib4.contains_key(&(proto, (addr, p))))
    }

    /// Queues an alarm event (pool exhausted, host limit, table full) at
    /// most once a second per kind, so a flood of refused packets cannot
    /// flood the log.
    fn alarm(&mut self, kind: usize, now: Instant, e: Event) {
        let Some(last) = self.alarms.get_mut(kind) else {
            return;
        };
        if last.is_some_and(|t| now.millis() < t.millis().saturating_add(1000)) {
            return;
        }
        *last = Some(now);
        self.event(e);
    }

    /// A free pool transport address: on the host's address first (paired
    /// pooling), then the others from a place picked by hashing the host.
    fn free_transport(
        &mut self,
        proto: Proto,
        x6: Addr6,
        paired: Option<Ipv4Addr>,
    ) -> Option<Addr4> {
        let n = self.config.pool.len();
        let start = match paired.and_then(|a| self.config.pool.binary_search(&a).ok()) {
            Some(i) => i,
            None => {
                let h = u128::from(x6.0).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 64;
                (h as usize).checked_rem(n).unwrap_or(0)
            }
        };
        for k in 0..n {
            let addr = *self
                .config
                .pool
                .get(start.wrapping_add(k).checked_rem(n)?)?;
            if let Some(port) = self.free_port(proto, addr, x6.1) {
                return Some((addr, port));
            }
            if self.budget == 0 {
                return None;
            }
        }
        None
    }

    /// A free port (or identifier) on `addr`: `wanted` itself if free,
    /// else a random one of the same range and parity, else any.
    fn free_port(&mut self, proto: Proto, addr: Ipv4Addr, wanted: u16) -> Option<u16> {
        let (lo, hi) = self.config.ports;
        if (lo..=hi).contains(&wanted) && self.free(proto, addr, wanted)? {
            return Some(wanted);
        }
        // The same range (RFC 6146 §3.5.1.1: well-known or not) when the
        // pool's range has room in it, then the whole range.
        let class = if proto != Proto::Icmp && wanted < 1024 && lo < 1024 {
            (lo, hi.min(1023))
        } else if proto != Proto::Icmp && hi >= 1024 {
            (lo.max(1024), hi)
        } else {
            (lo, hi)
        };
        let parity = if proto == Proto::Icmp {
            None
        } else {
            Some(wanted & 1)
        };
        for (rlo, rhi) in [class, (lo, hi)] {
            let span = u64::from(rhi.wrapping_sub(rlo)).wrapping_add(1);
            let offset = self.random().checked_rem(span).unwrap_or(0);
            // The same parity first, then any port.
            for pass in 0..2 {
                for k in 0..span {
                    let step = offset.wrapping_add(k).checked_rem(span).unwrap_or(0);
                    let p = rlo.wrapping_add(step as u16); // step < span <= 65536
                    if pass == 0 && parity.is_some_and(|b| p & 1 != b) {
                        continue;
                    }
                    if self.free(proto, addr, p)? {
                        return Some(p);
                    }
                }
            }
        }
        None
    }
}

/// The sessions, by index: one allocation, no hashing, freed slots reused.
#[derive(Clone, Debug, Default)]
struct Slab {
    items: Vec<Option<Session>>,
    free: Vec<u32>,
    len: usize,
}

impl Slab {
    fn get(&self, id: &u64) -> Option<&Session> {
        self.items.get(usize::try_from(*id).ok()?)?.as_ref()
    }
    fn get_mut(&mut self, id: &u64) -> Option<&mut Session> {
        self.items.get_mut(usize::try_from(*id).ok()?)?.as_mut()
    }
    /// The id the next [`insert`](Self::insert) should use.
    fn next_id(&self) -> u64 {
        self.free
            .last()
            .map_or(self.items.len() as u64, |&i| u64::from(i))
    }
    fn insert(&mut self, id: u64, s: Session) {
        let Ok(i) = usize::try_from(id) else { return };
        if self
            .free
            .last()
            .is_some_and(|&f| usize::try_from(f) == Ok(i))
        {
            self.free.pop();
        }
        match self.items.get_mut(i) {
            Some(slot) => *slot = Some(s),
            None => self.items.push(Some(s)),
        }
        self.len = self.len.saturating_add(1);
    }
    fn remove(&mut self, id: &u64) -> Option<Session> {
        let i = usize::try_from(*id).ok()?;
        let s = self.items.get_mut(i)?.take()?;
        if let Ok(i) = u32::try_from(i) {
            self.free.push(i);
        }
        self.len = self.len.saturating_sub(1);
        Some(s)
    }
    fn len(&self) -> usize {
        self.len
    }
}

/// [`State`] as the [`Mapping`] of one packet at one instant; see
/// [`State::mapping`].
#[derive(Debug)]
pub struct StateMapping<'a> {
    state: &'a mut State,
    now: Instant,
}

impl Mapping for StateMapping<'_> {
    /// RFC 6146 §3.5: find the session of an IPv6 packet, or make the
    /// binding and session it may make (UDP: any datagram; TCP: a SYN; ICMP:
    /// an Echo Request), and give the IPv4 flow.
    fn map_6to4(&mut self, f: &Flow<Ipv6Addr>, meta: &Meta) -> Result<Flow<Ipv4Addr>, Unmapped> {
        let st = &mut *self.state;
        let now = self.now;
        let prefix = st.config.prefix;
        if prefix.contains(f.src) {
            // RFC 6146 §3.8: a source inside the prefix is a hairpin loop.
            return Err(Unmapped::silent(Reason::HairpinLoop));
        }
        let y = prefix
            .extract(f.dst)
            .map_err(|_| Unmapped::silent(Reason::Unmapped))?;
        if matches!(f.proto, Proto::Other(_)) {
            return Err(Unmapped::silent(Reason::Protocol));
        }
        if !meta.has_ports {
            return Err(Unmapped::silent(Reason::Unmapped));
        }
        let (x6, y6) = ((f.src, f.src_port), (f.dst, f.dst_port));
        if let Some(&id) = st.by6.get(&(f.proto, x6, y6)) {
            let s = if meta.role == Role::Packet {
                st.touch(id, Side::V6, meta, now)
            } else {
                st.sessions.get(&id).copied()
            };
            let s = s.ok_or(Unmapped::silent(Reason::Unmapped))?;
            return Ok(v4_flow(&s));
        }
        if meta.role == Role::Quoted {
            return Err(Unmapped::silent(Reason::Unmapped));
        }
        let (tcp, secs) = match f.proto {
            Proto::Tcp => {
                let (state, l) = TcpState::open(Side::V6, meta.tcp_flags)
                    .ok_or(Unmapped::silent(Reason::Unmapped))?;
                (Some(state), st.lifetime(l))
            }
            Proto::Icmp if meta.icmp_type != icmp::v6::ECHO_REQUEST => {
                return Err(Unmapped::silent(Reason::Unmapped))
            }
            Proto::Icmp => (None, st.config.timeouts.icmp),
            _ => (None, st.config.timeouts.udp),
        };
        if st.sessions.len() >= st.config.max_sessions {
            st.alarm(2, now, Event::SessionLimit { at: now });
            return Err(Unmapped::silent(Reason::Limit));
        }
        let t4 = st.bind(f.proto, x6, now)?;
        let y4 = if f.proto == Proto::Icmp {
            (y, t4.1)
        } else {
            (y, f.dst_port)
        };
        let s = Session {
            proto: f.proto,
            x6,
            y6,
            t4,
            y4,
            expires: now.after_secs(secs),
            queued: now.after_secs(secs),
            tcp,
        };
        st.insert_session(s);
        Ok(v4_flow(&s))
    }

    /// RFC 6146 §3.5: find the session of an IPv4 packet, or make one on an
    /// existing binding when the filtering allows (UDP: any datagram; TCP:
    /// a SYN; ICMP: an Echo Request), and give the IPv6 flow.
    fn map_4to6(&mut self, f: &Flow<Ipv4Addr>, meta: &Meta) -> Result<Flow<Ipv6Addr>, Unmapped> {
        let st = &mut *self.state;
        let now = self.now;
        if !st.config.pool_contains(f.dst) {
            return Err(Unmapped::silent(Reason::Unmapped));
        }
        if matches!(f.proto, Proto::Other(_)) {
            return Err(Unmapped::silent(Reason::Protocol));
        }
        if !meta.has_ports {
            return Err(Unmapped::silent(Reason::Unmapped));
        }
        let (y4, t4) = ((f.src, f.src_port), (f.dst, f.dst_port));
        if let Some(&id) = st.by4.get(&(f.proto, y4, t4)) {
            let s = if meta.role == Role::Packet {
                st.touch(id, Side::V4, meta, now)
            } else {
                st.sessions.get(&id).copied()
            };
            let s = s.ok_or(Unmapped::silent(Reason::Unmapped))?;
            return Ok(v6_flow(&s));
        }
        if meta.role == Role::Quoted {
            return Err(Unmapped::silent(Reason::Unmapped));
        }
        let Some(binding) = st.bib4.get(&(f.proto, t4)).copied() else {
            // RFC 6146 §3.5.1: UDP to an unbound address: Port Unreachable.
            return Err(if f.proto == Proto::Udp {
                Unmapped::unreachable(Reason::Unmapped, icmp::v4::CODE_PORT_UNREACHABLE)
            } else {
                Unmapped::silent(Reason::Unmapped)
            });
        };
        if st.config.filtering == Filtering::AddressDependent
            && !st.remotes.contains_key(&(f.proto, t4, y4.0))
        {
            return Err(Unmapped::unreachable(
                Reason::Filtered,
                icmp::v4::CODE_ADMIN_PROHIBITED,
            ));
        }
        let (tcp, secs) = match f.proto {
            Proto::Tcp => {
                let (state, l) = TcpState::open(Side::V4, meta.tcp_flags)
                    .ok_or(Unmapped::silent(Reason::Unmapped))?;
                (Some(state), st.lifetime(l))
            }
            Proto::Icmp if meta.icmp_type != icmp::v4::ECHO_REQUEST => {
                return Err(Unmapped::silent(Reason::Unmapped))
            }
            Proto::Icmp => (None, st.config.timeouts.icmp),
            _ => (None, st.config.timeouts.udp),
        };
        if st.sessions.len() >= st.config.max_sessions {
            st.alarm(2, now, Event::SessionLimit { at: now });
            return Err(Unmapped::silent(Reason::Limit));
        }
        let y6_port = if f.proto == Proto::Icmp {
            binding.v6.1
        } else {
            y4.1
        };
        let s = Session {
            proto: f.proto,
            x6: binding.v6,
            y6: (st.config.prefix.embed(y4.0), y6_port),
            t4,
            y4,
            expires: now.after_secs(secs),
            queued: now.after_secs(secs),
            tcp,
        };
        st.insert_session(s);
        Ok(v6_flow(&s))
    }
}

/// A session's IPv4 flow, (T, t) to (Y, y).
fn v4_flow(s: &Session) -> Flow<Ipv4Addr> {
    Flow {
        proto: s.proto,
        src: s.t4.0,
        dst: s.y4.0,
        src_port: s.t4.1,
        dst_port: s.y4.1,
    }
}

/// A session's IPv6 flow, (Y', y) to (X', x).
fn v6_flow(s: &Session) -> Flow<Ipv6Addr> {
    Flow {
        proto: s.proto,
        src: s.y6.0,
        dst: s.x6.0,
        src_port: s.y6.1,
        dst_port: s.x6.1,
    }
}

#[cfg(test)]
mod tests;
