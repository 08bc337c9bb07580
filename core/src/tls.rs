//! The TLS ClientHello reader: what an SNI proxy needs to route a connection
//! without terminating TLS — the server name (RFC 6066 §3), the ALPN list
//! (RFC 7301 §3.1), the legacy and supported versions (RFC 8446 §4.1.2,
//! §4.2.1) and whether Encrypted Client Hello is offered.
//!
//! [`read_client_hello`] is given every byte received so far and answers
//! [`Status::NeedMore`], [`Status::Complete`] or [`Status::NotTls`]. It
//! reassembles a hello that spans several records (RFC 8446 §5.1), checks
//! every nested length against its parent, copies only bytes that are
//! present, and refuses a hello declared longer than [`MAX_HELLO_LEN`].
//!
//! ```
//! use sixgate::tls::{read_client_hello, ServerName, Status};
//!
//! // A small TLS 1.2 hello offering one cipher suite and the name "A.Test".
//! let mut hello = vec![0x16, 0x03, 0x01, 0x00, 0x3e, 0x01, 0x00, 0x00, 0x3a, 0x03, 0x03];
//! hello.extend([0u8; 32]); // random
//! hello.extend([0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]); // session id, suites, compression
//! hello.extend([0x00, 0x0f, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x09, 0x00, 0x00, 0x06]);
//! hello.extend(b"A.Test");
//!
//! // Half of it: the reader says how much more it needs at least.
//! assert_eq!(read_client_hello(&hello[..30])?, Status::NeedMore(37));
//! let Status::Complete(ch) = read_client_hello(&hello)? else { panic!() };
//! assert_eq!(ch.server_name().host_name().map(|n| n.as_str()), Some("a.test"));
//! assert_eq!(ch.len(), hello.len());
//!
//! // Plain HTTP is not TLS: the caller may try another reader.
//! assert_eq!(read_client_hello(b"GET / HTTP/1.1\r\n")?, Status::NotTls);
//! // A hello declaring 16 MiB is refused from its first 9 bytes.
//! let err = read_client_hello(&[0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff]).unwrap_err();
//! assert_eq!(err.kind(), "too_large");
//! # Ok::<(), sixgate::tls::Error>(())
//! ```

use std::fmt;
use std::net::IpAddr;

use crate::codec::Reader;
use crate::name::{HostName, NameError};

/// The longest ClientHello accepted, in bytes of handshake message body. A
/// real hello is well under 2 KiB, or a few KiB with post-quantum key shares;
/// a longer declared length is refused before its bytes arrive.
pub const MAX_HELLO_LEN: usize = 64 * 1024;

/// The longest record fragment allowed, 2^14 bytes (RFC 8446 §5.1).
pub const MAX_RECORD_LEN: usize = 1 << 14;

/// The length of a TLS record header: type, version, length.
const RECORD_HEADER_LEN: usize = 5;

/// The length of a handshake message header: type and 24-bit length.
const HANDSHAKE_HEADER_LEN: usize = 4;

/// ContentType `handshake` (RFC 8446 §5.1).
const CONTENT_HANDSHAKE: u8 = 0x16;

/// HandshakeType `client_hello` (RFC 8446 §4).
const CLIENT_HELLO: u8 = 0x01;

/// HostName `name_type` in a ServerNameList (RFC 6066 §3).
const NAME_TYPE_HOST_NAME: u8 = 0x00;

/// What [`read_client_hello`] made of the bytes received so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// The bytes so far are a valid beginning; at least this many more are
    /// needed (always at least 1). Call again when they have arrived.
    NeedMore(usize),
    /// A whole ClientHello was read.
    Complete(ClientHello),
    /// The first bytes are not a TLS handshake record (the first byte is not
    /// 22, or the record version's major byte is not 3): perhaps plain HTTP.
    NotTls,
}

/// A TLS protocol version (RFC 8446 §4.1.2, §4.2.1). An open newtype: values
/// not named here (GREASE, drafts) round-trip unchanged.
///
/// ```
/// use sixgate::tls::ProtocolVersion;
///
/// assert_eq!(format!("{:?}", ProtocolVersion::TLS1_3), "TLS1_3");
/// assert_eq!(ProtocolVersion::TLS1_2.to_string(), "TLS 1.2");
/// assert_eq!(format!("{:?}", ProtocolVersion(0x7a7a)), "ProtocolVersion(0x7a7a)");
/// assert!(ProtocolVersion::TLS1_3 > ProtocolVersion::TLS1_2);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    /// SSL 3.0 (RFC 6101), seen only as a record version.
    pub const SSL3: Self = Self(0x0300);
    /// TLS 1.0 (RFC 2246).
    pub const TLS1_0: Self = Self(0x0301);
    /// TLS 1.1 (RFC 4346).
    pub const TLS1_1: Self = Self(0x0302);
    /// TLS 1.2 (RFC 5246).
    pub const TLS1_2: Self = Self(0x0303);
    /// TLS 1.3 (RFC 8446).
    pub const TLS1_3: Self = Self(0x0304);

    /// The constant's name, for the versions named here.
    fn name(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Self::SSL3 => ("SSL3", "SSL 3.0"),
            Self::TLS1_0 => ("TLS1_0", "TLS 1.0"),
            Self::TLS1_1 => ("TLS1_1", "TLS 1.1"),
            Self::TLS1_2 => ("TLS1_2", "TLS 1.2"),
            Self::TLS1_3 => ("TLS1_3", "TLS 1.3"),
            _ => return None,
        })
    }
}

impl fmt::Debug for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some((name, _)) => f.write_str(name),
            None => write!(f, "ProtocolVersion({:#06x})", self.0),
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some((_, text)) => f.write_str(text),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

/// A TLS extension type (IANA "TLS ExtensionType Values"). An open newtype:
/// unknown values round-trip unchanged.
///
/// ```
/// use sixgate::tls::ExtensionType;
///
/// assert_eq!(ExtensionType::SERVER_NAME.to_string(), "server_name (0x0000)");
/// assert_eq!(ExtensionType(0x1a1a).to_string(), "0x1a1a");
/// assert_eq!(format!("{:?}", ExtensionType::ENCRYPTED_CLIENT_HELLO), "ENCRYPTED_CLIENT_HELLO");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtensionType(pub u16);

