//! `sixgate nat64` end to end over real kernel stacks (docs/nat64.md), root
//! only: each test makes its own three network namespaces,
//!
//! ```text
//! client (IPv6 only)        gateway                         server (IPv4 only)
//! 2001:db8:1::10/64 ── veth ── 2001:db8:1::1   TUN nat64   198.51.100.1 ── veth ── 198.51.100.2/24
//!                              `sixgate nat64` (prefix 64:ff9b::/96, pool4 203.0.113.1)
//! ```
//!
//! documentation addresses only (hence `--allow-non-global` with the
//! well-known prefix). Python 3 plays the endpoints (http.server, UDP echo,
//! raw ICMPv6). Covered: an HTTP download, UDP, ping6, hop-limit expiry
//! answered by the translator, unsolicited IPv4 (a TCP SYN refused with
//! Port Unreachable after six seconds), a static BIB entry reached from
//! IPv4, address-dependent
//! filtering, path MTU discovery, fragments both ways, ICMP session expiry
//! in `/metrics`, SIGHUP log reopening, an operator-made device across a
//! restart with a retrying client, malformed packets, a flood of new flows
//! against `--max-sessions`, and the device removed under the gateway. Every loop is bounded in count and time; processes are
//! killed by pid and the namespaces deleted on drop, also when a test fails.
//! Without root the tests say so and pass (in CI, where `CI` is set, they
//! fail instead).

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

