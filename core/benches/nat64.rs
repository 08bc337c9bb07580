//! Packets per second through the stateless translator (RFC 7915), one
//! core: 64-byte UDP and 1500-byte TCP, both ways, with the RFC 6052
//! mapping of both addresses and with a NAT64-like mapping that rewrites
//! the IPv6 side's address and port; then the whole engine
//! ([`Nat64`]: session lookup, TCP state machine, lifetime refresh and
//! translation) on established flows.
//! `cargo bench -p sixgate --bench nat64`

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sixgate::nat64::state::{self, Pool4Range, Protocol, Settings};
use sixgate::nat64::xlat::{
    Config, Flow, Mapping, Meta, Outcome, PrefixMapping, Translator, Unmapped, MAX_OUTPUT,
};
use sixgate::nat64::{Emit, Nat64};
use sixgate::time::Instant;
use sixgate::Nat64Prefix;

const WKP: Nat64Prefix = Nat64Prefix::WELL_KNOWN;

fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        s += u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0));
    }
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv6 packet of `total` bytes: UDP (17) or TCP (6), checksum sealed.
fn v6_packet(next: u8, total: usize) -> Vec<u8> {
    let src = "2001:db8:1::10".parse::<Ipv6Addr>().unwrap();
    let dst = WKP.embed(Ipv4Addr::new(198, 51, 100, 7));
    let hdr = if next == 6 { 20 } else { 8 };
    let mut l4 = vec![0u8; total - 40];
    l4[0..4].copy_from_slice(&[0x9c, 0x40, 0x01, 0xbb]);
    if next == 6 {
        l4[12] = 0x50;
        l4[13] = 0x10;
    } else {
        l4[4..6].copy_from_slice(&((total - 40) as u16).to_be_bytes());
    }
    for (i, b) in l4[hdr..].iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&src.octets());
    pseudo.extend_from_slice(&dst.octets());
    pseudo.extend_from_slice(&(l4.len() as u32).to_be_bytes());
    pseudo.extend_from_slice(&[0, 0, 0, next]);
    pseudo.extend_from_slice(&l4);
    let c = csum(&pseudo);
    let at = if next == 6 { 16 } else { 6 };
    l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.extend_from_slice(&[next, 64]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    p.extend_from_slice(&l4);
    p
}

/// A NAT64-like mapping: one host behind one pool address, port moved.
struct Nat;

impl Mapping for Nat {
    fn map_6to4(&mut self, f: &Flow<Ipv6Addr>, _: &Meta) -> Result<Flow<Ipv4Addr>, Unmapped> {
        let dst = WKP
            .extract(f.dst)
            .map_err(|_| Unmapped::silent(sixgate::nat64::xlat::Reason::Unmapped))?;
        Ok(Flow {
            proto: f.proto,
            src: Ipv4Addr::new(203, 0, 113, 1),
            dst,
            src_port: f.src_port ^ 0x5a5a,
            dst_port: f.dst_port,
        })
    }
    fn map_4to6(&mut self, f: &Flow<Ipv4Addr>, _: &Meta) -> Result<Flow<Ipv6Addr>, Unmapped> {
        Ok(Flow {
            proto: f.proto,
            src: WKP.embed(f.src),
            dst: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10),
            src_port: f.src_port,
            dst_port: f.dst_port ^ 0x5a5a,
        })
    }
}

fn bench(c: &mut Criterion) {
    let mut out = vec![0u8; 2048];
    for (name, next, total) in [("udp64", 17u8, 64usize), ("tcp1500", 6, 1500)] {
        let v6 = v6_packet(next, total);
        // The same flow as IPv4, made by the translator itself (1480 bytes
        // for TCP, so that its IPv6 translation fits a 1500-byte link).
        let mut x = Translator::new(Config::default(), 1);
        let Outcome::Translated { len } = x.translate_6to4(&mut Nat, &v6, &mut out) else {
            panic!("setup")
        };
        let mut v4 = out[..len].to_vec();
        // Swap addresses and ports: the reply direction.
        let (a, b) = (v4[12..16].to_vec(), v4[16..20].to_vec());
        v4[12..16].copy_from_slice(&b);
        v4[16..20].copy_from_slice(&a);
        let (p, q) = (v4[20..22].to_vec(), v4[22..24].to_vec());
        v4[20..22].copy_from_slice(&q);
        v4[22..24].copy_from_slice(&p);
        v4[8] = 64;
        v4[10..12].copy_from_slice(&[0, 0]);
        let hc = csum(&v4[..20]);
        v4[10..12].copy_from_slice(&hc.to_be_bytes());
        assert!(matches!(
            x.translate_4to6(&mut Nat, &v4, &mut out),
            Outcome::Translated { .. }
        ));

        let mut g = c.benchmark_group(format!("xlat/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("6to4/nat", |bch| {
            bch.iter(|| x.translate_6to4(&mut Nat, black_box(&v6), black_box(&mut out)))
        });
        g.bench_function("4to6/nat", |bch| {
            bch.iter(|| x.translate_4to6(&mut Nat, black_box(&v4), black_box(&mut out)))
        });
        let mut siit = PrefixMapping::new(WKP);
        let v6s = {
            // Both addresses under the prefix for the RFC 6052 mapping.
            let mut p = v6.clone();
            p[8..24].copy_from_slice(&WKP.embed(Ipv4Addr::new(192, 0, 2, 1)).octets());
            p
        };
        g.bench_function("6to4/siit", |bch| {
            bch.iter(|| x.translate_6to4(&mut siit, black_box(&v6s), black_box(&mut out)))
        });
        g.bench_function("4to6/siit", |bch| {
            bch.iter(|| x.translate_4to6(&mut siit, black_box(&v4), black_box(&mut out)))
        });
        g.finish();
    }
}

