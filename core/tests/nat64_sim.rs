//! Real endpoints through the NAT64 engine: an IPv6-only client and an
//! IPv4-only server, each a smoltcp stack on an in-memory device, talk TCP,
//! UDP and ping through `Nat64` over links that lose, delay and reorder
//! packets, all in virtual time. smoltcp's TCP retransmits what is lost, so
//! a transfer that completes byte for byte shows the engine kept the
//! session, the ports, the sequence space and the checksums right under
//! loss and reordering.

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};

use sixgate::nat64::state::{self, Pool4Range, Protocol, Settings};
use sixgate::nat64::xlat::{self, MAX_OUTPUT};
use sixgate::nat64::{Emit, Nat64};
use sixgate::time::Instant;
use sixgate::Nat64Prefix;
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{ChecksumCapabilities, Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{HardwareAddress, Icmpv6Packet, Icmpv6Repr, IpAddress, IpCidr};

const CLIENT: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const CLIENT_GW: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const SERVER_GW: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const POOL: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

fn server6() -> Ipv6Addr {
    Nat64Prefix::WELL_KNOWN.embed(SERVER)
}

fn nat(seed: u64) -> Nat64 {
    let pool = Protocol::ALL
        .into_iter()
        .map(|proto| Pool4Range {
            proto,
            net: format!("{POOL}/32").parse().unwrap(),
            ports: 1024..=65535,
        })
        .collect();
    let st = state::Config::new(Settings::new(Nat64Prefix::WELL_KNOWN, pool)).unwrap();
    Nat64::new(xlat::Config::default(), st, seed)
}

/// A small deterministic generator (xorshift64*), so every run replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One direction of a link: each packet is lost with `loss_pct` percent
/// chance, else delivered after 5 ms plus up to `jitter_ms` (so later
/// packets often overtake earlier ones).
struct Link {
    rng: Rng,
    loss_pct: u64,
    jitter_ms: u64,
    queue: Vec<(u64, u64, Vec<u8>)>,
    sent: u64,
    lost: u64,
    reordered: u64,
    last_delivered: u64,
}

impl Link {
    fn new(seed: u64, loss_pct: u64, jitter_ms: u64) -> Self {
        Self {
            rng: Rng(seed | 1),
            loss_pct,
            jitter_ms,
            queue: Vec::new(),
            sent: 0,
            lost: 0,
            reordered: 0,
            last_delivered: 0,
        }
    }

    fn send(&mut self, now: u64, packet: Vec<u8>) {
        self.sent += 1;
        if self.rng.below(100) < self.loss_pct {
            self.lost += 1;
            return;
        }
        let at = now + 5 + self.rng.below(self.jitter_ms + 1);
        self.queue.push((at, self.sent, packet));
    }

    fn deliver(&mut self, now: u64) -> Vec<Vec<u8>> {
        let mut due: Vec<_> = Vec::new();
        let mut i = 0;
        while i < self.queue.len() {
            if self.queue[i].0 <= now {
                due.push(self.queue.swap_remove(i));
            } else {
                i += 1;
            }
        }
        due.sort_by_key(|&(at, seq, _)| (at, seq));
        due.into_iter()
            .map(|(_, seq, p)| {
                if seq < self.last_delivered {
                    self.reordered += 1;
                }
                self.last_delivered = self.last_delivered.max(seq);
                p
            })
            .collect()
    }
}

/// An in-memory IP device: what the stack sends piles up in `tx`, what it
/// should receive is queued in `rx`.
struct Pipe {
    rx: VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
    mtu: usize,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0; len];
        let r = f(&mut buf);
        self.0.push(buf);
        r
    }
}

impl Device for Pipe {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: SmolInstant) -> Option<(Rx, Tx<'_>)> {
        let p = self.rx.pop_front()?;
        Some((Rx(p), Tx(&mut self.tx)))
    }

    fn transmit(&mut self, _: SmolInstant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.mtu;
        caps
    }
}

