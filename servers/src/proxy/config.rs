//! The proxy's configuration: the TOML file and the one-line flags both build
//! the same validated [`Config`]. Every error names where it came from: for a
//! file, the file, line and key (`proxy.toml:17: route[0].backends[1]: …`);
//! for flags, the flag and its value.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use sixgate::name::HostName;
use sixgate::proxy_protocol::Version;
use sixgate::rfc6052::Nat64Prefix;
use toml::Spanned;

pub(crate) use crate::common::ConfigError;
use crate::common::{
    parse_duration, parse_listen, parse_net, parse_resolver, read_config, system_resolvers, Locator,
};

/// A listener's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Route by the ClientHello's SNI.
    Tls,
    /// Route by the request head's Host.
    Http,
    /// Every connection to one backend.
    Tcp,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Tls => "tls",
            Self::Http => "http",
            Self::Tcp => "tcp",
        }
    }
}

/// A backend address: complete, or an address whose port comes from the
/// listener (`backend_port`, else the port the client connected to).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Addr(SocketAddr),
    Host(IpAddr),
}

impl Backend {
    /// The address to dial for a connection that arrived on `local_port`.
    pub(crate) fn resolve(self, backend_port: Option<u16>, local_port: u16) -> SocketAddr {
        match self {
            Self::Addr(addr) => addr,
            Self::Host(ip) => SocketAddr::new(ip, backend_port.unwrap_or(local_port)),
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        if let Ok(addr) = text.parse::<SocketAddr>() {
            return Ok(Self::Addr(addr));
        }
        if let Some(inner) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            if let Ok(ip) = inner.parse::<Ipv6Addr>() {
                return Ok(Self::Host(IpAddr::V6(ip)));
            }
        }
        if let Ok(ip) = text.parse::<Ipv6Addr>() {
            return Err(format!(
                "{text:?} is ambiguous: write [{ip}] for the address alone (port from the \
                 listener) or [addr]:port"
            ));
        }
        if let Ok(ip) = text.parse::<std::net::Ipv4Addr>() {
            return Ok(Self::Host(IpAddr::V4(ip)));
        }
        Err(format!(
            "{text:?} is not a backend: write [IPv6]:port, [IPv6] or IPv4:port"
        ))
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Addr(addr) => write!(f, "{addr}"),
            Self::Host(IpAddr::V6(ip)) => write!(f, "[{ip}]"),
            Self::Host(IpAddr::V4(ip)) => write!(f, "{ip}"),
        }
    }
}

/// Where the backend-side connection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Source {
    /// The proxy's own address (the kernel chooses).
    #[default]
    Proxy,
    /// `nat46.prefix` with an IPv4 client's address embedded (RFC 6052).
    Nat46,
}

/// Where a matched connection goes and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) backends: Vec<Backend>,
    pub(crate) proxy_protocol: Option<Version>,
    pub(crate) source: Source,
}

/// A route: names (exact, or `*.suffix`) to a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) names: Vec<Pattern>,
    pub(crate) target: Target,
    /// Listener names this route applies to; `None`: every tls/http listener.
    pub(crate) listeners: Option<Vec<String>>,
}

/// A route's name pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Pattern {
    Exact(HostName),
    /// `*.suffix`: any name strictly below the suffix.
    Below(HostName),
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => write!(f, "{name}"),
            Self::Below(name) => write!(f, "*.{name}"),
        }
    }
}

impl Pattern {
    fn parse(text: &str) -> Result<Self, String> {
        let (wild, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let name = HostName::new(rest.as_bytes()).map_err(|e| {
            if rest.contains('*') {
                format!("{text:?}: a wildcard is only allowed as the whole first label (*.example.test)")
            } else {
                format!("{text:?} is not a host name: {e}")
            }
        })?;
        Ok(if wild {
            Self::Below(name)
        } else {
            Self::Exact(name)
        })
    }
}

/// One listener: its sockets and what it does with connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listener {
    pub(crate) name: String,
    pub(crate) mode: Mode,
    pub(crate) listen: Vec<SocketAddr>,
    /// tls/http: where names no route matches go (IP-literal or absent
    /// names too); tcp: the backend.
    pub(crate) default_target: Option<Arc<Target>>,
    pub(crate) backend_port: Option<u16>,
    pub(crate) accept_proxy_from: Vec<IpNet>,
}

