//! Sends one rustls ClientHello (TLS 1.3 and 1.2, SNI capture.example.test,
//! ALPN h2 and http/1.1) to a listener and exits. Used by
//! `core/testdata/hellos/capture.sh` to capture a real rustls hello:
//!
//! ```sh
//! cargo run -q -p sixgate --example rustls_hello -- 127.0.0.1:PORT
//! ```

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args()
        .nth(1)
        .ok_or("usage: rustls_hello HOST:PORT")?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from("capture.example.test")?;
    let mut conn = ClientConnection::new(Arc::new(config), name)?;
    let mut hello = Vec::new();
    while conn.wants_write() {
        conn.write_tls(&mut hello)?;
    }
    TcpStream::connect(addr)?.write_all(&hello)?;
    Ok(())
}
