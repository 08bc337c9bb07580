//! Bytes at the edge: the TLS ClientHello reader, the HTTP/1.x request-head
//! reader, and PROXY protocol v1/v2 encode/decode. Each reader works on all
//! the bytes received so far and says how many more it needs.

use std::borrow::Cow;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use sixgate::http::{self, HeadStatus, TargetForm};
use sixgate::proxy_protocol::{self, Decoded, Header};
use sixgate::tls::{self, ServerName, Status};

use crate::conv::{self, Sock};
use crate::errors;

/// The bytes so far are a valid beginning of what was asked for: call again
/// once at least `needed` more bytes have arrived. For an HTTP head,
/// `needed` is 1: its end is known only when it arrives.
#[pyclass(module = "sixgate", name = "NeedMore", frozen, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct NeedMore {
    /// How many more bytes are needed at least (always at least 1).
    #[pyo3(get)]
    needed: usize,
}

#[pymethods]
impl NeedMore {
    #[new]
    #[pyo3(signature = (needed, /))]
    fn new(needed: usize) -> Self {
        Self { needed }
    }

    fn __repr__(&self) -> String {
        format!("NeedMore({})", self.needed)
    }
}

/// What a complete TLS ClientHello says that a router needs (RFC 8446
/// §4.1.2). Returned by `read_client_hello`.
#[pyclass(module = "sixgate", name = "ClientHello", frozen)]
pub(crate) struct ClientHello(tls::ClientHello);

#[pymethods]
impl ClientHello {
    /// The valid host name from `server_name` (RFC 6066 §3), lower case
    /// without a trailing dot; `None` when absent, an IP literal or
    /// invalid (see `server_name_kind`).
    #[getter]
    fn server_name(&self) -> Option<&str> {
        self.0.server_name().host_name().map(|n| n.as_str())
    }

    /// What `server_name` held: `"host_name"`, `"ip_literal"` (an address
    /// sent as a name, which RFC 6066 §3 forbids), `"invalid"` or
    /// `"absent"`.
    #[getter]
    fn server_name_kind(&self) -> &'static str {
        match self.0.server_name() {
            ServerName::HostName(_) => "host_name",
            ServerName::IpLiteral(_) => "ip_literal",
            ServerName::Invalid(_) => "invalid",
            _ => "absent",
        }
    }

    /// The address sent as a server name, for `server_name_kind ==
    /// "ip_literal"`; else `None`.
    #[getter]
    fn server_name_ip<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match self.0.server_name() {
            ServerName::IpLiteral(a) => conv::addr_to_py(py, *a).map(Some),
            _ => Ok(None),
        }
    }

    /// Why the server name is invalid, for `server_name_kind == "invalid"`;
    /// else `None`.
    #[getter]
    fn server_name_error(&self) -> Option<String> {
        match self.0.server_name() {
            ServerName::Invalid(e) => Some(e.to_string()),
            _ => None,
        }
    }

    /// The ALPN protocol names in the client's order (RFC 7301 §3.1);
    /// empty when the extension is absent.
    #[getter]
    fn alpn<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.0.alpn().iter().map(|p| PyBytes::new(py, p)).collect()
    }

    /// `legacy_version` as a number: 0x0303 in every TLS 1.3 hello.
    #[getter]
    fn legacy_version(&self) -> u16 {
        self.0.legacy_version().0
    }

    /// The `supported_versions` list (RFC 8446 §4.2.1) as numbers in the
    /// client's order, GREASE included (0x0304 is TLS 1.3); empty when
    /// absent.
    #[getter]
    fn supported_versions(&self) -> Vec<u16> {
        self.0.supported_versions().iter().map(|v| v.0).collect()
    }

    /// Whether an `encrypted_client_hello` extension is present: the name
    /// is then the public name of the client-facing server.
    #[getter]
    fn ech_offered(&self) -> bool {
        self.0.ech_offered()
    }

    /// How many TLS records the hello spanned.
    #[getter]
    fn record_count(&self) -> usize {
        self.0.record_count()
    }

    /// How many bytes at the start of the buffer the hello's records
    /// occupy: what to forward first.
    #[getter]
    fn length(&self) -> usize {
        self.0.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<ClientHello server_name={:?} kind={} alpn={:?} length={}>",
            self.server_name(),
            self.server_name_kind(),
            self.0
                .alpn()
                .iter()
                .map(|p| String::from_utf8_lossy(p))
                .collect::<Vec<_>>(),
            self.0.len()
        )
    }
}

