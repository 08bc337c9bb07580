//! Conversions between JavaScript values and core types. Addresses and
//! networks come in as strings (parsed by core's `text::parse_addr` /
//! `text::parse_net`, so Node accepts exactly what the CLI and the Python
//! package accept) and go out as RFC 5952 text from core's formatter; bytes
//! come in as `Buffer` or `Uint8Array`.
//!
//! Each argument type here implements napi-rs's `FromNapiValue` so that a
//! wrong JavaScript type becomes a `TypeError` and an out-of-range number a
//! `RangeError` (napi-rs's own conversions throw a plain `Error`). This
//! module holds the crate's only unsafe code: the `FromNapiValue` impls
//! ([`from_js!`], [`List`], [`Opts`]) wrap the raw value napi-rs hands a
//! conversion in the safe `Unknown` type, and nothing else.
#![allow(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use napi::bindgen_prelude::{
    ClassInstance, FromNapiValue, JavaScriptClassExt, TypeName, Uint8Array, ValidateNapiValue,
};
use napi::{sys, Env, JsValue, Result, Unknown, ValueType};
use sixgate::text::{self, ScopedAddr};
use sixgate::Nat64Prefix;

use crate::errors;

/// A value converted from one JavaScript value, throwing the right error.
pub(crate) trait FromJs: Sized {
    /// What the value must be, for the `TypeError` ("a string", …).
    const EXPECTED: &'static str;

    /// Converts `value`; throws and returns the pending error otherwise.
    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self>;
}

/// Implements napi-rs's conversion traits for [`FromJs`] types.
macro_rules! from_js {
    ($($t:ty),* $(,)?) => {$(
        impl FromNapiValue for $t {
            unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
                // SAFETY: napi-rs calls this with the live env and value of
                // the current call; `Unknown` only reads through them.
                let value = unsafe { Unknown::from_raw_unchecked(env, value) };
                <$t as FromJs>::from_js(&Env::from_raw(env), value)
            }
        }
        impl TypeName for $t {
            fn type_name() -> &'static str {
                <$t as FromJs>::EXPECTED
            }
            fn value_type() -> ValueType {
                ValueType::Unknown
            }
        }
        impl ValidateNapiValue for $t {}
    )*};
}

from_js!(Str, Addr, V4, V6, Scoped, Net, NetOrAddr, PrefixArg, Port, Bytes, Seconds, Flag, Count);

/// The JavaScript type name of `value`, for messages.
pub(crate) fn type_of(value: &Unknown<'_>) -> String {
    match value.get_type() {
        Ok(ValueType::Object) if value.is_array().unwrap_or(false) => "array".to_owned(),
        Ok(t) => t.to_string().to_lowercase(),
        Err(_) => "unknown".to_owned(),
    }
}

/// The `TypeError` for `value`, which is not what `T` needs.
pub(crate) fn wrong_type<T: FromJs>(env: &Env, value: &Unknown<'_>) -> napi::Error {
    errors::type_error(
        env,
        &format!("expected {}, got {}", T::EXPECTED, type_of(value)),
    )
}

/// A JavaScript string.
pub struct Str(pub(crate) String);

impl FromJs for Str {
    const EXPECTED: &'static str = "a string";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        if value.get_type()? != ValueType::String {
            return Err(wrong_type::<Self>(env, &value));
        }
        String::from_unknown(value).map(Str)
    }
}

/// A string argument, with `T`'s expectation in the `TypeError`.
fn string<T: FromJs>(env: &Env, value: Unknown<'_>) -> Result<String> {
    if value.get_type()? != ValueType::String {
        return Err(wrong_type::<T>(env, &value));
    }
    String::from_unknown(value)
}

/// An IPv4 or IPv6 address as text (any case; no zone, brackets or
/// whitespace; no leading zeros in IPv4).
pub struct Addr(pub(crate) IpAddr);

impl FromJs for Addr {
    const EXPECTED: &'static str = "an address string";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        let s = string::<Self>(env, value)?;
        text::parse_addr(&s)
            .map(Addr)
            .map_err(|e| errors::text(env, &e))
    }
}

/// An IPv4 address as text.
pub struct V4(pub(crate) Ipv4Addr);

impl FromJs for V4 {
    const EXPECTED: &'static str = "an IPv4 address string";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        let s = string::<Self>(env, value)?;
        match text::parse_addr(&s).map_err(|e| errors::text(env, &e))? {
            IpAddr::V4(a) => Ok(V4(a)),
            IpAddr::V6(a) => Err(errors::wrong_family(env, a, "IPv4")),
        }
    }
}

