//! Stateful NAT64 state (RFC 6146): the BIB, sessions, the TCP state
//! machine, timers, pool4 with per-customer port blocks, filtering, and the
//! RFC 6888 log events — over *tuples*, not packets.
//!
//! The packet engine asks two questions per packet:
//!
//! - [`Nat64State::handle_outbound`]: an IPv6 packet's protocol, source
//!   transport address, destination (under the NAT64 prefix) and TCP flags
//!   → the pool4 source to put on it ([`Outbound::Translate`]), an IPv6
//!   destination to hairpin to ([`Outbound::Hairpin`]), "not for the
//!   translator" ([`Outbound::NotOurs`]) or a [`DropReason`].
//! - [`Nat64State::handle_inbound`]: an IPv4 packet's tuple → the IPv6
//!   destination ([`Inbound::Translate`]; the IPv6 source is the IPv4 source
//!   embedded under the prefix), [`Inbound::Stored`] (an unsolicited SYN
//!   kept for simultaneous open), [`Inbound::NotOurs`] or a drop.
//!
//! Time comes in as an [`Instant`]; timers go out through
//! [`poll_timeout`](Nat64State::poll_timeout) and are run by
//! [`handle_timeout`](Nat64State::handle_timeout); log lines and actions
//! (the TCP probe, the ICMP error for a stored SYN) come out of
//! [`poll_event`](Nat64State::poll_event). Port choices are hashed with
//! keys from the seed the caller passes to [`Nat64State::new`].
//!
//! ## How RFC 6146 is read here
//!
//! - Mapping is endpoint-independent (§3.5.1: one BIB entry per IPv6
//!   transport address, whatever the destination); filtering is
//!   endpoint-independent by default, address-dependent as an option
//!   ([`Filtering`]). Static BIB entries are port forwards and are never
//!   filtered.
//! - UDP and ICMP sessions are refreshed by packets in either direction.
//!   An ICMP query session is keyed by the identifier (as the port) and the
//!   peer's address alone.
//! - TCP (§3.5.2): an IPv6 SYN opens a session in V6 INIT; an IPv4 SYN to a
//!   mapped transport address that filtering lets through opens one in
//!   V4 INIT (both with TCP_TRANS to live). An IPv4 SYN with no BIB entry,
//!   or one address-dependent filtering refuses, is stored for
//!   TCP_INCOMING_SYN (RFC 5382 REQ-4), at most `max_stored_syns` at once:
//!   an IPv6 SYN for the same connection in time gives
//!   [`Event::SimultaneousOpen`], otherwise [`Event::SynExpired`] asks the
//!   engine for the ICMP Port Unreachable. ESTABLISHED at its lifetime
//!   gives [`Event::TcpProbe`] and moves to TRANS; the other states are
//!   deleted at theirs. Two extensions, both noted where they apply: an RST
//!   in V4/V6 FIN RCV may be treated as in ESTABLISHED
//!   (`rst_in_fin_rcv`), and a SYN after both FINs reopens the four-tuple.
//! - Hairpinning (§3.8) and the loop guard are decided on the tuple: an
//!   IPv6 packet to a pool4 address comes back as [`Outbound::Hairpin`];
//!   a source inside the prefix (IPv6) or inside pool4 (IPv4) is dropped.
//! - Port choice (§3.5.1.1, RFC 6056): a keyed hash of the source picks
//!   the block and the slot, keeping the source port's range and parity
//!   when the customer's blocks allow. A host's own port is **not**
//!   preserved: it lies in the customer's blocks only by chance, taking it
//!   outside them would break the one-log-line-per-block promise, and a
//!   preserved port is the predictable choice RFC 6056 argues against.
//! - Limits are reported once a second per [`DropReason`] as
//!   [`Event::LimitReached`] (RFC 6888 REQ-4), every refusal in
//!   [`Nat64State::drops`].
//!
//! ## Bounds
//!
//! - A packet of an existing session does two hash lookups, a state step
//!   and (at most once a second per session) an O(1) move in its timer
//!   list: no allocation.
//! - Creating a BIB entry makes at most four passes (range and parity
//!   kept, parity given up, range given up, both), each one walk over the
//!   customer's blocks (at most three protocols times
//!   `max_blocks_per_customer`) skipping full ones by their counts, and
//!   probes at most `block_size / 2` ports of the first block with room,
//!   which always holds a free port of the parity sought. Taking a new
//!   block from pool4 is O(1). So a refusal on a full pool or at the
//!   customer's limit costs four walks and no port lookups: no probe
//!   budget is needed to bound it.
//! - Address-dependent filtering walks the sessions of one BIB entry
//!   (bounded by `max_sessions_per_customer`), only for packets that would
//!   create a session.
//! - [`handle_timeout`](Nat64State::handle_timeout) does O(1) work per
//!   expired session: sessions sit in one list per timer class (UDP, ICMP,
//!   TCP established, TCP transitory), each in expiry order because every
//!   lifetime of a class is the same and time never goes back (an earlier
//!   `now` than one seen before counts as the latest seen). A refresh that
//!   moves an expiry by under a second leaves the session in place, so a
//!   session may be removed up to one second after its lifetime.
//! - Sessions, BIB entries, stored SYNs and queued events all have limits
//!   ([`Settings`]); memory stays bounded under a flood.
//!
//! ```
//! use std::net::{Ipv4Addr, Ipv6Addr};
//! use sixgate::nat64::state::*;
//! use sixgate::time::Instant;
//!
//! let pool = vec![Pool4Range { proto: Protocol::Udp, net: "192.0.2.1/32".parse()?, ports: 1024..=65535 }];
//! let config = Config::new(Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool))?;
//! let mut nat = Nat64State::new(config, 7);
//!
//! let host = Transport6::new("2001:db8::10".parse()?, 5353);
//! let server = Transport6::new("64:ff9b::198.51.100.7".parse()?, 53);
//! let out = nat.handle_outbound(Instant::ZERO, &Tuple6::new(Protocol::Udp, host, server));
//! let Outbound::Translate { src, dst } = out else { panic!("{out:?}") };
//! assert_eq!(src.addr, Ipv4Addr::new(192, 0, 2, 1));
//! assert_eq!(src.port % 2, 1); // parity kept
//! assert_eq!(dst, Transport4::new(Ipv4Addr::new(198, 51, 100, 7), 53));
//!
//! // The reply finds its way back.
//! let reply = Tuple4::new(Protocol::Udp, dst, src);
//! let back = nat.handle_inbound(Instant::from_secs(1), &reply, &[]);
//! assert_eq!(back, Inbound::Translate { src: server, dst: host });
//!
//! // A stranger on another port of the pool is not let in.
//! let stray = Tuple4::new(Protocol::Udp, dst, Transport4::new(src.addr, src.port ^ 2));
//! assert_eq!(nat.handle_inbound(Instant::from_secs(1), &stray, &[]), Inbound::Drop(DropReason::NoBib));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod hash;
mod pool;
mod tcp;

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hashbrown::HashTable;
use ipnet::Ipv6Net;

pub use self::config::{
    Config, ConfigError, Filtering, HostPorts, Pool4Range, Settings, StaticBib, Timeouts,
    ICMP_DEFAULT, MAX_BLOCKS, MAX_SHARDS, TCP_EST, TCP_INCOMING_SYN, TCP_TRANS, UDP_DEFAULT,
    UDP_MIN,
};
pub use self::tcp::TcpState;

use self::hash::KeyedState;
use self::pool::{class_of, Blocks};
use self::tcp::{Dir, Timer};
use crate::time::Instant;

/// A transport protocol the translator keeps state for (RFC 6146 §3.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// TCP (IP protocol 6).
    Tcp,
    /// UDP (IP protocol 17).
    Udp,
    /// ICMP / ICMPv6 queries: the identifier stands for the port.
    Icmp,
}

impl Protocol {
    /// The three, in table order.
    pub const ALL: [Self; 3] = [Self::Tcp, Self::Udp, Self::Icmp];

    /// 0, 1, 2: the protocol's table.
    pub(crate) fn index(self) -> usize {
        match self {
            Self::Tcp => 0,
            Self::Udp => 1,
            Self::Icmp => 2,
        }
    }

    fn from_index(i: u8) -> Self {
        match i {
            0 => Self::Tcp,
            1 => Self::Udp,
            _ => Self::Icmp,
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tcp => "tcp",
            Self::Udp => "udp",
            Self::Icmp => "icmp",
        })
    }
}

/// An IPv6 transport address: address and port (ICMP: identifier).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Transport6 {
    /// The address.
    pub addr: Ipv6Addr,
    /// The port or ICMP identifier.
    pub port: u16,
}

impl Transport6 {
    /// `[addr]:port`.
    pub const fn new(addr: Ipv6Addr, port: u16) -> Self {
        Self { addr, port }
    }
}

impl fmt::Display for Transport6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}]:{}", self.addr, self.port)
    }
}

/// An IPv4 transport address: address and port (ICMP: identifier).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Transport4 {
    /// The address.
    pub addr: Ipv4Addr,
    /// The port or ICMP identifier.
    pub port: u16,
}

