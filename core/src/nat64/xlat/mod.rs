//! Stateless IP/ICMP translation (RFC 7915): one IPv6 packet to IPv4, or
//! one IPv4 packet to IPv6, with the addresses and ports chosen by a
//! [`Mapping`] the caller supplies.
//!
//! This is the half of NAT64 that needs no memory of earlier packets: the
//! header fields of RFC 7915 §4.1 and §5.1, fragments both ways (§4.1.1,
//! §5.1.1; no atomic fragments, RFC 8021), the ICMP type and code tables
//! of §4.2 and §5.2 with their Parameter Problem pointer maps, the packet
//! quoted inside an ICMP error (§4.3, §5.3) with RFC 4884 extensions,
//! Packet Too Big ↔ Fragmentation Needed with the RFC 1191 plateaus (§4.2,
//! §5.2, §6), the ICMP errors a translator sends itself (§4.4, §5.4), and
//! the transport checksums (§4.5, §5.5).
//!
//! The stateful layer of RFC 6146 sits on top: it implements [`Mapping`]
//! with its binding and session tables; [`PrefixMapping`] is the plain
//! RFC 6052 mapping of both addresses (SIIT) for tests and simple setups.
//!
//! ```
//! use std::net::{Ipv4Addr, Ipv6Addr};
//! use sixgate::nat64::xlat::{Config, Outcome, PrefixMapping, Reason, Translator};
//! use sixgate::Nat64Prefix;
//!
//! let prefix = Nat64Prefix::WELL_KNOWN;
//! let mut map = PrefixMapping::new(prefix);
//! let mut xlat = Translator::new(Config::default(), 7);
//!
//! // A UDP datagram from 64:ff9b::c000:201 to 64:ff9b::c633:6402, hop limit 64.
//! let src = prefix.embed(Ipv4Addr::new(192, 0, 2, 1));
//! let dst = prefix.embed(Ipv4Addr::new(198, 51, 100, 2));
//! let mut v6 = vec![0x60, 0, 0, 0, 0, 12, 17, 64];
//! v6.extend_from_slice(&src.octets());
//! v6.extend_from_slice(&dst.octets());
//! v6.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0x00, 0x0c, 0x00, 0x00, b'h', b'i', b'!', b'\n']);
//!
//! let mut out = [0u8; 1500];
//! let Outcome::Translated { len } = xlat.translate_6to4(&mut map, &v6, &mut out) else { panic!() };
//! assert_eq!(len, 20 + 12);
//! assert_eq!(out[8], 63); // TTL: the hop limit, decremented
//! assert_eq!(out[12..16], [192, 0, 2, 1]);
//! assert_eq!(out[16..20], [198, 51, 100, 2]);
//! assert_eq!(&out[28..32], b"hi!\n");
//!
//! // Hop limit 1: not translated, an ICMPv6 Time Exceeded goes back instead.
//! v6[7] = 1;
//! let outcome = xlat.translate_6to4(&mut map, &v6, &mut out);
//! assert!(matches!(outcome, Outcome::Reply { reason: Reason::HopLimit, .. }));
//! // Garbage is dropped, with a reason to count.
//! assert_eq!(xlat.translate_6to4(&mut map, &[0x45; 10], &mut out), Outcome::Drop(Reason::Ipv6Header));
//! ```
//!
//! # The API
//!
//! [`Translator::translate_6to4`] and [`Translator::translate_4to6`] take
//! one packet as bytes (from the IP header on, no link header), a
//! [`Mapping`] and a caller-owned output buffer, and return an
//! [`Outcome`]: the translated packet written at the start of the buffer,
//! several fragments written back to back (only IPv4 → IPv6, RFC 7915
//! §4.1), an ICMP error to send back to the sender instead, or a drop with
//! a [`Reason`]. Nothing is allocated. A buffer of [`MAX_OUTPUT`] bytes
//! always suffices; a smaller one that proves too small gives
//! [`Reason::BufferTooSmall`].
//!
//! # Bounds
//!
//! Every call reads its packet once or twice (the ICMP checksum of an
//! error is checked before translation) and writes at most
//! [`MAX_OUTPUT`] bytes: linear in the packet's length. IPv6 extension
//! headers are at least 8 bytes each, so walking them is linear too.
//!
//! # Decisions where the RFCs leave room
//!
//! - **Fragmented ICMP.** The ICMPv6 checksum covers a pseudo-header with
//!   the length of the whole message, which a first fragment does not
//!   carry, so fragmented ICMP (echo or error) is dropped
//!   ([`Reason::IcmpFragment`]); the stateful engine
//!   ([`Nat64`](super::Nat64)) reassembles first ([`frag`](super::frag)),
//!   so it translates the whole message.
//! - **IPv4 DF=0 packets larger than the IPv4 MTU** (6 → 4, only IPv6
//!   fragments or packets of at most 1260 bytes) are forwarded as they
//!   are: IPv4 routers, the host's own stack first, fragment them.
//! - **ICMP of the wrong family** (protocol 58 in IPv4, next header 1 in
//!   IPv6) is dropped ([`Reason::ForeignIcmp`]) rather than copied as
//!   §4.1 and §5.1 copy other protocols: it would arrive as unchecked ICMP.
//! - **IPv4 protocol numbers that name IPv6 extension headers** (0, 43,
//!   44, 60, 135, 139, 140, 253, 254) are dropped
//!   ([`Reason::ExtensionProtocol`]): IPv6 nodes would parse the payload
//!   as that header (a Hop-by-Hop header crafted on the IPv4 side, say).
//!   AH (51) is copied as the RFC says, and fails at the receiver.
//! - **IPv6 UDP with a zero checksum** (RFC 6935 tunnels) keeps it: zero
//!   means "no checksum" in IPv4 too.
//! - **The Identification** of an unfragmented IPv4 packet comes from a
//!   per-destination-bucket counter with a keyed offset (RFC 7739 §5.3),
//!   seeded by the caller ([`Translator::new`]).
//! - **The PTB / FN MTU adjustment** is always 20, the formula of §4.2
//!   and §5.2, even when the packet in error had a Fragment Header (which
//!   would allow 28): the smaller MTU is always safe.
//! - **The quoted packet's Identification**, when the IPv6 original had no
//!   Fragment Header, is 0: the original IPv4 value is not known.
//! - **A translated Packet Too Big** is never below 1280 (RFC 7915 §6); one
//!   the translator sends itself reports the IPv4 MTU + 20, also at least
//!   1280, since a host told 1280 sends 1280-byte packets that become
//!   1260-byte IPv4 packets with DF clear.
//! - **RFC 4884 extensions** that do not fit the translated error (576
//!   bytes for ICMPv4, 1280 for ICMPv6) are left out whole rather than cut,
//!   and the length attribute is set to zero; so is an extension on an
//!   error type whose counterpart has no length field (Parameter Problem,
//!   Packet Too Big).

