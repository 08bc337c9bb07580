//! `sixgate dns64` against real DNS servers on loopback: an authoritative
//! NSD serves the test zones (servers/tests/dns64_real/), a recursive
//! Unbound (stub zones to NSD, nothing outside loopback) is sixgate's
//! upstream, and a second Unbound with its own `dns64` module is the
//! reference sixgate is compared with. Clients: hickory-proto messages over
//! UDP and TCP, and `dig`.
//!
//! Needs `nsd`, `unbound` and `dig` (`make deps` installs them). Without
//! them the tests print "skipping: …" and pass, unless `CI` is set: then
//! they fail. Every process is started in its own process group and
//! stopped (SIGTERM, then SIGKILL) by that id on drop; temp dirs go too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

/// How long a daemon may take to answer its first query.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// Read timeout of every client query.
const QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// sixgate's `--timeout` (per upstream try).
const SIXGATE_TIMEOUT: &str = "1s";

// ---------------------------------------------------------------------------
// Tools and skipping.

/// The full path of `cmd` (PATH, then /usr/sbin and /sbin, which a non-root
/// PATH often lacks).
fn find_tool(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(cmd))
        .find(|p| {
            fs::metadata(p).is_ok_and(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.is_file() && m.permissions().mode() & 0o111 != 0
            })
        })
}

#[derive(Clone)]
struct Tools {
    nsd: PathBuf,
    unbound: PathBuf,
    dig: PathBuf,
}

/// The three programs, or `None` after printing why the test is skipped.
/// With `CI` set a missing program fails the test instead.
fn tools() -> Option<Tools> {
    let (nsd, unbound, dig) = (find_tool("nsd"), find_tool("unbound"), find_tool("dig"));
    let missing: Vec<&str> = [("nsd", &nsd), ("unbound", &unbound), ("dig", &dig)]
        .iter()
        .filter(|(_, p)| p.is_none())
        .map(|(n, _)| *n)
        .collect();
    if missing.is_empty() {
        return Some(Tools {
            nsd: nsd?,
            unbound: unbound?,
            dig: dig?,
        });
    }
    let what = missing.join(", ");
    assert!(
        std::env::var_os("CI").is_none_or(|v| v.is_empty()),
        "{what} not installed, and CI must run the real-DNS tests (make deps installs it)"
    );
    eprintln!("skipping: {what} not installed (make deps installs it)");
    None
}

// ---------------------------------------------------------------------------
// Temp dirs, ports and processes.

