//! HTTP/1.x request heads as they arrive at the edge: the request line, the
//! `Host` header and the authority of an absolute-form or CONNECT target,
//! read over a partial buffer (RFC 9112 §2-§3 and §5, RFC 9110 §7.2,
//! RFC 3986 §3.2).
//!
//! The reader is strict wherever leniency could let the proxy and the backend
//! read the same bytes differently (request smuggling, virtual-host
//! confusion):
//!
//! - Lines end in CRLF. A bare LF is refused, although RFC 9112 §2.2 lets a
//!   recipient accept one; a bare CR, NUL or any other control byte but HTAB
//!   is refused anywhere in the head.
//! - Exactly one SP between the parts of the request line (RFC 9112 §3), a
//!   version of `HTTP/1.0` or `HTTP/1.1` exactly (case-sensitive, §2.3).
//! - Field names are tokens; whitespace between a name and its colon
//!   (§5.1), obs-fold (§5.2) and whitespace before the first field (§2.2)
//!   are refused. At most [`MAX_FIELDS`] field lines.
//! - HTTP/1.1 needs exactly one `Host`; HTTP/1.0 at most one (§3.2). An empty
//!   `Host` value is allowed (§3.2 asks for one when the target has no
//!   authority) and gives no host.
//! - An absolute-form target (`http://example.test:8080/x`) or a CONNECT
//!   target (`example.test:443`) names the host, and wins over `Host`
//!   (§3.2.2); the `Host` header must still be valid.
//!
//! Empty lines before the request line are skipped, as RFC 9112 §2.2 asks,
//! and counted in [`RequestHead::len`].
//!
//! ```
//! use sixgate::http::{read_request_head, HeadStatus, DEFAULT_MAX_HEAD};
//!
//! let buf = b"GET / HTTP/1.1\r\nHost: WWW.Example.TEST:8080\r\n\r\n";
//! let HeadStatus::Complete(head) = read_request_head(buf, DEFAULT_MAX_HEAD)? else {
//!     panic!("a complete head");
//! };
//! let host = head.host().expect("a host");
//! assert_eq!(host.to_string(), "www.example.test:8080");
//! assert_eq!(head.len(), buf.len());
//!
//! // Half a head: ask for more.
//! assert_eq!(read_request_head(&buf[..20], DEFAULT_MAX_HEAD)?, HeadStatus::NeedMore);
//!
//! // A TLS ClientHello is not HTTP.
//! let err = read_request_head(b"\x16\x03\x01\x02\x00", DEFAULT_MAX_HEAD).unwrap_err();
//! assert_eq!(err.kind(), "not_http");
//! # Ok::<(), sixgate::http::Error>(())
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::name::{HostName, NameError};

/// The default bound on a request head, in bytes, final CRLF CRLF included.
pub const DEFAULT_MAX_HEAD: usize = 16 * 1024;

/// The most header field lines a head may have.
pub const MAX_FIELDS: usize = 100;

/// The most bytes of an offending value quoted in an error message.
pub const MAX_QUOTED: usize = 64;

/// What [`read_request_head`] found in the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadStatus {
    /// The head has not ended yet and is still under the limit: read more.
    NeedMore,
    /// The head is complete; [`RequestHead::len`] bytes belong to it.
    Complete(RequestHead),
}

/// A complete, valid HTTP/1.x request head: what the proxy routes on.
///
/// ```
/// use sixgate::http::{read_request_head, HeadStatus, Host, TargetForm, Version};
///
/// let buf = b"GET http://[2001:db8::1]:8080/x HTTP/1.1\r\nHost: other.test\r\n\r\nbody";
/// let HeadStatus::Complete(head) = read_request_head(buf, 1024)? else { panic!() };
/// assert_eq!(head.method(), "GET");
/// assert_eq!(head.target(), "http://[2001:db8::1]:8080/x");
/// assert_eq!(head.form(), TargetForm::Absolute);
/// assert_eq!(head.version(), Version::Http11);
/// let host = head.host().unwrap();
/// assert_eq!(host.host(), &Host::Ip("2001:db8::1".parse().unwrap()));
/// assert_eq!(host.port(), Some(8080));
/// assert_eq!(head.len(), buf.len() - 4);
///
/// // HTTP/1.1 without Host:
/// assert!(read_request_head(b"GET / HTTP/1.1\r\n\r\n", 1024).is_err());
/// # Ok::<(), sixgate::http::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    method: String,
    target: String,
    form: TargetForm,
    version: Version,
    host: Option<Authority>,
    len: usize,
}

/// The HTTP version of a request (RFC 9112 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// `HTTP/1.0`.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

/// The form of a request target (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetForm {
    /// `/path?query` (§3.2.1).
    Origin,
    /// `http://host:port/path` or `https://…` (§3.2.2); other schemes are
    /// refused.
    Absolute,
    /// `host:port`, for CONNECT only (§3.2.3).
    Authority,
    /// `*`, for OPTIONS only (§3.2.4).
    Asterisk,
}

/// A host and optional port, from a `Host` header or a request target
/// (RFC 3986 §3.2, RFC 9110 §7.2).
///
/// The host is a registered name (validated by [`HostName`]: LDH labels,
/// lower case, one trailing dot stripped), an IPv4 address in dotted-quad
/// form, or an IPv6 address in brackets (zone IDs and IPvFuture refused).
/// The port is 1 to 5 decimal digits up to 65535; an empty port
/// (`example.test:`, allowed by RFC 3986's `port = *DIGIT`) reads as no port.
///
/// ```
/// use sixgate::http::{Authority, Host};
///
/// let a: Authority = "[2001:DB8::1]:8080".parse()?;
/// assert_eq!(a.host(), &Host::Ip("2001:db8::1".parse().unwrap()));
/// assert_eq!(a.port(), Some(8080));
/// assert_eq!(a.to_string(), "[2001:db8::1]:8080");
/// assert_eq!("Example.TEST.".parse::<Authority>()?.to_string(), "example.test");
///
/// assert_eq!("[fe80::1%25eth0]".parse::<Authority>().unwrap_err().kind(), "ipv6_literal");
/// assert_eq!("example.test:65536".parse::<Authority>().unwrap_err().kind(), "port");
/// # Ok::<(), sixgate::http::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Authority {
    host: Host,
    port: Option<u16>,
}

