//! Counters of the DNS64 server and the Prometheus `/metrics` endpoint, in
//! the proxy's style. Counters are plain atomics (relaxed: each is
//! independent and only ever read for display).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hickory_proto::op::ResponseCode;

/// The transport a query came over (the `proto` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    Udp,
    Tcp,
}

impl Proto {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Udp => "udp",
            Self::Tcp => "tcp",
        }
    }
}

/// The RCODE labels kept apart; everything else is `other`.
const RCODES: [&str; 7] = [
    "noerror", "formerr", "servfail", "nxdomain", "notimp", "refused", "other",
];

fn rcode_index(rcode: ResponseCode) -> usize {
    match rcode {
        ResponseCode::NoError => 0,
        ResponseCode::FormErr => 1,
        ResponseCode::ServFail => 2,
        ResponseCode::NXDomain => 3,
        ResponseCode::NotImp => 4,
        ResponseCode::Refused => 5,
        _ => 6,
    }
}

/// Why an upstream try failed (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UpstreamError {
    Timeout,
    Network,
    Tcp,
}

impl UpstreamError {
    const ALL: [Self; 3] = [Self::Timeout, Self::Network, Self::Tcp];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Network => "network",
            Self::Tcp => "tcp",
        }
    }
}

/// Why a query was dropped unanswered (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drop {
    /// Too many queries in flight.
    Overload,
    /// Not even a DNS header to answer.
    Unparsable,
    /// Over the client's rate limit.
    RateLimited,
}

impl Drop {
    const ALL: [Self; 3] = [Self::Overload, Self::Unparsable, Self::RateLimited];

    fn as_str(self) -> &'static str {
        match self {
            Self::Overload => "overload",
            Self::Unparsable => "unparsable",
            Self::RateLimited => "rate_limited",
        }
    }
}

/// Every counter the DNS64 server keeps.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    queries: [AtomicU64; 2],
    responses: [AtomicU64; RCODES.len()],
    synthesized: AtomicU64,
    refused: AtomicU64,
    formerr: AtomicU64,
    upstream_errors: [AtomicU64; UpstreamError::ALL.len()],
    dropped: [AtomicU64; Drop::ALL.len()],
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    reloads: [AtomicU64; 2],
}

/// The cache's size now, for the gauges.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CacheGauges {
    pub(crate) entries: usize,
    pub(crate) bytes: u64,
    pub(crate) capacity: u64,
}

impl Metrics {
    pub(crate) fn query(&self, proto: Proto) {
        self.queries[proto as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn response(&self, rcode: ResponseCode) {
        if let Some(c) = self.responses.get(rcode_index(rcode)) {
            c.fetch_add(1, Relaxed);
        }
    }

    /// A response with the 4-bit RCODE `low` from the header.
    pub(crate) fn response_low(&self, low: u8) {
        self.response(ResponseCode::from(0, low & 0x0f));
    }

    pub(crate) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Relaxed);
    }

