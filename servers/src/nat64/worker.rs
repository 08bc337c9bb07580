//! The packet worker: one thread, one TUN queue, one engine. Blocking
//! reads with a timeout (the engine's next timer, at most
//! [`PUBLISH_EVERY`]); each packet goes through the engine and what it
//! emits is written back to the device. Counters live in the thread and are
//! published to the `/metrics` endpoint every [`PUBLISH_EVERY`], so the hot
//! path takes no lock. Log events are written after each packet batch.
//!
//! Multi-queue (a worker per core with engine shards) is not done yet.

use std::io::{ErrorKind, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant as StdInstant};

use sixgate::nat64::xlat::{Offload, Reason, MAX_OUTPUT};
use sixgate::nat64::{Emit, Nat64};
use sixgate::rfc6052::{Nat64Prefix, NonGlobal};
use tun_rs::{InterruptEvent, SyncDevice, VirtioNetHdr};

use super::batch::{self, Writes};
use super::config::Config;
use super::engine_config::{self, Built, Clock};
use super::metrics::{Counters, Dir, Snapshot};
use super::offload::{self, Read, Split, HDR};

/// How often counters and gauges are published and the log flushed.
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// Where the RFC 6888 lines go; swapped on reload.
pub(crate) type LogSink = Arc<Mutex<Box<dyn Write + Send>>>;

/// What the worker shares with the rest of the server.
pub(crate) struct Shared {
    pub(crate) snapshot: Mutex<Snapshot>,
    pub(crate) log: LogSink,
    pub(crate) stop: InterruptEvent,
}

/// Consecutive failed reads (about a second of them) after which the device
/// is taken as gone and the worker gives up.
const MAX_READ_ERRORS: u32 = 100;

