//! `xlat_4to6`: [`Translator::translate_4to6`] over arbitrary bytes, and
//! over the same bytes made into a plausible IPv4 packet (version, IHL,
//! Total Length and header checksum fixed, the transport checksum sealed).
//!
//! Invariants checked:
//! - a translation is one well-formed IPv6 packet (flow label 0, Payload
//!   Length = the reported length - 40) with Hop Limit = TTL - 1;
//! - fragments are well-formed IPv6 packets with a Fragment Header, none
//!   longer than lowest-ipv6-mtu, all `chunk` long but the last;
//! - a reply is an ICMPv4 error of at most 576 bytes with a right checksum;
//! - checksums are translated, not invented: TCP, UDP (non-zero) and echo
//!   verify after exactly when they did before; a UDP zero checksum
//!   becomes a right one; a translated ICMP error always verifies;
//! - round trip: a translated packet that is not an ICMP error comes back
//!   through [`Translator::translate_6to4`] with the same addresses, TOS,
//!   protocol and transport bytes, TTL - 2;
//! - with offloads: as for `xlat_6to4`.

use sixgate::nat64::xlat::{Outcome, Translator, IPV6_MIN_MTU};

use crate::xlat::{
    assert_offload_outcome, assert_same_but_checksum, checksum_at, complete, make_partial, mapping,
    offload_of, ones_sum, out_buf, pseudo4, pseudo6, seal, translators, verifies, V4, V6,
};

/// Runs the checks above on `data`; panics if one fails.
pub fn check(data: &[u8]) {
    let (mut plain, mut wide) = translators();
    let mut out = out_buf();
    let o = plain.translate_4to6(&mut mapping(), data, &mut out);
    check_outcome(&o, &out, data, usize::from(IPV6_MIN_MTU));
    if let Some(pkt) = normalize(data) {
        let o = plain.translate_4to6(&mut mapping(), &pkt, &mut out);
        check_outcome(&o, &out, &pkt, usize::from(IPV6_MIN_MTU));
        let o = wide.translate_4to6(&mut mapping(), &pkt, &mut out);
        check_outcome(&o, &out, &pkt, usize::from(u16::MAX));
        round_trip(&o, &out, &pkt, &mut wide);
        offloaded(data, &pkt, &mut plain);
        offloaded(data, &pkt, &mut wide);
    }
}

/// The offload invariants, for the normalized packet `pkt`.
fn offloaded(data: &[u8], pkt: &[u8], x: &mut Translator) {
    let v4 = V4(pkt);
    let proto = v4.proto();
    let off = offload_of(data);
    let ihl = v4.ihl();
    let at = checksum_at(proto).filter(|_| (proto == 6 || proto == 17) && !v4.is_fragment());
    let mut p = pkt.to_vec();
    if let Some(at) = at {
        let pseudo = pseudo4(v4.src(), v4.dst(), pkt.len() - ihl, proto);
        make_partial(&mut p[ihl..], at, &pseudo);
    }
    let mut out = out_buf();
    let o = x.translate_4to6_offload(&mut mapping(), &p, off, &mut out);
    assert_offload_outcome(&o, proto, off);
    let (Outcome::Translated { len }, Some(at)) = (o, at) else {
        return;
    };
    let v6 = V6(&out[..len]);
    v6.assert_valid(len);
    assert_eq!(v6.next(), proto, "no Fragment Header with offloads");
    let mut l4 = v6.payload().to_vec();
    complete(&mut l4, at);
    assert!(
        verifies(&pseudo6(v6.src(), v6.dst(), l4.len(), proto), &l4),
        "a completed partial checksum verifies"
    );
    let mut plain = out_buf();
    if let Outcome::Translated { len } = x.translate_4to6(&mut mapping(), pkt, &mut plain) {
        assert_same_but_checksum(V6(&plain[..len]).payload(), &l4, at);
    }
}

/// `data` as an IPv4 packet that passes the header checks, or `None` if it
/// is too short to be one.
pub fn normalize(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 20 {
        return None;
    }
    let total = u16::try_from(data.len()).ok()?;
    let mut pkt = data.to_vec();
    let ihl = usize::from(pkt[0] & 0xf).clamp(5, data.len() / 4);
    pkt[0] = 0x40 | ihl as u8;
    let ihl = ihl * 4;
    pkt[2..4].copy_from_slice(&total.to_be_bytes());
    pkt[10..12].copy_from_slice(&[0, 0]);
    let c = !(ones_sum(&pkt[..ihl]) as u16);
    pkt[10..12].copy_from_slice(&c.to_be_bytes());
    let v4 = V4(&pkt);
    let (src, dst, proto) = (v4.src(), v4.dst(), v4.proto());
    if !v4.is_fragment() {
        if let Some(at) = checksum_at(proto).filter(|_| proto != 58) {
            let len = pkt.len() - ihl;
            let pseudo = if proto == 1 {
                Vec::new()
            } else {
                pseudo4(src, dst, len, proto)
            };
            seal(&mut pkt[ihl..], at, &pseudo);
        }
    }
    Some(pkt)
}

