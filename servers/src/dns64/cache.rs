//! The answer cache: final answers (synthesised or forwarded) kept as wire
//! bytes, keyed by what decides the answer (client policy, question in
//! lower case, DO, CD, EDNS or not), served by patching ID, flags, the
//! question's case and the TTLs in place, so a hit costs one hash lookup
//! and one copy, without parsing or encoding a message.
//!
//! TTLs (RFC 2308): a positive answer lives for its smallest TTL; a
//! negative one (NXDOMAIN, NODATA) for the SOA's TTL capped by its MINIMUM
//! field, and is not cached without a SOA (RFC 2308 §5). Both are capped
//! by `max_ttl` / `max_negative_ttl`. SERVFAIL, truncated and other
//! answers are not cached. Memory is bounded by `size` bytes (each entry
//! weighs its key, its bytes and a fixed overhead) with S3-FIFO eviction
//! (`quick_cache`, chosen over a hand-written LRU: sharded, scan-resistant,
//! weight-bounded, no unsafe of its own beyond one audited use).

use std::sync::Arc;
use std::time::Instant;

use quick_cache::sync::Cache as Store;
use quick_cache::Weighter;

use super::config::CacheConfig;

/// The longest key: policy (2), flags (1), type (2), class (2), name (255).
const KEY_MAX: usize = 2 + 1 + 2 + 2 + 255;

/// What an entry costs beyond its key and bytes (the `Arc`, the struct, the
/// store's slot), counted so the size bound is honest.
const ENTRY_OVERHEAD: u64 = 128;

/// The most resource records walked in an answer before giving up on it.
const MAX_RECORDS: usize = 512;

/// EDNS option code of Extended DNS Errors (RFC 8914), the only option kept
/// in a cached answer (COOKIE and the like belong to one exchange).
const EDNS_EDE: u16 = 15;

/// The parts of a client query the cache needs, read straight from the wire.
#[derive(Debug)]
pub(crate) struct QueryInfo {
    pub(crate) id: u16,
    /// Byte 2's RD bit and byte 3's CD bit, copied into the answer.
    rd: u8,
    cd: u8,
    /// The question's name, as the client wrote it (at offset 12).
    name_len: usize,
    /// The UDP payload the client can take.
    pub(crate) udp_limit: usize,
    key: [u8; KEY_MAX],
    key_len: usize,
}

impl QueryInfo {
    /// Reads a standard query with one question and at most an OPT record.
    /// `None` for anything else (the full path then handles it).
    pub(crate) fn read(bytes: &[u8], policy: u16) -> Option<Self> {
        let header = bytes.get(..12)?;
        let flags = header[2];
        // QR clear, opcode QUERY.
        if flags & 0x80 != 0 || (flags >> 3) & 0x0f != 0 {
            return None;
        }
        let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
        let (qd, an, ns, ar) = (count(4), count(6), count(8), count(10));
        if qd != 1 || an != 0 || ns != 0 || ar > 1 {
            return None;
        }
        let mut key = [0u8; KEY_MAX];
        let name_at = 7;
        let mut pos = 12;
        let mut k = name_at;
        loop {
            let len = usize::from(*bytes.get(pos)?);
            if len > 63 {
                return None; // a pointer or an extended label type
            }
            let label = bytes.get(pos..pos + 1 + len)?;
            let dst = key.get_mut(k..k + 1 + len)?;
            for (d, s) in dst.iter_mut().zip(label) {
                *d = s.to_ascii_lowercase();
            }
            k += 1 + len;
            pos += 1 + len;
            if len == 0 {
                break;
            }
        }
        let name_len = pos - 12;
        let qtype = bytes.get(pos..pos + 2)?;
        let qclass = bytes.get(pos + 2..pos + 4)?;
        // Zone transfers are never cached.
        if matches!(u16::from_be_bytes([qtype[0], qtype[1]]), 251 | 252) {
            return None;
        }
        key[3..5].copy_from_slice(qtype);
        key[5..7].copy_from_slice(qclass);
        let question_end = pos + 4;
        let mut edns_flags = 0u8;
        let mut udp_limit = 512;
        if ar == 1 {
            // OPT: root name, type 41, class = payload, TTL = ext-rcode,
            // version, flags; then options up to the end of the message.
            let opt = bytes.get(question_end..question_end + 11)?;
            if opt[0] != 0 || opt[1..3] != [0, 41] || opt[5] != 0 || opt[6] != 0 {
                return None; // not OPT, or EDNS version > 0 (BADVERS path)
            }
            let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
            if question_end + 11 + rdlen != bytes.len() {
                return None;
            }
            udp_limit = usize::from(u16::from_be_bytes([opt[3], opt[4]])).max(512);
            edns_flags = 0x04 | u8::from(opt[7] & 0x80 != 0); // EDNS, DO
        } else if question_end != bytes.len() {
            return None;
        }
        let cd = header[3] & 0x10;
        key[..2].copy_from_slice(&policy.to_be_bytes());
        key[2] = edns_flags | if cd != 0 { 0x02 } else { 0 };
        Some(Self {
            id: u16::from_be_bytes([header[0], header[1]]),
            rd: flags & 0x01,
            cd,
            name_len,
            udp_limit,
            key,
            key_len: k,
        })
    }

