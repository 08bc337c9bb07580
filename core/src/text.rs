//! How an address is written for other programs: RFC 5952 text, `[addr]:port`
//! (RFC 3986 §3.2.2, RFC 5952 §6), URL hosts with zones (RFC 6874), PTR
//! names and reverse zones (RFC 1035 §3.5, RFC 3596 §2.5), munin-node access
//! lines, the config formats of [`Style`], and folding IPv4-mapped and NAT64
//! addresses back to IPv4 ([`normalize`]).
//!
//! Every address this module writes is in RFC 5952 canonical text
//! ([`canonical`]): lower case, zeros compressed once, IPv4-mapped addresses
//! in mixed notation.
//!
//! ```
//! use sixgate::text::{format, parse_addr, ptr_name, Style};
//!
//! let a = parse_addr("2001:DB8:0:0:0:0:0:1")?;
//! assert_eq!(a.to_string(), "2001:db8::1");
//! assert_eq!(ptr_name(parse_addr("192.0.2.33")?), "33.2.0.192.in-addr.arpa.");
//! assert_eq!(format(Style::Nginx, "2001:db8::1", Some(443))?, "[2001:db8::1]:443");
//! assert_eq!(format(Style::Bind, "2001:db8::1", Some(5353))?, "2001:db8::1 port 5353");
//!
//! // hostport is meaningless without a port:
//! let err = format(Style::HostPort, "2001:db8::1", None).unwrap_err();
//! assert_eq!(err.to_string(), "the hostport style needs a port");
//! # Ok::<(), sixgate::text::Error>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use ipnet::{IpNet, Ipv4Net};

use crate::rfc6052::Nat64Prefix;

/// The longest zone ID accepted, in bytes. RFC 4007 sets no limit; 64 is
/// generous for an interface name (Linux allows 15) or number.
pub const MAX_ZONE_LEN: usize = 64;

/// Errors from this module. Each message quotes the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text is not an IPv4 or IPv6 address.
    #[error("{text:?} is not an IP address")]
    Addr {
        /// The text as given.
        text: String,
    },
    /// The zone ID (RFC 4007 §11) is malformed, or not allowed where it
    /// was given.
    #[error("zone ID in {text:?} refused: {reason}")]
    Zone {
        /// The address and zone as given (`addr%zone`).
        text: String,
        /// Why the zone was refused.
        reason: &'static str,
    },
    /// The text is not an `address/length` prefix, or it sets bits beyond
    /// its length (the message then names the network meant).
    #[error("{}", prefix_message(.text))]
    Prefix {
        /// The text as given.
        text: String,
    },
    /// The text is not the name of a [`Style`].
    #[error("{text:?} is not a style (expected one of {})", STYLE_NAMES)]
    Style {
        /// The text as given.
        text: String,
    },
    /// The style writes an address only, and a port was given.
    #[error("the {style} style takes no port")]
    PortNotAllowed {
        /// The style asked for.
        style: Style,
    },
    /// The style needs a port, and none was given.
    #[error("the {style} style needs a port")]
    PortRequired {
        /// The style asked for.
        style: Style,
    },
    /// A prefix was given to a style that writes an address.
    #[error("the {style} style takes an address, not a prefix such as {text:?} (only munin-cidr takes a prefix)")]
    PrefixNotAllowed {
        /// The style asked for.
        style: Style,
        /// The prefix as given.
        text: String,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs and
    /// bindings to match on (`addr`, `zone`, `prefix`, `style`,
    /// `port_not_allowed`, `port_required`, `prefix_not_allowed`); the
    /// message itself may be reworded.
    ///
    /// ```
    /// use sixgate::text::parse_addr;
    ///
    /// assert_eq!(parse_addr("2001:db8::zz").unwrap_err().kind(), "addr");
    /// assert_eq!(parse_addr("fe80::1%eth0").unwrap_err().kind(), "zone");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Addr { .. } => "addr",
            Self::Zone { .. } => "zone",
            Self::Prefix { .. } => "prefix",
            Self::Style { .. } => "style",
            Self::PortNotAllowed { .. } => "port_not_allowed",
            Self::PortRequired { .. } => "port_required",
            Self::PrefixNotAllowed { .. } => "prefix_not_allowed",
        }
    }
}

/// An address as written by a user: IPv4 or IPv6, IPv6 optionally with an
/// RFC 4007 §11 zone ID (`fe80::1%eth0`).
///
/// A zone ID is 1 to [`MAX_ZONE_LEN`] bytes of printable ASCII other than
/// `%`, `/`, `[` and `]` (so that it can be written unambiguously inside
/// brackets); any IPv6 address may carry one, an IPv4 address none.
///
/// ```
/// use sixgate::text::ScopedAddr;
///
/// let a: ScopedAddr = "FE80::1%eth0".parse()?;
/// assert_eq!(a.zone(), Some("eth0"));
/// assert_eq!(a.to_string(), "fe80::1%eth0");
///
/// // An address, not a host: no brackets, no whitespace, no zone on IPv4.
/// assert!("[2001:db8::1]".parse::<ScopedAddr>().is_err());
/// assert!(" 2001:db8::1".parse::<ScopedAddr>().is_err());
/// assert!("192.0.2.1%eth0".parse::<ScopedAddr>().is_err());
/// # Ok::<(), sixgate::text::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopedAddr {
    addr: IpAddr,
    zone: Option<String>,
}

impl ScopedAddr {
    /// Builds a scoped address, checking the zone ID (RFC 4007 §11) if one
    /// is given.
    ///
    /// ```
    /// use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    /// use sixgate::text::ScopedAddr;
    ///
    /// let ll = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
    /// assert_eq!(ScopedAddr::new(ll, Some("eth0"))?.to_string(), "fe80::1%eth0");
    ///
    /// let err = ScopedAddr::new(ll, Some("")).unwrap_err();
    /// assert_eq!(err.to_string(), r#"zone ID in "fe80::1%" refused: the zone ID after % is empty"#);
    /// assert!(ScopedAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), Some("lo")).is_err());
    /// # Ok::<(), sixgate::text::Error>(())
    /// ```
    pub fn new(addr: IpAddr, zone: Option<&str>) -> Result<Self, Error> {
        let Some(zone) = zone else {
            return Ok(Self { addr, zone: None });
        };
        check_zone(addr, zone).map_err(|reason| Error::Zone {
            text: format!("{}%{zone}", canonical(addr)),
            reason,
        })?;
        Ok(Self {
            addr,
            zone: Some(zone.to_owned()),
        })
    }

    /// The address without its zone.
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The zone ID, if any.
    pub fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }
}

impl FromStr for ScopedAddr {
    type Err = Error;

    /// Parses an address in any letter case, IPv6 optionally followed by
    /// `%zone`. Brackets and leading or trailing whitespace are refused.
    fn from_str(s: &str) -> Result<Self, Error> {
        if s.trim() != s {
            return Err(addr_error(s));
        }
        let Some((addr, zone)) = s.split_once('%') else {
            let addr = s.parse().map_err(|_| addr_error(s))?;
            return Ok(Self { addr, zone: None });
        };
        let addr: IpAddr = addr.parse().map_err(|_| addr_error(s))?;
        check_zone(addr, zone).map_err(|reason| Error::Zone {
            text: s.to_owned(),
            reason,
        })?;
        Ok(Self {
            addr,
            zone: Some(zone.to_owned()),
        })
    }
}

impl fmt::Display for ScopedAddr {
    /// Canonical text (RFC 5952 §4), then `%zone` if there is one
    /// (RFC 4007 §11; `%`, not the URL form `%25`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&canonical(self.addr))?;
        if let Some(zone) = &self.zone {
            write!(f, "%{zone}")?;
        }
        Ok(())
    }
}

impl From<IpAddr> for ScopedAddr {
    fn from(addr: IpAddr) -> Self {
        Self { addr, zone: None }
    }
}

