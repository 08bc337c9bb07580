//! RFC 6052 (`Nat64Prefix`, synthesize / extract, discovery) and the address
//! text helpers of `sixgate::text`.

use std::net::IpAddr;

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use pyo3::types::PyString;
use pyo3::Borrowed;
use sixgate::rfc6052::{self, NonGlobal};
use sixgate::text::{self, Style};
use sixgate::Nat64Prefix;

use crate::conv::{self, Addr, Net, NetOrAddr, Scoped, V4, V6};
use crate::errors;

/// A NAT64 prefix as RFC 6052 §2.2 defines it: one of /32, /40, /48, /56,
/// /64 or /96, no bits set beyond the length, and the u-octet (bits 64 to
/// 71) zero. Valid once built.
///
/// Built from `address/length` text, an `ipaddress.IPv6Network`, or another
/// `Nat64Prefix`; a bad prefix raises `PrefixError`:
///
/// >>> Nat64Prefix("64:ff9b::/96").is_well_known
/// True
/// >>> Nat64Prefix("2001:db8::/44")
/// Traceback (most recent call last):
/// sixgate.PrefixError: prefix length 44 is not one of 32, 40, 48, 56, 64, 96 (RFC 6052 §2.2)
#[pyclass(module = "sixgate", name = "Nat64Prefix", frozen, eq, hash, ord)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct PyNat64Prefix(pub(crate) Nat64Prefix);

/// A NAT64 prefix argument: a `Nat64Prefix`, `address/length` text or an
/// `ipaddress.IPv6Network`.
pub(crate) struct PrefixArg(pub(crate) Nat64Prefix);

impl FromPyObject<'_, '_> for PrefixArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(p) = obj.cast::<PyNat64Prefix>() {
            return Ok(PrefixArg(p.get().0));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return s.to_cow()?.parse().map(PrefixArg).map_err(errors::rfc6052);
        }
        match obj.extract::<Net>() {
            Ok(Net(ipnet::IpNet::V6(n))) => Nat64Prefix::try_from(n)
                .map(PrefixArg)
                .map_err(errors::rfc6052),
            _ => Err(conv::type_error(
                &obj,
                "Nat64Prefix, str or ipaddress.IPv6Network",
            )),
        }
    }
}

/// `prefixes` as a list of core prefixes.
pub(crate) fn prefix_list(prefixes: Vec<PrefixArg>) -> Vec<Nat64Prefix> {
    prefixes.into_iter().map(|p| p.0).collect()
}

fn non_global(allow: bool) -> NonGlobal {
    if allow {
        NonGlobal::Allow
    } else {
        NonGlobal::Refuse
    }
}

#[pymethods]
impl PyNat64Prefix {
    #[new]
    #[pyo3(signature = (prefix, /))]
    fn new(prefix: PrefixArg) -> Self {
        Self(prefix.0)
    }

    /// The well-known prefix 64:ff9b::/96 (RFC 6052 §2.1).
    #[classattr]
    #[pyo3(name = "WELL_KNOWN")]
    fn well_known_const() -> Self {
        Self(Nat64Prefix::WELL_KNOWN)
    }

    /// The local-use block 64:ff9b:1::/48 (RFC 8215), itself a usable /48
    /// NAT64 prefix.
    #[classattr]
    #[pyo3(name = "LOCAL_USE")]
    fn local_use_const() -> Self {
        Self(Nat64Prefix::LOCAL_USE)
    }

    /// The prefix length: one of 32, 40, 48, 56, 64, 96.
    #[getter]
    fn prefixlen(&self) -> u8 {
        self.0.prefix_len()
    }