/// A host: a smoltcp interface on a pipe, and its sockets.
struct Host {
    dev: Pipe,
    iface: Interface,
    sockets: SocketSet<'static>,
}

impl Host {
    fn new(addr: IpCidr, gateway: IpAddress, mtu: usize) -> Self {
        let mut dev = Pipe {
            rx: VecDeque::new(),
            tx: Vec::new(),
            mtu,
        };
        let mut config = IfaceConfig::new(HardwareAddress::Ip);
        config.random_seed = 7;
        let mut iface = Interface::new(config, &mut dev, SmolInstant::from_millis(0));
        iface.update_ip_addrs(|a| a.push(addr).unwrap());
        match gateway {
            IpAddress::Ipv4(g) => iface.routes_mut().add_default_ipv4_route(g).unwrap(),
            IpAddress::Ipv6(g) => iface.routes_mut().add_default_ipv6_route(g).unwrap(),
        };
        Self {
            dev,
            iface,
            sockets: SocketSet::new(Vec::new()),
        }
    }

    fn poll(&mut self, now: u64) {
        self.iface.poll(
            SmolInstant::from_millis(now as i64),
            &mut self.dev,
            &mut self.sockets,
        );
    }
}

/// The client, the engine, the server and the two links between them.
struct World {
    client: Host,
    server: Host,
    nat: Nat64,
    up: Link,
    down: Link,
    out: Vec<u8>,
    now: u64,
    dropped: u64,
}

impl World {
    fn new(seed: u64, loss_pct: u64, jitter_ms: u64) -> Self {
        Self {
            client: Host::new(
                IpCidr::new(IpAddress::Ipv6(CLIENT), 64),
                IpAddress::Ipv6(CLIENT_GW),
                1500,
            ),
            server: Host::new(
                IpCidr::new(IpAddress::Ipv4(SERVER), 24),
                IpAddress::Ipv4(SERVER_GW),
                1500,
            ),
            nat: nat(seed),
            up: Link::new(seed ^ 0x5555, loss_pct, jitter_ms),
            down: Link::new(seed ^ 0xaaaa, loss_pct, jitter_ms),
            out: vec![0; MAX_OUTPUT],
            now: 0,
            dropped: 0,
        }
    }

    /// One millisecond: both stacks run, their packets go onto the links,
    /// what the links deliver goes through the engine to the other side.
    fn step(&mut self) {
        let now = self.now;
        self.client.poll(now);
        self.server.poll(now);
        for p in self.client.dev.tx.drain(..) {
            self.up.send(now, p);
        }
        for p in self.server.dev.tx.drain(..) {
            self.down.send(now, p);
        }
        let t = Instant::from_millis(now);
        for p in self.up.deliver(now) {
            let e = self.nat.handle_v6(t, &p, &mut self.out);
            self.route(e);
        }
        for p in self.down.deliver(now) {
            let e = self.nat.handle_v4(t, &p, &mut self.out);
            self.route(e);
        }
        if self.nat.poll_timeout().is_some_and(|at| at <= t) {
            self.nat.handle_timeout(t);
        }
        // Packets of the engine's own (probes, stored SYNs) go out too.
        while let Some(e) = self.nat.poll_transmit(&mut self.out) {
            self.route(e);
        }
        while self.nat.poll_event().is_some() {}
        self.now += 1;
    }

    fn route(&mut self, e: Emit) {
        match e {
            Emit::V4 { .. } => {
                for p in e.packets(&self.out) {
                    self.server.dev.rx.push_back(p.to_vec());
                }
            }
            Emit::V6 { .. } => {
                for p in e.packets(&self.out) {
                    self.client.dev.rx.push_back(p.to_vec());
                }
            }
            Emit::Drop(_) => self.dropped += 1,
        }
    }
}

