//! Simulation over virtual time: IPv6 clients, the NAT64 engine and IPv4
//! servers stepping real packets (quinn `tests/util.rs::Pair` style).

use std::net::{Ipv4Addr, Ipv6Addr};

use sixgate::nat64::state::{self, Event, Pool4Range, Protocol, Settings};
use sixgate::nat64::xlat::{self, Reason, MAX_OUTPUT};
use sixgate::nat64::{Emit, Nat64};
use sixgate::time::Instant;
use sixgate::Nat64Prefix;

fn ones_sum(data: &[u8]) -> u32 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        s += (u32::from(c[0]) << 8) | u32::from(*c.get(1).unwrap_or(&0));
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

fn seal(l4: &mut [u8], at: usize, pseudo: &[u8]) {
    l4[at..at + 2].copy_from_slice(&[0, 0]);
    let mut all = pseudo.to_vec();
    all.extend_from_slice(l4);
    let c = !(ones_sum(&all) as u16);
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

fn pseudo6(src: Ipv6Addr, dst: Ipv6Addr, len: usize, next: u8) -> Vec<u8> {
    [
        &src.octets()[..],
        &dst.octets(),
        &(len as u32).to_be_bytes(),
        &[0, 0, 0, next],
    ]
    .concat()
}

fn pseudo4(src: Ipv4Addr, dst: Ipv4Addr, len: usize, proto: u8) -> Vec<u8> {
    [
        &src.octets()[..],
        &dst.octets(),
        &[0, proto],
        &(len as u16).to_be_bytes(),
    ]
    .concat()
}

/// A transport segment: UDP (17), TCP (6) with `flags`, or ICMP echo
/// (1 or 58, ports = identifier and sequence).
fn l4(proto: u8, sport: u16, dport: u16, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    match proto {
        17 => {
            t.extend_from_slice(&sport.to_be_bytes());
            t.extend_from_slice(&dport.to_be_bytes());
            t.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
            t.extend_from_slice(&[0, 0]);
        }
        6 => {
            t.extend_from_slice(&sport.to_be_bytes());
            t.extend_from_slice(&dport.to_be_bytes());
            t.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        }
        _ => {
            t.extend_from_slice(&[flags, 0, 0, 0]);
            t.extend_from_slice(&sport.to_be_bytes());
            t.extend_from_slice(&dport.to_be_bytes());
        }
    }
    t.extend_from_slice(data);
    t
}

fn at_of(proto: u8) -> usize {
    match proto {
        17 => 6,
        6 => 16,
        _ => 2,
    }
}

fn v6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    proto: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut t = l4(proto, sport, dport, flags, data);
    let len = t.len();
    seal(&mut t, at_of(proto), &pseudo6(src, dst, len, proto));
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(t.len() as u16).to_be_bytes());
    p.extend_from_slice(&[proto, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&t);
    p
}

fn v4_with(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src.octets());
    h.extend_from_slice(&dst.octets());
    let c = !(ones_sum(&h) as u16);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

fn v4(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    sport: u16,
    dport: u16,
    flags: u8,
    data: &[u8],
) -> Vec<u8> {
    let mut t = l4(proto, sport, dport, flags, data);
    let len = t.len();
    let pseudo = if proto == 1 {
        Vec::new()
    } else {
        pseudo4(src, dst, len, proto)
    };
    seal(&mut t, at_of(proto), &pseudo);
    v4_with(src, dst, proto, &t)
}

/// What a packet says, read naively, with its checksum verified.
#[derive(Debug, PartialEq, Eq)]
struct Seen<A> {
    src: A,
    dst: A,
    sport: u16,
    dport: u16,
    data: Vec<u8>,
}

fn read6(p: &[u8]) -> Seen<Ipv6Addr> {
    let src = Ipv6Addr::from(<[u8; 16]>::try_from(&p[8..24]).unwrap());
    let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&p[24..40]).unwrap());
    let t = &p[40..];
    assert_eq!(
        ones_sum(&[pseudo6(src, dst, t.len(), p[6]), t.to_vec()].concat()),
        0xffff,
        "checksum"
    );
    let (sport, dport, hdr) = match p[6] {
        58 => (
            u16::from_be_bytes([t[4], t[5]]),
            u16::from_be_bytes([t[6], t[7]]),
            8,
        ),
        6 => (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
            20,
        ),
        _ => (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
            8,
        ),
    };
    Seen {
        src,
        dst,
        sport,
        dport,
        data: t[hdr..].to_vec(),
    }
}

fn read4(p: &[u8]) -> Seen<Ipv4Addr> {
    assert_eq!(ones_sum(&p[..20]), 0xffff, "header checksum");
    let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
    let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
    let t = &p[20..];
    let pseudo = if p[9] == 1 {
        Vec::new()
    } else {
        pseudo4(src, dst, t.len(), p[9])
    };
    assert_eq!(ones_sum(&[pseudo, t.to_vec()].concat()), 0xffff, "checksum");
    let (sport, dport, hdr) = match p[9] {
        1 => (
            u16::from_be_bytes([t[4], t[5]]),
            u16::from_be_bytes([t[6], t[7]]),
            8,
        ),
        6 => (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
            20,
        ),
        _ => (
            u16::from_be_bytes([t[0], t[1]]),
            u16::from_be_bytes([t[2], t[3]]),
            8,
        ),
    };
    Seen {
        src,
        dst,
        sport,
        dport,
        data: t[hdr..].to_vec(),
    }
}

const POOL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn client() -> Ipv6Addr {
    "2001:db8:1::10".parse().unwrap()
}

fn server6() -> Ipv6Addr {
    Nat64Prefix::WELL_KNOWN.embed(SERVER)
}