/// Reads a TLS ClientHello from `data`, every byte received from the client
/// so far (RFC 8446 §5.1, §4.1.2): a `ClientHello` when complete, `NeedMore`
/// when more bytes are needed, `None` when the bytes are not TLS (plain
/// HTTP, say). `TlsError` as soon as a byte is wrong. Bounded work: nothing
/// past the hello's last record is read.
#[pyfunction]
#[pyo3(signature = (data, /))]
pub(crate) fn read_client_hello(py: Python<'_>, data: Cow<'_, [u8]>) -> PyResult<Py<PyAny>> {
    match tls::read_client_hello(&data).map_err(errors::tls)? {
        Status::NeedMore(n) => Ok(Py::new(py, NeedMore { needed: n })?.into_any()),
        Status::Complete(h) => Ok(Py::new(py, ClientHello(h))?.into_any()),
        Status::NotTls => Ok(py.None()),
    }
}

/// A host and optional port from a `Host` header or a request target
/// (RFC 3986 §3.2): a host name (lower case), an IPv4 address, or an IPv6
/// address written in brackets.
#[pyclass(module = "sixgate", name = "Authority", frozen, eq)]
#[derive(PartialEq, Eq)]
pub(crate) struct Authority(http::Authority);

#[pymethods]
impl Authority {
    /// Parses `host[:port]` as a `Host` header value; `HttpError` if it is
    /// not valid.
    #[new]
    #[pyo3(signature = (value, /))]
    fn new(value: Cow<'_, [u8]>) -> PyResult<Self> {
        http::Authority::parse(&value)
            .map(Self)
            .map_err(errors::http)
    }

    /// The host name, or `None` when the host is an IP address.
    #[getter]
    fn host_name(&self) -> Option<&str> {
        self.0.host().name().map(|n| n.as_str())
    }

    /// The address, when the host is an IP literal; else `None`.
    #[getter]
    fn ip<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.0
            .host()
            .ip()
            .map(|a| conv::addr_to_py(py, a))
            .transpose()
    }

    /// The host as text: the name, the IPv4 address, or `[IPv6]`.
    #[getter]
    fn host(&self) -> String {
        self.0.host().to_string()
    }

    /// The port, or `None` when none was given.
    #[getter]
    fn port(&self) -> Option<u16> {
        self.0.port()
    }

    fn __str__(&self) -> String {
        self.0.to_string()
    }

    fn __repr__(&self) -> String {
        format!("Authority('{}')", self.0)
    }
}

/// A complete, valid HTTP/1.x request head (RFC 9112). Returned by
/// `read_request_head`.
#[pyclass(module = "sixgate", name = "RequestHead", frozen)]
pub(crate) struct RequestHead(http::RequestHead);

#[pymethods]
impl RequestHead {
    /// The method, case preserved.
    #[getter]
    fn method(&self) -> &str {
        self.0.method()
    }

    /// The request target as sent.
    #[getter]
    fn target(&self) -> &str {
        self.0.target()
    }

