//! The DNS64 server's configuration: the TOML file and the flags both build
//! the same validated [`Config`]. Errors are [`ConfigError`]s shared with the
//! proxy: `FILE:LINE: key: message` for a file, `--flag "value": message`
//! for flags.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::Deserialize;
use sixgate::rfc6052::Nat64Prefix;
use toml::Spanned;

pub(crate) use crate::common::ConfigError;
use crate::common::{
    parse_duration, parse_listen, parse_net, parse_resolver, parse_size, read_config,
    system_resolvers, Locator,
};

/// The default upstream timeout (per try).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The most upstreams.
const MAX_UPSTREAMS: usize = 16;

/// The most `[[client]]` entries (matched linearly per query).
const MAX_CLIENTS: usize = 1024;

/// The default answer cache size.
pub(crate) const DEFAULT_CACHE_SIZE: u64 = 64 << 20;

/// Who may ask: the listed prefixes, plus loopback unless dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Acl {
    pub(crate) nets: Vec<IpNet>,
    pub(crate) loopback: bool,
}

impl Acl {
    /// Whether a client at `ip` gets answers (IPv4-mapped addresses are
    /// matched as IPv4).
    pub(crate) fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        (self.loopback && ip.is_loopback()) || self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// Which DNS64 configuration each client gets: the first (longest) matching
/// `[[client]]` prefix's, else the default. The index is part of the cache
/// key, so clients under different policies never share a cached answer.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) default: sixgate::dns64::Config,
    /// Longest prefix first; `None`: no DNS64 for those clients.
    pub(crate) clients: Vec<(IpNet, Option<sixgate::dns64::Config>)>,
}

impl Policy {
    /// The policy index for `ip` (0 for the default) and its configuration
    /// (`None`: plain forwarding).
    pub(crate) fn lookup(&self, ip: IpAddr) -> (u16, Option<&sixgate::dns64::Config>) {
        let ip = ip.to_canonical();
        for (i, (net, config)) in self.clients.iter().enumerate() {
            if net.contains(&ip) {
                return (u16::try_from(i + 1).unwrap_or(u16::MAX), config.as_ref());
            }
        }
        (0, Some(&self.default))
    }

    /// The configuration of the policy [`lookup`](Self::lookup) numbered
    /// `index` (`None`: no DNS64).
    pub(crate) fn get(&self, index: u16) -> Option<&sixgate::dns64::Config> {
        match usize::from(index).checked_sub(1) {
            None => Some(&self.default),
            Some(i) => self.clients.get(i).and_then(|(_, c)| c.as_ref()),
        }
    }
}

/// The answer cache's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheConfig {
    /// Bytes of answers held at most; 0 turns the cache off.
    pub(crate) size: u64,
    /// No answer is kept longer than this, whatever its TTL says.
    pub(crate) max_ttl: u32,
    /// No negative answer (NXDOMAIN, NODATA) is kept longer than this.
    pub(crate) max_negative_ttl: u32,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            size: DEFAULT_CACHE_SIZE,
            max_ttl: 86_400,
            max_negative_ttl: 3_600,
        }
    }
}

/// A per-client rate limit: `rate` queries a second on average, bursts of
/// `burst`. Clients are counted per IPv4 address and per IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub(crate) rate: u32,
    pub(crate) burst: u32,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Each address gets a UDP and a TCP socket.
    pub(crate) listen: Vec<SocketAddr>,
    /// Whether `listen` is the built-in default (a missing `[::1]` is then
    /// only a warning).
    pub(crate) default_listen: bool,
    pub(crate) upstreams: Vec<SocketAddr>,
    pub(crate) policy: Policy,
    pub(crate) acl: Acl,
    pub(crate) timeout: Duration,
    pub(crate) cache: CacheConfig,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) metrics: Option<SocketAddr>,
}