/// pool4: 203.0.113.1, ports 1024-65535 for TCP and UDP, every ICMP
/// identifier.
fn settings() -> Settings {
    let pool = Protocol::ALL
        .into_iter()
        .map(|proto| Pool4Range {
            proto,
            net: "203.0.113.1/32".parse().unwrap(),
            ports: if proto == Protocol::Icmp {
                0..=65535
            } else {
                1024..=65535
            },
        })
        .collect();
    Settings::new(Nat64Prefix::WELL_KNOWN, pool)
}

fn nat_with(s: Settings) -> Nat64 {
    Nat64::new(xlat::Config::default(), state::Config::new(s).unwrap(), 9)
}

fn nat() -> Nat64 {
    nat_with(settings())
}

/// RFC 6146 §3.5.1.1: a translated source port keeps the original's range
/// (below 1024 or not) and parity.
fn same_class(a: u16, b: u16) -> bool {
    (a < 1024) == (b < 1024) && a % 2 == b % 2
}

struct Net {
    nat: Nat64,
    out: Vec<u8>,
}

impl Net {
    fn new() -> Self {
        Self {
            nat: nat(),
            out: vec![0; MAX_OUTPUT],
        }
    }
    /// An IPv6 packet in; the one IPv4 packet out.
    fn up(&mut self, now: u64, p: &[u8]) -> Vec<u8> {
        match self
            .nat
            .handle_v6(Instant::from_secs(now), p, &mut self.out)
        {
            Emit::V4 {
                len,
                chunk,
                reply: None,
            } if chunk == len => self.out[..len].to_vec(),
            e => panic!("expected one IPv4 packet, got {e:?}"),
        }
    }
    /// An IPv4 packet in; the one IPv6 packet out.
    fn down(&mut self, now: u64, p: &[u8]) -> Vec<u8> {
        match self
            .nat
            .handle_v4(Instant::from_secs(now), p, &mut self.out)
        {
            Emit::V6 {
                len,
                chunk,
                reply: None,
            } if chunk == len => self.out[..len].to_vec(),
            e => panic!("expected one IPv6 packet, got {e:?}"),
        }
    }
}

