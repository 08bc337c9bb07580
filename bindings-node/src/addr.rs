//! RFC 6052 (`Nat64Prefix`, synthesize / extract, discovery) and the
//! address text helpers of `sixgate::text`.

use napi::{Env, Result};
use napi_derive::napi;
use sixgate::rfc6052::{self, NonGlobal};
use sixgate::text::{self, Style};

use crate::conv::{
    self, Addr, Flag, List, Net, NetOrAddr, Opts, Port, PrefixArg, Scoped, Str, V4, V6,
};
use crate::errors;

/// A NAT64 prefix as RFC 6052 §2.2 defines it: one of /32, /40, /48, /56,
/// /64 or /96, no bits set beyond the length, and the u-octet (bits 64 to
/// 71) zero. Valid once built; a bad prefix throws `ERR_SIXGATE_PREFIX`.
///
/// ```js
/// new Nat64Prefix('64:ff9b::/96').isWellKnown   // true
/// new Nat64Prefix('2001:db8::/44')              // Error ERR_SIXGATE_PREFIX, kind 'length'
/// ```
#[napi]
#[derive(Clone, Copy)]
pub struct Nat64Prefix {
    pub(crate) inner: sixgate::Nat64Prefix,
}

/// Options of `synthesize` and `extractChecked`.
#[napi(object, object_to_js = false)]
pub struct ScopeOptions {
    /// Embed (or accept) non-global IPv4 under the well-known prefix too,
    /// which RFC 6052 §3.1 forbids. Default `false`.
    #[napi(ts_type = "boolean")]
    pub allow_non_global: Option<Flag>,
}

/// Options of the module-level `synthesize`.
#[napi(object, object_to_js = false)]
pub struct SynthesizeOptions {
    /// The NAT64 prefix; default the well-known `64:ff9b::/96`.
    #[napi(ts_type = "string | Nat64Prefix")]
    pub prefix: Option<PrefixArg>,
    /// Embed non-global IPv4 under the well-known prefix too (RFC 6052
    /// §3.1 forbids it). Default `false`.
    #[napi(ts_type = "boolean")]
    pub allow_non_global: Option<Flag>,
}

/// Options of the module-level `extract`.
#[napi(object, object_to_js = false)]
pub struct ExtractOptions {
    /// The NAT64 prefix; default the well-known `64:ff9b::/96`.
    #[napi(ts_type = "string | Nat64Prefix")]
    pub prefix: Option<PrefixArg>,
}

/// Options of `normalize` (and of `HostIndex`, `Plan.lookup`).
#[napi(object, object_to_js = false)]
pub struct NormalizeOptions {
    /// Addresses under these NAT64 prefixes fold to the IPv4 they embed
    /// (the longest prefix wins).
    #[napi(ts_type = "Array<string | Nat64Prefix>")]
    pub nat64_prefixes: Option<List<PrefixArg>>,
}

/// Options of `formatAddress`.
#[napi(object, object_to_js = false)]
pub struct FormatOptions {
    /// The port to write, for the styles that take one.
    #[napi(ts_type = "number")]
    pub port: Option<Port>,
}

/// The IPv4 special-purpose range an address falls in that is not
/// globally reachable (RFC 6890 registry).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NonGlobalRange {
    /// The range, e.g. `'10.0.0.0/8'`.
    pub network: String,
    /// Its registry name, e.g. `'private-use'`.
    pub name: String,
    /// The RFC that defines it, e.g. `'RFC 1918'`.
    pub rfc: String,
}

fn non_global(allow: Option<Flag>) -> NonGlobal {
    match allow {
        Some(Flag(true)) => NonGlobal::Allow,
        _ => NonGlobal::Refuse,
    }
}

#[napi]
impl Nat64Prefix {
    /// Parses a prefix (`'64:ff9b::/96'`) or copies a `Nat64Prefix`.
    #[napi(constructor)]
    pub fn new(#[napi(ts_arg_type = "string | Nat64Prefix")] prefix: PrefixArg) -> Self {
        Self { inner: prefix.0 }
    }

    /// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
    #[napi]
    pub fn well_known() -> Self {
        Self {
            inner: sixgate::Nat64Prefix::WELL_KNOWN,
        }
    }

    /// The local-use block 64:ff9b:1::/48 (RFC 8215), itself a usable /48
    /// NAT64 prefix.
    #[napi]
    pub fn local_use() -> Self {
        Self {
            inner: sixgate::Nat64Prefix::LOCAL_USE,
        }
    }