impl ExtensionType {
    /// `server_name` (RFC 6066 §3).
    pub const SERVER_NAME: Self = Self(0x0000);
    /// `application_layer_protocol_negotiation` (RFC 7301 §3.1).
    pub const ALPN: Self = Self(0x0010);
    /// `padding` (RFC 7685).
    pub const PADDING: Self = Self(0x0015);
    /// `pre_shared_key` (RFC 8446 §4.2.11).
    pub const PRE_SHARED_KEY: Self = Self(0x0029);
    /// `supported_versions` (RFC 8446 §4.2.1).
    pub const SUPPORTED_VERSIONS: Self = Self(0x002b);
    /// `key_share` (RFC 8446 §4.2.8).
    pub const KEY_SHARE: Self = Self(0x0033);
    /// `encrypted_client_hello` (draft-ietf-tls-esni, RFC 9849).
    pub const ENCRYPTED_CLIENT_HELLO: Self = Self(0xfe0d);

    /// The constant's name and the IANA name, for the types named here.
    fn name(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Self::SERVER_NAME => ("SERVER_NAME", "server_name"),
            Self::ALPN => ("ALPN", "application_layer_protocol_negotiation"),
            Self::PADDING => ("PADDING", "padding"),
            Self::PRE_SHARED_KEY => ("PRE_SHARED_KEY", "pre_shared_key"),
            Self::SUPPORTED_VERSIONS => ("SUPPORTED_VERSIONS", "supported_versions"),
            Self::KEY_SHARE => ("KEY_SHARE", "key_share"),
            Self::ENCRYPTED_CLIENT_HELLO => ("ENCRYPTED_CLIENT_HELLO", "encrypted_client_hello"),
            _ => return None,
        })
    }
}

impl fmt::Debug for ExtensionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some((name, _)) => f.write_str(name),
            None => write!(f, "ExtensionType({:#06x})", self.0),
        }
    }
}

impl fmt::Display for ExtensionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some((_, iana)) => write!(f, "{iana} ({:#06x})", self.0),
            None => write!(f, "{:#06x}", self.0),
        }
    }
}

/// The `server_name` of a hello, classified (after rustls `ServerNamePayload`).
///
/// ```
/// use sixgate::tls::ServerName;
///
/// assert!(ServerName::Absent.host_name().is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerName {
    /// A valid host name, normalised (lower case, no trailing dot).
    HostName(HostName),
    /// An IPv4 or IPv6 address sent as a name, which RFC 6066 §3 forbids
    /// ("Literal IPv4 and IPv6 addresses are not permitted").
    IpLiteral(IpAddr),
    /// A name that is not a valid host name (a NUL or other byte outside
    /// letters, digits, '-' and '.', a bad label, too long): the reason.
    Invalid(NameError),
    /// No `server_name` extension.
    Absent,
}

impl ServerName {
    /// The host name, if the hello carried a valid one.
    pub fn host_name(&self) -> Option<&HostName> {
        match self {
            Self::HostName(name) => Some(name),
            _ => None,
        }
    }
}

/// What a ClientHello says that a router needs (RFC 8446 §4.1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHello {
    legacy_version: ProtocolVersion,
    supported_versions: Vec<ProtocolVersion>,
    server_name: ServerName,
    alpn: Vec<Vec<u8>>,
    ech_offered: bool,
    record_count: usize,
    len: usize,
}

impl ClientHello {
    /// `legacy_version`: 0x0303 (TLS 1.2) in every TLS 1.3 hello; the
    /// highest version offered in older ones.
    pub fn legacy_version(&self) -> ProtocolVersion {
        self.legacy_version
    }

    /// The `supported_versions` list (RFC 8446 §4.2.1) in the client's order,
    /// GREASE values included; empty when the extension is absent.
    pub fn supported_versions(&self) -> &[ProtocolVersion] {
        &self.supported_versions
    }

    /// The server name, classified.
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    /// The ALPN protocol names in the client's order (RFC 7301 §3.1); empty
    /// when the extension is absent.
    pub fn alpn(&self) -> &[Vec<u8>] {
        &self.alpn
    }

    /// Whether an `encrypted_client_hello` extension (0xfe0d) is present: the
    /// name above is then the public name of the client-facing server.
    pub fn ech_offered(&self) -> bool {
        self.ech_offered
    }

    /// How many TLS records the hello spanned.
    pub fn record_count(&self) -> usize {
        self.record_count
    }

    /// How many bytes at the start of the buffer the hello's records occupy:
    /// what to forward first. Bytes after them (a ChangeCipherSpec, early
    /// data) belong to later records.
    #[allow(clippy::len_without_is_empty)] // a hello is never empty
    pub fn len(&self) -> usize {
        self.len
    }
}

/// Why the bytes are not an acceptable ClientHello. Each message quotes the
/// offending value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A record longer than 2^14 bytes (RFC 8446 §5.1).
    #[error("a TLS record of {len} bytes; at most 16384 are allowed (RFC 8446 §5.1)")]
    RecordTooLong {
        /// The record's declared length.
        len: usize,
    },
    /// A zero-length handshake record (RFC 8446 §5.1 forbids them).
    #[error("a zero-length handshake record (RFC 8446 §5.1 forbids them)")]
    ZeroLengthRecord,
    /// A record that is not a handshake record before the hello is complete.
    #[error("a record of content type {content_type} before the ClientHello was complete (RFC 8446 §5.1)")]
    UnexpectedContentType {
        /// The record's content type.
        content_type: u8,
    },
    /// A record after the first whose version's major byte is not 3.
    #[error("a record with version {version:#06x} in the middle of a ClientHello")]
    RecordVersion {
        /// The record's version.
        version: u16,
    },
    /// The first handshake message is not a ClientHello.
    #[error("handshake message type {0} where a ClientHello (1) was expected")]
    NotClientHello(u8),
    /// The hello declares more than [`MAX_HELLO_LEN`] bytes.
    #[error("the ClientHello declares {declared} bytes; at most 65536 are accepted")]
    TooLarge {
        /// The declared length.
        declared: usize,
    },
    /// A length or value the format does not allow.
    #[error("malformed ClientHello: {what}")]
    Malformed {
        /// What was wrong.
        what: &'static str,
    },
    /// An extension type appears twice (RFC 8446 §4.2).
    #[error("extension {0} appears more than once (RFC 8446 §4.2)")]
    DuplicateExtension(ExtensionType),
    /// More than one `host_name` in the `server_name` list (RFC 6066 §3).
    #[error("the server_name list holds more than one host_name (RFC 6066 §3)")]
    DuplicateHostName,
    /// Bytes left over where the format says a structure ends.
    #[error("{what} has trailing bytes")]
    TrailingBytes {
        /// The structure with bytes left over.
        what: &'static str,
    },
}

