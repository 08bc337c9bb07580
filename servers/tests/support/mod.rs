//! Shared helpers for the `sixgate proxy` end-to-end tests: a proxy process
//! whose stderr is collected line by line, small blocking backends (echo,
//! capture, rustls TLS, a DNS responder), a hand-made ClientHello builder and
//! a Prometheus scraper. Every socket gets a read and write timeout, so a
//! misbehaving proxy fails a test instead of hanging it.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::AAAA;
use hickory_proto::rr::{RData, Record, RecordType};
use rustls::crypto::ring::default_provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned};

/// Timeout for every blocking socket operation in the tests.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for a log line the proxy must print.
pub(crate) const LOG_TIMEOUT: Duration = Duration::from_secs(10);

/// The `sixgate` binary built for these tests.
pub(crate) fn sixgate_bin() -> &'static str {
    env!("CARGO_BIN_EXE_sixgate")
}

// ---------------------------------------------------------------------------
// The proxy process
// ---------------------------------------------------------------------------

/// A running `sixgate proxy`; killed and reaped on drop.
pub(crate) struct Proxy {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stdout: Arc<Mutex<Vec<String>>>,
    eof: Arc<AtomicBool>,
}

impl Proxy {
    /// Starts `sixgate proxy ARGS…`.
    pub(crate) fn start(args: &[&str]) -> Self {
        let mut cmd = Command::new(sixgate_bin());
        cmd.arg("proxy").args(args);
        Self::spawn(cmd)
    }

    /// Starts a prepared command (e.g. through `sh -c` or `ip netns exec`)
    /// whose stderr is the proxy's.
    pub(crate) fn spawn(mut cmd: Command) -> Self {
        cmd.env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start sixgate proxy");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let eof = Arc::new(AtomicBool::new(false));
        let err = child.stderr.take().expect("piped stderr");
        let out = child.stdout.take().expect("piped stdout");
        {
            let lines = Arc::clone(&lines);
            let eof = Arc::clone(&eof);
            thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
                eof.store(true, Ordering::SeqCst);
            });
        }
        {
            let stdout = Arc::clone(&stdout);
            thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    stdout.lock().unwrap().push(line);
                }
            });
        }
        Self {
            child,
            lines,
            stdout,
            eof,
        }
    }

    /// The process id (for `kill -HUP` and `/proc/PID/fd`).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Every stderr line so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// All output so far, for failure messages.
    pub(crate) fn dump(&self) -> String {
        let lines = self.lines.lock().unwrap();
        let start = lines.len().saturating_sub(60);
        let mut s = format!("--- proxy stderr ({} lines, last 60) ---\n", lines.len());
        for l in &lines[start..] {
            s.push_str(l);
            s.push('\n');
        }
        let out = self.stdout.lock().unwrap();
        if !out.is_empty() {
            s.push_str("--- proxy stdout ---\n");
            for l in out.iter().take(40) {
                s.push_str(l);
                s.push('\n');
            }
        }
        s
    }

    /// Waits for a stderr line (at index `from` or later) that satisfies `pred`.
    pub(crate) fn find_line_from(
        &self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let lines = self.lines.lock().unwrap();
                if let Some(l) = lines.iter().skip(from).find(|l| pred(l)) {
                    return Some(l.clone());
                }
            }
            if Instant::now() >= deadline {
                return None;
            }
            if self.eof.load(Ordering::SeqCst) {
                // One last look: the reader thread may have pushed the line
                // just before it saw EOF.
                let lines = self.lines.lock().unwrap();
                return lines.iter().skip(from).find(|l| pred(l)).cloned();
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for a line containing `needle` or panics with the log.
    pub(crate) fn expect_line(&self, needle: &str) -> String {
        self.expect_line_from(0, needle)
    }

    /// Like [`Proxy::expect_line`], only looking at lines from index `from`.
    pub(crate) fn expect_line_from(&self, from: usize, needle: &str) -> String {
        match self.find_line_from(from, LOG_TIMEOUT, |l| l.contains(needle)) {
            Some(l) => l,
            None => panic!("no log line containing {needle:?}\n{}", self.dump()),
        }
    }

    /// Number of stderr lines so far (a mark for `*_from`).
    pub(crate) fn mark(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// The addresses a listener reports from its `listening listener=NAME`
    /// lines; waits for at least one.
    pub(crate) fn listen_addr(&self, name: &str) -> SocketAddr {
        let needle = format!("listening listener={name} ");
        let line = self.expect_line(&needle);
        let addr =
            field(&line, "addr").unwrap_or_else(|| panic!("no addr= in {line:?}\n{}", self.dump()));
        addr.parse()
            .unwrap_or_else(|e| panic!("addr={addr:?} in {line:?}: {e}"))
    }

    /// The metrics address from `serving metrics addr=…`.
    pub(crate) fn metrics_addr(&self) -> SocketAddr {
        let line = self.expect_line("serving metrics ");
        let addr = field(&line, "addr").unwrap_or_else(|| panic!("no addr= in {line:?}"));
        addr.parse()
            .unwrap_or_else(|e| panic!("addr={addr:?} in {line:?}: {e}"))
    }

    /// The `conn` line of the connection whose client address is `client`.
    pub(crate) fn conn_line(&self, client: SocketAddr) -> String {
        self.try_conn_line(client, LOG_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "no conn line for client={client} within {LOG_TIMEOUT:?}\n{}",
                self.dump()
            )
        })
    }

    /// Like [`Proxy::conn_line`], `None` after `timeout`.
    pub(crate) fn try_conn_line(&self, client: SocketAddr, timeout: Duration) -> Option<String> {
        let want = client.to_string();
        self.find_line_from(0, timeout, |l| {
            is_conn_line(l) && field(l, "client").as_deref() == Some(want.as_str())
        })
    }

    /// Sends SIGHUP with the `kill` command.
    pub(crate) fn sighup(&self) {
        let st = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -HUP failed");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a log line is a finished-connection line.
pub(crate) fn is_conn_line(line: &str) -> bool {
    line.split_whitespace().any(|t| t == "conn") && line.contains(" outcome=")
}

/// The value of `key=value` in a log line (surrounding quotes removed).
pub(crate) fn field(line: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    line.split_whitespace()
        .find_map(|t| t.strip_prefix(prefix.as_str()))
        .map(|v| v.trim_matches('"').to_string())
}

/// Asserts a conn line's fields.
pub(crate) fn assert_fields(line: &str, want: &[(&str, &str)]) {
    for (k, v) in want {
        assert_eq!(
            field(line, k).as_deref(),
            Some(*v),
            "{k}= in conn line {line:?}"
        );
    }
}

/// A numeric field of a log line.
pub(crate) fn num_field(line: &str, key: &str) -> u64 {
    field(line, key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric {key}= in {line:?}"))
}

// ---------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------

/// GET /metrics and return the body.
pub(crate) fn scrape(addr: SocketAddr) -> String {
    let mut s = connect(addr);
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .expect("send metrics request");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => panic!("reading /metrics: {e}"),
        }
        if let Some(body) = complete_http_body(&buf) {
            return body;
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    assert!(
        text.starts_with("HTTP/1.1 200") || text.starts_with("HTTP/1.0 200"),
        "{text}"
    );
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

fn complete_http_body(buf: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(buf);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse::<usize>().ok())?
    })?;
    (body.len() >= len).then(|| body.to_string())
}

