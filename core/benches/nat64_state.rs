//! `nat64::state` at scale: session creation per second, lookups on the
//! established path with 1,000,000 live sessions, and memory per session and
//! per BIB entry.
//!
//! Memory is measured, not estimated: this bench installs a counting global
//! allocator and reports the live heap bytes a table holds (after building
//! it, minus before), next to `Nat64State::heap_bytes()` (the estimate from
//! capacities that a server can export as a metric). Two shapes:
//!
//! - **per session**: 10,000 BIB entries with 100 sessions each (EIM: one
//!   socket talking to many servers), so BIB overhead is 1% of the count;
//! - **per BIB entry**: 1,000,000 BIB entries with one session each; the
//!   per-session cost from the first shape is subtracted.
//!
//! The goal is at most 96 bytes per session (Jool about 104, VPP
//! about 144 with its hash entries).

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant as StdInstant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sixgate::nat64::state::{
    Config, Inbound, Nat64State, Outbound, Pool4Range, Protocol, Settings, Transport6, Tuple4,
    Tuple6,
};
use sixgate::time::Instant;
use sixgate::Nat64Prefix;

/// Counts live heap bytes. The one `unsafe` in this crate's benches: a
/// `GlobalAlloc` impl must be `unsafe impl`; it only forwards to `System`.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for `dealloc`; the new size is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MILLION: usize = 1_000_000;

fn config() -> Config {
    let mut s = Settings::new(
        Nat64Prefix::WELL_KNOWN,
        vec![Pool4Range {
            proto: Protocol::Udp,
            // 62 addresses × 64,512 ports: room for 1M BIB entries.
            net: "198.18.0.0/26".parse().unwrap(),
            ports: 1024..=65535,
        }],
    );
    s.max_sessions = 2 * MILLION as u32;
    s.max_bibs = 2 * MILLION as u32;
    s.max_sessions_per_customer = 100_000;
    s.max_blocks_per_customer = 64;
    s.max_events = 16;
    Config::new(s).unwrap()
}

/// Flow `i` of a shape with `per_bib` sessions per BIB entry: customer
/// `i / per_bib / 500`, socket `(i / per_bib) % 500`, server `i % per_bib`.
fn flow(i: usize, per_bib: usize) -> Tuple6 {
    let bib = i / per_bib;
    let customer = (bib / 500) as u16;
    let socket = 10_000 + (bib % 500) as u16;
    let server = Ipv4Addr::from(0xcb00_7100u32 + (i % per_bib) as u32);
    Tuple6::new(
        Protocol::Udp,
        Transport6::new(
            Ipv6Addr::new(0x2001, 0xdb8, customer >> 8, customer & 0xff, 0, 0, 0, 1),
            socket,
        ),
        Transport6::new(Nat64Prefix::WELL_KNOWN.embed(server), 443),
    )
}

/// Builds a table of `n` flows; returns it and how long creation took.
fn build(n: usize, per_bib: usize) -> (Nat64State, Duration) {
    let mut nat = Nat64State::new(config(), 0x5eed);
    let start = StdInstant::now();
    for i in 0..n {
        let v = nat.handle_outbound(Instant::ZERO, &flow(i, per_bib));
        assert!(matches!(v, Outbound::Translate { .. }), "{i}: {v:?}");
        if i % 64 == 0 {
            while nat.poll_event().is_some() {}
        }
    }
    let took = start.elapsed();
    assert_eq!(nat.stats().sessions as usize, n);
    (nat, took)
}

fn measure(n: usize, per_bib: usize) -> (Nat64State, usize) {
    let before = LIVE.load(Ordering::Relaxed);
    let (nat, _) = build(n, per_bib);
    let after = LIVE.load(Ordering::Relaxed);
    (nat, after - before)
}

