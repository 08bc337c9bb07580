//! Conversions between Python values and core types: addresses and networks
//! from `str` or `ipaddress` objects, back to `ipaddress` objects. Text is
//! parsed by core (`text::parse_addr`, `text::parse_net`), so Python accepts
//! exactly what the CLI and the other bindings accept.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyString, PyTuple, PyType};
use pyo3::{intern, Borrowed};
use sixgate::text::{self, ScopedAddr};

use crate::errors::{self, AddressError};

static IPV4_ADDRESS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static IPV6_ADDRESS: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static IPV4_NETWORK: PyOnceLock<Py<PyType>> = PyOnceLock::new();
static IPV6_NETWORK: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn ipv4_address(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    IPV4_ADDRESS.import(py, "ipaddress", "IPv4Address")
}

fn ipv6_address(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    IPV6_ADDRESS.import(py, "ipaddress", "IPv6Address")
}

fn ipv4_network(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    IPV4_NETWORK.import(py, "ipaddress", "IPv4Network")
}

fn ipv6_network(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    IPV6_NETWORK.import(py, "ipaddress", "IPv6Network")
}

/// The `TypeError` for a value of the wrong Python type.
pub(crate) fn type_error(obj: &Bound<'_, PyAny>, expected: &str) -> PyErr {
    let got = obj
        .get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned());
    PyTypeError::new_err(format!("expected {expected}, got {got}"))
}

/// The address inside an `ipaddress.IPv4Address` or `IPv6Address` (or an
/// interface, which subclasses them), if `obj` is one.
fn ipaddress_addr(obj: &Bound<'_, PyAny>) -> PyResult<Option<IpAddr>> {
    let py = obj.py();
    let v4 = obj.is_instance(ipv4_address(py)?)?;
    if !v4 && !obj.is_instance(ipv6_address(py)?)? {
        return Ok(None);
    }
    let packed = obj.getattr(intern!(py, "packed"))?;
    let packed = packed.cast::<PyBytes>()?.as_bytes();
    if let Ok(b) = <[u8; 4]>::try_from(packed) {
        return Ok(Some(IpAddr::V4(Ipv4Addr::from(b))));
    }
    match <[u8; 16]>::try_from(packed) {
        Ok(b) => Ok(Some(IpAddr::V6(Ipv6Addr::from(b)))),
        Err(_) => Err(type_error(
            obj,
            "an ipaddress address with a 4 or 16 byte `packed`",
        )),
    }
}

/// An IPv4 or IPv6 address given as `str` (parsed by core: any case, no
/// zone, no brackets) or as an `ipaddress` address object.
pub(crate) struct Addr(pub(crate) IpAddr);

impl FromPyObject<'_, '_> for Addr {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            return text::parse_addr(&s.to_cow()?)
                .map(Addr)
                .map_err(errors::text);
        }
        match ipaddress_addr(&obj)? {
            Some(a) => Ok(Addr(a)),
            None => Err(type_error(
                &obj,
                "str, ipaddress.IPv4Address or ipaddress.IPv6Address",
            )),
        }
    }
}

/// An IPv4 address (`str` or `ipaddress.IPv4Address`).
pub(crate) struct V4(pub(crate) Ipv4Addr);

impl FromPyObject<'_, '_> for V4 {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        match obj.extract::<Addr>()?.0 {
            IpAddr::V4(a) => Ok(V4(a)),
            IpAddr::V6(a) if obj.is_instance_of::<PyString>() => Err(wrong_family(a, "IPv4")),
            IpAddr::V6(_) => Err(type_error(&obj, "str or ipaddress.IPv4Address")),
        }
    }
}

/// An IPv6 address (`str` or `ipaddress.IPv6Address`).
pub(crate) struct V6(pub(crate) Ipv6Addr);

impl FromPyObject<'_, '_> for V6 {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        match obj.extract::<Addr>()?.0 {
            IpAddr::V6(a) => Ok(V6(a)),
            IpAddr::V4(a) if obj.is_instance_of::<PyString>() => Err(wrong_family(a, "IPv6")),
            IpAddr::V4(_) => Err(type_error(&obj, "str or ipaddress.IPv6Address")),
        }
    }
}

fn wrong_family(addr: impl Into<IpAddr>, want: &str) -> PyErr {
    errors::new_error::<AddressError>(
        "version",
        format!("{} is not an {want} address", addr.into()),
    )
}

/// An address that may carry an RFC 4007 zone ID: `str` such as
/// `fe80::1%eth0`, or an `ipaddress` address (an `IPv6Address` with a
/// `scope_id` keeps it).
pub(crate) struct Scoped(pub(crate) ScopedAddr);

impl FromPyObject<'_, '_> for Scoped {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            return s.to_cow()?.parse().map(Scoped).map_err(errors::text);
        }
        let Some(addr) = ipaddress_addr(&obj)? else {
            return Err(type_error(
                &obj,
                "str, ipaddress.IPv4Address or ipaddress.IPv6Address",
            ));
        };
        let zone: Option<String> = match addr {
            IpAddr::V4(_) => None,
            IpAddr::V6(_) => obj.getattr(intern!(obj.py(), "scope_id"))?.extract()?,
        };
        ScopedAddr::new(addr, zone.as_deref())
            .map(Scoped)
            .map_err(errors::text)
    }
}

