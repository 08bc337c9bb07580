//! The PROXY protocol, versions 1 and 2: the header a proxy puts in front of
//! a forwarded connection to tell the backend who the client was, and that a
//! listener reads when a front load balancer sends it (haproxy
//! `doc/proxy-protocol.txt`, sections 2.1 and 2.2).
//!
//! [`encode`] writes TCP4, TCP6 and UNKNOWN lines (v1) and PROXY and LOCAL
//! headers over AF_INET / AF_INET6 STREAM (v2), without TLVs.
//! [`decode`] reads both versions over a partial buffer: [`Decoded::NeedMore`]
//! while the bytes are a prefix of a valid header, [`Decoded::NotProxy`] when
//! they cannot begin either signature, an [`Error`] as soon as a byte is
//! wrong. v2 TLVs are checked to fit the header exactly and handed back,
//! unread, as [`Tlvs`]; a CRC32C TLV is not verified.
//!
//! An IPv4 client seen on a dual-stack socket as `::ffff:a.b.c.d` is sent as
//! TCP4 with plain IPv4, never as a mapped address: see [`Header::proxy`].
//!
//! ```
//! use sixgate::proxy_protocol::{decode, encode, Decoded, Header, Version};
//!
//! let h = Header::proxy("[::ffff:192.0.2.1]:56324".parse()?, "[::ffff:192.0.2.11]:443".parse()?);
//! let bytes = encode(&h, Version::V1);
//! assert_eq!(bytes, b"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n");
//!
//! let Decoded::Complete { header, len, .. } = decode(&bytes)? else { panic!() };
//! assert_eq!((header, len), (h, bytes.len()));
//! assert!(matches!(decode(&bytes[..10])?, Decoded::NeedMore(_)));
//! assert_eq!(decode(b"GET / HTTP/1.1\r\n")?, Decoded::NotProxy);
//! assert!(decode(b"PROXY TCP4 192.0.2.1 192.0.2.11 56324 0443\r\n").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::codec::Reader;

/// The v2 signature, the first 12 bytes of every v2 header (section 2.2).
pub const V2_SIGNATURE: [u8; 12] = [
    0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
];

/// The longest v1 line, CRLF included (section 2.1).
pub const V1_MAX_LEN: usize = 107;

/// The longest v2 header: 16 bytes and a 16-bit length.
pub const V2_MAX_LEN: usize = 16 + 0xffff;

/// The start of every v1 line.
const V1_PREFIX: &[u8] = b"PROXY ";

/// The shortest header of either version, `PROXY UNKNOWN\r\n`.
const MIN_LEN: usize = 15;

/// v2 command nibbles.
const CMD_LOCAL: u8 = 0x0;
const CMD_PROXY: u8 = 0x1;

/// v2 family/transport bytes written by [`encode`].
const FAM_UNSPEC: u8 = 0x00;
const FAM_TCP4: u8 = 0x11;
const FAM_TCP6: u8 = 0x21;

/// What a PROXY header says about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Header {
    /// v2 LOCAL: the proxy opened the connection itself (a health check);
    /// use the real endpoints.
    Local,
    /// v1 UNKNOWN, or v2 PROXY with an address family or transport this
    /// crate does not carry (AF_UNSPEC, AF_UNIX, UDP): use the real
    /// endpoints.
    Unknown,
    /// A TCP connection relayed for a client: TCP4 when both addresses are
    /// IPv4, TCP6 when both are IPv6.
    Proxy {
        /// The client.
        source: SocketAddr,
        /// The address the client connected to.
        destination: SocketAddr,
    },
}

/// The protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// The text line, `PROXY TCP4 … \r\n`.
    V1,
    /// The binary header.
    V2,
}

/// What [`decode`] found at the start of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// The bytes are a prefix of a valid header; at least this many more are
    /// needed (a lower bound: a v1 line's length is known only at its CRLF).
    NeedMore(usize),
    /// A complete, valid header.
    Complete {
        /// What it says.
        header: Header,
        /// Which version it was.
        version: Version,
        /// Its length in bytes; the connection's own data follows.
        len: usize,
        /// The v2 TLVs after the addresses (empty for v1, LOCAL and
        /// families whose address block is not read).
        tlvs: Tlvs<'a>,
    },
    /// The bytes cannot begin a v1 or v2 header.
    NotProxy,
}

/// The TLVs of a decoded v2 header, checked to fill it exactly; iterating
/// yields each [`Tlv`] in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tlvs<'a>(&'a [u8]);

/// One v2 TLV (section 2.2): a type and a value of up to 65535 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    kind: TlvType,
    value: &'a [u8],
}

/// A v2 TLV type (section 2.2); unknown values are kept as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlvType(pub u8);

impl TlvType {
    /// `PP2_TYPE_ALPN`.
    pub const ALPN: Self = Self(0x01);
    /// `PP2_TYPE_AUTHORITY`: the host name the client asked for (SNI).
    pub const AUTHORITY: Self = Self(0x02);
    /// `PP2_TYPE_CRC32C`.
    pub const CRC32C: Self = Self(0x03);
    /// `PP2_TYPE_NOOP`.
    pub const NOOP: Self = Self(0x04);
    /// `PP2_TYPE_UNIQUE_ID`.
    pub const UNIQUE_ID: Self = Self(0x05);
    /// `PP2_TYPE_SSL`.
    pub const SSL: Self = Self(0x20);
    /// `PP2_TYPE_NETNS`.
    pub const NETNS: Self = Self(0x30);
}

