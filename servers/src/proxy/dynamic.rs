//! Zero-config mode: a name no route matches is looked up (AAAA) at the
//! configured resolver, and accepted only if every address in the answer is
//! inside `allowed_backends` (and the name under an allowed suffix, when a
//! list is set). Answers are cached for their TTL, at most 5 minutes, at most
//! [`MAX_CACHED`] names; a failed lookup is cached for 30 s, so a flood of
//! unknown names costs one query per name per 30 s.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use sixgate::name::HostName;
use tokio::net::UdpSocket;

use super::config::Dynamic;

/// The most names held in the cache.
pub(crate) const MAX_CACHED: usize = 10_000;
/// The longest an answer is kept, whatever its TTL.
const MAX_TTL: Duration = Duration::from_secs(300);
/// How long a failed or refused lookup is kept.
const NEGATIVE_TTL: Duration = Duration::from_secs(30);
/// How long one query waits for its answer; it is sent twice at most.
const QUERY_TIMEOUT: Duration = Duration::from_millis(1500);

/// Why dynamic mode did not give a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The name is not under an allowed suffix.
    Name,
    /// The name has no AAAA (or does not exist).
    NoAddress,
    /// An address in the answer is outside `allowed_backends`.
    Outside(Ipv6Addr),
    /// The resolver did not answer usefully.
    Resolver(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name => f.write_str("name not under an allowed suffix"),
            Self::NoAddress => f.write_str("no AAAA record"),
            Self::Outside(a) => write!(f, "{a} is outside allowed_backends"),
            Self::Resolver(e) => write!(f, "resolver: {e}"),
        }
    }
}

/// A cached decision and when it expires.
type Entry = (Instant, Result<Ipv6Addr, Refused>);

/// The cache of decisions, shared by every connection.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Cache {
    /// The backend address for `name`, or why there is none.
    pub(crate) async fn lookup(&self, cfg: &Dynamic, name: &HostName) -> Result<Ipv6Addr, Refused> {
        if !cfg.names.is_empty() && !cfg.names.iter().any(|s| is_under(name, s)) {
            return Err(Refused::Name);
        }
        let now = Instant::now();
        if let Ok(entries) = self.entries.lock() {
            if let Some((expires, result)) = entries.get(name.as_str()) {
                if *expires > now {
                    return result.clone();
                }
            }
        }
        let (result, ttl) = match query_aaaa(cfg.resolver, name).await {
            Ok((addrs, _)) if addrs.is_empty() => (Err(Refused::NoAddress), NEGATIVE_TTL),
            Ok((addrs, ttl)) => {
                let outside = addrs.iter().find(|a| {
                    !cfg.allowed_backends
                        .iter()
                        .any(|n| n.contains(&IpAddr::V6(**a)))
                });
                match (outside, addrs.first()) {
                    (Some(a), _) => (Err(Refused::Outside(*a)), NEGATIVE_TTL),
                    (None, Some(first)) => (Ok(*first), ttl.min(MAX_TTL)),
                    (None, None) => (Err(Refused::NoAddress), NEGATIVE_TTL),
                }
            }
            // A resolver failure is not cached: the next connection asks again.
            Err(e) => return Err(Refused::Resolver(e)),
        };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_CACHED {
                entries.retain(|_, (expires, _)| *expires > now);
                if entries.len() >= MAX_CACHED {
                    entries.clear();
                }
            }
            entries.insert(name.to_string(), (now + ttl, result.clone()));
        }
        result
    }
}

/// Whether `name` is `suffix` or below it.
fn is_under(name: &HostName, suffix: &HostName) -> bool {
    let (n, s) = (name.as_str(), suffix.as_str());
    n == s || n.strip_suffix(s).is_some_and(|head| head.ends_with('.'))
}

/// Asks `resolver` for the AAAA records of `name` (CNAMEs followed by the
/// resolver); gives the addresses and the smallest TTL.
async fn query_aaaa(
    resolver: SocketAddr,
    name: &HostName,
) -> Result<(Vec<Ipv6Addr>, Duration), String> {
    let qname = Name::from_ascii(format!("{name}.")).map_err(|e| e.to_string())?;
    let id = (RandomState::new().hash_one(Instant::now()) & 0xffff) as u16;
    let mut msg = Message::new();
    msg.set_id(id)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(qname.clone(), RecordType::AAAA));
    let wire = msg.to_vec().map_err(|e| e.to_string())?;
    let bind: SocketAddr = if resolver.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    sock.connect(resolver).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    for _ in 0..2 {
        sock.send(&wire).await.map_err(|e| e.to_string())?;
        let deadline = tokio::time::Instant::now() + QUERY_TIMEOUT;
        loop {
            let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(e.to_string()),
                Ok(Ok(n)) => n,
            };
            let Ok(reply) = Message::from_vec(buf.get(..n).unwrap_or_default()) else {
                continue;
            };
            if reply.id() != id
                || reply.message_type() != MessageType::Response
                || reply.query().map(|q| (q.name(), q.query_type()))
                    != Some((&qname, RecordType::AAAA))
            {
                continue;
            }
            return match reply.response_code() {
                ResponseCode::NoError | ResponseCode::NXDomain => {
                    let mut ttl = u32::MAX;
                    let mut addrs = Vec::new();
                    for r in reply.answers() {
                        if let RData::AAAA(a) = r.data() {
                            addrs.push(a.0);
                            ttl = ttl.min(r.ttl());
                        }
                    }
                    Ok((addrs, Duration::from_secs(u64::from(ttl))))
                }
                code => Err(format!("{code} from {resolver}")),
            };
        }
    }
    Err(format!("no answer from {resolver}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes() {
        let n = |s: &str| HostName::new(s.as_bytes()).unwrap();
        assert!(is_under(&n("a.customers.test"), &n("customers.test")));
        assert!(is_under(&n("customers.test"), &n("customers.test")));
        assert!(!is_under(&n("evilcustomers.test"), &n("customers.test")));
        assert!(!is_under(&n("customers.test.evil"), &n("customers.test")));
    }
}