fn check_outcome(o: &Outcome, out: &[u8], input: &[u8], lowest: usize) {
    crate::xlat::assert_reply_v4(o, out);
    match *o {
        Outcome::Translated { len } => {
            assert!(len <= out.len());
            let v6 = V6(&out[..len]);
            v6.assert_valid(len);
            let inp = V4(input);
            assert_eq!(v6.hop(), inp.ttl() - 1, "Hop Limit = TTL - 1");
            if v6.next() == 44 || inp.is_fragment() {
                return;
            }
            let in_pseudo = pseudo4(inp.src(), inp.dst(), inp.l4().len(), inp.proto());
            let out_ok = verifies(
                &pseudo6(v6.src(), v6.dst(), v6.payload_len(), v6.next()),
                v6.payload(),
            );
            match (inp.proto(), v6.next()) {
                (1, 58) => {
                    let ty = v6.payload()[0];
                    // An all-zero ICMPv4 message (checksum 0x0000 over
                    // zeros) sums to 0x0000, the other encoding of zero
                    // (RFC 1624 §3): a receiver rejects it, but an
                    // incremental update (RFC 1624 eqn. 3) of it gives a
                    // checksum that verifies. No other ICMPv4 message sums
                    // to 0x0000, so validity is kept for all the others.
                    let all_zero = ones_sum(inp.l4()) == 0;
                    if ty < 128 {
                        assert!(out_ok, "a translated ICMP error verifies");
                    } else if !all_zero {
                        assert_eq!(
                            out_ok,
                            verifies(&[], inp.l4()),
                            "echo checksum validity kept"
                        );
                    }
                }
                (17, 17) if inp.l4().get(6..8) == Some(&[0, 0]) => {
                    assert!(out_ok, "a zero UDP checksum is computed");
                }
                (6, 6) | (17, 17) => {
                    assert_eq!(
                        out_ok,
                        verifies(&in_pseudo, inp.l4()),
                        "checksum validity kept"
                    );
                }
                _ => {}
            }
        }
        Outcome::Fragmented { len, chunk } => {
            assert!(len <= out.len());
            let frags: Vec<&[u8]> = o.packets(out).collect();
            assert!(frags.len() >= 2);
            for (i, f) in frags.iter().enumerate() {
                let v6 = V6(f);
                v6.assert_valid(f.len());
                assert_eq!(v6.next(), 44, "a Fragment Header");
                assert!(f.len() <= lowest, "fragment of {} bytes", f.len());
                if i + 1 < frags.len() {
                    assert_eq!(f.len(), chunk);
                }
            }
        }
        Outcome::Reply { len, .. } => assert!(len <= out.len()),
        Outcome::Drop(_) => {}
    }
}

fn round_trip(o: &Outcome, out: &[u8], input: &[u8], wide: &mut Translator) {
    let Outcome::Translated { len } = *o else {
        return;
    };
    let v6 = V6(&out[..len]);
    let inp = V4(input);
    if v6.next() == 44 || inp.is_fragment() || v6.hop() < 2 {
        return;
    }
    if v6.next() == 58 && !matches!(v6.payload().first(), Some(128 | 129)) {
        return; // an ICMP error
    }
    let mut back = out_buf();
    let o = wide.translate_6to4(&mut mapping(), &out[..len], &mut back);
    let Outcome::Translated { len } = o else {
        panic!("round trip gave {o:?}")
    };
    let b = V4(&back[..len]);
    b.assert_valid(len);
    assert_eq!(
        (b.src(), b.dst(), b.proto()),
        (inp.src(), inp.dst(), inp.proto())
    );
    assert_eq!(back[1], input[1], "TOS");
    assert_eq!(b.ttl(), inp.ttl() - 2, "TTL");
    let (x, y) = (b.l4(), inp.l4());
    assert_eq!(x.len(), y.len(), "payload length");
    let zero_udp = inp.proto() == 17 && y.get(6..8) == Some(&[0, 0]);
    match checksum_at(inp.proto()).filter(|&at| x.len() >= at + 2) {
        Some(at) => {
            assert_eq!(&x[..at], &y[..at]);
            assert_eq!(&x[at + 2..], &y[at + 2..]);
            let (cx, cy) = ([x[at], x[at + 1]], [y[at], y[at + 1]]);
            let zero = |c: [u8; 2]| c == [0, 0] || c == [0xff, 0xff];
            assert!(
                zero_udp || cx == cy || (zero(cx) && zero(cy)),
                "checksum {cx:?} vs {cy:?}"
            );
        }
        None => assert_eq!(x, y, "payload"),
    }
}