    /// The prefix as an `ipaddress.IPv6Network`.
    #[getter]
    fn network<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::net_to_py(py, ipnet::Ipv6Net::from(self.0).into())
    }

    /// The prefix's network address, an `ipaddress.IPv6Address`.
    #[getter]
    fn network_address<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        conv::v6_to_py(py, self.0.network())
    }

    /// Whether this is the well-known prefix 64:ff9b::/96 (RFC 6052 §2.1),
    /// the only prefix the non-global rule of §3.1 applies to.
    #[getter]
    fn is_well_known(&self) -> bool {
        self.0.is_well_known()
    }

    /// Whether this prefix lies in the local-use block 64:ff9b:1::/48
    /// (RFC 8215).
    #[getter]
    fn is_local_use(&self) -> bool {
        self.0.is_local_use()
    }

    /// Whether `addr` lies inside this prefix (an IPv4 address never does).
    #[pyo3(signature = (addr, /))]
    fn contains(&self, addr: Addr) -> bool {
        match addr.0 {
            IpAddr::V6(a) => self.0.contains(a),
            IpAddr::V4(_) => false,
        }
    }

    fn __contains__(&self, addr: Addr) -> bool {
        self.contains(addr)
    }

    /// Embeds an IPv4 address in this prefix (RFC 6052 §2.2), skipping the
    /// u-octet and leaving the suffix zero. Plain arithmetic: `synthesize`
    /// also applies the §3.1 rule.
    #[pyo3(signature = (v4, /))]
    fn embed<'py>(&self, py: Python<'py>, v4: V4) -> PyResult<Bound<'py, PyAny>> {
        conv::v6_to_py(py, self.0.embed(v4.0))
    }

    /// Embeds `v4` after checking RFC 6052 §3.1: under the well-known
    /// prefix a non-global IPv4 address raises `Nat64Error` (kind
    /// `non_global`) unless `allow_non_global`.
    #[pyo3(signature = (v4, /, *, allow_non_global = false))]
    fn synthesize<'py>(
        &self,
        py: Python<'py>,
        v4: V4,
        allow_non_global: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = self
            .0
            .synthesize(v4.0, non_global(allow_non_global))
            .map_err(errors::rfc6052)?;
        conv::v6_to_py(py, a)
    }

    /// The IPv4 address embedded in `addr` (RFC 6052 §2.2); the suffix is
    /// ignored. `Nat64Error` if `addr` is outside the prefix or its u-octet
    /// is not zero. No §3.1 check: see `extract_checked`.
    #[pyo3(signature = (addr, /))]
    fn extract<'py>(&self, py: Python<'py>, addr: V6) -> PyResult<Bound<'py, PyAny>> {
        let a = self.0.extract(addr.0).map_err(errors::rfc6052)?;
        conv::v4_to_py(py, a)
    }

    /// Like `extract`, then the RFC 6052 §3.1 rule as `synthesize` applies
    /// it: what a translator must check.
    #[pyo3(signature = (addr, /, *, allow_non_global = false))]
    fn extract_checked<'py>(
        &self,
        py: Python<'py>,
        addr: V6,
        allow_non_global: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let a = self
            .0
            .extract_checked(addr.0, non_global(allow_non_global))
            .map_err(errors::rfc6052)?;
        conv::v4_to_py(py, a)
    }

    /// The AAAA answers a DNS64 using this prefix gives for `ipv4only.arpa`
    /// (RFC 8880 §7.2): 192.0.0.170 and 192.0.0.171 embedded.
    fn ipv4only_answers<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyAny>>> {
        self.0
            .ipv4only_answers()
            .into_iter()
            .map(|a| conv::v6_to_py(py, a))
            .collect()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Nat64Prefix('{}')", self.0)
    }
}

/// Embeds `v4` in `prefix` (default the well-known 64:ff9b::/96) after the
/// RFC 6052 §3.1 check, as `Nat64Prefix.synthesize` does.
///
/// >>> synthesize("198.51.100.7", prefix="2001:db8:64::/96")
/// IPv6Address('2001:db8:64::c633:6407')
#[pyfunction]
#[pyo3(signature = (v4, /, *, prefix = None, allow_non_global = false))]
pub(crate) fn synthesize<'py>(
    py: Python<'py>,
    v4: V4,
    prefix: Option<PrefixArg>,
    allow_non_global: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let p = prefix.map_or(Nat64Prefix::WELL_KNOWN, |p| p.0);
    let a = p
        .synthesize(v4.0, non_global(allow_non_global))
        .map_err(errors::rfc6052)?;
    conv::v6_to_py(py, a)
}

