//! Differential property test of `identity::HostIndex`: random inserts,
//! removes and look-ups, IPv4 and IPv6 from /0 to /128, IPv4-mapped and
//! NAT64 addresses, checked after every step against a naive reference (a
//! list of prefixes scanned for the longest that contains the address).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use proptest::prelude::*;
use sixgate::identity::HostIndex;
use sixgate::text::normalize;
use sixgate::Nat64Prefix;

/// Addresses the random ones are drawn near, so that prefixes nest and
/// collide: documentation space, the edges of the space, mapped and NAT64.
const V6_BASES: [u128; 8] = [
    0x2001_0db8_0000_0000_0000_0000_0000_0000,
    0x2001_0db8_0001_0002_0000_0000_0000_0080,
    0,
    u128::MAX,
    0x0000_0000_0000_0000_0000_ffff_c000_0200, // ::ffff:192.0.2.0
    0x0064_ff9b_0000_0000_0000_0000_c000_0200, // 64:ff9b::192.0.2.0
    0x2001_0db8_0064_0000_00c0_0002_0000_0000, // 192.0.2.0 under the /64 NSP
    0x2001_0db8_0064_0000_01c0_0002_0000_0000, // ... with a non-zero u-octet
];
const V4_BASES: [u32; 4] = [0xc000_0200, 0x0a00_0000, 0, u32::MAX];

fn nat64() -> [Nat64Prefix; 2] {
    [Nat64Prefix::WELL_KNOWN, "2001:db8:64::/64".parse().unwrap()]
}

fn v6_bits() -> impl Strategy<Value = u128> {
    (0..V6_BASES.len(), any::<u128>(), 0u32..=128)
        .prop_map(|(b, noise, keep)| V6_BASES[b] ^ noise.checked_shr(keep).unwrap_or(0))
}

fn v4_bits() -> impl Strategy<Value = u32> {
    (0..V4_BASES.len(), any::<u32>(), 0u32..=32)
        .prop_map(|(b, noise, keep)| V4_BASES[b] ^ noise.checked_shr(keep).unwrap_or(0))
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        v6_bits().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        v4_bits().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
    ]
}

/// Any prefix, host bits possibly set; lengths weighted towards the ends
/// and the mapped range.
fn net() -> impl Strategy<Value = IpNet> {
    let v6_len = prop_oneof![Just(0u8), Just(128), 0u8..=128, 90u8..=128];
    let v4_len = prop_oneof![Just(0u8), Just(32), 0u8..=32, 20u8..=32];
    prop_oneof![
        (v6_bits(), v6_len)
            .prop_map(|(b, l)| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(b), l).unwrap())),
        (v4_bits(), v4_len)
            .prop_map(|(b, l)| IpNet::V4(Ipv4Net::new(Ipv4Addr::from(b), l).unwrap())),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Insert(IpNet, u32),
    /// Remove a random prefix.
    Remove(IpNet),
    /// Remove the stored prefix at this position (modulo the count).
    RemoveStored(usize),
    Lookup(IpAddr),
    Closest(IpNet),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (net(), any::<u32>()).prop_map(|(n, v)| Op::Insert(n, v)),
        1 => net().prop_map(Op::Remove),
        2 => any::<usize>().prop_map(Op::RemoveStored),
        4 => addr().prop_map(Op::Lookup),
        2 => net().prop_map(Op::Closest),
    ]
}

/// The naive reference: canonical prefixes in insertion order.
#[derive(Default)]
struct Reference(Vec<(IpNet, u32)>);

/// Host bits cleared; /96 and longer inside ::ffff:0:0/96 become IPv4.
fn canonical(net: IpNet) -> IpNet {
    let net = net.trunc();
    if let IpNet::V6(n) = net {
        let mapped: Ipv6Net = "::ffff:0:0/96".parse().unwrap();
        if n.prefix_len() >= 96 && mapped.contains(&n) {
            let [.., a, b, c, d] = n.network().octets();
            return IpNet::V4(
                Ipv4Net::new(Ipv4Addr::new(a, b, c, d), n.prefix_len() - 96).unwrap(),
            );
        }
    }
    net
}

/// A prefix folded as `HostIndex::closest` documents.
fn fold_net(net: IpNet, nat64: &[Nat64Prefix]) -> IpNet {
    let net = canonical(net);
    let IpNet::V6(n) = net else { return net };
    if n.prefix_len() == 128 {
        return match normalize(IpAddr::V6(n.addr()), nat64) {
            IpAddr::V4(a) => IpNet::V4(Ipv4Net::new(a, 32).unwrap()),
            IpAddr::V6(_) => net,
        };
    }
    for p in nat64.iter().filter(|p| p.prefix_len() == 96) {
        if n.prefix_len() >= 96 && Ipv6Net::from(*p).contains(&n) {
            let [.., a, b, c, d] = n.network().octets();
            return IpNet::V4(
                Ipv4Net::new(Ipv4Addr::new(a, b, c, d), n.prefix_len() - 96).unwrap(),
            );
        }
    }
    net
}

impl Reference {
    fn insert(&mut self, net: IpNet, value: u32) -> Option<u32> {
        let net = canonical(net);
        match self.0.iter_mut().find(|(n, _)| *n == net) {
            Some((_, v)) => Some(std::mem::replace(v, value)),
            None => {
                self.0.push((net, value));
                None
            }
        }
    }

