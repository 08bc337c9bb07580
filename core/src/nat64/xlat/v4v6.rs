//! RFC 7915 §4: IPv4 to IPv6.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::icmp_tables::{self as tables, v4, v6, Finish, Header};
use super::v6v4::{head_len, packet_flow, quoted_flow};
use super::wire::{
    self, be16, emit_fragment, finish, fold, proto, pseudo6, put16, sum, sum4, sum6, Fragment,
    Ipv4Packet, Ipv4Repr, Ipv6Repr, Strictness, Writer, FRAGMENT_HEADER, IPV4_HEADER, IPV6_HEADER,
};
use super::{
    parts_len, put_range, split_4884, Flow, Mapping, Offload, Outcome, Proto, Reason, Translator,
    Unmapped, ZeroChecksum, ICMPV4_ERROR_MAX, ICMPV6_ERROR_MAX, IPV6_MIN_MTU,
};

/// The longest transport header prefix the translator rewrites.
const HEAD_MAX: usize = 20;

pub(super) fn translate<M: Mapping + ?Sized>(
    x: &mut Translator,
    map: &mut M,
    packet: &[u8],
    off: Offload,
    out: &mut [u8],
) -> Result<Outcome, Reason> {
    let ip = Ipv4Packet::parse(packet, Strictness::Packet)?;
    // Transport headers for the offloads' segment length.
    let offload_headers = if off.is_some() {
        offload_check(x, &ip, off)?
    } else {
        0
    };
    // The packet without link padding, as quoted in an error.
    let whole = packet.get(..usize::from(ip.total_len())).unwrap_or(packet);
    let first = ip.frag_offset() == 0;
    let icmp_type = (ip.protocol() == proto::ICMP && first)
        .then(|| ip.payload.first().copied())
        .flatten();
    let is_error = icmp_type.is_some_and(v4::is_error);
    // RFC 1812 §4.3.2.7: no error about an error, a later fragment, or to
    // or from a broadcast, multicast or unspecified address.
    let unicast = |a: Ipv4Addr| !a.is_unspecified() && !a.is_broadcast() && !a.is_multicast();
    let may_reply = x.config.icmp_errors
        && first
        && !is_error
        && unicast(ip.src())
        && !ip.dst().is_broadcast()
        && !ip.dst().is_multicast();
    let reply = |x: &mut Translator, reason, h, out: &mut [u8]| {
        if may_reply {
            reply4(x, reason, h, whole, ip.src(), out)
        } else {
            Err(reason)
        }
    };

    // RFC 7915 §4.1 Hop Limit: a router decrements and checks.
    if ip.ttl() <= 1 {
        let h = Header {
            ty: v4::TIME_EXCEEDED,
            code: 0,
            rest: [0; 4],
        };
        return reply(x, Reason::HopLimit, h, out);
    }
    // RFC 7915 §4.1: options are ignored, but an unexpired source route
    // is refused.
    if ip.has_unexpired_source_route()? {
        let h = Header {
            ty: v4::DEST_UNREACHABLE,
            code: v4::CODE_SOURCE_ROUTE_FAILED,
            rest: [0; 4],
        };
        return reply(x, Reason::SourceRoute, h, out);
    }
    match ip.protocol() {
        proto::ICMP => {
            if ip.is_fragment() {
                return Err(Reason::IcmpFragment);
            }
            let ty = icmp_type.ok_or(Reason::Truncated)?;
            if is_error {
                return error(x, map, &ip, out);
            }
            // RFC 7915 §4.2: only Echo and Echo Reply have counterparts.
            if ty != v4::ECHO_REQUEST && ty != v4::ECHO_REPLY {
                return Err(Reason::IcmpInformational);
            }
        }
        // RFC 7915 §4.2: IGMP is single-hop.
        proto::IGMP => return Err(Reason::SingleHop),
        proto::ICMPV6 => return Err(Reason::ForeignIcmp),
        p if p != proto::AH && proto::is_extension_not_esp(p) => {
            return Err(Reason::ExtensionProtocol)
        }
        _ => {}
    }

    // The transport header, and the flow it names.
    let l4 = ip.payload;
    let p = Proto::from_v4(ip.protocol());
    let head_len = if first { head_len(p) } else { 0 };
    let src_head = l4.get(..head_len).ok_or(Reason::Truncated)?;
    let (flow, meta) = packet_flow(
        p,
        (ip.src(), ip.dst()),
        src_head,
        icmp_type,
        ip.is_fragment(),
    );
    let m = match map.map_4to6(&flow, &meta) {
        Ok(m) => m,
        Err(Unmapped {
            reason,
            unreachable: Some(code),
        }) => {
            let h = Header {
                ty: v4::DEST_UNREACHABLE,
                code,
                rest: [0; 4],
            };
            return reply(x, reason, h, out);
        }
        Err(u) => return Err(u.reason),
    };
    let mut head = [0u8; HEAD_MAX];
    let head = head.get_mut(..head_len).ok_or(Reason::Truncated)?;
    head.copy_from_slice(src_head);
    let tail = l4.get(head_len..).unwrap_or_default();
    rewrite_head(p, head, &flow, &m, l4.len(), m.dst_port);
    if off.partial_checksum {
        let at = if p == Proto::Tcp { 16 } else { 6 };
        if let Some(c) = be16(src_head, at) {
            let c = Offload::partial(
                c,
                sum4(flow.src).wrapping_add(sum4(flow.dst)),
                sum6(m.src).wrapping_add(sum6(m.dst)),
            );
            put16(head, at, c);
        }
    } else if p == Proto::Udp && be16(head, 6) == Some(0) {
        // RFC 7915 §4.5: UDP without a checksum gets one, or is dropped.
        if x.config.udp_zero_checksum == ZeroChecksum::Drop || ip.is_fragment() {
            return Err(Reason::UdpZeroChecksum);
        }
        let c = finish(
            pseudo6(m.src, m.dst, l4.len(), proto::UDP)
                .wrapping_add(sum(head))
                .wrapping_add(sum(tail)),
        );
        put16(head, 6, if c == 0 { 0xffff } else { c });
    }

    // RFC 7915 §4.1: the IPv6 header, and a Fragment Header only for a
    // fragment or a DF=0 packet longer than lowest-ipv6-mtu (RFC 8021: no
    // atomic fragments).
    let len = l4.len();
    let lowest = usize::from(x.config.lowest_ipv6_mtu);
    let traffic_class = x.config.traffic_class.apply(ip.tos());
    // ttl >= 2 here.
    let hop_limit = ip.ttl().saturating_sub(1);
    let next = v6_protocol(ip.protocol());
    let parts: [&[u8]; 2] = [head, tail];
    // With offloads the rules apply to each segment.
    let unit = off.segment_len(
        IPV6_HEADER.saturating_add(len),
        IPV6_HEADER.saturating_add(offload_headers),
    );
    let needs_fragment = ip.is_fragment() || (!ip.df() && unit > lowest);
    let mut w = Writer::new(out);
    if !needs_fragment {
        if unit > usize::from(x.config.ipv6_mtu) {
            // DF set: Fragmentation Needed, in IPv4 terms (RFC 1191 §4).
            let mtu = x.config.ipv6_mtu.saturating_sub(20);
            let h = Header {
                ty: v4::DEST_UNREACHABLE,
                code: v4::CODE_FRAGMENTATION_NEEDED,
                rest: [0, 0, (mtu >> 8) as u8, mtu as u8],
            };
            return reply(x, Reason::TooBig, h, out);
        }
        let repr = Ipv6Repr {
            traffic_class,
            payload_len: u16::try_from(len).map_err(|_| Reason::TooBig)?,
            next_header: next,
            hop_limit,
            src: m.src,
            dst: m.dst,
        };
        w.put(&repr.emit())?;
        put_range(&mut w, &parts, 0, len)?;
        return Ok(Outcome::Translated { len: w.pos() });
    }

    // RFC 7915 §4.1.1: Fragment Headers; cut to lowest-ipv6-mtu.
    let overhead = IPV6_HEADER + FRAGMENT_HEADER;
    let chunk = if overhead.saturating_add(len) <= lowest {
        len.max(1)
    } else {
        // lowest >= 1280, so the chunk is at least 1232 bytes.
        lowest.saturating_sub(overhead) & !7
    };
    let count = len.div_ceil(chunk).max(1); // at most 54
    for i in 0..count {
        let start = i.saturating_mul(chunk);
        let n = chunk.min(len.saturating_sub(start));
        let offset = usize::from(ip.frag_offset()).saturating_add(start / 8);
        if offset > 0x1fff {
            return Err(Reason::FragmentOffset);
        }
        let f = Fragment {
            offset: offset as u16, // at most 0x1fff
            more: i.saturating_add(1) < count || ip.mf(),
            ident: u32::from(ip.ident()),
        };
        let repr = Ipv6Repr {
            traffic_class,
            payload_len: u16::try_from(n.saturating_add(FRAGMENT_HEADER))
                .map_err(|_| Reason::TooBig)?,
            next_header: proto::FRAGMENT,
            hop_limit,
            src: m.src,
            dst: m.dst,
        };
        w.put(&repr.emit())?;
        w.put(&emit_fragment(next, f))?;
        put_range(&mut w, &parts, start, n)?;
    }
    if count == 1 {
        Ok(Outcome::Translated { len: w.pos() })
    } else {
        Ok(Outcome::Fragmented {
            len: w.pos(),
            chunk: overhead.saturating_add(chunk),
        })
    }
}

