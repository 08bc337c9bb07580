//! `dns64_response`: a [`sixgate::dns64::Resolution`] driven with arbitrary
//! upstream answers, and [`sixgate::dns64::error_reply`] over arbitrary bytes.
//!
//! Input layout (every byte string is a valid input):
//! - byte 0: bits 0–1 the client's query type (AAAA, PTR of an `ip6.arpa`
//!   name under the first configured prefix, A, MX), bit 2 DO, bit 3 CD,
//!   bit 4 whether the client sends EDNS at all, bits 5–7 one per upstream
//!   answer: whether to make it plausible (see below);
//! - byte 1: bits 0–2 the configuration variant ([`config`]), bits 3–4 the
//!   query name, bit 5 a global or non-global IPv4 behind the PTR name, bits
//!   6–7 the RCODE given to `error_reply`;
//! - then up to three upstream answers, each a big-endian `u16` length and
//!   that many bytes (cut short at the end of the input).
//!
//! Each [`Action::Upstream`] gets the next answer parsed with
//! `Message::from_vec`; a missing or unparsable one is a timeout
//! (`handle_failure`). A parsed answer whose "plausible" bit is set first
//! gets the asked query's ID and question, QR set and TC clear, so the
//! fuzzer reaches the synthesis code, not only the mismatch path.
//!
//! Invariants checked:
//! - at most [`MAX_POLLS`] polls reach [`Action::Done`], with at most two
//!   upstream queries, each a standard query with one question of the
//!   client's class and an OPT of `RESPONSE_PAYLOAD` bytes with the client's
//!   DO, and nothing after `Respond`/`Forward` but `Done`;
//! - every response encodes with `to_vec` and parses back (when every
//!   upstream answer fed in itself round-trips through hickory-proto), with
//!   the same sections' sizes;
//! - the response carries the client's ID and exactly its question, QR set,
//!   opcode QUERY, an OPT exactly when the client sent one, and no extended
//!   RCODE without an OPT;
//! - it has at most `MAX_SYNTHESIZED + MAX_CHAIN + 1` answers, or no more
//!   than the largest upstream answer section it may have relayed;
//! - for an AAAA question, every AAAA in the answer section was in an
//!   upstream answer section, or is a configured prefix carrying an IPv4
//!   that an upstream answered with an A record (or an `ipv4only.arpa`
//!   address), with a TTL no larger than that A record's largest;
//! - `error_reply` never panics on the whole input or on any answer's bytes,
//!   and what it returns parses back with the same ID, QR set and the RCODE
//!   asked for (low four bits).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use ipnet::{Ipv4Net, Ipv6Net};
use sixgate::dns64::{error_reply, Action, Config, Resolution, MAX_CHAIN, MAX_SYNTHESIZED};
use sixgate::rfc6052::IPV4ONLY_ADDRS;
use sixgate::Nat64Prefix;

/// More polls than any resolution needs (AAAA, A, respond, done).
pub const MAX_POLLS: usize = 8;

/// At most this many upstream answers are read from the input.
const MAX_ANSWERS: usize = 3;

/// The query names: an ordinary one, one under the forced name, the RFC
/// 8880 name, and one under the excluded name.
const NAMES: [&str; 4] = [
    "www.Example.COM.",
    "v4.forced.test.",
    "ipv4only.arpa.",
    "a.excluded.test.",
];

