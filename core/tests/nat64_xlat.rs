//! RFC 7915 translation cases as hand-built byte arrays, checked by a
//! naive full recomputation of every checksum (independent of the
//! translator's incremental arithmetic), plus property tests: 6 → 4 → 6
//! keeps the payload and the mapped fields.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sixgate::nat64::xlat::{
    Config, Flow, Mapping, Meta, Offload, Outcome, PrefixMapping, Reason, Role, TrafficClass,
    Translator, Unmapped, ZeroChecksum, MAX_OUTPUT,
};
use sixgate::Nat64Prefix;

// ---------------------------------------------------------------------------
// Naive reference: RFC 1071 by the book, 16 bits at a time.

fn ones_sum(data: &[u8]) -> u32 {
    let mut s: u32 = 0;
    let mut i = 0;
    while i < data.len() {
        let hi = data[i] as u32;
        let lo = if i + 1 < data.len() {
            data[i + 1] as u32
        } else {
            0
        };
        s += (hi << 8) | lo;
        s = (s & 0xffff) + (s >> 16);
        i += 2;
    }
    s
}

fn csum(data: &[u8]) -> u16 {
    !(ones_sum(data) as u16)
}

fn pseudo6_bytes(src: Ipv6Addr, dst: Ipv6Addr, len: usize, next: u8) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&(len as u32).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, next]);
    p
}

fn pseudo4_bytes(src: Ipv4Addr, dst: Ipv4Addr, len: usize, proto: u8) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&[0, proto]);
    p.extend_from_slice(&(len as u16).to_be_bytes());
    p
}

/// Whether the upper-layer checksum of `l4` (with its pseudo-header bytes
/// in front) verifies.
fn verifies(pseudo: &[u8], l4: &[u8]) -> bool {
    let mut all = pseudo.to_vec();
    all.extend_from_slice(l4);
    ones_sum(&all) == 0xffff
}

// ---------------------------------------------------------------------------
// Packet builders.

const TCP: u8 = 6;
const UDP: u8 = 17;
const ICMP: u8 = 1;
const ICMPV6: u8 = 58;

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn ipv6(src: Ipv6Addr, dst: Ipv6Addr, next: u8, hop: u8, tc: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x60 | (tc >> 4), tc << 4, 0, 0];
    p.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, hop]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(payload);
    p
}

#[derive(Clone, Copy)]
struct V4 {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    tos: u8,
    id: u16,
    df: bool,
    mf: bool,
    offset: u16,
}

impl V4 {
    fn new(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> Self {
        Self {
            src,
            dst,
            proto,
            ttl: 64,
            tos: 0,
            id: 0x1234,
            df: true,
            mf: false,
            offset: 0,
        }
    }
    fn build(self, options: &[u8], payload: &[u8]) -> Vec<u8> {
        assert_eq!(options.len() % 4, 0);
        let ihl = 5 + options.len() / 4;
        let total = ihl * 4 + payload.len();
        let flags = (u16::from(self.df) << 14) | (u16::from(self.mf) << 13) | self.offset;
        let mut h = vec![0x40 | ihl as u8, self.tos];
        h.extend_from_slice(&(total as u16).to_be_bytes());
        h.extend_from_slice(&self.id.to_be_bytes());
        h.extend_from_slice(&flags.to_be_bytes());
        h.extend_from_slice(&[self.ttl, self.proto, 0, 0]);
        h.extend_from_slice(&self.src.octets());
        h.extend_from_slice(&self.dst.octets());
        h.extend_from_slice(options);
        let c = csum(&h);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }
}

fn udp_raw(sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(data);
    u
}

fn tcp_raw(sport: u16, dport: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(data);
    t
}

/// Fills the checksum at `at` of `l4` for the given pseudo-header bytes.
fn seal(mut l4: Vec<u8>, at: usize, pseudo: &[u8]) -> Vec<u8> {
    l4[at..at + 2].copy_from_slice(&[0, 0]);
    let mut all = pseudo.to_vec();
    all.extend_from_slice(&l4);
    let mut c = csum(&all);
    if c == 0 && at == 6 {
        c = 0xffff; // UDP sends a computed zero as all ones
    }
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    l4
}

fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let u = udp_raw(sport, dport, data);
    let len = u.len();
    seal(u, 6, &pseudo6_bytes(src, dst, len, UDP))
}

fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let u = udp_raw(sport, dport, data);
    let len = u.len();
    seal(u, 6, &pseudo4_bytes(src, dst, len, UDP))
}

fn tcp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let t = tcp_raw(sport, dport, 0x18, data);
    let len = t.len();
    seal(t, 16, &pseudo6_bytes(src, dst, len, TCP))
}

fn tcp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let t = tcp_raw(sport, dport, 0x18, data);
    let len = t.len();
    seal(t, 16, &pseudo4_bytes(src, dst, len, TCP))
}

fn icmp4(ty: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let c = csum(&m);
    m[2..4].copy_from_slice(&c.to_be_bytes());
    m
}

fn icmp6(src: Ipv6Addr, dst: Ipv6Addr, ty: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest);
    m.extend_from_slice(body);
    let len = m.len();
    seal(m, 2, &pseudo6_bytes(src, dst, len, ICMPV6))
}

// ---------------------------------------------------------------------------
// Parsed output, read naively.

struct Out4 {
    bytes: Vec<u8>,
}

impl Out4 {
    fn ihl(&self) -> usize {
        usize::from(self.bytes[0] & 0xf) * 4
    }
    fn tos(&self) -> u8 {
        self.bytes[1]
    }
    fn total(&self) -> usize {
        usize::from(u16::from_be_bytes([self.bytes[2], self.bytes[3]]))
    }
    fn id(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }
    fn df(&self) -> bool {
        self.bytes[6] & 0x40 != 0
    }
    fn mf(&self) -> bool {
        self.bytes[6] & 0x20 != 0
    }
    fn offset(&self) -> u16 {
        u16::from_be_bytes([self.bytes[6], self.bytes[7]]) & 0x1fff
    }
    fn ttl(&self) -> u8 {
        self.bytes[8]
    }
    fn proto(&self) -> u8 {
        self.bytes[9]
    }
    fn src(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.bytes[12],
            self.bytes[13],
            self.bytes[14],
            self.bytes[15],
        )
    }
    fn dst(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.bytes[16],
            self.bytes[17],
            self.bytes[18],
            self.bytes[19],
        )
    }
    fn l4(&self) -> &[u8] {
        &self.bytes[self.ihl()..]
    }
    /// Header checksum and length checks every output must pass.
    fn check(bytes: &[u8]) -> Self {
        let o = Self {
            bytes: bytes.to_vec(),
        };
        assert_eq!(o.bytes[0] >> 4, 4);
        assert_eq!(o.total(), o.bytes.len(), "total length");
        assert_eq!(
            ones_sum(&o.bytes[..o.ihl()]),
            0xffff,
            "IPv4 header checksum"
        );
        o
    }
    fn transport_ok(&self) -> bool {
        let pseudo = pseudo4_bytes(self.src(), self.dst(), self.l4().len(), self.proto());
        verifies(&pseudo, self.l4())
    }
}

struct Out6 {
    bytes: Vec<u8>,
}

impl Out6 {
    fn tc(&self) -> u8 {
        (self.bytes[0] << 4) | (self.bytes[1] >> 4)
    }
    fn flow_label(&self) -> u32 {
        u32::from_be_bytes([0, self.bytes[1] & 0xf, self.bytes[2], self.bytes[3]])
    }
    fn next(&self) -> u8 {
        self.bytes[6]
    }
    fn hop(&self) -> u8 {
        self.bytes[7]
    }
    fn src(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.bytes[8..24]).unwrap())
    }
    fn dst(&self) -> Ipv6Addr {
        Ipv6Addr::from(<[u8; 16]>::try_from(&self.bytes[24..40]).unwrap())
    }
    fn payload(&self) -> &[u8] {
        &self.bytes[40..]
    }
    fn check(bytes: &[u8]) -> Self {
        let o = Self {
            bytes: bytes.to_vec(),
        };
        assert_eq!(o.bytes[0] >> 4, 6);
        assert_eq!(o.flow_label(), 0, "RFC 7915 §4.1: flow label 0");
        let plen = usize::from(u16::from_be_bytes([o.bytes[4], o.bytes[5]]));
        assert_eq!(plen + 40, o.bytes.len(), "payload length");
        o
    }
    /// The upper-layer checksum, for a packet without a Fragment Header.
    fn transport_ok(&self) -> bool {
        let pseudo = pseudo6_bytes(self.src(), self.dst(), self.payload().len(), self.next());
        verifies(&pseudo, self.payload())
    }
}

