//! TUN offloads (`IFF_VNET_HDR` with `TUN_F_CSUM | TUN_F_TSO4 |
//! TUN_F_TSO6`): every read and write carries a `virtio_net_hdr` in front
//! of the packet, and the kernel hands over TCP super-packets of up to
//! 64 KiB (GSO) with a partial checksum instead of 45 packets of 1500
//! bytes. The engine translates such a packet once, keeping its offloads
//! ([`Offload`]); the header written back tells the kernel to cut it (or
//! to pass it on whole, over a veth, to a stack that takes it as it is).
//!
//! What the engine cannot translate with its offloads (UDP segmentation,
//! anything that must be fragmented or answered with an ICMP error) is
//! cut and checksummed here ([`Split`]) and translated packet by packet.
//!
//! A single packet with a partial checksum (most packets a local stack
//! sends over a veth) has it completed here rather than kept: a plain
//! packet joins the batched writes ([`super::batch`]), where a flow's
//! datagrams or segments are coalesced into one write, while one with a
//! partial checksum must be written alone. Measured with
//! `servers/bench/nat64.sh` (64-byte UDP): keeping the partial checksum
//! cost 1.9 µs of translator CPU per datagram, completing it here 25-30%
//! less, and the server received more.

use std::io::{self, IoSlice};

use sixgate::nat64::xlat::Offload;
use tun_rs::{gso_split, SyncDevice, VirtioNetHdr, VIRTIO_NET_HDR_LEN};

// include/uapi/linux/virtio_net.h
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
#[cfg(test)]
const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

/// Bytes of `virtio_net_hdr` in front of every packet with offloads on.
pub(crate) const HDR: usize = VIRTIO_NET_HDR_LEN;

/// At most this many segments come out of one super-packet cut here
/// (64 KiB in segments of 512 bytes); a read that would make more is
/// dropped.
const MAX_SEGMENTS: usize = 128;

const TCP: u8 = 6;
const UDP: u8 = 17;

/// How one read is to be handled.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Read {
    /// Translate the packet with these offloads (none for a plain one);
    /// `hdr` is what came with it.
    Whole(Offload, VirtioNetHdr),
    /// Cut and checksum it here first ([`Split`]).
    Software,
}

/// The IP header length and transport protocol of `packet`, for checking a
/// header's checksum offsets against the packet.
fn transport_at(packet: &[u8]) -> Option<(usize, u8)> {
    match packet.first()? >> 4 {
        4 => Some((usize::from(packet.first()? & 0x0f) * 4, *packet.get(9)?)),
        6 => Some((40, *packet.get(6)?)),
        _ => None,
    }
}

/// What the engine may do with `packet`, given the header read with it.
pub(crate) fn classify(hdr: VirtioNetHdr, packet: &[u8]) -> Read {
    let partial = hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0;
    let gso = hdr.gso_type & !VIRTIO_NET_HDR_GSO_ECN;
    if !partial && gso == VIRTIO_NET_HDR_GSO_NONE {
        return Read::Whole(Offload::NONE, hdr);
    }
    // The checksum must start at the transport header the engine rewrites
    // and sit where TCP's or UDP's is.
    let Some((at, proto)) = transport_at(packet) else {
        return Read::Software;
    };
    let offset_ok = match proto {
        TCP => hdr.csum_offset == 16,
        UDP => hdr.csum_offset == 6,
        _ => false,
    };
    if !partial || usize::from(hdr.csum_start) != at || !offset_ok {
        return Read::Software;
    }
    let version = packet.first().map_or(0, |b| b >> 4);
    match gso {
        // Completed here, so it can be batched (see the module's notes).
        VIRTIO_NET_HDR_GSO_NONE => Read::Software,
        VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_TCPV6
            if proto == TCP
                && hdr.gso_size > 0
                && (version == 4) == (gso == VIRTIO_NET_HDR_GSO_TCPV4) =>
        {
            Read::Whole(
                Offload {
                    partial_checksum: true,
                    segment_size: hdr.gso_size,
                },
                hdr,
            )
        }
        _ => Read::Software,
    }
}