/// The zero-config mode: names resolved on demand, checked against the
/// customers' prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dynamic {
    pub(crate) allowed_backends: Vec<IpNet>,
    pub(crate) names: Vec<HostName>,
    pub(crate) resolver: SocketAddr,
    pub(crate) proxy_protocol: Option<Version>,
    pub(crate) source: Source,
}

/// Limits and timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) hello_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: u32,
    pub(crate) max_connections_per_client: u32,
    pub(crate) client_ipv6_prefix_len: u8,
    pub(crate) max_head: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            hello_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(300),
            max_connections: 10_000,
            max_connections_per_client: 256,
            client_ipv6_prefix_len: 64,
            max_head: sixgate::http::DEFAULT_MAX_HEAD,
        }
    }
}

/// A whole, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Config {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) routes: Vec<Route>,
    pub(crate) nat46: Option<Nat64Prefix>,
    pub(crate) dynamic: Option<Dynamic>,
    pub(crate) limits: Limits,
    pub(crate) metrics: Option<SocketAddr>,
}

// ---------------------------------------------------------------------------
// The file form.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    listener: Vec<RawListener>,
    #[serde(default)]
    route: Vec<RawRoute>,
    nat46: Option<RawNat46>,
    dynamic: Option<RawDynamic>,
    limits: Option<RawLimits>,
    metrics: Option<RawMetrics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawListener {
    name: Option<Spanned<String>>,
    mode: Spanned<String>,
    listen: Spanned<Vec<Spanned<String>>>,
    default_backend: Option<Spanned<String>>,
    backend: Option<Spanned<String>>,
    backend_port: Option<Spanned<u16>>,
    accept_proxy_from: Option<Vec<Spanned<String>>>,
    proxy_protocol: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    names: Spanned<Vec<Spanned<String>>>,
    backends: Spanned<Vec<Spanned<String>>>,
    proxy_protocol: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    listeners: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNat46 {
    prefix: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDynamic {
    allowed_backends: Spanned<Vec<Spanned<String>>>,
    names: Option<Vec<Spanned<String>>>,
    resolver: Option<Spanned<String>>,
    proxy_protocol: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    hello_timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    max_connections: Option<Spanned<u32>>,
    max_connections_per_client: Option<Spanned<u32>>,
    client_ipv6_prefix_len: Option<Spanned<u8>>,
    max_head: Option<Spanned<u32>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetrics {
    listen: Spanned<String>,
}

/// Reads and validates a config file.
pub(crate) fn load(path: &Path) -> Result<Config, ConfigError> {
    let (file, text) = read_config(path)?;
    parse(&file, &text)
}

/// Validates a config file's text; `file` names it in errors.
pub(crate) fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let loc = Locator::new(file, text);
    build(&loc, loc.deserialize()?)
}

fn build(loc: &Locator<'_>, raw: RawConfig) -> Result<Config, ConfigError> {
    let nat46 = match &raw.nat46 {
        Some(n) => Some(
            n.prefix
                .get_ref()
                .parse::<Nat64Prefix>()
                .map_err(|e| loc.err(n.prefix.span(), "nat46.prefix", e.to_string()))?,
        ),
        None => None,
    };
    let mut listeners = Vec::new();
    let mut names = HashSet::new();
    let mut ports = HashSet::new();
    for (i, l) in raw.listener.iter().enumerate() {
        let key = |k: &str| format!("listener[{i}].{k}");
        let name = match &l.name {
            Some(n) => n.get_ref().clone(),
            None => format!("listener{i}"),
        };
        if !names.insert(name.clone()) {
            let span = l.name.as_ref().map_or(l.mode.span(), Spanned::span);
            return Err(loc.err(span, key("name"), format!("{name:?} names two listeners")));
        }
        let mode =
            parse_mode(l.mode.get_ref()).map_err(|m| loc.err(l.mode.span(), key("mode"), m))?;
        let mut listen = Vec::new();
        for (j, a) in l.listen.get_ref().iter().enumerate() {
            let addr = parse_listen(a.get_ref(), 443)
                .map_err(|m| loc.err(a.span(), key(&format!("listen[{j}]")), m))?;
            if !ports.insert(addr) {
                return Err(loc.err(
                    a.span(),
                    key(&format!("listen[{j}]")),
                    format!("{addr} is listened on twice"),
                ));
            }
            listen.push(addr);
        }
        if listen.is_empty() {
            return Err(loc.err(
                l.listen.span(),
                key("listen"),
                "no address to listen on".into(),
            ));
        }
        let pp = opt_proxy_protocol(loc, &l.proxy_protocol, &key("proxy_protocol"))?;
        let source = opt_source(loc, &l.source, &key("source"), nat46.is_some())?;
        let backend = opt_backend(loc, &l.backend, &key("backend"))?;
        let default_backend = opt_backend(loc, &l.default_backend, &key("default_backend"))?;
        let default_target = match mode {
            Mode::Tcp => {
                if let Some(d) = &l.default_backend {
                    return Err(loc.err(
                        d.span(),
                        key("default_backend"),
                        "a tcp listener has one `backend`, not a default".into(),
                    ));
                }
                let Some(backend) = backend else {
                    return Err(loc.err(
                        l.mode.span(),
                        key("backend"),
                        "a tcp listener needs `backend = \"[IPv6]:port\"`".into(),
                    ));
                };
                Some(Arc::new(Target {
                    backends: vec![backend],
                    proxy_protocol: pp,
                    source,
                }))
            }
            Mode::Tls | Mode::Http => {
                if let Some(b) = &l.backend {
                    return Err(loc.err(
                        b.span(),
                        key("backend"),
                        format!(
                            "only tcp listeners have `backend`; a {} listener routes by name \
                             (use `default_backend` for names no route matches)",
                            mode.as_str()
                        ),
                    ));
                }
                default_backend.map(|b| {
                    Arc::new(Target {
                        backends: vec![b],
                        proxy_protocol: pp,
                        source,
                    })
                })
            }
        };
        let mut accept_proxy_from = Vec::new();
        for (j, p) in l.accept_proxy_from.iter().flatten().enumerate() {
            accept_proxy_from.push(
                parse_net(p.get_ref())
                    .map_err(|m| loc.err(p.span(), key(&format!("accept_proxy_from[{j}]")), m))?,
            );
        }
        listeners.push(Listener {
            name,
            mode,
            listen,
            default_target,
            backend_port: l.backend_port.as_ref().map(|p| *p.get_ref()),
            accept_proxy_from,
        });
    }

    let mut routes = Vec::new();
    for (i, r) in raw.route.iter().enumerate() {
        let key = |k: &str| format!("route[{i}].{k}");
        let mut pats = Vec::new();
        for (j, n) in r.names.get_ref().iter().enumerate() {
            pats.push(
                Pattern::parse(n.get_ref())
                    .map_err(|m| loc.err(n.span(), key(&format!("names[{j}]")), m))?,
            );
        }
        if pats.is_empty() {
            return Err(loc.err(r.names.span(), key("names"), "a route needs a name".into()));
        }
        let mut backends = Vec::new();
        for (j, b) in r.backends.get_ref().iter().enumerate() {
            backends.push(
                Backend::parse(b.get_ref())
                    .map_err(|m| loc.err(b.span(), key(&format!("backends[{j}]")), m))?,
            );
        }
        if backends.is_empty() {
            return Err(loc.err(
                r.backends.span(),
                key("backends"),
                "a route needs a backend".into(),
            ));
        }
        let mut only = None;
        if let Some(ls) = &r.listeners {
            let mut v = Vec::new();
            for (j, l) in ls.iter().enumerate() {
                let Some(found) = listeners.iter().find(|x| &x.name == l.get_ref()) else {
                    return Err(loc.err(
                        l.span(),
                        key(&format!("listeners[{j}]")),
                        format!("no listener is named {:?}", l.get_ref()),
                    ));
                };
                if found.mode == Mode::Tcp {
                    return Err(loc.err(
                        l.span(),
                        key(&format!("listeners[{j}]")),
                        format!(
                            "{:?} is a tcp listener; routes apply to tls and http ones",
                            l.get_ref()
                        ),
                    ));
                }
                v.push(l.get_ref().clone());
            }
            only = Some(v);
        }
        routes.push(Route {
            names: pats,
            target: Target {
                backends,
                proxy_protocol: opt_proxy_protocol(loc, &r.proxy_protocol, &key("proxy_protocol"))?,
                source: opt_source(loc, &r.source, &key("source"), nat46.is_some())?,
            },
            listeners: only,
        });
    }
    // The same name twice on one listener would make the winner depend on
    // the order of the file: refuse it.
    let mut seen: HashSet<(String, Pattern)> = HashSet::new();
    for (i, (r, raw_r)) in routes.iter().zip(&raw.route).enumerate() {
        for (j, p) in r.names.iter().enumerate() {
            for l in listeners.iter().filter(|l| applies(r, l)) {
                if !seen.insert((l.name.clone(), p.clone())) {
                    let span = raw_r.names.get_ref().get(j).map_or(0..0, Spanned::span);
                    return Err(loc.err(
                        span,
                        format!("route[{i}].names[{j}]"),
                        format!("{p} is routed twice on listener {:?}", l.name),
                    ));
                }
            }
        }
    }

    let dynamic = match &raw.dynamic {
        None => None,
        Some(d) => {
            let mut allowed = Vec::new();
            for (j, p) in d.allowed_backends.get_ref().iter().enumerate() {
                allowed.push(
                    parse_net(p.get_ref()).map_err(|m| {
                        loc.err(p.span(), format!("dynamic.allowed_backends[{j}]"), m)
                    })?,
                );
            }
            if allowed.is_empty() {
                return Err(loc.err(
                    d.allowed_backends.span(),
                    "dynamic.allowed_backends",
                    "dynamic mode needs at least one allowed backend prefix (else it would be an open proxy)".into(),
                ));
            }
            let mut suffixes = Vec::new();
            for (j, n) in d.names.iter().flatten().enumerate() {
                suffixes.push(HostName::new(n.get_ref().as_bytes()).map_err(|e| {
                    loc.err(
                        n.span(),
                        format!("dynamic.names[{j}]"),
                        format!("{:?}: {e}", n.get_ref()),
                    )
                })?);
            }
            let resolver = match &d.resolver {
                Some(r) => parse_resolver(r.get_ref())
                    .map_err(|m| loc.err(r.span(), "dynamic.resolver", m))?,
                None => first_system_resolver(),
            };
            Some(Dynamic {
                allowed_backends: allowed,
                names: suffixes,
                resolver,
                proxy_protocol: opt_proxy_protocol(
                    loc,
                    &d.proxy_protocol,
                    "dynamic.proxy_protocol",
                )?,
                source: opt_source(loc, &d.source, "dynamic.source", nat46.is_some())?,
            })
        }
    };

    let mut limits = Limits::default();
    if let Some(l) = &raw.limits {
        let dur = |v: &Option<Spanned<String>>, k: &str, into: &mut Duration| {
            if let Some(s) = v {
                *into = parse_duration(s.get_ref())
                    .map_err(|m| loc.err(s.span(), format!("limits.{k}"), m))?;
            }
            Ok::<(), ConfigError>(())
        };
        dur(&l.hello_timeout, "hello_timeout", &mut limits.hello_timeout)?;
        dur(
            &l.connect_timeout,
            "connect_timeout",
            &mut limits.connect_timeout,
        )?;
        dur(&l.idle_timeout, "idle_timeout", &mut limits.idle_timeout)?;
        if let Some(v) = &l.max_connections {
            limits.max_connections = positive(*v.get_ref())
                .map_err(|m| loc.err(v.span(), "limits.max_connections", m))?;
        }
        if let Some(v) = &l.max_connections_per_client {
            limits.max_connections_per_client = positive(*v.get_ref())
                .map_err(|m| loc.err(v.span(), "limits.max_connections_per_client", m))?;
        }
        if let Some(v) = &l.client_ipv6_prefix_len {
            if *v.get_ref() > 128 {
                return Err(loc.err(
                    v.span(),
                    "limits.client_ipv6_prefix_len",
                    format!("{} is longer than 128", v.get_ref()),
                ));
            }
            limits.client_ipv6_prefix_len = *v.get_ref();
        }
        if let Some(v) = &l.max_head {
            let n = *v.get_ref();
            if !(1024..=1_048_576).contains(&n) {
                return Err(loc.err(
                    v.span(),
                    "limits.max_head",
                    format!("{n} is outside 1024..=1048576 bytes"),
                ));
            }
            limits.max_head = n as usize;
        }
    }
    let metrics = match &raw.metrics {
        Some(m) => Some(
            parse_listen(m.listen.get_ref(), 443)
                .map_err(|e| loc.err(m.listen.span(), "metrics.listen", e))?,
        ),
        None => None,
    };
    Ok(Config {
        listeners,
        routes,
        nat46,
        dynamic,
        limits,
        metrics,
    })
}

/// Whether route `r` applies on listener `l`.
pub(crate) fn applies(r: &Route, l: &Listener) -> bool {
    l.mode != Mode::Tcp
        && r.listeners
            .as_ref()
            .is_none_or(|only| only.iter().any(|n| n == &l.name))
}

// ---------------------------------------------------------------------------
// The flag form.

/// The one-line form's settings, as given on the command line.
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags {
    pub(crate) tls_listen: Vec<String>,
    pub(crate) http_listen: Vec<String>,
    pub(crate) tcp_listen: Vec<String>,
    pub(crate) route: Vec<String>,
    pub(crate) default_backend: Option<String>,
    pub(crate) proxy_protocol: Option<String>,
    pub(crate) nat46_prefix: Option<String>,
    pub(crate) allowed_backend: Vec<String>,
    pub(crate) dynamic_suffix: Vec<String>,
    pub(crate) resolver: Option<String>,
    pub(crate) accept_proxy_from: Vec<String>,
    pub(crate) backend_port: Option<u16>,
}

impl Flags {
    /// Whether any flag that defines listeners or routes was given.
    pub(crate) fn defines_anything(&self) -> bool {
        !(self.tls_listen.is_empty()
            && self.http_listen.is_empty()
            && self.tcp_listen.is_empty()
            && self.route.is_empty()
            && self.default_backend.is_none()
            && self.proxy_protocol.is_none()
            && self.nat46_prefix.is_none()
            && self.allowed_backend.is_empty()
            && self.dynamic_suffix.is_empty()
            && self.resolver.is_none()
            && self.accept_proxy_from.is_empty()
            && self.backend_port.is_none())
    }
}

fn flag_err(flag: &str, value: &str, message: String) -> ConfigError {
    ConfigError::flag(flag, value, message)
}

/// Builds a config from the one-line form. With no listener flag at all, the
/// embedded default: TLS on 127.0.0.1:8443 and HTTP on 127.0.0.1:8080.
pub(crate) fn from_flags(f: &Flags) -> Result<Config, ConfigError> {
    let nat46 = match &f.nat46_prefix {
        Some(p) => Some(
            p.parse::<Nat64Prefix>()
                .map_err(|e| flag_err("--nat46-prefix", p, e.to_string()))?,
        ),
        None => None,
    };
    let source = if nat46.is_some() {
        Source::Nat46
    } else {
        Source::Proxy
    };
    let proxy_protocol = match &f.proxy_protocol {
        Some(v) => parse_proxy_protocol(v).map_err(|m| flag_err("--proxy-protocol", v, m))?,
        None => None,
    };
    let default_target = match &f.default_backend {
        Some(b) => Some(Arc::new(Target {
            backends: vec![Backend::parse(b).map_err(|m| flag_err("--default-backend", b, m))?],
            proxy_protocol,
            source,
        })),
        None => None,
    };
    let mut accept_proxy_from = Vec::new();
    for p in &f.accept_proxy_from {
        accept_proxy_from.push(parse_net(p).map_err(|m| flag_err("--accept-proxy-from", p, m))?);
    }
    let (mut tls, mut http) = (f.tls_listen.clone(), f.http_listen.clone());
    if tls.is_empty() && http.is_empty() && f.tcp_listen.is_empty() {
        tls.push("127.0.0.1:8443".into());
        http.push("127.0.0.1:8080".into());
    }
    let mut listeners = Vec::new();
    for (name, mode, addrs, flag) in [
        ("tls", Mode::Tls, &tls, "--tls-listen"),
        ("http", Mode::Http, &http, "--http-listen"),
    ] {
        if addrs.is_empty() {
            continue;
        }
        let mut listen = Vec::new();
        for a in addrs {
            listen.push(parse_listen(a, 443).map_err(|m| flag_err(flag, a, m))?);
        }
        listeners.push(Listener {
            name: name.into(),
            mode,
            listen,
            default_target: default_target.clone(),
            backend_port: f.backend_port,
            accept_proxy_from: accept_proxy_from.clone(),
        });
    }
    for (i, spec) in f.tcp_listen.iter().enumerate() {
        let err = |m: String| flag_err("--tcp-listen", spec, m);
        let (addr, backend) = spec
            .split_once('=')
            .ok_or_else(|| err("write ADDR=BACKEND, e.g. 0.0.0.0:2201=[2001:db8::10]:22".into()))?;
        listeners.push(Listener {
            name: format!("tcp{i}"),
            mode: Mode::Tcp,
            listen: vec![parse_listen(addr, 443).map_err(err)?],
            default_target: Some(Arc::new(Target {
                backends: vec![Backend::parse(backend).map_err(err)?],
                proxy_protocol,
                source,
            })),
            backend_port: None,
            accept_proxy_from: accept_proxy_from.clone(),
        });
    }
    let mut seen = HashSet::new();
    for l in &listeners {
        for a in &l.listen {
            if !seen.insert(*a) {
                return Err(flag_err(
                    "listen",
                    &a.to_string(),
                    format!("{a} is listened on twice"),
                ));
            }
        }
    }
    // Routes: one per name, backends gathered in the order given.
    let mut routes: Vec<Route> = Vec::new();
    for spec in &f.route {
        let err = |m: String| flag_err("--route", spec, m);
        let (name, backend) = spec.split_once('=').ok_or_else(|| {
            err("write NAME=BACKEND, e.g. 'www.example.test=[2001:db8::10]:443'".into())
        })?;
        let pattern = Pattern::parse(name).map_err(err)?;
        let backend = Backend::parse(backend).map_err(err)?;
        match routes
            .iter_mut()
            .find(|r| r.names.first() == Some(&pattern))
        {
            Some(r) => r.target.backends.push(backend),
            None => routes.push(Route {
                names: vec![pattern],
                target: Target {
                    backends: vec![backend],
                    proxy_protocol,
                    source,
                },
                listeners: None,
            }),
        }
    }
    let dynamic = if f.allowed_backend.is_empty() {
        if !f.dynamic_suffix.is_empty() || f.resolver.is_some() {
            return Err(flag_err(
                "--dynamic-suffix/--resolver",
                "",
                "dynamic mode needs --allowed-backend PREFIX".into(),
            ));
        }
        None
    } else {
        let mut allowed = Vec::new();
        for p in &f.allowed_backend {
            allowed.push(parse_net(p).map_err(|m| flag_err("--allowed-backend", p, m))?);
        }
        let mut names = Vec::new();
        for n in &f.dynamic_suffix {
            names.push(
                HostName::new(n.as_bytes())
                    .map_err(|e| flag_err("--dynamic-suffix", n, e.to_string()))?,
            );
        }
        let resolver = match &f.resolver {
            Some(r) => parse_resolver(r).map_err(|m| flag_err("--resolver", r, m))?,
            None => first_system_resolver(),
        };
        Some(Dynamic {
            allowed_backends: allowed,
            names,
            resolver,
            proxy_protocol,
            source,
        })
    };
    Ok(Config {
        listeners,
        routes,
        nat46,
        dynamic,
        limits: Limits::default(),
        metrics: None,
    })
}

// ---------------------------------------------------------------------------
// Values.

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "tls" => Ok(Mode::Tls),
        "http" => Ok(Mode::Http),
        "tcp" => Ok(Mode::Tcp),
        _ => Err(format!("{s:?} is not a mode: tls, http or tcp")),
    }
}