/// Sum of the samples of metric `name` whose labels include `label="value"`
/// (or all samples when `label` is `None`); 0 when there is none.
pub(crate) fn metric(text: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    let mut sum = 0.0;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (labels, value) = if let Some(r) = rest.strip_prefix('{') {
            let Some((labels, value)) = r.split_once('}') else {
                continue;
            };
            (labels, value)
        } else if rest.starts_with(' ') {
            ("", rest)
        } else {
            continue;
        };
        if let Some((k, v)) = label {
            let want = format!("{k}=\"{v}\"");
            if !labels.split(',').any(|l| l.trim() == want) {
                continue;
            }
        }
        if let Some(v) = value
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            sum += v;
        }
    }
    sum
}

// ---------------------------------------------------------------------------
// Sockets
// ---------------------------------------------------------------------------

/// A blocking TCP connection with read/write timeouts.
pub(crate) fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// A connection from a chosen local address (bind before connect).
pub(crate) fn connect_from(local: SocketAddr, addr: SocketAddr) -> io::Result<TcpStream> {
    use socket2::{Domain, Socket, Type};
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    sock.bind(&local.into())?;
    sock.connect_timeout(&addr.into(), IO_TIMEOUT)?;
    let s: TcpStream = sock.into();
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// How a connection ended when read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum End {
    /// The peer closed (EOF or reset) after these bytes.
    Closed(Vec<u8>),
    /// Nothing more arrived within the timeout; these bytes did.
    Open(Vec<u8>),
}

/// Reads until EOF/reset or until `timeout` passes.
pub(crate) fn read_until_close(s: &mut TcpStream, timeout: Duration) -> End {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return End::Open(got);
        }
        s.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match s.read(&mut chunk) {
            Ok(0) => return End::Closed(got),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return End::Open(got)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return End::Closed(got),
        }
    }
}