impl Config {
    /// Fills in what was left out: the default listeners (marked as such)
    /// and the resolvers of /etc/resolv.conf.
    fn with_defaults(mut self) -> Self {
        if self.listen.is_empty() {
            self.listen = default_listen();
            self.default_listen = true;
        }
        if self.upstreams.is_empty() {
            self.upstreams = system_resolvers(MAX_UPSTREAMS);
        }
        self
    }
}

/// The flags that define a config (the alternative to a file).
#[derive(Debug, Default, Clone)]
pub(crate) struct Flags {
    pub(crate) listen: Vec<String>,
    pub(crate) upstream: Vec<String>,
    pub(crate) prefix: Vec<String>,
    pub(crate) allow: Vec<String>,
    pub(crate) allow_non_global: bool,
    pub(crate) no_default_allow: bool,
    pub(crate) exclude_aaaa: Vec<String>,
    pub(crate) never_map: Vec<String>,
    pub(crate) force: Vec<String>,
    pub(crate) exclude_name: Vec<String>,
    pub(crate) no_synthesis_on_error: bool,
    pub(crate) extended_error: bool,
    pub(crate) cd_disables_synthesis: bool,
    pub(crate) client: Vec<String>,
}

impl Flags {
    pub(crate) fn defines_anything(&self) -> bool {
        !self.listen.is_empty()
            || !self.upstream.is_empty()
            || !self.prefix.is_empty()
            || !self.allow.is_empty()
            || self.allow_non_global
            || self.no_default_allow
            || !self.exclude_aaaa.is_empty()
            || !self.never_map.is_empty()
            || !self.force.is_empty()
            || !self.exclude_name.is_empty()
            || self.no_synthesis_on_error
            || self.extended_error
            || self.cd_disables_synthesis
            || !self.client.is_empty()
    }
}

fn flag_err(flag: &str, value: &str, message: String) -> ConfigError {
    ConfigError::flag(flag, value, message)
}

fn default_listen() -> Vec<SocketAddr> {
    vec![
        SocketAddr::from(([127, 0, 0, 1], 5353)),
        SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 5353)),
    ]
}

/// The synthesis settings every policy shares; a `[[client]]` entry only
/// chooses its own prefixes (or none).
#[derive(Debug, Clone, Default)]
struct EngineSpec {
    allow_non_global: bool,
    /// `None`: the default (`::ffff:0:0/96`).
    exclude_aaaa: Option<Vec<Ipv6Net>>,
    never_map: Vec<Ipv4Net>,
    force_names: Vec<String>,
    exclude_names: Vec<String>,
    synthesize_on_error: bool,
    extended_error: bool,
    cd_disables_synthesis: bool,
}

impl EngineSpec {
    fn build(&self, prefixes: &[Nat64Prefix]) -> Result<sixgate::dns64::Config, String> {
        let prefixes = if prefixes.is_empty() {
            vec![Nat64Prefix::WELL_KNOWN]
        } else {
            prefixes.to_vec()
        };
        let mut b = sixgate::dns64::Config::builder()
            .prefixes(prefixes)
            .allow_non_global(self.allow_non_global)
            .never_map(self.never_map.iter().copied())
            .force_names(self.force_names.iter().cloned())
            .exclude_names(self.exclude_names.iter().cloned())
            .synthesize_on_error(self.synthesize_on_error)
            .extended_error(self.extended_error)
            .cd_disables_synthesis(self.cd_disables_synthesis);
        if let Some(x) = &self.exclude_aaaa {
            b = b.exclude_aaaa(x.iter().copied());
        }
        b.build().map_err(|e| e.to_string())
    }
}

