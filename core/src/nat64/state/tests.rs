//! The tables through the [`Mapping`] interface, over virtual time.

use super::*;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;

fn host() -> Ipv6Addr {
    "2001:db8::10".parse().unwrap()
}

fn remote() -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, 7)
}

fn remote6() -> Ipv6Addr {
    Nat64Prefix::WELL_KNOWN.embed(remote())
}

fn state_with(b: ConfigBuilder) -> State {
    State::new(b.build().unwrap(), 42)
}

fn state() -> State {
    state_with(Config::builder().pool("203.0.113.0/30".parse().unwrap()))
}

fn meta(tcp_flags: u8, icmp_type: u8) -> Meta {
    Meta {
        tcp_flags,
        icmp_type,
        ..PrefixMapping::meta()
    }
}

fn quoted() -> Meta {
    Meta {
        role: Role::Quoted,
        ..PrefixMapping::meta()
    }
}

fn out6(proto: Proto, sport: u16, dport: u16) -> Flow<Ipv6Addr> {
    Flow {
        proto,
        src: host(),
        dst: remote6(),
        src_port: sport,
        dst_port: dport,
    }
}

fn in4(proto: Proto, to: Addr4, sport: u16) -> Flow<Ipv4Addr> {
    Flow {
        proto,
        src: remote(),
        dst: to.0,
        src_port: sport,
        dst_port: to.1,
    }
}

use crate::nat64::xlat::PrefixMapping;

fn at(s: u64) -> Instant {
    Instant::from_secs(s)
}

#[test]
fn udp_binding_session_and_reply() {
    let mut st = state();
    let v4 = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 5000, 53), &meta(0, 0))
        .unwrap();
    assert!(st.config().pool_contains(v4.src));
    assert_eq!(
        (v4.src_port, v4.dst, v4.dst_port),
        (5000, remote(), 53),
        "port preserved"
    );
    assert_eq!(st.binding(Proto::Udp, (host(), 5000)), Some((v4.src, 5000)));
    assert_eq!(
        st.poll_event(),
        Some(Event::BibCreated {
            proto: Proto::Udp,
            v6: (host(), 5000),
            v4: (v4.src, 5000),
            at: at(0)
        })
    );
    // The answer comes back to the host.
    let back = st
        .mapping(at(1))
        .map_4to6(&in4(Proto::Udp, (v4.src, 5000), 53), &meta(0, 0))
        .unwrap();
    assert_eq!(
        (back.src, back.src_port, back.dst, back.dst_port),
        (remote6(), 53, host(), 5000)
    );
    // A second flow of the host uses the same IPv4 address (paired pooling).
    let other = st
        .mapping(at(1))
        .map_6to4(&out6(Proto::Udp, 6000, 123), &meta(0, 0))
        .unwrap();
    assert_eq!(other.src, v4.src);
    assert_eq!((st.session_count(), st.binding_count()), (2, 2));
}

#[test]
fn udp_lifetime_is_refreshed_by_traffic_and_ends() {
    let mut st = state();
    let f = out6(Proto::Udp, 5000, 53);
    st.mapping(at(0)).map_6to4(&f, &meta(0, 0)).unwrap();
    assert_eq!(st.poll_timeout(), Some(at(300)));
    st.mapping(at(200)).map_6to4(&f, &meta(0, 0)).unwrap();
    // The queue entry at 300 comes up early and moves to 500.
    assert_eq!(st.poll_timeout(), Some(at(300)));
    st.handle_timeout(at(300));
    assert_eq!(st.poll_timeout(), Some(at(500)), "refreshed");
    st.handle_timeout(at(499));
    assert_eq!(st.session_count(), 1);
    st.handle_timeout(at(500));
    assert_eq!((st.session_count(), st.binding_count()), (0, 0));
    let _created = st.poll_event();
    assert!(matches!(st.poll_event(), Some(Event::BibRemoved { at: t, .. }) if t == at(500)));
    assert_eq!(st.poll_timeout(), None);
}