mod icmp_tables;
mod v4v6;
mod v6v4;
pub(crate) mod wire;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use crate::rfc6052::Nat64Prefix;

pub use icmp_tables::{plateau, pointer_4to6, pointer_6to4, PLATEAUS};

/// The ICMP codepoints this module uses (RFC 792, RFC 4443).
pub mod icmp {
    pub use super::icmp_tables::{v4, v6};
}

/// The IPv6 minimum link MTU (RFC 8200 §5), the default and the floor of
/// [`ConfigBuilder::lowest_ipv6_mtu`].
pub const IPV6_MIN_MTU: u16 = 1280;

/// RFC 7915 §5.1: an IPv4 packet made from an unfragmented IPv6 packet has
/// DF set only when it is longer than this.
pub const DF_THRESHOLD: usize = 1260;

/// The longest ICMPv4 error the translator emits (RFC 1812 §4.3.2.3).
pub const ICMPV4_ERROR_MAX: usize = 576;

/// The longest ICMPv6 error the translator emits (RFC 4443 §2.4(c)).
pub const ICMPV6_ERROR_MAX: usize = 1280;

/// An output buffer this long holds any [`Outcome`]: the largest IPv4
/// datagram's payload cut into fragments of the smallest allowed
/// `lowest_ipv6_mtu` (at most 54 fragments, each with a 40-byte IPv6
/// header and an 8-byte Fragment Header).
pub const MAX_OUTPUT: usize = 65_535 + 54 * 48;

/// What a packet read from a device with offloads (Linux's TUN with
/// `IFF_VNET_HDR`, a virtio NIC) still owes: a checksum to complete, a
/// super-packet to cut into segments. The translator keeps both, so a
/// TCP super-packet of up to 64 KiB is translated once and the kernel cuts
/// it (or hands it on whole) after it is written back.
///
/// The checksum field of a partial checksum holds the pseudo-header's sum,
/// not complemented (Linux `CHECKSUM_PARTIAL`); whoever sends the packet
/// on adds the transport header and payload from there. Translation
/// replaces the pseudo-header's addresses in that sum and leaves the
/// ports, which are summed later, out of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Offload {
    /// The TCP or UDP checksum is partial (`VIRTIO_NET_HDR_F_NEEDS_CSUM`).
    pub partial_checksum: bool,
    /// A TCP super-packet to be cut into segments of this many payload
    /// bytes (`gso_size` of `VIRTIO_NET_HDR_GSO_TCPV4/6`); 0: one packet.
    /// Requires a partial checksum. MTU checks and the DF rule apply to a
    /// segment, not to the whole.
    pub segment_size: u16,
}

impl Offload {
    /// A plain packet: complete checksum, one segment.
    pub const NONE: Self = Self {
        partial_checksum: false,
        segment_size: 0,
    };

    /// Whether there is anything to keep.
    pub fn is_some(self) -> bool {
        self.partial_checksum || self.segment_size != 0
    }

    /// The checksum field's new partial sum when the pseudo-header's
    /// addresses sum `before` and then `after`.
    fn partial(c: u16, before: u64, after: u64) -> u16 {
        !wire::adjust(!c, before, after)
    }

    /// The length of the transport header whose checksum the offloads
    /// leave partial, if the packet can keep them: TCP (its data offset),
    /// or UDP when it is not to be cut into segments (only TCP is).
    fn transport(self, protocol: u8, payload: &[u8]) -> Option<usize> {
        match protocol {
            wire::proto::TCP => payload
                .get(12)
                .map(|b| usize::from(b >> 4) * 4)
                .filter(|&l| l >= 20 && l <= payload.len()),
            wire::proto::UDP if self.segment_size == 0 => (payload.len() >= 8).then_some(8),
            _ => None,
        }
    }

    /// The length of the packets the offloads make from one of `total`
    /// bytes whose IP and transport headers take `headers`.
    fn segment_len(self, total: usize, headers: usize) -> usize {
        if self.segment_size == 0 {
            total
        } else {
            total.min(headers.saturating_add(usize::from(self.segment_size)))
        }
    }
}

