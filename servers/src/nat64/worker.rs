//! The packet workers: one thread per TUN queue, each with its own engine
//! shard. Blocking reads with a timeout (the engine's next timer, at most
//! [`PUBLISH_EVERY`]); each packet goes through the engine and what it
//! emits is written back to the worker's own queue. Counters live in the
//! thread and are published to the `/metrics` endpoint every
//! [`PUBLISH_EVERY`], so the hot path takes no lock. Log events are written
//! after each packet batch.
//!
//! With more than one worker the state is split into shards
//! (`sixgate::nat64::shard`): a packet read by a worker whose shard does
//! not own it is handed to the owner over a bounded channel, and the owner
//! is woken by its `InterruptEvent`. The owner writes the translation on
//! its own queue, and the kernel's TUN flow steering (automq) then brings
//! the flow's later packets, both ways, to that queue: handoffs are
//! mostly the first packet of a flow.
//!
//! With offloads (the default) every read starts with a `virtio_net_hdr`;
//! a TCP super-packet is translated whole ([`super::offload`]). A worker
//! drains up to [`batch::READS`] reads per wake-up, and plain translations
//! are written together at the end of it ([`super::batch`]).

use std::io::{ErrorKind, Write};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use sixgate::nat64::frag::{Limits, Reassembly};
use sixgate::nat64::shard::{owner_v4, owner_v6, Owner};
use sixgate::nat64::xlat::{Offload, Reason, MAX_OUTPUT};
use sixgate::nat64::{Emit, Nat64};
use sixgate::rfc6052::{Nat64Prefix, NonGlobal};
use tun_rs::{InterruptEvent, SyncDevice, VirtioNetHdr};

use super::batch::{self, Writes};
use super::config::Config;
use super::engine_config::{self, Built, Clock, Gauges};
use super::metrics::{Counters, Dir, Snapshot};
use super::offload::{self, Read, Split, HDR};

/// How often counters and gauges are published and the log flushed.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Packets one worker may have waiting for it from the others; more are
/// dropped (`handoff_full`).
pub(crate) const HANDOFF_QUEUE: usize = 4096;

/// Handed-over packets a worker takes between two reads of its queue.
const HANDOFF_BATCH: usize = 256;

/// Where the RFC 6888 lines go; swapped on reload.
pub(crate) type LogSink = Arc<Mutex<Box<dyn Write + Send>>>;

/// What the workers share with the rest of the server.
pub(crate) struct Shared {
    pub(crate) log: LogSink,
    slots: Vec<Slot>,
    stop: AtomicBool,
    reloads: Mutex<[u64; 2]>,
}

/// One worker's published numbers and its wakeup.
struct Slot {
    published: Mutex<(Counters, Gauges)>,
    wake: InterruptEvent,
}

impl Shared {
    pub(crate) fn new(workers: usize, log: Box<dyn Write + Send>) -> std::io::Result<Self> {
        let slots = (0..workers.max(1))
            .map(|_| {
                Ok(Slot {
                    published: Mutex::new(Default::default()),
                    wake: InterruptEvent::new()?,
                })
            })
            .collect::<std::io::Result<_>>()?;
        Ok(Self {
            log: Arc::new(Mutex::new(log)),
            slots,
            stop: AtomicBool::new(false),
            reloads: Mutex::new([0; 2]),
        })
    }

    /// Asks every worker to stop.
    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for s in &self.slots {
            let _ = s.wake.trigger();
        }
    }

    /// Counts a SIGHUP reload.
    pub(crate) fn count_reload(&self, ok: bool) {
        if let Ok(mut r) = self.reloads.lock() {
            r[usize::from(!ok)] += 1;
        }
    }

    /// What a scrape shows: every worker's counters and gauges summed.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut snap = Snapshot {
            workers: self.slots.len(),
            ..Snapshot::default()
        };
        for s in &self.slots {
            if let Ok(p) = s.published.lock() {
                snap.counters.merge(&p.0);
                snap.gauges.merge(&p.1);
            }
        }
        if let Ok(r) = self.reloads.lock() {
            snap.reloads = *r;
        }
        snap
    }
}

