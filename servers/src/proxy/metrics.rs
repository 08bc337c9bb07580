//! Counters and the Prometheus `/metrics` endpoint. Counters are plain
//! atomics (relaxed: each is independent and only ever read for display).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Why a connection was refused (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    MaxConnections,
    PerClientLimit,
    HelloTimeout,
    NotTls,
    BadHello,
    BadRequest,
    HeadTooLarge,
    UnknownName,
    InvalidName,
    NoName,
    IpLiteral,
    DynamicRefused,
    BadProxyHeader,
    ClosedEarly,
}

impl Refusal {
    const ALL: [Self; 14] = [
        Self::MaxConnections,
        Self::PerClientLimit,
        Self::HelloTimeout,
        Self::NotTls,
        Self::BadHello,
        Self::BadRequest,
        Self::HeadTooLarge,
        Self::UnknownName,
        Self::InvalidName,
        Self::NoName,
        Self::IpLiteral,
        Self::DynamicRefused,
        Self::BadProxyHeader,
        Self::ClosedEarly,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::PerClientLimit => "per_client_limit",
            Self::HelloTimeout => "hello_timeout",
            Self::NotTls => "not_tls",
            Self::BadHello => "bad_hello",
            Self::BadRequest => "bad_request",
            Self::HeadTooLarge => "head_too_large",
            Self::UnknownName => "unknown_name",
            Self::InvalidName => "invalid_name",
            Self::NoName => "no_name",
            Self::IpLiteral => "ip_literal",
            Self::DynamicRefused => "dynamic_refused",
            Self::BadProxyHeader => "bad_proxy_header",
            Self::ClosedEarly => "closed_early",
        }
    }
}

/// Why a backend could not be reached (the `reason` label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BackendError {
    ConnectRefused,
    ConnectTimeout,
    ConnectError,
    Resolve,
}

impl BackendError {
    const ALL: [Self; 4] = [
        Self::ConnectRefused,
        Self::ConnectTimeout,
        Self::ConnectError,
        Self::Resolve,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::ConnectRefused => "connect_refused",
            Self::ConnectTimeout => "connect_timeout",
            Self::ConnectError => "connect_error",
            Self::Resolve => "resolve",
        }
    }
}

/// Every counter the proxy keeps.
#[derive(Debug)]
pub(crate) struct Metrics {
    listeners: Vec<String>,
    accepted: Vec<AtomicU64>,
    forwarded: Vec<AtomicU64>,
    active: AtomicU64,
    refused: [AtomicU64; Refusal::ALL.len()],
    backend_errors: [AtomicU64; BackendError::ALL.len()],
    bytes_up: AtomicU64,
    bytes_down: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_error: AtomicU64,
}

impl Metrics {
    pub(crate) fn new(listeners: Vec<String>) -> Self {
        let n = listeners.len();
        Self {
            listeners,
            accepted: (0..n).map(|_| AtomicU64::new(0)).collect(),
            forwarded: (0..n).map(|_| AtomicU64::new(0)).collect(),
            active: AtomicU64::new(0),
            refused: Default::default(),
            backend_errors: Default::default(),
            bytes_up: AtomicU64::new(0),
            bytes_down: AtomicU64::new(0),
            reloads_ok: AtomicU64::new(0),
            reloads_error: AtomicU64::new(0),
        }
    }

    pub(crate) fn accepted(&self, listener: usize) {
        if let Some(c) = self.accepted.get(listener) {
            c.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn forwarded(&self, listener: usize) {
        if let Some(c) = self.forwarded.get(listener) {
            c.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn active_add(&self) {
        self.active.fetch_add(1, Relaxed);
    }

    pub(crate) fn active_sub(&self) {
        self.active.fetch_sub(1, Relaxed);
    }

    pub(crate) fn refused(&self, reason: Refusal) {
        if let Some(i) = Refusal::ALL.iter().position(|r| *r == reason) {
            if let Some(c) = self.refused.get(i) {
                c.fetch_add(1, Relaxed);
            }
        }
    }

    pub(crate) fn backend_error(&self, reason: BackendError) {
        if let Some(i) = BackendError::ALL.iter().position(|r| *r == reason) {
            if let Some(c) = self.backend_errors.get(i) {
                c.fetch_add(1, Relaxed);
            }
        }
    }

    pub(crate) fn bytes(&self, up: u64, down: u64) {
        self.bytes_up.fetch_add(up, Relaxed);
        self.bytes_down.fetch_add(down, Relaxed);
    }

    pub(crate) fn reload(&self, ok: bool) {
        if ok {
            &self.reloads_ok
        } else {
            &self.reloads_error
        }
        .fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(crate) fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(
            out,
            "# HELP sixgate_proxy_connections_accepted_total Connections accepted, by listener.\n\
             # TYPE sixgate_proxy_connections_accepted_total counter"
        );
        for (name, c) in self.listeners.iter().zip(&self.accepted) {
            let _ = writeln!(
                out,
                "sixgate_proxy_connections_accepted_total{{listener=\"{}\"}} {}",
                escape(name),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_proxy_connections_forwarded_total Connections forwarded to a backend, by listener.\n\
             # TYPE sixgate_proxy_connections_forwarded_total counter"
        );
        for (name, c) in self.listeners.iter().zip(&self.forwarded) {
            let _ = writeln!(
                out,
                "sixgate_proxy_connections_forwarded_total{{listener=\"{}\"}} {}",
                escape(name),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_proxy_connections_active Connections open now.\n\
             # TYPE sixgate_proxy_connections_active gauge\n\
             sixgate_proxy_connections_active {}",
            self.active.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP sixgate_proxy_refused_total Connections refused, by reason.\n\
             # TYPE sixgate_proxy_refused_total counter"
        );
        for (r, c) in Refusal::ALL.iter().zip(&self.refused) {
            let _ = writeln!(
                out,
                "sixgate_proxy_refused_total{{reason=\"{}\"}} {}",
                r.as_str(),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_proxy_backend_errors_total Failed backend connects, by reason.\n\
             # TYPE sixgate_proxy_backend_errors_total counter"
        );
        for (r, c) in BackendError::ALL.iter().zip(&self.backend_errors) {
            let _ = writeln!(
                out,
                "sixgate_proxy_backend_errors_total{{reason=\"{}\"}} {}",
                r.as_str(),
                c.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP sixgate_proxy_bytes_total Bytes forwarded; up is client to backend.\n\
             # TYPE sixgate_proxy_bytes_total counter\n\
             sixgate_proxy_bytes_total{{direction=\"up\"}} {}\n\
             sixgate_proxy_bytes_total{{direction=\"down\"}} {}",
            self.bytes_up.load(Relaxed),
            self.bytes_down.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP sixgate_proxy_reloads_total Config reloads (SIGHUP), by result.\n\
             # TYPE sixgate_proxy_reloads_total counter\n\
             sixgate_proxy_reloads_total{{result=\"ok\"}} {}\n\
             sixgate_proxy_reloads_total{{result=\"error\"}} {}",
            self.reloads_ok.load(Relaxed),
            self.reloads_error.load(Relaxed)
        );
        out
    }
}

/// A label value as the exposition format wants it.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