/// Reads exactly `n` bytes (panics on EOF or timeout).
pub(crate) fn read_n(s: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("reading {n} bytes: {e}"));
    buf
}

// ---------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------

/// A TCP server running a handler thread per connection; stops accepting on
/// drop.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Server {
    /// Binds `bind` (e.g. `[::1]:0`) and serves each connection with `handler`.
    pub(crate) fn start(bind: &str, handler: impl Fn(TcpStream) + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind(bind).unwrap_or_else(|e| panic!("bind {bind}: {e}"));
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        {
            let accepted = Arc::clone(&accepted);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    conn.set_read_timeout(Some(Duration::from_secs(30)))
                        .unwrap();
                    conn.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
                    let handler = Arc::clone(&handler);
                    thread::spawn(move || handler(conn));
                }
            });
        }
        Self {
            addr,
            accepted,
            stop,
        }
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// `[::1]:PORT` as a backend string.
    pub(crate) fn backend(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// An echo server that first writes `tag`.
pub(crate) fn echo_server(bind: &str, tag: &'static [u8]) -> Server {
    Server::start(bind, move |mut s| {
        if s.write_all(tag).is_err() {
            return;
        }
        let mut buf = [0u8; 16384];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            }
        }
    })
}

/// What a [`capture_server`] read, connection by connection.
pub(crate) struct Captures {
    rx: Receiver<(usize, Vec<u8>)>,
    /// The last connection [`Captures::next_conn`] looked at.
    last: Option<usize>,
}