/// A temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sixgate-dns64-real-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A port free on 127.0.0.1 for both UDP and TCP (when this returns).
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Sends `sig` to the process group `pgid` with the `kill` command.
fn kill_group(sig: &str, pgid: u32) {
    let _ = Command::new("kill")
        .args([sig, "--", &format!("-{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// A daemon (NSD, Unbound) started in its own process group, output in a
/// log file; the group gets SIGTERM on drop, SIGKILL if the leader has not
/// exited within 5 s.
struct Daemon {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(name: &'static str, mut cmd: Command, log: PathBuf) -> Self {
        let out = File::create(&log).expect("create log");
        let err = out.try_clone().unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Self { name, child, log }
    }

    fn dump(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- {} log ---\n{log}", self.name)
    }

    /// Polls `addr` with `name` `rtype` until it answers NOERROR with an
    /// answer; false if the daemon exits or the deadline passes.
    fn wait_ready(&mut self, addr: SocketAddr, name: &str, rtype: RecordType) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        let q = query(name, rtype, 1);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return false;
            }
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let _ = s.send_to(&q, addr);
            let mut buf = [0u8; 4096];
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                if let Ok(m) = Message::from_vec(&buf[..n]) {
                    if m.response_code() == ResponseCode::NoError && !m.answers().is_empty() {
                        return true;
                    }
                }
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // The whole group: the process NSD starts as becomes its xfrd and
        // forks "nsd: main", which forks the servers.
        let pgid = self.child.id();
        kill_group("-TERM", pgid);
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut reaped = false;
        while Instant::now() < deadline {
            reaped = reaped || !matches!(self.child.try_wait(), Ok(None));
            if reaped && !group_alive(pgid) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        kill_group("-KILL", pgid);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether any process of group `pgid` is left (zombies not counted).
fn group_alive(pgid: u32) -> bool {
    let Ok(dir) = fs::read_dir("/proc") else {
        return false;
    };
    dir.filter_map(Result::ok).any(|e| {
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid pgrp ...; comm may hold spaces.
        let Some((_, rest)) = stat.rsplit_once(") ") else {
            return false;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        f.len() > 2 && f[0] != "Z" && f[2] == pgid.to_string()
    })
}

/// Writes a config from a template in servers/tests/dns64_real/.
fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut s = template.to_owned();
    for (k, v) in vars {
        s = s.replace(&format!("@{k}@"), v);
    }
    assert!(!s.contains("@PORT@") && !s.contains("@DIR@"), "{s}");
    s
}

const ZONE_FILES: [(&str, &str); 5] = [
    (
        "dns64.test.zone",
        include_str!("dns64_real/dns64.test.zone"),
    ),
    (
        "206.252.198.in-addr.arpa.zone",
        include_str!("dns64_real/206.252.198.in-addr.arpa.zone"),
    ),
    (
        "2.0.192.in-addr.arpa.zone",
        include_str!("dns64_real/2.0.192.in-addr.arpa.zone"),
    ),
    (
        "b.9.f.f.4.6.0.0.ip6.arpa.zone",
        include_str!("dns64_real/b.9.f.f.4.6.0.0.ip6.arpa.zone"),
    ),
    (
        "ipv4only.arpa.zone",
        include_str!("dns64_real/ipv4only.arpa.zone"),
    ),
];

/// NSD serving the test zones on a free 127.0.0.1 port.
fn start_nsd(tools: &Tools, dir: &Path) -> (Daemon, SocketAddr) {
    for (file, text) in ZONE_FILES {
        fs::write(dir.join(file), text).unwrap();
    }
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let conf = dir.join("nsd.conf");
        fs::write(
            &conf,
            render(
                include_str!("dns64_real/nsd.conf"),
                &[
                    ("DIR", dir.display().to_string()),
                    ("PORT", port.to_string()),
                ],
            ),
        )
        .unwrap();
        let mut cmd = Command::new(&tools.nsd);
        cmd.arg("-d").arg("-c").arg(&conf);
        let mut nsd = Daemon::spawn("nsd", cmd, dir.join("nsd.log"));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if nsd.wait_ready(addr, "ns.dns64.test.", RecordType::A) {
            return (nsd, addr);
        }
        last = nsd.dump(); // a port taken in between: try another
    }
    panic!("nsd did not start\n{last}");
}

/// Unbound on a free 127.0.0.1 port, `modules` "iterator" or "dns64
/// iterator", stub zones to NSD and to `dead`.
fn start_unbound(
    tools: &Tools,
    dir: &Path,
    name: &'static str,
    modules: &str,
    nsd: SocketAddr,
    dead: SocketAddr,
) -> (Daemon, SocketAddr) {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let conf = dir.join(format!("{name}.conf"));
        fs::write(
            &conf,
            render(
                include_str!("dns64_real/unbound.conf"),
                &[
                    ("NAME", name.to_owned()),
                    ("DIR", dir.display().to_string()),
                    ("PORT", port.to_string()),
                    ("NSD", nsd.port().to_string()),
                    ("DEAD", dead.port().to_string()),
                    ("MODULES", modules.to_owned()),
                ],
            ),
        )
        .unwrap();
        let mut cmd = Command::new(&tools.unbound);
        cmd.arg("-d").arg("-c").arg(&conf);
        let mut ub = Daemon::spawn(name, cmd, dir.join(format!("{name}.log")));
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if ub.wait_ready(addr, "v4only.dns64.test.", RecordType::A) {
            return (ub, addr);
        }
        last = ub.dump();
    }
    panic!("{name} did not start\n{last}");
}

/// The running `sixgate dns64`; killed and reaped on drop.
struct Sixgate {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Sixgate {
    fn start(upstream: SocketAddr, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sixgate"))
            .arg("dns64")
            .args(["--listen", "127.0.0.1:0", "--listen", "[::1]:0"])
            .args(["--upstream", &upstream.to_string()])
            .args(["--prefix", "64:ff9b::/96", "--allow", "127.0.0.0/8"])
            .args(["--timeout", SIXGATE_TIMEOUT])
            .args(extra)
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
        format!(
            "--- sixgate stderr ---\n{}",
            self.lines.lock().unwrap().join("\n")
        )
    }

    /// Every address of the `listening proto=PROTO` lines, once all
    /// `count` are there.
    fn addrs(&mut self, proto: &str, count: usize) -> Vec<SocketAddr> {
        let needle = format!("listening proto={proto} addr=");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let found: Vec<SocketAddr> = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .filter_map(|l| {
                    let at = l.find(&needle)?;
                    l[at + needle.len()..]
                        .split_whitespace()
                        .next()?
                        .parse()
                        .ok()
                })
                .collect();
            if found.len() >= count {
                return found;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("sixgate dns64 exited ({status}):\n{}", self.dump());
            }
            assert!(
                Instant::now() < deadline,
                "no {count} {needle} lines\n{}",
                self.dump()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    fn udp(&mut self) -> SocketAddr {
        self.addrs("udp", 2)[0]
    }
}

impl Drop for Sixgate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// NSD, the plain Unbound (sixgate's upstream), optionally the dns64
/// Unbound, and sixgate in front; in field order, stopped in reverse.
struct Stack {
    sixgate: Sixgate,
    /// Unbound's own DNS64, for the differential test.
    unbound64: Option<(Daemon, SocketAddr)>,
    unbound: (Daemon, SocketAddr),
    nsd: (Daemon, SocketAddr),
    /// Holds the "dead" port: bound, never read, so nothing else takes it
    /// and nothing ever answers there.
    _dead: UdpSocket,
    dir: TempDir,
    dig: PathBuf,
}

impl Stack {
    fn start(tools: Tools, tag: &str, with_unbound64: bool, sixgate_args: &[&str]) -> Self {
        let dir = TempDir::new(tag);
        let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dead_addr = dead.local_addr().unwrap();
        let nsd = start_nsd(&tools, &dir.0);
        let unbound = start_unbound(&tools, &dir.0, "unbound", "iterator", nsd.1, dead_addr);
        let unbound64 = with_unbound64.then(|| {
            start_unbound(
                &tools,
                &dir.0,
                "unbound-dns64",
                "dns64 iterator",
                nsd.1,
                dead_addr,
            )
        });
        let sixgate = Sixgate::start(unbound.1, sixgate_args);
        Self {
            sixgate,
            unbound64,
            unbound,
            nsd,
            _dead: dead,
            dir,
            dig: tools.dig,
        }
    }

    /// All the logs, for failure messages.
    fn dump(&self) -> String {
        let mut s = self.sixgate.dump();
        s.push('\n');
        if let Some((d, _)) = &self.unbound64 {
            s.push_str(&d.dump());
        }
        s.push_str(&self.unbound.0.dump());
        s.push_str(&self.nsd.0.dump());
        s.push_str(&format!("(temp dir {})\n", self.dir.0.display()));
        s
    }
}

// ---------------------------------------------------------------------------
// Clients and answers.

fn query(name: &str, rtype: RecordType, id: u16) -> Vec<u8> {
    let mut m = Message::new();
    m.set_id(id).set_recursion_desired(true);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    m.set_edns(e);
    m.to_vec().unwrap()
}

/// The ip6.arpa name of `addr`.
fn ip6_arpa(addr: Ipv6Addr) -> String {
    let hex = format!("{:032x}", u128::from(addr));
    let mut s: String = hex.chars().rev().flat_map(|c| [c, '.']).collect();
    s.push_str("ip6.arpa.");
    s
}

/// One answer record, normalised: (owner, type, rdata), names lowercase
/// and absolute.
type Rr = (String, String, String);

/// What a client saw: the RCODE and the answer section as a set, with
/// each record's TTL on the side.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    rcode: String,
    answers: BTreeSet<Rr>,
    ttls: BTreeMap<Rr, u32>,
    /// Whether the authority section held an SOA (hickory client only).
    soa: bool,
}

impl Answer {
    fn same(&self, other: &Answer) -> bool {
        self.rcode == other.rcode && self.answers == other.answers
    }

    /// The TTL of the only record matching `rtype`.
    fn ttl_of(&self, rtype: &str) -> u32 {
        let v: Vec<u32> = self
            .ttls
            .iter()
            .filter(|((_, t, _), _)| t == rtype)
            .map(|(_, ttl)| *ttl)
            .collect();
        assert!(!v.is_empty(), "no {rtype} in {self:?}");
        *v.iter().max().unwrap()
    }
}

fn rr(name: &str, rtype: &str, rdata: &str) -> Rr {
    (name.to_owned(), rtype.to_owned(), rdata.to_owned())
}

fn rcode_name(rc: ResponseCode) -> String {
    match rc {
        ResponseCode::NoError => "NOERROR".into(),
        ResponseCode::NXDomain => "NXDOMAIN".into(),
        ResponseCode::ServFail => "SERVFAIL".into(),
        ResponseCode::Refused => "REFUSED".into(),
        ResponseCode::FormErr => "FORMERR".into(),
        other => format!("{other:?}"),
    }
}

fn lower(name: &Name) -> String {
    let mut s = name.to_ascii().to_ascii_lowercase();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// (type, rdata) of a record as dig prints them.
fn type_and_rdata(r: &Record) -> (String, String) {
    match r.data() {
        RData::AAAA(a) => ("AAAA".into(), a.0.to_string()),
        RData::A(a) => ("A".into(), a.0.to_string()),
        RData::CNAME(c) => ("CNAME".into(), lower(&c.0)),
        RData::PTR(p) => ("PTR".into(), lower(&p.0)),
        RData::TXT(t) => ("TXT".into(), t.to_string()),
        RData::Unknown { code, rdata } if u16::from(*code) == 39 => {
            // DNAME (hickory-proto 0.25 has no type for it): an
            // uncompressed name (RFC 6672 §2.5).
            let mut dec = BinDecoder::new(rdata.anything());
            let target = Name::read(&mut dec).expect("DNAME rdata");
            ("DNAME".into(), lower(&target))
        }
        other => (r.record_type().to_string(), other.to_string()),
    }
}

fn from_message(m: &Message) -> Answer {
    let mut answers = BTreeSet::new();
    let mut ttls = BTreeMap::new();
    for r in m.answers() {
        let (t, d) = type_and_rdata(r);
        let key = (lower(r.name()), t, d);
        ttls.insert(key.clone(), r.ttl());
        answers.insert(key);
    }
    Answer {
        rcode: rcode_name(m.response_code()),
        answers,
        ttls,
        soa: m
            .name_servers()
            .iter()
            .any(|r| r.record_type() == RecordType::SOA),
    }
}

fn ask_udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let bind = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(QUERY_TIMEOUT)).unwrap();
    let id = 0x5a00 | (rtype_num(rtype) & 0xff);
    s.send_to(&query(name, rtype, id), server).unwrap();
    let mut buf = [0u8; 65535];
    let (n, _) = s
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no UDP answer from {server} for {name} {rtype}: {e}"));
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(m.id(), id);
    m
}

fn ask_tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let mut s = TcpStream::connect_timeout(&server, QUERY_TIMEOUT).unwrap();
    s.set_read_timeout(Some(QUERY_TIMEOUT)).unwrap();
    let q = query(name, rtype, 77);
    let mut framed = u16::try_from(q.len()).unwrap().to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len)
        .unwrap_or_else(|e| panic!("no TCP answer from {server} for {name} {rtype}: {e}"));
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    let m = Message::from_vec(&buf).unwrap();
    assert_eq!(m.id(), 77);
    m
}

fn rtype_num(t: RecordType) -> u16 {
    u16::from(t)
}

/// Asks with `dig` (over TCP with `tcp`) and parses its output.
fn dig(dig: &Path, server: SocketAddr, name: &str, rtype: &str, tcp: bool) -> Answer {
    let mut cmd = Command::new(dig);
    cmd.args(["+tries=1", "+time=5", "+nostats", "+nocmd"])
        .arg(format!("-p{}", server.port()))
        .arg(format!("@{}", server.ip()))
        .args([name, rtype]);
    if tcp {
        cmd.arg("+tcp");
    }
    let out = cmd.output().expect("run dig");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "dig {name} {rtype}: {out:?}");
    let rcode = text
        .lines()
        .find_map(|l| {
            let rest = &l[l.find("status: ")? + "status: ".len()..];
            Some(rest.split(',').next()?.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no status in dig output:\n{text}"));
    let mut answers = BTreeSet::new();
    let mut ttls = BTreeMap::new();
    let mut in_answer = false;
    for line in text.lines() {
        if line.starts_with(";; ANSWER SECTION:") {
            in_answer = true;
            continue;
        }
        if in_answer {
            if line.trim().is_empty() || line.starts_with(";;") {
                break;
            }
            let f: Vec<&str> = line.split_whitespace().collect();
            assert!(f.len() >= 5 && f[2] == "IN", "odd dig line {line:?}");
            let key = (f[0].to_ascii_lowercase(), f[3].to_owned(), f[4..].join(" "));
            ttls.insert(key.clone(), f[1].parse().unwrap());
            answers.insert(key);
        }
    }
    Answer {
        rcode,
        answers,
        ttls,
        soa: false,
    }
}

// ---------------------------------------------------------------------------
// What sixgate must answer.

const V4ONLY: &str = "v4only.dns64.test.";

/// One AAAA query and the answer RFC 6147 requires from a DNS64 with the
/// well-known prefix and the default exclusions.
struct Case {
    name: &'static str,
    rcode: &'static str,
    answers: Vec<Rr>,
    /// Inclusive TTL bounds for every AAAA in the answer (the Unbound cache
    /// may have aged them a few seconds).
    aaaa_ttl: Option<(u32, u32)>,
}

fn cases() -> Vec<Case> {
    vec![
        // IPv4-only: synthesised; TTL min(A 300, SOA of the NODATA 60).
        Case {
            name: V4ONLY,
            rcode: "NOERROR",
            answers: vec![rr(V4ONLY, "AAAA", "64:ff9b::c6fc:ce10")],
            aaaa_ttl: Some((50, 60)),
        },
        // Dual stack: the real AAAA, TTL untouched.
        Case {
            name: "dual.dns64.test.",
            rcode: "NOERROR",
            answers: vec![rr("dual.dns64.test.", "AAAA", "2001:db8::17")],
            aaaa_ttl: Some((190, 200)),
        },
        // The chain is kept, the AAAA synthesised at its end (§5.1.6).
        Case {
            name: "c1.dns64.test.",
            rcode: "NOERROR",
            answers: vec![
                rr("c1.dns64.test.", "CNAME", "c2.dns64.test."),
                rr("c2.dns64.test.", "CNAME", "end.dns64.test."),
                rr("end.dns64.test.", "AAAA", "64:ff9b::c6fc:ce12"),
            ],
            aaaa_ttl: Some((50, 60)),
        },
        // DNAME: kept with its CNAME, synthesised at the target.
        Case {
            name: "v4.alias.dns64.test.",
            rcode: "NOERROR",
            answers: vec![
                rr("alias.dns64.test.", "DNAME", "sub.dns64.test."),
                rr("v4.alias.dns64.test.", "CNAME", "v4.sub.dns64.test."),
                rr("v4.sub.dns64.test.", "AAAA", "64:ff9b::c6fc:ce18"),
            ],
            aaaa_ttl: Some((50, 60)),
        },
        // Only an excluded ::ffff: AAAA (§5.1.4): treated as none, so the
        // AAAA is synthesised from the A. That AAAA answer carried no SOA,
        // so the cap is 600 s and the A TTL (300) stands (§5.1.7).
        Case {
            name: "mapped.dns64.test.",
            rcode: "NOERROR",
            answers: vec![rr("mapped.dns64.test.", "AAAA", "64:ff9b::c6fc:ce13")],
            aaaa_ttl: Some((290, 300)),
        },
        // Non-global IPv4 is never put under the well-known prefix (RFC
        // 6052 §3.1): the NODATA stays.
        Case {
            name: "private.dns64.test.",
            rcode: "NOERROR",
            answers: vec![],
            aaaa_ttl: None,
        },
        // One AAAA per A.
        Case {
            name: "multi.dns64.test.",
            rcode: "NOERROR",
            answers: vec![
                rr("multi.dns64.test.", "AAAA", "64:ff9b::c6fc:ce14"),
                rr("multi.dns64.test.", "AAAA", "64:ff9b::c6fc:ce15"),
                rr("multi.dns64.test.", "AAAA", "64:ff9b::c6fc:ce16"),
            ],
            aaaa_ttl: Some((50, 60)),
        },
        // An A TTL below the SOA's: the A TTL.
        Case {
            name: "short.dns64.test.",
            rcode: "NOERROR",
            answers: vec![rr("short.dns64.test.", "AAAA", "64:ff9b::c6fc:ce17")],
            aaaa_ttl: Some((20, 30)),
        },
        // NXDOMAIN is returned as is, no A asked (§5.1.2).
        Case {
            name: "nx.dns64.test.",
            rcode: "NXDOMAIN",
            answers: vec![],
            aaaa_ttl: None,
        },
        // Neither A nor AAAA: NOERROR, empty.
        Case {
            name: "nodata.dns64.test.",
            rcode: "NOERROR",
            answers: vec![],
            aaaa_ttl: None,
        },
    ]
}

fn check_case(c: &Case, got: &Answer, how: &str, stack: &Stack) {
    let want: BTreeSet<Rr> = c.answers.iter().cloned().collect();
    assert!(
        got.rcode == c.rcode && got.answers == want,
        "{how}: {} AAAA: want {} {want:?}, got {} {:?}\n{}",
        c.name,
        c.rcode,
        got.rcode,
        got.answers,
        stack.dump()
    );
    if let Some((lo, hi)) = c.aaaa_ttl {
        let ttl = got.ttl_of("AAAA");
        assert!(
            (lo..=hi).contains(&ttl),
            "{how}: {} AAAA TTL {ttl}, want {lo}..={hi} (RFC 6147 §5.1.7)",
            c.name
        );
    }
}

// ---------------------------------------------------------------------------
// The tests.

/// hickory-built queries over UDP and TCP, on 127.0.0.1 and ::1, for every
/// name class; also A (forwarded unchanged) and the negative answers' SOA.
#[test]
fn synthesis_against_real_servers_udp_and_tcp() {
    let Some(tools) = tools() else { return };
    let mut stack = Stack::start(tools, "proto", false, &[]);
    let udp = stack.sixgate.addrs("udp", 2);
    let tcp = stack.sixgate.addrs("tcp", 2);
    for c in cases() {
        for (i, &server) in udp.iter().enumerate() {
            let m = ask_udp(server, c.name, RecordType::AAAA);
            check_case(&c, &from_message(&m), &format!("UDP {server}"), &stack);
            if i == 0 && c.answers.is_empty() {
                // Negative answers keep the upstream's SOA (RFC 2308).
                assert!(from_message(&m).soa, "{} has no SOA: {m:?}", c.name);
            }
        }
        for &server in &tcp {
            let m = ask_tcp(server, c.name, RecordType::AAAA);
            check_case(&c, &from_message(&m), &format!("TCP {server}"), &stack);
        }
    }
    // Other types are forwarded unchanged.
    let u = udp[0];
    let got = from_message(&ask_udp(u, V4ONLY, RecordType::A));
    assert_eq!(got.rcode, "NOERROR");
    assert_eq!(
        got.answers,
        BTreeSet::from([rr(V4ONLY, "A", "198.252.206.16")])
    );
    let got = from_message(&ask_udp(u, "nodata.dns64.test.", RecordType::TXT));
    assert_eq!(
        got.answers,
        BTreeSet::from([rr("nodata.dns64.test.", "TXT", "only text")])
    );
    // ipv4only.arpa is answered locally (RFC 8880 §7.2), whatever NSD has.
    let got = from_message(&ask_udp(u, "ipv4only.arpa.", RecordType::AAAA));
    assert_eq!(
        got.answers,
        BTreeSet::from([
            rr("ipv4only.arpa.", "AAAA", "64:ff9b::c000:aa"),
            rr("ipv4only.arpa.", "AAAA", "64:ff9b::c000:ab"),
        ])
    );
}

/// The same name classes through `dig`, over UDP and TCP.
#[test]
fn dig_sees_the_rfc_answers() {
    let Some(tools) = tools() else { return };
    let mut stack = Stack::start(tools, "dig", false, &[]);
    let u = stack.sixgate.udp();
    let t = stack.sixgate.addrs("tcp", 2)[0];
    for c in cases() {
        let got = dig(&stack.dig, u, c.name, "AAAA", false);
        check_case(&c, &got, "dig", &stack);
        let got = dig(&stack.dig, t, c.name, "AAAA", true);
        check_case(&c, &got, "dig +tcp", &stack);
    }
    let got = dig(&stack.dig, u, "x.broken.dns64.test.", "AAAA", false);
    assert_eq!(got.rcode, "SERVFAIL", "{}", stack.dump());
    let got = dig(&stack.dig, u, &ip6_arpa(synth(0xc6fc_ce10)), "PTR", true);
    assert_eq!(got.rcode, "NOERROR", "{}", stack.dump());
    assert!(got.answers.contains(&rr(
        "16.206.252.198.in-addr.arpa.",
        "PTR",
        "v4only.dns64.test."
    )));
}

fn synth(v4: u32) -> Ipv6Addr {
    Ipv6Addr::from((0x0064_ff9b_u128 << 96) | u128::from(v4))
}

/// A delegation whose server never answers: Unbound gives up, SERVFAIL
/// reaches the client, well within sixgate's own timeouts (AAAA, then A:
/// RFC 6147 §5.1.2 treats SERVFAIL as an empty answer and asks A).
#[test]
fn broken_delegation_gives_servfail_in_time() {
    let Some(tools) = tools() else { return };
    let mut stack = Stack::start(tools, "broken", false, &[]);
    let u = stack.sixgate.udp();
    let t = stack.sixgate.addrs("tcp", 2)[0];
    for (i, name) in ["a.broken.dns64.test.", "b.broken.dns64.test."]
        .iter()
        .enumerate()
    {
        let start = Instant::now();
        let m = if i == 0 {
            ask_udp(u, name, RecordType::AAAA)
        } else {
            ask_tcp(t, name, RecordType::AAAA)
        };
        let took = start.elapsed();
        eprintln!("{name}: SERVFAIL after {took:?}");
        assert_eq!(
            rcode_name(m.response_code()),
            "SERVFAIL",
            "{name}\n{}",
            stack.dump()
        );
        assert!(m.answers().is_empty());
        // Two upstream tries of at most 1 s each, plus slack.
        assert!(
            took < Duration::from_millis(2500),
            "{name}: SERVFAIL after {took:?}"
        );
        // A and other types: the same SERVFAIL, forwarded.
        let m = ask_udp(u, name, RecordType::A);
        assert_eq!(rcode_name(m.response_code()), "SERVFAIL");
    }
    // sixgate still answers the rest.
    let m = ask_udp(u, V4ONLY, RecordType::AAAA);
    assert_eq!(
        from_message(&m).answers,
        BTreeSet::from([rr(V4ONLY, "AAAA", "64:ff9b::c6fc:ce10")])
    );
}

/// PTR under the prefix (RFC 6147 §5.3.1): a CNAME to the in-addr.arpa
/// name, and the PTR found there. An address the forward direction would
/// never synthesise (192.0.2.1, non-global) is forwarded unchanged, unless
/// sixgate runs with --allow-non-global.
#[test]
fn ptr_under_the_prefix_gets_a_cname() {
    let Some(tools) = tools() else { return };
    let mut stack = Stack::start(tools.clone(), "ptr", false, &[]);
    let u = stack.sixgate.udp();
    let t = stack.sixgate.addrs("tcp", 2)[0];
    let global = ip6_arpa(synth(0xc6fc_ce10));
    let want = BTreeSet::from([
        rr(&global, "CNAME", "16.206.252.198.in-addr.arpa."),
        rr("16.206.252.198.in-addr.arpa.", "PTR", "v4only.dns64.test."),
    ]);
    for m in [
        ask_udp(u, &global, RecordType::PTR),
        ask_tcp(t, &global, RecordType::PTR),
    ] {
        let got = from_message(&m);
        assert_eq!(got.rcode, "NOERROR", "{}", stack.dump());
        assert_eq!(got.answers, want, "{}", stack.dump());
    }
    let doc = ip6_arpa(synth(0xc000_0201));
    let got = from_message(&ask_udp(u, &doc, RecordType::PTR));
    assert_eq!(
        got.rcode, "NXDOMAIN",
        "forwarded to the empty ip6.arpa zone"
    );
    assert!(got.answers.is_empty());

    let mut lab = Stack::start(tools, "ptr-lab", false, &["--allow-non-global"]);
    let u = lab.sixgate.udp();
    let got = from_message(&ask_udp(u, &doc, RecordType::PTR));
    assert_eq!(got.rcode, "NOERROR", "{}", lab.dump());
    assert_eq!(
        got.answers,
        BTreeSet::from([
            rr(&doc, "CNAME", "1.2.0.192.in-addr.arpa."),
            rr("1.2.0.192.in-addr.arpa.", "PTR", "doc.dns64.test."),
        ])
    );
    // And the forward direction now synthesises 10.1.2.3 too.
    let got = from_message(&ask_udp(u, "private.dns64.test.", RecordType::AAAA));
    assert_eq!(
        got.answers,
        BTreeSet::from([rr("private.dns64.test.", "AAAA", "64:ff9b::a01:203")])
    );
}

/// Where sixgate and Unbound's dns64 module legitimately answer differently
/// (RCODE and answer set; TTLs are compared by neither side). Each entry:
/// query name, type, sixgate's answer, Unbound's answer, and why.
fn expected_differences() -> Vec<(String, RecordType, Answer, Answer)> {
    let ans = |rcode: &str, rrs: &[Rr]| Answer {
        rcode: rcode.into(),
        answers: rrs.iter().cloned().collect(),
        ttls: BTreeMap::new(),
        soa: false,
    };
    let global = ip6_arpa(synth(0xc6fc_ce10));
    let doc = ip6_arpa(synth(0xc000_0201));
    let missing = ip6_arpa(synth(0xc6fc_ce11));
    vec![
        // 1. The only AAAA is IPv4-mapped. RFC 6147 §5.1.4: a DNS64 MUST by
        //    default treat ::ffff:0:0/96 as excluded, i.e. as if there were
        //    no AAAA, and synthesise. Unbound 1.17's dns64 module has no
        //    AAAA exclusion list (only dns64-ignore-aaaa by name) and passes
        //    the mapped address through.
        (
            "mapped.dns64.test.".into(),
            RecordType::AAAA,
            ans(
                "NOERROR",
                &[rr("mapped.dns64.test.", "AAAA", "64:ff9b::c6fc:ce13")],
            ),
            ans(
                "NOERROR",
                &[rr("mapped.dns64.test.", "AAAA", "::ffff:198.252.206.19")],
            ),
        ),
        // 2. Non-global IPv4 (10.1.2.3). RFC 6052 §3.1: the well-known prefix
        //    MUST NOT be used to represent non-global IPv4 addresses, so
        //    sixgate keeps the NODATA. Unbound synthesises anything.
        (
            "private.dns64.test.".into(),
            RecordType::AAAA,
            ans("NOERROR", &[]),
            ans(
                "NOERROR",
                &[rr("private.dns64.test.", "AAAA", "64:ff9b::a01:203")],
            ),
        ),
        // 3. PTR under the prefix. RFC 6147 §5.3.1 describes answering it
        //    by synthesising a CNAME to the in-addr.arpa name (what sixgate
        //    does, the PTR appended) and, as the alternative, answering the
        //    PTR itself with the ip6.arpa owner (what Unbound does). Same
        //    target name either way.
        (
            global.clone(),
            RecordType::PTR,
            ans(
                "NOERROR",
                &[
                    rr(&global, "CNAME", "16.206.252.198.in-addr.arpa."),
                    rr("16.206.252.198.in-addr.arpa.", "PTR", "v4only.dns64.test."),
                ],
            ),
            ans("NOERROR", &[rr(&global, "PTR", "v4only.dns64.test.")]),
        ),
        // 4. PTR under the prefix for a non-global IPv4 (192.0.2.1). sixgate
        //    never synthesises that AAAA (RFC 6052 §3.1), so it does not
        //    claim the reverse name either: the query is forwarded and the
        //    (empty) 64:ff9b ip6.arpa zone says NXDOMAIN. Unbound maps it.
        (
            doc.clone(),
            RecordType::PTR,
            ans("NXDOMAIN", &[]),
            ans("NOERROR", &[rr(&doc, "PTR", "doc.dns64.test.")]),
        ),
        // 5. PTR under the prefix for an address whose in-addr.arpa name does
        //    not exist (198.252.206.17): both say NXDOMAIN, but sixgate's
        //    answer holds its synthesised CNAME (the RCODE is that of the
        //    chain's last name, RFC 6604 §2), Unbound's holds nothing. The
        //    same choice as 3, seen on a negative answer.
        (
            missing.clone(),
            RecordType::PTR,
            ans(
                "NXDOMAIN",
                &[rr(&missing, "CNAME", "17.206.252.198.in-addr.arpa.")],
            ),
            ans("NXDOMAIN", &[]),
        ),
    ]
}

/// Query name, the record's (owner, type, rdata), sixgate's TTL bounds,
/// Unbound's TTL bounds (inclusive).
type TtlDifference = (&'static str, Rr, (u32, u32), (u32, u32));

/// TTLs the two pick differently for the same record.
/// RFC 6147 §5.1.7: a synthesised AAAA gets the smaller of the A record's
/// TTL and the TTL of the SOA in the AAAA NODATA (60 here, from the SOA
/// MINIMUM, RFC 2308 §3). Unbound 1.17 gives it the A record's TTL (300).
/// Where the A TTL is the smaller ("short", 30) they agree.
fn expected_ttl_differences() -> Vec<TtlDifference> {
    vec![
        (
            V4ONLY,
            rr(V4ONLY, "AAAA", "64:ff9b::c6fc:ce10"),
            (50, 60),
            (290, 300),
        ),
        (
            "c1.dns64.test.",
            rr("end.dns64.test.", "AAAA", "64:ff9b::c6fc:ce12"),
            (50, 60),
            (290, 300),
        ),
        (
            "multi.dns64.test.",
            rr("multi.dns64.test.", "AAAA", "64:ff9b::c6fc:ce14"),
            (50, 60),
            (290, 300),
        ),
        (
            "short.dns64.test.",
            rr("short.dns64.test.", "AAAA", "64:ff9b::c6fc:ce17"),
            (20, 30),
            (20, 30),
        ),
    ]
}

/// The same queries to sixgate (in front of a plain Unbound) and to an
/// Unbound running its own dns64 module: equal RCODEs and answer sets,
/// except for exactly the [`expected_differences`].
#[test]
fn agrees_with_unbound_dns64() {
    let Some(tools) = tools() else { return };
    let mut stack = Stack::start(tools, "diff", true, &[]);
    let sixgate = stack.sixgate.udp();
    let unbound64 = stack.unbound64.as_ref().unwrap().1;
    let mut queries: Vec<(String, RecordType)> = cases()
        .iter()
        .map(|c| (c.name.to_owned(), RecordType::AAAA))
        .collect();
    queries.extend([
        ("x.broken.dns64.test.".to_owned(), RecordType::AAAA),
        (V4ONLY.to_owned(), RecordType::A),
        ("dual.dns64.test.".to_owned(), RecordType::A),
        ("c1.dns64.test.".to_owned(), RecordType::A),
        ("nodata.dns64.test.".to_owned(), RecordType::TXT),
        ("ipv4only.arpa.".to_owned(), RecordType::AAAA),
        ("ipv4only.arpa.".to_owned(), RecordType::A),
        (ip6_arpa(synth(0xc6fc_ce10)), RecordType::PTR),
        (ip6_arpa(synth(0xc000_0201)), RecordType::PTR),
        // 64:ff9b::c6fc:ce11 has no PTR in NSD's reverse zone.
        (ip6_arpa(synth(0xc6fc_ce11)), RecordType::PTR),
    ]);
    let diffs = expected_differences();
    let mut report = Vec::new();
    for (name, rtype) in &queries {
        let ours = from_message(&ask_udp(sixgate, name, *rtype));
        let theirs = from_message(&ask_udp(unbound64, name, *rtype));
        match diffs.iter().find(|(n, t, _, _)| n == name && t == rtype) {
            Some((_, _, want_ours, want_theirs)) => {
                if !(ours.same(want_ours) && theirs.same(want_theirs)) {
                    report.push(format!(
                        "{name} {rtype}: expected difference changed:\n  sixgate: want {} {:?}, got {} {:?}\n  unbound: want {} {:?}, got {} {:?}",
                        want_ours.rcode, want_ours.answers, ours.rcode, ours.answers,
                        want_theirs.rcode, want_theirs.answers, theirs.rcode, theirs.answers
                    ));
                }
            }
            None => {
                if !ours.same(&theirs) {
                    report.push(format!(
                        "{name} {rtype}: sixgate {} {:?} != unbound {} {:?}",
                        ours.rcode, ours.answers, theirs.rcode, theirs.answers
                    ));
                }
            }
        }
    }
    assert!(report.is_empty(), "{}\n{}", report.join("\n"), stack.dump());
    // The TTLs, where the two differ (and one where they agree).
    for (name, key, ours_ttl, theirs_ttl) in expected_ttl_differences() {
        let ours = from_message(&ask_udp(sixgate, name, RecordType::AAAA));
        let theirs = from_message(&ask_udp(unbound64, name, RecordType::AAAA));
        for (who, got, (lo, hi)) in [
            ("sixgate", &ours, ours_ttl),
            ("unbound", &theirs, theirs_ttl),
        ] {
            let ttl = got.ttls.get(&key).copied();
            assert!(
                ttl.is_some_and(|t| (lo..=hi).contains(&t)),
                "{who}: {name} AAAA: TTL of {key:?} is {ttl:?}, want {lo}..={hi}"
            );
        }
    }
    // Every listed difference was among the queries.
    for (n, t, _, _) in &diffs {
        assert!(queries.iter().any(|(qn, qt)| qn == n && qt == t), "{n} {t}");
    }
}
