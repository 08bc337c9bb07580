//! `xlat_6to4`: [`Translator::translate_6to4`] over arbitrary bytes, and
//! over the same bytes made into a plausible IPv6 packet (version and
//! Payload Length fixed, addresses under the prefix, the transport
//! checksum sealed) so the fuzzer reaches the translation itself.
//!
//! Invariants checked:
//! - a translation is one well-formed IPv4 packet (no options, Total
//!   Length = the reported length, header checksum right) with TTL = Hop
//!   Limit - 1; 6 → 4 never fragments;
//! - a reply is an ICMPv6 error of at most 1280 bytes with a right
//!   checksum;
//! - TCP, UDP and ICMP echo checksums are translated, not invented: the
//!   output verifies exactly when the input did; a translated ICMP error
//!   always verifies;
//! - round trip: a translated packet that is not an ICMP error comes back
//!   through [`Translator::translate_4to6`] with the same addresses,
//!   traffic class, next header and transport bytes (the checksum field
//!   may change only between the two encodings of zero), Hop Limit - 2;
//! - with offloads (the TCP or UDP checksum made partial, a segment size
//!   from the input): never an ICMP error or fragments, a super-packet
//!   only of TCP; the translated partial checksum, completed as the kernel
//!   would, verifies, and the transport bytes are the plain translation's.

use sixgate::nat64::xlat::{Outcome, Translator};

use crate::xlat::{
    assert_offload_outcome, assert_same_but_checksum, checksum_at, complete, make_partial, mapping,
    offload_of, out_buf, prefix, pseudo4, pseudo6, seal, translators, verifies, V4, V6,
};

/// Runs the checks above on `data`; panics if one fails.
pub fn check(data: &[u8]) {
    let (mut plain, mut wide) = translators();
    let mut out = out_buf();
    let o = plain.translate_6to4(&mut mapping(), data, &mut out);
    check_outcome(&o, &out, data);
    if let Some(pkt) = normalize(data) {
        let o = plain.translate_6to4(&mut mapping(), &pkt, &mut out);
        check_outcome(&o, &out, &pkt);
        let o = wide.translate_6to4(&mut mapping(), &pkt, &mut out);
        check_outcome(&o, &out, &pkt);
        round_trip(&o, &out, &pkt, &mut wide);
        offloaded(data, &pkt, &mut plain);
        offloaded(data, &pkt, &mut wide);
    }
}

/// The offload invariants above, for the normalized packet `pkt`.
fn offloaded(data: &[u8], pkt: &[u8], x: &mut Translator) {
    let v6 = V6(pkt);
    let next = v6.next();
    let off = offload_of(data);
    let at = checksum_at(next).filter(|_| next == 6 || next == 17);
    let mut p = pkt.to_vec();
    if let Some(at) = at {
        let pseudo = pseudo6(v6.src(), v6.dst(), v6.payload_len(), next);
        make_partial(&mut p[40..], at, &pseudo);
    }
    let mut out = out_buf();
    let o = x.translate_6to4_offload(&mut mapping(), &p, off, &mut out);
    assert_offload_outcome(&o, next, off);
    let (Outcome::Translated { len }, Some(at)) = (o, at) else {
        return;
    };
    let v4 = V4(&out[..len]);
    v4.assert_valid(len);
    let mut l4 = v4.l4().to_vec();
    complete(&mut l4, at);
    assert!(
        verifies(&pseudo4(v4.src(), v4.dst(), l4.len(), next), &l4),
        "a completed partial checksum verifies"
    );
    let mut plain = out_buf();
    if let Outcome::Translated { len } = x.translate_6to4(&mut mapping(), pkt, &mut plain) {
        assert_same_but_checksum(V4(&plain[..len]).l4(), &l4, at);
    }
}

/// `data` as an IPv6 packet that passes the first checks, or `None` if it
/// is too short to be one.
pub fn normalize(data: &[u8]) -> Option<Vec<u8>> {
    let payload = data.len().checked_sub(40)?;
    let payload = u16::try_from(payload).ok()?;
    let mut pkt = data.to_vec();
    pkt[0] = 0x60 | (pkt[0] & 0x0f);
    pkt[4..6].copy_from_slice(&payload.to_be_bytes());
    let p = prefix().network().octets();
    pkt[8..20].copy_from_slice(&p[..12]);
    pkt[24..36].copy_from_slice(&p[..12]);
    let v6 = V6(&pkt);
    let (src, dst, next) = (v6.src(), v6.dst(), v6.next());
    if let Some(at) = checksum_at(next).filter(|_| next != 1) {
        seal(
            &mut pkt[40..],
            at,
            &pseudo6(src, dst, usize::from(payload), next),
        );
    }
    Some(pkt)
}

