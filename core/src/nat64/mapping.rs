//! [`Nat64State`] as the translator's [`Mapping`]: the seam between the
//! stateless RFC 7915 translation and the RFC 6146 tables, which work on
//! tuples.
//!
//! A forwarded packet goes through [`Nat64State::handle_outbound`] or
//! [`Nat64State::handle_inbound`] (which may create a binding and a
//! session, step the TCP machine, store an unsolicited SYN); a packet
//! quoted in an ICMP error goes through read-only lookups
//! ([`Nat64State::bib_v4`], [`Nat64State::bib_v6`],
//! [`Nat64State::session_expiry`]) and creates nothing (RFC 6146 §3.5.3).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::state::{
    DropReason, Inbound, Nat64State, Outbound, Protocol, TcpFlags, Transport4, Transport6, Tuple4,
    Tuple6,
};
use super::xlat::{icmp, Flow, Mapping, Meta, Proto, Reason, Role, Unmapped};
use crate::time::Instant;

/// [`Nat64State`] as the [`Mapping`] of one packet at one instant.
///
/// ```
/// use sixgate::nat64::state::{Config, Nat64State, Pool4Range, Protocol, Settings};
/// use sixgate::nat64::xlat::{Flow, Mapping, PrefixMapping, Proto};
/// use sixgate::nat64::StateMapping;
/// use sixgate::time::Instant;
/// use sixgate::Nat64Prefix;
///
/// let pool = vec![Pool4Range { proto: Protocol::Udp, net: "192.0.2.1/32".parse()?, ports: 1024..=65535 }];
/// let mut state = Nat64State::new(Config::new(Settings::new(Nat64Prefix::WELL_KNOWN, pool))?, 7);
/// let flow = Flow {
///     proto: Proto::Udp,
///     src: "2001:db8::10".parse()?,
///     dst: "64:ff9b::198.51.100.7".parse()?,
///     src_port: 5000,
///     dst_port: 53,
/// };
/// let mut map = StateMapping::new(&mut state, Instant::ZERO);
/// let v4 = map.map_6to4(&flow, &PrefixMapping::meta()).unwrap();
/// assert_eq!(v4.src, "192.0.2.1".parse::<std::net::Ipv4Addr>()?);
/// assert_eq!(v4.dst, "198.51.100.7".parse::<std::net::Ipv4Addr>()?);
/// // TCP without a SYN opens nothing.
/// let ack = Flow { proto: Proto::Tcp, ..flow };
/// assert!(map.map_6to4(&ack, &PrefixMapping::meta()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StateMapping<'a> {
    state: &'a mut Nat64State,
    now: Instant,
    /// The IPv4 packet being translated, kept if it is a SYN to store.
    packet: &'a [u8],
    /// Set by [`Outbound::Hairpin`]: the IPv6 flow the packet leaves with
    /// on its second pass (4 → 6); taken by the next forwarded
    /// [`map_4to6`](Mapping::map_4to6).
    hairpin: Option<Flow<Ipv6Addr>>,
    /// The packet is the second half of a hairpin another shard began:
    /// forwarded packets go through [`Nat64State::handle_hairpin_inbound`].
    from_shard: bool,
}

impl<'a> StateMapping<'a> {
    /// The mapping for packets arriving at `now`.
    pub fn new(state: &'a mut Nat64State, now: Instant) -> Self {
        Self {
            state,
            now,
            packet: &[],
            hairpin: None,
            from_shard: false,
        }
    }

    /// For the second half of a hairpinned packet whose first half another
    /// shard translated (its IPv4 form, from a pool4 address to one this
    /// shard owns): see [`Nat64State::handle_hairpin_inbound`].
    pub fn with_hairpin_from_shard(mut self) -> Self {
        self.from_shard = true;
        self
    }

    /// With the IPv4 packet being translated, which
    /// [`Nat64State::handle_inbound`] keeps if it is a SYN to store for a
    /// simultaneous open (without it, an expired SYN's Port Unreachable
    /// cannot quote it).
    pub fn with_packet(mut self, packet: &'a [u8]) -> Self {
        self.packet = packet;
        self
    }

    /// For the second pass of a hairpinned packet: the IPv6 flow the first
    /// pass found ([`StateMapping::hairpin`]).
    pub fn with_hairpin(mut self, flow: Option<Flow<Ipv6Addr>>) -> Self {
        self.hairpin = flow;
        self
    }

