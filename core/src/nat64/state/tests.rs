//! Unit tests of the configuration and pool geometry; the state-machine
//! sequences over the public API are in `core/tests/nat64_state.rs`.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::pool::{Blocks, EPHEMERAL, WELL_KNOWN};
use super::*;
use crate::Nat64Prefix;

fn range(proto: Protocol, net: &str, ports: std::ops::RangeInclusive<u16>) -> Pool4Range {
    Pool4Range {
        proto,
        net: net.parse().unwrap(),
        ports,
    }
}

fn settings(pool: Vec<Pool4Range>) -> Settings {
    Settings::new(Nat64Prefix::WELL_KNOWN, pool)
}

#[test]
fn timeouts_minimums() {
    let d = Timeouts::default();
    assert_eq!(
        (d.udp(), d.tcp_est(), d.tcp_trans(), d.icmp()),
        (UDP_DEFAULT, TCP_EST, TCP_TRANS, ICMP_DEFAULT)
    );
    assert!(Timeouts::new(UDP_MIN, TCP_EST, TCP_TRANS, ICMP_DEFAULT).is_ok());
    let cases = [
        (
            Duration::from_secs(119),
            TCP_EST,
            TCP_TRANS,
            ICMP_DEFAULT,
            "udp timeout 119s is below the RFC 6146 §4 minimum of 120s",
        ),
        (
            UDP_DEFAULT,
            Duration::from_secs(7000),
            TCP_TRANS,
            ICMP_DEFAULT,
            "tcp established timeout 7000s is below the RFC 6146 §4 minimum of 7440s",
        ),
        (
            UDP_DEFAULT,
            TCP_EST,
            Duration::from_secs(60),
            ICMP_DEFAULT,
            "tcp transitory timeout 60s is below the RFC 6146 §4 minimum of 240s",
        ),
        (
            UDP_DEFAULT,
            TCP_EST,
            TCP_TRANS,
            Duration::ZERO,
            "icmp timeout 0s is below the RFC 6146 §4 minimum of 1s",
        ),
    ];
    for (u, e, t, i, msg) in cases {
        assert_eq!(Timeouts::new(u, e, t, i).unwrap_err().to_string(), msg);
    }
}

#[test]
fn config_errors() {
    let ok = vec![range(Protocol::Udp, "192.0.2.0/30", 1024..=65535)];
    let mut s = settings(ok.clone());
    s.block_size = 3;
    assert_eq!(
        Config::new(s).unwrap_err(),
        ConfigError::BlockSize { size: 3 }
    );
    let mut s = settings(ok.clone());
    s.max_sessions = 0;
    assert_eq!(
        Config::new(s).unwrap_err().to_string(),
        "max_sessions must be at least 1"
    );
    assert_eq!(
        Config::new(settings(vec![])).unwrap_err(),
        ConfigError::EmptyPool
    );
    let overlap = vec![
        range(Protocol::Udp, "192.0.2.0/30", 1024..=4000),
        range(Protocol::Udp, "192.0.2.1/32", 4000..=5000),
    ];
    assert!(matches!(
        Config::new(settings(overlap)).unwrap_err(),
        ConfigError::PoolOverlap { .. }
    ));
    // Same addresses, disjoint ports or other protocol: fine.
    let disjoint = vec![
        range(Protocol::Udp, "192.0.2.0/30", 1024..=4000),
        range(Protocol::Udp, "192.0.2.1/32", 4001..=5000),
        range(Protocol::Tcp, "192.0.2.1/32", 1024..=5000),
    ];
    assert!(Config::new(settings(disjoint)).is_ok());
    let small = vec![range(Protocol::Tcp, "192.0.2.1/32", 1024..=1100)];
    assert_eq!(
        Config::new(settings(small)).unwrap_err().to_string(),
        "pool4 has no room for one block of 128 tcp ports"
    );
    assert!(matches!(
        Config::new(settings(vec![range(
            Protocol::Tcp,
            "10.0.0.0/8",
            1024..=65535
        )]))
        .unwrap_err(),
        ConfigError::PoolNetTooLarge { .. }
    ));
    let mut s = settings(vec![range(Protocol::Tcp, "198.18.0.0/16", 0..=65535)]);
    s.block_size = 2;
    assert!(matches!(
        Config::new(s).unwrap_err(),
        ConfigError::PoolTooLarge { .. }
    ));
    // Host ports: overlap refused, disjoint accepted.
    let mut s = settings(ok.clone());
    s.host = Some(HostPorts {
        addrs: vec![Ipv4Addr::new(192, 0, 2, 2)],
        ports: 32768..=60999,
    });
    assert!(matches!(
        Config::new(s.clone()).unwrap_err(),
        ConfigError::OverlapsHost { .. }
    ));
    s.pool4 = vec![range(Protocol::Udp, "192.0.2.0/30", 1024..=32767)];
    assert!(Config::new(s).is_ok());
    // Static entries.
    let st = StaticBib {
        proto: Protocol::Udp,
        v6: Transport6::new("2001:db8::1".parse().unwrap(), 53),
        v4: Transport4::new(Ipv4Addr::new(192, 0, 2, 9), 53),
    };
    let mut s = settings(ok.clone());
    s.statics = vec![st];
    assert_eq!(
        Config::new(s).unwrap_err().to_string(),
        "static udp entry 192.0.2.9:53 -> [2001:db8::1]:53 is outside pool4"
    );
    let mut s = settings(ok);
    let inside = StaticBib {
        v4: Transport4::new(Ipv4Addr::new(192, 0, 2, 1), 2000),
        ..st
    };
    s.statics = vec![inside, inside];
    assert!(matches!(
        Config::new(s.clone()).unwrap_err(),
        ConfigError::StaticDuplicate { .. }
    ));
    s.statics = vec![StaticBib {
        v6: Transport6::new("64:ff9b::1".parse().unwrap(), 53),
        ..inside
    }];
    assert!(matches!(
        Config::new(s).unwrap_err(),
        ConfigError::StaticInsidePrefix { .. }
    ));
}