    fn key(&self) -> &[u8] {
        self.key.get(..self.key_len).unwrap_or_default()
    }

    /// The question's name in lower case (wire form).
    fn name(&self) -> &[u8] {
        self.key.get(7..self.key_len).unwrap_or_default()
    }
}

/// One cached answer.
#[derive(Debug)]
pub(crate) struct Entry {
    wire: Box<[u8]>,
    /// Offsets of the TTL fields to age (every record but OPT).
    ttl_at: Box<[u16]>,
    born: Instant,
    /// Seconds the entry lives.
    ttl: u32,
    /// Whether the answer holds synthesised AAAA (for the metrics).
    synthesized: bool,
}

#[derive(Clone)]
struct Weigh;

impl Weighter<Box<[u8]>, Arc<Entry>> for Weigh {
    fn weight(&self, key: &Box<[u8]>, e: &Arc<Entry>) -> u64 {
        let bytes = key.len() + e.wire.len() + 2 * e.ttl_at.len();
        u64::try_from(bytes).unwrap_or(u64::MAX) + ENTRY_OVERHEAD
    }
}

/// The answer cache.
pub(crate) struct Cache {
    store: Store<Box<[u8]>, Arc<Entry>, Weigh>,
    config: CacheConfig,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("entries", &self.store.len())
            .field("bytes", &self.store.weight())
            .finish()
    }
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// The answer, written into the caller's buffer.
    Hit {
        /// Its 4-bit RCODE.
        rcode: u8,
        synthesized: bool,
    },
    Miss,
}

impl Cache {
    /// A cache holding at most `config.size` bytes; `None` when the size is
    /// 0 (no cache).
    pub(crate) fn new(config: CacheConfig) -> Option<Self> {
        if config.size == 0 {
            return None;
        }
        // Sized for typical answers of ~150 bytes plus overhead.
        let items = usize::try_from(config.size / 300)
            .unwrap_or(usize::MAX)
            .max(16);
        Some(Self {
            store: Store::with_weighter(items, config.size, Weigh),
            config,
        })
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.store.len()
    }

    /// Bytes held (as weighed).
    pub(crate) fn bytes(&self) -> u64 {
        self.store.weight()
    }

    /// Writes the cached answer to `q` into `out` (cleared first): the
    /// stored bytes with the client's ID, RD, CD and question spelling and
    /// the TTLs aged. Fitting it to the client's UDP size is the caller's
    /// (the same truncation as for any other answer).
    pub(crate) fn lookup(&self, q: &QueryInfo, query: &[u8], out: &mut Vec<u8>) -> Lookup {
        let Some(e) = self.store.get(q.key()) else {
            return Lookup::Miss;
        };
        let age = u32::try_from(e.born.elapsed().as_secs()).unwrap_or(u32::MAX);
        if age >= e.ttl {
            self.store.remove(q.key());
            return Lookup::Miss;
        }
        out.clear();
        out.extend_from_slice(&e.wire);
        if let (Some(dst), Some(src)) = (
            out.get_mut(12..12 + q.name_len),
            query.get(12..12 + q.name_len),
        ) {
            dst.copy_from_slice(src);
        }
        for &at in e.ttl_at.iter() {
            let at = usize::from(at);
            if let Some(ttl) = out.get_mut(at..at + 4) {
                let old = u32::from_be_bytes([ttl[0], ttl[1], ttl[2], ttl[3]]);
                ttl.copy_from_slice(&old.saturating_sub(age).to_be_bytes());
            }
        }
        out[..2].copy_from_slice(&q.id.to_be_bytes());
        out[2] = (out[2] & !0x01) | q.rd;
        out[3] = (out[3] & !0x10) | q.cd;
        Lookup::Hit {
            rcode: out[3] & 0x0f,
            synthesized: e.synthesized,
        }
    }