    /// The prefix length: one of 32, 40, 48, 56, 64, 96.
    #[napi(getter)]
    pub fn prefix_len(&self) -> u32 {
        u32::from(self.inner.prefix_len())
    }

    /// The prefix as `address/length` text, e.g. `'64:ff9b::/96'`.
    #[napi(getter)]
    pub fn network(&self) -> String {
        self.inner.to_string()
    }

    /// The prefix's network address, e.g. `'64:ff9b::'`.
    #[napi(getter)]
    pub fn address(&self) -> String {
        conv::addr_text(self.inner.network())
    }

    /// Whether this is the well-known prefix 64:ff9b::/96 (RFC 6052 §2.1),
    /// the only prefix the non-global rule of §3.1 applies to.
    #[napi(getter)]
    pub fn is_well_known(&self) -> bool {
        self.inner.is_well_known()
    }

    /// Whether this prefix lies in the local-use block 64:ff9b:1::/48
    /// (RFC 8215).
    #[napi(getter)]
    pub fn is_local_use(&self) -> bool {
        self.inner.is_local_use()
    }

    /// Whether `addr` lies inside this prefix (an IPv4 address never does).
    #[napi]
    pub fn contains(&self, #[napi(ts_arg_type = "string")] addr: Addr) -> bool {
        match addr.0 {
            std::net::IpAddr::V6(a) => self.inner.contains(a),
            std::net::IpAddr::V4(_) => false,
        }
    }

    /// Embeds an IPv4 address in this prefix (RFC 6052 §2.2), skipping the
    /// u-octet and leaving the suffix zero. Plain arithmetic: `synthesize`
    /// also applies the §3.1 rule.
    #[napi]
    pub fn embed(&self, #[napi(ts_arg_type = "string")] v4: V4) -> String {
        conv::addr_text(self.inner.embed(v4.0))
    }

    /// Embeds `v4` after checking RFC 6052 §3.1: under the well-known
    /// prefix a non-global IPv4 address throws `ERR_SIXGATE_NAT64` (kind
    /// `non_global`) unless `allowNonGlobal`.
    #[napi]
    pub fn synthesize(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] v4: V4,
        #[napi(ts_arg_type = "ScopeOptions")] options: Option<Opts<ScopeOptions>>,
    ) -> Result<String> {
        let allow = options.and_then(|o| o.0.allow_non_global);
        self.inner
            .synthesize(v4.0, non_global(allow))
            .map(conv::addr_text)
            .map_err(|e| errors::rfc6052(&env, &e))
    }

    /// The IPv4 address embedded in `addr` (RFC 6052 §2.2); the suffix is
    /// ignored. `ERR_SIXGATE_NAT64` if `addr` is outside the prefix or its
    /// u-octet is not zero. No §3.1 check: see `extractChecked`.
    #[napi]
    pub fn extract(&self, env: Env, #[napi(ts_arg_type = "string")] addr: V6) -> Result<String> {
        self.inner
            .extract(addr.0)
            .map(conv::addr_text)
            .map_err(|e| errors::rfc6052(&env, &e))
    }

    /// Like `extract`, then the RFC 6052 §3.1 rule as `synthesize` applies
    /// it: what a translator must check.
    #[napi]
    pub fn extract_checked(
        &self,
        env: Env,
        #[napi(ts_arg_type = "string")] addr: V6,
        #[napi(ts_arg_type = "ScopeOptions")] options: Option<Opts<ScopeOptions>>,
    ) -> Result<String> {
        let allow = options.and_then(|o| o.0.allow_non_global);
        self.inner
            .extract_checked(addr.0, non_global(allow))
            .map(conv::addr_text)
            .map_err(|e| errors::rfc6052(&env, &e))
    }

    /// The AAAA answers a DNS64 using this prefix gives for `ipv4only.arpa`
    /// (RFC 8880 §7.2): 192.0.0.170 and 192.0.0.171 embedded.
    #[napi(js_name = "ipv4onlyAnswers")]
    pub fn ipv4only_answers(&self) -> Vec<String> {
        self.inner
            .ipv4only_answers()
            .into_iter()
            .map(conv::addr_text)
            .collect()
    }

    /// Whether `other` is the same prefix.
    #[napi]
    pub fn equals(&self, #[napi(ts_arg_type = "string | Nat64Prefix")] other: PrefixArg) -> bool {
        self.inner == other.0
    }

    /// The prefix as `address/length` text.
    #[napi(js_name = "toString")]
    pub fn to_text(&self) -> String {
        self.inner.to_string()
    }

    /// The prefix as `address/length` text (what `JSON.stringify` writes).
    #[napi(js_name = "toJSON")]
    pub fn to_json(&self) -> String {
        self.inner.to_string()
    }
}