/// Why a PROXY header was refused. Each message quotes the offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No CRLF within the first 107 bytes of a v1 line.
    #[error("PROXY v1 line {line:?} has no CRLF within 107 bytes")]
    V1TooLong {
        /// The start of the line.
        line: String,
    },
    /// A v1 line that does not match the grammar.
    #[error("PROXY v1 line {line:?} refused: {reason}")]
    V1Syntax {
        /// The line, or as much of it as has arrived.
        line: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A v1 address that is not in the family the protocol names.
    #[error("{text:?} is not an {family} address in canonical text, as {proto} requires")]
    V1Address {
        /// The address as given.
        text: String,
        /// `TCP4` or `TCP6`.
        proto: &'static str,
        /// `IPv4` or `IPv6`.
        family: &'static str,
    },
    /// A v1 port that is not 0-65535 in decimal without leading zeros.
    #[error("port {text:?} is not a decimal number from 0 to 65535 without leading zeros")]
    V1Port {
        /// The port as given.
        text: String,
    },
    /// A v2 version nibble other than 2.
    #[error("PROXY v2 version nibble {version:#x} is not 0x2")]
    V2Version {
        /// The version nibble.
        version: u8,
    },
    /// A v2 command other than LOCAL and PROXY.
    #[error("PROXY v2 command {command:#x} is neither LOCAL (0x0) nor PROXY (0x1)")]
    V2Command {
        /// The command nibble.
        command: u8,
    },
    /// A v2 family/transport byte with an unassigned nibble.
    #[error("PROXY v2 family/transport byte {byte:#04x} is invalid (family 0-3, transport 0-2)")]
    V2Family {
        /// The byte.
        byte: u8,
    },
    /// A v2 length too short for the addresses of the family.
    #[error("PROXY v2 length {len} is too short for family/transport {family:#04x}, which needs {need} address bytes")]
    V2AddressLen {
        /// The family/transport byte.
        family: u8,
        /// The length given.
        len: u16,
        /// The address bytes the family needs.
        need: u16,
    },
    /// A v2 TLV that runs past the end of the header.
    #[error("PROXY v2 TLV at byte {offset} of the header runs past its end ({len} bytes)")]
    V2Tlv {
        /// Offset of the TLV from the start of the header.
        offset: usize,
        /// The header's length.
        len: usize,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs and
    /// metrics to match on; the message itself may be reworded.
    ///
    /// ```
    /// use sixgate::proxy_protocol::decode;
    ///
    /// assert_eq!(decode(b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 1\r\n").unwrap_err().kind(), "v1_port");
    /// assert_eq!(decode(b"\r\n\r\n\0\r\nQUIT\n\x31").unwrap_err().kind(), "v2_version");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Self::V1TooLong { .. } => "v1_too_long",
            Self::V1Syntax { .. } => "v1_syntax",
            Self::V1Address { .. } => "v1_address",
            Self::V1Port { .. } => "v1_port",
            Self::V2Version { .. } => "v2_version",
            Self::V2Command { .. } => "v2_command",
            Self::V2Family { .. } => "v2_family",
            Self::V2AddressLen { .. } => "v2_address_len",
            Self::V2Tlv { .. } => "v2_tlv",
        }
    }
}

impl Header {
    /// A [`Header::Proxy`] for a connection from `source` to `destination`,
    /// as a dual-stack socket reports them, with IPv4-mapped addresses
    /// (`::ffff:a.b.c.d`) folded to IPv4 so an IPv4 client is sent as TCP4.
    /// If one address is IPv4 and the other IPv6 after folding, the IPv4 one
    /// is mapped into `::ffff:0:0/96` and the header is TCP6: the protocol has
    /// no mixed form. IPv6 flow labels and scope IDs are dropped (the wire
    /// has no room for them).
    ///
    /// ```
    /// use sixgate::proxy_protocol::Header;
    ///
    /// let h = Header::proxy("[::ffff:192.0.2.1]:1".parse()?, "[::ffff:192.0.2.2]:2".parse()?);
    /// assert_eq!(h, Header::Proxy { source: "192.0.2.1:1".parse()?, destination: "192.0.2.2:2".parse()? });
    ///
    /// // Mixed: the IPv4 side is mapped, not the IPv6 side dropped.
    /// let h = Header::proxy("192.0.2.1:1".parse()?, "[2001:db8::2]:2".parse()?);
    /// assert_eq!(h, Header::Proxy { source: "[::ffff:192.0.2.1]:1".parse()?, destination: "[2001:db8::2]:2".parse()? });
    /// # Ok::<(), std::net::AddrParseError>(())
    /// ```
    pub fn proxy(source: SocketAddr, destination: SocketAddr) -> Self {
        let (source, destination) = fold(source, destination);
        Self::Proxy {
            source,
            destination,
        }
    }
}

/// Writes `header` in `version` (sections 2.1 and 2.2).
///
/// A [`Header::Proxy`] is folded first, as by [`Header::proxy`], so an
/// IPv4-mapped pair is written as TCP4 and a mixed pair as TCP6. v1 has no
/// LOCAL command: [`Header::Local`] is written as `PROXY UNKNOWN\r\n`, which
/// also tells the receiver to use the real endpoints (and decodes as
/// [`Header::Unknown`]). v2 writes UNKNOWN as a PROXY command with family
/// AF_UNSPEC and no addresses. No TLVs are written.
///
/// ```
/// use sixgate::proxy_protocol::{encode, Header, Version};
///
/// let h = Header::proxy("[2001:db8::1]:56324".parse()?, "[2001:db8::2]:443".parse()?);
/// assert_eq!(encode(&h, Version::V1), b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n");
/// assert_eq!(encode(&h, Version::V2).len(), 16 + 36);
/// assert_eq!(encode(&Header::Local, Version::V2)[12..], [0x20, 0x00, 0x00, 0x00]);
/// assert_eq!(encode(&Header::Unknown, Version::V1), b"PROXY UNKNOWN\r\n");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub fn encode(header: &Header, version: Version) -> Vec<u8> {
    match version {
        Version::V1 => encode_v1(header),
        Version::V2 => encode_v2(header),
    }
}