/// The header to write in front of `packet`, the engine's translation of
/// a packet read with `hdr` and `offload`: the same offloads, at the new
/// header's offsets (the translation has no IPv4 options or IPv6
/// extension headers).
pub(crate) fn header_for(offload: Offload, hdr: VirtioNetHdr, packet: &[u8]) -> VirtioNetHdr {
    if !offload.is_some() {
        return VirtioNetHdr::default();
    }
    let Some((at, proto)) = transport_at(packet) else {
        return VirtioNetHdr::default();
    };
    let transport = match proto {
        TCP => packet.get(at + 12).map_or(20, |b| usize::from(b >> 4) * 4),
        _ => 8,
    };
    let v4 = packet.first().is_some_and(|b| b >> 4 == 4);
    let gso_type = if offload.segment_size == 0 {
        VIRTIO_NET_HDR_GSO_NONE
    } else {
        (if v4 {
            VIRTIO_NET_HDR_GSO_TCPV4
        } else {
            VIRTIO_NET_HDR_GSO_TCPV6
        }) | (hdr.gso_type & VIRTIO_NET_HDR_GSO_ECN)
    };
    VirtioNetHdr {
        flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
        gso_type,
        hdr_len: u16::try_from(at + transport).unwrap_or(u16::MAX),
        gso_size: offload.segment_size,
        csum_start: u16::try_from(at).unwrap_or(u16::MAX),
        csum_offset: hdr.csum_offset,
    }
}

/// Writes `packet` to the device, behind `hdr` when offloads are on.
pub(crate) fn send(
    dev: &SyncDevice,
    vnet: bool,
    hdr: VirtioNetHdr,
    packet: &[u8],
) -> io::Result<()> {
    if vnet {
        let mut h = [0u8; HDR];
        hdr.encode(&mut h)?;
        dev.send_vectored(&[IoSlice::new(&h), IoSlice::new(packet)])?;
    } else {
        dev.send(packet)?;
    }
    Ok(())
}

/// Cuts super-packets into segments and completes partial checksums in
/// software, into buffers kept from one read to the next.
#[derive(Default)]
pub(crate) struct Split {
    bufs: Vec<Vec<u8>>,
    sizes: Vec<usize>,
}

impl Split {
    /// Plain packets made from `packet` (read with `hdr`), each handed to
    /// `f` (a single packet in place, its checksum completed); an error
    /// when the header does not describe the packet (it is dropped).
    pub(crate) fn packets(
        &mut self,
        hdr: VirtioNetHdr,
        packet: &mut [u8],
        mut f: impl FnMut(&mut [u8]),
    ) -> io::Result<()> {
        let gso = hdr.gso_type & !VIRTIO_NET_HDR_GSO_ECN;
        if gso == VIRTIO_NET_HDR_GSO_NONE {
            if hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0 {
                complete_checksum(packet, hdr)?;
            }
            f(packet);
            return Ok(());
        }
        if hdr.gso_size == 0 {
            return Err(io::Error::other("a GSO packet with gso_size 0"));
        }
        let payload = packet.len().saturating_sub(usize::from(hdr.hdr_len));
        let count = payload.div_ceil(usize::from(hdr.gso_size)).max(1);
        if count > MAX_SEGMENTS {
            return Err(io::Error::other(format!(
                "a GSO packet of {count} segments (at most {MAX_SEGMENTS})"
            )));
        }
        let seg = usize::from(hdr.hdr_len).saturating_add(usize::from(hdr.gso_size));
        if self.bufs.len() < count {
            self.bufs.resize_with(count, Vec::new);
            self.sizes.resize(count, 0);
        }
        for b in self.bufs.iter_mut().take(count) {
            b.resize(seg, 0);
        }
        let is_v6 = packet.first().is_some_and(|b| b >> 4 == 6);
        let bufs = self.bufs.get_mut(..count).unwrap_or_default();
        let sizes = self.sizes.get_mut(..count).unwrap_or_default();
        let n = gso_split(packet, hdr, bufs, sizes, 0, is_v6)?;
        for (b, &len) in self.bufs.iter_mut().zip(self.sizes.iter()).take(n) {
            f(b.get_mut(..len).unwrap_or_default());
        }
        Ok(())
    }
}

