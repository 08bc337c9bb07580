//! Zero-copy views of the IPv4 and IPv6 headers the translator reads, the
//! small `Repr`s it writes, and the Internet checksum (after smoltcp
//! `wire/ipv4.rs`, `wire/ipv6.rs` and `wire/ip.rs`).
//!
//! A view is built only by a checked `parse`: once it exists, its fixed
//! header is a `&[u8; N]` (read with constant indices) and its payload a
//! slice bounded by the lengths the header declares, so nothing after
//! parsing can index past the end. Every loop here walks its input forward
//! by at least one byte per step, so the work is linear in the packet.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::Reason;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
pub(crate) mod proto {
    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    pub(crate) const HOPOPT: u8 = 0;
    /// ICMP for IPv4 (RFC 792).
    pub(crate) const ICMP: u8 = 1;
    /// IGMP (RFC 3376).
    pub(crate) const IGMP: u8 = 2;
    /// TCP (RFC 9293).
    pub(crate) const TCP: u8 = 6;
    /// UDP (RFC 768).
    pub(crate) const UDP: u8 = 17;
    /// IPv6 Routing Header (RFC 8200 §4.4).
    pub(crate) const ROUTING: u8 = 43;
    /// IPv6 Fragment Header (RFC 8200 §4.5).
    pub(crate) const FRAGMENT: u8 = 44;
    /// Authentication Header (RFC 4302).
    pub(crate) const AH: u8 = 51;
    /// IPv6 Destination Options (RFC 8200 §4.6).
    pub(crate) const DSTOPTS: u8 = 60;
    /// ICMP for IPv6 (RFC 4443).
    pub(crate) const ICMPV6: u8 = 58;

    /// Whether `p` is an IPv6 extension header other than ESP (IANA "IPv6
    /// Extension Header Types"): what RFC 7915 §5.1.1 forbids right after a
    /// Fragment Header.
    pub(crate) fn is_extension_not_esp(p: u8) -> bool {
        matches!(p, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140 | 253 | 254)
    }
}

/// Length of the IPv4 header without options.
pub(crate) const IPV4_HEADER: usize = 20;
/// Length of the IPv6 header.
pub(crate) const IPV6_HEADER: usize = 40;
/// Length of the IPv6 Fragment Header.
pub(crate) const FRAGMENT_HEADER: usize = 8;

// ---------------------------------------------------------------------------
// Checksums (RFC 1071, RFC 1624)

/// The one's complement sum (RFC 1071) of `bytes` read as big-endian 16-bit
/// words, an odd last byte padded with zero; not yet folded. Adding 32-bit
/// words is the same sum, since 2^16 ≡ 1 modulo 2^16 - 1.
pub(crate) fn sum(bytes: &[u8]) -> u64 {
    let mut acc: u64 = 0;
    let mut words = bytes.chunks_exact(4);
    for w in &mut words {
        if let Ok(w) = <[u8; 4]>::try_from(w) {
            // At most 2^32 per step over at most 2^31 steps: no overflow.
            acc = acc.wrapping_add(u64::from(u32::from_be_bytes(w)));
        }
    }
    match *words.remainder() {
        [a, b, c] => acc
            .wrapping_add(u64::from(u16::from_be_bytes([a, b])))
            .wrapping_add(u64::from(c) << 8),
        [a, b] => acc.wrapping_add(u64::from(u16::from_be_bytes([a, b]))),
        [a] => acc.wrapping_add(u64::from(a) << 8),
        _ => acc,
    }
}

/// Folds a one's complement sum to 16 bits.
pub(crate) fn fold(mut acc: u64) -> u16 {
    // Each step shrinks a value above 0xffff; four steps reach 16 bits
    // from 64.
    while acc > 0xffff {
        acc = (acc & 0xffff).wrapping_add(acc >> 16);
    }
    acc as u16
}

/// The checksum field for data whose sum is `acc`: the complement of the
/// folded sum.
pub(crate) fn finish(acc: u64) -> u16 {
    !fold(acc)
}

