//! `http_head`: [`sixgate::http::read_request_head`] over arbitrary bytes.
//!
//! Invariants checked:
//! - a complete head's `len()` is at most the input's length, and exactly
//!   `&data[..len]` gives the same head, as does the whole input with
//!   `max_head` set to `len` (nothing after the head is looked at);
//! - a strict prefix of a complete head is `NeedMore`, never an error;
//! - a prefix at a cut point never contradicts the whole input: a complete
//!   prefix gives the same head, a refused prefix means a refused whole;
//! - the host's canonical text parses back to the same authority.

use sixgate::http::{read_request_head, Authority, HeadStatus, DEFAULT_MAX_HEAD};

use crate::cut_point;

/// Runs the checks above on `data`; panics if one fails.
pub fn check(data: &[u8]) {
    let whole = read_request_head(data, DEFAULT_MAX_HEAD);
    if let Ok(HeadStatus::Complete(head)) = &whole {
        let len = head.len();
        assert!(len <= data.len(), "len {len} > input {}", data.len());
        assert!(len >= 4, "a head without its final CRLF CRLF");
        let exact = &data[..len];
        assert_eq!(
            exact.get(len - 4..),
            Some(&b"\r\n\r\n"[..]),
            "head does not end in CRLF CRLF"
        );
        assert_eq!(
            read_request_head(exact, DEFAULT_MAX_HEAD),
            whole,
            "exactly len() bytes"
        );
        assert_eq!(read_request_head(data, len), whole, "max_head = len()");
        assert_eq!(
            read_request_head(&data[..len - 1], DEFAULT_MAX_HEAD),
            Ok(HeadStatus::NeedMore),
            "a head minus its last byte"
        );
        assert!(!head.method().is_empty() && !head.target().is_empty());
        if let Some(authority) = head.host() {
            let text = authority.to_string();
            assert_eq!(
                text.parse::<Authority>().as_ref(),
                Ok(authority),
                "authority {text:?} does not parse back to itself"
            );
        }
    }

    let cut = cut_point(data);
    let prefix = read_request_head(&data[..cut], DEFAULT_MAX_HEAD);
    match (&prefix, &whole) {
        (Ok(HeadStatus::NeedMore), Ok(HeadStatus::Complete(head))) => {
            assert!(
                cut < head.len(),
                "prefix of {cut} bytes holds the whole head"
            );
        }
        (Ok(HeadStatus::NeedMore), _) => {}
        (Ok(p), Ok(w)) => assert_eq!(p, w, "prefix of {cut} bytes disagrees"),
        // Both refused, perhaps for different reasons: a complete line is
        // checked in another order than a partial one (a bare CR seen in the
        // prefix, a bare LF first in the whole line), so only the verdict
        // must agree, not the error kind.
        (Err(_), Err(_)) => {}
        (p, w) => panic!("prefix of {cut} bytes gave {p:?}, whole input {w:?}"),
    }
}