impl Error {
    /// A stable snake_case name for the kind of error, for programs, metrics
    /// and bindings to match on; the message itself may be reworded.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RecordTooLong { .. } => "record_too_long",
            Self::ZeroLengthRecord => "zero_length_record",
            Self::UnexpectedContentType { .. } => "unexpected_content_type",
            Self::RecordVersion { .. } => "record_version",
            Self::NotClientHello(_) => "not_client_hello",
            Self::TooLarge { .. } => "too_large",
            Self::Malformed { .. } => "malformed",
            Self::DuplicateExtension(_) => "duplicate_extension",
            Self::DuplicateHostName => "duplicate_host_name",
            Self::TrailingBytes { .. } => "trailing_bytes",
        }
    }
}

/// Reads a ClientHello from `buf`, every byte received from the client so
/// far (RFC 8446 §5.1 records, §4.1.2 ClientHello).
///
/// Errors come as early as the bytes allow: a record type, length or
/// handshake header that is wrong fails before the rest has arrived, so a
/// declared length of 16 MiB fails from the first 9 bytes. A valid prefix of
/// a valid hello always gives [`Status::NeedMore`], never an error.
///
/// A handshake record that carries bytes after the ClientHello is refused
/// ([`Error::TrailingBytes`]): a client sends no other handshake message
/// before the server's reply (RFC 8446 §2, §4.1.2), and a router cannot
/// forward half a record. Records after the hello's last one are left alone;
/// [`ClientHello::len`] says where they start.
///
/// Bounded work: the reader looks at no byte past the hello's last record,
/// so at most `MAX_HELLO_LEN + 4` handshake bytes in at most as many records
/// (each at least one byte) — under 400 KB of `buf` for the most
/// fragmented hello. Time and memory are linear in the bytes read; the
/// message is copied (once) only when it spans several records, and only the
/// bytes present are copied. Each call starts afresh, so a caller that feeds
/// a growing buffer should wait for the [`Status::NeedMore`] count.
///
/// ```
/// use sixgate::tls::{read_client_hello, Error, Status};
///
/// // A record header and a handshake header at least.
/// assert_eq!(read_client_hello(b"")?, Status::NeedMore(9));
/// assert_eq!(read_client_hello(b"\x16\x03\x01")?, Status::NeedMore(6));
/// assert_eq!(read_client_hello(b"SSH-2.0-OpenSSH_9.6\r\n")?, Status::NotTls);
/// assert_eq!(read_client_hello(b"\x16\x03\x01\x00\x00"), Err(Error::ZeroLengthRecord));
/// assert_eq!(
///     read_client_hello(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"),
///     Err(Error::NotClientHello(2))
/// );
/// # Ok::<(), Error>(())
/// ```
pub fn read_client_hello(buf: &[u8]) -> Result<Status, Error> {
    match buf {
        [first, ..] if *first != CONTENT_HANDSHAKE => return Ok(Status::NotTls),
        [_, major, ..] if *major != 3 => return Ok(Status::NotTls),
        _ => {}
    }
    let mut records = Reader::new(buf);
    let mut message = Reassembly::default();
    let mut record_count = 0usize;
    loop {
        let Some(header) = records.array::<RECORD_HEADER_LEN>() else {
            // Part of a record header: the rest of it, then at least one
            // handshake byte (records are never empty).
            let header_missing = RECORD_HEADER_LEN.saturating_sub(records.remaining());
            let fragment = message.missing(0)?.max(1);
            return Ok(Status::NeedMore(header_missing.saturating_add(fragment)));
        };
        let [content_type, major, minor, len_hi, len_lo] = header;
        if content_type != CONTENT_HANDSHAKE {
            return Err(Error::UnexpectedContentType { content_type });
        }
        if major != 3 {
            return Err(Error::RecordVersion {
                version: u16::from_be_bytes([major, minor]),
            });
        }
        let len = usize::from(u16::from_be_bytes([len_hi, len_lo]));
        if len == 0 {
            return Err(Error::ZeroLengthRecord);
        }
        if len > MAX_RECORD_LEN {
            return Err(Error::RecordTooLong { len });
        }
        record_count = record_count.saturating_add(1);
        let present = len.min(records.remaining());
        let fragment = records.take(present).unwrap_or_default();
        let before = message.len();
        message.push(fragment);
        // Check the handshake header as soon as its bytes are here, and
        // whether this record, once whole, would run past the message.
        let total = message.total()?;
        if let Some(total) = total {
            if before.saturating_add(len) > total {
                return Err(Error::TrailingBytes {
                    what: "the handshake record holding the end of the ClientHello",
                });
            }
        }
        if present < len {
            // The rest of this record, then, if the message goes on, at
            // least one more record.
            let record_missing = len.saturating_sub(present);
            let after = match message.missing(record_missing)? {
                0 => 0,
                more => RECORD_HEADER_LEN.saturating_add(more),
            };
            return Ok(Status::NeedMore(record_missing.saturating_add(after)));
        }
        if total == Some(message.len()) {
            let mut body = Reader::new(message.bytes());
            // The header was checked by `total` above.
            let _ = body.take(HANDSHAKE_HEADER_LEN);
            let parts = parse_body(body)?;
            let consumed = buf.len().saturating_sub(records.remaining());
            return Ok(Status::Complete(parts.finish(record_count, consumed)));
        }
    }
}

/// The handshake message as it is reassembled from record fragments: the
/// first fragment borrowed, later ones copied (with the first) only when the
/// message spans several records.
#[derive(Default)]
struct Reassembly<'a> {
    first: &'a [u8],
    copied: Vec<u8>,
}

impl<'a> Reassembly<'a> {
    fn push(&mut self, fragment: &'a [u8]) {
        if self.first.is_empty() {
            self.first = fragment;
        } else {
            if self.copied.is_empty() {
                self.copied.extend_from_slice(self.first);
            }
            self.copied.extend_from_slice(fragment);
        }
    }

    fn bytes(&self) -> &[u8] {
        if self.copied.is_empty() {
            self.first
        } else {
            &self.copied
        }
    }

    fn len(&self) -> usize {
        self.bytes().len()
    }