/// Runs the checks above on `data`; panics if one fails.
pub fn check(data: &[u8]) {
    let (b0, b1) = (
        data.first().copied().unwrap_or(0),
        data.get(1).copied().unwrap_or(0),
    );
    let rcode = [
        ResponseCode::FormErr,
        ResponseCode::ServFail,
        ResponseCode::NotImp,
        ResponseCode::BADCOOKIE,
    ][usize::from(b1 >> 6)];
    check_error_reply(data, rcode);

    let chunks = chunks(data.get(2..).unwrap_or_default());
    for chunk in &chunks {
        check_error_reply(chunk, rcode);
    }

    let config = config(b1 & 0x07);
    let query = client_query(b0, b1, &config);
    let Ok(mut resolution) = Resolution::new(&config, &query) else {
        panic!("a standard one-question query refused: {query:?}");
    };
    let question = query.queries()[0].clone();
    assert_eq!(resolution.query(), &question);

    let mut fed: Vec<Message> = Vec::new();
    let mut clean = true;
    let mut upstreams = 0;
    let mut over = false;
    for step in 0.. {
        assert!(step < MAX_POLLS, "no Done after {MAX_POLLS} polls");
        match resolution.poll() {
            Action::Done => break,
            Action::Wait => panic!("Wait with no answer outstanding at poll {step}"),
            _ if over => panic!("an action after the resolution was over"),
            Action::Forward => over = true,
            Action::Respond(response) => {
                check_response(&config, &query, &question, &response, &fed, clean);
                over = true;
            }
            Action::Upstream(asked) => {
                assert!(upstreams < 2, "a third upstream query");
                check_upstream(&query, &asked);
                assert_eq!(resolution.poll(), Action::Wait, "no Wait for the answer");
                let answer = chunks
                    .get(upstreams)
                    .and_then(|c| Message::from_vec(c).ok());
                let plausible = b0 & (0x20 << upstreams) != 0;
                upstreams += 1;
                match answer {
                    Some(mut answer) => {
                        if plausible {
                            answer
                                .set_id(asked.id())
                                .set_message_type(MessageType::Response)
                                .set_truncated(false);
                            *answer.queries_mut() = asked.queries().to_vec();
                        }
                        clean &= round_trips(&answer);
                        resolution.handle_response(&answer);
                        fed.push(answer);
                    }
                    None => resolution.handle_failure(),
                }
            }
        }
    }
    // Over is over: late answers and failures change nothing.
    if let Some(late) = fed.first() {
        resolution.handle_response(late);
    }
    resolution.handle_failure();
    assert_eq!(resolution.poll(), Action::Done, "revived after Done");
}

/// Up to [`MAX_ANSWERS`] length-prefixed chunks of `rest`.
fn chunks(mut rest: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while out.len() < MAX_ANSWERS {
        let [hi, lo, tail @ ..] = rest else { break };
        let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(tail.len());
        let (chunk, next) = tail.split_at(len);
        out.push(chunk);
        rest = next;
    }
    out
}

fn prefix(s: &str) -> Nat64Prefix {
    s.parse()
        .unwrap_or_else(|e| panic!("fuzz config prefix {s}: {e}"))
}

fn v6net(s: &str) -> Ipv6Net {
    s.parse()
        .unwrap_or_else(|e| panic!("fuzz config net {s}: {e}"))
}

fn v4net(s: &str) -> Ipv4Net {
    s.parse()
        .unwrap_or_else(|e| panic!("fuzz config net {s}: {e}"))
}

/// One of eight configurations; all have `excluded.test` excluded except
/// the default.
fn config(variant: u8) -> Config {
    let builder = Config::builder();
    let builder = match variant {
        0 => return Config::default(),
        1 => builder.prefixes([
            prefix("64:ff9b::/96"),
            prefix("2001:db8::/32"),
            prefix("2001:db8:1:64::/64"),
            prefix("64:ff9b:1::/48"),
        ]),
        2 => builder.force_names(["forced.test."]),
        3 => builder.exclude_aaaa([
            v6net("::ffff:0:0/96"),
            v6net("2001:db8:bad::/48"),
            v6net("64:ff9b::/96"),
        ]),
        4 => builder
            .never_map([v4net("203.0.113.0/24"), v4net("93.184.216.0/24")])
            .allow_non_global(true),
        5 => builder
            .extended_error(true)
            .prefixes([prefix("2001:db8:4000::/40"), prefix("64:ff9b::/96")]),
        6 => builder
            .synthesize_on_error(false)
            .force_names(["forced.test"]),
        _ => builder
            .cd_disables_synthesis(true)
            .extended_error(true)
            .synthesize_on_error(false)
            .prefixes([prefix("2001:db8:56::/56")]),
    };
    builder
        .exclude_names(["excluded.test"])
        .build()
        .unwrap_or_else(|e| panic!("fuzz config {variant}: {e}"))
}

