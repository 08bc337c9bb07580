//! Which shard of a sharded NAT64 owns a packet, read from its bytes
//! without touching any engine: for a gateway that runs one [`Nat64`]
//! engine per core, each over its own shard of the state
//! ([`state::Settings::shards`]), and hands a packet read by one worker to
//! the worker whose shard owns it.
//!
//! - IPv6 (6 → 4): the shard of the source's /64
//!   ([`state::Config::shard_of_v6_source`]). An ICMPv6 error is about a
//!   packet the translator sent to an IPv6 host, so its owner is the
//!   quoted packet's destination (the router that sent it is nobody's
//!   customer). A packet with a Fragment Header goes by its outer source,
//!   so every fragment of a datagram reaches one shard.
//! - IPv4 (4 → 6): the shard of the pool4 transport address it is sent to
//!   ([`state::Config::shard_of_v4`]: destination address and port, or
//!   the ICMP query identifier); for an ICMPv4 error, the quoted packet's
//!   source (the pool4 side of the packet the translator sent). A fragment
//!   carries no ports (but the first): [`Owner::Fragment`] says to
//!   reassemble it ([`frag::Reassembly`](super::frag::Reassembly)) and ask
//!   again about the whole datagram.
//!
//! Anything else ([`Owner::Any`]: not for pool4, cut short, another
//! protocol) may be handled by any shard: each engine drops and counts it
//! as an unsharded one would.
//!
//! Every call reads at most a few fixed offsets and walks at most
//! [`MAX_EXTENSIONS`] IPv6 extension headers.
//!
//! [`Nat64`]: super::Nat64

use std::net::{Ipv4Addr, Ipv6Addr};

use super::state::{self, Protocol};

/// The most IPv6 extension headers walked to find an ICMPv6 error.
pub const MAX_EXTENSIONS: usize = 8;

/// Who should handle a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// The shard with this index.
    Shard(usize),
    /// An IPv4 fragment: reassemble it, then ask about the whole datagram.
    Fragment,
    /// No shard in particular: any engine drops or handles it alike.
    Any,
}

/// The shard that owns an IPv6 packet read from the IPv6 side.
///
/// ```
/// use sixgate::nat64::shard::{owner_v6, Owner};
/// use sixgate::nat64::state::{Config, Pool4Range, Protocol, Settings};
///
/// let pool = vec![Pool4Range { proto: Protocol::Udp, net: "192.0.2.1/32".parse()?, ports: 1024..=65535 }];
/// let mut s = Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool);
/// s.shards = 4;
/// let c = Config::new(s)?;
/// let mut p = [0u8; 48];
/// p[0] = 0x60;
/// p[6] = 17; // UDP
/// let src: std::net::Ipv6Addr = "2001:db8:0:7::10".parse()?;
/// p[8..24].copy_from_slice(&src.octets());
/// assert_eq!(owner_v6(&c, &p), Owner::Shard(c.shard_of_v6_source(src)));
/// assert_eq!(owner_v6(&c, &p[..20]), Owner::Any);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn owner_v6(config: &state::Config, packet: &[u8]) -> Owner {
    let Some(src) = v6_addr(packet, 8) else {
        return Owner::Any;
    };
    let by = |a: Ipv6Addr| Owner::Shard(config.shard_of_v6_source(a));
    let mut next = packet.get(6).copied().unwrap_or(0);
    let mut at: usize = 40;
    for _ in 0..MAX_EXTENSIONS {
        match next {
            // Hop-by-Hop, Routing, Destination Options.
            0 | 43 | 60 => {
                let (Some(&n), Some(&len)) = (packet.get(at), packet.get(at.saturating_add(1)))
                else {
                    return by(src);
                };
                next = n;
                at = at.saturating_add((usize::from(len).saturating_add(1)).saturating_mul(8));
            }
            // ICMPv6: an error (type below 128) quotes the packet the
            // translator sent; its destination is the customer.
            58 => {
                let Some(&kind) = packet.get(at) else {
                    return by(src);
                };
                if kind >= 128 {
                    return by(src);
                }
                let inner = at.saturating_add(8);
                let dst = v6_addr(packet, inner.saturating_add(24));
                let isrc = v6_addr(packet, inner.saturating_add(8));
                return match (dst, isrc) {
                    (Some(d), Some(s)) if config.prefix().contains(d) => by(s),
                    (Some(d), _) => by(d),
                    _ => by(src),
                };
            }
            // A Fragment Header (every fragment by the outer source), or
            // the transport.
            _ => return by(src),
        }
    }
    by(src)
}

