//! Bytes at the edge: the TLS ClientHello reader, the HTTP/1.x request-head
//! reader, and PROXY protocol v1/v2 encode/decode. Each reader works on all
//! the bytes received so far and says how many more it needs.

use std::net::SocketAddr;

use napi::bindgen_prelude::{Buffer, Either};
use napi::{Env, Result};
use napi_derive::napi;
use sixgate::http::{self, HeadStatus, TargetForm};
use sixgate::proxy_protocol::{self, Decoded, Header};
use sixgate::tls::{self, ServerName, Status};

use crate::conv::{self, Addr, Bytes, Count, Opts, Port, Str};
use crate::errors;

/// The reader needs more bytes before it can say anything: read at least
/// `needMore` more and call it again with everything so far.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct NeedMore {
    /// How many more bytes are needed at least (a lower bound; 1 when the
    /// reader cannot tell).
    pub need_more: u32,
}

fn need_more(n: usize) -> NeedMore {
    NeedMore {
        need_more: u32::try_from(n).unwrap_or(u32::MAX),
    }
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A complete TLS ClientHello (RFC 8446 §4.1.2), as far as a proxy that
/// does not terminate TLS needs it.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ClientHello {
    /// The SNI host name (RFC 6066 §3), lowercase and validated; `null`
    /// unless `serverNameKind` is `'hostName'`.
    pub server_name: Option<String>,
    /// What the SNI extension held.
    #[napi(ts_type = "'hostName' | 'ipLiteral' | 'invalid' | 'absent'")]
    pub server_name_kind: String,
    /// The IP address a client sent as a name (RFC 6066 forbids it), or
    /// `null`.
    pub server_name_ip: Option<String>,
    /// Why the SNI name is invalid, or `null`.
    pub server_name_error: Option<String>,
    /// The ALPN protocol names offered (RFC 7301), in order.
    pub alpn: Vec<Buffer>,
    /// The legacy_version field (0x0303 for TLS 1.2 and 1.3).
    pub legacy_version: u32,
    /// The supported_versions offered (RFC 8446 §4.2.1), in order.
    pub supported_versions: Vec<u32>,
    /// Whether an encrypted_client_hello extension was offered.
    pub ech_offered: bool,
    /// How many TLS records the hello spanned.
    pub record_count: u32,
    /// The bytes the hello's records take from the start of the buffer.
    pub length: u32,
}

/// Reads a TLS ClientHello from the bytes received so far (records may be
/// split anywhere). Returns the hello, `{ needMore }`, or `null` when the
/// bytes are not TLS at all; throws `ERR_SIXGATE_TLS` (with `kind`) for a
/// malformed or unacceptable hello.
///
/// ```js
/// const r = readClientHello(buf)
/// if (r === null) { /* not TLS */ } else if ('needMore' in r) { /* read more */ } else { r.serverName }
/// ```
#[napi]
pub fn read_client_hello(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] data: Bytes,
) -> Result<Option<Either<ClientHello, NeedMore>>> {
    let status = tls::read_client_hello(&data.0).map_err(|e| errors::tls(&env, &e))?;
    let h = match status {
        Status::NeedMore(n) => return Ok(Some(Either::B(need_more(n)))),
        Status::Complete(h) => h,
        Status::NotTls => return Ok(None),
    };
    let (kind, ip, error) = match h.server_name() {
        ServerName::HostName(_) => ("hostName", None, None),
        ServerName::IpLiteral(a) => ("ipLiteral", Some(conv::addr_text(*a)), None),
        ServerName::Invalid(e) => ("invalid", None, Some(e.to_string())),
        _ => ("absent", None, None),
    };
    Ok(Some(Either::A(ClientHello {
        server_name: h.server_name().host_name().map(|n| n.as_str().to_owned()),
        server_name_kind: kind.to_owned(),
        server_name_ip: ip,
        server_name_error: error,
        alpn: h.alpn().iter().map(|p| Buffer::from(p.clone())).collect(),
        legacy_version: u32::from(h.legacy_version().0),
        supported_versions: h
            .supported_versions()
            .iter()
            .map(|v| u32::from(v.0))
            .collect(),
        ech_offered: h.ech_offered(),
        record_count: count(h.record_count()),
        length: count(h.len()),
    })))
}