/// RFC 1624 eqn. 3: the checksum `hc` after words summing to `old` were
/// replaced by words summing to `new`: HC' = ~(~HC + ~m + m'). A checksum
/// that was wrong stays wrong by the same amount.
pub(crate) fn adjust(hc: u16, old: u64, new: u64) -> u16 {
    let acc = u64::from(!hc)
        .wrapping_add(u64::from(!fold(old)))
        .wrapping_add(u64::from(fold(new)));
    !fold(acc)
}

/// The sum of an IPv4 address's two words.
pub(crate) fn sum4(a: Ipv4Addr) -> u64 {
    sum(&a.octets())
}

/// The sum of an IPv6 address's eight words.
pub(crate) fn sum6(a: Ipv6Addr) -> u64 {
    sum(&a.octets())
}

/// The sum of the IPv6 pseudo-header (RFC 8200 §8.1) for `len` bytes of
/// upper-layer protocol `next`.
pub(crate) fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, len: usize, next: u8) -> u64 {
    let len = len as u64; // usize is at most 64 bits
    sum6(src)
        .wrapping_add(sum6(dst))
        .wrapping_add(len >> 16)
        .wrapping_add(len & 0xffff)
        .wrapping_add(u64::from(next))
}

/// A big-endian u16 at `at` in `buf`, if present.
pub(crate) fn be16(buf: &[u8], at: usize) -> Option<u16> {
    let end = at.checked_add(2)?;
    let b: [u8; 2] = buf.get(at..end)?.try_into().ok()?;
    Some(u16::from_be_bytes(b))
}

/// Writes a big-endian u16 at `at` in `buf`, if it fits (else nothing).
pub(crate) fn put16(buf: &mut [u8], at: usize, v: u16) {
    if let Some(dst) = at.checked_add(2).and_then(|end| buf.get_mut(at..end)) {
        dst.copy_from_slice(&v.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------
// IPv4 (RFC 791 §3.1)

/// How strictly a header is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// A packet to forward: the whole datagram must be present and the
    /// IPv4 header checksum right.
    Packet,
    /// The packet quoted in an ICMP error (RFC 792, RFC 4443 §2.4(c)):
    /// usually truncated, so the payload is whatever is present up to the
    /// declared length, and the header checksum is not checked.
    Quoted,
}

/// A checked view of an IPv4 packet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ipv4Packet<'a> {
    fixed: &'a [u8; IPV4_HEADER],
    /// The options, `IHL * 4 - 20` bytes.
    pub(crate) options: &'a [u8],
    /// The payload present: all of it for [`Strictness::Packet`].
    pub(crate) payload: &'a [u8],
}

impl<'a> Ipv4Packet<'a> {
    /// Checks version, IHL, total length (trailing bytes past it, such as
    /// link padding, are ignored) and, for a packet, the header checksum.
    pub(crate) fn parse(buf: &'a [u8], how: Strictness) -> Result<Self, Reason> {
        let fixed: &[u8; IPV4_HEADER] = buf.first_chunk().ok_or(Reason::Ipv4Header)?;
        if fixed[0] >> 4 != 4 {
            return Err(Reason::Ipv4Header);
        }
        let ihl = usize::from(fixed[0] & 0x0f) * 4; // at most 60
        let total = usize::from(u16::from_be_bytes([fixed[2], fixed[3]]));
        if ihl < IPV4_HEADER || total < ihl {
            return Err(Reason::Ipv4Header);
        }
        let header = buf.get(..ihl).ok_or(Reason::Ipv4Header)?;
        let options = header.get(IPV4_HEADER..).ok_or(Reason::Ipv4Header)?;
        let payload = match how {
            Strictness::Packet => {
                if fold(sum(header)) != 0xffff {
                    return Err(Reason::Ipv4Checksum);
                }
                buf.get(ihl..total).ok_or(Reason::Ipv4Header)?
            }
            Strictness::Quoted => buf.get(ihl..total.min(buf.len())).unwrap_or_default(),
        };
        Ok(Self {
            fixed,
            options,
            payload,
        })
    }

    /// Type of Service.
    pub(crate) fn tos(&self) -> u8 {
        self.fixed[1]
    }
    /// Total Length as declared.
    pub(crate) fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.fixed[2], self.fixed[3]])
    }
    /// Header length in bytes, options included.
    pub(crate) fn header_len(&self) -> usize {
        usize::from(self.fixed[0] & 0x0f) * 4 // at most 60
    }
    /// Identification.
    pub(crate) fn ident(&self) -> u16 {
        u16::from_be_bytes([self.fixed[4], self.fixed[5]])
    }
    /// Don't Fragment.
    pub(crate) fn df(&self) -> bool {
        self.fixed[6] & 0x40 != 0
    }
    /// More Fragments.
    pub(crate) fn mf(&self) -> bool {
        self.fixed[6] & 0x20 != 0
    }
    /// Fragment Offset, in units of 8 bytes.
    pub(crate) fn frag_offset(&self) -> u16 {
        u16::from_be_bytes([self.fixed[6], self.fixed[7]]) & 0x1fff
    }
    /// Whether this is a fragment (MF set or a non-zero offset).
    pub(crate) fn is_fragment(&self) -> bool {
        self.mf() || self.frag_offset() != 0
    }
    /// Time to Live.
    pub(crate) fn ttl(&self) -> u8 {
        self.fixed[8]
    }
    /// Protocol.
    pub(crate) fn protocol(&self) -> u8 {
        self.fixed[9]
    }
    /// Source address.
    pub(crate) fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.fixed[12],
            self.fixed[13],
            self.fixed[14],
            self.fixed[15],
        )
    }
    /// Destination address.
    pub(crate) fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.fixed[16],
            self.fixed[17],
            self.fixed[18],
            self.fixed[19],
        )
    }

    /// RFC 7915 §4.1: whether the options hold a loose or strict source
    /// route (RFC 791 §3.1) that has not expired (pointer not past its
    /// length). A malformed option list is an error.
    pub(crate) fn has_unexpired_source_route(&self) -> Result<bool, Reason> {
        let mut rest = self.options;
        while let Some((&kind, tail)) = rest.split_first() {
            match kind {
                0 => return Ok(false), // End of Option List
                1 => rest = tail,      // No Operation
                _ => {
                    let len = usize::from(*tail.first().ok_or(Reason::Ipv4Options)?);
                    if len < 2 {
                        return Err(Reason::Ipv4Options);
                    }
                    let option = rest.get(..len).ok_or(Reason::Ipv4Options)?;
                    // LSRR (131) and SSRR (137): type, length, pointer, route.
                    if kind == 131 || kind == 137 {
                        let pointer = *option.get(2).ok_or(Reason::Ipv4Options)?;
                        if usize::from(pointer) <= len {
                            return Ok(true);
                        }
                    }
                    rest = rest.get(len..).unwrap_or_default();
                }
            }
        }
        Ok(false)
    }
}

