//! The proxy's sockets: listeners, the per-connection path (PROXY header from
//! a trusted front, ClientHello or request head, route, backend connect,
//! PROXY header to the backend, relay) and the limits around it.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use sixgate::http::{self, read_request_head, HeadStatus, Host};
use sixgate::proxy_protocol::{self, Decoded, Header};
use sixgate::rfc6052::Nat64Prefix;
use sixgate::tls::{self, read_client_hello, ServerName, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::time::Instant;

use super::config::{Config, Listener, Mode, Source, Target};
use super::dynamic::{self, Cache};
use super::forward::{relay, Copier, End};
use super::metrics::{BackendError, Metrics, Refusal};
use super::route::RouteTable;

/// The TLS alert sent for a name that is not served: fatal (2),
/// unrecognized_name (112), in a TLS 1.2-versioned alert record.
const ALERT_UNRECOGNIZED_NAME: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70];

/// The most bytes a ClientHello may take on the wire: the 64 KiB message
/// plus a header per record (at least 4 handshake bytes per record).
const MAX_HELLO_WIRE: usize = tls::MAX_HELLO_LEN + 5 * (tls::MAX_HELLO_LEN / 4 + 2);

/// What a reload swaps: the config and each listener's route table.
#[derive(Debug)]
pub(crate) struct Runtime {
    pub(crate) config: Config,
    tables: Vec<RouteTable>,
}

impl Runtime {
    pub(crate) fn new(config: Config) -> Self {
        let tables = config
            .listeners
            .iter()
            .map(|l| RouteTable::for_listener(&config, l))
            .collect();
        Self { config, tables }
    }

    /// How many names are routed on listener `i`.
    pub(crate) fn routes_on(&self, i: usize) -> usize {
        self.tables.get(i).map_or(0, RouteTable::len)
    }
}

/// State shared by every connection.
#[derive(Debug)]
pub(crate) struct Shared {
    runtime: RwLock<Arc<Runtime>>,
    pub(crate) metrics: Arc<Metrics>,
    active: AtomicU32,
    per_client: Mutex<HashMap<IpAddr, u32>>,
    cache: Cache,
    floods: [Flood; 3],
    copier: Copier,
}

impl Shared {
    pub(crate) fn new(runtime: Runtime, metrics: Arc<Metrics>, copier: Copier) -> Self {
        Self {
            runtime: RwLock::new(Arc::new(runtime)),
            metrics,
            active: AtomicU32::new(0),
            per_client: Mutex::new(HashMap::new()),
            cache: Cache::default(),
            floods: Default::default(),
            copier,
        }
    }

    /// The config new connections use.
    pub(crate) fn runtime(&self) -> Arc<Runtime> {
        match self.runtime.read() {
            Ok(rt) => rt.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts a new config in place for new connections.
    pub(crate) fn replace(&self, runtime: Runtime) {
        let new = Arc::new(runtime);
        match self.runtime.write() {
            Ok(mut rt) => *rt = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Takes a per-client slot, or `None` past the limit.
    fn client_slot(self: &Arc<Self>, key: IpAddr, limit: u32) -> Option<ClientSlot> {
        let mut map = self.per_client.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(key).or_insert(0);
        if *n >= limit {
            if *n == 0 {
                map.remove(&key);
            }
            return None;
        }
        *n = n.saturating_add(1);
        Some(ClientSlot {
            shared: self.clone(),
            key,
        })
    }
}

/// A held per-client slot; given back on drop.
struct ClientSlot {
    shared: Arc<Shared>,
    key: IpAddr,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut map = self
            .shared
            .per_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = map.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

/// A held connection slot (the total count); given back on drop.
struct ActiveSlot(Arc<Shared>);

impl Drop for ActiveSlot {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Relaxed);
        self.0.metrics.active_sub();
    }
}

/// Refusals at the limits and accept errors come in floods: each is
/// counted, and [`flood_logger`] writes one line per kind per second with
/// the count and the latest case, so a flood cannot flood the log and the
/// last of a burst is still reported.
#[derive(Debug, Default)]
struct Flood {
    count: AtomicU64,
    latest: Mutex<String>,
}

/// The kinds of flood, in the order of [`Shared::floods`].
const FLOOD_KINDS: [&str; 3] = ["max_connections", "per_client_limit", "accept_error"];

impl Shared {
    fn flood(&self, kind: usize, latest: impl FnOnce() -> String) {
        if let Some(f) = self.floods.get(kind) {
            f.count.fetch_add(1, Relaxed);
            if let Ok(mut l) = f.latest.try_lock() {
                *l = latest();
            }
        }
    }
}

/// Writes the flood lines, once a second, for as long as the proxy runs.
pub(crate) async fn flood_logger(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        for (kind, f) in FLOOD_KINDS.iter().zip(&shared.floods) {
            let n = f.count.swap(0, Relaxed);
            if n > 0 {
                let latest = f.latest.lock().map(|l| l.clone()).unwrap_or_default();
                if *kind == "accept_error" {
                    tracing::warn!(
                        "accept failed {n} time(s) in the last second; latest: {latest}"
                    );
                } else {
                    tracing::warn!(
                        "refused {n} connection(s) in the last second: {kind} (latest {latest})"
                    );
                }
            }
        }
    }
}

/// Binds one listen address with a deep backlog, so bursts are not dropped.
/// An IPv6 socket is IPv6-only when `v6_only` (the config also listens on
/// IPv4 at that port); else `[::]:443` alone takes IPv4 too, as
/// `::ffff:a.b.c.d`, which is folded back to IPv4 everywhere.
pub(crate) fn bind(addr: SocketAddr, v6_only: bool) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        socket.set_only_v6(v6_only)?;
    }
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    TcpListener::from_std(socket.into())
}

