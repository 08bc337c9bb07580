//! The sockets: a UDP and a TCP listener per address, one task per query,
//! and the loop that drives a [`Resolution`] against the upstreams.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use sixgate::dns64::{error_reply, Action, ClientPolicy, Resolution};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, Semaphore};

use super::cache::{Cache, Lookup, QueryInfo};
use super::config::Config;
use super::limit::{Limiter, LogLimit};
use super::metrics::{CacheGauges, Drop, Metrics, Proto};
use super::upstream::Upstreams;

/// The most queries in flight over every socket together.
pub(crate) const MAX_IN_FLIGHT: usize = 10_000;

/// The most queries in flight on one TCP connection.
const MAX_PER_CONNECTION: usize = 100;

/// A TCP connection with nothing in flight is closed after this long idle.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The UDP size a client without EDNS may receive (RFC 1035 §4.2.1).
const PLAIN_UDP: usize = 512;

/// What a config reload replaces as a whole; queries in flight finish with
/// the state they started with.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) config: Config,
    upstreams: Upstreams,
    pub(crate) cache: Option<Cache>,
    limiter: Option<Limiter>,
}

impl State {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            upstreams: Upstreams::new(config.upstreams.clone(), config.timeout),
            cache: Cache::new(config.cache),
            limiter: config.rate_limit.map(Limiter::new),
            config,
        }
    }

    /// The cache's gauges for /metrics.
    pub(crate) fn cache_gauges(&self) -> CacheGauges {
        self.cache
            .as_ref()
            .map_or_else(CacheGauges::default, |c| CacheGauges {
                entries: c.len(),
                bytes: c.bytes(),
                capacity: self.config.cache.size,
            })
    }
}

/// What every task shares.
#[derive(Debug)]
pub(crate) struct Shared {
    state: ArcSwap<State>,
    pub(crate) metrics: Arc<Metrics>,
    in_flight: AtomicUsize,
    /// Warnings about malformed queries, at most one per 10 s.
    malformed: LogLimit,
    /// Warnings about rate-limited clients, at most one per 10 s.
    limited: LogLimit,
}

impl Shared {
    pub(crate) fn new(state: State, metrics: Arc<Metrics>) -> Self {
        Self {
            state: ArcSwap::from_pointee(state),
            metrics,
            in_flight: AtomicUsize::new(0),
            malformed: LogLimit::new(Duration::from_secs(10)),
            limited: LogLimit::new(Duration::from_secs(10)),
        }
    }

    /// The current state.
    pub(crate) fn state(&self) -> Arc<State> {
        self.state.load_full()
    }

    /// Puts a new state in place (a reload).
    pub(crate) fn replace(&self, state: State) {
        self.state.store(Arc::new(state));
    }

    /// Takes a slot under [`MAX_IN_FLIGHT`], or `None` (counted) when full.
    fn slot(self: &Arc<Self>) -> Option<Slot> {
        let prev = self.in_flight.fetch_add(1, Ordering::AcqRel);
        if prev >= MAX_IN_FLIGHT {
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.metrics.dropped(Drop::Overload);
            return None;
        }
        Some(Slot(self.clone()))
    }

    fn warn_malformed(&self, client: IpAddr, what: &str) {
        if let Some(held) = self.malformed.pass() {
            tracing::warn!(
                "malformed query client={client} problem=\"{what}\" (similar warnings held back since the last: {held}; at most one per 10s)"
            );
        }
    }
}

/// One query in flight; frees its place when dropped.
struct Slot(Arc<Shared>);