/// How a translated packet's Traffic Class (4 → 6) or Type of Service
/// (6 → 4) is set (RFC 7915 §4.1, §5.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TrafficClass {
    /// Copied, all 8 bits (RFC 2474: the same semantics both ways). The
    /// default.
    #[default]
    Copy,
    /// Always this value: RFC 7915 §4.1's option to ignore the IPv4 TOS
    /// (set 0), §5.1's option to set a specified IPv4 TOS.
    Set(u8),
}

impl TrafficClass {
    fn apply(self, value: u8) -> u8 {
        match self {
            Self::Copy => value,
            Self::Set(v) => v,
        }
    }
}

/// RFC 7915 §4.5: what to do with an IPv4 UDP datagram whose checksum is
/// zero (IPv6 requires one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ZeroChecksum {
    /// Compute the checksum (reads the whole datagram). The default. A
    /// fragment cannot be completed this way and is dropped.
    #[default]
    Compute,
    /// Drop the datagram ([`Reason::UdpZeroChecksum`]).
    Drop,
}

/// The translator's configuration, valid once built.
///
/// ```
/// use sixgate::nat64::xlat::Config;
///
/// let config = Config::builder().ipv4_mtu(1500).lowest_ipv6_mtu(1400).build()?;
/// assert_eq!(config.lowest_ipv6_mtu(), 1400);
/// // RFC 7915 §4.1: the lowest IPv6 MTU cannot be below 1280.
/// assert!(Config::builder().lowest_ipv6_mtu(1200).build().is_err());
/// # Ok::<(), sixgate::nat64::xlat::ConfigError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    ipv6_mtu: u16,
    ipv4_mtu: u16,
    lowest_ipv6_mtu: u16,
    traffic_class: TrafficClass,
    tos: TrafficClass,
    udp_zero_checksum: ZeroChecksum,
    icmp_errors: bool,
    icmp_source_v4: Ipv4Addr,
    icmp_source_v6: Ipv6Addr,
}

/// Builds a [`Config`]; see each setter for the default.
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    config: Config,
}

/// A [`Config`] that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An IPv6 MTU below the IPv6 minimum.
    #[error("{what} {mtu} is below the IPv6 minimum MTU of 1280 (RFC 8200 §5)")]
    Ipv6Mtu {
        /// Which setting.
        what: &'static str,
        /// The value given.
        mtu: u16,
    },
    /// An IPv4 MTU below the IPv4 minimum.
    #[error("ipv4_mtu {mtu} is below the IPv4 minimum MTU of 68 (RFC 791)")]
    Ipv4Mtu {
        /// The value given.
        mtu: u16,
    },
    /// The lowest IPv6 MTU in the network is above the next hop's.
    #[error("lowest_ipv6_mtu {lowest} is above ipv6_mtu {mtu}: no path can be wider than its first link")]
    LowestAboveLink {
        /// `lowest_ipv6_mtu`.
        lowest: u16,
        /// `ipv6_mtu`.
        mtu: u16,
    },
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ipv6_mtu: 1500,
            ipv4_mtu: 1500,
            lowest_ipv6_mtu: IPV6_MIN_MTU,
            traffic_class: TrafficClass::Copy,
            tos: TrafficClass::Copy,
            udp_zero_checksum: ZeroChecksum::Compute,
            icmp_errors: true,
            icmp_source_v4: DUMMY_V4,
            icmp_source_v6: Nat64Prefix::WELL_KNOWN.embed(DUMMY_V4),
        }
    }
}

/// 192.0.0.8, the IPv4 dummy address (RFC 7600 §4.8) for ICMPv4 messages
/// from a node without an IPv4 address of its own.
const DUMMY_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 0, 8);

impl Config {
    /// A builder starting from the defaults.
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Self::default(),
        }
    }
    /// The MTU of the IPv6 next hop.
    pub fn ipv6_mtu(&self) -> u16 {
        self.ipv6_mtu
    }
    /// The MTU of the IPv4 next hop.
    pub fn ipv4_mtu(&self) -> u16 {
        self.ipv4_mtu
    }
    /// RFC 7915 §4.1 "lowest-ipv6-mtu".
    pub fn lowest_ipv6_mtu(&self) -> u16 {
        self.lowest_ipv6_mtu
    }
}