/// An HTTP authority (`host[:port]`, RFC 9110 §7.2).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct Authority {
    /// The host as written back: a lowercase name, an IPv4 address, or
    /// `[IPv6]`.
    pub host: String,
    /// The host name, or `null` for an IP literal.
    pub host_name: Option<String>,
    /// The IP literal as RFC 5952 text, or `null` for a name.
    pub ip: Option<String>,
    /// The port, or `null` when none was given.
    pub port: Option<u32>,
    /// The whole authority, `host[:port]`.
    pub text: String,
}

fn authority(a: &http::Authority) -> Authority {
    Authority {
        host: a.host().to_string(),
        host_name: a.host().name().map(|n| n.as_str().to_owned()),
        ip: a.host().ip().map(conv::addr_text),
        port: a.port().map(u32::from),
        text: a.to_string(),
    }
}

/// Parses an authority (`Host` field value or absolute-form authority):
/// a validated name, IPv4, or `[IPv6]`, with an optional port. Throws
/// `ERR_SIXGATE_HTTP` otherwise.
#[napi]
pub fn parse_authority(env: Env, #[napi(ts_arg_type = "string")] value: Str) -> Result<Authority> {
    http::Authority::parse(value.0.as_bytes())
        .map(|a| authority(&a))
        .map_err(|e| errors::http(&env, &e))
}

/// A complete HTTP/1.x request head (RFC 9112 §3).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct RequestHead {
    /// The method, e.g. `'GET'`.
    pub method: String,
    /// The request target as sent.
    pub target: String,
    /// The target's form (RFC 9112 §3.2).
    #[napi(ts_type = "'origin' | 'absolute' | 'authority' | 'asterisk'")]
    pub form: String,
    /// The protocol version.
    #[napi(ts_type = "'HTTP/1.0' | 'HTTP/1.1'")]
    pub version: String,
    /// The authority the request is for (absolute-form target first, then
    /// `Host`), or `null` when an HTTP/1.0 request names none.
    pub authority: Option<Authority>,
    /// The bytes the head takes, up to and including the empty line.
    pub length: u32,
}

/// Options of `readRequestHead`.
#[napi(object, object_to_js = false)]
pub struct RequestHeadOptions {
    /// The largest head accepted, in bytes (default 16384); a longer one
    /// throws `ERR_SIXGATE_HTTP` with kind `too_long`.
    #[napi(ts_type = "number")]
    pub max_head: Option<Count>,
}

/// Reads an HTTP/1.x request head from the bytes received so far. Returns
/// the head or `{ needMore }`; throws `ERR_SIXGATE_HTTP` (with `kind`) for
/// a malformed request, a missing or duplicated `Host`, or a head over
/// `maxHead`.
#[napi]
pub fn read_request_head(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] data: Bytes,
    #[napi(ts_arg_type = "RequestHeadOptions")] options: Option<Opts<RequestHeadOptions>>,
) -> Result<Either<RequestHead, NeedMore>> {
    let max_head = options
        .and_then(|o| o.0.max_head)
        .map_or(http::DEFAULT_MAX_HEAD, |c| {
            usize::try_from(c.0).unwrap_or(usize::MAX)
        });
    match http::read_request_head(&data.0, max_head).map_err(|e| errors::http(&env, &e))? {
        HeadStatus::Complete(h) => Ok(Either::A(RequestHead {
            method: h.method().to_owned(),
            target: h.target().to_owned(),
            form: match h.form() {
                TargetForm::Origin => "origin",
                TargetForm::Absolute => "absolute",
                TargetForm::Authority => "authority",
                TargetForm::Asterisk => "asterisk",
            }
            .to_owned(),
            version: h.version().as_str().to_owned(),
            authority: h.host().map(authority),
            length: count(h.len()),
        })),
        // The reader cannot tell how much more; any byte may end the head.
        _ => Ok(Either::B(need_more(1))),
    }
}

