//! The NAT64 engine: [`xlat`](super::xlat) over [`state`](super::state),
//! with hairpinning (RFC 6146 §3.8). Packets and the time in, packets and
//! events out.

use std::net::Ipv4Addr;

use super::frag::{Limits, Reassembly};
use super::state::{self, Event, Instant, State};
use super::xlat::{self, Outcome, Reason, Translator, MAX_OUTPUT};

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
/// tables, the translator and a scratch buffer for hairpinning.
///
/// ```
/// use sixgate::nat64::{Emit, Nat64};
/// use sixgate::nat64::state::{self, Instant};
/// use sixgate::nat64::xlat;
///
/// let st = state::Config::builder().pool("203.0.113.1/32".parse()?).build()?;
/// let mut nat = Nat64::new(xlat::Config::default(), st, 1);
/// let mut out = vec![0u8; xlat::MAX_OUTPUT];
/// // Not an IPv6 packet.
/// let e = nat.handle_v6(Instant::from_secs(0), &[0x45; 20], &mut out);
/// assert_eq!(e, Emit::Drop(xlat::Reason::Ipv6Header));
/// assert_eq!(nat.poll_timeout(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Nat64 {
    xlat: Translator,
    state: State,
    frag: Reassembly,
    seed: u64,
    scratch: Box<[u8]>,
}

impl Nat64 {
    /// An engine with empty tables; `seed` drives every random choice
    /// (ports, IPv4 identifications), so runs replay exactly. The ICMP
    /// errors the translator sends itself come from
    /// [`xlat::ConfigBuilder::icmp_source_v4`] and `icmp_source_v6`: give a
    /// pool address (and an IPv6 address of the translator) so that they
    /// are routable; the defaults are RFC 7600's dummy 192.0.0.8.
    pub fn new(xlat: xlat::Config, state: state::Config, seed: u64) -> Self {
        Self {
            xlat: Translator::new(xlat, seed),
            state: State::new(state, seed.rotate_left(32)),
            frag: Reassembly::new(Limits::default(), seed.rotate_left(16)),
            seed,
            scratch: vec![0u8; MAX_OUTPUT].into_boxed_slice(),
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
    pub fn state(&self) -> &State {
        &self.state
    }

    /// An IPv6 packet arrived at `now`: what to send, written into `out`
    /// ([`MAX_OUTPUT`] bytes always suffice). Fragments are held until
    /// their datagram is whole (RFC 6146 §3.4: the session needs the
    /// transport header), then translated as one. A packet to a pool
    /// address is hairpinned (RFC 6146 §3.8): translated to IPv4 and back
    /// to IPv6.
    pub fn handle_v6(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Emit {
        let whole;
        // A Fragment Header is usually right after the IPv6 header; any
        // other chain is walked by the reassembler.
        let next = packet.get(6).copied();
        let packet = if matches!(next, Some(44 | 0 | 43 | 60)) {
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
        let outcome = self
            .xlat
            .translate_6to4(&mut self.state.mapping(now), packet, out);
        match outcome {
            Outcome::Translated { len } => {
                let dst = out
                    .get(16..20)
                    .and_then(|b| <[u8; 4]>::try_from(b).ok())
                    .map(Ipv4Addr::from);
                if !dst.is_some_and(|d| self.state.config().pool_contains(d)) {
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
                let back = self.xlat.translate_4to6(
                    &mut self.state.mapping(now),
                    self.scratch.get(..len).unwrap_or_default(),
                    out,
                );
                match back {
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
                    // An ICMPv4 error about a hairpinned packet would go to
                    // the pool itself: nobody to send it to.
                    Outcome::Reply { reason, .. } | Outcome::Drop(reason) => Emit::Drop(reason),
                }
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
    /// Fragments are held until their datagram is whole, as for IPv6.
    pub fn handle_v4(&mut self, now: Instant, packet: &[u8], out: &mut [u8]) -> Emit {
        let whole;
        let flags = xlat::wire::be16(packet, 6).unwrap_or(0);
        let packet = if flags & 0x3fff != 0 {
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
        match self
            .xlat
            .translate_4to6(&mut self.state.mapping(now), packet, out)
        {
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
            Outcome::Reply { len, reason } => Emit::V4 {
                len,
                chunk: len,
                reply: Some(reason),
            },
            Outcome::Drop(reason) => Emit::Drop(reason),
        }
    }

    /// Ends the sessions whose lifetime ended by `now`, and gives up the
    /// datagrams not reassembled by then.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.state.handle_timeout(now);
        self.frag.handle_timeout(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.state.poll_timeout(), self.frag.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The next log event (RFC 6888 §4).
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.state.poll_event()
    }
}
