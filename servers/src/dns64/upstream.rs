//! Asking the upstream resolvers: one query at a time, a fresh random ID and
//! a fresh UDP socket (so a random source port) per try, answers matched by
//! ID and question, TC answers retried over TCP to the same upstream, and
//! failover to the next upstream on a timeout or a network error.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use hickory_proto::op::Query;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use super::limit::LogLimit;
use super::metrics::{Metrics, UpstreamError};

/// The UDP receive buffer for an upstream answer. Queries advertise 1232
/// bytes; an answer that fills this buffer may have been cut, so it is
/// treated as truncated and asked again over TCP. (Not 64 KiB: zeroing and
/// allocating that per try was a sixth of the CPU of a cache miss.)
const UDP_BUF: usize = 4096;

/// How often, at most, an upstream failure is logged at warn level.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// The upstream set and what it needs to ask them.
#[derive(Debug)]
pub(crate) struct Upstreams {
    pub(crate) addrs: Vec<SocketAddr>,
    pub(crate) timeout: Duration,
    ids: RandomState,
    counter: AtomicU64,
    started: Instant,
    warnings: LogLimit,
}

impl Upstreams {
    pub(crate) fn new(addrs: Vec<SocketAddr>, timeout: Duration) -> Self {
        Self {
            addrs,
            timeout,
            ids: RandomState::new(),
            counter: AtomicU64::new(0),
            started: Instant::now(),
            warnings: LogLimit::new(WARN_EVERY),
        }
    }

    /// A fresh message ID: SipHash under this process's random keys of a
    /// counter, so unpredictable from outside.
    fn fresh_id(&self) -> u16 {
        let mut h = self.ids.build_hasher();
        h.write_u64(self.counter.fetch_add(1, Relaxed));
        h.write_u128(self.started.elapsed().as_nanos());
        let v = h.finish();
        (v ^ (v >> 16) ^ (v >> 32) ^ (v >> 48)) as u16
    }

    /// Sends `query` (wire bytes; its ID is replaced) for `question` to each
    /// upstream in turn until one answers; the answer's bytes come back with
    /// the ID the query had. `None` when every upstream failed.
    pub(crate) async fn exchange(
        &self,
        query: &[u8],
        question: &Query,
        metrics: &Metrics,
    ) -> Option<Vec<u8>> {
        let (original, rest) = query.split_first_chunk::<2>()?;
        for &upstream in &self.addrs {
            let id = self.fresh_id();
            let mut wire = Vec::with_capacity(query.len());
            wire.extend_from_slice(&id.to_be_bytes());
            wire.extend_from_slice(rest);
            match self.try_one(upstream, &wire).await {
                Ok(mut answer) => {
                    if let Some(head) = answer.get_mut(..2) {
                        head.copy_from_slice(original);
                    }
                    return Some(answer);
                }
                Err(reason) => {
                    metrics.upstream_error(reason);
                    self.warn(upstream, question, reason);
                }
            }
        }
        None
    }

    fn warn(&self, upstream: SocketAddr, question: &Query, reason: UpstreamError) {
        if let Some(held) = self.warnings.pass() {
            tracing::warn!(
                "upstream failed upstream={upstream} reason={} query=\"{} {}\" (failures held back since the last warning: {held}; at most one per {}s)",
                reason.as_str(),
                question.name(),
                question.query_type(),
                WARN_EVERY.as_secs()
            );
        } else {
            tracing::debug!(
                "upstream failed upstream={upstream} reason={}",
                reason.as_str()
            );
        }
    }

    async fn try_one(&self, upstream: SocketAddr, wire: &[u8]) -> Result<Vec<u8>, UpstreamError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        let udp = tokio::time::timeout_at(deadline, udp(upstream, wire)).await;
        let answer = match udp {
            Err(_) => return Err(UpstreamError::Timeout),
            Ok(Err(_)) => return Err(UpstreamError::Network),
            Ok(Ok(answer)) => answer,
        };
        // TC: ask again over TCP, with a fresh timeout.
        if answer.get(2).is_some_and(|flags| flags & 0x02 != 0) {
            let tcp = tokio::time::timeout(self.timeout, tcp(upstream, wire)).await;
            return match tcp {
                Ok(Ok(answer)) => Ok(answer),
                _ => Err(UpstreamError::Tcp),
            };
        }
        Ok(answer)
    }
}