/// The shard that owns an IPv4 packet read from the IPv4 side (or a
/// hairpinned packet another shard translated to IPv4).
///
/// ```
/// use sixgate::nat64::shard::{owner_v4, Owner};
/// use sixgate::nat64::state::{Config, Pool4Range, Protocol, Settings};
///
/// let pool = vec![Pool4Range { proto: Protocol::Udp, net: "192.0.2.1/32".parse()?, ports: 1024..=65535 }];
/// let mut s = Settings::new(sixgate::Nat64Prefix::WELL_KNOWN, pool);
/// s.shards = 2;
/// let c = Config::new(s)?;
/// let mut p = [0u8; 28];
/// p[0] = 0x45;
/// p[9] = 17; // UDP
/// p[16..20].copy_from_slice(&[192, 0, 2, 1]);
/// p[22..24].copy_from_slice(&1200u16.to_be_bytes()); // destination port
/// assert_eq!(owner_v4(&c, &p), Owner::Shard(1));
/// p[6] = 0x20; // More Fragments
/// assert_eq!(owner_v4(&c, &p), Owner::Fragment);
/// p[6] = 0;
/// p[16..20].copy_from_slice(&[192, 0, 2, 2]); // not pool4
/// assert_eq!(owner_v4(&c, &p), Owner::Any);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn owner_v4(config: &state::Config, packet: &[u8]) -> Owner {
    let Some(ihl) = v4_header_len(packet) else {
        return Owner::Any;
    };
    if be16(packet, 6).is_some_and(|f| f & 0x3fff != 0) {
        return Owner::Fragment;
    }
    let (Some(&proto), Some(dst)) = (packet.get(9), v4_addr(packet, 16)) else {
        return Owner::Any;
    };
    let l4 = packet.get(ihl..).unwrap_or_default();
    let owner = match proto {
        6 | 17 => be16(l4, 2).and_then(|port| config.shard_of_v4(tcp_udp(proto), dst, port)),
        1 => match l4.first() {
            // Echo Reply, Echo Request: the identifier is the "port".
            Some(0 | 8) => be16(l4, 4).and_then(|id| config.shard_of_v4(Protocol::Icmp, dst, id)),
            // Destination Unreachable, Time Exceeded, Parameter Problem:
            // the quoted packet left from its pool4 source.
            Some(3 | 11 | 12) => quoted_v4(config, l4.get(8..).unwrap_or_default()),
            _ => None,
        },
        _ => None,
    };
    owner.map_or(Owner::Any, Owner::Shard)
}

/// The shard of the packet an ICMPv4 error quotes: its source transport
/// address (TCP, UDP, or an ICMP echo's identifier).
fn quoted_v4(config: &state::Config, inner: &[u8]) -> Option<usize> {
    let ihl = v4_header_len(inner)?;
    let src = v4_addr(inner, 12)?;
    let l4 = inner.get(ihl..)?;
    match *inner.get(9)? {
        p @ (6 | 17) => config.shard_of_v4(tcp_udp(p), src, be16(l4, 0)?),
        1 if matches!(l4.first(), Some(0 | 8)) => {
            config.shard_of_v4(Protocol::Icmp, src, be16(l4, 4)?)
        }
        _ => None,
    }
}

fn tcp_udp(p: u8) -> Protocol {
    if p == 6 {
        Protocol::Tcp
    } else {
        Protocol::Udp
    }
}

