//! System-level tests of `sixgate proxy` (docs/proxy.md), kept out of
//! `proxy_e2e` because they need root or load the machine:
//!
//! - NAT46 source mode inside a private network namespace (root only);
//! - 100,000 connections past `max_connections` (bounded descriptors,
//!   every refusal counted, still serving afterwards).

mod support;

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use sixgate::rfc6052::Nat64Prefix;

use support::*;

// ---------------------------------------------------------------------------
// NAT46 in a network namespace
// ---------------------------------------------------------------------------

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("run ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A network namespace deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Self {
        let name = format!("sgp-{}", std::process::id());
        // A leftover from a killed run of the same pid would make `add` fail.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        Self(name)
    }

    /// `ip netns exec NS PROGRAM ARGS…`.
    fn exec(&self, program: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, program]).args(args);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// A child process killed and reaped on drop.
struct Kid(Child);

impl Drop for Kid {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const BACKEND_PY: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("2001:db8:1::10", 9000))
s.listen(8)
s.settimeout(30)
print("ready", flush=True)
c, peer = s.accept()
c.sendall((peer[0] + "\n").encode())
c.close()
"#;

const CLIENT_PY: &str = r#"
import socket
c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
c.settimeout(10)
c.bind(("192.0.2.1", 0))
c.connect(("192.0.2.1", 2201))
data = b""
while True:
    d = c.recv(1000)
    if not d:
        break
    data += d
print(data.decode().strip())
"#;