const PREFIX: &str = "64:ff9b::/96";
const POOL4: &str = "203.0.113.1";
const CLIENT: &str = "2001:db8:1::10";
/// 198.51.100.2 under the prefix.
const SERVER6: &str = "64:ff9b::c633:6402";
/// The translator's own ICMPv6 errors come from the pool4 address under the
/// prefix (203.0.113.1).
const ICMP_SOURCE6: &str = "64:ff9b::cb00:7101";
const METRICS: &str = "http://127.0.0.1:9466/metrics";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Whether the test can run; says why not.
fn runnable(name: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(!in_ci(), "{name} needs root (ip netns, TUN) in CI");
    eprintln!("skipping {name}: needs root (ip netns, /dev/net/tun)");
    false
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A child process killed (by its pid) and reaped on drop.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Three namespaces, the veths between them, and a scratch directory;
/// deleted on drop.
struct Net {
    client: String,
    gateway: String,
    server: String,
    dir: PathBuf,
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

impl Net {
    fn new() -> Self {
        let id = format!(
            "{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let net = Self {
            client: format!("sg64c-{id}"),
            gateway: format!("sg64g-{id}"),
            server: format!("sg64s-{id}"),
            dir: std::env::temp_dir().join(format!("sixgate-nat64-{id}")),
        };
        let _ = fs::remove_dir_all(&net.dir);
        fs::create_dir_all(&net.dir).expect("scratch dir");
        for ns in [&net.client, &net.gateway, &net.server] {
            // A leftover of a killed run with the same pid would make `add` fail.
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        let (c, g, s) = (&net.client, &net.gateway, &net.server);
        ip(&[
            "link", "add", "c0", "netns", c, "type", "veth", "peer", "name", "g0", "netns", g,
        ]);
        ip(&[
            "link", "add", "s0", "netns", s, "type", "veth", "peer", "name", "g1", "netns", g,
        ]);
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            "2001:db8:1::10/64",
            "dev",
            "c0",
            "nodad",
        ]);
        ip(&["-n", c, "link", "set", "c0", "up"]);
        ip(&[
            "-n",
            c,
            "-6",
            "route",
            "add",
            PREFIX,
            "via",
            "2001:db8:1::1",
        ]);
        ip(&[
            "-n",
            g,
            "addr",
            "add",
            "2001:db8:1::1/64",
            "dev",
            "g0",
            "nodad",
        ]);
        ip(&["-n", g, "link", "set", "g0", "up"]);
        ip(&["-n", g, "addr", "add", "198.51.100.1/24", "dev", "g1"]);
        ip(&["-n", g, "link", "set", "g1", "up"]);
        ip(&["-n", s, "addr", "add", "198.51.100.2/24", "dev", "s0"]);
        ip(&["-n", s, "link", "set", "s0", "up"]);
        ip(&[
            "-n",
            s,
            "route",
            "add",
            "203.0.113.0/24",
            "via",
            "198.51.100.1",
        ]);
        // Inside the namespace (sh, not procps' sysctl, which may be absent).
        let forward = "echo 1 > /proc/sys/net/ipv6/conf/all/forwarding && \
                       echo 1 > /proc/sys/net/ipv4/ip_forward";
        let out = net.exec(g, "sh", &["-c", forward]).output().expect("sh");
        assert!(out.status.success(), "forwarding: {out:?}");
        net
    }

    /// `ip netns exec NS PROGRAM ARGS…`, with no proxy settings inherited.
    fn exec(&self, ns: &str, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns, program]).args(args);
        for v in [
            "http_proxy",
            "https_proxy",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "all_proxy",
            "ALL_PROXY",
        ] {
            c.env_remove(v);
        }
        c.current_dir("/");
        c
    }

    /// Starts `sixgate nat64` in the gateway namespace with the topology's
    /// prefix and pool plus `extra`; waits until `/metrics` answers.
    fn gateway(&self, extra: &[&str]) -> Kid {
        let log = self.dir.join("nat64.log");
        let err = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stderr"))
            .expect("stderr file");
        let mut args = vec![
            "nat64",
            "--tun",
            "nat64",
            "--prefix",
            PREFIX,
            "--pool4",
            POOL4,
            "--allow-non-global",
            "--metrics",
            "127.0.0.1:9466",
            "--log",
            log.to_str().expect("utf-8 path"),
        ];
        args.extend_from_slice(extra);
        let kid = Kid(self
            .exec(&self.gateway, env!("CARGO_BIN_EXE_sixgate"), &args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("start sixgate nat64"));
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.try_scrape().is_some() {
                return kid;
            }
            thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "the gateway did not serve /metrics within 10 s:\n{}",
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        fs::read_to_string(self.dir.join("stderr")).unwrap_or_default()
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("nat64.log")).unwrap_or_default()
    }

    fn try_scrape(&self) -> Option<String> {
        let out = self
            .exec(&self.gateway, "curl", &["-sf", "-m", "2", METRICS])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// A metric's value (the line `NAME VALUE`, `NAME` with its labels), 0
    /// when absent.
    fn metric(&self, name: &str) -> u64 {
        let text = self.try_scrape().unwrap_or_default();
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Waits (at most `secs`) until `cond` holds of the metric.
    fn wait_metric(&self, name: &str, secs: u64, cond: impl Fn(u64) -> bool) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.metric(name);
            if cond(v) || Instant::now() > deadline {
                return v;
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a Python script in `ns`, killed after 20 s.
    fn python(&self, ns: &str, script: &str, args: &[&str]) -> Output {
        let mut a = vec!["-k", "5", "20", "python3", "-c", script];
        a.extend_from_slice(args);
        self.exec(ns, "timeout", &a).output().expect("run python3")
    }

    /// Starts a Python server in `ns` and waits for its `ready` line.
    fn python_server(&self, ns: &str, script: &str, args: &[&str]) -> Kid {
        let mut a = vec!["-c", script];
        a.extend_from_slice(args);
        let mut kid = Kid(self
            .exec(ns, "python3", &a)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start python3"));
        let mut line = String::new();
        BufReader::new(kid.0.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("ready line");
        assert_eq!(line.trim(), "ready", "the python server did not start");
        kid
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for ns in [&self.client, &self.gateway, &self.server] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `len` bytes of a fixed pattern.
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect()
}

impl Net {
    /// Serves `body` as `http://198.51.100.2:8080/blob` from the server
    /// namespace.
    fn serve_blob(&self, body: &[u8]) -> Kid {
        let www = self.dir.join("www");
        fs::create_dir_all(&www).expect("www");
        fs::write(www.join("blob"), body).expect("blob");
        self.python_server(
            &self.server,
            "import http.server, functools, sys\n\
             h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])\n\
             s = http.server.ThreadingHTTPServer(('198.51.100.2', 8080), h)\n\
             print('ready', flush=True)\n\
             s.serve_forever()",
            &[www.to_str().expect("utf-8")],
        )
    }

    /// Downloads the blob from the client through the gateway (curl, 30 s
    /// at most); the bytes it got.
    fn download_blob(&self) -> Vec<u8> {
        let got = self.dir.join("got");
        let _ = fs::remove_file(&got);
        let url = format!("http://[{SERVER6}]:8080/blob");
        let out = self
            .exec(
                &self.client,
                "curl",
                &["-sf", "-m", "30", "-o", got.to_str().expect("utf-8"), &url],
            )
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "download: {}\n{}",
            text(&out),
            self.stderr()
        );
        fs::read(&got).expect("downloaded file")
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A UDP server answering `PEER_IP:PEER_PORT DATA` for 60 s at most.
const UDP_ECHO_PY: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.51.100.2", 5300))
s.settimeout(1)
print("ready", flush=True)
end = time.time() + 60
while time.time() < end:
    try:
        d, peer = s.recvfrom(65535)
    except socket.timeout:
        continue
    s.sendto(("%s:%d " % peer).encode() + d, peer)
"#;

/// One UDP request from the client; prints the answer or `timeout`.
const UDP_CLIENT_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(float(sys.argv[3]))
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(b"hello")
try:
    print(s.recv(2000).decode())
except socket.timeout:
    print("timeout")
"#;

/// An ICMPv6 echo with a given hop limit; prints `reply SRC`,
/// `time-exceeded SRC` (quoting our echo) or `none`.
const PING6_PY: &str = r#"
import socket, struct, sys, time
dst, hops, ident = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
s.settimeout(0.5)
s.sendto(struct.pack("!BBHHH", 128, 0, 0, ident, 1) + b"sixgate-ping", (dst, 0))
end = time.time() + 3
while time.time() < end:
    try:
        d, a = s.recvfrom(2000)
    except socket.timeout:
        continue
    if d[0] == 129 and struct.unpack("!H", d[4:6])[0] == ident:
        print("reply", a[0]); sys.exit(0)
    if d[0] == 3 and len(d) >= 56 and d[48] == 128 and struct.unpack("!H", d[52:54])[0] == ident:
        print("time-exceeded", a[0]); sys.exit(0)
print("none")
"#;

/// Unsolicited IPv4 traffic toward the pool from the server side.
const UNSOLICITED_PY: &str = r#"
import socket
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(2)
u.connect(("203.0.113.1", 40000))
u.send(b"x")
try:
    u.recv(10); print("udp-answered")
except ConnectionRefusedError:
    print("udp-refused")
except socket.timeout:
    print("udp-timeout")
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.settimeout(2)
try:
    t.connect(("203.0.113.1", 40001)); print("tcp-connected")
except ConnectionRefusedError:
    print("tcp-refused")
except socket.timeout:
    print("tcp-timeout")
"#;

/// A client-side listener that reports whether anything reached it.
const CLIENT_LISTEN_PY: &str = r#"
import socket, sys, time
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("2001:db8:1::10", 40001)); t.listen(4); t.settimeout(0.2)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.bind(("2001:db8:1::10", 40000)); u.settimeout(0.2)
print("ready", flush=True)
got = []
end = time.time() + float(sys.argv[1])
while time.time() < end:
    try:
        t.accept(); got.append("tcp")
    except socket.timeout:
        pass
    try:
        u.recv(10); got.append("udp")
    except socket.timeout:
        pass
open(sys.argv[2], "w").write("got " + (",".join(got) or "nothing"))
"#;

#[test]
fn tcp_udp_ping_and_ttl_through_the_gateway() {
    if !runnable("tcp_udp_ping_and_ttl_through_the_gateway") {
        return;
    }
    let net = Net::new();
    let _gw = net.gateway(&["--setup"]);

    // TCP: an HTTP download of 300 kB, byte for byte.
    let body = pattern(300_000);
    let _http = net.serve_blob(&body);
    assert!(net.download_blob() == body, "the download differs");

    // UDP request/response; the server sees the pool4 address.
    let _echo = net.python_server(&net.server, UDP_ECHO_PY, &[]);
    let out = net.python(&net.client, UDP_CLIENT_PY, &[SERVER6, "5300", "3"]);
    let answer = text(&out);
    assert!(
        answer.starts_with(&format!("{POOL4}:")),
        "UDP answer {answer:?}"
    );
    assert!(
        answer.trim_end().ends_with(" hello"),
        "UDP answer {answer:?}"
    );

    // ping6 to the synthesised address.
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "4242"]);
    assert_eq!(
        text(&out).trim(),
        format!("reply {SERVER6}"),
        "{}",
        net.stderr()
    );

    // Hop limit 2: the gateway's kernel forwards with 1 left, the translator
    // answers Time Exceeded from its own ICMPv6 source.
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "2", "4343"]);
    assert_eq!(text(&out).trim(), format!("time-exceeded {ICMP_SOURCE6}"));

    // The counters and the RFC 6888 log agree.
    let hop = "sixgate_nat64_icmp_errors_sent_total{reason=\"hop_limit\"}";
    assert!(net.wait_metric(hop, 3, |v| v >= 1) >= 1, "{hop}");
    assert!(net.wait_metric("sixgate_nat64_sessions", 3, |v| v >= 3) >= 3);
    assert!(net.metric("sixgate_nat64_bibs") >= 3);
    assert!(net.metric("sixgate_nat64_bytes_total{dir=\"in\",family=\"ipv4\"}") >= 300_000);
    assert!(net.metric("sixgate_nat64_bytes_total{dir=\"out\",family=\"ipv6\"}") >= 300_000);
    let deadline = Instant::now() + Duration::from_secs(3);
    let log = loop {
        let log = net.log();
        if log.contains(" NAT64 BIB create ICMP ") || Instant::now() > deadline {
            break log;
        }
        thread::sleep(Duration::from_millis(100));
    };
    for want in [
        format!(" NAT64 BIB create TCP [{CLIENT}]:"),
        format!(" NAT64 BIB create UDP [{CLIENT}]:"),
        format!(" NAT64 BIB create ICMP [{CLIENT}]:4242 {POOL4}:"),
    ] {
        assert!(log.contains(&want), "no {want:?} in the log:\n{log}");
    }
    // UTC timestamps: 2026-12-06T12:00:00.000Z.
    let first = log.lines().next().unwrap_or_default();
    assert!(first.len() > 24 && &first[23..25] == "Z ", "{first:?}");
}

#[test]
fn unsolicited_ipv4_is_dropped() {
    if !runnable("unsolicited_ipv4_is_dropped") {
        return;
    }
    let net = Net::new();
    let _gw = net.gateway(&["--setup"]);
    let report = net.dir.join("listener");
    let _listener = net.python_server(
        &net.client,
        CLIENT_LISTEN_PY,
        &["5", report.to_str().expect("utf-8")],
    );
    let out = net.python(&net.server, UNSOLICITED_PY, &[]);
    let lines = text(&out);
    // UDP without a binding gets Port Unreachable from the translator
    // (RFC 6146 §3.5.1); a TCP SYN is kept six seconds for a simultaneous
    // open (RFC 6146 §3.5.2.2), so a 2 s connect times out.
    assert!(lines.contains("udp-refused"), "{lines}");
    assert!(lines.contains("tcp-timeout"), "{lines}");
    let deadline = Instant::now() + Duration::from_secs(15);
    let out = loop {
        let out = fs::read_to_string(&report).unwrap_or_default();
        if out.starts_with("got") || Instant::now() > deadline {
            break out;
        }
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(out, "got nothing", "the IPv6 node was reached");
    // The new state layer on purpose: the UDP datagram is refused for want
    // of a BIB entry (answered, so not a drop) and the SYN is stored, not
    // dropped as "unmapped" as before.
    let no_bib = "sixgate_nat64_state_refused_total{reason=\"no_bib\"}";
    assert!(net.wait_metric(no_bib, 3, |v| v >= 1) >= 1, "{no_bib}");
    let refused = "sixgate_nat64_icmp_errors_sent_total{reason=\"unmapped\"}";
    assert!(net.metric(refused) >= 1, "{refused}");
    assert!(net.metric("sixgate_nat64_syns_stored_total") >= 1);
    assert_eq!(net.metric("sixgate_nat64_bibs"), 0);
}

/// A listener on the IPv6 client that greets whoever connects with the
/// address it sees.
const STATIC_LISTEN_PY: &str = r#"
import socket
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("2001:db8:1::10", 8081)); t.listen(4); t.settimeout(20)
print("ready", flush=True)
c, peer = t.accept()
c.sendall(("hello " + peer[0]).encode()); c.close()
"#;

/// Connects from IPv4 to ARGV[1]:ARGV[2] and prints what it reads, or
/// `refused AFTER` (seconds) / `timeout`.
const CONNECT4_PY: &str = r#"
import socket, sys, time
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.settimeout(float(sys.argv[3]))
start = time.time()
try:
    t.connect((sys.argv[1], int(sys.argv[2])))
    print(t.recv(100).decode())
except ConnectionRefusedError:
    print("refused %.1f" % (time.time() - start))
except socket.timeout:
    print("timeout")
"#;

#[test]
fn a_static_bib_entry_is_reachable_from_ipv4() {
    if !runnable("a_static_bib_entry_is_reachable_from_ipv4") {
        return;
    }
    let net = Net::new();
    let _gw = net.gateway(&[
        "--setup",
        "--static",
        &format!("tcp:{POOL4}:8080=[{CLIENT}]:8081"),
        "--log-sessions",
    ]);
    // The static entry is in the BIB from the start.
    assert_eq!(net.wait_metric("sixgate_nat64_bibs", 3, |v| v == 1), 1);
    assert_eq!(net.metric("sixgate_nat64_sessions"), 0);
    // Neighbour discovery and ARP first (a ping through the gateway), so
    // that a loaded host's first SYN does not meet an unresolved neighbour.
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "5353"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    let _listener = net.python_server(&net.client, STATIC_LISTEN_PY, &[]);
    let out = net.python(&net.server, CONNECT4_PY, &[POOL4, "8080", "10"]);
    // The IPv6 server sees the IPv4 client under the prefix.
    assert_eq!(text(&out).trim(), format!("hello {SERVER6}"));
    assert!(net.wait_metric("sixgate_nat64_sessions", 3, |v| v >= 1) >= 1);
    // --log-sessions: a line per session, on the static mapping.
    let created = format!(" NAT64 session create TCP [{CLIENT}]:8081 {POOL4}:8080 198.51.100.2:");
    let log = wait_log(&net, &created, 3);
    assert!(log.contains(&created), "{log}");
    // A port of pool4 with no entry stays closed (stored, then refused).
    let out = net.python(&net.server, CONNECT4_PY, &[POOL4, "8082", "2"]);
    assert_eq!(text(&out).trim(), "timeout");
}

#[test]
fn an_unsolicited_ipv4_syn_is_refused_after_six_seconds() {
    if !runnable("an_unsolicited_ipv4_syn_is_refused_after_six_seconds") {
        return;
    }
    let net = Net::new();
    let _gw = net.gateway(&["--setup"]);
    let out = net.python(&net.server, CONNECT4_PY, &[POOL4, "40002", "15"]);
    let line = text(&out);
    // RFC 6146 §3.5.2.2, RFC 5382 REQ-4: the SYN is kept six seconds for a
    // simultaneous open, then answered with ICMP Port Unreachable, which
    // the IPv4 stack reports as connection refused.
    let after: f64 = line
        .trim()
        .strip_prefix("refused ")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not refused: {line}"));
    assert!((5.5..=10.0).contains(&after), "refused after {after} s");
    let sent = "sixgate_nat64_transmits_total{reason=\"syn_expired\"}";
    assert!(net.wait_metric(sent, 3, |v| v >= 1) >= 1, "{sent}");
    assert!(net.metric("sixgate_nat64_syns_stored_total") >= 1);
    assert_eq!(
        net.wait_metric("sixgate_nat64_stored_syns", 3, |v| v == 0),
        0
    );
    let log = wait_log(&net, " NAT64 SYN expired 198.51.100.2:", 3);
    assert!(
        log.contains(&format!(" -> {POOL4}:40002 port-unreachable")),
        "{log}"
    );
}

fn signal(kid: &Kid, sig: &str) {
    // The shell's kill: /bin/kill may not be installed.
    let out = Command::new("sh")
        .args(["-c", &format!("kill {sig} {}", kid.0.id())])
        .output()
        .expect("kill");
    assert!(out.status.success(), "kill {sig}: {}", text(&out));
}

/// Waits (at most `secs`) until the log holds `needle`.
fn wait_log(net: &Net, needle: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let log = net.log();
        if log.contains(needle) || Instant::now() > deadline {
            return log;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn icmp_session_expires_and_sighup_reopens_the_log() {
    if !runnable("icmp_session_expires_and_sighup_reopens_the_log") {
        return;
    }
    let net = Net::new();
    // UDP lifetimes cannot go below RFC 6146's 2 minutes; ICMP query
    // sessions have no minimum, so they show expiry quickly.
    let gw = net.gateway(&["--setup", "--icmp-timeout", "2s"]);
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "4545"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    assert_eq!(net.wait_metric("sixgate_nat64_sessions", 3, |v| v == 1), 1);
    let created = Instant::now();
    assert_eq!(net.wait_metric("sixgate_nat64_sessions", 8, |v| v == 0), 0);
    assert_eq!(net.metric("sixgate_nat64_bibs"), 0);
    assert!(
        created.elapsed() >= Duration::from_millis(1000),
        "the session ended too early"
    );
    let release = format!(" NAT64 BIB release ICMP [{CLIENT}]:4545 {POOL4}:");
    let log = wait_log(&net, &release, 3);
    assert!(log.contains(&release), "no release line in:\n{log}");

    // logrotate: move the file away, SIGHUP, new lines go to a new file.
    let rotated = net.dir.join("nat64.log.1");
    fs::rename(net.dir.join("nat64.log"), &rotated).expect("rotate");
    signal(&gw, "-HUP");
    let ok = "sixgate_nat64_reloads_total{result=\"ok\"}";
    assert_eq!(net.wait_metric(ok, 3, |v| v == 1), 1, "{}", net.stderr());
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "4646"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    let create = format!(" NAT64 BIB create ICMP [{CLIENT}]:4646 ");
    let log = wait_log(&net, &create, 3);
    assert!(
        log.contains(&create),
        "no create line in the new log:\n{log}"
    );
    assert!(!fs::read_to_string(&rotated)
        .unwrap_or_default()
        .contains(&create));
}

/// Retries a UDP request (0.5 s each, at most 40 tries); prints
/// `ok TRIES ANSWER` or `failed`.
const UDP_RETRY_PY: &str = r#"
import socket, sys
for i in range(1, 41):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.send(b"again")
    try:
        print("ok", i, s.recv(2000).decode(), flush=True); sys.exit(0)
    except (socket.timeout, ConnectionRefusedError):
        pass
    finally:
        s.close()
print("failed", flush=True)
"#;

#[test]
fn operator_routed_tun_and_restart_with_clients_retrying() {
    if !runnable("operator_routed_tun_and_restart_with_clients_retrying") {
        return;
    }
    let net = Net::new();
    // Without --setup the operator makes the device and the routes; they
    // outlive the gateway process.
    let g = net.gateway.as_str();
    ip(&["-n", g, "tuntap", "add", "dev", "nat64", "mode", "tun"]);
    ip(&["-n", g, "link", "set", "nat64", "up"]);
    ip(&["-n", g, "-6", "route", "add", PREFIX, "dev", "nat64"]);
    ip(&[
        "-n",
        g,
        "-4",
        "route",
        "add",
        "203.0.113.1/32",
        "dev",
        "nat64",
    ]);
    let _echo = net.python_server(&net.server, UDP_ECHO_PY, &[]);
    let gw = net.gateway(&[]);
    let out = net.python(&net.client, UDP_CLIENT_PY, &[SERVER6, "5300", "3"]);
    assert!(text(&out).starts_with(POOL4), "{}", text(&out));
    let log = wait_log(&net, " NAT64 BIB create UDP ", 3);
    assert!(
        log.contains(" NAT64 BIB create UDP "),
        "first run: {log:?}\n{}",
        net.stderr()
    );

    // Stop it; the client keeps trying while it is down.
    // SIGTERM: a clean exit, the log lines still queued written out.
    let mut gw = gw;
    signal(&gw, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        match gw.0.try_wait() {
            Ok(Some(st)) => break Some(st),
            _ if Instant::now() > deadline => break None,
            _ => thread::sleep(Duration::from_millis(50)),
        }
    };
    assert!(
        status.is_some_and(|s| s.success()),
        "exit after SIGTERM: {status:?}"
    );
    drop(gw);
    let retry = Kid(net
        .exec(
            &net.client,
            "timeout",
            &[
                "-k",
                "5",
                "30",
                "python3",
                "-c",
                UDP_RETRY_PY,
                SERVER6,
                "5300",
            ],
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the retrying client"));
    thread::sleep(Duration::from_millis(1600));
    let _gw = net.gateway(&[]);
    let deadline = Instant::now() + Duration::from_secs(25);
    let mut retry = retry;
    let mut line = String::new();
    if let Some(stdout) = retry.0.stdout.take() {
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut l = String::new();
            let _ = BufReader::new(stdout).read_line(&mut l);
            let _ = tx.send(l);
        });
        line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_default();
    }
    let mut w = line.split_whitespace();
    assert_eq!(
        w.next(),
        Some("ok"),
        "the client never got through: {line:?}\n{}",
        net.stderr()
    );
    let tries: u32 = w.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(
        tries >= 2,
        "the first try went through while the gateway was down: {line:?}"
    );
    assert!(
        line.contains(&format!("{POOL4}:")) && line.trim_end().ends_with(" again"),
        "{line:?}"
    );
    // Two runs, each logged its own binding.
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut log = net.log();
    while log.matches(" NAT64 BIB create UDP ").count() < 2 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        log = net.log();
    }
    assert!(
        log.matches(" NAT64 BIB create UDP ").count() >= 2,
        "{log}\n{}",
        net.stderr()
    );
}

/// Sends `count` malformed IPv6 packets (valid outer header, then random
/// bytes under TCP, UDP, ICMPv6, Fragment, Hop-by-Hop, Routing and
/// unknown next headers) to the prefix, from a fixed seed.
const GARBAGE6_PY: &str = r#"
import random, socket, struct, sys
rnd = random.Random(int(sys.argv[2]))
s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_RAW)
src = socket.inet_pton(socket.AF_INET6, "2001:db8:1::10")
dst = socket.inet_pton(socket.AF_INET6, sys.argv[1])
sent = 0
for i in range(int(sys.argv[3])):
    nh = rnd.choice([6, 17, 58, 44, 0, 43, 60, 253, 1, 4, 41])
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 1, 7, 8, 20, 40, 200, 1200])))
    if nh == 44 and body:
        body = bytes([rnd.choice([6, 17, 58, 44])]) + body[1:]
    hdr = struct.pack("!IHBB", 0x60000000, len(body), nh, 64) + src + dst
    try:
        s.sendto(hdr + body, (sys.argv[1], 0)); sent += 1
    except OSError:
        pass