fn check_outcome(o: &Outcome, out: &[u8], input: &[u8]) {
    crate::xlat::assert_reply_v6(o, out);
    match *o {
        Outcome::Translated { len } => {
            assert!(len <= out.len());
            let v4 = V4(&out[..len]);
            v4.assert_valid(len);
            let inp = V6(input);
            assert_eq!(v4.ttl(), inp.hop() - 1, "TTL = Hop Limit - 1");
            let next = inp.next();
            // Only a transport header right after the IPv6 header is
            // compared (extension headers would need a walk).
            let direct = next == v4.proto() || (next == 58 && v4.proto() == 1);
            if !direct || v4.is_fragment() {
                return;
            }
            let in_ok = verifies(
                &pseudo6(inp.src(), inp.dst(), inp.payload_len(), next),
                inp.payload(),
            );
            match v4.proto() {
                1 => {
                    let ty = v4.l4()[0];
                    if ty == 0 || ty == 8 {
                        assert_eq!(verifies(&[], v4.l4()), in_ok, "echo checksum validity kept");
                    } else {
                        assert!(verifies(&[], v4.l4()), "a translated ICMP error verifies");
                    }
                }
                6 | 17 => {
                    if next == 17 && inp.payload().get(6..8) == Some(&[0, 0]) {
                        return; // no checksum
                    }
                    let out_ok = verifies(
                        &pseudo4(v4.src(), v4.dst(), v4.l4().len(), v4.proto()),
                        v4.l4(),
                    );
                    assert_eq!(out_ok, in_ok, "transport checksum validity kept");
                }
                _ => {}
            }
        }
        Outcome::Fragmented { .. } => panic!("6 -> 4 never fragments"),
        Outcome::Reply { len, .. } => assert!(len <= out.len()),
        Outcome::Drop(_) => {}
    }
}

fn round_trip(o: &Outcome, out: &[u8], input: &[u8], wide: &mut Translator) {
    let Outcome::Translated { len } = *o else {
        return;
    };
    let v4 = V4(&out[..len]);
    let inp = V6(input);
    let next = inp.next();
    let direct = next == v4.proto() || (next == 58 && v4.proto() == 1);
    if !direct || v4.is_fragment() || v4.ttl() < 2 {
        return;
    }
    if matches!(next, 2 | 135 | 139 | 140 | 253 | 254) {
        return; // IGMP and IPv6 extension numbers: copied to IPv4, refused back
    }
    if v4.proto() == 1 && !matches!(v4.l4().first(), Some(0 | 8)) {
        return; // an ICMP error: its outer source comes from the mapping
    }
    if next == 17 && inp.payload().get(6..8) == Some(&[0, 0]) {
        return; // a zero UDP checksum is computed on the way back
    }
    let mut back = out_buf();
    let o = wide.translate_4to6(&mut mapping(), &out[..len], &mut back);
    let Outcome::Translated { len } = o else {
        panic!("round trip gave {o:?}")
    };
    let b = V6(&back[..len]);
    b.assert_valid(len);
    assert_eq!((b.src(), b.dst()), (inp.src(), inp.dst()), "addresses");
    assert_eq!(b.next(), next, "next header");
    assert_eq!(b.hop(), inp.hop() - 2, "hop limit");
    let tc = |p: &[u8]| (p[0] << 4) | (p[1] >> 4);
    assert_eq!(tc(&back), tc(input), "traffic class");
    let (x, y) = (b.payload(), inp.payload());
    assert_eq!(x.len(), y.len(), "payload length");
    match checksum_at(next).filter(|&at| x.len() >= at + 2) {
        Some(at) => {
            assert_eq!(&x[..at], &y[..at]);
            assert_eq!(&x[at + 2..], &y[at + 2..]);
            let (cx, cy) = ([x[at], x[at + 1]], [y[at], y[at + 1]]);
            let zero = |c: [u8; 2]| c == [0, 0] || c == [0xff, 0xff];
            assert!(
                cx == cy || (zero(cx) && zero(cy)),
                "checksum {cx:?} vs {cy:?}"
            );
        }
        None => assert_eq!(x, y, "payload"),
    }
}
