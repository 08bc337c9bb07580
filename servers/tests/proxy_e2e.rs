//! End-to-end tests of `sixgate proxy` (docs/proxy.md): the real binary on
//! ephemeral loopback ports, IPv4 clients, IPv6 backends on `[::1]`, real
//! rustls on both ends where TLS matters and hand-made hellos where the
//! bytes themselves are the point.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sixgate::proxy_protocol::{decode, encode, Decoded, Header, Version};

use support::*;

const H2_H1: &[&[u8]] = &[b"h2", b"http/1.1"];
const H1: &[&[u8]] = &[b"http/1.1"];

fn route(name: &str, server: &Server) -> String {
    format!("--route={name}={}", server.backend())
}

fn tls_proxy(extra: &[&str]) -> (Proxy, SocketAddr) {
    let mut args = vec!["--tls-listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let p = Proxy::start(&args);
    let addr = p.listen_addr("tls");
    (p, addr)
}

/// Sends `bytes` to the proxy and returns the client stream.
fn send(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut s = connect(addr);
    s.write_all(bytes).expect("send to proxy");
    s
}

/// Sends a hello and asserts the backend receives exactly those bytes.
fn assert_forwarded(addr: SocketAddr, cap: &mut Captures, hello: &[u8]) -> TcpStream {
    let s = send(addr, hello);
    let got = cap.next_conn(hello.len());
    assert_eq!(
        got.len(),
        hello.len(),
        "backend got {} of {} bytes",
        got.len(),
        hello.len()
    );
    assert!(got == hello, "backend bytes differ from the hello sent");
    s
}

// 1 -------------------------------------------------------------------------

#[test]
fn tls_sni_routes_exact_and_wildcard_with_alpn_end_to_end() {
    let www = tls_server("[::1]:0", H1, TlsReply::Info("www"));
    let star = tls_server("[::1]:0", H1, TlsReply::Info("star"));
    let (p, addr) = tls_proxy(&[
        &route("www.example.test", &www),
        &route("*.example.test", &star),
    ]);

    for (name, tag) in [
        ("www.example.test", "www"),
        ("a.example.test", "star"),
        ("a.b.example.test", "star"),
    ] {
        let mut tls = tls_connect(addr, name, H2_H1);
        let line = tls_read_line(&mut tls)
            .unwrap_or_else(|e| panic!("{name}: TLS through the proxy failed: {e}\n{}", p.dump()));
        assert_eq!(
            line,
            format!("tag={tag} sni={name} alpn=http/1.1"),
            "{name}"
        );
        assert_eq!(
            tls.conn.alpn_protocol(),
            Some(&b"http/1.1"[..]),
            "{name}: client ALPN"
        );
        let client = tls.sock.local_addr().unwrap();
        drop(tls);
        let conn = p.conn_line(client);
        let backend = if tag == "www" {
            www.backend()
        } else {
            star.backend()
        };
        assert_fields(
            &conn,
            &[
                ("listener", "tls"),
                ("name", name),
                ("backend", &backend),
                ("outcome", "done"),
            ],
        );
        assert!(
            num_field(&conn, "up") > 0 && num_field(&conn, "down") > 0,
            "{conn}"
        );
    }
    assert_eq!(www.accepted(), 1);
    assert_eq!(star.accepted(), 2);
}

// 2 -------------------------------------------------------------------------

#[test]
fn unknown_name_gets_unrecognized_name_alert_and_no_backend_connection() {
    let www = tls_server("[::1]:0", H1, TlsReply::Info("www"));
    let (p, addr) = tls_proxy(&[
        &route("www.example.test", &www),
        &route("*.example.test", &www),
    ]);

    // A real client: the alert surfaces as rustls' AlertReceived.
    // `example.test` itself is not covered by `*.example.test`.
    for name in ["nope.other.test", "example.test"] {
        let mut tls = tls_connect(addr, name, H2_H1);
        let err = tls_read_line(&mut tls).expect_err("handshake must fail");
        assert!(
            is_unrecognized_name(&err),
            "{name}: want AlertReceived(UnrecognisedName), got {err:?}"
        );
        let client = tls.sock.local_addr().unwrap();
        let conn = p.conn_line(client);
        assert_fields(
            &conn,
            &[
                ("name", name),
                ("backend", "-"),
                ("outcome", "refused:unknown_name"),
            ],
        );
    }

    // The exact bytes: the 7-byte alert, then close.
    let mut s = send(addr, &hello_for(b"nope.other.test"));
    match read_until_close(&mut s, Duration::from_secs(3)) {
        End::Closed(b) => assert_eq!(b, UNRECOGNIZED_NAME_ALERT),
        End::Open(b) => panic!("not closed; got {b:02x?}"),
    }
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        www.accepted(),
        0,
        "a refused name must not reach any backend"
    );
}

// 3 -------------------------------------------------------------------------