/// Reads a PROXY header of either version from the start of `buf`, all the
/// bytes received so far (sections 2.1, 2.2).
///
/// v1 lines are bounded by 107 bytes and v2 headers by 16 + 65535, and each
/// byte is looked at a bounded number of times: work is linear in
/// `min(buf.len(), 65551)`. Nothing is allocated unless an error message
/// quotes a value.
///
/// ```
/// use sixgate::proxy_protocol::{decode, Decoded, Header, Version};
///
/// let v2 = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c\xc0\x00\x02\x01\xc0\x00\x02\x02\xdc\x04\x01\xbb";
/// let Decoded::Complete { header, version, len, .. } = decode(v2)? else { panic!() };
/// assert_eq!(header, Header::Proxy { source: "192.0.2.1:56324".parse()?, destination: "192.0.2.2:443".parse()? });
/// assert_eq!((version, len), (Version::V2, 28));
///
/// assert_eq!(decode(&v2[..20])?, Decoded::NeedMore(8));
/// assert_eq!(decode(b"\x16\x03\x01")?, Decoded::NotProxy);
/// assert_eq!(decode(b"\r\n\r\n\0\r\nQUIT\n\x22").unwrap_err().kind(), "v2_command");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode(buf: &[u8]) -> Result<Decoded<'_>, Error> {
    if buf.starts_with(&V2_SIGNATURE) {
        return decode_v2(buf);
    }
    if buf.starts_with(V1_PREFIX) {
        return decode_v1(buf);
    }
    if buf.is_empty() {
        return Ok(Decoded::NeedMore(MIN_LEN));
    }
    if V2_SIGNATURE.starts_with(buf) {
        return Ok(Decoded::NeedMore(16usize.saturating_sub(buf.len())));
    }
    if V1_PREFIX.starts_with(buf) {
        return Ok(Decoded::NeedMore(MIN_LEN.saturating_sub(buf.len())));
    }
    Ok(Decoded::NotProxy)
}

impl Tlvs<'_> {
    /// The raw TLV bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> Iterator for Tlvs<'a> {
    type Item = Tlv<'a>;

    fn next(&mut self) -> Option<Tlv<'a>> {
        let mut r = Reader::new(self.0);
        let kind = TlvType(r.u8()?);
        // `decode` checked that every TLV fits; a short read just ends.
        let value = r.sub_u16()?.rest();
        self.0 = r.rest();
        Some(Tlv { kind, value })
    }
}

impl<'a> Tlv<'a> {
    /// The type.
    pub fn kind(&self) -> TlvType {
        self.kind
    }

    /// The value.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }
}

/// Folds IPv4-mapped addresses to IPv4; maps the IPv4 side of a mixed pair.
fn fold(source: SocketAddr, destination: SocketAddr) -> (SocketAddr, SocketAddr) {
    match (unmap(source), unmap(destination)) {
        (s @ SocketAddr::V4(_), d @ SocketAddr::V4(_)) => (s, d),
        (s, d) => (to_v6(s), to_v6(d)),
    }
}

fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::V4(SocketAddrV4::new(v4, a.port())),
            None => SocketAddr::V6(SocketAddrV6::new(*a.ip(), a.port(), 0, 0)),
        },
        v4 => v4,
    }
}

fn to_v6(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(a) => {
            SocketAddr::V6(SocketAddrV6::new(a.ip().to_ipv6_mapped(), a.port(), 0, 0))
        }
        v6 => v6,
    }
}

fn encode_v1(header: &Header) -> Vec<u8> {
    let line = match *header {
        Header::Local | Header::Unknown => "PROXY UNKNOWN\r\n".to_owned(),
        Header::Proxy {
            source,
            destination,
        } => {
            let (s, d) = fold(source, destination);
            let proto = if s.is_ipv4() { "TCP4" } else { "TCP6" };
            format!(
                "PROXY {proto} {} {} {} {}\r\n",
                s.ip(),
                d.ip(),
                s.port(),
                d.port()
            )
        }
    };
    line.into_bytes()
}

fn encode_v2(header: &Header) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + 36);
    out.extend_from_slice(&V2_SIGNATURE);
    match *header {
        Header::Local => out.extend_from_slice(&[0x20 | CMD_LOCAL, FAM_UNSPEC, 0, 0]),
        Header::Unknown => out.extend_from_slice(&[0x20 | CMD_PROXY, FAM_UNSPEC, 0, 0]),
        Header::Proxy {
            source,
            destination,
        } => match fold(source, destination) {
            (SocketAddr::V4(s), SocketAddr::V4(d)) => {
                out.extend_from_slice(&[0x20 | CMD_PROXY, FAM_TCP4, 0, 12]);
                out.extend_from_slice(&s.ip().octets());
                out.extend_from_slice(&d.ip().octets());
                out.extend_from_slice(&s.port().to_be_bytes());
                out.extend_from_slice(&d.port().to_be_bytes());
            }
            (s, d) => {
                out.extend_from_slice(&[0x20 | CMD_PROXY, FAM_TCP6, 0, 36]);
                out.extend_from_slice(&v6_octets(s.ip()));
                out.extend_from_slice(&v6_octets(d.ip()));
                out.extend_from_slice(&s.port().to_be_bytes());
                out.extend_from_slice(&d.port().to_be_bytes());
            }
        },
    }
    out
}