/// Parses a plain IPv4 or IPv6 address, in any letter case, without a zone.
///
/// ```
/// use sixgate::text::parse_addr;
///
/// assert_eq!(parse_addr("2001:DB8::0001")?.to_string(), "2001:db8::1");
/// assert_eq!(parse_addr("192.0.2.1")?.to_string(), "192.0.2.1");
///
/// assert_eq!(parse_addr("[::1]").unwrap_err().to_string(), r#""[::1]" is not an IP address"#);
/// assert!(parse_addr("fe80::1%eth0").is_err()); // a zone: use ScopedAddr
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn parse_addr(s: &str) -> Result<IpAddr, Error> {
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    match s.split_once('%') {
        Some((addr, _)) if addr.parse::<IpAddr>().is_ok() => Err(Error::Zone {
            text: s.to_owned(),
            reason: ZONE_PLAIN,
        }),
        _ => Err(addr_error(s)),
    }
}

/// Parses an `address/length` prefix, in any letter case. The length is
/// decimal without leading zeros; bits set beyond the length are refused
/// (the error names the network meant), and a bare address is not a prefix.
///
/// ```
/// use sixgate::text::parse_net;
///
/// assert_eq!(parse_net("2001:DB8::/32")?.to_string(), "2001:db8::/32");
/// assert_eq!(parse_net("192.0.2.0/24")?.to_string(), "192.0.2.0/24");
///
/// assert_eq!(
///     parse_net("192.0.2.1/24").unwrap_err().to_string(),
///     r#""192.0.2.1/24" has bits set beyond the prefix length (did you mean 192.0.2.0/24?)"#
/// );
/// assert!(parse_net("192.0.2.1").is_err());
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn parse_net(s: &str) -> Result<IpNet, Error> {
    match split_net(s) {
        Some(net) if net.trunc() == net => Ok(net),
        _ => Err(Error::Prefix { text: s.to_owned() }),
    }
}

/// The RFC 5952 §4 canonical text of an address: lower case, leading zeros
/// dropped, the longest run of two or more zero fields compressed to `::`
/// (the first on a tie), and IPv4-mapped addresses in mixed notation
/// `::ffff:192.0.2.1` (RFC 5952 §5). Other addresses are written all in hex,
/// including the deprecated IPv4-compatible `::c000:201`.
///
/// ```
/// use sixgate::text::{canonical, parse_addr};
///
/// assert_eq!(canonical(parse_addr("2001:0DB8:0:0:1:0:0:1")?), "2001:db8::1:0:0:1");
/// assert_eq!(canonical(parse_addr("2001:db8:0:1:1:1:1:1")?), "2001:db8:0:1:1:1:1:1");
/// assert_eq!(canonical(parse_addr("::FFFF:C000:0201")?), "::ffff:192.0.2.1");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn canonical(addr: IpAddr) -> String {
    // std's Display already follows RFC 5952 §4 and §5 (checked against the
    // RFC's examples in the tests below).
    addr.to_string()
}

/// `addr:port` for IPv4 and `[addr]:port` for IPv6 (RFC 3986 §3.2.2,
/// RFC 5952 §6): without brackets `2001:db8::1:443` would itself be an
/// address.
///
/// ```
/// use sixgate::text::{host_port, parse_addr};
///
/// assert_eq!(host_port(parse_addr("2001:db8::1")?, 443), "[2001:db8::1]:443");
/// assert_eq!(host_port(parse_addr("192.0.2.1")?, 443), "192.0.2.1:443");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn host_port(addr: IpAddr, port: u16) -> String {
    match addr {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

/// The host part of a URL (RFC 3986 §3.2.2): IPv4 bare, IPv6 in brackets,
/// a zone ID introduced by `%25` with every character outside RFC 3986
/// `unreserved` percent-encoded in upper-case hex (RFC 6874 §2).
///
/// ```
/// use sixgate::text::{url_host, ScopedAddr};
///
/// assert_eq!(url_host(&"2001:db8::1".parse()?), "[2001:db8::1]");
/// assert_eq!(url_host(&"fe80::1%eth0".parse()?), "[fe80::1%25eth0]");
/// assert_eq!(url_host(&"fe80::1%a:b".parse()?), "[fe80::1%25a%3Ab]");
/// assert_eq!(url_host(&"192.0.2.1".parse()?), "192.0.2.1");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn url_host(addr: &ScopedAddr) -> String {
    let v6 = match addr.addr {
        IpAddr::V4(v4) => return v4.to_string(),
        IpAddr::V6(v6) => v6,
    };
    let mut out = format!("[{v6}");
    if let Some(zone) = &addr.zone {
        out.push_str("%25");
        for b in zone.bytes() {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out.push(']');
    out
}

/// The fully qualified PTR name of an address, trailing dot included:
/// `33.2.0.192.in-addr.arpa.` (RFC 1035 §3.5) or the 32 nibbles under
/// `ip6.arpa.` (RFC 3596 §2.5).
///
/// An IPv4-mapped address is an IPv6 address here and gets an `ip6.arpa`
/// name; [`normalize`] it first if the IPv4 name is wanted.
///
/// ```
/// use sixgate::text::{parse_addr, ptr_name};
///
/// assert_eq!(ptr_name(parse_addr("192.0.2.33")?), "33.2.0.192.in-addr.arpa.");
/// assert_eq!(
///     ptr_name(parse_addr("2001:db8::1")?),
///     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
/// );
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn ptr_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => v4_zone(v4, 4),
        IpAddr::V6(v6) => v6_zone(v6, 32),
    }
}

/// The reverse zones, trailing dot included, that exactly cover `net`, in
/// ascending order. Zones are cut on label boundaries: octets for IPv4
/// (RFC 1035 §3.5), nibbles for IPv6 (RFC 3596 §2.5); a prefix between
/// boundaries is expanded to every zone at the next boundary. Bits set
/// beyond the length are ignored.
///
/// Bounded: at most 128 zones for IPv4 (7 bits short of an octet) and 8
/// for IPv6 (3 bits short of a nibble). RFC 2317 classless delegation is
/// not attempted.
///
/// ```
/// use sixgate::text::{parse_net, reverse_zones};
///
/// assert_eq!(reverse_zones(parse_net("2001:db8::/32")?), ["8.b.d.0.1.0.0.2.ip6.arpa."]);
/// assert_eq!(
///     reverse_zones(parse_net("10.0.0.0/7")?),
///     ["10.in-addr.arpa.", "11.in-addr.arpa."]
/// );
/// assert_eq!(reverse_zones(parse_net("192.0.2.0/25")?).len(), 128);
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn reverse_zones(net: IpNet) -> Vec<String> {
    // `next_multiple_of` cannot overflow: a length is at most 128.
    match net.trunc() {
        IpNet::V4(net) => {
            let len = net.prefix_len();
            let labels = usize::from(len.div_ceil(8));
            match net.subnets(len.next_multiple_of(8)) {
                Ok(zones) => zones.map(|z| v4_zone(z.network(), labels)).collect(),
                // Unreachable: the new length lies between `len` and 32.
                Err(_) => Vec::new(),
            }
        }
        IpNet::V6(net) => {
            let len = net.prefix_len();
            let labels = usize::from(len.div_ceil(4));
            match net.subnets(len.next_multiple_of(4)) {
                Ok(zones) => zones.map(|z| v6_zone(z.network(), labels)).collect(),
                // Unreachable: the new length lies between `len` and 128.
                Err(_) => Vec::new(),
            }
        }
    }
}

/// An anchored munin-node `allow` regex for one address.
///
/// munin-node (through Net::Server) matches the regex against the peer's
/// address text. On a dual-stack socket an IPv4 peer may appear as
/// `192.0.2.1` or `::ffff:192.0.2.1` depending on the version, so IPv4
/// gives `^(::ffff:)?192\.0\.2\.1$`, which matches both. An IPv4-mapped
/// input is folded to IPv4 first. IPv6 gives the canonical text, anchored,
/// with any dot escaped (colons need no escaping).
///
/// ```
/// use sixgate::text::{munin_allow_regex, parse_addr};
///
/// assert_eq!(munin_allow_regex(parse_addr("192.0.2.1")?), r"^(::ffff:)?192\.0\.2\.1$");
/// assert_eq!(munin_allow_regex(parse_addr("::ffff:192.0.2.1")?), r"^(::ffff:)?192\.0\.2\.1$");
/// assert_eq!(munin_allow_regex(parse_addr("2001:DB8::1")?), "^2001:db8::1$");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn munin_allow_regex(addr: IpAddr) -> String {
    match fold_mapped(addr) {
        IpAddr::V4(v4) => format!("^(::ffff:)?{}$", escape_dots(&v4.to_string())),
        IpAddr::V6(v6) => format!("^{}$", escape_dots(&v6.to_string())),
    }
}