print("sent", sent)
"#;

/// The same for IPv4 toward the pool (random protocols, fragment fields,
/// options lengths and payloads; the kernel fills in length and checksum).
const GARBAGE4_PY: &str = r#"
import random, socket, struct, sys
rnd = random.Random(int(sys.argv[1]))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
src = socket.inet_aton("198.51.100.2"); dst = socket.inet_aton("203.0.113.1")
sent = 0
for i in range(int(sys.argv[2])):
    proto = rnd.choice([6, 17, 1, 58, 0, 44, 2, 47, 253])
    frag = rnd.choice([0, 0x4000, 0x2000, 0x2001, 0x0003, rnd.getrandbits(16)])
    body = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 1, 7, 8, 20, 40, 200, 1200])))
    hdr = struct.pack("!BBHHHBBH", 0x45, 0, 0, rnd.getrandbits(16), frag, 64, proto, 0) + src + dst
    try:
        s.sendto(hdr + body, ("203.0.113.1", 0)); sent += 1
    except OSError:
        pass
print("sent", sent)
"#;

fn dropped_total(net: &Net) -> u64 {
    net.try_scrape()
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("sixgate_nat64_dropped_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn malformed_packets_are_counted_and_the_gateway_keeps_translating() {
    if !runnable("malformed_packets_are_counted_and_the_gateway_keeps_translating") {
        return;
    }
    let net = Net::new();
    let mut gw = net.gateway(&["--setup"]);
    // An IPv6 binding first, so IPv4 garbage can also hit a live mapping.
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "5151"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    let before = dropped_total(&net);
    for seed in ["1", "2", "3"] {
        let out = net.python(&net.client, GARBAGE6_PY, &[SERVER6, seed, "700"]);
        assert!(text(&out).starts_with("sent "), "{}", text(&out));
        let out = net.python(&net.server, GARBAGE4_PY, &[seed, "700"]);
        assert!(text(&out).starts_with("sent "), "{}", text(&out));
    }
    // The kernel forwards what it can parse; the translator must count
    // what it cannot translate.
    let after = net.wait_metric(
        "sixgate_nat64_packets_total{dir=\"in\",family=\"ipv6\"}",
        3,
        |v| v > 500,
    );
    assert!(after > 500, "the garbage did not reach the device: {after}");
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut dropped = dropped_total(&net);
    while dropped < before + 500 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        dropped = dropped_total(&net);
    }
    assert!(dropped >= before + 500, "drops {before} -> {dropped}");
    assert!(
        matches!(gw.0.try_wait(), Ok(None)),
        "the gateway died:\n{}",
        net.stderr()
    );
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "5252"]);
    assert_eq!(
        text(&out).trim(),
        format!("reply {SERVER6}"),
        "{}",
        net.stderr()
    );
}