impl Transport4 {
    /// `addr:port`.
    pub const fn new(addr: Ipv4Addr, port: u16) -> Self {
        Self { addr, port }
    }
}

impl fmt::Display for Transport4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.addr, self.port)
    }
}

/// The TCP flags the state machine reads (their wire bits; other bits are
/// kept and ignored).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No flag.
    pub const EMPTY: Self = Self(0);
    /// FIN (0x01).
    pub const FIN: Self = Self(0x01);
    /// SYN (0x02).
    pub const SYN: Self = Self(0x02);
    /// RST (0x04).
    pub const RST: Self = Self(0x04);

    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of bits.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

/// What the engine knows of an IPv6 packet: protocol, source, destination
/// (inside the NAT64 prefix if it is for the translator) and TCP flags.
/// For ICMP queries both ports are the identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple6 {
    /// The protocol.
    pub proto: Protocol,
    /// Source.
    pub src: Transport6,
    /// Destination.
    pub dst: Transport6,
    /// TCP flags (ignored for UDP and ICMP).
    pub flags: TcpFlags,
}

impl Tuple6 {
    /// A tuple with no flags.
    pub const fn new(proto: Protocol, src: Transport6, dst: Transport6) -> Self {
        Self {
            proto,
            src,
            dst,
            flags: TcpFlags::EMPTY,
        }
    }

    /// The same tuple with `flags`.
    pub const fn with_flags(self, flags: TcpFlags) -> Self {
        Self { flags, ..self }
    }
}

/// What the engine knows of an IPv4 packet (see [`Tuple6`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tuple4 {
    /// The protocol.
    pub proto: Protocol,
    /// Source.
    pub src: Transport4,
    /// Destination (a pool4 address if it is for the translator).
    pub dst: Transport4,
    /// TCP flags (ignored for UDP and ICMP).
    pub flags: TcpFlags,
}

impl Tuple4 {
    /// A tuple with no flags.
    pub const fn new(proto: Protocol, src: Transport4, dst: Transport4) -> Self {
        Self {
            proto,
            src,
            dst,
            flags: TcpFlags::EMPTY,
        }
    }

    /// The same tuple with `flags`.
    pub const fn with_flags(self, flags: TcpFlags) -> Self {
        Self { flags, ..self }
    }
}

/// The verdict on an IPv6 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Outbound {
    /// Translate to IPv4 with these addresses and ports (ICMP: both ports
    /// are the new identifier).
    Translate {
        /// The pool4 source.
        src: Transport4,
        /// The IPv4 destination (extracted from the prefix).
        dst: Transport4,
    },
    /// The destination is one of pool4's own addresses: the packet goes
    /// back to an IPv6 host (hairpinning, RFC 6146 §3.8), with these
    /// addresses (the source is the sender's mapping under the prefix).
    Hairpin {
        /// The IPv6 source to put on the packet.
        src: Transport6,
        /// The IPv6 destination.
        dst: Transport6,
    },
    /// Not for the translator (destination outside the prefix): hand it
    /// back untouched.
    NotOurs,
    /// Drop it, counted under this reason.
    Drop(DropReason),
}

/// The verdict on an IPv4 packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Inbound {
    /// Translate to IPv6 with these addresses and ports.
    Translate {
        /// The IPv4 source embedded under the prefix.
        src: Transport6,
        /// The IPv6 host the BIB maps the destination to.
        dst: Transport6,
    },
    /// An unsolicited TCP SYN was kept (RFC 6146 §3.5.2.2, RFC 5382
    /// REQ-4): send nothing now; an [`Event::SynExpired`] or
    /// [`Event::SimultaneousOpen`] follows.
    Stored,
    /// Not for the translator (destination not in pool4): hand it back.
    NotOurs,
    /// Drop it, counted under this reason.
    Drop(DropReason),
}

/// Why a packet was dropped. Each has a counter
/// ([`Nat64State::drops`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// Outbound from an address inside the NAT64 prefix, or inbound from a
    /// pool4 address: a loop.
    LoopGuard,
    /// The destination is inside the prefix but is not a valid embedding
    /// (u-octet set).
    BadDestination,
    /// Inbound to a pool4 transport address with no BIB entry.
    NoBib,
    /// Inbound from an IPv4 address the IPv6 host has not sent to, under
    /// address-dependent filtering.
    Filtered,
    /// A TCP packet other than SYN with no session.
    NoSession,
    /// An externally initiated TCP connection under
    /// `drop_externally_initiated_tcp`.
    ExternallyInitiated,
    /// No free port left in pool4 for this protocol.
    PoolExhausted,
    /// The customer's port blocks are full and it holds its maximum.
    CustomerPortLimit,
    /// The customer holds its maximum of sessions.
    CustomerSessionLimit,
    /// The session table is full.
    SessionLimit,
    /// The BIB is full.
    BibLimit,
    /// The store of unsolicited SYNs is full.
    SynStoreFull,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [Self; 12] = [
        Self::LoopGuard,
        Self::BadDestination,
        Self::NoBib,
        Self::Filtered,
        Self::NoSession,
        Self::ExternallyInitiated,
        Self::PoolExhausted,
        Self::CustomerPortLimit,
        Self::CustomerSessionLimit,
        Self::SessionLimit,
        Self::BibLimit,
        Self::SynStoreFull,
    ];

    /// A stable snake_case name, for metrics labels.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoopGuard => "loop_guard",
            Self::BadDestination => "bad_destination",
            Self::NoBib => "no_bib",
            Self::Filtered => "filtered",
            Self::NoSession => "no_session",
            Self::ExternallyInitiated => "externally_initiated",
            Self::PoolExhausted => "pool_exhausted",
            Self::CustomerPortLimit => "customer_port_limit",
            Self::CustomerSessionLimit => "customer_session_limit",
            Self::SessionLimit => "session_limit",
            Self::BibLimit => "bib_limit",
            Self::SynStoreFull => "syn_store_full",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }

    /// Whether this is a resource limit (reported by
    /// [`Event::LimitReached`]) rather than a packet refused on its own
    /// merits.
    pub fn is_limit(self) -> bool {
        matches!(
            self,
            Self::PoolExhausted
                | Self::CustomerPortLimit
                | Self::CustomerSessionLimit
                | Self::SessionLimit
                | Self::BibLimit
                | Self::SynStoreFull
        )
    }
}

/// An unsolicited IPv4 SYN kept for simultaneous open (RFC 6146 §3.5.2.2,
/// RFC 5382 REQ-4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSyn {
    /// Its source (the IPv4 peer).
    pub src: Transport4,
    /// Its destination (a pool4 transport address).
    pub dst: Transport4,
    /// When it arrived.
    pub at: Instant,
    /// The packet bytes the engine passed, cut to `max_stored_syn_bytes`:
    /// what an ICMP error quotes.
    pub packet: Box<[u8]>,
}