    /// The whole message's length with its header, once the header is here;
    /// an error as soon as the type or the declared length is wrong.
    fn total(&self) -> Result<Option<usize>, Error> {
        let mut r = Reader::new(self.bytes());
        let Some(msg_type) = r.u8() else {
            return Ok(None);
        };
        if msg_type != CLIENT_HELLO {
            return Err(Error::NotClientHello(msg_type));
        }
        let Some(declared) = r.u24() else {
            return Ok(None);
        };
        // u32 to usize is lossless on every platform with 32-bit or wider usize.
        let declared = usize::try_from(declared).unwrap_or(usize::MAX);
        if declared > MAX_HELLO_LEN {
            return Err(Error::TooLarge { declared });
        }
        Ok(Some(declared.saturating_add(HANDSHAKE_HEADER_LEN)))
    }

    /// How many handshake bytes are still missing once `coming` more have
    /// arrived: a lower bound while the header is incomplete.
    fn missing(&self, coming: usize) -> Result<usize, Error> {
        let needed = self.total()?.unwrap_or(HANDSHAKE_HEADER_LEN);
        Ok(needed.saturating_sub(self.len().saturating_add(coming)))
    }
}

/// The body's fields, before the record framing is known.
struct Parts {
    legacy_version: ProtocolVersion,
    supported_versions: Vec<ProtocolVersion>,
    server_name: ServerName,
    alpn: Vec<Vec<u8>>,
    ech_offered: bool,
}

impl Parts {
    fn finish(self, record_count: usize, len: usize) -> ClientHello {
        ClientHello {
            legacy_version: self.legacy_version,
            supported_versions: self.supported_versions,
            server_name: self.server_name,
            alpn: self.alpn,
            ech_offered: self.ech_offered,
            record_count,
            len,
        }
    }
}

/// `Some` or a `Malformed` error naming what ran short.
fn need<T>(value: Option<T>, what: &'static str) -> Result<T, Error> {
    value.ok_or(Error::Malformed { what })
}

/// `Ok` if `r` has been read to its end, else `TrailingBytes`.
fn finished(r: &Reader<'_>, what: &'static str) -> Result<(), Error> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(Error::TrailingBytes { what })
    }
}

/// The ClientHello body after its handshake header (RFC 8446 §4.1.2). Linear
/// in its length.
fn parse_body(mut r: Reader<'_>) -> Result<Parts, Error> {
    let legacy_version = ProtocolVersion(need(r.u16(), "legacy_version runs past the end")?);
    need(r.take(32), "random runs past the end")?;
    let session_id = need(r.sub_u8(), "legacy_session_id runs past the end")?;
    if session_id.remaining() > 32 {
        return Err(Error::Malformed {
            what: "legacy_session_id is longer than 32 bytes",
        });
    }
    let suites = need(r.sub_u16(), "cipher_suites run past the end")?;
    if suites.is_empty() || suites.remaining() % 2 != 0 {
        return Err(Error::Malformed {
            what: "cipher_suites is empty or of odd length",
        });
    }
    let compression = need(r.sub_u8(), "legacy_compression_methods run past the end")?;
    if compression.is_empty() {
        return Err(Error::Malformed {
            what: "legacy_compression_methods is empty",
        });
    }
    let mut parts = Parts {
        legacy_version,
        supported_versions: Vec::new(),
        server_name: ServerName::Absent,
        alpn: Vec::new(),
        ech_offered: false,
    };
    // A hello without extensions ends here (RFC 5246 §7.4.1.2).
    if r.is_empty() {
        return Ok(parts);
    }
    let mut extensions = need(r.sub_u16(), "extensions run past the end")?;
    finished(&r, "the ClientHello")?;
    let mut seen = SeenTypes::default();
    while !extensions.is_empty() {
        let typ = ExtensionType(need(
            extensions.u16(),
            "an extension header runs past the end",
        )?);
        let mut data = need(extensions.sub_u16(), "extension_data runs past the end")?;
        if !seen.insert(typ.0) {
            return Err(Error::DuplicateExtension(typ));
        }
        match typ {
            ExtensionType::SERVER_NAME => parts.server_name = server_name(&mut data)?,
            ExtensionType::ALPN => parts.alpn = alpn(&mut data)?,
            ExtensionType::SUPPORTED_VERSIONS => {
                parts.supported_versions = supported_versions(&mut data)?;
            }
            ExtensionType::ENCRYPTED_CLIENT_HELLO => parts.ech_offered = true,
            _ => {}
        }
    }
    Ok(parts)
}

/// The `server_name` extension's data (RFC 6066 §3).
fn server_name(data: &mut Reader<'_>) -> Result<ServerName, Error> {
    let mut list = need(data.sub_u16(), "server_name_list runs past the extension")?;
    finished(data, "the server_name extension")?;
    if list.is_empty() {
        return Err(Error::Malformed {
            what: "server_name_list is empty",
        });
    }
    let mut host = None;
    while !list.is_empty() {
        let name_type = need(list.u8(), "a server_name entry runs past the list")?;
        // Every name type has a 16-bit length (RFC 4366 §3.1 required it of
        // future types; host_name is the only one defined). rustls instead
        // stops at an unknown type; reading on refuses more garbage.
        let name = need(list.sub_u16(), "a server name runs past the list")?.rest();
        if name_type != NAME_TYPE_HOST_NAME {
            continue;
        }
        if name.is_empty() {
            return Err(Error::Malformed {
                what: "a host_name is empty",
            });
        }
        if host.replace(name).is_some() {
            return Err(Error::DuplicateHostName);
        }
    }
    // A list holding only unknown name types names nothing we can route on;
    // refusing it is safer than reading it as "no name".
    let name = need(host, "server_name_list has no host_name")?;
    Ok(classify(name))
}

/// Classifies a `host_name`'s bytes: an IP literal, a host name, or invalid.
fn classify(raw: &[u8]) -> ServerName {
    if let Some(ip) = std::str::from_utf8(raw)
        .ok()
        .and_then(|text| text.parse::<IpAddr>().ok())
    {
        return ServerName::IpLiteral(ip);
    }
    match HostName::new(raw) {
        Ok(name) => ServerName::HostName(name),
        Err(err) => ServerName::Invalid(err),
    }
}

/// The ALPN extension's data (RFC 7301 §3.1): a non-empty list of non-empty
/// protocol names.
fn alpn(data: &mut Reader<'_>) -> Result<Vec<Vec<u8>>, Error> {
    let mut list = need(data.sub_u16(), "protocol_name_list runs past the extension")?;
    finished(data, "the application_layer_protocol_negotiation extension")?;
    if list.is_empty() {
        return Err(Error::Malformed {
            what: "protocol_name_list is empty",
        });
    }
    let mut names = Vec::new();
    while !list.is_empty() {
        let name = need(list.sub_u8(), "a protocol name runs past the list")?.rest();
        if name.is_empty() {
            return Err(Error::Malformed {
                what: "a protocol name is empty",
            });
        }
        names.push(name.to_vec());
    }
    Ok(names)
}