/// Orders `[[client]]` entries longest prefix first (a net given twice
/// keeps the later entry) and checks the count.
fn client_table(
    mut entries: Vec<(IpNet, Option<sixgate::dns64::Config>)>,
) -> Result<Vec<(IpNet, Option<sixgate::dns64::Config>)>, String> {
    if entries.len() > MAX_CLIENTS {
        return Err(format!("at most {MAX_CLIENTS} client entries"));
    }
    let mut out: Vec<(IpNet, Option<sixgate::dns64::Config>)> = Vec::new();
    for (net, c) in entries.drain(..) {
        let net = net.trunc();
        out.retain(|(n, _)| *n != net);
        out.push((net, c));
    }
    out.sort_by_key(|(n, _)| std::cmp::Reverse(n.prefix_len()));
    Ok(out)
}

/// `NET=PREFIX[,PREFIX…]` or `NET=off`.
fn parse_client_flag(s: &str) -> Result<(IpNet, Option<Vec<Nat64Prefix>>), String> {
    let (net, rhs) = s.split_once('=').ok_or_else(|| {
        "write NET=PREFIX (2001:db8:1::/48=2001:db8:64::/96) or NET=off".to_owned()
    })?;
    let net = parse_net(net)?;
    if rhs == "off" {
        return Ok((net, None));
    }
    let prefixes = rhs
        .split(',')
        .map(parse_prefix)
        .collect::<Result<Vec<_>, _>>()?;
    Ok((net, Some(prefixes)))
}

fn parse_all<T>(
    flag: &str,
    values: &[String],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    values
        .iter()
        .map(|s| parse(s).map_err(|m| flag_err(flag, s, m)))
        .collect()
}

/// Builds the config from flags alone.
pub(crate) fn from_flags(f: &Flags) -> Result<Config, ConfigError> {
    let listen = parse_all("--listen", &f.listen, |s| parse_listen(s, 53))?;
    let upstreams = parse_all("--upstream", &f.upstream, parse_resolver)?;
    if upstreams.len() > MAX_UPSTREAMS {
        return Err(flag_err(
            "--upstream",
            &f.upstream[MAX_UPSTREAMS],
            format!("at most {MAX_UPSTREAMS} upstreams"),
        ));
    }
    let prefixes = parse_all("--prefix", &f.prefix, parse_prefix)?;
    let nets = parse_all("--allow", &f.allow, parse_net)?;
    let exclude_aaaa = if f.exclude_aaaa.iter().any(|s| s == "none") {
        Some(Vec::new())
    } else if f.exclude_aaaa.is_empty() {
        None
    } else {
        Some(parse_all("--exclude-aaaa", &f.exclude_aaaa, parse_v6net)?)
    };
    let spec = EngineSpec {
        allow_non_global: f.allow_non_global,
        exclude_aaaa,
        never_map: parse_all("--never-map", &f.never_map, parse_v4net)?,
        force_names: f.force.clone(),
        exclude_names: f.exclude_name.clone(),
        synthesize_on_error: !f.no_synthesis_on_error,
        extended_error: f.extended_error,
        cd_disables_synthesis: f.cd_disables_synthesis,
    };
    let engine_err = |m: String| ConfigError {
        origin: "flags".into(),
        key: String::new(),
        message: m,
    };
    let default = spec.build(&prefixes).map_err(engine_err)?;
    let mut clients = Vec::new();
    for s in &f.client {
        let (net, p) = parse_client_flag(s).map_err(|m| flag_err("--client", s, m))?;
        let config = match p {
            Some(p) => Some(spec.build(&p).map_err(|m| flag_err("--client", s, m))?),
            None => None,
        };
        clients.push((net, config));
    }
    let clients = client_table(clients).map_err(engine_err)?;
    Ok(Config {
        listen,
        default_listen: false,
        upstreams,
        policy: Policy { default, clients },
        acl: Acl {
            nets,
            loopback: !f.no_default_allow,
        },
        timeout: DEFAULT_TIMEOUT,
        cache: CacheConfig::default(),
        rate_limit: None,
        metrics: None,
    }
    .with_defaults())
}

