//! Relaying bytes both ways once a backend is chosen, with an idle timeout
//! over both directions together (a long download with a silent client is
//! not idle). Half-closes are passed on: when one side finishes sending, the
//! other side's write half is shut down and the other direction goes on.
//!
//! Each direction starts by copying through a buffer of up to 32 KiB that
//! is taken when bytes are ready to read and given back once they are
//! written, so an idle connection holds no buffer at all. With [`Copier::Splice`], a direction that has moved
//! [`SPLICE_AFTER`] bytes switches to splice(2): the bytes then go socket →
//! pipe → socket inside the kernel and the buffer is freed. Short exchanges
//! (a request, a redirect) never pay for a pipe; bulk transfers stop copying
//! through user space (measured: about 30 % less CPU per GB, see
//! docs/proxy.md).

use std::io::{self, ErrorKind};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use rustix::pipe::{pipe_with, splice, PipeFlags, SpliceFlags};
use tokio::io::Interest;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The size of each direction's buffer.
const BUF: usize = 32 * 1024;

/// Bytes a direction moves through its buffer before it switches to splice.
pub(crate) const SPLICE_AFTER: u64 = 256 * 1024;

/// The most bytes moved by one splice(2) call (a default pipe holds 64 KiB).
const SPLICE_CHUNK: usize = 64 * 1024;

/// How bytes are moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Copier {
    /// read(2) into a buffer, write(2) from it.
    Buffer,
    /// The buffer first, then splice(2) for bulk.
    Splice,
}

/// How a relay ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// Both sides finished (or one reset the connection).
    Done,
    /// Nothing moved either way for the idle timeout.
    Idle,
}

/// Relays until both directions end or the connection is idle for `idle`.
/// Returns bytes client→backend, backend→client and how it ended.
pub(crate) async fn relay(
    client: &TcpStream,
    backend: &TcpStream,
    idle: Duration,
    copier: Copier,
) -> (u64, u64, End) {
    let start = Instant::now();
    let last = AtomicU64::new(0);
    let up = AtomicU64::new(0);
    let down = AtomicU64::new(0);
    let clock = Clock { start, last: &last };
    let both = async {
        tokio::join!(
            pump(client, backend, copier, clock, &up),
            pump(backend, client, copier, clock, &down)
        )
    };
    let watchdog = async {
        loop {
            let at = clock.last_seen() + idle;
            tokio::time::sleep_until(at).await;
            if Instant::now().saturating_duration_since(clock.last_seen()) >= idle {
                return;
            }
        }
    };
    let end = tokio::select! {
        _ = both => End::Done,
        () = watchdog => End::Idle,
    };
    (up.load(Relaxed), down.load(Relaxed), end)
}

/// When bytes last moved, shared by both directions.
#[derive(Clone, Copy)]
struct Clock<'a> {
    start: Instant,
    last: &'a AtomicU64,
}

impl Clock<'_> {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Relaxed);
    }

    fn last_seen(&self) -> Instant {
        self.start + Duration::from_millis(self.last.load(Relaxed))
    }
}

/// Moves `from` → `to` until EOF or an error, then shuts `to`'s write half.
async fn pump(
    from: &TcpStream,
    to: &TcpStream,
    copier: Copier,
    clock: Clock<'_>,
    count: &AtomicU64,
) {
    let mut moved = 0u64;
    let mut pipe: Option<Pipe> = None;
    loop {
        if pipe.is_none() && copier == Copier::Splice && moved >= SPLICE_AFTER {
            // A pipe cannot be had (descriptors short): keep the buffer.
            pipe = Pipe::new().ok();
        }
        let step = match &pipe {
            Some(p) => splice_step(from, to, p).await,
            None => copy_step(from, to).await,
        };
        match step {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                moved = moved.saturating_add(n as u64);
                count.fetch_add(n as u64, Relaxed);
                clock.touch();
            }
        }
    }
    let _ = socket2::SockRef::from(to).shutdown(std::net::Shutdown::Write);
}

/// One read and the writes that pass it on; 0 at EOF. The buffer exists
/// only between the read and the last write (uninitialised capacity, so
/// taking it costs no zeroing).
async fn copy_step(from: &TcpStream, to: &TcpStream) -> io::Result<usize> {
    from.readable().await?;
    let mut buf: Vec<u8> = Vec::with_capacity(BUF);
    let n = loop {
        match from.try_read_buf(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => from.readable().await?,
            Err(e) => return Err(e),
        }
    };
    let mut done = 0;
    while done < n {
        to.writable().await?;
        match to.try_write(buf.get(done..n).unwrap_or_default()) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(m) => done = done.saturating_add(m),
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A pipe for splice(2), both ends non-blocking.
struct Pipe {
    read: OwnedFd,
    write: OwnedFd,
}

impl Pipe {
    fn new() -> io::Result<Self> {
        let (read, write) = pipe_with(PipeFlags::NONBLOCK | PipeFlags::CLOEXEC)?;
        Ok(Self { read, write })
    }
}

/// One splice from `from` into the pipe and the splices that empty it into
/// `to`; 0 at EOF. Readiness comes from tokio; every splice is non-blocking.
async fn splice_step(from: &TcpStream, to: &TcpStream, pipe: &Pipe) -> io::Result<usize> {
    let flags = SpliceFlags::MOVE | SpliceFlags::NONBLOCK;
    let n = loop {
        from.readable().await?;
        match from.try_io(Interest::READABLE, || {
            splice(from, None, &pipe.write, None, SPLICE_CHUNK, flags).map_err(io::Error::from)
        }) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    };
    let mut left = n;
    while left > 0 {
        to.writable().await?;
        match to.try_io(Interest::WRITABLE, || {
            splice(&pipe.read, None, to, None, left, flags).map_err(io::Error::from)
        }) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(m) => left = left.saturating_sub(m),
            Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