/// The reply direction of an IPv4 packet: addresses and ports swapped,
/// TTL 64, header checksum recomputed.
fn reversed_v4(p: &[u8]) -> Vec<u8> {
    let mut v4 = p.to_vec();
    let (a, b) = (v4[12..16].to_vec(), v4[16..20].to_vec());
    v4[12..16].copy_from_slice(&b);
    v4[16..20].copy_from_slice(&a);
    let (x, y) = (v4[20..22].to_vec(), v4[22..24].to_vec());
    v4[20..22].copy_from_slice(&y);
    v4[22..24].copy_from_slice(&x);
    v4[8] = 64;
    v4[10..12].copy_from_slice(&[0, 0]);
    let hc = csum(&v4[..20]);
    v4[10..12].copy_from_slice(&hc.to_be_bytes());
    v4
}

/// The state configuration: pool4 203.0.113.0/28, ports 1024-65535 for
/// every protocol, other settings at their defaults.
fn state_config() -> state::Config {
    let pool = Protocol::ALL
        .into_iter()
        .map(|proto| Pool4Range {
            proto,
            net: "203.0.113.0/28".parse().unwrap(),
            ports: 1024..=65535,
        })
        .collect();
    state::Config::new(Settings::new(WKP, pool)).unwrap()
}

fn bench_engine(c: &mut Criterion) {
    let mut out = vec![0u8; MAX_OUTPUT];
    for (name, next, total) in [("udp64", 17u8, 64usize), ("tcp1500", 6, 1500)] {
        let mut nat = Nat64::new(Config::default(), state_config(), 1);
        let now = Instant::from_secs(1);
        let mut v6 = v6_packet(next, total);
        if next == 6 {
            // Open the connection: SYN out, SYN+ACK back.
            v6[40 + 13] = 0x02;
        }
        let Emit::V4 { len, .. } = nat.handle_v6(now, &v6, &mut out) else {
            panic!("setup")
        };
        let mut v4 = reversed_v4(&out[..len]);
        if next == 6 {
            v4[20 + 13] = 0x12;
            assert!(matches!(nat.handle_v4(now, &v4, &mut out), Emit::V6 { .. }));
            v6[40 + 13] = 0x10;
            v4[20 + 13] = 0x10;
        }
        assert!(matches!(nat.handle_v6(now, &v6, &mut out), Emit::V4 { .. }));
        assert!(matches!(nat.handle_v4(now, &v4, &mut out), Emit::V6 { .. }));
        let mut g = c.benchmark_group(format!("engine/{name}"));
        g.throughput(Throughput::Elements(1));
        g.bench_function("established/6to4", |bch| {
            bch.iter(|| nat.handle_v6(now, black_box(&v6), black_box(&mut out)))
        });
        g.bench_function("established/4to6", |bch| {
            bch.iter(|| nat.handle_v4(now, black_box(&v4), black_box(&mut out)))
        });
        g.finish();
    }
}

/// Established UDP flows spread over a table of 100k sessions (1000
/// hosts, each in its own /64 and so its own port block, 100 flows each),
/// visited in a scattered order: the table lookups miss the cache as they
/// would under load. The packet itself stays hot (as one just received
/// is), its source rewritten for each flow.
fn bench_engine_many(c: &mut Criterion) {
    let mut nat = Nat64::new(Config::default(), state_config(), 1);
    let now = Instant::from_secs(1);
    let mut out = vec![0u8; MAX_OUTPUT];
    let mut p = v6_packet(17, 64);
    let set = |p: &mut [u8], i: usize| {
        let (host, flow) = ((i / 100) as u16, (i % 100) as u16);
        p[14..16].copy_from_slice(&host.to_be_bytes()); // source /64
        p[40..42].copy_from_slice(&(10_000 + flow).to_be_bytes()); // source port
    };
    for i in 0..100_000 {
        set(&mut p, i);
        assert!(matches!(nat.handle_v6(now, &p, &mut out), Emit::V4 { .. }));
    }
    assert_eq!(nat.state().stats().sessions, 100_000);
    let mut g = c.benchmark_group("engine/udp64-100k-sessions");
    g.throughput(Throughput::Elements(1));
    let mut i = 0usize;
    g.bench_function("established/6to4", |bch| {
        bch.iter(|| {
            i = (i + 7919) % 100_000;
            set(&mut p, i);
            nat.handle_v6(now, black_box(&p), black_box(&mut out))
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_engine, bench_engine_many);
criterion_main!(benches);