// ---------------------------------------------------------------------------
// The file form.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<Vec<Spanned<String>>>,
    upstreams: Option<Spanned<Vec<Spanned<String>>>>,
    prefixes: Option<Spanned<Vec<Spanned<String>>>>,
    allow: Option<Vec<Spanned<String>>>,
    allow_loopback: Option<bool>,
    allow_non_global: Option<bool>,
    exclude_aaaa: Option<Vec<Spanned<String>>>,
    never_map: Option<Vec<Spanned<String>>>,
    force_names: Option<Vec<Spanned<String>>>,
    exclude_names: Option<Vec<Spanned<String>>>,
    synthesize_on_error: Option<bool>,
    extended_error: Option<bool>,
    cd_disables_synthesis: Option<bool>,
    client: Option<Spanned<Vec<RawClient>>>,
    cache: Option<RawCache>,
    limits: Option<RawLimits>,
    metrics: Option<RawMetrics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    net: Spanned<String>,
    prefixes: Option<Spanned<Vec<Spanned<String>>>>,
    dns64: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    size: Option<Spanned<String>>,
    max_ttl: Option<Spanned<String>>,
    max_negative_ttl: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    timeout: Option<Spanned<String>>,
    rate: Option<Spanned<u32>>,
    burst: Option<Spanned<u32>>,
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

fn list<T>(
    loc: &Locator<'_>,
    items: &[Spanned<String>],
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| parse(s.get_ref()).map_err(|m| loc.err(s.span(), format!("{key}[{i}]"), m)))
        .collect()
}

/// A TTL bound in whole seconds, from a duration (`1h`, `1d` is `24h`).
fn ttl_bound(s: &str) -> Result<u32, String> {
    let d = parse_duration(s)?;
    u32::try_from(d.as_secs())
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("{s:?}: write whole seconds or more (1s..=24h)"))
}