    /// After a forwarded IPv6 packet was mapped to a pool4 address: the
    /// IPv6 flow it goes back out with (RFC 6146 §3.8), for the 4 → 6
    /// pass.
    pub fn hairpin(&self) -> Option<Flow<Ipv6Addr>> {
        self.hairpin
    }
}

impl Mapping for StateMapping<'_> {
    /// RFC 6146 §3.5: the IPv4 flow of an IPv6 packet, creating the binding
    /// and session it may create; for a quoted packet, only a lookup.
    fn map_6to4(&mut self, f: &Flow<Ipv6Addr>, meta: &Meta) -> Result<Flow<Ipv4Addr>, Unmapped> {
        let proto = protocol(f.proto)?;
        if !meta.has_ports {
            return Err(Unmapped::silent(Reason::Unmapped));
        }
        let st = &mut *self.state;
        let prefix = st.config().prefix();
        let (src, dst) = (
            Transport6::new(f.src, f.src_port),
            Transport6::new(f.dst, f.dst_port),
        );
        if meta.role == Role::Quoted || (proto == Protocol::Icmp && !opens(meta, true)) {
            // A quoted packet, or an Echo Reply: only an existing session
            // maps it.
            if prefix.contains(f.src) {
                return Err(Unmapped::silent(Reason::HairpinLoop));
            }
            let y = prefix
                .extract(f.dst)
                .map_err(|_| Unmapped::silent(Reason::Unmapped))?;
            let v4 = st
                .bib_v4(proto, src)
                .ok_or(Unmapped::silent(Reason::Unmapped))?;
            let remote = Transport4::new(y, f.dst_port);
            st.session_expiry(proto, src, remote)
                .ok_or(Unmapped::silent(Reason::Unmapped))?;
            if meta.role == Role::Quoted {
                return Ok(v4_flow(proto, v4, remote));
            }
            // An Echo Reply of a session: forwarded (and refreshing it) as
            // any packet.
        }
        let t = Tuple6::new(proto, src, dst).with_flags(TcpFlags(meta.tcp_flags));
        match st.handle_outbound(self.now, &t) {
            Outbound::Translate { src, dst } => Ok(Flow {
                proto: f.proto,
                src: src.addr,
                dst: dst.addr,
                src_port: src.port,
                dst_port: dst.port,
            }),
            Outbound::Hairpin { src: hs, dst: hd } => {
                // The packet comes back to an IPv6 host: the IPv4 flow of
                // the first pass is the sender's binding to the pool4
                // destination, the second pass takes the IPv6 flow.
                let v4 = st
                    .bib_v4(proto, src)
                    .ok_or(Unmapped::silent(Reason::Unmapped))?;
                let y = prefix
                    .extract(f.dst)
                    .map_err(|_| Unmapped::silent(Reason::Unmapped))?;
                let port = if proto == Protocol::Icmp {
                    v4.port
                } else {
                    f.dst_port
                };
                self.hairpin = Some(Flow {
                    proto: f.proto,
                    src: hs.addr,
                    dst: hd.addr,
                    src_port: hs.port,
                    dst_port: hd.port,
                });
                Ok(Flow {
                    proto: f.proto,
                    src: v4.addr,
                    dst: y,
                    src_port: v4.port,
                    dst_port: port,
                })
            }
            Outbound::NotOurs => Err(Unmapped::silent(Reason::Unmapped)),
            Outbound::Drop(r) => Err(unmapped(r, proto, false)),
        }
    }

    /// RFC 6146 §3.5: the IPv6 flow of an IPv4 packet; an unsolicited SYN
    /// may be stored ([`Reason::SynStored`]); for a quoted packet, only a
    /// lookup.
    fn map_4to6(&mut self, f: &Flow<Ipv4Addr>, meta: &Meta) -> Result<Flow<Ipv6Addr>, Unmapped> {
        let proto = protocol(f.proto)?;
        if !meta.has_ports {
            return Err(Unmapped::silent(Reason::Unmapped));
        }
        if meta.role == Role::Packet {
            if let Some(h) = self.hairpin.take() {
                return Ok(h);
            }
        }
        let st = &mut *self.state;
        let (src, dst) = (
            Transport4::new(f.src, f.src_port),
            Transport4::new(f.dst, f.dst_port),
        );
        if meta.role == Role::Quoted || (proto == Protocol::Icmp && !opens(meta, false)) {
            // A quoted packet, or an Echo Reply: only an existing session
            // maps it.
            let x = st
                .bib_v6(proto, dst)
                .ok_or(Unmapped::silent(Reason::Unmapped))?;
            st.session_expiry(proto, x, src)
                .ok_or(Unmapped::silent(Reason::Unmapped))?;
            if meta.role == Role::Quoted {
                let port = if proto == Protocol::Icmp {
                    x.port
                } else {
                    f.src_port
                };
                return Ok(Flow {
                    proto: f.proto,
                    src: st.config().prefix().embed(f.src),
                    dst: x.addr,
                    src_port: port,
                    dst_port: x.port,
                });
            }
        }
        let t = Tuple4::new(proto, src, dst).with_flags(TcpFlags(meta.tcp_flags));
        let verdict = if self.from_shard {
            st.handle_hairpin_inbound(self.now, &t)
        } else {
            st.handle_inbound(self.now, &t, self.packet)
        };
        match verdict {
            Inbound::Translate { src, dst } => Ok(Flow {
                proto: f.proto,
                src: src.addr,
                dst: dst.addr,
                src_port: src.port,
                dst_port: dst.port,
            }),
            Inbound::Stored => Err(Unmapped::silent(Reason::SynStored)),
            Inbound::NotOurs => Err(Unmapped::silent(Reason::Unmapped)),
            Inbound::Drop(r) => Err(unmapped(r, proto, true)),
        }
    }
}