impl Captures {
    /// Collects the bytes of the next connection (one not looked at yet)
    /// until `done(bytes)` holds, or EOF, or `IO_TIMEOUT`.
    pub(crate) fn next_conn_until(&mut self, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
        let deadline = Instant::now() + IO_TIMEOUT;
        let mut conn = None;
        let mut got = Vec::new();
        while !done(&got) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((id, chunk)) => {
                    if self.last.is_some_and(|last| id <= last) {
                        continue; // the rest of an older connection
                    }
                    let want = *conn.get_or_insert(id);
                    self.last = Some(want);
                    if id != want {
                        continue;
                    }
                    if chunk.is_empty() {
                        break;
                    }
                    got.extend_from_slice(&chunk);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        got
    }

    /// Collects the next connection's bytes until at least `n` have arrived.
    pub(crate) fn next_conn(&mut self, n: usize) -> Vec<u8> {
        self.next_conn_until(|b| b.len() >= n)
    }
}

/// A server that reports every chunk it reads, tagged by connection number
/// (0, 1, …); an empty chunk means EOF.
pub(crate) fn capture_server(bind: &str) -> (Server, Captures) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let next = AtomicUsize::new(0);
    let server = Server::start(bind, move |mut s| {
        let id = next.fetch_add(1, Ordering::SeqCst);
        let tx: Sender<(usize, Vec<u8>)> = tx.lock().unwrap().clone();
        let mut buf = [0u8; 65536];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send((id, Vec::new()));
                    return;
                }
                Ok(n) => {
                    if tx.send((id, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    (server, Captures { rx, last: None })
}

// ---------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------

/// The names the test certificate covers.
pub(crate) const CERT_NAMES: &[&str] = &[
    "www.example.test",
    "a.example.test",
    "a.b.example.test",
    "*.example.test",
];

struct TestCert {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn test_cert() -> &'static TestCert {
    static CERT: OnceLock<TestCert> = OnceLock::new();
    CERT.get_or_init(|| {
        let names: Vec<String> = CERT_NAMES.iter().map(|s| s.to_string()).collect();
        let ck = rcgen::generate_simple_self_signed(names).expect("self-signed cert");
        TestCert {
            cert: ck.cert.der().clone(),
            key: ck.signing_key.serialize_der(),
        }
    })
}

/// A rustls server config for the test certificate with these ALPN protocols.
pub(crate) fn server_config(alpn: &[&[u8]]) -> Arc<ServerConfig> {
    let c = test_cert();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(c.key.clone()));
    let mut cfg = ServerConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![c.cert.clone()], key)
        .expect("server config");
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// A rustls client config trusting the test certificate, offering `alpn`.
pub(crate) fn client_config(alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(test_cert().cert.clone()).unwrap();
    let mut cfg = ClientConfig::builder_with_provider(Arc::new(default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// What a TLS backend does after its handshake.
#[derive(Clone, Copy)]
pub(crate) enum TlsReply {
    /// Writes `tag=T sni=S alpn=A\n` and closes.
    Info(&'static str),
    /// Reads an HTTP request head and answers `200` with this body.
    Http(&'static str),
}

/// A rustls TLS server with the test certificate.
pub(crate) fn tls_server(bind: &str, alpn: &[&[u8]], reply: TlsReply) -> Server {
    let cfg = server_config(alpn);
    Server::start(bind, move |sock| {
        let conn = match rustls::ServerConnection::new(Arc::clone(&cfg)) {
            Ok(c) => c,
            Err(_) => return,
        };
        let mut tls = StreamOwned::new(conn, sock);
        while tls.conn.is_handshaking() {
            if tls.conn.complete_io(&mut tls.sock).is_err() {
                return;
            }
        }
        let sni = tls.conn.server_name().unwrap_or("-").to_string();
        let alpn = tls
            .conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .unwrap_or_else(|| "-".into());
        let out = match reply {
            TlsReply::Info(tag) => format!("tag={tag} sni={sni} alpn={alpn}\n"),
            TlsReply::Http(body) => {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match tls.read(&mut b) {
                        Ok(1) => head.push(b[0]),
                        _ => return,
                    }
                }
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
            }
        };
        if tls.write_all(out.as_bytes()).is_err() {
            return;
        }
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}

/// A rustls client connection through `addr` for `name`.
pub(crate) fn tls_connect(
    addr: SocketAddr,
    name: &str,
    alpn: &[&[u8]],
) -> StreamOwned<ClientConnection, TcpStream> {
    let server_name = ServerName::try_from(name.to_string()).expect("server name");
    let conn = ClientConnection::new(client_config(alpn), server_name).expect("client conn");
    StreamOwned::new(conn, connect(addr))
}

/// Reads one `\n`-terminated line over TLS.
pub(crate) fn tls_read_line(
    tls: &mut StreamOwned<ClientConnection, TcpStream>,
) -> io::Result<String> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while !line.ends_with(b"\n") {
        match tls.read(&mut b)? {
            0 => break,
            _ => line.push(b[0]),
        }
    }
    Ok(String::from_utf8_lossy(&line).trim_end().to_string())
}

/// The bytes a rustls client sends first (its ClientHello records) for
/// `name` offering `alpn`.
pub(crate) fn rustls_first_flight(name: &str, alpn: &[&[u8]]) -> Vec<u8> {
    let server_name = ServerName::try_from(name.to_string()).expect("server name");
    let mut conn = ClientConnection::new(client_config(alpn), server_name).expect("client conn");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).unwrap();
    }
    out
}

/// The concatenated payloads of the handshake records in `records`.
pub(crate) fn handshake_payload(records: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = records;
    while rest.len() >= 5 {
        let len = usize::from(u16::from_be_bytes([rest[3], rest[4]]));
        assert!(rest.len() >= 5 + len, "truncated record");
        if rest[0] == 0x16 {
            out.extend_from_slice(&rest[5..5 + len]);
        }
        rest = &rest[5 + len..];
    }
    out
}

/// The unrecognized_name alert the proxy sends: fatal, 112.
pub(crate) const UNRECOGNIZED_NAME_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x70];

/// Whether an I/O error is rustls reporting an unrecognized_name alert.
pub(crate) fn is_unrecognized_name(e: &io::Error) -> bool {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    matches!(
        inner,
        Some(rustls::Error::AlertReceived(
            rustls::AlertDescription::UnrecognisedName
        ))
    )
}

// ---------------------------------------------------------------------------
// Hand-made ClientHellos
// ---------------------------------------------------------------------------

/// Extension type server_name.
pub(crate) const EXT_SERVER_NAME: u16 = 0x0000;
/// Extension type ALPN.
pub(crate) const EXT_ALPN: u16 = 0x0010;
/// Extension type padding (RFC 7685).
pub(crate) const EXT_PADDING: u16 = 0x0015;
/// Extension type supported_versions.
pub(crate) const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// A server_name extension with one host_name entry holding `name` as is.
pub(crate) fn sni_ext(name: &[u8]) -> (u16, Vec<u8>) {
    let mut entry = vec![0x00];
    entry.extend_from_slice(&u16_len(name.len()));
    entry.extend_from_slice(name);
    let mut body = u16_len(entry.len()).to_vec();
    body.extend_from_slice(&entry);
    (EXT_SERVER_NAME, body)
}

/// An ALPN extension.
pub(crate) fn alpn_ext(protocols: &[&[u8]]) -> (u16, Vec<u8>) {
    let mut list = Vec::new();
    for p in protocols {
        list.push(u8::try_from(p.len()).unwrap());
        list.extend_from_slice(p);
    }
    let mut body = u16_len(list.len()).to_vec();
    body.extend_from_slice(&list);
    (EXT_ALPN, body)
}

fn u16_len(n: usize) -> [u8; 2] {
    u16::try_from(n).expect("fits u16").to_be_bytes()
}

/// A ClientHello handshake message (type 1, u24 length) with these
/// extensions (plus supported_versions TLS 1.3/1.2 at the end).
pub(crate) fn client_hello(exts: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let mut body = vec![0x03, 0x03];
    body.extend((0u8..32).map(|i| i.wrapping_mul(7)));
    body.push(32);
    body.extend((0u8..32).map(|i| i ^ 0x5a));
    body.extend_from_slice(&[0x00, 0x04, 0x13, 0x01, 0x13, 0x02]);
    body.extend_from_slice(&[0x01, 0x00]);
    let mut ext = Vec::new();
    let versions = (EXT_SUPPORTED_VERSIONS, vec![0x04, 0x03, 0x04, 0x03, 0x03]);
    for (t, b) in exts.iter().chain(std::iter::once(&versions)) {
        ext.extend_from_slice(&t.to_be_bytes());
        ext.extend_from_slice(&u16_len(b.len()));
        ext.extend_from_slice(b);
    }
    body.extend_from_slice(&u16_len(ext.len()));
    body.extend_from_slice(&ext);
    let len = u32::try_from(body.len()).unwrap().to_be_bytes();
    let mut msg = vec![0x01, len[1], len[2], len[3]];
    msg.extend_from_slice(&body);
    msg
}

/// Frames a handshake message as `parts` TLS records of near-equal size.
pub(crate) fn records(handshake: &[u8], parts: usize) -> Vec<u8> {
    assert!(parts >= 1 && parts <= handshake.len());
    let size = handshake.len().div_ceil(parts);
    let mut out = Vec::new();
    let mut n = 0;
    for chunk in handshake.chunks(size) {
        assert!(chunk.len() <= 16384, "record payload over 2^14");
        out.extend_from_slice(&[0x16, 0x03, 0x01]);
        out.extend_from_slice(&u16_len(chunk.len()));
        out.extend_from_slice(chunk);
        n += 1;
    }
    assert_eq!(n, parts, "framing {} bytes into {parts}", handshake.len());
    out
}

/// A one-record ClientHello for `name` (SNI bytes as given).
pub(crate) fn hello_for(name: &[u8]) -> Vec<u8> {
    records(&client_hello(&[sni_ext(name)]), 1)
}

// ---------------------------------------------------------------------------
// DNS
// ---------------------------------------------------------------------------

/// A UDP DNS responder on 127.0.0.1 answering AAAA queries from `answers`
/// (name without trailing dot → address, TTL 60); other names NXDOMAIN.
/// Returns its address and a query counter.
pub(crate) fn dns_server(answers: Vec<(&'static str, Ipv6Addr)>) -> (SocketAddr, Arc<AtomicUsize>) {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind dns");
    let addr = sock.local_addr().unwrap();
    let queries = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&queries);
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                return;
            };
            let Ok(q) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let mut r = Message::new();
            r.set_id(q.id())
                .set_message_type(MessageType::Response)
                .set_op_code(OpCode::Query)
                .set_recursion_desired(q.recursion_desired())
                .set_recursion_available(true)
                .set_authoritative(true);
            let mut known = false;
            for query in q.queries() {
                r.add_query(query.clone());
                let name = query.name().to_ascii().to_ascii_lowercase();
                let name = name.trim_end_matches('.');
                for (n, ip) in &answers {
                    if *n == name {
                        known = true;
                        if query.query_type() == RecordType::AAAA {
                            r.add_answer(Record::from_rdata(
                                query.name().clone(),
                                60,
                                RData::AAAA(AAAA(*ip)),
                            ));
                        }
                    }
                }
            }
            if !known {
                r.set_response_code(ResponseCode::NXDomain);
            }
            if let Ok(bytes) = r.to_vec() {
                let _ = sock.send_to(&bytes, peer);
            }
        }
    });
    (addr, queries)
}

// ---------------------------------------------------------------------------
// Misc
// ---------------------------------------------------------------------------

/// A temporary directory removed on drop.
pub(crate) struct TempDir(pub(crate) std::path::PathBuf);

impl TempDir {
    pub(crate) fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sixgate-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `text` to `name` in the directory and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> String {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether env CI is set (skips become failures).
pub(crate) fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Whether a command exists on PATH.
pub(crate) fn have(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}
