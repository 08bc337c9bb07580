//! The address plan at scale: 1,000,000 /64s allocated from a /32 (first-fit
//! and sparse; one iteration is one whole run of a million), a lookup in the
//! million-allocation plan, and its JSON round trip. The target is
//! the million first-fit allocations well under a second.
//!
//! `cargo bench -p sixgate --bench plan -- --warm-up-time 1 --measurement-time 5`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use sixgate::plan::{Owner, Pick, Plan, PoolSpec, Strategy, Timestamp};

/// How many /64s one run allocates.
const COUNT: u32 = 1_000_000;
const POOL: &str = "2001:db8::/32";

/// A plan of one /32 of /64s with the given strategy.
fn empty(strategy: Strategy) -> Plan {
    let mut plan = Plan::new();
    plan.add_pool(POOL.parse().unwrap(), PoolSpec::new(64, strategy))
        .unwrap();
    plan
}

/// Owners made before the clock starts, so the run measures the plan.
fn owners() -> Vec<Owner> {
    (0..COUNT)
        .map(|i| Owner {
            customer: Some(format!("c{i}")),
            ..Owner::default()
        })
        .collect()
}

/// Allocates every owner's /64; returns the time the allocations took.
fn fill(plan: &mut Plan, owners: Vec<Owner>) -> Duration {
    let start = Instant::now();
    for owner in owners {
        black_box(plan.alloc(POOL, Pick::Next, owner, Timestamp(1)).unwrap());
    }
    start.elapsed()
}

/// One iteration = one run of a million allocations into a fresh plan.
fn million(c: &mut Criterion, name: &str, strategy: Strategy) {
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut plan = empty(strategy);
                let owners = owners();
                total += fill(&mut plan, owners);
                drop(black_box(plan));
            }
            total
        })
    });
}

fn bench(c: &mut Criterion) {
    million(c, "alloc_1m_first_fit", Strategy::FirstFit);
    million(c, "alloc_1m_sparse", Strategy::Sparse);

    let mut plan = empty(Strategy::FirstFit);
    fill(&mut plan, owners());
    let addr = "2001:db8:0:7a11:1::1/128".parse().unwrap();
    c.bench_function("lookup_in_1m", |b| {
        b.iter(|| black_box(&plan).lookup(black_box(addr)).map(|s| s.len()))
    });
    let json = plan.to_json();
    println!("1M plan JSON: {} MB", json.len() / 1_000_000);
    c.bench_function("to_json_1m", |b| {
        b.iter(|| black_box(&plan).to_json().len())
    });
    c.bench_function("from_json_1m", |b| {
        b.iter(|| Plan::from_json(black_box(&json)).unwrap())
    });
}

criterion_group! {
    name = benches;
    // One iteration of the allocation benches is a whole run of a million.
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