/// The fields of an IPv4 header the translator writes (RFC 791 §3.1): no
/// options, so IHL is always 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4Repr {
    pub(crate) tos: u8,
    pub(crate) total_len: u16,
    pub(crate) ident: u16,
    pub(crate) df: bool,
    pub(crate) mf: bool,
    pub(crate) frag_offset: u16,
    pub(crate) ttl: u8,
    pub(crate) protocol: u8,
    pub(crate) src: Ipv4Addr,
    pub(crate) dst: Ipv4Addr,
}

impl Ipv4Repr {
    /// The header, checksum included.
    pub(crate) fn emit(&self) -> [u8; IPV4_HEADER] {
        let mut h = [0u8; IPV4_HEADER];
        h[0] = 0x45;
        h[1] = self.tos;
        h[2..4].copy_from_slice(&self.total_len.to_be_bytes());
        h[4..6].copy_from_slice(&self.ident.to_be_bytes());
        let flags = (u16::from(self.df) << 14) | (u16::from(self.mf) << 13);
        h[6..8].copy_from_slice(&(flags | (self.frag_offset & 0x1fff)).to_be_bytes());
        h[8] = self.ttl;
        h[9] = self.protocol;
        h[12..16].copy_from_slice(&self.src.octets());
        h[16..20].copy_from_slice(&self.dst.octets());
        let c = finish(sum(&h));
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h
    }
}

// ---------------------------------------------------------------------------
// IPv6 (RFC 8200 §3, §4)