fn proxy_protocol_case(version: &str, want: Version) {
    let (backend, mut cap) = capture_server("[::1]:0");
    let (p, addr) = tls_proxy(&[
        &route("www.example.test", &backend),
        "--proxy-protocol",
        version,
    ]);
    let hello = hello_for(b"www.example.test");
    let s = send(addr, &hello);
    let client = s.local_addr().unwrap();

    // Collect until the header and the whole hello are in.
    let total = |b: &[u8]| match decode(b) {
        Ok(Decoded::Complete { len, .. }) => b.len() >= len + hello.len(),
        Ok(Decoded::NeedMore(_)) => false,
        _ => true,
    };
    let got = cap.next_conn_until(total);
    let (header, ver, len) = match decode(&got) {
        Ok(Decoded::Complete {
            header,
            version,
            len,
            ..
        }) => (header, version, len),
        other => panic!(
            "{version}: backend did not get a PROXY header: {other:?}; bytes {got:02x?}\n{}",
            p.dump()
        ),
    };
    assert_eq!(ver, want);
    assert_eq!(
        header,
        Header::Proxy {
            source: client,
            destination: addr
        },
        "{version}: TCP4 with the client's own IPv4 address and the proxy's listen address"
    );
    assert!(matches!(client, SocketAddr::V4(_)));
    assert!(
        got[len..] == hello[..],
        "{version}: the hello follows the header unchanged"
    );
    drop(s);
    assert_fields(&p.conn_line(client), &[("outcome", "done")]);
}

#[test]
fn proxy_protocol_v2_carries_the_ipv4_client_and_listen_address() {
    proxy_protocol_case("v2", Version::V2);
}

#[test]
fn proxy_protocol_v1_carries_the_ipv4_client_and_listen_address() {
    proxy_protocol_case("v1", Version::V1);
}

/// `[::]` alone is dual-stack: an IPv4 client arrives as `::ffff:127.0.0.1`
/// and is still sent on as TCP4 with its plain IPv4 address and logged so.
#[test]
fn ipv4_client_on_a_dual_stack_listener_is_sent_as_tcp4() {
    let (backend, mut cap) = capture_server("[::1]:0");
    let p = Proxy::start(&[
        "--tcp-listen",
        &format!("[::]:0={}", backend.backend()),
        "--proxy-protocol",
        "v2",
    ]);
    let port = p.listen_addr("tcp0").port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let s = send(addr, b"hello");
    let client = s.local_addr().unwrap();
    let got = cap.next_conn_until(|b| match decode(b) {
        Ok(Decoded::Complete { len, .. }) => b.len() >= len + 5,
        Ok(Decoded::NeedMore(_)) => false,
        _ => true,
    });
    match decode(&got) {
        Ok(Decoded::Complete { header, .. }) => assert_eq!(
            header,
            Header::Proxy {
                source: client,
                destination: addr
            },
            "TCP4, never ::ffff:"
        ),
        other => panic!("no PROXY header: {other:?}\n{}", p.dump()),
    }
    drop(s);
    assert_fields(&p.conn_line(client), &[("client", &client.to_string())]);
}

// 4 -------------------------------------------------------------------------

/// A plain HTTP backend: reports the request head it read, answers 200 with
/// `body`.
fn http_backend(body: &'static str) -> (Server, std::sync::mpsc::Receiver<Vec<u8>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = Server::start("[::1]:0", move |mut s| {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match s.read(&mut b) {
                Ok(1) => head.push(b[0]),
                _ => return,
            }
        }
        let _ = tx.lock().unwrap().send(head);
        let _ = s.write_all(
            format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
    });
    (server, rx)
}

#[test]
fn http_host_routing_421_and_400() {
    let (a, rx_a) = http_backend("A");
    let (b, rx_b) = http_backend("B");
    let p = Proxy::start(&[
        "--http-listen",
        "127.0.0.1:0",
        &route("a.example.test", &a),
        &route("b.example.test", &b),
    ]);
    let addr = p.listen_addr("http");

    let req_a = b"GET / HTTP/1.1\r\nHost: a.example.test\r\n\r\n";
    let mut s = send(addr, req_a);
    let End::Closed(resp) = read_until_close(&mut s, IO_TIMEOUT) else {
        panic!("A: no complete response\n{}", p.dump())
    };
    assert!(
        String::from_utf8_lossy(&resp).ends_with("\r\n\r\nA"),
        "{resp:?}"
    );
    assert_eq!(
        rx_a.recv_timeout(IO_TIMEOUT).unwrap(),
        req_a,
        "backend A sees the exact bytes"
    );
    let conn = drop_and_line(&p, s);
    assert_fields(
        &conn,
        &[
            ("listener", "http"),
            ("name", "a.example.test"),
            ("backend", &a.backend()),
            ("outcome", "done"),
        ],
    );

    let req_b =
        b"GET /x HTTP/1.1\r\nUser-Agent: t\r\nHost: b.example.test:8080\r\nAccept: */*\r\n\r\n";
    let mut s = send(addr, req_b);
    let End::Closed(resp) = read_until_close(&mut s, IO_TIMEOUT) else {
        panic!("B: no complete response")
    };
    assert!(
        String::from_utf8_lossy(&resp).ends_with("\r\n\r\nB"),
        "{resp:?}"
    );
    assert_eq!(rx_b.recv_timeout(IO_TIMEOUT).unwrap(), req_b);
    assert_fields(&drop_and_line(&p, s), &[("name", "b.example.test")]);

    let mut s = send(addr, b"GET / HTTP/1.1\r\nHost: c.other.test\r\n\r\n");
    let End::Closed(resp) = read_until_close(&mut s, IO_TIMEOUT) else {
        panic!("unknown: not closed")
    };
    assert!(
        resp.starts_with(b"HTTP/1.1 421"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert_fields(
        &p.conn_line(s.local_addr().unwrap()),
        &[("outcome", "refused:unknown_name")],
    );

    let mut s = send(addr, b"\x01\x02junk junk\r\n\r\n");
    let End::Closed(resp) = read_until_close(&mut s, IO_TIMEOUT) else {
        panic!("junk: not closed")
    };
    assert!(
        resp.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&resp)
    );
    assert_fields(
        &p.conn_line(s.local_addr().unwrap()),
        &[("outcome", "refused:bad_request")],
    );

    assert_eq!(a.accepted(), 1);
    assert_eq!(b.accepted(), 1);
}

// 5 -------------------------------------------------------------------------

#[test]
fn tcp_listener_maps_a_port_both_ways() {
    let echo = echo_server("[::1]:0", b"");
    let p = Proxy::start(&["--tcp-listen", &format!("127.0.0.1:0={}", echo.backend())]);
    let addr = p.listen_addr("tcp0");
    assert!(p
        .lines()
        .iter()
        .any(|l| l.contains("listening listener=tcp0 mode=tcp ")));

    let mut s = connect(addr);
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let mut w = s.try_clone().unwrap();
        let data = data.clone();
        thread::spawn(move || w.write_all(&data).unwrap())
    };
    let back = read_n(&mut s, data.len());
    writer.join().unwrap();
    assert!(back == data, "echoed bytes differ");
    let client = s.local_addr().unwrap();
    drop(s);
    let conn = p.conn_line(client);
    assert_fields(
        &conn,
        &[
            ("listener", "tcp0"),
            ("backend", &echo.backend()),
            ("outcome", "done"),
        ],
    );
    assert_eq!(num_field(&conn, "up"), 100_000);
    assert_eq!(num_field(&conn, "down"), 100_000);
}