impl ConfigBuilder {
    /// The MTU of the link toward IPv6 nodes (default 1500): IPv4 packets
    /// with DF set that do not fit get Fragmentation Needed (RFC 7915
    /// §4.1), and it bounds translated PTB/FN MTUs (§4.2, §5.2).
    pub fn ipv6_mtu(mut self, mtu: u16) -> Self {
        self.config.ipv6_mtu = mtu;
        self
    }
    /// The MTU of the link toward IPv4 nodes (default 1500): IPv4 packets
    /// with DF set that do not fit get an ICMPv6 Packet Too Big (RFC 7915
    /// §5.1.1).
    pub fn ipv4_mtu(mut self, mtu: u16) -> Self {
        self.config.ipv4_mtu = mtu;
        self
    }
    /// RFC 7915 §4.1 "lowest-ipv6-mtu" (default 1280): IPv4 packets with
    /// DF clear whose translation is longer are fragmented to it.
    pub fn lowest_ipv6_mtu(mut self, mtu: u16) -> Self {
        self.config.lowest_ipv6_mtu = mtu;
        self
    }
    /// RFC 7915 §4.1: the IPv6 Traffic Class of 4 → 6 packets (default:
    /// copied from the TOS).
    pub fn traffic_class(mut self, tc: TrafficClass) -> Self {
        self.config.traffic_class = tc;
        self
    }
    /// RFC 7915 §5.1: the IPv4 TOS of 6 → 4 packets (default: copied from
    /// the Traffic Class).
    pub fn tos(mut self, tos: TrafficClass) -> Self {
        self.config.tos = tos;
        self
    }
    /// RFC 7915 §4.5: IPv4 UDP with a zero checksum (default: computed).
    pub fn udp_zero_checksum(mut self, z: ZeroChecksum) -> Self {
        self.config.udp_zero_checksum = z;
        self
    }
    /// RFC 7915 §4.4, §5.4: whether the translator sends ICMP errors of
    /// its own (default true). When off, each would-be error is a drop
    /// with the same reason.
    pub fn icmp_errors(mut self, on: bool) -> Self {
        self.config.icmp_errors = on;
        self
    }
    /// The source of ICMPv4 errors the translator sends (default
    /// 192.0.0.8, RFC 7600 §4.8).
    pub fn icmp_source_v4(mut self, addr: Ipv4Addr) -> Self {
        self.config.icmp_source_v4 = addr;
        self
    }
    /// The source of ICMPv6 errors the translator sends (default
    /// 64:ff9b::c000:8, 192.0.0.8 under the well-known prefix).
    pub fn icmp_source_v6(mut self, addr: Ipv6Addr) -> Self {
        self.config.icmp_source_v6 = addr;
        self
    }
    /// Checks the MTUs.
    pub fn build(self) -> Result<Config, ConfigError> {
        let c = self.config;
        for (what, mtu) in [
            ("ipv6_mtu", c.ipv6_mtu),
            ("lowest_ipv6_mtu", c.lowest_ipv6_mtu),
        ] {
            if mtu < IPV6_MIN_MTU {
                return Err(ConfigError::Ipv6Mtu { what, mtu });
            }
        }
        if c.ipv4_mtu < 68 {
            return Err(ConfigError::Ipv4Mtu { mtu: c.ipv4_mtu });
        }
        if c.lowest_ipv6_mtu > c.ipv6_mtu {
            return Err(ConfigError::LowestAboveLink {
                lowest: c.lowest_ipv6_mtu,
                mtu: c.ipv6_mtu,
            });
        }
        Ok(c)
    }
}

/// The transport protocol of a [`Flow`], as RFC 6146 §3.1 keys sessions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// TCP (6).
    Tcp,
    /// UDP (17).
    Udp,
    /// An ICMP query (echo) of the packet's own family: ICMPv4 (1) or
    /// ICMPv6 (58); its identifier plays the role of both ports.
    Icmp,
    /// Any other protocol number (never 6 or 17, nor the family's own
    /// ICMP): translated with its addresses only (RFC 7915 §4.5, §5.5).
    Other(u8),
}

impl Proto {
    /// The protocol of an IPv4 packet: ICMPv6 (58) there is [`Other`](Self::Other).
    fn from_v4(p: u8) -> Self {
        match p {
            wire::proto::TCP => Self::Tcp,
            wire::proto::UDP => Self::Udp,
            wire::proto::ICMP => Self::Icmp,
            other => Self::Other(other),
        }
    }

    /// The protocol of an IPv6 packet: ICMPv4 (1) there is [`Other`](Self::Other).
    fn from_v6(p: u8) -> Self {
        match p {
            wire::proto::TCP => Self::Tcp,
            wire::proto::UDP => Self::Udp,
            wire::proto::ICMPV6 => Self::Icmp,
            other => Self::Other(other),
        }
    }
}

/// A packet's addresses and transport identifiers: what a [`Mapping`]
/// maps (RFC 6146 §3.4's tuple).
///
/// Ports are 0 when absent (other protocols, fragments after the first).
/// For [`Proto::Icmp`] both ports hold the echo identifier; a mapping
/// changes the one on the IPv6 node's side: `src_port` when mapping 6 → 4,
/// `dst_port` when mapping 4 → 6, and the translator takes the new
/// identifier from there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow<A> {
    /// Protocol.
    pub proto: Proto,
    /// Source address.
    pub src: A,
    /// Destination address.
    pub dst: A,
    /// Source port, or ICMP identifier.
    pub src_port: u16,
    /// Destination port, or ICMP identifier.
    pub dst_port: u16,
}

impl<A> Flow<A> {
    /// The same flow seen from the other end.
    pub fn reversed(self) -> Self {
        Self {
            proto: self.proto,
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
        }
    }
}

/// Why a [`Flow`] is being mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// A packet to be forwarded: the mapping may create state (RFC 6146
    /// §3.5).
    Packet,
    /// The packet quoted inside an ICMP error (RFC 7915 §4.3, §5.3). The
    /// flow is given *reversed*, as a reply to the quoted packet, so it
    /// travels the same way as the error and looks like an ordinary flow
    /// of that direction; the mapping must not create state (RFC 6146
    /// §3.5.3 finds the session of the quoted packet, it never makes one).
    Quoted,
}