#[test]
fn unsolicited_ipv4_and_filtering() {
    let mut st = state();
    let pool0 = Ipv4Addr::new(203, 0, 113, 0);
    // No binding: UDP gets Port Unreachable, TCP nothing.
    assert_eq!(
        st.mapping(at(0))
            .map_4to6(&in4(Proto::Udp, (pool0, 7000), 53), &meta(0, 0)),
        Err(Unmapped::unreachable(Reason::Unmapped, 3))
    );
    assert_eq!(
        st.mapping(at(0))
            .map_4to6(&in4(Proto::Tcp, (pool0, 7000), 80), &meta(SYN, 0)),
        Err(Unmapped::silent(Reason::Unmapped))
    );
    // Not the pool at all.
    let stranger = Ipv4Addr::new(192, 0, 2, 1);
    assert!(st
        .mapping(at(0))
        .map_4to6(&in4(Proto::Udp, (stranger, 1), 53), &meta(0, 0))
        .is_err());
    // Endpoint-independent: once bound, any IPv4 node may send.
    let v4 = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 5000, 53), &meta(0, 0))
        .unwrap();
    let mut f = in4(Proto::Udp, (v4.src, 5000), 9999);
    f.src = Ipv4Addr::new(192, 0, 2, 200);
    let back = st.mapping(at(1)).map_4to6(&f, &meta(0, 0)).unwrap();
    assert_eq!((back.dst, back.dst_port), (host(), 5000));
    assert_eq!(back.src, Nat64Prefix::WELL_KNOWN.embed(f.src));
    assert_eq!(st.session_count(), 2);

    // Address-dependent: only the address already talked to.
    let mut st = state_with(
        Config::builder()
            .pool("203.0.113.0/30".parse().unwrap())
            .filtering(Filtering::AddressDependent),
    );
    let v4 = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 5000, 53), &meta(0, 0))
        .unwrap();
    assert_eq!(
        st.mapping(at(1)).map_4to6(&f, &meta(0, 0)),
        Err(Unmapped::unreachable(Reason::Filtered, 13))
    );
    let same_host_new_port = in4(Proto::Udp, (v4.src, 5000), 54);
    assert!(st
        .mapping(at(1))
        .map_4to6(&same_host_new_port, &meta(0, 0))
        .is_ok());
}

#[test]
fn icmp_echo_identifiers() {
    let mut st = state();
    let req = out6(Proto::Icmp, 0x77, 0x77);
    // An echo reply from IPv6 makes no session.
    assert!(st.mapping(at(0)).map_6to4(&req, &meta(0, 129)).is_err());
    let v4 = st.mapping(at(0)).map_6to4(&req, &meta(0, 128)).unwrap();
    let reply = in4(Proto::Icmp, (v4.src, v4.src_port), v4.src_port);
    let back = st.mapping(at(1)).map_4to6(&reply, &meta(0, 0)).unwrap();
    assert_eq!(
        (back.dst, back.dst_port),
        (host(), 0x77),
        "the identifier maps back"
    );
    st.handle_timeout(at(60));
    assert_eq!(st.session_count(), 1);
    assert_eq!(
        st.poll_timeout(),
        Some(at(61)),
        "ICMP lifetime 60 s, refreshed"
    );
}

#[test]
fn tcp_state_machine_drives_lifetimes() {
    let mut st = state();
    let f = out6(Proto::Tcp, 40000, 443);
    assert_eq!(
        st.mapping(at(0)).map_6to4(&f, &meta(ACK, 0)),
        Err(Unmapped::silent(Reason::Unmapped)),
        "no session without a SYN"
    );
    let v4 = st.mapping(at(0)).map_6to4(&f, &meta(SYN, 0)).unwrap();
    assert_eq!(st.poll_timeout(), Some(at(240)), "V6 INIT: TCP_TRANS");
    let synack = in4(Proto::Tcp, (v4.src, v4.src_port), 443);
    st.mapping(at(1))
        .map_4to6(&synack, &meta(SYN | ACK, 0))
        .unwrap();
    st.handle_timeout(at(240));
    assert_eq!(
        st.poll_timeout(),
        Some(at(1 + 7440)),
        "ESTABLISHED: TCP_EST"
    );
    // Established expiry moves to TRANS; traffic revives it.
    st.handle_timeout(at(7441));
    assert_eq!(st.session_count(), 1);
    assert_eq!(st.poll_timeout(), Some(at(7441 + 240)));
    st.mapping(at(7500)).map_6to4(&f, &meta(ACK, 0)).unwrap();
    st.handle_timeout(at(7441 + 240));
    assert_eq!(st.session_count(), 1, "revived");
    assert_eq!(st.poll_timeout(), Some(at(7500 + 7440)));
    // FIN both ways: TCP_TRANS, then gone.
    st.mapping(at(7600))
        .map_6to4(&f, &meta(FIN | ACK, 0))
        .unwrap();
    st.mapping(at(7601))
        .map_4to6(&synack, &meta(FIN | ACK, 0))
        .unwrap();
    assert_eq!(st.poll_timeout(), Some(at(7601 + 240)));
    st.handle_timeout(at(7601 + 240));
    assert_eq!(st.session_count(), 0);
}