    /// The target's form (RFC 9112 §3.2): `"origin"`, `"absolute"`,
    /// `"authority"` or `"asterisk"`.
    #[getter]
    fn form(&self) -> &'static str {
        match self.0.form() {
            TargetForm::Origin => "origin",
            TargetForm::Absolute => "absolute",
            TargetForm::Authority => "authority",
            TargetForm::Asterisk => "asterisk",
        }
    }

    /// `"HTTP/1.0"` or `"HTTP/1.1"`.
    #[getter]
    fn version(&self) -> &'static str {
        self.0.version().as_str()
    }

    /// The host the request is for: the target's authority if it has one,
    /// else `Host`; `None` for HTTP/1.0 without `Host` or an empty `Host`.
    #[getter]
    fn authority(&self) -> Option<Authority> {
        self.0.host().cloned().map(Authority)
    }

    /// Bytes of the head, final CRLF CRLF included; what follows is body.
    #[getter]
    fn length(&self) -> usize {
        self.0.len()
    }

    fn __repr__(&self) -> String {
        format!(
            "<RequestHead {} {} {} authority={:?}>",
            self.0.method(),
            self.0.target(),
            self.0.version().as_str(),
            self.0.host().map(|a| a.to_string())
        )
    }
}

/// Reads an HTTP/1.x request head from `data`, all bytes received so far
/// (RFC 9112 §2-§3, §5): a `RequestHead` when complete, `NeedMore` while it
/// has not ended and `data` is shorter than `max_head`. `HttpError` for a
/// malformed head (strict: bare LF, obs-fold, duplicate Host are refused)
/// or one longer than `max_head` bytes. Work is linear in
/// `min(len(data), max_head)`.
#[pyfunction]
#[pyo3(signature = (data, /, *, max_head = http::DEFAULT_MAX_HEAD))]
pub(crate) fn read_request_head(
    py: Python<'_>,
    data: Cow<'_, [u8]>,
    max_head: usize,
) -> PyResult<Py<PyAny>> {
    match http::read_request_head(&data, max_head).map_err(errors::http)? {
        HeadStatus::NeedMore => Ok(Py::new(py, NeedMore { needed: 1 })?.into_any()),
        HeadStatus::Complete(h) => Ok(Py::new(py, RequestHead(h))?.into_any()),
    }
}

/// What a PROXY protocol header says about a connection. Build one with
/// `ProxyHeader.proxy(source, destination)`, `ProxyHeader.local()` or
/// `ProxyHeader.unknown()`; `decode_proxy_header` returns them too.
#[pyclass(module = "sixgate", name = "ProxyHeader", frozen, eq, hash)]
#[derive(PartialEq, Eq, Hash)]
pub(crate) struct ProxyHeader(Header);

#[pymethods]
impl ProxyHeader {
    /// A relayed TCP connection from `source` to `destination`, as
    /// `(host, port)` tuples (or the 4-tuples of an AF_INET6 socket).
    /// IPv4-mapped addresses are folded to IPv4, so an IPv4 client on a
    /// dual-stack socket is sent as TCP4; a mixed pair is sent as TCP6.
    #[staticmethod]
    #[pyo3(signature = (source, destination, /))]
    fn proxy(source: Sock, destination: Sock) -> Self {
        Self(Header::proxy(source.0, destination.0))
    }

    /// v2 LOCAL: the proxy's own connection (a health check). v1 writes it
    /// as UNKNOWN.
    #[staticmethod]
    fn local() -> Self {
        Self(Header::Local)
    }

    /// UNKNOWN: the receiver should use the real endpoints.
    #[staticmethod]
    fn unknown() -> Self {
        Self(Header::Unknown)
    }

    /// `"proxy"`, `"local"` or `"unknown"`.
    #[getter]
    fn command(&self) -> &'static str {
        match self.0 {
            Header::Local => "local",
            Header::Unknown => "unknown",
            Header::Proxy { .. } => "proxy",
        }
    }

    /// The client as `(address, port)`, or `None` for LOCAL and UNKNOWN.
    #[getter]
    fn source<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match self.0 {
            Header::Proxy { source, .. } => conv::sock_to_py(py, source).map(Some),
            _ => Ok(None),
        }
    }

    /// The address the client connected to as `(address, port)`, or `None`
    /// for LOCAL and UNKNOWN.
    #[getter]
    fn destination<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match self.0 {
            Header::Proxy { destination, .. } => conv::sock_to_py(py, destination).map(Some),
            _ => Ok(None),
        }
    }

    /// The header's bytes in `version` 1 (text line) or 2 (binary), without
    /// TLVs.
    #[pyo3(signature = (*, version = 1))]
    fn encode<'py>(&self, py: Python<'py>, version: u8) -> PyResult<Bound<'py, PyBytes>> {
        let v = proxy_version(version)?;
        Ok(PyBytes::new(py, &proxy_protocol::encode(&self.0, v)))
    }

    fn __repr__(&self) -> String {
        match self.0 {
            Header::Proxy {
                source,
                destination,
            } => format!("ProxyHeader.proxy({source}, {destination})"),
            _ => format!("ProxyHeader.{}()", self.command()),
        }
    }
}

