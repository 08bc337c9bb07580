//! End-to-end tests of `sixgate dns64`: the real binary on ephemeral
//! loopback ports, a fake upstream (UDP and TCP, answers built with
//! hickory-proto) inside the test, and clients speaking hickory-built
//! messages over UDP and TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

const BIG_COUNT: u8 = 100;

// ---------------------------------------------------------------------------
// The fake upstream.

struct Upstream {
    addr: SocketAddr,
    udp_queries: Arc<AtomicUsize>,
    tcp_queries: Arc<AtomicUsize>,
    /// How it behaves: one of the `UP_*` modes.
    mode: Arc<AtomicU8>,
}

/// Answers normally.
const UP_OK: u8 = 0;
/// Never answers.
const UP_SILENT: u8 = 1;
/// Answers after 3 s (past any timeout the tests set).
const UP_SLOW: u8 = 2;
/// Answers with garbage: random bytes, then a reply with the wrong ID.
const UP_GARBAGE: u8 = 3;

fn soa(zone: &Name) -> Record {
    Record::from_rdata(
        zone.clone(),
        300,
        RData::SOA(SOA::new(
            Name::from_ascii("ns.example.test.").unwrap(),
            Name::from_ascii("hostmaster.example.test.").unwrap(),
            1,
            3600,
            600,
            86400,
            60,
        )),
    )
}

/// The fake zone's answer to `q`.
fn respond(q: &Message) -> Message {
    let mut r = Message::new();
    r.set_id(q.id())
        .set_message_type(MessageType::Response)
        .set_recursion_desired(q.recursion_desired())
        .set_recursion_available(true);
    let Some(question) = q.queries().first().cloned() else {
        r.set_response_code(ResponseCode::FormErr);
        return r;
    };
    r.add_query(question.clone());
    let name = question.name().clone();
    let zone = Name::from_ascii("example.test.").unwrap();
    let lower = name.to_ascii().to_ascii_lowercase();
    let a = |v4: Ipv4Addr| Record::from_rdata(name.clone(), 300, RData::A(A(v4)));
    match (lower.as_str(), question.query_type()) {
        ("v4only.example.test.", RecordType::A) => {
            r.add_answer(a(Ipv4Addr::new(192, 0, 2, 1)));
        }
        ("dual.example.test.", RecordType::A) => {
            r.add_answer(a(Ipv4Addr::new(192, 0, 2, 2)));
        }
        ("dual.example.test.", RecordType::AAAA) => {
            r.add_answer(Record::from_rdata(
                name.clone(),
                300,
                RData::AAAA(AAAA("2001:db8::1".parse().unwrap())),
            ));
        }
        ("big.example.test.", RecordType::A) => {
            for i in 0..BIG_COUNT {
                r.add_answer(a(Ipv4Addr::new(192, 0, 2, i)));
            }
        }
        ("nx.example.test.", _) => {
            r.set_response_code(ResponseCode::NXDomain);
            r.add_name_server(soa(&zone));
        }
        _ => {
            r.add_name_server(soa(&zone));
        }
    }
    r
}

