//! The NAT64 engine: [`xlat`](super::xlat) over [`state`](super::state)
//! (through [`StateMapping`]), with fragment reassembly in front and
//! hairpinning (RFC 6146 §3.8). Packets and the time in, packets and
//! events out.

use std::collections::VecDeque;
use std::net::Ipv4Addr;

use super::frag::{Limits, Reassembly};
use super::mapping::StateMapping;
use super::state::{self, Event, Nat64State, StoredSyn, Transport6};
use super::xlat::wire::{finish, proto, pseudo6, sum, Ipv6Repr, IPV6_HEADER};
use super::xlat::{self, icmp, Offload, Outcome, Reason, Translator, MAX_OUTPUT};
use crate::time::Instant;

/// The most packets the engine keeps for [`Nat64::poll_transmit`] (probes,
/// Port Unreachables for expired SYNs, SYNs of simultaneous opens); more
/// are counted in [`Nat64::transmits_lost`] and dropped. As many as the
/// state layer's default event queue, so one timer run that probes that
/// many established sessions loses none: at most about 6.5 MB of 60-byte
/// probes (stored SYNs, at most 576 bytes each, are bounded by
/// `max_stored_syns`).
pub const MAX_PENDING: usize = 65_536;

/// Where the bytes [`Nat64`] wrote go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Emit {
    /// To the IPv4 side: `out[..len]`, cut every `chunk` bytes (one packet
    /// when `chunk == len`); `reply` names the reason when it is an ICMPv4
    /// error the translator sends back.
    V4 {
        /// The length of all of it.
        len: usize,
        /// The length of each packet but the last.
        chunk: usize,
        /// Why, when this is an ICMP error sent back.
        reply: Option<Reason>,
    },
    /// To the IPv6 side: a translated or hairpinned packet, its fragments
    /// (RFC 7915 §4.1), or an ICMPv6 error sent back.
    V6 {
        /// The length of all of it.
        len: usize,
        /// The length of each packet but the last.
        chunk: usize,
        /// Why, when this is an ICMP error sent back.
        reply: Option<Reason>,
    },
    /// Nothing to send: dropped, or (for [`Reason::Reassembling`]) a
    /// fragment held until its datagram is whole.
    Drop(Reason),
}

impl Emit {
    /// The packets to send, in order.
    pub fn packets<'a>(&self, out: &'a [u8]) -> std::slice::Chunks<'a, u8> {
        let (len, chunk) = match *self {
            Self::V4 { len, chunk, .. } | Self::V6 { len, chunk, .. } => (len, chunk),
            Self::Drop(_) => (0, 1),
        };
        out.get(..len).unwrap_or_default().chunks(chunk.max(1))
    }
}

/// A stateful NAT64 (RFC 6146 with RFC 7915): fragment reassembly, the
/// tables, the translator, a scratch buffer for hairpinning, and the
/// packets timers make.
///
/// ```
/// use sixgate::nat64::state::{self, Pool4Range, Protocol, Settings};
/// use sixgate::nat64::{xlat, Emit, Nat64};
/// use sixgate::time::Instant;
/// use sixgate::Nat64Prefix;
///
/// let pool = vec![Pool4Range { proto: Protocol::Udp, net: "203.0.113.1/32".parse()?, ports: 1024..=65535 }];
/// let st = state::Config::new(Settings::new(Nat64Prefix::WELL_KNOWN, pool))?;
/// let mut nat = Nat64::new(xlat::Config::default(), st, 1);
/// let mut out = vec![0u8; xlat::MAX_OUTPUT];
/// // Not an IPv6 packet.
/// let e = nat.handle_v6(Instant::from_secs(0), &[0x45; 20], &mut out);
/// assert_eq!(e, Emit::Drop(xlat::Reason::Ipv6Header));
/// assert_eq!(nat.poll_timeout(), None);
/// assert_eq!(nat.poll_transmit(&mut out), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Nat64 {
    xlat: Translator,
    state: Nat64State,
    frag: Reassembly,
    seed: u64,
    scratch: Box<[u8]>,
    /// The state layer's events, moved here as they come so that the
    /// engine acts on the ones that ask for a packet.
    events: VecDeque<Event>,
    events_lost: u64,
    pending: VecDeque<Pending>,
    transmits_lost: u64,
}