fn bench(c: &mut Criterion) {
    // Memory first, on a quiet heap.
    let (nat, shared) = measure(MILLION, 100);
    let per_session = shared as f64 / MILLION as f64;
    eprintln!(
        "nat64_state memory: 1,000,000 sessions under 10,000 BIB entries: {shared} bytes \
         measured ({per_session:.1}/session), heap_bytes() estimate {}",
        nat.heap_bytes()
    );
    drop(nat);
    let (nat, own) = measure(MILLION, 1);
    let per_bib = own as f64 / MILLION as f64 - per_session;
    eprintln!(
        "nat64_state memory: 1,000,000 BIB entries with one session each: {own} bytes \
         measured ({:.1}/entry+session, so {per_bib:.1}/BIB entry), heap_bytes() estimate {}",
        own as f64 / MILLION as f64,
        nat.heap_bytes()
    );

    // Lookups on the established path, 1M live sessions (1M BIB entries:
    // the cache-unfriendly shape). Flows are visited in a scrambled order.
    let mut nat = nat;
    let order: Vec<usize> = (0..MILLION)
        .map(|i| (i.wrapping_mul(0x9e37_79b1)) % MILLION)
        .collect();
    let outbound: Vec<Tuple6> = order.iter().map(|&i| flow(i, 1)).collect();
    let inbound: Vec<Tuple4> = outbound
        .iter()
        .take(100_000)
        .map(|t| match nat.handle_outbound(Instant::ZERO, t) {
            Outbound::Translate { src, dst } => Tuple4::new(Protocol::Udp, dst, src),
            v => panic!("{v:?}"),
        })
        .collect();
    let mut g = c.benchmark_group("nat64_state_1m_sessions");
    const BATCH: usize = 100_000;
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut at = 0usize;
    // Busy flows: packets under a second apart leave the session in place
    // in its timer list (the clock stands still here).
    g.bench_function("outbound_established_busy", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for _ in 0..BATCH {
                at = (at + 1) % MILLION;
                let v = nat.handle_outbound(Instant::from_millis(1), black_box(&outbound[at]));
                n += u32::from(matches!(v, Outbound::Translate { .. }));
            }
            n
        })
    });
    // Idle flows: each packet comes seconds after the flow's last one, so
    // every packet also moves its session to the tail of its timer list.
    let mut clock = 1_000u64;
    g.bench_function("outbound_established_idle", |b| {
        b.iter(|| {
            clock += 1_000;
            let mut n = 0u32;
            for _ in 0..BATCH {
                at = (at + 1) % MILLION;
                let v = nat.handle_outbound(Instant::from_millis(clock), black_box(&outbound[at]));
                n += u32::from(matches!(v, Outbound::Translate { .. }));
            }
            n
        })
    });
    g.bench_function("inbound_established", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for t in &inbound {
                let v = nat.handle_inbound(Instant::from_millis(clock), black_box(t), &[]);
                n += u32::from(matches!(v, Inbound::Translate { .. }));
            }
            n
        })
    });
    g.finish();
    drop(nat);

    // The same lookups in a table that fits in cache (10,000 sessions): the
    // difference is the cost of cache misses at 1M.
    let (mut small, _) = build(10_000, 1);
    let flows: Vec<Tuple6> = (0..10_000).map(|i| flow((i * 7_919) % 10_000, 1)).collect();
    let mut g = c.benchmark_group("nat64_state_10k_sessions");
    g.throughput(Throughput::Elements(flows.len() as u64));
    g.bench_function("outbound_established_busy", |b| {
        b.iter(|| {
            let mut n = 0u32;
            for t in &flows {
                let v = small.handle_outbound(Instant::from_millis(1), black_box(t));
                n += u32::from(matches!(v, Outbound::Translate { .. }));
            }
            n
        })
    });
    g.finish();
    drop(small);

    // Creation: one iteration builds a fresh table of 1M sessions (1M BIB
    // entries, so every session also allocates a port).
    let mut g = c.benchmark_group("nat64_state_create");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MILLION as u64));
    g.bench_function("1m_sessions_1m_bibs", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| build(MILLION, 1).1).sum())
    });
    g.bench_function("1m_sessions_10k_bibs", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| build(MILLION, 100).1).sum())
    });
    g.finish();

    // Expiry: one handle_timeout that removes 1M sessions and BIB entries.
    let mut g = c.benchmark_group("nat64_state_expire");
    g.sample_size(10);
    g.throughput(Throughput::Elements(MILLION as u64));
    g.bench_function("1m_sessions", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (mut nat, _) = build(MILLION, 1);
                    let start = StdInstant::now();
                    nat.handle_timeout(Instant::from_secs(3600));
                    let took = start.elapsed();
                    assert_eq!(nat.stats().sessions, 0);
                    took
                })
                .sum()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