/// Something the caller should log or act on, drained with
/// [`Nat64State::poll_event`]. The BIB and block events carry what RFC 6888
/// REQ-12 asks a CGN to log (addresses, ports, protocol, time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A customer /64 was given a block of pool4 ports.
    BlockAllocated {
        /// The customer.
        customer: Ipv6Net,
        /// The protocol.
        proto: Protocol,
        /// The pool4 address.
        addr: Ipv4Addr,
        /// First port of the block.
        first: u16,
        /// Last port of the block.
        last: u16,
        /// When.
        at: Instant,
    },
    /// A block went back to the pool (its last BIB entry went).
    BlockReleased {
        /// The customer.
        customer: Ipv6Net,
        /// The protocol.
        proto: Protocol,
        /// The pool4 address.
        addr: Ipv4Addr,
        /// First port of the block.
        first: u16,
        /// Last port of the block.
        last: u16,
        /// When.
        at: Instant,
    },
    /// A BIB entry was created.
    BibCreated {
        /// The protocol.
        proto: Protocol,
        /// The IPv6 side.
        v6: Transport6,
        /// The pool4 side.
        v4: Transport4,
        /// When.
        at: Instant,
    },
    /// A BIB entry was removed (its last session went).
    BibReleased {
        /// The protocol.
        proto: Protocol,
        /// The IPv6 side.
        v6: Transport6,
        /// The pool4 side.
        v4: Transport4,
        /// When.
        at: Instant,
    },
    /// A session was created (only with `log_sessions`).
    SessionCreated {
        /// The protocol.
        proto: Protocol,
        /// The IPv6 host.
        v6: Transport6,
        /// Its pool4 transport address.
        v4: Transport4,
        /// The IPv4 peer.
        remote: Transport4,
        /// When.
        at: Instant,
    },
    /// A session ended (only with `log_sessions`).
    SessionClosed {
        /// The protocol.
        proto: Protocol,
        /// The IPv6 host.
        v6: Transport6,
        /// Its pool4 transport address.
        v4: Transport4,
        /// The IPv4 peer.
        remote: Transport4,
        /// When.
        at: Instant,
    },
    /// An ESTABLISHED TCP session reached its lifetime: send a probe (an
    /// empty ACK) to the IPv6 host `v6` from the peer's embedded address
    /// `peer`, as RFC 6146 §3.5.2.2 and RFC 5382 REQ-5 suggest. The
    /// session is now TRANS; any reply brings it back to ESTABLISHED.
    TcpProbe {
        /// The IPv6 host.
        v6: Transport6,
        /// The peer as the IPv6 host sees it (embedded under the prefix).
        peer: Transport6,
        /// When.
        at: Instant,
    },
    /// A stored SYN saw no matching IPv6 SYN in TCP_INCOMING_SYN: answer
    /// its source with ICMP Destination Unreachable, Port Unreachable
    /// (type 3, code 3) quoting `syn.packet` (RFC 6146 §3.5.2.2, RFC 5382
    /// REQ-4).
    SynExpired(StoredSyn),
    /// An IPv6 SYN for the stored SYN's connection came in time: the
    /// simultaneous open succeeded. RFC 5382 REQ-4 says the NAT silently
    /// drops the stored SYN; it is handed back so the engine may instead
    /// translate and send it on (the session now exists).
    SimultaneousOpen(StoredSyn),
    /// A limit refused a packet: pool4 exhausted, a customer's blocks or
    /// sessions, the session table, the BIB or the SYN store full (RFC 6888
    /// REQ-4 asks that these be visible). Queued at most once a second per
    /// reason, so a flood costs a log line a second, not one per packet;
    /// [`Nat64State::drops`] counts every packet.
    LimitReached {
        /// Which limit.
        reason: DropReason,
        /// When (the first refusal of this second).
        at: Instant,
    },
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Event {
    /// One log line: the time, a kebab-case kind, then the addresses, e.g.
    /// `12.000s block-allocated 2001:db8:0:1::/64 udp 192.0.2.1:1024-1151`
    /// or `12.000s bib-created udp [2001:db8::1]:5353 192.0.2.1:1025`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BlockAllocated {
                customer,
                proto,
                addr,
                first,
                last,
                at,
            } => {
                write!(
                    f,
                    "{at} block-allocated {customer} {proto} {addr}:{first}-{last}"
                )
            }
            Self::BlockReleased {
                customer,
                proto,
                addr,
                first,
                last,
                at,
            } => {
                write!(
                    f,
                    "{at} block-released {customer} {proto} {addr}:{first}-{last}"
                )
            }
            Self::BibCreated { proto, v6, v4, at } => {
                write!(f, "{at} bib-created {proto} {v6} {v4}")
            }
            Self::BibReleased { proto, v6, v4, at } => {
                write!(f, "{at} bib-released {proto} {v6} {v4}")
            }
            Self::SessionCreated {
                proto,
                v6,
                v4,
                remote,
                at,
            } => {
                write!(f, "{at} session-created {proto} {v6} {v4} {remote}")
            }
            Self::SessionClosed {
                proto,
                v6,
                v4,
                remote,
                at,
            } => {
                write!(f, "{at} session-closed {proto} {v6} {v4} {remote}")
            }
            Self::TcpProbe { v6, peer, at } => write!(f, "{at} tcp-probe {peer} -> {v6}"),
            Self::SynExpired(s) => {
                let at = s.at.saturating_add(TCP_INCOMING_SYN);
                write!(f, "{at} syn-expired {} -> {}", s.src, s.dst)
            }
            Self::SimultaneousOpen(s) => {
                write!(f, "{} simultaneous-open {} -> {}", s.at, s.src, s.dst)
            }
            Self::LimitReached { reason, at } => write!(f, "{at} limit-reached {reason}"),
        }
    }
}

/// Table sizes and counters, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Live sessions.
    pub sessions: u32,
    /// Live BIB entries (static ones included).
    pub bibs: u32,
    /// Customers (/64s) holding BIB entries.
    pub customers: u32,
    /// Stored SYNs.
    pub stored_syns: u32,
    /// Events dropped because the queue was full.
    pub events_lost: u64,
    /// TCP probes sent.
    pub probes: u64,
}

/// No index.
const NIL: u32 = u32::MAX;
/// A refresh that moves a session's expiry by less than this leaves it
/// where it is in its timer list (as Linux conntrack skips timeout updates
/// under a jiffy-scale step): a busy flow's packets touch no other session.
/// Lists stay sorted by place; a session's expiry is at most this much past
/// its place, so a session may be removed up to this late.
const RELINK_MS: u32 = 1000;
/// Proto byte of a free BIB slot.
const FREE: u8 = 0xff;

/// A session's timer list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Class {
    Udp = 0,
    Icmp = 1,
    TcpEst = 2,
    TcpTrans = 3,
}

impl Class {
    const ALL: [Self; 4] = [Self::Udp, Self::Icmp, Self::TcpEst, Self::TcpTrans];
}

/// A session: 40 bytes. Its BIB entry gives the IPv6 host and pool4
/// transport address; the session adds the IPv4 peer.
#[derive(Clone, Copy, Debug)]
struct Session {
    /// Expiry, milliseconds.
    expires: u64,
    /// How far `expires` has moved since the session was put at its
    /// list's tail (less than [`RELINK_MS`]): its place in the list is
    /// `expires - slack`.
    slack: u32,
    /// The BIB entry (`NIL` for a free slot).
    bib: u32,
    /// The peer's IPv4 address.
    remote_addr: u32,
    /// Timer list links (`tnext` also links the free list).
    tprev: u32,
    tnext: u32,
    /// The BIB entry's session list links.
    bprev: u32,
    bnext: u32,
    /// The peer's port (0 for ICMP).
    remote_port: u16,
    /// TCP state (`TcpState as u8`; unused for UDP and ICMP).
    state: u8,
    /// `Class as u8`.
    class: u8,
}

/// A BIB entry: 36 bytes.
#[derive(Clone, Copy, Debug)]
struct Bib {
    v6_addr: Ipv6Addr,
    v4_addr: u32,
    /// First session (`NIL` if none; next free slot when free).
    head: u32,
    /// How many sessions.
    sessions: u32,
    v6_port: u16,
    v4_port: u16,
    /// `Protocol::index()` or `FREE`.
    proto: u8,
    is_static: bool,
}

/// Key of the session map: BIB entry and peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct SessionKey {
    bib: u32,
    addr: u32,
    port: u16,
}

impl Hash for SessionKey {
    /// Two words, not three: the hasher costs one multiply per word.
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64((u64::from(self.bib) << 32) | u64::from(self.addr));
        h.write_u16(self.port);
    }
}

/// Key of the IPv6-side BIB map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key6 {
    addr: Ipv6Addr,
    port: u16,
    proto: u8,
}

impl Hash for Key6 {
    /// Three words (the derived impl would hash a length and the 16 bytes
    /// separately).
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u128(u128::from(self.addr));
        h.write_u32((u32::from(self.port) << 8) | u32::from(self.proto));
    }
}

/// Key of the IPv4-side BIB map: proto, address and port in one word.
fn key4(proto: Protocol, addr: u32, port: u16) -> u64 {
    ((proto.index() as u64) << 48) | (u64::from(addr) << 16) | u64::from(port)
}

/// A block a customer holds.
#[derive(Clone, Copy, Debug)]
struct Held {
    proto: Protocol,
    class: u8,
    id: u32,
    addr: u32,
    first: u16,
    /// BIB entries on even and odd ports.
    used: [u16; 2],
}

/// A customer /64.
#[derive(Clone, Debug, Default)]
struct Customer {
    sessions: u32,
    bibs: u32,
    blocks: Vec<Held>,
}

/// The state of a stateful NAT64: see the [module docs](self).
pub struct Nat64State {
    config: Config,
    hasher: KeyedState,
    now: Instant,
    sessions: Vec<Session>,
    session_free: u32,
    session_count: u32,
    /// Session indexes, hashed by (BIB entry, peer); equality reads the
    /// slab, so a bucket is 4 bytes and a control byte.
    session_map: HashTable<u32>,
    bibs: Vec<Bib>,
    bib_free: u32,
    bib_count: u32,
    /// BIB indexes by IPv6 transport address.
    bib6: HashTable<u32>,
    /// BIB indexes by pool4 transport address.
    bib4: HashTable<u32>,
    heads: [u32; 4],
    tails: [u32; 4],
    customers: HashMap<u64, Customer, KeyedState>,
    blocks: Blocks,
    stored: VecDeque<StoredSyn>,
    events: VecDeque<Event>,
    drops: [u64; DropReason::ALL.len()],
    events_lost: u64,
    probes: u64,
    /// Per drop reason: when the next [`Event::LimitReached`] may be queued.
    alarms: [Option<Instant>; DropReason::ALL.len()],
}

/// The least time between two [`Event::LimitReached`] of one reason.
const ALARM_INTERVAL: Duration = Duration::from_secs(1);