/// A packet made by the engine itself, waiting for
/// [`Nat64::poll_transmit`].
#[derive(Debug)]
struct Pending {
    v6: bool,
    bytes: Box<[u8]>,
    chunk: usize,
    reply: Option<Reason>,
}

impl Nat64 {
    /// An engine with empty tables (and `state`'s static BIB entries);
    /// `seed` drives every random choice (ports, IPv4 identifications), so
    /// runs replay exactly. Both configurations were checked when built
    /// ([`xlat::ConfigBuilder::build`], [`state::Config::new`]). The ICMP
    /// errors the translator sends itself come from
    /// [`xlat::ConfigBuilder::icmp_source_v4`] and `icmp_source_v6`: give a
    /// pool address (and an IPv6 address of the translator) so that they
    /// are routable; the defaults are RFC 7600's dummy 192.0.0.8. The Port
    /// Unreachable for an expired stored SYN comes from the pool4 address
    /// the SYN was sent to.
    pub fn new(xlat: xlat::Config, state: state::Config, seed: u64) -> Self {
        Self {
            xlat: Translator::new(xlat, seed),
            state: Nat64State::new(state, seed.rotate_left(32)),
            frag: Reassembly::new(Limits::default(), seed.rotate_left(16)),
            seed,
            scratch: vec![0u8; MAX_OUTPUT].into_boxed_slice(),
            events: VecDeque::new(),
            events_lost: 0,
            pending: VecDeque::new(),
            transmits_lost: 0,
        }
    }

    /// The reassembly limits (default [`Limits::default`]); datagrams in
    /// progress are given up.
    pub fn set_reassembly_limits(&mut self, limits: Limits) {
        self.frag = Reassembly::new(limits, self.seed.rotate_left(16));
    }

    /// The reassembly buffers.
    pub fn reassembly(&self) -> &Reassembly {
        &self.frag
    }

    /// The tables.
    pub fn state(&self) -> &Nat64State {
        &self.state
    }