/// Bytes whose every position is checkable.
fn pattern(len: usize, salt: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

/// Runs a TCP exchange (the server sends `down` bytes, the client `up`)
/// through a link with `loss_pct` loss; returns what each side received
/// and the world, for its counters.
fn tcp_exchange(
    seed: u64,
    loss_pct: u64,
    jitter_ms: u64,
    up: usize,
    down: usize,
) -> (Vec<u8>, Vec<u8>, World) {
    let mut w = World::new(seed, loss_pct, jitter_ms);
    let tcp_socket = || {
        tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; 65_536]),
            tcp::SocketBuffer::new(vec![0; 65_536]),
        )
    };
    let mut listener = tcp_socket();
    listener.listen(80).unwrap();
    let server: SocketHandle = w.server.sockets.add(listener);
    let client: SocketHandle = w.client.sockets.add(tcp_socket());
    {
        let sock = w.client.sockets.get_mut::<tcp::Socket<'_>>(client);
        let cx = w.client.iface.context();
        sock.connect(cx, (IpAddress::Ipv6(server6()), 80), 49_152)
            .unwrap();
    }
    let to_client = pattern(down, 1);
    let to_server = pattern(up, 2);
    let (mut sent_down, mut sent_up) = (0, 0);
    let (mut got_client, mut got_server) = (Vec::new(), Vec::new());
    let (mut client_closed, mut server_closed) = (false, false);
    // Bounded: at most 300 s of virtual time.
    while w.now < 300_000 {
        w.step();
        let s = w.server.sockets.get_mut::<tcp::Socket<'_>>(server);
        if s.can_send() && sent_down < to_client.len() {
            sent_down += s.send_slice(&to_client[sent_down..]).unwrap();
        }
        if s.can_recv() {
            s.recv(|b| {
                got_server.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        if sent_down == to_client.len() && got_server.len() == up && !server_closed {
            s.close();
            server_closed = true;
        }
        let c = w.client.sockets.get_mut::<tcp::Socket<'_>>(client);
        if c.can_send() && sent_up < to_server.len() {
            sent_up += c.send_slice(&to_server[sent_up..]).unwrap();
        }
        if c.can_recv() {
            c.recv(|b| {
                got_client.extend_from_slice(b);
                (b.len(), ())
            })
            .unwrap();
        }
        if sent_up == to_server.len() && got_client.len() == down && !client_closed {
            c.close();
            client_closed = true;
        }
        let done =
            |s: &tcp::Socket<'_>| matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait);
        if client_closed
            && server_closed
            && done(w.client.sockets.get::<tcp::Socket<'_>>(client))
            && done(w.server.sockets.get::<tcp::Socket<'_>>(server))
        {
            break;
        }
    }
    assert_eq!(
        got_client.len(),
        down,
        "the client got all the server's bytes by t={} ms",
        w.now
    );
    assert_eq!(
        got_server.len(),
        up,
        "the server got all the client's bytes by t={} ms",
        w.now
    );
    assert_eq!(got_client, to_client);
    assert_eq!(got_server, to_server);
    (got_client, got_server, w)
}

#[test]
fn tcp_through_a_clean_link() {
    let (_, _, w) = tcp_exchange(1, 0, 0, 20_000, 200_000);
    assert_eq!(w.up.lost + w.down.lost, 0);
    assert_eq!(w.dropped, 0, "the engine dropped nothing on a clean link");
}

#[test]
fn tcp_through_loss_and_reordering() {
    for seed in [3, 11, 29] {
        let (_, _, w) = tcp_exchange(seed, 5, 30, 30_000, 300_000);
        // The run really was lossy and out of order.
        assert!(
            w.up.lost + w.down.lost > 5,
            "seed {seed}: lost {}",
            w.up.lost + w.down.lost
        );
        assert!(
            w.up.reordered + w.down.reordered > 5,
            "seed {seed}: reordered {}",
            w.up.reordered + w.down.reordered
        );
    }
}

#[test]
fn udp_request_response_with_loss() {
    let mut w = World::new(5, 10, 30);
    let udp_socket = || {
        udp::Socket::new(
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 65_536]),
            udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 65_536]),
        )
    };
    let mut echo = udp_socket();
    echo.bind(7).unwrap();
    let server = w.server.sockets.add(echo);
    let mut asker = udp_socket();
    asker.bind(5353).unwrap();
    let client = w.client.sockets.add(asker);
    let mut sent = 0u32;
    let mut answers = Vec::new();
    while w.now < 20_000 {
        if w.now.is_multiple_of(10) && sent < 200 {
            let c = w.client.sockets.get_mut::<udp::Socket<'_>>(client);
            let msg = format!("request {sent:04} {}", "x".repeat(sent as usize % 300));
            c.send_slice(msg.as_bytes(), (IpAddress::Ipv6(server6()), 7))
                .unwrap();
            sent += 1;
        }
        w.step();
        let s = w.server.sockets.get_mut::<udp::Socket<'_>>(server);
        while let Ok((data, meta)) = s.recv() {
            // The server sees the pool address, never the IPv6 client.
            assert_eq!(meta.endpoint.addr, IpAddress::Ipv4(POOL));
            let reply = [b"re: ".as_slice(), data].concat();
            s.send_slice(&reply, meta.endpoint).unwrap();
        }
        let c = w.client.sockets.get_mut::<udp::Socket<'_>>(client);
        while let Ok((data, meta)) = c.recv() {
            assert_eq!(meta.endpoint, (IpAddress::Ipv6(server6()), 7).into());
            answers.push(String::from_utf8(data.to_vec()).unwrap());
        }
    }
    assert_eq!(sent, 200);
    // About 81% of round trips survive 10% loss each way; every answer is
    // one of the requests, intact, and none twice.
    assert!(
        answers.len() > 120 && answers.len() < 200,
        "{} answers",
        answers.len()
    );
    let mut seen = std::collections::BTreeSet::new();
    for a in &answers {
        let n: usize = a[12..16].parse().unwrap();
        assert_eq!(a, &format!("re: request {n:04} {}", "x".repeat(n % 300)));
        assert!(seen.insert(n), "answer {n} twice");
    }
    assert!(w.up.reordered + w.down.reordered > 0);
}