/// A packet read by one worker for another's shard, with the offloads
/// it was read with.
pub(crate) enum Handoff {
    /// From the IPv6 side.
    V6(Box<[u8]>, Offload, VirtioNetHdr),
    /// From the IPv4 side (an IPv4 datagram reassembled by the reader).
    V4(Box<[u8]>, Offload, VirtioNetHdr),
    /// The IPv4 half of a hairpin another shard began, for
    /// `Nat64::handle_hairpin_v4`.
    Hairpin(Box<[u8]>),
}

/// The channels between the workers: worker `i` reads `inbox[i]` and sends
/// to `peers[j]`.
pub(crate) fn channels(workers: usize) -> (Vec<SyncSender<Handoff>>, Vec<Receiver<Handoff>>) {
    (0..workers)
        .map(|_| std::sync::mpsc::sync_channel(HANDOFF_QUEUE))
        .unzip()
}

/// Consecutive failed reads (about a second of them) after which the device
/// is taken as gone and the worker gives up.
const MAX_READ_ERRORS: u32 = 100;

/// One worker: its queue, its engine shard, its counters.
struct Worker<'a> {
    index: usize,
    shards: usize,
    dev: &'a SyncDevice,
    /// Reads and writes carry a `virtio_net_hdr` (offloads on).
    vnet: bool,
    /// Super-packets cut in software when the engine cannot keep them.
    split: Split,
    /// Plain packets written together at the end of a batch.
    writes: Writes,
    nat: Nat64,
    /// IPv4 fragments read here, reassembled before the owner is known
    /// (sharded only; unsharded, the engine reassembles).
    frag: Reassembly,
    clock: Clock,
    scope: Option<Nat64Prefix>,
    out: Vec<u8>,
    c: Counters,
    peers: &'a [SyncSender<Handoff>],
    shared: &'a Shared,
    last_drop_log: Option<StdInstant>,
}