/// The first resolver in /etc/resolv.conf (127.0.0.1:53 without one).
fn first_system_resolver() -> SocketAddr {
    system_resolvers(1)
        .into_iter()
        .next()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 53)))
}

pub(crate) fn parse_proxy_protocol(s: &str) -> Result<Option<Version>, String> {
    match s {
        "v1" | "1" => Ok(Some(Version::V1)),
        "v2" | "2" => Ok(Some(Version::V2)),
        "none" | "off" => Ok(None),
        _ => Err(format!(
            "{s:?} is not a PROXY protocol version: none, v1 or v2"
        )),
    }
}

fn opt_proxy_protocol(
    loc: &Locator<'_>,
    v: &Option<Spanned<String>>,
    key: &str,
) -> Result<Option<Version>, ConfigError> {
    match v {
        Some(s) => parse_proxy_protocol(s.get_ref()).map_err(|m| loc.err(s.span(), key, m)),
        None => Ok(None),
    }
}

fn opt_source(
    loc: &Locator<'_>,
    v: &Option<Spanned<String>>,
    key: &str,
    have_nat46: bool,
) -> Result<Source, ConfigError> {
    match v.as_ref().map(|s| (s.get_ref().as_str(), s.span())) {
        None | Some(("proxy", _)) => Ok(Source::Proxy),
        Some(("nat46", span)) if have_nat46 => {
            let _ = span;
            Ok(Source::Nat46)
        }
        Some(("nat46", span)) => Err(loc.err(
            span,
            key,
            "source = \"nat46\" needs a [nat46] table with the source prefix".into(),
        )),
        Some((other, span)) => Err(loc.err(
            span,
            key,
            format!("{other:?} is not a source: proxy or nat46"),
        )),
    }
}