/// An IPv6 address as text.
pub struct V6(pub(crate) Ipv6Addr);

impl FromJs for V6 {
    const EXPECTED: &'static str = "an IPv6 address string";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        let s = string::<Self>(env, value)?;
        match text::parse_addr(&s).map_err(|e| errors::text(env, &e))? {
            IpAddr::V6(a) => Ok(V6(a)),
            IpAddr::V4(a) => Err(errors::wrong_family(env, a, "IPv6")),
        }
    }
}

/// An address that may carry an RFC 4007 zone ID (`fe80::1%eth0`).
pub struct Scoped(pub(crate) ScopedAddr);

impl FromJs for Scoped {
    const EXPECTED: &'static str = "an address string";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        let s = string::<Self>(env, value)?;
        s.parse().map(Scoped).map_err(|e| errors::text(env, &e))
    }
}

/// A network as `address/length` text; bits set beyond the length are
/// refused (core names the network meant).
pub struct Net(pub(crate) IpNet);

impl FromJs for Net {
    const EXPECTED: &'static str = "a network string (address/length)";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        let s = string::<Self>(env, value)?;
        text::parse_net(&s)
            .map(Net)
            .map_err(|e| errors::text(env, &e))
    }
}

/// A network, or an address standing for its host route (/32 or /128).
pub struct NetOrAddr(pub(crate) IpNet);

impl FromJs for NetOrAddr {
    const EXPECTED: &'static str = "an address or network string";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        let s = string::<Self>(env, value)?;
        let net = if s.contains('/') {
            text::parse_net(&s)
        } else {
            text::parse_addr(&s).map(IpNet::from)
        };
        net.map(NetOrAddr).map_err(|e| errors::text(env, &e))
    }
}

/// A NAT64 prefix: `address/length` text or a `Nat64Prefix`.
pub struct PrefixArg(pub(crate) Nat64Prefix);

impl FromJs for PrefixArg {
    const EXPECTED: &'static str = "a NAT64 prefix string or a Nat64Prefix";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        if value.get_type()? == ValueType::Object
            && crate::addr::Nat64Prefix::instance_of(env, &value)?
        {
            let p = ClassInstance::<crate::addr::Nat64Prefix>::from_unknown(value)?;
            return Ok(PrefixArg(p.inner));
        }
        let s = string::<Self>(env, value)?;
        s.parse()
            .map(PrefixArg)
            .map_err(|e| errors::rfc6052(env, &e))
    }
}

/// A whole number in `0..=max`, or the error to throw.
fn integer(env: &Env, value: Unknown<'_>, expected: &str, max: f64) -> Result<f64> {
    if value.get_type()? != ValueType::Number {
        return Err(errors::type_error(
            env,
            &format!("expected {expected}, got {}", type_of(&value)),
        ));
    }
    let n = f64::from_unknown(value)?;
    if n.fract() != 0.0 || !(0.0..=max).contains(&n) {
        return Err(errors::range_error(
            env,
            &format!("{n} is not {expected} (an integer from 0 to {max})"),
        ));
    }
    Ok(n)
}

/// A TCP/UDP port: an integer from 0 to 65535.
pub struct Port(pub(crate) u16);

impl FromJs for Port {
    const EXPECTED: &'static str = "a port number";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        let n = integer(env, value, Self::EXPECTED, f64::from(u16::MAX))?;
        // In range and whole: checked by `integer`.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Port(n as u16))
    }
}

/// A count or index: a whole number from 0 to 2^53 - 1 (a `number`), or
/// a non-negative `bigint` up to 2^64 - 1.
pub struct Count(pub(crate) u64);

impl FromJs for Count {
    const EXPECTED: &'static str = "a non-negative integer";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        if value.get_type()? == ValueType::BigInt {
            let b = napi::bindgen_prelude::BigInt::from_unknown(value)?;
            let (negative, n, lossless) = b.get_u64();
            if negative || !lossless {
                return Err(errors::range_error(
                    env,
                    "the bigint is not an integer from 0 to 2^64 - 1",
                ));
            }
            return Ok(Count(n));
        }
        let n = integer(env, value, Self::EXPECTED, 9_007_199_254_740_991.0)?;
        // In range and whole: checked by `integer`.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Count(n as u64))
    }
}