#[test]
fn udp_conversation_and_expiry() {
    let mut net = Net::new();
    let q = net.up(0, &v6(client(), server6(), 17, 5000, 53, 0, b"query"));
    let seen = read4(&q);
    let t = seen.sport;
    assert!(same_class(t, 5000), "{t}");
    assert_eq!(
        seen,
        Seen {
            src: POOL,
            dst: SERVER,
            sport: t,
            dport: 53,
            data: b"query".to_vec()
        }
    );
    let a = net.down(1, &v4(SERVER, POOL, 17, 53, t, 0, b"answer"));
    assert_eq!(
        read6(&a),
        Seen {
            src: server6(),
            dst: client(),
            sport: 53,
            dport: 5000,
            data: b"answer".to_vec()
        }
    );
    // The customer's port block, then the binding in it.
    assert!(matches!(
        net.nat.poll_event(),
        Some(Event::BlockAllocated { first, last, .. }) if (first..=last).contains(&t)
    ));
    assert!(matches!(
        net.nat.poll_event(),
        Some(Event::BibCreated { .. })
    ));
    // Five minutes after the last packet the session is gone; the server's
    // next datagram gets Port Unreachable. The answer at 1 s moved the
    // lifetime a whole second, so the timer list holds it at 301 exactly.
    assert_eq!(net.nat.poll_timeout(), Some(Instant::from_secs(301)));
    net.nat.handle_timeout(Instant::from_secs(300));
    assert_eq!(net.nat.state().stats().sessions, 1);
    let due = net.nat.poll_timeout().unwrap();
    assert_eq!(due, Instant::from_secs(301));
    net.nat.handle_timeout(due);
    assert!(matches!(
        net.nat.poll_event(),
        Some(Event::BibReleased { .. })
    ));
    assert!(matches!(
        net.nat.poll_event(),
        Some(Event::BlockReleased { .. })
    ));
    let late = v4(SERVER, POOL, 17, 53, t, 0, b"late");
    match net
        .nat
        .handle_v4(Instant::from_secs(302), &late, &mut net.out)
    {
        Emit::V4 {
            len,
            reply: Some(Reason::Unmapped),
            ..
        } => {
            let icmp = &net.out[20..len];
            assert_eq!(&icmp[..2], &[3, 3], "Port Unreachable");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn ping_maps_the_identifier() {
    let mut net = Net::new();
    let req = net.up(0, &v6(client(), server6(), 58, 0x4242, 1, 128, b"ping"));
    let seen = read4(&req);
    assert_eq!((seen.dst, seen.dport), (SERVER, 1));
    let id = seen.sport;
    let rep = net.down(1, &v4(SERVER, POOL, 1, id, 1, 0, b"ping"));
    let back = read6(&rep);
    assert_eq!(
        (back.dst, back.sport, back.data),
        (client(), 0x4242, b"ping".to_vec())
    );
    assert_eq!(rep[40], 129, "Echo Reply");
}

#[test]
fn tcp_handshake_close_and_timers() {
    let mut net = Net::new();
    let syn = net.up(0, &v6(client(), server6(), 6, 40000, 443, 0x02, b""));
    let t = read4(&syn).sport;
    let synack = net.down(0, &v4(SERVER, POOL, 6, 443, t, 0x12, b""));
    assert_eq!(read6(&synack).dport, 40000);
    net.nat.handle_timeout(Instant::from_secs(240));
    assert_eq!(
        net.nat.poll_timeout(),
        Some(Instant::from_secs(7440)),
        "ESTABLISHED"
    );
    // Time never goes back in the tables (an earlier `now` counts as the
    // latest seen), so the close comes after the timer run at 240.
    net.up(250, &v6(client(), server6(), 6, 40000, 443, 0x11, b""));
    assert_eq!(
        net.nat.poll_timeout(),
        Some(Instant::from_secs(250 + 7440)),
        "one FIN: still TCP_EST"
    );
    net.down(251, &v4(SERVER, POOL, 6, 443, t, 0x11, b""));
    assert_eq!(
        net.nat.poll_timeout(),
        Some(Instant::from_secs(251 + 240)),
        "both FINs: TCP_TRANS"
    );
    net.nat.handle_timeout(Instant::from_secs(490));
    assert_eq!(net.nat.state().stats().sessions, 1);
    net.nat.handle_timeout(Instant::from_secs(491));
    assert_eq!(net.nat.state().stats().sessions, 0);
    // A stray segment from the server now goes nowhere.
    let stray = v4(SERVER, POOL, 6, 443, t, 0x10, b"");
    assert_eq!(
        net.nat
            .handle_v4(Instant::from_secs(492), &stray, &mut net.out),
        Emit::Drop(Reason::Unmapped)
    );
}

#[test]
fn icmp_errors_come_back_through_the_session() {
    let mut net = Net::new();
    let out = net.up(0, &v6(client(), server6(), 17, 5000, 53, 0, b"query"));
    // A router on the IPv4 side says the server's port is closed.
    let router = Ipv4Addr::new(192, 0, 2, 254);
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&out[..28]);
    seal(&mut icmp, 2, &[]);
    let err = net.down(1, &v4_with(router, POOL, 1, &icmp));
    assert_eq!(err[6], 58);
    assert_eq!(&err[40..42], &[1, 4], "ICMPv6 port unreachable");
    assert_eq!(&err[24..40], &client().octets());
    let quoted = &err[48..];
    assert_eq!(
        &quoted[8..24],
        &client().octets(),
        "quoted as the client sent it"
    );
    assert_eq!(u16::from_be_bytes([quoted[40], quoted[41]]), 5000);
    assert_eq!(net.nat.state().stats().sessions, 1, "no new state");
}

#[test]
fn hairpinning_between_two_ipv6_hosts() {
    let mut net = Net::new();
    // Host A talks to the world first, so it has a binding.
    let a_out = net.up(0, &v6(client(), server6(), 17, 7000, 53, 0, b"hi"));
    let a_port = read4(&a_out).sport;
    // Host B sends to A's pool address, written under the prefix.
    let b: Ipv6Addr = "2001:db8:1::20".parse().unwrap();
    let a_as_seen = Nat64Prefix::WELL_KNOWN.embed(POOL);
    let pkt = v6(b, a_as_seen, 17, 8000, a_port, 0, b"hairpin");
    let e = net.nat.handle_v6(Instant::from_secs(1), &pkt, &mut net.out);
    let Emit::V6 {
        len,
        chunk,
        reply: None,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(len, chunk);
    let seen = read6(&net.out[..len]);
    assert_eq!((seen.dst, seen.dport), (client(), 7000));
    assert_eq!(seen.src, a_as_seen, "B appears as its own pool address");
    assert_eq!(seen.data, b"hairpin");
    assert_eq!(net.out[7], 62, "two translations, two hops");
}

#[test]
fn unsolicited_and_untranslatable_packets() {
    let mut net = Net::new();
    // To an address outside the prefix: dropped.
    let other: Ipv6Addr = "2001:db8:ffff::1".parse().unwrap();
    let e = net.nat.handle_v6(
        Instant::from_secs(0),
        &v6(client(), other, 17, 1, 2, 0, b""),
        &mut net.out,
    );
    assert_eq!(e, Emit::Drop(Reason::Unmapped));
    // TCP to the pool with no binding: a SYN is kept six seconds for a
    // simultaneous open (RFC 6146 §3.5.2.2), anything else dropped
    // silently.
    let e = net.nat.handle_v4(
        Instant::from_secs(0),
        &v4(SERVER, POOL, 6, 443, 9999, 0x02, b""),
        &mut net.out,
    );
    assert_eq!(e, Emit::Drop(Reason::SynStored));
    let e = net.nat.handle_v4(
        Instant::from_secs(0),
        &v4(SERVER, POOL, 6, 443, 9999, 0x10, b""),
        &mut net.out,
    );
    assert_eq!(e, Emit::Drop(Reason::Unmapped));
    // Hop limit 1: Time Exceeded back to the client.
    let mut p = v6(client(), server6(), 17, 1, 2, 0, b"");
    p[7] = 1;
    let e = net.nat.handle_v6(Instant::from_secs(0), &p, &mut net.out);
    assert!(
        matches!(
            e,
            Emit::V6 {
                reply: Some(Reason::HopLimit),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(net.nat.state().stats().bibs, 0);
}

/// IPv4 fragments of `pkt` (a whole IPv4 packet, no options) in pieces of
/// `size` bytes of payload (a multiple of 8), with DF clear.
fn fragments4(pkt: &[u8], size: usize) -> Vec<Vec<u8>> {
    let payload = &pkt[20..];
    let mut out = Vec::new();
    for (i, piece) in payload.chunks(size).enumerate() {
        let mut h = pkt[..20].to_vec();
        h[2..4].copy_from_slice(&((20 + piece.len()) as u16).to_be_bytes());
        let more = (i + 1) * size < payload.len();
        let off = ((i * size / 8) as u16) | if more { 0x2000 } else { 0 };
        h[6..8].copy_from_slice(&off.to_be_bytes());
        h[10..12].copy_from_slice(&[0, 0]);
        let c = !(ones_sum(&h) as u16);
        h[10..12].copy_from_slice(&c.to_be_bytes());
        h.extend_from_slice(piece);
        out.push(h);
    }
    out
}

/// IPv6 fragments of `pkt` (a whole IPv6 packet, no extension headers).
fn fragments6(pkt: &[u8], size: usize) -> Vec<Vec<u8>> {
    let payload = &pkt[40..];
    let mut out = Vec::new();
    for (i, piece) in payload.chunks(size).enumerate() {
        let mut h = pkt[..40].to_vec();
        h[4..6].copy_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
        h[6] = 44;
        let more = (i + 1) * size < payload.len();
        let off = (((i * size / 8) as u16) << 3) | u16::from(more);
        h.extend_from_slice(&[pkt[6], 0]);
        h.extend_from_slice(&off.to_be_bytes());
        h.extend_from_slice(&0x0bad_cafeu32.to_be_bytes());
        h.extend_from_slice(piece);
        out.push(h);
    }
    out
}

#[test]
fn fragmented_ipv4_is_reassembled_then_refragmented() {
    let mut net = Net::new();
    let q = net.up(0, &v6(client(), server6(), 17, 5000, 53, 0, b"query"));
    let t = read4(&q).sport;
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut whole = v4(SERVER, POOL, 17, 53, t, 0, &data);
    whole[6] = 0; // DF clear
    whole[10..12].copy_from_slice(&[0, 0]);
    let c = !(ones_sum(&whole[..20]) as u16);
    whole[10..12].copy_from_slice(&c.to_be_bytes());
    let mut frags = fragments4(&whole, 1480);
    frags.reverse(); // out of order
    let last = frags.pop().unwrap();
    for f in &frags {
        let e = net.nat.handle_v4(Instant::from_secs(1), f, &mut net.out);
        assert_eq!(e, Emit::Drop(Reason::Reassembling));
    }
    assert_eq!(net.nat.reassembly().in_progress(), 1);
    let e = net
        .nat
        .handle_v4(Instant::from_secs(1), &last, &mut net.out);
    let Emit::V6 {
        chunk, reply: None, ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(chunk, 1280, "refragmented to the lowest IPv6 MTU");
    // Reassemble the IPv6 fragments and read the datagram.
    let mut payload = vec![0u8; 8 + data.len()];
    let mut hdr = Vec::new();
    for f in e.packets(&net.out) {
        assert_eq!(f[6], 44);
        let off = usize::from(u16::from_be_bytes([f[42], f[43]]) >> 3) * 8;
        payload[off..off + f.len() - 48].copy_from_slice(&f[48..]);
        hdr = f[..40].to_vec();
    }
    hdr[6] = 17;
    hdr[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
    let seen = read6(&[hdr, payload].concat());
    assert_eq!((seen.dst, seen.dport, seen.data), (client(), 5000, data));
    assert_eq!(net.nat.reassembly().in_progress(), 0);
}

#[test]
fn fragmented_ipv6_is_reassembled_udp_and_ping() {
    let mut net = Net::new();
    let data = vec![7u8; 2000];
    let whole = v6(client(), server6(), 17, 5000, 53, 0, &data);
    let frags = fragments6(&whole, 1232);
    assert_eq!(
        net.nat
            .handle_v6(Instant::from_secs(0), &frags[0], &mut net.out),
        Emit::Drop(Reason::Reassembling)
    );
    let out = net.up(0, &frags[1]);
    let seen = read4(&out);
    assert_eq!((seen.dst, seen.data.len()), (SERVER, 2000));
    assert!(same_class(seen.sport, 5000), "{}", seen.sport);
    assert_eq!(
        out[6] & 0x40,
        0,
        "DF clear: the sender allowed fragmentation"
    );
    assert_eq!(
        u16::from_be_bytes([out[4], out[5]]),
        0xcafe,
        "identification kept"
    );
    // A fragmented ping is translated whole.
    let ping = v6(client(), server6(), 58, 9, 1, 128, &[1u8; 1500]);
    let frags = fragments6(&ping, 1232);
    let _ = net
        .nat
        .handle_v6(Instant::from_secs(1), &frags[1], &mut net.out);
    let out = net.up(1, &frags[0]);
    assert_eq!(out[9], 1);
    assert_eq!(read4(&out).data.len(), 1500);
}

#[test]
fn unfinished_datagrams_time_out() {
    let mut net = Net::new();
    let whole = v6(client(), server6(), 17, 5000, 53, 0, &[0u8; 2000]);
    let frags = fragments6(&whole, 1232);
    let _ = net
        .nat
        .handle_v6(Instant::from_secs(0), &frags[0], &mut net.out);
    assert_eq!(net.nat.poll_timeout(), Some(Instant::from_secs(60)));
    net.nat.handle_timeout(Instant::from_secs(60));
    assert_eq!(net.nat.reassembly().in_progress(), 0);
    assert_eq!(net.nat.reassembly().dropped(), 1);
    assert_eq!(net.nat.poll_timeout(), None);
}

/// The engine's own packets waiting in `poll_transmit`, copied out.
fn transmits(nat: &mut Nat64) -> Vec<(Emit, Vec<u8>)> {
    let mut out = vec![0u8; MAX_OUTPUT];
    let mut v = Vec::new();
    while let Some(e) = nat.poll_transmit(&mut out) {
        let len = match e {
            Emit::V4 { len, .. } | Emit::V6 { len, .. } => len,
            Emit::Drop(r) => panic!("{r:?}"),
        };
        v.push((e, out[..len].to_vec()));
    }
    v
}

fn events(nat: &mut Nat64) -> Vec<Event> {
    std::iter::from_fn(|| nat.poll_event()).collect()
}

fn t4(addr: Ipv4Addr, port: u16) -> state::Transport4 {
    state::Transport4::new(addr, port)
}

fn t6(addr: Ipv6Addr, port: u16) -> state::Transport6 {
    state::Transport6::new(addr, port)
}

const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 77);

#[test]
fn simultaneous_open_succeeds_through_packets() {
    // Address-dependent filtering: a SYN from a peer the host has not sent
    // to is kept, not refused, for six seconds (RFC 6146 §3.5.2.2).
    let mut s = settings();
    s.filtering = state::Filtering::AddressDependent;
    let mut net = Net {
        nat: nat_with(s),
        out: vec![0; MAX_OUTPUT],
    };
    // The host's mapping exists: it opened a connection to a rendezvous
    // server.
    let syn = net.up(0, &v6(client(), server6(), 6, 40000, 443, 0x02, b""));
    let t = read4(&syn).sport;
    // The peer's SYN to that mapping arrives before the host's SYN to it.
    let peer_syn = v4(PEER, POOL, 6, 5555, t, 0x02, b"");
    let e = net
        .nat
        .handle_v4(Instant::from_secs(1), &peer_syn, &mut net.out);
    assert_eq!(e, Emit::Drop(Reason::SynStored));
    assert!(transmits(&mut net.nat).is_empty());
    assert_eq!(net.nat.state().stats().stored_syns, 1);
    assert_eq!(net.nat.poll_timeout(), Some(Instant::from_secs(7)));
    // The host's SYN to the peer within six seconds goes out ...
    let peer6 = Nat64Prefix::WELL_KNOWN.embed(PEER);
    let out = net.up(3, &v6(client(), peer6, 6, 40000, 5555, 0x02, b""));
    let seen = read4(&out);
    assert_eq!(
        (seen.src, seen.sport, seen.dst, seen.dport),
        (POOL, t, PEER, 5555)
    );
    // ... and the stored SYN is translated to the host: both SYNs cross.
    let sent = transmits(&mut net.nat);
    let [(Emit::V6 { reply: None, .. }, p)] = &sent[..] else {
        panic!("{sent:?}")
    };
    let back = read6(p);
    assert_eq!(
        (back.src, back.sport, back.dst, back.dport),
        (peer6, 5555, client(), 40000)
    );
    assert_eq!(p[40 + 13], 0x02, "SYN");
    assert_eq!(
        net.nat
            .state()
            .tcp_state(t6(client(), 40000), t4(PEER, 5555)),
        Some(state::TcpState::Established)
    );
    assert!(events(&mut net.nat)
        .iter()
        .any(|e| matches!(e, Event::SimultaneousOpen(syn) if syn.src == t4(PEER, 5555))));
    // Nothing else comes of the stored SYN.
    net.nat.handle_timeout(Instant::from_secs(10));
    assert!(transmits(&mut net.nat).is_empty());
    assert_eq!(net.nat.state().stats().stored_syns, 0);
    // The peer's SYN+ACK and the host's ACK flow as in any connection.
    let synack = net.down(4, &v4(PEER, POOL, 6, 5555, t, 0x12, b""));
    assert_eq!(read6(&synack).dport, 40000);
}

#[test]
fn simultaneous_open_timeout_sends_port_unreachable() {
    let mut net = Net::new();
    // A SYN to a pool port nobody holds: kept for six seconds.
    let peer_syn = v4(PEER, POOL, 6, 5555, 20000, 0x02, b"");
    let e = net
        .nat
        .handle_v4(Instant::from_millis(1500), &peer_syn, &mut net.out);
    assert_eq!(e, Emit::Drop(Reason::SynStored));
    assert_eq!(net.nat.poll_timeout(), Some(Instant::from_millis(7500)));
    net.nat.handle_timeout(Instant::from_millis(7499));
    assert!(transmits(&mut net.nat).is_empty(), "not before six seconds");
    net.nat.handle_timeout(Instant::from_millis(7500));
    let sent = transmits(&mut net.nat);
    let [(
        Emit::V4 {
            len,
            chunk,
            reply: Some(Reason::SynExpired),
        },
        p,
    )] = &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(len, chunk);
    // ICMPv4 Destination Unreachable, Port Unreachable, from the pool
    // address the SYN was sent to, back to its source, quoting it.
    assert_eq!(ones_sum(&p[..20]), 0xffff, "header checksum");
    assert_eq!(p[9], 1, "ICMP");
    assert_eq!(Ipv4Addr::new(p[12], p[13], p[14], p[15]), POOL);
    assert_eq!(Ipv4Addr::new(p[16], p[17], p[18], p[19]), PEER);
    assert_eq!(&p[20..22], &[3, 3]);
    assert_eq!(ones_sum(&p[20..]), 0xffff, "ICMP checksum");
    assert_eq!(&p[28..], &peer_syn[..], "the whole SYN quoted");
    assert!(events(&mut net.nat)
        .iter()
        .any(|e| matches!(e, Event::SynExpired(s) if s.dst == t4(POOL, 20000))));
    assert_eq!(net.nat.poll_timeout(), None);
    assert_eq!(net.nat.state().stats().stored_syns, 0);
}

#[test]
fn established_expiry_sends_a_probe() {
    let mut net = Net::new();
    let syn = net.up(0, &v6(client(), server6(), 6, 40000, 443, 0x02, b""));
    let t = read4(&syn).sport;
    net.down(0, &v4(SERVER, POOL, 6, 443, t, 0x12, b""));
    let _ = events(&mut net.nat);
    let session = (t6(client(), 40000), t4(SERVER, 443));
    assert_eq!(net.nat.poll_timeout(), Some(Instant::from_secs(7440)));
    net.nat.handle_timeout(Instant::from_secs(7440));
    // RFC 6146 §3.5.2.2: a segment with no data, sequence and
    // acknowledgment numbers zero, only ACK set, to the IPv6 host from the
    // peer as the host sees it.
    let sent = transmits(&mut net.nat);
    let [(Emit::V6 { reply: None, .. }, p)] = &sent[..] else {
        panic!("{sent:?}")
    };
    assert_eq!(p.len(), 60);
    assert_eq!(p[6], 6);
    let seen = read6(p);
    assert_eq!(
        (seen.src, seen.sport, seen.dst, seen.dport),
        (server6(), 443, client(), 40000)
    );
    assert_eq!(&p[44..52], &[0; 8], "sequence and acknowledgment zero");
    assert_eq!(p[40 + 13], 0x10, "ACK only");
    assert!(seen.data.is_empty());
    assert_eq!(
        events(&mut net.nat),
        vec![Event::TcpProbe {
            v6: session.0,
            peer: t6(server6(), 443),
            at: Instant::from_secs(7440)
        }]
    );
    assert_eq!(
        net.nat.state().tcp_state(session.0, session.1),
        Some(state::TcpState::Trans)
    );
    // The host answers (with an ACK, as TCP answers an unacceptable
    // segment): established again, and the answer goes on to the server.
    net.up(7441, &v6(client(), server6(), 6, 40000, 443, 0x10, b""));
    assert_eq!(
        net.nat.state().tcp_state(session.0, session.1),
        Some(state::TcpState::Established)
    );
    // Next time nobody answers: one more probe, gone TCP_TRANS later.
    net.nat.handle_timeout(Instant::from_secs(7441 + 7440));
    assert_eq!(transmits(&mut net.nat).len(), 1);
    net.nat
        .handle_timeout(Instant::from_secs(7441 + 7440 + 239));
    assert_eq!(net.nat.state().stats().sessions, 1);
    net.nat
        .handle_timeout(Instant::from_secs(7441 + 7440 + 240));
    assert_eq!(net.nat.state().stats().sessions, 0);
    assert!(transmits(&mut net.nat).is_empty(), "no probe from TRANS");
}

#[test]
fn port_blocks_per_customer_are_logged_once() {
    let mut net = Net::new();
    // Two hosts of one customer /64, and a host of another.
    let a: Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:1::20".parse().unwrap();
    let c: Ipv6Addr = "2001:db8:2::10".parse().unwrap();
    let mut ports = Vec::new();
    for (i, h) in [a, b, a, c].into_iter().enumerate() {
        let sport = 5000 + 2 * i as u16;
        let out = net.up(i as u64, &v6(h, server6(), 17, sport, 53, 0, b"q"));
        ports.push(read4(&out).sport);
    }
    let ev = events(&mut net.nat);
    let blocks: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            Event::BlockAllocated {
                customer,
                proto: Protocol::Udp,
                addr,
                first,
                last,
                ..
            } => Some((customer.to_string(), *addr, *first, *last)),
            _ => None,
        })
        .collect();
    assert_eq!(blocks.len(), 2, "one block per customer: {ev:?}");
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::BibCreated { .. }))
            .count(),
        4
    );
    let (c1, a1, f1, l1) = &blocks[0];
    let (c2, _, f2, l2) = &blocks[1];
    assert_eq!(
        (c1.as_str(), c2.as_str()),
        ("2001:db8:1::/64", "2001:db8:2::/64")
    );
    assert_eq!((*a1, l1 - f1 + 1), (POOL, 128));
    for p in &ports[..3] {
        assert!((f1..=l1).contains(&p), "{p} in {f1}-{l1}");
    }
    assert!((f2..=l2).contains(&&ports[3]));
    assert_eq!(
        ev[0].to_string(),
        format!("0.000s block-allocated 2001:db8:1::/64 udp 203.0.113.1:{f1}-{l1}")
    );
    // The log lines go when the block empties.
    net.nat.handle_timeout(Instant::from_secs(400));
    let released = events(&mut net.nat)
        .into_iter()
        .filter(|e| matches!(e, Event::BlockReleased { .. }))
        .count();
    assert_eq!(released, 2);
}

#[test]
fn pool_exhaustion_is_dropped_counted_and_alarmed_once_a_second() {
    // One pool4 block of UDP ports, and a customer may hold one block.
    let mut s = settings();
    for r in &mut s.pool4 {
        r.ports = 1024..=1151;
    }
    s.max_blocks_per_customer = 1;
    let mut net = Net {
        nat: nat_with(s),
        out: vec![0; MAX_OUTPUT],
    };
    let a: Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:2::10".parse().unwrap();
    net.up(0, &v6(a, server6(), 17, 5000, 53, 0, b"q"));
    let _ = events(&mut net.nat);
    // The other customer finds no block left.
    for (ms, port) in [(1000, 6000), (1500, 6002), (2000, 6004)] {
        let e = net.nat.handle_v6(
            Instant::from_millis(ms),
            &v6(b, server6(), 17, port, 53, 0, b"q"),
            &mut net.out,
        );
        assert_eq!(e, Emit::Drop(Reason::PoolExhausted));
    }
    assert_eq!(net.nat.state().drops(state::DropReason::PoolExhausted), 3);
    let alarms: Vec<_> = events(&mut net.nat)
        .into_iter()
        .filter_map(|e| match e {
            Event::LimitReached { reason, at } => Some((reason, at)),
            _ => None,
        })
        .collect();
    assert_eq!(
        alarms,
        vec![
            (state::DropReason::PoolExhausted, Instant::from_millis(1000)),
            (state::DropReason::PoolExhausted, Instant::from_millis(2000)),
        ],
        "at most one alarm a second"
    );
    assert_eq!(net.nat.state().stats().bibs, 1, "nothing half-made");
    // The first customer still gets ports from its own block.
    net.up(3, &v6(a, server6(), 17, 5002, 53, 0, b"q"));
    // Its block back in the pool, the other customer gets it.
    net.nat.handle_timeout(Instant::from_secs(400));
    net.up(400, &v6(b, server6(), 17, 6000, 53, 0, b"q"));
}

#[test]
fn static_bib_is_reachable_from_ipv4_and_survives_expiry() {
    let web: Ipv6Addr = "2001:db8:2::80".parse().unwrap();
    let mut s = settings();
    s.statics = vec![state::StaticBib {
        proto: Protocol::Tcp,
        v6: t6(web, 80),
        v4: t4(POOL, 8080),
    }];
    let mut net = Net {
        nat: nat_with(s),
        out: vec![0; MAX_OUTPUT],
    };
    let visitor = Ipv4Addr::new(192, 0, 2, 99);
    let visitor6 = Nat64Prefix::WELL_KNOWN.embed(visitor);
    for start in [0u64, 20_000] {
        // An IPv4 visitor connects to the pool address's port 8080 ...
        let syn = net.down(start, &v4(visitor, POOL, 6, 33000, 8080, 0x02, b""));
        let seen = read6(&syn);
        assert_eq!(
            (seen.src, seen.sport, seen.dst, seen.dport),
            (visitor6, 33000, web, 80)
        );
        // ... the server answers from its own port 80 ...
        let synack = net.up(start + 1, &v6(web, visitor6, 6, 80, 33000, 0x12, b""));
        let back = read4(&synack);
        assert_eq!(
            (back.src, back.sport, back.dst, back.dport),
            (POOL, 8080, visitor, 33000)
        );
        // ... and once the session has run out (probe, then TRANS), the
        // forward is still there.
        net.nat.handle_timeout(Instant::from_secs(start + 1 + 7440));
        net.nat
            .handle_timeout(Instant::from_secs(start + 1 + 7440 + 240));
        assert_eq!(net.nat.state().stats().sessions, 0);
        assert_eq!(
            net.nat.state().bib_v6(Protocol::Tcp, t4(POOL, 8080)),
            Some(t6(web, 80))
        );
    }
    assert!(!events(&mut net.nat)
        .iter()
        .any(|e| matches!(e, Event::BibReleased { .. })));
}

#[test]
fn simultaneous_open_with_a_cut_stored_syn_waits_for_the_retransmission() {
    // Only the IPv4 header and 8 bytes are kept: enough to quote in an
    // ICMP error, not to forward.
    let mut s = settings();
    s.filtering = state::Filtering::AddressDependent;
    s.max_stored_syn_bytes = 28;
    let mut net = Net {
        nat: nat_with(s),
        out: vec![0; MAX_OUTPUT],
    };
    let syn = net.up(0, &v6(client(), server6(), 6, 40000, 443, 0x02, b""));
    let t = read4(&syn).sport;
    let peer_syn = v4(PEER, POOL, 6, 5555, t, 0x02, b"");
    let e = net
        .nat
        .handle_v4(Instant::from_secs(1), &peer_syn, &mut net.out);
    assert_eq!(e, Emit::Drop(Reason::SynStored));
    let peer6 = Nat64Prefix::WELL_KNOWN.embed(PEER);
    net.up(2, &v6(client(), peer6, 6, 40000, 5555, 0x02, b""));
    assert!(transmits(&mut net.nat).is_empty());
    assert_eq!(net.nat.transmits_lost(), 1, "the cut SYN is not forwarded");
    let session = (t6(client(), 40000), t4(PEER, 5555));
    assert_eq!(
        net.nat.state().tcp_state(session.0, session.1),
        Some(state::TcpState::V6Init)
    );
    // The peer's retransmitted SYN now meets the session.
    let back = net.down(3, &peer_syn);
    assert_eq!(read6(&back).dport, 40000);
    assert_eq!(
        net.nat.state().tcp_state(session.0, session.1),
        Some(state::TcpState::Established)
    );
}

/// Two engines over two shards of one state, as a gateway with two workers
/// runs them: hosts A and B in different shards hairpin to each other's
/// pool4 mappings. B's engine translates to IPv4 (its half), A's engine
/// (which owns A's port) translates back to IPv6, and the same for the
/// answer.
#[test]
fn hairpinning_across_shards() {
    use sixgate::nat64::shard::{owner_v4, owner_v6, Owner};

    let mut s = settings();
    s.shards = 2;
    s.shard_key = 5;
    let config = state::Config::new(s).unwrap();
    let mut shards: Vec<Nat64> = (0..2)
        .map(|i| {
            Nat64::new(
                xlat::Config::default(),
                config.for_shard(i).unwrap(),
                9 + i as u64,
            )
        })
        .collect();
    let mut out = vec![0; MAX_OUTPUT];
    // Two customers in different shards.
    let a: Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let b = (2..200u16)
        .map(|n| Ipv6Addr::new(0x2001, 0xdb8, n, 0, 0, 0, 0, 0x20))
        .find(|&b| config.shard_of_v6_source(b) != config.shard_of_v6_source(a))
        .unwrap();
    let (sa, sb) = (config.shard_of_v6_source(a), config.shard_of_v6_source(b));
    let now = Instant::from_secs(1);

    // A talks to the world first, through its own shard.
    let pa = v6(a, server6(), 17, 7000, 53, 0, b"hi");
    assert_eq!(owner_v6(&config, &pa), Owner::Shard(sa));
    let Emit::V4 { len, .. } = shards[sa].handle_v6(now, &pa, &mut out) else {
        panic!()
    };
    let a_port = read4(&out[..len]).sport;
    assert_eq!(config.shard_of_v4(Protocol::Udp, POOL, a_port), Some(sa));

    // B sends to A's mapping: B's shard gives the IPv4 half ...
    let a_as_seen = Nat64Prefix::WELL_KNOWN.embed(POOL);
    let pb = v6(b, a_as_seen, 17, 8000, a_port, 0, b"hairpin");
    assert_eq!(owner_v6(&config, &pb), Owner::Shard(sb));
    let e = shards[sb].handle_v6(now, &pb, &mut out);
    let Emit::V4 {
        len,
        chunk,
        reply: None,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(len, chunk);
    let half = out[..len].to_vec();
    let seen = read4(&half);
    assert_eq!((seen.dst, seen.dport), (POOL, a_port));
    assert_eq!(seen.src, POOL);
    let b_port = seen.sport;
    assert_eq!(config.shard_of_v4(Protocol::Udp, POOL, b_port), Some(sb));
    // ... which belongs to A's shard, and comes out there as IPv6 to A.
    assert_eq!(owner_v4(&config, &half), Owner::Shard(sa));
    let e = shards[sa].handle_hairpin_v4(now, &half, &mut out);
    let Emit::V6 {
        len, reply: None, ..
    } = e
    else {
        panic!("{e:?}")
    };
    let seen = read6(&out[..len]);
    assert_eq!((seen.dst, seen.dport), (a, 7000));
    assert_eq!((seen.src, seen.sport), (a_as_seen, b_port));
    assert_eq!(seen.data, b"hairpin");
    assert_eq!(out[7], 62, "two translations, two hops");

    // A answers B's mapping: the same the other way round.
    let back = v6(a, a_as_seen, 17, 7000, b_port, 0, b"answer");
    let Emit::V4 { len, .. } = shards[sa].handle_v6(now, &back, &mut out) else {
        panic!()
    };
    let half = out[..len].to_vec();
    assert_eq!(owner_v4(&config, &half), Owner::Shard(sb));
    let Emit::V6 { len, .. } = shards[sb].handle_hairpin_v4(now, &half, &mut out) else {
        panic!()
    };
    let seen = read6(&out[..len]);
    assert_eq!((seen.dst, seen.dport), (b, 8000));
    assert_eq!((seen.src, seen.sport), (a_as_seen, a_port));
    assert_eq!(seen.data, b"answer");

    // A hairpin to a port nobody holds is dropped in its owner's shard.
    let stray = v6(b, a_as_seen, 17, 8000, a_port ^ 0x100, 0, b"x");
    if let Emit::V4 { len, .. } = shards[sb].handle_v6(now, &stray, &mut out) {
        let half = out[..len].to_vec();
        let Owner::Shard(o) = owner_v4(&config, &half) else {
            panic!()
        };
        assert!(matches!(
            shards[o].handle_hairpin_v4(now, &half, &mut out),
            Emit::Drop(_)
        ));
    }
    // Handed to handle_v4 instead (a gateway that got it wrong), it is a
    // loop: dropped.
    assert!(matches!(
        shards[sa].handle_v4(now, &half, &mut out),
        Emit::Drop(_)
    ));
}

/// `p`'s TCP or UDP checksum made partial (the pseudo-header's sum), as
/// Linux hands it over with offloads; `ihl` is the IP header's length.
fn make_partial(p: &mut [u8], ihl: usize, pseudo: &[u8]) {
    let at = ihl + at_of(p[if ihl == 40 { 6 } else { 9 }]);
    p[at..at + 2].copy_from_slice(&(ones_sum(pseudo) as u16).to_be_bytes());
}

/// What the kernel does with a partial checksum: sums from the transport
/// header on and stores the complement.
fn complete(p: &mut [u8], ihl: usize) {
    let at = ihl + at_of(p[if ihl == 40 { 6 } else { 9 }]);
    let c = !(ones_sum(&p[ihl..]) as u16);
    p[at..at + 2].copy_from_slice(&c.to_be_bytes());
}

#[test]
fn tcp_super_packets_keep_their_offloads_through_the_session() {
    let mut net = Net::new();
    let syn = net.up(0, &v6(client(), server6(), 6, 40000, 443, 0x02, b""));
    let t = read4(&syn).sport;
    net.down(0, &v4(SERVER, POOL, 6, 443, t, 0x12, b""));
    let gso = xlat::Offload {
        partial_checksum: true,
        segment_size: 1440,
    };
    // 6 -> 4: 30,000 bytes as one packet, the port mapped, the partial
    // checksum now the IPv4 pseudo-header's.
    let data: Vec<u8> = (0..30_000u32).map(|i| (i % 251) as u8).collect();
    let mut up = v6(client(), server6(), 6, 40000, 443, 0x10, &data);
    let len = up.len() - 40;
    make_partial(&mut up, 40, &pseudo6(client(), server6(), len, 6));
    let e = net
        .nat
        .handle_v6_offload(Instant::from_secs(1), &up, gso, &mut net.out);
    let Emit::V4 {
        len,
        chunk,
        reply: None,
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!((len, chunk), (20 + 20 + 30_000, len));
    let mut p = net.out[..len].to_vec();
    assert_eq!(p[6] & 0x40, 0x40, "DF, for segments of 1480 bytes");
    complete(&mut p, 20);
    let seen = read4(&p);
    assert_eq!((seen.sport, seen.dport, seen.data.len()), (t, 443, 30_000));
    // 4 -> 6 the same.
    let mut down = v4(SERVER, POOL, 6, 443, t, 0x10, &data);
    let len = down.len() - 20;
    make_partial(&mut down, 20, &pseudo4(SERVER, POOL, len, 6));
    let e = net
        .nat
        .handle_v4_offload(Instant::from_secs(1), &down, gso, &mut net.out);
    let Emit::V6 {
        len, reply: None, ..
    } = e
    else {
        panic!("{e:?}")
    };
    let mut p = net.out[..len].to_vec();
    complete(&mut p, 40);
    let seen = read6(&p);
    assert_eq!((seen.dport, seen.data), (40000, data.clone()));
    assert_eq!(net.nat.state().stats().sessions, 1);
    // Segments too big for IPv4, and a new flow's first packet with them:
    // refused as Offload before anything is looked up or created.
    let big = xlat::Offload {
        partial_checksum: true,
        segment_size: 1481,
    };
    let e = net
        .nat
        .handle_v6_offload(Instant::from_secs(2), &up, big, &mut net.out);
    assert_eq!(e, Emit::Drop(Reason::Offload));
    let mut other = v6(client(), server6(), 6, 40001, 443, 0x02, &data);
    let len = other.len() - 40;
    make_partial(&mut other, 40, &pseudo6(client(), server6(), len, 6));
    let e = net
        .nat
        .handle_v6_offload(Instant::from_secs(2), &other, big, &mut net.out);
    assert_eq!(e, Emit::Drop(Reason::Offload));
    assert_eq!(net.nat.state().stats().sessions, 1, "nothing created");
}