/// Accepts on one listen socket of listener `index` for ever.
pub(crate) async fn accept_loop(shared: Arc<Shared>, index: usize, listener: TcpListener) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                shared.flood(2, || e.to_string());
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        shared.metrics.accepted(index);
        let rt = shared.runtime();
        let max = rt.config.limits.max_connections;
        if shared.active.fetch_add(1, Relaxed) >= max {
            shared.active.fetch_sub(1, Relaxed);
            refuse_fast(&shared, &rt, index, stream, peer, Refusal::MaxConnections);
            continue;
        }
        shared.metrics.active_add();
        let slot = ActiveSlot(shared.clone());
        let shared = shared.clone();
        tokio::spawn(async move {
            let _slot = slot;
            handle(shared, rt, index, stream, peer).await;
        });
    }
}

/// Closes a connection refused at a limit at once, with a reset, so it holds
/// no descriptor and no TIME_WAIT; logs at most one line a second.
fn refuse_fast(
    shared: &Shared,
    rt: &Runtime,
    index: usize,
    stream: TcpStream,
    peer: SocketAddr,
    why: Refusal,
) {
    shared.metrics.refused(why);
    if let Ok(std) = stream.into_std() {
        let _ = socket2::SockRef::from(&std).set_linger(Some(Duration::ZERO));
    }
    let kind = usize::from(why != Refusal::MaxConnections);
    shared.flood(kind, || {
        let name = rt
            .config
            .listeners
            .get(index)
            .map_or("-", |l| l.name.as_str());
        format!("listener={name} client={}", fold(peer))
    });
}

/// The log line of one connection, written when it ends.
struct ConnLog {
    listener: String,
    client: SocketAddr,
    name: Option<String>,
    backend: Option<SocketAddr>,
    up: u64,
    down: u64,
    start: Instant,
}

impl ConnLog {
    fn finish(&self, outcome: &str) {
        let dash = |o: Option<String>| o.unwrap_or_else(|| "-".into());
        tracing::info!(
            "conn listener={} client={} name={} backend={} up={} down={} ms={} outcome={outcome}",
            self.listener,
            self.client,
            dash(self.name.clone()),
            dash(self.backend.map(|b| b.to_string())),
            self.up,
            self.down,
            self.start.elapsed().as_millis(),
        );
    }
}

/// How routing a connection ended.
enum Decision {
    Forward(Arc<Target>),
    Refuse(Refusal),
}