/// The IPv4 address embedded in `v6` under `prefix` (default the
/// well-known 64:ff9b::/96), as `Nat64Prefix.extract` reads it.
///
/// >>> extract("64:ff9b::c000:221")
/// IPv4Address('192.0.2.33')
#[pyfunction]
#[pyo3(signature = (v6, /, *, prefix = None))]
pub(crate) fn extract<'py>(
    py: Python<'py>,
    v6: V6,
    prefix: Option<PrefixArg>,
) -> PyResult<Bound<'py, PyAny>> {
    let p = prefix.map_or(Nat64Prefix::WELL_KNOWN, |p| p.0);
    let a = p.extract(v6.0).map_err(errors::rfc6052)?;
    conv::v4_to_py(py, a)
}

/// The NAT64 prefixes found in the AAAA answers for `ipv4only.arpa`
/// (RFC 7050 §3), distinct, in the order first found. `Nat64Error` (kind
/// `not_discovered` or `ambiguous`) if none can be told.
#[pyfunction]
#[pyo3(signature = (answers, /))]
pub(crate) fn discover(answers: Vec<V6>) -> PyResult<Vec<PyNat64Prefix>> {
    let answers: Vec<_> = answers.into_iter().map(|a| a.0).collect();
    let found = rfc6052::discover(&answers).map_err(errors::rfc6052)?;
    Ok(found.into_iter().map(PyNat64Prefix).collect())
}

/// The IPv4 special-purpose range `v4` falls in that is not globally
/// reachable, as `(network, name, rfc)`, or `None` for a global address.
#[pyfunction]
#[pyo3(signature = (v4, /))]
pub(crate) fn non_global_range<'py>(
    py: Python<'py>,
    v4: V4,
) -> PyResult<Option<(Bound<'py, PyAny>, &'static str, &'static str)>> {
    rfc6052::non_global_range(v4.0)
        .map(|r| Ok((conv::net_to_py(py, r.net.into())?, r.name, r.rfc)))
        .transpose()
}

