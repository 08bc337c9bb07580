//! Differential test: hellos written by rustls's client are read by rustls's
//! own server-side `Acceptor` and by `sixgate::tls`, which must agree on the
//! server name and the ALPN list.

use std::sync::Arc;

use rustls::pki_types::ServerName as RustlsName;
use rustls::server::Acceptor;
use rustls::{ClientConfig, ClientConnection, RootCertStore, SupportedProtocolVersion};
use sixgate::tls::{read_client_hello, ClientHello, ProtocolVersion, ServerName, Status};

/// A small deterministic generator (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const LDH: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";

/// A random valid DNS name: 1 to 5 labels of 1 to 63 LDH bytes, a letter at
/// each end of a label, mixed case, sometimes a long one.
fn random_name(rng: &mut Rng) -> String {
    let labels = 1 + rng.below(5);
    let mut parts = Vec::new();
    for _ in 0..labels {
        let len = if rng.below(8) == 0 {
            63
        } else {
            1 + rng.below(12)
        };
        let label: String = (0..len)
            .map(|i| {
                let c = *rng.pick(LDH);
                if (i == 0 || i + 1 == len) && !c.is_ascii_alphabetic() {
                    'x'
                } else {
                    char::from(c)
                }
            })
            .collect();
        parts.push(label);
    }
    parts.push(
        rng.pick(&["test", "example", "Invalid", "com", "xn--p1ai"])
            .to_string(),
    );
    let mut name = parts.join(".");
    name.truncate(253);
    name.trim_end_matches(['.', '-']).to_string()
}

fn random_alpn(rng: &mut Rng) -> Vec<Vec<u8>> {
    let pool: &[&[u8]] = &[b"h2", b"http/1.1", b"acme-tls/1", b"h3", b"imap", b"x"];
    let mut list: Vec<Vec<u8>> = (0..rng.below(4)).map(|_| rng.pick(pool).to_vec()).collect();
    if rng.below(5) == 0 {
        // A long protocol name with every byte value allowed.
        list.push((0..255).map(|_| rng.next() as u8).collect());
    }
    list.dedup();
    list
}

/// The first flight of a rustls client.
fn client_hello(
    versions: &[&'static SupportedProtocolVersion],
    name: RustlsName<'static>,
    alpn: Vec<Vec<u8>>,
    sni: bool,
) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions are supported")
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = alpn;
    config.enable_sni = sni;
    let mut conn = ClientConnection::new(Arc::new(config), name).expect("client");
    let mut out = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut out).expect("write to a Vec");
    }
    out
}

/// What rustls's server side reads: (server name, ALPN list).
fn rustls_reads(bytes: &[u8]) -> (Option<String>, Option<Vec<Vec<u8>>>) {
    let mut acceptor = Acceptor::default();
    let mut rest = bytes;
    loop {
        let n = acceptor.read_tls(&mut rest).expect("read_tls");
        match acceptor.accept() {
            Ok(Some(accepted)) => {
                let hello = accepted.client_hello();
                return (
                    hello.server_name().map(str::to_owned),
                    hello.alpn().map(|it| it.map(<[u8]>::to_vec).collect()),
                );
            }
            Ok(None) => assert!(n > 0, "rustls wants more than the whole hello"),
            Err((e, _)) => panic!("rustls refused its own hello: {e}"),
        }
    }
}

fn ours(bytes: &[u8]) -> ClientHello {
    match read_client_hello(bytes) {
        Ok(Status::Complete(hello)) => hello,
        other => panic!("sixgate: {other:?}"),
    }
}

/// Re-frames the handshake messages in `bytes` into records of random sizes.
fn reframe(bytes: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut message = Vec::new();
    let mut rest = bytes;
    while let [0x16, _, _, hi, lo, tail @ ..] = rest {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        message.extend_from_slice(&tail[..len]);
        rest = &tail[len..];
    }
    assert!(rest.is_empty());
    let mut out = Vec::new();
    let mut rest = &message[..];
    while !rest.is_empty() {
        let take = (1 + rng.below(rest.len().min(300))).min(rest.len());
        let (fragment, tail) = rest.split_at(take);
        out.extend_from_slice(&[0x16, 0x03, 0x03]);
        out.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
        out.extend_from_slice(fragment);
        rest = tail;
    }
    out
}

#[test]
fn sixgate_agrees_with_rustls_acceptor() {
    let mut rng = Rng(0x5158_6a74_6573_7421);
    let version_sets: [&[&'static SupportedProtocolVersion]; 3] = [
        &[&rustls::version::TLS13],
        &[&rustls::version::TLS12],
        &[&rustls::version::TLS13, &rustls::version::TLS12],
    ];
    let mut with_sni = 0;
    for case in 0..240 {
        let versions = version_sets[case % 3];
        let sni = case % 7 != 6;
        let ip = case % 11 == 10;
        let name_text = random_name(&mut rng);
        let name = if ip {
            RustlsName::try_from("192.0.2.7").unwrap()
        } else {
            RustlsName::try_from(name_text.clone()).expect("a valid name")
        };
        let alpn = random_alpn(&mut rng);
        let bytes = client_hello(versions, name, alpn.clone(), sni);
        let context = format!("case {case}: {name_text:?} sni={sni} ip={ip} alpn={alpn:?}");

        let (their_name, their_alpn) = rustls_reads(&bytes);
        let hello = ours(&bytes);
        match (hello.server_name(), &their_name) {
            (ServerName::HostName(ours), Some(theirs)) => {
                with_sni += 1;
                assert!(ours.as_str().eq_ignore_ascii_case(theirs), "{context}");
                assert_eq!(ours.as_str(), name_text.to_ascii_lowercase(), "{context}");
            }
            (ServerName::Absent, None) => assert!(!sni || ip, "{context}"),
            (mine, theirs) => panic!("{context}: ours {mine:?}, rustls {theirs:?}"),
        }
        assert_eq!(
            Some(hello.alpn().to_vec()).filter(|a| !a.is_empty()),
            their_alpn,
            "{context}"
        );
        assert_eq!(hello.alpn(), alpn, "{context}");
        assert_eq!(hello.len(), bytes.len(), "{context}");
        let tls13 = hello
            .supported_versions()
            .contains(&ProtocolVersion::TLS1_3);
        assert_eq!(tls13, versions.len() != 1 || case % 3 == 0, "{context}");

        // The same message in records of random sizes: both still agree.
        let split = reframe(&bytes, &mut rng);
        let (split_name, split_alpn) = rustls_reads(&split);
        let split_hello = ours(&split);
        assert_eq!(
            (&split_name, &split_alpn),
            (&their_name, &their_alpn),
            "{context}"
        );
        assert_eq!(split_hello.server_name(), hello.server_name(), "{context}");
        assert_eq!(split_hello.alpn(), hello.alpn(), "{context}");
        assert_eq!(split_hello.len(), split.len(), "{context}");

        // Fed one byte at a time, a few of them.
        if case % 20 == 0 {
            for cut in 0..bytes.len() {
                assert!(
                    matches!(read_client_hello(&bytes[..cut]), Ok(Status::NeedMore(_))),
                    "{context}: cut {cut}"
                );
            }
        }
    }
    assert!(with_sni > 150, "{with_sni}");
}