/// The host part of an [`Authority`].
///
/// ```
/// use sixgate::http::Host;
///
/// let h: Host = "WWW.Example.TEST".parse()?;
/// assert_eq!(h.name().map(|n| n.as_str()), Some("www.example.test"));
/// assert_eq!("[::1]".parse::<Host>()?.to_string(), "[::1]");
/// assert!("under_score.test".parse::<Host>().is_err());
/// # Ok::<(), sixgate::http::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A registered name.
    Name(HostName),
    /// An IPv4 address, or an IPv6 address that was written in brackets.
    Ip(IpAddr),
}

/// Why a request head was refused. Each message quotes the offending value,
/// cut to [`MAX_QUOTED`] bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The first byte cannot start a request line (a TLS ClientHello, say).
    #[error("{start:?} does not start an HTTP/1.x request")]
    NotHttp {
        /// The first bytes received.
        start: String,
    },
    /// The request line is not `method SP request-target SP HTTP-version`.
    #[error("request line {line:?} is not METHOD SP TARGET SP HTTP/1.x (RFC 9112 §3)")]
    RequestLine {
        /// The request line.
        line: String,
    },
    /// An HTTP version other than 1.0 and 1.1.
    #[error("HTTP version {version:?} is not supported (only HTTP/1.0 and HTTP/1.1)")]
    Version {
        /// The version as given.
        version: String,
    },
    /// The request target is malformed or not allowed with the method.
    #[error("request target {target:?} refused: {reason} (RFC 9112 §3.2)")]
    Target {
        /// The target as given.
        target: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The head did not end within the limit.
    #[error("the request head did not end within {max} bytes")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// A line ends in LF without CR.
    #[error("bare LF at byte {pos}: HTTP/1.x lines end in CRLF (RFC 9112 §2.2)")]
    BareLf {
        /// Offset of the LF.
        pos: usize,
    },
    /// A CR not followed by LF.
    #[error("bare CR at byte {pos}, not followed by LF (RFC 9112 §2.2)")]
    BareCr {
        /// Offset of the CR.
        pos: usize,
    },
    /// NUL, DEL or another control byte other than HTAB.
    #[error("control byte {byte:#04x} at byte {pos} is not allowed in a request head")]
    BadByte {
        /// The byte.
        byte: u8,
        /// Its offset.
        pos: usize,
    },
    /// A line after the request line starts with SP or HTAB: obs-fold, or
    /// whitespace before the first field.
    #[error("line {line:?} starts with whitespace: obs-fold is refused (RFC 9112 §5.2, §2.2)")]
    ObsFold {
        /// The line.
        line: String,
    },
    /// A field line without a colon.
    #[error("field line {line:?} has no colon (RFC 9112 §5)")]
    FieldLine {
        /// The line.
        line: String,
    },
    /// A field name that is empty or not a token.
    #[error("field name {name:?} is not a token (RFC 9110 §5.1)")]
    FieldName {
        /// The name.
        name: String,
    },
    /// Whitespace between a field name and its colon.
    #[error("whitespace between field name {name:?} and the colon (RFC 9112 §5.1)")]
    SpaceBeforeColon {
        /// The name, with its whitespace.
        name: String,
    },
    /// More than [`MAX_FIELDS`] field lines.
    #[error("more than {max} header fields")]
    TooManyFields {
        /// The limit.
        max: usize,
    },
    /// An HTTP/1.1 request without `Host`.
    #[error("HTTP/1.1 request without a Host header (RFC 9112 §3.2)")]
    MissingHost,
    /// Two `Host` headers.
    #[error("two Host headers, {first:?} and {second:?} (RFC 9112 §3.2)")]
    DuplicateHost {
        /// The first value.
        first: String,
        /// The second value.
        second: String,
    },
    /// An authority without a host (`:80`, `http:///x`, an empty CONNECT
    /// target).
    #[error("{value:?} has an empty host")]
    EmptyHost {
        /// The authority as given.
        value: String,
    },
    /// The host is neither an IP address nor a valid host name.
    #[error("host {value:?} is not a valid host name: {source}")]
    HostName {
        /// The host as given.
        value: String,
        /// What is wrong with it as a name.
        source: NameError,
    },
    /// A bracketed host that is not a plain IPv6 address, or an IPv6
    /// address without brackets.
    #[error(
        "{value:?} is not an IPv6 literal such as [2001:db8::1] \
         (brackets required; zone IDs and IPvFuture are refused)"
    )]
    Ipv6Literal {
        /// The authority as given.
        value: String,
    },
    /// A port that is not 1 to 5 digits up to 65535, or missing where one is
    /// required.
    #[error("port {port:?} in {value:?} is not a number from 0 to 65535")]
    Port {
        /// The authority as given.
        value: String,
        /// The port as given.
        port: String,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs and
    /// metrics to match on; the message itself may be reworded.
    ///
    /// ```
    /// use sixgate::http::read_request_head;
    ///
    /// let err = read_request_head(b"GET / HTTP/1.1\r\nHost : a.test\r\n\r\n", 1024).unwrap_err();
    /// assert_eq!(err.kind(), "space_before_colon");
    /// assert_eq!(read_request_head(b"SSH-2.0-OpenSSH\r\n", 1024).unwrap_err().kind(), "request_line");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotHttp { .. } => "not_http",
            Self::RequestLine { .. } => "request_line",
            Self::Version { .. } => "version",
            Self::Target { .. } => "target",
            Self::TooLarge { .. } => "too_large",
            Self::BareLf { .. } => "bare_lf",
            Self::BareCr { .. } => "bare_cr",
            Self::BadByte { .. } => "bad_byte",
            Self::ObsFold { .. } => "obs_fold",
            Self::FieldLine { .. } => "field_line",
            Self::FieldName { .. } => "field_name",
            Self::SpaceBeforeColon { .. } => "space_before_colon",
            Self::TooManyFields { .. } => "too_many_fields",
            Self::MissingHost => "missing_host",
            Self::DuplicateHost { .. } => "duplicate_host",
            Self::EmptyHost { .. } => "empty_host",
            Self::HostName { .. } => "host_name",
            Self::Ipv6Literal { .. } => "ipv6_literal",
            Self::Port { .. } => "port",
        }
    }
}

