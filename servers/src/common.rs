//! What every server shares: config files read as TOML with errors that
//! name the file, line and key; the value parsers for addresses, prefixes
//! and durations; the resolvers in /etc/resolv.conf; and the Prometheus
//! `/metrics` endpoint.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;
use serde::de::DeserializeOwned;
use sixgate::http::{read_request_head, HeadStatus};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A configuration error, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConfigError {
    /// `FILE:LINE` or `--flag "value"`.
    pub(crate) origin: String,
    /// The key path (`route[0].backends[1]`), empty when unknown.
    pub(crate) key: String,
    pub(crate) message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {}: {}", self.origin, self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// An error in a command-line flag's value.
    pub(crate) fn flag(flag: &str, value: &str, message: String) -> Self {
        Self {
            origin: format!("{flag} {value:?}"),
            key: String::new(),
            message,
        }
    }
}

/// Parses an override flag's value, if the flag was given.
pub(crate) fn flag_value<T>(
    flag: &str,
    value: Option<&String>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    value
        .map(|v| parse(v).map_err(|m| ConfigError::flag(flag, v, m)))
        .transpose()
}

/// The error for `--config` given together with flags that the file holds.
pub(crate) fn config_and_flags(path: &Path, flags: &str) -> ConfigError {
    ConfigError {
        origin: "--config".into(),
        key: String::new(),
        message: format!(
            "{} cannot be combined with {flags}; put them in the file",
            path.display()
        ),
    }
}

/// A config file's text, for turning spans into `FILE:LINE` errors.
pub(crate) struct Locator<'a> {
    file: &'a str,
    text: &'a str,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Self { file, text }
    }

    fn line(&self, offset: usize) -> usize {
        let end = offset.min(self.text.len());
        self.text
            .as_bytes()
            .get(..end)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
            .saturating_add(1)
    }

    /// An error at `span`, under `key`.
    pub(crate) fn err(
        &self,
        span: Range<usize>,
        key: impl Into<String>,
        message: String,
    ) -> ConfigError {
        ConfigError {
            origin: format!("{}:{}", self.file, self.line(span.start)),
            key: key.into(),
            message,
        }
    }

    /// Deserialises the text; a TOML or shape error (an unknown key, a
    /// wrong type) names the line and the text at the error's span.
    pub(crate) fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(self.text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            let key = self
                .text
                .get(span.clone())
                .filter(|k| k.len() <= 64 && !k.contains('\n'))
                .unwrap_or("")
                .to_owned();
            self.err(span, key, e.message().trim_end().to_owned())
        })
    }
}

/// Reads a config file whole; gives its name for errors and its text.
pub(crate) fn read_config(path: &Path) -> Result<(String, String), ConfigError> {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((file, text)),
        Err(e) => Err(ConfigError {
            origin: file,
            key: String::new(),
            message: format!("cannot read: {e}"),
        }),
    }
}

/// A listen address: `IPv4:port` or `[IPv6]:port`; `port` is the one the
/// error's examples show.
pub(crate) fn parse_listen(s: &str, port: u16) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>().map_err(|_| {
        if s.parse::<IpAddr>().is_ok() {
            format!("{s:?} has no port: write 0.0.0.0:{port} or [::]:{port}")
        } else {
            format!("{s:?} is not an address and port (0.0.0.0:{port}, [::]:{port})")
        }
    })
}

/// A DNS resolver: an IP (port 53) or `IP:port`.
pub(crate) fn parse_resolver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let addr = s
        .parse::<SocketAddr>()
        .map_err(|_| format!("{s:?} is not a resolver address (192.0.2.53, [2001:db8::53]:53)"))?;
    if addr.port() == 0 {
        return Err(format!("{s:?}: port 0 is not a port to send to"));
    }
    Ok(addr)
}

/// A prefix (`2001:db8::/48`) or a single address; host bits set past the
/// length are refused, not cleared.
pub(crate) fn parse_net(s: &str) -> Result<IpNet, String> {
    let net = match s.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => match s.parse::<IpAddr>() {
            Ok(ip) => IpNet::from(ip),
            Err(_) => {
                return Err(format!(
                    "{s:?} is not a prefix (2001:db8::/48, 192.0.2.0/24)"
                ))
            }
        },
    };
    if net.trunc() != net {
        return Err(format!(
            "{s:?} has bits set past its length: did you mean {}?",
            net.trunc()
        ));
    }
    Ok(net)
}