/// The client's query described by the first two input bytes.
fn client_query(b0: u8, b1: u8, config: &Config) -> Message {
    let qtype = [
        RecordType::AAAA,
        RecordType::PTR,
        RecordType::A,
        RecordType::MX,
    ][usize::from(b0 & 0x03)];
    let name = if qtype == RecordType::PTR {
        let v4 = if b1 & 0x20 == 0 {
            Ipv4Addr::new(93, 184, 216, 34)
        } else {
            Ipv4Addr::new(10, 1, 2, 3)
        };
        Name::from(IpAddr::V6(config.prefixes()[0].embed(v4)))
    } else {
        let text = NAMES[usize::from((b1 >> 3) & 0x03)];
        Name::from_ascii(text).unwrap_or_else(|e| panic!("fuzz name {text}: {e}"))
    };
    let mut query = Message::new();
    query
        .set_id(u16::from_be_bytes([b0, b1]))
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .set_checking_disabled(b0 & 0x08 != 0);
    query.add_query(Query::query(name, qtype));
    if b0 & 0x10 != 0 {
        let mut edns = Edns::new();
        edns.set_max_payload(1400).set_dnssec_ok(b0 & 0x04 != 0);
        query.set_edns(edns);
    }
    query
}

/// Whether hickory-proto itself encodes `msg` and reads it back; when an
/// upstream answer does not, a relayed response need not either.
fn round_trips(msg: &Message) -> bool {
    msg.to_vec()
        .ok()
        .is_some_and(|bytes| Message::from_vec(&bytes).is_ok())
}

fn check_upstream(client: &Message, asked: &Message) {
    assert_eq!(asked.message_type(), MessageType::Query, "upstream QR");
    assert_eq!(asked.op_code(), OpCode::Query, "upstream opcode");
    assert_eq!(asked.queries().len(), 1, "upstream question count");
    let q = &asked.queries()[0];
    assert_eq!(q.query_class(), DNSClass::IN);
    assert_eq!(asked.id(), client.id(), "upstream ID");
    assert_eq!(
        asked.checking_disabled(),
        client.checking_disabled(),
        "upstream CD"
    );
    assert!(
        matches!(
            q.query_type(),
            RecordType::AAAA | RecordType::A | RecordType::PTR
        ),
        "asked upstream for {}",
        q.query_type()
    );
    let opt = asked
        .extensions()
        .as_ref()
        .expect("upstream queries carry EDNS");
    assert_eq!(
        opt.max_payload(),
        sixgate::dns64::RESPONSE_PAYLOAD,
        "upstream payload"
    );
    assert_eq!(
        opt.flags().dnssec_ok,
        client
            .extensions()
            .as_ref()
            .is_some_and(|e| e.flags().dnssec_ok),
        "upstream DO but the client's"
    );
    let bytes = asked
        .to_vec()
        .unwrap_or_else(|e| panic!("upstream query does not encode: {e}"));
    Message::from_vec(&bytes).unwrap_or_else(|e| panic!("upstream query does not parse: {e}"));
}