#[test]
fn nat46_backend_sees_the_client_ipv4_embedded() {
    if !is_root() {
        assert!(!in_ci(), "the NAT46 test needs root (ip netns) in CI");
        eprintln!("skipping: needs root (ip netns)");
        return;
    }
    let ns = Netns::new();
    let n = ns.0.as_str();
    ip(&["-n", n, "link", "set", "lo", "up"]);
    ip(&["-n", n, "addr", "add", "192.0.2.1/32", "dev", "lo"]);
    ip(&[
        "-n",
        n,
        "addr",
        "add",
        "2001:db8:1::10/128",
        "dev",
        "lo",
        "nodad",
    ]);
    ip(&[
        "-n",
        n,
        "-6",
        "route",
        "add",
        "local",
        "2001:db8:46::/96",
        "dev",
        "lo",
    ]);

    let mut backend = Kid(ns
        .exec("python3", &["-c", BACKEND_PY])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3 backend"));
    let mut ready = String::new();
    BufReader::new(backend.0.stdout.take().unwrap())
        .read_line(&mut ready)
        .expect("backend ready line");
    assert_eq!(ready.trim(), "ready");

    let mut cmd = ns.exec(
        sixgate_bin(),
        &[
            "proxy",
            "--tcp-listen",
            "192.0.2.1:2201=[2001:db8:1::10]:9000",
            "--nat46-prefix",
            "2001:db8:46::/96",
        ],
    );
    cmd.current_dir("/");
    let p = Proxy::spawn(cmd);
    assert_eq!(p.listen_addr("tcp0"), "192.0.2.1:2201".parse().unwrap());

    let out = ns
        .exec("python3", &["-c", CLIENT_PY])
        .stderr(Stdio::piped())
        .output()
        .expect("run python3 client");
    assert!(
        out.status.success(),
        "client: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        p.dump()
    );
    let seen: IpAddr = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the backend wrote an address");
    let prefix: Nat64Prefix = "2001:db8:46::/96".parse().unwrap();
    let want = prefix.embed("192.0.2.1".parse().unwrap());
    assert_eq!(want.to_string(), "2001:db8:46::c000:201");
    assert_eq!(
        seen,
        IpAddr::V6(want),
        "the backend sees the client's IPv4 embedded"
    );

    let line = p.expect_line("conn ");
    assert!(line.contains("client=192.0.2.1:"), "{line}");
    assert_fields(
        &line,
        &[("backend", "[2001:db8:1::10]:9000"), ("outcome", "done")],
    );
    let _ = backend.0.wait();
}

// ---------------------------------------------------------------------------
// 100,000 connections past the limit
// ---------------------------------------------------------------------------

const LIMIT: usize = 1000;
const ATTEMPTS: usize = 100_000;
const SOURCES: usize = 8; // 127.0.0.2 ..= 127.0.0.9
const WAVE_PER_SOURCE: usize = 250; // 2,000 per wave in all

/// Raises this process's open-file soft limit to its hard limit with
/// `prlimit --pid` (std has no setrlimit).
fn raise_nofile() {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let Some(line) = limits.lines().find(|l| l.starts_with("Max open files")) else {
        return;
    };
    let nums: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    let [soft, hard] = nums[..] else { return };
    if soft == hard {
        return;
    }
    let _ = Command::new("prlimit")
        .args([
            "--pid",
            &std::process::id().to_string(),
            &format!("--nofile={hard}:{hard}"),
        ])
        .status();
}

fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_hundred_thousand_connections_past_the_limit() {
    raise_nofile();
    let (backend, mut cap) = capture_server("[::1]:0");
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        r#"ulimit -n 4096 && exec "$0" "$@""#,
        sixgate_bin(),
        "proxy",
        "--tls-listen",
        "127.0.0.1:0",
        "--route",
        &format!("www.example.test={}", backend.backend()),
        "--max-connections",
        &LIMIT.to_string(),
        "--max-connections-per-client",
        "1000000",
        "--hello-timeout",
        "300s",
        "--metrics",
        "127.0.0.1:0",
    ]);
    let mut p = Proxy::spawn(cmd);
    let addr = p.listen_addr("tls");
    let metrics = p.metrics_addr();
    let pid = p.pid();
    let base_fds = fd_count(pid);

    // Hold LIMIT connections in the hello phase (three bytes of a record).
    let mut held = Vec::with_capacity(LIMIT);
    for i in 0..LIMIT {
        let src: SocketAddr = format!("127.0.1.{}:0", 1 + i % 4).parse().unwrap();
        let mut s = connect_from(src, addr).expect("held connection");
        s.write_all(&[0x16, 0x03, 0x01]).unwrap();
        held.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let active = metric(&scrape(metrics), "sixgate_proxy_connections_active", None);
        if active as usize == LIMIT {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "active={active}, want {LIMIT}\n{}",
            p.dump()
        );
        thread::sleep(Duration::from_millis(100));
    }

    // Sample the proxy's descriptors while the waves run.
    let stop = Arc::new(AtomicBool::new(false));
    let max_fds = Arc::new(AtomicUsize::new(0));
    let sampler = {
        let stop = Arc::clone(&stop);
        let max_fds = Arc::clone(&max_fds);
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                max_fds.fetch_max(fd_count(pid), Ordering::SeqCst);
                thread::sleep(Duration::from_millis(50));
            }
        })
    };

    let start = Instant::now();
    let budget = Duration::from_secs(90);
    let per_source = ATTEMPTS / SOURCES;
    let workers: Vec<_> = (0..SOURCES)
        .map(|k| {
            thread::spawn(move || -> (usize, usize, usize) {
                let src: SocketAddr = format!("127.0.0.{}:0", 2 + k).parse().unwrap();
                let (mut done, mut closed, mut failed) = (0, 0, 0);
                while done < per_source && start.elapsed() < budget {
                    let n = WAVE_PER_SOURCE.min(per_source - done);
                    let mut wave: Vec<TcpStream> = Vec::with_capacity(n);
                    for _ in 0..n {
                        match connect_from(src, addr) {
                            Ok(s) => wave.push(s),
                            // Accepted and reset before connect() returned.
                            Err(e) if e.kind() == ErrorKind::ConnectionReset => closed += 1,
                            Err(_) => failed += 1,
                        }
                    }
                    done += n;
                    for mut s in wave {
                        if let End::Closed(b) = read_until_close(&mut s, Duration::from_secs(5)) {
                            if b.is_empty() {
                                closed += 1;
                            }
                        }
                    }
                }
                (done, closed, failed)
            })
        })
        .collect();
    let (mut done, mut closed, mut failed) = (0, 0, 0);
    for w in workers {
        let (d, c, f) = w.join().unwrap();
        done += d;
        closed += c;
        failed += f;
    }
    let took = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    sampler.join().unwrap();
    let max_fds = max_fds.load(Ordering::SeqCst);
    eprintln!(
        "{done} attempts in {took:?}: {closed} closed by the proxy, {failed} connect errors, \
         at most {max_fds} proxy descriptors (base {base_fds})"
    );

    assert!(p.alive(), "the proxy died\n{}", p.dump());
    assert_eq!(done, ATTEMPTS, "only {done} attempts within {budget:?}");
    assert!(
        closed >= ATTEMPTS - 1000,
        "only {closed} of {done} refused connections were closed"
    );
    assert!(
        max_fds <= base_fds + LIMIT + 100,
        "the proxy held {max_fds} descriptors (base {base_fds}, limit {LIMIT})"
    );
    let text = scrape(metrics);
    let refused = metric(
        &text,
        "sixgate_proxy_refused_total",
        Some(("reason", "max_connections")),
    );
    assert!(refused >= 98_000.0, "refused max_connections = {refused}");
    assert!(
        refused <= (ATTEMPTS + 10) as f64,
        "refused max_connections = {refused}"
    );
    assert_eq!(
        metric(&text, "sixgate_proxy_connections_active", None),
        LIMIT as f64
    );

    // Free the held ones; a normal connection then works.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&scrape(metrics), "sixgate_proxy_connections_active", None) > 0.0 {
        assert!(Instant::now() < deadline, "held connections not released");
        thread::sleep(Duration::from_millis(100));
    }
    let hello = hello_for(b"www.example.test");
    let mut s = connect(addr);
    s.write_all(&hello).unwrap();
    assert_eq!(
        cap.next_conn(hello.len()),
        hello,
        "a normal connection after the flood"
    );
    drop(s);
    assert!(p.alive());
}