    pub(crate) fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Relaxed);
    }

    pub(crate) fn reload(&self, ok: bool) {
        self.reloads[usize::from(!ok)].fetch_add(1, Relaxed);
    }

    pub(crate) fn synthesized(&self) {
        self.synthesized.fetch_add(1, Relaxed);
    }

    pub(crate) fn refused(&self) {
        self.refused.fetch_add(1, Relaxed);
    }

    pub(crate) fn formerr(&self) {
        self.formerr.fetch_add(1, Relaxed);
    }

    pub(crate) fn upstream_error(&self, reason: UpstreamError) {
        self.upstream_errors[reason as usize].fetch_add(1, Relaxed);
    }

    pub(crate) fn dropped(&self, reason: Drop) {
        self.dropped[reason as usize].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self, cache: CacheGauges) -> String {
        let mut out = String::with_capacity(2048);
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_queries_total Client queries received, by transport.\n\
             # TYPE sixgate_dns64_queries_total counter"
        );
        for p in [Proto::Udp, Proto::Tcp] {
            let _ = writeln!(
                out,
                "sixgate_dns64_queries_total{{proto=\"{}\"}} {}",
                p.as_str(),
                self.queries[p as usize].load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_responses_total Responses sent to clients, by RCODE.\n\
             # TYPE sixgate_dns64_responses_total counter"
        );
        for (r, c) in RCODES.iter().zip(&self.responses) {
            let _ = writeln!(
                out,
                "sixgate_dns64_responses_total{{rcode=\"{r}\"}} {}",
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_synthesized_total Responses with AAAA records synthesised from A.\n\
             # TYPE sixgate_dns64_synthesized_total counter\n\
             sixgate_dns64_synthesized_total {}",
            self.synthesized.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_refused_total Queries refused by the client ACL.\n\
             # TYPE sixgate_dns64_refused_total counter\n\
             sixgate_dns64_refused_total {}",
            self.refused.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_formerr_total Client messages that could not be parsed or were not one standard query.\n\
             # TYPE sixgate_dns64_formerr_total counter\n\
             sixgate_dns64_formerr_total {}",
            self.formerr.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_upstream_errors_total Failed upstream tries, by reason.\n\
             # TYPE sixgate_dns64_upstream_errors_total counter"
        );
        for (r, c) in UpstreamError::ALL.iter().zip(&self.upstream_errors) {
            let _ = writeln!(
                out,
                "sixgate_dns64_upstream_errors_total{{reason=\"{}\"}} {}",
                r.as_str(),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_dropped_total Client messages dropped unanswered, by reason.\n\
             # TYPE sixgate_dns64_dropped_total counter"
        );
        for (r, c) in Drop::ALL.iter().zip(&self.dropped) {
            let _ = writeln!(
                out,
                "sixgate_dns64_dropped_total{{reason=\"{}\"}} {}",
                r.as_str(),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_cache_hits_total Queries answered from the cache.\n\
             # TYPE sixgate_dns64_cache_hits_total counter\n\
             sixgate_dns64_cache_hits_total {}\n\
             # HELP sixgate_dns64_cache_misses_total Cacheable queries not found in the cache.\n\
             # TYPE sixgate_dns64_cache_misses_total counter\n\
             sixgate_dns64_cache_misses_total {}\n\
             # HELP sixgate_dns64_cache_entries Answers held in the cache.\n\
             # TYPE sixgate_dns64_cache_entries gauge\n\
             sixgate_dns64_cache_entries {}\n\
             # HELP sixgate_dns64_cache_bytes Bytes the cached answers weigh.\n\
             # TYPE sixgate_dns64_cache_bytes gauge\n\
             sixgate_dns64_cache_bytes {}\n\
             # HELP sixgate_dns64_cache_capacity_bytes The cache's size bound.\n\
             # TYPE sixgate_dns64_cache_capacity_bytes gauge\n\
             sixgate_dns64_cache_capacity_bytes {}",
            self.cache_hits.load(Relaxed),
            self.cache_misses.load(Relaxed),
            cache.entries,
            cache.bytes,
            cache.capacity,
        );
        let _ = writeln!(
            out,
            "# HELP sixgate_dns64_reloads_total Config reloads (SIGHUP), by result.\n\
             # TYPE sixgate_dns64_reloads_total counter\n\
             sixgate_dns64_reloads_total{{result=\"ok\"}} {}\n\
             sixgate_dns64_reloads_total{{result=\"error\"}} {}",
            self.reloads[0].load(Relaxed),
            self.reloads[1].load(Relaxed),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series() {
        let m = Metrics::default();
        m.query(Proto::Tcp);
        m.response(ResponseCode::NXDomain);
        m.upstream_error(UpstreamError::Timeout);
        m.cache_hit();
        let text = m.render(CacheGauges::default());
        assert!(text.contains("sixgate_dns64_queries_total{proto=\"tcp\"} 1\n"));
        assert!(text.contains("sixgate_dns64_responses_total{rcode=\"nxdomain\"} 1\n"));
        assert!(text.contains("sixgate_dns64_upstream_errors_total{reason=\"timeout\"} 1\n"));
        assert!(text.contains("sixgate_dns64_synthesized_total 0\n"));
        assert!(text.contains("sixgate_dns64_cache_hits_total 1\n"));
        assert!(text.contains("sixgate_dns64_cache_entries 0\n"));
        assert!(text.contains("sixgate_dns64_reloads_total{result=\"error\"} 0\n"));
    }
}