/// Completes a partial checksum: sums from `csum_start` to the end (the
/// field holds the pseudo-header's sum) and stores the complement.
fn complete_checksum(packet: &mut [u8], hdr: VirtioNetHdr) -> io::Result<()> {
    let start = usize::from(hdr.csum_start);
    let at = start.saturating_add(usize::from(hdr.csum_offset));
    if at.saturating_add(2) > packet.len() {
        return Err(io::Error::other("checksum offsets beyond the packet"));
    }
    let mut sum: u64 = 0;
    let mut words = packet.get(start..).unwrap_or_default().chunks_exact(2);
    for w in &mut words {
        sum += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let Some(&last) = words.remainder().first() {
        sum += u64::from(last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let c = !(sum as u16);
    if let Some(field) = packet.get_mut(at..at + 2) {
        field.copy_from_slice(&c.to_be_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp6(payload: usize) -> Vec<u8> {
        let mut p = vec![0u8; 40 + 20 + payload];
        p[0] = 0x60;
        p[4..6].copy_from_slice(&u16::try_from(20 + payload).unwrap().to_be_bytes());
        p[6] = TCP;
        p[7] = 64;
        p[40 + 12] = 0x50;
        p
    }

    fn gso6(size: u16) -> VirtioNetHdr {
        VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            gso_type: VIRTIO_NET_HDR_GSO_TCPV6,
            hdr_len: 60,
            gso_size: size,
            csum_start: 40,
            csum_offset: 16,
        }
    }

    #[test]
    fn headers_are_classified_and_rewritten() {
        let p = tcp6(3000);
        let Read::Whole(off, hdr) = classify(gso6(1440), &p) else {
            panic!("a TCPv6 super-packet is kept whole")
        };
        assert_eq!(
            off,
            Offload {
                partial_checksum: true,
                segment_size: 1440
            }
        );
        // Its translation: an IPv4 packet, TCPV4, offsets 20 lower.
        let mut v4 = vec![0u8; 20 + 32 + 3000];
        v4[0] = 0x45;
        v4[9] = TCP;
        v4[20 + 12] = 0x80; // 32-byte TCP header
        let h = header_for(off, hdr, &v4);
        assert_eq!(
            (
                h.gso_type,
                h.hdr_len,
                h.gso_size,
                h.csum_start,
                h.csum_offset
            ),
            (VIRTIO_NET_HDR_GSO_TCPV4, 52, 1440, 20, 16)
        );
        assert_eq!(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        // Plain in, plain out.
        assert!(matches!(
            classify(VirtioNetHdr::default(), &p),
            Read::Whole(Offload::NONE, _)
        ));
        assert_eq!(header_for(Offload::NONE, hdr, &v4).flags, 0);
        // Offsets that are not the transport header's, a family that does
        // not match the GSO type, UDP segmentation, no partial checksum:
        // cut here.
        let mut bad = gso6(1440);
        bad.csum_start = 48;
        assert!(matches!(classify(bad, &p), Read::Software));
        let mut bad = gso6(1440);
        bad.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
        assert!(matches!(classify(bad, &p), Read::Software));
        let mut bad = gso6(1440);
        bad.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
        assert!(matches!(classify(bad, &p), Read::Software));
        let mut bad = gso6(1440);
        bad.flags = 0;
        assert!(matches!(classify(bad, &p), Read::Software));
        // One packet with a partial checksum: completed here, to be batched.
        let mut one = gso6(0);
        one.gso_type = VIRTIO_NET_HDR_GSO_NONE;
        assert!(matches!(classify(one, &p), Read::Software));
        assert!(matches!(classify(gso6(1440), &[0x60; 3]), Read::Software));
    }

    #[test]
    fn software_cuts_and_checksums() {
        let mut split = Split::default();
        let mut p = tcp6(3000);
        let mut seen = Vec::new();
        split
            .packets(gso6(1000), &mut p, |s| seen.push(s.len()))
            .unwrap();
        assert_eq!(seen, vec![1060, 1060, 1060]);
        // Too many segments, or none of the sizes making sense: an error,
        // never a panic.
        let mut p = tcp6(60_000);
        assert!(split.packets(gso6(100), &mut p, |_| {}).is_err());
        let mut bad = gso6(0);
        bad.gso_size = 0;
        assert!(split.packets(bad, &mut p, |_| {}).is_err());
        let mut bad = gso6(1000);
        bad.hdr_len = 65_000;
        assert!(split.packets(bad, &mut tcp6(100), |_| {}).is_err());
        // A partial checksum completed: the packet then sums to all ones.
        let mut p = vec![0x12u8, 0x34, 0x56, 0x78, 0, 0, 0xab];
        let hdr = VirtioNetHdr {
            flags: VIRTIO_NET_HDR_F_NEEDS_CSUM,
            csum_start: 0,
            csum_offset: 4,
            ..VirtioNetHdr::default()
        };
        complete_checksum(&mut p, hdr).unwrap();
        let mut sum: u32 = 0;
        for w in p.chunks(2) {
            sum += u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0));
        }
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
        let bad = VirtioNetHdr {
            csum_start: 6,
            ..hdr
        };
        assert!(complete_checksum(&mut p, bad).is_err());
    }
}