// ---------------------------------------------------------------------------
// A NAT64-like mapping: one IPv6 host behind one pool address, ports (and
// echo identifiers) on the IPv6 side XORed with 0x5a5a, destinations under
// the well-known prefix. Records what it was asked.

const H6: &str = "2001:db8:1::10";
const T4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const S4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn wkp() -> Nat64Prefix {
    Nat64Prefix::WELL_KNOWN
}

fn s6() -> Ipv6Addr {
    wkp().embed(S4)
}

#[derive(Default)]
struct Nat {
    asked: Vec<(Role, bool, u8)>,
}

impl Mapping for Nat {
    fn map_6to4(&mut self, f: &Flow<Ipv6Addr>, meta: &Meta) -> Result<Flow<Ipv4Addr>, Unmapped> {
        self.asked.push((meta.role, meta.has_ports, meta.tcp_flags));
        if f.src != a6(H6) {
            return Err(Unmapped::unreachable(Reason::Unmapped, 3));
        }
        let dst = wkp()
            .extract(f.dst)
            .map_err(|_| Unmapped::silent(Reason::Unmapped))?;
        Ok(Flow {
            proto: f.proto,
            src: T4,
            dst,
            src_port: f.src_port ^ 0x5a5a,
            dst_port: f.dst_port,
        })
    }
    fn map_4to6(&mut self, f: &Flow<Ipv4Addr>, meta: &Meta) -> Result<Flow<Ipv6Addr>, Unmapped> {
        self.asked.push((meta.role, meta.has_ports, meta.tcp_flags));
        if f.dst != T4 {
            return Err(Unmapped::unreachable(Reason::Filtered, 13));
        }
        Ok(Flow {
            proto: f.proto,
            src: wkp().embed(f.src),
            dst: a6(H6),
            src_port: f.src_port,
            dst_port: f.dst_port ^ 0x5a5a,
        })
    }
}

fn xlat() -> Translator {
    Translator::new(Config::default(), 1)
}

fn run64(x: &mut Translator, m: &mut impl Mapping, pkt: &[u8]) -> (Outcome, Vec<u8>) {
    let mut out = vec![0u8; MAX_OUTPUT];
    let o = x.translate_6to4(m, pkt, &mut out);
    (o, out)
}

fn run46(x: &mut Translator, m: &mut impl Mapping, pkt: &[u8]) -> (Outcome, Vec<u8>) {
    let mut out = vec![0u8; MAX_OUTPUT];
    let o = x.translate_4to6(m, pkt, &mut out);
    (o, out)
}

fn translated4(x: &mut Translator, m: &mut impl Mapping, pkt: &[u8]) -> Out4 {
    let (o, out) = run64(x, m, pkt);
    let Outcome::Translated { len } = o else {
        panic!("expected a translation, got {o:?}")
    };
    Out4::check(&out[..len])
}

fn translated6(x: &mut Translator, m: &mut impl Mapping, pkt: &[u8]) -> Out6 {
    let (o, out) = run46(x, m, pkt);
    let Outcome::Translated { len } = o else {
        panic!("expected a translation, got {o:?}")
    };
    Out6::check(&out[..len])
}

fn reply6(x: &mut Translator, m: &mut impl Mapping, pkt: &[u8], why: Reason) -> Out6 {
    let (o, out) = run64(x, m, pkt);
    let Outcome::Reply { len, reason } = o else {
        panic!("expected a reply, got {o:?}")
    };
    assert_eq!(reason, why);
    let r = Out6::check(&out[..len]);
    assert_eq!(r.next(), ICMPV6);
    assert!(r.transport_ok(), "ICMPv6 checksum of the reply");
    assert!(r.bytes.len() <= 1280);
    r
}

fn reply4(x: &mut Translator, m: &mut impl Mapping, pkt: &[u8], why: Reason) -> Out4 {
    let (o, out) = run46(x, m, pkt);
    let Outcome::Reply { len, reason } = o else {
        panic!("expected a reply, got {o:?}")
    };
    assert_eq!(reason, why);
    let r = Out4::check(&out[..len]);
    assert_eq!(r.proto(), ICMP);
    assert_eq!(csum(r.l4()), 0, "ICMPv4 checksum of the reply");
    assert!(r.bytes.len() <= 576);
    r
}

// ---------------------------------------------------------------------------
// UDP and TCP, both ways.

#[test]
fn udp_6to4_headers_and_checksum() {
    let data = b"a datagram from the IPv6 side";
    let pkt = ipv6(
        a6(H6),
        s6(),
        UDP,
        64,
        0xb8,
        &udp6(a6(H6), s6(), 40000, 53, data),
    );
    let mut nat = Nat::default();
    let o = translated4(&mut xlat(), &mut nat, &pkt);
    assert_eq!((o.src(), o.dst()), (T4, S4));
    assert_eq!(o.ttl(), 63, "RFC 7915 §5.1: hop limit decremented");
    assert_eq!(
        o.tos(),
        0xb8,
        "RFC 7915 §5.1: TOS copied from the traffic class"
    );
    assert_eq!(o.proto(), UDP);
    assert!(
        !o.df() && !o.mf() && o.offset() == 0,
        "small: DF clear (§5.1)"
    );
    assert_eq!(
        &o.l4()[0..4],
        &[(40000u16 ^ 0x5a5a).to_be_bytes(), 53u16.to_be_bytes()].concat()[..]
    );
    assert_eq!(&o.l4()[8..], data);
    assert!(o.transport_ok(), "UDP checksum, recomputed naively");
    assert_eq!(nat.asked, vec![(Role::Packet, true, 0)]);
}

#[test]
fn udp_4to6_headers_and_checksum() {
    let data = b"an answer";
    let u = udp4(S4, T4, 53, 40000 ^ 0x5a5a, data);
    let mut v4 = V4::new(S4, T4, UDP);
    v4.tos = 0x2e;
    v4.ttl = 50;
    let pkt = v4.build(&[], &u);
    let o = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!((o.src(), o.dst()), (s6(), a6(H6)));
    assert_eq!(o.hop(), 49);
    assert_eq!(o.tc(), 0x2e, "RFC 7915 §4.1: traffic class copied from TOS");
    assert_eq!(o.next(), UDP);
    assert_eq!(&o.payload()[2..4], &40000u16.to_be_bytes());
    assert_eq!(&o.payload()[8..], data);
    assert!(o.transport_ok());
}

#[test]
fn tcp_both_ways_and_a_bad_checksum_stays_bad() {
    let data = vec![0x42u8; 300];
    let seg = tcp6(a6(H6), s6(), 50000, 443, &data);
    let pkt = ipv6(a6(H6), s6(), TCP, 64, 0, &seg);
    let mut nat = Nat::default();
    let o = translated4(&mut xlat(), &mut nat, &pkt);
    assert!(o.transport_ok(), "TCP checksum 6 -> 4");
    assert_eq!(nat.asked[0].2, 0x18, "TCP flags reach the mapping");

    let back = V4::new(S4, T4, TCP).build(&[], &tcp4(S4, T4, 443, 50000 ^ 0x5a5a, &data));
    let o6 = translated6(&mut xlat(), &mut Nat::default(), &back);
    assert!(o6.transport_ok(), "TCP checksum 4 -> 6");
    assert_eq!(&o6.payload()[2..4], &50000u16.to_be_bytes());

    // Corrupt one payload byte: the translation keeps the error, and
    // undoing the corruption in the output makes the checksum right.
    let mut bad = pkt.clone();
    let at = bad.len() - 7;
    bad[at] ^= 0x10;
    let mut o = translated4(&mut xlat(), &mut Nat::default(), &bad);
    assert!(!o.transport_ok(), "a bad checksum stays bad");
    let at = o.bytes.len() - 7;
    o.bytes[at] ^= 0x10;
    assert!(o.transport_ok());

    let mut bad = back.clone();
    let at = bad.len() - 1;
    bad[at] ^= 1;
    let mut o6 = translated6(&mut xlat(), &mut Nat::default(), &bad);
    assert!(!o6.transport_ok());
    let at = o6.bytes.len() - 1;
    o6.bytes[at] ^= 1;
    assert!(o6.transport_ok());
}

