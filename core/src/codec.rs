//! A borrowed cursor over untrusted bytes, shared by the parsers in this
//! crate (after rustls `msgs/codec.rs`).
//!
//! Every read is checked against the bytes present and returns `None` when
//! they run short; nothing here indexes past the end, allocates, or panics.
//! Length prefixes open bounded sub-readers, so a nested length can never
//! reach beyond its parent.

/// A cursor over a borrowed byte slice.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over all of `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The next `n` bytes, or `None` (consuming nothing) if fewer remain.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.buf.len() {
            return None;
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Some(head)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).and_then(|b| b.try_into().ok())
    }

    /// One byte.
    pub(crate) fn u8(&mut self) -> Option<u8> {
        self.array::<1>().map(|[b]| b)
    }

    /// A big-endian u16.
    pub(crate) fn u16(&mut self) -> Option<u16> {
        self.array().map(u16::from_be_bytes)
    }

    /// A big-endian 24-bit number.
    pub(crate) fn u24(&mut self) -> Option<u32> {
        self.array::<3>()
            .map(|[a, b, c]| u32::from_be_bytes([0, a, b, c]))
    }

    /// A sub-reader over the next `len` bytes.
    pub(crate) fn sub(&mut self, len: usize) -> Option<Reader<'a>> {
        self.take(len).map(Reader::new)
    }

    /// A sub-reader over a vector with a one-byte length prefix.
    pub(crate) fn sub_u8(&mut self) -> Option<Reader<'a>> {
        let len = self.u8()?;
        self.sub(usize::from(len))
    }

    /// A sub-reader over a vector with a two-byte length prefix.
    pub(crate) fn sub_u16(&mut self) -> Option<Reader<'a>> {
        let len = self.u16()?;
        self.sub(usize::from(len))
    }

    /// All the bytes left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// How many bytes are left.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether no bytes are left.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() {
        let mut r = Reader::new(&[1, 2, 3, 4, 5, 6]);
        assert_eq!(r.u8(), Some(1));
        assert_eq!(r.u16(), Some(0x0203));
        assert_eq!(r.take(4), None);
        assert_eq!(r.remaining(), 3, "a failed read consumes nothing");
        assert_eq!(r.u24(), Some(0x040506));
        assert!(r.is_empty());
        assert_eq!(r.u8(), None);
    }

    #[test]
    fn sub_readers_are_bounded_by_their_prefix() {
        let mut r = Reader::new(&[2, 0xaa, 0xbb, 0xcc]);
        let mut sub = r.sub_u8().unwrap();
        assert_eq!(sub.rest(), &[0xaa, 0xbb]);
        assert_eq!(r.rest(), &[0xcc]);
        // A prefix longer than what is there gives None.
        let mut r = Reader::new(&[0, 9, 1, 2]);
        assert!(r.sub_u16().is_none());
    }
}
