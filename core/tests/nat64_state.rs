//! `nat64::state` over virtual time: the RFC 6146 sequences (UDP and ICMP
//! create / refresh / expire, EIM, EIF vs ADF, TCP open, close, RST, probe,
//! simultaneous open success and timeout, hairpin, pool exhaustion, static
//! BIB surviving expiry) and property tests (tables within limits, every
//! session under a live BIB entry, outbound-then-inbound round trips).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use proptest::prelude::*;
use sixgate::nat64::state::*;
use sixgate::time::Instant;
use sixgate::Nat64Prefix;

/// Counts this thread's heap allocations, so that a test can show the
/// established-session path allocates nothing. The only `unsafe` here: a
/// `GlobalAlloc` must be an `unsafe impl`; it forwards to `System`.
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: as for `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const POOL: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PREFIX: Nat64Prefix = Nat64Prefix::WELL_KNOWN;

fn pool_all(ports: std::ops::RangeInclusive<u16>) -> Vec<Pool4Range> {
    Protocol::ALL
        .into_iter()
        .map(|proto| Pool4Range {
            proto,
            net: "192.0.2.1/32".parse().unwrap(),
            ports: ports.clone(),
        })
        .collect()
}

fn settings() -> Settings {
    Settings::new(PREFIX, pool_all(1024..=65535))
}

fn nat(s: Settings) -> Nat64State {
    Nat64State::new(Config::new(s).unwrap(), 42)
}

/// Host `n`'s address in its own customer /64.
fn host(n: u16, port: u16) -> Transport6 {
    Transport6::new(Ipv6Addr::new(0x2001, 0xdb8, 0, n, 0, 0, 0, 1), port)
}

/// An IPv4 server and its IPv6 view under the prefix.
fn server(last: u8, port: u16) -> (Transport4, Transport6) {
    let v4 = Ipv4Addr::new(198, 51, 100, last);
    (
        Transport4::new(v4, port),
        Transport6::new(PREFIX.embed(v4), port),
    )
}

fn at(secs: u64) -> Instant {
    Instant::from_secs(secs)
}

fn events(nat: &mut Nat64State) -> Vec<Event> {
    std::iter::from_fn(|| nat.poll_event()).collect()
}

/// Sends outbound and expects a translation; returns the pool4 source.
fn out(nat: &mut Nat64State, now: Instant, t: Tuple6) -> Transport4 {
    match nat.handle_outbound(now, &t) {
        Outbound::Translate { src, .. } => src,
        other => panic!("{t:?}: {other:?}"),
    }
}

const SYN: TcpFlags = TcpFlags::SYN;
const FIN: TcpFlags = TcpFlags::FIN;
const RST: TcpFlags = TcpFlags::RST;
const ACK: TcpFlags = TcpFlags(0x10);

#[test]
fn udp_create_refresh_expire() {
    let mut nat = nat(settings());
    let (s4, s6) = server(7, 53);
    let h = host(1, 40001);
    let src = out(&mut nat, at(0), Tuple6::new(Protocol::Udp, h, s6));
    assert_eq!(src.addr, POOL);
    assert_eq!(src.port % 2, 1, "parity");
    assert!(src.port >= 1024, "range");
    let ev = events(&mut nat);
    assert!(
        matches!(ev[0], Event::BlockAllocated { proto: Protocol::Udp, addr: POOL, first, last, .. }
        if last - first == 127 && (first..=last).contains(&src.port))
    );
    assert_eq!(
        ev[1],
        Event::BibCreated {
            proto: Protocol::Udp,
            v6: h,
            v4: src,
            at: at(0)
        }
    );
    assert_eq!(
        ev[1].to_string(),
        format!(
            "0.000s bib-created udp [2001:db8:0:1::1]:40001 192.0.2.1:{}",
            src.port
        )
    );
    assert_eq!(nat.poll_timeout(), Some(at(300)));

    // Inbound refreshes too.
    let reply = Tuple4::new(Protocol::Udp, s4, src);
    assert_eq!(
        nat.handle_inbound(at(200), &reply, &[]),
        Inbound::Translate { src: s6, dst: h }
    );
    assert_eq!(nat.poll_timeout(), Some(at(500)));
    nat.handle_timeout(at(499));
    assert_eq!(nat.stats().sessions, 1);
    nat.handle_timeout(at(500));
    let st = nat.stats();
    assert_eq!((st.sessions, st.bibs, st.customers), (0, 0, 0));
    let ev = events(&mut nat);
    assert_eq!(
        ev[0],
        Event::BibReleased {
            proto: Protocol::Udp,
            v6: h,
            v4: src,
            at: at(500)
        }
    );
    assert!(matches!(ev[1], Event::BlockReleased { at: t, .. } if t == at(500)));
    assert_eq!(nat.poll_timeout(), None);
    // The mapping is gone: the reply is now refused.
    assert_eq!(
        nat.handle_inbound(at(501), &reply, &[]),
        Inbound::Drop(DropReason::NoBib)
    );
    assert_eq!(nat.drops(DropReason::NoBib), 1);
    nat.check_invariants().unwrap();
}

#[test]
fn udp_timeout_is_configurable() {
    let mut s = settings();
    s.timeouts = Timeouts::new(UDP_MIN, TCP_EST, TCP_TRANS, ICMP_DEFAULT).unwrap();
    let mut nat = nat(s);
    let (_, s6) = server(7, 53);
    out(
        &mut nat,
        at(10),
        Tuple6::new(Protocol::Udp, host(1, 5000), s6),
    );
    assert_eq!(nat.poll_timeout(), Some(at(130)));
}

#[test]
fn endpoint_independent_mapping_and_one_block_per_customer() {
    let mut nat = nat(settings());
    let h = host(1, 40000);
    let (_, a6) = server(1, 53);
    let (_, b6) = server(2, 123);
    let a = out(&mut nat, at(0), Tuple6::new(Protocol::Udp, h, a6));
    let b = out(&mut nat, at(1), Tuple6::new(Protocol::Udp, h, b6));
    assert_eq!(a, b, "EIM: one mapping for every destination");
    assert_eq!(nat.stats().sessions, 2);
    assert_eq!(nat.stats().bibs, 1);
    // A second socket of the same host: same block, new port, even parity.
    let c = out(
        &mut nat,
        at(2),
        Tuple6::new(Protocol::Udp, host(1, 40002), a6),
    );
    assert_ne!(c, a);
    assert_eq!(c.port % 2, 0);
    let blocks = events(&mut nat)
        .into_iter()
        .filter(|e| matches!(e, Event::BlockAllocated { .. }))
        .count();
    assert_eq!(blocks, 1, "one log line for the block, not per BIB entry");
    // Another customer gets another block.
    let d = out(
        &mut nat,
        at(3),
        Tuple6::new(Protocol::Udp, host(2, 40000), a6),
    );
    assert!(d.port / 128 != a.port / 128 || d.addr != a.addr);
    assert!(matches!(
        events(&mut nat)[0],
        Event::BlockAllocated { customer, .. } if customer.to_string() == "2001:db8:0:2::/64"
    ));
    nat.check_invariants().unwrap();
}

#[test]
fn seeded_port_choice_replays() {
    let (_, s6) = server(1, 53);
    let run = |seed| {
        let mut n = Nat64State::new(Config::new(settings()).unwrap(), seed);
        (0..20u16)
            .map(|i| {
                out(
                    &mut n,
                    at(0),
                    Tuple6::new(Protocol::Udp, host(i, 5000 + i), s6),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

#[test]
fn eif_lets_anyone_in() {
    let mut nat = nat(settings());
    let h = host(1, 3478);
    let (_, stun6) = server(1, 3478);
    let src = out(&mut nat, at(0), Tuple6::new(Protocol::Udp, h, stun6));
    let (peer4, peer6) = server(99, 9999);
    assert_eq!(
        nat.handle_inbound(at(1), &Tuple4::new(Protocol::Udp, peer4, src), &[]),
        Inbound::Translate { src: peer6, dst: h }
    );
    assert_eq!(nat.stats().sessions, 2);
}

#[test]
fn adf_lets_in_only_addresses_contacted() {
    let mut s = settings();
    s.filtering = Filtering::AddressDependent;
    let mut nat = nat(s);
    let h = host(1, 3478);
    let (_, stun6) = server(1, 3478);
    let src = out(&mut nat, at(0), Tuple6::new(Protocol::Udp, h, stun6));
    let (peer4, _) = server(99, 9999);
    assert_eq!(
        nat.handle_inbound(at(1), &Tuple4::new(Protocol::Udp, peer4, src), &[]),
        Inbound::Drop(DropReason::Filtered)
    );
    assert_eq!(nat.drops(DropReason::Filtered), 1);
    // The contacted address, from another port: allowed (address-dependent,
    // not address-and-port-dependent).
    let (other_port, other6) = server(1, 5000);
    assert_eq!(
        nat.handle_inbound(at(2), &Tuple4::new(Protocol::Udp, other_port, src), &[]),
        Inbound::Translate {
            src: other6,
            dst: h
        }
    );
    // Once the host sends to the peer, the peer gets in.
    let (_, p6) = server(99, 1);
    out(&mut nat, at(3), Tuple6::new(Protocol::Udp, h, p6));
    assert!(matches!(
        nat.handle_inbound(at(4), &Tuple4::new(Protocol::Udp, peer4, src), &[]),
        Inbound::Translate { .. }
    ));
    nat.check_invariants().unwrap();
}

#[test]
fn adf_does_not_filter_port_forwards() {
    let web = host(7, 80);
    let public = Transport4::new(POOL, 8080);
    let mut s = settings();
    s.filtering = Filtering::AddressDependent;
    s.statics = vec![StaticBib {
        proto: Protocol::Tcp,
        v6: web,
        v4: public,
    }];
    let mut nat = nat(s);
    let (c4, c6) = server(20, 50000);
    assert_eq!(
        nat.handle_inbound(
            at(0),
            &Tuple4::new(Protocol::Tcp, c4, public).with_flags(SYN),
            &[]
        ),
        Inbound::Translate { src: c6, dst: web }
    );
}

#[test]
fn icmp_query_ids() {
    let mut nat = nat(settings());
    let h = host(1, 0x1234);
    let (s4, s6) = server(8, 0x1234);
    let out_t = nat.handle_outbound(at(0), &Tuple6::new(Protocol::Icmp, h, s6));
    let Outbound::Translate { src, dst } = out_t else {
        panic!("{out_t:?}")
    };
    assert_eq!(src.addr, POOL);
    assert_eq!(
        dst,
        Transport4::new(s4.addr, src.port),
        "both ids are the new id"
    );
    // The echo reply carries the new id in both places.
    let reply = Tuple4::new(Protocol::Icmp, Transport4::new(s4.addr, src.port), src);
    assert_eq!(
        nat.handle_inbound(at(1), &reply, &[]),
        Inbound::Translate {
            src: Transport6::new(s6.addr, h.port),
            dst: h
        }
    );
    assert_eq!(nat.poll_timeout(), Some(at(61)));
    nat.handle_timeout(at(61));
    assert_eq!(nat.stats().bibs, 0);
}

#[test]
fn parity_and_port_range() {
    // Pool with both ranges: a well-known source gets a well-known port.
    let mut nat = nat(Settings::new(PREFIX, pool_all(0..=65535)));
    let (_, s6) = server(1, 123);
    for (port, wk) in [(123u16, true), (124, true), (40000, false), (40001, false)] {
        let src = out(
            &mut nat,
            at(0),
            Tuple6::new(Protocol::Udp, host(1, port), s6),
        );
        assert_eq!(src.port % 2, port % 2, "parity of {port}");
        assert_eq!(src.port < 1024, wk, "range of {port}");
    }
    // Pool without well-known ports: fall back to the other range.
    let mut nat = nat_default();
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Udp, host(1, 123), s6),
    );
    assert!(src.port >= 1024);
    assert_eq!(src.port % 2, 1);
}

fn nat_default() -> Nat64State {
    nat(settings())
}

#[test]
fn customer_blocks_fill_then_limit() {
    let mut s = settings();
    s.block_size = 4;
    s.max_blocks_per_customer = 1;
    let mut nat = nat(s);
    let (_, s6) = server(1, 53);
    let mut ports = Vec::new();
    // Two even slots, then the odd ones (parity given up rather than fail).
    for i in 0..4u16 {
        ports.push(
            out(
                &mut nat,
                at(0),
                Tuple6::new(Protocol::Udp, host(1, 5000 + 2 * i), s6),
            )
            .port,
        );
    }
    assert_eq!(ports.iter().filter(|p| *p % 2 == 0).count(), 2);
    let base = ports.iter().min().unwrap();
    assert!(ports.iter().all(|p| p - base < 4));
    assert_eq!(
        nat.handle_outbound(at(0), &Tuple6::new(Protocol::Udp, host(1, 6000), s6)),
        Outbound::Drop(DropReason::CustomerPortLimit)
    );
    // Other protocols have their own blocks.
    out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Tcp, host(1, 6000), s6).with_flags(SYN),
    );
    nat.check_invariants().unwrap();
}

/// A customer holding thousands of blocks: each new BIB entry is one pass
/// over its blocks (full ones skipped by their counts), not a pass per
/// block, so filling them all stays linear per packet and the refusals at
/// the limit are cheap. Quadratic work per packet (as picking the k-th
/// matching block in a loop over k was) takes minutes here.
#[test]
fn many_blocks_per_customer_stay_linear() {
    let mut s = settings();
    s.block_size = 2;
    s.max_blocks_per_customer = 3000;
    s.max_sessions_per_customer = 7000;
    let mut nat = nat(s);
    let (_, s6) = server(1, 53);
    let mut ports = std::collections::HashSet::new();
    for i in 0..6000u16 {
        let src = out(
            &mut nat,
            at(0),
            Tuple6::new(Protocol::Udp, host(1, 1024 + i), s6),
        );
        assert!(ports.insert(src.port), "port {} given twice", src.port);
    }
    assert_eq!(nat.stats().bibs, 6000);
    for i in 0..1000u16 {
        assert_eq!(
            nat.handle_outbound(at(1), &Tuple6::new(Protocol::Udp, host(1, 9000 + i), s6)),
            Outbound::Drop(DropReason::CustomerPortLimit)
        );
    }
    let limits: Vec<Event> = events(&mut nat)
        .into_iter()
        .filter(|e| matches!(e, Event::LimitReached { .. }))
        .collect();
    assert_eq!(
        limits,
        vec![Event::LimitReached {
            reason: DropReason::CustomerPortLimit,
            at: at(1)
        }],
        "one alarm for a second of refusals"
    );
    assert_eq!(
        limits[0].to_string(),
        "1.000s limit-reached customer_port_limit"
    );
    nat.check_invariants().unwrap();
}

#[test]
fn pool_exhaustion() {
    let mut s = Settings::new(
        PREFIX,
        vec![Pool4Range {
            proto: Protocol::Udp,
            net: "192.0.2.1/32".parse().unwrap(),
            ports: 2000..=2003,
        }],
    );
    s.block_size = 4;
    let mut nat = nat(s);
    let (_, s6) = server(1, 53);
    out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Udp, host(1, 5000), s6),
    );
    assert_eq!(nat.free_blocks(Protocol::Udp), 0);
    assert_eq!(
        nat.handle_outbound(at(0), &Tuple6::new(Protocol::Udp, host(2, 5000), s6)),
        Outbound::Drop(DropReason::PoolExhausted)
    );
    assert_eq!(nat.drops(DropReason::PoolExhausted), 1);
    // TCP is not in this pool at all.
    assert_eq!(
        nat.handle_outbound(
            at(0),
            &Tuple6::new(Protocol::Tcp, host(2, 5000), s6).with_flags(SYN)
        ),
        Outbound::Drop(DropReason::PoolExhausted)
    );
    // Once the first customer's entry expires, the block is free again.
    nat.handle_timeout(at(300));
    assert_eq!(nat.free_blocks(Protocol::Udp), 1);
    out(
        &mut nat,
        at(301),
        Tuple6::new(Protocol::Udp, host(2, 5000), s6),
    );
}

#[test]
fn session_and_bib_limits() {
    let mut s = settings();
    s.max_sessions_per_customer = 3;
    s.max_sessions = 5;
    s.max_bibs = 4;
    let mut nat = nat(s);
    let h = host(1, 5000);
    for i in 0..3 {
        out(
            &mut nat,
            at(0),
            Tuple6::new(Protocol::Udp, h, server(i, 53).1),
        );
    }
    assert_eq!(
        nat.handle_outbound(at(0), &Tuple6::new(Protocol::Udp, h, server(9, 53).1)),
        Outbound::Drop(DropReason::CustomerSessionLimit)
    );
    // Nor does a new socket of the same customer get a BIB entry.
    assert_eq!(
        nat.handle_outbound(
            at(0),
            &Tuple6::new(Protocol::Udp, host(1, 7), server(9, 53).1)
        ),
        Outbound::Drop(DropReason::CustomerSessionLimit)
    );
    assert_eq!(nat.stats().bibs, 1);
    // Inbound under EIF counts against the customer too.
    let src = nat.bib_v4(Protocol::Udp, h).unwrap();
    assert_eq!(
        nat.handle_inbound(
            at(0),
            &Tuple4::new(Protocol::Udp, server(50, 1).0, src),
            &[]
        ),
        Inbound::Drop(DropReason::CustomerSessionLimit)
    );
    for i in 2..4 {
        out(
            &mut nat,
            at(0),
            Tuple6::new(Protocol::Udp, host(i, 5000), server(1, 53).1),
        );
    }
    assert_eq!(
        nat.handle_outbound(
            at(0),
            &Tuple6::new(Protocol::Udp, host(4, 5000), server(1, 53).1)
        ),
        Outbound::Drop(DropReason::SessionLimit)
    );
    nat.handle_timeout(at(300));
    assert_eq!(nat.stats().sessions, 0);
    nat.check_invariants().unwrap();
}

#[test]
fn static_bib_survives_expiry() {
    let web = host(7, 80);
    let public = Transport4::new(POOL, 8080);
    let mut s = settings();
    s.statics = vec![StaticBib {
        proto: Protocol::Tcp,
        v6: web,
        v4: public,
    }];
    let mut nat = nat(s);
    let (c4, c6) = server(20, 50000);
    let syn = Tuple4::new(Protocol::Tcp, c4, public).with_flags(SYN);
    assert_eq!(
        nat.handle_inbound(at(0), &syn, &[]),
        Inbound::Translate { src: c6, dst: web }
    );
    assert_eq!(nat.tcp_state(web, c4), Some(TcpState::V4Init));
    // The server answers SYN+ACK: established.
    let synack = Tuple6::new(Protocol::Tcp, web, c6).with_flags(SYN.union(ACK));
    assert_eq!(
        nat.handle_outbound(at(1), &synack),
        Outbound::Translate {
            src: public,
            dst: c4
        }
    );
    assert_eq!(nat.tcp_state(web, c4), Some(TcpState::Established));
    // Let everything expire (probe, then TRANS).
    nat.handle_timeout(at(1 + 7440));
    nat.handle_timeout(at(1 + 7440 + 240));
    assert_eq!(nat.stats().sessions, 0);
    assert_eq!(nat.bib_v6(Protocol::Tcp, public), Some(web));
    assert_eq!(nat.bib_v4(Protocol::Tcp, web), Some(public));
    assert!(!events(&mut nat)
        .iter()
        .any(|e| matches!(e, Event::BibReleased { .. })));
    // And it still works.
    assert!(matches!(
        nat.handle_inbound(at(9000), &syn, &[]),
        Inbound::Translate { .. }
    ));
    // The host's outbound traffic from that port uses the static mapping.
    assert_eq!(
        out(
            &mut nat,
            at(9001),
            Tuple6::new(Protocol::Tcp, web, server(21, 443).1).with_flags(SYN)
        ),
        public
    );
    nat.check_invariants().unwrap();
}

#[test]
fn tcp_open_and_close() {
    let mut s = settings();
    s.log_sessions = true;
    let mut nat = nat(s);
    let h = host(1, 33000);
    let (s4, s6) = server(5, 443);
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(SYN),
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::V6Init));
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(240)));
    let back = |f| Tuple4::new(Protocol::Tcp, s4, src).with_flags(f);
    assert!(matches!(
        nat.handle_inbound(at(1), &back(SYN.union(ACK)), &[]),
        Inbound::Translate { .. }
    ));
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::Established));
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(1 + 7440)));
    out(
        &mut nat,
        at(2),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(ACK),
    );
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(2 + 7440)));
    // The server closes first.
    let _ = nat.handle_inbound(at(3), &back(FIN.union(ACK)), &[]);
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::V4FinRcv));
    out(
        &mut nat,
        at(4),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(ACK),
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::V4FinRcv));
    out(
        &mut nat,
        at(5),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(FIN.union(ACK)),
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::V4FinV6FinRcv));
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(245)));
    // The last ACK does not extend it.
    let _ = nat.handle_inbound(at(6), &back(ACK), &[]);
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(245)));
    nat.handle_timeout(at(245));
    assert_eq!(nat.stats().sessions, 0);
    let ev = events(&mut nat);
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::SessionCreated { remote, .. } if *remote == s4)));
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::SessionClosed { at: t, .. } if *t == at(245))));
}

#[test]
fn tcp_port_reuse_after_close() {
    let mut nat = nat_default();
    let h = host(1, 33000);
    let (s4, s6) = server(5, 443);
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(SYN),
    );
    let back = |f| Tuple4::new(Protocol::Tcp, s4, src).with_flags(f);
    let _ = nat.handle_inbound(at(1), &back(SYN.union(ACK)), &[]);
    out(
        &mut nat,
        at(2),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(FIN),
    );
    let _ = nat.handle_inbound(at(3), &back(FIN.union(ACK)), &[]);
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::V4FinV6FinRcv));
    // The same socket connects again at once.
    out(
        &mut nat,
        at(4),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(SYN),
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::V6Init));
    let _ = nat.handle_inbound(at(5), &back(SYN.union(ACK)), &[]);
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::Established));
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(5 + 7440)));
}

#[test]
fn tcp_needs_syn_to_open() {
    let mut nat = nat_default();
    let h = host(1, 33000);
    let (s4, s6) = server(5, 443);
    assert_eq!(
        nat.handle_outbound(at(0), &Tuple6::new(Protocol::Tcp, h, s6).with_flags(ACK)),
        Outbound::Drop(DropReason::NoSession)
    );
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(SYN),
    );
    // An ACK from another IPv4 host on the same mapping: no session.
    let (o4, _) = server(6, 443);
    assert_eq!(
        nat.handle_inbound(
            at(1),
            &Tuple4::new(Protocol::Tcp, o4, src).with_flags(ACK),
            &[]
        ),
        Inbound::Drop(DropReason::NoSession)
    );
    // An ACK to another destination from the host: no session either.
    assert_eq!(
        nat.handle_outbound(
            at(1),
            &Tuple6::new(Protocol::Tcp, h, server(6, 443).1).with_flags(ACK)
        ),
        Outbound::Drop(DropReason::NoSession)
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::V6Init));
    assert_eq!(nat.drops(DropReason::NoSession), 3);
}

#[test]
fn tcp_rst_and_revival() {
    let mut nat = nat_default();
    let h = host(1, 33000);
    let (s4, s6) = server(5, 443);
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(SYN),
    );
    let _ = nat.handle_inbound(
        at(1),
        &Tuple4::new(Protocol::Tcp, s4, src).with_flags(SYN.union(ACK)),
        &[],
    );
    let _ = nat.handle_inbound(
        at(10),
        &Tuple4::new(Protocol::Tcp, s4, src).with_flags(RST),
        &[],
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::Trans));
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(250)));
    // Another RST does not extend it; data brings it back.
    out(
        &mut nat,
        at(20),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(RST),
    );
    assert_eq!(nat.session_expiry(Protocol::Tcp, h, s4), Some(at(250)));
    out(
        &mut nat,
        at(30),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(ACK),
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::Established));
    // RST again, then silence: gone after TCP_TRANS.
    out(
        &mut nat,
        at(40),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(RST),
    );
    nat.handle_timeout(at(279));
    assert_eq!(nat.stats().sessions, 1);
    nat.handle_timeout(at(280));
    assert_eq!(nat.stats().sessions, 0);
    assert_eq!(nat.stats().bibs, 0);
}

#[test]
fn tcp_probe_on_established_expiry() {
    let mut nat = nat_default();
    let h = host(1, 33000);
    let (s4, s6) = server(5, 22);
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(SYN),
    );
    let _ = nat.handle_inbound(
        at(0),
        &Tuple4::new(Protocol::Tcp, s4, src).with_flags(SYN.union(ACK)),
        &[],
    );
    let _ = events(&mut nat);
    assert_eq!(nat.poll_timeout(), Some(at(7440)));
    nat.handle_timeout(at(7440));
    assert_eq!(
        events(&mut nat),
        vec![Event::TcpProbe {
            v6: h,
            peer: s6,
            at: at(7440)
        }]
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::Trans));
    assert_eq!(nat.stats().probes, 1);
    // The host answers the probe: established again.
    out(
        &mut nat,
        at(7441),
        Tuple6::new(Protocol::Tcp, h, s6).with_flags(ACK),
    );
    assert_eq!(nat.tcp_state(h, s4), Some(TcpState::Established));
    // Next time nobody answers: gone TCP_TRANS after the probe.
    nat.handle_timeout(at(7441 + 7440));
    assert_eq!(nat.stats().probes, 2);
    nat.handle_timeout(at(7441 + 7440 + 239));
    assert_eq!(nat.stats().sessions, 1);
    nat.handle_timeout(at(7441 + 7440 + 240));
    assert_eq!(nat.stats().sessions, 0);
}

#[test]
fn simultaneous_open_success() {
    let mut s = settings();
    s.filtering = Filtering::AddressDependent;
    let mut nat = nat(s);
    let h = host(1, 33000);
    // The host's mapping exists (it talked to a rendezvous server).
    let (_, rv6) = server(1, 3478);
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Tcp, h, rv6).with_flags(SYN),
    );
    // The peer's SYN arrives first: ADF would drop it, so it is stored.
    let (p4, p6) = server(2, 40000);
    let bytes = [0x45u8; 60];
    assert_eq!(
        nat.handle_inbound(
            at(1),
            &Tuple4::new(Protocol::Tcp, p4, src).with_flags(SYN),
            &bytes
        ),
        Inbound::Stored
    );
    // A retransmission is not stored twice.
    assert_eq!(
        nat.handle_inbound(
            at(2),
            &Tuple4::new(Protocol::Tcp, p4, src).with_flags(SYN),
            &bytes
        ),
        Inbound::Stored
    );
    assert_eq!(nat.stats().stored_syns, 1);
    assert_eq!(nat.poll_timeout(), Some(at(7)));
    // The host's SYN to the peer within 6 s.
    let _ = events(&mut nat);
    assert_eq!(
        out(
            &mut nat,
            at(3),
            Tuple6::new(Protocol::Tcp, h, p6).with_flags(SYN)
        ),
        src
    );
    let ev = events(&mut nat);
    assert!(matches!(&ev[..], [Event::SimultaneousOpen(syn)]
        if syn.src == p4 && syn.dst == src && syn.at == at(1) && syn.packet[..] == bytes[..]));
    assert_eq!(nat.stats().stored_syns, 0);
    // The peer's SYN+ACK completes it; no ICMP error ever comes.
    let _ = nat.handle_inbound(
        at(4),
        &Tuple4::new(Protocol::Tcp, p4, src).with_flags(SYN.union(ACK)),
        &[],
    );
    assert_eq!(nat.tcp_state(h, p4), Some(TcpState::Established));
    nat.handle_timeout(at(10));
    assert!(events(&mut nat).is_empty());
    nat.check_invariants().unwrap();
}

#[test]
fn simultaneous_open_timeout() {
    let mut s = settings();
    s.max_stored_syn_bytes = 28;
    let mut nat = nat(s);
    let (p4, _) = server(2, 40000);
    let to = Transport4::new(POOL, 5555);
    let bytes: Vec<u8> = (0..60).collect();
    assert_eq!(
        nat.handle_inbound(
            at(1),
            &Tuple4::new(Protocol::Tcp, p4, to).with_flags(SYN),
            &bytes
        ),
        Inbound::Stored
    );
    nat.handle_timeout(at(6));
    assert!(events(&mut nat).is_empty(), "not before 6 s");
    nat.handle_timeout(at(7));
    let ev = events(&mut nat);
    assert_eq!(
        ev[0].to_string(),
        "7.000s syn-expired 198.51.100.2:40000 -> 192.0.2.1:5555"
    );
    let [Event::SynExpired(syn)] = &ev[..] else {
        panic!("{ev:?}")
    };
    assert_eq!((syn.src, syn.dst, syn.at), (p4, to, at(1)));
    assert_eq!(&syn.packet[..], &bytes[..28], "cut to max_stored_syn_bytes");
    assert_eq!(nat.poll_timeout(), None);
    // Non-SYN to an unmapped port: plain drop, nothing stored.
    assert_eq!(
        nat.handle_inbound(
            at(8),
            &Tuple4::new(Protocol::Tcp, p4, to).with_flags(ACK),
            &bytes
        ),
        Inbound::Drop(DropReason::NoBib)
    );
}

#[test]
fn stored_syns_are_bounded() {
    let mut s = settings();
    s.max_stored_syns = 2;
    let mut nat = nat(s);
    for (i, want) in [
        Inbound::Stored,
        Inbound::Stored,
        Inbound::Drop(DropReason::SynStoreFull),
    ]
    .into_iter()
    .enumerate()
    {
        let syn = Tuple4::new(
            Protocol::Tcp,
            server(2, 40000 + i as u16).0,
            Transport4::new(POOL, 80),
        )
        .with_flags(SYN);
        assert_eq!(nat.handle_inbound(at(0), &syn, &[0; 1000]), want);
    }
    assert_eq!(nat.drops(DropReason::SynStoreFull), 1);
    nat.check_invariants().unwrap();
}

#[test]
fn externally_initiated_tcp_dropped_by_policy() {
    let web = host(7, 80);
    let public = Transport4::new(POOL, 8080);
    let mut s = settings();
    s.drop_externally_initiated_tcp = true;
    s.statics = vec![StaticBib {
        proto: Protocol::Tcp,
        v6: web,
        v4: public,
    }];
    let mut nat = nat(s);
    let (c4, _) = server(20, 50000);
    assert_eq!(
        nat.handle_inbound(
            at(0),
            &Tuple4::new(Protocol::Tcp, c4, public).with_flags(SYN),
            &[]
        ),
        Inbound::Drop(DropReason::ExternallyInitiated)
    );
    assert_eq!(
        nat.handle_inbound(
            at(0),
            &Tuple4::new(Protocol::Tcp, c4, Transport4::new(POOL, 9)).with_flags(SYN),
            &[]
        ),
        Inbound::Drop(DropReason::ExternallyInitiated)
    );
    // UDP is not affected.
    let h = host(1, 5000);
    let src = out(
        &mut nat,
        at(0),
        Tuple6::new(Protocol::Udp, h, server(1, 53).1),
    );
    assert!(matches!(
        nat.handle_inbound(at(0), &Tuple4::new(Protocol::Udp, c4, src), &[]),
        Inbound::Translate { .. }
    ));
}

#[test]
fn hairpin_between_two_ipv6_hosts() {
    let web = host(7, 80);
    let public = Transport4::new(POOL, 8080);
    let mut s = settings();
    s.statics = vec![StaticBib {
        proto: Protocol::Tcp,
        v6: web,
        v4: public,
    }];
    let mut nat = nat(s);
    let client = host(1, 33000);
    let to_public = Transport6::new(PREFIX.embed(POOL), 8080);
    let v = nat.handle_outbound(
        at(0),
        &Tuple6::new(Protocol::Tcp, client, to_public).with_flags(SYN),
    );
    let Outbound::Hairpin { src, dst } = v else {
        panic!("{v:?}")
    };
    assert_eq!(dst, web);
    let mapped = nat.bib_v4(Protocol::Tcp, client).unwrap();
    assert_eq!(src, Transport6::new(PREFIX.embed(POOL), mapped.port));
    // The server's answer goes back the same way.
    let back = nat.handle_outbound(
        at(1),
        &Tuple6::new(Protocol::Tcp, web, src).with_flags(SYN.union(ACK)),
    );
    assert_eq!(
        back,
        Outbound::Hairpin {
            src: to_public,
            dst: client
        }
    );
    assert_eq!(nat.tcp_state(client, public), Some(TcpState::Established));
    assert_eq!(nat.tcp_state(web, mapped), Some(TcpState::Established));
    // Hairpin to a pool4 port with no mapping: dropped, never stored.
    let v = nat.handle_outbound(
        at(2),
        &Tuple6::new(
            Protocol::Tcp,
            client,
            Transport6::new(PREFIX.embed(POOL), 9),
        )
        .with_flags(SYN),
    );
    assert_eq!(v, Outbound::Drop(DropReason::NoBib));
    assert_eq!(nat.stats().stored_syns, 0);
    // UDP hairpin between two dynamic mappings.
    let a = host(1, 5000);
    let b = host(2, 6000);
    let (_, s6) = server(1, 3478);
    let a4 = out(&mut nat, at(3), Tuple6::new(Protocol::Udp, a, s6));
    let b4 = out(&mut nat, at(3), Tuple6::new(Protocol::Udp, b, s6));
    let v = nat.handle_outbound(
        at(4),
        &Tuple6::new(
            Protocol::Udp,
            a,
            Transport6::new(PREFIX.embed(b4.addr), b4.port),
        ),
    );
    assert_eq!(
        v,
        Outbound::Hairpin {
            src: Transport6::new(PREFIX.embed(a4.addr), a4.port),
            dst: b
        }
    );
    nat.check_invariants().unwrap();
}

#[test]
fn loop_guard_and_not_ours() {
    let mut nat = nat_default();
    let (s4, s6) = server(1, 53);
    // Source inside the prefix: a translated packet came back in.
    assert_eq!(
        nat.handle_outbound(at(0), &Tuple6::new(Protocol::Udp, s6, s6)),
        Outbound::Drop(DropReason::LoopGuard)
    );
    // Destination outside the prefix: not for the translator.
    let plain = Transport6::new("2001:db8:ffff::1".parse().unwrap(), 53);
    assert_eq!(
        nat.handle_outbound(at(0), &Tuple6::new(Protocol::Udp, host(1, 5), plain)),
        Outbound::NotOurs
    );
    // Inbound to an address that is not pool4: not ours.
    assert_eq!(
        nat.handle_inbound(
            at(0),
            &Tuple4::new(
                Protocol::Udp,
                s4,
                Transport4::new(Ipv4Addr::new(203, 0, 113, 1), 53)
            ),
            &[]
        ),
        Inbound::NotOurs
    );
    // Inbound from a pool4 address: a loop.
    assert_eq!(
        nat.handle_inbound(
            at(0),
            &Tuple4::new(
                Protocol::Udp,
                Transport4::new(POOL, 1),
                Transport4::new(POOL, 2000)
            ),
            &[]
        ),
        Inbound::Drop(DropReason::LoopGuard)
    );
    assert_eq!(nat.drops(DropReason::LoopGuard), 2);
    assert_eq!(nat.stats().sessions, 0);
}

#[test]
fn bad_embedding_under_a_short_prefix() {
    let prefix: Nat64Prefix = "2001:db8:64::/48".parse().unwrap();
    let mut nat = Nat64State::new(
        Config::new(Settings::new(prefix, pool_all(1024..=65535))).unwrap(),
        1,
    );
    // Bits 64-71 (the u-octet) set.
    let dst = Transport6::new("2001:db8:64:c633:ff64:100::".parse().unwrap(), 53);
    assert_eq!(
        nat.handle_outbound(at(0), &Tuple6::new(Protocol::Udp, host(1, 5), dst)),
        Outbound::Drop(DropReason::BadDestination)
    );
}

#[test]
fn time_never_goes_back() {
    let mut nat = nat_default();
    let (_, s6) = server(1, 53);
    out(
        &mut nat,
        at(100),
        Tuple6::new(Protocol::Udp, host(1, 5), s6),
    );
    // A stale clock reading counts as the latest one seen.
    out(&mut nat, at(50), Tuple6::new(Protocol::Udp, host(2, 5), s6));
    assert_eq!(nat.poll_timeout(), Some(at(400)));
    nat.handle_timeout(at(399));
    assert_eq!(nat.stats().sessions, 2);
    nat.handle_timeout(at(400));
    assert_eq!(nat.stats().sessions, 0);
    nat.check_invariants().unwrap();
}

#[test]
fn sub_second_refresh_keeps_list_place() {
    let ms = Instant::from_millis;
    let mut nat = nat_default();
    let (_, s6) = server(1, 53);
    let a = Tuple6::new(Protocol::Udp, host(1, 5), s6);
    let b = Tuple6::new(Protocol::Udp, host(2, 5), s6);
    out(&mut nat, ms(0), a);
    out(&mut nat, ms(500), b);
    // A's refresh moves its expiry by 900 ms: it keeps its place, ahead of B.
    out(&mut nat, ms(900), a);
    assert_eq!(
        nat.session_expiry(
            Protocol::Udp,
            a.src,
            Transport4::new(Ipv4Addr::new(198, 51, 100, 1), 53)
        ),
        Some(ms(300_900))
    );
    nat.check_invariants().unwrap();
    assert_eq!(nat.poll_timeout(), Some(ms(300_900)));
    // B, due at 300.5 s, waits behind A (under a second late).
    nat.handle_timeout(ms(300_600));
    assert_eq!(nat.stats().sessions, 2);
    nat.handle_timeout(ms(300_900));
    assert_eq!(nat.stats().sessions, 0);
    // A refresh of a second or more moves the session to the tail.
    out(&mut nat, ms(400_000), a);
    out(&mut nat, ms(400_500), b);
    out(&mut nat, ms(401_000), a);
    assert_eq!(nat.poll_timeout(), Some(ms(700_500)));
    nat.check_invariants().unwrap();
}

#[test]
fn established_path_does_not_allocate() {
    let mut nat = nat_default();
    let mut flows = Vec::new();
    for i in 0..1000u16 {
        let h = host(i % 20, 1000 + i);
        let (s4, s6) = server((i % 7) as u8, 443);
        let (proto, flags) = match i % 3 {
            0 => (Protocol::Tcp, SYN),
            1 => (Protocol::Udp, ACK),
            _ => (Protocol::Icmp, ACK),
        };
        let t = Tuple6::new(proto, h, s6).with_flags(flags);
        let src = out(&mut nat, at(0), t);
        let back = Tuple4::new(
            proto,
            Transport4::new(
                s4.addr,
                if proto == Protocol::Icmp {
                    src.port
                } else {
                    s4.port
                },
            ),
            src,
        )
        .with_flags(SYN.union(ACK));
        assert!(matches!(
            nat.handle_inbound(at(0), &back, &[]),
            Inbound::Translate { .. }
        ));
        flows.push((t.with_flags(ACK), back.with_flags(ACK)));
    }
    while nat.poll_event().is_some() {}
    let before = allocations();
    for round in 0..5u64 {
        // Seconds apart: every refresh also moves the session in its list.
        for (o, i) in &flows {
            let _ = nat.handle_outbound(at(10 + round), o);
            let _ = nat.handle_inbound(at(10 + round), i, &[]);
        }
        nat.handle_timeout(at(10 + round));
        let _ = nat.poll_timeout();
    }
    assert_eq!(allocations() - before, 0);
    assert_eq!(nat.stats().sessions, 1000);
}

#[test]
fn events_are_bounded() {
    let mut s = settings();
    s.max_events = 3;
    let mut nat = nat(s);
    let (_, s6) = server(1, 53);
    for i in 0..4 {
        out(&mut nat, at(0), Tuple6::new(Protocol::Udp, host(i, 5), s6));
    }
    // 4 blocks + 4 BIB entries made, 3 kept.
    assert_eq!(events(&mut nat).len(), 3);
    assert_eq!(nat.stats().events_lost, 5);
}

#[test]
fn expiry_takes_only_what_is_due() {
    // 10,000 sessions in two generations 100 s apart; the first expiry
    // removes the first generation and leaves the head of the list at the
    // second.
    let mut nat = nat_default();
    let (_, s6) = server(1, 53);
    for generation in [0u16, 1] {
        for i in 0..5_000u16 {
            let (c, p) = (i % 50, 1001 + 2 * (i / 50) + generation * 20_000);
            let t = Tuple6::new(Protocol::Udp, host(c, p), s6);
            out(&mut nat, at(u64::from(generation) * 100), t);
        }
    }
    assert_eq!(nat.stats().sessions, 10_000);
    let debug = format!("{nat:?}");
    assert!(
        debug.starts_with("Nat64State { now: Instant(100000), stats: Stats { sessions: 10000,"),
        "{debug}"
    );
    let heap = nat.heap_bytes();
    assert!(heap > 10_000 * 40 && heap < 10_000 * 400, "{heap}");
    nat.handle_timeout(at(300));
    assert_eq!(nat.stats().sessions, 5_000);
    assert_eq!(nat.poll_timeout(), Some(at(400)));
    nat.check_invariants().unwrap();
}

// ---------------------------------------------------------------------------
// Property tests.

#[derive(Clone, Debug)]
enum Op {
    Out {
        proto: u8,
        host: u8,
        sport: u16,
        server: u8,
        dport: u16,
        flags: u8,
    },
    In {
        proto: u8,
        server: u8,
        sport: u16,
        pool_port: u16,
        flags: u8,
    },
    /// Reply from a server to an existing mapping of a host.
    Reply {
        proto: u8,
        host: u8,
        sport: u16,
        server: u8,
        dport: u16,
        flags: u8,
    },
    Wait(u32),
}

fn op() -> impl Strategy<Value = Op> {
    let proto = 0u8..3;
    let flags = prop::sample::select(vec![0u8, 0x02, 0x12, 0x10, 0x11, 0x04, 0x01]);
    prop_oneof![
        4 => (proto.clone(), 0u8..6, 1000u16..1010, 0u8..4, 1u16..4, flags.clone())
            .prop_map(|(proto, host, sport, server, dport, flags)| Op::Out { proto, host, sport, server, dport, flags }),
        2 => (proto.clone(), 0u8..4, 1u16..4, 1024u16..1100, flags.clone())
            .prop_map(|(proto, server, sport, pool_port, flags)| Op::In { proto, server, sport, pool_port, flags }),
        3 => (proto, 0u8..6, 1000u16..1010, 0u8..4, 1u16..4, flags)
            .prop_map(|(proto, host, sport, server, dport, flags)| Op::Reply { proto, host, sport, server, dport, flags }),
        1 => (0u32..400_000).prop_map(Op::Wait),
    ]
}

fn proto_of(p: u8) -> Protocol {
    Protocol::ALL[usize::from(p) % 3]
}

fn small_settings(adf: bool) -> Settings {
    let mut s = Settings::new(PREFIX, pool_all(1024..=1100));
    s.block_size = 8;
    s.max_blocks_per_customer = 2;
    s.max_sessions_per_customer = 6;
    s.max_sessions = 20;
    s.max_bibs = 12;
    s.max_stored_syns = 3;
    s.max_events = 50;
    if adf {
        s.filtering = Filtering::AddressDependent;
    }
    s.statics = vec![StaticBib {
        proto: Protocol::Tcp,
        v6: host(9, 80),
        v4: Transport4::new(POOL, 1099),
    }];
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever the traffic: limits hold, every session is under a live BIB
    /// entry, lists and counts agree, and the static entry stays.
    #[test]
    fn tables_stay_consistent_and_bounded(adf in any::<bool>(), seed in any::<u64>(), ops in prop::collection::vec(op(), 1..150)) {
        let s = small_settings(adf);
        let mut nat = Nat64State::new(Config::new(s).unwrap(), seed);
        let mut now = 0u64;
        for op in ops {
            now += 1;
            match op {
                Op::Out { proto, host: h, sport, server: sv, dport, flags } => {
                    // Server 3 is the pool4 address itself: hairpinning,
                    // to the static entry's port or to dynamic mappings.
                    let dst = if sv == 3 {
                        Transport6::new(PREFIX.embed(POOL), [1099, 1024, 1025, 1031][usize::from(dport) % 4])
                    } else {
                        server(sv, dport).1
                    };
                    let t = Tuple6::new(proto_of(proto), host(u16::from(h), sport), dst)
                        .with_flags(TcpFlags(flags));
                    let v = nat.handle_outbound(Instant::from_millis(now), &t);
                    if let Outbound::Hairpin { src, dst } = v {
                        prop_assert_eq!(src.addr, PREFIX.embed(POOL));
                        prop_assert!(!PREFIX.contains(dst.addr));
                    }
                }
                Op::In { proto, server: sv, sport, pool_port, flags } => {
                    let t = Tuple4::new(proto_of(proto), server(sv, sport).0, Transport4::new(POOL, pool_port))
                        .with_flags(TcpFlags(flags));
                    let _ = nat.handle_inbound(Instant::from_millis(now), &t, &[1, 2, 3]);
                }
                Op::Reply { proto, host: h, sport, server: sv, dport, flags } => {
                    let p = proto_of(proto);
                    if let Some(mapped) = nat.bib_v4(p, host(u16::from(h), sport)) {
                        let t = Tuple4::new(p, server(sv, dport).0, mapped).with_flags(TcpFlags(flags));
                        let _ = nat.handle_inbound(Instant::from_millis(now), &t, &[]);
                    }
                }
                Op::Wait(ms) => {
                    now += u64::from(ms) * 100;
                    nat.handle_timeout(Instant::from_millis(now));
                    // Nothing due is left behind.
                    if let Some(t) = nat.poll_timeout() {
                        prop_assert!(t > Instant::from_millis(now));
                    }
                }
            }
            if let Err(e) = nat.check_invariants() {
                return Err(TestCaseError::fail(e));
            }
            let st = nat.stats();
            prop_assert!(st.sessions <= 20 && st.bibs <= 12 && st.stored_syns <= 3);
            prop_assert_eq!(nat.bib_v6(Protocol::Tcp, Transport4::new(POOL, 1099)), Some(host(9, 80)));
            while nat.poll_event().is_some() {}
        }
        // Everything dynamic expires in the end.
        nat.handle_timeout(Instant::from_millis(now + 3 * 3600 * 1000));
        nat.handle_timeout(Instant::from_millis(now + 4 * 3600 * 1000));
        prop_assert_eq!(nat.stats().sessions, 0);
        prop_assert_eq!(nat.stats().bibs, 1);
        prop_assert_eq!(nat.stats().stored_syns, 0);
        prop_assert_eq!(nat.poll_timeout(), None);
    }

    /// A translated packet's reply, fed back, reaches the sender from the
    /// address it wrote to.
    #[test]
    fn outbound_then_inbound_round_trips(
        seed in any::<u64>(),
        flows in prop::collection::vec((0u8..3, any::<u16>(), 1u16.., any::<u32>(), any::<u16>()), 1..60),
    ) {
        let mut nat = Nat64State::new(Config::new(Settings::new(PREFIX, pool_all(0..=65535))).unwrap(), seed);
        for (i, (p, hostn, sport, v4, dport)) in flows.into_iter().enumerate() {
            let proto = proto_of(p);
            let v4 = Ipv4Addr::from(v4);
            if nat.config().is_pool4(v4) {
                continue;
            }
            let h = host(hostn, sport);
            let dport = if proto == Protocol::Icmp { sport } else { dport };
            let dst6 = Transport6::new(PREFIX.embed(v4), dport);
            let now = Instant::from_millis(i as u64);
            let t = Tuple6::new(proto, h, dst6).with_flags(TcpFlags::SYN);
            let Outbound::Translate { src, dst } = nat.handle_outbound(now, &t) else {
                return Err(TestCaseError::fail(format!("{t:?} not translated")));
            };
            prop_assert_eq!(src.addr, POOL);
            prop_assert_eq!(dst.addr, v4);
            if proto != Protocol::Icmp {
                prop_assert_eq!(src.port % 2, sport % 2);
                prop_assert_eq!(src.port < 1024, sport < 1024);
                prop_assert_eq!(dst.port, dport);
            }
            let reply = Tuple4::new(proto, dst, src).with_flags(TcpFlags(0x12));
            let back = nat.handle_inbound(now, &reply, &[]);
            prop_assert_eq!(back, Inbound::Translate { src: dst6, dst: h });
        }
        if let Err(e) = nat.check_invariants() {
            return Err(TestCaseError::fail(e));
        }
    }
}

#[derive(Clone, Debug)]
enum UdpOp {
    Out { host: u8, sport: u8, server: u8 },
    In { server: u8, sport: u8, target: u8 },
    Wait(u32),
}

fn udp_op() -> impl Strategy<Value = UdpOp> {
    prop_oneof![
        4 => (0u8..4, 0u8..3, 0u8..4).prop_map(|(host, sport, server)| UdpOp::Out { host, sport, server }),
        3 => (0u8..4, 0u8..2, 0u8..12).prop_map(|(server, sport, target)| UdpOp::In { server, sport, target }),
        2 => prop_oneof![0u32..3_000, 0u32..400_000].prop_map(UdpOp::Wait),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// UDP against a naive model (a map of sessions with their expiry and
    /// a map of mappings): same verdicts, stable mappings, expiry exact
    /// except for the documented under-a-second lateness.
    #[test]
    fn udp_matches_a_naive_model(seed in any::<u64>(), ops in prop::collection::vec(udp_op(), 1..200)) {
        use std::collections::HashMap;
        let mut nat = Nat64State::new(Config::new(settings()).unwrap(), seed);
        // (v6 source, v4 peer) -> expiry (ms); v6 source -> mapping.
        let mut sessions: HashMap<(Transport6, Transport4), u64> = HashMap::new();
        let mut maps: HashMap<Transport6, Transport4> = HashMap::new();
        let mut known: Vec<Transport4> = Vec::new();
        let life = 300_000u64;
        let mut now = 0u64;
        for op in ops {
            match op {
                UdpOp::Out { host: h, sport, server: sv } => {
                    let src6 = host(u16::from(h), 1000 + u16::from(sport));
                    let (s4, s6) = server(sv, 53);
                    let v = nat.handle_outbound(Instant::from_millis(now), &Tuple6::new(Protocol::Udp, src6, s6));
                    let Outbound::Translate { src, dst } = v else {
                        return Err(TestCaseError::fail(format!("{v:?}")));
                    };
                    prop_assert_eq!(dst, s4);
                    match maps.get(&src6) {
                        Some(m) => prop_assert_eq!(*m, src, "mapping kept while it has sessions"),
                        None => {
                            prop_assert!(!maps.values().any(|m| *m == src), "mapping reused while live");
                            maps.insert(src6, src);
                            if !known.contains(&src) {
                                known.push(src);
                            }
                        }
                    }
                    sessions.insert((src6, s4), now + life);
                }
                UdpOp::In { server: sv, sport, target } => {
                    let (s4, s6) = server(sv, 53 + u16::from(sport));
                    let to = known.get(usize::from(target)).copied().unwrap_or(Transport4::new(POOL, 7));
                    let v = nat.handle_inbound(Instant::from_millis(now), &Tuple4::new(Protocol::Udp, s4, to), &[]);
                    match maps.iter().find(|(_, m)| **m == to) {
                        Some((h6, _)) => {
                            prop_assert_eq!(v, Inbound::Translate { src: s6, dst: *h6 });
                            sessions.insert((*h6, s4), now + life);
                        }
                        None => prop_assert_eq!(v, Inbound::Drop(DropReason::NoBib)),
                    }
                }
                UdpOp::Wait(ms) => {
                    now += u64::from(ms);
                    nat.handle_timeout(Instant::from_millis(now));
                    let mut gone = Vec::new();
                    for (&(h6, r4), &exp) in &sessions {
                        let real = nat.session_expiry(Protocol::Udp, h6, r4);
                        if exp > now {
                            prop_assert_eq!(real, Some(Instant::from_millis(exp)));
                        } else if exp + 1000 <= now {
                            prop_assert_eq!(real, None, "removed at most 1 s late");
                        }
                        if real.is_none() {
                            gone.push((h6, r4));
                        }
                    }
                    for k in gone {
                        sessions.remove(&k);
                    }
                    maps.retain(|h6, _| sessions.keys().any(|(s, _)| s == h6));
                }
            }
            prop_assert_eq!(nat.stats().sessions as usize, sessions.len());
            prop_assert_eq!(nat.stats().bibs as usize, maps.len());
            if let Err(e) = nat.check_invariants() {
                return Err(TestCaseError::fail(e));
            }
        }
    }
}

#[test]
fn durations_documented() {
    assert_eq!(UDP_DEFAULT, Duration::from_secs(300));
    assert_eq!(TCP_EST, Duration::from_secs(7440));
    assert_eq!(TCP_TRANS, Duration::from_secs(240));
    assert_eq!(TCP_INCOMING_SYN, Duration::from_secs(6));
    assert_eq!(ICMP_DEFAULT, Duration::from_secs(60));
}

/// A state split into `shards` shards, with a static entry.
fn sharded(shards: u16, block_size: u16, key: u64) -> Config {
    let mut s = Settings::new(PREFIX, pool_all(0..=65535));
    s.block_size = block_size;
    s.shards = shards;
    s.shard_key = key;
    s.statics = vec![StaticBib {
        proto: Protocol::Tcp,
        v6: Transport6::new("2001:db8:9::80".parse().unwrap(), 80),
        v4: Transport4::new(POOL, 8080),
    }];
    Config::new(s).unwrap()
}

#[test]
fn shards_split_the_pool_and_the_totals() {
    let one = sharded(1, 1024, 1);
    let four = sharded(4, 1024, 1);
    assert_eq!((one.shards(), one.shard()), (1, 0));
    assert_eq!(four.shards(), 4);
    let free: Vec<usize> = (0..4)
        .map(|i| Nat64State::new(four.for_shard(i).unwrap(), 3).free_blocks(Protocol::Udp))
        .collect();
    // 63 UDP blocks (1024-65535; none fits below 1024 without port 0),
    // numbered 0 to 62, shard i taking the numbers i modulo 4.
    assert_eq!(free, [16, 16, 16, 15]);
    assert_eq!(
        Nat64State::new(one.clone(), 3).free_blocks(Protocol::Udp),
        63
    );
    // The static entry's block is reserved in every shard; the entry lives
    // in the shard of its IPv6 side only.
    let owner = four.shard_of_v6_source("2001:db8:9::80".parse().unwrap());
    assert_eq!(four.shard_of_v4(Protocol::Tcp, POOL, 8080), Some(owner));
    let tcp_free: usize = (0..4)
        .map(|i| Nat64State::new(four.for_shard(i).unwrap(), 3).free_blocks(Protocol::Tcp))
        .sum();
    assert_eq!(tcp_free, 62);
    for i in 0..4 {
        let st = Nat64State::new(four.for_shard(i).unwrap(), 3);
        let found = st
            .bib_v6(Protocol::Tcp, Transport4::new(POOL, 8080))
            .is_some();
        assert_eq!(found, i == owner, "shard {i}");
    }
    // Totals are split (rounded up): 1,000,000 sessions → 250,000 each.
    let mut s = Settings::new(PREFIX, pool_all(1024..=65535));
    s.shards = 3;
    s.max_sessions = 10;
    s.max_bibs = 10;
    s.max_stored_syns = 5;
    s.max_sessions_per_customer = 4;
    let mut st = Nat64State::new(Config::new(s).unwrap(), 1);
    // The per-customer limit stays exact: one customer gets its 4 (below
    // the shard's ceil(10 / 3) = 4 sessions).
    let (_, sv) = server(7, 53);
    for p in 0..6u16 {
        let _ = st.handle_outbound(at(0), &Tuple6::new(Protocol::Udp, host(1, 2000 + p), sv));
    }
    assert_eq!(st.stats().sessions, 4);
    let mut s = Settings::new(PREFIX, pool_all(1024..=65535));
    s.shards = 0;
    assert_eq!(
        Config::new(s).unwrap_err().to_string(),
        "shards 0 must be between 1 and 256"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Every block a shard hands out is one `shard_of_v4` gives that
    /// shard; every address of a /64 is in the /64's shard; one shard is
    /// the unsharded state.
    #[test]
    fn shards_hand_out_only_their_own_blocks(
        shards in 1u16..9,
        key in any::<u64>(),
        seed in any::<u64>(),
        hosts in prop::collection::vec((any::<u16>(), any::<u64>(), 1u16..65535, 0usize..3), 1..60),
    ) {
        let config = sharded(shards, 256, key);
        let mut states: Vec<Nat64State> = (0..usize::from(shards))
            .map(|i| Nat64State::new(config.for_shard(i).unwrap(), seed))
            .collect();
        let (_, sv) = server(7, 53);
        for (n, iid, port, proto) in hosts {
            let proto = Protocol::ALL[proto];
            let addr = Ipv6Addr::from((u128::from(0x2001_0db8_0000_0000u64 | u64::from(n)) << 64) | u128::from(iid));
            let shard = config.shard_of_v6_source(addr);
            prop_assert!(shard < usize::from(shards));
            // Any other address of the /64: the same shard.
            let other = Ipv6Addr::from((u128::from(addr) & !u128::from(u64::MAX)) | u128::from(iid.rotate_left(7) ^ 1));
            prop_assert_eq!(config.shard_of_v6_source(other), shard);
            let flags = if proto == Protocol::Tcp { TcpFlags::SYN } else { TcpFlags(0) };
            let t = Tuple6::new(proto, Transport6::new(addr, port), sv).with_flags(flags);
            if let Outbound::Translate { src, .. } = states[shard].handle_outbound(at(1), &t) {
                prop_assert_eq!(config.shard_of_v4(proto, src.addr, src.port), Some(shard));
            }
            while let Some(e) = states[shard].poll_event() {
                if let Event::BlockAllocated { proto, addr, first, last, .. } = e {
                    for p in [first, last] {
                        prop_assert_eq!(config.shard_of_v4(proto, addr, p), Some(shard));
                    }
                }
            }
        }
        for st in &states {
            prop_assert!(st.check_invariants().is_ok());
        }
    }

    /// With one shard, the state makes the same choices as an unsharded
    /// one (whatever the shard key).
    #[test]
    fn one_shard_is_the_unsharded_state(
        key in any::<u64>(),
        seed in any::<u64>(),
        hosts in prop::collection::vec((0u16..64, 1u16..65535), 1..40),
    ) {
        let mut plain = Nat64State::new(Config::new(settings()).unwrap(), seed);
        let mut s = settings();
        s.shards = 1;
        s.shard_key = key;
        let mut one = Nat64State::new(Config::new(s).unwrap(), seed);
        let (_, sv) = server(7, 53);
        for (h, port) in hosts {
            let t = Tuple6::new(Protocol::Udp, host(h, port), sv);
            prop_assert_eq!(plain.handle_outbound(at(1), &t), one.handle_outbound(at(1), &t));
        }
        prop_assert_eq!(events(&mut plain), events(&mut one));
    }
}