impl std::ops::Drop for Slot {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// What the quick checks decided about a client message.
enum Quick {
    /// `out` holds the reply (a refusal or a cached answer).
    Reply,
    /// Say nothing.
    Silent,
    /// Resolve it under the client's `policy` (its index, see
    /// `Policy::lookup`); `info` is set when the answer can be cached.
    Resolve {
        policy: u16,
        info: Option<Box<QueryInfo>>,
    },
}

/// The checks every message goes through before any task is spawned: the
/// ACL, the rate limit and the cache. Cheap: no message parsing beyond the
/// question, no allocation unless `out` must grow.
fn quick(
    shared: &Shared,
    state: &State,
    client: IpAddr,
    bytes: &[u8],
    proto: Proto,
    out: &mut Vec<u8>,
) -> Quick {
    let m = &shared.metrics;
    if !state.config.acl.allows(client) {
        m.refused();
        let Some(reply) = error_reply(bytes, ResponseCode::Refused) else {
            return Quick::Silent;
        };
        m.response(ResponseCode::Refused);
        *out = reply;
        return Quick::Reply;
    }
    if let Some(limiter) = &state.limiter {
        if !limiter.allow(client) {
            m.dropped(Drop::RateLimited);
            if let Some(held) = shared.limited.pass() {
                tracing::warn!(
                    "rate limit: dropping queries client={client} (similar warnings held back since the last: {held}; at most one per 10s)"
                );
            }
            // UDP: silence (no reflection); TCP: a REFUSED the client sees.
            if proto == Proto::Tcp {
                if let Some(reply) = error_reply(bytes, ResponseCode::Refused) {
                    m.response(ResponseCode::Refused);
                    *out = reply;
                    return Quick::Reply;
                }
            }
            return Quick::Silent;
        }
    }
    let (policy, _) = state.config.policy.lookup(client);
    let info = QueryInfo::read(bytes, policy);
    if let (Some(cache), Some(info)) = (&state.cache, &info) {
        match cache.lookup(info, bytes, out) {
            Lookup::Hit { rcode, synthesized } => {
                if proto == Proto::Udp && out.len() > info.udp_limit {
                    *out = fit_udp(std::mem::take(out), info.udp_limit);
                }
                m.cache_hit();
                m.response_low(rcode);
                if synthesized {
                    m.synthesized();
                }
                return Quick::Reply;
            }
            Lookup::Miss => m.cache_miss(),
        }
    }
    Quick::Resolve {
        policy,
        info: info.map(Box::new),
    }
}

/// A reply for the client, or nothing.
struct Reply {
    bytes: Vec<u8>,
}

/// Resolves one query that passed [`quick`]: the reply's bytes, or `None`
/// to stay silent. A cacheable answer is cached.
async fn resolve(
    shared: &Shared,
    state: &State,
    client: IpAddr,
    bytes: &[u8],
    policy: u16,
    info: Option<Box<QueryInfo>>,
) -> Option<Reply> {
    let m = &shared.metrics;
    let query = match Message::from_vec(bytes) {
        Ok(q) => q,
        Err(e) => {
            m.formerr();
            shared.warn_malformed(client, &e.to_string());
            let Some(reply) = error_reply(bytes, ResponseCode::FormErr) else {
                m.dropped(Drop::Unparsable);
                return None;
            };
            m.response(ResponseCode::FormErr);
            return Some(Reply { bytes: reply });
        }
    };
    let started = match state.config.policy.get(policy) {
        Some(config) => Resolution::new(config, &query),
        None => Resolution::with_policy(&ClientPolicy::new(None), client, &query),
    };
    let mut r = match started {
        Ok(r) => r,
        Err(e) => {
            if e.response_code() == ResponseCode::FormErr {
                m.formerr();
                shared.warn_malformed(client, &e.to_string());
            }
            let Some(reply) = error_reply(bytes, e.response_code()) else {
                m.dropped(Drop::Unparsable);
                return None;
            };
            m.response(e.response_code());
            return Some(Reply { bytes: reply });
        }
    };
    let question = r.query().clone();
    let mut asked_a = false;
    loop {
        match r.poll() {
            Action::Upstream(up) => {
                asked_a |= up.queries().first().map(|q| q.query_type()) == Some(RecordType::A);
                let asked = up
                    .queries()
                    .first()
                    .cloned()
                    .unwrap_or_else(|| question.clone());
                let answer = match up.to_vec() {
                    Ok(wire) => state.upstreams.exchange(&wire, &asked, m).await,
                    Err(_) => None,
                };
                match answer.and_then(|a| Message::from_vec(&a).ok()) {
                    Some(a) => r.handle_response(&a),
                    None => r.handle_failure(),
                }
            }
            Action::Forward => {
                let reply = match state.upstreams.exchange(bytes, &question, m).await {
                    Some(a) => a,
                    None => error_reply(bytes, ResponseCode::ServFail)?,
                };
                m.response_low(reply.get(3).map_or(2, |b| b & 0x0f));
                if let (Some(cache), Some(info)) = (&state.cache, &info) {
                    cache.insert(info, &reply, false);
                }
                return Some(Reply { bytes: reply });
            }
            Action::Respond(resp) => {
                let synthesized = question.query_type() == RecordType::AAAA
                    && (asked_a || is_ipv4only(&question))
                    && resp
                        .answers()
                        .iter()
                        .any(|a| a.record_type() == RecordType::AAAA);
                if synthesized {
                    m.synthesized();
                }
                m.response(resp.response_code());
                let bytes = match resp.to_vec() {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::debug!("cannot encode a response: {e}");
                        error_reply(bytes, ResponseCode::ServFail)?
                    }
                };
                if let (Some(cache), Some(info)) = (&state.cache, &info) {
                    cache.insert(info, &bytes, synthesized);
                }
                return Some(Reply { bytes });
            }
            Action::Wait | Action::Done => {
                return error_reply(bytes, ResponseCode::ServFail).map(|bytes| Reply { bytes })
            }
        }
    }
}

