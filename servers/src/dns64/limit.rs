//! Per-client rate limiting (token buckets per IPv4 address and per IPv6
//! /64, in a table of bounded size) and rate-limited warnings.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::RateLimit;

/// The most clients tracked at once. When full, buckets that have refilled
/// are forgotten; if none has, the table starts over (a flood from many
/// addresses then costs the limiter its memory, never more).
const MAX_CLIENTS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Token buckets, one per client.
#[derive(Debug)]
pub(crate) struct Limiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<u128, Bucket>>,
}

/// The bucket a client counts against: its IPv4 address, or its IPv6 /64
/// (a host controls a whole /64).
fn client_key(ip: IpAddr) -> u128 {
    match ip.to_canonical() {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => (u128::from(v6) & !u128::from(u64::MAX)) | 1,
    }
}

impl Limiter {
    pub(crate) fn new(limit: RateLimit) -> Self {
        Self {
            rate: f64::from(limit.rate.max(1)),
            burst: f64::from(limit.burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a query from `ip` now is within its limit (and counts it).
    pub(crate) fn allow(&self, ip: IpAddr) -> bool {
        self.allow_at(ip, Instant::now())
    }

    fn allow_at(&self, ip: IpAddr, now: Instant) -> bool {
        let key = client_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&key) {
            let full = Duration::from_secs_f64(self.burst / self.rate);
            buckets.retain(|_, b| now.saturating_duration_since(b.last) < full);
            if buckets.len() >= MAX_CLIENTS {
                buckets.clear();
            }
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.saturating_duration_since(b.last).as_secs_f64() * self.rate;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Lets a warning through at most once per `every`, counting the ones held
/// back so the next one can say how many there were.
#[derive(Debug)]
pub(crate) struct LogLimit {
    every_ms: u64,
    started: Instant,
    last_ms: AtomicU64,
    held: AtomicU64,
}

impl LogLimit {
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            every_ms: u64::try_from(every.as_millis()).unwrap_or(u64::MAX),
            started: Instant::now(),
            last_ms: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// `Some(n)` when this warning may be logged, `n` being how many were
    /// held back since the last one; `None` to stay quiet.
    pub(crate) fn pass(&self) -> Option<u64> {
        let now = u64::try_from(self.started.elapsed().as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let last = self.last_ms.load(Relaxed);
        if (last == 0 || now.saturating_sub(last) >= self.every_ms)
            && self
                .last_ms
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok()
        {
            Some(self.held.swap(0, Relaxed))
        } else {
            self.held.fetch_add(1, Relaxed);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_at_the_rate() {
        let l = Limiter::new(RateLimit { rate: 10, burst: 5 });
        let t0 = Instant::now();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let neighbour: IpAddr = "2001:db8::2".parse().unwrap();
        let other: IpAddr = "2001:db8:1::1".parse().unwrap();
        let passed = (0..20).filter(|_| l.allow_at(ip, t0)).count();
        assert_eq!(passed, 5);
        // The same /64 shares the bucket; another /64 has its own.
        assert!(!l.allow_at(neighbour, t0));
        assert!(l.allow_at(other, t0));
        // 10/s: after 300 ms, three more.
        let t1 = t0 + Duration::from_millis(300);
        let passed = (0..20).filter(|_| l.allow_at(ip, t1)).count();
        assert_eq!(passed, 3);
    }

    #[test]
    fn the_table_stays_bounded() {
        let l = Limiter::new(RateLimit { rate: 1, burst: 1 });
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 10) {
            l.allow_at(IpAddr::from(i.to_be_bytes()), t0);
        }
        assert!(l.buckets.lock().unwrap().len() <= MAX_CLIENTS);
    }

    #[test]
    fn warnings_are_spaced() {
        let w = LogLimit::new(Duration::from_secs(3600));
        assert_eq!(w.pass(), Some(0));
        assert_eq!(w.pass(), None);
        assert_eq!(w.pass(), None);
        let w = LogLimit::new(Duration::ZERO);
        assert_eq!(w.pass(), Some(0));
    }
}