impl Nat64State {
    /// Empty tables with the static BIB entries in place. `seed` keys the
    /// hash tables and the RFC 6056 port choice: pass a secret random value
    /// (the same seed replays the same choices).
    pub fn new(config: Config, seed: u64) -> Self {
        let hasher = KeyedState::new(seed);
        let blocks = Blocks::new(&config);
        let mut state = Self {
            hasher,
            now: Instant::ZERO,
            sessions: Vec::new(),
            session_free: NIL,
            session_count: 0,
            session_map: HashTable::new(),
            bibs: Vec::new(),
            bib_free: NIL,
            bib_count: 0,
            bib6: HashTable::new(),
            bib4: HashTable::new(),
            heads: [NIL; 4],
            tails: [NIL; 4],
            customers: HashMap::with_hasher(hasher),
            blocks,
            stored: VecDeque::new(),
            events: VecDeque::new(),
            drops: [0; DropReason::ALL.len()],
            events_lost: 0,
            probes: 0,
            alarms: [None; DropReason::ALL.len()],
            config,
        };
        let shard = state.config.shard();
        // A static entry lives in the shard of its IPv6 side (its block is
        // reserved in every shard).
        let statics: Vec<StaticBib> = state
            .config
            .statics
            .iter()
            .filter(|st| state.config.shard_of_v6_source(st.v6.addr) == shard)
            .copied()
            .collect();
        for st in statics {
            // Config::new checked the entries and that they fit max_bibs.
            let idx = state.insert_bib(st.proto, st.v6, u32::from(st.v4.addr), st.v4.port, true);
            if idx.is_some() {
                let c = state.customer_mut(st.v6.addr);
                c.bibs = c.bibs.saturating_add(1);
            }
        }
        state
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// An IPv6 packet's tuple → what to do with it (see [`Outbound`]).
    /// Creates the BIB entry and session when the packet may open one
    /// (any UDP or ICMP query, a TCP SYN), refreshes them otherwise.
    pub fn handle_outbound(&mut self, now: Instant, t: &Tuple6) -> Outbound {
        self.advance(now);
        let prefix = self.config.prefix;
        if !prefix.contains(t.dst.addr) {
            return Outbound::NotOurs;
        }
        if prefix.contains(t.src.addr) {
            return Outbound::Drop(self.count(DropReason::LoopGuard));
        }
        let Ok(v4_dst) = prefix.extract(t.dst.addr) else {
            return Outbound::Drop(self.count(DropReason::BadDestination));
        };
        let remote_port = if t.proto == Protocol::Icmp {
            0
        } else {
            t.dst.port
        };
        let v4 = match self.outbound_session(t, u32::from(v4_dst), remote_port) {
            Ok(found) => found,
            Err(reason) => return Outbound::Drop(self.count(reason)),
        };
        let dst = Transport4::new(
            v4_dst,
            if t.proto == Protocol::Icmp {
                v4.port
            } else {
                t.dst.port
            },
        );
        if self.config.is_pool4(v4_dst) && !self.config.owns_v4(t.proto, v4_dst, dst.port) {
            // A hairpin whose second half (4 → 6) belongs to another shard:
            // translated to IPv4 here, to be given to that shard's
            // `handle_hairpin_inbound`.
            return Outbound::Translate { src: v4, dst };
        }
        if self.config.is_pool4(v4_dst) {
            // Hairpin (RFC 6146 §3.8): the translated packet re-enters as
            // if it came from the IPv4 side.
            let inner = Tuple4 {
                proto: t.proto,
                src: v4,
                dst,
                flags: t.flags,
            };
            return match self.inbound(&inner, &[], true) {
                Inbound::Translate { src, dst } => Outbound::Hairpin { src, dst },
                Inbound::Drop(reason) => Outbound::Drop(reason),
                Inbound::Stored | Inbound::NotOurs => Outbound::Drop(self.count(DropReason::NoBib)),
            };
        }
        Outbound::Translate { src: v4, dst }
    }

    /// An IPv4 packet's tuple → what to do with it (see [`Inbound`]).
    /// `packet` is the IPv4 packet itself: it is copied (up to
    /// `max_stored_syn_bytes`) only if an unsolicited SYN is stored, and
    /// may be empty when the caller has no use for the ICMP error.
    pub fn handle_inbound(&mut self, now: Instant, t: &Tuple4, packet: &[u8]) -> Inbound {
        self.advance(now);
        if !self.config.is_pool4(t.dst.addr) {
            return Inbound::NotOurs;
        }
        if self.config.is_pool4(t.src.addr) {
            return Inbound::Drop(self.count(DropReason::LoopGuard));
        }
        self.inbound(t, packet, false)
    }

    /// The second half of a hairpinned packet (RFC 6146 §3.8) whose first
    /// half another shard did: `t` is the packet as that shard translated
    /// it, from its sender's pool4 mapping to a pool4 transport address
    /// this shard owns ([`Config::shard_of_v4`]). As
    /// [`handle_inbound`](Self::handle_inbound), but a pool4 source is
    /// expected rather than a loop, and an unsolicited SYN is not stored
    /// (as for a hairpin within one shard).
    pub fn handle_hairpin_inbound(&mut self, now: Instant, t: &Tuple4) -> Inbound {
        self.advance(now);
        if !self.config.is_pool4(t.dst.addr) {
            return Inbound::NotOurs;
        }
        if !self.config.is_pool4(t.src.addr) {
            return Inbound::Drop(self.count(DropReason::LoopGuard));
        }
        self.inbound(t, &[], true)
    }

    /// When [`handle_timeout`](Self::handle_timeout) next has work: the
    /// earliest session expiry or stored-SYN deadline. `None` when idle.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sessions = self
            .heads
            .iter()
            .filter_map(|&h| self.session(h))
            .map(|s| Instant::from_millis(s.expires));
        let syn = self
            .stored
            .front()
            .map(|s| s.at.saturating_add(TCP_INCOMING_SYN));
        sessions.chain(syn).min()
    }

