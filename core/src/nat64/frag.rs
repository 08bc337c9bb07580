//! Fragment reassembly for the stateful translator (RFC 6146 §3.4: a
//! NAT64 needs the transport header of every packet to find its session,
//! and only the first fragment has it; RFC 791 §3.2 and RFC 8200 §4.5 for
//! the reassembly itself).
//!
//! [`Reassembly`] collects fragments by (source, destination, protocol,
//! identification) and gives back the whole datagram once every byte has
//! come: an IPv4 packet with MF and the offset cleared, or an IPv6 packet
//! that keeps an *atomic* Fragment Header (offset 0, M clear, the same
//! identification), so [`xlat`](super::xlat) still knows the sender let
//! it be fragmented (RFC 7915 §5.1.1: DF clear, the identification kept).
//!
//! ```
//! use sixgate::nat64::frag::{Limits, Reassembly};
//! use sixgate::time::Instant;
//!
//! let mut r = Reassembly::new(Limits::default(), 1);
//! // Not a fragment: nothing to do.
//! let whole = [0x45, 0, 0, 20, 0, 1, 0x40, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7];
//! assert!(r.add_v4(Instant::from_secs(0), &whole).is_none());
//! assert_eq!(r.poll_timeout(), None);
//! ```
//!
//! # Bounds and rules
//!
//! At most [`Limits::max_datagrams`] datagrams and [`Limits::max_bytes`]
//! bytes are held at once; a fragment past either is dropped, as is a
//! datagram not complete within [`Limits::timeout_secs`] (RFC 8200 §4.5:
//! 60 seconds). Overlapping fragments drop the whole datagram (RFC 5722),
//! as do fragments that disagree on the end or run past 65535 bytes.
//! Work per fragment is linear in its length plus the number of pieces
//! already held for its datagram (at most [`MAX_PIECES`]).

use std::collections::{BTreeSet, HashMap};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::xlat::wire::{Ipv4Packet, Ipv6Packet, Strictness, FRAGMENT_HEADER, IPV6_HEADER};
use super::xlat::Reason;
use super::Keyed;
use crate::time::Instant;

/// The most fragments one datagram may arrive in.
pub const MAX_PIECES: usize = 64;

/// How much reassembly may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Datagrams in progress at once (default 1024).
    pub max_datagrams: usize,
    /// Bytes held at once, over all datagrams (default 4 MiB).
    pub max_bytes: usize,
    /// Seconds a datagram may take to complete (default 60, RFC 8200 §4.5).
    pub timeout_secs: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_datagrams: 1024,
            max_bytes: 4 << 20,
            timeout_secs: 60,
        }
    }
}

/// What names a datagram (RFC 791 §3.2, RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Key {
    V4 {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        proto: u8,
        ident: u16,
    },
    V6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        ident: u32,
    },
}

/// A datagram in progress.
#[derive(Clone, Debug)]
struct Partial {
    /// The header to put in front: the first fragment's, once it came.
    header: Option<Vec<u8>>,
    /// The fragmentable part's Next Header (IPv6).
    next: u8,
    /// Pieces received: (offset, bytes).
    pieces: Vec<(usize, Vec<u8>)>,
    /// The length of the whole fragmentable part, once the last fragment
    /// came.
    total: Option<usize>,
    /// Bytes held.
    held: usize,
    expires: Instant,
}

/// Datagrams being reassembled.
#[derive(Clone, Debug)]
pub struct Reassembly {
    limits: Limits,
    partial: HashMap<Key, Partial, Keyed>,
    expiry: BTreeSet<(Instant, Key)>,
    held: usize,
    dropped: u64,
}

impl Reassembly {
    /// Nothing held yet; `seed` keys the table's hash (the keys are chosen
    /// by senders).
    pub fn new(limits: Limits, seed: u64) -> Self {
        Self {
            limits,
            partial: HashMap::with_hasher(Keyed::new(seed)),
            expiry: BTreeSet::new(),
            held: 0,
            dropped: 0,
        }
    }

    /// Datagrams in progress.
    pub fn in_progress(&self) -> usize {
        self.partial.len()
    }

