//! Per-call cost of RFC 6052 embed and extract at each prefix length.
//! `cargo bench -p sixgate --bench rfc6052`

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{criterion_group, criterion_main, Criterion};
use sixgate::rfc6052::{Nat64Prefix, NonGlobal};

const PREFIXES: [&str; 6] = [
    "2001:db8::/32",
    "2001:db8:100::/40",
    "2001:db8:122::/48",
    "2001:db8:122:300::/56",
    "2001:db8:122:344::/64",
    "64:ff9b::/96",
];

fn bench(c: &mut Criterion) {
    let v4 = Ipv4Addr::new(198, 51, 100, 7);
    for text in PREFIXES {
        let prefix: Nat64Prefix = text.parse().unwrap();
        let len = prefix.prefix_len();
        let v6 = prefix.embed(v4);
        c.bench_function(&format!("embed/{len}"), |b| {
            b.iter(|| black_box(prefix).embed(black_box(v4)))
        });
        c.bench_function(&format!("extract/{len}"), |b| {
            b.iter(|| black_box(prefix).extract(black_box(v6)))
        });
    }
    // The same extraction with only the address kept: the difference from
    // extract/64 is the cost of materialising and dropping the whole
    // Result<Ipv4Addr, Error> through black_box (the error enum is ~48 bytes
    // with drop glue), not the arithmetic.
    let prefix: Nat64Prefix = "2001:db8:122:344::/64".parse().unwrap();
    let v6 = prefix.embed(v4);
    c.bench_function("extract/64-ok", |b| {
        b.iter(|| black_box(prefix).extract(black_box(v6)).ok())
    });
    let wkp = Nat64Prefix::WELL_KNOWN;
    let global = Ipv4Addr::new(131, 111, 150, 25);
    c.bench_function("synthesize/96-checked", |b| {
        b.iter(|| black_box(wkp).synthesize(black_box(global), NonGlobal::Refuse))
    });
    c.bench_function("parse/prefix", |b| {
        b.iter(|| black_box("2001:db8:122:344::/64").parse::<Nat64Prefix>())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