#[test]
fn tcp_rst_and_an_unanswered_syn() {
    let mut st = state();
    let f = out6(Proto::Tcp, 40000, 443);
    let v4 = st.mapping(at(0)).map_6to4(&f, &meta(SYN, 0)).unwrap();
    // Never answered: gone after TCP_TRANS.
    st.handle_timeout(at(240));
    assert_eq!(st.session_count(), 0);
    // Established then reset: TRANS.
    st.mapping(at(300)).map_6to4(&f, &meta(SYN, 0)).unwrap();
    let synack = in4(Proto::Tcp, (v4.src, 40000), 443);
    st.mapping(at(301))
        .map_4to6(&synack, &meta(SYN | ACK, 0))
        .unwrap();
    st.mapping(at(302))
        .map_4to6(&synack, &meta(RST, 0))
        .unwrap();
    st.handle_timeout(at(540));
    assert_eq!(st.poll_timeout(), Some(at(302 + 240)), "RST: TCP_TRANS");
    st.handle_timeout(at(542));
    assert_eq!(st.session_count(), 0);
}

#[test]
fn ipv4_syn_on_a_binding_opens_v4_init() {
    let mut st = state();
    let v4 = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Tcp, 40000, 443), &meta(SYN, 0))
        .unwrap();
    let mut f = in4(Proto::Tcp, (v4.src, 40000), 5555);
    f.src = Ipv4Addr::new(192, 0, 2, 9);
    st.mapping(at(1)).map_4to6(&f, &meta(SYN, 0)).unwrap();
    assert_eq!(st.session_count(), 2);
    assert_eq!(st.poll_timeout(), Some(at(7)), "V4 INIT: TCP_INCOMING_SYN");
    st.handle_timeout(at(7));
    assert_eq!(st.session_count(), 1);
}

#[test]
fn quoted_packets_never_make_state() {
    let mut st = state();
    let f = out6(Proto::Udp, 5000, 53);
    assert!(st.mapping(at(0)).map_6to4(&f, &quoted()).is_err());
    assert_eq!((st.session_count(), st.binding_count()), (0, 0));
    let v4 = st.mapping(at(0)).map_6to4(&f, &meta(0, 0)).unwrap();
    // A quoted packet finds the session without refreshing it.
    assert_eq!(st.mapping(at(100)).map_6to4(&f, &quoted()), Ok(v4));
    assert_eq!(st.poll_timeout(), Some(at(300)));
    let q = in4(Proto::Udp, (v4.src, 5000), 53);
    assert!(st.mapping(at(100)).map_4to6(&q, &quoted()).is_ok());
    let mut stranger = q;
    stranger.src = Ipv4Addr::new(192, 0, 2, 1);
    assert!(st.mapping(at(100)).map_4to6(&stranger, &quoted()).is_err());
    assert_eq!(st.session_count(), 1);
}

#[test]
fn hairpin_loops_other_protocols_and_fragments_are_refused() {
    let mut st = state();
    let mut f = out6(Proto::Udp, 5000, 53);
    f.src = Nat64Prefix::WELL_KNOWN.embed(Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(
        st.mapping(at(0)).map_6to4(&f, &meta(0, 0)),
        Err(Unmapped::silent(Reason::HairpinLoop))
    );
    let gre = out6(Proto::Other(47), 0, 0);
    assert_eq!(
        st.mapping(at(0)).map_6to4(&gre, &meta(0, 0)),
        Err(Unmapped::silent(Reason::Protocol))
    );
    let later = Meta {
        has_ports: false,
        ..meta(0, 0)
    };
    assert!(st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 0, 0), &later)
        .is_err());
}