    /// Datagrams given up (limits, overlaps, timeouts).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.expiry.first().map(|&(t, _)| t)
    }

    /// Gives up the datagrams not complete by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(t, key)) = self.expiry.first() {
            if t > now {
                break;
            }
            self.discard(key);
        }
    }

    /// An IPv4 packet: `None` if it is not a fragment (translate it as it
    /// is); else `Some(Ok(whole))` when it completes its datagram,
    /// `Some(Err(Reason::Reassembling))` when it is kept for later, or
    /// `Some(Err(reason))` when it (and its datagram) was dropped.
    pub fn add_v4(&mut self, now: Instant, packet: &[u8]) -> Option<Result<Vec<u8>, Reason>> {
        let ip = Ipv4Packet::parse(packet, Strictness::Packet).ok()?;
        if !ip.is_fragment() {
            return None;
        }
        let key = Key::V4 {
            src: ip.src(),
            dst: ip.dst(),
            proto: ip.protocol(),
            ident: ip.ident(),
        };
        let offset = usize::from(ip.frag_offset()) * 8; // at most 65528
        let header = (offset == 0).then(|| packet.get(..ip.header_len()).unwrap_or_default());
        Some(self.add(now, key, header, 0, offset, ip.mf(), ip.payload))
    }

    /// An IPv6 packet: as [`add_v4`](Self::add_v4), for packets with a
    /// Fragment Header that is not atomic.
    pub fn add_v6(&mut self, now: Instant, packet: &[u8]) -> Option<Result<Vec<u8>, Reason>> {
        let ip = Ipv6Packet::parse(packet, Strictness::Packet).ok()?;
        let f = ip.fragment?;
        if f.offset == 0 && !f.more {
            return None; // atomic: nothing to wait for
        }
        let key = Key::V6 {
            src: ip.src(),
            dst: ip.dst(),
            ident: f.ident,
        };
        let offset = usize::from(f.offset) * 8;
        // The unfragmentable part: the IPv6 header and the extension
        // headers before the Fragment Header.
        let unfragmentable = IPV6_HEADER
            .saturating_add(ip.ext_len)
            .saturating_sub(FRAGMENT_HEADER);
        let header = (offset == 0).then(|| packet.get(..unfragmentable).unwrap_or_default());
        Some(self.add(now, key, header, ip.protocol, offset, f.more, ip.payload))
    }

    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        now: Instant,
        key: Key,
        header: Option<&[u8]>,
        next: u8,
        offset: usize,
        more: bool,
        data: &[u8],
    ) -> Result<Vec<u8>, Reason> {
        let end = offset.saturating_add(data.len());
        let header_len = header.map_or(0, <[u8]>::len);
        if end > 65535 || (more && !data.len().is_multiple_of(8)) || data.is_empty() {
            self.discard(key);
            return Err(Reason::Fragment);
        }
        let cost = data.len().saturating_add(header_len);
        if !self.partial.contains_key(&key) {
            if self.partial.len() >= self.limits.max_datagrams {
                self.dropped = self.dropped.saturating_add(1);
                return Err(Reason::Limit);
            }
            let expires =
                now.saturating_add(Duration::from_secs(u64::from(self.limits.timeout_secs)));
            self.partial.insert(
                key,
                Partial {
                    header: None,
                    next,
                    pieces: Vec::new(),
                    total: None,
                    held: 0,
                    expires,
                },
            );
            self.expiry.insert((expires, key));
        }
        if self.held.saturating_add(cost) > self.limits.max_bytes {
            self.discard(key);
            return Err(Reason::Limit);
        }
        let Some(p) = self.partial.get_mut(&key) else {
            return Err(Reason::Fragment);
        };
        // RFC 5722: an overlap, or a second end that disagrees, drops all.
        let overlaps = p
            .pieces
            .iter()
            .any(|(o, d)| offset < o.saturating_add(d.len()) && *o < end);
        let bad_end = match (p.total, more) {
            (Some(t), false) => t != end,
            (Some(t), true) => end > t,
            (None, false) => p
                .pieces
                .iter()
                .any(|(o, d)| o.saturating_add(d.len()) > end),
            (None, true) => false,
        };
        if overlaps
            || bad_end
            || p.pieces.len() >= MAX_PIECES
            || (header.is_some() && p.header.is_some())
        {
            self.discard(key);
            return Err(Reason::Fragment);
        }
        if let Some(h) = header {
            p.header = Some(h.to_vec());
            p.next = next;
        }
        if !more {
            p.total = Some(end);
        }
        p.pieces.push((offset, data.to_vec()));
        p.held = p.held.saturating_add(cost);
        self.held = self.held.saturating_add(cost);
        let received: usize = p.pieces.iter().map(|(_, d)| d.len()).sum();
        let complete = p.header.is_some() && p.total == Some(received);
        if !complete {
            return Err(Reason::Reassembling);
        }
        let Some(p) = self.remove(key) else {
            return Err(Reason::Fragment);
        };
        build(key, p)
    }

    fn remove(&mut self, key: Key) -> Option<Partial> {
        let p = self.partial.remove(&key)?;
        self.expiry.remove(&(p.expires, key));
        self.held = self.held.saturating_sub(p.held);
        Some(p)
    }

    fn discard(&mut self, key: Key) {
        if self.remove(key).is_some() {
            self.dropped = self.dropped.saturating_add(1);
        }
    }
}