/// What an IPv6 Fragment Header says (RFC 8200 §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Fragment {
    /// Fragment Offset, in units of 8 bytes.
    pub(crate) offset: u16,
    /// The M flag.
    pub(crate) more: bool,
    /// Identification.
    pub(crate) ident: u32,
}

/// A checked view of an IPv6 packet with its extension headers walked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ipv6Packet<'a> {
    fixed: &'a [u8; IPV6_HEADER],
    /// The upper-layer protocol: the first Next Header that is not
    /// Hop-by-Hop, Routing or Destination Options, or the Fragment Header's
    /// Next Header (RFC 7915 §5.1, §5.1.1).
    pub(crate) protocol: u8,
    /// The Fragment Header, if there is one.
    pub(crate) fragment: Option<Fragment>,
    /// RFC 7915 §5.1: the offset from the start of the packet of the
    /// Segments Left field of a Routing Header whose Segments Left is not
    /// zero.
    pub(crate) segments_left_at: Option<u32>,
    /// Bytes of extension headers before `payload`.
    pub(crate) ext_len: usize,
    /// The upper-layer bytes present: all of them for
    /// [`Strictness::Packet`].
    pub(crate) payload: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    /// Checks the version and Payload Length (a jumbogram, Payload Length
    /// 0, is refused) and walks the extension headers.
    pub(crate) fn parse(buf: &'a [u8], how: Strictness) -> Result<Self, Reason> {
        let fixed: &[u8; IPV6_HEADER] = buf.first_chunk().ok_or(Reason::Ipv6Header)?;
        if fixed[0] >> 4 != 6 {
            return Err(Reason::Ipv6Header);
        }
        let declared = usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
        if declared == 0 && fixed[6] == proto::HOPOPT {
            return Err(Reason::Jumbogram);
        }
        let after = buf.get(IPV6_HEADER..).unwrap_or_default();
        let mut rest = match how {
            Strictness::Packet => after.get(..declared).ok_or(Reason::Ipv6Header)?,
            Strictness::Quoted => after.get(..declared.min(after.len())).unwrap_or_default(),
        };
        let mut next = fixed[6];
        let mut ext_len = 0usize;
        let mut fragment = None;
        let mut segments_left_at = None;
        loop {
            match next {
                proto::HOPOPT | proto::ROUTING | proto::DSTOPTS => {
                    let [nh, len, _, segments_left, ..] = *rest else {
                        return Err(Reason::ExtensionHeaders);
                    };
                    let len = usize::from(len).wrapping_add(1).wrapping_mul(8); // at most 2048
                    let header = rest.get(..len).ok_or(Reason::ExtensionHeaders)?;
                    if next == proto::ROUTING && segments_left != 0 && segments_left_at.is_none() {
                        // 40 + at most 65535 + 3 fits in u32.
                        let at = IPV6_HEADER.saturating_add(ext_len).saturating_add(3);
                        segments_left_at = Some(u32::try_from(at).unwrap_or(u32::MAX));
                    }
                    rest = rest.get(header.len()..).unwrap_or_default();
                    ext_len = ext_len.saturating_add(len);
                    next = nh;
                }
                proto::FRAGMENT => {
                    let f: &[u8; FRAGMENT_HEADER] =
                        rest.first_chunk().ok_or(Reason::ExtensionHeaders)?;
                    let off = u16::from_be_bytes([f[2], f[3]]);
                    fragment = Some(Fragment {
                        offset: off >> 3,
                        more: off & 1 != 0,
                        ident: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                    });
                    rest = rest.get(FRAGMENT_HEADER..).unwrap_or_default();
                    ext_len = ext_len.saturating_add(FRAGMENT_HEADER);
                    next = f[0];
                    // RFC 7915 §5.1.1: an extension header (but ESP) after
                    // the Fragment Header: drop.
                    if proto::is_extension_not_esp(next) {
                        return Err(Reason::FragmentedExtension);
                    }
                    break;
                }
                _ => break,
            }
        }
        Ok(Self {
            fixed,
            protocol: next,
            fragment,
            segments_left_at,
            ext_len,
            payload: rest,
        })
    }

    /// Traffic Class.
    pub(crate) fn traffic_class(&self) -> u8 {
        (self.fixed[0] << 4) | (self.fixed[1] >> 4)
    }
    /// Payload Length as declared.
    pub(crate) fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.fixed[4], self.fixed[5]])
    }
    /// Hop Limit.
    pub(crate) fn hop_limit(&self) -> u8 {
        self.fixed[7]
    }
    /// Source address.
    pub(crate) fn src(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.fixed[8..24]);
        Ipv6Addr::from(a)
    }
    /// Destination address.
    pub(crate) fn dst(&self) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.fixed[24..40]);
        Ipv6Addr::from(a)
    }
    /// Whether this is a fragment after the first (no transport header).
    pub(crate) fn is_later_fragment(&self) -> bool {
        self.fragment.is_some_and(|f| f.offset != 0)
    }
}