    /// Keeps `answer`, the reply to `q`, if it may be cached.
    pub(crate) fn insert(&self, q: &QueryInfo, answer: &[u8], synthesized: bool) -> bool {
        let Some(mut entry) = Entry::new(q, answer, &self.config) else {
            return false;
        };
        entry.synthesized = synthesized;
        self.store.insert(q.key().into(), Arc::new(entry));
        true
    }
}

/// Reads big-endian u16 at `at`.
fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(b: &[u8], mut at: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *b.get(at)?;
        match len {
            0 => return Some(at + 1),
            1..=63 => at += 1 + usize::from(len),
            0xc0..=0xff => {
                b.get(at + 1)?;
                return Some(at + 2);
            }
            _ => return None,
        }
    }
    None
}

impl Entry {
    /// Checks `answer` against `q` and works out how long it may be kept.
    fn new(q: &QueryInfo, answer: &[u8], limits: &CacheConfig) -> Option<Self> {
        let flags = *answer.get(2)?;
        let rcode = answer.get(3)? & 0x0f;
        // A response, not truncated, NOERROR or NXDOMAIN.
        if flags & 0x80 == 0 || flags & 0x02 != 0 || !matches!(rcode, 0 | 3) {
            return None;
        }
        let (qd, an, ns, ar) = (
            u16_at(answer, 4)?,
            u16_at(answer, 6)?,
            u16_at(answer, 8)?,
            u16_at(answer, 10)?,
        );
        if qd != 1 || usize::from(an) + usize::from(ns) + usize::from(ar) > MAX_RECORDS {
            return None;
        }
        // The question, uncompressed at 12, must be the client's.
        let name = answer.get(12..12 + q.name_len)?;
        if !name.eq_ignore_ascii_case(q.name()) {
            return None;
        }
        let qtail = 12 + q.name_len;
        if answer.get(qtail..qtail + 4)? != q.key.get(3..7)? {
            return None;
        }
        let mut at = qtail + 4;
        let mut ttl_at = Vec::new();
        let mut min_ttl = u32::MAX;
        let mut soa_min: Option<u32> = None;
        let mut answered = false;
        let mut opt: Option<(usize, usize)> = None; // (record start, rdata start)
        let qtype = u16_at(answer, qtail)?;
        for i in 0..usize::from(an) + usize::from(ns) + usize::from(ar) {
            let start = at;
            at = skip_name(answer, at)?;
            let rtype = u16_at(answer, at)?;
            let ttl = u32_at(answer, at + 4)?;
            let rdlen = usize::from(u16_at(answer, at + 8)?);
            let rdata = at + 10;
            answer.get(rdata..rdata + rdlen)?;
            if rtype == 41 {
                // OPT: only in the additional section, once, and last (so
                // its options can be trimmed); no extended RCODE.
                if i < usize::from(an) + usize::from(ns) || opt.is_some() || answer[at + 4] != 0 {
                    return None;
                }
                opt = Some((start, rdata));
            } else {
                if opt.is_some() {
                    return None;
                }
                ttl_at.push(u16::try_from(at + 4).ok()?);
                if i < usize::from(an) {
                    min_ttl = min_ttl.min(ttl);
                    answered |= rtype == qtype;
                } else if i < usize::from(an) + usize::from(ns) {
                    min_ttl = min_ttl.min(ttl);
                    if rtype == 6 {
                        // SOA: MNAME, RNAME, then five u32, MINIMUM last.
                        let names = skip_name(answer, skip_name(answer, rdata)?)?;
                        let minimum = u32_at(answer, names + 16)?;
                        soa_min = Some(soa_min.map_or(minimum, |m: u32| m.min(minimum)));
                    }
                }
            }
            at = rdata + rdlen;
        }
        if at != answer.len() {
            return None;
        }
        let negative = rcode == 3 || !answered;
        let ttl = if negative {
            // RFC 2308 §5: without a SOA, do not cache.
            min_ttl.min(soa_min?).min(limits.max_negative_ttl)
        } else {
            min_ttl.min(soa_min.unwrap_or(u32::MAX)).min(limits.max_ttl)
        };
        if ttl == 0 {
            return None;
        }
        let mut wire = answer.to_vec();
        if let Some((_, rdata)) = opt {
            trim_options(&mut wire, rdata)?;
        }
        Some(Self {
            wire: wire.into_boxed_slice(),
            ttl_at: ttl_at.into_boxed_slice(),
            born: Instant::now(),
            ttl,
            synthesized: false,
        })
    }
}

