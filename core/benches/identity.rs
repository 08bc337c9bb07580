//! Longest-prefix lookups in [`HostIndex`] at 100,000 prefixes, against
//! `prefix_trie::PrefixMap::get_lpm` on the same data, and the cost of
//! building the index. The target is over 20 million lookups/s on
//! one core; criterion reports lookups/s through `Throughput::Elements`.
//!
//! `cargo bench -p sixgate --bench identity -- --warm-up-time 1 --measurement-time 3`

use std::collections::BTreeSet;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use sixgate::identity::HostIndex;
use sixgate::Nat64Prefix;

/// How many prefixes the index holds.
const PREFIXES: usize = 100_000;
/// How many addresses one iteration looks up.
const BATCH: usize = 4096;

/// splitmix64: a seeded generator, so every run measures the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn u128(&mut self) -> u128 {
        (u128::from(self.next()) << 64) | u128::from(self.next())
    }
}

fn v6(bits: u128, len: u8) -> IpNet {
    IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits), len).unwrap().trunc())
}

fn v4(bits: u32, len: u8) -> IpNet {
    IpNet::V4(Ipv4Net::new(Ipv4Addr::from(bits), len).unwrap().trunc())
}

/// The bits of `net`'s network with the host part filled at random.
fn inside(rng: &mut Rng, net: IpNet) -> IpAddr {
    match net {
        IpNet::V4(n) => {
            let host = if n.prefix_len() == 0 {
                u32::MAX
            } else {
                u32::MAX >> n.prefix_len()
            };
            IpAddr::V4(Ipv4Addr::from(
                u32::from(n.network()) | (rng.next() as u32 & host),
            ))
        }
        IpNet::V6(n) => {
            let host = u128::MAX
                .checked_shr(u32::from(n.prefix_len()))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(
                u128::from(n.network()) | (rng.u128() & host),
            ))
        }
    }
}

/// 100,000 distinct prefixes, shaped like a hosting provider's: IPv6 /32
/// provider blocks, /48 sites inside them, many /56 and /64 customer
/// prefixes inside the same sites, some /128 hosts inside the /64s; IPv4
/// /24 to /32, most of them /24 and /32.
fn prefixes(rng: &mut Rng) -> Vec<IpNet> {
    let mut set = BTreeSet::new();
    // 2000::/3, as global unicast is.
    let global = |rng: &mut Rng| (rng.u128() >> 3) | (1 << 125);
    let providers: Vec<u128> = (0..400).map(|_| global(rng) & !(u128::MAX >> 32)).collect();
    for &p in &providers {
        set.insert(v6(p, 32));
    }
    let mut sites = Vec::new();
    for _ in 0..6_000 {
        let p = providers[rng.below(providers.len())];
        let site = p | ((u128::from(rng.next() as u16)) << 80);
        sites.push(site);
        set.insert(v6(site, 48));
    }
    let mut lans = Vec::new();
    while set.len() < 80_000 {
        let site = sites[rng.below(sites.len())];
        let lan = site | (u128::from(rng.next() as u16) << 64);
        match rng.below(10) {
            0..=2 => {
                set.insert(v6(lan, 56));
            }
            3..=8 => {
                lans.push(lan);
                set.insert(v6(lan, 64));
            }
            _ => {
                // A host inside a /64 that is itself stored, where there is one.
                let base = if lans.is_empty() {
                    lan
                } else {
                    lans[rng.below(lans.len())]
                };
                set.insert(v6(base | u128::from(rng.next()), 128));
            }
        }
    }
    while set.len() < PREFIXES {
        let bits = rng.next() as u32;
        let len = match rng.below(10) {
            0..=5 => 24,
            6..=7 => 25 + rng.below(7) as u8,
            _ => 32,
        };
        set.insert(v4(bits, len));
    }
    set.into_iter().collect()
}

/// The addresses looked up: about two thirds hits under stored prefixes,
/// the rest misses; IPv6, IPv4, IPv4-mapped and NAT64 (64:ff9b::/96).
fn addresses(rng: &mut Rng, nets: &[IpNet]) -> Vec<IpAddr> {
    let v4s: Vec<IpNet> = nets
        .iter()
        .copied()
        .filter(|n| n.addr().is_ipv4())
        .collect();
    let v6s: Vec<IpNet> = nets
        .iter()
        .copied()
        .filter(|n| n.addr().is_ipv6())
        .collect();
    (0..BATCH)
        .map(|_| {
            let v6_hit = v6s[rng.below(v6s.len())];
            let v4_net = v4s[rng.below(v4s.len())];
            let v4_hit = match inside(rng, v4_net) {
                IpAddr::V4(a) => a,
                IpAddr::V6(_) => unreachable!(),
            };
            match rng.below(20) {
                0..=8 => inside(rng, v6_hit),
                9..=11 => IpAddr::V6(Ipv6Addr::from((rng.u128() >> 3) | (1 << 125))),
                12..=14 => IpAddr::V4(v4_hit),
                15 => IpAddr::V4(Ipv4Addr::from(rng.next() as u32)),
                16..=17 => IpAddr::V6(v4_hit.to_ipv6_mapped()),
                _ => IpAddr::V6(Nat64Prefix::WELL_KNOWN.embed(v4_hit)),
            }
        })
        .collect()
}