/// Embeds `v4` in `options.prefix` (default the well-known 64:ff9b::/96)
/// after the RFC 6052 §3.1 check, as `Nat64Prefix.synthesize` does.
///
/// ```js
/// synthesize('198.51.100.7', { prefix: '2001:db8:64::/96' })  // '2001:db8:64::c633:6407'
/// synthesize('10.1.2.3')      // Error ERR_SIXGATE_NAT64, kind 'non_global'
/// ```
#[napi]
pub fn synthesize(
    env: Env,
    #[napi(ts_arg_type = "string")] v4: V4,
    #[napi(ts_arg_type = "SynthesizeOptions")] options: Option<Opts<SynthesizeOptions>>,
) -> Result<String> {
    let (prefix, allow) = options.map_or((None, None), |o| (o.0.prefix, o.0.allow_non_global));
    let prefix = prefix.map_or(sixgate::Nat64Prefix::WELL_KNOWN, |p| p.0);
    prefix
        .synthesize(v4.0, non_global(allow))
        .map(conv::addr_text)
        .map_err(|e| errors::rfc6052(&env, &e))
}

/// The IPv4 address embedded in `v6` under `options.prefix` (default the
/// well-known 64:ff9b::/96), as `Nat64Prefix.extract` reads it.
///
/// ```js
/// extract('64:ff9b::c000:221')   // '192.0.2.33'
/// ```
#[napi]
pub fn extract(
    env: Env,
    #[napi(ts_arg_type = "string")] v6: V6,
    #[napi(ts_arg_type = "ExtractOptions")] options: Option<Opts<ExtractOptions>>,
) -> Result<String> {
    let prefix = options
        .and_then(|o| o.0.prefix)
        .map_or(sixgate::Nat64Prefix::WELL_KNOWN, |p| p.0);
    prefix
        .extract(v6.0)
        .map(conv::addr_text)
        .map_err(|e| errors::rfc6052(&env, &e))
}

/// The NAT64 prefixes found in the AAAA answers for `ipv4only.arpa`
/// (RFC 7050 §3), distinct, in the order first found.
/// `ERR_SIXGATE_NAT64` (kind `not_discovered` or `ambiguous`) if none can
/// be told.
#[napi]
pub fn discover(
    env: Env,
    #[napi(ts_arg_type = "string[]")] answers: List<V6>,
) -> Result<Vec<Nat64Prefix>> {
    let answers: Vec<_> = answers.0.into_iter().map(|a| a.0).collect();
    let found = rfc6052::discover(&answers).map_err(|e| errors::rfc6052(&env, &e))?;
    Ok(found
        .into_iter()
        .map(|inner| Nat64Prefix { inner })
        .collect())
}

/// The IPv4 special-purpose range `v4` falls in that is not globally
/// reachable, or `null` for a global address.
#[napi]
pub fn non_global_range(#[napi(ts_arg_type = "string")] v4: V4) -> Option<NonGlobalRange> {
    rfc6052::non_global_range(v4.0).map(|r| NonGlobalRange {
        network: conv::net_text(r.net),
        name: r.name.to_owned(),
        rfc: r.rfc.to_owned(),
    })
}

/// The RFC 5952 canonical text of an address (any case in; IPv4-mapped
/// addresses in mixed notation, §5). Throws `ERR_SIXGATE_ADDRESS` for
/// anything that is not an address.
///
/// ```js
/// canonical('2001:DB8:0:0::1')   // '2001:db8::1'
/// ```
#[napi]
pub fn canonical(#[napi(ts_arg_type = "string")] addr: Addr) -> String {
    conv::addr_text(addr.0)
}

/// A network in canonical `address/length` text; bits set beyond the
/// length throw `ERR_SIXGATE_PREFIX`, naming the network meant.
#[napi]
pub fn canonical_network(#[napi(ts_arg_type = "string")] network: Net) -> String {
    conv::net_text(network.0)
}

/// `addr:port` for IPv4 and `[addr]:port` for IPv6 (RFC 3986 §3.2.2,
/// RFC 5952 §6).
#[napi]
pub fn host_port(
    #[napi(ts_arg_type = "string")] addr: Addr,
    #[napi(ts_arg_type = "number")] port: Port,
) -> String {
    text::host_port(addr.0, port.0)
}

/// The host part of a URL: IPv6 in brackets, a zone ID as `%25zone`
/// (RFC 6874 §2).
#[napi]
pub fn url_host(#[napi(ts_arg_type = "string")] addr: Scoped) -> String {
    text::url_host(&addr.0)
}

