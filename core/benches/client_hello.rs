//! ClientHello parse time, sixgate's reader beside rustls's server-side
//! `Acceptor` in the same run, on hellos captured from real clients.
//! `cargo bench -p sixgate --bench client_hello`
//!
//! Both sides produce the server name and the ALPN list from the bytes; the
//! `Acceptor` also checks the rest of the hello as a TLS server must.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use rustls::server::Acceptor;
use sixgate::tls::{read_client_hello, Status};

const HELLOS: &[(&str, &[u8])] = &[
    ("rustls", include_bytes!("../testdata/hellos/rustls.bin")),
    ("curl", include_bytes!("../testdata/hellos/curl.bin")),
    ("openssl", include_bytes!("../testdata/hellos/openssl.bin")),
    (
        "openssl-split",
        include_bytes!("../testdata/hellos/openssl-split.bin"),
    ),
];

fn sixgate(bytes: &[u8]) -> (usize, usize) {
    match read_client_hello(bytes) {
        Ok(Status::Complete(hello)) => (
            hello
                .server_name()
                .host_name()
                .map_or(0, |n| n.as_str().len()),
            hello.alpn().len(),
        ),
        other => panic!("{other:?}"),
    }
}

fn rustls(bytes: &[u8]) -> (usize, usize) {
    let mut acceptor = Acceptor::default();
    acceptor.read_tls(&mut &bytes[..]).unwrap();
    let accepted = acceptor.accept().unwrap().unwrap();
    let hello = accepted.client_hello();
    (
        hello.server_name().map_or(0, str::len),
        hello.alpn().map_or(0, Iterator::count),
    )
}

fn bench(c: &mut Criterion) {
    for &(name, bytes) in HELLOS {
        assert_eq!(sixgate(bytes), rustls(bytes), "{name}");
        let mut group = c.benchmark_group(format!("client_hello/{name}"));
        group.bench_function("sixgate", |b| b.iter(|| sixgate(black_box(bytes))));
        group.bench_function("rustls_acceptor", |b| b.iter(|| rustls(black_box(bytes))));
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