/// Whether `ip`'s offloads survive translation (see [`Reason::Offload`]):
/// TCP or UDP without IPv4 options, a hop to go, and segments that fit
/// the IPv6 MTU without fragmenting (DF set, or within lowest-ipv6-mtu).
/// Checked before the mapping is asked, so a refused packet has changed
/// nothing. Returns the length of the transport header.
fn offload_check(x: &Translator, ip: &Ipv4Packet<'_>, off: Offload) -> Result<usize, Reason> {
    let Some(transport) = off.transport(ip.protocol(), ip.payload) else {
        return Err(Reason::Offload);
    };
    let total = IPV6_HEADER.saturating_add(ip.payload.len());
    let unit = off.segment_len(total, IPV6_HEADER.saturating_add(transport));
    let limit = if ip.df() {
        x.config.ipv6_mtu
    } else {
        x.config.lowest_ipv6_mtu
    };
    if !off.partial_checksum
        || ip.is_fragment()
        || !ip.options.is_empty()
        || ip.ttl() <= 1
        || unit > usize::from(limit)
    {
        return Err(Reason::Offload);
    }
    Ok(transport)
}

/// RFC 7915 §4.1 Next Header: ICMPv4 becomes ICMPv6, the rest is copied.
fn v6_protocol(p: u8) -> u8 {
    if p == proto::ICMP {
        proto::ICMPV6
    } else {
        p
    }
}