fn is_ipv4only(q: &hickory_proto::op::Query) -> bool {
    q.name()
        .to_ascii()
        .trim_end_matches('.')
        .eq_ignore_ascii_case("ipv4only.arpa")
}

/// The UDP payload the client can take: its EDNS size (at least 512), or
/// 512 without EDNS.
fn client_udp_size(query: &[u8]) -> usize {
    Message::from_vec(query)
        .ok()
        .and_then(|m| {
            m.extensions()
                .as_ref()
                .map(|e| usize::from(e.max_payload()))
        })
        .map_or(PLAIN_UDP, |n| n.max(PLAIN_UDP))
}

/// `reply` cut to header and question with TC set when it exceeds `limit`.
fn fit_udp(reply: Vec<u8>, limit: usize) -> Vec<u8> {
    if reply.len() <= limit {
        return reply;
    }
    let Ok(mut m) = Message::from_vec(&reply) else {
        return reply.get(..limit).map(<[u8]>::to_vec).unwrap_or(reply);
    };
    m.take_answers();
    m.take_name_servers();
    m.take_additionals();
    m.set_truncated(true);
    match m.to_vec() {
        Ok(b) if b.len() <= limit => b,
        _ => {
            // Even the question does not fit: a bare header.
            let mut head = reply.get(..12).map(<[u8]>::to_vec).unwrap_or_default();
            if let Some(flags) = head.get_mut(2) {
                *flags |= 0x02;
            }
            for b in head.iter_mut().skip(4) {
                *b = 0;
            }
            head
        }
    }
}

/// Binds a UDP socket (IPv6 ones IPv6-only: IPv4 gets its own).
pub(crate) fn bind_udp(addr: SocketAddr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

/// Binds a TCP listener (IPv6 ones IPv6-only).
pub(crate) fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    TcpListener::from_std(socket.into())
}

/// Serves one UDP socket until the process ends. Refusals and cache hits
/// are answered inline; everything else gets a task.
pub(crate) async fn udp_loop(shared: Arc<Shared>, socket: UdpSocket) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65_535];
    let mut out = Vec::with_capacity(4096);
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!("udp: recv failed: {e}");
                continue;
            }
        };
        shared.metrics.query(Proto::Udp);
        let bytes = buf.get(..n).unwrap_or_default();
        let state = shared.state();
        let (policy, info) = match quick(&shared, &state, peer.ip(), bytes, Proto::Udp, &mut out) {
            Quick::Silent => continue,
            Quick::Reply => {
                match socket.try_send_to(&out, peer) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        let socket = socket.clone();
                        let reply = out.clone();
                        tokio::spawn(async move {
                            let _ = socket.send_to(&reply, peer).await;
                        });
                    }
                    Err(e) => tracing::debug!("udp: send to {peer} failed: {e}"),
                }
                continue;
            }
            Quick::Resolve { policy, info } => (policy, info),
        };
        let Some(slot) = shared.slot() else { continue };
        let bytes = bytes.to_vec();
        let socket = socket.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let limit = info
                .as_ref()
                .map_or_else(|| client_udp_size(&bytes), |i| i.udp_limit);
            if let Some(reply) = resolve(&shared, &state, peer.ip(), &bytes, policy, info).await {
                let reply = fit_udp(reply.bytes, limit);
                if let Err(e) = socket.send_to(&reply, peer).await {
                    tracing::debug!("udp: send to {peer} failed: {e}");
                }
            }
        });
    }
}