/// Runs until `shared.stop` is triggered (`Ok`) or the device keeps
/// failing (`Err`, so the process exits and its supervisor restarts it).
pub(crate) fn run(
    dev: &SyncDevice,
    config: &Config,
    built: &Built,
    seed: u64,
    shared: &Shared,
) -> std::io::Result<()> {
    let clock = Clock::new();
    let mut nat = engine_config::engine(built, seed);
    let scope =
        (!config.allow_non_global && config.prefix.is_well_known()).then_some(config.prefix);
    let mut buf = vec![0u8; HDR + 65_536];
    let mut out = vec![0u8; MAX_OUTPUT];
    let mut io = Io {
        dev,
        vnet: dev.tcp_gso(),
        writes: Writes::default(),
    };
    let mut split = Split::default();
    let mut c = Counters::default();
    let mut last_publish = StdInstant::now();
    let mut last_error_log: Option<StdInstant> = None;
    let mut last_drop_log: Option<StdInstant> = None;
    let mut read_errors = 0u32;
    let mut result = Ok(());
    let mut lines = String::new();
    loop {
        let wait = nat
            .poll_timeout()
            .map_or(PUBLISH_EVERY, |t| clock.until(t))
            .clamp(Duration::from_millis(1), PUBLISH_EVERY);
        match dev.recv_intr_timeout(&mut buf, &shared.stop, Some(wait)) {
            Ok(n) => {
                read_errors = 0;
                let mut n = n;
                // Drain what the device has ready (non-blocking reads) before
                // the batch of writes goes out.
                for more in 1..=batch::READS {
                    let frame = buf.get_mut(..n).unwrap_or_default();
                    let mut path = Path {
                        nat: &mut nat,
                        clock: &clock,
                        scope,
                        out: &mut out,
                        io: &mut io,
                        c: &mut c,
                    };
                    let dropped = if path.io.vnet {
                        path.read_offload(frame, &mut split)
                    } else {
                        path.c.count_read(frame);
                        path.handle(frame, Offload::NONE, VirtioNetHdr::default())
                            .dropped()
                    };
                    transmit(&mut nat, &mut out, &mut io, &mut c);
                    // Counted always; logged at debug level at most once a
                    // second.
                    if let Some(reason) = dropped {
                        if last_drop_log.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            tracing::debug!(
                                "dropped a packet: {reason} (more this second only counted)"
                            );
                            last_drop_log = Some(StdInstant::now());
                        }
                    }
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
                io.writes.flush(dev, &mut c);
            }
            Err(e) if e.kind() == ErrorKind::TimedOut || e.kind() == ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                if shared.stop.is_trigger() {
                    break;
                }
            }
            Err(e) => {
                c.io_errors += 1;
                read_errors += 1;
                if read_errors >= MAX_READ_ERRORS {
                    tracing::error!("TUN read failed {read_errors} times in a row: {e}");
                    result = Err(e);
                    break;
                }
                if last_error_log.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    tracing::warn!("TUN read: {e}");
                    last_error_log = Some(StdInstant::now());
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let now = clock.now();
        if nat.poll_timeout().is_some_and(|t| t <= now) {
            nat.handle_timeout(now);
            transmit(&mut nat, &mut out, &mut io, &mut c);
            io.writes.flush(dev, &mut c);
        }
        while let Some(e) = nat.poll_event() {
            if let Some(l) = engine_config::limit_name(&e) {
                c.limit(l);
            }
            lines.push_str(&engine_config::log_line(&clock, &e));
            lines.push('\n');
        }
        if lines.len() > 16_384 {
            write_log(&shared.log, &mut lines);
        }
        if last_publish.elapsed() >= PUBLISH_EVERY {
            write_log(&shared.log, &mut lines);
            publish(shared, &c, engine_config::Gauges::of(&nat, config));
            last_publish = StdInstant::now();
        }
    }
    write_log(&shared.log, &mut lines);
    publish(shared, &c, engine_config::Gauges::of(&nat, config));
    result
}

fn publish(shared: &Shared, c: &Counters, gauges: engine_config::Gauges) {
    if let Ok(mut s) = shared.snapshot.lock() {
        s.counters.clone_from(c);
        s.gauges = gauges;
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

/// The device, whether its packets carry a `virtio_net_hdr`, and the
/// writes waiting for the end of the batch.
struct Io<'a> {
    dev: &'a SyncDevice,
    vnet: bool,
    writes: Writes,
}

impl Io<'_> {
    /// Writes `packet` (behind `hdr` with offloads on), counted: a plain
    /// packet joins the batch; one with offloads of its own goes at once,
    /// after the batch, so a flow keeps its order.
    fn send(&mut self, to: Dir, hdr: VirtioNetHdr, packet: &[u8], c: &mut Counters) {
        c.count_out(to, packet.len());
        if hdr.flags == 0 && hdr.gso_type == 0 {
            self.writes.push(self.dev, packet, c);
            return;
        }
        self.writes.flush(self.dev, c);
        if offload::send(self.dev, self.vnet, hdr, packet).is_err() {
            c.io_errors += 1;
        }
    }
}

/// Writes the packets the engine made itself (probes, the stored SYN of a
/// simultaneous open, Port Unreachables for expired stored SYNs) to the
/// device; called after every `handle_*` and `handle_timeout`. Bounded by
/// the engine's queue (`MAX_PENDING`).
fn transmit(nat: &mut Nat64, out: &mut [u8], io: &mut Io<'_>, c: &mut Counters) {
    while let Some(emit) = nat.poll_transmit(out) {
        let to = match emit {
            Emit::V4 { .. } => Dir::V4,
            Emit::V6 { .. } => Dir::V6,
            Emit::Drop(r) => {
                c.drop_named(engine_config::reason_name(r));
                continue;
            }
        };
        c.transmit(engine_config::transmit_name(&emit, out));
        for p in emit.packets(out) {
            io.send(to, VirtioNetHdr::default(), p, c);
        }
    }
}

/// What became of a packet.
enum Handled {
    /// Translated and written (or kept: a fragment, a stored SYN).
    Done,
    /// Dropped, for this reason.
    Dropped(&'static str),
    /// Its offloads cannot be kept: nothing was done; cut it in software.
    Offload,
}

impl Handled {
    fn dropped(self) -> Option<&'static str> {
        match self {
            Self::Done => None,
            Self::Dropped(r) => Some(r),
            Self::Offload => Some("offload"),
        }
    }
}

/// What a packet goes through: the engine, the clock, the scope rule, the
/// output buffer, the device and the counters.
struct Path<'a, 'd> {
    nat: &'a mut Nat64,
    clock: &'a Clock,
    scope: Option<Nat64Prefix>,
    out: &'a mut [u8],
    io: &'a mut Io<'d>,
    c: &'a mut Counters,
}

impl Path<'_, '_> {
    /// One read from a device with offloads: `virtio_net_hdr` and packet.
    /// Translated whole when the engine can keep its offloads, else cut and
    /// checksummed here and translated packet by packet.
    fn read_offload(&mut self, frame: &mut [u8], split: &mut Split) -> Option<&'static str> {
        let Ok(hdr) = VirtioNetHdr::decode(frame) else {
            return Some(self.c.drop_named("offload_header"));
        };
        let packet = frame.get_mut(HDR..).unwrap_or_default();
        self.c.count_read(packet);
        if let Read::Whole(off, hdr) = offload::classify(hdr, packet) {
            match self.handle(packet, off, hdr) {
                Handled::Offload => {}
                Handled::Done => {
                    if off.is_some() {
                        self.c.offload_kept += 1;
                    }
                    return None;
                }
                Handled::Dropped(r) => return Some(r),
            }
        }
        self.c.offload_software += 1;
        let mut dropped = None;
        let done = split.packets(hdr, packet, |p| {
            if let Some(r) = self
                .handle(p, Offload::NONE, VirtioNetHdr::default())
                .dropped()
            {
                dropped = Some(r);
            }
        });
        match done {
            Ok(()) => dropped,
            Err(_) => Some(self.c.drop_named("offload_header")),
        }
    }

    /// One packet (read with `off` and `hdr`) through the engine and back.
    fn handle(&mut self, packet: &[u8], off: Offload, hdr: VirtioNetHdr) -> Handled {
        let c = &mut *self.c;
        let now = self.clock.now();
        let emit = match packet.first().map(|b| b >> 4) {
            Some(6) => {
                if self.scope.is_some_and(|p| !v6_dst_in_scope(p, packet)) {
                    return Handled::Dropped(c.drop_named("non_global"));
                }
                self.nat.handle_v6_offload(now, packet, off, self.out)
            }
            Some(4) => {
                if self.scope.is_some_and(|p| !v4_src_in_scope(p, packet)) {
                    return Handled::Dropped(c.drop_named("non_global"));
                }
                self.nat.handle_v4_offload(now, packet, off, self.out)
            }
            _ => return Handled::Dropped(c.drop_named("not_ip")),
        };
        let (to, reply) = match emit {
            Emit::V4 { reply, .. } => (Dir::V4, reply),
            Emit::V6 { reply, .. } => (Dir::V6, reply),
            Emit::Drop(Reason::Offload) => return Handled::Offload,
            // A fragment kept until its datagram is whole is not a loss.
            Emit::Drop(r) if engine_config::is_held(r) => {
                c.held(engine_config::reason_name(r));
                return Handled::Done;
            }
            Emit::Drop(r) => return Handled::Dropped(c.drop_named(engine_config::reason_name(r))),
        };
        if let Some(r) = reply {
            c.reply(engine_config::reason_name(r));
        }
        for p in emit.packets(self.out) {
            self.io.send(to, offload::header_for(off, hdr, p), p, c);
        }
        Handled::Done
    }
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
        .map(std::net::Ipv4Addr::from)
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