#[test]
fn block_geometry() {
    // Odd range ends: blocks start even and never cross 1024.
    let pool = vec![
        range(Protocol::Tcp, "192.0.2.1/32", 1001..=1100),
        range(Protocol::Tcp, "192.0.2.2/32", 2000..=2015),
    ];
    let mut s = settings(pool);
    s.block_size = 8;
    let config = Config::new(s).unwrap();
    let blocks = Blocks::new(&config);
    // 1002..=1017 (2 blocks, well-known side stops at 1023: 1002-1009,
    // 1010-1017; 1018-1023 left over), 1024..=1100 (9 blocks),
    // 2000..=2015 (2 blocks).
    assert_eq!(config.blocks(Protocol::Tcp), 13);
    assert_eq!(blocks.free_count(Protocol::Tcp), 13);
    let a1 = u32::from(Ipv4Addr::new(192, 0, 2, 1));
    let a2 = u32::from(Ipv4Addr::new(192, 0, 2, 2));
    assert_eq!(blocks.id_of(Protocol::Tcp, a1, 1002), Some((WELL_KNOWN, 0)));
    assert_eq!(blocks.id_of(Protocol::Tcp, a1, 1017), Some((WELL_KNOWN, 1)));
    assert_eq!(blocks.id_of(Protocol::Tcp, a1, 1018), None);
    assert_eq!(blocks.id_of(Protocol::Tcp, a1, 1001), None);
    assert_eq!(blocks.id_of(Protocol::Tcp, a1, 1024), Some((EPHEMERAL, 2)));
    assert_eq!(blocks.id_of(Protocol::Tcp, a2, 2015), Some((EPHEMERAL, 12)));
    assert_eq!(blocks.id_of(Protocol::Udp, a2, 2015), None);
    for (class, id) in [
        (WELL_KNOWN, 0),
        (WELL_KNOWN, 1),
        (EPHEMERAL, 2),
        (EPHEMERAL, 12),
    ] {
        let (addr, first) = blocks.locate(Protocol::Tcp, class, id).unwrap();
        assert_eq!(first % 2, 0);
        assert_eq!(blocks.id_of(Protocol::Tcp, addr, first), Some((class, id)));
        assert_eq!(
            blocks.id_of(Protocol::Tcp, addr, first + 7),
            Some((class, id))
        );
    }
    assert_eq!(blocks.locate(Protocol::Tcp, EPHEMERAL, 13), None);
    assert_eq!(blocks.locate(Protocol::Tcp, EPHEMERAL, 1), None);
}

#[test]
fn port_zero_is_never_handed_out_for_tcp_or_udp() {
    let mut s = settings(vec![
        range(Protocol::Tcp, "192.0.2.1/32", 0..=15),
        range(Protocol::Icmp, "192.0.2.1/32", 0..=15),
    ]);
    s.block_size = 8;
    let config = Config::new(s).unwrap();
    let blocks = Blocks::new(&config);
    let a = u32::from(Ipv4Addr::new(192, 0, 2, 1));
    // TCP: 2..=9 is the only whole block; ICMP: 0..=7 and 8..=15.
    assert_eq!(config.blocks(Protocol::Tcp), 1);
    assert_eq!(blocks.id_of(Protocol::Tcp, a, 0), None);
    assert_eq!(blocks.locate(Protocol::Tcp, WELL_KNOWN, 0), Some((a, 2)));
    assert_eq!(config.blocks(Protocol::Icmp), 2);
    assert_eq!(blocks.locate(Protocol::Icmp, WELL_KNOWN, 0), Some((a, 0)));
}

#[test]
fn static_ports_keep_their_block_out() {
    let mut s = settings(vec![range(Protocol::Tcp, "192.0.2.1/32", 1024..=1279)]);
    s.block_size = 128;
    s.statics = vec![StaticBib {
        proto: Protocol::Tcp,
        v6: Transport6::new("2001:db8::80".parse().unwrap(), 80),
        v4: Transport4::new(Ipv4Addr::new(192, 0, 2, 1), 1100),
    }];
    let nat = Nat64State::new(Config::new(s).unwrap(), 1);
    assert_eq!(nat.free_blocks(Protocol::Tcp), 1);
    assert_eq!(nat.stats().bibs, 1);
    nat.check_invariants().unwrap();
}

#[test]
fn record_sizes() {
    // The per-session and per-BIB records the memory budget counts on.
    assert_eq!(size_of::<Session>(), 40);
    assert_eq!(size_of::<Bib>(), 36);
    assert_eq!(size_of::<SessionKey>(), 12);
}