#[test]
fn ping_with_reordering() {
    let mut w = World::new(9, 0, 40);
    let mut sock = icmp::Socket::new(
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 16_384]),
        icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 64], vec![0; 16_384]),
    );
    sock.bind(icmp::Endpoint::Ident(0x2222)).unwrap();
    let h = w.client.sockets.add(sock);
    let caps = ChecksumCapabilities::default();
    let mut replies = Vec::new();
    let mut sent = 0u16;
    while w.now < 5_000 {
        if w.now.is_multiple_of(10) && sent < 100 {
            let data = pattern(56, sent as u8);
            let repr = Icmpv6Repr::EchoRequest {
                ident: 0x2222,
                seq_no: sent,
                data: &data,
            };
            let s = w.client.sockets.get_mut::<icmp::Socket<'_>>(h);
            let buf = s
                .send(repr.buffer_len(), IpAddress::Ipv6(server6()))
                .unwrap();
            repr.emit(
                &CLIENT,
                &server6(),
                &mut Icmpv6Packet::new_unchecked(buf),
                &caps,
            );
            sent += 1;
        }
        w.step();
        let s = w.client.sockets.get_mut::<icmp::Socket<'_>>(h);
        while let Ok((payload, from)) = s.recv() {
            assert_eq!(from, IpAddress::Ipv6(server6()));
            let pkt = Icmpv6Packet::new_checked(payload).unwrap();
            match Icmpv6Repr::parse(&server6(), &CLIENT, &pkt, &caps).unwrap() {
                Icmpv6Repr::EchoReply {
                    ident,
                    seq_no,
                    data,
                } => {
                    assert_eq!(ident, 0x2222);
                    assert_eq!(data, pattern(56, seq_no as u8).as_slice());
                    replies.push(seq_no);
                }
                other => panic!("expected an echo reply, got {other:?}"),
            }
        }
    }
    // Every echo answered once (no loss here), some out of order.
    let mut sorted = replies.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_ne!(replies, sorted, "the jitter reordered some replies");
}