/// Runs worker `index` (of `peers.len()`) until [`Shared::stop`] (`Ok`) or
/// its queue keeps failing (`Err`, so the process exits and its supervisor
/// restarts it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    index: usize,
    dev: &SyncDevice,
    config: &Config,
    built: &Built,
    seed: u64,
    shared: &Shared,
    peers: &[SyncSender<Handoff>],
    inbox: &Receiver<Handoff>,
) -> std::io::Result<()> {
    let seed = seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let Some(slot) = shared.slots.get(index) else {
        return Ok(());
    };
    let mut w = Worker {
        index,
        shards: peers.len().max(1),
        dev,
        vnet: dev.tcp_gso(),
        split: Split::default(),
        writes: Writes::default(),
        nat: engine_config::engine(built, index, seed),
        frag: Reassembly::new(Limits::default(), seed.rotate_left(8)),
        clock: Clock::new(),
        scope: (!config.allow_non_global && config.prefix.is_well_known()).then_some(config.prefix),
        out: vec![0u8; MAX_OUTPUT],
        c: Counters::default(),
        peers,
        shared,
        last_drop_log: None,
    };
    let mut buf = vec![0u8; HDR + 65_536];
    let mut last_publish = StdInstant::now();
    let mut last_error_log: Option<StdInstant> = None;
    let mut read_errors = 0u32;
    let mut result = Ok(());
    let mut lines = String::new();
    loop {
        // Packets the other workers handed over, a batch at a time.
        let mut taken = 0;
        while taken < HANDOFF_BATCH {
            let Ok(h) = inbox.try_recv() else { break };
            w.handoff(h);
            taken += 1;
        }
        let wait = if taken == HANDOFF_BATCH {
            Duration::ZERO
        } else {
            w.next_timer()
                .map_or(PUBLISH_EVERY, |t| w.clock.until(t))
                .clamp(Duration::from_millis(1), PUBLISH_EVERY)
        };
        match dev.recv_intr_timeout(&mut buf, &slot.wake, Some(wait)) {
            Ok(n) => {
                read_errors = 0;
                let mut n = n;
                // Drain what the queue has ready (non-blocking reads) before
                // the batch of writes goes out.
                for more in 1..=batch::READS {
                    w.on_read(buf.get_mut(..n).unwrap_or_default());
                    if more == batch::READS {
                        break;
                    }
                    // Any error (nothing ready, most often) ends the batch;
                    // the next blocking read reports a real one.
                    match dev.recv(&mut buf) {
                        Ok(m) => n = m,
                        Err(_) => break,
                    }
                }
            }
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                // Woken for handed-over packets: re-armed before the inbox
                // is read, so a later handoff wakes it again.
                let _ = slot.wake.reset();
            }
            Err(e) => {
                w.c.io_errors += 1;
                read_errors += 1;
                if read_errors >= MAX_READ_ERRORS {
                    tracing::error!(
                        "TUN read failed {read_errors} times in a row (worker {index}): {e}"
                    );
                    result = Err(e);
                    break;
                }
                if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!("TUN read (worker {index}): {e}");
                    last_error_log = Some(StdInstant::now());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let now = w.clock.now();
        if w.nat.poll_timeout().is_some_and(|t| t <= now) {
            w.nat.handle_timeout(now);
            w.transmit();
        }
        if w.frag.poll_timeout().is_some_and(|t| t <= now) {
            w.frag.handle_timeout(now);
        }
        while let Some(e) = w.nat.poll_event() {
            if let Some(l) = engine_config::limit_name(&e) {
                w.c.limit(l);
            }
            lines.push_str(&engine_config::log_line(&w.clock, &e));
            lines.push('\n');
        }
        w.writes.flush(w.dev, &mut w.c);
        if lines.len() > 16_384 {
            write_log(&shared.log, &mut lines);
        }
        if last_publish.elapsed() >= PUBLISH_EVERY {
            write_log(&shared.log, &mut lines);
            publish(slot, &w.c, Gauges::of(&w.nat, config));
            last_publish = StdInstant::now();
        }
    }
    write_log(&shared.log, &mut lines);
    publish(slot, &w.c, Gauges::of(&w.nat, config));
    result
}

impl Worker<'_> {
    fn sharded(&self) -> bool {
        self.shards > 1
    }

    /// When the engine's or the reassembler's next timer is due.
    fn next_timer(&self) -> Option<sixgate::time::Instant> {
        match (self.nat.poll_timeout(), self.frag.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A packet another worker handed over: its shard is this one.
    fn handoff(&mut self, h: Handoff) {
        match h {
            Handoff::V6(mut p, off, hdr) => self.on_v6(&mut p, true, off, hdr),
            Handoff::V4(mut p, off, hdr) => self.on_v4(&mut p, true, off, hdr),
            Handoff::Hairpin(p) => self.on_hairpin(&p),
        }
    }

    /// One read from the queue: counted, its `virtio_net_hdr` (offloads
    /// on) read, and on to its family.
    fn on_read(&mut self, frame: &mut [u8]) {
        let (packet, off, hdr) = if self.vnet {
            let Ok(hdr) = VirtioNetHdr::decode(frame) else {
                let r = self.c.drop_named("offload_header");
                return self.log_drop(r);
            };
            let packet = frame.get_mut(HDR..).unwrap_or_default();
            match offload::classify(hdr, packet) {
                Read::Whole(off, hdr) => (packet, off, hdr),
                Read::Software => {
                    self.c.count_read(packet);
                    return self.software(packet, hdr);
                }
            }
        } else {
            (frame, Offload::NONE, VirtioNetHdr::default())
        };
        self.c.count_read(packet);
        match packet.first().map(|b| b >> 4) {
            Some(6) => self.on_v6(packet, false, off, hdr),
            Some(4) => self.on_v4(packet, false, off, hdr),
            _ => {
                let r = self.c.drop_named("not_ip");
                self.log_drop(r);
            }
        }
    }

    /// A read whose offloads the engine cannot keep or should not (a single
    /// packet's partial checksum: see [`offload`]): cut and checksummed
    /// here, each packet translated plain (the segments of one read share
    /// their flow, so their shard: this worker's, or handed on as one).
    fn software(&mut self, packet: &mut [u8], hdr: VirtioNetHdr) {
        self.c.offload_software += 1;
        let mut split = std::mem::take(&mut self.split);
        let done = split.packets(hdr, packet, |p| match p.first().map(|b| b >> 4) {
            Some(6) => self.on_v6(p, false, Offload::NONE, VirtioNetHdr::default()),
            Some(4) => self.on_v4(p, false, Offload::NONE, VirtioNetHdr::default()),
            _ => {
                let r = self.c.drop_named("not_ip");
                self.log_drop(r);
            }
        });
        self.split = split;
        if done.is_err() {
            let r = self.c.drop_named("offload_header");
            self.log_drop(r);
        }
    }

    /// An IPv6 packet: read here (`handed` false: checked, given to its
    /// shard's worker if that is another) or handed over; then through the
    /// engine, with the offloads it was read with, and out on this
    /// worker's queue.
    fn on_v6(&mut self, packet: &mut [u8], handed: bool, off: Offload, hdr: VirtioNetHdr) {
        if !handed {
            if self.scope.is_some_and(|p| !v6_dst_in_scope(p, packet)) {
                let r = self.c.drop_named("non_global");
                return self.log_drop(r);
            }
            if self.sharded() {
                if let Owner::Shard(o) = owner_v6(self.nat.state().config(), packet) {
                    if o != self.index {
                        return self.hand_off(o, Handoff::V6((&*packet).into(), off, hdr));
                    }
                }
            }
        }
        // Sharded, a hairpin's second half may be another shard's, which
        // takes it plain: no offloads toward a pool4 address.
        if off.is_some() && self.sharded() && self.to_pool4_v6(packet) {
            return self.software(packet, hdr);
        }
        let now = self.clock.now();
        let emit = self.nat.handle_v6_offload(now, packet, off, &mut self.out);
        self.finish(emit, packet, off, hdr);
    }

    /// What the engine made of `packet` (read with `off` and `hdr`)
    /// written out; or, when it could not keep the offloads, the packet cut
    /// and translated in software.
    fn finish(&mut self, emit: Emit, packet: &mut [u8], off: Offload, hdr: VirtioNetHdr) {
        if emit == Emit::Drop(Reason::Offload) {
            return self.software(packet, hdr);
        }
        if off.is_some() {
            self.c.offload_kept += 1;
        }
        self.write(emit, off, hdr);
        self.transmit();
    }

    /// Whether an IPv6 packet goes to a pool4 address under the prefix.
    fn to_pool4_v6(&self, packet: &[u8]) -> bool {
        let config = self.nat.state().config();
        packet
            .get(24..40)
            .and_then(|b| <[u8; 16]>::try_from(b).ok())
            .and_then(|d| config.prefix().extract(std::net::Ipv6Addr::from(d)).ok())
            .is_some_and(|v4| config.is_pool4(v4))
    }

    /// An IPv4 packet, as [`on_v6`](Self::on_v6). Sharded, a fragment is
    /// reassembled here first (the kernel brings every fragment of a
    /// datagram to one queue), and the whole datagram goes to its shard.
    fn on_v4(&mut self, packet: &mut [u8], handed: bool, off: Offload, hdr: VirtioNetHdr) {
        let mut whole;
        let mut packet = packet;
        if !handed {
            if self.scope.is_some_and(|p| !v4_src_in_scope(p, packet)) {
                let r = self.c.drop_named("non_global");
                return self.log_drop(r);
            }
            if self.sharded() {
                let mut owner = owner_v4(self.nat.state().config(), packet);
                if owner == Owner::Fragment {
                    match self.frag.add_v4(self.clock.now(), packet) {
                        None => {}
                        Some(Ok(w)) => {
                            whole = w;
                            packet = &mut whole;
                            owner = owner_v4(self.nat.state().config(), packet);
                        }
                        Some(Err(r)) => return self.dropped(r),
                    }
                }
                if let Owner::Shard(o) = owner {
                    if o != self.index {
                        return self.hand_off(o, Handoff::V4((&*packet).into(), off, hdr));
                    }
                }
            }
        }
        let now = self.clock.now();
        let emit = self.nat.handle_v4_offload(now, packet, off, &mut self.out);
        self.finish(emit, packet, off, hdr);
    }

    /// The IPv4 half of a hairpin another shard began.
    fn on_hairpin(&mut self, packet: &[u8]) {
        let now = self.clock.now();
        let emit = self.nat.handle_hairpin_v4(now, packet, &mut self.out);
        self.write(emit, Offload::NONE, VirtioNetHdr::default());
        self.transmit();
    }

    /// Gives a packet to worker `to` and wakes it; counted, and dropped
    /// when its queue is full.
    fn hand_off(&mut self, to: usize, h: Handoff) {
        let sent = self.peers.get(to).map(|p| p.try_send(h));
        match sent {
            Some(Ok(())) => {
                self.c.handoffs += 1;
                if let Some(s) = self.shared.slots.get(to) {
                    let _ = s.wake.trigger();
                }
            }
            Some(Err(TrySendError::Full(_) | TrySendError::Disconnected(_))) | None => {
                self.c.handoff_drops += 1;
                let r = self.c.drop_named("handoff_full");
                self.log_drop(r);
            }
        }
    }

    /// Writes what the engine emitted (from a packet read with `off` and
    /// `hdr`) to this worker's queue. Sharded, an IPv4 packet to a pool4
    /// address is a hairpin whose second half belongs to another shard: it
    /// goes there instead.
    fn write(&mut self, emit: Emit, off: Offload, hdr: VirtioNetHdr) {
        let (to, reply) = match emit {
            Emit::V4 { reply, .. } => (Dir::V4, reply),
            Emit::V6 { reply, .. } => (Dir::V6, reply),
            Emit::Drop(r) => return self.dropped(r),
        };
        if to == Dir::V4 && reply.is_none() && self.sharded() && self.to_pool4() {
            return self.hairpin_elsewhere(emit);
        }
        if let Some(r) = reply {
            self.c.reply(engine_config::reason_name(r));
        }
        for p in emit.packets(&self.out) {
            send(
                self.dev,
                self.vnet,
                &mut self.writes,
                &mut self.c,
                to,
                offload::header_for(off, hdr, p),
                p,
            );
        }
    }

    /// Whether the IPv4 packet in `out` goes to a pool4 address.
    fn to_pool4(&self) -> bool {
        self.out
            .get(16..20)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .is_some_and(|d| self.nat.state().config().is_pool4(Ipv4Addr::from(d)))
    }

    /// Gives the IPv4 half of a hairpin (its fragments, if the engine cut
    /// it) to the shard that owns its destination, found from the first
    /// packet (a first fragment still has the ports).
    fn hairpin_elsewhere(&mut self, emit: Emit) {
        let packets: Vec<Box<[u8]>> = emit.packets(&self.out).map(Box::from).collect();
        let owner = packets.first().map(|p| {
            let mut head = p.to_vec();
            if let Some(f) = head.get_mut(6..8) {
                f.copy_from_slice(&[0, 0]);
            }
            owner_v4(self.nat.state().config(), &head)
        });
        let to = match owner {
            Some(Owner::Shard(o)) => o,
            _ => self.index,
        };
        for p in packets {
            if to == self.index {
                self.on_hairpin(&p);
            } else {
                self.hand_off(to, Handoff::Hairpin(p));
            }
        }
    }

    /// Counts (and rate-limits the log of) a packet the engine did not
    /// send on; a fragment kept for reassembly or a stored SYN is no loss.
    fn dropped(&mut self, r: Reason) {
        if engine_config::is_held(r) {
            self.c.held(engine_config::reason_name(r));
            return;
        }
        let r = self.c.drop_named(engine_config::reason_name(r));
        self.log_drop(r);
    }

    /// Logged at debug level at most once a second.
    fn log_drop(&mut self, reason: &'static str) {
        if self
            .last_drop_log
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(1))
        {
            tracing::debug!("dropped a packet: {reason} (more this second only counted)");
            self.last_drop_log = Some(StdInstant::now());
        }
    }

    /// Writes the packets the engine made itself (probes, the stored SYN
    /// of a simultaneous open, Port Unreachables for expired stored SYNs)
    /// to the device; called after every `handle_*` and `handle_timeout`.
    /// Bounded by the engine's queue (`MAX_PENDING`).
    fn transmit(&mut self) {
        while let Some(emit) = self.nat.poll_transmit(&mut self.out) {
            let to = match emit {
                Emit::V4 { .. } => Dir::V4,
                Emit::V6 { .. } => Dir::V6,
                Emit::Drop(r) => {
                    self.c.drop_named(engine_config::reason_name(r));
                    continue;
                }
            };
            self.c
                .transmit(engine_config::transmit_name(&emit, &self.out));
            for p in emit.packets(&self.out) {
                send(
                    self.dev,
                    self.vnet,
                    &mut self.writes,
                    &mut self.c,
                    to,
                    VirtioNetHdr::default(),
                    p,
                );
            }
        }
    }
}

/// Writes `packet` (behind `hdr` with offloads on), counted: a plain
/// packet joins the batch; one with offloads of its own goes at once,
/// after the batch, so a flow keeps its order.
fn send(
    dev: &SyncDevice,
    vnet: bool,
    writes: &mut Writes,
    c: &mut Counters,
    to: Dir,
    hdr: VirtioNetHdr,
    packet: &[u8],
) {
    c.count_out(to, packet.len());
    if hdr.flags == 0 && hdr.gso_type == 0 {
        writes.push(dev, packet, c);
        return;
    }
    writes.flush(dev, c);
    if offload::send(dev, vnet, hdr, packet).is_err() {
        c.io_errors += 1;
    }
}

fn publish(slot: &Slot, c: &Counters, gauges: Gauges) {
    if let Ok(mut s) = slot.published.lock() {
        s.0.clone_from(c);
        s.1 = gauges;
    }
}

fn write_log(log: &LogSink, lines: &mut String) {
    if lines.is_empty() {
        return;
    }
    if let Ok(mut w) = log.lock() {
        if let Err(e) = w.write_all(lines.as_bytes()).and_then(|()| w.flush()) {
            tracing::warn!("writing the NAT64 log: {e}");
        }
    }
    lines.clear();
}

/// RFC 6052 §3.1: under the well-known prefix, an IPv6 destination must
/// embed a global IPv4 address (destinations outside the prefix are left
/// to the engine).
fn v6_dst_in_scope(prefix: Nat64Prefix, packet: &[u8]) -> bool {
    let Some(dst) = packet
        .get(24..40)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .map(std::net::Ipv6Addr::from)
    else {
        return true;
    };
    match prefix.extract(dst) {
        Ok(v4) => prefix.check_scope(v4, NonGlobal::Refuse).is_ok(),
        Err(_) => true,
    }
}

/// The same rule for IPv4 sources, which the engine embeds.
fn v4_src_in_scope(prefix: Nat64Prefix, packet: &[u8]) -> bool {
    let Some(src) = packet
        .get(12..16)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(Ipv4Addr::from)
    else {
        return true;
    };
    prefix.check_scope(src, NonGlobal::Refuse).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v6_to(dst: &str) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        let d: std::net::Ipv6Addr = dst.parse().unwrap();
        p[24..40].copy_from_slice(&d.octets());
        p
    }

    fn v4_from(src: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0u8; 20];
        p[0] = 0x45;
        p[12..16].copy_from_slice(&src);
        p
    }

    #[test]
    fn well_known_prefix_scope() {
        let wkp = Nat64Prefix::WELL_KNOWN;
        // 198.51.100.7 (documentation) and 10.1.2.3 (private) are refused,
        // 131.111.150.25 is global.
        assert!(!v6_dst_in_scope(wkp, &v6_to("64:ff9b::c633:6407")));
        assert!(!v6_dst_in_scope(wkp, &v6_to("64:ff9b::a01:203")));
        assert!(v6_dst_in_scope(wkp, &v6_to("64:ff9b::836f:9619")));
        // Outside the prefix and cut short: left to the engine.
        assert!(v6_dst_in_scope(wkp, &v6_to("2001:db8::1")));
        assert!(v6_dst_in_scope(wkp, &[0x60; 10]));
        assert!(!v4_src_in_scope(wkp, &v4_from([192, 168, 1, 1])));
        assert!(v4_src_in_scope(wkp, &v4_from([131, 111, 150, 25])));
        assert!(v4_src_in_scope(wkp, &[0x45; 3]));
        // A network-specific prefix carries anything (the worker does not
        // check it at all; check_scope agrees).
        let nsp: Nat64Prefix = "2001:db8:64::/96".parse().unwrap();
        assert!(v4_src_in_scope(nsp, &v4_from([192, 168, 1, 1])));
    }
}
