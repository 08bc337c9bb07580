//! Everything of the gateway that touches the core engine's configuration,
//! event and statistics types, kept in one place so that a change of the
//! core's state layer is adapted here alone:
//!
//! - [`build`]: the server's [`Config`] → the core's `xlat::Config` and
//!   `state::Config` (and the core's rule violations, named by key);
//! - [`engine`]: a new [`Nat64`] from them;
//! - [`log_line`]: a core event → an RFC 6888 §4 log line (UTC);
//! - [`Gauges`]: the table sizes the `/metrics` endpoint shows;
//! - [`now`]: the process clock as the core's `Instant`.

use std::fmt::Write as _;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sixgate::nat64::state::{self, Event, Instant};
use sixgate::nat64::xlat::{self, Proto, Reason};
use sixgate::nat64::Nat64;

use super::config::{Config, Filtering, Key};

/// The core configurations of one engine.
#[derive(Debug, Clone)]
pub(crate) struct Built {
    pub(crate) xlat: xlat::Config,
    pub(crate) state: state::Config,
}

/// Checks `config` against the core's rules and builds its configurations.
pub(crate) fn build(config: &Config) -> Result<Built, (Key, String)> {
    let mut x = xlat::Config::builder()
        .icmp_source_v4(config.icmp_v4())
        .icmp_source_v6(config.icmp_v6());
    if let Some(m) = config.ipv6_mtu {
        x = x.ipv6_mtu(m);
    }
    if let Some(m) = config.ipv4_mtu {
        x = x.ipv4_mtu(m);
    }
    let xlat = x.build().map_err(|e| {
        let key = match e {
            xlat::ConfigError::Ipv4Mtu { .. } => Key::Mtu("ipv4"),
            _ => Key::Mtu("ipv6"),
        };
        (key, e.to_string())
    })?;
    let [udp, icmp, tcp_est, tcp_trans] = timeouts(config);
    let timeouts = state::Timeouts {
        udp,
        icmp,
        tcp_est,
        tcp_trans,
        ..state::Timeouts::default()
    };
    let (lo, hi) = config.ports();
    let mut s = state::Config::builder()
        .prefix(config.prefix)
        .ports(lo, hi)
        .timeouts(timeouts)
        .filtering(match config.filtering {
            Filtering::EndpointIndependent => state::Filtering::EndpointIndependent,
            Filtering::AddressDependent => state::Filtering::AddressDependent,
        });
    for p in &config.pool4 {
        s = s.pool(p.net);
    }
    if let Some(n) = config.max_sessions {
        s = s.max_sessions(n);
    }
    if let Some(n) = config.max_bindings_per_host {
        s = s.max_bindings_per_host(n);
    }
    if let Some((size, max)) = config.port_blocks {
        s = s.port_blocks(size, max);
    }
    let state = s.build().map_err(|e| {
        let key = match &e {
            state::ConfigError::Timeout { what, .. } => Key::Timeout(what),
            state::ConfigError::PortBlock { .. } => Key::PortBlocks,
            _ => Key::Pool4(0),
        };
        (key, e.to_string())
    })?;
    if config.max_sessions == Some(0) || config.max_bindings_per_host == Some(0) {
        return Err((Key::Limits, "limits must be above 0".into()));
    }
    Ok(Built { xlat, state })
}

/// The lifetimes in effect (udp, icmp, tcp established, tcp transitory),
/// the core's defaults where the config gives none.
pub(crate) fn timeouts(config: &Config) -> [u32; 4] {
    let d = state::Timeouts::default();
    let t = config.timeouts;
    [
        t.udp.unwrap_or(d.udp),
        t.icmp.unwrap_or(d.icmp),
        t.tcp_est.unwrap_or(d.tcp_est),
        t.tcp_trans.unwrap_or(d.tcp_trans),
    ]
}

/// A fresh engine; `seed` keys its hashes and port choices.
pub(crate) fn engine(built: &Built, seed: u64) -> Nat64 {
    Nat64::new(built.xlat.clone(), built.state.clone(), seed)
}

/// The process clock: the core's `Instant` counts milliseconds since
/// `start`; [`Clock::utc`] turns one back into wall time for logs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: std::time::Instant,
    wall: SystemTime,
}

impl Clock {
    pub(crate) fn new() -> Self {
        Self {
            start: std::time::Instant::now(),
            wall: SystemTime::now(),
        }
    }

    /// Now, for the engine.
    pub(crate) fn now(&self) -> Instant {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Instant::from_millis(ms)
    }