fn v6_octets(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// `buf` starts with `PROXY `.
fn decode_v1(buf: &[u8]) -> Result<Decoded<'_>, Error> {
    let window = buf.get(..V1_MAX_LEN).unwrap_or(buf);
    let rest = window.get(V1_PREFIX.len()..).unwrap_or_default();
    let Some(end) = rest.iter().position(|&b| b == b'\r' || b == b'\n') else {
        check_v1_partial(rest, window)?;
        return if buf.len() >= V1_MAX_LEN {
            Err(Error::V1TooLong {
                line: quote(window),
            })
        } else {
            Ok(Decoded::NeedMore(MIN_LEN.saturating_sub(buf.len()).max(1)))
        };
    };
    let (line, after) = rest.split_at_checked(end).unwrap_or((rest, &[]));
    let syntax = |reason| Error::V1Syntax {
        line: quote(window),
        reason,
    };
    match after {
        [b'\n', ..] => return Err(syntax("the line ends in LF without CR")),
        [b'\r', b'\n', ..] => {}
        [b'\r', _, ..] => return Err(syntax("a CR not followed by LF")),
        _ => {
            // A CR at the end of what has arrived.
            check_v1_partial(line, window)?;
            return if buf.len() >= V1_MAX_LEN {
                Err(Error::V1TooLong {
                    line: quote(window),
                })
            } else {
                Ok(Decoded::NeedMore(1))
            };
        }
    }
    // "PROXY " + line + CRLF, all inside the 107-byte window.
    let len = V1_PREFIX.len().saturating_add(end).saturating_add(2);
    let header = parse_v1_line(line, window)?;
    Ok(Decoded::Complete {
        header,
        version: Version::V1,
        len,
        tlvs: Tlvs::default(),
    })
}

/// The words after `PROXY ` up to the CRLF.
fn parse_v1_line(line: &[u8], whole: &[u8]) -> Result<Header, Error> {
    let syntax = |reason| Error::V1Syntax {
        line: quote(whole),
        reason,
    };
    let mut words = line.split(|&b| b == b' ');
    let proto = words.next().unwrap_or_default();
    if proto != b"UNKNOWN" && line.split(|&b| b == b' ').any(<[u8]>::is_empty) {
        return Err(syntax("an empty field: fields are exactly one space apart"));
    }
    let (proto_name, family) = match proto {
        b"UNKNOWN" => return Ok(Header::Unknown),
        b"TCP4" => ("TCP4", "IPv4"),
        b"TCP6" => ("TCP6", "IPv6"),
        _ => return Err(syntax("the protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    let (Some(src), Some(dst), Some(sport), Some(dport), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return Err(syntax(
            "expected exactly: protocol, two addresses, two ports, one space apart",
        ));
    };
    let addr = |text: &[u8]| -> Result<IpAddr, Error> {
        let bad = || Error::V1Address {
            text: quote(text),
            proto: proto_name,
            family,
        };
        let s = std::str::from_utf8(text).map_err(|_| bad())?;
        if proto_name == "TCP4" {
            s.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| bad())
        } else {
            s.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad())
        }
    };
    let source = SocketAddr::new(addr(src)?, v1_port(sport)?);
    let destination = SocketAddr::new(addr(dst)?, v1_port(dport)?);
    Ok(Header::Proxy {
        source,
        destination,
    })
}

/// Refuses early what no CRLF could make valid: an unknown protocol, a
/// finished word that does not parse, a byte that cannot appear.
fn check_v1_partial(partial: &[u8], whole: &[u8]) -> Result<(), Error> {
    let syntax = |reason| Error::V1Syntax {
        line: quote(whole),
        reason,
    };
    let mut words = partial.split(|&b| b == b' ');
    let proto = words.next().unwrap_or_default();
    let mut words = words.peekable();
    if words.peek().is_none() {
        // The protocol word is still arriving.
        return if [&b"TCP4"[..], b"TCP6", b"UNKNOWN"]
            .iter()
            .any(|p| p.starts_with(proto))
        {
            Ok(())
        } else {
            Err(syntax("the protocol is not TCP4, TCP6 or UNKNOWN"))
        };
    }
    let v4 = match proto {
        b"UNKNOWN" => return Ok(()),
        b"TCP4" => true,
        b"TCP6" => false,
        _ => return Err(syntax("the protocol is not TCP4, TCP6 or UNKNOWN")),
    };
    let mut words = words.enumerate().peekable();
    while let Some((i, word)) = words.next() {
        let last = words.peek().is_none();
        if !last && word.is_empty() {
            return Err(syntax("an empty field: fields are exactly one space apart"));
        }
        if !last {
            // A finished word: it must parse as it will in the full line.
            match i {
                0 | 1 => {
                    let ok = std::str::from_utf8(word).is_ok_and(|s| {
                        if v4 {
                            s.parse::<Ipv4Addr>().is_ok()
                        } else {
                            s.parse::<Ipv6Addr>().is_ok()
                        }
                    });
                    if !ok {
                        return Err(Error::V1Address {
                            text: quote(word),
                            proto: if v4 { "TCP4" } else { "TCP6" },
                            family: if v4 { "IPv4" } else { "IPv6" },
                        });
                    }
                }
                2 => {
                    v1_port(word)?;
                }
                _ => {
                    return Err(syntax(
                        "expected exactly: protocol, two addresses, two ports, one space apart",
                    ))
                }
            }
        } else {
            let ok = match i {
                0 | 1 => {
                    word.len() <= 45
                        && word
                            .iter()
                            .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                }
                2 | 3 => word.len() <= 5 && word.iter().all(u8::is_ascii_digit),
                _ => false,
            };
            if !ok {
                return Err(syntax("a byte that cannot appear in this field"));
            }
        }
    }
    Ok(())
}

/// A v1 port: 1 to 5 digits, no leading zero unless it is `0`, at most 65535.
fn v1_port(text: &[u8]) -> Result<u16, Error> {
    let bad = || Error::V1Port { text: quote(text) };
    if text.is_empty() || text.len() > 5 || (text.len() > 1 && text.starts_with(b"0")) {
        return Err(bad());
    }
    text.iter()
        .try_fold(0u16, |acc, &b| {
            if !b.is_ascii_digit() {
                return None;
            }
            acc.checked_mul(10)?
                .checked_add(u16::from(b.wrapping_sub(b'0')))
        })
        .ok_or_else(bad)
}