    /// Runs every timer due at `now`: expires sessions (and BIB entries and
    /// blocks left empty), probes established TCP sessions at their
    /// lifetime, gives up on stored SYNs. O(1) per expired item.
    ///
    /// ```
    /// use sixgate::nat64::state::*;
    /// use sixgate::time::Instant;
    ///
    /// let pool = vec![Pool4Range { proto: Protocol::Icmp, net: "192.0.2.1/32".parse()?, ports: 0..=65535 }];
    /// let mut nat = Nat64State::new(Config::new(Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool))?, 1);
    /// let ping = Tuple6::new(
    ///     Protocol::Icmp,
    ///     Transport6::new("2001:db8::1".parse()?, 7),
    ///     Transport6::new("64:ff9b::203.0.113.9".parse()?, 7),
    /// );
    /// let _ = nat.handle_outbound(Instant::from_secs(10), &ping);
    /// assert_eq!(nat.poll_timeout(), Some(Instant::from_secs(70))); // ICMP_DEFAULT
    ///
    /// nat.handle_timeout(Instant::from_secs(69)); // too early: nothing happens
    /// assert_eq!(nat.stats().sessions, 1);
    /// nat.handle_timeout(Instant::from_secs(70));
    /// assert_eq!(nat.stats().sessions, 0);
    /// assert_eq!(nat.poll_timeout(), None);
    ///
    /// // The log: block and BIB entry, created at 10 s, released at 70 s.
    /// let log: Vec<String> = std::iter::from_fn(|| nat.poll_event()).map(|e| e.to_string()).collect();
    /// assert_eq!(log.len(), 4);
    /// assert!(log[0].starts_with("10.000s block-allocated 2001:db8::/64 icmp 192.0.2.1:"));
    /// assert!(log[3].starts_with("70.000s block-released 2001:db8::/64 icmp 192.0.2.1:"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance(now);
        let now_ms = self.now.as_millis();
        for class in Class::ALL {
            while let Some(&head) = self.heads.get(class as usize) {
                let Some(s) = self.session(head) else { break };
                if s.expires > now_ms {
                    break;
                }
                self.expire(head);
            }
        }
        while self
            .stored
            .front()
            .is_some_and(|s| s.at.saturating_add(TCP_INCOMING_SYN) <= self.now)
        {
            if let Some(syn) = self.stored.pop_front() {
                self.push_event(Event::SynExpired(syn));
            }
        }
    }

    /// The next event, oldest first.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// How many packets were dropped for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops.get(reason.index()).copied().unwrap_or(0)
    }

    /// Table sizes and counters.
    pub fn stats(&self) -> Stats {
        Stats {
            sessions: self.session_count,
            bibs: self.bib_count,
            customers: u32::try_from(self.customers.len()).unwrap_or(u32::MAX),
            stored_syns: u32::try_from(self.stored.len()).unwrap_or(u32::MAX),
            events_lost: self.events_lost,
            probes: self.probes,
        }
    }

    /// Heap bytes the tables hold, estimated from their capacities
    /// (hashbrown's layout: a power-of-two bucket count at most 7/8 full,
    /// one control byte per bucket). O(customers). For a metric; the bench
    /// `core/benches/nat64_state.rs` measures the real figure with a
    /// counting allocator.
    pub fn heap_bytes(&self) -> usize {
        fn map<K, V, S>(m: &HashMap<K, V, S>) -> usize {
            let cap = m.capacity();
            if cap == 0 {
                return 0;
            }
            let buckets = if cap < 8 {
                cap.saturating_add(1).next_power_of_two()
            } else {
                cap.saturating_mul(8)
                    .checked_div(7)
                    .unwrap_or(cap)
                    .next_power_of_two()
            };
            let entry = size_of::<(K, V)>().saturating_add(1);
            buckets.saturating_mul(entry).saturating_add(16)
        }
        let vec = |cap: usize, size: usize| cap.saturating_mul(size);
        let customers = self.customers.values().fold(0usize, |n, c| {
            n.saturating_add(vec(c.blocks.capacity(), size_of::<Held>()))
        });
        let stored = self
            .stored
            .iter()
            .fold(0usize, |n, s| n.saturating_add(s.packet.len()));
        [
            vec(self.sessions.capacity(), size_of::<Session>()),
            vec(self.bibs.capacity(), size_of::<Bib>()),
            self.session_map.allocation_size(),
            self.bib6.allocation_size(),
            self.bib4.allocation_size(),
            map(&self.customers),
            customers,
            vec(self.stored.capacity(), size_of::<StoredSyn>()),
            stored,
            vec(self.events.capacity(), size_of::<Event>()),
            self.blocks.heap_bytes(),
        ]
        .into_iter()
        .fold(0usize, usize::saturating_add)
    }

    /// How many pool4 blocks of `proto` are free.
    pub fn free_blocks(&self, proto: Protocol) -> usize {
        self.blocks.free_count(proto)
    }

    /// The IPv6 side of the BIB entry for a pool4 transport address (for
    /// the engine's ICMP error translation; changes nothing).
    pub fn bib_v6(&self, proto: Protocol, v4: Transport4) -> Option<Transport6> {
        let i = self.find_bib4(proto, u32::from(v4.addr), v4.port)?;
        let b = self.bibs.get(i as usize)?;
        Some(Transport6::new(b.v6_addr, b.v6_port))
    }

    /// The pool4 side of the BIB entry for an IPv6 transport address.
    pub fn bib_v4(&self, proto: Protocol, v6: Transport6) -> Option<Transport4> {
        let i = self.find_bib6(proto, v6)?;
        let b = self.bibs.get(i as usize)?;
        Some(Transport4::new(Ipv4Addr::from(b.v4_addr), b.v4_port))
    }

    /// The TCP state of a session, if it exists.
    pub fn tcp_state(&self, v6: Transport6, remote: Transport4) -> Option<TcpState> {
        let s = self.find_session(Protocol::Tcp, v6, remote)?;
        Some(tcp_state_from(s.state))
    }

    /// When a session expires, if it exists (ICMP: `remote.port` is
    /// ignored).
    pub fn session_expiry(
        &self,
        proto: Protocol,
        v6: Transport6,
        remote: Transport4,
    ) -> Option<Instant> {
        let s = self.find_session(proto, v6, remote)?;
        Some(Instant::from_millis(s.expires))
    }

    /// Checks every internal link and count, O(n): each live session's BIB
    /// entry is live and lists it, each list is in expiry order, counts and
    /// limits hold. For tests and fuzzers.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut live = 0u32;
        for (i, s) in self.sessions.iter().enumerate() {
            if s.bib == NIL {
                continue;
            }
            live = live.saturating_add(1);
            let b = self
                .bibs
                .get(s.bib as usize)
                .ok_or(format!("session {i} points past the BIB"))?;
            if b.proto == FREE {
                return Err(format!("session {i} belongs to a free BIB slot {}", s.bib));
            }
            let key = SessionKey {
                bib: s.bib,
                addr: s.remote_addr,
                port: s.remote_port,
            };
            if self.find_session_idx(key) != Some(i as u32) {
                return Err(format!("session {i} is not in the map under its key"));
            }
        }
        if live != self.session_count || self.session_map.len() != live as usize {
            return Err(format!(
                "{live} live sessions, count {}, map {}",
                self.session_count,
                self.session_map.len()
            ));
        }
        let mut listed = 0u32;
        for (i, b) in self.bibs.iter().enumerate() {
            if b.proto == FREE {
                continue;
            }
            let mut n = 0u32;
            let mut cur = b.head;
            while cur != NIL {
                let s = self.session(cur).ok_or("BIB list runs off the table")?;
                if s.bib != i as u32 {
                    return Err(format!("BIB {i} lists session {cur} of BIB {}", s.bib));
                }
                n = n.saturating_add(1);
                if n > self.session_count {
                    return Err(format!("BIB {i} list loops"));
                }
                cur = s.bnext;
            }
            if n != b.sessions || (n == 0 && !b.is_static) {
                return Err(format!("BIB {i}: {n} listed, {} counted", b.sessions));
            }
            listed = listed.saturating_add(n);
            let proto = Protocol::from_index(b.proto);
            if self.find_bib4(proto, b.v4_addr, b.v4_port) != Some(i as u32)
                || self.find_bib6(proto, Transport6::new(b.v6_addr, b.v6_port)) != Some(i as u32)
            {
                return Err(format!("BIB {i} is missing from a map"));
            }
        }
        if listed != self.session_count {
            return Err(format!(
                "{listed} sessions under BIBs of {}",
                self.session_count
            ));
        }
        let mut timed = 0u32;
        for class in Class::ALL {
            let mut cur = self.heads.get(class as usize).copied().unwrap_or(NIL);
            let mut last = 0u64;
            let mut prev = NIL;
            while cur != NIL {
                let s = self.session(cur).ok_or("timer list runs off the table")?;
                let place = s.expires.saturating_sub(u64::from(s.slack));
                if s.class != class as u8 || s.tprev != prev || place < last || s.slack >= RELINK_MS
                {
                    return Err(format!("timer list {class:?} broken at {cur}"));
                }
                last = place;
                prev = cur;
                timed = timed.saturating_add(1);
                if timed > self.session_count {
                    return Err("timer list loops".into());
                }
                cur = s.tnext;
            }
            if self.tails.get(class as usize) != Some(&prev) {
                return Err(format!("timer list {class:?} tail is wrong"));
            }
        }
        if timed != self.session_count {
            return Err(format!(
                "{timed} sessions on timer lists of {}",
                self.session_count
            ));
        }
        if self.bib_count != self.bib6.len() as u32 || self.bib_count != self.bib4.len() as u32 {
            return Err("BIB count and maps disagree".into());
        }
        if self.session_count > self.config.max_sessions || self.bib_count > self.config.max_bibs {
            return Err("a table exceeds its limit".into());
        }
        let mut customer_sessions = 0u32;
        for c in self.customers.values() {
            if c.sessions > self.config.max_sessions_per_customer {
                return Err("a customer exceeds its session limit".into());
            }
            for proto in Protocol::ALL {
                let held = c.blocks.iter().filter(|h| h.proto == proto).count();
                if held > usize::from(self.config.max_blocks_per_customer) {
                    return Err("a customer exceeds its block limit".into());
                }
            }
            customer_sessions = customer_sessions.saturating_add(c.sessions);
        }
        if customer_sessions != self.session_count {
            return Err("customer session counts disagree".into());
        }
        if self.stored.len() > usize::from(self.config.max_stored_syns) {
            return Err("too many stored SYNs".into());
        }
        if self.events.len() > self.config.max_events as usize {
            return Err("too many queued events".into());
        }
        Ok(())
    }
}

/// The hash of session `i`'s key (for the table's rehash).
fn session_hash(hasher: &KeyedState, sessions: &[Session], i: u32) -> u64 {
    sessions.get(i as usize).map_or(0, |s| {
        hasher.hash_one(SessionKey {
            bib: s.bib,
            addr: s.remote_addr,
            port: s.remote_port,
        })
    })
}

/// The hash of BIB entry `i`'s IPv6 key.
fn bib6_hash(hasher: &KeyedState, bibs: &[Bib], i: u32) -> u64 {
    bibs.get(i as usize).map_or(0, |b| {
        hasher.hash_one(Key6 {
            addr: b.v6_addr,
            port: b.v6_port,
            proto: b.proto,
        })
    })
}

/// The hash of BIB entry `i`'s pool4 key.
fn bib4_hash(hasher: &KeyedState, bibs: &[Bib], i: u32) -> u64 {
    bibs.get(i as usize).map_or(0, |b| {
        hasher.hash_one(key4(Protocol::from_index(b.proto), b.v4_addr, b.v4_port))
    })
}

impl fmt::Debug for Nat64State {
    /// Sizes and time only: the tables can hold millions of entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Nat64State")
            .field("now", &self.now)
            .field("stats", &self.stats())
            .field("events_queued", &self.events.len())
            .finish_non_exhaustive()
    }
}

fn key6(proto: Protocol, v6: Transport6) -> Key6 {
    Key6 {
        addr: v6.addr,
        port: v6.port,
        proto: proto.index() as u8,
    }
}

/// The /64 of an IPv6 address.
fn customer_of(addr: Ipv6Addr) -> u64 {
    (u128::from(addr) >> 64) as u64
}

fn customer_net(c: u64) -> Ipv6Net {
    Ipv6Net::new(Ipv6Addr::from(u128::from(c) << 64), 64).unwrap_or_else(|_| Ipv6Net::default())
}