/// The `supported_versions` extension's data in a ClientHello
/// (RFC 8446 §4.2.1): `ProtocolVersion versions<2..254>`.
fn supported_versions(data: &mut Reader<'_>) -> Result<Vec<ProtocolVersion>, Error> {
    let mut list = need(data.sub_u8(), "supported_versions runs past the extension")?;
    finished(data, "the supported_versions extension")?;
    if list.is_empty() || list.remaining() % 2 != 0 {
        return Err(Error::Malformed {
            what: "supported_versions is empty or of odd length",
        });
    }
    let mut versions = Vec::with_capacity(list.remaining() / 2);
    while let Some(v) = list.u16() {
        versions.push(ProtocolVersion(v));
    }
    Ok(versions)
}

/// The extension types seen so far, to refuse duplicates in linear time:
/// a short list scanned for the first few (a hello has 10 to 20), then a
/// bitmap of all 65536 types.
#[derive(Default)]
struct SeenTypes {
    few: [u16; SeenTypes::FEW],
    count: usize,
    all: Vec<u64>,
}

impl SeenTypes {
    const FEW: usize = 32;

    /// Records `typ`; `false` if it was already there.
    fn insert(&mut self, typ: u16) -> bool {
        if !self.all.is_empty() {
            return Self::set(&mut self.all, typ);
        }
        let few = self.few.get(..self.count).unwrap_or_default();
        if few.contains(&typ) {
            return false;
        }
        if let Some(slot) = self.few.get_mut(self.count) {
            *slot = typ;
            self.count = self.count.saturating_add(1);
            return true;
        }
        self.all = vec![0; 1 << 10];
        for t in self.few {
            Self::set(&mut self.all, t);
        }
        Self::set(&mut self.all, typ)
    }