/// `buf` starts with the v2 signature.
fn decode_v2(buf: &[u8]) -> Result<Decoded<'_>, Error> {
    let need = |total: usize| Ok(Decoded::NeedMore(total.saturating_sub(buf.len()).max(1)));
    let mut r = Reader::new(buf);
    let _signature = r.take(V2_SIGNATURE.len());
    let Some(ver_cmd) = r.u8() else {
        return need(16);
    };
    let version = ver_cmd >> 4;
    if version != 0x2 {
        return Err(Error::V2Version { version });
    }
    let command = ver_cmd & 0x0f;
    if command != CMD_LOCAL && command != CMD_PROXY {
        return Err(Error::V2Command { command });
    }
    let Some(fam) = r.u8() else {
        return need(16);
    };
    // LOCAL ignores the family (section 2.2); PROXY must name a valid one.
    let addr_len: u16 = match (command, fam >> 4, fam & 0x0f) {
        (CMD_LOCAL, _, _) => 0,
        (_, family, transport) if family > 0x3 || transport > 0x2 => {
            return Err(Error::V2Family { byte: fam })
        }
        (_, 0x1, 0x1 | 0x2) => 12,
        (_, 0x2, 0x1 | 0x2) => 36,
        (_, 0x3, 0x1 | 0x2) => 216,
        // AF_UNSPEC or transport UNSPEC: the block is not read.
        _ => 0,
    };
    let Some(len) = r.u16() else {
        return need(16);
    };
    if len < addr_len {
        return Err(Error::V2AddressLen {
            family: fam,
            len,
            need: addr_len,
        });
    }
    let total = 16usize.saturating_add(usize::from(len));
    let Some(mut block) = r.sub(usize::from(len)) else {
        return need(total);
    };
    let complete = |header, tlvs| {
        Ok(Decoded::Complete {
            header,
            version: Version::V2,
            len: total,
            tlvs,
        })
    };
    if command == CMD_LOCAL {
        return complete(Header::Local, Tlvs::default());
    }
    let header = match fam {
        FAM_TCP4 | FAM_TCP6 => {
            let pair = if fam == FAM_TCP4 {
                socket_pair::<4>(&mut block)
            } else {
                socket_pair::<16>(&mut block)
            };
            let Some((source, destination)) = pair else {
                return Err(Error::V2AddressLen {
                    family: fam,
                    len,
                    need: addr_len,
                });
            };
            Header::Proxy {
                source,
                destination,
            }
        }
        _ if addr_len == 0 => return complete(Header::Unknown, Tlvs::default()),
        _ => {
            // UDP or AF_UNIX: skip the addresses, keep the TLVs.
            let _addresses = block.take(usize::from(addr_len));
            Header::Unknown
        }
    };
    let tlv_bytes = block.rest();
    check_tlvs(
        tlv_bytes,
        16usize.saturating_add(usize::from(addr_len)),
        total,
    )?;
    complete(header, Tlvs(tlv_bytes))
}

/// Checks that `bytes` is a sequence of whole TLVs; `offset` is where it
/// starts in the header, `total` the header's length (for messages).
fn check_tlvs(bytes: &[u8], offset: usize, total: usize) -> Result<(), Error> {
    let mut r = Reader::new(bytes);
    while !r.is_empty() {
        let at = offset.saturating_add(bytes.len().saturating_sub(r.remaining()));
        let ok = r.u8().is_some() && r.sub_u16().is_some();
        if !ok {
            return Err(Error::V2Tlv {
                offset: at,
                len: total,
            });
        }
    }
    Ok(())
}