fn check_response(
    config: &Config,
    client: &Message,
    question: &Query,
    response: &Message,
    fed: &[Message],
    clean: bool,
) {
    assert_eq!(response.id(), client.id(), "response ID");
    assert_eq!(
        response.message_type(),
        MessageType::Response,
        "response QR"
    );
    assert_eq!(response.op_code(), OpCode::Query, "response opcode");
    assert_eq!(
        response.queries(),
        std::slice::from_ref(question),
        "response question"
    );
    assert_eq!(
        response.extensions().is_some(),
        client.extensions().is_some(),
        "response OPT but the client's"
    );
    if response.extensions().is_none() {
        assert_eq!(
            response.response_code().high(),
            0,
            "extended RCODE {} without an OPT",
            response.response_code()
        );
    }

    let relayed = fed.iter().map(|m| m.answers().len()).max().unwrap_or(0);
    let bound = (MAX_SYNTHESIZED + MAX_CHAIN + 1).max(relayed);
    assert!(
        response.answers().len() <= bound,
        "{} answers, bound {bound}",
        response.answers().len()
    );

    if question.query_type() == RecordType::AAAA {
        check_aaaa(config, question, response, fed);
    }

    match response.to_vec() {
        Ok(bytes) => {
            let back = Message::from_vec(&bytes)
                .unwrap_or_else(|e| panic!("response does not parse back: {e}"));
            assert_eq!(back.id(), response.id());
            assert_eq!(back.message_type(), MessageType::Response);
            assert_eq!(back.queries(), response.queries());
            assert_eq!(back.response_code(), response.response_code());
            assert_eq!(back.answers().len(), response.answers().len());
            assert_eq!(back.name_servers().len(), response.name_servers().len());
            assert_eq!(back.additionals().len(), response.additionals().len());
            assert_eq!(back.extensions().is_some(), response.extensions().is_some());
        }
        Err(e) => assert!(!clean, "response does not encode: {e}"),
    }
}

/// Every AAAA answered was given by the upstream, or synthesised from one
/// of its A records under a configured prefix.
fn check_aaaa(config: &Config, question: &Query, response: &Message, fed: &[Message]) {
    let mut upstream_aaaa: Vec<Ipv6Addr> = Vec::new();
    // The largest TTL of each IPv4 the upstream answered with.
    let mut upstream_a: HashMap<Ipv4Addr, u32> = HashMap::new();
    for r in fed.iter().flat_map(Message::answers) {
        match r.data() {
            RData::AAAA(AAAA(v6)) => upstream_aaaa.push(*v6),
            RData::A(A(v4)) => {
                let ttl = upstream_a.entry(*v4).or_insert(0);
                *ttl = (*ttl).max(r.ttl());
            }
            _ => {}
        }
    }
    let local = question
        .name()
        .to_ascii()
        .eq_ignore_ascii_case("ipv4only.arpa.");
    for r in response.answers() {
        let RData::AAAA(AAAA(v6)) = r.data() else {
            continue;
        };
        if upstream_aaaa.contains(v6) {
            continue;
        }
        let embedded = config
            .prefixes()
            .iter()
            .filter(|p| p.contains(*v6))
            .filter_map(|p| p.extract(*v6).ok());
        let mut from = None;
        for v4 in embedded {
            if local && IPV4ONLY_ADDRS.contains(&v4) {
                from = Some(u32::MAX);
            } else if let Some(ttl) = upstream_a.get(&v4) {
                from = Some(from.unwrap_or(0).max(*ttl));
            }
        }
        let Some(ttl) = from else {
            panic!("AAAA {v6} neither from upstream nor under a configured prefix from an A");
        };
        assert!(
            r.ttl() <= ttl,
            "AAAA {v6} TTL {} above its A's {ttl}",
            r.ttl()
        );
    }
}

/// `error_reply` never panics, and its reply parses back as a response to
/// the same ID with the RCODE asked for.
fn check_error_reply(bytes: &[u8], rcode: ResponseCode) {
    let Some(reply) = error_reply(bytes, rcode) else {
        assert!(
            bytes.len() < 3 || bytes[2] & 0x80 != 0,
            "no error reply to a query-looking message"
        );
        return;
    };
    assert!(bytes.len() >= 2, "an error reply with no ID to copy");
    let msg = Message::from_vec(&reply).unwrap_or_else(|e| panic!("error reply unparsable: {e}"));
    assert_eq!(
        msg.id(),
        u16::from_be_bytes([bytes[0], bytes[1]]),
        "error reply ID"
    );
    assert_eq!(msg.message_type(), MessageType::Response, "error reply QR");
    assert_eq!(msg.response_code().low(), rcode.low(), "error reply RCODE");
    assert!(msg.queries().len() <= 1, "error reply questions");
}