/// Accepts TCP connections until the process ends.
pub(crate) async fn tcp_loop(shared: Arc<Shared>, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("tcp: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = connection(shared, stream, peer).await {
                tracing::debug!("tcp: {peer}: {e}");
            }
        });
    }
}

/// One TCP connection: length-framed queries, each answered as soon as it
/// is resolved (pipelining), at most [`MAX_PER_CONNECTION`] at once.
async fn connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) -> io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let wr = Arc::new(Mutex::new(wr));
    let per_conn = Arc::new(Semaphore::new(MAX_PER_CONNECTION));
    loop {
        let permit = per_conn
            .clone()
            .acquire_owned()
            .await
            .map_err(io::Error::other)?;
        // Wait for the next query (cancel-safe: nothing is consumed), then
        // read the whole frame within the idle time.
        loop {
            match tokio::time::timeout(TCP_IDLE, rd.readable()).await {
                Ok(r) => break r?,
                // Idle, but answers still pending: keep the connection.
                Err(_) if per_conn.available_permits() < MAX_PER_CONNECTION - 1 => continue,
                Err(_) => return Ok(()),
            }
        }
        let bytes = tokio::time::timeout(TCP_IDLE, async {
            let len = rd.read_u16().await?;
            let mut bytes = vec![0u8; usize::from(len)];
            rd.read_exact(&mut bytes).await?;
            io::Result::Ok(bytes)
        })
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))??;
        shared.metrics.query(Proto::Tcp);
        let state = shared.state();
        let mut out = Vec::new();
        let info = match quick(&shared, &state, peer.ip(), &bytes, Proto::Tcp, &mut out) {
            Quick::Silent => continue,
            Quick::Reply => None,
            Quick::Resolve { policy, info } => Some((policy, info)),
        };
        let Some(slot) = shared.slot() else { continue };
        let shared = shared.clone();
        let wr = wr.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let _permit = permit;
            let reply = match info {
                None => Some(Reply { bytes: out }),
                Some((policy, info)) => {
                    resolve(&shared, &state, peer.ip(), &bytes, policy, info).await
                }
            };
            if let Some(reply) = reply {
                let Ok(n) = u16::try_from(reply.bytes.len()) else {
                    return;
                };
                let mut framed = Vec::with_capacity(reply.bytes.len() + 2);
                framed.extend_from_slice(&n.to_be_bytes());
                framed.extend_from_slice(&reply.bytes);
                let mut w = wr.lock().await;
                if let Err(e) = w.write_all(&framed).await {
                    tracing::debug!("tcp: write to {peer} failed: {e}");
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{Name, RData, Record};
    use std::net::Ipv4Addr;

    #[test]
    fn truncates_to_the_client_size() {
        let name = Name::from_ascii("big.example.test.").unwrap();
        let mut m = Message::new();
        m.set_id(9);
        m.add_query(Query::query(name.clone(), RecordType::A));
        for i in 0..100u8 {
            m.add_answer(Record::from_rdata(
                name.clone(),
                60,
                RData::A(A(Ipv4Addr::new(192, 0, 2, i))),
            ));
        }
        let wire = m.to_vec().unwrap();
        assert!(wire.len() > 512);
        let cut = fit_udp(wire.clone(), 512);
        let cut = Message::from_vec(&cut).unwrap();
        assert!(cut.truncated());
        assert_eq!(cut.id(), 9);
        assert_eq!(cut.queries().len(), 1);
        assert!(cut.answers().is_empty());
        assert_eq!(fit_udp(wire.clone(), 65_535), wire);
    }
}