async fn handle(
    shared: Arc<Shared>,
    rt: Arc<Runtime>,
    index: usize,
    mut client: TcpStream,
    peer: SocketAddr,
) {
    let Some(listener) = rt.config.listeners.get(index) else {
        return;
    };
    let limits = &rt.config.limits;
    let local = client.local_addr().unwrap_or(peer);
    let mut log = ConnLog {
        listener: listener.name.clone(),
        client: fold(peer),
        name: None,
        backend: None,
        up: 0,
        down: 0,
        start: Instant::now(),
    };
    let deadline = Instant::now() + limits.hello_timeout;
    let mut buf: Vec<u8> = Vec::new();
    let mut destination = fold(local);
    let _ = client.set_nodelay(true);

    // A PROXY header from a trusted front replaces the endpoints.
    if listener
        .accept_proxy_from
        .iter()
        .any(|n| n.contains(&fold(peer).ip()))
    {
        match read_proxy_header(&mut client, &mut buf, deadline).await {
            Ok(Header::Proxy {
                source,
                destination: d,
            }) => {
                log.client = source;
                destination = d;
            }
            Ok(Header::Local | Header::Unknown) => {}
            Err(why) => return refuse(&shared, &mut client, &log, listener.mode, why).await,
        }
    }
    let _client_slot = match shared.client_slot(
        client_key(log.client.ip(), limits.client_ipv6_prefix_len),
        limits.max_connections_per_client,
    ) {
        Some(slot) => slot,
        None => {
            shared.metrics.refused(Refusal::PerClientLimit);
            shared.flood(1, || {
                format!("listener={} client={}", listener.name, log.client)
            });
            let _ = socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO));
            return;
        }
    };

    let decision = match listener.mode {
        Mode::Tcp => match &listener.default_target {
            Some(t) => Decision::Forward(t.clone()),
            None => Decision::Refuse(Refusal::UnknownName),
        },
        Mode::Tls => match read_hello(&mut client, &mut buf, deadline).await {
            Ok(name) => route(&shared, &rt, index, listener, name, &mut log).await,
            Err(why) => Decision::Refuse(why),
        },
        Mode::Http => match read_head(&mut client, &mut buf, deadline, limits.max_head).await {
            Ok(host) => {
                let name = match host {
                    Some(Host::Name(n)) => ServerName::HostName(n),
                    Some(Host::Ip(ip)) => ServerName::IpLiteral(ip),
                    None => ServerName::Absent,
                };
                route(&shared, &rt, index, listener, name, &mut log).await
            }
            Err(why) => Decision::Refuse(why),
        },
    };
    let target = match decision {
        Decision::Forward(t) => t,
        Decision::Refuse(why) => {
            return refuse(&shared, &mut client, &log, listener.mode, why).await
        }
    };

    let (mut backend, backend_addr) = match connect(
        &shared,
        &rt,
        listener,
        &target,
        log.client,
        local.port(),
    )
    .await
    {
        Ok(x) => x,
        Err((why, addr)) => {
            log.backend = addr;
            if listener.mode == Mode::Http {
                let _ = client
                        .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 24\r\nConnection: close\r\n\r\nbackend not reachable.\r\n")
                        .await;
            }
            let _ = client.shutdown().await;
            log.finish(&format!("backend:{}", why.as_str()));
            return;
        }
    };
    log.backend = Some(backend_addr);
    shared.metrics.forwarded(index);

    let mut first = match target.proxy_protocol {
        Some(v) => proxy_protocol::encode(&Header::proxy(log.client, destination), v),
        None => Vec::new(),
    };
    first.extend_from_slice(&buf);
    drop(buf);
    if backend.write_all(&first).await.is_err() {
        shared.metrics.backend_error(BackendError::ConnectError);
        log.finish("backend:write_error");
        return;
    }
    let (up, down, end) = relay(&client, &backend, limits.idle_timeout, shared.copier).await;
    let sent_first = first.len() as u64;
    log.up = up.saturating_add(sent_first);
    log.down = down;
    shared.metrics.bytes(log.up, log.down);
    log.finish(match end {
        End::Done => "done",
        End::Idle => "timeout:idle",
    });
}

/// Routes a name: an exact or wildcard route, then the dynamic mode, then
/// the listener's default backend; anything else is refused.
async fn route(
    shared: &Shared,
    rt: &Runtime,
    index: usize,
    listener: &Listener,
    name: ServerName,
    log: &mut ConnLog,
) -> Decision {
    let default = listener.default_target.clone();
    let host = match name {
        ServerName::HostName(n) => n,
        ServerName::IpLiteral(ip) => {
            log.name = Some(ip.to_string());
            return default.map_or(Decision::Refuse(Refusal::IpLiteral), Decision::Forward);
        }
        ServerName::Absent => {
            return default.map_or(Decision::Refuse(Refusal::NoName), Decision::Forward);
        }
        ServerName::Invalid(_) => return Decision::Refuse(Refusal::InvalidName),
    };
    log.name = Some(host.to_string());
    if let Some(t) = rt.tables.get(index).and_then(|t| t.lookup(&host)) {
        return Decision::Forward(t.clone());
    }
    if let Some(dynamic) = &rt.config.dynamic {
        match shared.cache.lookup(dynamic, &host).await {
            Ok(addr) => {
                return Decision::Forward(Arc::new(Target {
                    backends: vec![super::config::Backend::Host(IpAddr::V6(addr))],
                    proxy_protocol: dynamic.proxy_protocol,
                    source: dynamic.source,
                }))
            }
            Err(dynamic::Refused::Resolver(e)) => {
                shared.metrics.backend_error(BackendError::Resolve);
                tracing::warn!("dynamic lookup of {host} failed: {e}");
            }
            Err(why) => {
                tracing::debug!("dynamic mode refused {host}: {why}");
                if default.is_none() {
                    return Decision::Refuse(Refusal::DynamicRefused);
                }
            }
        }
    }
    default.map_or(Decision::Refuse(Refusal::UnknownName), Decision::Forward)
}