/// A whole munin-node.conf `allow` line for one address: `allow ` and
/// [`munin_allow_regex`].
///
/// ```
/// use sixgate::text::{munin_allow, parse_addr};
///
/// assert_eq!(munin_allow(parse_addr("192.0.2.1")?), r"allow ^(::ffff:)?192\.0\.2\.1$");
/// assert_eq!(munin_allow(parse_addr("::1")?), "allow ^::1$");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn munin_allow(addr: IpAddr) -> String {
    format!("allow {}", munin_allow_regex(addr))
}

/// A whole munin-node.conf `cidr_allow` line, always with an explicit
/// length. Bits beyond the length are cleared. A prefix of length 96 or
/// more inside `::ffff:0:0/96` (IPv4-mapped, RFC 4291 §2.5.5.2) is folded
/// to the IPv4 prefix it stands for, so a mapped /128 becomes a /32.
///
/// ```
/// use sixgate::text::{munin_cidr_allow, parse_net};
///
/// assert_eq!(munin_cidr_allow(parse_net("192.0.2.1/32")?), "cidr_allow 192.0.2.1/32");
/// assert_eq!(munin_cidr_allow(parse_net("::ffff:192.0.2.1/128")?), "cidr_allow 192.0.2.1/32");
/// assert_eq!(munin_cidr_allow(parse_net("2001:db8::/32")?), "cidr_allow 2001:db8::/32");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn munin_cidr_allow(net: IpNet) -> String {
    format!("cidr_allow {}", fold_mapped_net(net.trunc()))
}

/// Folds an address to the IPv4 address it stands for, if any:
///
/// - an IPv4-mapped address (`::ffff:0:0/96`, RFC 4291 §2.5.5.2) always
///   folds;
/// - an address inside one of `nat64_prefixes` from which
///   [`Nat64Prefix::extract`] succeeds folds to the embedded IPv4 address
///   (RFC 6052 §2.2). If several prefixes contain it, the longest wins, as
///   in a route lookup, whatever their order in the slice;
/// - everything else is returned unchanged, including `::1`, `::` and the
///   deprecated IPv4-compatible `::192.0.2.1` (RFC 4291 §2.5.5.1).
///
/// Work is linear in the number of prefixes.
///
/// ```
/// use sixgate::text::{normalize, parse_addr};
/// use sixgate::Nat64Prefix;
///
/// let nat64 = [Nat64Prefix::WELL_KNOWN];
/// assert_eq!(normalize(parse_addr("::ffff:192.0.2.1")?, &[]).to_string(), "192.0.2.1");
/// assert_eq!(normalize(parse_addr("64:ff9b::c000:221")?, &nat64).to_string(), "192.0.2.33");
///
/// // Not folded: loopback, and a NAT64 address when no prefix is given.
/// assert_eq!(normalize(parse_addr("::1")?, &nat64).to_string(), "::1");
/// assert_eq!(normalize(parse_addr("64:ff9b::c000:221")?, &[]).to_string(), "64:ff9b::c000:221");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn normalize(addr: IpAddr, nat64_prefixes: &[Nat64Prefix]) -> IpAddr {
    let IpAddr::V6(v6) = addr else {
        return addr;
    };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    nat64_prefixes
        .iter()
        .filter_map(|p| p.extract(v6).ok().map(|v4| (p.prefix_len(), v4)))
        .max_by_key(|&(len, _)| len)
        .map_or(addr, |(_, v4)| IpAddr::V4(v4))
}

/// A prefix inside `::ffff:0:0/96` (length 96 or more, RFC 4291
/// §2.5.5.2) as the IPv4 prefix it maps, the way [`normalize`] folds an
/// address; anything else is returned unchanged. Host bits are kept as
/// given.
///
/// ```
/// use sixgate::text::{normalize_net, parse_net};
///
/// assert_eq!(normalize_net(parse_net("::ffff:192.0.2.0/120")?).to_string(), "192.0.2.0/24");
/// assert_eq!(normalize_net(parse_net("::ffff:0:0/96")?).to_string(), "0.0.0.0/0");
/// // Shorter than /96, or not mapped: unchanged.
/// assert_eq!(normalize_net(parse_net("::/64")?).to_string(), "::/64");
/// assert_eq!(normalize_net(parse_net("2001:db8::/32")?).to_string(), "2001:db8::/32");
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn normalize_net(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(n) => n
            .prefix_len()
            .checked_sub(96)
            .zip(n.addr().to_ipv4_mapped())
            .and_then(|(len, a)| Ipv4Net::new(a, len).ok())
            .map_or(net, IpNet::V4),
        IpNet::V4(_) => net,
    }
}

/// How a program wants an address (and port) written in its configuration
/// or on its command line. See [`format()`] for the output of each and
/// [`pitfall`](Self::pitfall) for what goes wrong when written naively.
///
/// ```
/// use sixgate::text::Style;
///
/// let s: Style = "known-hosts".parse()?;
/// assert_eq!(s, Style::KnownHosts);
/// assert_eq!(s.to_string(), "known-hosts");
/// assert!("postfix".parse::<Style>().is_err());
/// # Ok::<(), sixgate::text::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Style {
    /// `[addr]:port`, as getaddrinfo-based programs take it (RFC 3986
    /// §3.2.2); a zone is kept as `%zone` inside the brackets.
    HostPort,
    /// The authority of a URL, `host[:port]`, with a zone as `%25zone`
    /// (RFC 6874).
    Url,
    /// nginx `listen` and upstream `server`.
    Nginx,
    /// HAProxy `bind` and `server`.
    Haproxy,
    /// Apache httpd `Listen` and `<VirtualHost>`.
    Apache,
    /// OpenSSH sshd_config `ListenAddress`.
    Sshd,
    /// BIND named.conf address lists (`forwarders`, `primaries`).
    Bind,
    /// NSD nsd.conf `ip-address`, `request-xfr` and the like.
    Nsd,
    /// An OpenSSH known_hosts host pattern.
    KnownHosts,
    /// A munin-node.conf `allow` regex line.
    MuninAllow,
    /// A munin-node.conf `cidr_allow` line.
    MuninCidr,
}

impl Style {
    /// Every style, in the order of [`Style::name`]'s list.
    pub const ALL: [Style; 11] = [
        Style::HostPort,
        Style::Url,
        Style::Nginx,
        Style::Haproxy,
        Style::Apache,
        Style::Sshd,
        Style::Bind,
        Style::Nsd,
        Style::KnownHosts,
        Style::MuninAllow,
        Style::MuninCidr,
    ];