/// Where the question of a query we built ends: one uncompressed name,
/// type and class after the 12-byte header.
fn question_end(wire: &[u8]) -> Option<usize> {
    let mut at = 12;
    for _ in 0..128 {
        let len = usize::from(*wire.get(at)?);
        if len > 63 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            return Some(at + 4).filter(|&end| end <= wire.len());
        }
    }
    None
}

/// Whether `bytes` answer the query `sent` (our bytes, with our ID): same
/// ID, QR set, exactly one question, the same name (in any case, for
/// upstreams that echo 0x20 spelling differently), type and class. Checked
/// on the wire, without parsing the whole message (the caller parses it
/// once afterwards).
fn matches(bytes: &[u8], sent: &[u8]) -> bool {
    let (Some(end), Some(head)) = (question_end(sent), bytes.get(..12)) else {
        return false;
    };
    let Some(name_end) = end.checked_sub(4) else {
        return false;
    };
    head[..2] == sent[..2]
        && head[2] & 0x80 != 0
        && head[4..6] == [0, 1]
        && bytes
            .get(12..name_end)
            .is_some_and(|n| n.eq_ignore_ascii_case(&sent[12..name_end]))
        && bytes.get(name_end..end) == sent.get(name_end..end)
}

async fn udp(upstream: SocketAddr, wire: &[u8]) -> io::Result<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        (Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(wire).await?;
    let mut buf = Vec::with_capacity(UDP_BUF);
    loop {
        buf.clear();
        // Into spare capacity: nothing is zeroed first.
        let n = socket.recv_buf(&mut buf).await?;
        buf.truncate(n);
        if matches(&buf, wire) {
            if n >= UDP_BUF {
                if let Some(flags) = buf.get_mut(2) {
                    *flags |= 0x02; // maybe cut: fetch it over TCP
                }
            }
            return Ok(buf);
        }
        // Not ours (late, spoofed or garbled): keep waiting until the deadline.
    }
}

async fn tcp(upstream: SocketAddr, wire: &[u8]) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let len = u16::try_from(wire.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
    let mut framed = Vec::with_capacity(wire.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(wire);
    stream.write_all(&framed).await?;
    loop {
        let n = stream.read_u16().await?;
        let mut buf = vec![0u8; usize::from(n)];
        stream.read_exact(&mut buf).await?;
        if matches(&buf, wire) {
            return Ok(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_match_on_the_wire() {
        use hickory_proto::op::{Message, MessageType};
        use hickory_proto::rr::{Name, RecordType};
        let mut q = Message::new();
        q.set_id(0x1234);
        q.add_query(Query::query(
            Name::from_ascii("wWw.Example.test.").unwrap(),
            RecordType::AAAA,
        ));
        let sent = q.to_vec().unwrap();
        let mut a = q.clone();
        a.set_message_type(MessageType::Response);
        assert!(matches(&a.to_vec().unwrap(), &sent));
        let mut other_case = a.clone();
        other_case.queries_mut()[0].set_name(Name::from_ascii("WWW.example.TEST.").unwrap());
        assert!(matches(&other_case.to_vec().unwrap(), &sent));
        let mut wrong_id = a.clone();
        wrong_id.set_id(0x1235);
        assert!(!matches(&wrong_id.to_vec().unwrap(), &sent));
        // 65 (HTTPS) and 97 differ only in the bit ASCII case folding ignores.
        let mut https = q.clone();
        https.queries_mut()[0].set_query_type(RecordType::HTTPS);
        let https_sent = https.to_vec().unwrap();
        let mut t97 = a.clone();
        t97.queries_mut()[0].set_query_type(RecordType::Unknown(97));
        assert!(!matches(&t97.to_vec().unwrap(), &https_sent));
        assert!(!matches(&sent, &sent), "a query is not an answer");
        let mut other = a.clone();
        other.queries_mut()[0].set_name(Name::from_ascii("www.example.tesu.").unwrap());
        assert!(!matches(&other.to_vec().unwrap(), &sent));
        for n in 0..sent.len() {
            assert!(!matches(&a.to_vec().unwrap()[..n], &sent));
        }
    }

    #[test]
    fn ids_vary() {
        let u = Upstreams::new(Vec::new(), Duration::from_secs(1));
        let ids: std::collections::HashSet<u16> = (0..100).map(|_| u.fresh_id()).collect();
        assert!(ids.len() > 90);
    }
}