/// What else the translator read about a packet, for the state layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Meta {
    /// Forwarded packet or quoted in an error.
    pub role: Role,
    /// The TCP flags byte (RFC 9293 §3.1: CWR ECE URG ACK PSH RST SYN FIN),
    /// 0 for other protocols and quoted packets.
    pub tcp_flags: u8,
    /// The ICMP type of a [`Proto::Icmp`] packet (its own family's
    /// numbering), 0 otherwise.
    pub icmp_type: u8,
    /// Whether the ports are known: false for fragments after the first
    /// and for [`Proto::Other`].
    pub has_ports: bool,
    /// Whether the packet is a fragment.
    pub fragment: bool,
}

/// A [`Mapping`]'s refusal: the packet is dropped, and optionally an ICMP
/// Destination Unreachable goes back to its sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unmapped {
    /// Counted as this.
    pub reason: Reason,
    /// The Destination Unreachable code of the sender's family to answer
    /// with (for example [`icmp::v6::CODE_ADDRESS_UNREACHABLE`] or
    /// [`icmp::v4::CODE_ADMIN_PROHIBITED`]), or `None` to stay silent. Never
    /// sent about ICMP errors, quoted packets or later fragments (RFC 7915
    /// §4.4, §5.4).
    pub unreachable: Option<u8>,
}

impl Unmapped {
    /// Drop without a word.
    pub const fn silent(reason: Reason) -> Self {
        Self {
            reason,
            unreachable: None,
        }
    }
    /// Drop and answer Destination Unreachable with `code`.
    pub const fn unreachable(reason: Reason, code: u8) -> Self {
        Self {
            reason,
            unreachable: Some(code),
        }
    }
}

/// Chooses the translated addresses and ports: the seam between this
/// stateless translator and the state of RFC 6146 (binding and session
/// tables), or the RFC 6052 address mapping of SIIT ([`PrefixMapping`]).
///
/// Each method is called at most once per translated packet (once more
/// for an ICMP error's source), with the packet's [`Flow`] as it arrived;
/// it returns the flow as it should leave.
pub trait Mapping {
    /// RFC 7915 §5.1 addresses, RFC 6146 §3.5: the IPv4 flow for an IPv6
    /// flow (a packet, or a quoted packet reversed: see [`Role::Quoted`]).
    fn map_6to4(&mut self, flow: &Flow<Ipv6Addr>, meta: &Meta) -> Result<Flow<Ipv4Addr>, Unmapped>;

    /// RFC 7915 §4.1 addresses, RFC 6146 §3.5: the IPv6 flow for an IPv4
    /// flow.
    fn map_4to6(&mut self, flow: &Flow<Ipv4Addr>, meta: &Meta) -> Result<Flow<Ipv6Addr>, Unmapped>;

    /// The IPv4 source of a translated ICMPv6 error sent by `error_src`,
    /// given the mapped flow of its quoted packet (reversed, so
    /// `flow.dst` is where the error goes). `None` drops the error. The
    /// default is `flow.src`, the translator's own mapped address (RFC
    /// 6146 §3.5.3: the error appears to come from the address the IPv4
    /// node sent to).
    fn error_source_6to4(
        &mut self,
        error_src: Ipv6Addr,
        flow: &Flow<Ipv4Addr>,
    ) -> Option<Ipv4Addr> {
        let _ = error_src;
        Some(flow.src)
    }

    /// The IPv6 source of a translated ICMPv4 error sent by `error_src`.
    /// The default is `flow.src`, the address the IPv6 node sent to (RFC
    /// 6146); a translator may prefer `error_src` under its prefix, which
    /// shows the real router to traceroute.
    fn error_source_4to6(
        &mut self,
        error_src: Ipv4Addr,
        flow: &Flow<Ipv6Addr>,
    ) -> Option<Ipv6Addr> {
        let _ = error_src;
        Some(flow.src)
    }
}

/// SIIT's mapping (RFC 7915 §1.3 with RFC 6052): every IPv6 address is an
/// IPv4 address embedded in one prefix, both ways; ports and identifiers
/// unchanged. 6 → 4 refuses addresses outside the prefix with Destination
/// Unreachable code 5 for the source (RFC 7915 §5.4) and code 1 for the
/// destination.
///
/// ```
/// use std::net::Ipv4Addr;
/// use sixgate::nat64::xlat::{Flow, Mapping, Meta, PrefixMapping, Proto};
/// use sixgate::Nat64Prefix;
///
/// let p = Nat64Prefix::WELL_KNOWN;
/// let mut map = PrefixMapping::new(p);
/// let flow = Flow { proto: Proto::Udp, src: Ipv4Addr::new(192, 0, 2, 1), dst: Ipv4Addr::new(198, 51, 100, 9), src_port: 53, dst_port: 4000 };
/// let v6 = map.map_4to6(&flow, &PrefixMapping::meta()).unwrap();
/// assert_eq!(v6.src, p.embed(Ipv4Addr::new(192, 0, 2, 1)));
/// assert_eq!(map.map_6to4(&v6, &PrefixMapping::meta()), Ok(flow));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrefixMapping {
    prefix: Nat64Prefix,
}

impl PrefixMapping {
    /// Maps through `prefix`.
    pub fn new(prefix: Nat64Prefix) -> Self {
        Self { prefix }
    }

    /// A plain [`Meta`] (a forwarded packet, nothing else known), for
    /// calling a mapping by hand.
    pub fn meta() -> Meta {
        Meta {
            role: Role::Packet,
            tcp_flags: 0,
            icmp_type: 0,
            has_ports: true,
            fragment: false,
        }
    }
}