    /// The style's name on the command line: `hostport`, `url`, `nginx`,
    /// `haproxy`, `apache`, `sshd`, `bind`, `nsd`, `known-hosts`,
    /// `munin-allow`, `munin-cidr`.
    ///
    /// ```
    /// use sixgate::text::Style;
    ///
    /// assert_eq!(Style::MuninCidr.name(), "munin-cidr");
    /// ```
    pub const fn name(self) -> &'static str {
        match self {
            Style::HostPort => "hostport",
            Style::Url => "url",
            Style::Nginx => "nginx",
            Style::Haproxy => "haproxy",
            Style::Apache => "apache",
            Style::Sshd => "sshd",
            Style::Bind => "bind",
            Style::Nsd => "nsd",
            Style::KnownHosts => "known-hosts",
            Style::MuninAllow => "munin-allow",
            Style::MuninCidr => "munin-cidr",
        }
    }

    /// One or two sentences on what goes wrong when an address is written
    /// naively for this program (for `--help` and the docs).
    ///
    /// ```
    /// use sixgate::text::Style;
    ///
    /// assert!(Style::Bind.pitfall().contains("port 5353"));
    /// ```
    pub const fn pitfall(self) -> &'static str {
        match self {
            Style::HostPort => {
                "IPv6 needs brackets before :port (RFC 3986): 2001:db8::1:443 is itself an \
                 address, so write [2001:db8::1]:443."
            }
            Style::Url => {
                "A zone ID's % must be written %25 (RFC 6874): http://[fe80::1%25eth0]:8080/."
            }
            Style::Nginx => {
                "listen and upstream server need brackets around IPv6: listen [2001:db8::1]:443."
            }
            Style::Haproxy => {
                "HAProxy takes the port after the last colon, so `server s1 2001:db8::1` is \
                 read as host 2001:db8: port 1, with or without an ipv6@ prefix; write \
                 [2001:db8::1] or [2001:db8::1]:443."
            }
            Style::Apache => {
                "Listen and <VirtualHost> need brackets around IPv6: without them \
                 `<VirtualHost 2001:db8::1>` is looked up as host 2001:db8: and the vhost is \
                 dropped with only a warning. Listen always needs a port: Listen \
                 [2001:db8::1]:80."
            }
            Style::Sshd => {
                "`ListenAddress ::1:2222` is taken as the address ::1:2222 on port 22; a port \
                 needs [::1]:2222."
            }
            Style::Bind => {
                "BIND never uses a colon for a port: `2001:db8::1:5353` is silently another \
                 address and `[2001:db8::1]:5353` a syntax error; write `2001:db8::1 port 5353` \
                 in forwarders and primaries."
            }
            Style::Nsd => {
                "NSD writes the port after @: `2001:db8::1@5353`; `2001:db8::1:5353` is \
                 silently another address on port 53."
            }
            Style::KnownHosts => {
                "ssh compares the text: a bare address for port 22, [addr]:port otherwise, for \
                 IPv4 too."
            }
            Style::MuninAllow => {
                "munin-node matches a regex against the peer's text, with or without ::ffff:; \
                 dots must be escaped and both ends anchored, or 192.0.2.1 also admits \
                 192.0.2.10."
            }
            Style::MuninCidr => "cidr_allow needs an explicit length: cidr_allow 192.0.2.1/32.",
        }
    }
}

impl fmt::Display for Style {
    /// The style's [`name`](Style::name).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Style {
    type Err = Error;

    /// Parses a style by its exact [`name`](Style::name).
    fn from_str(s: &str) -> Result<Self, Error> {
        Style::ALL
            .into_iter()
            .find(|style| style.name() == s)
            .ok_or_else(|| Error::Style { text: s.to_owned() })
    }
}

/// Writes `input` the way `style`'s program wants it, optionally with a
/// port. `input` is an address ([`ScopedAddr`] syntax) or, for
/// [`Style::MuninCidr`] only, an `address/length` prefix. Addresses come out
/// in canonical text ([`canonical`]).
///
/// | style | no port | port |
/// |---|---|---|
/// | hostport | refused | `[2001:db8::1]:443`, `[fe80::1%eth0]:22`, `192.0.2.1:443` |
/// | url | `[2001:db8::1]`, `[fe80::1%25eth0]` | `[2001:db8::1]:8080`, `192.0.2.1:8080` |
/// | nginx, apache | `[2001:db8::1]`, `192.0.2.1` | `[2001:db8::1]:443`, `192.0.2.1:443` |
/// | haproxy | `[2001:db8::1]`, `192.0.2.1` | `[2001:db8::1]:443`, `192.0.2.1:443` |
/// | sshd | `2001:db8::1` | `[2001:db8::1]:2222`, `192.0.2.1:2222` |
/// | bind | `2001:db8::1` | `2001:db8::1 port 5353` |
/// | nsd | `2001:db8::1` | `2001:db8::1@5353` |
/// | known-hosts | `2001:db8::1` (also for port 22) | `[2001:db8::1]:2222`, `[192.0.2.1]:2222` |
/// | munin-allow | [`munin_allow`] | refused |
/// | munin-cidr | [`munin_cidr_allow`] (an address as /32 or /128) | refused |
///
/// Only hostport and url can carry a zone; the other programs' configs
/// cannot, and a prefix (text containing `/`) is refused by every style
/// but munin-cidr.
///
/// ```
/// use sixgate::text::{format, Style};
///
/// assert_eq!(format(Style::Haproxy, "2001:DB8::1", None)?, "[2001:db8::1]");
/// assert_eq!(format(Style::Nsd, "2001:db8::1", Some(5353))?, "2001:db8::1@5353");
/// assert_eq!(format(Style::KnownHosts, "192.0.2.1", Some(2222))?, "[192.0.2.1]:2222");
/// assert_eq!(format(Style::MuninCidr, "2001:db8::/48", None)?, "cidr_allow 2001:db8::/48");
///
/// assert!(format(Style::MuninAllow, "192.0.2.1", Some(4949)).is_err());
/// assert!(format(Style::Nginx, "fe80::1%eth0", Some(80)).is_err());
/// assert!(format(Style::Nginx, "2001:db8::/32", None).is_err());
/// # Ok::<(), sixgate::text::Error>(())
/// ```
pub fn format(style: Style, input: &str, port: Option<u16>) -> Result<String, Error> {
    match (style, port) {
        (Style::MuninAllow | Style::MuninCidr, Some(_)) => {
            return Err(Error::PortNotAllowed { style });
        }
        (Style::HostPort, None) => return Err(Error::PortRequired { style }),
        _ => {}
    }
    if input.contains('/') {
        return match style {
            Style::MuninCidr => Ok(munin_cidr_allow(parse_net(input)?)),
            _ => Err(Error::PrefixNotAllowed {
                style,
                text: input.to_owned(),
            }),
        };
    }
    let scoped: ScopedAddr = input.parse()?;
    if scoped.zone.is_some() && !matches!(style, Style::HostPort | Style::Url) {
        return Err(Error::Zone {
            text: input.to_owned(),
            reason: ZONE_STYLE,
        });
    }
    let addr = scoped.addr;
    // With the zone check above, `text` carries a zone only for hostport.
    let text = scoped.to_string();
    Ok(match (style, port) {
        // HostPort without a port was refused above; written like nginx.
        (Style::HostPort | Style::Nginx | Style::Apache, _) => bracketed(&text, addr, port),
        (Style::Url, None) => url_host(&scoped),
        (Style::Url, Some(p)) => format!("{}:{p}", url_host(&scoped)),
        // HAProxy splits at the last colon even after `ipv6@`, so IPv6 is
        // always bracketed (checked against haproxy -c in the servers tests).
        (Style::Haproxy, _) => bracketed(&text, addr, port),
        (Style::Sshd, None) => text,
        (Style::Sshd, Some(_)) => bracketed(&text, addr, port),
        (Style::Bind, None) | (Style::Nsd, None) => text,
        (Style::Bind, Some(p)) => format!("{text} port {p}"),
        (Style::Nsd, Some(p)) => format!("{text}@{p}"),
        (Style::KnownHosts, None | Some(22)) => text,
        (Style::KnownHosts, Some(p)) => format!("[{text}]:{p}"),
        (Style::MuninAllow, _) => munin_allow(addr),
        (Style::MuninCidr, _) => munin_cidr_allow(IpNet::from(addr)),
    })
}

/// The style names, for the [`Error::Style`] message.
const STYLE_NAMES: &str = "hostport, url, nginx, haproxy, apache, sshd, bind, nsd, \
                           known-hosts, munin-allow, munin-cidr";

/// [`Error::Zone`] reason from [`format()`].
const ZONE_STYLE: &str = "only the hostport and url styles can carry a zone";
/// [`Error::Zone`] reason from [`parse_addr`].
const ZONE_PLAIN: &str = "a plain address takes no zone ID";
/// [`Error::Zone`] reasons from [`check_zone`].
const ZONE_V4: &str = "an IPv4 address cannot carry a zone ID";
const ZONE_EMPTY: &str = "the zone ID after % is empty";
const ZONE_LONG: &str = "a zone ID is at most 64 bytes";
const ZONE_PERCENT: &str = "a zone ID cannot contain %";
const ZONE_CHARS: &str =
    "a zone ID holds only printable ASCII, without spaces, control characters, /, [ or ]";

/// Checks a zone ID for `addr` (RFC 4007 §11), giving the reason it is
/// refused. See [`ScopedAddr`] for the rules.
fn check_zone(addr: IpAddr, zone: &str) -> Result<(), &'static str> {
    if addr.is_ipv4() {
        return Err(ZONE_V4);
    }
    if zone.is_empty() {
        return Err(ZONE_EMPTY);
    }
    if zone.len() > MAX_ZONE_LEN {
        return Err(ZONE_LONG);
    }
    if zone.contains('%') {
        return Err(ZONE_PERCENT);
    }
    if !zone
        .bytes()
        .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'[' | b']'))
    {
        return Err(ZONE_CHARS);
    }
    Ok(())
}