/// The address as prefix-trie keys see it: folded to IPv4 beforehand, so
/// prefix-trie does not pay for the folding that HostIndex does.
enum Key {
    V4(Ipv4Net),
    V6(Ipv6Net),
}

fn bench(c: &mut Criterion) {
    let mut rng = Rng(0x5157_6a7e);
    let nets = prefixes(&mut rng);
    let addrs = addresses(&mut rng, &nets);
    let nat64 = [Nat64Prefix::WELL_KNOWN];

    let mut index: HostIndex<u32> = HostIndex::with_nat64(&nat64);
    index.extend(nets.iter().enumerate().map(|(i, &n)| (n, i as u32)));
    let mut pt4: PrefixMap<Ipv4Net, u32> = PrefixMap::new();
    let mut pt6: PrefixMap<Ipv6Net, u32> = PrefixMap::new();
    for (i, &n) in nets.iter().enumerate() {
        match n {
            IpNet::V4(n) => pt4.insert(n, i as u32),
            IpNet::V6(n) => pt6.insert(n, i as u32),
        };
    }
    let keys: Vec<Key> = addrs
        .iter()
        .map(|&a| match index.fold(a) {
            IpAddr::V4(a) => Key::V4(Ipv4Net::from(a)),
            IpAddr::V6(a) => Key::V6(Ipv6Net::from(a)),
        })
        .collect();

    // Both must agree before either is timed.
    let mut hits = 0;
    for (a, k) in addrs.iter().zip(&keys) {
        let ours = index.lookup(*a).map(|(n, v)| (n, *v));
        let theirs = match k {
            Key::V4(k) => pt4.get_lpm(k).map(|(n, v)| (IpNet::V4(n), *v)),
            Key::V6(k) => pt6.get_lpm(k).map(|(n, v)| (IpNet::V6(n), *v)),
        };
        assert_eq!(ours, theirs, "{a}");
        hits += usize::from(ours.is_some());
    }
    eprintln!(
        "identity: {} prefixes, {BATCH} addresses per batch, {hits} hits; \
         HostIndex {} bytes ({:.1}/prefix), prefix-trie {} bytes ({:.1}/prefix)",
        index.len(),
        index.heap_bytes(),
        index.heap_bytes() as f64 / index.len() as f64,
        pt4.mem_size() + pt6.mem_size(),
        (pt4.mem_size() + pt6.mem_size()) as f64 / index.len() as f64,
    );

    let mut g = c.benchmark_group("lookup_100k");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("hostindex", |b| {
        b.iter(|| {
            let mut sum = 0u32;
            for &a in &addrs {
                if let Some((_, v)) = index.lookup(black_box(a)) {
                    sum = sum.wrapping_add(*v);
                }
            }
            sum
        })
    });
    g.bench_function("prefix_trie", |b| {
        b.iter(|| {
            let mut sum = 0u32;
            for k in &keys {
                let hit = match black_box(k) {
                    Key::V4(k) => pt4.get_lpm(k).map(|(_, v)| v),
                    Key::V6(k) => pt6.get_lpm(k).map(|(_, v)| v),
                };
                if let Some(v) = hit {
                    sum = sum.wrapping_add(*v);
                }
            }
            sum
        })
    });
    g.finish();

    let mut g = c.benchmark_group("insert_100k");
    g.throughput(Throughput::Elements(nets.len() as u64));
    g.sample_size(10);
    g.bench_function("hostindex", |b| {
        b.iter_batched(
            || nets.clone(),
            |nets| {
                let mut index = HostIndex::with_nat64(&nat64);
                for (i, n) in nets.into_iter().enumerate() {
                    index.insert(n, i as u32);
                }
                index
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("prefix_trie", |b| {
        b.iter_batched(
            || nets.clone(),
            |nets| {
                let mut pt4: PrefixMap<Ipv4Net, u32> = PrefixMap::new();
                let mut pt6: PrefixMap<Ipv6Net, u32> = PrefixMap::new();
                for (i, n) in nets.into_iter().enumerate() {
                    match n {
                        IpNet::V4(n) => pt4.insert(n, i as u32),
                        IpNet::V6(n) => pt6.insert(n, i as u32),
                    };
                }
                (pt4, pt6)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