/// A network given as `address/length` text (parsed by core: bits beyond
/// the length are refused) or an `ipaddress.IPv4Network` / `IPv6Network`.
pub(crate) struct Net(pub(crate) IpNet);

impl FromPyObject<'_, '_> for Net {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            return text::parse_net(&s.to_cow()?).map(Net).map_err(errors::text);
        }
        match ipaddress_net(&obj)? {
            Some(n) => Ok(Net(n)),
            None => Err(type_error(
                &obj,
                "str, ipaddress.IPv4Network or ipaddress.IPv6Network",
            )),
        }
    }
}

/// A network, or an address standing for its host route (/32 or /128):
/// `str` with or without `/length`, an `ipaddress` network or address.
pub(crate) struct NetOrAddr(pub(crate) IpNet);

impl FromPyObject<'_, '_> for NetOrAddr {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            let s = s.to_cow()?;
            let net = if s.contains('/') {
                text::parse_net(&s)
            } else {
                text::parse_addr(&s).map(IpNet::from)
            };
            return net.map(NetOrAddr).map_err(errors::text);
        }
        if let Some(n) = ipaddress_net(&obj)? {
            return Ok(NetOrAddr(n));
        }
        match ipaddress_addr(&obj)? {
            Some(a) => Ok(NetOrAddr(IpNet::from(a))),
            None => Err(type_error(
                &obj,
                "str, an ipaddress network or an ipaddress address",
            )),
        }
    }
}

/// The prefix of an `ipaddress.IPv4Network` / `IPv6Network`, if `obj` is one.
fn ipaddress_net(obj: &Bound<'_, PyAny>) -> PyResult<Option<IpNet>> {
    let py = obj.py();
    if !obj.is_instance(ipv4_network(py)?)? && !obj.is_instance(ipv6_network(py)?)? {
        return Ok(None);
    }
    let addr = obj.getattr(intern!(py, "network_address"))?;
    let Some(addr) = ipaddress_addr(&addr)? else {
        return Err(type_error(&addr, "an ipaddress address as network_address"));
    };
    let len: u8 = obj.getattr(intern!(py, "prefixlen"))?.extract()?;
    IpNet::new(addr, len)
        .map(Some)
        .map_err(|_| type_error(obj, "an ipaddress network with a valid prefixlen"))
}

/// A socket address as Python's socket module writes one: `(host, port)`
/// or `(host, port, flowinfo, scope_id)`, the host as `str` or `ipaddress`.
/// Flow label and scope are dropped (the PROXY protocol has no room for
/// them).
pub(crate) struct Sock(pub(crate) SocketAddr);

impl FromPyObject<'_, '_> for Sock {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, '_, PyAny>) -> PyResult<Self> {
        let expected = "a (host, port) or (host, port, flowinfo, scope_id) tuple";
        let Ok(t) = obj.cast::<PyTuple>() else {
            return Err(type_error(&obj, expected));
        };
        if t.len() != 2 && t.len() != 4 {
            return Err(type_error(&obj, expected));
        }
        let host: Addr = t.get_item(0)?.extract()?;
        let port: u16 = t.get_item(1)?.extract()?;
        Ok(Sock(SocketAddr::new(host.0, port)))
    }
}

/// An `ipaddress.IPv4Address`.
pub(crate) fn v4_to_py(py: Python<'_>, a: Ipv4Addr) -> PyResult<Bound<'_, PyAny>> {
    ipv4_address(py)?.call1((u32::from(a),))
}

/// An `ipaddress.IPv6Address`.
pub(crate) fn v6_to_py(py: Python<'_>, a: Ipv6Addr) -> PyResult<Bound<'_, PyAny>> {
    ipv6_address(py)?.call1((u128::from(a),))
}

/// An `ipaddress.IPv4Address` or `IPv6Address`.
pub(crate) fn addr_to_py(py: Python<'_>, a: IpAddr) -> PyResult<Bound<'_, PyAny>> {
    match a {
        IpAddr::V4(a) => v4_to_py(py, a),
        IpAddr::V6(a) => v6_to_py(py, a),
    }
}

/// An `ipaddress.IPv4Network` or `IPv6Network` (host bits are cleared).
pub(crate) fn net_to_py(py: Python<'_>, n: IpNet) -> PyResult<Bound<'_, PyAny>> {
    match n.trunc() {
        IpNet::V4(n) => ipv4_network(py)?.call1(((u32::from(n.addr()), n.prefix_len()),)),
        IpNet::V6(n) => ipv6_network(py)?.call1(((u128::from(n.addr()), n.prefix_len()),)),
    }
}

/// `(ipaddress address, port)`.
pub(crate) fn sock_to_py(py: Python<'_>, s: SocketAddr) -> PyResult<Bound<'_, PyTuple>> {
    PyTuple::new(
        py,
        [
            addr_to_py(py, s.ip())?,
            s.port().into_pyobject(py)?.into_any(),
        ],
    )
}