/// Rewrites the transport header prefix `head` of an IPv4 packet (or a
/// quoted one) for IPv6: ports, or echo type and identifier (`new_id`),
/// and the checksum by RFC 1624 where `head` holds it; `old` and `new` are
/// in header order; `icmp_len` is the ICMPv6 length for the pseudo-header
/// the ICMPv6 checksum gains. A zero UDP checksum is left to the caller.
fn rewrite_head(
    p: Proto,
    head: &mut [u8],
    old: &Flow<Ipv4Addr>,
    new: &Flow<Ipv6Addr>,
    icmp_len: usize,
    new_id: u16,
) {
    match p {
        Proto::Tcp | Proto::Udp => {
            put16(head, 0, new.src_port);
            put16(head, 2, new.dst_port);
            let at = if p == Proto::Tcp { 16 } else { 6 };
            let Some(c) = be16(head, at) else { return };
            if p == Proto::Udp && c == 0 {
                return;
            }
            let before = sum4(old.src)
                .wrapping_add(sum4(old.dst))
                .wrapping_add(u64::from(old.src_port))
                .wrapping_add(u64::from(old.dst_port));
            let after = sum6(new.src)
                .wrapping_add(sum6(new.dst))
                .wrapping_add(u64::from(new.src_port))
                .wrapping_add(u64::from(new.dst_port));
            let mut c = wire::adjust(c, before, after);
            if p == Proto::Udp && c == 0 {
                c = 0xffff; // RFC 8200 §8.1: a computed zero is sent as all ones
            }
            put16(head, at, c);
        }
        Proto::Icmp => {
            let (Some(&ty), Some(&code)) = (head.first(), head.get(1)) else {
                return;
            };
            let new_ty = if ty == v4::ECHO_REQUEST {
                v6::ECHO_REQUEST
            } else {
                v6::ECHO_REPLY
            };
            let old_id = be16(head, 4).unwrap_or(0);
            if let Some(h) = head.first_mut() {
                *h = new_ty;
            }
            put16(head, 4, new_id);
            let Some(c) = be16(head, 2) else { return };
            let before = u64::from(u16::from_be_bytes([ty, code])).wrapping_add(u64::from(old_id));
            let after = pseudo6(new.src, new.dst, icmp_len, proto::ICMPV6)
                .wrapping_add(u64::from(u16::from_be_bytes([new_ty, code])))
                .wrapping_add(u64::from(new_id));
            put16(head, 2, wire::adjust(c, before, after));
        }
        Proto::Other(_) => {}
    }
}