fn addr_error(s: &str) -> Error {
    Error::Addr { text: s.to_owned() }
}

/// Parses `address/length` (length decimal, no sign, no leading zero, at
/// most the address width) without checking host bits.
fn split_net(s: &str) -> Option<IpNet> {
    let (addr, len) = s.split_once('/')?;
    let addr: IpAddr = addr.parse().ok()?;
    let well_formed = !len.is_empty()
        && len.len() <= 3
        && len.bytes().all(|b| b.is_ascii_digit())
        && (len == "0" || !len.starts_with('0'));
    if !well_formed {
        return None;
    }
    let len: u8 = len.parse().ok()?;
    IpNet::new(addr, len).ok()
}

/// The message of [`Error::Prefix`]: names the network when only host bits
/// are wrong.
fn prefix_message(text: &str) -> String {
    match split_net(text) {
        Some(net) if net.trunc() != net => format!(
            "{text:?} has bits set beyond the prefix length (did you mean {}?)",
            net.trunc()
        ),
        _ => format!(
            "{text:?} is not an IP prefix (address/length, such as 2001:db8::/32 or 192.0.2.0/24)"
        ),
    }
}

/// `[text]` or `[text]:port` for IPv6, `text` or `text:port` for IPv4.
fn bracketed(text: &str, addr: IpAddr, port: Option<u16>) -> String {
    match (addr, port) {
        (IpAddr::V4(_), None) => text.to_owned(),
        (IpAddr::V4(_), Some(p)) => format!("{text}:{p}"),
        (IpAddr::V6(_), None) => format!("[{text}]"),
        (IpAddr::V6(_), Some(p)) => format!("[{text}]:{p}"),
    }
}

/// The `in-addr.arpa.` name of the first `labels` (0 to 4) octets.
fn v4_zone(addr: Ipv4Addr, labels: usize) -> String {
    let mut name = String::new();
    for octet in addr.octets().iter().take(labels).rev() {
        name.push_str(&octet.to_string());
        name.push('.');
    }
    name.push_str("in-addr.arpa.");
    name
}

/// The `ip6.arpa.` name of the first `labels` (0 to 32) nibbles.
fn v6_zone(addr: Ipv6Addr, labels: usize) -> String {
    let nibbles: Vec<u8> = addr
        .octets()
        .into_iter()
        .flat_map(|b| [b >> 4, b & 0xf])
        .take(labels)
        .collect();
    let mut name = String::with_capacity(labels.saturating_mul(2).saturating_add(9));
    for &n in nibbles.iter().rev() {
        // `n` < 16, so it always is a hex digit.
        name.push(char::from_digit(u32::from(n), 16).unwrap_or('0'));
        name.push('.');
    }
    name.push_str("ip6.arpa.");
    name
}

/// An IPv4-mapped address as IPv4; anything else unchanged.
fn fold_mapped(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
        IpAddr::V4(_) => addr,
    }
}

/// A prefix of length 96 or more inside `::ffff:0:0/96` as the IPv4 prefix
/// it maps; anything else unchanged.
fn fold_mapped_net(net: IpNet) -> IpNet {
    let IpNet::V6(v6) = net else {
        return net;
    };
    v6.prefix_len()
        .checked_sub(96)
        .zip(v6.network().to_ipv4_mapped())
        .and_then(|(len, v4)| Ipv4Net::new(v4, len).ok())
        .map_or(net, IpNet::V4)
}

/// Escapes the dots of an address for a regex.
fn escape_dots(text: &str) -> String {
    text.replace('.', r"\.")
}

#[cfg(test)]
mod tests {
    use ipnet::Ipv6Net;

    use super::*;

    fn a(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn canonical_follows_rfc5952() {
        for (input, want) in [
            // §4.1 leading zeros, §4.3 lower case.
            ("2001:0db8::0001", "2001:db8::1"),
            ("2001:DB8::ABCD", "2001:db8::abcd"),
            // §2.1 / §2.2: every way of writing 2001:db8:0:0:1:0:0:1.
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8::0:1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:0db8::1:0:0:1", "2001:db8::1:0:0:1"),
            ("2001:db8:0:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:db8:0000:0:1::1", "2001:db8::1:0:0:1"),
            ("2001:DB8:0:0:1::1", "2001:db8::1:0:0:1"),
            // §2.2 leading zeros in the other examples.
            (
                "2001:db8:aaaa:bbbb:cccc:dddd:eeee:0001",
                "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1",
            ),
            (
                "2001:db8:aaaa:bbbb:cccc:dddd:eeee:001",
                "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1",
            ),
            (
                "2001:db8:aaaa:bbbb:cccc:dddd:eeee:01",
                "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1",
            ),
            // §4.2.1 shorten as much as possible.
            ("2001:db8:0:0:0:0:2:1", "2001:db8::2:1"),
            ("2001:db8::0:1", "2001:db8::1"),
            // §4.2.2 a single 0 field is not compressed.
            ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),
            // §4.2.3 longest run, then the first.
            ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
            ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
            // §5 IPv4-mapped in mixed notation; compat (deprecated) in hex.
            ("::ffff:192.0.2.1", "::ffff:192.0.2.1"),
            ("::FFFF:C000:201", "::ffff:192.0.2.1"),
            ("::192.0.2.1", "::c000:201"),
            ("::", "::"),
            ("::1", "::1"),
            ("192.0.2.1", "192.0.2.1"),
        ] {
            assert_eq!(canonical(a(input)), want, "{input}");
            assert_eq!(canonical(parse_addr(input).unwrap()), want, "{input}");
        }
    }

    #[test]
    fn parse_addr_accepts_plain_addresses_only() {
        assert_eq!(parse_addr("2001:DB8::1"), Ok(a("2001:db8::1")));
        assert_eq!(parse_addr("192.0.2.1"), Ok(a("192.0.2.1")));
        for bad in [
            "",
            "[2001:db8::1]",
            " 192.0.2.1",
            "192.0.2.1 ",
            "192.0.2",
            "192.0.2.01",
            "2001:db8::1/128",
            "example.org",
            "2001:db8::g",
        ] {
            assert_eq!(
                parse_addr(bad),
                Err(Error::Addr { text: bad.into() }),
                "{bad}"
            );
        }
        let e = parse_addr("fe80::1%eth0").unwrap_err();
        assert_eq!(
            e,
            Error::Zone {
                text: "fe80::1%eth0".into(),
                reason: ZONE_PLAIN
            }
        );
        assert_eq!(
            e.to_string(),
            r#"zone ID in "fe80::1%eth0" refused: a plain address takes no zone ID"#
        );
        assert_eq!(
            parse_addr("nothing%eth0"),
            Err(Error::Addr {
                text: "nothing%eth0".into()
            })
        );
    }

    #[test]
    fn scoped_addr_parses_and_prints() {
        let s: ScopedAddr = "FE80::1%eth0".parse().unwrap();
        assert_eq!(s.addr(), a("fe80::1"));
        assert_eq!(s.zone(), Some("eth0"));
        assert_eq!(s.to_string(), "fe80::1%eth0");
        // Any IPv6 address may carry a zone, not only link-local.
        let s: ScopedAddr = "2001:db8::1%7".parse().unwrap();
        assert_eq!(s.zone(), Some("7"));
        let s: ScopedAddr = "192.0.2.1".parse().unwrap();
        assert_eq!(s, ScopedAddr::from(a("192.0.2.1")));
        assert_eq!(s.zone(), None);
        assert_eq!(s.to_string(), "192.0.2.1");
        assert_eq!(
            ScopedAddr::new(a("fe80::1"), Some("eth0")).unwrap(),
            "fe80::1%eth0".parse().unwrap()
        );
        assert_eq!(
            ScopedAddr::new(a("2001:db8::1"), None).unwrap(),
            ScopedAddr::from(a("2001:db8::1"))
        );
    }