/// Past 256 KiB a direction switches from the buffer to splice(2); 8 MB
/// each way, with a half-close at the end, arrives intact with either copier.
#[test]
fn bulk_transfer_is_intact_with_both_copiers() {
    for copier in ["splice", "buffer"] {
        let echo = echo_server("[::1]:0", b"");
        let p = Proxy::start(&[
            "--copier",
            copier,
            "--tcp-listen",
            &format!("127.0.0.1:0={}", echo.backend()),
        ]);
        let mut s = connect(p.listen_addr("tcp0"));
        let data: Vec<u8> = (0..8_000_000u32)
            .map(|i| (i.wrapping_mul(7) % 253) as u8)
            .collect();
        let writer = {
            let mut w = s.try_clone().unwrap();
            let data = data.clone();
            thread::spawn(move || {
                w.write_all(&data).unwrap();
                // Half-close: the echo still flows back to the end.
                w.shutdown(std::net::Shutdown::Write).unwrap();
            })
        };
        let back = read_n(&mut s, data.len());
        writer.join().unwrap();
        assert!(back == data, "{copier}: echoed bytes differ");
        assert_eq!(
            read_until_close(&mut s, IO_TIMEOUT),
            End::Closed(Vec::new()),
            "{copier}"
        );
        let client = s.local_addr().unwrap();
        drop(s);
        let conn = p.conn_line(client);
        assert_eq!(num_field(&conn, "up"), 8_000_000, "{copier}");
        assert_eq!(num_field(&conn, "down"), 8_000_000, "{copier}");
    }
}

// 6 -------------------------------------------------------------------------

#[test]
fn fragmented_and_large_hellos_route() {
    let (backend, mut cap) = capture_server("[::1]:0");
    let (p, addr) = tls_proxy(&[&route("www.example.test", &backend)]);

    // A real rustls first flight, one byte per write.
    let flight = rustls_first_flight("www.example.test", H2_H1);
    let mut s = connect(addr);
    for b in &flight {
        s.write_all(std::slice::from_ref(b)).unwrap();
        s.flush().unwrap();
        thread::sleep(Duration::from_millis(1));
    }
    let got = cap.next_conn(flight.len());
    assert!(
        got == flight,
        "byte-at-a-time hello not forwarded intact\n{}",
        p.dump()
    );
    drop(s);

    // The same handshake message re-framed into 2 and 5 records.
    let hs = handshake_payload(&flight);
    for parts in [2, 5] {
        let framed = records(&hs, parts);
        let s = assert_forwarded(addr, &mut cap, &framed);
        assert_fields(
            &{ drop_and_line(&p, s) },
            &[("name", "www.example.test"), ("outcome", "done")],
        );
    }

    // A 20 KB hello (a padding extension), in two records.
    let big = client_hello(&[sni_ext(b"www.example.test"), (EXT_PADDING, vec![0; 20_000])]);
    let framed = records(&big, 2);
    assert!(framed.len() > 20_000);
    let s = assert_forwarded(addr, &mut cap, &framed);
    assert_fields(
        &drop_and_line(&p, s),
        &[("name", "www.example.test"), ("outcome", "done")],
    );

    // ~20 KB of ALPN entries, the SNI after them.
    let protos: Vec<Vec<u8>> = (0..80)
        .map(|i| format!("p{i:03}-{}", "x".repeat(240)).into_bytes())
        .collect();
    let refs: Vec<&[u8]> = protos.iter().map(|p| p.as_slice()).collect();
    let big = client_hello(&[alpn_ext(&refs), sni_ext(b"www.example.test")]);
    let framed = records(&big, 2);
    let s = assert_forwarded(addr, &mut cap, &framed);
    assert_fields(
        &drop_and_line(&p, s),
        &[("name", "www.example.test"), ("outcome", "done")],
    );
}

