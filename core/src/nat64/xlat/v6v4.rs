//! RFC 7915 §5: IPv6 to IPv4.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::icmp_tables::{self as tables, v6, Finish, Header};
use super::wire::{
    self, be16, fold, proto, pseudo6, put16, sum, sum4, sum6, Ipv4Repr, Ipv6Packet, Ipv6Repr,
    Strictness, Writer, IPV4_HEADER, IPV6_HEADER,
};
use super::{
    put_range, split_4884, Flow, Mapping, Meta, Offload, Outcome, Proto, Reason, Role, Translator,
    Unmapped, DF_THRESHOLD, ICMPV4_ERROR_MAX, ICMPV6_ERROR_MAX, IPV6_MIN_MTU,
};

/// The longest transport header prefix the translator rewrites: TCP's
/// fixed header (ports and checksum).
const HEAD_MAX: usize = 20;

pub(super) fn translate<M: Mapping + ?Sized>(
    x: &mut Translator,
    map: &mut M,
    packet: &[u8],
    off: Offload,
    out: &mut [u8],
) -> Result<Outcome, Reason> {
    let ip = Ipv6Packet::parse(packet, Strictness::Packet)?;
    // Transport headers for the offloads' segment length.
    let offload_headers = if off.is_some() {
        offload_check(x, &ip, off)?
    } else {
        0
    };
    // The packet without link padding, as quoted in an error.
    let whole = packet
        .get(..IPV6_HEADER.saturating_add(usize::from(ip.payload_len())))
        .unwrap_or(packet);
    let first = !ip.is_later_fragment();
    let icmp_type = (ip.protocol == proto::ICMPV6 && first)
        .then(|| ip.payload.first().copied())
        .flatten();
    let is_error = icmp_type.is_some_and(v6::is_error);
    // RFC 4443 §2.4(e): no error about an error, a later fragment, or to
    // or from a multicast or unspecified address.
    let may_reply = x.config.icmp_errors
        && first
        && !is_error
        && !ip.src().is_multicast()
        && !ip.src().is_unspecified()
        && !ip.dst().is_multicast();
    let reply = |x: &mut Translator, reason, h, out: &mut [u8]| {
        if may_reply {
            reply6(x, reason, h, whole, ip.src(), out)
        } else {
            Err(reason)
        }
    };

    // RFC 7915 §5.1 Time to Live: a router decrements and checks.
    if ip.hop_limit() <= 1 {
        let h = Header {
            ty: v6::TIME_EXCEEDED,
            code: 0,
            rest: [0; 4],
        };
        return reply(x, Reason::HopLimit, h, out);
    }
    // RFC 7915 §5.1: Routing Header with Segments Left not zero.
    if let Some(at) = ip.segments_left_at {
        let h = Header {
            ty: v6::PARAMETER_PROBLEM,
            code: 0,
            rest: at.to_be_bytes(),
        };
        return reply(x, Reason::SegmentsLeft, h, out);
    }
    if ip.protocol == proto::ICMP {
        return Err(Reason::ForeignIcmp);
    }
    if ip.protocol == proto::ICMPV6 {
        if ip.fragment.is_some_and(|f| f.offset != 0 || f.more) {
            return Err(Reason::IcmpFragment);
        }
        let ty = icmp_type.ok_or(Reason::Truncated)?;
        if is_error {
            return error(x, map, &ip, out);
        }
        // RFC 7915 §5.2: only Echo Request and Reply have counterparts;
        // MLD, Neighbor Discovery and unknown informational types drop.
        if ty != v6::ECHO_REQUEST && ty != v6::ECHO_REPLY {
            return Err(Reason::IcmpInformational);
        }
    }

    // The transport header, and the flow it names.
    let l4 = ip.payload;
    let p = Proto::from_v6(ip.protocol);
    let head_len = if first { head_len(p) } else { 0 };
    let src_head = l4.get(..head_len).ok_or(Reason::Truncated)?;
    let (flow, meta) = packet_flow(
        p,
        (ip.src(), ip.dst()),
        src_head,
        icmp_type,
        ip.fragment.is_some(),
    );
    let m = match map.map_6to4(&flow, &meta) {
        Ok(m) => m,
        Err(Unmapped {
            reason,
            unreachable: Some(code),
        }) => {
            let h = Header {
                ty: v6::DEST_UNREACHABLE,
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
    rewrite_head(p, head, &flow, &m, l4.len());
    if p == Proto::Icmp && ip.fragment.is_none() {
        icmp4_positive_zero(head, l4.get(head.len()..).unwrap_or_default());
    }

    if off.partial_checksum {
        if let Some(c) = be16(src_head, if p == Proto::Tcp { 16 } else { 6 }) {
            let c = Offload::partial(
                c,
                sum6(flow.src).wrapping_add(sum6(flow.dst)),
                sum4(m.src).wrapping_add(sum4(m.dst)),
            );
            put16(head, if p == Proto::Tcp { 16 } else { 6 }, c);
        }
    }

    // RFC 7915 §5.1, §5.1.1: the IPv4 header. With offloads the DF rule
    // and the MTU apply to each segment.
    let total = IPV4_HEADER.saturating_add(l4.len());
    let unit = off.segment_len(total, IPV4_HEADER.saturating_add(offload_headers));
    let df = ip.fragment.is_none() && unit > DF_THRESHOLD;
    if unit > usize::from(x.config.ipv4_mtu) {
        if df {
            // §5.1.1: DF set and too big: Packet Too Big, in IPv6 terms.
            let mtu = u32::from(x.config.ipv4_mtu)
                .saturating_add(20)
                .max(u32::from(IPV6_MIN_MTU));
            let h = Header {
                ty: v6::PACKET_TOO_BIG,
                code: 0,
                rest: mtu.to_be_bytes(),
            };
            return reply(x, Reason::TooBig, h, out);
        }
        // DF clear: IPv4 routers may fragment it, but it must fit IPv4.
        if total > usize::from(u16::MAX) {
            return Err(Reason::TooBig);
        }
    }
    let ident = match ip.fragment {
        Some(f) => f.ident as u16, // RFC 7915 §5.1.1: the low-order 16 bits
        None => x.ids.next(m.src, m.dst, ip.protocol),
    };
    let repr = Ipv4Repr {
        tos: x.config.tos.apply(ip.traffic_class()),
        total_len: u16::try_from(total).map_err(|_| Reason::TooBig)?,
        ident,
        df,
        mf: ip.fragment.is_some_and(|f| f.more),
        frag_offset: ip.fragment.map_or(0, |f| f.offset),
        // hop_limit >= 2 here.
        ttl: ip.hop_limit().saturating_sub(1),
        protocol: v4_protocol(ip.protocol),
        src: m.src,
        dst: m.dst,
    };
    let mut w = Writer::new(out);
    w.put(&repr.emit())?;
    w.put(head)?;
    w.put(l4.get(head_len..).unwrap_or_default())?;
    Ok(Outcome::Translated { len: w.pos() })
}

/// Whether `ip`'s offloads survive translation (see [`Reason::Offload`]):
/// a TCP or UDP packet without extension headers, a hop to go, and
/// segments that fit the IPv4 MTU. Checked before the mapping is asked,
/// so a refused packet has changed nothing. Returns the length of the
/// transport header.
fn offload_check(x: &Translator, ip: &Ipv6Packet<'_>, off: Offload) -> Result<usize, Reason> {
    let Some(transport) = off.transport(ip.protocol, ip.payload) else {
        return Err(Reason::Offload);
    };
    let total = IPV4_HEADER.saturating_add(ip.payload.len());
    let unit = off.segment_len(total, IPV4_HEADER.saturating_add(transport));
    if !off.partial_checksum
        || ip.fragment.is_some()
        || ip.ext_len != 0
        || ip.hop_limit() <= 1
        || unit > usize::from(x.config.ipv4_mtu)
        || total > usize::from(u16::MAX)
    {
        return Err(Reason::Offload);
    }
    Ok(transport)
}

/// RFC 7915 §5.1 Protocol: ICMPv6 becomes ICMPv4, the rest is copied.
fn v4_protocol(p: u8) -> u8 {
    if p == proto::ICMPV6 {
        proto::ICMP
    } else {
        p
    }
}

/// How much of the transport header is rewritten.
pub(super) fn head_len(p: Proto) -> usize {
    match p {
        Proto::Tcp => 20,
        Proto::Udp | Proto::Icmp => 8,
        Proto::Other(_) => 0,
    }
}

/// How much of a quoted transport header must be present to map it: the
/// ports, or the whole echo header (RFC 792 quotes 8 bytes).
pub(super) fn needed_head(p: Proto) -> usize {
    match p {
        Proto::Tcp | Proto::Udp => 4,
        Proto::Icmp => 8,
        Proto::Other(_) => 0,
    }
}

/// The ports of a transport header prefix (the echo identifier, twice,
/// for ICMP); zeros when absent.
pub(super) fn ports(p: Proto, head: &[u8]) -> (u16, u16) {
    match p {
        Proto::Tcp | Proto::Udp => (be16(head, 0).unwrap_or(0), be16(head, 2).unwrap_or(0)),
        Proto::Icmp => {
            let id = be16(head, 4).unwrap_or(0);
            (id, id)
        }
        Proto::Other(_) => (0, 0),
    }
}

/// The flow a packet names and its [`Meta`], alike in both directions:
/// `head` is its transport header prefix (empty for a later fragment),
/// `addrs` its source and destination, `icmp_type` its ICMP type.
pub(super) fn packet_flow<A: Copy>(
    p: Proto,
    addrs: (A, A),
    head: &[u8],
    icmp_type: Option<u8>,
    fragment: bool,
) -> (Flow<A>, Meta) {
    let (src_port, dst_port) = ports(p, head);
    let flow = Flow {
        proto: p,
        src: addrs.0,
        dst: addrs.1,
        src_port,
        dst_port,
    };
    let meta = Meta {
        role: Role::Packet,
        tcp_flags: if p == Proto::Tcp {
            head.get(13).copied().unwrap_or(0)
        } else {
            0
        },
        icmp_type: if p == Proto::Icmp {
            icmp_type.unwrap_or(0)
        } else {
            0
        },
        has_ports: !head.is_empty(),
        fragment,
    };
    (flow, meta)
}

/// The transport prefix of a packet quoted in an ICMP error, its flow and
/// its [`Meta`] (RFC 7915 §4.3, §5.3), alike in both directions: only an
/// echo may be quoted as ICMP (an error about an error is dropped, RFC
/// 7915 §4.2 / §5.2), and the first fragment must hold the ports. `addrs`
/// are the quoted packet's source and destination; `icmp` is its family's
/// error test and echo request/reply types.
pub(super) fn quoted_flow<A: Copy>(
    p: Proto,
    l4: &[u8],
    first: bool,
    fragment: bool,
    addrs: (A, A),
    icmp: (fn(u8) -> bool, [u8; 2]),
) -> Result<(&[u8], Flow<A>, Meta), Reason> {
    let (is_error, echo) = icmp;
    if p == Proto::Icmp && first {
        match l4.first() {
            Some(&t) if is_error(t) => return Err(Reason::IcmpErrorInError),
            Some(t) if echo.contains(t) => {}
            _ => return Err(Reason::IcmpQuoted),
        }
    }
    let len = if first { head_len(p).min(l4.len()) } else { 0 };
    if first && len < needed_head(p) {
        return Err(Reason::IcmpQuoted);
    }
    let head = l4.get(..len).unwrap_or_default();
    let (src_port, dst_port) = ports(p, head);
    let flow = Flow {
        proto: p,
        src: addrs.0,
        dst: addrs.1,
        src_port,
        dst_port,
    };
    let meta = Meta {
        role: Role::Quoted,
        tcp_flags: 0,
        icmp_type: if p == Proto::Icmp {
            head.first().copied().unwrap_or(0)
        } else {
            0
        },
        has_ports: len > 0,
        fragment,
    };
    Ok((head, flow, meta))
}

/// Rewrites the transport header prefix `head` of an IPv6 packet (or a
/// quoted one) for IPv4: ports or echo type and identifier, and the
/// checksum by RFC 1624 where `head` holds it. `old` is the IPv6 flow as
/// the header says it, `new` the IPv4 one, both in header order;
/// `icmp_len` is the ICMPv6 message length for its pseudo-header. The new
/// echo identifier is `new.src_port`.
pub(super) fn rewrite_head(
    p: Proto,
    head: &mut [u8],
    old: &Flow<Ipv6Addr>,
    new: &Flow<Ipv4Addr>,
    icmp_len: usize,
) {
    match p {
        Proto::Tcp | Proto::Udp => {
            put16(head, 0, new.src_port);
            put16(head, 2, new.dst_port);
            let at = if p == Proto::Tcp { 16 } else { 6 };
            let Some(c) = be16(head, at) else { return };
            if p == Proto::Udp && c == 0 {
                return; // no checksum, in IPv4 as in a (tunnel) IPv6 packet
            }
            let before = sum6(old.src)
                .wrapping_add(sum6(old.dst))
                .wrapping_add(u64::from(old.src_port))
                .wrapping_add(u64::from(old.dst_port));
            let after = sum4(new.src)
                .wrapping_add(sum4(new.dst))
                .wrapping_add(u64::from(new.src_port))
                .wrapping_add(u64::from(new.dst_port));
            let mut c = wire::adjust(c, before, after);
            if p == Proto::Udp && c == 0 {
                c = 0xffff; // RFC 768: a computed zero is sent as all ones
            }
            put16(head, at, c);
        }
        Proto::Icmp => {
            let (Some(&ty), Some(&code)) = (head.first(), head.get(1)) else {
                return;
            };
            let new_ty = if ty == v6::ECHO_REQUEST {
                tables::v4::ECHO_REQUEST
            } else {
                tables::v4::ECHO_REPLY
            };
            let old_id = be16(head, 4).unwrap_or(0);
            let new_id = new.src_port;
            if let Some(h) = head.first_mut() {
                *h = new_ty;
            }
            put16(head, 4, new_id);
            let Some(c) = be16(head, 2) else { return };
            let before = pseudo6(old.src, old.dst, icmp_len, proto::ICMPV6)
                .wrapping_add(u64::from(u16::from_be_bytes([ty, code])))
                .wrapping_add(u64::from(old_id));
            let after =
                u64::from(u16::from_be_bytes([new_ty, code])).wrapping_add(u64::from(new_id));
            put16(head, 2, wire::adjust(c, before, after));
        }
        Proto::Other(_) => {}
    }
}

/// RFC 1624 §3: the incremental update gives 0x0000 (the other encoding of
/// zero) when every other word of the message is zero, and ICMPv4, unlike
/// ICMPv6, has no pseudo-header to make the sum non-zero. A receiver sums
/// such a message to 0x0000 and rejects it, so an all-zero echo message
/// gets 0xffff, its only checksum that verifies. `head` is the rewritten
/// ICMPv4 header, `rest` the rest of the message. The scan runs only when
/// the checksum came out 0x0000, and stops at the first non-zero byte.
fn icmp4_positive_zero(head: &mut [u8], rest: &[u8]) {
    if be16(head, 2) == Some(0) && head.iter().all(|&b| b == 0) && rest.iter().all(|&b| b == 0) {
        put16(head, 2, 0xffff);
    }
}

/// RFC 7915 §5.4, RFC 4443 §2.4: an ICMPv6 error about `packet`, sent to
/// `to` from the configured source, quoting as much as fits 1280 bytes.
fn reply6(
    x: &Translator,
    reason: Reason,
    h: Header,
    packet: &[u8],
    to: Ipv6Addr,
    out: &mut [u8],
) -> Result<Outcome, Reason> {
    let room = ICMPV6_ERROR_MAX.saturating_sub(IPV6_HEADER + 8);
    let quoted = packet.get(..room).unwrap_or(packet);
    let icmp_len = 8usize.saturating_add(quoted.len()); // at most 1240
    let src = x.config.icmp_source_v6;
    let mut icmp = [
        h.ty, h.code, 0, 0, h.rest[0], h.rest[1], h.rest[2], h.rest[3],
    ];
    let c = !fold(
        pseudo6(src, to, icmp_len, proto::ICMPV6)
            .wrapping_add(sum(&icmp))
            .wrapping_add(sum(quoted)),
    );
    icmp[2..4].copy_from_slice(&c.to_be_bytes());
    let repr = Ipv6Repr {
        traffic_class: 0,
        payload_len: u16::try_from(icmp_len).map_err(|_| Reason::TooBig)?,
        next_header: proto::ICMPV6,
        hop_limit: 64,
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

/// RFC 7915 §5.2, §5.3: an ICMPv6 error, with the packet it quotes, to
/// ICMPv4.
fn error<M: Mapping + ?Sized>(
    x: &mut Translator,
    map: &mut M,
    ip: &Ipv6Packet<'_>,
    out: &mut [u8],
) -> Result<Outcome, Reason> {
    let msg = ip.payload;
    if fold(pseudo6(ip.src(), ip.dst(), msg.len(), proto::ICMPV6).wrapping_add(sum(msg))) != 0xffff
    {
        return Err(Reason::IcmpChecksum);
    }
    let hdr: &[u8; 8] = msg.first_chunk().ok_or(Reason::Truncated)?;
    let mut mapped = tables::error_6to4(hdr[0], hdr[1], [hdr[4], hdr[5], hdr[6], hdr[7]])?;
    let body = msg.get(8..).unwrap_or_default();
    // RFC 4884 §4: Destination Unreachable and Time Exceeded carry the
    // original datagram's length in 64-bit words.
    let words = if hdr[0] == v6::DEST_UNREACHABLE || hdr[0] == v6::TIME_EXCEEDED {
        hdr[4]
    } else {
        0
    };
    let (original, extension) = split_4884(body, words, 8);

    // The quoted packet, read like any IPv6 packet but cut short.
    let inner = Ipv6Packet::parse(original, Strictness::Quoted).map_err(|_| Reason::IcmpQuoted)?;
    let inner_first = !inner.is_later_fragment();
    let p = Proto::from_v6(inner.protocol);
    if inner.protocol == proto::ICMP {
        return Err(Reason::ForeignIcmp);
    }
    let l4 = inner.payload;
    let (src_head, quoted, meta) = quoted_flow(
        p,
        l4,
        inner_first,
        inner.fragment.is_some(),
        (inner.src(), inner.dst()),
        (v6::is_error, [v6::ECHO_REQUEST, v6::ECHO_REPLY]),
    )?;
    let head_len = src_head.len();
    // Map the quoted packet reversed: as the error travels.
    let m = map
        .map_6to4(&quoted.reversed(), &meta)
        .map_err(|u| u.reason)?;
    let error_src = map
        .error_source_6to4(ip.src(), &m)
        .ok_or(Reason::Unmapped)?;
    let error_dst = m.dst;
    // In header order again; the echo identifier is the mapping's
    // IPv6-side port (its src_port), which is now dst_port.
    let mut new_inner = m.reversed();
    if p == Proto::Icmp {
        new_inner.src_port = m.src_port;
    }
    let mut head = [0u8; HEAD_MAX];
    let head = head.get_mut(..head_len).ok_or(Reason::IcmpQuoted)?;
    head.copy_from_slice(src_head);
    let icmp_len = usize::from(inner.payload_len()).saturating_sub(inner.ext_len);
    rewrite_head(p, head, &quoted, &new_inner, icmp_len);

    let inner_total = IPV4_HEADER.saturating_add(icmp_len);
    let inner_repr = Ipv4Repr {
        tos: x.config.tos.apply(inner.traffic_class()),
        total_len: u16::try_from(inner_total).unwrap_or(u16::MAX),
        ident: inner.fragment.map_or(0, |f| f.ident as u16),
        df: inner.fragment.is_none() && inner_total > DF_THRESHOLD,
        mf: inner.fragment.is_some_and(|f| f.more),
        frag_offset: inner.fragment.map_or(0, |f| f.offset),
        ttl: inner.hop_limit(), // RFC 7915 §5.3: not decremented
        protocol: v4_protocol(inner.protocol),
        src: new_inner.src,
        dst: new_inner.dst,
    };
    let inner_hdr = inner_repr.emit();
    let parts: [&[u8]; 3] = [&inner_hdr, head, l4.get(head_len..).unwrap_or_default()];
    let inner_len = super::parts_len(&parts);

    // RFC 7915 §5.2 Packet Too Big: minimum(MTU - 20, IPv4 next hop,
    // IPv6 next hop - 20).
    if mapped.finish == Finish::Mtu {
        let mtu6 = u32::from_be_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
        let mtu = mtu6
            .saturating_sub(20)
            .min(u32::from(x.config.ipv4_mtu))
            .min(u32::from(x.config.ipv6_mtu).saturating_sub(20));
        let mtu = u16::try_from(mtu).unwrap_or(u16::MAX);
        mapped.header.rest[2..4].copy_from_slice(&mtu.to_be_bytes());
    }
    // The body: the quoted packet, and an RFC 4884 extension if it fits.
    let room = ICMPV4_ERROR_MAX.saturating_sub(IPV4_HEADER + 8);
    let (keep, pad, ext) = match (extension, mapped.length_at) {
        (Some(ext), Some(at)) => {
            // §5: zero-padded to 32 bits and at least 128 bytes.
            let padded = inner_len.next_multiple_of(4).max(128);
            if padded.saturating_add(ext.len()) <= room {
                if let Some(l) = mapped.header.rest.get_mut(at) {
                    *l = u8::try_from(padded / 4).unwrap_or(0);
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
        .saturating_add(ext.len()); // at most 556
    let total = IPV4_HEADER.saturating_add(icmp_len);
    let outer = Ipv4Repr {
        tos: x.config.tos.apply(ip.traffic_class()),
        total_len: u16::try_from(total).map_err(|_| Reason::TooBig)?,
        ident: x.ids.next(error_src, error_dst, proto::ICMP),
        df: false,
        mf: false,
        frag_offset: 0,
        // The caller checked hop_limit >= 2.
        ttl: ip.hop_limit().saturating_sub(1),
        protocol: proto::ICMP,
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
    let c = !fold(sum(icmp));
    put16(icmp, 2, c);
    Ok(Outcome::Translated { len: w.pos() })
}