/// A value for a message: lossy UTF-8 of a bounded slice (every caller
/// passes at most 107 bytes).
fn quote(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A v2 address block's source and destination: two `N`-byte addresses,
/// then two ports.
fn socket_pair<const N: usize>(block: &mut Reader<'_>) -> Option<(SocketAddr, SocketAddr)>
where
    IpAddr: From<[u8; N]>,
{
    let source = block.array::<N>()?;
    let destination = block.array::<N>()?;
    let (sp, dp) = (block.u16()?, block.u16()?);
    Some((
        SocketAddr::new(IpAddr::from(source), sp),
        SocketAddr::new(IpAddr::from(destination), dp),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn complete(buf: &[u8]) -> (Header, Version, usize, Vec<(u8, Vec<u8>)>) {
        match decode(buf) {
            Ok(Decoded::Complete {
                header,
                version,
                len,
                tlvs,
            }) => (
                header,
                version,
                len,
                tlvs.map(|t| (t.kind().0, t.value().to_vec())).collect(),
            ),
            other => panic!("{buf:?}: {other:?}"),
        }
    }

    fn kind(buf: &[u8]) -> &'static str {
        match decode(buf) {
            Err(e) => e.kind(),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(buf)),
        }
    }

    fn v2(ver_cmd: u8, fam: u8, block: &[u8]) -> Vec<u8> {
        let mut out = V2_SIGNATURE.to_vec();
        out.push(ver_cmd);
        out.push(fam);
        out.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
        out.extend_from_slice(block);
        out
    }

    fn headers() -> Vec<Header> {
        vec![
            Header::proxy(sa("192.0.2.1:56324"), sa("192.0.2.11:443")),
            Header::proxy(sa("[2001:db8::1]:56324"), sa("[2001:db8::2]:443")),
            Header::proxy(sa("0.0.0.0:0"), sa("255.255.255.255:65535")),
            Header::proxy(
                sa("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"),
                sa("[::]:0"),
            ),
            Header::Local,
            Header::Unknown,
        ]
    }

    /// Every valid encoding, v1 UNKNOWN with and without the rest, and v2
    /// with TLVs, UDP and AF_UNIX blocks.
    fn valid() -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        for h in headers() {
            all.push(encode(&h, Version::V1));
            all.push(encode(&h, Version::V2));
        }
        all.push(
            b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
                .to_vec(),
        );
        let mut block = vec![192, 0, 2, 1, 192, 0, 2, 2, 0, 80, 1, 187];
        block.extend_from_slice(&[0x02, 0x00, 0x0c]);
        block.extend_from_slice(b"example.test");
        block.extend_from_slice(&[0x04, 0x00, 0x00]);
        all.push(v2(0x21, 0x11, &block));
        all.push(v2(0x21, 0x12, &block));
        all.push(v2(0x21, 0x31, &[0u8; 216]));
        all.push(v2(0x20, 0x21, &[7u8; 40]));
        all.push(v2(0x21, 0x00, &[1, 2, 3]));
        all
    }

    #[test]
    fn every_prefix_of_a_valid_header_needs_more() {
        for full in valid() {
            let (_, _, len, _) = complete(&full);
            assert_eq!(len, full.len());
            for n in 0..full.len() {
                match decode(&full[..n]) {
                    Ok(Decoded::NeedMore(k)) => {
                        assert!(k >= 1 && k <= full.len() - n, "{full:?} at {n}: {k}")
                    }
                    other => panic!("{:?} cut at {n}: {other:?}", String::from_utf8_lossy(&full)),
                }
            }
            // What follows the header is not part of it.
            let mut more = full.clone();
            more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
            assert_eq!(complete(&more).2, full.len());
        }
    }

    #[test]
    fn v2_need_more_is_exact_once_the_length_is_known() {
        let full = encode(&headers()[1], Version::V2);
        for n in 16..full.len() {
            assert_eq!(decode(&full[..n]), Ok(Decoded::NeedMore(full.len() - n)));
        }
        assert_eq!(decode(&full[..5]), Ok(Decoded::NeedMore(11)));
    }

    #[test]
    fn round_trips() {
        for h in headers() {
            for version in [Version::V1, Version::V2] {
                let bytes = encode(&h, version);
                let (got, v, len, tlvs) = complete(&bytes);
                let want = if (h, version) == (Header::Local, Version::V1) {
                    Header::Unknown
                } else {
                    h
                };
                assert_eq!((got, v, len), (want, version, bytes.len()), "{h:?}");
                assert!(tlvs.is_empty());
                assert!(
                    len <= if version == Version::V1 {
                        V1_MAX_LEN
                    } else {
                        V2_MAX_LEN
                    }
                );
            }
        }
    }

    #[test]
    fn spec_examples() {
        assert_eq!(
            complete(b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /").0,
            Header::Proxy {
                source: sa("192.168.0.1:56324"),
                destination: sa("192.168.0.11:443")
            }
        );
        assert_eq!(complete(b"PROXY UNKNOWN\r\n").0, Header::Unknown);
        // The worst case is exactly 107 bytes.
        let worst = b"PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
        assert_eq!(worst.len(), V1_MAX_LEN);
        assert_eq!(complete(worst).2, 107);
        // haproxy's own capture (README of seriousben/experiment-proxy-protocol).
        let cap = [
            0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a, 0x21, 0x11,
            0x00, 0x0c, 0xac, 0x13, 0x00, 0x01, 0xac, 0x13, 0x00, 0x03, 0xa6, 0x52, 0x00, 0x50,
        ];
        assert_eq!(
            complete(&cap).0,
            Header::Proxy {
                source: sa("172.19.0.1:42578"),
                destination: sa("172.19.0.3:80")
            }
        );
    }

    #[test]
    fn v4_mapped_addresses_fold() {
        let h = Header::proxy(sa("[::ffff:192.0.2.1]:1000"), sa("[::ffff:192.0.2.2]:80"));
        assert_eq!(
            h,
            Header::Proxy {
                source: sa("192.0.2.1:1000"),
                destination: sa("192.0.2.2:80")
            }
        );
        assert_eq!(
            encode(&h, Version::V1),
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n"
        );
        assert_eq!(encode(&h, Version::V2)[13], FAM_TCP4);
        // One mapped side and one plain IPv4 side: TCP4.
        let h = Header::proxy(sa("[::ffff:192.0.2.1]:1000"), sa("192.0.2.2:80"));
        assert_eq!(
            encode(&h, Version::V1),
            b"PROXY TCP4 192.0.2.1 192.0.2.2 1000 80\r\n"
        );
        // Mixed families: the IPv4 side is mapped and the header is TCP6.
        let h = Header::proxy(sa("[::ffff:192.0.2.1]:1000"), sa("[2001:db8::2]:80"));
        assert_eq!(
            encode(&h, Version::V1),
            b"PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1000 80\r\n"
        );
        assert_eq!(complete(&encode(&h, Version::V2)).0, h);
        // A hand-built header is folded by encode too.
        let raw = Header::Proxy {
            source: sa("[::ffff:198.51.100.7]:1"),
            destination: sa("[::ffff:203.0.113.9]:2"),
        };
        assert_eq!(
            encode(&raw, Version::V1),
            b"PROXY TCP4 198.51.100.7 203.0.113.9 1 2\r\n"
        );
        assert_eq!(
            encode(&raw, Version::V2),
            encode(
                &Header::proxy(sa("198.51.100.7:1"), sa("203.0.113.9:2")),
                Version::V2
            )
        );
        // Scope IDs are dropped, so the round trip is exact.
        let h = Header::proxy(sa("[fe80::1%2]:1"), sa("[fe80::2]:2"));
        assert_eq!(complete(&encode(&h, Version::V2)).0, h);
        // ::a.b.c.d (deprecated "compatible") is not mapped: left as IPv6.
        let h = Header::proxy(sa("[::192.0.2.1]:1"), sa("[::1]:2"));
        assert!(matches!(
            h,
            Header::Proxy {
                source: SocketAddr::V6(_),
                ..
            }
        ));
    }

    #[test]
    fn not_proxy() {
        for buf in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"\x16\x03\x01\x02\x00",
            b"SSH-2.0-OpenSSH\r\n",
            b"proxy TCP4",
            b"PROXYTCP4",
            b"PROXY\tTCP4",
            b"\r\n\r\n\x01",
            b"\n",
        ] {
            assert_eq!(decode(buf), Ok(Decoded::NotProxy), "{buf:?}");
        }
        // Each signature byte corrupted.
        for full in [
            encode(&headers()[0], Version::V2),
            encode(&headers()[0], Version::V1),
        ] {
            let sig_len = if full.starts_with(b"P") { 6 } else { 12 };
            for i in 0..sig_len {
                let mut bad = full.clone();
                bad[i] ^= 0x40;
                assert_eq!(decode(&bad), Ok(Decoded::NotProxy), "byte {i} of {full:?}");
                assert_eq!(
                    decode(&bad[..=i]),
                    Ok(Decoded::NotProxy),
                    "byte {i} of {full:?}"
                );
            }
        }
        assert_eq!(decode(b""), Ok(Decoded::NeedMore(MIN_LEN)));
    }

    #[test]
    fn v1_malformations() {
        let cases: &[(&[u8], &str)] = &[
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\n", "v1_syntax"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2\rX", "v1_syntax"),
            (b"PROXY TCP4  192.0.2.1 192.0.2.2 1 2\r\n", "v1_syntax"),
            (b"PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n", "v1_syntax"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2  1 2\r\n", "v1_syntax"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 1  2\r\n", "v1_syntax"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2 \r\n", "v1_syntax"),
            (b"PROXY  TCP4 192.0.2.1 192.0.2.2 1 2\r\n", "v1_syntax"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n", "v1_syntax"),
            (b"PROXY TCP4\r\n", "v1_syntax"),
            (b"PROXY TCP5 192.0.2.1 192.0.2.2 1 2\r\n", "v1_syntax"),
            (b"PROXY tcp4 192.0.2.1 192.0.2.2 1 2\r\n", "v1_syntax"),
            (b"PROXY UNKNOWNX\r\n", "v1_syntax"),
            (b"PROXY \r\n", "v1_syntax"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 2\r\n", "v1_port"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 080 2\r\n", "v1_port"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 00 2\r\n", "v1_port"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 +2\r\n", "v1_port"),
            (b"PROXY TCP4 192.0.2.1 192.0.2.2 1 123456\r\n", "v1_port"),
            (b"PROXY TCP4 2001:db8::1 192.0.2.2 1 2\r\n", "v1_address"),
            (b"PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n", "v1_address"),
            (b"PROXY TCP4 192.0.2.01 192.0.2.2 1 2\r\n", "v1_address"),
            (b"PROXY TCP4 192.0.2 192.0.2.2 1 2\r\n", "v1_address"),
            (
                b"PROXY TCP6 [2001:db8::1] 2001:db8::2 1 2\r\n",
                "v1_address",
            ),
            (b"PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n", "v1_address"),
        ];
        for (buf, want) in cases {
            assert_eq!(kind(buf), *want, "{:?}", String::from_utf8_lossy(buf));
        }
        // 0 is a port; a leading zero is not.
        assert_eq!(
            complete(b"PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n").0,
            Header::proxy(sa("0.0.0.0:0"), sa("0.0.0.0:0"))
        );
        let e = decode(b"PROXY TCP4 192.0.2.1 192.0.2.2 080 2\r\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "port \"080\" is not a decimal number from 0 to 65535 without leading zeros"
        );
    }

    #[test]
    fn v1_errors_come_early_and_the_line_is_bounded() {
        // Refused before the CRLF arrives.
        assert_eq!(kind(b"PROXY TCP5"), "v1_syntax");
        assert_eq!(kind(b"PROXY X"), "v1_syntax");
        assert_eq!(kind(b"PROXY TCP4 1.2.3.999 "), "v1_address");
        assert_eq!(kind(b"PROXY TCP4 1.2.3.4 1.2.3.4 99999 "), "v1_port");
        assert_eq!(kind(b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2 "), "v1_syntax");
        assert_eq!(kind(b"PROXY TCP4 1.2.3.4 1.2.3.4 1 2x"), "v1_syntax");
        assert_eq!(kind(b"PROXY TCP4 1.2.3.4\0"), "v1_syntax");
        // UNKNOWN ignores the rest, but not forever.
        let mut long = b"PROXY UNKNOWN ".to_vec();
        long.resize(V1_MAX_LEN - 1, b'x');
        assert_eq!(decode(&long), Ok(Decoded::NeedMore(1)));
        long.push(b'\r');
        assert_eq!(kind(&long), "v1_too_long");
        long.pop();
        long.extend_from_slice(b"x\r\n");
        assert_eq!(kind(&long), "v1_too_long");
        let mut ok = b"PROXY UNKNOWN ".to_vec();
        ok.resize(V1_MAX_LEN - 2, b'x');
        ok.extend_from_slice(b"\r\n");
        assert_eq!(complete(&ok).2, V1_MAX_LEN);
        // Missing CRLF: more is needed until 107 bytes.
        let line = b"PROXY TCP4 192.0.2.1 192.0.2.2 1 2";
        assert!(matches!(decode(line), Ok(Decoded::NeedMore(_))));
    }

    #[test]
    fn v2_malformations() {
        let good = encode(&headers()[0], Version::V2);
        let corrupt = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            b
        };
        // Version nibble.
        for v in [0x01, 0x11, 0x31, 0xf1] {
            assert_eq!(
                decode(&corrupt(12, v)),
                Err(Error::V2Version { version: v >> 4 })
            );
            assert_eq!(kind(&corrupt(12, v)[..13]), "v2_version", "early");
        }
        // Command nibble.
        for v in [0x22, 0x2f] {
            assert_eq!(
                decode(&corrupt(12, v)),
                Err(Error::V2Command { command: v & 0xf })
            );
        }
        // Family / transport nibbles.
        for v in [0x41, 0x13, 0xf1, 0x1f] {
            assert_eq!(decode(&corrupt(13, v)), Err(Error::V2Family { byte: v }));
            assert_eq!(kind(&corrupt(13, v)[..14]), "v2_family", "early");
        }
        // LOCAL ignores the family.
        assert_eq!(complete(&v2(0x20, 0xff, &[])).0, Header::Local);
        // Length too short for the family, refused as soon as the length is read.
        for (fam, need) in [
            (0x11u8, 12u16),
            (0x12, 12),
            (0x21, 36),
            (0x22, 36),
            (0x31, 216),
        ] {
            let b = v2(0x21, fam, &vec![0u8; usize::from(need) - 1]);
            assert_eq!(
                decode(&b[..16]),
                Err(Error::V2AddressLen {
                    family: fam,
                    len: need - 1,
                    need
                })
            );
            assert_eq!(kind(&b), "v2_address_len");
        }
        // A TCP6 block declared as TCP4-sized.
        let mut b = encode(&headers()[1], Version::V2);
        b[15] = 12;
        assert_eq!(kind(&b), "v2_address_len");
        // Each length byte changed: longer needs more, shorter leaves a
        // broken TLV or too few address bytes.
        let mut b = good.clone();
        b[15] = 13;
        assert_eq!(decode(&b), Ok(Decoded::NeedMore(1)));
        b.push(0x04);
        assert_eq!(
            decode(&b),
            Err(Error::V2Tlv {
                offset: 28,
                len: 29
            })
        );
        let mut b = good.clone();
        b[14] = 1;
        assert_eq!(decode(&b), Ok(Decoded::NeedMore(256)));
        b[15] = 11;
        b[14] = 0;
        assert_eq!(kind(&b), "v2_address_len");
        // The largest length is bounded by u16.
        let mut b = v2(0x21, 0x00, &[]);
        b[14] = 0xff;
        b[15] = 0xff;
        assert_eq!(decode(&b), Ok(Decoded::NeedMore(0xffff)));
        b.resize(V2_MAX_LEN, 0);
        assert_eq!(complete(&b).2, V2_MAX_LEN);
    }

    #[test]
    fn v2_tlvs_are_checked_and_returned() {
        let addrs = [192, 0, 2, 1, 192, 0, 2, 2, 0, 80, 1, 187];
        let mut block = addrs.to_vec();
        block.extend_from_slice(&[0x02, 0x00, 0x0c]);
        block.extend_from_slice(b"example.test");
        block.extend_from_slice(&[0x04, 0x00, 0x00]);
        let (_, _, _, tlvs) = complete(&v2(0x21, 0x11, &block));
        assert_eq!(
            tlvs,
            vec![(0x02, b"example.test".to_vec()), (0x04, Vec::new())]
        );
        assert_eq!(TlvType(0x02), TlvType::AUTHORITY);
        // A TLV length past the end, or a TLV header cut short.
        for tail in [&[0x02u8, 0x00, 0x0d][..], &[0x02, 0x00], &[0x02]] {
            let mut block = addrs.to_vec();
            block.extend_from_slice(tail);
            block.extend_from_slice(if tail.len() == 3 {
                b"example.test"
            } else {
                b""
            });
            assert_eq!(kind(&v2(0x21, 0x11, &block)), "v2_tlv", "{tail:?}");
        }
        // LOCAL and AF_UNSPEC do not read their blocks.
        assert!(complete(&v2(0x20, 0x11, &[0xff])).3.is_empty());
        assert!(complete(&v2(0x21, 0x00, &[0xff])).3.is_empty());
    }

    /// Every prefix of `buf`: once an error or NotProxy, always the same
    /// kind of answer; once complete, always the same header.
    fn check_prefixes(buf: &[u8]) {
        let mut seen: Option<Result<Decoded<'_>, Error>> = None;
        for n in 0..=buf.len() {
            let now = decode(&buf[..n]);
            match (&seen, &now) {
                (Some(Err(_)), Err(_)) | (Some(Ok(Decoded::NotProxy)), Ok(Decoded::NotProxy)) => {}
                (Some(Err(_) | Ok(Decoded::NotProxy)), _) => {
                    panic!("{buf:?}: {seen:?} then {now:?} at {n}")
                }
                (Some(Ok(Decoded::Complete { .. })), _) => {
                    assert_eq!(&now, seen.as_ref().unwrap(), "{buf:?} at {n}")
                }
                _ => {}
            }
            if let Ok(Decoded::Complete { len, .. }) = &now {
                assert!(*len <= n);
            }
            seen = Some(now);
        }
    }

    proptest::proptest! {
        #[test]
        fn one_changed_byte_keeps_prefixes_consistent(
            which in 0usize..100, at in proptest::num::usize::ANY, byte in proptest::num::u8::ANY,
        ) {
            let all = valid();
            let mut buf = all[which % all.len()].clone();
            let at = at % buf.len();
            buf[at] = byte;
            check_prefixes(&buf);
        }


        #[test]
        fn encode_decode_round_trip(
            s in proptest::num::u128::ANY, d in proptest::num::u128::ANY,
            sp in proptest::num::u16::ANY, dp in proptest::num::u16::ANY,
            v4 in proptest::bool::ANY, v1 in proptest::bool::ANY,
        ) {
            let (source, destination) = if v4 {
                (SocketAddr::from((Ipv4Addr::from(s as u32), sp)), SocketAddr::from((Ipv4Addr::from(d as u32), dp)))
            } else {
                (SocketAddr::from((Ipv6Addr::from(s), sp)), SocketAddr::from((Ipv6Addr::from(d), dp)))
            };
            let h = Header::proxy(source, destination);
            let version = if v1 { Version::V1 } else { Version::V2 };
            let bytes = encode(&h, version);
            let (got, v, len, _) = complete(&bytes);
            proptest::prop_assert_eq!((got, v, len), (h, version, bytes.len()));
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..300), sig in 0u8..3) {
            let mut buf = match sig { 0 => V2_SIGNATURE.to_vec(), 1 => V1_PREFIX.to_vec(), _ => Vec::new() };
            buf.extend_from_slice(&bytes);
            for n in 0..=buf.len() {
                if let Ok(Decoded::Complete { len, .. }) = decode(&buf[..n]) {
                    proptest::prop_assert!(len <= n);
                }
            }
        }
    }
}