fn drop_and_line(p: &Proxy, s: TcpStream) -> String {
    let client = s.local_addr().unwrap();
    drop(s);
    p.conn_line(client)
}

// 7 -------------------------------------------------------------------------

/// Sends `bytes`, expects the proxy to close within `within` with no reply
/// bytes other than `reply`, and returns the conn line.
fn refused(
    p: &Proxy,
    addr: SocketAddr,
    bytes: &[u8],
    reply: Option<&[u8]>,
    within: Duration,
) -> String {
    let start = Instant::now();
    let mut s = send(addr, bytes);
    let client = s.local_addr().unwrap();
    match read_until_close(&mut s, within + Duration::from_secs(2)) {
        End::Closed(b) => {
            if let Some(r) = reply {
                assert_eq!(b, r, "reply to {:02x?}", &bytes[..bytes.len().min(16)]);
            }
        }
        End::Open(b) => panic!("not closed in {within:?} (got {b:02x?})\n{}", p.dump()),
    }
    assert!(
        start.elapsed() < within,
        "closed only after {:?}",
        start.elapsed()
    );
    p.conn_line(client)
}

#[test]
fn hostile_hellos_are_refused_and_the_proxy_keeps_serving() {
    let (backend, mut cap) = capture_server("[::1]:0");
    let (p, addr) = tls_proxy(&[&route("www.example.test", &backend)]);
    let prompt = Duration::from_secs(2); // well under the 10 s default hello_timeout

    // A record header announcing a 16 MiB handshake.
    let line = refused(
        &p,
        addr,
        &[0x16, 0x03, 0x01, 0xff, 0xff, 0x01, 0xff, 0xff, 0xff],
        Some(b""),
        prompt,
    );
    let outcome = field(&line, "outcome").unwrap();
    assert!(
        outcome == "refused:bad_hello" || outcome == "refused:not_tls",
        "{line}"
    );

    // Not TLS at all.
    let line = refused(
        &p,
        addr,
        b"GET / HTTP/1.1\r\nHost: www.example.test\r\n\r\n",
        Some(b""),
        prompt,
    );
    assert_fields(&line, &[("outcome", "refused:not_tls")]);

    // A NUL inside the name.
    let line = refused(&p, addr, &hello_for(b"www\0.example.test"), None, prompt);
    assert_fields(&line, &[("outcome", "refused:invalid_name")]);

    // An IP literal sent as a host_name, no default backend.
    let line = refused(&p, addr, &hello_for(b"192.0.2.1"), None, prompt);
    assert_fields(&line, &[("outcome", "refused:ip_literal")]);

    // No SNI at all, no default backend.
    let line = refused(
        &p,
        addr,
        &records(&client_hello(&[alpn_ext(H1)]), 1),
        None,
        prompt,
    );
    assert_fields(&line, &[("outcome", "refused:no_name")]);

    // Two server_name extensions: malformed, closed without a reply.
    let dup = records(
        &client_hello(&[sni_ext(b"www.example.test"), sni_ext(b"www.example.test")]),
        1,
    );
    let line = refused(&p, addr, &dup, Some(b""), prompt);
    assert_fields(&line, &[("outcome", "refused:bad_hello")]);

    thread::sleep(Duration::from_millis(200));
    assert_eq!(backend.accepted(), 0, "nothing hostile reached the backend");

    // Still serving; upper case and one trailing dot are normalised.
    let hello = hello_for(b"WWW.Example.TEST.");
    let s = assert_forwarded(addr, &mut cap, &hello);
    assert_fields(
        &drop_and_line(&p, s),
        &[("name", "www.example.test"), ("outcome", "done")],
    );
}

#[test]
fn ip_literal_and_absent_sni_go_to_the_default_backend_invalid_never() {
    let (backend, mut cap) = capture_server("[::1]:0");
    let (p, addr) = tls_proxy(&["--default-backend", &backend.backend()]);

    let hello = hello_for(b"192.0.2.1");
    let s = assert_forwarded(addr, &mut cap, &hello);
    assert_fields(
        &drop_and_line(&p, s),
        &[("backend", &backend.backend()), ("outcome", "done")],
    );

    let hello = records(&client_hello(&[alpn_ext(H1)]), 1);
    let s = assert_forwarded(addr, &mut cap, &hello);
    assert_fields(&drop_and_line(&p, s), &[("name", "-"), ("outcome", "done")]);

    let before = backend.accepted();
    let line = refused(
        &p,
        addr,
        &hello_for(b"bad_name!.example.test"),
        None,
        Duration::from_secs(2),
    );
    assert_fields(&line, &[("outcome", "refused:invalid_name")]);
    assert_eq!(
        backend.accepted(),
        before,
        "an invalid name never uses the default backend"
    );
}

// 8 -------------------------------------------------------------------------