/// The fields of an IPv6 header the translator writes (RFC 8200 §3);
/// the Flow Label is always zero (RFC 7915 §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv6Repr {
    pub(crate) traffic_class: u8,
    pub(crate) payload_len: u16,
    pub(crate) next_header: u8,
    pub(crate) hop_limit: u8,
    pub(crate) src: Ipv6Addr,
    pub(crate) dst: Ipv6Addr,
}

impl Ipv6Repr {
    /// The header.
    pub(crate) fn emit(&self) -> [u8; IPV6_HEADER] {
        let mut h = [0u8; IPV6_HEADER];
        h[0] = 0x60 | (self.traffic_class >> 4);
        h[1] = self.traffic_class << 4;
        h[4..6].copy_from_slice(&self.payload_len.to_be_bytes());
        h[6] = self.next_header;
        h[7] = self.hop_limit;
        h[8..24].copy_from_slice(&self.src.octets());
        h[24..40].copy_from_slice(&self.dst.octets());
        h
    }
}

/// The IPv6 Fragment Header (RFC 8200 §4.5).
pub(crate) fn emit_fragment(next_header: u8, f: Fragment) -> [u8; FRAGMENT_HEADER] {
    let mut h = [0u8; FRAGMENT_HEADER];
    h[0] = next_header;
    let off = ((f.offset & 0x1fff) << 3) | u16::from(f.more);
    h[2..4].copy_from_slice(&off.to_be_bytes());
    h[4..8].copy_from_slice(&f.ident.to_be_bytes());
    h
}

// ---------------------------------------------------------------------------
// Output