/// Parses an IPv4 or IPv6 address strictly (any letter case; no zone, no
/// brackets, no whitespace, no leading zeros in IPv4), as every sixgate tool
/// does. `AddressError` otherwise.
#[pyfunction]
#[pyo3(signature = (text, /))]
pub(crate) fn parse_address(py: Python<'_>, text: Addr) -> PyResult<Bound<'_, PyAny>> {
    conv::addr_to_py(py, text.0)
}

/// Parses an `address/length` prefix strictly; bits set beyond the length
/// raise `PrefixError`, which names the network meant.
#[pyfunction]
#[pyo3(signature = (text, /))]
pub(crate) fn parse_network(py: Python<'_>, text: Net) -> PyResult<Bound<'_, PyAny>> {
    conv::net_to_py(py, text.0)
}

/// The RFC 5952 canonical text of an address; IPv4-mapped addresses in
/// mixed notation (`::ffff:192.0.2.1`, RFC 5952 §5) on every Python
/// version.
#[pyfunction]
#[pyo3(signature = (addr, /))]
pub(crate) fn canonical(addr: Addr) -> String {
    text::canonical(addr.0)
}

/// `addr:port` for IPv4 and `[addr]:port` for IPv6 (RFC 3986 §3.2.2,
/// RFC 5952 §6).
#[pyfunction]
#[pyo3(signature = (addr, port, /))]
pub(crate) fn host_port(addr: Addr, port: u16) -> String {
    text::host_port(addr.0, port)
}

/// The host part of a URL: IPv6 in brackets, a zone ID as `%25zone`
/// (RFC 6874 §2). The zone comes from `fe80::1%eth0` text or an
/// `IPv6Address`'s `scope_id`.
#[pyfunction]
#[pyo3(signature = (addr, /))]
pub(crate) fn url_host(addr: Scoped) -> String {
    text::url_host(&addr.0)
}

/// The fully qualified PTR name of an address, trailing dot included
/// (`in-addr.arpa.` or `ip6.arpa.`, RFC 3596 §2.5).
#[pyfunction]
#[pyo3(signature = (addr, /))]
pub(crate) fn ptr_name(addr: Addr) -> String {
    text::ptr_name(addr.0)
}

/// The reverse zones, trailing dot included, that exactly cover `network`,
/// cut on octet (IPv4) or nibble (IPv6) boundaries, ascending. At most 128
/// zones for IPv4 and 8 for IPv6.
#[pyfunction]
#[pyo3(signature = (network, /))]
pub(crate) fn reverse_zones(network: Net) -> Vec<String> {
    text::reverse_zones(network.0)
}

/// An anchored munin-node `allow` regex for one address; IPv4 (and
/// IPv4-mapped) gives `^(::ffff:)?192\.0\.2\.1$`, which matches both forms
/// a dual-stack socket may report.
#[pyfunction]
#[pyo3(signature = (addr, /))]
pub(crate) fn munin_allow_regex(addr: Addr) -> String {
    text::munin_allow_regex(addr.0)
}

/// A whole munin-node.conf `allow` line for one address.
#[pyfunction]
#[pyo3(signature = (addr, /))]
pub(crate) fn munin_allow(addr: Addr) -> String {
    text::munin_allow(addr.0)
}

/// A whole munin-node.conf `cidr_allow` line for a network (an address is
/// taken as /32 or /128); an IPv4-mapped prefix is folded to IPv4.
#[pyfunction]
#[pyo3(signature = (network, /))]
pub(crate) fn munin_cidr_allow(network: NetOrAddr) -> String {
    text::munin_cidr_allow(network.0)
}

/// Folds an address to the IPv4 address it stands for: IPv4-mapped always,
/// an address under one of `nat64_prefixes` to the IPv4 it embeds (the
/// longest prefix wins); anything else is returned unchanged.
///
/// >>> normalize("::ffff:192.0.2.1")
/// IPv4Address('192.0.2.1')
#[pyfunction]
#[pyo3(signature = (addr, /, *, nat64_prefixes = Vec::new()))]
pub(crate) fn normalize(
    py: Python<'_>,
    addr: Addr,
    nat64_prefixes: Vec<PrefixArg>,
) -> PyResult<Bound<'_, PyAny>> {
    let prefixes = prefix_list(nat64_prefixes);
    conv::addr_to_py(py, text::normalize(addr.0, &prefixes))
}

/// Writes `addr` the way a program's configuration wants it, with an
/// optional port. `style` is one of `STYLES` (`hostport`, `url`, `nginx`,
/// `haproxy`, `apache`, `sshd`, `bind`, `nsd`, `known-hosts`,
/// `munin-allow`, `munin-cidr`); `addr` is address text (a zone allowed for
/// hostport and url), an `ipaddress` address, or for munin-cidr a prefix.
/// `FormatError` when the style cannot write what was given.
///
/// >>> format_address("nsd", "2001:db8::1", port=5353)
/// '2001:db8::1@5353'
#[pyfunction]
#[pyo3(signature = (style, addr, /, *, port = None))]
pub(crate) fn format_address(
    style: PyBackedStr,
    addr: &Bound<'_, PyAny>,
    port: Option<u16>,
) -> PyResult<String> {
    let style: Style = style.parse().map_err(errors::text)?;
    let input: String = if let Ok(s) = addr.cast::<PyString>() {
        s.to_cow()?.into_owned()
    } else if let Ok(Net(n)) = addr.extract::<Net>() {
        n.to_string()
    } else {
        addr.extract::<Scoped>()?.0.to_string()
    };
    text::format(style, &input, port).map_err(errors::text)
}

/// One or two sentences on what goes wrong when an address is written
/// naively for `style`'s program.
#[pyfunction]
#[pyo3(signature = (style, /))]
pub(crate) fn style_pitfall(style: PyBackedStr) -> PyResult<&'static str> {
    let style: Style = style.parse().map_err(errors::text)?;
    Ok(style.pitfall())
}

/// The style names `format_address` takes.
pub(crate) fn style_names() -> Vec<&'static str> {
    Style::ALL.iter().map(|s| s.name()).collect()
}