fn tcp_state_from(b: u8) -> TcpState {
    use TcpState::*;
    [
        V4Init,
        V6Init,
        Established,
        V4FinRcv,
        V6FinRcv,
        V4FinV6FinRcv,
        Trans,
    ]
    .into_iter()
    .find(|s| *s as u8 == b)
    .unwrap_or(Trans)
}

// Private machinery.
impl Nat64State {
    fn advance(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    fn count(&mut self, reason: DropReason) -> DropReason {
        let i = reason.index();
        if let Some(c) = self.drops.get_mut(i) {
            *c = c.saturating_add(1);
        }
        if reason.is_limit() {
            let now = self.now;
            let due = self.alarms.get(i).copied().flatten();
            if due.is_none_or(|d| d <= now) {
                if let Some(a) = self.alarms.get_mut(i) {
                    *a = Some(now.saturating_add(ALARM_INTERVAL));
                }
                self.push_event(Event::LimitReached { reason, at: now });
            }
        }
        reason
    }

    fn push_event(&mut self, e: Event) {
        if self.events.len() >= self.config.max_events as usize {
            self.events_lost = self.events_lost.saturating_add(1);
        } else {
            self.events.push_back(e);
        }
    }

    fn session(&self, i: u32) -> Option<&Session> {
        self.sessions.get(i as usize).filter(|s| s.bib != NIL)
    }

    fn session_mut(&mut self, i: u32) -> Option<&mut Session> {
        self.sessions.get_mut(i as usize).filter(|s| s.bib != NIL)
    }

    fn bib(&self, i: u32) -> Option<&Bib> {
        self.bibs.get(i as usize).filter(|b| b.proto != FREE)
    }

    fn customer_mut(&mut self, addr: Ipv6Addr) -> &mut Customer {
        self.customers.entry(customer_of(addr)).or_default()
    }

    fn find_session(
        &self,
        proto: Protocol,
        v6: Transport6,
        remote: Transport4,
    ) -> Option<&Session> {
        let b = self.find_bib6(proto, v6)?;
        let port = if proto == Protocol::Icmp {
            0
        } else {
            remote.port
        };
        let i = self.find_session_idx(SessionKey {
            bib: b,
            addr: u32::from(remote.addr),
            port,
        })?;
        self.session(i)
    }

    fn find_session_idx(&self, key: SessionKey) -> Option<u32> {
        let sessions = &self.sessions;
        self.session_map
            .find(self.hasher.hash_one(key), |&i| {
                sessions.get(i as usize).is_some_and(|s| {
                    s.bib == key.bib && s.remote_addr == key.addr && s.remote_port == key.port
                })
            })
            .copied()
    }

    fn find_bib6(&self, proto: Protocol, v6: Transport6) -> Option<u32> {
        let key = key6(proto, v6);
        let bibs = &self.bibs;
        self.bib6
            .find(self.hasher.hash_one(key), |&i| {
                bibs.get(i as usize).is_some_and(|b| {
                    b.proto == key.proto && b.v6_addr == key.addr && b.v6_port == key.port
                })
            })
            .copied()
    }

    fn find_bib4(&self, proto: Protocol, addr: u32, port: u16) -> Option<u32> {
        let p = proto.index() as u8;
        let bibs = &self.bibs;
        self.bib4
            .find(self.hasher.hash_one(key4(proto, addr, port)), |&i| {
                bibs.get(i as usize)
                    .is_some_and(|b| b.proto == p && b.v4_addr == addr && b.v4_port == port)
            })
            .copied()
    }

    fn timeout(&self, class: Class) -> Duration {
        let t = &self.config.timeouts;
        match class {
            Class::Udp => t.udp(),
            Class::Icmp => t.icmp(),
            Class::TcpEst => t.tcp_est(),
            Class::TcpTrans => t.tcp_trans(),
        }
    }

    /// Finds or creates the outbound session; returns its BIB entry and
    /// pool4 transport address.
    fn outbound_session(
        &mut self,
        t: &Tuple6,
        remote_addr: u32,
        remote_port: u16,
    ) -> Result<Transport4, DropReason> {
        let syn = t.flags.contains(TcpFlags::SYN);
        let bib = match self.find_bib6(t.proto, t.src) {
            Some(b) => b,
            None => {
                if t.proto == Protocol::Tcp && !syn {
                    return Err(DropReason::NoSession);
                }
                self.check_session_room(t.src.addr)?;
                self.create_bib(t.proto, t.src)?
            }
        };
        let (v4_addr, v4_port) = match self.bib(bib) {
            Some(b) => (b.v4_addr, b.v4_port),
            None => return Err(DropReason::NoBib),
        };
        let v4 = Transport4::new(Ipv4Addr::from(v4_addr), v4_port);
        let key = SessionKey {
            bib,
            addr: remote_addr,
            port: remote_port,
        };
        if let Some(s) = self.find_session_idx(key) {
            self.touch(s, Dir::V6, t.flags);
            return Ok(v4);
        }
        let class = match t.proto {
            Protocol::Tcp if !syn => return Err(DropReason::NoSession),
            Protocol::Tcp => Class::TcpTrans,
            Protocol::Udp => Class::Udp,
            Protocol::Icmp => Class::Icmp,
        };
        if let Err(reason) = self.check_session_room(t.src.addr) {
            // A BIB entry made for this packet must not outlive it.
            self.release_bib_if_empty(bib);
            return Err(reason);
        }
        self.create_session(key, class, TcpState::V6Init);
        if t.proto == Protocol::Tcp {
            let remote = Transport4::new(Ipv4Addr::from(remote_addr), remote_port);
            if let Some(syn) = self.take_stored(remote, v4) {
                self.push_event(Event::SimultaneousOpen(syn));
            }
        }
        Ok(v4)
    }

    fn inbound(&mut self, t: &Tuple4, packet: &[u8], hairpin: bool) -> Inbound {
        let remote_port = if t.proto == Protocol::Icmp {
            0
        } else {
            t.src.port
        };
        let remote_addr = u32::from(t.src.addr);
        let tcp = t.proto == Protocol::Tcp;
        let syn = tcp && t.flags.contains(TcpFlags::SYN);
        let ext_drop = tcp && self.config.drop_externally_initiated_tcp;
        let Some(bib) = self.find_bib4(t.proto, u32::from(t.dst.addr), t.dst.port) else {
            return if syn && ext_drop {
                Inbound::Drop(self.count(DropReason::ExternallyInitiated))
            } else if syn && !hairpin {
                self.store_syn(t, packet)
            } else {
                Inbound::Drop(self.count(DropReason::NoBib))
            };
        };
        let key = SessionKey {
            bib,
            addr: remote_addr,
            port: remote_port,
        };
        let session = self.find_session_idx(key);
        if let Some(s) = session {
            self.touch(s, Dir::V4, t.flags);
        } else {
            if tcp && !syn {
                return Inbound::Drop(self.count(DropReason::NoSession));
            }
            if ext_drop {
                return Inbound::Drop(self.count(DropReason::ExternallyInitiated));
            }
            // Static entries are port forwards: they take all comers.
            let forward = self.bib(bib).is_some_and(|b| b.is_static);
            if self.config.filtering == Filtering::AddressDependent
                && !forward
                && !self.bib_has_peer(bib, remote_addr)
            {
                return if syn && !hairpin {
                    self.store_syn(t, packet)
                } else {
                    Inbound::Drop(self.count(DropReason::Filtered))
                };
            }
            let Some(v6) = self.bib(bib).map(|b| b.v6_addr) else {
                return Inbound::Drop(self.count(DropReason::NoBib));
            };
            if let Err(reason) = self.check_session_room(v6) {
                return Inbound::Drop(self.count(reason));
            }
            let class = match t.proto {
                Protocol::Tcp => Class::TcpTrans,
                Protocol::Udp => Class::Udp,
                Protocol::Icmp => Class::Icmp,
            };
            self.create_session(key, class, TcpState::V4Init);
            if tcp {
                // A retransmitted SYN got in: the stored copy is moot.
                let _ = self.take_stored(t.src, t.dst);
            }
        }
        let Some(b) = self.bib(bib) else {
            return Inbound::Drop(self.count(DropReason::NoBib));
        };
        let dst = Transport6::new(b.v6_addr, b.v6_port);
        let src_port = if t.proto == Protocol::Icmp {
            b.v6_port
        } else {
            t.src.port
        };
        let src = Transport6::new(self.config.prefix.embed(t.src.addr), src_port);
        Inbound::Translate { src, dst }
    }

    /// Under address-dependent filtering: has the BIB entry a session with
    /// this peer address? Walks the entry's sessions (bounded by the
    /// per-customer session limit).
    fn bib_has_peer(&self, bib: u32, addr: u32) -> bool {
        let mut cur = self.bib(bib).map_or(NIL, |b| b.head);
        while let Some(s) = self.session(cur) {
            if s.remote_addr == addr {
                return true;
            }
            cur = s.bnext;
        }
        false
    }

    /// Removes and returns the stored SYN from `src` to `dst`, if any
    /// (at most `max_stored_syns` compared).
    fn take_stored(&mut self, src: Transport4, dst: Transport4) -> Option<StoredSyn> {
        if self.stored.is_empty() {
            return None;
        }
        let i = self
            .stored
            .iter()
            .position(|s| s.src == src && s.dst == dst)?;
        self.stored.remove(i)
    }

    fn store_syn(&mut self, t: &Tuple4, packet: &[u8]) -> Inbound {
        if self.stored.iter().any(|s| s.src == t.src && s.dst == t.dst) {
            return Inbound::Stored;
        }
        if self.stored.len() >= usize::from(self.config.max_stored_syns) {
            return Inbound::Drop(self.count(DropReason::SynStoreFull));
        }
        let keep = packet
            .len()
            .min(usize::from(self.config.max_stored_syn_bytes));
        let bytes = packet.get(..keep).unwrap_or_default();
        self.stored.push_back(StoredSyn {
            src: t.src,
            dst: t.dst,
            at: self.now,
            packet: bytes.into(),
        });
        Inbound::Stored
    }

    fn check_session_room(&self, v6: Ipv6Addr) -> Result<(), DropReason> {
        if self.session_count >= self.config.max_sessions {
            return Err(DropReason::SessionLimit);
        }
        let used = self
            .customers
            .get(&customer_of(v6))
            .map_or(0, |c| c.sessions);
        if used >= self.config.max_sessions_per_customer {
            return Err(DropReason::CustomerSessionLimit);
        }
        Ok(())
    }

    /// A packet of session `s` from `dir`: state step and timer refresh.
    fn touch(&mut self, s: u32, dir: Dir, flags: TcpFlags) {
        let Some(sess) = self.session(s).copied() else {
            return;
        };
        let class = match sess.class {
            0 => Class::Udp,
            1 => Class::Icmp,
            _ => {
                let (state, timer) = tcp::step(
                    tcp_state_from(sess.state),
                    dir,
                    flags,
                    self.config.rst_in_fin_rcv,
                );
                if let Some(m) = self.session_mut(s) {
                    m.state = state as u8;
                }
                match timer {
                    Timer::Est => Class::TcpEst,
                    Timer::Trans => Class::TcpTrans,
                    Timer::Keep => return,
                }
            }
        };
        if class as u8 == sess.class {
            // Same list: move only when the step is large (RELINK_MS).
            let expires = self.now.saturating_add(self.timeout(class)).as_millis();
            let place = sess.expires.saturating_sub(u64::from(sess.slack));
            if let Ok(slack) = u32::try_from(expires.saturating_sub(place)) {
                if slack < RELINK_MS {
                    if let Some(m) = self.session_mut(s) {
                        m.expires = expires.max(sess.expires);
                        m.slack = slack.max(sess.slack);
                    }
                    return;
                }
            }
        }
        self.schedule(s, class);
    }

    /// Moves session `s` to the tail of `class`'s list, expiring one
    /// lifetime from now. O(1).
    fn schedule(&mut self, s: u32, class: Class) {
        self.unlink_timer(s);
        let expires = self.now.saturating_add(self.timeout(class)).as_millis();
        let tail = self.tails.get(class as usize).copied().unwrap_or(NIL);
        if let Some(m) = self.session_mut(s) {
            m.expires = expires;
            m.slack = 0;
            m.class = class as u8;
            m.tprev = tail;
            m.tnext = NIL;
        }
        match self.session_mut(tail) {
            Some(t) => t.tnext = s,
            None => {
                if let Some(h) = self.heads.get_mut(class as usize) {
                    *h = s;
                }
            }
        }
        if let Some(t) = self.tails.get_mut(class as usize) {
            *t = s;
        }
    }

    fn unlink_timer(&mut self, s: u32) {
        let Some(sess) = self.session(s).copied() else {
            return;
        };
        let class = sess.class as usize;
        match self.session_mut(sess.tprev) {
            Some(p) => p.tnext = sess.tnext,
            None => {
                if self.heads.get(class) == Some(&s) {
                    if let Some(h) = self.heads.get_mut(class) {
                        *h = sess.tnext;
                    }
                }
            }
        }
        match self.session_mut(sess.tnext) {
            Some(n) => n.tprev = sess.tprev,
            None => {
                if self.tails.get(class) == Some(&s) {
                    if let Some(t) = self.tails.get_mut(class) {
                        *t = sess.tprev;
                    }
                }
            }
        }
        if let Some(m) = self.session_mut(s) {
            m.tprev = NIL;
            m.tnext = NIL;
        }
    }

    fn create_session(&mut self, key: SessionKey, class: Class, state: TcpState) {
        let head = self.bib(key.bib).map_or(NIL, |b| b.head);
        let fresh = Session {
            expires: 0,
            slack: 0,
            bib: key.bib,
            remote_addr: key.addr,
            tprev: NIL,
            tnext: NIL,
            bprev: NIL,
            bnext: head,
            remote_port: key.port,
            state: state as u8,
            class: class as u8,
        };
        let idx = if self.session_free != NIL {
            let i = self.session_free;
            let Some(slot) = self.sessions.get_mut(i as usize) else {
                return;
            };
            self.session_free = slot.tnext;
            *slot = fresh;
            i
        } else {
            let Ok(i) = u32::try_from(self.sessions.len()) else {
                return;
            };
            self.sessions.push(fresh);
            i
        };
        if let Some(h) = self.session_mut(head) {
            h.bprev = idx;
        }
        let mut v6 = None;
        if let Some(b) = self.bibs.get_mut(key.bib as usize) {
            b.head = idx;
            b.sessions = b.sessions.saturating_add(1);
            v6 = Some((b.v6_addr, b.v6_port, b.v4_addr, b.v4_port, b.proto));
        }
        let (hasher, sessions) = (self.hasher, &self.sessions);
        self.session_map
            .insert_unique(hasher.hash_one(key), idx, |&i| {
                session_hash(&hasher, sessions, i)
            });
        self.session_count = self.session_count.saturating_add(1);
        self.schedule(idx, class);
        if let Some((addr, port, v4a, v4p, proto)) = v6 {
            let c = self.customer_mut(addr);
            c.sessions = c.sessions.saturating_add(1);
            if self.config.log_sessions {
                self.push_event(Event::SessionCreated {
                    proto: Protocol::from_index(proto),
                    v6: Transport6::new(addr, port),
                    v4: Transport4::new(Ipv4Addr::from(v4a), v4p),
                    remote: Transport4::new(Ipv4Addr::from(key.addr), key.port),
                    at: self.now,
                });
            }
        }
    }

    /// A session reached its lifetime.
    fn expire(&mut self, s: u32) {
        let Some(sess) = self.session(s).copied() else {
            return;
        };
        if sess.class == Class::TcpEst as u8 && sess.state == TcpState::Established as u8 {
            if let Some(m) = self.session_mut(s) {
                m.state = TcpState::Trans as u8;
            }
            self.schedule(s, Class::TcpTrans);
            self.probes = self.probes.saturating_add(1);
            if let Some(b) = self.bib(sess.bib).copied() {
                let peer = Transport6::new(
                    self.config.prefix.embed(Ipv4Addr::from(sess.remote_addr)),
                    sess.remote_port,
                );
                self.push_event(Event::TcpProbe {
                    v6: Transport6::new(b.v6_addr, b.v6_port),
                    peer,
                    at: self.now,
                });
            }
            return;
        }
        self.remove_session(s);
    }

    fn remove_session(&mut self, s: u32) {
        let Some(sess) = self.session(s).copied() else {
            return;
        };
        self.unlink_timer(s);
        // Unlink from the BIB entry's list.
        match self.session_mut(sess.bprev) {
            Some(p) => p.bnext = sess.bnext,
            None => {
                if let Some(b) = self.bibs.get_mut(sess.bib as usize) {
                    b.head = sess.bnext;
                }
            }
        }
        if let Some(n) = self.session_mut(sess.bnext) {
            n.bprev = sess.bprev;
        }
        let h = self.hasher.hash_one(SessionKey {
            bib: sess.bib,
            addr: sess.remote_addr,
            port: sess.remote_port,
        });
        if let Ok(entry) = self.session_map.find_entry(h, |&i| i == s) {
            entry.remove();
        }
        let free = self.session_free;
        if let Some(m) = self.sessions.get_mut(s as usize) {
            m.bib = NIL;
            m.tnext = free;
            self.session_free = s;
        }
        self.session_count = self.session_count.saturating_sub(1);
        let Some(b) = self.bibs.get_mut(sess.bib as usize) else {
            return;
        };
        b.sessions = b.sessions.saturating_sub(1);
        let b = *b;
        let c = self.customer_mut(b.v6_addr);
        c.sessions = c.sessions.saturating_sub(1);
        if self.config.log_sessions {
            self.push_event(Event::SessionClosed {
                proto: Protocol::from_index(b.proto),
                v6: Transport6::new(b.v6_addr, b.v6_port),
                v4: Transport4::new(Ipv4Addr::from(b.v4_addr), b.v4_port),
                remote: Transport4::new(Ipv4Addr::from(sess.remote_addr), sess.remote_port),
                at: self.now,
            });
        }
        self.release_bib_if_empty(sess.bib);
    }

    /// Adds a BIB entry to the table and maps (no port choice).
    fn insert_bib(
        &mut self,
        proto: Protocol,
        v6: Transport6,
        v4_addr: u32,
        v4_port: u16,
        is_static: bool,
    ) -> Option<u32> {
        let fresh = Bib {
            v6_addr: v6.addr,
            v4_addr,
            head: NIL,
            sessions: 0,
            v6_port: v6.port,
            v4_port,
            proto: proto.index() as u8,
            is_static,
        };
        let idx = if self.bib_free != NIL {
            let i = self.bib_free;
            let slot = self.bibs.get_mut(i as usize)?;
            self.bib_free = slot.head;
            *slot = fresh;
            i
        } else {
            let i = u32::try_from(self.bibs.len()).ok()?;
            self.bibs.push(fresh);
            i
        };
        let (hasher, bibs) = (self.hasher, &self.bibs);
        self.bib6
            .insert_unique(hasher.hash_one(key6(proto, v6)), idx, |&i| {
                bib6_hash(&hasher, bibs, i)
            });
        self.bib4
            .insert_unique(hasher.hash_one(key4(proto, v4_addr, v4_port)), idx, |&i| {
                bib4_hash(&hasher, bibs, i)
            });
        self.bib_count = self.bib_count.saturating_add(1);
        if !is_static {
            self.push_event(Event::BibCreated {
                proto,
                v6,
                v4: Transport4::new(Ipv4Addr::from(v4_addr), v4_port),
                at: self.now,
            });
        }
        Some(idx)
    }

    /// A new dynamic BIB entry for `v6`, with a port from the customer's
    /// blocks (RFC 6146 §3.5.1.1: same range, same parity if possible;
    /// RFC 6056 algorithm 3: the first port tried is a keyed hash of the
    /// source, then the next ones of the same parity in turn).
    fn create_bib(&mut self, proto: Protocol, v6: Transport6) -> Result<u32, DropReason> {
        if self.bib_count >= self.config.max_bibs {
            return Err(DropReason::BibLimit);
        }
        let cust = customer_of(v6.addr);
        let h = self.hasher.hash3(
            u128::from(v6.addr) as u64 ^ ((u128::from(v6.addr) >> 64) as u64),
            u64::from(v6.port),
            proto.index() as u64,
        );
        let class = class_of(v6.port);
        let parity = usize::from(v6.port & 1);
        let other = 1usize.saturating_sub(class);
        let mut at_limit = false;
        for (c, p) in [
            (class, parity),
            (class, parity ^ 1),
            (other, parity),
            (other, parity ^ 1),
        ] {
            if let Some(port) = self.port_in_held(cust, proto, c, p, h) {
                return self.finish_bib(proto, v6, port);
            }
            match self.new_block(cust, proto, c, h) {
                Ok(()) => {
                    if let Some(port) = self.port_in_held(cust, proto, c, p, h) {
                        return self.finish_bib(proto, v6, port);
                    }
                }
                Err(limit) => at_limit |= limit,
            }
        }
        Err(if at_limit {
            DropReason::CustomerPortLimit
        } else {
            DropReason::PoolExhausted
        })
    }

    fn finish_bib(
        &mut self,
        proto: Protocol,
        v6: Transport6,
        (addr, port): (u32, u16),
    ) -> Result<u32, DropReason> {
        let idx = self
            .insert_bib(proto, v6, addr, port, false)
            .ok_or(DropReason::BibLimit)?;
        let size = u32::from(self.blocks.size());
        let c = self.customer_mut(v6.addr);
        c.bibs = c.bibs.saturating_add(1);
        let parity = usize::from(port & 1);
        if let Some(held) = c.blocks.iter_mut().find(|b| {
            b.proto == proto
                && b.addr == addr
                && u32::from(port).wrapping_sub(u32::from(b.first)) < size
        }) {
            if let Some(u) = held.used.get_mut(parity) {
                *u = u.saturating_add(1);
            }
        }
        Ok(idx)
    }

    /// A free port of parity `p` in one of the customer's blocks of
    /// (`proto`, `class`), starting at a hashed block and slot. One pass
    /// over the customer's blocks (O(blocks held), full ones skipped by
    /// their counts), then at most `block_size / 2` lookups in the first
    /// block with room, which always has a free port of that parity.
    fn port_in_held(
        &self,
        cust: u64,
        proto: Protocol,
        class: usize,
        p: usize,
        h: u64,
    ) -> Option<(u32, u16)> {
        let c = self.customers.get(&cust)?;
        let size = self.blocks.size();
        let slots = u64::from(size / 2);
        let held = c.blocks.len();
        let first = usize::try_from((h >> 32).checked_rem(u64::try_from(held).ok()?)?).ok()?;
        let (tail, head) = c.blocks.split_at(first);
        for b in head.iter().chain(tail) {
            if b.proto != proto || usize::from(b.class) != class {
                continue;
            }
            if u64::from(*b.used.get(p)?) >= slots {
                continue;
            }
            let start = h.checked_rem(slots)?;
            for j in 0..slots {
                let slot = start.wrapping_add(j).checked_rem(slots)?;
                let port = u64::from(b.first)
                    .wrapping_add(slot.wrapping_mul(2))
                    .wrapping_add(p as u64);
                let port = u16::try_from(port).ok()?;
                if self.find_bib4(proto, b.addr, port).is_none() {
                    return Some((b.addr, port));
                }
            }
        }
        None
    }

    /// Gives the customer a new block; `Err(true)` at the customer's block
    /// limit, `Err(false)` when pool4 has none left in the class.
    fn new_block(&mut self, cust: u64, proto: Protocol, class: usize, h: u64) -> Result<(), bool> {
        let held = self
            .customers
            .get(&cust)
            .map_or(0, |c| c.blocks.iter().filter(|b| b.proto == proto).count());
        if held >= usize::from(self.config.max_blocks_per_customer) {
            return Err(true);
        }
        let pick = self.hasher.hash3(cust, h, held as u64);
        let id = self.blocks.take(proto, class, pick).ok_or(false)?;
        let Some((addr, first)) = self.blocks.locate(proto, class, id) else {
            return Err(false);
        };
        let last = first.saturating_add(self.blocks.size().saturating_sub(1));
        self.customers.entry(cust).or_default().blocks.push(Held {
            proto,
            class: class as u8,
            id,
            addr,
            first,
            used: [0, 0],
        });
        self.push_event(Event::BlockAllocated {
            customer: customer_net(cust),
            proto,
            addr: Ipv4Addr::from(addr),
            first,
            last,
            at: self.now,
        });
        Ok(())
    }

    /// Removes a dynamic BIB entry left without sessions, its block if that
    /// empties, and its customer if that empties.
    fn release_bib_if_empty(&mut self, bib: u32) {
        let Some(b) = self.bib(bib).copied() else {
            return;
        };
        if b.sessions != 0 || b.is_static {
            return;
        }
        let proto = Protocol::from_index(b.proto);
        let v6 = Transport6::new(b.v6_addr, b.v6_port);
        let h6 = self.hasher.hash_one(key6(proto, v6));
        if let Ok(entry) = self.bib6.find_entry(h6, |&i| i == bib) {
            entry.remove();
        }
        let h4 = self.hasher.hash_one(key4(proto, b.v4_addr, b.v4_port));
        if let Ok(entry) = self.bib4.find_entry(h4, |&i| i == bib) {
            entry.remove();
        }
        let free = self.bib_free;
        if let Some(m) = self.bibs.get_mut(bib as usize) {
            m.proto = FREE;
            m.head = free;
            self.bib_free = bib;
        }
        self.bib_count = self.bib_count.saturating_sub(1);
        self.push_event(Event::BibReleased {
            proto,
            v6,
            v4: Transport4::new(Ipv4Addr::from(b.v4_addr), b.v4_port),
            at: self.now,
        });
        let cust = customer_of(b.v6_addr);
        let size = u32::from(self.blocks.size());
        let Some(c) = self.customers.get_mut(&cust) else {
            return;
        };
        c.bibs = c.bibs.saturating_sub(1);
        let mut emptied = None;
        if let Some(pos) = c.blocks.iter().position(|h| {
            h.proto == proto
                && h.addr == b.v4_addr
                && u32::from(b.v4_port).wrapping_sub(u32::from(h.first)) < size
        }) {
            if let Some(held) = c.blocks.get_mut(pos) {
                if let Some(u) = held.used.get_mut(usize::from(b.v4_port & 1)) {
                    *u = u.saturating_sub(1);
                }
                if held.used == [0, 0] {
                    emptied = Some(c.blocks.swap_remove(pos));
                }
            }
        }
        let gone = c.bibs == 0 && c.blocks.is_empty() && c.sessions == 0;
        if gone {
            self.customers.remove(&cust);
        }
        if let Some(held) = emptied {
            self.blocks
                .put(held.proto, usize::from(held.class), held.id);
            let last = held
                .first
                .saturating_add(self.blocks.size().saturating_sub(1));
            self.push_event(Event::BlockReleased {
                customer: customer_net(cust),
                proto: held.proto,
                addr: Ipv4Addr::from(held.addr),
                first: held.first,
                last,
                at: self.now,
            });
        }
    }
}

#[cfg(test)]
mod tests;