#[test]
fn ports_keep_range_and_parity_and_the_pool_runs_out() {
    // One address, eight ports.
    let mut st = state_with(
        Config::builder()
            .pool("203.0.113.9/32".parse().unwrap())
            .ports(1020, 1027),
    );
    let a = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 1025, 53), &meta(0, 0))
        .unwrap();
    assert_eq!(a.src_port, 1025);
    // Another host wants 1025 too: an odd port of 1024 and up.
    let mut other = out6(Proto::Udp, 1025, 53);
    other.src = "2001:db8::20".parse().unwrap();
    let b = st.mapping(at(0)).map_6to4(&other, &meta(0, 0)).unwrap();
    assert!(
        b.src_port >= 1024 && b.src_port % 2 == 1 && b.src_port != 1025,
        "{}",
        b.src_port
    );
    // A well-known source port stays below 1024.
    let c = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 1023, 53), &meta(0, 0))
        .unwrap();
    assert_eq!(c.src_port, 1023);
    let d = st
        .mapping(at(0))
        .map_6to4(
            &{
                let mut f = other;
                f.src_port = 1023;
                f
            },
            &meta(0, 0),
        )
        .unwrap();
    assert!(d.src_port < 1024, "{}", d.src_port);
    // Fill the rest, then run out.
    for p in 2000..2004 {
        st.mapping(at(0))
            .map_6to4(&out6(Proto::Udp, p, 53), &meta(0, 0))
            .unwrap();
    }
    assert_eq!(st.binding_count(), 8);
    let err = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 3000, 53), &meta(0, 0))
        .unwrap_err();
    assert_eq!(err, Unmapped::unreachable(Reason::PoolExhausted, 3));
    assert!(
        std::iter::from_fn(|| st.poll_event()).any(|e| matches!(e, Event::PoolExhausted { .. }))
    );
    // Another protocol has its own ports.
    assert!(st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Tcp, 3000, 53), &meta(SYN, 0))
        .is_ok());
}

#[test]
fn limits() {
    let mut st = state_with(
        Config::builder()
            .pool("203.0.113.0/30".parse().unwrap())
            .max_bindings_per_host(2)
            .max_sessions(3),
    );
    for p in [1, 2] {
        st.mapping(at(0))
            .map_6to4(&out6(Proto::Udp, p, 53), &meta(0, 0))
            .unwrap();
    }
    assert_eq!(
        st.mapping(at(0))
            .map_6to4(&out6(Proto::Udp, 3, 53), &meta(0, 0)),
        Err(Unmapped::silent(Reason::Limit))
    );
    // A new session on an existing binding is fine, until the table is full.
    st.mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 1, 54), &meta(0, 0))
        .unwrap();
    assert_eq!(
        st.mapping(at(0))
            .map_6to4(&out6(Proto::Udp, 1, 55), &meta(0, 0)),
        Err(Unmapped::silent(Reason::Limit))
    );
    let events: Vec<Event> = std::iter::from_fn(|| st.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(e, Event::HostLimit { .. })));
    assert!(events
        .iter()
        .any(|e| matches!(e, Event::SessionLimit { .. })));
}

#[test]
fn config_rules() {
    assert_eq!(
        Config::builder().build().unwrap_err(),
        ConfigError::EmptyPool
    );
    let pool: Ipv4Net = "198.18.0.0/15".parse().unwrap();
    assert!(matches!(
        Config::builder().pool(pool).build(),
        Err(ConfigError::PoolTooLarge { .. })
    ));
    let ok = Config::builder().pool("203.0.113.0/30".parse().unwrap());
    assert!(matches!(
        ok.clone().ports(9, 8).build(),
        Err(ConfigError::Ports { .. })
    ));
    let short = Timeouts {
        udp: 60,
        ..Timeouts::default()
    };
    assert_eq!(
        ok.clone().timeouts(short).build().unwrap_err().to_string(),
        "udp timeout 60 s is below the RFC 6146 §4 minimum of 120 s"
    );
    let c = ok.build().unwrap();
    assert!(c.pool_contains(Ipv4Addr::new(203, 0, 113, 0)));
    assert!(c.pool_contains(Ipv4Addr::new(203, 0, 113, 3)));
    assert!(!c.pool_contains(Ipv4Addr::new(203, 0, 113, 4)));
}

