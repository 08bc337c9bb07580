//! The gateway's counters and the Prometheus text. The worker counts in
//! plain integers of its own and publishes a [`Snapshot`] every
//! [`PUBLISH_EVERY`](super::worker::PUBLISH_EVERY); a scrape renders the
//! latest one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::engine_config::Gauges;

/// A packet's family at the TUN device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    V6 = 0,
    V4 = 1,
}

const FAMILIES: [&str; 2] = ["ipv6", "ipv4"];

/// The worker's counters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    packets_in: [u64; 2],
    bytes_in: [u64; 2],
    packets_out: [u64; 2],
    bytes_out: [u64; 2],
    /// Drops by reason (the core's stable names, plus `non_global` and
    /// `not_ip` of the server).
    dropped: BTreeMap<&'static str, u64>,
    /// ICMP errors the translator sent itself, by reason.
    icmp_errors: BTreeMap<&'static str, u64>,
    /// Packets the engine made itself (`poll_transmit`) written to the
    /// device, by kind: `probe`, `simultaneous_open`, `syn_expired`.
    transmits: BTreeMap<&'static str, u64>,
    /// `LimitReached` events, by limit (at most one a second per limit).
    limits: BTreeMap<&'static str, u64>,
    pub(crate) io_errors: u64,
    /// Fragments kept until their datagram is whole.
    pub(crate) fragments_held: u64,
    /// Unsolicited IPv4 SYNs stored for a simultaneous open.
    pub(crate) syns_stored: u64,
    /// Reads with offloads (a partial checksum, a TCP super-packet)
    /// translated keeping them.
    pub(crate) offload_kept: u64,
    /// Reads with offloads completed in software first: a single packet's
    /// partial checksum, or a super-packet cut into packets.
    pub(crate) offload_software: u64,
    /// Packets read by one worker and handed to the worker whose engine
    /// shard owns them.
    pub(crate) handoffs: u64,
    /// Packets to hand over that found the owner's queue full (dropped).
    pub(crate) handoff_drops: u64,
}

impl Counters {
    /// Counts a packet read from the device, by its version (a packet that
    /// is neither is counted as a `not_ip` drop later).
    pub(crate) fn count_read(&mut self, packet: &[u8]) {
        match packet.first().map(|b| b >> 4) {
            Some(6) => self.count_in(Dir::V6, packet.len()),
            Some(4) => self.count_in(Dir::V4, packet.len()),
            _ => {}
        }
    }

    pub(crate) fn count_in(&mut self, d: Dir, len: usize) {
        let i = d as usize;
        if let (Some(p), Some(b)) = (self.packets_in.get_mut(i), self.bytes_in.get_mut(i)) {
            *p += 1;
            *b += len as u64;
        }
    }

    pub(crate) fn count_out(&mut self, d: Dir, len: usize) {
        let i = d as usize;
        if let (Some(p), Some(b)) = (self.packets_out.get_mut(i), self.bytes_out.get_mut(i)) {
            *p += 1;
            *b += len as u64;
        }
    }