/// RFC 7915 §4.4, RFC 1812 §4.3.2.3: an ICMPv4 error about `packet`, sent
/// to `to` from the configured source, quoting as much as fits 576 bytes.
fn reply4(
    x: &mut Translator,
    reason: Reason,
    h: Header,
    packet: &[u8],
    to: Ipv4Addr,
    out: &mut [u8],
) -> Result<Outcome, Reason> {
    let src = x.config.icmp_source_v4;
    reply4_from(x, reason, h, packet, src, to, out)
}

/// An ICMPv4 error from `src` to `to` quoting `packet` (cut to fit 576
/// bytes).
pub(super) fn reply4_from(
    x: &mut Translator,
    reason: Reason,
    h: Header,
    packet: &[u8],
    src: Ipv4Addr,
    to: Ipv4Addr,
    out: &mut [u8],
) -> Result<Outcome, Reason> {
    let room = ICMPV4_ERROR_MAX.saturating_sub(IPV4_HEADER + 8);
    let quoted = packet.get(..room).unwrap_or(packet);
    let icmp_len = 8usize.saturating_add(quoted.len()); // at most 556
    let mut icmp = [
        h.ty, h.code, 0, 0, h.rest[0], h.rest[1], h.rest[2], h.rest[3],
    ];
    let c = !fold(sum(&icmp).wrapping_add(sum(quoted)));
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let repr = Ipv4Repr {
        tos: 0,
        total_len: u16::try_from(IPV4_HEADER.saturating_add(icmp_len))
            .map_err(|_| Reason::TooBig)?,
        ident: x.ids.next(src, to, proto::ICMP),
        df: false,
        mf: false,
        frag_offset: 0,
        ttl: 64,
        protocol: proto::ICMP,
        src,
        dst: to,
    };
    let mut w = Writer::new(out);
    w.put(&repr.emit())?;
    w.put(&icmp)?;
    w.put(quoted)?;
    Ok(Outcome::Reply {
        len: w.pos(),
        reason,
    })
}