/// A time in Unix seconds (`Date.now() / 1000` is fine): a finite,
/// non-negative number; fractions are dropped.
pub struct Seconds(pub(crate) u64);

impl FromJs for Seconds {
    const EXPECTED: &'static str = "a time in Unix seconds";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        if value.get_type()? != ValueType::Number {
            return Err(wrong_type::<Self>(env, &value));
        }
        let n = f64::from_unknown(value)?;
        if !(0.0..18_446_744_073_709_551_616.0).contains(&n) {
            return Err(errors::range_error(
                env,
                &format!("{n} is not a time in Unix seconds (a finite number, 0 or more)"),
            ));
        }
        // Finite, non-negative and below 2^64: checked above.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(Seconds(n as u64))
    }
}

/// A boolean option.
pub struct Flag(pub(crate) bool);

impl FromJs for Flag {
    const EXPECTED: &'static str = "a boolean";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        if value.get_type()? != ValueType::Boolean {
            return Err(wrong_type::<Self>(env, &value));
        }
        bool::from_unknown(value).map(Flag)
    }
}

/// Bytes from a `Buffer` or `Uint8Array`, copied.
pub struct Bytes(pub(crate) Vec<u8>);

impl FromJs for Bytes {
    const EXPECTED: &'static str = "a Buffer or Uint8Array";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        if value.get_type()? != ValueType::Object || !value.is_typedarray()? {
            return Err(wrong_type::<Self>(env, &value));
        }
        match Uint8Array::from_unknown(value) {
            Ok(a) => Ok(Bytes(a.to_vec())),
            Err(_) => Err(errors::type_error(
                env,
                &format!("expected {}, got another typed array", Self::EXPECTED),
            )),
        }
    }
}

/// An array whose every element converts as `T`.
pub struct List<T>(pub(crate) Vec<T>);

impl<T: FromJs> FromJs for List<T> {
    const EXPECTED: &'static str = "an array";

    fn from_js(env: &Env, value: Unknown<'_>) -> Result<Self> {
        if !value.is_array()? {
            return Err(wrong_type::<Self>(env, &value));
        }
        let array = napi::bindgen_prelude::Array::from_unknown(value)?;
        let mut out = Vec::with_capacity(array.len() as usize);
        for i in 0..array.len() {
            match array.get::<Unknown<'_>>(i)? {
                Some(item) => out.push(T::from_js(env, item)?),
                None => {
                    return Err(errors::type_error(
                        env,
                        &format!(
                            "expected an array of {}, element {i} is missing",
                            T::EXPECTED
                        ),
                    ))
                }
            }
        }
        Ok(List(out))
    }
}

impl<T: FromJs> FromNapiValue for List<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: as in `from_js!`.
        let value = unsafe { Unknown::from_raw_unchecked(env, value) };
        <List<T> as FromJs>::from_js(&Env::from_raw(env), value)
    }
}

impl<T: FromJs> TypeName for List<T> {
    fn type_name() -> &'static str {
        "Array"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<T: FromJs> ValidateNapiValue for List<T> {}

/// An address as RFC 5952 text (IPv4-mapped in mixed notation, §5).
pub(crate) fn addr_text(a: impl Into<IpAddr>) -> String {
    text::canonical(a.into())
}

/// A network as `address/length`, the address as RFC 5952 text and host
/// bits cleared.
pub(crate) fn net_text(n: impl Into<IpNet>) -> String {
    let n = n.into().trunc();
    format!("{}/{}", text::canonical(n.addr()), n.prefix_len())
}

/// An options object: a plain object whose fields convert as `T`'s do
/// (napi-rs reads the fields; a string or number given where the options
/// belong is a `TypeError`, not silently no options).
pub struct Opts<T>(pub(crate) T);

impl<T: FromNapiValue> FromNapiValue for Opts<T> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> Result<Self> {
        // SAFETY: as in `from_js!`.
        let unknown = unsafe { Unknown::from_raw_unchecked(env, value) };
        let env = Env::from_raw(env);
        if unknown.get_type()? != ValueType::Object || unknown.is_array()? {
            return Err(errors::type_error(
                &env,
                &format!("expected an options object, got {}", type_of(&unknown)),
            ));
        }
        // SAFETY: the same live env and value, now known to be an object.
        unsafe { T::from_napi_value(env.raw(), value) }.map(Opts)
    }
}

impl<T> TypeName for Opts<T> {
    fn type_name() -> &'static str {
        "Object"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl<T> ValidateNapiValue for Opts<T> {}
