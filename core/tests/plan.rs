//! Property tests of the address plan: random sequences of alloc, release,
//! reserve, unreserve and expire over small pools (so that exhaustion and
//! reuse happen) on every strategy, checking the invariants after every
//! step against a naive recount, and the JSON round trip.

use std::collections::BTreeMap;

use ipnet::IpNet;
use proptest::prelude::*;
use sixgate::plan::{
    IdEncoding, Owner, Pick, Plan, Pool, PoolSpec, Status, Strategy as PlanStrategy, Timestamp,
};

const STRATEGIES: [PlanStrategy; 5] = [
    PlanStrategy::FirstFit,
    PlanStrategy::Sparse,
    PlanStrategy::Deterministic(IdEncoding::Number),
    PlanStrategy::Deterministic(IdEncoding::Decimal),
    PlanStrategy::Deterministic(IdEncoding::Hash),
];

#[derive(Clone, Debug)]
enum Op {
    /// Allocate in pool number `pool` (modulo the pools there are).
    Alloc {
        pool: usize,
        pick: u8,
        n: u16,
        customer: u8,
        subdivide: bool,
    },
    /// Release allocation number `which` (modulo).
    Release {
        which: usize,
    },
    ReleaseCustomer {
        customer: u8,
    },
    /// Reserve 2^k children from child `index` of a pool.
    Reserve {
        pool: usize,
        index: u16,
        k: u8,
    },
    Unreserve {
        which: usize,
    },
    Expire,
    Wait {
        secs: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (any::<usize>(), 0u8..4, any::<u16>(), 0u8..6, prop::bool::weighted(0.15))
            .prop_map(|(pool, pick, n, customer, subdivide)| Op::Alloc { pool, pick, n, customer, subdivide }),
        3 => any::<usize>().prop_map(|which| Op::Release { which }),
        1 => (0u8..6).prop_map(|customer| Op::ReleaseCustomer { customer }),
        1 => (any::<usize>(), any::<u16>(), 0u8..3).prop_map(|(pool, index, k)| Op::Reserve { pool, index, k }),
        1 => any::<usize>().prop_map(|which| Op::Unreserve { which }),
        1 => Just(Op::Expire),
        2 => (0u8..6).prop_map(|secs| Op::Wait { secs }),
    ]
}

