//! The exception hierarchy and the mapping from core errors to it.
//!
//! Every core error enum has a stable `kind()` code; the binding turns each
//! error into the exception subclass for its concern, with the core message
//! (which quotes the offending value) as the text and the code as the
//! exception's `kind` attribute. Nothing here decides anything: it only
//! sorts errors into classes.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;
use pyo3::{create_exception, PyTypeInfo};
use sixgate::{dns64, http, plan, proxy_protocol, rfc6052, text, tls};

create_exception!(
    sixgate,
    Error,
    PyValueError,
    "Base class of every sixgate error; a ValueError. `kind` is a stable snake_case code \
     for the kind of error (the core's `kind()`), the message quotes the offending value."
);
create_exception!(
    sixgate,
    AddressError,
    Error,
    "An address that is not an IPv4 or IPv6 address, a malformed zone ID, or an address of \
     the wrong family. Kinds: `addr`, `zone`, `version`."
);
create_exception!(
    sixgate,
    PrefixError,
    Error,
    "A prefix that is not `address/length`, sets bits beyond its length, or is not a valid \
     NAT64 prefix (RFC 6052 §2.2). Kinds: `prefix`, `syntax`, `length`, `host_bits`, `u_octet`."
);
create_exception!(
    sixgate,
    Nat64Error,
    Error,
    "An RFC 6052 embedding, extraction or discovery that failed. Kinds: `outside_prefix`, \
     `u_octet`, `non_global`, `not_discovered`, `ambiguous`."
);
create_exception!(
    sixgate,
    FormatError,
    Error,
    "A style name that does not exist, or a port or prefix a style cannot write. Kinds: \
     `style`, `port_not_allowed`, `port_required`, `prefix_not_allowed`."
);
create_exception!(
    sixgate,
    TlsError,
    Error,
    "Bytes that are not an acceptable TLS ClientHello (RFC 8446 §4.1.2); `kind` names why."
);
create_exception!(
    sixgate,
    HttpError,
    Error,
    "Bytes that are not an acceptable HTTP/1.x request head (RFC 9112), or a malformed \
     authority; `kind` names why."
);
create_exception!(
    sixgate,
    ProxyProtocolError,
    Error,
    "Bytes that are not a valid PROXY protocol v1 or v2 header; `kind` names why."
);
create_exception!(
    sixgate,
    DnsError,
    Error,
    "A DNS message DNS64 cannot resolve, or a bad DNS64 configuration. `rcode` is the \
     response code to answer the client with (FORMERR 1, NOTIMP 4, SERVFAIL 2)."
);

create_exception!(
    sixgate,
    PlanError,
    Error,
    "An address plan operation that was refused, or plan JSON that is not valid; `kind` \
     is the core's code (`no_pool`, `full`, `taken`, `held_down`, `reserved`, `overlap`, \
     `not_allocated`, `strategy`, `json`, `version`, …)."
);

/// Builds an exception of class `T` with `message` and the `kind` attribute.
pub(crate) fn new_error<T: PyTypeInfo>(kind: &str, message: String) -> PyErr {
    Python::attach(|py| {
        let err = PyErr::new::<T, _>(message);
        // Setting an attribute on a fresh exception instance cannot fail in
        // practice; if it did, the exception is still raised, without it.
        let _ = err.value(py).setattr("kind", kind);
        err
    })
}

/// Sets the class-level defaults of the attributes the stubs declare, so
/// that `Error.kind` and `DnsError.rcode` exist before any instance does.
pub(crate) fn init(py: Python<'_>) -> PyResult<()> {
    py.get_type::<Error>().setattr("kind", "")?;
    py.get_type::<DnsError>().setattr("rcode", 2)?;
    Ok(())
}

/// Every exception class, for the module to export.
pub(crate) fn classes(py: Python<'_>) -> Vec<(&'static str, Bound<'_, PyType>)> {
    vec![
        ("Error", py.get_type::<Error>()),
        ("AddressError", py.get_type::<AddressError>()),
        ("PrefixError", py.get_type::<PrefixError>()),
        ("Nat64Error", py.get_type::<Nat64Error>()),
        ("FormatError", py.get_type::<FormatError>()),
        ("TlsError", py.get_type::<TlsError>()),
        ("HttpError", py.get_type::<HttpError>()),
        ("ProxyProtocolError", py.get_type::<ProxyProtocolError>()),
        ("DnsError", py.get_type::<DnsError>()),
        ("PlanError", py.get_type::<PlanError>()),
    ]
}

/// `text::Error` by kind: addresses, prefixes, formatter misuse.
pub(crate) fn text(e: text::Error) -> PyErr {
    let kind = e.kind();
    let message = e.to_string();
    match kind {
        "addr" | "zone" => new_error::<AddressError>(kind, message),
        "prefix" => new_error::<PrefixError>(kind, message),
        "style" | "port_not_allowed" | "port_required" | "prefix_not_allowed" => {
            new_error::<FormatError>(kind, message)
        }
        _ => new_error::<Error>(kind, message),
    }
}

/// `rfc6052::Error` by kind: a bad prefix is a `PrefixError`, the rest
/// (`u_octet` of an address, not of a prefix, included) a `Nat64Error`.
pub(crate) fn rfc6052(e: rfc6052::Error) -> PyErr {
    let kind = e.kind();
    let prefix = match kind {
        "syntax" | "length" | "host_bits" => true,
        "u_octet" => matches!(e, rfc6052::Error::PrefixUOctet { .. }),
        _ => false,
    };
    let message = e.to_string();
    if prefix {
        new_error::<PrefixError>(kind, message)
    } else {
        new_error::<Nat64Error>(kind, message)
    }
}

/// `tls::Error`: always a `TlsError`.
pub(crate) fn tls(e: tls::Error) -> PyErr {
    new_error::<TlsError>(e.kind(), e.to_string())
}

/// `http::Error`: always an `HttpError`.
pub(crate) fn http(e: http::Error) -> PyErr {
    new_error::<HttpError>(e.kind(), e.to_string())
}

/// `proxy_protocol::Error`: always a `ProxyProtocolError`.
pub(crate) fn proxy_protocol(e: proxy_protocol::Error) -> PyErr {
    new_error::<ProxyProtocolError>(e.kind(), e.to_string())
}

/// `dns64::Error`: a `DnsError` with the RCODE to answer with.
pub(crate) fn dns64(e: dns64::Error) -> PyErr {
    dns_error(e.kind(), e.to_string(), u16::from(e.response_code()))
}

/// A `DnsError` made by the binding (a message hickory-proto could not
/// parse or write), with its RCODE.
pub(crate) fn dns_error(kind: &str, message: String, rcode: u16) -> PyErr {
    let err = new_error::<DnsError>(kind, message);
    Python::attach(|py| {
        let _ = err.value(py).setattr("rcode", rcode);
    });
    err
}

/// `plan::Error`: always a `PlanError`.
pub(crate) fn plan(e: plan::Error) -> PyErr {
    new_error::<PlanError>(e.kind(), e.to_string())
}