/// Reads an HTTP/1.x request head from `buf`, all the bytes received so far
/// on a connection (RFC 9112 §2-§3, §5).
///
/// Returns [`HeadStatus::NeedMore`] while the head has not ended and `buf`
/// is shorter than `max_head`; [`Error::TooLarge`] once `max_head` bytes
/// have arrived without the end of the head. Bytes after the head (a body, a
/// pipelined request) are left alone. Complete lines are checked as they
/// arrive, so junk is refused early: a TLS record fails on its first byte.
///
/// Work is linear in `min(buf.len(), max_head)`; the only allocations are
/// the method, target and host of the result, copied out of the head.
///
/// ```
/// use sixgate::http::{read_request_head, Error, HeadStatus};
///
/// let head = b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n";
/// let HeadStatus::Complete(h) = read_request_head(head, 1024)? else { panic!() };
/// assert_eq!(h.host().unwrap().port(), Some(443));
///
/// assert_eq!(read_request_head(b"GET / HTTP/1.1\r\n", 1024)?, HeadStatus::NeedMore);
/// assert_eq!(read_request_head(b"GET / HTTP/1.1\r\n", 10), Err(Error::TooLarge { max: 10 }));
/// # Ok::<(), sixgate::http::Error>(())
/// ```
pub fn read_request_head(buf: &[u8], max_head: usize) -> Result<HeadStatus, Error> {
    let window = buf.get(..max_head).unwrap_or(buf);
    let mut rest = window;
    let mut line_start = 0usize;
    let mut request: Option<RequestLine> = None;
    let mut host_field: Option<HostField<'_>> = None;
    let mut fields = 0usize;
    loop {
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            check_partial(rest, line_start, request.is_none())?;
            return if buf.len() >= max_head {
                Err(Error::TooLarge { max: max_head })
            } else {
                Ok(HeadStatus::NeedMore)
            };
        };
        let lf_pos = line_start.saturating_add(lf);
        let (with_cr, after) = rest.split_at_checked(lf).unwrap_or((rest, &[]));
        let line = with_cr
            .strip_suffix(b"\r")
            .ok_or(Error::BareLf { pos: lf_pos })?;
        // `after` starts with the LF.
        rest = after.get(1..).unwrap_or_default();
        let next_start = lf_pos.saturating_add(1);
        match request {
            None => {
                if !line.is_empty() {
                    request = Some(parse_request_line(line, line_start)?);
                }
            }
            Some(req) if line.is_empty() => return finish(req, host_field, next_start),
            Some(_) => {
                fields = fields.saturating_add(1);
                if fields > MAX_FIELDS {
                    return Err(Error::TooManyFields { max: MAX_FIELDS });
                }
                parse_field(line, line_start, &mut host_field)?;
            }
        }
        line_start = next_start;
    }
}

impl RequestHead {
    /// The method, a token, case preserved (RFC 9110 §9.1: case-sensitive).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request target as sent.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The form of the request target.
    pub fn form(&self) -> TargetForm {
        self.form
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The host the request is for: the authority of an absolute-form or
    /// authority-form target if there is one (RFC 9112 §3.2.2), else the
    /// `Host` header; `None` for HTTP/1.0 without `Host`, or an empty `Host`.
    pub fn host(&self) -> Option<&Authority> {
        self.host.as_ref()
    }

    /// Bytes of the head, from the first byte of `buf` to the final CRLF CRLF
    /// inclusive; what follows belongs to the body or the next request.
    #[allow(clippy::len_without_is_empty)] // a head is never empty
    pub fn len(&self) -> usize {
        self.len
    }
}

impl Version {
    /// The version as written on the request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Authority {
    /// An authority from its parts.
    pub fn new(host: Host, port: Option<u16>) -> Self {
        Self { host, port }
    }

    /// Parses a `Host` header value or an authority-form target
    /// (`host[:port]`), by the rules on [`Authority`].
    pub fn parse(raw: &[u8]) -> Result<Self, Error> {
        parse_authority(raw, false)
    }

    /// The host.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The port, if one was given.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
}

impl FromStr for Authority {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s.as_bytes())
    }
}

impl fmt::Display for Authority {
    /// `host` or `host:port`, IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

impl Host {
    /// The name, if the host is a name.
    pub fn name(&self) -> Option<&HostName> {
        match self {
            Self::Name(n) => Some(n),
            Self::Ip(_) => None,
        }
    }

    /// The address, if the host is an IP literal.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Self::Name(_) => None,
            Self::Ip(a) => Some(*a),
        }
    }
}