#[test]
fn port_blocks() {
    // One address, ports 1024-1279 in four blocks of 64, two per host.
    let mut st = state_with(
        Config::builder()
            .pool("203.0.113.9/32".parse().unwrap())
            .ports(1024, 1279)
            .port_blocks(64, 2),
    );
    let block = |p: u16| (p - 1024) / 64;
    let a = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 5000, 53), &meta(0, 0))
        .unwrap();
    let Some(Event::BlockAllocated {
        host: h,
        ports: (lo, hi),
        ..
    }) = st.poll_event()
    else {
        panic!("a block first")
    };
    assert_eq!((h, hi - lo), (host(), 63));
    assert!((lo..=hi).contains(&a.src_port));
    assert!(matches!(st.poll_event(), Some(Event::BibCreated { .. })));
    // More bindings of the host, any protocol, stay in its block.
    let b = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Tcp, 5001, 80), &meta(SYN, 0))
        .unwrap();
    assert_eq!(block(b.src_port), block(a.src_port));
    assert_eq!(b.src_port % 2, 1, "parity kept");
    // Another host gets another block.
    let mut other = out6(Proto::Udp, 5000, 53);
    other.src = "2001:db8::20".parse().unwrap();
    let c = st.mapping(at(0)).map_6to4(&other, &meta(0, 0)).unwrap();
    assert_ne!(block(c.src_port), block(a.src_port));
    // Fill the first host's block: the 65th UDP binding opens a second
    // block; the 129th finds none (two per host).
    for p in 1..64 {
        st.mapping(at(0))
            .map_6to4(&out6(Proto::Udp, 5000 + 2 * p, 53), &meta(0, 0))
            .unwrap();
    }
    let next = st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 7000, 53), &meta(0, 0))
        .unwrap();
    assert_ne!(block(next.src_port), block(a.src_port));
    assert_ne!(block(next.src_port), block(c.src_port));
    for p in 1..64 {
        st.mapping(at(0))
            .map_6to4(&out6(Proto::Udp, 7000 + 2 * p, 53), &meta(0, 0))
            .unwrap();
    }
    assert!(st
        .mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 9000, 53), &meta(0, 0))
        .is_err());
    let blocks = std::iter::from_fn(|| st.poll_event())
        .filter(|e| matches!(e, Event::BlockAllocated { .. }))
        .count();
    assert_eq!(
        blocks, 2,
        "the second host's block and the first host's second"
    );
    // When the first host's bindings end, its blocks go back.
    st.handle_timeout(at(300));
    st.handle_timeout(at(1000));
    let released = std::iter::from_fn(|| st.poll_event())
        .filter(|e| matches!(e, Event::BlockReleased { .. }))
        .count();
    assert_eq!(released, 3);
    assert_eq!(st.binding_count(), 0);
}

#[test]
fn port_block_config() {
    let b = Config::builder()
        .pool("203.0.113.9/32".parse().unwrap())
        .ports(1024, 1100);
    assert!(matches!(
        b.clone().port_blocks(0, 1).build(),
        Err(ConfigError::PortBlock { .. })
    ));
    assert!(matches!(
        b.clone().port_blocks(100, 1).build(),
        Err(ConfigError::PortBlock { .. })
    ));
    assert!(b.clone().port_blocks(64, 1).build().is_ok());
    let unaligned = Config::builder()
        .pool("203.0.113.9/32".parse().unwrap())
        .ports(1000, 1070);
    assert!(matches!(
        unaligned.port_blocks(64, 1).build(),
        Err(ConfigError::PortBlock { .. })
    ));
}

#[test]
fn alarm_events_are_rate_limited() {
    let mut st = state_with(
        Config::builder()
            .pool("203.0.113.0/30".parse().unwrap())
            .max_bindings_per_host(1),
    );
    st.mapping(at(0))
        .map_6to4(&out6(Proto::Udp, 1, 53), &meta(0, 0))
        .unwrap();
    for p in 2..100 {
        assert!(st
            .mapping(at(0))
            .map_6to4(&out6(Proto::Udp, p, 53), &meta(0, 0))
            .is_err());
    }
    let limits = |st: &mut State| {
        std::iter::from_fn(|| st.poll_event())
            .filter(|e| matches!(e, Event::HostLimit { .. }))
            .count()
    };
    assert_eq!(
        limits(&mut st),
        1,
        "one alarm for 98 refusals in the same second"
    );
    assert!(st
        .mapping(at(1))
        .map_6to4(&out6(Proto::Udp, 100, 53), &meta(0, 0))
        .is_err());
    assert_eq!(limits(&mut st), 1, "and another a second later");
}