/// A socket address, as Node's `net.SocketAddress` names its parts.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct SocketAddress {
    /// The IP address, RFC 5952 text (any valid text in).
    pub address: String,
    /// The port.
    pub port: u32,
}

/// A socket address to write: `{ address, port }` (a [`SocketAddress`]
/// will do), converted field by field, so a bad address or port throws as
/// everywhere else.
#[napi(object, object_to_js = false)]
pub struct SocketAddressInit {
    /// The IP address.
    #[napi(ts_type = "string")]
    pub address: Option<Addr>,
    /// The port.
    #[napi(ts_type = "number")]
    pub port: Option<Port>,
}

fn socket_address(s: SocketAddr) -> SocketAddress {
    SocketAddress {
        address: conv::addr_text(s.ip()),
        port: u32::from(s.port()),
    }
}

fn sock(env: &Env, s: Option<Opts<SocketAddressInit>>) -> Result<Option<SocketAddr>> {
    match s {
        None => Ok(None),
        Some(Opts(SocketAddressInit {
            address: Some(a),
            port: Some(p),
        })) => Ok(Some(SocketAddr::new(a.0, p.0))),
        Some(_) => Err(errors::type_error(
            env,
            "expected a socket address { address, port }",
        )),
    }
}

/// A PROXY header to write: a [`ProxyHeader`] (what `decodeProxyHeader`
/// returns will do).
#[napi(object, object_to_js = false)]
pub struct ProxyHeaderInit {
    /// `'proxy'`, `'local'` or `'unknown'`.
    #[napi(ts_type = "'proxy' | 'local' | 'unknown'")]
    pub command: Option<Str>,
    /// The client's address (`proxy` only).
    #[napi(ts_type = "SocketAddressInit | null")]
    pub source: Option<Opts<SocketAddressInit>>,
    /// The address the client connected to (`proxy` only).
    #[napi(ts_type = "SocketAddressInit | null")]
    pub destination: Option<Opts<SocketAddressInit>>,
}

/// A PROXY protocol header: a proxied connection's two endpoints, or a
/// connection the proxy made itself (`local`), or one whose endpoints it
/// does not know (`unknown`). An IPv4 address and an IPv4-mapped one are
/// the same endpoint (written as TCP4).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ProxyHeader {
    /// Which of the three.
    #[napi(ts_type = "'proxy' | 'local' | 'unknown'")]
    pub command: String,
    /// The client's address (`proxy` only; `null` otherwise).
    pub source: Option<SocketAddress>,
    /// The address the client connected to (`proxy` only).
    pub destination: Option<SocketAddress>,
}

fn header_out(h: &Header) -> ProxyHeader {
    match *h {
        Header::Proxy {
            source,
            destination,
        } => ProxyHeader {
            command: "proxy".to_owned(),
            source: Some(socket_address(source)),
            destination: Some(socket_address(destination)),
        },
        Header::Local => ProxyHeader {
            command: "local".to_owned(),
            source: None,
            destination: None,
        },
        _ => ProxyHeader {
            command: "unknown".to_owned(),
            source: None,
            destination: None,
        },
    }
}

fn header_in(env: &Env, h: ProxyHeaderInit) -> Result<Header> {
    let Some(Str(command)) = h.command else {
        return Err(errors::type_error(
            env,
            "expected a PROXY header { command, source?, destination? }",
        ));
    };
    let source = sock(env, h.source)?;
    let destination = sock(env, h.destination)?;
    match (command.as_str(), source, destination) {
        ("proxy", Some(s), Some(d)) => Ok(Header::proxy(s, d)),
        ("proxy", _, _) => Err(errors::type_error(
            env,
            "a 'proxy' header needs source and destination ({ address, port })",
        )),
        ("local", None, None) => Ok(Header::Local),
        ("unknown", None, None) => Ok(Header::Unknown),
        ("local" | "unknown", _, _) => Err(errors::type_error(
            env,
            &format!("a '{command}' header has no source or destination"),
        )),
        (other, _, _) => Err(errors::sixgate_error(
            env,
            "ERR_SIXGATE_PROXY_PROTOCOL",
            "command",
            &format!("PROXY protocol command {other:?} is not 'proxy', 'local' or 'unknown'"),
            None,
        )),
    }
}