#[test]
fn slowloris_is_cut_at_the_hello_deadline() {
    let (backend, _cap) = capture_server("[::1]:0");
    let (p, addr) = tls_proxy(&[
        &route("www.example.test", &backend),
        "--hello-timeout",
        "1s",
    ]);

    // Three bytes, then silence.
    let start = Instant::now();
    let mut s = send(addr, &[0x16, 0x03, 0x01]);
    let end = read_until_close(&mut s, Duration::from_secs(5));
    let took = start.elapsed();
    assert!(
        matches!(end, End::Closed(_)),
        "silent client not closed: {end:?}"
    );
    assert!(
        took >= Duration::from_millis(800) && took <= Duration::from_secs(3),
        "silent client closed after {took:?}"
    );
    assert_fields(
        &p.conn_line(s.local_addr().unwrap()),
        &[("outcome", "refused:hello_timeout")],
    );

    // A byte every 300 ms: each read is quick, the whole hello is not.
    let hello = hello_for(b"www.example.test");
    let mut s = connect(addr);
    let start = Instant::now();
    let mut closed = false;
    for b in &hello {
        if s.write_all(std::slice::from_ref(b)).is_err() {
            closed = true;
            break;
        }
        if let End::Closed(_) = read_until_close(&mut s, Duration::from_millis(300)) {
            closed = true;
            break;
        }
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    let took = start.elapsed();
    assert!(closed, "trickling client still open after {took:?}");
    assert!(
        took >= Duration::from_millis(800) && took <= Duration::from_secs(3),
        "trickling client closed after {took:?}"
    );
    assert_fields(
        &p.conn_line(s.local_addr().unwrap()),
        &[("outcome", "refused:hello_timeout")],
    );
    assert_eq!(backend.accepted(), 0);
}

// 9 -------------------------------------------------------------------------

/// Opens a connection through an echo mapping and proves it is forwarded.
fn held(local: SocketAddr, addr: SocketAddr) -> TcpStream {
    let mut s = connect_from(local, addr).expect("connect");
    s.write_all(b"x").unwrap();
    assert_eq!(read_n(&mut s, 1), b"x");
    s
}

/// Asserts the proxy closes a new connection from `local` at once.
/// Asserts the proxy closes a new connection from `local` at once, with
/// nothing forwarded, and logs the refusal `reason`: a conn line with
/// `outcome=refused:REASON` or a (rate-limited) refusal line naming it.
fn refused_at_once(p: &Proxy, local: SocketAddr, addr: SocketAddr, reason: &str) {
    let mark = p.mark();
    let start = Instant::now();
    match connect_from(local, addr) {
        // Accepted and reset before connect() returned: closed at once.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("connect over the limit: {e} (want accept, then close)"),
        Ok(mut s) => {
            let _ = s.write_all(b"y");
            let end = read_until_close(&mut s, Duration::from_secs(3));
            assert_eq!(
                end,
                End::Closed(Vec::new()),
                "over the limit: closed with nothing forwarded\n{}",
                p.dump()
            );
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "closed only after {:?}",
        start.elapsed()
    );
    let logged = p.find_line_from(mark, LOG_TIMEOUT, |l| {
        l.contains(&format!("outcome=refused:{reason}"))
            || (l.contains("refused") && l.contains(reason))
    });
    assert!(
        logged.is_some(),
        "refusal {reason} not logged\n{}",
        p.dump()
    );
}

fn any(ip: &str) -> SocketAddr {
    format!("{ip}:0").parse().unwrap()
}

#[test]
fn max_connections_refuses_at_once_and_counts() {
    let echo = echo_server("[::1]:0", b"");
    let p = Proxy::start(&[
        "--tcp-listen",
        &format!("127.0.0.1:0={}", echo.backend()),
        "--max-connections",
        "5",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = p.listen_addr("tcp0");
    let metrics = p.metrics_addr();

    let mut conns: Vec<TcpStream> = (0..5).map(|_| held(any("127.0.0.1"), addr)).collect();
    refused_at_once(&p, any("127.0.0.1"), addr, "max_connections");

    let text = scrape(metrics);
    assert_eq!(
        metric(
            &text,
            "sixgate_proxy_refused_total",
            Some(("reason", "max_connections"))
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "sixgate_proxy_connections_active", None),
        5.0,
        "{text}"
    );

    // Held connections still work; freeing one lets a new one in.
    for s in &mut conns {
        s.write_all(b"z").unwrap();
        assert_eq!(read_n(s, 1), b"z");
    }
    let gone = conns.pop().unwrap();
    let client = gone.local_addr().unwrap();
    drop(gone);
    p.conn_line(client);
    let _again = held(any("127.0.0.1"), addr);

    // Full again: another client address is refused as well (the limit is
    // global), and this refusal too is counted and logged, although it
    // comes soon after the first.
    refused_at_once(&p, any("127.0.0.2"), addr, "max_connections");
    let text = scrape(metrics);
    assert_eq!(
        metric(
            &text,
            "sixgate_proxy_refused_total",
            Some(("reason", "max_connections"))
        ),
        2.0,
        "{text}"
    );
}

#[test]
fn per_client_limit_refuses_that_client_only() {
    let echo = echo_server("[::1]:0", b"");
    let p = Proxy::start(&[
        "--tcp-listen",
        &format!("127.0.0.1:0={}", echo.backend()),
        "--max-connections-per-client",
        "3",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let addr = p.listen_addr("tcp0");
    let metrics = p.metrics_addr();

    let _conns: Vec<TcpStream> = (0..3).map(|_| held(any("127.0.0.1"), addr)).collect();
    refused_at_once(&p, any("127.0.0.1"), addr, "per_client_limit");
    let _other = held(any("127.0.0.2"), addr);

    let text = scrape(metrics);
    assert!(
        metric(
            &text,
            "sixgate_proxy_refused_total",
            Some(("reason", "per_client_limit"))
        ) >= 1.0,
        "{text}"
    );
}

// 10 ------------------------------------------------------------------------

fn reload_config(backend: &str) -> String {
    format!(
        "[[listener]]\nname = \"edge\"\nmode = \"tls\"\nlisten = [\"127.0.0.1:0\"]\n\n\
         [[route]]\nnames = [\"www.example.test\"]\nbackends = [\"{backend}\"]\n"
    )
}

/// Connects with a hello for www.example.test to a tagged echo backend;
/// returns the stream and the backend's tag byte.
fn tagged(addr: SocketAddr) -> (TcpStream, u8) {
    let hello = hello_for(b"www.example.test");
    let mut s = send(addr, &hello);
    let got = read_n(&mut s, 1 + hello.len());
    assert!(got[1..] == hello[..], "echoed hello");
    (s, got[0])
}

#[test]
fn reload_keeps_streams_and_reroutes_new_connections() {
    let a = echo_server("[::1]:0", b"A");
    let b = echo_server("[::1]:0", b"B");
    let dir = TempDir::new("reload");
    let cfg = dir.write("proxy.toml", &reload_config(&a.backend()));
    let p = Proxy::start(&["--config", &cfg]);
    let addr = p.listen_addr("edge");

    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    for i in 0..4 {
        let (mut s, tag) = tagged(addr);
        assert_eq!(tag, b'A', "before reload");
        let stop = Arc::clone(&stop);
        streams.push(thread::spawn(move || -> Result<usize, String> {
            let mut n = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let msg = format!("stream {i} chunk {n}\n");
                s.write_all(msg.as_bytes())
                    .map_err(|e| format!("write {n}: {e}"))?;
                let mut back = vec![0u8; msg.len()];
                s.read_exact(&mut back)
                    .map_err(|e| format!("read {n}: {e}"))?;
                if back != msg.as_bytes() {
                    return Err(format!("chunk {n} came back as {back:?}"));
                }
                n += 1;
                thread::sleep(Duration::from_millis(50));
            }
            Ok(n)
        }));
    }
    thread::sleep(Duration::from_millis(300));

    // Point the name at B and reload.
    dir.write("proxy.toml", &reload_config(&b.backend()));
    let mark = p.mark();
    p.sighup();
    let line = p
        .find_line_from(mark, LOG_TIMEOUT, |l| {
            l.contains("reloaded") || l.contains("reload failed")
        })
        .unwrap_or_else(|| panic!("no reload line\n{}", p.dump()));
    assert!(line.contains("reloaded"), "{line}");

    let (_new, tag) = tagged(addr);
    assert_eq!(tag, b'B', "a new connection after reload goes to B");

    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    for (i, t) in streams.into_iter().enumerate() {
        let n = t
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("stream {i} broke: {e}\n{}", p.dump()));
        assert!(n >= 15, "stream {i} made only {n} round trips");
    }
    assert_eq!(a.accepted(), 4, "the old streams stayed on A");

    // A broken config is not applied.
    dir.write(
        "proxy.toml",
        "[[route]]\nnames = [\"www.example.test\"]\nbackends = [\"2001:db8::1:443\"]\n",
    );
    let mark = p.mark();
    p.sighup();
    let line = p
        .find_line_from(mark, LOG_TIMEOUT, |l| {
            l.contains("reloaded") || l.contains("reload failed")
        })
        .unwrap_or_else(|| panic!("no reload line\n{}", p.dump()));
    assert!(line.contains("reload failed"), "{line}");
    let (_s, tag) = tagged(addr);
    assert_eq!(tag, b'B', "routing unchanged after a failed reload");
    assert_eq!(b.accepted(), 2);
}

// 11 ------------------------------------------------------------------------

const DOCS_EXAMPLE: &str = r#"# /etc/sixgate/proxy.toml
[[listener]]
name = "https"
mode = "tls"                          # tls | http | tcp
listen = ["0.0.0.0:443", "[::]:443"]
# default_backend = "[2001:db8:1::10]:443"   # where names no route matches go
# backend_port = 443                  # port for backends written without one (default: the port the client connected to)
# accept_proxy_from = ["192.0.2.10/32"]      # a front load balancer that sends PROXY v1/v2

[[listener]]
name = "http"
mode = "http"
listen = ["0.0.0.0:80", "[::]:80"]

[[listener]]
name = "ssh-alice"
mode = "tcp"
listen = ["0.0.0.0:2201", "[::]:2201"]
backend = "[2001:db8:1::10]:22"
source = "nat46"

[[route]]
names = ["www.alice.example", "*.alice.example"]
backends = ["[2001:db8:1::10]"]       # no port: the listener's backend_port, else the local port
proxy_protocol = "v2"                 # none (default) | v1 | v2
# listeners = ["https"]               # default: every tls and http listener

[[route]]
names = ["bob.example"]
backends = ["[2001:db8:2::20]:443", "[2001:db8:2::21]:443"]
source = "nat46"                      # connect from nat46.prefix + client IPv4

[nat46]
prefix = "2001:db8:46::/96"           # routed to this machine; see "NAT46 source mode"

[dynamic]                             # zero-config mode, see below
allowed_backends = ["2001:db8::/40"]
# names = ["customers.example"]       # optional suffix allow-list
# resolver = "[::1]:53"               # default: the first nameserver in /etc/resolv.conf
# proxy_protocol = "none"
# source = "proxy"

[limits]
hello_timeout = "10s"                 # whole ClientHello / request head must arrive in this
connect_timeout = "5s"
idle_timeout = "5m"                   # no byte either way for this long: close
max_connections = 10000
max_connections_per_client = 256      # IPv4 clients by address, IPv6 clients by /64
client_ipv6_prefix_len = 64
max_head = 16384                      # HTTP request head limit, bytes

[metrics]
listen = "127.0.0.1:9464"             # Prometheus text at /metrics; loopback only by default
"#;

fn check(path: &str) -> std::process::Output {
    Command::new(sixgate_bin())
        .args(["proxy", "--check", "--config", path])
        .env_remove("RUST_LOG")
        .output()
        .expect("run sixgate proxy --check")
}

#[test]
fn check_reports_file_line_and_key() {
    let dir = TempDir::new("check");
    // The example config of docs/proxy.md, verbatim.
    let good = dir.write("good.toml", DOCS_EXAMPLE);
    let out = check(&good);
    assert_eq!(
        out.status.code(),
        Some(0),
        "good config: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Line 7 holds the bad backend.
    let bad = dir.write(
        "bad.toml",
        "[[listener]]\nname = \"https\"\nmode = \"tls\"\nlisten = [\"127.0.0.1:8443\"]\n\n\
         [[route]]\nbackends = [\"2001:db8::1:443\"]\nnames = [\"www.example.test\"]\n",
    );
    let out = check(&bad);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{bad}:7:")),
        "want {bad}:7: in {err:?}"
    );
    assert!(err.contains("route[0].backends[0]"), "{err:?}");
    assert!(err.contains("2001:db8::1:443"), "{err:?}");

    // Line 6: an unknown key.
    let unknown = dir.write(
        "unknown.toml",
        "[[listener]]\nname = \"https\"\nmode = \"tls\"\nlisten = [\"127.0.0.1:8443\"]\n\n\
         frobnicate = 1\n",
    );
    let out = check(&unknown);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{unknown}:6:")),
        "want {unknown}:6: in {err:?}"
    );
    assert!(err.contains("frobnicate"), "{err:?}");
}

// 12 ------------------------------------------------------------------------

#[test]
fn dynamic_mode_forwards_allowed_and_refuses_others() {
    let (dns, queries) = dns_server(vec![
        ("site.customers.test", Ipv6Addr::LOCALHOST),
        ("evil.customers.test", "2001:db8:ffff::1".parse().unwrap()),
    ]);
    let (backend, mut cap) = capture_server("[::1]:0");
    let dir = TempDir::new("dynamic");
    let cfg = dir.write(
        "proxy.toml",
        &format!(
            "[[listener]]\nname = \"edge\"\nmode = \"tls\"\nlisten = [\"127.0.0.1:0\"]\nbackend_port = {}\n\n\
             [dynamic]\nallowed_backends = [\"::1/128\"]\nresolver = \"{dns}\"\n",
            backend.addr.port()
        ),
    );
    let p = Proxy::start(&["--config", &cfg]);
    let addr = p.listen_addr("edge");

    let hello = hello_for(b"site.customers.test");
    let s = assert_forwarded(addr, &mut cap, &hello);
    assert_fields(
        &drop_and_line(&p, s),
        &[
            ("name", "site.customers.test"),
            ("backend", &backend.backend()),
            ("outcome", "done"),
        ],
    );
    assert!(queries.load(Ordering::SeqCst) >= 1);

    let line = refused(
        &p,
        addr,
        &hello_for(b"evil.customers.test"),
        Some(&UNRECOGNIZED_NAME_ALERT),
        Duration::from_secs(3),
    );
    assert_fields(
        &line,
        &[
            ("name", "evil.customers.test"),
            ("outcome", "refused:dynamic_refused"),
        ],
    );
    assert_eq!(backend.accepted(), 1);
}

// 13 ------------------------------------------------------------------------

#[test]
fn curl_over_ipv4_reaches_an_https_backend() {
    if !have("curl") {
        assert!(!in_ci(), "curl is required in CI");
        eprintln!("skipping: curl not installed");
        return;
    }
    let body = "hello from the ipv6-only backend\n";
    let backend = tls_server(
        "[::1]:0",
        H1,
        TlsReply::Http("hello from the ipv6-only backend\n"),
    );
    let (p, addr) = tls_proxy(&[&route("www.example.test", &backend)]);
    let port = addr.port();
    let out = Command::new("curl")
        .args([
            "-sS",
            "-k",
            "--max-time",
            "10",
            "--resolve",
            &format!("www.example.test:{port}:127.0.0.1"),
            &format!("https://www.example.test:{port}/"),
        ])
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        p.dump()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), body);
    let line = p.expect_line("name=www.example.test");
    assert!(
        is_conn_line(&line) && line.contains("outcome=done"),
        "{line}"
    );
}

// Beyond the brief's list: accept_proxy_from, idle timeout, backend failover.

#[test]
fn accept_proxy_from_uses_the_front_proxys_client() {
    let (backend, mut cap) = capture_server("[::1]:0");
    let (p, addr) = tls_proxy(&[
        &route("www.example.test", &backend),
        "--proxy-protocol",
        "v2",
        "--accept-proxy-from",
        "127.0.0.1/32",
    ]);
    let visitor: SocketAddr = "198.51.100.7:4242".parse().unwrap();
    let front: SocketAddr = "192.0.2.80:443".parse().unwrap();
    let hello = hello_for(b"www.example.test");

    // From the trusted front: a v1 header, then the hello.
    let mut bytes = encode(&Header::proxy(visitor, front), Version::V1);
    bytes.extend_from_slice(&hello);
    let s = send(addr, &bytes);
    let got = cap.next_conn_until(|b| match decode(b) {
        Ok(Decoded::Complete { len, .. }) => b.len() >= len + hello.len(),
        Ok(Decoded::NeedMore(_)) => false,
        _ => true,
    });
    let Ok(Decoded::Complete {
        header,
        version,
        len,
        ..
    }) = decode(&got)
    else {
        panic!("no PROXY header at the backend: {got:02x?}\n{}", p.dump())
    };
    assert_eq!(version, Version::V2, "sent on in the route's version");
    assert_eq!(
        header,
        Header::Proxy {
            source: visitor,
            destination: front
        },
        "the front's client and destination are sent on"
    );
    assert!(
        got[len..] == hello[..],
        "the incoming header is not forwarded"
    );
    drop(s);
    let line = p
        .find_line_from(0, LOG_TIMEOUT, |l| {
            is_conn_line(l) && field(l, "client").as_deref() == Some("198.51.100.7:4242")
        })
        .unwrap_or_else(|| panic!("no conn line with client=198.51.100.7:4242\n{}", p.dump()));
    assert_fields(&line, &[("outcome", "done")]);

    // From the trusted front without a header: refused.
    let line = refused(&p, addr, &hello, None, Duration::from_secs(2));
    assert_fields(&line, &[("outcome", "refused:bad_proxy_header")]);

    // From anyone else a header is not accepted: refused, never forwarded.
    let before = backend.accepted();
    let mut s = connect_from(any("127.0.0.2"), addr).expect("connect");
    let mut bytes = encode(&Header::proxy(visitor, front), Version::V2);
    bytes.extend_from_slice(&hello);
    s.write_all(&bytes).unwrap();
    assert!(
        matches!(
            read_until_close(&mut s, Duration::from_secs(3)),
            End::Closed(_)
        ),
        "an untrusted PROXY header must not be accepted"
    );
    let line = p.conn_line(s.local_addr().unwrap());
    assert!(
        field(&line, "outcome").is_some_and(|o| o.starts_with("refused:")),
        "{line}"
    );
    thread::sleep(Duration::from_millis(200));
    assert_eq!(backend.accepted(), before);
}

#[test]
fn idle_connections_are_closed_after_idle_timeout() {
    let echo = echo_server("[::1]:0", b"");
    let p = Proxy::start(&[
        "--tcp-listen",
        &format!("127.0.0.1:0={}", echo.backend()),
        "--idle-timeout",
        "1s",
    ]);
    let addr = p.listen_addr("tcp0");
    let mut s = connect(addr);
    // Traffic every 400 ms keeps it open past the timeout...
    for _ in 0..5 {
        s.write_all(b"ping").unwrap();
        assert_eq!(read_n(&mut s, 4), b"ping");
        thread::sleep(Duration::from_millis(400));
    }
    // ...silence closes it.
    let start = Instant::now();
    let end = read_until_close(&mut s, Duration::from_secs(5));
    let took = start.elapsed();
    assert_eq!(end, End::Closed(Vec::new()), "idle connection not closed");
    assert!(
        took >= Duration::from_millis(500) && took <= Duration::from_secs(3),
        "closed {took:?} after the last byte"
    );
    let line = p.conn_line(s.local_addr().unwrap());
    assert_fields(&line, &[("outcome", "timeout:idle")]);
    assert_eq!(num_field(&line, "up"), 20);
    assert_eq!(num_field(&line, "down"), 20);
}

/// A loopback port with nothing listening on it.
fn dead_backend() -> String {
    let l = std::net::TcpListener::bind("[::1]:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

#[test]
fn a_failed_backend_connect_tries_the_next_backend() {
    let (live, mut cap) = capture_server("[::1]:0");
    let dead = dead_backend();
    let (p, addr) = tls_proxy(&[
        &format!("--route=www.example.test={dead}"),
        &route("www.example.test", &live),
        &format!("--route=down.example.test={}", dead_backend()),
        "--connect-timeout",
        "2s",
    ]);
    // Several clients (ports), so the hash picks either backend first.
    for _ in 0..6 {
        let hello = hello_for(b"www.example.test");
        let s = assert_forwarded(addr, &mut cap, &hello);
        assert_fields(
            &drop_and_line(&p, s),
            &[("backend", &live.backend()), ("outcome", "done")],
        );
    }
    assert_eq!(live.accepted(), 6);

    // No backend answers: closed, and logged as a backend error.
    let mut s = send(addr, &hello_for(b"down.example.test"));
    assert!(matches!(
        read_until_close(&mut s, Duration::from_secs(5)),
        End::Closed(_)
    ));
    let line = p.conn_line(s.local_addr().unwrap());
    assert!(
        field(&line, "outcome").is_some_and(|o| o.starts_with("backend:")),
        "{line}"
    );
}