    fn remove(&mut self, net: IpNet) -> Option<u32> {
        let net = canonical(net);
        let i = self.0.iter().position(|(n, _)| *n == net)?;
        Some(self.0.remove(i).1)
    }

    /// The longest stored prefix that contains all of `net`.
    fn longest(&self, net: IpNet) -> Option<(IpNet, u32)> {
        self.0
            .iter()
            .filter(|(n, _)| n.contains(&net))
            .max_by_key(|(n, _)| n.prefix_len())
            .copied()
    }

    fn lookup(&self, addr: IpAddr, nat64: &[Nat64Prefix]) -> Option<(IpNet, u32)> {
        self.longest(IpNet::from(normalize(addr, nat64)))
    }
}

fn check(ops: Vec<Op>) {
    let nat64 = nat64();
    let mut index = HostIndex::with_nat64(&nat64);
    let mut reference = Reference::default();
    for op in ops {
        match op {
            Op::Insert(net, v) => {
                assert_eq!(
                    index.insert(net, v),
                    reference.insert(net, v),
                    "insert {net}"
                )
            }
            Op::Remove(net) => assert_eq!(index.remove(net), reference.remove(net), "remove {net}"),
            Op::RemoveStored(i) => {
                if !reference.0.is_empty() {
                    let net = reference.0[i % reference.0.len()].0;
                    assert_eq!(index.remove(net), reference.remove(net), "remove {net}");
                }
            }
            Op::Lookup(a) => {
                let got = index.lookup(a).map(|(n, v)| (n, *v));
                assert_eq!(got, reference.lookup(a, &nat64), "lookup {a}");
                let host = IpNet::from(a);
                assert_eq!(
                    index.closest(host).map(|(n, v)| (n, *v)),
                    got,
                    "closest {host}"
                );
            }
            Op::Closest(net) => {
                let got = index.closest(net).map(|(n, v)| (n, *v));
                let want = reference.longest(fold_net(net, &nat64));
                assert_eq!(got, want, "closest {net}");
                let exact = reference.0.iter().find(|(n, _)| *n == canonical(net));
                assert_eq!(index.get(net), exact.map(|(_, v)| v), "get {net}");
            }
        }
        assert_eq!(index.len(), reference.0.len());
    }
    // Every stored prefix is found, and iteration is sorted.
    let mut sorted = reference.0.clone();
    sorted.sort();
    let listed: Vec<(IpNet, u32)> = index.iter().map(|(n, v)| (n, *v)).collect();
    assert_eq!(listed, sorted);
    for (net, v) in &sorted {
        assert_eq!(index.get(*net), Some(v));
        // A prefix is its own closest, unless it folds out of a NAT64 prefix.
        let want = reference.longest(fold_net(*net, &nat64));
        assert_eq!(index.closest(*net).map(|(n, v)| (n, *v)), want);
        if fold_net(*net, &nat64) == *net {
            assert_eq!(want, Some((*net, *v)));
        }
    }
    // Removing everything leaves an empty index that matches nothing.
    for (net, v) in &sorted {
        assert_eq!(index.remove(*net), Some(*v));
    }
    assert!(index.is_empty());
    assert_eq!(index.lookup(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), None);
    assert_eq!(index.lookup(IpAddr::V4(Ipv4Addr::UNSPECIFIED)), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn identity_matches_a_linear_scan(ops in prop::collection::vec(op(), 1..200)) {
        check(ops);
    }
}

/// Lookups of prefixes of every length along one path, added and removed
/// in both orders: exercises every depth of both tries.
#[test]
fn identity_every_length_on_one_path() {
    let nat64 = nat64();
    for (bits, max) in [
        (0x2001_0db8_0001_0002_0000_0000_0000_0080u128, 128u8),
        (u128::MAX, 128),
        (0, 128),
    ] {
        let nets: Vec<IpNet> = (0..=max)
            .map(|l| IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits), l).unwrap().trunc()))
            .collect();
        for order in [false, true] {
            let mut index = HostIndex::with_nat64(&nat64);
            let mut reference = Reference::default();
            let mut seq = nets.clone();
            if order {
                seq.reverse();
            }
            for (i, &n) in seq.iter().enumerate() {
                index.insert(n, i as u32);
                reference.insert(n, i as u32);
            }
            for &n in &seq {
                index.remove(n);
                reference.remove(n);
                for probe in [bits, bits ^ 1, bits ^ (1 << 64), !bits] {
                    let a = IpAddr::V6(Ipv6Addr::from(probe));
                    assert_eq!(
                        index.lookup(a).map(|(n, v)| (n, *v)),
                        reference.lookup(a, &nat64),
                        "{a} after removing {n}"
                    );
                }
            }
        }
    }
    let mut index = HostIndex::new();
    for l in 0..=32u8 {
        index.insert(
            IpNet::V4(Ipv4Net::new(Ipv4Addr::new(198, 51, 100, 7), l).unwrap()),
            l,
        );
    }
    for l in (0..=32u8).rev() {
        let a = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(index.lookup(a).map(|(n, _)| n.prefix_len()), Some(l));
        index.remove(IpNet::V4(
            Ipv4Net::new(Ipv4Addr::new(198, 51, 100, 7), l).unwrap(),
        ));
    }
    assert_eq!(
        index.lookup(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7))),
        None
    );
}