fn proxy_version(version: u8) -> PyResult<proxy_protocol::Version> {
    match version {
        1 => Ok(proxy_protocol::Version::V1),
        2 => Ok(proxy_protocol::Version::V2),
        v => Err(pyo3::exceptions::PyValueError::new_err(format!(
            "PROXY protocol version {v} does not exist (1 or 2)"
        ))),
    }
}

/// A complete PROXY header read by `decode_proxy_header`.
#[pyclass(module = "sixgate", name = "ProxyDecoded", frozen)]
pub(crate) struct ProxyDecoded {
    header: Header,
    /// The protocol version, 1 or 2.
    #[pyo3(get)]
    version: u8,
    /// The header's length in bytes; the connection's own data follows.
    #[pyo3(get)]
    length: usize,
    tlvs: Vec<(u8, Vec<u8>)>,
}

#[pymethods]
impl ProxyDecoded {
    /// What the header says.
    #[getter]
    fn header(&self) -> ProxyHeader {
        ProxyHeader(self.header)
    }

    /// The v2 TLVs as `(type, value)` pairs, in order (empty for v1);
    /// unread: a CRC32C is not verified.
    #[getter]
    fn tlvs<'py>(&self, py: Python<'py>) -> Vec<(u8, Bound<'py, PyBytes>)> {
        self.tlvs
            .iter()
            .map(|(t, v)| (*t, PyBytes::new(py, v)))
            .collect()
    }

    fn __repr__(&self) -> String {
        format!(
            "<ProxyDecoded v{} length={} {}>",
            self.version,
            self.length,
            ProxyHeader(self.header).__repr__()
        )
    }
}

/// Reads a PROXY header of either version from the start of `data` (the
/// bytes received so far): `ProxyDecoded` when complete, `NeedMore` while
/// the bytes are a prefix of a valid header, `None` when they cannot begin
/// one. `ProxyProtocolError` as soon as a byte is wrong.
#[pyfunction]
#[pyo3(signature = (data, /))]
pub(crate) fn decode_proxy_header(py: Python<'_>, data: Cow<'_, [u8]>) -> PyResult<Py<PyAny>> {
    match proxy_protocol::decode(&data).map_err(errors::proxy_protocol)? {
        Decoded::NeedMore(n) => Ok(Py::new(py, NeedMore { needed: n })?.into_any()),
        Decoded::NotProxy => Ok(py.None()),
        Decoded::Complete {
            header,
            version,
            len,
            tlvs,
        } => {
            let decoded = ProxyDecoded {
                header,
                version: match version {
                    proxy_protocol::Version::V1 => 1,
                    proxy_protocol::Version::V2 => 2,
                },
                length: len,
                tlvs: tlvs.map(|t| (t.kind().0, t.value().to_vec())).collect(),
            };
            Ok(Py::new(py, decoded)?.into_any())
        }
    }
}

/// The PROXY header bytes for a connection from `source` to `destination`
/// (`(host, port)` tuples), as `ProxyHeader.proxy(...).encode(version=...)`.
#[pyfunction]
#[pyo3(signature = (source, destination, /, *, version = 1))]
pub(crate) fn encode_proxy_header<'py>(
    py: Python<'py>,
    source: Sock,
    destination: Sock,
    version: u8,
) -> PyResult<Bound<'py, PyBytes>> {
    ProxyHeader::proxy(source, destination).encode(py, version)
}