/// Options of `encodeProxyHeader`.
#[napi(object, object_to_js = false)]
pub struct ProxyEncodeOptions {
    /// The PROXY protocol version, 1 (text, default) or 2 (binary).
    #[napi(ts_type = "1 | 2")]
    pub version: Option<Count>,
}

/// Writes a PROXY protocol header, v1 (text) or v2 (binary), with no TLVs.
///
/// ```js
/// encodeProxyHeader({ command: 'proxy', source: { address: '192.0.2.1', port: 56324 },
///                     destination: { address: '198.51.100.7', port: 443 } })
/// // Buffer 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n'
/// ```
#[napi]
pub fn encode_proxy_header(
    env: Env,
    #[napi(ts_arg_type = "ProxyHeaderInit")] header: Opts<ProxyHeaderInit>,
    #[napi(ts_arg_type = "ProxyEncodeOptions")] options: Option<Opts<ProxyEncodeOptions>>,
) -> Result<Buffer> {
    let version = match options.and_then(|o| o.0.version).map(|c| c.0) {
        None | Some(1) => proxy_protocol::Version::V1,
        Some(2) => proxy_protocol::Version::V2,
        Some(v) => {
            return Err(errors::range_error(
                &env,
                &format!("PROXY protocol version {v} does not exist (1 or 2)"),
            ))
        }
    };
    let header = header_in(&env, header.0)?;
    Ok(Buffer::from(proxy_protocol::encode(&header, version)))
}

/// A TLV of a PROXY v2 header (PP2_TYPE_*).
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ProxyTlv {
    /// The type code, e.g. 0x01 for ALPN.
    #[napi(js_name = "type")]
    pub kind: u32,
    /// The value.
    pub value: Buffer,
}

/// A decoded PROXY protocol header.
#[napi(object, object_from_js = false, use_nullable = true)]
pub struct ProxyDecoded {
    /// The header.
    pub header: ProxyHeader,
    /// Which version it was written in.
    #[napi(ts_type = "1 | 2")]
    pub version: u32,
    /// The bytes it takes from the start of the buffer; the connection's
    /// own data follows.
    pub length: u32,
    /// Its TLVs (v2 only), in order.
    pub tlvs: Vec<ProxyTlv>,
}

/// Decodes a PROXY protocol v1 or v2 header from the bytes received so
/// far. Returns the header, `{ needMore }`, or `null` when the bytes do
/// not start a PROXY header; throws `ERR_SIXGATE_PROXY_PROTOCOL` for a
/// malformed one.
#[napi]
pub fn decode_proxy_header(
    env: Env,
    #[napi(ts_arg_type = "Uint8Array")] data: Bytes,
) -> Result<Option<Either<ProxyDecoded, NeedMore>>> {
    match proxy_protocol::decode(&data.0).map_err(|e| errors::proxy_protocol(&env, &e))? {
        Decoded::NeedMore(n) => Ok(Some(Either::B(need_more(n)))),
        Decoded::Complete {
            header,
            version,
            len,
            tlvs,
        } => Ok(Some(Either::A(ProxyDecoded {
            header: header_out(&header),
            version: match version {
                proxy_protocol::Version::V1 => 1,
                _ => 2,
            },
            length: count(len),
            tlvs: tlvs
                .map(|t| ProxyTlv {
                    kind: u32::from(t.kind().0),
                    value: Buffer::from(t.value().to_vec()),
                })
                .collect(),
        }))),
        _ => Ok(None),
    }
}