/// Opens `n` UDP flows (one source port each) toward the echo server.
const UDP_FLOOD_PY: &str = r#"
import socket, sys, time
socks = []
for i in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.sendto(b"flow", (sys.argv[1], 5300))
    socks.append(s)
    if i % 20 == 19:
        time.sleep(0.01)
print("opened", len(socks))
"#;

#[test]
fn a_flood_of_new_flows_stays_within_max_sessions() {
    if !runnable("a_flood_of_new_flows_stays_within_max_sessions") {
        return;
    }
    let net = Net::new();
    // One worker: the total is one engine's (with N workers each shard
    // gets a share, and one client /64 lives in one shard; see
    // two_workers_split_the_total_limits).
    let _gw = net.gateway(&["--setup", "--max-sessions", "100", "--workers", "1"]);
    // Neighbour discovery first: the kernel queues only a few packets for
    // an unresolved neighbour.
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "5353"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    let out = net.python(&net.client, UDP_FLOOD_PY, &[SERVER6, "400"]);
    assert_eq!(text(&out).trim(), "opened 400");
    let limit = "sixgate_nat64_dropped_total{reason=\"limit\"}";
    let refused = net.wait_metric(limit, 5, |v| v >= 300);
    assert!(refused >= 300, "{limit} = {refused}");
    assert_eq!(net.metric("sixgate_nat64_sessions"), 100);
    // The core's LimitReached event (at most one a second per limit): a
    // log line named by the limit, counted by limit.
    let log = wait_log(&net, " NAT64 limit session_limit", 3);
    assert!(log.contains(" NAT64 limit session_limit"), "{log}");
    let alarm = "sixgate_nat64_limit_reached_total{limit=\"session_limit\"}";
    assert!(net.wait_metric(alarm, 3, |v| v >= 1) >= 1, "{alarm}");
    let refused = "sixgate_nat64_state_refused_total{reason=\"session_limit\"}";
    assert!(
        net.wait_metric(refused, 3, |v| v >= 300) >= 300,
        "{refused}"
    );
}

