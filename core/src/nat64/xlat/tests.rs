//! Unit tests of the helpers; translation cases are in
//! `core/tests/nat64_xlat.rs`, the RFC tables beside them in `icmp_tables`.

use super::*;

#[test]
fn rfc4884_split() {
    let body = [7u8; 200];
    // No length, a length under 128 bytes, or one reaching the end: the
    // whole body is the datagram.
    assert_eq!(split_4884(&body, 0, 4), (&body[..], None));
    assert_eq!(split_4884(&body, 31, 4), (&body[..], None));
    assert_eq!(split_4884(&body, 25, 8), (&body[..], None));
    assert_eq!(split_4884(&body, 32, 4), (&body[..128], Some(&body[128..])));
    assert_eq!(split_4884(&body, 17, 8), (&body[..136], Some(&body[136..])));
}

#[test]
fn put_range_spans_parts() {
    let mut buf = [0u8; 8];
    let mut w = wire::Writer::new(&mut buf);
    put_range(&mut w, &[&[1, 2], &[], &[3, 4, 5], &[6]], 1, 4).unwrap();
    assert_eq!(w.pos(), 4);
    assert_eq!(&buf[..4], &[2, 3, 4, 5]);
    let mut small = [0u8; 2];
    let mut w = wire::Writer::new(&mut small);
    assert_eq!(
        put_range(&mut w, &[&[1, 2, 3]], 0, 3),
        Err(Reason::BufferTooSmall)
    );
}

#[test]
fn identifications_differ_and_replay() {
    let (a, b) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(198, 51, 100, 1));
    let mut ids = Ids::new(5);
    let first: Vec<u16> = (0..4).map(|_| ids.next(a, b, 17)).collect();
    assert!(first.windows(2).all(|w| w[0] != w[1]));
    let mut again = Ids::new(5);
    assert_eq!(
        first,
        (0..4).map(|_| again.next(a, b, 17)).collect::<Vec<_>>()
    );
    let mut other = Ids::new(6);
    assert_ne!(first[0], other.next(a, b, 17));
}

#[test]
fn config_rules() {
    assert!(Config::builder().build().is_ok());
    assert_eq!(
        Config::builder()
            .ipv6_mtu(1000)
            .build()
            .unwrap_err()
            .to_string(),
        "ipv6_mtu 1000 is below the IPv6 minimum MTU of 1280 (RFC 8200 §5)"
    );
    assert!(Config::builder().ipv4_mtu(60).build().is_err());
    assert!(matches!(
        Config::builder()
            .lowest_ipv6_mtu(1400)
            .ipv6_mtu(1300)
            .build(),
        Err(ConfigError::LowestAboveLink { .. })
    ));
}

#[test]
fn outcome_packets() {
    let out = [1u8, 2, 3, 4, 5];
    assert_eq!(
        Outcome::Translated { len: 3 }
            .packets(&out)
            .collect::<Vec<_>>(),
        vec![&[1u8, 2, 3][..]]
    );
    let f = Outcome::Fragmented { len: 5, chunk: 2 };
    assert_eq!(f.packets(&out).count(), 3);
    assert_eq!(Outcome::Drop(Reason::Truncated).packets(&out).count(), 0);
    let r = Outcome::Reply {
        len: 2,
        reason: Reason::HopLimit,
    };
    assert_eq!(r.packets(&out).count(), 0);
    assert_eq!(r.reply(&out), Some(&[1u8, 2][..]));
    assert_eq!(Reason::HopLimit.to_string(), "hop_limit");
}