fn opt_backend(
    loc: &Locator<'_>,
    v: &Option<Spanned<String>>,
    key: &str,
) -> Result<Option<Backend>, ConfigError> {
    match v {
        Some(s) => Backend::parse(s.get_ref())
            .map(Some)
            .map_err(|m| loc.err(s.span(), key, m)),
        None => Ok(None),
    }
}

fn positive(n: u32) -> Result<u32, String> {
    if n == 0 {
        Err("0 would refuse every connection; the least is 1".into())
    } else {
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[[listener]]
name = "https"
mode = "tls"
listen = ["0.0.0.0:443", "[::]:443"]

[[listener]]
mode = "tcp"
listen = ["0.0.0.0:2201"]
backend = "[2001:db8:1::10]:22"
source = "nat46"

[[route]]
names = ["www.example.test", "*.Example.test."]
backends = ["[2001:db8:1::10]", "[2001:db8:1::11]:8443"]
proxy_protocol = "v2"

[nat46]
prefix = "2001:db8:46::/96"

[limits]
hello_timeout = "500ms"
max_connections = 7
"#;

    #[test]
    fn a_good_file() {
        let c = parse("p.toml", GOOD).unwrap();
        assert_eq!(c.listeners.len(), 2);
        assert_eq!(c.listeners[1].name, "listener1");
        assert_eq!(c.listeners[0].listen[1], "[::]:443".parse().unwrap());
        let r = &c.routes[0];
        assert_eq!(r.names[1].to_string(), "*.example.test");
        assert_eq!(
            r.target.backends[0],
            Backend::Host("2001:db8:1::10".parse().unwrap())
        );
        assert_eq!(r.target.proxy_protocol, Some(Version::V2));
        assert_eq!(
            c.listeners[1].default_target.as_ref().unwrap().source,
            Source::Nat46
        );
        assert_eq!(c.limits.hello_timeout, Duration::from_millis(500));
        assert_eq!(c.limits.max_connections, 7);
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(300));
    }

    fn error(text: &str) -> String {
        parse("p.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_and_key() {
        let bad = GOOD.replace("\"[2001:db8:1::11]:8443\"", "\"2001:db8::1:443\"");
        let e = error(&bad);
        assert!(e.starts_with("p.toml:15: route[0].backends[1]: "), "{e}");
        assert!(e.contains("ambiguous"), "{e}");

        let e = error(&GOOD.replace("hello_timeout", "helo_timeout"));
        assert!(
            e.starts_with("p.toml:22: helo_timeout: unknown field"),
            "{e}"
        );

        let e = error(&GOOD.replace("\"500ms\"", "\"5 minutes\""));
        assert!(e.starts_with("p.toml:22: limits.hello_timeout: "), "{e}");

        let e = error(&GOOD.replace("[nat46]\nprefix = \"2001:db8:46::/96\"", ""));
        assert!(e.starts_with("p.toml:11: listener[1].source: "), "{e}");

        let e = error(&GOOD.replace("\"tls\"", "\"https\""));
        assert!(e.starts_with("p.toml:4: listener[0].mode: "), "{e}");

        let e = error(&GOOD.replace("*.Example.test.", "www.example.test"));
        assert!(
            e.contains("route[0].names[1]: www.example.test is routed twice"),
            "{e}"
        );

        let e = error(&GOOD.replace("*.Example", "a.*.example"));
        assert!(e.contains("route[0].names[1]"), "{e}");

        let e = error("[[listener]]\nmode = \"tls\"\nlisten = [\"::1\"]\n");
        assert!(
            e.starts_with("p.toml:3: listener[0].listen[0]: \"::1\" has no port"),
            "{e}"
        );

        let e = error("[dynamic]\nallowed_backends = []\n");
        assert!(e.contains("dynamic.allowed_backends"), "{e}");

        let e = error(
            "[[route]]\nnames = [\"a.test\"]\nbackends = [\"[::1]:1\"]\nlisteners = [\"x\"]\n",
        );
        assert!(
            e.contains("route[0].listeners[0]: no listener is named \"x\""),
            "{e}"
        );
    }

    #[test]
    fn flags_build_the_same_config() {
        let f = Flags {
            tls_listen: vec!["127.0.0.1:8443".into()],
            http_listen: vec!["127.0.0.1:8080".into()],
            route: vec![
                "www.example.test=[::1]:9443".into(),
                "*.example.test=[::1]:9443".into(),
                "www.example.test=[::1]:9444".into(),
            ],
            tcp_listen: vec!["127.0.0.1:2201=[::1]:22".into()],
            proxy_protocol: Some("v2".into()),
            ..Flags::default()
        };
        let c = from_flags(&f).unwrap();
        assert_eq!(
            c.listeners
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>(),
            ["tls", "http", "tcp0"]
        );
        assert_eq!(c.routes.len(), 2);
        assert_eq!(c.routes[0].target.backends.len(), 2);
        assert_eq!(c.routes[0].target.proxy_protocol, Some(Version::V2));
        assert!(c.dynamic.is_none());

        let bad = Flags {
            route: vec!["www.example.test".into()],
            ..Flags::default()
        };
        assert!(from_flags(&bad)
            .unwrap_err()
            .to_string()
            .starts_with("--route \"www.example.test\""));
        let bad = Flags {
            allowed_backend: vec!["2001:db8::1/48".into()],
            ..Flags::default()
        };
        assert!(from_flags(&bad)
            .unwrap_err()
            .to_string()
            .contains("did you mean 2001:db8::/48"));

        // No listener flag: the embedded default on loopback.
        let c = from_flags(&Flags::default()).unwrap();
        assert!(c
            .listeners
            .iter()
            .all(|l| l.listen.iter().all(|a| a.ip().is_loopback())));
    }
}