impl Upstream {
    fn start() -> Self {
        // UDP and TCP on one port.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()) {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let udp_queries = Arc::new(AtomicUsize::new(0));
        let tcp_queries = Arc::new(AtomicUsize::new(0));
        let mode = Arc::new(AtomicU8::new(UP_OK));
        {
            let count = udp_queries.clone();
            let mode = mode.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 65535];
                while let Ok((n, peer)) = udp.recv_from(&mut buf) {
                    count.fetch_add(1, Ordering::SeqCst);
                    let Ok(q) = Message::from_vec(&buf[..n]) else {
                        continue;
                    };
                    match mode.load(Ordering::SeqCst) {
                        UP_SILENT => continue,
                        UP_SLOW => {
                            let udp = udp.try_clone().unwrap();
                            let wire = respond(&q).to_vec().unwrap();
                            thread::spawn(move || {
                                thread::sleep(Duration::from_secs(3));
                                let _ = udp.send_to(&wire, peer);
                            });
                            continue;
                        }
                        UP_GARBAGE => {
                            let _ = udp.send_to(&[0x5a; 40], peer);
                            let mut r = respond(&q);
                            r.set_id(q.id().wrapping_add(1));
                            let _ = udp.send_to(&r.to_vec().unwrap(), peer);
                            continue;
                        }
                        _ => {}
                    }
                    let mut wire = respond(&q).to_vec().unwrap();
                    if wire.len() > 512 {
                        // Force the TCP retry: header and question, TC.
                        let mut r = respond(&q);
                        r.take_answers();
                        r.set_truncated(true);
                        wire = r.to_vec().unwrap();
                    }
                    let _ = udp.send_to(&wire, peer);
                }
            });
        }
        {
            let count = tcp_queries.clone();
            thread::spawn(move || {
                for conn in tcp.incoming() {
                    let Ok(mut conn) = conn else { continue };
                    let count = count.clone();
                    thread::spawn(move || loop {
                        let mut len = [0u8; 2];
                        if conn.read_exact(&mut len).is_err() {
                            break;
                        }
                        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
                        if conn.read_exact(&mut buf).is_err() {
                            break;
                        }
                        count.fetch_add(1, Ordering::SeqCst);
                        let Ok(q) = Message::from_vec(&buf) else {
                            break;
                        };
                        let wire = respond(&q).to_vec().unwrap();
                        let mut framed = (wire.len() as u16).to_be_bytes().to_vec();
                        framed.extend_from_slice(&wire);
                        if conn.write_all(&framed).is_err() {
                            break;
                        }
                    });
                }
            });
        }
        Self {
            addr,
            udp_queries,
            tcp_queries,
            mode,
        }
    }
}

/// A port nothing listens on (UDP or TCP).
fn dead_port() -> SocketAddr {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap()
}

// ---------------------------------------------------------------------------
// The server under test.