/// The fully qualified PTR name of an address, trailing dot included
/// (`in-addr.arpa.` or `ip6.arpa.`, RFC 3596 §2.5).
#[napi]
pub fn ptr_name(#[napi(ts_arg_type = "string")] addr: Addr) -> String {
    text::ptr_name(addr.0)
}

/// The reverse zones, trailing dot included, that exactly cover `network`,
/// cut on octet (IPv4) or nibble (IPv6) boundaries, ascending. At most 128
/// zones for IPv4 and 8 for IPv6.
#[napi]
pub fn reverse_zones(#[napi(ts_arg_type = "string")] network: Net) -> Vec<String> {
    text::reverse_zones(network.0)
}

/// An anchored munin-node `allow` regex for one address; IPv4 (and
/// IPv4-mapped) gives `^(::ffff:)?192\.0\.2\.1$`, which matches both forms
/// a dual-stack socket may report.
#[napi]
pub fn munin_allow_regex(#[napi(ts_arg_type = "string")] addr: Addr) -> String {
    text::munin_allow_regex(addr.0)
}

/// A whole munin-node.conf `allow` line for one address.
#[napi]
pub fn munin_allow(#[napi(ts_arg_type = "string")] addr: Addr) -> String {
    text::munin_allow(addr.0)
}

/// A whole munin-node.conf `cidr_allow` line for a network (an address is
/// taken as /32 or /128); an IPv4-mapped prefix is folded to IPv4.
#[napi]
pub fn munin_cidr_allow(#[napi(ts_arg_type = "string")] network: NetOrAddr) -> String {
    text::munin_cidr_allow(network.0)
}

/// The address that identifies a host in a log or report: IPv4-mapped
/// always becomes the IPv4 address, an address under one of
/// `options.nat64Prefixes` the IPv4 it embeds (the longest prefix wins);
/// anything else comes back in canonical text.
///
/// ```js
/// normalize('::ffff:192.0.2.1')                                   // '192.0.2.1'
/// normalize('64:ff9b::c000:201', { nat64Prefixes: ['64:ff9b::/96'] })  // '192.0.2.1'
/// ```
#[napi]
pub fn normalize(
    #[napi(ts_arg_type = "string")] addr: Addr,
    #[napi(ts_arg_type = "NormalizeOptions")] options: Option<Opts<NormalizeOptions>>,
) -> String {
    let prefixes = prefix_list(options.and_then(|o| o.0.nat64_prefixes));
    conv::addr_text(text::normalize(addr.0, &prefixes))
}

/// `nat64Prefixes` as a list of core prefixes.
pub(crate) fn prefix_list(prefixes: Option<List<PrefixArg>>) -> Vec<sixgate::Nat64Prefix> {
    prefixes.map_or_else(Vec::new, |l| l.0.into_iter().map(|p| p.0).collect())
}

/// Writes `addr` the way a program's configuration wants it, with an
/// optional port. `style` is one of `STYLES` (`hostport`, `url`, `nginx`,
/// `haproxy`, `apache`, `sshd`, `bind`, `nsd`, `known-hosts`,
/// `munin-allow`, `munin-cidr`); `addr` is address text (a zone allowed
/// for hostport and url) or, for munin-cidr, a prefix.
/// `ERR_SIXGATE_FORMAT` when the style cannot write what was given.
///
/// ```js
/// formatAddress('nsd', '2001:db8::1', { port: 5353 })   // '2001:db8::1@5353'
/// ```
#[napi]
pub fn format_address(
    env: Env,
    #[napi(ts_arg_type = "string")] style: Str,
    #[napi(ts_arg_type = "string")] addr: Str,
    #[napi(ts_arg_type = "FormatOptions")] options: Option<Opts<FormatOptions>>,
) -> Result<String> {
    let style: Style = style.0.parse().map_err(|e| errors::text(&env, &e))?;
    let port = options.and_then(|o| o.0.port).map(|p| p.0);
    text::format(style, &addr.0, port).map_err(|e| errors::text(&env, &e))
}

/// One or two sentences on what goes wrong when an address is written
/// naively for `style`'s program.
#[napi]
pub fn style_pitfall(env: Env, #[napi(ts_arg_type = "string")] style: Str) -> Result<&'static str> {
    let style: Style = style.0.parse().map_err(|e| errors::text(&env, &e))?;
    Ok(style.pitfall())
}

/// The style names `formatAddress` takes.
#[napi]
pub fn styles() -> Vec<&'static str> {
    Style::ALL.iter().map(|s| s.name()).collect()
}