/// The header length of an IPv4 packet (version 4, IHL at least 5).
fn v4_header_len(p: &[u8]) -> Option<usize> {
    let b = *p.first()?;
    let ihl = usize::from(b & 0x0f).saturating_mul(4);
    (b >> 4 == 4 && ihl >= 20 && p.len() >= ihl).then_some(ihl)
}

fn be16(p: &[u8], at: usize) -> Option<u16> {
    let b = p.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes(b.try_into().ok()?))
}

fn v4_addr(p: &[u8], at: usize) -> Option<Ipv4Addr> {
    let b: [u8; 4] = p.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(Ipv4Addr::from(b))
}

fn v6_addr(p: &[u8], at: usize) -> Option<Ipv6Addr> {
    let b: [u8; 16] = p.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat64::state::{Config, Pool4Range, Settings, StaticBib, Transport4, Transport6};
    use crate::Nat64Prefix;

    fn config(shards: u16) -> Config {
        let pool = Protocol::ALL
            .iter()
            .map(|&proto| Pool4Range {
                proto,
                net: "192.0.2.0/30".parse().unwrap(),
                ports: 0..=65535,
            })
            .collect();
        let mut s = Settings::new(Nat64Prefix::WELL_KNOWN, pool);
        s.shards = shards;
        s.shard_key = 42;
        s.statics = vec![StaticBib {
            proto: Protocol::Tcp,
            v6: Transport6::new("2001:db8:9::80".parse().unwrap(), 80),
            v4: Transport4::new("192.0.2.1".parse().unwrap(), 8080),
        }];
        Config::new(s).unwrap()
    }

    fn v6(src: &str, dst: &str, next: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 0, next, 64];
        p[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&src.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&dst.parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(payload);
        p
    }

    fn v4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(payload);
        p
    }

    #[test]
    fn icmpv6_errors_go_by_the_quoted_destination() {
        let c = config(16);
        let customer: Ipv6Addr = "2001:db8:5::10".parse().unwrap();
        let router = "2001:db8:ffff::1";
        let quoted = v6("64:ff9b::c633:6402", "2001:db8:5::10", 17, &[0; 8]);
        let mut icmp = vec![1, 4, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(&quoted);
        let err = v6(router, "64:ff9b::c000:201", 58, &icmp);
        let want = Owner::Shard(c.shard_of_v6_source(customer));
        assert_eq!(owner_v6(&c, &err), want);
        // After a Destination Options header too.
        let mut opts = vec![58, 0, 1, 4, 0, 0, 0, 0];
        opts.extend_from_slice(&icmp);
        assert_eq!(owner_v6(&c, &v6(router, "64:ff9b::1", 60, &opts)), want);
        // An echo request goes by its source.
        let echo = v6(router, "64:ff9b::1", 58, &[128, 0, 0, 0, 0, 1, 0, 1]);
        let r: Ipv6Addr = router.parse().unwrap();
        assert_eq!(owner_v6(&c, &echo), Owner::Shard(c.shard_of_v6_source(r)));
        // Every fragment by the outer source, whatever follows.
        let frag = v6(router, "64:ff9b::1", 44, &[58, 0, 0, 8, 0, 0, 0, 1, 1, 4]);
        assert_eq!(owner_v6(&c, &frag), Owner::Shard(c.shard_of_v6_source(r)));
        // A quoted packet cut short: by the outer source.
        let short = v6(router, "64:ff9b::1", 58, &[1, 4, 0, 0, 0, 0, 0, 0, 0x60]);
        assert_eq!(owner_v6(&c, &short), Owner::Shard(c.shard_of_v6_source(r)));
    }

    #[test]
    fn ipv4_goes_by_the_pool4_side() {
        let c = config(4);
        let pool = Ipv4Addr::new(192, 0, 2, 1);
        let by = |p: Protocol, port: u16| {
            c.shard_of_v4(p, pool, port)
                .map_or(Owner::Any, Owner::Shard)
        };
        // TCP and UDP by destination port.
        let mut udp = [0u8; 8];
        udp[2..4].copy_from_slice(&5000u16.to_be_bytes());
        assert_eq!(
            owner_v4(&c, &v4([198, 51, 100, 2], pool.octets(), 17, &udp)),
            by(Protocol::Udp, 5000)
        );
        // The static entry's port goes to its IPv6 side's shard.
        let mut tcp = [0u8; 20];
        tcp[2..4].copy_from_slice(&8080u16.to_be_bytes());
        let st = c.shard_of_v6_source("2001:db8:9::80".parse().unwrap());
        assert_eq!(
            owner_v4(&c, &v4([198, 51, 100, 2], pool.octets(), 6, &tcp)),
            Owner::Shard(st)
        );
        // Echo Reply by identifier.
        let echo = [0, 0, 0, 0, 0x12, 0x34, 0, 1];
        assert_eq!(
            owner_v4(&c, &v4([198, 51, 100, 2], pool.octets(), 1, &echo)),
            by(Protocol::Icmp, 0x1234)
        );
        // An error quoting a UDP packet from pool4 port 7000.
        let quoted = v4(pool.octets(), [198, 51, 100, 2], 17, &[0x1b, 0x58, 0, 53]);
        let mut err = vec![3, 3, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&quoted);
        assert_eq!(
            owner_v4(&c, &v4([198, 51, 100, 9], pool.octets(), 1, &err)),
            by(Protocol::Udp, 7000)
        );
        // Other protocols, and short packets: anyone.
        assert_eq!(
            owner_v4(&c, &v4([198, 51, 100, 2], pool.octets(), 47, &[0; 8])),
            Owner::Any
        );
        assert_eq!(owner_v4(&c, &[0x45, 0, 0]), Owner::Any);
        // Non-first fragments.
        let mut f = v4([198, 51, 100, 2], pool.octets(), 17, &udp);
        f[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
        assert_eq!(owner_v4(&c, &f), Owner::Fragment);
    }

    #[test]
    fn unsharded_everything_is_shard_zero() {
        let c = config(1);
        let pool = Ipv4Addr::new(192, 0, 2, 2);
        let mut udp = [0u8; 8];
        udp[2..4].copy_from_slice(&5000u16.to_be_bytes());
        assert_eq!(
            owner_v4(&c, &v4([198, 51, 100, 2], pool.octets(), 17, &udp)),
            Owner::Shard(0)
        );
        let p = v6("2001:db8::1", "64:ff9b::1", 17, &[0; 8]);
        assert_eq!(owner_v6(&c, &p), Owner::Shard(0));
    }

    proptest::proptest! {
        /// Any bytes get an owner within range, never a panic; a TCP or
        /// UDP packet to a pool4 address goes to the shard of its port's
        /// block.
        #[test]
        fn owners_are_in_range_and_follow_the_port(
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..120),
            head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60),
            port in proptest::prelude::any::<u16>(),
            udp in proptest::prelude::any::<bool>(),
        ) {
            let c = config(4);
            for o in [owner_v6(&c, &head), owner_v4(&c, &head)] {
                if let Owner::Shard(i) = o {
                    proptest::prop_assert!(i < 4);
                }
            }
            let (proto, p) = if udp { (17, Protocol::Udp) } else { (6, Protocol::Tcp) };
            let mut l4 = vec![0x30, 0x39, 0, 0];
            l4[2..4].copy_from_slice(&port.to_be_bytes());
            l4.extend_from_slice(&tail);
            if l4.len() < 20 {
                l4.resize(20, 0);
            }
            let pkt = v4([198, 51, 100, 7], [192, 0, 2, 1], proto, &l4);
            let want = c.shard_of_v4(p, "192.0.2.1".parse().unwrap(), port);
            proptest::prop_assert_eq!(owner_v4(&c, &pkt), want.map_or(Owner::Any, Owner::Shard));
            let v6p = v6("2001:db8:5::1", "64:ff9b::c633:6407", proto, &l4);
            let src: Ipv6Addr = "2001:db8:5::1".parse().unwrap();
            proptest::prop_assert_eq!(owner_v6(&c, &v6p), Owner::Shard(c.shard_of_v6_source(src)));
        }
    }
}