/// `500ms`, `10s`, `5m`, `1h`; between 1 ms and 1 day.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a duration: write 500ms, 10s, 5m or 1h");
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = s.split_at(digits);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => Some(n),
        "s" => n.checked_mul(1000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => return Err(bad()),
    }
    .ok_or_else(bad)?;
    if !(1..=86_400_000).contains(&ms) {
        return Err(format!("{s:?} is outside 1ms..=24h"));
    }
    Ok(Duration::from_millis(ms))
}

/// Serves until SIGTERM or Ctrl-C (both logged), calling `on_hup` for
/// each SIGHUP (the servers' reload).
pub(crate) async fn until_stopped(mut on_hup: impl FnMut()) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    loop {
        tokio::select! {
            _ = hup.recv() => on_hup(),
            _ = term.recv() => {
                tracing::info!("SIGTERM: stopping");
                return Ok(());
            }
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("interrupted: stopping");
                return Ok(());
            }
        }
    }
}

/// A size in bytes: `0`, `65536`, `512K`, `64M`, `1G` (powers of 1024;
/// `KiB`, `MiB` and `GiB` are accepted too), at most 64 GiB.
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a size: write 0, 512K, 64M or 1G");
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = s.split_at(digits);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let shift = match unit.trim_start() {
        "" | "B" => 0,
        "K" | "k" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        _ => return Err(bad()),
    };
    let bytes = n
        .checked_shl(shift)
        .filter(|b| b >> shift == n)
        .ok_or_else(bad)?;
    if bytes > 64 << 30 {
        return Err(format!("{s:?} is more than 64G"));
    }
    Ok(bytes)
}

/// The `nameserver`s of /etc/resolv.conf (port 53, at most `max`), else
/// 127.0.0.1:53.
pub(crate) fn system_resolvers(max: usize) -> Vec<SocketAddr> {
    let found: Vec<SocketAddr> = std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| {
            text.lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    (w.next() == Some("nameserver"))
                        .then(|| w.next())
                        .flatten()
                        .and_then(|a| a.split('%').next()?.parse::<IpAddr>().ok())
                        .map(|ip| SocketAddr::new(ip, 53))
                })
                .take(max)
                .collect()
        })
        .unwrap_or_default();
    if found.is_empty() {
        vec![SocketAddr::from(([127, 0, 0, 1], 53))]
    } else {
        found
    }
}

/// Serves `GET /metrics` on `listener` until the process ends, with the
/// text `render` gives at each scrape. Each scrape is one request on its
/// own connection, read within 5 s and 8 KiB.
pub(crate) async fn serve_metrics<F>(listener: TcpListener, render: F)
where
    F: Fn() -> String + Clone + Send + Sync + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("metrics: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let render = render.clone();
        tokio::spawn(async move {
            if let Err(e) =
                tokio::time::timeout(Duration::from_secs(5), scrape(stream, render)).await
            {
                tracing::debug!("metrics: {peer}: {e}");
            }
        });
    }
}

async fn scrape(mut stream: TcpStream, render: impl Fn() -> String) {
    const MAX: usize = 8192;
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let response = loop {
        let n = match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        match read_request_head(&buf, MAX) {
            Ok(HeadStatus::NeedMore) => continue,
            Ok(HeadStatus::Complete(head)) => {
                let path = head.target().split('?').next().unwrap_or_default();
                break if head.method() == "GET" && path == "/metrics" {
                    let body = render();
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                } else {
                    "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n"
                        .to_owned()
                };
            }
            Err(_) => {
                break "HTTP/1.1 400 Bad Request\r\nContent-Length: 12\r\nConnection: close\r\n\r\nbad request\n"
                    .to_owned()
            }
        }
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("99999999999999999999h").is_err());
        assert!(parse_duration("25h").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("0").unwrap(), 0);
        assert_eq!(parse_size("512K").unwrap(), 512 << 10);
        assert_eq!(parse_size("64M").unwrap(), 64 << 20);
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1G").unwrap(), 1 << 30);
        assert!(parse_size("65G").is_err());
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("18446744073709551615G").is_err());
        assert!(parse_size("64 MB").is_err());
        assert!(parse_size("").is_err());
    }

    #[test]
    fn values() {
        assert_eq!(
            parse_resolver("192.0.2.53").unwrap(),
            "192.0.2.53:53".parse().unwrap()
        );
        assert!(parse_resolver("[::1]:0").is_err());
        assert!(parse_net("2001:db8::1/48")
            .unwrap_err()
            .contains("did you mean 2001:db8::/48"));
        assert!(parse_listen("::1", 53).unwrap_err().contains("[::]:53"));
        let loc = Locator::new("f.toml", "a = 1\nb = 2\n");
        assert_eq!(
            loc.err(6..7, "b", "bad".into()).to_string(),
            "f.toml:2: b: bad"
        );
    }
}