/// Sends what a refused client is told (a TLS alert, an HTTP status, or
/// nothing), closes, counts and logs.
async fn refuse(shared: &Shared, client: &mut TcpStream, log: &ConnLog, mode: Mode, why: Refusal) {
    shared.metrics.refused(why);
    let reply: &[u8] = match (mode, why) {
        (Mode::Tls, Refusal::UnknownName | Refusal::InvalidName | Refusal::NoName | Refusal::IpLiteral | Refusal::DynamicRefused) => {
            &ALERT_UNRECOGNIZED_NAME
        }
        (Mode::Http, Refusal::UnknownName | Refusal::InvalidName | Refusal::NoName | Refusal::IpLiteral | Refusal::DynamicRefused) => {
            b"HTTP/1.1 421 Misdirected Request\r\nContent-Length: 32\r\nConnection: close\r\n\r\nno site here for this host name\n"
        }
        (Mode::Http, Refusal::BadRequest) => {
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbad request\n"
        }
        (Mode::Http, Refusal::HeadTooLarge) => {
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 21\r\nConnection: close\r\n\r\nrequest head too big\n"
        }
        _ => b"",
    };
    if !reply.is_empty() {
        let _ = tokio::time::timeout(Duration::from_secs(1), client.write_all(reply)).await;
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), client.shutdown()).await;
    log.finish(&format!("refused:{}", why.as_str()));
}

/// Reads more bytes into `buf` (at most `want` more), by the deadline.
async fn read_more(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    want: usize,
    deadline: Instant,
) -> Result<(), Refusal> {
    // Grow only by what the peer can send next, never by a declared length.
    buf.reserve(want.clamp(1, 16 * 1024));
    match tokio::time::timeout_at(deadline, client.read_buf(buf)).await {
        Err(_) => Err(Refusal::HelloTimeout),
        Ok(Ok(0) | Err(_)) => Err(Refusal::ClosedEarly),
        Ok(Ok(_)) => Ok(()),
    }
}

