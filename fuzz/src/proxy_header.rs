//! `proxy_header`: [`sixgate::proxy_protocol::decode`] over arbitrary bytes,
//! and [`encode`] of what it decoded.
//!
//! Invariants checked:
//! - a complete header's `len` is at most the input's length, and exactly
//!   `&data[..len]` decodes the same (nothing after it is looked at); one
//!   byte less needs more;
//! - round trip: the header encoded in the same version decodes to the same
//!   header — after the folding [`encode`] documents (IPv4-mapped pairs are
//!   sent as TCP4, v1 has no LOCAL) — with `len` equal to the encoding's
//!   length and no TLVs; encoding that again gives the same bytes; every
//!   strict prefix of the encoding needs more;
//! - a prefix at a cut point never contradicts the whole input (a refused
//!   prefix means a refused whole, not necessarily for the same reason), and a
//!   `NeedMore(n)` before a complete header is a true lower bound.

use sixgate::proxy_protocol::{decode, encode, Decoded, Header, Version};

use crate::cut_point;

/// Runs the checks above on `data`; panics if one fails.
pub fn check(data: &[u8]) {
    let whole = decode(data);
    if let Ok(Decoded::Complete {
        header,
        version,
        len,
        tlvs,
    }) = &whole
    {
        let len = *len;
        assert!(len <= data.len(), "len {len} > input {}", data.len());
        assert!(
            len >= 15,
            "a {len}-byte header is shorter than PROXY UNKNOWN CRLF"
        );
        assert!(tlvs.as_bytes().len() < len, "TLVs longer than the header");
        if *version == Version::V1 {
            assert!(tlvs.is_empty(), "TLVs in a v1 header");
            assert_ne!(*header, Header::Local, "LOCAL in a v1 header");
        }
        assert_eq!(decode(&data[..len]), whole, "exactly len bytes");
        assert_need_more(&data[..len], len - 1);
        round_trip(header, *version);
    }

    let cut = cut_point(data);
    let prefix = decode(&data[..cut]);
    match (&prefix, &whole) {
        (Ok(Decoded::NeedMore(n)), _) => {
            assert!(*n >= 1, "NeedMore(0) at {cut}");
            if let Ok(Decoded::Complete { len, .. }) = &whole {
                assert!(
                    cut + n <= *len,
                    "prefix of {cut} asks for {n} more of {len}"
                );
            }
        }
        (Ok(p), Ok(w)) => assert_eq!(p, w, "prefix of {cut} bytes disagrees"),
        // Both refused, perhaps for different reasons: a complete line is
        // checked in another order than a partial one (a bare CR seen in the
        // prefix, a bare LF first in the whole line), so only the verdict
        // must agree, not the error kind.
        (Err(_), Err(_)) => {}
        (p, w) => panic!("prefix of {cut} bytes gave {p:?}, whole input {w:?}"),
    }
}

/// `header`, decoded in `version`, survives encode → decode.
fn round_trip(header: &Header, version: Version) {
    let expected = match (*header, version) {
        (
            Header::Proxy {
                source,
                destination,
            },
            _,
        ) => Header::proxy(source, destination),
        (Header::Local, Version::V1) => Header::Unknown,
        (other, _) => other,
    };
    let bytes = encode(header, version);
    match decode(&bytes) {
        Ok(Decoded::Complete {
            header: again,
            version: v,
            len,
            tlvs,
        }) => {
            assert_eq!(
                (again, v),
                (expected, version),
                "round trip of {bytes:02x?}"
            );
            assert_eq!(len, bytes.len(), "encoded length");
            assert!(tlvs.is_empty(), "encode wrote TLVs");
            assert_eq!(encode(&again, version), bytes, "encoding is not canonical");
        }
        other => panic!("{header:?} encoded as {bytes:02x?} decodes as {other:?}"),
    }
    for cut in [0, bytes.len() / 2, bytes.len() - 1] {
        assert_need_more(&bytes, cut);
    }
}

/// A strict prefix of `cut` bytes of the header `full` needs more, and says
/// no more than it really needs.
fn assert_need_more(full: &[u8], cut: usize) {
    match decode(&full[..cut]) {
        Ok(Decoded::NeedMore(n)) => assert!(
            n >= 1 && cut + n <= full.len(),
            "prefix of {cut} bytes asks for {n} more of a {}-byte header",
            full.len()
        ),
        other => panic!("prefix of {cut} bytes of {full:02x?} gave {other:?}"),
    }
}