fn n(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn spec(len: u8, strategy: PlanStrategy, hold_down: u64) -> PoolSpec {
    let mut spec = PoolSpec::new(len, strategy);
    spec.hold_down = hold_down;
    spec
}

/// Three small pools of one strategy: 16 IPv6 /60s, 16 IPv4 /32s (two
/// reserved), 256 IPv6 /128s (the subnet-router anycast address reserved).
fn small_plan(strategy: PlanStrategy) -> Plan {
    let mut plan = Plan::new();
    plan.add_pool(n("2001:db8::/56"), spec(60, strategy, 5))
        .unwrap();
    plan.add_pool(n("192.0.2.0/28"), spec(32, strategy, 3))
        .unwrap();
    plan.add_pool(n("2001:db8:1::/120"), spec(128, strategy, 0))
        .unwrap();
    plan
}

fn width(pool: &Pool) -> u8 {
    pool.child_len() - pool.prefix().prefix_len()
}

fn last(net: IpNet) -> u128 {
    match net {
        IpNet::V4(v4) => u128::from(u32::from(v4.broadcast())),
        IpNet::V6(v6) => u128::from(v6.broadcast()),
    }
}

fn first(net: IpNet) -> u128 {
    match net {
        IpNet::V4(v4) => u128::from(u32::from(v4.network())),
        IpNet::V6(v6) => u128::from(v6.network()),
    }
}

fn reverse(i: u64, w: u8) -> u64 {
    i.reverse_bits() >> (64 - w)
}

/// The child a naive reference would hand out for `Pick::Next`: the lowest
/// free child (first-fit) or the free child with the lowest bit-reversed
/// number (sparse), found by looking at every child.
fn reference_next(plan: &Plan, pool: &Pool) -> Option<IpNet> {
    let total = 1u64 << width(pool);
    let free = (0..total).filter(|&i| {
        let child = pool.child(i).unwrap();
        let steps = plan.lookup(child).unwrap();
        let step = steps
            .iter()
            .find(|s| s.pool.prefix() == pool.prefix())
            .unwrap();
        matches!(step.status, Status::Free)
    });
    let index = match pool.strategy() {
        PlanStrategy::FirstFit => free.min(),
        PlanStrategy::Sparse => free.min_by_key(|&i| reverse(i, width(pool))),
        PlanStrategy::Deterministic(_) => return None,
    }?;
    pool.child(index)
}

/// Every invariant the plan promises, checked by recounting.
fn check(plan: &Plan) {
    for pool in plan.pools() {
        let mut items: Vec<(u128, u128, String)> = Vec::new();
        let mut allocated = 0u128;
        for a in pool.allocations() {
            assert!(
                pool.prefix().contains(&a.prefix()),
                "{} outside {}",
                a.prefix(),
                pool.prefix()
            );
            assert_eq!(a.prefix().prefix_len(), pool.child_len());
            assert_eq!(a.prefix().trunc(), a.prefix());
            if let Some(sub) = a.pool() {
                assert_eq!(sub.prefix(), a.prefix());
            }
            items.push((
                first(a.prefix()),
                last(a.prefix()),
                format!("allocation {}", a.prefix()),
            ));
            allocated += 1;
        }
        let mut reserved = 0u128;
        for r in pool.reservations() {
            assert!(pool.prefix().contains(&r.prefix));
            assert!(r.prefix.prefix_len() <= pool.child_len());
            reserved += 1u128 << (pool.child_len() - r.prefix.prefix_len());
            items.push((
                first(r.prefix),
                last(r.prefix),
                format!("reservation {}", r.prefix),
            ));
        }
        let mut held = 0u128;
        for (p, _) in pool.held() {
            assert!(pool.prefix().contains(&p));
            assert_eq!(p.prefix_len(), pool.child_len());
            held += 1;
            items.push((first(p), last(p), format!("held {p}")));
        }
        items.sort();
        for w in items.windows(2) {
            assert!(
                w[0].1 < w[1].0,
                "{} overlaps {} in {}",
                w[0].2,
                w[1].2,
                pool.prefix()
            );
        }
        let u = pool.usage();
        assert_eq!(u.total, 1u128 << width(pool));
        assert_eq!(
            (u.allocated, u.reserved, u.held),
            (allocated, reserved, held),
            "{}",
            pool.prefix()
        );
        assert_eq!(u.allocated + u.reserved + u.held + u.free, u.total);
        // The free blocks cover exactly the free children.
        let blocks = pool.free(usize::MAX);
        let free: u128 = blocks
            .iter()
            .map(|b| {
                assert!(b.prefix_len() <= pool.child_len() && pool.prefix().contains(b));
                1u128 << (pool.child_len() - b.prefix_len())
            })
            .sum();
        assert_eq!(free, u.free, "free blocks of {}", pool.prefix());
        for w in blocks.windows(2) {
            assert!(last(w[0]) < first(w[1]));
        }
    }
    // The JSON round trip: equal plan, identical bytes.
    let json = plan.to_json();
    let loaded = Plan::from_json(&json).unwrap();
    assert_eq!(&loaded, plan);
    assert_eq!(loaded.to_json(), json);
}

fn owner(customer: u8) -> Owner {
    Owner {
        customer: Some(format!("c{customer}")),
        ..Owner::default()
    }
}

fn run(strategy: PlanStrategy, ops: Vec<Op>) {
    let mut plan = small_plan(strategy);
    let mut now = 1000u64;
    // Released prefixes and when they may be handed out again.
    let mut released: BTreeMap<IpNet, u64> = BTreeMap::new();
    for op in ops {
        let t = Timestamp(now);
        match op {
            Op::Alloc {
                pool,
                pick,
                n,
                customer,
                subdivide,
            } => {
                let pools = plan.pools();
                let p = pools[pool % pools.len()];
                let key = p.prefix().to_string();
                let deterministic = matches!(p.strategy(), PlanStrategy::Deterministic(_));
                let pick = match pick {
                    0 | 1 if !deterministic => Pick::Next,
                    0 | 1 => Pick::Id((n % 20).to_string()),
                    2 => Pick::Index(u64::from(n % 20)),
                    _ => Pick::Id(format!("x{}", n % 20)),
                };
                // What alloc would give without a JSON round trip, with one,
                // and what a naive reference says.
                let mut expired = plan.clone();
                expired.expire(t);
                let want = match pick {
                    Pick::Next => reference_next(&expired, expired.pool(&key).unwrap()),
                    _ => None,
                };
                let mut loaded = Plan::from_json(&plan.to_json()).unwrap();
                let got = plan.alloc(&key, pick.clone(), owner(customer), t);
                let again = loaded.alloc(&key, pick.clone(), owner(customer), t);
                assert_eq!(got, again, "alloc after a round trip differs");
                if let Ok(prefix) = got {
                    if let Some(until) = released.get(&prefix) {
                        assert!(
                            *until <= now,
                            "{prefix} reused at {now}, held until {until}"
                        );
                    }
                    if pick == Pick::Next {
                        assert_eq!(Some(prefix), want, "{strategy} {key}");
                    }
                    if let Pick::Id(id) = &pick {
                        let slot = plan.pool(&key).unwrap().slot_for_id(id).unwrap();
                        assert_eq!(slot, prefix);
                    }
                    if subdivide && prefix.prefix_len() == 60 {
                        plan.subdivide(prefix, spec(64, strategy, 2)).unwrap();
                    }
                } else if pick == Pick::Next {
                    assert_eq!(want, None, "{strategy} {key}: {got:?}");
                }
            }
            Op::Release { which } => {
                let all = plan.allocations();
                if all.is_empty() {
                    continue;
                }
                let prefix = all[which % all.len()].prefix();
                for r in plan.release(prefix, t).unwrap() {
                    released.insert(r.prefix, r.until.0);
                }
            }
            Op::ReleaseCustomer { customer } => {
                let before = plan.held_by(&format!("c{customer}")).len();
                let gone = plan.release_customer(&format!("c{customer}"), t);
                assert!(gone.len() >= before);
                assert!(plan.held_by(&format!("c{customer}")).is_empty());
                for r in gone {
                    released.insert(r.prefix, r.until.0);
                }
            }
            Op::Reserve { pool, index, k } => {
                let pools = plan.pools();
                let p = pools[pool % pools.len()];
                let k = k.min(width(p));
                let size = 1u64 << k;
                let start = (u64::from(index) % (1u64 << width(p))) & !(size - 1);
                let child = p.child(start).unwrap();
                let range = IpNet::new(child.addr(), p.child_len() - k).unwrap();
                let key = p.prefix().to_string();
                let _ = plan.reserve(&key, range, "test");
            }
            Op::Unreserve { which } => {
                let manual: Vec<IpNet> = plan
                    .pools()
                    .iter()
                    .flat_map(|p| p.reservations().filter(|r| !r.automatic).map(|r| r.prefix))
                    .collect();
                if !manual.is_empty() {
                    plan.unreserve(manual[which % manual.len()]).unwrap();
                }
            }
            Op::Expire => {
                plan.expire(t);
                for p in plan.pools() {
                    assert!(p.held().all(|(_, until)| until > t));
                }
            }
            Op::Wait { secs } => now += u64::from(secs),
        }
        check(&plan);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_operations_keep_every_invariant(
        strategy in 0usize..STRATEGIES.len(),
        ops in prop::collection::vec(op(), 1..60),
    ) {
        run(STRATEGIES[strategy], ops);
    }

    #[test]
    fn deterministic_slots_are_stable(
        ids in prop::collection::vec("[a-z0-9]{1,12}", 1..20),
        taken in prop::collection::vec(0u64..65536, 0..50),
        encoding in 0usize..3,
    ) {
        let encoding = [IdEncoding::Number, IdEncoding::Decimal, IdEncoding::Hash][encoding];
        let strategy = PlanStrategy::Deterministic(encoding);
        let mut a = Plan::new();
        a.add_pool(n("2001:db8::/48"), PoolSpec::new(64, strategy)).unwrap();
        // Another plan with a different history, and the pool elsewhere in it.
        let mut b = Plan::new();
        b.add_pool(n("2001:db9::/32"), PoolSpec::new(48, PlanStrategy::FirstFit)).unwrap();
        b.add_pool(n("2001:db8::/48"), PoolSpec::new(64, strategy)).unwrap();
        for i in &taken {
            let _ = b.alloc("2001:db8::/48", Pick::Index(*i), Owner::default(), Timestamp(0));
        }
        for id in &ids {
            let slot_a = a.pool("2001:db8::/48").unwrap().slot_for_id(id);
            let slot_b = b.pool("2001:db8::/48").unwrap().slot_for_id(id);
            prop_assert_eq!(&slot_a, &slot_b);
            match a.alloc("2001:db8::/48", Pick::Id(id.clone()), Owner::default(), Timestamp(0)) {
                Ok(prefix) => prop_assert_eq!(Ok(prefix), slot_a),
                // Refused: out of range, or the same slot as an earlier id.
                Err(e) => prop_assert!(slot_a.is_err() || e.kind() == "id_unavailable", "{e}"),
            }
        }
    }

    #[test]
    fn junk_json_never_panics(text in "\\PC{0,200}") {
        let _ = Plan::from_json(&text);
    }
}