/// Counts the bytes of one TCP upload and answers the count.
const SINK_PY: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.2", 9000)); s.listen(4); s.settimeout(30)
print("ready", flush=True)
c, _ = s.accept(); c.settimeout(20)
n = 0
while True:
    d = c.recv(65536)
    if not d:
        break
    n += len(d)
c.sendall(str(n).encode()); c.close()
"#;

/// Uploads N bytes in full-size segments, then reads the count.
const UPLOAD_PY: &str = r#"
import socket, sys
c = socket.create_connection((sys.argv[1], 9000), timeout=15)
c.sendall(b"x" * int(sys.argv[2]))
c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode())
"#;

#[test]
fn path_mtu_discovery_across_a_small_ipv4_mtu() {
    if !runnable("path_mtu_discovery_across_a_small_ipv4_mtu") {
        return;
    }
    let net = Net::new();
    // The gateway's IPv4 link is narrower than anything the client knows
    // of: its 1500-byte IPv6 packets become 1480-byte IPv4 ones with DF set,
    // the gateway's kernel answers Fragmentation Needed (MTU 1000) to the
    // pool4 source, and the translator must turn that into a Packet Too Big
    // the client's TCP obeys.
    ip(&["-n", &net.gateway, "link", "set", "g1", "mtu", "1000"]);
    let _gw = net.gateway(&["--setup"]);
    let _sink = net.python_server(&net.server, SINK_PY, &[]);
    let before = net
        .exec(&net.client, "ip", &["-6", "route", "get", SERVER6])
        .output()
        .expect("ip route get");
    assert!(!text(&before).contains(" mtu "), "{}", text(&before));
    let out = net.python(&net.client, UPLOAD_PY, &[SERVER6, "400000"]);
    assert_eq!(text(&out).trim(), "400000", "{}", net.stderr());
    // The client learnt a path MTU from the translated Packet Too Big:
    // 1000 + 20 is below the IPv6 minimum, so it uses 1280 (RFC 8200 §5),
    // and the translator sends those 1260-byte IPv4 packets with DF clear
    // (RFC 7915 §5.1), which the gateway's kernel fragments.
    let out = net
        .exec(&net.client, "ip", &["-6", "route", "get", SERVER6])
        .output()
        .expect("ip route get");
    assert!(text(&out).contains(" mtu 1280 "), "{}", text(&out));
}