/// The whole datagram: the first fragment's header, then the pieces in
/// order (they tile 0..total, checked above).
fn build(key: Key, mut p: Partial) -> Result<Vec<u8>, Reason> {
    let header = p.header.take().ok_or(Reason::Fragment)?;
    let total = p.total.ok_or(Reason::Fragment)?;
    p.pieces.sort_unstable_by_key(|(o, _)| *o);
    let mut out = header;
    let at = out.len();
    match key {
        Key::V4 { .. } => {
            // Total Length, flags and offset; then the header checksum.
            let len = u16::try_from(at.saturating_add(total)).map_err(|_| Reason::Fragment)?;
            put(&mut out, 2, &len.to_be_bytes());
            put(&mut out, 6, &[0, 0]);
            put(&mut out, 10, &[0, 0]);
            let c = super::xlat::wire::finish(super::xlat::wire::sum(&out));
            put(&mut out, 10, &c.to_be_bytes());
        }
        Key::V6 { ident, .. } => {
            // An atomic Fragment Header after the unfragmentable part: the
            // last header before it now points at it.
            let len = u16::try_from(
                at.saturating_sub(IPV6_HEADER)
                    .saturating_add(FRAGMENT_HEADER)
                    .saturating_add(total),
            )
            .map_err(|_| Reason::Fragment)?;
            put(&mut out, 4, &len.to_be_bytes());
            let mut frag = [0u8; FRAGMENT_HEADER];
            frag[0] = p.next;
            frag[4..8].copy_from_slice(&ident.to_be_bytes());
            out.extend_from_slice(&frag);
        }
    }
    for (_, d) in p.pieces {
        out.extend_from_slice(&d);
    }
    Ok(out)
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at.saturating_add(bytes.len())) {
        dst.copy_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4_frag(offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&((20 + data.len()) as u16).to_be_bytes());
        h.extend_from_slice(&0x4242u16.to_be_bytes());
        h.extend_from_slice(&((u16::from(more) << 13) | offset).to_be_bytes());
        h.extend_from_slice(&[64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 7]);
        let c = super::super::xlat::wire::finish(super::super::xlat::wire::sum(&h));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(data);
        h
    }

    fn v6_frag(offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
        p.extend_from_slice(&[44, 64]);
        p.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&"64:ff9b::c633:6407".parse::<Ipv6Addr>().unwrap().octets());
        p.extend_from_slice(&[17, 0]);
        p.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
        p.extend_from_slice(&0xdead_beefu32.to_be_bytes());
        p.extend_from_slice(data);
        p
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 13) as u8).collect()
    }

    #[test]
    fn ipv4_in_any_order() {
        let d = data(40);
        let t = Instant::from_secs(0);
        let mut r = Reassembly::new(Limits::default(), 1);
        assert_eq!(
            r.add_v4(t, &v4_frag(4, false, &d[32..])),
            Some(Err(Reason::Reassembling))
        );
        assert_eq!(
            r.add_v4(t, &v4_frag(2, true, &d[16..32])),
            Some(Err(Reason::Reassembling))
        );
        assert_eq!(r.poll_timeout(), Some(Instant::from_secs(60)));
        let Some(Ok(whole)) = r.add_v4(t, &v4_frag(0, true, &d[..16])) else {
            panic!()
        };
        let ip = Ipv4Packet::parse(&whole, Strictness::Packet).unwrap();
        assert!(!ip.is_fragment());
        assert_eq!(
            (ip.total_len(), ip.ident(), ip.payload),
            (60, 0x4242, &d[..])
        );
        assert_eq!((r.in_progress(), r.poll_timeout()), (0, None));
    }

    #[test]
    fn ipv6_keeps_an_atomic_fragment_header() {
        let d = data(24);
        let t = Instant::from_secs(0);
        let mut r = Reassembly::new(Limits::default(), 1);
        assert_eq!(
            r.add_v6(t, &v6_frag(0, true, &d[..16])),
            Some(Err(Reason::Reassembling))
        );
        let Some(Ok(whole)) = r.add_v6(t, &v6_frag(2, false, &d[16..])) else {
            panic!()
        };
        let ip = Ipv6Packet::parse(&whole, Strictness::Packet).unwrap();
        let f = ip.fragment.unwrap();
        assert_eq!((f.offset, f.more, f.ident), (0, false, 0xdead_beef));
        assert_eq!((ip.protocol, ip.payload), (17, &d[..]));
        // An atomic fragment is passed through.
        assert_eq!(r.add_v6(t, &whole), None);
    }

    #[test]
    fn overlaps_limits_and_timeouts_drop() {
        let d = data(40);
        let t = Instant::from_secs(0);
        let mut r = Reassembly::new(Limits::default(), 1);
        r.add_v4(t, &v4_frag(0, true, &d[..16]))
            .unwrap()
            .unwrap_err();
        assert_eq!(
            r.add_v4(t, &v4_frag(1, true, &d[8..24])),
            Some(Err(Reason::Fragment))
        );
        assert_eq!(
            (r.in_progress(), r.dropped()),
            (0, 1),
            "an overlap drops the datagram"
        );
        // A second end that disagrees.
        r.add_v4(t, &v4_frag(2, false, &d[16..24]))
            .unwrap()
            .unwrap_err();
        r.add_v4(t, &v4_frag(3, false, &d[24..32]))
            .unwrap()
            .unwrap_err();
        assert_eq!(r.in_progress(), 0);
        // Not complete in 60 seconds.
        r.add_v4(t, &v4_frag(0, true, &d[..16]))
            .unwrap()
            .unwrap_err();
        r.handle_timeout(Instant::from_secs(59));
        assert_eq!(r.in_progress(), 1);
        r.handle_timeout(Instant::from_secs(60));
        assert_eq!(r.in_progress(), 0);
        // Byte and datagram limits.
        let mut tight = Reassembly::new(
            Limits {
                max_datagrams: 1,
                max_bytes: 100,
                timeout_secs: 60,
            },
            1,
        );
        tight
            .add_v4(t, &v4_frag(0, true, &d[..16]))
            .unwrap()
            .unwrap_err();
        let mut other = v4_frag(0, true, &d[..16]);
        other[5] ^= 1; // another identification
        other[10..12].copy_from_slice(&[0, 0]);
        let c = super::super::xlat::wire::finish(super::super::xlat::wire::sum(&other[..20]));
        other[10..12].copy_from_slice(&c.to_be_bytes());
        assert_eq!(tight.add_v4(t, &other), Some(Err(Reason::Limit)));
        let big = data(200);
        assert_eq!(
            tight.add_v4(t, &v4_frag(2, true, &big[..96])),
            Some(Err(Reason::Limit))
        );
        // Odd-sized middle fragments are malformed.
        assert_eq!(
            r.add_v4(t, &v4_frag(0, true, &d[..15])),
            Some(Err(Reason::Fragment))
        );
    }
}