    #[test]
    fn scoped_addr_refuses_bad_text() {
        for bad in [
            "",
            "[2001:db8::1]",
            "[fe80::1%eth0]",
            " fe80::1%eth0",
            "fe80::1%eth0 ",
            "fe80::1%eth0\n",
            "nothing%eth0",
            "%eth0",
        ] {
            assert_eq!(
                bad.parse::<ScopedAddr>(),
                Err(Error::Addr { text: bad.into() }),
                "{bad:?}"
            );
        }
        let long = format!("fe80::1%{}", "e".repeat(65));
        let at_limit = format!("fe80::1%{}", "e".repeat(64));
        assert!(at_limit.parse::<ScopedAddr>().is_ok());
        for (bad, reason) in [
            ("192.0.2.1%eth0", ZONE_V4),
            ("fe80::1%", ZONE_EMPTY),
            (long.as_str(), ZONE_LONG),
            ("fe80::1%eth%0", ZONE_PERCENT),
            ("fe80::1%25%eth0", ZONE_PERCENT),
            ("fe80::1%et h0", ZONE_CHARS),
            ("fe80::1%eth\t0", ZONE_CHARS),
            ("fe80::1%eth\u{7f}", ZONE_CHARS),
            ("fe80::1%\u{e9}th0", ZONE_CHARS),
            ("fe80::1%a]b", ZONE_CHARS),
            ("fe80::1%a[b", ZONE_CHARS),
            ("fe80::1%a/b", ZONE_CHARS),
        ] {
            assert_eq!(
                bad.parse::<ScopedAddr>(),
                Err(Error::Zone {
                    text: bad.into(),
                    reason
                }),
                "{bad:?}"
            );
        }
        // new() reports the address and zone in canonical text.
        assert_eq!(
            ScopedAddr::new(a("FE80::1"), Some("a b")),
            Err(Error::Zone {
                text: "fe80::1%a b".into(),
                reason: ZONE_CHARS
            })
        );
        assert_eq!(
            ScopedAddr::new(a("192.0.2.1"), Some("lo"))
                .unwrap_err()
                .to_string(),
            r#"zone ID in "192.0.2.1%lo" refused: an IPv4 address cannot carry a zone ID"#
        );
    }