/// Keeps only the EDE options of the OPT record whose RDATA starts at
/// `rdata` (the last record of `wire`), fixing its RDLENGTH.
fn trim_options(wire: &mut Vec<u8>, rdata: usize) -> Option<()> {
    let mut kept = Vec::new();
    let mut at = rdata;
    while at < wire.len() {
        let code = u16_at(wire, at)?;
        let len = usize::from(u16_at(wire, at + 2)?);
        let option = wire.get(at..at + 4 + len)?;
        if code == EDNS_EDE {
            kept.extend_from_slice(option);
        }
        at += 4 + len;
    }
    let rdlen = u16::try_from(kept.len()).ok()?;
    wire.truncate(rdata);
    wire.extend_from_slice(&kept);
    wire.get_mut(rdata - 2..rdata)?
        .copy_from_slice(&rdlen.to_be_bytes());
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
    use hickory_proto::rr::rdata::{AAAA, SOA};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    fn config() -> CacheConfig {
        CacheConfig {
            size: 1 << 20,
            max_ttl: 86_400,
            max_negative_ttl: 3_600,
        }
    }

    fn query(name: &str, id: u16, edns: bool) -> Vec<u8> {
        let mut m = Message::new();
        m.set_id(id);
        m.set_recursion_desired(true);
        m.add_query(Query::query(
            Name::from_ascii(name).unwrap(),
            RecordType::AAAA,
        ));
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            m.set_edns(e);
        }
        m.to_vec().unwrap()
    }

    fn answer(q: &[u8], ttls: &[u32], soa: Option<(u32, u32)>, rcode: ResponseCode) -> Vec<u8> {
        let q = Message::from_vec(q).unwrap();
        let mut m = Message::new();
        m.set_id(q.id());
        m.set_message_type(MessageType::Response);
        m.set_recursion_desired(true);
        m.set_recursion_available(true);
        m.set_response_code(rcode);
        let name = q.queries()[0].name().clone();
        m.add_query(q.queries()[0].clone());
        for (i, &ttl) in ttls.iter().enumerate() {
            let ip = std::net::Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x200 + i as u16);
            m.add_answer(Record::from_rdata(name.clone(), ttl, RData::AAAA(AAAA(ip))));
        }
        if let Some((ttl, minimum)) = soa {
            let zone = Name::from_ascii("example.test.").unwrap();
            let soa = SOA::new(zone.clone(), zone.clone(), 1, 2, 3, 4, minimum);
            m.add_name_server(Record::from_rdata(zone, ttl, RData::SOA(soa)));
        }
        if let Some(e) = q.extensions() {
            m.set_edns(e.clone());
        }
        m.to_vec().unwrap()
    }

    fn hit(c: &Cache, q: &[u8]) -> Option<Message> {
        let info = QueryInfo::read(q, 0)?;
        let mut out = Vec::new();
        match c.lookup(&info, q, &mut out) {
            Lookup::Hit { .. } => Some(Message::from_vec(&out).unwrap()),
            Lookup::Miss => None,
        }
    }

    #[test]
    fn serves_with_the_clients_id_and_case() {
        let c = Cache::new(config()).unwrap();
        let q = query("v4.Example.test.", 7, true);
        let info = QueryInfo::read(&q, 0).unwrap();
        assert!(c.insert(
            &info,
            &answer(&q, &[300, 200], None, ResponseCode::NoError),
            false
        ));
        let q2 = query("V4.EXAMPLE.TEST.", 9, true);
        let m = hit(&c, &q2).unwrap();
        assert_eq!(m.id(), 9);
        assert_eq!(m.queries()[0].name().to_ascii(), "V4.EXAMPLE.TEST.");
        assert_eq!(m.answers().len(), 2);
        assert!(m.answers().iter().all(|r| r.ttl() <= 300));
        // Without EDNS it is another entry.
        assert!(hit(&c, &query("v4.example.test.", 1, false)).is_none());
        // Another policy is another entry.
        let other = QueryInfo::read(&q2, 1).unwrap();
        let mut out = Vec::new();
        assert!(matches!(c.lookup(&other, &q2, &mut out), Lookup::Miss));
    }

    #[test]
    fn negative_answers_need_a_soa_and_take_its_minimum() {
        let c = Cache::new(config()).unwrap();
        let q = query("nx.example.test.", 1, false);
        let info = QueryInfo::read(&q, 0).unwrap();
        assert!(!c.insert(&info, &answer(&q, &[], None, ResponseCode::NXDomain), false));
        let a = answer(&q, &[], Some((3600, 60)), ResponseCode::NXDomain);
        let e = Entry::new(&info, &a, &config()).unwrap();
        assert_eq!(e.ttl, 60);
        assert!(c.insert(&info, &a, false));
        assert_eq!(hit(&c, &q).unwrap().response_code(), ResponseCode::NXDomain);
        // NODATA too; capped by max_negative_ttl.
        let a = answer(&q, &[], Some((90_000, 90_000)), ResponseCode::NoError);
        assert_eq!(Entry::new(&info, &a, &config()).unwrap().ttl, 3_600);
    }

    #[test]
    fn errors_truncated_and_zero_ttl_are_not_cached() {
        let c = Cache::new(config()).unwrap();
        let q = query("x.example.test.", 1, false);
        let info = QueryInfo::read(&q, 0).unwrap();
        assert!(!c.insert(
            &info,
            &answer(&q, &[], Some((60, 60)), ResponseCode::ServFail),
            false
        ));
        assert!(!c.insert(&info, &answer(&q, &[0], None, ResponseCode::NoError), false));
        let mut tc = answer(&q, &[60], None, ResponseCode::NoError);
        tc[2] |= 0x02;
        assert!(!c.insert(&info, &tc, false));
        // Another question's answer.
        let other = query("y.example.test.", 1, false);
        assert!(!c.insert(
            &info,
            &answer(&other, &[60], None, ResponseCode::NoError),
            false
        ));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn big_answers_come_back_whole() {
        let c = Cache::new(config()).unwrap();
        let q = query("big.example.test.", 3, false);
        let info = QueryInfo::read(&q, 0).unwrap();
        let ttls = vec![60; 40];
        let a = answer(&q, &ttls, None, ResponseCode::NoError);
        assert!(a.len() > 512);
        assert!(c.insert(&info, &a, false));
        // Whole, whatever the client's size: server::fit_udp cuts it.
        let m = hit(&c, &q).unwrap();
        assert!(!m.truncated());
        assert_eq!(m.answers().len(), 40);
    }

    #[test]
    fn cookies_are_not_replayed() {
        let q = query("c.example.test.", 1, true);
        let info = QueryInfo::read(&q, 0).unwrap();
        let mut a = answer(&q, &[60], None, ResponseCode::NoError);
        // Append a COOKIE option (code 10) and an EDE (15) to the OPT RDATA.
        let opts = [0u8, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 15, 0, 2, 0, 29];
        let rdlen_at = a.len() - 2;
        a[rdlen_at..].copy_from_slice(&(opts.len() as u16).to_be_bytes());
        a.extend_from_slice(&opts);
        let e = Entry::new(&info, &a, &config()).unwrap();
        let m = Message::from_vec(&e.wire).unwrap();
        let edns = m.extensions().as_ref().unwrap();
        let codes: Vec<u16> = edns
            .options()
            .as_ref()
            .iter()
            .map(|(k, _)| u16::from(*k))
            .collect();
        assert_eq!(codes, vec![15]);
    }

    #[test]
    fn the_size_bound_holds() {
        let c = Cache::new(CacheConfig {
            size: 64 << 10,
            ..config()
        })
        .unwrap();
        for i in 0..5_000 {
            let q = query(&format!("n{i}.example.test."), 1, false);
            let info = QueryInfo::read(&q, 0).unwrap();
            c.insert(
                &info,
                &answer(&q, &[60], None, ResponseCode::NoError),
                false,
            );
        }
        assert!(c.bytes() <= 64 << 10, "{} bytes", c.bytes());
        assert!(c.len() > 50);
    }

    #[test]
    fn odd_queries_take_the_full_path() {
        let q = query("a.example.test.", 1, false);
        let mut resp = q.clone();
        resp[2] |= 0x80;
        assert!(QueryInfo::read(&resp, 0).is_none());
        let mut two = q.clone();
        two[5] = 2;
        assert!(QueryInfo::read(&two, 0).is_none());
        assert!(QueryInfo::read(&q[..q.len() - 1], 0).is_none());
        let mut trailing = q.clone();
        trailing.push(0);
        assert!(QueryInfo::read(&trailing, 0).is_none());
        for n in 0..q.len() {
            let _ = QueryInfo::read(&q[..n], 0);
        }
    }
}
