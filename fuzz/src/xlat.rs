//! Shared pieces of the `xlat_6to4` and `xlat_4to6` checks: a naive RFC 1071
//! checksum, input normalisation (so the fuzzer gets past the length and
//! checksum checks as well as hitting them), and the invariants every
//! [`Outcome`] must meet.

use std::net::{Ipv4Addr, Ipv6Addr};

use sixgate::nat64::xlat::{Config, Offload, Outcome, PrefixMapping, Translator, MAX_OUTPUT};
use sixgate::Nat64Prefix;

/// The prefix of the [`PrefixMapping`] both targets use: a /96, so
/// embedding what was extracted gives the address back.
pub fn prefix() -> Nat64Prefix {
    Nat64Prefix::WELL_KNOWN
}

/// The mapping both targets use.
pub fn mapping() -> PrefixMapping {
    PrefixMapping::new(prefix())
}

/// The default translator, and one whose MTUs never force a fragment, an
/// ICMP Too Big or a Fragmentation Needed (for round trips).
pub fn translators() -> (Translator, Translator) {
    let wide = Config::builder()
        .ipv4_mtu(u16::MAX)
        .ipv6_mtu(u16::MAX)
        .lowest_ipv6_mtu(u16::MAX)
        .build()
        .expect("a valid wide config");
    (
        Translator::new(Config::default(), 1),
        Translator::new(wide, 1),
    )
}

/// An output buffer that holds any outcome.
pub fn out_buf() -> Vec<u8> {
    vec![0u8; MAX_OUTPUT]
}

/// The unfolded one's complement sum, 16 bits at a time.
pub fn ones_sum(data: &[u8]) -> u32 {
    let mut s: u32 = 0;
    for pair in data.chunks(2) {
        let word = (u32::from(pair[0]) << 8) | u32::from(*pair.get(1).unwrap_or(&0));
        s += word;
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// The IPv6 pseudo-header bytes.
pub fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, len: usize, next: u8) -> Vec<u8> {
    let mut p = Vec::with_capacity(40);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, next]);
    p
}

/// The IPv4 pseudo-header bytes.
pub fn pseudo4(src: Ipv4Addr, dst: Ipv4Addr, len: usize, proto: u8) -> Vec<u8> {
    let mut p = Vec::with_capacity(12);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p
}

/// Whether `l4` verifies under `pseudo` (empty for ICMPv4).
pub fn verifies(pseudo: &[u8], l4: &[u8]) -> bool {
    let mut all = pseudo.to_vec();
    all.extend_from_slice(l4);
    ones_sum(&all) == 0xffff
}

/// Sets the checksum at `at` in `l4` so that it verifies under `pseudo`.
pub fn seal(l4: &mut [u8], at: usize, pseudo: &[u8]) {
    if l4.len() < at + 2 {
        return;
    }
    l4[at..at + 2].copy_from_slice(&[0, 0]);
    let mut all = pseudo.to_vec();
    all.extend_from_slice(l4);
    let c = !(ones_sum(&all) as u16);
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

/// Where the checksum of protocol `p` sits in its header (ICMP is the
/// family's own: 1 for IPv4, 58 for IPv6).
pub fn checksum_at(p: u8) -> Option<usize> {
    match p {
        6 => Some(16),
        17 => Some(6),
        1 | 58 => Some(2),
        _ => None,
    }
}

/// An IPv4 packet read naively.
pub struct V4<'a>(pub &'a [u8]);

impl V4<'_> {
    pub fn ihl(&self) -> usize {
        usize::from(self.0[0] & 0xf) * 4
    }
    pub fn total(&self) -> usize {
        usize::from(u16::from_be_bytes([self.0[2], self.0[3]]))
    }
    pub fn ttl(&self) -> u8 {
        self.0[8]
    }
    pub fn proto(&self) -> u8 {
        self.0[9]
    }
    pub fn is_fragment(&self) -> bool {
        u16::from_be_bytes([self.0[6], self.0[7]]) & 0x3fff != 0
    }
    pub fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[12], self.0[13], self.0[14], self.0[15])
    }
    pub fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(self.0[16], self.0[17], self.0[18], self.0[19])
    }
    pub fn l4(&self) -> &[u8] {
        &self.0[self.ihl()..self.total()]
    }
    /// Asserts a well-formed header of exactly `len` bytes of packet.
    pub fn assert_valid(&self, len: usize) {
        assert!(len >= 20, "IPv4 output of {len} bytes");
        assert_eq!(self.0[0] >> 4, 4, "IPv4 version");
        assert_eq!(self.ihl(), 20, "translated IPv4 has no options");
        assert_eq!(self.total(), len, "IPv4 total length");
        assert_eq!(ones_sum(&self.0[..20]), 0xffff, "IPv4 header checksum");
    }
}