impl FromStr for Host {
    type Err = Error;

    /// A host without a port: a name, dotted-quad IPv4 or bracketed IPv6.
    fn from_str(s: &str) -> Result<Self, Error> {
        let raw = s.as_bytes();
        parse_host(raw, raw)
    }
}

impl fmt::Display for Host {
    /// The name, the IPv4 address, or the IPv6 address in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(n) => f.write_str(n.as_str()),
            Self::Ip(IpAddr::V4(a)) => write!(f, "{a}"),
            Self::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
        }
    }
}

/// The parsed request line.
struct RequestLine {
    method: String,
    target: String,
    form: TargetForm,
    version: Version,
    authority: Option<Authority>,
}

/// The `Host` field seen so far: its raw value and its authority (`None`
/// for an empty value).
type HostField<'a> = (&'a [u8], Option<Authority>);

fn finish(
    req: RequestLine,
    host_field: Option<HostField<'_>>,
    len: usize,
) -> Result<HeadStatus, Error> {
    if req.version == Version::Http11 && host_field.is_none() {
        return Err(Error::MissingHost);
    }
    let host = match req.authority {
        Some(a) => Some(a),
        None => host_field.and_then(|(_, a)| a),
    };
    Ok(HeadStatus::Complete(RequestHead {
        method: req.method,
        target: req.target,
        form: req.form,
        version: req.version,
        host,
        len,
    }))
}

/// Checks the start of a line whose end has not arrived, so junk fails
/// early. A trailing CR may yet be followed by LF.
fn check_partial(partial: &[u8], pos: usize, request_line: bool) -> Result<(), Error> {
    let body = partial.strip_suffix(b"\r").unwrap_or(partial);
    if request_line {
        if let Some(&first) = body.first() {
            if !is_tchar(first) {
                return Err(Error::NotHttp {
                    start: quote(partial),
                });
            }
        }
        check_bytes(body, pos)?;
        let method_end = body.iter().position(|&b| b == b' ').unwrap_or(body.len());
        let method = body.get(..method_end).unwrap_or_default();
        if !method.iter().copied().all(is_tchar) {
            return Err(Error::RequestLine {
                line: quote(partial),
            });
        }
    } else {
        if body.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(Error::ObsFold {
                line: quote(partial),
            });
        }
        check_bytes(body, pos)?;
    }
    Ok(())
}

/// Refuses CR (a CR before LF has been stripped already), and every control
/// byte but HTAB, in a line starting at `pos`.
fn check_bytes(line: &[u8], pos: usize) -> Result<(), Error> {
    for (i, &byte) in line.iter().enumerate() {
        let pos = pos.saturating_add(i);
        if byte == b'\r' {
            return Err(Error::BareCr { pos });
        }
        if (byte < 0x20 && byte != b'\t') || byte == 0x7f {
            return Err(Error::BadByte { byte, pos });
        }
    }
    Ok(())
}

fn parse_request_line(line: &[u8], pos: usize) -> Result<RequestLine, Error> {
    if !line.first().copied().is_some_and(is_tchar) {
        return Err(Error::NotHttp { start: quote(line) });
    }
    check_bytes(line, pos)?;
    let bad_line = || Error::RequestLine { line: quote(line) };
    let mut parts = line.splitn(3, |&b| b == b' ');
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_line());
    };
    if method.is_empty()
        || !method.iter().copied().all(is_tchar)
        || target.is_empty()
        || version.contains(&b' ')
    {
        return Err(bad_line());
    }
    let version = match version {
        b"HTTP/1.1" => Version::Http11,
        b"HTTP/1.0" => Version::Http10,
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            return Err(Error::Version {
                version: quote(version),
            })
        }
        _ => return Err(bad_line()),
    };
    let (form, authority) = parse_target(method, target)?;
    Ok(RequestLine {
        // Both are ASCII by now: tchars, and bytes 0x21-0x7e.
        method: String::from_utf8_lossy(method).into_owned(),
        target: String::from_utf8_lossy(target).into_owned(),
        form,
        version,
        authority,
    })
}

/// Classifies a request target by the method (RFC 9112 §3.2) and returns
/// the authority it names, if any.
fn parse_target(method: &[u8], target: &[u8]) -> Result<(TargetForm, Option<Authority>), Error> {
    let refuse = |reason| Error::Target {
        target: quote(target),
        reason,
    };
    if !target.iter().all(|&b| (0x21..=0x7e).contains(&b)) {
        return Err(refuse("a target is visible ASCII only"));
    }
    if method == b"CONNECT" {
        return Ok((TargetForm::Authority, Some(parse_authority(target, true)?)));
    }
    if target == b"*" {
        return if method == b"OPTIONS" {
            Ok((TargetForm::Asterisk, None))
        } else {
            Err(refuse("'*' is for OPTIONS only"))
        };
    }
    if target.starts_with(b"/") {
        return Ok((TargetForm::Origin, None));
    }
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return Err(refuse("not origin-form, absolute-form or '*'"));
    };
    let (scheme, after) = target.split_at_checked(colon).unwrap_or((target, &[]));
    if !(scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https")) {
        return Err(refuse("only http and https absolute targets are accepted"));
    }
    let Some(hier) = after.strip_prefix(b"://") else {
        return Err(refuse("an http URI needs '//' and an authority"));
    };
    let end = hier
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(hier.len());
    let authority = hier.get(..end).unwrap_or(hier);
    if authority.contains(&b'@') {
        return Err(refuse(
            "userinfo in an http URI is refused (RFC 9110 §4.2.4)",
        ));
    }
    Ok((
        TargetForm::Absolute,
        Some(parse_authority(authority, false)?),
    ))
}