#[test]
fn udp_zero_checksum_4to6() {
    let data = b"no checksum here";
    let pkt = V4::new(S4, T4, UDP).build(&[], &udp_raw(53, 1000, data));
    let o = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert!(o.transport_ok(), "RFC 7915 §4.5: computed");
    assert_ne!(&o.payload()[6..8], &[0, 0]);

    let cfg = Config::builder()
        .udp_zero_checksum(ZeroChecksum::Drop)
        .build()
        .unwrap();
    let mut x = Translator::new(cfg, 1);
    assert_eq!(
        run46(&mut x, &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::UdpZeroChecksum)
    );

    // A first fragment cannot be completed.
    let mut v4 = V4::new(S4, T4, UDP);
    v4.df = false;
    v4.mf = true;
    let frag = v4.build(&[], &udp_raw(53, 1000, &[7; 64]));
    assert_eq!(
        run46(&mut xlat(), &mut Nat::default(), &frag).0,
        Outcome::Drop(Reason::UdpZeroChecksum)
    );
}

#[test]
fn ipv6_udp_zero_checksum_stays_zero() {
    let u = udp_raw(1000, 2000, b"tunnel");
    let pkt = ipv6(a6(H6), s6(), UDP, 64, 0, &u);
    let o = translated4(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(&o.l4()[6..8], &[0, 0]);
}

#[test]
fn traffic_class_and_tos_can_be_set() {
    let cfg = Config::builder()
        .traffic_class(TrafficClass::Set(0))
        .tos(TrafficClass::Set(0x10))
        .build()
        .unwrap();
    let mut x = Translator::new(cfg, 1);
    let pkt = ipv6(a6(H6), s6(), UDP, 64, 0xb8, &udp6(a6(H6), s6(), 1, 2, b"x"));
    assert_eq!(translated4(&mut x, &mut Nat::default(), &pkt).tos(), 0x10);
    let mut v4 = V4::new(S4, T4, UDP);
    v4.tos = 0xb8;
    let pkt = v4.build(&[], &udp4(S4, T4, 2, 1, b"x"));
    assert_eq!(translated6(&mut x, &mut Nat::default(), &pkt).tc(), 0);
}

#[test]
fn other_protocols_keep_their_bytes() {
    // GRE (47): addresses translated, payload untouched.
    let payload = [0u8, 0, 0x08, 0, 1, 2, 3, 4];
    let pkt = ipv6(a6(H6), s6(), 47, 9, 0, &payload);
    let mut nat = Nat::default();
    let o = translated4(&mut xlat(), &mut nat, &pkt);
    assert_eq!((o.proto(), o.l4()), (47, &payload[..]));
    assert_eq!(nat.asked, vec![(Role::Packet, false, 0)]);
}

#[test]
fn icmp_of_the_wrong_family_is_dropped() {
    let echo4 = icmp4(8, 0, [0, 1, 0, 1], b"v4 echo in v6");
    let pkt = ipv6(a6(H6), s6(), ICMP, 64, 0, &echo4);
    assert_eq!(
        run64(&mut xlat(), &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::ForeignIcmp)
    );
    let echo6 = icmp6(s6(), a6(H6), 128, 0, [0, 1, 0, 1], b"v6 echo in v4");
    let pkt = V4::new(S4, T4, ICMPV6).build(&[], &echo6);
    assert_eq!(
        run46(&mut xlat(), &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::ForeignIcmp)
    );
}

#[test]
fn ipv4_protocols_naming_extension_headers_are_dropped() {
    for p in [0u8, 43, 44, 60, 135] {
        let pkt = V4::new(S4, T4, p).build(&[], &[17, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            run46(&mut xlat(), &mut Nat::default(), &pkt).0,
            Outcome::Drop(Reason::ExtensionProtocol),
            "protocol {p}"
        );
    }
    // AH is copied, as RFC 7915 §4.1 says.
    let pkt = V4::new(S4, T4, 51).build(&[], &[17, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
    assert_eq!(
        translated6(&mut xlat(), &mut Nat::default(), &pkt).next(),
        51
    );
}

// ---------------------------------------------------------------------------
// Hop limit, DF, identification, fragments.

#[test]
fn hop_limit_one_gets_time_exceeded() {
    let pkt = ipv6(a6(H6), s6(), UDP, 1, 0, &udp6(a6(H6), s6(), 1, 2, b"ttl"));
    let r = reply6(&mut xlat(), &mut Nat::default(), &pkt, Reason::HopLimit);
    assert_eq!(r.dst(), a6(H6));
    assert_eq!(r.src(), a6("64:ff9b::c000:8"), "the default ICMPv6 source");
    assert_eq!(&r.payload()[..2], &[3, 0], "Time Exceeded, hop limit");
    assert_eq!(&r.payload()[8..], &pkt[..], "the packet is quoted");

    let mut v4 = V4::new(S4, T4, UDP);
    v4.ttl = 1;
    let pkt = v4.build(&[], &udp4(S4, T4, 2, 1, b"ttl"));
    let r = reply4(&mut xlat(), &mut Nat::default(), &pkt, Reason::HopLimit);
    assert_eq!((r.src(), r.dst()), (Ipv4Addr::new(192, 0, 0, 8), S4));
    assert_eq!(&r.l4()[..2], &[11, 0]);
    assert_eq!(&r.l4()[8..], &pkt[..]);

    // Errors are configurable off; a TTL of 0 or 1 is then just a drop.
    let mut quiet = Translator::new(Config::builder().icmp_errors(false).build().unwrap(), 1);
    assert_eq!(
        run46(&mut quiet, &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::HopLimit)
    );
}

#[test]
fn df_and_identification_6to4() {
    let mut x = xlat();
    // 1260 bytes of IPv4 or less: DF clear, an identification made up.
    let small = ipv6(
        a6(H6),
        s6(),
        UDP,
        64,
        0,
        &udp6(a6(H6), s6(), 1, 2, &[0; 1232]),
    );
    let a = translated4(&mut x, &mut Nat::default(), &small);
    assert_eq!(a.total(), 1260);
    assert!(!a.df());
    let b = translated4(&mut x, &mut Nat::default(), &small);
    assert_ne!(
        a.id(),
        b.id(),
        "consecutive packets get different identifications"
    );
    // One byte more: DF set.
    let big = ipv6(
        a6(H6),
        s6(),
        UDP,
        64,
        0,
        &udp6(a6(H6), s6(), 1, 2, &[0; 1233]),
    );
    assert!(translated4(&mut x, &mut Nat::default(), &big).df());
}

#[test]
fn fragment_header_6to4() {
    // First fragment: offset 0, M set, identification 0xabcd1234.
    let seg = udp6(a6(H6), s6(), 7, 9, &[5; 64]);
    let mut frag = vec![UDP, 0, 0x00, 0x01, 0xab, 0xcd, 0x12, 0x34];
    frag.extend_from_slice(&seg[..48]);
    let pkt = ipv6(a6(H6), s6(), 44, 64, 0, &frag);
    let mut nat = Nat::default();
    let o = translated4(&mut xlat(), &mut nat, &pkt);
    assert_eq!(o.proto(), UDP);
    assert_eq!(o.id(), 0x1234, "RFC 7915 §5.1.1: low-order 16 bits");
    assert!(o.mf() && !o.df() && o.offset() == 0);
    assert_eq!(o.total(), 20 + 48, "the Fragment Header is gone");
    assert_eq!(
        &o.l4()[2..6],
        &seg[2..6],
        "destination port and length kept"
    );
    assert_eq!(&o.l4()[8..], &seg[8..48], "the data kept");
    // A later fragment: offset 6 (48 bytes), no ports to map.
    let mut later = vec![UDP, 0, 0x00, 0x30, 0xab, 0xcd, 0x12, 0x34];
    later.extend_from_slice(&seg[48..]);
    let pkt = ipv6(a6(H6), s6(), 44, 64, 0, &later);
    let o = translated4(&mut xlat(), &mut nat, &pkt);
    assert_eq!((o.offset(), o.mf(), o.id()), (6, false, 0x1234));
    assert_eq!(o.l4(), &seg[48..]);
    assert_eq!(nat.asked[1], (Role::Packet, false, 0));
}

#[test]
fn fragment_4to6_and_no_atomic_fragments() {
    let u = udp4(S4, T4, 53, 9 ^ 0x5a5a, &[1; 100]);
    let mut v4 = V4::new(S4, T4, UDP);
    v4.df = false;
    v4.mf = true;
    v4.id = 0xbeef;
    let first = v4.build(&[], &u[..64]);
    let o = translated6(&mut xlat(), &mut Nat::default(), &first);
    assert_eq!(o.next(), 44, "RFC 7915 §4.1.1: a Fragment Header");
    let f = &o.payload()[..8];
    assert_eq!(f[0], UDP);
    assert_eq!(u16::from_be_bytes([f[2], f[3]]), 1, "offset 0, M set");
    assert_eq!(
        &f[4..8],
        &[0, 0, 0xbe, 0xef],
        "identification zero-extended"
    );
    // DF clear and small: no Fragment Header (RFC 8021: no atomic fragments).
    v4.mf = false;
    let whole = v4.build(&[], &u);
    let o = translated6(&mut xlat(), &mut Nat::default(), &whole);
    assert_eq!(o.next(), UDP);
    assert!(o.transport_ok());
}

#[test]
fn df_clear_packets_larger_than_lowest_mtu_are_fragmented() {
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 7) as u8).collect();
    let u = udp4(S4, T4, 53, 9 ^ 0x5a5a, &data);
    let mut v4 = V4::new(S4, T4, UDP);
    v4.df = false;
    v4.id = 0x4242;
    let pkt = v4.build(&[], &u);
    let (o, out) = run46(&mut xlat(), &mut Nat::default(), &pkt);
    let Outcome::Fragmented { chunk, .. } = o else {
        panic!("{o:?}")
    };
    assert_eq!(chunk, 1280);
    let frags: Vec<&[u8]> = o.packets(&out).collect();
    assert_eq!(frags.len(), 3, "3008 bytes in 1232-byte pieces");
    let mut reassembled = vec![0u8; u.len()];
    let mut seen = 0;
    for (i, f) in frags.iter().enumerate() {
        let o = Out6::check(f);
        assert!(o.bytes.len() <= 1280);
        assert_eq!(o.next(), 44);
        let fh = &o.payload()[..8];
        let off = usize::from(u16::from_be_bytes([fh[2], fh[3]]) >> 3) * 8;
        let more = fh[3] & 1 == 1;
        assert_eq!(more, i < 2);
        assert_eq!(&fh[4..8], &[0, 0, 0x42, 0x42]);
        let piece = &o.payload()[8..];
        assert!(!more || piece.len().is_multiple_of(8));
        reassembled[off..off + piece.len()].copy_from_slice(piece);
        seen += piece.len();
    }
    assert_eq!(seen, u.len());
    assert_eq!(&reassembled[8..], &data[..]);
    let pseudo = pseudo6_bytes(s6(), a6(H6), reassembled.len(), UDP);
    assert!(
        verifies(&pseudo, &reassembled),
        "the reassembled datagram's checksum"
    );

    // With lowest-ipv6-mtu 1500, 3028 bytes make 3 fragments of at most 1500.
    let cfg = Config::builder().lowest_ipv6_mtu(1500).build().unwrap();
    let (o, out) = run46(&mut Translator::new(cfg, 1), &mut Nat::default(), &pkt);
    assert!(o.packets(&out).all(|p| p.len() <= 1500));
    assert_eq!(o.packets(&out).count(), 3);
}

#[test]
fn too_big_with_df_gets_fn_or_ptb() {
    // 4 -> 6: DF set, 1500 bytes of IPv4 become 1520 of IPv6 > 1500.
    let u = udp4(S4, T4, 53, 9, &[0; 1472]);
    let pkt = V4::new(S4, T4, UDP).build(&[], &u);
    let r = reply4(&mut xlat(), &mut Nat::default(), &pkt, Reason::TooBig);
    assert_eq!(&r.l4()[..2], &[3, 4], "Fragmentation Needed");
    assert_eq!(&r.l4()[6..8], &1480u16.to_be_bytes(), "IPv6 MTU - 20");
    assert_eq!(r.bytes.len(), 576, "the quote is cut to 576 bytes");

    // 6 -> 4 over an IPv4 link of 1400: Packet Too Big with 1420.
    let cfg = Config::builder().ipv4_mtu(1400).build().unwrap();
    let mut x = Translator::new(cfg, 1);
    let pkt = ipv6(
        a6(H6),
        s6(),
        UDP,
        64,
        0,
        &udp6(a6(H6), s6(), 1, 2, &[0; 1400]),
    );
    let r = reply6(&mut x, &mut Nat::default(), &pkt, Reason::TooBig);
    assert_eq!(&r.payload()[..2], &[2, 0]);
    assert_eq!(&r.payload()[4..8], &1420u32.to_be_bytes());
    assert_eq!(r.bytes.len(), 1280);
}

// ---------------------------------------------------------------------------
// Options and extension headers.

#[test]
fn ipv4_options_ignored_but_source_route_refused() {
    let u = udp4(S4, T4, 53, 9, b"opts");
    // Record Route (7), length 7, pointer 4, room for one address; EOL.
    let pkt = V4::new(S4, T4, UDP).build(&[7, 7, 4, 0, 0, 0, 0, 0], &u);
    let o = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(&o.payload()[8..], b"opts");
    // Loose source route (131) with an address left: Source Route Failed.
    let pkt = V4::new(S4, T4, UDP).build(&[131, 7, 4, 10, 0, 0, 1, 0], &u);
    let r = reply4(&mut xlat(), &mut Nat::default(), &pkt, Reason::SourceRoute);
    assert_eq!(&r.l4()[..2], &[3, 5]);
}

#[test]
fn extension_headers_skipped_and_routing_refused() {
    let seg = udp6(a6(H6), s6(), 1, 2, b"ext");
    // Hop-by-hop (PadN) then destination options (PadN) then UDP.
    let mut p = vec![60, 0, 1, 4, 0, 0, 0, 0];
    p.extend_from_slice(&[UDP, 0, 1, 4, 0, 0, 0, 0]);
    p.extend_from_slice(&seg);
    let pkt = ipv6(a6(H6), s6(), 0, 64, 0, &p);
    let o = translated4(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!((o.proto(), o.total()), (UDP, 20 + seg.len()));
    assert!(o.transport_ok());
    // A routing header with segments left 0 is skipped too.
    let mut r = vec![UDP, 2, 0, 0, 0, 0, 0, 0];
    r.extend_from_slice(&[0; 16]);
    r.extend_from_slice(&seg);
    let pkt = ipv6(a6(H6), s6(), 43, 64, 0, &r);
    assert!(translated4(&mut xlat(), &mut Nat::default(), &pkt).transport_ok());
    // Segments left 1: Parameter Problem pointing at it (40 + 3).
    r[3] = 1;
    let pkt = ipv6(a6(H6), s6(), 43, 64, 0, &r);
    let e = reply6(&mut xlat(), &mut Nat::default(), &pkt, Reason::SegmentsLeft);
    assert_eq!(&e.payload()[..2], &[4, 0]);
    assert_eq!(&e.payload()[4..8], &43u32.to_be_bytes());
}

// ---------------------------------------------------------------------------
// ICMP queries.

#[test]
fn echo_both_ways_maps_the_identifier() {
    let body = b"ping payload";
    let mut rest = [0u8; 4];
    rest[..2].copy_from_slice(&0x1111u16.to_be_bytes());
    rest[2..].copy_from_slice(&7u16.to_be_bytes());
    let req = icmp6(a6(H6), s6(), 128, 0, rest, body);
    let pkt = ipv6(a6(H6), s6(), ICMPV6, 64, 0, &req);
    let o = translated4(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(o.proto(), ICMP);
    assert_eq!(o.l4()[0], 8, "Echo Request");
    assert_eq!(&o.l4()[4..6], &(0x1111u16 ^ 0x5a5a).to_be_bytes());
    assert_eq!(&o.l4()[6..8], &7u16.to_be_bytes());
    assert_eq!(csum(o.l4()), 0, "ICMPv4 checksum, no pseudo-header");

    let reply = icmp4(0, 0, [0x4b, 0x4b, 0, 7], body);
    let pkt = V4::new(S4, T4, ICMP).build(&[], &reply);
    let o = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(o.next(), ICMPV6);
    assert_eq!(o.payload()[0], 129, "Echo Reply");
    assert_eq!(&o.payload()[4..6], &0x1111u16.to_be_bytes());
    assert!(o.transport_ok(), "ICMPv6 checksum with its pseudo-header");
}

#[test]
fn informational_types_without_a_counterpart_drop() {
    for ty in [13u8, 14, 15, 16, 17, 18, 9, 10, 42] {
        let pkt = V4::new(S4, T4, ICMP).build(&[], &icmp4(ty, 0, [0; 4], &[0; 12]));
        assert_eq!(
            run46(&mut xlat(), &mut Nat::default(), &pkt).0,
            Outcome::Drop(Reason::IcmpInformational),
            "ICMPv4 type {ty}"
        );
    }
    for ty in [130u8, 131, 132, 133, 134, 135, 136, 137, 200] {
        let m = icmp6(a6(H6), s6(), ty, 0, [0; 4], &[0; 16]);
        let pkt = ipv6(a6(H6), s6(), ICMPV6, 255, 0, &m);
        assert_eq!(
            run64(&mut xlat(), &mut Nat::default(), &pkt).0,
            Outcome::Drop(Reason::IcmpInformational),
            "ICMPv6 type {ty}"
        );
    }
    let igmp = V4::new(S4, T4, 2).build(&[], &[0x11, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        run46(&mut xlat(), &mut Nat::default(), &igmp).0,
        Outcome::Drop(Reason::SingleHop)
    );
}

// ---------------------------------------------------------------------------
// ICMP errors.

/// (type, code, translated type and code or None for a drop).
type Row = (u8, u8, Option<(u8, u8)>);

/// The datagram H6 sent to S, after 6 -> 4 translation: T -> S4, UDP.
fn quoted_udp4(len: usize) -> Vec<u8> {
    let u = udp4(T4, S4, 40000 ^ 0x5a5a, 53, &vec![9u8; len]);
    V4::new(T4, S4, UDP).build(&[], &u)
}

/// An ICMPv4 error from a router about that datagram.
fn error4(ty: u8, code: u8, rest: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let router = Ipv4Addr::new(192, 0, 2, 254);
    let mut v4 = V4::new(router, T4, ICMP);
    v4.df = false;
    v4.build(&[], &icmp4(ty, code, rest, quoted))
}

/// The datagram S sent to H6 after 4 -> 6: 64:ff9b::S4 -> H6, UDP.
fn quoted_udp6(len: usize) -> Vec<u8> {
    let u = udp6(s6(), a6(H6), 53, 40000, &vec![9u8; len]);
    ipv6(s6(), a6(H6), UDP, 60, 0, &u)
}

fn error6(ty: u8, code: u8, rest: [u8; 4], quoted: &[u8]) -> Vec<u8> {
    let router = a6("2001:db8:1::1");
    let m = icmp6(router, s6(), ty, code, rest, quoted);
    ipv6(router, s6(), ICMPV6, 64, 0, &m)
}

#[test]
fn icmpv4_error_rows_4to6() {
    // RFC 7915 §4.2, as translated end to end: (type, code, want).
    let rows: [Row; 22] = [
        (3, 0, Some((1, 0))),
        (3, 1, Some((1, 0))),
        (3, 2, Some((4, 1))),
        (3, 3, Some((1, 4))),
        (3, 4, Some((2, 0))),
        (3, 5, Some((1, 0))),
        (3, 6, Some((1, 0))),
        (3, 7, Some((1, 0))),
        (3, 8, Some((1, 0))),
        (3, 9, Some((1, 1))),
        (3, 10, Some((1, 1))),
        (3, 11, Some((1, 0))),
        (3, 12, Some((1, 0))),
        (3, 13, Some((1, 1))),
        (3, 14, None),
        (3, 15, Some((1, 1))),
        (11, 0, Some((3, 0))),
        (11, 1, Some((3, 1))),
        (12, 0, Some((4, 0))),
        (12, 1, None),
        (12, 2, Some((4, 0))),
        (4, 0, None),
    ];
    for (ty, code, want) in rows {
        let pkt = error4(ty, code, [0; 4], &quoted_udp4(20));
        let (o, out) = run46(&mut xlat(), &mut Nat::default(), &pkt);
        match (o, want) {
            (Outcome::Translated { len }, Some((t6, c6))) => {
                let e = Out6::check(&out[..len]);
                assert_eq!(
                    (e.payload()[0], e.payload()[1]),
                    (t6, c6),
                    "ICMPv4 {ty}/{code}"
                );
                assert!(e.transport_ok(), "checksum for {ty}/{code}");
            }
            (Outcome::Drop(_), None) => {}
            (o, w) => panic!("ICMPv4 {ty}/{code}: {o:?}, wanted {w:?}"),
        }
    }
}

#[test]
fn icmpv6_error_rows_6to4() {
    // RFC 7915 §5.2 end to end.
    let rows: [Row; 13] = [
        (1, 0, Some((3, 1))),
        (1, 1, Some((3, 10))),
        (1, 2, Some((3, 1))),
        (1, 3, Some((3, 1))),
        (1, 4, Some((3, 3))),
        (1, 5, None),
        (2, 0, Some((3, 4))),
        (3, 0, Some((11, 0))),
        (3, 1, Some((11, 1))),
        (4, 0, Some((12, 0))),
        (4, 1, Some((3, 2))),
        (4, 2, None),
        (100, 0, None),
    ];
    for (ty, code, want) in rows {
        let rest = if ty == 2 {
            1400u32.to_be_bytes()
        } else {
            [0; 4]
        };
        let pkt = error6(ty, code, rest, &quoted_udp6(20));
        let (o, out) = run64(&mut xlat(), &mut Nat::default(), &pkt);
        match (o, want) {
            (Outcome::Translated { len }, Some((t4, c4))) => {
                let e = Out4::check(&out[..len]);
                assert_eq!((e.l4()[0], e.l4()[1]), (t4, c4), "ICMPv6 {ty}/{code}");
                assert_eq!(csum(e.l4()), 0, "checksum for {ty}/{code}");
            }
            (Outcome::Drop(_), None) => {}
            (o, w) => panic!("ICMPv6 {ty}/{code}: {o:?}, wanted {w:?}"),
        }
    }
}

#[test]
fn parameter_problem_pointers() {
    // Figure 3 end to end: IPv4 pointer 9 (Protocol) -> 6 (Next Header);
    // 16 (Destination) -> 24; 10 (Checksum) -> dropped.
    for (p4, p6) in [
        (0u8, Some(0u32)),
        (1, Some(1)),
        (2, Some(4)),
        (8, Some(7)),
        (9, Some(6)),
        (12, Some(8)),
        (16, Some(24)),
        (10, None),
        (5, None),
    ] {
        let pkt = error4(12, 0, [p4, 0, 0, 0], &quoted_udp4(8));
        let (o, out) = run46(&mut xlat(), &mut Nat::default(), &pkt);
        match p6 {
            Some(p6) => {
                let Outcome::Translated { len } = o else {
                    panic!("{p4}: {o:?}")
                };
                assert!(len > 48);
                assert_eq!(out[40], 4, "Parameter Problem");
                assert_eq!(&out[44..48], &p6.to_be_bytes(), "IPv4 pointer {p4}");
            }
            None => assert_eq!(o, Outcome::Drop(Reason::IcmpPointer), "IPv4 pointer {p4}"),
        }
    }
    // Figure 6: IPv6 pointer 7 -> 8, 24..39 -> 16, 2 and 40 dropped.
    for (p6, p4) in [
        (0u32, Some(0u8)),
        (4, Some(2)),
        (6, Some(9)),
        (7, Some(8)),
        (8, Some(12)),
        (39, Some(16)),
        (2, None),
        (40, None),
    ] {
        let pkt = error6(4, 0, p6.to_be_bytes(), &quoted_udp6(8));
        let (o, out) = run64(&mut xlat(), &mut Nat::default(), &pkt);
        match p4 {
            Some(p4) => {
                let Outcome::Translated { .. } = o else {
                    panic!("{p6}: {o:?}")
                };
                assert_eq!(out[24], p4, "IPv6 pointer {p6}");
            }
            None => assert_eq!(o, Outcome::Drop(Reason::IcmpPointer), "IPv6 pointer {p6}"),
        }
    }
}

#[test]
fn error_quoting_a_packet_is_translated_4to6() {
    let quoted = quoted_udp4(40);
    let pkt = error4(3, 3, [0; 4], &quoted);
    let mut nat = Nat::default();
    let e = translated6(&mut xlat(), &mut nat, &pkt);
    assert_eq!(
        nat.asked,
        vec![(Role::Quoted, true, 0)],
        "asked once, quoted, no state"
    );
    assert_eq!(
        (e.src(), e.dst()),
        (s6(), a6(H6)),
        "from the IPv4 peer to H6"
    );
    assert_eq!(e.hop(), 63);
    let inner = Out6::check(&e.payload()[8..]);
    assert_eq!(
        (inner.src(), inner.dst()),
        (a6(H6), s6()),
        "the quoted packet as H6 sent it"
    );
    assert_eq!(inner.hop(), 64, "RFC 7915 §4.3: not decremented");
    assert_eq!(
        &inner.payload()[..4],
        &[40000u16.to_be_bytes(), 53u16.to_be_bytes()].concat()[..]
    );
    assert!(inner.transport_ok(), "the quoted checksum is updated too");
    assert!(e.transport_ok());
}

#[test]
fn error_quoting_a_packet_is_translated_6to4() {
    let pkt = error6(1, 4, [0; 4], &quoted_udp6(40));
    let mut nat = Nat::default();
    let e = translated4(&mut xlat(), &mut nat, &pkt);
    assert_eq!(nat.asked, vec![(Role::Quoted, true, 0)]);
    assert_eq!(
        (e.src(), e.dst()),
        (T4, S4),
        "RFC 6146: from the pool address to S"
    );
    let inner = Out4::check(&e.l4()[8..]);
    assert_eq!((inner.src(), inner.dst()), (S4, T4));
    assert_eq!(inner.ttl(), 60);
    assert_eq!(
        &inner.l4()[..4],
        &[53u16.to_be_bytes(), (40000u16 ^ 0x5a5a).to_be_bytes()].concat()[..]
    );
    assert!(inner.transport_ok());
}

#[test]
fn errors_are_truncated_to_576_and_1280() {
    // A quoted datagram of 1400 bytes: the ICMPv6 error stops at 1280.
    let pkt = error4(11, 0, [0; 4], &quoted_udp4(1372));
    let e = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(e.bytes.len(), 1280);
    assert!(e.transport_ok());
    let inner = &e.payload()[8..];
    assert_eq!(
        u16::from_be_bytes([inner[4], inner[5]]),
        1380,
        "the quoted length field is the original's"
    );
    // And the ICMPv4 error stops at 576.
    let pkt = error6(3, 0, [0; 4], &quoted_udp6(1000));
    let e = translated4(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(e.bytes.len(), 576);
    assert_eq!(csum(e.l4()), 0);
}

#[test]
fn rfc4884_extensions_keep_their_length_attribute() {
    // ICMPv4 Time Exceeded, original datagram padded to 128 bytes (32
    // words), then a 12-byte extension structure.
    let mut original = quoted_udp4(20);
    original.resize(128, 0);
    let ext = [0x20, 0, 0xaa, 0xbb, 0, 8, 1, 1, 1, 2, 3, 4];
    let mut body = original.clone();
    body.extend_from_slice(&ext);
    let pkt = error4(11, 0, [0, 32, 0, 0], &body);
    let e = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    let icmp = e.payload();
    let words = usize::from(icmp[4]);
    assert!(words >= 16, "at least 128 bytes, in 64-bit words");
    assert_eq!(
        &icmp[8 + words * 8..],
        &ext,
        "the extension follows the padded datagram"
    );
    assert!(e.transport_ok());

    // ICMPv6 Destination Unreachable with a length of 16 (128 bytes).
    let mut original = quoted_udp6(20);
    original.resize(128, 0);
    let mut body = original.clone();
    body.extend_from_slice(&ext);
    let pkt = error6(1, 0, [16, 0, 0, 0], &body);
    let e = translated4(&mut xlat(), &mut Nat::default(), &pkt);
    let icmp = e.l4();
    let words = usize::from(icmp[5]);
    assert_eq!(words, 32, "128 bytes in 32-bit words");
    assert_eq!(&icmp[8 + words * 4..], &ext);
    assert_eq!(csum(icmp), 0);

    // No extension: length zero.
    let pkt = error6(1, 0, [0; 4], &quoted_udp6(20));
    let e = translated4(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(e.l4()[5], 0);
}

#[test]
fn an_error_about_an_error_is_dropped() {
    let inner_err = V4::new(T4, S4, ICMP).build(&[], &icmp4(3, 1, [0; 4], &quoted_udp4(8)[..28]));
    let pkt = error4(3, 1, [0; 4], &inner_err);
    assert_eq!(
        run46(&mut xlat(), &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::IcmpErrorInError)
    );
    let inner6 = ipv6(
        s6(),
        a6(H6),
        ICMPV6,
        64,
        0,
        &icmp6(s6(), a6(H6), 1, 0, [0; 4], &[0; 48]),
    );
    let pkt = error6(3, 0, [0; 4], &inner6);
    assert_eq!(
        run64(&mut xlat(), &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::IcmpErrorInError)
    );
    // And no ICMP error is ever sent about an error: a Time Exceeded
    // candidate that is itself an error is just dropped.
    let mut hop1 = error6(1, 0, [0; 4], &quoted_udp6(8));
    hop1[7] = 1;
    assert_eq!(
        run64(&mut xlat(), &mut Nat::default(), &hop1).0,
        Outcome::Drop(Reason::HopLimit)
    );
}

#[test]
fn a_bad_icmp_error_checksum_drops() {
    let mut pkt = error4(3, 3, [0; 4], &quoted_udp4(8));
    let last = pkt.len() - 1;
    pkt[last] ^= 0xff;
    assert_eq!(
        run46(&mut xlat(), &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::IcmpChecksum)
    );
}

#[test]
fn packet_too_big_and_fragmentation_needed() {
    // FN with MTU 1400 -> PTB 1420 (RFC 7915 §4.2: + 20).
    let pkt = error4(3, 4, [0, 0, 0x05, 0x78], &quoted_udp4(1400)[..548]);
    let e = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(&e.payload()[..2], &[2, 0]);
    assert_eq!(&e.payload()[4..8], &1420u32.to_be_bytes());
    // Bounded by the IPv6 next hop: 1500 when FN says 1492.
    let pkt = error4(3, 4, [0, 0, 0x05, 0xd4], &quoted_udp4(1400)[..548]);
    let e = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(&e.payload()[4..8], &1500u32.to_be_bytes());
    // MTU 0 (a pre-RFC 1191 router): the plateau below the quoted Total
    // Length 4008 is 2002, + 20 = 2022, capped by the 9000 next hop.
    let cfg = Config::builder()
        .ipv6_mtu(9000)
        .ipv4_mtu(9000)
        .build()
        .unwrap();
    let mut x = Translator::new(cfg, 1);
    let pkt = error4(3, 4, [0; 4], &quoted_udp4(3980)[..548]);
    let e = translated6(&mut x, &mut Nat::default(), &pkt);
    assert_eq!(&e.payload()[4..8], &2022u32.to_be_bytes());
    // Below 1280 is raised to 1280 (RFC 7915 §6).
    let pkt = error4(3, 4, [0, 0, 0x02, 0x40], &quoted_udp4(600)[..548]);
    let e = translated6(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(&e.payload()[4..8], &1280u32.to_be_bytes());

    // PTB 1400 -> FN 1380 (RFC 7915 §5.2: - 20).
    let pkt = error6(2, 0, 1400u32.to_be_bytes(), &quoted_udp6(1000));
    let e = translated4(&mut xlat(), &mut Nat::default(), &pkt);
    assert_eq!(&e.l4()[..2], &[3, 4]);
    assert_eq!(&e.l4()[6..8], &1380u16.to_be_bytes());
    // Bounded by the IPv4 next hop.
    let cfg = Config::builder().ipv4_mtu(1300).build().unwrap();
    let pkt = error6(2, 0, 9000u32.to_be_bytes(), &quoted_udp6(1000));
    let e = translated4(&mut Translator::new(cfg, 1), &mut Nat::default(), &pkt);
    assert_eq!(&e.l4()[6..8], &1300u16.to_be_bytes());
}

#[test]
fn unmapped_packets_are_refused_as_the_mapping_says() {
    // From an IPv6 host the mapping does not know: Destination
    // Unreachable code 3, as the mapping asked.
    let stranger = a6("2001:db8:9::9");
    let pkt = ipv6(
        stranger,
        s6(),
        UDP,
        64,
        0,
        &udp6(stranger, s6(), 1, 2, b"?"),
    );
    let r = reply6(&mut xlat(), &mut Nat::default(), &pkt, Reason::Unmapped);
    assert_eq!(&r.payload()[..2], &[1, 3]);
    // To an IPv4 address that is not the pool: code 13.
    let other = Ipv4Addr::new(203, 0, 113, 99);
    let pkt = V4::new(S4, other, UDP).build(&[], &udp4(S4, other, 2, 1, b"?"));
    let r = reply4(&mut xlat(), &mut Nat::default(), &pkt, Reason::Filtered);
    assert_eq!(&r.l4()[..2], &[3, 13]);
    // A quoted packet the mapping does not know: dropped, no reply.
    let q = udp4(other, S4, 1, 2, b"?");
    let pkt = error4(3, 3, [0; 4], &V4::new(other, S4, UDP).build(&[], &q));
    assert_eq!(
        run46(&mut xlat(), &mut Nat::default(), &pkt).0,
        Outcome::Drop(Reason::Filtered)
    );
}

#[test]
fn malformed_input_drops_and_small_buffers_are_refused() {
    let mut x = xlat();
    let mut nat = Nat::default();
    let pkt = quoted_udp6(10);
    assert_eq!(
        run64(&mut x, &mut nat, &pkt[..39]).0,
        Outcome::Drop(Reason::Ipv6Header)
    );
    assert_eq!(
        run64(&mut x, &mut nat, &pkt[..55]).0,
        Outcome::Drop(Reason::Ipv6Header)
    );
    let v4 = V4::new(S4, T4, UDP).build(&[], &udp4(S4, T4, 1, 2, b"x"));
    let mut bad = v4.clone();
    bad[10] ^= 1;
    assert_eq!(
        run46(&mut x, &mut nat, &bad).0,
        Outcome::Drop(Reason::Ipv4Checksum)
    );
    let mut small = [0u8; 30];
    let o = x.translate_4to6(&mut nat, &v4, &mut small);
    assert_eq!(o, Outcome::Drop(Reason::BufferTooSmall));
}

// ---------------------------------------------------------------------------
// Property tests: 6 -> 4 -> 6 keeps the payload and the mapped fields.

fn stateless() -> PrefixMapping {
    PrefixMapping::new("2001:db8:64::/96".parse().unwrap())
}

proptest! {
    #[test]
    fn six_four_six_round_trip(
        src in any::<u32>(),
        dst in any::<u32>(),
        sport in any::<u16>(),
        dport in any::<u16>(),
        tc in any::<u8>(),
        hop in 3u8..=255,
        kind in 0u8..3,
        data in proptest::collection::vec(any::<u8>(), 0..1400),
    ) {
        let p: Nat64Prefix = "2001:db8:64::/96".parse().unwrap();
        let (s, d) = (p.embed(Ipv4Addr::from(src)), p.embed(Ipv4Addr::from(dst)));
        let (next, l4) = match kind {
            0 => (UDP, udp6(s, d, sport, dport, &data)),
            1 => (TCP, tcp6(s, d, sport, dport, &data)),
            _ => {
                let rest = [(sport >> 8) as u8, sport as u8, 0, 1];
                (ICMPV6, icmp6(s, d, 128, 0, rest, &data))
            }
        };
        let pkt = ipv6(s, d, next, hop, tc, &l4);
        let mut x = Translator::new(Config::builder().ipv4_mtu(9000).build().unwrap(), 3);
        let mut m = stateless();
        let (o, out) = run64(&mut x, &mut m, &pkt);
        let Outcome::Translated { len } = o else { panic!("{o:?}") };
        let v4 = Out4::check(&out[..len]);
        prop_assert_eq!(v4.src(), Ipv4Addr::from(src));
        prop_assert_eq!(v4.dst(), Ipv4Addr::from(dst));
        if next == ICMPV6 {
            prop_assert_eq!(csum(v4.l4()), 0);
        } else {
            prop_assert!(v4.transport_ok());
        }
        let (o, out) = run46(&mut x, &mut m, &v4.bytes);
        let Outcome::Translated { len } = o else { panic!("{o:?}") };
        let back = Out6::check(&out[..len]);
        prop_assert_eq!(back.src(), s);
        prop_assert_eq!(back.dst(), d);
        prop_assert_eq!(back.tc(), tc);
        prop_assert_eq!(back.hop(), hop - 2);
        prop_assert_eq!(back.next(), next);
        // Everything but the checksum is identical; the checksum is equal
        // up to the two encodings of zero in one's complement (RFC 1624 §3).
        let at = match next { UDP => 6, TCP => 16, _ => 2 };
        let (x, y) = (back.payload(), &l4[..]);
        prop_assert_eq!(&x[..at], &y[..at]);
        prop_assert_eq!(&x[at + 2..], &y[at + 2..]);
        let (cx, cy) = ([x[at], x[at + 1]], [y[at], y[at + 1]]);
        let zero = |c: [u8; 2]| c == [0, 0] || c == [0xff, 0xff];
        prop_assert!(cx == cy || (zero(cx) && zero(cy)), "checksum {:?} vs {:?}", cx, cy);
    }

    #[test]
    fn four_six_four_round_trip(
        src in any::<u32>(),
        dst in any::<u32>(),
        sport in any::<u16>(),
        dport in any::<u16>(),
        tos in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 0..1200),
    ) {
        let (s, d) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
        prop_assume!(!s.is_broadcast() && !s.is_multicast() && !s.is_unspecified());
        let u = udp4(s, d, sport, dport, &data);
        let mut v4 = V4::new(s, d, UDP);
        v4.tos = tos;
        let pkt = v4.build(&[], &u);
        let mut x = xlat();
        let mut m = stateless();
        let (o, out) = run46(&mut x, &mut m, &pkt);
        let Outcome::Translated { len } = o else { panic!("{o:?}") };
        let v6 = Out6::check(&out[..len]);
        prop_assert!(v6.transport_ok());
        let (o, out) = run64(&mut x, &mut m, &v6.bytes);
        let Outcome::Translated { len } = o else { panic!("{o:?}") };
        let back = Out4::check(&out[..len]);
        prop_assert_eq!((back.src(), back.dst(), back.tos()), (s, d, tos));
        prop_assert_eq!(back.l4(), &u[..]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut x = xlat();
        let mut out = vec![0u8; MAX_OUTPUT];
        let _ = x.translate_6to4(&mut Nat::default(), &data, &mut out);
        let _ = x.translate_4to6(&mut Nat::default(), &data, &mut out);
    }
}

// ---------------------------------------------------------------------------
// Offloads: partial checksums (CHECKSUM_PARTIAL) and TCP super-packets.

/// The partial checksum Linux leaves in a TCP or UDP header (the
/// pseudo-header's sum, not complemented) in place of the full one.
fn make_partial(mut l4: Vec<u8>, at: usize, pseudo: &[u8]) -> Vec<u8> {
    l4[at..at + 2].copy_from_slice(&(ones_sum(pseudo) as u16).to_be_bytes());
    l4
}

/// What the kernel or a NIC does with a partial checksum: sums the
/// transport header and payload from the field's value and stores the
/// complement.
fn complete(l4: &mut [u8], at: usize) {
    let c = csum(l4);
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn off(partial: bool, segment: u16) -> Offload {
    Offload {
        partial_checksum: partial,
        segment_size: segment,
    }
}

fn run64_off(
    x: &mut Translator,
    m: &mut impl Mapping,
    pkt: &[u8],
    o: Offload,
) -> (Outcome, Vec<u8>) {
    let mut out = vec![0u8; MAX_OUTPUT];
    let r = x.translate_6to4_offload(m, pkt, o, &mut out);
    (r, out)
}

fn run46_off(
    x: &mut Translator,
    m: &mut impl Mapping,
    pkt: &[u8],
    o: Offload,
) -> (Outcome, Vec<u8>) {
    let mut out = vec![0u8; MAX_OUTPUT];
    let r = x.translate_4to6_offload(m, pkt, o, &mut out);
    (r, out)
}

#[test]
fn a_tcp_super_packet_6to4_stays_one_with_a_partial_checksum() {
    // 20,000 bytes of payload in segments of 1440: far above the IPv4 MTU
    // as a whole, each segment within it.
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7) as u8).collect();
    let t = tcp_raw(40000, 80, 0x10, &data);
    let len = t.len();
    let t = make_partial(t, 16, &pseudo6_bytes(a6(H6), s6(), len, TCP));
    let pkt = ipv6(a6(H6), s6(), TCP, 64, 0, &t);
    let mut x = xlat();
    let mut m = Nat::default();
    let (o, out) = run64_off(&mut x, &mut m, &pkt, off(true, 1440));
    let Outcome::Translated { len: n } = o else {
        panic!("expected one translated super-packet, got {o:?}")
    };
    let v4 = Out4::check(&out[..n]);
    assert_eq!(v4.total(), 20 + 20 + 20_000);
    assert!(v4.df(), "segments of 1480 bytes get DF (RFC 7915 §5.1)");
    assert_eq!((v4.src(), v4.dst(), v4.ttl()), (T4, S4, 63));
    let mut l4 = v4.l4().to_vec();
    assert_eq!(&l4[..2], &(40000u16 ^ 0x5a5a).to_be_bytes(), "port mapped");
    assert_eq!(&l4[20..], &data[..], "payload untouched");
    // The field now holds the IPv4 pseudo-header's sum: completing it as
    // the kernel would gives a checksum that verifies.
    let pseudo = pseudo4_bytes(T4, S4, l4.len(), TCP);
    assert_eq!(
        u32::from(u16::from_be_bytes([l4[16], l4[17]])),
        ones_sum(&pseudo)
    );
    complete(&mut l4, 16);
    assert!(verifies(&pseudo, &l4));
}

#[test]
fn a_tcp_super_packet_4to6_stays_one_with_a_partial_checksum() {
    let data: Vec<u8> = (0..30_000u32).map(|i| (i * 13) as u8).collect();
    let t = tcp_raw(80, 40000, 0x10, &data);
    let len = t.len();
    let t = make_partial(t, 16, &pseudo4_bytes(S4, T4, len, TCP));
    let pkt = V4::new(S4, T4, TCP).build(&[], &t);
    let mut x = xlat();
    let mut m = Nat::default();
    let (o, out) = run46_off(&mut x, &mut m, &pkt, off(true, 1440));
    let Outcome::Translated { len: n } = o else {
        panic!("expected one translated super-packet, got {o:?}")
    };
    let v6 = Out6::check(&out[..n]);
    assert_eq!(v6.payload().len(), 20 + 30_000);
    assert_eq!((v6.src(), v6.dst(), v6.next()), (s6(), a6(H6), TCP));
    let mut l4 = v6.payload().to_vec();
    assert_eq!(&l4[20..], &data[..]);
    complete(&mut l4, 16);
    assert!(verifies(&pseudo6_bytes(s6(), a6(H6), l4.len(), TCP), &l4));
}

#[test]
fn offloads_that_cannot_be_kept_are_refused_before_the_mapping() {
    let mut x = xlat();
    let big: Vec<u8> = vec![0x55; 4000];
    let t6 = |hop: u8| {
        let t = tcp_raw(40000, 80, 0x10, &big);
        let len = t.len();
        ipv6(
            a6(H6),
            s6(),
            TCP,
            hop,
            0,
            &make_partial(t, 16, &pseudo6_bytes(a6(H6), s6(), len, TCP)),
        )
    };
    let u6 = {
        let u = udp_raw(5000, 53, &big);
        let len = u.len();
        ipv6(
            a6(H6),
            s6(),
            UDP,
            64,
            0,
            &make_partial(u, 6, &pseudo6_bytes(a6(H6), s6(), len, UDP)),
        )
    };
    let echo = icmp6(a6(H6), s6(), 128, 0, [0, 1, 0, 1], b"ping");
    let echo = ipv6(a6(H6), s6(), ICMPV6, 64, 0, &echo);
    for (why, pkt, o) in [
        ("segments above the IPv4 MTU", t6(64), off(true, 1481)),
        ("a whole packet above the IPv4 MTU", t6(64), off(true, 0)),
        (
            "the last hop: Time Exceeded is the software path's",
            t6(1),
            off(true, 1440),
        ),
        (
            "a super-packet without a partial checksum",
            t6(64),
            off(false, 1440),
        ),
        (
            "UDP super-packets (only TCP is cut here)",
            u6.clone(),
            off(true, 1000),
        ),
        ("ICMP", echo, off(true, 0)),
    ] {
        let mut m = Nat::default();
        let (r, _) = run64_off(&mut x, &mut m, &pkt, o);
        assert_eq!(r, Outcome::Drop(Reason::Offload), "{why}");
        assert!(m.asked.is_empty(), "{why}: the mapping was asked");
    }
    // IPv4 without DF: segments above lowest-ipv6-mtu would need fragments.
    let t = tcp_raw(80, 40000, 0x10, &big);
    let len = t.len();
    let t = make_partial(t, 16, &pseudo4_bytes(S4, T4, len, TCP));
    let mut v4 = V4::new(S4, T4, TCP);
    v4.df = false;
    let mut m = Nat::default();
    let (r, _) = run46_off(&mut x, &mut m, &v4.build(&[], &t), off(true, 1440));
    assert_eq!(r, Outcome::Drop(Reason::Offload));
    assert!(m.asked.is_empty());
    // ... and with segments that fit 1280 they pass, unfragmented.
    let (r, _) = run46_off(&mut x, &mut m, &v4.build(&[], &t), off(true, 1200));
    assert!(matches!(r, Outcome::Translated { .. }), "{r:?}");
    // Options: refused with offloads.
    let (r, _) = run46_off(
        &mut x,
        &mut Nat::default(),
        &V4::new(S4, T4, TCP).build(&[1, 1, 1, 1], &t),
        off(true, 1440),
    );
    assert_eq!(r, Outcome::Drop(Reason::Offload));
}

proptest! {
    /// A partial checksum translated and then completed equals the full
    /// checksum translated: both ways, TCP and UDP, any addresses, ports
    /// and payload.
    #[test]
    fn partial_checksums_translate_like_full_ones(
        tcp in any::<bool>(),
        src in any::<u32>(),
        sport in any::<u16>(),
        dport in any::<u16>(),
        data in proptest::collection::vec(any::<u8>(), 0..1400),
    ) {
        let (p, at) = if tcp { (TCP, 16) } else { (UDP, 6) };
        let raw = |s, d| if tcp { tcp_raw(s, d, 0x18, &data) } else { udp_raw(s, d, &data) };
        let mut x = xlat();
        // 6 -> 4.
        let dst6 = wkp().embed(Ipv4Addr::from(src));
        let l4 = raw(sport, dport);
        let len = l4.len();
        let ph = pseudo6_bytes(a6(H6), dst6, len, p);
        let full = ipv6(a6(H6), dst6, p, 64, 0, &seal(l4.clone(), at, &ph));
        let part = ipv6(a6(H6), dst6, p, 64, 0, &make_partial(l4, at, &ph));
        let (o1, a) = run64(&mut x, &mut Nat::default(), &full);
        let (o2, b) = run64_off(&mut x, &mut Nat::default(), &part, off(true, 0));
        let (Outcome::Translated { len: n1 }, Outcome::Translated { len: n2 }) = (o1, o2) else {
            panic!("{o1:?} {o2:?}")
        };
        let (a, b) = (Out4::check(&a[..n1]), Out4::check(&b[..n2]));
        let mut lb = b.l4().to_vec();
        complete(&mut lb, at);
        prop_assert!(verifies(&pseudo4_bytes(b.src(), b.dst(), lb.len(), p), &lb));
        let zero = |c: &[u8]| c == [0, 0] || c == [0xff, 0xff];
        prop_assert!(a.l4() == &lb[..] || zero(&a.l4()[at..at + 2]) && zero(&lb[at..at + 2]));
        // 4 -> 6.
        let src4 = Ipv4Addr::from(src);
        prop_assume!(!src4.is_broadcast() && !src4.is_multicast() && !src4.is_unspecified());
        let l4 = raw(dport, sport);
        let len = l4.len();
        let ph = pseudo4_bytes(src4, T4, len, p);
        let full = V4::new(src4, T4, p).build(&[], &seal(l4.clone(), at, &ph));
        let part = V4::new(src4, T4, p).build(&[], &make_partial(l4, at, &ph));
        let (o1, a) = run46(&mut x, &mut Nat::default(), &full);
        let (o2, b) = run46_off(&mut x, &mut Nat::default(), &part, off(true, 0));
        let (Outcome::Translated { len: n1 }, Outcome::Translated { len: n2 }) = (o1, o2) else {
            panic!("{o1:?} {o2:?}")
        };
        let (a, b) = (Out6::check(&a[..n1]), Out6::check(&b[..n2]));
        let mut lb = b.payload().to_vec();
        complete(&mut lb, at);
        prop_assert!(verifies(&pseudo6_bytes(b.src(), b.dst(), lb.len(), p), &lb));
        prop_assert!(a.payload() == &lb[..] || zero(&a.payload()[at..at + 2]) && zero(&lb[at..at + 2]));
    }
}
