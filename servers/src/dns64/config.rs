//! The DNS64 server's configuration: the TOML file and the flags both build
//! the same validated [`Config`]. Errors are [`ConfigError`]s shared with the
//! proxy: `FILE:LINE: key: message` for a file, `--flag "value": message`
//! for flags.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;
use sixgate::rfc6052::Nat64Prefix;
use toml::Spanned;

pub(crate) use crate::common::ConfigError;
use crate::common::{
    parse_duration, parse_listen, parse_net, parse_resolver, read_config, system_resolvers, Locator,
};

/// The default upstream timeout (per try).
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// The most upstreams.
const MAX_UPSTREAMS: usize = 16;

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

/// A validated configuration.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Each address gets a UDP and a TCP socket.
    pub(crate) listen: Vec<SocketAddr>,
    /// Whether `listen` is the built-in default (a missing `[::1]` is then
    /// only a warning).
    pub(crate) default_listen: bool,
    pub(crate) upstreams: Vec<SocketAddr>,
    pub(crate) engine: sixgate::dns64::Config,
    pub(crate) acl: Acl,
    pub(crate) timeout: Duration,
    pub(crate) metrics: Option<SocketAddr>,
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
}

impl Flags {
    pub(crate) fn defines_anything(&self) -> bool {
        !self.listen.is_empty()
            || !self.upstream.is_empty()
            || !self.prefix.is_empty()
            || !self.allow.is_empty()
            || self.allow_non_global
            || self.no_default_allow
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

fn engine(prefixes: Vec<Nat64Prefix>, non_global: bool) -> Result<sixgate::dns64::Config, String> {
    let prefixes = if prefixes.is_empty() {
        vec![Nat64Prefix::WELL_KNOWN]
    } else {
        prefixes
    };
    sixgate::dns64::Config::builder()
        .prefixes(prefixes)
        .allow_non_global(non_global)
        .build()
        .map_err(|e| e.to_string())
}

/// Builds the config from flags alone.
pub(crate) fn from_flags(f: &Flags) -> Result<Config, ConfigError> {
    let listen = f
        .listen
        .iter()
        .map(|s| parse_listen(s, 53).map_err(|m| flag_err("--listen", s, m)))
        .collect::<Result<Vec<_>, _>>()?;
    let upstreams = f
        .upstream
        .iter()
        .map(|s| parse_resolver(s).map_err(|m| flag_err("--upstream", s, m)))
        .collect::<Result<Vec<_>, _>>()?;
    if upstreams.len() > MAX_UPSTREAMS {
        return Err(flag_err(
            "--upstream",
            &f.upstream[MAX_UPSTREAMS],
            format!("at most {MAX_UPSTREAMS} upstreams"),
        ));
    }
    let prefixes = f
        .prefix
        .iter()
        .map(|s| parse_prefix(s).map_err(|m| flag_err("--prefix", s, m)))
        .collect::<Result<Vec<_>, _>>()?;
    let nets = f
        .allow
        .iter()
        .map(|s| parse_net(s).map_err(|m| flag_err("--allow", s, m)))
        .collect::<Result<Vec<_>, _>>()?;
    let engine = engine(prefixes, f.allow_non_global).map_err(|m| ConfigError {
        origin: "--prefix".into(),
        key: String::new(),
        message: m,
    })?;
    let default_listen_used = listen.is_empty();
    Ok(Config {
        listen: if default_listen_used {
            default_listen()
        } else {
            listen
        },
        default_listen: default_listen_used,
        upstreams: if upstreams.is_empty() {
            system_resolvers(MAX_UPSTREAMS)
        } else {
            upstreams
        },
        engine,
        acl: Acl {
            nets,
            loopback: !f.no_default_allow,
        },
        timeout: DEFAULT_TIMEOUT,
        metrics: None,
    })
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
    limits: Option<RawLimits>,
    metrics: Option<RawMetrics>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    timeout: Option<Spanned<String>>,
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
    let engine = engine(prefixes, raw.allow_non_global.unwrap_or(false)).map_err(|m| {
        let span = raw.prefixes.as_ref().map_or(0..0, Spanned::span);
        loc.err(span, "prefixes", m)
    })?;
    let nets = list(
        loc,
        raw.allow.as_deref().unwrap_or_default(),
        "allow",
        parse_net,
    )?;
    let timeout = match raw.limits.as_ref().and_then(|l| l.timeout.as_ref()) {
        Some(t) => {
            parse_duration(t.get_ref()).map_err(|m| loc.err(t.span(), "limits.timeout", m))?
        }
        None => DEFAULT_TIMEOUT,
    };
    let metrics = match &raw.metrics {
        Some(m) => Some(
            parse_listen(m.listen.get_ref(), 9464)
                .map_err(|e| loc.err(m.listen.span(), "metrics.listen", e))?,
        ),
        None => None,
    };
    let default_listen_used = listen.is_empty();
    Ok(Config {
        listen: if default_listen_used {
            default_listen()
        } else {
            listen
        },
        default_listen: default_listen_used,
        upstreams: if upstreams.is_empty() {
            system_resolvers(MAX_UPSTREAMS)
        } else {
            upstreams
        },
        engine,
        acl: Acl {
            nets,
            loopback: raw.allow_loopback.unwrap_or(true),
        },
        timeout,
        metrics,
    })
}

// ---------------------------------------------------------------------------
// Values.

fn parse_prefix(s: &str) -> Result<Nat64Prefix, String> {
    s.parse::<Nat64Prefix>().map_err(|e| format!("{s:?}: {e}"))
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
        assert_eq!(c.engine.prefixes().len(), 2);
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
        assert_eq!(c.engine.prefixes()[0].to_string(), "64:ff9b::/96");
        assert!(!c.upstreams.is_empty());
        let e = from_flags(&Flags {
            upstream: vec!["nope".into()],
            ..Flags::default()
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("--upstream \"nope\": "));
    }
}