    /// An IPv6 packet arrived at `now`: what to send, written into `out`
    /// ([`MAX_OUTPUT`] bytes always suffice). Fragments are held until
    /// their datagram is whole (RFC 6146 §3.4: the session needs the
    /// transport header), then translated as one. A packet to a pool
    /// address is hairpinned (RFC 6146 §3.8): translated to IPv4 and back
    /// to IPv6. An IPv6 SYN that completes a simultaneous open also
    /// queues the stored IPv4 SYN, translated, for
    /// [`poll_transmit`](Self::poll_transmit).
    pub fn handle_v6(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Emit {
        self.handle_v6_offload(now, packet, Offload::NONE, out)
    }

    /// [`handle_v6`](Self::handle_v6) for a packet read with `offload`s
    /// (a partial checksum, a TCP super-packet; see [`Offload`]), which the
    /// output keeps: a super-packet stays one. When they cannot be kept
    /// (the packet is not plain TCP or UDP, or would need fragmenting or an
    /// ICMP error) the answer is [`Emit::Drop`] with [`Reason::Offload`]
    /// and nothing has changed: complete the checksum, cut the segments and
    /// hand each to [`handle_v6`](Self::handle_v6).
    pub fn handle_v6_offload(
        &mut self,
        now: Instant,
        packet: &[u8],
        offload: Offload,
        out: &mut [u8],
    ) -> Emit {
        let emit = self.v6(now, packet, offload, out);
        self.absorb(now);
        emit
    }

    fn v6(&mut self, now: Instant, packet: &[u8], offload: Offload, out: &mut [u8]) -> Emit {
        let whole;
        // A Fragment Header is usually right after the IPv6 header; any
        // other chain is walked by the reassembler.
        let next = packet.get(6).copied();
        let packet = if matches!(next, Some(44 | 0 | 43 | 60)) {
            if offload.is_some() {
                return Emit::Drop(Reason::Offload);
            }
            match self.frag.add_v6(now, packet) {
                None => packet,
                Some(Ok(w)) => {
                    whole = w;
                    &whole[..]
                }
                Some(Err(r)) => return Emit::Drop(r),
            }
        } else {
            packet
        };
        let mut map = StateMapping::new(&mut self.state, now);
        let outcome = self
            .xlat
            .translate_6to4_offload(&mut map, packet, offload, out);
        let hairpin = map.hairpin();
        match outcome {
            Outcome::Translated { len } => {
                let dst = out
                    .get(16..20)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(Ipv4Addr::from);
                // Sharded, a hairpin the state did not finish belongs to
                // another shard: the IPv4 packet goes out for its
                // `handle_hairpin_v4`.
                let elsewhere = hairpin.is_none() && self.state.config().shards() > 1;
                if elsewhere || !dst.is_some_and(|d| self.state.config().is_pool4(d)) {
                    return Emit::V4 {
                        len,
                        chunk: len,
                        reply: None,
                    };
                }
                let Some(copy) = self.scratch.get_mut(..len) else {
                    return Emit::Drop(Reason::BufferTooSmall);
                };
                copy.copy_from_slice(out.get(..len).unwrap_or_default());
                let back = self.xlat.translate_4to6_offload(
                    &mut StateMapping::new(&mut self.state, now).with_hairpin(hairpin),
                    self.scratch.get(..len).unwrap_or_default(),
                    offload,
                    out,
                );
                toward_v6(back)
            }
            Outcome::Fragmented { len, chunk } => Emit::V4 {
                len,
                chunk,
                reply: None,
            },
            Outcome::Reply { len, reason } => Emit::V6 {
                len,
                chunk: len,
                reply: Some(reason),
            },
            Outcome::Drop(reason) => Emit::Drop(reason),
        }
    }

    /// An IPv4 packet arrived at `now`: what to send, written into `out`.
    /// Fragments are held until their datagram is whole, as for IPv6. An
    /// unsolicited SYN may be stored for a simultaneous open
    /// ([`Emit::Drop`] with [`Reason::SynStored`]): if no IPv6 SYN comes
    /// within six seconds, [`handle_timeout`](Self::handle_timeout) queues
    /// an ICMPv4 Port Unreachable to its source.
    pub fn handle_v4(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Emit {
        self.handle_v4_offload(now, packet, Offload::NONE, out)
    }

    /// [`handle_v4`](Self::handle_v4) with `offload`s, as
    /// [`handle_v6_offload`](Self::handle_v6_offload).
    pub fn handle_v4_offload(
        &mut self,
        now: Instant,
        packet: &[u8],
        offload: Offload,
        out: &mut [u8],
    ) -> Emit {
        let emit = self.v4(now, packet, offload, false, out);
        self.absorb(now);
        emit
    }

    /// An IPv4 packet from the IPv4 side, or (`from_shard`) the IPv4 half
    /// of a hairpin another shard began: reassembled, then translated.
    fn v4(
        &mut self,
        now: Instant,
        packet: &[u8],
        offload: Offload,
        from_shard: bool,
        out: &mut [u8],
    ) -> Emit {
        let whole;
        let flags = xlat::wire::be16(packet, 6).unwrap_or(0);
        let packet = if flags & 0x3fff != 0 {
            if offload.is_some() {
                return Emit::Drop(Reason::Offload);
            }
            match self.frag.add_v4(now, packet) {
                None => packet,
                Some(Ok(w)) => {
                    whole = w;
                    &whole[..]
                }
                Some(Err(r)) => return Emit::Drop(r),
            }
        } else {
            packet
        };
        let map = StateMapping::new(&mut self.state, now);
        let mut map = if from_shard {
            map.with_hairpin_from_shard()
        } else {
            map.with_packet(packet)
        };
        match self
            .xlat
            .translate_4to6_offload(&mut map, packet, offload, out)
        {
            Outcome::Reply { len, reason } if !from_shard => Emit::V4 {
                len,
                chunk: len,
                reply: Some(reason),
            },
            o => toward_v6(o),
        }
    }

    /// The second half of a hairpinned packet (RFC 6146 §3.8) that another
    /// shard's engine began: with the state split into shards
    /// ([`state::Settings::shards`]), an IPv6 packet to a pool4 transport
    /// address this engine's shard does not own comes out of
    /// [`handle_v6`](Self::handle_v6) as an [`Emit::V4`] to that pool4
    /// address; the gateway gives it to the owning shard
    /// ([`state::Config::shard_of_v4`] of its destination), whose engine
    /// translates it here back to IPv6 as its own hairpin would. Fragments
    /// are reassembled first. An ICMP error about it would go to the pool
    /// itself, so it is dropped instead, as within one engine.
    pub fn handle_hairpin_v4(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Emit {
        let emit = self.v4(now, packet, Offload::NONE, true, out);
        self.absorb(now);
        emit
    }

    /// Runs the timers due at `now`: ends sessions (an ESTABLISHED TCP
    /// session first gets a probe, RFC 6146 §3.5.2.2), answers stored SYNs
    /// that saw no IPv6 SYN with Port Unreachable, and gives up the
    /// datagrams not reassembled by then. The packets this makes come out
    /// of [`poll_transmit`](Self::poll_transmit).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.state.handle_timeout(now);
        self.frag.handle_timeout(now);
        self.absorb(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.state.poll_timeout(), self.frag.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next packet the engine made itself, written into `out` like a
    /// translated one: a TCP probe ([`Emit::V6`]), the translated stored
    /// SYN of a simultaneous open ([`Emit::V6`]), or the Port Unreachable
    /// for an expired one ([`Emit::V4`] with [`Reason::SynExpired`]).
    /// `None` when there is nothing to send; call it after every
    /// `handle_*` until then.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Emit> {
        let p = self.pending.pop_front()?;
        let len = p.bytes.len();
        let Some(dst) = out.get_mut(..len) else {
            return Some(Emit::Drop(Reason::BufferTooSmall));
        };
        dst.copy_from_slice(&p.bytes);
        let chunk = p.chunk;
        Some(if p.v6 {
            Emit::V6 {
                len,
                chunk,
                reply: p.reply,
            }
        } else {
            Emit::V4 {
                len,
                chunk,
                reply: p.reply,
            }
        })
    }

    /// The next log event (RFC 6888 §4), oldest first: the state layer's
    /// [`Event`]s, including the ones the engine acted on.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Events lost because the queue held `max_events` (the state layer
    /// counts its own in [`state::Stats::events_lost`]).
    pub fn events_lost(&self) -> u64 {
        self.events_lost
    }

    /// Packets of the engine's own lost: the queue held [`MAX_PENDING`],
    /// or a stored SYN could not be translated (cut by
    /// `max_stored_syn_bytes`, or refused by the translator).
    pub fn transmits_lost(&self) -> u64 {
        self.transmits_lost
    }

    /// Moves the state layer's events to the engine's queue, making the
    /// packets the action events ask for. Each event is handled once;
    /// translating a stored SYN makes at most a few more.
    fn absorb(&mut self, now: Instant) {
        while let Some(e) = self.state.poll_event() {
            match &e {
                Event::SynExpired(syn) => self.syn_expired(syn),
                Event::SimultaneousOpen(syn) => self.simultaneous_open(now, syn),
                Event::TcpProbe { v6, peer, .. } => self.probe(*v6, *peer),
                _ => {}
            }
            let max = usize::try_from(self.state.config().max_events).unwrap_or(usize::MAX);
            if self.events.len() >= max {
                self.events_lost = self.events_lost.saturating_add(1);
            } else {
                self.events.push_back(e);
            }
        }
    }

    fn queue(&mut self, v6: bool, len: usize, chunk: usize, reply: Option<Reason>) {
        let bytes = self.scratch.get(..len).unwrap_or_default();
        if self.pending.len() >= MAX_PENDING || bytes.is_empty() {
            self.transmits_lost = self.transmits_lost.saturating_add(1);
            return;
        }
        self.pending.push_back(Pending {
            v6,
            bytes: bytes.into(),
            chunk,
            reply,
        });
    }

    /// RFC 6146 §3.5.2.2 (RFC 5382 REQ-4): no IPv6 SYN came for a stored
    /// IPv4 SYN: ICMPv4 Port Unreachable, quoting it, back to its source,
    /// from the pool4 address it was sent to.
    fn syn_expired(&mut self, syn: &StoredSyn) {
        if self.pending.len() >= MAX_PENDING {
            self.transmits_lost = self.transmits_lost.saturating_add(1);
            return;
        }
        let o = self.xlat.unreachable_v4(
            &syn.packet,
            icmp::v4::CODE_PORT_UNREACHABLE,
            (syn.dst.addr, syn.src.addr),
            Reason::SynExpired,
            &mut self.scratch,
        );
        match o {
            Outcome::Reply { len, reason } => self.queue(false, len, len, Some(reason)),
            _ => self.transmits_lost = self.transmits_lost.saturating_add(1),
        }
    }

    /// RFC 6146 §3.5.2.2: the IPv6 host's SYN met a stored IPv4 SYN: the
    /// session is in V6 INIT, and the stored SYN, translated now, takes it
    /// to ESTABLISHED and reaches the host (so both sides' SYNs cross, as
    /// a simultaneous open needs).
    fn simultaneous_open(&mut self, now: Instant, syn: &StoredSyn) {
        if self.pending.len() >= MAX_PENDING {
            self.transmits_lost = self.transmits_lost.saturating_add(1);
            return;
        }
        let o = self.xlat.translate_4to6(
            &mut StateMapping::new(&mut self.state, now).with_packet(&syn.packet),
            &syn.packet,
            &mut self.scratch,
        );
        match o {
            Outcome::Translated { len } => self.queue(true, len, len, None),
            Outcome::Fragmented { len, chunk } => self.queue(true, len, chunk, None),
            _ => self.transmits_lost = self.transmits_lost.saturating_add(1),
        }
    }

    /// RFC 6146 §3.5.2.2: an ESTABLISHED session reached its lifetime: a
    /// probe to the IPv6 host from the peer's embedded address, "a TCP
    /// segment for the connection with no data", sequence and
    /// acknowledgment numbers zero, only ACK set. Out of window, it makes
    /// a live host answer with an ACK, which takes the session back to
    /// ESTABLISHED; a host that lost the connection answers RST.
    fn probe(&mut self, v6: Transport6, peer: Transport6) {
        const TCP_HEADER: usize = 20;
        let mut tcp = [0u8; TCP_HEADER];
        tcp[0..2].copy_from_slice(&peer.port.to_be_bytes());
        tcp[2..4].copy_from_slice(&v6.port.to_be_bytes());
        // Sequence and acknowledgment numbers stay zero.
        tcp[12] = 5 << 4; // data offset: five words
        tcp[13] = 0x10; // ACK
        let c = finish(pseudo6(peer.addr, v6.addr, TCP_HEADER, proto::TCP).wrapping_add(sum(&tcp)));
        tcp[16..18].copy_from_slice(&c.to_be_bytes());
        let ip = Ipv6Repr {
            traffic_class: 0,
            payload_len: TCP_HEADER as u16,
            next_header: proto::TCP,
            hop_limit: 64,
            src: peer.addr,
            dst: v6.addr,
        }
        .emit();
        let len = IPV6_HEADER + TCP_HEADER;
        if let Some(buf) = self.scratch.get_mut(..len) {
            let (h, t) = buf.split_at_mut(IPV6_HEADER);
            h.copy_from_slice(&ip);
            t.copy_from_slice(&tcp);
            self.queue(true, len, len, None);
        }
    }
}

/// What a translation toward IPv6 gives: the packet or its fragments, or
/// nothing: an ICMPv4 error here would be about a hairpinned packet, and
/// would go to the pool itself (nobody to send it to); the IPv4 side's own
/// errors are answered before this.
fn toward_v6(o: Outcome) -> Emit {
    match o {
        Outcome::Translated { len } => Emit::V6 {
            len,
            chunk: len,
            reply: None,
        },
        Outcome::Fragmented { len, chunk } => Emit::V6 {
            len,
            chunk,
            reply: None,
        },
        Outcome::Reply { reason, .. } | Outcome::Drop(reason) => Emit::Drop(reason),
    }
}