    /// Sets bit `typ`; `false` if it was already set.
    fn set(bits: &mut [u64], typ: u16) -> bool {
        let mask = 1u64 << (typ & 63);
        match bits.get_mut(usize::from(typ >> 6)) {
            Some(word) if *word & mask == 0 => {
                *word |= mask;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use super::*;

    /// Writes bytes with length prefixes and remembers where each length
    /// field is, so a test can corrupt every one of them.
    #[derive(Default)]
    struct W {
        buf: Vec<u8>,
        /// (offset, width) of every length field written.
        lens: Vec<(usize, usize)>,
    }

    impl W {
        fn bytes(&mut self, b: &[u8]) -> &mut Self {
            self.buf.extend_from_slice(b);
            self
        }

        fn u16(&mut self, v: u16) -> &mut Self {
            self.bytes(&v.to_be_bytes())
        }

        /// A vector with a `width`-byte length prefix around what `f` writes.
        fn vec(&mut self, width: usize, f: impl FnOnce(&mut W)) -> &mut Self {
            let at = self.buf.len();
            self.lens.push((at, width));
            self.buf.resize(at + width, 0);
            f(self);
            let len = (self.buf.len() - at - width) as u64;
            let be = len.to_be_bytes();
            self.buf[at..at + width].copy_from_slice(&be[8 - width..]);
            self
        }
    }

    /// What a test hello holds; every field can be varied.
    #[derive(Clone)]
    struct Spec {
        legacy_version: u16,
        session_id: Vec<u8>,
        suites: Vec<u8>,
        compression: Vec<u8>,
        /// `None`: no extensions block at all.
        extensions: Option<Vec<Ext>>,
    }

    #[derive(Clone)]
    enum Ext {
        /// server_name with these host_name entries.
        Sni(Vec<Vec<u8>>),
        Alpn(Vec<Vec<u8>>),
        Versions(Vec<u16>),
        /// Any other extension, its data as given.
        Raw(u16, Vec<u8>),
    }

    fn typical() -> Spec {
        Spec {
            legacy_version: 0x0303,
            session_id: vec![0xee; 32],
            suites: vec![0x13, 0x01, 0x13, 0x02, 0xc0, 0x2f],
            compression: vec![0],
            extensions: Some(vec![
                Ext::Sni(vec![b"www.example.test".to_vec()]),
                // Data we do not parse is 0xab..., so that a read shifted
                // by a corrupted length runs past its parent rather than
                // landing, by chance, on another well-formed hello.
                Ext::Raw(0x000a, vec![0x00, 0x04, 0xab, 0xab, 0xab, 0xab]),
                Ext::Alpn(vec![b"h2".to_vec(), b"http/1.1".to_vec()]),
                Ext::Versions(vec![0x0304, 0x0303]),
                Ext::Raw(0x0033, vec![0xab; 38]),
            ]),
        }
    }

    impl Spec {
        fn with(mut self, ext: Ext) -> Self {
            self.extensions.get_or_insert_with(Vec::new).push(ext);
            self
        }

        fn sni(names: &[&[u8]]) -> Self {
            let mut spec = typical();
            let exts = spec.extensions.as_mut().unwrap();
            exts[0] = Ext::Sni(names.iter().map(|n| n.to_vec()).collect());
            spec
        }

        /// The handshake message: header and body.
        fn write_message(&self, w: &mut W) {
            w.bytes(&[CLIENT_HELLO]).vec(3, |w| {
                w.u16(self.legacy_version).bytes(&[0x5a; 32]);
                w.vec(1, |w| {
                    w.bytes(&self.session_id);
                })
                .vec(2, |w| {
                    w.bytes(&self.suites);
                })
                .vec(1, |w| {
                    w.bytes(&self.compression);
                });
                if let Some(exts) = &self.extensions {
                    w.vec(2, |w| {
                        for ext in exts {
                            write_ext(w, ext);
                        }
                    });
                }
            });
        }

        fn message(&self) -> Vec<u8> {
            let mut w = W::default();
            self.write_message(&mut w);
            w.buf
        }

        /// The hello in one record, with the positions of its length fields.
        fn record(&self) -> W {
            let mut w = W::default();
            w.bytes(&[0x16, 0x03, 0x01])
                .vec(2, |w| self.write_message(w));
            w
        }

        fn bytes(&self) -> Vec<u8> {
            self.record().buf
        }
    }

    fn write_ext(w: &mut W, ext: &Ext) {
        match ext {
            Ext::Sni(names) => {
                w.u16(0).vec(2, |w| {
                    w.vec(2, |w| {
                        for name in names {
                            w.bytes(&[0]).vec(2, |w| {
                                w.bytes(name);
                            });
                        }
                    });
                });
            }
            Ext::Alpn(names) => {
                w.u16(0x10).vec(2, |w| {
                    w.vec(2, |w| {
                        for name in names {
                            w.vec(1, |w| {
                                w.bytes(name);
                            });
                        }
                    });
                });
            }
            Ext::Versions(versions) => {
                w.u16(0x2b).vec(2, |w| {
                    w.vec(1, |w| {
                        for v in versions {
                            w.u16(*v);
                        }
                    });
                });
            }
            Ext::Raw(typ, data) => {
                w.u16(*typ).vec(2, |w| {
                    w.bytes(data);
                });
            }
        }
    }

    /// A handshake message split into records of the given fragment sizes,
    /// the last fragment taking what is left.
    fn records(message: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = message;
        for (i, &size) in sizes.iter().enumerate() {
            let take = if i + 1 == sizes.len() {
                rest.len()
            } else {
                size
            };
            let (fragment, tail) = rest.split_at(take);
            out.extend_from_slice(&[0x16, 0x03, 0x03]);
            out.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
            out.extend_from_slice(fragment);
            rest = tail;
        }
        out
    }

    fn complete(buf: &[u8]) -> ClientHello {
        match read_client_hello(buf) {
            Ok(Status::Complete(hello)) => hello,
            other => panic!("expected a complete hello, got {other:?}"),
        }
    }

    fn err(buf: &[u8]) -> Error {
        match read_client_hello(buf) {
            Err(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn host(hello: &ClientHello) -> &str {
        hello.server_name().host_name().unwrap().as_str()
    }

    #[test]
    fn typical_hello() {
        let bytes = typical().bytes();
        let hello = complete(&bytes);
        assert_eq!(host(&hello), "www.example.test");
        assert_eq!(hello.alpn(), [b"h2".to_vec(), b"http/1.1".to_vec()]);
        assert_eq!(hello.legacy_version(), ProtocolVersion::TLS1_2);
        assert_eq!(
            hello.supported_versions(),
            [ProtocolVersion::TLS1_3, ProtocolVersion::TLS1_2]
        );
        assert!(!hello.ech_offered());
        assert_eq!(hello.record_count(), 1);
        assert_eq!(hello.len(), bytes.len());
    }

    /// Every proper prefix of `full` gives NeedMore(n), n ≥ 1, never past
    /// the end; then `full` gives the same hello as `expected`.
    fn check_prefixes(full: &[u8], expected: &ClientHello) {
        for cut in 0..full.len() {
            match read_client_hello(&full[..cut]) {
                Ok(Status::NeedMore(n)) => {
                    assert!(n >= 1, "cut {cut}");
                    assert!(cut + n <= full.len(), "cut {cut}: NeedMore({n}) overshoots");
                }
                other => panic!("cut {cut} of {}: {other:?}", full.len()),
            }
        }
        assert_eq!(&complete(full), expected);
    }

    #[test]
    fn every_truncation_needs_more() {
        let spec = typical();
        let one = spec.bytes();
        check_prefixes(&one, &complete(&one));
        let message = spec.message();
        for sizes in [
            &[1usize, 0][..],
            &[3, 0],
            &[4, 0],
            &[50, 0],
            &[7, 1, 2, 40, 0],
        ] {
            let split = records(&message, sizes);
            check_prefixes(&split, &complete(&split));
        }
        // The hint is exact when one record holds the hello.
        assert_eq!(
            read_client_hello(&one[..20]).unwrap(),
            Status::NeedMore(one.len() - 20)
        );
    }

    #[test]
    fn one_byte_at_a_time_ends_as_all_at_once() {
        let message = typical().message();
        for buf in [typical().bytes(), records(&message, &[2, 9, 30, 1, 0])] {
            let at_once = complete(&buf);
            let mut fed = Vec::new();
            let mut last = None;
            for &b in &buf {
                fed.push(b);
                last = Some(read_client_hello(&fed).unwrap());
            }
            assert_eq!(last, Some(Status::Complete(at_once)));
        }
    }

    #[test]
    fn every_length_field_corrupted_is_refused() {
        let w = typical().record();
        // The record and handshake lengths frame the message: a larger value
        // only means "more to come".
        let framing = [3usize, 6];
        assert!(w.lens.len() > 15, "{}", w.lens.len());
        for &(at, width) in &w.lens {
            let max = (1u64 << (8 * width)) - 1;
            let bytes = &w.buf[at..at + width];
            let old = bytes.iter().fold(0u64, |v, &b| v << 8 | u64::from(b));
            for new in [old + 1, old.wrapping_sub(1) & max, 0, max] {
                if new == old || new > max {
                    continue;
                }
                let mut buf = w.buf.clone();
                buf[at..at + width].copy_from_slice(&new.to_be_bytes()[8 - width..]);
                match read_client_hello(&buf) {
                    Err(_) => {}
                    Ok(Status::NeedMore(_)) if framing.contains(&at) => {}
                    other => panic!("length at {at} set {old} -> {new}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn split_into_two_and_five_records() {
        let spec = typical();
        let whole = complete(&spec.bytes());
        let message = spec.message();
        for sizes in [&[60usize, 0][..], &[2, 30, 17, 60, 0]] {
            let buf = records(&message, sizes);
            let hello = complete(&buf);
            assert_eq!(hello.record_count(), sizes.len());
            assert_eq!(hello.len(), buf.len());
            assert_eq!(hello.server_name(), whole.server_name());
            assert_eq!(hello.alpn(), whole.alpn());
            assert_eq!(hello.supported_versions(), whole.supported_versions());
        }
    }

    #[test]
    fn a_20_kb_hello_spans_records() {
        let spec = typical().with(Ext::Raw(0x15, vec![0; 20_000]));
        let message = spec.message();
        assert!(message.len() > 20_000);
        let buf = records(&message, &[MAX_RECORD_LEN, 0]);
        let hello = complete(&buf);
        assert_eq!(hello.record_count(), 2);
        assert_eq!(host(&hello), "www.example.test");
        // In one record it breaks the 2^14 record limit.
        assert_eq!(
            err(&spec.bytes()),
            Error::RecordTooLong { len: message.len() }
        );
        // A 64 KiB hello in 1-byte records is still read (and bounded).
        let spec = typical().with(Ext::Raw(0x15, vec![0; MAX_HELLO_LEN - 400]));
        let message = spec.message();
        let buf = records(&message, &vec![1; message.len()]);
        assert_eq!(complete(&buf).record_count(), message.len());
    }

    #[test]
    fn declared_16_mib_fails_in_9_bytes() {
        let buf = [0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0xff, 0xff, 0xff];
        assert_eq!(
            err(&buf),
            Error::TooLarge {
                declared: 0xff_ffff
            }
        );
        // Even when the handshake header straddles records.
        let buf = [
            0x16, 0x03, 0x01, 0x00, 0x02, 0x01, 0x01, 0x16, 0x03, 0x01, 0x00, 0x02, 0x00, 0x01,
        ];
        assert_eq!(err(&buf).kind(), "too_large");
        // 64 KiB itself is allowed: the reader waits for it.
        let buf = [0x16, 0x03, 0x01, 0x40, 0x00, 0x01, 0x01, 0x00, 0x00];
        assert!(matches!(
            read_client_hello(&buf),
            Ok(Status::NeedMore(n)) if n == MAX_RECORD_LEN - 4 + 5 + MAX_HELLO_LEN + 4 - MAX_RECORD_LEN
        ));
    }

    #[test]
    fn server_names_are_classified() {
        let cases: &[(&[u8], ServerName)] = &[
            (
                b"WWW.Example.TEST.",
                ServerName::HostName("www.example.test".parse().unwrap()),
            ),
            (
                b"nul\0.example.test",
                ServerName::Invalid(NameError::BadByte { byte: 0, pos: 3 }),
            ),
            (
                b"192.0.2.1",
                ServerName::IpLiteral(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
            ),
            (
                b"2001:db8::1",
                ServerName::IpLiteral(IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))),
            ),
            (b"192.0.2.1.", ServerName::Invalid(NameError::NumericTld)),
            (
                b"under_score.test",
                ServerName::Invalid(NameError::BadByte { byte: b'_', pos: 5 }),
            ),
            (
                b"\xff",
                ServerName::Invalid(NameError::BadByte { byte: 0xff, pos: 0 }),
            ),
        ];
        for (raw, expected) in cases {
            let hello = complete(&Spec::sni(&[raw]).bytes());
            assert_eq!(
                hello.server_name(),
                expected,
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let mut spec = typical();
        spec.extensions.as_mut().unwrap().remove(0);
        assert_eq!(complete(&spec.bytes()).server_name(), &ServerName::Absent);
    }

    #[test]
    fn duplicates_are_refused() {
        let spec = typical().with(Ext::Sni(vec![b"other.test".to_vec()]));
        assert_eq!(
            err(&spec.bytes()),
            Error::DuplicateExtension(ExtensionType::SERVER_NAME)
        );
        let spec = Spec::sni(&[b"a.test", b"b.test"]);
        assert_eq!(err(&spec.bytes()), Error::DuplicateHostName);
        // Past the first 32 types, the bitmap still finds a duplicate.
        let mut spec = typical();
        for t in 0x100..0x140 {
            spec = spec.with(Ext::Raw(t, vec![]));
        }
        assert_eq!(complete(&spec.bytes()).record_count(), 1);
        let spec = spec.with(Ext::Raw(0x120, vec![]));
        assert_eq!(
            err(&spec.bytes()),
            Error::DuplicateExtension(ExtensionType(0x120))
        );
        let spec = typical().with(Ext::Alpn(vec![b"h2".to_vec()]));
        assert_eq!(
            err(&spec.bytes()),
            Error::DuplicateExtension(ExtensionType::ALPN)
        );
    }

    #[test]
    fn malformed_bodies() {
        let mut cases: Vec<(Spec, &str)> = Vec::new();
        let mut s = typical();
        s.session_id = vec![1; 33];
        cases.push((s, "malformed"));
        let mut s = typical();
        s.suites = vec![0x13, 0x01, 0x13];
        cases.push((s, "malformed"));
        let mut s = typical();
        s.suites = vec![];
        cases.push((s, "malformed"));
        let mut s = typical();
        s.compression = vec![];
        cases.push((s, "malformed"));
        cases.push((Spec::sni(&[]), "malformed"));
        cases.push((Spec::sni(&[b""]), "malformed"));
        let mut s = typical();
        s.extensions.as_mut().unwrap()[2] = Ext::Alpn(vec![]);
        cases.push((s, "malformed"));
        let mut s = typical();
        s.extensions.as_mut().unwrap()[2] = Ext::Alpn(vec![b"h2".to_vec(), vec![]]);
        cases.push((s, "malformed"));
        let mut s = typical();
        s.extensions.as_mut().unwrap()[3] = Ext::Versions(vec![]);
        cases.push((s, "malformed"));
        let mut s = typical();
        s.extensions.as_mut().unwrap()[3] = Ext::Raw(0x2b, vec![3, 3, 4, 3]);
        cases.push((s, "malformed"));
        let mut s = typical();
        s.extensions.as_mut().unwrap()[3] = Ext::Raw(0x2b, vec![2, 3, 4, 3]);
        cases.push((s, "trailing_bytes"));
        let mut s = typical();
        s.extensions.as_mut().unwrap()[0] = Ext::Raw(0, vec![0, 3, 0, 0, 0, 9]);
        cases.push((s, "trailing_bytes"));
        // Only an unknown name type: nothing to route on.
        let mut s = typical();
        s.extensions.as_mut().unwrap()[0] = Ext::Raw(0, vec![0, 3, 1, 0, 0]);
        cases.push((s, "malformed"));
        for (i, (spec, kind)) in cases.iter().enumerate() {
            let e = err(&spec.bytes());
            assert_eq!(e.kind(), *kind, "case {i}: {e}");
        }
    }

    #[test]
    fn optional_parts() {
        // A hello without extensions (TLS 1.2 and older) is valid.
        let mut spec = typical();
        spec.extensions = None;
        spec.session_id = vec![];
        let hello = complete(&spec.bytes());
        assert_eq!(hello.server_name(), &ServerName::Absent);
        assert!(hello.alpn().is_empty() && hello.supported_versions().is_empty());
        // An empty extensions block too.
        spec.extensions = Some(vec![]);
        complete(&spec.bytes());
        // ECH, and a host_name followed by an unknown name type.
        let spec = typical()
            .with(Ext::Raw(0xfe0d, vec![0; 9]))
            .with(Ext::Raw(0x1a1a, vec![]));
        assert!(complete(&spec.bytes()).ech_offered());
        let mut spec = typical();
        spec.extensions.as_mut().unwrap()[0] =
            Ext::Raw(0, vec![0, 9, 0, 0, 3, b'a', b'.', b'b', 7, 0, 0]);
        assert_eq!(host(&complete(&spec.bytes())), "a.b");
        // GREASE and unknown versions round-trip.
        let mut spec = typical();
        spec.extensions.as_mut().unwrap()[3] = Ext::Versions(vec![0x7a7a, 0x0304]);
        assert_eq!(
            complete(&spec.bytes()).supported_versions(),
            [ProtocolVersion(0x7a7a), ProtocolVersion::TLS1_3]
        );
    }

    #[test]
    fn record_rules() {
        assert_eq!(
            read_client_hello(b"GET / HTTP/1.1\r\n").unwrap(),
            Status::NotTls
        );
        assert_eq!(read_client_hello(b"\x16\x01").unwrap(), Status::NotTls);
        assert_eq!(read_client_hello(b"\x80\x2e\x01").unwrap(), Status::NotTls);
        assert_eq!(read_client_hello(b"\x16").unwrap(), Status::NeedMore(8));
        assert_eq!(
            err(b"\x16\x03\x01\x40\x01"),
            Error::RecordTooLong { len: 0x4001 }
        );
        assert_eq!(err(b"\x16\x03\x01\x00\x00"), Error::ZeroLengthRecord);
        assert_eq!(err(b"\x16\x03\x01\x00\x01\x02"), Error::NotClientHello(2));
        let message = typical().message();
        let mut buf = records(&message, &[10, 0]);
        // A record of another type in the middle: alert, then CCS.
        for content_type in [0x15, 0x14] {
            buf[15] = content_type;
            assert_eq!(err(&buf), Error::UnexpectedContentType { content_type });
        }
        buf[15] = 0x16;
        buf[16] = 0x02;
        assert_eq!(err(&buf), Error::RecordVersion { version: 0x0203 });
        // A zero-length record in the middle.
        let mut buf = records(&message, &[10, 0]);
        buf.splice(15..15, [0x16, 0x03, 0x03, 0x00, 0x00]);
        assert_eq!(err(&buf), Error::ZeroLengthRecord);
    }

    #[test]
    fn what_follows_the_hello() {
        let message = typical().message();
        // More handshake bytes in the hello's last record: refused as soon
        // as the record header says so.
        let mut more = message.clone();
        more.extend_from_slice(&[0x0b, 0, 0, 0]);
        let buf = records(&more, &[100, 0]);
        assert_eq!(err(&buf).kind(), "trailing_bytes");
        let buf = records(&more, &[0]);
        assert_eq!(err(&buf[..20]).kind(), "trailing_bytes");
        // A later record (CCS, early data) is not part of the hello.
        let mut buf = records(&message, &[100, 0]);
        let hello_len = buf.len();
        buf.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x17, 0x03]);
        let hello = complete(&buf);
        assert_eq!(hello.len(), hello_len);
        assert_eq!(hello.record_count(), 2);
    }

    type Capture = (&'static str, &'static [u8], &'static [&'static [u8]], usize);

    /// First flights captured from real clients on loopback by
    /// `testdata/hellos/capture.sh`: (file, bytes, ALPN asked for, records).
    const CAPTURES: &[Capture] = &[
        (
            "openssl",
            include_bytes!("../testdata/hellos/openssl.bin"),
            &[b"h2", b"http/1.1"],
            1,
        ),
        (
            "curl",
            include_bytes!("../testdata/hellos/curl.bin"),
            &[b"h2", b"http/1.1"],
            1,
        ),
        (
            "python",
            include_bytes!("../testdata/hellos/python.bin"),
            &[b"h2", b"http/1.1"],
            1,
        ),
        (
            "node",
            include_bytes!("../testdata/hellos/node.bin"),
            &[b"h2", b"http/1.1"],
            1,
        ),
        (
            "rustls",
            include_bytes!("../testdata/hellos/rustls.bin"),
            &[b"h2", b"http/1.1"],
            1,
        ),
        (
            "openssl-split",
            include_bytes!("../testdata/hellos/openssl-split.bin"),
            &[b"h2", b"http/1.1", b"x-capture-protocol-00"],
            2,
        ),
    ];

    #[test]
    fn real_captures() {
        for &(client, bytes, alpn, records) in CAPTURES {
            let hello = complete(bytes);
            assert_eq!(host(&hello), "capture.example.test", "{client}");
            assert!(
                hello
                    .alpn()
                    .starts_with(&alpn.iter().map(|a| a.to_vec()).collect::<Vec<_>>()),
                "{client}: {:?}",
                hello.alpn()
            );
            assert_eq!(hello.record_count(), records, "{client}");
            assert_eq!(hello.len(), bytes.len(), "{client}");
            assert_eq!(hello.legacy_version(), ProtocolVersion::TLS1_2, "{client}");
            assert_eq!(
                hello.supported_versions().first(),
                Some(&ProtocolVersion::TLS1_3),
                "{client}"
            );
            assert!(!hello.ech_offered(), "{client}");
            check_prefixes(bytes, &hello);
        }
        let split = CAPTURES.iter().find(|c| c.0 == "openssl-split").unwrap();
        assert_eq!(complete(split.1).alpn().len(), 18);
    }

    #[test]
    fn error_kinds_and_messages() {
        let errors = [
            Error::RecordTooLong { len: 16385 },
            Error::ZeroLengthRecord,
            Error::UnexpectedContentType { content_type: 21 },
            Error::RecordVersion { version: 0x0203 },
            Error::NotClientHello(2),
            Error::TooLarge {
                declared: 0xff_ffff,
            },
            Error::Malformed { what: "x" },
            Error::DuplicateExtension(ExtensionType::ALPN),
            Error::DuplicateHostName,
            Error::TrailingBytes { what: "x" },
        ];
        let kinds: std::collections::BTreeSet<_> = errors.iter().map(Error::kind).collect();
        assert_eq!(kinds.len(), errors.len());
        assert_eq!(
            errors[0].to_string(),
            "a TLS record of 16385 bytes; at most 16384 are allowed (RFC 8446 §5.1)"
        );
        assert!(errors[5].to_string().contains("16777215"));
        assert!(errors[7]
            .to_string()
            .contains("application_layer_protocol_negotiation (0x0010)"));
    }
}
