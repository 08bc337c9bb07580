//! Relaying bytes both ways once a backend is chosen, with an idle timeout
//! over both directions together (a long download with a silent client is
//! not idle). Half-closes are passed on: when one side finishes sending, the
//! other side's write half is shut down and the other direction goes on.
//! Memory: one fixed buffer per direction.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

/// The size of each direction's buffer.
const BUF: usize = 32 * 1024;

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
    client: &mut TcpStream,
    backend: &mut TcpStream,
    idle: Duration,
) -> (u64, u64, End) {
    let start = Instant::now();
    let last = AtomicU64::new(0);
    let up = AtomicU64::new(0);
    let down = AtomicU64::new(0);
    let (mut cr, mut cw) = client.split();
    let (mut br, mut bw) = backend.split();
    let both = async {
        tokio::join!(
            pump(&mut cr, &mut bw, start, &last, &up),
            pump(&mut br, &mut cw, start, &last, &down)
        )
    };
    let watchdog = async {
        loop {
            let at = start + Duration::from_millis(last.load(Relaxed)) + idle;
            tokio::time::sleep_until(at).await;
            let seen = start + Duration::from_millis(last.load(Relaxed));
            if Instant::now().saturating_duration_since(seen) >= idle {
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

/// Copies `from` to `to` until EOF or an error, then shuts `to`'s write half.
async fn pump<R, W>(from: &mut R, to: &mut W, start: Instant, last: &AtomicU64, count: &AtomicU64)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let Some(chunk) = buf.get(..n) else { break };
        if to.write_all(chunk).await.is_err() {
            break;
        }
        count.fetch_add(n as u64, Relaxed);
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        last.store(ms, Relaxed);
    }
    let _ = to.shutdown().await;
}