fn parse_field<'a>(
    line: &'a [u8],
    pos: usize,
    host_field: &mut Option<HostField<'a>>,
) -> Result<(), Error> {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(Error::ObsFold { line: quote(line) });
    }
    check_bytes(line, pos)?;
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return Err(Error::FieldLine { line: quote(line) });
    };
    let (name, value) = line.split_at_checked(colon).unwrap_or((line, &[]));
    let value = value.get(1..).unwrap_or_default();
    if name.ends_with(b" ") || name.ends_with(b"\t") {
        return Err(Error::SpaceBeforeColon { name: quote(name) });
    }
    if name.is_empty() || !name.iter().copied().all(is_tchar) {
        return Err(Error::FieldName { name: quote(name) });
    }
    if name.eq_ignore_ascii_case(b"host") {
        let value = trim_ows(value);
        if let Some((first, _)) = host_field {
            return Err(Error::DuplicateHost {
                first: quote(first),
                second: quote(value),
            });
        }
        let authority = if value.is_empty() {
            None
        } else {
            Some(parse_authority(value, false)?)
        };
        *host_field = Some((value, authority));
    }
    Ok(())
}

/// `host[:port]`; `need_port` for CONNECT (RFC 9112 §3.2.3).
fn parse_authority(raw: &[u8], need_port: bool) -> Result<Authority, Error> {
    let (host, port) = if raw.starts_with(b"[") {
        let close = raw
            .iter()
            .position(|&b| b == b']')
            .ok_or_else(|| Error::Ipv6Literal { value: quote(raw) })?;
        let (host, after) = raw
            .split_at_checked(close.saturating_add(1))
            .unwrap_or((raw, &[]));
        let port = match after {
            [] => None,
            [b':', port @ ..] => Some(port),
            _ => return Err(Error::Ipv6Literal { value: quote(raw) }),
        };
        (host, port)
    } else {
        match raw.iter().position(|&b| b == b':') {
            None => (raw, None),
            Some(colon) => {
                let (host, port) = raw.split_at_checked(colon).unwrap_or((raw, &[]));
                let port = port.get(1..).unwrap_or_default();
                if port.contains(&b':') {
                    return Err(Error::Ipv6Literal { value: quote(raw) });
                }
                (host, Some(port))
            }
        }
    };
    let host = parse_host(host, raw)?;
    let port = match port {
        Some(p) if !p.is_empty() => Some(parse_port(p).ok_or_else(|| Error::Port {
            value: quote(raw),
            port: quote(p),
        })?),
        _ if need_port => {
            return Err(Error::Port {
                value: quote(raw),
                port: String::new(),
            })
        }
        _ => None,
    };
    Ok(Authority { host, port })
}

/// The host part of `raw`: bracketed IPv6, dotted-quad IPv4 or a name.
fn parse_host(host: &[u8], raw: &[u8]) -> Result<Host, Error> {
    if host.is_empty() {
        return Err(Error::EmptyHost { value: quote(raw) });
    }
    if let Some(inner) = host.strip_prefix(b"[") {
        let literal = || Error::Ipv6Literal { value: quote(raw) };
        let inner = inner.strip_suffix(b"]").ok_or_else(literal)?;
        // Only hex digits, colons and dots: no zone ID, no IPvFuture.
        if !inner
            .iter()
            .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(literal());
        }
        let addr = std::str::from_utf8(inner)
            .ok()
            .and_then(|s| s.parse::<Ipv6Addr>().ok())
            .ok_or_else(literal)?;
        return Ok(Host::Ip(IpAddr::V6(addr)));
    }
    if let Some(addr) = std::str::from_utf8(host)
        .ok()
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
    {
        return Ok(Host::Ip(IpAddr::V4(addr)));
    }
    if host.contains(&b':') {
        return Err(Error::Ipv6Literal { value: quote(raw) });
    }
    HostName::new(host)
        .map(Host::Name)
        .map_err(|source| Error::HostName {
            value: quote(host),
            source,
        })
}

/// 1 to 5 decimal digits, at most 65535. Leading zeros are allowed: RFC 3986
/// reads a port as decimal digits.
fn parse_port(digits: &[u8]) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    digits.iter().try_fold(0u16, |acc, &b| {
        if !b.is_ascii_digit() {
            return None;
        }
        acc.checked_mul(10)?
            .checked_add(u16::from(b.wrapping_sub(b'0')))
    })
}

/// Strips optional whitespace (SP, HTAB) from both ends (RFC 9110 §5.6.3).
fn trim_ows(v: &[u8]) -> &[u8] {
    let is_ows = |b: &u8| *b == b' ' || *b == b'\t';
    let start = v.iter().position(|b| !is_ows(b)).unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !is_ows(b))
        .map_or(start, |i| i.saturating_add(1));
    v.get(start..end).unwrap_or_default()
}

