//! `nat64_sequence`: the stateful engine ([`Nat64`]) over a sequence of
//! packets from both sides and steps of time, decoded from the input.
//!
//! Input: records of `[flags, dt_lo, dt_hi, len8]` then `len8 * 8` bytes
//! of packet (or what is left). `flags` bit 0: from the IPv4 side; bits 1-2:
//! `who`, the host (IPv6) and server (both sides) the addresses are
//! rewritten to; bit 6 (`flip`): an IPv6 packet goes to server
//! `who ^ 1` instead, an IPv4 one to pool address 1 instead of 0; bit 3:
//! the bytes go in raw, without the header and checksum fix-ups of the
//! xlat targets; bit 4: time advances `dt` seconds, not milliseconds; bit 5:
//! `handle_timeout` runs first; bit 7 clear: a packet goes to a binding as
//! a reply would (ports are not preserved, so seeds cannot name the pool
//! port): an IPv4 TCP, UDP or echo packet whose destination port
//! (identifier) host `who ^ flip` has a binding for is sent to that
//! binding, and an IPv6 TCP or UDP packet to the pool address (server 2)
//! whose destination port host 0 has a binding for is sent to it
//! (hairpinning). Bit 7 of the first record's flags makes the run use
//! address-dependent filtering (so unsolicited SYNs are stored even where
//! a binding exists: simultaneous open). Bit 6 of the first record's flags
//! makes the engine shard 1 of 2 (`Settings::shards`): half the pool's
//! blocks, half the total limits, and hairpins whose pool port the other
//! shard owns come out as IPv4 for it.
//!
//! Invariants checked:
//! - every emitted packet is a well-formed IPv4 or IPv6 packet of the side
//!   it goes to, and ICMP errors keep their size limits and checksums;
//! - the packets the engine makes itself (`poll_transmit`: probes, stored
//!   SYNs, their Port Unreachables) are as well-formed as the others;
//! - the tables' own invariants hold (`check_invariants`: every session
//!   under a live binding, lists in expiry order, counts and limits);
//! - bindings never outnumber sessions, and sessions never pass the limit;
//! - `poll_timeout` is `None` exactly when there are no sessions, no
//!   stored SYNs and no datagrams being reassembled, and
//!   after `handle_timeout(now)` it is later than `now`;
//! - the run replays exactly: the same input and seed give the same bytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use sixgate::nat64::state::{self, Pool4Range, Protocol, Settings};
use sixgate::nat64::xlat::{self, MAX_OUTPUT};
use sixgate::nat64::{Emit, Nat64};
use sixgate::time::Instant;
use sixgate::Nat64Prefix;

use crate::xlat::{ones_sum, pseudo6, verifies, V4, V6};

const POOL: [Ipv4Addr; 2] = [Ipv4Addr::new(203, 0, 113, 0), Ipv4Addr::new(203, 0, 113, 1)];
const SERVERS: [Ipv4Addr; 4] = [
    Ipv4Addr::new(198, 51, 100, 7),
    Ipv4Addr::new(192, 0, 2, 1),
    Ipv4Addr::new(203, 0, 113, 1), // a pool address: hairpinning
    Ipv4Addr::new(198, 51, 100, 8),
];
const MAX_SESSIONS: u32 = 64;

/// Runs the checks above on `data`; panics if one fails.
pub fn check(data: &[u8]) {
    let first = run(data);
    let second = run(data);
    assert!(
        first == second,
        "the same input did not replay the same way"
    );
}

/// Four hosts, two in each of two customer /64s.
fn hosts(i: usize) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 1, (i / 2) as u16, 0, 0, 0, 0x10 + i as u16)
}

/// pool4 203.0.113.0/31, ports 1024-1279 for every protocol, in blocks of
/// 16; small limits, so that runs reach them.
fn config(adf: bool, sharded: bool) -> state::Config {
    let pool = Protocol::ALL
        .into_iter()
        .map(|proto| Pool4Range {
            proto,
            net: "203.0.113.0/31".parse().expect("a network"),
            ports: 1024..=1279,
        })
        .collect();
    let mut s = Settings::new(Nat64Prefix::WELL_KNOWN, pool);
    s.block_size = 16;
    s.max_blocks_per_customer = 2;
    s.max_sessions = MAX_SESSIONS;
    s.max_sessions_per_customer = 16;
    s.max_stored_syns = 4;
    s.max_events = 256;
    if adf {
        s.filtering = state::Filtering::AddressDependent;
    }
    if sharded {
        s.shards = 2;
        s.shard_key = 7;
    }
    let c = state::Config::new(s).expect("a valid config");
    if sharded {
        c.for_shard(1).expect("shard 1 of 2")
    } else {
        c
    }
}