impl Mapping for PrefixMapping {
    fn map_6to4(&mut self, f: &Flow<Ipv6Addr>, _: &Meta) -> Result<Flow<Ipv4Addr>, Unmapped> {
        let src = self
            .prefix
            .extract(f.src)
            .map_err(|_| Unmapped::unreachable(Reason::Unmapped, icmp::v6::CODE_SOURCE_POLICY))?;
        let dst = self.prefix.extract(f.dst).map_err(|_| {
            Unmapped::unreachable(Reason::Unmapped, icmp::v6::CODE_ADMIN_PROHIBITED)
        })?;
        Ok(Flow {
            proto: f.proto,
            src,
            dst,
            src_port: f.src_port,
            dst_port: f.dst_port,
        })
    }

    fn map_4to6(&mut self, f: &Flow<Ipv4Addr>, _: &Meta) -> Result<Flow<Ipv6Addr>, Unmapped> {
        Ok(Flow {
            proto: f.proto,
            src: self.prefix.embed(f.src),
            dst: self.prefix.embed(f.dst),
            src_port: f.src_port,
            dst_port: f.dst_port,
        })
    }

    fn error_source_6to4(
        &mut self,
        error_src: Ipv6Addr,
        flow: &Flow<Ipv4Addr>,
    ) -> Option<Ipv4Addr> {
        self.prefix.extract(error_src).ok().or(Some(flow.src))
    }

    fn error_source_4to6(&mut self, error_src: Ipv4Addr, _: &Flow<Ipv6Addr>) -> Option<Ipv6Addr> {
        Some(self.prefix.embed(error_src))
    }
}

/// Why a packet was not translated. An open set: each value is a counter
/// ([`Reason::as_str`] is its stable name).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// Not an IPv4 packet: version, IHL or Total Length wrong, or cut
    /// short (RFC 791 §3.1).
    Ipv4Header,
    /// The IPv4 header checksum is wrong (RFC 1812 §5.2.2).
    Ipv4Checksum,
    /// The IPv4 options are malformed.
    Ipv4Options,
    /// Not an IPv6 packet: version or Payload Length wrong, or cut short
    /// (RFC 8200 §3).
    Ipv6Header,
    /// An IPv6 jumbogram (RFC 2675): no IPv4 counterpart.
    Jumbogram,
    /// IPv6 extension headers malformed or cut short.
    ExtensionHeaders,
    /// RFC 7915 §5.1.1: an extension header after the Fragment Header.
    FragmentedExtension,
    /// A fragment offset that does not fit 13 bits after re-fragmenting.
    FragmentOffset,
    /// A fragment kept until its datagram is whole (not a loss).
    Reassembling,
    /// A fragment that cannot be reassembled: overlapping (RFC 5722),
    /// past 65535 bytes, a middle piece not a multiple of 8, or its
    /// datagram's ends disagree.
    Fragment,
    /// The transport header is cut short.
    Truncated,
    /// Hop Limit or TTL exhausted (RFC 7915 §4.1, §5.1): Time Exceeded.
    HopLimit,
    /// RFC 7915 §4.1: an unexpired IPv4 source route: Destination
    /// Unreachable, Source Route Failed.
    SourceRoute,
    /// RFC 7915 §5.1: a Routing Header with Segments Left not zero:
    /// Parameter Problem.
    SegmentsLeft,
    /// Does not fit the next hop and may not be fragmented: Packet Too
    /// Big / Fragmentation Needed (RFC 7915 §4.1, §5.1.1).
    TooBig,
    /// An ICMP error whose checksum is wrong.
    IcmpChecksum,
    /// A fragmented ICMP message (see the module docs).
    IcmpFragment,
    /// RFC 7915 §4.2, §5.2: an ICMP informational message without a
    /// counterpart (timestamps, address masks, router and neighbor
    /// discovery, MLD, unknown): silently dropped.
    IcmpInformational,
    /// RFC 7915 §4.2, §5.2: an ICMP error type or code without a
    /// counterpart: silently dropped.
    IcmpUntranslatable,
    /// RFC 7915 Figures 3 and 6: a Parameter Problem pointer without a
    /// counterpart.
    IcmpPointer,
    /// The packet quoted in an ICMP error is not one the translator can
    /// read or map.
    IcmpQuoted,
    /// The other family's ICMP inside a packet (ICMPv6 in IPv4, ICMPv4 in
    /// IPv6): translated, it would reach the other side as ICMP that was
    /// never checked, so it is dropped.
    ForeignIcmp,
    /// An IPv4 packet whose protocol number names an IPv6 extension header
    /// (Hop-by-Hop, Routing, Fragment, Destination Options, Mobility, HIP,
    /// Shim6, experimental): copied as §4.1 says, IPv6 nodes would read its
    /// payload as that header, so it is dropped.
    ExtensionProtocol,
    /// An ICMP error about an ICMP error (RFC 7915 §4.3, §5.3 stop at the
    /// first embedded header).
    IcmpErrorInError,
    /// A single-hop protocol (IGMP, RFC 7915 §4.2).
    SingleHop,
    /// RFC 7915 §4.5: IPv4 UDP with a zero checksum, dropped by
    /// configuration or because it is a fragment.
    UdpZeroChecksum,
    /// The [`Mapping`] has no mapping for the flow.
    Unmapped,
    /// The [`Mapping`] refuses the flow by policy (RFC 6146 §3.5.2.2
    /// filtering).
    Filtered,
    /// No pool transport address is free for a new binding (RFC 6146
    /// §3.5.1.1).
    PoolExhausted,
    /// A session or per-host binding limit (RFC 6888 REQ-4).
    Limit,
    /// A protocol the stateful translator does not carry (RFC 6146 handles
    /// TCP, UDP and ICMP).
    Protocol,
    /// An IPv6 source inside the NAT64 prefix: a hairpinning loop (RFC 6146
    /// §3.8).
    HairpinLoop,
    /// The output buffer is too small.
    BufferTooSmall,
    /// An unsolicited IPv4 SYN kept for up to six seconds in case the
    /// IPv6 host opens the same connection (RFC 6146 §3.5.2.2
    /// simultaneous open): not a loss.
    SynStored,
    /// A stored SYN saw no IPv6 SYN in time: the ICMPv4 Port Unreachable
    /// the engine sends back to its source (RFC 6146 §3.5.2.2, RFC 5382
    /// REQ-4).
    SynExpired,
    /// A packet handed over with [`Offload`]s that this translation cannot
    /// keep (it is not plain TCP or UDP, carries IPv4 options or IPv6
    /// extension headers, would need fragmenting, or would be answered
    /// with an ICMP error). Nothing was looked up or changed: the caller
    /// completes the checksum and cuts the segments in software, and
    /// translates each packet without offloads.
    Offload,
}