    /// Counts a drop; gives the reason back.
    pub(crate) fn drop_named(&mut self, reason: &'static str) -> &'static str {
        *self.dropped.entry(reason).or_insert(0) += 1;
        reason
    }

    pub(crate) fn reply(&mut self, reason: &'static str) {
        *self.icmp_errors.entry(reason).or_insert(0) += 1;
    }

    /// A packet the engine kept rather than dropped: a fragment
    /// (`reassembling`) or a stored SYN (`syn_stored`).
    pub(crate) fn held(&mut self, reason: &'static str) {
        if reason == "syn_stored" {
            self.syns_stored += 1;
        } else {
            self.fragments_held += 1;
        }
    }

    pub(crate) fn transmit(&mut self, kind: &'static str) {
        *self.transmits.entry(kind).or_insert(0) += 1;
    }

    pub(crate) fn limit(&mut self, limit: &'static str) {
        *self.limits.entry(limit).or_insert(0) += 1;
    }

    /// Adds another worker's counters.
    pub(crate) fn merge(&mut self, o: &Counters) {
        // Every field named, so a new counter cannot be left out.
        let Counters {
            packets_in,
            bytes_in,
            packets_out,
            bytes_out,
            dropped,
            icmp_errors,
            transmits,
            limits,
            io_errors,
            fragments_held,
            syns_stored,
            offload_kept,
            offload_software,
            handoffs,
            handoff_drops,
        } = o;
        for (a, b) in [
            (&mut self.packets_in, packets_in),
            (&mut self.bytes_in, bytes_in),
            (&mut self.packets_out, packets_out),
            (&mut self.bytes_out, bytes_out),
        ] {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in [
            (&mut self.dropped, dropped),
            (&mut self.icmp_errors, icmp_errors),
            (&mut self.transmits, transmits),
            (&mut self.limits, limits),
        ] {
            for (k, v) in b {
                *a.entry(k).or_insert(0) += v;
            }
        }
        for (a, b) in [
            (&mut self.io_errors, io_errors),
            (&mut self.fragments_held, fragments_held),
            (&mut self.syns_stored, syns_stored),
            (&mut self.offload_kept, offload_kept),
            (&mut self.offload_software, offload_software),
            (&mut self.handoffs, handoffs),
            (&mut self.handoff_drops, handoff_drops),
        ] {
            *a += b;
        }
    }
}

/// What a scrape shows.
#[derive(Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) counters: Counters,
    pub(crate) gauges: Gauges,
    pub(crate) reloads: [u64; 2],
    /// Packet workers (TUN queues, engine shards).
    pub(crate) workers: usize,
}

impl Snapshot {
    pub(crate) fn render(&self) -> String {
        let c = &self.counters;
        let g = &self.gauges;
        let mut s = String::new();
        for (name, what, inn, out) in [
            (
                "sixgate_nat64_packets_total",
                "Packets",
                &c.packets_in,
                &c.packets_out,
            ),
            (
                "sixgate_nat64_bytes_total",
                "Bytes",
                &c.bytes_in,
                &c.bytes_out,
            ),
        ] {
            let _ = writeln!(
                s,
                "# HELP {name} {what} read from (in) and written to (out) the TUN device, by IP family.\n\
                 # TYPE {name} counter"
            );
            for (dir, v) in [("in", inn), ("out", out)] {
                for (f, n) in FAMILIES.iter().zip(v) {
                    let _ = writeln!(s, "{name}{{dir=\"{dir}\",family=\"{f}\"}} {n}");
                }
            }
        }
        let _ = writeln!(
            s,
            "# HELP sixgate_nat64_dropped_total Packets dropped, by reason.\n\
             # TYPE sixgate_nat64_dropped_total counter"
        );
        for (r, n) in &c.dropped {
            let _ = writeln!(s, "sixgate_nat64_dropped_total{{reason=\"{r}\"}} {n}");
        }
        let _ = writeln!(
            s,
            "# HELP sixgate_nat64_icmp_errors_sent_total ICMP errors the translator sent itself, by reason.\n\
             # TYPE sixgate_nat64_icmp_errors_sent_total counter"
        );
        for (r, n) in &c.icmp_errors {
            let _ = writeln!(
                s,
                "sixgate_nat64_icmp_errors_sent_total{{reason=\"{r}\"}} {n}"
            );
        }
        let _ = writeln!(
            s,
            "# HELP sixgate_nat64_transmits_total Packets the engine made itself and the gateway wrote: TCP probes, stored SYNs of simultaneous opens, Port Unreachables for expired stored SYNs.\n\
             # TYPE sixgate_nat64_transmits_total counter"
        );
        for (r, n) in &c.transmits {
            let _ = writeln!(s, "sixgate_nat64_transmits_total{{reason=\"{r}\"}} {n}");
        }
        let _ = writeln!(
            s,
            "# HELP sixgate_nat64_limit_reached_total Limit alarms (LimitReached events, at most one a second per limit), by limit.\n\
             # TYPE sixgate_nat64_limit_reached_total counter"
        );
        for (r, n) in &c.limits {
            let _ = writeln!(s, "sixgate_nat64_limit_reached_total{{limit=\"{r}\"}} {n}");
        }
        let _ = writeln!(
            s,
            "# HELP sixgate_nat64_state_refused_total Packets the state tables refused, by the core's reason (limits, filtering, no BIB entry, ...).\n\
             # TYPE sixgate_nat64_state_refused_total counter"
        );
        for (r, n) in &g.state_drops {
            let _ = writeln!(s, "sixgate_nat64_state_refused_total{{reason=\"{r}\"}} {n}");
        }
        for (name, help) in [
            (
                "sixgate_nat64_port_blocks_in_use",
                "Pool4 port blocks held by customers, by protocol.",
            ),
            (
                "sixgate_nat64_port_blocks_free",
                "Pool4 port blocks free, by protocol.",
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge");
            for (p, b) in ["tcp", "udp", "icmp"].iter().zip(&g.blocks) {
                let v = if name.ends_with("free") {
                    b.free
                } else {
                    b.total.saturating_sub(b.free)
                };
                let _ = writeln!(s, "{name}{{proto=\"{p}\"}} {v}");
            }
        }
        for (name, help, kind, v) in [
            (
                "sixgate_nat64_sessions",
                "Sessions in the table.",
                "gauge",
                g.sessions,
            ),
            (
                "sixgate_nat64_bibs",
                "Binding (BIB) entries.",
                "gauge",
                g.bibs,
            ),
            (
                "sixgate_nat64_pool4_transport_addresses",
                "Pool4 transport addresses per protocol (addresses times ports).",
                "gauge",
                g.pool_capacity,
            ),
            (
                "sixgate_nat64_customers",
                "Customers (IPv6 /64s) holding BIB entries.",
                "gauge",
                g.customers,
            ),
            (
                "sixgate_nat64_stored_syns",
                "Unsolicited IPv4 SYNs kept for simultaneous open.",
                "gauge",
                g.stored_syns,
            ),
            (
                "sixgate_nat64_tcp_probes_total",
                "TCP probes the engine made for established sessions at their lifetime.",
                "counter",
                g.probes,
            ),
            (
                "sixgate_nat64_transmits_lost_total",
                "Packets the engine made itself but lost (its queue full, or a stored SYN it could not translate).",
                "counter",
                g.transmits_lost,
            ),
            (
                "sixgate_nat64_log_events_dropped_total",
                "Log events lost because the engine's queue was full.",
                "counter",
                g.events_lost,
            ),
            (
                "sixgate_nat64_fragments_held_total",
                "Fragments kept until their datagram was whole (not drops).",
                "counter",
                c.fragments_held,
            ),
            (
                "sixgate_nat64_syns_stored_total",
                "Unsolicited IPv4 SYNs stored for a simultaneous open (answered after 6 s with Port Unreachable if no IPv6 SYN comes; not drops).",
                "counter",
                c.syns_stored,
            ),
            (
                "sixgate_nat64_offload_kept_total",
                "Reads with offloads (a partial checksum, a TCP super-packet of up to 64 KiB) translated whole, keeping them.",
                "counter",
                c.offload_kept,
            ),
            (
                "sixgate_nat64_offload_software_total",
                "Reads with offloads completed in software: single packets with a partial checksum (so they can be batched), and super-packets the engine could not keep (UDP segmentation, fragmenting, ICMP errors), cut into packets.",
                "counter",
                c.offload_software,
            ),
            (
                "sixgate_nat64_io_errors_total",
                "TUN reads and writes that failed.",
                "counter",
                c.io_errors,
            ),
            (
                "sixgate_nat64_workers",
                "Packet workers, each with its own TUN queue and engine shard.",
                "gauge",
                self.workers as u64,
            ),
            (
                "sixgate_nat64_handoffs_total",
                "Packets read by one worker and handed to the worker whose shard owns them.",
                "counter",
                c.handoffs,
            ),
            (
                "sixgate_nat64_handoff_drops_total",
                "Packets to hand to another worker dropped because its queue was full (also in dropped_total as handoff_full).",
                "counter",
                c.handoff_drops,
            ),
        ] {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP sixgate_nat64_reloads_total SIGHUP reloads, by result.\n\
             # TYPE sixgate_nat64_reloads_total counter\n\
             sixgate_nat64_reloads_total{{result=\"ok\"}} {}\n\
             sixgate_nat64_reloads_total{{result=\"error\"}} {}",
            self.reloads[0], self.reloads[1]
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat64::engine_config::Blocks;

    #[test]
    fn the_new_series() {
        let mut snap = Snapshot::default();
        snap.counters.transmit("syn_expired");
        snap.counters.transmit("syn_expired");
        snap.counters.limit("session_limit");
        snap.counters.held("syn_stored");
        snap.counters.held("reassembling");
        snap.gauges.blocks[1] = Blocks { total: 10, free: 7 };
        snap.gauges.state_drops = vec![("no_bib", 4)];
        snap.gauges.transmits_lost = 3;
        // A second worker's share.
        let mut other = Counters::default();
        other.transmit("syn_expired");
        other.handoffs = 5;
        other.handoff_drops = 1;
        snap.counters.merge(&other);
        let mut g = Gauges::default();
        g.blocks[1] = Blocks { total: 10, free: 1 };
        g.state_drops = vec![("no_bib", 2)];
        g.sessions = 4;
        snap.gauges.merge(&g);
        snap.workers = 2;
        let text = snap.render();
        for line in [
            "sixgate_nat64_transmits_total{reason=\"syn_expired\"} 3",
            "sixgate_nat64_limit_reached_total{limit=\"session_limit\"} 1",
            "sixgate_nat64_syns_stored_total 1",
            "sixgate_nat64_fragments_held_total 1",
            "sixgate_nat64_port_blocks_in_use{proto=\"udp\"} 2",
            "sixgate_nat64_port_blocks_free{proto=\"udp\"} 8",
            "sixgate_nat64_port_blocks_in_use{proto=\"tcp\"} 0",
            "sixgate_nat64_state_refused_total{reason=\"no_bib\"} 6",
            "sixgate_nat64_transmits_lost_total 3",
            "sixgate_nat64_sessions 4",
            "sixgate_nat64_workers 2",
            "sixgate_nat64_handoffs_total 5",
            "sixgate_nat64_handoff_drops_total 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
    }
}