    /// How long from now until `at` (zero if past).
    pub(crate) fn until(&self, at: Instant) -> Duration {
        Duration::from_millis(at.millis().saturating_sub(self.now().millis()))
    }

    /// `at` as an RFC 3339 UTC timestamp with milliseconds.
    pub(crate) fn utc(&self, at: Instant) -> String {
        let t = self.wall + Duration::from_millis(at.millis());
        utc_text(t)
    }
}

/// The engine's gauges.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Gauges {
    pub(crate) sessions: u64,
    pub(crate) bibs: u64,
    pub(crate) events_dropped: u64,
    /// Pool4 transport addresses per protocol (addresses × ports).
    pub(crate) pool_capacity: u64,
}

impl Gauges {
    pub(crate) fn of(nat: &Nat64, config: &Config) -> Self {
        let st = nat.state();
        let addrs: u64 = config
            .pool4
            .iter()
            .map(|p| 1u64 << (32 - u32::from(p.net.prefix_len())))
            .sum();
        let (lo, hi) = config.ports();
        Self {
            sessions: st.session_count() as u64,
            bibs: st.binding_count() as u64,
            events_dropped: st.events_dropped(),
            pool_capacity: addrs * u64::from(hi - lo + 1),
        }
    }
}

/// The stable counter name of a drop reason.
pub(crate) fn reason_name(r: Reason) -> &'static str {
    r.as_str()
}

/// Whether a "drop" is a fragment held for reassembly, not a loss.
pub(crate) fn is_held(r: Reason) -> bool {
    r == Reason::Reassembling
}

fn proto(p: Proto) -> String {
    match p {
        Proto::Tcp => "TCP".into(),
        Proto::Udp => "UDP".into(),
        Proto::Icmp => "ICMP".into(),
        Proto::Other(n) => format!("proto-{n}"),
    }
}

fn v6(a: (Ipv6Addr, u16)) -> String {
    SocketAddrV6::new(a.0, a.1, 0, 0).to_string()
}

fn v4(a: (std::net::Ipv4Addr, u16)) -> String {
    SocketAddr::from(a).to_string()
}

/// An event as one RFC 6888 §4 log line (REQ-12: the IPv6 node, the pool
/// transport address, the protocol and the time, UTC), without newline.
pub(crate) fn log_line(clock: &Clock, e: &Event) -> String {
    let (at, what) = match *e {
        Event::BibCreated {
            proto: p,
            v6: a,
            v4: b,
            at,
        } => (at, format!("BIB create {} {} {}", proto(p), v6(a), v4(b))),
        Event::BibRemoved {
            proto: p,
            v6: a,
            v4: b,
            at,
        } => (at, format!("BIB release {} {} {}", proto(p), v6(a), v4(b))),
        Event::BlockAllocated {
            host,
            addr,
            ports,
            at,
        } => (
            at,
            format!("block create {host} {addr}:{}-{}", ports.0, ports.1),
        ),
        Event::BlockReleased {
            host,
            addr,
            ports,
            at,
        } => (
            at,
            format!("block release {host} {addr}:{}-{}", ports.0, ports.1),
        ),
        Event::PoolExhausted { proto: p, host, at } => {
            (at, format!("pool4 exhausted {} {host}", proto(p)))
        }
        Event::HostLimit { host, at } => (at, format!("limit per-host {host}")),
        Event::SessionLimit { at } => (at, "limit sessions".to_owned()),
        _ => (Instant::from_millis(0), format!("event {e:?}")),
    };
    let mut line = clock.utc(at);
    let _ = write!(line, " NAT64 {what}");
    line
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` (proleptic Gregorian, days from the epoch by
/// Howard Hinnant's `civil_from_days`).
fn utc_text(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_timestamps() {
        let t = |s: u64, ms: u64| utc_text(UNIX_EPOCH + Duration::from_millis(s * 1000 + ms));
        assert_eq!(t(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(t(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(t(1_796_558_399, 999), "2026-12-06T11:59:59.999Z");
    }

    #[test]
    fn log_lines() {
        let clock = Clock {
            start: std::time::Instant::now(),
            wall: UNIX_EPOCH,
        };
        let e = Event::BibCreated {
            proto: Proto::Udp,
            v6: ("2001:db8:1::10".parse().unwrap(), 5000),
            v4: ("203.0.113.1".parse().unwrap(), 5001),
            at: Instant::from_millis(1500),
        };
        assert_eq!(
            log_line(&clock, &e),
            "1970-01-01T00:00:01.500Z NAT64 BIB create UDP [2001:db8:1::10]:5000 203.0.113.1:5001"
        );
    }
}