/// A cursor writing into a caller's buffer; a write that does not fit
/// fails and writes nothing.
pub(crate) struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Appends `bytes`.
    pub(crate) fn put(&mut self, bytes: &[u8]) -> Result<(), Reason> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(Reason::BufferTooSmall)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(Reason::BufferTooSmall)?
            .copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends `n` zero bytes.
    pub(crate) fn zeros(&mut self, n: usize) -> Result<(), Reason> {
        let end = self.pos.checked_add(n).ok_or(Reason::BufferTooSmall)?;
        self.buf
            .get_mut(self.pos..end)
            .ok_or(Reason::BufferTooSmall)?
            .fill(0);
        self.pos = end;
        Ok(())
    }

    /// Bytes written so far.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// The bytes written from `from` on, to patch after the fact.
    pub(crate) fn written_mut(&mut self, from: usize) -> &mut [u8] {
        self.buf.get_mut(from..self.pos).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let bytes = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&bytes)), 0xddf2);
        assert_eq!(finish(sum(&bytes)), !0xddf2);
        // Odd lengths pad with zero; the 4-byte stride agrees with 2 bytes.
        assert_eq!(fold(sum(&[0xab])), 0xab00);
        assert_eq!(
            fold(sum(&[1, 2, 3, 4, 5, 6, 7])),
            fold(sum(&[1, 2, 3, 4, 5, 6, 7, 0]))
        );
    }

    #[test]
    fn adjust_matches_recomputation() {
        let mut data = [
            0x45u8, 0, 0, 0x54, 0x12, 0x34, 0x40, 0, 0x40, 0x11, 0, 0, 10, 0, 0, 1,
        ];
        let c = finish(sum(&data));
        let old = sum(&data[12..16]);
        data[12..16].copy_from_slice(&[192, 0, 2, 77]);
        let new = sum(&data[12..16]);
        assert_eq!(adjust(c, old, new), finish(sum(&data)));
    }

    #[test]
    fn ipv4_header_checks() {
        let repr = Ipv4Repr {
            tos: 0x28,
            total_len: 28,
            ident: 0xabcd,
            df: true,
            mf: false,
            frag_offset: 0,
            ttl: 9,
            protocol: proto::UDP,
            src: Ipv4Addr::new(192, 0, 2, 1),
            dst: Ipv4Addr::new(198, 51, 100, 2),
        };
        let mut pkt = repr.emit().to_vec();
        pkt.extend_from_slice(&[0; 8]);
        let p = Ipv4Packet::parse(&pkt, Strictness::Packet).unwrap();
        assert_eq!(
            (p.tos(), p.ident(), p.df(), p.ttl()),
            (0x28, 0xabcd, true, 9)
        );
        assert_eq!(p.payload.len(), 8);
        pkt[10] ^= 1;
        assert_eq!(
            Ipv4Packet::parse(&pkt, Strictness::Packet).unwrap_err(),
            Reason::Ipv4Checksum
        );
        assert!(Ipv4Packet::parse(&pkt, Strictness::Quoted).is_ok());
        pkt[10] ^= 1;
        assert_eq!(
            Ipv4Packet::parse(&pkt[..27], Strictness::Packet).unwrap_err(),
            Reason::Ipv4Header
        );
    }

    #[test]
    fn ipv4_source_route_options() {
        let mut h = [0u8; 32];
        h[0] = 0x48; // IHL 8: 12 bytes of options
        h[3] = 32;
        // NOP, then LSRR length 7 pointer 4 (one address left), then EOL.
        h[20..29].copy_from_slice(&[1, 131, 7, 4, 10, 0, 0, 1, 0]);
        let p = Ipv4Packet::parse(&h, Strictness::Quoted).unwrap();
        assert_eq!(p.has_unexpired_source_route(), Ok(true));
        // Pointer 8 > length 7: expired.
        h[23] = 8;
        let p = Ipv4Packet::parse(&h, Strictness::Quoted).unwrap();
        assert_eq!(p.has_unexpired_source_route(), Ok(false));
        // An option of length 1 is malformed.
        h[20..23].copy_from_slice(&[7, 1, 0]);
        let p = Ipv4Packet::parse(&h, Strictness::Quoted).unwrap();
        assert_eq!(p.has_unexpired_source_route(), Err(Reason::Ipv4Options));
    }

    #[test]
    fn ipv6_extension_walk() {
        let mut pkt = vec![0u8; 40];
        pkt[0] = 0x60;
        pkt[6] = proto::HOPOPT;
        // Hop-by-hop (8), routing with segments left 2 (8), fragment, UDP.
        pkt.extend_from_slice(&[proto::ROUTING, 0, 1, 0, 0, 0, 0, 0]);
        pkt.extend_from_slice(&[proto::FRAGMENT, 0, 0, 2, 0, 0, 0, 0]);
        pkt.extend_from_slice(&[proto::UDP, 0, 0x00, 0x11, 0xde, 0xad, 0xbe, 0xef]);
        pkt.extend_from_slice(&[1, 2, 3, 4]);
        let len = (pkt.len() - 40) as u16;
        pkt[4..6].copy_from_slice(&len.to_be_bytes());
        let p = Ipv6Packet::parse(&pkt, Strictness::Packet).unwrap();
        assert_eq!(p.protocol, proto::UDP);
        assert_eq!(p.segments_left_at, Some(51));
        assert_eq!(
            p.fragment,
            Some(Fragment {
                offset: 2,
                more: true,
                ident: 0xdeadbeef
            })
        );
        assert_eq!(p.ext_len, 24);
        assert_eq!(p.payload, &[1, 2, 3, 4]);
        // Destination options after the fragment header: dropped.
        pkt[56] = proto::DSTOPTS;
        assert_eq!(
            Ipv6Packet::parse(&pkt, Strictness::Packet).unwrap_err(),
            Reason::FragmentedExtension
        );
        // A header running past the payload.
        pkt[41] = 200;
        assert_eq!(
            Ipv6Packet::parse(&pkt, Strictness::Packet).unwrap_err(),
            Reason::ExtensionHeaders
        );
    }
}
