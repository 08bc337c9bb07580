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
}

impl Drop {
    const ALL: [Self; 2] = [Self::Overload, Self::Unparsable];

    fn as_str(self) -> &'static str {
        match self {
            Self::Overload => "overload",
            Self::Unparsable => "unparsable",
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
    pub(crate) fn render(&self) -> String {
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
        let text = m.render();
        assert!(text.contains("sixgate_dns64_queries_total{proto=\"tcp\"} 1\n"));
        assert!(text.contains("sixgate_dns64_responses_total{rcode=\"nxdomain\"} 1\n"));
        assert!(text.contains("sixgate_dns64_upstream_errors_total{reason=\"timeout\"} 1\n"));
        assert!(text.contains("sixgate_dns64_synthesized_total 0\n"));
    }
}
