//! How failures reach JavaScript, the Node way:
//!
//! - a value of the wrong JavaScript type: `TypeError`, `code`
//!   `ERR_INVALID_ARG_TYPE` (Node's own code for it);
//! - a number out of its range (a port over 65535, a negative time):
//!   `RangeError`, `code` `ERR_OUT_OF_RANGE`;
//! - a value the core refuses: an `Error` with a stable `code` for the
//!   concern (`ERR_SIXGATE_ADDRESS`, `ERR_SIXGATE_PREFIX`, …), `kind` (the
//!   core's `kind()` code: `length`, `non_global`, …) and the core's message,
//!   which quotes the offending value; DNS errors also carry `rcode`.
//!
//! Each helper throws the error into the environment and returns the
//! `PendingException` error that tells napi-rs an exception is already
//! pending, so nothing is thrown twice. Nothing here decides anything: it
//! only sorts the core's errors into codes.

use napi::bindgen_prelude::{FromNapiValue, JsObjectValue, Object};
use napi::{Env, Error, JsError, Status};
use sixgate::{dns64, http, plan, proxy_protocol, rfc6052, text, tls};

/// The error napi-rs is handed once an exception has been thrown.
fn pending() -> Error {
    Error::from_status(Status::PendingException)
}

/// Throws a `TypeError` with `code: 'ERR_INVALID_ARG_TYPE'`.
pub(crate) fn type_error(env: &Env, message: &str) -> Error {
    match env.throw_type_error(message, Some("ERR_INVALID_ARG_TYPE")) {
        Ok(()) => pending(),
        Err(e) => e,
    }
}

/// Throws a `RangeError` with `code: 'ERR_OUT_OF_RANGE'`.
pub(crate) fn range_error(env: &Env, message: &str) -> Error {
    match env.throw_range_error(message, Some("ERR_OUT_OF_RANGE")) {
        Ok(()) => pending(),
        Err(e) => e,
    }
}

/// Throws an `Error` with `code`, `kind` and, for DNS errors, `rcode`.
pub(crate) fn sixgate_error(
    env: &Env,
    code: &str,
    kind: &str,
    message: &str,
    rcode: Option<u16>,
) -> Error {
    let thrown = (|| -> napi::Result<()> {
        let error = JsError::from(Error::new(code, message)).into_unknown(*env);
        let mut object = Object::from_unknown(error)?;
        object.set_named_property("kind", kind)?;
        if let Some(rcode) = rcode {
            object.set_named_property("rcode", u32::from(rcode))?;
        }
        env.throw(object)
    })();
    match thrown {
        Ok(()) => pending(),
        Err(e) => e,
    }
}

/// `text::Error` by kind: addresses, prefixes, formatter misuse.
pub(crate) fn text(env: &Env, e: &text::Error) -> Error {
    let kind = e.kind();
    let code = match kind {
        "addr" | "zone" => "ERR_SIXGATE_ADDRESS",
        "prefix" => "ERR_SIXGATE_PREFIX",
        _ => "ERR_SIXGATE_FORMAT",
    };
    sixgate_error(env, code, kind, &e.to_string(), None)
}

/// `rfc6052::Error` by kind: a bad prefix is `ERR_SIXGATE_PREFIX`, the rest
/// (the u-octet of an address, not of a prefix, included)
/// `ERR_SIXGATE_NAT64`.
pub(crate) fn rfc6052(env: &Env, e: &rfc6052::Error) -> Error {
    let kind = e.kind();
    let prefix = match kind {
        "syntax" | "length" | "host_bits" => true,
        "u_octet" => matches!(e, rfc6052::Error::PrefixUOctet { .. }),
        _ => false,
    };
    let code = if prefix {
        "ERR_SIXGATE_PREFIX"
    } else {
        "ERR_SIXGATE_NAT64"
    };
    sixgate_error(env, code, kind, &e.to_string(), None)
}

/// An address of the other family where one family is wanted.
pub(crate) fn wrong_family(env: &Env, addr: impl std::fmt::Display, want: &str) -> Error {
    sixgate_error(
        env,
        "ERR_SIXGATE_ADDRESS",
        "version",
        &format!("{addr} is not an {want} address"),
        None,
    )
}

/// `tls::Error`: `ERR_SIXGATE_TLS`.
pub(crate) fn tls(env: &Env, e: &tls::Error) -> Error {
    sixgate_error(env, "ERR_SIXGATE_TLS", e.kind(), &e.to_string(), None)
}

/// `http::Error`: `ERR_SIXGATE_HTTP`.
pub(crate) fn http(env: &Env, e: &http::Error) -> Error {
    sixgate_error(env, "ERR_SIXGATE_HTTP", e.kind(), &e.to_string(), None)
}

/// `proxy_protocol::Error`: `ERR_SIXGATE_PROXY_PROTOCOL`.
pub(crate) fn proxy_protocol(env: &Env, e: &proxy_protocol::Error) -> Error {
    sixgate_error(
        env,
        "ERR_SIXGATE_PROXY_PROTOCOL",
        e.kind(),
        &e.to_string(),
        None,
    )
}

/// `dns64::Error`: `ERR_SIXGATE_DNS` with the RCODE to answer with.
pub(crate) fn dns64(env: &Env, e: &dns64::Error) -> Error {
    dns_error(env, e.kind(), &e.to_string(), u16::from(e.response_code()))
}

/// An `ERR_SIXGATE_DNS` made by the binding (a message hickory-proto could
/// not parse or write), with its RCODE.
pub(crate) fn dns_error(env: &Env, kind: &str, message: &str, rcode: u16) -> Error {
    sixgate_error(env, "ERR_SIXGATE_DNS", kind, message, Some(rcode))
}

/// `plan::Error`: `ERR_SIXGATE_PLAN`.
pub(crate) fn plan(env: &Env, e: &plan::Error) -> Error {
    sixgate_error(env, "ERR_SIXGATE_PLAN", e.kind(), &e.to_string(), None)
}