/// An IPv6 packet read naively.
pub struct V6<'a>(pub &'a [u8]);

impl V6<'_> {
    pub fn payload_len(&self) -> usize {
        usize::from(u16::from_be_bytes([self.0[4], self.0[5]]))
    }
    pub fn next(&self) -> u8 {
        self.0[6]
    }
    pub fn hop(&self) -> u8 {
        self.0[7]
    }
    pub fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.0[8..24]).expect("16 bytes"))
    }
    pub fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.0[24..40]).expect("16 bytes"))
    }
    pub fn payload(&self) -> &[u8] {
        &self.0[40..40 + self.payload_len()]
    }
    /// Asserts a well-formed header of exactly `len` bytes of packet, flow
    /// label zero.
    pub fn assert_valid(&self, len: usize) {
        assert!(len >= 40, "IPv6 output of {len} bytes");
        assert_eq!(self.0[0] >> 4, 6, "IPv6 version");
        assert_eq!(self.0[1] & 0xf, 0, "flow label");
        assert_eq!(&self.0[2..4], &[0, 0], "flow label");
        assert_eq!(self.payload_len() + 40, len, "IPv6 payload length");
    }
}

/// Asserts what every outcome promises about its bytes: lengths within
/// the buffer; a reply is a well-formed ICMP error of the input's family
/// within its size limit with a right checksum.
pub fn assert_reply_v6(o: &Outcome, out: &[u8]) {
    if let Some(r) = o.reply(out) {
        let v6 = V6(r);
        v6.assert_valid(r.len());
        assert!(r.len() <= 1280, "ICMPv6 error of {} bytes", r.len());
        assert_eq!(v6.next(), 58);
        assert!(v6.payload()[0] < 128, "an ICMPv6 error type");
        let pseudo = pseudo6(v6.src(), v6.dst(), v6.payload_len(), 58);
        assert!(verifies(&pseudo, v6.payload()), "ICMPv6 reply checksum");
    }
}

/// The IPv4 counterpart of [`assert_reply_v6`].
pub fn assert_reply_v4(o: &Outcome, out: &[u8]) {
    if let Some(r) = o.reply(out) {
        let v4 = V4(r);
        v4.assert_valid(r.len());
        assert!(r.len() <= 576, "ICMPv4 error of {} bytes", r.len());
        assert_eq!(v4.proto(), 1);
        assert!(verifies(&[], v4.l4()), "ICMPv4 reply checksum");
    }
}

/// The offloads a fuzz input asks for: always a partial checksum, and a
/// TCP segment size from its second byte (0: one packet).
pub fn offload_of(data: &[u8]) -> Offload {
    Offload {
        partial_checksum: true,
        segment_size: u16::from(data.get(1).copied().unwrap_or(0)) * 8,
    }
}

/// The TCP or UDP checksum at `at` of `l4` made partial, as Linux leaves
/// it (`CHECKSUM_PARTIAL`): the pseudo-header's sum, not complemented.
pub fn make_partial(l4: &mut [u8], at: usize, pseudo: &[u8]) {
    if let Some(field) = l4.get_mut(at..at + 2) {
        field.copy_from_slice(&(ones_sum(pseudo) as u16).to_be_bytes());
    }
}

/// A partial checksum completed as the kernel would: the complement of
/// the sum of everything from the transport header on.
pub fn complete(l4: &mut [u8], at: usize) {
    let c = !(ones_sum(l4) as u16);
    if let Some(field) = l4.get_mut(at..at + 2) {
        field.copy_from_slice(&c.to_be_bytes());
    }
}

/// What must hold of a translation made with [`offload_of`]`(data)` from
/// a packet of transport protocol `proto` (right after its IP header):
/// never an ICMP error or fragments (those are `Reason::Offload`, left to
/// software), a super-packet only of TCP.
pub fn assert_offload_outcome(o: &Outcome, proto: u8, off: Offload) {
    match *o {
        Outcome::Reply { .. } | Outcome::Fragmented { .. } => {
            panic!("offloads never make {o:?}")
        }
        Outcome::Translated { .. } => assert!(
            proto == 6 || (proto == 17 && off.segment_size == 0),
            "offloads kept for protocol {proto} with {off:?}"
        ),
        Outcome::Drop(_) => {}
    }
}

/// The transport bytes of two translations of one packet are the same but
/// for the checksum at `at`.
pub fn assert_same_but_checksum(a: &[u8], b: &[u8], at: usize) {
    assert_eq!(a.len(), b.len(), "transport length");
    assert_eq!(&a[..at], &b[..at], "transport header before the checksum");
    assert_eq!(
        &a[at + 2..],
        &b[at + 2..],
        "transport bytes after the checksum"
    );
}