impl Reason {
    /// The stable counter name, e.g. `"hop_limit"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4Header => "ipv4_header",
            Self::Ipv4Checksum => "ipv4_checksum",
            Self::Ipv4Options => "ipv4_options",
            Self::Ipv6Header => "ipv6_header",
            Self::Jumbogram => "jumbogram",
            Self::ExtensionHeaders => "extension_headers",
            Self::FragmentedExtension => "fragmented_extension",
            Self::FragmentOffset => "fragment_offset",
            Self::Reassembling => "reassembling",
            Self::Fragment => "fragment",
            Self::Truncated => "truncated",
            Self::HopLimit => "hop_limit",
            Self::SourceRoute => "source_route",
            Self::SegmentsLeft => "segments_left",
            Self::TooBig => "too_big",
            Self::IcmpChecksum => "icmp_checksum",
            Self::IcmpFragment => "icmp_fragment",
            Self::IcmpInformational => "icmp_informational",
            Self::IcmpUntranslatable => "icmp_untranslatable",
            Self::IcmpPointer => "icmp_pointer",
            Self::IcmpQuoted => "icmp_quoted",
            Self::ForeignIcmp => "foreign_icmp",
            Self::ExtensionProtocol => "extension_protocol",
            Self::IcmpErrorInError => "icmp_error_in_error",
            Self::SingleHop => "single_hop",
            Self::UdpZeroChecksum => "udp_zero_checksum",
            Self::Unmapped => "unmapped",
            Self::Filtered => "filtered",
            Self::PoolExhausted => "pool_exhausted",
            Self::Limit => "limit",
            Self::Protocol => "protocol",
            Self::HairpinLoop => "hairpin_loop",
            Self::BufferTooSmall => "buffer_too_small",
            Self::SynStored => "syn_stored",
            Self::SynExpired => "syn_expired",
            Self::Offload => "offload",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What became of a packet. The bytes are in the caller's output buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Outcome {
    /// One translated packet, `out[..len]`, to send on the other side.
    Translated {
        /// Its length.
        len: usize,
    },
    /// Fragments to send on the IPv6 side (RFC 7915 §4.1), back to back in
    /// `out[..len]`: every one `chunk` bytes long but the last; see
    /// [`Outcome::packets`].
    Fragmented {
        /// The length of all of them.
        len: usize,
        /// The length of each but the last.
        chunk: usize,
    },
    /// Not translated: instead an ICMP error, `out[..len]`, goes back on
    /// the side the packet came from (an ICMPv6 error for
    /// [`Translator::translate_6to4`], ICMPv4 for
    /// [`Translator::translate_4to6`]). Rate-limit these (RFC 4443 §2.4(f),
    /// RFC 1812 §4.3.2.8).
    Reply {
        /// Its length.
        len: usize,
        /// Why.
        reason: Reason,
    },
    /// Dropped.
    Drop(Reason),
}

impl Outcome {
    /// The packets to send on the other side: one for
    /// [`Translated`](Self::Translated), each fragment for
    /// [`Fragmented`](Self::Fragmented), none otherwise.
    pub fn packets<'a>(&self, out: &'a [u8]) -> std::slice::Chunks<'a, u8> {
        let (len, chunk) = match *self {
            Self::Translated { len } => (len, len),
            Self::Fragmented { len, chunk } => (len, chunk),
            Self::Reply { .. } | Self::Drop(_) => (0, 1),
        };
        out.get(..len).unwrap_or_default().chunks(chunk.max(1))
    }

    /// The ICMP error to send back, for [`Reply`](Self::Reply).
    pub fn reply<'a>(&self, out: &'a [u8]) -> Option<&'a [u8]> {
        match *self {
            Self::Reply { len, .. } => out.get(..len),
            _ => None,
        }
    }
}

/// The stateless translator: a [`Config`] and the IPv4 Identification
/// generator. Cheap to keep one per thread.
#[derive(Clone, Debug)]
pub struct Translator {
    config: Config,
    ids: Ids,
}