/// One run; returns everything emitted, for the replay check.
fn run(data: &[u8]) -> Vec<Vec<u8>> {
    let adf = data.first().is_some_and(|f| f & 0x80 != 0);
    let sharded = data.first().is_some_and(|f| f & 0x40 != 0);
    let mut nat = Nat64::new(xlat::Config::default(), config(adf, sharded), 5);
    let mut out = vec![0u8; MAX_OUTPUT];
    let mut emitted = Vec::new();
    let mut now = 0u64;
    let mut rest = data;
    while let [flags, dt_lo, dt_hi, len, tail @ ..] = rest {
        let n = (usize::from(*len) * 8).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        let dt = u64::from(u16::from_le_bytes([*dt_lo, *dt_hi]));
        now += if flags & 0x10 != 0 { dt * 1000 } else { dt };
        let t = Instant::from_millis(now);
        if flags & 0x20 != 0 {
            nat.handle_timeout(t);
            if let Some(next) = nat.poll_timeout() {
                assert!(next > t, "poll_timeout {next:?} not after {t:?}");
            }
            transmit(&mut nat, &mut out, &mut emitted);
        }
        let from_v4 = flags & 1 != 0;
        let who = usize::from((flags >> 1) & 3);
        let flip = usize::from((flags >> 6) & 1);
        let reply = flags & 0x80 == 0;
        let pkt = if flags & 0x08 != 0 {
            Some(bytes.to_vec())
        } else if from_v4 {
            crate::xlat_4to6::normalize(bytes).map(|mut p| {
                p[12..16].copy_from_slice(&SERVERS[who].octets());
                p[16..20].copy_from_slice(&POOL[flip].octets());
                let icmp = reply && to_binding(&nat, &mut p, hosts(who ^ flip));
                refix_v4(&mut p, icmp);
                p
            })
        } else {
            crate::xlat_6to4::normalize(bytes).map(|mut p| {
                p[8..24].copy_from_slice(&hosts(who).octets());
                let server = SERVERS[who ^ flip];
                let dst = Nat64Prefix::WELL_KNOWN.embed(server);
                p[24..40].copy_from_slice(&dst.octets());
                if reply && POOL.contains(&server) {
                    hairpin_to_binding(&nat, &mut p, hosts(0));
                }
                refix_v6(&mut p);
                p
            })
        };
        let Some(pkt) = pkt else { continue };
        let e = if from_v4 {
            nat.handle_v4(t, &pkt, &mut out)
        } else {
            nat.handle_v6(t, &pkt, &mut out)
        };
        check_emit(&e, &out);
        for p in e.packets(&out) {
            emitted.push(p.to_vec());
        }
        transmit(&mut nat, &mut out, &mut emitted);
        while let Some(ev) = nat.poll_event() {
            emitted.push(format!("{ev:?}").into_bytes());
        }
        let s = nat.state();
        if let Err(e) = s.check_invariants() {
            panic!("tables: {e}");
        }
        let st = s.stats();
        assert!(st.sessions <= MAX_SESSIONS);
        assert!(st.bibs <= st.sessions, "a binding without a session");
        let pending = st.sessions > 0 || st.stored_syns > 0 || nat.reassembly().in_progress() > 0;
        assert_eq!(nat.poll_timeout().is_some(), pending);
    }
    emitted
}

/// Drains the packets the engine made itself, checking each.
fn transmit(nat: &mut Nat64, out: &mut [u8], emitted: &mut Vec<Vec<u8>>) {
    while let Some(e) = nat.poll_transmit(out) {
        check_emit(&e, out);
        for p in e.packets(out) {
            emitted.push(p.to_vec());
        }
    }
}