/// RFC 7915 §4.2, §4.3: an ICMPv4 error, with the packet it quotes, to
/// ICMPv6.
fn error<M: Mapping + ?Sized>(
    x: &mut Translator,
    map: &mut M,
    ip: &Ipv4Packet<'_>,
    out: &mut [u8],
) -> Result<Outcome, Reason> {
    let msg = ip.payload;
    if fold(sum(msg)) != 0xffff {
        return Err(Reason::IcmpChecksum);
    }
    let hdr: &[u8; 8] = msg.first_chunk().ok_or(Reason::Truncated)?;
    let mut mapped = tables::error_4to6(hdr[0], hdr[1], [hdr[4], hdr[5], hdr[6], hdr[7]])?;
    let body = msg.get(8..).unwrap_or_default();
    // RFC 4884 §4: Destination Unreachable, Time Exceeded and Parameter
    // Problem carry the original datagram's length in 32-bit words.
    let words = if matches!(
        hdr[0],
        v4::DEST_UNREACHABLE | v4::TIME_EXCEEDED | v4::PARAMETER_PROBLEM
    ) {
        hdr[5]
    } else {
        0
    };
    let (original, extension) = split_4884(body, words, 4);

    // The quoted packet, read like any IPv4 packet but cut short.
    let inner = Ipv4Packet::parse(original, Strictness::Quoted).map_err(|_| Reason::IcmpQuoted)?;
    let inner_first = inner.frag_offset() == 0;
    let p = Proto::from_v4(inner.protocol());
    if inner.protocol() == proto::ICMPV6 {
        return Err(Reason::ForeignIcmp);
    }
    if inner.protocol() != proto::AH && proto::is_extension_not_esp(inner.protocol()) {
        return Err(Reason::ExtensionProtocol);
    }
    let l4 = inner.payload;
    let (src_head, quoted, meta) = quoted_flow(
        p,
        l4,
        inner_first,
        inner.is_fragment(),
        (inner.src(), inner.dst()),
        (v4::is_error, [v4::ECHO_REQUEST, v4::ECHO_REPLY]),
    )?;
    let head_len = src_head.len();
    // Map the quoted packet reversed: as the error travels.
    let m = map
        .map_4to6(&quoted.reversed(), &meta)
        .map_err(|u| u.reason)?;
    let error_src = map
        .error_source_4to6(ip.src(), &m)
        .ok_or(Reason::Unmapped)?;
    let error_dst = m.dst;
    let new_inner = m.reversed();
    let mut head = [0u8; HEAD_MAX];
    let head = head.get_mut(..head_len).ok_or(Reason::IcmpQuoted)?;
    head.copy_from_slice(src_head);
    let inner_l4_len = usize::from(inner.total_len()).saturating_sub(inner.header_len());
    // The echo identifier is the mapping's IPv6-side port: its dst_port.
    rewrite_head(p, head, &quoted, &new_inner, inner_l4_len, m.dst_port);

    let frag = inner.is_fragment().then(|| Fragment {
        offset: inner.frag_offset(),
        more: inner.mf(),
        ident: u32::from(inner.ident()),
    });
    let frag_len = if frag.is_some() { FRAGMENT_HEADER } else { 0 };
    let inner_repr = Ipv6Repr {
        traffic_class: x.config.traffic_class.apply(inner.tos()),
        payload_len: u16::try_from(inner_l4_len.saturating_add(frag_len)).unwrap_or(u16::MAX),
        next_header: if frag.is_some() {
            proto::FRAGMENT
        } else {
            v6_protocol(inner.protocol())
        },
        hop_limit: inner.ttl(), // RFC 7915 §4.3: not decremented
        src: new_inner.src,
        dst: new_inner.dst,
    };
    let inner_hdr = inner_repr.emit();
    let frag_hdr = frag.map(|f| emit_fragment(v6_protocol(inner.protocol()), f));
    let parts: [&[u8]; 4] = [
        &inner_hdr,
        frag_hdr.as_ref().map_or(&[][..], |f| &f[..]),
        head,
        l4.get(head_len..).unwrap_or_default(),
    ];
    let inner_len = parts_len(&parts);

    // RFC 7915 §4.2 Fragmentation Needed: minimum(MTU + 20, IPv6 next hop,
    // IPv4 next hop + 20), the RFC 1191 plateau when the MTU is zero, and
    // never below 1280 (§6).
    if mapped.finish == Finish::Mtu {
        let mut mtu4 = u16::from_be_bytes([hdr[6], hdr[7]]);
        if mtu4 == 0 {
            mtu4 = tables::plateau(inner.total_len());
        }
        let mtu = (u32::from(mtu4).saturating_add(20))
            .min(u32::from(x.config.ipv6_mtu))
            .min(u32::from(x.config.ipv4_mtu).saturating_add(20))
            .max(u32::from(IPV6_MIN_MTU));
        mapped.header.rest = mtu.to_be_bytes();
    }
    // The body: the quoted packet, and an RFC 4884 extension if it fits.
    let room = ICMPV6_ERROR_MAX.saturating_sub(IPV6_HEADER + 8);
    let (keep, pad, ext) = match (extension, mapped.length_at) {
        (Some(ext), Some(at)) => {
            // §5: zero-padded to 64 bits and at least 128 bytes.
            let padded = inner_len.next_multiple_of(8).max(128);
            if padded.saturating_add(ext.len()) <= room {
                if let Some(l) = mapped.header.rest.get_mut(at) {
                    *l = u8::try_from(padded / 8).unwrap_or(0);
                }
                (inner_len, padded.saturating_sub(inner_len), ext)
            } else {
                (inner_len.min(room), 0, &[][..])
            }
        }
        _ => (inner_len.min(room), 0, &[][..]),
    };
    let icmp_len = 8usize
        .saturating_add(keep)
        .saturating_add(pad)
        .saturating_add(ext.len()); // at most 1240
    let outer = Ipv6Repr {
        traffic_class: x.config.traffic_class.apply(ip.tos()),
        payload_len: u16::try_from(icmp_len).map_err(|_| Reason::TooBig)?,
        next_header: proto::ICMPV6,
        // The caller checked ttl >= 2.
        hop_limit: ip.ttl().saturating_sub(1),
        src: error_src,
        dst: error_dst,
    };
    let h = mapped.header;
    let mut w = Writer::new(out);
    w.put(&outer.emit())?;
    let start = w.pos();
    w.put(&[h.ty, h.code, 0, 0])?;
    w.put(&h.rest)?;
    put_range(&mut w, &parts, 0, keep)?;
    w.zeros(pad)?;
    w.put(ext)?;
    let icmp = w.written_mut(start);
    let c = !fold(pseudo6(error_src, error_dst, icmp_len, proto::ICMPV6).wrapping_add(sum(icmp)));
    put16(icmp, 2, c);
    Ok(Outcome::Translated { len: w.pos() })
}
