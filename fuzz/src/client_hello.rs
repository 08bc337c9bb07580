//! `client_hello`: [`sixgate::tls::read_client_hello`] over arbitrary bytes.
//!
//! Invariants checked:
//! - a complete hello's `len()` is at most the input's length, it spans at
//!   least one record, and exactly its `len()` bytes give the same hello (the
//!   reader looks at no byte past it);
//! - a strict prefix of a complete hello is `NeedMore(n)`, never an error,
//!   and `n` is a true lower bound: `prefix + n <= len()`;
//! - a prefix at a cut point never contradicts the whole input: a prefix
//!   that is complete, not TLS, or an error gives the same answer (the same
//!   error kind) as the whole input;
//! - a valid server name is normalised (parsing it again gives itself).

use sixgate::name::HostName;
use sixgate::tls::{read_client_hello, ServerName, Status};

use crate::cut_point;

/// Runs the checks above on `data`; panics if one fails.
pub fn check(data: &[u8]) {
    let whole = read_client_hello(data);
    if let Ok(Status::Complete(hello)) = &whole {
        let len = hello.len();
        assert!(len <= data.len(), "len {len} > input {}", data.len());
        assert!(hello.record_count() >= 1, "a hello in no record");
        assert!(hello.record_count() <= len, "more records than bytes");
        assert_eq!(
            read_client_hello(&data[..len]),
            whole,
            "exactly len() bytes read differently"
        );
        assert_need_more(data, len - 1, len);
        if let ServerName::HostName(name) = hello.server_name() {
            assert_eq!(HostName::new(name.as_str().as_bytes()).as_ref(), Ok(name));
        }
    }

    let cut = cut_point(data);
    let prefix = read_client_hello(&data[..cut]);
    match (&prefix, &whole) {
        (Ok(Status::NeedMore(n)), _) => {
            assert!(*n >= 1, "NeedMore(0) at {cut}");
            match &whole {
                Ok(Status::Complete(hello)) => assert_need_more(data, cut, hello.len()),
                Ok(Status::NotTls) => assert!(cut < 2, "NotTls decided only at {cut} bytes"),
                _ => {}
            }
        }
        (Ok(p), Ok(w)) => assert_eq!(p, w, "prefix of {cut} bytes disagrees"),
        (Err(p), Err(w)) => assert_eq!(p.kind(), w.kind(), "prefix of {cut}: {p} vs whole: {w}"),
        (p, w) => panic!("prefix of {cut} bytes gave {p:?}, whole input {w:?}"),
    }
}

/// A strict prefix of `cut` bytes of a hello of `len` bytes needs more, and
/// says no more than it really needs.
fn assert_need_more(data: &[u8], cut: usize, len: usize) {
    assert!(cut < len, "cut {cut} is not before the end {len}");
    match read_client_hello(&data[..cut]) {
        Ok(Status::NeedMore(n)) => assert!(
            n >= 1 && cut + n <= len,
            "prefix of {cut} bytes asks for {n} more of a {len}-byte hello"
        ),
        other => panic!("prefix of {cut} bytes of a {len}-byte hello gave {other:?}"),
    }
}