fn build(loc: &Locator<'_>, raw: RawConfig) -> Result<Config, ConfigError> {
    let listen = list(
        loc,
        raw.listen.as_deref().unwrap_or_default(),
        "listen",
        |s: &str| parse_listen(s, 53),
    )?;
    let upstreams = match &raw.upstreams {
        Some(u) => {
            if u.get_ref().len() > MAX_UPSTREAMS {
                return Err(loc.err(
                    u.span(),
                    "upstreams",
                    format!("at most {MAX_UPSTREAMS} upstreams"),
                ));
            }
            list(loc, u.get_ref(), "upstreams", parse_resolver)?
        }
        None => Vec::new(),
    };
    let prefixes = match &raw.prefixes {
        Some(p) => list(loc, p.get_ref(), "prefixes", parse_prefix)?,
        None => Vec::new(),
    };
    let strings = |v: &Option<Vec<Spanned<String>>>| -> Vec<String> {
        v.iter().flatten().map(|s| s.get_ref().clone()).collect()
    };
    let spec = EngineSpec {
        allow_non_global: raw.allow_non_global.unwrap_or(false),
        exclude_aaaa: match &raw.exclude_aaaa {
            Some(x) => Some(list(loc, x, "exclude_aaaa", parse_v6net)?),
            None => None,
        },
        never_map: list(
            loc,
            raw.never_map.as_deref().unwrap_or_default(),
            "never_map",
            parse_v4net,
        )?,
        force_names: strings(&raw.force_names),
        exclude_names: strings(&raw.exclude_names),
        synthesize_on_error: raw.synthesize_on_error.unwrap_or(true),
        extended_error: raw.extended_error.unwrap_or(false),
        cd_disables_synthesis: raw.cd_disables_synthesis.unwrap_or(false),
    };
    // A bad name is reported against its own entry.
    for (key, names) in [
        ("force_names", &raw.force_names),
        ("exclude_names", &raw.exclude_names),
    ] {
        for (i, n) in names.iter().flatten().enumerate() {
            sixgate::dns64::Config::builder()
                .force_names([n.get_ref().as_str()])
                .build()
                .map_err(|e| loc.err(n.span(), format!("{key}[{i}]"), e.to_string()))?;
        }
    }
    let default = spec.build(&prefixes).map_err(|m| {
        let span = raw.prefixes.as_ref().map_or(0..0, Spanned::span);
        loc.err(span, "prefixes", m)
    })?;
    let mut clients = Vec::new();
    for (i, c) in raw.client.iter().flat_map(|c| c.get_ref()).enumerate() {
        let key = format!("client[{i}]");
        let net = parse_net(c.net.get_ref())
            .map_err(|m| loc.err(c.net.span(), format!("{key}.net"), m))?;
        let dns64 = c.dns64.as_ref().is_none_or(|d| *d.get_ref());
        let config = if dns64 {
            let p = match &c.prefixes {
                Some(p) => list(loc, p.get_ref(), &format!("{key}.prefixes"), parse_prefix)?,
                None => Vec::new(),
            };
            let p = if p.is_empty() { prefixes.clone() } else { p };
            Some(spec.build(&p).map_err(|m| {
                let span = c.prefixes.as_ref().map_or(c.net.span(), Spanned::span);
                loc.err(span, format!("{key}.prefixes"), m)
            })?)
        } else {
            if let Some(p) = &c.prefixes {
                return Err(loc.err(
                    p.span(),
                    format!("{key}.prefixes"),
                    "prefixes with dns64 = false: drop one of them".into(),
                ));
            }
            None
        };
        clients.push((net, config));
    }
    let clients = client_table(clients).map_err(|m| {
        let span = raw.client.as_ref().map_or(0..0, Spanned::span);
        loc.err(span, "client", m)
    })?;
    let nets = list(
        loc,
        raw.allow.as_deref().unwrap_or_default(),
        "allow",
        parse_net,
    )?;
    let limits = raw.limits.as_ref();
    let timeout = match limits.and_then(|l| l.timeout.as_ref()) {
        Some(t) => {
            parse_duration(t.get_ref()).map_err(|m| loc.err(t.span(), "limits.timeout", m))?
        }
        None => DEFAULT_TIMEOUT,
    };
    let rate_limit = match limits.and_then(|l| l.rate.as_ref()) {
        None => None,
        Some(r) if *r.get_ref() == 0 => None,
        Some(r) => {
            let rate = *r.get_ref();
            let burst = match limits.and_then(|l| l.burst.as_ref()) {
                Some(b) if *b.get_ref() == 0 => {
                    return Err(loc.err(b.span(), "limits.burst", "must be at least 1".into()))
                }
                Some(b) => *b.get_ref(),
                None => rate.saturating_mul(2),
            };
            Some(RateLimit { rate, burst })
        }
    };
    let mut cache = CacheConfig::default();
    if let Some(c) = &raw.cache {
        if let Some(s) = &c.size {
            cache.size = parse_size(s.get_ref()).map_err(|m| loc.err(s.span(), "cache.size", m))?;
        }
        if let Some(t) = &c.max_ttl {
            cache.max_ttl =
                ttl_bound(t.get_ref()).map_err(|m| loc.err(t.span(), "cache.max_ttl", m))?;
        }
        if let Some(t) = &c.max_negative_ttl {
            cache.max_negative_ttl = ttl_bound(t.get_ref())
                .map_err(|m| loc.err(t.span(), "cache.max_negative_ttl", m))?;
        }
    }
    let metrics = match &raw.metrics {
        Some(m) => Some(
            parse_listen(m.listen.get_ref(), 9464)
                .map_err(|e| loc.err(m.listen.span(), "metrics.listen", e))?,
        ),
        None => None,
    };
    Ok(Config {
        listen,
        default_listen: false,
        upstreams,
        policy: Policy { default, clients },
        acl: Acl {
            nets,
            loopback: raw.allow_loopback.unwrap_or(true),
        },
        timeout,
        cache,
        rate_limit,
        metrics,
    }
    .with_defaults())
}