struct Dns64 {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Dns64 {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sixgate"))
            .arg("dns64")
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sixgate dns64");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let err = child.stderr.take().unwrap();
        {
            let lines = lines.clone();
            thread::spawn(move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Self { child, lines }
    }

    fn dump(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The address of the first `listening proto=PROTO` line (waits for it).
    fn addr(&mut self, what: &str) -> SocketAddr {
        let needle = format!("{what} addr=");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(a) = self.lines.lock().unwrap().iter().find_map(|l| {
                let at = l.find(&needle)?;
                l[at + needle.len()..]
                    .split_whitespace()
                    .next()?
                    .parse::<SocketAddr>()
                    .ok()
            }) {
                return a;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sixgate dns64 exited ({status}):\n{}", self.dump());
            }
            assert!(
                Instant::now() < deadline,
                "no {what} line:\n{}",
                self.dump()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn udp(&mut self) -> SocketAddr {
        self.addr("listening proto=udp")
    }

    fn tcp(&mut self) -> SocketAddr {
        self.addr("listening proto=tcp")
    }
}

impl Drop for Dns64 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(upstream: SocketAddr, extra: &[&str]) -> Dns64 {
    let up = upstream.to_string();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &up,
        "--prefix",
        "64:ff9b::/96",
        "--allow-non-global",
    ];
    args.extend_from_slice(extra);
    Dns64::start(&args)
}

// ---------------------------------------------------------------------------
// Clients.

fn query(name: &str, rtype: RecordType, id: u16, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(id).set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

fn udp_raw_from(bind: &str, server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(bytes, server).unwrap();
    let mut buf = [0u8; 65535];
    match s.recv_from(&mut buf) {
        Ok((n, _)) => Some(buf[..n].to_vec()),
        Err(_) => None,
    }
}

fn udp_ask(server: SocketAddr, bytes: &[u8]) -> Message {
    let raw =
        udp_raw_from("127.0.0.1:0", server, bytes, Duration::from_secs(10)).expect("a UDP answer");
    Message::from_vec(&raw).unwrap()
}

fn tcp_send(s: &mut TcpStream, bytes: &[u8]) {
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    s.write_all(&framed).unwrap();
}

fn tcp_read(s: &mut TcpStream) -> Message {
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

fn tcp_ask(server: SocketAddr, bytes: &[u8]) -> Message {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp_send(&mut s, bytes);
    tcp_read(&mut s)
}

fn aaaa_of(m: &Message) -> Vec<Ipv6Addr> {
    m.answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------

#[test]
fn synthesises_aaaa_over_udp_and_tcp() {
    let up = Upstream::start();
    let mut d = server(up.addr, &[]);
    let (u, t) = (d.udp(), d.tcp());
    let want: Ipv6Addr = "64:ff9b::c000:201".parse().unwrap();

    let m = udp_ask(
        u,
        &query("v4only.example.test.", RecordType::AAAA, 0x4242, None),
    );
    assert_eq!(m.id(), 0x4242);
    assert_eq!(m.response_code(), ResponseCode::NoError, "{}", d.dump());
    assert_eq!(aaaa_of(&m), vec![want]);

    let m = tcp_ask(
        t,
        &query("V4ONLY.example.test.", RecordType::AAAA, 7, Some(1232)),
    );
    assert_eq!(m.id(), 7);
    assert_eq!(aaaa_of(&m), vec![want]);
    assert!(m.extensions().is_some(), "EDNS in, EDNS out");
}

#[test]
fn dual_stack_passthrough_nxdomain_and_forwarded_types() {
    let up = Upstream::start();
    let mut d = server(up.addr, &[]);
    let u = d.udp();

    let m = udp_ask(u, &query("dual.example.test.", RecordType::AAAA, 1, None));
    assert_eq!(
        aaaa_of(&m),
        vec!["2001:db8::1".parse::<Ipv6Addr>().unwrap()]
    );

    let m = udp_ask(u, &query("nx.example.test.", RecordType::AAAA, 2, None));
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert!(m.answers().is_empty());

    // A is forwarded unchanged, with the client's ID restored.
    let m = udp_ask(u, &query("dual.example.test.", RecordType::A, 0xbeef, None));
    assert_eq!(m.id(), 0xbeef);
    assert_eq!(m.answers().len(), 1);
    assert_eq!(m.answers()[0].data().to_string(), "192.0.2.2");
}

#[test]
fn big_answers_truncate_over_udp_and_complete_over_tcp() {
    let up = Upstream::start();
    let mut d = server(up.addr, &[]);
    let (u, t) = (d.udp(), d.tcp());

    // The upstream truncates A over UDP; sixgate retries it over TCP, then
    // the synthesised answer is too big for a 512-byte client.
    let m = udp_ask(u, &query("big.example.test.", RecordType::AAAA, 3, None));
    assert!(m.truncated(), "{}", d.dump());
    assert!(m.answers().is_empty());
    assert_eq!(m.queries().len(), 1);
    assert!(up.tcp_queries.load(Ordering::SeqCst) >= 1);

    let m = tcp_ask(t, &query("big.example.test.", RecordType::AAAA, 4, None));
    assert!(!m.truncated());
    assert_eq!(aaaa_of(&m).len(), usize::from(BIG_COUNT));

    // From the cache, to an EDNS client with 1232 bytes: cut the same way,
    // and its OPT kept (RFC 6891 §7).
    let m = udp_ask(
        u,
        &query("big.example.test.", RecordType::AAAA, 7, Some(1232)),
    );
    assert!(m.truncated());
    assert!(m.answers().is_empty());
    assert_eq!(m.queries().len(), 1);
    assert!(m.extensions().is_some(), "{m:?}");

    // Forwarded (A) answers are cut to the client's size too.
    let m = udp_ask(u, &query("big.example.test.", RecordType::A, 5, None));
    assert!(m.truncated());
    let m = udp_ask(u, &query("big.example.test.", RecordType::A, 6, Some(4096)));
    assert!(!m.truncated());
    assert_eq!(m.answers().len(), usize::from(BIG_COUNT));
}

#[test]
fn ipv4only_arpa_needs_no_upstream() {
    let mut d = server(dead_port(), &[]);
    let u = d.udp();
    let m = udp_ask(u, &query("ipv4only.arpa.", RecordType::AAAA, 9, None));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    let mut got = aaaa_of(&m);
    got.sort();
    assert_eq!(
        got,
        vec![
            "64:ff9b::c000:aa".parse::<Ipv6Addr>().unwrap(),
            "64:ff9b::c000:ab".parse().unwrap()
        ]
    );
}

#[test]
fn dead_upstreams_give_servfail_in_time() {
    let (a, b) = (dead_port().to_string(), dead_port().to_string());
    // A black hole too: a UDP socket that never answers.
    let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let hole_addr = hole.local_addr().unwrap().to_string();
    let mut d = Dns64::start(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &a,
        "--upstream",
        &hole_addr,
        "--upstream",
        &b,
        "--timeout",
        "300ms",
    ]);
    let u = d.udp();
    let start = Instant::now();
    let m = udp_ask(
        u,
        &query("v4only.example.test.", RecordType::AAAA, 11, None),
    );
    assert_eq!(m.response_code(), ResponseCode::ServFail, "{}", d.dump());
    // AAAA then A, each over three upstreams of which one times out.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let start = Instant::now();
    let m = udp_ask(u, &query("v4only.example.test.", RecordType::MX, 12, None));
    assert_eq!(m.response_code(), ResponseCode::ServFail);
    assert_eq!(m.id(), 12);
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(hole);
    thread::sleep(Duration::from_millis(100));
    assert!(
        d.dump().contains("upstream failed"),
        "a warning is logged:\n{}",
        d.dump()
    );
}

#[test]
fn acl_refuses_outsiders() {
    let up = Upstream::start();
    let mut d = server(up.addr, &["--allow", "127.0.0.2/32", "--no-default-allow"]);
    let u = d.udp();
    let q = query("v4only.example.test.", RecordType::AAAA, 21, None);
    let m = Message::from_vec(&udp_raw_from("127.0.0.1:0", u, &q, Duration::from_secs(5)).unwrap())
        .unwrap();
    assert_eq!(m.response_code(), ResponseCode::Refused);
    assert!(m.answers().is_empty());
    assert_eq!(
        up.udp_queries.load(Ordering::SeqCst),
        0,
        "nothing asked upstream"
    );

    let m = Message::from_vec(&udp_raw_from("127.0.0.2:0", u, &q, Duration::from_secs(5)).unwrap())
        .unwrap();
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert_eq!(aaaa_of(&m).len(), 1);

    // TCP from 127.0.0.1 is refused too.
    let m = tcp_ask(d.tcp(), &q);
    assert_eq!(m.response_code(), ResponseCode::Refused);
}

#[test]
fn garbage_gets_formerr_or_nothing_and_the_server_keeps_answering() {
    let up = Upstream::start();
    let mut d = server(up.addr, &["--metrics", "127.0.0.1:0"]);
    let u = d.udp();
    let raw = udp_raw_from(
        "127.0.0.1:0",
        u,
        &[0x12, 0x34, 0x01, 0x00, 0xff],
        Duration::from_secs(5),
    )
    .expect("FORMERR for a header-ish datagram");
    let m = Message::from_vec(&raw).unwrap();
    assert_eq!(m.id(), 0x1234);
    assert_eq!(m.response_code(), ResponseCode::FormErr);
    assert!(udp_raw_from("127.0.0.1:0", u, &[0x12], Duration::from_millis(300)).is_none());

    // Two questions: FORMERR too.
    let mut two = Message::from_vec(&query("a.example.test.", RecordType::AAAA, 30, None)).unwrap();
    two.add_query(Query::query(
        Name::from_ascii("b.example.test.").unwrap(),
        RecordType::AAAA,
    ));
    let m = udp_ask(u, &two.to_vec().unwrap());
    assert_eq!(m.response_code(), ResponseCode::FormErr);

    let m = udp_ask(
        u,
        &query("v4only.example.test.", RecordType::AAAA, 31, None),
    );
    assert_eq!(aaaa_of(&m).len(), 1);

    // The metrics saw all of it.
    let metrics = d.addr("serving metrics");
    let mut s = TcpStream::connect(metrics).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    for line in [
        "sixgate_dns64_queries_total{proto=\"udp\"} 4",
        "sixgate_dns64_formerr_total 3",
        "sixgate_dns64_responses_total{rcode=\"formerr\"} 2",
        "sixgate_dns64_synthesized_total 1",
        "sixgate_dns64_dropped_total{reason=\"unparsable\"} 1",
        "sixgate_dns64_refused_total 0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn tcp_pipelines_several_queries() {
    let up = Upstream::start();
    let mut d = server(up.addr, &[]);
    let mut s = TcpStream::connect(d.tcp()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp_send(
        &mut s,
        &query("v4only.example.test.", RecordType::AAAA, 101, None),
    );
    tcp_send(
        &mut s,
        &query("dual.example.test.", RecordType::AAAA, 102, None),
    );
    tcp_send(&mut s, &query("ipv4only.arpa.", RecordType::A, 103, None));
    let mut ids: Vec<u16> = (0..3).map(|_| tcp_read(&mut s).id()).collect();
    ids.sort_unstable();
    assert_eq!(ids, vec![101, 102, 103]);
}

#[test]
fn check_reports_good_and_bad_configs() {
    let dir = std::env::temp_dir().join(format!("sixgate-dns64-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        "listen = [\"127.0.0.1:5353\"]\nupstreams = [\"192.0.2.53\"]\nprefixes = [\"64:ff9b::/96\"]\n\
         allow = [\"2001:db8::/32\"]\n[limits]\ntimeout = \"1s\"\n[metrics]\nlisten = \"127.0.0.1:9464\"\n",
    )
    .unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "listen = [\"127.0.0.1:5353\"]\n\nupstreams = [\"192.0.2.53\", \"nonsense\"]\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_sixgate"))
            .arg("dns64")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["--config", good.to_str().unwrap(), "--check"]);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains(": ok"), "{stdout}");
    assert!(stdout.contains("192.0.2.53:53"), "{stdout}");

    let out = run(&["--config", bad.to_str().unwrap(), "--check"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:3: upstreams[1]: ", bad.display())),
        "{stderr}"
    );

    let out = run(&["--upstream", "nope", "--check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--upstream \"nope\""));

    let out = run(&["--listen", "127.0.0.1:0", "--check"]);
    assert!(out.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dig_if_installed() {
    let Ok(out) = Command::new("dig").arg("-v").output() else {
        // make test installs dig (bind9-dnsutils); CI must run this.
        assert!(
            std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            "dig is not installed, and CI must run the dig test"
        );
        eprintln!("skipping: dig is not installed (apt-get install bind9-dnsutils)");
        return;
    };
    let _ = out;
    let up = Upstream::start();
    let mut d = server(up.addr, &[]);
    let u = d.udp();
    let out = Command::new("dig")
        .args([
            "+short",
            "+time=5",
            "+tries=1",
            "-p",
            &u.port().to_string(),
            "@127.0.0.1",
            "v4only.example.test",
            "AAAA",
        ])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "64:ff9b::c000:201"
    );
}

#[test]
fn fails_over_to_the_next_upstream() {
    let up = Upstream::start();
    let hole = UdpSocket::bind("127.0.0.1:0").unwrap();
    let hole_addr = hole.local_addr().unwrap().to_string();
    let real = up.addr.to_string();
    let mut d = Dns64::start(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &hole_addr,
        "--upstream",
        &real,
        "--timeout",
        "300ms",
        "--allow-non-global",
    ]);
    let u = d.udp();
    let m = udp_ask(
        u,
        &query("v4only.example.test.", RecordType::AAAA, 41, None),
    );
    assert_eq!(m.response_code(), ResponseCode::NoError, "{}", d.dump());
    assert_eq!(
        aaaa_of(&m),
        vec!["64:ff9b::c000:201".parse::<Ipv6Addr>().unwrap()]
    );
    drop(hole);
}

#[test]
fn tcp_idle_connections_are_closed() {
    let up = Upstream::start();
    let mut d = server(up.addr, &[]);
    let mut s = TcpStream::connect(d.tcp()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    tcp_send(&mut s, &query("ipv4only.arpa.", RecordType::AAAA, 51, None));
    assert_eq!(tcp_read(&mut s).id(), 51);
    let start = Instant::now();
    let mut buf = [0u8; 1];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "closed, not answered");
    let idle = start.elapsed();
    assert!(
        idle >= Duration::from_secs(9) && idle < Duration::from_secs(15),
        "{idle:?}"
    );
}

// ---------------------------------------------------------------------------
// The cache, policies, limits and reloads.

fn metrics_text(addr: SocketAddr) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn ttl_of(m: &Message) -> u32 {
    m.answers().first().map(|r| r.ttl()).expect("an answer")
}

#[test]
fn repeats_come_from_the_cache() {
    let up = Upstream::start();
    let mut d = server(up.addr, &["--metrics", "127.0.0.1:0"]);
    let u = d.udp();
    let t = d.tcp();
    let metrics = d.addr("serving metrics");
    let first = udp_ask(u, &query("v4only.example.test.", RecordType::AAAA, 1, None));
    assert_eq!(
        aaaa_of(&first),
        vec!["64:ff9b::c000:201".parse::<Ipv6Addr>().unwrap()]
    );
    let asked = up.udp_queries.load(Ordering::SeqCst);
    assert_eq!(asked, 2, "AAAA then A upstream");
    // The same question in another case, over UDP and TCP, with EDNS or not:
    // answered without asking upstream again (EDNS or not is its own entry).
    let again = udp_ask(u, &query("V4ONLY.example.TEST.", RecordType::AAAA, 2, None));
    assert_eq!(again.id(), 2);
    assert_eq!(again.queries()[0].name().to_ascii(), "V4ONLY.example.TEST.");
    assert_eq!(aaaa_of(&again), aaaa_of(&first));
    assert!(ttl_of(&again) <= ttl_of(&first));
    let over_tcp = tcp_ask(t, &query("v4only.example.test.", RecordType::AAAA, 3, None));
    assert_eq!(aaaa_of(&over_tcp), aaaa_of(&first));
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), asked);
    // Negative answers are cached too (RFC 2308).
    let nx = udp_ask(u, &query("nx.example.test.", RecordType::AAAA, 4, None));
    assert_eq!(nx.response_code(), ResponseCode::NXDomain);
    let asked = up.udp_queries.load(Ordering::SeqCst);
    let nx = udp_ask(u, &query("nx.example.test.", RecordType::AAAA, 5, None));
    assert_eq!(nx.response_code(), ResponseCode::NXDomain);
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), asked);
    let text = metrics_text(metrics);
    assert!(
        text.contains("sixgate_dns64_cache_hits_total 3\n"),
        "{text}"
    );
    assert!(
        text.contains("sixgate_dns64_synthesized_total 3\n"),
        "{text}"
    );
    assert!(text.contains("sixgate_dns64_cache_entries 2\n"), "{text}");
    // With the cache off, every query goes upstream.
    let mut off = server(up.addr, &["--cache-size", "0"]);
    let o = off.udp();
    let before = up.udp_queries.load(Ordering::SeqCst);
    udp_ask(o, &query("v4only.example.test.", RecordType::AAAA, 6, None));
    udp_ask(o, &query("v4only.example.test.", RecordType::AAAA, 7, None));
    assert_eq!(up.udp_queries.load(Ordering::SeqCst), before + 4);
}

#[test]
fn a_failing_upstream_gives_servfail_in_time_cached_names_live_on_and_it_recovers() {
    let up = Upstream::start();
    let mut d = server(up.addr, &["--timeout", "400ms"]);
    let u = d.udp();
    let warm = udp_ask(u, &query("v4only.example.test.", RecordType::AAAA, 1, None));
    assert_eq!(aaaa_of(&warm).len(), 1);
    for (mode, name) in [
        (UP_SILENT, "silent"),
        (UP_SLOW, "slow"),
        (UP_GARBAGE, "garbage"),
    ] {
        up.mode.store(mode, Ordering::SeqCst);
        let start = Instant::now();
        let m = udp_ask(u, &query("dual.example.test.", RecordType::AAAA, 2, None));
        assert_eq!(
            m.response_code(),
            ResponseCode::ServFail,
            "{name}: {}",
            d.dump()
        );
        // AAAA and then A (RFC 6147 §5.1.2), 400 ms each.
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{name}: {:?}",
            start.elapsed()
        );
        let cached = udp_ask(u, &query("v4only.example.test.", RecordType::AAAA, 3, None));
        assert_eq!(
            aaaa_of(&cached),
            aaaa_of(&warm),
            "{name}: the cache still answers"
        );
    }
    // Let the slow upstream's late answers drain, then it is back.
    up.mode.store(UP_OK, Ordering::SeqCst);
    let m = udp_ask(u, &query("dual.example.test.", RecordType::AAAA, 4, None));
    assert_eq!(m.response_code(), ResponseCode::NoError, "{}", d.dump());
    assert_eq!(
        aaaa_of(&m),
        vec!["2001:db8::1".parse::<Ipv6Addr>().unwrap()]
    );
}

#[test]
fn per_client_prefixes_and_no_dns64() {
    let up = Upstream::start();
    let mut d = server(
        up.addr,
        &[
            "--client",
            "127.0.0.2/32=2001:db8:64::/96",
            "--client",
            "127.0.0.3/32=off",
        ],
    );
    let u = d.udp();
    let ask = |from: &str| {
        let q = query("v4only.example.test.", RecordType::AAAA, 9, None);
        let raw = udp_raw_from(from, u, &q, Duration::from_secs(10)).expect("an answer");
        Message::from_vec(&raw).unwrap()
    };
    // Twice each: the second comes from the cache, which keeps them apart.
    for _ in 0..2 {
        assert_eq!(
            aaaa_of(&ask("127.0.0.1:0")),
            vec!["64:ff9b::c000:201".parse::<Ipv6Addr>().unwrap()]
        );
        assert_eq!(
            aaaa_of(&ask("127.0.0.2:0")),
            vec!["2001:db8:64::c000:201".parse::<Ipv6Addr>().unwrap()]
        );
        let plain = ask("127.0.0.3:0");
        assert_eq!(plain.response_code(), ResponseCode::NoError);
        assert!(
            plain.answers().is_empty(),
            "no DNS64: the upstream's NODATA"
        );
    }
}

#[test]
fn forced_and_excluded_names_and_the_extended_error() {
    let up = Upstream::start();
    let mut d = server(
        up.addr,
        &[
            "--force",
            "dual.example.test",
            "--exclude-name",
            "v4only.example.test",
            "--extended-error",
        ],
    );
    let u = d.udp();
    let m = udp_ask(
        u,
        &query("dual.example.test.", RecordType::AAAA, 1, Some(1232)),
    );
    assert_eq!(
        aaaa_of(&m),
        vec!["64:ff9b::c000:202".parse::<Ipv6Addr>().unwrap()],
        "the real AAAA is ignored"
    );
    let ede = m.extensions().as_ref().and_then(|e| {
        e.options()
            .as_ref()
            .iter()
            .find(|(k, _)| u16::from(*k) == 15)
            .cloned()
    });
    assert!(ede.is_some(), "EDE on a synthesised answer: {m:?}");
    let m = udp_ask(u, &query("v4only.example.test.", RecordType::AAAA, 2, None));
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(aaaa_of(&m).is_empty(), "excluded: the upstream's NODATA");
}

#[test]
fn the_rate_limit_drops_a_flood() {
    let up = Upstream::start();
    let mut d = server(up.addr, &["--rate-limit", "5", "--metrics", "127.0.0.1:0"]);
    let u = d.udp();
    let metrics = d.addr("serving metrics");
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let q = query("nx.example.test.", RecordType::AAAA, 7, None);
    for _ in 0..40 {
        s.send_to(&q, u).unwrap();
    }
    let mut answered = 0;
    let mut buf = [0u8; 2048];
    while s.recv_from(&mut buf).is_ok() {
        answered += 1;
    }
    // A burst of 10, plus what 5/s refills while the test runs.
    assert!((10..=20).contains(&answered), "{answered} answered");
    let text = metrics_text(metrics);
    assert!(
        text.lines().any(|l| l
            .starts_with("sixgate_dns64_dropped_total{reason=\"rate_limited\"} ")
            && !l.ends_with(" 0")),
        "{text}"
    );
    assert!(
        d.dump()
            .contains("rate limit: dropping queries client=127.0.0.1"),
        "{}",
        d.dump()
    );
}

#[test]
fn malformed_queries_are_logged_at_a_limited_rate() {
    let up = Upstream::start();
    let mut d = server(up.addr, &[]);
    let u = d.udp();
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    for i in 0..50u16 {
        // A header claiming one question, then junk.
        let mut bad = i.to_be_bytes().to_vec();
        bad.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]);
        s.send_to(&bad, u).unwrap();
        let (n, _) = s.recv_from(&mut buf).expect("FORMERR");
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.response_code(), ResponseCode::FormErr);
    }
    // Still answering.
    let m = udp_ask(u, &query("v4only.example.test.", RecordType::AAAA, 1, None));
    assert_eq!(aaaa_of(&m).len(), 1);
    let logged = d
        .dump()
        .lines()
        .filter(|l| l.contains("malformed query"))
        .count();
    assert_eq!(logged, 1, "{}", d.dump());
}