    #[test]
    fn parse_net_wants_a_clean_prefix() {
        assert_eq!(parse_net("2001:DB8::/32"), Ok(n("2001:db8::/32")));
        assert_eq!(parse_net("192.0.2.0/24"), Ok(n("192.0.2.0/24")));
        assert_eq!(parse_net("0.0.0.0/0"), Ok(n("0.0.0.0/0")));
        assert_eq!(parse_net("::/0"), Ok(n("::/0")));
        assert_eq!(parse_net("192.0.2.1/32"), Ok(n("192.0.2.1/32")));
        assert_eq!(parse_net("2001:db8::1/128"), Ok(n("2001:db8::1/128")));
        for bad in [
            "",
            "/",
            "/24",
            "192.0.2.1",
            "2001:db8::1",
            "192.0.2.0/",
            "192.0.2.0/33",
            "2001:db8::/129",
            "2001:db8::/1000",
            "192.0.2.0/024",
            "192.0.2.0/+24",
            "192.0.2.0/ 24",
            "192.0.2.0/24 ",
            "192.0.2.0/2a",
            "fe80::%eth0/64",
            "[2001:db8::]/32",
            "192.0.2.0/24/24",
        ] {
            let e = parse_net(bad).unwrap_err();
            assert_eq!(e, Error::Prefix { text: bad.into() }, "{bad:?}");
            assert!(
                e.to_string().ends_with(
                    "is not an IP prefix (address/length, such as 2001:db8::/32 or 192.0.2.0/24)"
                ),
                "{e}"
            );
        }
        let e = parse_net("2001:db8::1/64").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#""2001:db8::1/64" has bits set beyond the prefix length (did you mean 2001:db8::/64?)"#
        );
        assert!(parse_net("11.0.0.0/7")
            .unwrap_err()
            .to_string()
            .contains("did you mean 10.0.0.0/7?"));
    }

    #[test]
    fn host_port_brackets_ipv6() {
        assert_eq!(host_port(a("2001:DB8::1"), 443), "[2001:db8::1]:443");
        assert_eq!(host_port(a("::ffff:192.0.2.1"), 0), "[::ffff:192.0.2.1]:0");
        assert_eq!(host_port(a("192.0.2.1"), 65535), "192.0.2.1:65535");
    }

    #[test]
    fn url_host_encodes_the_zone() {
        let host = |s: &str| url_host(&s.parse().unwrap());
        assert_eq!(host("2001:DB8::1"), "[2001:db8::1]");
        assert_eq!(host("192.0.2.1"), "192.0.2.1");
        assert_eq!(host("fe80::1%eth0"), "[fe80::1%25eth0]");
        assert_eq!(host("fe80::1%eth0.100"), "[fe80::1%25eth0.100]");
        assert_eq!(host("fe80::1%a-b_c~d"), "[fe80::1%25a-b_c~d]");
        assert_eq!(host("fe80::1%a:b"), "[fe80::1%25a%3Ab]");
        assert_eq!(host("fe80::1%a?#@!"), "[fe80::1%25a%3F%23%40%21]");
        assert_eq!(host("fe80::1%{x}"), "[fe80::1%25%7Bx%7D]");
    }

    #[test]
    fn ptr_names_are_fully_qualified() {
        assert_eq!(ptr_name(a("192.0.2.33")), "33.2.0.192.in-addr.arpa.");
        assert_eq!(ptr_name(a("0.0.0.0")), "0.0.0.0.in-addr.arpa.");
        assert_eq!(
            ptr_name(a("255.255.255.255")),
            "255.255.255.255.in-addr.arpa."
        );
        // RFC 3596 §2.5's example, 4321:0:1:2:3:4:567:89ab.
        assert_eq!(
            ptr_name(a("4321:0:1:2:3:4:567:89AB")),
            "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa."
        );
        assert_eq!(
            ptr_name(a("2001:db8::1")),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
        // A mapped address is IPv6 here.
        assert_eq!(
            ptr_name(a("::ffff:192.0.2.33")),
            "1.2.2.0.0.0.0.c.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."
        );
        assert_eq!(ptr_name(a("::")).split('.').count(), 35);
    }

    #[test]
    fn reverse_zones_on_label_boundaries() {
        let z = |s: &str| reverse_zones(n(s));
        assert_eq!(z("2001:db8::/32"), ["8.b.d.0.1.0.0.2.ip6.arpa."]);
        assert_eq!(
            z("2001:db8::/30"),
            [
                "8.b.d.0.1.0.0.2.ip6.arpa.",
                "9.b.d.0.1.0.0.2.ip6.arpa.",
                "a.b.d.0.1.0.0.2.ip6.arpa.",
                "b.b.d.0.1.0.0.2.ip6.arpa.",
            ]
        );
        assert_eq!(z("2001:db8::/29").len(), 8);
        assert_eq!(z("2001:db8:8000::/36"), ["8.8.b.d.0.1.0.0.2.ip6.arpa."]);
        assert_eq!(
            z("2001:db8:8000::/33"),
            (8..16)
                .map(|i| format!("{i:x}.8.b.d.0.1.0.0.2.ip6.arpa."))
                .collect::<Vec<_>>()
        );
        assert_eq!(z("::/0"), ["ip6.arpa."]);
        assert_eq!(
            z("::/1"),
            (0..8).map(|i| format!("{i}.ip6.arpa.")).collect::<Vec<_>>()
        );
        assert_eq!(z("2001:db8::1/128"), [ptr_name(a("2001:db8::1"))]);
        assert_eq!(z("2001:db8::/127").len(), 2);

        assert_eq!(z("192.0.2.0/24"), ["2.0.192.in-addr.arpa."]);
        let quarter = z("192.0.2.0/25");
        assert_eq!(quarter.len(), 128);
        assert_eq!(
            quarter,
            (0..128)
                .map(|i| format!("{i}.2.0.192.in-addr.arpa."))
                .collect::<Vec<_>>()
        );
        assert_eq!(z("10.0.0.0/7"), ["10.in-addr.arpa.", "11.in-addr.arpa."]);
        assert_eq!(z("0.0.0.0/0"), ["in-addr.arpa."]);
        assert_eq!(z("0.0.0.0/1").len(), 128);
        assert_eq!(z("192.0.2.33/32"), ["33.2.0.192.in-addr.arpa."]);
        assert_eq!(z("198.51.100.0/22").len(), 4);
        assert_eq!(z("198.51.100.0/22")[3], "103.51.198.in-addr.arpa.");
        // Host bits in an IpNet are ignored.
        assert_eq!(z("192.0.2.77/24"), ["2.0.192.in-addr.arpa."]);
        // The top of the space ends cleanly.
        let top = z("255.255.255.128/25");
        assert_eq!(top.len(), 128);
        assert_eq!(top.last().unwrap(), "255.255.255.255.in-addr.arpa.");
        let top6 = z("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff8/125");
        assert_eq!(top6.len(), 8);
        assert!(top6.last().unwrap().starts_with("f.f.f.f."));
    }

    #[test]
    fn reverse_zones_are_bounded() {
        for len in 0..=32 {
            let zones = reverse_zones(IpNet::V4(Ipv4Net::new(Ipv4Addr::UNSPECIFIED, len).unwrap()));
            assert!((1..=128).contains(&zones.len()), "/{len}");
            assert!(zones.windows(2).all(|w| w[0] != w[1]));
        }
        for len in 0..=128 {
            let zones = reverse_zones(IpNet::V6(Ipv6Net::new(Ipv6Addr::UNSPECIFIED, len).unwrap()));
            assert!((1..=8).contains(&zones.len()), "/{len}");
        }
    }

    /// A matcher for the regex subset munin lines use: `^`, `$`, literals,
    /// `\x` escapes, `.` for any character and a non-nested `( )?` group.
    fn regex_matches(pattern: &str, text: &str) -> bool {
        #[derive(Clone)]
        enum Tok {
            Lit(char),
            Any,
            Opt(Vec<Tok>),
        }
        fn parse(chars: &mut std::str::Chars<'_>) -> Vec<Tok> {
            let mut out = Vec::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => out.push(Tok::Lit(chars.next().unwrap())),
                    '.' => out.push(Tok::Any),
                    '(' => {
                        let group = parse(chars);
                        assert_eq!(chars.next(), Some('?'), "only ( )? groups");
                        out.push(Tok::Opt(group));
                    }
                    ')' => return out,
                    '^' | '$' | '*' | '+' | '?' | '[' | '|' => panic!("unsupported {c}"),
                    c => out.push(Tok::Lit(c)),
                }
            }
            out
        }
        fn run(toks: &[Tok], s: &str) -> bool {
            match toks.split_first() {
                None => s.is_empty(),
                Some((Tok::Lit(c), rest)) => s.strip_prefix(*c).is_some_and(|s| run(rest, s)),
                Some((Tok::Any, rest)) => {
                    let mut cs = s.chars();
                    cs.next().is_some() && run(rest, cs.as_str())
                }
                Some((Tok::Opt(group), rest)) => {
                    let mut with: Vec<Tok> = group.clone();
                    with.extend(rest.iter().cloned());
                    run(&with, s) || run(rest, s)
                }
            }
        }
        let body = pattern
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .expect("anchored at both ends");
        run(&parse(&mut body.chars()), text)
    }

    #[test]
    fn munin_regex_matches_what_it_should() {
        let re = munin_allow_regex(a("192.0.2.1"));
        assert_eq!(re, r"^(::ffff:)?192\.0\.2\.1$");
        assert_eq!(munin_allow_regex(a("::ffff:192.0.2.1")), re);
        assert!(regex_matches(&re, "192.0.2.1"));
        assert!(regex_matches(&re, "::ffff:192.0.2.1"));
        for other in [
            "192.0.2.10",
            "192x0.2.1",
            "192.0.2.1x",
            "1192.0.2.1",
            "::ffff:192.0.2.10",
            "::192.0.2.1",
            "",
        ] {
            assert!(!regex_matches(&re, other), "{other}");
        }
        // The matcher itself: an unescaped dot would have let 192x0.2.1 in.
        assert!(regex_matches(r"^192.0\.2\.1$", "192x0.2.1"));

        let re6 = munin_allow_regex(a("2001:DB8::1"));
        assert_eq!(re6, "^2001:db8::1$");
        assert!(regex_matches(&re6, "2001:db8::1"));
        assert!(!regex_matches(&re6, "2001:db8::10"));
        assert_eq!(munin_allow_regex(a("::1")), "^::1$");
        // Compat addresses are IPv6 and written in hex.
        assert_eq!(munin_allow_regex(a("::192.0.2.1")), "^::c000:201$");
        assert_eq!(escape_dots("::ffff:1.2.3.4"), r"::ffff:1\.2\.3\.4");
    }

    #[test]
    fn munin_lines() {
        assert_eq!(
            munin_allow(a("192.0.2.1")),
            r"allow ^(::ffff:)?192\.0\.2\.1$"
        );
        assert_eq!(munin_allow(a("2001:db8::1")), "allow ^2001:db8::1$");
        for (net, want) in [
            ("192.0.2.1/32", "cidr_allow 192.0.2.1/32"),
            ("192.0.2.0/24", "cidr_allow 192.0.2.0/24"),
            ("192.0.2.9/24", "cidr_allow 192.0.2.0/24"),
            ("2001:db8::1/128", "cidr_allow 2001:db8::1/128"),
            ("2001:DB8::/32", "cidr_allow 2001:db8::/32"),
            ("::ffff:192.0.2.1/128", "cidr_allow 192.0.2.1/32"),
            ("::ffff:192.0.2.0/120", "cidr_allow 192.0.2.0/24"),
            ("::ffff:0:0/96", "cidr_allow 0.0.0.0/0"),
            ("::/95", "cidr_allow ::/95"),
            ("::/0", "cidr_allow ::/0"),
            ("::192.0.2.1/128", "cidr_allow ::c000:201/128"),
            ("::1/128", "cidr_allow ::1/128"),
        ] {
            assert_eq!(munin_cidr_allow(n(net)), want, "{net}");
        }
    }

    #[test]
    fn normalize_folds_mapped_and_nat64() {
        let v4 = a("192.0.2.33");
        assert_eq!(normalize(a("::ffff:192.0.2.33"), &[]), v4);
        assert_eq!(normalize(v4, &[Nat64Prefix::WELL_KNOWN]), v4);
        for unchanged in [
            "::1",
            "::",
            "::192.0.2.33",
            "::1:ffff:c000:221",
            "2001:db8::1",
        ] {
            assert_eq!(
                normalize(a(unchanged), &[Nat64Prefix::WELL_KNOWN]),
                a(unchanged),
                "{unchanged}"
            );
        }
        let wkp = Nat64Prefix::WELL_KNOWN;
        assert_eq!(normalize(a("64:ff9b::c000:221"), &[wkp]), v4);
        assert_eq!(
            normalize(a("64:ff9b::c000:221"), &[]),
            a("64:ff9b::c000:221")
        );

        // The longest containing prefix wins, in either order.
        let wide: Nat64Prefix = "2001:db8::/32".parse().unwrap();
        let narrow: Nat64Prefix = "2001:db8:c000:221::/64".parse().unwrap();
        let x = narrow.embed(Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(wide.extract(x).unwrap(), v4);
        let want = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(normalize(IpAddr::V6(x), &[wide, narrow]), want);
        assert_eq!(normalize(IpAddr::V6(x), &[narrow, wide]), want);
        assert_eq!(normalize(IpAddr::V6(x), &[wide]), v4);

        // Inside the prefix but extract fails (u-octet set): unchanged.
        let odd = a("2001:db8:c000:221:100::");
        assert!(wide
            .extract(match odd {
                IpAddr::V6(v6) => v6,
                IpAddr::V4(_) => unreachable!(),
            })
            .is_err());
        assert_eq!(normalize(odd, &[wide]), odd);
    }

    #[test]
    fn style_names_round_trip() {
        let names: Vec<&str> = Style::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.join(", "), STYLE_NAMES);
        for style in Style::ALL {
            assert_eq!(style.name().parse::<Style>(), Ok(style));
            assert_eq!(style.to_string(), style.name());
            assert!(style.pitfall().ends_with('.'), "{style}");
            assert!(style.pitfall().len() < 300, "{style}");
        }
        let e = "NGINX".parse::<Style>().unwrap_err();
        assert_eq!(
            e,
            Error::Style {
                text: "NGINX".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "\"NGINX\" is not a style (expected one of hostport, url, nginx, haproxy, apache, \
             sshd, bind, nsd, known-hosts, munin-allow, munin-cidr)"
        );
        assert!("".parse::<Style>().is_err());
    }

    #[test]
    fn format_every_style() {
        use Style::*;
        let v6 = "2001:DB8:0:0:0:0:0:1";
        let v4 = "192.0.2.1";
        #[rustfmt::skip]
        let cases: &[(Style, &str, Option<u16>, &str)] = &[
            (HostPort, v6, Some(443), "[2001:db8::1]:443"),
            (HostPort, v4, Some(443), "192.0.2.1:443"),
            (HostPort, "fe80::1%eth0", Some(22), "[fe80::1%eth0]:22"),
            (Url, v6, None, "[2001:db8::1]"),
            (Url, v6, Some(8080), "[2001:db8::1]:8080"),
            (Url, v4, None, "192.0.2.1"),
            (Url, v4, Some(8080), "192.0.2.1:8080"),
            (Url, "fe80::1%eth0", None, "[fe80::1%25eth0]"),
            (Url, "fe80::1%eth0", Some(8080), "[fe80::1%25eth0]:8080"),
            (Nginx, v6, None, "[2001:db8::1]"),
            (Nginx, v6, Some(443), "[2001:db8::1]:443"),
            (Nginx, v4, None, "192.0.2.1"),
            (Nginx, v4, Some(443), "192.0.2.1:443"),
            (Haproxy, v6, None, "[2001:db8::1]"),
            (Haproxy, v6, Some(443), "[2001:db8::1]:443"),
            (Haproxy, v4, None, "192.0.2.1"),
            (Haproxy, v4, Some(443), "192.0.2.1:443"),
            (Apache, v6, None, "[2001:db8::1]"),
            (Apache, v6, Some(80), "[2001:db8::1]:80"),
            (Apache, v4, None, "192.0.2.1"),
            (Apache, v4, Some(80), "192.0.2.1:80"),
            (Sshd, v6, None, "2001:db8::1"),
            (Sshd, v6, Some(2222), "[2001:db8::1]:2222"),
            (Sshd, v4, None, "192.0.2.1"),
            (Sshd, v4, Some(2222), "192.0.2.1:2222"),
            (Bind, v6, None, "2001:db8::1"),
            (Bind, v6, Some(5353), "2001:db8::1 port 5353"),
            (Bind, v4, None, "192.0.2.1"),
            (Bind, v4, Some(5353), "192.0.2.1 port 5353"),
            (Nsd, v6, None, "2001:db8::1"),
            (Nsd, v6, Some(5353), "2001:db8::1@5353"),
            (Nsd, v4, None, "192.0.2.1"),
            (Nsd, v4, Some(5353), "192.0.2.1@5353"),
            (KnownHosts, v6, None, "2001:db8::1"),
            (KnownHosts, v6, Some(22), "2001:db8::1"),
            (KnownHosts, v6, Some(2222), "[2001:db8::1]:2222"),
            (KnownHosts, v4, None, "192.0.2.1"),
            (KnownHosts, v4, Some(22), "192.0.2.1"),
            (KnownHosts, v4, Some(2222), "[192.0.2.1]:2222"),
            (MuninAllow, v6, None, "allow ^2001:db8::1$"),
            (MuninAllow, v4, None, r"allow ^(::ffff:)?192\.0\.2\.1$"),
            (MuninAllow, "::ffff:192.0.2.1", None, r"allow ^(::ffff:)?192\.0\.2\.1$"),
            (MuninCidr, v6, None, "cidr_allow 2001:db8::1/128"),
            (MuninCidr, v4, None, "cidr_allow 192.0.2.1/32"),
            (MuninCidr, "::ffff:192.0.2.1", None, "cidr_allow 192.0.2.1/32"),
            (MuninCidr, "2001:DB8::/32", None, "cidr_allow 2001:db8::/32"),
            (MuninCidr, "192.0.2.0/24", None, "cidr_allow 192.0.2.0/24"),
            // A mapped address keeps its mixed notation elsewhere.
            (Nginx, "::ffff:192.0.2.1", Some(80), "[::ffff:192.0.2.1]:80"),
        ];
        for &(style, input, port, want) in cases {
            assert_eq!(
                format(style, input, port).as_deref(),
                Ok(want),
                "{style} {input} {port:?}"
            );
        }
        // Every style is covered.
        for style in Style::ALL {
            assert!(cases.iter().any(|c| c.0 == style), "{style}");
        }
    }

    #[test]
    fn format_errors() {
        assert_eq!(
            format(Style::HostPort, "2001:db8::1", None),
            Err(Error::PortRequired {
                style: Style::HostPort
            })
        );
        for style in [Style::MuninAllow, Style::MuninCidr] {
            let e = format(style, "192.0.2.1", Some(4949)).unwrap_err();
            assert_eq!(e, Error::PortNotAllowed { style });
            assert_eq!(e.to_string(), format!("the {style} style takes no port"));
        }
        for style in Style::ALL {
            if style == Style::MuninCidr {
                continue;
            }
            let port = (style == Style::HostPort).then_some(80);
            let e = format(style, "2001:db8::/32", port).unwrap_err();
            assert_eq!(
                e,
                Error::PrefixNotAllowed {
                    style,
                    text: "2001:db8::/32".into()
                }
            );
            assert!(e.to_string().contains("\"2001:db8::/32\""), "{e}");
            let zoned = format(style, "fe80::1%eth0", port);
            if matches!(style, Style::HostPort | Style::Url) {
                assert!(zoned.is_ok(), "{style}");
            } else {
                assert_eq!(
                    zoned,
                    Err(Error::Zone {
                        text: "fe80::1%eth0".into(),
                        reason: ZONE_STYLE
                    }),
                    "{style}"
                );
            }
            assert_eq!(
                format(style, "example.org", port),
                Err(Error::Addr {
                    text: "example.org".into()
                })
            );
        }
        assert_eq!(
            format(Style::MuninCidr, "fe80::1%eth0", None),
            Err(Error::Zone {
                text: "fe80::1%eth0".into(),
                reason: ZONE_STYLE
            })
        );
        assert_eq!(
            format(Style::MuninCidr, "192.0.2.1/24", None),
            Err(Error::Prefix {
                text: "192.0.2.1/24".into()
            })
        );
        assert_eq!(
            format(Style::MuninCidr, "192.0.2.0/", None),
            Err(Error::Prefix {
                text: "192.0.2.0/".into()
            })
        );
        assert_eq!(
            format(Style::Url, "192.0.2.1%eth0", None),
            Err(Error::Zone {
                text: "192.0.2.1%eth0".into(),
                reason: ZONE_V4
            })
        );
        assert_eq!(
            format(Style::Nginx, "[2001:db8::1]", None),
            Err(Error::Addr {
                text: "[2001:db8::1]".into()
            })
        );
        assert_eq!(
            Error::PrefixNotAllowed {
                style: Style::Bind,
                text: "10.0.0.0/8".into()
            }
            .to_string(),
            "the bind style takes an address, not a prefix such as \"10.0.0.0/8\" (only \
             munin-cidr takes a prefix)"
        );
        assert_eq!(
            Error::PortRequired {
                style: Style::HostPort
            }
            .to_string(),
            "the hostport style needs a port"
        );
        assert_eq!(
            Error::Addr { text: "x".into() }.to_string(),
            "\"x\" is not an IP address"
        );
    }

    #[test]
    fn error_kinds() {
        let style = Style::Nginx;
        for (e, kind) in [
            (Error::Addr { text: "x".into() }, "addr"),
            (
                Error::Zone {
                    text: "x".into(),
                    reason: ZONE_V4,
                },
                "zone",
            ),
            (Error::Prefix { text: "x".into() }, "prefix"),
            (Error::Style { text: "x".into() }, "style"),
            (Error::PortNotAllowed { style }, "port_not_allowed"),
            (Error::PortRequired { style }, "port_required"),
            (
                Error::PrefixNotAllowed {
                    style,
                    text: "x".into(),
                },
                "prefix_not_allowed",
            ),
        ] {
            assert_eq!(e.kind(), kind, "{e}");
        }
    }
}