/// The state layer's protocol, or [`Reason::Protocol`].
fn protocol(p: Proto) -> Result<Protocol, Unmapped> {
    match p {
        Proto::Tcp => Ok(Protocol::Tcp),
        Proto::Udp => Ok(Protocol::Udp),
        Proto::Icmp => Ok(Protocol::Icmp),
        Proto::Other(_) => Err(Unmapped::silent(Reason::Protocol)),
    }
}

/// Whether an ICMP packet is a query that may open a session (an Echo
/// Request of its family); RFC 6146 §3.5.3 sessions start with one.
fn opens(meta: &Meta, v6: bool) -> bool {
    meta.icmp_type
        == if v6 {
            icmp::v6::ECHO_REQUEST
        } else {
            icmp::v4::ECHO_REQUEST
        }
}

/// A session's IPv4 flow from its binding and peer (ICMP: the identifier
/// in both ports).
fn v4_flow(proto: Protocol, v4: Transport4, remote: Transport4) -> Flow<Ipv4Addr> {
    Flow {
        proto: match proto {
            Protocol::Tcp => Proto::Tcp,
            Protocol::Udp => Proto::Udp,
            Protocol::Icmp => Proto::Icmp,
        },
        src: v4.addr,
        dst: remote.addr,
        src_port: v4.port,
        dst_port: if proto == Protocol::Icmp {
            v4.port
        } else {
            remote.port
        },
    }
}

/// The translator's view of a state-layer drop. Inbound UDP to a pool4
/// port with no binding gets Port Unreachable (code 3, as a host without
/// the port would answer); a refusal by address-dependent filtering gets
/// Communication Administratively Prohibited (code 13, RFC 6146 §3.5.1);
/// everything else is silent.
fn unmapped(r: DropReason, proto: Protocol, inbound: bool) -> Unmapped {
    let reason = match r {
        DropReason::LoopGuard => Reason::HairpinLoop,
        DropReason::Filtered | DropReason::ExternallyInitiated => Reason::Filtered,
        DropReason::PoolExhausted => Reason::PoolExhausted,
        DropReason::CustomerPortLimit
        | DropReason::CustomerSessionLimit
        | DropReason::SessionLimit
        | DropReason::BibLimit
        | DropReason::SynStoreFull => Reason::Limit,
        _ => Reason::Unmapped,
    };
    match r {
        DropReason::NoBib if inbound && proto == Protocol::Udp => {
            Unmapped::unreachable(reason, icmp::v4::CODE_PORT_UNREACHABLE)
        }
        DropReason::Filtered if inbound => {
            Unmapped::unreachable(reason, icmp::v4::CODE_ADMIN_PROHIBITED)
        }
        _ => Unmapped::silent(reason),
    }
}
