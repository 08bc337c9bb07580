//! DNS host names as they arrive at the edge, in a TLS `server_name` or an
//! HTTP `Host`, validated once and normalised (RFC 1123 §2.1, RFC 6066 §3).
//!
//! ```
//! use sixgate::name::HostName;
//!
//! let n = HostName::new(b"WWW.Example.TEST.")?;
//! assert_eq!(n.as_str(), "www.example.test");
//!
//! assert!(HostName::new(b"bad\0name.test").is_err());
//! assert!(HostName::new(b"-lead.example.test").is_err());
//! # Ok::<(), sixgate::name::NameError>(())
//! ```

use std::fmt;
use std::str::FromStr;

/// The longest name accepted, in bytes, without the trailing dot
/// (RFC 1035 §2.3.4: 255 octets on the wire).
pub const MAX_NAME_LEN: usize = 253;

/// The longest label (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;

/// A host name: labels of ASCII letters, digits and hyphens (LDH), none
/// empty, none longer than 63 bytes, none starting or ending with a hyphen,
/// at most 253 bytes in all. Stored in lower case without a trailing dot, so
/// two names that mean the same compare equal.
///
/// An IP literal is not a host name: a name whose last label is all digits
/// is refused, so `192.0.2.1` can never be routed as a name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostName(String);

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty (or only a dot).
    #[error("the name is empty")]
    Empty,
    /// The name is longer than 253 bytes.
    #[error("the name is {len} bytes long; at most 253 are allowed")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// Two dots in a row, or a leading dot.
    #[error("the name has an empty label at byte {pos}")]
    EmptyLabel {
        /// Byte offset of the empty label.
        pos: usize,
    },
    /// A label longer than 63 bytes.
    #[error("a label at byte {pos} is {len} bytes long; at most 63 are allowed")]
    LabelTooLong {
        /// Byte offset of the label.
        pos: usize,
        /// Its length.
        len: usize,
    },
    /// A byte that is not a letter, digit, hyphen or dot.
    #[error("byte {byte:#04x} at {pos} is not allowed in a host name (letters, digits, '-' and '.' only)")]
    BadByte {
        /// The byte.
        byte: u8,
        /// Its offset.
        pos: usize,
    },
    /// A label starting or ending with a hyphen.
    #[error("a label at byte {pos} starts or ends with '-'")]
    Hyphen {
        /// Byte offset of the label.
        pos: usize,
    },
    /// The last label is all digits, so the name reads as an IP address.
    #[error("the last label is all digits: an IP address is not a host name")]
    NumericTld,
}

impl NameError {
    /// A stable snake_case name for the kind of error.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty => "empty",
            Self::TooLong { .. } => "too_long",
            Self::EmptyLabel { .. } => "empty_label",
            Self::LabelTooLong { .. } => "label_too_long",
            Self::BadByte { .. } => "bad_byte",
            Self::Hyphen { .. } => "hyphen",
            Self::NumericTld => "numeric_tld",
        }
    }
}

impl HostName {
    /// Validates and normalises a name from raw bytes: lower case, one
    /// trailing dot stripped. Work is linear in the length; nothing is
    /// allocated before the length has been checked.
    pub fn new(raw: &[u8]) -> Result<Self, NameError> {
        let raw = raw.strip_suffix(b".").unwrap_or(raw);
        if raw.is_empty() {
            return Err(NameError::Empty);
        }
        if raw.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong { len: raw.len() });
        }
        let mut pos = 0usize;
        let mut last_numeric = false;
        for label in raw.split(|&b| b == b'.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel { pos });
            }
            if label.len() > MAX_LABEL_LEN {
                return Err(NameError::LabelTooLong {
                    pos,
                    len: label.len(),
                });
            }
            for (i, &b) in label.iter().enumerate() {
                if !(b.is_ascii_alphanumeric() || b == b'-') {
                    return Err(NameError::BadByte {
                        byte: b,
                        pos: pos.saturating_add(i),
                    });
                }
            }
            if label.starts_with(b"-") || label.ends_with(b"-") {
                return Err(NameError::Hyphen { pos });
            }
            last_numeric = label.iter().all(u8::is_ascii_digit);
            pos = pos.saturating_add(label.len()).saturating_add(1);
        }
        if last_numeric {
            return Err(NameError::NumericTld);
        }
        // Every byte is ASCII by now, so this is valid UTF-8.
        let text: String = raw
            .iter()
            .map(|&b| char::from(b.to_ascii_lowercase()))
            .collect();
        Ok(Self(text))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name's labels, left to right.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The parent name (`www.example.test` → `example.test`), if any: what a
    /// `*.example.test` wildcard is matched against.
    pub fn parent(&self) -> Option<&str> {
        self.0.split_once('.').map(|(_, rest)| rest)
    }
}

impl FromStr for HostName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, NameError> {
        Self::new(s.as_bytes())
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostName({:?})", self.0)
    }
}

impl AsRef<str> for HostName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_one_trailing_dot() {
        assert_eq!(
            HostName::new(b"WWW.Example.Test.").unwrap().as_str(),
            "www.example.test"
        );
        assert_eq!(HostName::new(b"a").unwrap().as_str(), "a");
        assert_eq!(
            HostName::new(b"xn--bcher-kva.test").unwrap().as_str(),
            "xn--bcher-kva.test"
        );
        assert_eq!(HostName::new(b"3com.test").unwrap().as_str(), "3com.test");
        assert_eq!(
            "www.example.test".parse::<HostName>().unwrap().parent(),
            Some("example.test")
        );
    }

    #[test]
    fn refuses_what_is_not_ldh() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "empty"),
            (b".", "empty"),
            (b"example.test..", "empty_label"),
            (b".example.test", "empty_label"),
            (b"a..b", "empty_label"),
            (b"nul\0.test", "bad_byte"),
            (b"sp ace.test", "bad_byte"),
            (b"under_score.test", "bad_byte"),
            (b"caf\xc3\xa9.test", "bad_byte"),
            (b"*.example.test", "bad_byte"),
            (b"-a.test", "hyphen"),
            (b"a-.test", "hyphen"),
            (b"192.0.2.1", "numeric_tld"),
            (b"example.123", "numeric_tld"),
            (b"2001:db8::1", "bad_byte"),
        ];
        for (raw, kind) in cases {
            let err = HostName::new(raw).unwrap_err();
            assert_eq!(
                err.kind(),
                *kind,
                "{:?}: {err}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn length_limits() {
        let label = "a".repeat(63);
        assert!(HostName::new(label.as_bytes()).is_ok());
        let long = "a".repeat(64);
        assert!(matches!(
            HostName::new(long.as_bytes()),
            Err(NameError::LabelTooLong { len: 64, .. })
        ));
        // 4 labels of 63 plus 3 dots = 255 bytes: too long; 253 is the limit.
        let name = [label.as_str(); 4].join(".");
        assert!(matches!(
            HostName::new(name.as_bytes()),
            Err(NameError::TooLong { len: 255 })
        ));
        let ok = format!("{}.{}.{}.{}", label, label, label, "a".repeat(61));
        assert_eq!(ok.len(), 253);
        assert!(HostName::new(ok.as_bytes()).is_ok());
        assert!(HostName::new(format!("{ok}.").as_bytes()).is_ok());
    }
}