impl Translator {
    /// A translator with `config`; `seed` keys the IPv4 Identification
    /// generator (RFC 7739 §5.3), so runs replay exactly.
    pub fn new(config: Config, seed: u64) -> Self {
        Self {
            config,
            ids: Ids::new(seed),
        }
    }

    /// Its configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// RFC 7915 §5: translates one IPv6 `packet` to IPv4 into `out`.
    pub fn translate_6to4<M: Mapping + ?Sized>(
        &mut self,
        map: &mut M,
        packet: &[u8],
        out: &mut [u8],
    ) -> Outcome {
        self.translate_6to4_offload(map, packet, Offload::NONE, out)
    }

    /// [`translate_6to4`](Self::translate_6to4) for a packet that comes
    /// with `offload`s, which the output keeps (see [`Offload`]); a packet
    /// whose offloads cannot be kept is [`Reason::Offload`], untouched.
    pub fn translate_6to4_offload<M: Mapping + ?Sized>(
        &mut self,
        map: &mut M,
        packet: &[u8],
        offload: Offload,
        out: &mut [u8],
    ) -> Outcome {
        v6v4::translate(self, map, packet, offload, out).unwrap_or_else(Outcome::Drop)
    }

    /// RFC 7915 §4: translates one IPv4 `packet` to IPv6 into `out`.
    pub fn translate_4to6<M: Mapping + ?Sized>(
        &mut self,
        map: &mut M,
        packet: &[u8],
        out: &mut [u8],
    ) -> Outcome {
        self.translate_4to6_offload(map, packet, Offload::NONE, out)
    }

    /// [`translate_4to6`](Self::translate_4to6) with `offload`s, as
    /// [`translate_6to4_offload`](Self::translate_6to4_offload).
    pub fn translate_4to6_offload<M: Mapping + ?Sized>(
        &mut self,
        map: &mut M,
        packet: &[u8],
        offload: Offload,
        out: &mut [u8],
    ) -> Outcome {
        v4v6::translate(self, map, packet, offload, out).unwrap_or_else(Outcome::Drop)
    }

    /// An ICMPv4 Destination Unreachable with `code` from `from` to `to`
    /// (the source of `packet`), quoting as much of the IPv4 `packet` as
    /// fits 576 bytes (RFC 1812 §4.3.2.3): what a stateful translator
    /// sends about a stored SYN that expired (RFC 6146 §3.5.2.2).
    pub(crate) fn unreachable_v4(
        &mut self,
        packet: &[u8],
        code: u8,
        (from, to): (Ipv4Addr, Ipv4Addr),
        reason: Reason,
        out: &mut [u8],
    ) -> Outcome {
        let h = icmp_tables::Header {
            ty: icmp::v4::DEST_UNREACHABLE,
            code,
            rest: [0; 4],
        };
        v4v6::reply4_from(self, reason, h, packet, from, to, out).unwrap_or_else(Outcome::Drop)
    }
}

/// IPv4 Identification values (RFC 7739 §5.3): a table of counters picked
/// by a keyed hash of (source, destination, protocol), plus a keyed offset,
/// so consecutive values for one destination differ and values are hard to
/// guess from outside.
#[derive(Clone, Debug)]
struct Ids {
    key: u64,
    counters: [u16; 64],
}

impl Ids {
    fn new(seed: u64) -> Self {
        Self {
            key: mix(seed ^ 0x6a09_e667_f3bc_c908),
            counters: [0; 64],
        }
    }

    fn next(&mut self, src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> u16 {
        let tuple = (u64::from(u32::from(src)) << 32) | u64::from(u32::from(dst));
        let h = mix(self.key ^ tuple ^ u64::from(proto).rotate_left(56));
        let offset = (h >> 48) as u16;
        match self.counters.get_mut((h & 63) as usize) {
            Some(c) => {
                *c = c.wrapping_add(1);
                offset.wrapping_add(*c)
            }
            None => offset,
        }
    }
}

/// The splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// RFC 4884 §4, §5: splits an ICMP error's body (after its 8-byte header)
/// into the original datagram and the extension structure, given the length
/// attribute in `unit`-byte words. Zero means no extension; so does a
/// length under 128 bytes or reaching the end of the body (§5: the
/// datagram is then all of it).
fn split_4884(body: &[u8], words: u8, unit: usize) -> (&[u8], Option<&[u8]>) {
    let len = usize::from(words).saturating_mul(unit);
    if words == 0 || len < 128 || len >= body.len() {
        return (body, None);
    }
    let (original, ext) = body.split_at(len);
    (original, Some(ext))
}

/// Writes bytes `skip..skip + take` of the concatenation of `parts`.
fn put_range(
    w: &mut wire::Writer<'_>,
    parts: &[&[u8]],
    mut skip: usize,
    mut take: usize,
) -> Result<(), Reason> {
    for part in parts {
        if take == 0 {
            break;
        }
        let Some(rest) = part.get(skip..) else {
            skip = skip.saturating_sub(part.len());
            continue;
        };
        skip = 0;
        let n = rest.len().min(take);
        w.put(rest.get(..n).unwrap_or_default())?;
        take = take.saturating_sub(n);
    }
    Ok(())
}

/// The total length of `parts`.
fn parts_len(parts: &[&[u8]]) -> usize {
    parts
        .iter()
        .fold(0usize, |acc, p| acc.saturating_add(p.len()))
}

#[cfg(test)]
mod tests;