/// Reads a PROXY v1/v2 header; what follows it stays in `buf`.
async fn read_proxy_header(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<Header, Refusal> {
    loop {
        let need = match proxy_protocol::decode(buf) {
            Ok(Decoded::Complete { header, len, .. }) => {
                buf.drain(..len.min(buf.len()));
                return Ok(header);
            }
            Ok(Decoded::NeedMore(n)) => n,
            Ok(Decoded::NotProxy) | Err(_) => return Err(Refusal::BadProxyHeader),
        };
        if buf.len() > 4096 {
            return Err(Refusal::BadProxyHeader);
        }
        read_more(client, buf, need, deadline).await?;
    }
}

/// Reads a whole ClientHello into `buf`; gives its server name. Parses
/// again only once the bytes the last parse asked for have arrived, so a
/// hello sent a byte at a time costs one parse per record, not per byte.
async fn read_hello(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
) -> Result<ServerName, Refusal> {
    let mut need = 5usize;
    loop {
        while buf.len() < need {
            read_more(client, buf, need.saturating_sub(buf.len()), deadline).await?;
        }
        match read_client_hello(buf) {
            Ok(Status::Complete(hello)) => return Ok(hello.server_name().clone()),
            Ok(Status::NeedMore(n)) => need = buf.len().saturating_add(n),
            Ok(Status::NotTls) => return Err(Refusal::NotTls),
            Err(_) => return Err(Refusal::BadHello),
        }
        if need > MAX_HELLO_WIRE {
            return Err(Refusal::BadHello);
        }
    }
}

/// Reads a whole request head into `buf`; gives its Host. The head is
/// parsed on the first read (to turn junk away at once) and then only when
/// an empty line may have arrived, or the limit is passed.
async fn read_head(
    client: &mut TcpStream,
    buf: &mut Vec<u8>,
    deadline: Instant,
    max_head: usize,
) -> Result<Option<Host>, Refusal> {
    let mut scanned = 0usize;
    let mut first = true;
    loop {
        read_more(client, buf, 4096, deadline).await?;
        let from = scanned.saturating_sub(3);
        let tail = buf.get(from..).unwrap_or_default();
        let ended =
            tail.windows(2).any(|w| w == b"\n\n") || tail.windows(3).any(|w| w == b"\n\r\n");
        scanned = buf.len();
        if !(first || ended || buf.len() > max_head) {
            continue;
        }
        first = false;
        match read_request_head(buf, max_head) {
            Ok(HeadStatus::Complete(head)) => return Ok(head.host().map(|a| a.host().clone())),
            Ok(HeadStatus::NeedMore) => {}
            Err(http::Error::TooLarge { .. }) => return Err(Refusal::HeadTooLarge),
            Err(_) => return Err(Refusal::BadRequest),
        }
    }
}

/// Connects to the target's backends: the first by a hash of the client
/// address, then the others in turn on failure.
async fn connect(
    shared: &Shared,
    rt: &Runtime,
    listener: &Listener,
    target: &Target,
    client: SocketAddr,
    local_port: u16,
) -> Result<(TcpStream, SocketAddr), (BackendError, Option<SocketAddr>)> {
    let n = target.backends.len();
    if n == 0 {
        return Err((BackendError::ConnectError, None));
    }
    let hasher: BuildHasherDefault<DefaultHasher> = BuildHasherDefault::default();
    let first = usize::try_from(hasher.hash_one(client.ip()) % n as u64).unwrap_or(0);
    let source = match (target.source, client.ip(), rt.config.nat46) {
        (Source::Nat46, IpAddr::V4(v4), Some(prefix)) => Some(nat46_source(prefix, v4)),
        _ => None,
    };
    let mut last = (BackendError::ConnectError, None);
    for k in 0..n {
        let Some(backend) = target.backends.get((first + k) % n) else {
            continue;
        };
        let addr = backend.resolve(listener.backend_port, local_port);
        let source = source.filter(|_| addr.is_ipv6());
        let why = match tokio::time::timeout(rt.config.limits.connect_timeout, dial(addr, source))
            .await
        {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok((stream, addr));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                BackendError::ConnectRefused
            }
            Ok(Err(e)) => {
                tracing::debug!("connect to {addr} failed: {e}");
                BackendError::ConnectError
            }
            Err(_) => BackendError::ConnectTimeout,
        };
        shared.metrics.backend_error(why);
        last = (why, Some(addr));
    }
    Err(last)
}

/// The NAT46 source for an IPv4 client (RFC 6052 embedding; the scope rule
/// of §3.1 is about synthesised destinations and does not apply here).
fn nat46_source(prefix: Nat64Prefix, v4: std::net::Ipv4Addr) -> Ipv6Addr {
    prefix.embed(v4)
}

async fn dial(addr: SocketAddr, source: Option<Ipv6Addr>) -> std::io::Result<TcpStream> {
    let Some(src) = source else {
        return TcpStream::connect(addr).await;
    };
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV6, Type::STREAM, Some(Protocol::TCP))?;
    // FREEBIND: the NAT46 prefix is routed to this machine (a local route)
    // but not configured on an interface.
    socket.set_freebind_v6(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V6(SocketAddrV6::new(src, 0, 0, 0)).into())?;
    let std: std::net::TcpStream = socket.into();
    TcpSocket::from_std_stream(std).connect(addr).await
}

/// An address with a v4-mapped IPv6 address folded to plain IPv4.
pub(crate) fn fold(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// The per-client key: an IPv4 address, or an IPv6 address cut to its
/// prefix (one customer holds a whole /64).
fn client_key(ip: IpAddr, v6_len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = u128::MAX
                .checked_shl(128u32.saturating_sub(u32::from(v6_len)))
                .unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(bits & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_folding() {
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().unwrap();
        assert_eq!(
            client_key(v6, 64),
            "2001:db8:1:2::".parse::<IpAddr>().unwrap()
        );
        assert_eq!(client_key(v6, 128), v6);
        assert_eq!(client_key(v6, 0), "::".parse::<IpAddr>().unwrap());
        let mapped: SocketAddr = "[::ffff:192.0.2.1]:5".parse().unwrap();
        assert_eq!(fold(mapped), "192.0.2.1:5".parse().unwrap());
        assert_eq!(
            nat46_source(
                "2001:db8:46::/96".parse().unwrap(),
                "192.0.2.33".parse().unwrap()
            ),
            "2001:db8:46::c000:221".parse::<Ipv6Addr>().unwrap()
        );
    }
}