/// Opens a binding through the echo server, prints `ready PORT` (the pool4
/// port the server saw), then prints every datagram that arrives within
/// `argv[1]` seconds, and `end`.
const BOUND_CLIENT_PY: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("2001:db8:1::10", 41000)); s.settimeout(3)
s.sendto(b"open", ("64:ff9b::c633:6402", 5300))
d, _ = s.recvfrom(2000)
print("ready", d.decode().split()[0].split(":")[1], flush=True)
s.settimeout(0.2)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    try:
        d, a = s.recvfrom(2000)
        print("got", a[0], d.decode(), flush=True)
    except socket.timeout:
        pass
print("end", flush=True)
"#;

/// Sends one datagram from `argv[1]` to the pool4 port `argv[2]`.
const SEND_FROM_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 6000))
s.sendto(("from " + sys.argv[1]).encode(), ("203.0.113.1", int(sys.argv[2])))
print("sent")
"#;

#[test]
fn address_dependent_filtering_lets_in_only_known_ipv4_hosts() {
    if !runnable("address_dependent_filtering_lets_in_only_known_ipv4_hosts") {
        return;
    }
    let net = Net::new();
    ip(&[
        "-n",
        &net.server,
        "addr",
        "add",
        "198.51.100.3/24",
        "dev",
        "s0",
    ]);
    let _gw = net.gateway(&["--setup", "--filtering", "address-dependent"]);
    let _echo = net.python_server(&net.server, UDP_ECHO_PY, &[]);
    let mut client = Kid(net
        .exec(&net.client, "python3", &["-c", BOUND_CLIENT_PY, "3"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the client"));
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = client.0.stdout.take().expect("stdout");
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let port = ready
        .strip_prefix("ready ")
        .unwrap_or_else(|| panic!("client: {ready:?}"));
    // The server it talks to, from another port: let in. A stranger: not.
    for from in ["198.51.100.2", "198.51.100.3"] {
        let out = net.python(&net.server, SEND_FROM_PY, &[from, port]);
        assert_eq!(text(&out).trim(), "sent", "{}", text(&out));
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line == "end" {
            break;
        }
        got.push(line);
    }
    assert_eq!(
        got,
        vec![format!("got {SERVER6} from 198.51.100.2")],
        "{}",
        net.stderr()
    );
    let filtered = "sixgate_nat64_icmp_errors_sent_total{reason=\"filtered\"}";
    assert_eq!(net.wait_metric(filtered, 3, |v| v >= 1), 1, "{filtered}");
}

#[test]
fn a_removed_device_stops_the_gateway_with_an_error() {
    if !runnable("a_removed_device_stops_the_gateway_with_an_error") {
        return;
    }
    let net = Net::new();
    let mut gw = net.gateway(&["--setup"]);
    ip(&["-n", &net.gateway, "link", "del", "nat64"]);
    // About a second of failed reads, then a clean exit with status 1 for
    // the supervisor to restart it (rather than a process that translates
    // nothing).
    let deadline = Instant::now() + Duration::from_secs(8);
    let status = loop {
        match gw.0.try_wait() {
            Ok(Some(st)) => break Some(st),
            _ if Instant::now() > deadline => break None,
            _ => thread::sleep(Duration::from_millis(100)),
        }
    };
    assert_eq!(status.and_then(|s| s.code()), Some(1), "{}", net.stderr());
    assert!(
        net.stderr().contains("the TUN device failed"),
        "{}",
        net.stderr()
    );
}

/// One UDP request of `argv[3]` bytes; prints the answer's length and
/// whether its payload came back intact.
const UDP_BIG_PY: &str = r#"
import socket, sys
n = int(sys.argv[3])
data = bytes((i * 7 + 3) % 251 for i in range(n))
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(data)
try:
    d = s.recv(70000)
    print(len(d), d.endswith(b" " + data))
except socket.timeout:
    print("timeout")
"#;

#[test]
fn fragmented_datagrams_both_ways() {
    if !runnable("fragmented_datagrams_both_ways") {
        return;
    }
    let net = Net::new();
    let _gw = net.gateway(&["--setup"]);
    let _echo = net.python_server(&net.server, UDP_ECHO_PY, &[]);
    // 4000 bytes: IPv6 fragments from the client, reassembled by the
    // translator (RFC 6146 §3.4), IPv4 fragments to the server; the echo
    // comes back as IPv4 fragments and leaves as IPv6 ones.
    let out = net.python(&net.client, UDP_BIG_PY, &[SERVER6, "5300", "4000"]);
    let answer = text(&out);
    let mut w = answer.split_whitespace();
    let len: usize = w.next().and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!(
        len > 4000 && w.next() == Some("True"),
        "answer {answer:?}\n{}",
        net.stderr()
    );
    let held = "sixgate_nat64_fragments_held_total";
    assert!(net.wait_metric(held, 3, |v| v >= 4) >= 4, "{held}");
}

// ---------------------------------------------------------------------------
// Two workers (`--workers 2`): a TUN queue and an engine shard each.

/// Gives the client `n` more addresses, each in its own /64
/// (2001:db8:K::10 for K = 2..n+1), on-link to the gateway; returns them
/// with the first one (2001:db8:1::10).
fn add_sources(net: &Net, n: u16) -> Vec<String> {
    let mut all = vec![CLIENT.to_owned()];
    for k in 2..n + 2 {
        let c = format!("2001:db8:{k:x}::10/64");
        let g = format!("2001:db8:{k:x}::1/64");
        ip(&["-n", &net.client, "addr", "add", &c, "dev", "c0", "nodad"]);
        ip(&["-n", &net.gateway, "addr", "add", &g, "dev", "g0", "nodad"]);
        all.push(format!("2001:db8:{k:x}::10"));
    }
    all
}

/// A TCP server on 198.51.100.2:9100: reads `SIZE SEED\n`, sends SIZE
/// bytes of the seed's pattern; one thread per connection; exits after 60
/// s without a connection.
const PATTERN_SERVER_PY: &str = r#"
import socket, threading
def block(seed):
    return bytes((seed * 131 + i * 7) % 251 for i in range(4096))
def serve(c):
    try:
        c.settimeout(20)
        line = b""
        while not line.endswith(b"\n"):
            d = c.recv(100)
            if not d:
                return
            line += d
        size, seed = map(int, line.split())
        b = block(seed)
        sent = 0
        while sent < size:
            n = min(len(b), size - sent)
            c.sendall(b[:n]); sent += n
    finally:
        c.close()
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.2", 9100)); s.listen(512); s.settimeout(60)
print("ready", flush=True)
while True:
    try:
        c, _ = s.accept()
    except socket.timeout:
        break
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"#;

/// `SERVER SIZE PER SRC...`: PER concurrent downloads of SIZE bytes from
/// each source at once, every byte checked against its seed's pattern;
/// prints `ok N` or the failures.
const PATTERN_CLIENT_PY: &str = r#"
import socket, sys, threading
server, size, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sources = sys.argv[4:]
def block(seed):
    return bytes((seed * 131 + i * 7) % 251 for i in range(4096))
bad = []
good = []
def one(src, seed):
    try:
        want = (block(seed) * (size // 4096 + 1))[:size]
        c = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        c.settimeout(15)
        c.bind((src, 0))
        c.connect((server, 9100))
        c.sendall(b"%d %d\n" % (size, seed))
        got = 0
        while True:
            d = c.recv(65536)
            if not d:
                break
            if d != want[got:got + len(d)]:
                bad.append((src, seed, "bytes differ at %d" % got)); return
            got += len(d)
        if got != size:
            bad.append((src, seed, "got %d" % got)); return
        good.append(seed)
    except Exception as e:
        bad.append((src, seed, repr(e)))
ts = []
for i, src in enumerate(sources):
    for k in range(per):
        t = threading.Thread(target=one, args=(src, i * per + k))
        t.start(); ts.append(t)
for t in ts:
    t.join()
print("ok %d" % len(good) if not bad else "bad %r" % bad[:5])
"#;

/// `SERVER SRC...`: four UDP flows from each source to the echo server,
/// each answer checked (the pool4 address, the datagram); prints `ok N`
/// or the failures.
const UDP_SOURCES_PY: &str = r#"
import socket, sys
server, sources = sys.argv[1], sys.argv[2:]
ok, bad = 0, []
for src in sources:
    for k in range(4):
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind((src, 0)); s.settimeout(1)
        msg = ("%s-%d" % (src, k)).encode()
        d = None
        for attempt in range(3):
            s.sendto(msg, (server, 5300))
            try:
                d = s.recv(2000); break
            except socket.timeout:
                pass
        if d is not None and d.startswith(b"203.0.113.1:") and d.endswith(b" " + msg):
            ok += 1
        else:
            bad.append((src, k, d))
print("ok %d" % ok if not bad else "bad %r" % bad[:5])
"#;

/// `SERVER POOL6 A B...`: A opens a UDP mapping through the echo server
/// (which says its pool4 port); then each B sends to A's mapping under the
/// prefix (a hairpin), A answers to where it came from, and B checks the
/// answer; prints `ok N` or the failures.
const HAIRPIN_PY: &str = r#"
import socket, sys
server, pool6, a_src, bs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
a = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
a.bind((a_src, 0)); a.settimeout(2)
a.sendto(b"hi", (server, 5300))
d = a.recv(2000)
port = int(d.split(b" ")[0].split(b":")[1])
a.settimeout(1)
ok, bad = 0, []
for b_src in bs:
    b = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    b.bind((b_src, 0)); b.settimeout(1)
    msg = b_src.encode()
    answer = None
    for attempt in range(3):
        b.sendto(msg, (pool6, port))
        try:
            d, peer = a.recvfrom(2000)
        except socket.timeout:
            continue
        if d != msg or peer[0] != pool6:
            continue
        a.sendto(b"re:" + d, peer)
        try:
            answer = b.recv(2000); break
        except socket.timeout:
            pass
    if answer == b"re:" + msg:
        ok += 1
    else:
        bad.append((b_src, answer))
print("ok %d" % ok if not bad else "bad %r" % bad[:5])
"#;

fn packets_in(net: &Net) -> u64 {
    net.metric("sixgate_nat64_packets_total{dir=\"in\",family=\"ipv6\"}")
        + net.metric("sixgate_nat64_packets_total{dir=\"in\",family=\"ipv4\"}")
}

#[test]
fn two_workers_carry_many_tcp_downloads_from_several_sources() {
    if !runnable("two_workers_carry_many_tcp_downloads_from_several_sources") {
        return;
    }
    let net = Net::new();
    let sources = add_sources(&net, 7);
    let gw = net.gateway(&["--setup", "--workers", "2"]);
    assert_eq!(net.metric("sixgate_nat64_workers"), 2);
    let _srv = net.python_server(&net.server, PATTERN_SERVER_PY, &[]);
    // Neighbour discovery first (the kernel queues few packets for an
    // unresolved neighbour).
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "5353"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    // 8 sources (8 customer /64s) x 6 concurrent downloads of 200 kB.
    let mut args = vec![SERVER6, "200000", "6"];
    args.extend(sources.iter().map(String::as_str));
    let out = net.python(&net.client, PATTERN_CLIENT_PY, &args);
    assert_eq!(text(&out).trim(), "ok 48", "{}", net.stderr());
    thread::sleep(Duration::from_millis(500));
    let handoffs = net.metric("sixgate_nat64_handoffs_total");
    let packets = packets_in(&net);
    eprintln!("two workers: {handoffs} handoffs of {packets} packets in");
    // 9.6 MB: over 6,500 packets of 1500 bytes each way without offloads;
    // with them (the default) a TCP super-packet is one read.
    assert!(packets > 2_000, "{packets} packets");
    // The kernel brings a flow's packets to the queue its owner wrote on:
    // only the first packets of a flow are handed over.
    assert!(
        handoffs * 20 < packets,
        "{handoffs} handoffs of {packets} packets"
    );
    assert_eq!(net.metric("sixgate_nat64_handoff_drops_total"), 0);
    assert_eq!(
        net.metric("sixgate_nat64_dropped_total{reason=\"handoff_full\"}"),
        0
    );
    // One block per customer /64 (TCP), whichever shard it is in.
    let log = wait_log(&net, " NAT64 port block", 2);
    for src in &sources {
        let net64 = format!("{}/64", src.trim_end_matches("10"));
        assert!(log.contains(&net64), "no block for {net64}:\n{log}");
    }
    drop(gw);
}

#[test]
fn two_workers_carry_udp_and_hairpins_from_several_sources() {
    if !runnable("two_workers_carry_udp_and_hairpins_from_several_sources") {
        return;
    }
    let net = Net::new();
    let sources = add_sources(&net, 7);
    let _gw = net.gateway(&["--setup", "--workers", "2"]);
    let _echo = net.python_server(&net.server, UDP_ECHO_PY, &[]);
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "5353"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    let mut args = vec![SERVER6];
    args.extend(sources.iter().map(String::as_str));
    let out = net.python(&net.client, UDP_SOURCES_PY, &args);
    assert_eq!(text(&out).trim(), "ok 32", "{}", net.stderr());
    // Hairpins between customers: with 7 other /64s some are in the other
    // shard but for a 1 in 128 chance (the shard hash is keyed per run);
    // every one must get through either way.
    let mut args = vec![SERVER6, ICMP_SOURCE6];
    args.extend(sources.iter().map(String::as_str));
    let out = net.python(&net.client, HAIRPIN_PY, &args);
    assert_eq!(text(&out).trim(), "ok 7", "{}", net.stderr());
}

#[test]
fn two_workers_split_the_total_limits() {
    if !runnable("two_workers_split_the_total_limits") {
        return;
    }
    let net = Net::new();
    let _gw = net.gateway(&["--setup", "--max-sessions", "100", "--workers", "2"]);
    let _echo = net.python_server(&net.server, UDP_ECHO_PY, &[]);
    let out = net.python(&net.client, PING6_PY, &[SERVER6, "64", "5353"]);
    assert_eq!(text(&out).trim(), format!("reply {SERVER6}"));
    let out = net.python(&net.client, UDP_FLOOD_PY, &[SERVER6, "200"]);
    assert_eq!(text(&out).trim(), "opened 200");
    // One client /64, one shard: half of the 100 sessions.
    let sessions = net.wait_metric("sixgate_nat64_sessions", 5, |v| v >= 50);
    thread::sleep(Duration::from_millis(500));
    assert_eq!(net.metric("sixgate_nat64_sessions"), 50, "{sessions}");
}

#[test]
fn check_shows_the_workers() {
    let run = |extra: &[&str]| {
        let mut args = vec![
            "nat64",
            "--check",
            "--prefix",
            "2001:db8:64::/96",
            "--pool4",
            "192.0.2.1",
        ];
        args.extend_from_slice(extra);
        Command::new(env!("CARGO_BIN_EXE_sixgate"))
            .args(&args)
            .output()
            .expect("run sixgate")
    };
    let out = run(&["--workers", "3"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(
            "  workers: 3 (set; a TUN queue and an engine shard each, total limits split 3 ways)"
        ),
        "{}",
        text(&out)
    );
    let out = run(&["--workers", "1"]);
    assert!(
        text(&out).contains("  workers: 1 (set; one TUN queue, one engine)"),
        "{}",
        text(&out)
    );
    let out = run(&["--workers", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("--workers \"0\": workers 0 must be between 1 and 64"),
        "{}",
        text(&out)
    );
    let out = run(&[]);
    assert!(text(&out).contains("  workers: "), "{}", text(&out));
    assert!(text(&out).contains("one per CPU"), "{}", text(&out));
}

/// A TCP sink on the server: per connection, reads to the end and answers
/// the SHA-256 of what it read; for 60 s at most.
const SHA_SINK_PY: &str = r#"
import hashlib, socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.51.100.2", 9000)); s.listen(8); s.settimeout(1)
print("ready", flush=True)
end = time.time() + 60
while time.time() < end:
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    c.settimeout(10)
    h = hashlib.sha256()
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        h.update(d)
    c.sendall(h.hexdigest().encode()); c.close()
"#;

/// Uploads `sys.argv[2]` bytes of a fixed pattern to the sink at
/// `[sys.argv[1]]:9000`; prints `same` when the sink's SHA-256 matches.
const SHA_UPLOAD_PY: &str = r#"
import hashlib, socket, sys
n = int(sys.argv[2])
block = bytes((i * 7919 >> 3) & 255 for i in range(65536))
data = (block * (n // len(block) + 1))[:n]
c = socket.create_connection((sys.argv[1], 9000), timeout=10)
c.sendall(data); c.shutdown(socket.SHUT_WR)
got = b""
while True:
    d = c.recv(100)
    if not d:
        break
    got += d
print("same" if got.decode() == hashlib.sha256(data).hexdigest() else "differs " + got.decode())
"#;

/// 8 MB each way over TCP, checked by hash, with offloads (the default)
/// and without: with them, the kernel hands the gateway TCP super-packets
/// that are translated whole (`offload_kept` counts them, and there are
/// far fewer packets than 1500-byte segments); without, none.
#[test]
fn large_tcp_transfers_both_ways_with_and_without_offloads() {
    if !runnable("large_tcp_transfers_both_ways_with_and_without_offloads") {
        return;
    }
    const SIZE: usize = 8_000_000;
    let body = pattern(SIZE);
    for offload in [true, false] {
        let net = Net::new();
        let _gw = net.gateway(if offload {
            &["--setup"]
        } else {
            &["--setup", "--no-offload"]
        });
        let _http = net.serve_blob(&body);
        let _sink = net.python_server(&net.server, SHA_SINK_PY, &[]);
        assert!(
            net.download_blob() == body,
            "the download differs (offload {offload})"
        );
        let out = net.python(&net.client, SHA_UPLOAD_PY, &[SERVER6, &SIZE.to_string()]);
        assert_eq!(
            text(&out).trim(),
            "same",
            "upload (offload {offload}): {}",
            net.stderr()
        );
        let kept = net.wait_metric("sixgate_nat64_offload_kept_total", 3, |v| v > 0);
        let v4_in = net.metric("sixgate_nat64_packets_total{dir=\"in\",family=\"ipv4\"}");
        let v6_in = net.metric("sixgate_nat64_packets_total{dir=\"in\",family=\"ipv6\"}");
        if offload {
            assert!(kept > 0, "no read kept its offloads");
            // 8 MB each way in 1500-byte packets would be over 5,400 reads
            // each way; super-packets make it far fewer.
            assert!(
                v4_in < 2_700 && v6_in < 2_700 + 3_000,
                "reads: {v4_in} IPv4, {v6_in} IPv6 for 8 MB each way"
            );
        } else {
            assert_eq!(kept, 0, "offloads off, yet some kept");
            assert!(v4_in > 5_400, "{v4_in} IPv4 reads for 8 MB");
        }
    }
}

/// Runs `sixgate nat64 ARGS --allow-non-global --setup` in the gateway
/// namespace for two seconds; what it wrote to stderr.
fn start_briefly(net: &Net, args: &[&str]) -> String {
    let mut a = vec![
        "-s",
        "INT",
        "2",
        env!("CARGO_BIN_EXE_sixgate"),
        "nat64",
        "--tun",
        "nat64",
        "--allow-non-global",
        "--setup",
    ];
    a.extend_from_slice(args);
    let out = net
        .exec(&net.gateway, "timeout", &a)
        .output()
        .expect("run sixgate");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A pool4 address the gateway itself holds never reaches the device: the
/// gateway says so at start.
#[test]
fn a_pool4_address_of_the_host_is_warned_about() {
    if !runnable("a_pool4_address_of_the_host_is_warned_about") {
        return;
    }
    let net = Net::new();
    // 198.51.100.1 is the gateway's own address on its IPv4 link.
    let err = start_briefly(&net, &["--pool4", "198.51.100.1"]);
    assert!(
        err.contains("pool4 address 198.51.100.1 is an address of this host (on g1)"),
        "{err}"
    );
    // The usual pool (routed to the gateway, not on it): no warning.
    let _gw = net.gateway(&["--setup"]);
    assert!(!net.stderr().contains("is an address of this host"));
}

/// Fewer port blocks than workers leave a shard without any: the gateway
/// says so at start.
#[test]
fn fewer_port_blocks_than_workers_are_warned_about() {
    if !runnable("fewer_port_blocks_than_workers_are_warned_about") {
        return;
    }
    let net = Net::new();
    let err = start_briefly(
        &net,
        &[
            "--pool4",
            "203.0.113.1:1024-1151",
            "--port-block",
            "128/1",
            "--workers",
            "2",
        ],
    );
    assert!(
        err.contains("pool4 has 1 tcp port block(s) for 2 workers"),
        "{err}"
    );
}