/// A token character (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// An offending value for a message, cut to [`MAX_QUOTED`] bytes.
fn quote(bytes: &[u8]) -> String {
    match bytes.get(..MAX_QUOTED) {
        Some(head) if head.len() < bytes.len() => {
            format!("{}…", String::from_utf8_lossy(head))
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> RequestHead {
        match read_request_head(buf, DEFAULT_MAX_HEAD) {
            Ok(HeadStatus::Complete(h)) => h,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn kind(buf: &[u8]) -> &'static str {
        match read_request_head(buf, DEFAULT_MAX_HEAD) {
            Err(e) => e.kind(),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    const VALID: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n",
        b"GET /a?b=c HTTP/1.1\r\nUser-Agent: curl/8.5.0\r\nHost: [2001:db8::1]:8080\r\nAccept: */*\r\n\r\n",
        b"GET http://example.test:8080/x HTTP/1.1\r\nHost: other.test\r\n\r\n",
        b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"\r\nGET / HTTP/1.0\r\nX-Empty:\r\n\r\n",
        b"POST /form HTTP/1.1\r\nHost:a.test\r\nContent-Length: 3\r\n\r\n",
    ];

    #[test]
    fn every_truncation_of_a_valid_head_needs_more() {
        for full in VALID {
            let head = complete(full);
            assert_eq!(head.len(), full.len());
            for n in 0..full.len() {
                assert_eq!(
                    read_request_head(&full[..n], DEFAULT_MAX_HEAD),
                    Ok(HeadStatus::NeedMore),
                    "{:?} cut at {n}",
                    String::from_utf8_lossy(full)
                );
            }
            // Bytes after the head are not part of it.
            let mut more = full.to_vec();
            more.extend_from_slice(b"abc\r\n\r\n");
            assert_eq!(complete(&more).len(), full.len());
        }
    }

    #[test]
    fn the_size_limit_is_exact() {
        let full = VALID[1];
        let n = full.len();
        assert_eq!(complete(full).len(), n);
        assert!(matches!(
            read_request_head(full, n),
            Ok(HeadStatus::Complete(_))
        ));
        assert_eq!(
            read_request_head(full, n - 1),
            Err(Error::TooLarge { max: n - 1 })
        );
        assert_eq!(
            read_request_head(&full[..n - 1], n - 1),
            Err(Error::TooLarge { max: n - 1 })
        );
        assert_eq!(
            read_request_head(&full[..n - 2], n - 1),
            Ok(HeadStatus::NeedMore)
        );
        // A huge header without end.
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(DEFAULT_MAX_HEAD + 10, b'a');
        assert_eq!(kind(&big), "too_large");
        assert_eq!(
            read_request_head(&big[..DEFAULT_MAX_HEAD - 1], DEFAULT_MAX_HEAD),
            Ok(HeadStatus::NeedMore)
        );
    }

    #[test]
    fn host_forms() {
        let cases: &[(&[u8], &str, Option<u16>)] = &[
            (b"www.example.test", "www.example.test", None),
            (b"WWW.Example.TEST.:80", "www.example.test", Some(80)),
            (b"[2001:db8::1]:8080", "[2001:db8::1]", Some(8080)),
            (b"[2001:DB8::1]", "[2001:db8::1]", None),
            (b"[::ffff:192.0.2.1]:1", "[::ffff:192.0.2.1]", Some(1)),
            (b"192.0.2.1:0", "192.0.2.1", Some(0)),
            (b"example.test:", "example.test", None),
            (b"example.test:080", "example.test", Some(80)),
            (b"example.test:65535", "example.test", Some(65535)),
            (b"localhost", "localhost", None),
        ];
        for (value, host, port) in cases {
            let mut buf = b"GET / HTTP/1.1\r\nHost: ".to_vec();
            buf.extend_from_slice(value);
            buf.extend_from_slice(b" \r\n\r\n");
            let head = complete(&buf);
            let a = head.host().unwrap();
            assert_eq!(a.host().to_string(), *host, "{buf:?}");
            assert_eq!(a.port(), *port, "{buf:?}");
        }
        let h = complete(b"GET / HTTP/1.1\r\nhOsT: [2001:db8::1]:8080\r\n\r\n");
        assert_eq!(
            h.host(),
            Some(&Authority::new(
                Host::Ip("2001:db8::1".parse().unwrap()),
                Some(8080)
            ))
        );
    }

    #[test]
    fn bad_hosts() {
        let cases: &[(&[u8], &str)] = &[
            (b"[fe80::1%eth0]", "ipv6_literal"),
            (b"[fe80::1%25eth0]:80", "ipv6_literal"),
            (b"[v1.abc]", "ipv6_literal"),
            (b"[2001:db8::1", "ipv6_literal"),
            (b"[2001:db8::1]x", "ipv6_literal"),
            (b"[]", "ipv6_literal"),
            (b"[192.0.2.1]", "ipv6_literal"),
            (b"2001:db8::1", "ipv6_literal"),
            (b"example.test:65536", "port"),
            (b"example.test:123456", "port"),
            (b"example.test:-1", "port"),
            (b"example.test:8o", "port"),
            (b":80", "empty_host"),
            (b"under_score.test", "host_name"),
            (b"a b.test", "host_name"),
            (b"user@example.test", "host_name"),
            (b"192.0.2.256", "host_name"),
            (b"127.1", "host_name"),
            (b"01.2.3.4", "host_name"),
            (b"caf\xc3\xa9.test", "host_name"),
        ];
        for (value, want) in cases {
            let mut buf = b"GET / HTTP/1.1\r\nHost: ".to_vec();
            buf.extend_from_slice(value);
            buf.extend_from_slice(b"\r\n\r\n");
            assert_eq!(kind(&buf), *want, "{:?}", String::from_utf8_lossy(value));
        }
        let e =
            read_request_head(b"GET / HTTP/1.1\r\nHost: a.test:99999\r\n\r\n", 1024).unwrap_err();
        assert_eq!(
            e.to_string(),
            "port \"99999\" in \"a.test:99999\" is not a number from 0 to 65535"
        );
    }

    #[test]
    fn host_rules() {
        assert_eq!(kind(b"GET / HTTP/1.1\r\n\r\n"), "missing_host");
        assert_eq!(
            kind(b"GET http://a.test/ HTTP/1.1\r\n\r\n"),
            "missing_host",
            "absolute-form does not excuse a missing Host in 1.1"
        );
        let e = read_request_head(
            b"GET / HTTP/1.1\r\nHost: a.test\r\nX: y\r\nHOST: a.test\r\n\r\n",
            1024,
        )
        .unwrap_err();
        assert_eq!(
            e,
            Error::DuplicateHost {
                first: "a.test".into(),
                second: "a.test".into()
            }
        );
        assert_eq!(
            kind(b"GET / HTTP/1.0\r\nHost: a.test\r\nHost: b.test\r\n\r\n"),
            "duplicate_host"
        );
        // 1.0 needs none; an empty value is allowed and gives no host.
        assert_eq!(complete(b"GET / HTTP/1.0\r\n\r\n").host(), None);
        let h = complete(b"OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n");
        assert_eq!(h.host(), None);
        assert_eq!(h.form(), TargetForm::Asterisk);
        // Upper case and a trailing dot are normalised.
        let h = complete(b"GET / HTTP/1.1\r\nHost: WWW.EXAMPLE.Test.\r\n\r\n");
        assert_eq!(
            h.host().unwrap().host().name().unwrap().as_str(),
            "www.example.test"
        );
    }

    #[test]
    fn absolute_form_wins_over_host() {
        let h = complete(b"GET http://Example.TEST:8080/x?y HTTP/1.1\r\nHost: other.test\r\n\r\n");
        assert_eq!(h.form(), TargetForm::Absolute);
        assert_eq!(h.host().unwrap().to_string(), "example.test:8080");
        let h = complete(b"GET HTTPS://[2001:db8::2] HTTP/1.1\r\nHost: other.test\r\n\r\n");
        assert_eq!(h.host().unwrap().to_string(), "[2001:db8::2]");
        let h = complete(b"GET http://a.test?q HTTP/1.0\r\n\r\n");
        assert_eq!(h.host().unwrap().to_string(), "a.test");
        // The Host header must still be valid.
        assert_eq!(
            kind(b"GET http://a.test/ HTTP/1.1\r\nHost: bad_name\r\n\r\n"),
            "host_name"
        );
        // CONNECT names its host too, and needs a port.
        let h = complete(b"CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: x.test\r\n\r\n");
        assert_eq!(h.form(), TargetForm::Authority);
        assert_eq!(h.host().unwrap().to_string(), "[2001:db8::1]:443");
        assert_eq!(
            kind(b"CONNECT a.test HTTP/1.1\r\nHost: a.test\r\n\r\n"),
            "port"
        );
        assert_eq!(
            kind(b"CONNECT a.test: HTTP/1.1\r\nHost: a.test\r\n\r\n"),
            "port"
        );
    }

    #[test]
    fn bad_targets() {
        for line in [
            &b"GET * HTTP/1.1"[..],
            b"GET a.test:80 HTTP/1.1",
            b"GET ftp://a.test/ HTTP/1.1",
            b"GET http:/a.test/ HTTP/1.1",
            b"GET http://user@a.test/ HTTP/1.1",
            b"GET relative/path HTTP/1.1",
            b"GET /caf\xc3\xa9 HTTP/1.1",
            b"CONNECT / HTTP/1.1",
        ] {
            let mut buf = line.to_vec();
            buf.extend_from_slice(b"\r\nHost: a.test\r\n\r\n");
            let got = kind(&buf);
            assert!(
                matches!(got, "target" | "empty_host" | "host_name" | "port"),
                "{:?}: {got}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(
            kind(b"GET http:/// HTTP/1.1\r\nHost: a\r\n\r\n"),
            "empty_host"
        );
    }

    #[test]
    fn request_line_is_strict() {
        let cases: &[(&[u8], &str)] = &[
            (b"GET  / HTTP/1.1", "request_line"),
            (b"GET / HTTP/1.1 ", "request_line"),
            (b"GET /  HTTP/1.1", "request_line"),
            (b"GET /", "request_line"),
            (b"GET / http/1.1", "request_line"),
            (b"GET / HTTP/1.1x", "request_line"),
            (b"G(T / HTTP/1.1", "request_line"),
            (b"GET\t/ HTTP/1.1", "request_line"),
            (b" GET / HTTP/1.1", "not_http"),
            (b"GET / HTTP/2.0", "version"),
            (b"GET / HTTP/0.9", "version"),
            (b"PRI * HTTP/2.0", "version"),
        ];
        for (line, want) in cases {
            let mut buf = line.to_vec();
            buf.extend_from_slice(b"\r\nHost: a.test\r\n\r\n");
            assert_eq!(kind(&buf), *want, "{:?}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn field_lines_are_strict() {
        let cases: &[(&[u8], &str)] = &[
            (b"Host : a.test", "space_before_colon"),
            (b"Host\t: a.test", "space_before_colon"),
            (b" folded", "obs_fold"),
            (b"\tfolded", "obs_fold"),
            (b"NoColon", "field_line"),
            (b": empty-name", "field_name"),
            (b"B@d: x", "field_name"),
            (b"X: a\0b", "bad_byte"),
            (b"X: a\x01b", "bad_byte"),
            (b"X: a\x7fb", "bad_byte"),
            (b"X: a\rb", "bare_cr"),
        ];
        for (field, want) in cases {
            let mut buf = b"GET / HTTP/1.1\r\nHost: a.test\r\n".to_vec();
            buf.extend_from_slice(field);
            buf.extend_from_slice(b"\r\n\r\n");
            assert_eq!(kind(&buf), *want, "{:?}", String::from_utf8_lossy(field));
        }
        // obs-fold on the line right after the request line, too.
        assert_eq!(kind(b"GET / HTTP/1.1\r\n Host: a.test\r\n\r\n"), "obs_fold");
        // HTAB, obs-text and inner spaces are fine in a value.
        complete(b"GET / HTTP/1.1\r\nHost: a.test\r\nX: a\tb \xff c\r\n\r\n");
    }

    #[test]
    fn line_endings_and_control_bytes() {
        assert_eq!(
            read_request_head(b"GET / HTTP/1.1\nHost: a.test\r\n\r\n", 1024),
            Err(Error::BareLf { pos: 14 })
        );
        assert_eq!(kind(b"GET / HTTP/1.1\r\nHost: a.test\n\n"), "bare_lf");
        assert_eq!(kind(b"GET / HTTP/1.1\r\nHost: a.test\r\n\n"), "bare_lf");
        assert_eq!(
            read_request_head(b"GET /\0 HTTP/1.1\r\n", 1024),
            Err(Error::BadByte { byte: 0, pos: 5 })
        );
        // Errors come early, before the head ends.
        assert_eq!(
            read_request_head(b"GET / HTTP/1.1\r\nX: \0", 1024),
            Err(Error::BadByte { byte: 0, pos: 19 })
        );
        assert_eq!(kind(b"GET / HTTP/1.1\r\nX: a\rb"), "bare_cr");
        assert_eq!(kind(b"GET / HTTP/1.1\r\n "), "obs_fold");
        assert_eq!(kind(b"GE(T"), "request_line");
        assert_eq!(kind(b"\r\r\n"), "not_http");
        assert_eq!(kind(b"\r\nGET / HTTP/1.1\r\nX: \r\r\n"), "bare_cr");
    }

    #[test]
    fn junk_is_not_http() {
        let tls = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
        for n in 1..=tls.len() {
            assert_eq!(kind(&tls[..n]), "not_http");
        }
        let e = read_request_head(tls, 1024).unwrap_err();
        assert!(e.to_string().contains("\\u{16}\\u{3}\\u{1}"), "{e}");
        assert_eq!(kind(b"\0\0\0\0"), "not_http");
        assert_eq!(kind(b"\xff\xfe"), "not_http");
        assert_eq!(kind(b"SSH-2.0-OpenSSH_9.6\r\n"), "request_line");
    }

    #[test]
    fn field_count_is_bounded() {
        let mut buf = b"GET / HTTP/1.1\r\nHost: a.test\r\n".to_vec();
        for _ in 1..MAX_FIELDS {
            buf.extend_from_slice(b"X: y\r\n");
        }
        let mut ok = buf.clone();
        ok.extend_from_slice(b"\r\n");
        complete(&ok);
        buf.extend_from_slice(b"X: y\r\n\r\n");
        assert_eq!(
            read_request_head(&buf, DEFAULT_MAX_HEAD),
            Err(Error::TooManyFields { max: MAX_FIELDS })
        );
    }

    #[test]
    fn messages_quote_a_bounded_value() {
        let mut buf = b"GET / HTTP/1.1\r\nHost: ".to_vec();
        buf.extend(std::iter::repeat_n(b'_', 1000));
        buf.extend_from_slice(b"\r\n\r\n");
        let e = read_request_head(&buf, DEFAULT_MAX_HEAD).unwrap_err();
        assert_eq!(e.kind(), "host_name");
        assert!(e.to_string().len() < 200, "{e}");
        assert!(e.to_string().contains('…'), "{e}");
    }

    #[test]
    fn authority_round_trips_through_display() {
        for text in [
            "example.test",
            "example.test:1",
            "[2001:db8::1]:8080",
            "[::1]",
            "192.0.2.1:443",
        ] {
            let a: Authority = text.parse().unwrap();
            assert_eq!(a.to_string(), text);
            assert_eq!(a.to_string().parse::<Authority>().unwrap(), a);
        }
        assert_eq!("".parse::<Authority>().unwrap_err().kind(), "empty_host");
        assert_eq!("".parse::<Host>().unwrap_err().kind(), "empty_host");
        assert_eq!(
            "a.test:1".parse::<Host>().unwrap_err().kind(),
            "ipv6_literal"
        );
    }

    /// The result for every prefix of `buf`: once an error, always an error;
    /// once complete, always the same head.
    fn check_prefixes(buf: &[u8], max: usize) {
        let mut seen: Option<Result<HeadStatus, Error>> = None;
        for n in 0..=buf.len() {
            let now = read_request_head(&buf[..n], max);
            match (&seen, &now) {
                (Some(Err(_)), Ok(_)) => panic!("{buf:?}: error then {now:?} at {n}"),
                (Some(Ok(HeadStatus::Complete(a))), _) => {
                    assert_eq!(now, Ok(HeadStatus::Complete(a.clone())), "{buf:?} at {n}")
                }
                _ => {}
            }
            if let Ok(HeadStatus::Complete(h)) = &now {
                assert!(h.len() <= n.min(max));
            }
            seen = Some(now);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            check_prefixes(&bytes, 128);
        }

        #[test]
        fn one_changed_byte_keeps_prefixes_consistent(
            which in 0..VALID.len(), at in proptest::num::usize::ANY, byte in proptest::num::u8::ANY,
        ) {
            let mut buf = VALID[which].to_vec();
            let at = at % buf.len();
            buf[at] = byte;
            check_prefixes(&buf, DEFAULT_MAX_HEAD);
            check_prefixes(&buf, 40);
        }

        #[test]
        fn valid_heads_with_any_host(name in "[a-z][a-z0-9-]{0,10}[a-z]\\.[a-z]{2,5}", port in proptest::option::of(0u16..)) {
            let host = match port { Some(p) => format!("{name}:{p}"), None => name.clone() };
            let buf = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let h = complete(buf.as_bytes());
            proptest::prop_assert_eq!(h.host().unwrap().to_string(), host);
        }
    }
}