/// Points an unfragmented IPv4 TCP, UDP or ICMP echo packet at the
/// binding `host` holds for its destination port (echo: identifier), if
/// any; whether it did.
fn to_binding(nat: &Nat64, p: &mut [u8], host: Ipv6Addr) -> bool {
    let v4 = V4(p);
    if v4.is_fragment() {
        return false;
    }
    let (ihl, l4) = (v4.ihl(), v4.l4());
    let (proto, at) = match v4.proto() {
        6 => (Protocol::Tcp, 2),
        17 => (Protocol::Udp, 2),
        1 if matches!(l4.first(), Some(0 | 8)) => (Protocol::Icmp, 4),
        _ => return false,
    };
    let Some(port) = l4.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
        return false;
    };
    let Some(b) = nat
        .state()
        .bib_v4(proto, state::Transport6::new(host, port))
    else {
        return false;
    };
    p[16..20].copy_from_slice(&b.addr.octets());
    p[ihl + at..ihl + at + 2].copy_from_slice(&b.port.to_be_bytes());
    true
}

/// Points an IPv6 TCP or UDP packet (no extension headers) at the
/// binding `host` holds for its destination port, under the prefix.
fn hairpin_to_binding(nat: &Nat64, p: &mut [u8], host: Ipv6Addr) {
    let proto = match p[6] {
        6 => Protocol::Tcp,
        17 => Protocol::Udp,
        _ => return,
    };
    let Some(port) = p.get(42..44).map(|b| u16::from_be_bytes([b[0], b[1]])) else {
        return;
    };
    if let Some(b) = nat
        .state()
        .bib_v4(proto, state::Transport6::new(host, port))
    {
        p[24..40].copy_from_slice(&Nat64Prefix::WELL_KNOWN.embed(b.addr).octets());
        p[42..44].copy_from_slice(&b.port.to_be_bytes());
    }
}

/// The IPv4 header checksum, and the transport checksum, after the
/// addresses were rewritten (only for an unfragmented packet; ICMP only
/// when `icmp`, as its identifier changed).
fn refix_v4(p: &mut [u8], icmp: bool) {
    let ihl = usize::from(p[0] & 0xf) * 4;
    p[10..12].copy_from_slice(&[0, 0]);
    let c = !(ones_sum(&p[..ihl]) as u16);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    let v4 = V4(p);
    if v4.is_fragment() {
        return;
    }
    let (src, dst, proto, len) = (v4.src(), v4.dst(), v4.proto(), v4.l4().len());
    if let Some(at) = crate::xlat::checksum_at(proto).filter(|_| proto == 6 || proto == 17) {
        let pseudo = crate::xlat::pseudo4(src, dst, len, proto);
        crate::xlat::seal(&mut p[ihl..], at, &pseudo);
    } else if proto == 1 && icmp {
        let end = ihl + len;
        crate::xlat::seal(&mut p[ihl..end], 2, &[]);
    }
}

fn refix_v6(p: &mut [u8]) {
    let v6 = V6(p);
    let (src, dst, next, len) = (v6.src(), v6.dst(), v6.next(), v6.payload_len());
    if let Some(at) = crate::xlat::checksum_at(next).filter(|_| next != 1) {
        crate::xlat::seal(&mut p[40..], at, &pseudo6(src, dst, len, next));
    }
}

fn check_emit(e: &Emit, out: &[u8]) {
    match *e {
        Emit::V4 { len, chunk, reply } => {
            assert!(
                len <= out.len() && chunk == len,
                "IPv4 output is one packet"
            );
            let v4 = V4(&out[..len]);
            v4.assert_valid(len);
            if reply.is_some() {
                assert!(len <= 576);
                assert_eq!(v4.proto(), 1);
                assert!(verifies(&[], v4.l4()), "ICMPv4 reply checksum");
            }
        }
        Emit::V6 { len, chunk, reply } => {
            assert!(len <= out.len());
            for p in e.packets(out) {
                V6(p).assert_valid(p.len());
                assert!(p.len() <= if chunk < len { 1280 } else { 65575 });
            }
            if reply.is_some() {
                let v6 = V6(&out[..len]);
                assert!(len <= 1280);
                let pseudo = pseudo6(v6.src(), v6.dst(), v6.payload_len(), 58);
                assert!(verifies(&pseudo, v6.payload()), "ICMPv6 reply checksum");
            }
        }
        Emit::Drop(_) => {}
    }
}
