//! Batched writes. The worker drains what the device has ready (up to
//! [`READS`] packets) before it writes: plain translations wait here, and
//! one flush writes them with `tun-rs`'s GRO: consecutive TCP segments and
//! same-sized UDP datagrams of one flow go to the kernel as one
//! super-packet (with offloads on; `TUN_F_USO4/6` for UDP, Linux 6.2+),
//! the rest one write each. A packet that carries offloads of its own (a
//! translated super-packet) or comes in pieces is written at once, after a
//! flush, so a flow's packets keep their order.

use tun_rs::{GROTable, SyncDevice};

use super::metrics::Counters;
use super::offload::HDR;

/// Reads per wake-up before the batch is written.
pub(crate) const READS: usize = 64;

/// Plain packets waiting to be written, each behind `HDR` bytes of room
/// for the `virtio_net_hdr` GRO writes.
pub(crate) struct Writes {
    bufs: Vec<Vec<u8>>,
    len: usize,
    gro: GROTable,
}

impl Default for Writes {
    fn default() -> Self {
        Self {
            bufs: Vec::new(),
            len: 0,
            gro: GROTable::new(),
        }
    }
}

impl Writes {
    /// Queues a copy of `packet`; flushes first when the batch is full.
    pub(crate) fn push(&mut self, dev: &SyncDevice, packet: &[u8], c: &mut Counters) {
        if self.len == READS * 2 {
            self.flush(dev, c);
        }
        if self.bufs.len() == self.len {
            self.bufs.push(Vec::with_capacity(HDR + 1500));
        }
        if let Some(b) = self.bufs.get_mut(self.len) {
            b.clear();
            b.resize(HDR, 0);
            b.extend_from_slice(packet);
            self.len += 1;
        }
    }

    /// Writes what is queued (with GRO when offloads are on).
    pub(crate) fn flush(&mut self, dev: &SyncDevice, c: &mut Counters) {
        if self.len == 0 {
            return;
        }
        let bufs = self.bufs.get_mut(..self.len).unwrap_or_default();
        if let Err(e) = dev.send_multiple(&mut self.gro, bufs, HDR) {
            c.io_errors += 1;
            tracing::debug!("TUN batched write: {e}");
        }
        self.len = 0;
        // A coalesced buffer grew to hold its flow's segments; do not keep
        // 64 KiB per slot.
        for b in &mut self.bufs {
            if b.capacity() > 4 * (HDR + 1500) {
                *b = Vec::with_capacity(HDR + 1500);
            }
        }
    }
}