#[test]
fn sighup_reloads_the_config_and_keeps_it_when_the_new_one_is_bad() {
    let up = Upstream::start();
    let dir = std::env::temp_dir().join(format!("sixgate-dns64-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dns64.toml");
    let write = |prefix: &str| {
        std::fs::write(
            &file,
            format!(
                "listen = [\"127.0.0.1:0\"]\nupstreams = [\"{}\"]\nprefixes = [\"{prefix}\"]\nallow_non_global = true\n",
                up.addr
            ),
        )
        .unwrap();
    };
    write("64:ff9b::/96");
    let mut d = Dns64::start(&["--config", file.to_str().unwrap()]);
    let u = d.udp();
    let ask = || {
        aaaa_of(&udp_ask(
            u,
            &query("v4only.example.test.", RecordType::AAAA, 1, None),
        ))
    };
    assert_eq!(
        ask(),
        vec!["64:ff9b::c000:201".parse::<Ipv6Addr>().unwrap()]
    );
    let hup = |d: &Dns64| {
        let ok = Command::new("kill")
            .args(["-HUP", &d.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    let wait_for = |d: &Dns64, needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !d.dump().contains(needle) {
            assert!(Instant::now() < deadline, "no {needle:?}:\n{}", d.dump());
            thread::sleep(Duration::from_millis(20));
        }
    };
    write("2001:db8:64::/96");
    hup(&d);
    wait_for(&d, "SIGHUP: reloaded");
    // The cache was flushed with the old prefix.
    assert_eq!(
        ask(),
        vec!["2001:db8:64::c000:201".parse::<Ipv6Addr>().unwrap()]
    );
    std::fs::write(
        &file,
        "listen = [\"127.0.0.1:0\"]\nprefixes = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    hup(&d);
    wait_for(&d, "SIGHUP: keeping the running config");
    assert!(
        d.dump().contains("dns64.toml:2: prefixes[0]"),
        "{}",
        d.dump()
    );
    assert_eq!(
        ask(),
        vec!["2001:db8:64::c000:201".parse::<Ipv6Addr>().unwrap()]
    );
    let _ = std::fs::remove_dir_all(&dir);
}