// ---------------------------------------------------------------------------
// Values.

fn parse_prefix(s: &str) -> Result<Nat64Prefix, String> {
    s.parse::<Nat64Prefix>().map_err(|e| format!("{s:?}: {e}"))
}

fn parse_v6net(s: &str) -> Result<Ipv6Net, String> {
    match parse_net(s)? {
        IpNet::V6(n) => Ok(n),
        IpNet::V4(_) => Err(format!("{s:?} is IPv4; an IPv6 range is needed here")),
    }
}

fn parse_v4net(s: &str) -> Result<Ipv4Net, String> {
    match parse_net(s)? {
        IpNet::V4(n) => Ok(n),
        IpNet::V6(_) => Err(format!("{s:?} is IPv6; an IPv4 range is needed here")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
listen = ["127.0.0.1:53", "[::1]:53"]
upstreams = ["192.0.2.53", "[2001:db8::53]:5300"]
prefixes = ["64:ff9b::/96", "2001:db8:64::/96"]
allow = ["2001:db8::/32", "192.0.2.0/24"]

[limits]
timeout = "500ms"

[metrics]
listen = "127.0.0.1:9464"
"#;

    #[test]
    fn a_good_file() {
        let c = parse("dns64.toml", GOOD).unwrap();
        assert_eq!(c.listen.len(), 2);
        assert!(!c.default_listen);
        assert_eq!(c.upstreams[0], "192.0.2.53:53".parse().unwrap());
        assert_eq!(c.upstreams[1], "[2001:db8::53]:5300".parse().unwrap());
        assert_eq!(c.policy.default.prefixes().len(), 2);
        assert_eq!(c.timeout, Duration::from_millis(500));
        assert_eq!(c.metrics, Some("127.0.0.1:9464".parse().unwrap()));
        assert!(c.acl.loopback);
    }

    fn error(text: &str) -> String {
        parse("d.toml", text).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_line_and_key() {
        assert_eq!(
            error("listen = [\"127.0.0.1:53\"]\nupstreams = [\"x\"]\n"),
            "d.toml:2: upstreams[0]: \"x\" is not a resolver address (192.0.2.53, [2001:db8::53]:53)"
        );
        assert!(error("\n\nbogus = 1\n").starts_with("d.toml:3: bogus: unknown field"));
        assert!(error("[limits]\ntimeout = \"2 s\"\n").starts_with("d.toml:2: limits.timeout: "));
        assert!(error("prefixes = [\"10.0.0.0/8\"]\n").starts_with("d.toml:1: prefixes[0]: "));
        assert!(error("allow = [\"10.0.0.1/8\"]\n").contains("did you mean 10.0.0.0/8"));
    }

    #[test]
    fn synthesis_clients_cache_and_limits() {
        let c = parse(
            "d.toml",
            r#"
prefixes = ["64:ff9b::/96"]
exclude_aaaa = []
never_map = ["198.51.100.0/24"]
force_names = ["registry.npmjs.org"]
exclude_names = ["dual.example"]
synthesize_on_error = false
extended_error = true

[[client]]
net = "2001:db8:1::/48"
prefixes = ["2001:db8:64::/96"]

[[client]]
net = "2001:db8:1:2::/64"
dns64 = false

[cache]
size = "8M"
max_ttl = "1h"
max_negative_ttl = "5m"

[limits]
rate = 100
"#,
        )
        .unwrap();
        let d = &c.policy.default;
        assert!(d.exclude_aaaa().is_empty());
        assert_eq!(d.never_map().len(), 1);
        assert_eq!(d.force_names()[0].to_ascii(), "registry.npmjs.org.");
        assert!(!d.synthesize_on_error());
        assert!(d.extended_error());
        // Longest prefix first: the /64 without DNS64 wins inside the /48.
        let (id, cfg) = c.policy.lookup("2001:db8:1:2::5".parse().unwrap());
        assert!(id > 0 && cfg.is_none());
        let (_, cfg) = c.policy.lookup("2001:db8:1:3::5".parse().unwrap());
        assert_eq!(cfg.unwrap().prefixes()[0].to_string(), "2001:db8:64::/96");
        assert!(
            cfg.unwrap().extended_error(),
            "clients share the synthesis settings"
        );
        assert_eq!(c.policy.lookup("192.0.2.1".parse().unwrap()).0, 0);
        for ip in ["2001:db8:1:2::5", "2001:db8:1:3::5", "192.0.2.1"] {
            let (id, cfg) = c.policy.lookup(ip.parse().unwrap());
            let again = c.policy.get(id);
            assert_eq!(
                again.map(|c| c.prefixes().to_vec()),
                cfg.map(|c| c.prefixes().to_vec())
            );
        }
        assert_eq!(c.cache.size, 8 << 20);
        assert_eq!((c.cache.max_ttl, c.cache.max_negative_ttl), (3600, 300));
        assert_eq!(
            c.rate_limit,
            Some(RateLimit {
                rate: 100,
                burst: 200
            })
        );

        assert!(error(
            "[[client]]\nnet = \"2001:db8::/32\"\ndns64 = false\nprefixes = [\"64:ff9b::/96\"]\n"
        )
        .starts_with("d.toml:4: client[0].prefixes: "));
        assert!(error("force_names = [\"ok.example\", \"bad..name\"]\n")
            .starts_with("d.toml:1: force_names[1]: "));
        assert!(error("never_map = [\"2001:db8::/32\"]\n").contains("is IPv6"));
        assert!(error("\n[cache]\nsize = \"lots\"\n").starts_with("d.toml:3: cache.size: "));
        assert!(error("[limits]\nrate = 5\nburst = 0\n").starts_with("d.toml:3: limits.burst: "));
    }

    #[test]
    fn client_flags() {
        let c = from_flags(&Flags {
            client: vec![
                "2001:db8:1::/48=2001:db8:64::/96,64:ff9b::/96".into(),
                "2001:db8:2::/48=off".into(),
            ],
            ..Flags::default()
        })
        .unwrap();
        assert_eq!(c.policy.clients.len(), 2);
        let (_, cfg) = c.policy.lookup("2001:db8:1::1".parse().unwrap());
        assert_eq!(cfg.unwrap().prefixes().len(), 2);
        let e = from_flags(&Flags {
            client: vec!["2001:db8:1::/48".into()],
            ..Flags::default()
        })
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("--client \"2001:db8:1::/48\": write NET=PREFIX"));
    }

    #[test]
    fn acl() {
        let acl = Acl {
            nets: vec!["192.0.2.0/24".parse().unwrap()],
            loopback: true,
        };
        assert!(acl.allows("127.0.0.1".parse().unwrap()));
        assert!(acl.allows("::1".parse().unwrap()));
        assert!(acl.allows("::ffff:192.0.2.7".parse().unwrap()));
        assert!(!acl.allows("198.51.100.1".parse().unwrap()));
        let strict = Acl {
            nets: vec!["127.0.0.2/32".parse().unwrap()],
            loopback: false,
        };
        assert!(!strict.allows("127.0.0.1".parse().unwrap()));
        assert!(strict.allows("127.0.0.2".parse().unwrap()));
    }

    #[test]
    fn flags_defaults() {
        let c = from_flags(&Flags::default()).unwrap();
        assert!(c.default_listen);
        assert_eq!(c.listen, default_listen());
        assert_eq!(c.policy.default.prefixes()[0].to_string(), "64:ff9b::/96");
        assert!(!c.upstreams.is_empty());
        let e = from_flags(&Flags {
            upstream: vec!["nope".into()],
            ..Flags::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("--upstream \"nope\": "));
    }
}
